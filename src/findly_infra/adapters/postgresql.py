"""A team's state: the event streams in PostgreSQL, reached by every CI runner (``--state postgresql://…``).

The same port and guarantees as the SQLite default: per-service streams, appends all-or-nothing at an expected
version. Two writers racing on one stream — on any machines — get exactly one winner: the stream's version is
checked and its rows inserted in one transaction (a command's append: one statement, in one round trip), and the
primary key ``(service, position)`` refuses the second writer's row even when both read the same version
(PostgreSQL makes it wait for the first, then raises a unique violation), which becomes :class:`ConcurrencyError`
with nothing written. No table lock is taken.

The connection is libpq's, made from the URL as written: every libpq parameter of its query string (``sslmode``,
``sslrootcert``, ``options``, ``application_name``, ``target_session_attrs``, ``connect_timeout``…), the standard
``PG*`` variables and a password file (``PGPASSFILE``, ``~/.pgpass``) all apply. Our own bounds are added where the
URL (or its ``PG*`` variable) sets nothing — our ``-c`` settings are put before the URL's ``options``, so that one
the URL gives wins. A parameter libpq does not know or whose value it refuses, and a replication connection, are
bad input (exit 2, libpq's words naming it). The password is never printed: every message names the server by its
redacted URL.

Every wait is bounded by the ``timeout`` (``FINDLY_STATE_TIMEOUT``): connecting (libpq's ``connect_timeout``), a
lock held by another command (``lock_timeout``), a statement (``statement_timeout``), a session left idle in a
transaction (``idle_in_transaction_session_timeout``), a network that drops everything (TCP keepalives and
``tcp_user_timeout``) — and, as a server that is frozen enforces none of its own limits while the kernel still
acknowledges what is sent to it, a watchdog of our own: a request unanswered for three times the timeout has its
connection cut (the socket shut down, so that libpq's blocked wait returns at once), which the command reports as
exit 5. Its transaction, if it was in one, is rolled back by the server once it runs again — or, if the COMMIT had
been sent, committed whole: never half.

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
import functools
import json
import math
import os
import re
import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from findly_infra.application.codec import ANALYSIS_PREFIX, decode_page, event_to_dict, recorded
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
from findly_infra.application.redaction import redact_url
from findly_infra.application.snapshots import sealed
from findly_infra.domain.cleanup import Leftover, cleanup_due, leftovers
from findly_infra.domain.cluster import ENVIRONMENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL
from findly_infra.domain.events import Event
from findly_infra.domain.lease import Fence, Lease
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
    """
    ALTER TABLE findly_leases ADD COLUMN token bigint NOT NULL DEFAULT 0;
    """,
    """
    CREATE FUNCTION findly_record_key(body text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
        AS $$ SELECT coalesce(substring(body FROM '"version": "([^"\\\\]*)"'), '') $$;
    CREATE INDEX findly_events_record_keys ON findly_events (service, findly_record_key(body), position)
        WHERE left(body, 31) <> '{"type": "analysis_recorded", "';
    """,
    """
    CREATE TABLE findly_notify_cursors (service text PRIMARY KEY, position integer NOT NULL, kept text NOT NULL);
    CREATE TABLE findly_notify_outbox (
        seq bigserial UNIQUE, id text NOT NULL, receiver text NOT NULL, service text NOT NULL, incident text NOT NULL,
        action text, body text NOT NULL, queued timestamp NOT NULL, attempts integer NOT NULL DEFAULT 0,
        next_attempt timestamp, state text NOT NULL DEFAULT 'pending', detail text NOT NULL DEFAULT '',
        settled timestamp, PRIMARY KEY (id, receiver)
    );
    CREATE INDEX findly_notify_due ON findly_notify_outbox (next_attempt, seq) WHERE state = 'pending';
    CREATE INDEX findly_notify_incidents ON findly_notify_outbox (incident) WHERE action = 'trigger';
    CREATE INDEX findly_notify_services ON findly_notify_outbox (service, seq);
    INSERT INTO findly_notify_cursors (service, position, kept)
        SELECT service, max(position) + 1, '[]' FROM findly_events GROUP BY service;
    """,
)
"""Each schema version's migration, in order: ``MIGRATIONS[n - 1]`` takes a database from version n - 1 to n. After
3 (each event's link, ``application.integrity``), the events already there are linked in the same transaction. 4:
sealed snapshots (``application.snapshots``) — a snapshot kept as its exact text, with the link of the event it folds
up to and its digest, and that event's row the same digest (``seal``); the snapshots kept before have neither, so no
command trusts them, and the next writing command rebuilds them. Adding a column without a default rewrites no
row. 5: the owner's anchor of the policy in force (``findly-infra policy anchor``): one row, written by the schema's
owner alone (the documented grants give the CI role SELECT on it). 6: each lease's fencing token (``domain.lease``),
0 for the leases already held; a driver's appends are admitted only while its lease still has its token. 7: the
events but analyses (they may add to a version's records, ``domain.state.RECORD_EVENTS``) indexed by the version
their text names, so that what a bounded snapshot left out is read back by one indexed read (``records``). 8: the
outbox of notifications (``application.notify``): each service's cursor — at its stream's end for the streams already
there, whose past is not told — and each (notification, receiver) dispatch. The
version is found in the text as ``json.dumps`` wrote it (an unescaped ``"version": "`` is only ever the key), not by
parsing JSON on the server — a database whose encoding cannot hold a ``\\u`` escape of the text would refuse it; a
text where none is found is keyed ``''``, read back for every version, and decoding it names it."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema this version writes and reads (a newer one is refused)."""

_LOCK = 0x46494E44  # "FIND": the advisory lock migrations take
_REQUEST_BOUND = 3
"""A request unanswered for this many times the timeout has its connection cut: the server's own limits
(``statement_timeout``, twice the timeout, which counts a lock waited for) end any request of a server that runs,
and the rest is the time to say so."""
_LINKED = 3
"""The schema version from which events carry their links."""
_LINKED_AT_ONCE = 10_000
"""Events linked by one request when a schema 1 database is migrated (each request its own bound)."""
_SEALED = 4
"""The schema version from which snapshots are sealed."""
_ANCHORED = 5
"""The schema version from which the owner's anchor of the policy in force is kept."""
_FENCED = 6
"""The schema version from which leases carry their fencing tokens."""
_OUTBOX = 8
"""The schema version from which the outbox of notifications is kept."""
_AT_ONCE = 32
"""The most events appended by one statement (:func:`_append_statement`): a command's appends (one to a few events)
in one round trip; a longer one — an import's, a whole stream — in a transaction of its own, where its few round
trips are nothing beside the rows (and the statement's text grows with its events)."""


@functools.lru_cache(maxsize=2 * _AT_ONCE)
def _append_statement(count: int, fenced: bool) -> str:
    """An append of *count* events as one statement — its own transaction on the autocommit connection, so one round
    trip. It reads the stream's head, and with a fence reads and locks the lease (``FOR SHARE``: a take-over's UPDATE
    of the row waits for this statement, or this statement waits for the take-over and reads the row it committed —
    a locking read returns a row's newest version, sql-select.html#SQL-FOR-UPDATE-SHARE and
    transaction-iso.html#XACT-READ-COMMITTED); it links each event to the one before
    (``application.integrity.link``: hex SHA-256 of the link before, the service, the position and the body, each on
    its own line, in UTF-8 — ``sha256()`` is built in since PostgreSQL 11, functions-binarystring.html), and
    inserts the rows only when the lease admits the fence and the head is the expected one. It returns the head it
    read (and the lease), which say which refusal it was. A racer's row at the same position makes the insert wait
    for the racer, then fail on the primary key (a unique violation): nothing written. Parameters: ``service``,
    ``expected``, ``genesis``, each event's ``typeN``, ``atN`` and ``bodyN`` (N from 0), and with a fence its
    ``environment``, ``holder`` and ``token``."""
    lease = (
        "lease AS MATERIALIZED (SELECT holder, expires, token FROM findly_leases "
        "WHERE service = %(service)s::text AND environment = %(environment)s::text FOR SHARE), "
    )
    admitted = "EXISTS (SELECT FROM lease WHERE holder = %(holder)s::text AND token = %(token)s::bigint) AND "
    links, rows = [], []
    for n in range(count):
        # as links_for(row.link or GENESIS, …): a head without a link (or an empty one) follows the genesis
        before = "coalesce(nullif(head.link, ''), %(genesis)s::text)" if n == 0 else f"k{n - 1}.link"
        links.append(
            f"CROSS JOIN LATERAL (SELECT encode(sha256(convert_to({before} || chr(10) || %(service)s::text "
            f"|| chr(10) || (%(expected)s::integer + {n})::text || chr(10) || %(body{n})s::text, 'UTF8')), 'hex') "
            f"AS link) AS k{n} "
        )
        rows.append(f"({n}, %(type{n})s::text, %(at{n})s::timestamp, %(body{n})s::text, k{n}.link)")
    return (
        "WITH "
        + (lease if fenced else "")
        + "head AS MATERIALIZED (SELECT position, link FROM findly_events WHERE service = %(service)s::text "
        "ORDER BY position DESC LIMIT 1), "
        "written AS (INSERT INTO findly_events (service, position, type, at, body, link) "
        "SELECT %(service)s::text, %(expected)s::integer + e.n, e.type, e.at, e.body, e.link "
        "FROM (SELECT) AS one LEFT JOIN head ON true "
        + "".join(links)
        + "CROSS JOIN LATERAL (VALUES "
        + ", ".join(rows)
        + ") AS e (n, type, at, body, link) WHERE "
        + (admitted if fenced else "")
        + "coalesce(head.position + 1, 0) = %(expected)s::integer RETURNING 1) "
        "SELECT head.position, (SELECT count(*) FROM written)"
        + (", lease.holder, lease.expires, lease.token" if fenced else "")
        + " FROM (SELECT) AS one LEFT JOIN head ON true"
        + (" LEFT JOIN lease ON true" if fenced else "")
    )


_INDEXED = 7
"""The schema version from which the events that add to a version's records are indexed by version."""


class PostgresEventStore:
    """Event streams in a PostgreSQL database (one connection, autocommit outside explicit transactions).

    With ``create=False`` (the read-only commands) a database without the schema is read as an empty state and
    nothing is created. Raises :class:`DependencyUnavailableError` when the server cannot be reached (or is not
    ready), :class:`BadInputError` when it refuses the connection for what the URL says (no such database, a
    password or user refused), :class:`StateError` when the database was written by a newer findly-infra or its
    schema is behind and this user may not migrate it.
    """

    def __init__(self, url: str, *, timeout: float = 30.0, create: bool = True) -> None:
        import psycopg
        from psycopg.conninfo import make_conninfo

        self.location = redact_url(url)
        self.timeout = timeout
        self._psycopg = psycopg
        self._password = _password(url)
        parameters = _connection_parameters(url, timeout, os.environ, self.location, self._clean)
        try:
            self._connection: psycopg.Connection[Any] = psycopg.connect(
                make_conninfo("", **parameters), autocommit=True
            )
        except psycopg.Error as exc:
            said = _bad_parameter(exc)
            if said is not None:
                raise BadInputError(f"--state {self.location}: {self._hide(said)}") from None
            if isinstance(exc, psycopg.errors.ConnectionTimeout):
                raise DependencyUnavailableError(
                    f"--state {self.location}: cannot connect to PostgreSQL (no answer within "
                    f"{parameters.get('connect_timeout') or os.environ.get('PGCONNECT_TIMEOUT')} s — libpq's "
                    f"connect_timeout, from FINDLY_STATE_TIMEOUT={timeout:g} s unless the URL sets it): nothing was "
                    "done — run the command again when the server answers"
                ) from None
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
        self._watch = _Watchdog(_REQUEST_BOUND * timeout, self._connection.fileno())
        try:
            self._version = self._schema_version()
            self._refuse_newer(self._version)
            if create and self._version < SCHEMA_VERSION:
                self.migrate()
        except BaseException:
            self.close()
            raise

    # ---- errors --------------------------------------------------------------------------------------------------

    def _clean(self, exc: BaseException) -> str:
        """The server's message on one line — its primary message alone where it has one, never the statement it
        quotes (``LINE 1: CREATE TABLE …``) — the password never in it."""
        diagnostic = getattr(exc, "diag", None)
        primary = getattr(diagnostic, "message_primary", None) if diagnostic is not None else None
        return self._hide(" ".join(str(primary or exc).split()) or type(exc).__name__)

    def _hide(self, text: str) -> str:
        """*text* without the password (as given, and as the URL encodes it)."""
        for secret in {self._password, quote(self._password, safe="")} - {""}:
            text = text.replace(secret, "***")
        return text

    def _unanswered(self) -> str:
        return (
            f"--state {self.location}: PostgreSQL did not answer a request within {self._watch.bound:g} s (3 x "
            f"FINDLY_STATE_TIMEOUT={self.timeout:g} s) and the connection was cut: a write it was making, if any, "
            "is applied whole or not at all (the server rolls back a transaction it had not committed once it runs "
            "again) — run the command again when the server answers; it reads the log as it is"
        )

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """PostgreSQL's errors as what they mean for the person: unreachable or busy (5), refused (2). The block's
        requests are watched: one unanswered for three times the timeout has its connection cut (exit 5)."""
        psycopg = self._psycopg
        try:
            try:
                with self._watch.watching():
                    yield
            except psycopg.Error:
                if self._watch.fired:
                    raise DependencyUnavailableError(self._unanswered()) from None
                raise
        except (ConcurrencyError, StateError):
            raise
        except psycopg.errors.UniqueViolation:
            raise
        except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled) as exc:  # the server aborted it
            raise DependencyUnavailableError(
                f"--state {self.location}: PostgreSQL did not complete the request ({self._clean(exc)}); nothing "
                "was written — run the command again"
            ) from None
        except psycopg.OperationalError as exc:
            # the connection is gone: a COMMIT already sent may have been applied (the server decides, whole or not at
            # all), so "nothing was written" would not always be true
            raise DependencyUnavailableError(
                f"--state {self.location}: PostgreSQL did not complete the request ({self._clean(exc)}); a write it "
                "was making, if any, is applied whole or not at all — run the command again: it answers from what "
                "the log holds"
            ) from None
        except psycopg.errors.IdleInTransactionSessionTimeout as exc:  # 25P03: the server ended an idle transaction
            raise DependencyUnavailableError(
                f"--state {self.location}: PostgreSQL ended the session, left idle in a transaction longer than its "
                f"idle_in_transaction_session_timeout ({self._clean(exc)}); nothing was written — run the command "
                "again (a slow disk or network on this side held it open: FINDLY_STATE_TIMEOUT, or the URL's "
                "options, lengthen it)"
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
        except psycopg.errors.ReadOnlySqlTransaction as exc:  # 25006: a standby, or a session the URL made read-only
            raise DependencyUnavailableError(
                f"--state {self.location} takes no writes in this session ({self._clean(exc)}): the server is a "
                "standby, or default_transaction_read_only is on (the URL's options, PGOPTIONS, or the role's or "
                "database's settings); nothing was written — point --state at the primary (with several hosts, "
                "target_session_attrs=read-write picks it)"
            ) from None

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
                        self._watch.touch()  # each migration is a request of its own
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
            self._watch.touch()  # each stream linked is a request of its own
            rows = connection.execute(
                "SELECT position, body FROM findly_events WHERE service = %s ORDER BY position", (service,)
            ).fetchall()
            links = links_for(GENESIS, service, 0, (str(body) for _, body in rows))
            updates = [(value, service, position) for (position, _), value in zip(rows, links, strict=True)]
            with connection.cursor() as cursor:
                for start in range(0, len(updates), _LINKED_AT_ONCE):
                    self._watch.touch()  # a long history is linked in requests of a bounded size
                    cursor.executemany(
                        "UPDATE findly_events SET link = %s WHERE service = %s AND position = %s",
                        updates[start : start + _LINKED_AT_ONCE],
                    )

    # ---- the port ------------------------------------------------------------------------------------------------

    def close(self) -> None:
        watch = getattr(self, "_watch", None)
        if watch is not None:
            watch.stop()  # before the socket is closed: its number is never cut once another may hold it
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

    def append(
        self, service: str, expected_version: int, events: Sequence[Event], *, fence: Fence | None = None
    ) -> int:
        """One statement, in one round trip, for an append of at most :data:`_AT_ONCE` events (a command's): the
        fence, the stream's head, the position check, the links and the insert (:func:`_append_statement`); a longer
        one (an import's) in a transaction of its own, its links computed here. Either way all-or-nothing, with the
        same refusals."""
        self._check_writable()
        bodies = [json.dumps(event_to_dict(event)) for event in events]
        try:
            with self._errors():
                if not events or len(events) > _AT_ONCE:
                    self._append_many(service, expected_version, events, bodies, fence)
                else:
                    self._append_at_once(service, expected_version, events, bodies, fence)
        except self._psycopg.errors.UniqueViolation:
            raise ConcurrencyError(
                f"{service} was changed by someone else at the same time (event {expected_version} is taken)"
            ) from None
        return expected_version + len(events)

    def append_stored(self, service: str, expected_version: int, events: Sequence[Event], bodies: Sequence[str]) -> int:
        """Append *events* stored as the texts *bodies* exactly (each one's text as a backup carries it, written by an
        older findly-infra perhaps: linked over that text, so that a restored stream's links and head are its
        source's) — ``state restore``'s append, in one transaction, with the checks of :meth:`append`."""
        self._check_writable()
        try:
            with self._errors():
                self._append_many(service, expected_version, events, list(bodies), None)
        except self._psycopg.errors.UniqueViolation:
            raise ConcurrencyError(
                f"{service} was changed by someone else at the same time (event {expected_version} is taken)"
            ) from None
        return expected_version + len(events)

    def _append_at_once(
        self, service: str, expected: int, events: Sequence[Event], bodies: list[str], fence: Fence | None
    ) -> None:
        parameters: dict[str, object] = {"service": service, "expected": expected, "genesis": GENESIS}
        for n, (event, body) in enumerate(zip(events, bodies, strict=True)):
            parameters[f"type{n}"], parameters[f"at{n}"], parameters[f"body{n}"] = event.type, event.at, body
        if fence is not None:
            parameters |= {"environment": fence.environment, "holder": fence.holder, "token": fence.token}
        row = self._connection.execute(_append_statement(len(events), fence is not None), parameters).fetchone()
        assert row is not None  # the statement's last SELECT has no FROM: always one row
        if fence is not None:
            holding = None if row[2] is None else Lease(str(row[2]), _naive(row[3]), int(row[4]))
            if not fence.admits(holding):
                raise LeaseLostError(f"{fence.describe(holding)}: nothing written")
        current = 0 if row[0] is None else int(row[0]) + 1
        if current != expected:
            raise ConcurrencyError(
                f"{service} was changed by someone else (now at event {current}, expected {expected})"
            )
        assert int(row[1]) == len(events), (row, len(events))  # admitted and at its place: every event written

    def _append_many(
        self, service: str, expected: int, events: Sequence[Event], bodies: list[str], fence: Fence | None
    ) -> None:
        connection = self._connection
        with connection.transaction():
            if fence is not None:  # FOR SHARE: a take-over's UPDATE of the row waits for this append, or it waits
                held = connection.execute(  # for the take-over and reads the row it committed
                    "SELECT holder, expires, token FROM findly_leases WHERE service = %s AND environment = %s "
                    "FOR SHARE",
                    (service, fence.environment),
                ).fetchone()
                holding = None if held is None else Lease(str(held[0]), _naive(held[1]), int(held[2]))
                if not fence.admits(holding):
                    raise LeaseLostError(f"{fence.describe(holding)}: nothing written")
            row = connection.execute(
                "SELECT position, link FROM findly_events WHERE service = %s ORDER BY position DESC LIMIT 1",
                (service,),
            ).fetchone()
            current = 0 if row is None else int(row[0]) + 1  # no gaps: the index answers
            if current != expected:
                raise ConcurrencyError(
                    f"{service} was changed by someone else (now at event {current}, expected {expected})"
                )
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

    # ---- the outbox of notifications (application.notify) ---------------------------------------------------------

    def notify_cursor(self, service: str) -> tuple[int, str] | None:
        if self._version < _OUTBOX:
            return None
        with self._errors():
            row = self._connection.execute(
                "SELECT position, kept FROM findly_notify_cursors WHERE service = %s", (service,)
            ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def enqueue(self, dispatches: Sequence[Dispatch], cursor: tuple[str, int | None, int, str] | None = None) -> bool:
        self._check_writable()
        connection = self._connection
        with self._errors(), connection.transaction():
            if cursor is not None:
                service, expected, position, kept = cursor
                if expected is None:  # none yet: of two racing first sweeps, one inserts it
                    moved = connection.execute(
                        "INSERT INTO findly_notify_cursors (service, position, kept) VALUES (%s, %s, %s) "
                        "ON CONFLICT (service) DO NOTHING",
                        (service, position, kept),
                    ).rowcount
                else:
                    moved = connection.execute(
                        "UPDATE findly_notify_cursors SET position = %s, kept = %s "
                        "WHERE service = %s AND position = %s",
                        (position, kept, service, expected),
                    ).rowcount
                if moved != 1:
                    return False
            if dispatches:
                with connection.cursor() as rows:
                    rows.executemany(
                        "INSERT INTO findly_notify_outbox (id, receiver, service, incident, action, body, queued, "
                        "next_attempt) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id, receiver) DO NOTHING",
                        [_dispatch_row(dispatch) for dispatch in dispatches],
                    )
        return True

    def due(self, now: datetime, limit: int = 100, *, in_turn: bool = True) -> list[Dispatch]:
        if self._version < _OUTBOX:
            return []
        turn = (  # first in, first out per (receiver, incident): not due while an earlier one of it is pending
            "AND (o.incident = '' OR NOT EXISTS (SELECT 1 FROM findly_notify_outbox AS e WHERE e.receiver = o.receiver "
            "AND e.incident = o.incident AND e.state = 'pending' AND e.seq < o.seq)) "
            if in_turn
            else ""
        )
        with self._errors():
            rows = self._connection.execute(
                f"SELECT {_DISPATCH_COLUMNS} FROM findly_notify_outbox AS o WHERE o.state = 'pending' "
                f"AND o.next_attempt <= %s {turn}ORDER BY o.next_attempt, o.seq LIMIT %s",
                (now, limit),
            ).fetchall()
        return [_dispatch_of(row) for row in rows]

    def claim(self, dispatch: Dispatch, until: datetime) -> bool:
        self._check_writable()
        with self._errors():
            changed = self._connection.execute(
                "UPDATE findly_notify_outbox SET attempts = attempts + 1, next_attempt = %s "
                "WHERE id = %s AND receiver = %s AND state = 'pending' AND attempts = %s",
                (until, dispatch.notification.id, dispatch.receiver, dispatch.attempts),
            ).rowcount
        return changed == 1

    def settle(
        self, dispatch: Dispatch, *, state: DispatchState, detail: str, at: datetime, next_attempt: datetime | None
    ) -> None:
        self._check_writable()
        with self._errors():
            self._connection.execute(
                "UPDATE findly_notify_outbox SET state = %s, detail = %s, next_attempt = %s, settled = %s "
                "WHERE id = %s AND receiver = %s AND state = 'pending' AND attempts = %s",
                (
                    state.value,
                    detail,
                    next_attempt,
                    None if state is DispatchState.PENDING else at,
                    dispatch.notification.id,
                    dispatch.receiver,
                    dispatch.attempts,
                ),
            )

    def dispatches(self, service: str | None = None, limit: int | None = None) -> list[Dispatch]:
        if self._version < _OUTBOX:
            return []
        where = "" if service is None else "WHERE service = %(service)s"
        with self._errors():
            rows = self._connection.execute(
                f"SELECT {_DISPATCH_COLUMNS} FROM findly_notify_outbox {where} ORDER BY seq DESC LIMIT %(limit)s",
                {"service": service, "limit": limit},
            ).fetchall()
        return [_dispatch_of(row) for row in rows]

    def paged(self, incident: str) -> tuple[str, ...]:
        if self._version < _OUTBOX:
            return ()
        with self._errors():
            rows = self._connection.execute(
                "SELECT DISTINCT receiver FROM findly_notify_outbox WHERE incident = %s AND action = 'trigger' "
                "ORDER BY 1",
                (incident,),
            ).fetchall()
        return tuple(str(receiver) for (receiver,) in rows)

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
        # domain.lease.lease_after in one statement, on the server's clock: taken when free or run out (the token one
        # more), renewed when already the asker's (the same token), taken over from *replacing* — else left alone
        with self._errors():
            row = self._connection.execute(
                "INSERT INTO findly_leases AS held (service, environment, holder, expires, token) "
                "VALUES (%(service)s, %(environment)s, %(holder)s, now() + %(ttl)s, 1) "
                "ON CONFLICT (service, environment) DO UPDATE "
                "SET holder = excluded.holder, expires = excluded.expires, "
                "token = CASE WHEN held.holder = excluded.holder THEN held.token ELSE held.token + 1 END "
                "WHERE held.holder = excluded.holder OR held.expires <= now() OR held.holder = %(replacing)s "
                "RETURNING holder, expires, token",
                {"service": service, "environment": environment, "holder": holder, "ttl": ttl, "replacing": replacing},
            ).fetchone()
        if row is not None:
            return Lease(str(row[0]), _naive(row[1]), int(row[2]))
        current = self.lease(service, environment)
        assert current is not None  # the conflicting row is there: another holds it
        return current

    def release(self, service: str, environment: str, holder: str) -> None:
        """Run *holder*'s lease out at once (on the server's clock), its token kept: the next holder's is higher."""
        self._check_writable()
        with self._errors():
            self._connection.execute(
                "UPDATE findly_leases SET expires = now() WHERE service = %s AND environment = %s AND holder = %s",
                (service, environment, holder),
            )

    def lease(self, service: str, environment: str) -> Lease | None:
        if self._version < 2:
            return None
        token = "token" if self._version >= _FENCED else "0"
        with self._errors():
            row = self._connection.execute(
                f"SELECT holder, expires, {token} FROM findly_leases WHERE service = %s AND environment = %s",
                (service, environment),
            ).fetchone()
        return None if row is None else Lease(str(row[0]), _naive(row[1]), int(row[2]))

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
            with self._watch.watching():
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
            with self._errors():  # what it means, the cut connection of an unanswered request included
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

    def records(self, service: str, version: str, before: int) -> list[Event]:
        """*version*'s records in *service*'s stream before *before*: the events but analyses that name it (or none),
        by the ``findly_events_record_keys`` index (a database of an older schema, opened read only, by a walk of those
        events), each with its link and the one before it, checked (``codec.recorded``)."""
        if not self._ready():
            return []
        indexed = self._version >= _INDEXED
        linked = self._version >= _LINKED
        keyed = "AND findly_record_key(e.body) IN (%s, '') " if indexed else ""
        with self._errors():
            rows = self._connection.execute(
                f"SELECT e.position, e.body, {'e.link' if linked else 'NULL'}, "
                + (
                    "(SELECT p.link FROM findly_events p WHERE p.service = e.service AND p.position = e.position - 1) "
                    if linked
                    else "NULL "
                )
                + f"FROM findly_events e WHERE e.service = %s AND left(e.body, {len(ANALYSIS_PREFIX)}) <> "
                f"'{ANALYSIS_PREFIX}' {keyed}AND e.position < %s ORDER BY e.position",
                (service, version, before) if indexed else (service, before),
            ).fetchall()
        return recorded(rows, service, version, str(self.location))

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

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """One REPEATABLE READ, READ ONLY transaction: every read of :meth:`services`, :meth:`head`, :meth:`chain`,
        :meth:`time_kept` and :meth:`latest_time` inside it sees one snapshot of the database, taken at its first
        statement, whatever other sessions commit meanwhile (postgresql.org/docs/current/transaction-iso.html
        #XACT-REPEATABLE-READ) — ``state backup``'s consistent copy. It takes no lock a writer waits for."""
        if not self._ready():
            yield
            return
        connection = self._connection
        with self._errors():
            connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            connection.execute("SELECT 1").fetchone()  # the snapshot is taken by the first statement: now
        try:
            yield
        except BaseException:
            with contextlib.suppress(self._psycopg.Error):  # the error that ended the read is the one raised
                connection.execute("ROLLBACK")
            raise
        with self._errors():
            connection.execute("ROLLBACK")  # read only: nothing to commit

    def head(self, service: str) -> tuple[int, str | None] | None:
        """The stream's last position and that event's link (``None``: no event), one step down the key."""
        if not self._ready():
            return None
        link = "link" if self._version >= _LINKED else "NULL"
        with self._errors():
            row = self._connection.execute(
                f"SELECT position, {link} FROM findly_events WHERE service = %s ORDER BY position DESC LIMIT 1",
                (service,),
            ).fetchone()
        return None if row is None else (int(row[0]), _text(row[1]))

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
            parked = {  # scaled to zero, kept with their version until auto_cleanup deletes them
                **{k: v for k, v in ((row[0].get("parked") if row else None) or {}).items() if k not in wanted.running},
                **{k: v for k, v in held.running.items() if k not in wanted.running},
            }
            body: dict[str, Any] = {"running": wanted.running, "weights": wanted.weights, "preview": wanted.preview}
            if parked:
                body["parked"] = parked
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

    def leftovers(self, view: EnvironmentView, auto_cleanup: bool) -> tuple[str, ...]:
        """``TrackCleaner``, as the simulated cluster in memory: its Deployments scaled to zero that
        ``domain.cleanup`` removes (every one ours and the environment's)."""
        if not cleanup_due(view, auto_cleanup) or not self._store._ready():
            return ()
        with self._store._errors():
            row = self._store._connection.execute(
                "SELECT holding FROM findly_routes WHERE service = %s AND environment = %s",
                (view.service, view.environment),
            ).fetchone()
        held = (row[0].get("parked") if row else None) or {}
        labels = {MANAGED_BY_LABEL: MANAGED_BY, ENVIRONMENT_LABEL: view.environment}
        return leftovers(view, auto_cleanup, (Leftover(name, 0, labels) for name in held))

    def clean_up(self, view: EnvironmentView, auto_cleanup: bool, names: Sequence[str]) -> tuple[str, ...]:
        """``TrackCleaner``: each of *names* still a leftover, no longer kept (the row locked meanwhile)."""
        from psycopg.types.json import Jsonb

        if not cleanup_due(view, auto_cleanup) or not self._store._ready():
            return ()
        self._store._check_writable()
        connection = self._store._connection
        with self._store._errors(), connection.transaction():
            row = connection.execute(
                "SELECT holding FROM findly_routes WHERE service = %s AND environment = %s FOR UPDATE",
                (view.service, view.environment),
            ).fetchone()
            if row is None:
                return ()
            body = dict(row[0])
            labels = {MANAGED_BY_LABEL: MANAGED_BY, ENVIRONMENT_LABEL: view.environment}
            parked = dict(body.get("parked") or {})
            still = set(leftovers(view, auto_cleanup, (Leftover(name, 0, labels) for name in parked)))
            removed = tuple(name for name in names if name in still)
            if removed:
                body["parked"] = {k: v for k, v in parked.items() if k not in removed}
                connection.execute(
                    "UPDATE findly_routes SET holding = %s WHERE service = %s AND environment = %s",
                    (Jsonb(body), view.service, view.environment),
                )
        return removed

    def history(self, service: str, environment: str) -> list[tuple[str, dict[str, int]]]:
        with self._store._errors():
            rows = self._store._connection.execute(
                "SELECT at, weights FROM findly_route_history WHERE service = %s AND environment = %s ORDER BY id",
                (service, environment),
            ).fetchall()
        return [(at.isoformat(), dict(weights)) for at, weights in rows]


# ---- bounds: the connection's parameters, and the watchdog of a server that stops answering -----------------------

_UNSUPPORTED = {
    # libpq: "replication … the connection … should use the replication protocol instead of the normal protocol …
    # In physical or logical replication mode, only the simple query protocol can be used" (libpq-connect.html) —
    # every statement of ours is sent with the extended protocol (parameters bound).
    "replication": "a replication connection runs only the simple query protocol, and every statement of ours binds "
    "parameters: remove it from the URL",
}


def _milliseconds(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _connection_parameters(
    url: str, timeout: float, environ: Mapping[str, str], location: str, clean: Callable[[BaseException], str]
) -> dict[str, str]:
    """The libpq parameters to connect with: the URL's as written, each of ours added only where neither the URL nor
    libpq's own ``PG*`` variable sets it (libpq-connect.html, "Parameter Key Words" and "Environment Variables"),
    and our session settings put before the URL's ``options`` (a ``-c`` given later wins, as on the server's
    command line: postgres.c, process_postgres_switches). Raises :class:`BadInputError` naming a parameter libpq
    does not know (its own words, from PQconninfoParse) or one a findly state cannot use."""
    from psycopg import ProgrammingError, pq
    from psycopg.conninfo import conninfo_to_dict

    try:
        given = {key: str(value) for key, value in conninfo_to_dict(url).items() if value is not None}
    except ProgrammingError as exc:
        raise BadInputError(f"--state {location}: {clean(exc)}") from None
    known = {option.keyword.decode(): option for option in pq.Conninfo.get_defaults()}

    def set_by_user(name: str) -> str | None:
        if name in given:
            return given[name]
        variable = known[name].envvar if name in known else None
        return (environ.get(variable.decode()) or None) if variable else None

    for name, why in _UNSUPPORTED.items():
        if set_by_user(name) is not None:
            raise BadInputError(f"--state {location}: {name}={set_by_user(name)}: {why}")
    ours = {
        "connect_timeout": str(max(2, math.ceil(timeout))),  # libpq's minimum is 2 s
        "keepalives": "1",  # a network that drops everything, noticed by TCP: idle T, then 3 probes T/3 apart
        "keepalives_idle": str(max(1, math.ceil(timeout))),
        "keepalives_interval": str(max(1, math.ceil(timeout / 3))),
        "keepalives_count": "3",
        "tcp_user_timeout": str(max(1000, _milliseconds(timeout))),  # data sent and never acknowledged
    }
    parameters = dict(given)
    for name, value in ours.items():
        if name in known and set_by_user(name) is None:  # an older libpq without tcp_user_timeout: left out
            parameters[name] = value
    if "fallback_application_name" in known and "fallback_application_name" not in given:
        parameters["fallback_application_name"] = "findly-infra"  # used only where neither URL nor PGAPPNAME names one
    settings = (
        f"-c lock_timeout={_milliseconds(timeout)} -c statement_timeout={_milliseconds(2 * timeout)} "
        f"-c idle_in_transaction_session_timeout={_milliseconds(2 * timeout)} "
        # no JIT compilation: a command's statements are index lookups of a few rows, but on a table of a million
        # events the planner's estimate for the records' read back passes jit_above_cost (100,000), and compiling it
        # took 15-20 ms of a 1 ms query (EXPLAIN ANALYZE: "JIT: ... Emission 13.8 ms"); runtime-config-query.html
        "-c jit=off"
    )
    theirs = set_by_user("options")
    parameters["options"] = f"{settings} {theirs}" if theirs else settings
    return parameters


_BAD_PARAMETER = re.compile(
    # libpq's words for a parameter it refuses (postgres/postgres src/interfaces/libpq/fe-connect.c):
    # connectOptions2: 'invalid %s value: "%s"' (sslmode, gssencmode, target_session_attrs, channel_binding, …)
    # and 'invalid "%s" value: "%s"' (ssl_min_protocol_version…); parse_int_param: 'invalid integer value "%s" for
    # connection option "%s"'; conninfo_uri_parse_params: 'invalid URI query parameter: "%s"'; and psycopg's
    # (psycopg/_conninfo_utils.py, conninfo.py): 'bad value for connect_timeout: …', 'could not match … hosts'
    r'(invalid "?\w+"? value: "[^"]*"|invalid integer value "[^"]*" for connection option "\w+"|'
    r'invalid URI query parameter: "[^"]*"|invalid connection option "[^"]*"|bad value for \w+: .*|'
    r"could not match \d+ (?:host names|port numbers) .*)"
)


def _bad_parameter(exc: BaseException) -> str | None:
    """What libpq (or psycopg) said of a connection parameter it refuses; ``None`` for any other failure."""
    found = _BAD_PARAMETER.search(" ".join(str(exc).split()))
    return found.group(1) if found is not None else None


class _Watchdog:
    """Cuts a connection whose request goes unanswered for *bound* seconds.

    psycopg waits for the server in a loop over ``poll`` with no deadline of its own (psycopg/waiting.py:
    ``wait_c``, given only an interval to look at signals, by ``Connection.wait``); a frozen server neither answers
    nor enforces ``statement_timeout``, and the kernel acknowledges what is sent to it, so no TCP timeout fires
    either. A cancel request would go to that same server (``PQcancel`` of libpq < 17 waits for it without a
    bound). So the socket is shut down: ``poll`` returns at once, libpq reads the end of the stream and psycopg
    raises ``OperationalError`` ("server closed the connection unexpectedly"), which ``fired`` explains. The
    server, once it runs again, reads that end too and rolls back the transaction it had not committed.

    One thread a store, started on first use, waiting on a condition: arming and disarming cost a lock, neither a
    thread nor a wake-up (every deadline is a full bound away when set, so the thread, idle, looks again a bound
    later). :meth:`stop` is called before the connection is closed, so a socket number that another file may take
    afterwards is never shut down.
    """

    def __init__(self, bound: float, fileno: int) -> None:
        self.bound = bound
        self.fired = False
        self._fileno = fileno
        self._condition = threading.Condition()
        self._deadline: float | None = None
        self._depth = 0
        self._stopped = False
        self._thread: threading.Thread | None = None

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """The block's requests watched (nested blocks: the outer one's)."""
        with self._condition:
            self._depth += 1
            if self._depth == 1:
                self._deadline = time.monotonic() + self.bound
                if self._thread is None and not self._stopped:
                    self._thread = threading.Thread(target=self._run, name="findly-postgresql-watchdog", daemon=True)
                    self._thread.start()
        try:
            yield
        finally:
            with self._condition:
                self._depth -= 1
                if self._depth == 0:
                    self._deadline = None

    def touch(self) -> None:
        """A new request of a long block (a migration's): its own bound from now."""
        with self._condition:
            if self._deadline is not None:
                self._deadline = time.monotonic() + self.bound

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._deadline = None
            self._condition.notify()

    def _run(self) -> None:
        with self._condition:
            while not self._stopped:
                if self._deadline is None:  # a deadline set meanwhile is a bound away: no need to be woken for it
                    self._condition.wait(self.bound)
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._condition.wait(left)
                    continue
                self.fired, self._deadline = True, None
                _shut_down(self._fileno)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


_DISPATCH_COLUMNS = "receiver, body, queued, attempts, next_attempt, state, detail, settled"


def _dispatch_row(dispatch: Dispatch) -> tuple[object, ...]:
    note = dispatch.notification
    return (
        note.id,
        dispatch.receiver,
        note.service,
        note.incident_key,
        note.action.value if note.action else None,
        json.dumps(notification_to_dict(note)),
        dispatch.queued,
        dispatch.next_attempt or dispatch.queued,
    )


def _dispatch_of(row: Sequence[Any]) -> Dispatch:
    receiver, body, queued, attempts, next_attempt, state, detail, settled = row
    return Dispatch(
        notification_from_dict(json.loads(body)),
        str(receiver),
        queued,
        int(attempts),
        next_attempt,
        DispatchState(state),
        str(detail),
        settled,
    )


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


def _shut_down(fileno: int) -> None:
    """Shut the connection's socket down for both directions — not closed: the descriptor stays psycopg's, and the
    blocked ``poll`` on it returns (a duplicate of it is what is shut down and closed: shutdown(2) acts on the
    socket every descriptor of it shares)."""
    with contextlib.suppress(OSError):
        duplicate = socket.socket(fileno=os.dup(fileno))
        try:
            duplicate.shutdown(socket.SHUT_RDWR)
        finally:
            duplicate.close()
