"""The policy in force: who may approve and promote into each environment, bound to the state rather than to whatever
platform file a command was given.

A platform file is only a proposal: any workflow on any branch can run the tool with a copy of it. What decides who
may approve and promote is the policy the state holds — recorded, hash-linked like every event, in a stream of its
own (:data:`POLICY_STREAM`, a name no service can have) — and a file's policy takes its place only as
:func:`adopt` says: the first one, or one that only strengthens it, at once; one that weakens it (or narrows whom a
policy that verifies identities accepts as acting: that would let anyone lock out the runs that may change it) only
from a run the policy in force itself accepts (for an environment that verifies identities: a run of the protected
workflow on the protected ref — a reviewed change of the file). Approvals are judged again when they are counted,
under the policy in force then (``domain.approvals``).

Restriction lists are compared without knowing their meaning, so that a restriction :class:`IdentityPolicy` gains
later is compared too: an empty tuple accepts any value, a non-empty one only its own values (a value added widens
it, a value removed narrows it, emptying it accepts anything). A field of any other kind is compared as a whole, and
any change to it counts as a weakening (``tests/test_policy_in_force.py`` names this assumption).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

import attrs

from findly_infra.domain.environment import ApproverGroup
from findly_infra.domain.events import Event
from findly_infra.domain.identifiers import same_person
from findly_infra.domain.identity import IdentityPolicy, OidcSettings, VerifiedIdentity
from findly_infra.domain.notation import Duration
from findly_infra.domain.platform import Platform
from findly_infra.domain.refusal import Refusal

__all__ = [
    "POLICY_IN_FORCE",
    "POLICY_STREAM",
    "SIMULATED_ISSUER",
    "Adoption",
    "EnvironmentPolicy",
    "PlatformPolicy",
    "PolicyAdopted",
    "PolicyChange",
    "adopt",
    "policy_in_force",
]

POLICY_STREAM = "_policy"
"""The stream that holds the policy in force, beside the services' streams: not a DNS label, so never a service's
name (``environment.require_service_name``)."""

POLICY_IN_FORCE = "policy-in-force"
"""The rule that refuses a platform file weakening the policy in force, from a run that policy does not accept."""

SIMULATED_ISSUER = "simulated"
"""The issuer of the identities a simulation acts with where an environment verifies identities: never a token, and
said so in every event that carries one (a simulation judges its approvals as if it were the policy's issuer)."""


def _normal_group(group: ApproverGroup) -> ApproverGroup:
    """*group* with its members in one order (without case) and their ids in that order: a file that only reorders
    them proposes the same group."""
    members = tuple(sorted(group.members, key=str.casefold))
    order = {member.casefold(): index for index, member in enumerate(members)}
    ids = tuple(sorted(group.ids, key=lambda pair: order.get(pair[0].casefold(), len(order))))
    return ApproverGroup(group.name, members, ids)


@attrs.frozen
class EnvironmentPolicy:
    """What decides who may approve and promote into one environment: whether approvals are needed and from which
    groups (with their members and account ids), how long an approval lasts, who counts as acting (the
    ``identity`` policy and, where it verifies identities, whose tokens prove them), and what a version must have
    done before: the environment it enters from and the suites it must have passed there."""

    environment: str
    approval_required: bool = False
    groups: tuple[ApproverGroup, ...] = ()
    """The groups that approve here, in the file's order, as the file defines them (members sorted)."""
    approval_expires_after: int = Duration.of(hours=24).milliseconds
    """In milliseconds."""
    identity: IdentityPolicy = IdentityPolicy()
    issuer: str = ""
    """Where ``identity.verified``: the issuer whose tokens prove who acts (``github_oidc``); empty otherwise."""
    audience: str = ""
    keys_url: str = ""
    entered_from: str | None = None
    """The environment a version must have succeeded in first (``None``: the first environment)."""
    required_tests: tuple[str, ...] = ()
    """The suites a version must have passed in :attr:`entered_from` (sorted)."""

    @classmethod
    def of(cls, platform: Platform, environment: str) -> EnvironmentPolicy:
        """The policy *platform* (a platform file) gives *environment*."""
        env = platform.environment(environment)
        previous = platform.previous_environment(env.name)
        known = {group.name: group for group in platform.approver_groups or ()}
        verified = env.identity.verified
        oidc = platform.github_oidc
        return cls(
            environment=env.name,
            approval_required=env.approval_required,
            groups=tuple(_normal_group(known.get(name) or ApproverGroup(name, ())) for name in env.approvers),
            approval_expires_after=env.approval_expires_after.milliseconds,
            identity=env.identity,
            issuer=oidc.issuer if verified else "",
            audience=oidc.audience if verified else "",
            keys_url=oidc.keys_url if verified else "",
            entered_from=previous.name if previous else None,
            required_tests=tuple(sorted(previous.tests)) if previous else (),
        )

    # ---- questions ----------------------------------------------------------------------------------------------

    @property
    def approvers(self) -> tuple[str, ...]:
        """The names of the groups that approve here, in order."""
        return tuple(group.name for group in self.groups)

    def group(self, name: str) -> ApproverGroup | None:
        return next((group for group in self.groups if group.name == name), None)

    @property
    def oidc(self) -> OidcSettings | None:
        """Whose tokens prove who acts here (``None`` where names are trusted)."""
        if not self.identity.verified:
            return None
        return OidcSettings(issuer=self.issuer, audience=self.audience, jwks_url=self.keys_url)

    def refusal_of(self, actor: str, identity: VerifiedIdentity | None) -> str | None:
        """Why *actor* (proven as *identity*, or a bare name) is not someone this policy accepts as acting here, or
        ``None``. Where names are trusted, anyone named is accepted: nothing can be proven there."""
        if identity is not None and not same_person(identity.login, actor):
            return f"{actor} is acting, but the token proves {identity.login}"
        if not self.identity.verified:
            return None
        if identity is None:
            return f"{actor} is a name, not a proof: {self.environment} takes only verified identities"
        if identity.issuer != self.issuer:
            return f"the identity was proven by {identity.issuer}, not {self.issuer}"
        return self.identity.refusal(identity)

    def accepts(self) -> str:
        """Who this policy accepts as acting, in words (for a refusal that says what would be accepted)."""
        if not self.identity.verified:
            return "anyone named (names are trusted here: nothing can be proven)"
        limits = [
            f"{field.name.replace('_', ' ')} {' or '.join(map(str, value))}"
            for field in attrs.fields(IdentityPolicy)
            if field.name != "verified" and isinstance(value := getattr(self.identity, field.name), tuple) and value
        ]
        where = f", {', '.join(limits)}" if limits else " (from any repository, workflow or ref)"
        return f"a GitHub Actions run proven by a token of {self.issuer}{where}"

    # ---- what a proposed policy changes --------------------------------------------------------------------------

    def changes(self, proposed: EnvironmentPolicy) -> tuple[PolicyChange, ...]:
        """Everything *proposed* changes of this policy, each a sentence that says whether it weakens it — and, where
        this policy verifies identities, a change to who it accepts as acting is guarded even when it narrows them
        (``PolicyChange.guarded``): narrowing them unproven would let anyone lock out the runs that may change it."""
        found = [PolicyChange(self.environment, what, weakens) for what, weakens in self._differences(proposed)]
        if self.identity.verified:
            found += [
                PolicyChange(self.environment, what, weakens=False, guarded=True)
                for what, weakens in self._restriction_changes(proposed)
                if not weakens
            ]
        return tuple(found)

    def weakenings(self, proposed: EnvironmentPolicy) -> tuple[str, ...]:
        """What *proposed* would weaken of this policy, one sentence each (empty: it weakens nothing)."""
        return tuple(change.what for change in self.changes(proposed) if change.weakens)

    def _differences(self, new: EnvironmentPolicy) -> Iterator[tuple[str, bool]]:
        yield from self._approval_differences(new)
        yield from self._identity_differences(new)
        if new.entered_from != self.entered_from:
            if new.entered_from is None:
                yield f"it no longer needs a version to succeed in {self.entered_from} first", True
            elif self.entered_from is None:
                yield f"a version must now succeed in {new.entered_from} first", False
            else:
                yield f"a version enters from {new.entered_from}, not {self.entered_from}", True
        dropped = [suite for suite in self.required_tests if suite not in new.required_tests]
        added = [suite for suite in new.required_tests if suite not in self.required_tests]
        if dropped:
            yield f"a version no longer needs {', '.join(dropped)} passed to enter", True
        if added:
            yield f"a version also needs {', '.join(added)} passed to enter", False

    def _approval_differences(self, new: EnvironmentPolicy) -> Iterator[tuple[str, bool]]:
        if self.approval_required != new.approval_required:
            yield (
                ("approvals are no longer required", True)
                if self.approval_required
                else (
                    "approvals are now required",
                    False,
                )
            )
        for group in self.groups:
            if new.group(group.name) is None:
                yield f"{group.name} no longer approves", True
        for group in new.groups:
            old = self.group(group.name)
            if old is None:
                yield f"{group.name} approves too", False
            else:
                yield from _member_differences(old, group)
        if new.approval_expires_after != self.approval_expires_after:
            longer = new.approval_expires_after > self.approval_expires_after
            yield (
                f"an approval lasts {Duration(new.approval_expires_after).describe()}, not "
                f"{Duration(self.approval_expires_after).describe()}",
                longer,
            )

    def _identity_differences(self, new: EnvironmentPolicy) -> Iterator[tuple[str, bool]]:
        old_policy, new_policy = self.identity, new.identity
        if old_policy.verified != new_policy.verified:
            yield (
                ("identities are no longer verified: names are trusted", True)
                if old_policy.verified
                else (
                    "identities are now verified",
                    False,
                )
            )
            return  # the restrictions of a policy that does not verify mean nothing
        if not old_policy.verified:
            return
        yield from ((what, True) for what, weakens in self._restriction_changes(new) if weakens)
        for name in ("issuer", "audience", "keys_url"):
            before, after = getattr(self, name), getattr(new, name)
            if before != after:
                yield f"the {name.replace('_', ' ')} of the tokens is {after}, not {before}", True

    def _restriction_changes(self, new: EnvironmentPolicy) -> Iterator[tuple[str, bool]]:
        """How the identity policy's restrictions change, where both verify identities (``(what, weakens)``)."""
        if not (self.identity.verified and new.identity.verified):
            return
        for field in attrs.fields(IdentityPolicy):
            if field.name != "verified":
                yield from _restriction_differences(
                    field.name.replace("_", " "), getattr(self.identity, field.name), getattr(new.identity, field.name)
                )


def _member_differences(old: ApproverGroup, new: ApproverGroup) -> Iterator[tuple[str, bool]]:
    for member in new.members:
        if not any(same_person(member, known) for known in old.members):
            yield f"{member} joins {new.name}", True
    for member in old.members:
        if not any(same_person(member, kept) for kept in new.members):
            yield f"{member} leaves {old.name}", False
            continue
        before, after = old.id_of(member), new.id_of(member)
        if before == after:
            continue
        if after is None:
            yield f"{member} of {old.name} is no longer bound to account id {before}", True
        elif before is None:
            yield f"{member} of {old.name} is bound to account id {after}", False
        else:
            yield f"{member} of {old.name} is account {after}, not {before}", True


def _restriction_differences(label: str, before: object, after: object) -> Iterator[tuple[str, bool]]:
    """How a restriction changed: a tuple restricts to its values (empty: any value); anything else is compared
    whole, and any change to it is taken as a weakening (what it means is not known here)."""
    if before == after:
        return
    if not (isinstance(before, tuple) and isinstance(after, tuple)):
        yield f"{label} is {after!r}, not {before!r}", True
        return
    if before and not after:
        yield f"{label} are no longer restricted (were {', '.join(map(str, before))})", True
        return
    if after and not before:
        yield f"{label} are restricted to {', '.join(map(str, after))}", False
        return
    added = [value for value in after if value not in before]
    removed = [value for value in before if value not in after]
    if added:
        yield f"{label} also accept {', '.join(map(str, added))}", True
    if removed:
        yield f"{label} no longer accept {', '.join(map(str, removed))}", False


@attrs.frozen
class PolicyChange:
    """One thing a proposed policy changes of the policy in force, in one environment."""

    environment: str
    what: str
    weakens: bool
    guarded: bool = attrs.field()
    """Whether it takes effect only from someone the policy in force accepts: every weakening, and any change of
    whom a policy that verifies identities accepts as acting."""

    @guarded.default
    def _guarded(self) -> bool:
        return self.weakens

    def __str__(self) -> str:
        return f"{self.environment}: {self.what}"


@attrs.frozen
class PlatformPolicy:
    """The policy of every environment a platform file names, in its order."""

    environments: tuple[EnvironmentPolicy, ...] = ()

    @classmethod
    def of(cls, platform: Platform) -> PlatformPolicy:
        return cls(tuple(EnvironmentPolicy.of(platform, name) for name in platform.promotion_order))

    def environment(self, name: str) -> EnvironmentPolicy | None:
        return next((policy for policy in self.environments if policy.environment == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(policy.environment for policy in self.environments)

    def changes(self, proposed: PlatformPolicy) -> tuple[PolicyChange, ...]:
        """Everything *proposed* changes of this policy: each environment's changes, an environment the proposal no
        longer names (a weakening: its policy would no longer hold), and a new one (a strengthening)."""
        found: list[PolicyChange] = []
        for policy in self.environments:
            new = proposed.environment(policy.environment)
            if new is None:
                found.append(PolicyChange(policy.environment, "is no longer in the platform file", weakens=True))
            else:
                found += policy.changes(new)
        found += [
            PolicyChange(policy.environment, "is a new environment", weakens=False)
            for policy in proposed.environments
            if self.environment(policy.environment) is None
        ]
        return tuple(found)

    def weakenings(self, proposed: PlatformPolicy) -> tuple[PolicyChange, ...]:
        return tuple(change for change in self.changes(proposed) if change.weakens)

    def simulated(self) -> PlatformPolicy:
        """This policy as a simulation judges by: its verified identities are the simulation's
        (:data:`SIMULATED_ISSUER`), proven by no token."""
        return PlatformPolicy(
            tuple(
                attrs.evolve(policy, issuer=SIMULATED_ISSUER) if policy.identity.verified else policy
                for policy in self.environments
            )
        )


@attrs.frozen(kw_only=True)
class PolicyAdopted(Event):
    """The policy in force from now on (``policy``, whole, and its ``digest``), adopted from a platform file by
    ``actor`` — proven as ``identity`` where the policy in force asked for a proof. ``changes`` says what it changed
    of the policy before it (empty for the first), ``weakenings`` which of those weakened it. Recorded in
    :data:`POLICY_STREAM`; ``environment`` and ``version`` are empty."""

    policy: PlatformPolicy
    digest: str
    changes: tuple[str, ...] = ()
    weakenings: tuple[str, ...] = ()
    identity: VerifiedIdentity | None = None


@attrs.frozen
class Adoption:
    """What a platform file's policy does to the policy in force: nothing (the same policy), an adoption (``event``,
    to record before the command's own decision), or a refusal (rule ``policy-in-force``: nothing recorded)."""

    event: PolicyAdopted | None = None
    refusal: Refusal | None = None
    changes: tuple[PolicyChange, ...] = ()


def adopt(
    in_force: PlatformPolicy | None,
    proposed: PlatformPolicy,
    *,
    actor: str,
    identity: VerifiedIdentity | None,
    at: datetime,
    digest: str,
) -> Adoption:
    """Whether *proposed* (a platform file's policy, whose digest is *digest*) becomes the policy in force, for a
    command by *actor* (proven as *identity*, or a bare name).

    - the same policy as *in_force*: nothing to record;
    - no policy in force yet, or one *proposed* only strengthens: adopted;
    - one it weakens — or, where the policy in force verifies identities, one that changes whom it accepts as acting
      at all (:attr:`PolicyChange.guarded`) — adopted only when *actor* is someone the policy in force of every such
      environment accepts (:meth:`EnvironmentPolicy.refusal_of`: where it verifies identities, a run it accepts;
      where it trusts names, anyone named); else refused by ``policy-in-force``, naming each such change and what
      would make it take effect.
    """

    def adopted(reason: str, changes: tuple[PolicyChange, ...] = ()) -> Adoption:
        event = PolicyAdopted(
            service=POLICY_STREAM,
            environment="",
            version="",
            at=at,
            actor=actor,
            reason=reason,
            policy=proposed,
            digest=digest,
            changes=tuple(map(str, changes)),
            weakenings=tuple(str(change) for change in changes if change.weakens),
            identity=identity,
        )
        return Adoption(event, changes=changes)

    if in_force is None:
        return adopted("the first policy")
    changes = in_force.changes(proposed)
    if not changes:
        return Adoption()
    guarded = tuple(change for change in changes if change.guarded)
    if not guarded:
        return adopted("strengthened", changes)
    unproven = {}
    for name in dict.fromkeys(change.environment for change in guarded):
        held = in_force.environment(name)
        problem = held.refusal_of(actor, identity) if held is not None else None
        if held is not None and problem is not None:
            unproven[name] = (held, problem)
    if unproven:
        return Adoption(refusal=Refusal(POLICY_IN_FORCE, _refused(guarded, unproven)), changes=changes)
    weakened = any(change.weakens for change in guarded)
    return adopted(f"{'weakened' if weakened else 'changed'}, by someone the policy in force accepts", changes)


def _refused(guarded: Iterable[PolicyChange], unproven: dict[str, tuple[EnvironmentPolicy, str]]) -> str:
    what = "; ".join(map(str, guarded))
    who = "; ".join(f"{name}: {held.accepts()} — and here {problem}" for name, (held, problem) in unproven.items())
    return (
        f"the platform file weakens the policy in force, or changes whom it accepts as acting ({what}), which takes "
        f"effect only from a run the policy in force accepts ({who}). Make it a reviewed change of the file on the "
        "protected ref and run `findly-infra policy adopt` from that workflow (with `permissions: id-token: write`), "
        "or use the file the policy in force was adopted from (`findly-infra policy show` says what is in force): "
        "nothing was recorded"
    )


def policy_in_force(events: Iterable[Event]) -> PlatformPolicy | None:
    """The policy the policy stream's *events* leave in force: the latest adopted (``None`` before any)."""
    held: PlatformPolicy | None = None
    for event in events:
        if isinstance(event, PolicyAdopted):
            held = event.policy
    return held
