"""Issue 27, the adversarial review of GKE cluster creation against the real service (reviews/i27-google.md): each
finding of the GKE adapter, against the stand-in. The failover's findings (a killed create resumed, the DR lease
renewed while GKE works) are in ``tests/recovery/test_dr_gke_review.py``."""

from __future__ import annotations

import attrs
import grpc
import pytest
from google.cloud import container_v1 as gke_types

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


# ---- finding 7: the DR copy at the primary's version and release channel --------------------------------------------

PRIMARY_VERSION = "1.29.8-gke.1031000"


def _dr_created(gke: GkeStandIn) -> tuple[object, str]:
    from findly_infra.application.recovery import dr_version, read_primary
    from findly_infra.domain.gke import dr_cluster_spec
    from tests.gke.test_create import DR, FAILOVER, PLATFORM

    assert PLATFORM.gke_cluster is not None
    clusters = _clusters(gke)
    primary, why = read_primary(clusters, PLATFORM, PROJECT)
    desired = dr_cluster_spec(
        PLATFORM.gke_cluster, PLATFORM.cluster_autoscaler, FAILOVER, "us-east1", project=PROJECT, primary=primary
    )
    plan = plan_cluster(desired, None)
    clusters.apply(plan)
    return gke.cluster(PROJECT, "us-east1", DR.name), plan.describe() + "\n" + dr_version(desired, why)


def test_the_dr_copy_is_created_at_the_primarys_version_and_channel_not_regulars_default(gke: GkeStandIn) -> None:
    """Created without either, GKE enrolls a cluster "in the REGULAR channel with its default version"
    (Cluster.release_channel, cluster_service.proto): a primary on STABLE at 1.29 got a DR copy at 1.31 on REGULAR."""
    held = gke.add_cluster(PROJECT, LOCATION, CLUSTER, master_version=PRIMARY_VERSION)
    held.release_channel = gke_types.ReleaseChannel(channel=gke_types.ReleaseChannel.Channel.STABLE)
    gke.offer_versions(PROJECT, "us-east1", (PRIMARY_VERSION, "1.31.1-gke.1146000"), default="1.31.1-gke.1146000")
    dr, said = _dr_created(gke)
    assert dr.current_master_version == PRIMARY_VERSION  # type: ignore[attr-defined]
    assert dr.release_channel.channel.name == "STABLE"  # type: ignore[attr-defined]
    assert f"control plane at {PRIMARY_VERSION} in the STABLE release channel" in said
    assert f"the primary's {PRIMARY_VERSION}, in its STABLE release channel" in said


def test_a_primary_version_the_dr_region_no_longer_offers_is_asked_by_its_minor(gke: GkeStandIn) -> None:
    gke.add_cluster(PROJECT, LOCATION, CLUSTER, master_version=PRIMARY_VERSION)
    gke.offer_versions(PROJECT, "us-east1", ("1.29.9-gke.1000", "1.31.1-gke.1146000"), default="1.31.1-gke.1146000")
    dr, _ = _dr_created(gke)
    assert dr.current_master_version == "1.29.9-gke.1000"  # type: ignore[attr-defined]


def test_with_the_primary_unreadable_the_dr_copy_gets_regulars_default_and_the_plan_says_why(gke: GkeStandIn) -> None:
    gke.fail("GetCluster", grpc.StatusCode.UNAVAILABLE, "the region is down", times=5)  # the primary's reads
    gke.offer_versions(PROJECT, "us-east1", ("1.31.1-gke.1146000",), default="1.31.1-gke.1146000")
    dr, said = _dr_created(gke)
    assert dr.release_channel.channel.name == "REGULAR"  # type: ignore[attr-defined]
    assert "the REGULAR release channel's default version — since the primary cluster could not be read" in said
