"""The kill rate of the last ``mutmut run``, per file of the domain, and the surviving mutants to read.

    python scripts/mutation_report.py [--survivors]

Run by ``nox -s mutation`` after mutmut. A mutant is *killed* when a test failed (or timed out) with it in
place; one that *survived* or that *no test* reached shows a rule no test pins down. Mutants that were not
run this time (``not checked``) are left out.
"""

from __future__ import annotations

import collections
import subprocess
import sys

KILLED = {"killed", "timeout", "segfault"}
LIVE = {"survived", "no tests", "suspicious"}


def main() -> int:
    listing = subprocess.run(
        ["mutmut", "results", "--all", "true"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    per_file: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    survivors: list[str] = []
    for line in listing:
        name, _, status = line.strip().rpartition(": ")
        if not name or status == "not checked":
            continue
        module = name[: name.index(".x")] if ".x" in name else name  # module.x_function__mutmut_3
        per_file[module][status] += 1
        if status in LIVE:
            survivors.append(name)
    if not per_file:
        print("no mutant was run: `mutmut run` first")
        return 1
    total_killed = total = 0
    print(f"{'module':40} {'mutants':>8} {'killed':>7} {'survived':>9} {'no tests':>9} {'kill rate':>10}")
    for module, counts in sorted(per_file.items()):
        killed = sum(counts[s] for s in KILLED)
        run = killed + sum(counts[s] for s in LIVE)
        total_killed, total = total_killed + killed, total + run
        rate = killed / run if run else 1.0
        print(f"{module:40} {run:8d} {killed:7d} {counts['survived']:9d} {counts['no tests']:9d} {rate:10.1%}")
    print(f"{'all':40} {total:8d} {total_killed:7d} {'':9} {'':9} {total_killed / total:10.1%}")
    if "--survivors" in sys.argv:
        print("\nsurviving mutants (`mutmut show NAME` prints each):")
        for name in survivors:
            print(f"  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
