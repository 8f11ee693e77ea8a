"""The release kill matrix: every release command, killed at every write point — each append to the release stream
and to a part's service stream, before and after, and each route of the cluster — then run again by a new process
(a new ``ReleaseService`` on the same store and cluster), as a CI retry does. Whatever the point, the retry ends where
the uninterrupted command ended: the same release events, each part started once and returned once, each service's
state and the cluster's routes the same (``tests/test_kill_matrix.py`` does the same for the single-service commands).

The failing release is the issue's: its last part's analysis fails, and the two parts done are returned in reverse
order, in staging (a rolling update is a few writes) and in production (approval-gated, canary: many writes, so
killed at a sample of them, :data:`SAMPLED`). Beside the same command run again, the workflow's NEXT command is run
instead (:data:`NEXT`: promote then approve then watch), as a person or a pipeline goes on after a crash."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from findly_infra import load_platform
from findly_infra.application.ports import Fence
from findly_infra.application.releases import ReleaseProgress, ReleaseService, parse_parts
from findly_infra.application.service import PipelineService, PolicyRefusedError
from findly_infra.domain import EnvironmentView, Holding, expected_holding
from findly_infra.domain.events import Event, RolledBack, RolloutStarted
from findly_infra.domain.releases import RELEASE_STREAM, ReleasePartReturned, ReleasePartStarted
from findly_infra.testing import MemoryEventStore, SimulatedCluster, VirtualClock
from tests.releases.platform import SERVICES, release_platform_text
from tests.releases.test_release_flow import PartMetrics
from tests.reliability import tally

T0 = datetime(2026, 1, 5, 9)


class Killed(BaseException):
    """The process died here (a BaseException: nothing may catch a SIGKILL and go on)."""


@attrs.define
class WritePoints:
    dies_at: int | None = None
    passed: list[str] = attrs.field(factory=list)

    def reach(self, point: str) -> None:
        self.passed.append(point)
        if len(self.passed) == self.dies_at:
            tally("kills")
            raise Killed(point)


@attrs.define
class DyingStore:
    inner: MemoryEventStore
    points: WritePoints

    def load(self, service: str, since: int = 0) -> tuple[list[Event], int]:
        return self.inner.load(service, since)

    def append(self, service: str, expected: int, events: Sequence[Event], *, fence: Fence | None = None) -> int:
        where = "release stream" if service == RELEASE_STREAM else "service stream"
        self.points.reach(f"before append ({where})")
        version = self.inner.append(service, expected, events, fence=fence)
        self.points.reach(f"after append ({where})")
        return version


@attrs.define
class DyingCluster:
    inner: SimulatedCluster
    points: WritePoints

    def holding(self, service: str, environment: str) -> Holding:
        return self.inner.holding(service, environment)

    def converge(self, view: EnvironmentView, at: datetime) -> bool:
        if self.inner.holding(view.service, view.environment) != expected_holding(view):
            self.points.reach("before route")
        return self.inner.converge(view, at)


_PLATFORM: list[Any] = []


def _platform() -> Any:
    if not _PLATFORM:
        import tempfile

        folder = Path(tempfile.mkdtemp())
        (folder / "findly.yaml").write_text(release_platform_text(), encoding="utf-8")
        _PLATFORM.append(load_platform(folder / "findly.yaml"))
    return _PLATFORM[0]


@attrs.define
class World:
    """What survives a process: the store, the cluster, the clock, the scripted metrics."""

    store: MemoryEventStore = attrs.field(factory=MemoryEventStore)
    cluster: SimulatedCluster = attrs.field(factory=SimulatedCluster)
    clock: VirtualClock = attrs.field(factory=lambda: VirtualClock(T0))
    metrics: PartMetrics = attrs.field(factory=PartMetrics)

    def process(self, points: WritePoints | None = None) -> ReleaseService:
        store: Any = self.store if points is None else DyingStore(self.store, points)
        cluster: Any = self.cluster if points is None else DyingCluster(self.cluster, points)
        pipelines = PipelineService(_platform(), store, self.clock, self.metrics, cluster, backoff=lambda _: None)
        return ReleaseService(pipelines)


Step = Callable[[ReleaseService, World], object]


def _create(name: str, version: str) -> Step:
    return lambda rel, _: rel.create(name, parse_parts([f"{s}={version}" for s in SERVICES]), actor="erin")


def _promote(name: str, env: str) -> Step:
    return lambda rel, _: rel.promote(name, env, actor="erin")


def _watch(name: str, env: str) -> Step:
    return lambda rel, world: rel.watch(name, env, actor="erin", wait=world.clock.advance)


def _tests(name: str, env: str) -> Step:
    def record(rel: ReleaseService, _: World) -> None:
        for part in rel.release(name).parts:
            for suite in rel.pipelines.platform.environment(env).tests:
                rel.pipelines.record_test(part.service, part.version, env, suite, True, actor="ci")

    return record


def _failing(service: str, env: str, version: str) -> Step:
    return lambda _, world: world.metrics.failing.add((service, env, version))


def _through(name: str, version: str, *envs: str) -> list[Step]:
    steps = [_create(name, version)]
    for env in envs:
        steps += [_promote(name, env), _watch(name, env), _tests(name, env)]
    return steps


FIRST_IN_STAGING = _through("r1", "1.0.0", "development", "staging")
SECOND_ENTERED = [*FIRST_IN_STAGING, *_through("r2", "2.0.0", "development"), _promote("r2", "staging")]

# name: (what happened before, the command killed and run again, the environment it acts in)
MATRIX: dict[str, tuple[list[Step], Step, str]] = {
    "watch (the last part fails: the release returned as a whole)": (
        [*SECOND_ENTERED, _failing("fn-notifications", "staging", "2.0.0")],
        _watch("r2", "staging"),
        "staging",
    ),
    "watch (every part succeeds)": (SECOND_ENTERED, _watch("r2", "staging"), "staging"),
    "promote (into production: every part asked for)": (
        FIRST_IN_STAGING,
        _promote("r1", "production"),
        "production",
    ),
    "approve (the whole release, one person)": (
        [*FIRST_IN_STAGING, _promote("r1", "production")],
        lambda rel, _: rel.approve("r1", "production", actor="alice"),
        "production",
    ),
    "rollback (a person returns the release)": (
        [*SECOND_ENTERED, _watch("r2", "staging")],
        lambda rel, world: rel.roll_back("r2", "staging", actor="bob", reason="a bad night", wait=world.clock.advance),
        "staging",
    ),
}


def _approve(name: str, env: str, who: str = "alice") -> Step:
    return lambda rel, _: rel.approve(name, env, actor=who)


# the issue's own leg: production (approval-gated, canary), entered by erin and approved by alice
R1_IN_PRODUCTION = [
    *FIRST_IN_STAGING,
    _promote("r1", "production"),
    _approve("r1", "production"),
    _watch("r1", "production"),
]
R2_ASKED = [*R1_IN_PRODUCTION, *_through("r2", "2.0.0", "development", "staging"), _promote("r2", "production")]
R2_APPROVED = [*R2_ASKED, _approve("r2", "production")]

MATRIX.update(
    {
        "watch production (approved; the last part's canary fails: returned as a whole)": (
            [*R2_APPROVED, _failing("fn-notifications", "production", "2.0.0")],
            _watch("r2", "production"),
            "production",
        ),
        "rollback production (a person returns the release after it succeeded)": (
            [*R2_APPROVED, _watch("r2", "production")],
            lambda rel, world: rel.roll_back(
                "r2", "production", actor="bob", reason="a bad night", wait=world.clock.advance
            ),
            "production",
        ),
    }
)

NEXT: dict[str, list[Step]] = {
    "promote (into production: every part asked for)": [_approve("r1", "production"), _watch("r1", "production")],
    "approve (the whole release, one person)": [_watch("r1", "production")],
}
"""The workflow's next commands after a command of :data:`MATRIX`: a kill followed by these (not the same command
again) must end where the uninterrupted workflow ends."""

SAMPLED = ("watch production", "rollback production")
"""The production legs' commands (a canary is many writes) are killed at a sample of their points: every release
stream write, and every fourth other write (:func:`_sampled`)."""


def _sampled(name: str, index: int, point: str) -> bool:
    return not name.startswith(SAMPLED) or "release stream" in point or index % 4 == 0


def _prepared(before: list[Step]) -> World:
    world = World()
    process = world.process()
    for step in before:
        step(process, world)
    return world


def _summary(world: World, env: str) -> dict[str, Any]:
    events, _ = world.store.load(RELEASE_STREAM)
    services = {}
    for service in SERVICES:
        found, _ = world.store.load(service)
        here = [e for e in found if e.environment == env]
        state = world.process().pipelines.pipeline(service).environments[env]
        services[service] = (
            [(e.type, e.version) for e in here if e.type != "analysis_recorded"],
            state.current,
            state.phase,
            world.cluster.weights(service, env),
        )
    return {"release": [(e.type, getattr(e, "part", "")) for e in events], "services": services}


def _cases() -> list[tuple[str, int, str]]:
    cases = []
    for name, (before, command, _) in MATRIX.items():
        world = _prepared(before)
        points = WritePoints()
        command(world.process(points), world)
        cases += [(name, index + 1, point) for index, point in enumerate(points.passed) if _sampled(name, index, point)]
    return cases


CASES = _cases()


def test_the_matrix_reaches_every_command_and_every_kind_of_write_point() -> None:
    assert {name for name, _, _ in CASES} == set(MATRIX)
    assert {point for _, _, point in CASES} == {
        "before append (release stream)",
        "after append (release stream)",
        "before append (service stream)",
        "after append (service stream)",
        "before route",
    }


@pytest.mark.parametrize(("name", "dies_at", "point"), CASES, ids=[f"{n} @{i} {p}" for n, i, p in CASES])
def test_a_release_command_killed_at_any_write_and_run_again_ends_as_if_never_killed(
    name: str, dies_at: int, point: str
) -> None:
    before, command, env = MATRIX[name]
    clean = _prepared(before)
    command(clean.process(), clean)
    expected = _summary(clean, env)

    world = _prepared(before)
    with pytest.raises(Killed):
        command(world.process(WritePoints(dies_at)), world)
    world.clock.advance(timedelta(seconds=1))  # the retry comes a little later
    command(world.process(), world)  # never refused for the crash's sake

    got = _summary(world, env)
    assert got == expected, point
    release, _ = world.store.load(RELEASE_STREAM)
    started = [(e.release, e.part) for e in release if isinstance(e, ReleasePartStarted) and e.environment == env]
    assert len(started) == len(set(started))  # each part started once
    returned = [(e.release, e.part) for e in release if isinstance(e, ReleasePartReturned) and e.environment == env]
    assert len(returned) == len(set(returned))  # and returned once
    for service in SERVICES:
        found, _ = world.store.load(service)
        here = [e for e in found if e.environment == env]
        assert len([e for e in here if isinstance(e, RolloutStarted) and e.version == "2.0.0"]) <= 1
        assert len([e for e in here if isinstance(e, RolledBack)]) <= 1
        view = world.process().pipelines.view(service, env)
        assert world.cluster.holding(service, env) == expected_holding(view)  # the cluster holds what the log says


NEXT_CASES = [case for case in CASES if case[0] in NEXT]


@pytest.mark.parametrize(("name", "dies_at", "point"), NEXT_CASES, ids=[f"{n} @{i} {p}" for n, i, p in NEXT_CASES])
def test_a_release_command_killed_at_any_write_then_the_workflows_next_command_ends_as_if_never_killed(
    name: str, dies_at: int, point: str
) -> None:
    """Review finding 5: the rerun is the workflow's NEXT command (promote -> approve -> watch), not the same one.
    The release is never stuck (a next command refused says which command unblocks it: run, then the workflow goes
    on), and no part is let in unapproved: every rollout into production rests on the release's approval."""
    before, command, env = MATRIX[name]
    clean = _prepared(before)
    for step in (command, *NEXT[name]):
        step(clean.process(), clean)
    expected = _summary(clean, env)

    world = _prepared(before)
    with pytest.raises(Killed):
        command(world.process(WritePoints(dies_at)), world)
    for step in NEXT[name]:
        world.clock.advance(timedelta(seconds=1))
        try:
            went = step(world.process(), world)
        except PolicyRefusedError as refused:  # killed before the release entered: the refusal names the command
            said = refused.refusal
            went = None
        else:
            said = None
        if said is not None:
            assert said.rule == "release-open", said
            assert "findly-infra release promote r1 --to production" in said.message
            command(world.process(), world)
            went = step(world.process(), world)
        if isinstance(went, ReleaseProgress) and went.state == "stopped":  # an approval killed before its record
            assert went.waiting is not None
            assert "findly-infra release approve r1 --environment production" in went.waiting, went.waiting
            assert not any(isinstance(e, ReleasePartStarted) for e in went.events)
            _approve("r1", "production")(world.process(), world)
            step(world.process(), world)

    assert _summary(world, env) == expected, point
    for service in SERVICES:
        rollout = world.process().pipelines.pipeline(service).environments[env].rollout
        assert rollout is not None
        assert rollout.started_by == "erin"
        assert [approval.approver for approval in rollout.entry.approvals] == ["alice"]
