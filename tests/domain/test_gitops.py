"""The GitOps hand-off's pure rules (``domain.gitops``): the one edit a promotion makes to a rendered overlay, where
that overlay is, and the reading of an Argo CD Application's and a Flux Kustomization's published status."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain import checks
from findly_infra.domain.environment import DeploymentTrigger, Environment, StrategyKind, TriggerKind
from findly_infra.domain.gitops import (
    ControllerKind,
    ControllerVerdict,
    GitOpsBinding,
    GitOpsSettings,
    overlay_path,
    read_application,
    read_controller,
    read_kustomization,
    reported_revision,
    same_url,
    set_image,
    set_version_label,
    source_mismatch,
    version_label_of,
)
from findly_infra.domain.operations import ClusterBinding, KubernetesSettings
from findly_infra.domain.platform import Platform, Severity

NAMES = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)
TAGS = st.from_regex(r"[0-9A-Za-z_][0-9A-Za-z_.-]{0,20}", fullmatch=True)
REGISTRIES = st.sampled_from(["gcr.io/findly", "localhost:5000", "registry.example.com:443/team", "docker.io/library"])
DIGEST = "@sha256:" + "ab" * 32


def _deployment(image: str, reference: str, *, quote: str = "", comment: str = "", sidecar: str = "") -> str:
    extra = f"        - name: proxy\n          image: {sidecar}\n" if sidecar else ""
    return (
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        f"  name: fn-posts  # {image}:keep-this-comment\n"
        "spec:\n"
        "  template:\n"
        "    spec:\n"
        "      containers:\n"
        "        - name: fn-posts\n"
        f"          image: {quote}{image}{reference}{quote}{comment}\n"
        f"{extra}"
    )


@given(REGISTRIES, NAMES, TAGS, TAGS, st.sampled_from(["", '"', "'"]), st.sampled_from(["", "  # pinned by CI"]))
def test_set_image_changes_only_that_images_line(  # noqa: PLR0917 - one per drawn part
    registry: str, name: str, old: str, new: str, quote: str, comment: str
) -> None:
    image = f"{registry}/{name}"
    sidecar = f"{registry}/{name}-proxy:{old}"  # another image whose name starts the same: left alone
    text = _deployment(image, f":{old}", quote=quote, comment=comment, sidecar=sidecar)
    changed, replaced = set_image(text, image, new)
    assert replaced == old
    before, after = text.splitlines(), changed.splitlines()
    assert len(before) == len(after)
    differing = [(b, a) for b, a in zip(before, after, strict=True) if b != a]
    if old == new:
        assert changed == text
    else:
        assert differing == [
            (
                f"          image: {quote}{image}:{old}{quote}{comment}",
                f"          image: {quote}{image}:{new}{quote}{comment}",
            )
        ]


@given(REGISTRIES, NAMES, TAGS)
def test_set_image_replaces_a_digest_pin_by_the_tag(registry: str, name: str, new: str) -> None:
    image = f"{registry}/{name}"
    changed, replaced = set_image(_deployment(image, DIGEST), image, new)
    assert replaced == DIGEST
    assert f"image: {image}:{new}\n" in changed
    assert "sha256" not in changed


@given(NAMES, TAGS)
def test_set_image_of_an_image_the_file_does_not_hold_changes_nothing(name: str, new: str) -> None:
    text = _deployment("gcr.io/findly/other", ":1.0.0")
    assert set_image(text, f"gcr.io/findly/{name}x", new) == (text, None)


@given(TAGS)
def test_a_registry_port_is_not_a_tag(new: str) -> None:
    """``localhost:5000/fn-posts`` untagged: its ``:5000`` is the registry's port, not a tag to replace."""
    text = _deployment("localhost:5000/fn-posts", "")
    changed, replaced = set_image(text, "localhost:5000/fn-posts", new)
    assert replaced == ""
    assert f"image: localhost:5000/fn-posts:{new}\n" in changed


def test_set_image_keeps_windows_line_endings() -> None:
    text = _deployment("gcr.io/f/fn-posts", ":1.0.0").replace("\n", "\r\n")
    changed, _ = set_image(text, "gcr.io/f/fn-posts", "2.0.0")
    assert changed == text.replace("fn-posts:1.0.0", "fn-posts:2.0.0")


@given(TAGS, TAGS, st.sampled_from(["", '"', "'"]))
def test_set_version_label_changes_only_the_version_labels_of_that_version(old: str, new: str, quote: str) -> None:
    text = (
        "metadata:\n"
        "  labels:\n"
        f"    version: {quote}{old}{quote}\n"
        f"    other-version: {quote}{old}{quote}\n"
        "spec:\n"
        "  template:\n"
        "    metadata:\n"
        "      labels:\n"
        f"        version: {quote}{old}{quote}  # the analysis' label\n"
        f"        note: version {old}\n"
    )
    changed = set_version_label(text, "version", old, new)
    before, after = text.splitlines(), changed.splitlines()
    differing = [i for i, (b, a) in enumerate(zip(before, after, strict=True)) if b != a]
    assert set(differing) <= {2, 8}
    assert f"version: {quote or ''}" in after[2]
    if old != new:
        assert differing == [2, 8]
        assert new in after[2]
        assert after[8].endswith("# the analysis' label")
    assert set_version_label(text, "version", "", new) == text  # a digest says no version


def test_a_version_that_reads_as_a_number_is_quoted() -> None:
    assert set_version_label("    version: latest\n", "version", "latest", "1.0") == '    version: "1.0"\n'


@given(st.sampled_from(["k8s", "deploy/k8s", "", "k8s/"]), NAMES, NAMES, st.sampled_from(["stable", "canary"]))
def test_overlay_path_is_where_render_writes_the_deployment(folder: str, env: str, service: str, track: str) -> None:
    settings = GitOpsSettings("https://github.com/o/r.git", (GitOpsBinding(env, "app"),), path=folder)
    path = overlay_path(settings, env, service, track)
    prefix = folder.strip("/")
    assert path == "/".join(p for p in (prefix, "overlays", env, service, f"deployment-{track}.yaml") if p)
    assert not path.startswith("/")
    assert "//" not in path


# ---- Argo CD ---------------------------------------------------------------------------------------------------

SHA = "a" * 40
SYNC = st.sampled_from(["Synced", "OutOfSync", "Unknown", None])
HEALTH = st.sampled_from(["Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown", None])
PHASE = st.sampled_from(["Running", "Terminating", "Failed", "Error", "Succeeded", None])


def _application(sync: str | None, health: str | None, phase: str | None, message: str = "") -> dict[str, Any]:
    status: dict[str, Any] = {"sync": {"revision": SHA}}
    if sync is not None:
        status["sync"]["status"] = sync
    if health is not None:
        status["health"] = {"status": health}
    if phase is not None:
        status["operationState"] = {"phase": phase, "message": message, "syncResult": {"revision": SHA}}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "status": status}


@given(SYNC, HEALTH, PHASE, st.sampled_from([True, False, None]))
def test_an_application_is_deployed_only_synced_and_healthy_at_a_revision_with_the_commit(
    sync: str | None, health: str | None, phase: str | None, includes: bool | None
) -> None:
    reading = read_application(_application(sync, health, phase), includes)
    failed_sync = phase in {"Failed", "Error"}
    if includes is not True:
        assert reading.verdict is ControllerVerdict.PROGRESSING  # an older revision says nothing of the commit
    elif (sync == "Synced" and health == "Degraded") or failed_sync:
        assert reading.verdict is ControllerVerdict.FAILED
    elif sync == "Synced" and health == "Healthy" and phase not in {"Running", "Terminating"}:
        assert reading.verdict is ControllerVerdict.DEPLOYED
    else:  # a sync operation still running (a PostSync hook) is not done, whatever the health says
        assert reading.verdict is ControllerVerdict.PROGRESSING
    assert reading.revision == SHA


def test_an_application_synced_and_healthy_while_its_postsync_hook_runs_is_not_deployed_yet() -> None:
    # argo-cd docs/user-guide/sync-waves.md: PostSync runs after "all resources in a Healthy state"; if the smoke
    # tests fail "the whole deployment will be marked as failed". appcontroller.go writes sync and health on every
    # refresh, whatever the operation: Synced + Healthy with the operation Running is an ordinary state
    running = _application("Synced", "Healthy", "Running", "waiting for completion of hook batch/Job/smoke")
    assert read_application(running, True).verdict is ControllerVerdict.PROGRESSING
    assert "its sync still running" in read_application(running, True).message
    failed = _application("Synced", "Healthy", "Failed", "hook batch/Job/smoke failed")
    assert read_application(failed, True).verdict is ControllerVerdict.FAILED
    done = _application("Synced", "Healthy", "Succeeded")
    assert read_application(done, True).verdict is ControllerVerdict.DEPLOYED


def test_an_application_whose_latest_sync_was_of_an_older_revision_is_not_deployed_yet() -> None:
    app = _application("Synced", "Healthy", "Succeeded")
    app["status"]["operationState"]["syncResult"]["revision"] = "b" * 40
    assert read_application(app, True, operation=False).verdict is ControllerVerdict.PROGRESSING
    assert read_application(app, True, operation=True).verdict is ControllerVerdict.DEPLOYED


def _resource(name: str, health: str, message: str = "") -> dict[str, Any]:
    return {
        "group": "apps",
        "version": "v1",
        "kind": "Deployment",
        "namespace": "findly",
        "name": name,
        "status": "Synced",
        "health": {"status": health, "message": message} if message else {"status": health},
    }


@given(st.sampled_from(["Healthy", "Progressing", "Degraded", "Missing"]), st.sampled_from(["Healthy", "Degraded"]))
def test_the_health_judged_is_the_services_own_deployments_not_the_whole_overlays(ours: str, theirs: str) -> None:
    # argo-cd docs/operator-manual/health.md: "The App health will be the worst health of its immediate child
    # resources"; status.resources (types.go ResourceStatus) carries each one's own health
    app = _application("Synced", "Degraded" if "Degraded" in {ours, theirs} else ours, None)
    app["status"]["resources"] = [
        _resource("fn-posts", ours, "exceeded its progress deadline" if ours == "Degraded" else ""),
        _resource("fn-matcher", theirs),
    ]
    reading = read_application(app, True, resources=("fn-posts",))
    expected = {
        "Healthy": ControllerVerdict.DEPLOYED,
        "Degraded": ControllerVerdict.FAILED,
    }.get(ours, ControllerVerdict.PROGRESSING)
    assert reading.verdict is expected
    assert f"health {ours}" in reading.message
    if ours == "Degraded":
        assert "Deployment findly/fn-posts Degraded: exceeded its progress deadline" in reading.message
    # not listed (an older Argo CD, or a resource it does not track): the Application's own health stands
    assert read_application(app, True, resources=("fn-users",)).verdict is read_application(app, True).verdict


def test_a_degraded_application_says_why() -> None:
    app = _application("Synced", "Degraded", None)
    app["status"]["health"]["message"] = "Deployment fn-posts exceeded its progress deadline"
    reading = read_application(app, True)
    assert reading.verdict is ControllerVerdict.FAILED
    assert "exceeded its progress deadline" in reading.message


def test_a_sync_of_another_revision_that_failed_does_not_fail_this_one() -> None:
    app = _application("OutOfSync", "Healthy", "Failed", "one or more objects failed to apply")
    app["status"]["operationState"]["syncResult"]["revision"] = "b" * 40
    assert read_application(app, True).verdict is ControllerVerdict.PROGRESSING


def test_an_absent_application_is_progressing() -> None:
    reading = read_application(None, None)
    assert (reading.verdict, reading.revision) == (ControllerVerdict.PROGRESSING, None)


def test_a_multi_source_application_reports_its_first_revision() -> None:
    app = {"status": {"sync": {"status": "Synced", "revisions": [SHA, "c" * 40]}, "health": {"status": "Healthy"}}}
    assert reported_revision(ControllerKind.ARGOCD, app) == SHA
    assert read_controller(ControllerKind.ARGOCD, app, True).verdict is ControllerVerdict.DEPLOYED


# ---- Flux ------------------------------------------------------------------------------------------------------

READY = st.sampled_from(["True", "False", "Unknown", None])
REASONS = st.sampled_from(
    ["ReconciliationSucceeded", "Progressing", "HealthCheckFailed", "ReconciliationFailed", "BuildFailed",
     "DependencyNotReady", "ArtifactFailed"]
)  # fmt: skip


def _kustomization(
    ready: str | None, reason: str, *, stalled: bool = False, generation: int = 2, observed: int = 2
) -> dict[str, Any]:
    conditions = []
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready, "reason": reason, "message": f"said {reason}"})
    if stalled:
        conditions.append({"type": "Stalled", "status": "True", "reason": "BuildFailed", "message": "kustomize build"})
    return {
        "metadata": {"generation": generation},
        "status": {"conditions": conditions, "lastAppliedRevision": f"main@sha1:{SHA}", "observedGeneration": observed},
    }


@given(READY, REASONS, st.booleans(), st.sampled_from([True, False, None]), st.integers(1, 3))
def test_a_kustomization_is_deployed_only_ready_at_a_revision_with_the_commit(
    ready: str | None, reason: str, stalled: bool, includes: bool | None, observed: int
) -> None:
    reading = read_kustomization(_kustomization(ready, reason, stalled=stalled, observed=observed), includes)
    if stalled:
        assert reading.verdict is ControllerVerdict.FAILED  # it will not go on by itself
    elif includes is not True or observed != 2:
        assert reading.verdict is ControllerVerdict.PROGRESSING
    elif ready == "True":
        assert reading.verdict is ControllerVerdict.DEPLOYED
    elif ready == "False" and reason in {"HealthCheckFailed", "ReconciliationFailed", "BuildFailed"}:
        assert reading.verdict is ControllerVerdict.FAILED
        assert f"said {reason}" in reading.message
    else:
        assert reading.verdict is ControllerVerdict.PROGRESSING
    assert reading.revision == SHA


@pytest.mark.parametrize(
    ("applied", "sha"),
    [(f"main@sha1:{SHA}", SHA), (f"main/{SHA}", SHA), (f"refs/heads/main@sha256:{'d' * 64}", "d" * 64), (None, None)],
)
def test_the_reported_revision_of_a_kustomization(applied: str | None, sha: str | None) -> None:
    found = {"status": {"lastAppliedRevision": applied}} if applied else {"status": {}}
    assert reported_revision(ControllerKind.FLUX, found) == sha


def test_an_absent_kustomization_is_progressing() -> None:
    assert read_kustomization(None, None).verdict is ControllerVerdict.PROGRESSING


# ---- the gitops-* checks -----------------------------------------------------------------------------------------

REPOSITORIES = st.sampled_from(
    [
        ("https://github.com/findly-now/deploy.git", None),
        ("https://x-access-token@github.com/findly-now/deploy", None),
        ("git@github.com:findly-now/deploy.git", None),
        ("ssh://git@github.com/findly-now/deploy.git", None),
        ("https://gitlab.com/findly-now/deploy.git", Severity.WARNING),
        ("git@git.example.com:deploy.git", Severity.WARNING),
        ("/srv/git/deploy.git", Severity.ERROR),
        ("../deploy", Severity.ERROR),
    ]
)
STRATEGIES = st.sampled_from([None, StrategyKind.ROLLING, StrategyKind.CANARY, StrategyKind.BLUE_GREEN])


def _platform(
    bound: tuple[str, ...], clusters: tuple[str, ...], strategy: StrategyKind | None, repository: str, pr: bool
) -> Platform:
    environments = (
        Environment("dev", DeploymentTrigger(TriggerKind.PUSH)),
        Environment("production", DeploymentTrigger(TriggerKind.PROMOTION, source="dev"), deployment_strategy=strategy),
    )
    settings = GitOpsSettings(
        repository, tuple(GitOpsBinding(name, f"findly-{name}") for name in bound), pull_request=pr
    )
    kubernetes = KubernetesSettings(clusters=tuple(ClusterBinding(name) for name in clusters))
    return Platform(environments, kubernetes=kubernetes, gitops=settings)


@given(
    st.lists(st.sampled_from(["dev", "production", "prod"]), unique=True, max_size=3),
    st.lists(st.sampled_from(["dev", "production"]), unique=True, max_size=2),
    STRATEGIES,
    REPOSITORIES,
    st.booleans(),
)
def test_the_gitops_checks(
    bound: list[str],
    clusters: list[str],
    strategy: StrategyKind | None,
    repository: tuple[str, Severity | None],
    pr: bool,
) -> None:
    url, severity = repository
    findings = {
        (f.location, f.rule, f.severity)
        for f in checks.gitops(_platform(tuple(bound), tuple(clusters), strategy, url, pr))
    }
    expected = set()
    for name in bound:
        if name == "prod":
            expected.add(("gitops.environments.prod", "gitops-binding", Severity.ERROR))
            continue
        if name in clusters:
            expected.add((f"gitops.environments.{name}", "gitops-cluster", Severity.ERROR))
        if name == "production" and strategy in {StrategyKind.CANARY, StrategyKind.BLUE_GREEN}:
            expected.add(("environments.production.deployment_strategy", "gitops-strategy", Severity.ERROR))
    if pr and severity is not None:
        expected.add(("gitops.pull_request", "gitops-pull-request", severity))
    assert findings == expected
    assert checks.gitops(attrs.evolve(_platform((), (), None, url, pr), gitops=None)) is not None


def test_the_strategy_check_says_to_use_rolling() -> None:
    (finding,) = checks.gitops(_platform(("production",), (), StrategyKind.CANARY, "https://github.com/o/r.git", False))
    assert "use deployment_strategy: rolling there" in finding.message
    assert finding.rule == "gitops-strategy"


def test_a_kustomization_that_failed_its_health_checks_reports_the_revision_it_attempted() -> None:
    """kustomize-controller moves lastAppliedRevision only after the health checks passed: a revision that failed
    them is named in lastAttemptedRevision alone, and the failure is about it."""
    old, new = "b" * 40, SHA
    failed = {
        "metadata": {"generation": 1},
        "status": {
            "observedGeneration": 1,
            "lastAppliedRevision": f"main@sha1:{old}",
            "lastAttemptedRevision": f"main@sha1:{new}",
            "conditions": [{"type": "Ready", "status": "False", "reason": "HealthCheckFailed", "message": "timeout"}],
        },
    }
    assert reported_revision(ControllerKind.FLUX, failed) == new
    assert read_kustomization(failed, True).verdict is ControllerVerdict.FAILED
    progressing = {
        **failed,
        "status": {**failed["status"], "conditions": [{"type": "Ready", "status": "Unknown", "reason": "Progressing"}]},
    }
    assert reported_revision(ControllerKind.FLUX, progressing) == old  # still applying it: the older one is what runs


def _failed_after_a_spec_edit(reason: str) -> dict[str, Any]:
    """A Kustomization edited since its last success (generation 3, status.observedGeneration 2) whose reconciliation
    of our revision failed: conditions.MarkFalse stamps the Ready condition's observedGeneration, finalizeStatus moves
    status.observedGeneration only when Ready is True (kustomize-controller kustomization_controller.go)."""
    return {
        "metadata": {"generation": 3},
        "spec": {"wait": True},
        "status": {
            "observedGeneration": 2,
            "lastAppliedRevision": f"main@sha1:{'b' * 40}",
            "lastAttemptedRevision": f"main@sha1:{SHA}",
            "conditions": [
                {"type": "Ready", "status": "False", "reason": reason, "message": "said", "observedGeneration": 3}
            ],
        },
    }


@pytest.mark.parametrize("reason", ["HealthCheckFailed", "ReconciliationFailed", "PruneFailed", "BuildFailed"])
def test_a_kustomization_that_failed_our_revision_after_a_spec_edit_is_failed(reason: str) -> None:
    found = _failed_after_a_spec_edit(reason)
    assert reported_revision(ControllerKind.FLUX, found) == SHA  # the revision it attempted
    reading = read_kustomization(found, True)
    assert reading.verdict is ControllerVerdict.FAILED
    assert reading.revision == SHA
    stale = _failed_after_a_spec_edit(reason)  # the failure is of an older spec: not said of this one yet
    stale["status"]["conditions"][0]["observedGeneration"] = 2
    assert read_kustomization(stale, True).verdict is ControllerVerdict.PROGRESSING


@pytest.mark.parametrize(
    ("spec", "warned"),
    [({}, True), ({"wait": False}, True), ({"wait": True}, False), ({"healthChecks": [{"kind": "Deployment"}]}, False)],
)
def test_a_kustomization_that_checks_no_health_is_deployed_with_a_warning(spec: dict[str, Any], warned: bool) -> None:
    # kustomize-controller checkHealth: no healthChecks and no wait -> no health check runs, Ready True on apply
    found = {**_kustomization("True", "ReconciliationSucceeded"), "spec": spec}
    found["metadata"] = {**found["metadata"], "name": "findly-dev", "namespace": "flux-system"}
    reading = read_kustomization(found, True)
    assert reading.verdict is ControllerVerdict.DEPLOYED
    if warned:
        assert reading.warning is not None
        assert "Kustomization flux-system/findly-dev checks no health" in reading.warning
        assert "spec.wait: true" in reading.warning
    else:
        assert reading.warning is None


# ---- the controller's source against the binding ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        ("https://github.com/findly-now/deploy.git", "https://GitHub.com/findly-now/deploy", True),
        ("git@github.com:findly-now/deploy.git", "ssh://git@github.com/findly-now/deploy", True),
        ("git@github.com:findly-now/deploy.git", "https://github.com/findly-now/deploy.git", False),  # as Argo CD
        ("https://github.com/findly-now/deploy", "https://github.com/findly-now/other", False),
        ("/srv/git/deploy.git", "file:///srv/git/deploy", True),
        ("", "", False),
    ],
)
def test_same_url_compares_as_argo_cd_does(left: str, right: str, same: bool) -> None:
    # argo-cd util/git/git.go SameURL -> NormalizeGitURL: lower-cased, scp-like ssh read as ssh://, .git dropped
    assert same_url(left, right) is same
    assert same_url(right, left) is same


def _bound(kind: ControllerKind) -> GitOpsSettings:
    return GitOpsSettings(
        "https://github.com/findly-now/deploy.git", (GitOpsBinding("development", "findly-dev"),), controller=kind
    )


def test_an_application_of_another_overlay_branch_or_repository_is_named_with_its_field() -> None:
    settings = _bound(ControllerKind.ARGOCD)
    good = {
        "repoURL": "https://github.com/findly-now/deploy",
        "path": "k8s/overlays/development",
        "targetRevision": "main",
    }
    assert source_mismatch(settings, "development", {"spec": {"source": good}}) is None
    for revision in ("HEAD", "refs/heads/main", None):
        assert (
            source_mismatch(settings, "development", {"spec": {"source": {**good, "targetRevision": revision}}}) is None
        )
    said = source_mismatch(settings, "development", {"spec": {"source": {**good, "path": "k8s/overlays/staging"}}})
    assert said is not None
    assert said.startswith("gitops.environments.development.name (findly-dev): its spec.source.path")
    assert "'k8s/overlays/development'" in said
    # multi-source: the source of the repository is the one checked (a Helm chart beside it is not)
    chart = {"repoURL": "https://charts.example.com", "chart": "redis", "targetRevision": "17.3.2"}
    assert source_mismatch(settings, "development", {"spec": {"sources": [chart, good]}}) is None
    said = source_mismatch(settings, "development", {"spec": {"sources": [chart]}})
    assert said is not None
    assert "not gitops.repository" in said


def test_a_kustomization_of_another_path_or_source_is_named_with_its_field() -> None:
    settings = _bound(ControllerKind.FLUX)
    found = {"spec": {"path": "./k8s/overlays/development", "sourceRef": {"kind": "GitRepository", "name": "deploy"}}}
    source = {"spec": {"url": "https://github.com/findly-now/deploy", "ref": {"branch": "main"}}}
    assert source_mismatch(settings, "development", found, source) is None
    assert source_mismatch(settings, "development", found, None) is None  # the GitRepository not readable
    other = {"spec": {**found["spec"], "path": "./k8s/overlays/production"}}
    assert "its spec.path is 'k8s/overlays/production'" in (source_mismatch(settings, "development", other) or "")
    elsewhere = {"spec": {"url": "https://github.com/findly-now/other", "ref": {"branch": "main"}}}
    assert "the GitRepository deploy of its spec.sourceRef has spec.url" in (
        source_mismatch(settings, "development", found, elsewhere) or ""
    )
    branch = {"spec": {**source["spec"], "ref": {"branch": "release"}}}
    assert "spec.ref.branch is 'release'" in (source_mismatch(settings, "development", found, branch) or "")


def test_a_multi_source_application_reports_the_revision_of_the_repositorys_source() -> None:
    # argo-cd types.go SyncStatus.Revisions: one per spec.sources entry, in order; the chart's comes first here
    app = {
        "spec": {
            "sources": [
                {"repoURL": "https://charts.example.com", "chart": "redis"},
                {"repoURL": "https://github.com/findly-now/deploy", "path": "k8s/overlays/development"},
            ]
        },
        "status": {"sync": {"status": "Synced", "revisions": ["17.3.2", SHA]}, "health": {"status": "Healthy"}},
    }
    assert reported_revision(ControllerKind.ARGOCD, app, "https://github.com/findly-now/deploy.git") == SHA
    assert reported_revision(ControllerKind.ARGOCD, app) == "17.3.2"  # no repository given: the first, as before


def test_the_version_label_is_read_as_the_file_holds_it() -> None:
    text = 'metadata:\n  labels:\n    apiVersion: x\n    version: "1.0.0"  # rendered\n'
    assert version_label_of(text, "version") == "1.0.0"
    assert version_label_of("kind: Deployment\n", "version") is None
    assert version_label_of(text, "") is None
