"""A rollout in an environment handed to a GitOps repository (``application.gitops``), on the in-memory state: the
promotion is one commit changing one image line, the rollout follows what the controller reports of that commit, a
controller that reports it failed rolls the rollout back by a revert commit, the log records both once — also when
the command is killed between the push and the record — and a pull request waits for a person."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs
import pytest

from findly_infra import load_platform
from findly_infra.adapters.memory import MemoryCommit, MemoryGitRepository, SimulatedCluster
from findly_infra.application.gitops import GitOpsWorkloads, HandOffPendingError
from findly_infra.application.ports import BadInputError
from findly_infra.application.scenarios import SCENARIOS
from findly_infra.application.service import PipelineService
from findly_infra.bootstrap.clusters import Clusters
from findly_infra.domain import Phase, StrategyKind
from findly_infra.domain.gitops import (
    ControllerKind,
    GitOpsBinding,
    GitOpsCommitted,
    GitOpsReverted,
    GitOpsSettings,
    overlay_path,
    set_image,
    set_version_label,
)
from findly_infra.domain.platform import Platform
from findly_infra.render.tree import render_platform
from findly_infra.testing import MemoryEventStore, ScenarioMetrics, VirtualClock
from tests.conftest import EXAMPLE

SERVICE, ENV, IMAGE = "fn-posts", "development", "gcr.io/findly-now/fn-posts"


@attrs.define
class FakeController:
    """An Argo CD Application (or Flux Kustomization) per environment, as its controller keeps it: on each read it
    has reconciled to the followed branch's head (as Argo CD does on its own, by polling or a webhook) — unless
    *frozen* (it has not caught up yet: it reports what it had). What it deployed is Degraded (Ready False,
    HealthCheckFailed) where the overlay runs a version of *degraded*, else Healthy (Ready True)."""

    repository: MemoryGitRepository
    kind: ControllerKind = ControllerKind.ARGOCD
    degraded: set[str] = attrs.field(factory=set)
    frozen: bool = False
    reads: int = 0
    held: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    spec: dict[str, Any] = attrs.field(factory=dict)
    """The object's spec, as a person wrote it (empty: says nothing of its source)."""
    lag: int = 0
    """Reads a new head stays unseen (Argo CD polls every 120 s + jitter, argo-cd docs/user-guide/auto_sync.md)."""
    settling: int = 0
    """Reads, once it applied a head, that its Deployment stays Progressing before Healthy or Degraded (Kubernetes
    marks it ProgressDeadlineExceeded progressDeadlineSeconds after the apply, gitops-engine health_deployment.go)."""
    _seen: tuple[str, int] = ("", 0)

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:  # noqa: ARG002
        self.reads += 1
        assert (api_version, kind) == self.kind.kind
        if not self.frozen and self.repository.head:
            head, age = self._seen
            self._seen = (self.repository.head, 0) if head != self.repository.head else (head, age + 1)
            age = self._seen[1]
            if age >= self.lag:
                self.held[name] = self._reconciled(progressing=age - self.lag < self.settling)
        return self.held.get(name)

    def _reconciled(self, *, progressing: bool = False) -> dict[str, Any]:
        head = self.repository.head
        text = self.repository.files().get(overlay_path(_settings(), ENV, SERVICE), "")
        tag = next((line.split(":")[-1].strip('"') for line in text.splitlines() if f'image: "{IMAGE}:' in line), "")
        bad = tag in self.degraded
        if self.kind is ControllerKind.ARGOCD:
            health = {"status": "Degraded", "message": "Deployment fn-posts exceeded its progress deadline"}
            if progressing:
                health = {"status": "Progressing", "message": "Waiting for rollout to finish"}
            return {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "spec": self.spec,
                "status": {
                    "sync": {"status": "Synced", "revision": head},
                    "health": health if bad or progressing else {"status": "Healthy"},
                },
            }
        ready = (
            {"type": "Ready", "status": "Unknown", "reason": "Progressing", "message": "Reconciliation in progress"}
            if progressing
            else {"type": "Ready", "status": "False", "reason": "HealthCheckFailed", "message": "health check failed"}
            if bad
            else {"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": "Applied"}
        )
        return {
            "metadata": {"generation": 1},
            "spec": self.spec,
            "status": {"observedGeneration": 1, "lastAppliedRevision": f"main@sha1:{head}", "conditions": [ready]},
        }


def _settings(*, pull_request: bool = False, kind: ControllerKind = ControllerKind.ARGOCD) -> GitOpsSettings:
    return GitOpsSettings(
        "https://github.com/findly-now/deploy.git",
        (GitOpsBinding(ENV, "findly-development"),),
        pull_request=pull_request,
        controller=kind,
    )


def _platform(settings: GitOpsSettings) -> Platform:
    platform = load_platform(EXAMPLE)
    environments = tuple(
        attrs.evolve(env, deployment_strategy=StrategyKind.ROLLING) if env.name == ENV else env
        for env in platform.environments
    )
    return attrs.evolve(platform, environments=environments, gitops=settings)


@attrs.define
class World:
    release: PipelineService
    repository: MemoryGitRepository
    controller: FakeController
    clock: VirtualClock
    store: MemoryEventStore

    def handoffs(self) -> list[GitOpsCommitted | GitOpsReverted]:
        return [e for e in self.release.history(SERVICE) if isinstance(e, GitOpsCommitted | GitOpsReverted)]

    def image(self) -> str:
        text = self.repository.read(overlay_path(_settings(), ENV, SERVICE)) or ""
        return next(line.strip() for line in text.splitlines() if "image:" in line and IMAGE in line)


def _world(
    *, pull_request: bool = False, kind: ControllerKind = ControllerKind.ARGOCD, scenario: str = "healthy"
) -> World:
    settings = _settings(pull_request=pull_request, kind=kind)
    platform = _platform(settings)
    repository = MemoryGitRepository(pull_request=pull_request)
    tree = render_platform(platform, versions={SERVICE: "1.0.0"})  # `findly-infra render --out k8s`, committed
    repository.seed({f"k8s/{path}": text for path, text in tree.items()})
    controller = FakeController(repository, kind)
    store = MemoryEventStore()
    clock = VirtualClock(datetime(2026, 1, 5, 9))
    slept: list[float] = []
    workloads = GitOpsWorkloads(
        settings,
        repository,
        lambda _env: controller,  # type: ignore[arg-type, return-value]
        {service.name: service.image or service.name for service in platform.all_services},
        lambda name: store.load(name)[0],
        ready_timeout=3,
        sync_timeout=6,
        settle=1,
        poll_interval=1,
        sleep=slept.append,
        monotonic=lambda: float(len(slept)),  # time passes only by the polls' sleeps
    )
    cluster = Clusters(platform, SimulatedCluster(), gitops=workloads)
    release = PipelineService(platform, store, clock, ScenarioMetrics(SCENARIOS[scenario]), cluster)
    return World(release, repository, controller, clock, store)


def _changed_lines(world: World, commit: MemoryCommit) -> list[str]:
    before = world.repository.files(commit.parents[0])
    after = commit.files
    lines = []
    for path in sorted(set(before) | set(after)):
        if before.get(path) != after.get(path):
            diff = difflib.unified_diff(
                (before.get(path) or "").splitlines(), (after.get(path) or "").splitlines(), n=0, lineterm=""
            )
            lines += [f"{path}: {line}" for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    return lines


def test_a_promotion_is_one_commit_of_one_image_line_and_the_rollout_follows_the_application() -> None:
    world = _world()
    world.release.deploy(SERVICE, "1.0.0", ENV, actor="erin")  # the tree was rendered with it: nothing to commit
    world.release.watch(SERVICE, ENV, actor="bot", wait=world.clock.advance)
    assert world.handoffs() == []
    assert world.repository.pushes == 0
    world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    outcome = world.release.watch(SERVICE, ENV, actor="bot", wait=world.clock.advance)
    assert outcome.phase is Phase.SUCCEEDED
    (committed,) = world.handoffs()
    assert isinstance(committed, GitOpsCommitted)
    assert committed.commit == world.repository.head
    path = overlay_path(_settings(), ENV, SERVICE)
    assert committed.files == (path,)
    changed = _changed_lines(world, world.repository.commits[committed.commit])
    # the image, and the version label the analysis finds its pods by (the Deployment's and its pods'): nothing else
    assert sorted(changed) == sorted(
        [
            f'{path}: -        image: "{IMAGE}:1.0.0"',
            f'{path}: +        image: "{IMAGE}:2.0.0"',
            f'{path}: -    version: "1.0.0"',
            f'{path}: +    version: "2.0.0"',
            f'{path}: -        version: "1.0.0"',
            f'{path}: +        version: "2.0.0"',
        ]
    )
    rendered = render_platform(world.release.platform, versions={SERVICE: "2.0.0"})  # as `render` writes 2.0.0
    assert world.repository.read(path) == rendered["overlays/development/fn-posts/deployment-stable.yaml"]
    assert world.repository.commits[committed.commit].key == committed.key
    assert world.release.cluster.holding(SERVICE, ENV).running == {SERVICE: "2.0.0"}


def test_the_rollout_waits_until_the_controller_reports_the_commit_then_goes_on() -> None:
    world = _world()
    world.controller.frozen = True  # it has not seen the commit yet: an older revision, whatever its health
    world.controller.held["findly-development"] = world.controller._reconciled()
    with pytest.raises(Exception, match="has not deployed") as raised:
        world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    assert "the next command" in str(raised.value)
    assert world.release.view(SERVICE, ENV).phase is Phase.PROGRESSING  # recorded: nothing failed
    assert len(world.handoffs()) == 1  # the commit is recorded even so
    world.controller.frozen = False  # it caught up
    outcome = world.release.watch(SERVICE, ENV, actor="bot", wait=world.clock.advance)
    assert outcome.phase is Phase.SUCCEEDED
    assert len(world.handoffs()) == 1


@pytest.mark.parametrize("kind", list(ControllerKind))
def test_a_degraded_application_rolls_the_rollout_back_by_a_revert_commit(kind: ControllerKind) -> None:
    world = _world(kind=kind)
    world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    world.release.watch(SERVICE, ENV, actor="bot", wait=world.clock.advance)
    world.controller.degraded.add("3.0.0")
    outcome = world.release.deploy(SERVICE, "3.0.0", ENV, actor="erin")
    assert outcome.phase is Phase.ROLLED_BACK
    assert f"{kind.kind[1]} {kind.default_namespace}/findly-development" in (outcome.view.stopped or "")
    first, second, revert = world.handoffs()
    assert isinstance(first, GitOpsCommitted)
    assert isinstance(second, GitOpsCommitted)
    assert isinstance(revert, GitOpsReverted)
    assert (second.version, revert.reverts, revert.commit) == ("3.0.0", second.commit, world.repository.head)
    assert world.image() == f'image: "{IMAGE}:2.0.0"'
    assert world.repository.includes(world.repository.head, second.commit)  # a revert: history kept
    assert world.release.reconcile(SERVICE, ENV).events == ()  # followed: nothing more to commit or record
    assert len(world.handoffs()) == 3


def test_a_rollback_by_a_person_reverts_the_rollouts_commit() -> None:
    world = _world()
    world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    world.release.rollback(SERVICE, ENV, actor="bob", reason="wrong build")
    committed, revert = world.handoffs()
    assert isinstance(revert, GitOpsReverted)
    assert revert.reverts == committed.commit
    assert world.image() == f'image: "{IMAGE}:1.0.0"'


class Killed(BaseException):
    """The process died here."""


def test_a_command_killed_after_the_push_records_the_commit_once_on_the_next_command() -> None:
    world = _world()

    def dies(_commit: MemoryCommit) -> None:
        world.repository.after_push = None
        raise Killed

    world.repository.after_push = dies
    with pytest.raises(Killed):
        world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    assert world.repository.pushes == 1
    assert world.handoffs() == []  # pushed, not recorded
    world.release.reconcile(SERVICE, ENV)
    (committed,) = world.handoffs()
    assert committed.commit == world.repository.head
    world.release.reconcile(SERVICE, ENV)
    outcome = world.release.watch(SERVICE, ENV, actor="bot", wait=world.clock.advance)
    assert outcome.phase is Phase.SUCCEEDED
    assert world.repository.pushes == 1  # found again by its key, never pushed twice
    assert len(world.handoffs()) == 1


def test_a_pull_request_waits_for_a_person_then_the_rollout_follows_its_merge() -> None:
    world = _world(pull_request=True)
    with pytest.raises(HandOffPendingError) as raised:
        world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    (pull,) = world.repository.pulls
    assert raised.value.url == pull.url
    assert world.handoffs()[0].pull_request == pull.url  # recorded, with its pull request
    assert world.image() == f'image: "{IMAGE}:1.0.0"'  # nothing on the followed branch yet
    with pytest.raises(HandOffPendingError):  # still open: the next command says so again, and commits nothing
        world.release.reconcile(SERVICE, ENV)
    assert len(world.repository.pulls) == 1
    world.repository.merge(pull.url)
    outcome = world.release.watch(SERVICE, ENV, actor="bot", wait=world.clock.advance)
    assert outcome.phase is Phase.SUCCEEDED
    assert len(world.handoffs()) == 1


def test_a_rollback_goes_on_while_the_pull_request_is_open() -> None:
    world = _world(pull_request=True)
    with pytest.raises(HandOffPendingError):
        world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    outcome = world.release.rollback(SERVICE, ENV, actor="bob", reason="not now")
    assert outcome.phase is Phase.ROLLED_BACK
    assert world.image() == f'image: "{IMAGE}:1.0.0"'  # never merged: nothing to revert


def test_an_overlay_missing_from_the_repository_is_bad_input_naming_render() -> None:
    world = _world()
    world.repository.seed({overlay_path(_settings(), ENV, SERVICE): "kind: Deployment\n"})
    with pytest.raises(Exception, match=r"has no image: line of gcr\.io/findly-now/fn-posts"):
        world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    empty = _world()
    empty.repository.head = ""
    with pytest.raises(Exception, match="render --out k8s"):
        empty.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")


def test_the_events_travel_through_the_codec() -> None:
    from findly_infra.application.codec import event_from_dict, event_to_dict

    world = _world()
    world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    world.release.rollback(SERVICE, ENV, actor="bob", reason="no")
    for event in world.handoffs():
        document: Mapping[str, Any] = event_to_dict(event)
        assert event_from_dict(dict(document)) == event


def test_status_reads_the_latest_hand_off_and_what_the_controller_reports() -> None:
    world = _world(pull_request=True)
    with pytest.raises(HandOffPendingError):
        world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    reading = world.release.gitops_reading(SERVICE, ENV)
    assert reading is not None
    assert reading.handoff is not None
    assert reading.handoff.pull_request == world.repository.pulls[0].url
    assert reading.reading.verdict.value == "progressing"  # the controller is at the branch's head, without it
    assert world.repository.pulls[0].url in reading.describe()
    world.repository.merge(world.repository.pulls[0].url)
    after = world.release.gitops_reading(SERVICE, ENV)
    assert after is not None
    assert after.reading.verdict.value == "deployed"
    assert "Application argocd/findly-development: deployed" in after.describe()
    assert world.release.gitops_reading(SERVICE, "staging") is None  # not handed off


def test_an_open_pull_request_is_exit_6_with_its_url(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse
    import io
    import json

    from findly_infra.cli import EXIT_STOPPED, _run

    def waits(_context: object) -> int:
        raise HandOffPendingError(
            "fn-posts waits for https://github.com/o/r/pull/7", url="https://github.com/o/r/pull/7", environment=ENV
        )

    for wants_json in (True, False):
        out = io.StringIO()
        assert _run(waits, argparse.Namespace(json=wants_json), out, wants_json) == EXIT_STOPPED
        if wants_json:
            document = json.loads(out.getvalue())
            assert document["pull_request"] == "https://github.com/o/r/pull/7"
            assert (document["outcome"], document["waiting_for"]) == ("waiting", "pull_request")
        else:
            assert "https://github.com/o/r/pull/7" in out.getvalue()


def test_a_command_killed_before_the_push_hands_off_on_the_next_command() -> None:
    """Killed between recording the rollout's start and pushing its commit: the next command that converges makes
    the commit (once) and records it."""
    world = _world()

    def dies(_key: str) -> None:
        world.repository.before_push = None
        raise Killed

    world.repository.before_push = dies
    with pytest.raises(Killed):
        world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    assert (world.repository.pushes, world.handoffs()) == (0, [])
    assert world.release.view(SERVICE, ENV).phase is Phase.PROGRESSING
    outcome = world.release.watch(SERVICE, ENV, actor="bot", wait=world.clock.advance)
    assert outcome.phase is Phase.SUCCEEDED
    assert world.repository.pushes == 1
    assert [e.version for e in world.handoffs()] == ["2.0.0"]


def test_a_rollback_of_a_merged_pull_request_is_a_revert_proposed_the_same_way() -> None:
    world = _world(pull_request=True)
    for version in ("2.0.0", "3.0.0"):
        with pytest.raises(HandOffPendingError):
            world.release.deploy(SERVICE, version, ENV, actor="erin")
        world.repository.merge(world.repository.pulls[-1].url)
        if version == "2.0.0":
            world.release.watch(SERVICE, ENV, actor="bot", wait=world.clock.advance)
    world.controller.degraded.add("3.0.0")
    with pytest.raises(HandOffPendingError) as raised:  # rolled back; its revert waits for a person
        world.release.watch(SERVICE, ENV, actor="bot", wait=world.clock.advance)
    assert world.release.view(SERVICE, ENV).phase is Phase.ROLLED_BACK
    revert = world.handoffs()[-1]
    assert isinstance(revert, GitOpsReverted)
    assert revert.pull_request == raised.value.url == world.repository.pulls[-1].url
    world.repository.merge(raised.value.url)
    world.release.reconcile(SERVICE, ENV)
    assert world.image() == f'image: "{IMAGE}:2.0.0"'
    assert len(world.handoffs()) == 3


@pytest.mark.parametrize("command", ["abort", "rollback"])
def test_abort_or_rollback_of_a_rollout_a_stuck_controller_never_applied_reverts_it_in_one_command(
    command: str,
) -> None:
    # the controller never gets to the commit (Argo CD without syncPolicy.automated: "the application remains
    # OutOfSync until synced", argo-cd docs/user-guide/auto_sync.md; Flux suspended): undoing it must not wait for it
    world = _world()
    world.controller.held["findly-development"] = world.controller._reconciled()
    world.controller.frozen = True
    with pytest.raises(Exception, match="has not deployed"):
        world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    outcome = getattr(world.release, command)(SERVICE, ENV, actor="bob", reason="stuck")
    assert outcome.phase in {Phase.ABORTED, Phase.ROLLED_BACK}
    committed, revert = world.handoffs()  # the revert is committed and recorded
    assert isinstance(revert, GitOpsReverted)
    assert revert.reverts == committed.commit
    assert world.image() == f'image: "{IMAGE}:1.0.0"'
    world.controller.frozen = False  # once it catches up, the follow-up command follows it
    assert world.release.reconcile(SERVICE, ENV).events == ()
    assert world.release.cluster.holding(SERVICE, ENV).running == {SERVICE: "1.0.0"}


def _by_hand(world: World, version: str) -> str:
    """A person (or another tool) commits *version*'s image to the overlay: the new head."""
    path = overlay_path(_settings(), ENV, SERVICE)
    text, held = set_image(world.repository.read(path) or "", IMAGE, version)
    text = set_version_label(text, "version", held or "", version)  # as `render` writes that version
    return world.repository.seed({path: text}, f"{SERVICE} {version} by hand")


def test_a_later_commit_that_put_the_old_image_back_is_not_taken_for_ours() -> None:
    # the controller deploys the revision's tree, not its history (argo-cd types.go SyncStatus.Revision): a revision
    # that has our commit in its history but holds 1.0.0 again runs 1.0.0
    world = _world()
    world.controller.held["findly-development"] = world.controller._reconciled()
    world.controller.frozen = True
    with pytest.raises(Exception, match="has not deployed"):
        world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    _by_hand(world, "1.0.0")
    world.controller.frozen = False  # it syncs the later commit: Synced, Healthy — running 1.0.0
    with pytest.raises(Exception, match=r"holds fn-posts 1\.0\.0, not 2\.0\.0 \(changed after the hand-off\)"):
        world.release.reconcile(SERVICE, ENV)
    assert world.release.cluster.holding(SERVICE, ENV).running == {}  # not what we handed off


def test_a_version_the_head_already_holds_waits_for_a_revision_that_holds_it() -> None:
    # no commit of ours put it there (a person did): the controller's stale Healthy of an older revision is not it
    world = _world()
    world.controller.held["findly-development"] = world.controller._reconciled()  # at the render: 1.0.0
    world.controller.frozen = True  # between its polls (argo-cd auto_sync.md: every 120 s + jitter)
    _by_hand(world, "2.0.0")
    with pytest.raises(Exception, match=r"has not deployed .*holds fn-posts 1\.0\.0, not 2\.0\.0"):
        world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    assert world.handoffs() == []  # nothing of ours to commit or record
    world.controller.frozen = False
    outcome = world.release.watch(SERVICE, ENV, actor="bot", wait=world.clock.advance)
    assert outcome.phase is Phase.SUCCEEDED


def test_holding_is_the_tag_at_the_revision_the_controller_applied_not_the_head() -> None:
    world = _world()
    world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    world.controller.frozen = True
    _by_hand(world, "3.0.0")  # pushed, not synced yet
    assert world.release.cluster.holding(SERVICE, ENV).running == {SERVICE: "2.0.0"}


@pytest.mark.parametrize(
    ("source", "said"),
    [
        ({"path": "k8s/overlays/staging"}, "spec.source.path is 'k8s/overlays/staging', not the overlay's folder"),
        (
            {"repoURL": "https://github.com/findly-now/other"},
            "spec.source.repoURL is 'https://github.com/findly-now/other'",
        ),
        ({"targetRevision": "release"}, "spec.source.targetRevision is 'release', not gitops.branch 'main'"),
    ],
)
def test_an_application_that_does_not_deploy_the_overlay_from_the_branch_is_bad_input(
    source: dict[str, str], said: str
) -> None:
    # argo-cd types.go ApplicationSource: it deploys that path of that revision of that repository, nothing else —
    # one of another overlay reports every new head Synced and Healthy
    world = _world()
    world.controller.spec = {
        "source": {
            "repoURL": "https://GitHub.com/findly-now/deploy",  # as util/git SameURL compares: the same repository
            "path": "./k8s/overlays/development/",
            "targetRevision": "main",
        }
        | source
    }
    with pytest.raises(BadInputError, match=re.escape(said)) as raised:
        world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    assert "gitops.environments.development.name (findly-development)" in str(raised.value)
    assert world.release.view(SERVICE, ENV).rollout is None  # refused before anything was decided
    assert world.repository.pushes == 0


def test_an_application_that_deploys_the_overlay_from_the_branch_is_followed() -> None:
    world = _world()
    world.controller.spec = {
        "source": {"repoURL": "https://github.com/findly-now/deploy", "path": "k8s/overlays/development"}
    }
    world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    assert world.release.watch(SERVICE, ENV, actor="bot", wait=world.clock.advance).phase is Phase.SUCCEEDED


@pytest.mark.parametrize("kind", list(ControllerKind))
def test_a_failing_version_the_controller_applies_late_is_rolled_back_within_the_command(kind: ControllerKind) -> None:
    # the controller sees the commit only after its poll, longer than the progress deadline; the Deployment is then
    # Progressing until its own deadline passes: counted from the commit, the wait ended first (exit 5, forever)
    world = _world(kind=kind)
    world.controller.lag = 4  # > ready_timeout (3 polls), < sync_timeout (6): it reports the commit in time
    world.controller.settling = 2
    world.controller.degraded.add("2.0.0")
    outcome = world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    assert outcome.phase is Phase.ROLLED_BACK
    committed, revert = world.handoffs()
    assert isinstance(revert, GitOpsReverted)
    assert revert.reverts == committed.commit


def test_a_rollback_of_a_squash_merged_pull_request_reverts_only_our_files_change() -> None:
    # a reviewer pushed a change of their own (another service's file) onto the pull request, then squash-merged it:
    # one commit on main with both (GitHub's about-pull-request-merges); the rollback undoes ours alone
    world = _world(pull_request=True)
    world.release.deploy(SERVICE, "1.0.0", ENV, actor="erin")  # the tree was rendered with it: what serves
    world.release.watch(SERVICE, ENV, actor="bot", wait=world.clock.advance)
    with pytest.raises(HandOffPendingError):
        world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    other = overlay_path(_settings(), ENV, "fn-matcher")
    reviewed = (world.repository.read(other) or "") + "# reviewer: more replicas\n"
    world.repository.push_to_pull(world.repository.pulls[-1].url, {other: reviewed})
    world.repository.merge(world.repository.pulls[-1].url, squash=True)
    world.controller.degraded.add("2.0.0")
    with pytest.raises(HandOffPendingError) as raised:  # rolled back: its revert proposed the same way
        world.release.watch(SERVICE, ENV, actor="bot", wait=world.clock.advance)
    assert world.release.view(SERVICE, ENV).phase is Phase.ROLLED_BACK
    world.repository.merge(raised.value.url)
    assert world.image() == f'image: "{IMAGE}:1.0.0"'
    assert world.repository.read(other) == reviewed  # the reviewer's change stays
    revert = world.handoffs()[-1]
    assert isinstance(revert, GitOpsReverted)
    changed = world.repository.commits[revert.commit]
    parent = world.repository.files(changed.parents[0])
    assert {path for path, text in changed.files.items() if parent.get(path) != text} == {
        overlay_path(_settings(), ENV, SERVICE)
    }


def test_a_digest_pinned_image_gets_the_tag_and_its_pods_the_versions_label() -> None:
    # the analysis finds a version's pods by the label (metrics.version_label): 2.0.0 under version "1.0.0" is lost
    world = _world()
    path = overlay_path(_settings(), ENV, SERVICE)
    pinned = (world.repository.read(path) or "").replace(f"{IMAGE}:1.0.0", f"{IMAGE}@sha256:{'a' * 64}")
    world.repository.seed({path: pinned}, "pinned by digest")
    world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    text = world.repository.read(path) or ""
    assert f'image: "{IMAGE}:2.0.0"' in text
    assert 'version: "1.0.0"' not in text
    assert text.count('version: "2.0.0"') == 2  # the Deployment's and its pods'
