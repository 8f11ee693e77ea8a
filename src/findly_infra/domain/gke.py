"""What it takes to bring a GKE cluster to what the platform file describes: a plan people can review, decided here
(pure, property-tested) and carried out by the adapter, which only reads and calls.

Both sides are :class:`ClusterSpec` — the file's ``gke_cluster`` and ``cluster_autoscaler`` (``ClusterSpec.of``), and
what ``get_cluster``/``list_node_pools`` return (built by the adapter) — in the terms GKE's API uses: zones, a machine
type's name, disk size in GB, per-zone autoscaling bounds, taints, the workload metadata mode. :func:`plan_cluster`
compares them field by field. Every field the file models changes in place (the API's ``update_node_pool`` takes
machine type and disks since 2023, recreating the nodes by a surge upgrade; ``set_node_pool_autoscaling`` the
bounds), so a pool is created, updated, or — only when asked — deleted; each field says which call changes it and
whether it recreates nodes. What the file does not model stays as the cluster has it: an update keeps the pool's
Kubernetes version and image type (the observed side carries them; the adapter leaves them out of the update), and a
cluster-wide setting the file says nothing of is :attr:`Keep.AS_IS`.

The cluster autoscaler of the file maps to GKE thus (``ClusterSpec.of``): ``enabled`` is each pool's autoscaling;
``node_auto_provisioning: true`` — and only that — turns on GKE's node auto-provisioning (GKE creating node pools of
its own) within ``max_cores`` and ``max_memory_gb``, the only cluster-wide limits GKE holds; a ``cluster_autoscaler``
without it turns node auto-provisioning off, and the plan says so in plain words either way.
"""

from __future__ import annotations

import enum

import attrs

from findly_infra.domain.errors import InvariantError
from findly_infra.domain.infrastructure import ClusterAutoscaler, GKECluster, NodePool
from findly_infra.domain.recovery import FailoverSettings
from findly_infra.domain.workload_identity import workload_pool

__all__ = [
    "ClusterPlan",
    "ClusterSpec",
    "FieldChange",
    "Keep",
    "NodeAutoProvisioning",
    "PoolAction",
    "PoolChange",
    "PoolSpec",
    "dr_cluster_spec",
    "plan_cluster",
    "workload_pool",
]

GKE_METADATA = "GKE_METADATA"
GCE_METADATA = "GCE_METADATA"


class Keep(enum.Enum):
    """A cluster-wide setting the platform file says nothing of: the plan leaves the cluster's as it is."""

    AS_IS = "as is"


@attrs.frozen
class NodeAutoProvisioning:
    """GKE's node auto-provisioning (``ClusterAutoscaling.enable_node_autoprovisioning``): GKE creates and deletes
    node pools of its own, within the cluster-wide ``resource_limits`` for ``cpu`` (cores) and ``memory`` (GB) — the
    only cluster-wide limits GKE holds, and which it refuses without node auto-provisioning."""

    max_cores: int
    max_memory_gb: int

    def describe(self) -> str:
        return f"cpu ≤ {self.max_cores}, memory ≤ {self.max_memory_gb} GB"


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
    workload_metadata: str | None = None
    """``GKE_METADATA`` (Workload Identity) or ``GCE_METADATA``; ``None``: not set — on the file's side, the file says
    nothing of it, and the plan leaves the pool's as it is."""
    version: str | None = None
    """The nodes' Kubernetes version, as GKE reports it (the observed side; the file does not set it). An update
    keeps it; a new pool runs the control plane's."""
    image_type: str | None = None
    """The nodes' image (``COS_CONTAINERD``), as GKE reports it (the observed side); kept like the version."""

    @classmethod
    def of(cls, pool: NodePool, *, autoscaled: bool = True, workload_metadata: str | None = None) -> PoolSpec:
        """The file's *pool*; *autoscaled* is the cluster autoscaler's ``enabled`` (GKE autoscales per pool)."""
        return cls(
            name=pool.name,
            zones=tuple(sorted(pool.zones)),
            machine_type=pool.machine_type.name,
            disk_size_gb=round(pool.disk_size.bytes / 10**9),
            disk_type=pool.disk_type,
            autoscaling=pool.auto_scaling and autoscaled,
            min_nodes=pool.min_nodes,
            max_nodes=pool.max_nodes,
            taints=tuple(sorted((taint.key, taint.value, taint.effect.value) for taint in pool.taints)),
            workload_metadata=workload_metadata,
        )


@attrs.frozen
class ClusterSpec:
    """A GKE cluster in the plan's terms. On the file's side a cluster-wide setting may be :attr:`Keep.AS_IS`;
    on the cluster's side ``None`` is "off"."""

    name: str
    location: str
    pools: tuple[PoolSpec, ...] = ()
    """Sorted by name."""
    auto_provisioning: NodeAutoProvisioning | Keep | None = None
    """Node auto-provisioning and its limits; ``None``: off."""
    workload_pool: str | Keep | None = None
    """The Workload Identity pool (``<project>.svc.id.goog``); ``None``: Workload Identity off."""
    master_version: str | None = None
    """The control plane's Kubernetes version (the cluster's side): what a new node pool runs. On the file's side,
    only for a DR copy (:func:`dr_cluster_spec` with its primary): the version it is created at."""
    release_channel: str | None = None
    """The release channel (``RAPID``, ``REGULAR``, ``STABLE``, ``EXTENDED``; ``None``: none, or not known) — read
    from the cluster; on the file's side, only for a DR copy: the primary's, so that the regions do not drift."""

    @classmethod
    def of(
        cls, cluster: GKECluster, autoscaler: ClusterAutoscaler | None = None, *, project: str | None = None
    ) -> ClusterSpec:
        """The file's *cluster* and *autoscaler*; *project* names the workload pool where the file asks for
        Workload Identity (else ``cluster.project``)."""
        auto_provisioning: NodeAutoProvisioning | Keep | None = Keep.AS_IS
        if autoscaler is not None:
            limits = autoscaler.resource_limits
            wanted = autoscaler.node_auto_provisioning
            auto_provisioning = NodeAutoProvisioning(limits.max_cores, limits.max_memory_gb) if wanted else None
        pool: str | Keep | None = Keep.AS_IS
        metadata = None
        if cluster.workload_identity is not None:
            holder = project or cluster.project
            if cluster.workload_identity and holder is None:
                raise ValueError(
                    "Workload Identity needs the cluster's project: its workload pool is <project>.svc.id.goog"
                )
            pool = workload_pool(holder) if cluster.workload_identity and holder is not None else None
            metadata = GKE_METADATA if cluster.workload_identity else GCE_METADATA
        autoscaled = autoscaler is None or autoscaler.enabled
        pools = tuple(
            sorted(
                (PoolSpec.of(each, autoscaled=autoscaled, workload_metadata=metadata) for each in cluster.node_pools),
                key=lambda each: each.name,
            )
        )
        return cls(cluster.name, cluster.location, pools, auto_provisioning, pool)

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
        """The change in plain words (``machine_type: e2-standard-4 -> e2-standard-8  (update_node_pool, ...)``)."""
        how = f"{self.call}, recreates the nodes (surge upgrade)" if self.recreates_nodes else self.call
        if self.field == "auto_provisioning":
            return f"{_auto_provisioning(self.before, self.after)}  ({how})"
        if self.field == "workload_pool":
            if self.after is None:
                return f"workload identity: on (workload pool {self.before}) -> off  ({how}, after the node pools)"
            was = "off" if self.before is None else f"on (workload pool {self.before})"
            return f"workload identity: {was} -> on: workload pool {self.after}  ({how})"
        return f"{self.field}: {_shown(self.before)} -> {_shown(self.after)}  ({how})"


def _auto_provisioning(before: object, after: object) -> str:
    if isinstance(after, NodeAutoProvisioning) and isinstance(before, NodeAutoProvisioning):
        return (
            f"node auto-provisioning: GKE creates node pools of its own within {after.describe()} "
            f"(was {before.describe()})"
        )
    if isinstance(after, NodeAutoProvisioning):
        return f"node auto-provisioning: off -> on: GKE creates node pools of its own within {after.describe()}"
    was = f" (it could within {before.describe()})" if isinstance(before, NodeAutoProvisioning) else ""
    return f"node auto-provisioning: on -> off: GKE creates no node pools of its own any more{was}"


@attrs.frozen
class PoolChange:
    pool: str
    action: PoolAction
    fields: tuple[FieldChange, ...] = ()
    spec: PoolSpec | None = None
    """What the pool becomes (create, update: with the version and image type it keeps); ``None`` for a delete or a
    pool kept as it is."""
    was: PoolSpec | None = None
    """The pool as the cluster holds it (update, delete, kept); ``None`` for a pool the plan creates."""


@attrs.frozen
class ClusterPlan:
    """What differs between the file and the cluster, in the order it is applied: the cluster-wide settings first
    (node auto-provisioning's limits, which new pools count against; Workload Identity, which a pool's GKE_METADATA
    needs), then pool updates, creations, deletions, and last Workload Identity turned off (after the pools leave
    GKE_METADATA, as GKE's documentation orders it)."""

    cluster: str
    location: str
    cluster_changes: tuple[FieldChange, ...] = ()
    pools: tuple[PoolChange, ...] = ()
    unchanged: tuple[str, ...] = ()
    master_version: str | None = None
    """The control plane's version: what a created pool runs."""
    creates: ClusterSpec | None = None
    """The cluster does not exist: it is created as this (its node pools and settings, ``create_cluster``, one
    operation), and nothing else is done (``cluster_changes`` and ``pools`` are empty)."""

    @property
    def empty(self) -> bool:
        """No difference at all (a pool the file does not list counts: it is drift, even when kept)."""
        return self.creates is None and not self.cluster_changes and not self.pools

    @property
    def actionable(self) -> tuple[PoolChange, ...]:
        """The pool changes ``apply`` carries out (not the unlisted pools it keeps)."""
        return tuple(change for change in self.pools if change.action is not PoolAction.KEEP_UNLISTED)

    @property
    def before_pools(self) -> tuple[FieldChange, ...]:
        """The cluster-wide changes made before the pools'."""
        return tuple(change for change in self.cluster_changes if not _after_pools(change))

    @property
    def after_pools(self) -> tuple[FieldChange, ...]:
        """The cluster-wide changes made after the pools': Workload Identity turned off."""
        return tuple(change for change in self.cluster_changes if _after_pools(change))

    def apply_to(self, observed: ClusterSpec | None) -> ClusterSpec:
        """The cluster after the plan is carried out on *observed* (``None``: there is none, and the plan creates
        it) — what ``apply`` must leave; property-tested. A created cluster's settings the file leaves
        :attr:`Keep.AS_IS` are off."""
        if observed is None:
            assert self.creates is not None, "only a plan that creates the cluster applies to no cluster"
            created = self.creates
            provisioning = None if isinstance(created.auto_provisioning, Keep) else created.auto_provisioning
            pool = None if isinstance(created.workload_pool, Keep) else created.workload_pool
            return attrs.evolve(created, auto_provisioning=provisioning, workload_pool=pool)
        pools = {pool.name: pool for pool in observed.pools}
        for change in self.actionable:
            if change.action is PoolAction.DELETE:
                pools.pop(change.pool, None)
            else:
                assert change.spec is not None
                pools[change.pool] = change.spec
        settings = {change.field: change.after for change in self.cluster_changes}
        return attrs.evolve(
            observed,
            pools=tuple(sorted(pools.values(), key=lambda pool: pool.name)),
            **settings,  # type: ignore[arg-type]
        )

    def describe(self) -> str:
        lines = [f"cluster {self.cluster} ({self.location}):"]
        if self.creates is not None:
            return "\n".join(lines + _created_lines(self.creates))
        lines += [f"  {change.describe()}" for change in self.before_pools]
        for change in self.pools:
            lines.append(f"  node pool {change.pool}: {change.action.value}")
            spec = change.spec
            if change.action is PoolAction.CREATE and spec is not None:
                version = (
                    f"the control plane's version {self.master_version}" if self.master_version else "GKE's default"
                )
                lines.append(f"    {_pool_text(spec)}, at {version}")
            if change.action in (PoolAction.DELETE, PoolAction.KEEP_UNLISTED) and change.was is not None:
                was = change.was
                lines.append(f"    is: {_pool_text(was)}, at {was.version or 'an unknown version'}")
            lines += [f"    {field.describe()}" for field in change.fields]
            if change.action is PoolAction.UPDATE and spec is not None and spec.version:
                lines.append(f"    kept: version {spec.version}, image {spec.image_type or 'unknown'}")
        lines += [f"  {change.describe()}" for change in self.after_pools]
        if self.unchanged:
            lines.append(f"  no change: {', '.join(self.unchanged)}")
        if self.empty:
            lines.append("  nothing to change: the cluster is as the file says")
        return "\n".join(lines)


def _pool_text(spec: PoolSpec) -> str:
    """``e2-standard-4, 100GB pd-balanced, 1-3 nodes per zone in us-central1-a, GKE_METADATA``."""
    metadata = f", {spec.workload_metadata}" if spec.workload_metadata else ""
    scaled = "" if spec.autoscaling else " (not autoscaled)"
    taints = f", taints {_shown(spec.taints)}" if spec.taints else ""
    return (
        f"{spec.machine_type}, {spec.disk_size_gb}GB {spec.disk_type}, {spec.min_nodes}-{spec.max_nodes} nodes per "
        f"zone{scaled} in {', '.join(spec.zones)}{taints}{metadata}"
    )


def _after_pools(change: FieldChange) -> bool:
    return change.field == "workload_pool" and change.after is None


_UPDATE = "update_node_pool"
_AUTOSCALING = "set_node_pool_autoscaling"
_FIELDS: tuple[tuple[str, str, bool], ...] = (
    # (field, the call that changes it, whether it recreates the nodes)
    ("zones", _UPDATE, False),
    ("machine_type", _UPDATE, True),
    ("disk_type", _UPDATE, True),
    ("disk_size_gb", _UPDATE, True),
    ("taints", _UPDATE, False),
    ("workload_metadata", _UPDATE, False),
    ("autoscaling", _AUTOSCALING, False),
    ("min_nodes", _AUTOSCALING, False),
    ("max_nodes", _AUTOSCALING, False),
)
"""Every field a pool's plan compares: the API changes each in place. ``workload_metadata`` only where the file
sets it; the bounds (:data:`_BOUNDS`) only of a pool the file autoscales."""

_BOUNDS = ("min_nodes", "max_nodes")


_POOL_ORDER = (PoolAction.UPDATE, PoolAction.CREATE, PoolAction.DELETE, PoolAction.KEEP_UNLISTED)
"""The order pool changes are applied in (each by name): updates, creations, then deletions — or the unlisted pools
kept (a plan has deletions or kept pools, never both)."""


def _held(value: object) -> object:
    """A cluster-wide setting as the cluster holds it (what is not known counts as off)."""
    return None if isinstance(value, Keep) else value


def plan_cluster(desired: ClusterSpec, observed: ClusterSpec | None, *, delete_pools: bool = False) -> ClusterPlan:
    """The plan that takes *observed* to *desired*: empty when they are equal; the cluster created whole when
    *observed* is ``None`` (it does not exist). A pool the cluster has and the file does not list is deleted only
    with *delete_pools* (else it stays, shown as drift)."""
    if observed is None:
        return ClusterPlan(desired.name, desired.location, creates=desired)
    cluster_changes = tuple(
        FieldChange(name, _held(getattr(observed, name)), getattr(desired, name), "update_cluster")
        for name in ("auto_provisioning", "workload_pool")
        if not isinstance(getattr(desired, name), Keep) and getattr(desired, name) != _held(getattr(observed, name))
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
            if getattr(pool, name) is not None
            and getattr(current, name) != getattr(pool, name)
            and (pool.autoscaling or name not in _BOUNDS)  # a pool not autoscaled has no bounds: it is sent
            # {enabled: false} alone, and what GKE keeps of bounds then is not published (adapters.gke._autoscaling)
        )
        if fields:
            becomes = attrs.evolve(
                pool,
                version=current.version,
                image_type=current.image_type,
                workload_metadata=pool.workload_metadata or current.workload_metadata,
            )
            changes.append(PoolChange(pool.name, PoolAction.UPDATE, fields, spec=becomes, was=current))
        else:
            unchanged.append(pool.name)
    for pool in observed.pools:
        if desired.pool(pool.name) is None:
            action = PoolAction.DELETE if delete_pools else PoolAction.KEEP_UNLISTED
            changes.append(PoolChange(pool.name, action, was=pool))
    changes.sort(key=lambda change: (_POOL_ORDER.index(change.action), change.pool))
    return ClusterPlan(
        desired.name, desired.location, cluster_changes, tuple(changes), tuple(unchanged), observed.master_version
    )


def _created_lines(created: ClusterSpec) -> list[str]:
    """How a cluster the plan creates is created: its settings, version and channel, and its node pools."""
    lines = ["  create the cluster (it does not exist): create_cluster, one operation"]
    for setting in (created.auto_provisioning, created.workload_pool):
        if isinstance(setting, NodeAutoProvisioning):
            lines.append(
                f"    node auto-provisioning on: GKE creates node pools of its own within {setting.describe()}"
            )
        elif isinstance(setting, str):
            lines.append(f"    workload identity on: workload pool {setting}")
    channel = f"in the {created.release_channel} release channel" if created.release_channel else ""
    if created.master_version:
        lines.append(f"    control plane at {created.master_version} {channel}".rstrip())
    elif channel:
        lines.append(f"    {channel}, at its default version")
    at = created.master_version or "GKE's default version"
    for pool in created.pools:
        lines.append(f"    node pool {pool.name}: {_pool_text(pool)}, at {at}")
    return lines


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


def dr_cluster_spec(
    cluster: GKECluster,
    autoscaler: ClusterAutoscaler | None,
    failover: FailoverSettings,
    dr_region: str,
    *,
    project: str | None = None,
    primary: ClusterSpec | None = None,
) -> ClusterSpec:
    """The DR region's copy of the file's *cluster*: named ``failover.cluster.name`` (default ``<name>-dr``), in
    *dr_region*, the same node pools with each zone mapped through ``failover.cluster.zones``. A zone the mapping
    does not name, or a DR zone outside *dr_region*, is refused (:class:`InvariantError`, field ``zones``): regions
    do not share zone letters, so no zone is guessed. With *primary* (the file's cluster as GKE holds it), the copy
    is created at the primary's control plane version and in its release channel — else GKE enrolls it in REGULAR
    at that channel's default (``Cluster.release_channel``, cluster_service.proto), which may be another minor, and
    upgrades it on REGULAR's schedule: the copy would drift from what the manifests were proven on."""
    mapped = []
    for pool in cluster.node_pools:
        zones = []
        for zone in pool.zones:
            target = failover.cluster.zone_for(zone)
            if target is None:
                raise InvariantError(
                    f"node pool {pool.name} runs in {zone}, which failover.cluster.zones does not map to a zone of "
                    f"{dr_region}",
                    field="zones",
                )
            if not target.startswith(f"{dr_region}-"):
                raise InvariantError(f"{target} is not a zone of the DR region {dr_region}", field="zones")
            zones.append(target)
        mapped.append(attrs.evolve(pool, zones=tuple(zones)))
    copy = attrs.evolve(
        cluster,
        name=failover.cluster.name or f"{cluster.name}-dr",
        location=dr_region,
        node_pools=tuple(mapped),
    )
    spec = ClusterSpec.of(copy, autoscaler, project=project)
    if primary is None:
        return spec
    return attrs.evolve(spec, master_version=primary.master_version, release_channel=primary.release_channel)
