"""A real Prometheus on 127.0.0.1, started by the tests with data backfilled from OpenMetrics they write."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from findly_infra.testing.prometheus import (
    EXAMPLE_MINUTES,
    EXAMPLE_START,
    EXAMPLE_STREAMS,
    PrometheusServer,
    PrometheusServerError,
    openmetrics,
)
from tests.conftest import PROMETHEUS_INSTALL, require_tool

T0 = EXAMPLE_START
"""The backfilled data runs from T0 for MINUTES minutes, one sample every 15 seconds (a usual scrape interval): the
package's example series, the ones the docs' pages read (``python -m findly_infra.testing.prometheus --example``)."""
MINUTES = EXAMPLE_MINUTES
STREAMS = EXAMPLE_STREAMS


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
