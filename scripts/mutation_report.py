"""The kill rate of the last ``mutmut run``, per file of the domain; its timeouts checked again; its exclusions.

    python scripts/mutation_report.py [--survivors] [--recheck-all]

Run by ``nox -s mutation`` after mutmut. A mutant is *killed* when a test failed with it in place; one that
*survived* or that *no test* reached shows a rule no test pins down. Mutants that were not run this time
(``not checked``) are left out of the rate and counted apart ("not run").

A *timeout* is not taken on trust: a loaded machine makes a surviving mutant's tests slow, not failing. Each one is
run again alone — its tests, in ``mutants/``, with ``MUTANT_UNDER_TEST`` naming it, as mutmut 3's worker runs them
(``mutmut/runners/harness.py``, ``mutmut/mutation/trampoline.py``) — with three times the run's own limit: it counts
as killed only when its tests fail or still do not finish; finishing green, it counts as survived. What that found is
kept in ``mutants/timeout-rechecks.json`` (by the function's hash, so an edited function is checked again).

Equivalent mutants are excluded at the source, each with its reason on the same line: ``# pragma: no mutate
(equivalent: WHY)`` (mutmut 3 reads the word after ``no mutate`` as ``block``/``start``/``end``, anything else as a
plain one-line exclusion: ``mutmut/mutation/pragma_handling.py``). Every excluded line is listed, with its reason; one
without a reason fails the report.
"""

from __future__ import annotations

import collections
import fnmatch
import json
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTANTS = ROOT / "mutants"
RECHECKS = MUTANTS / "timeout-rechecks.json"
STATUSES = ("killed", "survived", "no tests", "suspicious", "timeout", "segfault")
KILLED = {"killed"}
LIVE = {"survived", "no tests", "suspicious"}
PRAGMA = re.compile(r"#\s*pragma:\s*no mutate\b(.*)$")
RECHECK_FACTOR = 3
"""A timeout is run again with this many times the limit the run gave it."""


def config() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return dict(tomllib.load(file)["tool"]["mutmut"])


def results() -> list[tuple[str, str]]:
    """(mutant, status) of every mutant the last run checked."""
    listing = subprocess.run(
        ["mutmut", "results", "--all", "true"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.splitlines()
    found = []
    for line in listing:
        name, _, status = line.strip().rpartition(": ")
        if name:
            found.append((name, status))
    return found


def module_of(mutant: str) -> str:
    """``findly_infra.domain.pipeline`` of ``findly_infra.domain.pipeline.xǁDeploymentPipelineǁapply__mutmut_3``."""
    parts = mutant.split(".")
    for index in range(len(parts) - 1, -1, -1):
        if parts[index].startswith(("x_", "xǁ")):
            return ".".join(parts[:index])
    return mutant.rpartition(".")[0]


def function_of(mutant: str) -> str:
    return mutant.partition("__mutmut_")[0]


# ---- timeouts, checked again --------------------------------------------------------------------------------


def recheck(mutant: str, stats: dict[str, object], cfg: dict[str, object]) -> dict[str, object]:
    """Run *mutant*'s tests alone, as mutmut's worker does, with a generous limit: its status, and how long."""
    tests = sorted(stats["tests_by_mangled_function_name"].get(function_of(mutant), []))  # type: ignore[attr-defined]
    durations: dict[str, float] = stats["duration_by_test"]  # type: ignore[assignment]
    estimated = sum(durations.get(test, 0.0) for test in tests)
    multiplier = float(cfg.get("timeout_multiplier", 15.0))  # type: ignore[arg-type]
    constant = float(cfg.get("timeout_constant", 1.0))  # type: ignore[arg-type]
    limit = (estimated + constant) * multiplier * RECHECK_FACTOR
    if not tests:
        return {"status": "no tests", "seconds": 0.0, "limit": limit}
    extra = [str(arg) for arg in cfg.get("pytest_add_cli_args", [])]  # type: ignore[attr-defined]
    command = [sys.executable, "-m", "pytest", "--rootdir=.", "--tb=native", "-x", "-q", "-p", "no:randomly"]
    env = {
        **os.environ,
        "MUTANT_UNDER_TEST": mutant,
        "PYTHONPATH": os.pathsep.join([str(MUTANTS / "src"), str(MUTANTS)]),  # the mutated code, not the original
        "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "mutation"),
    }
    started = time.monotonic()
    process = subprocess.Popen(
        [*command, *tests, *extra],
        cwd=MUTANTS,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: a hang is ended whole
    )
    try:
        code = process.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return {"status": "timeout", "seconds": round(time.monotonic() - started, 1), "limit": round(limit, 1)}
    status = {0: "survived", 1: "killed", 3: "killed", 5: "no tests", -signal.SIGSEGV: "killed"}.get(code, "suspicious")
    return {"status": status, "seconds": round(time.monotonic() - started, 1), "limit": round(limit, 1)}


def rechecked(timeouts: list[str], *, again: bool) -> dict[str, dict[str, object]]:
    """Each timeout's status when run alone (from the record, where its function is unchanged)."""
    if not timeouts:
        return {}
    stats = json.loads((MUTANTS / "mutmut-stats.json").read_text())
    hashes: dict[str, str] = stats.get("function_hashes", {})
    cfg = config()
    record: dict[str, dict[str, object]] = {}
    if RECHECKS.exists() and not again:
        record = json.loads(RECHECKS.read_text())
    found = {}
    for mutant in timeouts:
        known = record.get(mutant)
        digest = hashes.get(function_of(mutant), "")
        if known is None or known.get("hash") != digest:
            print(f"checking the timeout {mutant} again, alone ...", file=sys.stderr, flush=True)
            known = {**recheck(mutant, stats, cfg), "hash": digest}
            record[mutant] = known
            RECHECKS.write_text(json.dumps(record, indent=1, sort_keys=True))
        found[mutant] = known
    return found


# ---- exclusions ------------------------------------------------------------------------------------------------


def exclusions(cfg: dict[str, object]) -> list[tuple[str, int, str]]:
    """(file, line, reason) of every ``# pragma: no mutate`` in the files mutmut mutates."""
    patterns = [str(p) for p in cfg.get("only_mutate", ["src/*"])]  # type: ignore[attr-defined]
    found = []
    for path in sorted((ROOT / "src").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if not any(fnmatch.fnmatch(relative, pattern) for pattern in patterns):
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            match = PRAGMA.search(line)
            if match:
                found.append((relative, number, match.group(1).strip(" :()").removeprefix("equivalent:").strip()))
    return found


def module_file(module: str) -> str:
    path = "src/" + module.replace(".", "/")
    return f"{path}/__init__.py" if (ROOT / path).is_dir() else f"{path}.py"


# ---- the report ------------------------------------------------------------------------------------------------


def main() -> int:
    listing = results()
    if not any(status != "not checked" for _, status in listing):
        print("no mutant was run: `mutmut run` first")
        return 1
    cfg = config()
    # mutmut's "segfault" includes -9, the SIGKILL one second past the CPU limit: a timeout too, checked alike
    stopped = [name for name, status in listing if status in {"timeout", "segfault"}]
    checked = rechecked(stopped, again="--recheck-all" in sys.argv)
    excluded = exclusions(cfg)
    excluded_per_file = collections.Counter(path for path, _, _ in excluded)
    per_module: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    survivors: list[str] = []
    for name, reported in listing:
        counts = per_module[module_of(name)]
        if reported == "not checked":  # not run yet (an interrupted run, or names given): left out of the rate
            counts["not run"] += 1
            continue
        status = reported
        if reported in {"timeout", "segfault"}:
            counts["timeouts"] += 1
            status = str(checked[name]["status"])
            counts["timeouts confirmed"] += status in {"timeout", "killed"}
            status = "killed" if status == "timeout" else status
        if status in KILLED:
            counts["killed"] += 1
        elif status in LIVE:
            counts[status] += 1
            survivors.append(f"{name} ({status})")
    head = f"{'file':34} {'mutants':>8} {'killed':>7} {'survived':>9} {'no tests':>9} {'timeouts':>9} {'excluded':>9}"
    print(f"{head} {'kill rate':>10} {'not run':>8}")
    totals: collections.Counter[str] = collections.Counter()
    for module, counts in sorted(per_module.items()):
        path = module_file(module)
        counts["excluded"] = excluded_per_file[path]
        totals.update(counts)
        print(row(path.removeprefix("src/findly_infra/"), counts))
    print(row("all", totals))
    print(
        "\ntimeouts: mutants mutmut stopped at its limit, run again alone with "
        f"{RECHECK_FACTOR}x that limit (confirmed: failed or still unfinished, counted killed; the others finished "
        "green and count as survived)"
    )
    for name, found in sorted(checked.items()):
        print(f"  {name}: {found['status']} after {found['seconds']} s (limit {found['limit']} s)")
    print(f"\nexcluded lines (equivalent mutants, `# pragma: no mutate`): {len(excluded)}")
    unexplained = 0
    for path, number, reason in excluded:
        unexplained += not reason
        print(f"  {path}:{number}: {reason or 'NO REASON GIVEN'}")
    if "--survivors" in sys.argv:
        print(f"\nsurviving mutants (`mutmut show NAME` prints each): {len(survivors)}")
        for name in survivors:
            print(f"  {name}")
    if unexplained:
        print(f"\n{unexplained} excluded line(s) give no reason: say why the mutant is equivalent", file=sys.stderr)
        return 1
    return 0


def row(label: str, counts: collections.Counter[str]) -> str:
    live = counts["survived"] + counts["no tests"] + counts["suspicious"]
    run = counts["killed"] + live
    rate = f"{counts['killed'] / run:.1%}" if run else "-"
    timeouts = f"{counts['timeouts confirmed']}/{counts['timeouts']}" if counts["timeouts"] else "0"
    return (
        f"{label:34} {run:8d} {counts['killed']:7d} {counts['survived']:9d} {counts['no tests']:9d} "
        f"{timeouts:>9} {counts['excluded']:9d} {rate:>10} {counts['not run']:8d}"
    )


if __name__ == "__main__":
    sys.exit(main())
