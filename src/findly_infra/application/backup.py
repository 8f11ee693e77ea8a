"""Backups of the state, and the state restored from one: what survives the loss of a region.

``state backup --to DIR`` writes ONE new file, ``DIR/findly-state-<UTC yyyymmddThhmmssZ>.jsonl.gz`` (``-2``… for a
second one of the same second): the export's format (``application.transfer``: a header line, then one event a line)
read in one transaction (SQLite: one read transaction of the WAL; PostgreSQL: REPEATABLE READ, READ ONLY — one
snapshot of the database, whatever other sessions append meanwhile), each event written as the text the state stores
with its link (``application.integrity``), gzipped. The header adds ``backup``: when it was taken (never ahead of the
real clock), the newest event's time, each stream's head — the link of its last event — and first link (which state
it is of). It is written beside its place (a hidden ``.part`` file); the read transaction ends; the file is flushed
to the disk (``fsync``), read back as a restore reads it, then linked into place under its final name (never over
another file; renamed, the name checked free, where the file system has no hard links), and the folder synced: a
killed backup leaves no file under a backup's name, only its draft. Each stream's chain is checked as it is read: a
state whose links do not hold is not backed up (``state verify`` names the break).

``state restore FILE`` reads the backup whole and checks it as ``state import`` checks an export (every line), then
recomputes every stream's links over each event's text as the backup carries it: each must be the link its line
records, and each stream's last the head the header records — a backup changed or cut short after it was taken is
refused naming the stream and the event, and nothing is written. It writes only into an empty state (or one holding
exactly a part of this backup's streams, whole: an interrupted restore, run again), each event as that very text
(:class:`VerbatimStore`), and checks the restored heads.

:func:`newest_backup` (a folder's newest sound backup: its header read, its lines counted) is what a drill's "what
would have been lost" (RPO) reads, as ``state backup --check`` does; :func:`rpo_refusal` is the rule ``rpo-target``.
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import json
import os
import re
import stat
import uuid
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Protocol, cast, runtime_checkable

import attrs

from findly_infra.application.codec import event_from_dict, event_to_dict
from findly_infra.application.integrity import GENESIS, ChainedStore, link
from findly_infra.application.ports import (
    BadInputError,
    DependencyUnavailableError,
    EventStore,
    StateError,
    TimeKeepingStore,
)
from findly_infra.application.timekeeping import SKEW
from findly_infra.application.transfer import (
    FORMAT,
    MAX_LINE_BYTES,
    Export,
    ImportReport,
    bounded_lines,
    read_export,
    write_export,
)
from findly_infra.domain.events import Event
from findly_infra.domain.refusal import Refusal

__all__ = [
    "BACKUP_NAME",
    "DRAFT_AGE",
    "BackupInfo",
    "BackupSource",
    "CheckedBackup",
    "NotEmptyError",
    "VerbatimStore",
    "backup_name",
    "backups",
    "newest_backup",
    "of_state",
    "prune_backups",
    "read_backup",
    "restore_backup",
    "rpo_refusal",
    "write_backup",
]

BACKUP_NAME = re.compile(r"findly-state-(\d{8}T\d{6}Z)(?:-\d{1,3})?\.jsonl(\.gz)?")
"""The name of a backup this tool wrote (what ``--keep`` and :func:`newest_backup` consider; nothing else in the
folder is ever read or deleted)."""
_STAMP = "%Y%m%dT%H%M%SZ"
DRAFT_AGE = timedelta(hours=1)
"""A draft (``.findly-state-….part``) older than this is a dead run's, which ``--keep`` deletes; a younger one may be
another run's backup still being written."""


@runtime_checkable
class BackupSource(ChainedStore, Protocol):
    """A store that can be read whole in one consistent snapshot (SQLite, PostgreSQL; memory trivially)."""

    def reading(self) -> AbstractContextManager[None]:
        """Within: every read (``services``, ``head``, ``chain``, ``time_kept``, ``latest_time``) sees one state."""
        ...

    def head(self, service: str) -> tuple[int, str | None] | None:
        """The stream's last position and its link (``None``: the stream has no event)."""
        ...


@attrs.frozen
class BackupInfo:
    """A backup as its header describes it (read without reading its events)."""

    path: Path
    taken_at: datetime
    """When its read transaction began (naive UTC)."""
    newest_event_at: datetime | None
    """The time of the newest event it holds (naive UTC; ``None``: it holds none)."""
    streams: dict[str, int]
    """Each stream and its count of events."""
    events: int
    heads: dict[str, str] = attrs.field(factory=dict)
    """Each stream's head: the link of its last event."""
    size: int = 0
    """Its size in bytes, as stored."""
    firsts: dict[str, str] = attrs.field(factory=dict)
    """Each stream's first link (of its event 0): which state it is of (:func:`of_state`); empty in a backup of an
    older findly-infra, which records none."""


@attrs.frozen
class CheckedBackup:
    """A backup read whole and checked (:func:`read_backup`): every line, every link, every head."""

    info: BackupInfo
    export: Export
    bodies: dict[str, list[str]] = attrs.field(factory=dict)
    """Each stream's events as the text the backup carries (its source's stored text): what a restore writes."""


class NotEmptyError(Exception):
    """Raised when a restore's target state already holds events that are not part of the backup: nothing is
    written (the rule ``empty-state``: a restore never mixes two histories)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"refused by {refusal.rule}: {refusal.message}")
        self.refusal = refusal


def backup_name(taken_at: datetime, nth: int = 1) -> str:
    """The file name of a backup taken at *taken_at* (naive UTC, or aware); the *nth* of that second (2 on: a
    suffix ``-2``…, so that two runs in one second each keep their backup)."""
    return f"findly-state-{_utc(taken_at):{_STAMP}}{'' if nth == 1 else f'-{nth}'}.jsonl.gz"


_SAME_SECOND = 100
"""How many backups one second may name (``-2`` … ``-99``) before a run gives up."""


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


# ---- taking one ------------------------------------------------------------------------------------------------------


def write_backup(store: EventStore, directory: Path, taken_at: datetime, *, wall: datetime | None = None) -> BackupInfo:
    """Back *store* up into a new file in *directory* (made if missing), named for *taken_at* (see the module's
    documentation; the second of a second named ``…-2``). Raises :class:`BadInputError` when the folder cannot be
    written, or when
    *taken_at* is ahead of the real clock *wall* by more than ``timekeeping.SKEW`` (virtual time never reaches a
    durable store as a future timestamp: a backup from the future would pass every RPO check until that date), and
    :class:`StateError` when a stream's chain does not hold: no file is left under a backup's name."""
    if not isinstance(store, BackupSource):
        raise BadInputError("this state cannot be read in one transaction: it cannot be backed up")
    taken_at = _utc(taken_at).replace(microsecond=0)
    if wall is not None and taken_at > _utc(wall) + SKEW:
        raise BadInputError(
            f"--now {taken_at.isoformat()}Z is in the future of the real clock ({_utc(wall).isoformat()}Z, give or "
            f"take {SKEW}): a backup is durable, and one stamped in the future would count as fresh for the RPO "
            "until that date; no backup was written"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"--to {directory}: {exc.strerror or exc}") from None
    final = _free(directory, taken_at, 1)
    draft = directory / f".{final.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.part"
    try:
        # readable by its owner alone: it holds the whole record, verified identities' tokens with it
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as raw:
            # the read transaction holds only the reading and the draft's writes (to the page cache): it ends
            # before the file is synced — on a mounted bucket, its upload — which may outlast the server's
            # idle-in-transaction timeout (PostgreSQL ends such a session, SQLSTATE 25P03)
            with store.reading():
                header, streams = _header(store, taken_at)
                with gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=6, mtime=0) as packed:
                    packed.write((json.dumps(header, sort_keys=True) + "\n").encode())
                    for service, count in streams.items():
                        _write_stream(store, service, count, header["backup"]["heads"][service], packed)
            raw.flush()
            os.fsync(raw.fileno())
        _restorable(draft, final)
        final = _place(draft, final, directory, taken_at)
        _sync_folder(directory)
    except OSError as exc:
        raise BadInputError(f"--to {directory}: {exc.strerror or exc}: no backup was written") from None
    finally:
        with contextlib.suppress(OSError):
            draft.unlink()
    return attrs.evolve(_info(header, final, str(final)), size=final.stat().st_size)


def _restorable(draft: Path, final: Path) -> None:
    """The *draft* read back as ``state restore`` reads it — every line, every link over the text as written, every
    head — before it takes *final*'s name: a backup that could not be restored is never written (:class:`StateError`
    naming why)."""
    try:
        read_backup(draft, gzipped=True, where=str(final))
    except BadInputError as exc:
        raise StateError(
            f"the backup, read back, would not restore ({exc}); no backup was written — please report it"
        ) from None


_NO_LINKS = frozenset(
    code for code in (errno.ENOSYS, errno.EPERM, errno.EOPNOTSUPP, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)) if code
)
"""What ``link()`` fails with where the file system has no hard links: Cloud Storage FUSE ("Hard links: not
supported", cloud.google.com/storage/docs/gcs-fuse, "Limitations and differences from POSIX file systems";
GoogleCloudPlatform/gcsfuse docs/semantics.md), BlobFuse, many SMB mounts."""


def _free(directory: Path, taken_at: datetime, nth: int) -> Path:
    """The first name from the *nth* of *taken_at*'s second on that no file holds."""
    for each in range(nth, _SAME_SECOND):
        final = directory / backup_name(taken_at, each)
        if not final.exists():
            return final
    raise DependencyUnavailableError(
        f"{directory} holds {_SAME_SECOND - 1} backups of the second {_utc(taken_at).isoformat()}Z: nothing was "
        "written — run it again"
    )


def _place(draft: Path, final: Path, directory: Path, taken_at: datetime) -> Path:
    """The synced *draft* under *final*'s name — or, when another run of the same second took it meanwhile, the
    next one free (``-2``…) — never over another file; returns its path. Where the file system has no hard links
    (a mounted bucket), a rename instead, once the name is checked free: the file appears whole or not at all (on
    Cloud Storage FUSE a flat bucket's rename is a server-side copy of the finished object, then the draft's
    deletion). The check and the rename are two steps: two runs of the same second racing between them could leave
    one file under the name where two were written (each a whole backup; the later one kept)."""
    nth = 1
    while True:
        try:
            os.link(draft, final)
            return final
        except FileExistsError:
            pass
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
            if not final.exists():
                os.rename(draft, final)
                return final
        nth += 1
        final = _free(directory, taken_at, nth)


def _header(store: BackupSource, taken_at: datetime) -> tuple[dict[str, Any], dict[str, int]]:
    """The header of a backup of *store* (inside its read transaction), and each stream's count."""
    streams: dict[str, int] = {}
    heads: dict[str, str] = {}
    firsts: dict[str, str] = {}
    for service in store.services():
        head = store.head(service)
        if head is None:
            continue
        position, value = head
        if value is None:
            raise StateError(
                f"{service}'s events carry no links yet (a state of an older findly-infra, read only): run "
                "`findly-infra state migrate` first, which links them; nothing was backed up"
            )
        streams[service], heads[service] = position + 1, value
        first = next(iter(store.chain(service)), None)
        if first is not None and first[2] is not None:
            firsts[service] = first[2]
    if not streams:  # a wiped state's backup, taken on schedule, would pass the RPO check: refused as verify refuses it
        raise StateError(
            "the state holds no events: nothing to back up (a backup of it would restore nothing, yet count as a "
            "fresh backup for the RPO)"
        )
    time = store.time_kept() if isinstance(store, TimeKeepingStore) else None
    newest = store.latest_time() if isinstance(store, TimeKeepingStore) else None
    backup = {
        "taken_at": taken_at.isoformat(),
        "newest_event_at": None if newest is None else _utc(newest).isoformat(),
        "heads": heads,
        "firsts": firsts,
        "events": sum(streams.values()),
    }
    return {"format": FORMAT, "time": time, "streams": streams, "backup": backup}, streams


def _write_stream(store: BackupSource, service: str, count: int, head: str, out: gzip.GzipFile) -> None:
    """*service*'s *count* events as stored, each with its link, checked as they are read: each position in turn, each
    link the one its text and the link before it give, the last the *head* read before."""
    previous, expected = GENESIS, 0
    for position, body, stored in store.chain(service):
        if position >= count:
            break
        computed = link(previous, service, position, body)
        if position != expected or stored != computed:
            raise StateError(
                f"{service}'s event {expected} does not hold its link (`findly-infra state verify` names the break): "
                "a backup of it could not be restored, so none was written"
            )
        out.write(
            f'{{"service": {json.dumps(service)}, "position": {position}, "event": {body}, '
            f'"link": "{computed}"}}\n'.encode()
        )
        previous, expected = computed, expected + 1
    if expected != count or previous != head:
        raise StateError(f"{service} changed while it was read (event {expected} of {count}): nothing was backed up")


def _sync_folder(directory: Path) -> None:
    """The folder's entry for the new file on the disk too (a crash right after keeps the file under its name)."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    except OSError:  # some file systems (a FUSE mount of a bucket) cannot sync a folder: the file itself is synced
        pass
    finally:
        os.close(descriptor)


def prune_backups(
    directory: Path,
    keep: int,
    *,
    kept: Path | None = None,
    wall: datetime | None = None,
    firsts: Mapping[str, str] | None = None,
) -> list[Path]:
    """Delete the oldest of this tool's backups in *directory* beyond the newest *keep*, chosen by the time each
    one's header records (never by its name alone), and never *kept* (the backup just taken, whatever its time
    says); nothing else is touched. A backup whose header cannot be read, or that is stamped in the future of the
    real clock *wall*, or that is of another state than the one whose first links are *firsts*, is neither counted
    nor deleted: a person looks at it. Drafts (``.part``) are deleted only
    once older than :data:`DRAFT_AGE` by their modification time (a backup still being written by another run is
    left alone). Returns what was deleted."""
    if keep < 1:
        raise BadInputError(f"--keep is 1 or more (the backup just taken is kept), got {keep}")
    listed = _listed(directory)
    ours: list[BackupInfo] = []
    for found in backups(directory):
        if not isinstance(found, BackupInfo):
            continue
        if kept is not None and found.path.name == kept.name:
            continue
        if wall is not None and found.taken_at > _utc(wall) + SKEW:
            continue
        if firsts is not None and of_state(found, firsts) is False:
            continue  # another state's, sharing the folder: never counted, never deleted
        ours.append(found)
    ours.sort(key=lambda info: (info.taken_at, info.path.name), reverse=True)
    room = keep - 1 if kept is not None else keep
    gone = [info.path for info in ours[room:]]
    clock = None if wall is None else _utc(wall)
    for path in listed:
        if not (path.name.startswith(".findly-state-") and path.name.endswith(".part")):
            continue
        try:
            modified = datetime.fromtimestamp(path.stat().st_mtime, UTC).replace(tzinfo=None)
        except OSError:
            continue
        if clock is not None and clock - modified > DRAFT_AGE:
            gone.append(path)
    for path in gone:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return gone


def _listed(directory: Path) -> list[Path]:
    try:
        return [path for path in directory.iterdir() if path.is_file()]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise BadInputError(f"{directory}: {exc.strerror or exc}") from None


def of_state(info: BackupInfo, firsts: Mapping[str, str]) -> bool | None:
    """Whether *info* is a backup of the state whose streams' first links are *firsts*: ``False`` when a stream both
    hold begins with another event, or when they share no stream; ``None`` when it cannot be told (a backup that
    records none, an empty state)."""
    if not info.firsts or not firsts:
        return None
    shared = set(info.firsts) & set(firsts)
    return bool(shared) and all(info.firsts[name] == firsts[name] for name in shared)


# ---- finding them ---------------------------------------------------------------------------------------------------


def backups(directory: Path, *, whole: bool = False) -> list[BackupInfo | tuple[Path, str]]:
    """This tool's backups in *directory*, newest first (by the time in their names): each one's header, or (its path,
    why its header cannot be read). With *whole*, each one's structure is read to its end too (:func:`_whole`): one
    cut short or damaged after its header is listed as unreadable."""
    found: list[BackupInfo | tuple[Path, str]] = []
    for path in sorted((p for p in _listed(directory) if BACKUP_NAME.fullmatch(p.name)), reverse=True):
        try:
            info = _read_info(path)
            if whole:
                _whole(info)
            found.append(info)
        except BadInputError as exc:
            found.append((path, str(exc)))
    return found


def _whole(info: BackupInfo) -> None:
    """*info*'s file read to its end — cheaply: its lines counted, not parsed — the compressed stream whole (gzip's
    CRC and length checked at its end) and one line for the header and one for each event the header counts; else
    :class:`BadInputError` saying how it is cut short (a copy interrupted, an upload failed on close)."""
    where, lines, last = str(info.path), 0, b"\n"
    try:
        with _reading(info.path) as stream:
            while chunk := stream.read(1 << 20):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BadInputError(f"{where}: cut short or damaged after its header ({exc}): it would not restore") from None
    except OSError as exc:
        raise BadInputError(f"{where}: {exc.strerror or exc}") from None
    if last != b"\n" or lines != info.events + 1:
        raise BadInputError(
            f"{where}: {lines} lines where its header counts {info.events + 1} (a header and {info.events} events): "
            "cut short or changed, it would not restore"
        )


def newest_backup(directory: Path | str) -> BackupInfo | None:
    """The newest readable backup in *directory* (by the time its header records; its lines counted, not its events
    checked: :func:`backups` with ``whole``), or ``None`` when there is none (or the folder does not exist). Its
    times are naive UTC, as the clock's."""
    readable = [found for found in backups(Path(directory), whole=True) if isinstance(found, BackupInfo)]
    return max(readable, key=lambda info: (info.taken_at, info.path.name), default=None)


@contextlib.contextmanager
def _reading(path: Path, gzipped: bool | None = None) -> Iterator[IO[bytes]]:
    """*path* opened to read: a regular file only (never a FIFO, a device, a folder), uncompressed when gzipped (by
    default: when its name ends in ``.gz``)."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as file:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise BadInputError(f"{path} is not a regular file (a directory, a pipe or a device?): name a backup")
        os.set_blocking(descriptor, True)
        if path.name.endswith(".gz") if gzipped is None else gzipped:
            with gzip.GzipFile(fileobj=file, mode="rb") as unpacked:
                yield cast("IO[bytes]", unpacked)  # a binary file object, as typeshed does not say
        else:
            yield file


def _read_info(path: Path) -> BackupInfo:
    where = str(path)
    try:
        with _reading(path) as stream:
            line = stream.readline(MAX_LINE_BYTES + 1)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise BadInputError(f"{where}: not a readable gzip file ({exc})") from None
    except OSError as exc:
        raise BadInputError(f"{where}: {exc.strerror or exc}") from None
    try:
        header = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise BadInputError(f"{where}, line 1: not a findly state backup's header") from None
    info = _info(header, path, where)
    return attrs.evolve(info, size=path.stat().st_size)


def _info(header: Any, path: Path, where: str) -> BackupInfo:
    """The backup a header describes; raises :class:`BadInputError` naming what is missing."""
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BadInputError(f"{where}, line 1: not a findly state backup (its first line names format {FORMAT!r})")
    backup, streams = header.get("backup"), header.get("streams")
    if not isinstance(backup, dict):
        raise BadInputError(
            f"{where}, line 1: a state export, not a backup (no taken_at, no heads): `findly-infra state import` "
            "reads it"
        )
    heads = backup.get("heads")
    if (
        not isinstance(streams, dict)
        or not all(isinstance(name, str) and type(n) is int and n > 0 for name, n in streams.items())
        or not isinstance(heads, dict)
        or set(heads) != set(streams)
        or not all(isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value) for value in heads.values())
    ):
        raise BadInputError(f"{where}, line 1: the header's streams and heads do not name the same streams")
    firsts = backup.get("firsts", {})
    if (
        not isinstance(firsts, dict)
        or not set(firsts) <= set(streams)
        or not all(isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value) for value in firsts.values())
    ):
        raise BadInputError(f"{where}, line 1: the header's firsts are links of its streams' first events")
    try:
        taken_at = _utc(datetime.fromisoformat(backup["taken_at"]))
        newest = backup.get("newest_event_at")
        newest_at = None if newest is None else _utc(datetime.fromisoformat(newest))
    except (KeyError, TypeError, ValueError):
        raise BadInputError(f"{where}, line 1: the header's taken_at and newest_event_at are ISO 8601 times") from None
    return BackupInfo(path, taken_at, newest_at, dict(streams), sum(streams.values()), dict(heads), firsts=dict(firsts))


# ---- restoring one --------------------------------------------------------------------------------------------------


_LINE = re.compile(r'\{"service": ("(?:[^"\\]|\\.)*"), "position": (\d+), "event": (.*), "link": "([0-9a-f]{64})"\}\n?')
"""A backup's event line as :func:`_write_stream` writes it: the event's text between its fixed parts."""


def read_backup(
    path: Path, *, now: datetime | None = None, gzipped: bool | None = None, where: str | None = None
) -> CheckedBackup:
    """Read and check the backup at *path* whole (see the module's documentation); raises :class:`BadInputError`
    naming the line, the stream and the event that is wrong. Each link is recomputed over the event's text as the
    backup carries it — the text its source stored, perhaps written by an older findly-infra without a field
    added since — and that text is what a restore writes (:attr:`CheckedBackup.bodies`)."""
    where = where or str(path)
    texts: dict[tuple[str, int], str] = {}

    def kept(lines: Iterator[str]) -> Iterator[str]:
        for number, line in enumerate(lines):
            found = _LINE.fullmatch(line) if number else None
            if found is not None:
                with contextlib.suppress(ValueError):
                    texts[(json.loads(found[1]), int(found[2]))] = found[3]
            yield line

    try:
        with _reading(path, gzipped) as stream:
            export = read_export(kept(bounded_lines(stream, where)), where=where, now=now)
    except (EOFError, zlib.error) as exc:
        raise BadInputError(
            f"{where}: cut short or damaged (its compressed stream cannot be read to its end: {exc}): nothing was "
            "restored"
        ) from None
    except gzip.BadGzipFile:
        raise BadInputError(f"{where}: not a gzip file, as its name says: nothing was restored") from None
    except OSError as exc:
        raise BadInputError(f"{where}: {exc.strerror or exc}") from None
    info = _info(export.header, path, where)
    bodies: dict[str, list[str]] = {}
    for service, events in export.streams.items():
        previous = GENESIS
        recorded = export.links.get(service, [])
        bodies[service] = []
        for position, event in enumerate(events):
            body = texts.get((service, position))
            if body is None or _decoded(body) != event:  # not as written: linked over today's text of the event
                body = json.dumps(event_to_dict(event))
            bodies[service].append(body)
            previous = link(previous, service, position, body)
            if recorded[position] is None:
                raise BadInputError(
                    f"{where}: {service}'s event {position} records no link (a backup's lines each do): nothing was "
                    "restored"
                )
            if recorded[position] != previous:
                raise BadInputError(
                    f"{where}: {service}'s event {position} is not the event the backup recorded (its link does not "
                    "follow from it and the events before it): the file was changed after it was taken; nothing was "
                    "restored"
                )
        if previous != info.heads.get(service):
            raise BadInputError(
                f"{where}: {service}'s head (event {len(events) - 1}) is not the one the header records: the file "
                "was changed after it was taken; nothing was restored"
            )
    return CheckedBackup(attrs.evolve(info, size=path.stat().st_size), export, bodies)


def _decoded(body: str) -> Event | None:
    try:
        return event_from_dict(json.loads(body))
    except Exception:  # noqa: BLE001 - any text that is not an event's: the line's own event is linked instead
        return None


def restore_backup(store: EventStore, backup: CheckedBackup) -> ImportReport:
    """Write *backup* into *store*: only into an empty state, or one that holds some of the backup's streams whole
    and nothing else (an interrupted restore, run again) — else :class:`NotEmptyError`, and nothing is written. Each
    stream's head in the store afterwards is the one the backup recorded (else :class:`StateError`)."""
    if not isinstance(store, BackupSource):
        raise BadInputError("this state cannot be restored into (it cannot list its streams)")
    info = backup.info
    for service in store.services():
        head = store.head(service)
        if head is None:
            continue
        if service not in info.streams or head != (info.streams[service] - 1, info.heads[service]):
            raise NotEmptyError(
                Refusal(
                    "empty-state",
                    f"the state already holds events ({service}: {head[0] + 1}) that are not this backup's: a restore "
                    "writes only into an empty state (a new SQLite file, a new PostgreSQL database); nothing was "
                    "written",
                )
            )
    report = _write(store, backup)
    for service, count in info.streams.items():
        if store.head(service) != (count - 1, info.heads[service]):
            raise StateError(f"{service} was restored, but its head is not the one the backup records")
    return report


@runtime_checkable
class VerbatimStore(Protocol):
    """A store that appends events as given texts (a backup's), linked over those texts: SQLite, PostgreSQL, memory."""

    def append_stored(
        self, service: str, expected_version: int, events: Sequence[Event], bodies: Sequence[str]
    ) -> int: ...


def _write(store: EventStore, backup: CheckedBackup) -> ImportReport:
    """*backup*'s streams into *store* as ``transfer.write_export`` writes an export, each event as the text the
    backup carries (:class:`VerbatimStore`), so that every link and head is the source's."""
    if not isinstance(store, VerbatimStore) or not backup.bodies:
        return write_export(store, backup.export)
    already: list[str] = []
    for service, events in backup.export.streams.items():
        held, version = store.load(service)
        if version == 0:
            continue
        if held == events:
            already.append(service)
            continue
        raise BadInputError(
            f"{service} already has {version} events in this state: a restore never writes over a stream "
            "(restore into an empty state)"
        )
    checked = write_export(store, attrs.evolve(backup.export, streams={}))  # the time kept, checked as an import does
    imported = {}
    for service, events in sorted(backup.export.streams.items()):
        if service in already or not events:
            continue
        store.append_stored(service, 0, events, backup.bodies[service])
        imported[service] = len(events)
    return ImportReport(imported, tuple(sorted(already)), checked.time)


# ---- the recovery point objective -----------------------------------------------------------------------------------


def rpo_refusal(
    newest: BackupInfo | None,
    now: datetime,
    target: timedelta,
    directory: str = "",
    *,
    events_since: int | None = None,
) -> Refusal | None:
    """The rule ``rpo-target``: the newest backup is at most *target* old at *now* (naive UTC) — ``None`` — else why
    not (none at all, older than the target, or stamped in the future). It measures the backup's age (now -
    ``taken_at``), the time since the last recovery point, not the newest event's: it catches a stalled schedule,
    and it is all that is known once the region is gone. *events_since* (the events the state recorded after it,
    where the state is reachable) only words it: 0 — older than the RPO though nothing would be lost now."""
    if newest is None:
        return Refusal(
            "rpo-target",
            f"no backup in {directory or 'the folder'}: a region lost now would lose the whole state (the RPO is "
            f"{_said(target)})",
        )
    age = _utc(now) - newest.taken_at
    if age < -SKEW:
        return Refusal(
            "rpo-target",
            f"the newest backup, {newest.path.name}, is stamped {newest.taken_at.isoformat()}Z, {_said(-age)} in the "
            f"future of now ({_utc(now).isoformat()}Z): a backup from the future vouches for nothing (taken with a "
            "--now ahead of the clock, or on a host whose clock is ahead) — move it away and take one",
        )
    if age <= target:
        return None
    older = f"the newest backup, {newest.path.name}, is {_said(age)} old, over the RPO of {_said(target)}"
    if events_since == 0:
        cost = (
            "nothing was recorded since it was taken, so a region lost now would lose nothing, but the schedule is "
            "not keeping up (the rule holds the backup's age)"
        )
    elif events_since is not None:
        cost = f"a region lost now would lose the {events_since} events recorded since, more than the RPO allows"
    else:
        cost = "a region lost now could lose more than the RPO allows"
    return Refusal("rpo-target", f"{older}: {cost} — take one (findly-infra state backup --to …)")


def _said(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min {seconds % 60} s" if seconds % 60 else f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"
