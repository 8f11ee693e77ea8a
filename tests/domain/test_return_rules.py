"""``DeploymentPipeline.return_to``: a release returning one of its parts (issue 28). From a rollout under way it is
a rollback; from the latest rollout that succeeded, when it replaced the version asked for, that version serves again
— ``current`` says so (the next rollout's ``previous`` is right), the view serves it alone, and the rollout that let
it in before is its entry again (``entry_refusal`` judges it, as it judged it before it was replaced). A return
asked again is answered ``already``; a return to a version the environment's latest rollout did not replace is
refused (rule ``return-target``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from findly_infra import load_platform
from findly_infra.domain import Decision, DeploymentPipeline, Phase, StrategyKind, Verdict, events
from findly_infra.domain.view import EnvironmentView
from tests.conftest import EXAMPLE

T0 = datetime(2026, 11, 26, 9, 0, 0)
PLATFORM = load_platform(EXAMPLE)
ENV = "development"


def run(pipeline: DeploymentPipeline, decision: Decision) -> DeploymentPipeline:
    assert decision.refusal is None, decision.refusal
    return pipeline.apply_all(decision.events)


def released(versions: list[str], kind: StrategyKind, at: datetime = T0) -> tuple[DeploymentPipeline, datetime]:
    """*versions* rolled out in *ENV* one after another with *kind*, each analysed until it succeeded."""
    pipeline = DeploymentPipeline.start(PLATFORM, "fn-posts")
    for version in versions:
        pipeline = run(pipeline, pipeline.deploy(version, ENV, actor="erin", at=at, strategy=kind))
        while (rollout := pipeline.environments[ENV].rollout) is not None and rollout.phase.active:
            at += timedelta(minutes=10)
            pipeline = run(pipeline, pipeline.analyze(ENV, Verdict.PASS, actor="findly", at=at))
        assert pipeline.environments[ENV].current == version
    return pipeline, at


versions = st.lists(st.sampled_from([f"1.{n}.0" for n in range(6)]), min_size=1, max_size=4, unique=True)
kinds = st.sampled_from([StrategyKind.ROLLING, StrategyKind.CANARY])


@given(versions, kinds)
@example(["1.0.0", "1.1.0"], StrategyKind.CANARY)
def test_a_return_from_a_success_serves_what_it_replaced_again(names: list[str], kind: StrategyKind) -> None:
    pipeline, at = released(names, kind)
    state = pipeline.environments[ENV]
    if len(names) < 2:  # nothing served before the first: nothing returns to it
        refused = pipeline.return_to(ENV, "9.9.9", actor="release", at=at, reason="r")
        assert refused.refusal is not None
        assert refused.refusal.rule == "return-target"
        return
    back, latest = names[-2], names[-1]
    before_let_in = state.let_in_before
    assert before_let_in is not None
    assert before_let_in.version == back
    decision = pipeline.return_to(ENV, back, actor="release", at=at, reason="the release failed")
    assert decision.refusal is None
    assert not decision.already
    (event,) = decision.events
    assert isinstance(event, events.RolledBack)
    assert (event.version, event.restored) == (latest, back)
    after = pipeline.apply_all(decision.events).environments[ENV]
    assert after.current == back
    assert after.let_in == before_let_in  # the entry of what serves again: its own, from before
    assert after.phase is Phase.ROLLED_BACK
    view = EnvironmentView.of(pipeline.apply_all(decision.events), ENV, at)
    assert view.routes() == {back: 100}
    returned = pipeline.apply_all(decision.events)
    again = returned.return_to(ENV, back, actor="release", at=at, reason="again")
    assert again.already
    assert not again.events
    assert again.refusal is None
    nxt = returned.deploy("2.0.0", ENV, actor="erin", at=at, strategy=kind)
    started = next(e for e in nxt.events if isinstance(e, events.RolloutStarted))
    assert started.previous == back  # the next rollout replaces what serves now
    other = next(n for n in ["9.9.9", *names] if n not in (back, latest))
    refused = pipeline.return_to(ENV, other, actor="release", at=at, reason="r")
    assert refused.refusal is not None
    assert refused.refusal.rule == "return-target"


@given(versions, kinds)
@example(["1.0.0"], StrategyKind.ROLLING)
def test_a_return_from_a_rollout_under_way_is_its_rollback(names: list[str], kind: StrategyKind) -> None:
    pipeline, at = released(names, kind)
    pipeline = run(pipeline, pipeline.deploy("2.0.0", ENV, actor="erin", at=at, strategy=kind))
    back = names[-1]
    decision = pipeline.return_to(ENV, back, actor="release", at=at, reason="the release failed")
    assert decision == pipeline.rollback(ENV, actor="release", at=at, reason="the release failed")
    after = pipeline.apply_all(decision.events).environments[ENV]
    assert after.current == back
    assert after.phase is Phase.ROLLED_BACK
    wrong = pipeline.return_to(ENV, "9.9.9", actor="release", at=at, reason="r")
    assert wrong.refusal is not None
    assert wrong.refusal.rule == "return-target"
    assert not wrong.events


def through_production(pipeline: DeploymentPipeline, version: str, at: datetime) -> tuple[DeploymentPipeline, datetime]:
    """*version* through development and staging by the book, approved for production by alice and carol, and its
    production rollout driven to its success (its manual step approved, its evidence recorded)."""
    for env in ("development", "staging"):
        pipeline = run(pipeline, pipeline.deploy(version, env, actor="erin", at=at))
        pipeline = run(pipeline, pipeline.analyze(env, Verdict.PASS, actor="findly", at=at + timedelta(minutes=5)))
        for suite in PLATFORM.environment(env).tests:
            pipeline = run(pipeline, pipeline.record_test(version, env, suite, True, actor="ci", at=at))
    pipeline = pipeline.apply_all(pipeline.deploy(version, "production", actor="erin", at=at).events)  # asked
    for person in ("alice", "carol"):
        pipeline = run(pipeline, pipeline.approve(version, "production", actor=person, at=at))
    pipeline = run(pipeline, pipeline.deploy(version, "production", actor="erin", at=at))
    while (rollout := pipeline.environments["production"].rollout) is not None and rollout.phase.active:
        at += timedelta(minutes=10)
        if rollout.phase is Phase.AWAITING_APPROVAL:
            pipeline = run(pipeline, pipeline.approve(version, "production", actor="alice", at=at))
        elif (suite := pipeline.awaited_evidence("production")) is not None:
            pipeline = run(pipeline, pipeline.record_test(version, "production", suite, True, actor="ci", at=at))
        else:
            pipeline = run(pipeline, pipeline.analyze("production", Verdict.PASS, actor="findly", at=at))
    assert pipeline.environments["production"].current == version
    return pipeline, at


def test_a_return_to_a_version_let_in_by_approvals_stays_proven() -> None:
    """Production needs approvals: a return to the version approved before is judged by the rollout that let it in
    (proven: no refusal), with no new approval asked."""
    pipeline, at = through_production(DeploymentPipeline.start(PLATFORM, "fn-posts"), "1.0.0", T0)
    first_let_in = pipeline.environments["production"].let_in
    pipeline, at = through_production(pipeline, "1.1.0", at)
    decision = pipeline.return_to("production", "1.0.0", actor="release", at=at, reason="the release failed")
    returned = run(pipeline, decision)
    assert returned.environments["production"].let_in == first_let_in
    assert returned.environments["production"].current == "1.0.0"
    assert returned.entry_refusal("production") is None
