"""Events to and from plain JSON-able dictionaries (the event store's and ``history --json``'s format)."""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import cattrs

from findly_infra.domain import events as domain_events
from findly_infra.domain.events import AnalysisRecorded, Event, MetricReading, Verdict
from findly_infra.domain.policy import POLICY_STREAM, PolicyAdopted

__all__ = [
    "EVENT_TYPES",
    "decode_stream",
    "event_from_dict",
    "event_of_stream",
    "event_shown",
    "event_to_dict",
    "stream_problem",
]

EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (*vars(domain_events).values(), PolicyAdopted)
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
    """Why *event* cannot be in *service*'s stream, or ``None``: the policy stream holds only adopted policies, and a
    service's stream never holds one (``domain.policy``)."""
    if (service == POLICY_STREAM) == isinstance(event, PolicyAdopted):
        return None
    if service == POLICY_STREAM:
        return f"the policy stream holds only adopted policies, not {event.type}"
    return f"a {event.type} belongs to the policy stream ({POLICY_STREAM}), not to a service's"


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
        verdict=Verdict(data["verdict"]),
        readings=tuple(
            MetricReading(
                metric=reading["metric"],
                value=math.nan if reading["value"] is None else float(reading["value"]),
                threshold=reading["threshold"],
                verdict=Verdict(reading["verdict"]),
            )
            for reading in data.get("readings", ())
        ),
    )


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
            detail = str(exc) if type(exc) is ValueError else f"{type(exc).__name__}: {exc}"
            raise StateError(
                f"--state {location}: {service}'s event {expected} cannot be read ({detail}); the events before it "
                f"can (`findly-infra history {service}`), the other services are not affected",
                readable=events,
            ) from None
    return events
