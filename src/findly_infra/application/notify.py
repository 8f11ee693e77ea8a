"""Notifications of the pipeline's events: decided from the event log into the state's outbox, then delivered.

At least once, across crashes: a service's notifications are decided from its events after a cursor kept in the
outbox (:meth:`Notifications.sweep`), and the cursor moves in the same transaction that queues them — so a command that
dies between appending its events and queueing their notifications leaves them to the next sweep (any command's, or
``notify deliver``'s). A refused promotion is not an event: it is queued when it is refused
(:meth:`Notifications.refused`). Each (notification, receiver) is queued once; :meth:`Notifications.deliver` sends
what is due through the receivers' :class:`~findly_infra.application.ports.Notifier`, retried on the domain's
:class:`~findly_infra.domain.notifying.RetrySchedule` and given up after its bound, each outcome recorded. Delivery
never raises for a receiver: a release's outcome never depends on it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from findly_infra.application import snapshots
from findly_infra.application.ports import (
    Clock,
    Delivery,
    Dispatch,
    DispatchState,
    EventStore,
    Notifier,
    Outbox,
    PagedStore,
)
from findly_infra.domain.events import AnalysisRecorded, Event
from findly_infra.domain.notifications import (
    Notification,
    NotificationKind,
    NotificationSeverity,
    PageAction,
    Route,
    route,
)
from findly_infra.domain.notifying import Incidents, RetrySchedule, decide, decide_releases, refused, waiting
from findly_infra.domain.platform import Platform
from findly_infra.domain.refusal import Refusal
from findly_infra.domain.releases import RELEASE_STREAM, releases
from findly_infra.domain.view import EnvironmentView

__all__ = [
    "DeliveryReport",
    "Notifications",
    "ReceiverReport",
    "notification_from_dict",
    "notification_to_dict",
    "would_notify",
]

CLAIM_HOLD = timedelta(minutes=2)
"""How long an attempt holds its delivery: a process that dies while sending leaves it due again after this."""

SEND_FLOOR = 1.0
"""The least time (seconds) a send is given when a run's budget is nearly spent: a run ends at most this after it."""


def notification_to_dict(notification: Notification) -> dict[str, Any]:
    """A notification as the outbox keeps it (and ``--json`` shows it)."""
    return {
        "id": notification.id,
        "kind": notification.kind.value,
        "severity": notification.severity.value,
        "service": notification.service,
        "environment": notification.environment,
        "version": notification.version,
        "at": notification.at.isoformat(),
        "summary": notification.summary,
        "details": [list(pair) for pair in notification.details],
        "incident_key": notification.incident_key,
        "action": notification.action.value if notification.action else None,
        **({"parts": list(notification.parts)} if notification.parts else {}),
    }


def notification_from_dict(data: Mapping[str, Any]) -> Notification:
    return Notification(
        id=str(data["id"]),
        kind=NotificationKind(data["kind"]),
        severity=NotificationSeverity(data["severity"]),
        service=str(data["service"]),
        environment=str(data["environment"]),
        version=str(data["version"]),
        at=datetime.fromisoformat(str(data["at"])),
        summary=str(data["summary"]),
        details=tuple((str(label), str(value)) for label, value in data.get("details", ())),
        incident_key=str(data.get("incident_key", "")),
        action=PageAction(data["action"]) if data.get("action") else None,
        parts=tuple(str(part) for part in data.get("parts", ())),
    )


def mark_told(outbox: Outbox, positions: Mapping[str, int]) -> None:
    """Move each service's cursor to *positions* (its stream's length) without telling anything: an imported past
    (``state import``) is history, not news. A cursor already further is left as it is."""
    for service, position in positions.items():
        cursor = outbox.notify_cursor(service)
        if cursor is None or cursor[0] < position:
            kept = cursor[1] if cursor is not None else "[]"
            outbox.enqueue([], (service, None if cursor is None else cursor[0], position, kept))


def would_notify(
    platform: Platform, service: str, events: Iterable[Event]
) -> list[tuple[Notification, tuple[str, ...]]]:
    """For a simulation: what its events would tell, and to which receivers the file routes each — nothing is sent
    or kept (waits, which are read from the state, are not included)."""
    if not platform.notifications.receivers:
        return []
    found, _ = decide(platform, service, list(enumerate(events)), Incidents())
    canary = platform.canary_strategy
    channels = canary.failure_handling.notification_channels if canary is not None else ()
    order = platform.promotion_order
    routes = platform.notifications.routes_for(channels, order[-1] if order else None)
    return [(note, route(note, routes, platform.notifications.receivers)) for note in found]


@attrs.frozen
class ReceiverReport:
    """One receiver in one delivery run: how many were delivered, failed (to be tried again), given up, and left
    queued; the next attempt's time and the last failure's detail."""

    receiver: str
    delivered: int = 0
    failed: int = 0
    gave_up: int = 0
    queued: int = 0
    skipped: int = 0
    """Due, and not tried in this run (the receiver had just failed, or the run's time was spent)."""
    next_attempt: datetime | None = None
    detail: str = ""


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    FAILED = "failed"
    GAVE_UP = "gave_up"


@attrs.frozen
class DeliveryReport:
    """What one delivery run did, receiver by receiver, and each attempt's outcome."""

    receivers: tuple[ReceiverReport, ...] = ()
    attempts: tuple[tuple[Dispatch, Verdict], ...] = ()

    @property
    def undelivered(self) -> tuple[ReceiverReport, ...]:
        """The receivers of which something due was left undelivered by the run: failed, given up, or not tried."""
        return tuple(r for r in self.receivers if r.failed or r.gave_up or r.skipped)


@attrs.define
class Notifications:
    """The notifications use cases on one state: decide (sweep, refusals), deliver, read.

    ``notifier`` builds the receiver named (the composition root resolves its URL and keys); ``rehearsal``: the state
    keeps virtual time, and every notification says so. ``routes`` are the routes in force (the file's, or those
    derived from ``notification_channels``).
    """

    platform: Platform
    store: EventStore
    outbox: Outbox
    clock: Clock
    """The real clock: when attempts are made and due (virtual time never schedules a delivery)."""
    notifier: Callable[[str], Notifier]
    view: Callable[[str, str], tuple[EnvironmentView, Any]]
    """The view of a service's environment now, with the environment's state (``PipelineService``)."""
    stream_version: Callable[[str], int]
    schedule: RetrySchedule = RetrySchedule()
    rehearsal: bool = False
    _notifiers: dict[str, Notifier] = attrs.field(factory=dict, init=False, repr=False)

    @property
    def routes(self) -> tuple[Route, ...]:
        settings = self.platform.notifications
        channels = (
            self.platform.canary_strategy.failure_handling.notification_channels
            if self.platform.canary_strategy
            else ()
        )
        order = self.platform.promotion_order
        return settings.routes_for(channels, order[-1] if order else None)

    @property
    def declared(self) -> bool:
        return bool(self.platform.notifications.receivers)

    # ---- deciding ----------------------------------------------------------------------------------------------

    def sweep(self, services: Iterable[str] | None = None) -> int:
        """Decide the notifications of every event after each service's cursor and queue them, moving the cursor in
        the same transaction, a page of events at a time (``snapshots.SNAPSHOT_PAGE``: a long backlog is never held
        whole); returns how many dispatches were queued. Every service's, and the release stream's (its own cursor:
        ``domain.releases.RELEASE_STREAM``), unless *services* names which. A service whose cursor another process
        moved meanwhile is left to it (it queued the same notifications: their ids are the same)."""
        queued = 0
        names = list(services) if services is not None else [s.name for s in self.platform.all_services]
        if services is None:
            names.append(RELEASE_STREAM)
        for service in names:
            if service == RELEASE_STREAM:
                queued += self._sweep_releases() or 0
                continue
            while True:
                step = self._sweep_page(service)
                if step is None:
                    break
                queued += step
        return queued

    def _sweep_page(self, service: str) -> int | None:
        """One page of *service*'s events after its cursor, decided and queued: how many dispatches (``None``: nothing
        left, or another process moved the cursor first)."""
        cursor = self.outbox.notify_cursor(service)
        since, kept = cursor if cursor is not None else (0, "")
        page = snapshots.SNAPSHOT_PAGE
        if isinstance(self.store, PagedStore):
            events, version = self.store.page(service, since, page)
        else:
            events, version = self.store.load(service, since)
        if not events:
            return None
        if since + len(events) < version:  # more follow: never end a page on an analysis its stop may follow
            keep = max((i + 1 for i, e in enumerate(events) if not isinstance(e, AnalysisRecorded)), default=0)
            events = events[: keep or len(events) - 1] or events
        found, incidents = decide(
            self.platform, service, list(enumerate(events, since)), Incidents.from_text(kept), rehearsal=self.rehearsal
        )
        notes = list(found)
        for environment in dict.fromkeys(event.environment for event in events):
            if not self.declared or environment not in self.platform.promotion_order:
                continue  # no receiver: nothing to tell of waits (the cursor still moves)
            view, state = self.view(service, environment)
            note = waiting(service, view, state, self.clock.now(), rehearsal=self.rehearsal)
            if note is not None:
                notes.append(note)
        dispatches = self._dispatches(notes)
        moved = (service, None if cursor is None else since, since + len(events), incidents.to_text())
        return len(dispatches) if self.outbox.enqueue(dispatches, moved) else None

    def _sweep_releases(self) -> int | None:
        """The release stream's events after its cursor, decided and queued (``domain.notifying.decide_releases``):
        how many dispatches (``None``: nothing new, or another process moved the cursor first). A release's
        notifications name its parts, which its first event holds: the stream is read whole, and what came before the
        cursor folded into the releases as it left them (a release's events are few beside its parts' rollouts)."""
        cursor = self.outbox.notify_cursor(RELEASE_STREAM)
        since, kept = cursor if cursor is not None else (0, "")
        events, version = self.store.load(RELEASE_STREAM, 0)
        if version <= since:
            return None
        found, incidents = decide_releases(
            self.platform,
            releases(events[:since]),
            list(enumerate(events[since:], since)),
            Incidents.from_text(kept),
            rehearsal=self.rehearsal,
        )
        dispatches = self._dispatches(found)
        moved = (RELEASE_STREAM, None if cursor is None else since, version, incidents.to_text())
        return len(dispatches) if self.outbox.enqueue(dispatches, moved) else None

    def refused(self, service: str, environment: str, version: str, refusal: Refusal) -> int:
        """Queue what a refused promotion tells (nothing for a refusal that only says approvals are missing: the wait
        is told by the next sweep). Returns how many dispatches were queued."""
        note = refused(
            service,
            environment,
            version,
            refusal,
            stream_version=self.stream_version(service),
            at=self.clock.now(),
            rehearsal=self.rehearsal,
        )
        if note is None:
            return 0
        dispatches = self._dispatches([note])
        self.outbox.enqueue(dispatches)
        return len(dispatches)

    def _dispatches(self, notes: Iterable[Notification]) -> list[Dispatch]:
        receivers = self.platform.notifications.receivers
        if not receivers:
            return []
        routes = self.routes
        now = self.clock.now()
        found: list[Dispatch] = []
        paged: dict[str, list[str]] = {}  # the triggers of this batch, not queued yet: where each went
        for note in notes:
            names = list(route(note, routes, receivers))
            if note.action is PageAction.RESOLVE:  # where its trigger went, whatever the routes say of a resolve
                went = [*self.outbox.paged(note.incident_key), *paged.get(note.incident_key, ())]
                names += [name for name in dict.fromkeys(went) if name not in names]
            declared = {receiver.name for receiver in receivers}
            chosen = [name for name in names if name in declared]
            if note.action is PageAction.TRIGGER:
                paged.setdefault(note.incident_key, []).extend(chosen)
            found += [Dispatch(note, name, now, next_attempt=now) for name in chosen]
        return found

    # ---- delivering --------------------------------------------------------------------------------------------

    def deliver(self, *, budget: timedelta | None = None, limit: int = 200, waiting: bool = False) -> DeliveryReport:
        """Send what is due, the earliest first, until nothing is due or *budget* (real time) is spent. A receiver
        that fails once is not tried again in this run (its other notifications wait for their next attempt).
        *waiting*: also what waits for its next attempt (a person who fixed a receiver). Never raises for a
        receiver: every outcome is recorded."""
        start = self.clock.now()
        failing: set[str] = set()
        attempts: list[tuple[Dispatch, Verdict]] = []
        skipped: dict[str, int] = {}
        taken: set[tuple[str, str]] = set()
        for dispatch in self._due(datetime.max if waiting else start, limit):
            if dispatch.receiver in failing or (budget is not None and self.clock.now() - start > budget):
                skipped[dispatch.receiver] = skipped.get(dispatch.receiver, 0) + 1
                continue
            now = self.clock.now()
            if not self.outbox.claim(dispatch, now + CLAIM_HOLD):
                taken.add(dispatch.key)
                continue  # another process took it: its outcome is that process's to tell
            claimed = attrs.evolve(dispatch, attempts=dispatch.attempts + 1)
            left = None if budget is None else max(SEND_FLOOR, (budget - (now - start)).total_seconds())
            outcome = self._send(claimed, left)
            at = self.clock.now()
            verdict = self._settle(claimed, outcome, at)
            attempts.append((claimed, verdict))
            if verdict is not Verdict.DELIVERED:
                failing.add(dispatch.receiver)
        return DeliveryReport(self._summary(attempts, skipped, taken), tuple(attempts))

    def _due(self, when: datetime, limit: int) -> Iterator[Dispatch]:
        """Each dispatch due at *when*, once, a page of *limit* at a time, until none is left: one settled in this run
        may make the next of its incident due (first in, first out), and a run never leaves due ones unread — those
        it does not try are counted as skipped. Each page is read past those already seen (still due if skipped)."""
        seen: set[tuple[str, str]] = set()
        while True:
            fresh = [d for d in self.outbox.due(when, limit + len(seen)) if d.key not in seen]
            if not fresh:
                return
            for dispatch in fresh:
                seen.add(dispatch.key)
                yield dispatch

    def _send(self, dispatch: Dispatch, timeout: float | None) -> Delivery:
        try:
            notifier = self._notifiers.get(dispatch.receiver)
            if notifier is None:
                notifier = self._notifiers[dispatch.receiver] = self.notifier(dispatch.receiver)
            return notifier.send(dispatch.notification, timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - a receiver never fails a release: its error is its delivery's
            return Delivery(False, f"{type(exc).__name__}: {exc}")

    def _settle(self, dispatch: Dispatch, outcome: Delivery, at: datetime) -> Verdict:
        if outcome.delivered:
            self.outbox.settle(dispatch, state=DispatchState.DELIVERED, detail=outcome.detail, at=at, next_attempt=None)
            return Verdict.DELIVERED
        following = (
            None
            if outcome.permanent
            else self.schedule.next_attempt(
                f"{dispatch.notification.id}/{dispatch.receiver}",
                dispatch.attempts,
                at,
                dispatch.queued,
                outcome.retry_after,
            )
        )
        if following is None:
            why = "permanent failure" if outcome.permanent else f"gave up after {dispatch.attempts} attempts"
            detail = f"{outcome.detail} ({why})"
            self.outbox.settle(dispatch, state=DispatchState.GAVE_UP, detail=detail, at=at, next_attempt=None)
            return Verdict.GAVE_UP
        # kept, and shown later, as what it is then: a past attempt's outcome, with its time
        detail = f"last attempt {at.isoformat(timespec='seconds')}: {outcome.detail}"
        self.outbox.settle(dispatch, state=DispatchState.PENDING, detail=detail, at=at, next_attempt=following)
        return Verdict.FAILED

    def _summary(
        self, attempts: list[tuple[Dispatch, Verdict]], skipped: dict[str, int], taken: set[tuple[str, str]]
    ) -> tuple[ReceiverReport, ...]:
        counts: dict[str, dict[str, Any]] = {}
        for name, count in skipped.items():
            counts.setdefault(name, {"delivered": 0, "failed": 0, "gave_up": 0, "detail": ""})["skipped"] = count
        for dispatch, verdict in attempts:
            entry = counts.setdefault(dispatch.receiver, {"delivered": 0, "failed": 0, "gave_up": 0, "detail": ""})
            entry[verdict.value] += 1
        for dispatch in self.outbox.due(datetime.max, 10_000, in_turn=False):
            if dispatch.state is DispatchState.PENDING and dispatch.key not in taken:
                entry = counts.setdefault(dispatch.receiver, {"delivered": 0, "failed": 0, "gave_up": 0, "detail": ""})
                entry["queued"] = entry.get("queued", 0) + 1
                nxt = entry.get("next_attempt")
                if dispatch.next_attempt is not None and (nxt is None or dispatch.next_attempt < nxt):
                    entry["next_attempt"] = dispatch.next_attempt
                if dispatch.detail and not entry["detail"]:
                    entry["detail"] = dispatch.detail
                elif dispatch.attempts and not dispatch.detail:
                    entry["cut"] = True  # claimed and never settled: a sender that died, or one still sending
        for entry in counts.values():
            if entry.get("cut") and not entry["detail"]:
                entry["detail"] = "tried, no answer recorded yet: the attempt was cut short, or is still under way"
        order = [r.name for r in self.platform.notifications.receivers]
        names = sorted(counts, key=lambda name: (order.index(name) if name in order else len(order), name))
        return tuple(
            ReceiverReport(
                name,
                delivered=counts[name]["delivered"],
                failed=counts[name]["failed"],
                gave_up=counts[name]["gave_up"],
                queued=counts[name].get("queued", 0),
                skipped=counts[name].get("skipped", 0),
                next_attempt=counts[name].get("next_attempt"),
                detail=counts[name]["detail"],
            )
            for name in names
        )

    # ---- reading -----------------------------------------------------------------------------------------------

    def dispatches(self, service: str | None = None, limit: int | None = None) -> list[Dispatch]:
        return self.outbox.dispatches(service, limit)
