"""The event store's contract, the same for the three stores — in memory, SQLite and a real PostgreSQL: appends at an
expected version, all or nothing; stale writers refused with nothing written; streams read from a position; NaN kept;
time kept once; the simulated cluster applied once. Model-based: random scripts of appends behave on each durable
store exactly as on the in-memory one."""

from __future__ import annotations

import math
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from findly_infra import load_platform
from findly_infra.adapters.memory import MemoryEventStore, ScriptedMetrics, SimulatedCluster, VirtualClock
from findly_infra.adapters.postgresql import PostgresEventStore, PostgresSimulatedCluster
from findly_infra.adapters.sqlite import SqliteEventStore, SqliteSimulatedCluster
from findly_infra.application.ports import ConcurrencyError, KeptSnapshot, Snapshot, StateError
from findly_infra.application.service import PipelineService
from findly_infra.application.snapshots import digest_of, sealed, snapshot_text, trusted
from findly_infra.domain import (
    AnalysisRecorded,
    DeploymentPipeline,
    EnvironmentView,
    Holding,
    MetricReading,
    StrategyKind,
    Verdict,
    expected_holding,
)
from findly_infra.domain import TestResultRecorded as ResultRecorded  # not a test class
from tests.conftest import EXAMPLE

AT = datetime(2026, 11, 26, 9, 0)
KINDS = ["memory", "sqlite", "postgresql"]


@pytest.fixture(params=KINDS)
def opened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """Opens the store (a new connection each call, on the same state): what another process would see."""
    kind = request.param
    stores: list[Any] = []
    if kind == "memory":
        memory = MemoryEventStore()

        def open_memory() -> Any:
            return memory

        yield open_memory
        return
    url = request.getfixturevalue("pg_url") if kind == "postgresql" else None

    def open_durable() -> Any:
        store = PostgresEventStore(url) if url else SqliteEventStore(tmp_path / "state.sqlite3")
        stores.append(store)
        return store

    yield open_durable
    for store in stores:
        store.close()


def _result(suite: str, service: str = "fn-posts", at: datetime = AT) -> ResultRecorded:
    return ResultRecorded(
        service=service, environment="development", version="1.0.0", at=at, actor="ci", suite=suite, passed=True
    )


def test_appends_at_the_expected_version_refuse_stale_writers_and_keep_nan(opened: Callable[[], Any]) -> None:
    store, other = opened(), opened()
    analysis = AnalysisRecorded(
        service="fn-posts",
        environment="development",
        version="1.0.0",
        at=AT,
        actor="findly",
        verdict=Verdict.INCONCLUSIVE,
        readings=(MetricReading(metric="error_rate", value=math.nan, threshold="< 1%", verdict=Verdict.INCONCLUSIVE),),
    )
    assert store.append("fn-posts", 0, [_result("unit"), analysis]) == 2
    with pytest.raises(ConcurrencyError):
        other.append("fn-posts", 1, [_result("late")])  # stale: nothing written
    with pytest.raises(ConcurrencyError):
        other.append("fn-posts", 3, [_result("ahead")])  # ahead of the stream: never a gap
    events, version = other.load("fn-posts")
    assert version == 2
    assert events[0] == _result("unit")
    assert math.isnan(events[1].readings[0].value)  # NaN survives the round trip as NaN
    assert repr(other.load("fn-posts", since=1)) == repr((events[1:], 2))  # NaN is not equal to itself
    assert other.load("fn-posts", since=2) == ([], 2)
    assert other.load("fn-matcher") == ([], 0)


def test_time_is_kept_once_and_the_latest_event_is_where_a_rehearsal_resumes(opened: Callable[[], Any]) -> None:
    store = opened()
    if isinstance(store, MemoryEventStore):
        pytest.skip("memory keeps nothing: its time is always virtual")
    assert store.time_kept() is None
    assert store.latest_time() is None
    assert store.keep_time("virtual") == "virtual"
    assert opened().keep_time("wall") == "virtual"  # the first decision wins, for good
    store.append("fn-posts", 0, [_result("a", at=AT)])
    store.append("fn-matcher", 0, [_result("b", "fn-matcher", AT + timedelta(minutes=5))])
    assert opened().latest_time() == AT + timedelta(minutes=5)


def test_the_simulated_cluster_is_kept_in_the_state_and_applies_a_step_once(
    opened: Callable[[], Any],
) -> None:
    store = opened()
    clusters = {
        MemoryEventStore: lambda _: SimulatedCluster(),
        SqliteEventStore: SqliteSimulatedCluster,
        PostgresEventStore: PostgresSimulatedCluster,
    }
    cluster = clusters[type(store)](store)
    pipeline = DeploymentPipeline.start(load_platform(EXAMPLE), "fn-posts")
    at = AT
    pipeline = pipeline.apply_all(pipeline.deploy("1.0.0", "development", actor="erin", at=at).events)
    for _ in range(8):
        at += timedelta(hours=1)
        pipeline = pipeline.apply_all(pipeline.analyze("development", Verdict.PASS, actor="findly", at=at).events)
    at += timedelta(hours=1)
    decision = pipeline.deploy("2.0.0", "development", actor="erin", at=at, strategy=StrategyKind.CANARY)
    pipeline = pipeline.apply_all(decision.events)
    view = EnvironmentView.of(pipeline, "development", at)
    assert cluster.holding("fn-posts", "development") == Holding()
    assert cluster.converge(view, at) is True
    assert cluster.converge(view, at) is False  # the same step twice changes nothing
    held = cluster.holding("fn-posts", "development")
    assert held == expected_holding(view)
    assert held.running == {"fn-posts": "1.0.0", "fn-posts-canary": "2.0.0"}
    assert cluster.weights("fn-posts", "development") == view.routes()


# ---- model-based: any script of appends, the same on every store ---------------------------------------------------

SCRIPT = st.lists(
    st.tuples(st.sampled_from(["fn-posts", "fn-matcher"]), st.integers(-1, 2), st.integers(1, 3)), max_size=25
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=SCRIPT)
def test_any_script_of_appends_behaves_as_on_the_model(opened: Callable[[], Any], script: list[Any]) -> None:
    """Each step appends *count* events at the stream's version plus *skew* (0: current; else stale or ahead): the
    store answers as the in-memory model does, and reads back the same streams — from any position."""
    store, model = opened(), MemoryEventStore()
    prefix = uuid.uuid4().hex[:8]  # one state for all examples: streams of their own
    for step, (name, skew, count) in enumerate(script):
        service = f"{prefix}-{name}"
        expected = model.load(service)[1] + (skew if skew != 2 else -2)
        events = [_result(f"s{step}-{i}", service) for i in range(count)]
        try:
            answer: object = model.append(service, expected, events)
        except ConcurrencyError:
            answer = ConcurrencyError
        try:
            got: object = store.append(service, expected, events)
        except ConcurrencyError:
            got = ConcurrencyError
        assert got == answer, (step, expected)
    for name in ("fn-posts", "fn-matcher"):
        service = f"{prefix}-{name}"
        wanted, version = model.load(service)
        assert store.load(service) == (wanted, version)
        assert store.load(service, since=version // 2) == (wanted[version // 2 :], version)


def _overwrite(store: Any, snapshot: Snapshot) -> None:
    """Write *snapshot*'s row as someone who can write the snapshots table would: by hand, not by the store."""
    row = (snapshot.version, snapshot.text, snapshot.link, snapshot.digest, snapshot.service)
    if isinstance(store, MemoryEventStore):
        store.snapshots[snapshot.service] = snapshot
    elif isinstance(store, SqliteEventStore):
        with sqlite3.connect(store.path) as raw:
            raw.execute("UPDATE snapshots SET version = ?, body = ?, link = ?, digest = ? WHERE service = ?", row)
        raw.close()
    else:
        store._connection.execute(
            "UPDATE findly_snapshots SET version = %s, body = %s, link = %s, digest = %s WHERE service = %s", row
        )


def test_a_snapshot_is_kept_sealed_by_its_event_and_a_later_one_wins_unless_the_kept_one_is_not_sealed(
    opened: Callable[[], Any],
) -> None:
    store = opened()
    assert store.load_snapshot("fn-posts") is None
    with pytest.raises(StateError, match="no linked event 4"):  # nothing to seal it
        store.save_snapshot("fn-posts", 5, '{"at":5}')
    store.append("fn-posts", 0, [_result(f"s{i}") for i in range(12)])
    links = [link for _, _, link in store.chain("fn-posts")]
    store.save_snapshot("fn-posts", 5, '{"at":5}')
    store.save_snapshot("fn-posts", 4, '{"at":4}')  # a slower writer's older one: ignored
    kept = opened().load_snapshot("fn-posts")
    assert kept == KeptSnapshot(sealed("fn-posts", 5, '{"at":5}', links[4]), links[4], kept.snapshot.digest)
    assert trusted(kept) is None
    store.save_snapshot("fn-posts", 10, '{"at":10}')
    assert opened().load_snapshot("fn-posts").snapshot.version == 10
    assert opened().snapshotted() == ["fn-posts"]
    assert opened().load_snapshot("fn-matcher") is None
    # a row forged ahead of the stream is refused, and does not keep the next snapshot out
    _overwrite(store, sealed("fn-posts", 1000, '{"at":1000}', "f" * 64))
    forged = opened().load_snapshot("fn-posts")
    assert forged.event_link is None
    assert trusted(forged) == "folds up to event 999, which the stream does not have"
    store.save_snapshot("fn-posts", 7, '{"at":7}')
    kept = opened().load_snapshot("fn-posts")
    assert (kept.snapshot.version, trusted(kept)) == (7, None)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_edit_of_a_snapshot_changes_the_pipeline_a_command_loads_on_any_store(
    opened: Callable[[], Any], data: st.DataObject
) -> None:
    """A stream of random results, its snapshot saved as a command saves it, then any edit of the row — body,
    version, link, digest recomputed or not: a new process loads exactly the fold of the events."""
    store = opened()
    service = f"fn-posts-{uuid.uuid4().hex[:8]}"  # one state for all examples: streams of their own
    platform = load_platform(EXAMPLE)
    count = data.draw(st.integers(1, 30), label="events")
    events = [
        ResultRecorded(
            service=service,
            environment=data.draw(st.sampled_from(["development", "staging"]), label="environment"),
            version=f"1.{index % 3}.0",
            at=AT + timedelta(minutes=index),
            actor="ci",
            suite=f"s{index % 4}",
            passed=data.draw(st.booleans(), label="passed"),
        )
        for index in range(count)
    ]
    store.append(service, 0, events)
    cut = data.draw(st.integers(1, count), label="cut")
    service_platform = attrs.evolve(
        platform, services=(*platform.services, attrs.evolve(platform.services[0], name=service))
    )
    store.save_snapshot(service, cut, snapshot_text(DeploymentPipeline.replay(service_platform, service, events[:cut])))
    genuine = store.load_snapshot(service).snapshot
    links = [link for _, _, link in store.chain(service)]
    text, version, link = genuine.text, genuine.version, genuine.link
    edited = data.draw(st.sets(st.sampled_from(["body", "version", "link"]), min_size=1), label="edited")
    if "body" in edited:
        other = data.draw(st.integers(1, count), label="other cut")
        text = snapshot_text(DeploymentPipeline.replay(service_platform, service, events[:other]))
        text = text.replace('"passed":[]', '"passed":[["9.9.9","s0"]]') if other == cut else text
    if "version" in edited:
        version = data.draw(st.integers(-1, count + 2), label="version")
    if "link" in edited:
        link = data.draw(st.sampled_from(links), label="link")
    digest = digest_of(service, version, link, text) if data.draw(st.booleans(), label="recomputed") else genuine.digest
    _overwrite(store, Snapshot(service, version, text, link, digest))
    whole = DeploymentPipeline.replay(service_platform, service, events)
    loaded = PipelineService(
        service_platform, opened(), VirtualClock(AT), ScriptedMetrics(lambda _: {}), SimulatedCluster()
    ).pipeline(service)
    assert (loaded.environments, loaded.version, loaded.updated) == (whole.environments, whole.version, whole.updated)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_records_of_a_version_are_read_back_by_version_alike_on_every_store(
    opened: Callable[[], Any], data: st.DataObject
) -> None:
    """Issue 24: what a bounded snapshot leaves out of a version's records is read back by version — its successes
    and test results before a position, oldest first, the same on every store (by an index on the durable ones)."""
    from findly_infra.domain import RolloutSucceeded
    from findly_infra.domain.state import RECORD_EVENTS

    store = opened()
    service = f"fn-{uuid.uuid4().hex[:8]}"
    kinds = data.draw(st.lists(st.sampled_from(["result", "success", "analysis"]), min_size=1, max_size=30), label="k")
    events: list[Any] = []
    for index, kind in enumerate(kinds):
        base = {
            "service": service,
            "environment": ["development", "staging"][index % 2],
            "version": f"1.{index % 3}.0",
            "at": AT + timedelta(minutes=index),
            "actor": "ci",
        }
        if kind == "result":
            events.append(ResultRecorded(**base, suite=f"s{index % 2}", passed=bool(index % 3)))
        elif kind == "success":
            events.append(RolloutSucceeded(**base))
        else:
            events.append(AnalysisRecorded(**base, verdict=Verdict.PASS))
    store.append(service, 0, events)
    reader = opened()  # another process
    for version in ("1.0.0", "1.1.0", "1.2.0", "9.9.9"):
        before = data.draw(st.integers(0, len(events) + 1), label="before")
        expected = [e for e in events[:before] if e.type in RECORD_EVENTS and e.version == version]
        assert reader.records(service, version, before) == expected


def test_a_record_that_is_not_json_never_fails_a_write_and_is_named_when_read_back(tmp_path: Path) -> None:
    """The SQLite index reads the version out of a record's JSON: a record that is not JSON (damage) indexes as no
    version (``''``), so writing it (or anything after it) never fails, and it is read back for every version: named,
    never a record silently left out (it was the failure a version's pass was hiding)."""
    store = SqliteEventStore(tmp_path / "state.sqlite3")
    store.append("fn-posts", 0, [_result("unit"), _result("e2e")])
    assert [e.suite for e in store.records("fn-posts", "1.0.0", 2)] == ["unit", "e2e"]
    store._connection.execute("UPDATE events SET body = '{' WHERE position = 0")  # damage: the write succeeds
    store.append("fn-posts", 2, [_result("smoke")])
    for version in ("1.0.0", "2.0.0"):
        with pytest.raises(StateError, match="fn-posts's event 0 is unlinked"):
            store.records("fn-posts", version, 3)
    statements: list[str] = []
    store._connection.set_trace_callback(statements.append)
    with pytest.raises(StateError):
        store.records("fn-posts", "1.0.0", 3)
    (query,) = statements
    plan = store._connection.execute(f"EXPLAIN QUERY PLAN {query}").fetchall()
    assert "USING INDEX events_record_keys" in str(plan), plan  # one indexed read, never a walk of the stream
    store.close()
