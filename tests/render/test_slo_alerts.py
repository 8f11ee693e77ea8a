"""The SLO alerts, run by `promtool test rules` against series that tell a story.

The example platform's SLOs: availability 99.9% over 30 days, latency 95% of requests < 200ms over 5
minutes, error rate < 0.1% over 5 minutes (the last two scaled down to five-minute windows, the shortest rate window).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from findly_infra.domain import Duration
from findly_infra.render.rules import BURN_ALERT, burn_tiers

from .conftest import tool

SERVICE = "fn-posts"


def _requests(status: int, values: str) -> dict[str, str]:
    return {"series": f'http_requests_total{{service="{SERVICE}",status="{status}"}}', "values": values}


def _latency(le: str, values: str) -> dict[str, str]:
    name = "http_request_duration_seconds_count" if le == "count" else "http_request_duration_seconds_bucket"
    labels = f'service="{SERVICE}"' + ("" if le == "count" else f',le="{le}"')
    return {"series": f"{name}{{{labels}}}", "values": values}


def _expected(rules: dict[str, Any], *pairs: tuple[str, str]) -> list[dict[str, Any]]:
    """The alerts promtool should see, annotations rendered from the rule files themselves."""
    expected = []
    for slo, severity in pairs:
        (rule,) = [
            r
            for group in rules["groups"]
            for r in group["rules"]
            if r.get("alert") == BURN_ALERT and r["labels"] == {"severity": severity, "slo": slo}
        ]
        annotations = {k: v.replace("{{ $labels.service }}", SERVICE) for k, v in rule["annotations"].items()}
        expected.append(
            {"exp_labels": {"severity": severity, "slo": slo, "service": SERVICE}, "exp_annotations": annotations}
        )
    return expected


def _run(
    rendered: Path, tmp_path: Path, interval: str, series: list[dict[str, str]], checks: list[tuple[str, list[Any]]]
) -> None:
    rules = rendered / "prometheus" / "slo.rules.yaml"
    suite = {
        "rule_files": [str(rules)],
        "evaluation_interval": interval,
        "tests": [
            {
                "interval": interval,
                "input_series": series,
                "alert_rule_test": [
                    {"eval_time": at, "alertname": BURN_ALERT, "exp_alerts": alerts} for at, alerts in checks
                ],
            }
        ],
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    result = subprocess.run(
        [tool("promtool"), "test", "rules", str(path)], capture_output=True, text=True, check=False, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def rules(rendered: Path) -> dict[str, Any]:
    return yaml.safe_load((rendered / "prometheus" / "slo.rules.yaml").read_text())


def test_a_full_outage_pages_within_two_minutes(rendered: Path, tmp_path: Path, rules: dict[str, Any]) -> None:
    # an hour at 1000 requests a minute, all fine; then every request fails
    series = [_requests(200, "0+1000x60 60000+0x10"), _requests(500, "0+0x60 1000+1000x10")]
    everything = _expected(
        rules, ("availability", "page"), ("error_rate", "page"), ("availability", "ticket"), ("error_rate", "ticket")
    )
    _run(rendered, tmp_path, "1m", series, [("60m", []), ("62m", everything)])


def test_twice_the_budget_raises_a_ticket_and_pages_no_one(
    rendered: Path, tmp_path: Path, rules: dict[str, Any]
) -> None:
    # three days at 1000 requests a minute, 0.2% of them failing: twice what 99.9% allows
    minutes = 3 * 24 * 60
    series = [_requests(200, f"0+998x{minutes}"), _requests(500, f"0+2x{minutes}")]
    tickets = _expected(rules, ("availability", "ticket"), ("error_rate", "ticket"))
    _run(rendered, tmp_path, "1m", series, [("7h", tickets), ("1d", tickets), ("3d", tickets)])


def test_traffic_meeting_its_slo_raises_nothing_over_three_days(rendered: Path, tmp_path: Path) -> None:
    # 0.05% errors: half of what 99.9% allows
    minutes = 3 * 24 * 60
    series = [_requests(200, f"0+1999x{minutes}"), _requests(500, f"0+1x{minutes}")]
    _run(rendered, tmp_path, "1m", series, [(at, []) for at in ("5m", "1h", "6h", "1d", "2d", "3d")])


def test_zero_traffic_pages_nothing(rendered: Path, tmp_path: Path) -> None:
    # counters that exist but do not move (a service nobody calls), then no series at all
    series = [_requests(200, "0+0x1440"), _requests(500, "0+0x1440"), _latency("count", "0+0x1440")]
    _run(rendered, tmp_path, "1m", series, [(at, []) for at in ("5m", "1h", "6h", "1d")])
    _run(rendered, tmp_path, "1m", [{"series": 'up{job="other"}', "values": "1+0x120"}], [("2h", [])])


def test_a_latency_collapse_pages_for_the_latency_slo(rendered: Path, tmp_path: Path, rules: dict[str, Any]) -> None:
    # 1000 requests a minute: 99% under 200ms for an hour, then none
    series = [
        _latency("0.1", "0+900x60 54000+0x10"),
        _latency("0.2", "0+990x60 59400+0x10"),
        _latency("+Inf", "0+1000x60 61000+1000x10"),
        _latency("count", "0+1000x60 61000+1000x10"),
    ]
    _run(
        rendered,
        tmp_path,
        "1m",
        series,
        [("60m", []), ("62m", _expected(rules, ("latency", "page"), ("latency", "ticket")))],
    )


def test_windows_scale_with_the_slo_window() -> None:
    month = burn_tiers(Duration.of(days=30))
    assert [(t.severity, t.long.format(), t.short.format(), t.factor) for t in month] == [
        ("page", "1h", "5m", 14.4),
        ("page", "6h", "30m", 6.0),
        ("ticket", "3d", "6h", 1.0),
    ]
    week = burn_tiers(Duration.of(days=7))
    assert [(t.long.format(), t.short.format()) for t in week] == [
        ("14m", "5m"),
        ("1h24m", "7m"),
        ("16h48m", "1h24m"),
    ]
    short = burn_tiers(Duration.of(minutes=5))
    assert {(t.long.format(), t.short.format()) for t in short} == {("5m", "5m")}
    assert [t.factor for t in short] == [6.0, 1.0]
