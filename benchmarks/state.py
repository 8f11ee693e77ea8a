"""One command's cost against the history a service has: wall time and events decoded, for `rollout` (one step),
`status` and `deploy`, on SQLite stores of 1k and 10k events (three quarters of them analyses, as a real
history is). A command reads each stream once; the cost still grows with the stream until snapshots land.

    python benchmarks/state.py
"""

from __future__ import annotations

import io
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import findly_infra.adapters.sqlite as sqlite_adapter
from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.cli import main
from findly_infra.domain import (
    AnalysisRecorded,
    Event,
    MetricReading,
    RolloutStarted,
    RolloutSucceeded,
    StrategyKind,
    TestResultRecorded,
    TrafficShifted,
    Verdict,
)
from findly_infra.examples import example_platform_text

T0 = datetime(2026, 1, 1)
READINGS = tuple(
    MetricReading(metric=m, value=0.1, threshold="< 1%", verdict=Verdict.PASS)
    for m in ("error_rate", "latency_p95", "cpu_utilization", "memory_utilization")
)


def history(count: int) -> list[Event]:
    """Releases of fn-posts in development: each a canary with its analyses, and a test result."""
    events: list[Event] = []
    at, release = T0, 0
    base = {"service": "fn-posts", "environment": "development", "actor": "bench"}
    while len(events) < count - 70:
        version = f"1.0.{release}"
        previous = f"1.0.{release - 1}" if release else None
        events.append(RolloutStarted(**base, version=version, at=at, strategy=StrategyKind.CANARY, previous=previous))
        events.append(TrafficShifted(**base, version=version, at=at, weight=5, step=0))
        for _ in range(60):
            at += timedelta(minutes=1)
            events.append(AnalysisRecorded(**base, version=version, at=at, verdict=Verdict.PASS, readings=READINGS))
        events.append(RolloutSucceeded(**base, version=version, at=at))
        events.append(TestResultRecorded(**base, version=version, at=at, suite="unit", passed=True))
        release += 1
    events.append(RolloutStarted(**base, version="9.0.0", at=at, strategy=StrategyKind.CANARY, previous=version))
    events.append(TrafficShifted(**base, version="9.0.0", at=at, weight=5, step=0))
    return events


def measure(state: Path, config: Path, *args: str) -> tuple[float, int]:
    decoded = 0
    decode = sqlite_adapter.event_from_dict

    def counting(data: dict[str, object]) -> Event:
        nonlocal decoded
        decoded += 1
        return decode(data)  # type: ignore[arg-type]

    sqlite_adapter.event_from_dict = counting  # type: ignore[assignment]
    try:
        began = time.perf_counter()
        code = main(
            ["--json", "--config", str(config), "--state", str(state), "--actor", "bench", *args], out=io.StringIO()
        )
        elapsed = time.perf_counter() - began
    finally:
        sqlite_adapter.event_from_dict = decode
    assert code in (0, 3), (args, code)
    return elapsed, decoded


def main_() -> None:
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "findly.yaml"
        config.write_text(example_platform_text())
        print(f"{'events':>7}  {'command':34} {'ms':>8} {'decoded':>8}")
        for count in (1_000, 10_000):
            state = Path(folder) / f"state-{count}.sqlite3"
            store = SqliteEventStore(state)
            events = history(count)
            store.append("fn-posts", 0, events)
            store.close()
            for args in (
                ("rollout", "fn-posts", "--env", "development"),
                ("status", "fn-posts"),
                ("deploy", "fn-posts", "9.9.9", "--env", "staging"),
            ):
                elapsed, decoded = measure(state, config, *args)
                print(f"{len(events):7d}  {' '.join(args):34} {elapsed * 1000:8.1f} {decoded:8d}")


if __name__ == "__main__":
    main_()
