"""What it takes to bring a GKE cluster to what the platform file describes: a plan people can review, decided here
(pure, property-tested) and carried out by the adapter, which only reads and calls.

Both sides are :class:`ClusterSpec` — the file's ``gke_cluster`` and ``cluster_autoscaler`` (``ClusterSpec.of``), and
what ``get_cluster``/``list_node_pools`` return (built by the adapter) — in the terms GKE's API uses: zones, a machine
type's name, disk size in GB, per-zone autoscaling bounds, taints. :func:`plan_cluster` compares them field by field.
Every field the file models changes in place (the API's ``update_node_pool`` takes machine type and disks since
2023, recreating the nodes by a surge upgrade; ``set_node_pool_autoscaling`` the bounds), so a pool is created,
updated, or — only when asked — deleted; each field says which call changes it and whether it recreates nodes.
"""

from __future__ import annotations

import enum

import attrs

from findly_infra.domain.infrastructure import ClusterAutoscaler, GKECluster, NodePool

__all__ = [
    "AutoscalingLimits",
    "ClusterPlan",
    "ClusterSpec",
    "FieldChange",
    "PoolAction",
    "PoolChange",
    "PoolSpec",
    "plan_cluster",
]


@attrs.frozen
class PoolSpec:
    """A node pool as the plan compares it. ``min_nodes``/``max_nodes`` count per zone (GKE's autoscaler bounds)."""

    name: str
    zones: tuple[str, ...]
    machine_type: str
    disk_size_gb: int
    disk_type: str
    autoscaling: bool
    min_nodes: int
    max_nodes: int
    taints: tuple[tuple[str, str, str], ...] = ()
    """(key, value, effect) — effect as GKE spells it (``NO_SCHEDULE``), sorted."""

    @classmethod
    def of(cls, pool: NodePool) -> PoolSpec:
        return cls(
            name=pool.name,
            zones=tuple(sorted(pool.zones)),
            machine_type=pool.machine_type.name,
            disk_size_gb=round(pool.disk_size.bytes / 10**9),
            disk_type=pool.disk_type,
            autoscaling=pool.auto_scaling,
            min_nodes=pool.min_nodes,
            max_nodes=pool.max_nodes,
            taints=tuple(sorted((taint.key, taint.value, taint.effect.value) for taint in pool.taints)),
        )


@attrs.frozen
class AutoscalingLimits:
    """The cluster autoscaler's cluster-wide limits (GKE's ``resource_limits`` for ``cpu`` and ``memory``)."""

    enabled: bool
    max_cores: int
    max_memory_gb: int


@attrs.frozen
class ClusterSpec:
    name: str
    location: str
    pools: tuple[PoolSpec, ...] = ()
    """Sorted by name."""
    autoscaling: AutoscalingLimits | None = None
    """``None``: the file says nothing of it (the plan leaves the cluster's as it is)."""

    @classmethod
    def of(cls, cluster: GKECluster, autoscaler: ClusterAutoscaler | None = None) -> ClusterSpec:
        limits = None
        if autoscaler is not None:
            resource = autoscaler.resource_limits
            limits = AutoscalingLimits(autoscaler.enabled, resource.max_cores, resource.max_memory_gb)
        pools = tuple(sorted((PoolSpec.of(pool) for pool in cluster.node_pools), key=lambda pool: pool.name))
        return cls(cluster.name, cluster.location, pools, limits)

    def pool(self, name: str) -> PoolSpec | None:
        return next((pool for pool in self.pools if pool.name == name), None)


class PoolAction(enum.Enum):
    CREATE = "create"
    UPDATE = "update in place"
    DELETE = "delete"
    KEEP_UNLISTED = "not in the file (kept: delete it with --delete-pools)"


@attrs.frozen
class FieldChange:
    """One field that differs: its value in the cluster and in the file, the API call that changes it, and whether
    that call recreates the pool's nodes."""

    field: str
    before: object
    after: object
    call: str
    recreates_nodes: bool = False

    def describe(self) -> str:
        how = f"{self.call}, recreates the nodes (surge upgrade)" if self.recreates_nodes else self.call
        return f"{self.field}: {_shown(self.before)} -> {_shown(self.after)}  ({how})"


@attrs.frozen
class PoolChange:
    pool: str
    action: PoolAction
    fields: tuple[FieldChange, ...] = ()
    spec: PoolSpec | None = None
    """What the pool becomes (create, update); ``None`` for a delete or a pool kept as it is."""


@attrs.frozen
class ClusterPlan:
    """What differs between the file and the cluster, pool by pool, in the order it is applied: the cluster's
    autoscaling limits first (new pools fit under them), then updates, creations, and deletions last."""

    cluster: str
    location: str
    autoscaling: tuple[FieldChange, ...] = ()
    pools: tuple[PoolChange, ...] = ()
    unchanged: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """No difference at all (a pool the file does not list counts: it is drift, even when kept)."""
        return not self.autoscaling and not self.pools

    @property
    def actionable(self) -> tuple[PoolChange, ...]:
        """The pool changes ``apply`` carries out (not the unlisted pools it keeps)."""
        return tuple(change for change in self.pools if change.action is not PoolAction.KEEP_UNLISTED)

    def apply_to(self, observed: ClusterSpec) -> ClusterSpec:
        """The cluster after the plan is carried out on *observed* (what ``apply`` must leave; property-tested)."""
        pools = {pool.name: pool for pool in observed.pools}
        for change in self.actionable:
            if change.action is PoolAction.DELETE:
                pools.pop(change.pool, None)
            else:
                assert change.spec is not None
                pools[change.pool] = change.spec
        autoscaling = observed.autoscaling
        if self.autoscaling:
            values = {change.field: change.after for change in self.autoscaling}
            base = autoscaling or AutoscalingLimits(False, 0, 0)
            autoscaling = attrs.evolve(base, **values)  # type: ignore[arg-type]
        return attrs.evolve(
            observed, pools=tuple(sorted(pools.values(), key=lambda pool: pool.name)), autoscaling=autoscaling
        )

    def describe(self) -> str:
        lines = [f"cluster {self.cluster} ({self.location}):"]
        lines += [f"  autoscaling {change.describe()}" for change in self.autoscaling]
        for change in self.pools:
            lines.append(f"  node pool {change.pool}: {change.action.value}")
            if change.action is PoolAction.CREATE and change.spec is not None:
                spec = change.spec
                lines.append(
                    f"    {spec.machine_type}, {spec.disk_size_gb}GB {spec.disk_type}, {spec.min_nodes}-"
                    f"{spec.max_nodes} nodes per zone in {', '.join(spec.zones)}"
                )
            lines += [f"    {field.describe()}" for field in change.fields]
        if self.unchanged:
            lines.append(f"  no change: {', '.join(self.unchanged)}")
        if self.empty:
            lines.append("  nothing to change: the cluster is as the file says")
        return "\n".join(lines)


_UPDATE = "update_node_pool"
_AUTOSCALING = "set_node_pool_autoscaling"
_FIELDS: tuple[tuple[str, str, bool], ...] = (
    # (field, the call that changes it, whether it recreates the nodes)
    ("zones", _UPDATE, False),
    ("machine_type", _UPDATE, True),
    ("disk_type", _UPDATE, True),
    ("disk_size_gb", _UPDATE, True),
    ("taints", _UPDATE, False),
    ("autoscaling", _AUTOSCALING, False),
    ("min_nodes", _AUTOSCALING, False),
    ("max_nodes", _AUTOSCALING, False),
)
"""Every field a pool's plan compares: the API changes each in place."""


def plan_cluster(desired: ClusterSpec, observed: ClusterSpec, *, delete_pools: bool = False) -> ClusterPlan:
    """The plan that takes *observed* to *desired*: empty when they are equal. A pool the cluster has and the file
    does not list is deleted only with *delete_pools* (else it stays, shown as drift)."""
    autoscaling: tuple[FieldChange, ...] = ()
    if desired.autoscaling is not None and desired.autoscaling != observed.autoscaling:
        before = observed.autoscaling
        autoscaling = tuple(
            FieldChange(name, None if before is None else getattr(before, name), value, "update_cluster")
            for name, value in attrs.asdict(desired.autoscaling).items()
            if before is None or getattr(before, name) != value
        )
    changes: list[PoolChange] = []
    unchanged: list[str] = []
    for pool in desired.pools:
        current = observed.pool(pool.name)
        if current is None:
            changes.append(PoolChange(pool.name, PoolAction.CREATE, spec=pool))
            continue
        fields = tuple(
            FieldChange(name, getattr(current, name), getattr(pool, name), call, recreates)
            for name, call, recreates in _FIELDS
            if getattr(current, name) != getattr(pool, name)
        )
        if fields:
            changes.append(PoolChange(pool.name, PoolAction.UPDATE, fields, spec=pool))
        else:
            unchanged.append(pool.name)
    for pool in observed.pools:
        if desired.pool(pool.name) is None:
            changes.append(PoolChange(pool.name, PoolAction.DELETE if delete_pools else PoolAction.KEEP_UNLISTED))
    order = {PoolAction.UPDATE: 0, PoolAction.CREATE: 1, PoolAction.DELETE: 2, PoolAction.KEEP_UNLISTED: 3}
    changes.sort(key=lambda change: (order[change.action], change.pool))
    return ClusterPlan(desired.name, desired.location, autoscaling, tuple(changes), tuple(unchanged))


def _shown(value: object) -> str:
    if isinstance(value, tuple) and value and all(isinstance(item, tuple) and len(item) == 3 for item in value):
        return ", ".join(f"{key}={text}:{effect}" for key, text, effect in value)  # taints, as kubectl shows them
    if isinstance(value, tuple):
        return "[" + ", ".join(_shown(item) for item in value) + "]" if value else "none"
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
