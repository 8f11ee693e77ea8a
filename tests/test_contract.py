"""The contract a CI job acts on: exit codes, --json, GitHub outputs, what is simulated, and inputs that cannot lie
or inject (DESIGN.md, "The command line contract")."""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest

from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.cli import EXIT_BAD_INPUT, EXIT_BROKEN_PIPE, EXIT_REFUSED, EXIT_STOPPED, main
from findly_infra.domain.events import RolloutPaused
from tests.conftest import EXAMPLE
from tests.test_cli import run
from tests.test_release_cli import cli


def in_actions(env: dict[str, str], tmp_path: Path) -> tuple[dict[str, str], Path, Path]:
    """*env* as a GitHub Actions step sees it: its outputs file and its step summary, in *tmp_path*."""
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    github = {**env, "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
    return github, output, summary


def outputs(path: Path) -> dict[str, str]:
    """``$GITHUB_OUTPUT`` read as the runner reads it: ``key=value`` lines and ``key<<DELIMITER`` blocks."""
    values: dict[str, str] = {}
    lines = iter(path.read_text().split("\n"))
    for line in lines:
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            body = []
            for inner in lines:
                if inner == delimiter:
                    break
                body.append(inner)
            values[key] = "\n".join(body)
        else:
            key, value = line.split("=", 1)
            values[key] = value
    return values


# ---- 1, 2: a watch with nothing to watch, and one stopped for a person ------------------------------------------


def test_a_watch_with_nothing_to_watch_says_so_and_does_not_succeed(env: dict[str, str]) -> None:
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--watch")
    assert code == EXIT_REFUSED
    assert document["error"]["rule"] == "rollout-progressing"  # type: ignore[index]
    assert "nothing to watch" in document["error"]["message"]  # type: ignore[index]
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    assert cli(env, "rollout", "fn-posts", "--env", "development", "--watch")[0] == 0
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--watch")  # it ended: nothing left
    assert code == EXIT_REFUSED
    assert "the latest, 1.0.0, succeeded" in document["error"]["message"]  # type: ignore[index]


def test_a_watch_of_a_named_version_retried_after_it_ended_answers_how_it_ended(env: dict[str, str]) -> None:
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    watch = ("rollout", "fn-posts", "--env", "development", "--watch", "--version", "1.0.0")
    assert cli(env, *watch)[0] == 0
    code, document = cli(env, *watch)  # the CI step retried: it ended, and it says so
    assert (code, document["phase"], document["events"]) == (0, "succeeded", [])
    assert document["already"] == "the rollout of 1.0.0 in development already ended: succeeded"
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--watch", "--version", "0.9.0")
    assert (code, document["error"]["rule"]) == (EXIT_REFUSED, "rollout-progressing")  # type: ignore[index]
    assert cli(env, "deploy", "fn-posts", "2.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    code, document = cli(env, *watch)  # another version is under way: not the one asked about
    assert (code, document["error"]["rule"]) == (EXIT_REFUSED, "rollout-version")  # type: ignore[index]
    assert document["error"]["message"].endswith("the rollout under way in development is of 2.0.0, not 1.0.0")  # type: ignore[index]
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--version", "1.0.0")  # one step, too
    assert (code, document["error"]["rule"]) == (EXIT_REFUSED, "rollout-version")  # type: ignore[index]
    assert cli(env, "rollback", "fn-posts", "--env", "development", "--reason", "bad")[0] == 0
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--watch", "--version", "2.0.0")
    assert (code, document["phase"]) == (4, "rolled_back")  # how it ended: rolled back, exit 4


def test_a_watch_stopped_for_a_person_exits_6_and_says_what_would_unblock_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    github, output, summary = in_actions(env, tmp_path)
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "blue-green")[0] == 0
    watched = run("rollout", "fn-posts", "--env", "development", "--watch", env=github)
    # the validation evidence never came: the live lines said what it waits for and how long is left, then it paused
    assert watched.returncode == EXIT_STOPPED, watched.stderr
    waiting = [line for line in watched.stdout.splitlines() if "waiting for a passed smoke_tests" in line]
    assert "within 1 hour, by" in waiting[0]
    assert "within 0 seconds" in waiting[-1] or "within 1 minute" in waiting[-1]
    last = watched.stdout.splitlines()[-1]
    assert last.startswith("stopped for a person: fn-posts in development waits for paused (no passed smoke_tests")
    assert "findly-infra record fn-posts 1.0.0 --env development --suite smoke_tests --passed, then " in last
    assert "findly-infra abort|rollback fn-posts --env development" in last
    assert "::warning::stopped for a person" in watched.stderr
    said = outputs(output)
    assert (said["phase"], said["outcome"], said["waiting_for"]) == ("paused", "stopped_for_a_person", "person")
    assert "**stopped for a person: fn-posts in development waits for paused" in summary.read_text()
    assert "resume" in said["waiting_message"]
    # a watch that starts on the paused rollout reports the same at once, and records nothing
    before = SqliteEventStore(env["FINDLY_STATE"]).load("fn-posts")[0]
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--watch")
    assert (code, document["phase"], document["waiting_for"]["kind"]) == (EXIT_STOPPED, "paused", "person")  # type: ignore[index]
    assert SqliteEventStore(env["FINDLY_STATE"]).load("fn-posts")[0] == before
    assert isinstance(before[-1], RolloutPaused)
    code, document = cli(env, "rollout", "fn-posts", "--env", "development")  # one step: the same answer
    assert (code, document["waiting_for"]["kind"]) == (EXIT_STOPPED, "person")  # type: ignore[index]
    assert SqliteEventStore(env["FINDLY_STATE"]).load("fn-posts")[0] == before
    # the evidence arrives, a person resumes: the next stop is the manual step, an approval — still exit 6
    for suite in ("smoke_tests", "performance_tests"):
        assert cli(env, "record", "fn-posts", "1.0.0", "--env", "development", "--suite", suite, "--passed")[0] == 0
    assert cli(env, "resume", "fn-posts", "--env", "development")[0] == 0
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--watch")
    assert (code, document["phase"]) == (EXIT_STOPPED, "awaiting_approval")
    assert document["waiting_for"]["kind"] == "approval"  # type: ignore[index]
    # development names no approvers, and an approval there is refused: the wait says so rather than "approve"
    assert "which no one can give: development names no approvers" in document["waiting_for"]["message"]  # type: ignore[index]
    code, refused = cli({**env, "FINDLY_ACTOR": "alice"}, "approve", "fn-posts", "1.0.0", "--env", "development")
    assert (code, refused["error"]["rule"]) == (EXIT_REFUSED, "approval-not-required")  # type: ignore[index]


def test_following_an_evidence_pause_s_advice_unblocks_it(env: dict[str, str]) -> None:
    """Issue 26 (new user, item 1): a blue-green rollout paused for want of evidence said "resume, abort or roll
    back"; resume alone paused it again at the next step (the deadline runs from the rollout's start and is not
    renewed). It says to record each missing suite, then resume — and doing just that moves it on."""
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "blue-green")[0] == 0
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--watch")
    assert (code, document["phase"]) == (EXIT_STOPPED, "paused")
    waiting = document["waiting_for"]
    assert waiting["needs"] == ["smoke_tests", "performance_tests"]  # type: ignore[index]
    message = waiting["message"]  # type: ignore[index]
    assert "resume alone pauses it again" in message
    advice = message[message.index("(findly-infra record") + 1 : message.index(") — ")]
    commands = [step.split() for step in advice.split(", then ")]
    assert [c[1] for c in commands] == ["record", "record", "resume"]
    for command in commands:  # exactly what it says, in that order
        assert cli(env, *command[1:])[0] == 0
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--watch")
    assert (code, document["phase"]) == (EXIT_STOPPED, "awaiting_approval")  # on to the manual step: not paused again


# ---- 3: simulated is said out loud; no future time in a durable store ---------------------------------------------


def test_a_simulated_outcome_is_said_on_stderr_in_json_in_outputs_and_as_a_warning(
    env: dict[str, str], tmp_path: Path
) -> None:
    github, output, summary = in_actions(env, tmp_path)
    deployed = run("deploy", "fn-posts", "1.0.0", "--env", "development", env=github)
    assert deployed.returncode == 0
    assert "simulated: no cluster is bound, so traffic moved on the simulated cluster and nothing was deployed" in (
        deployed.stderr
    )
    assert "Prometheus" not in deployed.stderr  # a deploy judges nothing: only what it used is said
    assert "::warning::simulated: no cluster is bound" in deployed.stderr
    assert "simulated" not in deployed.stdout  # stdout is the command's own
    assert outputs(output)["simulated"] == "true"
    assert "**simulated: no cluster is bound" in summary.read_text()
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--watch")
    assert (code, document["simulated"], document["simulation"]) == (0, True, ["cluster", "metrics", "time"])
    watched = run("rollout", "fn-posts", "--env", "development", "--watch", env=github)  # ended: refused, not simulated
    assert watched.returncode == EXIT_REFUSED
    code, document = cli(env, "approve", "fn-posts", "1.0.0", "--env", "production")  # nothing simulated in a refusal
    assert code == EXIT_REFUSED
    assert cli(env, "deploy", "fn-posts", "2.0.0", "--env", "development")[0] == 0
    code, document = cli(env, "rollout", "fn-posts", "--env", "development")  # one step: judged, moved nothing
    assert (code, document["simulation"]) == (0, ["metrics", "time"])
    status = cli(env, "status", "fn-posts")[1]  # what serves was routed on the simulated cluster
    assert (status["simulated"], status["simulation"]) == (True, ["cluster"])


def _wall() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def test_without_now_a_durable_store_gets_no_future_time(env: dict[str, str]) -> None:
    live = {key: value for key, value in env.items() if key != "FINDLY_NOW"}
    assert cli(live, "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    assert cli(live, "rollout", "fn-posts", "--env", "development")[0] == 0  # one step, at the real clock's time
    after = _wall()
    events = SqliteEventStore(env["FINDLY_STATE"]).load("fn-posts")[0]
    assert [e.type for e in events][-1] == "analysis_recorded"
    assert all(event.at <= after for event in events)  # an hour of canary is not stamped ahead of time
    future = (_wall() + timedelta(hours=1)).isoformat()
    code, document = cli({**live, "FINDLY_NOW": future}, "status", "fn-posts")
    assert code == EXIT_BAD_INPUT
    assert "is in the future" in document["error"]["message"]  # type: ignore[index]


def test_a_stream_whose_last_event_is_ahead_of_the_clock_never_runs_backwards(env: dict[str, str]) -> None:
    from findly_infra.domain.events import AnalysisRecorded, Verdict

    # a store whose last event is ahead of this runner's clock (another runner's skew, or a store written with
    # virtual time ahead of the clock, as versions before this one did); then a live command
    live = {key: value for key, value in env.items() if key != "FINDLY_NOW"}
    assert cli(live, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    store = SqliteEventStore(env["FINDLY_STATE"])
    events, version = store.load("fn-posts")
    ahead = AnalysisRecorded(
        service="fn-posts",
        environment="development",
        version="1.0.0",
        at=_wall() + timedelta(minutes=30),
        actor="findly",
        verdict=Verdict.PASS,
    )
    store.append("fn-posts", version, (ahead,))
    store.close()
    assert cli(live, "pause", "fn-posts", "--env", "development", "--reason", "look")[0] == 0
    events = SqliteEventStore(env["FINDLY_STATE"]).load("fn-posts")[0]
    assert events[-1].type == "rollout_paused"
    assert events[-1].at == ahead.at  # stamped at the log's latest time, not before it
    times = [event.at for event in events]
    assert times == sorted(times)


def test_a_state_keeps_the_time_its_first_writer_chose_and_refuses_to_mix_in_the_other(env: dict[str, str]) -> None:
    live = {key: value for key, value in env.items() if key != "FINDLY_NOW"}
    assert cli(live, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0  # a team's state: real time
    store = SqliteEventStore(env["FINDLY_STATE"])
    assert store.time_kept() == "wall"
    store.close()
    code, document = cli(env, "pause", "fn-posts", "--env", "development", "--reason", "rehearse")  # --now: refused
    assert code == EXIT_BAD_INPUT
    assert "keeps real time" in document["error"]["message"]  # type: ignore[index]
    assert "--state memory://" in document["error"]["message"]  # type: ignore[index]
    # a read writes nothing: --now only says when to look from
    assert cli(env, "status", "fn-posts")[0] == 0
    # a --now within the runners' skew is "now"
    near = (_wall() - timedelta(minutes=2)).replace(microsecond=0).isoformat()
    assert cli({**live, "FINDLY_NOW": near}, "pause", "fn-posts", "--env", "development", "--reason", "look")[0] == 0
    events = SqliteEventStore(env["FINDLY_STATE"]).load("fn-posts")[0]
    assert [event.type for event in events][-1] == "rollout_paused"
    assert events[-1].at >= _wall() - timedelta(minutes=1)  # stamped on the real clock, not two minutes back


def test_a_rehearsal_state_resumes_its_own_clock_without_now(env: dict[str, str]) -> None:
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0  # --now: a rehearsal
    assert cli(env, "rollout", "fn-posts", "--env", "development", "--watch")[0] == 0
    latest = SqliteEventStore(env["FINDLY_STATE"]).load("fn-posts")[0][-1].at
    live = {key: value for key, value in env.items() if key != "FINDLY_NOW"}
    code, document = cli(live, "deploy", "fn-posts", "2.0.0", "--env", "development")
    assert (code, document["simulation"]) == (0, ["cluster", "time"])  # said: recorded in virtual time
    store = SqliteEventStore(env["FINDLY_STATE"])
    assert store.time_kept() == "virtual"
    events = store.load("fn-posts")[0]
    assert events[-1].at.date() == latest.date()  # the rehearsal's day, not today's real clock
    assert events[-1].at >= latest


def test_the_demo_tells_a_story_that_is_over_before_now(tmp_path: Path) -> None:
    result = run("--json", "demo", cwd=tmp_path, env={"FINDLY_CONFIG": "", "FINDLY_STATE": ""})
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["ok"] is True
    assert document["simulated"] is True
    assert any("rolled back at stage 2/4" in line for line in document["story"])
    events = SqliteEventStore(tmp_path / ".findly" / "demo.sqlite3").load("fn-posts")[0]
    assert len(events) == document["events"]
    assert max(event.at for event in events) <= _wall()


# ---- 4: --json everywhere, flags after the command, a closed pipe --------------------------------------------------


def test_every_command_speaks_json_and_takes_global_flags_after_its_name(env: dict[str, str]) -> None:
    version = run("--json", "--version")
    assert json.loads(version.stdout) == {"ok": True, "version": json.loads(version.stdout)["version"]}
    example = json.loads(run("example", "--json").stdout)
    assert example["ok"] is True
    assert example["text"] == EXAMPLE.read_text()
    assert Path(example["path"]).read_text() == EXAMPLE.read_text()
    out = io.StringIO()
    with mock.patch.dict(os.environ, env):
        assert main(["status", "fn-posts", "--json", "--state", "memory://"], out=out) == 0
    assert json.loads(out.getvalue())["services"]["fn-posts"]["development"]["phase"] == "idle"


def test_a_closed_pipe_ends_quietly() -> None:
    """``findly-infra example | head -1``: the reader has gone before the writer is done."""
    for command in (["example"], ["demo", "--state", "memory://"]):
        with subprocess.Popen(
            [sys.executable, "-m", "findly_infra", *command],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "GITHUB_ACTIONS": ""},
        ) as writer:
            assert writer.stdout is not None
            assert writer.stderr is not None
            writer.stdout.close()  # the reader goes away before anything is written
            error = writer.stderr.read()
            assert writer.wait(60) == EXIT_BROKEN_PIPE, error
        assert error == b""  # no traceback, no "internal error"


# ---- 5, 6: inputs that cannot lie or inject ---------------------------------------------------------------------

BAD_VERSIONS = ["", "1.0 bad", "-1", "1" * 64, "1.0\nphase=succeeded", "1.0.", "v1/2", "1.0\x1b[31m"]


@pytest.mark.parametrize("version", BAD_VERSIONS)
def test_a_version_that_is_not_an_image_tag_and_a_label_value_is_refused_at_the_door(
    env: dict[str, str], version: str
) -> None:
    code, document = cli(env, "deploy", "fn-posts", version, "--env", "development")
    assert code == EXIT_BAD_INPUT
    assert "argument version" in document["error"]["message"]  # type: ignore[index]
    assert SqliteEventStore(env["FINDLY_STATE"]).load("fn-posts")[0] == []
    code, document = cli(env, "render", "--out", "unused", "--version", f"fn-posts={version}")
    assert code == EXIT_BAD_INPUT


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--actor", "  ", "deploy", "fn-posts", "1.0.0", "--env", "development"), "argument --actor"),
        (("--actor", "eve\n::warning::x", "deploy", "fn-posts", "1.0.0", "--env", "development"), "argument --actor"),
        (("pause", "fn-posts", "--env", "development", "--reason", "a\nb"), "argument --reason"),
        (("record", "fn-posts", "1.0.0", "--env", "development", "--suite", "unit\r", "--passed"), "argument --suite"),
    ],
)
def test_actors_reasons_and_suites_are_one_printable_line(
    env: dict[str, str], args: tuple[str, ...], named: str
) -> None:
    code, document = cli(env, *args)
    assert code == EXIT_BAD_INPUT
    assert named in document["error"]["message"]  # type: ignore[index]


def test_an_actor_from_the_environment_is_checked_too(env: dict[str, str]) -> None:
    code, document = cli({**env, "FINDLY_ACTOR": "x\x1b]0;owned\x07"}, "deploy", "fn-posts", "1.0", "--env", "dev")
    assert code == EXIT_BAD_INPUT
    assert document["error"]["message"].startswith("FINDLY_ACTOR: the actor")  # type: ignore[index]


def test_a_stored_hostile_value_cannot_forge_lines_or_outputs(env: dict[str, str], tmp_path: Path) -> None:
    from findly_infra.domain.environment import StrategyKind
    from findly_infra.domain.events import RolloutStarted

    hostile = "1.0\n::warning::owned\nphase=succeeded\x1b[2J"
    store = SqliteEventStore(env["FINDLY_STATE"])
    at = datetime(2026, 1, 5, 9)
    started = RolloutStarted(
        service="fn-posts",
        environment="development",
        version=hostile,
        at=at,
        actor="erin\r\n2026-01-01T00:00:00  production forged",
        strategy=StrategyKind.ROLLING,
        previous=None,
    )
    store.append("fn-posts", 0, (started,))
    store.close()
    history = run("history", "fn-posts", env=env)
    assert history.returncode == 0
    assert len(history.stdout.splitlines()) == 1  # one event, one line
    assert "\x1b" not in history.stdout
    assert not any(line.lstrip().startswith("::") for line in history.stdout.splitlines())
    github, output, _ = in_actions(env, tmp_path)
    paused = run("pause", "fn-posts", "--env", "development", "--reason", "look", env=github)
    assert paused.returncode == 0, paused.stderr
    said = outputs(output)
    assert said["phase"] == "paused"  # the hostile version did not write another phase
    assert said["version"] == hostile.replace("\x1b", "\x1b")
    assert not any(line.startswith("::") and "owned" in line for line in paused.stderr.splitlines())


def test_annotations_escape_their_message_and_properties(capsys: pytest.CaptureFixture[str]) -> None:
    from findly_infra.cli import present

    with mock.patch.dict(os.environ, {"GITHUB_ACTIONS": "true"}):
        present.annotate("error", "50% bad\n::warning::x", file="a,b:c.yaml", line=3)
    assert capsys.readouterr().err == "::error file=a%2Cb%3Ac.yaml,line=3::50%25 bad%0A::warning::x\n"


# ---- 7, 8: installs and config discovery ---------------------------------------------------------------------


def test_a_missing_extra_is_bad_input_naming_it(tmp_path: Path) -> None:
    code = "import sys; sys.modules['httpx'] = None; from findly_infra.cli import main; sys.exit(main(sys.argv[1:]))"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "--state",
            "memory://",
            "--prometheus-url",
            "http://127.0.0.1:9",
            "analyze",
            "fn-posts",
            "--env",
            "production",
            "--version",
            "1.0.0",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "FINDLY_CONFIG": str(EXAMPLE), "GITHUB_ACTIONS": ""},
        check=False,
    )
    assert result.returncode == EXIT_BAD_INPUT
    assert "needs the 'prometheus' extra" in result.stderr
    assert "pip install 'findly-infra[prometheus]'" in result.stderr


def test_structlog_is_a_core_dependency() -> None:
    from importlib.metadata import requires

    core = [r for r in requires("findly-infra") or [] if "extra ==" not in r]
    assert any(r.startswith("structlog") for r in core)


def test_outside_a_project_commands_say_what_is_missing_and_the_demo_hint_works(tmp_path: Path) -> None:
    import shlex

    scratch = {"FINDLY_CONFIG": "", "FINDLY_STATE": ""}
    missing = run("status", "fn-posts", cwd=tmp_path, env=scratch)
    assert missing.returncode == EXIT_BAD_INPUT
    assert "no platform file: there is no findly.yaml in" in missing.stderr
    assert "findly-infra example > findly.yaml" in missing.stderr
    demo = run("demo", cwd=tmp_path, env=scratch)
    hint = demo.stdout.strip().splitlines()[-1].split("See them: ", 1)[1]
    words = shlex.split(hint)
    assert words[0] == "findly-infra"
    history = run(*words[1:], cwd=tmp_path, env=scratch)
    assert history.returncode == 0, history.stderr
    assert "rolled_back" in history.stdout


def _parsers(
    parser: argparse.ArgumentParser, name: str = "findly-infra"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_option_and_argument_has_help() -> None:
    from findly_infra.cli.parser import build_parser

    missing = [
        f"{name}: {action.dest}"
        for name, parser in _parsers(build_parser())
        for action in parser._actions
        if not action.help
        and not isinstance(action, (argparse._HelpAction, argparse._VersionAction))
        and not isinstance(action, argparse._SubParsersAction)
    ]
    assert missing == []


def test_scenarios_are_listed_where_they_are_chosen() -> None:
    from findly_infra.application.scenarios import SCENARIOS

    for command in ("simulate", "rollout"):
        helped = run(command, "--help")
        assert all(name in helped.stdout for name in SCENARIOS), helped.stdout
    refused = run("simulate", "fn-posts", "--env", "production", "--scenario", "sunny")
    assert refused.returncode == EXIT_BAD_INPUT
    assert "invalid choice: 'sunny'" in refused.stderr


def test_credentials_are_never_echoed_nor_sent_in_clear(env: dict[str, str]) -> None:
    from findly_infra.adapters.prometheus import PrometheusClient

    secret_url = "http://ci:hunter2@127.0.0.1:9/"  # a closed port on loopback: the query fails
    code, document = cli({**env, "FINDLY_PROMETHEUS_URL": secret_url}, "slo", "status", "fn-posts", "--env", "staging")
    assert code == 5
    assert "hunter2" not in json.dumps(document)
    assert "ci:***@127.0.0.1:9" in document["error"]["message"]  # type: ignore[index]
    assert "hunter2" not in repr(PrometheusClient(secret_url))
    remote = {**env, "FINDLY_PROMETHEUS_URL": "http://prometheus.example:9090", "FINDLY_PROMETHEUS_TOKEN": "t0ken"}
    code, document = cli(remote, "slo", "status", "fn-posts", "--env", "staging")  # refused before any request
    assert code == EXIT_BAD_INPUT
    assert "is plain HTTP: its credentials" in document["error"]["message"]  # type: ignore[index]
    assert "t0ken" not in json.dumps(document)
    code, document = cli({**env, "FINDLY_STATE": "redis://u:pw@db/0"}, "status", "fn-posts")
    assert code == EXIT_BAD_INPUT
    assert "pw@" not in document["error"]["message"]  # type: ignore[index]


@pytest.mark.parametrize("now", ["9999-12-31T23:59:00", "0001-01-01T00:00:00"])
def test_a_time_that_would_overflow_is_refused_at_the_door(now: str) -> None:
    out = io.StringIO()
    with mock.patch.dict(os.environ, {"FINDLY_CONFIG": str(EXAMPLE), "FINDLY_ACTOR": "erin", "GITHUB_ACTIONS": ""}):
        code = main(
            ["--json", "--state", "memory://", "--now", now, "deploy", "fn-posts", "1.0.0", "--env", "development"],
            out=out,
        )
    assert code == EXIT_BAD_INPUT
    assert "is not a time a release happens at" in json.loads(out.getvalue())["error"]["message"]
