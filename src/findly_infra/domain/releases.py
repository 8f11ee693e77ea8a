"""Releases of several services: versions of several services promoted together, approved once per environment,
rolled out one service at a time in the order of the dependencies the platform file declares (``depends_on``), and
returned as a whole — the parts already done, in reverse order — when one part fails.

A release is recorded in its own stream (:data:`RELEASE_STREAM`); each part's rollout stays its service's own, in
the service's stream, under its environment's rules and strategy. This module decides, from the release's events and
what each part's service shows in the environment (:class:`PartObservation`), what comes next (:meth:`Release.advance`):
a part to start, a part to wait for, a part to return, or the release's end. Every decision records its intent in the
release stream before the service is acted on, and every action on a service is idempotent there (a part already
started, already returned, says so), so a release killed at any write is simply advanced again.

Pure: times and identities come in as arguments.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import attrs

from findly_infra.domain.approvals import ApprovalCount, count_approvals, same_actor
from findly_infra.domain.errors import InvariantError
from findly_infra.domain.events import Event
from findly_infra.domain.policy import EnvironmentPolicy
from findly_infra.domain.refusal import Refusal
from findly_infra.domain.state import Approval, EnvironmentState, PendingRequest, Phase

__all__ = [
    "RELEASE_EVENTS",
    "RELEASE_STREAM",
    "PartObservation",
    "PartState",
    "PartStatus",
    "Release",
    "ReleaseAction",
    "ReleaseActionKind",
    "ReleaseApproved",
    "ReleaseCreated",
    "ReleaseEntered",
    "ReleaseInEnvironment",
    "ReleasePart",
    "ReleasePartDone",
    "ReleasePartFailed",
    "ReleasePartReturned",
    "ReleasePartStarted",
    "ReleasePhase",
    "ReleaseReturning",
    "ReleaseRolledBack",
    "ReleaseStep",
    "ReleaseSucceeded",
    "dependency_cycle",
    "dependency_order",
    "dependency_problem",
    "release_approval",
    "release_name_problem",
    "releases",
]

RELEASE_STREAM = "_releases"
"""The stream every release's events are recorded in (``service`` of each is this; ``version`` is the release's
name; ``environment`` the environment it concerns, empty for :class:`ReleaseCreated`)."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def release_name_problem(name: str) -> str | None:
    """Why *name* cannot name a release (``None``: it can): 1 to 63 letters, digits, ``.``, ``_``, ``-``, starting with
    a letter or digit."""
    if _NAME.match(name):
        return None
    return f"release name {name!r} must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit"


# ---- the order --------------------------------------------------------------------------------------------------


def dependency_cycle(dependencies: Mapping[str, Sequence[str]]) -> tuple[str, ...] | None:
    """A cycle of *dependencies* (service -> the services it depends on), in its order, its first service named
    again at its end (``("a", "b", "a")``); ``None``: there is none. Dependencies on services *dependencies* does not
    name are left out (:func:`dependency_problem` names them); a service depending on itself is a cycle of one."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(service: str) -> tuple[str, ...] | None:
        state[service] = 1
        path.append(service)
        for need in dependencies[service]:
            if need not in dependencies:
                continue
            if state.get(need) == 1:
                return (*path[path.index(need) :], need)
            if need not in state and (found := visit(need)) is not None:
                return found
        path.pop()
        state[service] = 2
        return None

    for service in dependencies:
        if service not in state and (found := visit(service)) is not None:
            return found
    return None


def dependency_problem(dependencies: Mapping[str, Sequence[str]]) -> str | None:
    """Why *dependencies* (service -> the services it depends on, in the file's order) cannot be ordered: a service
    depending on one not named, on itself, or a cycle (named in its order: ``a -> b -> a``). ``None``: they can."""
    for service, needs in dependencies.items():
        for need in needs:
            if need == service:
                return f"{service} depends on itself"
            if need not in dependencies:
                return f"{service} depends on {need}, which is not a service of the platform"
    if (cycle := dependency_cycle(dependencies)) is not None:
        return "dependency cycle: " + " -> ".join(cycle)
    return None


def dependency_order(dependencies: Mapping[str, Sequence[str]], services: Iterable[str]) -> tuple[str, ...]:
    """*services* in an order where each comes after every service it depends on, directly or through services
    left out of *services* (a dependency outside the release orders its parts all the same); among services free to
    go, the order of *dependencies* (the file's). Raises :class:`InvariantError` on what :func:`dependency_problem`
    names, or a service *dependencies* does not know."""
    if (problem := dependency_problem(dependencies)) is not None:
        raise InvariantError(problem, field="depends_on")
    wanted = list(dict.fromkeys(services))
    for service in wanted:
        if service not in dependencies:
            raise InvariantError(f"unknown service {service!r}", field="parts")
    closure: dict[str, set[str]] = {}

    def needs(service: str) -> set[str]:
        if service not in closure:
            found: set[str] = set()
            for need in dependencies[service]:
                found.add(need)
                found |= needs(need)
            closure[service] = found
        return closure[service]

    rank = {service: index for index, service in enumerate(dependencies)}
    left = sorted(wanted, key=rank.__getitem__)
    ordered: list[str] = []
    while left:
        free = next(service for service in left if not (needs(service) & set(left)))
        ordered.append(free)
        left.remove(free)
    return tuple(ordered)


# ---- events -------------------------------------------------------------------------------------------------------


@attrs.frozen
class ReleasePart:
    """One service of a release and the version it releases."""

    service: str
    version: str

    def __str__(self) -> str:
        return f"{self.service}={self.version}"


@attrs.frozen(kw_only=True)
class ReleaseCreated(Event):
    """A release was named: its parts, ``service=version``, in the order they roll out (dependencies first)."""

    release: str
    parts: tuple[str, ...]


@attrs.frozen(kw_only=True)
class ReleaseEntered(Event):
    """The release set out into ``environment`` (a promotion of every part was asked for there)."""

    release: str


@attrs.frozen(kw_only=True)
class ReleaseApproved(Event):
    """One person approved the whole release for ``environment``, judged under the environment's rules (``group`` is
    the approver group it counts for): the release's approvals gate it there (:func:`release_approval`), and each
    part's service is given them only when that part starts."""

    release: str
    group: str = ""


@attrs.frozen(kw_only=True)
class ReleasePartStarted(Event):
    """The release started its part *part* (its service's rollout of *part_version*) in ``environment``;
    *previous* is what the service served there before (what a rollback of the release returns it to)."""

    release: str
    part: str
    part_version: str
    previous: str | None = None
    rollout_before: datetime | None = None
    """When the service's latest rollout then started, if it was not the part's (``None``: there was none, or it
    was a rollout of *part_version* under way, which the part took as its own): a rollout started then is never
    taken for the part's — an earlier rollout of the same version, rolled back, is not this release's failure.
    Recorded again (with *previous*) when the part is started again and its service changed meanwhile."""


@attrs.frozen(kw_only=True)
class ReleasePartDone(Event):
    """The part's rollout succeeded (*unchanged*: the service already served the version: nothing rolled out, and
    nothing to return)."""

    release: str
    part: str
    part_version: str
    unchanged: bool = False


@attrs.frozen(kw_only=True)
class ReleasePartFailed(Event):
    """The part's rollout did not succeed (rolled back or aborted: ``reason`` says which and why)."""

    release: str
    part: str
    part_version: str


@attrs.frozen(kw_only=True)
class ReleaseReturning(Event):
    """The release is returned as a whole in ``environment``: the parts it did, in reverse order, back to what each
    served before. *failed* is the part whose failure (or a person's ``rollback``: empty) caused it."""

    release: str
    failed: str = ""


@attrs.frozen(kw_only=True)
class ReleasePartReturned(Event):
    """A done part was returned to *restored* (``None``: nothing served before the release: it was left running,
    and ``reason`` says so)."""

    release: str
    part: str
    part_version: str
    restored: str | None = None


@attrs.frozen(kw_only=True)
class ReleaseSucceeded(Event):
    """Every part succeeded in ``environment``."""

    release: str


@attrs.frozen(kw_only=True)
class ReleaseRolledBack(Event):
    """Every part the release did in ``environment`` was returned."""

    release: str


RELEASE_EVENTS: tuple[type[Event], ...] = (
    ReleaseCreated,
    ReleaseEntered,
    ReleaseApproved,
    ReleasePartStarted,
    ReleasePartDone,
    ReleasePartFailed,
    ReleaseReturning,
    ReleasePartReturned,
    ReleaseSucceeded,
    ReleaseRolledBack,
)


# ---- state --------------------------------------------------------------------------------------------------------


class PartStatus(enum.Enum):
    PENDING = "pending"
    STARTED = "started"
    DONE = "done"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    RETURNED = "returned"
    LEFT = "left"
    """Not returned, though something served before the release: a rollout that is not the release's came since
    (returning it would undo that one, or it already serves what it served before): the rollback did not touch it.
    (A part that served nothing before is left running and said ``returned``, its ``previous`` empty.)"""


class ReleasePhase(enum.Enum):
    ROLLING_OUT = "rolling_out"
    RETURNING = "returning"
    SUCCEEDED = "succeeded"
    ROLLED_BACK = "rolled_back"

    @property
    def under_way(self) -> bool:
        """The release still holds the environment (one release at a time there)."""
        return self in (ReleasePhase.ROLLING_OUT, ReleasePhase.RETURNING)


@attrs.frozen
class PartState:
    service: str
    version: str
    status: PartStatus = PartStatus.PENDING
    previous: str | None = None
    reason: str = ""
    rollout_before: datetime | None = None
    """The start of the service's rollout that is not the part's (:attr:`ReleasePartStarted.rollout_before`)."""
    started_at: datetime | None = None
    """When the part was (last) started: its own rollout is the first of its version since
    (:attr:`PartObservation.own`)."""

    def owns(self, seen: PartObservation) -> bool:
        """*seen*'s latest rollout is this part's: of its version, and not the one the service showed when the part
        was started (when both starts are known)."""
        if seen.rollout_version != self.version:
            return False
        return seen.rollout_started is None or seen.rollout_started != self.rollout_before


@attrs.frozen
class ReleaseInEnvironment:
    """The release in one environment."""

    environment: str
    phase: ReleasePhase
    parts: tuple[PartState, ...]
    entered_by: str
    entered_at: datetime
    approvers: tuple[str, ...] = ()
    failed: str = ""
    ended_at: datetime | None = None
    done: tuple[str, ...] = ()
    """The parts that rolled out (``DONE``), in the order they were done."""
    approvals: tuple[Approval, ...] = ()
    """The release's approvals here (``ReleaseApproved``), as approvals of a promotion of the release (its name the
    version, who entered it the requester): :func:`release_approval` counts them."""

    def part(self, service: str) -> PartState:
        for part in self.parts:
            if part.service == service:
                return part
        raise KeyError(service)

    @property
    def to_return(self) -> tuple[PartState, ...]:
        """The parts a rollback of the release still returns, in the order it returns them (the reverse of the
        order they were done)."""
        return tuple(part for part in map(self.part, reversed(self.done)) if part.status is PartStatus.DONE)


@attrs.frozen
class PartObservation:
    """What a part's service shows in the environment (its ``EnvironmentState``): the latest rollout's version and
    phase, and what it serves."""

    service: str
    current: str | None = None
    rollout_version: str | None = None
    phase: Phase = Phase.IDLE
    reason: str = ""
    rollout_started: datetime | None = None
    """When the latest rollout started (``None``: no rollout, or not known): tells the part's own rollout from an
    earlier one of the same version (:attr:`PartState.rollout_before`)."""
    rollout_previous: str | None = None
    """What the latest rollout replaced: a rollout that is not the part's, which replaced the part's version, tells
    that the part's own rollout succeeded before it."""
    own: Phase | None = None
    """How the part's own rollout ended — the first rollout of its version in the service's history since the part
    was started — when another rollout came after it (``None``: not known, none, or it is the latest): one that was
    rolled back or aborted is the part's failure, whatever came after it."""
    own_reason: str = ""

    @classmethod
    def of(cls, service: str, state: EnvironmentState) -> PartObservation:
        """What *service*'s :class:`EnvironmentState` in the environment shows."""
        rollout = state.rollout
        if rollout is None:
            return cls(service, state.current)
        return cls(
            service, state.current, rollout.version, rollout.phase, rollout.reason, rollout.started, rollout.previous
        )

    @property
    def busy(self) -> bool:
        """A rollout holds the service (one rollout at a time there)."""
        return self.phase.active


class ReleaseActionKind(enum.Enum):
    START = "start"
    """Start the part's rollout (``PipelineService.deploy``): idempotent — a rollout of the version already under way
    says so."""
    WAIT = "wait"
    """The part's rollout is under way (or stopped for a person): drive it, and come back."""
    RETURN = "return"
    """Return the part to ``version`` (``DeploymentPipeline.return_to``): a done part's rollout is undone, a rollout
    of the part under way is rolled back (``version`` is what it replaced: ``None`` when nothing served before it —
    a rollback of the rollout, ``DeploymentPipeline.rollback``, then)."""
    NONE = "none"
    """Nothing to do on a service: the release ended (or only records)."""


@attrs.frozen
class ReleaseAction:
    kind: ReleaseActionKind
    service: str = ""
    version: str | None = None
    """START: the version to roll out; RETURN: the version to return to."""
    why: str = ""


@attrs.frozen
class ReleaseStep:
    """What :meth:`Release.advance` decided: *events* to record in the release stream first, then *action* on a
    service (or a *refusal*)."""

    events: tuple[Event, ...] = ()
    action: ReleaseAction = ReleaseAction(ReleaseActionKind.NONE)
    refusal: Refusal | None = None
    waiting: Refusal | None = None
    """The release stops for a person (its *events* recorded all the same): the rule that holds it and what it
    waits for (``release-approval``: the release's approval in an environment that needs one)."""

    def after(self, *events: Event) -> ReleaseStep:
        """This step with *events* (decided on the way to it) recorded before its own."""
        return attrs.evolve(self, events=(*events, *self.events))


@attrs.frozen
class Release:
    """A release: its parts in rollout order, and where it stands in each environment it entered."""

    name: str
    parts: tuple[ReleasePart, ...]
    created_by: str
    created_at: datetime
    environments: Mapping[str, ReleaseInEnvironment] = attrs.field(factory=dict)

    # ---- building -------------------------------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        name: str,
        parts: Sequence[ReleasePart],
        dependencies: Mapping[str, Sequence[str]],
        *,
        actor: str,
        at: datetime,
    ) -> ReleaseCreated:
        """The event that names a release of *parts*, ordered by *dependencies* (service -> what it depends on, in
        the platform file's order). Raises :class:`InvariantError` on a bad name, no part, a service named twice, an
        unknown service or a dependency cycle."""
        if (problem := release_name_problem(name)) is not None:
            raise InvariantError(problem, field="release")
        if not parts:
            raise InvariantError("a release names at least one service", field="parts")
        seen: dict[str, str] = {}
        for part in parts:
            if part.service in seen:
                raise InvariantError(f"{part.service} is named twice in the release", field="parts")
            seen[part.service] = part.version
        order = dependency_order(dependencies, seen)
        return ReleaseCreated(
            service=RELEASE_STREAM,
            environment="",
            version=name,
            at=at,
            actor=actor,
            release=name,
            parts=tuple(f"{service}={seen[service]}" for service in order),
        )

    @classmethod
    def of(cls, created: ReleaseCreated) -> Release:
        parts = tuple(ReleasePart(*text.split("=", 1)) for text in created.parts)
        return cls(created.release, parts, created.actor, created.at)

    def apply(self, event: Event) -> Release:  # noqa: PLR0911 - one case per event
        """The release after *event* (one of this release's)."""
        env = event.environment
        here = self.environments.get(env)
        if isinstance(event, ReleaseEntered):
            if here is not None and here.phase is not ReleasePhase.ROLLED_BACK:
                return self  # entered already (a retried record): what it did there stands
            fresh = ReleaseInEnvironment(
                env,
                ReleasePhase.ROLLING_OUT,
                tuple(PartState(part.service, part.version) for part in self.parts),
                event.actor,
                event.at,
            )
            return self._with(fresh)
        if here is None:
            return self
        if isinstance(event, ReleaseApproved):
            group = event.group.split(", ")[0]  # recorded before the release's approval gated it: the groups joined
            approval = Approval(self.name, group, event.actor, event.at)
            approvers = here.approvers if event.actor in here.approvers else (*here.approvers, event.actor)
            return self._with(attrs.evolve(here, approvers=approvers, approvals=(*here.approvals, approval)))
        if isinstance(event, ReleasePartStarted):
            return self._part(
                here,
                event.part,
                status=PartStatus.STARTED,
                previous=event.previous,
                rollout_before=event.rollout_before,
                started_at=event.at,
            )
        if isinstance(event, ReleasePartDone):
            if event.unchanged:
                return self._part(here, event.part, status=PartStatus.UNCHANGED, reason=event.reason)
            done = here if event.part in here.done else attrs.evolve(here, done=(*here.done, event.part))
            return self._part(done, event.part, status=PartStatus.DONE, reason=event.reason)
        if isinstance(event, ReleasePartFailed):
            return self._part(here, event.part, status=PartStatus.FAILED, reason=event.reason)
        if isinstance(event, ReleaseReturning):
            return self._with(attrs.evolve(here, phase=ReleasePhase.RETURNING, failed=here.failed or event.failed))
        if isinstance(event, ReleasePartReturned):
            untouched = event.restored is None and here.part(event.part).previous is not None
            status = PartStatus.LEFT if untouched else PartStatus.RETURNED  # left running (nothing before): returned
            return self._part(here, event.part, status=status, reason=event.reason)
        if isinstance(event, ReleaseSucceeded):
            return self._with(attrs.evolve(here, phase=ReleasePhase.SUCCEEDED, ended_at=event.at))
        if isinstance(event, ReleaseRolledBack):
            return self._with(attrs.evolve(here, phase=ReleasePhase.ROLLED_BACK, ended_at=event.at))
        return self

    def _with(self, state: ReleaseInEnvironment) -> Release:
        return attrs.evolve(self, environments={**self.environments, state.environment: state})

    def _part(self, here: ReleaseInEnvironment, service: str, **changes: object) -> Release:
        parts = tuple(attrs.evolve(p, **changes) if p.service == service else p for p in here.parts)  # type: ignore[arg-type]
        return self._with(attrs.evolve(here, parts=parts))

    # ---- reading --------------------------------------------------------------------------------------------------

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(part.service for part in self.parts)

    def version_of(self, service: str) -> str:
        for part in self.parts:
            if part.service == service:
                return part.version
        raise KeyError(service)

    def _base(self, environment: str, actor: str, at: datetime, reason: str = "") -> dict[str, object]:
        return {
            "service": RELEASE_STREAM,
            "environment": environment,
            "version": self.name,
            "at": at,
            "actor": actor,
            "reason": reason,
            "release": self.name,
        }

    # ---- decisions ------------------------------------------------------------------------------------------------

    def enter(
        self,
        environment: str,
        promotion_order: Sequence[str],
        open_elsewhere: Sequence[str] = (),
        *,
        actor: str,
        at: datetime,
    ) -> ReleaseStep:
        """Set the release out into *environment*: only once it succeeded in the environment before it in
        *promotion_order* (rule ``release-from-previous``), and while no other release is open there
        (*open_elsewhere*: the names of the other releases open in *environment*; rule ``release-one-at-a-time``).
        Entering again an environment it rolled back from starts it afresh there; one it is under way in or
        succeeded in: nothing to record."""
        if environment not in promotion_order:
            return ReleaseStep(
                refusal=Refusal("release-environment", f"unknown environment {environment!r}")
            )  # pragma: no cover - the application checks the name first
        here = self.environments.get(environment)
        if here is not None and here.phase is not ReleasePhase.ROLLED_BACK:
            return ReleaseStep()
        index = list(promotion_order).index(environment)
        if index:
            before = promotion_order[index - 1]
            there = self.environments.get(before)
            if there is None or there.phase is not ReleasePhase.SUCCEEDED:
                stands = there.phase.value if there is not None else "not entered"
                return ReleaseStep(
                    refusal=Refusal(
                        "release-from-previous",
                        f"release {self.name} enters {environment} only after it succeeded in {before} ({stands})",
                    )
                )
        others = [name for name in open_elsewhere if name != self.name]
        if others:
            return ReleaseStep(
                refusal=Refusal(
                    "release-one-at-a-time",
                    f"release {', '.join(others)} is still under way in {environment}: one release at a time",
                )
            )
        return ReleaseStep((ReleaseEntered(**self._base(environment, actor, at)),))  # type: ignore[arg-type]

    def advance(
        self,
        environment: str,
        observed: Mapping[str, PartObservation],
        *,
        actor: str,
        at: datetime,
        policy: EnvironmentPolicy | None = None,
    ) -> ReleaseStep:
        """The next step of the release in *environment* (:meth:`_advance`), gated by the release's approval where
        *policy* (the environment's, in force) needs one: no part starts — nor is its start recorded — until the
        release's own approvals (``release approve``) satisfy it (:func:`release_approval`, rule
        ``release-approval``); the step then waits for a person instead, its other events (a part found unchanged)
        recorded all the same. A part's service is given the release's approvals only as the part starts, so a part
        never started holds none, and no approval of a release counts for another release or a single promotion."""
        step = self._advance(environment, observed, actor=actor, at=at)
        if step.action.kind is not ReleaseActionKind.START or policy is None or not policy.approval_required:
            return step
        count = release_approval(policy, self.name, self.environments[environment], at)
        if not count.missing:
            return step
        service = step.action.service
        kept = tuple(e for e in step.events if not (isinstance(e, ReleasePartStarted) and e.part == service))
        waits = (
            f"an approval of release {self.name} for {environment} from {', '.join(count.missing)} before "
            f"{service} {step.action.version} starts{count.describe_discounted()} "
            f"(findly-infra release approve {self.name} --environment {environment})"
        )
        return ReleaseStep(kept, waiting=Refusal("release-approval", waits))

    def approve(  # noqa: PLR0911 - each refusal names its rule
        self,
        environment: str,
        policy: EnvironmentPolicy,
        *,
        actor: str,
        at: datetime,
        group: str | None = None,
    ) -> ReleaseStep:
        """*actor* approves the release as a whole for *environment*, judged as an approval of one promotion is
        (``DeploymentPipeline.approve``, counted by ``domain.approvals.count_approvals``): the release must be rolling
        out there (rule ``release-open``), the environment need approval (``approval-not-required``), *actor* be a
        member of a group that approves there (``approver-membership``), not the person who entered the release
        (``self-approval``), and their group not counted already (``distinct-approvers``). Approved already (and
        still counted): nothing to record."""
        here = self.environments.get(environment)
        if here is not None and here.phase is not ReleasePhase.ROLLING_OUT and actor in here.approvers:
            return ReleaseStep()  # a retry after the release went on: it stands
        if here is None or here.phase is not ReleasePhase.ROLLING_OUT:
            stands = "not entered" if here is None else here.phase.value
            return ReleaseStep(
                refusal=Refusal(
                    "release-open",
                    f"release {self.name} is {stands} in {environment}: nothing to approve "
                    f"(findly-infra release promote {self.name} --to {environment})",
                )
            )
        if not policy.approval_required or not policy.approvers:
            return ReleaseStep(refusal=Refusal("approval-not-required", f"{environment} requires no approval"))
        if group is not None and group not in policy.approvers:
            return ReleaseStep(
                refusal=Refusal(
                    "approver-membership",
                    f"{environment} takes approvals from {', '.join(policy.approvers)}, not {group}",
                )
            )
        groups = [name for name in policy.approvers if group is None or name == group]
        member_of = [name for name in groups if (held := policy.group(name)) is not None and held.includes(actor, None)]
        if not member_of:
            return ReleaseStep(
                refusal=Refusal(
                    "approver-membership", f"{actor} belongs to none of {', '.join(groups)}, who approve {environment}"
                )
            )
        if same_actor(here.entered_by, None, actor, None):
            return ReleaseStep(
                refusal=Refusal(
                    "self-approval", f"{actor} entered release {self.name} into {environment} and cannot approve it"
                )
            )
        count = release_approval(policy, self.name, here, at)
        if any(same_actor(approval.approver, None, actor, None) for approval in count.valid):
            return ReleaseStep()  # a retry: it stands
        open_groups = [name for name in member_of if name not in {a.group for a in count.counted}]
        if not open_groups:
            return ReleaseStep(
                refusal=Refusal(
                    "distinct-approvers",
                    f"{', '.join(member_of)} already approved release {self.name} for {environment}",
                )
            )
        approved = ReleaseApproved(**self._base(environment, actor, at), group=open_groups[0])  # type: ignore[arg-type]
        return ReleaseStep((approved,))

    def _advance(  # noqa: PLR0911 - one return per phase and case
        self, environment: str, observed: Mapping[str, PartObservation], *, actor: str, at: datetime
    ) -> ReleaseStep:
        """The next step of the release in *environment*, given what each part's service shows there: the events to
        record (first), then the action on a service. Called again after every action until its action is NONE;
        called again with what the services show unchanged (a resume after a crash), it records nothing twice.

        A service busy with a rollout that is not the part's (another version's, someone else's) is never taken for
        the part: the step is a refusal (rule ``one-rollout-at-a-time``), and the release waits where it is — its
        events, decided on the way (a part before it found unchanged), are recorded all the same, as a refused
        promotion's request is."""
        here = self.environments.get(environment)
        if here is None or not here.phase.under_way:
            return ReleaseStep()
        if here.phase is ReleasePhase.RETURNING:
            return self._returning(here, observed, actor, at)
        for part in here.parts:
            if part.status in (PartStatus.DONE, PartStatus.UNCHANGED):
                continue
            seen = observed.get(part.service, PartObservation(part.service))
            if part.status is PartStatus.PENDING:
                return self._pending(here, part, seen, observed, actor, at)
            if part.status is PartStatus.STARTED:
                return self._started(here, part, seen, observed, actor, at)
            # FAILED (RETURNED cannot be while rolling out): the release turns back — recorded once, then returned
            returning = ReleaseReturning(
                **self._base(
                    environment,
                    actor,
                    at,
                    f"{part.service} {part.version} failed: {part.reason or 'its rollout did not succeed'}",
                ),  # type: ignore[arg-type]
                failed=part.service,
            )
            return self.apply(returning).advance(environment, observed, actor=actor, at=at).after(returning)
        if (replaced := self.replaced(environment, observed)) is not None:
            return ReleaseStep(waiting=replaced)
        succeeded = ReleaseSucceeded(**self._base(environment, actor, at))  # type: ignore[arg-type]
        return ReleaseStep((succeeded,))

    def replaced(self, environment: str, observed: Mapping[str, PartObservation]) -> Refusal | None:
        """Why the release, every part through in *environment*, cannot be said to have succeeded there (rule
        ``release-part-replaced``: a part it finished no longer serves its version, replaced by hand since): it
        stops for a person — who rolls the part out again or the release back — rather than end SUCCEEDED while a
        part does not serve its version. ``None``: every part serves its version (or the release is not there)."""
        here = self.environments.get(environment)
        if here is None or here.phase is not ReleasePhase.ROLLING_OUT:
            return None
        for part in here.parts:
            if part.status not in (PartStatus.DONE, PartStatus.UNCHANGED):
                return None
        for part in here.parts:
            seen = observed.get(part.service, PartObservation(part.service))
            if seen.current != part.version:
                return Refusal(
                    "release-part-replaced",
                    f"{part.service} serves {seen.current or 'nothing'} in {environment}, not {part.version} of "
                    f"release {self.name}: replaced since the release rolled it out; roll it out again (findly-infra "
                    f"deploy {part.service} {part.version} --env {environment}) and watch the release again, or roll "
                    f"the release back (findly-infra release rollback {self.name} --environment {environment} "
                    f"--reason ...)",
                )
        return None

    def _next(
        self, environment: str, observed: Mapping[str, PartObservation], actor: str, at: datetime, *events: Event
    ) -> ReleaseStep:
        """The step after *events*, with them recorded first."""
        after = self
        for event in events:
            after = after.apply(event)
        return after.advance(environment, observed, actor=actor, at=at).after(*events)

    def _busy(self, environment: str, part: PartState, seen: PartObservation) -> ReleaseStep:
        return ReleaseStep(
            refusal=Refusal(
                "one-rollout-at-a-time",
                f"{seen.rollout_version} is still rolling out in {environment} ({seen.phase.value}), not "
                f"{part.version} of release {self.name}: the release waits until it ends",
            )
        )

    def _pending(  # noqa: PLR0917 - the part, what its service shows, and the step's context
        self,
        here: ReleaseInEnvironment,
        part: PartState,
        seen: PartObservation,
        observed: Mapping[str, PartObservation],
        actor: str,
        at: datetime,
    ) -> ReleaseStep:
        """The part's first step: nothing to do (its version already serves), the rollout of its version under way
        taken as its own, or its rollout started."""
        environment = here.environment
        adopt = seen.busy and seen.rollout_version == part.version
        if seen.busy and not adopt:
            return self._busy(environment, part, seen)
        if seen.current == part.version and not adopt:
            done = ReleasePartDone(
                **self._base(environment, actor, at, f"{part.service} already serves {part.version}"),  # type: ignore[arg-type]
                part=part.service,
                part_version=part.version,
                unchanged=True,
            )
            return self._next(environment, observed, actor, at, done)
        started = ReleasePartStarted(
            **self._base(environment, actor, at),  # type: ignore[arg-type]
            part=part.service,
            part_version=part.version,
            previous=seen.current,
            rollout_before=None if adopt else seen.rollout_started,
        )
        if adopt:  # its rollout under way: waited for, as the part's
            return self._next(environment, observed, actor, at, started)
        return ReleaseStep(
            (started,), ReleaseAction(ReleaseActionKind.START, part.service, part.version, "start its rollout")
        )

    def _started(  # noqa: PLR0911, PLR0917 - one return per case; the part, what its service shows, and the step's context
        self,
        here: ReleaseInEnvironment,
        part: PartState,
        seen: PartObservation,
        observed: Mapping[str, PartObservation],
        actor: str,
        at: datetime,
    ) -> ReleaseStep:
        """A started part: its rollout's outcome decides — done, failed (the release turns back), under way (wait),
        or not there yet (killed before the deploy: started again). The service shows only its latest rollout: when
        one that is not the part's came after the part's own, the part is done if that one replaced the part's
        version (or the part's version serves), else started again (its own may have failed: it cannot be told)."""
        environment = here.environment
        if part.owns(seen):
            if seen.phase is Phase.SUCCEEDED:
                done = ReleasePartDone(
                    **self._base(environment, actor, at),  # type: ignore[arg-type]
                    part=part.service,
                    part_version=part.version,
                )
                return self._next(environment, observed, actor, at, done)
            if seen.phase in (Phase.ROLLED_BACK, Phase.ABORTED):
                why = seen.reason or f"its rollout was {seen.phase.value.replace('_', ' ')}"
                failed = ReleasePartFailed(
                    **self._base(environment, actor, at, why),  # type: ignore[arg-type]
                    part=part.service,
                    part_version=part.version,
                )
                return self._next(environment, observed, actor, at, failed)
            if seen.busy:
                if seen.current != part.previous:  # what it replaces, as its rollout holds it
                    again = self._started_again(here, part, seen, actor, at, before=part.rollout_before)
                    return self._next(environment, observed, actor, at, again)
                return ReleaseStep(
                    action=ReleaseAction(
                        ReleaseActionKind.WAIT, part.service, part.version, f"its rollout is {seen.phase.value}"
                    )
                )
        if seen.own in (Phase.ROLLED_BACK, Phase.ABORTED):  # its own rollout failed; another came after it
            why = (
                f"{seen.own_reason or 'its rollout was ' + seen.own.value.replace('_', ' ')}; then a rollout of "
                f"{seen.rollout_version} that is not the release's came after it"
            )
            failed = ReleasePartFailed(
                **self._base(environment, actor, at, why),  # type: ignore[arg-type]
                part=part.service,
                part_version=part.version,
            )
            return self._next(environment, observed, actor, at, failed)
        if seen.busy:  # someone else's rollout: not the part's
            return self._busy(environment, part, seen)
        replaced = seen.rollout_previous == part.version and seen.rollout_started != part.rollout_before
        if seen.current == part.version or replaced:
            # its version served (it did not when the part started: its rollout succeeded), though a rollout that
            # is not the part's came after it there; started again, it would undo that one
            why = f"{part.service} served {part.version}, then a rollout of {seen.rollout_version} came after it"
            done = ReleasePartDone(
                **self._base(environment, actor, at, why),  # type: ignore[arg-type]
                part=part.service,
                part_version=part.version,
            )
            return self._next(environment, observed, actor, at, done)
        start = ReleaseAction(ReleaseActionKind.START, part.service, part.version, "start its rollout (again)")
        if seen.current != part.previous or seen.rollout_started != part.rollout_before:
            # the service changed since the part was started: what a rollback returns it to is what serves now
            again = self._started_again(here, part, seen, actor, at, before=seen.rollout_started)
            return ReleaseStep((again,), start)
        return ReleaseStep(action=start)

    def _started_again(
        self,
        here: ReleaseInEnvironment,
        part: PartState,
        seen: PartObservation,
        actor: str,
        at: datetime,
        *,
        before: datetime | None,
    ) -> ReleasePartStarted:
        return ReleasePartStarted(
            **self._base(here.environment, actor, at, "the service changed since the part was started"),  # type: ignore[arg-type]
            part=part.service,
            part_version=part.version,
            previous=seen.current,
            rollout_before=before,
        )

    def roll_back(self, environment: str, *, actor: str, at: datetime, reason: str) -> ReleaseStep:
        """A person returns the release as a whole in *environment* (rule ``release-open``: it must be under way
        or succeeded there)."""
        here = self.environments.get(environment)
        if here is None or here.phase is ReleasePhase.ROLLED_BACK:
            return ReleaseStep(
                refusal=Refusal("release-open", f"release {self.name} has nothing to roll back in {environment}")
            )
        if here.phase is ReleasePhase.RETURNING:
            return ReleaseStep()
        return ReleaseStep((ReleaseReturning(**self._base(environment, actor, at, reason)),))  # type: ignore[arg-type]

    def _returning(
        self, here: ReleaseInEnvironment, observed: Mapping[str, PartObservation], actor: str, at: datetime
    ) -> ReleaseStep:
        environment = here.environment
        for part in here.parts:  # a part under way when the release turned back: its own rollout is rolled back first
            if part.status is PartStatus.STARTED:
                return self._stop(
                    here, part, observed.get(part.service, PartObservation(part.service)), observed, actor, at
                )
        for part in here.to_return:
            return self._return(
                here, part, observed.get(part.service, PartObservation(part.service)), observed, actor, at
            )
        ended = ReleaseRolledBack(**self._base(environment, actor, at, here.failed and f"{here.failed} failed"))  # type: ignore[arg-type]
        return ReleaseStep((ended,))

    def _return(  # noqa: PLR0917 - the part, what its service shows, and the step's context
        self,
        here: ReleaseInEnvironment,
        part: PartState,
        seen: PartObservation,
        observed: Mapping[str, PartObservation],
        actor: str,
        at: datetime,
    ) -> ReleaseStep:
        """A done part, returned: to what served before it (``DeploymentPipeline.return_to``, which undoes the
        rollout that replaced it), or left where returning it would undo what is not the release's."""
        environment = here.environment
        restored: str | None = None
        if part.previous is None:
            why = f"nothing served {part.service} in {environment} before the release: {part.version} is left running"
        elif seen.busy:
            return self._busy(environment, part, seen)
        elif seen.current == part.previous and (seen.rollout_version is None or part.owns(seen)):
            restored, why = part.previous, ""  # its own rollout returned (a return killed before its record)
        elif seen.current == part.previous:
            why = (
                f"{part.service} already serves {part.previous} in {environment} after a rollout of "
                f"{seen.rollout_version} ({seen.phase.value}) that is not the release's: left so, not touched"
            )
        elif seen.rollout_version is not None and not (part.owns(seen) and seen.phase is Phase.SUCCEEDED):
            # its rollout is no longer the latest there: returning would undo someone else's
            why = (
                f"{part.service} serves {seen.current or 'nothing'} in {environment} after a rollout of "
                f"{seen.rollout_version} ({seen.phase.value}) that is not the release's: left so, not returned over it"
            )
        else:
            return ReleaseStep(
                action=ReleaseAction(
                    ReleaseActionKind.RETURN, part.service, part.previous, f"return it to {part.previous}"
                )
            )
        returned = ReleasePartReturned(
            **self._base(environment, actor, at, why),  # type: ignore[arg-type]
            part=part.service,
            part_version=part.version,
            restored=restored,
        )
        return self._next(environment, observed, actor, at, returned)

    def _stop(  # noqa: PLR0917 - the part, what its service shows, and the step's context
        self,
        here: ReleaseInEnvironment,
        part: PartState,
        seen: PartObservation,
        observed: Mapping[str, PartObservation],
        actor: str,
        at: datetime,
    ) -> ReleaseStep:
        """A part started when the release turned back: its rollout under way is rolled back (to what it replaced,
        which serves while it runs), one that succeeded meanwhile is done (and returned as the others), and one
        that never began, or ended otherwise, is over: failed, nothing to return."""
        environment = here.environment
        if part.owns(seen) and seen.busy:
            return ReleaseStep(
                action=ReleaseAction(
                    ReleaseActionKind.RETURN, part.service, seen.current, "roll back its rollout under way"
                )
            )
        if part.owns(seen) and seen.phase is Phase.SUCCEEDED:
            done = ReleasePartDone(
                **self._base(environment, actor, at),  # type: ignore[arg-type]
                part=part.service,
                part_version=part.version,
            )
            return self._next(environment, observed, actor, at, done)
        why = (
            seen.reason or f"its rollout was {seen.phase.value.replace('_', ' ')}"
            if part.owns(seen)
            else "not started: the release is rolled back"
        )
        failed = ReleasePartFailed(
            **self._base(environment, actor, at, why),  # type: ignore[arg-type]
            part=part.service,
            part_version=part.version,
        )
        return self._next(environment, observed, actor, at, failed)


def release_approval(
    policy: EnvironmentPolicy, release: str, here: ReleaseInEnvironment, at: datetime
) -> ApprovalCount:
    """The release's approvals in *here* that count at *at* under *policy* (the environment's, in force): the rules
    of one promotion's approvals (``domain.approvals.count_approvals``: one per group the environment names, each
    by a different member, unexpired, never by the person who asked — here who entered the release), applied to the
    release as one promotion of version *release*, asked for by who entered it. ``missing`` names the groups still
    needed (none where *policy* needs no approval)."""
    asked = PendingRequest(release, here.entered_by, here.entered_at)
    state = EnvironmentState(requested=asked, approvals=here.approvals)
    return count_approvals(policy, state, release, at, service=RELEASE_STREAM)


def releases(events: Iterable[Event]) -> dict[str, Release]:
    """Every release the release stream's *events* name, by name, in the order they were created."""
    found: dict[str, Release] = {}
    for event in events:
        if isinstance(event, ReleaseCreated):
            found[event.release] = Release.of(event)
        elif (name := getattr(event, "release", None)) in found:
            found[name] = found[name].apply(event)
    return found
