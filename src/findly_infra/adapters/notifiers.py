"""The receivers of notifications (:class:`~findly_infra.application.ports.Notifier`): a Slack incoming webhook,
PagerDuty's Events API v2, and a generic webhook signed as the Standard Webhooks specification says. Each formats a
:class:`~findly_infra.domain.notifications.Notification` in its service's own format, within that service's
documented limits (a text too long is cut, never refused), sends it once with httpx (imported when one is sent), and
says what came of it as a :class:`~findly_infra.application.ports.Delivery`:

- accepted as the service documents it (a 2xx: Slack's 200 ``ok``, PagerDuty's 202, a webhook's 2xx) → delivered;
- 408, 429, a 5xx, a connection refused or reset, a timeout → not delivered, worth retrying (``retry_after`` from a
  ``Retry-After`` header, in seconds or as an HTTP-date);
- a 3xx (the Standard Webhooks specification: "update the webhook URL" rather than follow) and any other 4xx (a bad
  payload, a revoked webhook, a wrong key) → permanent: sending the same again cannot help.

``detail`` says the receiver, the status and the receiver's own short message. It never holds the URL, the routing
key, the secret or a signature: the receiver's answer and any error text are redacted of them before they are kept,
and httpx's own log line (``HTTP Request: POST <url>``, at INFO on the ``httpx`` logger) is redacted of them too.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from findly_infra.application.ports import Delivery
from findly_infra.domain.notifications import Notification, NotificationKind, PageAction
from findly_infra.domain.notifying import REHEARSAL

__all__ = [
    "PAGERDUTY_EVENTS_URL",
    "PagerDutyNotifier",
    "SlackNotifier",
    "WebhookNotifier",
    "classify",
    "retry_after",
]

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"

_TITLES = {
    NotificationKind.ROLLOUT_STARTED: "Rollout started",
    NotificationKind.AWAITING_APPROVAL: "Waiting for approval",
    NotificationKind.AWAITING_EVIDENCE: "Waiting for evidence",
    NotificationKind.ROLLOUT_PAUSED: "Rollout paused",
    NotificationKind.ROLLED_BACK: "Rolled back",
    NotificationKind.ROLLOUT_ABORTED: "Rollout aborted",
    NotificationKind.ROLLOUT_SUCCEEDED: "Rollout succeeded",
    NotificationKind.PROMOTION_REFUSED: "Promotion refused",
    NotificationKind.RELEASE_ENTERED: "Release entered",
    NotificationKind.RELEASE_RETURNING: "Release returned as a whole",
    NotificationKind.RELEASE_ROLLED_BACK: "Release rolled back",
    NotificationKind.RELEASE_SUCCEEDED: "Release succeeded",
}
_ELLIPSIS = "…"


# ---- secrets kept out of every line --------------------------------------------------------------------------------


class _Redactor(logging.Filter):
    """Installed once on the ``httpx`` logger: every record's message with the secrets of every notifier made
    replaced by ``***`` (httpx logs each request's full URL at INFO, and a Slack webhook's URL is its secret)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: dict[str, int] = {}

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            for secret in secrets:
                if secret:
                    self._secrets[secret] = self._secrets.get(secret, 0) + 1

    def redact(self, text: str) -> str:
        with self._lock:
            known = sorted(self._secrets, key=len, reverse=True)
        for secret in known:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a record whose arguments do not fit its message: leave it as it is
            return True
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_REDACTOR = _Redactor()
logging.getLogger("httpx").addFilter(_REDACTOR)


def _url_secrets(url: str) -> list[str]:
    """What of *url* is secret, in the forms a text may carry it: the URL itself, its path and each path segment
    long enough to be a token (a Slack webhook's ``T…/B…/<token>``), its query, its password."""
    found = [url]
    try:
        parts = urlsplit(url)
    except ValueError:
        return found
    if parts.path not in ("", "/"):
        found += [parts.path, unquote(parts.path)]
        found += [segment for segment in parts.path.split("/") if len(segment) >= 12]
    if parts.query:
        found.append(parts.query)
    if parts.password:
        found.append(parts.password)
    return found


def _redact(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted({secret for secret in secrets if secret and len(secret) >= 4}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# ---- sending and reading the answer --------------------------------------------------------------------------------


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date (from *now*,
    default the clock; a date past is 0). ``None`` when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        at = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return max(0.0, (at - (now or datetime.now(UTC))).total_seconds())


def classify(status: int, detail: str, retry_after_seconds: float | None = None) -> Delivery:
    """The :class:`Delivery` an HTTP *status* comes to: 2xx delivered; 408, 429 and 5xx worth retrying; any other
    (3xx, 4xx) permanent."""
    if 200 <= status < 300:
        return Delivery(delivered=True, detail=detail)
    if status in (408, 429) or status >= 500:
        return Delivery(delivered=False, detail=detail, permanent=False, retry_after=retry_after_seconds)
    return Delivery(delivered=False, detail=detail, permanent=True, retry_after=None)


def _transport_failure(service: str, error: Exception, timeout: float) -> Delivery:
    """A request that got no answer. Timeouts and network errors (refused, reset, DNS) are worth retrying; a URL
    httpx cannot send to at all (an unknown scheme, a malformed URL) is not. The error's text is not kept: httpx puts
    the URL in some of them."""
    import httpx

    if isinstance(error, httpx.TimeoutException):
        return Delivery(delivered=False, detail=f"{service}: no answer within {round(timeout, 1):g} s", permanent=False)
    if isinstance(error, httpx.ConnectError):
        return Delivery(delivered=False, detail=f"{service}: could not connect (refused or unreachable)")
    if isinstance(error, httpx.UnsupportedProtocol | httpx.InvalidURL | httpx.LocalProtocolError):
        return Delivery(delivered=False, detail=f"{service}: the URL cannot be sent to (check it)", permanent=True)
    if isinstance(error, httpx.TransportError):
        kind = type(error).__name__
        return Delivery(delivered=False, detail=f"{service}: the connection failed ({kind})", permanent=False)
    return Delivery(delivered=False, detail=f"{service}: the request failed ({type(error).__name__})", permanent=True)


def _post(
    service: str,
    url: str,
    *,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    secrets: list[str],
    message: Callable[[str], str],
) -> Delivery:
    """POST *body* to *url* once (no redirect followed) and read the answer as a :class:`Delivery` whose detail is
    ``"<service> <status> <message(body)>"``, redacted of *secrets*. *timeout* bounds the whole exchange, not each
    read: httpx's timeouts are per operation, so a receiver that dribbles its answer a byte at a time would hold the
    release for ever — the request runs in a worker thread, and when the time is up its client is closed (the worker
    ends at its next read) and the delivery says it timed out."""
    import httpx

    timeout = max(timeout, 0.001)
    client = httpx.Client(timeout=timeout, follow_redirects=False)
    answer: list[httpx.Response | BaseException] = []

    def request() -> None:
        try:
            answer.append(client.post(url, content=body, headers={"Content-Type": "application/json", **headers}))
        except BaseException as error:  # noqa: BLE001 - handed to the caller, who classifies it
            answer.append(error)

    worker = threading.Thread(target=request, name=f"notify-{service}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not answer:  # the deadline passed mid-exchange: abandon it
        with contextlib.suppress(Exception):
            client.close()
        return _transport_failure(service, httpx.TimeoutException("deadline"), timeout)
    client.close()
    response = answer[0]
    if isinstance(response, BaseException):
        if isinstance(response, httpx.HTTPError | httpx.InvalidURL | ValueError | UnicodeError):
            return _transport_failure(service, response, timeout)
        raise response
    said = message(response.text)
    detail = _redact(f"{service} {response.status_code} {said}".strip(), secrets)
    if 300 <= response.status_code < 400:
        detail += " (redirected: point the receiver at the new URL)"
    return classify(response.status_code, detail, retry_after(response.headers.get("Retry-After")))


def _within(own: float, left: float | None) -> float:
    """A request's deadline: the receiver's own timeout, or what is left of the caller's budget if that is less."""
    return own if left is None else max(0.0, min(own, left))


def _short(text: str, limit: int = 200) -> str:
    """A receiver's answer as one short line."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + _ELLIPSIS


# ---- cutting texts to the receivers' limits ------------------------------------------------------------------------


def _units(char: str) -> int:
    """UTF-16 code units of *char*: Slack and PagerDuty do not say how they count characters; counting those is never
    fewer than counting code points, so a text cut to them fits either way."""
    return 2 if ord(char) > 0xFFFF else 1


def truncate(text: str, limit: int) -> str:
    """*text* cut to at most *limit* characters (counted as UTF-16 code units), ending in ``…`` when cut."""
    if sum(_units(char) for char in text) <= limit:
        return text
    kept, used = [], _units(_ELLIPSIS)
    for char in text:
        used += _units(char)
        if used > limit:
            break
        kept.append(char)
    return "".join(kept) + _ELLIPSIS


def _details(notification: Notification) -> dict[str, str]:
    """The details as an object; a label given twice keeps each value (``label (2)``), an empty label is ``-``."""
    found: dict[str, str] = {}
    for label, value in notification.details:
        key, n = label or "-", 1
        while key in found:
            n += 1
            key = f"{label or '-'} ({n})"
        found[key] = value
    return found


def _at(notification: Notification) -> datetime:
    return notification.at if notification.at.tzinfo is not None else notification.at.replace(tzinfo=UTC)


def _timestamp(notification: Notification) -> str:
    """ISO 8601, UTC, with milliseconds (``2026-11-01T12:00:00.000Z``)."""
    return _at(notification).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---- Slack ---------------------------------------------------------------------------------------------------------

# Block Kit's limits (https://docs.slack.dev/reference/block-kit/blocks and each block's page; the message payload:
# https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks). The stand-in keeps the same rules, from
# the same pages, written apart.
_HEADER_TEXT = 150  # header block: plain_text, at most 150 characters
_SECTION_TEXT = 3000  # section block: text at most 3000 characters
_FIELDS = 10  # section block: at most 10 fields
_FIELD_TEXT = 2000  # each at most 2000 characters
_CONTEXT_TEXT = 3000  # a text object: at most 3000 characters
_FALLBACK_TEXT = 3000  # the top-level text, shown in notifications; kept as long as a section's


def _mrkdwn_escaped(text: str) -> str:
    """*text* for a ``mrkdwn`` field (the top-level ``text`` is one): "&", "<" and ">" as ``&amp;``, ``&lt;``,
    ``&gt;`` (https://docs.slack.dev/messaging/formatting-message-text, "Escaping text"), so that a value can neither
    mention ``<!channel>`` nor make a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escaped_truncate(text: str, limit: int) -> str:
    """*text* escaped for mrkdwn, then cut to *limit* without leaving half an entity."""
    escaped = truncate(_mrkdwn_escaped(text), limit)
    if escaped.endswith(_ELLIPSIS):
        head = escaped[: -len(_ELLIPSIS)]
        amp = head.rfind("&")
        if amp != -1 and ";" not in head[amp:]:
            escaped = head[:amp] + _ELLIPSIS
    return escaped


def _plain(text: str, limit: int) -> dict[str, Any]:
    """A ``plain_text`` text object (no formatting is read in it, so nothing needs escaping) of 1 to *limit*
    characters, never blank (``-`` stands for a text of spaces alone, which Block Kit may count as empty)."""
    cut = truncate(text, limit)
    return {"type": "plain_text", "text": cut if cut.strip() else "-", "emoji": True}


def _subject(notification: Notification) -> str:
    """``fn-posts 2.0.0 in production``; a release's: ``release 2026-12-06 in production`` (its ``service`` is the
    release stream's name, which says nothing to a person)."""
    if notification.parts:
        return f"release {notification.version} in {notification.environment}"
    return f"{notification.service} {notification.version} in {notification.environment}"


def slack_message(notification: Notification) -> dict[str, Any]:
    """The Slack message of *notification*: ``text`` (the fallback shown in notifications, escaped mrkdwn: the
    summary, which names its subject — or the title and subject, then the summary, when it does not) and
    ``blocks``: a header (the kind, service, version and environment; on a rehearsal its prefix first), a section
    with the summary, a section of up to ten fields with the details (the tenth says how many more there are), and a
    context line."""
    title = _TITLES.get(notification.kind, notification.kind.value)
    subject = _subject(notification)
    rehearsal = REHEARSAL if notification.summary.startswith(REHEARSAL) else ""
    header = f"{rehearsal}{title}: {subject}"
    summary = notification.summary if notification.summary.strip() else header
    said = summary[len(rehearsal) :]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(header, _HEADER_TEXT)},
        {"type": "section", "text": _plain(summary, _SECTION_TEXT)},
    ]
    details = [f"{label}\n{value}" if label else value for label, value in notification.details]
    if len(details) > _FIELDS:
        rest = details[_FIELDS - 1 :]
        details = [*details[: _FIELDS - 1], f"… {len(rest)} more\n" + "\n".join(rest)]
    if details:
        blocks.append({"type": "section", "fields": [_plain(field, _FIELD_TEXT) for field in details]})
    context = (
        f"{notification.severity.value} · {notification.service} · {notification.environment} · "
        f"{notification.version} · {notification.kind.value}"
    )
    blocks.append({"type": "context", "elements": [_plain(context, _CONTEXT_TEXT)]})
    # the summary names its subject ("fn-posts 2.0.0 in production: rolled back …"): the fallback is the summary
    # alone, its rehearsal prefix (if any) first; one that does not name it gets the header's title and subject
    named = summary == header or subject in said
    fallback = _escaped_truncate(summary if named else f"{rehearsal}{title}: {subject}: {said}", _FALLBACK_TEXT)
    return {"text": fallback, "blocks": blocks}


def _slack_said(body: str) -> str:
    # Slack answers a short string in the body ("ok", "invalid_payload", "no_service", ...)
    return _short(body, 100) if body else ""


class SlackNotifier:
    """A Slack incoming webhook (https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks): the
    notification as a Block Kit message, POSTed as JSON to *url* — which is the webhook's secret, and never shown."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self._url = url
        self._timeout = timeout
        self._secrets = _url_secrets(url)
        _REDACTOR.add(self._secrets)

    def __repr__(self) -> str:
        return "SlackNotifier(url=***)"

    def send(self, notification: Notification, *, timeout: float | None = None) -> Delivery:
        body = json.dumps(slack_message(notification)).encode()
        return _post(
            "slack",
            self._url,
            body=body,
            headers={},
            timeout=_within(self._timeout, timeout),
            secrets=self._secrets,
            message=_slack_said,
        )


# ---- PagerDuty -----------------------------------------------------------------------------------------------------

# The Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/; PagerDuty/developer-docs,
# docs/events-API-v2/02-Trigger-Events.md and 01-Overview.md)
_SUMMARY = 1024  # payload.summary: "The maximum permitted length of this property is 1024 characters"
_DEDUP_KEY = 255  # dedup_key: "The maximum permitted length of this property is 255 characters"
_EVENT_BYTES = 512 * 1024  # "Events API payloads are limited to 512 KB"
_DETAILS_BUDGET = 400 * 1024  # what the custom details may take of it, the rest left to the event's own fields


def dedup_key(incident_key: str) -> str:
    """*incident_key* as a PagerDuty ``dedup_key``: itself when it fits 255 characters, else ``sha256:`` and its
    digest — the same key for the same incident, so that a resolve finds its trigger."""
    if incident_key and len(incident_key) <= _DEDUP_KEY:
        return incident_key
    return "sha256:" + hashlib.sha256(incident_key.encode()).hexdigest()


def _bounded_details(details: dict[str, str], budget: int) -> dict[str, str]:
    """*details* cut so that their JSON takes at most *budget* bytes: each value gets an equal share of what is left,
    the labels too many to fit dropped (and counted under ``…``)."""
    size = len(json.dumps(details).encode())
    if size <= budget:
        return details
    kept: dict[str, str] = {}
    used, items = 2, list(details.items())
    for index, (label, value) in enumerate(items):
        share = (budget - used) // max(1, len(items) - index) - 8
        label_cut = truncate(label, 200)
        if share < len(json.dumps(label_cut).encode()) + 16:
            kept["…"] = f"{len(items) - index} more details not sent (too large)"
            break
        room = share - len(json.dumps(label_cut).encode())
        value_cut = value
        while len(json.dumps(value_cut).encode()) > room:
            value_cut = truncate(value_cut, max(1, min(len(value_cut) - 1, room // 2)))
        kept[label_cut] = value_cut
        used += len(json.dumps({label_cut: value_cut}).encode())
    return kept


def pagerduty_event(notification: Notification, routing_key: str) -> dict[str, Any] | None:
    """The Events API v2 event of *notification*: a ``trigger`` with its payload, or a ``resolve``, both with the
    ``dedup_key`` of its incident key; ``None`` when the notification pages no one (``action`` is ``None``)."""
    if notification.action is None:
        return None
    key = dedup_key(notification.incident_key or notification.id)
    if notification.action is PageAction.RESOLVE:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": key}
    title = _TITLES.get(notification.kind, notification.kind.value)
    summary = (
        notification.summary
        if notification.summary.strip()
        else f"{title}: {notification.service} {notification.version}"
    )
    details = {
        "service": notification.service,
        "environment": notification.environment,
        "version": notification.version,
        "event": notification.kind.value,
        **_details(notification),
    }
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": key,
        "client": "findly-infra",
        "payload": {
            "summary": truncate(summary, _SUMMARY),
            "source": truncate(f"{notification.service}/{notification.environment}", 255),
            "severity": notification.severity.value,  # info, warning, critical: three of PagerDuty's four
            "timestamp": _timestamp(notification),
            "component": truncate(notification.service, 255),
            "group": truncate(notification.environment, 255),
            "class": notification.kind.value,
            "custom_details": _bounded_details(details, _DETAILS_BUDGET),
        },
    }


def _pagerduty_said(body: str) -> str:
    """PagerDuty's answer in short: its ``message``, and its ``errors`` for an invalid event."""
    try:
        answer = json.loads(body)
    except ValueError:
        return _short(body)
    if not isinstance(answer, dict):
        return _short(body)
    said = str(answer.get("message") or answer.get("status") or "")
    errors = answer.get("errors")
    if isinstance(errors, list) and errors:
        said += ": " + "; ".join(str(error) for error in errors)
    return _short(said, 300)


class PagerDutyNotifier:
    """A PagerDuty service's Events API v2 integration: a notification whose ``action`` is ``TRIGGER`` opens (or adds
    to) the incident of its ``incident_key``, ``RESOLVE`` closes it. One whose action is ``None`` pages no one and is
    not sent: the delivery says so, delivered (there is nothing to retry). The *routing_key* (the integration key) is
    never shown."""

    def __init__(self, routing_key: str, *, url: str = PAGERDUTY_EVENTS_URL, timeout: float = 10.0) -> None:
        self._routing_key = routing_key
        self._url = url
        self._timeout = timeout
        self._secrets = [routing_key, *(_url_secrets(url) if url != PAGERDUTY_EVENTS_URL else [])]
        _REDACTOR.add(self._secrets)

    def __repr__(self) -> str:
        return "PagerDutyNotifier(routing_key=***)"

    def send(self, notification: Notification, *, timeout: float | None = None) -> Delivery:
        event = pagerduty_event(notification, self._routing_key)
        if event is None:
            return Delivery(
                delivered=True, detail=f"pagerduty: not sent ({notification.kind.value} pages no one: no page action)"
            )
        body = json.dumps(event).encode()
        if len(body) > _EVENT_BYTES:  # the details are bounded well below: only a pathological summary gets here
            return Delivery(delivered=False, detail="pagerduty: the event is over 512 KB", permanent=True)
        return _post(
            "pagerduty",
            self._url,
            body=body,
            headers={},
            timeout=_within(self._timeout, timeout),
            secrets=self._secrets,
            message=_pagerduty_said,
        )


# ---- Standard Webhooks ---------------------------------------------------------------------------------------------

# The Standard Webhooks specification 1.0.0 (https://www.standardwebhooks.com/; github.com/standard-webhooks/
# standard-webhooks, spec/standard-webhooks.md): "webhook-id", "webhook-timestamp" (integer unix seconds of the
# attempt), "webhook-signature: v1,<base64 of HMAC-SHA256 of '{id}.{timestamp}.{body}'>" with the secret's key;
# secrets "base64 encoded, prefixed with whsec_", "Between 24 bytes (192 bits) and 64 bytes"; the id and timestamp may
# not contain "."; the body JSON with "type", "timestamp" (ISO 8601) and "data".
_SECRET_PREFIX = "whsec_"


def _webhook_key(secret: str) -> bytes:
    if not secret.startswith(_SECRET_PREFIX):
        raise ValueError(
            "a signed webhook's secret is whsec_ followed by the base64 of 24 to 64 random bytes "
            "(the Standard Webhooks form; e.g. python -c \"import base64, os; print('whsec_' + "
            'base64.b64encode(os.urandom(32)).decode())")'
        )
    try:
        key = base64.b64decode(secret[len(_SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a signed webhook's secret is whsec_ followed by base64: what follows whsec_ is not") from None
    if not 24 <= len(key) <= 64:
        raise ValueError(
            f"a signed webhook's secret holds 24 to 64 bytes (the Standard Webhooks specification); this one {len(key)}"
        )
    return key


def webhook_id(notification: Notification) -> str:
    """The ``webhook-id`` of *notification*: its stable id, so that a receiver deduplicates retries by it; an id the
    specification does not allow (with a ``.``, a space or a character outside printable ASCII) becomes ``ntf_`` and
    a digest of it — the same for the same notification."""
    ident = notification.id
    if ident and len(ident) <= 255 and all("!" <= char <= "~" and char != "." for char in ident):
        return ident
    return "ntf_" + hashlib.sha256(ident.encode()).hexdigest()[:40]


def webhook_body(notification: Notification) -> dict[str, Any]:
    """The signed webhook's JSON: ``type`` (the kind: ``rolled_back``, ``awaiting_approval``…), ``timestamp`` (when
    it happened, ISO 8601) and ``data``: ``id``, ``service``, ``environment``, ``version``, ``severity``,
    ``summary``, ``details`` (an object, label → value), ``incident_key`` and ``action`` (``trigger``, ``resolve``
    or ``null``); a release's (``service`` is ``_releases``, ``version`` the release's name) also ``parts``, a list of
    ``service=version`` in the order they roll out."""
    body: dict[str, Any] = {
        "type": notification.kind.value,
        "timestamp": _timestamp(notification),
        "data": {
            "id": notification.id,
            "service": notification.service,
            "environment": notification.environment,
            "version": notification.version,
            "severity": notification.severity.value,
            "summary": notification.summary,
            "details": _details(notification),
            "incident_key": notification.incident_key,
            "action": None if notification.action is None else notification.action.value,
        },
    }
    if notification.parts:
        body["data"]["parts"] = list(notification.parts)
    return body


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value of one signature: ``v1,`` and the base64 of HMAC-SHA256 over
    ``{id}.{timestamp}.{body}``."""
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _webhook_said(body: str) -> str:
    return _short(body, 200)


class WebhookNotifier:
    """A generic webhook, its body signed as Standard Webhooks say: ``webhook-id`` (the notification's stable id),
    ``webhook-timestamp`` (this attempt's, unix seconds) and ``webhook-signature``. *secret* is ``whsec_`` and the
    base64 of 24 to 64 bytes — anything else is refused here with a ``ValueError`` that does not show it (a secret
    of another form would sign differently from every Standard Webhooks library, and fail at the receiver).
    *clock* gives the attempt's time (seconds since the epoch)."""

    def __init__(self, url: str, secret: str, *, timeout: float = 15.0, clock: Callable[[], float] = time.time) -> None:
        self._url = url
        self._key = _webhook_key(secret)
        self._timeout = timeout
        self._clock = clock
        self._secrets = [*_url_secrets(url), secret, secret[len(_SECRET_PREFIX) :]]
        _REDACTOR.add(self._secrets)

    def __repr__(self) -> str:
        return "WebhookNotifier(url=***, secret=***)"

    def send(self, notification: Notification, *, timeout: float | None = None) -> Delivery:
        body = json.dumps(webhook_body(notification), separators=(",", ":")).encode()
        message_id, timestamp = webhook_id(notification), int(self._clock())
        signature = sign(self._key, message_id, timestamp, body)
        headers = {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}
        return _post(
            "webhook",
            self._url,
            body=body,
            headers=headers,
            timeout=_within(self._timeout, timeout),
            secrets=[*self._secrets, signature[3:]],
            message=_webhook_said,
        )
