"""Cold start-up: wall time of `findly-infra --version` and `validate` on the example, beside `python -c pass`.

Each command runs as a fresh process, N times, interleaved so that machine noise hits all alike;
the figures are the median and the fastest run. Also shows which heavy modules `validate` imports
(none of kubernetes, google.cloud, grpc may appear).

    python benchmarks/startup.py [--runs 30]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "findly.yaml"


def _script() -> list[str]:
    found = shutil.which("findly-infra")
    return [found] if found else [sys.executable, "-m", "findly_infra"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -S -c pass (no site)": [sys.executable, "-S", "-c", "pass"],
        "findly-infra --version": [*_script(), "--version"],
        "findly-infra validate examples/findly.yaml": [*_script(), "validate", str(EXAMPLE)],
        "python -m findly_infra validate (module)": [sys.executable, "-m", "findly_infra", "validate", str(EXAMPLE)],
    }
    timings: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():
            start = time.perf_counter()
            subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            timings[name].append((time.perf_counter() - start) * 1000)
    baseline = statistics.median(timings["python -c pass"])
    print(f"{'command':48} {'median ms':>10} {'min ms':>8} {'over python':>12}")
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"{name:48} {median:10.1f} {min(values):8.1f} {median - baseline:+12.1f}")

    probe = (
        "import sys; from findly_infra.cli import main; main(['validate', sys.argv[1]]);"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in "
        "('kubernetes', 'google', 'grpc', 'httpx', 'structlog', 'psycopg', 'jwt', 'cryptography')}))"
    )
    heavy = subprocess.run([sys.executable, "-c", probe, str(EXAMPLE)], capture_output=True, text=True, check=True)
    print(f"heavy SDKs imported by validate: {heavy.stdout.strip().splitlines()[-1]}")
    importtime = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            f"from findly_infra.cli import main; main(['validate', {str(EXAMPLE)!r}])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = [line.split("|") for line in importtime.stderr.splitlines() if line.startswith("import time:")]
    top = sorted(((int(r[1]), r[2].rstrip()) for r in rows if r[1].strip().isdigit()), reverse=True)[:8]
    print("largest cumulative imports for validate (us):")
    for cumulative, name in top:
        print(f"  {cumulative:8d}  {name}")
    parser = [int(r[1]) for r in rows if r[2].strip() == "promql_parser" and r[1].strip().isdigit()]
    print(f"the PromQL parser's import (us, cumulative): {parser[0] if parser else 'not imported'}")


if __name__ == "__main__":
    main()
