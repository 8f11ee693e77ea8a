"""A `rollout --watch` killed at any point (SIGKILL) and started again resumes where it was:
no event lost or repeated, no traffic step applied twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from findly_infra.adapters.sqlite import SqliteEventStore, SqliteSimulatedCluster
from tests.conftest import EXAMPLE, PAST
from tests.reliability import compare_logs, tally
from tests.test_cli import run


@pytest.mark.parametrize("kill_after", [0.15, 0.45, 0.9])
def test_a_killed_rollout_resumes_without_losing_or_repeating_anything(tmp_path: Path, kill_after: float) -> None:
    state = tmp_path / "state.sqlite3"
    # virtual time from a past day: scripted metrics on a durable store run at real pace from now
    env = {"FINDLY_CONFIG": str(EXAMPLE), "FINDLY_ACTOR": "erin", "FINDLY_STATE": str(state), "FINDLY_NOW": PAST}
    assert run("deploy", "fn-posts", "0.9.0", "--env", "development", env=env).returncode == 0
    assert run("rollout", "fn-posts", "--env", "development", "--watch", env=env).returncode == 0
    assert run("deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "canary", env=env).returncode == 0
    watcher = subprocess.Popen(
        [sys.executable, "-m", "findly_infra", "rollout", "fn-posts", "--env", "development", "--watch"],
        env={**os.environ, **env, "FINDLY_STEP_DELAY": "0.02"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(kill_after)
    watcher.send_signal(signal.SIGKILL)
    watcher.wait(10)
    tally("kills")
    before, _ = SqliteEventStore(state).load("fn-posts")
    resumed = run("rollout", "fn-posts", "--env", "development", "--watch", env=env)
    assert resumed.returncode == 0, resumed.stderr
    events, _ = SqliteEventStore(state).load("fn-posts")
    compare_logs(before, events[: len(before)])
    assert events[: len(before)] == before  # nothing lost, nothing rewritten
    canary = [e for e in events if e.version == "1.0.0"]
    assert [e.type for e in canary].count("rollout_started") == 1
    assert [e.weight for e in canary if e.type == "traffic_shifted"] == [5, 25, 50, 100]  # type: ignore[attr-defined]
    analyses = [e.at for e in canary if e.type == "analysis_recorded"]
    assert analyses == sorted(set(analyses))  # no analysis repeated, time never ran backwards
    # development has auto_cleanup: the success, then the canary's Deployment deleted, recorded once
    assert [e.type for e in events[-2:]] == ["rollout_succeeded", "tracks_cleaned_up"]
    routes = [
        weights for _, weights in SqliteSimulatedCluster(SqliteEventStore(state)).history("fn-posts", "development")
    ]
    assert routes == [  # each step applied exactly once, in order, across the kill
        {"0.9.0": 100},
        {"0.9.0": 95, "1.0.0": 5},
        {"0.9.0": 75, "1.0.0": 25},
        {"0.9.0": 50, "1.0.0": 50},
        {"1.0.0": 100},
    ]
