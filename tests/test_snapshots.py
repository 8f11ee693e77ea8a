"""Snapshots summarise a stream without changing what it says: for random histories — every command, every
environment, any strategy — the pipeline from a snapshot (through JSON) plus the events after it equals the pipeline
from the whole stream; a service reads only the tail after its snapshot; a snapshot it cannot use is ignored."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st

from findly_infra.adapters.memory import MemoryEventStore, ScriptedMetrics, SimulatedCluster, VirtualClock
from findly_infra.application import snapshots
from findly_infra.application.scenarios import HEALTHY
from findly_infra.application.service import PipelineService
from findly_infra.application.snapshots import from_snapshot, snapshot_of
from findly_infra.domain import DeploymentPipeline, StrategyKind, Verdict
from findly_infra.domain.events import Event
from findly_infra.domain.policy import POLICY_STREAM

from .test_audit_trail import PEOPLE, PLATFORM, T0, to_production

VERBS = ["analyze"] * 8 + ["deploy"] * 3 + ["approve", "test", "pause", "resume", "abort", "rollback"]
commands = st.tuples(  # most of them where something is under way, so that most are accepted
    st.sampled_from(VERBS),
    st.sampled_from(["development"] * 4 + ["staging", "production"]),
    st.sampled_from(["1.0.0", "2.0.0", "3.0.0", "4.0.0"]),
    st.sampled_from(PEOPLE),
    st.sampled_from([Verdict.PASS] * 4 + [Verdict.FAIL, Verdict.INCONCLUSIVE]),
    st.integers(1, 90),
    st.text(alphabet="abc ", max_size=6),
)


def _history(
    script: list[tuple[str, str, str, str, Verdict, int, str]], prepared: bool, kind: StrategyKind
) -> list[Event]:
    pipeline = to_production() if prepared else DeploymentPipeline.start(PLATFORM, "fn-posts")
    events: list[Event] = []
    at = T0 + timedelta(days=3)
    for command, env, version, actor, verdict, minutes, reason in script:
        at += timedelta(minutes=minutes)
        if command == "deploy":
            decision = pipeline.deploy(version, env, actor=actor, at=at, strategy=kind)
        elif command == "approve":
            decision = pipeline.approve(version, env, actor=actor, at=at)
        elif command == "test":
            decision = pipeline.record_test(version, env, "unit", True, actor=actor, at=at)
        elif command == "analyze":
            decision = pipeline.analyze(env, verdict, actor=actor, at=at)
        else:
            decision = getattr(pipeline, command)(env, actor=actor, at=at, reason=reason or "r")
        pipeline = pipeline.apply_all(decision.events)
        events += decision.events
    return events


def _same(one: DeploymentPipeline, other: DeploymentPipeline) -> bool:
    return (one.environments, one.version, one.updated) == (other.environments, other.version, other.updated)


@given(
    st.lists(commands, min_size=20, max_size=200),
    st.booleans(),
    st.sampled_from(list(StrategyKind)),
    st.data(),
)
def test_a_snapshot_and_its_tail_fold_to_the_whole_stream(
    script: list[Any], prepared: bool, kind: StrategyKind, data: st.DataObject
) -> None:
    prefix = to_production().version if prepared else 0
    events = _history(script, prepared, kind)
    whole = (to_production() if prepared else DeploymentPipeline.start(PLATFORM, "fn-posts")).apply_all(events)
    cut = data.draw(st.integers(0, len(events)), label="cut")
    before = (to_production() if prepared else DeploymentPipeline.start(PLATFORM, "fn-posts")).apply_all(events[:cut])
    kept = json.loads(json.dumps(snapshot_of(before)))  # as a store keeps it
    restored = from_snapshot(PLATFORM, "fn-posts", kept)
    assert restored is not None
    assert restored.version == prefix + cut
    assert _same(restored, before)
    assert _same(restored.apply_all(events[cut:]), whole)
    event(f"{len(events) // 25 * 25}+ events")
    event(f"rollouts in {sum(state.rollout is not None for state in whole.environments.values())} environments")


class _CountingStore(MemoryEventStore):
    """The in-memory store, counting the events each load of a service's stream returns (the policy stream, a few
    events read with every command, is not a service's)."""

    read: int = 0

    def load(self, service: str, since: int = 0) -> tuple[list[Event], int]:
        events, version = super().load(service, since)
        self.read += len(events) if service != POLICY_STREAM else 0
        return events, version


def _service(store: MemoryEventStore, clock: VirtualClock) -> PipelineService:
    return PipelineService(PLATFORM, store, clock, ScriptedMetrics(lambda _: HEALTHY), SimulatedCluster())


def test_a_new_process_reads_the_snapshot_and_only_the_events_after_it(monkeypatch: Any) -> None:
    monkeypatch.setattr("findly_infra.application.service.SNAPSHOT_EVERY", 20)
    store, clock = _CountingStore(), VirtualClock(T0)
    first = _service(store, clock)
    for minor in range(6):  # six canary releases: ~ a hundred events
        first.deploy("fn-posts", f"1.{minor}.0", "development", actor="erin", strategy=StrategyKind.CANARY)
        first.watch("fn-posts", "development", actor="findly", wait=clock.advance)
    total = store.load("fn-posts")[1]
    assert total > 60
    kept = store.load_snapshot("fn-posts")
    assert kept is not None
    assert total - kept[0] < 20 + 10  # kept up with the stream (a command appends a few events at a time)
    store.read = 0
    second = _service(store, clock)  # a new process: no cache
    assert second.status("fn-posts") == first.status("fn-posts")
    assert store.read == total - kept[0]  # only the tail was read
    whole = DeploymentPipeline.replay(PLATFORM, "fn-posts", store.load("fn-posts")[0])
    assert _same(second.pipeline("fn-posts"), whole)


def test_a_snapshot_that_cannot_be_used_is_ignored_and_the_stream_read_whole() -> None:
    store, clock = MemoryEventStore(), VirtualClock(T0)
    service = _service(store, clock)
    service.deploy("fn-posts", "1.0.0", "development", actor="erin")
    version = store.load("fn-posts")[1]
    for broken in (
        {"format": snapshots.SNAPSHOT_FORMAT + 1},
        {"format": snapshots.SNAPSHOT_FORMAT, "service": "fn-posts", "version": version, "environments": 7},
        {**snapshot_of(service.pipeline("fn-posts")), "service": "fn-matcher"},
    ):
        store.snapshots["fn-posts"] = (version, broken)
        assert _same(_service(store, clock).pipeline("fn-posts"), service.pipeline("fn-posts"))
    store.snapshots["fn-posts"] = (version + 5, {**snapshot_of(service.pipeline("fn-posts")), "version": version + 5})
    assert _same(_service(store, clock).pipeline("fn-posts"), service.pipeline("fn-posts"))  # ahead of its stream


# ---- history, a page at a time ----------------------------------------------------------------------------------


def test_history_is_read_a_page_at_a_time_and_the_latest_events_alone() -> None:
    store, clock = MemoryEventStore(), VirtualClock(T0)
    service = _service(store, clock)
    for minor in range(3):
        service.deploy("fn-posts", f"1.{minor}.0", "development", actor="erin", strategy=StrategyKind.CANARY)
        service.watch("fn-posts", "development", actor="findly", wait=clock.advance)
    whole = store.load("fn-posts")[0]
    pages = list(service.history_pages("fn-posts", page=7))
    assert all(len(page) <= 7 for page in pages)
    assert [event for page in pages for event in page] == whole
    assert [event for page in service.history_pages("fn-posts", last=5, page=2) for event in page] == whole[-5:]
    assert [e for p in service.history_pages("fn-posts", last=10_000) for e in p] == whole


def test_history_json_streams_one_valid_document_and_limit_reads_the_latest(tmp_path: Any) -> None:
    from tests.conftest import EXAMPLE, PAST
    from tests.test_release_cli import cli

    env = {
        "FINDLY_CONFIG": str(EXAMPLE),
        "FINDLY_ACTOR": "erin",
        "FINDLY_STATE": str(tmp_path / "s.db"),
        "FINDLY_NOW": PAST,
    }
    cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "canary")
    cli(env, "rollout", "fn-posts", "--env", "development", "--watch")
    code, whole = cli(env, "history", "fn-posts")
    assert code == 0
    assert whole["ok"] is True
    code, latest = cli(env, "history", "fn-posts", "--limit", "3")
    assert latest["events"] == whole["events"][-3:]  # type: ignore[index]
