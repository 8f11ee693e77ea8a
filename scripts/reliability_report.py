"""The reliability matrices, run and counted: `nox -s reliability` (or `python scripts/reliability_report.py`).

Runs the tests that break things on purpose — processes killed mid-command, racing writers, damaged state files,
hostile reports and inputs — under Hypothesis' ``thorough`` profile (1,000 examples a property), and prints, per
matrix, how many cases were tried and how many failed. Exit 1 when any failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parent.parent
MATRICES = {
    "kill (every command, killed at every write point, then run again; SIGKILL mid-watch; a PostgreSQL server frozen "
    "mid-watch and mid-transaction; dr failover killed at every write point, and by SIGKILL mid-readiness)": [
        "tests/test_kill_matrix.py",
        "tests/test_crash_safety.py",
        "tests/cluster/test_releases.py::test_a_release_killed_at_any_write_to_the_cluster_ends_as_the_log_says_when_run_again",
        "tests/test_state_integrity.py::test_after_a_crash_between_store_and_route_the_next_command_routes_as_recorded",
        "tests/test_state_integrity.py::test_a_killed_rollback_is_finished_by_the_next_one",
        "tests/test_state_integrity.py::test_a_state_removed_or_replaced_while_a_command_runs_is_never_written",
        "tests/postgres/test_bounds.py::test_a_watch_on_a_server_that_freezes_ends_with_exit_5_and_the_log_it_left_verifies",
        "tests/postgres/test_bounds.py::test_a_write_cut_by_a_frozen_server_is_whole_or_absent_and_the_log_verifies",
        "tests/postgres/test_bounds.py::test_a_new_command_on_a_frozen_server_gives_up_connecting_with_exit_5",
        "tests/postgres/test_leases.py::test_a_driver_killed_mid_watch_is_taken_over_once_its_lease_runs_out",
        "tests/postgres/test_leases.py::test_a_driver_frozen_past_its_lease_never_writes_again_and_follows",
        "tests/recovery/test_failover_kill_matrix.py",
        "tests/recovery/test_failover_sigkill.py",
    ],
    "race (commuting and conflicting writers; two runners of one host name and pid; a driver displaced; a "
    "watch stopped by a person)": [
        "tests/test_state_integrity.py::test_a_conflict_is_decided_again_on_fresh_state_not_refused",
        "tests/test_state_integrity.py::test_a_command_that_keeps_losing_gives_up_writing_nothing",
        "tests/test_state_integrity.py::test_racing_commands_of_one_service_all_land",
        "tests/test_event_store.py",
        "tests/test_use_cases.py::test_times_never_decrease_within_a_stream_whatever_the_clock_says",
        "tests/postgres/test_bounds.py::test_an_append_waiting_on_a_stuck_writers_row_gives_up_after_the_timeout",
        "tests/postgres/test_bounds.py::test_a_migration_waiting_on_another_migrators_lock_gives_up_after_the_timeout",
        "tests/postgres/test_leases.py::test_two_runners_watching_one_rollout_drive_it_once",
        "tests/postgres/test_leases.py::test_two_runners_of_one_host_name_and_pid_drive_one_rollout_once",
        "tests/postgres/test_leases.py::test_a_fenced_append_after_a_take_over_is_refused_in_every_store",
        "tests/postgres/test_leases.py::test_a_postgresql_take_over_and_a_fenced_append_are_serialized",
        "tests/postgres/test_leases.py::test_a_driver_displaced_while_it_waited_writes_nothing_more_and_follows_the_new_one",
        "tests/test_watch_stopped.py",
    ],
    "corruption (state files that are not, or no longer, a findly state; a full disk, a read-only file or mount; a "
    "damaged page, an unlinked tail)": [
        "tests/test_state_integrity.py",
    ],
    "time (a state keeps real or virtual time, never both; no future, never backwards)": [
        "tests/test_timekeeping.py",
        "tests/test_contract.py::test_a_state_keeps_the_time_its_first_writer_chose_and_refuses_to_mix_in_the_other",
        "tests/test_contract.py::test_a_rehearsal_state_resumes_its_own_clock_without_now",
    ],
    "hostile input (reports, versions, names, outputs, files)": [
        "tests/test_state_import.py",
        "tests/test_evidence.py",
        "tests/test_contract.py",
        "tests/test_images.py",
        "tests/test_platform_file.py::test_any_number_written_in_any_place_gives_located_problems_never_an_exception",
        "tests/test_platform_file.py::test_any_mutation_gives_located_problems_never_an_exception",
        "tests/test_identifiers.py",
        "tests/test_bad_input.py",
        "tests/postgres/test_leases.py::test_a_lease_shorter_than_one_step_is_refused",
    ],
}


def main() -> int:
    failed_any = False
    rows = []
    seen: set[str] = set()
    totals: Counter[str] = Counter()
    details: list[tuple[str, Counter[str]]] = []
    with tempfile.TemporaryDirectory() as folder:
        for name, selection in MATRICES.items():
            report = Path(folder) / "report.xml"
            tallied = Path(folder) / f"tally-{len(rows)}.jsonl"
            subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *selection],
                cwd=ROOT,
                env={
                    **os.environ,
                    "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "thorough"),
                    "FINDLY_RELIABILITY_TALLY": str(tallied),  # tests/reliability.py: what each test did, counted
                },
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
            figures = _figures(tallied)
            figures["cases and examples"] = figures.pop("examples", 0) + counts["passed"] + counts["failed"]
            if figures["events checked"]:
                figures["events lost"] += 0  # said, zero or not, wherever logs were compared
                figures["events repeated"] += 0
            if name.startswith("hostile input"):
                figures["bad inputs tried"] = figures["cases and examples"]
            rows.append((name, sum(counts.values()), counts["failed"], counts["skipped"]))
            totals.update(figures)
            details.append((name, figures))
    width = max(len(name) for name, *_ in rows)
    print(f"{'matrix':{width}} {'tried':>6} {'failed':>7} {'skipped':>8}")
    for name, tried, failed, skipped in rows:
        print(f"{name:{width}} {tried:>6} {failed:>7} {skipped:>8}")
    print(f"{len(seen)} distinct cases (a case may sit in two matrices); properties ran their profile's examples each")
    print()
    print("what the matrices did (counted where it happens: tests/reliability.py)")
    for name, figures in details:
        print(f"  {name}")
        print("    " + ", ".join(f"{figure} {figures[figure]:,}" for figure in FIGURES if figure in figures))
    print("  all matrices: " + ", ".join(f"{figure} {totals[figure]:,}" for figure in FIGURES if figure in TOTALS))
    lost = totals["events lost"] + totals["events repeated"]
    if lost:
        print(f"{lost} events lost or repeated")
    return 1 if failed_any or lost else 0


FIGURES = (
    "kills",
    "freezes",
    "racing commands",
    "cases and examples",
    "bad inputs tried",
    "events checked",
    "events lost",
    "events repeated",
)
"""The figures printed, in order: processes killed (SIGKILL, or a harness dying at a write point), processes frozen
(SIGSTOP: a PostgreSQL server, a driver), commands racing on one state, the cases and property examples run (those of
the hostile-input matrix are the bad inputs tried), and the events of logs compared after a fault with what they must
hold — how many of them were lost or repeated."""
TOTALS = frozenset(FIGURES) - {"cases and examples"}


def _figures(path: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            counts[entry["figure"]] += int(entry["count"])
    return counts


if __name__ == "__main__":
    sys.exit(main())
