"""End to end, real components: the real Prometheus evaluates the RENDERED alert rules against live scrape targets and
sends to the real Alertmanager running the RENDERED configuration, which notifies the loopback stand-ins of Slack's
incoming webhooks and PagerDuty's Events API v2 (``findly_infra.testing.receivers``: each refuses what the real service
refuses). An outage begins (a service's target stops answering, memory climbs) and the page arrives at PagerDuty; a
warning of another service arrives at Slack; the warning of the service that is down reaches no one (inhibited); the
service comes back and the PagerDuty incident is resolved.

Time is scaled by ``FACTOR`` (1/30): rule evaluation 15 s → 500 ms, ``for: 1m`` → 2 s, ``for: 10m`` → 20 s, group
wait 10 s → 333 ms, group interval 1 m → 2 s. Nothing asserts on time: the waits are upper bounds for a loaded
machine."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
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
from findly_infra.testing.receivers import ReceiversStandIn
from tests.conftest import ALERTMANAGER_INSTALL, EXAMPLE, PROMETHEUS_INSTALL, require_tool

FACTOR = 1 / 30
PATIENCE = 120.0  # seconds: the most any step may take on a loaded machine (not a measured figure)


def _wait(what: str, found: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        if result := found():
            return result
        time.sleep(0.2)
    pytest.fail(f"{what}: not within {PATIENCE:g} s")


def _memory(used: dict[str, float]) -> str:
    """The kubelet's cAdvisor series of each service's pod, with the labels the real ones carry: the container's
    cgroup ``id``, ``image``, ``name``, ``namespace``, ``pod`` and ``container`` — no service or environment
    (kubernetes/kubernetes#79702; cAdvisor's own labels, google/cadvisor#3039) — and the pod's own cgroup (container
    "", its limit the sum of its containers') beside it."""
    lines = ["# TYPE container_memory_usage_bytes gauge", "# TYPE container_spec_memory_limit_bytes gauge"]
    for service, share in used.items():
        pod = f'namespace="findly-now-production",pod="{service}-7d9f8-x2x4q"'
        cgroup = f"/kubepods/burstable/pod{service}"
        for container, usage, limit in ((service, share * 1e9, 1e9), ("", share * 1e9 + 1e6, 1e9)):
            image = f"gcr.io/findly-now/{service}:1.0" if container else ""
            labels = f'container="{container}",id="{cgroup}/{container}",image="{image}",name="k8s_{container}",{pod}'
            lines += [
                f"container_memory_usage_bytes{{{labels}}} {usage:.0f}",
                f"container_spec_memory_limit_bytes{{{labels}}} {limit:.0f}",
            ]
    return "\n".join(lines) + "\n"


def _pod_labels(services: list[str]) -> str:
    """kube-state-metrics' ``kube_pod_labels``: each pod's Kubernetes labels as ``label_<name>`` (its
    docs/pod-metrics.md), here the rendered pods' ``service`` and ``environment`` (allowed by
    ``--metric-labels-allowlist=pods=[service,environment]``)."""
    lines = ["# TYPE kube_pod_labels gauge"]
    for service in services:
        lines.append(
            f'kube_pod_labels{{namespace="findly-now-production",pod="{service}-7d9f8-x2x4q",uid="u-{service}",'
            f'label_app="{service}",label_service="{service}",label_environment="production"}} 1'
        )
    return "\n".join(lines) + "\n"


@pytest.fixture
def receivers() -> Iterator[ReceiversStandIn]:
    """Slack's incoming webhook and PagerDuty's Events API v2, each checking what it receives as the service does."""
    with ReceiversStandIn() as stand_in:
        yield stand_in


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
            ("cadvisor", {}),  # the kubelet's cAdvisor: its series name their namespace, pod and container
            ("kube-state-metrics", {}),
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


def test_an_outage_pages_through_the_real_prometheus_and_alertmanager(
    tmp_path: Path, receivers: ReceiversStandIn
) -> None:
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
    (secrets / "slack-api-url").write_text(receivers.slack_url)
    (secrets / "pagerduty-routing-key").write_text(receivers.routing_key)
    config = scaled_config(yaml.safe_load(tree["prometheus/alertmanager.yaml"]), FACTOR)
    assert config == scaled_config(alertmanager_config(platform), FACTOR)
    for item in config["receivers"]:
        for pagerduty in item.get("pagerduty_configs", ()):
            pagerduty["url"] = receivers.pagerduty_url  # in place of https://events.pagerduty.com/v2/enqueue
    text = yaml.safe_dump(config).replace(SECRET_FOLDER, str(secrets))

    with ScrapeTargets() as targets, AlertmanagerServer(text, tmp_path / "alertmanager") as alertmanager:
        for service in ("fn-posts", "fn-matcher"):
            targets.set(service, "")
        targets.set("cadvisor", _memory({"fn-posts": 0.5, "fn-matcher": 0.5}))
        targets.set("kube-state-metrics", _pod_labels(["fn-posts", "fn-matcher"]))
        prometheus = PrometheusServer(
            "",
            tmp_path / "prometheus",
            config=_prometheus_config(targets, alertmanager),
            files={"alerts.rules.yaml": rules},
        )
        with prometheus as url:
            _wait("Prometheus scrapes the four targets", lambda: _query(url, "count(up == 1) == 4"))
            # the outage begins: fn-posts stops answering; memory climbs in both services
            targets.down("fn-posts")
            targets.set("cadvisor", _memory({"fn-posts": 0.9, "fn-matcher": 0.9}))

            page = _wait("the page at PagerDuty", lambda: list(receivers.pagerduty.incidents))[0]
            warning = _wait("the warning at Slack", lambda: list(receivers.slack.messages))[0]
            # fn-posts's warning reached Alertmanager, which holds it back while fn-posts is down
            held = _wait(
                "fn-posts's warning at Alertmanager",
                lambda: _alerts(alertmanager, "fn-posts", "HighMemoryUsagePerService"),
            )
            # one more evaluation and group interval after it: still nothing for fn-posts at Slack
            time.sleep(4 * 60_000 * FACTOR / 1000)
            slack = [" ".join(message.texts()) for message in receivers.slack.messages]
            pages = [json.dumps(event) for event in receivers.pagerduty.events]
            # the service answers again: the page is resolved (send_resolved), the same dedup_key
            targets.set("fn-posts", "")
            _wait("the incident resolved", lambda: not page.open)

    assert page.routing_key == receivers.routing_key  # read from the Secret's file
    assert [event["event_action"] for event in page.events] == ["trigger", "resolve"]
    assert page.severity == "critical"
    assert "ServiceDown" in page.summary
    assert "fn-posts" in page.summary
    assert all(request.status < 300 for request in receivers.pagerduty.requests + receivers.slack.requests)
    title = warning.payload["attachments"][0]["title"]
    assert "HighMemoryUsage" in title
    assert "fn-matcher" in title
    assert "warning" in title
    assert held[0]["status"]["state"] == "suppressed"
    assert held[0]["status"]["inhibitedBy"]
    assert all("fn-posts" not in message for message in slack), slack
    assert all("fn-matcher" not in event for event in pages), pages


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
