"""What the platform puts in a Kubernetes cluster, as plain data: the kinds it renders, the labels that mark an
object as ours (and scope pruning), who provides the custom kinds, and an object's identity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "CLUSTER_SCOPED",
    "ENVIRONMENT_LABEL",
    "MANAGED_BY",
    "MANAGED_BY_LABEL",
    "NAMESPACED_VERBS",
    "NAMESPACE_VERBS",
    "PROVIDERS",
    "PRUNABLE",
    "TOOL_SERVICE_ACCOUNT",
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
    ("v1", "ResourceQuota", True),
    ("apps/v1", "Deployment", True),
    ("autoscaling/v2", "HorizontalPodAutoscaler", True),
    ("policy/v1", "PodDisruptionBudget", True),
    ("networking.k8s.io/v1", "Ingress", True),
    ("networking.k8s.io/v1", "NetworkPolicy", True),
    ("networking.istio.io/v1", "VirtualService", True),
    ("networking.istio.io/v1", "DestinationRule", True),
    ("security.istio.io/v1", "PeerAuthentication", True),
    ("security.istio.io/v1", "AuthorizationPolicy", True),
    ("monitoring.coreos.com/v1", "PrometheusRule", True),
)
"""Every kind the platform renders, (apiVersion, kind, namespaced): what ``apply`` looks through to prune an object
that left the platform file (a kind can leave it whole)."""


def object_key(manifest: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """(apiVersion, kind, namespace, name): an object's identity in a cluster."""
    metadata = manifest.get("metadata") or {}
    return (
        str(manifest.get("apiVersion", "")),
        str(manifest.get("kind", "")),
        str(metadata.get("namespace", "")),
        str(metadata.get("name", "")),
    )


TOOL_SERVICE_ACCOUNT = "findly-infra"
"""The service account findly-infra acts as in each environment's namespace."""
NAMESPACED_VERBS = ("create", "delete", "get", "list", "patch")
"""What ``apply``/``diff`` do to each kind in the environment's namespace: read it (get), apply it (patch; create when
server-side apply creates the object, as the API server authorizes it), list ours (prune), delete what left the file."""
NAMESPACE_VERBS = ("get", "patch")
"""What they do to the environment's Namespace object itself (an administrator creates it: ``access/ENV``)."""
