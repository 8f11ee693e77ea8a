"""The rules of ``domain.infrastructure``, pinned: what an autoscaling policy, the cluster autoscaler, a node pool and
the GKE cluster refuse (each with its field and index), taint effects as Kubernetes spells them, and a pool's and a
cluster's capacity. GKE's rules cited: node disks of at least 10 GB and its disk types
(https://cloud.google.com/kubernetes-engine/docs/concepts/node-images, ``gcloud container node-pools create
--disk-type``), project IDs of 6-30 characters starting with a letter
(https://cloud.google.com/resource-manager/docs/creating-managing-projects)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.errors import InvariantError
from findly_infra.domain.infrastructure import (
    AutoscalerLimits,
    ClusterAutoscaler,
    CustomMetricTarget,
    ExternalMetricTarget,
    GKECluster,
    HorizontalAutoscaler,
    NodePool,
    ResourceMetricTarget,
    TaintEffect,
)
from findly_infra.domain.notation import ByteSize, Duration, MachineType

E2 = MachineType.parse("e2-standard-4")


def refusal(build: object, *args: object, **kwargs: object) -> InvariantError:
    with pytest.raises(InvariantError) as error:
        build(*args, **kwargs)  # type: ignore[operator]
    return error.value


def test_resource_metrics() -> None:
    assert ResourceMetricTarget("cpu", 1).target_utilization == 1
    assert ResourceMetricTarget("memory", 100).name == "memory"
    error = refusal(ResourceMetricTarget, "disk", 50)
    assert (str(error).split(" (")[0], error.field) == ("a resource metric is 'cpu' or 'memory', got 'disk'", "name")
    for value in (0, 101):
        error = refusal(ResourceMetricTarget, "cpu", value)
        assert str(error).startswith(f"target_utilization is a percentage in (0, 100], got {value}")
        assert error.field == "target_utilization"


@pytest.mark.parametrize("kind", [CustomMetricTarget, ExternalMetricTarget])
def test_metric_targets(kind: type) -> None:
    for name in ("rps", "_x", "a:b", "Kafka_lag9"):
        assert kind(name, 0.5).metric_name == name
    for name in ("9x", "a-b", "", "a b"):
        error = refusal(kind, name, 1)
        assert (str(error).split(" (")[0], error.field) == (f"{name!r} is not a metric name", "metric_name")
    for value in (0, -1, float("nan")):
        error = refusal(kind, "rps", value)
        assert str(error).startswith(f"target_value is above zero, got {value}")
        assert error.field == "target_value"


CPU = ResourceMetricTarget("cpu", 70)


def test_horizontal_autoscalers() -> None:
    assert HorizontalAutoscaler("fn_posts", 1, 1, (CPU,)).max_replicas == 1
    error = refusal(HorizontalAutoscaler, "fn posts", 1, 2, (CPU,))
    assert error.field == "service"
    error = refusal(HorizontalAutoscaler, "fn", 0, 2, (CPU,))
    assert (str(error).split(" (")[0], error.field) == ("min_replicas is at least 1, got 0", "min_replicas")
    error = refusal(HorizontalAutoscaler, "fn", 1, 0, (CPU,))
    assert (str(error).split(" (")[0], error.field) == ("max_replicas is at least 1, got 0", "max_replicas")
    error = refusal(HorizontalAutoscaler, "fn", 3, 2, (CPU,))
    assert (str(error).split(" (")[0], error.field) == ("min_replicas 3 is above max_replicas 2", "min_replicas")
    error = refusal(HorizontalAutoscaler, "fn", 1, 2, ())
    assert (str(error).split(" (")[0], error.field) == (
        "an autoscaler needs at least one metric to scale on",
        "metrics",
    )
    twice = (CPU, CustomMetricTarget("rps", 1), ResourceMetricTarget("cpu", 80))
    error = refusal(HorizontalAutoscaler, "fn", 1, 2, twice)
    assert str(error).startswith("the metric 'cpu' is listed twice")
    assert (error.field, error.index) == ("metrics", 2)
    same_name = (CustomMetricTarget("lag", 1), ExternalMetricTarget("lag", 1), ResourceMetricTarget("memory", 1))
    assert len(HorizontalAutoscaler("fn", 1, 2, same_name).metrics) == 3
    error = refusal(HorizontalAutoscaler, "fn", 1, 2, (ExternalMetricTarget("lag", 1), ExternalMetricTarget("lag", 2)))
    assert str(error).startswith("the metric 'lag' is listed twice")


def test_the_cluster_autoscaler() -> None:
    with pytest.raises(ValueError, match="max_nodes_per_pool"):
        AutoscalerLimits(0, 1, 1)
    with pytest.raises(ValueError, match="max_cores"):
        AutoscalerLimits(1, 0, 1)
    with pytest.raises(ValueError, match="max_memory_gb"):
        AutoscalerLimits(1, 1, 0)
    limits = AutoscalerLimits(1, 1, 1)
    for field in ("scale_down_delay_after_add", "scale_down_unneeded_time", "max_node_provision_time"):
        error = refusal(ClusterAutoscaler, limits, **{field: Duration(0)})
        assert (str(error).split(" (")[0], error.field) == (f"{field} is a positive time", field)
        assert getattr(ClusterAutoscaler(limits, **{field: Duration(1)}), field) == Duration(1)
    error = refusal(ClusterAutoscaler, limits, enabled=False, node_auto_provisioning=True)
    assert str(error).startswith("node auto-provisioning is part of the cluster autoscaler: it needs enabled: true")
    assert error.field == "node_auto_provisioning"
    assert ClusterAutoscaler(limits, enabled=False).node_auto_provisioning is False
    assert ClusterAutoscaler(limits, node_auto_provisioning=True).enabled is True


def test_taint_effects_as_kubernetes_spells_them() -> None:
    assert TaintEffect.NO_SCHEDULE.kubernetes == "NoSchedule"
    assert TaintEffect.PREFER_NO_SCHEDULE.kubernetes == "PreferNoSchedule"
    assert TaintEffect.NO_EXECUTE.kubernetes == "NoExecute"


def pool(*zones: str, low: int = 1, high: int = 3, **fields: object) -> NodePool:
    return NodePool("app", zones or ("us-central1-a",), E2, low, high, **fields)  # type: ignore[arg-type]


def test_what_a_node_pool_refuses() -> None:
    error = refusal(NodePool, "app", (), E2, 1, 3)
    assert (str(error).split(" (")[0], error.field) == ("a node pool runs in at least one zone", "zones")
    error = refusal(pool, "us-central1-a", "us-central1")
    assert str(error).startswith("'us-central1' is not a zone such as 'us-central1-a'")
    assert (error.field, error.index) == ("zones", 1)
    for zone in ("US-central1-a", "us-central1-ab", "central1-a", "us-central-a", "xus-central1-a "):
        assert refusal(pool, zone).field == "zones"
    error = refusal(pool, "us-central1-a", "us-central1-b", "us-central1-a")
    assert str(error).startswith("zone 'us-central1-a' is listed twice")
    assert (error.field, error.index) == ("zones", 2)
    error = refusal(pool, low=-1)
    assert (str(error).split(" (")[0], error.field) == ("min_nodes is 0 or more, got -1", "min_nodes")
    error = refusal(pool, low=0, high=0)
    assert (str(error).split(" (")[0], error.field) == ("max_nodes is at least 1, got 0", "max_nodes")
    error = refusal(pool, low=4, high=3)
    assert (str(error).split(" (")[0], error.field) == ("min_nodes 4 is above max_nodes 3", "min_nodes")
    assert pool(low=0, high=1).min_nodes == 0
    assert pool(low=3, high=3).min_nodes == 3
    error = refusal(pool, disk_type="pd-fast")
    assert str(error).startswith(
        "unknown disk type 'pd-fast'; known: pd-standard, pd-balanced, pd-ssd, pd-extreme, hyperdisk-balanced, "
        "hyperdisk-extreme, hyperdisk-throughput"
    )
    assert error.field == "disk_type"
    error = refusal(pool, disk_size=ByteSize(10 * 10**9 - 1))
    assert (str(error).split(" (")[0], error.field) == ("GKE node disks are at least 10GB, got 9999999999", "disk_size")
    assert pool(disk_size=ByteSize(10 * 10**9)).disk_size == ByteSize(10 * 10**9)
    assert (pool().disk_size, pool().disk_type, pool().auto_scaling) == (ByteSize(100 * 10**9), "pd-balanced", True)


def test_a_pools_capacity_and_regions() -> None:
    spread = pool("us-central1-a", "us-central1-b", "us-east1-c", high=4)
    assert spread.max_total_nodes == 12
    assert spread.regions == frozenset({"us-central1", "us-east1"})


def test_what_a_cluster_refuses() -> None:
    for project in ("findly-now", "findly", "a" * 30):
        assert GKECluster("prod", "us-central1", project=project).project == project
    for project in ("findl", "a" * 31, "1findly", "findly-", "Findly-now"):
        error = refusal(GKECluster, "prod", "us-central1", project=project)
        assert str(error).startswith(
            f"{project!r} is not a Google Cloud project ID (6-30 lower-case letters, digits and '-', starting with a "
            "letter)"
        )
        assert error.field == "project"
    assert GKECluster("prod", "us-central1", project_number="123").project_number == "123"
    error = refusal(GKECluster, "prod", "us-central1", project_number="12a")
    assert error.field == "project_number"
    assert str(error).startswith("'12a' is not a project number")
    error = refusal(GKECluster, "prod", "us-central1", (pool(), NodePool("b", ("us-central1-a",), E2, 1, 1), pool()))
    assert str(error).startswith("node pool 'app' is listed twice")
    assert (error.field, error.index) == ("node_pools", 2)


@given(
    st.lists(
        st.tuples(
            st.integers(1, 3), st.integers(1, 9), st.sampled_from(["e2-standard-4", "n2-highmem-8", "e2-medium"])
        ),
        max_size=3,
    )
)
def test_a_clusters_capacity_is_its_pools(pools: list[tuple[int, int, str]]) -> None:
    zones = ("us-central1-a", "us-central1-b", "us-central1-c")
    node_pools = tuple(
        NodePool(f"p{n}", zones[:count], MachineType.parse(machine), 0, high)
        for n, (count, high, machine) in enumerate(pools)
    )
    cluster = GKECluster("prod", "us-central1", node_pools)
    assert cluster.max_cores == sum(count * high * MachineType.parse(m).vcpus for count, high, m in pools)
    assert cluster.max_memory_gb == pytest.approx(
        sum(count * high * MachineType.parse(m).memory_gb for count, high, m in pools)
    )
