"""Issue 27: a cluster that does not exist. ``observe`` reads it as ``None`` (it was bad input, exit 2, so neither a
first cluster nor the DR region's could be built), and a plan that creates it is ONE ``create_cluster`` with its node
pools, its operation waited for, then the cluster read until ``RUNNING``.

The request is checked against GKE's documented shape (cluster_service.proto) through a recording client; the round
trip — created, read back, nothing left to plan — runs against the GKE stand-in, which learns CreateCluster from the
same documentation by other hands (until then those tests fail with UNIMPLEMENTED)."""

from __future__ import annotations

from typing import Any

import attrs
import grpc
import pytest
from google.cloud import container_v1 as gke_types

from findly_infra import load_platform
from findly_infra.adapters.gke import GkeApplyError, GkeClusters, connect_gke
from findly_infra.domain.gke import ClusterSpec, NodeAutoProvisioning, dr_cluster_spec, plan_cluster, workload_pool
from findly_infra.domain.recovery import DrCluster, FailoverSettings
from findly_infra.testing.gke import GkeStandIn
from tests.conftest import EXAMPLE
from tests.gke.conftest import CLUSTER, LOCATION, PROJECT

PLATFORM = load_platform(EXAMPLE)
assert PLATFORM.gke_cluster is not None
DESIRED = ClusterSpec.of(PLATFORM.gke_cluster, PLATFORM.cluster_autoscaler, project=PROJECT)
FAILOVER = FailoverSettings(
    context="gke_findly-now_us-east1_findly-production-dr",
    cluster=DrCluster(
        zones=(("us-central1-a", "us-east1-b"), ("us-central1-b", "us-east1-c"), ("us-central1-c", "us-east1-d"))
    ),
)
DR = dr_cluster_spec(PLATFORM.gke_cluster, PLATFORM.cluster_autoscaler, FAILOVER, "us-east1", project=PROJECT)
EVERYTHING = attrs.evolve(
    DESIRED, auto_provisioning=NodeAutoProvisioning(200, 800), workload_pool=workload_pool(PROJECT)
)
EVERYTHING = attrs.evolve(
    EVERYTHING, pools=tuple(attrs.evolve(pool, workload_metadata="GKE_METADATA") for pool in EVERYTHING.pools)
)


def _clusters(gke: GkeStandIn) -> GkeClusters:
    return connect_gke(PROJECT, channel=grpc.insecure_channel(gke.address), poll_interval=0, sleep=lambda _: None)


# ---- against the stand-in as it is: a cluster that does not exist --------------------------------------------------


def test_a_cluster_that_does_not_exist_is_read_as_none_and_planned_as_a_create(gke: GkeStandIn) -> None:
    """It was a BadInputError ("GKE has no …", exit 2): a missing cluster could not be planned at all."""
    clusters = _clusters(gke)
    assert clusters.observe(LOCATION, CLUSTER) is None
    assert [method for method, _ in gke.calls] == ["GetCluster"]
    plan = plan_cluster(DESIRED, None)
    assert plan.creates == DESIRED
    assert not plan.empty


def test_a_project_that_may_not_be_read_is_still_a_configuration_problem(gke: GkeStandIn) -> None:
    from findly_infra.application.ports import BadInputError

    gke.fail("GetCluster", grpc.StatusCode.PERMISSION_DENIED, "Required 'container.clusters.get' permission")
    with pytest.raises(BadInputError, match=r"container\.clusters\.get"):
        _clusters(gke).observe(LOCATION, CLUSTER)


# ---- the request, as GKE documents it -------------------------------------------------------------------------------


@attrs.define
class _Recording:
    """A ``ClusterManagerClient`` that records what it is asked and answers as GKE does: ``create_cluster`` an
    operation with a short name, ``get_operation`` it done, ``get_cluster`` the statuses given, in turn."""

    statuses: list[Any]
    status_message: str = ""
    operation_error: str = ""
    done_at_once: bool = False
    requests: list[Any] = attrs.field(factory=list)
    polled: list[str] = attrs.field(factory=list)

    def create_cluster(self, *, request: Any, **_: Any) -> Any:
        self.requests.append(request)
        status = gke_types.Operation.Status.DONE if self.done_at_once else gke_types.Operation.Status.RUNNING
        return gke_types.Operation(name="operation-1", status=status)

    def get_operation(self, *, name: str, **_: Any) -> Any:
        self.polled.append(name)
        operation = gke_types.Operation(name="operation-1", status=gke_types.Operation.Status.DONE)
        if self.operation_error:
            operation.error = {"code": 8, "message": self.operation_error}
        return operation

    def get_cluster(self, *, name: str, **_: Any) -> Any:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return gke_types.Cluster(name=name.rsplit("/", 1)[-1], status=status, status_message=self.status_message)


def _recorded(spec: ClusterSpec, *statuses: Any, **options: Any) -> tuple[_Recording, Any]:
    client = _Recording(list(statuses) or [gke_types.Cluster.Status.RUNNING], **options)
    report = GkeClusters(client, PROJECT, poll_interval=0, sleep=lambda _: None).apply(plan_cluster(spec, None))
    return client, report


def test_a_create_is_one_create_cluster_with_every_pool_as_create_node_pool_makes_it() -> None:
    from findly_infra.adapters.gke import _new_pool

    client, report = _recorded(DESIRED)
    (request,) = client.requests
    assert request.parent == f"projects/{PROJECT}/locations/{LOCATION}"  # resource names, never project_id/zone
    assert (request.project_id, request.zone) == ("", "")
    cluster = request.cluster
    assert cluster.name == CLUSTER
    assert list(cluster.node_pools) == [_new_pool(pool, gke_types) for pool in DESIRED.pools]
    application = cluster.node_pools[0]
    assert list(application.locations) == ["us-central1-a", "us-central1-b", "us-central1-c"]
    assert application.initial_node_count == 3  # per zone: the pool's minimum
    assert (application.autoscaling.min_node_count, application.autoscaling.max_node_count) == (3, 10)
    assert list(cluster.locations) == ["us-central1-a", "us-central1-b", "us-central1-c"]  # every pool's zone
    # no default pool, no deprecated fields, no version or channel: GKE's default
    assert (cluster.initial_node_count, "node_config" in cluster) == (0, False)
    assert (cluster.initial_cluster_version, "release_channel" in cluster) == ("", False)
    assert "workload_identity_config" not in cluster  # the file says nothing: GKE's default (off)
    assert "autoscaling" not in cluster
    assert client.polled == [f"projects/{PROJECT}/locations/{LOCATION}/operations/operation-1"]  # by its full name
    assert report.done == (f"cluster {CLUSTER}: create (node pools application-pool, monitoring-pool), running",)


def test_a_create_carries_workload_identity_and_node_auto_provisioning_where_the_file_asks() -> None:
    client, _ = _recorded(EVERYTHING)
    cluster = client.requests[0].cluster
    assert cluster.workload_identity_config.workload_pool == f"{PROJECT}.svc.id.goog"
    assert {pool.config.workload_metadata_config.mode.name for pool in cluster.node_pools} == {"GKE_METADATA"}
    assert cluster.autoscaling.enable_node_autoprovisioning
    assert {(limit.resource_type, limit.maximum) for limit in cluster.autoscaling.resource_limits} == {
        ("cpu", 200),
        ("memory", 800),
    }  # GKE wants both when node auto-provisioning is on


def test_the_dr_cluster_is_created_in_the_dr_region_with_its_zones_mapped() -> None:
    client, _ = _recorded(DR)
    request = client.requests[0]
    assert request.parent == f"projects/{PROJECT}/locations/us-east1"
    assert request.cluster.name == f"{CLUSTER}-dr"
    assert list(request.cluster.locations) == ["us-east1-b", "us-east1-c", "us-east1-d"]
    assert [list(pool.locations) for pool in request.cluster.node_pools] == [
        ["us-east1-b", "us-east1-c", "us-east1-d"],
        ["us-east1-b", "us-east1-c"],
    ]
    assert client.polled == [f"projects/{PROJECT}/locations/us-east1/operations/operation-1"]


def test_a_zonal_clusters_locations_include_its_own_zone() -> None:
    """Terraform's container_cluster create: "GKE requires a full list of node locations", the cluster's zone in it."""
    zonal = attrs.evolve(
        DESIRED,
        location="us-central1-f",
        pools=tuple(attrs.evolve(pool, zones=("us-central1-a",)) for pool in DESIRED.pools),
    )
    client, _ = _recorded(zonal)
    assert list(client.requests[0].cluster.locations) == ["us-central1-a", "us-central1-f"]


def test_the_cluster_is_waited_for_until_it_runs() -> None:
    status = gke_types.Cluster.Status
    client, report = _recorded(DESIRED, status.PROVISIONING, status.RECONCILING, status.RUNNING)
    assert client.statuses == [status.RUNNING]  # read until RUNNING
    assert report.done


@pytest.mark.parametrize("status", ["ERROR", "DEGRADED"])
def test_a_cluster_that_ends_other_than_running_fails_with_gkes_message(status: str) -> None:
    with pytest.raises(GkeApplyError, match=rf"is {status}: Insufficient regional quota") as failed:
        _recorded(
            DESIRED,
            gke_types.Cluster.Status.PROVISIONING,
            gke_types.Cluster.Status[status],
            status_message="Insufficient regional quota to satisfy request: resource CPUS",
        )
    assert (failed.value.done, failed.value.not_done) == ((), (f"cluster {CLUSTER}: create",))
    assert "plan again" in str(failed.value)


def test_a_cluster_stopping_is_waited_for_as_terraform_waits_and_its_end_said_plainly() -> None:
    """STOPPING is not a resting state (Terraform's containerClusterRestingStates: RUNNING, DEGRADED, ERROR): it is
    waited out, and a cluster gone at its end is said so — plan again, it will be created (it ended the wait with
    "is STOPPING" before)."""

    @attrs.define
    class Deleted(_Recording):
        def get_cluster(self, *, name: str, **_: Any) -> Any:
            from google.api_core import exceptions

            if not self.statuses:  # the delete done: GKE answers NOT_FOUND
                raise exceptions.NotFound(f"Not found: {name}.")
            return gke_types.Cluster(name=name.rsplit("/", 1)[-1], status=self.statuses.pop(0))

    stopping = gke_types.Cluster.Status.STOPPING
    client = Deleted([gke_types.Cluster.Status.PROVISIONING, stopping, stopping])
    clusters = GkeClusters(client, PROJECT, poll_interval=0, sleep=lambda _: None)
    with pytest.raises(GkeApplyError, match=r"is gone .*plan again, and it will be created"):
        clusters.apply(plan_cluster(DESIRED, None))
    assert client.statuses == []  # every STOPPING read waited out


def test_an_operation_that_ends_in_error_says_nothing_was_done() -> None:
    with pytest.raises(GkeApplyError, match="ended in error: Insufficient regional quota") as failed:
        _recorded(DESIRED, operation_error="Insufficient regional quota to satisfy request: resource CPUS")
    assert failed.value.not_done == (f"cluster {CLUSTER}: create",)


def test_the_wait_for_running_is_bounded_by_the_operation_timeout() -> None:
    for done_at_once, still in ((False, "operation operation-1 still running"), (True, "still PROVISIONING")):
        client = _Recording([gke_types.Cluster.Status.PROVISIONING], done_at_once=done_at_once)
        clusters = GkeClusters(client, PROJECT, poll_interval=0, sleep=lambda _: None, operation_timeout=-1)
        with pytest.raises(GkeApplyError, match=f"{still} after the timeout"):
            clusters.apply(plan_cluster(DESIRED, None))


# ---- against the GKE stand-in (CreateCluster: taught by another hand, from the same documentation) -----------------


def test_a_cluster_created_is_read_back_as_the_file_says_and_nothing_is_left(gke: GkeStandIn) -> None:
    clusters = _clusters(gke)
    report = clusters.apply(plan_cluster(DESIRED, clusters.observe(LOCATION, CLUSTER)))
    assert report.done == (f"cluster {CLUSTER}: create (node pools application-pool, monitoring-pool), running",)
    assert [method for method, _ in gke.calls].count("CreateCluster") == 1
    after = clusters.observe(LOCATION, CLUSTER)
    assert after is not None
    assert plan_cluster(DESIRED, after, delete_pools=True).empty  # no default-pool, nothing left
    assert gke.cluster(PROJECT, LOCATION, CLUSTER).status == gke_types.Cluster.Status.RUNNING
    polled = [name for method, name in gke.calls if method == "GetOperation"]
    assert polled
    assert all(name.startswith(f"projects/{PROJECT}/locations/{LOCATION}/operations/") for name in polled)


def test_the_dr_cluster_and_one_with_every_setting_are_created_as_the_file_says(gke: GkeStandIn) -> None:
    clusters = _clusters(gke)
    for spec in (DR, attrs.evolve(EVERYTHING, name="findly-everything")):
        clusters.apply(plan_cluster(spec, None))
        after = clusters.observe(spec.location, spec.name)
        assert after is not None
        assert plan_cluster(spec, after, delete_pools=True).empty
    assert clusters.observe(LOCATION, CLUSTER) is None  # the primary is untouched: another cluster, another region


def test_a_create_whose_answer_was_lost_is_retried_and_its_already_exists_taken_for_the_cluster(
    gke: GkeStandIn,
) -> None:
    """Review finding 2: the create reached GKE, its answer was lost (DEADLINE_EXCEEDED), the retry got
    ALREADY_EXISTS — it was exit 2 "refused … done: nothing", a configuration problem. It is the cluster being created:
    waited for until RUNNING, and reported created, with ONE cluster made."""
    from findly_infra.adapters.gke import _new_pool

    request = gke_types.CreateClusterRequest(
        parent=f"projects/{PROJECT}/locations/{LOCATION}",
        cluster=gke_types.Cluster(
            name=CLUSTER,
            locations=sorted({zone for pool in DESIRED.pools for zone in pool.zones}),
            node_pools=[_new_pool(pool, gke_types) for pool in DESIRED.pools],
        ),
    )
    gke.interleave("CreateCluster", lambda: gke._create_cluster(request))  # the first attempt reaches GKE …
    gke.fail("CreateCluster", grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")  # … and its answer is lost
    report = _clusters(gke).apply(plan_cluster(DESIRED, None))
    assert "already held it" in report.done[0]
    assert gke.cluster(PROJECT, LOCATION, CLUSTER).status.name == "RUNNING"
    assert len(gke.operations()) == 1  # one create
    assert plan_cluster(DESIRED, _clusters(gke).observe(LOCATION, CLUSTER), delete_pools=True).empty


def test_a_create_that_finds_another_cluster_of_the_name_says_plan_again(gke: GkeStandIn) -> None:
    from findly_infra.application.ports import ConcurrencyError

    clusters = _clusters(gke)
    clusters.apply(plan_cluster(DESIRED, None))
    other = attrs.evolve(DESIRED, pools=DESIRED.pools[:1])
    with pytest.raises(ConcurrencyError, match=r"not as the file says .*plan again"):
        clusters.apply(plan_cluster(other, None))  # a stale plan: someone created it, otherwise, in between


def test_a_create_that_fails_leaves_a_cluster_in_error_which_the_next_plan_refuses(gke: GkeStandIn) -> None:
    """A failed create leaves the cluster in ERROR (GKE deletes it later): read back, it would have been planned as
    fine — its pools there — and the DR cluster taken for ready. It is refused, as Terraform's read refuses it."""
    from findly_infra.application.ports import DependencyUnavailableError

    clusters = _clusters(gke)
    gke.fail_operation("CreateCluster", "Insufficient regional quota to satisfy request: resource CPUS")
    with pytest.raises(GkeApplyError, match="Insufficient regional quota") as failed:
        clusters.apply(plan_cluster(DESIRED, None))
    assert failed.value.done == ()
    assert "gcloud container clusters delete findly-production --location us-central1" in str(failed.value)
    with pytest.raises(DependencyUnavailableError, match=r"is ERROR: .*Insufficient regional quota.*plan again"):
        clusters.observe(LOCATION, CLUSTER)
