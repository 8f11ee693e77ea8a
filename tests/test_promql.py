"""Query building and result parsing, without a server (fast); the real server checks them in tests/prometheus."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from findly_infra import load_platform, validate_platform, validate_platform_text
from findly_infra.adapters.prometheus import (
    PrometheusClient,
    PrometheusQueryError,
    PrometheusUnavailableError,
    Target,
    _parse,
    _window,
    budget_query,
    criterion_query,
    requests_query,
    single_value,
    throughput_query,
)
from findly_infra.config.expressions import metric_templates
from findly_infra.domain import MetricNames
from findly_infra.promql import check, collapse, le_matcher, problem, string
from findly_infra.render.rules import rule_expressions

from .conftest import EXAMPLE
from .render.promql_strategies import expressions, near_misses

PLATFORM = load_platform(EXAMPLE)
METRICS = ("error_rate", "latency_p95", "latency_p99", "cpu_utilization", "memory_utilization", "health_check_failures")
TARGET = Target("fn-posts", "production", "2.0.0")
MINUTE = timedelta(minutes=1)


@pytest.mark.parametrize("metric", METRICS)
def test_every_criterion_reads_only_the_new_versions_series_in_its_environment(metric: str) -> None:
    query = criterion_query(metric, MetricNames(), TARGET, MINUTE)
    if metric in ("error_rate",) or metric.startswith("latency"):
        assert 'service="fn-posts",environment="production",version="2.0.0"' in query
    else:  # cAdvisor/kube-state-metrics series join the new version's pods through their labels
        assert 'kube_pod_labels{label_service="fn-posts",label_environment="production",label_version="2.0.0"}' in query
        assert 'container="fn-posts"' in query
    assert "[1m]" in query


def test_quantiles_sum_the_buckets_by_le_first() -> None:
    assert criterion_query("latency_p99", MetricNames(), TARGET, MINUTE) == (
        "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket"
        '{service="fn-posts",environment="production",version="2.0.0"}[1m])))'
    )


def test_the_names_come_from_the_metrics_section() -> None:
    names = MetricNames(
        requests="api_requests_total",
        latency="api_latency_seconds",
        service_label="app",
        version_label="release",
        status_label="code",
        environment_label=None,
        cpu_usage="cpu_seconds_total",
        memory_usage="mem_bytes",
        resource_requests="requests_gauge",
        resource_limits="limits_gauge",
        pod_labels="pod_labels_info",
        probes="probes_total",
        container_label="ctr",
    )
    queries = " ".join(criterion_query(metric, names, TARGET, MINUTE) for metric in METRICS)
    for name in ("api_requests_total{", "code=~", "api_latency_seconds_bucket", "cpu_seconds_total{ctr="):
        assert name in queries
    for name in ("mem_bytes{", "requests_gauge{", "limits_gauge{", "pod_labels_info{label_app=", "probes_total{"):
        assert name in queries
    assert "environment" not in queries  # one Prometheus per environment: no environment matcher
    assert "label_release=" in queries


def test_label_values_are_quoted_safely() -> None:
    query = requests_query(MetricNames(), Target('we"ird\\svc', "production", "1.0"), MINUTE)
    assert 'service="we\\"ird\\\\svc"' in query


@pytest.mark.parametrize(
    ("window", "text"),
    [(MINUTE, "1m"), (timedelta(days=30), "30d"), (timedelta(hours=6), "6h"), (timedelta(seconds=90), "90s")],
)
def test_windows_are_written_as_prometheus_writes_them(window: timedelta, text: str) -> None:
    assert _window(window) == text


def test_budget_queries_read_5xx_or_the_bucket_at_the_bound() -> None:
    by_name = {slo.name: slo for slo in PLATFORM.slo_definitions}
    target = Target("fn-posts", "production")
    availability = budget_query(by_name["availability"], MetricNames(), target, timedelta(days=30))
    assert 'status=~"5.."' in availability
    assert "[30d]" in availability
    assert "version" not in availability  # every version's traffic spends the environment's budget
    latency = budget_query(by_name["latency"], MetricNames(), target, timedelta(minutes=5))
    assert f"le=~`{le_matcher(0.2)}`" in latency
    assert throughput_query(MetricNames(), target, MINUTE).startswith("sum(rate(http_requests_total{")


@given(st.floats(min_value=0.001, max_value=1000, allow_nan=False).map(lambda x: round(x, 3)))
def test_the_bucket_matcher_matches_how_clients_write_the_bound(seconds: float) -> None:
    import re

    pattern = re.compile(le_matcher(seconds))
    written = {repr(seconds), f"{seconds:g}", str(float(seconds))}
    if seconds == int(seconds):
        written |= {str(int(seconds)), f"{int(seconds)}.0"}
    for text in written:
        assert pattern.fullmatch(text), (seconds, text)


# ---- result parsing ---------------------------------------------------------------------------------


def test_results_parse_to_labels_and_floats_and_nan_stays_nan() -> None:
    vector = {"resultType": "vector", "result": [{"metric": {"a": "b"}, "value": [1, "0.25"]}]}
    assert _parse(vector) == [({"a": "b"}, 0.25)]
    assert math.isnan(_parse({"resultType": "vector", "result": [{"metric": {}, "value": [1, "NaN"]}]})[0][1])
    assert _parse({"resultType": "scalar", "result": [1, "+Inf"]}) == [({}, math.inf)]
    with pytest.raises(PrometheusQueryError, match="instant vector or scalar"):
        _parse({"resultType": "matrix", "result": []})


def test_no_series_or_several_are_no_evidence() -> None:
    assert math.isnan(single_value([]))
    assert math.isnan(single_value([({"a": "1"}, 1.0), ({"a": "2"}, 2.0)]))
    assert single_value([({}, 3.0)]) == 3.0


# ---- the client against a stand-in on 127.0.0.1 -------------------------------------------------------


StandIn = tuple[str, list[dict[str, str]], list[tuple[int, str]]]
"""The stand-in's address, the requests it saw, and the answers still to give."""


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    """A local HTTP server that answers from a script of ``(status, body)`` and records each request."""
    seen: list[dict[str, str]] = []
    script: list[tuple[int, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append({"path": self.path, "authorization": self.headers.get("Authorization", "")})
            status, body = script.pop(0) if script else (200, _ok(1.0))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *_: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen, script
    finally:
        server.shutdown()
        server.server_close()


def _ok(value: float) -> str:
    return json.dumps(
        {"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, str(value)]}]}}
    )


AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_server_errors_are_retried_then_answered(
    stand_in: StandIn,
) -> None:
    url, seen, script = stand_in
    script += [(503, "{}"), (429, "{}"), (200, _ok(0.5))]
    with PrometheusClient(url, token="t0ken", attempts=3) as client:
        assert client.query("up", AT) == [({}, 0.5)]
    assert len(seen) == 3
    assert all(request["authorization"] == "Bearer t0ken" for request in seen)
    assert "time=1793534400.000" in seen[0]["path"]


def test_a_refused_query_says_why_and_is_not_retried(
    stand_in: StandIn,
) -> None:
    url, seen, script = stand_in
    script.append((400, json.dumps({"status": "error", "errorType": "bad_data", "error": "parse error at 5"})))
    with (
        PrometheusClient(url, attempts=3) as client,
        pytest.raises(PrometheusQueryError, match="parse error at 5"),
    ):
        client.query("sum(", AT)
    assert len(seen) == 1


def test_an_answer_that_is_not_json_is_an_outage(
    stand_in: StandIn,
) -> None:
    url, _seen, script = stand_in
    script.append((200, "<html>proxy error</html>"))
    with PrometheusClient(url, attempts=1) as client, pytest.raises(PrometheusUnavailableError, match="not JSON"):
        client.query("up", AT)


def test_retries_are_logged_on_stderr_as_json_and_the_token_never_shows(stand_in: StandIn) -> None:
    from tests.test_cli import run

    url, seen, script = stand_in
    script.append((503, "{}"))
    args = ("--json", "--config", str(EXAMPLE), "--state", "memory://", "--prometheus-url", url, "analyze")
    result = run(
        *args,
        "fn-posts",
        "--env",
        "production",
        "--strategy",
        "canary",
        "--version",
        "2.0.0",
        env={"FINDLY_PROMETHEUS_TOKEN": "s3cret-t0ken"},
    )
    assert result.returncode == 3  # every query answers 1.0: one request is too little traffic to judge
    document = json.loads(result.stdout)  # stdout is exactly the one document
    assert document["verdict"] == "inconclusive"
    (retry,) = [json.loads(line) for line in result.stderr.splitlines()]
    assert (retry["event"], retry["retry"], retry["caused_by"]) == (
        "prometheus.retry_scheduled",
        1,
        "HTTP 503",
    )
    assert retry["level"] == "warning"
    assert "s3cret" not in result.stdout + result.stderr
    assert seen[0]["authorization"] == "Bearer s3cret-t0ken"


# ---- what Prometheus accepts: validate parses every expression the file carries or renders ----------------------

SEED_RATE_ALERT = "rate(http_requests_total{status=~'5..'}[5m]) > 0.05"


def _example_with(old: str, new: str) -> str:
    text = EXAMPLE.read_text()
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("rate(x[5m]) >", "a syntax error"),
        ("rate(x[5m]) > > 1", "a syntax error"),
        ("rate(x)", "expected type matrix in call to function 'rate', got vector"),
        ("histogram_quantile(0.9)", "expected 2 argument(s) in call to 'histogram_quantile', got 1"),
        ("rate(x[5mm])", "bad number or duration syntax"),
        ("sum(rate(x[5m])", "unclosed left parenthesis"),
        ("x{a=~'('}", "illegal regex"),
        ("rate(x[5m]) offset 1m", "offset modifier must be preceded by"),
        ("rates(x[5m]) > 1", "unknown function 'rates' (did you mean 'rate'?)"),
        ("x[5m:1m:1m]", "unexpected second colon"),
        ("x[300]", "the duration 300 has no unit"),
        ("holt_winters(x[5m], 0.5, 0.5)", "removed in Prometheus 3.0"),
        ("(" * 1200 + "x" + ")" * 1200, "more than the 1000 checked"),
    ],
)
def test_what_prometheus_refuses_is_refused_with_the_parsers_reason(expression: str, reason: str) -> None:
    assert reason in (problem(expression) or ""), problem(expression)


@pytest.mark.parametrize(
    "expression",
    [
        "up == 0",
        "sum by (le) (rate(x[5m])) > bool 1",
        "x @ start() offset -5m",
        "rate(x[5m])[30m:1m]",
        "x{le=~`0\\.20*`}",
        "x # a comment\n > 1",
        "absent(nonexistent{job='myjob'})",
        "x * on (a) group_left (b) y",
        "sum(x) by (a)",
        "histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))",
    ],
)
def test_what_every_prometheus_takes_passes(expression: str) -> None:
    assert problem(expression) is None


def test_the_seeds_own_expressions_and_everything_rendered_from_it_pass() -> None:
    assert not [p for p in validate_platform(EXAMPLE).errors if p.rule == "promql"]
    rendered = list(rule_expressions(PLATFORM))
    assert len(rendered) > 10
    assert [(place, name) for place, name, expression in rendered if problem(expression) is not None] == []
    assert all(problem(query) is None for query in metric_templates(PLATFORM.metrics))


@pytest.mark.parametrize("name", ["inf", "NaN"])
def test_a_metric_name_prometheus_reads_as_a_number_is_refused_at_its_place(tmp_path: Path, name: str) -> None:
    report = validate_platform_text(_example_with('requests: "http_requests_total"', f'requests: "{name}"'))
    [error] = report.errors
    assert (error.path, error.rule) == ("metrics.requests", "promql")
    assert f"{name!r} cannot be used in PromQL" in error.message


def test_a_deep_expression_is_refused_not_a_crash() -> None:
    """The Rust parser recurses once per bracket: 20,000 of them overflow its stack and kill the process."""
    report = validate_platform_text(_example_with(SEED_RATE_ALERT, "(" * 20_000 + "x" + ")" * 20_000))
    assert [(e.path, e.rule) for e in report.errors] == [("alerting_rules.critical_alerts[1].expression", "promql")]


@given(expressions | near_misses())
def test_collapsing_an_expression_onto_one_line_keeps_its_meaning(expression: str) -> None:
    assert (problem(collapse(expression)) is None) == (problem(expression) is None)
    assert "\n" not in collapse(expression)


@given(expressions | near_misses())
def test_only_expressions_with_no_token_level_problem_skip_the_tokens(expression: str) -> None:
    """The fast path (no tokens unless a pattern says a token-level rule may apply) lets nothing through that a
    token-level rule refuses: what the pattern misses, the parser refuses anyway (`[5\\m]`)."""
    if check._lexical_problem(check._significant(expression)) is not None:
        assert check._LEXICAL.search(expression) or problem(expression) is not None


@given(st.text(alphabet="()[]{}\"'`#\\\n =~!<>+-*/^@:,.0123456789abcxyz_", max_size=60))
def test_any_text_gets_an_answer_never_an_exception(text: str) -> None:
    found = problem(text)
    assert found is None or isinstance(found, str)


@given(st.text(max_size=30))
def test_any_label_value_is_a_promql_string_that_reads_back_as_itself(value: str) -> None:
    import promql_parser

    expression = f"x{{a={string(value)}}}"
    assert problem(expression) is None
    assert promql_parser.parse(expression).matchers.matchers[0].value == value


names_in_promql = st.sampled_from(
    ("http_requests_total", "x", "job:rate5m:sum", "sum", "by", "on", "offset", "bool", "inf", "NaN", "anchored")
)


@given(
    st.builds(
        MetricNames,
        requests=names_in_promql,
        latency=names_in_promql,
        service_label=names_in_promql.filter(lambda n: ":" not in n),
        status_label=names_in_promql.filter(lambda n: ":" not in n),
        pod_labels=names_in_promql,
    ),
    st.sampled_from(METRICS),
)
def test_names_that_pass_the_templates_make_every_query_prometheus_is_sent(names: MetricNames, metric: str) -> None:
    """validate checks the names of the metrics section in templates; the Prometheus adapter's queries (and the
    rendered rules) are made of the same pieces, so they parse whenever the templates do."""
    assume(all(problem(query) is None for query in metric_templates(names)))
    queries = [
        criterion_query(metric, names, TARGET, MINUTE),
        requests_query(names, TARGET, MINUTE),
        throughput_query(names, TARGET, MINUTE),
        *(budget_query(slo, names, TARGET, MINUTE) for slo in PLATFORM.slo_definitions if slo.sla_target),
    ]
    assert [query for query in queries if problem(query) is not None] == []


def test_a_number_past_the_largest_float_is_refused_as_promtool_refuses_it() -> None:
    """Found by the promtool comparison: Go's ParseFloat refuses ``1e333`` ("value out of range"), Python reads inf."""
    from findly_infra.promql.check import problem

    assert "out of range" in (problem("vector(1e333)") or "")
    assert problem("vector(1.7e308)") is None
    assert problem("vector(1e-400)") is None  # Go rounds an underflow to 0 without an error
