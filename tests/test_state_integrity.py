"""The state never lost and never misread: a file that is not a findly state, or was damaged, removed or replaced,
is refused with a message that says what to do (exit 2), a busy one is exit 5, and nothing writes over a team's
state by mistake (issue 11: "Never lose state")."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from findly_infra import load_platform, load_platform_text
from findly_infra.adapters.sqlite import APPLICATION_ID, SCHEMA_VERSION, SqliteEventStore, SqliteSimulatedCluster
from findly_infra.application.ports import ConcurrencyError, DependencyUnavailableError, StateError
from findly_infra.application.scenarios import SCENARIOS
from findly_infra.application.service import NotRoutedError, PipelineService, PolicyRefusedError
from findly_infra.cli import EXIT_BAD_INPUT, EXIT_DEPENDENCY
from findly_infra.domain import DeploymentPipeline, EnvironmentView, Holding, StrategyKind, expected_holding
from findly_infra.domain import events as recorded_events
from findly_infra.domain.events import AnalysisRecorded, Event, RolledBack, Verdict
from findly_infra.testing import MemoryEventStore, ScenarioMetrics, SimulatedCluster, VirtualClock
from tests.conftest import EXAMPLE
from tests.reliability import tally
from tests.test_cli import run
from tests.test_release_cli import cli


def _event(position: int) -> AnalysisRecorded:
    return AnalysisRecorded(
        service="fn-posts",
        environment="development",
        version="1.0.0",
        at=datetime(2026, 1, 5, 9, position),
        actor="findly",
        verdict=Verdict.PASS,
    )


def _deployed(env: dict[str, str]) -> Path:
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    return Path(env["FINDLY_STATE"])


# ---- 1: the demo never writes over a team's state ------------------------------------------------------------------


def test_the_demo_refuses_a_state_it_did_not_make_and_replaces_its_own(env: dict[str, str], tmp_path: Path) -> None:
    team = _deployed(env)
    before = team.read_bytes()
    refused = run("demo", "--state", str(team), env={"FINDLY_CONFIG": ""}, cwd=tmp_path)
    assert refused.returncode == EXIT_BAD_INPUT
    assert "is not a demo's: the demo writes only to a new state" in refused.stderr
    assert team.read_bytes() == before
    assert len(SqliteEventStore(team).load("fn-posts")[0]) == 2  # the team's events are all there
    for _ in range(2):  # its own store, again and again
        assert run("demo", cwd=tmp_path, env={"FINDLY_CONFIG": "", "FINDLY_STATE": ""}).returncode == 0
    other = run("demo", "--state", "redis://x/0", env={"FINDLY_CONFIG": ""}, cwd=tmp_path)
    assert other.returncode == EXIT_BAD_INPUT  # a scheme it cannot keep is refused before any file is made
    assert not (tmp_path / "redis:").exists()


# ---- 15: read-only commands create nothing; a state is a findly state or it is refused ----------------------------


def test_read_only_commands_create_no_state(env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "not" / "here.sqlite3"
    for command in (("status", "fn-posts"), ("history", "fn-posts")):
        code, _ = cli({**env, "FINDLY_STATE": str(missing)}, *command)
        assert code == 0
    assert not (tmp_path / "not").exists()
    absent = SqliteEventStore(missing, create=False)  # and what reads it cannot write into a store nobody keeps
    with pytest.raises(StateError, match="does not exist and was opened to read only"):
        absent.append("fn-posts", 0, (_event(0),))
    with pytest.raises(StateError, match="opened to read only"):
        SqliteSimulatedCluster(absent).converge(_served(), datetime(2026, 1, 5, 9))
    absent.close()
    assert not (tmp_path / "not").exists()


def _served() -> EnvironmentView:
    """A view of fn-posts in development: 1.0.0 rolling out."""
    pipeline = DeploymentPipeline.start(load_platform(EXAMPLE), "fn-posts")
    at = datetime(2026, 1, 5, 9)
    pipeline = pipeline.apply_all(pipeline.deploy("1.0.0", "development", actor="erin", at=at).events)
    return EnvironmentView.of(pipeline, "development", at)


def _sqlite_without_our_marks(path: Path) -> None:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE other (x)")
    connection.commit()
    connection.close()


@pytest.mark.parametrize(
    ("make", "said"),
    [
        (lambda p: p.mkdir(), "is not a file"),
        (lambda p: p.write_text("hello\n"), "is not a findly state (not an SQLite file)"),
        (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
        (_sqlite_without_our_marks, "is an SQLite file, but not a findly state"),
    ],
    ids=["directory", "text", "empty", "another-database"],
)
def test_what_is_not_a_findly_state_is_refused_and_left_alone(
    env: dict[str, str], tmp_path: Path, make: object, said: str
) -> None:
    state = tmp_path / "state.sqlite3"
    make(state)  # type: ignore[operator]
    for command in (("status", "fn-posts"), ("deploy", "fn-posts", "1.0.0", "--env", "development")):
        code, document = cli({**env, "FINDLY_STATE": str(state)}, *command)
        assert (code, document["error"]["kind"]) == (EXIT_BAD_INPUT, "bad_input")  # type: ignore[index]
        assert said in document["error"]["message"]  # type: ignore[index]
    if state.is_file() and state.read_bytes().startswith(b"SQLite format 3"):  # another program's: left as it was
        assert "events" not in {r[0] for r in sqlite3.connect(state).execute("SELECT name FROM sqlite_master")}


def test_a_state_says_its_schema_and_a_newer_one_is_refused(env: dict[str, str]) -> None:
    state = _deployed(env)
    connection = sqlite3.connect(state)
    assert connection.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
    assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    code, document = cli(env, "status", "fn-posts")
    assert code == EXIT_BAD_INPUT
    assert "was written by a newer findly-infra" in document["error"]["message"]  # type: ignore[index]


def test_a_state_from_before_states_were_marked_is_read_and_marked(tmp_path: Path) -> None:
    state = tmp_path / "old.sqlite3"
    connection = sqlite3.connect(state)  # the schema as versions before this one wrote it
    connection.execute(
        "CREATE TABLE events (service TEXT NOT NULL, position INTEGER NOT NULL, type TEXT NOT NULL, "
        "at TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (service, position)) WITHOUT ROWID"
    )
    connection.commit()
    connection.close()
    store = SqliteEventStore(state)
    store.append("fn-posts", 0, (_event(0),))
    assert store.load("fn-posts")[1] == 1
    store.close()
    assert sqlite3.connect(state).execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)


def test_a_state_of_schema_2_is_sealed_when_first_written_and_the_snapshots_it_kept_are_never_trusted(
    env: dict[str, str],
) -> None:
    state = _deployed(env)
    assert cli(env, "rollout", "fn-posts", "--env", "development", "--watch")[0] == 0
    assert cli(env, "state", "snapshot")[0] == 0
    with sqlite3.connect(state) as raw:  # as a findly-infra before sealed snapshots left it, its snapshot forged
        raw.execute("ALTER TABLE events DROP COLUMN seal")
        raw.execute("ALTER TABLE snapshots DROP COLUMN link")
        raw.execute("ALTER TABLE snapshots DROP COLUMN digest")
        raw.execute("PRAGMA user_version = 2")
        (body,) = raw.execute("SELECT body FROM snapshots WHERE service = 'fn-posts'").fetchone()
        forged = {**json.loads(body), "format": 2}  # the layout that version trusted as it stood
        forged["environments"]["development"]["passed"] += [["1.0.0", s] for s in ("unit", "integration", "smoke")]
        raw.execute("UPDATE snapshots SET body = ? WHERE service = 'fn-posts'", (json.dumps(forged),))
    raw.close()
    platform = load_platform(EXAMPLE)
    reader = SqliteEventStore(state, create=False)  # a read-only command: nothing migrated, nothing trusted
    try:
        kept = reader.load_snapshot("fn-posts")
        assert kept is not None
        assert (kept.snapshot.link, kept.snapshot.digest, kept.event_seal) == (None, None, None)
        service = PipelineService(
            platform,
            reader,
            VirtualClock(datetime(2026, 1, 5, 9)),
            ScenarioMetrics(SCENARIOS["healthy"]),
            SimulatedCluster(),
        )
        whole = DeploymentPipeline.replay(platform, "fn-posts", reader.load("fn-posts")[0])
        assert service.pipeline("fn-posts").environments == whole.environments
    finally:
        reader.close()
    assert sqlite3.connect(state).execute("PRAGMA user_version").fetchone() == (2,)

    code, document = cli(env, "promote", "fn-posts", "1.0.0", "--to", "staging")  # migrates, then decides
    assert code == 3, document
    assert document["error"]["rule"] == "required-tests"  # type: ignore[index]
    assert sqlite3.connect(state).execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    code, document = cli(env, "state", "verify")  # unsealed: no command uses it; said, not a failure
    assert code == 0, document
    assert "is not sealed" in document["streams"]["fn-posts"]["snapshot"]["note"]  # type: ignore[index]
    assert cli(env, "record", "fn-posts", "1.0.0", "--env", "development", "--suite", "unit", "--passed")[0] == 0
    code, document = cli(env, "state", "verify")  # the write rebuilt it, sealed
    assert code == 0
    assert document["streams"]["fn-posts"]["snapshot"]["ok"] is True  # type: ignore[index]
    assert document["streams"]["fn-posts"]["snapshot"]["note"] is None  # type: ignore[index]


def test_verify_never_passes_on_a_state_with_no_events_and_names_a_wipe(env: dict[str, str]) -> None:
    """A scheduled ``state verify`` must not pass on a wiped state (issue 22): a state with no event has nothing to
    vouch for (exit 2, as a missing file) — never written to yet, or damaged when a command wrote to it before; a
    kept head names what is gone."""
    state = Path(env["FINDLY_STATE"])
    assert cli(env, "state", "migrate")[0] == 0  # made, never written to
    code, document = cli(env, "state", "verify")
    assert code == EXIT_BAD_INPUT
    assert "holds no events yet (no command has written to it since it was made): nothing to verify" in str(
        document["error"]
    )
    _deployed(env)
    code, document = cli(env, "state", "verify")
    assert code == 0
    head = document["streams"]["fn-posts"]["head"]  # type: ignore[index]
    with contextlib.closing(sqlite3.connect(state)) as connection, connection:
        connection.execute("DELETE FROM events")  # every event deleted, by hand
    code, document = cli(env, "state", "verify")
    assert code == EXIT_BAD_INPUT
    message = document["error"]["message"]  # type: ignore[index]
    assert "is damaged: it holds no events, yet commands wrote to it (it keeps virtual time)" in message
    code, document = cli(env, "state", "verify", "--expect", str(head))
    assert code == EXIT_BAD_INPUT
    assert "fn-posts: event 1 is gone: a kept head recorded it, and the stream has 0 events" in str(document["error"])


# ---- 2: damaged, removed or replaced: an error, never a fresh start ---------------------------------------------


def test_a_dropped_table_is_damage_not_an_empty_history(env: dict[str, str]) -> None:
    state = _deployed(env)
    connection = sqlite3.connect(state)
    connection.execute("DROP TABLE events")
    connection.commit()
    connection.close()
    code, document = cli(env, "status", "fn-posts")
    assert code == EXIT_BAD_INPUT
    assert "is damaged: its events table is missing" in document["error"]["message"]  # type: ignore[index]


def test_random_bytes_over_a_page_are_found(env: dict[str, str]) -> None:
    state = _deployed(env)
    for number in range(3, 40):  # fill the stream so that it spans pages, then damage one of them
        assert (
            cli(env, "record", "fn-posts", "1.0.0", "--env", "development", "--suite", f"s{number}", "--passed")[0] == 0
        )
    connection = sqlite3.connect(state)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    (page_size,) = connection.execute("PRAGMA page_size").fetchone()
    connection.close()
    data = bytearray(state.read_bytes())
    assert len(data) >= 3 * page_size
    data[page_size + 16 : 2 * page_size] = os.urandom(page_size - 16)  # page 2: over its header and cells
    state.write_bytes(bytes(data))
    checked = run("state", "check", env=env)
    assert checked.returncode == EXIT_BAD_INPUT, checked.stdout + checked.stderr
    assert "damaged" in checked.stdout + checked.stderr
    code, _ = cli(env, "history", "fn-posts")
    assert code in (0, EXIT_BAD_INPUT)  # a damaged page outside what history reads may go unseen; never a bug (1)


def test_a_sound_state_checks_sound(env: dict[str, str]) -> None:
    _deployed(env)
    code, document = cli(env, "state", "check")
    assert (code, document["sound"], document["streams"]) == (0, True, {"_policy": 1, "fn-posts": 2})


def test_a_state_removed_or_replaced_while_a_command_runs_is_never_written(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    store = SqliteEventStore(state)
    store.append("fn-posts", 0, (_event(0),))
    for name in ("state.sqlite3", "state.sqlite3-wal", "state.sqlite3-shm"):
        (tmp_path / name).unlink(missing_ok=True)  # rm -rf .findly, mid-watch
    with pytest.raises(StateError, match="was removed or replaced while this command ran"):
        store.append("fn-posts", 1, (_event(1),))
    store.close()
    other = SqliteEventStore(tmp_path / "other.sqlite3")
    other.close()
    store = SqliteEventStore(state)
    os.replace(tmp_path / "other.sqlite3", state)  # replaced under it
    with pytest.raises(StateError, match="removed or replaced"):
        store.load("fn-posts")
    store.close()


def test_a_lock_held_past_the_timeout_is_a_busy_dependency(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    holder = SqliteEventStore(state)
    holder._connection.execute("BEGIN IMMEDIATE")  # another command mid-write
    waiter = SqliteEventStore(state, timeout=0.05)
    with pytest.raises(DependencyUnavailableError, match=r"is locked by another command for more than 0\.05 seconds"):
        waiter.append("fn-posts", 0, (_event(0),))
    holder._connection.execute("ROLLBACK")
    assert waiter.append("fn-posts", 0, (_event(0),)) == 1  # nothing half-written by the failed try
    waiter.close()
    holder.close()


def test_a_failed_write_reports_its_own_cause_not_a_masking_rollback_error(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    store = SqliteEventStore(state)
    store._connection.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ROLLBACK, 'the disk said no'); END"
    )
    with pytest.raises(StateError, match="the disk said no") as raised:
        store.append("fn-posts", 0, (_event(0),))
    assert "no transaction is active" not in str(raised.value)
    assert store.load("fn-posts") == ([], 0)
    store.close()


def test_the_cli_maps_a_busy_state_to_exit_5(env: dict[str, str]) -> None:
    state = _deployed(env)
    holder = sqlite3.connect(state, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        result = run(
            "record",
            "fn-posts",
            "1.0.0",
            "--env",
            "development",
            "--suite",
            "unit",
            "--passed",
            env={**env, "FINDLY_STATE_TIMEOUT": "0.1"},
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.returncode == EXIT_DEPENDENCY, result.stderr
    assert "is locked by another command" in result.stderr


# ---- 3: the cluster follows the log after any crash between storing and routing -------------------------------


class _KilledAfterCommitError(Exception):
    pass


@attrs.define
class _DyingCluster:
    """The in-memory cluster, whose process dies at its *dies_at*-th change: the events are stored, the change is
    not (a SIGKILL between the two)."""

    inner: SimulatedCluster
    dies_at: int
    calls: int = 0

    def converge(self, view: EnvironmentView, at: datetime) -> bool:
        if self.inner.holding(view.service, view.environment) == expected_holding(view):
            return False
        self.calls += 1
        if self.calls == self.dies_at:
            raise _KilledAfterCommitError
        self.route(view, at)
        return True

    def route(self, view: EnvironmentView, at: datetime) -> None:
        self.inner.converge(view, at)

    def holding(self, service: str, environment: str) -> Holding:
        return self.inner.holding(service, environment)


def _service(store: MemoryEventStore, cluster: object, clock: VirtualClock) -> PipelineService:
    platform = load_platform(EXAMPLE)
    return PipelineService(platform, store, clock, ScenarioMetrics(SCENARIOS["healthy"]), cluster)  # type: ignore[arg-type]


@settings(deadline=None, max_examples=60)
@given(
    dies_at=st.integers(1, 9),
    then=st.sampled_from(["step", "pause", "rollback", "abort", "deploy", "record"]),
    failing=st.booleans(),
)
def test_after_a_crash_between_store_and_route_the_next_command_routes_as_recorded(
    dies_at: int, then: str, failing: bool
) -> None:
    store, cluster, clock = MemoryEventStore(), SimulatedCluster(), VirtualClock(datetime(2026, 1, 5, 9))
    first = _service(store, _DyingCluster(cluster, dies_at), clock)
    if failing:  # the new version fails: the crash may come at a rollback
        first.metrics = ScenarioMetrics(SCENARIOS["error-spike"])
    with contextlib.suppress(_KilledAfterCommitError):
        first.deploy("fn-posts", "1.0.0", "development", actor="erin")
        first.watch("fn-posts", "development", actor="findly", wait=clock.advance)
        first.deploy("fn-posts", "2.0.0", "development", actor="erin", strategy=StrategyKind.CANARY)
        first.watch("fn-posts", "development", actor="findly", wait=clock.advance)
    # a new process, on the same log and the same cluster: whatever it is asked that moves traffic, the cluster ends
    # as recorded; evidence (a test result) leaves the cluster as it found it, for the next such command to repair
    second = _service(store, cluster, clock)
    clock.advance(timedelta(minutes=1))
    left = cluster.weights("fn-posts", "development")
    with contextlib.suppress(PolicyRefusedError):
        if then == "step":
            second.step("fn-posts", "development", actor="findly")
        elif then in ("pause", "rollback", "abort"):
            getattr(second, then)("fn-posts", "development", actor="erin", reason="after the crash")
        elif then == "deploy":
            second.deploy("fn-posts", "3.0.0", "development", actor="erin", strategy=StrategyKind.CANARY)
        else:
            second.record_test("fn-posts", "2.0.0", "development", "unit", True, actor="ci")
            assert cluster.weights("fn-posts", "development") == left
            second.reconcile("fn-posts", "development")
    assert cluster.weights("fn-posts", "development") == second.view("fn-posts", "development").routes()


def test_a_killed_rollback_is_finished_by_the_next_one(env: dict[str, str]) -> None:
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    assert cli(env, "rollout", "fn-posts", "--env", "development", "--watch")[0] == 0
    assert cli(env, "deploy", "fn-posts", "2.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    state = Path(env["FINDLY_STATE"])
    store = SqliteEventStore(state)
    events, version = store.load("fn-posts")
    killed = RolledBack(  # the rollback's event stored, its route never applied: the process died in between
        service="fn-posts",
        environment="development",
        version="2.0.0",
        at=events[-1].at,
        actor="erin",
        reason="bad build",
        restored="1.0.0",
    )
    store.append("fn-posts", version, (killed,))
    router = SqliteSimulatedCluster(store)
    assert router.weights("fn-posts", "development") == {"1.0.0": 95, "2.0.0": 5}  # 5% still on the bad version
    store.close()
    code, document = cli(env, "rollback", "fn-posts", "--env", "development", "--reason", "bad build")
    assert (code, document["phase"], document["events"]) == (0, "rolled_back", [])  # a repeat: nothing new recorded
    store = SqliteEventStore(state)
    assert SqliteSimulatedCluster(store).weights("fn-posts", "development") == {"1.0.0": 100}
    assert len(store.load("fn-posts")[0]) == version + 1
    store.close()


def test_a_change_recorded_but_not_routed_says_so_and_is_not_a_failed_change(tmp_path: Path) -> None:
    store, cluster, clock = MemoryEventStore(), SimulatedCluster(), VirtualClock(datetime(2026, 1, 5, 9))

    class _Unreachable(_DyingCluster):
        def route(self, *_: object) -> None:
            raise DependencyUnavailableError("the cluster did not answer")

    release = _service(store, _Unreachable(cluster, 0), clock)
    with pytest.raises(NotRoutedError, match=r"recorded \(rollout_started, traffic_shifted\), but the cluster"):
        release.deploy("fn-posts", "1.0.0", "development", actor="erin")
    assert [e.type for e in store.load("fn-posts")[0]] == ["rollout_started", "traffic_shifted"]  # it stands


# ---- 11: conflicts are decided again, not refused ---------------------------------------------------------------


@attrs.define
class _RacedStore:
    """The in-memory store, where another command appends first *races* times, between each read and write."""

    inner: MemoryEventStore
    races: int
    other: list[Event]

    def load(self, service: str, since: int = 0) -> tuple[list[Event], int]:
        return self.inner.load(service, since)

    def append(self, service: str, expected_version: int, events: Sequence[Event]) -> int:
        if self.races and self.other and service == "fn-posts":  # the service's stream (not the policy's)
            self.races -= 1
            self.inner.append(service, expected_version, (self.other.pop(0),))  # the other command won the race
        return self.inner.append(service, expected_version, events)


def _recorded(suite: str, at: datetime) -> Event:
    return recorded_events.TestResultRecorded(
        service="fn-posts", environment="development", version="1.0.0", at=at, actor="ci", suite=suite, passed=True
    )


@pytest.mark.parametrize("races", [1, 3, 7])
def test_a_conflict_is_decided_again_on_fresh_state_not_refused(races: int) -> None:
    clock = VirtualClock(datetime(2026, 1, 5, 9))
    others = [_recorded(f"other-{n}", clock.now()) for n in range(races)]
    store = _RacedStore(MemoryEventStore(), races, others)
    waits: list[int] = []
    release = attrs.evolve(_service(store.inner, SimulatedCluster(), clock), backoff=waits.append)
    release.store = store
    release.record_test("fn-posts", "1.0.0", "development", "unit", True, actor="ci")
    suites = [e.suite for e in store.inner.load("fn-posts")[0]]  # type: ignore[attr-defined]
    assert suites == [*(f"other-{n}" for n in range(races)), "unit"]  # every command's record, once
    assert waits == list(range(1, races + 1))  # a growing, jittered wait before each new attempt


def test_a_command_that_keeps_losing_gives_up_writing_nothing() -> None:
    clock = VirtualClock(datetime(2026, 1, 5, 9))
    store = _RacedStore(MemoryEventStore(), 100, [_recorded(f"other-{n}", clock.now()) for n in range(100)])
    release = attrs.evolve(_service(store.inner, SimulatedCluster(), clock), backoff=lambda _attempt: None)
    release.store = store
    with pytest.raises(ConcurrencyError):
        release.record_test("fn-posts", "1.0.0", "development", "unit", True, actor="ci")
    assert "unit" not in [e.suite for e in store.inner.load("fn-posts")[0]]  # type: ignore[attr-defined]


def test_racing_commands_of_one_service_all_land(env: dict[str, str]) -> None:
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    suites = [f"suite-{n}" for n in range(12)]
    racers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "findly_infra",
                "record",
                "fn-posts",
                "1.0.0",
                "--env",
                "development",
                "--suite",
                suite,
                "--passed",
            ],
            env={**os.environ, **env, "GITHUB_ACTIONS": ""},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for suite in suites
    ]
    codes = [racer.wait(120) for racer in racers]
    tally("racing commands", len(racers))
    for racer in racers:
        assert racer.stderr is not None
        racer.stderr.close()
    assert codes == [0] * len(suites)  # commuting commands: none refused
    recorded = [
        e.suite for e in SqliteEventStore(env["FINDLY_STATE"]).load("fn-posts")[0] if e.type == "test_result_recorded"
    ]  # type: ignore[attr-defined]
    assert sorted(recorded) == sorted(suites)


# ---- 5: one bad record does not take down the rest -----------------------------------------------------------


def _damage(state: Path, sql: str, *parameters: object) -> None:
    connection = sqlite3.connect(state)
    connection.execute(sql, parameters)
    connection.commit()
    connection.close()


def _relink(state: Path) -> None:
    """Give every event the link its text now has, as whoever can write the state can (a chain vouches for nothing
    against a rewrite: ``application.integrity``) — so that a test of what commands make of a history that no longer
    fits is not refused as unlinked first."""
    from findly_infra.application.integrity import GENESIS, links_for

    with contextlib.closing(sqlite3.connect(state)) as connection, connection:
        for (service,) in connection.execute("SELECT DISTINCT service FROM events").fetchall():
            rows = connection.execute(
                "SELECT position, body FROM events WHERE service = ? ORDER BY position", (service,)
            ).fetchall()
            links = links_for(GENESIS, service, 0, (body for _, body in rows))
            connection.executemany(
                "UPDATE events SET link = ? WHERE service = ? AND position = ?",
                [(link, service, position) for (position, _), link in zip(rows, links, strict=True)],
            )


def _stray_succeeded() -> str:
    return json.dumps(
        {
            "event": "RolloutSucceeded",
            "type": "rollout_succeeded",
            "service": "fn-posts",
            "environment": "staging",
            "version": "9.9.9",
            "at": "2026-01-05T09:30:00",
            "actor": "x",
            "reason": "",
        }
    )


@pytest.mark.parametrize(
    ("damage", "said", "record_damaged"),
    [
        ("UPDATE events SET body = 'not json' WHERE position = 1", "event 1 cannot be read (JSONDecodeError", True),
        (
            "UPDATE events SET body = replace(body, 'TrafficShifted', 'Teleported') WHERE position = 1",
            "event 1 cannot be read (KeyError: 'Teleported')",
            True,
        ),
        ("UPDATE events SET position = 5 WHERE position = 1", "event 1 is missing (the next stored is 5)", True),
        ("UPDATE events SET position = -1 WHERE position = 0", "event 0 is missing (the next stored is 1)", True),
    ],
    ids=["not-json", "unknown-type", "gap", "negative-position"],
)
def test_a_bad_record_is_named_and_the_other_services_still_answer(
    env: dict[str, str], damage: str, said: str, record_damaged: bool
) -> None:
    state = _deployed(env)
    assert cli(env, "deploy", "fn-matcher", "1.0.0", "--env", "development")[0] == 0
    _damage(state, damage.replace("WHERE", "WHERE service = 'fn-posts' AND"))
    code, document = cli(env, "status")
    assert code == EXIT_BAD_INPUT
    message = document["error"]["message"]  # type: ignore[index]
    assert message.startswith("1 of 3 services cannot be read:")
    assert said in message
    services = document["services"]  # type: ignore[index]
    assert services["fn-matcher"]["development"]["phase"] == "progressing"  # the others answer
    assert "error" in services["fn-posts"]
    code, document = cli(env, "history", "fn-posts")
    if record_damaged:  # history shows what it can read, and names the rest
        assert code == EXIT_BAD_INPUT
        assert said in document["error"]["message"]  # type: ignore[index]
    else:  # every record reads: it is the history that no longer fits the platform file
        assert code == 0


def test_a_stray_event_is_named_with_its_position(env: dict[str, str]) -> None:
    state = _deployed(env)
    _damage(
        state,
        "INSERT INTO events (service, position, type, at, body) "
        "VALUES ('fn-posts', 2, 'rollout_succeeded', '2026-01-05T09:30:00', ?)",
        _stray_succeeded(),
    )
    _relink(state)  # linked: a history that reads, and does not fold
    code, document = cli(env, "status", "fn-posts")
    assert code == EXIT_BAD_INPUT
    assert document["error"]["message"].startswith(  # type: ignore[index]
        "1 of 1 services cannot be read: fn-posts's history cannot be read past event 2 (rollout_succeeded in "
        "staging at 2026-01-05T09:30:00): a rollout's event, but no rollout was started in its environment"
    )
    code, document = cli(env, "history", "fn-posts")
    assert code == 0  # every record reads: history shows all three, the stray one too
    assert [e["type"] for e in document["events"]] == ["rollout_started", "traffic_shifted", "rollout_succeeded"]  # type: ignore[index]


def test_history_shows_what_it_can_read_before_the_damage(env: dict[str, str]) -> None:
    state = _deployed(env)
    _damage(state, "UPDATE events SET body = '{' WHERE service = 'fn-posts' AND position = 1")
    result = run("history", "fn-posts", env=env)
    assert result.returncode == EXIT_BAD_INPUT
    assert "rollout_started" in result.stdout  # event 0, readable, shown
    assert "fn-posts's event 1 cannot be read" in result.stderr


# ---- 4: editing the platform file does not brick a service ------------------------------------------------------


def _two_stage_platform() -> object:
    import re

    from findly_infra.examples import example_platform_text

    text = example_platform_text()
    stages = re.search(r"  traffic_progression:\n(?:    .*\n)+", text)
    assert stages is not None
    two = (
        "  traffic_progression:\n"
        '    - {stage: "Initial", canary_weight: 5, duration: "10 minutes"}\n'
        '    - {stage: "Full", canary_weight: 100, duration: "stable"}\n'
    )
    return load_platform_text(text.replace(stages.group(0), two))


def _canary_at_stage_3(store: MemoryEventStore, cluster: SimulatedCluster, clock: VirtualClock) -> None:
    before = _service(store, cluster, clock)
    before.deploy("fn-posts", "1.0.0", "development", actor="erin")
    before.watch("fn-posts", "development", actor="findly", wait=clock.advance)
    before.deploy("fn-posts", "2.0.0", "development", actor="erin", strategy=StrategyKind.CANARY)
    while before.view("fn-posts", "development").rollout.step < 2:  # type: ignore[union-attr]  # stage 3: 50%
        clock.advance(timedelta(minutes=1))
        before.step("fn-posts", "development", actor="findly")


def test_a_canary_keeps_the_stages_it_started_with_when_the_file_changes() -> None:
    store, cluster, clock = MemoryEventStore(), SimulatedCluster(), VirtualClock(datetime(2026, 1, 5, 9))
    _canary_at_stage_3(store, cluster, clock)
    after = PipelineService(_two_stage_platform(), store, clock, ScenarioMetrics(SCENARIOS["healthy"]), cluster)  # type: ignore[arg-type]
    outcome = after.watch("fn-posts", "development", actor="findly", wait=clock.advance)
    assert outcome.phase.value == "succeeded"
    weights = [e.weight for e in store.load("fn-posts")[0] if e.type == "traffic_shifted" and e.version == "2.0.0"]  # type: ignore[attr-defined]
    assert weights == [5, 25, 50, 100]  # its own four stages, not the file's two


def test_a_canary_that_recorded_no_plan_and_lost_its_stage_is_refused_by_name_and_can_still_be_ended() -> None:
    store, cluster, clock = MemoryEventStore(), SimulatedCluster(), VirtualClock(datetime(2026, 1, 5, 9))
    _canary_at_stage_3(store, cluster, clock)
    events = store.load("fn-posts")[0]  # as a version before plans were recorded wrote it
    legacy = MemoryEventStore()
    legacy.append("fn-posts", 0, [attrs.evolve(e, stages=()) if e.type == "rollout_started" else e for e in events])
    after = PipelineService(_two_stage_platform(), legacy, clock, ScenarioMetrics(SCENARIOS["healthy"]), cluster)  # type: ignore[arg-type]
    clock.advance(timedelta(minutes=1))
    with pytest.raises(PolicyRefusedError) as refused:
        after.step("fn-posts", "development", actor="findly")
    assert refused.value.refusal.rule == "strategy-changed"
    assert "is at stage 3, which the platform file no longer has (2 stages now)" in str(refused.value)
    assert after.status("fn-posts")[0].candidate is not None  # status still reads it
    ended = after.rollback("fn-posts", "development", actor="erin", reason="the plan changed")
    assert ended.view.routes() == {"1.0.0": 100}
    assert cluster.weights("fn-posts", "development") == {"1.0.0": 100}


def test_an_environment_removed_from_the_file_shows_as_retired_in_status_and_history(env: dict[str, str]) -> None:
    state = _deployed(env)
    _damage(state, "UPDATE events SET body = replace(body, '\"development\"', '\"dev\"')")  # renamed since
    _relink(state)
    code, document = cli(env, "status", "fn-posts")
    assert code == 0
    views = document["services"]["fn-posts"]  # type: ignore[index]
    assert views["dev"]["retired"] is True
    assert views["dev"]["candidate"] == {"version": "1.0.0", "weight": 100}
    assert views["development"]["phase"] == "idle"
    shown = run("status", "fn-posts", env=env)
    assert "dev          retired, no longer in the platform file: progressing (rolling 1.0.0 100%)" in shown.stdout
    code, document = cli(env, "history", "fn-posts")
    assert (code, [e["environment"] for e in document["events"]]) == (0, ["dev", "dev"])  # type: ignore[index]
    code, document = cli(env, "rollout", "fn-posts", "--env", "dev")
    assert code == EXIT_BAD_INPUT  # nothing acts on a retired environment


def test_validate_says_what_a_changed_file_does_to_the_rollouts_under_way(env: dict[str, str], tmp_path: Path) -> None:
    import re

    from findly_infra.examples import example_platform_text

    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    text = example_platform_text()
    stages = re.search(r"  traffic_progression:\n(?:    .*\n)+", text)
    assert stages is not None
    edited = tmp_path / "findly.yaml"
    edited.write_text(
        text.replace(
            stages.group(0),
            "  traffic_progression:\n"
            '    - {stage: "Initial", canary_weight: 5, duration: "10 minutes"}\n'
            '    - {stage: "Full", canary_weight: 100, duration: "stable"}\n',
        )
    )
    result = run("validate", str(edited), env=env)
    assert result.returncode == 0
    assert (
        "warning: state: fn-posts: the rollout of 1.0.0 in development (progressing) keeps the 4 canary stages it "
        "started with; the file's 2 stages apply from the next rollout  [rollout-in-progress]"
    ) in result.stdout
    assert run("validate", "--strict", str(edited), env=env).returncode == EXIT_BAD_INPUT
    document = cli(env, "validate", str(edited))[1]
    assert document["rollouts_affected"] == [  # type: ignore[index]
        "fn-posts: the rollout of 1.0.0 in development (progressing) keeps the 4 canary stages it started with; "
        "the file's 2 stages apply from the next rollout"
    ]
    assert run("validate", str(EXAMPLE), env=env).stdout.count("[rollout-in-progress]") == 0  # unchanged: nothing


# ---- a full disk, a read-only file ----------------------------------------------------------------------------------


def _limited(limit: int, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A command whose files may not grow past *limit* bytes (RLIMIT_FSIZE: what a full disk does to a write —
    the write fails, EFBIG where a full disk gives ENOSPC; Python ignores SIGXFSZ)."""
    import resource

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run(
        [sys.executable, "-m", "findly_infra", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GITHUB_ACTIONS": "", "PYTHONDONTWRITEBYTECODE": "1", **env},
        preexec_fn=limit_files,
        check=False,
    )


def _count(path: str) -> int:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        (count,) = connection.execute("SELECT COUNT(*) FROM events").fetchone()
    return int(count)


def test_a_write_the_disk_cannot_take_is_refused_whole_says_so_and_the_retry_works(env: dict[str, str]) -> None:
    state = env["FINDLY_STATE"]
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    # another reader keeps the WAL (no checkpoint at close): the next write must grow it, and may not
    with contextlib.closing(sqlite3.connect(state)) as holder:
        holder.execute("SELECT COUNT(*) FROM events").fetchone()
        assert cli(env, "pause", "fn-posts", "--env", "development", "--reason", "look")[0] == 0
        before = _count(state)
        wal = os.path.getsize(f"{state}-wal")
        full = _limited(wal + 100, "resume", "fn-posts", "--env", "development", env=env)
        assert full.returncode == EXIT_DEPENDENCY, full.stderr
        assert "cannot be written" in full.stderr
        assert "is the disk full" in full.stderr
        assert "nothing was written" in full.stderr
        assert "Traceback" not in full.stderr
        assert _count(state) == before  # all or nothing: not one of the transaction's rows
        at_open = _limited(1, "resume", "fn-posts", "--env", "development", env=env)
        assert at_open.returncode == EXIT_DEPENDENCY, at_open.stderr  # not even room to open for writing
        assert "Traceback" not in at_open.stderr
    retried = run("resume", "fn-posts", "--env", "development", env=env)
    assert retried.returncode == 0, retried.stderr  # space again: the same command works, or says it already held
    assert _count(state) == before + 1


def test_a_commit_whose_checkpoint_the_disk_refuses_still_reports_success(env: dict[str, str]) -> None:
    """The change is in the WAL once committed; a checkpoint that cannot grow the main file is SQLite's to retry
    later — the command that committed must not report failure (the original run's exit 1 "malformed")."""
    state = env["FINDLY_STATE"]
    for version in ("1.0.0", "1.0.1", "1.0.2"):
        assert cli(env, "deploy", "fn-posts", version, "--env", "development", "--strategy", "canary")[0] == 0
        assert cli(env, "rollout", "fn-posts", "--env", "development", "--watch")[0] == 0
    size = os.path.getsize(state)
    assert size > 65_536  # the main file is past the limit below: a checkpoint into it cannot be written
    before = _count(state)
    done = _limited(40_000, "deploy", "fn-posts", "1.1.0", "--env", "development", env=env)
    assert done.returncode == 0, done.stderr
    assert _count(state) == before + 2  # requested... started and shifted, readable by the next command
    check = run("state", "check", env=env)
    assert (check.returncode, "sound" in check.stdout) == (0, True), check.stdout + check.stderr


def _read_only(path: Path) -> contextlib.AbstractContextManager[None]:
    """*path* made read-only for this process: immutable (``chattr +i``, which binds root too), else by permissions
    when not root; skips the test when neither is possible here."""
    import shutil

    @contextlib.contextmanager
    def immutable() -> Iterator[None]:
        chattr = shutil.which("chattr")
        if chattr and subprocess.run([chattr, "+i", str(path)], capture_output=True, check=False).returncode == 0:
            try:
                yield
            finally:
                subprocess.run([chattr, "-i", str(path)], check=True)
            return
        if os.geteuid() == 0:
            pytest.skip("cannot make a file read-only for root here (chattr +i is not permitted)")
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)

    return immutable()


def test_a_read_only_state_is_read_and_a_write_is_refused_with_exit_2(env: dict[str, str]) -> None:
    state = Path(env["FINDLY_STATE"])
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    before = _count(str(state))
    with _read_only(state):
        status = run("status", "fn-posts", env=env)
        assert status.returncode == 0, status.stderr
        assert "rolling 1.0.0" in status.stdout
        refused = run("pause", "fn-posts", "--env", "development", "--reason", "look", env=env)
        assert refused.returncode == EXIT_BAD_INPUT, refused.stderr
        assert "cannot be written: it is read-only" in refused.stderr
        assert "Traceback" not in refused.stderr
        assert run("state", "check", env=env).returncode == 0
    assert _count(str(state)) == before


# ---- 5: damage is damage, whatever the clock; a command never acts on unlinked rows ------------------------------


def _misfiled(state: Path) -> None:
    """Damage one page of the file the way a torn or stray write does: the key of fn-posts' first event, in the page
    that holds it, now says another service — so that the page is out of order, and a read of fn-posts' stream that
    trusts the file finds nothing where its first event should be (no SQL can do this: it is the file's bytes)."""
    with contextlib.closing(sqlite3.connect(state)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = state.read_bytes()
    key = b"fn-postsrollout_started"  # the record's service and type columns (position 0 takes no byte)
    assert data.count(key) == 1
    state.write_bytes(data.replace(key, b"fn-postzrollout_started"))


@pytest.mark.parametrize("clock", ["--now", "real"])
def test_a_damaged_page_is_refused_with_or_without_now_never_read_as_an_empty_history(
    env: dict[str, str], clock: str
) -> None:
    """Issue 23: with ``--now``, a damaged page read as an empty history with exit 0. What a page hides is damage,
    whatever the clock: the stream says how many events it has, and a read that finds fewer is refused (exit 2),
    naming the stream and the events it cannot read."""
    state = _deployed(env)
    for number in range(3):
        assert (
            cli(env, "record", "fn-posts", "1.0.0", "--env", "development", "--suite", f"s{number}", "--passed")[0] == 0
        )
    _misfiled(state)
    if clock == "real":  # the state keeps its rehearsal's time: its clock resumes at its latest event
        env = {key: value for key, value in env.items() if key != "FINDLY_NOW"}
    for command in ("history", "status"):
        code, document = cli(env, command, "fn-posts")
        assert code == EXIT_BAD_INPUT, (command, document)
        assert "fn-posts's events 0 to 4 cannot be read: the stream has 5 events" in str(document["error"])
    assert run("state", "check", env=env).returncode == EXIT_BAD_INPUT  # and the full check says so too


def test_a_command_refuses_a_stream_whose_tail_is_unlinked_and_names_the_first_unlinked_row(
    env: dict[str, str],
) -> None:
    """Issue 23: rows whose link does not follow (edited, inserted or moved after they were written) were flagged by
    `state verify` alone, and every other command acted on them. A command that reads them refuses (exit 2), naming
    the stream and the first unlinked row, and writes nothing; history shows what comes before it."""
    state = _deployed(env)
    for number in range(3):
        assert (
            cli(env, "record", "fn-posts", "1.0.0", "--env", "development", "--suite", f"s{number}", "--passed")[0] == 0
        )
    assert cli(env, "deploy", "fn-matcher", "1.0.0", "--env", "development")[0] == 0
    _damage(state, "UPDATE events SET body = replace(body, '\"s1\"', '\"s9\"') WHERE service = 'fn-posts'")  # event 3
    before = _count(str(state))
    said = "fn-posts's event 3 is unlinked (its link does not follow from the event before it"
    for command in (
        ("status", "fn-posts"),
        ("record", "fn-posts", "1.0.0", "--env", "development", "--suite", "s4", "--passed"),
        ("deploy", "fn-posts", "1.0.0", "--env", "staging"),
    ):
        code, document = cli(env, *command)
        assert code == EXIT_BAD_INPUT, (command, document)
        assert said in str(document["error"]), document
    assert _count(str(state)) == before  # nothing acted on it
    backup = state.with_name("backup.jsonl")  # nor exported: an import would give the rows fresh links
    code, document = cli(env, "state", "export", "--output", str(backup))
    assert code == EXIT_BAD_INPUT
    assert said in str(document["error"])
    assert not backup.exists()
    code, document = cli(env, "history", "fn-posts")
    assert code == EXIT_BAD_INPUT
    assert [e["suite"] for e in document["events"][2:]] == ["s0"]  # type: ignore[index]
    assert said in document["error"]["message"]  # type: ignore[index]
    assert cli(env, "status", "fn-matcher")[0] == 0  # the other streams are not affected
    verified = run("state", "verify", env=env)
    assert verified.returncode == EXIT_BAD_INPUT
    assert "fn-posts: event 3 does not match its link" in verified.stdout
    # a row inserted with no link after linked ones is unlinked too
    _relink(state)
    _damage(
        state,
        "INSERT INTO events (service, position, type, at, body) VALUES ('fn-posts', 5, 'test_result_recorded', ?, ?)",
        "2026-01-05T09:00:00",
        json.dumps(
            {
                "event": "TestResultRecorded",
                "type": "test_result_recorded",
                "service": "fn-posts",
                "environment": "development",
                "version": "1.0.0",
                "at": "2026-01-05T09:00:00",
                "actor": "x",
                "reason": "",
                "suite": "forged",
                "passed": True,
            }
        ),
    )
    code, document = cli(env, "status", "fn-posts")
    assert code == EXIT_BAD_INPUT
    assert "fn-posts's event 5 is unlinked (it has no link, after linked events)" in str(document["error"])


def test_a_command_hashes_only_the_tail_after_its_snapshot(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tail check keeps a command's cost flat: the rows after the sealed snapshot it starts from are hashed, not
    the history before it."""
    from findly_infra.application import integrity

    state = _deployed(env)
    store = SqliteEventStore(state)
    try:
        _, version = store.load("fn-posts", since=1 << 62)
        recorded = recorded_events.TestResultRecorded(
            service="fn-posts",
            environment="development",
            version="1.0.0",
            at=datetime(2026, 1, 5, 9),
            actor="ci",
            suite="unit",
            passed=True,
        )
        store.append("fn-posts", version, [recorded] * 700)
    finally:
        store.close()
    assert cli(env, "state", "snapshot")[0] == 0  # at event 702
    assert cli(env, "record", "fn-posts", "1.0.0", "--env", "development", "--suite", "tail", "--passed")[0] == 0
    hashed: list[int] = []
    real = integrity.link

    def counted(previous: str, service: str, position: int, body: str) -> str:
        if service == "fn-posts":
            hashed.append(position)
        return real(previous, service, position, body)

    monkeypatch.setattr(integrity, "link", counted)
    assert cli(env, "status", "fn-posts")[0] == 0
    assert [position for position in hashed if position < 702] == []  # nothing before the snapshot
    assert 702 in hashed  # the tail is


def _read_only_folder(folder: Path) -> contextlib.AbstractContextManager[str]:
    """*folder* made read-only: a read-only bind mount of it where this process may mount (root), else the folder
    made immutable (``chattr +i``) or, not root, unwritable by its permissions; skips the test when none is possible.
    Yields how."""
    import shutil

    @contextlib.contextmanager
    def made() -> Iterator[str]:
        mount, umount, chattr = shutil.which("mount"), shutil.which("umount"), shutil.which("chattr")
        if os.geteuid() == 0 and mount and umount:
            bound = subprocess.run([mount, "--bind", str(folder), str(folder)], capture_output=True, check=False)
            if bound.returncode == 0:
                try:
                    remounted = subprocess.run(
                        [mount, "-o", "remount,bind,ro", str(folder)], capture_output=True, check=False
                    )
                    if remounted.returncode == 0:
                        yield "a read-only mount"
                        return
                finally:
                    subprocess.run([umount, str(folder)], check=True)
        if os.geteuid() == 0:
            if chattr and subprocess.run([chattr, "+i", str(folder)], capture_output=True, check=False).returncode == 0:
                try:
                    yield "an immutable folder"
                finally:
                    subprocess.run([chattr, "-i", str(folder)], check=True)
                return
            pytest.skip("cannot make a folder read-only for root here (neither mount nor chattr +i is permitted)")
        folder.chmod(0o555)
        try:
            yield "a folder without write permission"
        finally:
            folder.chmod(0o755)

    return made()


def test_a_state_on_a_read_only_mount_is_read_and_a_write_is_refused_as_read_only_not_damaged(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Issue 23: a state on a read-only mount (or in a folder SQLite cannot write its -shm file into) was reported as
    "damaged, restore from a backup", and a new state there was exit 1. Reads read it; writes are refused (exit 2)
    saying the place is read-only; nothing is called damaged."""
    folder = tmp_path / "mounted"
    folder.mkdir()
    env = {**env, "FINDLY_STATE": str(folder / "state.sqlite3")}
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    assert not Path(f"{env['FINDLY_STATE']}-wal").exists()  # the last writer wrote its changes back
    with _read_only_folder(folder) as how:
        code, document = cli(env, "status", "fn-posts")
        assert code == 0, (how, document)
        assert document["services"]["fn-posts"]["development"]["phase"] == "progressing"  # type: ignore[index]
        assert cli(env, "history", "fn-posts")[0] == 0
        assert cli(env, "state", "check")[0] == 0
        assert cli(env, "state", "verify")[0] == 0
        code, document = cli(env, "pause", "fn-posts", "--env", "development", "--reason", "look")
        assert code == EXIT_BAD_INPUT
        message = document["error"]["message"]  # type: ignore[index]
        assert "cannot be opened to write: it is on a read-only file system" in message or (
            "may not be written by this user" in message
        ), (how, message)
        assert "damaged" not in message
        code, document = cli(
            env | {"FINDLY_STATE": str(folder / "new.sqlite3")}, "deploy", "fn-posts", "1.0.0", "--env", "development"
        )
        assert code == EXIT_BAD_INPUT, document
        assert "new.sqlite3 cannot be created" in document["error"]["message"]  # type: ignore[index]
    assert not (folder / "new.sqlite3").exists()


@given(
    count=st.integers(2, 12),
    since=st.integers(0, 11),
    harm=st.sampled_from(["edit", "unlink", "hide-end", "none"]),
    where=st.integers(0, 11),
)
@settings(max_examples=200)
def test_a_page_is_read_whole_and_linked_or_refused_naming_its_first_bad_row(
    count: int, since: int, harm: str, where: int
) -> None:
    """The rule every durable store's reads follow (``codec.decode_page``): a page holds every event the stream's
    version says it has from where it starts, each row's link follows from the one before it, and the first row that
    does not is named — an edited or unlinked row, or rows a damaged page hides."""
    from findly_infra.application.codec import decode_page, event_to_dict
    from findly_infra.application.integrity import GENESIS, links_for

    since = min(since, count - 1)
    bodies = [json.dumps(event_to_dict(_event(position))) for position in range(count)]
    links: list[str | None] = list(links_for(GENESIS, "fn-posts", 0, bodies))
    rows: list[tuple[int, str, str | None]] = [(p, bodies[p], links[p]) for p in range(count)]
    bad = min(max(where, since), count - 1)  # a row the page reads
    if harm == "edit":
        rows[bad] = (bad, bodies[bad].replace('"findly"', '"mallory"'), links[bad])
    elif harm == "unlink":
        rows[bad] = (bad, bodies[bad], None)
    elif harm == "hide-end":
        rows = rows[:bad]
    read = rows[max(0, since - 1) :]
    if harm == "none":
        events = decode_page(read, since=since, limit=None, version=count, service="fn-posts", location="s")
        assert [event.at.minute for event in events] == list(range(since, count))
        return
    with pytest.raises(StateError) as refused:
        decode_page(read, since=since, limit=None, version=count, service="fn-posts", location="s")
    said = str(refused.value)
    if harm == "hide-end":
        assert f"fn-posts's event{'s' if bad < count - 1 else ''} {bad}" in said
        assert f"the stream has {count} events" in said
    else:
        assert f"fn-posts's event {bad} is unlinked" in said
    assert [event.at.minute for event in refused.value.readable] == list(range(since, bad))
