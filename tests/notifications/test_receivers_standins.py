"""The receivers' stand-ins (findly_infra.testing.receivers) against requests written by hand from each service's own
documentation — its example payloads copied here, cited — so that each stand-in is checked against the reference and
not against our adapters. Every request goes over real HTTP to 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from findly_infra.testing.receivers import ReceiversStandIn, http_date, webhook_key, webhook_secret

ROUTING_KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def receivers() -> Iterator[ReceiversStandIn]:
    with ReceiversStandIn(routing_key=ROUTING_KEY) as stand_in:
        yield stand_in


def post(url: str, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(url, content=content, headers={"Content-Type": "application/json", **headers}, timeout=10)


# ---- Slack -----------------------------------------------------------------------------------------------------------

# https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks: "curl -X POST -H 'Content-type:
# application/json' --data '{"text":"Hello, World!"}' https://hooks.slack.com/services/T00000000/B00000000/XXXX"
SLACK_HELLO = {"text": "Hello, World!"}

# the same page's example of a message with blocks (a section of mrkdwn, a section with an image accessory, fields)
SLACK_BLOCKS = {
    "text": "Danny Torrence left a 1 star review for your property.",
    "blocks": [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "Danny Torrence left the following review for your property:"},
        },
        {
            "type": "section",
            "block_id": "section567",
            "text": {
                "type": "mrkdwn",
                "text": "<https://example.com|Overlook Hotel> \n :star: \n Doors had too many axe holes, guest in "
                "room 237 was far too rowdy, whole place felt stuck in the 1920s.",
            },
            "accessory": {
                "type": "image",
                "image_url": "https://is5-ssl.mzstatic.com/image/thumb/Purple3/v4/d3/72/5c/d3725c8f-c642-5d69-1904-"
                "aa36e4297885/source/256x256bb.jpg",
                "alt_text": "Haunted hotel image",
            },
        },
        {
            "type": "section",
            "block_id": "section789",
            "fields": [{"type": "mrkdwn", "text": "*Average Rating*\n1.0"}],
        },
    ],
}

# https://docs.slack.dev/reference/block-kit/blocks/header-block, "Examples"
SLACK_HEADER = {"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "A Heartfelt Header"}}]}

# https://docs.slack.dev/legacy/legacy-messaging/legacy-secondary-message-attachments, the example attachment
SLACK_ATTACHMENTS = {
    "attachments": [
        {
            "fallback": "Required plain-text summary of the attachment.",
            "color": "#2eb886",
            "pretext": "Optional text that appears above the attachment block",
            "author_name": "Bobby Tables",
            "author_link": "http://flickr.com/bobby/",
            "author_icon": "http://flickr.com/icons/bobby.jpg",
            "title": "Slack API Documentation",
            "title_link": "https://api.slack.com/",
            "text": "Optional text that appears within the attachment",
            "fields": [{"title": "Priority", "value": "High", "short": False}],
            "image_url": "http://my-website.com/path/to/image.jpg",
            "thumb_url": "http://example.com/path/to/thumb.png",
            "footer": "Slack API",
            "footer_icon": "https://platform.slack-edge.com/img/default_application_icon.png",
            "ts": 123456789,
        }
    ]
}


@pytest.mark.parametrize("payload", [SLACK_HELLO, SLACK_BLOCKS, SLACK_HEADER, SLACK_ATTACHMENTS])
def test_slack_accepts_the_documentations_examples(receivers: ReceiversStandIn, payload: dict[str, Any]) -> None:
    answer = post(receivers.slack_url, payload)
    assert (answer.status_code, answer.text) == (200, "ok")
    (message,) = receivers.slack.messages
    assert message.payload == payload
    assert message.hook == "deploys"


def test_slack_accepts_the_legacy_form_post(receivers: ReceiversStandIn) -> None:
    answer = httpx.post(receivers.slack_url, data={"payload": json.dumps(SLACK_HELLO)}, timeout=10)
    assert (answer.status_code, answer.text) == (200, "ok")
    assert receivers.slack.messages[0].text == "Hello, World!"


# mattermost/mattermost#2972, the requests tried against the real Slack: these work...
MATTERMOST_2972_TEXT = b'{"text": "Text."}'


@pytest.mark.parametrize("content_type", ["text/html", "application/x-www-form-urlencoded"])
def test_slack_reads_a_raw_json_body_under_other_content_types(receivers: ReceiversStandIn, content_type: str) -> None:
    answer = httpx.post(receivers.slack_url, content=MATTERMOST_2972_TEXT, headers={"Content-Type": content_type})
    assert (answer.status_code, answer.text) == (200, "ok")
    assert receivers.slack.messages[0].text == "Text."


def test_slack_reads_the_form_field_under_the_form_type_only(receivers: ReceiversStandIn) -> None:
    form = b"payload=" + MATTERMOST_2972_TEXT
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert httpx.post(receivers.slack_url, content=form, headers=headers).status_code == 200
    # ...and this does not: payload=… sent as application/json is invalid_payload (400 since the 2016 changelog)
    answer = httpx.post(receivers.slack_url, content=form, headers={"Content-Type": "application/json"})
    assert (answer.status_code, answer.text) == (400, "invalid_payload")
    assert len(receivers.slack.messages) == 1


def test_slack_throttles_with_a_json_object_and_retry_after(receivers: ReceiversStandIn) -> None:
    # https://api.slack.com/docs/rate-limits: "a HTTP 429 Too Many Requests error, a JSON object ..., and a
    # Retry-After header"
    receivers.slack.throttle(1)
    answer = post(receivers.slack_url, SLACK_HELLO)
    assert answer.status_code == 429
    assert answer.headers["Content-Type"] == "application/json"
    assert isinstance(answer.json(), dict)
    assert answer.headers["Retry-After"] == "1"


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "plain_text", "text": text}}


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        # nothing to show: the real service's answer to {"text":""} (streaak/keyhacks README, "Slack Webhook") and to a
        # payload without text (hastic-zzz/hastic-server#708)
        ({}, "missing_text_or_fallback_or_attachments"),
        ({"text": ""}, "missing_text_or_fallback_or_attachments"),
        ({"username": "bot"}, "missing_text_or_fallback_or_attachments"),
        ({"text": 3}, "invalid_payload"),
        ({"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]}, "invalid_blocks"),
        ({"blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "*bold*"}}]}, "invalid_blocks"),
        ({"blocks": [section("x" * 3001)]}, "invalid_blocks"),
        ({"blocks": [section("")]}, "invalid_blocks"),
        ({"blocks": [{"type": "section"}]}, "invalid_blocks"),
        ({"blocks": [{"type": "section", "fields": [{"type": "plain_text", "text": "f"}] * 11}]}, "invalid_blocks"),
        ({"blocks": [{"type": "section", "fields": [{"type": "plain_text", "text": "x" * 2001}]}]}, "invalid_blocks"),
        ({"blocks": [{"type": "section", "fields": []}]}, "invalid_blocks"),
        ({"blocks": [{**section("x"), "block_id": "b" * 256}]}, "invalid_blocks"),
        ({"blocks": [section("x")] * 51}, "invalid_blocks"),
        ({"blocks": [{"type": "no_such_block"}]}, "invalid_blocks"),
        ({"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x", "emoji": True}}]}, "invalid_blocks"),
        ({"blocks": {"type": "section"}}, "invalid_blocks_format"),
        ({"attachments": [{"text": "a"}] * 101}, "too_many_attachments"),
    ],
)
def test_slack_refuses_what_slack_refuses(receivers: ReceiversStandIn, payload: dict[str, Any], error: str) -> None:
    answer = post(receivers.slack_url, payload)
    assert (answer.status_code, answer.text) == (400, error)
    assert receivers.slack.messages == []


def test_slack_at_the_limits_is_accepted(receivers: ReceiversStandIn) -> None:
    fields = [{"type": "plain_text", "text": "y" * 2000}] * 10
    payload = {
        "text": "fallback",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}},
            section("x" * 3000),
            {"type": "section", "fields": fields},
            *[section("z")] * 47,
        ],
    }
    assert post(receivers.slack_url, payload).status_code == 200


def test_slack_refuses_bodies_that_are_not_json(receivers: ReceiversStandIn) -> None:
    answer = post(receivers.slack_url, b"{not json")
    assert (answer.status_code, answer.text) == (400, "invalid_payload")


def test_slack_knows_only_its_hooks(receivers: ReceiversStandIn) -> None:
    answer = post(receivers.url + "/slack/services/T0FINDLY/B000/not-a-hook", SLACK_HELLO)
    assert (answer.status_code, answer.text) == (404, "no_service")
    other = receivers.url_of(receivers.slack.add_hook("incidents"))
    assert post(other, SLACK_HELLO).status_code == 200
    assert receivers.slack.messages[0].hook == "incidents"


@pytest.mark.parametrize(
    ("how", "status"),
    [("channel_is_archived", 410), ("no_service", 404), ("action_prohibited", 403), ("invalid_token", 403)],
)
def test_a_revoked_slack_hook_answers_the_services_error(receivers: ReceiversStandIn, how: str, status: int) -> None:
    receivers.slack.revoke(how)
    answer = post(receivers.slack_url, SLACK_HELLO)
    assert (answer.status_code, answer.text) == (status, how)
    receivers.slack.restore()
    assert post(receivers.slack_url, SLACK_HELLO).status_code == 200
    assert len(receivers.slack.messages) == 1


# ---- failures for a while, on every receiver -------------------------------------------------------------------------


def test_down_then_up(receivers: ReceiversStandIn) -> None:
    receivers.slack.down(requests=2, retry_after=7)
    first, second, third = (post(receivers.slack_url, SLACK_HELLO) for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [503, 503, 200]
    assert first.headers["Retry-After"] == "7"
    assert len(receivers.slack.messages) == 1
    assert [request.status for request in receivers.slack.requests] == [503, 503, 200]


def test_throttled_with_seconds_or_a_date(receivers: ReceiversStandIn) -> None:
    later = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
    receivers.pagerduty.throttle(1, retry_after=http_date(later))
    receivers.webhook.throttle(1, retry_after=30)
    answer = post(receivers.pagerduty_url, PAGERDUTY_TRIGGER | {"routing_key": ROUTING_KEY})
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "Sun, 06 Dec 2026 18:00:00 GMT"
    assert post(receivers.pagerduty_url, PAGERDUTY_TRIGGER | {"routing_key": ROUTING_KEY}).status_code == 202
    assert post(receivers.webhook_url, {}).headers["Retry-After"] == "30"


def test_refused_then_listening_again_on_the_same_port(receivers: ReceiversStandIn) -> None:
    receivers.refuse()
    with pytest.raises(httpx.ConnectError):
        post(receivers.slack_url, SLACK_HELLO)
    receivers.resume()
    assert post(receivers.slack_url, SLACK_HELLO).status_code == 200


def test_down_needs_one_measure(receivers: ReceiversStandIn) -> None:
    with pytest.raises(ValueError, match="requests=N or seconds=S"):
        receivers.slack.down()
    with pytest.raises(ValueError, match="one of"):
        receivers.slack.revoke("no_such_state")


# ---- PagerDuty -------------------------------------------------------------------------------------------------------

# PagerDuty/developer-docs, docs/events-API-v2/02-Trigger-Events.md ("Example Request Payloads": Trigger, Acknowledge,
# Resolve), as published at https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
PAGERDUTY_TRIGGER = {
    "payload": {
        "summary": "Example alert on host1.example.com",
        "timestamp": "2015-07-17T08:42:58.315+0000",
        "source": "monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api-stats-prod-003",
        "severity": "info",
        "component": "postgres",
        "group": "prod-datapipe",
        "class": "deploy",
        "custom_details": {"ping time": "1500ms", "load avg": 0.75},
    },
    "routing_key": "samplekeyhere",
    "dedup_key": "samplekeyhere",
    "images": [
        {
            "src": "https://www.pagerduty.com/wp-content/uploads/2016/05/pagerduty-logo-green.png",
            "href": "https://example.com/",
            "alt": "Example text",
        }
    ],
    "links": [{"href": "https://example.com/", "text": "Link text"}],
    "event_action": "trigger",
    "client": "Sample Monitoring Service",
    "client_url": "https://monitoring.example.com",
}
PAGERDUTY_ACKNOWLEDGE = {"routing_key": "routingkeyhere", "dedup_key": "dedupkeyhere", "event_action": "acknowledge"}
PAGERDUTY_RESOLVE = {"routing_key": "routingkeyhere", "dedup_key": "dedupkeyhere", "event_action": "resolve"}


def test_pagerduty_refuses_the_documentations_example_key_for_its_length(receivers: ReceiversStandIn) -> None:
    # the examples' "samplekeyhere" is a placeholder: the real service wants "the 32 character Integration Key"
    answer = post(receivers.pagerduty_url, PAGERDUTY_TRIGGER)
    assert answer.status_code == 400
    assert answer.json() == {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"],
    }


def test_pagerduty_refuses_a_routing_key_that_is_not_alphanumeric(receivers: ReceiversStandIn) -> None:
    # blockpane/tenderduty#10: the real service's answer to the key "e+23rschqsESqk9Q6_-g" (a REST API key)
    answer = post(receivers.pagerduty_url, PAGERDUTY_TRIGGER | {"routing_key": "e+23rschqsESqk9Q6_-g"})
    assert answer.status_code == 400
    assert answer.json() == {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": [
            "Length of 'routing_key' is incorrect (should be 32 characters)",
            "'routing_key' cannot contain non-alphanumeric characters.",
        ],
    }
    answer = post(receivers.pagerduty_url, PAGERDUTY_TRIGGER | {"routing_key": "e+23rschqsESqk9Q6_-g" + "x" * 12})
    assert answer.json()["errors"] == ["'routing_key' cannot contain non-alphanumeric characters."]
    assert receivers.pagerduty.events == []


def test_pagerduty_answers_a_body_that_is_not_json_as_unrecognized(receivers: ReceiversStandIn) -> None:
    # PagerDuty/api-schema, reference/events-v2/openapiv3.json, components.responses.Error's example; 400 "Check that
    # the JSON is valid" (01-Overview.md)
    answer = post(receivers.pagerduty_url, b"{not json")
    assert answer.status_code == 400
    assert answer.json() == {
        "status": "Unrecognized object",
        "message": "Event object format is unrecognized",
        "errors": ["JSON parse error"],
    }


def test_pagerduty_throttles_without_retry_after_unless_asked(receivers: ReceiversStandIn) -> None:
    # 05-Rate-Limits.md: "429 - Request Limit Exceeded", no Retry-After documented
    receivers.pagerduty.throttle(1)
    answer = post(receivers.pagerduty_url, TRIGGER)
    assert answer.status_code == 429
    assert "Retry-After" not in answer.headers


def test_pagerduty_triggers_deduplicates_acknowledges_and_resolves(receivers: ReceiversStandIn) -> None:
    trigger = PAGERDUTY_TRIGGER | {"routing_key": ROUTING_KEY, "dedup_key": "dedupkeyhere"}
    acknowledge = PAGERDUTY_ACKNOWLEDGE | {"routing_key": ROUTING_KEY}
    resolve = PAGERDUTY_RESOLVE | {"routing_key": ROUTING_KEY}
    first = post(receivers.pagerduty_url, trigger)
    assert first.status_code == 202
    assert first.json() == {"status": "success", "message": "Event processed", "dedup_key": "dedupkeyhere"}
    assert post(receivers.pagerduty_url, trigger).status_code == 202
    incident = receivers.pagerduty.incident("dedupkeyhere")
    assert incident is not None
    assert (incident.status, incident.triggers, incident.severity) == ("triggered", 2, "info")
    assert post(receivers.pagerduty_url, acknowledge).status_code == 202
    assert incident.status == "acknowledged"
    assert post(receivers.pagerduty_url, resolve).status_code == 202
    assert incident.status == "resolved"
    assert receivers.pagerduty.open_incidents() == []
    # "Once the alert is resolved, any further events with the same dedup_key will create a new alert (for trigger
    # events) or be dropped (for acknowledge and resolve events)"
    assert post(receivers.pagerduty_url, resolve).status_code == 202
    assert receivers.pagerduty.dropped == 1
    assert post(receivers.pagerduty_url, trigger).status_code == 202
    assert len(receivers.pagerduty.incidents) == 2
    assert receivers.pagerduty.incidents[-1].open


def test_pagerduty_scopes_dedup_keys_by_routing_key(receivers: ReceiversStandIn) -> None:
    trigger = PAGERDUTY_TRIGGER | {"routing_key": ROUTING_KEY}
    assert post(receivers.pagerduty_url, trigger).status_code == 202
    other = PAGERDUTY_RESOLVE | {"routing_key": "f" * 32, "dedup_key": "samplekeyhere"}
    assert post(receivers.pagerduty_url, other).status_code == 202  # accepted, and dropped: not the same routing
    assert receivers.pagerduty.open_incidents()[0].dedup_key == "samplekeyhere"


def test_pagerduty_generates_a_dedup_key_for_a_trigger_without_one(receivers: ReceiversStandIn) -> None:
    trigger = {key: value for key, value in PAGERDUTY_TRIGGER.items() if key != "dedup_key"}
    answer = post(receivers.pagerduty_url, trigger | {"routing_key": ROUTING_KEY})
    assert answer.status_code == 202
    assert receivers.pagerduty.incident(answer.json()["dedup_key"]) is not None


def _without(payload: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if key != name}


TRIGGER = PAGERDUTY_TRIGGER | {"routing_key": ROUTING_KEY}
PAYLOAD: dict[str, Any] = TRIGGER["payload"]  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (TRIGGER | {"event_action": "page"}, "'event_action' is invalid"),
        (_without(TRIGGER, "event_action"), "'event_action' is invalid"),
        (TRIGGER | {"dedup_key": "k" * 256}, "'dedup_key' is invalid"),
        (_without(TRIGGER, "payload"), "'payload' is missing"),
        (TRIGGER | {"payload": _without(PAYLOAD, "summary")}, "'payload.summary' is missing"),
        # the real service's wording, typo and all (dagster-io/dagster#19567)
        (
            TRIGGER | {"payload": PAYLOAD | {"summary": "s" * 1025}},
            "'summary' is too long (maiximum is 1024 characters)",
        ),
        # the real service's (solana-foundation/solana-developer-platform#576)
        (TRIGGER | {"payload": _without(PAYLOAD, "source")}, "'payload.source' is missing or blank"),
        (TRIGGER | {"payload": PAYLOAD | {"severity": "page"}}, "'payload.severity' is invalid"),
        # the real service's (SigNoz/signoz#9536)
        (TRIGGER | {"payload": _without(PAYLOAD, "severity")}, "'payload.severity' is missing or blank"),
        # api-schema's Payload.custom_details: "type": "object"
        (TRIGGER | {"payload": PAYLOAD | {"custom_details": "ping time 1500ms"}}, "'payload.custom_details'"),
        (TRIGGER | {"images": [{"href": "https://example.com/"}]}, "'images' is invalid"),
        (TRIGGER | {"links": [{"text": "no href"}]}, "'links' is invalid"),
        (_without(PAGERDUTY_RESOLVE | {"routing_key": ROUTING_KEY}, "dedup_key"), "'dedup_key' is required"),
    ],
)
def test_pagerduty_refuses_invalid_events(receivers: ReceiversStandIn, event: dict[str, Any], error: str) -> None:
    answer = post(receivers.pagerduty_url, event)
    assert answer.status_code == 400
    assert answer.json()["status"] == "invalid event"
    assert any(said.startswith(error) for said in answer.json()["errors"]), answer.json()
    assert receivers.pagerduty.events == []


def test_pagerduty_takes_a_timestamp_it_cannot_read(receivers: ReceiversStandIn) -> None:
    # optional, "auto-generated by PagerDuty if not provided" (01-Overview.md): no source says an unreadable one is
    # refused
    assert post(receivers.pagerduty_url, TRIGGER | {"payload": PAYLOAD | {"timestamp": "yesterday"}}).status_code == 202


def test_pagerduty_at_the_limits_is_accepted(receivers: ReceiversStandIn) -> None:
    event = TRIGGER | {"dedup_key": "k" * 255, "payload": PAYLOAD | {"summary": "s" * 1024}}
    assert post(receivers.pagerduty_url, event).status_code == 202


def test_pagerduty_refuses_events_over_512_kb(receivers: ReceiversStandIn) -> None:
    # "Events API payloads are limited to 512 KB"; the possible answers are 202, 400, 429 and 5xx (01-Overview.md)
    event = TRIGGER | {"payload": PAYLOAD | {"custom_details": {"log": "x" * (512 * 1024)}}}
    answer = post(receivers.pagerduty_url, event)
    assert (answer.status_code, answer.json()["status"]) == (400, "invalid event")


def test_pagerduty_revoked_and_down(receivers: ReceiversStandIn) -> None:
    receivers.pagerduty.down(requests=1)
    assert post(receivers.pagerduty_url, TRIGGER).status_code == 503
    receivers.pagerduty.revoke()
    assert post(receivers.pagerduty_url, TRIGGER).status_code == 400
    receivers.pagerduty.restore()
    assert post(receivers.pagerduty_url, TRIGGER).status_code == 202


# ---- Standard Webhooks -----------------------------------------------------------------------------------------------

# the specification's reference library's own test vector (standard-webhooks/standard-webhooks,
# libraries/python/tests/test_webhooks.py, test_sign_function): this key, id, timestamp and payload sign as below
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_PAYLOAD = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def vector_headers(**changes: str) -> dict[str, str]:
    return {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
        **changes,
    }


@pytest.fixture
def at_the_vectors_time() -> Iterator[ReceiversStandIn]:
    with ReceiversStandIn(webhook_secret=VECTOR_SECRET, clock=lambda: VECTOR_TIMESTAMP + 10) as stand_in:
        yield stand_in


def test_webhook_verifies_the_reference_vector(at_the_vectors_time: ReceiversStandIn) -> None:
    answer = post(at_the_vectors_time.webhook_url, VECTOR_PAYLOAD, **vector_headers())
    assert answer.status_code == 200
    (message,) = at_the_vectors_time.webhook.messages
    assert (message.id, message.timestamp, message.payload) == (VECTOR_ID, VECTOR_TIMESTAMP, {"test": 2432232314})


def test_webhook_takes_any_matching_signature_of_the_list(at_the_vectors_time: ReceiversStandIn) -> None:
    # "a space delimited list of signatures": an old key's and an asymmetric one beside it
    signatures = f"v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1a,c2lnbmF0dXJl {VECTOR_SIGNATURE}"
    answer = post(
        at_the_vectors_time.webhook_url, VECTOR_PAYLOAD, **vector_headers(**{"webhook-signature": signatures})
    )
    assert answer.status_code == 200


def test_webhook_deduplicates_by_webhook_id(at_the_vectors_time: ReceiversStandIn) -> None:
    for _ in range(3):
        assert post(at_the_vectors_time.webhook_url, VECTOR_PAYLOAD, **vector_headers()).status_code == 200
    assert len(at_the_vectors_time.webhook.messages) == 1
    assert at_the_vectors_time.webhook.duplicates == 2


@pytest.mark.parametrize(
    ("changes", "body", "status"),
    [
        ({"webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE"}, VECTOR_PAYLOAD, 401),
        ({}, b'{"test": 2432232315}', 401),  # the body changed
        ({"webhook-id": "msg_other"}, VECTOR_PAYLOAD, 401),  # the id is signed too
        ({"webhook-timestamp": str(VECTOR_TIMESTAMP + 1)}, VECTOR_PAYLOAD, 401),  # and the timestamp
        ({"webhook-signature": "v2," + VECTOR_SIGNATURE[3:]}, VECTOR_PAYLOAD, 401),  # not a v1 signature
        ({"webhook-signature": ""}, VECTOR_PAYLOAD, 400),
        ({"webhook-id": ""}, VECTOR_PAYLOAD, 400),
        ({"webhook-id": "msg.with.dots"}, VECTOR_PAYLOAD, 400),
        ({"webhook-timestamp": "16142653.30"}, VECTOR_PAYLOAD, 400),
    ],
)
def test_webhook_refuses_what_does_not_verify(
    at_the_vectors_time: ReceiversStandIn, changes: dict[str, str], body: bytes, status: int
) -> None:
    answer = post(at_the_vectors_time.webhook_url, body, **vector_headers(**changes))
    assert answer.status_code == status
    assert at_the_vectors_time.webhook.messages == []


def test_webhook_refuses_a_timestamp_of_other_digits(at_the_vectors_time: ReceiversStandIn) -> None:
    # "integer unix timestamp": the byte 0xB2 reads "²" (ISO-8859-1, as http.server reads fields), a digit to
    # str.isdigit but not an integer — answered 400, not a dropped connection
    headers = {**vector_headers(), "webhook-timestamp": b"\xb2", "Content-Type": "application/json"}
    answer = httpx.post(at_the_vectors_time.webhook_url, content=VECTOR_PAYLOAD, headers=headers, timeout=10)
    assert answer.status_code == 400
    assert at_the_vectors_time.webhook.messages == []


@pytest.mark.parametrize("skew", [-301, 301])
def test_webhook_refuses_a_timestamp_outside_five_minutes(skew: int) -> None:
    with ReceiversStandIn(webhook_secret=VECTOR_SECRET, clock=lambda: VECTOR_TIMESTAMP - skew) as stand_in:
        assert post(stand_in.webhook_url, VECTOR_PAYLOAD, **vector_headers()).status_code == 401
    with ReceiversStandIn(webhook_secret=VECTOR_SECRET, clock=lambda: VECTOR_TIMESTAMP - skew // 2) as stand_in:
        assert post(stand_in.webhook_url, VECTOR_PAYLOAD, **vector_headers()).status_code == 200


def test_webhook_endpoints_can_have_their_own_secret(receivers: ReceiversStandIn) -> None:
    secret = webhook_secret()
    url = receivers.url_of(receivers.webhook.endpoint("audit", secret))
    now = int(datetime.now(UTC).timestamp())
    body = b'{"type": "rolled_back"}'
    signature = base64.b64encode(
        hmac.new(webhook_key(secret), f"msg_1.{now}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    assert (
        post(
            url, body, **{"webhook-id": "msg_1", "webhook-timestamp": str(now), "webhook-signature": f"v1,{signature}"}
        ).status_code
        == 200
    )
    # the stand-in's own secret does not verify this endpoint's webhooks
    wrong = base64.b64encode(
        hmac.new(webhook_key(receivers.webhook_secret), f"msg_2.{now}.".encode() + body, hashlib.sha256).digest()
    ).decode()
    assert (
        post(
            url, body, **{"webhook-id": "msg_2", "webhook-timestamp": str(now), "webhook-signature": f"v1,{wrong}"}
        ).status_code
        == 401
    )


def test_a_revoked_webhook_is_gone(at_the_vectors_time: ReceiversStandIn) -> None:
    at_the_vectors_time.webhook.revoke()
    assert post(at_the_vectors_time.webhook_url, VECTOR_PAYLOAD, **vector_headers()).status_code == 410


@pytest.mark.parametrize(
    "secret",
    ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!", "whsec_" + base64.b64encode(b"short").decode(), "whsec_"],
)
def test_webhook_secrets_are_in_the_specifications_form(secret: str) -> None:
    with pytest.raises(ValueError, match=r"whsec_|24 to 64") as refused:
        webhook_key(secret)
    assert secret.removeprefix("whsec_") not in str(refused.value) or not secret.removeprefix("whsec_")


# ---- Alertmanager's webhook ------------------------------------------------------------------------------------------

# prometheus/alertmanager docs/configuration.md, "<webhook_config>": the JSON Alertmanager posts
ALERTMANAGER_MESSAGE = {
    "version": "4",
    "groupKey": '{}:{alertname="HighErrorRate"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "findly",
    "groupLabels": {"alertname": "HighErrorRate"},
    "commonLabels": {"alertname": "HighErrorRate", "service": "fn-posts", "severity": "critical"},
    "commonAnnotations": {"summary": "fn-posts: 5xx above 1%"},
    "externalURL": "http://127.0.0.1:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "service": "fn-posts", "severity": "critical"},
            "annotations": {"summary": "fn-posts: 5xx above 1%"},
            "startsAt": "2026-11-01T12:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph",
            "fingerprint": "c0ffee",
        }
    ],
}


def test_alertmanager_webhook_accepts_its_documented_message(receivers: ReceiversStandIn) -> None:
    assert post(receivers.alertmanager_url, ALERTMANAGER_MESSAGE).status_code == 200
    assert receivers.alertmanager.alerts("firing")[0]["labels"]["service"] == "fn-posts"
    assert receivers.alertmanager.messages[0][0] == "findly"


@pytest.mark.parametrize(
    "message", [ALERTMANAGER_MESSAGE | {"version": "3"}, _without(ALERTMANAGER_MESSAGE, "alerts"), [], "text"]
)
def test_alertmanager_webhook_refuses_other_messages(receivers: ReceiversStandIn, message: Any) -> None:
    assert post(receivers.alertmanager_url, message).status_code == 400
    assert receivers.alertmanager.messages == []


def test_unknown_paths_are_not_found(receivers: ReceiversStandIn) -> None:
    assert post(receivers.url + "/nowhere", SLACK_HELLO).status_code == 404
    assert post(receivers.url + "/v2/change/enqueue", TRIGGER).status_code == 404
    assert httpx.get(receivers.pagerduty_url, timeout=10).status_code == 405


# ---- HTTP framing (RFC 9112) -----------------------------------------------------------------------------------------


def raw(receivers: ReceiversStandIn, request: bytes) -> bytes:
    """*request* sent as it is; the whole answer, up to the server closing the connection."""
    with socket.create_connection(("127.0.0.1", receivers.port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def head(receivers: ReceiversStandIn, **fields: str) -> bytes:
    path = receivers.slack_url.removeprefix(receivers.url)
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "²"])
def test_a_malformed_content_length_is_answered_400(receivers: ReceiversStandIn, length: str) -> None:
    # RFC 9110 §8.6: Content-Length = 1*DIGIT; RFC 9112 §6.3: an invalid one is 400 (never a hang or a dropped line)
    assert raw(receivers, head(receivers, Content_Length=length)).startswith(b"HTTP/1.0 400 ")
    assert receivers.slack.messages == []


def test_conflicting_content_lengths_are_answered_400(receivers: ReceiversStandIn) -> None:
    request = head(receivers, Content_Length="5, 17")
    assert raw(receivers, request).startswith(b"HTTP/1.0 400 ")


def test_a_chunked_body_is_read(receivers: ReceiversStandIn) -> None:
    # RFC 9112 §7.1: chunk-size (hex) [chunk-ext] CRLF chunk-data CRLF ... last-chunk, trailer section, CRLF
    body = json.dumps(SLACK_HELLO).encode()
    chunks = b"5;name=value\r\n" + body[:5] + b"\r\n" + f"{len(body) - 5:x}".encode() + b"\r\n" + body[5:] + b"\r\n"
    request = head(receivers, Transfer_Encoding="chunked") + chunks + b"0\r\nX-Trailer: 1\r\n\r\n"
    assert raw(receivers, request).startswith(b"HTTP/1.0 200 ")
    assert receivers.slack.messages[0].payload == SLACK_HELLO
    # and as an HTTP client sends a body of unknown length
    answer = httpx.post(receivers.slack_url, content=iter([body[:3], body[3:]]), timeout=10)
    assert (answer.status_code, answer.text) == (200, "ok")
    assert len(receivers.slack.messages) == 2


@pytest.mark.parametrize(
    ("encoding", "rest", "status"),
    [
        ("chunked", b"zz\r\n", 400),  # not a chunk size
        ("chunked", b"5\r\n{}", 400),  # closed in the middle of a chunk
        ("gzip", b"", 400),  # chunked not the final coding (RFC 9112 §6.3, item 4)
        ("gzip, chunked", b"", 501),  # a coding not understood (§6.1)
    ],
)
def test_a_broken_chunked_body_is_answered(
    receivers: ReceiversStandIn, encoding: str, rest: bytes, status: int
) -> None:
    with socket.create_connection(("127.0.0.1", receivers.port), timeout=10) as connection:
        connection.sendall(head(receivers, Transfer_Encoding=encoding) + rest)
        connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert answer.startswith(f"HTTP/1.0 {status} ".encode())
    assert receivers.slack.messages == []
