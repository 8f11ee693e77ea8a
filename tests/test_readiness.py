"""A Deployment's readiness from its status (``domain.cluster.deployment_readiness``), as ``kubectl rollout status``
judges it: property-tested over statuses, and checked on what the stand-in's controller writes."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.cluster import deployment_readiness

counts = st.integers(0, 6)


@st.composite
def deployments(draw: st.DrawFn) -> dict[str, Any]:
    desired, generation = draw(counts), draw(st.integers(1, 5))
    status: dict[str, Any] = {
        "observedGeneration": draw(st.integers(0, generation)),
        "replicas": draw(counts),
        "updatedReplicas": draw(counts),
        "availableReplicas": draw(counts),
    }
    progressing = draw(st.sampled_from([None, "True", "False"]))
    if progressing is not None:
        reason = "ProgressDeadlineExceeded" if progressing == "False" else "ReplicaSetUpdated"
        status["conditions"] = [{"type": "Progressing", "status": progressing, "reason": reason, "message": "m"}]
    return {"metadata": {"generation": generation}, "spec": {"replicas": desired}, "status": status}


@given(deployments())
def test_a_stalled_rollout_is_a_failure_with_the_clusters_reason_never_ready(deployment: dict[str, Any]) -> None:
    readiness = deployment_readiness(deployment)
    observed = deployment["status"]["observedGeneration"] >= deployment["metadata"]["generation"]
    stalled = observed and any(c["status"] == "False" for c in deployment["status"].get("conditions", []))
    assert readiness.failed == stalled  # a stale condition (of an older generation) is no verdict yet
    if stalled:
        assert not readiness.ready
        assert readiness.reason == "ProgressDeadlineExceeded: m"
    assert not (readiness.ready and readiness.failed)
    assert readiness.ready or readiness.reason  # not ready always says why


@given(deployments())
def test_ready_means_the_current_spec_serves_with_every_replica(deployment: dict[str, Any]) -> None:
    readiness = deployment_readiness(deployment)
    if readiness.ready:
        status, desired = deployment["status"], deployment["spec"]["replicas"]
        assert status["observedGeneration"] >= deployment["metadata"]["generation"]
        assert status["availableReplicas"] >= desired
        assert status["replicas"] <= status["updatedReplicas"]


@given(deployments(), st.integers(1, 3))
def test_a_new_generation_is_not_ready_until_the_controller_sees_it(deployment: dict[str, Any], bump: int) -> None:
    deployment["metadata"]["generation"] = deployment["status"]["observedGeneration"] + bump
    readiness = deployment_readiness(deployment)
    assert not readiness.ready
    assert not readiness.failed  # even past a deadline: that was the older spec's


def test_what_the_stand_ins_controller_writes_reads_as_it_means() -> None:
    import pytest

    pytest.importorskip("kubernetes")
    from findly_infra.testing.kubernetes import KubernetesStandIn

    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "fn-posts", "namespace": "ns"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "fn-posts"}},
            "template": {
                "metadata": {"labels": {"app": "fn-posts"}},
                "spec": {"containers": [{"name": "app", "image": "x:1"}]},
            },
        },
    }
    with KubernetesStandIn() as cluster:
        cluster.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}, manager="admin")
        assert not deployment_readiness(cluster.apply(body)).ready  # nothing observed yet
        assert deployment_readiness(cluster.mark_ready("ns", "fn-posts")).ready
        body["spec"]["template"]["spec"]["containers"][0]["image"] = "x:2"
        assert not deployment_readiness(cluster.apply(body)).ready  # a new generation, not yet observed
        failed = deployment_readiness(cluster.mark_failed("ns", "fn-posts", unavailable=2))
        assert (failed.ready, failed.failed) == (False, True)
        assert failed.reason.startswith("ProgressDeadlineExceeded: ")
