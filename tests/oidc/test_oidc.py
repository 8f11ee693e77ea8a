"""GitHub Actions' OIDC tokens, verified for real: signing keys generated here, the issuer's JWKS and the runner's
token endpoint served from a loopback HTTP server, tokens minted with PyJWT — valid, expired, not yet valid, for
another audience, from another issuer, signed by an unknown key, with ``alg: none``, an HMAC confusion, a rotated key,
a missing claim — each with the outcome it must get."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

jwt = pytest.importorskip("jwt", reason="the github extra: pip install 'findly-infra[github]'")
from cryptography.hazmat.primitives import serialization  # noqa: E402

from findly_infra.adapters.github_oidc import IdentityRefusedError, OidcVerifier, request_token  # noqa: E402
from findly_infra.application.ports import DependencyUnavailableError  # noqa: E402
from findly_infra.testing.github_oidc import GitHubOidcStandIn  # noqa: E402

AUDIENCE = "findly-infra"


@pytest.fixture
def issuer() -> Iterator[GitHubOidcStandIn]:
    with GitHubOidcStandIn() as served:
        yield served


def _verifier(issuer: GitHubOidcStandIn) -> OidcVerifier:
    return OidcVerifier(AUDIENCE, issuer=issuer.url, jwks_url=f"{issuer.url}/.well-known/jwks", leeway=5)


def test_a_valid_token_says_who_acted_and_from_where(issuer: GitHubOidcStandIn) -> None:
    issuer.job(run_id="987654", environment="production")
    identity = _verifier(issuer).verify(issuer.mint())
    assert (identity.login, identity.user_id, identity.repository, identity.run_id) == (
        "carol",
        "4242",
        "findly-now/services",
        "987654",
    )
    assert (identity.environment, identity.run_attempt, identity.issuer) == ("production", "1", issuer.url)
    assert identity.describe() == (
        "carol (id 4242) via findly-now/services/.github/workflows/release.yml@refs/heads/main run 987654"
    )
    assert identity.run == f"{issuer.url}/findly-now/services/987654"
    assert identity.workflow == "findly-now/services/.github/workflows/release.yml"


class Ago(int):
    """A time *seconds* before the moment the test runs (negative: after it), resolved then — not when the module is
    collected, which can be long before on a slow run."""


def _resolved(claims: dict[str, Any]) -> dict[str, Any]:
    now = int(time.time())
    return {name: now - value if isinstance(value, Ago) else value for name, value in claims.items()}


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": Ago(600), "iat": Ago(900), "nbf": Ago(900)}, "has expired"),
        ({"nbf": Ago(-600)}, "not valid yet"),
        ({"aud": "someone-else"}, "another audience"),
        ({"iss": "https://evil.example.com"}, "another issuer"),
        ({"actor_id": None}, "'actor_id' claim is missing"),
        ({"jti": None}, "jti"),
        ({"run_attempt": None}, "'run_attempt' claim is missing"),
        ({"actor_id": "carol"}, "'actor_id' claim is not a number"),
    ],
)
def test_a_token_that_proves_nothing_is_refused(
    issuer: GitHubOidcStandIn, claims: dict[str, Any], message: str
) -> None:
    with pytest.raises(IdentityRefusedError, match=message):
        _verifier(issuer).verify(issuer.mint(**_resolved(claims)))


def test_no_test_here_computes_a_time_when_it_is_collected() -> None:
    """Times are relative to when a test runs (``Ago``): a module-level ``time.time()`` would date tokens from
    collection, and a slow run would then see them expire or become valid before the test (issue 22)."""
    import ast
    from pathlib import Path

    for path in Path(__file__).parent.glob("test_*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            decorators = node.decorator_list if isinstance(node, ast.FunctionDef) else []
            for decorator in decorators:
                for call in ast.walk(decorator):
                    if isinstance(call, ast.Attribute) and call.attr in ("time", "now", "utcnow", "monotonic"):
                        raise AssertionError(f"{path.name}:{call.lineno}: a time computed at collection")
        for statement in tree.body:  # module-level statements run at collection too
            if isinstance(statement, ast.FunctionDef | ast.ClassDef | ast.Import | ast.ImportFrom):
                continue
            for call in ast.walk(statement):
                if isinstance(call, ast.Attribute) and call.attr in ("time", "now", "utcnow", "monotonic"):
                    raise AssertionError(f"{path.name}:{call.lineno}: a time computed at collection")


def test_alg_none_and_an_hmac_confusion_are_refused(issuer: GitHubOidcStandIn) -> None:
    claims = jwt.decode(issuer.mint(), options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": "key-1"})
    with pytest.raises(IdentityRefusedError, match="signed with 'none'"):
        _verifier(issuer).verify(unsigned)
    public_pem = (
        issuer.keys["key-1"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    # the public key used as an HMAC secret: PyJWT refuses to even make it (a PEM is no secret), so it is made by hand
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "key-1"}).encode())
    body = b64(json.dumps(claims).encode())
    signature = b64(hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest())
    with pytest.raises(IdentityRefusedError, match="signed with 'HS256'"):
        _verifier(issuer).verify(f"{head}.{body}.{signature}")


def test_a_rotated_key_is_fetched_once_and_an_unknown_one_refused(issuer: GitHubOidcStandIn) -> None:
    verifier = _verifier(issuer)
    verifier.verify(issuer.mint())
    assert issuer.jwks_fetches == 1
    verifier.verify(issuer.mint())
    assert issuer.jwks_fetches == 1  # cached
    issuer.rotate("key-2")
    assert verifier.verify(issuer.mint("key-2")).login == "carol"
    assert issuer.jwks_fetches == 2  # fetched again, once, for the new key id
    issuer.keys["key-x"] = issuer.keys["key-1"]  # a key the issuer does not publish
    with pytest.raises(IdentityRefusedError, match="a key the issuer does not publish"):
        verifier.verify(issuer.mint("key-x"))
    assert issuer.jwks_fetches == 3  # once more, then refused
    with GitHubOidcStandIn() as forged:  # the same key id, another key: the signature does not verify
        token = forged.mint("key-1", iss=issuer.url)
        with pytest.raises(IdentityRefusedError, match="signature does not verify"):
            verifier.verify(token)


def test_a_fresh_verifier_fetches_again_when_the_first_key_set_lacks_the_key(issuer: GitHubOidcStandIn) -> None:
    """What a command meets (one verifier, one token): the key set it reads first is stale."""
    issuer.rotate("key-2")
    issuer.stale_jwks = 1
    assert _verifier(issuer).verify(issuer.mint()).login == "carol"
    assert issuer.jwks_fetches == 2


def test_keys_that_cannot_be_read_are_a_dependency_not_a_refusal(issuer: GitHubOidcStandIn) -> None:
    unreachable = OidcVerifier(AUDIENCE, issuer=issuer.url, jwks_url="http://127.0.0.1:9/.well-known/jwks")
    with pytest.raises(DependencyUnavailableError, match="could not be read"):
        unreachable.verify(issuer.mint())
    missing = OidcVerifier(AUDIENCE, issuer=issuer.url, jwks_url=f"{issuer.url}/nothing-here")
    with pytest.raises(DependencyUnavailableError, match="could not be read"):
        missing.verify(issuer.mint())
    issuer.published.clear()  # a key set with no key
    with pytest.raises(DependencyUnavailableError, match="not a JWKS"):
        _verifier(issuer).verify(issuer.mint())


def test_a_token_is_requested_from_the_runner_and_only_with_id_token_write(issuer: GitHubOidcStandIn) -> None:
    environ = issuer.job(actor="dave", actor_id="77")
    token = request_token(AUDIENCE, environ)  # the URL's own query (api-version) is kept, the audience added
    assert jwt.decode(token, options={"verify_signature": False})["aud"] == AUDIENCE
    assert issuer.token_requests[-1] == {"api-version": ["2.0"], "audience": [AUDIENCE]}
    # an audience that needs escaping reaches the endpoint as it was asked for
    odd = "https://findly.example/a b&c"
    assert jwt.decode(request_token(odd, environ), options={"verify_signature": False})["aud"] == odd
    assert issuer.token_requests[-1] == {"api-version": ["2.0"], "audience": [odd]}
    assert _verifier(issuer).verify(token).login == "dave"
    with pytest.raises(IdentityRefusedError, match="id-token: write"):
        request_token(AUDIENCE, {})
    with pytest.raises(DependencyUnavailableError, match="answered 401"):
        request_token(AUDIENCE, {**environ, "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "not-the-runner's"})


@pytest.mark.parametrize(
    ("claims", "subject"),
    [
        ({}, "repo:findly-now/services:ref:refs/heads/main"),
        ({"environment": "production"}, "repo:findly-now/services:environment:production"),
        ({"event_name": "pull_request", "ref": "refs/pull/7/merge"}, "repo:findly-now/services:pull_request"),
        (
            {"event_name": "pull_request", "environment": "preview"},
            "repo:findly-now/services:environment:preview",
        ),
    ],
)
def test_the_stand_in_words_the_subject_as_github_does(
    issuer: GitHubOidcStandIn, claims: dict[str, str], subject: str
) -> None:
    """GitHub's "Example subject claims": an environment first, then a pull_request event, then the ref."""
    issuer.job(**claims)
    assert jwt.decode(issuer.mint(), options={"verify_signature": False})["sub"] == subject
