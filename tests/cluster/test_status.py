"""``status`` shows what the cluster holds, not only the log: for an environment bound to a cluster, the version and
images each Deployment runs, its ready replicas against desired, and the weights read back from the VirtualService —
beside what the log says, with each drift between the two flagged (text, ``--json``, a ``::warning::`` under GitHub
Actions). A cluster that cannot be read leaves the log shown, says why, and exits 5; ``--no-cluster`` reads the log
alone."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stamina
import yaml

from findly_infra import load_platform
from findly_infra.application.workloads import Workload
from findly_infra.cli import main
from findly_infra.render.access import access_objects
from findly_infra.testing.kubernetes import KubernetesStandIn
from tests.cluster.bound import quick_text
from tests.conftest import EXAMPLE

ENV, NS, SERVICE = "development", "findly-now-development", "fn-posts"
IMAGE = "gcr.io/findly-now/fn-posts"


@pytest.fixture
def project(cluster: KubernetesStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """development bound to the stand-in (a platform file whose rollouts take seconds), its access and objects applied,
    a controller running; 1.0.0 released there in real time, and a canary of 2.0.0 at its first stage (95/5)."""
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump(cluster.kubeconfig(context="findly-dev")))
    monkeypatch.setenv("KUBECONFIG", str(config))
    monkeypatch.delenv("FINDLY_NOW", raising=False)
    monkeypatch.setenv("GITHUB_ACTIONS", "")
    text = quick_text(EXAMPLE.read_text()).replace(
        '  kubernetes_version: "1.32"\n',
        '  kubernetes_version: "1.32"\n  clusters:\n    development: {context: findly-dev}\n',
    )
    (tmp_path / "findly.yaml").write_text(text)
    for manifest in access_objects(load_platform(tmp_path / "findly.yaml"), ENV):
        cluster.apply(manifest, manager="admin")
    with cluster.controller():
        assert cli(tmp_path, "apply", "--env", ENV)[0] == 0
        assert cli(tmp_path, "deploy", SERVICE, "1.0.0", "--env", ENV)[0] == 0
        assert cli(tmp_path, "rollout", SERVICE, "--env", ENV, "--watch")[0] == 0
        assert cli(tmp_path, "deploy", SERVICE, "2.0.0", "--env", ENV, "--strategy", "canary")[0] == 0
        yield tmp_path


def cli(folder: Path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    base = ["--config", str(folder / "findly.yaml"), "--state", str(folder / "state.sqlite3"), "--actor", "erin"]
    return main([*base, *args], out=out), out.getvalue()


def status(folder: Path, *args: str) -> tuple[int, dict[str, Any]]:
    code, out = cli(folder, "--json", "status", SERVICE, *args)
    return code, json.loads(out)


def edit_weights(cluster: KubernetesStandIn, stable: int, canary: int) -> None:
    """``kubectl edit`` of the VirtualService's weights, by another manager."""
    routes = cluster.get("networking.istio.io/v1", "VirtualService", NS, SERVICE)
    assert routes is not None
    http = routes["spec"]["http"]
    http[-1]["route"][0]["weight"], http[-1]["route"][1]["weight"] = stable, canary
    cluster.apply({**routes, "spec": {**routes["spec"], "http": http}}, manager="kubectl-edit", force=True)


def set_image(cluster: KubernetesStandIn, name: str, image: str) -> None:
    """``kubectl set image``: the container's image changes, the Deployment's version label does not."""
    deployment = cluster.get("apps/v1", "Deployment", NS, name)
    assert deployment is not None
    containers = deployment["spec"]["template"]["spec"]["containers"]
    containers[0]["image"] = image
    cluster.apply(deployment, manager="kubectl-set", force=True)


def test_status_shows_what_the_cluster_holds_beside_the_log(project: Path, cluster: KubernetesStandIn) -> None:
    code, document = status(project, "--env", ENV)
    assert code == 0, document
    development = document["services"][SERVICE][ENV]
    assert (development["serving"], development["candidate"]) == (
        {"version": "1.0.0", "weight": 95},
        {"version": "2.0.0", "weight": 5},
    )
    held = development["cluster"]
    assert (held["bound"], held["read"], held["server"], held["namespace"]) == (True, True, cluster.url, NS)
    workloads = {w["name"]: w for w in held["workloads"]}
    primary, canary = workloads[SERVICE], workloads[f"{SERVICE}-canary"]
    assert (primary["track"], primary["version"], primary["images"]) == ("stable", "1.0.0", [f"{IMAGE}:1.0.0"])
    assert (canary["track"], canary["version"], canary["images"]) == ("canary", "2.0.0", [f"{IMAGE}:2.0.0"])
    for workload in (primary, canary):
        assert workload["replicas"] >= 1
        assert (workload["ready"], workload["not_ready"]) == (workload["replicas"], None)
    assert held["weights"] == {"1.0.0": 95, "2.0.0": 5}  # read back from the VirtualService, through the subsets
    assert held["expected"]["weights"] == held["weights"]
    assert (held["drift"], document["drift"]) == ([], [])
    code, text = cli(project, "status", SERVICE, "--env", ENV)
    replicas = primary["replicas"]
    assert (code, text.splitlines()) == (
        0,
        [
            "fn-posts           development  progressing (serving 1.0.0 95%, canary 2.0.0 5%)",
            f"{'':32}cluster: fn-posts 1.0.0 {replicas}/{replicas} ready, fn-posts-canary 2.0.0 "
            f"{canary['replicas']}/{canary['replicas']} ready; traffic 1.0.0 95%, 2.0.0 5%",
        ],
    )


def test_drift_between_the_cluster_and_the_log_is_flagged_and_the_next_command_takes_it_back(
    project: Path, cluster: KubernetesStandIn, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_weights(cluster, 50, 50)
    set_image(cluster, SERVICE, f"{IMAGE}:hotfix")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    capsys.readouterr()
    code, document = status(project, "--env", ENV)
    assert code == 0, document  # status said what it promised: the drift is news, not a failure
    drift = [
        "traffic goes 1.0.0 50%, 2.0.0 50%, where the log says 1.0.0 95%, 2.0.0 5%",
        f"fn-posts runs image {IMAGE}:hotfix, not 1.0.0",
    ]
    assert document["services"][SERVICE][ENV]["cluster"]["drift"] == drift
    assert document["drift"] == [f"fn-posts in development: {item}" for item in drift]
    annotations = [line for line in capsys.readouterr().err.splitlines() if line.startswith("::")]
    escaped = [item.replace("%", "%25") for item in drift]  # as the runner unescapes a workflow command
    assert annotations == [f"::warning::drift: fn-posts in development: {item}" for item in escaped]
    code, text = cli(project, "status", SERVICE, "--env", ENV)
    assert text.splitlines()[2:] == [f"{'':32}drift: {item}" for item in drift]
    with cluster.controller():
        assert cli(project, "rollout", SERVICE, "--env", ENV)[0] == 0  # the next command brings the cluster back
    code, document = status(project, "--env", ENV)
    assert (code, document["drift"]) == (0, [])
    deployment = cluster.get("apps/v1", "Deployment", NS, SERVICE)
    assert deployment is not None
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == f"{IMAGE}:1.0.0"


def test_a_workload_the_log_says_serves_that_is_not_ready_is_flagged(project: Path, cluster: KubernetesStandIn) -> None:
    cluster.mark_failed(NS, f"{SERVICE}-canary")  # past its progress deadline, after it got its weight
    code, document = status(project, "--env", ENV)
    assert code == 0
    held = document["services"][SERVICE][ENV]["cluster"]
    canary = next(w for w in held["workloads"] if w["name"] == f"{SERVICE}-canary")
    assert canary["ready"] == 0
    assert canary["not_ready"].startswith("ProgressDeadlineExceeded")
    assert held["drift"] == [f"fn-posts-canary (2.0.0) is not ready: {canary['not_ready']}"]


@pytest.fixture
def no_waiting() -> Iterator[None]:
    stamina.set_testing(True, attempts=2)
    try:
        yield
    finally:
        stamina.set_testing(False)


def test_a_cluster_that_cannot_be_read_leaves_the_log_shown_and_exits_5(
    project: Path, cluster: KubernetesStandIn, capsys: pytest.CaptureFixture[str], no_waiting: None
) -> None:
    cluster.stop()
    capsys.readouterr()
    code, text = cli(project, "status", SERVICE)
    err = capsys.readouterr().err
    lines = text.splitlines()
    assert code == 5
    assert lines[0] == "fn-posts           development  progressing (serving 1.0.0 95%, canary 2.0.0 5%)"
    assert lines[1].startswith(f"{'':32}cluster: not read: the Kubernetes API server ")
    assert lines[2:] == [  # the environments bound to none: simulated, as every outcome there says
        "fn-posts           staging      idle (nothing serving)",
        "fn-posts           production   idle (nothing serving)",
    ]
    (said,) = [line for line in err.splitlines() if not line.startswith("{")]  # after the retries' log lines
    assert said.startswith("development's cluster could not be read: the Kubernetes API server ")
    assert said.endswith("; the log is shown without it (`findly-infra status --no-cluster` reads the log alone)")
    code, document = status(project)
    assert (code, document["ok"], document["error"]["kind"]) == (5, False, "dependency")
    development = document["services"][SERVICE][ENV]
    assert development["phase"] == "progressing"  # the log, whatever the cluster
    assert (development["cluster"]["read"], development["cluster"]["reason"][:26]) == (
        False,
        "the Kubernetes API server ",
    )
    assert document["services"][SERVICE]["staging"]["cluster"] == {"bound": False, "simulated": True}
    code, document = status(project, "--no-cluster")  # the log alone: nothing asked of the cluster
    assert (code, document["ok"]) == (0, True)
    assert document["services"][SERVICE][ENV]["cluster"] == {"bound": True, "read": False, "reason": "--no-cluster"}


def test_workloads_say_what_they_run() -> None:
    assert Workload("fn-posts", "stable", "1.0.0", (f"{IMAGE}:1.0.0",), 3, 3).describe() == "fn-posts 1.0.0 3/3 ready"
    assert Workload("fn-posts-canary", "canary", "2.0.0", (), 0, 0).describe() == "fn-posts-canary 2.0.0 scaled to zero"
    waiting = Workload("fn-posts", "stable", "2.0.0", (), 3, 1, "1 of 3 updated replicas available")
    assert waiting.describe() == "fn-posts 2.0.0 1/3 ready (1 of 3 updated replicas available)"
