"""Moving a state: ``state export`` writes every stream as JSON Lines — complete, in order, with each event's
position — and ``state import`` reads it into another store (SQLite to PostgreSQL, a backup restored). The first line
says what follows (the format, how the state keeps time, each stream's version); then one event a line.

An import checks the whole file before it writes anything (every line, every position from 0 with no gap, every
event readable, each stream's count as the header says), refuses to write over a stream that already holds events
(unless it holds exactly these: that service is already imported, so an interrupted import can simply be run
again), and appends each stream whole, in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, Protocol, runtime_checkable

import attrs

from findly_infra.application.codec import event_of_stream, event_to_dict
from findly_infra.application.ports import BadInputError, EventStore, PagedStore, TimeKeepingStore
from findly_infra.domain.events import Event

__all__ = [
    "FORMAT",
    "Export",
    "ImportReport",
    "ListedStore",
    "export_lines",
    "import_lines",
    "read_export",
    "write_export",
]

FORMAT = "findly-state/1"


@runtime_checkable
class ListedStore(Protocol):
    """A store that can name the services it holds streams of."""

    def services(self) -> list[str]: ...


def export_lines(store: EventStore, *, page: int = 1000) -> Iterator[str]:
    """The store as JSON Lines (no line breaks inside a line): the header, then every event of every stream, in order,
    read a page at a time."""
    if not isinstance(store, ListedStore):
        raise BadInputError("this state cannot list its streams")
    services = sorted(store.services())
    versions = {service: store.load(service, since=1 << 62)[1] for service in services}
    time = store.time_kept() if isinstance(store, TimeKeepingStore) else None
    yield json.dumps({"format": FORMAT, "time": time, "streams": versions}, sort_keys=True)
    for service in services:
        position = 0
        while position < versions[service]:
            if isinstance(store, PagedStore):
                events, _ = store.page(service, position, page)
            else:
                events = store.load(service, since=position)[0]
            if not events:
                break
            for event in events:
                yield json.dumps({"service": service, "position": position, "event": event_to_dict(event)})
                position += 1


@attrs.frozen
class ImportReport:
    imported: dict[str, int]
    """Service -> events written."""
    already: tuple[str, ...]
    """Services whose streams already held exactly these events (nothing written)."""
    time: str | None


def _read(lines: Iterable[str], where: str) -> tuple[dict[str, Any], dict[str, list[Event]]]:
    header: dict[str, Any] | None = None
    streams: dict[str, list[Event]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        place = f"{where}, line {number}"
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise BadInputError(f"{place}: not JSON ({exc})") from None
        if header is None:
            if not isinstance(record, dict) or record.get("format") != FORMAT:
                raise BadInputError(f"{place}: not a findly state export (its first line names format {FORMAT!r})")
            header = record
            continue
        if not isinstance(record, dict) or not {"service", "position", "event"} <= record.keys():
            raise BadInputError(f"{place}: an event line has service, position and event")
        service, position = record["service"], record["position"]
        stream = streams.setdefault(str(service), [])
        if position != len(stream):
            raise BadInputError(
                f"{place}: {service}'s event {position} comes where event {len(stream)} should (missing or out of "
                "order): nothing was imported"
            )
        try:
            stream.append(event_of_stream(str(service), record["event"]))
        except Exception as exc:  # noqa: BLE001 - whatever the decoder raised, the line is named
            raise BadInputError(f"{place}: {service}'s event {position} cannot be read ({exc})") from None
    if header is None:
        raise BadInputError(f"{where} is empty: not a findly state export")
    _check_counts(header, streams, where)
    return header, streams


def _check_counts(header: dict[str, Any], streams: dict[str, list[Event]], where: str) -> None:
    """Each stream as long as the header says (an export cut short is refused), and none it does not name."""
    declared = header.get("streams")
    if not isinstance(declared, dict):
        raise BadInputError(f"{where}, line 1: the header names no streams")
    counts = {service: len(events) for service, events in streams.items()}
    for service, version in declared.items():
        if counts.get(service, 0) != version:
            raise BadInputError(
                f"{where}: {service} has {counts.get(service, 0)} events, the header says {version}: the export is "
                "incomplete (cut short?): nothing was imported"
            )
    extra = sorted(set(streams) - set(declared))
    if extra:
        raise BadInputError(f"{where}: events of {', '.join(extra)}, which the header does not name")


@attrs.frozen
class Export:
    """An export read whole and checked (:func:`read_export`), ready to be written into a store."""

    header: dict[str, Any]
    streams: dict[str, list[Event]]


def read_export(lines: Iterable[str], *, where: str = "the export") -> Export:
    """Read and check an export, every line (raises :class:`BadInputError` naming the line that is wrong)."""
    header, streams = _read(lines, where)
    return Export(header, streams)


def import_lines(store: EventStore, lines: Iterable[str], *, where: str = "the export") -> ImportReport:
    """Read an export into *store* (see the module's documentation); raises :class:`BadInputError` naming the line
    or the service that stops it, before anything is written."""
    return write_export(store, read_export(lines, where=where))


def write_export(store: EventStore, export: Export) -> ImportReport:
    """Write a checked export into *store*: refused, before anything is written, over a stream that holds other
    events, or into a state that keeps another kind of time."""
    header, streams = export.header, export.streams
    already: list[str] = []
    for service, events in streams.items():
        held, version = store.load(service)
        if version == 0:
            continue
        if held == events:
            already.append(service)
            continue
        raise BadInputError(
            f"{service} already has {version} events in this state: an import never writes over a stream "
            "(import into an empty state)"
        )
    time = header.get("time")
    if isinstance(store, TimeKeepingStore) and time in ("wall", "virtual"):
        kept = store.keep_time(time)
        if kept != time:
            raise BadInputError(
                f"this state keeps {kept} time and the export {time} time: the two never mix in one history"
            )
    imported = {}
    for service, events in sorted(streams.items()):
        if service in already or not events:
            continue
        store.append(service, 0, events)
        imported[service] = len(events)
    return ImportReport(imported, tuple(sorted(already)), time if isinstance(time, str) else None)
