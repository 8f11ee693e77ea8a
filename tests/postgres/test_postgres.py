"""The PostgreSQL state for real: racing writers on many connections and processes, a writer killed mid-transaction,
the server killed and restarted mid-rollout, a wrong password, a schema from a newer version, and the command line
releasing through it — a second runner seeing what the first recorded."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from findly_infra.adapters.postgresql import SCHEMA_VERSION, PostgresEventStore
from findly_infra.application.codec import event_to_dict
from findly_infra.application.integrity import verify_stream
from findly_infra.application.ports import ConcurrencyError, DependencyUnavailableError, StateError
from findly_infra.domain import TestResultRecorded as ResultRecorded  # not a test class
from findly_infra.testing.postgresql import PostgresServer
from tests.conftest import EXAMPLE, PAST
from tests.log_integrity import SERVICE, Rows, batches, check_tampering, histories, rows_as_inserts, tampering
from tests.reliability import tally
from tests.test_release_cli import cli

AT = datetime(2026, 11, 26, 9, 0)


def _result(suite: str, service: str = "fn-posts") -> ResultRecorded:
    return ResultRecorded(
        service=service, environment="development", version="1.0.0", at=AT, actor="ci", suite=suite, passed=True
    )


# ---- races ----------------------------------------------------------------------------------------------------------


def _write(
    store: PostgresEventStore, service: str, name: str, barrier: threading.Barrier, outcomes: dict[str, str]
) -> None:
    barrier.wait()
    try:
        store.append(service, 0, [_result(name, service), _result(f"{name}-2", service)])
        outcomes[name] = "won"
    except ConcurrencyError:
        outcomes[name] = "lost"


def test_a_hundred_races_of_four_writers_each_have_exactly_one_winner(pg_url: str) -> None:
    """Four connections append two events at version 0 of the same stream, released together: one wins whole, the
    others are refused with nothing written — a hundred times (the unique (service, position), no table lock)."""
    writers = [PostgresEventStore(pg_url) for _ in range(4)]
    try:
        for race in range(100):
            service, barrier, outcomes = f"race-{race}", threading.Barrier(len(writers)), {}
            threads = [
                threading.Thread(target=_write, args=(store, service, f"w{i}", barrier, outcomes))
                for i, store in enumerate(writers)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(30)
            (winner,) = [name for name, outcome in outcomes.items() if outcome == "won"]
            assert sorted(outcomes.values()) == ["lost", "lost", "lost", "won"]
            events, version = writers[0].load(service)
            assert version == 2
            assert {event.suite for event in events} == {winner, f"{winner}-2"}  # never a mix, never half
    finally:
        for store in writers:
            store.close()


def _race(url: str, suite: str, barrier: multiprocessing.synchronize.Barrier, results: multiprocessing.Queue) -> None:  # type: ignore[name-defined]
    store = PostgresEventStore(url)
    barrier.wait()
    try:
        store.append("fn-posts", 0, [_result(suite), _result(suite)])
        results.put("won")
    except ConcurrencyError:
        results.put("lost")
    finally:
        store.close()


def test_racing_processes_have_exactly_one_winner(pg_url: str) -> None:
    PostgresEventStore(pg_url).close()  # the schema, made once
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(6), context.Queue()
    processes = [context.Process(target=_race, args=(pg_url, f"p{i}", barrier, results)) for i in range(6)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert sorted(results.get(timeout=10) for _ in processes) == ["lost"] * 5 + ["won"]
    store = PostgresEventStore(pg_url)
    assert store.load("fn-posts")[1] == 2
    store.close()


def test_racing_first_commands_migrate_the_schema_once(pg_url: str) -> None:
    barrier, errors = threading.Barrier(8), []

    def first() -> None:
        barrier.wait()
        try:
            PostgresEventStore(pg_url).close()
        except Exception as exc:  # noqa: BLE001 - any failure is the finding
            errors.append(exc)

    threads = [threading.Thread(target=first) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    with psycopg.connect(pg_url) as connection:
        applied = connection.execute("SELECT version FROM findly_schema ORDER BY version").fetchall()
        assert applied == [(version,) for version in range(1, SCHEMA_VERSION + 1)]  # each migration once


# ---- crashes --------------------------------------------------------------------------------------------------------

_KILLED_WRITER = """
import sys, time
import psycopg
from datetime import datetime
from findly_infra.adapters.postgresql import _AT_ONCE, PostgresEventStore
from findly_infra.domain import Fence, TestResultRecorded

original = psycopg.Cursor.executemany
def executemany(self, *args, **kwargs):
    original(self, *args, **kwargs)
    print("inserted", flush=True)  # the rows are in, the transaction is open: the parent kills us here
    time.sleep(60)
psycopg.Cursor.executemany = executemany
store = PostgresEventStore(sys.argv[1])
event = TestResultRecorded(service="fn-posts", environment="development", version="1.0.0",
                           at=datetime(2026, 11, 26, 9), actor="ci", suite="doomed", passed=True)
if sys.argv[2] == "transaction":  # a long append (an import's): a transaction of its own
    store.append("fn-posts", 0, [event] * (_AT_ONCE + 1))
else:  # a command's: one statement, which waits for the lease the parent holds locked
    print("sending", flush=True)
    store.append("fn-posts", 0, [event, event], fence=Fence("development", "runner-a", 1))
"""


def test_a_writer_killed_mid_transaction_leaves_nothing_and_blocks_no_one(pg_url: str) -> None:
    PostgresEventStore(pg_url).close()
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_KILLED_WRITER), pg_url, "transaction"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "inserted"
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    tally("kills")
    child.stdout.close()
    store = PostgresEventStore(pg_url)
    assert store.load("fn-posts") == ([], 0)  # the server rolled the dead session's transaction back
    assert store.append("fn-posts", 0, [_result("next")]) == 1  # and its row locks with it
    store.close()


def test_a_writer_killed_during_its_one_statement_append_leaves_it_whole_or_absent_and_blocks_no_one(
    pg_url: str,
) -> None:
    """A command's append is one statement: killed while the server runs it (here, while it waits for the lease a
    take-over holds), the writer leaves no transaction open — the server finishes the statement whole (its own
    transaction: the client's death is seen only when the answer is sent) or not at all, and nobody is blocked."""
    store = PostgresEventStore(pg_url)
    store.acquire("fn-posts", "development", "runner-a", now=datetime.utcnow(), ttl=timedelta(minutes=3))
    with psycopg.connect(pg_url) as other:
        other.execute("UPDATE findly_leases SET expires = expires WHERE service = 'fn-posts'")  # the row locked
        child = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(_KILLED_WRITER), pg_url, "one-statement"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "sending"
        waiting = "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'WITH lease%%'"
        with psycopg.connect(pg_url, autocommit=True) as watcher:
            while not watcher.execute(waiting).fetchall():  # the child's statement waits for the lease row
                time.sleep(0.05)
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
            tally("kills")
            child.stdout.close()
            other.rollback()  # the take-over gives up: the statement, its client dead, goes on
            while watcher.execute(waiting.replace("wait_event_type = 'Lock' AND ", "")).fetchall():
                time.sleep(0.05)  # until the dead client's session has ended
    events, version = store.load("fn-posts")
    assert version in (0, 2)  # whole or not at all
    assert [event.suite for event in events] == ["doomed"] * version  # type: ignore[attr-defined]
    assert store.append("fn-posts", version, [_result("next")]) == version + 1  # nothing left locked
    assert verify_stream("fn-posts", store.chain("fn-posts")).intact
    store.close()


def test_a_server_killed_mid_rollout_fails_the_command_with_exit_5_and_the_next_one_resumes(
    tmp_path: Path,
) -> None:
    with PostgresServer() as server:
        env = _env(server.url("rollout"))
        assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "canary")[0] == 0
        before = cli(env, "history", "fn-posts")[1]
        server.stop(kill=True)  # the database server crashes
        code, document = cli(env, "rollout", "fn-posts", "--env", "development")
        assert code == 5
        assert "cannot connect to PostgreSQL" in str(document["error"])
        assert server.password not in str(document)
        server.start()
        assert cli(env, "history", "fn-posts")[1] == before  # nothing half-written
        code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--watch")
        assert (code, document["phase"]) == (0, "succeeded")


def test_a_connection_dropped_by_the_server_is_a_retryable_failure_with_nothing_written(pg_url: str) -> None:
    store = PostgresEventStore(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'findly-infra'")
    with pytest.raises(DependencyUnavailableError, match="whole or not at all"):  # a lost COMMIT may have landed
        store.append("fn-posts", 0, [_result("lost")])
    store.close()
    store = PostgresEventStore(pg_url)
    assert store.load("fn-posts") == ([], 0)
    store.close()


# ---- bad credentials, newer schemas -------------------------------------------------------------------------------


def test_a_wrong_password_is_a_clear_failure_that_never_prints_it(postgres: PostgresServer) -> None:
    url = postgres.url("findly_password").replace(postgres.password, "not-the-password-x9")
    code, document = cli(_env(url), "status", "fn-posts")
    assert code == 2  # a refused password is configuration: no retry helps (tests/postgres/test_refusals.py)
    message = str(document["error"])
    assert "password authentication failed" in message
    assert "not-the-password-x9" not in message
    assert "findly:***@127.0.0.1" in message  # where, without the secret


def test_the_password_may_come_from_a_password_file(postgres: PostgresServer, tmp_path: Path) -> None:
    url = postgres.url("findly_passfile")
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"127.0.0.1:{postgres.port}:findly_passfile:findly:{postgres.password}\n")
    passfile.chmod(0o600)
    env = {**_env(url.replace(f":{postgres.password}@", "@")), "PGPASSFILE": str(passfile)}
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0


def test_a_schema_written_by_a_newer_version_is_refused(pg_url: str) -> None:
    PostgresEventStore(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as connection:
        connection.execute("INSERT INTO findly_schema (version, tool) VALUES (99, 'findly-infra 9.0')")
    with pytest.raises(StateError, match=r"newer findly-infra \(schema 99"):
        PostgresEventStore(pg_url)
    code, document = cli(_env(pg_url), "status", "fn-posts")
    assert code == 2
    assert "upgrade findly-infra" in str(document["error"])


# ---- the command line --------------------------------------------------------------------------------------------


def _env(url: str) -> dict[str, str]:
    return {"FINDLY_CONFIG": str(EXAMPLE), "FINDLY_ACTOR": "erin", "FINDLY_STATE": url, "FINDLY_NOW": PAST}


def test_state_migrate_creates_the_schema_and_then_has_nothing_to_do(pg_url: str) -> None:
    code, document = cli(_env(pg_url), "state", "migrate")
    assert (code, document["schema_before"], document["schema"], document["changed"]) == (0, 0, SCHEMA_VERSION, True)
    code, document = cli(_env(pg_url), "state", "migrate")
    assert (code, document["changed"]) == (0, False)


def test_a_release_through_postgresql_is_seen_by_every_runner(pg_url: str) -> None:
    """Each command a fresh process would be (a runner of its own): the state is the database, nothing local."""
    env = _env(pg_url)
    code, document = cli(env, "status", "fn-posts")  # read-only on an empty database: nothing created
    assert code == 0
    with psycopg.connect(pg_url) as connection:
        assert connection.execute("SELECT to_regclass('findly_events')").fetchone() == (None,)
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    assert cli(env, "rollout", "fn-posts", "--env", "development", "--watch")[1]["phase"] == "succeeded"
    code, document = cli(env, "promote", "fn-posts", "1.0.0", "--to", "staging")
    assert code == 3  # past the promotion order (development's success was seen): staging's required tests refuse
    assert document["error"]["rule"] == "required-tests"  # type: ignore[index]
    code, document = cli(env, "state", "check")
    assert (code, document["sound"]) == (0, True)
    assert document["streams"]["fn-posts"] >= 3


def test_a_database_at_an_older_schema_is_migrated_with_its_events_kept(pg_url: str) -> None:
    from findly_infra.adapters.postgresql import MIGRATIONS

    with psycopg.connect(pg_url, autocommit=True) as connection:  # as the first version of the schema left it
        connection.execute(
            "CREATE TABLE findly_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), "
            "tool text NOT NULL)"
        )
        connection.execute(MIGRATIONS[0].encode())
        connection.execute("INSERT INTO findly_schema (version, tool) VALUES (1, 'findly-infra 0.1')")
        connection.execute(
            "INSERT INTO findly_events VALUES ('fn-posts', 0, 'test_result_recorded', '2026-11-26T09:00', %s)",
            (json.dumps(event_to_dict(_result("old"))),),
        )
    code, document = cli(_env(pg_url), "state", "migrate")
    assert (code, document["schema_before"], document["schema"]) == (0, 1, SCHEMA_VERSION)
    store = PostgresEventStore(pg_url)
    assert store.load("fn-posts") == ([_result("old")], 1)
    store.save_snapshot("fn-posts", 1, "{}")  # the tables of sealed snapshots are there
    store.append("fn-posts", 1, [_result("new")])
    verdict = verify_stream("fn-posts", store.chain("fn-posts"))  # the old event linked, the new one after it
    assert verdict.intact, verdict
    assert verdict.events == 2
    store.close()


# ---- the chain of links -----------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data(), histories, batches)
def test_any_change_to_the_postgresql_log_is_named_at_its_first_event(
    pg_url: str, data: st.DataObject, history: list[tuple[str, bool]], sizes: list[int]
) -> None:
    store = PostgresEventStore(pg_url)
    try:
        with psycopg.connect(pg_url, autocommit=True) as connection:  # each example on an empty stream
            connection.execute("DELETE FROM findly_events")

        def write(rows: Rows) -> None:  # as someone with the database's password would: its rows, by SQL
            with psycopg.connect(pg_url) as connection:
                connection.execute("DELETE FROM findly_events WHERE service = %s", (SERVICE,))
                with connection.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO findly_events (service, position, type, at, body, link) "
                        "VALUES (%s, %s, %s, %s, %s, %s)",
                        rows_as_inserts(rows),
                    )

        check_tampering(
            lambda v, e: store.append(SERVICE, v, e),
            lambda: list(store.chain(SERVICE)),
            write,
            history=history,
            sizes=sizes,
            damage=data.draw(tampering(len(history))),
        )
    finally:
        store.close()


def test_state_verify_reads_a_postgresql_state_and_names_an_edit(pg_url: str) -> None:
    store = PostgresEventStore(pg_url)
    store.append("fn-posts", 0, [_result("a"), _result("b"), _result("c")])
    store.close()
    code, document = cli(_env(pg_url), "state", "verify")
    assert (code, document["intact"], document["streams"]["fn-posts"]["events"]) == (0, True, 3)
    head = document["streams"]["fn-posts"]["head"]
    with psycopg.connect(pg_url, autocommit=True) as connection:
        connection.execute("UPDATE findly_events SET body = replace(body, '\"ci\"', '\"eve\"') WHERE position = 1")
    code, document = cli(_env(pg_url), "state", "verify", "--expect", head)
    assert (code, document["ok"], document["streams"]["fn-posts"]["broken"]["position"]) == (2, False, 1)
