"""End to end, real components: the real Prometheus evaluates the RENDERED alert rules against live scrape targets and
sends to the real Alertmanager running the RENDERED configuration, which notifies loopback receivers. An outage
begins (a service's target stops answering, memory climbs) and the page arrives at PagerDuty; a warning of another
service arrives at Slack; the warning of the service that is down reaches no one (inhibited).

Time is scaled by ``FACTOR`` (1/30): rule evaluation 15 s → 500 ms, ``for: 1m`` → 2 s, ``for: 10m`` → 20 s, group
wait 10 s → 333 ms, group interval 1 m → 2 s. Nothing asserts on time: the waits are upper bounds for a loaded
machine."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from findly_infra import load_platform
from findly_infra.render import render_platform
from findly_infra.render.alertmanager import SECRET_FOLDER, alertmanager_config
from findly_infra.testing.alertmanager import (
    AlertmanagerServer,
    ScrapeTargets,
    alertmanager_binary,
    scaled_config,
    scaled_rule_groups,
)
from findly_infra.testing.prometheus import PrometheusServer
from tests.conftest import ALERTMANAGER_INSTALL, EXAMPLE, PROMETHEUS_INSTALL, require_tool

FACTOR = 1 / 30
ROUTING_KEY = "R0123456789ABCDEFGHIJKLMNOPQRSTU"  # 32 characters, as PagerDuty's integration keys are
PATIENCE = 120.0  # seconds: the most any step may take on a loaded machine (not a measured figure)


class Inbox:
    """A minimal loopback receiver: records each POST (path, JSON body) and answers as the real services do —
    Slack's incoming webhook 200 ``ok`` (https://api.slack.com/messaging/webhooks), PagerDuty's Events API v2 202
    ``{"status": "success", ...}`` at ``/v2/enqueue`` (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/).
    """

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with inbox._lock:
                    inbox.received.append((self.path, body))
                if self.path == "/v2/enqueue":
                    answer, status = json.dumps({"status": "success", "message": "Event processed"}).encode(), 202
                else:
                    answer, status = b"ok", 200
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def at(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [body for where, body in self.received if where == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


SLACK_PATH = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"


def _wait(what: str, found: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        if result := found():
            return result
        time.sleep(0.2)
    pytest.fail(f"{what}: not within {PATIENCE:g} s")


def _memory(used: dict[str, float]) -> str:
    lines = ["# TYPE container_memory_usage_bytes gauge", "# TYPE container_spec_memory_limit_bytes gauge"]
    for service, share in used.items():
        labels = f'service="{service}",environment="production",container="{service}"'
        lines += [
            f"container_memory_usage_bytes{{{labels}}} {share * 1e9:.0f}",
            f"container_spec_memory_limit_bytes{{{labels}}} 1000000000",
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    receiver = Inbox()
    try:
        yield receiver
    finally:
        receiver.close()


def _prometheus_config(targets: ScrapeTargets, alertmanager: str) -> str:
    scrape = [
        {
            "job_name": name,
            "metrics_path": targets.path(name),
            "static_configs": [{"targets": [targets.address], "labels": labels}],
        }
        for name, labels in (
            ("fn-posts", {"service": "fn-posts", "environment": "production"}),
            ("fn-matcher", {"service": "fn-matcher", "environment": "production"}),
            ("cadvisor", {}),  # the kubelet's cAdvisor: its series name their pod's service themselves
        )
    ]
    interval = f"{round(15_000 * FACTOR)}ms"
    return yaml.safe_dump(
        {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "rule_files": ["alerts.rules.yaml"],
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager.removeprefix("http://")]}]}]},
            "scrape_configs": scrape,
        }
    )


def test_an_outage_pages_through_the_real_prometheus_and_alertmanager(tmp_path: Path, inbox: Inbox) -> None:
    require_tool("prometheus", PROMETHEUS_INSTALL)
    if alertmanager_binary() is None:
        require_tool("prometheus-alertmanager", ALERTMANAGER_INSTALL)
    platform = load_platform(EXAMPLE)
    tree = render_platform(platform)
    # the rules as applied to a cluster: the PrometheusRule object's groups, as a rules file
    groups = yaml.safe_load(tree["base/monitoring/prometheusrule-alerts.yaml"])["spec"]["groups"]
    rules = yaml.safe_dump({"groups": scaled_rule_groups(groups, FACTOR)})
    # the rendered configuration, its Secret's files written here and pointing at the loopback receivers
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "slack-api-url").write_text(inbox.url + SLACK_PATH)
    (secrets / "pagerduty-routing-key").write_text(ROUTING_KEY)
    config = scaled_config(yaml.safe_load(tree["prometheus/alertmanager.yaml"]), FACTOR)
    assert config == scaled_config(alertmanager_config(platform), FACTOR)
    for item in config["receivers"]:
        for pagerduty in item.get("pagerduty_configs", ()):
            pagerduty["url"] = f"{inbox.url}/v2/enqueue"  # in place of https://events.pagerduty.com/v2/enqueue
    text = yaml.safe_dump(config).replace(SECRET_FOLDER, str(secrets))

    with ScrapeTargets() as targets, AlertmanagerServer(text, tmp_path / "alertmanager") as alertmanager:
        for service in ("fn-posts", "fn-matcher"):
            targets.set(service, "")
        targets.set("cadvisor", _memory({"fn-posts": 0.5, "fn-matcher": 0.5}))
        prometheus = PrometheusServer(
            "",
            tmp_path / "prometheus",
            config=_prometheus_config(targets, alertmanager),
            files={"alerts.rules.yaml": rules},
        )
        with prometheus as url:
            _wait("Prometheus scrapes the three targets", lambda: _query(url, "count(up == 1) == 3"))
            # the outage begins: fn-posts stops answering; memory climbs in both services
            targets.down("fn-posts")
            targets.set("cadvisor", _memory({"fn-posts": 0.9, "fn-matcher": 0.9}))

            page = _wait("the page at PagerDuty", lambda: inbox.at("/v2/enqueue"))[0]
            warning = _wait("the warning at Slack", lambda: inbox.at(SLACK_PATH))[0]
            # fn-posts's warning reached Alertmanager, which holds it back while fn-posts is down
            held = _wait(
                "fn-posts's warning at Alertmanager", lambda: _alerts(alertmanager, "fn-posts", "HighMemoryUsage")
            )
            # one more evaluation and group interval after it: still nothing for fn-posts at Slack
            time.sleep(4 * 60_000 * FACTOR / 1000)
            slack = inbox.at(SLACK_PATH)
            pages = inbox.at("/v2/enqueue")

    assert page["routing_key"] == ROUTING_KEY  # read from the Secret's file
    assert page["event_action"] == "trigger"
    assert page["payload"]["severity"] == "critical"
    assert "ServiceDown" in page["payload"]["summary"]
    assert "fn-posts" in page["payload"]["summary"]
    assert page["dedup_key"]
    title = warning["attachments"][0]["title"]
    assert "HighMemoryUsage" in title
    assert "fn-matcher" in title
    assert "warning" in title
    assert held[0]["status"]["state"] == "suppressed"
    assert held[0]["status"]["inhibitedBy"]
    assert all("fn-posts" not in json.dumps(message) for message in slack), slack
    assert all("fn-matcher" not in json.dumps(message) for message in pages), pages


def _query(url: str, expression: str) -> bool:
    answer = httpx.get(f"{url}/api/v1/query", params={"query": expression}, timeout=5).json()
    return bool(answer["data"]["result"])


def _alerts(alertmanager: str, service: str, alertname: str) -> list[dict[str, Any]]:
    """The alerts Alertmanager holds (API v2), active, silenced and inhibited alike."""
    found = httpx.get(
        f"{alertmanager}/api/v2/alerts",
        params={"filter": [f'alertname="{alertname}"', f'service="{service}"'], "inhibited": "true"},
        timeout=5,
    ).json()
    return list(found)
