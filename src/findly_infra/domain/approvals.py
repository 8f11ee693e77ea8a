"""Approvals judged when they are counted: an approval counts toward a promotion only if, under the policy in force
for its environment at the time it is counted, its recorded evidence satisfies that policy.

An approval is recorded under the policy of its day (or of whatever platform file its command was given). When a
promotion counts approvals, each one is judged again: bound to the version asked for, not expired, for a group that
still approves there, by a member of that group as the policy now defines it (by account id where both the policy and
the approval have one), verified where the policy verifies identities — by the policy's issuer, from a run the
policy accepts — and by neither the person who asked for the promotion nor the one promoting now. Of the approvals
that pass, one counts per group, each person once: the largest such choice (a matching of people to groups).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from findly_infra.domain.identifiers import same_person
from findly_infra.domain.identity import VerifiedIdentity
from findly_infra.domain.notation import Duration
from findly_infra.domain.policy import EnvironmentPolicy
from findly_infra.domain.proofs import APPROVE, PROMOTE, ProofCheck, Proofs, Proven, Unproven, purpose_audience
from findly_infra.domain.state import Approval, EnvironmentState, PendingRequest

__all__ = [
    "ApprovalCount",
    "Discounted",
    "count_approvals",
    "needed_text",
    "proof_checks",
    "request_proven",
    "same_actor",
]


def needed_text(groups: tuple[str, ...]) -> str:
    """What a promotion still needs, in words: one approval per group, each by a different person
    (:func:`count_approvals`) — ``an approval from each of devops-team and security-team``; ``an approval from a
    member of devops-team``. (A blue-green manual step needs one approval, from a member of any group.)"""
    if len(groups) == 1:
        return f"an approval from a member of {groups[0]}"
    return f"an approval from each of {', '.join(groups[:-1])} and {groups[-1]}"


def same_actor(name: str, user_id: str | None, other: str, other_id: str | None) -> bool:
    """Whether two actors are one person: by GitHub account id when both are verified (a renamed login is still its
    account, and a login taken after a rename is another), by login (without case) otherwise."""
    if user_id is not None and other_id is not None:
        return user_id == other_id
    return same_person(name, other)


@attrs.frozen
class Discounted:
    """An approval that does not count, and why."""

    approval: Approval
    reason: str

    def __str__(self) -> str:
        approval = self.approval
        return f"{approval.approver}'s approval for {approval.group} ({approval.at.isoformat()}): {self.reason}"


@attrs.frozen
class ApprovalCount:
    """The approvals of the pending promotion as the policy in force counts them."""

    counted: tuple[Approval, ...] = ()
    """One per group it counts for, each by a different person."""
    valid: tuple[Approval, ...] = ()
    """Every approval that satisfies the policy on its own (``counted`` is the largest choice of these with one per
    group and each person once)."""
    discounted: tuple[Discounted, ...] = ()
    """The approvals of the version that do not count, each with why (approvals of other versions are not named)."""
    missing: tuple[str, ...] = ()
    """The groups whose approval is still needed, in the policy's order."""

    def describe_discounted(self) -> str:
        """``; not counted: …`` naming the approvals that do not count and why (empty when none)."""
        return f"; not counted: {'; '.join(map(str, self.discounted))}" if self.discounted else ""


def proof_checks(
    policy: EnvironmentPolicy,
    service: str,
    environment: str,
    request: PendingRequest | None,
    approvals: Iterable[Approval],
) -> tuple[ProofCheck, ...]:
    """The recorded tokens a count under *policy* rests on — *request*'s (for its promotion) and each of
    *approvals*' (for the version asked for) — each with what it must be checked for: the issuer in force and its
    purpose audience. None where *policy* trusts names."""
    if not policy.identity.verified or request is None:
        return ()
    found = []
    if request.identity is not None and request.identity.token:
        found.append(_check(policy, request.identity.token, PROMOTE, service, request.version, environment))
    for approval in approvals:
        if approval.version == request.version and approval.identity is not None and approval.identity.token:
            found.append(_check(policy, approval.identity.token, APPROVE, service, approval.version, environment))
    return tuple(dict.fromkeys(found))


def _check(policy: EnvironmentPolicy, token: str, action: str, *subject: str) -> ProofCheck:
    return ProofCheck(token, policy.issuer, purpose_audience(policy.audience, action, *subject), policy.keys_url)


@attrs.frozen
class _Proven:
    """An approval or a request as its proof states it (where identities are verified) or as recorded (names)."""

    login: str
    user_id: str | None
    identity: VerifiedIdentity | None = None
    issued_at: datetime | None = None


def _proven(
    policy: EnvironmentPolicy,
    proofs: Proofs | None,
    identity: VerifiedIdentity | None,
    action: str,
    subject: tuple[str, str, str],
) -> Proven | Unproven:
    if proofs is None:
        return Unproven("its proof was not checked")
    return proofs.of(identity, policy.issuer, purpose_audience(policy.audience, action, *subject))


def count_approvals(  # noqa: PLR0912 - the request, then each approval
    policy: EnvironmentPolicy,
    state: EnvironmentState,
    version: str,
    at: datetime,
    *,
    promoter: tuple[str, str | None] | None = None,
    proofs: Proofs | None = None,
    service: str = "",
) -> ApprovalCount:
    """The approvals of *version*'s pending promotion in *state* of *service* that count at *at* under *policy*;
    *promoter* is who promotes now (login and account id, when verified): their own approvals do not count either.

    Where *policy* verifies identities, what counts is what the recorded tokens prove (*proofs*: what verifying
    them again found, ``proof_checks`` says which): the request's requester and each approver are the people their
    tokens name — not the identities recorded beside them — each token verified by the issuer in force for its own
    purpose (this request, this version, this environment), issued within ``approval_expires_after`` of the proofs'
    time and, for an approval, not before the request it approves; a token from a re-run does not count. A request
    whose token does not verify lets no approval count (ask again)."""
    if not policy.approval_required:
        return ApprovalCount()
    requested = state.requested
    if requested is None or requested.version != version:
        return ApprovalCount(missing=policy.approvers)
    subject = (service, version, policy.environment)
    requester = _Proven(requested.requested_by, requested.requested_by_id)
    unproven_request: str | None = None
    if policy.identity.verified:
        found = _proven(policy, proofs, requested.identity, PROMOTE, subject)
        if isinstance(found, Unproven):
            unproven_request = found.reason
        else:
            identity = found.identity
            requester = _Proven(identity.login, identity.user_id, issued_at=found.issued_at)
            unproven_request = _request_problem(policy, requested, identity)
    valid: list[Approval] = []
    people: dict[Approval, _Proven] = {}
    discounted: list[Discounted] = []
    for approval in state.approvals:
        if approval.version != version:
            continue
        person, reason = _approver(policy, proofs, approval, subject)
        if reason is None and unproven_request is not None:
            reason = (
                f"the request for this promotion ({requested.requested_by}) is not proven ({unproven_request}): "
                "ask for it again (findly-infra promote) and approve after it"
            )
        if reason is None:
            reason = _why_not(policy, approval, person, at, proofs, requester, promoter)
        if reason is None:
            valid.append(approval)
            people[approval] = person
        else:
            discounted.append(Discounted(approval, reason))
    counted = _matching(policy, valid, people)
    held = {approval.group for approval in counted}
    for approval in valid:
        if approval not in counted and approval.group not in held:
            other = next(a for a in counted if _person(policy, people[a]) == _person(policy, people[approval]))
            discounted.append(
                Discounted(approval, f"{approval.approver} counts for {other.group} already (one person, one group)")
            )
    return ApprovalCount(
        tuple(counted),
        tuple(valid),
        tuple(discounted),
        tuple(group for group in policy.approvers if group not in held),
    )


def request_proven(
    policy: EnvironmentPolicy, request: PendingRequest, service: str, proofs: Proofs | None
) -> str | None:
    """Why *request* is not proven under *policy* (its token does not verify for its purpose), or ``None`` when it
    is — or needs no proof (names are trusted)."""
    if not policy.identity.verified:
        return None
    found = _proven(policy, proofs, request.identity, PROMOTE, (service, request.version, policy.environment))
    if isinstance(found, Unproven):
        return found.reason
    return _request_problem(policy, request, found.identity)


def _request_problem(policy: EnvironmentPolicy, request: PendingRequest, identity: VerifiedIdentity) -> str | None:
    """Why a request whose token proves *identity* is not one *policy* accepts, or ``None``."""
    if not same_person(identity.login, request.requested_by):
        return f"recorded as {request.requested_by}'s, and its token proves {identity.login}"
    if identity.issuer != policy.issuer:
        return f"proven by {identity.issuer}, not {policy.issuer}"
    return policy.identity.refusal(identity)


def _approver(
    policy: EnvironmentPolicy, proofs: Proofs | None, approval: Approval, subject: tuple[str, str, str]
) -> tuple[_Proven, str | None]:
    """Who *approval* is by — as its token proves it, where *policy* verifies identities — or why it proves no
    one."""
    recorded = _Proven(approval.approver, approval.approver_id)
    if not policy.identity.verified:
        return recorded, None
    if approval.identity is None:
        return recorded, f"a name, not a verified identity, and {policy.environment} takes only verified identities"
    found = _proven(policy, proofs, approval.identity, APPROVE, subject)
    if isinstance(found, Unproven):
        again = "; approve again" if found.key_gone else ""
        return recorded, f"its token does not prove it: {found.reason}{again}"
    identity = found.identity
    if not same_person(identity.login, approval.approver) or (
        approval.approver_id is not None and identity.user_id != approval.approver_id
    ):
        return recorded, (
            f"recorded as {approval.approver}, and its token proves {identity.login} (id {identity.user_id})"
        )
    return _Proven(identity.login, identity.user_id, identity, found.issued_at), None


def _rerun(identity: VerifiedIdentity) -> str:
    return (
        f"its token is from run {identity.run_id} attempt {identity.run_attempt}, a re-run: GitHub gives a re-run the "
        "identity of the run's first actor, whoever re-ran it"
    )


def _why_not(  # noqa: PLR0911, PLR0912, PLR0917 - each reason is said apart
    policy: EnvironmentPolicy,
    approval: Approval,
    person: _Proven,
    at: datetime,
    proofs: Proofs | None,
    requester: _Proven,
    promoter: tuple[str, str | None] | None,
) -> str | None:
    """Why *approval* (by *person*, as proven) does not satisfy *policy* at *at*, or ``None`` when it does."""
    lasts = timedelta(milliseconds=policy.approval_expires_after)
    if at - approval.at >= lasts:
        return f"expired (an approval lasts {Duration(policy.approval_expires_after).describe()})"
    group = policy.group(approval.group)
    if group is None:
        return f"{approval.group} no longer approves {policy.environment}"
    if not group.includes(person.login, person.user_id):
        known = group.id_of(person.login)
        if known is not None and person.user_id is not None:
            return f"{group.name} has {person.login} as account {known}, and this was account {person.user_id}"
        return f"{person.login} is not a member of {group.name}"
    identity = person.identity
    if identity is not None:  # proven by a token: only where the policy verifies identities (_approver)
        if identity.issuer != policy.issuer:
            return f"proven by {identity.issuer}, not {policy.issuer}"
        if (problem := policy.identity.refusal(identity)) is not None:
            return problem
        if identity.run_attempt != "1":
            return _rerun(identity)
        issued = person.issued_at
        if proofs is not None and issued is not None:
            if proofs.checked_at - issued >= lasts:
                return (
                    f"expired: its token was issued at {issued.isoformat()}, and an approval lasts "
                    f"{Duration(policy.approval_expires_after).describe()}"
                )
            if requester.issued_at is not None and issued < requester.issued_at:
                return (
                    f"its token was issued at {issued.isoformat()}, before the request it would approve "
                    f"({requester.issued_at.isoformat()}): an approval of an earlier request"
                )
    if same_actor(requester.login, requester.user_id, person.login, person.user_id):
        return f"{approval.approver} asked for this promotion"
    if promoter is not None and same_actor(promoter[0], promoter[1], person.login, person.user_id):
        return f"{approval.approver} is promoting it"
    return None


def _person(policy: EnvironmentPolicy, person: _Proven) -> str:
    """Who approved, as one key: the account id where the policy verifies identities, the login (without case)
    where it trusts names."""
    if policy.identity.verified and person.user_id is not None:
        return f"id:{person.user_id}"
    return f"login:{person.login.casefold()}"


def _matching(
    policy: EnvironmentPolicy, valid: Sequence[Approval], people: Mapping[Approval, _Proven]
) -> list[Approval]:
    """The largest choice of *valid* approvals with one per group and each person once (augmenting paths: a handful
    of groups), preferring the earliest approvals and the policy's order of groups."""
    holder: dict[str, Approval] = {}  # person -> the approval that counts for them

    def place(group: str, seen: set[str]) -> bool:
        for approval in valid:
            if approval.group != group:
                continue
            person = _person(policy, people[approval])
            if person in seen:
                continue
            seen.add(person)
            current = holder.get(person)
            if current is None or place(current.group, seen):
                holder[person] = approval
                return True
        return False

    for group in policy.approvers:
        place(group, set())
    return sorted(holder.values(), key=lambda approval: policy.approvers.index(approval.group))
