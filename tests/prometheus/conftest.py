"""A real Prometheus on 127.0.0.1, started by the tests with data backfilled from OpenMetrics they write."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
"""The backfilled data runs from T0 for MINUTES minutes, one sample every STEP seconds (a usual scrape interval)."""
MINUTES = 100
STEP = 15
NS = "findly-now-production"

# share of requests at or below each latency bucket's upper bound (0.2 is there for the "< 200ms" SLO)
FAST = {"0.1": 0.90, "0.2": 0.96, "0.25": 0.97, "0.5": 0.99, "1": 1.0, "2.5": 1.0, "5": 1.0, "+Inf": 1.0}
SLOW = {"0.1": 0.05, "0.2": 0.08, "0.25": 0.10, "0.5": 0.20, "1": 0.40, "2.5": 0.70, "5": 1.0, "+Inf": 1.0}


@dataclass(frozen=True)
class Stream:
    """One version of a service in one environment: its traffic, and its share of errors at each minute."""

    service: str
    environment: str
    version: str
    per_minute: float
    errors: Callable[[float], float] = lambda _minute: 0.001
    buckets: Mapping[str, float] = field(default_factory=lambda: FAST)


def _after(minute: float, before: float, after: float) -> Callable[[float], float]:
    return lambda m: before if m < minute else after


STREAMS = (
    # fn-posts in production: one version per behaviour, for single analyses (at T0 + 20m)
    Stream("fn-posts", "production", "healthy", 1000),
    Stream("fn-posts", "production", "errors", 1000, lambda _m: 0.05),
    Stream("fn-posts", "production", "slow", 1000, buckets=SLOW),
    Stream("fn-posts", "production", "quiet", 10, lambda _m: 0.0),
    Stream("fn-posts", "production", "zero", 0, lambda _m: 0.0),
    Stream("fn-posts", "production", "1.0.0", 1000, lambda _m: 0.002),  # the current version, for comparisons
    # the same version in staging is broken: production's analysis must not see it
    Stream("fn-posts", "staging", "healthy", 1000, lambda _m: 0.5),
    # whole releases from T0: fn-matcher's 2.0.0 stays healthy; fn-notifications' 2.0.0 breaks at minute 20
    # in production (only there: development and staging saw nothing wrong)
    *(
        Stream(service, environment, "2.0.0", 600, lambda _m: 0.0002)
        for service in ("fn-matcher", "fn-notifications")
        for environment in ("development", "staging")
    ),
    Stream("fn-matcher", "production", "1.0.0", 1000, lambda _m: 0.0001),
    Stream("fn-matcher", "production", "2.0.0", 1000, lambda _m: 0.0002),
    Stream("fn-notifications", "production", "1.0.0", 1000, lambda _m: 0.0001),
    Stream("fn-notifications", "production", "2.0.0", 1000, _after(20, 0.0002, 0.10)),
)


TYPES = {
    "http_requests": "counter",
    "http_request_duration_seconds": "histogram",
    "container_cpu_usage_seconds": "counter",
    "kube_pod_labels": "gauge",
    "kube_pod_container_resource_requests": "gauge",
    "kube_pod_container_resource_limits": "gauge",
    "container_memory_working_set_bytes": "gauge",
    "prober_probe": "counter",
}


def _family(sample: str) -> str:
    name = sample.split("{", maxsplit=1)[0]
    for suffix in ("_total", "_bucket", "_count"):
        if name.removesuffix(suffix) in TYPES:
            return name.removesuffix(suffix)
    return name


def _samples(stream: Stream) -> Iterator[str]:
    """Cumulative counters, step by step, and the pod's gauges, with the labels the manifests set."""
    labels = f'service="{stream.service}",environment="{stream.environment}",version="{stream.version}"'
    namespace = f"findly-now-{stream.environment}"
    pod = f'namespace="{namespace}",pod="{stream.service}-{stream.version}-1"'
    container = f'{pod},container="{stream.service}"'
    requests = errors = 0.0
    for step in range(MINUTES * 60 // STEP + 1):
        minute = step * STEP / 60
        at = int(T0.timestamp()) + step * STEP
        if step:
            served = stream.per_minute * STEP / 60
            requests += served
            errors += served * stream.errors(minute)
        yield f'http_requests_total{{{labels},status="200"}} {requests - errors:.3f} {at}'
        yield f'http_requests_total{{{labels},status="500"}} {errors:.3f} {at}'
        for le, share in stream.buckets.items():
            yield f'http_request_duration_seconds_bucket{{{labels},le="{le}"}} {requests * share:.3f} {at}'
        yield f"http_request_duration_seconds_count{{{labels}}} {requests:.3f} {at}"
        pod_labels = f'label_service="{stream.service}",label_environment="{stream.environment}"'
        yield f'kube_pod_labels{{{pod},{pod_labels},label_version="{stream.version}"}} 1 {at}'
        yield f"container_cpu_usage_seconds_total{{{container}}} {0.5 * step * STEP} {at}"
        yield f'kube_pod_container_resource_requests{{{container},resource="cpu"}} 1 {at}'
        yield f"container_memory_working_set_bytes{{{container}}} {600e6} {at}"
        yield f'kube_pod_container_resource_limits{{{container},resource="memory"}} {1e9} {at}'
        yield f'prober_probe_total{{{container},result="successful"}} {step} {at}'


def _openmetrics() -> str:
    """Each family's TYPE line, then its samples (every series in time order), as OpenMetrics wants."""
    by_family: dict[str, list[str]] = {family: [] for family in TYPES}
    for stream in STREAMS:
        series: dict[str, list[str]] = {}
        for sample in _samples(stream):
            series.setdefault(sample.rsplit(" ", 2)[0], []).append(sample)
        for name, samples in series.items():
            by_family[_family(name)].extend(samples)
    lines = []
    for family, kind in TYPES.items():
        lines.append(f"# TYPE {family} {kind}")
        lines += by_family[family]
    return "\n".join([*lines, "# EOF", ""])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: .ci/run installs Debian's prometheus package")
    folder = tmp_path_factory.mktemp("prometheus")
    (folder / "data.om").write_text(_openmetrics())
    subprocess.run(
        ["promtool", "tsdb", "create-blocks-from", "openmetrics", str(folder / "data.om"), str(folder / "tsdb")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (folder / "prometheus.yml").write_text("global:\n  scrape_interval: 1h\n")
    port = _free_port()
    server = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'tsdb'}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        else:
            pytest.fail("Prometheus did not start within 10 s")
        yield url
    finally:
        server.terminate()
        server.wait(10)
