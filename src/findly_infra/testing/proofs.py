"""Proofs for tests of the pure rules: what an honest verifier finds of the tokens a pipeline recorded.

Where an environment verifies identities, an approval counts only for what its recorded token proves when it is
verified again (``findly_infra.domain.proofs``). A test of the rules that makes identities by hand has no real token:
:func:`signed` gives an identity a stand-in token, and :func:`vouched` judges a pipeline with what an honest verifier
would find — each recorded token proves the identity recorded with it, issued when said, where its issuer is the one
it is checked against — so that the rules, not the cryptography, are under test. The cryptography's own tests run
against :mod:`findly_infra.testing.github_oidc`, the stand-in for GitHub's issuer.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

import attrs

from findly_infra.domain.identity import VerifiedIdentity
from findly_infra.domain.pipeline import DeploymentPipeline
from findly_infra.domain.proofs import ProofCheck, Proofs, Proven, Unproven

__all__ = ["StandInProofs", "honest_checks", "honest_proofs", "signed", "vouched"]


def signed(identity: VerifiedIdentity) -> VerifiedIdentity:
    """*identity* with a stand-in token of its own (``stand-in:`` and its token id, run and attempt), for
    :func:`vouched` to vouch for."""
    return attrs.evolve(identity, token=f"stand-in:{identity.token_id}:{identity.run_id}:{identity.run_attempt}")


def _recorded(pipeline: DeploymentPipeline) -> Iterator[VerifiedIdentity]:
    for state in pipeline.environments.values():
        if state.requested is not None and state.requested.identity is not None:
            yield state.requested.identity
        yield from (approval.identity for approval in state.approvals if approval.identity is not None)
        for rollout in (state.rollout, state.let_in):
            if rollout is not None and rollout.replaced is not None:
                yield rollout.replaced
            entry = rollout.entry if rollout is not None else None
            if entry is None:
                continue
            if entry.request is not None and entry.request.identity is not None:
                yield entry.request.identity
            yield from (approval.identity for approval in entry.approvals if approval.identity is not None)
            if entry.identity is not None:
                yield entry.identity


def honest_checks(
    checks: Iterable[ProofCheck],
    identities: Iterable[VerifiedIdentity | None],
    *,
    now: datetime,
    issued: datetime | None = None,
) -> Proofs:
    """What an honest verifier finds of *checks*, the tokens being those of *identities*: each proves the identity
    it was recorded with, issued at *issued* (default *now*), where it is checked against that identity's issuer."""
    by_token = {identity.token: identity for identity in identities if identity is not None and identity.token}
    found: dict[tuple[str, str, str], Proven | Unproven] = {}
    for check in checks:
        identity = by_token.get(check.token)
        if identity is None:
            found[check.key] = Unproven("not a token")
        elif identity.issuer != check.issuer:
            found[check.key] = Unproven(f"the token's signature does not verify with {check.issuer}'s keys")
        else:
            found[check.key] = Proven(identity, issued or now)
    return Proofs(now, found)


def honest_proofs(pipeline: DeploymentPipeline, *, now: datetime, issued: datetime | None = None) -> Proofs:
    """What an honest verifier finds of the tokens *pipeline*'s pending requests, approvals and rollouts' entries
    rest on, at *now*: each proves the identity recorded with it, issued at *issued* (default *now*) — where that
    identity's issuer is the one it is checked against (another issuer's keys would not verify it)."""
    checks: list[ProofCheck] = []
    for environment in pipeline.environments:
        checks += pipeline.proof_checks(environment)
        checks += pipeline.entry_checks(environment)
    return honest_checks(checks, _recorded(pipeline), now=now, issued=issued)


def vouched(pipeline: DeploymentPipeline, *, now: datetime, issued: datetime | None = None) -> DeploymentPipeline:
    """*pipeline*, judged by its policy with :func:`honest_proofs`."""
    return pipeline.judged_by(pipeline.policy, honest_proofs(pipeline, now=now, issued=issued))


@attrs.define
class StandInProofs:
    """A ``ProofVerifier`` for tests of the use cases (``PipelineService(proofs=…)``): it vouches for the tokens it
    issued (:meth:`sign`) — for the issuer of the identity signed and exactly the audience asked, as GitHub's issuer
    would — and for nothing else."""

    issued: dict[str, tuple[VerifiedIdentity, str, datetime]] = attrs.field(factory=dict)
    """Token → (the identity it proves, its audience, when it was issued)."""
    checks: list[ProofCheck] = attrs.field(factory=list)
    """Every check asked of it, in order."""

    def sign(self, identity: VerifiedIdentity, audience: str, at: datetime) -> VerifiedIdentity:
        """*identity* with a token of its own, for *audience* (``domain.proofs.purpose_audience``), issued at *at*."""
        token = f"stand-in:{len(self.issued) + 1}:{identity.login}:{identity.run_id}"
        self.issued[token] = (identity, audience, at)
        return attrs.evolve(identity, token=token)

    def verify_proof(self, check: ProofCheck) -> Proven | Unproven:
        self.checks.append(check)
        found = self.issued.get(check.token)
        if found is None:
            return Unproven("not a token this issuer signed")
        identity, audience, at = found
        if identity.issuer != check.issuer:
            return Unproven(f"the token's signature does not verify with {check.issuer}'s keys")
        if audience != check.audience:
            return Unproven(f"the token is for another audience (not {check.audience!r})")
        return Proven(attrs.evolve(identity, token=check.token), at)
