"""``state backup`` / ``state restore`` on a real PostgreSQL: SQLite -> backup -> PostgreSQL -> backup -> SQLite gives
every event as stored with the same links; a backup read while another session appends is the database as its
REPEATABLE READ transaction began; a restore over a database with other events is refused (exit 3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from findly_infra.adapters.postgresql import PostgresEventStore
from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.cli import EXIT_OK, EXIT_REFUSED
from tests.conftest import PAST
from tests.test_backup import _backup, _env, _lines, _rows, built_source, consistent_while_appended


@pytest.fixture(scope="module")
def source_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_source(tmp_path_factory.mktemp("source"))


def _rows_at(url: str) -> dict[str, list[tuple[int, str, str | None]]]:
    store = (
        PostgresEventStore(url, create=False) if url.startswith("postgresql") else SqliteEventStore(url, create=False)
    )
    try:
        return _rows(store)
    finally:
        store.close()


def test_sqlite_to_postgresql_and_back_through_backups_keeps_every_event_and_link(
    source_state: Path, tmp_path: Path, pg_url: str
) -> None:
    rows = _rows_at(str(source_state))
    first = _backup(source_state, tmp_path / "backups")
    code, document = cli_restore(pg_url, first)
    assert code == EXIT_OK, document
    assert _rows_at(pg_url) == rows
    second = _backup(pg_url, tmp_path / "from-postgresql", "2026-01-05T10:01:00Z")  # type: ignore[arg-type]
    assert _lines(second)[1:] == _lines(first)[1:]  # the same lines, in the same order
    header, again = json.loads(_lines(second)[0]), json.loads(_lines(first)[0])
    assert (header["streams"], header["backup"]["heads"]) == (again["streams"], again["backup"]["heads"])
    back = tmp_path / "back.sqlite3"
    code, document = cli_restore(str(back), second)
    assert code == EXIT_OK, document
    assert _rows_at(str(back)) == rows


def cli_restore(state: str, backup: Path) -> tuple[int, dict[str, object]]:
    from tests.test_release_cli import cli

    return cli(_env(state), "state", "restore", str(backup))


def test_a_postgresql_backup_taken_while_another_session_appends_is_the_database_as_it_began(
    source_state: Path, tmp_path: Path, pg_url: str
) -> None:
    assert cli_restore(pg_url, _backup(source_state, tmp_path / "seed"))[0] == EXIT_OK
    consistent_while_appended(pg_url, lambda url, create: PostgresEventStore(url, create=create), tmp_path)


def test_a_restore_over_a_database_with_other_events_is_refused_and_writes_nothing(
    source_state: Path, tmp_path: Path, pg_url: str
) -> None:
    from tests.test_release_cli import cli

    assert cli(_env(pg_url, PAST), "deploy", "fn-posts", "2.0.0", "--env", "development")[0] == EXIT_OK
    before = _rows_at(pg_url)
    code, document = cli_restore(pg_url, _backup(source_state, tmp_path / "backups"))
    assert (code, document["error"]["rule"]) == (EXIT_REFUSED, "empty-state")  # type: ignore[index]
    assert _rows_at(pg_url) == before


def test_a_backup_to_a_slow_disk_outlasting_the_idle_transaction_timeout_is_written(
    source_state: Path, tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The read transaction ends before the file is synced (on a mounted bucket, its upload): a sync longer than the
    server's idle_in_transaction_session_timeout (twice FINDLY_STATE_TIMEOUT) no longer ends the session mid-backup
    (review i27-backup, finding 3). Real time: the timeout is what is tested."""
    import os
    import time

    from tests.test_release_cli import cli

    assert cli_restore(pg_url, _backup(source_state, tmp_path / "seed"))[0] == EXIT_OK
    synced = os.fsync

    def slow(descriptor: int) -> None:
        time.sleep(1.0)  # twice the idle timeout below
        synced(descriptor)

    monkeypatch.setattr(os, "fsync", slow)
    code, document = cli(
        {**_env(pg_url, "2026-01-05T10:01:00Z"), "FINDLY_STATE_TIMEOUT": "0.25"},
        "state",
        "backup",
        "--to",
        str(tmp_path / "slow"),
    )
    assert code == EXIT_OK, document


def test_a_transaction_ended_by_the_idle_timeout_is_a_dependency_not_a_bug(pg_url: str) -> None:
    """SQLSTATE 25P03 (idle_in_transaction_session_timeout) is exit 5, said plainly — never "internal error"."""
    import time

    from findly_infra.application.ports import DependencyUnavailableError

    store = PostgresEventStore(pg_url, timeout=0.25)
    try:
        reading = store.reading()
        reading.__enter__()
        store.services()
        time.sleep(1.0)  # idle past twice the timeout: the server ends the session
        with pytest.raises(DependencyUnavailableError, match="idle in a transaction"):
            reading.__exit__(None, None, None)
    finally:
        store.close()


def test_a_state_stored_by_an_older_version_round_trips_through_postgresql(
    source_state: Path, tmp_path: Path, pg_url: str
) -> None:
    """Each event restored as the text the backup carries (``append_stored``), so a body written before a field
    existed keeps its links on PostgreSQL too (review i27-backup, finding 2)."""
    import shutil

    from tests.test_backup import _older

    (tmp_path / "old").mkdir()
    state = Path(shutil.copy(source_state, tmp_path / "old" / source_state.name))
    _older(state)
    rows = _rows_at(str(state))
    code, document = cli_restore(pg_url, _backup(state, tmp_path / "backups"))
    assert code == EXIT_OK, document
    assert _rows_at(pg_url) == rows  # every text and link as the source stored it
