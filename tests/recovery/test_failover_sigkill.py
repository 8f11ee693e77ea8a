"""A real ``findly-infra dr failover --confirm`` process killed (SIGKILL) while it waits for the DR cluster's
Deployments to be Ready, then the same command run again: it resumes the same operation (the killed runner's lease
taken over: a process of this machine that no longer runs), finishes it, each step recorded done once, the DR cluster
created once and DNS switched once — on the two regions' stand-ins (``tests/recovery/two_regions.py``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("kubernetes", reason="the kubernetes extra")
pytest.importorskip("google.cloud.container_v1", reason="the gke extra")
pytest.importorskip("google.cloud.dns", reason="the dns extra")

from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.domain.events import Event
from findly_infra.domain.recovery import DR_STREAM, RecoveryStarted, RecoveryStepDone
from tests.recovery.two_regions import DR_ADDRESS, PRIMARY_ADDRESS, regions
from tests.reliability import tally


def _recorded(state: Path) -> list[Event]:
    store = SqliteEventStore(state, create=False)
    try:
        events, _ = store.load(DR_STREAM)
    finally:
        store.close()
    return events


def _done(events: list[Event]) -> list[str]:
    return [event.step.value for event in events if isinstance(event, RecoveryStepDone)]


def test_a_failover_killed_while_waiting_for_readiness_resumes_and_finishes(tmp_path: Path) -> None:
    with regions(tmp_path, dr_ready=False) as two:  # the DR cluster's controller not running yet: nothing Ready
        state = two.folder / "state.sqlite3"
        env = {**os.environ, **two.env}
        env.pop("FINDLY_PROMETHEUS_URL")
        runner = subprocess.Popen(
            [sys.executable, "-m", "findly_infra", "dr", "failover", "--confirm", "--no-health-check"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 120  # a bound for a loaded machine, never a measure
            while "deploy" not in _done(_recorded(state)) if state.exists() else True:
                assert runner.poll() is None, "the failover ended before it was killed"
                assert time.monotonic() < deadline, "the failover never reached the ready step"
                time.sleep(0.05)
            runner.send_signal(signal.SIGKILL)  # while it waits for readiness
        finally:
            runner.kill()
            runner.wait(10)
        tally("kills")
        before = _recorded(state)
        assert _done(before) == ["cluster", "deploy"]
        assert two.record() == PRIMARY_ADDRESS

        with two.dr.controller():  # the Deployments come up; the same command again
            code, shown = two.cli("--json", "dr", "failover", "--confirm", "--no-health-check")

        assert code == 0, shown
        assert shown["state"] == "completed"
        events = _recorded(state)
        assert events[: len(before)] == before  # nothing lost, nothing rewritten
        assert len([e for e in events if isinstance(e, RecoveryStarted)]) == 1  # the same operation, resumed
        assert shown["operation"] == before[0].operation  # type: ignore[attr-defined]
        assert _done(events) == ["cluster", "deploy", "ready", "health", "dns"]  # each step once
        assert [method for method, _ in two.gke.calls].count("CreateCluster") == 1
        assert len(two.dns.created()) == 1
        assert two.record() == DR_ADDRESS
        assert two.images(two.dr) == two.versions
