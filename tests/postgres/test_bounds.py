"""Every wait on PostgreSQL is bounded, and the URL reaches libpq as written.

A server that stops answering — every process of it frozen (SIGSTOP), as on a host that hangs: the kernel still
accepts connections and acknowledges data, so TCP notices nothing — ends a running watch, or a command mid-transaction,
with exit 5 within a bound set by ``FINDLY_STATE_TIMEOUT``, nothing half-written: once the server is resumed
(SIGCONT) the log verifies. The URL's own libpq parameters (``options``, ``application_name``, ``connect_timeout``…)
are kept, ours joined to them; what libpq refuses, or what cannot serve a findly state, is exit 2 naming it.

No test asserts how long anything took: a frozen server's command is given a generous child-process timeout, and
only its outcome is checked. Every freeze is undone in a ``finally`` (``PostgresServer.frozen``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import quote, urlsplit

import psycopg
import pytest

from findly_infra.adapters.postgresql import _AT_ONCE, PostgresEventStore
from findly_infra.application.ports import BadInputError, DependencyUnavailableError
from findly_infra.domain import TestResultRecorded as ResultRecorded  # not a test class
from findly_infra.domain.events import Event
from findly_infra.testing.postgresql import PostgresServer
from tests.conftest import EXAMPLE, PAST
from tests.reliability import compare_logs, tally
from tests.test_release_cli import cli

AT = datetime(2026, 11, 26, 9, 0)
SMALL = "1"
"""FINDLY_STATE_TIMEOUT in these tests: a second (a request unanswered for three of them is cut)."""
PATIENCE = 120
"""How long a child process may take before the test calls it hung: far beyond any bound it should keep."""


def _env(url: str, **more: str) -> dict[str, str]:
    return {"FINDLY_CONFIG": str(EXAMPLE), "FINDLY_ACTOR": "erin", "FINDLY_STATE": url, "FINDLY_NOW": PAST, **more}


def _result(suite: str) -> ResultRecorded:
    return ResultRecorded(
        service="fn-posts", environment="development", version="1.0.0", at=AT, actor="ci", suite=suite, passed=True
    )


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    """A server of this module's own, as freezing it stops every connection to it: the freezes here take turns on
    it (each test in a database of its own, every freeze undone before the test ends), never the session's server
    that the other tests use."""
    with PostgresServer() as own:
        yield own


def _count(url: str, kind: str) -> int:
    with psycopg.connect(url, connect_timeout=5) as connection:
        row = connection.execute("SELECT count(*) FROM findly_events WHERE type = %s", (kind,)).fetchone()
    return int(row[0]) if row else 0


def _events(url: str) -> list[Event]:
    store = PostgresEventStore(url, create=False)
    try:
        return store.load("fn-posts")[0]
    finally:
        store.close()


def _settled(url: str) -> None:
    """Wait until the server has ended every findly session it was serving when frozen (a resumed backend reads
    the end of its cut connection, rolls back what it had not committed, and exits)."""
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as connection:
        for _ in range(600):
            row = connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database()"
            ).fetchone()
            if row is not None and row[0] == 0:
                return
            time.sleep(0.05)
    raise AssertionError("the resumed server kept a findly session open")


# ---- a server that stops answering --------------------------------------------------------------------------------


def test_a_watch_on_a_server_that_freezes_ends_with_exit_5_and_the_log_it_left_verifies(server: PostgresServer) -> None:
    url = server.url("frozen_watch")
    env = _env(url, FINDLY_STATE_TIMEOUT=SMALL)
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    watch = [sys.executable, "-m", "findly_infra", "--json", "rollout", "fn-posts", "--env", "development", "--watch"]
    child = subprocess.Popen(
        watch,
        env={**os.environ, **env, "FINDLY_STEP_DELAY": "0.3"},  # a watch of many seconds: frozen in its middle
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(1200):  # until it has analysed once: mid-watch
            if _count(url, "analysis_recorded") >= 1 or child.poll() is not None:
                break
            time.sleep(0.05)
        assert child.poll() is None, child.communicate()
        with server.frozen() as stopped:
            tally("freezes")
            assert len(stopped) >= 2  # the postmaster and the watch's backend at least
            out, err = child.communicate(timeout=PATIENCE)  # hangs for good before the fix
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 5, err
    error = json.loads(out)["error"]
    assert "did not answer a request within 3 s (3 x FINDLY_STATE_TIMEOUT=1 s)" in error["message"]
    assert "findly:***@127.0.0.1" in error["message"]  # the state named, its password not
    assert server.password not in out + err
    _settled(url)
    code, verified = cli(env, "state", "verify")
    assert (code, verified["intact"]) == (0, True)  # whole events only, their links unbroken
    before = _events(url)
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--watch")
    assert (code, document["phase"]) == (0, "succeeded")  # the next runner resumes where the log says
    after = _events(url)
    compare_logs(before, after[: len(before)])
    assert after[: len(before)] == before  # nothing lost, nothing rewritten
    analyses = [event.at for event in after if event.type == "analysis_recorded"]
    assert analyses == sorted(set(analyses))  # nothing analysed twice
    code, verified = cli(env, "state", "verify")
    assert (code, verified["intact"]) == (0, True)


_CUT_WRITER = """
import sys
import psycopg
from datetime import datetime
from findly_infra.adapters.postgresql import _AT_ONCE, PostgresEventStore
from findly_infra.application.ports import DependencyUnavailableError
from findly_infra.domain import TestResultRecorded

when = sys.argv[2]  # the server freezes before the rows are sent, or after (the commit unanswered)
original = psycopg.Cursor.executemany
def executemany(self, *args, **kwargs):
    if when == "before-insert":
        print("in a transaction", flush=True)
        sys.stdin.readline()  # the parent has frozen the server
    original(self, *args, **kwargs)
    if when == "before-commit":
        print("in a transaction", flush=True)
        sys.stdin.readline()
psycopg.Cursor.executemany = executemany
sent = psycopg.Connection.execute
def execute(self, query, *args, **kwargs):
    if when == "one-statement" and str(query).startswith("WITH"):  # the append's own statement, about to be sent
        print("in a transaction", flush=True)
        sys.stdin.readline()
    return sent(self, query, *args, **kwargs)
psycopg.Connection.execute = execute
store = PostgresEventStore(sys.argv[1], timeout=float(sys.argv[3]))
event = TestResultRecorded(service="fn-posts", environment="development", version="1.0.0",
                           at=datetime(2026, 11, 26, 9), actor="ci", suite="cut", passed=True)
count = 2 if when == "one-statement" else _AT_ONCE + 1  # a command's append, one statement; an import's, a transaction
try:
    store.append("fn-posts", 1, [event] * count)
except DependencyUnavailableError as exc:
    print("unavailable:", exc, flush=True)
    store.close()
    sys.exit(5)
print("written", flush=True)
"""


@pytest.mark.parametrize("when", ["before-insert", "before-commit", "one-statement"])
def test_a_write_cut_by_a_frozen_server_is_whole_or_absent_and_the_log_verifies(
    server: PostgresServer, when: str
) -> None:
    """Frozen while a long append's transaction is open: its statements are never answered, the connection is cut
    (exit 5), and the server — once resumed — rolls the transaction back. Frozen with the COMMIT sent, the server may
    still commit it when resumed: the events are then there whole, never a part of them. A command's append is one
    statement, its own transaction: frozen as it is sent, it is cut alike, and the resumed server runs it whole or
    not at all."""
    url = server.url(f"frozen_{when.replace('-', '_')}")
    store = PostgresEventStore(url)
    store.append("fn-posts", 0, [_result("before")])
    store.close()
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_CUT_WRITER), url, when, SMALL],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None
    assert child.stdout is not None
    try:
        assert child.stdout.readline().strip() == "in a transaction"
        with server.frozen():
            tally("freezes")
            child.stdin.write("go\n")
            child.stdin.flush()
            out, err = child.communicate(timeout=PATIENCE)  # hangs for good before the fix
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 5, (out, err)
    assert "did not answer a request within 3 s (3 x FINDLY_STATE_TIMEOUT=1 s)" in out
    assert "whole or not at all" in out
    _settled(url)
    store = PostgresEventStore(url)
    try:
        events, version = store.load("fn-posts")
        count = 2 if when == "one-statement" else _AT_ONCE + 1
        if when == "before-insert":
            assert version == 1  # rolled back by the resumed server
        else:
            assert version in (1, 1 + count)  # all or nothing
        assert [getattr(event, "suite", None) for event in events] == ["before"] + ["cut"] * (version - 1)
        assert store.append("fn-posts", version, [_result("after")]) == version + 1  # nothing left locked
    finally:
        store.close()
    code, verified = cli(_env(url), "state", "verify")
    assert (code, verified["intact"]) == (0, True)


def test_the_watchdog_cuts_a_request_left_unanswered_and_nothing_else() -> None:
    from findly_infra.adapters.postgresql import _Watchdog

    ours, theirs = socket.socketpair()
    watch = _Watchdog(0.2, ours.fileno())
    try:
        with watch.watching():
            theirs.sendall(b"a")
            assert ours.recv(1) == b"a"  # answered within the bound
        time.sleep(0.5)  # idle, past the bound: no request, nothing cut
        theirs.sendall(b"b")
        assert ours.recv(1) == b"b"
        assert not watch.fired
        with watch.watching():
            assert ours.recv(1) == b""  # never answered: shut down, the blocked read returns
        assert watch.fired
    finally:
        watch.stop()
        ours.close()
        theirs.close()


def test_a_new_command_on_a_frozen_server_gives_up_connecting_with_exit_5(server: PostgresServer) -> None:
    url = server.url("frozen_connect")
    env = _env(url, FINDLY_STATE_TIMEOUT=SMALL)
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    command = [sys.executable, "-m", "findly_infra", "--json", "status", "fn-posts"]
    with server.frozen():
        tally("freezes")
        result = subprocess.run(
            command, env={**os.environ, **env}, capture_output=True, text=True, timeout=PATIENCE, check=False
        )
    assert result.returncode == 5, result.stderr
    message = json.loads(result.stdout)["error"]["message"]
    assert "cannot connect to PostgreSQL" in message
    assert "FINDLY_STATE_TIMEOUT" in message


def test_a_migration_waiting_on_another_migrators_lock_gives_up_after_the_timeout(pg_url: str) -> None:
    from findly_infra.adapters.postgresql import _LOCK

    with psycopg.connect(pg_url, autocommit=True) as stuck:
        stuck.execute("SELECT pg_advisory_lock(%s)", (_LOCK,))  # a migrator that never lets go
        with pytest.raises(DependencyUnavailableError, match="lock timeout"):
            PostgresEventStore(pg_url, timeout=1)
    PostgresEventStore(pg_url).close()  # once it has let go, the schema is made
    with psycopg.connect(pg_url) as connection:
        assert connection.execute("SELECT count(*) FROM findly_schema").fetchone() != (0,)


def test_an_append_waiting_on_a_stuck_writers_row_gives_up_after_the_timeout(pg_url: str) -> None:
    store = PostgresEventStore(pg_url, timeout=1)
    try:
        with psycopg.connect(pg_url) as stuck:  # a transaction holding event 0, neither committed nor rolled back
            stuck.execute(
                "INSERT INTO findly_events (service, position, type, at, body) VALUES ('fn-posts', 0, 't', now(), '{}')"
            )
            with pytest.raises(DependencyUnavailableError, match=r"lock timeout.*nothing was written"):
                store.append("fn-posts", 0, [_result("waits")])
            stuck.rollback()
        assert store.append("fn-posts", 0, [_result("after")]) == 1
    finally:
        store.close()


# ---- the URL as written ---------------------------------------------------------------------------------------------


def _with(url: str, **parameters: str) -> str:
    return url + "?" + "&".join(f"{key}={quote(value, safe='')}" for key, value in parameters.items())


def test_a_read_only_session_the_url_asks_for_refuses_every_write_with_exit_5(pg_url: str) -> None:
    PostgresEventStore(pg_url).close()  # the schema, made by a writable session
    read_only = _with(pg_url, options="-c default_transaction_read_only=on")
    code, document = cli(_env(read_only), "deploy", "fn-posts", "1.0.0", "--env", "development")
    assert code == 5  # this server does not take writes now (a standby, or a read-only session): not bad input
    message = str(document["error"])
    assert "read-only" in message
    assert "nothing was written" in message
    with psycopg.connect(pg_url) as connection:
        assert connection.execute("SELECT count(*) FROM findly_events").fetchone() == (0,)
        assert connection.execute("SELECT count(*) FROM findly_meta").fetchone() == (0,)
    assert cli(_env(read_only), "status", "fn-posts")[0] == 0  # reading is fine


def test_pgoptions_reaches_the_server_as_libpq_reads_it(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    PostgresEventStore(pg_url).close()
    monkeypatch.setenv("PGOPTIONS", "-c default_transaction_read_only=on")
    store = PostgresEventStore(pg_url)
    try:
        with pytest.raises(DependencyUnavailableError, match="read-only"):
            store.append("fn-posts", 0, [_result("refused")])
    finally:
        store.close()


def test_our_bounds_join_the_urls_parameters_and_never_replace_them(pg_url: str) -> None:
    url = _with(
        pg_url,
        options="-c statement_timeout=7s -c search_path=public",
        application_name="deploy job 7",
        connect_timeout="9",
        target_session_attrs="read-write",
        sslmode="disable",
    )
    store = PostgresEventStore(url, timeout=2)
    try:
        connection = store._connection

        def show(name: str) -> str:
            row = connection.execute(f"SHOW {name}").fetchone()
            assert row is not None
            return str(row[0])

        assert show("statement_timeout") == "7s"  # theirs, given after ours: it wins
        assert show("search_path") == "public"
        assert show("application_name") == "deploy job 7"
        assert show("lock_timeout") == "2s"  # ours, joined to theirs
        assert show("idle_in_transaction_session_timeout") == "4s"
        given = connection.info.get_parameters()
        assert (given["connect_timeout"], given["target_session_attrs"], given["sslmode"]) == (
            "9",
            "read-write",
            "disable",
        )
        assert given["keepalives_idle"] == "2"  # ours, where the URL says nothing
    finally:
        store.close()
    store = PostgresEventStore(pg_url, timeout=2)
    try:
        assert store._connection.execute("SHOW statement_timeout").fetchone() == ("4s",)  # ours alone: 2 x timeout
        assert store._connection.execute("SHOW application_name").fetchone() == ("findly-infra",)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("parameters", "named"),
    [
        ({"frobnicate": "1"}, 'invalid URI query parameter: "frobnicate"'),
        ({"sslmode": "sometimes"}, 'invalid sslmode value: "sometimes"'),
        ({"keepalives_idle": "soon"}, 'invalid integer value "soon" for connection option "keepalives_idle"'),
        ({"connect_timeout": "soon"}, "connect_timeout"),
        ({"target_session_attrs": "writable"}, 'invalid target_session_attrs value: "writable"'),
        ({"replication": "database"}, "replication"),
    ],
)
def test_a_url_parameter_libpq_refuses_or_a_state_cannot_use_is_exit_2_naming_it(
    pg_url: str, parameters: dict[str, str], named: str
) -> None:
    code, document = cli(_env(_with(pg_url, **parameters)), "status", "fn-posts")
    assert code == 2, document
    message = str(document["error"])
    assert named in message
    assert "findly:***@127.0.0.1" in message
    assert str(urlsplit(pg_url).password) not in message  # the password never printed


def test_what_a_pg_variable_sets_counts_as_the_users_and_the_rest_is_ours() -> None:
    from findly_infra.adapters.postgresql import _connection_parameters

    environ = {"PGCONNECT_TIMEOUT": "11", "PGOPTIONS": "-c search_path=x"}
    parameters = _connection_parameters("postgresql://u@db.example/app?sslmode=verify-full", 5, environ, "", str)
    assert "connect_timeout" not in parameters  # libpq reads PGCONNECT_TIMEOUT itself
    assert parameters["options"] == (
        "-c lock_timeout=5000 -c statement_timeout=10000 -c idle_in_transaction_session_timeout=10000 -c jit=off "
        "-c search_path=x"
    )
    assert (parameters["sslmode"], parameters["keepalives_idle"], parameters["tcp_user_timeout"]) == (
        "verify-full",
        "5",
        "5000",
    )
    assert parameters["fallback_application_name"] == "findly-infra"
    assert "application_name" not in parameters


def test_a_bad_url_is_refused_before_anything_is_reached() -> None:
    with pytest.raises(BadInputError, match=r'postgresql://u:\*\*\*@.*invalid URI query parameter: "nope"'):
        PostgresEventStore("postgresql://u:secret@127.0.0.1:1/db?nope=1")


def test_a_state_timeout_past_a_day_is_refused() -> None:
    code, document = cli(_env("memory://", FINDLY_STATE_TIMEOUT="1e300"), "status", "fn-posts")
    assert code == 2
    assert "FINDLY_STATE_TIMEOUT" in str(document["error"])


def test_the_sslpassword_of_a_url_is_never_printed(pg_url: str) -> None:
    url = _with(pg_url, sslpassword="key-secret-42", sslmode="sometimes")
    code, document = cli(_env(url), "status", "fn-posts")
    assert code == 2
    assert "key-secret-42" not in json.dumps(document)
