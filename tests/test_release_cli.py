"""The release commands across separate invocations, on the embedded SQLite state."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from unittest import mock

import pytest

from findly_infra.cli import main
from tests.conftest import EXAMPLE
from tests.test_cli import run


def cli(env: dict[str, str], *args: str, cwd: Path | None = None) -> tuple[int, dict[str, object]]:
    """The command line in this process (the contract is the same; a child process costs ~0.3 s a command):
    its exit code and its one JSON document. ``run`` keeps child processes for what only they show (stderr)."""
    assert cwd is None
    out = io.StringIO()
    with mock.patch.dict(os.environ, {"GITHUB_ACTIONS": "", **env}):
        code = main(["--json", *args], out=out)
    document = json.loads(out.getvalue())
    assert code != 1, document  # never a bug
    return code, document


def test_the_demo_tells_the_whole_story_on_a_fresh_machine(tmp_path: Path) -> None:
    result = run("demo", cwd=tmp_path, env={"FINDLY_CONFIG": ""})
    assert result.returncode == 0, result.stderr
    assert "promotion refused by rule 'approvals'" in result.stdout
    assert "weights 5 -> 25 -> 50 -> 100%: succeeded" in result.stdout
    assert (  # the rollback names the criterion, its value, its threshold and the window (issue 26)
        "canary 1.5.0 under an error spike: rolled back at stage 2/4 (25%): error_rate 5.000% (threshold < 0.5%) "
        "FAILED over the last 1 minute; 2 failed analyses in this stage (threshold 2) (serving 1.4.0 100%)"
    ) in result.stdout
    assert (tmp_path / ".findly" / "demo.sqlite3").exists()


def test_a_release_through_separate_invocations(env: dict[str, str]) -> None:
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--watch")
    assert (code, document["phase"]) == (0, "succeeded")
    code, document = cli(env, "promote", "fn-posts", "1.0.0", "--to", "staging")
    assert code == 3
    assert document["error"] == {  # type: ignore[index]
        "kind": "refused",
        "rule": "required-tests",
        "message": "refused by required-tests: 1.0.0 has not passed unit, integration, smoke in development",
    }
    for suite in ("unit", "integration", "smoke"):
        assert cli(env, "record", "fn-posts", "1.0.0", "--env", "development", "--suite", suite, "--passed")[0] == 0
    assert cli(env, "promote", "fn-posts", "1.0.0", "--to", "staging")[0] == 0
    code, document = cli(env, "promote", "fn-posts", "1.0.0", "--to", "staging")  # a retry of the same step
    assert (code, document["already"]) == (0, "erin already started 1.0.0 in staging (progressing)")
    assert document["events"] == []
    code, document = cli({**env, "FINDLY_ACTOR": "dave"}, "promote", "fn-posts", "1.0.0", "--to", "staging")
    assert document["error"]["rule"] == "one-rollout-at-a-time"  # type: ignore[index]
    status = cli(env, "status", "fn-posts")[1]["services"]["fn-posts"]  # type: ignore[index]
    development = status["development"]
    assert development["phase"] == "succeeded"
    assert (development["serving"], development["candidate"]) == ({"version": "1.0.0", "weight": 100}, None)
    assert status["staging"]["phase"] == "progressing"
    assert status["staging"]["candidate"] == {"version": "1.0.0", "weight": 100}  # the first release: all traffic
    assert cli(env, "pause", "fn-posts", "--env", "staging", "--reason", "look first")[1]["phase"] == "paused"
    assert cli(env, "resume", "fn-posts", "--env", "staging")[1]["phase"] == "progressing"
    assert (
        cli(env, "rollback", "fn-posts", "--env", "staging", "--reason", "changed our mind")[1]["phase"]
        == "rolled_back"
    )
    events = cli(env, "history", "fn-posts")[1]["events"]
    assert [e["type"] for e in events][-3:] == ["rollout_paused", "rollout_resumed", "rolled_back"]  # type: ignore[index]
    assert {"type", "at", "actor", "reason"} <= set(events[-1])  # type: ignore[index]
    assert events[-1]["reason"] == "changed our mind"  # type: ignore[index]


def test_a_failing_canary_exits_4_and_reports_to_github(env: dict[str, str], tmp_path: Path) -> None:
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    github = {**env, "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
    assert cli(github, "deploy", "fn-posts", "2.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    code, document = cli(
        {**github, "FINDLY_SCENARIO": "error-spike"}, "rollout", "fn-posts", "--env", "development", "--watch"
    )
    assert (code, document["phase"]) == (4, "rolled_back")
    assert "outcome=rolled_back" in output.read_text()
    assert "phase=rolled_back" in output.read_text()
    assert "xychart-beta" in summary.read_text()
    refused = run("promote", "fn-posts", "2.0.0", "--to", "staging", env=github)
    assert refused.returncode == 3
    assert "::error::refused by promotion-order" in refused.stderr


def test_a_watch_with_json_logs_each_step_on_stderr_as_it_happens(env: dict[str, str]) -> None:
    assert cli(env, "deploy", "fn-posts", "2.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    result = run("--json", "rollout", "fn-posts", "--env", "development", "--watch", env=env)
    assert json.loads(result.stdout)["phase"] == "succeeded"
    logs = [json.loads(line) for line in result.stderr.splitlines()]  # every line of stderr is a JSON log event
    simulated, *steps = logs
    assert simulated["event"] == "release.simulated"  # said before the watch starts
    assert simulated["simulated"] == ["cluster", "metrics", "time"]  # a rehearsal state (FINDLY_NOW): virtual time
    assert {step["event"] for step in steps} == {"rollout.step"}
    assert next(step["weight"] for step in steps if step["phase"] == "progressing") == 5
    assert steps[-1]["phase"] == "succeeded"
    assert all(step["verdict"] in ("pass", None) for step in steps)


def test_approvals_are_checked_for_membership_and_self_approval(env: dict[str, str]) -> None:
    code, document = cli({**env, "FINDLY_ACTOR": "mallory"}, "approve", "fn-posts", "1.0.0", "--env", "production")
    assert (code, document["error"]["rule"]) == (3, "approver-membership")  # type: ignore[index]
    code, document = cli(env, "approve", "fn-posts", "1.0.0", "--env", "nowhere")
    assert code == 2


def test_a_bad_time_is_bad_input_and_quoted_whole(env: dict[str, str]) -> None:
    code, document = cli(env, "--now", "yesterday", "status", "fn-posts")
    assert code == 2
    assert document["error"]["message"].endswith("got 'yesterday'")  # type: ignore[index]
    code, document = cli({**env, "FINDLY_NOW": "2026-13-01"}, "status", "fn-posts")
    assert code == 2


def test_replayed_time_never_runs_backwards(env: dict[str, str]) -> None:
    assert cli(env, "--now", "2026-11-01T12:00:00Z", "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    assert cli(env, "--now", "2026-10-01T12:00:00Z", "rollout", "fn-posts", "--env", "development")[0] == 0
    events = cli(env, "history", "fn-posts")[1]["events"]
    times = [e["at"] for e in events]  # type: ignore[index]
    assert times == sorted(times)
    assert times[0] == "2026-11-01T12:00:00"


@pytest.mark.parametrize(
    ("scenario", "outcomes"),
    [
        ("healthy", {"succeeded"}),
        ("error-spike", {"rolled_back"}),
        ("latency-regression", {"rolled_back"}),
        ("slow-burn", {"rolled_back"}),
        ("flapping", {"rolled_back"}),
        ("no-traffic", {"paused"}),
        ("metrics-outage", {"paused"}),
    ],
)
def test_simulated_canaries_follow_their_scenario(scenario: str, outcomes: set[str], tmp_path: Path) -> None:
    code, document = cli(
        {},
        "--config",
        str(EXAMPLE),
        "simulate",
        "fn-posts",
        "--env",
        "production",
        "--scenario",
        scenario,
        "--strategy",
        "canary",
        "--seed",
        "7",
    )
    assert code == 0
    assert document["outcome"] in outcomes
    assert document["virtual_seconds"] > 0
    assert {"type", "at"} <= set(document["events"][0])  # type: ignore[index]


def test_a_scenario_file_and_bad_scenarios(tmp_path: Path) -> None:
    points = tmp_path / "scenario.yaml"
    healthy = "requests: 1000, latency_p95: 0.3, cpu_utilization: 0.5, memory_utilization: 0.6"
    points.write_text(f"- {{minute: 0, error_rate: 0.001, {healthy}}}\n- {{minute: 3, error_rate: 0.2}}\n")
    code, document = cli(
        {},
        "--config",
        str(EXAMPLE),
        "simulate",
        "fn-posts",
        "--env",
        "production",
        "--scenario-file",
        str(points),
        "--strategy",
        "canary",
    )
    assert (code, document["outcome"]) == (0, "rolled_back")
    points.write_text("- {minute: 0, error_rate: lots}\n")
    assert (
        cli(
            {}, "--config", str(EXAMPLE), "simulate", "fn-posts", "--env", "production", "--scenario-file", str(points)
        )[0]
        == 2
    )
    assert (
        cli({}, "--config", str(EXAMPLE), "simulate", "fn-posts", "--env", "production", "--scenario", "nope")[0] == 2
    )
    simulate = ("--config", str(EXAMPLE), "simulate", "fn-posts", "--env", "production", "--scenario-file", str(points))
    points.write_text("- {minute: 0, eror_rate: 0.001}\n")  # a typo is named, not ignored
    code, document = cli({}, *simulate)
    assert code == 2
    assert document["error"]["message"].endswith(  # type: ignore[index]
        "scenario.yaml: [0].eror_rate: not a metric; the metrics are requests, error_rate, latency_p95, latency_p99, "
        "cpu_utilization, memory_utilization, health_check_failures"
    )
    points.write_text("[]\n")  # nothing said: nothing measured, so it never succeeds
    code, document = cli({}, *simulate)
    assert (code, document["outcome"]) != (0, "succeeded")


def test_record_reads_junit_and_trivy_reports(env: dict[str, str], tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text('<testsuite><testcase name="a"/><testcase name="b"><failure/></testcase></testsuite>')
    code, document = cli(
        env, "record", "fn-posts", "1.0.0", "--env", "development", "--suite", "unit", "--junit", str(junit)
    )
    assert (code, document["passed"], document["detail"]) == (0, False, "1/2 passed, 1 failed")
    trivy = tmp_path / "trivy.json"
    findings = {"Vulnerabilities": [{"Severity": "MEDIUM"}, {"Severity": "LOW"}]}
    trivy.write_text(json.dumps({"SchemaVersion": 2, "ArtifactName": "fn-posts:1.0.0", "Results": [findings]}))
    code, document = cli(
        env, "record", "fn-posts", "1.0.0", "--env", "staging", "--suite", "security", "--trivy", str(trivy)
    )
    assert document["passed"] is True
    code, document = cli(
        env,
        "record",
        "fn-posts",
        "1.0.0",
        "--env",
        "staging",
        "--suite",
        "security",
        "--trivy",
        str(trivy),
        "--fail-on",
        "MEDIUM",
    )
    assert document["passed"] is False
    junit.write_text("<not-junit/>")
    assert (
        cli(env, "record", "fn-posts", "1.0.0", "--env", "development", "--suite", "unit", "--junit", str(junit))[0]
        == 2
    )
    junit.write_text('<!DOCTYPE x [<!ENTITY a "b">]><testsuite/>')
    assert (
        cli(env, "record", "fn-posts", "1.0.0", "--env", "development", "--suite", "unit", "--junit", str(junit))[0]
        == 2
    )


def test_state_changing_commands_need_an_actor(env: dict[str, str]) -> None:
    without = {k: v for k, v in env.items() if k != "FINDLY_ACTOR"}
    code, document = cli({**without, "GITHUB_ACTOR": ""}, "deploy", "fn-posts", "1.0.0", "--env", "development")
    assert code == 2
    assert "who is acting" in document["error"]["message"]  # type: ignore[index]


def test_github_deploys_where_the_trigger_matches(env: dict[str, str], tmp_path: Path) -> None:
    output = tmp_path / "output"
    actions = {**env, "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output), "GITHUB_EVENT_NAME": "push"}
    code, document = cli({**actions, "GITHUB_REF": "refs/heads/feature/login"}, "github", "fn-posts", "1.0.0")
    assert (code, document["environment"]) == (0, "development")
    assert "environment=development" in output.read_text()
    code, document = cli({**actions, "GITHUB_REF": "refs/heads/main"}, "github", "fn-posts", "1.0.0")
    assert code == 6  # staging, but 1.0.0 has not succeeded in development yet: waiting for it, not refused
    assert (document["outcome"], document["target"], document["environment"]) == ("waiting", "staging", None)
    assert document["left"]["rollout"] == "progressing"  # type: ignore[index]
    code, document = cli(
        {**actions, "GITHUB_EVENT_NAME": "workflow_dispatch", "GITHUB_REF": "refs/heads/main"},
        "github",
        "fn-posts",
        "1.0.0",
    )
    assert (code, document["environment"]) == (0, None)  # production only by promotion
    assert cli(env, "github", "fn-posts", "1.0.0")[0] == 2


def test_without_human_approvals_a_blue_green_release_waits(tmp_path: Path) -> None:
    code, document = cli(
        {}, "--config", str(EXAMPLE), "simulate", "fn-posts", "--env", "production", "--no-human-approvals"
    )
    assert (code, document["outcome"]) == (0, "paused")
    assert document["steps"][-1]["type"] == "awaiting_approval"  # type: ignore[index]


def test_a_rollback_and_status_tell_the_same_story(env: dict[str, str]) -> None:
    """One read model: the command that rolls back and ``status`` say the same of serving and candidate."""
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    assert cli(env, "rollout", "fn-posts", "--env", "development", "--watch")[0] == 0
    assert cli(env, "deploy", "fn-posts", "2.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    _, during = cli(env, "rollout", "fn-posts", "--env", "development")
    assert during["serving"] == {"version": "1.0.0", "weight": 95}
    assert during["candidate"] == {"version": "2.0.0", "weight": 5}
    _, rolled = cli(env, "rollback", "fn-posts", "--env", "development", "--reason", "bad build")
    status = cli(env, "status", "fn-posts", "--env", "development")[1]["services"]["fn-posts"]["development"]  # type: ignore[index]
    # it moved traffic and recorded in virtual time, judged none
    assert (rolled.pop("simulated"), rolled.pop("simulation")) == (True, ["cluster", "time"])
    assert rolled.pop("already") is None
    assert rolled.pop("cluster_read") is True  # it brought the (simulated) cluster to the log before deciding
    assert status.pop("cluster") == {"bound": False, "simulated": True}  # status: no cluster is bound there
    stop = status.pop("stop")  # how it stopped: status reads it from the latest events
    assert (stop["event"], stop["by"], stop["reason"]) == ("rolled_back", "erin", "bad build")
    del rolled["events"], rolled["ok"]
    assert rolled == status
    assert status["phase"] == "rolled_back"
    assert (status["serving"], status["candidate"]) == ({"version": "1.0.0", "weight": 100}, None)
    assert status["rollout"]["version"] == "2.0.0"
    assert status["stopped"] == "bad build"


@pytest.mark.parametrize("watch", [(), ("--watch",)])
def test_a_stdout_that_cannot_encode_our_text_gets_plain_ascii_never_a_traceback(
    env: dict[str, str], watch: tuple[str, ...]
) -> None:
    """Issue 26 (new user, item 10): PYTHONIOENCODING=ascii (a C locale, a Windows code page) ended a rollout with
    "internal error … UnicodeEncodeError '\\u2014'", exit 1. The dash is written as '-' and the command finishes."""
    ascii_env = {**env, "PYTHONIOENCODING": "ascii"}
    assert run("deploy", "fn-posts", "1.0.0", "--env", "development", env=ascii_env).returncode == 0
    result = run("rollout", "fn-posts", "--env", "development", *watch, env=ascii_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "UnicodeEncodeError" not in result.stdout + result.stderr
    assert " - " in result.stdout  # the em dash, in ASCII
    result.stdout.encode("ascii")


def text(env: dict[str, str], *args: str) -> tuple[int, str]:
    """The command line in this process, without ``--json``: its exit code and what it printed."""
    out = io.StringIO()
    with mock.patch.dict(os.environ, {"GITHUB_ACTIONS": "", **env}):
        code = main(list(args), out=out)
    return code, out.getvalue()


def test_status_history_and_a_later_watch_show_the_criteria_that_stopped_it_and_who_decided(
    env: dict[str, str],
) -> None:
    """Issue 26 (new user, item 2): after a stop, only the watch that stopped it showed the criteria: ``status`` said
    the reason alone, ``history`` left analyses blank, a watch started on the paused rollout had ``criteria: []``,
    ``stopped: null`` — and said it was "paused by erin", the person who ran the watch, not the analysis."""
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    assert cli(env, "rollout", "fn-posts", "--env", "development", "--watch")[0] == 0
    assert cli(env, "deploy", "fn-posts", "2.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    stalled = {**env, "FINDLY_SCENARIO": "no-traffic"}
    assert cli(stalled, "rollout", "fn-posts", "--env", "development", "--watch")[0] == 6
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--watch")  # on the paused rollout
    assert (code, document["events"]) == (6, [])  # it recorded nothing ...
    progress = document["progress"]  # ... and says how it stopped, as the watch that stopped it did
    assert [c["metric"] for c in progress["criteria"]][:1] == ["error_rate"]  # type: ignore[index]
    assert progress["stopped"]["event"] == "rollout_paused"  # type: ignore[index]
    assert progress["stopped"]["by"] == "the analysis (watch run by erin)"  # type: ignore[index]
    assert progress["stopped"]["failing"]  # type: ignore[index]
    assert progress["stopped"]["window"] == "1 minute"  # type: ignore[index]
    assert "paused by the analysis (watch run by erin) at " in str(document["stopped_by"])
    code, said = text(env, "rollout", "fn-posts", "--env", "development", "--watch")
    assert "paused by erin" not in said
    assert "error_rate 0.100%" in said
    code, said = text(env, "status", "fn-posts", "--env", "development")
    assert code == 0
    assert "paused at 09:08:00 by the analysis (watch run by erin) at stage 1/4 (5%): error_rate 0.100%" in said
    assert "over the last 1 minute" in said
    status = cli(env, "status", "fn-posts", "--env", "development")[1]["services"]["fn-posts"]["development"]  # type: ignore[index]
    assert status["stop"]["failing"][0]["metric"] == "error_rate"
    code, said = text(env, "history", "fn-posts")
    rows = said.splitlines()
    analysis = [row for row in rows if " analysis_recorded " in row]
    assert analysis[-1].endswith(analysis[-1].split(" erin ", 1)[1].strip())
    assert " inconclusive: error_rate 0.100%" in analysis[-1]
    paused = next(row for row in rows if " rollout_paused " in row)
    assert paused.endswith("; decided by the analysis in the watch erin ran")


def test_a_blue_green_trigger_reads_as_the_condition_that_rolls_back() -> None:
    """Issue 26 (new user, item 6): ``error_rate 0.100% > 1% ok`` read as a false statement (0.1 is not above 1) —
    the bound of a rollback trigger is the condition that rolls back, not a bound that holds."""
    from findly_infra.application.steps import criterion_text
    from findly_infra.domain.events import MetricReading, Verdict

    reading = MetricReading(metric="error_rate", value=0.001, threshold="> 1%", verdict=Verdict.PASS)
    assert criterion_text(reading, trigger=True) == "error_rate 0.100% (rolls back if > 1%) ok"
    failed = MetricReading(metric="error_rate", value=0.05, threshold="< 0.5%", verdict=Verdict.FAIL)
    assert criterion_text(failed) == "error_rate 5.000% (threshold < 0.5%) FAILED"


def test_a_blue_green_watch_says_each_trigger_as_what_rolls_it_back(env: dict[str, str]) -> None:
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "blue-green")[0] == 0
    code, said = text(env, "rollout", "fn-posts", "--env", "development", "--watch")
    assert code == 6
    assert "error_rate 0.100% (rolls back if > 1%) ok, latency_p99 500ms (rolls back if > 2s) ok" in said
    assert "> 1% ok" not in said


def test_a_watch_retried_after_the_rollout_ended_says_what_ended_before_already_done(env: dict[str, str]) -> None:
    """Issue 26 (new user, item 16): ``rollout --watch --version`` on an ended rollout printed `` (already done: …)``
    with nothing before the parenthesis."""
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    watch = ("rollout", "fn-posts", "--env", "development", "--watch", "--version", "1.0.0")
    assert cli(env, *watch)[0] == 0
    code, said = text(env, *watch)
    assert code == 0
    assert said.splitlines()[-1] == (
        "fn-posts 1.0.0 in development: succeeded (serving 1.0.0 100%) (already done: the rollout of 1.0.0 in "
        "development already ended: succeeded; nothing new recorded)"
    )


def test_a_watch_says_why_an_analysis_found_no_verdict(env: dict[str, str]) -> None:
    """Issue 26 (new user, item 3): "no verdict … not enough data to decide" never said why; the watch's own step
    knows what it measured: the requests against ``min_requests``, or no series at all."""
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    assert cli(env, "rollout", "fn-posts", "--env", "development", "--watch")[0] == 0
    assert cli(env, "deploy", "fn-posts", "2.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    code, said = text(
        {**env, "FINDLY_SCENARIO": "no-traffic"}, "rollout", "fn-posts", "--env", "development", "--watch"
    )
    assert code == 6
    assert "(threshold < 85%) no verdict (no verdict: requests 0 < min_requests 100); next analysis at" in said
    assert cli(env, "abort", "fn-posts", "--env", "development", "--reason", "retry")[0] == 0
    assert cli(env, "deploy", "fn-posts", "3.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    outage = {**env, "FINDLY_SCENARIO": "metrics-outage"}
    code, document = cli(outage, "rollout", "fn-posts", "--env", "development", "--watch")
    assert code == 6
    assert document["progress"]["no_verdict_because"] == "no request series"  # type: ignore[index]
