"""Racing writers on one SQLite state: commands per second, and how many were refused, with conflicts decided again
(the default) and without (attempts=1, as before). Each writer is a thread with its own connection and service, as
separate CI jobs would be; they record test results (commands that commute), on one service or spread over three.

    python benchmarks/races.py
"""

from __future__ import annotations

import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from findly_infra import load_platform
from findly_infra.adapters.memory import ScenarioMetrics, SimulatedCluster, VirtualClock
from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.application.ports import ConcurrencyError
from findly_infra.application.scenarios import SCENARIOS
from findly_infra.application.service import PipelineService

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "findly.yaml"
PLATFORM = load_platform(EXAMPLE)
SERVICES = ("fn-posts", "fn-notifications", "fn-matcher")


def _service(state: Path, attempts: int) -> PipelineService:
    clock = VirtualClock(datetime(2026, 1, 5, 9))
    return PipelineService(
        PLATFORM,
        SqliteEventStore(state),
        clock,
        ScenarioMetrics(SCENARIOS["healthy"]),
        SimulatedCluster(),
        attempts=attempts,
    )


def race(writers: int, commands: int, services: tuple[str, ...], attempts: int) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder) / "state.sqlite3"
        setup = _service(state, attempts)
        for name in services:
            setup.deploy(name, "1.0.0", "development", actor="erin")
        done, refused = [0], [0]
        lock = threading.Lock()

        def writer(number: int) -> None:
            release = _service(state, attempts)
            for index in range(commands):
                name = services[(number + index) % len(services)]
                try:
                    release.record_test(name, "1.0.0", "development", f"w{number}-{index}", True, actor="ci")
                    with lock:
                        done[0] += 1
                except ConcurrencyError:
                    with lock:
                        refused[0] += 1

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    return (done[0] + refused[0]) / elapsed, done[0], refused[0]


def main() -> None:
    print(f"{'writers':>7} {'services':>8} {'attempts':>8} {'commands/s':>11} {'landed':>7} {'refused':>8}")
    for writers in (2, 8):
        for services in (SERVICES[:1], SERVICES):
            for attempts in (1, 8):
                rate, landed, refused = race(writers, 40, services, attempts)
                print(f"{writers:>7} {len(services):>8} {attempts:>8} {rate:>11,.0f} {landed:>7} {refused:>8}")


if __name__ == "__main__":
    main()
