"""``findly-infra cluster plan`` / ``cluster apply`` on the seed's platform file, against the GKE stand-in: the plan
exits 7 while the cluster differs, apply carries it out, and the plan is then empty (exit 0); an operation that fails
half way is exit 5 with what was and was not done; without a project, a clear message (exit 2)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from unittest import mock

import grpc

from findly_infra.cli import main
from findly_infra.testing.gke import GkeStandIn
from tests.conftest import EXAMPLE
from tests.gke.conftest import CLUSTER, LOCATION, PROJECT
from tests.gke.test_gke import _drifted
from tests.test_release_cli import cli


def _env(gke: GkeStandIn) -> dict[str, str]:
    return {"FINDLY_CONFIG": str(EXAMPLE), "FINDLY_GKE_ENDPOINT": gke.address, "FINDLY_GCP_PROJECT": PROJECT}


def test_plan_then_apply_then_nothing_left(gke: GkeStandIn) -> None:
    _drifted(gke)
    code, document = cli(_env(gke), "cluster", "plan")
    assert code == 7  # it differs: a scheduled workflow sees drift
    plan = document["plan"]
    assert [(p["name"], p["action"]) for p in plan["node_pools"]] == [  # type: ignore[index]
        ("application-pool", "update"),
        ("monitoring-pool", "create"),
        ("legacy-pool", "keep_unlisted"),
    ]
    code, document = cli(_env(gke), "cluster", "apply")
    assert code == 0
    assert document["done"] == ["node pool application-pool: max_nodes", "node pool monitoring-pool: create"]
    code, document = cli(_env(gke), "cluster", "plan")
    assert code == 7  # the legacy pool is still there: drift until it is deleted, or listed
    code, document = cli(_env(gke), "cluster", "apply", "--delete-pools")
    assert (code, document["done"]) == (0, ["node pool legacy-pool: delete"])
    code, document = cli(_env(gke), "cluster", "plan")
    assert (code, document["plan"]["empty"]) == (0, True)  # type: ignore[index]
    monitoring = next(p for p in gke.cluster(PROJECT, LOCATION, CLUSTER).node_pools if p.name == "monitoring-pool")
    assert [(t.key, t.value, t.effect.name) for t in monitoring.config.taints] == [
        ("monitoring", "true", "NO_SCHEDULE")
    ]


def test_the_plan_keeps_each_pool_before_and_after(gke: GkeStandIn) -> None:
    """Issue 26: beside the fields that differ, each pool as the cluster holds it and as it becomes, in --json and the
    text: a created pool has nothing before, a pool that is deleted (or kept unlisted) says what it is."""
    _drifted(gke)
    code, document = cli(_env(gke), "cluster", "plan")
    assert code == 7
    pools = {pool["name"]: pool for pool in document["plan"]["node_pools"]}  # type: ignore[index]
    update, create, unlisted = pools["application-pool"], pools["monitoring-pool"], pools["legacy-pool"]
    changed = {field["field"]: (field["before"], field["after"]) for field in update["fields"]}
    assert changed["max_nodes"] == (update["before"]["max_nodes"], update["after"]["max_nodes"])
    assert update["before"]["max_nodes"] != update["after"]["max_nodes"]
    assert update["before"]["machine_type"] == update["after"]["machine_type"]  # the rest, as it stays
    assert create["before"] is None
    assert create["after"]["taints"] == [["monitoring", "true", "NO_SCHEDULE"]]
    assert unlisted["after"] is None
    assert unlisted["before"]["name"] == "legacy-pool"
    out = io.StringIO()
    with mock.patch.dict(os.environ, {**_env(gke), "GITHUB_ACTIONS": ""}):
        assert main(["cluster", "plan"], out=out) == 7
    lines = out.getvalue().splitlines()
    kept = lines.index("  node pool legacy-pool: not in the file (kept: delete it with --delete-pools)")
    machine = unlisted["before"]["machine_type"]
    assert lines[kept + 1].startswith(f"    is: {machine}, {unlisted['before']['disk_size_gb']}GB ")


def test_an_operation_failing_half_way_is_exit_5_naming_what_was_done(gke: GkeStandIn) -> None:
    _drifted(gke)
    gke.fail_operation("CreateNodePool", "Insufficient regional quota to satisfy request: resource CPUS")
    code, document = cli(_env(gke), "cluster", "apply")
    assert code == 5
    message = document["error"]["message"]  # type: ignore[index]
    assert "done: node pool application-pool: max_nodes;" in message
    assert "not done: node pool monitoring-pool: create" in message


def test_a_permission_refused_is_exit_2_naming_it(gke: GkeStandIn) -> None:
    _drifted(gke)
    gke.fail("GetCluster", grpc.StatusCode.PERMISSION_DENIED, "Required 'container.clusters.get' permission")
    code, document = cli(_env(gke), "cluster", "plan")
    assert code == 2
    assert "Required 'container.clusters.get' permission" in document["error"]["message"]  # type: ignore[index]


def _file(tmp_path: Path, *edits: tuple[str, str]) -> str:
    """The example platform file with *edits* (old, new) made, written under *tmp_path*."""
    text = EXAMPLE.read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp_path / "findly.yaml"
    path.write_text(text)
    return str(path)


NAP = ("  enabled: true\n  scale_down", "  enabled: true\n  node_auto_provisioning: true\n  scale_down")
IDENTITY = ('  location: "us-central1"\n', '  location: "us-central1"\n  workload_identity: true\n')
WORDS = "node auto-provisioning: off -> on: GKE creates node pools of its own within cpu ≤ 200, memory ≤ 800 GB"


def test_the_seeds_cluster_autoscaler_never_turns_node_auto_provisioning_on(gke: GkeStandIn) -> None:
    """Issue 22: ``cluster_autoscaler.enabled`` (the Kubernetes cluster autoscaler: per-pool autoscaling on GKE)
    became node auto-provisioning — GKE creating node pools of its own — and neither the plan nor validate said so."""
    _drifted(gke)
    code, document = cli(_env(gke), "cluster", "plan")
    assert (code, document["plan"]["cluster_changes"]) == (7, [])  # type: ignore[index]
    assert cli(_env(gke), "cluster", "apply")[0] == 0
    autoscaling = gke.cluster(PROJECT, LOCATION, CLUSTER).autoscaling
    assert not autoscaling.enable_node_autoprovisioning
    assert list(autoscaling.resource_limits) == []


def test_node_auto_provisioning_only_when_the_file_asks_and_said_in_plain_words(
    gke: GkeStandIn, tmp_path: Path
) -> None:
    _drifted(gke)
    env = {**_env(gke), "FINDLY_CONFIG": _file(tmp_path, NAP)}
    out = io.StringIO()
    with mock.patch.dict(os.environ, {"GITHUB_ACTIONS": "", **env}):
        assert main(["cluster", "plan"], out=out) == 7
    assert f"  {WORDS}  (update_cluster)" in out.getvalue().splitlines()
    code, document = cli(env, "cluster", "apply")
    assert code == 0, document
    assert document["done"][0] == "node auto-provisioning on"  # type: ignore[index]  # before the pools
    autoscaling = gke.cluster(PROJECT, LOCATION, CLUSTER).autoscaling
    assert autoscaling.enable_node_autoprovisioning
    assert {(limit.resource_type, limit.maximum) for limit in autoscaling.resource_limits} == {
        ("cpu", 200),
        ("memory", 800),
    }
    assert cli(env, "cluster", "apply", "--delete-pools")[0] == 0
    assert cli(env, "cluster", "plan")[0] == 0
    # the file no longer asks: the plan says it turns it off, and apply does (GKE holds no limits without it)
    code, document = cli(_env(gke), "cluster", "plan")
    assert code == 7
    (change,) = document["plan"]["cluster_changes"]  # type: ignore[index]
    assert change["says"].startswith("node auto-provisioning: on -> off: GKE creates no node pools of its own any more")
    assert change["before"] == {"max_cores": 200, "max_memory_gb": 800}
    assert cli(_env(gke), "cluster", "apply")[0] == 0
    assert not gke.cluster(PROJECT, LOCATION, CLUSTER).autoscaling.enable_node_autoprovisioning


def test_workload_identity_turned_on_for_the_cluster_then_its_pools(gke: GkeStandIn, tmp_path: Path) -> None:
    _drifted(gke)
    env = {**_env(gke), "FINDLY_CONFIG": _file(tmp_path, IDENTITY)}
    code, document = cli(env, "cluster", "plan")
    plan = document["plan"]
    assert code == 7
    assert [(c["field"], c["before"], c["after"]) for c in plan["cluster_changes"]] == [  # type: ignore[index]
        ("workload_pool", None, f"{PROJECT}.svc.id.goog")
    ]
    application = plan["node_pools"][0]  # type: ignore[index]
    assert ("workload_metadata", "GCE_METADATA", "GKE_METADATA") in [
        (f["field"], f["before"], f["after"]) for f in application["fields"]
    ]
    code, document = cli(env, "cluster", "apply")
    assert code == 0, document
    assert document["done"][:2] == [  # type: ignore[index]
        "workload identity on",  # first: a pool's GKE_METADATA needs it
        "node pool application-pool: workload_metadata",
    ]
    cluster = gke.cluster(PROJECT, LOCATION, CLUSTER)
    assert cluster.workload_identity_config.workload_pool == f"{PROJECT}.svc.id.goog"
    modes = {pool.name: pool.config.workload_metadata_config.mode.name for pool in cluster.node_pools}
    assert modes == {
        "application-pool": "GKE_METADATA",
        "monitoring-pool": "GKE_METADATA",
        "legacy-pool": "GCE_METADATA",
    }
    assert cli(env, "cluster", "apply", "--delete-pools")[0] == 0
    assert cli(env, "cluster", "plan")[0] == 0
    # turned off: the pools leave GKE_METADATA first, then the cluster's pool goes, as GKE's documentation orders it
    env["FINDLY_CONFIG"] = _file(tmp_path, (IDENTITY[0], IDENTITY[0] + "  workload_identity: false\n"))
    code, document = cli(env, "cluster", "apply")
    assert code == 0, document
    assert document["done"][-1] == "workload identity off"  # type: ignore[index]
    assert not gke.cluster(PROJECT, LOCATION, CLUSTER).workload_identity_config.workload_pool


def test_a_permission_refused_part_way_through_apply_is_exit_2_naming_it_and_what_was_done(gke: GkeStandIn) -> None:
    _drifted(gke)
    gke.fail(
        "CreateNodePool",
        grpc.StatusCode.PERMISSION_DENIED,
        f"Required 'container.clusters.update' permission for 'projects/{PROJECT}/locations/{LOCATION}/clusters/"
        f"{CLUSTER}'.",
    )
    code, document = cli(_env(gke), "cluster", "apply")
    assert code == 2  # a role that can plan but not apply: a configuration problem, not an outage
    message = document["error"]["message"]  # type: ignore[index]
    assert "Required 'container.clusters.update' permission" in message
    assert "done: node pool application-pool: max_nodes; not done: node pool monitoring-pool: create" in message
