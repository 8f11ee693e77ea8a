"""Virtual time never moves a real cluster. A rehearsal (``--now``, a state that keeps a rehearsal's time, or
``memory://``) moves as fast as a rollout asks: on an environment bound to a cluster that would run an hour-long canary
on real traffic in seconds. Every command that would move or converge a bound cluster is refused there (exit 2, naming
the environment, its binding and how to rehearse instead), before anything is recorded or sent; evidence and reads
still go, touching nothing."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from findly_infra import load_platform
from findly_infra.adapters.memory import MemoryEventStore, SimulatedCluster
from findly_infra.application.cluster_apply import apply_environment
from findly_infra.application.service import PipelineService, PolicyRefusedError, RehearsalRefusedError
from findly_infra.bootstrap import Settings, environment_renderer, open_runtime
from findly_infra.cli import main
from findly_infra.domain import Phase, StrategyKind
from findly_infra.domain.platform import Platform
from findly_infra.render.access import access_objects
from findly_infra.testing.kubernetes import KubernetesStandIn
from tests.cluster.bound import bind, gated, quick_text
from tests.conftest import EXAMPLE

ENV, NS, SERVICE = "development", "findly-now-development", "fn-posts"
T0 = datetime(2026, 1, 5, 9)


@pytest.fixture
def kubeconfig(cluster: KubernetesStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The stand-in, with development's access and objects applied: what a release would move."""
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump(cluster.kubeconfig(context="findly-dev")))
    monkeypatch.setenv("KUBECONFIG", str(config))
    platform = bind(load_platform(EXAMPLE), ENV, context="findly-dev")
    for manifest in access_objects(platform, ENV):
        cluster.apply(manifest, manager="admin")
    from findly_infra.adapters.kubernetes import connect

    apply_environment(
        connect(context="findly-dev"), environment_renderer(platform)(ENV, StrategyKind.CANARY, {}), ENV, NS
    )
    return config


def _rehearsed(store: MemoryEventStore, until: str) -> None:
    """A rehearsal, on the simulated cluster (development bound to none): 1.0.0 released in development, then 2.0.0
    *until* ``requested`` (its promotion waits for approvals), ``awaiting`` (its blue-green rollout waits for the
    business validation) or ``paused`` (then paused by a person)."""
    platform = gated(load_platform(EXAMPLE), ENV)
    settings = Settings(state="memory://", now=T0)
    with open_runtime(settings, platform, store=store, cluster=SimulatedCluster()) as runtime:
        release, clock = runtime.service, runtime.virtual
        assert clock is not None
        for version in ("1.0.0", "2.0.0"):
            with pytest.raises(PolicyRefusedError, match="approvals"):
                release.deploy(SERVICE, version, ENV, actor="erin")
            if version == "2.0.0" and until == "requested":
                return
            for person in ("alice", "carol"):
                release.approve(SERVICE, version, ENV, actor=person)
            release.deploy(SERVICE, version, ENV, actor="erin")
            for suite in ("smoke_tests", "performance_tests"):
                release.record_test(SERVICE, version, ENV, suite, True, actor="ci")
            outcome = release.watch(SERVICE, ENV, actor="findly", wait=clock.advance)
            assert outcome.phase is Phase.AWAITING_APPROVAL  # the business validation
            if version == "1.0.0":
                release.approve(SERVICE, version, ENV, actor="alice")
                assert release.watch(SERVICE, ENV, actor="findly", wait=clock.advance).phase is Phase.SUCCEEDED
        if until == "paused":
            release.pause(SERVICE, ENV, actor="bob", reason="a look")


COMMANDS: dict[str, Callable[[PipelineService], Any]] = {
    "deploy": lambda r: r.deploy(SERVICE, "4.0.0", ENV, actor="erin"),
    "rollout": lambda r: r.step(SERVICE, ENV, actor="findly"),
    "rollout --watch": lambda r: r.watch(SERVICE, ENV, actor="findly", wait=lambda _: None),
    "reconcile": lambda r: r.reconcile(SERVICE, ENV),
    "pause": lambda r: r.pause(SERVICE, ENV, actor="bob", reason="why"),
    "resume": lambda r: r.resume(SERVICE, ENV, actor="bob"),
    "abort": lambda r: r.abort(SERVICE, ENV, actor="bob", reason="why"),
    "rollback": lambda r: r.rollback(SERVICE, ENV, actor="bob", reason="why"),
    "approve the business validation": lambda r: r.approve(SERVICE, "2.0.0", ENV, actor="carol"),
}


@pytest.fixture
def rehearsal(kubeconfig: Path) -> tuple[MemoryEventStore, Platform]:
    store = MemoryEventStore()
    _rehearsed(store, "awaiting")
    return store, bind(gated(load_platform(EXAMPLE), ENV), ENV, context="findly-dev")


@pytest.mark.parametrize("command", list(COMMANDS))
def test_in_virtual_time_no_command_moves_or_converges_a_bound_cluster(
    command: str, rehearsal: tuple[MemoryEventStore, Platform], cluster: KubernetesStandIn
) -> None:
    """The rehearsal's state, once development is bound to a cluster: whatever would move or converge it is refused
    before anything is recorded — and before a single request reaches the cluster."""
    store, platform = rehearsal
    recorded, requests = store.load(SERVICE)[1], cluster.requests
    with (
        open_runtime(Settings(state="memory://"), platform, store=store, cluster=SimulatedCluster()) as runtime,
        pytest.raises(RehearsalRefusedError) as refused,
    ):
        COMMANDS[command](runtime.service)
    message = str(refused.value)
    assert message.startswith(
        "development is bound to a cluster (kubernetes.clusters.development: kubeconfig context findly-dev) and time "
        "is virtual here (the state keeps nothing (memory://), so its time is virtual)"
    )
    assert "findly-infra simulate fn-posts --env development" in message
    assert "a platform file without kubernetes.clusters.development" in message
    assert (store.load(SERVICE)[1], cluster.requests) == (recorded, requests)  # nothing recorded, nothing sent


def test_in_virtual_time_evidence_and_reads_still_go(kubeconfig: Path, cluster: KubernetesStandIn) -> None:
    """A test result and an approval of a promotion move no traffic: recorded in the rehearsal, the cluster untouched;
    reading the cluster back (``holding``) is allowed in any time."""
    store = MemoryEventStore()
    _rehearsed(store, "requested")
    platform = bind(gated(load_platform(EXAMPLE), ENV), ENV, context="findly-dev")
    requests = cluster.requests
    with open_runtime(Settings(state="memory://"), platform, store=store, cluster=SimulatedCluster()) as runtime:
        release = runtime.service
        recorded = release.record_test(SERVICE, "2.0.0", ENV, "unit", True, actor="ci")
        approved = release.approve(SERVICE, "2.0.0", ENV, actor="alice")
        assert [e.type for e in recorded.events + approved.events] == ["test_result_recorded", "approval_granted"]
        assert not recorded.cluster_read
        assert not approved.cluster_read
        assert cluster.requests == requests  # evidence sent nothing
        held, _ = release.holding(SERVICE, ENV)  # a read: what apply left there, as it is
        assert held.running == {SERVICE: "latest"}
        assert cluster.requests > requests
        assert {record.verb for record in cluster.audit} - {"get", "list", "create", "patch"} == set()
        with pytest.raises(RehearsalRefusedError):  # the promotion itself would move it
            release.deploy(SERVICE, "2.0.0", ENV, actor="erin")


def test_a_paused_rehearsal_cannot_be_ended_on_a_bound_cluster_either(kubeconfig: Path) -> None:
    store = MemoryEventStore()
    _rehearsed(store, "paused")
    platform = bind(gated(load_platform(EXAMPLE), ENV), ENV, context="findly-dev")
    with open_runtime(Settings(state="memory://"), platform, store=store, cluster=SimulatedCluster()) as runtime:
        for name in ("resume", "abort", "rollback"):
            with pytest.raises(RehearsalRefusedError):
                COMMANDS[name](runtime.service)
        assert runtime.service.view(SERVICE, ENV).phase is Phase.PAUSED


# ---- through the command line -----------------------------------------------------------------------------------


def _cli(folder: Path, *args: str, actor: str = "erin") -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    base = ["--json", "--config", str(folder / "findly.yaml"), "--state", str(folder / "state.sqlite3")]
    code = main([*base, "--actor", actor, *args], out=out)
    return code, json.loads(out.getvalue())


def test_a_rehearsal_on_a_bound_environment_is_refused_before_the_state_keeps_its_time(
    kubeconfig: Path, cluster: KubernetesStandIn, tmp_path: Path
) -> None:
    """``--now`` on a fresh state: exit 2 naming the environment, its binding and the way to rehearse; no state is
    made (or made virtual for good), nothing is sent to the cluster; the same command in real time then runs."""
    text = quick_text(EXAMPLE.read_text()).replace(
        '  kubernetes_version: "1.32"\n',
        '  kubernetes_version: "1.32"\n  clusters:\n    development: {context: findly-dev}\n',
    )
    (tmp_path / "findly.yaml").write_text(text)
    requests = cluster.requests
    for args in (
        ["deploy", SERVICE, "1.0.0", "--env", ENV],
        ["rollout", SERVICE, "--env", ENV, "--watch"],
        ["rollback", SERVICE, "--env", ENV, "--reason", "why"],
    ):
        code, refused = _cli(tmp_path, "--now", "2026-01-05T09:00:00Z", *args)
        assert (code, refused["error"]["kind"]) == (2, "bad_input"), refused
        message = refused["error"]["message"]
        assert message.startswith(
            "development is bound to a cluster (kubernetes.clusters.development: kubeconfig context findly-dev) and "
            "time is virtual here (--now / FINDLY_NOW makes this a rehearsal, in virtual time)"
        )
        assert "findly-infra simulate fn-posts --env development" in message
        assert "without --now, on a state that keeps real time" in message
    assert not (tmp_path / "state.sqlite3").exists()  # nothing kept, not even the rehearsal's kind of time
    assert cluster.requests == requests
    with cluster.controller():
        code, deployed = _cli(tmp_path, "deploy", SERVICE, "1.0.0", "--env", ENV)  # real time: it runs
    assert (code, deployed["phase"], deployed["simulation"]) == (0, "progressing", [])
    stored = cluster.get("apps/v1", "Deployment", NS, SERVICE)
    assert stored is not None
    assert stored["metadata"]["labels"]["version"] == "1.0.0"


def test_a_state_that_keeps_a_rehearsals_time_moves_no_bound_cluster_even_without_now(
    kubeconfig: Path, cluster: KubernetesStandIn, tmp_path: Path
) -> None:
    """Evidence recorded with ``--now`` makes the state a rehearsal for good (evidence may be rehearsed): a later
    command without ``--now`` resumes its virtual time, so it may not move the bound cluster either."""
    text = EXAMPLE.read_text().replace(
        '  kubernetes_version: "1.32"\n',
        '  kubernetes_version: "1.32"\n  clusters:\n    development: {context: findly-dev}\n',
    )
    (tmp_path / "findly.yaml").write_text(text)
    audited = len(cluster.audit)
    code, recorded = _cli(
        tmp_path,
        "--now",
        "2026-01-05T09:00:00Z",
        "record",
        SERVICE,
        "1.0.0",
        "--env",
        ENV,
        "--suite",
        "unit",
        "--passed",
    )
    assert (code, recorded["cluster_read"]) == (0, False)
    code, refused = _cli(tmp_path, "deploy", SERVICE, "1.0.0", "--env", ENV)
    assert code == 2
    assert "keeps a rehearsal's virtual time (its first command gave --now)" in refused["error"]["message"]
    code, status = _cli(tmp_path, "--now", "2026-01-05T10:00:00Z", "status", SERVICE, "--env", ENV)  # reads go
    assert code == 0, status
    assert status["services"][SERVICE][ENV]["cluster"]["read"] is True
    assert {record.verb for record in cluster.audit[audited:]} == {"get", "list"}  # read, never written
