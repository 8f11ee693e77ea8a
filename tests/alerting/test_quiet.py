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
from findly_infra.testing.alertmanager import routed_receiver
from tests.conftest import EXAMPLE, PROMETHEUS_INSTALL, require_tool

MINUTES = 40
LABELS = 'service="fn-notifications",environment="production"'
SERVICE = {"service": "fn-notifications", "environment": "production"}
PAGING = ["HighErrorRateRatio", "SLOErrorBudgetBurn", "ServiceDown"]
"""Every rendered alert that pages (routed to PagerDuty), as ``_paging`` finds them in the rendered files (the seed's
``HighErrorRate`` no more: its corrected form pages in its place)."""


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


def _rendered(tmp_path: Path) -> tuple[list[str], list[dict[str, Any]], dict[str, Any]]:
    write_tree(render_platform(load_platform(EXAMPLE)), tmp_path / "tree")
    files = [str(tmp_path / "tree" / "prometheus" / name) for name in ("alerts.rules.yaml", "slo.rules.yaml")]
    rules = [
        rule for file in files for group in yaml.safe_load(Path(file).read_text())["groups"] for rule in group["rules"]
    ]
    config = yaml.safe_load((tmp_path / "tree" / "prometheus" / "alertmanager.yaml").read_text())
    return files, [rule for rule in rules if "alert" in rule], config


def _paging(rules: list[dict[str, Any]], config: dict[str, Any]) -> list[str]:
    """The names of every rendered alert that Alertmanager routes to PagerDuty."""
    return sorted({rule["alert"] for rule in rules if routed_receiver(rule["labels"], config) == "pagerduty"})


def _run(tmp_path: Path, series: list[dict[str, str]], checks: list[tuple[str, str, list[Any]]]) -> None:
    files, rules, _ = _rendered(tmp_path)

    def annotations(name: str, labels: dict[str, str]) -> dict[str, str]:
        (rule,) = [r for r in rules if r["alert"] == name and all(labels.get(k) == v for k, v in r["labels"].items())]
        # Prometheus expands the templates of an alert's annotations (the SLO alerts' summary names the service)
        return {
            k: v.replace("{{ $labels.service }}", labels["service"]) for k, v in rule.get("annotations", {}).items()
        }

    checks = [
        (at, name, [{**a, "exp_annotations": annotations(name, a["exp_labels"])} for a in alerts])
        for at, name, alerts in checks
    ]
    suite = {
        "rule_files": files,
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


def test_every_alert_routed_to_pagerduty_is_checked(tmp_path: Path) -> None:
    # the quiet-service stories below check these names; a new paging rule must join them
    _, rules, config = _rendered(tmp_path)
    assert _paging(rules, config) == PAGING


def test_one_stray_error_of_a_quiet_service_pages_no_one(tmp_path: Path) -> None:
    # two requests a minute; one of them fails at minute 10: 1 in 10 over five minutes, a 10% share for 5 minutes
    series = _requests(_counter(2, {10: -1}), _counter(0, {10: 1}))
    checks = [(f"{m}m", name, []) for m in range(11, 17) for name in PAGING]
    _run(tmp_path, series, checks)


def test_an_outage_of_a_quiet_service_still_pages(tmp_path: Path) -> None:
    # from minute 10 every request fails: two a minute, so five failures by minute 13, held for 2 minutes by 15
    series = _requests(
        _counter(2, dict.fromkeys(range(10, MINUTES + 1), -2)), _counter(0, dict.fromkeys(range(10, MINUTES + 1), 2))
    )
    expected = [
        {"exp_labels": {**SERVICE, "severity": "critical", "notification": "pagerduty", "corrects": "HighErrorRate"}}
    ]
    burns = [
        {"exp_labels": {**SERVICE, "severity": severity, "slo": slo}}
        for slo in ("availability", "error_rate")
        for severity in ("page", "ticket")
    ]
    checks = [
        ("9m", "HighErrorRateRatio", []),
        ("9m", "SLOErrorBudgetBurn", []),
        ("17m", "HighErrorRateRatio", expected),
        ("17m", "SLOErrorBudgetBurn", burns),
    ]
    _run(tmp_path, series, checks)


def test_two_slow_requests_of_a_quiet_service_page_no_one(tmp_path: Path) -> None:
    # two requests a minute under 100 ms; one takes 2 s at minutes 10 and 11: p95 of ten requests is in the slow bucket
    series = _latency(_counter(2, {10: -1, 11: -1}), _counter(2))
    checks = [(f"{m}m", "HighLatencyAggregated", []) for m in range(12, 20)]
    _run(tmp_path, series, checks)


def test_a_slowdown_with_traffic_still_pages(tmp_path: Path) -> None:
    # sixty requests a minute; from minute 10 every one takes 2 s
    series = _latency(_counter(60, dict.fromkeys(range(10, MINUTES + 1), -60)), _counter(60))
    expected = [{"exp_labels": {**SERVICE, "severity": "warning", "notification": "slack", "corrects": "HighLatency"}}]
    _run(tmp_path, series, [("9m", "HighLatencyAggregated", []), ("22m", "HighLatencyAggregated", expected)])


def test_memory_from_the_real_cadvisor_is_told_per_service(tmp_path: Path) -> None:
    # the kubelet's cAdvisor names namespace, pod and container (and id, image, name), no service: kube-state-metrics'
    # kube_pod_labels gives the pod's labels as label_<name>; the pod's own cgroup (container "") is left out
    pod = {"namespace": "findly-now-production", "pod": "fn-posts-7d9f8-x2x4q"}
    where = ",".join(f'{k}="{v}"' for k, v in pod.items())
    container = {"container": "fn-posts", "id": "/kubepods/pod1/c1", "image": "fn-posts:1", "name": "k8s_fn-posts"}
    own = ",".join(f'{k}="{v}"' for k, v in container.items())
    cgroup = 'container="",id="/kubepods/pod1",image="",name=""'
    series = [
        {"series": f"container_memory_usage_bytes{{{own},{where}}}", "values": f"900000000x{MINUTES}"},
        {"series": f"container_spec_memory_limit_bytes{{{own},{where}}}", "values": f"1000000000x{MINUTES}"},
        {"series": f"container_memory_usage_bytes{{{cgroup},{where}}}", "values": f"910000000x{MINUTES}"},
        {"series": f"container_spec_memory_limit_bytes{{{cgroup},{where}}}", "values": f"1000000000x{MINUTES}"},
        {
            "series": f'kube_pod_labels{{{where},uid="u1",label_service="fn-posts",label_environment="production"}}',
            "values": f"1x{MINUTES}",
        },
    ]
    labels = {
        **pod,
        **container,
        "service": "fn-posts",
        "environment": "production",
        "severity": "warning",
        "notification": "slack",
        "corrects": "HighMemoryUsage",
    }
    _run(
        tmp_path,
        series,
        [("9m", "HighMemoryUsagePerService", []), ("12m", "HighMemoryUsagePerService", [{"exp_labels": labels}])],
    )
