"""The rules of ``domain.gke``, pinned: the file's cluster in GKE's terms (``ClusterSpec.of``: sizes in GB, sorted
zones and taints, per-pool autoscaling, node auto-provisioning only when asked, the workload pool and metadata mode
of Workload Identity), the plan of field changes and the calls that make them (GKE API ``UpdateNodePoolRequest``
takes machine type, disk type and size and recreates nodes by surge upgrade; ``SetNodePoolAutoscalingRequest`` the
bounds: https://cloud.google.com/kubernetes-engine/docs/reference/rest/v1/projects.locations.clusters.nodePools), the
order they are applied in, and the plan in plain words."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.gke import (
    ClusterPlan,
    ClusterSpec,
    FieldChange,
    Keep,
    NodeAutoProvisioning,
    PoolAction,
    PoolChange,
    PoolSpec,
    plan_cluster,
)
from findly_infra.domain.infrastructure import (
    AutoscalerLimits,
    ClusterAutoscaler,
    GKECluster,
    NodePool,
    Taint,
    TaintEffect,
)
from findly_infra.domain.notation import ByteSize, MachineType

ZONES = ("us-central1-a", "us-central1-b", "us-central1-c")
POOL = "findly-now.svc.id.goog"


def spec(name: str = "app", **changes: object) -> PoolSpec:
    base = PoolSpec(name, ("us-central1-a",), "e2-standard-4", 100, "pd-ssd", True, 1, 5)
    return attrs.evolve(base, **changes)


def node_pool(name: str = "app", **changes: object) -> NodePool:
    base = NodePool(name, ("us-central1-b", "us-central1-a"), MachineType.parse("e2-standard-4"), 1, 5)
    return attrs.evolve(base, **changes)


def autoscaler(*, enabled: bool = True, provisioning: bool = False) -> ClusterAutoscaler:
    return ClusterAutoscaler(AutoscalerLimits(10, 64, 256), enabled=enabled, node_auto_provisioning=provisioning)


# ---- the file's side ---------------------------------------------------------------------------------------------


def test_a_node_pool_in_gkes_terms() -> None:
    pool = node_pool(
        disk_size=ByteSize.parse("120GB"),
        disk_type="pd-ssd",
        taints=(Taint("zz", TaintEffect.NO_EXECUTE), Taint("aa", TaintEffect.NO_SCHEDULE, "yes")),
    )
    assert PoolSpec.of(pool) == PoolSpec(
        "app",
        ("us-central1-a", "us-central1-b"),
        "e2-standard-4",
        120,
        "pd-ssd",
        True,
        1,
        5,
        taints=(("aa", "yes", "NO_SCHEDULE"), ("zz", "", "NO_EXECUTE")),
        workload_metadata=None,
    )
    assert PoolSpec.of(pool, workload_metadata="GKE_METADATA").workload_metadata == "GKE_METADATA"
    assert PoolSpec.of(pool, autoscaled=False).autoscaling is False
    assert PoolSpec.of(attrs.evolve(pool, auto_scaling=False)).autoscaling is False
    # GB are decimal and rounded: 100GiB is 107GB
    assert PoolSpec.of(node_pool(disk_size=ByteSize.parse("100Gi"))).disk_size_gb == 107


@given(st.integers(10 * 10**9, 10**13))
def test_a_disk_size_is_the_nearest_whole_gb(size: int) -> None:
    assert PoolSpec.of(node_pool(disk_size=ByteSize(size))).disk_size_gb == round(size / 10**9)


@pytest.mark.parametrize(
    ("scaler", "expected"),
    [
        (None, Keep.AS_IS),
        (autoscaler(), None),
        (autoscaler(enabled=False), None),
        (autoscaler(provisioning=True), NodeAutoProvisioning(64, 256)),
    ],
)
def test_node_auto_provisioning_only_when_the_file_asks(
    scaler: ClusterAutoscaler | None, expected: NodeAutoProvisioning | Keep | None
) -> None:
    cluster = GKECluster("prod", "us-central1", (node_pool("b"), node_pool("a")))
    desired = ClusterSpec.of(cluster, scaler)
    assert desired.auto_provisioning == expected
    assert [pool.name for pool in desired.pools] == ["a", "b"]
    assert all(pool.autoscaling is (scaler is None or scaler.enabled) for pool in desired.pools)
    assert (desired.name, desired.location, desired.master_version) == ("prod", "us-central1", None)


@pytest.mark.parametrize(
    ("identity", "project", "workload_pool", "metadata"),
    [
        (None, None, Keep.AS_IS, None),
        (None, "findly-now", Keep.AS_IS, None),
        (True, "findly-now", POOL, "GKE_METADATA"),
        (False, None, None, "GCE_METADATA"),
        (False, "findly-now", None, "GCE_METADATA"),
    ],
)
def test_workload_identity_in_gkes_terms(
    identity: bool | None, project: str | None, workload_pool: str | Keep | None, metadata: str | None
) -> None:
    cluster = GKECluster("prod", "us-central1", (node_pool(),), workload_identity=identity)
    desired = ClusterSpec.of(cluster, project=project)
    assert desired.workload_pool == workload_pool
    assert desired.pools[0].workload_metadata == metadata
    # the cluster's own project names the pool where none is given
    held = ClusterSpec.of(attrs.evolve(cluster, project="other-project"), project=project)
    if identity:
        assert held.workload_pool == f"{project or 'other-project'}.svc.id.goog"


def test_workload_identity_needs_a_project() -> None:
    cluster = GKECluster("prod", "us-central1", (node_pool(),), workload_identity=True)
    with pytest.raises(ValueError, match=r"^Workload Identity") as refused:
        ClusterSpec.of(cluster)
    assert str(refused.value) == (
        "Workload Identity needs the cluster's project: its workload pool is <project>.svc.id.goog"
    )
    assert ClusterSpec.of(attrs.evolve(cluster, project="findly-now")).workload_pool == POOL


def test_a_pool_is_found_by_name() -> None:
    cluster = ClusterSpec("prod", "us-central1", (spec("a"), spec("b")))
    assert cluster.pool("b") == spec("b")
    assert cluster.pool("c") is None


# ---- the plan ----------------------------------------------------------------------------------------------------

FIELDS = {
    "zones": (("us-central1-a", "us-central1-b"), "update_node_pool", False),
    "machine_type": ("e2-standard-8", "update_node_pool", True),
    "disk_type": ("pd-balanced", "update_node_pool", True),
    "disk_size_gb": (200, "update_node_pool", True),
    "taints": ((("gpu", "", "NO_EXECUTE"),), "update_node_pool", False),
    "workload_metadata": ("GKE_METADATA", "update_node_pool", False),
    "autoscaling": (False, "set_node_pool_autoscaling", False),
    "min_nodes": (0, "set_node_pool_autoscaling", False),
    "max_nodes": (9, "set_node_pool_autoscaling", False),
}


@pytest.mark.parametrize("field", sorted(FIELDS))
def test_each_field_changes_by_its_call(field: str) -> None:
    value, call, recreates = FIELDS[field]
    observed = ClusterSpec("prod", "us-central1", (spec(version="1.30", image_type="COS_CONTAINERD"),))
    desired = ClusterSpec("prod", "us-central1", (spec(**{field: value}),))
    plan = plan_cluster(desired, observed)
    (change,) = plan.pools
    assert change.action is PoolAction.UPDATE
    assert change.fields == (FieldChange(field, getattr(observed.pools[0], field), value, call, recreates),)
    assert change.spec == attrs.evolve(desired.pools[0], version="1.30", image_type="COS_CONTAINERD")
    assert plan.unchanged == ()
    assert not plan.empty
    assert plan.actionable == (change,)


def test_a_workload_metadata_the_file_leaves_unset_stays_as_the_cluster_has_it() -> None:
    observed = ClusterSpec("prod", "us-central1", (spec(workload_metadata="GKE_METADATA"),))
    desired = ClusterSpec("prod", "us-central1", (spec(workload_metadata=None),))
    assert plan_cluster(desired, observed).unchanged == ("app",)
    resized = ClusterSpec("prod", "us-central1", (spec(max_nodes=9),))
    (change,) = plan_cluster(resized, observed).pools
    assert change.spec is not None
    assert change.spec.workload_metadata == "GKE_METADATA"
    switched = ClusterSpec("prod", "us-central1", (spec(max_nodes=9, workload_metadata="GCE_METADATA"),))
    (change,) = plan_cluster(switched, observed).pools
    assert change.spec is not None
    assert change.spec.workload_metadata == "GCE_METADATA"


def test_pools_are_updated_then_created_then_deleted_each_by_name() -> None:
    observed = ClusterSpec(
        "prod", "us-central1", (spec("b"), spec("d"), spec("e"), spec("z"), spec("y")), master_version="1.31"
    )
    desired = ClusterSpec("prod", "us-central1", (spec("c"), spec("a"), spec("z", max_nodes=9), spec("b", min_nodes=0)))
    plan = plan_cluster(desired, observed)
    assert [(change.pool, change.action) for change in plan.pools] == [
        ("b", PoolAction.UPDATE),
        ("z", PoolAction.UPDATE),
        ("a", PoolAction.CREATE),
        ("c", PoolAction.CREATE),
        ("d", PoolAction.KEEP_UNLISTED),
        ("e", PoolAction.KEEP_UNLISTED),
        ("y", PoolAction.KEEP_UNLISTED),
    ]
    assert plan.master_version == "1.31"
    assert (plan.cluster, plan.location) == ("prod", "us-central1")
    assert [change.pool for change in plan.actionable] == ["b", "z", "a", "c"]
    assert plan.pools[2].spec == spec("a")
    assert plan.pools[4].spec is None
    deleting = plan_cluster(desired, observed, delete_pools=True)
    assert [change.action for change in deleting.pools][4:] == [PoolAction.DELETE] * 3
    assert [change.pool for change in deleting.actionable][4:] == ["d", "e", "y"]
    after = deleting.apply_to(observed)
    assert [pool.name for pool in after.pools] == ["a", "b", "c", "z"]
    assert after.pool("z") == spec("z", max_nodes=9)
    # carried out again, on a cluster the pools already left: nothing to delete, nothing fails
    assert deleting.apply_to(after) == after
    # a pool created sorts before one deleted, whatever their names
    swap = plan_cluster(
        ClusterSpec("prod", "us-central1", (spec("z"),)),
        ClusterSpec("prod", "us-central1", (spec("a"),)),
        delete_pools=True,
    )
    assert [(change.pool, change.action) for change in swap.pools] == [
        ("z", PoolAction.CREATE),
        ("a", PoolAction.DELETE),
    ]
    kept = plan.apply_to(observed)
    assert [pool.name for pool in kept.pools] == ["a", "b", "c", "d", "e", "y", "z"]
    # a pool kept as it is, and nothing else: the plan is not empty (drift), but nothing is done
    unlisted = plan_cluster(ClusterSpec("prod", "us-central1"), ClusterSpec("prod", "us-central1", (spec("x"),)))
    assert not unlisted.empty
    assert unlisted.actionable == ()


@given(
    wanted=st.sampled_from([Keep.AS_IS, None, NodeAutoProvisioning(8, 32), NodeAutoProvisioning(16, 64)]),
    held=st.sampled_from([None, NodeAutoProvisioning(8, 32)]),
    pool_wanted=st.sampled_from([Keep.AS_IS, None, POOL]),
    pool_held=st.sampled_from([None, POOL]),
)
def test_cluster_wide_settings_change_where_the_file_speaks_and_differs(
    wanted: NodeAutoProvisioning | Keep | None,
    held: NodeAutoProvisioning | None,
    pool_wanted: str | Keep | None,
    pool_held: str | None,
) -> None:
    desired = ClusterSpec("prod", "us-central1", auto_provisioning=wanted, workload_pool=pool_wanted)
    observed = ClusterSpec("prod", "us-central1", auto_provisioning=held, workload_pool=pool_held)
    plan = plan_cluster(desired, observed)
    expected = []
    if wanted is not Keep.AS_IS and wanted != held:
        expected.append(FieldChange("auto_provisioning", held, wanted, "update_cluster"))
    if pool_wanted is not Keep.AS_IS and pool_wanted != pool_held:
        expected.append(FieldChange("workload_pool", pool_held, pool_wanted, "update_cluster"))
    assert plan.cluster_changes == tuple(expected)
    assert plan.empty is (not expected)
    off = [change for change in expected if change.field == "workload_pool" and change.after is None]
    assert plan.after_pools == tuple(off)
    assert plan.before_pools == tuple(change for change in expected if change not in off)
    after = plan.apply_to(observed)
    assert after.auto_provisioning == (held if wanted is Keep.AS_IS else wanted)
    assert after.workload_pool == (pool_held if pool_wanted is Keep.AS_IS else pool_wanted)
    # a setting the cluster reports as not known counts as off
    unknown = ClusterSpec("prod", "us-central1", auto_provisioning=Keep.AS_IS, workload_pool=Keep.AS_IS)
    assert [c.before for c in plan_cluster(desired, unknown).cluster_changes] == [None] * len(
        [w for w in (wanted, pool_wanted) if w is not Keep.AS_IS and w is not None]
    )


# ---- in plain words ----------------------------------------------------------------------------------------------


def test_field_changes_in_plain_words() -> None:
    assert (
        FieldChange("machine_type", "e2-standard-4", "e2-standard-8", "update_node_pool", True).describe()
        == "machine_type: e2-standard-4 -> e2-standard-8  (update_node_pool, recreates the nodes (surge upgrade))"
    )
    assert FieldChange("min_nodes", 1, 0, "set_node_pool_autoscaling").describe() == (
        "min_nodes: 1 -> 0  (set_node_pool_autoscaling)"
    )
    assert FieldChange("autoscaling", True, False, "x").describe() == "autoscaling: true -> false  (x)"
    assert FieldChange("autoscaling", False, True, "x").describe() == "autoscaling: false -> true  (x)"
    assert FieldChange("workload_metadata", None, "GKE_METADATA", "x").describe() == (
        "workload_metadata: unset -> GKE_METADATA  (x)"
    )
    assert FieldChange("zones", ("us-central1-a",), ("us-central1-a", "us-central1-b"), "x").describe() == (
        "zones: [us-central1-a] -> [us-central1-a, us-central1-b]  (x)"
    )
    assert FieldChange("taints", (), (("gpu", "", "NO_EXECUTE"), ("a", "b", "NO_SCHEDULE")), "x").describe() == (
        "taints: none -> gpu=:NO_EXECUTE, a=b:NO_SCHEDULE  (x)"
    )
    assert FieldChange("zones", ((1, 2),), (), "x").describe() == "zones: [[1, 2]] -> none  (x)"


def test_workload_identity_in_plain_words() -> None:
    assert FieldChange("workload_pool", None, POOL, "update_cluster").describe() == (
        f"workload identity: off -> on: workload pool {POOL}  (update_cluster)"
    )
    assert FieldChange("workload_pool", "old.svc.id.goog", POOL, "update_cluster").describe() == (
        f"workload identity: on (workload pool old.svc.id.goog) -> on: workload pool {POOL}  (update_cluster)"
    )
    assert FieldChange("workload_pool", POOL, None, "update_cluster").describe() == (
        f"workload identity: on (workload pool {POOL}) -> off  (update_cluster, after the node pools)"
    )


def test_node_auto_provisioning_in_plain_words() -> None:
    small, large = NodeAutoProvisioning(8, 32), NodeAutoProvisioning(16, 64)
    assert small.describe() == "cpu ≤ 8, memory ≤ 32 GB"
    assert FieldChange("auto_provisioning", small, large, "update_cluster").describe() == (
        "node auto-provisioning: GKE creates node pools of its own within cpu ≤ 16, memory ≤ 64 GB "
        "(was cpu ≤ 8, memory ≤ 32 GB)  (update_cluster)"
    )
    assert FieldChange("auto_provisioning", None, large, "update_cluster").describe() == (
        "node auto-provisioning: off -> on: GKE creates node pools of its own within cpu ≤ 16, memory ≤ 64 GB"
        "  (update_cluster)"
    )
    assert FieldChange("auto_provisioning", small, None, "update_cluster").describe() == (
        "node auto-provisioning: on -> off: GKE creates no node pools of its own any more "
        "(it could within cpu ≤ 8, memory ≤ 32 GB)  (update_cluster)"
    )
    assert FieldChange("auto_provisioning", None, None, "update_cluster").describe() == (
        "node auto-provisioning: on -> off: GKE creates no node pools of its own any more  (update_cluster)"
    )


def test_a_plan_in_plain_words_in_the_order_it_is_applied() -> None:
    observed = ClusterSpec(
        "prod",
        "us-central1",
        (spec("app", version="1.30.5", image_type="COS_CONTAINERD"), spec("old"), spec("same")),
        auto_provisioning=None,
        workload_pool=POOL,
        master_version="1.31.1",
    )
    desired = ClusterSpec(
        "prod",
        "us-central1",
        (spec("app", max_nodes=9), spec("new", zones=ZONES, workload_metadata="GCE_METADATA"), spec("same")),
        auto_provisioning=NodeAutoProvisioning(8, 32),
        workload_pool=None,
    )
    assert plan_cluster(desired, observed).describe().splitlines() == [
        "cluster prod (us-central1):",
        "  node auto-provisioning: off -> on: GKE creates node pools of its own within cpu ≤ 8, memory ≤ 32 GB"
        "  (update_cluster)",
        "  node pool app: update in place",
        "    max_nodes: 5 -> 9  (set_node_pool_autoscaling)",
        "    kept: version 1.30.5, image COS_CONTAINERD",
        "  node pool new: create",
        "    e2-standard-4, 100GB pd-ssd, 1-5 nodes per zone in us-central1-a, us-central1-b, us-central1-c, "
        "GCE_METADATA, at the control plane's version 1.31.1",
        "  node pool old: not in the file (kept: delete it with --delete-pools)",
        "    is: e2-standard-4, 100GB pd-ssd, 1-5 nodes per zone in us-central1-a, at an unknown version",  # issue 26
        f"  workload identity: on (workload pool {POOL}) -> off  (update_cluster, after the node pools)",
        "  no change: same",
    ]
    bare = ClusterPlan("prod", "us-central1", pools=(PoolChange("new", PoolAction.CREATE, spec=spec("new")),))
    assert bare.describe().splitlines()[2] == (
        "    e2-standard-4, 100GB pd-ssd, 1-5 nodes per zone in us-central1-a, at GKE's default"
    )
    unknown_image = ClusterPlan(
        "prod",
        "us-central1",
        pools=(PoolChange("app", PoolAction.UPDATE, spec=spec("app", version="1.30.5")),),
    )
    assert unknown_image.describe().splitlines()[2] == "    kept: version 1.30.5, image unknown"
    no_version = ClusterPlan("prod", "us-central1", pools=(PoolChange("app", PoolAction.UPDATE, spec=spec("app")),))
    assert no_version.describe().splitlines() == ["cluster prod (us-central1):", "  node pool app: update in place"]
    deleted = ClusterPlan("prod", "us-central1", pools=(PoolChange("app", PoolAction.DELETE),))
    assert deleted.describe().splitlines() == ["cluster prod (us-central1):", "  node pool app: delete"]
    assert ClusterPlan("prod", "us-central1", unchanged=("a", "b")).describe().splitlines() == [
        "cluster prod (us-central1):",
        "  no change: a, b",
        "  nothing to change: the cluster is as the file says",
    ]
