"""A throwaway state in CI is refused, early and clearly: under ``GITHUB_ACTIONS=true`` a command that writes to the
implicit default state (a SQLite file on the runner, gone with the job — the next job would not see what it recorded)
is refused with exit 2 naming ``FINDLY_STATE``, before anything is created; a state named on purpose goes, whatever
it is; reads, ``demo`` and ``simulate`` (their own state, or none) are not concerned."""

from __future__ import annotations

from pathlib import Path

import pytest

from findly_infra.application.ports import BadInputError
from findly_infra.bootstrap import Settings, refuse_throwaway_state
from tests.conftest import EXAMPLE, PAST
from tests.test_release_cli import cli

CI = {"GITHUB_ACTIONS": "true", "FINDLY_CONFIG": str(EXAMPLE), "FINDLY_ACTOR": "erin", "FINDLY_NOW": PAST}

WRITES = [
    ("deploy", "fn-posts", "1.0.0", "--env", "development"),
    ("promote", "fn-posts", "1.0.0", "--to", "staging"),
    ("record", "fn-posts", "1.0.0", "--env", "development", "--suite", "unit", "--passed"),
    ("approve", "fn-posts", "1.0.0", "--env", "production"),
    ("rollout", "fn-posts", "--env", "development", "--due"),
    ("rollout", "fn-posts", "--env", "development", "--watch"),
    ("pause", "fn-posts", "--env", "development", "--reason", "why"),
    ("github", "fn-posts", "1.0.0"),
    ("state", "migrate"),
]


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh runner's workspace: no state named anywhere."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FINDLY_STATE", raising=False)
    return tmp_path


@pytest.mark.parametrize("command", WRITES, ids=lambda command: " ".join(command[:1] + command[-1:]))
def test_a_writing_command_on_the_default_state_in_a_job_is_refused_before_anything_is_created(
    runner: Path, command: tuple[str, ...]
) -> None:
    env = {**CI, "GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/feature/x"}
    code, document = cli(env, *command)
    assert (code, document["ok"]) == (2, False)
    message = document["error"]["message"]  # type: ignore[index]
    assert "FINDLY_STATE" in message
    assert "postgresql://" in message
    assert "--state" in message
    assert not (runner / ".findly").exists()  # nothing created on the runner


@pytest.mark.parametrize("state", ["runner.sqlite3", "memory://"])
def test_a_state_named_on_purpose_goes_in_a_job(runner: Path, state: str) -> None:
    assert cli({**CI, "FINDLY_STATE": state}, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    code, _ = cli(CI, "--state", state, "deploy", "fn-posts", "2.0.0", "--env", "development")
    assert code in (0, 3)  # taken, or refused by a rule (one rollout at a time) — not by the guard
    assert not (runner / ".findly").exists()


def test_reads_demo_and_simulate_are_not_concerned(runner: Path) -> None:
    code, document = cli(CI, "status", "fn-posts")
    assert code == 0, document
    assert not (runner / ".findly").exists()  # a read creates no state
    assert cli(CI, "simulate", "fn-posts", "--env", "development")[0] == 0
    code, document = cli({"GITHUB_ACTIONS": "true"}, "demo")
    assert code == 0, document  # the demo keeps its own state, on purpose


def test_outside_actions_the_default_state_is_still_the_default(runner: Path) -> None:
    env = {**CI, "GITHUB_ACTIONS": ""}
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    assert (runner / ".findly" / "state.sqlite3").exists()


def test_the_settings_know_whether_the_state_was_named() -> None:
    assert not Settings.from_environment({}).state_given
    assert Settings.from_environment({"FINDLY_STATE": "x.sqlite3"}).state_given
    assert Settings.from_environment({}, state="memory://").state_given
    in_actions = Settings.from_environment({"GITHUB_ACTIONS": "true"})
    assert in_actions.github_actions
    with pytest.raises(BadInputError, match="FINDLY_STATE"):
        refuse_throwaway_state(in_actions)
    refuse_throwaway_state(Settings.from_environment({"GITHUB_ACTIONS": "true", "FINDLY_STATE": "memory://"}))
    refuse_throwaway_state(Settings.from_environment({"GITHUB_ACTIONS": "false"}))
