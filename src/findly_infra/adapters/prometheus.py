"""Prometheus: the PromQL for each criterion, a small HTTP API client, and the metrics port on top.

Queries select the new version's series only (labels ``service`` and ``version``, as the rendered
manifests set them). Ratios are ratios of sums; quantiles sum the buckets ``by (le)`` first. An empty
result, NaN, too little traffic, or a Prometheus that cannot be reached after retries is never a
pass: the analysis is inconclusive.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from findly_infra.application.ports import DependencyError, DependencyUnavailableError, MetricsQuery
from findly_infra.application.redaction import header_token, redact_text, redact_url, url_secrets
from findly_infra.domain.analysis import REQUESTS, Observation
from findly_infra.domain.notation import Duration, LatencyObjective
from findly_infra.domain.operations import MetricNames
from findly_infra.domain.slo import (
    BURN_WINDOWS,
    BudgetReport,
    BudgetStatus,
    CapacityStatus,
    SLODefinition,
    budget_status,
)
from findly_infra.promql import error_ratio, le_matcher, matchers, slow_ratio

__all__ = [
    "PrometheusBudgets",
    "PrometheusClient",
    "PrometheusError",
    "PrometheusMetrics",
    "PrometheusQueryError",
    "PrometheusUnavailableError",
    "Target",
    "budget_query",
    "criterion_query",
    "requests_query",
    "single_value",
    "throughput_query",
]

_LATENCY = re.compile(r"^latency_p(\d{1,2}(?:\.\d+)?)$")


class PrometheusError(DependencyError):
    """Raised when Prometheus cannot answer a query."""


class PrometheusUnavailableError(PrometheusError, DependencyUnavailableError):
    """Raised when Prometheus cannot be reached (or keeps failing) after the retries."""


class PrometheusQueryError(PrometheusError):
    """Raised when Prometheus refuses a query (a bad expression: a bug, not an outage)."""


def _window(window: timedelta) -> str:
    """A range in Prometheus's notation, in the largest whole unit: ``30d``, ``6h``, ``5m``, ``90s``."""
    seconds = max(1, round(window.total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@attrs.frozen
class Target:
    """Whose series a query reads: a service in an environment, and one version of it (``None``: all)."""

    service: str
    environment: str
    version: str | None = None

    def labels(self, names: MetricNames) -> list[str]:
        return matchers(names, service=self.service, environment=self.environment, version=self.version)


def _selector(names: MetricNames, target: Target, extra: str = "") -> str:
    labels = target.labels(names)
    return "{" + ",".join([*labels, extra] if extra else labels) + "}"


def _pods(names: MetricNames, target: Target) -> str:
    """kube-state-metrics' pod labels of the target's pods, as a filter to join cAdvisor series on."""
    labels = ",".join(f"label_{matcher}" for matcher in target.labels(names))
    return f"max by (namespace, pod) ({names.pod_labels}{{{labels}}})"


def requests_query(names: MetricNames, target: Target, window: timedelta) -> str:
    """How many requests the target served over the window (for the minimum-traffic rule)."""
    return f"sum(increase({names.requests}{_selector(names, target)}[{_window(window)}]))"


def criterion_query(metric: str, names: MetricNames, target: Target, window: timedelta) -> str:
    """The PromQL that measures *metric* for the target: a ratio, or seconds for latencies."""
    w = _window(window)
    selector = _selector(names, target)
    if metric == "error_rate":
        server_errors = _selector(names, target, f'{names.status_label}=~"5.."')
        errors = f"sum(rate({names.requests}{server_errors}[{w}]))"
        total = f"sum(rate({names.requests}{selector}[{w}]))"
        return f"({errors} or vector(0)) / {total}"  # no 5xx series at all is 0 errors; no traffic is NaN
    if match := _LATENCY.match(metric):
        quantile = float(match.group(1)) / 100
        return f"histogram_quantile({quantile:g}, sum by (le) (rate({names.latency}_bucket{selector}[{w}])))"
    pods = _pods(names, target)
    container = f'{names.container_label}="{target.service}"'

    def of_new_pods(series: str) -> str:
        return f"sum({series} * on (namespace, pod) group_left () {pods})"

    if metric == "cpu_utilization":
        used = of_new_pods(f"rate({names.cpu_usage}{{{container}}}[{w}])")
        requested = of_new_pods(f'{names.resource_requests}{{{container},resource="cpu"}}')
        return f"{used} / {requested}"
    if metric == "memory_utilization":
        used = of_new_pods(f"avg_over_time({names.memory_usage}{{{container}}}[{w}])")
        limit = of_new_pods(f'{names.resource_limits}{{{container},resource="memory"}}')
        return f"{used} / {limit}"
    if metric == "health_check_failures":
        failed = of_new_pods(f'rate({names.probes}{{{container},result="failed"}}[{w}])')
        total = of_new_pods(f"rate({names.probes}{{{container}}}[{w}])")
        return f"({failed} or vector(0)) / {total}"
    raise ValueError(f"no query for metric {metric!r}")


def budget_query(slo: SLODefinition, names: MetricNames, target: Target, window: timedelta) -> str:
    """The share of bad events over *window* for an error-budget SLO, as the rendered recording rules
    measure it: 5xx responses for availability and error-rate targets, requests slower than the bound
    for latency targets. No traffic gives no result: nothing measured."""
    w, labels = _window(window), target.labels(names)
    if isinstance(slo.target, LatencyObjective):
        return slow_ratio(names, labels, w, slo.target.bound.seconds)
    return error_ratio(names, labels, w)


def throughput_query(names: MetricNames, target: Target, window: timedelta) -> str:
    """Requests per second over *window* (for a capacity target)."""
    return f"sum(rate({names.requests}{_selector(names, target)}[{_window(window)}]))"


@attrs.define
class PrometheusClient:
    """Instant and range queries over Prometheus's HTTP API, with a timeout and bounded retries with backoff.

    The bearer token is sent but never shown: it is kept out of ``repr`` and of every message.
    """

    base_url: str = attrs.field(repr=redact_url)  # a password in it is never shown
    token: str | None = attrs.field(default=None, repr=False)
    timeout: float = 5.0
    attempts: int = 3
    on_retry: Callable[[Any], None] | None = attrs.field(default=None, repr=False)
    """Told of each retry (stamina's ``RetryDetails``); installed as stamina's hook on the first query."""
    _client: Any = attrs.field(default=None, init=False, repr=False)

    def _http(self) -> Any:
        if self._client is None:
            import httpx

            if self.on_retry is not None:
                import stamina

                hook: Any = self.on_retry  # a RetryHook: called with stamina's RetryDetails
                stamina.instrumentation.set_on_retry_hooks([hook])

            token = header_token(self.token, "the Prometheus bearer token") if self.token else None
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            self._client = httpx.Client(base_url=self.base_url.rstrip("/"), headers=headers, timeout=self.timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def query(self, expression: str, at: datetime) -> list[tuple[Mapping[str, str], float]]:
        """The instant vector (or scalar) of *expression* at *at*: ``[(labels, value)]``; NaN stays NaN."""
        return _parse(self._get("/api/v1/query", {"query": expression, "time": f"{_unix(at):.3f}"}))

    def query_range(
        self, expression: str, start: datetime, end: datetime, step: timedelta
    ) -> list[tuple[Mapping[str, str], list[tuple[datetime, float]]]]:
        """The range vector of *expression* from *start* to *end*, one value every *step*:
        ``[(labels, [(time, value), ...])]``, times in UTC; a step with no value is simply absent."""
        seconds = step.total_seconds()
        if seconds <= 0 or end < start:
            raise ValueError("a range query needs a positive step and an end after its start")
        if (end - start).total_seconds() / seconds > _MAX_POINTS:
            raise ValueError(f"a range query returns at most {_MAX_POINTS} points per series: use a longer step")
        params = {
            "query": expression,
            "start": f"{_unix(start):.3f}",
            "end": f"{_unix(end):.3f}",
            "step": f"{seconds:g}",
        }
        data = self._get("/api/v1/query_range", params)
        if data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
            raise PrometheusQueryError(f"expected a range vector, got {data.get('resultType')!r}")
        return [
            (item.get("metric", {}), [(datetime.fromtimestamp(float(t), UTC), _number(v)) for t, v in item["values"]])
            for item in data["result"]
        ]

    def _redacted(self, answered: str) -> str:
        """What Prometheus (or a proxy before it) answered, fit to be shown: the token and the URL's password,
        should it echo them, replaced by ``***``, and at most 500 characters."""
        return redact_text(answered[:500], (self.token, *url_secrets(self.base_url)))

    def _get(self, path: str, params: Mapping[str, str]) -> Mapping[str, Any]:
        """One API call with the retries: the ``data`` of a successful answer."""
        import httpx
        import stamina

        @stamina.retry(
            on=(httpx.TransportError, _RetryableStatusError), attempts=self.attempts, wait_initial=0.1, wait_max=1.0
        )
        def call() -> Any:
            response = self._http().get(path, params=params)
            if response.status_code >= 500 or response.status_code == 429:
                raise _RetryableStatusError(response.status_code)
            return response

        try:
            response = call()
        except httpx.TransportError as exc:
            raise PrometheusUnavailableError(
                f"Prometheus at {redact_url(self.base_url)} cannot be reached: {type(exc).__name__}"
            ) from None
        except _RetryableStatusError as exc:
            raise PrometheusUnavailableError(
                f"Prometheus at {redact_url(self.base_url)} keeps answering HTTP {exc.status}"
            ) from None
        try:
            body = response.json()
        except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than Python's parser goes
            raise PrometheusUnavailableError(
                f"Prometheus at {redact_url(self.base_url)} answered something that is not JSON"
            ) from None
        if response.status_code >= 400 or not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error", response.status_code) if isinstance(body, dict) else response.status_code
            raise PrometheusQueryError(f"Prometheus refused the query: {self._redacted(str(error))}")
        data = body.get("data", {})
        return data if isinstance(data, dict) else {}


_MAX_POINTS = 11_000
"""Prometheus refuses range queries of more than 11,000 points per series."""


class _RetryableStatusError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def _unix(at: datetime) -> float:
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).timestamp()


def _parse(data: Mapping[str, Any]) -> list[tuple[Mapping[str, str], float]]:
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list):
        return [({}, _number(result[1]))]
    if kind == "vector" and isinstance(result, list):
        return [(item.get("metric", {}), _number(item["value"][1])) for item in result]
    raise PrometheusQueryError(f"expected an instant vector or scalar, got {kind!r}")


def _number(text: Any) -> float:
    try:
        return float(text)  # Prometheus writes "NaN", "+Inf", "-Inf" as strings; float() reads them
    except (TypeError, ValueError):
        return math.nan


def single_value(samples: list[tuple[Mapping[str, str], float]]) -> float:
    """The one value of a summed query; no series (or several) is NaN: no evidence."""
    return samples[0][1] if len(samples) == 1 else math.nan


@attrs.define
class PrometheusMetrics:
    """The metrics port on Prometheus: the request count and each metric of one version over the window.

    It measures and never judges. A Prometheus that cannot be reached after the retries raises
    :class:`PrometheusUnavailableError` (a :class:`DependencyUnavailableError`): within a rollout the
    application counts that as an inconclusive analysis, never a pass.
    """

    client: PrometheusClient
    names: MetricNames
    window: timedelta = timedelta(minutes=1)

    def observe(self, query: MetricsQuery) -> Observation:
        return self.measure(Target(query.service, query.environment, query.version), query.metrics, query.at)

    def describe(self, metric: str, query: MetricsQuery) -> str:
        target = Target(query.service, query.environment, query.version)
        if metric == REQUESTS:
            return requests_query(self.names, target, self.window)
        return criterion_query(metric, self.names, target, self.window)

    def measure(self, target: Target, metrics: tuple[str, ...], at: datetime) -> Observation:
        """The target's request count and each metric over the window ending at *at* (NaN: no data)."""
        requests = requests_query(self.names, target, self.window)
        values: dict[str, float] = {REQUESTS: single_value(self.client.query(requests, at))}
        for metric in metrics:
            query = criterion_query(metric, self.names, target, self.window)
            values[metric] = single_value(self.client.query(query, at))
        return Observation(values)

    def recorded(
        self, target: Target, metrics: tuple[str, ...], start: datetime, end: datetime, step: timedelta
    ) -> list[dict[str, float]]:
        """What every analysis from *start* to *end*, one every *step*, would have read: one range query
        per metric (and one for the request count) instead of one instant query per metric per step.

        Returns ``[{"minute": m, "requests": ..., metric: ...}]`` from minute 0 at *start*; a value
        Prometheus had not is NaN (no evidence), so replays judge gaps as the live analysis would.
        """
        queries = {REQUESTS: requests_query(self.names, target, self.window)}
        queries |= {metric: criterion_query(metric, self.names, target, self.window) for metric in metrics}
        first = start.astimezone(UTC) if start.tzinfo else start.replace(tzinfo=UTC)
        count = int((end - start) / step) + 1
        points: list[dict[str, float]] = [
            {"minute": index * step.total_seconds() / 60, **dict.fromkeys(queries, math.nan)} for index in range(count)
        ]
        for metric, query in queries.items():
            series = self.client.query_range(query, start, end, step)
            if len(series) != 1:
                continue  # no series (or several): no evidence at any step
            for at, value in series[0][1]:
                index = round((at - first) / step)
                if 0 <= index < count:
                    points[index][metric] = value
        return points

    def record(self, query: MetricsQuery, until: datetime, step: timedelta) -> list[dict[str, float]]:
        """The ``MetricsRecord`` port: :meth:`recorded` of the query's version from ``query.at`` to *until*."""
        target = Target(query.service, query.environment, query.version)
        return self.recorded(target, query.metrics, query.at, until, step)


def _timedelta(duration: Duration) -> timedelta:
    return timedelta(milliseconds=duration.milliseconds)


@attrs.define
class PrometheusBudgets:
    """The error-budgets port on Prometheus: each SLO's bad-event ratio over its window and the burn windows.

    Availability and error-rate SLOs read 5xx responses, latency SLOs the histogram bucket at their
    bound; a window repeated across SLOs is queried once per report.
    """

    client: PrometheusClient
    names: MetricNames
    slos: tuple[SLODefinition, ...]

    def budgets(self, service: str, environment: str, at: datetime) -> tuple[BudgetStatus, ...]:
        return self.report(service, environment, at).budgets

    def report(self, service: str, environment: str, at: datetime) -> BudgetReport:
        target = Target(service, environment)
        answers: dict[str, float] = {}

        def value(query: str) -> float:
            if query not in answers:
                answers[query] = single_value(self.client.query(query, at))
            return answers[query]

        budgets, capacities, notes, queries = [], [], [], {}
        for slo in self.slos:
            window = _timedelta(slo.measurement_window)
            if slo.sla_target is None:
                query = throughput_query(self.names, target, window)
                queries[slo.name] = query
                capacities.append(CapacityStatus(slo, value(query)))
                continue
            query = budget_query(slo, self.names, target, window)
            queries[slo.name] = query
            ratio = value(query)
            burns = [(w, value(budget_query(slo, self.names, target, _timedelta(w)))) for w in BURN_WINDOWS]
            budgets.append(budget_status(slo, ratio, burns))
            if math.isnan(ratio) and isinstance(slo.target, LatencyObjective):
                notes.extend(self._missing_bucket(slo, slo.target, target, window, at))
        return BudgetReport(
            service, environment, at, tuple(budgets), tuple(capacities), queries, tuple(dict.fromkeys(notes))
        )

    def _missing_bucket(
        self, slo: SLODefinition, objective: LatencyObjective, target: Target, window: timedelta, at: datetime
    ) -> list[str]:
        """Traffic without a bucket at the bound: the histogram cannot measure the objective at all."""
        selector, w = _selector(self.names, target), _window(window)
        served = single_value(self.client.query(f"sum(rate({self.names.latency}_count{selector}[{w}]))", at))
        at_bound = _selector(self.names, target, f"le=~`{le_matcher(objective.bound.seconds)}`")
        buckets = self.client.query(f"count({self.names.latency}_bucket{at_bound})", at)
        if math.isnan(served) or served <= 0 or buckets:
            return []
        return [
            f"the {slo.name} SLO ({slo.target.format()}) cannot be measured: {self.names.latency} has no bucket "
            f"at le={objective.bound.seconds:g} for {target.service} in {target.environment}; add that bucket"
        ]
