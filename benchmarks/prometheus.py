"""One analysis step against a real Prometheus, beside the raw HTTP round trips of the queries it needs.

    python benchmarks/prometheus.py

Starts Prometheus on 127.0.0.1 with 30 minutes of backfilled data (needs Debian's ``prometheus``),
then times, over many repetitions: the metrics port's analysis of the seed's canary (its queries,
parsing, judging), the same queries as bare HTTP GETs on one keep-alive connection, and a whole
``PipelineService.step`` (analysis + events stored in SQLite). Prints medians; asserts nothing.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import httpx

from findly_infra.adapters.memory import SimulatedCluster, VirtualClock
from findly_infra.adapters.prometheus import (
    PrometheusClient,
    PrometheusMetrics,
    Target,
    criterion_query,
    requests_query,
)
from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.application.analysis import analyze_version
from findly_infra.application.ports import MetricsQuery
from findly_infra.application.service import PipelineService
from findly_infra.config.loader import load_platform_text
from findly_infra.domain import Observation, StrategyKind, metric_kind
from findly_infra.examples import example_platform_text
from findly_infra.testing.prometheus import PrometheusServer, Stream, openmetrics

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
AT = T0 + timedelta(minutes=20)
REPEAT = 300


def median_ms(action: Callable[[], object], repeat: int = REPEAT) -> tuple[float, float]:
    for _ in range(20):  # warm up: connections, caches, Prometheus's own
        action()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000, statistics.quantiles(times, n=20)[-1] * 1000


def main() -> None:
    platform = load_platform_text(example_platform_text())
    canary = platform.strategy_for("production", StrategyKind.CANARY)
    blue_green = platform.strategy_for("production", StrategyKind.BLUE_GREEN)
    streams = [Stream("fn-posts", "production", version, 1000) for version in ("1.0.0", "2.0.0")]
    with tempfile.TemporaryDirectory() as folder:
        began = time.perf_counter()
        with PrometheusServer(openmetrics(streams, start=T0, minutes=30), Path(folder)) as url:
            print(f"Prometheus backfilled and ready in {time.perf_counter() - began:.1f} s at {url}")
            client = PrometheusClient(url)
            metrics = PrometheusMetrics(client, platform.metrics)
            window = metrics.window
            target = Target("fn-posts", "production", "2.0.0")
            checks = [c.metric for c in canary.success_criteria]  # type: ignore[union-attr]
            queries = [requests_query(platform.metrics, target, window)]
            queries += [criterion_query(m, platform.metrics, target, window) for m in checks]
            triggers = [t.name for t in blue_green.rollback_triggers if metric_kind(t.name)]  # type: ignore[union-attr]
            print(
                f"queries per analysis: seed canary {len(queries)} (requests + {len(checks)} criteria), "
                f"seed blue-green {1 + len(triggers)} (requests + {len(triggers)} triggers); "
                "a criterion relative to the current version adds 1, plus 1 for the current version's requests"
            )

            raw = httpx.Client(base_url=url)
            params = [{"query": q, "time": f"{AT.timestamp():.3f}"} for q in queries]

            def round_trips() -> None:
                for p in params:
                    raw.get("/api/v1/query", params=p).read()

            def analysis() -> None:  # measured by the port, judged by the application, as a rollout step is
                analyze_version(
                    platform,
                    metrics,
                    service="fn-posts",
                    environment="production",
                    version="2.0.0",
                    at=AT,
                    strategy=StrategyKind.CANARY,
                )

            raw_ms, raw_p95 = median_ms(round_trips)
            step_ms, step_p95 = median_ms(analysis)
            print(f"raw HTTP round trips ({len(queries)} queries): median {raw_ms:.2f} ms, p95 {raw_p95:.2f} ms")
            print(
                f"one analysis step (metrics port):  median {step_ms:.2f} ms, p95 {step_p95:.2f} ms "
                f"= {step_ms / raw_ms:.2f}x the raw round trips (goal: within 1.5x)"
            )

            hour = (T0, T0 + timedelta(minutes=60), timedelta(minutes=1))

            def replay_read() -> None:
                metrics.recorded(target, tuple(checks), *hour)

            def instant_reads() -> None:
                for minute in range(61):
                    metrics.measure(target, tuple(checks), T0 + timedelta(minutes=minute))

            range_ms, _ = median_ms(replay_read, repeat=50)
            instant_ms, _ = median_ms(instant_reads, repeat=5)
            print(
                f"a 60-minute canary's record (61 analyses): {len(queries)} range queries {range_ms:.1f} ms, "
                f"vs {61 * len(queries)} instant queries {instant_ms:.0f} ms ({instant_ms / range_ms:.0f}x)"
            )

            with tempfile.TemporaryDirectory() as state:
                store = SqliteEventStore(str(Path(state) / "state.sqlite3"))
                clock = VirtualClock(AT.replace(tzinfo=None) - timedelta(minutes=5))
                # the same data every time: each step judges 2.0.0's minute ending at AT and records it; the
                # virtual clock stands still, so the canary stays in its first stage and every step is a full one
                service = PipelineService(platform, store, clock, _FixedTime(metrics), SimulatedCluster())
                service.deploy("fn-posts", "2.0.0", "development", actor="bench", strategy=StrategyKind.CANARY)

                def whole_step() -> None:
                    service.step("fn-posts", "development", actor="bench")

                whole_ms, whole_p95 = median_ms(whole_step, repeat=100)
                print(f"a whole step (analysis + events in SQLite): median {whole_ms:.2f} ms, p95 {whole_p95:.2f} ms")
            raw.close()
            client.close()


class _FixedTime:
    """Reads production's data at AT whatever the rollout's clock and environment (the data is fixed)."""

    def __init__(self, metrics: PrometheusMetrics) -> None:
        self.metrics = metrics

    def observe(self, query: MetricsQuery) -> Observation:
        return self.metrics.observe(attrs.evolve(query, environment="production", at=AT))

    def describe(self, metric: str, query: MetricsQuery) -> str:
        return self.metrics.describe(metric, query)


if __name__ == "__main__":
    main()
