"""One command's cost against the history a service has — wall time and events decoded, for `rollout` (one step),
`status`, `deploy` and `history --limit 20` — on SQLite and PostgreSQL stores of 1k, 100k and 1M events (three
quarters of them analyses, as a real history is), each with the snapshot writing commands keep (`state snapshot`),
and once more with 499 events after it (the most a command reads between two snapshots); then `state verify` (every
link, and the snapshot folded again) and `status` with its snapshot refused (changed by hand: the stream read whole).
Then durable appends per second on each store, and the export / import rate.

    python benchmarks/state.py                 # 1k, 100k and 1M events (PostgreSQL where initdb is installed)
    python benchmarks/state.py 1000 100000     # the sizes given
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import findly_infra.adapters.postgresql as postgres_adapter
from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.application import codec
from findly_infra.application.transfer import export_lines, import_lines
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

T0 = datetime(2020, 1, 1)
READINGS = tuple(
    MetricReading(metric=m, value=0.1, threshold="< 1%", verdict=Verdict.PASS)
    for m in ("error_rate", "latency_p95", "cpu_utilization", "memory_utilization")
)
BASE = {"service": "fn-posts", "environment": "development", "actor": "bench"}


def history(count: int) -> Iterator[Event]:
    """Releases of fn-posts in development — each a canary with its analyses, and a test result — then a rollout of
    9.0.0 under way: *count* events in all."""
    made, at, release, version = 0, T0, 0, "1.0.0"
    while made < count - 70:
        version = f"1.0.{release}"
        previous = f"1.0.{release - 1}" if release else None
        yield RolloutStarted(**BASE, version=version, at=at, strategy=StrategyKind.CANARY, previous=previous)
        yield TrafficShifted(**BASE, version=version, at=at, weight=5, step=0)
        for _ in range(60):
            at += timedelta(minutes=1)
            yield AnalysisRecorded(**BASE, version=version, at=at, verdict=Verdict.PASS, readings=READINGS)
        yield RolloutSucceeded(**BASE, version=version, at=at)
        yield TestResultRecorded(**BASE, version=version, at=at, suite="unit", passed=True)
        made += 64
        release += 1
    yield RolloutStarted(**BASE, version="9.0.0", at=at, strategy=StrategyKind.CANARY, previous=version)
    yield TrafficShifted(**BASE, version="9.0.0", at=at, weight=5, step=0)
    made += 2
    for _ in range(count - made):
        at += timedelta(seconds=1)
        yield AnalysisRecorded(**BASE, version="9.0.0", at=at, verdict=Verdict.PASS, readings=READINGS)


def fill(store: Any, events: Iterator[Event], batch: int = 10_000) -> int:
    version, chunk = 0, []
    for event in events:
        chunk.append(event)
        if len(chunk) == batch:
            version = store.append("fn-posts", version, chunk)
            chunk = []
    if chunk:
        version = store.append("fn-posts", version, chunk)
    return version


def command(state: str, config: Path, *args: str) -> tuple[float, int]:
    """One command, in this process (a new runtime: nothing cached), and how many events it decoded."""
    decoded = 0
    decoders = (codec,)  # every store decodes its rows through codec.decode_stream
    originals = [module.event_from_dict for module in decoders]

    def counting(data: dict[str, object]) -> Event:
        nonlocal decoded
        decoded += 1
        return originals[0](data)  # type: ignore[arg-type]

    for module in decoders:
        module.event_from_dict = counting  # type: ignore[assignment]
    try:
        began = time.perf_counter()
        out = io.StringIO()
        with contextlib.redirect_stderr(io.StringIO()):  # the commands' logs
            code = main(["--json", "--config", str(config), "--state", state, "--actor", "bench", *args], out=out)
        elapsed = time.perf_counter() - began
    finally:
        for module, original in zip(decoders, originals, strict=True):
            module.event_from_dict = original  # type: ignore[assignment]
    assert code in (0, 3, 4, 6), (args, code, out.getvalue()[:500])
    return elapsed, decoded


COMMANDS = (
    ("rollout", "fn-posts", "--env", "development"),
    ("status", "fn-posts"),
    ("deploy", "fn-posts", "9.9.9", "--env", "staging"),
    ("history", "fn-posts", "--limit", "20"),
)


def best(state: str, config: Path, args: tuple[str, ...], runs: int = 3) -> tuple[float, int]:
    results = [command(state, config, *args) for _ in range(runs)]
    return min(r[0] for r in results), results[-1][1]


def scale(name: str, make: Any, sizes: list[int], config: Path) -> None:
    print(f"\n{name}: one command against a service's history (best of 3; decoded: events read and decoded)")
    print(f"{'events':>9}  {'tail':>4}  {'command':34} {'ms':>8} {'decoded':>8}")
    for count in sizes:
        state, store = make(count)
        began = time.perf_counter()
        fill(store, history(count))
        built = time.perf_counter() - began
        store.close()
        print(f"{count:9d}  (built in {built:.1f} s: {count / built:,.0f} events/s in batches of 10k)")
        assert command(state, config, "state", "snapshot")[0] >= 0  # as the writing commands keep it
        for tail in (0, 499):
            if tail:  # analyses of the rollout under way, after the snapshot
                store = make(count)[1]
                _, version = store.load("fn-posts", since=1 << 62)
                at = datetime.now(UTC).replace(tzinfo=None)  # after the history and the rollout, never in the future
                extra = [
                    AnalysisRecorded(**BASE, version="9.0.0", at=at, verdict=Verdict.PASS, readings=READINGS)
                    for _ in range(tail)
                ]
                store.append("fn-posts", version, extra)
                store.close()
            for args in COMMANDS:
                if args[0] == "rollout":  # a step changes the stream: measured on a copy of the moment
                    elapsed, decoded = command(state, config, *args)
                else:
                    elapsed, decoded = best(state, config, args)
                print(f"{count:9d}  {tail:4d}  {' '.join(args):34} {elapsed * 1000:8.1f} {decoded:8d}")
        # the whole check, and what a refused snapshot costs: the command reads the stream whole (once each)
        elapsed, decoded = command(state, config, "state", "verify")
        print(f"{count:9d}  {'':4}  {'state verify':34} {elapsed * 1000:8.1f} {decoded:8d}")
        spoil(make(count)[1])
        elapsed, decoded = command(state, config, "status", "fn-posts")
        print(f"{count:9d}  {'':4}  {'status fn-posts (snapshot refused)':34} {elapsed * 1000:8.1f} {decoded:8d}")
        assert command(state, config, "state", "snapshot")[0] >= 0


def spoil(store: Any) -> None:
    """Change fn-posts' snapshot by hand (its digest), so that commands refuse it; and close the store."""
    table = "snapshots" if isinstance(store, SqliteEventStore) else "findly_snapshots"
    store._connection.execute(f"UPDATE {table} SET digest = 'spoiled' WHERE service = 'fn-posts'")
    store.close()


def appends(name: str, store: Any, count: int = 300) -> None:
    event = TestResultRecorded(**BASE, version="1.0.0", at=T0, suite="unit", passed=True)
    began = time.perf_counter()
    for version in range(count):
        store.append("fn-appends", version, [event])
    elapsed = time.perf_counter() - began
    print(f"{name}: {count / elapsed:,.0f} durable appends/s (one event each, one transaction each)")


def transfer(name: str, source: Any, target: Any) -> None:
    began = time.perf_counter()
    lines = list(export_lines(source))
    exported = time.perf_counter() - began
    began = time.perf_counter()
    import_lines(target, lines)
    imported = time.perf_counter() - began
    events = len(lines) - 1
    print(
        f"{name}: export {events / exported:,.0f} events/s, import {events / imported:,.0f} events/s ({events} events)"
    )


def main_() -> None:
    sizes = [int(arg) for arg in sys.argv[1:]] or [1_000, 100_000, 1_000_000]
    from findly_infra.testing.postgresql import PostgresServer, postgres_binaries

    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "findly.yaml"
        config.write_text(example_platform_text())

        def sqlite(count: int) -> tuple[str, Any]:
            path = Path(folder) / f"state-{count}.sqlite3"
            return str(path), SqliteEventStore(path)

        scale("SQLite", sqlite, sizes, config)
        appends("SQLite", SqliteEventStore(Path(folder) / "appends.sqlite3"))
        transfer(
            "SQLite -> SQLite",
            SqliteEventStore(Path(folder) / f"state-{sizes[0]}.sqlite3"),
            SqliteEventStore(Path(folder) / "copy.sqlite3"),
        )
        if postgres_binaries() is None:
            print("\nPostgreSQL: not installed (Debian: apt-get install postgresql): not measured")
            return
        with PostgresServer() as server:

            def postgres(count: int) -> tuple[str, Any]:
                url = server.url(f"scale_{count}")
                return url, postgres_adapter.PostgresEventStore(url)

            scale("PostgreSQL (loopback, fsync off: the server's own durability not measured)", postgres, sizes, config)
            appends("PostgreSQL", postgres_adapter.PostgresEventStore(server.url("appends")))
            transfer(
                "SQLite -> PostgreSQL",
                SqliteEventStore(Path(folder) / f"state-{sizes[0]}.sqlite3"),
                postgres_adapter.PostgresEventStore(server.url("copy")),
            )


if __name__ == "__main__":
    main_()
