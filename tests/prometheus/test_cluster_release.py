"""A whole release judged by a real Prometheus and carried out on a cluster: every environment bound to the Kubernetes
stand-in, the production canary analysed every second on data backfilled around the real clock, and the cluster's
objects read back at the end — the healthy version promoted, the failing one scaled away.

A bound cluster moves in real time only (a replay's ``--now`` there is refused: ``tests/cluster/test_rehearsals.py``),
so this Prometheus holds the streams from half an hour before the tests to half an hour after (Prometheus serves
backfilled blocks of any time), and the platform file's rollouts take seconds (``tests.cluster.bound.quick_text``)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("kubernetes", reason="the kubernetes extra: pip install 'findly-infra[kubernetes]'")

from findly_infra import load_platform_text
from findly_infra.cli import main
from findly_infra.render.access import access_objects
from findly_infra.testing.kubernetes import KubernetesStandIn
from findly_infra.testing.prometheus import PrometheusServer, PrometheusServerError, Stream, openmetrics
from tests.cluster.bound import quick_text
from tests.conftest import EXAMPLE, PROMETHEUS_INSTALL, require_tool

NS = "findly-now-production"


def _healthy(_minute: float) -> float:
    return 0.0002


LIVE = (
    # fn-matcher's 2.0.0 is healthy everywhere; fn-notifications' 2.0.0 runs hot in production only (CPU at 95% of its
    # request, where the canary wants under 80%): development and staging saw nothing wrong, and no error budget is
    # spent by it before the canary judges it
    *(
        Stream(service, environment, "2.0.0", 600, _healthy)
        for service in ("fn-matcher", "fn-notifications")
        for environment in ("development", "staging")
    ),
    Stream("fn-matcher", "production", "2.0.0", 1000, _healthy),
    Stream("fn-notifications", "production", "2.0.0", 1000, _healthy, cpu_cores=0.95),
)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus whose data runs from half an hour ago to half an hour ahead, a sample every 15 seconds."""
    require_tool("prometheus", PROMETHEUS_INSTALL)
    require_tool("promtool", PROMETHEUS_INSTALL)
    start = datetime.now(UTC) - timedelta(minutes=30)
    server = PrometheusServer(openmetrics(LIVE, start=start, minutes=60), tmp_path_factory.mktemp("live-prometheus"))
    try:
        url = server.start()
    except PrometheusServerError as exc:
        pytest.fail(str(exc))
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[KubernetesStandIn, Path]]:
    text = quick_text(EXAMPLE.read_text()).replace(
        '  kubernetes_version: "1.32"\n',
        '  kubernetes_version: "1.32"\n  clusters:\n'
        + "".join(f"    {env}: {{context: stand-in}}\n" for env in ("development", "staging", "production")),
    )
    config = tmp_path / "findly.yaml"
    config.write_text(text)
    platform = load_platform_text(text)
    with KubernetesStandIn() as cluster, cluster.controller():
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(cluster.kubeconfig()))
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        for env in platform.environments:  # the administrator's access, then `apply` in each environment
            for manifest in access_objects(platform, env.name):
                cluster.apply(manifest, manager="admin")
        yield cluster, config


def cli(config: Path, state: Path, url: str, *args: str, actor: str = "erin") -> tuple[int, Any]:
    out = io.StringIO()
    base = ["--json", "--config", str(config), "--actor", actor, "--prometheus-url", url]
    code = main([*base, "--state", str(state), *args], out=out)
    return code, json.loads(out.getvalue())


def release(config: Path, state: Path, url: str, service: str) -> tuple[int, Any]:
    for env in ("development", "staging", "production"):
        assert cli(config, state, url, "apply", "--env", env)[0] == 0
    for env in ("development", "staging"):
        assert cli(config, state, url, "deploy", service, "2.0.0", "--env", env)[0] == 0
        code, watched = cli(config, state, url, "rollout", service, "--env", env, "--watch")
        assert (code, watched["phase"]) == (0, "succeeded"), watched
        for suite in load_platform_text(config.read_text()).environment(env).tests:
            assert (
                cli(config, state, url, "record", service, "2.0.0", "--env", env, "--suite", suite, "--passed")[0] == 0
            )
    assert cli(config, state, url, "promote", service, "2.0.0", "--to", "production")[0] == 3  # approvals
    for person in ("alice", "carol"):
        assert cli(config, state, url, "approve", service, "2.0.0", "--env", "production", actor=person)[0] == 0
    promoted = cli(config, state, url, "promote", service, "2.0.0", "--to", "production", "--strategy", "canary")
    assert promoted[0] == 0, promoted
    assert promoted[1]["simulation"] == []  # a real cluster, real metrics, the real clock
    return cli(config, state, url, "rollout", service, "--env", "production", "--watch")


def tracks(cluster: KubernetesStandIn, service: str) -> dict[str, Any]:
    found = {}
    for name in (service, f"{service}-canary"):
        deployment = cluster.get("apps/v1", "Deployment", NS, name)
        found[name] = (
            (deployment["metadata"]["labels"]["version"], deployment["spec"].get("replicas", 1)) if deployment else None
        )
    routes = cluster.get("networking.istio.io/v1", "VirtualService", NS, service)
    assert routes is not None
    found["weights"] = {r["destination"]["subset"]: r["weight"] for r in routes["spec"]["http"][-1]["route"]}
    return found


def test_a_healthy_canary_judged_live_is_promoted_on_the_cluster(
    prometheus: str, bound: tuple[KubernetesStandIn, Path], tmp_path: Path
) -> None:
    cluster, config = bound
    code, done = release(config, tmp_path / "state.sqlite3", prometheus, "fn-matcher")
    assert (code, done["phase"]) == (0, "succeeded")
    held = tracks(cluster, "fn-matcher")
    assert held["fn-matcher"][0] == "2.0.0"  # promoted onto the primary
    assert held["fn-matcher-canary"] is None  # a first release in production ran on the primary alone
    assert held["weights"] == {"stable": 100, "canary": 0}


def test_a_canary_that_runs_hot_is_rolled_back_on_the_cluster(
    prometheus: str, bound: tuple[KubernetesStandIn, Path], tmp_path: Path
) -> None:
    cluster, config = bound
    code, done = release(config, tmp_path / "state.sqlite3", prometheus, "fn-notifications")
    assert (code, done["phase"]) == (4, "rolled_back")
    assert done["stopped"].startswith("2 failed analyses")
    held = tracks(cluster, "fn-notifications")
    # its first release in production: nothing else to serve, and nothing runs the failed version any more
    assert held["fn-notifications"][1] == 0
    assert held["fn-notifications-canary"] is None
