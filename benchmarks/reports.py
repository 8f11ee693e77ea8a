"""Peak memory and wall time of reading a ~49 MiB JUnit report (just under the 50 MiB a report may be) — beside the
same report parsed into a tree, as it was read before issue 23 (``defusedxml.ElementTree.fromstring``, the reference
of this run) — and a ~49 MiB Trivy report.

Each read runs in a child process, so that the peak resident size (``ru_maxrss``) is that read's alone: the figure
printed is the peak minus what the child held before reading (Python, findly_infra and defusedxml imported). A JUnit
report is counted as it is parsed, no tree built: its peak must stay a few MiB whatever the report's size (the tree of
1.8 million small cases took 594-770 MiB). A Trivy report is one JSON document and is held whole.

    python benchmarks/reports.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import resource, sys, time
from pathlib import Path
import defusedxml.ElementTree
from findly_infra.adapters.reports import FileReports
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
if sys.argv[1] == "tree":
    root = defusedxml.ElementTree.fromstring(Path(sys.argv[2]).read_bytes(), forbid_dtd=True)
    result = sum(1 for _ in root.iter("testcase"))
else:
    result = getattr(FileReports(), sys.argv[1])(Path(sys.argv[2]))
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
summary = result if sys.argv[1] != "trivy" else len(result)
print(f"{(peak - before) / 1024:.1f} {elapsed:.2f} {summary}")
"""


def junit(path: Path, target: int) -> int:
    """A pytest-shaped report of about *target* bytes; returns its number of cases."""
    case = '<testcase name="t{n}"/>\n'  # the smallest cases: the most elements a report can hold
    per_case = len(case.format(n=1_000_000))
    cases = target // per_case
    failures = -(-cases // 1000)  # cases 0, 1000, 2000, ... fail
    with path.open("w") as out:
        out.write('<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">')
        out.write(f'<testsuite name="pytest" errors="0" failures="{failures}" skipped="0" tests="{cases}">\n')
        for n in range(cases):
            if n % 1000 == 0:
                out.write(f'<testcase name="test_failing_{n}"><failure message="boom">trace</failure></testcase>\n')
            else:
                out.write(case.format(n=n))
        out.write("</testsuite></testsuites>\n")
    return cases


def trivy(path: Path, target: int) -> int:
    entry = {"VulnerabilityID": "CVE-2026-00000", "PkgName": "libexample", "Severity": "LOW", "Title": "x" * 60}
    count = target // (len(json.dumps(entry)) + 2)  # ", " between entries
    findings = [dict(entry, VulnerabilityID=f"CVE-2026-{n:05d}") for n in range(count)]
    report = {"SchemaVersion": 2, "ArtifactName": "fn-posts:1.0.0", "Results": [{"Vulnerabilities": findings}]}
    path.write_text(json.dumps(report))
    return count


def main() -> None:
    target = 49 * 1024 * 1024
    with tempfile.TemporaryDirectory() as folder:
        reports = {"junit": Path(folder) / "report.xml", "trivy": Path(folder) / "trivy.json"}
        sizes = {"junit": junit(reports["junit"], target), "trivy": trivy(reports["trivy"], target)}
        reports, sizes = {"tree": reports["junit"], **reports}, {"tree": sizes["junit"], **sizes}
        print(f"{'read':8} {'MiB':>6} {'entries':>9} {'peak MiB':>9} {'s':>6}  result")
        for kind, path in reports.items():
            start = time.perf_counter()
            child = subprocess.run(
                [sys.executable, "-c", CHILD, kind, str(path)], capture_output=True, text=True, check=False
            )
            if child.returncode:
                print(f"{kind:8} failed after {time.perf_counter() - start:.1f} s: {child.stderr.strip()[-300:]}")
                continue
            peak, seconds, result = child.stdout.strip().split(" ", 2)
            size = path.stat().st_size / 1024 / 1024
            print(f"{kind:8} {size:6.1f} {sizes[kind]:9,} {float(peak):9.1f} {float(seconds):6.2f}  {result}")


if __name__ == "__main__":
    main()
