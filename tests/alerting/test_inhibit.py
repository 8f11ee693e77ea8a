"""One outage, one page: the real Alertmanager (Debian's 0.25) running the rendered configuration holds back what
the rendered rules would otherwise page twice for. Alerts are posted to its API v2 with the labels the rendered rules
give them (read from the rendered rules file), and its answer (``/api/v2/alerts``, ``status.state``) says which it
suppresses: inhibition compares label values as they are (``inhibit/inhibit.go`` at v0.25.0), so a label one alert
lacks and the other carries is a difference."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from findly_infra import load_platform
from findly_infra.render import render_platform
from findly_infra.testing.alertmanager import AlertmanagerServer, alertmanager_binary
from tests.conftest import ALERTMANAGER_INSTALL, EXAMPLE, require_tool

SERVICE = {"service": "fn-posts", "environment": "production"}
PATIENCE = 60.0  # seconds: the most Alertmanager may take to mark an alert on a loaded machine (not a measured figure)


def _labels(tree: dict[str, str], alert: str, **match: str) -> dict[str, str]:
    """The labels the rendered rules give *alert* (those of its rule whose labels include *match*)."""
    rules = [
        rule
        for name in ("prometheus/alerts.rules.yaml", "prometheus/slo.rules.yaml")
        for group in yaml.safe_load(tree[name])["groups"]
        for rule in group["rules"]
        if rule.get("alert") == alert and all(rule["labels"].get(k) == v for k, v in match.items())
    ]
    return {**rules[0]["labels"], "alertname": alert, **SERVICE}


def _state(url: str, alertname: str) -> str:
    found = httpx.get(
        f"{url}/api/v2/alerts", params={"filter": f'alertname="{alertname}"', "inhibited": "true"}, timeout=5
    ).json()
    return str(found[0]["status"]["state"]) if found else ""


def _settled(url: str, names: list[str]) -> dict[str, str]:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        states = {name: _state(url, name) for name in names}
        if all(states.values()) and "suppressed" in states.values():
            return states
        time.sleep(0.2)
    return {name: _state(url, name) for name in names}


@pytest.mark.parametrize(
    ("source", "target"),
    [
        # an SLO page holds back the corrected form of the seed's HighErrorRate (finding 6)
        (("SLOErrorBudgetBurn", {"severity": "page", "slo": "error_rate"}), ("HighErrorRateRatio", {})),
        # a critical corrected alert holds back the SLO ticket of the same service in the same environment
        (("HighErrorRateRatio", {}), ("SLOErrorBudgetBurn", {"severity": "ticket", "slo": "availability"})),
        # the SLO page holds back the corrected latency warning
        (("SLOErrorBudgetBurn", {"severity": "page", "slo": "latency"}), ("HighLatencyAggregated", {})),
    ],
)
def test_one_outage_pages_once(
    tmp_path: Path, source: tuple[str, dict[str, str]], target: tuple[str, dict[str, str]]
) -> None:
    if alertmanager_binary() is None:
        require_tool("prometheus-alertmanager", ALERTMANAGER_INSTALL)
    tree = render_platform(load_platform(EXAMPLE))
    now = datetime.now(UTC)
    alerts: list[dict[str, Any]] = [
        {
            "labels": _labels(tree, name, **match),
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=1)).isoformat(),
        }
        for name, match in (source, target)
    ]
    with AlertmanagerServer(tree["prometheus/alertmanager.yaml"], tmp_path / "am") as url:
        assert httpx.post(f"{url}/api/v2/alerts", json=alerts, timeout=5).status_code == 200
        states = _settled(url, [source[0], target[0]])
    assert states == {source[0]: "active", target[0]: "suppressed"}, (alerts, states)
