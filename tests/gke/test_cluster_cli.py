"""``findly-infra cluster plan`` / ``cluster apply`` on the seed's platform file, against the GKE stand-in: the plan
exits 7 while the cluster differs, apply carries it out, and the plan is then empty (exit 0); an operation that fails
half way is exit 5 with what was and was not done; without a project, a clear message (exit 2)."""

from __future__ import annotations

import grpc

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
    assert document["done"] == [
        "cluster autoscaling limits",  # first: the new pool must fit under them
        "node pool application-pool: update in place",
        "node pool monitoring-pool: create",
    ]
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


def test_an_operation_failing_half_way_is_exit_5_naming_what_was_done(gke: GkeStandIn) -> None:
    _drifted(gke)
    gke.fail_operation("CreateNodePool", "Insufficient regional quota to satisfy request: resource CPUS")
    code, document = cli(_env(gke), "cluster", "apply")
    assert code == 5
    message = document["error"]["message"]  # type: ignore[index]
    assert "done: cluster autoscaling limits, node pool application-pool: update in place;" in message
    assert "not done: node pool monitoring-pool: create" in message


def test_a_permission_refused_is_exit_2_naming_it(gke: GkeStandIn) -> None:
    _drifted(gke)
    gke.fail("GetCluster", grpc.StatusCode.PERMISSION_DENIED, "Required 'container.clusters.get' permission")
    code, document = cli(_env(gke), "cluster", "plan")
    assert code == 2
    assert "Required 'container.clusters.get' permission" in document["error"]["message"]  # type: ignore[index]
