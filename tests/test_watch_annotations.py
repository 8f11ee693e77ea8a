"""A watch's steps as GitHub annotations (issue 26): a failed or inconclusive analysis, a stage entered, a wait, a pause
and a rollback each become one escaped workflow command naming the criterion, its value, its threshold and the
window; a passing interval none. The commands' format and escaping as GitHub's runner reads them:
https://docs.github.com/actions/using-workflows/workflow-commands-for-github-actions"""

from __future__ import annotations

import re
from pathlib import Path

from tests.test_cli import run
from tests.test_live_view import _canary

WATCH = ("rollout", "fn-posts", "--env", "development", "--watch")
COMMAND = re.compile(r"^::(?P<level>error|warning|notice)(?: (?P<properties>[^:]*))?::(?P<message>.*)$")


def _unescape(text: str) -> str:
    """What the runner shows: the toolkit's escapes undone (``%3A`` and ``%2C`` in properties, ``%0A``…, ``%25``)."""
    for escaped, raw in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, raw)
    return text


def annotations(stderr: str) -> list[tuple[str, str, str]]:
    """Each workflow command of *stderr*: its level, its title and its message, as GitHub shows them."""
    found = []
    for line in stderr.splitlines():
        match = COMMAND.match(line)
        if match is None:
            assert not line.startswith("::"), line  # nothing else looks like a command
            continue
        properties = dict(item.split("=", 1) for item in (match.group("properties") or "").split(",") if "=" in item)
        found.append((match.group("level"), _unescape(properties.get("title", "")), _unescape(match.group("message"))))
    return [item for item in found if not item[2].startswith("simulated: ")]


def _actions(env: dict[str, str], tmp_path: Path, **more: str) -> dict[str, str]:
    return {**env, "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"), **more}


def test_a_rollback_is_one_error_naming_the_criterion_value_threshold_and_window(
    env: dict[str, str], tmp_path: Path
) -> None:
    _canary(env)
    result = run(*WATCH, env=_actions(env, tmp_path, FINDLY_SCENARIO="error-spike"))
    assert result.returncode == 4, result.stderr
    failing = "error_rate 5.000% (threshold < 0.5%) FAILED over the last 1 minute"  # the watch's words
    assert annotations(result.stderr) == [
        ("notice", "fn-posts 2.0.0 in development: stage 2/4", "traffic 1.0.0 75%, 2.0.0 25%"),
        ("warning", "fn-posts 2.0.0 in development: analysis failed at stage 2/4 (25%)", failing),
        (
            "error",
            "fn-posts 2.0.0 in development: rolled back at stage 2/4 (25%)",
            f"2 failed analyses in this stage (threshold 2): {failing}",
        ),
    ]
    assert "::warning title=fn-posts 2.0.0 in development%3A analysis failed at stage 2/4 (25%25)::" in result.stderr


def test_a_healthy_canary_is_one_notice_per_stage_not_one_per_interval(env: dict[str, str], tmp_path: Path) -> None:
    _canary(env)
    result = run(*WATCH, env=_actions(env, tmp_path))
    assert result.returncode == 0, result.stderr
    assert annotations(result.stderr) == [
        ("notice", "fn-posts 2.0.0 in development: stage 2/4", "traffic 1.0.0 75%, 2.0.0 25%"),
        ("notice", "fn-posts 2.0.0 in development: stage 3/4", "traffic 1.0.0 50%, 2.0.0 50%"),
        ("notice", "fn-posts 2.0.0 in development: stage 4/4", "traffic 2.0.0 100%"),
    ]


def test_a_pause_is_a_warning_per_inconclusive_analysis_then_one_naming_the_criteria_without_data(
    env: dict[str, str], tmp_path: Path
) -> None:
    _canary(env)
    result = run(*WATCH, env=_actions(env, tmp_path, FINDLY_SCENARIO="metrics-outage"))
    assert result.returncode == 6, result.stderr
    said = annotations(result.stderr)
    no_data = (
        "error_rate - (threshold < 0.5%) no verdict, latency_p95 - (threshold < 1500ms) no verdict, "
        "cpu_utilization - (threshold < 80%) no verdict, memory_utilization - (threshold < 85%) no verdict "
        "over the last 1 minute"
    )
    title = "fn-posts 2.0.0 in development: analysis without a verdict at stage 1/4 (5%)"
    paused = "fn-posts 2.0.0 in development: paused at stage 1/4 (5%)"
    assert said[:-1] == [
        ("warning", title, no_data),
        ("warning", title, no_data),
        ("warning", paused, f"3 inconclusive analyses in a row: not enough data to decide: {no_data}"),
    ]
    level, title, message = said[-1]  # the command's result: what would unblock it
    assert (level, title) == ("warning", "")
    assert message.startswith("stopped for a person: fn-posts in development waits for paused")


def test_a_wait_for_evidence_is_one_notice_however_long_it_counts_down(env: dict[str, str], tmp_path: Path) -> None:
    assert run("deploy", "fn-posts", "1.0.0", "--env", "development", env=env).returncode == 0
    assert run(*WATCH, env=env).returncode == 0
    deployed = run("deploy", "fn-posts", "3.0.0", "--env", "development", "--strategy", "blue-green", env=env)
    assert deployed.returncode == 0, deployed.stderr
    result = run(*WATCH, env=_actions(env, tmp_path))
    assert result.returncode == 6, result.stderr
    said = annotations(result.stderr)
    assert [(level, title) for level, title, _ in said] == [
        ("notice", "fn-posts 3.0.0 in development: waits for evidence"),  # once, though its deadline nears each step
        ("warning", "fn-posts 3.0.0 in development: paused"),
        ("warning", ""),  # the command's result: stopped for a person, what would unblock it
    ]
    assert said[0][2].startswith("fn-posts 3.0.0 in development waits for a passed smoke_tests for 3.0.0 within 1 hour")
