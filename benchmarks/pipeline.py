"""Simulated canary rollouts per second (the seed's canary, an analysis every 60 s of virtual time),
and durable SQLite event appends per second.

    python benchmarks/pipeline.py

The figure of issue 24's table is the first line: canary rollouts through the use cases (``PipelineService`` on the
in-memory adapters) beside the same rollouts on the aggregate alone (decide and fold, no ports); the second line sets
them beside the aggregate that also has the domain judge every interval's observations (``judge_criteria``), as a
rollout step does; the third beside the floor a step through the ports cannot go below: the aggregate with only the
calls no step can skip — the service's stream and the policy stream read for what changed, the cluster brought to the
log, the metrics observed and judged, the events appended, the view built — and nothing else (no retries, policy
check, report or outcome). The floor is what stands between the use cases and the aggregate alone by construction:
the use cases cannot be faster than it. All four are measured in one run as interleaved rounds — each round runs
each, the order rotating — and reported as medians and the median of the rounds' ratios: the machine may be shared,
and a ratio of neighbours is what stays comparable.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.application.ports import MetricsQuery
from findly_infra.application.service import PipelineService
from findly_infra.config.loader import load_platform_text
from findly_infra.domain import DeploymentPipeline, StrategyKind, TestResultRecorded, Verdict
from findly_infra.domain.policy import POLICY_STREAM
from findly_infra.domain.view import EnvironmentView
from findly_infra.examples import example_platform_text
from findly_infra.testing import SCENARIOS, MemoryEventStore, ScenarioMetrics, SimulatedCluster, VirtualClock, simulate

START = datetime(2026, 1, 1)


def canary_rollouts(platform: object, seconds: float = 3.0) -> tuple[int, float, int]:
    """Complete canary rollouts through the use cases and in-memory adapters, for *seconds*."""
    count, analyses, began = 0, 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        clock = VirtualClock(START)
        metrics = ScenarioMetrics(SCENARIOS["healthy"])
        service = PipelineService(platform, MemoryEventStore(), clock, metrics, SimulatedCluster())  # type: ignore[arg-type]
        service.deploy("fn-posts", f"1.0.{count}", "development", actor="bench", strategy=StrategyKind.CANARY)
        outcome = service.watch("fn-posts", "development", actor="bench", wait=clock.advance)
        assert outcome.phase.value == "succeeded"
        analyses += sum(1 for e in service.history("fn-posts") if e.type == "analysis_recorded")
        count += 1
    return count, time.perf_counter() - began, analyses


def _aggregate_rollouts(platform: object, judge: bool, seconds: float = 3.0) -> tuple[int, float]:
    """Canary rollouts on the aggregate alone (decide and fold, no ports); with *judge*, each interval's
    observations are also analysed by the domain, as the metrics adapters would."""
    from findly_infra.domain.analysis import Observation, judge_criteria

    canary = platform.canary_strategy  # type: ignore[attr-defined]
    observation = Observation(dict(SCENARIOS["healthy"](0)))
    count, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        pipeline = DeploymentPipeline.start(platform, "fn-posts")  # type: ignore[arg-type]
        at = START
        pipeline = pipeline.apply_all(
            pipeline.deploy("1.0.0", "development", actor="b", at=at, strategy=StrategyKind.CANARY).events
        )
        while pipeline.environments["development"].phase.value == "progressing":
            at += timedelta(minutes=1)
            verdict, readings = Verdict.PASS, ()
            if judge:
                verdict, readings = judge_criteria(canary.success_criteria, observation, canary.analysis.min_requests)
            pipeline = pipeline.apply_all(
                pipeline.analyze("development", verdict, actor="b", at=at, readings=readings).events
            )
        count += 1
    return count, time.perf_counter() - began


def _floor_rollouts(platform: object, seconds: float = 3.0) -> tuple[int, float]:
    """Canary rollouts on the aggregate with only what a step through the ports cannot skip: read the service's
    stream and the policy stream since what was read, bring the cluster to the last view, observe and judge the
    metrics, append the decision's events, build the view after them — the in-memory adapters, no use case."""
    from findly_infra.domain.analysis import judge_criteria

    canary = platform.canary_strategy  # type: ignore[attr-defined]
    count, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        store, cluster, metrics = MemoryEventStore(), SimulatedCluster(), ScenarioMetrics(SCENARIOS["healthy"])
        pipeline = DeploymentPipeline.start(platform, "fn-posts")  # type: ignore[arg-type]
        at = START
        decision = pipeline.deploy("1.0.0", "development", actor="b", at=at, strategy=StrategyKind.CANARY)
        store.append("fn-posts", 0, decision.events)
        pipeline = pipeline.apply_all(decision.events)
        view = EnvironmentView.of(pipeline, "development", at)
        cluster.converge(view, at)
        rollout = pipeline.environments["development"].rollout
        assert rollout is not None
        while pipeline.environments["development"].phase.value == "progressing":
            at += timedelta(minutes=1)
            store.load("fn-posts", since=pipeline.version)
            store.load(POLICY_STREAM, since=0)
            cluster.converge(view, at)
            query = MetricsQuery("fn-posts", "development", "1.0.0", (), at, rollout.started)
            verdict, readings = judge_criteria(
                canary.success_criteria, metrics.observe(query), canary.analysis.min_requests
            )
            decision = pipeline.analyze("development", verdict, actor="b", at=at, readings=readings)
            store.append("fn-posts", pipeline.version, decision.events)
            pipeline = pipeline.apply_all(decision.events)
            view = EnvironmentView.of(pipeline, "development", at)
        count += 1
    return count, time.perf_counter() - began


def sqlite_appends(count: int = 500) -> float:
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteEventStore(Path(folder) / "state.sqlite3")
        event = TestResultRecorded(
            service="fn-posts",
            environment="development",
            version="1.0.0",
            at=START,
            actor="bench",
            suite="unit",
            passed=True,
        )
        began = time.perf_counter()
        for version in range(count):
            store.append("fn-posts", version, [event])
        return count / (time.perf_counter() - began)


ROUNDS = 7
"""Interleaved rounds of each figure and its references (the order rotating from round to round)."""


def side_by_side(platform: object, rounds: int = ROUNDS, seconds: float = 1.0) -> dict[str, list[float]]:
    """Rollouts/s of the use cases, of the aggregate alone, of the aggregate with the domain's analysis of every
    interval and of the floor (:func:`_floor_rollouts`), each run for *seconds* in each of *rounds* rounds, in an order
    that rotates from round to round."""
    runs: dict[str, Callable[[], float]] = {
        "use cases": lambda: _rate(canary_rollouts(platform, seconds)[:2]),
        "aggregate": lambda: _rate(_aggregate_rollouts(platform, judge=False, seconds=seconds)),
        "aggregate + analysis": lambda: _rate(_aggregate_rollouts(platform, judge=True, seconds=seconds)),
        "floor": lambda: _rate(_floor_rollouts(platform, seconds=seconds)),
    }
    names = list(runs)
    rates: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(rounds):
        for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
            rates[name].append(runs[name]())
    return rates


def _rate(counted: tuple[int, float]) -> float:
    return counted[0] / counted[1]


def _beside(rates: dict[str, list[float]], reference: str) -> str:
    """The use cases' median beside *reference*'s, and the median of the rounds' ratios."""
    ours, theirs = rates["use cases"], rates[reference]
    ratio = statistics.median(mine / other for mine, other in zip(ours, theirs, strict=True))
    return f"{statistics.median(ours):,.0f}/s beside {statistics.median(theirs):,.0f}/s (ratio {ratio:.2f})"


def main() -> None:
    platform = load_platform_text(example_platform_text())
    rates = side_by_side(platform)
    count, _, analyses = canary_rollouts(platform, 0.2)
    rounds = (
        f"medians of {ROUNDS} interleaved rounds of 1 s; the seed's canary, {analyses / count:.0f} analyses a rollout, "
        "one a minute of virtual time"
    )
    print(f"simulated canary rollouts through the use cases, beside the aggregate alone: {_beside(rates, 'aggregate')}")
    print(
        "simulated canary rollouts through the use cases, beside the aggregate with the domain's analysis: "
        f"{_beside(rates, 'aggregate + analysis')}"
    )
    print(
        "simulated canary rollouts through the use cases, beside the floor of a step through the ports "
        f"(the aggregate, the ports' calls no step can skip, judging and the view): {_beside(rates, 'floor')}"
    )
    print(f"  ({rounds})")
    began = time.perf_counter()
    for _ in range(20):
        simulate(platform, "fn-posts", "production", SCENARIOS["healthy"], strategy=StrategyKind.CANARY)
    per = (time.perf_counter() - began) / 20 * 1000
    print(f"simulate production canary (whole story, dev and staging first): {per:.1f} ms")
    print(f"SQLite appends, one transaction each, synchronous=FULL: {sqlite_appends():,.0f}/s")


if __name__ == "__main__":
    main()
