"""The pipeline's rules, each as a property over random command sequences, and the seed's story."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from findly_infra import load_platform
from findly_infra.domain import (
    AnalysisRecorded,
    Decision,
    DeploymentPipeline,
    Event,
    Phase,
    PromotionRequested,
    RolledBack,
    RolloutStarted,
    RolloutSucceeded,
    StrategyKind,
    TrafficShifted,
    Verdict,
)
from findly_infra.domain.pipeline import ROLLOUT_RECORDED_EVIDENCE

from .conftest import EXAMPLE

T0 = datetime(2026, 11, 26, 9, 0, 0)
PLATFORM = load_platform(EXAMPLE)
ENVS = PLATFORM.promotion_order
PEOPLE = ("alice", "bob", "carol", "dave", "erin")
VERSIONS = ("1.0.0", "2.0.0")
SUITES = ("unit", "integration", "smoke", "e2e", "performance", "security", "load", "smoke_tests", "performance_tests")


def run(pipeline: DeploymentPipeline, decision_events: tuple[Event, ...]) -> DeploymentPipeline:
    return pipeline.apply_all(decision_events)


commands = st.one_of(
    st.tuples(
        st.just("deploy"),
        st.sampled_from(ENVS),
        st.sampled_from(VERSIONS),
        st.sampled_from(PEOPLE),
        st.sampled_from([None, StrategyKind.CANARY]),
    ),
    st.tuples(
        st.just("test"), st.sampled_from(ENVS), st.sampled_from(VERSIONS), st.sampled_from(SUITES), st.booleans()
    ),
    st.tuples(st.just("approve"), st.sampled_from(ENVS), st.sampled_from(VERSIONS), st.sampled_from(PEOPLE)),
    st.tuples(st.just("analyze"), st.sampled_from(ENVS), st.sampled_from(Verdict), st.integers(0, 30)),
    st.tuples(st.just("human"), st.sampled_from(ENVS), st.sampled_from(["pause", "resume", "abort", "rollback"])),
    # macros that make progress likely, so that staging and production are reached, not only refused
    st.tuples(st.just("suites"), st.sampled_from(ENVS), st.sampled_from(VERSIONS), st.booleans()),
    st.tuples(st.just("complete"), st.sampled_from(ENVS)),
    st.tuples(st.just("complete"), st.sampled_from(ENVS)),
    st.tuples(
        st.just("deploy"),
        st.sampled_from(ENVS),
        st.sampled_from(VERSIONS),
        st.sampled_from(PEOPLE),
        st.sampled_from([None, StrategyKind.CANARY]),
    ),
    st.tuples(st.just("approve"), st.just("production"), st.sampled_from(VERSIONS), st.sampled_from(PEOPLE)),
    st.tuples(st.just("progress"), st.sampled_from(VERSIONS)),
    st.tuples(st.just("progress"), st.sampled_from(VERSIONS)),
)


def drive(script: list[tuple[object, ...]]) -> tuple[DeploymentPipeline, list[tuple[DeploymentPipeline, Event]]]:
    """Run a command script; return the final pipeline and every event with the pipeline it was applied to."""
    pipeline = DeploymentPipeline.start(PLATFORM, "fn-posts")
    at = T0
    log: list[tuple[DeploymentPipeline, Event]] = []
    for command in script:
        at += timedelta(minutes=1)
        kind, env = command[0], command[1]
        if kind == "progress":  # the next step a well-behaved team would take for this version
            version = env
            for name in ENVS:  # finish what is under way first, with healthy analyses
                for _ in range(120):
                    rollout = pipeline.environments[name].rollout
                    if rollout is None or rollout.version != version or rollout.phase is not Phase.PROGRESSING:
                        break
                    at += timedelta(minutes=1)
                    for event in pipeline.analyze(name, Verdict.PASS, actor="findly", at=at).events:
                        log.append((pipeline, event))
                        pipeline = pipeline.apply(event)
            reached = [e for e in ENVS if version in pipeline.environments[e].succeeded]
            target = ENVS[len(reached)] if len(reached) < len(ENVS) else None
            if target is None:
                continue
            events = []
            probe = pipeline
            if reached:
                for suite in PLATFORM.environment(reached[-1]).tests:
                    step = probe.record_test(version, reached[-1], suite, True, actor="ci", at=at)
                    events += step.events
                    probe = probe.apply_all(step.events)
            for actor in ("erin", "alice", "carol", "erin"):
                step = (
                    probe.deploy(version, target, actor=actor, at=at)
                    if actor == "erin"
                    else probe.approve(version, target, actor=actor, at=at)
                )
                events += step.events
                probe = probe.apply_all(step.events)
            decision = Decision(tuple(events))
        elif kind == "deploy":
            _, _, version, actor, strategy = command
            decision = pipeline.deploy(version, env, actor=actor, at=at, strategy=strategy)  # type: ignore[arg-type]
        elif kind == "test":
            _, _, version, suite, passed = command
            decision = pipeline.record_test(version, env, suite, passed, actor="ci", at=at)  # type: ignore[arg-type]
        elif kind == "approve":
            _, _, version, actor = command
            decision = pipeline.approve(version, env, actor=actor, at=at)  # type: ignore[arg-type]
        elif kind == "suites":
            _, _, version, passed = command
            events: list[Event] = []
            for suite in PLATFORM.environment(env).tests:  # type: ignore[arg-type]
                events += pipeline.record_test(version, env, suite, passed, actor="ci", at=at).events  # type: ignore[arg-type]
            decision = Decision(tuple(events))
        elif kind == "complete":
            events = []
            probe = pipeline
            for _ in range(120):
                at += timedelta(minutes=1)
                step = probe.analyze(env, Verdict.PASS, actor="findly", at=at)  # type: ignore[arg-type]
                if not step.accepted:
                    break
                events += step.events
                probe = probe.apply_all(step.events)
            decision = Decision(tuple(events))
        elif kind == "analyze":
            _, _, verdict, minutes = command
            at += timedelta(minutes=minutes)  # type: ignore[operator]
            decision = pipeline.analyze(env, verdict, actor="findly", at=at)  # type: ignore[arg-type]
        else:
            _, _, action = command
            decision = getattr(pipeline, action)(env, actor="alice", at=at, reason="test")
        for event in decision.events:
            log.append((pipeline, event))
            pipeline = pipeline.apply(event)
    return pipeline, log


scripts = st.lists(commands, max_size=60)


@given(scripts)
def test_state_is_the_fold_of_the_events(script: list[tuple[object, ...]]) -> None:
    pipeline, log = drive(script)
    replayed = DeploymentPipeline.replay(PLATFORM, "fn-posts", [event for _, event in log])
    assert replayed == pipeline


@given(scripts)
def test_a_version_enters_only_from_the_previous_environment_after_succeeding_there(
    script: list[tuple[object, ...]],
) -> None:
    for before, event in drive(script)[1]:
        if isinstance(event, RolloutStarted):
            previous = PLATFORM.previous_environment(event.environment)
            if previous is not None:
                assert event.version in before.environments[previous.name].succeeded


@given(scripts)
def test_leaving_an_environment_needs_every_listed_suite_passed_for_that_version(
    script: list[tuple[object, ...]],
) -> None:
    for before, event in drive(script)[1]:
        if isinstance(event, RolloutStarted):
            previous = PLATFORM.previous_environment(event.environment)
            if previous is not None:
                for suite in previous.tests:
                    if suite not in ROLLOUT_RECORDED_EVIDENCE:
                        assert (event.version, suite) in before.environments[previous.name].passed


@given(scripts)
def test_production_needs_one_approval_per_group_by_distinct_people_not_the_requester(
    script: list[tuple[object, ...]],
) -> None:
    log = drive(script)[1]
    for index, (before, event) in enumerate(log):
        if isinstance(event, RolloutStarted) and event.environment == "production":
            state = before.environments["production"]
            assert state.requested is not None
            requester = state.requested.requested_by
            approvals = [a for a in state.approvals if a.version == event.version]
            groups = {a.group for a in approvals}
            assert groups >= {"devops-team", "security-team"}
            approvers = [a.approver for a in approvals]
            assert len(approvers) == len(set(approvers))
            assert requester not in approvers
            for approval in approvals:
                assert approval.approver in PLATFORM.approver_group(approval.group).members
                assert event.at - approval.at < timedelta(hours=24)
            _ = index


@given(scripts)
def test_one_rollout_at_a_time(script: list[tuple[object, ...]]) -> None:
    for before, event in drive(script)[1]:
        if isinstance(event, RolloutStarted):
            rollout = before.environments[event.environment].rollout
            assert rollout is None or not rollout.phase.active


@given(scripts)
def test_canary_weight_never_decreases_except_to_zero_on_rollback(script: list[tuple[object, ...]]) -> None:
    for before, event in drive(script)[1]:
        if isinstance(event, TrafficShifted):
            rollout = before.environments[event.environment].rollout
            assert rollout is not None
            assert event.weight >= rollout.weight


@given(scripts)
def test_rollback_is_possible_from_every_active_phase(script: list[tuple[object, ...]]) -> None:
    pipeline, _ = drive(script)
    for env in ENVS:
        rollout = pipeline.environments[env].rollout
        decision = pipeline.rollback(env, actor="alice", at=T0 + timedelta(days=30), reason="because")
        if rollout is not None and rollout.phase.active:
            assert decision.accepted
            assert run(pipeline, decision.events).environments[env].phase is Phase.ROLLED_BACK
        else:
            assert decision.refusal is not None


def _canary_in_dev(verdicts: list[Verdict], minutes: int = 1) -> tuple[DeploymentPipeline, list[Event]]:
    pipeline = DeploymentPipeline.start(PLATFORM, "fn-posts")
    decision = pipeline.deploy("1.0.0", "development", actor="alice", at=T0, strategy=StrategyKind.CANARY)
    events = list(decision.events)
    pipeline = run(pipeline, decision.events)
    at = T0
    for verdict in verdicts:
        at += timedelta(minutes=minutes)
        decision = pipeline.analyze("development", verdict, actor="findly", at=at)
        if not decision.accepted:
            break
        events += decision.events
        pipeline = run(pipeline, decision.events)
    return pipeline, events


@given(st.lists(st.sampled_from([Verdict.PASS, Verdict.INCONCLUSIVE]), max_size=20), st.integers(1, 200))
def test_a_breach_rolls_back_within_the_threshold(prefix: list[Verdict], breach: int) -> None:
    threshold = PLATFORM.canary_strategy.failure_handling.rollback_threshold  # type: ignore[union-attr]
    pipeline, events = _canary_in_dev([*prefix, *[Verdict.FAIL] * breach])
    if pipeline.environments["development"].phase is Phase.PAUSED:
        return  # too many inconclusive analyses paused it for a person first
    if pipeline.environments["development"].phase is Phase.SUCCEEDED:
        return
    fails = [i for i, e in enumerate(events) if isinstance(e, AnalysisRecorded) and e.verdict is Verdict.FAIL]
    if breach >= threshold:
        rolled = [i for i, e in enumerate(events) if isinstance(e, RolledBack)]
        assert rolled, "a continuous breach must roll the canary back"
        analyses_before = [i for i in fails if i < rolled[0]]
        assert len(analyses_before) <= threshold


@given(st.integers(1, 200))
def test_a_canary_meeting_every_criterion_is_never_rolled_back_and_succeeds(analyses: int) -> None:
    pipeline, events = _canary_in_dev([Verdict.PASS] * analyses)
    assert not any(isinstance(e, RolledBack) for e in events)
    phase = pipeline.environments["development"].phase
    assert phase in (Phase.PROGRESSING, Phase.SUCCEEDED)
    if analyses >= 60:  # 10 + 20 + 30 minutes at one analysis a minute
        assert phase is Phase.SUCCEEDED


@given(st.integers(1, 100))
def test_missing_data_never_succeeds_and_pauses_for_a_person(analyses: int) -> None:
    pipeline, events = _canary_in_dev([Verdict.INCONCLUSIVE] * analyses, minutes=30)
    assert not any(isinstance(e, RolloutSucceeded) for e in events)
    limit = PLATFORM.canary_strategy.analysis.inconclusive_limit  # type: ignore[union-attr]
    expected = Phase.PAUSED if analyses >= limit else Phase.PROGRESSING
    assert pipeline.environments["development"].phase is expected


def test_the_seed_story_from_development_to_production() -> None:
    pipeline = DeploymentPipeline.start(PLATFORM, "fn-posts")
    at = T0

    def do(decision_events: tuple[Event, ...]) -> None:
        nonlocal pipeline
        pipeline = run(pipeline, decision_events)

    def until_done(env: str) -> None:
        nonlocal at
        for _ in range(200):
            if pipeline.environments[env].phase is not Phase.PROGRESSING:
                return
            at += timedelta(minutes=1)
            do(pipeline.analyze(env, Verdict.PASS, actor="findly", at=at).events)

    do(pipeline.deploy("1.0.0", "development", actor="erin", at=at).events)
    until_done("development")
    assert pipeline.environments["development"].current == "1.0.0"
    refused = pipeline.deploy("1.0.0", "staging", actor="erin", at=at)
    assert refused.refusal is not None
    assert refused.refusal.rule == "required-tests"
    for suite in ("unit", "integration", "smoke"):
        do(pipeline.record_test("1.0.0", "development", suite, True, actor="ci", at=at).events)
    do(pipeline.deploy("1.0.0", "staging", actor="erin", at=at).events)
    until_done("staging")
    for suite in ("e2e", "performance", "security", "load"):
        do(pipeline.record_test("1.0.0", "staging", suite, True, actor="ci", at=at).events)

    refused = pipeline.deploy("1.0.0", "production", actor="erin", at=at, strategy=StrategyKind.CANARY)
    assert refused.refusal is not None
    assert refused.refusal.rule == "approvals"
    assert [type(e) for e in refused.events] == [PromotionRequested]
    do(refused.events)
    assert pipeline.approve("1.0.0", "production", actor="erin", at=at).refusal.rule == "approver-membership"  # type: ignore[union-attr]
    do(pipeline.approve("1.0.0", "production", actor="alice", at=at).events)
    assert pipeline.approve("1.0.0", "production", actor="bob", at=at).refusal.rule == "distinct-approvers"  # type: ignore[union-attr]
    do(pipeline.approve("1.0.0", "production", actor="carol", at=at).events)
    started = pipeline.deploy("1.0.0", "production", actor="erin", at=at, strategy=StrategyKind.CANARY)
    assert started.accepted
    do(started.events)
    until_done("production")
    assert pipeline.environments["production"].phase is Phase.SUCCEEDED
    weights = [e.weight for e in started.events if isinstance(e, TrafficShifted)]
    assert weights == [5]


def test_blue_green_waits_for_business_validation_then_cuts_over() -> None:
    platform = PLATFORM
    pipeline = DeploymentPipeline.start(platform, "fn-posts")
    at = T0
    # production's own strategy: blue-green; reach production by the book first
    dev_events = pipeline.deploy("1.0.0", "development", actor="erin", at=at).events
    pipeline = run(pipeline, dev_events)
    watched = at + timedelta(minutes=5)  # rolling environments watch the new version for 5 minutes
    pipeline = run(pipeline, pipeline.analyze("development", Verdict.PASS, actor="findly", at=watched).events)
    for suite in ("unit", "integration", "smoke"):
        pipeline = run(pipeline, pipeline.record_test("1.0.0", "development", suite, True, actor="ci", at=at).events)
    pipeline = run(pipeline, pipeline.deploy("1.0.0", "staging", actor="erin", at=at).events)
    pipeline = run(pipeline, pipeline.analyze("staging", Verdict.PASS, actor="findly", at=watched).events)
    for suite in ("e2e", "performance", "security", "load"):
        pipeline = run(pipeline, pipeline.record_test("1.0.0", "staging", suite, True, actor="ci", at=at).events)
    pipeline = run(pipeline, pipeline.deploy("1.0.0", "production", actor="erin", at=at).events)
    for person in ("alice", "carol"):
        pipeline = run(pipeline, pipeline.approve("1.0.0", "production", actor=person, at=at).events)
    pipeline = run(pipeline, pipeline.deploy("1.0.0", "production", actor="erin", at=at).events)
    assert pipeline.environments["production"].rollout.strategy is StrategyKind.BLUE_GREEN  # type: ignore[union-attr]
    for suite in ("smoke_tests", "performance_tests"):
        pipeline = run(pipeline, pipeline.record_test("1.0.0", "production", suite, True, actor="ci", at=at).events)
    at += timedelta(minutes=1)
    pipeline = run(pipeline, pipeline.analyze("production", Verdict.PASS, actor="findly", at=at).events)
    assert pipeline.environments["production"].phase is Phase.AWAITING_APPROVAL
    assert pipeline.approve("1.0.0", "production", actor="erin", at=at).refusal is not None
    approved = pipeline.approve("1.0.0", "production", actor="dave", at=at)
    assert [type(e).__name__ for e in approved.events] == ["ApprovalGranted", "TrafficShifted"]
    pipeline = run(pipeline, approved.events)
    assert pipeline.environments["production"].rollout.weight == 100  # type: ignore[union-attr]
    at += timedelta(minutes=11)
    pipeline = run(pipeline, pipeline.analyze("production", Verdict.PASS, actor="findly", at=at).events)
    assert pipeline.environments["production"].phase is Phase.SUCCEEDED


def _to_production_request(pipeline: DeploymentPipeline, version: str, at: datetime) -> DeploymentPipeline:
    for env in ("development", "staging"):
        pipeline = run(pipeline, pipeline.deploy(version, env, actor="erin", at=at).events)
        pipeline = run(
            pipeline, pipeline.analyze(env, Verdict.PASS, actor="findly", at=at + timedelta(minutes=5)).events
        )
        for suite in PLATFORM.environment(env).tests:
            pipeline = run(pipeline, pipeline.record_test(version, env, suite, True, actor="ci", at=at).events)
    return run(pipeline, pipeline.deploy(version, "production", actor="erin", at=at).events)


def test_a_newer_version_supersedes_pending_approvals() -> None:
    pipeline = _to_production_request(DeploymentPipeline.start(PLATFORM, "fn-posts"), "1.0.0", T0)
    pipeline = run(pipeline, pipeline.approve("1.0.0", "production", actor="alice", at=T0).events)
    pipeline = _to_production_request(pipeline, "2.0.0", T0 + timedelta(hours=1))
    state = pipeline.environments["production"]
    assert state.requested is not None
    assert state.requested.version == "2.0.0"
    assert state.approvals == ()
    refused = pipeline.approve("1.0.0", "production", actor="carol", at=T0 + timedelta(hours=1))
    assert refused.refusal is not None
    assert refused.refusal.rule == "approval-target"


def test_approvals_expire() -> None:
    pipeline = _to_production_request(DeploymentPipeline.start(PLATFORM, "fn-posts"), "1.0.0", T0)
    for person in ("alice", "carol"):
        pipeline = run(pipeline, pipeline.approve("1.0.0", "production", actor=person, at=T0).events)
    late = pipeline.deploy("1.0.0", "production", actor="erin", at=T0 + timedelta(hours=25))
    assert late.refusal is not None
    assert late.refusal.rule == "approvals"
    assert pipeline.deploy("1.0.0", "production", actor="erin", at=T0 + timedelta(hours=23)).accepted


@given(st.text(max_size=20))
def test_a_spent_budget_refuses_promotion_unless_overridden_with_a_reason(reason: str) -> None:
    pipeline = _to_production_request(DeploymentPipeline.start(PLATFORM, "fn-posts"), "1.0.0", T0)
    for person in ("alice", "carol"):
        pipeline = run(pipeline, pipeline.approve("1.0.0", "production", actor=person, at=T0).events)
    decision = pipeline.deploy(
        "1.0.0", "production", actor="erin", at=T0, budget_spent=True, budget_override=reason or None
    )
    if reason.strip():
        assert decision.accepted
        (started,) = [e for e in decision.events if isinstance(e, RolloutStarted)]
        assert started.budget_override == reason.strip()
    else:  # no reason, or only blanks: nothing is recorded, so nothing is overridden
        assert decision.refusal is not None
        assert decision.refusal.rule == "error-budget"


def test_blue_green_validation_waits_no_longer_than_its_timeout() -> None:
    pipeline = _to_production_request(DeploymentPipeline.start(PLATFORM, "fn-posts"), "1.0.0", T0)
    for person in ("alice", "carol"):
        pipeline = run(pipeline, pipeline.approve("1.0.0", "production", actor=person, at=T0).events)
    pipeline = run(pipeline, pipeline.deploy("1.0.0", "production", actor="erin", at=T0).events)
    at = T0
    while pipeline.environments["production"].phase is Phase.PROGRESSING and at < T0 + timedelta(hours=3):
        at += timedelta(minutes=1)
        pipeline = run(pipeline, pipeline.analyze("production", Verdict.PASS, actor="findly", at=at).events)
    assert pipeline.environments["production"].phase is Phase.PAUSED
    assert at - T0 <= timedelta(hours=1, minutes=1)


def test_a_blue_green_trigger_after_cutover_returns_all_traffic_to_blue_at_once() -> None:
    from findly_infra.testing import SCENARIOS, simulate

    result = simulate(PLATFORM, "fn-posts", "production", SCENARIOS["latency-regression"])
    assert result.outcome == "rolled_back"
    kinds = [e.type for e in result.events]
    assert kinds.index("traffic_shifted") < kinds.index("rolled_back")  # cut over first, then the trigger fired
    shifted = [e for e in result.events if isinstance(e, TrafficShifted)]
    assert [e.weight for e in shifted] == [100]
    rolled = [e for e in result.events if isinstance(e, RolledBack)]
    assert rolled[0].restored == "1.0.0"  # the previous colour, in one step
    failures = [e for e in result.events if isinstance(e, AnalysisRecorded) and e.verdict is Verdict.FAIL]
    assert len(failures) == 1  # the first firing trigger is enough
