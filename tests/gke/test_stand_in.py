"""The GKE stand-in (``findly_infra.testing.gke``) behaves as GKE does where a tool would notice, through the real
client: node versions and image types as ``UpdateNodePool`` applies them, autoscaling and node auto-provisioning
refused as the API refuses them, Workload Identity's pool and metadata mode, operations read back only by their full
name, one at a time per cluster. Each rule's reference is cited beside it in the stand-in."""

from __future__ import annotations

from typing import Any

import pytest
from google.api_core import exceptions
from google.cloud import container_v1 as gke_types

from findly_infra.testing.gke import DEFAULT_IMAGE_TYPE, GkeStandIn
from tests.gke.conftest import CLUSTER, LOCATION, PROJECT

PATH = f"projects/{PROJECT}/locations/{LOCATION}/clusters/{CLUSTER}"
POOL = f"{PATH}/nodePools/application-pool"
MASTER = "1.30.5-gke.1014001"
OLDER = "1.29.8-gke.1031000"


def _pool(name: str = "application-pool", version: str = OLDER) -> gke_types.NodePool:
    return gke_types.NodePool(
        name=name,
        version=version,
        locations=["us-central1-a", "us-central1-b"],
        config=gke_types.NodeConfig(machine_type="e2-standard-4", disk_size_gb=100, disk_type="pd-ssd"),
        autoscaling=gke_types.NodePoolAutoscaling(enabled=True, min_node_count=1, max_node_count=3),
    )


def _cluster(gke: GkeStandIn, **options: Any) -> Any:
    gke.add_cluster(
        PROJECT,
        LOCATION,
        CLUSTER,
        node_pools=(_pool(),),
        master_version=MASTER,
        valid_node_versions=("1.29.9-gke.1000", "1.30.4-gke.1348000", "1.31.1-gke.1146000"),
        **options,
    )
    return gke.client()


def _done(gke: GkeStandIn, client: Any, operation: Any) -> Any:
    full = f"projects/{PROJECT}/locations/{LOCATION}/operations/{operation.name}"
    while operation.status != gke_types.Operation.Status.DONE:
        operation = client.get_operation(name=full)
    assert not operation.error.message, operation.error.message
    return next(pool for pool in gke.cluster(PROJECT, LOCATION, CLUSTER).node_pools if pool.name == "application-pool")


def _update(client: Any, **fields: Any) -> Any:
    return client.update_node_pool(request=gke_types.UpdateNodePoolRequest(name=POOL, **fields))


def test_a_pool_holds_its_version_and_image_and_the_cluster_its_control_planes(gke: GkeStandIn) -> None:
    client = _cluster(gke)
    cluster = client.get_cluster(name=PATH)
    assert (cluster.current_master_version, cluster.current_node_version) == (MASTER, OLDER)
    pool = client.get_node_pool(name=POOL)
    assert (pool.version, pool.config.image_type) == (OLDER, DEFAULT_IMAGE_TYPE)


@pytest.mark.parametrize(
    ("asked", "becomes"),
    [
        ("", OLDER),  # empty: the version is not changed
        ("1.29.9-gke.1000", "1.29.9-gke.1000"),  # an explicit version GKE offers
        ("-", MASTER),  # "-": picks the Kubernetes master version
        ("1.29", "1.29.9-gke.1000"),  # "1.X": the highest valid patch of 1.X
        ("1.30.4", "1.30.4-gke.1348000"),  # "1.X.Y": the highest valid gke.N of 1.X.Y
    ],
)
def test_update_node_pool_applies_node_version_as_the_api_reads_it(gke: GkeStandIn, asked: str, becomes: str) -> None:
    client = _cluster(gke)
    pool = _done(gke, client, _update(client, node_version=asked, machine_type="e2-standard-8"))
    assert (pool.version, pool.config.machine_type) == (becomes, "e2-standard-8")


def test_a_node_version_newer_than_the_control_plane_or_not_offered_is_refused(gke: GkeStandIn) -> None:
    client = _cluster(gke)
    with pytest.raises(exceptions.InvalidArgument, match="must not have a greater minor version than master version"):
        _update(client, node_version="latest")  # the highest offered is 1.31, the control plane 1.30
    with pytest.raises(exceptions.InvalidArgument, match=r'Node version "1.28.1-gke.1" is unsupported'):
        _update(client, node_version="1.28.1-gke.1")
    with pytest.raises(exceptions.InvalidArgument, match=rf'Node version "{OLDER}" is unsupported'):
        _update(client, node_version=OLDER)  # the pool's own version, which GKE no longer offers
    assert gke.cluster(PROJECT, LOCATION, CLUSTER).node_pools[0].version == OLDER


def test_image_type_is_kept_unless_asked_and_unknown_ones_are_refused(gke: GkeStandIn) -> None:
    client = _cluster(gke)
    assert _done(gke, client, _update(client, disk_size_gb=200)).config.image_type == DEFAULT_IMAGE_TYPE
    assert _done(gke, client, _update(client, image_type="ubuntu_containerd")).config.image_type == "UBUNTU_CONTAINERD"
    with pytest.raises(exceptions.InvalidArgument, match='Image type "COS" is unsupported'):
        _update(client, image_type="COS")


def test_an_update_that_names_nothing_to_change_is_refused_in_gkes_words(gke: GkeStandIn) -> None:
    client = _cluster(gke)
    with pytest.raises(exceptions.InvalidArgument, match=r"At least one of \['node_version', 'image_type'"):
        _update(client)
    with pytest.raises(exceptions.InvalidArgument, match="at least 10 GB"):
        _update(client, disk_size_gb=5)


@pytest.mark.parametrize(
    ("scaling", "refusal"),
    [
        ({"min_node_count": 4, "max_node_count": 3}, "must be less than or equal to max_node_count"),
        ({"min_node_count": -1, "max_node_count": 3}, "min_node_count must be greater than or equal to 0"),
        ({"total_min_node_count": 5, "total_max_node_count": 2}, "must be less than or equal to total_max_node_count"),
        ({"min_node_count": 1, "total_max_node_count": 9}, "cannot be used with min_node_count and max_node_count"),
        ({"max_node_count": 1001}, "above the limit of 1000 nodes per zone"),
    ],
)
def test_invalid_pool_autoscaling_is_refused_and_changes_nothing(
    gke: GkeStandIn, scaling: dict[str, int], refusal: str
) -> None:
    client = _cluster(gke)
    autoscaling = gke_types.NodePoolAutoscaling(enabled=True, **scaling)
    with pytest.raises(exceptions.InvalidArgument, match=refusal):
        client.set_node_pool_autoscaling(
            request=gke_types.SetNodePoolAutoscalingRequest(name=POOL, autoscaling=autoscaling)
        )
    new = gke_types.NodePool(name="batch-pool", initial_node_count=1, autoscaling=autoscaling)
    with pytest.raises(exceptions.InvalidArgument, match=refusal):
        client.create_node_pool(request=gke_types.CreateNodePoolRequest(parent=PATH, node_pool=new))
    assert list(gke.operations()) == []


def _limits(**maxima: int) -> list[gke_types.ResourceLimit]:
    return [gke_types.ResourceLimit(resource_type=kind, maximum=value) for kind, value in maxima.items()]


@pytest.mark.parametrize(
    ("autoscaling", "refusal"),
    [
        (
            gke_types.ClusterAutoscaling(enable_node_autoprovisioning=True, resource_limits=_limits(cpu=200)),
            "Resource limits for cpu, memory must be specified when enabling node autoprovisioning.",
        ),
        (
            gke_types.ClusterAutoscaling(resource_limits=_limits(cpu=200, memory=800)),
            "Resource limits are supported only with node autoprovisioning.",
        ),
    ],
)
def test_node_auto_provisioning_needs_cpu_and_memory_limits_and_limits_need_it(
    gke: GkeStandIn, autoscaling: Any, refusal: str
) -> None:
    client = _cluster(gke)
    update = gke_types.ClusterUpdate(desired_cluster_autoscaling=autoscaling)
    with pytest.raises(exceptions.InvalidArgument, match=refusal):
        client.update_cluster(request=gke_types.UpdateClusterRequest(name=PATH, update=update))


def test_workload_identity_takes_the_projects_pool_before_any_pool_takes_gke_metadata(gke: GkeStandIn) -> None:
    client = _cluster(gke)
    metadata = gke_types.WorkloadMetadataConfig(mode=gke_types.WorkloadMetadataConfig.Mode.GKE_METADATA)
    with pytest.raises(exceptions.InvalidArgument, match="Workload Identity is not enabled on the cluster"):
        _update(client, workload_metadata_config=metadata)

    def identity(pool: str) -> Any:
        update = gke_types.ClusterUpdate(
            desired_workload_identity_config=gke_types.WorkloadIdentityConfig(workload_pool=pool)
        )
        return client.update_cluster(request=gke_types.UpdateClusterRequest(name=PATH, update=update))

    with pytest.raises(exceptions.InvalidArgument, match=f"the cluster's workload pool is {PROJECT}.svc.id.goog"):
        identity("elsewhere.svc.id.goog")
    _done(gke, client, identity(f"{PROJECT}.svc.id.goog"))
    assert client.get_cluster(name=PATH).workload_identity_config.workload_pool == f"{PROJECT}.svc.id.goog"
    pool = _done(gke, client, _update(client, workload_metadata_config=metadata))
    assert pool.config.workload_metadata_config.mode == gke_types.WorkloadMetadataConfig.Mode.GKE_METADATA
    assert pool.version == OLDER  # a metadata change is no upgrade


def test_operations_are_read_back_by_their_full_name_in_their_own_location(gke: GkeStandIn) -> None:
    client = _cluster(gke)
    operation = _update(client, disk_size_gb=200)
    assert operation.name.startswith("operation-")
    assert "/" not in operation.name  # GKE answers a short name
    assert operation.location == LOCATION
    with pytest.raises(exceptions.InvalidArgument):
        client.get_operation(name=operation.name)
    with pytest.raises(exceptions.NotFound):
        client.get_operation(name=f"projects/{PROJECT}/locations/europe-west1/operations/{operation.name}")
    busy = f"Cluster is running incompatible operation {operation.name}"
    with pytest.raises(exceptions.FailedPrecondition, match=busy):
        _update(client, disk_size_gb=300)
    _done(gke, client, operation)
    _update(client, disk_size_gb=300)  # the cluster takes the next one once the first is done


def test_a_new_pool_runs_the_control_planes_version_unless_asked(gke: GkeStandIn) -> None:
    client = _cluster(gke)
    new = gke_types.NodePool(name="batch-pool", initial_node_count=1)
    operation = client.create_node_pool(request=gke_types.CreateNodePoolRequest(parent=PATH, node_pool=new))
    _done(gke, client, operation)
    created = client.get_node_pool(name=f"{PATH}/nodePools/batch-pool")
    assert (created.version, created.config.image_type) == (MASTER, DEFAULT_IMAGE_TYPE)
    server = client.get_server_config(name=f"projects/{PROJECT}/locations/{LOCATION}")
    assert server.default_image_type == DEFAULT_IMAGE_TYPE
    assert MASTER in server.valid_node_versions


def test_what_the_stand_in_does_not_model_is_refused_not_ignored(gke: GkeStandIn) -> None:
    client = _cluster(gke)
    with pytest.raises(exceptions.MethodNotImplemented, match=r"UpdateNodePoolRequest.labels"):
        _update(client, labels=gke_types.NodeLabels(labels={"team": "search"}))
    update = gke_types.ClusterUpdate(desired_master_version="1.31")
    with pytest.raises(exceptions.MethodNotImplemented, match=r"ClusterUpdate.desired_master_version"):
        client.update_cluster(request=gke_types.UpdateClusterRequest(name=PATH, update=update))
    assert list(gke.operations()) == []


# ---- fidelity review (issue 22) --------------------------------------------------------------------------------------


def _second_pool(gke: GkeStandIn) -> Any:
    gke.add_cluster(PROJECT, LOCATION, CLUSTER, node_pools=(_pool(), _pool("batch-pool")), master_version=MASTER)
    return gke.client()


def _autoscale(client: Any, pool: str, high: int = 2) -> Any:
    scaling = gke_types.NodePoolAutoscaling(enabled=True, min_node_count=1, max_node_count=high)
    request = gke_types.SetNodePoolAutoscalingRequest(name=f"{PATH}/nodePools/{pool}", autoscaling=scaling)
    return client.set_node_pool_autoscaling(request=request)


def test_one_cluster_operation_or_one_operation_per_node_pool_runs_at_a_time(gke: GkeStandIn) -> None:
    """https://cloud.google.com/kubernetes-engine/docs/troubleshooting/concurrent-operations: "Generally, GKE allows
    only one cluster-level operation or one operation per node pool to run at the same time"."""
    client = _second_pool(gke)
    first = _update(client, disk_size_gb=200)
    second = _autoscale(client, "batch-pool")  # another pool: runs beside the first
    busy = r"Cluster is running incompatible operation {}\."
    with pytest.raises(exceptions.FailedPrecondition, match=busy.format(first.name)):
        _autoscale(client, "application-pool")  # the same pool: waits
    update = gke_types.ClusterUpdate(
        desired_workload_identity_config=gke_types.WorkloadIdentityConfig(workload_pool=f"{PROJECT}.svc.id.goog")
    )
    with pytest.raises(exceptions.FailedPrecondition, match="incompatible operation"):  # the cluster: waits for all
        client.update_cluster(request=gke_types.UpdateClusterRequest(name=PATH, update=update))
    for operation in gke.operations():  # a list: the stand-in keeps serving while a test walks it
        full = f"projects/{PROJECT}/locations/{LOCATION}/operations/{operation.name}"
        while client.get_operation(name=full, timeout=10).status != gke_types.Operation.Status.DONE:
            pass
    cluster_wide = client.update_cluster(request=gke_types.UpdateClusterRequest(name=PATH, update=update))
    with pytest.raises(exceptions.FailedPrecondition, match=busy.format(cluster_wide.name)):
        _autoscale(client, "batch-pool", high=3)  # a cluster-level operation holds every pool
    assert isinstance(gke.operations(), list)
    assert second.operation_type == gke_types.Operation.Type.UPGRADE_NODES  # unverified: see the stand-in


def test_a_request_in_the_deprecated_fields_is_refused_as_not_served(gke: GkeStandIn) -> None:
    client = _cluster(gke)
    with pytest.raises(exceptions.MethodNotImplemented, match="deprecated project_id, zone, cluster_id"):
        client.get_cluster(request={"project_id": PROJECT, "zone": LOCATION, "cluster_id": CLUSTER})
    with pytest.raises(exceptions.MethodNotImplemented, match="deprecated project_id, zone, operation_id"):
        client.get_operation(request={"project_id": PROJECT, "zone": LOCATION, "operation_id": "operation-1"})
    with pytest.raises(exceptions.MethodNotImplemented, match="deprecated node_pool_id"):
        client.get_node_pool(request={"name": POOL, "node_pool_id": "application-pool"})


def test_a_cluster_of_a_fleet_hosted_elsewhere_may_take_the_fleets_workload_pool(gke: GkeStandIn) -> None:
    """Fleet Workload Identity Federation: a cluster registered to a fleet whose host project is another uses the
    fleet's pool, FLEET_PROJECT_ID.svc.id.goog
    (https://cloud.google.com/kubernetes-engine/fleet-management/docs/use-workload-identity)."""
    client = _cluster(gke, fleet_host_project="findly-fleet")

    def identity(pool: str) -> Any:
        update = gke_types.ClusterUpdate(
            desired_workload_identity_config=gke_types.WorkloadIdentityConfig(workload_pool=pool)
        )
        return client.update_cluster(request=gke_types.UpdateClusterRequest(name=PATH, update=update))

    with pytest.raises(exceptions.InvalidArgument, match=r"findly-now\.svc\.id\.goog or findly-fleet\.svc\.id\.goog"):
        identity("elsewhere.svc.id.goog")
    full = f"projects/{PROJECT}/locations/{LOCATION}/operations/{identity('findly-fleet.svc.id.goog').name}"
    while client.get_operation(name=full).status != gke_types.Operation.Status.DONE:
        pass
    assert client.get_cluster(name=PATH).workload_identity_config.workload_pool == "findly-fleet.svc.id.goog"


def test_operations_is_a_list_so_a_test_can_call_the_server_while_walking_it(gke: GkeStandIn) -> None:
    """``operations()`` held the stand-in's lock across ``yield``: a call made while walking it waited for ever."""
    client = _cluster(gke)
    _update(client, disk_size_gb=200)
    operations = gke.operations()
    assert isinstance(operations, list)
    for operation in operations:
        full = f"projects/{PROJECT}/locations/{LOCATION}/operations/{operation.name}"
        assert client.get_operation(name=full, timeout=5).name == operation.name
