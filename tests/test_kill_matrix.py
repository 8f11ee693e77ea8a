"""The kill matrix: every release command, killed at every write point, then run again.

A command writes in two places: the event store (one append per decision, all or nothing) and the cluster (one
route per change). A SIGKILL can land before or after any of them. Here the process "dies" there — the adapters
raise at the chosen call, the way a killed process stops — and a new process (a new ``PipelineService`` on the same
store and cluster) runs the same command again, as a CI retry does. Whatever the point:

- the retry is never refused for the crash's sake (it answers what holds, or finishes the job);
- it ends where the uninterrupted command ended: the same phase, the same events (a watch: the same traffic steps,
  no analysis repeated, none out of order);
- the cluster serves exactly what the log says.

``python scripts/reliability_report.py`` counts these cases with the other matrices.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import attrs
import pytest

from findly_infra import load_platform
from findly_infra.application.scenarios import SCENARIOS
from findly_infra.application.service import PipelineService
from findly_infra.domain import DeploymentPipeline, EnvironmentView, Holding, Phase, StrategyKind, expected_holding
from findly_infra.domain.events import Event
from findly_infra.testing import MemoryEventStore, ScenarioMetrics, SimulatedCluster, VirtualClock

from .conftest import EXAMPLE
from .reliability import compare_logs, tally

PLATFORM = load_platform(EXAMPLE)
T0 = datetime(2026, 1, 5, 9)


class Killed(BaseException):
    """The process died here (a BaseException, as SIGKILL is not an error anything may catch and go on from)."""


@attrs.define
class WritePoints:
    """Counts the write points a command passes, and kills the process at the *dies_at*-th one."""

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

    def append(self, service: str, expected_version: int, events: Any) -> int:
        self.points.reach("before append")  # nothing stored
        version = self.inner.append(service, expected_version, events)
        self.points.reach("after append")  # stored, never routed nor answered
        return version


@attrs.define
class DyingCluster:
    inner: SimulatedCluster
    points: WritePoints

    def holding(self, service: str, environment: str) -> Holding:
        return self.inner.holding(service, environment)

    def converge(self, view: EnvironmentView, at: datetime) -> bool:
        if self.inner.holding(view.service, view.environment) != expected_holding(view):
            self.points.reach("before route")  # after a route is the same as before the next write point
        return self.inner.converge(view, at)


@attrs.define
class World:
    """One store, one cluster, one clock: what survives a process."""

    store: MemoryEventStore = attrs.field(factory=MemoryEventStore)
    cluster: SimulatedCluster = attrs.field(factory=SimulatedCluster)
    clock: VirtualClock = attrs.field(factory=lambda: VirtualClock(T0))
    scenario: str = "healthy"

    def process(self, points: WritePoints | None = None) -> PipelineService:
        """A new process on this world (no cache carried over); with *points*, one that can die."""
        store: Any = self.store if points is None else DyingStore(self.store, points)
        cluster: Any = self.cluster if points is None else DyingCluster(self.cluster, points)
        metrics = ScenarioMetrics(SCENARIOS[self.scenario])
        return PipelineService(PLATFORM, store, self.clock, metrics, cluster, backoff=lambda _: None)


Step = Callable[[PipelineService, VirtualClock], object]
SERVICE = "fn-posts"


def _deploy(version: str, env: str, strategy: StrategyKind | None = None, actor: str = "erin") -> Step:
    return lambda svc, _: svc.deploy(SERVICE, version, env, actor=actor, strategy=strategy)


def _watch(env: str, version: str) -> Step:
    """``rollout --watch --version``: a retry after the rollout ended answers how it ended."""
    return lambda svc, clock: svc.watch(SERVICE, env, actor="findly", wait=clock.advance, version=version)


def _record(version: str, env: str, *suites: str) -> Step:
    def record(svc: PipelineService, _: VirtualClock) -> None:
        for suite in suites:
            svc.record_test(SERVICE, version, env, suite, True, actor="ci")

    return record


def _through(version: str, *envs: str) -> list[Step]:
    steps: list[Step] = []
    for env in envs:
        steps += [_deploy(version, env), _watch(env, version), _record(version, env, *PLATFORM.environment(env).tests)]
    return steps


def _requested(version: str) -> list[Step]:
    def ask(svc: PipelineService, _: VirtualClock) -> None:
        from findly_infra.application.service import PolicyRefusedError

        with pytest.raises(PolicyRefusedError):  # approvals first: the request is recorded
            svc.deploy(SERVICE, version, "production", actor="erin")

    return [*_through(version, "development", "staging"), ask]


def _approved(version: str) -> list[Step]:
    approve = [
        lambda svc, _: svc.approve(SERVICE, version, "production", actor="alice"),
        lambda svc, _: svc.approve(SERVICE, version, "production", actor="carol"),
    ]
    return [*_requested(version), *approve]


def _blue_green_awaiting(version: str) -> list[Step]:
    evidence = _record(version, "production", "smoke_tests", "performance_tests")
    return [*_approved(version), _deploy(version, "production"), evidence, _watch("production", version)]


def _canary_under_way() -> list[Step]:
    return [*_through("1.0.0", "development"), _deploy("2.0.0", "development", StrategyKind.CANARY)]


def _paused() -> list[Step]:
    return [*_canary_under_way(), lambda svc, _: svc.pause(SERVICE, "development", actor="bob", reason="look")]


# name: (what happened before, the command killed and retried, scripted metrics)
MATRIX: dict[str, tuple[list[Step], Step, str]] = {
    "deploy (a first release)": ([], _deploy("1.0.0", "development"), "healthy"),
    "watch (rolling)": ([_deploy("1.0.0", "development")], _watch("development", "1.0.0"), "healthy"),
    "deploy (a canary)": (
        _through("1.0.0", "development"),
        _deploy("2.0.0", "development", StrategyKind.CANARY),
        "healthy",
    ),
    "watch (a healthy canary)": (_canary_under_way(), _watch("development", "2.0.0"), "healthy"),
    "watch (a failing canary, rolled back)": (_canary_under_way(), _watch("development", "2.0.0"), "error-spike"),
    "record (evidence)": (
        [_deploy("1.0.0", "development")],
        lambda svc, _: svc.record_test(SERVICE, "1.0.0", "development", "unit", True, actor="ci"),
        "healthy",
    ),
    "promote (into staging)": (_through("1.0.0", "development"), _deploy("1.0.0", "staging"), "healthy"),
    "approve (a promotion)": (
        _requested("1.0.0"),
        lambda svc, _: svc.approve(SERVICE, "1.0.0", "production", actor="alice"),
        "healthy",
    ),
    "promote (blue-green into production)": (_approved("1.0.0"), _deploy("1.0.0", "production"), "healthy"),
    "approve (a blue-green manual step)": (
        _blue_green_awaiting("1.0.0"),
        lambda svc, _: svc.approve(SERVICE, "1.0.0", "production", actor="alice"),
        "healthy",
    ),
    "watch (blue-green: cutover and bake)": (
        [*_blue_green_awaiting("1.0.0"), lambda svc, _: svc.approve(SERVICE, "1.0.0", "production", actor="alice")],
        _watch("production", "1.0.0"),
        "healthy",
    ),
    "pause": (
        _canary_under_way(),
        lambda svc, _: svc.pause(SERVICE, "development", actor="bob", reason="look"),
        "healthy",
    ),
    "resume": (_paused(), lambda svc, _: svc.resume(SERVICE, "development", actor="bob"), "healthy"),
    "abort": (
        _canary_under_way(),
        lambda svc, _: svc.abort(SERVICE, "development", actor="bob", reason="stop"),
        "healthy",
    ),
    "rollback": (
        _canary_under_way(),
        lambda svc, _: svc.rollback(SERVICE, "development", actor="bob", reason="bad build"),
        "healthy",
    ),
}


def _prepared(before: list[Step], scenario: str) -> World:
    world = World(scenario=scenario)
    process = world.process()
    for step in before:
        step(process, world.clock)
    return world


def _environment(name: str) -> str:
    """Where the command acts."""
    if "production" in name or "approve" in name or "blue-green" in name:
        return "production"
    return "staging" if "staging" in name else "development"


def _summary(world: World, env: str) -> tuple[Phase, list[tuple[str, str, int | None]], dict[str, int]]:
    events, _ = world.store.load(SERVICE)
    pipeline = DeploymentPipeline.replay(PLATFORM, SERVICE, events)  # the log replays: a history, whatever the crash
    phase = pipeline.environments[env].phase
    shape = [(e.type, e.version, getattr(e, "weight", None)) for e in events if e.type != "analysis_recorded"]
    return phase, shape, world.cluster.weights(SERVICE, env)


def _cases() -> list[tuple[str, int, str]]:
    """Every (command, write point) pair, found by running each command once and counting its write points."""
    cases = []
    for name, (before, command, scenario) in MATRIX.items():
        world = _prepared(before, scenario)
        points = WritePoints()
        command(world.process(points), world.clock)
        cases += [(name, index + 1, point) for index, point in enumerate(points.passed)]
    return cases


CASES = _cases()


def test_the_matrix_reaches_every_command_and_every_kind_of_write_point() -> None:
    assert {name for name, _, _ in CASES} == set(MATRIX)  # every command writes somewhere
    assert {point for _, _, point in CASES} == {"before append", "after append", "before route"}
    assert len(CASES) >= 3 * len(MATRIX)


@pytest.mark.parametrize(("name", "dies_at", "point"), CASES, ids=[f"{n} @{i} {p}" for n, i, p in CASES])
def test_a_command_killed_at_any_write_point_and_run_again_ends_as_if_never_killed(
    name: str, dies_at: int, point: str
) -> None:
    before, command, scenario = MATRIX[name]
    env = _environment(name)
    clean = _prepared(before, scenario)
    command(clean.process(), clean.clock)
    expected_phase, expected_shape, expected_routes = _summary(clean, env)

    world = _prepared(before, scenario)
    with pytest.raises(Killed):
        command(world.process(WritePoints(dies_at)), world.clock)
    command(world.process(), world.clock)  # the retry: never refused for the crash's sake

    phase, shape, routes = _summary(world, env)
    compare_logs(expected_shape, shape)
    assert phase == expected_phase
    assert shape == expected_shape  # nothing lost, nothing repeated: the same decisions in the same order
    assert routes == expected_routes
    view = world.process().view(SERVICE, env)
    assert world.cluster.holding(SERVICE, env) == expected_holding(view)  # the cluster holds what the log says
    events, _ = world.store.load(SERVICE)
    analyses = [e.at for e in events if e.type == "analysis_recorded"]
    assert analyses == sorted(set(analyses))  # no analysis twice, none out of order
    times = [e.at for e in events]
    assert times == sorted(times)
