"""A watch stopped by a person: ``pause``, ``abort`` or ``rollback`` given from another process while
``rollout --watch`` runs ends the watch as the contract says — exit 6 for a pause (stopped for a person), 4 for an
abort or a rollback — naming who stopped it and why; never exit 3 ("refused by rollout-progressing")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, PAST
from tests.test_release_cli import cli


def _env(state: Path, actor: str) -> dict[str, str]:
    return {"FINDLY_CONFIG": str(EXAMPLE), "FINDLY_ACTOR": actor, "FINDLY_STATE": str(state), "FINDLY_NOW": PAST}


@pytest.mark.parametrize(
    ("gate", "code", "phase", "done"),
    [
        ("pause", 6, "paused", "paused"),
        ("abort", 4, "aborted", "aborted"),
        ("rollback", 4, "rolled_back", "rolled back"),
    ],
)
def test_a_watch_stopped_by_a_person_ends_as_the_contract_says_and_names_them(
    tmp_path: Path, gate: str, code: int, phase: str, done: str
) -> None:
    state = tmp_path / "state.sqlite3"
    assert (
        cli(_env(state, "erin"), "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    )
    watch = [sys.executable, "-m", "findly_infra", "--json", "rollout", "fn-posts", "--env", "development", "--watch"]
    slowed = {**os.environ, **_env(state, "findly"), "FINDLY_STEP_DELAY": "0.3", "GITHUB_ACTIONS": ""}
    with subprocess.Popen(watch, env=slowed, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as runner:
        assert runner.stderr is not None
        seen = []
        for line in runner.stderr:  # the watch has analysed once: it runs, and will analyse again
            seen.append(line)
            if '"rollout.step"' in line and '"verdict": "pass"' in line:
                break
        given, document = cli(_env(state, "bob"), gate, "fn-posts", "--env", "development", "--reason", "bad smell")
        assert given == 0, document
        out, err = runner.communicate(timeout=120)
    assert runner.returncode == code, "".join(seen) + err  # not 3: the person's command is not a refusal
    ended = json.loads(out)
    assert (ended["ok"], ended["phase"]) == (True, phase)
    assert ended["stopped_by"].startswith(f"{done} by bob at ")
    assert ended["stopped_by"].endswith(": bad smell")
    assert "Traceback" not in err


def test_a_watch_that_stopped_the_rollout_itself_names_no_one_else(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    env = {**_env(state, "erin"), "FINDLY_SCENARIO": "error-spike"}
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--watch")
    assert (code, document["phase"]) == (4, "rolled_back")
    assert "stopped_by" not in document  # its own analysis rolled it back
