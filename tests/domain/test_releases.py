"""The pure rules of a release of several services (``domain.releases``): the dependency order, and a release driven
to its end by what each part's service shows — through partial failures, a person's rollback and crashes at every
write (a step's events lost, or recorded and its action lost)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import assume, given, note
from hypothesis import event as label
from hypothesis import strategies as st

from findly_infra.domain.environment import ApproverGroup
from findly_infra.domain.errors import InvariantError
from findly_infra.domain.events import Event
from findly_infra.domain.policy import EnvironmentPolicy
from findly_infra.domain.releases import (
    PartObservation,
    PartStatus,
    Release,
    ReleaseActionKind,
    ReleasePart,
    ReleasePartDone,
    ReleasePartFailed,
    ReleasePartReturned,
    ReleasePartStarted,
    ReleasePhase,
    ReleaseReturning,
    ReleaseRolledBack,
    ReleaseStep,
    ReleaseSucceeded,
    dependency_cycle,
    dependency_order,
    dependency_problem,
    release_approval,
)
from findly_infra.domain.state import Phase
from findly_infra.testing.strategies import (
    cyclic_dependency_graphs,
    dependency_graphs,
    release_parts,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ORDER = ("dev", "staging", "production")


def _closure(graph: Mapping[str, Sequence[str]], service: str) -> set[str]:
    found: set[str] = set()
    todo = list(graph[service])
    while todo:
        need = todo.pop()
        if need not in found:
            found.add(need)
            todo.extend(graph[need])
    return found


# ---- the order ----------------------------------------------------------------------------------------------------


@given(st.data())
def test_the_order_puts_every_service_after_all_it_depends_on_even_through_services_left_out(
    data: st.DataObject,
) -> None:
    graph = data.draw(dependency_graphs())
    chosen = data.draw(st.lists(st.sampled_from(list(graph)), min_size=1, unique=True))
    order = dependency_order(graph, chosen)
    assert sorted(order) == sorted(chosen)
    for index, service in enumerate(order):
        assert not (_closure(graph, service) & set(order[index + 1 :])), (service, order)


@given(dependency_graphs(max_services=6), st.data())
def test_ties_keep_the_files_order(graph: dict[str, tuple[str, ...]], data: st.DataObject) -> None:
    """Of every order that respects the dependencies, the one that takes, each time, the first service of the file
    free to go: the smallest by the file's rank, found here by trying every order."""
    chosen = data.draw(st.lists(st.sampled_from(list(graph)), min_size=1, unique=True))
    rank = {service: index for index, service in enumerate(graph)}
    valid = [
        perm
        for perm in itertools.permutations(chosen)
        if all(not (_closure(graph, s) & set(perm[i + 1 :])) for i, s in enumerate(perm))
    ]
    expected = min(valid, key=lambda perm: [rank[s] for s in perm])
    assert dependency_order(graph, chosen) == expected


def test_a_dependency_outside_the_release_still_orders_its_parts() -> None:
    graph = {"fn-notifications": ("fn-matcher",), "fn-posts": (), "fn-matcher": ("fn-posts",)}
    assert dependency_order(graph, ["fn-notifications", "fn-posts"]) == ("fn-posts", "fn-notifications")
    assert dependency_order({"a": (), "b": (), "c": ()}, ["c", "a", "b"]) == ("a", "b", "c")


@given(cyclic_dependency_graphs())
def test_every_cycle_is_found_and_named(graph: dict[str, tuple[str, ...]]) -> None:
    cycle = dependency_cycle(graph)
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    assert len(set(cycle[:-1])) == len(cycle) - 1
    for service, need in itertools.pairwise(cycle):
        assert need in graph[service]
    problem = dependency_problem(graph)
    assert problem is not None
    assert problem.endswith("depends on itself") or " -> ".join(cycle) in problem
    with pytest.raises(InvariantError):
        dependency_order(graph, list(graph))


@given(dependency_graphs())
def test_graphs_without_a_cycle_have_no_problem(graph: dict[str, tuple[str, ...]]) -> None:
    assert dependency_cycle(graph) is None
    assert dependency_problem(graph) is None


def test_a_dependency_on_an_unknown_service_or_itself_is_named() -> None:
    assert dependency_problem({"a": ("b",)}) == "a depends on b, which is not a service of the platform"
    assert dependency_problem({"a": ("a",)}) == "a depends on itself"
    assert dependency_problem({"a": ("b",), "b": ("c",), "c": ("a",)}) == "dependency cycle: a -> b -> c -> a"


def test_create_orders_the_parts_and_refuses_what_cannot_be_a_release() -> None:
    graph = {"fn-posts": (), "fn-notifications": ("fn-matcher",), "fn-matcher": ("fn-posts",)}
    parts = [ReleasePart("fn-notifications", "2.0.0"), ReleasePart("fn-posts", "1.1.0")]
    created = Release.create("r1", parts, graph, actor="ana", at=T0)
    assert created.parts == ("fn-posts=1.1.0", "fn-notifications=2.0.0")
    assert Release.of(created).parts == (ReleasePart("fn-posts", "1.1.0"), ReleasePart("fn-notifications", "2.0.0"))
    for bad_name, bad_parts in (
        ("-r", parts),
        ("r", []),
        ("r", [*parts, ReleasePart("fn-posts", "9")]),
        ("r", [ReleasePart("fn-search", "1")]),
    ):
        with pytest.raises(InvariantError):
            Release.create(bad_name, bad_parts, graph, actor="ana", at=T0)


# ---- a release driven to its end ----------------------------------------------------------------------------------


@attrs.define
class _Rollout:
    version: str
    previous: str | None
    phase: Phase
    started: datetime
    outsider: bool = False
    """Someone else's rollout (not the release's)."""


@attrs.define
class _Service:
    """One service in one environment, as the pipeline keeps it: what serves, and its latest rollout."""

    name: str
    current: str | None
    rollout: _Rollout | None = None

    def observed(self) -> PartObservation:
        if self.rollout is None:
            return PartObservation(self.name, self.current)
        r = self.rollout
        return PartObservation(self.name, self.current, r.version, r.phase, "", r.started, r.previous)


OUTCOMES = ("succeeds", "rolls back", "aborts")


@attrs.define
class _World:
    """The services of one environment, driven as the application drives them (``PipelineService.deploy``, drive a
    rollout under way, ``DeploymentPipeline.return_to``), each part's rollout ending as the script says."""

    services: dict[str, _Service]
    outcomes: dict[str, str]
    clock: datetime = T0
    starts: list[str] = attrs.Factory(list)
    returns: list[tuple[str, str | None]] = attrs.Factory(list)
    outsider_outcomes: dict[str, Phase] = attrs.Factory(dict)
    history: list[tuple[str, str]] = attrs.Factory(list)

    def tick(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    def observed(self) -> dict[str, PartObservation]:
        return {name: service.observed() for name, service in self.services.items()}

    def start(self, name: str, version: str) -> None:
        service = self.services[name]
        assert service.rollout is None or not service.rollout.phase.active, "a start on a busy service is refused"
        self.starts.append(name)
        self.history.append((name, "start"))
        service.rollout = _Rollout(version, service.current, Phase.PROGRESSING, self.tick())

    def drive(self, name: str) -> None:
        service = self.services[name]
        assert service.rollout is not None
        assert service.rollout.phase.active
        outcome = self.outcomes.get(name, "succeeds")
        if outcome == "hangs":
            return
        if outcome == "succeeds":
            service.rollout.phase = Phase.SUCCEEDED
            service.current = service.rollout.version
        else:
            service.rollout.phase = Phase.ROLLED_BACK if outcome == "rolls back" else Phase.ABORTED

    def outsider(self, name: str, succeeds: bool) -> None:
        """Someone else starts a rollout of another version on *name* (ended by :meth:`end_outsiders`)."""
        service = self.services[name]
        version = f"9.9.{len(self.starts) + int(self.clock.timestamp()) % 1000}-x"
        outcome = Phase.SUCCEEDED if succeeds else Phase.ROLLED_BACK
        service.rollout = _Rollout(version, service.current, Phase.PROGRESSING, self.tick(), outsider=True)
        self.history.append((name, "outsider"))
        self.outsider_outcomes[name] = outcome

    def end_outsiders(self) -> None:
        for name, outcome in self.outsider_outcomes.items():
            rollout = self.services[name].rollout
            if rollout is not None and rollout.outsider and rollout.phase.active:
                rollout.phase = outcome
                if outcome is Phase.SUCCEEDED:
                    self.services[name].current = rollout.version
        self.outsider_outcomes.clear()

    def return_to(self, name: str, version: str | None) -> None:
        """``DeploymentPipeline.return_to`` (a rollout under way rolled back; one that succeeded and replaced
        *version* undone); anything else is refused there — which a release must never ask."""
        service = self.services[name]
        rollout = service.rollout
        self.returns.append((name, version))
        assert rollout is not None
        if rollout.phase.active:
            assert not rollout.outsider, "a release returns only its own rollout under way"
            assert rollout.previous == version
            rollout.phase = Phase.ROLLED_BACK
            return
        if service.current == version:
            return
        assert rollout.phase is Phase.SUCCEEDED
        assert not rollout.outsider, "a release never undoes someone else's rollout"
        assert rollout.previous == version
        assert version is not None
        rollout.phase = Phase.ROLLED_BACK
        service.current = version


@attrs.define
class _Run:
    release: Release
    log: list[Event] = attrs.Factory(list)
    actions: list[tuple[ReleaseActionKind, str]] = attrs.Factory(list)


def _record(run: _Run, step: ReleaseStep) -> None:
    for event in step.events:
        run.log.append(event)
        run.release = run.release.apply(event)


def _act(world: _World, step: ReleaseStep) -> None:
    action = step.action
    if action.kind is ReleaseActionKind.START:
        assert action.version is not None
        world.start(action.service, action.version)
    elif action.kind is ReleaseActionKind.WAIT:
        world.drive(action.service)
    elif action.kind is ReleaseActionKind.RETURN:
        world.return_to(action.service, action.version)


def _drive(
    run: _Run,
    world: _World,
    crashes: st.DataObject,
    *,
    roll_back_after: int | None = None,
    outsiders: bool = False,
) -> None:
    """Advance until the release ends; at every step a crash may lose the step's events, or its action (then the
    release is advanced again with what the services show, unchanged). With *outsiders*, someone else may start a
    rollout of another version on an idle service at any step: the release waits for it (refused: one rollout at a
    time), and it then ends as the script draws."""
    for count in itertools.count():
        assert count < 300, "the release must end"
        if roll_back_after is not None and count == roll_back_after:
            _record(run, run.release.roll_back("dev", actor="ana", at=world.tick(), reason="a person said so"))
        here = run.release.environments["dev"]
        if not here.phase.under_way:
            return
        if outsiders and count < 40 and crashes.draw(st.integers(0, 3)) == 0:
            idle = [n for n, s in world.services.items() if s.rollout is None or not s.rollout.phase.active]
            if idle:
                world.outsider(crashes.draw(st.sampled_from(idle)), crashes.draw(st.booleans()))
        observed = world.observed()
        step = run.release.advance("dev", observed, actor="ana", at=world.tick())
        if step.refusal is not None:
            assert outsiders, step.refusal
            assert step.refusal.rule == "one-rollout-at-a-time"
            _record(run, step)  # what was decided on the way (a part found unchanged) is recorded, as a pipeline's
            label("waited for someone else's rollout")
            world.end_outsiders()
            continue
        if step.waiting is not None:  # every part through, one replaced since: it stops for a person
            assert step.waiting.rule == "release-part-replaced", step.waiting
            _record(run, step)
            return
        crash = crashes.draw(st.sampled_from(["none", "none", "before the events", "before the action"]))
        label(f"crash {crash}")
        if crash == "before the events":
            continue
        _record(run, step)
        if step.action.kind is not ReleaseActionKind.NONE:
            run.actions.append((step.action.kind, step.action.service))
        # advancing again with what the services show, unchanged (a resume): nothing recorded twice
        again = run.release.advance("dev", observed, actor="ana", at=world.tick())
        assert again.events == (), (step, again)
        same = (again.action.kind, again.action.service, again.action.version)
        assert same == (step.action.kind, step.action.service, step.action.version) or not here_open(run)
        assert not [e for e in step.events if _twice(run.log[: -len(step.events)], e)], step
        if crash == "before the action":
            continue
        _act(world, step)


def here_open(run: _Run) -> bool:
    return run.release.environments["dev"].phase.under_way


_ONCE = (ReleasePartStarted, ReleasePartDone, ReleasePartFailed, ReleasePartReturned)


def _twice(log: Sequence[Event], event: Event) -> bool:
    """*event* says again what *log* says already (a part started again says what changed: its previous)."""
    if isinstance(event, ReleasePartStarted):
        return any(
            isinstance(e, ReleasePartStarted) and (e.part, e.previous, e.rollout_before) == key
            for e in log
            for key in [(event.part, event.previous, event.rollout_before)]
        )
    if isinstance(event, _ONCE):
        return any(type(e) is type(event) and e.part == event.part for e in log)  # type: ignore[attr-defined]
    return any(type(e) is type(event) for e in log)


@st.composite
def _scenarios(draw: st.DrawFn) -> tuple[Release, _World, dict[str, tuple[str, ...]]]:
    graph = draw(dependency_graphs(max_services=6))
    parts = draw(release_parts(list(graph)))
    created = Release.create("r1", parts, graph, actor="ana", at=T0)
    release = Release.of(created)
    services: dict[str, _Service] = {}
    outcomes: dict[str, str] = {}
    for part in release.parts:
        before = draw(st.sampled_from(["serves an older version", "serves it already", "serves nothing", "stale"]))
        if before == "serves it already":
            services[part.service] = _Service(part.service, part.version)
        elif before == "serves nothing":
            services[part.service] = _Service(part.service, None)
        else:
            older = draw(st.sampled_from(["0.9.0-a", "0.9.0-b"]))  # never a release's version (no "-" in those)
            stale = _Rollout(part.version, older, Phase.ROLLED_BACK, T0 - timedelta(days=1))
            services[part.service] = _Service(part.service, older, stale if before == "stale" else None)
        outcomes[part.service] = draw(st.sampled_from(OUTCOMES))
    entered = release.enter("dev", ORDER, actor="ana", at=T0)
    for event in entered.events:
        release = release.apply(event)
    return release, _World(services, outcomes), graph


@given(_scenarios(), st.data())
def test_a_release_succeeds_iff_every_part_does_else_returns_exactly_its_done_parts_in_reverse(
    scenario: tuple[Release, _World, dict[str, tuple[str, ...]]], crashes: st.DataObject
) -> None:
    release, world, graph = scenario
    before = {name: service.current for name, service in world.services.items()}
    run = _Run(release)
    _drive(run, world, crashes)
    here = run.release.environments["dev"]
    note(f"log: {[(e.type, getattr(e, 'part', '')) for e in run.log]}")
    label(f"{here.phase.value}, {len(run.release.parts)} parts")
    changed = [p for p in run.release.parts if before[p.service] != p.version]
    first_failure = next((p for p in changed if world.outcomes[p.service] != "succeeds"), None)

    # START actions come in dependency order: the release's own order, each part started once (a crash before the
    # action repeats it, never another part's)
    started = list(dict.fromkeys(world.starts))
    assert started == [p.service for p in changed][: len(started)]
    for index, service in enumerate(started):
        assert not (_closure(graph, service) & set(started[index + 1 :]))
    assert world.starts == started  # the world refuses nothing, and no part's rollout ran twice

    done = [e.part for e in run.log if isinstance(e, ReleasePartDone) and not e.unchanged]
    returned = [e.part for e in run.log if isinstance(e, ReleasePartReturned)]
    if first_failure is None:
        assert here.phase is ReleasePhase.SUCCEEDED
        assert [type(e) for e in run.log if isinstance(e, (ReleaseSucceeded, ReleaseRolledBack))] == [ReleaseSucceeded]
        assert not returned
        assert all(world.services[p.service].current == p.version for p in run.release.parts)
        return
    assert here.phase is ReleasePhase.ROLLED_BACK
    assert here.failed == first_failure.service
    assert started[-1] == first_failure.service
    assert returned == list(reversed(done))  # exactly the done parts, in the reverse of their order, each once
    assert [p.service for p in here.to_return] == []
    for part in run.release.parts:  # every service serves what it served before the release (or kept the new one
        # when nothing served before)
        now = world.services[part.service].current
        assert now == before[part.service] or (before[part.service] is None and part.service in done)
    assert next(e for e in run.log if isinstance(e, ReleaseReturning)).failed == first_failure.service
    unchanged = {e.part for e in run.log if isinstance(e, ReleasePartDone) and e.unchanged}
    assert not unchanged & set(returned)
    assert not unchanged & {service for kind, service in run.actions if kind is ReleaseActionKind.RETURN}


@given(_scenarios(), st.data(), st.integers(0, 12))
def test_a_person_rolling_back_returns_the_done_parts_and_stops_the_one_under_way(
    scenario: tuple[Release, _World, dict[str, tuple[str, ...]]], crashes: st.DataObject, after: int
) -> None:
    release, world, _ = scenario
    world.outcomes = dict.fromkeys(world.outcomes, "hangs") | {
        p.service: "succeeds" for p in release.parts[: len(release.parts) // 2]
    }
    before = {name: service.current for name, service in world.services.items()}
    run = _Run(release)
    _drive(run, world, crashes, roll_back_after=after)
    here = run.release.environments["dev"]
    assume(here.phase is ReleasePhase.ROLLED_BACK)
    label(f"rolled back with {[p.status.value for p in here.parts]}")
    done = [e.part for e in run.log if isinstance(e, ReleasePartDone) and not e.unchanged]
    returned = [e.part for e in run.log if isinstance(e, ReleasePartReturned)]
    assert returned == list(reversed(done))
    for name, service in world.services.items():
        assert service.rollout is None or not service.rollout.phase.active  # nothing left under way
        assert service.current == before[name] or (before[name] is None and name in done)


def _entered(release: Release, environment: str, at: datetime = T0) -> Release:
    step = release.enter(environment, ORDER, actor="ana", at=at)
    assert step.refusal is None
    for event in step.events:
        release = release.apply(event)
    return release


def _run_to_end(release: Release, environment: str, outcomes: Mapping[str, str]) -> Release:
    world = _World({p.service: _Service(p.service, "0.0.1") for p in release.parts}, dict(outcomes))
    run = _Run(release)
    for _ in range(100):
        step = run.release.advance(environment, world.observed(), actor="ana", at=world.tick())
        _record(run, step)
        if not run.release.environments[environment].phase.under_way:
            return run.release
        _act(world, step)
    raise AssertionError("the release must end")


def _release(*services: str) -> Release:
    parts = [ReleasePart(service, "1.0.0") for service in services]
    return Release.of(Release.create("r1", parts, dict.fromkeys(services, ()), actor="ana", at=T0))


@given(st.sampled_from(ORDER[1:]))
def test_enter_refuses_without_success_in_the_previous_environment(environment: str) -> None:
    release = _release("fn-posts", "fn-matcher")
    step = release.enter(environment, ORDER, actor="ana", at=T0)
    assert step.refusal is not None
    assert step.refusal.rule == "release-from-previous"
    assert not step.events
    previous = ORDER[ORDER.index(environment) - 1]
    release = _entered(release, "dev") if previous != "dev" else release
    if previous != "dev":
        release = _run_to_end(release, "dev", {})
    release = _run_to_end(_entered(release, previous), previous, {"fn-matcher": "rolls back"})
    refused = release.enter(environment, ORDER, actor="ana", at=T0).refusal
    assert refused is not None
    assert refused.rule == "release-from-previous"
    assert "rolled_back" in refused.message


def test_enter_refuses_while_another_release_is_open_and_a_rolled_back_environment_starts_afresh() -> None:
    release = _release("fn-posts", "fn-matcher")
    refused = release.enter("dev", ORDER, ["r2"], actor="ana", at=T0).refusal
    assert refused is not None
    assert refused.rule == "release-one-at-a-time"
    assert "r2" in refused.message
    assert release.enter("dev", ORDER, ["r1"], actor="ana", at=T0).refusal is None  # itself is no other release
    release = _run_to_end(_entered(release, "dev"), "dev", {"fn-matcher": "rolls back"})
    assert release.environments["dev"].phase is ReleasePhase.ROLLED_BACK
    again = _entered(release, "dev", T0 + timedelta(hours=1)).environments["dev"]
    assert again.phase is ReleasePhase.ROLLING_OUT
    assert {part.status for part in again.parts} == {PartStatus.PENDING}
    assert again.done == ()
    assert _release("a").enter("dev", ORDER, actor="ana", at=T0).events  # dev: the first, entered from nothing
    open_release = _entered(_release("a"), "dev")
    assert open_release.enter("dev", ORDER, actor="ana", at=T0) == ReleaseStep()  # under way: nothing to record


# ---- the defects the review found, one example each ---------------------------------------------------------------


def _started(release: Release, step: ReleaseStep) -> Release:
    for event in step.events:
        release = release.apply(event)
    return release


def test_a_rollout_of_another_version_under_way_is_not_taken_for_the_parts() -> None:
    """Someone else's rollout holds the service: the part neither starts (refused there anyway) nor records what
    that rollout replaces as its own previous; the release waits (rule one-rollout-at-a-time)."""
    release = _entered(_release("fn-posts"), "dev")
    busy = PartObservation("fn-posts", "1.0.0", "3.0.0", Phase.PROGRESSING, rollout_started=T0)
    step = release.advance("dev", {"fn-posts": busy}, actor="ana", at=T0)
    assert step.refusal is not None
    assert step.refusal.rule == "one-rollout-at-a-time"
    assert not step.events
    # started before it came: still not the part's, nor started over it
    started = _started(
        release, release.advance("dev", {"fn-posts": PartObservation("fn-posts", "0.9.0")}, actor="ana", at=T0)
    )
    step = started.advance("dev", {"fn-posts": busy}, actor="ana", at=T0)
    assert step.refusal is not None
    assert step.action.kind is ReleaseActionKind.NONE


def test_an_earlier_rollout_of_the_same_version_rolled_back_is_not_the_parts_failure() -> None:
    """A part started (recorded), then killed before its deploy: the service still shows last week's rollback of
    the same version — that is no failure of this release; the part is started again."""
    release = _entered(_release("fn-posts"), "dev")
    stale = PartObservation("fn-posts", "0.9.0", "1.0.0", Phase.ROLLED_BACK, rollout_started=T0 - timedelta(days=7))
    first = release.advance("dev", {"fn-posts": stale}, actor="ana", at=T0)
    assert first.action.kind is ReleaseActionKind.START
    resumed = _started(release, first).advance("dev", {"fn-posts": stale}, actor="ana", at=T0)
    assert resumed.action.kind is ReleaseActionKind.START
    assert resumed.events == ()


def test_a_part_started_again_records_what_serves_now_as_its_previous() -> None:
    release = _entered(_release("fn-posts"), "dev")
    started = _started(
        release, release.advance("dev", {"fn-posts": PartObservation("fn-posts", "0.9.0")}, actor="ana", at=T0)
    )
    # before its deploy, someone else's 0.9.5 rolled out there: a rollback of the release returns to 0.9.5
    moved = PartObservation("fn-posts", "0.9.5", "0.9.5", Phase.SUCCEEDED, rollout_started=T0 + timedelta(seconds=1))
    step = started.advance("dev", {"fn-posts": moved}, actor="ana", at=T0)
    assert step.action.kind is ReleaseActionKind.START
    assert [e.previous for e in step.events if isinstance(e, ReleasePartStarted)] == ["0.9.5"]
    assert _started(started, step).environments["dev"].part("fn-posts").previous == "0.9.5"


def test_a_part_under_way_when_the_release_turns_back_is_rolled_back_to_what_its_rollout_replaced() -> None:
    release = _entered(_release("fn-posts"), "dev")
    started = _started(
        release, release.advance("dev", {"fn-posts": PartObservation("fn-posts", "0.9.0")}, actor="ana", at=T0)
    )
    # its rollout replaced 0.9.5 (someone else's, done before its deploy), not the 0.9.0 recorded when it started
    under_way = PartObservation("fn-posts", "0.9.5", "1.0.0", Phase.PAUSED, rollout_started=T0 + timedelta(seconds=5))
    turned = _started(started, started.roll_back("dev", actor="ana", at=T0, reason="stop"))
    step = turned.advance("dev", {"fn-posts": under_way}, actor="ana", at=T0)
    assert step.action.kind is ReleaseActionKind.RETURN
    assert (step.action.service, step.action.version) == ("fn-posts", "0.9.5")
    # nothing served before it: its rollout is rolled back (RETURN to None)
    first = _entered(_release("fn-posts"), "dev")
    first = _started(first, first.advance("dev", {"fn-posts": PartObservation("fn-posts")}, actor="ana", at=T0))
    first = _started(first, first.roll_back("dev", actor="ana", at=T0, reason="stop"))
    alone = PartObservation("fn-posts", None, "1.0.0", Phase.PROGRESSING, rollout_started=T0 + timedelta(seconds=1))
    assert first.advance("dev", {"fn-posts": alone}, actor="ana", at=T0).action.version is None


def test_a_failure_recorded_without_the_turn_back_turns_back_once() -> None:
    release = _entered(_release("fn-posts"), "dev")
    failed = ReleasePartFailed(
        service="_releases",
        environment="dev",
        version="r1",
        at=T0,
        actor="ana",
        release="r1",
        part="fn-posts",
        part_version="1.0.0",
    )
    step = release.apply(failed).advance("dev", {}, actor="ana", at=T0)
    assert [type(e) for e in step.events] == [ReleaseReturning, ReleaseRolledBack]
    assert not [e for e in step.events if isinstance(e, ReleasePartFailed)]


def test_the_done_parts_are_returned_in_the_reverse_of_the_order_they_were_done() -> None:
    release = _entered(_release("a", "b", "c"), "dev")
    events: list[Event] = []
    base = {"service": "_releases", "environment": "dev", "version": "r1", "at": T0, "actor": "ana", "release": "r1"}
    for part in ("c", "a"):  # done in this order (as a resume, or a history, may have them)
        events.append(ReleasePartStarted(**base, part=part, part_version="1.0.0", previous="0.9.0"))  # type: ignore[arg-type]
        events.append(ReleasePartDone(**base, part=part, part_version="1.0.0"))  # type: ignore[arg-type]
    for event in events:
        release = release.apply(event)
    assert [p.service for p in release.environments["dev"].to_return] == ["a", "c"]


def test_part_observation_of_an_environment_state() -> None:
    from findly_infra.domain.environment import StrategyKind
    from findly_infra.domain.state import EnvironmentState, Rollout

    assert PartObservation.of("a", EnvironmentState()) == PartObservation("a")
    rollout = Rollout("2.0.0", "1.0.0", StrategyKind.ROLLING, Phase.PAUSED, T0, reason="why")
    seen = PartObservation.of("a", EnvironmentState(current="1.0.0", rollout=rollout))
    assert seen == PartObservation("a", "1.0.0", "2.0.0", Phase.PAUSED, "why", T0, "1.0.0")
    assert seen.busy


def _event(kind: type[Event], **fields: object) -> Event:
    base = {"service": "_releases", "environment": "dev", "version": "r1", "at": T0, "actor": "ana", "release": "r1"}
    return kind(**{**base, **fields})


def test_an_entered_record_retried_while_the_release_is_open_resets_nothing() -> None:
    from findly_infra.domain.releases import ReleaseApproved, ReleaseEntered

    release = _entered(_release("a", "b"), "dev")
    release = release.apply(_event(ReleasePartStarted, part="a", part_version="1.0.0", previous="0.9.0"))
    release = release.apply(_event(ReleasePartDone, part="a", part_version="1.0.0"))
    release = release.apply(_event(ReleaseApproved, actor="bob")).apply(_event(ReleaseApproved, actor="bob"))
    again = release.apply(_event(ReleaseEntered))
    assert again == release
    assert again.environments["dev"].part("a").status is PartStatus.DONE
    assert again.environments["dev"].approvers == ("bob",)


def test_a_done_part_replaced_since_by_a_rollout_not_the_releases_is_left_not_returned_over_it() -> None:
    """``DeploymentPipeline.return_to`` undoes only the latest rollout when it replaced what the part returns to:
    a done part whose service has rolled out someone else's version since is left (and says so), not returned."""
    release = _entered(_release("a"), "dev")
    release = release.apply(
        _event(ReleasePartStarted, part="a", part_version="1.0.0", previous="0.9.0", rollout_before=None)
    )
    release = release.apply(_event(ReleasePartDone, part="a", part_version="1.0.0"))
    turned = release.apply(_event(ReleaseReturning))
    ours = PartObservation("a", "1.0.0", "1.0.0", Phase.SUCCEEDED, rollout_started=T0)
    assert turned.advance("dev", {"a": ours}, actor="ana", at=T0).action.kind is ReleaseActionKind.RETURN
    theirs = PartObservation("a", "1.1.0", "1.1.0", Phase.SUCCEEDED, rollout_started=T0 + timedelta(hours=1))
    step = turned.advance("dev", {"a": theirs}, actor="ana", at=T0)
    assert step.action.kind is ReleaseActionKind.NONE
    returned = [e for e in step.events if isinstance(e, ReleasePartReturned)]
    assert [(e.part, e.restored) for e in returned] == [("a", None)]
    assert "not the release's" in returned[0].reason
    assert isinstance(step.events[-1], ReleaseRolledBack)


@given(_scenarios(), st.data())
def test_someone_elses_rollouts_are_waited_for_never_taken_for_a_parts_nor_undone(
    scenario: tuple[Release, _World, dict[str, tuple[str, ...]]], crashes: st.DataObject
) -> None:
    """Others deploy other versions of the same services while the release runs: the release never starts on a
    busy service, never takes their rollout for a part's (nor its failure for the part's), never returns over it;
    it ends, and returns exactly its done parts, in reverse, each once."""
    release, world, _ = scenario
    run = _Run(release)
    _drive(run, world, crashes, outsiders=True)
    here = run.release.environments["dev"]
    label(here.phase.value)
    done = [e.part for e in run.log if isinstance(e, ReleasePartDone) and not e.unchanged]
    returned = [e.part for e in run.log if isinstance(e, ReleasePartReturned)]
    for service in world.services:  # a part's rollout runs again only when someone else's hid how it ended
        history = [kind for name, kind in world.history if name == service]
        assert "start, start" not in ", ".join(history), history
    if here.phase is ReleasePhase.ROLLING_OUT:  # stopped: a part it finished no longer serves its version
        label("stopped: a part replaced since")
        assert not returned
        assert any(world.services[p.service].current != p.version for p in here.parts)
    elif here.phase is ReleasePhase.SUCCEEDED:
        assert not returned
        assert all(world.outcomes[s] == "succeeds" for s in world.starts)
        assert all(world.services[p.service].current == p.version for p in here.parts)  # each serves its version
    else:
        assert here.phase is ReleasePhase.ROLLED_BACK
        assert returned == list(reversed(done))
        assert world.outcomes[here.failed] != "succeeds"  # the part's own rollout failed, not someone else's


def test_a_part_whose_version_someone_else_replaced_since_is_done_not_rolled_out_over_them() -> None:
    """The part's rollout succeeded, then someone else's hotfix replaced its version before the release looked
    again (a resume): the service shows only the hotfix's rollout — which replaced the part's version, so the part's
    succeeded; started again, the release would undo the hotfix."""
    release = _entered(_release("a"), "dev")
    release = _started(release, release.advance("dev", {"a": PartObservation("a", "0.9.0")}, actor="ana", at=T0))
    hotfix = PartObservation("a", "1.0.1", "1.0.1", Phase.SUCCEEDED, "", T0 + timedelta(hours=1), "1.0.0")
    step = release.advance("dev", {"a": hotfix}, actor="ana", at=T0)
    assert step.action.kind is ReleaseActionKind.NONE
    # done, and not rolled out again; but the release does not say it succeeded while the hotfix serves (finding 7)
    assert [type(e) for e in step.events] == [ReleasePartDone]
    assert step.waiting is not None
    assert step.waiting.rule == "release-part-replaced"
    assert "a serves 1.0.1 in dev, not 1.0.0" in step.waiting.message
    served = release.apply(step.events[0]).advance("dev", {"a": PartObservation("a", "1.0.0")}, actor="ana", at=T0)
    assert [type(e) for e in served.events] == [ReleaseSucceeded]


# ---- the release's approval gates it ------------------------------------------------------------------------------

_GROUPS = (
    ApproverGroup("devops-team", ("alice", "bob", "ana")),
    ApproverGroup("security-team", ("carol", "bob")),
)
_GATED = EnvironmentPolicy("dev", approval_required=True, groups=_GROUPS)


@given(
    st.lists(
        st.tuples(st.sampled_from(("alice", "bob", "carol", "ana", "mallory")), st.sampled_from((None, *_GROUPS))),
        max_size=5,
    ),
    st.integers(0, 48),
)
def test_no_part_starts_until_the_releases_own_approvals_satisfy_the_environment(
    attempts: list[tuple[str, ApproverGroup | None]], hours: int
) -> None:
    """Rule ``release-approval``: each group the environment names approved by a different member, unexpired, never
    by who entered the release (ana); until then the step waits (its start not recorded), and ``Release.approve``
    refuses — naming its rule, recording nothing — what would not count."""
    release = _entered(_release("fn-posts", "fn-matcher"), "dev")
    approvers: set[str] = set()
    for person, group in attempts:
        step = release.approve("dev", _GATED, actor=person, at=T0, group=group.name if group else None)
        if step.refusal is not None:
            label(step.refusal.rule)
            assert not step.events
            assert step.refusal.rule in ("approver-membership", "self-approval", "distinct-approvers")
            assert person == "ana" or step.refusal.rule != "self-approval"
            continue
        for event in step.events:
            release = release.apply(event)
            approvers.add(event.actor)
    assert "ana" not in approvers
    assert "mallory" not in approvers
    at = T0 + timedelta(hours=hours)
    count = release_approval(_GATED, "r1", release.environments["dev"], at)
    world = {p.service: PartObservation(p.service, "0.0.1") for p in release.parts}
    step = release.advance("dev", world, actor="bob", at=at, policy=_GATED)
    if count.missing:
        label("waits")
        assert step.waiting is not None
        assert step.waiting.rule == "release-approval"
        assert step.action.kind is ReleaseActionKind.NONE
        assert not [e for e in step.events if isinstance(e, ReleasePartStarted)]
    else:
        label("starts")
        assert hours < 24  # an approval lasts 24 hours
        assert len({a.approver for a in count.counted}) == len(_GROUPS)
        assert step.action.kind is ReleaseActionKind.START
    ungated = release.advance("dev", world, actor="bob", at=at)
    assert ungated.action.kind is ReleaseActionKind.START  # the gate is the policy's, nothing else
