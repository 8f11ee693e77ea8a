"""Events to and from plain JSON-able dictionaries (the event store's and ``history --json``'s format)."""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import cattrs

from findly_infra.domain import events as domain_events
from findly_infra.domain.events import AnalysisRecorded, Event, MetricReading, Verdict
from findly_infra.domain.gitops import GitOpsCommitted, GitOpsReverted
from findly_infra.domain.policy import POLICY_STREAM, PolicyAdopted
from findly_infra.domain.recovery import (
    DR_STREAM,
    RecoveryAbandoned,
    RecoveryCompleted,
    RecoveryStarted,
    RecoveryStepDone,
    RecoveryStepFailed,
)
from findly_infra.domain.releases import RELEASE_EVENTS, RELEASE_STREAM

__all__ = [
    "EVENT_TYPES",
    "decode_page",
    "decode_stream",
    "event_from_dict",
    "event_of_stream",
    "event_shown",
    "event_to_dict",
    "recorded",
    "stream_problem",
]

_RECOVERY_EVENTS = (RecoveryStarted, RecoveryStepDone, RecoveryStepFailed, RecoveryCompleted, RecoveryAbandoned)

EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        *vars(domain_events).values(),
        PolicyAdopted,
        *_RECOVERY_EVENTS,
        *RELEASE_EVENTS,
        GitOpsCommitted,
        GitOpsReverted,
    )
    if isinstance(cls, type) and issubclass(cls, Event) and cls is not Event
}


@functools.cache
def _converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    converter.register_unstructure_hook(datetime, lambda value: value.isoformat())
    converter.register_structure_hook(datetime, lambda value, _type: datetime.fromisoformat(value))
    # a missing reading is NaN in the domain and null in JSON (which has no NaN)
    converter.register_unstructure_hook(float, lambda value: None if math.isnan(value) else value)
    converter.register_structure_hook(float, lambda value, _type: math.nan if value is None else float(value))
    return converter


def event_to_dict(event: Event) -> dict[str, Any]:
    """``{"type": "rollout_started", "event": "RolloutStarted", "at": "...", ...}``."""
    body: dict[str, Any] = _converter().unstructure(event)
    return {"type": event.type, "event": type(event).__name__, **body}


def event_shown(event: Event) -> dict[str, Any]:
    """:func:`event_to_dict` as the commands show it (``history --json``, an outcome's events, ``policy show``): the
    token kept with a verified identity replaced by ``"proof": "sha256:…"`` (the first 16 hex digits of its SHA-256)
    — it is a bearer credential for its minutes of life, bound to its one purpose, and has no business in a log.
    ``state export`` keeps it whole."""
    body = event_to_dict(event)
    identity = body.get("identity")
    if isinstance(identity, dict):
        token = identity.pop("token", "")
        identity["proof"] = f"sha256:{hashlib.sha256(token.encode()).hexdigest()[:16]}" if token else None
    return body


def event_from_dict(data: dict[str, Any]) -> Event:
    if data["event"] == "AnalysisRecorded":  # three events in four: decoded by hand, at a third of the cost
        return _analysis(data)
    body = {k: v for k, v in data.items() if k not in ("type", "event")}
    return _converter().structure(body, EVENT_TYPES[data["event"]])


def stream_problem(service: str, event: Event) -> str | None:
    """Why *event* cannot be in *service*'s stream, or ``None``: the policy stream holds only adopted policies, the
    recovery stream only recovery operations (``domain.recovery``), the release stream only releases
    (``domain.releases``), and a service's stream none of them."""
    for stream, kinds, holds, name in _SPECIAL_STREAMS:
        if service == stream and not isinstance(event, kinds):
            return f"the {name} stream holds only {holds}, not {event.type}"
        if service != stream and isinstance(event, kinds):
            return f"a {event.type} belongs to the {name} stream ({stream}), not to a service's"
    return None


_SPECIAL_STREAMS: tuple[tuple[str, tuple[type[Event], ...], str, str], ...] = (
    (POLICY_STREAM, (PolicyAdopted,), "adopted policies", "policy"),
    (DR_STREAM, _RECOVERY_EVENTS, "recovery operations", "recovery"),
    (RELEASE_STREAM, RELEASE_EVENTS, "releases", "release"),
)


def event_of_stream(service: str, data: dict[str, Any]) -> Event:
    """The event *data* records, in *service*'s stream; raises ``ValueError`` when it cannot be there
    (:func:`stream_problem`)."""
    event = event_from_dict(data)
    problem = stream_problem(service, event)
    if problem is not None:
        raise ValueError(problem)
    return event


def _analysis(data: dict[str, Any]) -> AnalysisRecorded:
    """``AnalysisRecorded`` from its dictionary, as the converter would (a test holds the two to agree)."""
    return AnalysisRecorded(
        service=data["service"],
        environment=data["environment"],
        version=data["version"],
        at=datetime.fromisoformat(data["at"]),
        actor=data["actor"],
        reason=data.get("reason", ""),
        verdict=_verdict(data["verdict"]),
        readings=tuple(
            MetricReading(
                metric=reading["metric"],
                value=math.nan if reading["value"] is None else float(reading["value"]),
                threshold=reading["threshold"],
                verdict=_verdict(reading["verdict"]),
            )
            for reading in data.get("readings", ())
        ),
    )


_VERDICTS = {verdict.value: verdict for verdict in Verdict}


def _verdict(value: Any) -> Verdict:
    """``Verdict(value)`` by a dictionary (five of them per analysis: the enum's own lookup costs a third of it)."""
    try:
        return _VERDICTS[value]
    except (KeyError, TypeError):
        return Verdict(value)  # raises ValueError as the enum does


def decode_stream(rows: Iterable[tuple[int, Any]], *, since: int, service: str, location: str) -> list[Event]:
    """A stream's stored rows (position, JSON text or its dictionary) as events, in order from *since* with no gap.
    The first that cannot be read is a :class:`~findly_infra.application.ports.StateError` naming the stream and the
    position, its ``readable`` holding the events before it."""
    from findly_infra.application.ports import StateError

    events: list[Event] = []
    for expected, (position, body) in enumerate(rows, start=since):
        try:
            if position != expected:
                raise ValueError(f"event {expected} is missing (the next stored is {position})")
            events.append(event_of_stream(service, body if isinstance(body, dict) else json.loads(body)))
        except Exception as exc:  # noqa: BLE001 - whatever the decoder raised, the record is named
            raise StateError(_unreadable(location, service, expected, exc), readable=events) from None
    return events


def _unreadable(location: str, service: str, position: int, exc: Exception) -> str:
    detail = str(exc) if type(exc) is ValueError else f"{type(exc).__name__}: {exc}"
    return (
        f"--state {location}: {service}'s event {position} cannot be read ({detail}); the events before it can "
        f"(`findly-infra history {service}`), the other services are not affected"
    )


def decode_page(
    rows: Sequence[tuple[int, Any, Any]],
    *,
    since: int,
    limit: int | None,
    version: int,
    service: str,
    location: str,
) -> list[Event]:
    """A page of a stream as a store read it — *rows* of (position, stored text, link), from event ``since - 1`` (the
    one the page's links follow on; from ``since`` when it is 0) — checked before any command acts on it, whatever
    its clock: each row's link follows from the one before it (``application.integrity``: an event edited, inserted
    or moved since it was written is *unlinked*), each record reads, positions run without a gap, and the page holds
    every event the stream's *version* says it has from *since* (up to *limit*): rows that a damaged page of the file
    hides are missing, never an empty or shorter history.

    Only the rows read are hashed (the tail after the snapshot a command starts from), so the cost stays that of
    decoding them. A state not yet linked (``None`` links from its first event: an older findly-infra's, opened read
    only) reads as it is; ``state verify`` says what it lacks. Raises
    :class:`~findly_infra.application.ports.StateError` naming the stream and the first row that fails, its
    ``readable`` holding the events before it."""
    from findly_infra.application.integrity import GENESIS
    from findly_infra.application.ports import StateError

    wanted = max(0, version - since)
    wanted = wanted if limit is None else min(limit, wanted)
    if not wanted:  # nothing from since on (a read for the version alone, or past the end)
        return []
    previous: str | None = GENESIS
    linked = False  # whether the row before is linked (the page's first row follows GENESIS, or event since - 1)
    unlinked_from: int | None = None  # where the rows without links began (a state not linked yet, or damage)
    rows = list(rows)
    if since > 0:
        if rows and rows[0][0] == since - 1:
            previous = None if rows[0][2] is None else str(rows[0][2])
            linked = previous is not None
            unlinked_from = None if linked else since - 1
            rows = rows[1:]
        else:
            raise StateError(
                f"--state {location}: {service}'s event {since - 1} cannot be read (it is missing, and the stream has "
                f"{version} events); run `findly-infra state check`, and restore the state from a backup"
            )
    events: list[Event] = []
    for expected, (position, body, stored) in enumerate(rows, start=since):
        try:
            if position != expected:
                raise ValueError(f"event {expected} is missing (the next stored is {position})")
            event = event_of_stream(service, body if isinstance(body, dict) else json.loads(body))
        except Exception as exc:  # noqa: BLE001 - whatever the decoder raised, the record is named
            raise StateError(_unreadable(location, service, expected, exc), readable=events) from None
        if stored is None and not linked:  # a state not linked yet: nothing to check, nothing vouched for
            previous = None
            unlinked_from = position if unlinked_from is None else unlinked_from
        else:
            if previous is None and unlinked_from is not None:  # linked after unlinked ones: links were removed
                raise StateError(
                    f"--state {location}: {service}'s event {unlinked_from} is unlinked (it has no link, and event "
                    f"{position} after it has one: links were removed); no command acts on it; `findly-infra state "
                    "verify` names the first broken link of every stream; restore the state from a backup",
                    readable=events[: max(0, unlinked_from - since)],
                )
            problem = _unlinked(previous, service, position, body, stored)
            if problem is not None:
                raise StateError(
                    f"--state {location}: {service}'s event {position} is unlinked ({problem}): no command acts on "
                    f"it; the events before it read (`findly-infra history {service}`), `findly-infra state verify` "
                    "names the first broken link of every stream; restore the state from a backup",
                    readable=events,
                )
            previous, linked = str(stored), True
        events.append(event)
    if len(events) < wanted:
        first, last = since + len(events), since + wanted - 1
        said = f"event {first}" if first == last else f"events {first} to {last}"
        raise StateError(
            f"--state {location}: {service}'s {said} cannot be read: the stream has {version} events, and they are "
            "not where they are stored (a damaged page of the state?); run `findly-infra state check`, and restore "
            "the state from a backup",
            readable=events,
        )
    return events


def _unlinked(previous: str | None, service: str, position: int, body: Any, stored: Any) -> str | None:
    """Why the row at *position* does not follow the link *previous* (``None``: the event before it has none), or
    ``None`` when it does."""
    from findly_infra.application.integrity import link

    if stored is None or previous is None:
        return "it has no link, after linked events"
    text = body if isinstance(body, str) else json.dumps(body)
    if link(previous, service, position, text) != stored:
        return "its link does not follow from the event before it: it, or an event before it, was changed"
    return None


ANALYSIS_PREFIX = '{"type": "analysis_recorded", "'
"""How every stored analysis begins (``json.dumps(event_to_dict(event))``: its type first). A store's index of the
records of versions leaves out the rows that begin so — three in four — and keeps every other row, whatever its
``type`` column says: what counts is the body its link covers."""


def recorded(rows: Iterable[tuple[int, Any, Any, Any]], service: str, version: str, location: str) -> list[Event]:
    """*version*'s records (``domain.state.RECORD_EVENTS``) among the rows (position, stored text, link, the link of
    the event before) a store read back for it: its index holds every event but analyses (:data:`ANALYSIS_PREFIX`),
    keyed by the version its text names — or by none, where none can be read of it: read back for every version. Each
    row's link is checked as a whole read checks it (a state not linked yet reads as it is); a row changed since it
    was linked, or that cannot be read, is a :class:`~findly_infra.application.ports.StateError` naming it — never a
    record silently missing. Rows of other versions or other events are passed over."""
    from findly_infra.application.integrity import GENESIS
    from findly_infra.application.ports import StateError
    from findly_infra.domain.state import RECORD_EVENTS

    events: list[Event] = []
    for position, body, link, previous in rows:
        text = body if isinstance(body, str) else json.dumps(body)
        if link is not None or (int(position) > 0 and previous is not None):  # else: a state not linked yet
            problem = _unlinked(GENESIS if int(position) == 0 else previous, service, int(position), text, link)
            if problem is not None:
                raise StateError(
                    f"--state {location}: {service}'s event {position} is unlinked ({problem}): no command acts on "
                    f"it; `findly-infra state verify` names the first broken link of every stream; restore the state "
                    "from a backup",
                    readable=events,
                )
        try:
            event = event_of_stream(service, body if isinstance(body, dict) else json.loads(body))
        except Exception as exc:  # noqa: BLE001 - whatever the decoder raised, the record is named
            raise StateError(_unreadable(location, service, int(position), exc), readable=events) from None
        if event.type in RECORD_EVENTS and event.version == version:
            events.append(event)
    return events
