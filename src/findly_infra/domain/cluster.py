"""What the platform puts in a Kubernetes cluster, as plain data: the kinds it renders, the labels that mark an
object as ours (and scope pruning), who provides the custom kinds, an object's identity, and what a Deployment's
status says of its readiness."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

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
    "WATCHED",
    "Readiness",
    "RenderedKind",
    "deployment_readiness",
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
    "networking.gke.io": "gke-managed-certs (built into GKE)",
}
"""Who installs the custom resources of each API group the platform renders (a cluster without them is told so)."""


@attrs.frozen
class RenderedKind:
    """A kind the platform renders: its API version, kind, REST plural and scope."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def qualified(self) -> str:
        """``deployments.apps``, as the API server names a resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


PRUNABLE: tuple[RenderedKind, ...] = (
    RenderedKind("v1", "Namespace", "namespaces", namespaced=False),
    RenderedKind("v1", "ServiceAccount", "serviceaccounts"),
    RenderedKind("v1", "Service", "services"),
    RenderedKind("v1", "ResourceQuota", "resourcequotas"),
    RenderedKind("apps/v1", "Deployment", "deployments"),
    RenderedKind("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
    RenderedKind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
    RenderedKind("networking.k8s.io/v1", "Ingress", "ingresses"),
    RenderedKind("networking.gke.io/v1", "ManagedCertificate", "managedcertificates"),
    RenderedKind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"),
    RenderedKind("networking.istio.io/v1", "VirtualService", "virtualservices"),
    RenderedKind("networking.istio.io/v1", "DestinationRule", "destinationrules"),
    RenderedKind("security.istio.io/v1", "PeerAuthentication", "peerauthentications"),
    RenderedKind("security.istio.io/v1", "AuthorizationPolicy", "authorizationpolicies"),
    RenderedKind("monitoring.coreos.com/v1", "PrometheusRule", "prometheusrules"),
)
"""Every kind the platform renders: what ``apply`` applies and looks through to prune an object that left the
platform file (a kind can leave it whole), what the adapter serves, and what the rendered access grants."""


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
WATCHED = ("deployments",)
"""The kinds ``apply --wait`` watches (until each Deployment applied is ready): they alone are granted ``watch``."""
NAMESPACE_VERBS = ("get", "patch")
"""What they do to the environment's Namespace object itself (an administrator creates it: ``access/ENV``)."""


@attrs.frozen
class Readiness:
    """Whether a Deployment serves its current spec: ``ready``; ``failed`` (it will not get there by itself: the
    progress deadline passed) with the reason the cluster gave; else still progressing."""

    ready: bool
    failed: bool = False
    reason: str = ""


def deployment_readiness(deployment: Mapping[str, Any]) -> Readiness:
    """A Deployment's readiness from its status, as ``kubectl rollout status`` judges it: the controller has seen the
    current generation (until it has, its status speaks of an older spec), every desired replica is updated and
    available, and no old replica is left; a ``Progressing=False`` condition (``ProgressDeadlineExceeded``) of the
    current generation is a failure, with its message."""
    metadata = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    desired = int(spec.get("replicas", 1))
    generation = int(metadata.get("generation", 0))
    if int(status.get("observedGeneration", 0)) < generation:  # its conditions are of an older spec
        return Readiness(False, reason=f"the controller has not seen generation {generation} yet")
    conditions = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, Mapping)}
    progressing = conditions.get("Progressing") or {}
    if progressing.get("status") == "False":
        reason = str(progressing.get("reason") or "not progressing")
        message = str(progressing.get("message") or "")
        return Readiness(False, True, f"{reason}: {message}" if message else reason)
    updated = int(status.get("updatedReplicas", 0))
    available = int(status.get("availableReplicas", 0))
    total = int(status.get("replicas", 0))
    if updated < desired:
        return Readiness(False, reason=f"{updated} of {desired} replicas updated")
    if total > updated:
        return Readiness(False, reason=f"{total - updated} old replicas pending termination")
    if available < updated:
        return Readiness(False, reason=f"{available} of {updated} updated replicas available")
    return Readiness(True)
