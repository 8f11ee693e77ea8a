"""Releases on a cluster: an environment bound to the Kubernetes stand-in, driven by the same use cases as the
command line, with the stand-in's controller making Deployments ready. At every step the cluster's objects are read
back — images, replicas, the VirtualService's weights — and must be what the event log says.

A bound cluster moves in real time only (a rehearsal's virtual time there is refused: ``test_rehearsals.py``), so these
run on a state that keeps real time, with a platform file whose rollouts take seconds (``bound.quick``)."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from findly_infra import load_platform
from findly_infra.adapters.kubernetes import AccessDeniedError, connect
from findly_infra.application.cluster_apply import apply_environment
from findly_infra.application.service import NotRoutedError, Outcome, PolicyRefusedError
from findly_infra.bootstrap import Runtime, Settings, environment_renderer, open_runtime
from findly_infra.domain import ClusterBinding, Phase, StrategyKind
from findly_infra.domain.platform import Platform
from findly_infra.domain.strategy import ValidationStep
from findly_infra.render.access import access_objects
from findly_infra.testing.kubernetes import KubernetesStandIn
from tests.cluster.bound import STEP, quick, quick_text, real_time
from tests.cluster.test_access import allowed
from tests.conftest import EXAMPLE
from tests.reliability import tally

ENV, NS, SERVICE = "development", "findly-now-development", "fn-posts"


def _platform() -> Platform:
    platform = load_platform(EXAMPLE)
    blue_green = platform.blue_green_strategy
    assert blue_green is not None
    # development has no approvers: its blue-green validation is the evidence alone
    steps = tuple(step for step in blue_green.validation_steps if not step.manual)
    assert ValidationStep("business_validation") not in steps
    # the tracks as every environment keeps them: development's auto_cleanup (which deletes the secondary after a
    # success) has its own tests, tests/cluster/test_cleanup.py
    kept = tuple(attrs.evolve(env, auto_cleanup=False) for env in platform.environments)
    return quick(
        attrs.evolve(
            platform,
            environments=kept,
            kubernetes=attrs.evolve(platform.kubernetes, clusters=(ClusterBinding(ENV, context="stand-in"),)),
            blue_green_strategy=attrs.evolve(blue_green, validation_steps=steps),
        )
    )


@pytest.fixture
def failing(bound: tuple[Runtime, set[str]]) -> set[str]:
    """The Deployments the running controller fails (add a name: its next generation passes its deadline)."""
    return bound[1]


@pytest.fixture
def runtime(bound: tuple[Runtime, set[str]]) -> Runtime:
    return bound[0]


@pytest.fixture
def bound(
    cluster: KubernetesStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Runtime, set[str]]]:
    """development bound to the stand-in: its access and objects applied (an administrator, then `apply`), a
    controller running, and the runtime the command line would build — on a state that keeps real time."""
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump(cluster.kubeconfig()))
    monkeypatch.setenv("KUBECONFIG", str(config))
    platform = _platform()
    for manifest in access_objects(platform, ENV):
        cluster.apply(manifest, manager="admin")
    objects = connect(context="stand-in")
    apply_environment(objects, environment_renderer(platform)(ENV, StrategyKind.CANARY, {}), ENV, NS)
    settings = Settings(state=str(tmp_path / "state.sqlite3"))
    with cluster.controller() as failing, open_runtime(settings, platform, service=SERVICE) as runtime:
        assert runtime.virtual is None  # real time: what a cluster moves in
        yield runtime, failing


def held(cluster: KubernetesStandIn) -> dict[str, Any]:
    """What the cluster holds for fn-posts: each track's version and replicas, and the weights by subset."""
    found: dict[str, Any] = {}
    for suffix in ("", "-canary", "-green"):
        deployment = cluster.get("apps/v1", "Deployment", NS, f"{SERVICE}{suffix}")
        if deployment is not None:
            found[f"{SERVICE}{suffix}"] = (deployment["metadata"]["labels"]["version"], deployment["spec"]["replicas"])
    routes = cluster.get("networking.istio.io/v1", "VirtualService", NS, SERVICE)
    assert routes is not None
    http = routes["spec"]["http"]
    found["weights"] = {r["destination"]["subset"]: r["weight"] for r in http[-1]["route"]}
    found["preview"] = [r["match"][0]["headers"] for r in http if r.get("name") == "preview"]
    return found


def watch(runtime: Runtime, cluster: KubernetesStandIn, seen: list[dict[str, Any]]) -> Outcome:
    return runtime.service.watch(
        SERVICE, ENV, actor="findly", wait=real_time, on_step=lambda _: seen.append(held(cluster))
    )


def test_a_canary_on_the_cluster_follows_the_log_at_every_step(runtime: Runtime, cluster: KubernetesStandIn) -> None:
    release = runtime.service
    release.deploy(SERVICE, "1.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)  # a first release: primary
    assert held(cluster)["fn-posts"][0] == "1.0.0"
    assert watch(runtime, cluster, []).phase is Phase.SUCCEEDED
    first = held(cluster)
    assert (first["fn-posts"][0], first["fn-posts-canary"][1], first["weights"]) == (
        "1.0.0",
        0,
        {"stable": 100, "canary": 0},
    )
    started = release.deploy(SERVICE, "2.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    assert started.routed
    at_five = held(cluster)
    assert at_five["fn-posts"][0] == "1.0.0"  # the previous version keeps running
    assert at_five["fn-posts-canary"][0] == "2.0.0"
    assert at_five["fn-posts-canary"][1] >= 1  # scaled up (and ready) before it got weight
    assert at_five["weights"] == {"stable": 95, "canary": 5}
    seen: list[dict[str, Any]] = []
    assert watch(runtime, cluster, seen).phase is Phase.SUCCEEDED
    stages = [step["weights"]["canary"] for step in seen]
    assert [w for i, w in enumerate(stages) if i == 0 or w != stages[i - 1]] == [5, 25, 50, 0]
    done = held(cluster)
    assert done["fn-posts"][0] == "2.0.0"  # promoted: the primary runs the new version, and has the traffic back
    assert done["weights"] == {"stable": 100, "canary": 0}
    assert done["fn-posts-canary"][1] == 0  # the canary scaled to zero
    assert not release.reconcile(SERVICE, ENV).routed  # converged: a second pass changes nothing
    access = access_objects(_platform(), ENV)  # and all of it within the access render writes
    assert [record for record in cluster.audit if not allowed(record, access, NS)] == []


def test_a_rollback_on_the_cluster_moves_traffic_at_once(runtime: Runtime, cluster: KubernetesStandIn) -> None:
    release = runtime.service
    release.deploy(SERVICE, "1.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    watch(runtime, cluster, [])
    release.deploy(SERVICE, "2.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    writes = len([a for a in cluster.audit if a.verb == "patch" and a.name == SERVICE and a.resource == "deployments"])
    rolled = release.rollback(SERVICE, ENV, actor="erin", reason="bad build")
    assert rolled.phase is Phase.ROLLED_BACK
    after = held(cluster)
    assert after["weights"] == {"stable": 100, "canary": 0}
    assert after["fn-posts"][0] == "1.0.0"
    assert after["fn-posts-canary"][1] == 0
    primary_writes = [
        a for a in cluster.audit if a.verb == "patch" and a.name == SERVICE and a.resource == "deployments"
    ]
    assert len(primary_writes) == writes  # nothing had to start: the primary was never touched


def test_a_candidate_the_cluster_cannot_run_fails_the_rollout_with_the_clusters_reason(
    runtime: Runtime, cluster: KubernetesStandIn, failing: set[str]
) -> None:
    release = runtime.service
    release.deploy(SERVICE, "1.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    watch(runtime, cluster, [])
    failing.add("fn-posts-canary")
    outcome = release.deploy(SERVICE, "2.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    assert [event.type for event in outcome.events] == ["rollout_started", "traffic_shifted", "rolled_back"]
    assert outcome.phase is Phase.ROLLED_BACK  # development rolls back automatically
    assert outcome.view.stopped == (
        "the cluster could not run 2.0.0: deployment fn-posts-canary is not ready: ProgressDeadlineExceeded: "
        'ReplicaSet "fn-posts-canary" has timed out progressing.'
    )
    after = held(cluster)
    assert after["weights"] == {"stable": 100, "canary": 0}  # no traffic ever moved to it
    assert after["fn-posts"][0] == "1.0.0"
    assert after["fn-posts-canary"][1] == 0  # and it is scaled away
    failing.discard("fn-posts-canary")
    again = release.deploy(SERVICE, "2.1.0", ENV, actor="erin", strategy=StrategyKind.CANARY)  # the next is fine
    assert again.phase is Phase.PROGRESSING


def test_a_candidate_that_fails_while_paused_leaves_the_person_their_command(
    runtime: Runtime, cluster: KubernetesStandIn, failing: set[str]
) -> None:
    release = runtime.service
    release.deploy(SERVICE, "1.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    watch(runtime, cluster, [])
    release.deploy(SERVICE, "2.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    release.pause(SERVICE, ENV, actor="bob", reason="a look")
    canary = cluster.get("apps/v1", "Deployment", NS, "fn-posts-canary")
    assert canary is not None
    failing.add("fn-posts-canary")
    cluster.apply({**canary, "metadata": {**canary["metadata"], "annotations": {"x": "y"}}}, manager="someone")
    for _ in range(200):  # the controller sees the new generation and fails it
        found = cluster.get("apps/v1", "Deployment", NS, "fn-posts-canary")
        if found and found["status"].get("observedGeneration") == found["metadata"]["generation"]:
            break
        threading.Event().wait(0.01)
    rolled = release.rollback(SERVICE, ENV, actor="bob", reason="enough")
    assert rolled.phase is Phase.ROLLED_BACK
    assert rolled.view.stopped == "enough"  # the person's command, not another pause
    assert held(cluster)["weights"] == {"stable": 100, "canary": 0}


def test_a_blue_green_release_is_validated_by_header_cut_over_baked_and_promoted(
    runtime: Runtime, cluster: KubernetesStandIn, failing: set[str]
) -> None:
    release = runtime.service
    release.deploy(SERVICE, "1.0.0", ENV, actor="erin", strategy=StrategyKind.BLUE_GREEN)
    release.record_test(SERVICE, "1.0.0", ENV, "smoke_tests", True, actor="ci")
    release.record_test(SERVICE, "1.0.0", ENV, "performance_tests", True, actor="ci")
    assert watch(runtime, cluster, []).phase is Phase.SUCCEEDED
    release.deploy(SERVICE, "2.0.0", ENV, actor="erin", strategy=StrategyKind.BLUE_GREEN)
    validating = held(cluster)
    assert validating["fn-posts"][0] == "1.0.0"
    assert validating["fn-posts-green"][0] == "2.0.0"
    assert validating["weights"] == {"stable": 100, "green": 0}
    assert validating["preview"] == [{"x-findly-preview": {"exact": "2.0.0"}}]  # smoke tests reach green by header
    release.record_test(SERVICE, "2.0.0", ENV, "smoke_tests", True, actor="ci")
    release.record_test(SERVICE, "2.0.0", ENV, "performance_tests", True, actor="ci")
    seen: list[dict[str, Any]] = []
    assert watch(runtime, cluster, seen).phase is Phase.SUCCEEDED
    baking = [step for step in seen if step["weights"] == {"stable": 0, "green": 100}]
    assert baking  # cut over
    assert all(step["fn-posts"] == ("1.0.0", step["fn-posts"][1]) and step["fn-posts"][1] >= 1 for step in baking)
    done = held(cluster)
    assert (done["fn-posts"][0], done["weights"], done["fn-posts-green"][1]) == (
        "2.0.0",
        {"stable": 100, "green": 0},
        0,
    )
    assert done["preview"] == []


# ---- through the command line --------------------------------------------------------------------------------------


def test_the_command_line_releases_on_the_bound_cluster_and_says_only_what_is_simulated(
    cluster: KubernetesStandIn, tmp_path: Path
) -> None:
    import json
    import os
    import subprocess
    import sys

    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump(cluster.kubeconfig(context="findly-dev")))
    text = quick_text(EXAMPLE.read_text(), STEP).replace(
        '  kubernetes_version: "1.32"\n',
        '  kubernetes_version: "1.32"\n  clusters:\n    development: {context: findly-dev}\n',
    )
    (tmp_path / "findly.yaml").write_text(text)
    env = {
        **{k: v for k, v in os.environ.items() if k != "FINDLY_NOW"},
        "KUBECONFIG": str(config),
        "FINDLY_CONFIG": str(tmp_path / "findly.yaml"),
        "FINDLY_STATE": str(tmp_path / "state.sqlite3"),  # real time: a bound cluster moves in no other
        "FINDLY_ACTOR": "erin",
        "GITHUB_ACTIONS": "",
    }

    def cli(*args: str) -> tuple[int, dict[str, Any], str]:
        done = subprocess.run(
            [sys.executable, "-m", "findly_infra", "--json", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        return done.returncode, json.loads(done.stdout), done.stderr

    for manifest in access_objects(load_platform(tmp_path / "findly.yaml"), ENV):
        cluster.apply(manifest, manager="admin")
    with cluster.controller():
        assert cli("apply", "--env", ENV)[0] == 0
        code, elsewhere, _ = cli("deploy", SERVICE, "1.0.0", "--env", ENV, "--context", "nowhere")  # overrides
        assert (
            code,
            "--context nowhere (or FINDLY_KUBE_CONTEXT), for development: no context 'nowhere'"
            in elsewhere["error"]["message"],
        ) == (2, True)
        code, deployed, stderr = cli("deploy", SERVICE, "1.0.0", "--env", ENV)
        assert code == 0, stderr
        assert deployed["simulation"] == []  # the cluster is real, and so is the time
        assert "no cluster is bound" not in stderr
        stored = cluster.get("apps/v1", "Deployment", NS, SERVICE)
        assert stored is not None
        assert stored["metadata"]["labels"]["version"] == "1.0.0"  # development rolls: the image, replaced
        code, refused, _ = cli("apply", "--env", ENV)  # a rollout drives the tracks: apply waits for its end
        assert (code, refused["error"]["rule"]) == (3, "rollout-in-progress")
        code, watched, stderr = cli("rollout", SERVICE, "--env", ENV, "--watch")
        assert (code, watched["phase"]) == (0, "succeeded"), stderr
        assert watched["simulation"] == ["metrics"]  # no Prometheus: only the metrics are scripted
        assert cli("apply", "--env", ENV)[0] == 0  # ended: apply may run, and keeps 1.0.0 (what serves)
    stored = cluster.get("apps/v1", "Deployment", NS, SERVICE)
    assert stored is not None
    assert stored["metadata"]["labels"]["version"] == "1.0.0"


# ---- killed at any write to the cluster, then run again ----------------------------------------------------------


class Killed(BaseException):
    """The process died here (SIGKILL is not an error anything may catch and go on from)."""


@attrs.define
class DyingObjects:
    """The cluster's API, through a process that dies at its *dies_at*-th write (before it, or after it)."""

    inner: Any
    dies_at: int
    after: bool
    writes: int = 0

    @property
    def server(self) -> str:
        return str(self.inner.server)

    def apply(self, manifest: Any, **options: Any) -> Any:
        self.writes += 1
        if self.writes == self.dies_at and not self.after:
            tally("kills")
            raise Killed
        result = self.inner.apply(manifest, **options)
        if self.writes == self.dies_at:
            tally("kills")
            raise Killed
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _process(platform: Platform, store: Any, clock: Any, objects: Any) -> Any:
    """One process of the release, built by hand as the harness needs (its writes to the cluster can die). Its clock
    is virtual so that every kill point of two whole canaries runs in seconds: the composition root would refuse that
    on a bound cluster (``PipelineService.rehearsal``), a harness that builds the service itself chooses its clock."""
    from findly_infra.application.scenarios import SCENARIOS
    from findly_infra.application.service import PipelineService
    from findly_infra.application.workloads import ClusterWorkloads
    from findly_infra.testing import ScenarioMetrics

    workloads = ClusterWorkloads(
        objects, environment_renderer(platform), {ENV: NS}, {ENV: StrategyKind.ROLLING}, ready_timeout=10
    )
    return PipelineService(platform, store, clock, ScenarioMetrics(SCENARIOS["healthy"]), workloads)


def _release(release: Any, clock: Any) -> None:
    release.deploy(SERVICE, "2.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    release.watch(SERVICE, ENV, actor="findly", wait=clock.advance)


@pytest.mark.parametrize("after", [False, True], ids=["before-the-write", "after-the-write"])
def test_a_release_killed_at_any_write_to_the_cluster_ends_as_the_log_says_when_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after: bool
) -> None:
    from findly_infra.domain.tracks import track_plan
    from findly_infra.testing import MemoryEventStore, VirtualClock

    platform = _platform()
    config = tmp_path / "kubeconfig"
    cases = 0
    for dies_at in range(1, 40):
        with KubernetesStandIn() as cluster, cluster.controller():
            config.write_text(yaml.safe_dump(cluster.kubeconfig()))
            monkeypatch.setenv("KUBECONFIG", str(config))
            for manifest in access_objects(platform, ENV):
                cluster.apply(manifest, manager="admin")
            objects = connect(context="stand-in")
            apply_environment(objects, environment_renderer(platform)(ENV, StrategyKind.CANARY, {}), ENV, NS)
            store, clock = MemoryEventStore(), VirtualClock(datetime(2026, 1, 5, 9))
            first = _process(platform, store, clock, objects)
            first.deploy(SERVICE, "1.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
            first.watch(SERVICE, ENV, actor="findly", wait=clock.advance)
            dying = DyingObjects(objects, dies_at, after)
            try:
                _release(_process(platform, store, clock, dying), clock)
            except Killed:
                pass
            else:
                break  # past the last write: every point has been tried
            again = _process(platform, store, clock, objects)  # a new process, the same log and cluster
            view = again.view(SERVICE, ENV)
            if view.phase.active:
                again.watch(SERVICE, ENV, actor="findly", wait=clock.advance)
            else:
                again.reconcile(SERVICE, ENV)
            view = again.view(SERVICE, ENV)
            assert view.phase is Phase.SUCCEEDED
            plan = track_plan(view, StrategyKind.ROLLING)
            found = held(cluster)
            assert found["fn-posts"][0] == plan.primary.version == "2.0.0"
            assert found["weights"] == {"stable": 100, "canary": 0}
            assert found["fn-posts-canary"][1] == 0
            cases += 1
    assert cases >= 6  # bring up, each weight, promotion, back to the primary, retirement


def test_weights_changed_by_hand_are_taken_back_to_what_the_log_says(
    runtime: Runtime, cluster: KubernetesStandIn
) -> None:
    release = runtime.service
    release.deploy(SERVICE, "1.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    watch(runtime, cluster, [])
    release.deploy(SERVICE, "2.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    routes = cluster.get("networking.istio.io/v1", "VirtualService", NS, SERVICE)
    assert routes is not None
    http = routes["spec"]["http"]
    http[-1]["route"][0]["weight"], http[-1]["route"][1]["weight"] = 50, 50  # kubectl edit, say
    cluster.apply({**routes, "spec": {**routes["spec"], "http": http}}, manager="kubectl-edit", force=True)
    assert held(cluster)["weights"] == {"stable": 50, "canary": 50}
    assert release.reconcile(SERVICE, ENV).routed  # the next command brings it back
    assert held(cluster)["weights"] == {"stable": 95, "canary": 5}


def test_a_rolling_update_replaces_the_image_and_a_rollback_puts_the_previous_one_back(
    runtime: Runtime, cluster: KubernetesStandIn
) -> None:
    release = runtime.service
    release.deploy(SERVICE, "1.0.0", ENV, actor="erin")  # development rolls
    assert watch(runtime, cluster, []).phase is Phase.SUCCEEDED
    release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    assert held(cluster)["fn-posts"][0] == "2.0.0"  # in place: the Deployment's own rolling update
    rolled = release.rollback(SERVICE, ENV, actor="erin", reason="bad build")
    assert (rolled.phase, rolled.routed) == (Phase.ROLLED_BACK, True)
    assert held(cluster)["fn-posts"][0] == "1.0.0"  # the previous version re-applied, and ready


@pytest.mark.parametrize("kind", list(StrategyKind), ids=lambda kind: kind.value)
def test_a_rollback_from_every_phase_of_every_strategy_leaves_the_previous_version_serving_alone(
    kind: StrategyKind, runtime: Runtime, cluster: KubernetesStandIn
) -> None:
    """For each step a rollout of *kind* can be stopped at (each canary stage, blue-green's validation, cutover and
    bake, a rolling update under way; running or paused), a rollback there leaves exactly the previous version
    running, with all the traffic and no preview — read back from the cluster."""
    from findly_infra.domain import Holding

    release = runtime.service
    evidence: set[str] = set()

    def advance(version: str) -> Phase:
        if version not in evidence:  # a blue-green rollout's validation evidence first (else: recorded only)
            evidence.add(version)
            for suite in ("smoke_tests", "performance_tests"):
                release.record_test(SERVICE, version, ENV, suite, True, actor="ci")
            return Phase.PROGRESSING
        real_time(release.interval(SERVICE, ENV))
        return release.step(SERVICE, ENV, actor="findly").phase

    def state(view: Any) -> str:  # as a person reads it, without its version; and whether its evidence is in
        text = str(view.describe()).replace(view.candidate.version if view.candidate else "-", "V")
        return f"{text}{' with evidence' if view.candidate and view.candidate.version in evidence else ''}"

    release.deploy(SERVICE, "1.0.0", ENV, actor="erin", strategy=kind)
    while advance("1.0.0") is Phase.PROGRESSING:
        pass
    back = Holding({SERVICE: "1.0.0"}, {"1.0.0": 100})
    assert release.holding(SERVICE, ENV) == (back, back)

    stopped_at: list[str] = []  # each distinct state a rollback was tried from
    for attempt in range(40):
        version = f"2.{attempt}.0"
        phase = release.deploy(SERVICE, version, ENV, actor="erin", strategy=kind).phase
        while phase is Phase.PROGRESSING and state(release.view(SERVICE, ENV)) in stopped_at:
            phase = advance(version)  # to the first state not tried yet
        if phase is not Phase.PROGRESSING:  # the rollout ended: a rollback was tried from every state before it
            assert phase is Phase.SUCCEEDED
            assert len(stopped_at) == {StrategyKind.ROLLING: 2, StrategyKind.CANARY: 4}.get(kind, 3), stopped_at
            return
        stopped_at.append(state(release.view(SERVICE, ENV)))
        if attempt % 2:  # every other one paused by a person first
            release.pause(SERVICE, ENV, actor="bob", reason="look")
        rolled = release.rollback(SERVICE, ENV, actor="bob", reason="bad build")
        assert rolled.phase is Phase.ROLLED_BACK
        held, expected = release.holding(SERVICE, ENV)
        assert held == expected == back, (stopped_at[-1], held)
    pytest.fail("the rollout never ended")


# ---- a whole release, development -> staging -> production, every environment on the cluster ------------------------


def test_a_whole_release_reaches_every_environments_cluster(
    cluster: KubernetesStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump(cluster.kubeconfig()))
    monkeypatch.setenv("KUBECONFIG", str(config))
    example = load_platform(EXAMPLE)
    platform = quick(
        attrs.evolve(
            example,
            kubernetes=attrs.evolve(
                example.kubernetes,
                clusters=tuple(ClusterBinding(env.name, context="stand-in") for env in example.environments),
            ),
        )
    )
    objects = connect(context="stand-in")
    render = environment_renderer(platform)
    for env in platform.environments:  # an administrator, then `apply` in each environment
        for manifest in access_objects(platform, env.name):
            cluster.apply(manifest, manager="admin")
        apply_environment(
            objects, render(env.name, env.strategy, {}), env.name, platform.kubernetes.namespace_for(env.name)
        )

    def image(env: str, suffix: str = "") -> tuple[str, int]:
        found = cluster.get("apps/v1", "Deployment", platform.kubernetes.namespace_for(env), f"{SERVICE}{suffix}")
        assert found is not None
        return found["metadata"]["labels"]["version"], found["spec"].get("replicas", 1)

    settings = Settings(state=str(tmp_path / "state.sqlite3"))  # real time
    with cluster.controller(), open_runtime(settings, platform, service=SERVICE) as runtime:
        release = runtime.service
        for env in ("development", "staging"):
            release.deploy(SERVICE, "1.4.0", env, actor="erin")
            assert image(env)[0] == "1.4.0"
            assert release.watch(SERVICE, env, actor="findly", wait=real_time).phase is Phase.SUCCEEDED
            for suite in platform.environment(env).tests:
                release.record_test(SERVICE, "1.4.0", env, suite, True, actor="ci")
        assert image("production")[0] == "latest"  # nothing has reached production yet
        with pytest.raises(PolicyRefusedError):  # approvals first: the request is recorded
            release.deploy(SERVICE, "1.4.0", "production", actor="erin")
        assert image("production")[0] == "latest"  # a refused promotion moves nothing
        for person in ("alice", "carol"):
            release.approve(SERVICE, "1.4.0", "production", actor=person)
        release.deploy(SERVICE, "1.4.0", "production", actor="erin")  # blue-green, a first release
        for suite in ("smoke_tests", "performance_tests"):
            release.record_test(SERVICE, "1.4.0", "production", suite, True, actor="ci")
        waiting = release.watch(SERVICE, "production", actor="findly", wait=real_time)
        assert waiting.phase is Phase.AWAITING_APPROVAL  # the business validation, by a person
        assert image("production")[0] == "1.4.0"
        release.approve(SERVICE, "1.4.0", "production", actor="alice")
        done = release.watch(SERVICE, "production", actor="findly", wait=real_time)
        assert done.phase is Phase.SUCCEEDED
    namespace = platform.kubernetes.namespace_for("production")
    routes = cluster.get("networking.istio.io/v1", "VirtualService", namespace, SERVICE)
    assert routes is not None
    assert {r["destination"]["subset"]: r["weight"] for r in routes["spec"]["http"][-1]["route"]} == {
        "stable": 100,
        "green": 0,
    }
    assert image("production")[0] == "1.4.0"
    assert image("production", "-green")[1] == 0
    assert (image("development")[0], image("staging")[0]) == ("1.4.0", "1.4.0")


# ---- random scripts: the cluster always holds what the log says -------------------------------------------------


SCRIPT = st.lists(
    st.sampled_from(["deploy", "step", "step", "step", "step", "record", "pause", "resume", "abort", "rollback"]),
    min_size=1,
    max_size=14,
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(list(StrategyKind)), configured=st.sampled_from(list(StrategyKind)), script=SCRIPT)
def test_after_any_script_of_commands_the_cluster_holds_what_the_log_says(
    kind: StrategyKind, configured: StrategyKind, script: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever strategy the environment's objects were applied with (*configured*) and the rollouts use (*kind*):
    read back through the subsets to the pods they select, the cluster runs and routes what the log says after every
    command that reads it — and evidence (a test result) leaves it exactly as it was."""
    platform = quick(_platform(), 0.1)  # real time, in tenths of a second: each command waits one stage
    with KubernetesStandIn() as cluster, cluster.controller(interval=0.005):
        config = tmp_path / "kubeconfig"
        config.write_text(yaml.safe_dump(cluster.kubeconfig()))
        monkeypatch.setenv("KUBECONFIG", str(config))
        for manifest in access_objects(platform, ENV):
            cluster.apply(manifest, manager="admin")
        apply_environment(connect(context="stand-in"), environment_renderer(platform)(ENV, configured, {}), ENV, NS)
        state = tmp_path / f"state-{uuid.uuid4().hex}.sqlite3"  # one per example: tmp_path is the test's
        with open_runtime(Settings(state=str(state)), platform, service=SERVICE) as runtime:
            release = runtime.service
            version = 0
            for command in script:
                time.sleep(0.1)
                before = release.holding(SERVICE, ENV)[0]
                with contextlib.suppress(PolicyRefusedError):
                    if command == "deploy":
                        version += 1
                        release.deploy(SERVICE, f"{version}.0.0", ENV, actor="erin", strategy=kind)
                    elif command == "step":
                        release.step(SERVICE, ENV, actor="findly")
                    elif command == "record":
                        for suite in ("smoke_tests", "performance_tests"):
                            release.record_test(SERVICE, f"{version}.0.0", ENV, suite, True, actor="ci")
                    elif command == "resume":
                        release.resume(SERVICE, ENV, actor="bob")
                    else:
                        getattr(release, command)(SERVICE, ENV, actor="bob", reason="a script")
                held, expected = release.holding(SERVICE, ENV)
                if command == "record":  # evidence does not read the cluster, let alone move it
                    assert held == before, (held, before)
                else:  # what runs, the weights and the preview: as the log says
                    assert held == expected, (held, expected)


def test_the_api_servers_failures_during_a_release_are_retried_or_named_and_the_next_command_repairs(
    runtime: Runtime, cluster: KubernetesStandIn
) -> None:
    import stamina

    release = runtime.service
    release.deploy(SERVICE, "1.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    watch(runtime, cluster, [])
    cluster.fail(429, method="PATCH", path="/virtualservices/fn-posts$", retry_after=0, times=2)  # throttled twice
    started = release.deploy(SERVICE, "2.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    assert started.routed
    assert held(cluster)["weights"] == {"stable": 95, "canary": 5}
    stamina.set_testing(True, attempts=5)  # no real waiting for the 5xx backoff
    try:
        cluster.fail(503, method="PATCH", path="/virtualservices/fn-posts$", times=5)
        with pytest.raises(NotRoutedError) as unreachable:  # recorded, but the mesh could not be told
            release.rollback(SERVICE, ENV, actor="erin", reason="bad build")
    finally:
        stamina.set_testing(False)
    message = str(unreachable.value)
    assert message.startswith("recorded (rolled_back), but the cluster could not be told: the Kubernetes API server")
    assert "503" in message
    assert held(cluster)["weights"] == {"stable": 95, "canary": 5}  # not yet
    cluster.fail(403, method="GET", path="/virtualservices/fn-posts$", message="forbidden: no get")
    with pytest.raises(AccessDeniedError) as denied:  # a configuration problem, named
        release.reconcile(SERVICE, ENV)
    assert 'refused to get virtualservices.networking.istio.io "fn-posts"' in str(denied.value)
    repaired = release.reconcile(SERVICE, ENV)  # the next command brings the cluster to the log
    assert repaired.routed
    assert held(cluster)["weights"] == {"stable": 100, "canary": 0}
