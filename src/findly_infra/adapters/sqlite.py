"""The default state: an SQLite file of per-service event streams.

Appends are one transaction (``BEGIN IMMEDIATE``) that checks the stream's version first, so two
processes racing to change the same service get exactly one winner; the loser's transaction
writes nothing and raises :class:`~findly_infra.application.ports.ConcurrencyError`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from findly_infra.application.codec import event_from_dict, event_to_dict
from findly_infra.application.ports import ConcurrencyError
from findly_infra.domain.events import Event

__all__ = ["SqliteEventStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    service  TEXT    NOT NULL,
    position INTEGER NOT NULL,
    type     TEXT    NOT NULL,
    at       TEXT    NOT NULL,
    body     TEXT    NOT NULL,
    PRIMARY KEY (service, position)
) WITHOUT ROWID;
"""


class SqliteEventStore:
    """Event streams in one SQLite file (WAL, durable commits)."""

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=FULL")
        self._connection.executescript(_SCHEMA)

    def close(self) -> None:
        self._connection.close()

    def load(self, service: str) -> tuple[list[Event], int]:
        rows = self._connection.execute(
            "SELECT body FROM events WHERE service = ? ORDER BY position", (service,)
        ).fetchall()
        return [event_from_dict(json.loads(body)) for (body,) in rows], len(rows)

    def append(self, service: str, expected_version: int, events: Sequence[Event]) -> int:
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            (current,) = connection.execute("SELECT COUNT(*) FROM events WHERE service = ?", (service,)).fetchone()
            if current != expected_version:
                raise ConcurrencyError(
                    f"{service} was changed by someone else (now at event {current}, expected {expected_version})"
                )
            connection.executemany(
                "INSERT INTO events (service, position, type, at, body) VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        service,
                        expected_version + offset,
                        event.type,
                        event.at.isoformat(),
                        json.dumps(event_to_dict(event)),
                    )
                    for offset, event in enumerate(events)
                ],
            )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return expected_version + len(events)
