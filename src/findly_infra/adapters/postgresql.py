"""A team's state: the event streams in PostgreSQL, reached by every CI runner (``--state postgresql://…``).

The same port and guarantees as the SQLite default: per-service streams, appends all-or-nothing at an expected
version. Two writers racing on one stream — on any machines — get exactly one winner: the stream's version is
checked and its rows inserted in one transaction, and the primary key ``(service, position)`` refuses the second
writer's row even when both read the same version (PostgreSQL makes it wait for the first, then raises a unique
violation), which becomes :class:`ConcurrencyError` with nothing written. No table lock is taken.

The connection is libpq's: URL parameters (``sslmode=verify-full``, ``sslrootcert=…``), the standard ``PG*``
variables and a password file (``PGPASSFILE``, ``~/.pgpass``) all apply. The password is never printed: every
message names the server by its redacted URL.

The schema is versioned (``findly_schema``) and migrated by the tool — on first write, or by ``findly-infra state
migrate`` — under an advisory lock, so racing first commands migrate once. The version is read first: a schema
already up to date is left alone (a least-privileged user may run ``state migrate``); one a user may not migrate is
refused, naming who can. A database written by a newer findly-infra is refused rather than misread.

A server that refuses the connection for what the URL says — a database that does not exist, a password or user it
refuses, a user not allowed to connect — is bad input (exit 2, with what to do); one that cannot be reached or is
not ready is a dependency unavailable (exit 5).
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from findly_infra.application.codec import decode_page, event_to_dict
from findly_infra.application.integrity import GENESIS, PAGE, links_for, paged_rows
from findly_infra.application.ports import (
    BadInputError,
    ConcurrencyError,
    DependencyUnavailableError,
    KeptSnapshot,
    PolicyAnchor,
    Snapshot,
    StateError,
)
from findly_infra.application.redaction import redact_url
from findly_infra.application.snapshots import sealed
from findly_infra.domain.events import Event
from findly_infra.domain.lease import Lease
from findly_infra.domain.tracks import Holding, expected_holding
from findly_infra.domain.view import EnvironmentView

if TYPE_CHECKING:
    import psycopg

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "PostgresEventStore", "PostgresSimulatedCluster"]

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE findly_events (
        service  text        NOT NULL,
        position integer     NOT NULL CHECK (position >= 0),
        type     text        NOT NULL,
        at       timestamp   NOT NULL,
        body     text        NOT NULL,
        PRIMARY KEY (service, position)
    );
    CREATE INDEX findly_events_at ON findly_events (at);
    CREATE TABLE findly_meta (key text PRIMARY KEY, value text NOT NULL);
    CREATE TABLE findly_routes (
        service text NOT NULL, environment text NOT NULL, weights jsonb NOT NULL, holding jsonb NOT NULL,
        PRIMARY KEY (service, environment)
    );
    CREATE TABLE findly_route_history (
        id bigserial PRIMARY KEY, service text NOT NULL, environment text NOT NULL, at timestamp NOT NULL,
        weights jsonb NOT NULL
    );
    """,
    """
    CREATE TABLE findly_snapshots (
        service text PRIMARY KEY, version integer NOT NULL, body jsonb NOT NULL, made timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE findly_leases (
        service text NOT NULL, environment text NOT NULL, holder text NOT NULL, expires timestamptz NOT NULL,
        PRIMARY KEY (service, environment)
    );
    """,
    """
    ALTER TABLE findly_events ADD COLUMN link text;
    """,
    """
    ALTER TABLE findly_events ADD COLUMN seal text;
    ALTER TABLE findly_snapshots ALTER COLUMN body TYPE text USING body::text;
    ALTER TABLE findly_snapshots ADD COLUMN link text, ADD COLUMN digest text;
    """,
    """
    CREATE TABLE findly_policy_anchor (
        id integer PRIMARY KEY CHECK (id = 1), position integer NOT NULL CHECK (position >= 0), link text NOT NULL,
        anchored_by text NOT NULL, at timestamptz NOT NULL
    );
    """,
)
"""Each schema version's migration, in order: ``MIGRATIONS[n - 1]`` takes a database from version n - 1 to n. After
3 (each event's link, ``application.integrity``), the events already there are linked in the same transaction. 4:
sealed snapshots (``application.snapshots``) — a snapshot kept as its exact text, with the link of the event it folds
up to and its digest, and that event's row the same digest (``seal``); the snapshots kept before have neither, so no
command trusts them, and the next writing command rebuilds them. Adding a column without a default rewrites no
row. 5: the owner's anchor of the policy in force (``findly-infra policy anchor``): one row, written by the schema's
owner alone (the documented grants give the CI role SELECT on it)."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema this version writes and reads (a newer one is refused)."""

_LOCK = 0x46494E44  # "FIND": the advisory lock migrations take
_LINKED = 3
"""The schema version from which events carry their links."""
_SEALED = 4
"""The schema version from which snapshots are sealed."""
_ANCHORED = 5
"""The schema version from which the owner's anchor of the policy in force is kept."""


class PostgresEventStore:
    """Event streams in a PostgreSQL database (one connection, autocommit outside explicit transactions).

    With ``create=False`` (the read-only commands) a database without the schema is read as an empty state and
    nothing is created. Raises :class:`DependencyUnavailableError` when the server cannot be reached (or is not
    ready), :class:`BadInputError` when it refuses the connection for what the URL says (no such database, a
    password or user refused), :class:`StateError` when the database was written by a newer findly-infra or its
    schema is behind and this user may not migrate it.
    """

    def __init__(self, url: str, *, timeout: float = 30.0, create: bool = True, connect_timeout: float = 10.0) -> None:
        import psycopg

        self.location = redact_url(url)
        self.timeout = timeout
        self._psycopg = psycopg
        self._password = _password(url)
        try:
            self._connection: psycopg.Connection[Any] = psycopg.connect(
                url,
                autocommit=True,
                connect_timeout=max(1, round(connect_timeout)),
                application_name="findly-infra",
                options=f"-c lock_timeout={round(timeout * 1000)} -c statement_timeout={round(timeout * 4000)}",
            )
        except psycopg.Error as exc:
            refused = _refused(exc, url)
            if refused is not None:
                said = self._clean(exc)
                said = said.rpartition("FATAL:")[2].strip() or said
                raise BadInputError(
                    f"--state {self.location}: the server refused the connection ({said}): {refused}"
                ) from None
            raise DependencyUnavailableError(
                f"--state {self.location}: cannot connect to PostgreSQL ({self._clean(exc)})"
            ) from None
        try:
            self._version = self._schema_version()
            self._refuse_newer(self._version)
            if create and self._version < SCHEMA_VERSION:
                self.migrate()
        except BaseException:
            self._connection.close()
            raise

    # ---- errors --------------------------------------------------------------------------------------------------

    def _clean(self, exc: BaseException) -> str:
        """The server's message on one line — its primary message alone where it has one, never the statement it
        quotes (``LINE 1: CREATE TABLE …``) — the password never in it."""
        diagnostic = getattr(exc, "diag", None)
        primary = getattr(diagnostic, "message_primary", None) if diagnostic is not None else None
        text = " ".join(str(primary or exc).split()) or type(exc).__name__
        return text.replace(self._password, "***") if self._password else text

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """PostgreSQL's errors as what they mean for the person: unreachable or busy (5), refused (2)."""
        psycopg = self._psycopg
        try:
            yield
        except (ConcurrencyError, StateError):
            raise
        except psycopg.errors.UniqueViolation:
            raise
        except (psycopg.OperationalError, psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled) as exc:
            raise DependencyUnavailableError(
                f"--state {self.location}: PostgreSQL did not complete the request ({self._clean(exc)}); nothing "
                "was written — run the command again"
            ) from None
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StateError(
                f"--state {self.location}: the database user may not do this ({self._clean(exc)}); the schema's "
                "owner grants it the findly_* tables (the GRANTs of docs/state-and-evidence.md)"
            ) from None
        except psycopg.errors.UndefinedTable as exc:  # the schema says it is there: someone dropped it
            raise StateError(
                f"--state {self.location} is damaged: {self._clean(exc)} — a findly table was dropped after the "
                "schema was made; restore the database from its backup (or import a `state export` into a new one)"
            ) from None
        except psycopg.errors.ReadOnlySqlTransaction as exc:
            raise StateError(f"--state {self.location} cannot be written: {self._clean(exc)}") from None

    def _ready(self) -> bool:
        """Whether the schema exists (a read-only command on a new database reads it as empty)."""
        return self._version >= 1

    def _check_writable(self) -> None:
        if not self._ready():
            raise StateError(
                f"--state {self.location} has no findly schema and was opened to read only: nothing is written"
            )

    # ---- the schema ----------------------------------------------------------------------------------------------

    def _schema_version(self) -> int:
        with self._errors():
            exists = self._connection.execute("SELECT to_regclass('findly_schema') IS NOT NULL").fetchone()
            if not exists or not exists[0]:
                return 0
            row = self._connection.execute("SELECT max(version) FROM findly_schema").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def schema_version(self) -> int:
        """The schema version the database is at (0: none yet)."""
        return self._version

    def migrate(self) -> tuple[int, int]:
        """Bring the schema to :data:`SCHEMA_VERSION`, each migration in its own transaction under an advisory lock
        (racing migrators wait, then find nothing left to do). Returns (the version found, the version now). The
        version is read first: a schema up to date is left alone — nothing is created, so a user without the right
        to create tables (a CI job's) may ask; a schema behind that this user may not migrate raises
        :class:`StateError` naming who can."""
        found = self._schema_version()
        self._refuse_newer(found)
        if found == SCHEMA_VERSION:
            self._version = found
            return found, found
        psycopg, connection = self._psycopg, self._connection
        with self._errors():
            try:
                with connection.transaction():
                    connection.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
                    connection.execute(
                        "CREATE TABLE IF NOT EXISTS findly_schema (version integer PRIMARY KEY, "
                        "applied_at timestamptz NOT NULL DEFAULT now(), tool text NOT NULL)"
                    )
                    row = connection.execute("SELECT coalesce(max(version), 0) FROM findly_schema").fetchone()
                    found = int(row[0]) if row else 0
                    self._refuse_newer(found)
                    for version in range(found + 1, SCHEMA_VERSION + 1):
                        connection.execute(MIGRATIONS[version - 1].encode())  # our own constant text (psycopg: bytes)
                        if version == _LINKED:
                            self._link_events()
                        connection.execute(
                            "INSERT INTO findly_schema (version, tool) VALUES (%s, %s)", (version, _tool_version())
                        )
            except psycopg.errors.InsufficientPrivilege as exc:
                raise StateError(self._may_not_migrate(found, exc)) from None
        self._version = SCHEMA_VERSION
        return found, SCHEMA_VERSION

    def _refuse_newer(self, found: int) -> None:
        if found > SCHEMA_VERSION:
            raise StateError(
                f"--state {self.location} was written by a newer findly-infra (schema {found}; this one "
                f"knows {SCHEMA_VERSION}): upgrade findly-infra"
            )

    def _may_not_migrate(self, found: int, exc: BaseException) -> str:
        """What to do when this user may not bring the schema from *found* to this version's."""
        said = f"this database user may not create or alter its tables: {self._clean(exc)}"
        if found == 0:
            return (
                f"--state {self.location} has no findly schema yet, and {said}. Run `findly-infra state migrate` "
                "once as a user that may create tables in the database (its owner), then grant this user the "
                "findly_* tables (docs/state-and-evidence.md)"
            )
        return (
            f"--state {self.location} is at schema {found}, this findly-infra needs schema {SCHEMA_VERSION}, and "
            f"{said}. Run `findly-infra state migrate` (this version) as the schema's owner — the user that "
            "created the findly_* tables — then grant this user any new ones (docs/state-and-evidence.md)"
        )

    def _link_events(self) -> None:
        """Give the events already stored their links, chained from each stream's first (within the migration's
        transaction)."""
        connection = self._connection
        services = [str(name) for (name,) in connection.execute("SELECT DISTINCT service FROM findly_events")]
        for service in services:
            rows = connection.execute(
                "SELECT position, body FROM findly_events WHERE service = %s ORDER BY position", (service,)
            ).fetchall()
            links = links_for(GENESIS, service, 0, (str(body) for _, body in rows))
            with connection.cursor() as cursor:
                cursor.executemany(
                    "UPDATE findly_events SET link = %s WHERE service = %s AND position = %s",
                    [(value, service, position) for (position, _), value in zip(rows, links, strict=True)],
                )

    # ---- the port ------------------------------------------------------------------------------------------------

    def close(self) -> None:
        self._connection.close()

    def load(self, service: str, since: int = 0) -> tuple[list[Event], int]:
        return self.page(service, since, None)

    def page(self, service: str, since: int, limit: int | None) -> tuple[list[Event], int]:
        """At most *limit* of the stream's events from position *since* (all with ``None``), and its version."""
        if not self._ready():
            return [], 0
        connection = self._connection
        link = "link" if self._version >= _LINKED else "NULL"
        before = 1 if since > 0 else 0  # the event before the page too: the link the page follows on
        with self._errors(), connection.transaction():
            connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # one snapshot for both reads
            rows = connection.execute(
                f"SELECT position, body, {link} FROM findly_events WHERE service = %s AND position >= %s "
                "ORDER BY position LIMIT %s",
                (service, since - before, None if limit is None else limit + before),
            ).fetchall()
            last = connection.execute(
                "SELECT max(position) FROM findly_events WHERE service = %s", (service,)
            ).fetchone()
        version = 0 if last is None or last[0] is None else int(last[0]) + 1
        return self._decoded(service, since, limit, version, rows), version

    def _decoded(
        self, service: str, since: int, limit: int | None, version: int, rows: Sequence[tuple[int, Any, Any]]
    ) -> list[Event]:
        return decode_page(
            rows, since=since, limit=limit, version=version, service=service, location=str(self.location)
        )

    def append(self, service: str, expected_version: int, events: Sequence[Event]) -> int:
        self._check_writable()

        connection = self._connection
        try:
            with self._errors(), connection.transaction():
                row = connection.execute(
                    "SELECT position, link FROM findly_events WHERE service = %s ORDER BY position DESC LIMIT 1",
                    (service,),
                ).fetchone()
                current = 0 if row is None else int(row[0]) + 1  # no gaps: the index answers
                if current != expected_version:
                    raise ConcurrencyError(
                        f"{service} was changed by someone else (now at event {current}, expected {expected_version})"
                    )
                bodies = [json.dumps(event_to_dict(event)) for event in events]
                links = links_for(GENESIS if row is None else str(row[1] or GENESIS), service, current, bodies)
                with connection.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO findly_events (service, position, type, at, body, link) "
                        "VALUES (%s, %s, %s, %s, %s, %s)",
                        [
                            (service, current + offset, event.type, event.at, body, value)
                            for offset, (event, body, value) in enumerate(zip(events, bodies, links, strict=True))
                        ],
                    )
        except self._psycopg.errors.UniqueViolation:
            raise ConcurrencyError(
                f"{service} was changed by someone else at the same time (event {expected_version} is taken)"
            ) from None
        return expected_version + len(events)

    # ---- leases: judged on the server's clock, the one every runner shares ----------------------------------------

    def acquire(
        self,
        service: str,
        environment: str,
        holder: str,
        *,
        now: datetime,  # noqa: ARG002 - judged on the server's clock
        ttl: timedelta,
        replacing: str | None = None,
    ) -> Lease:
        self._check_writable()
        if not holder.strip():
            raise ValueError("a lease needs a holder")
        with self._errors():
            row = self._connection.execute(
                "INSERT INTO findly_leases AS held (service, environment, holder, expires) "
                "VALUES (%(service)s, %(environment)s, %(holder)s, now() + %(ttl)s) "
                "ON CONFLICT (service, environment) DO UPDATE SET holder = excluded.holder, expires = excluded.expires "
                "WHERE held.holder = excluded.holder OR held.expires <= now() OR held.holder = %(replacing)s "
                "RETURNING holder, expires",
                {"service": service, "environment": environment, "holder": holder, "ttl": ttl, "replacing": replacing},
            ).fetchone()
        if row is not None:
            return Lease(str(row[0]), _naive(row[1]))
        current = self.lease(service, environment)
        assert current is not None  # the conflicting row is there: another holds it
        return current

    def release(self, service: str, environment: str, holder: str) -> None:
        self._check_writable()
        with self._errors():
            self._connection.execute(
                "DELETE FROM findly_leases WHERE service = %s AND environment = %s AND holder = %s",
                (service, environment, holder),
            )

    def lease(self, service: str, environment: str) -> Lease | None:
        if self._version < 2:
            return None
        with self._errors():
            row = self._connection.execute(
                "SELECT holder, expires FROM findly_leases WHERE service = %s AND environment = %s",
                (service, environment),
            ).fetchone()
        return None if row is None else Lease(str(row[0]), _naive(row[1]))

    # ---- the owner's anchor of the policy in force: written by the schema's owner alone ---------------------------

    def policy_anchor(self) -> PolicyAnchor | None:
        if self._version < _ANCHORED:
            return None
        with self._errors():
            row = self._connection.execute(
                "SELECT position, link, anchored_by, at FROM findly_policy_anchor WHERE id = 1"
            ).fetchone()
        return None if row is None else PolicyAnchor(int(row[0]), str(row[1]), str(row[2]), _naive(row[3]))

    def may_anchor(self) -> None:
        self._check_writable()
        if self._version < _ANCHORED:
            raise StateError(
                f"--state {self.location} is at schema {self._version}, which keeps no anchor: have the schema's "
                "owner run `findly-infra state migrate` first"
            )
        with self._errors():
            row = self._connection.execute(
                "SELECT has_table_privilege('findly_policy_anchor', 'INSERT') "
                "AND has_table_privilege('findly_policy_anchor', 'UPDATE')"
            ).fetchone()
        if row is None or not row[0]:
            raise StateError(self._not_the_owner())

    def _not_the_owner(self) -> str:
        return (
            f"--state {self.location}: only the schema's owner anchors the policy in force, and this database "
            "user may not write findly_policy_anchor (docs/state-and-evidence.md grants the CI role SELECT on it "
            "alone) — run `findly-infra policy anchor` with the owner's credentials"
        )

    def anchor_policy(self, anchor: PolicyAnchor) -> None:
        self.may_anchor()
        try:
            self._connection.execute(
                "INSERT INTO findly_policy_anchor (id, position, link, anchored_by, at) "
                "VALUES (1, %(position)s, %(link)s, %(by)s, COALESCE(%(at)s, now())) ON CONFLICT (id) DO UPDATE "
                "SET position = excluded.position, link = excluded.link, anchored_by = excluded.anchored_by, "
                "at = excluded.at",
                {
                    "position": anchor.position,
                    "link": anchor.link,
                    "by": anchor.by,
                    "at": anchor.at.replace(tzinfo=UTC) if anchor.at is not None else None,
                },
            )
        except self._psycopg.errors.InsufficientPrivilege:
            raise StateError(self._not_the_owner()) from None
        except self._psycopg.Error:
            with self._errors():
                raise

    # ---- snapshots -------------------------------------------------------------------------------------------------

    def load_snapshot(self, service: str) -> KeptSnapshot | None:
        """The snapshot and, in the same read, the link and seal of the event it folds up to (by the primary key)."""
        if self._version < 2:
            return None
        # a database of schema 2 or 3 opened read only has no seals: its snapshots read as unsealed (and are not used)
        sealing = "s.link, s.digest, e.link, e.seal" if self._version >= _SEALED else "NULL, NULL, NULL, NULL"
        with self._errors():
            row = self._connection.execute(
                f"SELECT s.version, s.body::text, {sealing} FROM findly_snapshots AS s LEFT JOIN findly_events AS e "
                "ON e.service = s.service AND e.position = s.version - 1 WHERE s.service = %s",
                (service,),
            ).fetchone()
        if row is None:
            return None
        version, text, link, digest, event_link, event_seal = row
        return KeptSnapshot(
            Snapshot(service, int(version), str(text), _text(link), _text(digest)), _text(event_link), _text(event_seal)
        )

    def save_snapshot(self, service: str, version: int, text: str) -> None:
        self._check_writable()
        connection = self._connection
        with self._errors(), connection.transaction():
            row = connection.execute(
                "SELECT link FROM findly_events WHERE service = %s AND position = %s", (service, version - 1)
            ).fetchone()
            if row is None or row[0] is None:
                raise StateError(
                    f"--state {self.location}: {service} has no linked event {version - 1}: no snapshot at event "
                    f"{version} is kept"
                )
            snapshot = sealed(service, version, text, str(row[0]))
            connection.execute(  # replaces the kept one, unless it is later and sealed by its stream
                "INSERT INTO findly_snapshots AS kept (service, version, body, link, digest) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (service) DO UPDATE SET version = excluded.version, "
                "body = excluded.body, link = excluded.link, digest = excluded.digest, made = now() "
                "WHERE excluded.version >= kept.version OR NOT EXISTS (SELECT 1 FROM findly_events AS e "
                "WHERE e.service = kept.service AND e.position = kept.version - 1 AND e.link = kept.link "
                "AND e.seal = kept.digest)",
                (service, version, text, snapshot.link, snapshot.digest),
            )
            connection.execute(
                "UPDATE findly_events SET seal = %s WHERE service = %s AND position = %s",
                (snapshot.digest, service, version - 1),
            )

    def snapshotted(self) -> list[str]:
        if self._version < 2:
            return []
        with self._errors():
            rows = self._connection.execute("SELECT service FROM findly_snapshots ORDER BY 1").fetchall()
        return [str(name) for (name,) in rows]

    # ---- how the state keeps time --------------------------------------------------------------------------------

    def time_kept(self) -> str | None:
        if not self._ready():
            return None
        with self._errors():
            row = self._connection.execute("SELECT value FROM findly_meta WHERE key = 'time'").fetchone()
        return None if row is None else str(row[0])

    def keep_time(self, mode: str) -> str:
        if mode not in ("wall", "virtual"):
            raise ValueError(f"a state keeps 'wall' or 'virtual' time, not {mode!r}")
        self._check_writable()
        with self._errors():
            self._connection.execute(
                "INSERT INTO findly_meta (key, value) VALUES ('time', %s) ON CONFLICT (key) DO NOTHING", (mode,)
            )
        kept = self.time_kept()
        assert kept is not None
        return kept

    def latest_time(self) -> datetime | None:
        if not self._ready():
            return None
        with self._errors():
            row = self._connection.execute("SELECT max(at) FROM findly_events").fetchone()
        latest: datetime | None = None if row is None else row[0]
        return latest

    def services(self) -> list[str]:
        if not self._ready():
            return []
        with self._errors():
            rows = self._connection.execute("SELECT DISTINCT service FROM findly_events ORDER BY 1").fetchall()
        return [str(name) for (name,) in rows]

    def chain(self, service: str) -> Iterator[tuple[int, str, str | None]]:
        """The stream as stored, with its links (``None`` before schema 3), a page at a time."""
        if not self._ready():
            return iter(())
        link = "link" if self._version >= _LINKED else "NULL"

        def fetch(since: int) -> list[Any]:
            with self._errors():
                return self._connection.execute(
                    f"SELECT position, body, {link} FROM findly_events WHERE service = %s AND position >= %s "
                    "ORDER BY position LIMIT %s",
                    (service, since, PAGE),
                ).fetchall()

        return paged_rows(fetch)

    def streams(self) -> dict[str, int]:
        """Each service's event count."""
        if not self._ready():
            return {}
        with self._errors():
            rows = self._connection.execute(
                "SELECT service, count(*) FROM findly_events GROUP BY service ORDER BY service"
            ).fetchall()
        return {str(service): int(count) for service, count in rows}


class PostgresSimulatedCluster:
    """The simulated cluster, kept in the team's PostgreSQL state (as ``SqliteSimulatedCluster`` in a file)."""

    def __init__(self, store: PostgresEventStore) -> None:
        self._store = store

    def weights(self, service: str, environment: str) -> dict[str, int]:
        return dict(self.holding(service, environment).weights)

    def holding(self, service: str, environment: str) -> Holding:
        if not self._store._ready():
            return Holding()
        with self._store._errors():
            row = self._store._connection.execute(
                "SELECT holding FROM findly_routes WHERE service = %s AND environment = %s", (service, environment)
            ).fetchone()
        if row is None:
            return Holding()
        body = row[0]
        return Holding(dict(body["running"]), dict(body["weights"]), body.get("preview"))

    def converge(self, view: EnvironmentView, at: datetime) -> bool:
        from psycopg.types.json import Jsonb

        wanted = expected_holding(view)
        service, environment = view.service, view.environment
        self._store._check_writable()
        connection = self._store._connection
        with self._store._errors(), connection.transaction():
            row = connection.execute(  # the row locked: two converging commands write one after the other
                "SELECT holding FROM findly_routes WHERE service = %s AND environment = %s FOR UPDATE",
                (service, environment),
            ).fetchone()
            held = Holding() if row is None else Holding(**{k: row[0][k] for k in ("running", "weights", "preview")})
            if held == wanted:
                return False
            body = {"running": wanted.running, "weights": wanted.weights, "preview": wanted.preview}
            connection.execute(
                "INSERT INTO findly_routes (service, environment, weights, holding) VALUES (%s, %s, %s, %s) ON "
                "CONFLICT (service, environment) DO UPDATE SET weights = excluded.weights, holding = excluded.holding",
                (service, environment, Jsonb(wanted.weights), Jsonb(body)),
            )
            if held.weights != wanted.weights:
                connection.execute(
                    "INSERT INTO findly_route_history (service, environment, at, weights) VALUES (%s, %s, %s, %s)",
                    (service, environment, at, Jsonb(wanted.weights)),
                )
        return True

    def history(self, service: str, environment: str) -> list[tuple[str, dict[str, int]]]:
        with self._store._errors():
            rows = self._store._connection.execute(
                "SELECT at, weights FROM findly_route_history WHERE service = %s AND environment = %s ORDER BY id",
                (service, environment),
            ).fetchall()
        return [(at.isoformat(), dict(weights)) for at, weights in rows]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _naive(moment: datetime) -> datetime:
    """UTC without its zone, as the domain keeps time."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _password(url: str) -> str:
    from urllib.parse import unquote, urlsplit

    with contextlib.suppress(ValueError):
        password = urlsplit(url).password
        return unquote(password) if password else ""
    return ""


_REFUSALS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # The server's words for refusing a connection over what the URL says, each with its SQLSTATE — libpq reports a
    # failed connection by its message alone (psycopg's ``sqlstate`` is None there), so the message is read, as
    # PostgreSQL's source words it:
    # src/backend/utils/init/postinit.c (InitPostgres): ERRCODE_UNDEFINED_DATABASE, 'database "%s" does not exist'
    ("3D000", re.compile(r'database "(?P<database>[^"]*)" does not exist')),
    # src/backend/libpq/auth.c (auth_failed): ERRCODE_INVALID_PASSWORD for password, md5 and scram-sha-256,
    # 'password authentication failed for user "%s"' (also what a user that does not exist gets, by design)
    ("28P01", re.compile(r'password authentication failed for user "(?P<user>[^"]*)"')),
    # libpq's own (src/interfaces/libpq/fe-auth.c): the server asked for a password and none was given
    ("28P01", re.compile(r"fe_sendauth: no password supplied")),
    # auth.c (ClientAuthentication, auth_failed for the other methods) and miscinit.c (InitializeSessionUserId):
    # ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION
    (
        "28000",
        re.compile(
            r'no pg_hba\.conf entry for|pg_hba\.conf rejects connection|role "[^"]*" does not exist|'
            r'role "[^"]*" is not permitted to log in|\b(?:Ident|Peer|GSSAPI|SSPI|LDAP|RADIUS|PAM|BSD|certificate) '
            r"authentication failed"
        ),
    ),
    # postinit.c (CheckMyDatabase): ERRCODE_INSUFFICIENT_PRIVILEGE, 'permission denied for database "%s"'
    ("42501", re.compile(r'permission denied for database "(?P<database>[^"]*)"')),
)
"""Refusals that no retry can help, unlike a server that cannot be reached, is starting up or shutting down
(57P03), or has too many clients (53300): those stay exit 5."""


def _refused(exc: BaseException, url: str) -> str | None:
    """What to do when the server refused the connection for what the URL says (bad input); ``None`` when it could
    not be reached or was not ready (a dependency unavailable)."""
    from psycopg.conninfo import conninfo_to_dict

    sqlstate, text = getattr(exc, "sqlstate", None), str(exc)
    try:
        where = {key: str(value) for key, value in conninfo_to_dict(url).items() if value is not None}
    except Exception:  # noqa: BLE001 - the URL was good enough to connect with; this only shapes the hint
        where = {}
    for state, pattern in _REFUSALS:
        found = pattern.search(text)
        if found is None and sqlstate != state:
            continue
        named = found.groupdict() if found is not None else {}
        if state == "3D000":
            database = named.get("database") or where.get("dbname", "DATABASE")
            flags = (("-h", "host"), ("-p", "port"), ("-U", "user"))
            options = [f"{flag} {shlex.quote(where[key])}" for flag, key in flags if key in where]
            command = " ".join(["createdb", *options, shlex.quote(database)])
            return f"create the database (as a user that may: {command}), then run `findly-infra state migrate`"
        if state == "28P01":
            return (
                "check the user and its password — in the URL, PGPASSWORD or the password file (PGPASSFILE, "
                "~/.pgpass); no retry can help"
            )
        if state == "28000":
            return (
                "check the user name in the URL, that the role exists and may log in, and that the server's "
                "pg_hba.conf admits it from here; no retry can help"
            )
        database = named.get("database") or where.get("dbname", "DATABASE")
        return f"the database's owner grants it: GRANT CONNECT ON DATABASE {database} TO {where.get('user', 'USER')}"
    return None


def _tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"findly-infra {version('findly-infra')}"
    except PackageNotFoundError:
        return "findly-infra"
