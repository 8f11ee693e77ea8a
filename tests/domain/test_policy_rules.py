"""The rules of ``domain.policy``, pinned (issue 23): what a recorded policy must be, who it accepts as acting, what a
proposed policy changes and whether each change weakens it or is guarded, whether it is adopted (the first, a
strengthening, a weakening by someone the policy in force accepts, verified identities turned on — taken on trust
unless anchored) or refused by ``policy-in-force`` in its exact words, and how the policy stream is read back with
its guards checked (damage, frozen environments, the anchor). Fast and in-process: they run for every mutant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs
import pytest

from findly_infra.domain.environment import ApproverGroup
from findly_infra.domain.errors import InvariantError
from findly_infra.domain.identity import GITHUB_ISSUER, IdentityPolicy, OidcSettings, VerifiedIdentity
from findly_infra.domain.notation import Duration
from findly_infra.domain.policy import (
    POLICY_IN_FORCE,
    POLICY_STREAM,
    SIMULATED_ISSUER,
    Adoption,
    EnvironmentPolicy,
    PlatformPolicy,
    PolicyAdopted,
    PolicyChange,
    PolicyReading,
    adopt,
    adoption_checks,
    policy_in_force,
    read_policy,
)
from findly_infra.domain.proofs import ADOPT, ProofCheck, Proofs, Proven, Unproven, purpose_audience

T0 = datetime(2026, 3, 2, 9)
DEVOPS = ApproverGroup("devops", ("Alice", "bob"), (("Alice", "1001"), ("bob", "1002")))
BASE = EnvironmentPolicy("production", True, (DEVOPS,), entered_from="staging", required_tests=("e2e", "smoke"))
RULES = IdentityPolicy(verified=True, repositories=("findly/infra",), refs=("refs/heads/main",))
VERIFIED = attrs.evolve(BASE, identity=RULES, issuer=GITHUB_ISSUER, audience="findly-infra")


def _changes(before: EnvironmentPolicy, after: EnvironmentPolicy) -> list[tuple[str, bool, bool, bool]]:
    return [(c.what, c.weakens, c.guarded, c.trusts) for c in before.changes(after)]


# ---- what a recorded policy must be ----------------------------------------------------------------------------------


def test_a_recorded_policy_names_its_environment_a_valid_expiry_and_each_group_once() -> None:
    def refused(**fields: Any) -> tuple[str, str | None, object]:
        with pytest.raises(InvariantError) as caught:
            attrs.evolve(BASE, **fields)
        return caught.value.message, caught.value.field, caught.value.index

    assert refused(environment="") == ("an environment's policy names its environment", "environment", None)
    assert refused(environment=5) == ("an environment's policy names its environment", "environment", None)
    for expiry in (-1, True, 1.5, "1"):
        assert refused(approval_expires_after=expiry) == (
            f"production: approval_expires_after is a number of milliseconds, at least 0: {expiry!r}",
            "approval_expires_after",
            None,
        )
    assert attrs.evolve(BASE, approval_expires_after=0).approval_expires_after == 0
    assert refused(groups=(DEVOPS, ApproverGroup("sre", ()), DEVOPS)) == (
        "production: devops is listed twice",
        "groups",
        2,
    )
    assert refused(identity=RULES, issuer="http://example.com") == (
        "production: issuer is an https URL (http only on loopback): 'http://example.com'",
        "issuer",
        None,
    )
    assert refused(identity=RULES, issuer=GITHUB_ISSUER, audience="a b") == (
        "production: the audience is one word, such as findly-infra",
        "audience",
        None,
    )
    assert refused(identity=RULES, issuer=GITHUB_ISSUER, audience="x", keys_url="ftp://k")[1] == "jwks_url"
    assert attrs.evolve(BASE, identity=RULES, issuer=SIMULATED_ISSUER).issuer == SIMULATED_ISSUER
    assert attrs.evolve(BASE, issuer="anything").issuer == "anything"  # not verified: not read


def test_a_policys_questions() -> None:
    sre = ApproverGroup("sre", ("carol",))
    policy = attrs.evolve(BASE, groups=(DEVOPS, sre))
    assert policy.approvers == ("devops", "sre")
    assert policy.group("sre") is sre
    assert policy.group("devops") is DEVOPS
    assert policy.group("qa") is None
    assert BASE.oidc is None
    assert VERIFIED.oidc == OidcSettings(GITHUB_ISSUER, "findly-infra", None)
    keyed = attrs.evolve(VERIFIED, keys_url="https://k.example/jwks")
    assert keyed.oidc == OidcSettings(GITHUB_ISSUER, "findly-infra", "https://k.example/jwks")


def test_a_policy_recorded_without_its_keys_url_still_says_whose_tokens_prove_identities() -> None:
    """Defect (issue 23, found by pinning ``oidc``): a verified policy recorded with no keys URL (``""``: before the
    field was kept, or a file without ``jwks_url``) is valid, but asking it whose tokens prove identities raised
    ``InvariantError`` — ``cli/context.py`` asks it of the policy in force."""
    assert VERIFIED.keys_url == ""
    assert VERIFIED.oidc is not None
    assert VERIFIED.oidc.keys_url == f"{GITHUB_ISSUER}/.well-known/jwks"


# ---- who a policy accepts --------------------------------------------------------------------------------------------

ERIN = VerifiedIdentity(
    login="erin",
    user_id="7",
    repository="findly/infra",
    ref="refs/heads/main",
    workflow_ref="findly/infra/.github/workflows/release.yml@refs/heads/main",
    run_id="200",
    environment="",
    issuer=GITHUB_ISSUER,
    token_id="jti",
    token="tok",
)


def test_who_a_policy_accepts_as_acting() -> None:
    assert BASE.refusal_of("erin", None) is None
    assert BASE.refusal_of("ERIN", ERIN) is None
    assert BASE.refusal_of("mallory", ERIN) == "mallory is acting, but the token proves erin"
    assert VERIFIED.refusal_of("erin", None) == (
        "erin is a name, not a proof: production takes only verified identities"
    )
    assert VERIFIED.refusal_of("erin", ERIN) is None
    assert VERIFIED.refusal_of("erin", attrs.evolve(ERIN, issuer="https://x.example")) == (
        f"the identity was proven by https://x.example, not {GITHUB_ISSUER}"
    )
    assert VERIFIED.refusal_of("erin", attrs.evolve(ERIN, ref="refs/heads/dev")) == (
        "the workflow ran on refs/heads/dev (claim ref), not refs/heads/main"
    )


def test_who_a_policy_accepts_in_words() -> None:
    assert BASE.accepts() == "anyone named (names are trusted here: nothing can be proven)"
    assert VERIFIED.accepts() == (
        f"a GitHub Actions run proven by a token of {GITHUB_ISSUER}, repositories findly/infra, refs refs/heads/main"
    )
    wide = attrs.evolve(VERIFIED, identity=IdentityPolicy(verified=True, repositories=("a/b", "c/d")))
    assert wide.accepts() == f"a GitHub Actions run proven by a token of {GITHUB_ISSUER}, repositories a/b or c/d"
    anyone = attrs.evolve(VERIFIED, identity=IdentityPolicy(verified=True))
    assert anyone.accepts() == (
        f"a GitHub Actions run proven by a token of {GITHUB_ISSUER} (from any repository, workflow or ref)"
    )
    events = attrs.evolve(VERIFIED, identity=IdentityPolicy(verified=True, github_environments=("prod",)))
    assert events.accepts().endswith(", github environments prod")


# ---- what a proposal changes -----------------------------------------------------------------------------------------


def test_what_weakens_a_policy_that_trusts_names() -> None:
    weaker = attrs.evolve(
        BASE,
        approval_required=False,
        groups=(),
        approval_expires_after=Duration.of(hours=48).milliseconds,
        entered_from=None,
        required_tests=("e2e", "load"),
    )
    assert _changes(BASE, weaker) == [
        ("approvals are no longer required", True, True, False),
        ("devops no longer approves", True, True, False),
        ("an approval lasts 2 days, not 1 day", True, True, False),
        ("it no longer needs a version to succeed in staging first", True, True, False),
        ("a version no longer needs smoke passed to enter", True, True, False),
        ("a version also needs load passed to enter", False, False, False),
    ]
    assert BASE.weakenings(weaker) == (
        "approvals are no longer required",
        "devops no longer approves",
        "an approval lasts 2 days, not 1 day",
        "it no longer needs a version to succeed in staging first",
        "a version no longer needs smoke passed to enter",
    )
    assert _changes(weaker, BASE) == [
        ("approvals are now required", False, False, False),
        ("devops approves too", False, False, False),
        ("an approval lasts 1 day, not 2 days", False, False, False),
        ("a version must now succeed in staging first", False, False, False),
        ("a version no longer needs load passed to enter", True, True, False),
        ("a version also needs smoke passed to enter", False, False, False),
    ]
    assert BASE.changes(BASE) == ()
    assert BASE.weakenings(BASE) == ()


def test_what_changes_of_a_groups_members_and_their_accounts() -> None:
    other = attrs.evolve(
        BASE,
        groups=(ApproverGroup("devops", ("ALICE", "carol", "dan"), (("ALICE", "1009"), ("dan", "5"))),),
        entered_from="qa",
    )
    assert _changes(BASE, other) == [
        ("carol joins devops", True, True, False),
        ("dan joins devops", True, True, False),
        ("Alice of devops is account 1009, not 1001", True, True, False),
        ("bob leaves devops", False, False, False),
        ("a version enters from qa, not staging", True, True, False),
    ]
    unbound = attrs.evolve(BASE, groups=(ApproverGroup("devops", ("alice", "bob"), (("bob", "1002"),)),))
    assert _changes(BASE, unbound) == [("Alice of devops is no longer bound to account id 1001", True, True, False)]
    assert _changes(unbound, BASE) == [
        ("alice of devops is bound to account id 1001: that account counts as alice", True, True, False)
    ]


def test_what_changes_of_who_counts_as_acting() -> None:
    assert _changes(BASE, VERIFIED) == [("identities are now verified", False, True, True)]
    assert _changes(VERIFIED, BASE) == [("identities are no longer verified: names are trusted", True, True, False)]
    wider = attrs.evolve(
        VERIFIED,
        identity=IdentityPolicy(verified=True, repositories=("findly/infra", "x/y"), events=("push",)),
        audience="other",
        keys_url="https://k.example/jwks",
    )
    assert _changes(VERIFIED, wider) == [
        ("repositories also accept x/y", True, True, False),
        ("refs are no longer restricted (were refs/heads/main)", True, True, False),
        ("the audience of the tokens is other, not findly-infra", True, True, False),
        ("the keys url of the tokens is https://k.example/jwks, not ", True, True, False),
        ("events are restricted to push", False, True, False),  # a strengthening, guarded where verified
    ]
    narrower = attrs.evolve(VERIFIED, identity=IdentityPolicy(verified=True, repositories=("findly/infra",)))
    moved = attrs.evolve(VERIFIED, issuer="https://ghes.example", identity=narrower.identity)
    assert _changes(narrower, moved) == [
        (
            "the issuer of the tokens is https://ghes.example, not https://token.actions.githubusercontent.com",
            True,
            True,
            False,
        )
    ]
    assert _changes(narrower, VERIFIED) == [("refs are restricted to refs/heads/main", False, True, False)]
    shorter = attrs.evolve(VERIFIED, approval_expires_after=Duration.of(hours=1).milliseconds)
    assert _changes(VERIFIED, shorter) == [("an approval lasts 1 hour, not 1 day", False, True, False)]


@pytest.mark.parametrize(
    ("before", "after", "said"),
    [
        ((), ("pull_request_target",), [("events are restricted to pull_request_target", True, True, False)]),
        (("push",), ("push", "pull_request_target"), [("events also accept pull_request_target", True, True, False)]),
        (
            ("push",),
            ("pull_request_target", "release"),
            [
                ("events also accept pull_request_target", True, True, False),
                ("events also accept release", True, True, False),
                ("events no longer accept push", False, True, False),
            ],
        ),
        (("push", "release"), ("push",), [("events no longer accept release", False, True, False)]),
    ],
)
def test_accepting_pull_request_target_widens_a_policy(
    before: tuple[str, ...], after: tuple[str, ...], said: list[tuple[str, bool, bool, bool]]
) -> None:
    """``pull_request_target`` is refused unless listed: listing it, even in a list that was empty, widens."""
    one = attrs.evolve(VERIFIED, identity=IdentityPolicy(verified=True, events=before))
    other = attrs.evolve(VERIFIED, identity=IdentityPolicy(verified=True, events=after))
    assert _changes(one, other) == said


def test_a_restriction_of_another_kind_is_compared_whole_as_a_weakening() -> None:
    from findly_infra.domain.policy import _restriction_differences

    assert list(_restriction_differences("mode", "a", "b")) == [("mode is 'b', not 'a'", True)]
    assert list(_restriction_differences("mode", ("a",), "b")) == [("mode is 'b', not ('a',)", True)]
    assert list(_restriction_differences("mode", "a", ("b",))) == [("mode is ('b',), not 'a'", True)]
    assert list(_restriction_differences("mode", "a", "a")) == []
    assert list(_restriction_differences("refs", ("a", "b"), ())) == [
        ("refs are no longer restricted (were a, b)", True)
    ]
    assert list(_restriction_differences("refs", (), ("a", "b"))) == [("refs are restricted to a, b", False)]
    assert list(_restriction_differences("refs", ("a", "b"), ("b", "c", "d"))) == [
        ("refs also accept c, d", True),
        ("refs no longer accept a", False),
    ]


def test_a_platform_policy_names_each_environment_once_and_what_a_proposal_adds_or_drops() -> None:
    staging = EnvironmentPolicy("staging")
    platform = PlatformPolicy((staging, BASE))
    assert platform.names == ("staging", "production")
    assert platform.environment("production") is BASE
    assert platform.environment("qa") is None
    with pytest.raises(InvariantError) as refused:
        PlatformPolicy((staging, BASE, staging))
    assert (refused.value.message, refused.value.field, refused.value.index) == (
        "staging has two policies: a policy names each environment once",
        "environments",
        2,
    )
    proposed = PlatformPolicy((BASE, EnvironmentPolicy("qa")))
    assert platform.changes(proposed) == (
        PolicyChange("staging", "is no longer in the platform file", weakens=True),
        PolicyChange("qa", "is a new environment", weakens=False),
    )
    assert platform.weakenings(proposed) == (PolicyChange("staging", "is no longer in the platform file", True),)
    assert str(PolicyChange("qa", "is a new environment", False)) == "qa: is a new environment"
    assert PolicyChange("qa", "x", True).guarded
    assert not PolicyChange("qa", "x", False).guarded


def test_a_simulation_judges_verified_identities_as_its_own() -> None:
    verified_qa = attrs.evolve(VERIFIED, environment="qa")
    simulated = PlatformPolicy((BASE, verified_qa)).simulated()
    assert simulated.environments[0] is BASE
    assert simulated.environments[1] == attrs.evolve(verified_qa, issuer=SIMULATED_ISSUER)


# ---- adopting a proposal ---------------------------------------------------------------------------------------------

DIGEST = "d1"
NAMES = PlatformPolicy((BASE,))
GUARDED = PlatformPolicy((VERIFIED,))


def _adopt(in_force: PlatformPolicy | None, proposed: PlatformPolicy, **kwargs: object) -> Adoption:
    given_kwargs: dict[str, object] = {"actor": "erin", "identity": None, **kwargs}
    return adopt(in_force, proposed, at=T0, digest=DIGEST, **given_kwargs)  # type: ignore[arg-type]


def _proofs(identity: VerifiedIdentity = ERIN, digest: str = DIGEST, issued: datetime = T0) -> Proofs:
    audience = purpose_audience("findly-infra", ADOPT, digest)
    return Proofs(T0, {(identity.token, GITHUB_ISSUER, audience): Proven(identity, issued)})


def _event(  # noqa: PLR0917 - an adoption's fields, in their order
    policy: PlatformPolicy,
    reason: str,
    changes: tuple[str, ...] = (),
    weakenings: tuple[str, ...] = (),
    identity: VerifiedIdentity | None = None,
    actor: str = "erin",
    digest: str = DIGEST,
) -> PolicyAdopted:
    return PolicyAdopted(
        service=POLICY_STREAM,
        environment="",
        version="",
        at=T0,
        actor=actor,
        reason=reason,
        policy=policy,
        digest=digest,
        changes=changes,
        weakenings=weakenings,
        identity=identity,
    )


def test_the_first_policy_is_adopted_and_the_same_one_records_nothing() -> None:
    assert _adopt(None, NAMES, identity=ERIN) == Adoption(_event(NAMES, "the first policy", identity=ERIN))
    assert _adopt(NAMES, NAMES) == Adoption()


def test_a_strengthening_is_adopted_from_anyone() -> None:
    looser = PlatformPolicy((attrs.evolve(BASE, approval_required=False),))
    adoption = _adopt(looser, NAMES, actor="mallory")
    change = PolicyChange("production", "approvals are now required", weakens=False)
    assert adoption == Adoption(
        _event(NAMES, "strengthened", ("production: approvals are now required",), actor="mallory"),
        changes=(change,),
    )


def test_where_names_are_trusted_a_weakening_is_adopted_from_anyone_named() -> None:
    looser = PlatformPolicy((attrs.evolve(BASE, approval_required=False),))
    said = "production: approvals are no longer required"
    assert _adopt(NAMES, looser).event == _event(
        looser, "weakened, by someone the policy in force accepts", (said,), (said,)
    )
    refused = _adopt(NAMES, looser, actor="mallory", identity=ERIN)
    assert refused.event is None
    assert refused.blocked == ("production",)
    assert refused.refusal is not None
    assert refused.refusal.rule == POLICY_IN_FORCE
    assert refused.refusal.message == (
        "the platform file weakens the policy in force, or changes whom it accepts as acting (production: approvals "
        "are no longer required), which takes effect only from a run the policy in force accepts (production: anyone "
        "named (names are trusted here: nothing can be proven) — and here mallory is acting, but the token proves "
        "erin). Make it a reviewed change of the file on the protected ref and run `findly-infra policy adopt` from "
        "that workflow (with `permissions: id-token: write`), or use the file the policy in force was adopted from "
        "(`findly-infra policy show` says what is in force): nothing was recorded"
    )


def test_verified_identities_turned_on_by_a_name_are_taken_on_trust_unless_the_state_is_anchored() -> None:
    said = "production: identities are now verified"
    assert _adopt(NAMES, GUARDED).event == _event(GUARDED, "strengthened", (said,))
    anchored = _adopt(NAMES, GUARDED, anchored=True)
    assert anchored.refusal is not None
    assert (
        "production: anyone named (names are trusted here: nothing can be proven) — and here the state is anchored: "
        "only its owner turns verified identities on where names were trusted (findly-infra policy anchor, with the "
        "database owner's credentials))"
    ) in anchored.refusal.message


SHORTER = PlatformPolicy((attrs.evolve(VERIFIED, approval_expires_after=Duration.of(hours=1).milliseconds),))


def test_where_identities_are_verified_any_change_needs_a_token_for_this_adoption() -> None:
    adopted = _adopt(GUARDED, SHORTER, identity=ERIN, proofs=_proofs())
    said = "production: an approval lasts 1 hour, not 1 day"
    assert adopted.event == _event(SHORTER, "changed, by someone the policy in force accepts", (said,), identity=ERIN)
    weaker = PlatformPolicy((attrs.evolve(VERIFIED, required_tests=("e2e",)),))
    weakened = _adopt(GUARDED, weaker, identity=ERIN, proofs=_proofs())
    assert weakened.event is not None
    assert weakened.event.reason == "weakened, by someone the policy in force accepts"


@pytest.mark.parametrize(
    ("identity", "proofs", "adopter", "problem"),
    [
        (None, None, None, "erin is a name, not a proof: production takes only verified identities"),
        (
            ERIN,
            None,
            None,
            "erin's run is one it accepts, but a change here takes effect only from `findly-infra policy adopt` (a "
            "token asked for adopting this policy)",
        ),
        (ERIN, Proofs(T0), None, "its proof was not checked"),
        (ERIN, _proofs(digest="other"), None, "its proof was not checked"),
        (
            ERIN,
            _proofs(attrs.evolve(ERIN, issuer="https://x.example")),
            None,
            f"the identity was proven by https://x.example, not {GITHUB_ISSUER}",
        ),
        (
            ERIN,
            _proofs(attrs.evolve(ERIN, ref="refs/heads/dev")),
            None,
            "the workflow ran on refs/heads/dev (claim ref), not refs/heads/main",
        ),
        (
            ERIN,
            _proofs(attrs.evolve(ERIN, run_attempt="2")),
            None,
            "run 200 attempt 2 is a re-run: it carries its run's commit and platform file, whoever re-ran it; adopt "
            "from a new run",
        ),
        (
            ERIN,
            _proofs(),
            attrs.evolve(ERIN, run_id="300", repository="FINDLY/infra", workflow_ref=ERIN.workflow_ref.upper()),
            "run 200 is older than run 300, which adopted the policy in force: a re-run of an old run carries its old "
            "platform file; adopt from a new run",
        ),
    ],
)
def test_each_reason_a_change_of_a_verified_policy_does_not_take_effect(
    identity: VerifiedIdentity | None, proofs: Proofs | None, adopter: VerifiedIdentity | None, problem: str
) -> None:
    refused = _adopt(GUARDED, SHORTER, identity=identity, proofs=proofs, adopter=adopter)
    assert refused.event is None
    assert refused.blocked == ("production",)
    assert refused.refusal is not None
    assert f"— and here {problem}). Make it" in refused.refusal.message


@pytest.mark.parametrize(
    "adopter",
    [
        attrs.evolve(ERIN, run_id="100"),
        attrs.evolve(ERIN, run_id="200"),
        attrs.evolve(ERIN, run_id="300", repository="other/repo"),
        attrs.evolve(ERIN, run_id="300", workflow_ref="findly/infra/.github/workflows/other.yml@refs/heads/main"),
        attrs.evolve(ERIN, run_id="x300"),
    ],
)
def test_a_run_is_older_only_than_a_later_run_of_the_same_workflow(adopter: VerifiedIdentity) -> None:
    assert _adopt(GUARDED, SHORTER, identity=ERIN, proofs=_proofs(), adopter=adopter).event is not None
    unnumbered = attrs.evolve(ERIN, run_id="r1")
    assert _adopt(GUARDED, SHORTER, identity=unnumbered, proofs=_proofs(unnumbered), adopter=adopter).event is not None


def test_a_token_whose_key_is_gone_blocks_the_change_naming_why() -> None:
    audience = purpose_audience("findly-infra", ADOPT, DIGEST)
    gone = Proofs(T0, {("tok", GITHUB_ISSUER, audience): Unproven("its key is gone", key_gone=True)})
    refused = _adopt(GUARDED, SHORTER, identity=ERIN, proofs=gone)
    assert refused.refusal is not None
    assert "— and here its key is gone). Make it" in refused.refusal.message


def test_only_the_environments_whose_changes_are_not_accepted_are_blocked() -> None:
    staging = EnvironmentPolicy("staging")
    in_force = PlatformPolicy((staging, VERIFIED))
    proposed = PlatformPolicy((attrs.evolve(staging, approval_required=True), SHORTER.environments[0]))
    refused = _adopt(in_force, proposed)
    assert refused.blocked == ("production",)
    assert [str(change) for change in refused.changes] == [
        "staging: approvals are now required",
        "production: an approval lasts 1 hour, not 1 day",
    ]


# ---- reading the policy stream back ----------------------------------------------------------------------------------


def _adopted(policy: PlatformPolicy, digest: str, identity: VerifiedIdentity | None = None) -> PolicyAdopted:
    return _event(policy, "", identity=identity, digest=digest)


def test_the_policy_in_force_as_recorded_is_the_latest_adoption() -> None:
    from findly_infra.domain.events import TestResultRecorded

    other = TestResultRecorded(
        service="fn-posts", environment="staging", version="1", at=T0, actor="erin", suite="e2e", passed=True
    )
    assert policy_in_force([]) is None
    assert policy_in_force([_adopted(NAMES, "a"), other, _adopted(GUARDED, "b"), other]) == GUARDED


def test_the_first_policy_is_taken_on_trust_and_said_to_be() -> None:
    reading = read_policy([_adopted(NAMES, "a")], proofs=None, digests=["a"])
    assert reading == PolicyReading(
        NAMES,
        0,
        trusted=(
            "the first policy was adopted by erin (a name) and taken on trust — nothing before it could say who may "
            "adopt it: check it, and anchor it (findly-infra policy anchor, as the database owner)",
        ),
    )
    both = PlatformPolicy((attrs.evolve(VERIFIED, environment="staging"), VERIFIED))
    reading = read_policy([_adopted(GUARDED, "a", ERIN), _adopted(both, "b", ERIN)], proofs=None, digests=["a"])
    assert reading.trusted == (
        f"the first policy was adopted by {ERIN.describe()} and taken on trust: production verifies identities as it "
        "says — nothing before it could say who may adopt it: check it, and anchor it (findly-infra policy anchor, "
        "as the database owner)",
    )
    assert reading.damage == ((1, "its digest is not its policy's: the adoption was changed after it was written"),)
    reading = read_policy([_adopted(both, "b")], proofs=None, digests=["b"])
    assert ": staging, production verify identities as it says —" in reading.trusted[0]
    assert read_policy([], proofs=None, digests=[]) == PolicyReading()


def test_an_adoption_whose_guard_does_not_hold_is_damage_and_the_one_before_stays_in_force() -> None:
    adoptions = [_adopted(GUARDED, "a"), _adopted(SHORTER, "b"), _adopted(GUARDED, "c", ERIN)]
    reading = read_policy(adoptions, proofs=_proofs(digest="c"), digests=["a", "x", "c"])
    assert reading.damage == ((1, "its digest is not its policy's: the adoption was changed after it was written"),)
    assert (reading.in_force, reading.position) == (GUARDED, 2)  # the same policy again: in force from there
    reading = read_policy(adoptions[:2], proofs=None, digests=["a", "b"])
    assert reading.damage == (
        (1, "not in force: production: erin is a name, not a proof: production takes only verified identities"),
    )
    assert (reading.in_force, reading.position, reading.adopter) == (GUARDED, 0, None)


def test_a_proven_adoption_is_in_force_and_its_adopter_is_remembered() -> None:
    adoptions = [_adopted(GUARDED, "a"), _adopted(SHORTER, "b", ERIN)]
    reading = read_policy(adoptions, proofs=_proofs(digest="b"), digests=["a", "b"])
    assert (reading.in_force, reading.position, reading.adopter, reading.damage) == (SHORTER, 1, ERIN, ())
    assert reading.frozen == {}
    assert reading.blocked("production") is None


@pytest.mark.parametrize(
    ("unproven", "said", "unreachable"),
    [
        (
            Unproven("its key is gone", key_gone=True),
            ": decisions here are refused until the state's owner anchors the policy (findly-infra policy anchor)",
            False,
        ),
        (Unproven("the issuer is unreachable", unreachable=True), ": try again", True),
    ],
)
def test_an_adoption_resting_on_a_token_that_can_no_longer_be_checked_freezes_its_environments(
    unproven: Unproven, said: str, unreachable: bool
) -> None:
    audience = purpose_audience("findly-infra", ADOPT, "b")
    proofs = Proofs(T0, {("tok", GITHUB_ISSUER, audience): unproven})
    reading = read_policy([_adopted(GUARDED, "a"), _adopted(SHORTER, "b", ERIN)], proofs=proofs, digests=["a", "b"])
    assert (reading.in_force, reading.position, reading.unreachable) == (SHORTER, 1, unreachable)
    frozen = f"the adoption at _policy@1 rests on a token that can no longer be checked ({unproven.reason}){said}"
    assert reading.frozen == {"production": frozen}
    assert reading.blocked("production") == frozen
    assert reading.blocked("staging") is None


def test_the_anchor_makes_its_adoption_the_start_and_a_broken_anchor_blocks_everything() -> None:
    adoptions = [_adopted(NAMES, "a"), _adopted(GUARDED, "b"), _adopted(NAMES, "c")]
    reading = read_policy(adoptions, proofs=None, digests=["a", "b", "c"], anchored=1)
    assert reading.in_force == GUARDED
    assert (reading.position, reading.anchored, reading.trusted) == (1, 1, ())
    assert reading.damage == (
        (2, "not in force: production: erin is a name, not a proof: production takes only verified identities"),
    )
    broken = read_policy(adoptions[:1], proofs=None, digests=["a"], anchor_problem="the anchor names @9")
    assert broken.frozen == {"production": "the anchor names @9"}
    assert broken.blocked("qa") == "the anchor names @9"
    assert read_policy([], proofs=None, digests=[], anchor_problem="gone").frozen == {}


def test_verified_identities_turned_on_later_by_a_name_are_said_to_be_taken_on_trust() -> None:
    reading = read_policy([_adopted(NAMES, "a"), _adopted(GUARDED, "b")], proofs=None, digests=["a", "b"])
    assert reading.in_force == GUARDED
    assert reading.trusted[1:] == (
        "production: verified identities were turned on by erin (a name), taken on trust — nothing before could say "
        "who may: check its issuer, repositories and refs, and anchor it (findly-infra policy anchor, as the "
        "database owner)",
    )
    by_token = read_policy([_adopted(NAMES, "a"), _adopted(GUARDED, "b", ERIN)], proofs=None, digests=["a", "b"])
    assert f"turned on by {ERIN.describe()}, taken on trust" in by_token.trusted[1]


def test_the_tokens_a_reading_rests_on() -> None:
    keyed = PlatformPolicy((attrs.evolve(VERIFIED, keys_url="https://k.example/jwks"),))
    adoptions = [_adopted(keyed, "a", ERIN), _adopted(SHORTER, "b", ERIN), _adopted(NAMES, "c", ERIN)]
    untokened = _adopted(SHORTER, "d", attrs.evolve(ERIN, token=""))

    def check(digest: str, keys_url: str = "") -> ProofCheck:
        return ProofCheck("tok", GITHUB_ISSUER, purpose_audience("findly-infra", ADOPT, digest), keys_url)

    assert adoption_checks([*adoptions, untokened]) == (
        check("b", "https://k.example/jwks"),
        check("c", "https://k.example/jwks"),
        check("c"),
    )
    assert adoption_checks(adoptions, anchored=1) == (check("c", "https://k.example/jwks"), check("c"))
    assert adoption_checks([_adopted(NAMES, "a", ERIN), _adopted(NAMES, "b", ERIN)]) == ()


def test_a_files_policy_for_each_environment() -> None:
    from findly_infra import load_platform_text
    from findly_infra.examples import example_platform_text

    platform = load_platform_text(example_platform_text())
    policy = PlatformPolicy.of(platform)
    assert policy.names == ("development", "staging", "production")
    assert policy.environments[0] == EnvironmentPolicy("development")
    assert policy.environments[1] == EnvironmentPolicy(
        "staging", entered_from="development", required_tests=("integration", "smoke", "unit")
    )
    production = platform.environment("production")
    edited = attrs.evolve(
        production,
        identity=RULES,
        approvers=("security-team", "ghost"),
        approval_expires_after=Duration.of(hours=8),
    )
    platform = attrs.evolve(
        platform,
        environments=tuple(edited if e.name == "production" else e for e in platform.environments),
        approver_groups=(ApproverGroup("security-team", ("dave", "Carol"), (("dave", "4"), ("Carol", "3"))),),
        github_oidc=OidcSettings(GITHUB_ISSUER, "aud", "https://k.example/jwks"),
    )
    assert EnvironmentPolicy.of(platform, "production") == EnvironmentPolicy(
        "production",
        approval_required=True,
        groups=(
            ApproverGroup("security-team", ("Carol", "dave"), (("Carol", "3"), ("dave", "4"))),
            ApproverGroup("ghost", ()),
        ),
        approval_expires_after=Duration.of(hours=8).milliseconds,
        identity=RULES,
        issuer=GITHUB_ISSUER,
        audience="aud",
        keys_url="https://k.example/jwks",
        entered_from="staging",
        required_tests=("e2e", "load", "performance", "security"),
    )


# ---- the last rules the mutation run found unpinned ------------------------------------------------------------------


def test_a_groups_members_and_ids_are_put_in_one_order_without_case() -> None:
    from findly_infra.domain.policy import _normal_group

    group = ApproverGroup("devops", ("Bob", "alice"), (("Bob", "2"), ("alice", "1")))
    assert _normal_group(group) == ApproverGroup("devops", ("alice", "Bob"), (("alice", "1"), ("Bob", "2")))


def test_every_difference_is_named_in_its_own_environment_and_lists_are_joined() -> None:
    narrower = attrs.evolve(VERIFIED, identity=IdentityPolicy(verified=True, repositories=("findly/infra",)))
    (change,) = narrower.changes(VERIFIED)
    assert str(change) == "production: refs are restricted to refs/heads/main"
    more = attrs.evolve(BASE, required_tests=("a", "b", "e2e"))
    assert [what for what, *_ in _changes(more, attrs.evolve(BASE, required_tests=("c", "d", "e2e")))] == [
        "a version no longer needs a, b passed to enter",
        "a version also needs c, d passed to enter",
    ]
    wide = attrs.evolve(VERIFIED, identity=IdentityPolicy(verified=True, refs=("a", "b", "c")))
    narrow = attrs.evolve(VERIFIED, identity=IdentityPolicy(verified=True, refs=("a",)))
    assert [what for what, *_ in _changes(wide, narrow)] == ["refs no longer accept b, c"]
    ids = attrs.evolve(VERIFIED, identity=IdentityPolicy(verified=True, repository_ids=("5",)))
    assert _changes(ids, attrs.evolve(ids, identity=IdentityPolicy(verified=True, repository_ids=("5", "6")))) == [
        ("repository ids also accept 6", True, True, False)
    ]


def test_each_member_of_a_group_is_compared() -> None:
    old = attrs.evolve(
        BASE, groups=(ApproverGroup("devops", ("alice", "bob", "carol"), (("bob", "2"), ("carol", "3"))),)
    )
    new = attrs.evolve(BASE, groups=(ApproverGroup("devops", ("bob", "carol"), (("bob", "2"), ("carol", "9"))),))
    assert [what for what, *_ in _changes(old, new)] == [
        "alice leaves devops",
        "carol of devops is account 9, not 3",
    ]


def test_a_refusal_names_every_guarded_change_and_every_blocked_environment() -> None:
    staging = EnvironmentPolicy("staging", approval_required=True, entered_from="development")
    in_force = PlatformPolicy((staging, BASE))
    proposed = PlatformPolicy(
        (attrs.evolve(staging, approval_required=False, entered_from=None), attrs.evolve(BASE, approval_required=False))
    )
    refused = _adopt(in_force, proposed, actor="mallory", identity=ERIN)
    assert refused.blocked == ("staging", "production")
    assert refused.refusal is not None
    assert (
        "(staging: approvals are no longer required; staging: it no longer needs a version to succeed in development "
        "first; production: approvals are no longer required), which takes effect only from a run the policy in force "
        "accepts (staging: anyone named (names are trusted here: nothing can be proven) — and here mallory is acting, "
        "but the token proves erin; production: anyone named"
    ) in refused.refusal.message


def test_a_guard_that_fails_keeps_its_own_reason_even_where_the_state_is_anchored() -> None:
    looser = PlatformPolicy((attrs.evolve(BASE, approval_required=False),))
    refused = _adopt(NAMES, looser, actor="mallory", identity=ERIN, anchored=True)
    assert refused.refusal is not None
    assert "— and here mallory is acting, but the token proves erin)" in refused.refusal.message


def test_every_environment_is_judged_whatever_the_one_before_found() -> None:
    staging = EnvironmentPolicy("staging")
    in_force = PlatformPolicy((staging, BASE))
    proposed = PlatformPolicy((attrs.evolve(staging, entered_from="development"), VERIFIED))
    refused = _adopt(in_force, proposed, anchored=True)  # staging: a strengthening; production: verified turned on
    assert refused.blocked == ("production",)
    weaker = PlatformPolicy((attrs.evolve(staging, approval_expires_after=1), VERIFIED))
    assert _adopt(in_force, weaker, anchored=True).blocked == ("production",)


def test_reading_judges_only_guarded_changes_and_goes_on_after_damage() -> None:
    looser = PlatformPolicy((attrs.evolve(BASE, approval_required=False),))
    stronger = PlatformPolicy((attrs.evolve(BASE, approval_required=True, entered_from=None),))
    by_mallory = attrs.evolve(_adopted(stronger, "b", ERIN), actor="mallory")
    reading = read_policy([_adopted(looser, "a"), by_mallory], proofs=None, digests=["a", "b"])
    assert reading.damage == ((1, "not in force: production: mallory is acting, but the token proves erin"),)
    only_stronger = attrs.evolve(_adopted(NAMES, "b", ERIN), actor="mallory")
    reading = read_policy([_adopted(looser, "a"), only_stronger], proofs=None, digests=["a", "b"])
    assert (reading.in_force, reading.position, reading.damage, reading.adopter) == (NAMES, 1, (), None)
    adoptions = [_adopted(GUARDED, "a"), _adopted(SHORTER, "b"), _adopted(SHORTER, "c", ERIN)]
    reading = read_policy(adoptions, proofs=_proofs(digest="c"), digests=["a", "b", "c"])
    assert (reading.in_force, reading.position) == (SHORTER, 2)
    assert [position for position, _ in reading.damage] == [1]


def test_reading_keeps_the_adopter_and_the_anchor_for_the_guards_after_them() -> None:
    later = attrs.evolve(ERIN, run_id="300", token="tok300")
    adoptions = [_adopted(GUARDED, "a"), _adopted(SHORTER, "b", later), _adopted(GUARDED, "c", ERIN)]
    proofs = _proofs(later, digest="b").merged(_proofs(ERIN, digest="c"))
    reading = read_policy(adoptions, proofs=proofs, digests=["a", "b", "c"])
    assert (reading.in_force, reading.adopter) == (SHORTER, later)
    assert reading.damage == (
        (
            2,
            "not in force: production: run 200 is older than run 300, which adopted the policy in force: a re-run of "
            "an old run carries its old platform file; adopt from a new run",
        ),
    )
    anchored = read_policy([_adopted(NAMES, "a"), _adopted(GUARDED, "b")], proofs=None, digests=["a", "b"], anchored=0)
    assert anchored.in_force == NAMES
    assert anchored.damage == (
        (
            1,
            "not in force: production: the state is anchored: only its owner turns verified identities on where names "
            "were trusted (findly-infra policy anchor, with the database owner's credentials)",
        ),
    )


def test_damage_in_two_environments_is_named_for_each() -> None:
    staging = attrs.evolve(VERIFIED, environment="staging")
    held = PlatformPolicy((staging, VERIFIED))
    shorter = PlatformPolicy(tuple(attrs.evolve(p, approval_expires_after=1) for p in held.environments))
    reading = read_policy([_adopted(held, "a"), _adopted(shorter, "b")], proofs=None, digests=["a", "b"])
    assert reading.damage == (
        (
            1,
            "not in force: staging: erin is a name, not a proof: staging takes only verified identities; production: "
            "erin is a name, not a proof: production takes only verified identities",
        ),
    )


def test_a_guard_that_can_no_longer_be_checked_does_not_stop_the_next_environments() -> None:
    staging = attrs.evolve(VERIFIED, environment="staging", audience="a1")
    held = PlatformPolicy((staging, VERIFIED))
    shorter = PlatformPolicy(tuple(attrs.evolve(p, approval_expires_after=1) for p in held.environments))
    gone = Proofs(T0, {("tok", GITHUB_ISSUER, purpose_audience("a1", ADOPT, "b")): Unproven("gone", key_gone=True)})
    reading = read_policy(
        [_adopted(held, "a"), _adopted(shorter, "b", ERIN)], proofs=gone.merged(_proofs(digest="b")), digests=["a", "b"]
    )
    assert (reading.in_force, reading.adopter) == (shorter, ERIN)
    assert list(reading.frozen) == ["staging"]


def test_the_tokens_a_reading_rests_on_are_each_asked_once() -> None:
    both = PlatformPolicy((attrs.evolve(VERIFIED, environment="staging"), VERIFIED))
    checks = adoption_checks([_adopted(both, "a", ERIN), _adopted(both, "b", ERIN)])
    assert checks == (ProofCheck("tok", GITHUB_ISSUER, purpose_audience("findly-infra", ADOPT, "b"), ""),)


def test_an_anchored_state_still_takes_a_weakening_from_someone_named_where_names_are_trusted() -> None:
    """The anchor only keeps a name from turning verified identities on; anything else is judged as before."""
    looser = PlatformPolicy((attrs.evolve(BASE, approval_required=False),))
    adopted = _adopt(NAMES, looser, anchored=True)
    assert adopted.refusal is None
    assert adopted.event is not None
