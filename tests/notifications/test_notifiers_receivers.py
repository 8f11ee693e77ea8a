"""The receivers' adapters (findly_infra.adapters.notifiers) against the loopback stand-ins over real HTTP on
127.0.0.1: every notification accepted as the real service would accept it, every documented failure classified
(permanent or worth retrying, and when), a receiver down or throttled and then back, texts of any length and alphabet
cut to the services' limits, the webhook's signature verified by the specification's reference library, and no
secret in any delivery or log line."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from findly_infra.adapters.notifiers import (
    PagerDutyNotifier,
    SlackNotifier,
    WebhookNotifier,
    classify,
    dedup_key,
    retry_after,
    truncate,
    webhook_id,
)
from findly_infra.application.ports import Delivery, Notifier
from findly_infra.domain.notifications import Notification, NotificationKind, NotificationSeverity, PageAction
from findly_infra.testing.receivers import ReceiversStandIn, http_date, webhook_secret

ROUTING_KEY = "R0uT1nGk3y" + "x" * 22
AT = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)


def notification(**changes: Any) -> Notification:
    fields: dict[str, Any] = {
        "id": "ntf-fn-posts-production-1.4.2-rolled_back-7",
        "kind": NotificationKind.ROLLED_BACK,
        "severity": NotificationSeverity.CRITICAL,
        "service": "fn-posts",
        "environment": "production",
        "version": "1.4.2",
        "at": AT,
        "summary": "fn-posts 1.4.2 rolled back in production: error rate 2.3% above 1% for 5m",
        "details": (("stage", "2/4 (25%)"), ("criterion", "error_rate"), ("value", "2.3%"), ("threshold", "1%")),
        "incident_key": "fn-posts/production/1.4.2",
        "action": PageAction.TRIGGER,
    }
    fields.update(changes)
    return Notification(**fields)


@pytest.fixture
def receivers() -> Iterator[ReceiversStandIn]:
    with ReceiversStandIn(routing_key=ROUTING_KEY) as stand_in:
        yield stand_in


def slack(receivers: ReceiversStandIn, **kwargs: Any) -> SlackNotifier:
    return SlackNotifier(receivers.slack_url, **kwargs)


def pagerduty(receivers: ReceiversStandIn, **kwargs: Any) -> PagerDutyNotifier:
    return PagerDutyNotifier(ROUTING_KEY, url=receivers.pagerduty_url, **kwargs)


def webhook(receivers: ReceiversStandIn, **kwargs: Any) -> WebhookNotifier:
    return WebhookNotifier(receivers.webhook_url, receivers.webhook_secret, **kwargs)


NOTIFIERS = {"slack": slack, "pagerduty": pagerduty, "webhook": webhook}


def test_they_are_notifiers(receivers: ReceiversStandIn) -> None:
    for make in NOTIFIERS.values():
        notifier: Notifier = make(receivers)
        assert "***" in repr(notifier)


# ---- accepted --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(NotificationKind))
@pytest.mark.parametrize("severity", list(NotificationSeverity))
def test_slack_accepts_every_notification(
    receivers: ReceiversStandIn, kind: NotificationKind, severity: NotificationSeverity
) -> None:
    delivery = slack(receivers).send(notification(kind=kind, severity=severity))
    assert delivery == Delivery(delivered=True, detail="slack 200 ok")
    (message,) = receivers.slack.messages
    header = message.blocks[0]
    assert header["type"] == "header"
    assert "fn-posts 1.4.2 in production" in header["text"]["text"]
    assert "error rate 2.3%" in message.text
    assert "criterion\nerror_rate" in message.texts()


def test_slack_escapes_what_mrkdwn_would_read(receivers: ReceiversStandIn) -> None:
    slack(receivers).send(notification(summary="<!channel> & <https://evil.example|click>"))
    text = receivers.slack.messages[0].text
    assert "<!channel>" not in text
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in text


def test_slack_shows_more_than_ten_details_in_ten_fields(receivers: ReceiversStandIn) -> None:
    details = tuple((f"label {n}", f"value {n}") for n in range(25))
    assert slack(receivers).send(notification(details=details)).delivered
    fields = receivers.slack.messages[0].blocks[2]["fields"]
    assert len(fields) == 10
    assert fields[-1]["text"].startswith("… 16 more\nlabel 9\nvalue 9")


def test_pagerduty_triggers_deduplicates_and_resolves(receivers: ReceiversStandIn) -> None:
    notifier = pagerduty(receivers)
    first = notifier.send(notification())
    assert first == Delivery(delivered=True, detail="pagerduty 202 Event processed")
    assert notifier.send(notification(id="again")).delivered
    incident = receivers.pagerduty.incident("fn-posts/production/1.4.2")
    assert incident is not None
    assert (incident.status, incident.triggers, incident.severity) == ("triggered", 2, "critical")
    event = incident.events[0]
    assert event["payload"]["custom_details"]["criterion"] == "error_rate"
    assert event["payload"]["custom_details"]["version"] == "1.4.2"
    assert (event["payload"]["component"], event["payload"]["group"]) == ("fn-posts", "production")
    assert event["payload"]["timestamp"] == "2026-11-01T12:30:00.000Z"
    resolved = notifier.send(notification(kind=NotificationKind.ROLLOUT_SUCCEEDED, action=PageAction.RESOLVE))
    assert resolved.delivered
    assert incident.status == "resolved"
    assert receivers.pagerduty.events[-1] == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": "fn-posts/production/1.4.2",
    }


@pytest.mark.parametrize("severity", list(NotificationSeverity))
def test_pagerduty_takes_each_severity(receivers: ReceiversStandIn, severity: NotificationSeverity) -> None:
    assert pagerduty(receivers).send(notification(severity=severity)).delivered
    assert receivers.pagerduty.incidents[0].severity == severity.value


def test_pagerduty_is_not_sent_what_pages_no_one(receivers: ReceiversStandIn) -> None:
    delivery = pagerduty(receivers).send(notification(kind=NotificationKind.ROLLOUT_STARTED, action=None))
    assert delivery.delivered
    assert "not sent" in delivery.detail
    assert receivers.pagerduty.requests == []


def test_pagerduty_keys_too_long_are_hashed_the_same_way_each_time(receivers: ReceiversStandIn) -> None:
    key = "k" * 300
    assert dedup_key(key) == dedup_key(key) != dedup_key("k" * 301)
    assert len(dedup_key(key)) <= 255
    notifier = pagerduty(receivers)
    assert notifier.send(notification(incident_key=key)).delivered
    assert notifier.send(notification(incident_key=key, action=PageAction.RESOLVE)).delivered
    assert receivers.pagerduty.incidents[0].status == "resolved"


def test_the_webhook_is_verified_by_the_reference_library(receivers: ReceiversStandIn) -> None:
    from standardwebhooks import Webhook

    delivery = webhook(receivers).send(notification())
    assert delivery.delivered
    (request,) = receivers.webhook.requests
    verified = Webhook(receivers.webhook_secret).verify(request.body, dict(request.headers))
    assert verified == {
        "type": "rolled_back",
        "timestamp": "2026-11-01T12:30:00.000Z",
        "data": {
            "id": "ntf-fn-posts-production-1.4.2-rolled_back-7",
            "service": "fn-posts",
            "environment": "production",
            "version": "1.4.2",
            "severity": "critical",
            "summary": "fn-posts 1.4.2 rolled back in production: error rate 2.3% above 1% for 5m",
            "details": {"stage": "2/4 (25%)", "criterion": "error_rate", "value": "2.3%", "threshold": "1%"},
            "incident_key": "fn-posts/production/1.4.2",
            "action": "trigger",
        },
    }
    # the id has dots (the version's), which the specification does not allow in a webhook-id: a digest of it
    assert request.headers["webhook-id"] == webhook_id(notification()) == webhook_id(notification(summary="other"))
    assert "." not in request.headers["webhook-id"]
    assert receivers.webhook.messages[0].payload == verified


def test_the_reference_library_refuses_another_secret(receivers: ReceiversStandIn) -> None:
    from standardwebhooks import Webhook
    from standardwebhooks.webhooks import WebhookVerificationError

    webhook(receivers).send(notification())
    (request,) = receivers.webhook.requests
    with pytest.raises(WebhookVerificationError):
        Webhook(webhook_secret()).verify(request.body, dict(request.headers))


def test_a_webhook_sent_twice_is_kept_once(receivers: ReceiversStandIn) -> None:
    notifier = webhook(receivers)
    assert notifier.send(notification()).delivered
    assert notifier.send(notification()).delivered
    assert len(receivers.webhook.messages) == 1
    assert receivers.webhook.duplicates == 1


def test_webhook_ids_the_specification_refuses_are_replaced_stably() -> None:
    dotted = notification(id="fn-posts.production.1.4.2")
    assert "." not in webhook_id(dotted)
    assert webhook_id(dotted) == webhook_id(notification(id="fn-posts.production.1.4.2"))
    assert webhook_id(notification(id="plain-id_7")) == "plain-id_7"


@pytest.mark.parametrize(
    "secret",
    ["plain-secret-not-whsec", "whsec_not base64!", "whsec_c2hvcnQ=", "whsec_" + "A" * 100],
)
def test_a_webhook_secret_not_in_the_standard_form_is_refused_without_showing_it(secret: str) -> None:
    with pytest.raises(ValueError, match=r"whsec_|24 to 64 bytes") as refused:
        WebhookNotifier("http://127.0.0.1:9/webhook/x", secret)
    assert secret.removeprefix("whsec_") not in str(refused.value)


# ---- failures, classified --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("how", "status"),
    [("channel_is_archived", 410), ("no_service", 404), ("action_prohibited", 403), ("invalid_token", 403)],
)
def test_slack_revoked_is_permanent(receivers: ReceiversStandIn, how: str, status: int) -> None:
    receivers.slack.revoke(how)
    delivery = slack(receivers).send(notification())
    assert delivery == Delivery(delivered=False, detail=f"slack {status} {how}", permanent=True)


def test_a_mistyped_slack_webhook_is_permanent(receivers: ReceiversStandIn) -> None:
    delivery = SlackNotifier(receivers.slack_url + "x").send(notification())
    assert delivery == Delivery(delivered=False, detail="slack 404 no_service", permanent=True)


def test_a_wrong_routing_key_is_permanent_and_says_why(receivers: ReceiversStandIn) -> None:
    delivery = PagerDutyNotifier("too-short", url=receivers.pagerduty_url).send(notification())
    assert not delivery.delivered
    assert delivery.permanent
    # both of the real service's errors for such a key, in its order (blockpane/tenderduty#10)
    assert delivery.detail == (
        "pagerduty 400 Event object is invalid: Length of 'routing_key' is incorrect (should be 32 characters); "
        "'routing_key' cannot contain non-alphanumeric characters."
    )


def test_a_webhook_signed_with_another_secret_or_revoked_is_permanent(receivers: ReceiversStandIn) -> None:
    wrong = WebhookNotifier(receivers.webhook_url, webhook_secret()).send(notification())
    assert (wrong.delivered, wrong.permanent) == (False, True)
    assert wrong.detail.startswith("webhook 401")
    receivers.webhook.revoke()
    gone = webhook(receivers).send(notification())
    assert (gone.delivered, gone.permanent) == (False, True)
    assert gone.detail.startswith("webhook 410")


def test_a_stale_clock_is_refused_by_the_receiver(receivers: ReceiversStandIn) -> None:
    late = webhook(receivers, clock=lambda: datetime.now(UTC).timestamp() - 600).send(notification())
    assert (late.delivered, late.permanent) == (False, True)


@pytest.mark.parametrize("name", list(NOTIFIERS))
def test_down_then_back(receivers: ReceiversStandIn, name: str) -> None:
    stand_in = getattr(receivers, name)
    stand_in.down(requests=2, retry_after=20)
    notifier = NOTIFIERS[name](receivers)
    first, second, third = (notifier.send(notification()) for _ in range(3))
    for failed in (first, second):
        assert (failed.delivered, failed.permanent, failed.retry_after) == (False, False, 20.0)
        assert failed.detail.startswith(f"{name} 503")
    assert third.delivered


@pytest.mark.parametrize("name", list(NOTIFIERS))
def test_throttled_then_back(receivers: ReceiversStandIn, name: str) -> None:
    stand_in = getattr(receivers, name)
    notifier = NOTIFIERS[name](receivers)
    stand_in.throttle(1, retry_after=30)
    throttled = notifier.send(notification())
    assert (throttled.delivered, throttled.permanent, throttled.retry_after) == (False, False, 30.0)
    assert throttled.detail.startswith(f"{name} 429")
    later = datetime.now(UTC) + timedelta(hours=1)
    stand_in.throttle(1, retry_after=http_date(later))
    dated = notifier.send(notification())
    assert dated.retry_after is not None
    assert 3000 < dated.retry_after <= 3600
    stand_in.throttle(1, retry_after=None)
    assert notifier.send(notification()).retry_after is None
    assert notifier.send(notification()).delivered


@pytest.mark.parametrize("name", list(NOTIFIERS))
def test_refused_then_back(receivers: ReceiversStandIn, name: str) -> None:
    notifier = NOTIFIERS[name](receivers)
    receivers.refuse()
    refused = notifier.send(notification())
    assert (refused.delivered, refused.permanent, refused.retry_after) == (False, False, None)
    assert refused.detail == f"{name}: could not connect (refused or unreachable)"
    receivers.resume()
    assert notifier.send(notification()).delivered


@pytest.fixture
def silent() -> Iterator[str]:
    """A port that takes connections into its backlog and never answers."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(8)
        yield f"http://127.0.0.1:{listening.getsockname()[1]}"


def test_no_answer_in_time_is_worth_retrying(silent: str) -> None:
    for notifier in (
        SlackNotifier(f"{silent}/slack/services/T/B/secret-token-abcdef", timeout=0.3),
        PagerDutyNotifier(ROUTING_KEY, url=f"{silent}/v2/enqueue", timeout=0.3),
        WebhookNotifier(f"{silent}/webhook/x", webhook_secret(), timeout=0.3),
    ):
        delivery = notifier.send(notification())
        assert (delivery.delivered, delivery.permanent) == (False, False)
        assert "no answer within 0.3 s" in delivery.detail


@pytest.fixture
def dribbling() -> Iterator[str]:
    """A receiver that answers with a status line, then one header byte every 0.2 s, for ever: each read gets
    something, so httpx's per-read timeout never fires (review finding 4: it held a release for minutes)."""
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(8)
    stop = threading.Event()

    def answer(connection: socket.socket) -> None:
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\n")
            while not stop.wait(0.2):
                try:
                    connection.sendall(b"X")
                except OSError:
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listening.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listening.getsockname()[1]}"
    finally:
        stop.set()
        listening.close()


def test_an_answer_dribbled_byte_by_byte_times_out_as_a_whole(dribbling: str) -> None:
    for notifier in (
        SlackNotifier(f"{dribbling}/slack/services/T/B/secret-token-abcdef", timeout=1.0),
        PagerDutyNotifier(ROUTING_KEY, url=f"{dribbling}/v2/enqueue", timeout=1.0),
        WebhookNotifier(f"{dribbling}/webhook/x", webhook_secret(), timeout=1.0),
    ):
        delivery = notifier.send(notification())
        assert (delivery.delivered, delivery.permanent) == (False, False)
        assert "no answer within 1 s" in delivery.detail


def test_the_budget_left_bounds_a_send_below_its_own_timeout(dribbling: str) -> None:
    notifier = SlackNotifier(f"{dribbling}/slack/services/T/B/secret-token-abcdef", timeout=10.0)
    delivery = notifier.send(notification(), timeout=0.5)
    assert (delivery.delivered, delivery.permanent) == (False, False)
    assert "no answer within 0.5 s" in delivery.detail


class Scripted:
    """A server answering each request with the next (status, headers, body) given — the request's own path and
    body echoed into it where ``{echo}`` stands, as a careless proxy might."""

    def __init__(self, *answers: tuple[int, dict[str, str], str]) -> None:
        self.answers = list(answers)
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                return None

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                status, headers, text = scripted.answers.pop(0)
                echo = f"{self.path} {body} {self.headers}"
                data = text.replace("{echo}", echo).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    ("status", "headers", "permanent", "waits"),
    [
        (302, {"Location": "https://elsewhere.example/"}, True, None),
        (408, {}, False, None),
        (500, {}, False, None),
        (502, {"Retry-After": "5"}, False, 5.0),
        (503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, False, 0.0),  # a date past: now
        (401, {}, True, None),
        (413, {}, True, None),
        (422, {"Retry-After": "5"}, True, None),  # a refusal is not retried, whatever it says
    ],
)
def test_each_status_is_classified(status: int, headers: dict[str, str], permanent: bool, waits: float | None) -> None:
    scripted = Scripted(*[(status, headers, "said {echo}")] * 3)
    secret = webhook_secret()
    try:
        for notifier in (
            SlackNotifier(f"{scripted.url}/slack/services/T0/B0/the-secret-token-123"),
            PagerDutyNotifier(ROUTING_KEY, url=f"{scripted.url}/v2/enqueue"),
            WebhookNotifier(f"{scripted.url}/webhook/x?token=query-secret-456", secret),
        ):
            delivery = notifier.send(notification())
            assert (delivery.delivered, delivery.permanent, delivery.retry_after) == (False, permanent, waits)
            assert f" {status} said " in delivery.detail
            for hidden in ("the-secret-token-123", ROUTING_KEY, "query-secret-456", secret, secret[6:]):
                assert hidden not in delivery.detail
    finally:
        scripted.close()


def test_2xx_is_delivered_whatever_its_body() -> None:
    assert classify(200, "x").delivered
    assert classify(204, "x").delivered
    assert classify(202, "x") == Delivery(delivered=True, detail="x")


def test_retry_after_reads_seconds_and_dates() -> None:
    now = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
    assert retry_after("120", now=now) == 120.0
    assert retry_after("Sun, 06 Dec 2026 16:01:30 GMT", now=now) == 90.0
    assert retry_after("Sun, 06 Dec 2026 15:00:00 GMT", now=now) == 0.0
    assert retry_after("soon", now=now) is None
    assert retry_after(None) is None


# ---- no secret in any delivery or log line ---------------------------------------------------------------------------


def test_no_secret_reaches_a_delivery_or_a_log_line(
    receivers: ReceiversStandIn, silent: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = receivers.webhook_secret
    deliveries = []
    for base in (receivers.url, silent, "http://127.0.0.1:1"):
        notifiers = [
            SlackNotifier(base + receivers.slack_url.removeprefix(receivers.url), timeout=0.5),
            PagerDutyNotifier(ROUTING_KEY, url=f"{base}/v2/enqueue", timeout=0.5),
            WebhookNotifier(f"{base}/webhook/findly", secret, timeout=0.5),
            PagerDutyNotifier("0123456789abcdef0123456789abcdeX", url=f"{base}/v2/enqueue", timeout=0.5),
        ]
        for notifier in notifiers:
            deliveries.append(notifier.send(notification()))
            receivers.slack.revoke("invalid_token")
            deliveries.append(notifier.send(notification()))
            receivers.slack.restore()
    deliveries.append(SlackNotifier("htp://hooks.example/services/T/B/unsendable-token-999").send(notification()))
    deliveries.append(SlackNotifier("http://[::1/services/T/B/malformed-url-token-777").send(notification()))
    assert any(delivery.delivered for delivery in deliveries)
    assert any("HTTP Request" in record.getMessage() for record in caplog.records), "httpx logged no request"
    token = receivers.slack_url.rsplit("/", 1)[1]
    words = " ".join(delivery.detail for delivery in deliveries) + "\n" + caplog.text
    words += "\n".join(record.getMessage() for record in caplog.records)
    for hidden in (
        token,
        ROUTING_KEY,
        "0123456789abcdef0123456789abcdeX",
        secret,
        secret[6:],
        "unsendable-token-999",
        "malformed-url-token-777",
    ):
        assert hidden not in words, hidden
    for request in receivers.webhook.requests:
        assert request.headers["webhook-signature"][3:] not in words


# ---- any text, cut to the limits -------------------------------------------------------------------------------------

TEXTS = st.one_of(
    st.text(max_size=50),
    st.text(max_size=4000),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1000, max_size=6000),
    st.sampled_from(["", " ", "\x00", "😀" * 1600, "<!channel>&" * 400, "é" * 3001, "\u200b" * 2500]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    summary=TEXTS,
    details=st.lists(st.tuples(st.text(max_size=300), TEXTS), max_size=14),
    service=st.text(min_size=1, max_size=300),
    kind=st.sampled_from(list(NotificationKind)),
)
def test_any_text_is_accepted_by_every_receiver(
    summary: str, details: list[tuple[str, str]], service: str, kind: NotificationKind
) -> None:
    with ReceiversStandIn(routing_key=ROUTING_KEY) as receivers:
        sent = notification(summary=summary, details=tuple(details), service=service, kind=kind)
        for name, make in NOTIFIERS.items():
            delivery = make(receivers).send(sent)
            assert delivery.delivered, (name, delivery.detail)
        assert len(receivers.slack.messages) == len(receivers.pagerduty.events) == len(receivers.webhook.messages) == 1


def test_huge_details_fit_pagerdutys_512_kb(receivers: ReceiversStandIn) -> None:
    details = (*((f"log {n}", "x" * 200_000) for n in range(8)), ("last", "short"))
    assert pagerduty(receivers).send(notification(details=details)).delivered
    custom = receivers.pagerduty.events[0]["payload"]["custom_details"]
    assert custom["log 0"].startswith("xxx")
    assert custom["log 0"].endswith("…")


@given(st.text(max_size=400), st.integers(min_value=1, max_value=300))
def test_truncate_fits_and_keeps_what_fits(text: str, limit: int) -> None:
    cut = truncate(text, limit)
    assert len(cut.encode("utf-16-le")) // 2 <= limit
    if len(text.encode("utf-16-le")) // 2 <= limit:
        assert cut == text
    else:
        assert cut.endswith("…")
        assert text.startswith(cut[:-1])


def test_a_slack_fallback_names_its_subject_once() -> None:
    from findly_infra.adapters.notifiers import slack_message

    named = slack_message(notification(summary="fn-posts 1.4.2 in production: rolled back — 2 failed analyses"))
    assert named["text"] == "fn-posts 1.4.2 in production: rolled back — 2 failed analyses"
    unnamed = slack_message(notification(summary="[rehearsal, virtual time] error rate 2.3% above 1%"))
    assert (
        unnamed["text"]
        == "[rehearsal, virtual time] Rolled back: fn-posts 1.4.2 in production: error rate 2.3% above 1%"
    )
