"""The latest event time of an SQLite state (where a rehearsal's clock resumes, asked by every command of a state in
virtual time) is kept by an index of each event's time: the same work at any length of history — and a state made
before the index gains it on its first writing command, a read-only one leaving it as it is."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.domain import TestResultRecorded as ResultRecorded  # not a test class

AT = datetime(2026, 11, 26, 9, 0)


def _result(at: datetime, service: str = "fn-posts") -> ResultRecorded:
    return ResultRecorded(
        service=service, environment="development", version="1.0.0", at=at, actor="ci", suite="unit", passed=True
    )


def _steps(store: SqliteEventStore) -> int:
    """The SQLite virtual machine's instructions run to find the latest time (its progress handler, called at every
    instruction: sqlite.org/c3ref/progress_handler.html) — the work done, independent of the machine's speed."""
    count = 0

    def step() -> int:
        nonlocal count
        count += 1
        return 0

    store._connection.set_progress_handler(step, 1)
    try:
        store.latest_time()
    finally:
        store._connection.set_progress_handler(None, 1)
    return count


def _fill(store: SqliteEventStore, service: str, count: int) -> None:
    version = store.load(service)[1]
    store.append(service, version, [_result(AT + timedelta(seconds=n), service) for n in range(count)])


def test_the_latest_time_costs_the_same_at_any_length_of_history(tmp_path: Path) -> None:
    store = SqliteEventStore(tmp_path / "state.sqlite3")
    _fill(store, "fn-posts", 10)
    short = _steps(store)
    _fill(store, "fn-users", 5000)
    assert _steps(store) <= short + 2  # one step down the index, not a scan of 5,010 events
    assert store.latest_time() == AT + timedelta(seconds=4999)
    store.close()


def test_a_state_made_before_the_index_gains_it_on_its_first_writing_command(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteEventStore(path)
    _fill(store, "fn-posts", 3000)
    store.close()
    with contextlib.closing(sqlite3.connect(path)) as old:  # as findly-infra made it before the index
        old.execute("DROP INDEX events_at")
        old.commit()
    reader = SqliteEventStore(path, create=False)
    assert reader.latest_time() == AT + timedelta(seconds=2999)  # read as it is: by a scan
    assert _steps(reader) > 3000
    reader.close()
    with contextlib.closing(sqlite3.connect(path)) as check:
        assert check.execute("SELECT 1 FROM sqlite_master WHERE name = 'events_at'").fetchone() is None
    writer = SqliteEventStore(path)
    assert writer.latest_time() == AT + timedelta(seconds=2999)
    assert _steps(writer) < 100
    writer.close()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)), min_size=1, max_size=12
    )  # with and without microseconds: the stored text orders as the times do
)
def test_the_latest_time_is_the_latest_event_of_any_service(times: list[datetime]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        store = SqliteEventStore(Path(folder) / "state.sqlite3")
        assert store.latest_time() is None
        for n, at in enumerate(times):
            service = f"svc-{n % 3}"
            store.append(service, store.load(service)[1], [_result(at, service)])
        assert store.latest_time() == max(times)
        store.close()
