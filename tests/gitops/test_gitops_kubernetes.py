"""The controller's object read through the Kubernetes adapter (``adapters.kubernetes``): an Argo CD Application and a
Flux Kustomization served by the Kubernetes stand-in from minimal CustomResourceDefinitions of their published groups
(the stand-in's own copies of the published CRDs come with issue 28's stand-in work), read by ``GitOpsWorkloads``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from findly_infra.adapters.memory import MemoryGitRepository
from findly_infra.application.gitops import GitOpsWorkloads
from findly_infra.domain.gitops import ControllerKind, ControllerVerdict, GitOpsBinding, GitOpsSettings

pytest.importorskip("kubernetes", reason="the kubernetes extra: pip install 'findly-infra[kubernetes]'")
pytest.importorskip("kubernetes_validate", reason="the testing extra: pip install 'findly-infra[testing]'")


def _crd(group: str, version: str, kind: str, plural: str) -> dict[str, Any]:
    """A CustomResourceDefinition of *kind*, its schema left open (the published ones are the stand-in's)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "versions": [
                {
                    "name": version,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }


@pytest.mark.parametrize("kind", list(ControllerKind))
def test_the_controllers_object_is_read_through_the_kubernetes_adapter(kind: ControllerKind, tmp_path: Path) -> None:
    import yaml

    from findly_infra.adapters.kubernetes import connect
    from findly_infra.testing.kubernetes import KubernetesStandIn

    api_version, kind_name = kind.kind
    group, _, version = api_version.partition("/")
    plural = "applications" if kind is ControllerKind.ARGOCD else "kustomizations"
    repository = MemoryGitRepository()
    head = repository.seed({"k8s/overlays/dev/fn-posts/deployment-stable.yaml": 'image: "x/fn-posts:1.0.0"\n'})
    status: dict[str, Any] = (
        {"sync": {"status": "Synced", "revision": head}, "health": {"status": "Healthy"}}
        if kind is ControllerKind.ARGOCD
        else {
            "lastAppliedRevision": f"main@sha1:{head}",
            "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": "ok"}],
        }
    )
    with KubernetesStandIn(crds=[_crd(group, version, kind_name, plural)]) as cluster:
        namespace = kind.default_namespace
        cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}, manager="admin")
        cluster.apply(
            {
                "apiVersion": api_version,
                "kind": kind_name,
                "metadata": {"name": "findly-dev", "namespace": namespace},
                "spec": {},
                "status": status,
            },
            manager="admin",
        )
        config = tmp_path / "kubeconfig"
        config.write_text(yaml.safe_dump(cluster.kubeconfig()))
        objects = connect(context="stand-in", kubeconfig=str(config))
        settings = GitOpsSettings(
            "https://github.com/o/deploy.git", (GitOpsBinding("dev", "findly-dev"),), controller=kind
        )
        workloads = GitOpsWorkloads(
            settings, repository, lambda _env: objects, {"fn-posts": "x/fn-posts"}, lambda _s: ()
        )
        reading = workloads.reading("fn-posts", "dev")
        assert reading.reading.verdict is ControllerVerdict.DEPLOYED
        assert reading.reading.revision == head
        assert reading.controller == f"{kind_name} {namespace}/findly-dev"


def test_gitops_context_names_the_controllers_cluster_whatever_context_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the gitops-cluster rule leaves a GitOps environment no kubernetes.clusters binding: gitops.context is the one
    # place that names the controller's cluster, and --context (meant for a workload cluster) does not move it
    import attrs
    import yaml

    from findly_infra import load_platform
    from findly_infra.bootstrap.clusters import gitops_objects
    from tests.conftest import EXAMPLE

    def entry(name: str, port: int) -> dict[str, Any]:
        return {"name": name, "cluster": {"server": f"https://127.0.0.1:{port}", "insecure-skip-tls-verify": True}}

    config = tmp_path / "kubeconfig"
    config.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [entry("mgmt", 6551), entry("workload", 6552)],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [
                    {"name": name, "context": {"cluster": name, "user": "u"}} for name in ("mgmt", "workload")
                ],
                "current-context": "workload",
            }
        )
    )
    monkeypatch.setenv("KUBECONFIG", str(config))
    settings = GitOpsSettings("https://github.com/o/deploy.git", (GitOpsBinding("development", "findly-dev"),))
    platform = attrs.evolve(load_platform(EXAMPLE), gitops=attrs.evolve(settings, context="mgmt"))
    assert "6551" in gitops_objects(platform, "development", context="workload").server
    unnamed = attrs.evolve(platform, gitops=settings)  # no gitops.context: --context, else the current context
    assert "6552" in gitops_objects(unnamed, "development", context="workload").server
    assert "6552" in gitops_objects(unnamed, "development").server
