"""The audit trail says exactly who did what, when, to which version and why; every refusal names its rule and
says why in words a person can act on; every deadline holds to the minute."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra import load_platform
from findly_infra.domain import (
    ApprovalGranted,
    AwaitingApproval,
    Decision,
    DeploymentPipeline,
    Event,
    Phase,
    RolledBack,
    RolloutPaused,
    RolloutSucceeded,
    StrategyKind,
    TrafficShifted,
    Verdict,
)
from findly_infra.domain.notation import Duration

from .conftest import EXAMPLE

T0 = datetime(2026, 11, 26, 9, 0, 0)
PLATFORM = load_platform(EXAMPLE)
BLUE_GREEN = PLATFORM.blue_green_strategy
assert BLUE_GREEN is not None


def apply(pipeline: DeploymentPipeline, decision: Decision) -> DeploymentPipeline:
    assert decision.accepted, decision.refusal
    return pipeline.apply_all(decision.events)


def requested_for_production(
    version: str = "1.0.0", *, requester: str = "erin", platform: object = PLATFORM, at: datetime = T0
) -> DeploymentPipeline:
    """*version* through development and staging by the book, its production promotion asked for by *requester*."""
    pipeline = DeploymentPipeline.start(platform, "fn-posts")  # type: ignore[arg-type]
    for env in ("development", "staging"):
        pipeline = apply(pipeline, pipeline.deploy(version, env, actor=requester, at=at))
        pipeline = apply(pipeline, pipeline.analyze(env, Verdict.PASS, actor="findly", at=at + timedelta(minutes=5)))
        for suite in PLATFORM.environment(env).tests:
            pipeline = apply(pipeline, pipeline.record_test(version, env, suite, True, actor="ci", at=at))
    refused = pipeline.deploy(version, "production", actor=requester, at=at)
    assert refused.refusal is not None
    assert refused.refusal.rule == "approvals"
    return pipeline.apply_all(refused.events)


def to_production(version: str = "1.0.0", *, platform: object = PLATFORM, at: datetime = T0) -> DeploymentPipeline:
    """*version* requested for production by erin, and approved by alice and carol."""
    pipeline = requested_for_production(version, platform=platform, at=at)
    for person in ("alice", "carol"):
        pipeline = apply(pipeline, pipeline.approve(version, "production", actor=person, at=at))
    return pipeline


# ---- every event records the command's who, when, where, which version and why -----------------------------

ENVS = PLATFORM.promotion_order
PEOPLE = ("alice", "bob", "carol", "dave", "erin")
commands = st.tuples(
    st.sampled_from(["deploy", "approve", "test", "analyze", "pause", "resume", "abort", "rollback"]),
    st.sampled_from(ENVS),
    st.sampled_from(["1.0.0", "2.0.0"]),
    st.sampled_from(PEOPLE),
    st.sampled_from(list(Verdict)),
    st.integers(1, 90),
    st.text(alphabet="abc ", max_size=6),
)


@given(st.lists(commands, max_size=50), st.booleans())
def test_every_event_records_who_when_where_which_version_and_why(
    script: list[tuple[str, str, str, str, Verdict, int, str]], prepared: bool
) -> None:
    pipeline = to_production() if prepared else DeploymentPipeline.start(PLATFORM, "fn-posts")
    at = T0
    for kind, env, version, actor, verdict, minutes, reason in script:
        at += timedelta(minutes=minutes)
        before = pipeline.environments[env]
        rollout = before.rollout
        if kind == "deploy":
            decision = pipeline.deploy(version, env, actor=actor, at=at, strategy=StrategyKind.CANARY)
        elif kind == "approve":
            decision = pipeline.approve(version, env, actor=actor, at=at)
        elif kind == "test":
            decision = pipeline.record_test(version, env, "unit", True, actor=actor, at=at)
        elif kind == "analyze":
            decision = pipeline.analyze(env, verdict, actor=actor, at=at)
        else:
            decision = getattr(pipeline, kind)(env, actor=actor, at=at, reason=reason)
        for happened in decision.events:
            assert (happened.service, happened.environment, happened.actor, happened.at) == ("fn-posts", env, actor, at)
            if kind in ("deploy", "approve", "test"):
                assert happened.version == version
            else:  # the gates and analyses act on the rollout under way
                assert rollout is not None
                assert happened.version == rollout.version
            if kind in ("pause", "resume", "abort", "rollback"):
                assert happened.reason == reason
            if isinstance(happened, RolledBack):
                assert rollout is not None
                assert happened.restored == rollout.previous
        pipeline = pipeline.apply_all(decision.events)


# ---- every refusal: its rule, and a sentence that says why ----------------------------------------------------


def _refusal(decision: Decision) -> tuple[str, str]:
    assert decision.refusal is not None
    assert decision.events == () or all(
        e.type in ("promotion_requested", "approvals_superseded") for e in decision.events
    )
    return decision.refusal.rule, decision.refusal.message


def test_each_refusal_names_its_rule_and_says_why() -> None:
    fresh = DeploymentPipeline.start(PLATFORM, "fn-posts")
    ready = to_production()
    started = apply(ready, ready.deploy("1.0.0", "production", actor="erin", at=T0))
    cases: list[tuple[Decision, tuple[str, str]]] = [
        (
            fresh.deploy("1.0.0", "staging", actor="erin", at=T0),
            ("promotion-order", "1.0.0 has not succeeded in development, which comes before staging"),
        ),
        (
            fresh.approve("1.0.0", "development", actor="alice", at=T0),
            ("approval-not-required", "development requires no approval"),
        ),
        (
            fresh.approve("1.0.0", "production", actor="alice", at=T0, group="qa-team"),
            ("approver-membership", "production takes approvals from devops-team, security-team, not qa-team"),
        ),
        (
            fresh.approve("1.0.0", "production", actor="mallory", at=T0),
            ("approver-membership", "mallory belongs to none of devops-team, security-team, who approve production"),
        ),
        (
            fresh.approve("1.0.0", "production", actor="alice", at=T0),
            ("approval-target", "no promotion of 1.0.0 into production is pending (pending: none)"),
        ),
        (
            ready.approve("2.0.0", "production", actor="bob", at=T0),
            ("approval-target", "no promotion of 2.0.0 into production is pending (pending: 1.0.0)"),
        ),
        (
            ready.approve("1.0.0", "production", actor="bob", at=T0, group="devops-team"),
            ("distinct-approvers", "devops-team already approved 1.0.0 for production"),
        ),
        (
            started.deploy("1.0.0", "production", actor="dave", at=T0),
            ("one-rollout-at-a-time", "1.0.0 is still rolling out in production (progressing)"),
        ),
        (
            fresh.pause("staging", actor="a", at=T0, reason="r"),
            ("rollout-progressing", "no rollout is progressing in staging"),
        ),
        (fresh.resume("staging", actor="a", at=T0), ("rollout-paused", "no rollout is paused in staging")),
        (fresh.abort("staging", actor="a", at=T0, reason="r"), ("rollout-active", "no rollout to abort in staging")),
        (
            fresh.rollback("staging", actor="a", at=T0, reason="r"),
            ("rollout-active", "no rollout to roll back in staging"),
        ),
        (
            fresh.analyze("staging", Verdict.PASS, actor="a", at=T0),
            ("rollout-progressing", "no rollout is progressing in staging"),
        ),
    ]
    for decision, expected in cases:
        assert _refusal(decision) == expected


def test_the_requester_and_the_rollouts_starter_cannot_approve() -> None:
    pipeline = requested_for_production(requester="alice")
    assert _refusal(pipeline.approve("1.0.0", "production", actor="alice", at=T0)) == (
        "self-approval",
        "alice asked for this promotion and cannot approve it",
    )
    for person in ("bob", "carol"):
        pipeline = apply(pipeline, pipeline.approve("1.0.0", "production", actor=person, at=T0))
    pipeline = apply(pipeline, pipeline.deploy("1.0.0", "production", actor="alice", at=T0))
    for suite in ("smoke_tests", "performance_tests"):
        pipeline = apply(pipeline, pipeline.record_test("1.0.0", "production", suite, True, actor="ci", at=T0))
    awaiting = pipeline.analyze("production", Verdict.PASS, actor="findly", at=T0 + timedelta(minutes=1))
    (asked,) = awaiting.events[1:]
    assert isinstance(asked, AwaitingApproval)
    assert asked.step == "business_validation"
    assert asked.reason == next(s.description for s in BLUE_GREEN.validation_steps if s.manual)
    pipeline = apply(pipeline, awaiting)
    assert _refusal(pipeline.approve("1.0.0", "production", actor="alice", at=T0)) == (
        "self-approval",
        "alice started this rollout and cannot approve its business_validation",
    )
    granted = pipeline.approve("1.0.0", "production", actor="dave", at=T0 + timedelta(minutes=2))
    approval, cutover = granted.events
    assert isinstance(approval, ApprovalGranted)
    assert (approval.group, approval.step, approval.actor) == ("security-team", "business_validation", "dave")
    assert isinstance(cutover, TrafficShifted)
    assert (cutover.weight, cutover.step, cutover.reason, cutover.actor) == (100, 1, "cutover", "dave")
    after = apply(pipeline, granted).environments["production"].rollout
    assert after is not None
    assert (after.phase, after.waiting_for, after.approved_steps) == (Phase.PROGRESSING, None, {"business_validation"})


# ---- deadlines, to the minute ------------------------------------------------------------------------------


def test_approvals_expire_at_exactly_their_age() -> None:
    expiry = timedelta(milliseconds=PLATFORM.environment("production").approval_expires_after.milliseconds)
    ready = to_production()
    assert ready.deploy("1.0.0", "production", actor="erin", at=T0 + expiry - timedelta(seconds=1)).accepted
    late = ready.deploy("1.0.0", "production", actor="erin", at=T0 + expiry)
    assert _refusal(late) == (
        "approvals",
        "1.0.0 needs an approval from each of devops-team and security-team to enter production; not counted: alice's "
        "approval for devops-team (2026-11-26T09:00:00): expired (an approval lasts 1 day); carol's approval for "
        "security-team (2026-11-26T09:00:00): expired (an approval lasts 1 day)",
    )


def test_blue_green_validation_waits_exactly_its_timeout() -> None:
    timeout = timedelta(milliseconds=BLUE_GREEN.validation_timeout.milliseconds)
    started = apply(to_production(), to_production().deploy("1.0.0", "production", actor="erin", at=T0))
    waiting = started.analyze("production", Verdict.PASS, actor="findly", at=T0 + timeout - timedelta(seconds=1))
    assert [e.type for e in waiting.events] == ["analysis_recorded"]  # still waiting for smoke_tests
    timed_out = started.analyze("production", Verdict.PASS, actor="findly", at=T0 + timeout)
    paused = timed_out.events[-1]
    assert isinstance(paused, RolloutPaused)
    assert paused.reason == f"no passed smoke_tests for 1.0.0 within {BLUE_GREEN.validation_timeout.describe()}"


def test_blue_green_bakes_exactly_its_bake_time_after_cutover() -> None:
    quick = attrs.evolve(
        BLUE_GREEN,
        validation_steps=tuple(s for s in BLUE_GREEN.validation_steps if s.evidence is None and not s.manual),
    )
    platform = attrs.evolve(PLATFORM, blue_green_strategy=quick)
    pipeline = to_production(platform=platform)
    pipeline = apply(pipeline, pipeline.deploy("1.0.0", "production", actor="erin", at=T0))
    cut = T0 + timedelta(minutes=1)
    pipeline = apply(pipeline, pipeline.analyze("production", Verdict.PASS, actor="findly", at=cut))
    assert pipeline.environments["production"].rollout.weight == 100  # type: ignore[union-attr]
    bake = timedelta(milliseconds=quick.bake_time.milliseconds)
    early = pipeline.analyze("production", Verdict.PASS, actor="findly", at=cut + bake - timedelta(seconds=1))
    assert not any(isinstance(e, RolloutSucceeded) for e in early.events)
    done = pipeline.analyze("production", Verdict.PASS, actor="findly", at=cut + bake)
    assert isinstance(done.events[-1], RolloutSucceeded)
    fired = pipeline.analyze("production", Verdict.FAIL, actor="findly", at=cut + timedelta(seconds=1))
    rolled = fired.events[-1]
    assert isinstance(rolled, RolledBack)
    assert rolled.reason == "1 failed analysis in this stage (threshold 1)"


def test_a_canary_whose_last_stage_is_timed_succeeds_when_that_stage_ends() -> None:
    stages = PLATFORM.canary_strategy.traffic_progression  # type: ignore[union-attr]
    timed = (*stages[:-1], attrs.evolve(stages[-1], duration=Duration.of(minutes=5)))
    platform = attrs.evolve(PLATFORM, canary_strategy=attrs.evolve(PLATFORM.canary_strategy, traffic_progression=timed))
    pipeline = DeploymentPipeline.start(platform, "fn-posts")
    pipeline = apply(pipeline, pipeline.deploy("1.0.0", "development", actor="a", at=T0, strategy=StrategyKind.CANARY))
    at, log = T0, []
    while pipeline.environments["development"].phase is Phase.PROGRESSING:
        at += timedelta(minutes=1)
        decision = pipeline.analyze("development", Verdict.PASS, actor="findly", at=at)
        log += [(at, e) for e in decision.events]
        pipeline = apply(pipeline, decision)
    full = next(when for when, e in log if isinstance(e, TrafficShifted) and e.weight == 100)
    (succeeded,) = [when for when, e in log if isinstance(e, RolloutSucceeded)]
    assert succeeded - full == timedelta(minutes=5)  # the timed 100% stage is held for its whole duration


@pytest.mark.parametrize("verdict", [Verdict.FAIL, Verdict.INCONCLUSIVE])
def test_a_decision_records_the_analysis_before_what_it_leads_to(verdict: Verdict) -> None:
    pipeline = DeploymentPipeline.start(PLATFORM, "fn-posts")
    pipeline = apply(pipeline, pipeline.deploy("1.0.0", "development", actor="a", at=T0, strategy=StrategyKind.CANARY))
    events: list[Event] = []
    at = T0
    while pipeline.environments["development"].phase is Phase.PROGRESSING:
        at += timedelta(minutes=1)
        decision = pipeline.analyze("development", verdict, actor="findly", at=at)
        assert decision.events[0].type == "analysis_recorded"
        events += decision.events
        pipeline = apply(pipeline, decision)
    assert isinstance(events[-1], RolledBack if verdict is Verdict.FAIL else RolloutPaused)


# ---- the read model, word for word ---------------------------------------------------------------------------


def test_the_view_says_what_waits_word_for_word() -> None:
    from findly_infra.domain.view import EnvironmentView, Share, WaitKind

    ready = to_production()  # requested and approved by both groups: nothing missing, nothing to wait for
    assert EnvironmentView.of(ready, "production", T0).waiting_for is None
    asked = requested_for_production()
    waiting = EnvironmentView.of(asked, "production", T0).waiting_for
    assert waiting is not None
    assert waiting.message == (
        "1.0.0 needs an approval from each of devops-team and security-team (different people) to enter production, "
        "by someone other than erin "
        "(findly-infra approve fn-posts 1.0.0 --env production)"
    )
    assert waiting.deadline is None

    started = apply(ready, ready.deploy("1.0.0", "production", actor="erin", at=T0))
    view = EnvironmentView.of(started, "production", T0)
    assert view.waiting_for is not None
    assert view.waiting_for.message == (
        "a passed smoke_tests for 1.0.0 within 1 hour, by 2026-11-26T10:00:00, or it pauses "
        "(findly-infra record fn-posts 1.0.0 --env production --suite smoke_tests --passed)"
    )
    assert view.describe() == "progressing (blue-green 1.0.0 0%)"  # validated on internal traffic: none public yet
    assert (view.serving, view.candidate, view.stopped) == (None, Share("1.0.0", 0), None)

    paused = apply(started, started.pause("production", actor="alice", at=T0, reason="a look"))
    view = EnvironmentView.of(paused, "production", T0)
    assert view.waiting_for is not None
    assert (view.waiting_for.kind, view.waiting_for.needs) == (WaitKind.PERSON, ())
    assert view.waiting_for.message == (
        "paused (a look): resume, abort or roll back (findly-infra resume|abort|rollback fn-posts --env production)"
    )
    assert view.describe() == "paused (blue-green 1.0.0 0%) — a look"
    unexplained = apply(started, started.pause("production", actor="alice", at=T0, reason=""))
    view = EnvironmentView.of(unexplained, "production", T0)
    assert view.waiting_for is not None
    assert view.waiting_for.message.startswith("paused (by a person): resume, abort or roll back")

    late = EnvironmentView.of(started, "production", T0 + timedelta(hours=2)).waiting_for  # past its deadline
    assert late is not None
    assert late.message.startswith("a passed smoke_tests for 1.0.0 within 0 seconds, by 2026-11-26T10:00:00")

    for suite in ("smoke_tests", "performance_tests"):
        started = apply(started, started.record_test("1.0.0", "production", suite, True, actor="ci", at=T0))
    awaiting = apply(started, started.analyze("production", Verdict.PASS, actor="findly", at=T0 + timedelta(minutes=1)))
    view = EnvironmentView.of(awaiting, "production", T0)
    assert view.waiting_for is not None
    assert view.waiting_for.needs == ("devops-team", "security-team")
    assert view.waiting_for.message == (
        "an approval of business_validation for 1.0.0 from a member of devops-team or security-team (one is enough), "
        "by someone other than erin "
        "(findly-infra approve fn-posts 1.0.0 --env production)"
    )


def test_the_view_of_a_canary_in_each_phase() -> None:
    from findly_infra.domain.view import EnvironmentView, Share

    pipeline = DeploymentPipeline.start(PLATFORM, "fn-posts")
    assert EnvironmentView.of(pipeline, "development", T0).describe() == "idle (nothing serving)"
    assert EnvironmentView.of(pipeline, "development", T0).routes() == {}
    pipeline = apply(pipeline, pipeline.deploy("1.0.0", "development", actor="erin", at=T0))
    pipeline = apply(pipeline, pipeline.analyze("development", Verdict.PASS, actor="f", at=T0 + timedelta(minutes=5)))
    view = EnvironmentView.of(pipeline, "development", T0)
    assert (view.describe(), view.rollout_share, view.routes()) == (
        "succeeded (serving 1.0.0 100%)",
        100,
        {"1.0.0": 100},
    )
    pipeline = apply(
        pipeline, pipeline.deploy("2.0.0", "development", actor="erin", at=T0, strategy=StrategyKind.CANARY)
    )
    view = EnvironmentView.of(pipeline, "development", T0)
    assert (view.serving, view.candidate) == (Share("1.0.0", 95), Share("2.0.0", 5))
    assert (view.describe(), view.rollout_share) == ("progressing (serving 1.0.0 95%, canary 2.0.0 5%)", 5)
    assert view.routes() == {"1.0.0": 95, "2.0.0": 5}
    assert view.waiting_for is None
    rolled = apply(pipeline, pipeline.rollback("development", actor="erin", at=T0, reason="bad"))
    view = EnvironmentView.of(rolled, "development", T0)
    assert (view.describe(), view.rollout_share, view.routes()) == (
        "rolled_back (serving 1.0.0 100%) — bad",
        0,
        {"1.0.0": 100},
    )
    aborted = apply(pipeline, pipeline.abort("development", actor="erin", at=T0, reason=""))
    assert EnvironmentView.of(aborted, "development", T0).stopped == "aborted"  # no reason given: the phase says it


# ---- the fold, record by record --------------------------------------------------------------------------------


def test_the_fold_keeps_exactly_what_the_events_say() -> None:
    from findly_infra.domain.state import EnvironmentState, PendingRequest, Rollout

    def at(minutes: int) -> datetime:
        return T0 + timedelta(minutes=minutes)

    pipeline = DeploymentPipeline.start(PLATFORM, "fn-posts")
    pipeline = apply(pipeline, pipeline.deploy("1.0.0", "development", actor="erin", at=at(0)))
    pipeline = apply(pipeline, pipeline.analyze("development", Verdict.PASS, actor="f", at=at(5)))
    state = pipeline.environments["development"]
    first = Rollout(
        "1.0.0",
        None,
        StrategyKind.ROLLING,
        Phase.SUCCEEDED,
        at(0),
        0,
        100,
        at(0),
        started_by="erin",
        timings=(("watch", 300_000),),  # its plan: the watch it keeps whatever the file says later
    )
    done = attrs.evolve(first, stopped_at=at(5))
    assert state == EnvironmentState(
        current="1.0.0", succeeded=frozenset({"1.0.0"}), rollout=done, let_in=done
    )  # let in: the rollout that made 1.0.0 current (a bound cluster serves it only when that one is proven)
    pipeline = apply(pipeline, pipeline.record_test("1.0.0", "development", "unit", True, actor="ci", at=at(6)))
    pipeline = apply(pipeline, pipeline.record_test("1.0.0", "development", "e2e", False, actor="ci", at=at(6)))
    state = pipeline.environments["development"]
    assert (state.passed, state.failed) == ({("1.0.0", "unit")}, {("1.0.0", "e2e")})
    pipeline = apply(pipeline, pipeline.record_test("1.0.0", "development", "unit", False, actor="ci", at=at(7)))
    pipeline = apply(pipeline, pipeline.record_test("1.0.0", "development", "e2e", True, actor="ci", at=at(7)))
    state = pipeline.environments["development"]
    assert (state.passed, state.failed) == ({("1.0.0", "e2e")}, {("1.0.0", "unit")})  # the latest result counts

    canary = pipeline.deploy("2.0.0", "development", actor="bob", at=at(10), strategy=StrategyKind.CANARY)
    pipeline = apply(pipeline, canary)
    plan = ((5, 600_000), (25, 1_200_000), (50, 1_800_000), (100, None))  # the seed's stages, as the rollout keeps them
    expected = Rollout(
        "2.0.0", "1.0.0", StrategyKind.CANARY, Phase.PROGRESSING, at(10), 0, 5, at(10), started_by="bob", stages=plan
    )
    assert pipeline.environments["development"].rollout == expected
    pipeline = apply(pipeline, pipeline.analyze("development", Verdict.FAIL, actor="f", at=at(11)))
    pipeline = apply(pipeline, pipeline.analyze("development", Verdict.INCONCLUSIVE, actor="f", at=at(12)))
    expected = attrs.evolve(expected, failures=1, inconclusive=1)
    assert pipeline.environments["development"].rollout == expected
    pipeline = apply(pipeline, pipeline.pause("development", actor="carol", at=at(13), reason="look"))
    expected = attrs.evolve(
        expected, phase=Phase.PAUSED, paused_from=Phase.PROGRESSING, reason="look", stopped_at=at(13)
    )
    assert pipeline.environments["development"].rollout == expected
    pipeline = apply(pipeline, pipeline.resume("development", actor="carol", at=at(14)))
    expected = attrs.evolve(
        expected, phase=Phase.PROGRESSING, paused_from=None, reason="", stopped_at=None, failures=0, inconclusive=0
    )
    expected = attrs.evolve(expected, step_started=at(14), resumed_by="carol")
    assert pipeline.environments["development"].rollout == expected
    rolled = apply(pipeline, pipeline.rollback("development", actor="dave", at=at(15), reason="no"))
    assert rolled.environments["development"].rollout == attrs.evolve(
        expected, phase=Phase.ROLLED_BACK, weight=0, reason="no", stopped_at=at(15)
    )
    assert rolled.environments["development"].current == "1.0.0"
    aborted = apply(pipeline, pipeline.abort("development", actor="dave", at=at(15), reason="stop"))
    assert aborted.environments["development"].rollout == attrs.evolve(
        expected, phase=Phase.ABORTED, weight=0, reason="stop", stopped_at=at(15)
    )

    ready = to_production()
    assert ready.environments["production"].requested == PendingRequest("1.0.0", "erin", T0)


def test_every_decision_records_the_words_it_was_given() -> None:
    ready = to_production()
    spent = ready.deploy("1.0.0", "production", actor="erin", at=T0, budget_spent=True, budget_override=" INC-7 ")
    (started,) = spent.events
    assert started.reason == "INC-7 (overrides the spent error budget: said to be spent)"
    detailed = ready.deploy(
        "1.0.0", "production", actor="erin", at=T0, budget_spent=True, budget_override="INC-7", budget_detail="slo x"
    )
    assert detailed.events[0].reason == "INC-7 (overrides the spent error budget: slo x)"
    plain = ready.deploy("1.0.0", "production", actor="erin", at=T0, budget_override="not needed")
    assert (plain.events[0].reason, plain.events[0].budget_override) == ("", None)  # type: ignore[attr-defined]
    # 2.0.0 has not passed staging, so it is refused; its request supersedes 1.0.0's approvals all the same
    asked = ready.deploy("2.0.0", "production", actor="bob", at=T0, budget_override="why not")
    superseded, requested = asked.events
    assert (superseded.type, superseded.reason, superseded.superseded) == (  # type: ignore[attr-defined]
        "approvals_superseded",
        "a newer version",
        "1.0.0",
    )
    assert (requested.type, requested.budget_override) == ("promotion_requested", "why not")  # type: ignore[attr-defined]
    assert asked.refusal is not None
    assert asked.refusal.rule == "promotion-order"


def test_the_gates_record_the_rollouts_version_and_the_persons_words() -> None:
    pipeline = DeploymentPipeline.start(PLATFORM, "fn-posts")
    pipeline = apply(pipeline, pipeline.deploy("1.0.0", "development", actor="erin", at=T0))
    pipeline = apply(pipeline, pipeline.analyze("development", Verdict.PASS, actor="f", at=T0 + timedelta(minutes=5)))
    pipeline = apply(
        pipeline, pipeline.deploy("2.0.0", "development", actor="erin", at=T0, strategy=StrategyKind.CANARY)
    )
    at = T0 + timedelta(minutes=7)
    paused = pipeline.pause("development", actor="bob", at=at, reason="hold")
    pipeline = apply(pipeline, paused)
    resumed = pipeline.resume("development", actor="carol", at=at, reason="go on")
    rolled = apply(pipeline, resumed).rollback("development", actor="dave", at=at, reason="undo")
    for decision, actor, reason in ((paused, "bob", "hold"), (resumed, "carol", "go on"), (rolled, "dave", "undo")):
        (event,) = decision.events
        assert (event.version, event.actor, event.at, event.reason) == ("2.0.0", actor, at, reason)
    (back,) = rolled.events
    assert isinstance(back, RolledBack)
    assert back.restored == "1.0.0"


def test_a_started_rollout_uses_up_its_request_and_waits_for_nothing() -> None:
    from findly_infra.domain.view import EnvironmentView

    ready = to_production()
    started = apply(ready, ready.deploy("1.0.0", "production", actor="erin", at=T0, strategy=StrategyKind.CANARY))
    assert started.environments["production"].requested is None  # the request is used up with its approvals
    assert EnvironmentView.of(started, "production", T0).waiting_for is None


def test_after_a_rollout_ended_a_new_request_waits_for_its_approvals() -> None:
    from findly_infra.domain.view import EnvironmentView, WaitKind

    ready = to_production()
    started = apply(ready, ready.deploy("1.0.0", "production", actor="erin", at=T0, strategy=StrategyKind.CANARY))
    ended = apply(started, started.rollback("production", actor="alice", at=T0, reason="bad"))
    pipeline = ended
    for env in ("development", "staging"):  # 2.0.0 by the book, then asked for production
        pipeline = apply(pipeline, pipeline.deploy("2.0.0", env, actor="erin", at=T0))
        pipeline = apply(pipeline, pipeline.analyze(env, Verdict.PASS, actor="findly", at=T0 + timedelta(minutes=5)))
        for suite in PLATFORM.environment(env).tests:
            pipeline = apply(pipeline, pipeline.record_test("2.0.0", env, suite, True, actor="ci", at=T0))
    refused = pipeline.deploy("2.0.0", "production", actor="erin", at=T0)
    assert refused.refusal is not None
    asked = pipeline.apply_all(refused.events)
    waiting = EnvironmentView.of(asked, "production", T0).waiting_for
    assert waiting is not None  # the ended rollout does not hide the new request's wait
    assert (waiting.kind, waiting.needs) == (WaitKind.APPROVAL, ("devops-team", "security-team"))


def test_a_repeated_request_answers_what_already_holds_and_records_nothing() -> None:
    """A CI step killed after its commit and retried: the same request by the same person is not refused."""
    ready = to_production()
    repeat = ready.approve("1.0.0", "production", actor="alice", at=T0)
    assert (repeat.events, repeat.refusal, repeat.already) == ((), None, "alice already approved 1.0.0 for production")
    started = apply(ready, ready.deploy("1.0.0", "production", actor="erin", at=T0, strategy=StrategyKind.CANARY))
    again = started.deploy("1.0.0", "production", actor="erin", at=T0)
    assert (again.events, again.refusal) == ((), None)
    assert again.already == "erin already started 1.0.0 in production (progressing)"
    assert started.deploy("2.0.0", "production", actor="erin", at=T0).refusal is not None  # another version: refused
    paused = apply(started, started.pause("production", actor="bob", at=T0, reason="a look"))
    assert paused.pause("production", actor="bob", at=T0, reason="a look").already == (
        "1.0.0 is already paused in production (a look)"
    )
    aborted = apply(paused, paused.abort("production", actor="bob", at=T0, reason="enough"))
    assert aborted.abort("production", actor="bob", at=T0, reason="enough").already == (
        "1.0.0 is already aborted in production (enough)"
    )


def test_an_event_that_cannot_follow_its_history_is_named_not_folded() -> None:
    from findly_infra.domain.events import RolloutSucceeded
    from findly_infra.domain.state import HistoryError

    pipeline = DeploymentPipeline.start(PLATFORM, "fn-posts")
    base = {"service": "fn-posts", "version": "1.0.0", "at": T0, "actor": "x"}
    with pytest.raises(HistoryError) as stray:
        pipeline.apply(RolloutSucceeded(**base, environment="staging"))  # type: ignore[arg-type]
    assert str(stray.value) == "a rollout's event, but no rollout was started in its environment"


def test_a_canary_follows_its_recorded_plan_and_one_without_a_plan_is_refused_past_the_files_stages() -> None:
    import re

    from findly_infra import load_platform_text
    from findly_infra.examples import example_platform_text

    text = example_platform_text()
    stages = re.search(r"  traffic_progression:\n(?:    .*\n)+", text)
    assert stages is not None
    two = load_platform_text(
        text.replace(
            stages.group(0),
            "  traffic_progression:\n"
            '    - {stage: "Initial", canary_weight: 5, duration: "10 minutes"}\n'
            '    - {stage: "Full", canary_weight: 100, duration: "stable"}\n',
        )
    )
    ready = to_production()
    started = apply(ready, ready.deploy("1.0.0", "production", actor="erin", at=T0, strategy=StrategyKind.CANARY))
    rollout = started.environments["production"].rollout
    assert rollout is not None
    assert rollout.stages == ((5, 600_000), (25, 1_200_000), (50, 1_800_000), (100, None))
    at_stage_3 = attrs.evolve(rollout, step=2, weight=50)
    planned = attrs.evolve(
        started,
        platform=two,
        environments={
            **started.environments,
            "production": attrs.evolve(started.environments["production"], rollout=at_stage_3),
        },
    )
    later = T0 + timedelta(minutes=40)  # stage 3 (30 minutes) is over: the recorded plan's stage 4 comes next
    shifted = planned.analyze("production", Verdict.PASS, actor="findly", at=later)
    assert shifted.refusal is None
    assert [e.type for e in shifted.events] == ["analysis_recorded", "traffic_shifted", "rollout_succeeded"]
    assert shifted.events[1].weight == 100  # type: ignore[attr-defined]  # its own 4th stage: 100%, stable
    unplanned = attrs.evolve(
        planned,
        environments={
            **planned.environments,
            "production": attrs.evolve(planned.environments["production"], rollout=attrs.evolve(at_stage_3, stages=())),
        },
    )
    refused = unplanned.analyze("production", Verdict.PASS, actor="findly", at=later)
    assert refused.refusal is not None
    assert refused.refusal.rule == "strategy-changed"
    assert refused.refusal.message == (
        "the canary of 1.0.0 in production is at stage 3, which the platform file no longer has (2 stages now): "
        "restore its stages, or end it by hand (findly-infra resume|abort|rollback fn-posts --env production)"
    )
    assert refused.events == ()


def test_an_environment_the_file_no_longer_names_is_retired_with_its_past_intact() -> None:
    from findly_infra.domain.platform import UnknownNameError
    from findly_infra.domain.view import EnvironmentView

    events = []
    pipeline = DeploymentPipeline.start(PLATFORM, "fn-posts")
    for decision_of in (
        lambda p: p.deploy("1.0.0", "development", actor="erin", at=T0),
        lambda p: p.analyze("development", Verdict.PASS, actor="findly", at=T0 + timedelta(minutes=5)),
        *(
            (lambda p, suite=suite: p.record_test("1.0.0", "development", suite, True, actor="ci", at=T0))
            for suite in PLATFORM.environment("development").tests
        ),
        lambda p: p.deploy("1.0.0", "staging", actor="erin", at=T0 + timedelta(minutes=6)),
    ):
        decision = decision_of(pipeline)
        assert decision.accepted, decision.refusal
        events += decision.events
        pipeline = pipeline.apply_all(decision.events)
    # the same history, read after "staging" was renamed in the file: its events name an environment no longer there
    moved = [attrs.evolve(e, environment="qa") if e.environment == "staging" else e for e in events]
    history = DeploymentPipeline.replay(PLATFORM, "fn-posts", moved)
    assert history.retired == ("qa",)
    view = EnvironmentView.of(history, "qa", T0)
    assert (view.retired, view.waiting_for) == (True, None)
    assert view.describe() == "retired, no longer in the platform file: progressing (rolling 1.0.0 100%)"
    assert not EnvironmentView.of(history, "development", T0).retired
    with pytest.raises(UnknownNameError):  # nothing acts on it: commands take the file's environments
        history.deploy("1.0.0", "qa", actor="erin", at=T0)
    assert history.affected_rollouts() == (  # and validate says so, against the state
        "fn-posts: the rollout of 1.0.0 in qa (progressing) is under way, but the platform file no longer names qa: "
        "end it first",
    )


def test_blue_green_and_rolling_rollouts_keep_the_plan_they_started_with() -> None:
    """The file edited mid-rollout: a blue-green rollout keeps its validation steps, timeout and bake time; a rolling
    update its watch — recorded on ``rollout_started`` — and ``affected_rollouts`` says so."""
    from findly_infra.domain.notation import Duration
    from findly_infra.domain.strategy import BlueGreenStrategy, ValidationStep

    ready = to_production()
    started = apply(ready, ready.deploy("1.0.0", "production", actor="erin", at=T0, strategy=StrategyKind.BLUE_GREEN))
    rollout = started.environments["production"].rollout
    assert rollout is not None
    blue_green = PLATFORM.blue_green_strategy
    assert isinstance(blue_green, BlueGreenStrategy)
    assert [name for name, _ in rollout.validation] == [step.name for step in blue_green.validation_steps]
    assert dict(rollout.timings) == {"validation_timeout": 3_600_000, "bake_time": 600_000}
    edited = attrs.evolve(
        PLATFORM,
        blue_green_strategy=attrs.evolve(
            blue_green,
            validation_steps=(ValidationStep("health_checks"),),  # no evidence, no person: cut over at once
            bake_time=Duration.of(minutes=1),
            validation_timeout=Duration.of(minutes=5),
        ),
        rolling_strategy=attrs.evolve(PLATFORM.rolling_strategy, watch=Duration.of(hours=2)),
    )
    moved = attrs.evolve(started, platform=edited)
    assert moved.affected_rollouts() == (
        "fn-posts: the rollout of 1.0.0 in production (progressing) keeps the validation steps (health_checks, "
        "smoke_tests, performance_tests, business_validation) and the validation timeout of 1 hour and the bake time "
        "of 10 minutes it started with; the file's (health_checks) and validation timeout of 5 minutes and bake time "
        "of 1 minute apply from the next rollout",
    )
    analysed = moved.analyze("production", Verdict.PASS, actor="findly", at=T0 + timedelta(minutes=10))
    assert [event.type for event in analysed.events] == ["analysis_recorded"]  # its own steps: evidence awaited
    assert moved.awaited_evidence("production") == "smoke_tests"
    late = moved.analyze("production", Verdict.PASS, actor="findly", at=T0 + timedelta(minutes=30))
    assert [event.type for event in late.events] == ["analysis_recorded"]  # its own timeout (1 hour), not 5 minutes
    # a rolling update in development watches for its own 5 minutes, not the file's 2 hours now
    rolling = apply(started, started.deploy("2.0.0", "development", actor="erin", at=T0))
    edited_rolling = attrs.evolve(rolling, platform=edited)
    after = edited_rolling.analyze("development", Verdict.PASS, actor="findly", at=T0 + timedelta(minutes=6))
    assert [event.type for event in after.events] == ["analysis_recorded", "rollout_succeeded"]
    assert "the watch of 5 minutes" in " ".join(edited_rolling.affected_rollouts())
