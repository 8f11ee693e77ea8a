"""A command's append to PostgreSQL is one statement, in one round trip — and keeps every guarantee the transaction
it replaces gave: two writers at one position from two connections, exactly one wins (the other waits for it on the
primary key, then is refused); the fence is judged on the lease as the statement locks it (a take-over in flight is
waited for); several events are written whole or not at all; each link is the one ``application.integrity`` computes,
so that a stream written by either path verifies. And the latest event time is an index lookup."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from findly_infra.adapters.postgresql import _AT_ONCE, PostgresEventStore
from findly_infra.application.codec import event_to_dict
from findly_infra.application.integrity import GENESIS, links_for, verify_stream
from findly_infra.application.ports import ConcurrencyError, LeaseLostError
from findly_infra.domain import Fence
from findly_infra.domain import TestResultRecorded as ResultRecorded  # not a test class
from findly_infra.testing.postgresql import PostgresServer

AT = datetime(2026, 11, 26, 9, 0)
TTL = timedelta(minutes=3)


def _result(suite: str, service: str = "fn-posts", at: datetime = AT) -> ResultRecorded:
    return ResultRecorded(
        service=service, environment="development", version="1.0.0", at=at, actor="ci", suite=suite, passed=True
    )


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresEventStore]:
    opened = PostgresEventStore(pg_url)
    yield opened
    opened.close()


def _round_trips(store: PostgresEventStore, monkeypatch: pytest.MonkeyPatch, write: Any) -> int:
    """How many requests *write* made of the server: psycopg sends each statement and waits for its answer in one
    ``Connection.wait`` (a relay counting the messages, in benchmarks/appends.py's manner, sees one round trip per
    append, and a second, once, when psycopg prepares the statement on its fifth run)."""
    connection = store._connection
    original, count = connection.wait, 0

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal count
        count += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(connection, "wait", counting)
    try:
        write()
    finally:
        monkeypatch.setattr(connection, "wait", original)
    return count


def test_a_commands_append_is_one_round_trip(store: PostgresEventStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fenced or not, of one event or several (before: BEGIN, the lease, the head, the rows, COMMIT — five or six)."""
    fence = store.acquire("fn-posts", "development", "runner-a", now=datetime.utcnow(), ttl=TTL).fence("development")
    version = 0
    for round_ in range(8):  # prepared by psycopg on its 5th run (the prepare sent with it): still one request
        for events, fenced in (([_result("unit")], None), ([_result("a"), _result("b"), _result("c")], fence)):
            write = functools.partial(store.append, "fn-posts", version, events, fence=fenced)
            trips = _round_trips(store, monkeypatch, write)
            assert trips == 1, (round_, len(events), fenced)
            version += len(events)
    assert verify_stream("fn-posts", store.chain("fn-posts")).intact


def _waiting_for_a_lock(url: str) -> None:
    """Until a statement of ours waits for a lock (the one the other connection holds)."""
    with psycopg.connect(url, autocommit=True) as watcher:
        for _ in range(600):
            waiting = watcher.execute(
                "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND application_name = 'findly-infra'"
            ).fetchall()
            if waiting:
                return
            time.sleep(0.05)
    raise AssertionError("the append never waited for the other connection")


def _in_thread(write: Any) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(write())
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def _row(service: str, position: int, suite: str, previous: str) -> tuple[Any, ...]:
    body = json.dumps(event_to_dict(_result(suite, service)))
    return (service, position, "test_result_recorded", AT, body, links_for(previous, service, position, [body])[0])


@pytest.mark.parametrize("other", ["commits", "rolls back"])
def test_two_writers_at_one_position_from_two_connections_have_one_winner(pg_url: str, other: str) -> None:
    """The other connection's row at the same position, not yet committed: the append waits for it on the primary
    key, then is refused with nothing written when it commits — or written, linked after the head, when it rolls
    back."""
    store = PostgresEventStore(pg_url)
    assert store.append("fn-posts", 0, [_result("first")]) == 1
    head = next(link for position, _, link in store.chain("fn-posts") if position == 0)
    assert head is not None
    with psycopg.connect(pg_url) as racer:
        racer.execute(
            "INSERT INTO findly_events (service, position, type, at, body, link) VALUES (%s, %s, %s, %s, %s, %s)",
            _row("fn-posts", 1, "racer", head),
        )
        thread, outcome = _in_thread(lambda: store.append("fn-posts", 1, [_result("ours"), _result("ours-2")]))
        _waiting_for_a_lock(pg_url)
        if other == "commits":
            racer.commit()
        else:
            racer.rollback()
    thread.join(30)
    events = store.load("fn-posts")[0]
    if other == "commits":
        assert isinstance(outcome[0], ConcurrencyError), outcome
        assert "event 1 is taken" in str(outcome[0])
        assert [event.suite for event in events] == ["first", "racer"]  # type: ignore[attr-defined]
    else:
        assert outcome == [3]
        assert [event.suite for event in events] == ["first", "ours", "ours-2"]  # type: ignore[attr-defined]
    assert verify_stream("fn-posts", store.chain("fn-posts")).intact
    store.close()


def test_a_stale_writer_is_told_where_the_stream_is(store: PostgresEventStore) -> None:
    assert store.append("fn-posts", 0, [_result("a"), _result("b")]) == 2
    for stale in (0, 1, 3):
        with pytest.raises(ConcurrencyError, match=f"now at event 2, expected {stale}"):
            store.append("fn-posts", stale, [_result("late")])
    assert store.load("fn-posts")[1] == 2


def test_several_events_are_written_whole_or_not_at_all(pg_url: str) -> None:
    """The third event's position is taken (by a row another connection is writing) while the first two are in:
    the statement fails and none of its rows stays."""
    store = PostgresEventStore(pg_url)
    assert store.append("fn-posts", 0, [_result("first")]) == 1
    with psycopg.connect(pg_url) as racer:
        racer.execute(
            "INSERT INTO findly_events (service, position, type, at, body, link) VALUES (%s, %s, %s, %s, %s, %s)",
            _row("fn-posts", 3, "in the way", GENESIS),
        )
        thread, outcome = _in_thread(lambda: store.append("fn-posts", 1, [_result(s) for s in ("x", "y", "z")]))
        _waiting_for_a_lock(pg_url)  # rows 1 and 2 are in, row 3 waits for the racer
        racer.commit()
    thread.join(30)
    assert isinstance(outcome[0], ConcurrencyError), outcome
    with psycopg.connect(pg_url) as reader:
        positions = [p for (p,) in reader.execute("SELECT position FROM findly_events ORDER BY position")]
    assert positions == [0, 3]  # the racer's row alone: none of ours
    store.close()


@pytest.mark.parametrize("take_over", ["commits", "rolls back"])
def test_the_fence_is_judged_on_the_lease_the_statement_locks(pg_url: str, take_over: str) -> None:
    """A take-over in flight (the lease row updated, not committed): the fenced append waits for it, then is refused
    on the lease it committed — or admitted, when it rolled back. Never written under a lease already lost."""
    store = PostgresEventStore(pg_url)
    fence = store.acquire("fn-posts", "development", "runner-a", now=datetime.utcnow(), ttl=TTL).fence("development")
    with psycopg.connect(pg_url) as other:
        other.execute(
            "UPDATE findly_leases SET holder = 'runner-b', token = token + 1 WHERE service = 'fn-posts' "
            "AND environment = 'development'"
        )
        thread, outcome = _in_thread(lambda: store.append("fn-posts", 0, [_result("unit")], fence=fence))
        _waiting_for_a_lock(pg_url)
        if take_over == "commits":
            other.commit()
        else:
            other.rollback()
    thread.join(30)
    if take_over == "commits":
        assert isinstance(outcome[0], LeaseLostError), outcome
        assert "taken over by runner-b" in str(outcome[0])
        assert store.load("fn-posts")[1] == 0
    else:
        assert outcome == [1]
    store.close()


def test_a_fence_refused_wins_over_a_stale_version_and_a_lease_never_held_refuses(store: PostgresEventStore) -> None:
    """As in the transaction it replaces: the lease is judged first; a fence for a lease never held is refused."""
    fence = store.acquire("fn-posts", "development", "runner-a", now=datetime.utcnow(), ttl=TTL).fence("development")
    store.acquire("fn-posts", "development", "runner-b", now=datetime.utcnow(), ttl=TTL, replacing="runner-a")
    with pytest.raises(LeaseLostError, match="taken over by runner-b"):
        store.append("fn-posts", 5, [_result("late")], fence=fence)
    with pytest.raises(LeaseLostError, match="no longer kept"):
        store.append("fn-posts", 0, [_result("late")], fence=Fence("production", "runner-a", 1))
    assert store.load("fn-posts")[1] == 0


SERVICES = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=12
)  # any name PostgreSQL's text holds: each link hashes its UTF-8
SUITES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(service=SERVICES, batches=st.lists(st.lists(SUITES, min_size=1, max_size=4), min_size=1, max_size=3))
def test_links_made_by_the_statement_are_the_ones_the_integrity_module_computes(
    postgres: PostgresServer, service: str, batches: list[list[str]]
) -> None:
    """Batches of a command's size (one statement, SHA-256 in SQL) around one of an import's (a transaction, links
    computed in Python): every stored link is ``links_for``'s, and the stream verifies."""
    url = postgres.url("links")
    store = PostgresEventStore(url)
    try:
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("DELETE FROM findly_events WHERE service = %s", (service,))
        version, bodies = 0, []
        long_batch = [f"import-{n}" for n in range(_AT_ONCE + 1)]
        for suites in [*batches[:1], long_batch, *batches[1:]]:
            events = [_result(suite, service, AT + timedelta(seconds=version + n)) for n, suite in enumerate(suites)]
            version = store.append(service, version, events)
            bodies += [json.dumps(event_to_dict(event)) for event in events]
        stored = list(store.chain(service))
        assert [link for _, _, link in stored] == links_for(GENESIS, service, 0, bodies)
        assert verify_stream(service, stored).intact
    finally:
        store.close()


def test_the_latest_time_is_an_index_lookup(store: PostgresEventStore) -> None:
    """``max(at)`` answered from the end of the events' time index, not by reading every event."""
    store.append("fn-posts", 0, [_result(f"s{n}", at=AT + timedelta(minutes=n)) for n in range(20)])
    store._connection.execute("ANALYZE findly_events")
    plan = "\n".join(row[0] for row in store._connection.execute("EXPLAIN SELECT max(at) FROM findly_events"))
    assert "Index Only Scan Backward using findly_events_at" in plan or "Index Scan Backward using findly" in plan
    assert store.latest_time() == AT + timedelta(minutes=19)
