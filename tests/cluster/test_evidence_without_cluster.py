"""Evidence does not need the cluster. A test result, and an approval of a promotion, move no traffic: they are
recorded whether the API server answers or not (exit 0), and say that the cluster was not read — the next command that
moves traffic brings it to the log. An approval that lets a rollout's manual step go on moves traffic, so it still
needs the cluster (exit 5 while it is down, nothing recorded)."""

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
from findly_infra.adapters.kubernetes import connect
from findly_infra.application.cluster_apply import apply_environment
from findly_infra.application.ports import DependencyError
from findly_infra.application.service import PolicyRefusedError
from findly_infra.bootstrap import Runtime, Settings, environment_renderer, open_runtime
from findly_infra.cli import main
from findly_infra.domain import Phase, StrategyKind
from findly_infra.domain.platform import Platform
from findly_infra.render.access import access_objects
from findly_infra.testing.kubernetes import KubernetesStandIn
from tests.cluster.bound import bind, gated, quick, real_time
from tests.conftest import EXAMPLE

ENV, NS, SERVICE = "development", "findly-now-development", "fn-posts"


def _platform() -> Platform:
    """development bound to the stand-in, asking for approvals and rolling out blue-green (its business validation
    is a manual step), in seconds."""
    return quick(bind(gated(load_platform(EXAMPLE), ENV), ENV))


@pytest.fixture
def no_waiting() -> Iterator[None]:
    """The adapter's retries without their waits (a cluster that is down is tried a few times, at once)."""
    stamina.set_testing(True, attempts=2)
    try:
        yield
    finally:
        stamina.set_testing(False)


def _kubeconfig(cluster: KubernetesStandIn, path: Path) -> None:
    path.write_text(yaml.safe_dump(cluster.kubeconfig()))


@pytest.fixture
def state(cluster: KubernetesStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """development's access and objects on the stand-in; a state that keeps real time."""
    _kubeconfig(cluster, tmp_path / "kubeconfig")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    platform = _platform()
    for manifest in access_objects(platform, ENV):
        cluster.apply(manifest, manager="admin")
    apply_environment(
        connect(context="stand-in"), environment_renderer(platform)(ENV, StrategyKind.CANARY, {}), ENV, NS
    )
    return tmp_path / "state.sqlite3"


def _runtime(state: Path) -> Runtime:
    return open_runtime(Settings(state=str(state)), _platform(), service=SERVICE)


def test_a_test_result_and_an_approval_of_a_promotion_are_recorded_while_the_api_server_is_down(
    cluster: KubernetesStandIn, state: Path, tmp_path: Path, no_waiting: None
) -> None:
    with (
        cluster.controller(),
        _runtime(state) as runtime,
        pytest.raises(PolicyRefusedError, match="approvals"),  # the request: a promotion to approve
    ):
        runtime.service.deploy(SERVICE, "1.0.0", ENV, actor="erin")
    cluster.stop()  # the API server is down
    with _runtime(state) as runtime:
        release = runtime.service
        recorded = release.record_test(SERVICE, "1.0.0", ENV, "unit", True, actor="ci")
        approvals = [release.approve(SERVICE, "1.0.0", ENV, actor=person) for person in ("alice", "carol")]
        assert [e.type for o in (recorded, *approvals) for e in o.events] == ["test_result_recorded"] + [
            "approval_granted"
        ] * 2
        assert not any(outcome.cluster_read for outcome in (recorded, *approvals))  # and said so
        assert release.view(SERVICE, ENV).waiting_for is None  # the promotion may go now
        written = len(release.history(SERVICE))
        with pytest.raises(DependencyError):  # moving traffic needs the cluster: nothing recorded
            release.deploy(SERVICE, "1.0.0", ENV, actor="erin")
        assert len(release.history(SERVICE)) == written
    cluster.start()  # back (at another address)
    _kubeconfig(cluster, tmp_path / "kubeconfig")
    with cluster.controller(), _runtime(state) as runtime:
        started = runtime.service.deploy(SERVICE, "1.0.0", ENV, actor="erin")  # it repairs, then moves
        assert (started.phase, started.routed, started.cluster_read) == (Phase.PROGRESSING, True, True)
        held, expected = runtime.service.holding(SERVICE, ENV)
        assert held == expected


def test_an_approval_that_lets_a_rollout_go_on_still_needs_the_cluster(
    cluster: KubernetesStandIn, state: Path, no_waiting: None
) -> None:
    with cluster.controller(), _runtime(state) as runtime:
        release = runtime.service
        with pytest.raises(PolicyRefusedError, match="approvals"):
            release.deploy(SERVICE, "1.0.0", ENV, actor="erin")
        for person in ("alice", "carol"):
            release.approve(SERVICE, "1.0.0", ENV, actor=person)
        release.deploy(SERVICE, "1.0.0", ENV, actor="erin")
        for suite in ("smoke_tests", "performance_tests"):
            release.record_test(SERVICE, "1.0.0", ENV, suite, True, actor="ci")
        waiting = release.watch(SERVICE, ENV, actor="findly", wait=real_time)
        assert waiting.phase is Phase.AWAITING_APPROVAL  # the business validation
    cluster.stop()
    with _runtime(state) as runtime:
        written = len(runtime.service.history(SERVICE))
        with pytest.raises(DependencyError):
            runtime.service.approve(SERVICE, "1.0.0", ENV, actor="alice")
        assert len(runtime.service.history(SERVICE)) == written
        assert runtime.service.view(SERVICE, ENV).phase is Phase.AWAITING_APPROVAL


def test_record_on_the_command_line_exits_0_while_the_api_server_is_down_and_says_the_cluster_was_not_read(
    cluster: KubernetesStandIn, state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_waiting: None
) -> None:
    text = EXAMPLE.read_text().replace(
        '  kubernetes_version: "1.32"\n',
        '  kubernetes_version: "1.32"\n  clusters:\n    development: {context: stand-in}\n',
    )
    (tmp_path / "findly.yaml").write_text(text)
    base = ["--config", str(tmp_path / "findly.yaml"), "--state", str(state), "--actor", "ci"]
    record = ["record", SERVICE, "1.0.0", "--env", ENV, "--suite", "unit"]
    cluster.stop()

    def run(*args: str) -> tuple[int, str, str]:
        out = io.StringIO()
        code = main([*base, *args], out=out)
        return code, out.getvalue(), capsys.readouterr().err

    code, out, err = run(*record, "--passed")
    assert (code, out) == (0, "fn-posts 1.0.0 in development: unit passed\n"), err
    assert (
        "development's cluster was not read or repaired: evidence is recorded without it; the next command that moves "
        "traffic in development brings the cluster to the log"
    ) in err
    code, out, _ = run("--json", *record, "--junit", str(_junit(tmp_path)))
    document: dict[str, Any] = json.loads(out)
    assert (code, document["ok"], document["passed"], document["cluster_read"]) == (0, True, True, False)
    code, out, _ = run("--json", "deploy", SERVICE, "1.0.0", "--env", ENV)  # moving traffic: the cluster is needed
    assert (code, json.loads(out)["error"]["kind"]) == (5, "dependency")


def _junit(folder: Path) -> Path:
    report = folder / "unit.xml"
    report.write_text('<testsuite name="unit" tests="1" failures="0" errors="0"><testcase name="a"/></testsuite>\n')
    return report
