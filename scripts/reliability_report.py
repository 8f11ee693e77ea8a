"""The reliability matrices, run and counted: `nox -s reliability` (or `python scripts/reliability_report.py`).

Runs the tests that break things on purpose — processes killed mid-command, racing writers, damaged state files,
hostile reports and inputs — under Hypothesis' ``thorough`` profile (1,000 examples a property), and prints, per
matrix, how many cases were tried and how many failed. Exit 1 when any failed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent
MATRICES = {
    "kill (every command, killed at every write point, then run again; SIGKILL mid-watch)": [
        "tests/test_kill_matrix.py",
        "tests/test_crash_safety.py",
        "tests/cluster/test_releases.py::test_a_release_killed_at_any_write_to_the_cluster_ends_as_the_log_says_when_run_again",
        "tests/test_state_integrity.py::test_after_a_crash_between_store_and_route_the_next_command_routes_as_recorded",
        "tests/test_state_integrity.py::test_a_killed_rollback_is_finished_by_the_next_one",
        "tests/test_state_integrity.py::test_a_state_removed_or_replaced_while_a_command_runs_is_never_written",
    ],
    "race (commuting and conflicting writers)": [
        "tests/test_state_integrity.py::test_a_conflict_is_decided_again_on_fresh_state_not_refused",
        "tests/test_state_integrity.py::test_a_command_that_keeps_losing_gives_up_writing_nothing",
        "tests/test_state_integrity.py::test_racing_commands_of_one_service_all_land",
        "tests/test_event_store.py",
        "tests/test_use_cases.py::test_times_never_decrease_within_a_stream_whatever_the_clock_says",
    ],
    "corruption (state files that are not, or no longer, a findly state; a full disk, a read-only file)": [
        "tests/test_state_integrity.py",
    ],
    "time (a state keeps real or virtual time, never both; no future, never backwards)": [
        "tests/test_timekeeping.py",
        "tests/test_contract.py::test_a_state_keeps_the_time_its_first_writer_chose_and_refuses_to_mix_in_the_other",
        "tests/test_contract.py::test_a_rehearsal_state_resumes_its_own_clock_without_now",
    ],
    "hostile input (reports, versions, names, outputs, files)": [
        "tests/test_evidence.py",
        "tests/test_contract.py",
        "tests/test_images.py",
        "tests/test_platform_file.py::test_any_number_written_in_any_place_gives_located_problems_never_an_exception",
        "tests/test_platform_file.py::test_any_mutation_gives_located_problems_never_an_exception",
        "tests/test_identifiers.py",
        "tests/test_bad_input.py",
    ],
}


def main() -> int:
    failed_any = False
    rows = []
    seen: set[str] = set()
    with tempfile.TemporaryDirectory() as folder:
        for name, selection in MATRICES.items():
            report = Path(folder) / "report.xml"
            subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *selection],
                cwd=ROOT,
                env={**os.environ, "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "thorough")},
                check=False,
                stdout=subprocess.DEVNULL,
            )
            counts: Counter[str] = Counter()
            for case in ElementTree.parse(report).getroot().iter("testcase"):
                key = f"{case.get('classname')}::{case.get('name')}"
                outcome = (
                    "failed"
                    if case.find("failure") is not None or case.find("error") is not None
                    else ("skipped" if case.find("skipped") is not None else "passed")
                )
                counts[outcome] += 1
                if outcome == "failed":
                    print(f"FAILED {key}")
                seen.add(key)
            failed_any = failed_any or counts["failed"] > 0
            rows.append((name, sum(counts.values()), counts["failed"], counts["skipped"]))
    width = max(len(name) for name, *_ in rows)
    print(f"{'matrix':{width}} {'tried':>6} {'failed':>7} {'skipped':>8}")
    for name, tried, failed, skipped in rows:
        print(f"{name:{width}} {tried:>6} {failed:>7} {skipped:>8}")
    print(f"{len(seen)} distinct cases (a case may sit in two matrices); properties ran their profile's examples each")
    return 1 if failed_any else 0


if __name__ == "__main__":
    sys.exit(main())
