"""What a watch says at each step (issue 26): where the rollout is (stage n/N, the weights), each criterion's value
beside its threshold with its verdict, when the next analysis is due; and, when a step stops it, the criterion that
failed with its value, its threshold and the window — in the text (one line a step) and in ``--json``."""

from __future__ import annotations

import io
import itertools
import json
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from unittest import mock

from findly_infra.cli import main
from tests.test_cli import run


def text(env: dict[str, str], *args: str) -> tuple[int, list[str]]:
    """The command line in this process, as a CI log sees it (stdout not a terminal): its exit code and lines."""
    out = io.StringIO()
    with mock.patch.dict(os.environ, {"GITHUB_ACTIONS": "", **env}):
        code = main(list(args), out=out)
    return code, out.getvalue().splitlines()


def _canary(env: dict[str, str]) -> None:
    """1.0.0 serving development, 2.0.0 entering it by canary (5% → 25% → 50% → 100%)."""
    assert text(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    assert text(env, "rollout", "fn-posts", "--env", "development", "--watch")[0] == 0
    assert text(env, "deploy", "fn-posts", "2.0.0", "--env", "development", "--strategy", "canary")[0] == 0


CRITERIA = (
    "error_rate 0.100% (threshold < 0.5%) ok, latency_p95 300ms (threshold < 1500ms) ok, "
    "cpu_utilization 50.000% (threshold < 80%) ok, memory_utilization 60.000% (threshold < 85%) ok"
)


def test_a_canary_watch_says_the_stage_each_criterion_against_its_threshold_and_the_next_analysis(
    env: dict[str, str],
) -> None:
    _canary(env)
    code, lines = text(env, "rollout", "fn-posts", "--env", "development", "--watch")
    assert code == 0
    steps = lines[1:]
    assert (
        lines[0]
        == (  # before its first analysis, the watch says when that is due
            "watching             progressing (serving 1.0.0 95%, canary 2.0.0 5%) — stage 1/4; next analysis at "
            + steps[0][11:19]
        )
    )
    assert steps[0].endswith(
        f"progressing (serving 1.0.0 95%, canary 2.0.0 5%) — stage 1/4: {CRITERIA}; next analysis at "
        + steps[1][11:19]  # the next line is that analysis
    )
    stages = [int(match.group(1)) for line in steps if (match := re.search(r"stage (\d)/4", line))]
    assert stages == sorted(stages)  # in order
    assert set(stages) == {1, 2, 3, 4}  # every stage, out of 4
    assert any("canary 2.0.0 25%) — stage 2/4: " in line for line in steps)
    for line, following in itertools.pairwise(steps):  # each next analysis is when the next line is
        at = datetime.fromisoformat(line[:19])
        assert line.endswith(f"; next analysis at {(at + timedelta(minutes=1)).time().isoformat()}")
        assert following.startswith((at + timedelta(minutes=1)).isoformat())
    assert steps[-1].endswith(f"succeeded (serving 2.0.0 100%) — stage 4/4: {CRITERIA}")  # nothing is next


def test_a_rollback_names_the_criterion_its_value_its_threshold_and_the_window(env: dict[str, str]) -> None:
    _canary(env)
    code, lines = text(
        {**env, "FINDLY_SCENARIO": "error-spike"}, "rollout", "fn-posts", "--env", "development", "--watch"
    )
    assert code == 4
    failing = [line for line in lines if "error_rate 5.000% (threshold < 0.5%) FAILED" in line]
    assert failing[0].endswith("; next analysis at " + failing[1][11:19])  # the first failure: one more analysis
    assert lines[-1].endswith(
        "rolled_back (serving 1.0.0 100%) — 2 failed analyses in this stage (threshold 2) — at stage 2/4: "
        # only the failing criterion, its value beside its threshold, and the window
        "error_rate 5.000% (threshold < 0.5%) FAILED over the last 1 minute"
    )


def test_a_paused_watch_names_the_criteria_without_data(env: dict[str, str]) -> None:
    _canary(env)
    code, lines = text(
        {**env, "FINDLY_SCENARIO": "metrics-outage"}, "rollout", "fn-posts", "--env", "development", "--watch"
    )
    assert code == 6
    stopped = next(line for line in lines if "paused" in line)
    assert "3 inconclusive analyses in a row" in stopped
    assert "error_rate - (threshold < 0.5%) no verdict" in stopped
    assert stopped.endswith("over the last 1 minute")


def test_the_json_of_a_watch_carries_the_same_facts_each_step(env: dict[str, str], tmp_path: Path) -> None:
    _canary(env)
    result = run(
        "--json",
        "rollout",
        "fn-posts",
        "--env",
        "development",
        "--watch",
        env={**env, "FINDLY_SCENARIO": "error-spike"},
    )
    assert result.returncode == 4, result.stderr
    steps = [json.loads(line) for line in result.stderr.splitlines()][1:]
    assert {step["event"] for step in steps} == {"rollout.step"}
    first = steps[1]
    assert first["stage"] == {"n": 1, "of": 4, "weight": 5}
    assert first["weights"] == {"1.0.0": 95, "2.0.0": 5}
    assert first["criteria"][0] == {"metric": "error_rate", "value": 0.001, "threshold": "< 0.5%", "verdict": "pass"}
    assert first["next_step_at"] == steps[2]["at"]
    last = steps[-1]
    assert (last["phase"], last["next_step_at"], last["weights"]) == ("rolled_back", None, {"1.0.0": 100})
    failing = {"metric": "error_rate", "value": 0.05, "threshold": "< 0.5%", "verdict": "fail"}
    assert last["stopped"] == {
        "event": "rolled_back",
        "at": last["at"],
        "by": "the analysis (watch run by erin)",  # not the person who ran the watch
        "reason": "2 failed analyses in this stage (threshold 2)",
        "failing": [failing],
        "window": "1 minute",
    }
    document = json.loads(result.stdout)
    assert document["progress"]["stopped"] == last["stopped"]  # the watch's document: its last step
    assert document["progress"]["stage"] == {"n": 2, "of": 4, "weight": 25}


def test_the_step_summary_gives_each_analysis_its_criteria(env: dict[str, str], tmp_path: Path) -> None:
    _canary(env)
    summary = tmp_path / "summary.md"
    github = {**env, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "FINDLY_SCENARIO": "error-spike"}
    assert text(github, "rollout", "fn-posts", "--env", "development", "--watch")[0] == 4
    rows = summary.read_text().splitlines()
    assert any(
        row.endswith(
            "| analysis_recorded | 2.0.0 | fail: error_rate 5.000% (threshold < 0.5%) FAILED, "
            + CRITERIA.split(", ", 1)[1]
            + " |"
        )
        for row in rows
    )
