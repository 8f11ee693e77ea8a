"""Issue 27, the adversarial review of GKE cluster creation against the real service (reviews/i27-google.md): each
finding of the GKE adapter, against the stand-in. The failover's findings (a killed create resumed, the DR lease
renewed while GKE works) are in ``tests/recovery/test_dr_gke_review.py``."""

from __future__ import annotations

import attrs
import grpc
import pytest

from findly_infra.adapters.gke import GkeApplyRefusedError, GkeClusters, connect_gke
from findly_infra.domain.gke import plan_cluster
from findly_infra.testing.gke import GkeStandIn
from tests.gke.conftest import CLUSTER, LOCATION, PROJECT
from tests.gke.test_create import DESIRED


class Killed(BaseException):
    """The process died here."""


def _clusters(gke: GkeStandIn, **options: object) -> GkeClusters:
    settings: dict[str, object] = {"poll_interval": 0, "sleep": lambda _: None, **options}
    return connect_gke(PROJECT, channel=grpc.insecure_channel(gke.address), **settings)


def _die(_: float) -> None:
    raise Killed


def test_an_empty_plan_on_a_cluster_still_provisioning_waits_until_it_runs() -> None:
    """Finding 1: a create killed in its wait leaves the cluster PROVISIONING, its pools listed as the file says — the
    next plan is empty, and `cluster apply` said "nothing to change" (exit 0) on a cluster not up."""
    with GkeStandIn(polls=5) as gke:
        _resumed(gke)


def _resumed(gke: GkeStandIn) -> None:
    with pytest.raises(Killed):
        _clusters(gke, sleep=_die).apply(plan_cluster(DESIRED, None))
    assert gke.cluster(PROJECT, LOCATION, CLUSTER).status.name == "PROVISIONING"
    clusters = _clusters(gke)
    plan = plan_cluster(DESIRED, clusters.observe(LOCATION, CLUSTER))
    assert plan.empty  # the pools are there: the plan alone cannot tell
    report = clusters.apply(plan)
    assert report.done == (f"cluster {CLUSTER}: was PROVISIONING, waited until RUNNING",)
    assert gke.cluster(PROJECT, LOCATION, CLUSTER).status.name == "RUNNING"
    assert clusters.apply(plan).done == ()  # running: nothing to wait for


def test_a_quota_refusal_says_quota_and_where_to_ask_not_grant_a_role(gke: GkeStandIn) -> None:
    """Finding 11: GKE answers a create short of quota with 403 PERMISSION_DENIED (googlecodelabs/feedback#950,
    GoogleCloudPlatform/cloud-ops-sandbox#44); it was told as a missing IAM role."""
    gke.fail(
        "CreateCluster",
        grpc.StatusCode.PERMISSION_DENIED,
        "Insufficient regional quota to satisfy request: resource \"CPUS\": request requires '12.0' and is short "
        "'4.0'. project has a quota of '8.0' with '8.0' available.",
    )
    with pytest.raises(GkeApplyRefusedError) as refused:
        _clusters(gke).apply(plan_cluster(DESIRED, None))
    said = str(refused.value)
    assert "a quota, not a permission: the CPUS quota" in said
    assert "https://console.cloud.google.com/iam-admin/quotas" in said
    assert "grant the role" not in said


def test_a_permission_refusal_still_says_grant_the_role(gke: GkeStandIn) -> None:
    gke.fail("CreateCluster", grpc.StatusCode.PERMISSION_DENIED, "Required 'container.clusters.create' permission")
    with pytest.raises(GkeApplyRefusedError, match="grant the role"):
        _clusters(gke).apply(plan_cluster(DESIRED, None))


def test_a_pool_not_autoscaled_is_created_with_autoscaling_off_alone_and_then_shows_no_drift(gke: GkeStandIn) -> None:
    """Finding 12: Terraform sends {enabled: false} alone (resource_container_node_pool.go); bounds were sent beside
    it, and what GKE keeps of them then is not published."""
    fixed = attrs.evolve(DESIRED, pools=tuple(attrs.evolve(pool, autoscaling=False) for pool in DESIRED.pools))
    clusters = _clusters(gke)
    clusters.apply(plan_cluster(fixed, None))
    for pool in gke.cluster(PROJECT, LOCATION, CLUSTER).node_pools:
        scaling = pool.autoscaling
        assert (scaling.enabled, scaling.min_node_count, scaling.max_node_count) == (False, 0, 0)
    assert plan_cluster(fixed, clusters.observe(LOCATION, CLUSTER), delete_pools=True).empty  # no bounds drift
