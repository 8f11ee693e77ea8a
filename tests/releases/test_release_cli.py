"""The ``release`` command group: a release of three dependent services through development, staging and production
with one approval, the exit codes DESIGN.md gives (0 done, 2 bad input, 3 refused with the rule, 4 rolled back, 6
stopped for a person), ``--json`` one document, and bad input never a traceback. On a durable state in virtual time
(``FINDLY_NOW``) and the simulated cluster."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from findly_infra.cli import main
from tests.releases.platform import SERVICES, release_platform_file


@pytest.fixture
def state(tmp_path: Path) -> dict[str, str]:
    return {
        "FINDLY_CONFIG": str(release_platform_file(tmp_path)),
        "FINDLY_ACTOR": "erin",
        "FINDLY_STATE": str(tmp_path / "state.sqlite3"),
        "FINDLY_NOW": "2026-01-05T09:00:00",
        "GITHUB_ACTIONS": "",
    }


def cli(env: dict[str, str], *args: str) -> tuple[int, Any]:
    out = io.StringIO()
    with mock.patch.dict(os.environ, env):
        code = main(list(args), out=out)
    text = out.getvalue()
    return code, json.loads(text) if "--json" in args else text


def passed(env: dict[str, str], environment: str, version: str = "1.0.0") -> None:
    """CI's part: every suite of *environment* passed for each service."""
    suites = {"development": ("unit", "integration", "smoke"), "staging": ("e2e", "performance", "security", "load")}
    for service in SERVICES:
        for suite in suites[environment]:
            code, _ = cli(env, "record", service, version, "--env", environment, "--suite", suite, "--passed")
            assert code == 0


def test_a_release_goes_through_every_environment_with_one_approval(state: dict[str, str], tmp_path: Path) -> None:
    release_file = tmp_path / "release.yaml"
    release_file.write_text(
        "release: r1\nservices:\n  fn-notifications: 1.0.0\n  fn-posts: 1.0.0\n  fn-matcher: 1.0.0\n"
    )
    code, created = cli(state, "release", "create", "r1", "--file", str(release_file), "--json")
    assert code == 0
    assert created["parts"] == [f"{service}=1.0.0" for service in SERVICES]
    code, again = cli(state, "release", "create", "r1", "--file", str(release_file), "--json")
    assert (code, again["already"] is not None) == (0, True)
    for environment in ("development", "staging"):
        assert cli(state, "release", "promote", "r1", "--to", environment)[0] == 0
        code, watched = cli(state, "release", "watch", "r1", "--environment", environment, "--json")
        assert (code, watched["outcome"], watched["phase"]) == (0, "done", "succeeded")
        passed(state, environment)
    code, asked = cli(state, "release", "promote", "r1", "--to", "production", "--json")
    assert code == 6  # stopped for a person: the approval
    assert "release approve r1 --environment production" in asked["waiting_for"]
    code, approved = cli(
        {**state, "FINDLY_ACTOR": "alice"}, "release", "approve", "r1", "--env", "production", "--json"
    )
    assert code == 0
    assert approved["recorded"][0]["type"] == "release_approved"
    code, watched = cli(state, "release", "watch", "r1", "--environment", "production", "--json")
    assert (code, watched["outcome"]) == (0, "done")
    code, status = cli(state, "release", "status", "r1", "--json")
    assert code == 0
    production = status["releases"][0]["environments"]["production"]
    assert (production["phase"], production["approvers"]) == ("succeeded", ["alice"])
    code, history = cli(state, "release", "history", "r1", "--parts", "--json")
    assert code == 0
    assert [e["type"] for e in history["events"]].count("release_approved") == 1
    assert set(history["parts"]) == set(SERVICES)
    # a second release, returned as a whole by a person in development: exit 0, each service back on 1.0.0
    assert cli(state, "release", "create", "r2", *(f"{s}=2.0.0" for s in SERVICES))[0] == 0
    assert cli(state, "release", "promote", "r2", "--to", "development")[0] == 0
    assert cli(state, "release", "watch", "r2", "--env", "development")[0] == 0
    code, text = cli(state, "release", "rollback", "r2", "--env", "development", "--reason", "a bad night")
    assert code == 0
    assert "rolled back" in text
    code, shown = cli(state, "status", "fn-posts", "--json")
    assert code == 0
    assert "1.0.0" in json.dumps(shown)


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (("release", "create", "r1", "fn-posts"), 2, "is not SERVICE=VERSION"),
        (("release", "create", "r1", "fn-nope=1.0.0"), 2, "unknown service"),
        (("release", "create", "bad name!", "fn-posts=1.0.0"), 2, "release name"),
        (("release", "create", "r1", "fn-posts=not a tag"), 2, "fn-posts"),
        (("release", "create", "r1"), 2, "SERVICE=VERSION"),
        (("release", "create", "r1", "--file", "/nonexistent/release.yaml"), 2, "--file"),
        (("release", "watch", "nope", "--env", "development"), 2, "no release named"),
        (("release", "promote", "r0", "--to", "staging"), 3, "release-from-previous"),
        (("release", "promote", "r0", "--to", "nowhere"), 2, "nowhere"),
        (("release", "approve", "r0", "--env", "production"), 3, "release-open"),
    ],
)
def test_bad_input_and_refusals_are_one_json_document_with_their_exit_code(
    state: dict[str, str], args: tuple[str, ...], code: int, said: str
) -> None:
    assert cli(state, "release", "create", "r0", "fn-posts=0.1.0")[0] == 0
    got, document = cli(state, *args, "--json")
    assert got == code, document
    assert document["ok"] is False
    assert said in json.dumps(document)


def test_a_bad_release_file_is_bad_input_naming_the_file(state: dict[str, str], tmp_path: Path) -> None:
    for text, said in (
        ("services: [fn-posts]\n", "services"),
        ("release: r1\nservices: {fn-posts: [1]}\nextra: 1\n", "unknown key 'extra'"),
        ("release: r1\nservices: {fn-posts: {a: 1}}\n", "services.fn-posts"),
        ("release: other\nservices: {fn-posts: 1.0.0}\n", "the command names r1"),
        ("{{{", "invalid YAML"),
        ("release: r1\nservices:\n  fn-postz: '1.0'\n", "services.fn-postz: unknown service 'fn-postz'"),
        # YAML reads 1.10 as the number 1.1 and 0x1F as 31: a version is refused unless it is text (user review)
        ("release: r1\nservices:\n  fn-posts: 1.10\n", "services.fn-posts (line 3): the version must be text"),
        ("release: r1\nservices:\n  fn-posts: 0x1F\n", 'quote it as written, e.g. fn-posts: "1.10"'),
        # a service named twice: YAML keeps the last silently; the command line refuses it, so does the file
        ("release: r1\nservices:\n  fn-posts: '1'\n  fn-posts: '2'\n", "'fn-posts' appears twice"),
        ("release: r1\nservices:\n  fn-posts: '1\udcff'\n", "not UTF-8 text"),
    ):
        path = tmp_path / "release.yaml"
        path.write_bytes(text.encode("utf-8", "surrogateescape"))
        code, document = cli(state, "release", "create", "r1", "--file", str(path), "--json")
        assert code == 2, document
        assert said in document["error"]["message"]
        assert str(path) in document["error"]["message"]


def test_a_release_waiting_for_its_approval_says_so_from_promote_step_watch_and_status(state: dict[str, str]) -> None:
    """Review findings 1 and 3: each command run before ``release approve`` exits 6 naming the approval (and starts
    nothing); the approver's own ``watch`` then takes the release through (exit 0, ``done``)."""
    assert cli(state, "release", "create", "r1", *(f"{s}=1.0.0" for s in SERVICES))[0] == 0
    for environment in ("development", "staging"):
        assert cli(state, "release", "promote", "r1", "--to", environment)[0] == 0
        assert cli(state, "release", "watch", "r1", "--environment", environment)[0] == 0
        passed(state, environment)
    assert cli(state, "release", "promote", "r1", "--to", "production")[0] == 6
    for command in ("step", "watch"):
        code, waits = cli(state, "release", command, "r1", "--environment", "production", "--json")
        assert (code, waits["outcome"], waits["recorded"]) == (6, "stopped", [])
        assert "release approve r1 --environment production" in waits["waiting_for"]
    code, status = cli(state, "release", "status", "r1", "--json")
    assert code == 6
    assert "release approve r1" in status["releases"][0]["environments"]["production"]["waiting_for"]
    approver = {**state, "FINDLY_ACTOR": "alice"}
    assert cli(approver, "release", "approve", "r1", "--env", "production")[0] == 0
    code, watched = cli(approver, "release", "watch", "r1", "--environment", "production", "--json")
    assert (code, watched["outcome"]) == (0, "done")
    assert cli(state, "release", "status", "r1")[0] == 0


def test_missing_evidence_is_refused_naming_the_rule_and_status_names_the_wait(state: dict[str, str]) -> None:
    """Review finding 8, and the user review's: a part whose suites of the environment before were not recorded
    refuses the release's promotion (exit 3, rule ``required-tests``, naming the part, as ``promote`` of one service
    is) before anything is recorded — the release does not enter, holds nothing, asks nothing of any part."""
    assert cli(state, "release", "create", "r1", *(f"{s}=1.0.0" for s in SERVICES))[0] == 0
    assert cli(state, "release", "promote", "r1", "--to", "development")[0] == 0
    assert cli(state, "release", "watch", "r1", "--environment", "development")[0] == 0
    for _ in range(2):  # the text and the --json runs name the same part: the first, in rollout order
        code, refused = cli(state, "release", "promote", "r1", "--to", "staging", "--json")
        assert code == 3
        assert refused["error"]["rule"] == "required-tests"
        assert refused["error"]["message"].startswith(f"refused by required-tests: {SERVICES[0]} 1.0.0")
    code, status = cli(state, "release", "status", "r1", "--json")
    assert "staging" not in status["releases"][0]["environments"]
    for service in SERVICES:
        code, history = cli(state, "history", service, "--json")
        assert not [e for e in history["events"] if e["environment"] == "staging"]
    passed(state, "development")
    assert cli(state, "release", "promote", "r1", "--to", "staging")[0] == 0
    code, watched = cli(state, "release", "watch", "r1", "--environment", "staging", "--json")
    assert (code, watched["outcome"]) == (0, "done")


def test_every_release_command_says_it_ran_on_the_simulated_cluster(state: dict[str, str]) -> None:
    """As every release command does (README: ``"simulated": true``); an unknown release is said first, alone (user
    review: the release commands' --json never said it, and a watch of an unknown release warned first)."""
    assert cli(state, "release", "create", "r1", *(f"{s}=1.0.0" for s in SERVICES))[0] == 0
    code, promoted = cli(state, "release", "promote", "r1", "--to", "development", "--json")
    assert (code, promoted["simulated"]) == (0, True)
    code, watched = cli(state, "release", "watch", "r1", "--environment", "development", "--json")
    assert (code, watched["simulated"], watched["simulation"]) == (0, True, watched["simulation"])
    assert watched["simulation"]
    code, missing = cli(state, "release", "watch", "nope", "--environment", "development", "--json")
    assert code == 2
    assert "no release named 'nope'" in missing["error"]["message"]
