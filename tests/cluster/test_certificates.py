"""``apply --env`` brings each environment's Google-managed certificate to its cluster like any other object —
created, changed, pruned when the file drops its domains — judged by the stand-in against GKE's published
ManagedCertificate CRD, and sent exactly as ``kubectl kustomize`` builds the rendered overlay.

Defect (issue 22): the Ingress named a ManagedCertificate that nothing created, so no environment had HTTPS; and
``apply`` did not know the kind (it could neither apply nor prune one)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("kubernetes", reason="the kubernetes extra: pip install 'findly-infra[kubernetes]'")

from findly_infra import load_platform
from findly_infra.adapters.kubernetes import KubernetesObjects, connect
from findly_infra.application.cluster_apply import apply_environment
from findly_infra.application.ports import BadInputError
from findly_infra.domain import Platform
from findly_infra.domain.cluster import object_key
from findly_infra.render.objects import environment_objects, for_apply
from findly_infra.testing.kubernetes import KubernetesStandIn
from tests.conftest import EXAMPLE, KUBECTL_INSTALL, require_tool
from tests.render.test_workload_access import DOMAINS, with_domains

PLATFORM = load_platform(EXAMPLE)
NS = "findly-now-production"
CERTIFICATE = ("networking.gke.io/v1", "ManagedCertificate", NS, "findly-now")
HTTPS = with_domains(PLATFORM, DOMAINS, {"production": "findly-now-production"})


@pytest.fixture
def objects(cluster: KubernetesStandIn, tmp_path: Path) -> KubernetesObjects:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(cluster.kubeconfig()))
    return connect(context="stand-in", kubeconfig=str(path))


def production(platform: Platform) -> list[dict[str, Any]]:
    return for_apply(environment_objects(platform, "production"), "production")


def _annotations(cluster: KubernetesStandIn) -> dict[str, str]:
    ingress = cluster.get("networking.k8s.io/v1", "Ingress", NS, "findly-now")
    assert ingress is not None
    return dict(ingress["metadata"].get("annotations") or {})


@pytest.mark.parametrize("environment", ["development", "staging", "production"])
def test_what_apply_sends_is_what_kustomize_builds_of_the_rendered_overlay(environment: str, tmp_path: Path) -> None:
    from findly_infra.render import render_platform, write_tree

    kubectl = require_tool("kubectl", KUBECTL_INSTALL)
    write_tree(render_platform(HTTPS), tmp_path)
    built = subprocess.run(
        [kubectl, "kustomize", str(tmp_path / "overlays" / environment)], capture_output=True, text=True, check=True
    ).stdout
    theirs = sorted((doc for doc in yaml.safe_load_all(built) if doc), key=object_key)
    ours = environment_objects(HTTPS, environment)
    assert ours == theirs
    assert any(item["kind"] == "ManagedCertificate" for item in ours) == (environment in DOMAINS)


def test_a_certificate_is_created_changed_and_pruned_with_the_files_domains(
    cluster: KubernetesStandIn, objects: KubernetesObjects
) -> None:
    report = apply_environment(objects, production(HTTPS), "production", NS)
    assert ("create", "ManagedCertificate") in {(c.action, c.kind) for c in report.changes}
    stored = cluster.get(*CERTIFICATE)
    assert stored is not None
    assert stored["spec"] == {"domains": ["api.findly.now", "www.findly.now"]}
    assert stored["metadata"]["labels"]["findly-infra/environment"] == "production"
    assert _annotations(cluster)["networking.gke.io/managed-certificates"] == "findly-now"
    assert _annotations(cluster)["kubernetes.io/ingress.global-static-ip-name"] == "findly-now-production"
    assert not apply_environment(objects, production(HTTPS), "production", NS).differs  # nothing moves again

    fewer = with_domains(PLATFORM, {"production": ("api.findly.now",)}, {"production": "findly-now-production"})
    changed = apply_environment(objects, production(fewer), "production", NS)
    assert [(c.action, c.fields) for c in changed.changes if c.kind == "ManagedCertificate"] == [
        ("configure", ("spec.domains",))
    ]
    assert (cluster.get(*CERTIFICATE) or {})["spec"] == {"domains": ["api.findly.now"]}

    gone = apply_environment(objects, production(PLATFORM), "production", NS)  # the file gives production none
    assert [(c.action, c.kind) for c in gone.changes if c.action == "prune"] == [("prune", "ManagedCertificate")]
    assert cluster.get(*CERTIFICATE) is None
    left = _annotations(cluster)
    assert "networking.gke.io/managed-certificates" not in left  # no Ingress names a certificate that is gone
    assert "kubernetes.io/ingress.global-static-ip-name" not in left


def test_the_stand_in_judges_a_certificate_by_gkes_published_crd(
    cluster: KubernetesStandIn, objects: KubernetesObjects
) -> None:
    """What the file's own check refuses, a cluster refuses too: a wildcard domain breaks the CRD's pattern (checked
    by the server's dry run once the namespace exists)."""
    apply_environment(objects, production(PLATFORM), "production", NS)
    wildcard = [
        {**item, "spec": {"domains": ["*.findly.now"]}} if item["kind"] == "ManagedCertificate" else item
        for item in production(HTTPS)
    ]
    with pytest.raises(BadInputError, match=r"spec\.domains\[0\].*nothing was changed"):
        apply_environment(objects, wildcard, "production", NS)
    assert cluster.get(*CERTIFICATE) is None


def test_a_cluster_without_managed_certificates_is_told_so_or_left_alone(tmp_path: Path) -> None:
    """A cluster that is not GKE (kind, say) serves no ManagedCertificate: an environment with domains is refused
    before anything changes; one without applies — and pruning does not trip over the kind it lacks."""
    with KubernetesStandIn(omit_groups=("networking.gke.io",)) as bare:
        config = tmp_path / "kubeconfig"
        config.write_text(yaml.safe_dump(bare.kubeconfig()))
        objects = connect(context="stand-in", kubeconfig=str(config))
        with pytest.raises(BadInputError) as refused:
            apply_environment(objects, production(HTTPS), "production", NS)
        assert "does not serve networking.gke.io/v1 ManagedCertificate" in str(refused.value)
        assert bare.get("v1", "Namespace", "", NS) is None
        report = apply_environment(objects, production(PLATFORM), "production", NS)
        assert report.counts["create"] == len(production(PLATFORM))
        assert report.counts["prune"] == 0
