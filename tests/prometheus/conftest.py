"""A real Prometheus on 127.0.0.1, started by the tests with data backfilled from OpenMetrics they write."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
"""The backfilled data runs from T0 for 30 minutes, one sample a minute."""
MINUTES = 30
NS = "findly-now-production"

# version -> (requests a minute, errors a minute, share of requests by latency bucket upper bound)
FAST = {"0.1": 0.90, "0.25": 0.97, "0.5": 0.99, "1": 1.0, "2.5": 1.0, "5": 1.0, "+Inf": 1.0}
SLOW = {"0.1": 0.05, "0.25": 0.10, "0.5": 0.20, "1": 0.40, "2.5": 0.70, "5": 1.0, "+Inf": 1.0}
VERSIONS = {
    "healthy": (1000, 1, FAST),
    "errors": (1000, 50, FAST),
    "slow": (1000, 1, SLOW),
    "quiet": (10, 0, FAST),
    "zero": (0, 0, FAST),
}


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


def _openmetrics() -> str:
    """Each family's TYPE line, then its samples (every series in time order), as OpenMetrics wants."""
    samples = []
    for minute in range(MINUTES + 1):
        at = int((T0 + timedelta(minutes=minute)).timestamp())
        for version, (rate, errors, buckets) in VERSIONS.items():
            labels = f'service="fn-posts",version="{version}"'
            samples.append(f'http_requests_total{{{labels},status="200"}} {(rate - errors) * minute} {at}')
            if errors:
                samples.append(f'http_requests_total{{{labels},status="500"}} {errors * minute} {at}')
            for le, share in buckets.items():
                samples.append(
                    f'http_request_duration_seconds_bucket{{{labels},le="{le}"}} {rate * share * minute} {at}'
                )
            samples.append(f"http_request_duration_seconds_count{{{labels}}} {rate * minute} {at}")
            pod = f'namespace="{NS}",pod="fn-posts-{version}-1"'
            samples.append(f'kube_pod_labels{{{pod},label_service="fn-posts",label_version="{version}"}} 1 {at}')
            samples.append(f'container_cpu_usage_seconds_total{{{pod},container="fn-posts"}} {30 * minute} {at}')
            samples.append(f'kube_pod_container_resource_requests{{{pod},container="fn-posts",resource="cpu"}} 1 {at}')
            samples.append(f'container_memory_working_set_bytes{{{pod},container="fn-posts"}} {600e6} {at}')
            samples.append(
                f'kube_pod_container_resource_limits{{{pod},container="fn-posts",resource="memory"}} {1e9} {at}'
            )
            samples.append(f'prober_probe_total{{{pod},container="fn-posts",result="successful"}} {6 * minute} {at}')
    lines = []
    for family, kind in TYPES.items():
        lines.append(f"# TYPE {family} {kind}")
        lines += [sample for sample in samples if _family(sample) == family]
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
