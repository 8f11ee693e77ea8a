"""A real Prometheus on 127.0.0.1, started by the tests with data backfilled from OpenMetrics they write."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from findly_infra.testing.prometheus import SLOW, PrometheusServer, PrometheusServerError, Stream, openmetrics
from tests.conftest import PROMETHEUS_INSTALL, require_tool

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
"""The backfilled data runs from T0 for MINUTES minutes, one sample every 15 seconds (a usual scrape interval)."""
MINUTES = 100


def _after(minute: float, before: float, after: float) -> Callable[[float], float]:
    return lambda m: before if m < minute else after


def _constant(share: float) -> Callable[[float], float]:
    return lambda _minute: share


STREAMS = (
    # fn-posts in production: one version per behaviour, for single analyses (at T0 + 20m)
    Stream("fn-posts", "production", "healthy", 1000),
    Stream("fn-posts", "production", "errors", 1000, _constant(0.05)),
    Stream("fn-posts", "production", "slow", 1000, buckets=SLOW),
    Stream("fn-posts", "production", "quiet", 10, _constant(0.0)),
    Stream("fn-posts", "production", "zero", 0, _constant(0.0)),
    Stream("fn-posts", "production", "1.0.0", 1000, _constant(0.002)),  # the current version, for comparisons
    # the same version in staging is broken: production's analysis must not see it
    Stream("fn-posts", "staging", "healthy", 1000, _constant(0.5)),
    # whole releases from T0: fn-matcher's 2.0.0 stays healthy; fn-notifications' 2.0.0 breaks at minute 20
    # in production (only there: development and staging saw nothing wrong)
    *(
        Stream(service, environment, "2.0.0", 600, _constant(0.0002))
        for service in ("fn-matcher", "fn-notifications")
        for environment in ("development", "staging")
    ),
    Stream("fn-matcher", "production", "1.0.0", 1000, _constant(0.0001)),
    Stream("fn-matcher", "production", "2.0.0", 1000, _constant(0.0002)),
    Stream("fn-notifications", "production", "1.0.0", 1000, _constant(0.0001)),
    Stream("fn-notifications", "production", "2.0.0", 1000, _after(20, 0.0002, 0.10)),
)


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_tool("prometheus", PROMETHEUS_INSTALL)
    require_tool("promtool", PROMETHEUS_INSTALL)
    data = openmetrics(STREAMS, start=T0, minutes=MINUTES)
    server = PrometheusServer(data, tmp_path_factory.mktemp("prometheus"))
    try:
        url = server.start()
    except PrometheusServerError as exc:
        pytest.fail(str(exc))
    try:
        yield url
    finally:
        server.stop()
