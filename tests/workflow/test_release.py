"""The release workflow (examples/workflows/release.yml) run as GitHub runs it (tests/workflow/runner.py): events a
real repository sends, each job a fresh environment with only what it declares, our Action installing findly-infra
into a real venv, real time on a quick-stage platform, one real PostgreSQL shared by the jobs as FINDLY_STATE."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from findly_infra.testing.github_oidc import GitHubOidcStandIn
from tests.workflow.conftest import ACCOUNTS, WORKFLOW, MakeRunner, Repository, quick_platform, weakened
from tests.workflow.runner import Event, JobResult, RunResult

UNDER_TEST = Path(os.environ.get("FINDLY_RELEASE_WORKFLOW", WORKFLOW))
"""The workflow these tests run: set FINDLY_RELEASE_WORKFLOW to another file to see what they say of it (the
workflow the GitHub Actions page showed before issue 25 fails each of them)."""

pytestmark = pytest.mark.timeout(600)


def _history(url: str, repo: Repository) -> list[dict[str, Any]]:
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
        cwd=repo.path,
        capture_output=True,
        text=True,
        check=True,
    )
    events: list[dict[str, Any]] = json.loads(run.stdout)["events"]
    return events


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    return Repository(tmp_path / "services", quick_platform())


def _ran(run: RunResult) -> dict[str, str]:
    return {name: result for name, result in run.results().items() if result != "skipped"}


def _job(run: RunResult, name: str) -> JobResult:
    return run.jobs[name]


def _merge(repo: Repository, runner: Any, message: str = "a change") -> tuple[str, RunResult]:
    """A push to main: its version (the short SHA the workflow names it by), and the run."""
    sha = repo.commit("main", message)
    run = runner.run(Event("push", "refs/heads/main", sha))
    return sha[:12], run


def _dispatch(runner: Any, action: str, version: str, actor: str, ref: str = "refs/heads/main") -> RunResult:
    sha = subprocess.run(
        ["git", "-C", str(runner.repository), "rev-parse", ref.removeprefix("refs/heads/")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return runner.run(Event("workflow_dispatch", ref, sha, actor, {"action": action, "version": version}))


def test_a_feature_branch_releases_to_development_and_main_to_staging(
    repo: Repository, make_runner: MakeRunner, pg_url: str
) -> None:
    runner = make_runner(
        repo,
        UNDER_TEST,
        secrets={"FINDLY_STATE": pg_url},
        variables={
            "IMAGE": "us-docker.pkg.dev/findly-now/services/fn-posts",
            "REGISTRY": "us-docker.pkg.dev",
            "WIF_PROVIDER": "projects/1/locations/global/workloadIdentityPools/github/providers/services",
            "WIF_SERVICE_ACCOUNT": "deploy-development@findly-now.iam.gserviceaccount.com",
        },
    )
    sha = repo.commit("feature/search", "search")
    pushed = runner.run(Event("push", "refs/heads/feature/search", sha))
    assert _ran(pushed) == {"state": "success", "development": "success"}, pushed.text()
    version, merged = _merge(repo, runner)
    assert _ran(merged) == {"state": "success", "development": "success", "staging": "success"}, merged.text()
    # the image the version names, built and pushed before it was deployed (stood in: the tags asked for)
    assert runner.pushed == [
        f"us-docker.pkg.dev/findly-now/services/fn-posts:{sha[:12]}",
        f"us-docker.pkg.dev/findly-now/services/fn-posts:{version}",
    ]
    events = _history(pg_url, repo)
    recorded = {(e["version"], e["environment"], e["suite"]) for e in events if e["type"] == "test_result_recorded"}
    assert {(version, "development", s) for s in ("unit", "integration", "smoke")} <= recorded
    assert {(version, "staging", s) for s in ("e2e", "performance", "security", "load")} <= recorded
    succeeded = {(e["version"], e["environment"]) for e in events if e["type"] == "rollout_succeeded"}
    assert {(sha[:12], "development"), (version, "development"), (version, "staging")} <= succeeded


def test_without_the_state_secret_the_first_job_refuses_and_nothing_runs(
    repo: Repository, make_runner: MakeRunner
) -> None:
    """Issue 25: without FINDLY_STATE each job had a database of its own (staging refused by promotion-order, the
    approve and production jobs exit 5): now the first job refuses the run, saying what to set."""
    runner = make_runner(repo, UNDER_TEST)  # no secrets: GitHub gives secrets.FINDLY_STATE as ''
    sha = repo.commit("main", "a change")
    run = runner.run(Event("push", "refs/heads/main", sha))
    first = next(iter(run.jobs.values()))
    assert first.result == "failure", run.text()
    assert "::error title=FINDLY_STATE is not set::" in first.text()
    assert all(job.result == "skipped" for job in list(run.jobs.values())[1:]), run.text()


def test_two_branches_pushed_together_queue_for_development(
    repo: Repository, make_runner: MakeRunner, pg_url: str
) -> None:
    """Issue 25: development's concurrency group was per branch, so a second branch's deploy ran beside the first's
    rollout and was refused by one-rollout-at-a-time: now the environment's group queues it."""
    runner = make_runner(repo, UNDER_TEST, secrets={"FINDLY_STATE": pg_url})
    first, second = repo.commit("feature/a", "a"), repo.commit("feature/b", "b")
    runs = runner.run_together(
        Event("push", "refs/heads/feature/a", first), Event("push", "refs/heads/feature/b", second)
    )
    for run in runs:
        assert run.jobs["development"].result == "success", run.text()
    succeeded = {e["version"] for e in _history(pg_url, repo) if e["type"] == "rollout_succeeded"}
    assert {first[:12], second[:12]} <= succeeded


def test_a_branch_pushed_behind_main_never_cancels_main_s_way_to_staging(
    repo: Repository, make_runner: MakeRunner, pg_url: str
) -> None:
    """Issue 25 (review): GitHub kept one pending job per group and a newer one cancelled it, so a feature branch
    pushed while main's development job was pending cancelled it, and main's commit never reached staging. With
    `queue: max` the three development jobs run in the order they came and main's goes on to staging."""
    runner = make_runner(repo, UNDER_TEST, secrets={"FINDLY_STATE": pg_url})
    branches = ("feature/a", "main", "feature/b")
    shas = [repo.commit(branch, branch) for branch in branches]
    runs = runner.run_together(*(Event("push", f"refs/heads/{b}", s) for b, s in zip(branches, shas, strict=True)))
    for run in runs:
        assert run.jobs["development"].result == "success", run.text()
    assert runs[1].jobs["staging"].result == "success", runs[1].text()
    development = [item for item in runner.concurrency.started if item[0] == "findly-development"]
    assert development == [item for item in runner.concurrency.arrived if item[0] == "findly-development"]
    succeeded = {(e["version"], e["environment"]) for e in _history(pg_url, repo) if e["type"] == "rollout_succeeded"}
    assert {(s[:12], "development") for s in shas} | {(shas[1][:12], "staging")} <= succeeded


def _to_staging(repo: Repository, runner: Any) -> str:
    version, run = _merge(repo, runner)
    assert run.jobs["staging"].result == "success", run.text()
    return version


def test_a_dispatch_from_a_branch_that_drops_the_approvals_is_held_to_main_s(
    repo: Repository, make_runner: MakeRunner, pg_url: str
) -> None:
    """Issue 25: a dispatch read the platform file of the ref it named, so a branch could drop production's approvals
    and promote: now every job reads the default branch's file."""
    runner = make_runner(repo, UNDER_TEST, secrets={"FINDLY_STATE": pg_url})
    version = _to_staging(repo, runner)
    repo.commit(
        "feature/no-approvals", "no approvals", {"findly.yaml": weakened((repo.path / "findly.yaml").read_text())}
    )
    run = _dispatch(runner, "promote", version, "mallory", ref="refs/heads/feature/no-approvals")
    assert run.jobs["production"].result == "failure", run.text()
    assert "refused by approvals" in run.jobs["production"].text()
    assert not [
        e for e in _history(pg_url, repo) if e["environment"] == "production" and e["type"] == "rollout_started"
    ]


VERIFIED = """    identity:
      verified: true
      repositories: [findly-now/services]
      workflows: [.github/workflows/release.yml]
      refs: [refs/heads/main]
      github_environments: [production, production-approval]
"""


def _verified(text: str, issuer: str) -> str:
    production = text.index("  production:\n")
    at = text.index("    deployment_strategy:", production)
    groups = "approver_groups:\n  devops-team: [alice, bob]\n  security-team: [carol, dave]\n"
    members = "approver_groups:\n" + "".join(
        f"  {group}: [{', '.join(f'{{login: {p}, id: {ACCOUNTS[p]}}}' for p in people)}]\n"
        for group, people in (("devops-team", ("alice", "bob")), ("security-team", ("carol", "dave")))
    )
    text = (text[:at] + VERIFIED + text[at:]).replace(groups, members)
    assert members in text
    return text + f"\ngithub_oidc:\n  issuer: {issuer!r}\n"


def test_the_approve_job_s_token_combines_github_environments_with_the_identity_policy(
    tmp_path: Path, make_runner: MakeRunner, pg_url: str
) -> None:
    """Issue 25: docs/security.md's combination (github_environments in the identity policy) refused the approve
    job's tokens, since it ran in no GitHub environment: now it runs in production-approval, which the policy lists,
    and the promotion in production."""
    with GitHubOidcStandIn() as github:
        repo = Repository(tmp_path / "services", _verified(quick_platform(), github.url))
        runner = make_runner(repo, UNDER_TEST, secrets={"FINDLY_STATE": pg_url}, oidc=github)
        version = _to_staging(repo, runner)
        asked = _dispatch(runner, "promote", version, "bob")
        assert asked.jobs["production"].result == "failure", asked.text()  # proven, recorded, awaiting approvals
        assert "refused by approvals" in asked.jobs["production"].text()
        for who in ("alice", "carol"):
            approved = _dispatch(runner, "approve", version, who)
            assert approved.jobs["approve"].result == "success", approved.text()
        promoted = _dispatch(runner, "promote", version, "bob")
        assert promoted.jobs["production"].result == "success", promoted.text()
        production = [e for e in _history(pg_url, repo) if e["environment"] == "production"]
        approvals = [e for e in production if e["type"] == "approval_granted"]
        assert [(e["actor"], e["identity"]["environment"]) for e in approvals] == [
            ("alice", "production-approval"),
            ("carol", "production-approval"),
        ]
        started = next(e for e in production if e["type"] == "rollout_started")
        assert (started["identity"]["login"], started["identity"]["environment"]) == ("bob", "production")
        assert production[-1]["type"] == "rollout_succeeded"


def test_with_a_prometheus_named_the_action_installs_its_extra(
    repo: Repository, make_runner: MakeRunner, pg_url: str
) -> None:
    """Issue 25: a variable PROMETHEUS_URL made every command need the prometheus extra, which the install line
    lacked (exit 2): the Action derives the extras from the settings. Nothing listens at the URL: the command gets
    as far as reading it (exit 5, unreachable), never exit 2."""
    runner = make_runner(
        repo, UNDER_TEST, secrets={"FINDLY_STATE": pg_url}, variables={"PROMETHEUS_URL": "http://127.0.0.1:9"}
    )
    sha = repo.commit("feature/metrics", "metrics")
    run = runner.run(Event("push", "refs/heads/feature/metrics", sha))
    development = run.jobs["development"]
    assert "needs the prometheus extra" not in development.text(), development.text()
    assert "-extras-postgresql+prometheus" in development.text()  # the venv the Action built and cached
    deploy = next(code for name, code, _ in development.log if name == "Deploy to development")
    assert deploy == 5, development.text()


def test_a_long_canary_is_carried_on_by_the_scheduled_job(
    repo: Repository, make_runner: MakeRunner, pg_url: str
) -> None:
    """Issue 25: a real-time production canary held a runner for an hour: the production job advances it for a
    while (here 1 s of a 6 s canary, as 10 minutes of an hour's), and scheduled runs carry out the steps due since
    and those of their next minutes (here 1 s each), then return; the lease makes a run beside another safe."""
    text = UNDER_TEST.read_text()
    assert "--for\n            10m\n" in text
    assert "--for\n            4m\n" in text
    shortened = text.replace("--for\n            10m\n", "--for\n            1s\n")
    shortened = shortened.replace("--for\n            4m\n", "--for\n            1s\n")
    runner = make_runner(repo, shortened, secrets={"FINDLY_STATE": pg_url})
    repo.commit(
        "main", "production without approvals: not what this test is about", {"findly.yaml": weakened(quick_platform())}
    )
    version = _to_staging(repo, runner)
    promoted = _dispatch(runner, "promote", version, "bob")
    assert promoted.jobs["production"].result == "success", promoted.text()
    assert "progressing" in promoted.jobs["production"].text()  # the job ended, the canary goes on
    main = repo.commit("main", "unrelated")
    outcomes = []
    for _ in range(40):
        scheduled = runner.run(Event("schedule", "refs/heads/main", main, actor="erin"))
        assert scheduled.jobs["resume"].result == "success", scheduled.text()
        production = [e for e in _history(pg_url, repo) if e["environment"] == "production"]
        outcomes.append(production[-1]["type"])
        if production[-1]["type"] == "rollout_succeeded":
            break
    assert outcomes[-1] == "rollout_succeeded", outcomes
    idle = runner.run(Event("schedule", "refs/heads/main", main, actor="erin"))
    assert "nothing_due" in idle.jobs["resume"].text() or "nothing is due" in idle.jobs["resume"].text(), idle.text()


def test_a_bound_cluster_gets_its_credentials_and_its_extra(
    repo: Repository, make_runner: MakeRunner, pg_url: str, tmp_path: Path
) -> None:
    """Issue 25: binding a cluster made every deploy exit 2 (no kubernetes extra) and there was no credentials step:
    the development job gets the cluster's kubeconfig through Workload Identity Federation (stood in: the Kubernetes
    stand-in's kubeconfig, under the context get-gke-credentials names) and the Action installs the extra."""
    pytest.importorskip("kubernetes", reason="the kubernetes extra")
    from findly_infra.testing.kubernetes import KubernetesStandIn

    context = "gke_findly-now_us-central1_findly-dev"
    platform = (repo.path / "findly.yaml").read_text()
    bound = re.sub(
        r"(?m)^  kubernetes_version: .*$",
        lambda m: m.group(0) + f"\n  clusters: {{development: {{context: {context}}}}}",
        platform,
        count=1,
    )
    assert bound != platform
    sha = repo.commit("main", "bind development", {"findly.yaml": bound})
    feature = repo.commit("feature/cluster", "on the cluster")
    with KubernetesStandIn() as cluster, cluster.controller():
        # the cluster's administrator sets the environment up once, as kubernetes.md says (not the workflow's job)
        kubeconfig = tmp_path / "admin-kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(cluster.kubeconfig(context)))
        admin = subprocess.run(
            [
                sys.executable,
                "-m",
                "findly_infra",
                "--config",
                "findly.yaml",
                "apply",
                "--env",
                "development",
                "--context",
                context,
            ],
            cwd=repo.path,
            env={"PATH": os.environ["PATH"], "KUBECONFIG": str(kubeconfig), "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            check=False,
        )
        assert admin.returncode == 0, admin.stdout + admin.stderr
        runner = make_runner(
            repo,
            UNDER_TEST,
            secrets={"FINDLY_STATE": pg_url},
            variables={
                "WIF_PROVIDER": "projects/1/locations/global/workloadIdentityPools/github/providers/services",
                "WIF_SERVICE_ACCOUNT": "deploy-development@findly-now.iam.gserviceaccount.com",
                "GKE_CLUSTER": "findly-dev",
                "GKE_LOCATION": "us-central1",
                "GCP_PROJECT": "findly-now",
            },
            kubeconfig=cluster.kubeconfig,
        )
        run = runner.run(Event("push", "refs/heads/feature/cluster", feature))
        development = run.jobs["development"]
        assert development.result == "success", run.text()
        assert "-extras-kubernetes+postgresql" in development.text()
        assert "simulated: no cluster is bound" not in development.text()
        assert sha != feature


@pytest.mark.parametrize(
    ("variables", "missing"),
    [
        ({"GKE_CLUSTER": "findly-dev", "GKE_LOCATION": "us-central1", "GCP_PROJECT": "findly-now"}, "WIF_PROVIDER"),
        ({"IMAGE": "us-docker.pkg.dev/findly-now/services/fn-posts"}, "REGISTRY"),
    ],
)
def test_a_partial_google_cloud_setup_fails_first_naming_what_is_missing(
    repo: Repository, make_runner: MakeRunner, pg_url: str, variables: dict[str, str], missing: str
) -> None:
    """Issue 25 (review): the auth step was gated on WIF_PROVIDER, the login and the cluster's credentials on IMAGE
    and GKE_CLUSTER: a partial setup failed later and unclearly. Now the first job names the missing variable."""
    runner = make_runner(repo, UNDER_TEST, secrets={"FINDLY_STATE": pg_url}, variables=variables)
    run = runner.run(Event("push", "refs/heads/feature/gcp", repo.commit("feature/gcp", "gcp")))
    assert run.jobs["state"].result == "failure", run.text()
    assert "::error title=Google Cloud variables missing::" in run.jobs["state"].text()
    assert missing in run.jobs["state"].text()
    assert run.jobs["development"].result == "skipped"


def test_a_failed_rollout_records_no_evidence_and_says_so(
    repo: Repository, make_runner: MakeRunner, pg_url: str
) -> None:
    """Issue 25 (review): when the rollout failed the suites never ran, and the always() step recording their
    reports failed with exit 2 (no such report): it now records only the reports that exist."""
    text = UNDER_TEST.read_text().replace(
        "  SERVICE: fn-posts\n",
        "  SERVICE: fn-posts\n  FINDLY_SCENARIO: no-traffic   # the test's: analysis cannot pass\n",
        1,
    )
    runner = make_runner(repo, text, secrets={"FINDLY_STATE": pg_url})
    run = runner.run(Event("push", "refs/heads/feature/quiet", repo.commit("feature/quiet", "quiet")))
    development = run.jobs["development"]
    assert development.result == "failure", run.text()
    steps = {name: code for name, code, _ in development.log}
    assert steps["Record development's evidence (failures too)"] == 0, development.text()
    assert "no report of the unit suite" in development.text()
