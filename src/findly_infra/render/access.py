"""What findly-infra may do in each environment, as RBAC objects an administrator applies once (``access/ENV``):
the ``findly-infra`` ServiceAccount in the environment's namespace, a Role granting exactly the verbs ``apply`` and
``diff`` use on exactly the kinds the platform renders, and a ClusterRole that lets it read and patch its own
Namespace — by name, nothing else cluster-wide. The Namespace itself is in the set: creating a namespace is the
administrator's, not the tool's. A test records every request ``apply``/``diff``/prune make and checks these rules
allow exactly those.
"""

from __future__ import annotations

from findly_infra.domain.cluster import NAMESPACE_VERBS, NAMESPACED_VERBS, PRUNABLE, TOOL_SERVICE_ACCOUNT, WATCHED
from findly_infra.domain.platform import Platform
from findly_infra.render.manifests import Manifest

__all__ = ["access_objects", "role_rules"]


def role_rules() -> list[dict[str, list[str]]]:
    """The Role's rules: per API group, the kinds the platform renders and the verbs the tool uses on them."""
    groups: dict[str, list[str]] = {}
    for kind in PRUNABLE:
        if kind.namespaced:
            groups.setdefault(kind.group, []).append(kind.plural)
    rules = []
    for group, resources in sorted(groups.items()):
        watched = sorted(r for r in resources if r in WATCHED)
        rest = sorted(r for r in resources if r not in WATCHED)
        if rest:
            rules.append({"apiGroups": [group], "resources": rest, "verbs": list(NAMESPACED_VERBS)})
        if watched:
            rules.append({"apiGroups": [group], "resources": watched, "verbs": sorted([*NAMESPACED_VERBS, "watch"])})
    return rules


def access_objects(platform: Platform, environment: str) -> list[Manifest]:
    """The environment's Namespace, and the ServiceAccount, Role and bindings findly-infra acts with there."""
    env = platform.environment(environment)
    namespace = platform.kubernetes.namespace_for(env.name)
    labels = {"app.kubernetes.io/name": TOOL_SERVICE_ACCOUNT, "app.kubernetes.io/part-of": "findly-now"}
    subject = [{"kind": "ServiceAccount", "name": TOOL_SERVICE_ACCOUNT, "namespace": namespace}]
    cluster_name = f"{TOOL_SERVICE_ACCOUNT}:{namespace}"
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": namespace,
                "labels": {"name": namespace, "environment": env.name, "istio-injection": "enabled"},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": TOOL_SERVICE_ACCOUNT, "namespace": namespace, "labels": labels},
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": TOOL_SERVICE_ACCOUNT, "namespace": namespace, "labels": labels},
            "rules": role_rules(),
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": TOOL_SERVICE_ACCOUNT, "namespace": namespace, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": TOOL_SERVICE_ACCOUNT},
            "subjects": subject,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": cluster_name, "labels": labels},
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["namespaces"],
                    "resourceNames": [namespace],
                    "verbs": list(NAMESPACE_VERBS),
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": cluster_name, "labels": labels},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_name},
            "subjects": subject,
        },
    ]
