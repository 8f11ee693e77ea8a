"""GitHub Actions' OIDC tokens: requested from the runner and verified with PyJWT (the cryptography is the
library's, none of it written here).

A run with ``permissions: id-token: write`` can mint a token for an audience of our choosing
(``ACTIONS_ID_TOKEN_REQUEST_URL`` + ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``). Verification checks the signature against the
issuer's JWKS (read through PyJWT's ``PyJWKClient``: cached with an expiry, and fetched again once for a key id it does
not hold — a rotated key), the issuer, the audience, the expiry and not-before times with a small leeway, a token id
(``jti``), and accepts only the expected asymmetric algorithm:
``alg: none`` and HMAC "confusions" (a token signed with the public key as a shared secret) are refused. The
identity is then read from the claims (``domain.identity``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs

from findly_infra.application.ports import DependencyUnavailableError, IdentityRefusedError
from findly_infra.application.redaction import header_token
from findly_infra.domain.identity import GITHUB_ISSUER, IdentityClaimsError, VerifiedIdentity, identity_from_claims
from findly_infra.domain.proofs import ProofCheck, Proven, Unproven

__all__ = [
    "GITHUB_ISSUER",
    "ActionsIdentity",
    "IdentityRefusedError",
    "KeyNotPublishedError",
    "OidcProofs",
    "OidcVerifier",
    "key_set",
    "request_token",
    "token_url",
]


def token_url(runner_url: str, audience: str) -> str:
    """The runner's ``ACTIONS_ID_TOKEN_REQUEST_URL`` with ``audience`` added to the query it already carries
    (``?api-version=2.0``, which the endpoint requires), as actions/toolkit's ``getIDToken`` builds it
    (packages/core/src/oidc-utils.ts: ``${url}&audience=${encodeURIComponent(audience)}``). Passing the audience as
    httpx ``params`` would replace that query (httpx 0.28 and later)."""
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(runner_url)
    added = f"audience={quote(audience, safe='')}"
    return urlunsplit(parts._replace(query=f"{parts.query}&{added}" if parts.query else added))


def request_token(audience: str, environ: Any, *, timeout: float = 10.0) -> str:
    """A token for *audience* from the runner (``ACTIONS_ID_TOKEN_REQUEST_URL``/``_TOKEN``, present when the job has
    ``permissions: id-token: write``)."""
    import httpx

    url, bearer = environ.get("ACTIONS_ID_TOKEN_REQUEST_URL"), environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if not url or not bearer:
        raise IdentityRefusedError(
            "no OIDC token can be requested here: a GitHub Actions job with `permissions: id-token: write` can "
            "(GitHub then sets ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN)"
        )
    bearer = header_token(bearer, "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    try:
        response = httpx.get(token_url(url, audience), headers={"Authorization": f"Bearer {bearer}"}, timeout=timeout)
    except httpx.HTTPError as exc:
        raise DependencyUnavailableError(f"the runner's OIDC token endpoint did not answer: {exc}") from None
    if response.status_code != 200:
        raise DependencyUnavailableError(f"the runner's OIDC token endpoint answered {response.status_code}")
    try:
        value = response.json()["value"]
    except (ValueError, KeyError, TypeError, RecursionError):
        raise DependencyUnavailableError("the runner's OIDC token endpoint answered no token") from None
    if not isinstance(value, str):
        raise DependencyUnavailableError("the runner's OIDC token endpoint answered no token")
    return value


@attrs.define
class OidcVerifier:
    """Verifies tokens of one issuer for one audience. Its keys are read through PyJWT's ``PyJWKClient``: the JWKS is
    cached for ``keys_lifespan`` seconds, and fetched once more when a token names a key id it does not hold (GitHub
    rotates its keys, and a JWKS read before, or from a cache that had not caught up, lacks the new one) — in a fresh
    process too, so that a command verifying its one token still fetches again."""

    audience: str
    issuer: str = GITHUB_ISSUER
    jwks_url: str = f"{GITHUB_ISSUER}/.well-known/jwks"
    algorithms: tuple[str, ...] = ("RS256",)
    leeway: float = 60.0
    timeout: float = 10.0
    keys_lifespan: float = 300.0
    """How long the issuer's key set is kept before it is fetched again (PyJWT's JWKS cache)."""
    key_set: Any = attrs.field(default=None, repr=False)
    """A key set to share (``key_set``): a command's own token and the tokens it checks again read one."""
    _client: Any = attrs.field(default=None, init=False, repr=False)
    _unpublished: set[str] = attrs.field(factory=set, init=False, repr=False)
    """Key ids fetched for once more and still not published: not fetched for again by this verifier."""

    def verify(self, token: str, audience: str | None = None) -> VerifiedIdentity:
        """The identity a fresh *token* proves, for *audience* (default: :attr:`audience`) — its expiry and
        not-before checked — with the token kept in it (``VerifiedIdentity.token``)."""
        claims = self._claims(token, audience or self.audience, fresh=True)
        try:
            return identity_from_claims(claims, token=token)
        except IdentityClaimsError as exc:
            raise IdentityRefusedError(str(exc)) from None

    def verify_kept(self, token: str, audience: str) -> tuple[VerifiedIdentity, datetime]:
        """What a *token* kept with what it proved proves now, for exactly *audience*: signed by a key the issuer
        publishes now, by this issuer — its expiry not checked (evidence outlives a token's minutes), its issue time
        (``iat``, required) returned beside the identity its claims state, to be judged by the caller."""
        claims = self._claims(token, audience, fresh=False)
        issued = claims.get("iat")
        if isinstance(issued, bool) or not isinstance(issued, int | float):
            raise IdentityRefusedError("the token has no issue time (iat)")
        try:
            identity = identity_from_claims(claims, token=token)
        except IdentityClaimsError as exc:
            raise IdentityRefusedError(str(exc)) from None
        return identity, datetime.fromtimestamp(issued, UTC).replace(tzinfo=None)

    def _claims(self, token: str, audience: str, *, fresh: bool) -> dict[str, Any]:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise IdentityRefusedError(f"not a token: {exc}") from None
        algorithm = header.get("alg")
        if algorithm not in self.algorithms:  # none, HS256 with the public key as its secret, …: never
            raise IdentityRefusedError(
                f"the token is signed with {algorithm!r}; only {', '.join(self.algorithms)} are accepted"
            )
        key = self._key(header.get("kid"))
        required = ["exp", "iat", "iss", "aud", "jti"] if fresh else ["iat", "iss", "aud", "jti"]
        options: Any = {"require": required}
        if not fresh:
            options |= {"verify_exp": False, "verify_nbf": False, "verify_iat": False}
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=list(self.algorithms),
                audience=audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options=options,
            )
        except jwt.ExpiredSignatureError:
            raise IdentityRefusedError("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise IdentityRefusedError("the token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise IdentityRefusedError(f"the token is for another audience (not {audience!r})") from None
        except jwt.InvalidIssuerError:
            raise IdentityRefusedError(f"the token is from another issuer (not {self.issuer})") from None
        except jwt.InvalidSignatureError:
            raise IdentityRefusedError("the token's signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise IdentityRefusedError(f"the token is refused: {exc}") from None
        return claims

    def _key(self, kid: object) -> Any:
        """The issuer's public key *kid*: from the cached key set, else from the key set fetched once more.

        ``PyJWKClient.get_signing_key`` would do the same, but from PyJWT 2.14 on it refetches only 30 s
        (``cooldown_duration``) after the last fetch — the first one included — so a command, which verifies one token
        in a fresh process, would never fetch again. The cache and the fetching stay PyJWT's."""
        import jwt

        client = self._keys()
        try:
            found = client.match_kid(client.get_signing_keys(), kid)
            if found is None and str(kid) not in self._unpublished:  # rotated in since the key set was read: once
                found = client.match_kid(client.get_signing_keys(refresh=True), kid)
                if found is None:
                    self._unpublished.add(str(kid))
        except jwt.PyJWKClientConnectionError as exc:
            raise DependencyUnavailableError(f"the issuer's keys ({self.jwks_url}) could not be read: {exc}") from None
        except (ValueError, jwt.PyJWTError) as exc:  # not JSON, not a key set, no signing key in it
            raise DependencyUnavailableError(f"the issuer's keys ({self.jwks_url}) are not a JWKS: {exc}") from None
        if found is None:
            raise KeyNotPublishedError(
                f"the token is signed by a key the issuer does not publish ({kid if kid else 'no kid'})"
            )
        return found.key

    def _keys(self) -> Any:
        if self._client is None:
            self._client = self.key_set or key_set(self.jwks_url, lifespan=self.keys_lifespan, timeout=self.timeout)
        return self._client


def key_set(url: str, *, lifespan: float = 300.0, timeout: float = 10.0) -> Any:
    """The issuer's key set at *url*, read through PyJWT's ``PyJWKClient`` (cached for *lifespan* seconds)."""
    import jwt

    return jwt.PyJWKClient(
        url, cache_jwk_set=True, lifespan=lifespan, timeout=timeout, headers={"User-Agent": "findly-infra"}
    )


class KeyNotPublishedError(IdentityRefusedError):
    """A token signed by a key its issuer does not publish (now): forged with a key of one's own, or — a token kept
    as evidence — signed by a key the issuer has since rotated out."""


@attrs.define
class ActionsIdentity:
    """The ``IdentityProof`` of a GitHub Actions job: a token requested from the runner for the audience asked (a
    purpose audience: ``domain.proofs.purpose_audience``), then verified for exactly that audience. Each proof is a
    fresh token, kept in the identity it proves (recorded with what it proved, and verified again when counted)."""

    verifier: OidcVerifier
    environ: Any

    def prove(self, audience: str | None = None) -> VerifiedIdentity:
        wanted = audience or self.verifier.audience
        return self.verifier.verify(request_token(wanted, self.environ), wanted)


@attrs.define
class OidcProofs:
    """The ``ProofVerifier`` of GitHub Actions' tokens kept as evidence: each checked against its issuer's keys as
    published now (one :class:`OidcVerifier` per issuer and keys URL, its key set cached: one fetch a process, and
    one more for a key id it does not hold), for exactly the audience of its purpose."""

    timeout: float = 10.0
    _verifiers: dict[tuple[str, str], OidcVerifier] = attrs.field(factory=dict, init=False, repr=False)
    _key_sets: dict[str, Any] = attrs.field(factory=dict, init=False, repr=False)

    def key_set(self, url: str) -> Any:
        """The key set at *url* this process reads (one, shared by every verifier of it)."""
        if url not in self._key_sets:
            self._key_sets[url] = key_set(url, timeout=self.timeout)
        return self._key_sets[url]

    def verify_proof(self, check: ProofCheck) -> Proven | Unproven:
        if not check.issuer.startswith(("https://", "http://")):
            return Unproven(f"{check.issuer} is not an issuer of tokens")
        keys_url = check.keys_url or f"{check.issuer.rstrip('/')}/.well-known/jwks"
        verifier = self._verifiers.get((check.issuer, keys_url))
        if verifier is None:
            verifier = OidcVerifier(
                check.audience, check.issuer, keys_url, timeout=self.timeout, key_set=self.key_set(keys_url)
            )
            self._verifiers[(check.issuer, keys_url)] = verifier
        try:
            identity, issued = verifier.verify_kept(check.token, check.audience)
        except KeyNotPublishedError as exc:
            return Unproven(f"{exc}: its key is no longer published, or never was", key_gone=True)
        except IdentityRefusedError as exc:
            return Unproven(str(exc))
        except DependencyUnavailableError as exc:
            return Unproven(str(exc), unreachable=True)
        return Proven(identity, issued)
