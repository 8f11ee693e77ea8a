"""Notifications of the pipeline's events: what a receiver is told, as pure values.

A :class:`Notification` is decided by the domain from the pipeline's events (and refusals); the application keeps
it in the state's outbox and hands it to a :class:`~findly_infra.application.ports.Notifier` per receiver, which
formats it for its service (a Slack message, a PagerDuty Events API v2 event, a signed webhook body).

``id`` is stable: the same notification decided again (a crash between the event and the outbox, a sweep of the
log) has the same id, so the outbox keeps it once and a receiver that deduplicates (a webhook's ``webhook-id``)
sees it once. ``incident_key`` is what a paging receiver deduplicates and resolves by (PagerDuty's ``dedup_key``):
one incident per service, environment and version.
"""

from __future__ import annotations

import enum
from datetime import datetime

import attrs

__all__ = [
    "Notification",
    "NotificationKind",
    "NotificationSettings",
    "NotificationSeverity",
    "PageAction",
    "Receiver",
    "ReceiverType",
    "Route",
    "SecretSource",
    "route",
]


class NotificationSeverity(enum.Enum):
    """How urgent a notification is; routes match on it (PagerDuty's ``severity`` takes these values too)."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class NotificationKind(enum.Enum):
    """What happened. The values are the names the platform file's routes and ``history`` use."""

    ROLLOUT_STARTED = "rollout_started"
    AWAITING_APPROVAL = "awaiting_approval"
    AWAITING_EVIDENCE = "awaiting_evidence"
    ROLLOUT_PAUSED = "rollout_paused"
    ROLLED_BACK = "rolled_back"
    ROLLOUT_ABORTED = "rollout_aborted"
    ROLLOUT_SUCCEEDED = "rollout_succeeded"
    PROMOTION_REFUSED = "promotion_refused"
    RELEASE_ENTERED = "release_entered"
    """A release of several services set out into an environment (``domain.releases``)."""
    RELEASE_RETURNING = "release_returning"
    """A release is being returned as a whole there: one of its parts failed, or a person rolled it back."""
    RELEASE_ROLLED_BACK = "release_rolled_back"
    """Every part the release did there was returned."""
    RELEASE_SUCCEEDED = "release_succeeded"
    """Every part of the release succeeded there."""


class PageAction(enum.Enum):
    """What a paging receiver does with a notification: open (or add to) the incident, or close it."""

    TRIGGER = "trigger"
    RESOLVE = "resolve"


@attrs.frozen(kw_only=True)
class Notification:
    """One thing to tell the receivers, with every fact a person needs to act on it.

    ``details`` are ordered (label, value) facts — the stage, the criterion, its value and threshold, the window,
    the rule that refused, who acted — which receivers show as fields. ``action`` is ``None`` for information a
    paging receiver does not page on (a rollout started).
    """

    id: str
    kind: NotificationKind
    severity: NotificationSeverity
    service: str
    environment: str
    version: str
    at: datetime
    summary: str
    details: tuple[tuple[str, str], ...] = ()
    incident_key: str = ""
    action: PageAction | None = None
    parts: tuple[str, ...] = ()
    """Of a release (``service`` is the release stream, ``version`` the release's name): its parts,
    ``service=version``, in the order they roll out. Empty for a service's own notifications."""

    @property
    def services(self) -> tuple[str, ...]:
        """The services the notification concerns: a release's parts' services, else its service."""
        if self.parts:
            return tuple(part.split("=", 1)[0] for part in self.parts)
        return (self.service,)


# ---- the platform file's receivers and routes ------------------------------------------------------------------


class ReceiverType(enum.Enum):
    """The services a receiver can be: a Slack incoming webhook, a PagerDuty Events API v2 service, a signed webhook."""

    SLACK = "slack"
    PAGERDUTY = "pagerduty"
    WEBHOOK = "webhook"


@attrs.frozen
class SecretSource:
    """Where a receiver's URL, key or signing secret is read when it is used: an environment variable (``env``) or a
    Secret Manager secret's latest version (``secret``). The platform file names the place, never the value."""

    kind: str
    """``env`` or ``secret``."""
    name: str

    def describe(self) -> str:
        """``$SLACK_WEBHOOK_URL``; ``Secret Manager secret pagerduty-routing-key``."""
        return f"${self.name}" if self.kind == "env" else f"Secret Manager secret {self.name}"


@attrs.frozen
class Receiver:
    """One declared receiver: its name (what routes and the seed's ``notification_channels`` call it), its type and
    where its settings are read (``url`` for Slack and webhooks, ``routing_key`` for PagerDuty, ``signing_secret``
    for webhooks; ``url`` for PagerDuty is the Events API's own unless given)."""

    name: str
    type: ReceiverType
    url: SecretSource | None = None
    routing_key: SecretSource | None = None
    signing_secret: SecretSource | None = None

    @property
    def pages(self) -> bool:
        """A paging receiver is told only of what opens or closes an incident (a notification with an action)."""
        return self.type is ReceiverType.PAGERDUTY

    def settings(self) -> tuple[tuple[str, SecretSource], ...]:
        """Each setting the receiver needs and where it is read, in the order they are resolved."""
        named = (("url", self.url), ("routing_key", self.routing_key), ("signing_secret", self.signing_secret))
        return tuple((field, source) for field, source in named if source is not None)


_RANK = {NotificationSeverity.INFO: 0, NotificationSeverity.WARNING: 1, NotificationSeverity.CRITICAL: 2}


@attrs.frozen
class Route:
    """Which receivers get which notifications. Empty ``environments``, ``kinds`` or ``services`` match every one;
    ``severity`` is the least severity matched (``warning`` matches warning and critical). ``services`` matches a
    notification of one of them, and a release's that has a part of one of them."""

    receivers: tuple[str, ...]
    environments: tuple[str, ...] = ()
    severity: NotificationSeverity = NotificationSeverity.INFO
    kinds: tuple[NotificationKind, ...] = ()
    services: tuple[str, ...] = ()

    def matches(self, notification: Notification) -> bool:
        return (
            (not self.environments or notification.environment in self.environments)
            and _RANK[notification.severity] >= _RANK[self.severity]
            and (not self.kinds or notification.kind in self.kinds)
            and (not self.services or any(service in self.services for service in notification.services))
        )


@attrs.frozen
class NotificationSettings:
    """The platform file's ``notifications:`` section: the receivers, and the routes (``None``: not written, so
    :meth:`routes_for` derives them from the seed's ``notification_channels``)."""

    receivers: tuple[Receiver, ...] = ()
    routes: tuple[Route, ...] | None = None

    def receiver(self, name: str) -> Receiver | None:
        return next((receiver for receiver in self.receivers if receiver.name == name), None)

    def routes_for(self, channels: tuple[str, ...], last_environment: str | None) -> tuple[Route, ...]:
        """The routes in force: the file's; else every notification of every environment to the receivers the
        canary strategy's ``notification_channels`` name (every receiver when it names none) — except paging
        receivers, which are told only of critical ones of the last environment (production)."""
        if self.routes is not None:
            return self.routes
        named = [name for name in channels if self.receiver(name) is not None] or [r.name for r in self.receivers]
        chosen = [receiver for receiver in self.receivers if receiver.name in named]
        quiet = tuple(receiver.name for receiver in chosen if not receiver.pages)
        paging = tuple(receiver.name for receiver in chosen if receiver.pages)
        routes = [Route(quiet)] if quiet else []
        if paging:
            scope = (last_environment,) if last_environment else ()
            routes.append(Route(paging, scope, NotificationSeverity.CRITICAL))
        return tuple(routes)


def route(notification: Notification, routes: tuple[Route, ...], receivers: tuple[Receiver, ...]) -> tuple[str, ...]:
    """The receivers *notification* goes to, in the order declared: every route that matches adds its receivers
    (none stops the others); a paging receiver gets only notifications that open or close an incident."""
    declared = {receiver.name: receiver for receiver in receivers}
    chosen = {name for r in routes if r.matches(notification) for name in r.receivers if name in declared}
    return tuple(
        receiver.name
        for receiver in receivers
        if receiver.name in chosen and (notification.action is not None or not receiver.pages)
    )
