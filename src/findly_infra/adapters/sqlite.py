"""The default state: an SQLite file of per-service event streams.

Appends are one transaction (``BEGIN IMMEDIATE``) that checks the stream's version first, so two
processes racing to change the same service get exactly one winner; the loser's transaction
writes nothing and raises :class:`~findly_infra.application.ports.ConcurrencyError`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from findly_infra.application.codec import event_from_dict, event_to_dict
from findly_infra.application.ports import ConcurrencyError
from findly_infra.domain.events import Event

__all__ = ["SqliteEventStore", "SqliteTrafficRouter"]

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

    def load(self, service: str, since: int = 0) -> tuple[list[Event], int]:
        """The stream's events from position *since* on, and its version (its event count)."""
        connection = self._connection
        connection.execute("BEGIN")  # one snapshot for both reads
        try:
            rows = connection.execute(
                "SELECT body FROM events WHERE service = ? AND position >= ? ORDER BY position", (service, since)
            ).fetchall()
            (last,) = connection.execute("SELECT MAX(position) FROM events WHERE service = ?", (service,)).fetchone()
        finally:
            connection.execute("COMMIT")
        return [event_from_dict(json.loads(body)) for (body,) in rows], 0 if last is None else last + 1

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


class SqliteTrafficRouter:
    """The simulated cluster, kept in the state file: which version serves which share, and since when."""

    def __init__(self, store: SqliteEventStore) -> None:
        self._connection = store._connection  # one file, one connection
        self._connection.executescript(
            """
            CREATE TABLE IF NOT EXISTS routes (
                service TEXT NOT NULL, environment TEXT NOT NULL, weights TEXT NOT NULL,
                PRIMARY KEY (service, environment)
            ) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS route_history (
                service TEXT NOT NULL, environment TEXT NOT NULL, at TEXT NOT NULL, weights TEXT NOT NULL
            );
            """
        )

    def weights(self, service: str, environment: str) -> dict[str, int]:
        row = self._connection.execute(
            "SELECT weights FROM routes WHERE service = ? AND environment = ?", (service, environment)
        ).fetchone()
        return dict(json.loads(row[0])) if row else {}

    def route(self, service: str, environment: str, weights: dict[str, int], at: datetime) -> None:
        cleaned = {version: weight for version, weight in sorted(weights.items()) if weight > 0}
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            if self.weights(service, environment) != cleaned:  # the same step is never applied twice
                text = json.dumps(cleaned)
                connection.execute(
                    "INSERT INTO routes VALUES (?, ?, ?) ON CONFLICT (service, environment) DO UPDATE SET weights = ?",
                    (service, environment, text, text),
                )
                connection.execute(
                    "INSERT INTO route_history VALUES (?, ?, ?, ?)", (service, environment, at.isoformat(), text)
                )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def history(self, service: str, environment: str) -> list[tuple[str, dict[str, int]]]:
        rows = self._connection.execute(
            "SELECT at, weights FROM route_history WHERE service = ? AND environment = ? ORDER BY rowid",
            (service, environment),
        ).fetchall()
        return [(at, dict(json.loads(weights))) for at, weights in rows]
