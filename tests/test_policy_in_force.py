"""A policy no branch can swap (issue 22): approvals are judged again when they are counted, under the policy in force
for their environment; the policy in force is bound to the state, and a platform file's policy takes its place only as
``domain.policy.adopt`` says — the first, or a strengthening, at once; a weakening only from a run the policy in force
accepts (rule ``policy-in-force``, nothing recorded, otherwise).

The attack these stop: a workflow on any branch with the shared state's URL points the tool at a copy of the platform
file without ``identity:`` (or naming another issuer, or with an extra group member), records name-only approvals, and
the real, verified promotion counts them."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from findly_infra import load_platform
from findly_infra.adapters.memory import MemoryEventStore, ScriptedMetrics, SimulatedCluster, VirtualClock
from findly_infra.application.codec import event_from_dict, event_to_dict, stream_problem
from findly_infra.application.policies import policy_digest
from findly_infra.application.ports import BadInputError, ConcurrencyError, StateError
from findly_infra.application.scenarios import HEALTHY
from findly_infra.application.service import PipelineService, PolicyRefusedError, UnprovenEntryError
from findly_infra.application.transfer import FORMAT, export_lines, import_lines, read_export
from findly_infra.domain import (
    POLICY_IN_FORCE,
    POLICY_STREAM,
    Approval,
    ApprovalGranted,
    ApproverGroup,
    ClusterBinding,
    DeploymentPipeline,
    EnvironmentPolicy,
    EnvironmentState,
    IdentityPolicy,
    OidcSettings,
    PendingRequest,
    Phase,
    PlatformPolicy,
    PromotionRequested,
    RolledBack,
    RolloutStarted,
    RolloutSucceeded,
    StrategyKind,
    Verdict,
    VerifiedIdentity,
    adopt,
    count_approvals,
    require_service_name,
    same_actor,
)
from findly_infra.domain.approvals import proof_checks
from findly_infra.domain.errors import InvariantError
from findly_infra.domain.platform import UnknownNameError
from findly_infra.domain.proofs import ADOPT, APPROVE, PROMOTE, ProofCheck, purpose_audience
from findly_infra.domain.tracks import Holding
from findly_infra.testing.proofs import StandInProofs, honest_checks, signed, vouched

from .conftest import EXAMPLE

T0 = datetime(2026, 11, 26, 9)
ISSUER = "https://token.actions.githubusercontent.com"
EXAMPLE_PLATFORM = load_platform(EXAMPLE)
VERIFIED = IdentityPolicy(
    verified=True,
    repositories=("findly-now/services",),
    workflows=(".github/workflows/release.yml",),
    refs=("refs/heads/main",),
)
GROUPS = (
    ApproverGroup("devops-team", ("alice", "bob"), (("alice", "1001"), ("bob", "1002"))),
    ApproverGroup("security-team", ("carol", "dave"), (("carol", "3003"), ("dave", "4004"))),
)


def platform_with(identity: IdentityPolicy = VERIFIED, groups: Sequence[ApproverGroup] = GROUPS, **oidc: str) -> Any:
    """The example platform with production's identity policy and the approver groups given."""
    return attrs.evolve(
        EXAMPLE_PLATFORM,
        environments=tuple(
            attrs.evolve(env, identity=identity) if env.name == "production" else env
            for env in EXAMPLE_PLATFORM.environments
        ),
        approver_groups=tuple(groups),
        github_oidc=OidcSettings(**oidc),
    )


STRONG = platform_with()
WEAK = platform_with(IdentityPolicy())  # the attacker's copy: no identity section


def person(
    login: str, user_id: str, run: int = 1, *, ref: str = "refs/heads/main", issuer: str = ISSUER, **claims: str
) -> VerifiedIdentity:
    repository = claims.pop("repository", "findly-now/services")
    workflow = claims.pop("workflow", ".github/workflows/release.yml")
    return signed(  # a token of its own: an honest verifier finds it proves this identity (testing.proofs)
        VerifiedIdentity(
            login=login,
            user_id=user_id,
            repository=repository,
            ref=ref,
            workflow_ref=f"{repository}/{workflow}@{ref}",
            run_id=str(run),
            environment=claims.pop("environment", ""),
            issuer=issuer,
            token_id=f"token-{login}-{run}",
            run_attempt=claims.pop("attempt", "1"),
        )
    )


def counted(policy: EnvironmentPolicy, state: EnvironmentState, **given: Any) -> Any:
    """``count_approvals`` of 1.0.0 at T0, with what an honest verifier finds of the recorded tokens."""
    identities = [state.requested.identity if state.requested else None, *(a.identity for a in state.approvals)]
    checks = proof_checks(policy, "fn-posts", "production", state.requested, state.approvals)
    proofs = honest_checks(checks, identities, now=T0)
    return count_approvals(policy, state, "1.0.0", T0, proofs=proofs, service="fn-posts", **given)


def staged(platform: Any, version: str = "1.0.0") -> DeploymentPipeline:
    """*version* through development and staging under *platform* (names are enough there)."""
    pipeline = DeploymentPipeline.start(platform, "fn-posts")
    for env in ("development", "staging"):
        pipeline = pipeline.apply_all(pipeline.deploy(version, env, actor="ci", at=T0).events)
        passed = pipeline.analyze(env, Verdict.PASS, actor="findly", at=T0 + timedelta(minutes=5))
        pipeline = pipeline.apply_all(passed.events)
        for suite in platform.environment(env).tests:
            pipeline = pipeline.apply_all(pipeline.record_test(version, env, suite, True, actor="ci", at=T0).events)
    return pipeline


# ---- 1. approvals judged when they are counted ------------------------------------------------------------------


def test_name_only_approvals_recorded_under_a_weaker_file_do_not_count_for_the_verified_promotion() -> None:
    """The attack, in the domain: a copy of the file without ``identity:`` records a request and two name-only
    approvals; under the real policy the verified promotion does not count them, and says why."""
    weak = staged(WEAK)
    weak = weak.apply_all(weak.deploy("1.0.0", "production", actor="mallory", at=T0).events)  # refused, recorded
    for name in ("alice", "carol"):
        decision = weak.approve("1.0.0", "production", actor=name, at=T0)
        assert decision.accepted, decision.refusal  # the weak file takes names
        weak = weak.apply_all(decision.events)
    assert weak.deploy("1.0.0", "production", actor="mallory", at=T0).accepted  # under the weak file: counted
    # the same events, judged under the policy in force (the real file's)
    real = vouched(
        staged(STRONG).apply_all(
            [e for e in _events_of(weak) if e.environment == "production"]  # the request and the approvals
        ),
        now=T0,
    )
    promoted = real.deploy("1.0.0", "production", actor="bob", at=T0, identity=person("bob", "1002", 7))
    assert promoted.refusal is not None
    assert promoted.refusal.rule == "approvals"
    message = promoted.refusal.message
    assert "needs an approval from each of devops-team and security-team" in message
    assert "alice's approval for devops-team" in message
    assert "carol's approval for security-team" in message
    assert message.count("a name, not a verified identity") == 2
    # mallory's request, by name, proves no one: bob's promotion asks again, with his proof
    assert [e.type for e in promoted.events] == ["promotion_requested"]
    real = vouched(real.apply_all(promoted.events), now=T0)
    # verified alice and carol may approve now (their name-only approvals are not "already" theirs)
    for login, user_id, run in (("alice", "1001", 8), ("carol", "3003", 9)):
        decision = real.approve("1.0.0", "production", actor=login, at=T0, identity=person(login, user_id, run))
        assert decision.accepted, decision.refusal
        assert decision.events
        real = vouched(real.apply_all(decision.events), now=T0)
    done = real.deploy("1.0.0", "production", actor="dave", at=T0, identity=person("dave", "4004", 10))
    assert done.accepted, done.refusal


def _events_of(pipeline: DeploymentPipeline) -> list[Any]:
    """The events a pipeline folded, rebuilt from its state (the test keeps no log): the request and approvals of
    production."""
    state = pipeline.environments["production"]
    assert state.requested is not None
    base = {"service": "fn-posts", "environment": "production", "version": state.requested.version, "at": T0}
    return [
        PromotionRequested(**base, actor=state.requested.requested_by),
        *(ApprovalGranted(**base, actor=a.approver, group=a.group, identity=a.identity) for a in state.approvals),
    ]


@pytest.mark.parametrize(
    ("identity", "reason"),
    [
        (None, "a name, not a verified identity"),
        (person("alice", "1001", ref="refs/heads/feature"), "ran on refs/heads/feature"),
        (person("alice", "1001", repository="mallory/services"), "the run is in mallory/services"),
        (person("alice", "1001", issuer="https://mallory.example"), "does not verify with"),
        (person("alice", "6666"), "has alice as account 1001, and this was account 6666"),
    ],
)
def test_each_kind_of_evidence_the_policy_in_force_refuses_is_named(
    identity: VerifiedIdentity | None, reason: str
) -> None:
    state = _pending(Approval("1.0.0", "devops-team", "alice", T0, identity and identity.user_id, identity))
    count = counted(EnvironmentPolicy.of(STRONG, "production"), state)
    assert count.counted == ()
    assert len(count.discounted) == 1
    assert reason in count.discounted[0].reason, count.discounted[0].reason


def test_a_member_dropped_from_the_group_no_longer_counts_nor_the_one_promoting_now() -> None:
    alice = person("alice", "1001")
    state = _pending(Approval("1.0.0", "devops-team", "alice", T0, "1001", alice))
    policy = EnvironmentPolicy.of(STRONG, "production")
    assert [a.approver for a in counted(policy, state).counted] == ["alice"]
    fewer = EnvironmentPolicy.of(
        platform_with(groups=(ApproverGroup("devops-team", ("bob",)), GROUPS[1])), "production"
    )
    assert "alice is not a member of devops-team" in str(counted(fewer, state).discounted[0])
    promoting = counted(policy, state, promoter=("alicia", "1001"))  # renamed, same account
    assert "is promoting it" in promoting.discounted[0].reason


def _pending(*approvals: Approval, requested_by: str = "erin", requested_id: str | None = "5005") -> EnvironmentState:
    """1.0.0 asked for by *requested_by* — proven (a token of their run) when *requested_id* is given, a name
    otherwise — and *approvals*."""
    identity = person(requested_by, requested_id, 900) if requested_id is not None else None
    request = PendingRequest("1.0.0", requested_by, T0, requested_id, identity)
    return EnvironmentState(requested=request, approvals=approvals)


# the property: whatever the policy and whatever was recorded, exactly the approvals that satisfy it count

LOGINS = ("alice", "Alice", "bob", "carol", "dave", "erin", "mallory")
IDS = ("1001", "1002", "3003", "4004", "5005", "6666")
GROUP_NAMES = ("devops-team", "security-team", "release-team")


@st.composite
def groups(draw: st.DrawFn) -> tuple[ApproverGroup, ...]:
    found = []
    for name in draw(st.lists(st.sampled_from(GROUP_NAMES), min_size=1, max_size=3, unique=True)):
        members = draw(st.lists(st.sampled_from(["alice", "bob", "carol", "dave"]), max_size=4, unique=True))
        ids = tuple(
            (member, user_id)
            for member, user_id in zip(members, draw(st.permutations(IDS[:4])), strict=False)
            if draw(st.booleans())
        )
        found.append(ApproverGroup(name, tuple(members), ids))
    return tuple(found)


@st.composite
def identity_policies(draw: st.DrawFn) -> IdentityPolicy:
    if not draw(st.booleans()):
        return IdentityPolicy()
    return IdentityPolicy(
        verified=True,
        repositories=tuple(draw(st.lists(st.sampled_from(["findly-now/services", "mallory/services"]), unique=True))),
        refs=tuple(draw(st.lists(st.sampled_from(["refs/heads/main", "refs/heads/feature"]), unique=True))),
        github_environments=tuple(draw(st.lists(st.sampled_from(["production", "staging"]), unique=True))),
    )


@st.composite
def environment_policies(draw: st.DrawFn) -> EnvironmentPolicy:
    identity = draw(identity_policies())
    drawn = draw(groups())
    required = draw(st.booleans())
    return EnvironmentPolicy(
        environment="production",
        approval_required=required,
        groups=drawn if required else (),
        approval_expires_after=draw(st.sampled_from([3_600_000, 86_400_000])),
        identity=identity,
        issuer=draw(st.sampled_from([ISSUER, "https://mallory.example"])) if identity.verified else "",
        audience="findly-infra" if identity.verified else "",
        keys_url=f"{ISSUER}/.well-known/jwks" if identity.verified else "",
        entered_from="staging",
        required_tests=tuple(draw(st.lists(st.sampled_from(["e2e", "load", "security"]), unique=True))),
    )


ID_OF = {"alice": "1001", "bob": "1002", "carol": "3003", "dave": "4004", "erin": "5005", "mallory": "6666"}


@st.composite
def recorded_identities(draw: st.DrawFn, login: str, consistent: bool = False) -> VerifiedIdentity | None:
    if draw(st.integers(0, 3)) == 0:
        return None
    return person(
        login,
        ID_OF[login.casefold()] if consistent else draw(st.sampled_from(IDS)),
        draw(st.integers(1, 5)),
        ref=draw(st.sampled_from(["refs/heads/main", "refs/heads/feature"])),
        issuer=draw(st.sampled_from([ISSUER, ISSUER, "https://mallory.example"])),
        repository=draw(st.sampled_from(["findly-now/services", "mallory/services"])),
        environment=draw(st.sampled_from(["", "production"])),
    )


@st.composite
def approvals(draw: st.DrawFn, consistent: bool = False) -> Approval:
    """Approvals as any file may have recorded them (*consistent*: each login always the same account)."""
    login = draw(st.sampled_from(LOGINS))
    identity = draw(recorded_identities(login, consistent))
    return Approval(
        version=draw(st.sampled_from(["1.0.0", "1.0.0", "0.9.0"])),
        group=draw(st.sampled_from(GROUP_NAMES)),
        approver=login,
        at=T0 - timedelta(hours=draw(st.sampled_from([0, 1, 2, 30]))),
        approver_id=identity.user_id if identity else None,
        identity=identity,
    )


def _satisfies(policy: EnvironmentPolicy, state: EnvironmentState, approval: Approval, promoter: Any) -> bool:
    """The rule, written out once more as the issue states it, for one approval."""
    requested = state.requested
    assert requested is not None
    group = policy.group(approval.group)
    identity = approval.identity
    asked = requested.identity
    return (
        (  # where identities are verified, the request proves its requester too
            not policy.identity.verified
            or (asked is not None and asked.issuer == policy.issuer and policy.identity.refusal(asked) is None)
        )
        and approval.version == requested.version
        and T0 - approval.at < timedelta(milliseconds=policy.approval_expires_after)
        and group is not None
        and group.includes(approval.approver, approval.approver_id)
        and (
            not policy.identity.verified
            or (identity is not None and identity.issuer == policy.issuer and policy.identity.refusal(identity) is None)
        )
        and not same_actor(requested.requested_by, requested.requested_by_id, approval.approver, approval.approver_id)
        and not (promoter and same_actor(promoter[0], promoter[1], approval.approver, approval.approver_id))
    )


def _person(policy: EnvironmentPolicy, approval: Approval) -> str:
    if policy.identity.verified and approval.identity is not None:
        return approval.identity.user_id
    return approval.approver.casefold()


def _most(policy: EnvironmentPolicy, valid: list[Approval]) -> int:
    """The most groups that valid approvals can cover, one approval per group and each person once (every choice
    tried)."""
    choices = [[None, *(a for a in valid if a.group == group)] for group in policy.approvers]
    best = 0
    for choice in itertools.product(*choices):
        chosen = [a for a in choice if a is not None]
        if len({_person(policy, a) for a in chosen}) == len(chosen):
            best = max(best, len(chosen))
    return best


@given(
    environment_policies(),
    st.lists(approvals(), max_size=6),
    st.sampled_from([("erin", "5005"), ("alice", None), ("bob", "1002")]),
    st.sampled_from([None, ("bob", "1002"), ("carol", None)]),
)
def test_the_count_is_exactly_the_approvals_that_satisfy_the_policy_in_force(
    policy: EnvironmentPolicy, recorded: list[Approval], requester: tuple[str, str | None], promoter: Any
) -> None:
    state = _pending(*recorded, requested_by=requester[0], requested_id=requester[1])
    count = counted(policy, state, promoter=promoter)
    if not policy.approval_required:
        assert count.missing == count.counted == ()
        return
    valid = [a for a in recorded if _satisfies(policy, state, a, promoter)]
    assert list(count.valid) == valid
    assert len(count.counted) == _most(policy, valid)
    assert all(a in valid for a in count.counted)
    assert len({a.group for a in count.counted}) == len(count.counted)  # one per group
    assert len({_person(policy, a) for a in count.counted}) == len(count.counted)  # each person once
    assert count.missing == tuple(g for g in policy.approvers if g not in {a.group for a in count.counted})
    named = [d.approval for d in count.discounted]
    for approval in recorded:  # every approval of the version that does not satisfy it is named, with why
        if approval.version == "1.0.0" and approval not in valid:
            assert approval in named


# ---- 2. the policy in force: what weakens it --------------------------------------------------------------------

PRODUCTION = EnvironmentPolicy.of(STRONG, "production")


def _with(**changes: Any) -> EnvironmentPolicy:
    return attrs.evolve(PRODUCTION, **changes)


DEVOPS, SECURITY = PRODUCTION.groups


@pytest.mark.parametrize(
    ("proposed", "said"),
    [
        (_with(identity=IdentityPolicy(), issuer="", audience="", keys_url=""), "identities are no longer verified"),
        (_with(groups=(DEVOPS,)), "security-team no longer approves"),
        (_with(approval_required=False, groups=()), "approvals are no longer required"),
        (
            _with(groups=(DEVOPS, ApproverGroup("security-team", ("carol", "dave", "mallory"), SECURITY.ids))),
            "mallory joins security-team",
        ),
        (
            _with(groups=(DEVOPS, ApproverGroup("security-team", ("carol", "dave"), (("carol", "3003"),)))),
            "no longer bound to account id 4004",
        ),
        (
            _with(
                groups=(
                    DEVOPS,
                    ApproverGroup("security-team", ("carol", "dave"), (("carol", "3003"), ("dave", "6666"))),
                )
            ),
            "is account 6666, not 4004",
        ),
        (_with(identity=attrs.evolve(VERIFIED, refs=())), "refs are no longer restricted"),
        (
            _with(identity=attrs.evolve(VERIFIED, refs=("refs/heads/main", "refs/heads/feature"))),
            "refs also accept refs/heads/feature",
        ),
        (
            _with(identity=attrs.evolve(VERIFIED, repositories=("mallory/services",))),
            "repositories also accept mallory/services",
        ),
        (_with(approval_expires_after=7 * 86_400_000), "an approval lasts 7 days, not 1 day"),
        (_with(issuer="https://mallory.example"), "the issuer of the tokens is https://mallory.example"),
        (_with(audience="mallory"), "the audience of the tokens is mallory"),
        (_with(keys_url="https://mallory.example/jwks"), "the keys url of the tokens"),
        (_with(required_tests=("e2e",)), "no longer needs load, performance, security passed"),
        (
            _with(entered_from="development", required_tests=("integration", "smoke", "unit")),
            "enters from development, not staging",
        ),
    ],
)
def test_each_weakening_is_named(proposed: EnvironmentPolicy, said: str) -> None:
    weakenings = PRODUCTION.weakenings(proposed)
    assert any(said in sentence for sentence in weakenings), weakenings


@pytest.mark.parametrize(
    "proposed",
    [
        _with(groups=(DEVOPS, SECURITY, ApproverGroup("release-team", ("erin",)))),
        _with(groups=(ApproverGroup("devops-team", ("alice",), (("alice", "1001"),)), SECURITY)),
        _with(identity=attrs.evolve(VERIFIED, github_environments=("production",))),
        _with(approval_expires_after=3_600_000),
        _with(required_tests=("e2e", "load", "performance", "security", "soak")),
    ],
)
def test_a_strengthening_or_the_same_policy_weakens_nothing(proposed: EnvironmentPolicy) -> None:
    assert PRODUCTION.weakenings(proposed) == ()
    assert PRODUCTION.changes(proposed)
    assert PRODUCTION.changes(PRODUCTION) == ()
    reordered = ApproverGroup("devops-team", ("bob", "Alice"), (("bob", "1002"), ("Alice", "1001")))
    assert PRODUCTION.changes(EnvironmentPolicy.of(platform_with(groups=(reordered, SECURITY)), "production")) == ()


def test_every_identity_restriction_is_compared_without_code_of_its_own() -> None:
    """The assumption ``domain.policy`` makes of ``IdentityPolicy``: besides ``verified``, every field is a
    restriction list, where an empty tuple accepts any value and a non-empty one only its own values. A field added
    to ``IdentityPolicy`` that is not one fails here — teach ``domain.policy._restriction_differences`` what it
    means (until then, any change to it counts as a weakening)."""
    candidates = (
        "findly-now/services",
        "findly-now/services/.github/workflows/release.yml",
        ".github/workflows/release.yml",
        "refs/heads/main",
        "production",
        "123456",
        "findly-now/services/.github/workflows/release.yml@refs/heads/main",
    )
    base = IdentityPolicy(verified=True, repositories=("findly-now/services",))
    for field in attrs.fields(IdentityPolicy):
        if field.name == "verified":
            assert field.default is False
            continue
        assert field.default == (), f"IdentityPolicy.{field.name} is not a restriction list (empty: any value)"
        accepted = []
        for value in candidates:
            try:
                accepted.append(attrs.evolve(base, **{field.name: (value,)}))
            except InvariantError:
                continue
        assert accepted, f"no value tried is a valid IdentityPolicy.{field.name}: add one this test can use"
        one = accepted[0]
        widened = (*getattr(one, field.name), "another-value-0") if field.name != "repositories" else ("a/b", "c/d")
        try:
            wider = attrs.evolve(one, **{field.name: widened})
        except InvariantError:
            wider = None
        old, new = (attrs.evolve(PRODUCTION, identity=p) for p in (base, one))
        if field.name != "repositories":
            assert old.weakenings(new) == (), f"restricting {field.name} weakens nothing"
            assert new.weakenings(old), f"lifting the restriction on {field.name} is a weakening"
        if wider is not None:
            assert new.weakenings(attrs.evolve(PRODUCTION, identity=wider)), f"widening {field.name} is a weakening"


# ---- 2. adopting a file's policy ----------------------------------------------------------------------------------

STRONG_POLICY = PlatformPolicy.of(STRONG)
WEAK_POLICY = PlatformPolicy.of(WEAK)


def adoption_proofs(in_force: PlatformPolicy | None, digest: str, identity: VerifiedIdentity | None) -> Any:
    """What an honest verifier finds of *identity*'s token, asked for adopting the policy *digest* names, against
    each issuer the policy in force verifies identities with (``policy adopt``)."""
    if in_force is None or identity is None:
        return None
    checks = [
        ProofCheck(identity.token, p.issuer, purpose_audience(p.audience, ADOPT, digest), p.keys_url)
        for p in in_force.environments
        if p.identity.verified
    ]
    return honest_checks(checks, [identity], now=T0)


def _adopt(
    in_force: PlatformPolicy | None,
    proposed: PlatformPolicy,
    actor: str,
    identity: VerifiedIdentity | None,
    **given: Any,
) -> Any:
    digest = policy_digest(proposed)
    proofs = adoption_proofs(in_force, digest, identity)
    return adopt(in_force, proposed, actor=actor, identity=identity, at=T0, digest=digest, proofs=proofs, **given)


def test_the_first_policy_and_a_strengthening_are_adopted_the_same_one_records_nothing() -> None:
    first = _adopt(None, WEAK_POLICY, "erin", None)
    assert first.event is not None
    assert first.event.policy == WEAK_POLICY
    assert first.event.reason == "the first policy"
    assert _adopt(WEAK_POLICY, WEAK_POLICY, "erin", None).event is None
    stronger = _adopt(WEAK_POLICY, STRONG_POLICY, "erin", None)  # a name may strengthen
    assert stronger.event is not None
    assert stronger.refusal is None
    assert "production: identities are now verified" in stronger.event.changes
    assert stronger.event.weakenings == ()


@pytest.mark.parametrize(
    ("actor", "identity", "why"),
    [
        ("alice", None, "alice is a name, not a proof"),
        ("mallory", person("mallory", "6666", ref="refs/heads/feature"), "ran on refs/heads/feature"),
        ("mallory", person("mallory", "6666", issuer="https://mallory.example"), "does not verify with"),
    ],
)
def test_a_weakening_from_a_run_the_policy_in_force_does_not_accept_is_refused(
    actor: str, identity: VerifiedIdentity | None, why: str
) -> None:
    refused = _adopt(STRONG_POLICY, WEAK_POLICY, actor, identity)
    assert refused.event is None
    assert refused.refusal is not None
    assert refused.refusal.rule == POLICY_IN_FORCE
    message = refused.refusal.message
    assert "production: identities are no longer verified" in message
    assert why in message
    assert "refs refs/heads/main" in message  # what the policy in force would accept
    assert "findly-infra policy adopt" in message


def test_a_weakening_from_the_protected_workflow_on_the_protected_ref_takes_effect_recorded_with_its_proof() -> None:
    bob = person("bob", "1002", 2001)
    done = _adopt(STRONG_POLICY, WEAK_POLICY, "bob", bob)
    assert done.refusal is None
    assert done.event is not None
    assert done.event.identity == bob
    assert done.event.weakenings == ("production: identities are no longer verified: names are trusted",)


def test_where_the_policy_in_force_trusts_names_a_name_changes_it_and_is_recorded() -> None:
    fewer = attrs.evolve(WEAK, approver_groups=(ApproverGroup("devops-team", ("alice",)), GROUPS[1]))
    done = _adopt(WEAK_POLICY, PlatformPolicy.of(fewer), "erin", None)
    assert done.event is not None
    assert done.event.actor == "erin"
    assert any("bob leaves devops-team" in change for change in done.event.changes)


@st.composite
def _subset(draw: st.DrawFn, values: tuple[str, ...], *, keep_one: bool) -> tuple[str, ...]:
    kept = tuple(value for value in values if draw(st.booleans()))
    return kept or values[:1] if keep_one else kept


@st.composite
def strengthened(draw: st.DrawFn, held: EnvironmentPolicy) -> EnvironmentPolicy:
    """*held* made stricter in ways a file can: members leave a group, a group joins, approvals needed or
    shorter-lived, a suite more, identities verified or from fewer places (most draws weaken nothing, so that the
    property below is not starved by its filter)."""
    kept = tuple(
        ApproverGroup(
            group.name,
            members := draw(_subset(group.members, keep_one=False)),
            tuple(pair for pair in group.ids if pair[0] in members),
        )
        for group in held.groups
    )
    if draw(st.booleans()):
        extra = next((name for name in GROUP_NAMES if held.group(name) is None), None)
        if extra is not None:
            kept += (ApproverGroup(extra, ("erin",)),)
    identity = held.identity
    if identity.verified:
        identity = attrs.evolve(
            identity,
            repositories=draw(_subset(identity.repositories, keep_one=True)),
            refs=draw(_subset(identity.refs, keep_one=True)),
        )
    suites = tuple(sorted({*held.required_tests, *draw(st.lists(st.sampled_from(["e2e", "load", "security"])))}))
    return attrs.evolve(
        held,
        approval_required=held.approval_required or bool(kept),
        groups=kept if held.approval_required or kept else (),
        approval_expires_after=min(held.approval_expires_after, draw(st.sampled_from([3_600_000, 86_400_000]))),
        identity=identity,
        required_tests=suites,
    )


@given(st.data(), environment_policies(), st.lists(approvals(consistent=True), max_size=5))
def test_a_policy_that_weakens_nothing_never_lets_more_in(
    data: st.DataObject, held: EnvironmentPolicy, recorded: list[Approval]
) -> None:
    """What ``weakenings`` calls no weakening is one under which no promotion needs fewer approvals, whatever was
    recorded (each login one account: a names policy cannot tell two accounts of one login apart, a verified one
    can): the comparison agrees with the counting."""
    proposed = data.draw(st.one_of(strengthened(held), environment_policies()), label="proposed")
    assume(not held.weakenings(proposed))
    state = _pending(*recorded)
    before = counted(held, state)
    after = counted(proposed, state)
    assert len(after.missing) >= len(before.missing)
    assert {a for a in after.valid if held.group(a.group)} <= set(before.valid)


@given(environment_policies(), environment_policies(), st.sampled_from([None, person("bob", "1002", 5)]))
def test_adopt_refuses_exactly_an_unproven_weakening_and_records_the_file_policy_otherwise(
    held: EnvironmentPolicy, proposed: EnvironmentPolicy, identity: VerifiedIdentity | None
) -> None:
    in_force, file = PlatformPolicy((held,)), PlatformPolicy((proposed,))
    actor = identity.login if identity else "erin"
    adoption = _adopt(in_force, file, actor, identity)
    weakenings = held.weakenings(proposed)
    guarded = [change for change in held.changes(proposed) if change.guarded]
    assert {f"production: {w}" for w in weakenings} <= {str(change) for change in guarded}
    if guarded and held.refusal_of(actor, identity) is not None:
        assert adoption.event is None
        assert adoption.refusal is not None
        assert all(str(change) in adoption.refusal.message for change in guarded)
    elif held.changes(proposed):
        assert adoption.refusal is None
        assert adoption.event is not None
        assert adoption.event.policy == file
        assert adoption.event.weakenings == tuple(f"production: {w}" for w in weakenings)
    else:
        assert adoption == type(adoption)()


def test_narrowing_whom_a_verified_policy_accepts_is_guarded_as_a_weakening_is() -> None:
    """A branch that restricts production to its own GitHub environment (a strengthening, by the letter) would lock
    out the protected workflow, the one run that may change the policy: it is adopted only from a run the policy in
    force accepts."""
    narrowed = platform_with(attrs.evolve(VERIFIED, github_environments=("mallory-env",)))
    proposed = PlatformPolicy.of(narrowed)
    assert PRODUCTION.weakenings(EnvironmentPolicy.of(narrowed, "production")) == ()
    branch = person("mallory", "6666", ref="refs/heads/mallory-patch")
    for actor, identity in (("mallory", None), ("mallory", branch)):
        refused = _adopt(STRONG_POLICY, proposed, actor, identity)
        assert refused.refusal is not None
        assert "production: github environments are restricted to mallory-env" in refused.refusal.message
    done = _adopt(STRONG_POLICY, proposed, "bob", person("bob", "1002", 2001))
    assert done.event is not None
    assert done.event.reason == "changed, by someone the policy in force accepts"
    assert done.event.weakenings == ()
    # where the policy in force trusts names, anyone may turn verification on (nothing could be proven before)
    assert _adopt(WEAK_POLICY, STRONG_POLICY, "erin", None).event is not None


# ---- the policy stream in the state ---------------------------------------------------------------------------------


def _service(
    platform: Any, store: Any, clock: VirtualClock | None = None, proofs: StandInProofs | None = None
) -> PipelineService:
    clock = clock or VirtualClock(T0)
    metrics = ScriptedMetrics(lambda _: HEALTHY)
    return PipelineService(platform, store, clock, metrics, SimulatedCluster(), proofs=proofs or StandInProofs())


def _through_staging(service: PipelineService, version: str = "1.0.0") -> None:
    for env in ("development", "staging"):
        service.deploy("fn-posts", version, env, actor="ci")
        service.watch("fn-posts", env, actor="findly", wait=service.clock.advance)  # type: ignore[attr-defined]
        for suite in service.platform.environment(env).tests:
            service.record_test("fn-posts", version, env, suite, True, actor="ci")


def test_the_first_writing_command_binds_the_policy_and_a_weaker_file_then_records_nothing() -> None:
    store = MemoryEventStore()
    github = StandInProofs()  # one issuer, whose tokens every process verifies
    real = _service(STRONG, store, proofs=github)
    _through_staging(real)
    assert real.policy_in_force() == STRONG_POLICY
    assert [e.reason for e in real.policy_history()] == ["the first policy"]
    before = {name: list(events) for name, events in store.streams.items()}
    attacker = _service(WEAK, store, proofs=github)  # another process, another file, the same state
    for command in (
        lambda: attacker.approve("fn-posts", "1.0.0", "production", actor="alice"),
        lambda: attacker.deploy("fn-posts", "1.0.0", "production", actor="mallory"),
    ):
        with pytest.raises(PolicyRefusedError) as refused:
            command()
        assert refused.value.refusal.rule == POLICY_IN_FORCE
    assert {name: list(events) for name, events in store.streams.items()} == before  # nothing recorded, anywhere
    # evidence, rollout steps and a rollback are not what the policy decides: they go on, and adopt nothing
    attacker.record_test("fn-posts", "1.0.0", "staging", "e2e", True, actor="mallory")
    assert attacker.policy_in_force() == STRONG_POLICY
    # the weaker file, from a run the policy in force accepts, with a token asked for adopting it: adopted
    bound = purpose_audience("findly-infra", ADOPT, policy_digest(WEAK_POLICY))
    bob = github.sign(person("bob", "1002", 2001), bound, T0)
    with pytest.raises(PolicyRefusedError):  # a token of bob's run, asked for another purpose: refused
        attacker.adopt_policy(actor="bob", identity=github.sign(person("bob", "1002", 2001), "findly-infra", T0))
    adoption = attacker.adopt_policy(actor="bob", identity=bob)
    assert adoption.event is not None
    assert adoption.event.identity is not None
    assert real.policy_in_force() == WEAK_POLICY


def test_status_counts_under_the_policy_in_force_whatever_file_it_is_read_with() -> None:
    store = MemoryEventStore()
    weak = _service(WEAK, store)  # a state whose first writer trusted names (or one written before policies)
    _through_staging(weak)
    with pytest.raises(PolicyRefusedError):
        weak.deploy("fn-posts", "1.0.0", "production", actor="mallory")
    for name in ("alice", "carol"):
        weak.approve("fn-posts", "1.0.0", "production", actor=name)
    strong = _service(STRONG, store)
    strong.record_test("fn-posts", "1.0.0", "staging", "e2e", True, actor="ci")  # any writing command adopts
    assert strong.policy_in_force() == STRONG_POLICY
    # read with the weak file: the approvals still do not count, as the policy in force says
    view = _service(WEAK, store).view("fn-posts", "production")
    assert view.waiting_for is not None
    assert view.waiting_for.needs == ("devops-team", "security-team")
    with pytest.raises(PolicyRefusedError) as refused:
        strong.deploy("fn-posts", "1.0.0", "production", actor="bob", identity=person("bob", "1002", 3))
    assert refused.value.refusal.rule == "approvals"
    assert "a name, not a verified identity" in refused.value.refusal.message


def test_a_command_on_an_unknown_service_or_environment_adopts_nothing() -> None:
    store = MemoryEventStore()
    service = _service(STRONG, store)
    for command in (
        lambda: service.deploy("fn-nope", "1.0.0", "development", actor="ci"),
        lambda: service.record_test("fn-posts", "1.0.0", "qa", "unit", True, actor="ci"),
    ):
        with pytest.raises(UnknownNameError):
            command()
    assert store.streams.get(POLICY_STREAM, []) == []


class _FailingOnce(MemoryEventStore):
    """The in-memory store, whose next append to a service's stream fails (a crash after the policy was adopted)."""

    fail: bool = True

    def append(self, service: str, expected_version: int, events: Any) -> int:
        if service != POLICY_STREAM and self.fail:
            self.fail = False
            raise ConcurrencyError("lost every race")
        return super().append(service, expected_version, events)


def test_an_adoption_and_the_decision_after_it_never_leave_a_half_state() -> None:
    store = _FailingOnce()
    service = attrs.evolve(_service(STRONG, store), attempts=1)
    with pytest.raises(ConcurrencyError):
        service.deploy("fn-posts", "1.0.0", "development", actor="ci")
    assert store.load(POLICY_STREAM)[1] == 1
    assert store.load("fn-posts")[1] == 0
    again = _service(STRONG, store)  # the command run again
    again.deploy("fn-posts", "1.0.0", "development", actor="ci")
    assert store.load(POLICY_STREAM)[1] == 1  # not adopted twice
    assert store.load("fn-posts")[1] == 2


def test_the_policy_stream_is_kept_apart_from_the_services() -> None:
    event = _adopt(None, STRONG_POLICY, "erin", None).event
    assert event is not None
    assert event_from_dict(event_to_dict(event)) == event  # through the codec, whole
    assert stream_problem(POLICY_STREAM, event) is None
    assert stream_problem("fn-posts", event) is not None
    granted = ApprovalGranted(service="fn-posts", environment="production", version="1", at=T0, actor="a", group="g")
    assert stream_problem(POLICY_STREAM, granted) is not None
    assert POLICY_STREAM not in [s.name for s in STRONG.all_services]
    with pytest.raises(InvariantError):
        require_service_name(POLICY_STREAM, "services")


def test_an_export_carries_the_policy_stream_and_an_import_checks_it_as_the_rest() -> None:
    store = MemoryEventStore()
    _through_staging(_service(STRONG, store))
    lines = list(export_lines(store))
    assert '"_policy": 1' in lines[0]
    moved = MemoryEventStore()
    report = import_lines(moved, lines)
    assert report.imported[POLICY_STREAM] == 1
    assert _service(STRONG, moved).policy_in_force() == STRONG_POLICY
    # a policy event slipped into a service's stream, or another event into the policy stream: refused, named
    adopted = json.loads(next(line for line in lines if '"service": "_policy"' in line))["event"]
    granted = event_to_dict(
        ApprovalGranted(service="fn-posts", environment="production", version="1", at=T0, actor="a", group="g")
    )
    for stream, event, said in (
        ("fn-posts", adopted, "belongs to the policy stream"),
        (POLICY_STREAM, granted, "holds only adopted policies"),
    ):
        forged = [
            json.dumps({"format": FORMAT, "time": None, "streams": {stream: 1}}),
            json.dumps({"service": stream, "position": 0, "event": event}),
        ]
        with pytest.raises(BadInputError, match=said):
            read_export(forged)
    # a state whose policy stream differs is not written over: nothing written
    other = MemoryEventStore()
    _service(WEAK, other).record_test("fn-posts", "1.0.0", "development", "unit", True, actor="ci")
    held = {name: list(events) for name, events in other.streams.items()}
    with pytest.raises(BadInputError, match="already has"):
        import_lines(other, lines)
    assert {name: list(events) for name, events in other.streams.items()} == held


def test_a_durable_store_refuses_a_policy_stream_that_holds_another_event(tmp_path: Any) -> None:
    from findly_infra.adapters.sqlite import SqliteEventStore

    store = SqliteEventStore(tmp_path / "state.sqlite3")
    try:
        granted = ApprovalGranted(service="_policy", environment="p", version="1", at=T0, actor="a", group="g")
        store.append(POLICY_STREAM, 0, (granted,))
        with pytest.raises(StateError, match="policy stream holds only adopted policies"):
            store.load(POLICY_STREAM)
        assert any("policy stream holds only adopted policies" in problem for problem in store.check())
    finally:
        store.close()


def test_a_simulation_judges_its_own_people_as_verified_by_the_policy() -> None:
    """``simulate`` acts with people no token proves (issuer ``simulated``): their approvals count there — its
    production release starts — and only there."""
    from findly_infra.application.scenarios import SCENARIOS
    from findly_infra.application.simulation import simulated_identity
    from findly_infra.bootstrap.simulation import simulate

    result = simulate(STRONG, "fn-posts", "production", SCENARIOS["healthy"])
    assert [e.version for e in result.events if e.type == "rollout_started" and e.environment == "production"]
    from findly_infra.application.simulation import SimulatedProofs
    from findly_infra.domain import Proofs

    recorded = tuple(
        Approval("1.0.0", group, login, T0, identity.user_id, identity)
        for group, login in (("devops-team", "alice"), ("security-team", "carol"))
        if (identity := simulated_identity(STRONG, "production", login, T0)) is not None
    )
    assert len(recorded) == 2
    erin = simulated_identity(STRONG, "production", "erin", T0)
    state = EnvironmentState(requested=PendingRequest("1.0.0", "erin", T0, None, erin), approvals=recorded)

    def count(policy: EnvironmentPolicy, verifier: Any) -> Any:
        checks = proof_checks(policy, "fn-posts", "production", state.requested, state.approvals)
        proofs = Proofs(T0, {check.key: verifier.verify_proof(check) for check in checks})
        return count_approvals(policy, state, "1.0.0", T0, proofs=proofs, service="fn-posts")

    judged = PlatformPolicy.of(STRONG).simulated().environment("production")
    assert judged is not None
    assert count(judged, SimulatedProofs()).missing == ()  # in a simulation, its own verifier: counted
    real = count(EnvironmentPolicy.of(STRONG, "production"), StandInProofs())  # anywhere else: not
    assert real.missing == ("devops-team", "security-team")
    assert all("does not prove it" in d.reason for d in real.discounted)
    forged = count(judged, StandInProofs())  # a simulated proof is a simulation's verifier's alone
    assert forged.missing == ("devops-team", "security-team")


# ---- a bound cluster serves only what a proven rollout let in -------------------------------------------------------


def _canary(platform: Any, *, bound: bool) -> Any:
    """*platform* rolling production out by canary (no manual step), production bound to a cluster if *bound*."""
    environments = tuple(
        attrs.evolve(env, deployment_strategy=StrategyKind.CANARY) if env.name == "production" else env
        for env in platform.environments
    )
    binding = (ClusterBinding("production", context="real"),) if bound else ()
    return attrs.evolve(
        platform, environments=environments, kubernetes=attrs.evolve(platform.kubernetes, clusters=binding)
    )


def _released(service: PipelineService, version: str, github: StandInProofs | None = None) -> None:
    """*version* promoted into production and let in — asked for by bob, approved by alice and carol: with tokens
    for exactly that purpose signed by *github*, else by name."""
    clock = service.clock

    def proof(login: str, user_id: str, run: int, action: str) -> VerifiedIdentity | None:
        if github is None:
            return None
        audience = purpose_audience("findly-infra", action, "fn-posts", version, "production")
        return github.sign(person(login, user_id, run), audience, clock.now())

    runs = itertools.count(len(github.issued) + 1 if github else 1)
    _through_staging(service, version)
    with pytest.raises(PolicyRefusedError):
        service.deploy(
            "fn-posts", version, "production", actor="bob", identity=proof("bob", "1002", next(runs), PROMOTE)
        )
    for login, user_id in (("alice", "1001"), ("carol", "3003")):
        service.approve(
            "fn-posts", version, "production", actor=login, identity=proof(login, user_id, next(runs), APPROVE)
        )
    service.deploy("fn-posts", version, "production", actor="bob", identity=proof("bob", "1002", next(runs), PROMOTE))


def _team(store: MemoryEventStore, cluster: SimulatedCluster, github: StandInProofs) -> PipelineService:
    """The team's service: the real file (production verified, bound to a cluster), its proofs checked by
    *github*, on virtual time (the wall's too, so that tokens are judged at the clock's time)."""
    clock = VirtualClock(T0 + timedelta(hours=3))
    metrics = ScriptedMetrics(lambda _: HEALTHY)
    return PipelineService(_canary(STRONG, bound=True), store, clock, metrics, cluster, proofs=github, wall=clock)


def test_a_history_imported_with_the_state_credentials_never_makes_a_bound_cluster_serve_what_no_proof_let_in() -> None:
    """The review's attack e7: a stream built under a copy of the file that trusts names — 6.6.6 let into
    production by name and succeeded, then 6.6.7 let in and rolled back — imported into the team's state (or
    appended with its credentials). Its latest rollout, rolled back, holds no traffic; but the version it rolls back
    to, 6.6.6, was let in by nothing the policy in force accepts: the team's next command moves no bound cluster to
    serve it (rule ``unproven-entry``). A version that a proven rollout let in is served as before."""
    github = StandInProofs()
    attacker = _service(_canary(WEAK, bound=False), MemoryEventStore(), proofs=github)  # the simulated cluster
    _released(attacker, "6.6.6")
    attacker.watch("fn-posts", "production", actor="findly", wait=attacker.clock.advance)  # type: ignore[attr-defined]
    assert attacker.view("fn-posts", "production").phase is Phase.SUCCEEDED
    _released(attacker, "6.6.7")
    attacker.rollback("fn-posts", "production", actor="mallory", reason="back to 6.6.6")
    header, *events = export_lines(attacker.store)  # its fn-posts stream: the team's state has a policy of its own
    streams = {"fn-posts": json.loads(header)["streams"]["fn-posts"]}
    lines = [json.dumps({**json.loads(header), "streams": streams})]
    lines += [line for line in events if json.loads(line)["service"] == "fn-posts"]

    def team(store: MemoryEventStore, cluster: SimulatedCluster) -> PipelineService:
        return _team(store, cluster, github)

    poisoned, cluster = MemoryEventStore(), SimulatedCluster()
    team(poisoned, cluster).record_test("fn-notifications", "2.0.0", "development", "unit", True, actor="ci")
    import_lines(poisoned, lines)
    real = team(poisoned, cluster)
    for command in (
        lambda: real.reconcile("fn-posts", "production"),
        lambda: real.deploy("fn-posts", "6.6.6", "production", actor="mallory"),
    ):
        with pytest.raises(UnprovenEntryError, match=r"6\.6\.6 would serve production"):
            command()
    assert cluster.holding("fn-posts", "production") == Holding()  # never moved to run 6.6.6
    # the same history with proofs: 1.0.0 let in and succeeded, 1.0.1 let in and rolled back — 1.0.0 is served
    honest, cluster = MemoryEventStore(), SimulatedCluster()
    service = team(honest, cluster)
    _released(service, "1.0.0", github)
    service.watch("fn-posts", "production", actor="findly", wait=service.clock.advance)  # type: ignore[attr-defined]
    _released(service, "1.0.1", github)
    service.rollback("fn-posts", "production", actor="bob", reason="back to 1.0.0")
    assert cluster.weights("fn-posts", "production") == {"1.0.0": 100}


def test_an_earlier_promotion_replayed_with_the_state_credentials_never_moves_a_bound_cluster_back() -> None:
    """Tokens are readable by whoever reads the state. 1.0.0, then 1.1.0, were let into production with proofs;
    someone who can append to the state replays 1.0.0's request, approvals and start (its very tokens, each for its
    own purpose) after 1.1.0: every proof verifies, but the rollout's starter token is older than the one that let
    in 1.1.0, which it would replace — no bound cluster is moved back to 1.0.0 (rule ``unproven-entry``)."""
    github, store, cluster = StandInProofs(), MemoryEventStore(), SimulatedCluster()
    service = _team(store, cluster, github)
    for version in ("1.0.0", "1.1.0"):
        _released(service, version, github)
        service.watch("fn-posts", "production", actor="findly", wait=service.clock.advance)  # type: ignore[attr-defined]
    assert cluster.weights("fn-posts", "production") == {"1.1.0": 100}
    events, length = store.load("fn-posts")
    replayed = [
        attrs.evolve(event, at=events[-1].at)
        for event in events
        if event.environment == "production"
        and event.version == "1.0.0"
        and isinstance(event, PromotionRequested | ApprovalGranted | RolloutStarted)
    ]
    replayed = [
        attrs.evolve(event, previous="1.1.0") if isinstance(event, RolloutStarted) else event for event in replayed
    ]
    store.append("fn-posts", length, tuple(replayed))
    other = _team(store, cluster, github)  # another process
    for command in (
        lambda: other.reconcile("fn-posts", "production"),
        lambda: other.step("fn-posts", "production", actor="findly"),
    ):
        with pytest.raises(UnprovenEntryError, match="replayed"):
            command()
    assert cluster.weights("fn-posts", "production") == {"1.1.0": 100}


def test_what_the_cluster_already_runs_does_not_strand_it_when_identities_become_verified_or_keys_retire() -> None:
    """1.0.0 was let into a bound production by name, before the team verified identities there (or with tokens
    whose key GitHub has since retired): its entry can no longer be proven. The cluster runs it, and keeping it
    there is no entry — the next version, proven, rolls out beside it and replaces it, and a rollback returns to it
    — while a version the cluster does not run is still refused (the tests above)."""
    github, store, cluster = StandInProofs(), MemoryEventStore(), SimulatedCluster()
    clock = VirtualClock(T0 + timedelta(hours=3))
    metrics = ScriptedMetrics(lambda _: HEALTHY)
    before = PipelineService(_canary(WEAK, bound=True), store, clock, metrics, cluster, proofs=github, wall=clock)
    _released(before, "1.0.0")  # by name: production trusted names then
    before.watch("fn-posts", "production", actor="findly", wait=clock.advance)
    assert cluster.weights("fn-posts", "production") == {"1.0.0": 100}
    team = _team(store, cluster, github)  # the real file now: production verified (adopted, on trust)
    _released(team, "1.1.0", github)
    team.rollback("fn-posts", "production", actor="bob", reason="not yet")
    assert cluster.weights("fn-posts", "production") == {"1.0.0": 100}  # back to what ran
    _released(team, "1.2.0", github)
    team.watch("fn-posts", "production", actor="findly", wait=team.clock.advance)  # type: ignore[attr-defined]
    assert cluster.weights("fn-posts", "production") == {"1.2.0": 100}
    for token, (identity, _, at) in github.issued.items():  # GitHub retires its key: kept tokens prove nothing
        github.issued[token] = (identity, "a retired key", at)
    _released(team, "1.3.0", github)  # fresh tokens, a new key
    team.watch("fn-posts", "production", actor="findly", wait=team.clock.advance)  # type: ignore[attr-defined]
    assert cluster.weights("fn-posts", "production") == {"1.3.0": 100}


@pytest.mark.parametrize("trick", ["succeeded", "rolled back to it"])
def test_a_candidate_on_its_canary_track_is_not_kept_by_the_cluster_running_it(trick: str) -> None:
    """What the cluster runs on the primary track stays (above); a candidate on the canary track at 5% is not kept.
    1.1.0's canary was let in by name, then production verified identities: its step is refused. Events appended with
    the state's credentials — its rollout said to have succeeded, or a rollout of 9.9.9 rolled back to 1.1.0 — do
    not move the cluster to serve 1.1.0 (the review of the exemption found both let through when any running version
    counted)."""
    github, store, cluster = StandInProofs(), MemoryEventStore(), SimulatedCluster()
    clock = VirtualClock(T0 + timedelta(hours=3))
    metrics = ScriptedMetrics(lambda _: HEALTHY)
    before = PipelineService(_canary(WEAK, bound=True), store, clock, metrics, cluster, proofs=github, wall=clock)
    _released(before, "1.0.0")
    before.watch("fn-posts", "production", actor="findly", wait=clock.advance)
    _released(before, "1.1.0")  # by name, at 5% when the team turns verification on
    assert cluster.weights("fn-posts", "production") == {"1.0.0": 95, "1.1.0": 5}
    with pytest.raises(UnprovenEntryError):
        _team(store, cluster, github).step("fn-posts", "production", actor="findly")
    events, length = store.load("fn-posts")
    common = {"service": "fn-posts", "environment": "production", "actor": "mallory"}
    at = events[-1].at + timedelta(seconds=1)
    appended: tuple[Any, ...] = (
        (RolloutSucceeded(version="1.1.0", at=at, **common),)
        if trick == "succeeded"
        else (
            RolloutStarted(version="9.9.9", previous="1.1.0", strategy=StrategyKind.CANARY, at=at, **common),
            RolledBack(version="9.9.9", restored="1.1.0", at=at, **common),
        )
    )
    store.append("fn-posts", length, appended)
    with pytest.raises(UnprovenEntryError, match=r"1\.1\.0"):
        _team(store, cluster, github).reconcile("fn-posts", "production")
    assert cluster.weights("fn-posts", "production") == {"1.0.0": 95, "1.1.0": 5}
