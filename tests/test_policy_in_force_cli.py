"""The attack on the policy, end to end through the command line (issue 22): the real platform file verifies
production's approvers (GitHub OIDC, the stand-in as issuer and runner); a workflow on another branch, with the shared
state's URL, points ``FINDLY_CONFIG`` at a copy without ``identity:`` — or naming its own issuer, or with an extra
member — and tries to record name-only approvals. Each command is its own process on one SQLite state, as two
workflows' jobs would run them."""

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

from findly_infra.cli.exits import EXIT_BAD_INPUT, EXIT_OK, EXIT_REFUSED
from findly_infra.examples import example_platform_text
from findly_infra.testing.github_oidc import GitHubOidcStandIn
from tests.conftest import PAST

SERVICE, VERSION = "fn-posts", "1.4.0"
IDENTITY = """    identity:
      verified: true
      repositories: [findly-now/services]
      workflows: [.github/workflows/release.yml]
      refs: [refs/heads/main]
"""
GROUPS = """approver_groups:
  devops-team: [{login: alice, id: 1001}, {login: bob, id: 1002}]
  security-team: [{login: carol, id: 3003}, {login: dave, id: 4004}]
"""
BRANCH = {
    "ref": "refs/heads/mallory-patch",
    "workflow_ref": "findly-now/services/.github/workflows/release.yml@refs/heads/mallory-patch",
}


def platform_text(issuer: str, *, identity: str = IDENTITY, groups: str = GROUPS) -> str:
    """The example platform file, production verifying *identity* with *groups*, tokens from *issuer*."""
    text = example_platform_text()
    production = text.index("  production:\n")
    at = text.index("    deployment_strategy:", production)
    text = text[:at] + identity + text[at:]
    start = text.index("approver_groups:\n")
    end = text.index("\n\n", start) + 1
    return text[:start] + groups + text[end:] + f"\ngithub_oidc:\n  issuer: {issuer!r}\n"


class Workflows:
    """One repository's workflows sharing one state: each command its own process, with its own platform file."""

    def __init__(self, folder: Path, github: GitHubOidcStandIn) -> None:
        self.folder, self.github = folder, github
        (folder / "findly.yaml").write_text(platform_text(github.url))
        outside = {k: v for k, v in os.environ.items() if not k.startswith(("FINDLY_", "GITHUB_", "ACTIONS_"))}
        self.base = outside | {"FINDLY_STATE": str(folder / "state.sqlite3"), "FINDLY_NOW": PAST}

    def file(self, name: str, text: str) -> str:
        (self.folder / name).write_text(text)
        return str(self.folder / name)

    def run(self, *args: str, job: dict[str, str] | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "findly_infra", *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**self.base, **(job or {}), **env},
            cwd=self.folder,
            check=False,
        )

    def ok(self, *args: str, job: dict[str, str] | None = None, **env: str) -> str:
        done = self.run(*args, job=job, **env)
        assert done.returncode == EXIT_OK, done.stdout + done.stderr
        return done.stdout

    def job(self, actor: str, actor_id: str, run_id: int, **claims: str) -> dict[str, str]:
        return self.github.job(actor=actor, actor_id=actor_id, run_id=str(run_id), **claims)

    def recorded(self) -> tuple[int, int, Any]:
        """What the state holds: the service's events, the policy's, and every stream's head."""
        verified = self.run("state", "verify", "--json")
        assert verified.returncode == EXIT_OK, verified.stdout + verified.stderr
        streams = json.loads(verified.stdout)["streams"]
        return streams[SERVICE]["events"], streams["_policy"]["events"], streams

    def refused(self, rule: str, *args: str, job: dict[str, str] | None = None, **env: str) -> str:
        """*args* refused by *rule* (exit 3), nothing recorded in any stream; the message."""
        before = self.recorded()
        result = self.run(*args, "--json", job=job, **env)
        assert result.returncode == EXIT_REFUSED, result.stdout + result.stderr
        error = json.loads(result.stdout)["error"]
        assert error["rule"] == rule, error
        assert self.recorded() == before
        return str(error["message"])


def _staged(workflows: Workflows, **env: str) -> None:
    """1.4.0 through development and staging (names are enough there)."""
    for environment, suites in (
        ("development", ("unit", "integration", "smoke")),
        ("staging", ("e2e", "performance", "security", "load")),
    ):
        command = (
            ("deploy", SERVICE, VERSION, "--env", environment)
            if environment == "development"
            else ("promote", SERVICE, VERSION, "--to", environment)
        )
        workflows.ok(*command, FINDLY_ACTOR="ci", **env)
        workflows.ok(
            "rollout", SERVICE, "--env", environment, "--watch", "--version", VERSION, FINDLY_ACTOR="ci", **env
        )
        for suite in suites:
            workflows.ok(
                "record", SERVICE, VERSION, "--env", environment, "--suite", suite, "--passed", FINDLY_ACTOR="ci", **env
            )


@pytest.fixture(scope="module")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, GitHubOidcStandIn]]:
    """A state in which the real file's policy is in force and 1.4.0 waits to enter production (bob asked)."""
    folder = tmp_path_factory.mktemp("staged")
    with GitHubOidcStandIn() as github:
        workflows = Workflows(folder, github)
        _staged(workflows)
        asked = workflows.run("promote", SERVICE, VERSION, "--to", "production", job=workflows.job("bob", "1002", 2001))
        assert asked.returncode == EXIT_REFUSED, asked.stdout + asked.stderr
        yield folder, github


@pytest.fixture
def workflows(tmp_path: Path, staged: tuple[Path, GitHubOidcStandIn]) -> Workflows:
    folder, github = staged
    shutil.copyfile(folder / "state.sqlite3", tmp_path / "state.sqlite3")
    return Workflows(tmp_path, github)


def test_a_copy_without_identity_records_nothing_and_the_verified_release_goes_on(workflows: Workflows) -> None:
    weak = workflows.file("weak.yaml", platform_text(workflows.github.url, identity=""))
    attack = {"FINDLY_CONFIG": weak}
    # name-only approvals, from a terminal or a branch's workflow: refused by the policy in force, nothing recorded
    for name in ("alice", "carol"):
        message = workflows.refused(
            "policy-in-force", "approve", SERVICE, VERSION, "--env", "production", "--actor", name, **attack
        )
        assert "production: identities are no longer verified" in message
        assert f"{name} is a name, not a proof" in message
        assert "refs refs/heads/main" in message  # what the policy in force accepts
    # the same from a branch's run with a token: the token is asked for (the policy in force verifies), and refused
    branch = workflows.job("mallory", "6666", 3001, **BRANCH)
    issued = workflows.github.tokens_issued
    message = workflows.refused(
        "policy-in-force", "promote", SERVICE, VERSION, "--to", "production", job=branch, **attack
    )
    assert workflows.github.tokens_issued == issued + 1
    assert "ran on refs/heads/mallory-patch (claim ref), not refs/heads/main" in message
    # evidence is not what the policy decides: recorded, and the policy in force unchanged
    workflows.ok(
        "record", SERVICE, VERSION, "--env", "staging", "--suite", "e2e", "--passed", FINDLY_ACTOR="mallory", **attack
    )
    shown = json.loads(workflows.ok("policy", "show", "--json", **attack))
    assert len(shown["adoptions"]) == 1
    assert shown["file"]["weakenings"] == ["production: identities are no longer verified: names are trusted"]
    # the verified release: two verified approvers, bob promotes
    approve = ("approve", SERVICE, VERSION, "--env", "production")
    workflows.ok(*approve, job=workflows.job("alice", "1001", 2010))
    workflows.ok(*approve, job=workflows.job("carol", "3003", 2011))
    promoted = workflows.run("promote", SERVICE, VERSION, "--to", "production", job=workflows.job("bob", "1002", 2012))
    assert promoted.returncode == EXIT_OK, promoted.stdout + promoted.stderr
    assert workflows.run("state", "verify").returncode == EXIT_OK


@pytest.mark.parametrize(
    ("change", "weakening"),
    [
        ({"issuer": "https://mallory.example"}, "the issuer of the tokens is https://mallory.example"),
        (
            {"groups": GROUPS.replace("{login: dave, id: 4004}]", "{login: dave, id: 4004}, mallory]")},
            "mallory joins security-team",
        ),
        (
            {
                "identity": IDENTITY.replace(
                    "refs: [refs/heads/main]", "refs: [refs/heads/main, refs/heads/mallory-patch]"
                )
            },
            "refs also accept refs/heads/mallory-patch",
        ),
    ],
)
def test_a_copy_naming_another_issuer_or_another_member_or_its_own_branch_is_refused(
    workflows: Workflows, change: dict[str, str], weakening: str
) -> None:
    issuer = change.pop("issuer", workflows.github.url)
    copy = workflows.file("copy.yaml", platform_text(issuer, **change))
    branch = workflows.job("mallory", "6666", 3002, **BRANCH)
    message = workflows.refused(
        "policy-in-force", "approve", SERVICE, VERSION, "--env", "production", job=branch, FINDLY_CONFIG=copy
    )
    assert weakening in message


def test_name_only_approvals_recorded_before_the_policy_verified_do_not_count(tmp_path: Path) -> None:
    """A state whose first writer trusted names (a branch's copy, run first — or a state written before policies
    were bound to it): its name-only approvals are judged when counted, under the real policy once in force."""
    with GitHubOidcStandIn() as github:
        workflows = Workflows(tmp_path, github)
        attack = {"FINDLY_CONFIG": workflows.file("weak.yaml", platform_text(github.url, identity=""))}
        _staged(workflows, **attack)
        asked = workflows.run("promote", SERVICE, VERSION, "--to", "production", FINDLY_ACTOR="mallory", **attack)
        assert asked.returncode == EXIT_REFUSED, asked.stdout + asked.stderr
        for name in ("alice", "carol"):
            workflows.ok("approve", SERVICE, VERSION, "--env", "production", "--actor", name, **attack)
        # the real workflow, on main: its file strengthens the policy in force (adopted), and counts nothing of those
        bob = workflows.job("bob", "1002", 2001)
        service_events, _, _ = workflows.recorded()
        refused = workflows.run("promote", SERVICE, VERSION, "--to", "production", "--json", job=bob)
        assert refused.returncode == EXIT_REFUSED, refused.stdout + refused.stderr
        error = json.loads(refused.stdout)["error"]
        assert error["rule"] == "approvals", error
        # the policy adopted first; and mallory's request, a name, proves no one: asked again, by bob's proof
        assert workflows.recorded()[:2] == (service_events + 1, 2)
        asked = json.loads(workflows.ok("history", SERVICE, "--json", "--limit", "1"))["events"][-1]
        assert (asked["type"], asked["actor"], asked["identity"]["user_id"]) == ("promotion_requested", "bob", "1002")
        assert asked["identity"]["proof"].startswith("sha256:")  # the token is kept, and never shown
        message = error["message"]
        assert "needs an approval from each of devops-team and security-team" in message
        assert "alice's approval for devops-team" in message
        assert message.count("a name, not a verified identity") == 2
        shown = json.loads(workflows.ok("policy", "show", "--json"))
        assert [a["reason"] for a in shown["adoptions"]] == ["the first policy", "strengthened"]
        assert shown["adoptions"][1]["identity"]["user_id"] == "1002"  # who adopted it, proven
        # verified alice and carol approve (their names were not theirs), bob promotes
        workflows.ok("approve", SERVICE, VERSION, "--env", "production", job=workflows.job("alice", "1001", 2010))
        workflows.ok("approve", SERVICE, VERSION, "--env", "production", job=workflows.job("carol", "3003", 2011))
        workflows.ok("promote", SERVICE, VERSION, "--to", "production", job=workflows.job("bob", "1002", 2012))


def test_a_weaker_policy_takes_effect_from_the_protected_workflow_on_the_protected_ref(workflows: Workflows) -> None:
    """How a team changes its policy: a reviewed change of the file, adopted by a run of the protected workflow on
    the protected ref (``policy adopt``, with ``id-token: write``). From a branch: refused, nothing recorded — a
    strengthening too, where the policy in force verifies identities (issue 22: a branch removing a member, or
    shortening the expiry to a second, would otherwise stop every release)."""
    without_dave = GROUPS.replace(", {login: dave, id: 4004}", "")
    workflows.file("findly.yaml", platform_text(workflows.github.url, groups=without_dave))
    branch = workflows.job("mallory", "6666", 4001, **BRANCH)
    assert "dave leaves security-team" in workflows.refused("policy-in-force", "policy", "adopt", job=branch)
    stronger = json.loads(workflows.ok("policy", "adopt", "--json", job=workflows.job("bob", "1002", 4000)))
    assert stronger["adoption"]["changes"] == ["production: dave leaves security-team"]
    unrestricted = IDENTITY.replace("      refs: [refs/heads/main]\n", "")
    workflows.file("findly.yaml", platform_text(workflows.github.url, identity=unrestricted, groups=without_dave))
    branch = workflows.job("mallory", "6666", 4003, **BRANCH)  # the stand-in's tokens are of the latest job
    assert "refs are no longer restricted" in workflows.refused("policy-in-force", "policy", "adopt", job=branch)
    assert "bob is a name, not a proof" in workflows.refused("policy-in-force", "policy", "adopt", FINDLY_ACTOR="bob")
    adopted = json.loads(workflows.ok("policy", "adopt", "--json", job=workflows.job("bob", "1002", 4002)))
    assert adopted["adopted"] is True
    assert adopted["adoption"]["weakenings"] == ["production: refs are no longer restricted (were refs/heads/main)"]
    assert adopted["adoption"]["identity"]["run_id"] == "4002"
    shown = workflows.ok("policy", "show")
    assert "bob (id 1002) via findly-now/services/.github/workflows/release.yml@refs/heads/main run 4002" in shown
    assert workflows.run("state", "verify").returncode == EXIT_OK


def test_state_verify_walks_the_policy_stream_and_names_an_edit(workflows: Workflows) -> None:
    import sqlite3

    _, _, streams = workflows.recorded()
    head = streams["_policy"]["head"]
    db = sqlite3.connect(workflows.folder / "state.sqlite3")
    db.execute(
        "UPDATE events SET body = replace(body, '\"verified\": true', '\"verified\": false') WHERE service = '_policy'"
    )
    db.commit()
    db.close()
    verified = workflows.run("state", "verify", "--expect", head)
    assert verified.returncode == EXIT_BAD_INPUT, verified.stdout
    assert "_policy: event 0 does not match its link" in verified.stdout


def test_a_key_the_issuer_retired_freezes_what_it_proved_until_the_owner_anchors(tmp_path: Path) -> None:
    """GitHub rotates its signing keys: a policy change adopted with a token of a key no longer published can no
    longer be checked, so decisions in the environment it guards are refused (rule ``policy-in-force``, naming the
    key) — others go on — until the state's owner anchors the policy in force (``policy anchor``); the request made
    with the old key is asked again, and the release goes on."""
    with GitHubOidcStandIn() as github:
        workflows = Workflows(tmp_path, github)
        _staged(workflows)
        without_dave = GROUPS.replace(", {login: dave, id: 4004}", "")
        workflows.file("findly.yaml", platform_text(github.url, groups=without_dave))
        workflows.ok("policy", "adopt", job=workflows.job("bob", "1002", 2000))
        asked = workflows.run("promote", SERVICE, VERSION, "--to", "production", job=workflows.job("bob", "1002", 2001))
        assert asked.returncode == EXIT_REFUSED, asked.stdout + asked.stderr  # asked, approvals missing
        github.rotate("key-2")
        github.published.remove("key-1")  # the adoption's and the request's tokens are signed by key-1
        frozen = workflows.refused(
            "policy-in-force",
            "approve",
            SERVICE,
            VERSION,
            "--env",
            "production",
            job=workflows.job("alice", "1001", 2010),
        )
        assert "production's policy in force cannot be proven" in frozen
        assert "key-1" in frozen
        workflows.ok("deploy", SERVICE, "1.5.0", "--env", "development", FINDLY_ACTOR="ci")  # not frozen there
        anchored = json.loads(workflows.ok("policy", "anchor", "--json", FINDLY_ACTOR="owner"))["anchor"]
        assert anchored["position"] == 1  # the adoption in force, kept as it stands
        assert json.loads(workflows.ok("policy", "show", "--json"))["anchored"] == 1
        stale = workflows.refused(
            "approval-target",
            "approve",
            SERVICE,
            VERSION,
            "--env",
            "production",
            job=workflows.job("alice", "1001", 2010),
        )
        assert "that request is not proven" in stale
        assert "key-1" in stale
        asked = workflows.run("promote", SERVICE, VERSION, "--to", "production", job=workflows.job("bob", "1002", 2012))
        assert asked.returncode == EXIT_REFUSED, asked.stdout + asked.stderr  # asked again, with key-2
        workflows.ok("approve", SERVICE, VERSION, "--env", "production", job=workflows.job("alice", "1001", 2013))
        workflows.ok("approve", SERVICE, VERSION, "--env", "production", job=workflows.job("carol", "3003", 2014))
        workflows.ok("promote", SERVICE, VERSION, "--to", "production", job=workflows.job("bob", "1002", 2015))


def test_events_written_with_the_state_credentials_count_only_for_what_their_tokens_prove(workflows: Workflows) -> None:
    """The review's attacks e4 and e10, with what the state's credentials allow (events appended by the library's
    own store, as a branch's job holding them could): approvals carrying alice's and carol's real tokens from
    release.yml on main — asked for another purpose (an approval of another service; carol's promotion of this one)
    — do not count, each named; and a weaker policy appended to the policy stream with an adopter's identity beside
    it is not in force (``policy show`` names it), so a copy without ``identity:`` is still refused."""
    import jwt

    from findly_infra import load_platform
    from findly_infra.adapters.sqlite import SqliteEventStore
    from findly_infra.application.policies import policy_digest
    from findly_infra.domain import POLICY_STREAM, ApprovalGranted, PlatformPolicy, PolicyAdopted, identity_from_claims
    from findly_infra.domain.proofs import APPROVE, PROMOTE, purpose_audience

    github = workflows.github
    store = SqliteEventStore(str(workflows.folder / "state.sqlite3"))
    events, version = store.load(SERVICE)
    forged = []
    for login, user_id, group, audience in (
        (
            "alice",
            "1001",
            "devops-team",
            purpose_audience("findly-infra", APPROVE, "fn-notifications", "2.0.0", "production"),
        ),
        ("carol", "3003", "security-team", purpose_audience("findly-infra", PROMOTE, SERVICE, VERSION, "production")),
    ):
        workflows.job(login, user_id, 2100)
        token = github.mint(aud=audience)
        identity = identity_from_claims(jwt.decode(token, options={"verify_signature": False}), token=token)
        forged.append(
            ApprovalGranted(
                service=SERVICE,
                environment="production",
                version=VERSION,
                at=events[-1].at,
                actor=login,
                group=group,
                identity=identity,
            )
        )
    store.append(SERVICE, version, tuple(forged))
    weak = workflows.file("weak.yaml", platform_text(github.url, identity=""))
    policy = PlatformPolicy.of(load_platform(weak))
    adopted, length = store.load(POLICY_STREAM)
    store.append(
        POLICY_STREAM,
        length,
        (
            PolicyAdopted(
                service=POLICY_STREAM,
                environment="",
                version="",
                at=adopted[-1].at,
                actor="bob",
                reason="weakened",
                policy=policy,
                digest=policy_digest(policy),
                identity=forged[0].identity,
            ),
        ),
    )
    store.close()
    message = workflows.refused(
        "approvals", "promote", SERVICE, VERSION, "--to", "production", job=workflows.job("bob", "1002", 2012)
    )
    for login in ("alice", "carol"):
        assert f"{login}'s approval for" in message
    assert message.count("the token is for another audience") == 2
    shown = workflows.ok("policy", "show")
    assert "NOT IN FORCE" in shown
    workflows.refused(
        "policy-in-force", "approve", SERVICE, VERSION, "--env", "production", "--actor", "alice", FINDLY_CONFIG=weak
    )


def test_an_anchor_the_policy_stream_does_not_hold_blocks_every_decision(tmp_path: Path) -> None:
    """An owner's anchor past the policy stream's end (a state restored from an older backup, the anchor row kept):
    nothing could be in force, and the file given would judge — so every decision is refused, naming the anchor,
    and nothing is recorded, until the owner anchors again (the anchor review found the decisions let through)."""
    import sqlite3

    with GitHubOidcStandIn() as github:
        workflows = Workflows(tmp_path, github)
        workflows.ok("deploy", SERVICE, VERSION, "--env", "development", FINDLY_ACTOR="ci")
        workflows.ok("policy", "anchor", FINDLY_ACTOR="owner")
        with sqlite3.connect(tmp_path / "state.sqlite3") as state:
            state.execute("UPDATE policy_anchor SET position = 3")
        weak = workflows.file("weak.yaml", platform_text(github.url, identity=""))
        for environment in ("development", "production"):
            message = workflows.refused(
                "policy-in-force",
                "deploy",
                SERVICE,
                "1.5.0",
                "--env",
                environment,
                FINDLY_ACTOR="ci",
                FINDLY_CONFIG=weak,
            )
            assert "the owner's anchor names _policy@3" in message
        workflows.ok("policy", "anchor", FINDLY_ACTOR="owner")  # anchored again: decided as before
        assert "already done" in workflows.ok("deploy", SERVICE, VERSION, "--env", "development", FINDLY_ACTOR="ci")
