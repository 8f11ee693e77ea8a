"""The GKE plan (``domain.gke.plan_cluster``), property-tested: a plan of equal clusters is empty; a plan carried out on
the observed cluster yields the file's (unlisted pools kept unless deletion is asked); after it, nothing is left to
plan; every field change names the call that makes it, and only machine type and disks recreate nodes; an update
keeps the pool's version and image type; node auto-provisioning changes only where the file speaks of it, and is said
in plain words; Workload Identity comes on before the pools take GKE_METADATA and goes off after they leave it.
The mapping of the file's ``cluster_autoscaler`` to GKE (``ClusterSpec.of``) and its checks in ``validate``."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from findly_infra import load_platform, validate_platform_text
from findly_infra.domain.gke import (
    ClusterSpec,
    Keep,
    NodeAutoProvisioning,
    PoolAction,
    PoolSpec,
    plan_cluster,
    workload_pool,
)

from .conftest import EXAMPLE

ZONES = ("us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f")
TAINTS = (("monitoring", "true", "NO_SCHEDULE"), ("gpu", "", "NO_EXECUTE"), ("batch", "yes", "PREFER_NO_SCHEDULE"))
VERSIONS = ("1.29.8-gke.1031000", "1.30.5-gke.1014001")
POOL = workload_pool("findly-now")
PLAN_FIELDS = (
    "zones",
    "machine_type",
    "disk_size_gb",
    "disk_type",
    "autoscaling",
    "min_nodes",
    "max_nodes",
    "taints",
    "workload_metadata",
)
"""The fields the plan compares (version and image type are the cluster's, never the file's)."""


@st.composite
def pools(draw: st.DrawFn, name: str, *, observed: bool) -> PoolSpec:
    low = draw(st.integers(0, 5))
    metadata = st.sampled_from(["GKE_METADATA", "GCE_METADATA"])
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
        workload_metadata=draw(st.none() | metadata),
        version=draw(st.sampled_from(VERSIONS)) if observed else None,
        image_type=draw(st.sampled_from(["COS_CONTAINERD", "UBUNTU_CONTAINERD"])) if observed else None,
    )


def _provisioning() -> st.SearchStrategy[NodeAutoProvisioning | None]:
    return st.none() | st.builds(NodeAutoProvisioning, st.integers(1, 500), st.integers(1, 2000))


@st.composite
def clusters(draw: st.DrawFn, *, observed: bool) -> ClusterSpec:
    names = sorted(draw(st.sets(st.sampled_from(["application-pool", "monitoring-pool", "batch-pool"]), max_size=3)))
    keep = st.just(Keep.AS_IS) if not observed else st.nothing()
    return ClusterSpec(
        "findly-production",
        "us-central1",
        tuple(draw(pools(name, observed=observed)) for name in names),
        auto_provisioning=draw(_provisioning() | keep),
        workload_pool=draw(st.sampled_from([POOL, None] if observed else [None, POOL]) | keep),
        master_version=VERSIONS[-1] if observed else None,
    )


def _planned(pool: PoolSpec | None) -> tuple[object, ...] | None:
    return None if pool is None else tuple(getattr(pool, name) for name in PLAN_FIELDS)


@given(clusters(observed=True))
def test_a_plan_of_equal_clusters_is_empty(cluster: ClusterSpec) -> None:
    plan = plan_cluster(cluster, cluster, delete_pools=True)
    assert plan.empty
    assert plan.unchanged == tuple(pool.name for pool in cluster.pools)


@given(clusters(observed=False), clusters(observed=True), st.booleans())
def test_a_plan_carried_out_yields_the_files_cluster_and_leaves_nothing_to_plan(
    desired: ClusterSpec, observed: ClusterSpec, delete_pools: bool
) -> None:
    plan = plan_cluster(desired, observed, delete_pools=delete_pools)
    after = plan.apply_to(observed)
    unlisted = {pool.name for pool in observed.pools} - {pool.name for pool in desired.pools}
    kept = () if delete_pools else tuple(pool.name for pool in observed.pools if pool.name in unlisted)
    assert [pool.name for pool in after.pools] == sorted([pool.name for pool in desired.pools] + list(kept))
    for pool in desired.pools:
        now, before = after.pool(pool.name), observed.pool(pool.name)
        assert now is not None
        for name in PLAN_FIELDS:  # what the file says, the cluster now has; what it does not say, the cluster keeps
            wanted = getattr(pool, name)
            assert getattr(now, name) == (wanted if wanted is not None else getattr(before, name, None))
        if before is not None:  # an update never changes the nodes' version or image
            assert (now.version, now.image_type) == (before.version, before.image_type)
    for name in ("auto_provisioning", "workload_pool"):
        wanted = getattr(desired, name)
        assert getattr(after, name) == (getattr(observed, name) if wanted is Keep.AS_IS else wanted)
    again = plan_cluster(desired, after, delete_pools=delete_pools)
    assert again.actionable == ()  # carried out once, nothing is left to do
    assert again.cluster_changes == ()
    autoscaled = ("autoscaling", "min_nodes", "max_nodes")
    for change in plan.pools:
        for field in change.fields:
            before, wanted = observed.pool(change.pool), desired.pool(change.pool)
            assert (getattr(before, field.field), getattr(wanted, field.field)) == (field.before, field.after)
            assert field.recreates_nodes == (field.field in ("machine_type", "disk_type", "disk_size_gb"))
            assert field.call == ("set_node_pool_autoscaling" if field.field in autoscaled else "update_node_pool")
        event(change.action.value)


@given(clusters(observed=False), clusters(observed=True))
def test_node_auto_provisioning_changes_only_where_the_file_speaks_and_is_said_in_plain_words(
    desired: ClusterSpec, observed: ClusterSpec
) -> None:
    plan = plan_cluster(desired, observed)
    text = plan.describe()
    changes = [change for change in plan.cluster_changes if change.field == "auto_provisioning"]
    wanted, held = desired.auto_provisioning, observed.auto_provisioning
    if wanted is Keep.AS_IS or wanted == held:
        assert changes == []
        assert "node auto-provisioning" not in text
        event("unchanged")
        return
    (change,) = changes
    assert (change.before, change.after, change.call) == (held, wanted, "update_cluster")
    if isinstance(wanted, NodeAutoProvisioning):
        assert (
            f"GKE creates node pools of its own within cpu ≤ {wanted.max_cores}, memory ≤ {wanted.max_memory_gb} GB"
        ) in text
        assert ("node auto-provisioning: off -> on:" in text) == (held is None)
        event("on" if held is None else "limits")
    else:
        assert "node auto-provisioning: on -> off: GKE creates no node pools of its own any more" in text
        event("off")
    assert text.index("node auto-provisioning") < min(
        [text.index(f"node pool {pool.pool}:") for pool in plan.pools] or [len(text)]
    )  # first: new pools count against its limits


@given(clusters(observed=False), clusters(observed=True))
def test_workload_identity_on_comes_before_the_pools_and_off_after_them(
    desired: ClusterSpec, observed: ClusterSpec
) -> None:
    plan = plan_cluster(desired, observed)
    changes = [change for change in plan.cluster_changes if change.field == "workload_pool"]
    if desired.workload_pool is Keep.AS_IS or desired.workload_pool == observed.workload_pool:
        assert changes == []
        return
    (change,) = changes
    if desired.workload_pool is None:
        assert (plan.before_pools, plan.after_pools) == (
            tuple(c for c in plan.cluster_changes if c != change),
            (change,),
        )
        assert plan.describe().splitlines()[-1 if not plan.unchanged else -2].startswith("  workload identity: on")
        event("off")
    else:
        assert change in plan.before_pools
        assert f"workload identity: {'off' if observed.workload_pool is None else 'on'}" in plan.describe()
        event("on")


def test_the_seeds_cluster_against_an_empty_one_creates_both_pools_and_leaves_auto_provisioning_off() -> None:
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
    assert (desired.auto_provisioning, desired.workload_pool) == (None, Keep.AS_IS)  # the seed never asks for either
    plan = plan_cluster(desired, ClusterSpec(desired.name, desired.location, master_version=VERSIONS[-1]))
    assert plan.cluster_changes == ()
    assert [(change.pool, change.action) for change in plan.pools] == [
        ("application-pool", PoolAction.CREATE),
        ("monitoring-pool", PoolAction.CREATE),
    ]
    text = plan.describe()
    assert "node pool application-pool: create" in text
    assert (
        "e2-standard-4, 100GB pd-ssd, 3-10 nodes per zone in us-central1-a, us-central1-b, us-central1-c, "
        f"at the control plane's version {VERSIONS[-1]}"
    ) in text
    observed = attrs.evolve(
        desired,
        pools=tuple(attrs.evolve(pool, version=VERSIONS[0], image_type="COS_CONTAINERD") for pool in desired.pools),
        auto_provisioning=None,
        workload_pool=None,
    )
    resized = attrs.evolve(desired, pools=(attrs.evolve(application, machine_type="e2-standard-8"), *desired.pools[1:]))
    update = plan_cluster(resized, observed)
    assert update.describe().splitlines()[1:4] == [
        "  node pool application-pool: update in place",
        "    machine_type: e2-standard-4 -> e2-standard-8  (update_node_pool, recreates the nodes (surge upgrade))",
        f"    kept: version {VERSIONS[0]}, image COS_CONTAINERD",
    ]
    assert update.pools[0].spec is not None
    assert (update.pools[0].spec.version, update.pools[0].spec.image_type) == (VERSIONS[0], "COS_CONTAINERD")


@given(st.booleans(), st.booleans(), st.sampled_from([None, True, False]))
def test_the_files_autoscaler_maps_to_gke_per_pool_and_asks_for_auto_provisioning_only_explicitly(
    enabled: bool, provisioning: bool, identity: bool | None
) -> None:
    platform = load_platform(EXAMPLE)
    assert platform.gke_cluster is not None
    assert platform.cluster_autoscaler is not None
    autoscaler = platform.cluster_autoscaler
    if provisioning and not enabled:
        return  # refused by the file's checks (below)
    autoscaler = attrs.evolve(autoscaler, enabled=enabled, node_auto_provisioning=provisioning)
    cluster = attrs.evolve(platform.gke_cluster, workload_identity=identity)
    spec = ClusterSpec.of(cluster, autoscaler, project="findly-now")
    limits = autoscaler.resource_limits
    assert spec.auto_provisioning == (
        NodeAutoProvisioning(limits.max_cores, limits.max_memory_gb) if provisioning else None
    )
    assert all(pool.autoscaling == enabled for pool in spec.pools)  # the seed's pools all ask for autoscaling
    assert spec.workload_pool == {None: Keep.AS_IS, True: POOL, False: None}[identity]
    assert {pool.workload_metadata for pool in spec.pools} == {
        {None: None, True: "GKE_METADATA", False: "GCE_METADATA"}[identity]
    }
    assert (
        ClusterSpec.of(cluster, project="findly-now").auto_provisioning is Keep.AS_IS
    )  # no cluster_autoscaler: the cluster's stays


NAP = ("  enabled: true\n", "  enabled: true\n  node_auto_provisioning: true\n")


@pytest.mark.parametrize(
    ("edits", "place", "words"),
    [
        (
            [("max_cores: 200", "max_cores: 100")],
            "cluster_autoscaler.resource_limits.max_cores",
            "above max_cores 100, and GKE enforces cluster-wide limits only with node auto-provisioning",
        ),
        (
            [("max_memory_gb: 800", "max_memory_gb: 100")],
            "cluster_autoscaler.resource_limits.max_memory_gb",
            "above max_memory_gb 100, and GKE enforces cluster-wide limits only with node auto-provisioning",
        ),
        (
            [("max_cores: 200", "max_cores: 100"), NAP],
            "cluster_autoscaler.resource_limits.max_cores",
            "above max_cores 100: the autoscaler stops before the pools' max_nodes",
        ),
        (
            [("  enabled: true\n", "  enabled: false\n")],
            "cluster_autoscaler.enabled",
            "application-pool, monitoring-pool (auto_scaling: true) will keep the size they have",
        ),
        (
            [],
            "gke_cluster.node_pools[0].max_nodes",
            "above cluster_autoscaler.resource_limits.max_nodes_per_pool (20), which GKE does not enforce: the pool's "
            "own max_nodes bounds it",
        ),
    ],
)
def test_validate_says_what_gke_will_not_enforce_naming_the_place(
    example_text: str, edits: list[tuple[str, str]], place: str, words: str
) -> None:
    text = example_text
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    report = validate_platform_text(text)
    assert report.ok
    (warning,) = [problem for problem in report.warnings if problem.path == place]
    assert words in warning.message
    if not edits:  # the seed's own limits hold for the pools it lists: nothing else to say of them
        assert not [problem for problem in report.warnings if problem.path.startswith("cluster_autoscaler")]


def test_node_auto_provisioning_loads_and_needs_the_autoscaler_on(example_text: str) -> None:
    asked = example_text.replace(*NAP, 1)
    platform = validate_platform_text(asked).platform
    assert platform is not None
    assert platform.cluster_autoscaler is not None
    assert platform.cluster_autoscaler.node_auto_provisioning
    report = validate_platform_text(asked.replace("  enabled: true\n", "  enabled: false\n", 1))
    assert [(problem.path, problem.message) for problem in report.errors] == [
        (
            "cluster_autoscaler.node_auto_provisioning",
            "node auto-provisioning is part of the cluster autoscaler: it needs enabled: true",
        )
    ]
    identity = example_text.replace(
        '  location: "us-central1"\n', '  location: "us-central1"\n  workload_identity: "always"\n'
    )
    assert [problem.path for problem in validate_platform_text(identity).errors] == ["gke_cluster.workload_identity"]


def test_the_keys_platform_file_md_shows_load_where_it_says() -> None:
    import re

    import yaml

    from tests.conftest import ROOT

    page = (ROOT / "docs" / "platform-file.md").read_text()
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", page, re.S) if "node_auto_provisioning" in b]
    ours = yaml.safe_load(block)
    document = yaml.safe_load(EXAMPLE.read_text())
    for section, keys in ours.items():
        document[section].update(keys)
    report = validate_platform_text(yaml.safe_dump(document, sort_keys=False))
    assert report.ok, [str(error) for error in report.errors]
    assert report.platform is not None
    assert report.platform.cluster_autoscaler is not None
    assert report.platform.gke_cluster is not None
    assert report.platform.cluster_autoscaler.node_auto_provisioning
    assert report.platform.gke_cluster.workload_identity
