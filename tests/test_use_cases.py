"""The use cases in-process, composed by the bootstrap on the in-memory adapters, as the command line composes
them: one read model for every answer, waits that say what would unblock them, routes that follow the log."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from findly_infra.application.evidence import Evidence, JUnitSummary, TrivyFinding, junit_evidence, trivy_evidence
from findly_infra.application.ports import BadInputError
from findly_infra.application.service import PolicyRefusedError
from findly_infra.bootstrap import Runtime, Settings, load_platform, open_runtime
from findly_infra.domain import Phase, StrategyKind
from findly_infra.domain.view import Share, WaitKind
from findly_infra.testing import MemoryEventStore, SimulatedCluster, VirtualClock

from .conftest import EXAMPLE

NOW = datetime(2026, 11, 26, 9, 0)
SETTINGS = Settings(config=str(EXAMPLE), config_given=True, state="memory://", now=NOW)


@pytest.fixture
def runtime() -> Runtime:
    with open_runtime(SETTINGS, load_platform(SETTINGS), service="fn-posts") as built:
        return built


def _through_staging(runtime: Runtime, version: str) -> None:
    release, clock = runtime.service, runtime.virtual
    assert clock is not None
    for env in ("development", "staging"):
        release.deploy("fn-posts", version, env, actor="erin")
        release.watch("fn-posts", env, actor="findly", wait=clock.advance)
        for suite in runtime.platform.environment(env).tests:
            release.record_test("fn-posts", version, env, suite, True, actor="ci")


def test_the_bootstrap_builds_virtual_time_and_scripted_metrics_when_no_prometheus_is_named(runtime: Runtime) -> None:
    assert runtime.virtual is not None
    assert runtime.clock.now() == NOW
    assert not runtime.live_metrics
    assert runtime.slo_reports is None
    assert [view.phase for view in runtime.service.status("fn-posts")] == [Phase.IDLE] * 3


def test_the_bootstrap_refuses_what_it_cannot_build() -> None:
    platform = load_platform(SETTINGS)
    with pytest.raises(BadInputError, match="--state is a SQLite file, sqlite://PATH, postgresql://… or memory://"):
        open_runtime(Settings(state="redis://x"), platform)
    with pytest.raises(BadInputError, match="unknown scenario"):
        open_runtime(Settings(state="memory://", scenario="sunny"), platform)
    with pytest.raises(BadInputError, match="http"):
        open_runtime(Settings(state="memory://", prometheus_url="prometheus:9090"), platform)


def test_settings_read_flags_before_the_environment() -> None:
    environ = {"FINDLY_STATE": "memory://", "FINDLY_NOW": "2026-11-26T10:00:00+01:00", "FINDLY_SCENARIO": "no-traffic"}
    settings = Settings.from_environment(environ)
    assert (settings.state, settings.now, settings.scenario) == ("memory://", NOW, "no-traffic")
    assert Settings.from_environment(environ, state="x.sqlite3", scenario="healthy").state == "x.sqlite3"
    with pytest.raises(BadInputError, match="got 'soon'"):
        Settings.from_environment({"FINDLY_NOW": "soon"})


def test_virtual_time_starts_after_the_latest_recorded_event() -> None:
    platform = load_platform(SETTINGS)
    store, cluster = MemoryEventStore(), SimulatedCluster()
    with open_runtime(SETTINGS, platform, service="fn-posts", store=store, cluster=cluster) as first:
        first.service.deploy("fn-posts", "1.0.0", "development", actor="erin")
        assert first.virtual is not None
        first.virtual.advance(timedelta(hours=2))
        first.service.step("fn-posts", "development", actor="findly")
    earlier = Settings(config=str(EXAMPLE), config_given=True, state="memory://", now=NOW - timedelta(days=1))
    with open_runtime(earlier, platform, service="fn-posts", store=store, cluster=cluster) as second:
        assert second.clock.now() == NOW + timedelta(hours=2)  # never before what is recorded


def test_a_pending_promotion_waits_for_the_groups_still_missing(runtime: Runtime) -> None:
    _through_staging(runtime, "1.0.0")
    release = runtime.service
    with pytest.raises(PolicyRefusedError, match="approvals"):
        release.deploy("fn-posts", "1.0.0", "production", actor="erin")
    view = release.view("fn-posts", "production")
    assert view.phase is Phase.IDLE
    assert view.waiting_for is not None
    assert (view.waiting_for.kind, view.waiting_for.needs) == (WaitKind.APPROVAL, ("devops-team", "security-team"))
    assert "by someone other than erin" in view.waiting_for.message
    outcome = release.approve("fn-posts", "1.0.0", "production", actor="alice")
    assert outcome.view.waiting_for is not None
    assert outcome.view.waiting_for.needs == ("security-team",)


def test_a_blue_green_rollout_says_which_evidence_it_waits_for_and_until_when(runtime: Runtime) -> None:
    _through_staging(runtime, "1.0.0")
    release = runtime.service
    with pytest.raises(PolicyRefusedError):
        release.deploy("fn-posts", "1.0.0", "production", actor="erin")
    for person in ("alice", "carol"):
        release.approve("fn-posts", "1.0.0", "production", actor=person)
    started = release.deploy("fn-posts", "1.0.0", "production", actor="erin")
    assert started.view.strategy is StrategyKind.BLUE_GREEN
    waiting = started.view.waiting_for
    assert waiting is not None
    assert (waiting.kind, waiting.needs) == (WaitKind.EVIDENCE, ("smoke_tests",))
    rollout = started.view.rollout
    assert rollout is not None
    assert waiting.deadline == rollout.started + timedelta(hours=1)
    assert "--suite smoke_tests --passed" in waiting.message
    waiting = release.record_test("fn-posts", "1.0.0", "production", "smoke_tests", True, actor="ci").view.waiting_for
    assert waiting is not None
    assert waiting.needs == ("performance_tests",)
    assert (
        release.record_test("fn-posts", "1.0.0", "production", "performance_tests", True, actor="ci").view.waiting_for
        is None
    )
    assert runtime.virtual is not None
    runtime.virtual.advance(timedelta(minutes=1))
    awaiting = release.step("fn-posts", "production", actor="findly").view
    assert awaiting.phase is Phase.AWAITING_APPROVAL
    assert awaiting.waiting_for is not None
    assert awaiting.waiting_for.kind is WaitKind.APPROVAL


def test_every_command_and_status_tell_the_same_story(runtime: Runtime) -> None:
    release = runtime.service
    assert runtime.virtual is not None
    release.deploy("fn-posts", "1.0.0", "development", actor="erin")
    release.watch("fn-posts", "development", actor="findly", wait=runtime.virtual.advance)
    release.deploy("fn-posts", "2.0.0", "development", actor="erin", strategy=StrategyKind.CANARY)
    runtime.virtual.advance(timedelta(minutes=1))
    stepped = release.step("fn-posts", "development", actor="findly")
    assert stepped.analysis is not None  # the step says what it measured and decided
    assert stepped.view == release.view("fn-posts", "development")
    assert (stepped.view.serving, stepped.view.candidate) == (Share("1.0.0", 95), Share("2.0.0", 5))
    rolled = release.rollback("fn-posts", "development", actor="erin", reason="bad build")
    assert rolled.view == release.view("fn-posts", "development")
    assert rolled.view.routes() == {"1.0.0": 100}


def test_reconcile_brings_the_cluster_back_to_what_the_log_says(runtime: Runtime) -> None:
    from findly_infra.domain import Holding

    release = runtime.service
    release.deploy("fn-posts", "1.0.0", "development", actor="erin", strategy=StrategyKind.CANARY)
    assert isinstance(release.cluster, SimulatedCluster)
    left = Holding({"fn-posts": "9.9.9"}, {"9.9.9": 100})
    release.cluster.holdings[("fn-posts", "development")] = left  # a crash left the cluster behind
    held, expected = release.holding("fn-posts", "development")
    assert held == left != expected
    outcome = release.reconcile("fn-posts", "development")
    assert outcome.routed
    held, expected = release.holding("fn-posts", "development")
    assert held == expected == Holding({"fn-posts": "1.0.0"}, {"1.0.0": 100})
    assert release.cluster.weights("fn-posts", "development") == outcome.view.routes()


def test_test_evidence_rules() -> None:
    assert junit_evidence(JUnitSummary(tests=0, failures=0)).passed is False  # nothing ran: not a pass
    assert junit_evidence(JUnitSummary(tests=3, failures=0)).detail == "3/3 passed"
    assert junit_evidence(JUnitSummary(tests=3, failures=1)).passed is False
    assert junit_evidence(JUnitSummary(tests=3, failures=0, errors=1)).detail == "2/3 passed, 1 errored"
    assert junit_evidence(JUnitSummary(tests=3, failures=0, skipped=3)) == Evidence(False, "no test ran (3 skipped)")
    assert junit_evidence(JUnitSummary(tests=4, failures=0, skipped=1)) == Evidence(True, "3/3 passed, 1 skipped")

    def found(*severities: str) -> tuple[TrivyFinding, ...]:
        return tuple(TrivyFinding("Vulnerabilities", f"CVE-{n}", s) for n, s in enumerate(severities))

    assert trivy_evidence(found("LOW", "MEDIUM"), "HIGH").passed is True
    assert trivy_evidence(found("LOW", "HIGH"), "HIGH") == Evidence(
        False, "2 findings, 1 at HIGH or above (Vulnerabilities: CVE-1)"
    )
    assert trivy_evidence(found("CRITICAL"), "CRITICAL").passed is False
    assert trivy_evidence(found("UNKNOWN"), "LOW").passed is True  # UNKNOWN is below every limit but itself
    assert trivy_evidence(found("UNKNOWN"), "UNKNOWN").passed is False


def test_reports_that_are_not_their_format_are_bad_input(runtime: Runtime, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text("<html/>")
    with pytest.raises(BadInputError, match="not a JUnit report"):
        runtime.reports.junit(junit)
    trivy = tmp_path / "trivy.json"
    trivy.write_text("[1, 2]")
    with pytest.raises(BadInputError, match="not a Trivy JSON report"):
        runtime.reports.trivy(trivy)
    with pytest.raises(BadInputError, match="cannot read"):
        runtime.reports.junit(tmp_path / "missing.xml")


def test_the_runtime_closes_what_it_opened(tmp_path: Path) -> None:
    import sqlite3

    settings = Settings(config=str(EXAMPLE), config_given=True, state=str(tmp_path / "state.sqlite3"), now=NOW)
    with open_runtime(settings, load_platform(settings), service="fn-posts") as runtime:
        runtime.service.deploy("fn-posts", "1.0.0", "development", actor="erin")
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        runtime.service.history("fn-posts")
    with open_runtime(settings, load_platform(settings), service="fn-posts") as again:  # and it kept everything
        assert [e.type for e in again.service.history("fn-posts")][:2] == ["rollout_started", "traffic_shifted"]


@settings(deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["deploy", "step", "pause", "resume", "rollback", "record", "approve"]),
            st.integers(-90, 90),  # minutes the clock moves before the command: backwards too (skew, a replay)
        ),
        min_size=1,
        max_size=25,
    )
)
def test_times_never_decrease_within_a_stream_whatever_the_clock_says(program: list[tuple[str, int]]) -> None:
    store, clock = MemoryEventStore(), VirtualClock(NOW)
    platform = load_platform(SETTINGS)
    with open_runtime(SETTINGS, platform, store=store, cluster=SimulatedCluster()) as built:
        release = built.service
        release.clock = clock
        for step, (command, minutes) in enumerate(program):
            clock.current += timedelta(minutes=minutes)
            with contextlib.suppress(PolicyRefusedError):
                if command == "deploy":
                    release.deploy("fn-posts", f"1.{step}.0", "development", actor="erin")
                elif command == "step":
                    release.step("fn-posts", "development", actor="findly")
                elif command in ("pause", "rollback"):
                    getattr(release, command)("fn-posts", "development", actor="erin", reason="look")
                elif command == "resume":
                    release.resume("fn-posts", "development", actor="erin")
                elif command == "record":
                    release.record_test("fn-posts", f"1.{step - 1}.0", "development", "unit", True, actor="ci")
                else:
                    release.approve("fn-posts", f"1.{step - 1}.0", "production", actor="alice")
    times = [event.at for event in store.load("fn-posts")[0]]
    assert times == sorted(times)


def test_a_strategy_given_by_name_is_read_as_one_and_a_misspelt_one_is_refused_before_anything_is_recorded(
    runtime: Runtime,
) -> None:
    release = runtime.service
    started = release.deploy("fn-posts", "1.0.0", "development", actor="erin", strategy="canary")  # type: ignore[arg-type]
    assert started.view.strategy is StrategyKind.CANARY
    with pytest.raises(BadInputError, match="strategy 'canery' is not one of: rolling, blue-green, canary"):
        release.deploy("fn-posts", "1.0.0", "staging", actor="erin", strategy="canery")  # type: ignore[arg-type]
    assert len(release.history("fn-posts")) == len(started.events)


def test_a_watch_builds_each_decisions_view_once_and_a_cluster_left_behind_is_still_brought_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 24: a decision's view is built once — the next decision starts from the view the last one left — and
    the repair before each decision still brings a cluster that fell behind the log (a crash between storing and
    routing, a hand on the cluster) back to it."""
    from findly_infra.application import service as use_cases
    from findly_infra.application.service import Outcome, PipelineService
    from findly_infra.domain.tracks import Holding, expected_holding
    from findly_infra.domain.view import EnvironmentView
    from findly_infra.testing import SCENARIOS, ScenarioMetrics

    platform = load_platform(SETTINGS)
    clock, cluster = VirtualClock(NOW), SimulatedCluster()
    release = PipelineService(platform, MemoryEventStore(), clock, ScenarioMetrics(SCENARIOS["healthy"]), cluster)
    release.deploy("fn-posts", "1.0.0", "development", actor="erin", strategy=StrategyKind.CANARY)
    built: list[EnvironmentView] = []
    real = EnvironmentView.of

    def counted(pipeline: object, environment: str, at: datetime) -> EnvironmentView:
        built.append(real(pipeline, environment, at))  # type: ignore[arg-type]
        return built[-1]

    monkeypatch.setattr(use_cases.EnvironmentView, "of", counted)
    steps: list[Outcome] = []
    knocks: list[int] = []

    def knocked(outcome: Outcome) -> None:  # now and then, someone moves the cluster by hand mid-rollout
        steps.append(outcome)
        if len(steps) % 3 == 0 and outcome.phase is Phase.PROGRESSING:
            knocks.append(len(steps) - 1)
            cluster.holdings[("fn-posts", "development")] = Holding({"fn-posts": "0.0.1"}, {"0.0.1": 100})

    outcome = release.watch("fn-posts", "development", actor="findly", wait=clock.advance, on_step=knocked)
    assert outcome.phase is Phase.SUCCEEDED
    decisions = len(steps) - 1  # on_step sees where the watch starts first
    assert len(built) <= decisions + 1, (len(built), decisions)  # the start's view, then one per decision
    assert knocks
    assert all(steps[knock + 1].routed for knock in knocks)  # the next step brought the cluster back first
    assert cluster.holding("fn-posts", "development") == expected_holding(outcome.view)
