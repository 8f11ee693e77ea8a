"""The Kubernetes API stand-in's fidelity, one behaviour at a time, through the real ``kubernetes`` client (and
``kubectl`` as a cross-check): what the adapter will depend on must behave as kube-apiserver does."""

from __future__ import annotations

import base64
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


def test_aggregated_discovery_is_served_to_a_client_that_asks_for_it(cluster: KubernetesStandIn) -> None:
    """KEP-3352 (GA in 1.30): ``Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`` at
    ``/apis`` (and ``/api`` for the core group) gets every group, version and resource in one document, with that
    media type; a client that does not ask gets the legacy ``APIGroupList`` (aggregated/wrapper.go)."""
    import urllib.request

    def get(path: str, accept: str) -> tuple[str, dict[str, Any]]:
        request = urllib.request.Request(cluster.url + path, headers={"Accept": accept})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return str(answer.headers["Content-Type"]), json.loads(answer.read())

    wanted = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    content_type, document = get("/apis", f"{wanted},application/json")
    assert content_type == wanted
    assert (document["kind"], document["apiVersion"]) == ("APIGroupDiscoveryList", "apidiscovery.k8s.io/v2")
    (apps,) = [group for group in document["items"] if group["metadata"]["name"] == "apps"]
    (v1,) = apps["versions"]
    (deployments,) = [r for r in v1["resources"] if r["resource"] == "deployments"]
    assert deployments["responseKind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    assert (deployments["scope"], v1["freshness"]) == ("Namespaced", "Current")
    assert {sub["subresource"] for sub in deployments["subresources"]} == {"status", "scale"}
    assert "" not in {group["metadata"]["name"] for group in document["items"]}  # the core group is /api's
    content_type, core = get("/api", wanted)
    assert [group["metadata"]["name"] for group in core["items"]] == [""]
    namespaces = [r for r in core["items"][0]["versions"][0]["resources"] if r["resource"] == "namespaces"]
    assert namespaces[0]["scope"] == "Cluster"
    content_type, legacy = get("/apis", "application/json")
    assert (content_type, legacy["kind"]) == ("application/json", "APIGroupList")
    content_type, legacy = get("/apis", wanted.replace("v=v2;", "v=v2beta1;"))  # removed in 1.33: not served
    assert legacy["kind"] == "APIGroupList"


# ---- validation --------------------------------------------------------------------------------------------------


def test_objects_are_validated_against_the_real_schemas(api: client.ApiClient) -> None:
    """A server-side apply is typed against the kind's schema before anything else: a value of another type is the
    500 structured-merge-diff's typing gives (structuredmerge.go, typed/validate.go). A create with
    fieldValidation=Warn keeps the object, drops the unknown field and says so in a Warning header quoted as
    NewWarningHeader quotes it (k8s.io/apimachinery/pkg/util/net/http.go: the inner quotes escaped)."""
    with pytest.raises(ApiException) as refused:
        apply(api, deployment(replicas="three"))
    assert (refused.value.status, error(refused)["message"]) == (
        500,
        f"failed to create typed patch object ({NS}/fn-posts; apps/v1, Kind=Deployment): "
        ".spec.replicas: expected numeric (int or float), got string",
    )
    response = api.call_api(  # sent as it is: the typed API would refuse the field client-side
        "POST",
        f"{api.configuration.host}/apis/apps/v1/namespaces/{NS}/deployments?fieldValidation=Warn",
        {"Content-Type": "application/json"},
        deployment(replicass=3),
    )
    assert response.status == 201
    assert response.getheader("Warning") == '299 - "unknown field \\"spec.replicass\\""'
    assert "replicass" not in json.dumps(json.loads(response.read())["spec"])


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
    assert (custom.value.status, error(custom)["message"]) == (  # the patch type is checked first (patch.go)
        415,
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
    )


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
    misspelt = tree.replace("replicas:", "replicass:", 1)  # refused as kube-apiserver refuses it, --validate or not
    refused = kubectl_apply(misspelt)
    assert refused.returncode != 0
    assert "failed to create typed patch object (findly-now-production/" in refused.stderr
    assert ".spec.replicass: field not declared in schema" in refused.stderr


# ---- fidelity to kube-apiserver's own answers (issue 22), each rule with the source it follows ----------------------


def status_of(exc: pytest.ExceptionInfo[ApiException]) -> tuple[int, dict[str, Any]]:
    return exc.value.status, error(exc)


def test_a_mistyped_server_side_apply_is_answered_500_as_kube_apiserver_does(
    api: client.ApiClient, cluster: KubernetesStandIn, tmp_path: Path
) -> None:
    """kubernetes/kubernetes#122480, #139253: structured-merge-diff's typing of an apply body fails on a field the
    schema does not declare, and the field manager returns that as a plain error (structuredmerge.go: ``failed to
    create typed patch object``), which the server answers 500 with no reason (``responsewriters.ErrorToAPIStatus``)
    — by default, and whatever fieldValidation says (KEP-2885: "for apply patch, server side schema validation
    already occurs and is not optional"; handlers/patch.go's applyPatcher runs its strict check only after the apply,
    and only for duplicate keys). Nothing is created."""
    body = deployment()
    body["spec"]["template"]["spec"]["containers"][0]["portss"] = [{"containerPort": 9090}]
    for validation in ("Strict", "Warn", "Ignore", None):
        with pytest.raises(ApiException) as refused:
            apply(api, body, **({"field_validation": validation} if validation else {}))
        assert status_of(refused) == (
            500,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": f"failed to create typed patch object ({NS}/fn-posts; apps/v1, Kind=Deployment): "
                '.spec.template.spec.containers[name="app"].portss: field not declared in schema',
                "code": 500,
            },
        )
    twice = deployment()  # the fabric8 case (fabric8io/kubernetes-client#6927): two env entries of one name
    twice["spec"]["template"]["spec"]["containers"][0]["env"] = [
        {"name": "foo", "value": "x"},
        {"name": "foo", "value": "y"},
    ]
    with pytest.raises(ApiException) as duplicated:
        apply(api, twice)
    assert error(duplicated)["message"].endswith(
        '.spec.template.spec.containers[name="app"].env: duplicate entries for key [name="foo"]'
    )
    core = client.CoreV1Api(api)
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "fn-posts", "namespace": NS}}
    with pytest.raises(ApiException) as core_group:  # the core group's kind printed as GroupVersionKind.String does
        core.patch_namespaced_service_account(
            "fn-posts",
            NS,
            {**account, "automountServiceAccountTokens": False},
            field_manager="findly-infra",
            _content_type=APPLY,
        )
    assert error(core_group)["message"] == (
        f"failed to create typed patch object ({NS}/fn-posts; /v1, Kind=ServiceAccount): "
        ".automountServiceAccountTokens: field not declared in schema"
    )
    assert cluster.get("apps/v1", "Deployment", NS, "fn-posts") is None
    assert cluster.get("v1", "ServiceAccount", NS, "fn-posts") is None
    kubectl = require_tool("kubectl", KUBECTL_INSTALL)
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump(cluster.kubeconfig()))
    refused_by_kubectl = subprocess.run(
        [kubectl, "--kubeconfig", str(config), "apply", "--server-side", "-f", "-"],
        input=yaml.safe_dump(body),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused_by_kubectl.returncode != 0
    assert refused_by_kubectl.stderr.strip() == (
        f"Error from server: failed to create typed patch object ({NS}/fn-posts; apps/v1, Kind=Deployment): "
        '.spec.template.spec.containers[name="app"].portss: field not declared in schema'
    )


def test_the_lenient_apply_a_test_may_ask_for_drops_the_field_and_invents_no_strict_error() -> None:
    """``unfaithful_lenient_apply=True`` is the leniency no kube-apiserver has, kept for a test that needs it: an
    apply's undeclared field is dropped with a Warning (even with fieldValidation=Strict: the stand-in no longer
    invents a 400 ``strict decoding error`` for apply, which no handler words), and a value of another type is
    judged by the schema (422) rather than typed (500)."""
    with KubernetesStandIn(unfaithful_lenient_apply=True) as lenient:
        api_client = client.ApiClient(lenient.configuration())
        client.CoreV1Api(api_client).create_namespace(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
        )
        applied = client.AppsV1Api(api_client).patch_namespaced_deployment_with_http_info(
            "fn-posts",
            NS,
            deployment(replicass=3),
            field_manager="findly-infra",
            _content_type=APPLY,
            field_validation="Strict",
        )
        assert applied[1] == 201
        assert applied[2]["Warning"] == '299 - "unknown field \\"spec.replicass\\""'
        stored = lenient.get("apps/v1", "Deployment", NS, "fn-posts")
        assert stored is not None
        assert "replicass" not in stored["spec"]
        with pytest.raises(ApiException) as mistyped:
            apply(api_client, deployment(replicas="three"))
        assert mistyped.value.status == 422
        assert error(mistyped)["details"]["causes"][0]["field"] == "spec.replicas"


def test_a_dry_run_delete_deletes_nothing_however_it_is_asked(
    api: client.ApiClient, cluster: KubernetesStandIn, tmp_path: Path
) -> None:
    """The delete handler reads DeleteOptions from the body when there is one, else from the query
    (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/delete.go); ``dryRun: [All]`` deletes nothing; a
    precondition that does not hold is a 409 (storage.Preconditions.Check, wrapped by errors.NewConflict)."""
    apps = client.AppsV1Api(api)
    apply(api, deployment())
    apps.delete_namespaced_deployment("fn-posts", NS, body=client.V1DeleteOptions(dry_run=["All"]))
    apps.delete_namespaced_deployment("fn-posts", NS, dry_run="All")
    kubectl = require_tool("kubectl", KUBECTL_INSTALL)
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump(cluster.kubeconfig()))
    dry = subprocess.run(
        [kubectl, "--kubeconfig", str(config), "-n", NS, "delete", "deployment", "fn-posts", "--dry-run=server"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert dry.returncode == 0, dry.stderr
    assert cluster.get("apps/v1", "Deployment", NS, "fn-posts") is not None  # still there, every time
    with pytest.raises(ApiException) as stale:
        apps.delete_namespaced_deployment(
            "fn-posts", NS, body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="another"))
        )
    live = cluster.get("apps/v1", "Deployment", NS, "fn-posts")
    assert live is not None
    assert status_of(stale)[0] == 409
    assert error(stale)["message"] == (
        'Operation cannot be fulfilled on deployments.apps "fn-posts": Precondition failed: UID in precondition: '
        f"another, UID in object meta: {live['metadata']['uid']}"
    )
    apps.delete_namespaced_deployment("fn-posts", NS)
    assert cluster.get("apps/v1", "Deployment", NS, "fn-posts") is None


def test_the_system_namespaces_exist_and_every_namespace_is_labelled_with_its_name(
    api: client.ApiClient, cluster: KubernetesStandIn
) -> None:
    """kube-apiserver's system namespaces controller creates default, kube-system, kube-public and kube-node-lease;
    every Namespace carries ``kubernetes.io/metadata.name: <name>``, set by the server whatever a write says
    (SetDefaults_Namespace and the namespace strategy's Canonicalize)."""
    core = client.CoreV1Api(api)
    listed = {ns.metadata.name: ns for ns in core.list_namespace().items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease", NS} <= set(listed)
    assert all(ns.metadata.labels["kubernetes.io/metadata.name"] == name for name, ns in listed.items())
    assert listed["default"].status.phase == "Active"
    assert listed[NS].spec.finalizers == ["kubernetes"]
    core.create_namespaced_config_map("default", {"metadata": {"name": "settings"}, "data": {"a": "b"}})
    relabelled = core.patch_namespace(
        NS,
        {"metadata": {"labels": {"kubernetes.io/metadata.name": "elsewhere", "team": "posts"}}},
        _content_type="application/merge-patch+json",
    )
    assert relabelled.metadata.labels == {"kubernetes.io/metadata.name": NS, "team": "posts"}


def test_lists_come_in_pages_that_read_one_version(
    api: client.ApiClient, cluster: KubernetesStandIn, tmp_path: Path
) -> None:
    """``limit``/``continue`` as the etcd3 store pages a list (storage/etcd3/store.go GetList, storage/continue.go):
    a token naming the version of the first page and the key after the last item; ``remainingItemCount`` only when
    nothing filters; a continued page lists that same version; once compacted, 410 Expired with a token that goes on
    at the latest version (etcd3/errors.go); a token that is not one is a 400."""
    core = client.CoreV1Api(api)
    for index in range(5):
        core.create_namespaced_config_map(NS, {"metadata": {"name": f"cm-{index}", "labels": {"n": str(index)}}})
    first = core.list_namespaced_config_map(NS, limit=2)
    assert [c.metadata.name for c in first.items] == ["cm-0", "cm-1"]
    assert first.metadata.remaining_item_count == 3
    token = json.loads(base64.urlsafe_b64decode(first.metadata._continue + "=="))
    assert token == {"v": "meta.k8s.io/v1", "rv": int(first.metadata.resource_version), "start": "cm-1\x00"}
    core.delete_namespaced_config_map("cm-2", NS)  # a change between pages is not seen: one version throughout
    second = core.list_namespaced_config_map(NS, limit=2, _continue=first.metadata._continue)
    assert [c.metadata.name for c in second.items] == ["cm-2", "cm-3"]
    assert second.metadata.resource_version == first.metadata.resource_version
    last = core.list_namespaced_config_map(NS, limit=2, _continue=second.metadata._continue)
    assert ([c.metadata.name for c in last.items], last.metadata._continue) == (["cm-4"], None)
    selected = core.list_namespaced_config_map(NS, limit=1, label_selector="n in (3,4)")
    assert [c.metadata.name for c in selected.items] == ["cm-3"]
    assert selected.metadata.remaining_item_count is None  # a selector filters: no count is given
    cluster.compact()
    with pytest.raises(ApiException) as gone:
        core.list_namespaced_config_map(NS, limit=2, _continue=first.metadata._continue)
    code, body = status_of(gone)
    assert (code, body["reason"]) == (410, "Expired")
    assert body["message"].startswith("The provided continue parameter is too old to display a consistent list")
    again = json.loads(base64.urlsafe_b64decode(body["metadata"]["continue"] + "=="))
    assert again == {"v": "meta.k8s.io/v1", "rv": -1, "start": "cm-1\x00"}
    latest = core.list_namespaced_config_map(NS, limit=5, _continue=body["metadata"]["continue"])
    assert [c.metadata.name for c in latest.items] == ["cm-3", "cm-4"]  # at the latest version: cm-2 is gone
    with pytest.raises(ApiException) as bad:
        core.list_namespaced_config_map(NS, limit=2, _continue="not-a-token")
    assert status_of(bad)[0] == 400
    assert error(bad)["message"].startswith("invalid continue token: continue key is not valid")
    kubectl = require_tool("kubectl", KUBECTL_INSTALL)
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump(cluster.kubeconfig()))
    chunked = subprocess.run(
        [kubectl, "--kubeconfig", str(config), "-n", NS, "get", "configmaps", "--chunk-size=1", "-o", "name"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert chunked.stdout.split() == ["configmap/cm-0", "configmap/cm-1", "configmap/cm-3", "configmap/cm-4"]


def service(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "fn-posts", "namespace": NS},
        "spec": {"selector": {"app": "fn-posts"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}], **spec},
    }


def apply_service(api: client.ApiClient, body: dict[str, Any], manager: str = "findly-infra") -> Any:
    return client.CoreV1Api(api).patch_namespaced_service(
        body["metadata"]["name"], NS, body, field_manager=manager, _content_type=APPLY
    )


@pytest.mark.parametrize(
    ("spec", "errors"),
    [
        ({"ports": []}, ["spec.ports: Required value"]),
        (
            {"ports": [{"port": 0}]},
            [  # the target port defaults to the port (SetDefaults_Service), and is judged too
                "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
                "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
            ],
        ),
        (
            {"ports": [{"port": 80}, {"name": "Metrics", "port": 9090}]},
            [
                "spec.ports[0].name: Required value",
                'spec.ports[1].name: Invalid value: "Metrics": a lowercase RFC 1123 label must consist of lower case '
                "alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. "
                "'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            ],
        ),
        (
            {"ports": [{"name": "dns", "port": 53, "protocol": "ICMP"}]},
            ['spec.ports[0].protocol: Unsupported value: "ICMP": supported values: "SCTP", "TCP", "UDP"'],
        ),
        (
            {"ports": [{"name": "http", "port": 80, "targetPort": "http--port"}]},
            [
                'spec.ports[0].targetPort: Invalid value: "http--port": must not contain consecutive hyphens',
            ],
        ),
        (
            {"ports": [{"name": "http", "port": 80, "nodePort": 30080}]},
            ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
        ),
        (
            {"type": "Internal"},
            [
                'spec.type: Unsupported value: "Internal": supported values: "ClusterIP", "ExternalName", '
                '"LoadBalancer", "NodePort"'
            ],
        ),
        (
            {"selector": {"app": "fn posts"}},
            [
                'spec.selector: Invalid value: "fn posts": a valid label must be an empty string or consist of '
                "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
                "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
                "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
            ],
        ),
    ],
)
def test_services_are_validated_as_kube_apiserver_validates_them(
    api: client.ApiClient, spec: dict[str, Any], errors: list[str]
) -> None:
    """pkg/apis/core/validation/validation.go ValidateService and validateServicePort, worded by field.Error and
    gathered by errors.NewInvalid."""
    with pytest.raises(ApiException) as refused:
        apply_service(api, service(**spec))
    code, body = status_of(refused)
    assert (code, body["reason"]) == (422, "Invalid")
    assert [f"{c['field']}: {c['message']}" for c in body["details"]["causes"]] == errors
    shown = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
    assert body["message"] == f'Service "fn-posts" is invalid: {shown}'
    assert (body["details"]["kind"], body["details"]["name"], "group" in body["details"]) == (
        "Service",
        "fn-posts",
        False,
    )


def test_a_services_cluster_ip_is_allocated_owned_by_nobody_and_never_changes(api: client.ApiClient) -> None:
    """The registry allocates a cluster IP on create and keeps it when a write leaves it out (pkg/registry/core/
    service/storage: allocateCreate, patchAllocatedValues); a different one is refused
    (validateUpgradeDowngradeClusterIPs: ``may not change once set``)."""
    created = apply_service(api, service())
    assert created.spec.cluster_ip.startswith("10.96.")
    assert created.spec.cluster_ips == [created.spec.cluster_ip]
    assert (created.spec.type, created.spec.session_affinity, created.spec.ip_families) == (
        "ClusterIP",
        "None",
        ["IPv4"],
    )
    owned = created.metadata.managed_fields[0].fields_v1["f:spec"]
    assert "f:clusterIP" not in owned
    again = apply_service(api, service())  # applied again without it: kept, and nothing written
    assert (again.spec.cluster_ip, again.metadata.resource_version) == (
        created.spec.cluster_ip,
        created.metadata.resource_version,
    )
    with pytest.raises(ApiException) as moved:
        apply_service(api, service(clusterIP="10.0.0.9"))
    assert error(moved)["message"] == (
        'Service "fn-posts" is invalid: spec.clusterIPs[0]: Invalid value: []string{"10.0.0.9"}: '
        "may not change once set"
    )
    other = service()
    other["metadata"]["name"] = "fn-search"
    assert apply_service(api, other).spec.cluster_ip != created.spec.cluster_ip


def test_labels_and_annotations_are_validated_as_apimachinery_does(api: client.ApiClient) -> None:
    """content.IsLabelKey / IsLabelValue (63 characters, a DNS-1123 subdomain prefix) and ValidateAnnotations
    (qualified keys), each error at its field, the Status worded by errors.NewInvalid."""
    long_value = "v" * 64
    body = deployment()
    body["metadata"]["labels"] = {"app": "fn-posts", "team": long_value, "Example.COM/tier": "api"}
    body["metadata"]["annotations"] = {"findly.dev/owner": "posts", "bad key": "x"}
    with pytest.raises(ApiException) as refused:
        apply(api, body)
    code, details = status_of(refused)
    assert code == 422
    assert [f"{c['field']}: {c['message']}" for c in details["details"]["causes"]] == [
        f'metadata.labels: Invalid value: "{long_value}": must be no more than 63 bytes',
        'metadata.labels: Invalid value: "Example.COM/tier": prefix part a lowercase RFC 1123 subdomain must consist '
        "of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character "
        "(e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*"
        "[a-z0-9])?)*')",
        "metadata.annotations: Invalid value: \"bad key\": name part must consist of alphanumeric characters, '-', "
        "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
        "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    ]
    assert details["message"].startswith('Deployment.apps "fn-posts" is invalid: [metadata.labels: Invalid value: ')
    assert (details["details"]["group"], details["details"]["kind"]) == ("apps", "Deployment")
    heavy = deployment()  # ValidateAnnotationsSize: field.TooLong, worded "may not be more than" since 1.32
    heavy["metadata"]["annotations"] = {"findly.dev/notes": "x" * (256 * 1024)}
    with pytest.raises(ApiException) as too_long:
        apply(api, heavy)
    assert [f"{c['field']}: {c['message']}" for c in error(too_long)["details"]["causes"]] == [
        "metadata.annotations: Too long: may not be more than 262144 bytes"
    ]


def test_conflicts_are_worded_as_kube_apiserver_words_them(api: client.ApiClient, cluster: KubernetesStandIn) -> None:
    """errors.NewAlreadyExists, errors.NewConflict with OptimisticLockErrorMsg, and NewConflictError for apply
    (conflict.go: one cause per field, managers printed with their operation, grouped in name order). An updater is
    printed with its API version and no time: the manager printManager is given is BuildManagerIdentifier's, which
    clears Time (managedfields.go), so real messages read ``conflict with "kubectl-edit" using apps/v1: …``."""
    apps = client.AppsV1Api(api)
    created = apps.create_namespaced_deployment(NS, deployment(replicas=2))
    with pytest.raises(ApiException) as exists:
        apps.create_namespaced_deployment(NS, deployment())
    assert status_of(exists) == (
        409,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'deployments.apps "fn-posts" already exists',
            "reason": "AlreadyExists",
            "details": {"name": "fn-posts", "group": "apps", "kind": "deployments"},
            "code": 409,
        },
    )
    created.spec.replicas = 3
    apps.replace_namespaced_deployment("fn-posts", NS, created)
    with pytest.raises(ApiException) as stale:
        apps.replace_namespaced_deployment("fn-posts", NS, created)
    assert error(stale)["message"] == (
        'Operation cannot be fulfilled on deployments.apps "fn-posts": the object has been modified; please apply your '
        "changes to the latest version and try again"
    )
    assert error(stale)["details"] == {"name": "fn-posts", "group": "apps", "kind": "deployments"}
    updated = cluster.get("apps/v1", "Deployment", NS, "fn-posts")
    assert updated is not None
    entry = next(m for m in updated["metadata"]["managedFields"] if m["operation"] == "Update")
    assert entry["time"]  # the entry has its time; the message does not print it
    rival = deployment(image="x:2", replicas=5)
    with pytest.raises(ApiException) as conflicting:
        apply(api, rival, manager="someone-else")
    body = error(conflicting)
    printed = f'"{entry["manager"]}" using apps/v1'
    assert body["message"] == (
        f"Apply failed with 2 conflicts: conflicts with {printed}:\n"
        '- .spec.replicas\n- .spec.template.spec.containers[name="app"].image'
    )
    assert [c["message"] for c in body["details"]["causes"]] == [f"conflict with {printed}"] * 2


def test_an_object_sent_to_another_name_is_refused_naming_both(api: client.ApiClient) -> None:
    """The update and patch handlers check the object they are about to store against the URL: its namespace first
    (rest.EnsureObjectNamespaceMatchesRequestNamespace, registry/rest/meta.go), then its name (checkName,
    endpoints/handlers/rest.go: ``the name of the object (%s) does not match the name on the URL (%s)``) — for a
    replace, an apply and a write to /scale alike; a replace's body must carry its name."""
    apps = client.AppsV1Api(api)
    apply(api, deployment())

    def refused(call: Any) -> tuple[int, str, str]:
        with pytest.raises(ApiException) as caught:
            call()
        return caught.value.status, error(caught)["reason"], error(caught)["message"]

    other = deployment("fn-other")
    mismatch = "the name of the object (fn-other) does not match the name on the URL (fn-posts)"
    assert refused(lambda: apps.replace_namespaced_deployment("fn-posts", NS, other)) == (400, "BadRequest", mismatch)
    with pytest.raises(ApiException) as applied:
        apps.patch_namespaced_deployment("fn-posts", NS, other, field_manager="findly-infra", _content_type=APPLY)
    assert (applied.value.status, error(applied)["message"]) == (400, mismatch)
    unnamed = deployment()
    del unnamed["metadata"]["name"]
    response = api.call_api(
        "PUT",
        f"{api.configuration.host}/apis/apps/v1/namespaces/{NS}/deployments/fn-posts",
        {"Content-Type": "application/json"},
        unnamed,
    )
    assert (response.status, json.loads(response.read())["message"]) == (
        400,
        "the name of the object () does not match the name on the URL (fn-posts)",
    )
    elsewhere = deployment("fn-other")
    elsewhere["metadata"]["namespace"] = "default"
    assert refused(lambda: apps.replace_namespaced_deployment("fn-posts", NS, elsewhere)) == (
        400,
        "BadRequest",
        "the namespace of the provided object does not match the namespace sent on the request",
    )
    scale = {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "fn-other"}, "spec": {"replicas": 2}}
    assert refused(lambda: apps.replace_namespaced_deployment_scale("fn-posts", NS, scale)) == (
        400,
        "BadRequest",
        mismatch,
    )


def test_an_apply_of_another_kind_or_version_is_refused_by_the_version_check(api: client.ApiClient) -> None:
    """versionCheckManager, the outermost of the field managers since Kubernetes 1.28 (managedfields/internal/
    versioncheck.go): an apply body whose group, version or kind is not the endpoint's is a 400 ``invalid object
    type: <GroupVersionKind>`` — a missing apiVersion or kind is an empty one."""
    apps = client.AppsV1Api(api)

    def refused(body: dict[str, Any], *, scale: bool = False) -> tuple[int, str]:
        patch = apps.patch_namespaced_deployment_scale if scale else apps.patch_namespaced_deployment
        with pytest.raises(ApiException) as caught:
            patch("fn-posts", NS, body, field_manager="findly-infra", _content_type=APPLY)
        return caught.value.status, error(caught)["message"]

    assert refused({**deployment(), "apiVersion": "apps/v1beta1"}) == (
        400,
        "invalid object type: apps/v1beta1, Kind=Deployment",
    )
    assert refused({k: v for k, v in deployment().items() if k != "kind"}) == (
        400,
        "invalid object type: apps/v1, Kind=",
    )
    assert refused({k: v for k, v in deployment().items() if k != "apiVersion"}) == (
        400,
        "invalid object type: /, Kind=Deployment",
    )
    apply(api, deployment())
    assert refused({"kind": "Scale", "metadata": {"name": "fn-posts"}, "spec": {"replicas": 2}}, scale=True) == (
        400,
        "invalid object type: /, Kind=Scale",
    )


def test_deployments_scale_through_their_scale_subresource(
    api: client.ApiClient, cluster: KubernetesStandIn, tmp_path: Path
) -> None:
    """autoscaling/v1 Scale (pkg/registry/apps/deployment/storage: ScaleREST, scaleFromDeployment; ValidateScale):
    GET, PUT and PATCH move ``spec.replicas`` and nothing else, the writer owning it with ``subresource: scale``."""
    apps = client.AppsV1Api(api)
    apply(api, deployment(replicas=2))
    cluster.mark_ready(NS, "fn-posts")
    scale = apps.read_namespaced_deployment_scale("fn-posts", NS)
    assert (scale.spec.replicas, scale.status.replicas, scale.status.selector) == (2, 2, "app=fn-posts")
    scale.spec.replicas = 4
    assert apps.replace_namespaced_deployment_scale("fn-posts", NS, scale).spec.replicas == 4
    kubectl = require_tool("kubectl", KUBECTL_INSTALL)
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump(cluster.kubeconfig()))
    scaled = subprocess.run(
        [kubectl, "--kubeconfig", str(config), "-n", NS, "scale", "deployment/fn-posts", "--replicas=6"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert scaled.returncode == 0, scaled.stderr
    stored = cluster.get("apps/v1", "Deployment", NS, "fn-posts")
    assert stored is not None
    assert stored["spec"]["replicas"] == 6
    by_scale = [m for m in stored["metadata"]["managedFields"] if m.get("subresource") == "scale"]
    assert [m["fieldsV1"] for m in by_scale] == [{"f:spec": {"f:replicas": {}}}]
    mine = next(m for m in stored["metadata"]["managedFields"] if m["manager"] == "findly-infra")
    assert "f:replicas" not in mine["fieldsV1"]["f:spec"]  # taken by the scale writes
    with pytest.raises(ApiException) as negative:
        apps.patch_namespaced_deployment_scale(
            "fn-posts", NS, {"spec": {"replicas": -1}}, _content_type="application/merge-patch+json"
        )
    assert error(negative)["message"] == (
        'Scale.autoscaling "fn-posts" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0'
    )
    resources = {r.name: r for r in apps.get_api_resources().resources}
    assert (resources["deployments/scale"].group, resources["deployments/scale"].kind) == ("autoscaling", "Scale")


def istio(kind: str, spec: dict[str, Any], name: str = "fn-posts") -> dict[str, Any]:
    group = "security.istio.io" if kind in ("PeerAuthentication", "AuthorizationPolicy") else "networking.istio.io"
    return {"apiVersion": f"{group}/v1", "kind": kind, "metadata": {"name": name, "namespace": NS}, "spec": spec}


def apply_custom(api: client.ApiClient, body: dict[str, Any], **options: Any) -> Any:
    group, version = body["apiVersion"].split("/")
    plural = {
        "VirtualService": "virtualservices",
        "DestinationRule": "destinationrules",
        "Gateway": "gateways",
        "PeerAuthentication": "peerauthentications",
        "AuthorizationPolicy": "authorizationpolicies",
        "ManagedCertificate": "managedcertificates",
    }[body["kind"]]
    return client.CustomObjectsApi(api).patch_namespaced_custom_object(
        group, version, NS, plural, body["metadata"]["name"], body, field_manager="test", _content_type=APPLY, **options
    )


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            istio("VirtualService", {"hosts": ["fn-posts"], "http": [{"timeout": "0s", "route": []}]}),
            ['spec.http[0].timeout: Invalid value: "string": must be a valid duration greater than 1ms'],
        ),
        (
            istio("VirtualService", {"http": [{"retries": {"perTryTimeout": "2 seconds"}}]}),
            [
                "spec.http[0].retries.perTryTimeout: Invalid value: \"string\": type conversion error from 'string' to "
                "'google.protobuf.Duration' evaluating rule: must be a valid duration greater than 1ms"
            ],
        ),
        (
            istio("DestinationRule", {"host": "fn-posts", "trafficPolicy": {"tls": {"mode": "STRICT"}}}),
            [
                'spec.trafficPolicy.tls.mode: Unsupported value: "STRICT": supported values: "DISABLE", "SIMPLE", '
                '"MUTUAL", "ISTIO_MUTUAL"'
            ],
        ),
        (istio("DestinationRule", {"subsets": [{"name": "stable"}]}), ["spec.host: Required value"]),
        (
            istio("PeerAuthentication", {"mtls": {"mode": "STRICT"}, "portLevelMtls": {"8080": {"mode": "DISABLE"}}}),
            ['spec: Invalid value: "object": portLevelMtls requires selector'],
        ),
        (
            istio(
                "AuthorizationPolicy",
                {"selector": {"matchLabels": {"app": "fn-*"}}, "targetRefs": [{"kind": "Service", "name": "fn"}]},
            ),
            [
                'spec: Invalid value: "object": only one of targetRefs or selector can be set',
                'spec.selector.matchLabels[app]: Invalid value: "string": wildcard not allowed in label value match',
            ],
        ),
        (
            istio(
                "Gateway",
                {
                    "servers": [
                        {
                            "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                            "hosts": ["*"],
                            "tls": {"credentialName": "a", "credentialNames": ["b"]},
                        }
                    ]
                },
            ),
            ['spec.servers[0].tls: Invalid value: "object": only one of credentialName or credentialNames can be set'],
        ),
    ],
)
def test_istio_objects_are_held_to_istios_published_crd_rules(
    api: client.ApiClient, body: dict[str, Any], errors: list[str]
) -> None:
    """The openAPIV3Schema and x-kubernetes-validations of Istio's published CRDs (istio/api
    kubernetes/customresourcedefinitions.gen.yaml, v1.30.3), judged as apiextensions-apiserver judges them."""
    with pytest.raises(ApiException) as refused:
        apply_custom(api, body)
    code, status = status_of(refused)
    assert (code, status["reason"]) == (422, "Invalid")
    assert [f"{c['field']}: {c['message']}" for c in status["details"]["causes"]] == errors
    assert status["message"].startswith(f'{body["kind"]}.{body["apiVersion"].split("/")[0]} "fn-posts" is invalid: ')


def test_gkes_managed_certificates_are_served_and_validated(api: client.ApiClient, cluster: KubernetesStandIn) -> None:
    """networking.gke.io/v1 ManagedCertificate as GoogleCloudPlatform/gke-managed-certs publishes its CRD: up to
    100 lowercase, non-wildcard domains of at most 63 characters; no status subresource."""
    good = {
        "apiVersion": "networking.gke.io/v1",
        "kind": "ManagedCertificate",
        "metadata": {"name": "findly-now", "namespace": NS},
        "spec": {"domains": ["api.findly.now", "www.findly.now"]},
    }
    apply_custom(api, good)
    stored = cluster.get("networking.gke.io/v1", "ManagedCertificate", NS, "findly-now")
    assert stored is not None
    assert stored["spec"]["domains"] == ["api.findly.now", "www.findly.now"]
    wildcard = copy.deepcopy(good)
    wildcard["spec"]["domains"] = ["*.findly.now"]
    with pytest.raises(ApiException) as refused:
        apply_custom(api, wildcard)
    assert [c["field"] for c in error(refused)["details"]["causes"]] == ["spec.domains[0]"]
    assert "should match" in error(refused)["message"]
    resources = {r.name for r in client.CustomObjectsApi(api).get_api_resources("networking.gke.io", "v1").resources}
    assert resources == {"managedcertificates"}


def test_a_path_nothing_is_served_at_is_answered_as_kube_apiserver_does(api: client.ApiClient) -> None:
    """pkg/util/notfoundhandler: a 404 NotFound Status, ``the server could not find the requested resource``."""
    with KubernetesStandIn(omit_groups=("networking.istio.io",)) as bare, pytest.raises(ApiException) as missing:
        client.CustomObjectsApi(client.ApiClient(bare.configuration())).get_namespaced_custom_object(
            "networking.istio.io", "v1", NS, "virtualservices", "fn-posts"
        )
    assert status_of(missing) == (
        404,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "the server could not find the requested resource",
            "reason": "NotFound",
            "code": 404,
        },
    )


def test_strict_field_validation_is_worded_by_each_handler(api: client.ApiClient) -> None:
    """fieldValidation=Strict: a create cannot decode the body (handlers/create.go: 400, ``… cannot be handled as a
    Deployment``); a merge patch is an invalid ``patch`` (handlers/patch.go: 422)."""
    apps = client.AppsV1Api(api)
    misspelt = deployment(replicass=3)  # sent as it is: the typed API would refuse the field client-side
    response = api.call_api(
        "POST",
        f"{api.configuration.host}/apis/apps/v1/namespaces/{NS}/deployments?fieldValidation=Strict",
        {"Content-Type": "application/json"},
        misspelt,
    )
    body = json.loads(response.read())
    assert (response.status, body["reason"], body["message"]) == (
        400,
        "BadRequest",
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field '
        '"spec.replicass"',
    )
    apply(api, deployment())
    with pytest.raises(ApiException) as patched:
        apps.patch_namespaced_deployment(
            "fn-posts",
            NS,
            {"spec": {"replicass": 2}},
            field_validation="Strict",
            _content_type="application/merge-patch+json",
        )
    code, status = status_of(patched)
    assert (code, status["reason"]) == (422, "Invalid")
    assert status["details"]["causes"][0]["field"] == "patch"
    assert status["message"].endswith('strict decoding error: unknown field "spec.replicass"')


def test_an_autoscaler_applying_the_scale_subresource_conflicts_with_the_replicas_owner(api: client.ApiClient) -> None:
    """Server-side apply through /scale: the Scale's replicas are the Deployment's, so whoever owns them there is the
    other manager (managedfields.ScaleHandler); forced, the autoscaler takes them."""
    apps = client.AppsV1Api(api)
    apply(api, deployment(replicas=2))
    scale = {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "fn-posts"}, "spec": {"replicas": 5}}
    with pytest.raises(ApiException) as conflict:
        apps.patch_namespaced_deployment_scale("fn-posts", NS, scale, field_manager="hpa", _content_type=APPLY)
    assert error(conflict)["message"] == 'Apply failed with 1 conflict: conflict with "findly-infra": .spec.replicas'
    taken = apps.patch_namespaced_deployment_scale(
        "fn-posts", NS, scale, field_manager="hpa", force=True, _content_type=APPLY
    )
    assert taken.spec.replicas == 5
    managers = {m.manager: m for m in apps.read_namespaced_deployment("fn-posts", NS).metadata.managed_fields}
    assert (managers["hpa"].operation, managers["hpa"].subresource) == ("Apply", "scale")
