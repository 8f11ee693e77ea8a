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
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["GitHubOidcStandIn"]

_JOB = {
    "actor": "carol",
    "actor_id": "4242",
    "repository": "findly-now/services",
    "repository_owner": "findly-now",
    "ref": "refs/heads/main",
    "ref_type": "branch",
    "workflow_ref": "findly-now/services/.github/workflows/release.yml@refs/heads/main",
    "event_name": "workflow_dispatch",
    "run_id": "1001",
    "run_attempt": "1",
    "runner_environment": "github-hosted",
}


class GitHubOidcStandIn:
    """GitHub's OIDC issuer and a runner's token endpoint: keys, a JWKS, tokens minted per request. A context
    manager: the server stops on exit."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa

        self._rsa = rsa
        self.keys: dict[str, Any] = {}
        """Private keys by key id (``mint`` signs with any of them, published or not)."""
        self.published: list[str] = []
        """The key ids the JWKS lists."""
        self.jwks_fetches = 0
        self.tokens_issued = 0
        self.next_token: str | None = None
        """A token the endpoint answers once instead of minting one (a test's forged or expired token)."""
        self.request_secret = secrets.token_urlsafe(16)
        self._claims = dict(_JOB)
        self._serial = itertools.count(1)
        self.rotate("key-1")
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                return None

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/.well-known/jwks":
                    stand_in.jwks_fetches += 1
                    self._answer(200, {"keys": [stand_in.jwk(kid) for kid in stand_in.published]})
                elif parts.path == "/.well-known/openid-configuration":
                    self._answer(200, {"issuer": stand_in.url, "jwks_uri": f"{stand_in.url}/.well-known/jwks"})
                elif parts.path == "/token":
                    if self.headers.get("Authorization", "").lower() != f"bearer {stand_in.request_secret}".lower():
                        self._answer(401, {"message": "Bad credentials"})
                        return
                    audience = parse_qs(parts.query).get("audience", [stand_in.url])[-1]
                    self._answer(200, {"count": 1, "value": stand_in.issue(audience)})
                else:
                    self._answer(404, {"message": "Not Found"})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
        self.keys[kid] = self._rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.published.append(kid)
        self._signing = kid

    def jwk(self, kid: str) -> dict[str, Any]:
        import jwt

        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
        return {**data, "kid": kid, "alg": "RS256", "use": "sig"}

    # ---- the job and its tokens -------------------------------------------------------------

    def job(self, **claims: str) -> dict[str, str]:
        """Stand for a job whose tokens carry *claims* (over GitHub's usual ones: ``actor``, ``actor_id``,
        ``repository``, ``ref``, ``workflow_ref``, ``run_id``, ``run_attempt``, ``environment``…); the runner's
        variables a process of that job sees, to add to its environment."""
        self._claims = {**_JOB, **claims}
        return {
            "ACTIONS_ID_TOKEN_REQUEST_URL": f"{self.url}/token?api-version=2.0",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": self.request_secret,
            "GITHUB_ACTIONS": "true",
            "GITHUB_ACTOR": self._claims["actor"],
            "GITHUB_REPOSITORY": self._claims["repository"],
            "GITHUB_RUN_ID": self._claims["run_id"],
            "GITHUB_RUN_ATTEMPT": self._claims["run_attempt"],
        }

    def issue(self, audience: str) -> str:
        """What the token endpoint answers: :attr:`next_token` once when set, else a fresh token of the job."""
        self.tokens_issued += 1
        if self.next_token is not None:
            token, self.next_token = self.next_token, None
            return token
        return self.mint(aud=audience)

    def mint(self, kid: str | None = None, **claims: Any) -> str:
        """A token of the job signed with *kid* (the latest key by default): GitHub's claims, valid for 5 minutes
        from now, a fresh ``jti``; *claims* override them (``None`` removes one)."""
        import jwt

        now = int(time.time())
        subject = f"repo:{self._claims['repository']}:" + (
            f"environment:{self._claims['environment']}"
            if self._claims.get("environment")
            else f"ref:{self._claims['ref']}"
        )
        body: dict[str, Any] = {
            "iss": self.url,
            "aud": "findly-infra",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": f"{secrets.token_hex(8)}-{next(self._serial)}",
            "sub": subject,
            **self._claims,
        }
        body.update(claims)
        body = {key: value for key, value in body.items() if value is not None}
        kid = kid or self._signing
        return jwt.encode(body, self.keys[kid], algorithm="RS256", headers={"kid": kid})
