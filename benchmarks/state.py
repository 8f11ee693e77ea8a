"""One command's cost against a service's history — `status`, `history --limit 20`, a promotion refused, one
`rollout` step, a whole canary `rollout --watch` and the `deploy` that starts the next one — on SQLite and
PostgreSQL stores of 1k and 1M events (three quarters of them analyses, as a real history is), each command at 1M
beside the same at 1k, interleaved, the median of three rounds (in virtual time: `--now`); then building the
snapshot of a whole stream after an import (`state snapshot`) and `state verify` at 100k and 1M events, each in a
child process (its wall time, CPU time and peak RSS: getrusage(RUSAGE_CHILDREN) of a process whose only child it is).
Then durable appends per second on each store, and the export / import rate. Each PostgreSQL state is vacuumed and
analysed once after its import, as autovacuum does soon after one: the commands are measured on a settled state, not
beside the autovacuum of a million rows just inserted. (What made PostgreSQL's 1M figures 1.5-1.9x those at 1k was JIT
compilation of the records' read back, 15-20 ms a command; the adapter's sessions now run with jit=off.)

    python benchmarks/state.py                          # 1k, 100k and 1M events (PostgreSQL where initdb is installed)
    python benchmarks/state.py 1000 100000 1000000      # the sizes: commands at the first and last, snapshots at the
                                                        # last two
    FINDLY_BENCH_CACHE=/tmp/findly-bench python benchmarks/state.py   # reuse the SQLite states made before (copied)
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
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


NOW = datetime(2026, 1, 1)
"""The virtual time the commands run at (a day later each round): after the history, so that a watch runs at once."""


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


def rounds(round_: int) -> list[tuple[str, tuple[str, ...]]]:
    """The commands of one round, in order: the reads (`status` once more without `--now`: a rehearsal's clock
    resumed at the state's latest event), a refused promotion (9.9.9 never ran: its records read back), one step and
    the whole watch of the canary under way, and the deploy that starts the next round's."""
    now = ("--now", (NOW + timedelta(days=round_)).isoformat() + "Z")
    return [
        ("status", (*now, "status", "fn-posts")),
        ("status (clock resumed)", ("status", "fn-posts")),  # no --now: virtual time resumes at the latest event
        ("history --limit 20", (*now, "history", "fn-posts", "--limit", "20")),
        ("promote (refused)", (*now, "deploy", "fn-posts", "9.9.9", "--env", "staging")),
        ("rollout (one step)", (*now, "rollout", "fn-posts", "--env", "development")),
        ("rollout --watch (whole)", (*now, "rollout", "fn-posts", "--env", "development", "--watch")),
        (
            "deploy (a canary)",
            (*now, "deploy", "fn-posts", f"9.1.{round_}", "--env", "development", "--strategy", "canary"),
        ),
    ]


_CHILD = """
import json, resource, subprocess, sys, time
began = time.perf_counter()
code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
used = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps([code, time.perf_counter() - began, used.ru_utime + used.ru_stime, used.ru_maxrss]))
"""


def in_child(state: str, config: Path, *args: str) -> tuple[float, float, float]:
    """findly-infra *args* in a child process: its wall time (s), CPU time (s) and peak RSS (MiB) — the rusage of
    the children of a process whose only child it is."""
    cli = [sys.executable, "-m", "findly_infra", "--config", str(config), "--state", state, "--actor", "bench"]
    cli += ["--now", NOW.isoformat() + "Z", *args]  # the state keeps virtual time, as the commands below run in it
    out = subprocess.run([sys.executable, "-c", _CHILD, *cli], capture_output=True, text=True, check=True).stdout
    code, wall, cpu, peak = json.loads(out)
    assert code == 0, (args, code)
    return wall, cpu, peak / 1024


def made(name: str, make: Any, count: int, cache: Path | None) -> str:
    """A state of *count* events of fn-posts (an import: no snapshot yet), reusing *cache*'s copy for SQLite."""
    state, store = make(count)
    kept = None if cache is None or name != "SQLite" else cache / f"state-{count}.sqlite3"
    if kept is not None and kept.exists():
        store.close()
        shutil.copyfile(kept, state)
        print(f"{name}: {count:,} events (copied from {kept})")
        return str(state)
    began = time.perf_counter()
    fill(store, history(count))
    built = time.perf_counter() - began
    store.close()
    print(f"{name}: {count:,} events made in {built:.1f} s ({count / built:,.0f} events/s in batches of 10k)")
    if name == "PostgreSQL":  # settled as autovacuum leaves an import soon after: measured apart from its work
        import psycopg

        with psycopg.connect(str(state), autocommit=True) as connection:
            connection.execute("VACUUM (ANALYZE) findly_events")
    if kept is not None:
        cache.mkdir(parents=True, exist_ok=True)  # type: ignore[union-attr]
        shutil.copyfile(state, kept)
    return str(state)


def scale(name: str, make: Any, sizes: list[int], config: Path, cache: Path | None) -> None:
    small, big = sizes[0], sizes[-1]
    built = sorted(set(sizes[-2:]))
    states = {count: made(name, make, count, cache) for count in sorted(set(sizes))}
    print(
        f"\n{name}: the snapshot of a whole stream after an import (state snapshot), and state verify, each in a child"
    )
    print(f"{'events':>9}  {'command':16} {'wall s':>7} {'CPU s':>7} {'peak MiB':>9}")
    figures: dict[str, dict[int, tuple[float, float, float]]] = {}
    for args in (("state", "snapshot"), ("state", "verify")):
        for count in built:
            figures.setdefault(args[1], {})[count] = found = in_child(states[count], config, *args)
            print(f"{count:9,}  {' '.join(args):16} {found[0]:7.2f} {found[1]:7.2f} {found[2]:9.0f}")
        if len(built) == 2:
            one, other = (figures[args[1]][count] for count in built)
            print(
                f"{'':9}  {'ratio':16} {other[0] / one[0]:7.1f}x {other[1] / one[1]:6.1f}x {other[2] / one[2]:8.2f}x "
                f"({built[1] // built[0]}x the events)"
            )
    if small not in built:
        in_child(states[small], config, "state", "snapshot")
    print(
        f"\n{name}: one command at {big:,} events beside the same at {small:,} (in this process; median of 3 rounds, "
        "interleaved; decoded: events read and decoded)"
    )
    times: dict[str, dict[int, list[float]]] = {}
    decoded: dict[str, int] = {}
    for round_ in range(3):
        for label, args in rounds(round_):
            for count in (small, big) if round_ % 2 == 0 else (big, small):  # neither always first
                elapsed, read = command(states[count], config, *args)
                times.setdefault(label, {}).setdefault(count, []).append(elapsed)
                decoded[label] = read if count == big else decoded.get(label, 0)
    print(f"{'command':26} {f'{small:,} ms':>10} {f'{big:,} ms':>12} {'ratio':>6} {'decoded':>8}")
    for label, by_count in times.items():
        one, other = statistics.median(by_count[small]), statistics.median(by_count[big])
        print(f"{label:26} {one * 1000:10.1f} {other * 1000:12.1f} {other / one:5.2f}x {decoded[label]:8d}")


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
    cache = Path(os.environ["FINDLY_BENCH_CACHE"]) if os.environ.get("FINDLY_BENCH_CACHE") else None
    from findly_infra.testing.postgresql import PostgresServer, postgres_binaries

    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "findly.yaml"
        config.write_text(example_platform_text())

        def sqlite(count: int) -> tuple[str, Any]:
            path = Path(folder) / f"state-{count}.sqlite3"
            return str(path), SqliteEventStore(path)

        scale("SQLite", sqlite, sizes, config, cache)
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

            print("\nPostgreSQL: loopback, fsync off (the server's own durability not measured)")
            scale("PostgreSQL", postgres, sizes, config, None)
            appends("PostgreSQL", postgres_adapter.PostgresEventStore(server.url("appends")))
            transfer(
                "SQLite -> PostgreSQL",
                SqliteEventStore(Path(folder) / f"state-{sizes[0]}.sqlite3"),
                postgres_adapter.PostgresEventStore(server.url("copy")),
            )


if __name__ == "__main__":
    main_()
