"""Each pipeline rule pinned exactly: not only "at most" but "exactly when", so that a mutant that changes a
count, an operator or a branch fails a test (``nox -s mutation`` measures it). The production-approval rule
is a Hypothesis state machine that reaches production in most runs."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from findly_infra import load_platform
from findly_infra.domain import (
    AnalysisRecorded,
    Decision,
    DeploymentPipeline,
    Event,
    Observation,
    Phase,
    RolledBack,
    RollingStrategy,
    RolloutPaused,
    RolloutStarted,
    RolloutSucceeded,
    StrategyKind,
    TrafficShifted,
    Verdict,
    judge,
)
from findly_infra.domain.environment import RollbackCapability
from findly_infra.domain.notation import Duration
from findly_infra.domain.view import EnvironmentView, WaitKind
from findly_infra.testing import HEALTHY

from .conftest import EXAMPLE
from .test_audit_trail import requested_for_production

T0 = datetime(2026, 11, 26, 9, 0, 0)
PLATFORM = load_platform(EXAMPLE)
CANARY = PLATFORM.canary_strategy
assert CANARY is not None
THRESHOLD = CANARY.failure_handling.rollback_threshold
LIMIT = CANARY.analysis.inconclusive_limit


def canary(
    verdicts: list[Verdict], *, platform: object = PLATFORM, minutes: int = 1
) -> tuple[DeploymentPipeline, list[tuple[datetime, Event]]]:
    """A canary of 1.0.0 in development, one analysis every *minutes*, until a verdict is refused."""
    pipeline = DeploymentPipeline.start(platform, "fn-posts")  # type: ignore[arg-type]
    decision = pipeline.deploy("1.0.0", "development", actor="alice", at=T0, strategy=StrategyKind.CANARY)
    pipeline = pipeline.apply_all(decision.events)
    log = [(T0, e) for e in decision.events]
    at = T0
    for verdict in verdicts:
        at += timedelta(minutes=minutes)
        decision = pipeline.analyze("development", verdict, actor="findly", at=at)
        if not decision.accepted:
            break
        log += [(at, e) for e in decision.events]
        pipeline = pipeline.apply_all(decision.events)
    return pipeline, log


def _short_streaks(verdicts: list[Verdict]) -> list[Verdict]:
    """The verdicts with every run of inconclusive analyses cut below the pause limit."""
    kept: list[Verdict] = []
    streak = 0
    for verdict in verdicts:
        streak = streak + 1 if verdict is Verdict.INCONCLUSIVE else 0
        if streak < LIMIT:
            kept.append(verdict)
    return kept


# ---- rollback: exactly at the threshold, counted per stage ---------------------------------------------


@given(st.lists(st.sampled_from([Verdict.PASS, Verdict.INCONCLUSIVE]), max_size=40), st.integers(1, 50))
def test_a_continuous_breach_rolls_back_at_exactly_the_thresholds_failure(prefix: list[Verdict], breach: int) -> None:
    healthy = _short_streaks(prefix)  # never paused, never 60 minutes: still rolling when the breach starts
    pipeline, log = canary([*healthy, *[Verdict.FAIL] * breach])
    failures = [e for _, e in log if isinstance(e, AnalysisRecorded) and e.verdict is Verdict.FAIL]
    rolled = [e for _, e in log if isinstance(e, RolledBack)]
    event(f"breach {'reaches' if breach >= THRESHOLD else 'stays below'} the threshold")
    if breach >= THRESHOLD:
        assert len(rolled) == 1
        assert len(failures) == THRESHOLD  # not one fewer, not one more
        assert pipeline.environments["development"].phase is Phase.ROLLED_BACK
        assert rolled[0].reason == f"{THRESHOLD} failed analyses in this stage (threshold {THRESHOLD})"
    else:
        assert rolled == []
        assert pipeline.environments["development"].phase is Phase.PROGRESSING


def test_failures_count_per_stage_not_in_a_row() -> None:
    """A flapping canary (fail, pass, fail) is rolled back within its stage; a new stage starts a new count."""
    pipeline, log = canary([Verdict.FAIL, Verdict.PASS, Verdict.FAIL])
    assert pipeline.environments["development"].phase is Phase.ROLLED_BACK
    # a failure in the first stage does not count in the second: 9 passes take it past minute 10
    pipeline, log = canary([Verdict.FAIL, *[Verdict.PASS] * 9, Verdict.FAIL])
    assert [e.weight for _, e in log if isinstance(e, TrafficShifted)] == [5, 25]
    assert pipeline.environments["development"].phase is Phase.PROGRESSING
    assert pipeline.environments["development"].rollout.failures == 1  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("automatic", "capability"),
    [(False, RollbackCapability.AUTOMATIC), (True, RollbackCapability.MANUAL), (False, RollbackCapability.MANUAL)],
)
def test_where_rollback_is_not_automatic_a_breach_pauses_for_a_person(
    automatic: bool, capability: RollbackCapability
) -> None:
    handling = attrs.evolve(CANARY.failure_handling, automatic_rollback=automatic)
    strategy = attrs.evolve(CANARY, failure_handling=handling)
    environments = tuple(
        attrs.evolve(env, rollback_capability=capability) if env.name == "development" else env
        for env in PLATFORM.environments
    )
    platform = attrs.evolve(PLATFORM, canary_strategy=strategy, environments=environments)
    pipeline, log = canary([Verdict.FAIL] * THRESHOLD, platform=platform)
    assert not any(isinstance(e, RolledBack) for _, e in log)
    assert pipeline.environments["development"].phase is Phase.PAUSED
    assert isinstance(log[-1][1], RolloutPaused)
    assert "manual" in log[-1][1].reason


@given(
    st.lists(st.sampled_from([Verdict.PASS, Verdict.INCONCLUSIVE]), max_size=30),
    st.sampled_from(list(RollbackCapability)),
)
def test_a_candidate_the_cluster_cannot_run_fails_its_rollout_at_once(
    verdicts: list[Verdict], capability: RollbackCapability
) -> None:
    """Readiness is evidence: a progressing rollout whose candidate never became ready is rolled back where rollback
    is automatic, else paused for a person — whatever stage it had reached; a rollout not progressing is refused."""
    environments = tuple(
        attrs.evolve(env, rollback_capability=capability) if env.name == "development" else env
        for env in PLATFORM.environments
    )
    platform = attrs.evolve(PLATFORM, environments=environments)
    pipeline, log = canary(verdicts, platform=platform)
    at = log[-1][0] + timedelta(minutes=1)
    rollout = pipeline.environments["development"].rollout
    assert rollout is not None
    decision = pipeline.workload_failed("development", actor="findly", at=at, reason="ProgressDeadlineExceeded: x")
    if rollout.phase is not Phase.PROGRESSING:
        assert decision.refusal is not None
        assert decision.refusal.rule == "rollout-progressing"
        event(f"refused ({rollout.phase.value})")
        return
    (failed,) = decision.events
    assert failed.reason.startswith("the cluster could not run 1.0.0: ProgressDeadlineExceeded: x")
    if capability is RollbackCapability.AUTOMATIC:
        assert isinstance(failed, RolledBack)
        assert failed.restored == rollout.previous
    else:
        assert isinstance(failed, RolloutPaused)
    event(f"{capability.value}: {type(failed).__name__}")


# ---- progress: every stage, for its whole duration, and not a minute less ------------------------------


@given(st.sampled_from([1, 2, 3, 5, 7, 10]))
def test_a_healthy_canary_takes_every_stage_for_its_whole_duration(minutes: int) -> None:
    pipeline, log = canary([Verdict.PASS] * 200, minutes=minutes)
    shifts = [(at, e.weight) for at, e in log if isinstance(e, TrafficShifted)]
    assert [weight for _, weight in shifts] == [5, 25, 50, 100]
    starts = [at for at, _ in shifts]
    for (began, _), (following, _), stage in zip(shifts, shifts[1:], CANARY.traffic_progression, strict=False):
        assert stage.duration is not None
        length = following - began
        assert length >= timedelta(milliseconds=stage.duration.milliseconds)  # never cut short
        assert length < timedelta(milliseconds=stage.duration.milliseconds) + timedelta(minutes=minutes)
    (succeeded,) = [at for at, e in log if isinstance(e, RolloutSucceeded)]
    assert succeeded == starts[-1]  # "stable" 100% is the end: it succeeds when it gets there, not before
    assert succeeded - T0 >= timedelta(minutes=60)
    assert pipeline.environments["development"].current == "1.0.0"


def test_a_canary_never_succeeds_before_its_last_stage() -> None:
    for count in range(1, 60):
        pipeline, log = canary([Verdict.PASS] * count)
        assert pipeline.environments["development"].phase is Phase.PROGRESSING, count
        assert not any(isinstance(e, RolloutSucceeded) for _, e in log)


@given(st.integers(1, 15))
def test_a_rolling_update_succeeds_only_after_its_watch_period(minutes: int) -> None:
    rolling = PLATFORM.rolling_strategy
    assert isinstance(rolling, RollingStrategy)
    watch = timedelta(milliseconds=rolling.watch.milliseconds)
    pipeline = DeploymentPipeline.start(PLATFORM, "fn-posts")
    pipeline = pipeline.apply_all(pipeline.deploy("1.0.0", "development", actor="erin", at=T0).events)
    decision = pipeline.analyze("development", Verdict.PASS, actor="findly", at=T0 + timedelta(minutes=minutes))
    succeeded = any(isinstance(e, RolloutSucceeded) for e in decision.events)
    assert succeeded == (timedelta(minutes=minutes) >= watch)


# ---- doubt: inconclusive analyses in a row pause; any decisive verdict ends the streak --------------


@given(st.lists(st.sampled_from([Verdict.INCONCLUSIVE, Verdict.INCONCLUSIVE, Verdict.PASS, Verdict.FAIL]), max_size=40))
def test_only_a_full_streak_of_inconclusive_analyses_pauses(verdicts: list[Verdict]) -> None:
    _, log = canary(verdicts)
    streak, paused_at = 0, None
    for index, verdict in enumerate(verdicts):
        streak = streak + 1 if verdict is Verdict.INCONCLUSIVE else 0
        if streak >= LIMIT:
            paused_at = index
            break
    paused = [e for _, e in log if isinstance(e, RolloutPaused)]
    if paused_at is not None and not any(isinstance(e, RolledBack) for _, e in log):
        assert len(paused) == 1
        assert paused[0].reason.startswith(f"{LIMIT} inconclusive analyses in a row")
    else:
        assert paused == []
    event(f"paused: {bool(paused)}")


def test_a_pass_between_inconclusive_analyses_ends_the_streak() -> None:
    doubt = [Verdict.INCONCLUSIVE] * (LIMIT - 1)
    pipeline, _ = canary([*doubt, Verdict.PASS, *doubt])
    assert pipeline.environments["development"].phase is Phase.PROGRESSING
    pipeline, _ = canary([*doubt, Verdict.FAIL, *doubt])
    assert pipeline.environments["development"].phase is Phase.PROGRESSING


# ---- the human gates: pause, resume, abort -------------------------------------------------------------


def test_pause_resume_and_abort_move_the_rollout_as_documented() -> None:
    pipeline, _ = canary([Verdict.FAIL])  # one failure in the stage
    at = T0 + timedelta(minutes=5)
    paused = pipeline.apply_all(pipeline.pause("development", actor="alice", at=at, reason="look").events)
    rollout = paused.environments["development"].rollout
    assert rollout is not None
    assert (rollout.phase, rollout.paused_from, rollout.reason) == (Phase.PAUSED, Phase.PROGRESSING, "look")
    assert paused.analyze("development", Verdict.PASS, actor="findly", at=at).refusal is not None  # no analysis
    again = paused.pause("development", actor="alice", at=at, reason="again")  # what holds: answered, not refused
    assert (again.events, again.refusal, again.already) == ((), None, "1.0.0 is already paused in development (look)")
    resumed = paused.apply_all(paused.resume("development", actor="bob", at=at + timedelta(minutes=1)).events)
    rollout = resumed.environments["development"].rollout
    assert rollout is not None
    assert (rollout.phase, rollout.failures, rollout.inconclusive, rollout.reason) == (Phase.PROGRESSING, 0, 0, "")
    assert rollout.step_started == at + timedelta(minutes=1)
    assert resumed.resume("development", actor="carol", at=at).refusal is not None  # not paused any more
    retried = resumed.resume("development", actor="bob", at=at)  # bob's own resume, retried: answered
    assert (retried.events, retried.refusal, retried.already) == (
        (),
        None,
        "bob already resumed 1.0.0 in development (progressing)",
    )
    aborted = resumed.apply_all(resumed.abort("development", actor="carol", at=at, reason="stop").events)
    view = EnvironmentView.of(aborted, "development", at)
    assert (view.phase, view.candidate, view.serving, view.stopped) == (Phase.ABORTED, None, None, "stop")
    assert view.routes() == {}
    again = aborted.abort("development", actor="carol", at=at, reason="again")
    assert (again.events, again.refusal, again.already) == ((), None, "1.0.0 is already aborted in development (stop)")
    assert aborted.pause("development", actor="carol", at=at, reason="late").refusal is not None  # nothing to pause


def test_a_rollout_paused_while_awaiting_approval_resumes_to_awaiting_approval() -> None:
    from findly_infra.testing import SCENARIOS, simulate

    result = simulate(PLATFORM, "fn-posts", "production", SCENARIOS["healthy"], human_approvals=False)
    assert result.outcome == "paused"  # nobody approved the business validation
    pipeline = DeploymentPipeline.replay(PLATFORM, "fn-posts", result.events)
    # the simulation's events start at the rollout under test: fold them onto a pipeline that has it
    awaiting = pipeline.environments["production"].rollout
    assert awaiting is not None
    assert awaiting.phase is Phase.AWAITING_APPROVAL
    at = result.events[-1].at
    paused = pipeline.apply_all(pipeline.pause("production", actor="alice", at=at, reason="hold").events)
    assert paused.environments["production"].phase is Phase.PAUSED
    resumed = paused.apply_all(paused.resume("production", actor="alice", at=at).events)
    assert resumed.environments["production"].phase is Phase.AWAITING_APPROVAL
    view = EnvironmentView.of(resumed, "production", at)
    assert view.waiting_for is not None
    assert view.waiting_for.kind is WaitKind.APPROVAL


def _awaiting_business_validation() -> DeploymentPipeline:
    from findly_infra.testing import SCENARIOS, simulate

    result = simulate(PLATFORM, "fn-posts", "production", SCENARIOS["healthy"], human_approvals=False)
    return DeploymentPipeline.replay(PLATFORM, "fn-posts", result.events)


AWAITING = _awaiting_business_validation()
GATES = st.tuples(st.sampled_from(["pause", "resume", "approve", "abort"]), st.sampled_from(["alice", "bob", "carol"]))


@given(st.lists(GATES, max_size=12))
def test_a_gate_command_that_took_effect_answers_its_retry_and_records_nothing(script: list[tuple[str, str]]) -> None:
    """A CI step killed after its commit and retried: pause, resume, abort and a step's approval, repeated by the
    person whose command took effect, answer what holds (``already``) — never a refusal, never a second event."""
    pipeline = AWAITING
    rollout = pipeline.environments["production"].rollout
    assert rollout is not None
    version, at = rollout.version, rollout.started + timedelta(hours=1)
    took_effect = 0
    for offset, (command, actor) in enumerate(script):
        at += timedelta(minutes=offset)

        def decide(pipe: DeploymentPipeline, command: str = command, actor: str = actor, at: datetime = at) -> Decision:
            if command == "approve":
                return pipe.approve(version, "production", actor=actor, at=at)
            if command == "resume":
                return pipe.resume("production", actor=actor, at=at)
            gate = pipe.pause if command == "pause" else pipe.abort
            return gate("production", actor=actor, at=at, reason=f"{command} by {actor}")

        first = decide(pipeline)
        if first.refusal is not None or not first.events:
            continue
        took_effect += 1
        pipeline = pipeline.apply_all(first.events)
        retried = decide(pipeline)
        assert (retried.events, retried.refusal) == ((), None), (command, actor, retried.refusal)
        assert retried.already is not None
    event(f"commands that took effect: {min(took_effect, 3)}{'+' if took_effect > 3 else ''}")


# ---- analysis: too little traffic, missing metrics, rolling updates -----------------------------------


def test_too_little_traffic_and_missing_metrics_are_inconclusive_never_a_pass() -> None:
    assert CANARY.analysis.min_requests > 0
    quiet = Observation({**HEALTHY, "requests": CANARY.analysis.min_requests - 1})
    assert judge(CANARY, CANARY, quiet)[0] is Verdict.INCONCLUSIVE
    enough = Observation({**HEALTHY, "requests": CANARY.analysis.min_requests})
    assert judge(CANARY, CANARY, enough)[0] is Verdict.PASS
    missing = Observation({k: v for k, v in HEALTHY.items() if k != "latency_p95"})
    verdict, readings = judge(CANARY, CANARY, missing)
    assert verdict is Verdict.INCONCLUSIVE
    assert {r.metric for r in readings if r.verdict is Verdict.INCONCLUSIVE} == {"latency_p95"}
    breached = Observation({k: v for k, v in {**HEALTHY, "error_rate": 0.5}.items() if k != "latency_p95"})
    assert judge(CANARY, CANARY, breached)[0] is Verdict.FAIL  # a breach is evidence, whatever is missing


def test_a_rolling_update_is_judged_by_the_canary_criteria_not_traffic_alone() -> None:
    rolling = PLATFORM.rolling_strategy
    bad = Observation({**HEALTHY, "error_rate": 0.5})
    verdict, readings = judge(rolling, CANARY, bad)
    assert verdict is Verdict.FAIL
    assert {r.metric for r in readings} == {c.metric for c in CANARY.success_criteria}
    assert judge(rolling, None, bad) == (Verdict.PASS, ())  # no canary criteria at all: traffic alone


# ---- approvals: used up by the rollout they let in ---------------------------------------------------------


def test_approvals_are_used_up_by_the_rollout_they_let_in() -> None:
    pipeline = requested_for_production()
    for person in ("alice", "carol"):
        pipeline = pipeline.apply_all(pipeline.approve("1.0.0", "production", actor=person, at=T0).events)
    pipeline = pipeline.apply_all(pipeline.deploy("1.0.0", "production", actor="erin", at=T0).events)
    assert pipeline.environments["production"].approvals == ()
    pipeline = pipeline.apply_all(pipeline.rollback("production", actor="erin", at=T0, reason="oops").events)
    again = pipeline.deploy("1.0.0", "production", actor="erin", at=T0 + timedelta(minutes=1))
    assert again.refusal is not None
    assert again.refusal.rule == "approvals"  # a second rollout needs approvals of its own


def test_the_view_says_which_approvals_a_pending_promotion_waits_for() -> None:
    pipeline = requested_for_production()
    view = EnvironmentView.of(pipeline, "production", T0)
    assert view.waiting_for is not None
    assert (view.waiting_for.kind, view.waiting_for.needs) == (WaitKind.APPROVAL, ("devops-team", "security-team"))
    pipeline = pipeline.apply_all(pipeline.approve("1.0.0", "production", actor="alice", at=T0).events)
    view = EnvironmentView.of(pipeline, "production", T0)
    assert view.waiting_for is not None
    assert view.waiting_for.needs == ("security-team",)
    expired = EnvironmentView.of(pipeline, "production", T0 + timedelta(hours=25))
    assert expired.waiting_for is not None
    assert expired.waiting_for.needs == ("devops-team", "security-team")  # alice's approval expired


# ---- production approvals, as a state machine -------------------------------------------------------------

PEOPLE = ("alice", "bob", "carol", "dave", "erin", "mallory")
VERSIONS = ("1.0.0", "2.0.0")


class ProductionApprovals(RuleBasedStateMachine):
    """Requests, approvals (by anyone, for any version), time passing, superseding versions and attempts to
    start production's rollout, in any order. Whatever happens, a production rollout starts only with one
    unexpired approval per listed group for that version, by distinct members, none of them the requester."""

    @initialize(requester=st.sampled_from(PEOPLE), data=st.data())
    def start(self, requester: str, data: st.DataObject) -> None:
        self.pipeline = DeploymentPipeline.start(PLATFORM, "fn-posts")
        self.at = T0
        self.ready: set[str] = set()
        self.started = 0
        for version in VERSIONS:  # both versions through development and staging: production is within reach
            self.pass_staging(version)
        self._do(self.pipeline.deploy(VERSIONS[0], "production", actor=requester, at=self.at).events)  # asked for
        self.a_member_approves(data)  # and approved by one group

    def _do(self, events: tuple[Event, ...]) -> None:
        for happened in events:
            if isinstance(happened, RolloutStarted) and happened.environment == "production":
                self._check_entry(happened)
            self.pipeline = self.pipeline.apply(happened)

    def _check_entry(self, started: RolloutStarted) -> None:
        state = self.pipeline.environments["production"]
        assert state.requested is not None
        assert state.requested.version == started.version
        expiry = timedelta(milliseconds=PLATFORM.environment("production").approval_expires_after.milliseconds)
        valid = [a for a in state.approvals if a.version == started.version and started.at - a.at < expiry]
        assert {a.group for a in valid} >= {"devops-team", "security-team"}
        people = [a.approver for a in valid]
        assert len(people) == len(set(people))
        assert state.requested.requested_by not in people
        for approval in valid:
            assert approval.approver in PLATFORM.approver_group(approval.group).members
        self.started += 1
        event("a production rollout started")  # --hypothesis-show-statistics: the share of runs that get there

    def pass_staging(self, version: str) -> None:
        """Development and staging by the book, so that production is within reach."""
        for env in ("development", "staging"):
            if version in self.pipeline.environments[env].succeeded:
                continue
            decision = self.pipeline.deploy(version, env, actor="erin", at=self.at)
            if not decision.accepted:
                return
            self._do(decision.events)
            self._do(self.pipeline.analyze(env, Verdict.PASS, actor="findly", at=self.at + timedelta(minutes=5)).events)
            for suite in PLATFORM.environment(env).tests:
                self._do(self.pipeline.record_test(version, env, suite, True, actor="ci", at=self.at).events)
        self.ready.add(version)

    @rule(data=st.data(), requester=st.sampled_from(PEOPLE))
    def promote(self, data: st.DataObject, requester: str) -> None:
        """Anyone asks for a promotion: mostly of the version pending, sometimes of another (which supersedes)."""
        pending = self.pipeline.environments["production"].requested
        likely = (pending.version,) * 3 if pending is not None else ()
        version = data.draw(st.sampled_from((*likely, *VERSIONS)))
        decision = self.pipeline.deploy(version, "production", actor=requester, at=self.at)
        self._do(decision.events)
        event(f"promotion {'started' if decision.accepted else 'refused: ' + decision.refusal.rule}")  # type: ignore[union-attr]

    @rule(data=st.data())
    def another_member_approves(self, data: st.DataObject) -> None:
        """Approvals are what most runs need to get anywhere: two rules give them twice the chance."""
        self.a_member_approves(data)

    @rule(data=st.data())
    def a_member_approves(self, data: st.DataObject) -> None:
        """A well-behaved approver: a member of a group still missing, who did not ask for the promotion."""
        pending = self.pipeline.environments["production"].requested
        if pending is None:
            return
        missing = self.pipeline.missing_approvals("production", self.at)
        group = data.draw(st.sampled_from(missing or ("devops-team", "security-team")))
        members = [m for m in PLATFORM.approver_group(group).members if m != pending.requested_by]
        person = data.draw(st.sampled_from(members))
        self._do(self.pipeline.approve(pending.version, "production", actor=person, at=self.at, group=group).events)
        # the release workflow tries the promotion again after each approval, as its requester
        self._do(self.pipeline.deploy(pending.version, "production", actor=pending.requested_by, at=self.at).events)

    @rule(version=st.sampled_from(VERSIONS), person=st.sampled_from(PEOPLE))
    def approve_anything(self, version: str, person: str) -> None:
        self._do(self.pipeline.approve(version, "production", actor=person, at=self.at).events)

    @rule(hours=st.sampled_from([0, 1, 2, 6, 25]))
    def time_passes(self, hours: int) -> None:
        self.at += timedelta(hours=hours, minutes=1)

    @rule()
    def finish_or_roll_back(self) -> None:
        rollout = self.pipeline.environments["production"].rollout
        if rollout is not None and rollout.phase.active:
            self._do(self.pipeline.rollback("production", actor="erin", at=self.at, reason="next").events)

    @invariant()
    def approvals_never_outlive_their_request(self) -> None:
        state = self.pipeline.environments["production"]
        if state.requested is None:
            assert state.approvals == ()  # a rollout that started used them up
        else:
            assert all(a.version == state.requested.version for a in state.approvals)  # none for another version


ProductionApprovals.TestCase.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)
test_production_approvals = ProductionApprovals.TestCase


def test_watch_period_is_the_files() -> None:
    """The rolling watch is read from the strategy, not assumed: a 1-minute watch succeeds at minute 1."""
    quick = attrs.evolve(
        PLATFORM, rolling_strategy=attrs.evolve(PLATFORM.rolling_strategy, watch=Duration.of(minutes=1))
    )
    pipeline = DeploymentPipeline.start(quick, "fn-posts")
    pipeline = pipeline.apply_all(pipeline.deploy("1.0.0", "development", actor="erin", at=T0).events)
    decision = pipeline.analyze("development", Verdict.PASS, actor="findly", at=T0 + timedelta(minutes=1))
    assert any(isinstance(e, RolloutSucceeded) for e in decision.events)


def test_relative_criteria_show_their_computed_limit_and_never_stop_the_others() -> None:
    from findly_infra.domain import MetricCriterion, RelativeThreshold
    from findly_infra.domain.analysis import judge_criteria

    criteria = (
        MetricCriterion("latency_p99", RelativeThreshold.parse("< 1.2x current")),
        MetricCriterion("error_rate", RelativeThreshold.parse("< 2x current")),
        MetricCriterion("cpu_utilization", CANARY.success_criteria[2].threshold),
    )
    new = Observation({**HEALTHY, "latency_p99": 0.55, "error_rate": 0.003})
    current = Observation({**HEALTHY, "latency_p99": 0.5, "error_rate": 0.002})
    verdict, readings = judge_criteria(criteria, new, 100, current)
    shown = {r.metric: (r.threshold, r.value, r.verdict) for r in readings}
    assert verdict is Verdict.PASS
    assert shown["latency_p99"] == ("< 1.2x current = 600ms", 0.55, Verdict.PASS)
    assert shown["error_rate"] == ("< 2x current = 0.4%", 0.003, Verdict.PASS)
    assert shown["cpu_utilization"][1:] == (0.5, Verdict.PASS)
    # a first release has no current version: the relative criteria are left out, the others still judge
    verdict, readings = judge_criteria(criteria, new, 100, None)
    assert [r.metric for r in readings] == ["cpu_utilization"]
    assert verdict is Verdict.PASS
    assert Observation({}).get("anything") != Observation({}).get("anything")  # NaN: no evidence


def test_without_criteria_traffic_alone_decides_and_too_little_is_doubt() -> None:
    rolling = PLATFORM.rolling_strategy
    assert judge(rolling, None, Observation({"requests": 1000.0})) == (Verdict.PASS, ())
    assert judge(rolling, None, Observation({"requests": 1.0})) == (Verdict.INCONCLUSIVE, ())
    assert judge(rolling, None, Observation({})) == (Verdict.INCONCLUSIVE, ())
