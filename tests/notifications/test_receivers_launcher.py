"""``python -m findly_infra.testing.receivers``, as the docs tell a user to run it: started as a process on a free
port, its printed lines read, each receiver reached through what they say (the adapters, and the Standard Webhooks
reference library's own signature), then SIGTERM and exit 0; bad options are exit 2 with the reason."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from findly_infra.adapters.notifiers import PagerDutyNotifier, SlackNotifier, WebhookNotifier
from findly_infra.domain.notifications import Notification, NotificationKind, NotificationSeverity, PageAction
from findly_infra.testing.receivers import webhook_secret
from tests.docs_examples import user_environment
from tests.test_launchers import launched

pytestmark = pytest.mark.timeout(180)

NOTIFICATION = Notification(
    id="ntf-1",
    kind=NotificationKind.ROLLOUT_PAUSED,
    severity=NotificationSeverity.WARNING,
    service="fn-posts",
    environment="production",
    version="1.4.2",
    at=datetime(2026, 11, 1, 12, 0, tzinfo=UTC),
    summary="paused at stage 2/4: p99 latency 870ms above 800ms",
    incident_key="fn-posts/production/1.4.2",
    action=PageAction.TRIGGER,
)


def test_the_receivers_launcher_serves_what_it_prints(tmp_path: Path) -> None:
    from standardwebhooks import Webhook

    secret = webhook_secret()
    with launched("receivers", "--webhook-secret", secret, cwd=tmp_path) as receivers:
        exports = receivers.exports()
        assert exports["WEBHOOK_SECRET"] == secret
        assert len(exports["PAGERDUTY_ROUTING_KEY"]) == 32
        assert SlackNotifier(exports["SLACK_WEBHOOK_URL"]).send(NOTIFICATION).detail == "slack 200 ok"
        paged = PagerDutyNotifier(exports["PAGERDUTY_ROUTING_KEY"], url=exports["PAGERDUTY_EVENTS_URL"])
        assert paged.send(NOTIFICATION).detail == "pagerduty 202 Event processed"
        assert WebhookNotifier(exports["WEBHOOK_URL"], secret).send(NOTIFICATION).delivered
        # signed by the reference library, by other hands than ours
        body = b'{"type": "rollout_paused"}'
        now = datetime.now(UTC)
        signature = Webhook(secret).sign("msg_reference_1", now, body)
        headers = {"webhook-id": "msg_reference_1", "webhook-timestamp": str(int(now.timestamp()))}
        answer = httpx.post(exports["WEBHOOK_URL"], content=body, headers={**headers, "webhook-signature": signature})
        assert answer.status_code == 200
        alertmanager = [line for line in receivers.lines if line.startswith("Alertmanager webhook: ")]
        assert alertmanager == [
            f"Alertmanager webhook: {exports['WEBHOOK_URL'].replace('/webhook/', '/alertmanager/')}"
        ]
        code, _ = receivers.stop()
    assert code == 0


@pytest.mark.parametrize(
    ("option", "said"),
    [
        (["--webhook-secret", "not-a-secret-in-form"], "--webhook-secret: a webhook secret is whsec_"),
        (["--webhook-secret", "whsec_c2hvcnQ="], "--webhook-secret: a webhook secret's key is 24 to 64 bytes"),
        (["--routing-key", "short"], "--routing-key: a PagerDuty routing key is 32 characters"),
        (["--port", "http"], "'http' is not a port number"),
    ],
)
def test_bad_options_are_exit_2_with_the_reason(tmp_path: Path, option: list[str], said: str) -> None:
    done = subprocess.run(
        # any free port beside a bad option: the default one may be taken (a stand-in a person started), and a port
        # taken is said first
        [
            sys.executable,
            "-m",
            "findly_infra.testing.receivers",
            *(["--port", "0"] if "--port" not in option else []),
            *option,
        ],
        cwd=tmp_path,
        env=user_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert said in done.stderr
    assert "not-a-secret-in-form" not in done.stderr
    assert done.stdout == ""
