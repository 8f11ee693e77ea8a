"""A whole production release through the command line where production takes only verified identities: the
GitHub OIDC stand-in is the issuer and each job's runner (tokens minted per request, with the job's claims), the
state is SQLite, time virtual. Two verified approvers of different groups approve; a workflow that names
``FINDLY_ACTOR=carol`` is refused, and so are a terminal, a fork, another workflow, a re-run, a replayed run, and
tokens that prove nothing — each with its exit code and rule — and nothing of a refused command is recorded."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("jwt", reason="the github extra: pip install 'findly-infra[github]'")

from findly_infra.cli.exits import EXIT_DEPENDENCY, EXIT_OK, EXIT_REFUSED, EXIT_STOPPED
from findly_infra.examples import example_platform_text
from findly_infra.testing.github_oidc import GitHubOidcStandIn
from tests.conftest import PAST

SERVICE, VERSION = "fn-posts", "1.4.0"
POLICY = """    identity:
      verified: true
      repositories: [findly-now/services]
      workflows: [.github/workflows/release.yml]
      refs: [refs/heads/main]
"""
GROUPS = """approver_groups:
  devops-team: [{login: alice, id: 1001}, {login: bob, id: 1002}]
  security-team: [{login: carol, id: 3003}, {login: dave, id: 4004}]
"""


def platform_text(issuer: str, policy: str = "") -> str:
    """The example platform, production verifying identities (``POLICY`` and the *policy* lines after it)."""
    text = example_platform_text()
    production = text.index("  production:\n")
    at = text.index("    deployment_strategy:", production)
    text = text[:at] + POLICY + policy + text[at:]
    start = text.index("approver_groups:\n")
    end = text.index("\n\n", start) + 1
    return text[:start] + GROUPS + text[end:] + f"\ngithub_oidc:\n  issuer: {issuer!r}\n"


def findly(folder: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``findly-infra *args`` in *folder*, with exactly *env*, as a CI step runs it."""
    return subprocess.run(
        [sys.executable, "-m", "findly_infra", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=folder,
        check=False,
    )


def _outside_ci() -> dict[str, str]:
    """This process's environment without what a CI job or a user would have set for the tool."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("FINDLY_", "GITHUB_", "ACTIONS_"))}


class Release:
    """The repository a workflow checks out, its state, and the commands its jobs run."""

    def __init__(self, folder: Path, github: GitHubOidcStandIn) -> None:
        self.folder, self.github = folder, github
        (folder / "findly.yaml").write_text(platform_text(github.url))
        self.base = _outside_ci() | {"FINDLY_STATE": str(folder / "state.sqlite3"), "FINDLY_NOW": PAST}

    def policy(self, lines: str) -> None:
        """Production's identity policy with *lines* added (``      key: value\n`` each)."""
        (self.folder / "findly.yaml").write_text(platform_text(self.github.url, lines))

    def run(self, *args: str, job: dict[str, str] | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return findly(self.folder, {**self.base, **(job or {}), **env}, *args)

    def job(self, actor: str, actor_id: str, run_id: int, **claims: str) -> dict[str, str]:
        return self.github.job(actor=actor, actor_id=actor_id, run_id=str(run_id), **claims)

    def events(self) -> list[dict[str, Any]]:
        listed = self.run("history", SERVICE, "--json")
        assert listed.returncode == EXIT_OK, listed.stderr
        return list(json.loads(listed.stdout)["events"])

    def refused(self, rule: str, *args: str, job: dict[str, str] | None = None, **env: str) -> str:
        """*args* refused by *rule* (exit 3) with nothing recorded; the message."""
        before = len(self.events())
        result = self.run(*args, "--json", job=job, **env)
        assert result.returncode == EXIT_REFUSED, result.stdout + result.stderr
        error = json.loads(result.stdout)["error"]
        assert error["rule"] == rule, error
        assert len(self.events()) == before
        return str(error["message"])


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state in which 1.4.0 has passed development and staging (names are enough there), built once."""
    folder = tmp_path_factory.mktemp("staged")
    with GitHubOidcStandIn() as github:
        release = Release(folder, github)
        # production trusting names while it is staged: each test's file (its own issuer, on its own port) then
        # strengthens the policy in force, and is adopted by its first command (an issuer changed is a weakening)
        (folder / "findly.yaml").write_text(platform_text(github.url).replace(POLICY, ""))
        _through_staging(release)
    return folder / "state.sqlite3"


@pytest.fixture
def release(tmp_path: Path, staged: Path) -> Iterator[Release]:
    shutil.copyfile(staged, tmp_path / "state.sqlite3")
    with GitHubOidcStandIn() as github:
        yield Release(tmp_path, github)


def _through_staging(release: Release) -> None:
    for env, suites in (
        ("development", ("unit", "integration", "smoke")),
        ("staging", ("e2e", "performance", "security", "load")),
    ):
        command = (
            ("deploy", SERVICE, VERSION, "--env", env)
            if env == "development"
            else ("promote", SERVICE, VERSION, "--to", env)
        )
        for args in (command, ("rollout", SERVICE, "--env", env, "--watch", "--version", VERSION)):
            done = release.run(*args, FINDLY_ACTOR="ci")
            assert done.returncode == EXIT_OK, done.stdout + done.stderr
        for suite in suites:
            recorded = release.run(
                "record", SERVICE, VERSION, "--env", env, "--suite", suite, "--passed", FINDLY_ACTOR="ci"
            )
            assert recorded.returncode == EXIT_OK, recorded.stdout + recorded.stderr


def test_a_production_release_approved_by_two_verified_people(release: Release) -> None:
    # bob (devops-team) asks for production from the release workflow: verified, recorded, waiting for approvals
    bob = release.job("bob", "1002", 2001)
    asked = release.run("promote", SERVICE, VERSION, "--to", "production", "--json", job=bob)
    assert asked.returncode == EXIT_REFUSED, asked.stdout + asked.stderr
    assert json.loads(asked.stdout)["error"]["rule"] == "approvals"

    # a workflow that names carol is refused, whoever runs it: the name is not used, nor a token asked for
    issued = release.github.tokens_issued
    message = release.refused(
        "verified-identity",
        "approve",
        SERVICE,
        VERSION,
        "--env",
        "production",
        job=release.job("mallory", "666", 2002),
        FINDLY_ACTOR="carol",
    )
    assert "FINDLY_ACTOR=carol" in message
    assert release.github.tokens_issued == issued
    # a person at a terminal, with a name and no token
    assert "id-token: write" in release.refused(
        "verified-identity", "approve", SERVICE, VERSION, "--env", "production", "--actor", "carol"
    )
    # carol, verified, but from a fork; from another workflow; from a branch
    approve = ("approve", SERVICE, VERSION, "--env", "production")
    assert "the run is in" in release.refused(
        "identity-source",
        *approve,
        job=release.job(
            "carol",
            "3003",
            2003,
            repository="mallory/services",
            workflow_ref="mallory/services/.github/workflows/release.yml@refs/heads/main",
        ),
    )
    assert "the workflow is" in release.refused(
        "identity-source",
        *approve,
        job=release.job(
            "carol", "3003", 2004, workflow_ref="findly-now/services/.github/workflows/ci.yml@refs/heads/main"
        ),
    )
    assert "ran on" in release.refused(
        "identity-source",
        *approve,
        job=release.job(
            "carol",
            "3003",
            2005,
            ref="refs/heads/feature",
            workflow_ref="findly-now/services/.github/workflows/release.yml@refs/heads/feature",
        ),
    )
    # bob approving his own request, under another login (the same account, renamed)
    assert "asked for this promotion" in release.refused(
        "self-approval", *approve, job=release.job("bobby", "1002", 2006)
    )
    # someone who took alice's old login
    assert "the id 1001" in release.refused("approver-membership", *approve, job=release.job("alice", "7777", 2007))

    # alice (devops-team) approves, verified
    alice = release.job("alice", "1001", 2010)
    done = release.run(*approve, job=alice)
    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    assert (
        "alice (id 1001) via findly-now/services/.github/workflows/release.yml@refs/heads/main run 2010" in done.stdout
    )
    again = release.run(*approve, "--json", job=alice)  # the step retried in the same run: it stands, nothing new
    assert again.returncode == EXIT_OK, again.stdout + again.stderr
    assert json.loads(again.stdout)["already"]
    # her run re-run by anyone carries her identity: refused
    assert "re-run" in release.refused(
        "approval-replay", *approve, job=release.job("alice", "1001", 2010, run_attempt="2")
    )
    # dave's approval from alice's run (a run approves once)
    assert "already approved" in release.refused("approval-replay", *approve, job=release.job("dave", "4004", 2010))

    # carol (security-team) approves: the second group, another person
    done = release.run(*approve, job=release.job("carol", "3003", 2011))
    assert done.returncode == EXIT_OK, done.stdout + done.stderr

    # bob promotes (blue-green); smoke and performance tests recorded, it waits for the business validation
    promoted = release.run("promote", SERVICE, VERSION, "--to", "production", job=release.job("bob", "1002", 2012))
    assert promoted.returncode == EXIT_OK, promoted.stdout + promoted.stderr
    for suite in ("smoke_tests", "performance_tests"):
        evidence = ("record", SERVICE, VERSION, "--env", "production", "--suite", suite, "--passed")
        assert release.run(*evidence, FINDLY_ACTOR="ci").returncode == EXIT_OK
    watch = ("rollout", SERVICE, "--env", "production", "--watch", "--version", VERSION)
    watched = release.run(*watch, FINDLY_ACTOR="findly")
    assert watched.returncode == EXIT_STOPPED, watched.stdout + watched.stderr
    assert "awaiting" in release.run("status", SERVICE).stdout, release.run("status", SERVICE).stdout
    refused = release.refused("self-approval", *approve, job=release.job("bob", "1002", 2013))
    assert "started this rollout" in refused
    done = release.run(*approve, job=release.job("dave", "4004", 2014))
    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    watched = release.run(*watch, FINDLY_ACTOR="findly")
    assert watched.returncode == EXIT_OK, watched.stdout + watched.stderr

    # the audit trail: who approved, and how each was proven
    events = release.events()
    approvals = [e for e in events if e["type"] == "approval_granted" and e["environment"] == "production"]
    assert [(e["actor"], e["identity"]["user_id"], e["identity"]["run_id"]) for e in approvals] == [
        ("alice", "1001", "2010"),
        ("carol", "3003", "2011"),
        ("dave", "4004", "2014"),
    ]
    for approval in approvals:
        assert approval["identity"]["issuer"] == release.github.url
        assert approval["identity"]["repository"] == "findly-now/services"
        assert approval["identity"]["token_id"]
    started = next(e for e in events if e["type"] == "rollout_started" and e["environment"] == "production")
    assert started["identity"]["user_id"] == "1002"
    text = release.run("history", SERVICE).stdout
    assert (
        "[verified: carol (id 3003) via findly-now/services/.github/workflows/release.yml@refs/heads/main "
        "run 2011, token " in text
    )
    status = release.run("status", SERVICE, "--json")
    assert status.returncode == EXIT_OK


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ({"exp": 1, "iat": 0, "nbf": 0}, "has expired"),
        ({"nbf": 4102444800, "exp": 4102445100}, "not valid yet"),  # 2100-01-01
        ({"aud": "someone-else"}, "another audience"),
        ({"iss": "https://token.actions.githubusercontent.com"}, "another issuer"),
        ({"kid": "unpublished"}, "a key the issuer does not publish"),
        ({"alg": "none"}, "signed with 'none'"),
    ],
)
def test_a_token_that_proves_nothing_is_refused_at_the_door(
    release: Release, token: dict[str, Any], message: str
) -> None:
    _requested(release)
    claims = dict(token)
    if claims.pop("alg", None) == "none":
        import jwt

        body = jwt.decode(release.github.mint(), options={"verify_signature": False})
        release.github.next_token = jwt.encode(body, None, algorithm="none")
    elif (kid := claims.pop("kid", None)) is not None:
        release.github.keys[kid] = release.github.keys["key-1"]  # signed, but by a key the JWKS does not list
        release.github.next_token = release.github.mint(kid)
    else:
        release.github.next_token = release.github.mint(**claims)
    job = release.job("carol", "3003", 3001)
    found = release.refused("verified-identity", "approve", SERVICE, VERSION, "--env", "production", job=job)
    assert message in found


def test_an_issuer_that_cannot_be_reached_is_a_dependency_not_a_refusal(release: Release) -> None:
    # the file's issuer before any policy verifying production is in force (once one is, a file naming another issuer
    # weakens it: tokens are verified against the issuer in force — tests/test_policy_in_force_cli.py)
    text = (release.folder / "findly.yaml").read_text()
    (release.folder / "findly.yaml").write_text(text.replace(release.github.url, "http://127.0.0.1:9"))
    release.github.next_token = release.github.mint(iss="http://127.0.0.1:9")
    result = release.run("approve", SERVICE, VERSION, "--env", "production", job=release.job("carol", "3003", 3002))
    assert result.returncode == EXIT_DEPENDENCY, result.stdout + result.stderr
    assert "could not be read" in result.stderr


def test_a_key_rotated_in_after_the_first_fetch_is_fetched_again_by_the_command(release: Release) -> None:
    """GitHub rotates its signing keys; a JWKS read from a cache that has not caught up lacks the new one. The
    command fetches the keys once more for a key id it does not hold, and the approval goes through."""
    _requested(release)
    release.github.rotate("key-2")  # tokens are signed with key-2 from now on
    release.github.stale_jwks = 1  # the first fetch answers the key set without it
    before = release.github.jwks_fetches
    done = release.run("approve", SERVICE, VERSION, "--env", "production", job=release.job("carol", "3003", 3101))
    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    assert release.github.jwks_fetches - before == 2  # fetched, then fetched again once for key-2
    # a key the issuer never publishes: fetched twice, then refused
    release.github.keys["key-x"] = release.github.keys["key-2"]
    release.github.next_token = release.github.mint("key-x")
    before = release.github.jwks_fetches
    message = release.refused(
        "verified-identity",
        "approve",
        SERVICE,
        VERSION,
        "--env",
        "production",
        job=release.job("dave", "4004", 3102),
    )
    assert "a key the issuer does not publish" in message
    assert release.github.jwks_fetches - before == 2


@pytest.mark.parametrize(
    ("policy", "claims", "message"),
    [
        pytest.param(  # the workflow file read from another branch than the run's ref
            "",
            {"workflow_ref": "findly-now/services/.github/workflows/release.yml@refs/heads/evil"},
            "workflow_ref",
            id="workflow-ref-at-another-ref",
        ),
        pytest.param(  # paths are case-sensitive on GitHub: RELEASE.yml is another file
            "",
            {"workflow_ref": "findly-now/services/.github/workflows/RELEASE.yml@refs/heads/main"},
            "the workflow is",
            id="workflow-path-case",
        ),
        pytest.param(  # the repository deleted and re-created under its name: another id
            "      repository_ids: [{services_id}]\n",
            {"repository_id": "999999"},
            "repository_id",
            id="repository-recreated",
        ),
        pytest.param(  # the job is not of the reusable workflow the policy requires
            "      job_workflows: [findly-now/automation/.github/workflows/approve.yml]\n",
            {},
            "job_workflow_ref",
            id="job-workflow-other",
        ),
        pytest.param(  # the reusable workflow, but at another ref than the one pinned
            "      job_workflows: [findly-now/automation/.github/workflows/approve.yml@refs/tags/v1]\n",
            {"job_workflow_ref": "findly-now/automation/.github/workflows/approve.yml@refs/heads/evil"},
            "job_workflow_ref",
            id="job-workflow-ref",
        ),
    ],
)
def test_a_token_from_a_place_the_policy_does_not_list_is_refused(
    release: Release, policy: str, claims: dict[str, str], message: str
) -> None:
    _requested(release)  # under the module's policy; then production's policy lists the place the test is about
    release.policy(policy.format(services_id=_services_id(release)))
    # a change of a policy that verifies identities: adopted from the protected workflow, with a token for it
    adopted = release.run("policy", "adopt", job=release.job("bob", "1002", 3200))
    assert adopted.returncode == EXIT_OK, adopted.stdout + adopted.stderr
    found = release.refused(
        "identity-source",
        "approve",
        SERVICE,
        VERSION,
        "--env",
        "production",
        job=release.job("carol", "3003", 3201, **claims),
    )
    assert message in found


def test_a_job_of_the_pinned_reusable_workflow_in_the_pinned_repository_is_accepted(release: Release) -> None:
    release.policy(
        f"      repository_ids: [{_services_id(release)}]\n"
        "      job_workflows: [findly-now/automation/.github/workflows/approve.yml@refs/tags/v1]\n"
    )
    checked = release.run("validate")
    assert checked.returncode == EXIT_OK, checked.stdout + checked.stderr
    reusable = {"job_workflow_ref": "findly-now/automation/.github/workflows/approve.yml@refs/tags/v1"}
    _requested(release, **reusable)
    job = release.job("carol", "3003", 3301, **reusable)
    done = release.run("approve", SERVICE, VERSION, "--env", "production", "--json", job=job)
    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    approval = next(e for e in reversed(release.events()) if e["type"] == "approval_granted")
    assert approval["identity"]["job_workflow_ref"] == (
        "findly-now/automation/.github/workflows/approve.yml@refs/tags/v1"
    )
    assert approval["identity"]["repository_id"] == _services_id(release)


def _services_id(release: Release) -> str:
    """The id the stand-in gives findly-now/services (as GitHub gives each repository one)."""
    release.github.job()
    return release.github.claims["repository_id"]


def _requested(release: Release, **claims: str) -> None:
    """bob asks for production (verified, from a job with *claims*): recorded, waiting for approvals."""
    job = release.job("bob", "1002", 2001, **claims)
    asked = release.run("promote", SERVICE, VERSION, "--to", "production", "--json", job=job)
    assert asked.returncode == EXIT_REFUSED, asked.stdout + asked.stderr
    assert json.loads(asked.stdout)["error"]["rule"] == "approvals", asked.stdout


def test_a_simulation_and_the_demo_act_with_simulated_identities_where_production_verifies(tmp_path: Path) -> None:
    """ "What would this policy have done" still answers on a file that verifies identities: the simulated people are
    verified by no token, and their events say so (issuer ``simulated``)."""
    (tmp_path / "findly.yaml").write_text(platform_text("https://token.actions.githubusercontent.com"))
    env = _outside_ci()
    for args in (("simulate", "fn-posts", "--env", "production", "--json"), ("demo", "--json")):
        done = findly(tmp_path, env, *args)
        assert done.returncode == EXIT_OK, done.stdout + done.stderr
    history = findly(tmp_path, env, "--state", ".findly/demo.sqlite3", "history", "fn-posts", "--json")
    assert history.returncode == EXIT_OK, history.stderr
    approvals = [e for e in json.loads(history.stdout)["events"] if e["type"] == "approval_granted"]
    assert approvals
    assert all(e["identity"]["issuer"] == "simulated" for e in approvals)
