"""A stand-in for GitHub Actions' OIDC issuer and a runner's token endpoint, on 127.0.0.1, for your own tests of
verified approvals (needs the ``github`` extra).

It generates RSA signing keys, publishes them as a JWKS at ``<url>/.well-known/jwks`` (as GitHub does), and answers a
runner's token request (``ACTIONS_ID_TOKEN_REQUEST_URL`` + ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``) with a fresh token
for the audience asked, carrying the claims of the job it stands for. Point the platform file's ``github_oidc.issuer``
at :attr:`GitHubOidcStandIn.url` and give a command :meth:`GitHubOidcStandIn.job`'s variables::

    with GitHubOidcStandIn() as github:
        environ = github.job(actor="carol", actor_id="4242", run_id="1001")
        # findly-infra approve … with environ: carol, verified

:meth:`mint` makes any token by hand (expired, for another audience, signed by an unpublished key…), and
:attr:`GitHubOidcStandIn.next_token` makes the token endpoint answer one.

Each rule it keeps follows GitHub's published behaviour, cited beside it. What it does not do is listed in
``docs/testing.md``.
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["GitHubOidcStandIn"]

# The claims of a job, as GitHub writes them (every value a string, ids included): the example token of
# https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect
# ("Understanding the OIDC token") and the claims table of https://docs.github.com/en/actions/reference/security/oidc
_JOB = {
    "actor": "carol",
    "actor_id": "4242",
    "repository": "findly-now/services",
    "repository_visibility": "private",
    "ref": "refs/heads/main",
    "ref_type": "branch",
    "sha": "6f1c0ffee6f1c0ffee6f1c0ffee6f1c0ffee6f1c",
    "workflow": "release",
    "workflow_ref": "findly-now/services/.github/workflows/release.yml@refs/heads/main",
    "event_name": "workflow_dispatch",
    "head_ref": "",
    "base_ref": "",
    "run_id": "1001",
    "run_number": "1",
    "run_attempt": "1",
    "runner_environment": "github-hosted",
}

# The runner's token request URL, shaped as the real one (an Azure DevOps-style API of the Actions service:
# ".../_apis/distributedtask/hubs/Actions/plans/PLAN/jobs/JOB/idtoken?api-version=2.0", as a runner's environment shows
# it) — its own query included, which a client must keep (actions/toolkit packages/core/src/oidc-utils.ts appends
# "&audience=…" to the URL as given).
_TOKEN_PATH = "/_apis/distributedtask/hubs/Actions/plans/{plan}/jobs/{job}/idtoken"


def _number(name: str) -> str:
    """A stable account or repository id for *name* (GitHub's ids are numbers that never change for an account or a
    repository; a re-created repository gets a new one)."""
    return str(100_000 + zlib.crc32(name.casefold().encode()) % 900_000_000)


class GitHubOidcStandIn:
    """GitHub's OIDC issuer and a runner's token endpoint: keys, a JWKS, tokens minted per request. A context
    manager: the server stops on exit."""

    def __init__(self, *, port: int = 0) -> None:
        """Serves on *port* of 127.0.0.1 (0: a free one) from here on."""
        from cryptography.hazmat.primitives.asymmetric import rsa

        self._rsa = rsa
        self.keys: dict[str, Any] = {}
        """Private keys by key id (``mint`` signs with any of them, published or not)."""
        self.published: list[str] = []
        """The key ids the JWKS lists."""
        self.jwks_fetches = 0
        self.stale_jwks = 0
        """How many of the next JWKS fetches still answer the key set as it was before the last :meth:`rotate` — a
        cache in front of the issuer that has not caught up yet, so that a verifier must fetch again."""
        self._previous: list[str] = []
        self.tokens_issued = 0
        self.token_requests: list[dict[str, list[str]]] = []
        """The query of each token request the endpoint answered or refused (``api-version``, ``audience``)."""
        self.next_token: str | None = None
        """A token the endpoint answers once instead of minting one (a test's forged or expired token)."""
        self.request_secret = secrets.token_urlsafe(16)
        self._claims = self._complete(dict(_JOB))
        self._serial = itertools.count(1)
        self._token_path = _TOKEN_PATH.format(plan=secrets.token_hex(8), job=secrets.token_hex(8))
        self.rotate("key-1")
        self.stale_jwks = 0
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                return None

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/.well-known/jwks":
                    self._answer(200, {"keys": [stand_in.jwk(kid) for kid in stand_in.serve_jwks()]})
                elif parts.path == "/.well-known/openid-configuration":
                    self._answer(200, {"issuer": stand_in.url, "jwks_uri": f"{stand_in.url}/.well-known/jwks"})
                elif parts.path == stand_in._token_path:
                    self._token(parse_qs(parts.query))
                else:
                    self._answer(404, {"message": "Not Found"})

            def _token(self, query: dict[str, list[str]]) -> None:
                stand_in.token_requests.append(query)
                # the runner's request token, as a bearer (actions/toolkit: BearerCredentialHandler); the scheme's
                # name is case-insensitive (RFC 9110, 11.1)
                scheme, _, credentials = self.headers.get("Authorization", "").partition(" ")
                if scheme.lower() != "bearer" or credentials != stand_in.request_secret:
                    self._answer(401, {"message": "Bad credentials"})
                    return
                # an Azure DevOps-style API: "API version must be specified with every request", in the query or the
                # Accept header (https://learn.microsoft.com/en-us/azure/devops/integrate/concepts/rest-api-versioning)
                versioned = query.get("api-version") or "api-version=" in self.headers.get("Accept", "")
                if not versioned:
                    self._answer(
                        400,
                        {
                            "message": 'No api-version was supplied for the "GET" request. The version must be '
                            'supplied either as part of the Accept header (e.g. "application/json; api-version=1.0") '
                            'or in the query string (e.g. "?api-version=1.0").',
                            "typeKey": "VssVersionNotSpecifiedException",
                        },
                    )
                    return
                # without an audience, "the URL of the repository owner" (GitHub's claims table, `aud`)
                owner = stand_in._claims["repository_owner"]
                audience = query.get("audience", [f"https://github.com/{owner}"])[-1]
                self._answer(200, {"count": 1, "value": stand_in.issue(audience)})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        """The issuer (``iss``), and where its keys and the token endpoint are served."""
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def __enter__(self) -> GitHubOidcStandIn:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # ---- keys ---------------------------------------------------------------------------------

    def rotate(self, kid: str) -> None:
        """A new signing key *kid*, published beside the others (GitHub publishes the next key before using it)."""
        self._previous = list(self.published)
        self.keys[kid] = self._rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.published.append(kid)
        self._signing = kid

    def serve_jwks(self) -> list[str]:
        """The key ids one JWKS fetch answers (counted): the published ones, or those before the last rotation while
        :attr:`stale_jwks` lasts."""
        self.jwks_fetches += 1
        if self.stale_jwks > 0:
            self.stale_jwks -= 1
            return list(self._previous)
        return list(self.published)

    def jwk(self, kid: str) -> dict[str, Any]:
        import jwt

        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
        return {**data, "kid": kid, "alg": "RS256", "use": "sig"}

    # ---- the job and its tokens -------------------------------------------------------------

    def job(self, **claims: str) -> dict[str, str]:
        """Stand for a job whose tokens carry *claims* (over GitHub's usual ones: ``actor``, ``actor_id``,
        ``repository``, ``ref``, ``workflow_ref``, ``run_id``, ``run_attempt``, ``environment``…); the runner's
        variables a process of that job sees, to add to its environment.

        As GitHub writes them: ``job_workflow_ref`` is ``workflow_ref`` unless the job runs a reusable workflow (give
        it then); ``repository_owner`` is the repository's owner; ``repository_id`` and ``repository_owner_id`` are
        numbers that stay the same for the same name here (give ``repository_id`` to stand for a repository deleted
        and re-created under its old name)."""
        self._claims = self._complete({**_JOB, **claims})
        return {
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"{self.url}{self._token_path}?api-version=2.0",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_secret,
            "GITHUB_ACTIONS": "true",
            "GITHUB_ACTOR": self._claims["actor"],
            "GITHUB_REPOSITORY": self._claims["repository"],
            "GITHUB_RUN_ID": self._claims["run_id"],
            "GITHUB_RUN_ATTEMPT": self._claims["run_attempt"],
        }

    @property
    def claims(self) -> dict[str, str]:
        """The claims of the job stood for (what its next token carries, beside the times, ``iss``, ``aud``, ``sub``
        and ``jti``)."""
        return dict(self._claims)

    @staticmethod
    def _complete(claims: dict[str, str]) -> dict[str, str]:
        repository = claims["repository"]
        owner = claims.get("repository_owner") or repository.partition("/")[0]
        return {
            "repository_owner": owner,
            "repository_id": _number(repository),
            "repository_owner_id": _number(owner),
            # for a job of the workflow itself, the workflow (reusable workflows: the called one), and its commit
            "job_workflow_ref": claims["workflow_ref"],
            "workflow_sha": claims.get("sha", _JOB["sha"]),
            "job_workflow_sha": claims.get("sha", _JOB["sha"]),
            **claims,
        }

    def issue(self, audience: str) -> str:
        """What the token endpoint answers: :attr:`next_token` once when set, else a fresh token of the job."""
        self.tokens_issued += 1
        if self.next_token is not None:
            token, self.next_token = self.next_token, None
            return token
        return self.mint(aud=audience)

    def mint(self, kid: str | None = None, **claims: Any) -> str:
        """A token of the job signed with *kid* (the latest key by default): GitHub's claims, issued now, valid from
        10 minutes before to 5 minutes after (the times of GitHub's example token), a fresh ``jti``; *claims*
        override them (``None`` removes one)."""
        import jwt

        now = int(time.time())
        # the subject's forms ("Example subject claims" of the page cited at _JOB): a job in an environment names
        # it; else a job of a pull_request event is "repo:ORG/REPO:pull_request"; else the ref
        if self._claims.get("environment"):
            scope = f"environment:{self._claims['environment']}"
        elif self._claims.get("event_name") == "pull_request":
            scope = "pull_request"
        else:
            scope = f"ref:{self._claims['ref']}"
        subject = f"repo:{self._claims['repository']}:{scope}"
        body: dict[str, Any] = {
            "iss": self.url,
            "aud": "findly-infra",
            "iat": now,
            "nbf": now - 600,
            "exp": now + 300,
            "jti": f"{secrets.token_hex(8)}-{next(self._serial)}",
            "sub": subject,
            **self._claims,
        }
        body.update(claims)
        body = {key: value for key, value in body.items() if value is not None}
        kid = kid or self._signing
        return jwt.encode(body, self.keys[kid], algorithm="RS256", headers={"kid": kid})


if __name__ == "__main__":  # python -m findly_infra.testing.github_oidc: served until interrupted
    from findly_infra.testing._launch import github_oidc as launch

    raise SystemExit(launch())
