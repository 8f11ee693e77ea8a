"""Who is acting, when a token proves it: a GitHub Actions identity, as the claims of a verified OIDC token state it.
Pure: the adapter verifies the token's signature, issuer, audience and times; this reads the claims it vouches for."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

__all__ = ["IdentityClaimsError", "VerifiedIdentity", "identity_from_claims"]


class IdentityClaimsError(ValueError):
    """A verified token that does not say who is acting (a claim missing or not what GitHub writes)."""


@attrs.frozen
class VerifiedIdentity:
    """A person acting through a GitHub Actions run, as GitHub's OIDC token states it: the login (which can be
    renamed) and the numeric id (which cannot), and where they acted from — the evidence an approval records."""

    login: str
    user_id: str
    repository: str
    ref: str
    workflow_ref: str
    run_id: str
    environment: str
    issuer: str
    token_id: str

    def describe(self) -> str:
        return f"{self.login} (id {self.user_id}) via {self.workflow_ref} run {self.run_id}"


_REQUIRED = ("actor", "actor_id", "repository", "ref", "workflow_ref", "run_id", "iss", "jti")


def identity_from_claims(claims: Mapping[str, object]) -> VerifiedIdentity:
    """The identity a verified token's *claims* state; raises :class:`IdentityClaimsError` naming a missing or
    malformed claim."""
    for name in _REQUIRED:
        value = claims.get(name)
        if not isinstance(value, str) or not value.strip():
            raise IdentityClaimsError(f"the token's {name!r} claim is missing or empty")
    if not str(claims["actor_id"]).isdigit() or not str(claims["run_id"]).isdigit():
        raise IdentityClaimsError("the token's actor_id and run_id are GitHub's numbers")
    environment = claims.get("environment", "")
    return VerifiedIdentity(
        login=str(claims["actor"]),
        user_id=str(claims["actor_id"]),
        repository=str(claims["repository"]),
        ref=str(claims["ref"]),
        workflow_ref=str(claims["workflow_ref"]),
        run_id=str(claims["run_id"]),
        environment=environment if isinstance(environment, str) else "",
        issuer=str(claims["iss"]),
        token_id=str(claims["jti"]),
    )
