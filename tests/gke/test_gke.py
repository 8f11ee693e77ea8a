"""``cluster plan``'s and ``cluster apply``'s adapter against the GKE stand-in, through the real client: a cluster read
back in the plan's terms, a plan carried out call by call (each operation polled by its full path), an operation that
fails half way (what was and was not done), and the fault matrix — a busy cluster, a permission refused, a server that
does not answer, a cluster that does not exist."""

from __future__ import annotations

import attrs
import grpc
import pytest
from google.cloud import container_v1 as gke_types

from findly_infra import load_platform
from findly_infra.adapters.gke import GkeApplyError, connect_gke
from findly_infra.application.ports import BadInputError, DependencyUnavailableError
from findly_infra.domain.gke import ClusterSpec, PoolAction, plan_cluster
from findly_infra.testing.gke import GkeStandIn
from tests.conftest import EXAMPLE
from tests.gke.conftest import CLUSTER, LOCATION, PROJECT

PLATFORM = load_platform(EXAMPLE)
assert PLATFORM.gke_cluster is not None
DESIRED = ClusterSpec.of(PLATFORM.gke_cluster, PLATFORM.cluster_autoscaler, project=PROJECT)


def _pool(name: str, machine: str = "e2-standard-4", low: int = 3, high: int = 10) -> gke_types.NodePool:
    return gke_types.NodePool(
        name=name,
        locations=["us-central1-a", "us-central1-b", "us-central1-c"],
        config=gke_types.NodeConfig(machine_type=machine, disk_size_gb=100, disk_type="pd-ssd"),
        autoscaling=gke_types.NodePoolAutoscaling(enabled=True, min_node_count=low, max_node_count=high),
    )


NODES = "1.29.8-gke.1031000"
"""The drifted cluster's nodes: a minor version behind its control plane (the stand-in's default, 1.30)."""


def _drifted(gke: GkeStandIn) -> None:
    """The seed's cluster, drifted: the application pool scaled to 8 by hand, no monitoring pool, a legacy pool; the
    nodes a version behind the control plane, as GKE's auto-upgrades often leave them."""
    pools = (_pool("application-pool", high=8), _pool("legacy-pool"))
    for pool in pools:
        pool.version = NODES
    gke.add_cluster(PROJECT, LOCATION, CLUSTER, node_pools=pools)


def _clusters(gke: GkeStandIn):  # type: ignore[no-untyped-def]
    return connect_gke(PROJECT, channel=grpc.insecure_channel(gke.address), poll_interval=0, sleep=lambda _: None)


def test_a_cluster_is_read_back_in_the_plans_terms_and_its_drift_planned(gke: GkeStandIn) -> None:
    _drifted(gke)
    observed = _clusters(gke).observe(LOCATION, CLUSTER)
    assert observed.pool("application-pool").max_nodes == 8  # type: ignore[union-attr]
    plan = plan_cluster(DESIRED, observed)
    assert [(change.pool, change.action) for change in plan.pools] == [
        ("application-pool", PoolAction.UPDATE),
        ("monitoring-pool", PoolAction.CREATE),
        ("legacy-pool", PoolAction.KEEP_UNLISTED),
    ]
    assert [(f.field, f.before, f.after, f.call) for f in plan.pools[0].fields] == [
        ("max_nodes", 8, 10, "set_node_pool_autoscaling")
    ]
    assert [method for method, _ in gke.calls] == ["GetCluster", "ListNodePools"]  # reading changes nothing


def test_a_plan_is_carried_out_call_by_call_and_then_nothing_is_left(gke: GkeStandIn) -> None:
    _drifted(gke)
    clusters = _clusters(gke)
    plan = plan_cluster(DESIRED, clusters.observe(LOCATION, CLUSTER), delete_pools=True)
    observed = clusters.observe(LOCATION, CLUSTER)
    report = clusters.apply(plan)
    assert report.done == (
        "node pool application-pool: max_nodes",
        "node pool monitoring-pool: create",
        "node pool legacy-pool: delete",
    )
    after = clusters.observe(LOCATION, CLUSTER)
    assert plan_cluster(DESIRED, after, delete_pools=True).empty
    created = after.pool("monitoring-pool")
    assert created is not None
    defaults = {"version": after.master_version, "image_type": "COS_CONTAINERD", "workload_metadata": "GCE_METADATA"}
    assert {name: getattr(created, name) for name in defaults} == defaults  # GKE's to choose, as the plan says
    expected = plan.apply_to(observed)
    assert after == attrs.evolve(
        expected,
        pools=tuple(attrs.evolve(p, **defaults) if p.name == created.name else p for p in expected.pools),
    )
    polled = [name for method, name in gke.calls if method == "GetOperation"]
    assert polled
    assert all(name.startswith(f"projects/{PROJECT}/locations/{LOCATION}/operations/") for name in polled)
    assert clusters.apply(plan_cluster(DESIRED, after, delete_pools=True)).done == ()  # nothing twice


def test_an_operation_that_fails_half_way_says_what_was_and_was_not_done(gke: GkeStandIn) -> None:
    _drifted(gke)
    clusters = _clusters(gke)
    plan = plan_cluster(DESIRED, clusters.observe(LOCATION, CLUSTER))
    gke.fail_operation("CreateNodePool", "Insufficient regional quota to satisfy request: resource CPUS")
    with pytest.raises(GkeApplyError, match="Insufficient regional quota") as failed:
        clusters.apply(plan)
    assert "node pool application-pool: max_nodes" in failed.value.done
    assert failed.value.not_done == ("node pool monitoring-pool: create",)
    after = clusters.observe(LOCATION, CLUSTER)
    assert after.pool("application-pool").max_nodes == 10  # type: ignore[union-attr]  # done stays done
    assert after.pool("monitoring-pool") is None
    again = plan_cluster(DESIRED, after)  # the next apply carries on with what is left
    assert [change.pool for change in again.actionable] == ["monitoring-pool"]


def test_a_busy_cluster_is_waited_out_and_a_server_that_never_answers_is_exit_5(gke: GkeStandIn) -> None:
    _drifted(gke)
    clusters = _clusters(gke)
    gke.fail("SetNodePoolAutoscaling", grpc.StatusCode.FAILED_PRECONDITION, "Cluster is running incompatible operation")
    gke.fail("GetOperation", grpc.StatusCode.UNAVAILABLE, "connection reset", times=2)
    plan = plan_cluster(DESIRED, clusters.observe(LOCATION, CLUSTER))
    clusters.apply(plan)  # retried through both
    gke.fail("GetCluster", grpc.StatusCode.UNAVAILABLE, "the service is down", times=50)
    with pytest.raises(DependencyUnavailableError, match=r"GKE did not get_cluster .*after 5 attempts"):
        clusters.observe(LOCATION, CLUSTER)


def test_a_permission_refused_is_a_configuration_problem_and_a_missing_cluster_none(gke: GkeStandIn) -> None:
    """A missing cluster was bad input too (exit 2) until issue 27: it is now planned as a create."""
    _drifted(gke)
    clusters = _clusters(gke)
    gke.fail(
        "GetCluster",
        grpc.StatusCode.PERMISSION_DENIED,
        f"Required 'container.clusters.get' permission for "
        f"'projects/{PROJECT}/locations/{LOCATION}/clusters/{CLUSTER}'.",
    )
    with pytest.raises(BadInputError, match=r"Required 'container.clusters.get' permission"):
        clusters.observe(LOCATION, CLUSTER)
    assert clusters.observe(LOCATION, "elsewhere") is None


def test_the_stand_in_reads_operations_only_by_their_full_path_and_runs_one_at_a_time(gke: GkeStandIn) -> None:
    from google.api_core import exceptions

    _drifted(gke)
    client = gke.client()
    name = f"projects/{PROJECT}/locations/{LOCATION}/clusters/{CLUSTER}/nodePools/application-pool"
    scaling = gke_types.NodePoolAutoscaling(enabled=True, min_node_count=1, max_node_count=2)
    operation = client.set_node_pool_autoscaling(
        request=gke_types.SetNodePoolAutoscalingRequest(name=name, autoscaling=scaling)
    )
    assert "/" not in operation.name  # GKE answers a short name
    with pytest.raises(exceptions.InvalidArgument):
        client.get_operation(name=operation.name)
    with pytest.raises(exceptions.FailedPrecondition, match="incompatible operation"):
        client.delete_node_pool(name=name)
    full = f"projects/{PROJECT}/locations/{LOCATION}/operations/{operation.name}"
    statuses = [client.get_operation(name=full).status for _ in range(3)]
    assert statuses[-1] == gke_types.Operation.Status.DONE
    assert gke.cluster(PROJECT, LOCATION, CLUSTER).node_pools[0].autoscaling.max_node_count == 2


def test_an_update_changes_only_what_the_plan_shows_not_the_nodes_version(gke: GkeStandIn) -> None:
    """Issue 22: ``update_node_pool`` was sent ``node_version="-"`` — the control plane's version — so changing a
    machine type also upgraded the nodes, which the plan never showed."""
    older, master = "1.29.8-gke.1031000", "1.30.5-gke.1014001"
    pool = _pool("application-pool", machine="e2-standard-2")
    pool.version = older
    pool.config.image_type = "UBUNTU_CONTAINERD"
    gke.add_cluster(PROJECT, LOCATION, CLUSTER, node_pools=(pool,), master_version=master)
    clusters = _clusters(gke)
    plan = plan_cluster(DESIRED, clusters.observe(LOCATION, CLUSTER))
    (update,) = [change for change in plan.pools if change.action is PoolAction.UPDATE]
    assert [field.field for field in update.fields] == ["machine_type"]
    clusters.apply(plan)
    after = gke.cluster(PROJECT, LOCATION, CLUSTER).node_pools[0]
    assert after.config.machine_type == "e2-standard-4"
    assert (after.version, after.config.image_type) == (older, "UBUNTU_CONTAINERD")  # the nodes' version unchanged


def test_an_update_sends_no_node_version_or_image_type_so_gke_keeps_the_pools(gke: GkeStandIn) -> None:
    """Fidelity review: the adapter sent the pool's version and image type back on every update; GKE may no longer
    offer that version and refuses the whole update. gcloud and Terraform leave both out (empty: unchanged)."""
    from findly_infra.adapters.gke import _update_request

    spec = DESIRED.pools[0]
    observed = attrs.evolve(spec, version=NODES, image_type="COS_CONTAINERD")
    for fields in (["machine_type"], ["taints"], ["disk_size_gb", "disk_type"], ["workload_metadata"], ["zones"]):
        request = _update_request("projects/p/locations/l/clusters/c/nodePools/n", observed, fields, gke_types)
        assert (request.node_version, request.image_type) == ("", "")
    _drifted(gke)  # the nodes at 1.29.8, which the stand-in no longer offers: sent back, it would be refused
    clusters = _clusters(gke)
    disks = attrs.evolve(DESIRED, pools=tuple(attrs.evolve(p, disk_size_gb=200) for p in DESIRED.pools))
    clusters.apply(plan_cluster(disks, clusters.observe(LOCATION, CLUSTER)))
    after = clusters.observe(LOCATION, CLUSTER).pool("application-pool")
    assert after is not None
    assert (after.disk_size_gb, after.version) == (200, NODES)
