"""The test GitOps controller (testing/gitops.py) writes what Argo CD's and Flux's controllers write, reading what
runs from the commits of a bare repository."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kubernetes", reason="the kubernetes extra: pip install 'findly-infra[kubernetes]'")

from findly_infra.testing.gitops import GitOpsController, image_tag
from findly_infra.testing.kubernetes import KubernetesStandIn
from tests.gitops.stand_in_repos import bare, commit, deployment

OVERLAY = "k8s/overlays/production"
FILE = f"{OVERLAY}/fn-posts/deployment-stable.yaml"
ARGO = ("argoproj.io/v1alpha1", "Application")
FLUX = ("kustomize.toolkit.fluxcd.io/v1", "Kustomization")


@pytest.fixture
def cluster() -> Iterator[KubernetesStandIn]:
    with KubernetesStandIn() as stand_in:
        for namespace in ("argocd", "flux-system"):
            stand_in.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        yield stand_in


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    return bare(tmp_path / "deploy.git")


def application(cluster: KubernetesStandIn, repository: Path, *, automated: bool = True, name: str = "prod") -> None:
    spec: dict[str, Any] = {
        "project": "default",
        "source": {"repoURL": str(repository), "path": OVERLAY, "targetRevision": "main"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "findly-production"},
    }
    if automated:
        spec["syncPolicy"] = {"automated": {"prune": True, "selfHeal": True}}
    cluster.apply(
        {"apiVersion": ARGO[0], "kind": ARGO[1], "metadata": {"name": name, "namespace": "argocd"}, "spec": spec}
    )


def kustomization(cluster: KubernetesStandIn, name: str = "prod", path: str = OVERLAY, **spec: Any) -> None:
    cluster.apply(
        {
            "apiVersion": FLUX[0],
            "kind": FLUX[1],
            "metadata": {"name": name, "namespace": "flux-system"},
            "spec": {
                "interval": "1m",
                "prune": True,
                "path": f"./{path}",
                "sourceRef": {"kind": "GitRepository", "name": "flux-system"},
                **spec,
            },
        }
    )


def argo_status(cluster: KubernetesStandIn, name: str = "prod") -> dict[str, Any]:
    found = cluster.get(*ARGO, "argocd", name)
    assert found is not None
    return dict(found.get("status") or {})


def flux_status(cluster: KubernetesStandIn, name: str = "prod") -> dict[str, Any]:
    found = cluster.get(*FLUX, "flux-system", name)
    assert found is not None
    return dict(found.get("status") or {})


def ready(status: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == "Ready")


def test_image_tags_are_read_as_a_runtime_reads_them() -> None:
    assert image_tag("ghcr.io/findly-now/fn-posts:2.0.0") == "2.0.0"
    assert image_tag("localhost:5000/fn-posts") == "latest"
    assert image_tag("ghcr.io/x/y@sha256:abc") == "sha256:abc"


def test_argo_syncs_a_new_revision_then_reports_healthy_or_degraded(
    cluster: KubernetesStandIn, repository: Path
) -> None:
    first = commit(repository, {FILE: deployment("fn-posts", "1.0.0")}, "1.0.0")
    application(cluster, repository)
    controller = GitOpsController(cluster, repository, failing={"2.0.0"})
    assert controller.sync_once() == 1
    status = argo_status(cluster)
    assert status["sync"]["status"] == "Synced"
    assert status["sync"]["revision"] == first
    assert status["operationState"]["phase"] == "Succeeded"
    assert status["operationState"]["syncResult"]["revision"] == first
    assert status["health"]["status"] == "Progressing"
    assert status["history"][-1]["revision"] == first
    controller.sync_once()
    assert argo_status(cluster)["health"]["status"] == "Healthy"
    assert controller.sync_once() == 0  # nothing new: nothing written

    second = commit(repository, {FILE: deployment("fn-posts", "2.0.0")}, "2.0.0")
    controller.sync_once()
    assert (argo_status(cluster)["sync"]["revision"], argo_status(cluster)["health"]["status"]) == (
        second,
        "Progressing",
    )
    controller.sync_once()
    status = argo_status(cluster)
    assert status["health"]["status"] == "Degraded"
    assert status["health"]["message"] == 'Deployment "fn-posts" exceeded its progress deadline'

    assert [entry["revision"] for entry in status["history"]] == [first, second]

    commit(repository, {FILE: deployment("fn-posts", "1.0.0")}, "Revert 2.0.0")  # a revert commit heals it
    controller.sync_once()
    controller.sync_once()
    assert argo_status(cluster)["health"]["status"] == "Healthy"

    # a commit elsewhere in the repository: synced to, nothing rolls out, the health stays
    elsewhere = commit(repository, {"k8s/overlays/staging/README.md": "staging\n"}, "staging only")
    controller.sync_once()
    status = argo_status(cluster)
    assert (status["sync"]["revision"], status["health"]["status"]) == (elsewhere, "Healthy")


def test_argo_without_automated_sync_stays_out_of_sync_until_an_operation_asks(
    cluster: KubernetesStandIn, repository: Path
) -> None:
    head = commit(repository, {FILE: deployment("fn-posts", "1.0.0")}, "1.0.0")
    application(cluster, repository, automated=False)
    controller = GitOpsController(cluster, repository)
    controller.sync_once()
    controller.sync_once()
    status = argo_status(cluster)
    assert status["sync"] == {"status": "OutOfSync", "revision": head}
    assert set(status) == {"sync", "reconciledAt"}  # compared, never synced: no operation, no health written
    cluster.patch(
        *ARGO, "argocd", "prod", {"operation": {"sync": {"revision": head}, "initiatedBy": {"username": "carol"}}}
    )
    controller.sync_once()
    found = cluster.get(*ARGO, "argocd", "prod")
    assert found is not None
    assert "operation" not in found  # the controller clears the operation it ran
    assert found["status"]["operationState"]["operation"]["initiatedBy"] == {"username": "carol"}
    assert found["status"]["sync"] == {
        "status": "Synced",
        "revision": head,
        "comparedTo": found["status"]["sync"]["comparedTo"],
    }


def test_faults_a_stuck_controller_and_one_not_running(cluster: KubernetesStandIn, repository: Path) -> None:
    head = commit(repository, {FILE: deployment("fn-posts", "1.0.0")}, "1.0.0")
    application(cluster, repository)
    kustomization(cluster, wait=True)
    controller = GitOpsController(cluster, repository)
    controller.paused = True
    assert controller.sync_once() == 0
    assert argo_status(cluster) == {}
    assert flux_status(cluster) == {"observedGeneration": -1}
    controller.paused, controller.stuck = False, True
    for _ in range(3):
        controller.sync_once()
    assert argo_status(cluster)["sync"] == {"status": "OutOfSync", "revision": head}
    assert ready(flux_status(cluster))["status"] == "Unknown"
    assert flux_status(cluster)["observedGeneration"] == -1


def test_argo_reports_a_path_missing_from_the_commit(cluster: KubernetesStandIn, repository: Path) -> None:
    head = commit(repository, {"README.md": "nothing here\n"}, "empty")
    application(cluster, repository)
    GitOpsController(cluster, repository).sync_once()
    status = argo_status(cluster)
    assert status["sync"] == {"status": "Unknown", "revision": head}
    assert status["conditions"][0]["type"] == "ComparisonError"


def test_flux_reconciles_a_revision_then_applies_it(cluster: KubernetesStandIn, repository: Path) -> None:
    head = commit(repository, {FILE: deployment("fn-posts", "1.0.0")}, "1.0.0")
    kustomization(cluster, wait=True)
    controller = GitOpsController(cluster, repository)
    controller.sync_once()
    status = flux_status(cluster)
    assert (ready(status)["status"], ready(status)["reason"]) == ("Unknown", "Progressing")
    assert status["lastAttemptedRevision"] == f"main@sha1:{head}"
    assert "lastAppliedRevision" not in status
    assert {c["type"] for c in status["conditions"]} == {"Ready", "Reconciling", "Healthy"}
    controller.sync_once()
    status = flux_status(cluster)
    assert (ready(status)["status"], ready(status)["reason"]) == ("True", "ReconciliationSucceeded")
    assert ready(status)["message"] == f"Applied revision: main@sha1:{head}"
    assert status["lastAppliedRevision"] == f"main@sha1:{head}"
    assert status["observedGeneration"] == 1
    assert {c["type"] for c in status["conditions"]} == {"Ready", "Healthy"}  # Reconciling removed once Ready
    assert controller.sync_once() == 0


def test_flux_keeps_the_last_applied_revision_when_a_health_check_fails(
    cluster: KubernetesStandIn, repository: Path
) -> None:
    overlay = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: findly-production\n"
    good = commit(
        repository, {FILE: deployment("fn-posts", "1.0.0"), f"{OVERLAY}/kustomization.yaml": overlay}, "1.0.0"
    )
    kustomization(cluster, wait=True)
    controller = GitOpsController(cluster, repository, failing=lambda image: image.endswith(":2.0.0"))
    controller.sync_once()
    controller.sync_once()
    bad = commit(repository, {FILE: deployment("fn-posts", "2.0.0")}, "2.0.0")
    controller.sync_once()
    controller.sync_once()
    status = flux_status(cluster)
    assert (ready(status)["status"], ready(status)["reason"]) == ("False", "HealthCheckFailed")
    assert status["lastAttemptedRevision"] == f"main@sha1:{bad}"
    assert status["lastAppliedRevision"] == f"main@sha1:{good}"
    assert "[Deployment/findly-production/fn-posts status: 'InProgress']" in ready(status)["message"]
    reconciling = next(c for c in status["conditions"] if c["type"] == "Reconciling")
    assert reconciling["reason"] == "ProgressingWithRetry"
    assert controller.sync_once() == 0


def test_flux_without_health_checks_is_ready_whatever_the_image(cluster: KubernetesStandIn, repository: Path) -> None:
    head = commit(repository, {FILE: deployment("fn-posts", "2.0.0")}, "2.0.0")
    kustomization(cluster)  # no wait, no healthChecks: kustomize-controller does not check health
    controller = GitOpsController(cluster, repository, failing={"2.0.0"})
    controller.sync_once()
    controller.sync_once()
    status = flux_status(cluster)
    assert ready(status)["status"] == "True"
    assert status["lastAppliedRevision"] == f"main@sha1:{head}"
    assert "Healthy" not in {c["type"] for c in status["conditions"]}


def test_flux_waits_for_its_dependencies_and_reports_a_missing_path(
    cluster: KubernetesStandIn, repository: Path
) -> None:
    commit(repository, {FILE: deployment("fn-posts", "1.0.0")}, "1.0.0")
    kustomization(cluster, "infra", wait=True)
    kustomization(cluster, "apps", dependsOn=[{"name": "infra"}])
    kustomization(cluster, "elsewhere", path="k8s/overlays/nowhere")
    controller = GitOpsController(cluster, repository)
    controller.sync_once()
    assert ready(flux_status(cluster, "apps"))["reason"] == "DependencyNotReady"
    assert ready(flux_status(cluster, "elsewhere"))["reason"] == "ArtifactFailed"
    controller.sync_once()  # infra Ready (apps, read before it, still waits)
    assert ready(flux_status(cluster, "apps"))["reason"] == "DependencyNotReady"
    controller.sync_once()  # apps starts
    assert ready(flux_status(cluster, "apps"))["status"] == "Unknown"
    controller.sync_once()
    assert ready(flux_status(cluster, "apps"))["status"] == "True"


def test_a_kustomization_of_another_source_is_left_alone(cluster: KubernetesStandIn, repository: Path) -> None:
    commit(repository, {FILE: deployment("fn-posts", "1.0.0")}, "1.0.0")
    kustomization(cluster, sourceRef={"kind": "GitRepository", "name": "other"})
    assert GitOpsController(cluster, repository).sync_once() == 0


def test_the_controller_runs_in_a_thread_until_stopped(cluster: KubernetesStandIn, repository: Path) -> None:
    commit(repository, {FILE: deployment("fn-posts", "1.0.0")}, "1.0.0")
    application(cluster, repository)
    with GitOpsController(cluster, repository, interval=0.01) as controller:
        deadline = time.monotonic() + 30
        while argo_status(cluster).get("health", {}).get("status") != "Healthy":
            assert time.monotonic() < deadline, "the controller never reported the application healthy"
            time.sleep(0.01)
    done = controller.reconciliations
    time.sleep(0.05)
    assert controller.reconciliations == done  # stopped
    assert controller.errors == []


def test_the_controller_reads_what_render_writes(
    cluster: KubernetesStandIn, repository: Path, example_text: str
) -> None:
    from findly_infra.config.loader import load_platform_text
    from findly_infra.render.tree import render_platform

    platform = load_platform_text(example_text)

    def rendered(version: str) -> dict[str, str | None]:
        files = render_platform(platform, environments=["production"], versions={"fn-posts": version})
        return {f"k8s/{name}": text for name, text in files.items()}

    commit(repository, dict(rendered("1.0.0")), "fn-posts 1.0.0")
    application(cluster, repository)
    kustomization(cluster, wait=True)
    controller = GitOpsController(cluster, repository, failing={"2.0.0"})
    runs = controller.workloads(controller.head() or "", OVERLAY)
    assert runs is not None
    assert ("Deployment/findly-now-production/fn-posts", "gcr.io/findly-now/fn-posts:1.0.0") in runs
    assert not any(workload.endswith("-green") for workload, _ in runs)  # the idle colour runs no pods
    controller.sync_once()
    controller.sync_once()
    assert argo_status(cluster)["health"]["status"] == "Healthy"
    assert ready(flux_status(cluster))["status"] == "True"
    commit(repository, dict(rendered("2.0.0")), "fn-posts 2.0.0")
    controller.sync_once()
    controller.sync_once()
    assert argo_status(cluster)["health"]["message"] == 'Deployment "fn-posts" exceeded its progress deadline'
    assert ready(flux_status(cluster))["reason"] == "HealthCheckFailed"


def test_flux_tries_a_failed_revision_again_when_its_spec_changes(cluster: KubernetesStandIn, repository: Path) -> None:
    commit(repository, {FILE: deployment("fn-posts", "2.0.0")}, "2.0.0")
    kustomization(cluster, wait=True)
    controller = GitOpsController(cluster, repository, failing={"2.0.0"})
    controller.sync_once()
    controller.sync_once()
    assert ready(flux_status(cluster))["reason"] == "HealthCheckFailed"
    assert controller.sync_once() == 0
    kustomization(cluster, wait=False)  # a new generation: reconciled again, and without health checks it is Ready
    controller.sync_once()
    controller.sync_once()
    status = flux_status(cluster)
    assert (ready(status)["status"], status["observedGeneration"]) == ("True", 2)


def test_argo_can_show_its_sync_running_and_failing(cluster: KubernetesStandIn, repository: Path) -> None:
    head = commit(repository, {FILE: deployment("fn-posts", "1.0.0")}, "1.0.0")
    application(cluster, repository)
    controller = GitOpsController(cluster, repository, show_running=True)
    controller.sync_once()
    status = argo_status(cluster)
    assert status["sync"] == {"status": "OutOfSync", "revision": head}
    assert status["operationState"]["phase"] == "Running"
    controller.sync_once()
    assert (argo_status(cluster)["operationState"]["phase"], argo_status(cluster)["sync"]["status"]) == (
        "Succeeded",
        "Synced",
    )

    second = commit(repository, {FILE: deployment("fn-posts", "1.1.0")}, "1.1.0")
    controller.show_running = False
    controller.apply_fails = 'admission webhook "validate.kyverno.svc" denied the request'
    controller.sync_once()
    status = argo_status(cluster)
    assert status["operationState"]["phase"] == "Failed"
    assert status["operationState"]["message"].startswith("one or more objects failed to apply, reason: admission")
    assert (status["sync"]["status"], status["sync"]["revision"]) == ("OutOfSync", second)
    assert [entry["revision"] for entry in status["history"]] == [head]
    controller.apply_fails = None
    assert controller.sync_once() == 0  # automated sync does not try a failed commit again


def test_flux_reports_a_failed_apply_and_a_broken_build(cluster: KubernetesStandIn, repository: Path) -> None:
    commit(repository, {FILE: deployment("fn-posts", "1.0.0")}, "1.0.0")
    kustomization(cluster)
    controller = GitOpsController(cluster, repository)
    controller.apply_fails = "Deployment/findly-production/fn-posts dry-run failed: field is immutable"
    controller.sync_once()
    controller.sync_once()
    status = flux_status(cluster)
    assert (ready(status)["status"], ready(status)["reason"]) == ("False", "ReconciliationFailed")
    assert "lastAppliedRevision" not in status
    broken = commit(repository, {FILE: "apiVersion: apps/v1\nkind: [unclosed\n"}, "broken")
    controller.apply_fails = None
    controller.sync_once()
    status = flux_status(cluster)
    assert (ready(status)["status"], ready(status)["reason"]) == ("False", "BuildFailed")
    assert status["lastAttemptedRevision"] == f"main@sha1:{broken}"


def test_argo_reports_a_manifest_that_does_not_parse(cluster: KubernetesStandIn, repository: Path) -> None:
    head = commit(repository, {FILE: "kind: [unclosed\n"}, "broken")
    application(cluster, repository)
    GitOpsController(cluster, repository).sync_once()
    status = argo_status(cluster)
    assert status["sync"] == {"status": "Unknown", "revision": head}
    assert "Manifest generation error" in status["conditions"][0]["message"]


def test_the_failing_tags_may_change_as_the_test_goes(cluster: KubernetesStandIn, repository: Path) -> None:
    commit(repository, {FILE: deployment("fn-posts", "1.0.0")}, "1.0.0")
    application(cluster, repository)
    failing: set[str] = set()
    controller = GitOpsController(cluster, repository, failing=failing)
    controller.sync_once()
    failing.add("1.0.0")  # marked failing before its health is known
    controller.sync_once()
    assert argo_status(cluster)["health"]["status"] == "Degraded"


def test_an_application_names_the_repository_as_argo_cd_compares_urls(
    cluster: KubernetesStandIn, tmp_path: Path
) -> None:
    repository = bare(tmp_path / "Deploy.git")
    commit(repository, {FILE: deployment("fn-posts", "1.0.0")}, "1.0.0")
    application(cluster, repository)
    cluster.patch(*ARGO, "argocd", "prod", {"spec": {"source": {"repoURL": f"file://{tmp_path}/deploy"}}})
    assert GitOpsController(cluster, repository).sync_once() == 1  # util/git SameURL: case and ".git" aside


def test_argo_lists_each_deployment_with_its_own_health(cluster: KubernetesStandIn, repository: Path) -> None:
    # argo-cd types.go ResourceStatus, written on every refresh (appcontroller.go app.Status.Resources): the
    # Application's health is the worst of them (health.md), each Deployment's is its own
    other = f"{OVERLAY}/fn-matcher/deployment-stable.yaml"
    commit(repository, {FILE: deployment("fn-posts", "2.0.0"), other: deployment("fn-matcher", "9.9.9")}, "both")
    application(cluster, repository)
    controller = GitOpsController(cluster, repository, failing={"9.9.9"})
    controller.sync_once()
    assert {entry["name"]: entry["health"]["status"] for entry in argo_status(cluster)["resources"]} == {
        "fn-posts": "Progressing",
        "fn-matcher": "Progressing",
    }
    controller.sync_once()
    status = argo_status(cluster)
    assert status["health"]["status"] == "Degraded"  # the worst of them
    resources = {entry["name"]: entry for entry in status["resources"]}
    assert resources["fn-posts"]["health"] == {"status": "Healthy"}
    assert resources["fn-matcher"]["health"]["status"] == "Degraded"
    assert (resources["fn-posts"]["group"], resources["fn-posts"]["kind"]) == ("apps", "Deployment")
