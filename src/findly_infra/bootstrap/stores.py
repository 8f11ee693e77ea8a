"""The state a URL names — a SQLite file (the default), ``postgresql://…`` or ``memory://`` — opened, migrated,
checked and verified; and the demo's own fresh state."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from findly_infra.application.integrity import Anchor, SnapshotVerdict, StreamVerdict
from findly_infra.application.ports import BadInputError, EventStore, StateError, Workloads
from findly_infra.application.redaction import redact_url
from findly_infra.bootstrap.extras import require_extra
from findly_infra.bootstrap.settings import Settings, refuse_throwaway_state
from findly_infra.domain.events import Event

__all__ = [
    "StateCheck",
    "check_state",
    "fresh_demo_state",
    "is_postgres",
    "migrate_state",
    "open_store",
    "postgres_store",
    "sqlite_path",
    "state_store",
    "verify_state",
]


def sqlite_path(url: str) -> Path | None:
    """The SQLite file a state URL names (a path, or ``sqlite://PATH``); ``None`` for ``memory://``. Any other
    scheme raises :class:`BadInputError` — before anything is created."""
    if url == "memory://":
        return None
    if not url.strip():
        raise BadInputError("--state is empty: give a SQLite file, sqlite://PATH or memory://")
    if is_postgres(url):
        raise BadInputError(f"this needs a SQLite state (a file or sqlite://PATH), got {redact_url(url)!r}")
    if "://" in url and not url.startswith("sqlite://"):
        raise BadInputError(
            f"--state is a SQLite file, sqlite://PATH, postgresql://… or memory://, got {redact_url(url)!r}"
        )
    return Path(url.removeprefix("sqlite://"))


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def postgres_store(url: str, *, create: bool, timeout: float) -> Any:
    """The PostgreSQL store *url* names (``PostgresEventStore``), its schema migrated when *create*."""
    require_extra("postgresql", "a PostgreSQL state")
    from findly_infra.adapters.postgresql import PostgresEventStore

    return PostgresEventStore(url, create=create, timeout=timeout)


def open_store(
    url: str, stack: contextlib.ExitStack, *, create: bool = True, timeout: float = 30.0
) -> tuple[EventStore, Workloads]:
    from findly_infra.adapters.memory import MemoryEventStore, SimulatedCluster

    _say_on_stderr()

    if is_postgres(url):
        from findly_infra.adapters.postgresql import PostgresSimulatedCluster

        postgres = postgres_store(url, create=create, timeout=timeout)
        stack.callback(postgres.close)
        return postgres, PostgresSimulatedCluster(postgres)
    path = sqlite_path(url)
    if path is None:
        return MemoryEventStore(), SimulatedCluster()
    from findly_infra.adapters.sqlite import SqliteEventStore, SqliteSimulatedCluster

    store = SqliteEventStore(path, create=create, timeout=timeout)
    stack.callback(store.close)
    return store, SqliteSimulatedCluster(store)


class _OnStderr(logging.Handler):
    """The application's warnings (a refused snapshot: ``application.snapshots``, through the standard library's
    logging, as a library's should) sent to the command's own logs on stderr — a line of text on a terminal, JSON
    otherwise — never to stdout."""

    def emit(self, record: logging.LogRecord) -> None:
        from findly_infra.logs import logger

        fields = {key: getattr(record, key) for key in ("service", "version", "problem") if hasattr(record, key)}
        logger().warning(getattr(record, "findly_event", record.name), message=record.getMessage(), **fields)


def _say_on_stderr() -> None:
    """Send the application's warnings to stderr, once a process."""
    for name in ("findly_infra.snapshots", "findly_infra.gitops"):  # gitops: what the controller cannot vouch for
        log = logging.getLogger(name)
        if not any(isinstance(handler, _OnStderr) for handler in log.handlers):
            log.addHandler(_OnStderr(logging.WARNING))


@attrs.frozen
class StateCheck:
    """What ``state check`` found: the streams and their events, and every problem (none: the state is sound)."""

    location: str
    streams: dict[str, int]
    problems: tuple[str, ...]

    @property
    def sound(self) -> bool:
        return not self.problems


def check_state(settings: Settings) -> StateCheck:
    """The full check of the state the settings name: SQLite's integrity check, each stream's positions and each
    record, then each snapshot folded again from its stream and compared (body and link: ``application.snapshots``).
    Raises :class:`BadInputError` for a state that is not one, or does not exist."""
    if is_postgres(settings.state):
        postgres = postgres_store(settings.state, create=False, timeout=settings.state_timeout)
        try:
            if postgres.schema_version() == 0:
                raise BadInputError(f"--state {postgres.location} has no findly state yet: there is nothing to check")
            counts: dict[str, int] = postgres.streams()
            found: list[str] = []
            for service in counts:  # every record read back through the codec
                try:
                    postgres.load(service)
                except BadInputError as exc:
                    found.append(str(exc))
            found += _snapshot_problems(postgres, postgres.location)
        finally:
            postgres.close()
        return StateCheck(postgres.location, counts if not found else {}, tuple(found))
    path = sqlite_path(settings.state)
    if path is None:
        raise BadInputError(
            "state check reads a durable state (a file, sqlite://PATH or postgresql://…), got 'memory://'"
        )
    from findly_infra.adapters.sqlite import SqliteEventStore

    if not path.exists():
        raise BadInputError(f"--state {path} does not exist: there is nothing to check")
    store = SqliteEventStore(path, create=False)
    try:
        problems = tuple(store.check())
        if not problems:
            problems = tuple(_snapshot_problems(store, str(path)))
        streams = {service: store.load(service)[1] for service in store.services()} if not problems else {}
    finally:
        store.close()
    return StateCheck(str(path), streams, problems)


def _snapshot_problems(store: Any, where: str) -> list[str]:
    """Each snapshot that is not the fold of its stream (one written before snapshots were sealed is not a problem:
    no command uses it)."""
    verdicts = (_verify_snapshot(store, service, where) for service in store.snapshotted())
    return [str(verdict) for verdict in verdicts if verdict is not None and not verdict.ok]


def _verify_snapshot(store: Any, service: str, where: str) -> SnapshotVerdict | None:
    """*service*'s snapshot against its stream folded again, read a page at a time (``None``: no snapshot)."""
    from findly_infra.application.codec import decode_stream
    from findly_infra.application.snapshots import verify_snapshot

    kept = store.load_snapshot(service)
    if kept is None:
        return None

    def events() -> Iterator[Event]:
        for position, text, _ in store.chain(service):
            yield from decode_stream([(position, text)], since=position, service=service, location=where)

    return verify_snapshot(kept, events())


def verify_state(settings: Settings, anchors: Sequence[Anchor] = ()) -> tuple[str, list[StreamVerdict]]:
    """Every stream's chain of links in the state the settings name, checked from its first event (and against
    *anchors*, heads kept elsewhere), and every snapshot folded again from its stream and compared: (where, each
    stream's verdict, its snapshot's in it). Read only.

    A state with nothing to vouch for is refused (:class:`StateError`, exit 2) as a missing file is, so that a
    scheduled verify never passes on a wiped state: one without the schema (never migrated, or its tables dropped),
    and one that holds no event — damaged when a command wrote to it before (it keeps time, or snapshots), else not
    written to yet. The heads in *anchors* that are gone are named in the message."""
    from findly_infra.application.integrity import verify_stream

    if is_postgres(settings.state):
        store: Any = postgres_store(settings.state, create=False, timeout=settings.state_timeout)
        where = store.location
    else:
        path = sqlite_path(settings.state)
        if path is None:
            raise BadInputError("state verify reads a durable state (a file, sqlite://PATH or postgresql://…)")
        if not path.exists():
            raise BadInputError(f"--state {path} does not exist: there is nothing to verify")
        from findly_infra.adapters.sqlite import SqliteEventStore

        store, where = SqliteEventStore(path, create=False), str(path)
    try:
        snapshotted = set(store.snapshotted())
        stored = set(store.services())
        if not stored:
            raise StateError(_nothing_to_verify(store, where, snapshotted, anchors))
        services = sorted(stored | {anchor.service for anchor in anchors} | snapshotted)
        verdicts = []
        for service in services:
            verdict = verify_stream(service, store.chain(service), anchors)
            if service in snapshotted:
                verdict = attrs.evolve(verdict, snapshot=_verify_snapshot(store, service, where))
            verdicts.append(verdict)
        return where, verdicts
    finally:
        store.close()


def _nothing_to_verify(store: Any, where: str, snapshotted: set[str], anchors: Sequence[Anchor]) -> str:
    """Why a state without a single event cannot be vouched for — and each kept head it has lost."""
    from findly_infra.application.integrity import verify_stream

    lost = [verify_stream(anchor.service, (), [anchor]).broken for anchor in anchors]
    heads = "; ".join(str(broken) for broken in lost if broken is not None)
    gone = f"; the heads kept elsewhere are gone: {heads}" if heads else ""
    if getattr(store, "schema_version", lambda: 1)() == 0:
        return (
            f"--state {where} has no findly state: nothing to verify (never migrated — `findly-infra state migrate` "
            f"— or its tables were dropped){gone}"
        )
    time = store.time_kept()
    if time is not None or snapshotted:
        traces = ", ".join(
            [
                *([f"it keeps {'real' if time == 'wall' else 'virtual'} time"] if time else []),
                *([f"snapshots of {', '.join(sorted(snapshotted))}"] if snapshotted else []),
            ]
        )
        return (
            f"--state {where} is damaged: it holds no events, yet commands wrote to it ({traces}): its events were "
            f"deleted — restore them from a backup (`findly-infra state import`){gone}"
        )
    return (
        f"--state {where} holds no events yet (no command has written to it since it was made): nothing to verify — "
        f"`state verify` vouches for a history, and there is none{gone}"
    )


@contextlib.contextmanager
def state_store(settings: Settings, *, read_only: bool = False) -> Iterator[EventStore]:
    """The store the settings name, alone: no runtime, no decision on how it keeps time (``state export`` and
    ``state import``, which carry the export's)."""
    if not read_only:  # a job's throwaway state: refused before it is created
        refuse_throwaway_state(settings)
    with contextlib.ExitStack() as stack:
        store, _ = open_store(settings.state, stack, create=not read_only, timeout=settings.state_timeout)
        yield store


def migrate_state(settings: Settings) -> tuple[str, int, int]:
    """Bring the state's schema to this version's: (where, the version found, the version now). SQLite states are
    brought up to date when opened; a PostgreSQL one by this (or by its first writing command)."""
    refuse_throwaway_state(settings)  # a job's throwaway state: nothing to migrate, and nothing to create
    if is_postgres(settings.state):
        store = postgres_store(settings.state, create=False, timeout=settings.state_timeout)
        try:
            found, now = store.migrate()
        finally:
            store.close()
        return store.location, found, now
    path = sqlite_path(settings.state)
    if path is None:
        raise BadInputError("state migrate needs a durable state (a file, sqlite://PATH or postgresql://…)")
    from findly_infra.adapters.sqlite import SCHEMA_VERSION, SqliteEventStore

    store_ = SqliteEventStore(path)
    store_.close()
    return str(path), SCHEMA_VERSION, SCHEMA_VERSION


def fresh_demo_state(url: str) -> None:
    """Make *url* a new, empty store of the demo's own: a file the demo made before is replaced; any other
    existing file is refused (:class:`BadInputError`) — the demo never writes over a team's state."""
    path = sqlite_path(url)  # an unknown scheme is refused before any file is made
    if path is None:
        return
    from findly_infra.adapters.sqlite import SqliteEventStore

    if path.exists():
        store = SqliteEventStore(path, create=False)
        try:
            ours = store.is_demo()
        finally:
            store.close()
        if not ours:
            raise BadInputError(
                f"--state {path} exists and is not a demo's: the demo writes only to a new state (or one it made "
                "before); name another path"
            )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = SqliteEventStore(path)
    try:
        store.mark_demo()
    finally:
        store.close()
