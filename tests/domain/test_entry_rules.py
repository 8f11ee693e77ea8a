"""``DeploymentPipeline.entry_refusal`` (rule ``unproven-entry``), pinned on names: what an environment would serve
must have been let in by a rollout whose approvals — those pending when it started — count again under the policy in
force. Here the policy in force takes carol out of security-team after she approved: a rollout she let in is no
longer proven, whether it is under way, succeeded, or what a later rollout would return to — unless the cluster
already runs it (keeping it is no entry). A rolled-back or aborted rollout holds no traffic and is not judged."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
from hypothesis import example, given
from hypothesis import strategies as st

from findly_infra import load_platform
from findly_infra.domain import Decision, DeploymentPipeline, PlatformPolicy, StrategyKind, Verdict
from findly_infra.domain.environment import ApproverGroup
from tests.conftest import EXAMPLE

T0 = datetime(2026, 11, 26, 9, 0, 0)
PLATFORM = load_platform(EXAMPLE)
PROD = "production"
STRICT = PlatformPolicy.of(
    attrs.evolve(
        PLATFORM,
        approver_groups=tuple(
            ApproverGroup(g.name, ("dave",)) if g.name == "security-team" else g for g in PLATFORM.approver_groups or ()
        ),
    )
)
"""The policy in force: carol has left security-team (dave remains)."""


def _apply(pipeline: DeploymentPipeline, decision: Decision) -> DeploymentPipeline:
    assert decision.refusal is None, decision.refusal
    return pipeline.apply_all(decision.events)


def released(pipeline: DeploymentPipeline, version: str, security: str, at: datetime) -> DeploymentPipeline:
    """*version* through development and staging, approved for production by alice and *security*, and started
    there (a rolling update, progressing)."""
    for env in ("development", "staging"):
        pipeline = _apply(pipeline, pipeline.deploy(version, env, actor="erin", at=at, strategy=StrategyKind.ROLLING))
        pipeline = _apply(pipeline, pipeline.analyze(env, Verdict.PASS, actor="findly", at=at + timedelta(minutes=5)))
        for suite in PLATFORM.environment(env).tests:
            pipeline = _apply(pipeline, pipeline.record_test(version, env, suite, True, actor="ci", at=at))
    pipeline = pipeline.apply_all(pipeline.deploy(version, PROD, actor="erin", at=at).events)  # asked for
    for person in ("alice", security):
        pipeline = _apply(pipeline, pipeline.approve(version, PROD, actor=person, at=at))
    return _apply(pipeline, pipeline.deploy(version, PROD, actor="erin", at=at, strategy=StrategyKind.ROLLING))


def ended(pipeline: DeploymentPipeline, how: str, at: datetime) -> DeploymentPipeline:
    if how == "succeeded":
        return _apply(pipeline, pipeline.analyze(PROD, Verdict.PASS, actor="findly", at=at + timedelta(minutes=10)))
    if how == "progressing":
        return pipeline
    if how == "paused":
        return _apply(pipeline, pipeline.pause(PROD, actor="bob", at=at, reason="look"))
    command = pipeline.rollback if how == "rolled back" else pipeline.abort
    return _apply(pipeline, command(PROD, actor="bob", at=at, reason="no"))


HOW = st.sampled_from(["progressing", "paused", "succeeded", "rolled back", "aborted"])
SECURITY = st.sampled_from(["carol", "dave"])


@given(SECURITY, HOW, st.booleans())
@example("carol", "progressing", False)
@example("carol", "succeeded", True)
@example("carol", "rolled back", False)
def test_a_first_rollout_is_judged_under_the_policy_in_force_while_it_holds_traffic(
    security: str, how: str, running: bool
) -> None:
    """Approved by carol, its entry is not proven now — while it holds traffic, and once succeeded unless the
    cluster runs it; rolled back or aborted (a first release: nothing to return to) nothing is judged."""
    pipeline = ended(released(DeploymentPipeline.start(PLATFORM, "fn-posts"), "1.0.0", security, T0), how, T0)
    judged = pipeline.judged_by(STRICT)
    refusal = judged.entry_refusal(PROD, running=("1.0.0",) if running else ())
    holds = how in ("progressing", "paused") or (how == "succeeded" and not running)
    if security == "dave" or not holds:
        assert refusal is None
        return
    assert refusal is not None
    assert refusal.rule == "unproven-entry"
    assert refusal.message == (
        "the rollout of 1.0.0 in production was let in without an approval from security-team that its proofs now "
        "prove; not counted: carol's approval for security-team (2026-11-26T09:00:00): carol is not a member of "
        "security-team: no cluster is moved for it (roll it back: findly-infra rollback)"
    )
    assert pipeline.entry_refusal(PROD) is None  # under the file's own policy, carol still counts


@given(SECURITY, SECURITY, HOW, st.booleans())
@example("carol", "dave", "rolled back", False)
@example("carol", "dave", "progressing", False)
@example("carol", "dave", "succeeded", False)
@example("carol", "dave", "progressing", True)
@example("dave", "carol", "rolled back", False)
def test_what_a_later_rollout_serves_beside_or_returns_to_was_let_in_by_a_proven_rollout(
    first: str, second: str, how: str, running: bool
) -> None:
    """1.0.0 succeeded (approved by *first*), then 1.1.0 (approved by *second*) ended *how*: the version served
    beside it or after it, 1.0.0, is judged through the rollout that let it in — unless the cluster runs it, or
    1.1.0 succeeded and serves alone."""
    pipeline = released(DeploymentPipeline.start(PLATFORM, "fn-posts"), "1.0.0", first, T0)
    pipeline = ended(pipeline, "succeeded", T0)
    later = T0 + timedelta(hours=2)
    pipeline = ended(released(pipeline, "1.1.0", second, later), how, later)
    judged = pipeline.judged_by(STRICT)
    refusal = judged.entry_refusal(PROD, running=("1.0.0",) if running else ())
    latest_judged = how in ("progressing", "paused", "succeeded") and second == "carol"
    serving_judged = how != "succeeded" and first == "carol" and not running
    if latest_judged:
        assert refusal is not None
        assert refusal.message.startswith("the rollout of 1.1.0 in production was let in without")
    elif serving_judged:
        assert refusal is not None
        assert refusal.rule == "unproven-entry"
        assert refusal.message.startswith(
            "1.0.0 would serve production, but the rollout that let it in was let in without an approval from "
            "security-team"
        )
        assert refusal.message.endswith(
            "no cluster is moved for it (its history must be repaired by the state's owner)"
        )
    else:
        assert refusal is None


def test_a_version_no_succeeded_rollout_let_in_is_refused_by_name() -> None:
    """A history whose serving version came in by no rollout that succeeded (events appended by hand): refused."""
    pipeline = released(DeploymentPipeline.start(PLATFORM, "fn-posts"), "1.0.0", "dave", T0)
    pipeline = ended(pipeline, "succeeded", T0)
    state = pipeline.environments[PROD]
    forged = attrs.evolve(state, let_in=attrs.evolve(state.let_in, version="0.9.0"))
    pipeline = attrs.evolve(pipeline, environments={**pipeline.environments, PROD: forged})
    later = T0 + timedelta(hours=2)
    pipeline = ended(released(pipeline, "1.1.0", "dave", later), "rolled back", later)
    refusal = pipeline.judged_by(STRICT).entry_refusal(PROD)
    assert refusal is not None
    assert refusal.rule == "unproven-entry"
    assert refusal.message == (
        "1.0.0 would serve production, and no rollout that succeeded there let it in: no cluster is moved for it "
        "(its history must be repaired by the state's owner)"
    )
    assert pipeline.judged_by(STRICT).entry_refusal(PROD, running=("1.0.0",)) is None
    unrequired = attrs.evolve(
        PLATFORM,
        environments=tuple(
            attrs.evolve(e, approval_required=False, approvers=()) if e.name == PROD else e
            for e in PLATFORM.environments
        ),
    )
    assert attrs.evolve(pipeline, platform=unrequired).entry_refusal(PROD) is None  # no approvals asked: no entry


@given(st.sampled_from(["alice", "bob", "carol", "dave", "erin"]))
def test_whoever_promotes_now_does_not_count_as_an_approver(promoter: str) -> None:
    """alice and carol approved 1.0.0; promoted by one of them, that approval does not count for the promotion."""
    pipeline = released(DeploymentPipeline.start(PLATFORM, "fn-posts"), "0.9.0", "dave", T0)
    pipeline = ended(pipeline, "succeeded", T0)
    for env in ("development", "staging"):
        pipeline = _apply(pipeline, pipeline.deploy("1.0.0", env, actor="erin", at=T0, strategy=StrategyKind.ROLLING))
        pipeline = _apply(pipeline, pipeline.analyze(env, Verdict.PASS, actor="findly", at=T0 + timedelta(minutes=5)))
        for suite in PLATFORM.environment(env).tests:
            pipeline = _apply(pipeline, pipeline.record_test("1.0.0", env, suite, True, actor="ci", at=T0))
    pipeline = pipeline.apply_all(pipeline.deploy("1.0.0", PROD, actor="erin", at=T0).events)
    for person in ("alice", "carol"):
        pipeline = _apply(pipeline, pipeline.approve("1.0.0", PROD, actor=person, at=T0))
    missing = {"alice": ("devops-team",), "carol": ("security-team",)}.get(promoter, ())
    assert pipeline.count(PROD, "1.0.0", T0, promoter=(promoter, None)).missing == missing
    assert pipeline.count(PROD, "1.0.0", T0).missing == ()
    decision = pipeline.deploy("1.0.0", PROD, actor=promoter, at=T0, strategy=StrategyKind.ROLLING)
    assert (decision.refusal is None) is (not missing)


def test_the_starters_own_approval_does_not_let_their_rollout_in() -> None:
    """A history where alice, who approved for devops-team, started the rollout herself (appended by hand: the
    command would refuse it): her approval does not count for her entry; with carol gone from security-team too,
    both groups are missing."""
    pipeline = released(DeploymentPipeline.start(PLATFORM, "fn-posts"), "1.0.0", "carol", T0)
    state = pipeline.environments[PROD]
    assert state.rollout is not None
    forged = attrs.evolve(state, rollout=attrs.evolve(state.rollout, started_by="alice"))
    pipeline = attrs.evolve(pipeline, environments={**pipeline.environments, PROD: forged})
    refusal = pipeline.entry_refusal(PROD)
    assert refusal is not None
    assert refusal.message.startswith(
        "the rollout of 1.0.0 in production was let in without an approval from devops-team that"
    )
    refusal = pipeline.judged_by(STRICT).entry_refusal(PROD)
    assert refusal is not None
    assert refusal.message.startswith(
        "the rollout of 1.0.0 in production was let in without an approval from devops-team, security-team that"
    )
