"""``unproven-entry`` where identities are verified (issue 23's mutation run): a rollout's entry rests on its
starter's own promote token — not checked, not proving it, or proving someone else, nothing is moved for it; a
rollout whose starter's token is older than the one that let in the version it replaces is an earlier promotion
replayed; and ``entry_checks`` asks for exactly the tokens the entries rest on."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
from hypothesis import example, given
from hypothesis import strategies as st

from findly_infra.domain import DeploymentPipeline, PlatformPolicy, StrategyKind, Verdict
from findly_infra.domain.proofs import PROMOTE, ProofCheck, Proofs, Proven, Unproven, purpose_audience
from findly_infra.testing.proofs import honest_proofs
from tests.test_verified_approvals import ERIN, PLATFORM, T0, apply, person, requested

PROD = "production"
POLICY_AUDIENCE = PLATFORM.github_oidc.audience if PLATFORM.github_oidc else ""


def started(version: str, run: int, at: datetime, pipeline: DeploymentPipeline | None = None) -> DeploymentPipeline:
    """*version* released into production: asked for by erin, approved by alice and dave, started by erin (run
    *run*) at *at*."""
    if pipeline is None:
        pipeline = requested(version)
    else:  # the next version: through development and staging, then asked for
        for env in ("development", "staging"):
            pipeline = apply(pipeline, pipeline.deploy(version, env, actor="ci", at=at))
            pipeline = apply(
                pipeline, pipeline.analyze(env, Verdict.PASS, actor="findly", at=at + timedelta(minutes=5))
            )
            for suite in PLATFORM.environment(env).tests:
                pipeline = apply(pipeline, pipeline.record_test(version, env, suite, True, actor="ci", at=at))
        erin = person("erin", ERIN, run=run - 1)
        pipeline = apply(
            pipeline, attrs.evolve(pipeline.deploy(version, PROD, actor="erin", at=at, identity=erin), refusal=None)
        )
    for login, user_id, approval_run in (("alice", "1001", run + 100), ("dave", "4004", run + 200)):
        approver = person(login, user_id, run=approval_run)
        pipeline = apply(pipeline, pipeline.approve(version, PROD, actor=login, at=at, identity=approver))
    starter = person("erin", ERIN, run=run)
    rolling = StrategyKind.ROLLING
    return apply(pipeline, pipeline.deploy(version, PROD, actor="erin", at=at, identity=starter, strategy=rolling))


def proofs(pipeline: DeploymentPipeline, issued: dict[str, datetime], *, now: datetime) -> Proofs:
    """What an honest verifier finds, each starter's token issued when *issued* says (by run id), others at *now*."""
    honest = honest_proofs(pipeline, now=now)
    found = {}
    for key, result in honest.checked.items():
        known = isinstance(result, Proven) and result.identity.run_id in issued
        found[key] = Proven(result.identity, issued[result.identity.run_id]) if known else result  # type: ignore[union-attr]
    return Proofs(now, found)


ONE = started("1.0.0", 901, T0)
STARTER = ONE.environments[PROD].rollout.entry.identity  # type: ignore[union-attr]
assert STARTER is not None


def refusal_message(pipeline: DeploymentPipeline, found: Proofs | None, *running: str) -> str | None:
    refusal = pipeline.judged_by(pipeline.policy, found).entry_refusal(PROD, running=running)
    if refusal is None:
        return None
    assert refusal.rule == "unproven-entry"
    return refusal.message


AUDIENCE = purpose_audience(POLICY_AUDIENCE, PROMOTE, "fn-posts", "1.0.0", PROD)


def test_a_started_rollout_rests_on_its_starters_own_token() -> None:
    now = T0 + timedelta(minutes=1)
    assert refusal_message(ONE, honest_proofs(ONE, now=now)) is None
    what = "the rollout of 1.0.0 in production was started by erin, and "
    end = ": its entry cannot be proven, so no cluster is moved for it (roll it back: findly-infra rollback)"
    assert refusal_message(ONE, None) == f"{what}its starter's proof was not checked{end}"
    honest = honest_proofs(ONE, now=now)
    key = (STARTER.token, STARTER.issuer, AUDIENCE)
    assert key in honest.checked
    unproven = Proofs(now, {**honest.checked, key: Unproven("expired")})
    assert refusal_message(ONE, unproven) == f"{what}its starter's token does not prove it: expired{end}"
    mallory = attrs.evolve(STARTER, login="mallory")
    other = Proofs(now, {**honest.checked, key: Proven(mallory, now)})
    assert refusal_message(ONE, other) == f"{what}its starter's token proves mallory, not erin{end}"
    same = Proofs(now, {**honest.checked, key: Proven(attrs.evolve(STARTER, login="ERIN"), now)})
    assert refusal_message(ONE, same) is None  # logins compare as GitHub compares them


def test_entry_checks_ask_for_each_token_an_entry_rests_on_once() -> None:
    checks = ONE.entry_checks(PROD)
    audiences = {check.audience for check in checks}
    assert AUDIENCE in audiences
    assert all(isinstance(check, ProofCheck) for check in checks)
    assert len(checks) == len(set(checks))
    tokens = {check.token for check in checks}
    entry = ONE.environments[PROD].rollout.entry  # type: ignore[union-attr]
    assert entry is not None
    expected = {a.identity.token for a in entry.approvals if a.identity is not None} | {STARTER.token}
    if entry.request is not None and entry.request.identity is not None:
        expected.add(entry.request.identity.token)
    assert tokens == expected
    assert ONE.entry_checks("nowhere") == ()
    assert ONE.entry_checks("development") == ()  # names are enough there: nothing to check


@given(st.integers(-3, 3))
@example(-1)
@example(0)
@example(1)
def test_a_rollout_whose_starter_token_is_older_than_the_one_it_replaces_is_a_replay(hours: int) -> None:
    """1.0.0 succeeded, then 1.1.0 was let in and started at +2h: its starter's token must not be older than the one
    that let in 1.0.0, which it replaces — an earlier promotion's tokens, replayed, move nothing."""
    pipeline = apply(ONE, ONE.analyze(PROD, Verdict.PASS, actor="findly", at=T0 + timedelta(minutes=30)))
    later = T0 + timedelta(hours=2)
    pipeline = started("1.1.0", 951, later, pipeline)
    rollout = pipeline.environments[PROD].rollout
    assert rollout is not None
    assert (rollout.previous, rollout.replaced) == ("1.0.0", STARTER)
    first_issued = T0 + timedelta(hours=1)
    found = proofs(pipeline, {"901": first_issued, "951": first_issued + timedelta(hours=hours)}, now=later)
    message = refusal_message(pipeline, found)
    if hours >= 0:
        assert message is None
        return
    second = first_issued + timedelta(hours=hours)
    assert message == (
        f"the rollout of 1.1.0 in production rests on tokens issued at {second.isoformat()}, before those that let in "
        f"1.0.0 ({first_issued.isoformat()}) which it replaces: an earlier promotion's proofs, replayed, so no cluster "
        "is moved for it (roll it back: findly-infra rollback)"
    )
    forgotten = attrs.evolve(rollout, replaced=None)  # who let in 1.0.0 unknown: nothing to order by
    state = attrs.evolve(pipeline.environments[PROD], rollout=forgotten)
    unordered = attrs.evolve(pipeline, environments={**pipeline.environments, PROD: state})
    assert refusal_message(unordered, found) is None
    key = next(k for k, v in found.checked.items() if isinstance(v, Proven) and v.identity.run_id == "901")
    gone = Proofs(later, {**found.checked, key: Unproven("a retired key", key_gone=True)})
    assert refusal_message(pipeline, gone, "1.0.0") is None  # a token that can no longer be checked orders nothing
    assert refusal_message(pipeline, gone) == (  # though what it let in, served beside 1.1.0, is not proven now
        "1.0.0 would serve production, but the rollout that let it in was started by erin, and its starter's token "
        "does not prove it: a retired key: its entry cannot be proven, so no cluster is moved for it (its history "
        "must be repaired by the state's owner)"
    )


def test_every_check_is_against_the_policys_issuer_and_keys() -> None:
    oidc = PLATFORM.github_oidc
    assert oidc is not None
    checks = ONE.entry_checks(PROD) + requested("2.0.0").proof_checks(PROD)
    assert checks
    assert {(check.issuer, check.keys_url) for check in checks} == {(oidc.issuer, oidc.keys_url)}


def test_an_environment_is_judged_while_the_policy_in_force_or_the_file_names_it() -> None:
    """Renamed in the file, production is still judged (its tokens checked) while the policy in force holds it; retired
    from both, it is shown and never judged."""
    pending = requested("2.0.0")
    renamed = attrs.evolve(
        PLATFORM,
        environments=tuple(attrs.evolve(e, name="prod") if e.name == PROD else e for e in PLATFORM.environments),
    )
    held = PlatformPolicy.of(PLATFORM)
    for pipeline in (ONE, pending):
        moved = attrs.evolve(pipeline, platform=renamed)
        assert PROD in moved.retired
        checks = pipeline.entry_checks(PROD) + pipeline.proof_checks(PROD)
        assert checks
        judged = moved.judged_by(held)
        assert judged.entry_checks(PROD) + judged.proof_checks(PROD) == checks
        assert (moved.entry_checks(PROD), moved.proof_checks(PROD)) == ((), ())
        gone = moved.judged_by(PlatformPolicy.of(renamed))
        assert (gone.entry_checks(PROD), gone.proof_checks(PROD)) == ((), ())
    assert ONE.proof_checks("nowhere") == ()


def test_an_approval_by_name_or_by_another_account_is_refused_saying_why() -> None:
    refusal = PENDING_TWO.approve("2.0.0", PROD, actor="alice", at=T0).refusal
    assert refusal is not None
    assert (refusal.rule, refusal.message) == (
        "verified-identity",
        "production takes approvals only from a verified GitHub identity (a GitHub Actions run's OIDC token): alice "
        "is a name, not a proof",
    )
    impostor = person("alice", "9999", run=77)
    refusal = PENDING_TWO.approve("2.0.0", PROD, actor="alice", at=T0, identity=impostor).refusal
    assert refusal is not None
    assert (refusal.rule, refusal.message) == (
        "approver-membership",
        "alice belongs to none of devops-team, security-team, who approve production: the file gives alice in "
        "devops-team the id 1001, and this is account 9999 (a login renamed and taken by another account?)",
    )
    stranger = person("mallory", "6666", run=78)
    refusal = PENDING_TWO.approve("2.0.0", PROD, actor="mallory", at=T0, identity=stranger).refusal
    assert refusal is not None
    assert refusal.message == "mallory belongs to none of devops-team, security-team, who approve production"


PENDING_TWO = requested("2.0.0")


def test_an_entry_is_judged_at_its_start_and_a_starter_named_by_no_one_is_said() -> None:
    """A rollout's approvals are judged as of its starter's token — a day later they have not expired for it; a
    rollout recorded with no starter's name says "no one"."""
    a_day_later = T0 + timedelta(hours=30)
    assert refusal_message(ONE, honest_proofs(ONE, now=a_day_later, issued=T0)) is None
    rollout = ONE.environments[PROD].rollout
    assert rollout is not None
    nameless = attrs.evolve(ONE.environments[PROD], rollout=attrs.evolve(rollout, started_by=""))
    pipeline = attrs.evolve(ONE, environments={**ONE.environments, PROD: nameless})
    message = refusal_message(pipeline, None)
    assert message is not None
    assert message.startswith("the rollout of 1.0.0 in production was started by no one, and ")


def test_entry_checks_reach_the_let_in_rollout_when_the_latest_kept_no_entry() -> None:
    done = apply(ONE, ONE.analyze(PROD, Verdict.PASS, actor="findly", at=T0 + timedelta(minutes=30)))
    state = done.environments[PROD]
    assert state.let_in is not None
    assert state.rollout is not None
    checks = done.entry_checks(PROD)
    bare = attrs.evolve(state, rollout=attrs.evolve(state.rollout, entry=None))
    pipeline = attrs.evolve(done, environments={**done.environments, PROD: bare})
    assert pipeline.entry_checks(PROD) == checks


def test_a_run_approves_once() -> None:
    """A second approval from the same run, of anything, is refused by name (rule ``approval-replay``)."""
    pipeline = apply(
        PENDING_TWO, PENDING_TWO.approve("2.0.0", PROD, actor="alice", at=T0, identity=person("alice", "1001", run=77))
    )
    refusal = pipeline.approve("2.0.0", PROD, actor="dave", at=T0, identity=person("dave", "4004", run=77)).refusal
    assert refusal is not None
    assert (refusal.rule, refusal.message) == (
        "approval-replay",
        "run 77 of findly-now/services already approved in fn-posts: a run approves once; approve from a new run",
    )
