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

from findly_infra.domain.errors import InvariantError
from findly_infra.domain.events import Event
from findly_infra.domain.refusal import Refusal
from findly_infra.domain.state import Phase

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
    "dependency_order",
    "dependency_problem",
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


def dependency_problem(dependencies: Mapping[str, Sequence[str]]) -> str | None:
    """Why *dependencies* (service -> the services it depends on, in the file's order) cannot be ordered: a service
    depending on one not named, on itself, or a cycle (named in its order: ``a -> b -> a``). ``None``: they can."""
    for service, needs in dependencies.items():
        for need in needs:
            if need == service:
                return f"{service} depends on itself"
            if need not in dependencies:
                return f"{service} depends on {need}, which is not a service of the platform"
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(service: str, path: list[str]) -> str | None:
        state[service] = 1
        path.append(service)
        for need in dependencies[service]:
            if state.get(need) == 1:
                cycle = [*path[path.index(need) :], need]
                return "dependency cycle: " + " -> ".join(cycle)
            if need not in state and (found := visit(need, path)) is not None:
                return found
        path.pop()
        state[service] = 2
        return None

    for service in dependencies:
        if service not in state and (found := visit(service, [])) is not None:
            return found
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
    """One person approved the whole release for ``environment``: their approval was recorded for every part, each
    judged under the environment's rules (``group`` is the approver group it counted for)."""

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


class ReleasePhase(enum.Enum):
    ROLLING_OUT = "rolling_out"
    RETURNING = "returning"
    SUCCEEDED = "succeeded"
    ROLLED_BACK = "rolled_back"

    @property
    def open(self) -> bool:
        """The release still holds the environment (one release at a time there)."""
        return self in (ReleasePhase.ROLLING_OUT, ReleasePhase.RETURNING)


@attrs.frozen
class PartState:
    service: str
    version: str
    status: PartStatus = PartStatus.PENDING
    previous: str | None = None
    reason: str = ""


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

    def part(self, service: str) -> PartState:
        for part in self.parts:
            if part.service == service:
                return part
        raise KeyError(service)

    @property
    def to_return(self) -> tuple[PartState, ...]:
        """The parts a rollback of the release still returns, in the order it returns them (the reverse of the
        order they were done)."""
        return tuple(part for part in reversed(self.parts) if part.status is PartStatus.DONE)


@attrs.frozen
class PartObservation:
    """What a part's service shows in the environment (its ``EnvironmentState``): the latest rollout's version and
    phase, and what it serves."""

    service: str
    current: str | None = None
    rollout_version: str | None = None
    phase: Phase = Phase.IDLE
    reason: str = ""


class ReleaseActionKind(enum.Enum):
    START = "start"
    """Start the part's rollout (``PipelineService.deploy``): idempotent — a rollout of the version already under way
    says so."""
    WAIT = "wait"
    """The part's rollout is under way (or stopped for a person): drive it, and come back."""
    RETURN = "return"
    """Return the done part to ``version`` (``DeploymentPipeline.return_to``)."""
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
            return self._with(attrs.evolve(here, approvers=(*here.approvers, event.actor)))
        if isinstance(event, ReleasePartStarted):
            return self._part(here, event.part, status=PartStatus.STARTED, previous=event.previous)
        if isinstance(event, ReleasePartDone):
            status = PartStatus.UNCHANGED if event.unchanged else PartStatus.DONE
            return self._part(here, event.part, status=status, reason=event.reason)
        if isinstance(event, ReleasePartFailed):
            return self._part(here, event.part, status=PartStatus.FAILED, reason=event.reason)
        if isinstance(event, ReleaseReturning):
            return self._with(attrs.evolve(here, phase=ReleasePhase.RETURNING, failed=event.failed))
        if isinstance(event, ReleasePartReturned):
            return self._part(here, event.part, status=PartStatus.RETURNED, reason=event.reason)
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
        if open_elsewhere:
            return ReleaseStep(
                refusal=Refusal(
                    "release-one-at-a-time",
                    f"release {', '.join(open_elsewhere)} is still under way in {environment}: one release at a time",
                )
            )
        return ReleaseStep((ReleaseEntered(**self._base(environment, actor, at)),))  # type: ignore[arg-type]

    def advance(  # noqa: PLR0911 - one return per case
        self, environment: str, observed: Mapping[str, PartObservation], *, actor: str, at: datetime
    ) -> ReleaseStep:
        """The next step of the release in *environment*, given what each part's service shows there: the events to
        record (first), then the action on a service. Called again after every action until its action is NONE."""
        here = self.environments.get(environment)
        if here is None or not here.phase.open:
            return ReleaseStep()
        if here.phase is ReleasePhase.RETURNING:
            return self._returning(here, observed, actor, at)
        for part in here.parts:
            if part.status in (PartStatus.DONE, PartStatus.UNCHANGED):
                continue
            seen = observed.get(part.service, PartObservation(part.service))
            if part.status is PartStatus.PENDING:
                if seen.current == part.version and not (seen.phase.active and seen.rollout_version != part.version):
                    done = ReleasePartDone(
                        **self._base(environment, actor, at, f"{part.service} already serves {part.version}"),  # type: ignore[arg-type]
                        part=part.service,
                        part_version=part.version,
                        unchanged=True,
                    )
                    return self.apply(done).advance(environment, observed, actor=actor, at=at).after(done)
                started = ReleasePartStarted(
                    **self._base(environment, actor, at),  # type: ignore[arg-type]
                    part=part.service,
                    part_version=part.version,
                    previous=seen.current,
                )
                return ReleaseStep(
                    (started,), ReleaseAction(ReleaseActionKind.START, part.service, part.version, "start its rollout")
                )
            # STARTED: what its service shows decides
            if seen.rollout_version == part.version and seen.phase is Phase.SUCCEEDED:
                done = ReleasePartDone(
                    **self._base(environment, actor, at),  # type: ignore[arg-type]
                    part=part.service,
                    part_version=part.version,
                )
                return self.apply(done).advance(environment, observed, actor=actor, at=at).after(done)
            if seen.rollout_version == part.version and seen.phase in (Phase.ROLLED_BACK, Phase.ABORTED):
                why = seen.reason or f"its rollout was {seen.phase.value.replace('_', ' ')}"
                failed = ReleasePartFailed(
                    **self._base(environment, actor, at, why),  # type: ignore[arg-type]
                    part=part.service,
                    part_version=part.version,
                )
                returning = ReleaseReturning(
                    **self._base(environment, actor, at, f"{part.service} {part.version} failed: {why}"),  # type: ignore[arg-type]
                    failed=part.service,
                )
                after = self.apply(failed).apply(returning)
                return after.advance(environment, observed, actor=actor, at=at).after(failed, returning)
            if seen.rollout_version == part.version and seen.phase.active:
                return ReleaseStep(
                    action=ReleaseAction(
                        ReleaseActionKind.WAIT, part.service, part.version, f"its rollout is {seen.phase.value}"
                    )
                )
            # started here, but its service shows no rollout of it yet (killed before the deploy): start it again
            return ReleaseStep(
                action=ReleaseAction(ReleaseActionKind.START, part.service, part.version, "start its rollout (again)")
            )
        succeeded = ReleaseSucceeded(**self._base(environment, actor, at))  # type: ignore[arg-type]
        return ReleaseStep((succeeded,))

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

    def _returning(  # noqa: PLR0911 - one return per case
        self, here: ReleaseInEnvironment, observed: Mapping[str, PartObservation], actor: str, at: datetime
    ) -> ReleaseStep:
        environment = here.environment
        started = [part for part in here.parts if part.status is PartStatus.STARTED]
        for part in started:  # a part under way when the release turned back: its own rollout is rolled back first
            seen = observed.get(part.service, PartObservation(part.service))
            if seen.rollout_version == part.version and seen.phase.active:
                return ReleaseStep(
                    action=ReleaseAction(
                        ReleaseActionKind.RETURN, part.service, part.previous, "roll back its rollout under way"
                    )
                )
            if seen.rollout_version == part.version and seen.phase is Phase.SUCCEEDED:
                done = ReleasePartDone(
                    **self._base(environment, actor, at),  # type: ignore[arg-type]
                    part=part.service,
                    part_version=part.version,
                )
                return self.apply(done).advance(environment, observed, actor=actor, at=at).after(done)
            failed = ReleasePartFailed(
                **self._base(environment, actor, at, "stopped: the release is rolled back"),  # type: ignore[arg-type]
                part=part.service,
                part_version=part.version,
            )
            return self.apply(failed).advance(environment, observed, actor=actor, at=at).after(failed)
        for part in here.to_return:
            seen = observed.get(part.service, PartObservation(part.service))
            if part.previous is None:
                left = ReleasePartReturned(
                    **self._base(  # type: ignore[arg-type]
                        environment,
                        actor,
                        at,
                        f"nothing served {part.service} in {environment} before the release: "
                        f"{part.version} is left running",
                    ),
                    part=part.service,
                    part_version=part.version,
                    restored=None,
                )
                return self.apply(left).advance(environment, observed, actor=actor, at=at).after(left)
            if seen.current == part.previous and not seen.phase.active:
                returned = ReleasePartReturned(
                    **self._base(environment, actor, at),  # type: ignore[arg-type]
                    part=part.service,
                    part_version=part.version,
                    restored=part.previous,
                )
                return self.apply(returned).advance(environment, observed, actor=actor, at=at).after(returned)
            return ReleaseStep(
                action=ReleaseAction(
                    ReleaseActionKind.RETURN, part.service, part.previous, f"return it to {part.previous}"
                )
            )
        ended = ReleaseRolledBack(**self._base(environment, actor, at, here.failed and f"{here.failed} failed"))  # type: ignore[arg-type]
        return ReleaseStep((ended,))


def releases(events: Iterable[Event]) -> dict[str, Release]:
    """Every release the release stream's *events* name, by name, in the order they were created."""
    found: dict[str, Release] = {}
    for event in events:
        if isinstance(event, ReleaseCreated):
            found[event.release] = Release.of(event)
        elif (name := getattr(event, "release", None)) in found:
            found[name] = found[name].apply(event)
    return found
