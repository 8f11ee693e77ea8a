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

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime

import attrs

from findly_infra.domain.environment import ApproverGroup
from findly_infra.domain.errors import InvariantError, first_repeat
from findly_infra.domain.events import Event
from findly_infra.domain.identifiers import same_person
from findly_infra.domain.identity import PULL_REQUEST_TARGET, IdentityPolicy, OidcSettings, VerifiedIdentity
from findly_infra.domain.notation import Duration
from findly_infra.domain.platform import Platform
from findly_infra.domain.proofs import ADOPT, ProofCheck, Proofs, Proven, Unproven, purpose_audience
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
    "PolicyReading",
    "adopt",
    "adoption_checks",
    "policy_in_force",
    "read_policy",
]

POLICY_STREAM = "_policy"
"""The stream that holds the policy in force, beside the services' streams: not a DNS label, so never a service's
name (``environment.require_service_name``)."""

_NOW_VERIFIED = "identities are now verified"

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
    ids = tuple(sorted(group.ids, key=lambda pair: order[pair[0].casefold()]))  # every id is a member's
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

    def __attrs_post_init__(self) -> None:
        """What a recorded policy must be to be read at all (a damaged or hand-written adoption is refused when it
        is decoded, naming what is wrong: ``application.codec``)."""
        if not isinstance(self.environment, str) or not self.environment:
            raise InvariantError("an environment's policy names its environment", field="environment")
        expiry = self.approval_expires_after
        if isinstance(expiry, bool) or not isinstance(expiry, int) or expiry < 0:
            raise InvariantError(
                f"{self.environment}: approval_expires_after is a number of milliseconds, at least 0: {expiry!r}",
                field="approval_expires_after",
            )
        names = [group.name for group in self.groups]
        if (repeat := first_repeat(names)) is not None:
            raise InvariantError(f"{self.environment}: {names[repeat]} is listed twice", field="groups", index=repeat)
        if self.identity.verified and self.issuer != SIMULATED_ISSUER:
            try:
                OidcSettings(issuer=self.issuer, audience=self.audience, jwks_url=self.keys_url or None)
            except InvariantError as exc:
                raise InvariantError(f"{self.environment}: {exc.message}", field=exc.field) from None

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
        return OidcSettings(issuer=self.issuer, audience=self.audience, jwks_url=self.keys_url or None)

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
            if isinstance(value := getattr(self.identity, field.name), tuple) and value
        ]
        where = f", {', '.join(limits)}" if limits else " (from any repository, workflow or ref)"
        return f"a GitHub Actions run proven by a token of {self.issuer}{where}"

    # ---- what a proposed policy changes --------------------------------------------------------------------------

    def changes(self, proposed: EnvironmentPolicy) -> tuple[PolicyChange, ...]:
        """Everything *proposed* changes of this policy, each a sentence that says whether it weakens it. Where this
        policy verifies identities, every change is guarded (``PolicyChange.guarded``: it takes effect only from a
        run this policy accepts) — a strengthening too: a shorter expiry, a member removed or a restriction narrowed,
        made unproven, would let anyone lock out the runs that may change it, or stop every release. Where it trusts
        names, a weakening is guarded (by a name: nothing can be proven there), and turning verified identities on
        is taken on trust (``PolicyChange.trusts``)."""
        verified = self.identity.verified
        found = [
            PolicyChange(
                self.environment,
                what,
                weakens,
                guarded=weakens or verified or what == _NOW_VERIFIED,
                trusts=what == _NOW_VERIFIED,
            )
            for what, weakens in self._differences(proposed)
        ]
        if verified:
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
        before, after = self.approval_expires_after, new.approval_expires_after
        if after != before:
            longer = after > before  # pragma: no mutate - equivalent: >= is the same where they differ
            yield f"an approval lasts {Duration(after).describe()}, not {Duration(before).describe()}", longer

    def _identity_differences(self, new: EnvironmentPolicy) -> Iterator[tuple[str, bool]]:
        old_policy, new_policy = self.identity, new.identity
        if old_policy.verified != new_policy.verified:
            yield (
                ("identities are no longer verified: names are trusted", True)
                if old_policy.verified
                else (
                    _NOW_VERIFIED,
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
        """How the identity policy's restrictions change (``(what, weakens)``), where this policy verifies identities:
        a proposal that does not has no restriction left, so each of its differences is a weakening."""
        for field in attrs.fields(IdentityPolicy):
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
        elif before is None:  # whoever holds that account now counts as the member, whatever its login
            yield f"{member} of {old.name} is bound to account id {after}: that account counts as {member}", True
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
        yield (
            f"{label} are restricted to {', '.join(map(str, after))}",
            label == "events" and PULL_REQUEST_TARGET in after,
        )
        return
    added = [value for value in after if value not in before]
    removed = [value for value in before if value not in after]
    if label == "events" and PULL_REQUEST_TARGET in added:  # not accepted unless listed: listing it widens
        yield f"{label} also accept {PULL_REQUEST_TARGET}", True
        added.remove(PULL_REQUEST_TARGET)
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
    """Whether it takes effect only from someone the policy in force accepts: every weakening, every change of a
    policy that verifies identities, and turning verified identities on."""
    trusts: bool = False
    """Whether it turns verified identities on where names were trusted: nothing before it can say who may, so it
    is taken on trust — by a name, until the state is anchored (``read_policy``); then only the state's owner does
    it (``findly-infra policy anchor``)."""

    @guarded.default
    def _guarded(self) -> bool:
        return self.weakens

    def __str__(self) -> str:
        return f"{self.environment}: {self.what}"


@attrs.frozen
class PlatformPolicy:
    """The policy of every environment a platform file names, in its order."""

    environments: tuple[EnvironmentPolicy, ...] = ()

    def __attrs_post_init__(self) -> None:
        names = [policy.environment for policy in self.environments]
        if (repeat := first_repeat(names)) is not None:
            raise InvariantError(
                f"{names[repeat]} has two policies: a policy names each environment once",
                field="environments",
                index=repeat,
            )

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
    to record before the command's own decision), or a refusal (rule ``policy-in-force``: nothing recorded) naming the
    environments whose changes could not take effect (``blocked``: only commands there are refused; the others go on
    under the policy in force)."""

    event: PolicyAdopted | None = None
    refusal: Refusal | None = None
    changes: tuple[PolicyChange, ...] = ()
    blocked: tuple[str, ...] = ()


@attrs.frozen
class _Judged:
    """What the guards of one adoption found: the problems that keep it out (per environment), the environments
    whose guard can no longer be checked (its key gone, or its issuer unreachable), the adopter its token proves,
    and what it took on trust."""

    problems: dict[str, str] = attrs.field(factory=dict)
    lost: dict[str, Unproven] = attrs.field(factory=dict)
    proven: VerifiedIdentity | None = None
    trusted: tuple[str, ...] = ()


def _judge(  # noqa: PLR0912 - a guard per kind of environment
    held: PlatformPolicy,
    changes: Iterable[PolicyChange],
    *,
    actor: str,
    identity: VerifiedIdentity | None,
    digest: str,
    proofs: Proofs | None,
    adopter: VerifiedIdentity | None,
    anchored: bool,
) -> _Judged:
    """Whether the guarded *changes* of *held* may take effect from *actor* (*identity*, with its token), adopting
    the policy whose digest is *digest*: for each environment a guarded change is in, the policy *held* there must
    accept who adopts it — where it verifies identities, by a token that verifies (*proofs*) for this adoption
    (bound to *digest*), from a run it accepts: a first attempt, not older than *adopter*'s run of the same
    workflow (a re-run carries its run's old commit and file); where it trusts names, anyone named, and turning
    verified identities on is taken on trust — unless the state is *anchored*: then only its owner does that."""
    judged = _Judged()
    trusted: list[str] = []
    proven: VerifiedIdentity | None = None
    for change in changes:
        if not change.guarded or change.environment in judged.problems or change.environment in judged.lost:
            continue
        policy = held.environment(change.environment)
        if policy is None:
            continue
        if not policy.identity.verified:
            problem = policy.refusal_of(actor, identity)
            if problem is None and change.trusts:
                if anchored:
                    problem = (
                        "the state is anchored: only its owner turns verified identities on where names were trusted "
                        "(findly-infra policy anchor, with the database owner's credentials)"
                    )
                else:
                    who = identity.describe() if identity is not None else f"{actor} (a name)"
                    trusted.append(
                        f"{change.environment}: verified identities were turned on by {who}, taken on trust — "
                        "nothing before could say who may: check its issuer, repositories and refs, and anchor it "
                        "(findly-infra policy anchor, as the database owner)"
                    )
            if problem is not None:
                judged.problems[change.environment] = problem
            continue
        found: Proven | Unproven = (
            proofs.of(identity, policy.issuer, purpose_audience(policy.audience, ADOPT, digest))
            if proofs is not None
            else Unproven(
                policy.refusal_of(actor, identity)
                or f"{actor}'s run is one it accepts, but a change here takes effect only from `findly-infra policy "
                "adopt` (a token asked for adopting this policy)"
            )
        )
        if isinstance(found, Unproven):
            if found.key_gone or found.unreachable:
                judged.lost[change.environment] = found
            else:
                judged.problems[change.environment] = found.reason
            continue
        problem = _adopter_problem(policy, found.identity, adopter)
        if problem is not None:
            judged.problems[change.environment] = problem
        else:
            proven = found.identity
    return attrs.evolve(judged, proven=proven, trusted=tuple(trusted))


def _adopter_problem(
    policy: EnvironmentPolicy, identity: VerifiedIdentity, adopter: VerifiedIdentity | None
) -> str | None:
    """Why *identity* (proven by its token) may not change *policy*: a run it does not accept, a re-run, or a run
    older than *adopter*'s — the adopter of the policy in force — of the same workflow (GitHub re-runs a run, up to
    30 days later, with its original commit and file: an old protected run carries the old policy)."""
    if identity.issuer != policy.issuer:
        return f"the identity was proven by {identity.issuer}, not {policy.issuer}"
    if (problem := policy.identity.refusal(identity)) is not None:
        return problem
    if identity.run_attempt != "1":
        return (
            f"run {identity.run_id} attempt {identity.run_attempt} is a re-run: it carries its run's commit and "
            "platform file, whoever re-ran it; adopt from a new run"
        )
    if (
        adopter is not None
        and adopter.repository.casefold() == identity.repository.casefold()
        and adopter.workflow.casefold() == identity.workflow.casefold()
        and adopter.run_id.isdigit()
        and identity.run_id.isdigit()
        and int(identity.run_id) < int(adopter.run_id)
    ):
        return (
            f"run {identity.run_id} is older than run {adopter.run_id}, which adopted the policy in force: a re-run of "
            "an old run carries its old platform file; adopt from a new run"
        )
    return None


def adopt(
    in_force: PlatformPolicy | None,
    proposed: PlatformPolicy,
    *,
    actor: str,
    identity: VerifiedIdentity | None,
    at: datetime,
    digest: str,
    proofs: Proofs | None = None,
    adopter: VerifiedIdentity | None = None,
    anchored: bool = False,
) -> Adoption:
    """Whether *proposed* (a platform file's policy, whose digest is *digest*) becomes the policy in force, for a
    command by *actor* (proven as *identity*, or a bare name).

    - the same policy as *in_force*: nothing to record;
    - no policy in force yet, or changes none of which is guarded: adopted;
    - guarded changes (:attr:`PolicyChange.guarded`: every weakening, any change of an environment whose policy in
      force verifies identities, turning verified identities on) — adopted only when every such environment's policy
      in force accepts who adopts it: where it verifies identities, *identity*'s token verified (*proofs*) for this
      adoption, from a run it accepts, a first attempt, not older than the run of *adopter* (who adopted the policy
      in force); where it trusts names, anyone named (turning verified identities on: taken on trust, unless
      *anchored*). Else refused by ``policy-in-force``, naming each such change, what would make it take effect, and
      the environments it blocks.
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
    judged = _judge(
        in_force,
        guarded,
        actor=actor,
        identity=identity,
        digest=digest,
        proofs=proofs,
        adopter=adopter,
        anchored=anchored,
    )
    unproven = {
        name: (held, problem)
        for name, problem in {**judged.problems, **{k: v.reason for k, v in judged.lost.items()}}.items()
        if (held := in_force.environment(name)) is not None
    }
    if unproven:
        return Adoption(
            refusal=Refusal(POLICY_IN_FORCE, _refused(guarded, unproven)), changes=changes, blocked=tuple(unproven)
        )
    if all(change.trusts for change in guarded):  # verified identities turned on where names were trusted
        return adopted("strengthened", changes)
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
    """The policy the policy stream's *events* leave in force, as recorded: the latest adopted (``None`` before any)
    — with no proof checked. What decides is :func:`read_policy`, which checks each adoption's guard."""
    held: PlatformPolicy | None = None
    for event in events:
        if isinstance(event, PolicyAdopted):
            held = event.policy
    return held


@attrs.frozen
class PolicyReading:
    """The policy stream read with its guards checked (:func:`read_policy`): the policy in force, which adoption
    it is, and what was found on the way."""

    in_force: PlatformPolicy | None = None
    position: int | None = None
    """The position of the adoption in force in the policy stream."""
    adopter: VerifiedIdentity | None = None
    """Who adopted the latest guarded change in force, as their token proves it (a later adoption may not come from
    an older run of the same workflow)."""
    damage: tuple[tuple[int, str], ...] = ()
    """Each adoption that is not in force, and why: its guard does not hold (a forged or edited adoption, or one
    made by a run the policy before it does not accept)."""
    frozen: Mapping[str, str] = attrs.field(factory=dict)
    """The environments whose policy in force rests on a proof that can no longer be checked (its key no longer
    published, or its issuer out of reach), and why: decisions there are refused until the state's owner anchors
    the policy (``findly-infra policy anchor``)."""
    trusted: tuple[str, ...] = ()
    """What was taken on trust: the first policy, and each first move to verified identities made by a name."""
    anchored: int | None = None
    """The position of the adoption the state's owner anchored (``None``: not anchored)."""
    unreachable: bool = False
    """Whether a proof could not be checked because its issuer's keys could not be read (try again)."""
    anchor_problem: str | None = None
    """Why the owner's anchor does not hold (it names an adoption the stream does not hold, or with another link):
    every environment is blocked — a policy in force or not, since an anchor past the stream's end would otherwise
    leave nothing in force and the platform file given to judge by — until the owner anchors again."""

    def blocked(self, environment: str) -> str | None:
        """Why decisions in *environment* are refused (its policy in force cannot be proven, or the owner's anchor
        does not hold), or ``None``."""
        return self.frozen.get(environment) or self.anchor_problem


def adoption_checks(adoptions: Sequence[PolicyAdopted], anchored: int | None = None) -> tuple[ProofCheck, ...]:
    """The tokens :func:`read_policy` may rest on: each adoption's adopter's, for every issuer and audience a policy
    before it verified identities with (its guard is one of them), bound to its digest."""
    found: list[ProofCheck] = []
    seen: list[tuple[str, str, str]] = []
    for position, event in enumerate(adoptions):
        identity = event.identity
        if identity is not None and identity.token and (anchored is None or position > anchored):
            found += [
                ProofCheck(identity.token, issuer, purpose_audience(audience, ADOPT, event.digest), keys_url)
                for issuer, audience, keys_url in seen
            ]
        seen += [(p.issuer, p.audience, p.keys_url) for p in event.policy.environments if p.identity.verified]
    return tuple(dict.fromkeys(found))


def read_policy(
    adoptions: Sequence[PolicyAdopted],
    *,
    proofs: Proofs | None,
    digests: Sequence[str],
    anchored: int | None = None,
    anchor_problem: str | None = None,
) -> PolicyReading:
    """The policy in force, the policy stream's *adoptions* read with their guards checked: each adoption is in
    force only if the policy before it accepts it (:func:`adopt`'s rules, on what *proofs* found of the adopters'
    tokens) and its digest is its policy's (*digests*: each adoption's policy's digest, as computed again). One that
    is not is damage — named, and skipped: the policy before it stays in force. One whose guard rests on a proof that
    can no longer be checked (its key gone) is in force, and the environments it guards are frozen: fail closed.

    *anchored*: the position of the adoption the state's owner anchored — in force as it stands, the adoptions before
    it history; after it, turning verified identities on is the owner's alone. *anchor_problem*: the anchor does not
    match the stream (it was rewritten): every environment is frozen. The first policy of a state that is not
    anchored is taken on trust, and said so (:attr:`PolicyReading.trusted`)."""
    held: PlatformPolicy | None = None
    position: int | None = None
    adopter: VerifiedIdentity | None = None
    damage: list[tuple[int, str]] = []
    frozen: dict[str, str] = {}
    trusted: list[str] = []
    unreachable = False
    for index, event in enumerate(adoptions):
        if anchored is not None and index < anchored:
            continue
        if index >= len(digests) or digests[index] != event.digest:
            damage.append((index, "its digest is not its policy's: the adoption was changed after it was written"))
            continue
        if index == anchored:
            held, position, adopter, frozen, trusted = event.policy, index, None, {}, []
            continue
        if held is None:
            held, position = event.policy, index
            who = event.identity.describe() if event.identity is not None else f"{event.actor} (a name)"
            verifying = [p.environment for p in event.policy.environments if p.identity.verified]
            said = (
                f": {', '.join(verifying)} verif{'ies' if len(verifying) == 1 else 'y'} identities as it says"
                if verifying
                else ""
            )
            trusted.append(
                f"the first policy was adopted by {who} and taken on trust{said} — nothing before it could say who "
                "may adopt it: check it, and anchor it (findly-infra policy anchor, as the database owner)"
            )
            continue
        changes = held.changes(event.policy)
        judged = _judge(
            held,
            changes,
            actor=event.actor,
            identity=event.identity,
            digest=event.digest,
            proofs=proofs,
            adopter=adopter,
            anchored=anchored is not None,
        )
        if judged.problems:
            damage.append(
                (
                    index,
                    "not in force: " + "; ".join(f"{name}: {problem}" for name, problem in judged.problems.items()),
                )
            )
            continue
        held, position = event.policy, index
        if judged.proven is not None:
            adopter = judged.proven
        for name, lost in judged.lost.items():
            unreachable = unreachable or lost.unreachable
            frozen[name] = (
                f"the adoption at {POLICY_STREAM}@{index} rests on a token that can no longer be checked "
                f"({lost.reason})"
                + (
                    ": try again"
                    if lost.unreachable
                    else ": decisions here are refused until the state's owner anchors the policy (findly-infra policy "
                    "anchor)"
                )
            )
        trusted += judged.trusted
    if anchor_problem is not None and held is not None:
        frozen = {policy.environment: anchor_problem for policy in held.environments}
    return PolicyReading(
        held, position, adopter, tuple(damage), frozen, tuple(trusted), anchored, unreachable, anchor_problem
    )
