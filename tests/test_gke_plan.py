"""The GKE plan (``domain.gke.plan_cluster``), property-tested: a plan of equal clusters is empty; a plan carried out on
the observed cluster yields the file's (unlisted pools kept unless deletion is asked); after it, nothing is left to
plan; every field change names the call that makes it, and only machine type and disks recreate nodes."""

from __future__ import annotations

import attrs
from hypothesis import event, given
from hypothesis import strategies as st

from findly_infra import load_platform
from findly_infra.domain.gke import AutoscalingLimits, ClusterSpec, PoolAction, PoolSpec, plan_cluster

from .conftest import EXAMPLE

ZONES = ("us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f")
TAINTS = (("monitoring", "true", "NO_SCHEDULE"), ("gpu", "", "NO_EXECUTE"), ("batch", "yes", "PREFER_NO_SCHEDULE"))


@st.composite
def pools(draw: st.DrawFn, name: str) -> PoolSpec:
    low = draw(st.integers(0, 5))
    return PoolSpec(
        name=name,
        zones=tuple(sorted(draw(st.sets(st.sampled_from(ZONES), min_size=1)))),
        machine_type=draw(st.sampled_from(["e2-standard-2", "e2-standard-4", "n2-highmem-8"])),
        disk_size_gb=draw(st.sampled_from([50, 100, 200])),
        disk_type=draw(st.sampled_from(["pd-balanced", "pd-ssd", "pd-standard"])),
        autoscaling=draw(st.booleans()),
        min_nodes=low,
        max_nodes=draw(st.integers(max(low, 1), 12)),
        taints=tuple(sorted(draw(st.sets(st.sampled_from(TAINTS), max_size=2)))),
    )


@st.composite
def clusters(draw: st.DrawFn) -> ClusterSpec:
    names = sorted(draw(st.sets(st.sampled_from(["application-pool", "monitoring-pool", "batch-pool"]), max_size=3)))
    limits = draw(st.none() | st.builds(AutoscalingLimits, st.booleans(), st.integers(1, 500), st.integers(1, 2000)))
    return ClusterSpec("findly-production", "us-central1", tuple(draw(pools(name)) for name in names), limits)


@given(clusters())
def test_a_plan_of_equal_clusters_is_empty(cluster: ClusterSpec) -> None:
    plan = plan_cluster(cluster, cluster, delete_pools=True)
    assert plan.empty
    assert plan.unchanged == tuple(pool.name for pool in cluster.pools)


@given(clusters(), clusters(), st.booleans())
def test_a_plan_carried_out_yields_the_files_cluster_and_leaves_nothing_to_plan(
    desired: ClusterSpec, observed: ClusterSpec, delete_pools: bool
) -> None:
    plan = plan_cluster(desired, observed, delete_pools=delete_pools)
    after = plan.apply_to(observed)
    unlisted = {pool.name for pool in observed.pools} - {pool.name for pool in desired.pools}
    expected_pools = desired.pools + (() if delete_pools else tuple(p for p in observed.pools if p.name in unlisted))
    assert after.pools == tuple(sorted(expected_pools, key=lambda pool: pool.name))
    assert after.autoscaling == (desired.autoscaling if desired.autoscaling is not None else observed.autoscaling)
    again = plan_cluster(desired, after, delete_pools=delete_pools)
    assert again.actionable == ()  # carried out once, nothing is left to do
    assert again.autoscaling == ()
    assert plan.empty == (desired.pools == observed.pools and (desired.autoscaling in (None, observed.autoscaling)))
    autoscaled = ("autoscaling", "min_nodes", "max_nodes")
    for change in plan.pools:
        for field in change.fields:
            before, after = observed.pool(change.pool), desired.pool(change.pool)
            assert (getattr(before, field.field), getattr(after, field.field)) == (field.before, field.after)
            assert field.recreates_nodes == (field.field in ("machine_type", "disk_type", "disk_size_gb"))
            assert field.call == ("set_node_pool_autoscaling" if field.field in autoscaled else "update_node_pool")
        event(change.action.value)


def test_the_seeds_cluster_against_an_empty_one_creates_both_pools_and_sets_the_limits() -> None:
    platform = load_platform(EXAMPLE)
    assert platform.gke_cluster is not None
    desired = ClusterSpec.of(platform.gke_cluster, platform.cluster_autoscaler)
    application = desired.pool("application-pool")
    assert application == PoolSpec(
        "application-pool",
        ("us-central1-a", "us-central1-b", "us-central1-c"),
        "e2-standard-4",
        100,
        "pd-ssd",
        True,
        3,
        10,
    )
    assert desired.pool("monitoring-pool").taints == (("monitoring", "true", "NO_SCHEDULE"),)  # type: ignore[union-attr]
    plan = plan_cluster(desired, ClusterSpec(desired.name, desired.location))
    assert [(change.pool, change.action) for change in plan.pools] == [
        ("application-pool", PoolAction.CREATE),
        ("monitoring-pool", PoolAction.CREATE),
    ]
    text = plan.describe()
    assert "node pool application-pool: create" in text
    assert "e2-standard-4, 100GB pd-ssd, 3-10 nodes per zone in us-central1-a, us-central1-b, us-central1-c" in text
    resized = attrs.evolve(desired, pools=(attrs.evolve(application, machine_type="e2-standard-8"), *desired.pools[1:]))
    update = plan_cluster(resized, desired)
    assert update.describe().splitlines()[1:3] == [
        "  node pool application-pool: update in place",
        "    machine_type: e2-standard-4 -> e2-standard-8  (update_node_pool, recreates the nodes (surge upgrade))",
    ]
