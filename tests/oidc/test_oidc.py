"""GitHub Actions' OIDC tokens, verified for real: signing keys generated here, the issuer's JWKS and the runner's
token endpoint served from a loopback HTTP server, tokens minted with PyJWT — valid, expired, not yet valid, for
another audience, from another issuer, signed by an unknown key, with ``alg: none``, an HMAC confusion, a rotated key,
a missing claim — each with the outcome it must get."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

jwt = pytest.importorskip("jwt", reason="the github extra: pip install 'findly-infra[github]'")
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from findly_infra.adapters.github_oidc import IdentityRefusedError, OidcVerifier, request_token  # noqa: E402
from findly_infra.application.ports import BadInputError  # noqa: E402

AUDIENCE = "findly-infra"


class Issuer:
    """The issuer's keys (a JWKS at /jwks), and the runner's token endpoint (/token?audience=…)."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.published: list[str] = []
        self.fetched = 0
        self.next_token = ""
        self.rotate("key-1")
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                return None

            def do_GET(self) -> None:
                if self.path.startswith("/jwks"):
                    issuer.fetched += 1
                    body = {"keys": [issuer.jwk(kid) for kid in issuer.published]}
                elif self.path.startswith("/token") and self.headers.get("Authorization") == "bearer runner-secret":
                    body = {"value": issuer.next_token, "audience": self.path.split("audience=", 1)[-1]}
                else:
                    self.send_response(401)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def rotate(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.published.append(kid)

    def jwk(self, kid: str) -> dict[str, Any]:
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
        return {**data, "kid": kid, "alg": "RS256", "use": "sig"}

    def mint(self, kid: str = "key-1", **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": "https://token.actions.githubusercontent.com",
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": f"jti-{now}-{len(claims)}",
            "sub": "repo:findly-now/services:environment:production",
            "actor": "carol",
            "actor_id": "4242",
            "repository": "findly-now/services",
            "ref": "refs/heads/main",
            "workflow_ref": "findly-now/services/.github/workflows/release.yml@refs/heads/main",
            "run_id": "987654",
            "environment": "production",
        }
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    served = Issuer()
    yield served
    served.close()


def _verifier(issuer: Issuer) -> OidcVerifier:
    return OidcVerifier(AUDIENCE, jwks_url=f"{issuer.url}/jwks", leeway=5)


def test_a_valid_token_says_who_acted_and_from_where(issuer: Issuer) -> None:
    identity = _verifier(issuer).verify(issuer.mint())
    assert (identity.login, identity.user_id, identity.repository, identity.run_id) == (
        "carol",
        "4242",
        "findly-now/services",
        "987654",
    )
    assert identity.environment == "production"
    assert identity.describe() == (
        "carol (id 4242) via findly-now/services/.github/workflows/release.yml@refs/heads/main run 987654"
    )


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": int(time.time()) - 600, "iat": int(time.time()) - 900}, "has expired"),
        ({"nbf": int(time.time()) + 600}, "not valid yet"),
        ({"aud": "someone-else"}, "another audience"),
        ({"iss": "https://evil.example.com"}, "another issuer"),
        ({"actor_id": None}, "'actor_id' claim is missing"),
        ({"jti": None}, "jti"),
    ],
)
def test_a_token_that_proves_nothing_is_refused(issuer: Issuer, claims: dict[str, Any], message: str) -> None:
    with pytest.raises(IdentityRefusedError, match=message):
        _verifier(issuer).verify(issuer.mint(**claims))


def test_alg_none_and_an_hmac_confusion_are_refused(issuer: Issuer) -> None:
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


def test_a_rotated_key_is_fetched_once_and_an_unknown_one_refused(issuer: Issuer) -> None:
    verifier = _verifier(issuer)
    verifier.verify(issuer.mint())
    assert verifier.fetches == 1
    verifier.verify(issuer.mint())
    assert verifier.fetches == 1  # cached
    issuer.rotate("key-2")
    assert verifier.verify(issuer.mint("key-2")).login == "carol"
    assert verifier.fetches == 2  # fetched again, once, for the new key id
    issuer.keys["key-x"] = issuer.keys["key-1"]  # a key the issuer does not publish
    with pytest.raises(IdentityRefusedError, match="a key the issuer does not publish"):
        verifier.verify(issuer.mint("key-x"))
    forged = Issuer()  # the same key id, another key: the signature does not verify
    try:
        token = forged.mint("key-1")
        with pytest.raises(IdentityRefusedError, match="signature does not verify"):
            verifier.verify(token)
    finally:
        forged.close()


def test_a_token_is_requested_from_the_runner_and_only_with_id_token_write(issuer: Issuer) -> None:
    issuer.next_token = issuer.mint()
    environ = {
        "ACTIONS_ID_TOKEN_REQUEST_URL": f"{issuer.url}/token?x=1",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-secret",
    }
    token = request_token(AUDIENCE, environ)
    assert _verifier(issuer).verify(token).login == "carol"
    with pytest.raises(BadInputError, match="id-token: write"):
        request_token(AUDIENCE, {})
