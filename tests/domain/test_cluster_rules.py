"""The rules of ``domain.cluster``, pinned: a kind's group and qualified name as the API server spells them
(``deployments.apps``; the core group has none), an object's identity in a cluster, and a Deployment's readiness as
``kubectl rollout status`` judges it (kubernetes/kubectl ``pkg/polymorphichelpers/rollout_status.go``:
observedGeneration first, then a ``Progressing`` condition with reason ``ProgressDeadlineExceeded``, then updated,
old and available replicas, in that order)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.cluster import PRUNABLE, Readiness, RenderedKind, deployment_readiness, object_key


def test_a_kind_is_named_as_the_api_server_names_its_resource() -> None:
    assert RenderedKind("apps/v1", "Deployment", "deployments").group == "apps"
    assert RenderedKind("apps/v1", "Deployment", "deployments").qualified == "deployments.apps"
    assert RenderedKind("networking.istio.io/v1", "VirtualService", "virtualservices").group == "networking.istio.io"
    assert RenderedKind("v1", "Service", "services").group == ""
    assert RenderedKind("v1", "Service", "services").qualified == "services"
    assert RenderedKind("v1", "Namespace", "namespaces", namespaced=False).namespaced is False
    assert RenderedKind("v1", "Service", "services").namespaced is True
    qualified = {kind.kind: kind.qualified for kind in PRUNABLE}
    assert qualified["HorizontalPodAutoscaler"] == "horizontalpodautoscalers.autoscaling"
    assert qualified["ServiceAccount"] == "serviceaccounts"


def test_an_object_is_known_by_api_version_kind_namespace_and_name() -> None:
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": "prod", "name": "fn-posts"}}
    assert object_key(manifest) == ("apps/v1", "Deployment", "prod", "fn-posts")
    assert object_key({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}) == (
        "v1",
        "Namespace",
        "",
        "prod",
    )
    assert object_key({}) == ("", "", "", "")
    assert object_key({"metadata": None}) == ("", "", "", "")


def deployment(
    *,
    replicas: int | None = 3,
    generation: int | None = 2,
    observed: int | None = 2,
    updated: int | None = 3,
    available: int | None = 3,
    total: int | None = 3,
    conditions: list[Any] | None = None,
) -> dict[str, Any]:
    spec = {} if replicas is None else {"replicas": replicas}
    metadata = {} if generation is None else {"generation": generation}
    status: dict[str, Any] = {}
    for key, value in (
        ("observedGeneration", observed),
        ("updatedReplicas", updated),
        ("availableReplicas", available),
        ("replicas", total),
    ):
        if value is not None:
            status[key] = value
    if conditions is not None:
        status["conditions"] = conditions
    return {"metadata": metadata, "spec": spec, "status": status}


def test_a_deployment_is_ready_when_every_desired_replica_is_updated_and_available() -> None:
    assert deployment_readiness(deployment()) == Readiness(True)
    assert deployment_readiness(deployment()) == Readiness(True, False, "")


def test_a_status_of_an_older_generation_says_nothing_of_the_current_spec() -> None:
    stale = deployment(generation=3, observed=2)
    assert deployment_readiness(stale) == Readiness(False, reason="the controller has not seen generation 3 yet")
    # a failed condition of the older generation is not this spec's failure
    failed = [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]
    assert deployment_readiness(deployment(generation=3, observed=2, conditions=failed)).failed is False
    # no generation and no observedGeneration: nothing says the status is stale
    assert deployment_readiness(deployment(generation=None, observed=None)).ready is True
    # the controller ahead of the metadata read is not stale
    assert deployment_readiness(deployment(generation=2, observed=3)).ready is True


def test_a_progress_deadline_exceeded_is_a_failure_with_the_clusters_reason_and_message() -> None:
    condition = {
        "type": "Progressing",
        "status": "False",
        "reason": "ProgressDeadlineExceeded",
        "message": 'ReplicaSet "fn-posts-5d" has timed out progressing.',
    }
    assert deployment_readiness(deployment(updated=1, conditions=[condition])) == Readiness(
        False, True, 'ProgressDeadlineExceeded: ReplicaSet "fn-posts-5d" has timed out progressing.'
    )
    bare = {"type": "Progressing", "status": "False"}
    assert deployment_readiness(deployment(conditions=[bare])) == Readiness(False, True, "not progressing")
    reason_only = {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": ""}
    assert deployment_readiness(deployment(conditions=[reason_only])) == Readiness(
        False, True, "ProgressDeadlineExceeded"
    )
    # Progressing=True, another condition False, or a condition that is not a mapping: not a failure
    fine = [
        {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
        {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"},
        "garbage",
    ]
    assert deployment_readiness(deployment(conditions=fine)) == Readiness(True)
    assert deployment_readiness(deployment(conditions=["garbage", bare])).failed is True


def test_replicas_are_judged_updated_then_old_then_available() -> None:
    assert deployment_readiness(deployment(updated=1, total=4, available=1)) == Readiness(
        False, reason="1 of 3 replicas updated"
    )
    assert deployment_readiness(deployment(updated=3, total=4, available=3)) == Readiness(
        False, reason="1 old replicas pending termination"
    )
    assert deployment_readiness(deployment(updated=3, total=3, available=2)) == Readiness(
        False, reason="2 of 3 updated replicas available"
    )
    # spec.replicas defaults to 1 (the API's default); status counts default to 0
    assert deployment_readiness(deployment(replicas=None, updated=1, total=1, available=1)).ready is True
    assert deployment_readiness(deployment(replicas=None, updated=None, total=None, available=None)) == Readiness(
        False, reason="0 of 1 replicas updated"
    )
    assert deployment_readiness({"status": {"updatedReplicas": 1, "availableReplicas": 1, "replicas": 1}}).ready
    # a count the status leaves out is zero: no observedGeneration is not yet generation 1, no availableReplicas
    # is none available, no replicas is no old replica left
    assert deployment_readiness(deployment(generation=1, observed=None)).ready is False
    assert deployment_readiness(deployment(available=None)) == Readiness(
        False, reason="0 of 3 updated replicas available"
    )
    assert deployment_readiness(deployment(replicas=0, updated=0, total=None, available=0)).ready is True
    # scaled to zero: nothing to wait for
    assert deployment_readiness(deployment(replicas=0, updated=0, total=0, available=0)).ready is True


@given(
    desired=st.integers(0, 6),
    updated=st.integers(0, 8),
    old=st.integers(0, 3),
    available=st.integers(0, 8),
    generation=st.integers(0, 3),
    lag=st.integers(0, 2),
)
def test_readiness_is_kubectl_rollout_status(
    *, desired: int, updated: int, old: int, available: int, generation: int, lag: int
) -> None:
    status = deployment(
        replicas=desired,
        generation=generation,
        observed=generation - lag,
        updated=updated,
        total=updated + old,
        available=available,
    )
    readiness = deployment_readiness(status)
    expected = lag == 0 and updated >= desired and old == 0 and available >= updated
    assert readiness.ready is expected
    assert readiness.failed is False
    assert (readiness.reason == "") is expected
