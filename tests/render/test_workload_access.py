"""What a real GKE needs of the rendered objects for the workloads to do their job (issue 22): each environment's
Ingress with its own Google-managed certificate — a ``ManagedCertificate`` in the Ingress's namespace, named by the
Ingress only where it exists — a reserved address where the file names one, Services the load balancer reaches, and
pods that run as the Kubernetes ServiceAccount their secrets are granted to.

Defect: the Ingress named a ManagedCertificate ``findly-now`` that nothing created (no HTTPS, in any environment), and
one Ingress was shared by every environment."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import attrs
import pytest

from findly_infra import load_platform
from findly_infra.domain import Platform
from findly_infra.render import render_platform, write_tree
from tests.conftest import EXAMPLE

from .conftest import tool
from .manifests_check import check_manifest, documents

PLATFORM = load_platform(EXAMPLE)
DOMAINS = {"production": ("api.findly.now", "www.findly.now"), "staging": ("api.staging.findly.now",)}


def with_domains(
    platform: Platform, domains: dict[str, tuple[str, ...]], static_ips: dict[str, str] | None = None
) -> Platform:
    """*platform* whose global load balancer gives these environments these domains (and reserved addresses)."""
    ingress = platform.ingress_configuration
    assert ingress is not None
    balancer = attrs.evolve(
        ingress.global_load_balancer,
        domains=tuple(domains.items()),
        static_ips=tuple((static_ips or {}).items()),
    )
    return attrs.evolve(platform, ingress_configuration=attrs.evolve(ingress, global_load_balancer=balancer))


def _object(tree: dict[str, str], path: str) -> dict[str, Any]:
    return documents(tree[path])[0]


def test_each_environment_with_domains_has_its_own_certificate_named_by_its_own_ingress() -> None:
    tree = render_platform(with_domains(PLATFORM, DOMAINS, {"production": "findly-now-production"}))
    assert "base/ingress.yaml" not in tree  # one Ingress per environment: certificates and addresses differ
    for environment, domains in DOMAINS.items():
        certificate = _object(tree, f"overlays/{environment}/managedcertificate.yaml")
        check_manifest(certificate, "1.32")
        assert (certificate["apiVersion"], certificate["kind"]) == ("networking.gke.io/v1", "ManagedCertificate")
        assert certificate["spec"] == {"domains": list(domains)}
        ingress = _object(tree, f"overlays/{environment}/ingress.yaml")
        annotations = ingress["metadata"]["annotations"]
        assert annotations["networking.gke.io/managed-certificates"] == certificate["metadata"]["name"]
        assert annotations["kubernetes.io/ingress.class"] == "gce"  # external: managed certificates need it
    production = _object(tree, "overlays/production/ingress.yaml")["metadata"]["annotations"]
    assert production["kubernetes.io/ingress.global-static-ip-name"] == "findly-now-production"
    staging = _object(tree, "overlays/staging/ingress.yaml")["metadata"]["annotations"]
    assert "kubernetes.io/ingress.global-static-ip-name" not in staging  # none named: none rendered
    assert "overlays/development/managedcertificate.yaml" not in tree
    development = _object(tree, "overlays/development/ingress.yaml")["metadata"]["annotations"]
    assert development == {"kubernetes.io/ingress.class": "gce"}  # no certificate: none named


def test_the_example_names_no_certificate_it_does_not_create() -> None:
    tree = render_platform(PLATFORM)  # Google-managed SSL, but no domains: no certificate can be provisioned
    assert not [path for path in tree if path.endswith("managedcertificate.yaml")]
    for environment in ("development", "staging", "production"):
        annotations = _object(tree, f"overlays/{environment}/ingress.yaml")["metadata"]["annotations"]
        assert "networking.gke.io/managed-certificates" not in annotations


def test_a_self_managed_certificate_renders_no_managed_one() -> None:
    platform = with_domains(PLATFORM, DOMAINS)
    ingress = platform.ingress_configuration
    assert ingress is not None
    self_managed = attrs.evolve(ingress.global_load_balancer, ssl_certificates="self-managed, uploaded by hand")
    tree = render_platform(
        attrs.evolve(platform, ingress_configuration=attrs.evolve(ingress, global_load_balancer=self_managed))
    )
    assert not [path for path in tree if path.endswith("managedcertificate.yaml")]


def test_the_services_behind_the_ingress_are_reached_through_network_endpoint_groups() -> None:
    tree = render_platform(PLATFORM)
    backends = {"fn-posts", "fn-notifications", "fn-matcher"}
    for service in backends:
        annotations = _object(tree, f"base/{service}/service.yaml")["metadata"]["annotations"]
        assert annotations == {"cloud.google.com/neg": '{"ingress": true}'}


def test_pods_run_as_the_service_account_their_secrets_are_granted_to() -> None:
    tree = render_platform(PLATFORM)
    for environment in ("development", "staging", "production"):
        for path in (p for p in tree if p.startswith(f"overlays/{environment}/") and "/deployment-" in p):
            deployment = _object(tree, path)
            service = deployment["spec"]["template"]["metadata"]["labels"]["app"]
            assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == service
            assert f"base/{service}/serviceaccount.yaml" in tree


@pytest.mark.parametrize("environment", ["development", "staging", "production"])
def test_kustomize_puts_each_certificate_and_service_account_in_its_environments_namespace(
    environment: str, tmp_path: Path
) -> None:
    write_tree(render_platform(with_domains(PLATFORM, DOMAINS, {"production": "findly-now-production"})), tmp_path)
    built = subprocess.run(
        [tool("kubectl"), "kustomize", str(tmp_path / "overlays" / environment)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert built.returncode == 0, built.stderr
    objects = documents(built.stdout)
    namespace = f"findly-now-{environment}"
    for document in objects:
        check_manifest(document, "1.32")
    by_kind = {(d["kind"], d["metadata"]["name"]): d for d in objects}
    ingress = by_kind["Ingress", "findly-now"]
    assert ingress["metadata"]["namespace"] == namespace
    certificate = by_kind.get(("ManagedCertificate", "findly-now"))
    if environment in DOMAINS:
        assert certificate is not None
        assert certificate["metadata"]["namespace"] == namespace  # the Ingress's: GKE looks for it there
        assert certificate["metadata"]["labels"]["environment"] == environment
    else:
        assert certificate is None
    accounts = {name for kind, name in by_kind if kind == "ServiceAccount"}
    assert accounts == {"fn-posts", "fn-notifications", "fn-matcher"}
    assert {by_kind["ServiceAccount", a]["metadata"]["namespace"] for a in accounts} == {namespace}
