"""``apply`` and ``diff`` against the Kubernetes stand-in, through the real client and the command line: objects
applied server-side as findly-infra, an unchanged apply changing nothing, drift shown, ours pruned and nobody
else's, an autoscaler's replicas left alone, and each failure of the API server said for what it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("kubernetes", reason="the kubernetes extra: pip install 'findly-infra[kubernetes]'")

from findly_infra import load_platform
from findly_infra.adapters.kubernetes import AccessDeniedError, KubernetesObjects, connect
from findly_infra.application.cluster_apply import apply_environment, diff_environment
from findly_infra.application.ports import BadInputError, DependencyUnavailableError
from findly_infra.cli import EXIT_BAD_INPUT, EXIT_DEPENDENCY, EXIT_DRIFT
from findly_infra.domain.cluster import PRUNABLE, object_key
from findly_infra.render.objects import environment_objects, for_apply
from findly_infra.testing.kubernetes import KubernetesStandIn
from tests.conftest import EXAMPLE, KUBECTL_INSTALL, PAST, require_tool

PLATFORM = load_platform(EXAMPLE)
NS = "findly-now-production"


def production(versions: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return for_apply(environment_objects(PLATFORM, "production", versions), "production")


def cli(kubeconfig: Path, tmp_path: Path, *args: str, state: Path | None = None) -> tuple[int, dict[str, Any], str]:
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "FINDLY_CONFIG": str(EXAMPLE),
        "FINDLY_STATE": str(state or tmp_path / "state.sqlite3"),
        "GITHUB_ACTIONS": "",
    }
    result = subprocess.run(
        [sys.executable, "-m", "findly_infra", "--json", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    return result.returncode, json.loads(result.stdout), result.stderr


# ---- what is sent --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("environment", ["development", "staging", "production"])
def test_an_environment_is_composed_exactly_as_kustomize_builds_its_overlay(environment: str, tmp_path: Path) -> None:
    from findly_infra.render import render_platform, write_tree

    kubectl = require_tool("kubectl", KUBECTL_INSTALL)
    write_tree(render_platform(PLATFORM), tmp_path)
    built = subprocess.run(
        [kubectl, "kustomize", str(tmp_path / "overlays" / environment)], capture_output=True, text=True, check=True
    ).stdout
    theirs = sorted((doc for doc in yaml.safe_load_all(built) if doc), key=object_key)
    assert environment_objects(PLATFORM, environment) == theirs


def test_apply_marks_objects_as_ours_and_leaves_an_autoscaled_deployments_replicas_out() -> None:
    sent = {object_key(o): o for o in production()}
    for item in sent.values():
        assert item["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "findly-infra"
        assert item["metadata"]["labels"]["findly-infra/environment"] == "production"
    scaled = sent[("apps/v1", "Deployment", NS, "fn-posts")]  # fn-posts has an HPA in the seed
    assert "replicas" not in scaled["spec"]


# ---- apply and diff ------------------------------------------------------------------------------------------------


def test_apply_creates_then_changes_nothing_and_diff_agrees(
    cluster: KubernetesStandIn, kubeconfig: Path, tmp_path: Path
) -> None:
    code, planned, _ = cli(kubeconfig, tmp_path, "diff", "--env", "production", "--context", "stand-in")
    assert (code, planned["counts"]["create"]) == (EXIT_DRIFT, 33)
    assert cluster.objects("apps/v1", "Deployment") == []  # a diff changes nothing
    code, applied, _ = cli(kubeconfig, tmp_path, "apply", "--env", "production", "--context", "stand-in")
    assert (code, applied["counts"]) == (0, {"create": 33, "configure": 0, "unchanged": 0, "prune": 0})
    stored = cluster.get("apps/v1", "Deployment", NS, "fn-posts")
    assert stored is not None
    assert [m["manager"] for m in stored["metadata"]["managedFields"]] == ["findly-infra"]
    writes = len([a for a in cluster.audit if a.verb == "patch"])
    code, again, _ = cli(kubeconfig, tmp_path, "apply", "--env", "production", "--context", "stand-in")
    assert (code, again["counts"]["unchanged"], again["differs"]) == (0, 33, False)
    assert cluster.get("apps/v1", "Deployment", NS, "fn-posts") == stored  # not even a resourceVersion moved
    assert len([a for a in cluster.audit if a.verb == "patch"]) == writes  # as applied, and nobody changed it
    code, clean, _ = cli(kubeconfig, tmp_path, "diff", "--env", "production", "--context", "stand-in")
    assert (code, clean["differs"]) == (0, False)


def requests_of(cluster: KubernetesStandIn, run: Any) -> tuple[int, dict[str, int]]:
    """The requests *run* made (discovery included) and the resource requests by verb (the audit log)."""
    before, audited = cluster.requests, len(cluster.audit)
    run()
    verbs: dict[str, int] = {}
    for record in cluster.audit[audited:]:
        verbs[record.verb] = verbs.get(record.verb, 0) + 1
    return cluster.requests - before, verbs


def test_apply_and_diff_make_one_request_per_object_or_fewer(
    cluster: KubernetesStandIn, objects: KubernetesObjects
) -> None:
    """Issue 24: a get, a dry run, a get and an apply per object (4), and a get and a dry run per object for diff.
    Now: a namespace the apply creates holds nothing yet, so each object is applied once (the Namespace read first,
    and one discovery request for the kinds); an unchanged apply or diff lists each kind of ours once and sends no
    object; one object changed costs its dry run and its apply, and no other object is sent."""
    wanted = production()
    count = len(wanted)
    kinds = len([kind for kind in PRUNABLE if kind.namespaced])
    sent, verbs = requests_of(cluster, lambda: diff_environment(objects, wanted, "production", NS))
    assert (sent, verbs) == (3, {"get": 1, "patch": 1, "create": 1})  # the Namespace read and dry-run, the kinds
    sent, verbs = requests_of(cluster, lambda: apply_environment(objects, wanted, "production", NS))
    assert sent == count + 2  # the Namespace read, one discovery request, one apply each
    assert verbs == {"get": 1, "patch": count, "create": count}  # an apply that creates is authorized as create too
    for run in (
        lambda: apply_environment(objects, wanted, "production", NS),
        lambda: diff_environment(objects, wanted, "production", NS),
        lambda: apply_environment(objects, wanted, "production", NS, dry_run=True),
    ):
        sent, verbs = requests_of(cluster, run)
        assert verbs == {"get": 1, "list": kinds}  # nothing sent: every object is as last applied
        assert sent == kinds + 1
    changed = production({"fn-posts": "2.0.0"})
    reports = []
    sent, verbs = requests_of(cluster, lambda: reports.append(apply_environment(objects, changed, "production", NS)))
    moved = sorted(c.name for c in reports[0].changes if c.action != "unchanged")
    assert moved == ["fn-posts", "fn-posts-green"]  # its two tracks' image
    assert verbs == {"get": 1, "list": kinds, "patch": 2 * len(moved)}  # each one's dry run and its apply
    patched = [record.name for record in cluster.audit if record.verb == "patch"][-2 * len(moved) :]
    assert sorted(patched) == sorted(moved * 2)


def test_an_object_a_release_step_applied_is_looked_at_again(
    cluster: KubernetesStandIn, objects: KubernetesObjects
) -> None:
    """A release's step applies a Deployment as ``findly-infra`` without the digest ``apply`` leaves: the server
    removes it, and the next ``apply`` dry-runs the object again instead of taking it as unchanged."""
    from findly_infra.application.cluster_apply import APPLIED

    apply_environment(objects, production(), "production", NS)
    (posts,) = [o for o in production() if object_key(o) == ("apps/v1", "Deployment", NS, "fn-posts")]
    stepped = json.loads(json.dumps(posts))
    stepped["spec"]["template"]["spec"]["containers"][0]["image"] = "gcr.io/findly-now/fn-posts:3.0.0"
    objects.apply(stepped, force=True)
    live = cluster.get("apps/v1", "Deployment", NS, "fn-posts")
    assert live is not None
    assert APPLIED not in live["metadata"].get("annotations", {})
    report = apply_environment(objects, production(), "production", NS)
    assert [(c.name, c.fields) for c in report.changes if c.action != "unchanged"] == [
        ("fn-posts", ("spec.template.spec.containers[0].image",))
    ]
    live = cluster.get("apps/v1", "Deployment", NS, "fn-posts")
    assert live is not None
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "gcr.io/findly-now/fn-posts:latest"
    assert APPLIED in live["metadata"]["annotations"]


def test_an_object_only_missing_its_digest_gets_it_back_once_as_unchanged(
    cluster: KubernetesStandIn, objects: KubernetesObjects
) -> None:
    """A release's step (or an older findly-infra) applied the same object without the digest: the next apply says
    it is unchanged, writes the digest alone (its generation does not move: no pod restarts), and the one after sends
    nothing for it."""
    from findly_infra.application.cluster_apply import APPLIED

    apply_environment(objects, production(), "production", NS)
    (posts,) = [o for o in production() if object_key(o) == ("apps/v1", "Deployment", NS, "fn-posts")]
    objects.apply(posts, force=True)
    stepped = cluster.get("apps/v1", "Deployment", NS, "fn-posts")
    assert stepped is not None
    assert APPLIED not in stepped["metadata"].get("annotations", {})
    report = apply_environment(objects, production(), "production", NS)
    assert not report.differs
    live = cluster.get("apps/v1", "Deployment", NS, "fn-posts")
    assert live is not None
    assert APPLIED in live["metadata"]["annotations"]
    assert live["metadata"]["generation"] == stepped["metadata"]["generation"]
    _, verbs = requests_of(cluster, lambda: apply_environment(objects, production(), "production", NS))
    assert "patch" not in verbs


def test_diff_shows_the_fields_that_drifted_and_apply_brings_them_back(
    cluster: KubernetesStandIn, objects: KubernetesObjects, kubeconfig: Path, tmp_path: Path
) -> None:
    apply_environment(objects, production(), "production", NS)
    live = cluster.get("networking.istio.io/v1", "VirtualService", NS, "fn-posts")
    assert live is not None
    with connect(context="stand-in", kubeconfig=str(kubeconfig)).api as api:  # someone deletes an object by hand
        api.call_api("DELETE", f"{cluster.url}/apis/networking.istio.io/v1/namespaces/{NS}/virtualservices/fn-posts")
    code, drift, _ = cli(kubeconfig, tmp_path, "diff", "--env", "production", "--context", "stand-in")
    assert code == EXIT_DRIFT
    changed = [c for c in drift["changes"] if c["action"] != "unchanged"]
    assert all(value["old"] is None for value in changed[0].pop("values"))  # issue 26: its values, all new
    assert changed == [
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "namespace": NS,
            "name": "fn-posts",
            "action": "create",
            "fields": [],
        }
    ]
    assert cli(kubeconfig, tmp_path, "apply", "--env", "production", "--context", "stand-in")[0] == 0
    assert cluster.get("networking.istio.io/v1", "VirtualService", NS, "fn-posts") is not None


def test_a_field_another_manager_took_is_drift_to_diff_and_a_conflict_to_apply_until_forced(
    cluster: KubernetesStandIn, objects: KubernetesObjects, kubeconfig: Path, tmp_path: Path
) -> None:
    apply_environment(objects, production(), "production", NS)
    with connect(context="stand-in", kubeconfig=str(kubeconfig)).api as api:  # kubectl edit, say
        api.call_api(
            "PATCH",
            f"{cluster.url}/apis/policy/v1/namespaces/{NS}/poddisruptionbudgets/fn-posts?fieldManager=kubectl-edit",
            {"Content-Type": "application/merge-patch+json"},
            {"spec": {"maxUnavailable": 3}},
        )
    code, drift, _ = cli(kubeconfig, tmp_path, "diff", "--env", "production", "--context", "stand-in")
    assert code == EXIT_DRIFT
    changed = [c for c in drift["changes"] if c["action"] == "configure"]
    assert [(c["name"], c["fields"], c["owned_by"]) for c in changed] == [
        ("fn-posts", ["spec.maxUnavailable"], {"spec.maxUnavailable": "kubectl-edit"})
    ]
    code, refused, _ = cli(kubeconfig, tmp_path, "apply", "--env", "production", "--context", "stand-in")
    assert code == EXIT_BAD_INPUT
    message = refused["error"]["message"]
    assert 'poddisruptionbudgets.policy "fn-posts" in findly-now-production' in message
    assert ".spec.maxUnavailable" in message
    assert 'conflict with "kubectl-edit"' in message
    assert "findly-infra apply --force-conflicts" in message
    code, forced, _ = cli(
        kubeconfig, tmp_path, "apply", "--env", "production", "--context", "stand-in", "--force-conflicts"
    )
    assert code == 0
    changed = [c for c in forced["changes"] if c["action"] == "configure"]
    assert [(c["name"], c["fields"]) for c in changed] == [("fn-posts", ["spec.maxUnavailable"])]


def test_diff_after_kubectl_set_image_names_the_image_and_its_manager_and_exits_7(
    cluster: KubernetesStandIn, kubeconfig: Path, tmp_path: Path
) -> None:
    """The most common drift: ``kubectl set image`` (a strategic merge patch by the manager ``kubectl-set``) takes
    the image field. ``diff`` dry-runs with ``force`` as ``kubectl diff --server-side --force-conflicts`` does
    (kubernetes/kubectl pkg/cmd/diff/diff.go, ``InfoObject.Merged``: ``PatchOptions{Force: &obj.ForceConflicts}``)
    and names the field and who owns it; ``apply`` still refuses to take it back unless forced."""
    kubectl = require_tool("kubectl", KUBECTL_INSTALL)
    assert cli(kubeconfig, tmp_path, "apply", "--env", "production", "--context", "stand-in")[0] == 0
    image = "gcr.io/findly-now/fn-posts:9.9.9-hotfix"
    subprocess.run(
        [
            kubectl,
            "--kubeconfig",
            str(kubeconfig),
            "-n",
            NS,
            "set",
            "image",
            "deployment/fn-posts",
            f"fn-posts={image}",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )

    def held() -> str:
        live = cluster.get("apps/v1", "Deployment", NS, "fn-posts")
        assert live is not None
        return str(live["spec"]["template"]["spec"]["containers"][0]["image"])

    assert held() == image
    expected = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "namespace": NS,
        "name": "fn-posts",
        "action": "configure",
        "fields": ["spec.template.spec.containers[0].image"],
        "owned_by": {"spec.template.spec.containers[0].image": "kubectl-set"},
    }
    for flags in ([], ["--force-conflicts"]):  # kubectl's spelling is accepted and changes nothing
        code, drift, _ = cli(kubeconfig, tmp_path, "diff", "--env", "production", "--context", "stand-in", *flags)
        assert code == EXIT_DRIFT
        shown = [c for c in drift["changes"] if c["action"] != "unchanged"]
        assert [value["path"] for value in shown[0].pop("values")] == expected["fields"]  # issue 26: with values
        assert shown == [expected]
        assert drift["owned"] == {"kubectl-set": ["deployment.apps/fn-posts"]}
    text = subprocess.run(
        [sys.executable, "-m", "findly_infra", "diff", "--env", "production", "--context", "stand-in"],
        capture_output=True,
        text=True,
        env={
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "FINDLY_CONFIG": str(EXAMPLE),
            "GITHUB_ACTIONS": "",
            "FINDLY_STATE": str(tmp_path / "state.sqlite3"),
        },
        timeout=120,
        check=False,
    )
    assert text.returncode == EXIT_DRIFT
    assert (
        f"deployment.apps/fn-posts in {NS} configured (dry run): spec.template.spec.containers[0].image "
        "(owned by kubectl-set)"
    ) in text.stdout
    assert "--force-conflicts" in text.stdout
    assert held() == image  # a diff changes nothing
    code, refused, _ = cli(kubeconfig, tmp_path, "apply", "--env", "production", "--context", "stand-in")
    assert code == EXIT_BAD_INPUT
    assert 'conflict with "kubectl-set"' in refused["error"]["message"]
    assert "findly-infra apply --force-conflicts" in refused["error"]["message"]
    assert held() == image
    code, _, _ = cli(kubeconfig, tmp_path, "apply", "--env", "production", "--context", "stand-in", "--force-conflicts")
    assert code == 0
    assert held() == "gcr.io/findly-now/fn-posts:latest"
    assert cli(kubeconfig, tmp_path, "diff", "--env", "production", "--context", "stand-in")[0] == 0


def test_an_autoscalers_replicas_are_never_fought_over(cluster: KubernetesStandIn, objects: KubernetesObjects) -> None:
    apply_environment(objects, production(), "production", NS)
    with objects.api as api:  # the HPA controller scales fn-posts
        api.call_api(
            "PATCH",
            f"{cluster.url}/apis/apps/v1/namespaces/{NS}/deployments/fn-posts?fieldManager=kube-controller-manager",
            {"Content-Type": "application/merge-patch+json"},
            {"spec": {"replicas": 7}},
        )
    report = apply_environment(objects, production(), "production", NS)
    assert not report.differs
    stored = cluster.get("apps/v1", "Deployment", NS, "fn-posts")
    assert stored is not None
    assert stored["spec"]["replicas"] == 7


def test_prune_removes_only_our_objects_of_this_environment_that_left_the_file(
    cluster: KubernetesStandIn, objects: KubernetesObjects
) -> None:
    everything = production()
    apply_environment(objects, everything, "production", NS)
    foreign = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "someone-elses", "namespace": NS}}
    with objects.api as api:
        api.call_api(
            "POST",
            f"{cluster.url}/api/v1/namespaces/{NS}/configmaps",
            {"Content-Type": "application/json"},
            foreign,
        )
    without = [o for o in everything if object_key(o) != ("policy/v1", "PodDisruptionBudget", NS, "fn-matcher")]
    planned = apply_environment(objects, without, "production", NS, dry_run=True)
    assert [(c.action, c.name) for c in planned.changes if c.action == "prune"] == [("prune", "fn-matcher")]
    assert cluster.get("policy/v1", "PodDisruptionBudget", NS, "fn-matcher") is not None  # a dry run
    report = apply_environment(objects, without, "production", NS)
    assert report.counts["prune"] == 1
    assert cluster.get("policy/v1", "PodDisruptionBudget", NS, "fn-matcher") is None
    assert cluster.get("v1", "ConfigMap", NS, "someone-elses") is not None  # not ours: never pruned
    kept = apply_environment(objects, without, "production", NS, prune=False)
    assert kept.counts["prune"] == 0


def test_versions_come_from_the_flags_else_from_what_serves(
    kubeconfig: Path, tmp_path: Path, cluster: KubernetesStandIn
) -> None:
    state = tmp_path / "rehearsal.sqlite3"
    release = {
        **os.environ,
        "FINDLY_CONFIG": str(EXAMPLE),
        "FINDLY_STATE": str(state),
        "FINDLY_ACTOR": "erin",
        "FINDLY_NOW": PAST,
    }
    for step in (
        ("deploy", "fn-posts", "1.4.0", "--env", "development"),
        ("rollout", "fn-posts", "--env", "development", "--watch"),
    ):
        assert (
            subprocess.run(
                [sys.executable, "-m", "findly_infra", *step], env=release, capture_output=True, check=False
            ).returncode
            == 0
        )
    code, _, stderr = cli(
        kubeconfig,
        tmp_path,
        "apply",
        "--env",
        "development",
        "--context",
        "stand-in",
        "--version",
        "fn-matcher=2.1.0",
        state=state,
    )
    assert code == 0, stderr
    namespace = "findly-now-development"

    def image(name: str) -> str:
        stored = cluster.get("apps/v1", "Deployment", namespace, name)
        assert stored is not None
        return str(stored["spec"]["template"]["spec"]["containers"][0]["image"])

    assert image("fn-posts").endswith(":1.4.0")  # what serves there, as the state says
    assert image("fn-matcher").endswith(":2.1.0")  # as the flag says
    assert image("fn-notifications").endswith(":latest")  # nothing serves it yet


# ---- failures ------------------------------------------------------------------------------------------------------


def test_an_environment_bound_to_no_cluster_has_nothing_to_apply_to(kubeconfig: Path, tmp_path: Path) -> None:
    code, refused, _ = cli(kubeconfig, tmp_path, "apply", "--env", "production")
    assert code == EXIT_BAD_INPUT
    assert "production is bound to no cluster" in refused["error"]["message"]
    assert "kubernetes.clusters.production" in refused["error"]["message"]


def test_a_cluster_without_istio_is_told_so_and_nothing_changes(tmp_path: Path) -> None:
    with KubernetesStandIn(omit_groups=("networking.istio.io", "security.istio.io")) as bare:
        config = tmp_path / "kubeconfig"
        config.write_text(yaml.safe_dump(bare.kubeconfig()))
        with pytest.raises(BadInputError) as refused:
            apply_environment(connect(context="stand-in", kubeconfig=str(config)), production(), "production", NS)
        assert "does not serve networking.istio.io/v1" in str(refused.value)
        assert "is Istio installed (its CRDs)?" in str(refused.value)
        assert bare.get("v1", "Namespace", "", NS) is None  # refused before anything changed


def test_the_api_servers_failures_are_retried_or_named(cluster: KubernetesStandIn, objects: KubernetesObjects) -> None:
    import stamina

    waits: list[float] = []
    stamina.instrumentation.set_on_retry_hooks([lambda details: waits.append(details.wait_for)])
    try:
        cluster.fail(429, method="PATCH", path="/namespaces/findly-now-production$", retry_after=1, times=2)
        report = apply_environment(objects, production(), "production", NS)  # throttled twice, then served
        assert report.counts["create"] == 33
        assert waits[:2] == [1.0, 1.0]  # as long as Retry-After said
        stamina.set_testing(True, attempts=5)  # no real waiting for the 5xx backoff
        cluster.fail(503, method="GET", path="/deployments$", times=5)  # every attempt
        with pytest.raises(DependencyUnavailableError) as unavailable:
            apply_environment(objects, production(), "production", NS)
        assert f"the Kubernetes API server {cluster.url} did not list deployments.apps" in str(unavailable.value)
        assert "503" in str(unavailable.value)
    finally:
        stamina.set_testing(False)
        stamina.instrumentation.set_on_retry_hooks(None)
    objects.delete("networking.istio.io/v1", "VirtualService", NS, "fn-posts")  # to be applied again
    cluster.fail(
        403,
        method="PATCH",
        path="/virtualservices/fn-posts$",
        message='virtualservices is forbidden: User "ci" cannot patch',
    )
    with pytest.raises(AccessDeniedError) as denied:
        apply_environment(objects, production(), "production", NS)
    assert 'refused to patch virtualservices.networking.istio.io "fn-posts" in findly-now-production' in str(
        denied.value
    )
    assert "403 forbidden" in str(denied.value)


def test_an_invalid_object_is_refused_by_name_before_anything_changes(
    cluster: KubernetesStandIn, objects: KubernetesObjects
) -> None:
    apply_environment(objects, production(), "production", NS)
    broken = production()
    for item in broken:
        if object_key(item) == ("apps/v1", "Deployment", NS, "fn-matcher"):
            item["spec"]["replicass"] = 2
        if object_key(item) == ("v1", "Service", NS, "fn-posts"):
            item["metadata"]["labels"]["tier"] = "changed"
    with pytest.raises(BadInputError) as refused:
        apply_environment(objects, broken, "production", NS)
    assert 'patch deployments.apps "fn-matcher" in findly-now-production' in str(refused.value)
    assert "replicass" in str(refused.value)
    service = cluster.get("v1", "Service", NS, "fn-posts")
    assert service is not None
    assert "tier" not in service["metadata"]["labels"]  # the dry run stopped it: nothing was applied


def test_unreachable_api_server_is_exit_5(kubeconfig: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    document = yaml.safe_load(kubeconfig.read_text())
    document["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{port}"
    kubeconfig.write_text(yaml.safe_dump(document))
    code, failed, _ = cli(kubeconfig, tmp_path, "diff", "--env", "production", "--context", "stand-in")
    assert code == EXIT_DEPENDENCY
    assert f"the Kubernetes API server http://127.0.0.1:{port} did not" in failed["error"]["message"]


def test_an_object_whose_namespace_does_not_exist_is_refused_by_name(objects: KubernetesObjects) -> None:
    (deployment,) = [o for o in production() if object_key(o) == ("apps/v1", "Deployment", NS, "fn-posts")]
    with pytest.raises(BadInputError) as refused:
        objects.apply(deployment)
    message = str(refused.value)
    assert message.startswith('cannot patch deployments.apps "fn-posts" in findly-now-production: namespaces')
    assert "kubectl apply --server-side -k access/ENV" in message


# ---- waiting until the workloads are ready ----------------------------------------------------------------------


def test_apply_wait_succeeds_when_every_deployment_is_ready_and_names_the_one_that_is_not(
    cluster: KubernetesStandIn, kubeconfig: Path, tmp_path: Path
) -> None:
    apply = ("apply", "--env", "production", "--context", "stand-in", "--wait", "--timeout", "10")
    with cluster.controller():
        code, ready, stderr = cli(kubeconfig, tmp_path, *apply)
    assert (code, ready["ready"], ready["not_ready"]) == (0, True, {}), stderr
    with cluster.controller(failing={"fn-posts"}):
        code, failed, _ = cli(kubeconfig, tmp_path, *apply, "--version", "fn-posts=2.0.0")
    assert code == 4
    assert failed["not_ready"] == {
        "fn-posts": 'ProgressDeadlineExceeded: ReplicaSet "fn-posts" has timed out progressing.'
    }
    code, late, _ = cli(  # no controller at all: nothing becomes ready in time
        kubeconfig,
        tmp_path,
        "apply",
        "--env",
        "production",
        "--context",
        "stand-in",
        "--wait",
        "--timeout",
        "0.2",
        "--version",
        "fn-posts=3.0.0",
    )
    assert code == 4
    assert late["not_ready"]["fn-posts"].startswith("not ready within 0.2 seconds: the controller has not seen")


def test_waiting_resumes_a_dropped_watch_and_one_whose_version_expired(
    cluster: KubernetesStandIn, objects: KubernetesObjects
) -> None:
    import threading

    apply_environment(objects, production(), "production", NS)
    dropped = cluster.fail(method="GET", path="/deployments$", drop_watch_after=1)  # breaks after one event
    expired = cluster.fail(410, method="GET", path="/deployments$")  # the next is told its version is too old

    def meanwhile() -> None:
        cluster.apply(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": "fn-posts",
                    "namespace": NS,
                    "annotations": {"note": "a change another manager made"},
                },
            },
            manager="someone",
        )
        for _ in range(500):  # once the watch has broken off and been told its version expired, the controller
            if expired.times == 0 and len([a for a in cluster.audit if a.verb == "watch"]) >= 2:
                break
            threading.Event().wait(0.01)
        cluster.mark_ready(NS, "fn-posts")

    helper = threading.Timer(0.2, meanwhile)
    helper.start()
    readiness = objects.wait_ready(NS, "fn-posts", timeout=10)
    helper.join()
    assert readiness.ready, readiness.reason
    assert (dropped.times, expired.times) == (0, 0)  # it went through both, and carried on
    watches = [a for a in cluster.audit if a.verb == "watch"]  # a faulted request never reaches the audit
    assert len(watches) == 2  # the one that broke off, and the one that saw it ready


# ---- the real server's odd answers ----------------------------------------------------------------------------------


def _virtual_service_crd_without_route_names() -> dict[str, Any]:
    """Istio's VirtualService CRD as a cluster might hold an older one: ``http[].name`` not declared."""
    import copy

    from findly_infra.testing.kubernetes.crds import CUSTOM_RESOURCE_DEFINITIONS

    (definition,) = [d for d in CUSTOM_RESOURCE_DEFINITIONS if d["spec"]["names"]["kind"] == "VirtualService"]
    older = copy.deepcopy(definition)
    spec = older["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    del spec["properties"]["http"]["items"]["properties"]["name"]
    return older


@pytest.mark.parametrize("dry_run", [True, False])
def test_an_apply_the_server_answers_500_for_an_undeclared_field_is_bad_input_naming_it(
    tmp_path: Path, dry_run: bool
) -> None:
    """kubernetes/kubernetes#122480: kube-apiserver answers a server-side apply carrying a field its schema does not
    declare with HTTP 500 ``failed to create typed patch object``. The same body fails the same way every time: it is
    refused once (not retried five times into exit 5), as bad input naming the object and the field, nothing
    changed."""
    with KubernetesStandIn(crds=[_virtual_service_crd_without_route_names()]) as older:
        older.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}, manager="administrator")
        config = tmp_path / "kubeconfig"
        config.write_text(yaml.safe_dump(older.kubeconfig()))
        args = ("apply", "--env", "production", "--context", "stand-in", *(("--dry-run",) if dry_run else ()))
        code, refused, _ = cli(config, tmp_path, *args)
        assert code == EXIT_BAD_INPUT
        message = refused["error"]["message"]
        assert 'the cluster refused to patch virtualservices.networking.istio.io "' in message
        assert f"in {NS}: spec.http[0].name: field not declared in schema" in message
        assert message.endswith("nothing was changed")
        patches = [a for a in older.audit if a.verb == "patch" and a.resource == "virtualservices"]
        assert len(patches) == 1  # answered once, not retried
        assert older.objects("apps/v1", "Deployment", NS) == []


def test_a_built_in_kind_with_an_undeclared_field_is_named_by_its_path(
    cluster: KubernetesStandIn, objects: KubernetesObjects
) -> None:
    cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}, manager="administrator")
    (deployment,) = [o for o in production() if object_key(o) == ("apps/v1", "Deployment", NS, "fn-posts")]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(BadInputError) as refused:
        objects.apply(deployment, dry_run=True)
    assert str(refused.value).startswith(
        f'the cluster refused to patch deployments.apps "fn-posts" in {NS}: '
        'spec.template.spec.containers[name="fn-posts"].readinessProbes: field not declared in schema'
    )
    assert len([a for a in cluster.audit if a.verb == "patch"]) == 1


def test_every_environments_objects_hold_to_istios_published_crd_rules(
    cluster: KubernetesStandIn, objects: KubernetesObjects
) -> None:
    """What render writes for each environment — its VirtualServices, DestinationRules, PeerAuthentication and
    AuthorizationPolicies among the rest — passes the schemas and CEL rules of Istio's published CRDs (and the
    Service and label rules) as a real cluster would judge them."""
    for environment in ("development", "staging", "production"):
        rendered = for_apply(environment_objects(PLATFORM, environment), environment)
        namespace = PLATFORM.kubernetes.namespace_for(environment)
        report = apply_environment(objects, rendered, environment, namespace)
        assert report.counts["create"] == len(rendered)
    kinds = {kind for kind in ("VirtualService", "DestinationRule") if cluster.objects("networking.istio.io/v1", kind)}
    assert kinds == {"VirtualService", "DestinationRule"}
    assert cluster.objects("security.istio.io/v1", "AuthorizationPolicy")


def test_a_conflicts_field_is_named_as_diff_names_it() -> None:
    """The paths a conflict names (structured-merge-diff's ``fieldpath.Path.String``: keyed items by their keys, a
    set's items by value, an atomic list's by index) become the paths ``diff`` lists: the owner lands on the field."""
    from findly_infra.application.cluster_apply import _as_path

    live = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "sidecar", "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                        {
                            "name": "app",
                            "ports": [
                                {"containerPort": 8080, "protocol": "UDP"},
                                {"containerPort": 8080, "protocol": "TCP"},
                            ],
                        },
                    ]
                }
            }
        },
        "metadata": {"finalizers": ["a", "b"]},
    }
    assert (
        _as_path('.spec.template.spec.containers[name="app"].image', live) == "spec.template.spec.containers[1].image"
    )
    assert (
        _as_path('.spec.template.spec.containers[name="app"].ports[containerPort=8080,protocol="TCP"].name', live)
        == "spec.template.spec.containers[1].ports[1].name"
    )
    assert _as_path('.metadata.finalizers[="b"]', live) == "metadata.finalizers[1]"
    assert _as_path(".spec.template.spec.containers[0].name", live) == "spec.template.spec.containers[0].name"
    missing = '.spec.template.spec.containers[name="gone"].image'
    assert _as_path(missing, live) == missing  # as the server names it, where the live object has no such item


def test_a_context_the_kubeconfig_does_not_have_is_bad_input_naming_the_binding_and_its_line(
    kubeconfig: Path, tmp_path: Path
) -> None:
    """Issue 22: a binding to a context that is not in the kubeconfig read like a network failure ("cannot reach a
    cluster … Invalid kube-config file. Expected object with name nope …") and named no place."""
    lines = EXAMPLE.read_text().splitlines()
    at = next(number for number, line in enumerate(lines) if line.startswith("  kubernetes_version:"))
    lines.insert(at + 1, "  clusters:")
    lines.insert(at + 2, "    production: {context: nope}")
    platform = tmp_path / "findly.yaml"
    platform.write_text("\n".join(lines) + "\n")
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "FINDLY_CONFIG": str(platform),
        "FINDLY_STATE": str(tmp_path / "state.sqlite3"),
        "GITHUB_ACTIONS": "",
    }

    def run(*args: str) -> tuple[int, str]:
        result = subprocess.run(
            [sys.executable, "-m", "findly_infra", "--json", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        return result.returncode, json.loads(result.stdout)["error"]["message"]

    expected = (
        f"kubernetes.clusters.production.context (line {at + 3}): no context 'nope' in KUBECONFIG {kubeconfig} "
        "(its contexts: stand-in)"
    )
    for command in (("diff", "--env", "production"), ("apply", "--env", "production")):
        code, message = run(*command)
        assert code == EXIT_BAD_INPUT
        assert message == expected
    code, message = run("status", "fn-posts")
    assert code == EXIT_BAD_INPUT
    assert expected in message
    code, message = run("diff", "--env", "production", "--context", "nada")
    assert code == EXIT_BAD_INPUT
    assert message == (
        f"--context nada (or FINDLY_KUBE_CONTEXT), for production: no context 'nada' in KUBECONFIG {kubeconfig} "
        "(its contexts: stand-in)"
    )
    env["KUBECONFIG"] = str(tmp_path / "absent")
    code, message = run("diff", "--env", "production", "--context", "stand-in")
    assert code == EXIT_BAD_INPUT
    assert message.startswith("--context stand-in (or FINDLY_KUBE_CONTEXT), for production: no kubeconfig can be read")
