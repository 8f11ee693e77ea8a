"""The corrected alerts do not page on a quiet service's stray error or slow request, and still page on an outage:
the rendered rules file run by `promtool test rules` against series that tell each story (one sample a minute).

Before, the shares alone paged: one failed request of ten in five minutes is 10% > 5%, held by the 5-minute rate
window for longer than `for: 2m` (six false pages over the quiet week of ``benchmarks/alerting.py``)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from findly_infra import load_platform
from findly_infra.render import render_platform, write_tree
from tests.conftest import EXAMPLE, PROMETHEUS_INSTALL, require_tool

MINUTES = 40
LABELS = 'service="fn-notifications",environment="production"'


def _counter(per_minute: float, extra: dict[int, float] | None = None) -> str:
    """A counter's samples, one a minute: *per_minute* more each minute, plus *extra* from the given minutes on."""
    values, total = [], 0.0
    for minute in range(MINUTES + 1):
        total += (per_minute if minute else 0) + (extra or {}).get(minute, 0)
        values.append(f"{total:g}")
    return " ".join(values)


def _requests(ok: str, errors: str) -> list[dict[str, str]]:
    return [
        {"series": f'http_requests_total{{{LABELS},status="200"}}', "values": ok},
        {"series": f'http_requests_total{{{LABELS},status="500"}}', "values": errors},
    ]


def _latency(fast: str, slow_included: str) -> list[dict[str, str]]:
    series = []
    for le in ("0.1", "0.2", "0.5", "1", "2.5", "+Inf"):
        values = fast if le in {"0.1", "0.2", "0.5", "1"} else slow_included
        series.append({"series": f'http_request_duration_seconds_bucket{{{LABELS},le="{le}"}}', "values": values})
    return series


def _run(tmp_path: Path, series: list[dict[str, str]], checks: list[tuple[str, str, list[Any]]]) -> None:
    write_tree(render_platform(load_platform(EXAMPLE)), tmp_path / "tree")
    rules = yaml.safe_load((tmp_path / "tree" / "prometheus" / "alerts.rules.yaml").read_text())["groups"]
    annotations = {rule["alert"]: rule.get("annotations", {}) for group in rules for rule in group["rules"]}
    checks = [(at, name, [{**a, "exp_annotations": annotations[name]} for a in alerts]) for at, name, alerts in checks]
    suite = {
        "rule_files": [str(tmp_path / "tree" / "prometheus" / "alerts.rules.yaml")],
        "evaluation_interval": "15s",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {"eval_time": at, "alertname": name, "exp_alerts": alerts} for at, name, alerts in checks
                ],
            }
        ],
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    promtool = require_tool("promtool", PROMETHEUS_INSTALL)
    result = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_one_stray_error_of_a_quiet_service_pages_no_one(tmp_path: Path) -> None:
    # two requests a minute; one of them fails at minute 10: 1 in 10 over five minutes, a 10% share for 5 minutes
    series = _requests(_counter(2, {10: -1}), _counter(0, {10: 1}))
    checks = [(f"{m}m", "HighErrorRateRatio", []) for m in range(11, 17)]
    _run(tmp_path, series, checks)


def test_an_outage_of_a_quiet_service_still_pages(tmp_path: Path) -> None:
    # from minute 10 every request fails: two a minute, so five failures by minute 13, held for 2 minutes by 15
    series = _requests(
        _counter(2, dict.fromkeys(range(10, MINUTES + 1), -2)), _counter(0, dict.fromkeys(range(10, MINUTES + 1), 2))
    )
    expected = [{"exp_labels": {"service": "fn-notifications", "severity": "critical", "notification": "pagerduty"}}]
    _run(tmp_path, series, [("9m", "HighErrorRateRatio", []), ("17m", "HighErrorRateRatio", expected)])


def test_two_slow_requests_of_a_quiet_service_page_no_one(tmp_path: Path) -> None:
    # two requests a minute under 100 ms; one takes 2 s at minutes 10 and 11: p95 of ten requests is in the slow bucket
    series = _latency(_counter(2, {10: -1, 11: -1}), _counter(2))
    checks = [(f"{m}m", "HighLatencyAggregated", []) for m in range(12, 20)]
    _run(tmp_path, series, checks)


def test_a_slowdown_with_traffic_still_pages(tmp_path: Path) -> None:
    # sixty requests a minute; from minute 10 every one takes 2 s
    series = _latency(_counter(60, dict.fromkeys(range(10, MINUTES + 1), -60)), _counter(60))
    expected = [{"exp_labels": {"service": "fn-notifications", "severity": "warning", "notification": "slack"}}]
    _run(tmp_path, series, [("9m", "HighLatencyAggregated", []), ("22m", "HighLatencyAggregated", expected)])
