"""A release of three dependent services in GitOps mode, end to end on the real pieces (``gitops_world``): through
development, staging and production with one approval, each part one commit of its overlay file on the repository
— in dependency order, each recorded once in its service's log — the rollout following what the controller reports;
then a release whose last part the controller reports failing (Argo CD: health ``Degraded``; Flux: ``Ready`` False,
``HealthCheckFailed``), rolled back as a whole by revert commits, the last done part first."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("kubernetes", reason="the kubernetes extra: pip install 'findly-infra[kubernetes]'")

from findly_infra.domain.gitops import GitOpsCommitted, GitOpsReverted
from tests.gitops.gitops_world import ENVIRONMENTS, SERVICES, Commit, Running, World, overlay, plain_key


def _image_and_labels(service: str, old: str, new: str) -> list[str]:
    """The lines a promotion changes in the overlay file, as ``docs/gitops.md`` says: the image, and the version
    label of the Deployment and of its pods."""
    return [
        f'-    version: "{old}"',
        f'+    version: "{new}"',
        f'-        version: "{old}"',
        f'+        version: "{new}"',
        f'-        image: "gcr.io/findly-now/{service}:{old}"',
        f'+        image: "gcr.io/findly-now/{service}:{new}"',
    ]


def _assert_forward(commit: Commit, service: str, environment: str, old: str, new: str) -> None:
    assert commit.key is not None
    assert plain_key(commit.key) == f"{service}/{environment}/{new}", commit
    assert commit.files == (overlay(environment, service),), commit  # that service's overlay file, nothing else
    assert sorted(commit.changed) == sorted(_image_and_labels(service, old, new)), commit


def _handoffs(world: World, service: str, environment: str) -> list[GitOpsCommitted | GitOpsReverted]:
    return [
        event
        for event in world.events(service)
        if isinstance(event, GitOpsCommitted | GitOpsReverted) and event.environment == environment
    ]


def _release(running: Running, name: str, version: str, environment: str) -> tuple[int, dict[str, object]]:
    code, created = running.cli("release", "create", name, *(f"{s}={version}" for s in SERVICES))
    assert code == 0, created
    code, promoted = running.cli("release", "promote", name, "--to", environment)
    assert code == 0, promoted
    return running.cli("release", "watch", name, "--environment", environment, "--json")


def _assert_returned_as_a_whole(world: World, running: Running, since: str, environment: str) -> list[Commit]:
    """The release of 2.0.0 rolled back in *environment*: its three commits, then the reverts, last part first; each
    recorded once; the overlay files back to what they were at *since*."""
    commits = world.commits(since)
    assert [plain_key(c.key or "") for c in commits] == [
        *(f"{s}/{environment}/2.0.0" for s in SERVICES),
        *(f"revert:{s}/{environment}/2.0.0" for s in reversed(SERVICES)),
    ]
    forward, reverts = commits[:3], commits[3:]
    for commit, service in zip(forward, SERVICES, strict=True):
        _assert_forward(commit, service, environment, "1.1.0", "2.0.0")
    for revert, undone in zip(reverts, reversed(forward), strict=True):
        assert f"This reverts commit {undone.sha}." in revert.body  # a `git revert`: the history keeps both
        assert sorted(revert.changed) == sorted({"+": "-", "-": "+"}[line[0]] + line[1:] for line in undone.changed)
    by_sha = {c.sha: c for c in commits}
    for service in SERVICES:
        recorded = [e for e in _handoffs(world, service, environment) if e.version == "2.0.0"]
        assert [type(e) for e in recorded] == [GitOpsCommitted, GitOpsReverted]
        committed, reverted = recorded
        assert isinstance(reverted, GitOpsReverted)
        assert (by_sha[committed.commit].key, by_sha[reverted.commit].key) == (committed.key, reverted.key)
        assert reverted.reverts == committed.commit
    for service in SERVICES:
        assert world.read(overlay(environment, service)) == world.read(overlay(environment, service), since)
    code, status = running.cli("release", "status", "r2", "--json")
    assert code == 0
    here = status["releases"][0]["environments"][environment]
    assert here["phase"] == "rolled_back"
    assert [p["status"] for p in here["parts"]] == ["returned", "returned", "failed"]
    return commits


def test_a_release_goes_through_argo_cd_as_commits_and_is_reverted_as_a_whole(tmp_path: Path) -> None:
    world = World(tmp_path, "argocd", failing={"fn-notifications:2.0.0"})
    seeded = world.seed("1.0.0")
    with world.running() as running:
        code, created = running.cli("release", "create", "r1", *(f"{s}=1.1.0" for s in reversed(SERVICES)))
        assert code == 0, created
        for environment in ("development", "staging"):
            code, promoted = running.cli("release", "promote", "r1", "--to", environment)
            assert code == 0, promoted
            code, watched = running.cli("release", "watch", "r1", "--environment", environment, "--json")
            assert (code, watched["outcome"]) == (0, "done"), watched
            running.record_suites(environment, "1.1.0")
        code, asked = running.cli("release", "promote", "r1", "--to", "production", "--json")
        assert code == 6, asked  # stopped for a person: the release's approval
        assert world.commits(seeded)[-1].key is not None
        assert not any("/production/" in (c.key or "") for c in world.commits(seeded))  # nothing committed yet
        code, approved = running.cli("release", "approve", "r1", "--environment", "production", "--actor", "alice")
        assert code == 0, approved
        code, watched = running.cli("release", "watch", "r1", "--environment", "production", "--json")
        assert (code, watched["outcome"]) == (0, "done"), watched

        commits = world.commits(seeded)
        assert len(commits) == 9  # one commit per service per environment, dependencies first
        expected = [(s, e) for e in ENVIRONMENTS for s in SERVICES]
        for commit, (service, environment) in zip(commits, expected, strict=True):
            _assert_forward(commit, service, environment, "1.0.0", "1.1.0")
        for service in SERVICES:
            recorded = {e.commit: e for e in world.events(service) if isinstance(e, GitOpsCommitted)}
            ours = [c for c in commits if c.key and c.key.startswith(f"{service}/")]
            assert set(recorded) == {c.sha for c in ours}  # each commit recorded, once, with its sha and key
            assert len(recorded) == len([e for e in world.events(service) if isinstance(e, GitOpsCommitted)])
            for commit in ours:
                assert recorded[commit.sha].key == commit.key
                assert recorded[commit.sha].files == commit.files
        for environment in ENVIRONMENTS:  # the controller deployed the last commit, healthy
            status = running.status(environment)
            assert (status["sync"]["status"], status["health"]["status"]) == ("Synced", "Healthy")
            assert status["sync"]["revision"] == world.head()

        # the next release: its last part never becomes healthy in development
        before = world.head()
        code, watched = _release(running, "r2", "2.0.0", "development")
        assert (code, watched.get("outcome")) == (4, "rolled_back"), watched
        failed = next(p for p in watched["parts"] if p["service"] == "fn-notifications")
        assert "Application argocd/findly-development" in failed["reason"]
        assert "health Degraded" in failed["reason"]
        _assert_returned_as_a_whole(world, running, before, "development")
        status = running.status("development")
        assert (status["sync"]["revision"], status["health"]["status"]) == (world.head(), "Healthy")


def test_a_first_release_through_flux_reverts_its_failing_part_and_leaves_the_others_running(tmp_path: Path) -> None:
    """The environment's first release (nothing served there by the log, the tree rendered with 1.0.0): its last
    part's Kustomization fails its health check, so that part's commit is reverted; the parts done before it served
    nothing before the release, so they are left running — as a release does on a cluster (docs/releases.md)."""
    world = World(tmp_path, "flux", failing={"fn-notifications:2.0.0"})
    seeded = world.seed("1.0.0")
    with world.running() as running:
        code, watched = _release(running, "r1", "2.0.0", "development")
        assert (code, watched.get("outcome")) == (4, "rolled_back"), watched
        failed = next(p for p in watched["parts"] if p["service"] == "fn-notifications")
        assert "Kustomization flux-system/findly-development" in failed["reason"]
        assert "HealthCheckFailed" in failed["reason"]
        commits = world.commits(seeded)
        assert [plain_key(c.key or "") for c in commits] == [
            *(f"{s}/development/2.0.0" for s in SERVICES),
            "revert:fn-notifications/development/2.0.0",
        ]
        for commit, service in zip(commits[:3], SERVICES, strict=True):
            _assert_forward(commit, service, "development", "1.0.0", "2.0.0")
        assert f"This reverts commit {commits[2].sha}." in commits[3].body
        recorded = _handoffs(world, "fn-notifications", "development")
        assert [(type(e), e.commit) for e in recorded] == [
            (GitOpsCommitted, commits[2].sha),
            (GitOpsReverted, commits[3].sha),
        ]
        for service in ("fn-posts", "fn-matcher"):  # left running: committed, never reverted
            assert [type(e) for e in _handoffs(world, service, "development")] == [GitOpsCommitted]
        assert world.read(overlay("development", "fn-notifications")) == world.read(
            overlay("development", "fn-notifications"), seeded
        )
        status = running.status("development")
        ready = next(c for c in status["conditions"] if c["type"] == "Ready")
        assert (ready["status"], status["lastAppliedRevision"]) == ("True", f"main@sha1:{world.head()}")
