"""Snapshots summarise a stream without changing what it says: for random histories — every command, every
environment, any strategy — the pipeline from a snapshot (through JSON) plus the events after it equals the pipeline
from the whole stream; a service reads only the tail after its snapshot; a snapshot it cannot use is ignored. Issue 22
("snapshots are trusted blindly"): for any stream and any edit of its snapshot — body, version, link, its digest
recomputed or not — the pipeline a command loads is the fold of the events, the refusal is said and the snapshot
rebuilt by the next write; `state verify` and `state check` name the first difference; a command reads the snapshot
and its event by their keys."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from findly_infra.adapters.memory import MemoryEventStore, ScriptedMetrics, SimulatedCluster, VirtualClock
from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.application import snapshots
from findly_infra.application.ports import Snapshot
from findly_infra.application.scenarios import HEALTHY
from findly_infra.application.service import PipelineService
from findly_infra.application.snapshots import from_snapshot, snapshot_of, snapshot_text, trusted, verify_snapshot
from findly_infra.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_REFUSED
from findly_infra.domain import DeploymentPipeline, StrategyKind, Verdict
from findly_infra.domain.events import Event
from findly_infra.domain.policy import POLICY_STREAM
from findly_infra.domain.state import RECORD_EVENTS
from tests.test_cli import run
from tests.test_release_cli import cli

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


def _same(one: DeploymentPipeline, other: DeploymentPipeline, stream: Sequence[Event] = ()) -> bool:
    """The two pipelines hold the same, once each has read back from *stream* (the whole stream they fold) every
    version's records that a bounded snapshot left out — as a command naming that version reads them."""
    one, other = _read_back(one, stream), _read_back(other, stream)
    return (one.environments, one.version, one.updated) == (other.environments, other.version, other.updated)


def _read_back(pipeline: DeploymentPipeline, stream: Sequence[Event]) -> DeploymentPipeline:
    for version in sorted({e.version for e in stream}):
        before = stream[: pipeline.records_before]
        pipeline = pipeline.with_records(
            version, [e for e in before if e.type in RECORD_EVENTS and e.version == version]
        )
    assert pipeline.held is None or not pipeline.unread(), "a version the stream does not name"
    return pipeline


@functools.cache
def _production_events() -> tuple[Event, ...]:
    """The events of :func:`to_production` (recorded as they are folded)."""
    seen: list[Event] = []
    original = DeploymentPipeline.apply_all

    def recording(self: DeploymentPipeline, events: Iterable[Event]) -> DeploymentPipeline:
        events = list(events)
        seen.extend(events)
        return original(self, events)

    DeploymentPipeline.apply_all = recording  # type: ignore[method-assign]
    try:
        prepared = to_production()
    finally:
        DeploymentPipeline.apply_all = original  # type: ignore[method-assign]
    assert _same(DeploymentPipeline.replay(PLATFORM, "fn-posts", seen), prepared)
    return tuple(seen)


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
    stream = [*(_production_events() if prepared else ()), *events]
    kept = json.loads(json.dumps(snapshot_of(before)))  # as a store keeps it
    restored = from_snapshot(PLATFORM, "fn-posts", kept)
    assert restored is not None
    assert restored.version == prefix + cut
    assert snapshot_text(restored) == snapshot_text(before)  # bounded: what it keeps, it keeps again
    assert _same(restored, before, stream)
    assert _same(restored.apply_all(events[cut:]), whole, stream)
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
    assert trusted(kept) is None
    assert total - kept.snapshot.version < 20 + 10  # kept up with the stream (a command appends a few at a time)
    store.read = 0
    second = _service(store, clock)  # a new process: no cache
    assert second.status("fn-posts") == first.status("fn-posts")
    assert store.read == total - kept.snapshot.version  # only the tail was read
    stream = store.load("fn-posts")[0]
    whole = DeploymentPipeline.replay(PLATFORM, "fn-posts", stream)
    assert _same(second.pipeline("fn-posts"), whole, stream)


def test_a_snapshot_that_cannot_be_used_is_ignored_and_the_stream_read_whole() -> None:
    store, clock = MemoryEventStore(), VirtualClock(T0)
    service = _service(store, clock)
    service.deploy("fn-posts", "1.0.0", "development", actor="erin")
    stream, version = store.load("fn-posts")
    genuine = snapshot_of(service.pipeline("fn-posts"))
    for broken in (
        {"format": snapshots.SNAPSHOT_FORMAT + 1},
        {**genuine, "format": 2},  # the layout before snapshots were sealed
        {"format": snapshots.SNAPSHOT_FORMAT, "service": "fn-posts", "version": version, "environments": 7},
        {**genuine, "service": "fn-matcher"},
        {**genuine, "version": version + 1},
    ):
        store.save_snapshot("fn-posts", version, json.dumps(broken))  # sealed as findly-infra would: still unusable
        with _said() as said:
            assert _same(_service(store, clock).pipeline("fn-posts"), service.pipeline("fn-posts"), stream)
        assert said, broken
    store.snapshots["fn-posts"] = snapshots.sealed(
        "fn-posts", version + 5, snapshot_text(service.pipeline("fn-posts")), "0" * 64
    )
    with _said() as said:  # ahead of its stream
        assert _same(_service(store, clock).pipeline("fn-posts"), service.pipeline("fn-posts"), stream)
    assert "which the stream does not have" in said[0]


# ---- sealed: no edit of a snapshot reaches a command ---------------------------------------------------------------


@contextlib.contextmanager
def _said() -> Iterator[list[str]]:
    """What the application says about snapshots (on stderr, in the command line), while the block runs."""
    said: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record.getMessage())

    handler = Keep(logging.WARNING)
    snapshots.log.addHandler(handler)
    try:
        yield said
    finally:
        snapshots.log.removeHandler(handler)


def _stored_history(data: st.DataObject) -> tuple[MemoryEventStore, list[Event]]:
    """A store holding a random history of fn-posts, with a snapshot saved as a writing command saves it (at *cut*)."""
    script = data.draw(st.lists(commands, min_size=5, max_size=80), label="script")
    first = ("deploy", "development", "1.0.0", "erin", Verdict.PASS, 1, "")  # a stream of at least one event
    events = _history([first, *script], False, data.draw(st.sampled_from(list(StrategyKind)), label="kind"))
    store = MemoryEventStore()
    store.append("fn-posts", 0, events)
    cut = data.draw(st.integers(1, len(events)), label="cut")
    pipeline = DeploymentPipeline.replay(PLATFORM, "fn-posts", events[:cut])
    store.save_snapshot("fn-posts", cut, snapshot_text(pipeline))
    return store, events


@st.composite
def _edits(draw: st.DrawFn, genuine: Snapshot, events: list[Event], links: list[str]) -> Snapshot:
    """Any edit of a kept snapshot by someone who can write the snapshots but not the events: its body (another real
    state of the stream, a value changed, or not JSON), its version, its link (another event's, or made up) — and
    its digest, recomputed to match (SHA-256 is no secret) or left as it was."""
    text, version, link = genuine.text, genuine.version, genuine.link
    for part in draw(st.sets(st.sampled_from(["body", "version", "link"]), min_size=1), label="edited"):
        if part == "body":
            how = draw(st.sampled_from(["another cut", "a value", "not json"]), label="body edit")
            if how == "another cut":
                other = draw(st.integers(0, len(events)), label="other cut")
                text = snapshot_text(DeploymentPipeline.replay(PLATFORM, "fn-posts", events[:other]))
            elif how == "a value":
                body = json.loads(text)
                name = draw(st.sampled_from(["development", "staging", "production"]), label="environment")
                forged = body["environments"].setdefault(name, {})
                forged["succeeded"] = sorted({*forged.get("succeeded", []), "6.6.6"})
                forged["passed"] = [*forged.get("passed", []), ["6.6.6", "unit"]]
                canonical = draw(st.booleans(), label="canonical")
                text = json.dumps(body, sort_keys=True, separators=(",", ":")) if canonical else json.dumps(body)
            else:
                text = "{" + text
        elif part == "version":
            version = draw(st.integers(-2, len(events) + 3).filter(lambda v: v != genuine.version), label="version")
        else:
            link = draw(st.sampled_from([*links, "f" * 64, None]).filter(lambda v: v != genuine.link), label="link")
    how = draw(st.sampled_from(["recomputed", "kept", "removed"]), label="digest")
    digest = (
        snapshots.digest_of("fn-posts", version, link, text)
        if how == "recomputed" and link is not None
        else (genuine.digest if how == "kept" else None)
    )
    return Snapshot("fn-posts", version, text, link, digest)


@settings(max_examples=150)
@given(st.data())
def test_no_edit_of_a_snapshot_changes_the_pipeline_a_command_loads(data: st.DataObject) -> None:
    store, events = _stored_history(data)
    whole = DeploymentPipeline.replay(PLATFORM, "fn-posts", events)
    genuine = store.snapshots["fn-posts"]
    links = store.links["fn-posts"]
    edited = data.draw(_edits(genuine, events, links), label="edited snapshot")
    store.snapshots["fn-posts"] = edited
    with _said() as said:
        loaded = _service(store, VirtualClock(T0)).pipeline("fn-posts")
    assert _same(loaded, whole, events)
    if edited != genuine:  # refused, and said
        assert len(said) == 1
        assert said[0].startswith(f"fn-posts: the snapshot at event {edited.version} ")
    event(f"refused: {said[0].split(' ', 6)[-1][:40] if said else 'no'}")


@settings(max_examples=50)
@given(st.data())
def test_a_snapshot_is_trusted_only_as_saved_and_a_refused_one_is_rebuilt_by_the_next_write(
    data: st.DataObject,
) -> None:
    store, events = _stored_history(data)
    with _said() as said:  # as saved: trusted, and only the events after it are read
        assert _same(
            _service(store, VirtualClock(T0)).pipeline("fn-posts"),
            DeploymentPipeline.replay(PLATFORM, "fn-posts", events),
            events,
        )
    assert said == []
    store.snapshots["fn-posts"] = attrs.evolve(store.snapshots["fn-posts"], text=store.snapshots["fn-posts"].text + " ")
    clock = VirtualClock(events[-1].at)
    service = _service(store, clock)
    with _said() as said:
        service.record_test("fn-posts", "1.0.0", "development", "rebuilt", True, actor="erin")  # a write
    assert len(said) == 1
    rebuilt = store.load_snapshot("fn-posts")
    assert rebuilt is not None
    assert trusted(rebuilt) is None
    assert rebuilt.snapshot.version == len(events) + 1  # at once, however short the stream
    with _said() as said:
        assert _same(
            _service(store, clock).pipeline("fn-posts"), service.pipeline("fn-posts"), store.load("fn-posts")[0]
        )
    assert said == []


@given(st.data())
def test_verify_snapshot_names_the_first_difference_of_any_edit_and_passes_the_genuine(data: st.DataObject) -> None:
    store, events = _stored_history(data)
    genuine = store.load_snapshot("fn-posts")
    assert genuine is not None
    assert verify_snapshot(genuine, events).ok
    edited = data.draw(_edits(genuine.snapshot, events, store.links["fn-posts"]), label="edited snapshot")
    store.snapshots["fn-posts"] = edited
    kept = store.load_snapshot("fn-posts")
    assert kept is not None
    verdict = verify_snapshot(kept, events)
    if edited == genuine.snapshot:  # an edit that changed nothing (another cut at the same place)
        assert verdict.ok
        assert verdict.note is None
    elif edited.link is None or edited.digest is None:  # as a snapshot of an older findly-infra: no command uses it
        assert verdict.ok
        assert verdict.note is not None
    else:  # any other edit is named: a sealed snapshot is the fold of its stream or a problem
        assert not verdict.ok, verdict
        assert str(verdict).startswith(f"fn-posts: the snapshot at event {edited.version} ")
    event(f"verify: {(verdict.problem or verdict.note or '')[:30]}")


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


# ---- a forged row in a state file, through the command line ---------------------------------------------------------


def _forge(state: str, *, digest: bool) -> None:
    """Write into fn-posts' snapshot that 1.0.0 passed every suite development requires — as someone who can write
    the snapshots table would, by SQL; with *digest*, its digest recomputed to match (and its link left right)."""
    with sqlite3.connect(state) as raw:
        (version, body) = raw.execute("SELECT version, body FROM snapshots WHERE service = 'fn-posts'").fetchone()
        forged = json.loads(body)
        forged["environments"]["development"]["passed"] += [["1.0.0", s] for s in ("unit", "integration", "smoke")]
        text = json.dumps(forged, sort_keys=True, separators=(",", ":"))
        raw.execute("UPDATE snapshots SET body = ? WHERE service = 'fn-posts'", (text,))
        if digest:
            (link,) = raw.execute("SELECT link FROM events WHERE service = 'fn-posts' AND position = ?", (version - 1,))
            raw.execute(
                "UPDATE snapshots SET digest = ? WHERE service = 'fn-posts'",
                (snapshots.digest_of("fn-posts", version, link[0], text),),
            )
    raw.close()


@pytest.mark.parametrize("digest", [False, True], ids=["body-edited", "digest-recomputed"])
def test_a_forged_snapshot_drives_no_promotion_and_verify_and_check_name_it(env: dict[str, str], digest: bool) -> None:
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == EXIT_OK
    assert cli(env, "rollout", "fn-posts", "--env", "development", "--watch")[0] == EXIT_OK
    assert cli(env, "state", "snapshot")[0] == EXIT_OK
    code, verified = cli(env, "state", "verify")
    assert code == EXIT_OK, verified
    assert verified["streams"]["fn-posts"]["snapshot"]["ok"] is True  # type: ignore[index]
    _forge(env["FINDLY_STATE"], digest=digest)

    promoted = run("--json", "promote", "fn-posts", "1.0.0", "--to", "staging", env=env)
    assert promoted.returncode == EXIT_REFUSED, promoted.stdout + promoted.stderr  # the events say: no test passed
    assert json.loads(promoted.stdout)["error"]["rule"] == "required-tests"
    warning = next(json.loads(line) for line in promoted.stderr.splitlines() if "snapshot.refused" in line)
    assert warning["level"] == "warning"
    assert warning["service"] == "fn-posts"
    assert warning["message"].startswith("fn-posts: the snapshot at event ")
    assert "the stream is read whole" in warning["message"]

    verified = run("--json", "state", "verify", env=env)
    assert verified.returncode == EXIT_BAD_INPUT, verified.stdout + verified.stderr
    document = json.loads(verified.stdout)
    assert (document["ok"], document["intact"]) == (False, False)
    problem = document["streams"]["fn-posts"]["snapshot"]["problem"]
    assert problem.startswith("is not the fold of the events: environments.development.passed: the snapshot says")
    assert document["streams"]["fn-posts"]["broken"] is None  # the events themselves are as written
    text = run("state", "verify", env=env).stdout
    assert "NOT intact" in text
    assert "fn-posts: the snapshot at event " in text
    checked = run("state", "check", env=env)
    assert checked.returncode == EXIT_BAD_INPUT, checked.stdout + checked.stderr
    assert "damaged" in checked.stdout
    assert "fn-posts: the snapshot at event " in checked.stdout

    assert cli(env, "state", "snapshot")[0] == EXIT_OK  # rebuilt from the events: sound again
    assert cli(env, "state", "verify")[0] == EXIT_OK
    assert cli(env, "state", "check")[0] == EXIT_OK


def test_a_command_reads_the_snapshot_and_its_event_by_their_keys_never_a_walk(tmp_path: Path) -> None:
    store, clock = SqliteEventStore(tmp_path / "state.sqlite3"), VirtualClock(T0)
    try:
        service = _service(store, clock)  # type: ignore[arg-type]
        for minor in range(3):
            service.deploy("fn-posts", f"1.{minor}.0", "development", actor="erin", strategy=StrategyKind.CANARY)
            service.watch("fn-posts", "development", actor="findly", wait=clock.advance)
        service.save_snapshot("fn-posts")
        statements: list[str] = []
        store._connection.set_trace_callback(statements.append)
        kept = store.load_snapshot("fn-posts")
        store._connection.set_trace_callback(None)
        assert kept is not None
        assert trusted(kept) is None
        assert len(statements) == 1  # one read
        plan = [row[3] for row in store._connection.execute(f"EXPLAIN QUERY PLAN {statements[0]}")]
        assert plan, statements
        assert all(step.startswith("SEARCH") for step in plan), plan  # by the primary keys: no SCAN of a table
    finally:
        store.close()
