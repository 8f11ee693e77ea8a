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
    "NotificationSeverity",
    "PageAction",
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
