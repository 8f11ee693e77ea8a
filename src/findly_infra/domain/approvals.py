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

from collections.abc import Sequence
from datetime import datetime, timedelta

import attrs

from findly_infra.domain.identifiers import same_person
from findly_infra.domain.notation import Duration
from findly_infra.domain.policy import EnvironmentPolicy
from findly_infra.domain.state import Approval, EnvironmentState

__all__ = ["ApprovalCount", "Discounted", "count_approvals", "same_actor"]


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


def count_approvals(
    policy: EnvironmentPolicy,
    state: EnvironmentState,
    version: str,
    at: datetime,
    *,
    promoter: tuple[str, str | None] | None = None,
) -> ApprovalCount:
    """The approvals of *version*'s pending promotion in *state* that count at *at* under *policy*; *promoter* is who
    promotes now (login and account id, when verified): their own approvals do not count either."""
    if not policy.approval_required:
        return ApprovalCount()
    requested = state.requested
    if requested is None or requested.version != version:
        return ApprovalCount(missing=policy.approvers)
    valid: list[Approval] = []
    discounted: list[Discounted] = []
    for approval in state.approvals:
        if approval.version != version:
            continue
        reason = _why_not(policy, approval, at, (requested.requested_by, requested.requested_by_id), promoter)
        if reason is None:
            valid.append(approval)
        else:
            discounted.append(Discounted(approval, reason))
    counted = _matching(policy, valid)
    held = {approval.group for approval in counted}
    for approval in valid:
        if approval not in counted and approval.group not in held:
            other = next(a for a in counted if _person(policy, a) == _person(policy, approval))
            discounted.append(
                Discounted(approval, f"{approval.approver} counts for {other.group} already (one person, one group)")
            )
    return ApprovalCount(
        tuple(counted),
        tuple(valid),
        tuple(discounted),
        tuple(group for group in policy.approvers if group not in held),
    )


def _why_not(  # noqa: PLR0911 - each reason is said apart
    policy: EnvironmentPolicy,
    approval: Approval,
    at: datetime,
    requester: tuple[str, str | None],
    promoter: tuple[str, str | None] | None,
) -> str | None:
    """Why *approval* does not satisfy *policy* at *at*, or ``None`` when it does."""
    if at - approval.at >= timedelta(milliseconds=policy.approval_expires_after):
        return f"expired (an approval lasts {Duration(policy.approval_expires_after).describe()})"
    group = policy.group(approval.group)
    if group is None:
        return f"{approval.group} no longer approves {policy.environment}"
    if not group.includes(approval.approver, approval.approver_id):
        known = group.id_of(approval.approver)
        if known is not None and approval.approver_id is not None:
            return (
                f"{group.name} has {approval.approver} as account {known}, and this was account {approval.approver_id}"
            )
        return f"{approval.approver} is not a member of {group.name}"
    if policy.identity.verified:
        identity = approval.identity
        if identity is None:
            return f"a name, not a verified identity, and {policy.environment} takes only verified identities"
        if identity.issuer != policy.issuer:
            return f"proven by {identity.issuer}, not {policy.issuer}"
        if (problem := policy.identity.refusal(identity)) is not None:
            return problem
    if same_actor(requester[0], requester[1], approval.approver, approval.approver_id):
        return f"{approval.approver} asked for this promotion"
    if promoter is not None and same_actor(promoter[0], promoter[1], approval.approver, approval.approver_id):
        return f"{approval.approver} is promoting it"
    return None


def _person(policy: EnvironmentPolicy, approval: Approval) -> str:
    """Who approved, as one key: the account id where the policy verifies identities, the login (without case)
    where it trusts names."""
    if policy.identity.verified and approval.identity is not None:
        return f"id:{approval.identity.user_id}"
    return f"login:{approval.approver.casefold()}"


def _matching(policy: EnvironmentPolicy, valid: Sequence[Approval]) -> list[Approval]:
    """The largest choice of *valid* approvals with one per group and each person once (augmenting paths: a handful
    of groups), preferring the earliest approvals and the policy's order of groups."""
    holder: dict[str, Approval] = {}  # person -> the approval that counts for them

    def place(group: str, seen: set[str]) -> bool:
        for approval in valid:
            if approval.group != group:
                continue
            person = _person(policy, approval)
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
