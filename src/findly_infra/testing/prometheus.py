"""A real Prometheus for tests and benchmarks: series written as OpenMetrics, backfilled with
``promtool tsdb create-blocks-from openmetrics``, served on a free port of 127.0.0.1.

    streams = [Stream("fn-posts", "production", "2.0.0", per_minute=1000, errors=lambda minute: 0.001)]
    with PrometheusServer(openmetrics(streams, start=T0, minutes=60), folder=tmp_path) as url:
        ...  # query url at times between T0 and T0 + 60 minutes

Needs the ``prometheus`` and ``promtool`` binaries (Debian's ``prometheus`` package). From a shell,
``python -m findly_infra.testing.prometheus --port 9090 --example`` serves the series the docs' examples read
(``EXAMPLE_STREAMS``) until interrupted. Each stream
writes the series the adapters read, with the labels the rendered manifests set: request counters
by status, a latency histogram, cAdvisor CPU and memory, kube-state-metrics pod labels, requests and
limits, and kubelet probe results.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import attrs

from findly_infra.testing._processes import stop

__all__ = [
    "EXAMPLE_MINUTES",
    "EXAMPLE_START",
    "EXAMPLE_STREAMS",
    "FAST",
    "SLOW",
    "PrometheusServer",
    "PrometheusServerError",
    "Stream",
    "openmetrics",
]

FAST: Mapping[str, float] = {
    "0.1": 0.90,
    "0.2": 0.96,
    "0.25": 0.97,
    "0.5": 0.99,
    "1": 1.0,
    "2.5": 1.0,
    "5": 1.0,
    "+Inf": 1.0,
}
"""Share of requests at or below each latency bucket's upper bound: 90% under 100 ms."""
SLOW: Mapping[str, float] = {
    "0.1": 0.05,
    "0.2": 0.08,
    "0.25": 0.10,
    "0.5": 0.20,
    "1": 0.40,
    "2.5": 0.70,
    "5": 1.0,
    "+Inf": 1.0,
}
"""Most requests take seconds."""


def _steady(_minute: float) -> float:
    return 0.001


@attrs.frozen
class Stream:
    """One version of a service in one environment: its traffic, its share of errors at each minute
    (a function of minutes since the start), its latency buckets, CPU in cores against a 1-core
    request, and memory against a 1 GB limit."""

    service: str
    environment: str
    version: str
    per_minute: float
    errors: Callable[[float], float] = _steady
    buckets: Mapping[str, float] = FAST
    cpu_cores: float = 0.5
    memory_bytes: float = 600e6


def _after(minute: float, before: float, after: float) -> Callable[[float], float]:
    return lambda m: before if m < minute else after


def _constant(share: float) -> Callable[[float], float]:
    return lambda _minute: share


EXAMPLE_START = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
EXAMPLE_MINUTES = 100
"""The example's series run from EXAMPLE_START for EXAMPLE_MINUTES minutes, one sample every 15 seconds."""
EXAMPLE_STREAMS = (
    # fn-posts in production: one version per behaviour, for single analyses (at EXAMPLE_START + 20m)
    Stream("fn-posts", "production", "healthy", 1000),
    Stream("fn-posts", "production", "errors", 1000, _constant(0.05)),
    Stream("fn-posts", "production", "slow", 1000, buckets=SLOW),
    Stream("fn-posts", "production", "quiet", 10, _constant(0.0)),
    Stream("fn-posts", "production", "zero", 0, _constant(0.0)),
    Stream("fn-posts", "production", "1.0.0", 1000, _constant(0.002)),  # the current version, for comparisons
    # the same version in staging is broken: production's analysis must not see it
    Stream("fn-posts", "staging", "healthy", 1000, _constant(0.5)),
    # whole releases from EXAMPLE_START: fn-matcher's 2.0.0 stays healthy; fn-notifications' 2.0.0 breaks at minute 20
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
"""What the docs' examples read (docs/prometheus.md, docs/simulation.md, docs/alerting.md), and the tests too."""


_TYPES = {
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
        if name.removesuffix(suffix) in _TYPES:
            return name.removesuffix(suffix)
    return name


def _samples(stream: Stream, start: datetime, minutes: int, step: int) -> Iterator[str]:
    labels = f'service="{stream.service}",environment="{stream.environment}",version="{stream.version}"'
    pod = f'namespace="findly-now-{stream.environment}",pod="{stream.service}-{stream.version}-1"'
    container = f'{pod},container="{stream.service}"'
    pod_labels = f'label_service="{stream.service}",label_environment="{stream.environment}"'
    requests = errors = 0.0
    for index in range(minutes * 60 // step + 1):
        at = int(start.timestamp()) + index * step
        if index:
            served = stream.per_minute * step / 60
            requests += served
            errors += served * stream.errors(index * step / 60)
        yield f'http_requests_total{{{labels},status="200"}} {requests - errors:.3f} {at}'
        yield f'http_requests_total{{{labels},status="500"}} {errors:.3f} {at}'
        for le, share in stream.buckets.items():
            yield f'http_request_duration_seconds_bucket{{{labels},le="{le}"}} {requests * share:.3f} {at}'
        yield f"http_request_duration_seconds_count{{{labels}}} {requests:.3f} {at}"
        yield f'kube_pod_labels{{{pod},{pod_labels},label_version="{stream.version}"}} 1 {at}'
        yield f"container_cpu_usage_seconds_total{{{container}}} {stream.cpu_cores * index * step} {at}"
        yield f'kube_pod_container_resource_requests{{{container},resource="cpu"}} 1 {at}'
        yield f"container_memory_working_set_bytes{{{container}}} {stream.memory_bytes} {at}"
        yield f'kube_pod_container_resource_limits{{{container},resource="memory"}} {1e9} {at}'
        yield f'prober_probe_total{{{container},result="successful"}} {index} {at}'


def openmetrics(streams: Iterable[Stream], *, start: datetime, minutes: int, step: int = 15) -> str:
    """The streams' series from *start* for *minutes*, a sample every *step* seconds, as OpenMetrics
    wants them: each family's TYPE line, then its series, each in time order."""
    by_family: dict[str, list[str]] = {family: [] for family in _TYPES}
    for stream in streams:
        series: dict[str, list[str]] = {}
        for sample in _samples(stream, start, minutes, step):
            series.setdefault(sample.rsplit(" ", 2)[0], []).append(sample)
        for name, samples in series.items():
            by_family[_family(name)].extend(samples)
    lines = []
    for family, kind in _TYPES.items():
        lines.append(f"# TYPE {family} {kind}")
        lines += by_family[family]
    return "\n".join([*lines, "# EOF", ""])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrometheusServerError(RuntimeError):
    """Raised when the binaries are missing or the server does not come up."""


@attrs.define
class PrometheusServer:
    """Backfills *data* (OpenMetrics) into a fresh TSDB under *folder* and serves it on 127.0.0.1."""

    data: str
    folder: Path
    ready_timeout: float = 20.0
    port: int = 0
    """The port of 127.0.0.1 to serve on; 0: a free one."""
    config: str = "global:\n  scrape_interval: 1h\n"
    """Its ``prometheus.yml``: by default nothing to scrape, only the backfilled data to serve."""
    files: Mapping[str, str] = attrs.field(factory=dict)
    """Further files written into *folder* before it starts (rule files the config names), by name."""
    url: str = attrs.field(default="", init=False)
    _process: subprocess.Popen[bytes] | None = attrs.field(default=None, init=False, repr=False)

    def start(self) -> str:
        import httpx

        for tool in ("prometheus", "promtool"):
            if shutil.which(tool) is None:
                raise PrometheusServerError(f"{tool} is not installed (Debian: apt-get install prometheus)")
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "tsdb").mkdir(exist_ok=True)
        (self.folder / "data.om").write_text(self.data)
        backfilled = (
            None
            if not self.data
            else subprocess.run(
                ["promtool", "tsdb", "create-blocks-from", "openmetrics", "data.om", "tsdb"],
                cwd=self.folder,
                check=False,
                capture_output=True,
                text=True,
                timeout=300,
            )
        )
        if backfilled is not None and backfilled.returncode:
            raise PrometheusServerError(f"promtool could not backfill the series: {backfilled.stderr.strip()[-2000:]}")
        for name, text in self.files.items():
            (self.folder / name).write_text(text)
        (self.folder / "prometheus.yml").write_text(self.config)
        port = self.port or _free_port()
        self._process = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={self.folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.folder / 'tsdb'}",
                "--storage.tsdb.retention.time=100y",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self.url
            except httpx.TransportError:
                pass
            if self._process.poll() is not None:
                self._process = None
                raise PrometheusServerError(f"Prometheus stopped before it served on 127.0.0.1:{port}")
            time.sleep(0.05)
        self.stop()
        raise PrometheusServerError(f"Prometheus did not become ready within {self.ready_timeout:g} s")

    def stop(self) -> None:
        if self._process is not None:
            stop(self._process)
            self._process = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


if __name__ == "__main__":  # python -m findly_infra.testing.prometheus: served until interrupted
    from findly_infra.testing._launch import prometheus as launch

    raise SystemExit(launch())
