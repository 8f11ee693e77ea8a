"""Issue 24: a snapshot holds what the rules read, bounded however long the history. The records of versions
(``succeeded``, ``passed``, ``failed``) are read by version only — the version a promotion or a test result names, or
the one an environment holds — so a snapshot keeps the records of the versions its environments hold, and a command
reads back the records of the version it names from the stream (one indexed read). For random histories, cut
anywhere: every command on every version and environment decides exactly as on the whole stream; a version promoted
years later (its records long out of the snapshot) is judged on its whole record; a snapshot of a long history is
as large as one of a short history; a rule asked about a version not read back refuses to guess; a snapshot of the
format before (every record) still reads, and the next write replaces it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from findly_infra.adapters.memory import MemoryEventStore, ScriptedMetrics, SimulatedCluster, VirtualClock
from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.application import snapshots
from findly_infra.application.ports import StateError
from findly_infra.application.scenarios import HEALTHY
from findly_infra.application.service import PipelineService, PolicyRefusedError
from findly_infra.application.snapshots import from_snapshot, restore, snapshot_text
from findly_infra.domain import DeploymentPipeline, StrategyKind, Verdict
from findly_infra.domain.events import Event
from findly_infra.domain.state import RECORD_EVENTS, UnreadRecordsError
from findly_infra.domain.view import EnvironmentView
from tests.test_release_cli import cli

from .test_audit_trail import PEOPLE, PLATFORM, T0

ENVS = PLATFORM.promotion_order
VERSIONS = tuple(f"1.0.{n}" for n in range(12))
SUITES = tuple(dict.fromkeys(suite for env in PLATFORM.environments for suite in env.tests))

ship = st.tuples(st.just("ship"), st.sampled_from(ENVS[:2]), st.sampled_from(VERSIONS), st.lists(st.booleans()))
steps = st.one_of(
    ship,
    ship,
    st.tuples(st.just("ship"), st.sampled_from(ENVS[:2]), st.sampled_from(VERSIONS), st.lists(st.booleans())),
    st.tuples(
        st.just("test"), st.sampled_from(ENVS), st.sampled_from(VERSIONS), st.sampled_from(SUITES), st.booleans()
    ),
    st.tuples(
        st.sampled_from(["deploy", "approve"]),
        st.sampled_from(ENVS),
        st.sampled_from(VERSIONS),
        st.sampled_from(PEOPLE),
    ),
    st.tuples(st.just("analyze"), st.sampled_from(ENVS), st.sampled_from([Verdict.PASS] * 3 + [Verdict.FAIL])),
    st.tuples(st.sampled_from(["pause", "resume", "abort", "rollback"]), st.sampled_from(ENVS)),
    st.tuples(st.just("return"), st.sampled_from(ENVS[:2]), st.sampled_from(VERSIONS)),
)


def _decide(pipeline: DeploymentPipeline, step: tuple[Any, ...], at: datetime) -> Any:
    """One command of a script on *pipeline* (its decision)."""
    kind = step[0]
    if kind == "test":
        _, env, version, suite, passed = step
        return pipeline.record_test(version, env, suite, passed, actor="ci", at=at)
    if kind == "deploy":
        _, env, version, actor = step
        return pipeline.deploy(version, env, actor=actor, at=at)
    if kind == "approve":
        _, env, version, actor = step
        return pipeline.approve(version, env, actor=actor, at=at)
    if kind == "analyze":
        return pipeline.analyze(step[1], step[2], actor="findly", at=at)
    if kind == "return":  # a release returning a part (issue 28)
        return pipeline.return_to(step[1], step[2], actor="release", at=at, reason="r")
    return getattr(pipeline, kind)(step[1], actor="erin", at=at, reason="r")


def _history(script: list[tuple[Any, ...]], kind: StrategyKind) -> list[Event]:
    """The events of *script* on fn-posts: ``ship`` takes a version through an environment (its rollout watched to
    its end, then each of the environment's suites recorded, passed or failed as drawn)."""
    pipeline, events, at = DeploymentPipeline.start(PLATFORM, "fn-posts"), list[Event](), T0
    for step in script:
        decisions = []
        if step[0] == "ship":
            _, env, version, results = step
            at += timedelta(minutes=1)
            decisions.append(pipeline.deploy(version, env, actor="erin", at=at, strategy=kind))
            pipeline = pipeline.apply_all(decisions[-1].events)
            for _ in range(12):
                at += timedelta(minutes=10)
                decision = pipeline.analyze(env, Verdict.PASS, actor="findly", at=at)
                if decision.refusal is not None:
                    break
                decisions.append(decision)
                pipeline = pipeline.apply_all(decision.events)
            for suite, passed in zip(PLATFORM.environment(env).tests, [*results, *[True] * 4], strict=False):
                decisions.append(pipeline.record_test(version, env, suite, passed, actor="ci", at=at))
                pipeline = pipeline.apply_all(decisions[-1].events)
        else:
            at += timedelta(minutes=3)
            decisions.append(_decide(pipeline, step, at))
            pipeline = pipeline.apply_all(decisions[-1].events)
        events += [e for d in decisions for e in d.events]
    return events


def _read_back(pipeline: DeploymentPipeline, store: MemoryEventStore, versions: Sequence[str] = ()) -> Any:
    """What the use cases do before deciding: the records of *versions* and of those the environments hold, read
    back from the store where the snapshot left them out."""
    for version in pipeline.unread(versions):
        pipeline = pipeline.with_records(version, store.records("fn-posts", version, pipeline.records_before))
    return pipeline


def _probes(at: datetime) -> list[tuple[Any, ...]]:
    """Every command on every version (one never seen too) and environment."""
    found: list[tuple[Any, ...]] = []
    for env in ENVS:
        for version in (*VERSIONS, "9.9.9"):
            found += [("deploy", env, version, "erin"), ("approve", env, version, "alice")]
            found += [("test", env, version, suite, passed) for suite in SUITES for passed in (True, False)]
            found.append(("return", env, version))
        found += [("analyze", env, verdict) for verdict in Verdict]
        found += [(verb, env) for verb in ("pause", "resume", "abort", "rollback")]
    return found


@settings(max_examples=120, deadline=None)
@given(st.lists(steps, min_size=3, max_size=40), st.sampled_from(list(StrategyKind)), st.data())
def test_every_command_decides_on_a_bounded_snapshot_as_on_the_whole_stream(
    script: list[tuple[Any, ...]], kind: StrategyKind, data: st.DataObject
) -> None:
    events = _history(script, kind)
    if not events:
        return
    store = MemoryEventStore()
    store.append("fn-posts", 0, events)
    whole = DeploymentPipeline.replay(PLATFORM, "fn-posts", events)
    cut = data.draw(st.integers(1, len(events)), label="cut")
    kept = json.loads(snapshot_text(DeploymentPipeline.replay(PLATFORM, "fn-posts", events[:cut])))
    restored = from_snapshot(PLATFORM, "fn-posts", kept)
    assert restored is not None
    loaded = _read_back(restored.apply_all(events[cut:]), store)  # as a command loads it
    at = events[-1].at + timedelta(minutes=1)
    for env in ENVS:  # what status shows: the view of each environment (what serves, what it waits for)
        assert EnvironmentView.of(loaded, env, at) == EnvironmentView.of(whole, env, at)
    left_out = 0
    for probe in _probes(at):
        named = (probe[2],) if probe[0] in ("deploy", "approve", "test", "return") else ()
        left_out += bool(loaded.unread(named))
        decided = _decide(_read_back(loaded, store, named), probe, at)
        assert decided == _decide(whole, probe, at), probe
        if probe[0] == "return" and decided.events:  # what serves after it, and the entry it is judged by
            after, expected = loaded.apply_all(decided.events), whole.apply_all(decided.events)
            mine, theirs = after.environments[probe[1]], expected.environments[probe[1]]
            assert (mine.current, mine.let_in) == (theirs.current, theirs.let_in), probe
    # what it snapshots next is what the whole stream gives
    assert snapshot_text(loaded) == snapshot_text(whole)
    event(f"commands that read a version back: {min(left_out, 100) // 20 * 20}+")
    recorded = {e.version for e in events[:cut] if e.type in RECORD_EVENTS}
    event(f"versions whose records the snapshot left out: {min(len(recorded - (restored.held or set())), 6)}")


def _whole_body(events: list[Event]) -> dict[str, Any]:
    """A snapshot as format 4 kept it: every version's records."""
    pipeline = DeploymentPipeline.replay(PLATFORM, "fn-posts", events)
    body = json.loads(snapshot_text(pipeline))
    converter = snapshots._converter()
    body["format"] = 4
    body["environments"] = {
        name: converter.unstructure(state) for name, state in pipeline.environments.items() if state != snapshots._EMPTY
    }
    for state in body["environments"].values():
        state.pop("let_in_before")  # format 6 added it
    return body


def test_a_rule_asked_about_a_version_not_read_back_refuses_to_guess() -> None:
    events = _history(
        [("ship", "development", version, []) for version in ("1.0.0", "1.0.1", "1.0.2")], StrategyKind.ROLLING
    )
    restored = from_snapshot(
        PLATFORM, "fn-posts", json.loads(snapshot_text(DeploymentPipeline.replay(PLATFORM, "fn-posts", events)))
    )
    assert restored is not None
    assert restored.unread(("1.0.0",)) == ("1.0.0",)  # 1.0.2 serves, replacing 1.0.1: theirs are kept
    at = events[-1].at
    with pytest.raises(UnreadRecordsError):
        restored.deploy("1.0.0", "staging", actor="erin", at=at)
    with pytest.raises(UnreadRecordsError):
        restored.record_test("1.0.0", "development", "unit", True, actor="ci", at=at)
    store = MemoryEventStore()
    store.append("fn-posts", 0, events)
    assert _read_back(restored, store, ("1.0.0",)).deploy("1.0.0", "staging", actor="erin", at=at).accepted


# ---- a long history, through the use cases and a durable store ---------------------------------------------------


def _releases(count: int, at: datetime) -> list[Event]:
    """*count* releases of fn-posts through development (a canary watched to its end, its suites recorded): each
    odd one fails integration; the last serves."""
    events, pipeline = list[Event](), DeploymentPipeline.start(PLATFORM, "fn-posts")
    for n in range(count):
        version = f"1.0.{n}"
        decisions = [pipeline.deploy(version, "development", actor="erin", at=at, strategy=StrategyKind.CANARY)]
        pipeline = pipeline.apply_all(decisions[-1].events)
        while (rollout := pipeline.environments["development"].rollout) is not None and rollout.phase.active:
            at += timedelta(minutes=10)
            decisions.append(pipeline.analyze("development", Verdict.PASS, actor="findly", at=at))
            pipeline = pipeline.apply_all(decisions[-1].events)
        for suite in PLATFORM.environment("development").tests:
            passed = not (suite == "integration" and n % 2)
            decisions.append(pipeline.record_test(version, "development", suite, passed, actor="ci", at=at))
            pipeline = pipeline.apply_all(decisions[-1].events)
        events += [e for d in decisions for e in d.events]
    return events


def _service(store: Any, at: datetime) -> PipelineService:
    return PipelineService(PLATFORM, store, VirtualClock(at), ScriptedMetrics(lambda _: HEALTHY), SimulatedCluster())


def test_a_long_history_snapshot_is_bounded_and_an_old_version_is_judged_on_its_whole_record(tmp_path: Path) -> None:
    sizes = {}
    for count in (20, 400):
        store = SqliteEventStore(tmp_path / f"{count}.sqlite3")
        events = _releases(count, T0)
        store.append("fn-posts", 0, events)
        service = _service(store, events[-1].at + timedelta(days=700))  # years later
        assert service.save_snapshot("fn-posts") == len(events)
        kept = store.load_snapshot("fn-posts")
        assert kept is not None
        sizes[count] = len(kept.snapshot.text)
        whole = DeploymentPipeline.replay(PLATFORM, "fn-posts", events)
        assert len(whole.environments["development"].passed) >= 2 * count  # what format 4 kept: every release's
        fresh = _service(store, events[-1].at + timedelta(days=700))  # a new process: from the snapshot
        assert fresh.pipeline("fn-posts").held is not None
        # 1.0.5 failed integration long ago: refused, naming it; 7.7.7 never ran; 1.0.2 passed all: it goes on
        with pytest.raises(PolicyRefusedError) as refused:
            fresh.deploy("fn-posts", "1.0.5", "staging", actor="erin")
        assert refused.value.refusal.rule == "required-tests"
        assert "integration" in refused.value.refusal.message
        with pytest.raises(PolicyRefusedError) as never:
            fresh.deploy("fn-posts", "7.7.7", "staging", actor="erin")
        assert never.value.refusal.rule == "promotion-order"
        assert fresh.deploy("fn-posts", "1.0.2", "staging", actor="erin").events
        # the same result again is a retry (the old record answers), a new one is recorded
        assert fresh.record_test("fn-posts", "1.0.3", "development", "unit", True, actor="ci").already
        assert not fresh.record_test("fn-posts", "1.0.3", "development", "integration", True, actor="ci").already
        store.close()
    assert sizes[400] < sizes[20] * 1.5, sizes  # bounded: twenty times the releases, about the same snapshot


def test_a_snapshot_of_a_format_before_is_read_or_rebuilt_and_the_next_write_replaces_it(tmp_path: Path) -> None:
    """Format 4 (every record) and 5 lack ``let_in_before`` (format 6): one whose environments hold a success a
    release could return from is not read (the stream is read whole); one that holds none still reads."""
    store = SqliteEventStore(tmp_path / "state.sqlite3")
    events = _releases(6, T0)
    first = _releases(1, T0)
    store.append("fn-posts", 0, first)
    store.save_snapshot("fn-posts", len(first), json.dumps(_whole_body(first), sort_keys=True, separators=(",", ":")))
    kept = store.load_snapshot("fn-posts")
    assert kept is not None
    old = restore(PLATFORM, "fn-posts", kept)
    assert isinstance(old, DeploymentPipeline)  # nothing served before the first release: nothing to return to
    assert old.held is None  # whole: every record
    store = SqliteEventStore(tmp_path / "other.sqlite3")
    store.append("fn-posts", 0, events)
    store.save_snapshot("fn-posts", len(events), json.dumps(_whole_body(events), sort_keys=True, separators=(",", ":")))
    kept = store.load_snapshot("fn-posts")
    assert kept is not None
    assert isinstance(restore(PLATFORM, "fn-posts", kept), str)  # it cannot say what a return restores: rebuilt
    service = _service(store, events[-1].at + timedelta(hours=1))
    assert service.deploy("fn-posts", "1.0.0", "staging", actor="erin").events
    rebuilt = store.load_snapshot("fn-posts")
    assert rebuilt is not None
    assert json.loads(rebuilt.snapshot.text)["format"] == snapshots.SNAPSHOT_FORMAT
    assert rebuilt.snapshot.version > len(events)


@settings(max_examples=80, deadline=None)
@given(st.lists(steps, min_size=3, max_size=30), st.sampled_from(list(StrategyKind)), st.data())
def test_folding_a_page_at_a_time_is_folding_one_event_at_a_time(
    script: list[tuple[Any, ...]], kind: StrategyKind, data: st.DataObject
) -> None:
    events = _history(script, kind)
    one_by_one = DeploymentPipeline.start(PLATFORM, "fn-posts")
    for each in events:
        one_by_one = one_by_one.apply(each)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(events)), max_size=4), label="pages"))
    paged = DeploymentPipeline.start(PLATFORM, "fn-posts")
    for start, end in zip([0, *cuts], [*cuts, len(events)], strict=True):
        paged = paged.apply_all(iter(events[start:end]) if start % 2 else events[start:end])
    assert list(paged.environments.items()) == list(one_by_one.environments.items())  # in the same order
    assert (paged.version, paged.updated) == (one_by_one.version, one_by_one.updated)


def test_state_snapshot_folds_the_stream_a_page_at_a_time_never_whole(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 24: `state snapshot` of a long stream held every event of it decoded at once (twice): it reads a page at
    a time, and keeps the same snapshot."""
    store = SqliteEventStore(env["FINDLY_STATE"])
    events = _releases(40, T0)
    store.append("fn-posts", 0, events)
    store.close()
    monkeypatch.setattr(snapshots, "SNAPSHOT_PAGE", 100)
    monkeypatch.setattr("findly_infra.application.service.SNAPSHOT_PAGE", 100)
    held: list[int] = []
    for method in ("load", "page"):
        original = getattr(SqliteEventStore, method)

        def counting(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            found = _original(self, *args, **kwargs)
            held.append(len(found[0]) if args and args[0] == "fn-posts" else 0)
            return found

        monkeypatch.setattr(SqliteEventStore, method, counting)
    code, document = cli(env, "--now", "2026-12-01T00:00:00Z", "state", "snapshot")
    assert (code, document["snapshots"]) == (0, {"fn-posts": len(events)})
    assert len(events) > 5 * 100
    assert max(held) <= 100, max(held)  # a page, never the stream
    kept = SqliteEventStore(env["FINDLY_STATE"]).load_snapshot("fn-posts")
    assert kept is not None
    assert kept.snapshot.text == snapshot_text(DeploymentPipeline.replay(PLATFORM, "fn-posts", events))


# ---- what a record read back rests on: the text its link covers, checked (the review of issue 24) --------------


def _failed_latest(tmp_path: Path) -> tuple[SqliteEventStore, datetime, int]:
    """A state whose 1.0.2 passed integration in development and then failed it (its latest result), snapshotted —
    its records out of the bounded snapshot — and the position of that failure."""
    store = SqliteEventStore(tmp_path / "state.sqlite3")
    events = _releases(6, T0)
    store.append("fn-posts", 0, events)
    later = events[-1].at + timedelta(days=1)
    service = _service(store, later)
    service.record_test("fn-posts", "1.0.2", "development", "integration", False, actor="\u738b\u5c0f\u660e")
    service.save_snapshot("fn-posts")
    with pytest.raises(PolicyRefusedError, match="required-tests"):
        _service(SqliteEventStore(store.path), later).deploy("fn-posts", "1.0.2", "staging", actor="erin")
    (position,) = store._connection.execute(
        "SELECT max(position) FROM events WHERE type = 'test_result_recorded'"
    ).fetchone()
    return store, later, int(position)


def test_a_record_edited_after_it_was_linked_is_refused_when_read_back(tmp_path: Path) -> None:
    """Before, a read back checked no link: a failure edited into a pass promoted the version it failed."""
    store, later, position = _failed_latest(tmp_path)
    store._connection.execute(
        "UPDATE events SET body = replace(body, '\"passed\": false', '\"passed\": true') WHERE position = ?",
        (position,),
    )
    with pytest.raises(StateError, match=f"fn-posts's event {position} is unlinked"):
        _service(SqliteEventStore(store.path), later).deploy("fn-posts", "1.0.2", "staging", actor="erin")


def test_a_damaged_record_is_named_when_read_back_never_skipped(tmp_path: Path) -> None:
    """Before, a record that was no longer JSON was left out of the index: the failure vanished, the version was
    promoted on the pass before it."""
    store, later, position = _failed_latest(tmp_path)
    store._connection.execute("UPDATE events SET body = substr(body, 1, 40) WHERE position = ?", (position,))
    with pytest.raises(StateError, match=f"event {position}"):
        _service(SqliteEventStore(store.path), later).deploy("fn-posts", "1.0.2", "staging", actor="erin")


def test_the_type_column_alone_hides_no_record(tmp_path: Path) -> None:
    """The index keeps every event but analyses by the text the link covers: a ``type`` column changed by hand (which
    no link covers) once hid the failure from the read back, and the version was promoted."""
    store, later, position = _failed_latest(tmp_path)
    store._connection.execute("UPDATE events SET type = 'analysis_recorded' WHERE position = ?", (position,))
    with pytest.raises(PolicyRefusedError, match="required-tests"):
        _service(SqliteEventStore(store.path), later).deploy("fn-posts", "1.0.2", "staging", actor="erin")


def test_an_older_state_locked_by_another_writer_opens_without_its_records_index(tmp_path: Path) -> None:
    """Building the index is a shortcut: a state made before it, locked by another writer when a command opens it,
    opens (before, the open failed as locked) and finds the records by a walk until a later command builds it."""
    store, later, _ = _failed_latest(tmp_path)
    store._connection.execute("DROP INDEX events_record_keys")
    store.close()
    other = sqlite3.connect(store.path, isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    try:
        opened = SqliteEventStore(store.path, timeout=0.05)
        found = opened.records("fn-posts", "1.0.2", 10_000)
        assert [e.passed for e in found if getattr(e, "suite", None) == "integration"][-1] is False
        opened.close()
    finally:
        other.execute("ROLLBACK")
        other.close()
    with pytest.raises(PolicyRefusedError, match="required-tests"):
        _service(SqliteEventStore(store.path), later).deploy("fn-posts", "1.0.2", "staging", actor="erin")


def test_state_verify_compares_a_snapshot_of_format_4_in_its_own_format(tmp_path: Path) -> None:
    """Commands still trust a sealed snapshot of format 4 (every record); ``state verify`` once folded the stream
    into format 5 and called every such snapshot wrong — and could not tell a tampered one from a good one."""
    store = SqliteEventStore(tmp_path / "state.sqlite3")
    events = _releases(6, T0)
    store.append("fn-posts", 0, events)
    body = _whole_body(events)
    store.save_snapshot("fn-posts", len(events), json.dumps(body, sort_keys=True, separators=(",", ":")))
    kept = store.load_snapshot("fn-posts")
    assert kept is not None
    assert snapshots.verify_snapshot(kept, events).problem is None
    body["environments"]["development"]["failed"] = []  # tampered: a failure taken out
    store.save_snapshot("fn-posts", len(events), json.dumps(body, sort_keys=True, separators=(",", ":")))
    tampered = store.load_snapshot("fn-posts")
    assert tampered is not None
    assert snapshots.verify_snapshot(tampered, events).problem is not None
