"""Proofs: the OIDC token kept with each approval, promotion request and policy adoption made by a verified identity,
and what checking it again found.

A recorded identity is only text: whoever can write the state can write one for anyone (``VerifiedIdentity`` as
JSON). What cannot be written without the person's run is the token GitHub signed for it. So the token is kept
(``VerifiedIdentity.token``) and verified again whenever what it proves is counted — the signature by the issuer in
force, the issuer, and the *purpose* audience it was asked for (:func:`purpose_audience`): the action and a digest
of what it acted on, so that a token kept for one approval proves nothing of another. The verification is the
application's (a port); the domain is given what it found (:class:`Proofs`) and decides with the identity the
token's claims state — never the JSON beside it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime

import attrs

from findly_infra.domain.identity import VerifiedIdentity

__all__ = [
    "ADOPT",
    "APPROVE",
    "PROMOTE",
    "ProofCheck",
    "Proofs",
    "Proven",
    "Unproven",
    "purpose_audience",
]

APPROVE = "approve"
"""The purpose of a token that approves a version into an environment (its promotion, or its rollout's step)."""
PROMOTE = "promote"
"""The purpose of a token that asks for (and starts) a version's promotion into an environment."""
ADOPT = "adopt"
"""The purpose of a token that adopts a policy (bound to the policy's digest)."""


def purpose_audience(audience: str, action: str, *subject: str) -> str:
    """The audience a token for *action* on *subject* is asked for: ``<audience>:<action>:<digest>``, the digest the
    first 32 hex digits of a SHA-256 over *subject* (``service, version, environment``; a policy's digest) as a JSON
    list. GitHub mints a token for any audience a job asks (``core.getIDToken(audience)``, sent URL-encoded); this
    one is short (about 55 characters), of letters, digits, ``-``, ``.`` and ``:``, and names its purpose: a token
    kept with one approval is refused for any other."""
    digest = hashlib.sha256(json.dumps(list(subject)).encode()).hexdigest()[:32]
    return f"{audience}:{action}:{digest}"


@attrs.frozen
class ProofCheck:
    """One recorded token to verify: against *issuer*'s keys (at *keys_url*), for exactly *audience*."""

    token: str
    issuer: str
    audience: str
    keys_url: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        """What a result is found by: the token, the issuer and the audience it was checked for."""
        return self.token, self.issuer, self.audience


@attrs.frozen
class Proven:
    """A token that verified: the identity its claims state, and when it was issued (``iat``, naive UTC)."""

    identity: VerifiedIdentity
    issued_at: datetime


@attrs.frozen
class Unproven:
    """A token that did not verify, and why. ``key_gone``: it is signed by a key its issuer no longer publishes (it
    may have been good: it can no longer be told). ``unreachable``: the issuer's keys could not be read (try again)."""

    reason: str
    key_gone: bool = False
    unreachable: bool = False


_NOT_CHECKED = Unproven("its proof was not checked")


@attrs.frozen
class Proofs:
    """What verifying the recorded tokens found, each by what it was checked for (:attr:`ProofCheck.key`);
    ``checked_at`` is the verifier's time (naive UTC), against which a token's age is judged."""

    checked_at: datetime
    checked: Mapping[tuple[str, str, str], Proven | Unproven] = attrs.field(factory=dict)

    def of(self, identity: VerifiedIdentity | None, issuer: str, audience: str) -> Proven | Unproven:
        """What *identity*'s token proved when checked for *issuer* and *audience*: a name, or an identity recorded
        without a token, proves nothing."""
        if identity is None:
            return Unproven("a name, not a proof")
        if not identity.token:
            return Unproven("recorded without its token (before tokens were kept, or written by hand)")
        return self.checked.get((identity.token, issuer, audience), _NOT_CHECKED)

    def merged(self, other: Proofs) -> Proofs:
        """These proofs and *other*'s (its time)."""
        return Proofs(other.checked_at, {**self.checked, **other.checked})
