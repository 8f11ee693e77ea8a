"""Stand-ins for the receivers of notifications, on 127.0.0.1, for your own tests of what reaches people: a Slack
incoming webhook, PagerDuty's Events API v2, a receiver of signed webhooks (Standard Webhooks), and a receiver of
Alertmanager's own webhook. One HTTP server serves them all, each under its own path::

    with ReceiversStandIn() as receivers:
        receivers.slack_url          # http://127.0.0.1:P/slack/services/T0FINDLY/B0DEPLOYS/<token>
        receivers.pagerduty_url      # http://127.0.0.1:P/v2/enqueue, with receivers.routing_key
        receivers.webhook_url        # http://127.0.0.1:P/webhook/findly, signed with receivers.webhook_secret
        receivers.alertmanager_url   # http://127.0.0.1:P/alertmanager/findly (Alertmanager's webhook_configs)
        ...
        receivers.slack.messages, receivers.pagerduty.incidents, receivers.webhook.messages

Each checks a request as its service's published documentation says the real one does, and answers as it does (each
rule is cited beside it); each keeps what it accepted, parsed, and every request it answered (``requests``). Each can
be made to fail for a while as real services do: :meth:`Receiver.down` (503), :meth:`Receiver.throttle` (429 with
``Retry-After``), :meth:`Receiver.revoke` (a webhook removed, a channel archived: answered with the service's own
error until :meth:`Receiver.restore`), and :meth:`ReceiversStandIn.refuse` (the whole server stops listening:
connection refused, until :meth:`ReceiversStandIn.resume` listens again on the same port).

What they do not do is listed in ``docs/testing.md``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any
from urllib.parse import parse_qs, unquote

import attrs

__all__ = [
    "AlertmanagerReceiverStandIn",
    "Incident",
    "PagerDutyStandIn",
    "Received",
    "Receiver",
    "ReceiversStandIn",
    "SlackMessage",
    "SlackStandIn",
    "WebhookMessage",
    "WebhookStandIn",
    "http_date",
    "webhook_key",
    "webhook_secret",
]


@attrs.frozen
class Received:
    """One request a receiver answered, accepted or not: its path (without the base URL), headers (names in lower
    case), body as sent, and the status and body of the answer."""

    path: str
    headers: Mapping[str, str]
    body: bytes
    status: int
    answer: str


@attrs.frozen
class Answer:
    status: int
    body: str = ""
    content_type: str = "text/plain; charset=utf-8"
    headers: Mapping[str, str] = attrs.field(factory=dict)


def _json_answer(status: int, body: Any, **headers: str) -> Answer:
    return Answer(status, json.dumps(body), "application/json", headers)


class Receiver:
    """What every receiver stand-in shares: the requests it answered, and the failures it can be made to have."""

    name = "receiver"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.requests: list[Received] = []
        """Every request answered, in order (accepted, refused by a rule, or failed on purpose)."""
        self._down_requests = 0
        self._down_until = 0.0
        self._down_retry_after: str | None = None
        self._throttled = 0
        self._throttle_retry_after: str | None = None
        self.revoked: str | None = None
        """How this receiver is revoked (:meth:`revoke`), or ``None``."""

    # ---- failures, as real services have them -------------------------------------------------------------------

    def down(
        self, *, requests: int | None = None, seconds: float | None = None, retry_after: float | str | None = None
    ) -> None:
        """Answer 503 Service Unavailable to the next *requests* requests, or for the next *seconds* seconds (with a
        ``Retry-After`` header when *retry_after* is given: seconds, or an HTTP-date string)."""
        if (requests is None) == (seconds is None):
            raise ValueError("down: give requests=N or seconds=S")
        with self._lock:
            self._down_requests = requests or 0
            self._down_until = time.monotonic() + seconds if seconds is not None else 0.0
            self._down_retry_after = None if retry_after is None else _retry_after(retry_after)

    def throttle(self, requests: int, retry_after: float | str | None = 1) -> None:
        """Answer 429 Too Many Requests to the next *requests* requests, with ``Retry-After: retry_after`` (seconds,
        or an HTTP-date string; ``None``: no header). The default is the service's own where it documents one
        (Slack: a ``Retry-After``; PagerDuty documents none, so its stand-in sends none unless asked)."""
        with self._lock:
            self._throttled = requests
            self._throttle_retry_after = None if retry_after is None else _retry_after(retry_after)

    def revoke(self, how: str | None = None) -> None:
        """Stand for a receiver revoked on the service's side (each receiver names the ways it knows); every request
        is answered with the service's own error for it until :meth:`restore`."""
        how = how or self.revocations()[0]
        if how not in self.revocations():
            raise ValueError(f"revoke: one of {', '.join(self.revocations())}")
        with self._lock:
            self.revoked = how

    def restore(self) -> None:
        """Back to normal: no outage, no throttling, not revoked."""
        with self._lock:
            self._down_requests = self._throttled = 0
            self._down_until = 0.0
            self.revoked = None

    def revocations(self) -> tuple[str, ...]:
        return ("revoked",)

    # ---- answering ----------------------------------------------------------------------------------------------

    def answer(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        with self._lock:
            answer = self._failure() or self._revoked_answer() or self._handle(method, path, headers, body)
            self.requests.append(Received(path, dict(headers), body, answer.status, answer.body))
            return answer

    def _failure(self) -> Answer | None:
        if self._down_requests > 0 or time.monotonic() < self._down_until:
            self._down_requests = max(0, self._down_requests - 1)
            extra = {} if self._down_retry_after is None else {"Retry-After": self._down_retry_after}
            return self._unavailable(extra)
        if self._throttled > 0:
            self._throttled -= 1
            extra = {} if self._throttle_retry_after is None else {"Retry-After": self._throttle_retry_after}
            return self._rate_limited(extra)
        return None

    def _unavailable(self, headers: dict[str, str]) -> Answer:
        return Answer(503, "service unavailable", headers=headers)

    def _rate_limited(self, headers: dict[str, str]) -> Answer:
        return Answer(429, "too many requests", headers=headers)

    def _revoked_answer(self) -> Answer | None:
        return None if self.revoked is None else Answer(410, "gone")

    def _handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        raise NotImplementedError


def _retry_after(value: float | str) -> str:
    """A ``Retry-After`` value (RFC 9110 §10.2.3): delay-seconds (a non-negative integer), or an HTTP-date as given."""
    if isinstance(value, str):
        return value
    return str(max(0, round(value)))


def http_date(at: datetime) -> str:
    """*at* as an HTTP-date (IMF-fixdate, RFC 9110 §5.6.7), for :meth:`Receiver.throttle`'s ``retry_after``."""
    return format_datetime(at, usegmt=True)


# ---- Slack ----------------------------------------------------------------------------------------------------------

# Slack's incoming webhooks, as documented:
# - https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks (formerly
#   https://api.slack.com/messaging/webhooks): a POST of a JSON message payload to
#   https://hooks.slack.com/services/T…/B…/…, answered 200 with the body "ok"; "Handling errors": the error is a short
#   string in the body (invalid_payload, no_text, action_prohibited, posting_to_general_channel_denied,
#   channel_not_found, channel_is_archived, no_service, invalid_token, no_team, team_disabled, too_many_attachments).
#   Of these the stand-in answers invalid_payload, too_many_attachments, and those revoke() stands for (below);
#   posting_to_general_channel_denied, no_team and team_disabled it never answers (docs/testing.md says so).
# - the status each comes with: https://api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks
#   (400 invalid_payload / user_not_found, 403 action_prohibited, 404 channel_not_found, 410 channel_is_archived,
#   500 rollup_error); a block that breaks Block Kit's rules is 400 "invalid_blocks" (as users of the real service
#   report it: bugsink/bugsink#317, a header over 150 characters; sourcegraph/sourcegraph-public-snapshot#49979, a
#   text over 3000)
# - rate limits: https://docs.slack.dev/apis/web-api/rate-limits ("Incoming webhooks": about one message a second,
#   then HTTP 429 Too Many Requests with a Retry-After header); the body is "a JSON object" (the same page as it was
#   at https://api.slack.com/docs/rate-limits: "a HTTP 429 Too Many Requests error, a JSON object containing the
#   number of calls you have been making, and a Retry-After header"), its keys not published.

# Slack's revocations: the body and the status of each. channel_is_archived 410, channel_not_found 404 and
# action_prohibited 403 are the changelog's above; no_service 404 (the webhook itself disabled or removed) and
# invalid_token 403 (a token that is not the webhook's) are assumed: the webhook page names the strings, no published
# source gives their status.
_SLACK_REVOKED = {
    "no_service": 404,
    "channel_is_archived": 410,
    "channel_not_found": 404,
    "action_prohibited": 403,
    "invalid_token": 403,
}

# Block Kit's limits (https://docs.slack.dev/reference/block-kit/blocks and each block's page):
_MAX_BLOCKS = 50  # "You can include up to 50 blocks in each message"
_MAX_BLOCK_ID = 255  # block_id: "Maximum length for this field is 255 characters" (every block)
_MAX_SECTION_TEXT = 3000  # section-block: text "Minimum length ... is 1 and maximum length is 3000 characters"
_MAX_FIELDS = 10  # section-block: fields "Maximum number of items is 10"
_MAX_FIELD_TEXT = 2000  # section-block: "Maximum length for the text in each item is 2000 characters"
_MAX_HEADER_TEXT = 150  # header-block: "a plain_text text object. Maximum length ... is 150 characters"
_MAX_CONTEXT_ELEMENTS = 10  # context-block: elements "Maximum number of items is 10"
_MAX_TEXT_OBJECT = 3000  # composition-objects/text-object: text "minimum length is 1 and maximum length is 3000"
# chat.postMessage's (and so a webhook's) legacy attachments: "too_many_attachments: ... A maximum of 100
# attachments are allowed on a message" (https://docs.slack.dev/reference/methods/chat.postMessage, Errors)
_MAX_ATTACHMENTS = 100
_TEXT_TYPES = ("plain_text", "mrkdwn")


@attrs.frozen
class SlackMessage:
    """A message a Slack webhook accepted: the hook's name (its channel) and the payload, parsed."""

    hook: str
    payload: Mapping[str, Any]

    @property
    def text(self) -> str:
        """The message's top-level ``text`` (the notification's fallback), or ``""``."""
        value = self.payload.get("text", "")
        return value if isinstance(value, str) else ""

    @property
    def blocks(self) -> list[Mapping[str, Any]]:
        value = self.payload.get("blocks", [])
        return value if isinstance(value, list) else []

    def texts(self) -> list[str]:
        """Every text of the message, its blocks' and attachments' included, in order (for assertions)."""
        found: list[str] = []

        def walk(value: Any) -> None:
            if isinstance(value, Mapping):
                for key, item in value.items():
                    if key in ("text", "title", "value", "pretext", "fallback") and isinstance(item, str):
                        found.append(item)
                    else:
                        walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

        walk(self.payload)
        return found


class SlackStandIn(Receiver):
    """Slack's incoming webhooks, under ``/slack/services/T…/B…/<token>`` (the path of
    ``https://hooks.slack.com/services/T…/B…/…``). :meth:`add_hook` makes one; a path that names no hook is 404
    ``no_service`` (the string is the webhook page's for a removed webhook; the status is assumed)."""

    name = "slack"

    def __init__(self) -> None:
        super().__init__()
        self._hooks: dict[str, str] = {}
        self.messages: list[SlackMessage] = []
        """The messages accepted, in order."""

    def add_hook(self, name: str = "deploys") -> str:
        """A new incoming webhook posting to channel *name*; its path (append it to the server's URL)."""
        team, bot = "T0FINDLY", f"B{secrets.token_hex(4).upper()}"
        path = f"/slack/services/{team}/{bot}/{secrets.token_urlsafe(18)}"
        with self._lock:
            self._hooks[path] = name
        return path

    def revocations(self) -> tuple[str, ...]:
        return tuple(_SLACK_REVOKED)

    def _revoked_answer(self) -> Answer | None:
        if self.revoked is None:
            return None
        return Answer(_SLACK_REVOKED[self.revoked], self.revoked, "text/html")

    def _unavailable(self, headers: dict[str, str]) -> Answer:
        # assumed: no published source gives the body of a Slack 503
        return Answer(503, "service_unavailable", "text/html", headers)

    def _rate_limited(self, headers: dict[str, str]) -> Answer:
        # a JSON object with Retry-After (the rate limits page, above); its keys are assumed (the Web API's error form)
        return _json_answer(429, {"ok": False, "error": "rate_limited"}, **headers)

    def _handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        hook = self._hooks.get(path)
        if hook is None:  # the string is the webhook page's for a removed webhook; the 404 is assumed
            return Answer(404, "no_service", "text/html")
        if method != "POST":  # assumed: what a webhook answers to another method is not published
            return Answer(405, "invalid_method", "text/html")
        payload = _slack_payload(headers.get("content-type", ""), body)
        if not isinstance(payload, dict):
            return Answer(400, "invalid_payload", "text/html")
        error = _slack_message_error(payload)
        if error is not None:
            return Answer(400, error, "text/html")
        self.messages.append(SlackMessage(hook, payload))
        return Answer(200, "ok", "text/html")


def _slack_payload(content_type: str, body: bytes) -> Any:
    """The message as Slack reads it: a JSON body, or (the legacy form post) a form whose ``payload`` field is the
    JSON ("send a JSON payload in a form field named payload": https://api.slack.com/legacy/custom-integrations/
    messaging/webhooks). Under ``application/json`` only the JSON body is read (a ``payload=…`` form sent so is
    ``invalid_payload``); under ``application/x-www-form-urlencoded`` or ``text/html`` a raw JSON body is read as well
    as a ``payload`` field (both as the real service was tried: mattermost/mattermost#2972; fluxcd/flagger#1031, curl
    -d of raw JSON, which sends the form type, read as JSON). Another content type, or none, is read as the form
    types are (assumed)."""
    try:
        text = body.decode()
        if content_type.split(";", maxsplit=1)[0].strip().lower() == "application/json":
            return json.loads(text)
        try:
            return json.loads(text)
        except ValueError:
            return json.loads(parse_qs(text).get("payload", [""])[-1])
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def _slack_message_error(payload: dict[str, Any]) -> str | None:  # noqa: PLR0911 - one answer per documented error
    """The error string Slack answers a message payload with, or ``None``."""
    text, blocks, attachments = payload.get("text"), payload.get("blocks"), payload.get("attachments")
    if text is not None and not isinstance(text, str):
        return "invalid_payload"
    # invalid_blocks_format and invalid_attachments are chat.postMessage's error names
    # (https://docs.slack.dev/reference/methods/chat.postMessage, Errors); that a webhook answers them, with 400, for
    # blocks or attachments that are not lists is assumed
    if blocks is not None and not isinstance(blocks, list):
        return "invalid_blocks_format"
    if attachments is not None and not isinstance(attachments, list):
        return "invalid_attachments"
    # a message needs something to show (text is required unless blocks or attachments are given:
    # https://docs.slack.dev/reference/methods/chat.postMessage, "text, blocks or attachments"). The real webhook
    # answers 400 "missing_text_or_fallback_or_attachments" (streaak/keyhacks README, "Slack Webhook": a POST of
    # {"text":""}; hastic-zzz/hastic-server#708, 400 for a payload without text), though the webhook page still names
    # "no_text" (fluxcd/flagger#1031 saw no_text in 2021)
    if not text and not blocks and not attachments:
        return "missing_text_or_fallback_or_attachments"
    if blocks:
        if len(blocks) > _MAX_BLOCKS:
            return "invalid_blocks"
        for block in blocks:
            if not isinstance(block, dict) or _block_error(block):
                return "invalid_blocks"
    if attachments:
        if len(attachments) > _MAX_ATTACHMENTS:
            return "too_many_attachments"
        if not all(isinstance(attachment, dict) for attachment in attachments):
            return "invalid_attachments"
    return None


def _text_object_ok(value: Any, *, limit: int = _MAX_TEXT_OBJECT, types: tuple[str, ...] = _TEXT_TYPES) -> bool:
    """A text object (https://docs.slack.dev/reference/block-kit/composition-objects/text-object): ``type``
    plain_text or mrkdwn, ``text`` 1 to *limit* characters; ``emoji`` only with plain_text, ``verbatim`` only with
    mrkdwn."""
    if not isinstance(value, dict) or value.get("type") not in types:
        return False
    text = value.get("text")
    if not isinstance(text, str) or not 1 <= len(text) <= limit:
        return False
    if "emoji" in value and (value["type"] != "plain_text" or not isinstance(value["emoji"], bool)):
        return False
    return "verbatim" not in value or (value["type"] == "mrkdwn" and isinstance(value["verbatim"], bool))


def _block_error(block: dict[str, Any]) -> bool:  # noqa: PLR0911 - one rule per block type
    """Whether *block* breaks the rules of its type (the blocks a notification uses — header, section, divider,
    context — are checked to the letter; the other known types are accepted by their name alone, their fields not
    checked; an unknown type is refused)."""
    block_id = block.get("block_id")
    if block_id is not None and (not isinstance(block_id, str) or not 1 <= len(block_id) <= _MAX_BLOCK_ID):
        return True
    kind = block.get("type")
    if kind == "header":  # https://docs.slack.dev/reference/block-kit/blocks/header-block
        return not _text_object_ok(block.get("text"), limit=_MAX_HEADER_TEXT, types=("plain_text",))
    if kind == "section":  # https://docs.slack.dev/reference/block-kit/blocks/section-block
        text, fields = block.get("text"), block.get("fields")
        if text is None and fields is None:  # "fields: Required if no text is provided"
            return True
        if text is not None and not _text_object_ok(text, limit=_MAX_SECTION_TEXT):
            return True
        if fields is not None:
            if not isinstance(fields, list) or not 1 <= len(fields) <= _MAX_FIELDS:
                return True
            if not all(_text_object_ok(field, limit=_MAX_FIELD_TEXT) for field in fields):
                return True
        return False
    if kind == "divider":  # https://docs.slack.dev/reference/block-kit/blocks/divider-block
        return False
    if kind == "context":  # https://docs.slack.dev/reference/block-kit/blocks/context-block
        elements = block.get("elements")
        if not isinstance(elements, list) or not 1 <= len(elements) <= _MAX_CONTEXT_ELEMENTS:
            return True
        return not all(
            _text_object_ok(element) or (isinstance(element, dict) and element.get("type") == "image")
            for element in elements
        )
    # the other types of https://docs.slack.dev/reference/block-kit/blocks, by their name only (an image block without
    # image_url is accepted here, where Slack would refuse it: docs/testing.md says so)
    return kind not in ("actions", "image", "rich_text", "video", "file", "input", "markdown", "table")


# ---- PagerDuty ------------------------------------------------------------------------------------------------------

# PagerDuty's Events API v2, as documented (PagerDuty/developer-docs, docs/events-API-v2/02-Trigger-Events.md,
# published at https://developer.pagerduty.com/docs/events-api-v2/trigger-events/; and 01-Overview.md, "Response
# Codes & Retry Logic", "Size Limits"):
# - routing_key: required, "the 32 character Integration Key"; and alphanumeric (the real service's answer to a key of
#   other characters, both errors in one: blockpane/tenderduty#10)
# - event_action: required, trigger, acknowledge or resolve
# - dedup_key: at most 255 characters; generated (and answered) when a trigger has none; acknowledge and resolve
#   need one ("Acknowledge or resolve events without a currently open alert will not create a new one")
# - payload.summary (required, at most 1024 characters), payload.source (required), payload.severity (required:
#   critical, error, warning or info); payload.timestamp ISO 8601 but optional ("Will be auto-generated by PagerDuty
#   if not provided", 01-Overview.md, PD-CEF): no published source says an unreadable one is refused, so it is not;
#   payload.custom_details an object (PagerDuty/api-schema, reference/events-v2/openapiv3.json,
#   components.schemas.Payload.custom_details "type": "object")
# - images: objects with a required src; links: objects with a required href
# - 202 accepted; 400 "Check that the JSON is valid"; 429 too many; 5xx — the possible results, all of them
#   (01-Overview.md, "Response Codes & Retry Logic"); payloads limited to 512 KB ("Size Limits": what answers a larger
#   one is not published; it is one of those, so 400, with our wording)
# The answers' bodies: 202 {"status": "success", "message": "Event processed", "dedup_key": …} and 400
# {"status": "invalid event", "message": "Event object is invalid", "errors": […]} (docs/events-API-v1/02-Trigger-
# Events.md's responses, which v2 keeps; the error "Length of 'routing_key' is incorrect (should be 32 characters)"
# is the real service's, quoted by prometheus/alertmanager's notify/pagerduty/pagerduty_test.go); a body that is not
# JSON: 400 {"status": "Unrecognized object", "message": "Event object format is unrecognized", "errors": ["JSON
# parse error"]} (PagerDuty/api-schema, reference/events-v2/openapiv3.json, components.responses.Error's example).
# The errors' wordings are the real service's where a source quotes one (cited beside each), ours otherwise.
_PAGERDUTY_ACTIONS = ("trigger", "acknowledge", "resolve")
_PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")
_PAGERDUTY_MAX_BYTES = 512 * 1024
_MAX_SUMMARY = 1024
_MAX_DEDUP_KEY = 255


@attrs.define
class Incident:
    """An alert PagerDuty keeps for a ``dedup_key`` (per routing key): triggered, acknowledged or resolved, and how
    many trigger events it took in (the first and those deduplicated into it)."""

    routing_key: str
    dedup_key: str
    status: str
    summary: str
    severity: str
    triggers: int = 1
    events: list[dict[str, Any]] = attrs.field(factory=list)

    @property
    def open(self) -> bool:
        return self.status != "resolved"


class PagerDutyStandIn(Receiver):
    """PagerDuty's Events API v2 at ``/v2/enqueue``: validates each event as the documentation says, and keeps
    alerts by ``dedup_key`` as PagerDuty does (a trigger on an open one adds to it, resolve closes it; after that a
    trigger opens a new one). It accepts any well-formed routing key (32 alphanumeric characters)."""

    name = "pagerduty"

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []
        """Every event accepted (202), parsed, in order — those dropped for want of an open alert included."""
        self.incidents: list[Incident] = []
        """Every alert opened, in order (a resolved one stays, closed)."""
        self.dropped = 0
        """Acknowledge and resolve events accepted that found no open alert (PagerDuty drops them)."""

    def incident(self, dedup_key: str) -> Incident | None:
        """The latest alert of *dedup_key*, open or not."""
        with self._lock:
            found = [incident for incident in self.incidents if incident.dedup_key == dedup_key]
            return found[-1] if found else None

    def open_incidents(self) -> list[Incident]:
        with self._lock:
            return [incident for incident in self.incidents if incident.open]

    def revocations(self) -> tuple[str, ...]:
        return ("integration_deleted",)

    def throttle(self, requests: int, retry_after: float | str | None = None) -> None:
        # PagerDuty documents a 429 without a Retry-After ("retry after some time", 01-Overview.md; 05-Rate-Limits.md)
        super().throttle(requests, retry_after)

    def _revoked_answer(self) -> Answer | None:
        # an integration key whose integration was deleted: 400 "Invalid routing key", as the real service answered
        # robusta-dev/robusta#571 (the body around those words is assumed: the invalid-event form)
        if self.revoked is None:
            return None
        return _invalid_event("Invalid routing key")

    def _unavailable(self, headers: dict[str, str]) -> Answer:
        # assumed: the body of a 5xx is not published
        return _json_answer(503, {"status": "unavailable", "message": "Service Unavailable"}, **headers)

    def _rate_limited(self, headers: dict[str, str]) -> Answer:
        # "The response to the API call will say 429 - Request Limit Exceeded" (05-Rate-Limits.md); the body's keys
        # are assumed (the shape of the other answers)
        return _json_answer(429, {"status": "throttle event", "message": "Request Limit Exceeded"}, **headers)

    def _handle(  # noqa: PLR0911 - each refusal is said apart
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],  # noqa: ARG002 - the Events API reads the body alone
        body: bytes,
    ) -> Answer:
        if path != "/v2/enqueue":
            return _json_answer(404, {"status": "not found", "message": "Not Found"})
        if method != "POST":
            return _json_answer(405, {"status": "invalid method", "message": "Method Not Allowed"})
        if len(body) > _PAGERDUTY_MAX_BYTES:  # 400, the wording ours (see above)
            return _invalid_event(f"Event object is too large (at most {_PAGERDUTY_MAX_BYTES} bytes)")
        try:
            event = json.loads(body)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return _unrecognized()
        if not isinstance(event, dict):  # JSON, but not an object: answered as a parse error (assumed)
            return _unrecognized()
        errors = _pagerduty_errors(event)
        if errors:
            return _invalid_event(*errors)
        action = event["event_action"]
        dedup_key = event.get("dedup_key") or uuid.uuid4().hex
        self.events.append(event)
        self._apply(event["routing_key"], action, dedup_key, event)
        return _json_answer(202, {"status": "success", "message": "Event processed", "dedup_key": dedup_key})

    def _apply(self, routing_key: str, action: str, dedup_key: str, event: dict[str, Any]) -> None:
        # "Subsequent events for the same dedup_key will only apply to the open alert if the events are sent via the
        # same routing_key as the original trigger event"
        current = next(
            (
                incident
                for incident in reversed(self.incidents)
                if incident.dedup_key == dedup_key and incident.routing_key == routing_key and incident.open
            ),
            None,
        )
        if action == "trigger":
            payload = event["payload"]
            if current is None:
                opened = Incident(routing_key, dedup_key, "triggered", payload["summary"], payload["severity"])
                opened.events.append(event)
                self.incidents.append(opened)
            else:
                current.triggers += 1
                current.events.append(event)
        elif current is None:
            self.dropped += 1
        else:
            current.status = "acknowledged" if action == "acknowledge" else "resolved"
            current.events.append(event)


def _invalid_event(*errors: str) -> Answer:
    return _json_answer(400, {"status": "invalid event", "message": "Event object is invalid", "errors": list(errors)})


def _unrecognized() -> Answer:
    # PagerDuty/api-schema, reference/events-v2/openapiv3.json, components.responses.Error, example "response"
    return _json_answer(
        400,
        {
            "status": "Unrecognized object",
            "message": "Event object format is unrecognized",
            "errors": ["JSON parse error"],
        },
    )


def _pagerduty_errors(event: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    routing_key = event.get("routing_key")
    # both wordings, and their order, the real service's (blockpane/tenderduty#10; the first also
    # prometheus/alertmanager notify/pagerduty/pagerduty_test.go)
    if not isinstance(routing_key, str) or len(routing_key) != 32:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    if isinstance(routing_key, str) and not (routing_key.isascii() and routing_key.isalnum()):
        errors.append("'routing_key' cannot contain non-alphanumeric characters.")
    action = event.get("event_action")
    if action not in _PAGERDUTY_ACTIONS:
        errors.append("'event_action' is invalid (must be one of: trigger, acknowledge, resolve)")
    dedup_key = event.get("dedup_key")
    if dedup_key is not None and (not isinstance(dedup_key, str) or len(dedup_key) > _MAX_DEDUP_KEY):
        errors.append(f"'dedup_key' is invalid (a string of at most {_MAX_DEDUP_KEY} characters)")
    if action in ("acknowledge", "resolve") and not dedup_key:
        errors.append(f"'dedup_key' is required for event_action {action}")
    if action == "trigger":
        errors += _payload_errors(event.get("payload"))
    for name, required in (("images", "src"), ("links", "href")):
        items = event.get(name)
        if items is None:
            continue
        if not isinstance(items, list) or not all(
            isinstance(item, dict) and isinstance(item.get(required), str) for item in items
        ):
            errors.append(f"'{name}' is invalid (a list of objects, each with a '{required}')")
    for name in ("client", "client_url"):
        if name in event and not isinstance(event[name], str):
            errors.append(f"'{name}' is invalid (a string)")
    return errors


def _payload_errors(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is missing or not an object"]
    errors = []
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary:
        # the wording assumed, after the source's and the severity's below
        errors.append("'payload.summary' is missing or blank")
    elif len(summary) > _MAX_SUMMARY:
        # the real service's wording, its typo included (dagster-io/dagster#19567; livepeer/stream-tester#354)
        errors.append(f"'summary' is too long (maiximum is {_MAX_SUMMARY} characters)")
    source = payload.get("source")
    if not isinstance(source, str) or not source:
        # the real service's (solana-foundation/solana-developer-platform#576)
        errors.append("'payload.source' is missing or blank")
    severity = payload.get("severity")
    if severity is None or severity == "":
        errors.append("'payload.severity' is missing or blank")  # the real service's (SigNoz/signoz#9536)
    elif severity not in _PAGERDUTY_SEVERITIES:  # the wording assumed
        errors.append("'payload.severity' is invalid (must be one of: critical, error, warning, info)")
    for name in ("component", "group", "class"):
        # api-schema's Payload: strings; the wording assumed
        if name in payload and not isinstance(payload[name], str):
            errors.append(f"'payload.{name}' is invalid (a string)")
    details = payload.get("custom_details")
    # api-schema's Payload.custom_details: "type": "object"; the wording assumed
    if details is not None and not isinstance(details, dict):
        errors.append("'payload.custom_details' is invalid (an object)")
    return errors


# ---- Standard Webhooks ----------------------------------------------------------------------------------------------

# The Standard Webhooks specification 1.0.0 (github.com/standard-webhooks/standard-webhooks, spec/standard-webhooks.md):
# - headers webhook-id, webhook-timestamp ("integer unix timestamp (seconds since epoch)"), webhook-signature ("a
#   space delimited list of signatures", each "v1,<base64>" for HMAC-SHA256, v1a for ed25519)
# - signed content "msg_id.timestamp.payload", the body exactly as sent; the id and timestamp "not be allowed to
#   include any `.`"
# - symmetric secrets: "base64 encoded, prefixed with whsec_", "Between 24 bytes (192 bits) and 64 bytes"
# - "verify the webhook-timestamp header has a timestamp that is within some allowable tolerance of the current
#   timestamp": five minutes either way, as the specification's reference libraries have it
#   (libraries/python/standardwebhooks/webhooks.py, webhook_tolerance = timedelta(minutes=5))
# - "Use the webhook-id header as an idempotency key to prevent accidentally processing the same webhook more than
#   once"; "410 Gone: ... no longer interested in receiving webhooks from this source"
WEBHOOK_TOLERANCE = 5 * 60
_SECRET_PREFIX = "whsec_"


def webhook_secret(key: bytes | None = None) -> str:
    """A signing secret in the specification's form: ``whsec_`` and the base64 of *key* (default: 32 random
    bytes)."""
    return _SECRET_PREFIX + base64.b64encode(key if key is not None else secrets.token_bytes(32)).decode()


def webhook_key(secret: str) -> bytes:
    """The HMAC key of *secret* (``whsec_`` and base64 of 24 to 64 bytes); ``ValueError`` naming what is wrong
    (never the secret) otherwise."""
    if not secret.startswith(_SECRET_PREFIX):
        raise ValueError("a webhook secret is whsec_ followed by base64 (the Standard Webhooks form)")
    try:
        key = base64.b64decode(secret[len(_SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is whsec_ followed by base64 (the Standard Webhooks form)") from None
    if not 24 <= len(key) <= 64:
        raise ValueError("a webhook secret's key is 24 to 64 bytes (the Standard Webhooks specification)")
    return key


@attrs.frozen
class WebhookMessage:
    """A signed webhook a receiver accepted (verified, and not seen before): its endpoint's name, ``webhook-id``,
    ``webhook-timestamp``, and the body, parsed and as sent."""

    endpoint: str
    id: str
    timestamp: int
    payload: Any
    body: bytes


class WebhookStandIn(Receiver):
    """A receiver of Standard Webhooks at ``/webhook/<name>``: each request's signature verified with the
    endpoint's secret (its own, or the stand-in's :attr:`secret`), a timestamp older or newer than five minutes
    refused, and a ``webhook-id`` already accepted answered 200 again but not kept twice (:attr:`duplicates`).
    Verification failures are answered 401 (missing or malformed headers 400); revoked, 410 Gone."""

    name = "webhook"

    def __init__(self, secret: str | None = None, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.secret = secret or webhook_secret()
        webhook_key(self.secret)
        self._secrets: dict[str, str] = {}
        self._clock = clock
        self.messages: list[WebhookMessage] = []
        """The webhooks accepted, each ``webhook-id`` once, in order."""
        self.duplicates = 0
        """Requests whose ``webhook-id`` had been accepted already (answered 200, not kept again)."""
        self._seen: set[tuple[str, str]] = set()

    def endpoint(self, name: str, secret: str | None = None) -> str:
        """The path of endpoint *name*, verified with *secret* (default: the stand-in's :attr:`secret`)."""
        if secret is not None:
            webhook_key(secret)
            with self._lock:
                self._secrets[name] = secret
        return f"/webhook/{name}"

    def revocations(self) -> tuple[str, ...]:
        return ("gone",)

    def _revoked_answer(self) -> Answer | None:
        return None if self.revoked is None else _json_answer(410, {"error": "gone"})

    def _handle(  # noqa: PLR0911 - each refusal is said apart
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> Answer:
        name = unquote(path.removeprefix("/webhook/"))
        if method != "POST":
            return _json_answer(405, {"error": "method not allowed"})
        if not name or "/" in name:
            return _json_answer(404, {"error": "no such endpoint"})
        webhook_id = headers.get("webhook-id", "")
        timestamp_text = headers.get("webhook-timestamp", "")
        signatures = headers.get("webhook-signature", "")
        if not webhook_id or not timestamp_text or not signatures:
            return _json_answer(400, {"error": "missing webhook-id, webhook-timestamp or webhook-signature"})
        # "integer unix timestamp": ASCII digits only ("²" is a digit to str.isdigit, not to int())
        if "." in webhook_id or not (timestamp_text.isascii() and timestamp_text.isdigit()):
            return _json_answer(400, {"error": "malformed webhook-id or webhook-timestamp"})
        timestamp = int(timestamp_text)
        if abs(self._clock() - timestamp) > WEBHOOK_TOLERANCE:
            return _json_answer(401, {"error": "timestamp outside the tolerance"})
        key = webhook_key(self._secrets.get(name, self.secret))
        expected = base64.b64encode(
            hmac.new(key, f"{webhook_id}.{timestamp_text}.".encode() + body, hashlib.sha256).digest()
        ).decode()
        given = [signature.partition(",") for signature in signatures.split(" ")]
        if not any(
            version == "v1" and hmac.compare_digest(value.encode(), expected.encode()) for version, _, value in given
        ):
            return _json_answer(401, {"error": "no matching signature"})
        if (name, webhook_id) in self._seen:
            self.duplicates += 1
            return Answer(200, "")
        try:
            payload = json.loads(body) if body else None
        except (UnicodeDecodeError, ValueError, RecursionError):
            return _json_answer(400, {"error": "the body is not JSON"})
        self._seen.add((name, webhook_id))
        self.messages.append(WebhookMessage(name, webhook_id, timestamp, payload, body))
        return Answer(200, "")


# ---- Alertmanager's webhook -----------------------------------------------------------------------------------------

# Alertmanager's webhook_config posts its own JSON, unsigned (prometheus/alertmanager docs/configuration.md,
# "<webhook_config>": version "4", groupKey, truncatedAlerts, status firing|resolved, receiver, groupLabels,
# commonLabels, commonAnnotations, externalURL, alerts [{status, labels, annotations, startsAt, endsAt, generatorURL,
# fingerprint}]). "The Alertmanager will send HTTP POST requests in the following JSON format".
_ALERTMANAGER_KEYS = ("version", "groupKey", "status", "receiver", "groupLabels", "commonLabels", "alerts")


class AlertmanagerReceiverStandIn(Receiver):
    """A receiver of Alertmanager's own webhook at ``/alertmanager/<name>`` (unsigned: Alertmanager signs nothing).
    Accepts version "4" messages with the documented keys; keeps them by endpoint."""

    name = "alertmanager"

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[tuple[str, dict[str, Any]]] = []
        """(endpoint name, message) for each message accepted, in order."""

    def alerts(self, status: str | None = None) -> list[dict[str, Any]]:
        """Every alert of every message accepted (``status``: only those ``firing`` or ``resolved``)."""
        with self._lock:
            return [
                alert
                for _, message in self.messages
                for alert in message["alerts"]
                if status is None or alert.get("status") == status
            ]

    def _handle(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],  # noqa: ARG002 - Alertmanager's webhook is the body alone
        body: bytes,
    ) -> Answer:
        name = unquote(path.removeprefix("/alertmanager/"))
        if method != "POST":
            return _json_answer(405, {"error": "method not allowed"})
        if not name or "/" in name:
            return _json_answer(404, {"error": "no such endpoint"})
        try:
            message = json.loads(body)
        except (UnicodeDecodeError, ValueError, RecursionError):
            return _json_answer(400, {"error": "the body is not JSON"})
        if not isinstance(message, dict) or any(key not in message for key in _ALERTMANAGER_KEYS):
            keys = ", ".join(_ALERTMANAGER_KEYS)
            return _json_answer(400, {"error": f"not an Alertmanager webhook message ({keys})"})
        if message["version"] != "4" or not isinstance(message["alerts"], list):
            return _json_answer(400, {"error": 'not an Alertmanager webhook message of version "4"'})
        self.messages.append((name, message))
        return Answer(200, "")


# ---- the server -----------------------------------------------------------------------------------------------------

_MAX_BODY = 4 * 1024 * 1024
_MAX_CHUNK_LINE = 4096


class _BadRequestError(Exception):
    """A request whose body cannot be read (its framing broken): answered with *status*, the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _content_length(values: list[str]) -> int | None:
    """The body's length from the ``Content-Length`` fields (RFC 9110 §8.6: ``1*DIGIT``; the same value repeated,
    or as a list, is one value; different values, or anything but digits, are 400: RFC 9112 §6.3, item 5)."""
    if not values:
        return None
    found = {part.strip() for value in values for part in value.split(",")}
    if len(found) != 1:
        raise _BadRequestError(400, "conflicting Content-Length")
    (text,) = found
    if not (text.isascii() and text.isdigit()):
        raise _BadRequestError(400, "malformed Content-Length")
    return int(text)


def _read_chunked(rfile: BufferedIOBase, limit: int) -> bytes:
    """The body of a chunked message (RFC 9112 §7.1): ``chunk-size [chunk-ext] CRLF chunk-data CRLF`` until a chunk
    of size 0, then the trailer section up to an empty line (its fields discarded, §7.1.2). More than *limit* bytes
    is 413; anything that breaks the grammar, or a connection closed before the end, is 400."""

    def line() -> bytes:
        read = rfile.readline(_MAX_CHUNK_LINE + 1)
        if len(read) > _MAX_CHUNK_LINE or not read.endswith(b"\n"):
            raise _BadRequestError(400, "malformed chunked body")
        return read.rstrip(b"\r\n")

    body = bytearray()
    while True:
        size_text = line().split(b";", 1)[0].strip()  # chunk-ext (";" name["=" value]) ignored, §7.1.1
        if not size_text or not all(char in b"0123456789abcdefABCDEF" for char in size_text):
            raise _BadRequestError(400, "malformed chunk size")
        size = int(size_text, 16)
        if size == 0:
            break
        if len(body) + size > limit:
            raise _BadRequestError(413, "request entity too large")
        data = rfile.read(size)
        if len(data) != size or rfile.read(2) != b"\r\n":
            raise _BadRequestError(400, "malformed chunked body")
        body += data
    while line():  # the trailer section, ended by an empty line
        pass
    return bytes(body)


class ReceiversStandIn:
    """The four receivers on one HTTP server of 127.0.0.1 (*port*, 0: a free one), serving from construction until
    :meth:`close` (a context manager). ``slack_url``, ``pagerduty_url`` with ``routing_key``, ``webhook_url`` with
    ``webhook_secret``, and ``alertmanager_url`` are ready to use; ``slack.add_hook()`` and
    ``webhook.endpoint(name, secret)`` make more."""

    def __init__(
        self,
        *,
        port: int = 0,
        webhook_secret: str | None = None,
        routing_key: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """*clock* is what the signed webhooks' timestamps are checked against (seconds since the epoch)."""
        self.slack = SlackStandIn()
        self.pagerduty = PagerDutyStandIn()
        self.webhook = WebhookStandIn(webhook_secret, clock=clock)
        self.alertmanager = AlertmanagerReceiverStandIn()
        self.routing_key = routing_key or secrets.token_hex(16)
        """A routing key of the right shape (any 32 ASCII letters and digits are accepted)."""
        self._slack_path = self.slack.add_hook("deploys")
        self._server: ThreadingHTTPServer | None = None
        self.port = port
        self._listen()
        self.url = f"http://127.0.0.1:{self.port}"
        """The base URL: every receiver's path is under it."""

    @property
    def webhook_secret(self) -> str:
        return self.webhook.secret

    @property
    def slack_url(self) -> str:
        """The incoming webhook made first (channel ``deploys``)."""
        return self.url + self._slack_path

    @property
    def pagerduty_url(self) -> str:
        return f"{self.url}/v2/enqueue"

    @property
    def webhook_url(self) -> str:
        """Endpoint ``findly``, verified with :attr:`webhook_secret`."""
        return f"{self.url}/webhook/findly"

    @property
    def alertmanager_url(self) -> str:
        return f"{self.url}/alertmanager/findly"

    def url_of(self, path: str) -> str:
        """*path* (``slack.add_hook()``'s, ``webhook.endpoint()``'s) as a URL of this server."""
        return self.url + path

    # ---- serving ------------------------------------------------------------------------------------------------

    def _route(self, path: str) -> Receiver | None:
        if path.startswith("/slack/"):
            return self.slack
        if path == "/v2/enqueue" or path.startswith("/v2/"):
            return self.pagerduty
        if path.startswith("/webhook/"):
            return self.webhook
        if path.startswith("/alertmanager/"):
            return self.alertmanager
        return None

    def _listen(self) -> None:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "findly-receivers"

            def log_message(self, *_: Any) -> None:
                return None

            def do_POST(self) -> None:
                self._serve("POST")

            def do_GET(self) -> None:
                self._serve("GET")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def _serve(self, method: str) -> None:
                path = self.path.split("?", 1)[0]
                receiver = stand_in._route(path)
                try:
                    body = self._body(method)
                except _BadRequestError as refused:
                    self.close_connection = True  # the body's end is unknown: nothing more is read on this connection
                    self._send(Answer(refused.status, refused.message))
                    return
                if receiver is None:
                    self._send(Answer(404, "not found"))
                    return
                headers = {name.lower(): value for name, value in self.headers.items()}
                self._send(receiver.answer(method, path, headers, body))

            def _body(self, method: str) -> bytes:
                """The request's body, framed as RFC 9112 §6.3 says: Transfer-Encoding (chunked, the last coding;
                any other coding 501, §6.1; chunked not last 400, §6.3 item 4; with a Content-Length too, refused,
                as §6.1 allows), else Content-Length, else none (a POST without either: 411)."""
                codings = [
                    coding.strip().lower()
                    for value in self.headers.get_all("Transfer-Encoding") or []
                    for coding in value.split(",")
                    if coding.strip()
                ]
                lengths = self.headers.get_all("Content-Length") or []
                if codings:
                    if lengths:
                        raise _BadRequestError(400, "both Transfer-Encoding and Content-Length")
                    if codings[-1] != "chunked":
                        raise _BadRequestError(400, "chunked is not the final transfer coding")
                    if codings.count("chunked") > 1:  # "MUST NOT apply chunked more than once", §7.1
                        raise _BadRequestError(400, "chunked applied more than once")
                    if len(codings) > 1:  # gzip, deflate, compress: not understood here
                        raise _BadRequestError(501, "transfer coding not implemented")
                    return _read_chunked(self.rfile, _MAX_BODY)
                size = _content_length(lengths)
                if size is None:
                    if method == "POST":
                        raise _BadRequestError(411, "length required")
                    return b""
                if size > _MAX_BODY:
                    raise _BadRequestError(413, "request entity too large")
                body = self.rfile.read(size) if size else b""
                if len(body) != size:
                    raise _BadRequestError(400, "the body is shorter than its Content-Length")
                return bytes(body)

            def _send(self, answer: Answer) -> None:
                data = answer.body.encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="receivers-stand-in"
        ).start()

    def refuse(self) -> None:
        """Stop listening: every connection is refused (the host down, a firewall rejecting) until :meth:`resume`.
        What the receivers hold is kept."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def resume(self) -> None:
        """Listen again, on the same port."""
        if self._server is None:
            self._listen()

    @property
    def refusing(self) -> bool:
        return self._server is None

    def close(self) -> None:
        self.refuse()

    def __enter__(self) -> ReceiversStandIn:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


if __name__ == "__main__":  # python -m findly_infra.testing.receivers: served until interrupted
    from findly_infra.testing._launch import receivers as launch

    raise SystemExit(launch())
