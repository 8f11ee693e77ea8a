"""Issue 27: ``cluster plan`` / ``cluster apply`` for a cluster that does not exist (it was exit 2: "GKE has no …"),
and ``--dr``, the DR region's copy of the file's cluster (``failover.cluster`` in
``disaster_recovery.multi_region.dr_region``), so that both regions are declared by one file."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from unittest import mock

from findly_infra.cli import main
from findly_infra.testing.gke import GkeStandIn
from tests.conftest import EXAMPLE
from tests.gke.conftest import CLUSTER, LOCATION, PROJECT
from tests.gke.test_gke import _drifted
from tests.test_release_cli import cli


def _without_failover(text: str) -> str:
    """*text* without its ``failover:`` section (the example has one), up to the next top-level key or the end."""
    start = text.index("\nfailover:\n") + 1
    body = start + len("failover:\n")
    following = re.search(r"^[a-z_]+:", text[body:], re.M)
    return text[:start] + (text[body + following.start() :] if following else "")


def _env(gke: GkeStandIn, path: Path | None = None) -> dict[str, str]:
    return {
        "FINDLY_CONFIG": str(path or EXAMPLE),
        "FINDLY_GKE_ENDPOINT": gke.address,
        "FINDLY_GCP_PROJECT": PROJECT,
    }


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "findly.yaml"
    path.write_text(text)
    return path


def _text(env: dict[str, str], *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with mock.patch.dict(os.environ, {**env, "GITHUB_ACTIONS": ""}):
        code = main(list(argv), out=out)
    return code, out.getvalue()


def test_a_missing_cluster_is_planned_as_a_create_exit_7(gke: GkeStandIn) -> None:
    code, document = cli(_env(gke), "cluster", "plan")
    assert code == 7, document  # it differs: it was exit 2 ("GKE has no …")
    plan = document["plan"]
    created = plan["creates"]  # type: ignore[index]
    assert (created["name"], created["location"]) == (CLUSTER, LOCATION)
    assert [pool["name"] for pool in created["node_pools"]] == ["application-pool", "monitoring-pool"]
    assert created["node_pools"][0]["zones"] == ["us-central1-a", "us-central1-b", "us-central1-c"]
    assert (plan["node_pools"], plan["empty"]) == ([], False)  # type: ignore[index]
    code, text = _text(_env(gke), "cluster", "plan")
    assert code == 7
    assert "  create the cluster (it does not exist): create_cluster, one operation" in text.splitlines()


def test_an_existing_cluster_says_creates_null(gke: GkeStandIn) -> None:
    _drifted(gke)
    code, document = cli(_env(gke), "cluster", "plan")
    assert (code, document["plan"]["creates"]) == (7, None)  # type: ignore[index]


def test_dr_plans_the_dr_regions_copy_from_the_same_file(gke: GkeStandIn) -> None:
    _drifted(gke)  # the primary exists; the DR cluster does not
    env = _env(gke)  # the example declares both: gke_cluster and failover.cluster
    code, document = cli(env, "cluster", "plan", "--dr")
    assert code == 7, document
    created = document["plan"]["creates"]  # type: ignore[index]
    assert (created["name"], created["location"]) == (f"{CLUSTER}-dr", "us-east1")
    assert [pool["zones"] for pool in created["node_pools"]] == [
        ["us-east1-b", "us-east1-c", "us-east1-d"],
        ["us-east1-b", "us-east1-c"],
    ]
    code, document = cli(env, "cluster", "plan")  # without --dr: the primary, as before
    assert (code, document["plan"]["cluster"], document["plan"]["creates"]) == (7, CLUSTER, None)  # type: ignore[index]


def test_dr_without_its_sections_is_exit_2_naming_what_is_missing(gke: GkeStandIn, tmp_path: Path) -> None:
    code, document = cli(_env(gke, _file(tmp_path, _without_failover(EXAMPLE.read_text()))), "cluster", "plan", "--dr")
    assert code == 2
    assert "failover:" in document["error"]["message"]  # type: ignore[index]
    text = EXAMPLE.read_text()
    start = text.index("  multi_region:")
    no_region = text[:start] + text[text.index("  testing:", start) :]
    code, document = cli(_env(gke, _file(tmp_path, no_region)), "cluster", "apply", "--dr")
    assert code == 2
    assert "disaster_recovery.multi_region.dr_region" in document["error"]["message"]  # type: ignore[index]
    unmapped = EXAMPLE.read_text().replace("      us-central1-c: us-east1-d\n", "", 1)
    code, document = cli(_env(gke, _file(tmp_path, unmapped)), "cluster", "plan", "--dr")
    assert code == 2
    message = document["error"]["message"]  # type: ignore[index]
    assert "failover.cluster.zones" in message  # validate says it first, as dr_cluster_spec would
    assert "us-central1-c" in message
    assert [method for method, _ in gke.calls] == []  # refused before GKE is asked anything


def test_apply_creates_the_cluster_and_then_nothing_is_left(gke: GkeStandIn) -> None:
    env = _env(gke)
    for dr, name, location in (([], CLUSTER, LOCATION), (["--dr"], f"{CLUSTER}-dr", "us-east1")):
        code, document = cli(env, "cluster", "apply", *dr)
        assert code == 0, document
        assert document["done"] == [  # type: ignore[index]
            f"cluster {name}: create (node pools application-pool, monitoring-pool), running"
        ]
        code, document = cli(env, "cluster", "plan", *dr)
        assert (code, document["plan"]["empty"]) == (0, True), document  # type: ignore[index]
        assert gke.cluster(PROJECT, location, name).name == name
