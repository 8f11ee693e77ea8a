"""A real Alertmanager (Debian's prometheus-alertmanager) posts to the receivers' stand-ins with its own
slack_configs (legacy attachments), pagerduty_configs (Events API v2 with client, client_url, links) and
webhook_configs (its own unsigned JSON, version "4"): the stand-ins accept what it sends, because the real services
do. One alert fires and then resolves; each receiver gets both. (The end-to-end test of the rendered configuration,
with a real Prometheus, is tests' of the Alertmanager configuration; this one checks only the stand-ins.)"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml

from findly_infra.testing.receivers import ReceiversStandIn
from tests.conftest import require_tool

pytestmark = pytest.mark.timeout(180)

ALERTMANAGER_INSTALL = "Debian: apt-get install prometheus-alertmanager"
ROUTING_KEY = "a" * 32


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[tuple[ReceiversStandIn, str]]:
    program = require_tool("prometheus-alertmanager", ALERTMANAGER_INSTALL)
    with ReceiversStandIn(routing_key=ROUTING_KEY) as receivers:
        config = {
            "route": {
                "receiver": "all",
                "group_by": ["alertname"],
                "group_wait": "0s",
                "group_interval": "1s",
                "repeat_interval": "1h",
            },
            "receivers": [
                {
                    "name": "all",
                    "slack_configs": [{"api_url": receivers.slack_url, "channel": "#deploys", "send_resolved": True}],
                    "pagerduty_configs": [
                        {"routing_key": ROUTING_KEY, "url": receivers.pagerduty_url, "send_resolved": True}
                    ],
                    "webhook_configs": [{"url": receivers.alertmanager_url, "send_resolved": True}],
                }
            ],
        }
        (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
        port = _free_port()
        log = (tmp_path / "alertmanager.log").open("wb")
        process = subprocess.Popen(
            [
                program,
                f"--config.file={tmp_path / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",  # no gossip: one Alertmanager alone
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _until(lambda: _ready(url), f"Alertmanager at {url} ready")
            yield receivers, url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
            log.close()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _until(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds:g} s for {what}"
        time.sleep(0.1)


def test_a_real_alertmanager_is_accepted_by_every_stand_in(alertmanager: tuple[ReceiversStandIn, str]) -> None:
    receivers, url = alertmanager
    alert = {
        "labels": {"alertname": "HighErrorRate", "service": "fn-posts", "severity": "critical"},
        "annotations": {"summary": "fn-posts: 5xx above 1% for 1m"},
        "startsAt": datetime.now(UTC).isoformat(),
    }
    assert httpx.post(f"{url}/api/v2/alerts", json=[alert], timeout=10).status_code == 200
    _until(
        lambda: receivers.slack.messages and receivers.pagerduty.events and receivers.alertmanager.messages,
        "the firing alert at every receiver",
    )
    resolved = {**alert, "endsAt": datetime.now(UTC).isoformat()}
    assert httpx.post(f"{url}/api/v2/alerts", json=[resolved], timeout=10).status_code == 200
    _until(lambda: receivers.alertmanager.alerts("resolved") != [], "the resolved alert")
    _until(lambda: len(receivers.pagerduty.events) >= 2 and len(receivers.slack.messages) >= 2, "every resolve")

    for stand_in in (receivers.slack, receivers.pagerduty, receivers.alertmanager):
        refused = [(request.status, request.answer) for request in stand_in.requests if request.status >= 300]
        assert refused == [], f"{stand_in.name} refused what Alertmanager sent"
    # Slack: legacy attachments, no blocks
    assert "attachments" in receivers.slack.messages[0].payload
    assert any("HighErrorRate" in text for text in receivers.slack.messages[0].texts())
    # PagerDuty: one incident, triggered then resolved by Alertmanager's dedup_key (a digest of the group key)
    (incident,) = receivers.pagerduty.incidents
    assert incident.status == "resolved"
    trigger = incident.events[0]
    # Alertmanager's default severity is "error", whatever the alert's labels (pagerduty_configs' severity)
    assert trigger["payload"]["severity"] == "error"
    assert trigger["client"] == "Alertmanager"
    # its own webhook: version 4, firing then resolved
    statuses = [message["status"] for _, message in receivers.alertmanager.messages]
    assert statuses[0] == "firing"
    assert statuses[-1] == "resolved"
