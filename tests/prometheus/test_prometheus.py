"""The Prometheus adapter against a real Prometheus: criteria on real PromQL, and missing data never a pass."""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import attrs
import pytest

from findly_infra import Platform, load_platform
from findly_infra.adapters.prometheus import (
    PrometheusClient,
    PrometheusMetrics,
    PrometheusQueryError,
    PrometheusUnavailableError,
    Target,
    criterion_query,
    single_value,
)
from findly_infra.application.analysis import analyze_version
from findly_infra.domain import MetricNames, MetricReading, StrategyKind, Verdict
from tests.conftest import EXAMPLE

from .conftest import T0

PLATFORM = load_platform(EXAMPLE)
AT = T0 + timedelta(minutes=20)


CLIENTS: list[PrometheusClient] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while CLIENTS:
        CLIENTS.pop().close()


@attrs.frozen
class Analyst:
    """The adapter measuring, the application judging (``analyze_version``), as a rollout step does."""

    source: PrometheusMetrics
    platform: Platform = PLATFORM
    kind: StrategyKind = StrategyKind.CANARY

    def analyze(
        self, service: str, environment: str, version: str, at: datetime, current: str | None = None
    ) -> tuple[Verdict, tuple[MetricReading, ...]]:
        report = analyze_version(
            self.platform,
            self.source,
            service=service,
            environment=environment,
            version=version,
            at=at,
            current=current,
            strategy=self.kind,
            tolerate_outage=True,
        )
        return report.verdict, report.readings

    def recorded(self, *args: Any) -> list[dict[str, float]]:
        return self.source.recorded(*args)


def metrics(url: str, kind: StrategyKind = StrategyKind.CANARY) -> Analyst:
    client = PrometheusClient(url, timeout=2.0, attempts=2)
    CLIENTS.append(client)
    return Analyst(PrometheusMetrics(client, PLATFORM.metrics), kind=kind)


def test_a_healthy_canary_passes_every_criterion(prometheus: str) -> None:
    verdict, readings = metrics(prometheus).analyze("fn-posts", "production", "healthy", AT)
    values = {r.metric: r.value for r in readings}
    assert verdict is Verdict.PASS, readings
    assert values["error_rate"] == pytest.approx(0.001)
    assert 0.1 < values["latency_p95"] < 0.5
    assert values["cpu_utilization"] == pytest.approx(0.5)
    assert values["memory_utilization"] == pytest.approx(0.6)


@pytest.mark.parametrize(("version", "failing"), [("errors", "error_rate"), ("slow", "latency_p95")])
def test_a_failing_canary_fails_on_the_breached_criterion(prometheus: str, version: str, failing: str) -> None:
    verdict, readings = metrics(prometheus).analyze("fn-posts", "production", version, AT)
    assert verdict is Verdict.FAIL
    assert {r.metric for r in readings if r.verdict is Verdict.FAIL} == {failing}


def test_blue_green_triggers_fire_on_the_same_data(prometheus: str) -> None:
    assert (
        metrics(prometheus, StrategyKind.BLUE_GREEN).analyze("fn-posts", "production", "healthy", AT)[0] is Verdict.PASS
    )
    verdict, _ = metrics(prometheus, StrategyKind.BLUE_GREEN).analyze("fn-posts", "production", "errors", AT)
    assert verdict is Verdict.FAIL  # 5% > 1%


@pytest.mark.parametrize("version", ["quiet", "zero", "missing"])
def test_too_little_traffic_nan_or_no_series_is_inconclusive(prometheus: str, version: str) -> None:
    verdict, readings = metrics(prometheus).analyze("fn-posts", "production", version, AT)
    assert verdict is Verdict.INCONCLUSIVE
    assert all(r.verdict is Verdict.INCONCLUSIVE for r in readings)


def test_zero_traffic_is_nan_not_zero(prometheus: str) -> None:
    client = PrometheusClient(prometheus)
    CLIENTS.append(client)
    query = criterion_query("error_rate", MetricNames(), Target("fn-posts", "production", "zero"), timedelta(minutes=1))
    (sample,) = client.query(query, AT)
    assert math.isnan(sample[1])


def test_an_unreachable_prometheus_is_inconclusive_never_a_pass() -> None:
    with socket_closed_port() as url:
        verdict, _ = metrics(url).analyze("fn-posts", "production", "healthy", AT)
    assert verdict is Verdict.INCONCLUSIVE
    with socket_closed_port() as url:
        client = PrometheusClient(url, attempts=2)
        CLIENTS.append(client)
        with pytest.raises(PrometheusUnavailableError, match="cannot be reached"):
            client.query("up", AT)


def test_a_slow_prometheus_times_out_and_is_retried_then_inconclusive() -> None:
    calls: list[float] = []

    class Slow(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            calls.append(time.monotonic())
            time.sleep(1.0)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        client = PrometheusClient(url, timeout=0.2, attempts=2)
        CLIENTS.append(client)
        with pytest.raises(PrometheusUnavailableError):
            client.query("up", AT)
        assert len(calls) == 2  # bounded retries
        source = Analyst(PrometheusMetrics(client, PLATFORM.metrics))
        assert source.analyze("fn-posts", "production", "healthy", AT)[0] is Verdict.INCONCLUSIVE
    finally:
        server.shutdown()
        server.server_close()


def test_a_bad_query_is_a_query_error_not_an_outage(prometheus: str) -> None:
    client = PrometheusClient(prometheus)
    CLIENTS.append(client)
    with pytest.raises(PrometheusQueryError):
        client.query("sum(", AT)


ECHOES = {
    "header": lambda header: f"invalid Authorization header {header!r}",
    "token alone": lambda header: f"unknown token {header.split(' ', 1)[1]}",
    "url-encoded": lambda header: f"denied: /login?next=%2F&auth={quote(header.split(' ', 1)[1], safe='')}",
    "json-escaped": lambda header: json.dumps({"auth": header}),
}


@pytest.mark.parametrize("echo", sorted(ECHOES))
@pytest.mark.parametrize(
    ("token", "url_auth"),
    [("s3cret/token+x==", ""), (None, "ci:pa%24%24word@")],
    ids=["bearer", "basic"],
)
def test_a_token_a_dependency_echoes_in_its_error_is_never_printed(
    tmp_path: Path, echo: str, token: str | None, url_auth: str
) -> None:
    """Prometheus itself does not echo credentials, but a proxy before it (or a misconfigured one) may answer a 4xx
    whose body repeats the Authorization header: the message we print, log or record must not carry it."""
    import base64
    import io
    import os
    from unittest import mock

    from findly_infra.cli import main

    class Echoing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            said = ECHOES[echo](self.headers.get("Authorization", "none"))
            body = json.dumps({"status": "error", "errorType": "unauthorized", "error": said}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echoing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://{url_auth}127.0.0.1:{server.server_address[1]}"
    secrets = [token] if token else ["pa$$word", "pa%24%24word", base64.b64encode(b"ci:pa$$word").decode()]
    try:
        client = PrometheusClient(url, token=token)
        CLIENTS.append(client)
        with pytest.raises(PrometheusQueryError) as raised:
            client.query("up", AT)
        assert "Prometheus refused the query" in str(raised.value)
        assert not [secret for secret in secrets if secret in str(raised.value)], str(raised.value)
        out = io.StringIO()
        base = ["--json", "--config", str(EXAMPLE), "--state", "memory://", "--actor", "erin"]
        with mock.patch.dict(os.environ, {"FINDLY_PROMETHEUS_TOKEN": token or "", "GITHUB_ACTIONS": ""}):
            analyze = ["analyze", "fn-posts", "--env", "production", "--strategy", "canary", "--version", "1.0.0"]
            code = main([*base, "--prometheus-url", url, *analyze], out=out)
        assert code == 5
        assert "***" in out.getvalue()
        assert not [secret for secret in secrets if secret in out.getvalue()], out.getvalue()
    finally:
        server.shutdown()
        server.server_close()


def test_the_token_never_shows() -> None:
    client = PrometheusClient("http://127.0.0.1:9", token="s3cret-token")
    assert "s3cret" not in repr(client)
    failing = PrometheusClient("http://127.0.0.1:9", token="s3cret-token", attempts=1)
    CLIENTS.append(failing)
    with pytest.raises(PrometheusUnavailableError) as raised:
        failing.query("up", AT)
    assert "s3cret" not in str(raised.value)


class socket_closed_port:  # noqa: N801 - used as a context manager, reads like one
    """A loopback address where nothing listens."""

    def __enter__(self) -> str:
        import socket

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def __exit__(self, *_: object) -> None:
        self.socket.close()


def _analyze(prometheus: str, *args: str) -> tuple[int, dict[str, object]]:

    from tests.test_cli import run

    result = run(
        "--json",
        "--config",
        str(EXAMPLE),
        "--state",
        "memory://",
        "--prometheus-url",
        prometheus,
        "analyze",
        "fn-posts",
        "--env",
        "production",
        "--strategy",
        "canary",
        "--at",
        AT.isoformat(),
        *args,
    )
    return result.returncode, json.loads(result.stdout)


def test_analyze_shows_each_query_value_and_verdict(prometheus: str) -> None:
    code, document = _analyze(prometheus, "--version", "healthy")
    assert (code, document["verdict"]) == (0, "pass")
    criteria = {c["metric"]: c for c in document["criteria"]}  # type: ignore[union-attr]
    assert criteria["error_rate"]["query"].startswith("(sum(rate(http_requests_total{")  # type: ignore[index]
    assert criteria["error_rate"]["threshold"] == "< 0.5%"  # type: ignore[index]
    assert _analyze(prometheus, "--version", "errors")[0] == 4
    code, document = _analyze(prometheus, "--version", "quiet")
    assert (code, document["verdict"]) == (3, "inconclusive")


def test_analyze_exits_5_when_prometheus_cannot_be_reached() -> None:
    with socket_closed_port() as url:
        code, document = _analyze(url, "--version", "healthy")
    assert code == 5
    assert document["error"]["kind"] == "dependency"  # type: ignore[index]


def test_every_query_we_generate_is_accepted_by_prometheus(prometheus: str) -> None:
    from findly_infra.adapters.prometheus import budget_query, requests_query, throughput_query

    client = PrometheusClient(prometheus)
    CLIENTS.append(client)
    target = Target("fn-posts", "production", "healthy")
    metrics = ("error_rate", "latency_p95", "latency_p99", "cpu_utilization", "memory_utilization")
    queries = [criterion_query(m, PLATFORM.metrics, target, timedelta(minutes=1)) for m in metrics]
    queries.append(criterion_query("health_check_failures", PLATFORM.metrics, target, timedelta(minutes=1)))
    queries.append(requests_query(PLATFORM.metrics, target, timedelta(minutes=1)))
    service = Target("fn-posts", "production")
    queries += [budget_query(slo, PLATFORM.metrics, service, timedelta(hours=1)) for slo in PLATFORM.slo_definitions]
    queries.append(throughput_query(PLATFORM.metrics, service, timedelta(minutes=1)))
    for query in queries:
        samples = client.query(query, AT)  # a refused expression raises PrometheusQueryError
        assert len(samples) <= 1, query
    values = [single_value(client.query(q, AT)) for q in queries[:5]]
    assert not any(math.isnan(v) for v in values)  # each criterion finds the healthy version's data
    assert single_value(client.query(queries[5], AT)) == 0.0  # no failed probe series: 0, not nothing


def test_another_environments_series_never_leak_into_the_analysis(prometheus: str) -> None:
    # the same version is broken in staging (50% errors) and healthy in production
    assert metrics(prometheus).analyze("fn-posts", "production", "healthy", AT)[0] is Verdict.PASS
    verdict, readings = metrics(prometheus).analyze("fn-posts", "staging", "healthy", AT)
    assert verdict is Verdict.FAIL
    assert next(r.value for r in readings if r.metric == "error_rate") == pytest.approx(0.5)


def relative(url: str, **criteria: str) -> PrometheusMetrics:
    """The seed's canary with criteria relative to the current version (in place of fixed ones of that metric)."""

    from findly_infra.config.converter import _success_criteria

    strategy = PLATFORM.strategy_for("production", StrategyKind.CANARY)
    extra = _success_criteria(criteria, None)
    kept = tuple(c for c in strategy.success_criteria if c.metric not in criteria)
    strategy = attrs.evolve(strategy, success_criteria=(*kept, *extra))  # type: ignore[misc]
    client = PrometheusClient(url, timeout=2.0, attempts=2)
    CLIENTS.append(client)
    return Analyst(PrometheusMetrics(client, PLATFORM.metrics), attrs.evolve(PLATFORM, canary_strategy=strategy))


def test_a_criterion_relative_to_the_current_version_reads_both_versions(prometheus: str) -> None:
    source = relative(prometheus, latency_p99="< 1.2x current", error_rate="< 2x current")
    # healthy: 0.1% errors against the current 1.0.0's 0.2%, and the same latencies
    verdict, readings = source.analyze("fn-posts", "production", "healthy", AT, current="1.0.0")
    assert verdict is Verdict.PASS, readings
    shown = {r.threshold for r in readings}
    assert any(text.startswith("< 1.2x current = ") for text in shown)
    # slow: p99 far above 1.2x the current version's
    verdict, readings = source.analyze("fn-posts", "production", "slow", AT, current="1.0.0")
    assert verdict is Verdict.FAIL
    assert "latency_p99" in {r.metric for r in readings if r.verdict is Verdict.FAIL}
    # a current version without data: the comparison has no evidence
    verdict, readings = source.analyze("fn-posts", "production", "healthy", AT, current="gone")
    assert verdict is Verdict.INCONCLUSIVE
    assert {r.metric for r in readings if r.verdict is Verdict.INCONCLUSIVE} == {"latency_p99", "error_rate"}


def test_a_range_query_agrees_with_instant_queries_at_each_step(prometheus: str) -> None:
    client = PrometheusClient(prometheus)
    CLIENTS.append(client)
    query = criterion_query(
        "error_rate", PLATFORM.metrics, Target("fn-posts", "production", "errors"), timedelta(minutes=1)
    )
    step = timedelta(minutes=1)
    ((_labels, points),) = client.query_range(query, AT, AT + timedelta(minutes=5), step)
    assert [at for at, _ in points] == [AT + step * i for i in range(6)]
    for at, value in points:
        assert value == pytest.approx(single_value(client.query(query, at)))
    with pytest.raises(ValueError, match="11000 points"):
        client.query_range(query, AT, AT + timedelta(days=30), timedelta(seconds=1))


def test_recorded_values_leave_gaps_as_nan(prometheus: str) -> None:
    source = metrics(prometheus)
    start = T0 + timedelta(minutes=95)  # the data ends at T0 + 100 minutes
    points = source.recorded(
        Target("fn-posts", "production", "healthy"),
        ("error_rate",),
        start,
        start + timedelta(minutes=10),
        timedelta(minutes=1),
    )
    assert len(points) == 11
    assert [p["minute"] for p in points] == [float(i) for i in range(11)]
    assert not math.isnan(points[0]["error_rate"])
    assert all(math.isnan(p["error_rate"]) and math.isnan(p["requests"]) for p in points[-3:])


def test_a_rolling_update_is_held_to_the_canarys_criteria_as_documented(prometheus: str) -> None:
    client = PrometheusClient(prometheus, timeout=2.0, attempts=2)
    CLIENTS.append(client)
    source = Analyst(PrometheusMetrics(client, PLATFORM.metrics), kind=StrategyKind.ROLLING)
    assert source.analyze("fn-posts", "production", "healthy", AT)[0] is Verdict.PASS
    verdict, readings = source.analyze("fn-posts", "production", "errors", AT)
    assert verdict is Verdict.FAIL  # the same criteria as the scripted simulations use (docs/pipeline.md)
    assert {r.metric for r in readings} == {c.metric for c in PLATFORM.canary_strategy.success_criteria}  # type: ignore[union-attr]
    no_canary = attrs.evolve(PLATFORM, canary_strategy=None)
    alone = Analyst(PrometheusMetrics(client, PLATFORM.metrics), no_canary, StrategyKind.ROLLING)  # traffic alone
    assert alone.analyze("fn-posts", "production", "errors", AT) == (Verdict.PASS, ())
    assert alone.analyze("fn-posts", "production", "quiet", AT)[0] is Verdict.INCONCLUSIVE


def test_a_refused_query_exits_5_from_every_command(tmp_path: Path) -> None:
    """A Prometheus that refuses our queries (400: a metric name the file got wrong) is a dependency error, from
    ``analyze`` and from a rollout step alike — never a bug, never an inconclusive analysis that hides it."""
    import io

    from findly_infra.cli import main

    class Refusing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"status": "error", "errorType": "bad_data", "error": "parse error"}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    base = ["--json", "--config", str(EXAMPLE), "--state", str(tmp_path / "s.sqlite3"), "--actor", "erin"]
    try:
        budget = "--override-budget", "the budgets cannot be read either"
        gated = [*base, "--prometheus-url", url, "deploy", "fn-posts", "1.0.0", "--env", "development", *budget]
        deploy = main(gated, out=io.StringIO())
        assert deploy == 5  # the budget gate's query is refused too: not a reason to let it in
        assert main([*base, "deploy", "fn-posts", "1.0.0", "--env", "development"], out=io.StringIO()) == 0
        for command in (
            ["rollout", "fn-posts", "--env", "development"],
            ["analyze", "fn-posts", "--env", "development"],
        ):
            out = io.StringIO()
            assert main([*base, "--prometheus-url", url, *command], out=out) == 5, command
            assert json.loads(out.getvalue())["error"]["kind"] == "dependency"
    finally:
        server.shutdown()
        server.server_close()
