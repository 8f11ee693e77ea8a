"""The SQLite event store: all-or-nothing appends, one winner when processes race."""

from __future__ import annotations

import json
import math
import multiprocessing
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.adapters.memory import MemoryEventStore
from findly_infra.adapters.sqlite import SqliteEventStore, SqliteSimulatedCluster
from findly_infra.application.ports import ConcurrencyError
from findly_infra.domain import (
    AnalysisRecorded,
    MetricReading,
    RolloutStarted,
    StrategyKind,
    Verdict,
)
from findly_infra.domain import TestResultRecorded as ResultRecorded  # not a test class
from tests.reliability import tally

AT = datetime(2026, 11, 26, 9, 0)


def _event(suite: str = "unit") -> ResultRecorded:
    return ResultRecorded(
        service="fn-posts", environment="development", version="1.0.0", at=AT, actor="ci", suite=suite, passed=True
    )


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_appends_at_the_expected_version_and_refuses_stale_writers(kind: str, tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "state.sqlite3") if kind == "sqlite" else MemoryEventStore()
    started = RolloutStarted(
        service="fn-posts",
        environment="development",
        version="1.0.0",
        at=AT,
        actor="erin",
        strategy=StrategyKind.CANARY,
    )
    analysis = AnalysisRecorded(
        service="fn-posts",
        environment="development",
        version="1.0.0",
        at=AT,
        actor="findly",
        verdict=Verdict.INCONCLUSIVE,
        readings=(
            MetricReading(metric="error_rate", value=float("nan"), threshold="< 1%", verdict=Verdict.INCONCLUSIVE),
        ),
    )
    assert store.append("fn-posts", 0, [started, analysis]) == 2
    with pytest.raises(ConcurrencyError):
        store.append("fn-posts", 1, [_event()])
    events, version = store.load("fn-posts")
    assert version == 2
    assert events[0] == started
    assert events[1].readings[0].value != events[1].readings[0].value  # NaN survives the round trip as NaN
    assert store.load("fn-notifications") == ([], 0)


def _race(path: str, suite: str, barrier: multiprocessing.synchronize.Barrier, results: multiprocessing.Queue) -> None:  # type: ignore[name-defined]
    store = SqliteEventStore(path)
    barrier.wait()
    try:
        store.append("fn-posts", 0, [_event(suite), _event(suite)])
        results.put(("won", suite))
    except ConcurrencyError:
        results.put(("lost", suite))


def test_racing_processes_have_exactly_one_winner(tmp_path: Path) -> None:
    path = str(tmp_path / "state.sqlite3")
    SqliteEventStore(path).close()
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(6), context.Queue()
    processes = [context.Process(target=_race, args=(path, f"suite-{i}", barrier, results)) for i in range(6)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    outcomes = [results.get(timeout=10) for _ in processes]
    tally("racing commands", len(processes))
    winners = [suite for outcome, suite in outcomes if outcome == "won"]
    assert len(winners) == 1
    events, version = SqliteEventStore(path).load("fn-posts")
    assert version == 2  # the winner's two events, never a mix, never half
    assert {e.suite for e in events} == {winners[0]}  # type: ignore[attr-defined]


def test_the_simulated_cluster_applies_a_step_once_and_holds_what_the_log_says(tmp_path: Path) -> None:
    from findly_infra import load_platform
    from findly_infra.domain import DeploymentPipeline, EnvironmentView, Holding, expected_holding

    from .conftest import EXAMPLE

    cluster = SqliteSimulatedCluster(SqliteEventStore(tmp_path / "state.sqlite3"))
    pipeline = DeploymentPipeline.start(load_platform(EXAMPLE), "fn-posts")
    views, at = [], AT
    for command in ("1.0.0", *["pass"] * 6, "2.0.0", "pass", "pass"):
        at += timedelta(hours=1)
        if command == "pass":
            decision = pipeline.analyze("development", Verdict.PASS, actor="findly", at=at)
        else:
            decision = pipeline.deploy(command, "development", actor="erin", at=at, strategy=StrategyKind.CANARY)
        pipeline = pipeline.apply_all(decision.events)
        views.append(EnvironmentView.of(pipeline, "development", at))
    held = Holding()
    for view in views:
        assert cluster.converge(view, at) is (expected_holding(view) != held)
        assert cluster.converge(view, at) is False  # the same step twice changes nothing
        held = cluster.holding("fn-posts", "development")
        assert held == expected_holding(view)
    assert held.running == {"fn-posts": "1.0.0", "fn-posts-canary": "2.0.0"}  # the previous version still runs
    assert held.weights == cluster.weights("fn-posts", "development") == views[-1].routes()
    assert len(held.weights) > 1
    assert held.weights["2.0.0"] > 0
    assert len(cluster.history("fn-posts", "development")) == len({str(v.routes()) for v in views})


analysis_events = st.builds(
    AnalysisRecorded,
    service=st.sampled_from(["fn-posts", "fn-matcher"]),
    environment=st.sampled_from(["development", "production"]),
    version=st.text(min_size=1, max_size=8),
    at=st.datetimes().map(lambda at: at.replace(fold=0)),  # isoformat keeps no fold
    actor=st.text(max_size=8),
    reason=st.text(max_size=8),
    verdict=st.sampled_from(list(Verdict)),
    readings=st.lists(
        st.builds(
            MetricReading,
            metric=st.sampled_from(["error_rate", "latency_p95"]),
            value=st.floats(allow_infinity=False) | st.just(math.nan),
            threshold=st.text(max_size=12),
            verdict=st.sampled_from(list(Verdict)),
        ),
        max_size=5,
    ).map(tuple),
)


@given(analysis_events)
def test_the_analysis_fast_path_decodes_as_the_converter_does(event: AnalysisRecorded) -> None:
    from findly_infra.application import codec

    data = json.loads(json.dumps(codec.event_to_dict(event)))  # as stored
    fast = codec.event_from_dict(data)
    slow = codec._converter().structure({k: v for k, v in data.items() if k not in ("type", "event")}, AnalysisRecorded)
    assert repr(fast) == repr(slow)  # NaN readings compare unequal to themselves; their text does not
    assert repr(fast) == repr(event)


def test_a_store_reads_a_stream_from_a_position(tmp_path: Path) -> None:
    for store in (MemoryEventStore(), SqliteEventStore(tmp_path / "state.sqlite3")):
        events = [_event(f"suite-{i}") for i in range(5)]
        store.append("fn-posts", 0, events)
        assert store.load("fn-posts", since=3) == (events[3:], 5)
        assert store.load("fn-posts", since=5) == ([], 5)
        assert store.load("fn-matcher", since=0) == ([], 0)
