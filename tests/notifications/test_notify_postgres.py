"""The outbox of notifications in a real PostgreSQL (started by tests/postgres' fixtures): the same tests as on memory
and SQLite (``test_notify_outbox``), two connections being two processes, and a database at schema 7 migrated."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

pytest.importorskip("psycopg", reason="the postgresql extra: pip install 'findly-infra[postgresql]'")

from findly_infra.adapters.memory import MemoryNotifier
from findly_infra.adapters.postgresql import MIGRATIONS, SCHEMA_VERSION, PostgresEventStore
from findly_infra.application.ports import EventStore, Outbox
from tests.notifications.test_notify_outbox import (
    Clock,
    _notifications,
    platform_with_receivers,
    test_a_crash_between_the_append_and_the_outbox_is_swept_later,
    test_a_cursor_moves_only_from_where_it_was_read,
    test_a_dispatch_is_queued_once_and_due_in_order,
    test_a_long_backlog_is_swept_a_page_at_a_time_and_a_rollback_keeps_its_criterion,
    test_a_permanent_failure_gives_up_at_once_and_a_long_outage_after_the_bound,
    test_a_receiver_down_for_a_while_gets_it_once_with_backoff,
    test_a_resolve_goes_where_its_trigger_went,
    test_a_resolve_never_overtakes_its_trigger,
    test_a_run_reads_every_page_of_what_is_due,
    test_each_send_is_given_what_is_left_of_the_budget,
    test_notifications_of_a_real_release_reach_each_receiver_once,
    test_one_of_two_processes_claims_an_attempt,
    test_what_a_run_says_of_an_attempt_cut_short_or_taken_by_another_run,
)
from tests.postgres.conftest import pg_url, postgres

__all__ = [
    "pg_url",
    "postgres",
    "test_a_crash_between_the_append_and_the_outbox_is_swept_later",
    "test_a_cursor_moves_only_from_where_it_was_read",
    "test_a_dispatch_is_queued_once_and_due_in_order",
    "test_a_long_backlog_is_swept_a_page_at_a_time_and_a_rollback_keeps_its_criterion",
    "test_a_permanent_failure_gives_up_at_once_and_a_long_outage_after_the_bound",
    "test_a_receiver_down_for_a_while_gets_it_once_with_backoff",
    "test_a_resolve_goes_where_its_trigger_went",
    "test_a_resolve_never_overtakes_its_trigger",
    "test_a_run_reads_every_page_of_what_is_due",
    "test_each_send_is_given_what_is_left_of_the_budget",
    "test_notifications_of_a_real_release_reach_each_receiver_once",
    "test_one_of_two_processes_claims_an_attempt",
    "test_what_a_run_says_of_an_attempt_cut_short_or_taken_by_another_run",
]


@pytest.fixture
def stores(pg_url: str) -> Iterator[Callable[[], tuple[EventStore, Outbox]]]:
    """Each call a new connection: another process's view of the same database."""
    opened: list[PostgresEventStore] = []

    def open_postgres() -> tuple[EventStore, Outbox]:
        opened.append(PostgresEventStore(pg_url))
        return opened[-1], opened[-1]

    yield open_postgres
    for store in opened:
        store.close()


def test_a_database_of_schema_7_gains_the_outbox_with_its_cursors_at_the_ends(pg_url: str) -> None:
    import psycopg

    assert SCHEMA_VERSION == 8
    with psycopg.connect(pg_url, autocommit=True) as connection:  # as findly-infra before the outbox left it
        connection.execute(
            b"CREATE TABLE findly_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now(), "
            b"tool text NOT NULL)"
        )
        for version, migration in enumerate(MIGRATIONS[:7], 1):
            connection.execute(migration.encode())
            connection.execute(b"INSERT INTO findly_schema (version, tool) VALUES (%s, 'test')", (version,))
    old = PostgresEventStore(pg_url, create=False)
    assert old.schema_version() == 7
    assert old.notify_cursor("fn-posts") is None
    assert old.dispatches() == []
    old.close()
    platform = platform_with_receivers()
    # events recorded at schema 7 (written directly, as that version's append would)
    with psycopg.connect(pg_url, autocommit=True) as connection:
        connection.execute(
            b"INSERT INTO findly_events (service, position, type, at, body) VALUES ('fn-posts', 0, 'x', now(), '{}'), "
            b"('fn-posts', 1, 'x', now(), '{}')"
        )
    store = PostgresEventStore(pg_url)  # a writing command: migrates
    try:
        assert store.schema_version() == 8
        assert store.notify_cursor("fn-posts") == (2, "[]")  # the past is not told
        notifications = _notifications(platform, store, store, Clock(), {"slack": MemoryNotifier()})
        assert notifications.sweep(["fn-posts"]) == 0
    finally:
        store.close()
