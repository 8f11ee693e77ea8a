"""Moving a state: ``state export`` writes every stream as JSON Lines — complete, in order, with each event's
position — and ``state import`` reads it into another store (SQLite to PostgreSQL, a backup restored). The first line
says what follows (the format, how the state keeps time, each stream's version); then one event a line.

An import is a door like any command's, and lets in only what the commands would have recorded. It checks the whole
file before it writes anything: read with a bound (:func:`bounded_lines`: no line over :data:`MAX_LINE_BYTES`, none
nested deeper than :data:`MAX_DEPTH` before JSON parses it, UTF-8 text), every position from 0 with no gap, every
event readable and written as findly-infra writes it (no field it does not have, no value it would write otherwise,
no key twice), of its own stream's service, with the values the commands' door accepts (``domain.identifiers``:
versions, actors, suites, reasons; service and environment names), times in UTC that never run backwards within a
stream and are never in the future (``application.timekeeping``), a history that folds (``domain.state``), and each
stream's count as the header says. A refusal names its line, its stream, its event and its field, and nothing is
written. It then refuses to write over a stream that already holds events (unless it holds exactly these: that
service is already imported, so an interrupted import can simply be run again), and appends each stream whole, in one
transaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import IO, Any, Protocol, runtime_checkable

import attrs

from findly_infra.application.codec import event_of_stream, event_to_dict
from findly_infra.application.ports import BadInputError, EventStore, PagedStore, TimeKeepingStore
from findly_infra.application.timekeeping import SKEW, era_problem, future_problem
from findly_infra.domain.environment import dns_label_problem
from findly_infra.domain.events import (
    ApprovalGranted,
    ApprovalsSuperseded,
    Event,
    RolledBack,
    RolloutStarted,
    TracksCleanedUp,
)
from findly_infra.domain.identifiers import actor_problem, name_problem, reason_problem, version_problem
from findly_infra.domain.policy import POLICY_STREAM, PolicyAdopted
from findly_infra.domain.recovery import DR_STREAM
from findly_infra.domain.state import EnvironmentState, HistoryError, fold

__all__ = [
    "FORMAT",
    "MAX_DEPTH",
    "MAX_LINE_BYTES",
    "Export",
    "ImportReport",
    "ListedStore",
    "bounded_lines",
    "event_problem",
    "export_lines",
    "import_lines",
    "read_export",
    "write_export",
]

FORMAT = "findly-state/1"
MAX_LINE_BYTES = 4 * 1024 * 1024
"""The longest line an import reads: an event, the largest of which is a policy adopted from a platform file (itself at
most 1 MiB: ``config.document.MAX_BYTES``). An export has no bound as a whole (it grows with the history); its lines
do — so that ``/dev/zero`` or a file without line breaks is refused after 4 MiB, never read into memory whole."""
MAX_DEPTH = 64
"""The deepest nesting of ``[`` and ``{`` an import lets JSON parse (a platform file's own limit,
``config.document.MAX_DEPTH``): an event is nested a few levels deep, and a hundred thousand ``[`` would exhaust the
parser's stack."""


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


def bounded_lines(stream: IO[bytes], where: str) -> Iterator[str]:
    """The lines of *stream* as text, each read with the bound :data:`MAX_LINE_BYTES` (a longer one, ``/dev/zero``,
    a binary file or one that is not UTF-8 is refused naming its line: :class:`BadInputError`)."""
    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise BadInputError(
                f"{where}, line {number}: longer than {MAX_LINE_BYTES // 1024 // 1024} MiB, which no line of a state "
                "export is (is it one?): nothing was imported"
            )
        if b"\x00" in raw:
            raise BadInputError(f"{where}, line {number}: a binary file, not a state export: nothing was imported")
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInputError(
                f"{where}, line {number}: not UTF-8 text (byte {exc.start + 1} cannot be read): nothing was imported"
            ) from None


def _nesting_problem(line: str) -> str | None:
    """Why *line* is nested too deeply to parse (over :data:`MAX_DEPTH` levels of ``[`` and ``{`` outside strings), or
    ``None`` — found before JSON parses it (whose recursion would overflow)."""
    if line.count("[") + line.count("{") <= MAX_DEPTH:  # every line findly writes: nothing to walk
        return None
    depth, deepest, inside, escaped = 0, 0, False, False
    for character in line:
        if inside:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                inside = False
        elif character == '"':
            inside = True
        elif character in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return f"nested deeper than {MAX_DEPTH} levels, which no event is"
        elif character in "]}":
            depth -= 1
    return None


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are each given once (a second ``actor`` would be read in place of the first)."""
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"the key {key!r} is given twice")
        found[key] = value
    return found


def _parsed(line: str, place: str) -> Any:
    problem = _nesting_problem(line)
    if problem is not None:
        raise BadInputError(f"{place}: {problem}: nothing was imported")
    try:
        return json.loads(line, object_pairs_hook=_object)
    except (ValueError, RecursionError) as exc:
        raise BadInputError(f"{place}: not JSON ({exc}): nothing was imported") from None


def _versions(event: Event) -> Iterator[tuple[str, str]]:
    """The versions an event names, by field: its own, and the one it replaces, restores or supersedes."""
    if isinstance(event, PolicyAdopted):
        return
    yield "version", event.version
    other = {RolloutStarted: "previous", RolledBack: "restored", ApprovalsSuperseded: "superseded"}.get(type(event))
    if other is not None and getattr(event, other) is not None:
        yield other, getattr(event, other)


def _texts(event: Event) -> Iterator[tuple[str, str | None]]:
    """Each field of *event* that the commands' door checks, and why it cannot be recorded (``None``: it can)."""
    policy = isinstance(event, PolicyAdopted)
    if policy or event.service == DR_STREAM:  # streams of the state's own, not a service's (``codec.stream_problem``)
        what = "a policy's adoption" if policy else "a recovery operation's event"
        for field in ("environment", "version"):
            if getattr(event, field) != "":
                yield field, f"{what} names no {field}, and this one names {getattr(event, field)!r}"
    else:
        yield "environment", dns_label_problem(event.environment, "an environment name")
        for field, version in _versions(event):
            yield field, version_problem(version)
    yield "actor", actor_problem(event.actor)
    reason = event.reason
    override = getattr(event, "budget_override", None)
    if override is not None:
        yield "budget_override", reason_problem(override)
        if isinstance(event, RolloutStarted) and reason.startswith(override):  # the override, quoted with the budget
            reason = reason.removeprefix(override)
    yield "reason", reason_problem(reason)
    if hasattr(event, "suite"):
        yield "suite", name_problem(event.suite, "suite")
    if isinstance(event, ApprovalGranted):
        yield "group", name_problem(event.group, "group")
    if isinstance(event, TracksCleanedUp):  # the Deployments it names are a service's tracks' (DNS labels)
        for name in event.removed:
            yield "removed", dns_label_problem(name, "a Deployment's name")


def event_problem(service: str, event: Event, record: dict[str, Any]) -> tuple[str, str] | None:
    """Why *event*, read from *record* (its dictionary in an export), cannot be in *service*'s stream — the field and
    the problem — or ``None``: it is *service*'s, written as findly-infra writes it (the same keys and values:
    nothing the codec would read otherwise, no field the event does not have), with the values the commands' door
    accepts (``domain.identifiers``) and a time in UTC (naive, as findly-infra writes it)."""
    if event.service != service:
        return "service", f"an event of {event.service!r} in {service}'s stream"
    written = event_to_dict(event)
    if written.keys() == record.keys() and json.dumps(written) == json.dumps(record):  # as written: the usual case
        return _door_problem(event)
    for key, value in record.items():
        if key not in written:
            return key, f"{type(event).__name__} has no field {key!r}"
        as_written = json.loads(json.dumps(written[key]))  # tuples as lists, as JSON has them
        if json.dumps(as_written, sort_keys=True) != json.dumps(value, sort_keys=True):
            return key, f"{_shown(value)} is not as findly-infra writes it (it reads as {_shown(as_written)})"
    return _door_problem(event)


def _door_problem(event: Event) -> tuple[str, str] | None:
    """Why *event*'s time or values cannot pass the commands' door, by field, or ``None``."""
    if event.at.tzinfo is not None:
        return "at", f"{event.at.isoformat()} carries a UTC offset: findly-infra records UTC times without one"
    for field, problem in _texts(event):
        if problem is not None:
            return field, problem
    return None


def _shown(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


_LINK = re.compile(r"[0-9a-f]{64}")
_OWN_STREAMS = frozenset({POLICY_STREAM, DR_STREAM})
"""The state's own streams beside the services': the policy in force and the recovery operations."""


@attrs.define
class _Stream:
    """A stream as an import reads it: its events, and each environment folded so far (``domain.state``)."""

    events: list[Event] = attrs.field(factory=list)
    folded: dict[str, EnvironmentState] = attrs.field(factory=dict)
    links: list[str | None] = attrs.field(factory=list)
    """Each event's link as its line records it (a backup's lines do: ``application.backup``; an export's do not)."""


def _read(  # noqa: PLR0912 - each check of a line is said apart, in the order a reader meets them
    lines: Iterable[str], where: str, now: datetime
) -> tuple[dict[str, Any], dict[str, list[Event]], dict[str, list[str | None]]]:
    header: dict[str, Any] | None = None
    streams: dict[str, _Stream] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        place = f"{where}, line {number}"
        record = _parsed(line, place)
        if header is None:
            if not isinstance(record, dict) or record.get("format") != FORMAT:
                raise BadInputError(f"{place}: not a findly state export (its first line names format {FORMAT!r})")
            header = _checked_header(record, place)
            continue
        if not isinstance(record, dict) or not {"service", "position", "event"} <= record.keys():
            raise BadInputError(f"{place}: an event line has service, position and event")
        service, position, data = record["service"], record["position"], record["event"]
        if not isinstance(service, str) or (service not in _OWN_STREAMS and dns_label_problem(service, "")):
            raise BadInputError(f"{place}: {_shown(service)} is not a service's stream (a service name is a DNS label)")
        stream = streams.setdefault(service, _Stream())
        if type(position) is not int or position != len(stream.events):
            raise BadInputError(
                f"{place}: {service}'s event {_shown(position)} comes where event {len(stream.events)} should "
                "(missing or out of order): nothing was imported"
            )
        event_place = f"{place}: {service}'s event {position}"
        if not isinstance(data, dict):
            raise BadInputError(f"{event_place} is not an object: nothing was imported")
        try:
            event = event_of_stream(service, data)
        except Exception as exc:  # noqa: BLE001 - whatever the decoder raised, the line is named
            raise BadInputError(f"{event_place} cannot be read ({exc}): nothing was imported") from None
        problem = event_problem(service, event, data)
        if problem is None:
            problem = _time_problem(event, stream.events[-1] if stream.events else None, now)
        if problem is None and service not in _OWN_STREAMS:  # the services' streams fold (``domain.state``)
            try:
                stream.folded[event.environment] = fold(stream.folded.get(event.environment) or _EMPTY, event)
            except HistoryError as exc:
                problem = "event", f"cannot follow the events before it ({exc})"
        if problem is not None:
            field, why = problem
            raise BadInputError(f"{event_place}, field {field}: {why}: nothing was imported")
        link = record.get("link")
        if link is not None and not (isinstance(link, str) and _LINK.fullmatch(link)):
            raise BadInputError(f"{event_place}: its link {_shown(link)} is not 64 hex digits: nothing was imported")
        stream.events.append(event)
        stream.links.append(link)
    if header is None:
        raise BadInputError(f"{where} is empty: not a findly state export")
    found = {service: stream.events for service, stream in streams.items()}
    _check_counts(header, found, where)
    return header, found, {service: stream.links for service, stream in streams.items()}


_EMPTY = EnvironmentState()


def _time_problem(event: Event, before: Event | None, now: datetime) -> tuple[str, str] | None:
    """Why *event*'s time cannot be recorded after *before* (the stream's event before it) at real time *now*: in
    the future (``application.timekeeping``), or before the event before it — a stream's times never run backwards
    (``DeploymentPipeline.stamp``)."""
    outside = era_problem(event.at)
    if outside is not None:
        return "at", f"{event.at.isoformat()} {outside}"
    future = future_problem(event.at, now)
    if future is not None:
        return "at", f"{event.at.isoformat()} {future} (the real clock reads {now.isoformat()}, give or take {SKEW})"
    if before is not None and event.at < before.at:
        return "at", (
            f"{event.at.isoformat()} is before the event before it ({before.at.isoformat()}): a stream's times never "
            "run backwards"
        )
    return None


def _checked_header(record: dict[str, Any], place: str) -> dict[str, Any]:
    time, streams = record.get("time"), record.get("streams")
    if time not in (None, "wall", "virtual"):
        raise BadInputError(f"{place}: the header's time is {_shown(time)}: 'wall', 'virtual' or null")
    if not isinstance(streams, dict) or not all(type(count) is int and count >= 0 for count in streams.values()):
        raise BadInputError(f"{place}: the header names no streams (each stream's name and its count of events)")
    return record


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
    links: dict[str, list[str | None]] = attrs.field(factory=dict)
    """Each event's link as its line records it (``None`` where the line records none: an export's)."""


def read_export(lines: Iterable[str], *, where: str = "the export", now: datetime | None = None) -> Export:
    """Read and check an export, every line (raises :class:`BadInputError` naming the line, the event and the field
    that is wrong), at real time *now* (naive UTC; default: the system clock's) — no time after it, give or take
    ``timekeeping.SKEW``, is let in."""
    header, streams, links = _read(lines, where, now or datetime.now(UTC).replace(tzinfo=None))
    return Export(header, streams, links)


def import_lines(
    store: EventStore, lines: Iterable[str], *, where: str = "the export", now: datetime | None = None
) -> ImportReport:
    """Read an export into *store* (see the module's documentation); raises :class:`BadInputError` naming the line
    or the service that stops it, before anything is written."""
    return write_export(store, read_export(lines, where=where, now=now))


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
