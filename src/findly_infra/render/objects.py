"""One environment's objects as a cluster receives them: the base and the environment's overlay composed the way
``kustomize build overlays/ENV`` composes the rendered tree (the namespace set on every namespaced object, the
``environment`` label added), in memory — so that ``findly-infra apply`` needs no kustomize, and sends exactly what
``kubectl kustomize`` of the rendered tree would (a test compares the two).

:func:`for_apply` then marks each object as ours (the labels that scope pruning) and leaves out what another
controller owns: a Deployment's ``spec.replicas`` when a HorizontalPodAutoscaler scales it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from findly_infra.domain.platform import Platform
from findly_infra.render.manifests import Manifest, environment_manifests, service_base_manifests, shared_base_manifests
from findly_infra.render.rules import alert_rule_groups, slo_rule_groups

__all__ = [
    "CLUSTER_SCOPED",
    "ENVIRONMENT_LABEL",
    "MANAGED_BY",
    "MANAGED_BY_LABEL",
    "PROVIDERS",
    "PRUNABLE",
    "environment_objects",
    "for_apply",
    "object_key",
]

CLUSTER_SCOPED = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"})
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "findly-infra"
ENVIRONMENT_LABEL = "findly-infra/environment"
"""The label that scopes pruning: ``apply --env production`` prunes only objects it applied for production."""


PROVIDERS = {
    "networking.istio.io": "Istio",
    "security.istio.io": "Istio",
    "monitoring.coreos.com": "the Prometheus operator",
}
"""Who installs the custom resources of each API group the platform renders (a cluster without them is told so)."""

PRUNABLE: tuple[tuple[str, str, bool], ...] = (
    ("v1", "Namespace", False),
    ("v1", "ServiceAccount", True),
    ("v1", "Service", True),
    ("v1", "ConfigMap", True),
    ("v1", "ResourceQuota", True),
    ("apps/v1", "Deployment", True),
    ("autoscaling/v2", "HorizontalPodAutoscaler", True),
    ("policy/v1", "PodDisruptionBudget", True),
    ("networking.k8s.io/v1", "Ingress", True),
    ("networking.k8s.io/v1", "NetworkPolicy", True),
    ("rbac.authorization.k8s.io/v1", "Role", True),
    ("rbac.authorization.k8s.io/v1", "RoleBinding", True),
    ("networking.istio.io/v1", "VirtualService", True),
    ("networking.istio.io/v1", "DestinationRule", True),
    ("security.istio.io/v1", "PeerAuthentication", True),
    ("security.istio.io/v1", "AuthorizationPolicy", True),
    ("monitoring.coreos.com/v1", "PrometheusRule", True),
)
"""Every kind the platform renders, (apiVersion, kind, namespaced): what ``apply`` looks through to prune an object
that left the platform file (a kind can leave it whole)."""


def environment_objects(
    platform: Platform, environment: str, versions: Mapping[str, str] | None = None
) -> list[Manifest]:
    """Every object of *environment*, composed as kustomize composes its overlay, in a stable order."""
    from findly_infra.render.tree import _prometheus_rule  # one definition of the rule objects

    env = platform.environment(environment)
    namespace = platform.kubernetes.namespace_for(env.name)
    objects: list[Manifest] = []
    for service in platform.all_services:
        objects += service_base_manifests(platform, service).values()
    objects += shared_base_manifests(platform).values()
    alerts, slos = alert_rule_groups(platform), slo_rule_groups(platform)
    if alerts:
        objects.append(_prometheus_rule("findly-alerts", alerts))
    if slos:
        objects.append(_prometheus_rule("findly-slo", slos))
    objects += environment_manifests(platform, env, versions or {}).values()
    composed = []
    for manifest in objects:
        item = copy.deepcopy(manifest)
        metadata = item.setdefault("metadata", {})
        if item.get("kind") not in CLUSTER_SCOPED:
            metadata["namespace"] = namespace
        metadata["labels"] = {**(metadata.get("labels") or {}), "environment": env.name}
        composed.append(item)
    return sorted(composed, key=object_key)


def object_key(manifest: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """(apiVersion, kind, namespace, name): an object's identity in a cluster."""
    metadata = manifest.get("metadata") or {}
    return (
        str(manifest.get("apiVersion", "")),
        str(manifest.get("kind", "")),
        str(metadata.get("namespace", "")),
        str(metadata.get("name", "")),
    )


def for_apply(objects: Iterable[Manifest], environment: str) -> list[Manifest]:
    """*objects* as ``apply`` sends them: labelled as ours and as *environment*'s (what pruning selects on), and
    without the replicas of a Deployment an autoscaler scales (server-side apply would otherwise take them back
    from the HPA at every apply)."""
    items = [copy.deepcopy(dict(item)) for item in objects]
    scaled = {
        (item["metadata"].get("namespace", ""), target.get("name"))
        for item in items
        if item.get("kind") == "HorizontalPodAutoscaler"
        and (target := (item.get("spec") or {}).get("scaleTargetRef") or {}).get("kind") == "Deployment"
    }
    for item in items:
        metadata = item.setdefault("metadata", {})
        metadata["labels"] = {
            **(metadata.get("labels") or {}),
            MANAGED_BY_LABEL: MANAGED_BY,
            ENVIRONMENT_LABEL: environment,
        }
        if item.get("kind") == "Deployment" and (metadata.get("namespace", ""), metadata.get("name")) in scaled:
            item.get("spec", {}).pop("replicas", None)
    return items
