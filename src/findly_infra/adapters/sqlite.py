"""The default state: an SQLite file of per-service event streams.

Appends are one transaction (``BEGIN IMMEDIATE``) that checks the stream's version first, so two
processes racing to change the same service get exactly one winner; the loser's transaction
writes nothing and raises :class:`~findly_infra.application.ports.ConcurrencyError`.

The file says what it is: SQLite's ``application_id`` marks it a findly state and ``user_version`` its schema, so a
file that is not one (empty, truncated, another program's database, a newer findly's) is refused rather than read as
an empty history or written over. A file removed or replaced while a command runs is noticed before the next write;
SQLite's own errors become messages that say what happened and what to do.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from findly_infra.application.codec import ANALYSIS_PREFIX, decode_page, event_of_stream, event_to_dict, recorded
from findly_infra.application.integrity import GENESIS, PAGE, links_for, paged_rows
from findly_infra.application.notify import notification_from_dict, notification_to_dict
from findly_infra.application.ports import (
    BadInputError,
    ConcurrencyError,
    DependencyUnavailableError,
    Dispatch,
    DispatchState,
    KeptSnapshot,
    LeaseLostError,
    PolicyAnchor,
    Snapshot,
    StateError,
)
from findly_infra.application.snapshots import sealed
from findly_infra.domain.cleanup import Leftover, cleanup_due, leftovers
from findly_infra.domain.cluster import ENVIRONMENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL
from findly_infra.domain.events import Event
from findly_infra.domain.lease import Fence, Lease, lease_after, released
from findly_infra.domain.tracks import Holding, expected_holding
from findly_infra.domain.view import EnvironmentView

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "SqliteEventStore", "SqliteSimulatedCluster"]

APPLICATION_ID = 0x46494E44
"""``PRAGMA application_id`` of a findly state ("FIND")."""
SCHEMA_VERSION = 3
"""``PRAGMA user_version``: the schema this version writes and reads (a newer one is refused). 2: each event carries
its link (``application.integrity``); a state of schema 1 is linked when a writing command first opens it. 3:
snapshots are sealed (``application.snapshots``): a snapshot keeps the link of the event it folds up to and its
digest, and that event's row the same digest (``seal``); the snapshots of schema 2 are never trusted (rebuilt)."""
_LINKED, _SEALED = 2, 3
_HEADER = b"SQLite format 3\x00"

_HOLDINGS = """CREATE TABLE IF NOT EXISTS holdings (
    service TEXT NOT NULL, environment TEXT NOT NULL, holding TEXT NOT NULL,
    PRIMARY KEY (service, environment)
) WITHOUT ROWID;"""
"""What the simulated cluster runs, beside its weights (``routes``): added to a state's schema without a new version,
as older versions ignore it — a state written before it gains it on its first write."""

_SNAPSHOTS = """CREATE TABLE IF NOT EXISTS snapshots (
    service TEXT PRIMARY KEY, version INTEGER NOT NULL, body TEXT NOT NULL, link TEXT, digest TEXT
) WITHOUT ROWID;"""
"""Each service's latest snapshot (derived from its events), sealed: the link of the event it folds up to, and its
digest (``NULL`` in a snapshot of schema 2)."""

_LEASES = """CREATE TABLE IF NOT EXISTS leases (
    service TEXT NOT NULL, environment TEXT NOT NULL, holder TEXT NOT NULL, expires TEXT NOT NULL,
    token INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (service, environment)
) WITHOUT ROWID;"""
"""Who drives each rollout (``domain.lease``), with its fencing token; added as ``holdings`` was. A ``leases`` table
made before tokens were kept gains its ``token`` column (0 for the leases it holds) on the first lease taken."""

_ANCHOR = """CREATE TABLE IF NOT EXISTS policy_anchor (
    id INTEGER PRIMARY KEY CHECK (id = 1), position INTEGER NOT NULL, link TEXT NOT NULL, anchored_by TEXT NOT NULL,
    at TEXT
);"""
"""The owner's anchor of the policy in force (``findly-infra policy anchor``); added as ``holdings`` was, when
first written."""

_TIMES = "CREATE INDEX IF NOT EXISTS events_at ON events (at);"
"""Each event's time, indexed: the latest (where a rehearsal's clock resumes, :meth:`SqliteEventStore.latest_time`) is
then one step down the index (SQLite's min/max optimization, sqlite.org/optoverview.html#minmax), not a scan of every
event. Added as ``holdings`` was — older versions keep it up to date without knowing it (SQLite maintains every
index) — and built when a writing command first opens a state made before it."""
_RECORD_KEY = (
    "CASE WHEN json_valid(body) AND json_type(body, '$.version') = 'text' THEN json_extract(body, '$.version') "
    "ELSE '' END"
)
"""The version an event's text names — ``''`` where none can be read of it (damage): such a row is read back for
every version, and decoding it names it (never an error on a write, never a record silently left out)."""
_NOT_ANALYSIS = f"substr(body, 1, {len(ANALYSIS_PREFIX)}) <> '{ANALYSIS_PREFIX}'"
"""Every event but analyses, by the text the link covers (``codec.ANALYSIS_PREFIX``), not by the ``type`` column."""
_RECORDS_INDEX = f"""CREATE INDEX IF NOT EXISTS events_record_keys ON events (service, ({_RECORD_KEY}), position)
WHERE {_NOT_ANALYSIS};"""
"""The events that may add to a version's records, by the version they name: what a bounded snapshot left out is read
back by one indexed read (``records``). Partial: three events in four are analyses, never in it. Added as ``holdings``
was: a state made before it gains it when a writing command first opens it (where it can: a shortcut, its absence
fails nothing); until then, a command finds the records by a walk of the stream."""

_OUTBOX = """CREATE TABLE IF NOT EXISTS notify_cursors (
    service TEXT PRIMARY KEY, position INTEGER NOT NULL, kept TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS notify_outbox (
    id TEXT NOT NULL, receiver TEXT NOT NULL, service TEXT NOT NULL, incident TEXT NOT NULL, action TEXT,
    body TEXT NOT NULL, queued TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt TEXT,
    state TEXT NOT NULL DEFAULT 'pending', detail TEXT NOT NULL DEFAULT '', settled TEXT,
    PRIMARY KEY (id, receiver)
);
CREATE INDEX IF NOT EXISTS notify_due ON notify_outbox (state, next_attempt);
CREATE INDEX IF NOT EXISTS notify_incidents ON notify_outbox (incident);"""
"""The outbox of notifications (``application.notify``): each service's cursor in its stream with what the fold kept,
and each (notification, receiver) dispatch. Added as ``holdings`` was (older versions ignore it): a state made before
it gains it when a writing command first opens it, its cursors at the streams' ends — the events recorded before are
not told again."""

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS events (
    service  TEXT    NOT NULL,
    position INTEGER NOT NULL,
    type     TEXT    NOT NULL,
    at       TEXT    NOT NULL,
    body     TEXT    NOT NULL,
    link     TEXT,
    seal     TEXT,
    PRIMARY KEY (service, position)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS routes (
    service TEXT NOT NULL, environment TEXT NOT NULL, weights TEXT NOT NULL,
    PRIMARY KEY (service, environment)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS route_history (
    service TEXT NOT NULL, environment TEXT NOT NULL, at TEXT NOT NULL, weights TEXT NOT NULL
);
{_TIMES}
{_HOLDINGS}
{_SNAPSHOTS}
{_LEASES}
{_RECORDS_INDEX}
PRAGMA application_id = {APPLICATION_ID};
PRAGMA user_version = {SCHEMA_VERSION};
"""


class SqliteEventStore:
    """Event streams in one SQLite file (WAL, durable commits).

    With ``create=False`` (the read-only commands) a file that does not exist is read as an empty state and
    nothing is created. Raises :class:`StateError` for a file that is not a findly state.
    """

    def __init__(self, path: str | Path, *, timeout: float = 30.0, create: bool = True) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._inode: int | None = None
        self._absent = False
        self._create_allowed = create
        self._linked = True
        self._record_keys: bool | None = None  # whether events_record_keys is there (read when first needed)
        self._sealed = True
        if not self.path.exists() and not create:  # nothing to read, and nothing to make
            self._connection = sqlite3.connect(":memory:", isolation_level=None)
            self._connection.executescript(_SCHEMA + _OUTBOX)
            self._absent = True
            return
        if not self.path.exists():
            try:
                self._create()
            except (OSError, sqlite3.Error):
                why = self._read_only_place()
                if why is None:
                    raise
                raise StateError(f"--state {self.path} cannot be created: {why}; nothing was written") from None
        self._check_file()
        self._connection = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        try:
            try:
                with self._errors():
                    self._connection.execute("PRAGMA journal_mode=WAL")
            except StateError:
                if create or self._read_only_place() is None:
                    raise
                self._refuse_unread_changes()
                self._connection.close()  # read only, in a place SQLite cannot write its -shm file: read as it is
                uri = f"{self.path.absolute().as_uri()}?mode=ro&immutable=1"
                self._connection = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
            with self._errors():
                self._connection.execute("PRAGMA synchronous=FULL")
                self._open_schema()
            self._inode = os.stat(self.path).st_ino
        except BaseException:
            self._connection.close()
            raise

    def _read_only_place(self) -> str | None:
        """Why the state cannot be written where it is — a read-only file system (a read-only mount, of its folder or
        of the file itself), or a folder this user may not write (SQLite keeps its ``-wal`` and ``-shm`` files beside
        the state) — or ``None``."""
        folder = self.path.absolute().parent
        for place in (self.path, folder):
            try:
                if os.statvfs(place).f_flag & os.ST_RDONLY:
                    return "it is on a read-only file system (a read-only mount)"
            except OSError:
                continue
        if folder.is_dir() and not os.access(folder, os.W_OK):
            return (
                f"its folder {folder} may not be written by this user (SQLite keeps its -wal and -shm files beside "
                "the state)"
            )
        return None

    def _refuse_unread_changes(self) -> None:
        """A state read where SQLite cannot write (a read-only place) is read as it is — unless a ``-wal`` file beside
        it holds changes a reader must see (a writer elsewhere is at work, or one stopped before it wrote them back):
        refused then, rather than read stale."""
        wal = Path(f"{self.path}-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise StateError(
                f"--state {self.path} cannot be read where it is: {self._read_only_place()}, and its -wal file holds "
                "changes that only a writer can bring into the state; read it where it can be written, or copy it "
                "with its -wal file to a writable place"
            )

    def _create(self) -> None:
        """A new state, whole or not at all: its schema is written to a file beside it, then linked into place
        (so a racing command never opens a half-made file, and of two racing creators one simply wins)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):  # ".findly" (or a folder above) is a file
            blocking = next(p for p in (self.path.parent, *self.path.parent.parents) if p.exists() and not p.is_dir())
            raise BadInputError(
                f"--state {self.path}: {blocking} is a file, not a folder, so the state cannot be made there; "
                "move it away, or name another state with --state (or FINDLY_STATE)"
            ) from None
        draft = self.path.with_name(f".{self.path.name}.{os.getpid()}.{uuid.uuid4().hex}.new")
        try:
            connection = sqlite3.connect(draft, isolation_level=None)
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.executescript(_SCHEMA + _OUTBOX)  # a new state: every event it will hold is told
            finally:
                connection.close()
            with contextlib.suppress(FileExistsError):
                os.link(draft, self.path)
        finally:
            for leftover in (draft, Path(f"{draft}-wal"), Path(f"{draft}-shm")):
                leftover.unlink(missing_ok=True)

    # ---- what the file is ------------------------------------------------------------------------------------

    def _check_file(self) -> None:
        if not self.path.is_file():
            raise StateError(f"--state {self.path} is not a file (a directory, a device or a pipe?)")
        with open(self.path, "rb") as file:
            header = file.read(len(_HEADER))
        if not header:
            raise StateError(
                f"--state {self.path} is empty (0 bytes): not a findly state, or one that was truncated; "
                "restore it from a backup, or remove it to start a new state"
            )
        if header != _HEADER:
            raise StateError(f"--state {self.path} is not a findly state (not an SQLite file)")

    def _open_schema(self) -> None:
        connection = self._connection
        (application,) = connection.execute("PRAGMA application_id").fetchone()
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if application == 0 and "events" in tables and version == 0:  # written before states said what they were
            connection.executescript(_SCHEMA.replace(f"user_version = {SCHEMA_VERSION}", "user_version = 1"))
            self._link_events()
            self._seal_snapshots()
            self._index_times()
            self._outbox_tables()
        elif application != APPLICATION_ID:
            raise StateError(f"--state {self.path} is an SQLite file, but not a findly state")
        elif version > SCHEMA_VERSION:
            raise StateError(
                f"--state {self.path} was written by a newer findly-infra (schema {version}; this one knows "
                f"{SCHEMA_VERSION}): upgrade findly-infra"
            )
        elif not {"events", "routes", "route_history"} <= tables:
            missing = ", ".join(sorted({"events", "routes", "route_history"} - tables))
            raise StateError(
                f"--state {self.path} is damaged: its {missing} table is missing; restore it from a backup "
                "(findly-infra state check says what else is wrong)"
            )
        else:
            self._link_events()
            self._seal_snapshots()
            self._index_times()
            self._index_records()
            self._outbox_tables()

    def _outbox_tables(self) -> None:
        """The outbox (:data:`_OUTBOX`), made once for a state made before it — by a writing command, in one
        transaction with the cursors at the streams' ends; a read-only command leaves the state as it is."""
        connection = self._connection
        present = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'notify_cursors'")
        if not self._create_allowed or present.fetchone() is not None:
            return
        connection.execute("BEGIN IMMEDIATE")
        try:
            again = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'notify_cursors'"
            if connection.execute(again).fetchone() is None:  # not a racer's
                for statement in _OUTBOX.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(
                    "INSERT INTO notify_cursors (service, position, kept) "
                    "SELECT service, max(position) + 1, '[]' FROM events GROUP BY service"
                )
            connection.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _has_outbox(self) -> bool:
        with self._errors():
            found = self._connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'notify_outbox'"
            ).fetchone()
        return found is not None

    # ---- the outbox of notifications (application.notify) ----------------------------------------------------------

    def notify_cursor(self, service: str) -> tuple[int, str] | None:
        if not self._has_outbox():
            return None
        with self._errors():
            row = self._connection.execute(
                "SELECT position, kept FROM notify_cursors WHERE service = ?", (service,)
            ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def enqueue(self, dispatches: Sequence[Dispatch], cursor: tuple[str, int | None, int, str] | None = None) -> bool:
        self._check_writable()
        connection = self._connection
        with self._errors():
            connection.execute("BEGIN IMMEDIATE")
            try:
                if cursor is not None:
                    service, expected, position, kept = cursor
                    row = connection.execute(
                        "SELECT position FROM notify_cursors WHERE service = ?", (service,)
                    ).fetchone()
                    if (None if row is None else row[0]) != expected:
                        connection.execute("ROLLBACK")
                        return False
                    connection.execute(
                        "INSERT INTO notify_cursors (service, position, kept) VALUES (?, ?, ?) ON CONFLICT (service) "
                        "DO UPDATE SET position = excluded.position, kept = excluded.kept",
                        (service, position, kept),
                    )
                connection.executemany(
                    "INSERT OR IGNORE INTO notify_outbox (id, receiver, service, incident, action, body, queued, "
                    "attempts, next_attempt, state, detail) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, 'pending', '')",
                    [_dispatch_row(dispatch) for dispatch in dispatches],
                )
                connection.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        return True

    def due(self, now: datetime, limit: int = 100, *, in_turn: bool = True) -> list[Dispatch]:
        if not self._has_outbox():
            return []
        turn = (  # first in, first out per (receiver, incident): not due while an earlier one of it is pending
            "AND (incident = '' OR NOT EXISTS (SELECT 1 FROM notify_outbox AS e "
            "WHERE e.receiver = notify_outbox.receiver AND e.incident = notify_outbox.incident "
            "AND e.state = 'pending' AND e.rowid < notify_outbox.rowid)) "
            if in_turn
            else ""
        )
        with self._errors():
            rows = self._connection.execute(
                f"SELECT {_DISPATCH_COLUMNS} FROM notify_outbox WHERE state = 'pending' AND next_attempt <= ? "
                f"{turn}ORDER BY next_attempt, rowid LIMIT ?",
                (_moment(now), limit),
            ).fetchall()
        return [_dispatch_of(row) for row in rows]

    def claim(self, dispatch: Dispatch, until: datetime) -> bool:
        self._check_writable()
        with self._errors():
            changed = self._connection.execute(
                "UPDATE notify_outbox SET attempts = attempts + 1, next_attempt = ? "
                "WHERE id = ? AND receiver = ? AND state = 'pending' AND attempts = ?",
                (_moment(until), dispatch.notification.id, dispatch.receiver, dispatch.attempts),
            ).rowcount
        return changed == 1

    def settle(
        self, dispatch: Dispatch, *, state: DispatchState, detail: str, at: datetime, next_attempt: datetime | None
    ) -> None:
        self._check_writable()
        settled = None if state is DispatchState.PENDING else _moment(at)
        with self._errors():
            self._connection.execute(
                "UPDATE notify_outbox SET state = ?, detail = ?, next_attempt = ?, settled = ? "
                "WHERE id = ? AND receiver = ? AND state = 'pending' AND attempts = ?",
                (
                    state.value,
                    detail,
                    None if next_attempt is None else _moment(next_attempt),
                    settled,
                    dispatch.notification.id,
                    dispatch.receiver,
                    dispatch.attempts,
                ),
            )

    def dispatches(self, service: str | None = None, limit: int | None = None) -> list[Dispatch]:
        if not self._has_outbox():
            return []
        where = "" if service is None else "WHERE service = ?"
        with self._errors():
            rows = self._connection.execute(
                f"SELECT {_DISPATCH_COLUMNS} FROM notify_outbox {where} ORDER BY rowid DESC LIMIT ?",
                (*(() if service is None else (service,)), -1 if limit is None else limit),
            ).fetchall()
        return [_dispatch_of(row) for row in rows]

    def paged(self, incident: str) -> tuple[str, ...]:
        if not self._has_outbox():
            return ()
        with self._errors():
            rows = self._connection.execute(
                "SELECT DISTINCT receiver FROM notify_outbox WHERE incident = ? AND action = 'trigger' ORDER BY 1",
                (incident,),
            ).fetchall()
        return tuple(str(receiver) for (receiver,) in rows)

    def _link_events(self) -> None:
        """Schema 1 → 2: give every event its link, chained from the first (in one transaction; a read-only command
        leaves the state as it is, and its events read as unlinked)."""
        connection = self._connection
        columns = {row[1] for row in connection.execute("PRAGMA table_info(events)")}
        if "link" in columns:
            return
        if not self._create_allowed:
            self._linked = False
            return
        connection.execute("BEGIN IMMEDIATE")
        try:
            if "link" not in {row[1] for row in connection.execute("PRAGMA table_info(events)")}:  # not a racer's
                connection.execute("ALTER TABLE events ADD COLUMN link TEXT")
                services = [name for (name,) in connection.execute("SELECT DISTINCT service FROM events")]
                for service in services:
                    rows = connection.execute(
                        "SELECT position, body FROM events WHERE service = ? ORDER BY position", (service,)
                    ).fetchall()
                    links = links_for(GENESIS, service, 0, (body for _, body in rows))
                    connection.executemany(
                        "UPDATE events SET link = ? WHERE service = ? AND position = ?",
                        [(value, service, position) for (position, _), value in zip(rows, links, strict=True)],
                    )
                connection.execute(f"PRAGMA user_version = {_LINKED}")
            connection.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _index_times(self) -> None:
        """The index of each event's time (:data:`_TIMES`), built once for a state made before it — by a writing
        command (a read-only one leaves the state as it is, and finds the latest time by a scan, as does a command
        that cannot write the file now: the index is only ever a shortcut, so its absence fails nothing)."""
        connection = self._connection
        present = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'events_at'")
        if self._create_allowed and present.fetchone() is None:
            with contextlib.suppress(sqlite3.OperationalError):  # read-only, locked, full: built by a later command
                connection.execute(_TIMES)

    def _index_records(self) -> None:
        """The index of the records of versions (:data:`_RECORDS_INDEX`), built once for a state made before it, as
        :meth:`_index_times` builds its own: by a writing command that can, a shortcut whose absence fails nothing."""
        connection = self._connection
        present = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'events_record_keys'"
        ).fetchone()
        if self._create_allowed and present is None:
            with contextlib.suppress(sqlite3.OperationalError):  # read-only, locked, full: built by a later command
                connection.execute(_RECORDS_INDEX)

    def _seal_snapshots(self) -> None:
        """Schema 2 → 3: the columns of sealed snapshots — the snapshot's link and digest, the event's seal — added
        (in one transaction; a read-only command leaves the state as it is, and uses no snapshot). The snapshots
        already kept have neither: no command trusts them, and the next writing command rebuilds them."""
        connection = self._connection
        if "seal" in {row[1] for row in connection.execute("PRAGMA table_info(events)")}:
            return
        if not self._create_allowed:
            self._sealed = False
            return
        connection.execute("BEGIN IMMEDIATE")
        try:
            if "seal" not in {row[1] for row in connection.execute("PRAGMA table_info(events)")}:  # not a racer's
                connection.execute("ALTER TABLE events ADD COLUMN seal TEXT")
                connection.execute(_SNAPSHOTS)
                kept = {row[1] for row in connection.execute("PRAGMA table_info(snapshots)")}
                for column in ("link", "digest"):
                    if column not in kept:
                        connection.execute(f"ALTER TABLE snapshots ADD COLUMN {column} TEXT")
                connection.execute(f"PRAGMA user_version = {_SEALED}")
            connection.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _check_writable(self) -> None:
        """A store opened read-only on a state that does not exist keeps nothing: writing to it is refused."""
        if self._absent:
            raise StateError(f"--state {self.path} does not exist and was opened to read only: nothing is written")
        self._check_present()

    def _check_present(self) -> None:
        """The file this store opened is still there, and still the same file (not removed, not replaced)."""
        if self._inode is None:
            return
        try:
            inode = os.stat(self.path).st_ino
        except FileNotFoundError:
            inode = None
        if inode != self._inode:
            raise StateError(
                f"--state {self.path} was removed or replaced while this command ran: nothing more is written to "
                "it (whatever was written before is in the file that was removed)"
            )

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """SQLite's errors as what they mean for the person: damaged (2), busy or full (5), read-only (2)."""
        try:
            yield
        except sqlite3.ProgrammingError:  # our own misuse (a closed store): a bug, not the file's doing
            raise
        except sqlite3.DatabaseError as exc:
            message = str(exc)
            if "locked" in message or "busy" in message:
                raise DependencyUnavailableError(
                    f"--state {self.path} is locked by another command for more than {self.timeout:g} seconds: "
                    "try again"
                ) from None
            if "full" in message or "disk I/O" in message:
                raise DependencyUnavailableError(
                    f"--state {self.path} cannot be written ({message}: is the disk full, or the file over a size "
                    "limit?): nothing was written; free some space and run the command again"
                ) from None
            if "readonly" in message or "read-only" in message:
                said = self._read_only_place() or "it is read-only (its permissions, or an immutable file)"
                raise StateError(f"--state {self.path} cannot be written: {said}: nothing was written") from None
            if getattr(exc, "sqlite_errorname", "") == "SQLITE_CANTOPEN":  # not damage: where it is, or who asks
                why = self._read_only_place()
                if why is not None:
                    raise StateError(
                        f"--state {self.path} cannot be opened to write: {why}; nothing was written (a command that "
                        "only reads it, such as status or history, still can)"
                    ) from None
                raise StateError(
                    f"--state {self.path} cannot be opened ({message}): check that this user may read and write it "
                    "and its folder"
                ) from None
            raise StateError(
                f"--state {self.path} is damaged ({message}): run `findly-infra state check`, and restore it from "
                "a backup"
            ) from None

    def _rollback(self) -> None:
        """Undo the open transaction, if SQLite has not already (a failed write may end it): the original error
        is the one that is raised, never a masking "no transaction is active"."""
        if self._connection.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._connection.execute("ROLLBACK")

    # ---- the port ----------------------------------------------------------------------------------------------

    def close(self) -> None:
        self._connection.close()

    def load(self, service: str, since: int = 0) -> tuple[list[Event], int]:
        """The stream's events from position *since* on, and its version (its event count)."""
        return self.page(service, since, None)

    def page(self, service: str, since: int, limit: int | None) -> tuple[list[Event], int]:
        """At most *limit* of the stream's events from position *since* (all with ``None``), and its version."""
        self._check_present()
        connection = self._connection
        link = "link" if self._linked else "NULL"
        before = 1 if since > 0 else 0  # the event before the page too: the link the page follows on
        with self._errors():
            connection.execute("BEGIN")  # one snapshot for both reads
            try:
                rows = connection.execute(
                    f"SELECT position, body, {link} FROM events WHERE service = ? AND position >= ? "
                    "ORDER BY position LIMIT ?",
                    (service, since - before, -1 if limit is None else limit + before),
                ).fetchall()
                (last,) = connection.execute(
                    "SELECT MAX(position) FROM events WHERE service = ?", (service,)
                ).fetchone()
            finally:
                self._rollback()
        version = 0 if last is None else last + 1
        return self._decoded(service, since, limit, version, rows), version

    def _decoded(
        self, service: str, since: int, limit: int | None, version: int, rows: Sequence[tuple[int, Any, Any]]
    ) -> list[Event]:
        return decode_page(rows, since=since, limit=limit, version=version, service=service, location=str(self.path))

    def append(
        self, service: str, expected_version: int, events: Sequence[Event], *, fence: Fence | None = None
    ) -> int:
        return self._append(service, expected_version, events, None, fence)

    def append_stored(self, service: str, expected_version: int, events: Sequence[Event], bodies: Sequence[str]) -> int:
        """Append *events* stored as the texts *bodies* exactly (each one's text as a backup carries it, written by an
        older findly-infra perhaps: linked over that text, so that a restored stream's links and head are its
        source's) — ``state restore``'s append; the same checks as :meth:`append`."""
        return self._append(service, expected_version, events, bodies, None)

    def _append(
        self,
        service: str,
        expected_version: int,
        events: Sequence[Event],
        stored: Sequence[str] | None,
        fence: Fence | None,
    ) -> int:
        self._check_writable()
        connection = self._connection
        with self._errors():
            connection.execute("BEGIN IMMEDIATE")
            try:
                if fence is not None:  # under the write lock a take-over also needs: it cannot come in between
                    held = self._held(service, fence.environment)
                    if not fence.admits(held):
                        raise LeaseLostError(f"{fence.describe(held)}: nothing written")
                last = connection.execute(
                    "SELECT position, link FROM events WHERE service = ? ORDER BY position DESC LIMIT 1", (service,)
                ).fetchone()
                current = 0 if last is None else last[0] + 1  # positions run from 0 with no gap: the index answers
                if current != expected_version:
                    raise ConcurrencyError(
                        f"{service} was changed by someone else (now at event {current}, expected {expected_version})"
                    )
                bodies = [json.dumps(event_to_dict(event)) for event in events] if stored is None else list(stored)
                links = links_for(GENESIS if last is None else last[1] or GENESIS, service, current, bodies)
                connection.executemany(
                    "INSERT INTO events (service, position, type, at, body, link) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (service, current + offset, event.type, event.at.isoformat(), body, value)
                        for offset, (event, body, value) in enumerate(zip(events, bodies, links, strict=True))
                    ],
                )
                connection.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        return expected_version + len(events)

    # ---- leases ----------------------------------------------------------------------------------------------------

    def acquire(
        self,
        service: str,
        environment: str,
        holder: str,
        *,
        now: datetime,
        ttl: timedelta,
        replacing: str | None = None,
    ) -> Lease:
        self._check_writable()
        connection = self._connection
        with self._errors():
            connection.execute("BEGIN IMMEDIATE")  # read and decide under the write lock: one of two racers wins
            try:
                connection.execute(_LEASES)
                if "token" not in {row[1] for row in connection.execute("PRAGMA table_info(leases)")}:
                    connection.execute("ALTER TABLE leases ADD COLUMN token INTEGER NOT NULL DEFAULT 0")
                lease = lease_after(self._held(service, environment), holder, now, ttl, replacing=replacing)
                connection.execute(
                    "INSERT INTO leases (service, environment, holder, expires, token) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (service, environment) DO UPDATE "
                    "SET holder = excluded.holder, expires = excluded.expires, token = excluded.token",
                    (service, environment, lease.holder, lease.expires.isoformat(), lease.token),
                )
                connection.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
        return lease

    def release(self, service: str, environment: str, holder: str) -> None:
        """Run *holder*'s lease out at once, its token kept (the next holder's is higher still)."""
        self._check_writable()
        connection = self._connection
        with self._errors():
            connection.execute("BEGIN IMMEDIATE")
            try:
                lease = released(self._held(service, environment), holder)
                if lease is not None and lease.holder == holder:
                    connection.execute(
                        "UPDATE leases SET expires = ? WHERE service = ? AND environment = ? AND holder = ?",
                        (lease.expires.isoformat(), service, environment, holder),
                    )
                connection.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def lease(self, service: str, environment: str) -> Lease | None:
        with self._errors():
            return self._held(service, environment)

    def _held(self, service: str, environment: str) -> Lease | None:
        """The lease as the file keeps it (token 0 in a table made before tokens were kept; none in a state written
        before leases were)."""
        connection = self._connection
        try:
            row = connection.execute(
                "SELECT holder, expires, token FROM leases WHERE service = ? AND environment = ?",
                (service, environment),
            ).fetchone()
        except sqlite3.OperationalError:  # no token column yet, or no table at all
            try:
                row = connection.execute(
                    "SELECT holder, expires, 0 FROM leases WHERE service = ? AND environment = ?",
                    (service, environment),
                ).fetchone()
            except sqlite3.OperationalError:  # a state written before leases were kept
                return None
        return None if row is None else Lease(str(row[0]), datetime.fromisoformat(row[1]), int(row[2]))

    # ---- the owner's anchor of the policy in force ----------------------------------------------------------------

    def policy_anchor(self) -> PolicyAnchor | None:
        with self._errors():
            try:
                row = self._connection.execute(
                    "SELECT position, link, anchored_by, at FROM policy_anchor WHERE id = 1"
                ).fetchone()
            except sqlite3.OperationalError as exc:  # a state written before anchors were kept: not anchored
                if "no such table" not in str(exc):
                    raise  # locked, or the disk: said as such (exit 5), never read as "not anchored"
                return None
        return None if row is None else PolicyAnchor(int(row[0]), str(row[1]), str(row[2]), _parsed(row[3]))

    def may_anchor(self) -> None:
        self._check_writable()  # in a file, whoever may write it is its owner

    def anchor_policy(self, anchor: PolicyAnchor) -> None:
        """Keep *anchor*. In a file, the owner is whoever may write the file: the anchor protects against nothing
        they could not rewrite as well (docs/security.md) — it still ends a freeze, and names who anchored."""
        self._check_writable()
        with self._errors():
            self._connection.execute(_ANCHOR)
            self._connection.execute(
                "INSERT INTO policy_anchor VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET position = "
                "excluded.position, link = excluded.link, anchored_by = excluded.anchored_by, at = excluded.at",
                (anchor.position, anchor.link, anchor.by, anchor.at.isoformat() if anchor.at is not None else None),
            )

    # ---- snapshots -------------------------------------------------------------------------------------------------

    def load_snapshot(self, service: str) -> KeptSnapshot | None:
        """The snapshot and, in the same read, the link and seal of the event it folds up to (by the primary key)."""
        # a state of schema 2 opened read only has no seals: its snapshots read as unsealed (and are not used)
        sealing = "s.link, s.digest, e.link, e.seal" if self._sealed else "NULL, NULL, NULL, NULL"
        with self._errors():
            try:
                row = self._connection.execute(
                    f"SELECT s.version, s.body, {sealing} FROM snapshots AS s LEFT JOIN events AS e "
                    "ON e.service = s.service AND e.position = s.version - 1 WHERE s.service = ?",
                    (service,),
                ).fetchone()
            except sqlite3.OperationalError:  # a state written before snapshots were kept
                return None
        if row is None:
            return None
        version, text, link, digest, event_link, event_seal = row
        if not isinstance(version, int) or not isinstance(text, str):  # derived data: what cannot be read is unused
            return None
        return KeptSnapshot(
            Snapshot(service, version, text, _text(link), _text(digest)), _text(event_link), _text(event_seal)
        )

    def save_snapshot(self, service: str, version: int, text: str) -> None:
        self._check_writable()
        connection = self._connection
        with self._errors():
            connection.execute("BEGIN IMMEDIATE")
            try:
                row = connection.execute(
                    "SELECT link FROM events WHERE service = ? AND position = ?", (service, version - 1)
                ).fetchone()
                if row is None or row[0] is None:
                    raise StateError(
                        f"--state {self.path}: {service} has no linked event {version - 1}: no snapshot at event "
                        f"{version} is kept"
                    )
                snapshot = sealed(service, version, text, str(row[0]))
                connection.execute(  # replaces the kept one, unless it is later and sealed by its stream
                    "INSERT INTO snapshots (service, version, body, link, digest) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (service) DO UPDATE SET version = excluded.version, body = excluded.body, "
                    "link = excluded.link, digest = excluded.digest WHERE excluded.version >= snapshots.version "
                    "OR NOT EXISTS (SELECT 1 FROM events AS e WHERE e.service = snapshots.service "
                    "AND e.position = snapshots.version - 1 AND e.link = snapshots.link AND e.seal = snapshots.digest)",
                    (service, version, text, snapshot.link, snapshot.digest),
                )
                connection.execute(
                    "UPDATE events SET seal = ? WHERE service = ? AND position = ?",
                    (snapshot.digest, service, version - 1),
                )
                connection.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def snapshotted(self) -> list[str]:
        with self._errors():
            try:
                return [name for (name,) in self._connection.execute("SELECT service FROM snapshots ORDER BY 1")]
            except sqlite3.OperationalError:  # a state written before snapshots were kept
                return []

    def records(self, service: str, version: str, before: int) -> list[Event]:
        """*version*'s records in *service*'s stream before *before*: the events but analyses that name it (or none),
        by the ``events_record_keys`` index where the state has it (else by a walk of those events), each with its
        link and the one before it, checked (``codec.recorded``)."""
        self._check_present()
        link = "e.link" if self._linked else "NULL"
        previous = (
            "(SELECT p.link FROM events p WHERE p.service = e.service AND p.position = e.position - 1)"
            if self._linked
            else "NULL"
        )
        with self._errors():
            if self._record_keys is None:  # read once: a state gains the index only when a writing command opens it
                found = "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'events_record_keys'"
                self._record_keys = self._connection.execute(found).fetchone() is not None
            indexed = self._record_keys
            # named: without statistics the planner walks the stream by its primary key instead
            rows = self._connection.execute(
                f"SELECT e.position, e.body, {link}, {previous} FROM events e "
                f"{'INDEXED BY events_record_keys ' if indexed else ''}WHERE e.service = ? AND {_NOT_ANALYSIS} "
                f"AND {_RECORD_KEY} IN (?, '') AND e.position < ? ORDER BY e.position",
                (service, version, before),
            ).fetchall()
        return recorded(rows, service, version, str(self.path))

    # ---- the demo's own store, and the full check ---------------------------------------------------------------

    def mark_demo(self) -> None:
        """Mark this store as the demo's own (the demo replaces only a store it made)."""
        with self._errors():
            self._connection.execute("CREATE TABLE IF NOT EXISTS demo (made TEXT)")

    def is_demo(self) -> bool:
        with self._errors():
            row = self._connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'demo'").fetchone()
        return row is not None

    # ---- how the state keeps time -----------------------------------------------------------------------------

    def time_kept(self) -> str | None:
        """How this state keeps time: ``"wall"`` (the real clock) or ``"virtual"`` (a rehearsal's clock); ``None``
        while no writing command has decided it (see ``findly_infra.bootstrap.open_runtime``)."""
        with self._errors():
            if self._connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() is None:
                return None
            row = self._connection.execute("SELECT value FROM meta WHERE key = 'time'").fetchone()
        return None if row is None else str(row[0])

    def keep_time(self, mode: str) -> str:
        """Decide how this state keeps time, once: the first writing command's *mode* is kept for good (of two
        racing first commands one wins). Returns the mode the state keeps — *mode*, or the one decided before."""
        if mode not in ("wall", "virtual"):
            raise ValueError(f"a state keeps 'wall' or 'virtual' time, not {mode!r}")
        self._check_writable()
        with self._errors():
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID"
            )
            self._connection.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('time', ?)", (mode,))
        kept = self.time_kept()
        assert kept is not None
        return kept

    def latest_time(self) -> datetime | None:
        """The time of the latest event of any service (where a rehearsal's clock resumes)."""
        with self._errors():
            (latest,) = self._connection.execute("SELECT max(at) FROM events").fetchone()
        return None if latest is None else datetime.fromisoformat(latest)

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """One read transaction: every read of :meth:`services`, :meth:`head`, :meth:`chain`, :meth:`time_kept` and
        :meth:`latest_time` inside it sees the state as it was when it began, whatever other processes append
        meanwhile (WAL: a reader keeps its snapshot until its transaction ends, sqlite.org/wal.html#concurrency) —
        ``state backup``'s consistent copy."""
        self._check_present()
        connection = self._connection
        with self._errors():
            connection.execute("BEGIN")  # deferred: the snapshot is taken by the first read, at once
            try:
                connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except BaseException:
                self._rollback()
                raise
        try:
            yield
        finally:
            self._rollback()  # read only: nothing to commit

    def head(self, service: str) -> tuple[int, str | None] | None:
        """The stream's last position and that event's link (``None``: no event), one step down the key."""
        link = "link" if self._linked else "NULL"
        with self._errors():
            row = self._connection.execute(
                f"SELECT position, {link} FROM events WHERE service = ? ORDER BY position DESC LIMIT 1", (service,)
            ).fetchone()
        return None if row is None else (int(row[0]), _text(row[1]))

    def chain(self, service: str) -> Iterator[tuple[int, str, str | None]]:
        """The stream as stored, with its links (``None`` for each event of a state not yet linked), a page at a
        time."""
        self._check_present()
        link = "link" if self._linked else "NULL"

        def fetch(since: int) -> list[Any]:
            with self._errors():
                return self._connection.execute(
                    f"SELECT position, body, {link} FROM events WHERE service = ? AND position >= ? "
                    "ORDER BY position LIMIT ?",
                    (service, since, PAGE),
                ).fetchall()

        return paged_rows(fetch)

    def services(self) -> list[str]:
        with self._errors():
            return [name for (name,) in self._connection.execute("SELECT DISTINCT service FROM events ORDER BY 1")]

    def check(self) -> list[str]:
        """Every problem in the file: SQLite's own integrity check, then each stream's positions (from 0, no gap)
        and each event's record (JSON of a known event). Empty when the state is sound."""
        problems: list[str] = []
        with self._errors():
            problems += [row for (row,) in self._connection.execute("PRAGMA integrity_check") if row != "ok"]
            rows = self._connection.execute("SELECT service, position, body FROM events ORDER BY service, position")
            expected: dict[str, int] = {}
            for service, position, body in rows:
                if position != expected.get(service, 0):
                    problems.append(f"{service}: event {expected.get(service, 0)} is missing (the next is {position})")
                expected[service] = position + 1
                try:
                    event_of_stream(service, json.loads(body))
                except Exception as exc:  # noqa: BLE001 - any record that cannot be read is a finding, named
                    problems.append(f"{service}: event {position} cannot be read: {type(exc).__name__}: {exc}")
        return problems


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


_DISPATCH_COLUMNS = "receiver, body, queued, attempts, next_attempt, state, detail, settled"


def _moment(moment: datetime) -> str:
    """A time as the outbox keeps it: one fixed form, so that text order is time order."""
    return moment.isoformat(timespec="microseconds")


def _dispatch_row(dispatch: Dispatch) -> tuple[object, ...]:
    note = dispatch.notification
    return (
        note.id,
        dispatch.receiver,
        note.service,
        note.incident_key,
        note.action.value if note.action else None,
        json.dumps(notification_to_dict(note)),
        _moment(dispatch.queued),
        _moment(dispatch.next_attempt or dispatch.queued),
    )


def _dispatch_of(row: Sequence[Any]) -> Dispatch:
    receiver, body, queued, attempts, next_attempt, state, detail, settled = row
    return Dispatch(
        notification_from_dict(json.loads(body)),
        str(receiver),
        datetime.fromisoformat(queued),
        int(attempts),
        None if next_attempt is None else datetime.fromisoformat(next_attempt),
        DispatchState(state),
        str(detail),
        None if settled is None else datetime.fromisoformat(settled),
    )


class SqliteSimulatedCluster:
    """The simulated cluster, kept in the state file: what each service runs and how its traffic is split (every track
    ready at once, as in memory), and since when each split held."""

    def __init__(self, store: SqliteEventStore) -> None:
        self._store = store
        self._connection = store._connection  # one file, one connection

    def weights(self, service: str, environment: str) -> dict[str, int]:
        """Version -> share of traffic, zero shares left out."""
        with self._store._errors():
            row = self._connection.execute(
                "SELECT weights FROM routes WHERE service = ? AND environment = ?", (service, environment)
            ).fetchone()
        return dict(json.loads(row[0])) if row else {}

    def holding(self, service: str, environment: str) -> Holding:
        with self._store._errors():
            try:
                row = self._connection.execute(
                    "SELECT holding FROM holdings WHERE service = ? AND environment = ?", (service, environment)
                ).fetchone()
            except sqlite3.OperationalError:  # a state written before holdings were kept, and not written since
                row = None
        if row is None:  # what runs was not kept: only the weights are known
            return Holding(weights=self.weights(service, environment))
        body = json.loads(row[0])
        return Holding(dict(body["running"]), dict(body["weights"]), body.get("preview"))

    def converge(self, view: EnvironmentView, at: datetime) -> bool:
        wanted = expected_holding(view)
        service, environment = view.service, view.environment
        self._store._check_writable()
        connection = self._connection
        with self._store._errors():
            connection.execute("BEGIN IMMEDIATE")
            try:
                held = self.holding(service, environment)
                if held != wanted:  # the same step is never applied twice
                    connection.execute(_HOLDINGS)
                    parked = {  # scaled to zero, kept with their version until auto_cleanup deletes them
                        **{k: v for k, v in self._parked(service, environment).items() if k not in wanted.running},
                        **{k: v for k, v in held.running.items() if k not in wanted.running},
                    }
                    body = {"running": wanted.running, "weights": wanted.weights, "preview": wanted.preview}
                    if parked:
                        body["parked"] = parked
                    connection.execute(
                        "INSERT INTO holdings VALUES (?, ?, ?) "
                        "ON CONFLICT (service, environment) DO UPDATE SET holding = excluded.holding",
                        (service, environment, json.dumps(body, sort_keys=True)),
                    )
                    if held.weights != wanted.weights:
                        text = json.dumps(dict(sorted(wanted.weights.items())))
                        connection.execute(
                            "INSERT INTO routes VALUES (?, ?, ?) "
                            "ON CONFLICT (service, environment) DO UPDATE SET weights = excluded.weights",
                            (service, environment, text),
                        )
                        connection.execute(
                            "INSERT INTO route_history VALUES (?, ?, ?, ?)",
                            (service, environment, at.isoformat(), text),
                        )
                connection.execute("COMMIT")
            except BaseException:
                self._store._rollback()
                raise
        return held != wanted

    def _parked(self, service: str, environment: str) -> dict[str, str]:
        """The Deployments it keeps scaled to zero (``SimulatedCluster.parked``): name -> version."""
        try:
            row = self._connection.execute(
                "SELECT holding FROM holdings WHERE service = ? AND environment = ?", (service, environment)
            ).fetchone()
        except sqlite3.OperationalError:  # no holdings kept yet
            return {}
        return dict(json.loads(row[0]).get("parked") or {}) if row else {}

    def leftovers(self, view: EnvironmentView, auto_cleanup: bool) -> tuple[str, ...]:
        """``TrackCleaner``, as the simulated cluster in memory: its Deployments scaled to zero that
        ``domain.cleanup`` removes (every one ours and the environment's)."""
        if not cleanup_due(view, auto_cleanup):
            return ()
        labels = {MANAGED_BY_LABEL: MANAGED_BY, ENVIRONMENT_LABEL: view.environment}
        with self._store._errors():
            held = self._parked(view.service, view.environment)
        return leftovers(view, auto_cleanup, (Leftover(name, 0, labels) for name in held))

    def clean_up(self, view: EnvironmentView, auto_cleanup: bool, names: Sequence[str]) -> tuple[str, ...]:
        """``TrackCleaner``: each of *names* still a leftover, no longer kept (one transaction)."""
        service, environment = view.service, view.environment
        self._store._check_writable()
        connection = self._connection
        with self._store._errors():
            connection.execute("BEGIN IMMEDIATE")
            try:
                still = set(self.leftovers(view, auto_cleanup))
                removed = tuple(name for name in names if name in still)
                if removed:
                    row = connection.execute(
                        "SELECT holding FROM holdings WHERE service = ? AND environment = ?", (service, environment)
                    ).fetchone()
                    body = json.loads(row[0])
                    body["parked"] = {k: v for k, v in (body.get("parked") or {}).items() if k not in removed}
                    connection.execute(
                        "UPDATE holdings SET holding = ? WHERE service = ? AND environment = ?",
                        (json.dumps(body, sort_keys=True), service, environment),
                    )
                connection.execute("COMMIT")
            except BaseException:
                self._store._rollback()
                raise
        return removed

    def history(self, service: str, environment: str) -> list[tuple[str, dict[str, int]]]:
        """When each split of *service*'s traffic in *environment* began, oldest first."""
        with self._store._errors():
            rows = self._connection.execute(
                "SELECT at, weights FROM route_history WHERE service = ? AND environment = ? ORDER BY rowid",
                (service, environment),
            ).fetchall()
        return [(at, dict(json.loads(weights))) for at, weights in rows]


def _parsed(text: object) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) and text else None
