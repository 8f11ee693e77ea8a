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

from findly_infra.domain.cluster import CLUSTER_SCOPED, ENVIRONMENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL, object_key
from findly_infra.domain.platform import Platform
from findly_infra.render.manifests import (
    Manifest,
    environment_manifests,
    fronted_services,
    service_base_manifests,
)
from findly_infra.render.rules import alert_rule_groups, prometheus_rule, slo_rule_groups

__all__ = ["environment_objects", "for_apply"]


def environment_objects(
    platform: Platform, environment: str, versions: Mapping[str, str] | None = None
) -> list[Manifest]:
    """Every object of *environment*, composed as kustomize composes its overlay, in a stable order."""
    env = platform.environment(environment)
    namespace = platform.kubernetes.namespace_for(env.name)
    objects: list[Manifest] = []
    fronted = fronted_services(platform)
    for service in platform.all_services:
        objects += service_base_manifests(platform, service, fronted=fronted).values()
    alerts, slos = alert_rule_groups(platform), slo_rule_groups(platform)
    if alerts:
        objects.append(prometheus_rule("findly-alerts", alerts))
    if slos:
        objects.append(prometheus_rule("findly-slo", slos))
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
