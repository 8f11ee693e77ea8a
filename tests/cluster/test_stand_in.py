"""The Kubernetes API stand-in's fidelity, one behaviour at a time, through the real ``kubernetes`` client (and
``kubectl`` as a cross-check): what the adapter will depend on must behave as kube-apiserver does."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

kubernetes = pytest.importorskip("kubernetes", reason="the kubernetes extra: pip install 'findly-infra[kubernetes]'")
from kubernetes import client, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

from findly_infra.testing.kubernetes import KubernetesStandIn  # noqa: E402
from tests.conftest import EXAMPLE, KUBECTL_INSTALL, require_tool  # noqa: E402

APPLY = "application/apply-patch+yaml"
NS = "findly-now-production"


@pytest.fixture
def api(cluster: KubernetesStandIn) -> client.ApiClient:
    api_client = client.ApiClient(cluster.configuration())
    client.CoreV1Api(api_client).create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    return api_client


def deployment(name: str = "fn-posts", image: str = "gcr.io/findly/fn-posts:1.0.0", **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image, "ports": [{"containerPort": 8080}]}]},
            },
            **spec,
        },
    }


def apply(api: client.ApiClient, body: dict[str, Any], manager: str = "findly-infra", **options: Any) -> Any:
    return client.AppsV1Api(api).patch_namespaced_deployment(
        body["metadata"]["name"], NS, body, field_manager=manager, _content_type=APPLY, **options
    )


def error(exc: pytest.ExceptionInfo[ApiException]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.value.body)
    return body


# ---- discovery ---------------------------------------------------------------------------------------------------


def test_discovery_names_the_groups_and_resources_the_adapter_uses(api: client.ApiClient) -> None:
    assert client.VersionApi(api).get_code().git_version.startswith("v1.33")
    groups = {group.name for group in client.ApisApi(api).get_api_versions().groups}
    assert {"apps", "networking.istio.io", "rbac.authorization.k8s.io", "coordination.k8s.io"} <= groups
    resources = {r.name for r in client.AppsV1Api(api).get_api_resources().resources}
    assert {"deployments", "deployments/status"} <= resources


# ---- validation --------------------------------------------------------------------------------------------------


def test_objects_are_validated_against_the_real_schemas(api: client.ApiClient) -> None:
    bad = deployment(replicas="three")
    with pytest.raises(ApiException) as refused:
        apply(api, bad)
    assert refused.value.status == 422
    assert error(refused)["details"]["causes"][0]["field"] == "spec.replicas"
    misspelt = deployment(replicass=3)
    with pytest.raises(ApiException) as strict:
        apply(api, misspelt, field_validation="Strict")
    assert (strict.value.status, error(strict)["message"]) == (
        400,
        'strict decoding error: unknown field "spec.replicass"',
    )
    warned = client.AppsV1Api(api).patch_namespaced_deployment_with_http_info(
        "fn-posts", NS, misspelt, field_manager="findly-infra", _content_type=APPLY, field_validation="Warn"
    )
    assert 'unknown field \\"spec.replicass\\"' in warned[2]["Warning"] or "spec.replicass" in warned[2]["Warning"]
    assert "replicass" not in json.dumps(client.ApiClient().sanitize_for_serialization(warned[0].spec))


def test_a_deployments_selector_must_select_its_pods_and_never_changes(api: client.ApiClient) -> None:
    """As kube-apiserver validates ``apps/v1`` Deployments: a rollout that relabels a Deployment's track is refused."""
    apply(api, deployment())
    moved = deployment()
    moved["spec"]["selector"]["matchLabels"]["track"] = "blue"
    moved["spec"]["template"]["metadata"]["labels"]["track"] = "blue"
    with pytest.raises(ApiException) as immutable:
        apply(api, moved, force=True)
    assert immutable.value.status == 422
    assert [cause["field"] for cause in error(immutable)["details"]["causes"]] == ["spec.selector"]
    assert "field is immutable" in error(immutable)["message"]
    stray = deployment("fn-search")
    stray["spec"]["selector"] = {"matchLabels": {"app": "fn-search", "track": "stable"}}
    with pytest.raises(ApiException) as unselected:
        apply(api, stray)
    assert "`selector` does not match template `labels`" in error(unselected)["message"]


def test_names_labels_and_namespaces_are_checked(api: client.ApiClient) -> None:
    with pytest.raises(ApiException) as name:
        apply(api, {**deployment(), "metadata": {**deployment()["metadata"], "name": "Fn_Posts"}})
    assert name.value.status in (400, 422)
    labelled = deployment()
    labelled["metadata"]["labels"] = {"app": "fn posts!"}
    with pytest.raises(ApiException) as label:
        apply(api, labelled)
    assert label.value.status == 422
    elsewhere = copy.deepcopy(deployment())
    elsewhere["metadata"]["namespace"] = "nowhere"
    with pytest.raises(ApiException) as namespace:
        client.AppsV1Api(api).patch_namespaced_deployment(
            "fn-posts", "nowhere", elsewhere, field_manager="findly-infra", _content_type=APPLY
        )
    assert (namespace.value.status, error(namespace)["message"]) == (404, 'namespaces "nowhere" not found')


def test_defaults_are_set_and_owned_by_nobody(api: client.ApiClient, cluster: KubernetesStandIn) -> None:
    apply(api, deployment())
    stored = cluster.get("apps/v1", "Deployment", NS, "fn-posts")
    assert stored is not None
    assert stored["spec"]["replicas"] == 1
    assert stored["spec"]["strategy"]["type"] == "RollingUpdate"
    assert stored["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] == "TCP"
    owned = stored["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]
    assert "f:replicas" not in owned
    assert "f:strategy" not in owned


# ---- create, replace, delete, resourceVersion -------------------------------------------------------------------


def test_create_replace_and_delete_keep_resource_versions(api: client.ApiClient, cluster: KubernetesStandIn) -> None:
    apps = client.AppsV1Api(api)
    created = apps.create_namespaced_deployment(NS, deployment())
    with pytest.raises(ApiException) as again:
        apps.create_namespaced_deployment(NS, deployment())
    assert (again.value.status, error(again)["reason"]) == (409, "AlreadyExists")
    live = apps.read_namespaced_deployment("fn-posts", NS)
    live.spec.template.spec.containers[0].image = "gcr.io/findly/fn-posts:1.1.0"
    replaced = apps.replace_namespaced_deployment("fn-posts", NS, live)
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    assert replaced.metadata.generation == 2  # the spec moved
    live.metadata.resource_version = created.metadata.resource_version  # stale
    with pytest.raises(ApiException) as stale:
        apps.replace_namespaced_deployment("fn-posts", NS, live)
    assert (stale.value.status, error(stale)["reason"]) == (409, "Conflict")
    assert "the object has been modified" in error(stale)["message"]
    apps.delete_namespaced_deployment("fn-posts", NS)
    with pytest.raises(ApiException) as gone:
        apps.read_namespaced_deployment("fn-posts", NS)
    assert gone.value.status == 404
    apply(api, deployment())
    client.CoreV1Api(api).delete_namespace(NS)
    assert cluster.objects("apps/v1", "Deployment") == []  # a namespace takes its objects with it


# ---- server-side apply --------------------------------------------------------------------------------------------


def test_apply_creates_then_an_unchanged_apply_writes_nothing(api: client.ApiClient) -> None:
    _, status, _ = client.AppsV1Api(api).patch_namespaced_deployment_with_http_info(
        "fn-posts", NS, deployment(), field_manager="findly-infra", _content_type=APPLY
    )
    assert status == 201
    first = client.AppsV1Api(api).read_namespaced_deployment("fn-posts", NS)
    second = apply(api, deployment())
    assert second.metadata.resource_version == first.metadata.resource_version
    fields = first.metadata.managed_fields[0]
    assert (fields.manager, fields.operation) == ("findly-infra", "Apply")
    container = fields.fields_v1["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"app"}']
    assert "." in container
    assert "f:image" in container


def test_managers_conflict_on_a_field_and_force_takes_it(api: client.ApiClient) -> None:
    apply(api, deployment())
    rival = deployment(image="gcr.io/findly/fn-posts:9.9.9")
    with pytest.raises(ApiException) as conflict:
        apply(api, rival, manager="someone-else")
    body = error(conflict)
    assert (conflict.value.status, body["reason"]) == (409, "Conflict")
    assert body["details"] == {  # errors.NewApplyConflict: the causes alone; a cause's type is its "reason"
        "causes": [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "findly-infra"',
                "field": '.spec.template.spec.containers[name="app"].image',
            }
        ]
    }
    assert body["message"] == (
        'Apply failed with 1 conflict: conflict with "findly-infra": .spec.template.spec.containers[name="app"].image'
    )
    taken = apply(api, rival, manager="someone-else", force=True)
    assert taken.spec.template.spec.containers[0].image == "gcr.io/findly/fn-posts:9.9.9"
    owners = {m.manager: m.fields_v1 for m in taken.metadata.managed_fields}
    mine = owners["findly-infra"]["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"app"}']
    assert "f:image" not in mine  # ownership moved


def test_a_field_no_longer_applied_is_removed_unless_another_manager_owns_it(api: client.ApiClient) -> None:
    body = deployment()
    body["metadata"]["labels"] = {"app": "fn-posts", "tier": "api", "team": "posts"}
    apply(api, body)
    client.AppsV1Api(api).patch_namespaced_deployment(
        "fn-posts",
        NS,
        {"metadata": {"labels": {"team": "search"}}},
        field_manager="kubectl-label",
        _content_type="application/merge-patch+json",
    )
    body["metadata"]["labels"] = {"app": "fn-posts"}  # tier and team no longer applied
    after = apply(api, body)
    assert after.metadata.labels == {"app": "fn-posts", "team": "search"}  # team: kubectl-label owns it now


def test_keyed_lists_merge_item_by_item_and_atomic_lists_are_replaced(api: client.ApiClient) -> None:
    apply(api, deployment())
    sidecar = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "fn-posts", "namespace": NS},
        "spec": {"template": {"spec": {"containers": [{"name": "istio-proxy", "image": "istio/proxyv2:1.24"}]}}},
    }
    merged = apply(api, sidecar, manager="istio-injector")
    assert [c.name for c in merged.spec.template.spec.containers] == ["app", "istio-proxy"]
    mine = deployment()
    mine["spec"]["template"]["spec"]["containers"] = [{"name": "app", "image": "gcr.io/findly/fn-posts:1.0.0"}]
    still = apply(api, mine)
    assert [c.name for c in still.spec.template.spec.containers] == ["app", "istio-proxy"]
    custom = client.CustomObjectsApi(api)
    routes = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "fn-posts", "namespace": NS},
        "spec": {
            "hosts": ["fn-posts"],
            "http": [
                {
                    "route": [
                        {"destination": {"host": "fn-posts", "subset": "stable"}, "weight": 95},
                        {"destination": {"host": "fn-posts", "subset": "canary"}, "weight": 5},
                    ]
                },
            ],
        },
    }
    args = ("networking.istio.io", "v1", NS, "virtualservices", "fn-posts")
    custom.patch_namespaced_custom_object(*args, routes, field_manager="findly-infra", _content_type=APPLY)
    routes["spec"]["http"] = [{"route": [{"destination": {"host": "fn-posts", "subset": "stable"}, "weight": 100}]}]
    custom.patch_namespaced_custom_object(*args, routes, field_manager="findly-infra", _content_type=APPLY)
    live = custom.get_namespaced_custom_object(*args)
    assert live["spec"]["http"] == routes["spec"]["http"]  # atomic: replaced whole, the canary route gone


def test_replicas_an_autoscaler_owns_are_not_fought_over(api: client.ApiClient) -> None:
    apply(api, deployment(replicas=3))
    client.AppsV1Api(api).patch_namespaced_deployment(  # the HPA controller scales it
        "fn-posts",
        NS,
        {"spec": {"replicas": 7}},
        field_manager="kube-controller-manager",
        _content_type="application/merge-patch+json",
    )
    without = deployment()  # the next apply omits replicas: an HPA owns them
    after = apply(api, without)
    assert after.spec.replicas == 7
    with pytest.raises(ApiException) as conflict:
        apply(api, deployment(replicas=3))
    assert '"kube-controller-manager"' in error(conflict)["message"]


# ---- patches -----------------------------------------------------------------------------------------------------


def test_merge_json_and_strategic_patches(api: client.ApiClient) -> None:
    apps = client.AppsV1Api(api)
    apply(api, deployment())
    merged = apps.patch_namespaced_deployment(
        "fn-posts", NS, {"metadata": {"annotations": {"a": "b"}}}, _content_type="application/merge-patch+json"
    )
    assert merged.metadata.annotations == {"a": "b"}
    patched = apps.patch_namespaced_deployment(
        "fn-posts",
        NS,
        [{"op": "replace", "path": "/spec/replicas", "value": 4}],
        _content_type="application/json-patch+json",
    )
    assert patched.spec.replicas == 4
    with pytest.raises(ApiException) as failed:
        apps.patch_namespaced_deployment(
            "fn-posts",
            NS,
            [{"op": "test", "path": "/spec/replicas", "value": 5}],
            _content_type="application/json-patch+json",
        )
    assert failed.value.status == 422
    strategic = apps.patch_namespaced_deployment(  # the client's default for a dict: strategic merge
        "fn-posts", NS, {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "x:2"}]}}}}
    )
    assert [(c.name, c.image) for c in strategic.spec.template.spec.containers] == [("app", "x:2")]
    assert strategic.spec.template.spec.containers[0].ports[0].container_port == 8080  # merged by name, not replaced
    with pytest.raises(ApiException) as custom:
        client.CustomObjectsApi(api).patch_namespaced_custom_object(
            "networking.istio.io",
            "v1",
            NS,
            "virtualservices",
            "x",
            {"spec": {}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert custom.value.status in (404, 415)


# ---- status subresource, generation -------------------------------------------------------------------------------


def test_the_status_subresource_splits_writes(api: client.ApiClient, cluster: KubernetesStandIn) -> None:
    apply(api, deployment(replicas=2))
    ready = cluster.mark_ready(NS, "fn-posts")
    assert ready["status"]["readyReplicas"] == 2
    assert ready["metadata"]["generation"] == 1
    body = deployment(replicas=2)
    body["status"] = {"replicas": 99}
    after = apply(api, body)
    assert after.status.replicas == 2  # an object write leaves status alone
    assert after.metadata.generation == 1
    moved = apply(api, deployment(replicas=3))
    assert moved.metadata.generation == 2
    assert moved.status.observed_generation == 1  # the controller has not seen it yet: not ready
    failed = cluster.mark_failed(NS, "fn-posts", unavailable=3)
    progressing = {c["type"]: c for c in failed["status"]["conditions"]}["Progressing"]
    assert (progressing["status"], progressing["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert failed["spec"]["replicas"] == 3  # a status write leaves the spec alone


def test_dry_run_changes_nothing(api: client.ApiClient, cluster: KubernetesStandIn) -> None:
    apply(api, deployment(), dry_run="All")
    assert cluster.get("apps/v1", "Deployment", NS, "fn-posts") is None


# ---- lists and watches --------------------------------------------------------------------------------------------


def test_lists_select_by_label(api: client.ApiClient) -> None:
    apply(api, deployment())
    other = deployment("fn-matcher")
    other["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "findly-infra"
    apply(api, other)
    apps = client.AppsV1Api(api)
    managed = apps.list_namespaced_deployment(NS, label_selector="app.kubernetes.io/managed-by=findly-infra")
    assert [d.metadata.name for d in managed.items] == ["fn-matcher"]
    assert [d.metadata.name for d in apps.list_namespaced_deployment(NS, label_selector="app in (fn-posts)").items] == [
        "fn-posts"
    ]


def test_a_watch_resumes_from_its_resource_version_and_an_expired_one_is_gone(
    api: client.ApiClient, cluster: KubernetesStandIn
) -> None:
    apps = client.AppsV1Api(api)
    created = apply(api, deployment())
    apply(api, deployment(image="x:2"))
    events = [
        (e["type"], e["object"].spec.template.spec.containers[0].image)
        for e in watch.Watch().stream(
            apps.list_namespaced_deployment, NS, resource_version=created.metadata.resource_version, timeout_seconds=1
        )
    ]
    assert events == [("MODIFIED", "x:2")]  # only what came after the version it resumed from
    latest = apps.read_namespaced_deployment("fn-posts", NS).metadata.resource_version
    cluster.compact()
    with pytest.raises(ApiException) as gone:
        list(
            watch.Watch().stream(
                apps.list_namespaced_deployment,
                NS,
                resource_version=created.metadata.resource_version,
                timeout_seconds=1,
            )
        )
    assert gone.value.status == 410
    apps.delete_namespaced_deployment("fn-posts", NS)
    after = [
        e["type"]
        for e in watch.Watch().stream(apps.list_namespaced_deployment, NS, resource_version=latest, timeout_seconds=1)
    ]
    assert after == ["DELETED"]


def test_a_dropped_watch_breaks_the_stream(api: client.ApiClient, cluster: KubernetesStandIn) -> None:
    import urllib3

    apply(api, deployment())
    apply(api, deployment("fn-matcher"))
    cluster.fail(method="GET", path="/deployments$", drop_watch_after=1)
    seen: list[str] = []

    def read_all() -> None:
        for event in watch.Watch().stream(client.AppsV1Api(api).list_namespaced_deployment, NS, timeout_seconds=2):
            seen.append(event["object"].metadata.name)

    with pytest.raises((urllib3.exceptions.ProtocolError, ApiException)):
        read_all()
    assert len(seen) == 1


# ---- faults and audit ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "reason"), [(429, "TooManyRequests"), (500, "InternalError"), (403, "Forbidden")])
def test_faults_answer_the_next_matching_requests(
    api: client.ApiClient, cluster: KubernetesStandIn, status: int, reason: str
) -> None:
    cluster.fail(status, method="PATCH", path="/deployments/fn-posts$", retry_after=2 if status == 429 else None)
    with pytest.raises(ApiException) as faulted:
        apply(api, deployment())
    assert (faulted.value.status, error(faulted)["reason"]) == (status, reason)
    if status == 429:
        assert faulted.value.headers["Retry-After"] == "2"
    assert apply(api, deployment()).metadata.name == "fn-posts"  # once: the next one is served


def test_the_audit_log_names_each_verb_and_resource(api: client.ApiClient, cluster: KubernetesStandIn) -> None:
    apply(api, deployment())
    client.AppsV1Api(api).read_namespaced_deployment_status("fn-posts", NS)
    client.AppsV1Api(api).list_namespaced_deployment(NS)
    seen = [(a.verb, a.resource, a.subresource, a.name) for a in cluster.audit]
    assert seen[-4:] == [
        ("patch", "deployments", "", "fn-posts"),
        ("create", "deployments", "", "fn-posts"),  # an apply that creates is authorized as a create too
        ("get", "deployments", "status", "fn-posts"),
        ("list", "deployments", "", ""),
    ]


# ---- kubectl, as a cross-check ------------------------------------------------------------------------------------


def test_kubectl_applies_the_rendered_tree_server_side_and_again_changes_nothing(
    cluster: KubernetesStandIn, tmp_path: Path
) -> None:
    kubectl = require_tool("kubectl", KUBECTL_INSTALL)
    rendered = tmp_path / "tree"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "findly_infra",
            "--config",
            str(EXAMPLE),
            "render",
            "--out",
            str(rendered),
            "--env",
            "production",
        ],
        check=True,
        capture_output=True,
    )
    tree = subprocess.run(
        [kubectl, "kustomize", str(rendered / "overlays" / "production")], check=True, capture_output=True, text=True
    ).stdout
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump(cluster.kubeconfig()))

    def kubectl_apply(manifests: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                kubectl,
                "--kubeconfig",
                str(config),
                "apply",
                "--server-side",
                "--field-manager=findly-infra",
                "--validate=strict",
                "-f",
                "-",
            ],
            input=manifests,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    first = kubectl_apply(tree)
    assert first.returncode == 0, first.stderr
    count = sum(1 for document in yaml.safe_load_all(tree) if document)
    assert first.stdout.count("serverside-applied") == count
    versions = {json.dumps(o["metadata"]["resourceVersion"]) for o in cluster.objects("apps/v1", "Deployment")}
    second = kubectl_apply(tree)
    assert second.returncode == 0, second.stderr
    assert {json.dumps(o["metadata"]["resourceVersion"]) for o in cluster.objects("apps/v1", "Deployment")} == versions
    misspelt = tree.replace("replicas:", "replicass:", 1)
    refused = kubectl_apply(misspelt)
    assert refused.returncode != 0
    assert 'unknown field "spec.replicass"' in refused.stderr
