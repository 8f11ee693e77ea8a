"""Clusters, node pools and autoscaling: the ``Infrastructure`` entity and its parts."""

from __future__ import annotations

import enum
import re

import attrs

from findly_infra.domain.environment import require_service_name, service_name_from_key
from findly_infra.domain.errors import InvariantError, first_repeat
from findly_infra.domain.notation import ByteSize, Duration, MachineType
from findly_infra.domain.workload_identity import project_number_problem

__all__ = [
    "AutoscalerLimits",
    "ClusterAutoscaler",
    "CustomMetricTarget",
    "ExternalMetricTarget",
    "GKECluster",
    "HorizontalAutoscaler",
    "Infrastructure",
    "NodePool",
    "ResourceMetricTarget",
    "ScalingMetric",
    "Taint",
    "TaintEffect",
]


@attrs.frozen
class ResourceMetricTarget:
    """Scale on a container resource (``cpu`` or ``memory``) to a target average utilisation."""

    name: str
    target_utilization: int

    def __attrs_post_init__(self) -> None:
        if self.name not in ("cpu", "memory"):
            raise InvariantError(f"a resource metric is 'cpu' or 'memory', got {self.name!r}", field="name")
        if not 0 < self.target_utilization <= 100:
            raise InvariantError(
                f"target_utilization is a percentage in (0, 100], got {self.target_utilization}",
                field="target_utilization",
            )


def _check_metric_target(metric_name: str, target_value: float) -> None:
    if not re.match(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$", metric_name):
        raise InvariantError(f"{metric_name!r} is not a metric name", field="metric_name")
    if not target_value > 0:
        raise InvariantError(f"target_value is above zero, got {target_value}", field="target_value")


@attrs.frozen
class CustomMetricTarget:
    """Scale on a per-pod metric (``http_requests_per_second``) to a target average value."""

    metric_name: str
    target_value: float

    def __attrs_post_init__(self) -> None:
        _check_metric_target(self.metric_name, self.target_value)


@attrs.frozen
class ExternalMetricTarget:
    """Scale on a metric from outside the cluster (``kafka_consumer_lag``) to a target value."""

    metric_name: str
    target_value: float

    def __attrs_post_init__(self) -> None:
        _check_metric_target(self.metric_name, self.target_value)


ScalingMetric = ResourceMetricTarget | CustomMetricTarget | ExternalMetricTarget


@attrs.frozen
class HorizontalAutoscaler:
    """A service's horizontal pod autoscaling policy (``hpa_configuration.fn_posts``)."""

    service: str
    min_replicas: int
    max_replicas: int
    metrics: tuple[ScalingMetric, ...] = ()

    def __attrs_post_init__(self) -> None:
        require_service_name(service_name_from_key(self.service), "service")
        if self.min_replicas < 1:
            raise InvariantError(f"min_replicas is at least 1, got {self.min_replicas}", field="min_replicas")
        if self.max_replicas < 1:
            raise InvariantError(f"max_replicas is at least 1, got {self.max_replicas}", field="max_replicas")
        if self.min_replicas > self.max_replicas:
            raise InvariantError(
                f"min_replicas {self.min_replicas} is above max_replicas {self.max_replicas}", field="min_replicas"
            )
        if not self.metrics:
            raise InvariantError("an autoscaler needs at least one metric to scale on", field="metrics")
        keys = [
            (type(metric).__name__, metric.name if isinstance(metric, ResourceMetricTarget) else metric.metric_name)
            for metric in self.metrics
        ]
        if (repeat := first_repeat(keys)) is not None:
            raise InvariantError(f"the metric {keys[repeat][1]!r} is listed twice", field="metrics", index=repeat)


@attrs.frozen
class AutoscalerLimits:
    max_nodes_per_pool: int = attrs.field(validator=attrs.validators.ge(1))
    max_cores: int = attrs.field(validator=attrs.validators.ge(1))
    max_memory_gb: int = attrs.field(validator=attrs.validators.ge(1))


@attrs.frozen
class ClusterAutoscaler:
    """The cluster autoscaler (section ``cluster_autoscaler``): its timings and limits, as the Kubernetes cluster
    autoscaler names them. On GKE it works per node pool: ``enabled`` lets each pool with ``auto_scaling`` scale
    between its own ``min_nodes`` and ``max_nodes`` (``enabled: false`` keeps every pool at the size it has). GKE holds
    cluster-wide cpu and memory limits only with node auto-provisioning — GKE creating node pools of its own — which
    ``node_auto_provisioning: true`` (our own key) asks for; without it ``resource_limits`` bound nothing on GKE, and
    ``validate`` checks the pools' capacity against them instead."""

    resource_limits: AutoscalerLimits
    enabled: bool = True
    scale_down_delay_after_add: Duration = Duration.of(minutes=10)
    scale_down_unneeded_time: Duration = Duration.of(minutes=10)
    max_node_provision_time: Duration = Duration.of(minutes=15)
    node_auto_provisioning: bool = False
    """GKE's node auto-provisioning (``ClusterAutoscaling.enable_node_autoprovisioning``): GKE creates and deletes
    node pools of its own, within ``max_cores`` and ``max_memory_gb`` across the cluster. Only when asked."""

    def __attrs_post_init__(self) -> None:
        for field in ("scale_down_delay_after_add", "scale_down_unneeded_time", "max_node_provision_time"):
            if getattr(self, field).milliseconds <= 0:
                raise InvariantError(f"{field} is a positive time", field=field)
        if self.node_auto_provisioning and not self.enabled:
            raise InvariantError(
                "node auto-provisioning is part of the cluster autoscaler: it needs enabled: true",
                field="node_auto_provisioning",
            )


class TaintEffect(enum.Enum):
    NO_SCHEDULE = "NO_SCHEDULE"
    PREFER_NO_SCHEDULE = "PREFER_NO_SCHEDULE"
    NO_EXECUTE = "NO_EXECUTE"

    @property
    def kubernetes(self) -> str:
        """The effect as Kubernetes spells it (``NoSchedule``)."""
        return "".join(part.capitalize() for part in self.value.split("_"))


@attrs.frozen
class Taint:
    key: str
    effect: TaintEffect
    value: str = ""


_DISK_TYPES = (
    "pd-standard",
    "pd-balanced",
    "pd-ssd",
    "pd-extreme",
    "hyperdisk-balanced",
    "hyperdisk-extreme",
    "hyperdisk-throughput",
)
_ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")


@attrs.frozen
class NodePool:
    """A GKE node pool. ``min_nodes`` and ``max_nodes`` count nodes per zone, as GKE's autoscaler does."""

    name: str
    zones: tuple[str, ...]
    machine_type: MachineType
    min_nodes: int
    max_nodes: int
    disk_size: ByteSize = ByteSize(100 * 10**9)
    disk_type: str = "pd-balanced"
    auto_scaling: bool = True
    taints: tuple[Taint, ...] = ()

    def __attrs_post_init__(self) -> None:
        if not self.zones:
            raise InvariantError("a node pool runs in at least one zone", field="zones")
        for index, zone in enumerate(self.zones):
            if not _ZONE.match(zone):
                raise InvariantError(f"{zone!r} is not a zone such as 'us-central1-a'", field="zones", index=index)
        if (repeat := first_repeat(self.zones)) is not None:
            raise InvariantError(f"zone {self.zones[repeat]!r} is listed twice", field="zones", index=repeat)
        if self.min_nodes < 0:
            raise InvariantError(f"min_nodes is 0 or more, got {self.min_nodes}", field="min_nodes")
        if self.max_nodes < 1:
            raise InvariantError(f"max_nodes is at least 1, got {self.max_nodes}", field="max_nodes")
        if self.min_nodes > self.max_nodes:
            raise InvariantError(f"min_nodes {self.min_nodes} is above max_nodes {self.max_nodes}", field="min_nodes")
        if self.disk_type not in _DISK_TYPES:
            raise InvariantError(
                f"unknown disk type {self.disk_type!r}; known: {', '.join(_DISK_TYPES)}", field="disk_type"
            )
        if self.disk_size.bytes < 10 * 10**9:
            raise InvariantError(f"GKE node disks are at least 10GB, got {self.disk_size}", field="disk_size")

    @property
    def max_total_nodes(self) -> int:
        return self.max_nodes * len(self.zones)

    @property
    def regions(self) -> frozenset[str]:
        return frozenset(match.group(1) for zone in self.zones if (match := _ZONE.match(zone)))


_PROJECT = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")


@attrs.frozen
class GKECluster:
    """The GKE cluster (section ``gke_cluster``); ``project`` is the Google Cloud project that holds it (our own
    field: ``cluster plan``/``cluster apply`` read it, else ``--project``, else the credentials' project)."""

    name: str
    location: str
    node_pools: tuple[NodePool, ...] = ()
    project: str | None = None
    workload_identity: bool | None = None
    """Workload Identity Federation for GKE (our own field): ``true`` gives the cluster the project's workload pool
    (``<project>.svc.id.goog``) and every node pool the file lists the GKE metadata server (``GKE_METADATA``), so
    that pods act as their Kubernetes service accounts' IAM principals; ``false`` turns it off; absent, the cluster
    keeps what it has."""
    project_number: str | None = None
    """The number of the project that holds the cluster (our own field; ``gcloud projects describe PROJECT
    --format='value(projectNumber)'``): the principal of a Kubernetes service account names it, so ``secrets grant``
    needs it to grant each service's pods their secrets."""

    def __attrs_post_init__(self) -> None:
        if self.project is not None and not _PROJECT.match(self.project):
            raise InvariantError(
                f"{self.project!r} is not a Google Cloud project ID (6-30 lower-case letters, digits and '-', starting "
                "with a letter)",
                field="project",
            )
        if self.project_number is not None and (problem := project_number_problem(self.project_number)):
            raise InvariantError(problem, field="project_number")
        names = [pool.name for pool in self.node_pools]
        if (repeat := first_repeat(names)) is not None:
            raise InvariantError(f"node pool {names[repeat]!r} is listed twice", field="node_pools", index=repeat)

    @property
    def max_cores(self) -> int:
        return sum(pool.max_total_nodes * pool.machine_type.vcpus for pool in self.node_pools)

    @property
    def max_memory_gb(self) -> float:
        return sum(pool.max_total_nodes * pool.machine_type.memory_gb for pool in self.node_pools)


@attrs.frozen
class Infrastructure:
    """The entity that groups the cluster, its autoscaler and the services' autoscaling policies."""

    cluster: GKECluster | None = None
    cluster_autoscaler: ClusterAutoscaler | None = None
    autoscaling: tuple[HorizontalAutoscaler, ...] = ()
