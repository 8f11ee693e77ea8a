"""Rules of ``domain/pipeline.py`` that a mutation run of the domain showed no test pinned (issue 23), each pinned
exactly by a property test whose examples reach it: a blue-green rollout waits for evidence only while it progresses
before cutover (a rolled-back, aborted, paused or succeeded one waits for none); recording a result the record
already holds is answered "already" and records nothing; a failure of the cluster rolls back to the version it
restores, recorded with who acted; every event an analysis causes records the analysing actor; and
``affected_rollouts`` reports exactly the parts of a rollout's plan the file changed (none when it changed none).

Kept fast: ``nox -s mutation`` runs them for every mutant of these modules."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from findly_infra import load_platform
from findly_infra.domain import Decision, DeploymentPipeline, Phase, StrategyKind, Verdict, events
from findly_infra.domain.environment import RollbackCapability
from findly_infra.domain.notation import Duration
from findly_infra.domain.platform import UnknownNameError
from findly_infra.domain.refusal import Refusal
from findly_infra.domain.strategy import ValidationStep
from findly_infra.domain.view import EnvironmentView, WaitKind
from tests.conftest import EXAMPLE
from tests.test_audit_trail import to_production

T0 = datetime(2026, 11, 26, 9, 0, 0)
PLATFORM = load_platform(EXAMPLE)
ENV = "development"
BLUE_GREEN = PLATFORM.blue_green_strategy
assert BLUE_GREEN is not None
SUITES = ("smoke_tests", "performance_tests")
STEPS = {
    "health_checks": ValidationStep("health_checks", "All pods healthy"),
    "smoke_tests": ValidationStep("smoke_tests", "Critical path validation"),
    "performance_tests": ValidationStep("performance_tests", "Latency within SLA"),
    "business_validation": ValidationStep("business_validation", "Manual approval required"),
}


def run(pipeline: DeploymentPipeline, decision: Decision) -> DeploymentPipeline:
    assert decision.refusal is None, decision.refusal
    return pipeline.apply_all(decision.events)


def serving(platform: object = PLATFORM, previous: bool = True) -> DeploymentPipeline:
    """*ENV* serving 0.9.0 (a rolling update that succeeded), or nothing (``previous=False``: a first release)."""
    pipeline = DeploymentPipeline.start(platform, "fn-posts")  # type: ignore[arg-type]
    if not previous:
        return pipeline
    pipeline = run(pipeline, pipeline.deploy("0.9.0", ENV, actor="alice", at=T0, strategy=StrategyKind.ROLLING))
    return run(pipeline, pipeline.analyze(ENV, Verdict.PASS, actor="findly", at=T0 + timedelta(hours=1)))


def with_steps(names: tuple[str, ...], **timings: Duration) -> object:
    """The example platform, its blue-green validation steps *names* (and durations *timings*)."""
    strategy = attrs.evolve(BLUE_GREEN, validation_steps=tuple(STEPS[name] for name in names), **timings)
    return attrs.evolve(PLATFORM, blue_green_strategy=strategy)


START = T0 + timedelta(hours=2)


def blue_green(platform: object = PLATFORM, previous: bool = True) -> DeploymentPipeline:
    pipeline = serving(platform, previous)
    return run(pipeline, pipeline.deploy("1.0.0", ENV, actor="alice", at=START, strategy=StrategyKind.BLUE_GREEN))


# ---- a blue-green rollout waits for evidence only while it progresses before cutover -------------------------

COMMANDS = st.one_of(
    st.tuples(st.just("analyze"), st.sampled_from(list(Verdict))),
    st.tuples(st.just("record"), st.sampled_from(SUITES), st.booleans()),
    st.tuples(st.sampled_from(["rollback", "abort", "pause", "resume"])),
)
STEP_LISTS = st.lists(st.sampled_from(list(STEPS)), unique=True, max_size=4).map(tuple)


def expected_evidence(pipeline: DeploymentPipeline, steps: tuple[str, ...]) -> str | None:
    """The suite the rollout waits for, worked out from the documented rule alone: only a progressing rollout
    before cutover waits, for its first step still unmet — none once a manual step not yet approved comes first."""
    state = pipeline.environments[ENV]
    rollout = state.rollout
    assert rollout is not None
    if rollout.phase is not Phase.PROGRESSING or rollout.weight == 100:
        return None
    for name in steps:
        if name == "business_validation" and name not in rollout.approved_steps:
            return None
        if name in SUITES and (rollout.version, name) not in state.passed:
            return name
    return None


def play(pipeline: DeploymentPipeline, script: list[tuple[object, ...]]) -> list[tuple[DeploymentPipeline, datetime]]:
    """The pipeline after each accepted command of *script* (one a minute from the start)."""
    seen = []
    at = START
    for command in script:
        at += timedelta(minutes=7)
        name = command[0]
        if name == "analyze":
            decision = pipeline.analyze(ENV, command[1], actor="findly", at=at)  # type: ignore[arg-type]
        elif name == "record":
            decision = pipeline.record_test("1.0.0", ENV, command[1], command[2], actor="ci", at=at)  # type: ignore[arg-type]
        elif name == "resume":
            decision = pipeline.resume(ENV, actor="bob", at=at)
        else:
            decision = getattr(pipeline, str(name))(ENV, actor="bob", at=at, reason=f"{name} by bob")
        if decision.refusal is None:
            pipeline = pipeline.apply_all(decision.events)
            seen.append((pipeline, at))
    return seen


@given(STEP_LISTS, st.lists(COMMANDS, max_size=12), st.booleans())
@example(("health_checks", "smoke_tests"), [("analyze", Verdict.PASS), ("rollback",)], True)
@example(("smoke_tests",), [("abort",)], False)
@example(("smoke_tests",), [("pause",)], True)
@example(("smoke_tests", "business_validation"), [("analyze", Verdict.PASS)], True)
@example(("smoke_tests",), [("record", "smoke_tests", True), ("analyze", Verdict.PASS)], True)
@example(
    ("smoke_tests",),
    [("record", "smoke_tests", True), ("analyze", Verdict.PASS), ("record", "smoke_tests", False)],
    True,
)
def test_a_blue_green_rollout_waits_for_evidence_exactly_while_it_progresses_before_cutover(
    steps: tuple[str, ...], script: list[tuple[object, ...]], previous: bool
) -> None:
    """A rolled-back, aborted, paused or succeeded rollout waits for no evidence (it holds no traffic, or a person
    decides), nor one that cut over (a failed re-run after cutover is no wait): the view says so, with the
    rollout's deadline."""
    pipeline = blue_green(with_steps(steps), previous)
    for after, at in [(pipeline, START), *play(pipeline, script)]:
        suite = expected_evidence(after, steps)
        assert after.awaited_evidence(ENV) == suite
        waiting = EnvironmentView.of(after, ENV, at).waiting_for
        if suite is None:
            assert waiting is None or waiting.kind is not WaitKind.EVIDENCE
        else:
            assert waiting is not None
            assert (waiting.kind, waiting.needs) == (WaitKind.EVIDENCE, (suite,))


def test_a_retired_environment_waits_for_no_evidence() -> None:
    """An environment the platform file no longer names waits for nothing, whatever its rollout."""
    pipeline = blue_green(with_steps(("smoke_tests",)))
    assert pipeline.awaited_evidence(ENV) == "smoke_tests"
    renamed = attrs.evolve(
        PLATFORM, environments=tuple(attrs.evolve(e, name="dev") if e.name == ENV else e for e in PLATFORM.environments)
    )
    retired = DeploymentPipeline.replay(renamed, "fn-posts", _events(pipeline))
    assert ENV in retired.retired
    assert retired.awaited_evidence(ENV) is None


def _events(pipeline: DeploymentPipeline) -> list[object]:
    """The events that built *pipeline* in this module (a blue-green rollout on a serving version)."""
    fresh = DeploymentPipeline.start(PLATFORM, "fn-posts")
    trail: list[object] = []
    decision = fresh.deploy("0.9.0", ENV, actor="alice", at=T0, strategy=StrategyKind.ROLLING)
    trail += decision.events
    fresh = fresh.apply_all(decision.events)
    decision = fresh.analyze(ENV, Verdict.PASS, actor="findly", at=T0 + timedelta(hours=1))
    trail += decision.events
    fresh = fresh.apply_all(decision.events)
    decision = fresh.deploy("1.0.0", ENV, actor="alice", at=START, strategy=StrategyKind.BLUE_GREEN)
    return trail + list(decision.events)


# ---- recording what the record already says --------------------------------------------------------------------

RESULTS = st.tuples(st.sampled_from(["1.0.0", "1.1.0"]), st.sampled_from(["unit", "integration"]), st.booleans())


@given(st.lists(RESULTS, max_size=10))
def test_a_result_the_record_already_holds_is_answered_already_and_records_nothing(
    results: list[tuple[str, str, bool]],
) -> None:
    """The same verdict of the same suite for the same version again (a retried CI step) records nothing and says
    what holds; a different verdict, version or suite records one event, which the record then holds."""
    pipeline = DeploymentPipeline.start(PLATFORM, "fn-posts")
    latest: dict[tuple[str, str], bool] = {}
    for offset, (version, suite, passed) in enumerate(results):
        decision = pipeline.record_test(version, ENV, suite, passed, actor="ci", at=T0 + timedelta(minutes=offset))
        assert decision.refusal is None
        if latest.get((version, suite)) == passed:
            verdict = "passed" if passed else "failed"
            assert decision.events == ()
            assert decision.already == f"{suite} of {version} is already recorded as {verdict} in {ENV}"
            continue
        assert decision.already is None
        (recorded,) = decision.events
        assert isinstance(recorded, events.TestResultRecorded)
        assert (recorded.version, recorded.suite, recorded.passed, recorded.actor) == (version, suite, passed, "ci")
        latest[(version, suite)] = passed
        pipeline = pipeline.apply_all(decision.events)
        state = pipeline.environments[ENV]
        assert state.has_passed(version, suite) is passed
        assert ((version, suite) in state.failed) is not passed


# ---- the cluster could not run the version -----------------------------------------------------------------------

ACTORS = st.sampled_from(["findly", "carol", "ci-runner-7"])


@given(ACTORS, st.booleans(), st.booleans(), st.sampled_from(list(StrategyKind)))
@example("carol", True, True, StrategyKind.BLUE_GREEN)
@example("carol", False, True, StrategyKind.CANARY)
def test_a_workload_the_cluster_cannot_run_is_rolled_back_to_the_version_it_restores_by_who_acted(
    actor: str, previous: bool, automatic: bool, kind: StrategyKind
) -> None:
    """Where rollback is automatic, the rollback restores the version served before the rollout (``None`` for a
    first release) and records who acted and the cluster's reason; elsewhere the rollout pauses for a person, by
    the same actor. The view then serves the restored version alone, or the candidate still holds its share."""
    capability = RollbackCapability.AUTOMATIC if automatic else RollbackCapability.MANUAL
    platform = attrs.evolve(
        PLATFORM,
        environments=tuple(
            attrs.evolve(e, rollback_capability=capability) if e.name == ENV else e for e in PLATFORM.environments
        ),
    )
    pipeline = serving(platform, previous)
    pipeline = run(pipeline, pipeline.deploy("1.0.0", ENV, actor="alice", at=START, strategy=kind))
    at = START + timedelta(minutes=3)
    decision = pipeline.workload_failed(ENV, actor=actor, at=at, reason="ProgressDeadlineExceeded")
    (stopped,) = decision.events
    why = "the cluster could not run 1.0.0: ProgressDeadlineExceeded"
    assert (stopped.version, stopped.actor, stopped.at, stopped.environment) == ("1.0.0", actor, at, ENV)
    after = pipeline.apply(stopped)
    rollout = after.environments[ENV].rollout
    assert rollout is not None
    if automatic:
        assert isinstance(stopped, events.RolledBack)
        assert stopped.restored == ("0.9.0" if previous else None)
        assert stopped.reason == why
        assert rollout.phase is Phase.ROLLED_BACK
        assert EnvironmentView.of(after, ENV, at).routes() == ({"0.9.0": 100} if previous else {})
    else:
        assert isinstance(stopped, events.RolloutPaused)
        assert stopped.reason == f"{why}; rollback is manual here"
        assert rollout.phase is Phase.PAUSED
    assert (rollout.reason, rollout.stopped_at) == (stopped.reason, at)
    again = after.workload_failed(ENV, actor=actor, at=at, reason="again")
    assert again.refusal is not None
    assert again.refusal.rule == "rollout-progressing"


# ---- an analysis's events are the analyst's ------------------------------------------------------------------------

VERDICTS = st.lists(st.sampled_from(list(Verdict)), min_size=1, max_size=12)


@given(ACTORS, st.sampled_from(list(StrategyKind)), VERDICTS, st.sampled_from([1, 11, 31]))
@example("carol", StrategyKind.CANARY, [Verdict.FAIL, Verdict.FAIL], 1)
@example("carol", StrategyKind.CANARY, [Verdict.PASS, Verdict.PASS], 11)
@example("carol", StrategyKind.ROLLING, [Verdict.PASS], 11)
@example("carol", StrategyKind.BLUE_GREEN, [Verdict.INCONCLUSIVE] * 4, 1)
def test_every_event_an_analysis_causes_records_the_analysing_actor(
    analyst: str, kind: StrategyKind, verdicts: list[Verdict], minutes: int
) -> None:
    """The analysis, and what it leads to (a traffic shift, success, rollback, pause, a wait for approval), are
    recorded as the analyst's, at the analysis's time, for the rollout's version — never the starter's."""
    pipeline = serving()
    pipeline = run(pipeline, pipeline.deploy("1.0.0", ENV, actor="alice", at=START, strategy=kind))
    at = START
    for verdict in verdicts:
        at += timedelta(minutes=minutes)
        decision = pipeline.analyze(ENV, verdict, actor=analyst, at=at)
        if decision.refusal is not None:
            assert decision.refusal.rule == "rollout-progressing"
            break
        first = decision.events[0]
        assert isinstance(first, events.AnalysisRecorded)
        assert first.verdict is verdict
        for caused_event in decision.events:
            assert (caused_event.actor, caused_event.at, caused_event.version) == (analyst, at, "1.0.0")
            assert caused_event.environment == ENV
        pipeline = pipeline.apply_all(decision.events)


# ---- affected_rollouts: what the file changed, and nothing it did not -------------------------------------------

MINUTES = st.sampled_from([5, 10, 20])


@given(
    st.sampled_from(list(StrategyKind)),
    st.sampled_from([None, 5, 10]),
    st.sampled_from([None, 30, 60]),
    st.sampled_from([None, 5, 10]),
    st.booleans(),
)
@example(StrategyKind.BLUE_GREEN, None, None, None, False)
@example(StrategyKind.BLUE_GREEN, 5, 30, None, True)
@example(StrategyKind.CANARY, None, None, None, True)
@example(StrategyKind.ROLLING, None, None, 10, False)
def test_affected_rollouts_reports_exactly_what_the_file_changed_of_a_rollout_under_way(
    kind: StrategyKind, bake: int | None, timeout: int | None, watch: int | None, stages: bool
) -> None:
    """With the file as the rollout started, no rollout is affected (its stages, steps and durations unchanged);
    with a duration, the steps or a canary's stages changed, one sentence says what the rollout keeps and what
    the file now says — only for what the rollout's own strategy recorded."""
    pipeline = serving()
    pipeline = run(pipeline, pipeline.deploy("1.0.0", ENV, actor="alice", at=START, strategy=kind))
    assert pipeline.affected_rollouts() == ()
    canary = PLATFORM.canary_strategy
    assert canary is not None
    rolling = PLATFORM.rolling_strategy
    edited = attrs.evolve(
        PLATFORM,
        blue_green_strategy=attrs.evolve(
            BLUE_GREEN,
            bake_time=Duration.of(minutes=bake) if bake else BLUE_GREEN.bake_time,
            validation_timeout=Duration.of(minutes=timeout) if timeout else BLUE_GREEN.validation_timeout,
            validation_steps=BLUE_GREEN.validation_steps[:2] if stages else BLUE_GREEN.validation_steps,
        ),
        canary_strategy=attrs.evolve(
            canary, traffic_progression=canary.traffic_progression[1:] if stages else canary.traffic_progression
        ),
        rolling_strategy=attrs.evolve(rolling, watch=Duration.of(minutes=watch) if watch else rolling.watch),
    )
    later = DeploymentPipeline.replay(edited, "fn-posts", _replayed(pipeline, kind))
    kept: list[str] = []
    said: list[str] = []
    if kind is StrategyKind.CANARY and stages:
        kept.append(f"the {len(canary.traffic_progression)} canary stages")
        said.append(f"{len(canary.traffic_progression) - 1} stages")
    if kind is StrategyKind.BLUE_GREEN:
        if stages:
            names = ", ".join(step.name for step in BLUE_GREEN.validation_steps)
            kept.append(f"the validation steps ({names})")
            said.append(f"({', '.join(step.name for step in BLUE_GREEN.validation_steps[:2])})")
        for name, was, now in (
            ("validation timeout", BLUE_GREEN.validation_timeout, timeout),
            ("bake time", BLUE_GREEN.bake_time, bake),
        ):
            if now is not None and Duration.of(minutes=now) != was:
                kept.append(f"the {name} of {was.describe()}")
                said.append(f"{name} of {Duration.of(minutes=now).describe()}")
    if kind is StrategyKind.ROLLING and watch is not None and Duration.of(minutes=watch) != rolling.watch:
        kept.append(f"the watch of {rolling.watch.describe()}")
        said.append(f"watch of {Duration.of(minutes=watch).describe()}")
    where = f"fn-posts: the rollout of 1.0.0 in {ENV} (progressing)"
    sentence = f"{where} keeps {' and '.join(kept)} it started with; the file's {' and '.join(said)} apply from"
    expected = (f"{sentence} the next rollout",) if kept else ()
    assert later.affected_rollouts() == expected
    ended = later.apply_all(later.abort(ENV, actor="bob", at=START + timedelta(minutes=1), reason="done").events)
    assert ended.affected_rollouts() == ()  # an ended rollout is affected by nothing


def _replayed(pipeline: DeploymentPipeline, kind: StrategyKind) -> list[object]:
    fresh = DeploymentPipeline.start(PLATFORM, "fn-posts")
    trail: list[object] = []
    for decide in (
        lambda p: p.deploy("0.9.0", ENV, actor="alice", at=T0, strategy=StrategyKind.ROLLING),
        lambda p: p.analyze(ENV, Verdict.PASS, actor="findly", at=T0 + timedelta(hours=1)),
        lambda p: p.deploy("1.0.0", ENV, actor="alice", at=START, strategy=kind),
    ):
        decision = decide(fresh)
        trail += decision.events
        fresh = fresh.apply_all(decision.events)
    assert fresh == pipeline
    return trail


def test_a_rollout_in_an_environment_the_file_no_longer_names_is_said_to_need_ending() -> None:
    pipeline = blue_green()
    renamed = attrs.evolve(
        PLATFORM, environments=tuple(attrs.evolve(e, name="dev") if e.name == ENV else e for e in PLATFORM.environments)
    )
    retired = DeploymentPipeline.replay(renamed, "fn-posts", _events(pipeline))
    assert retired.affected_rollouts() == (
        f"fn-posts: the rollout of 1.0.0 in {ENV} (progressing) is under way, but the platform file no longer names "
        f"{ENV}: end it first",
    )


def test_two_rollouts_in_environments_the_file_no_longer_names_are_each_said() -> None:
    """Each rollout under way in a retired environment gets its sentence (not only the first)."""
    pipeline = serving()
    pipeline = run(pipeline, pipeline.deploy("1.0.0", ENV, actor="alice", at=START, strategy=StrategyKind.CANARY))
    trail = _replayed(pipeline, StrategyKind.CANARY)
    staged = pipeline.deploy("0.1.0", "staging", actor="alice", at=START, strategy=StrategyKind.ROLLING)
    assert staged.refusal is not None  # promotion order: staged by hand, as an imported history could
    trail += [attrs.evolve(e, environment="staging", version="0.1.0") for e in trail[-2:]]
    renamed = attrs.evolve(
        PLATFORM,
        environments=tuple(
            attrs.evolve(e, name=f"old-{e.name}") if e.name in (ENV, "staging") else e for e in PLATFORM.environments
        ),
    )
    retired = DeploymentPipeline.replay(renamed, "fn-posts", trail)
    said = retired.affected_rollouts()
    assert [sentence.split(" is under way")[0] for sentence in said] == [
        f"fn-posts: the rollout of 1.0.0 in {ENV} (progressing)",
        "fn-posts: the rollout of 0.1.0 in staging (progressing)",
    ]


def test_a_duration_the_file_no_longer_has_is_no_change_said() -> None:
    """A rollout that recorded a duration its strategy no longer has (an older version's, say) is not affected by
    it: only durations the file still gives are compared."""
    pipeline = serving()
    decision = pipeline.deploy("1.0.0", ENV, actor="alice", at=START, strategy=StrategyKind.ROLLING)
    started = decision.events[0]
    assert isinstance(started, events.RolloutStarted)
    legacy = attrs.evolve(started, timings=(*started.timings, ("warm_up", 60_000)))
    pipeline = pipeline.apply_all((legacy, *decision.events[1:]))
    assert pipeline.affected_rollouts() == ()


def test_state_names_a_known_environment_only() -> None:
    pipeline = serving()
    assert pipeline.state(ENV) is pipeline.environments[ENV]
    with pytest.raises(UnknownNameError, match="nowhere"):
        pipeline.state("nowhere")


def test_a_failure_reported_with_no_rollout_progressing_is_refused_by_name() -> None:
    decision = serving().workload_failed(ENV, actor="findly", at=START, reason="crash")
    assert decision.refusal == Refusal("rollout-progressing", f"no rollout is progressing in {ENV}")


ORDERS = st.permutations(["health_checks", "smoke_tests", "business_validation"]).map(tuple)


@given(ORDERS, st.sampled_from(["alice", "bob"]), st.booleans())
@example(("health_checks", "business_validation", "smoke_tests"), "alice", False)
@example(("business_validation", "smoke_tests", "health_checks"), "bob", True)
def test_approving_a_manual_step_goes_on_with_the_rollouts_own_validation(
    order: tuple[str, ...], approver: str, passed: bool
) -> None:
    """In an environment whose own strategy is not blue-green, a blue-green rollout awaiting its manual step goes on,
    once approved, with its own steps after it — at the approval's time, as the approver: the next evidence awaited,
    a pause past the deadline, or the cutover."""
    platform = attrs.evolve(
        with_steps(order),
        environments=tuple(
            attrs.evolve(e, deployment_strategy=StrategyKind.CANARY) if e.name == "production" else e
            for e in PLATFORM.environments
        ),
    )
    pipeline = to_production(platform=platform, at=T0)
    pipeline = run(
        pipeline, pipeline.deploy("1.0.0", "production", actor="erin", at=T0, strategy=StrategyKind.BLUE_GREEN)
    )
    if passed:
        pipeline = run(pipeline, pipeline.record_test("1.0.0", "production", "smoke_tests", True, actor="ci", at=T0))
    at = T0 + timedelta(hours=2)  # past the validation timeout
    analysis = pipeline.analyze("production", Verdict.PASS, actor="findly", at=T0 + timedelta(minutes=1))
    pipeline = run(pipeline, analysis)
    rollout = pipeline.environments["production"].rollout
    assert rollout is not None
    if rollout.phase is not Phase.AWAITING_APPROVAL:
        return  # the smoke test came first and is missing: no approval is asked yet
    decision = pipeline.approve("1.0.0", "production", actor=approver, at=at)
    granted, *following = decision.events
    assert isinstance(granted, events.ApprovalGranted)
    assert granted.step == "business_validation"
    after = order[order.index("business_validation") + 1 :]
    if "smoke_tests" in after and not passed:
        (paused,) = following
        assert isinstance(paused, events.RolloutPaused)
    else:
        (shifted,) = following
        assert isinstance(shifted, events.TrafficShifted)
        assert (shifted.weight, shifted.reason) == (100, "cutover")
    for event in decision.events:
        assert (event.actor, event.at, event.version) == (approver, at, "1.0.0")
