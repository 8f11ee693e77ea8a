"""Least privilege: the access ``render`` writes for each environment (``access/ENV``) allows exactly what ``apply``,
``diff`` and pruning do — every request they make is allowed by it, and every verb it grants is used.

The stand-in records each request as RBAC sees it (verb, API group, resource, namespace, name; an apply that creates
is authorized as ``create`` too, as kube-apiserver does), so the check runs on what the adapter really did through the
real client, over whole runs: a first apply, one after someone took our label off an object of each kind, a switch of
strategy waited for until ready, an unchanged apply, a diff, and a prune of everything."""

from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("kubernetes", reason="the kubernetes extra: pip install 'findly-infra[kubernetes]'")

from findly_infra import load_platform
from findly_infra.adapters.kubernetes import connect
from findly_infra.application.cluster_apply import apply_environment
from findly_infra.domain.cluster import PRUNABLE
from findly_infra.render.access import access_objects
from findly_infra.render.objects import environment_objects, for_apply
from findly_infra.testing.kubernetes import AuditRecord, KubernetesStandIn
from tests.conftest import EXAMPLE
from tests.render.test_workload_access import with_domains

PLATFORM = with_domains(  # every kind the platform renders, a ManagedCertificate among them
    load_platform(EXAMPLE),
    {"development": ("api.dev.findly.now",), "staging": ("api.staging.findly.now",), "production": ("api.findly.now",)},
)
_PLURAL = {
    "Namespace": "namespaces",
    "ServiceAccount": "serviceaccounts",
    "Role": "roles",
    "RoleBinding": "rolebindings",
    "ClusterRole": "clusterroles",
    "ClusterRoleBinding": "clusterrolebindings",
}


def admin_apply(url: str, manifest: dict[str, Any]) -> None:
    """What an administrator's ``kubectl apply --server-side -k access/ENV`` sends."""
    api_version, kind = manifest["apiVersion"], manifest["kind"]
    root = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
    namespace = manifest["metadata"].get("namespace")
    scope = f"/namespaces/{namespace}" if namespace else ""
    path = f"{root}{scope}/{_PLURAL[kind]}/{manifest['metadata']['name']}?fieldManager=admin&fieldValidation=Strict"
    request = urllib.request.Request(
        url + path,
        data=json.dumps(manifest).encode(),
        method="PATCH",
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status in (200, 201)


def _as_canary(environment: str) -> Any:
    """The platform with *environment* rolling out by canary (the strategy an edit of the file may switch from)."""
    import attrs

    from findly_infra.domain import StrategyKind

    environments = tuple(
        attrs.evolve(env, deployment_strategy=StrategyKind.CANARY) if env.name == environment else env
        for env in PLATFORM.environments
    )
    return attrs.evolve(PLATFORM, environments=environments)


def _ready_once_watched(cluster: KubernetesStandIn, namespace: str) -> None:
    """The controller, deterministically: nothing is ready until the tool watches, then everything is."""
    for _ in range(1000):
        if any(record.verb == "watch" for record in cluster.audit):
            break
        threading.Event().wait(0.01)
    for deployment in cluster.objects("apps/v1", "Deployment", namespace):
        cluster.mark_ready(namespace, deployment["metadata"]["name"])


def unlabel(url: str, manifest: dict[str, Any], label: str) -> None:
    """What ``kubectl label KIND NAME LABEL-`` sends: a merge patch removing the label, as ``kubectl-label``."""
    api_version, kind, name = manifest["apiVersion"], manifest["kind"], manifest["metadata"]["name"]
    root = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
    plural = next(k.plural for k in PRUNABLE if (k.api_version, k.kind) == (api_version, kind))
    path = f"{root}/namespaces/{manifest['metadata']['namespace']}/{plural}/{name}?fieldManager=kubectl-label"
    request = urllib.request.Request(
        url + path,
        data=json.dumps({"metadata": {"labels": {label: None}}}).encode(),
        method="PATCH",
        headers={"Content-Type": "application/merge-patch+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def allowed(record: AuditRecord, access: list[dict[str, Any]], namespace: str) -> bool:
    """Whether the rendered Role (in *namespace*) or ClusterRole (by resource name) allows *record*."""
    for item in access:
        if item["kind"] not in ("Role", "ClusterRole"):
            continue
        if item["kind"] == "Role" and record.namespace != namespace:
            continue
        for rule in item["rules"]:
            names = rule.get("resourceNames")
            if (
                record.group in rule["apiGroups"]
                and record.resource in rule["resources"]
                and record.verb in rule["verbs"]
                and (names is None or record.name in names)
                and not record.subresource
            ):
                return True
    return False


def granted(access: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for item in access
        if item["kind"] in ("Role", "ClusterRole")
        for rule in item["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


@pytest.mark.parametrize("environment", ["production", "development"])
def test_the_rendered_access_allows_exactly_what_apply_diff_and_prune_do(environment: str, tmp_path: Path) -> None:
    namespace = PLATFORM.kubernetes.namespace_for(environment)
    access = access_objects(PLATFORM, environment)
    with KubernetesStandIn() as cluster:
        for manifest in access:  # the administrator, once
            admin_apply(cluster.url, manifest)
        config = tmp_path / "kubeconfig"
        config.write_text(yaml.safe_dump(cluster.kubeconfig()))
        objects = connect(context="stand-in", kubeconfig=str(config))
        wanted = for_apply(environment_objects(PLATFORM, environment), environment)
        start = len(cluster.audit)
        before = for_apply(environment_objects(_as_canary(environment), environment), environment)
        apply_environment(objects, before, environment, namespace)  # as a canary environment (mesh routing) first
        # someone takes our environment label off one object of each kind (`kubectl label … findly-infra/environment-`):
        # not in the lists of ours any more, each is read by name, and the next apply takes it back — what `get` is for
        stripped = {(o["apiVersion"], o["kind"]): o for o in before if o["kind"] != "Namespace"}.values()
        for manifest in stripped:
            unlabel(cluster.url, manifest, "findly-infra/environment")
        retaken = apply_environment(objects, before, environment, namespace)
        assert retaken.counts["configure"] == len(stripped)
        helper = threading.Thread(target=_ready_once_watched, args=(cluster, namespace))
        helper.start()  # its own strategy now: the rest pruned, and waited for until ready
        assert apply_environment(objects, wanted, environment, namespace, wait=10).not_ready == ()
        helper.join()
        assert not apply_environment(objects, wanted, environment, namespace).differs  # changes nothing
        apply_environment(objects, wanted, environment, namespace, dry_run=True)  # diff
        pruned = apply_environment(objects, [], environment, namespace)  # everything of ours left the file
        assert pruned.counts["prune"] == len(wanted) - 1  # all but the Namespace, which is never pruned
        used = cluster.audit[start:]
    refused = sorted({r for r in used if not allowed(r, access, namespace)}, key=str)
    assert refused == []  # nothing used that the Role lacks
    unused = granted(access) - {(r.group, r.resource, r.verb) for r in used}
    assert unused == set()  # nothing granted that is never used


def test_the_access_grants_nothing_cluster_wide_but_its_own_namespace_by_name() -> None:
    access = access_objects(PLATFORM, "production")
    (cluster_role,) = [item for item in access if item["kind"] == "ClusterRole"]
    assert cluster_role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["namespaces"],
            "resourceNames": ["findly-now-production"],
            "verbs": ["get", "patch"],
        }
    ]
    rules = [rule for item in access if item["kind"] == "Role" for rule in item["rules"]]
    verbs = {verb for rule in rules for verb in rule["verbs"]}
    assert verbs == {"create", "delete", "get", "list", "patch", "watch"}  # no escalate, no bind, no *
    watched = {r for rule in rules if "watch" in rule["verbs"] for r in rule["resources"]}
    assert watched == {"deployments"}  # apply --wait watches Deployments, and nothing else
    resources = {r for item in access if item["kind"] == "Role" for rule in item["rules"] for r in rule["resources"]}
    assert not resources & {"roles", "rolebindings", "secrets", "pods", "*"}
