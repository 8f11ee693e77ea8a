"""The GKE stand-in creating and deleting clusters (issue 27: the DR region's cluster is built from nothing), through
the real ``ClusterManagerClient``: ``CreateCluster`` with its node pools, the operation polled to ``DONE``, the cluster
``PROVISIONING`` then ``RUNNING``; what GKE refuses, in its words where they are published; ``DeleteCluster``; every
other operation refused while the cluster is being created. Each rule's reference is cited beside it in the
stand-in."""

from __future__ import annotations

from typing import Any

import pytest
from google.api_core import exceptions
from google.cloud import container_v1 as gke_types
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from findly_infra.testing.gke import DEFAULT_IMAGE_TYPE, GkeStandIn
from tests.gke.conftest import PROJECT

DR = "us-east1"
PARENT = f"projects/{PROJECT}/locations/{DR}"
NAME = "findly-production-dr"
PATH = f"{PARENT}/clusters/{NAME}"
OLDER, DEFAULT, NEWER = "1.29.8-gke.1031000", "1.30.5-gke.1014001", "1.31.1-gke.1146000"
RUNNING = gke_types.Cluster.Status.RUNNING


def _pool(name: str, zones: tuple[str, ...] = ("us-east1-b", "us-east1-c"), **options: Any) -> gke_types.NodePool:
    fields: dict[str, Any] = {
        "initial_node_count": 1,
        "locations": list(zones),
        "config": gke_types.NodeConfig(machine_type="e2-standard-4", disk_size_gb=100, disk_type="pd-ssd"),
        "autoscaling": gke_types.NodePoolAutoscaling(enabled=True, min_node_count=1, max_node_count=3),
    }
    return gke_types.NodePool(name=name, **(fields | options))


def _cluster(name: str = NAME, pools: tuple[gke_types.NodePool, ...] | None = None, **fields: Any) -> Any:
    if pools is None:
        pools = (_pool("application-pool"), _pool("monitoring-pool", ("us-east1-d",)))
    return gke_types.Cluster(name=name, node_pools=list(pools), **fields)


def _client(gke: GkeStandIn) -> Any:
    gke.offer_versions(PROJECT, DR, (OLDER, DEFAULT, NEWER), default=DEFAULT)
    return gke.client()


def _create(client: Any, cluster: Any) -> Any:
    return client.create_cluster(request=gke_types.CreateClusterRequest(parent=PARENT, cluster=cluster))


def _done(client: Any, operation: Any) -> Any:
    full = f"{PARENT}/operations/{operation.name}"
    for _ in range(10):
        operation = client.get_operation(name=full)
        if operation.status == gke_types.Operation.Status.DONE:
            return operation
    raise AssertionError(f"{full} never done")


def test_create_cluster_makes_its_pools_and_is_running_once_its_operation_is_done(gke: GkeStandIn) -> None:
    client = _client(gke)
    identity = gke_types.WorkloadIdentityConfig(workload_pool=f"{PROJECT}.svc.id.goog")
    operation = _create(client, _cluster(workload_identity_config=identity))
    assert operation.operation_type == gke_types.Operation.Type.CREATE_CLUSTER
    assert operation.status == gke_types.Operation.Status.RUNNING
    assert operation.target_link == f"https://container.googleapis.com/v1/{PATH}"
    assert "/" not in operation.name  # a short name, read back by its full one

    provisioning = client.get_cluster(name=PATH)
    assert provisioning.status == gke_types.Cluster.Status.PROVISIONING
    assert {pool.status for pool in provisioning.node_pools} == {gke_types.NodePool.Status.PROVISIONING}

    done = _done(client, operation)
    assert not done.error.message
    cluster = client.get_cluster(name=PATH)
    assert (cluster.status, cluster.location, cluster.current_master_version) == (RUNNING, DR, DEFAULT)
    assert cluster.workload_identity_config.workload_pool == f"{PROJECT}.svc.id.goog"
    pools = {pool.name: pool for pool in client.list_node_pools(parent=PATH).node_pools}
    assert set(pools) == {"application-pool", "monitoring-pool"}
    application = pools["application-pool"]
    assert application.status == gke_types.NodePool.Status.RUNNING
    assert (application.version, application.config.image_type) == (DEFAULT, DEFAULT_IMAGE_TYPE)
    assert list(application.locations) == ["us-east1-b", "us-east1-c"]
    assert (application.config.machine_type, application.config.disk_size_gb) == ("e2-standard-4", 100)
    assert (application.autoscaling.min_node_count, application.autoscaling.max_node_count) == (1, 3)
    metadata = application.config.workload_metadata_config.mode
    assert metadata == gke_types.WorkloadMetadataConfig.Mode.GKE_METADATA  # Workload Identity: implied
    assert list(pools["monitoring-pool"].locations) == ["us-east1-d"]


@pytest.mark.parametrize(
    ("asked", "runs"),
    [("", DEFAULT), ("-", DEFAULT), ("latest", NEWER), ("1.29", OLDER), ("1.31.1", NEWER), (NEWER, NEWER)],
)
def test_initial_cluster_version_is_read_as_the_api_reads_it_and_every_pool_runs_it(
    gke: GkeStandIn, asked: str, runs: str
) -> None:
    client = _client(gke)
    pools = (_pool("application-pool", version=OLDER),)  # a pool's own version: the control plane's on create
    _done(client, _create(client, _cluster(pools=pools, initial_cluster_version=asked)))
    cluster = client.get_cluster(name=PATH)
    assert (cluster.current_master_version, cluster.node_pools[0].version) == (runs, runs)
    assert client.get_server_config(name=PARENT).default_cluster_version == DEFAULT


def test_a_version_the_location_does_not_offer_is_refused_in_gkes_words(gke: GkeStandIn) -> None:
    client = _client(gke)
    with pytest.raises(exceptions.InvalidArgument, match=r'Master version "1\.28\.1-gke\.1" is unsupported\.'):
        _create(client, _cluster(initial_cluster_version="1.28.1-gke.1"))
    with pytest.raises(exceptions.InvalidArgument, match=r'No valid versions with the prefix "1\.27" found\.'):
        _create(client, _cluster(initial_cluster_version="1.27"))
    assert gke.operations() == []


def test_initial_node_count_makes_the_default_pool_and_neither_is_refused(gke: GkeStandIn) -> None:
    client = _client(gke)
    config = gke_types.NodeConfig(machine_type="e2-standard-2")
    _done(client, _create(client, _cluster(pools=(), initial_node_count=2, node_config=config)))
    (pool,) = client.list_node_pools(parent=PATH).node_pools
    assert (pool.name, pool.initial_node_count, pool.config.machine_type) == ("default-pool", 2, "e2-standard-2")
    with pytest.raises(exceptions.InvalidArgument, match=r"^400 Cluster\.initial_node_count must be greater than zero"):
        _create(client, _cluster(name="nothing", pools=()))


def test_create_refuses_what_gke_refuses_and_starts_nothing(gke: GkeStandIn) -> None:
    client = _client(gke)
    refused = {
        "": r'Invalid value for field "cluster\.name": ""',
        "Findly_DR": r'Invalid value for field "cluster\.name": "Findly_DR"\. Must be a match of regex',
        "dr-": r"must start with a letter and end with an alphanumeric",
        "d" * 41: r"no longer than 40 characters",
    }
    for name, message in refused.items():
        with pytest.raises(exceptions.InvalidArgument, match=message):
            _create(client, _cluster(name=name))
    cases: list[tuple[Any, str]] = [
        (_cluster(initial_node_count=3), r"node_pools cannot be used with Cluster\.initial_node_count"),
        (_cluster(pools=(_pool("a"), _pool("a"))), r'"node_pool\.name": "a": two node pools of one name'),
        (_cluster(pools=(_pool("a", ("us-central1-a",)),)), r"us-central1-a is not a zone of the cluster's region"),
        (_cluster(locations=["europe-west1-b"]), r"Invalid cluster\.locations: europe-west1-b"),
        (
            _cluster(
                pools=(
                    _pool(
                        "a", autoscaling=gke_types.NodePoolAutoscaling(enabled=True, min_node_count=4, max_node_count=2)
                    ),
                )
            ),
            r"min_node_count \(4\) must be less than or equal to max_node_count \(2\)",
        ),
        (
            _cluster(workload_identity_config=gke_types.WorkloadIdentityConfig(workload_pool="other.svc.id.goog")),
            rf"Invalid workload pool 'other\.svc\.id\.goog': the cluster's workload pool is {PROJECT}\.svc\.id\.goog",
        ),
        (
            _cluster(autoscaling=gke_types.ClusterAutoscaling(enable_node_autoprovisioning=True)),
            r"Resource limits for cpu, memory must be specified when enabling node autoprovisioning",
        ),
        (
            _cluster(
                pools=(
                    _pool(
                        "a",
                        config=gke_types.NodeConfig(
                            workload_metadata_config=gke_types.WorkloadMetadataConfig(
                                mode=gke_types.WorkloadMetadataConfig.Mode.GKE_METADATA
                            )
                        ),
                    ),
                )
            ),
            r"Workload Identity is not enabled on the cluster",
        ),
    ]
    for cluster, message in cases:
        with pytest.raises(exceptions.InvalidArgument, match=message):
            _create(client, cluster)
    with pytest.raises(exceptions.MethodNotImplemented, match=r"Cluster \(CreateCluster\)\.autopilot"):
        _create(client, _cluster(autopilot=gke_types.Autopilot(enabled=True)))
    with pytest.raises(exceptions.MethodNotImplemented, match="deprecated project_id, zone"):
        client.create_cluster(request={"project_id": PROJECT, "zone": "us-east1-b", "cluster": _cluster()})
    assert gke.operations() == []
    with pytest.raises(exceptions.NotFound):
        client.get_cluster(name=PATH)


def test_a_cluster_of_an_existing_name_is_already_there(gke: GkeStandIn) -> None:
    client = _client(gke)
    _create(client, _cluster())
    with pytest.raises(exceptions.AlreadyExists, match=rf"Already exists: {PATH}\."):
        _create(client, _cluster())


def test_nothing_else_is_done_to_a_cluster_being_created_not_even_deleting_it(gke: GkeStandIn) -> None:
    client = _client(gke)
    creating = _create(client, _cluster())
    busy = (
        rf"Operation {creating.name} is currently creating cluster {NAME}\. Please wait and try again once it is done"
    )
    with pytest.raises(exceptions.FailedPrecondition, match=busy):
        client.delete_cluster(name=PATH)
    with pytest.raises(exceptions.FailedPrecondition, match=busy):
        client.create_node_pool(
            request=gke_types.CreateNodePoolRequest(parent=PATH, node_pool=gke_types.NodePool(name="batch-pool"))
        )
    scaling = gke_types.NodePoolAutoscaling(enabled=True, min_node_count=1, max_node_count=5)
    with pytest.raises(exceptions.FailedPrecondition, match=busy):
        client.set_node_pool_autoscaling(
            request=gke_types.SetNodePoolAutoscalingRequest(
                name=f"{PATH}/nodePools/application-pool", autoscaling=scaling
            )
        )
    assert client.get_cluster(name=PATH).status == gke_types.Cluster.Status.PROVISIONING  # reading is fine
    _done(client, creating)
    _done(client, client.delete_cluster(name=PATH))  # once it is created


def test_delete_cluster_stops_it_then_it_is_gone_and_its_name_free(gke: GkeStandIn) -> None:
    client = _client(gke)
    _done(client, _create(client, _cluster()))
    deleting = client.delete_cluster(name=PATH)
    assert deleting.operation_type == gke_types.Operation.Type.DELETE_CLUSTER
    assert client.get_cluster(name=PATH).status == gke_types.Cluster.Status.STOPPING
    with pytest.raises(exceptions.AlreadyExists):  # still there while it is being deleted
        _create(client, _cluster())
    with pytest.raises(exceptions.FailedPrecondition, match=rf"incompatible operation {deleting.name}"):
        client.delete_cluster(name=PATH)
    assert not _done(client, deleting).error.message
    with pytest.raises(exceptions.NotFound, match=rf"Not found: {PATH}\."):
        client.get_cluster(name=PATH)
    with pytest.raises(exceptions.NotFound, match=rf"Not found: {PATH}\."):
        client.list_node_pools(parent=PATH)
    with pytest.raises(exceptions.NotFound, match=rf"Not found: {PATH}\."):
        client.delete_cluster(name=PATH)
    _done(client, _create(client, _cluster()))  # the name is free again
    assert client.get_cluster(name=PATH).status == RUNNING


def test_a_create_made_to_fail_leaves_the_cluster_in_error_until_deleted(gke: GkeStandIn) -> None:
    client = _client(gke)
    gke.fail_operation("CreateCluster", "Insufficient regional quota to satisfy request: resource CPUS")
    failed = _done(client, _create(client, _cluster()))
    assert failed.error.message == "Insufficient regional quota to satisfy request: resource CPUS"
    cluster = client.get_cluster(name=PATH)
    assert cluster.status == gke_types.Cluster.Status.ERROR
    assert "Insufficient regional quota" in cluster.status_message
    _done(client, client.delete_cluster(name=PATH))
    _done(client, _create(client, _cluster()))  # the next create is not made to fail
    assert client.get_cluster(name=PATH).status == RUNNING


def test_a_cluster_in_a_zone_has_its_zone_for_nodes(gke: GkeStandIn) -> None:
    client = gke.client()
    parent = f"projects/{PROJECT}/locations/us-east1-b"
    pools = (gke_types.NodePool(name="application-pool", initial_node_count=1),)
    operation = client.create_cluster(
        request=gke_types.CreateClusterRequest(parent=parent, cluster=_cluster(pools=pools))
    )
    assert operation.location == "us-east1-b"
    cluster = client.get_cluster(name=f"{parent}/clusters/{NAME}")
    assert list(cluster.locations) == ["us-east1-b"]
    assert list(cluster.node_pools[0].locations) == ["us-east1-b"]


def test_a_region_the_test_says_nothing_of_offers_what_the_projects_other_regions_do(gke: GkeStandIn) -> None:
    """A version reaches every region within days (GKE's rollout schedule): the DR copy of a cluster may ask the
    primary's version without the test offering it there; a region given its own offer keeps to it."""
    gke.add_cluster(PROJECT, "us-central1", "findly-production", master_version=OLDER, valid_node_versions=(NEWER,))
    client = gke.client()
    assert list(client.get_server_config(name=PARENT).valid_master_versions) == [NEWER, OLDER]
    _done(client, _create(client, _cluster(initial_cluster_version=OLDER)))
    assert client.get_cluster(name=PATH).current_master_version == OLDER
    gke.offer_versions(PROJECT, "europe-west1", (DEFAULT,))
    europe = "projects/findly-now/locations/europe-west1"
    with pytest.raises(exceptions.InvalidArgument, match="is unsupported"):
        client.create_cluster(
            request=gke_types.CreateClusterRequest(
                parent=europe, cluster=_cluster(pools=(), initial_node_count=1, initial_cluster_version=OLDER)
            )
        )


def _named_as_gke_allows(name: str) -> bool:
    """Cluster.name's rule as cluster_service.proto words it, written here from the words, not from the stand-in's
    regex: "up to 40 characters", "Lowercase letters, numbers, and hyphens only", "Must start with a letter", "Must
    end with a number or a letter"."""
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-")
    return (
        0 < len(name) <= 40
        and set(name) <= allowed
        and name[0].isalpha()
        and (name[-1].isalpha() or name[-1].isdigit())
    )


_NAMES = st.text(alphabet="abcz09-_A.", max_size=42) | st.from_regex(r"[a-z][-a-z0-9]{0,40}", fullmatch=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(_NAMES, min_size=1, max_size=4))
def test_a_cluster_is_created_exactly_when_its_name_is_one_gke_allows(gke: GkeStandIn, names: list[str]) -> None:
    client = gke.client()
    for name in names:
        cluster = _cluster(name=name, pools=(gke_types.NodePool(name="application-pool", initial_node_count=1),))
        if not _named_as_gke_allows(name):
            with pytest.raises(exceptions.InvalidArgument, match=r'Invalid value for field "cluster\.name"'):
                _create(client, cluster)
        elif _held(gke, name):  # made by an earlier example (the stand-in lives for all of them)
            with pytest.raises(exceptions.AlreadyExists):
                _create(client, cluster)
        else:
            _create(client, cluster)
            assert _held(gke, name)


def _held(gke: GkeStandIn, name: str) -> bool:
    try:
        gke.cluster(PROJECT, DR, name)
    except KeyError:
        return False
    return True
