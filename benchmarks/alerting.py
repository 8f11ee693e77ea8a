"""Pages from the rendered alert rules: outage onset → page received, and false pages over a quiet week.

    python benchmarks/alerting.py            # both parts
    python benchmarks/alerting.py latency    # or: quiet

Needs Debian's ``prometheus`` and ``prometheus-alertmanager``. Prints figures; asserts nothing.

**Onset → page.** The real Prometheus evaluates the RENDERED alert rules (the PrometheusRule's groups) against live
scrape targets on 127.0.0.1 and sends to the real Alertmanager running the RENDERED configuration, which pages a
loopback PagerDuty receiver. Every interval (scrape, evaluation, ``for:``, group wait) is scaled by FACTOR (1/30), so
a minute takes two seconds. Each round takes another service's target down (a 503: ``up == 0``) and splits the time
to the page into: detection (onset → the alert's ``activeAt``: a scrape and an evaluation), ``for:`` (activeAt → the
alert seen firing in Prometheus's API), and Alertmanager (firing → the page received: group wait and delivery). The
figures are also given times 30, beside what the rendered configuration implies at full scale.

**False pages over a quiet week.** A week of quiet, realistic series (a daily traffic shape, Poisson noise in requests
and errors, latencies drawn per request, memory with a daily shape, one scrape in two thousand failing), backfilled
into the real Prometheus. Prometheus cannot backfill alerts, so each rendered alert's expression is evaluated by range
queries at the rendered evaluation interval (15 s) over the week, a day per query (a range query returns at most
11,000 points a series); an alert fires, as Prometheus's rule manager decides it, when its expression holds for a
label set at every evaluation from the first for at least its ``for:`` (a run of consecutive evaluations from t0 to
t1 fires when t1 - t0 >= for). Goal: 0.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import yaml

from findly_infra.config.loader import load_platform_text
from findly_infra.domain.notation import Duration
from findly_infra.examples import example_platform_text
from findly_infra.render import render_platform
from findly_infra.render.alertmanager import SECRET_FOLDER
from findly_infra.testing.alertmanager import (
    AlertmanagerServer,
    ScrapeTargets,
    routed_receiver,
    scaled_config,
    scaled_rule_groups,
)
from findly_infra.testing.prometheus import PrometheusServer

FACTOR = 1 / 30
ROUNDS = 10
SEED_TARGET = Duration.of(seconds=30)  # the seed's "Monitoring Latency: < 30 seconds for alert generation"


class Pager:
    """A loopback PagerDuty Events API v2 (``/v2/enqueue``, 202): the time each page arrived, by service."""

    def __init__(self) -> None:
        self.pages: dict[str, float] = {}
        pager = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                arrived = time.monotonic()
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if body.get("event_action") == "trigger":
                    details = json.dumps(body["payload"])
                    for service in list(pager.expected):
                        if f"service = {service}" in details or f"{service} " in body["payload"]["summary"]:
                            pager.pages.setdefault(service, arrived)
                self.send_response(202)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_: object) -> None:
                return

        self.expected: set[str] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()


def _rendered() -> tuple[dict[str, str], list[dict[str, Any]], dict[str, Any]]:
    tree = render_platform(load_platform_text(example_platform_text()))
    groups = yaml.safe_load(tree["base/monitoring/prometheusrule-alerts.yaml"])["spec"]["groups"]
    return tree, groups, yaml.safe_load(tree["prometheus/alertmanager.yaml"])


def _slo_alerts(tree: dict[str, str]) -> list[dict[str, Any]]:
    """The SLO groups' alerts, each recording rule it reads put in its place (``record{slo="x"}`` → its expression):
    a range query evaluates them as the rule manager would, with no recorded series to backfill."""
    groups = yaml.safe_load(tree["base/monitoring/prometheusrule-slo.yaml"])["spec"]["groups"]
    alerts = []
    for group in groups:
        records = {
            f"{rule['record']}{{slo={json.dumps(rule['labels']['slo'])}}}": rule["expr"]
            for rule in group["rules"]
            if "record" in rule
        }
        for rule in group["rules"]:
            if "alert" in rule:
                expression = rule["expr"]
                for name, recorded in records.items():
                    expression = expression.replace(name, f"({recorded})")
                alerts.append({**rule, "expr": expression})
    return alerts


def _seconds(text: str) -> float:
    return Duration.parse(text).milliseconds / 1000


def _parse_time(text: str) -> float:
    """An RFC 3339 time of Prometheus's API, as seconds since the epoch."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def latency() -> None:
    _, groups, config = _rendered()
    evaluation = _seconds(groups[0]["interval"])
    group_wait = _seconds(config["route"]["group_wait"])
    service_down = next(r for g in groups for r in g["rules"] if r["alert"] == "ServiceDown")
    hold = _seconds(service_down["for"])
    services = [f"svc-{n}" for n in range(ROUNDS)]
    pager = Pager()
    pager.expected = set(services)
    with tempfile.TemporaryDirectory() as folder:
        secrets = Path(folder, "secrets")
        secrets.mkdir()
        (secrets / "pagerduty-routing-key").write_text("R" * 32)
        (secrets / "slack-api-url").write_text(pager.url + "/services/T0/B0/X")
        am_config = scaled_config(config, FACTOR)
        for item in am_config["receivers"]:
            for pagerduty in item.get("pagerduty_configs", ()):
                pagerduty["url"] = f"{pager.url}/v2/enqueue"
        text = yaml.safe_dump(am_config).replace(SECRET_FOLDER, str(secrets))
        with ScrapeTargets() as targets, AlertmanagerServer(text, Path(folder, "am")) as alertmanager:
            for service in services:
                targets.set(service, "")
            interval = f"{round(evaluation * 1000 * FACTOR)}ms"
            prometheus_config = {
                "global": {"scrape_interval": interval, "evaluation_interval": interval},
                "rule_files": ["alerts.rules.yaml"],
                "alerting": {
                    "alertmanagers": [{"static_configs": [{"targets": [alertmanager.removeprefix("http://")]}]}]
                },
                "scrape_configs": [
                    {
                        "job_name": service,
                        "metrics_path": targets.path(service),
                        "static_configs": [
                            {"targets": [targets.address], "labels": {"service": service, "environment": "production"}}
                        ],
                    }
                    for service in services
                ],
            }
            rules = yaml.safe_dump({"groups": scaled_rule_groups(groups, FACTOR)})
            server = PrometheusServer(
                "", Path(folder, "prom"), config=yaml.safe_dump(prometheus_config), files={"alerts.rules.yaml": rules}
            )
            with server as url, httpx.Client() as client:
                query = f"{url}/api/v1/query"
                while not client.get(query, params={"query": f"count(up == 1) == {len(services)}"}).json()["data"][
                    "result"
                ]:
                    time.sleep(0.1)
                rows = []
                for service in services:
                    time.sleep(1.0)
                    onset_wall, onset = time.time(), time.monotonic()
                    targets.down(service)
                    active_at = firing = None
                    while firing is None:
                        for alert in client.get(f"{url}/api/v1/alerts").json()["data"]["alerts"]:
                            labels = alert["labels"]
                            if labels.get("service") == service and labels["alertname"] == "ServiceDown":
                                active_at = _parse_time(alert["activeAt"]) - onset_wall + onset
                                if alert["state"] == "firing":
                                    firing = time.monotonic()
                        time.sleep(0.02)
                    while service not in pager.pages:
                        time.sleep(0.02)
                    assert active_at is not None
                    rows.append((active_at - onset, firing - active_at, pager.pages[service] - firing))
    _report(rows, evaluation, hold, group_wait)


def _report(rows: list[tuple[float, float, float]], evaluation: float, hold: float, group_wait: float) -> None:
    detection, held, grouping = (statistics.median(column) for column in zip(*rows, strict=True))
    total = detection + held + grouping
    print(f"onset -> page, real Prometheus {_version('prometheus')} and Alertmanager, intervals x{FACTOR:.4g}:")
    print(f"  rounds: {ROUNDS} (medians); scrape = evaluation interval {evaluation * FACTOR:.2f} s")
    table = [
        ("part", "measured", "x30", "rendered, full scale (worst case)"),
        (
            "detection: scrape + evaluation",
            f"{detection:.2f} s",
            f"{detection / FACTOR:.1f} s",
            f"scrape + {evaluation:g} s",
        ),
        ("for: (ServiceDown)", f"{held:.2f} s", f"{held / FACTOR:.1f} s", f"{hold:g} s (the seed's for: 1m)"),
        ("Alertmanager: group wait + delivery", f"{grouping:.2f} s", f"{grouping / FACTOR:.1f} s", f"{group_wait:g} s"),
        (
            "onset -> page",
            f"{total:.2f} s",
            f"{total / FACTOR:.1f} s",
            f"scrape + {evaluation + hold + group_wait:g} s",
        ),
    ]
    for part, measured, scaled, rendered in table:
        print(f"  {part:<38}{measured:>10}{scaled:>9}   {rendered}")
    controlled = evaluation + group_wait
    verdict = "within" if controlled <= SEED_TARGET.milliseconds / 1000 else "OVER"
    print(
        f"  the part findly-infra renders: evaluation {evaluation:g} s + group wait {group_wait:g} s = "
        f"{controlled:g} s, {verdict} the seed's < {SEED_TARGET.milliseconds / 1000:g} s; its for: adds {hold:g} s"
    )


def _version(binary: str) -> str:
    import subprocess

    out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    return (out.stdout + out.stderr).split("version ", 1)[-1].split(" ", 1)[0]


# ---- the quiet week -----------------------------------------------------------------------------------------------

WEEK_START = datetime(2026, 10, 5, 0, 0, tzinfo=UTC)  # a Monday
DAYS = 7
SCRAPE = 30  # seconds: the Prometheus Operator's default scrape interval
BUCKETS = (0.05, 0.1, 0.2, 0.5, 1.0, 2.5)
LATENCY_SHARES = (0.80, 0.96, 0.995, 0.999, 0.9999, 1.0)  # share of requests at or below each bound; p95 < 100 ms
QUIET_SERVICES = {"fn-posts": 40.0, "fn-matcher": 4.0, "fn-notifications": 0.3}  # peak requests per second
ERROR_SHARE = 0.0005
FAILED_SCRAPE = 1 / 2000


def _traffic(peak: float, at: datetime) -> float:
    """Requests per second: a daily shape (a peak at 15:00 UTC, a trough of 3% of it at 03:00), weekends at 60%."""
    hour = at.hour + at.minute / 60
    shape = 0.03 + 0.97 * (0.5 - 0.5 * math.cos(2 * math.pi * (hour - 3) / 24)) ** 2
    return peak * shape * (0.6 if at.weekday() >= 5 else 1.0)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _latencies(rng: random.Random, served: int) -> list[int]:
    """How many of *served* requests fall at or below each bucket's bound (cumulative), each drawn on its own."""
    if served >= 2000:
        return [round(served * share) for share in LATENCY_SHARES]
    counts = [0] * len(BUCKETS)
    for _ in range(served):
        draw = rng.random()
        first = next(position for position, share in enumerate(LATENCY_SHARES) if draw <= share)
        for above in range(first, len(BUCKETS)):
            counts[above] += 1
    return counts


def quiet_week(seed: int = 26) -> str:
    """A week of quiet series as OpenMetrics, a sample every SCRAPE seconds."""
    rng = random.Random(seed)
    start = int(WEEK_START.timestamp())
    families: dict[str, list[str]] = {
        "up": [],
        "http_requests": [],
        "http_request_duration_seconds": [],
        "container_memory_usage_bytes": [],
        "container_spec_memory_limit_bytes": [],
        "kube_pod_labels": [],
    }
    for service, peak in QUIET_SERVICES.items():
        base = f'service="{service}",environment="production",pod="{service}-1"'
        # the kubelet's cAdvisor names namespace, pod and container, no service; kube-state-metrics the pod's labels
        cadvisor = f'namespace="findly-now-production",pod="{service}-1",container="{service}"'
        pod_labels = (
            f'namespace="findly-now-production",pod="{service}-1",label_service="{service}",'
            'label_environment="production"'
        )
        ok = errors = count = 0
        buckets = [0] * len(BUCKETS)
        series: dict[str, list[str]] = {}
        for index in range(DAYS * 86400 // SCRAPE + 1):
            at = start + index * SCRAPE
            when = datetime.fromtimestamp(at, UTC)
            served = _poisson(rng, _traffic(peak, when) * SCRAPE) if index else 0
            failed = (
                sum(rng.random() < ERROR_SHARE for _ in range(served))
                if served < 2000
                else _poisson(rng, served * ERROR_SHARE)
            )
            ok, errors, count = ok + served - failed, errors + failed, count + served
            for position, added in enumerate(_latencies(rng, served)):
                buckets[position] += added
            up = 0 if rng.random() < FAILED_SCRAPE else 1
            hour = when.hour + when.minute / 60
            memory = 1e9 * (0.45 + 0.10 * math.sin(2 * math.pi * hour / 24) + rng.gauss(0, 0.02))
            rows = {
                f'up{{job="{service}",instance="{service}-1:8080",{base}}}': f"{up}",
                f'http_requests_total{{{base},status="200"}}': f"{ok}",
                f'http_requests_total{{{base},status="500"}}': f"{errors}",
                **{
                    f'http_request_duration_seconds_bucket{{{base},le="{bound:g}"}}': f"{buckets[i]}"
                    for i, bound in enumerate(BUCKETS)
                },
                f'http_request_duration_seconds_bucket{{{base},le="+Inf"}}': f"{count}",
                f"http_request_duration_seconds_count{{{base}}}": f"{count}",
                f"container_memory_usage_bytes{{{cadvisor}}}": f"{memory:.0f}",
                f"container_spec_memory_limit_bytes{{{cadvisor}}}": "1000000000",
                f"kube_pod_labels{{{pod_labels}}}": "1",
            }
            if not up:  # a failed scrape: Prometheus records up 0 and nothing else from the target
                rows = {name: value for name, value in rows.items() if name.startswith(("up{", "container_", "kube_"))}
            for name, value in rows.items():
                series.setdefault(name, []).append(f"{name} {value} {at}")
        for name, samples in series.items():
            family = name.split("{", 1)[0]
            for suffix in ("_total", "_bucket", "_count"):
                family = family.removesuffix(suffix) if family.removesuffix(suffix) in families else family
            families[family].extend(samples)
    kinds = {
        "up": "gauge",
        "http_requests": "counter",
        "http_request_duration_seconds": "histogram",
        "container_memory_usage_bytes": "gauge",
        "container_spec_memory_limit_bytes": "gauge",
        "kube_pod_labels": "gauge",
    }
    lines = []
    for family, samples in families.items():
        lines.append(f"# TYPE {family} {kinds[family]}")
        lines += samples
    return "\n".join([*lines, "# EOF", ""])


def fires(values: list[tuple[float, str]], step: float, hold: float) -> int:
    """How many times an alert with ``for: hold`` fires over one label set's evaluations (the times its expression
    held, at a regular *step*): a run of consecutive evaluations from t0 to t1 fires when t1 - t0 >= hold."""
    count, run_start, last = 0, None, None
    fired = False
    for at, _ in values:
        if last is None or at - last > step * 1.5:
            run_start, fired = at, False
        last = at
        assert run_start is not None
        if not fired and at - run_start >= hold:
            count, fired = count + 1, True
    return count


def quiet() -> None:
    tree, groups, config = _rendered()
    evaluation = _seconds(groups[0]["interval"])
    groups = [*groups, {"name": "slo (recording rules inlined)", "rules": _slo_alerts(tree)}]
    began = time.monotonic()
    data = quiet_week()
    generated = time.monotonic() - began
    with tempfile.TemporaryDirectory() as folder:
        began = time.monotonic()
        with PrometheusServer(data, Path(folder), ready_timeout=120) as url, httpx.Client(timeout=300) as client:
            loaded = time.monotonic() - began
            print(
                f"false pages over a quiet week ({DAYS} days of {len(QUIET_SERVICES)} services, a sample every "
                f"{SCRAPE} s: {data.count(chr(10)):,} lines generated in {generated:.0f} s, "
                f"backfilled in {loaded:.0f} s)"
            )
            print(f"  each rendered alert evaluated every {evaluation:g} s (its group's interval) over the week:")
            totals: dict[str, int] = {}
            for group in groups:
                for rule in group["rules"]:
                    hold = _seconds(rule.get("for", "0s"))
                    count = 0
                    series: dict[str, list[tuple[float, str]]] = {}
                    for day in range(DAYS):
                        start = WEEK_START + timedelta(days=day)
                        answer = client.get(
                            f"{url}/api/v1/query_range",
                            params={
                                "query": rule["expr"],
                                "start": start.timestamp(),
                                "end": (start + timedelta(days=1)).timestamp() - evaluation,
                                "step": evaluation,
                            },
                        ).json()
                        if answer["status"] != "success":
                            raise SystemExit(f"{rule['alert']}: {answer}")
                        for result in answer["data"]["result"]:
                            key = json.dumps(result["metric"], sort_keys=True)
                            series.setdefault(key, []).extend((float(t), v) for t, v in result["values"])
                    held_by: dict[str, int] = {}
                    for key, values in series.items():
                        fired = fires(values, evaluation, hold)
                        if fired:
                            held_by[json.loads(key).get("service", "?")] = fired
                        count += fired
                    receiver = routed_receiver({**rule["labels"], "alertname": rule["alert"]}, config)
                    name = rule["alert"] + (
                        f"{{{rule['labels']['slo']},{rule['labels']['severity']}}}" if "slo" in rule["labels"] else ""
                    )
                    totals[receiver] = totals.get(receiver, 0) + count
                    where = ", ".join(f"{s}: {n}" for s, n in sorted(held_by.items()))
                    origin = (
                        f"corrects {rule['annotations']['corrects']}"
                        if "corrects" in rule.get("annotations", {})
                        else "as configured"
                    )
                    print(
                        f"  {name:<42} for {rule.get('for', '0s'):>4}  -> {receiver:<10} {origin:<25}"
                        f"fired {count:>3} times" + (f"  ({where})" if where else "")
                    )
            print(
                f"  false pages (PagerDuty): {totals.get('pagerduty', 0)} (goal 0); false notifications elsewhere: "
                + ", ".join(f"{name} {n}" for name, n in sorted(totals.items()) if name != "pagerduty")
            )


def main() -> None:
    chosen = set(sys.argv[1:]) or {"latency", "quiet"}
    if "latency" in chosen:
        latency()
    if "quiet" in chosen:
        quiet()


if __name__ == "__main__":
    main()
