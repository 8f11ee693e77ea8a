"""The rules of ``domain.approvals``, pinned (issue 23): which approvals count toward a promotion under the policy in
force — bound to the version asked for, not expired (at the boundary too), for a group that still approves, by a
member (by account id where both sides have one), by neither the requester nor the promoter, and, where identities
are verified, proven by a token for its own purpose, of a first attempt, issued within the expiry and not before the
request — each discount in its exact words; one approval per group and per person, the largest such choice; which
tokens a count rests on. Fast and in-process: they run for every mutant."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.approvals import (
    ApprovalCount,
    Discounted,
    count_approvals,
    proof_checks,
    request_proven,
    same_actor,
)
from findly_infra.domain.environment import ApproverGroup
from findly_infra.domain.identity import GITHUB_ISSUER, IdentityPolicy, VerifiedIdentity
from findly_infra.domain.policy import EnvironmentPolicy
from findly_infra.domain.proofs import APPROVE, PROMOTE, ProofCheck, Proofs, Proven, Unproven, purpose_audience
from findly_infra.domain.state import Approval, EnvironmentState, PendingRequest

T0 = datetime(2026, 3, 2, 9)
DAY = timedelta(days=1)
DEVOPS = ApproverGroup("devops", ("alice", "bob"), (("bob", "1002"),))
SRE = ApproverGroup("sre", ("carol", "alice"))
NAMES = EnvironmentPolicy("production", approval_required=True, groups=(DEVOPS, SRE))
REQUEST = PendingRequest("2.0.0", "erin", T0)


def _count(
    policy: EnvironmentPolicy, *approvals: Approval, request: PendingRequest | None = REQUEST, **kwargs: object
) -> ApprovalCount:
    state = EnvironmentState(requested=request, approvals=approvals)
    return count_approvals(policy, state, "2.0.0", T0 + timedelta(hours=1), **kwargs)  # type: ignore[arg-type]


def _approval(approver: str, group: str, *, at: datetime = T0, version: str = "2.0.0", **kwargs: object) -> Approval:
    return Approval(version, group, approver, at, **kwargs)  # type: ignore[arg-type]


def test_same_actor_is_by_account_id_when_both_are_known_and_by_login_otherwise() -> None:
    assert same_actor("alice", "1", "ALICE", "1")
    assert same_actor("alice", "1", "renamed", "1")
    assert not same_actor("alice", "1", "alice", "2")
    assert same_actor("alice", None, "Alice", "2")
    assert same_actor("alice", "1", "ALICE", None)
    assert not same_actor("alice", None, "bob", None)


# ---- where names are trusted ----------------------------------------------------------------------------------------


def test_nothing_is_needed_where_approvals_are_not_required() -> None:
    assert _count(attrs.evolve(NAMES, approval_required=False), _approval("alice", "devops")) == ApprovalCount()


def test_every_group_is_missing_until_this_version_is_asked_for() -> None:
    assert _count(NAMES, _approval("alice", "devops"), request=None) == ApprovalCount(missing=("devops", "sre"))
    other = PendingRequest("1.9.0", "erin", T0)
    assert _count(NAMES, _approval("alice", "devops"), request=other) == ApprovalCount(missing=("devops", "sre"))


def test_one_approval_per_group_by_different_people_counts() -> None:
    alice, carol = _approval("alice", "devops"), _approval("carol", "sre")
    counted = _count(NAMES, carol, alice, _approval("dave", "devops", version="1.0.0"))
    assert counted == ApprovalCount((alice, carol), (carol, alice), (), ())
    assert counted.describe_discounted() == ""


@given(st.integers(-3, 3))
def test_an_approval_expires_once_it_is_as_old_as_the_policy_says(milliseconds: int) -> None:
    approval = _approval("alice", "devops", at=T0 + timedelta(hours=1) - DAY - timedelta(milliseconds=milliseconds))
    counted = _count(NAMES, approval)
    if milliseconds >= 0:
        assert counted.discounted == (Discounted(approval, "expired (an approval lasts 1 day)"),)
    else:
        assert counted.counted == (approval,)


def test_each_reason_an_approval_does_not_count_is_said() -> None:
    gone = _approval("alice", "qa")
    outsider = _approval("mallory", "devops")
    requester = _approval("BOB", "devops")
    promoter = _approval("carol", "sre")
    bobs = PendingRequest("2.0.0", "bob", T0)
    counted = _count(NAMES, gone, outsider, requester, promoter, promoter=("Carol", None), request=bobs)
    assert counted.discounted == (
        Discounted(gone, "qa no longer approves production"),
        Discounted(outsider, "mallory is not a member of devops"),
        Discounted(requester, "BOB asked for this promotion"),
        Discounted(promoter, "carol is promoting it"),
    )
    assert counted.missing == ("devops", "sre")
    assert counted.describe_discounted() == (
        "; not counted: alice's approval for qa (2026-03-02T09:00:00): qa no longer approves production; "
        "mallory's approval for devops (2026-03-02T09:00:00): mallory is not a member of devops; "
        "BOB's approval for devops (2026-03-02T09:00:00): BOB asked for this promotion; "
        "carol's approval for sre (2026-03-02T09:00:00): carol is promoting it"
    )


def test_one_person_counts_for_one_group_and_the_largest_choice_is_made() -> None:
    alice_devops, alice_sre = _approval("alice", "devops"), _approval("alice", "sre")
    counted = _count(NAMES, alice_sre, alice_devops)
    assert counted.counted == (alice_devops,)  # the policy's first group she can fill
    assert counted.discounted == (Discounted(alice_sre, "alice counts for devops already (one person, one group)"),)
    assert counted.missing == ("sre",)
    carol = _approval("carol", "sre")
    counted = _count(NAMES, alice_sre, carol, alice_devops)  # alice moves to devops so that carol fills sre
    assert counted.counted == (alice_devops, carol)
    assert counted.discounted == ()
    assert counted.missing == ()


PEOPLE = ("alice", "bob", "carol", "ALICE")


@given(st.lists(st.tuples(st.sampled_from(PEOPLE), st.sampled_from(("devops", "sre"))), max_size=5))
def test_the_count_is_a_largest_matching_of_people_to_groups(pairs: list[tuple[str, str]]) -> None:
    approvals = [_approval(person, group, at=T0 + timedelta(minutes=i)) for i, (person, group) in enumerate(pairs)]
    counted = _count(NAMES, *approvals)
    members = {"devops": {"alice", "bob"}, "sre": {"carol", "alice"}}
    valid = [(p.casefold(), g) for p, g in pairs if p.casefold() in members[g]]
    best = 0
    for devops in [None, *{p for p, g in valid if g == "devops"}]:
        for sre in [None, *{p for p, g in valid if g == "sre"}]:
            if devops is None or sre is None or devops != sre:
                best = max(best, (devops is not None) + (sre is not None))
    assert len(counted.counted) == best
    assert len({a.approver.casefold() for a in counted.counted}) == best
    assert [a.group for a in counted.counted] == [
        g for g in ("devops", "sre") if g in {a.group for a in counted.counted}
    ]
    assert set(counted.missing) == {"devops", "sre"} - {a.group for a in counted.counted}
    judged = set(counted.valid) | {d.approval for d in counted.discounted}
    assert judged == set(approvals)
    assert set(counted.counted) <= set(counted.valid)


def test_a_member_given_with_an_id_is_that_account_where_identities_are_verified() -> None:
    approval = _approval("bob", "devops", approver_id="999", identity=_identity("bob", "999", token="b"))
    counted = _verified_count(approval, proofs=_proofs(("b", APPROVE, "bob", "999")))
    assert counted.discounted == (Discounted(approval, "devops has bob as account 1002, and this was account 999"),)


# ---- where identities are verified ---------------------------------------------------------------------------------

SERVICE = "fn-posts"
VERIFIED = attrs.evolve(
    NAMES, identity=IdentityPolicy(verified=True, refs=("refs/heads/main",)), issuer=GITHUB_ISSUER, audience="aud"
)


def _identity(login: str, user_id: str, *, token: str, **changes: str) -> VerifiedIdentity:
    identity = VerifiedIdentity(
        login=login,
        user_id=user_id,
        repository="findly/infra",
        ref="refs/heads/main",
        workflow_ref="findly/infra/.github/workflows/release.yml@refs/heads/main",
        run_id="1001",
        environment="",
        issuer=GITHUB_ISSUER,
        token_id=f"jti-{token}",
        token=token,
    )
    return attrs.evolve(identity, **changes)


_REQUEST = PendingRequest("2.0.0", "erin", T0, "7", _identity("erin", "7", token="r"))


def _proofs(
    *tokens: tuple[str, str, str, str], issued: datetime = T0, at: datetime = T0 + timedelta(hours=1), **changes: str
) -> Proofs:
    """Each (token, purpose, login, id) proven, issued at *issued*; the request's token too."""
    checked: dict[tuple[str, str, str], Proven | Unproven] = {}
    request = purpose_audience("aud", PROMOTE, SERVICE, "2.0.0", "production")
    checked[("r", GITHUB_ISSUER, request)] = Proven(_identity("erin", "7", token="r"), issued)
    for token, purpose, login, user_id in tokens:
        audience = purpose_audience("aud", purpose, SERVICE, "2.0.0", "production")
        checked[(token, GITHUB_ISSUER, audience)] = Proven(_identity(login, user_id, token=token, **changes), issued)
    return Proofs(at, checked)


def _verified_count(*approvals: Approval, proofs: Proofs | None, **kwargs: object) -> ApprovalCount:
    return _count(VERIFIED, *approvals, request=_REQUEST, proofs=proofs, service=SERVICE, **kwargs)


def test_a_proven_approval_counts() -> None:
    alice = _approval("alice", "devops", approver_id="11", identity=_identity("alice", "11", token="a"))
    counted = _verified_count(alice, proofs=_proofs(("a", APPROVE, "alice", "11")))
    assert counted.counted == (alice,)
    assert counted.missing == ("sre",)


def test_a_request_not_proven_lets_no_approval_count() -> None:
    alice = _approval("alice", "devops", identity=_identity("alice", "11", token="a"))
    counted = _verified_count(alice, proofs=None)
    assert counted.discounted == (Discounted(alice, "its token does not prove it: its proof was not checked"),)
    proofs = _proofs(("a", APPROVE, "alice", "11"))
    unproven = Proofs(proofs.checked_at, {k: v for k, v in proofs.checked.items() if k[0] != "r"})
    assert _verified_count(alice, proofs=unproven).discounted == (
        Discounted(
            alice,
            "the request for this promotion (erin) is not proven (its proof was not checked): ask for it again "
            "(findly-infra promote) and approve after it",
        ),
    )


def test_each_reason_a_verified_approval_does_not_count_is_said() -> None:
    named = _approval("alice", "devops")
    unchecked = _approval("carol", "sre", identity=_identity("carol", "12", token="c"))
    other = _approval("alice", "devops", identity=_identity("alice", "11", token="a"))
    renamed = _approval("alice", "devops", approver_id="10", identity=_identity("alice", "11", token="a2"))
    gone = _approval("carol", "sre", identity=_identity("carol", "12", token="g"))
    proofs = _proofs(("a", APPROVE, "bob", "1002"), ("a2", APPROVE, "alice", "11"))
    proofs = attrs.evolve(
        proofs,
        checked={
            **proofs.checked,
            ("g", GITHUB_ISSUER, purpose_audience("aud", APPROVE, SERVICE, "2.0.0", "production")): Unproven(
                "its key is gone", key_gone=True
            ),
        },
    )
    counted = _verified_count(named, unchecked, other, renamed, gone, proofs=proofs)
    assert counted.discounted == (
        Discounted(named, "a name, not a verified identity, and production takes only verified identities"),
        Discounted(unchecked, "its token does not prove it: its proof was not checked"),
        Discounted(other, "recorded as alice, and its token proves bob (id 1002)"),
        Discounted(renamed, "recorded as alice, and its token proves alice (id 11)"),
        Discounted(gone, "its token does not prove it: its key is gone; approve again"),
    )


def test_a_verified_approval_is_judged_on_what_its_token_proves() -> None:
    alice = _approval("alice", "devops", identity=_identity("alice", "11", token="a"))
    one = ("a", APPROVE, "alice", "11")
    said = {
        "issuer": (
            _proofs(one, issuer="https://other.example"),
            f"proven by https://other.example, not {GITHUB_ISSUER}",
        ),
        "refs": (
            _proofs(one, ref="refs/heads/dev"),
            "the workflow ran on refs/heads/dev (claim ref), not refs/heads/main",
        ),
        "re-run": (
            _proofs(one, run_attempt="2"),
            "its token is from run 1001 attempt 2, a re-run: GitHub gives a re-run the identity of the run's first "
            "actor, whoever re-ran it",
        ),
        "old": (
            _proofs(one, issued=T0 - timedelta(hours=23)),
            "expired: its token was issued at 2026-03-01T10:00:00, and an approval lasts 1 day",
        ),
    }
    for proofs, reason in said.values():
        assert _verified_count(alice, proofs=proofs).discounted == (Discounted(alice, reason),)
    fresh = _proofs(one, issued=T0 - timedelta(hours=23) + timedelta(milliseconds=1))
    assert _verified_count(alice, proofs=fresh).counted == (alice,)


def test_an_approval_whose_token_is_older_than_the_requests_approves_an_earlier_request() -> None:
    alice = _approval("alice", "devops", identity=_identity("alice", "11", token="a"))
    proofs = _proofs(("a", APPROVE, "alice", "11"))
    request_key = next(key for key in proofs.checked if key[0] == "r")
    later = Proven(_identity("erin", "7", token="r"), T0 + timedelta(seconds=1))
    early = attrs.evolve(proofs, checked={**proofs.checked, request_key: later})
    assert _verified_count(alice, proofs=early).discounted == (
        Discounted(
            alice,
            "its token was issued at 2026-03-02T09:00:00, before the request it would approve "
            "(2026-03-02T09:00:01): an approval of an earlier request",
        ),
    )
    same = attrs.evolve(proofs, checked={**proofs.checked, request_key: Proven(later.identity, T0)})
    assert _verified_count(alice, proofs=same).counted == (alice,)


def test_the_requester_and_the_promoter_are_known_by_their_account() -> None:
    alice = _approval("alice", "devops", identity=_identity("alice", "7", token="a"))
    proofs = _proofs(("a", APPROVE, "alice", "7"))  # erin's account, renamed alice
    assert _verified_count(alice, proofs=proofs).discounted == (Discounted(alice, "alice asked for this promotion"),)
    carol = _approval("carol", "sre", identity=_identity("carol", "12", token="c"))
    proofs = _proofs(("c", APPROVE, "carol", "12"))
    assert _verified_count(carol, proofs=proofs, promoter=("someone", "12")).discounted == (
        Discounted(carol, "carol is promoting it"),
    )
    assert _verified_count(carol, proofs=proofs, promoter=("carol", "13")).counted == (carol,)


def test_one_account_counts_once_however_its_login_is_written() -> None:
    alice = _approval("alice", "devops", identity=_identity("alice", "11", token="a"))
    again = _approval("Alice", "sre", identity=_identity("Alice", "11", token="b"))
    proofs = _proofs(("a", APPROVE, "alice", "11"), ("b", APPROVE, "Alice", "11"))
    counted = _verified_count(alice, again, proofs=proofs)
    assert counted.counted == (alice,)
    assert counted.discounted == (Discounted(again, "Alice counts for devops already (one person, one group)"),)


def _request_proofs(**changes: str) -> Proofs:
    audience = purpose_audience("aud", PROMOTE, SERVICE, "2.0.0", "production")
    return Proofs(T0, {("r", GITHUB_ISSUER, audience): Proven(_identity("erin", "7", token="r", **changes), T0)})


def test_whether_a_request_is_proven() -> None:
    assert request_proven(NAMES, REQUEST, SERVICE, None) is None
    assert request_proven(VERIFIED, _REQUEST, SERVICE, None) == "its proof was not checked"
    assert request_proven(VERIFIED, _REQUEST, SERVICE, _proofs()) is None
    assert request_proven(VERIFIED, attrs.evolve(_REQUEST, requested_by="mallory"), SERVICE, _proofs()) == (
        "recorded as mallory's, and its token proves erin"
    )
    assert request_proven(VERIFIED, _REQUEST, SERVICE, _request_proofs(issuer="https://other.example")) == (
        f"proven by https://other.example, not {GITHUB_ISSUER}"
    )
    assert request_proven(VERIFIED, _REQUEST, SERVICE, _request_proofs(ref="refs/heads/x")) == (
        "the workflow ran on refs/heads/x (claim ref), not refs/heads/main"
    )
    assert request_proven(VERIFIED, _REQUEST, "other-service", _proofs()) == "its proof was not checked"


def test_the_tokens_a_count_rests_on() -> None:
    alice = _approval("alice", "devops", identity=_identity("alice", "11", token="a"))
    twice = _approval("alice", "sre", identity=_identity("alice", "11", token="a"))
    older = _approval("bob", "devops", version="1.0.0", identity=_identity("bob", "1002", token="o"))
    untokened = _approval("carol", "sre", identity=_identity("carol", "12", token=""))
    approvals = (alice, twice, older, untokened, _approval("dave", "sre"))

    def check(token: str, purpose: str) -> ProofCheck:
        return ProofCheck(token, GITHUB_ISSUER, purpose_audience("aud", purpose, SERVICE, "2.0.0", "production"))

    assert proof_checks(VERIFIED, SERVICE, "production", _REQUEST, approvals) == (
        check("r", PROMOTE),
        check("a", APPROVE),
    )
    keyed = attrs.evolve(VERIFIED, keys_url="https://k.example/jwks")
    assert proof_checks(keyed, SERVICE, "production", _REQUEST, ())[0].keys_url == "https://k.example/jwks"
    named_request = attrs.evolve(_REQUEST, identity=None)
    assert proof_checks(VERIFIED, SERVICE, "production", named_request, approvals) == (check("a", APPROVE),)
    assert proof_checks(VERIFIED, SERVICE, "production", None, approvals) == ()
    assert proof_checks(NAMES, SERVICE, "production", _REQUEST, approvals) == ()


# ---- the last rules the mutation run found unpinned ------------------------------------------------------------------


def test_an_approval_of_another_version_listed_first_does_not_stop_the_count() -> None:
    alice = _approval("alice", "devops")
    counted = _count(NAMES, _approval("carol", "sre", version="1.0.0"), alice)
    assert counted.counted == (alice,)
    assert counted.discounted == ()


def test_recorded_account_ids_decide_even_where_names_are_trusted() -> None:
    renamed = _approval("alice", "devops", approver_id="7")  # erin's account, under another login
    by_id = PendingRequest("2.0.0", "erin", T0, "7")
    assert _count(NAMES, renamed, request=by_id).discounted == (Discounted(renamed, "alice asked for this promotion"),)
    bob = _approval("bob", "devops", approver_id="999")
    assert _count(NAMES, bob).discounted == (
        Discounted(bob, "devops has bob as account 1002, and this was account 999"),
    )
    outsider = _approval("mallory", "devops", approver_id="5")
    assert _count(NAMES, outsider).discounted == (Discounted(outsider, "mallory is not a member of devops"),)


def test_where_names_are_trusted_a_person_is_their_login_whatever_ids_were_recorded() -> None:
    alice, again = _approval("alice", "devops", approver_id="11"), _approval("ALICE", "sre", approver_id="12")
    counted = _count(NAMES, alice, again)
    assert counted.counted == (alice,)
    assert counted.discounted == (Discounted(again, "ALICE counts for devops already (one person, one group)"),)


def test_where_identities_are_verified_a_person_is_their_account_whatever_their_login() -> None:
    one = _approval("alice", "devops", identity=_identity("alice", "11", token="a"))
    other = _approval("alice", "sre", identity=_identity("alice", "12", token="b"))  # the login, taken by another
    proofs = _proofs(("a", APPROVE, "alice", "11"), ("b", APPROVE, "alice", "12"))
    assert _verified_count(one, other, proofs=proofs).counted == (one, other)


def test_a_request_whose_token_proves_another_or_a_run_not_accepted_lets_no_approval_count() -> None:
    alice = _approval("alice", "devops", identity=_identity("alice", "11", token="a"))
    proofs = _proofs(("a", APPROVE, "alice", "11"))
    request = attrs.evolve(_REQUEST, requested_by="mallory")
    counted = _count(VERIFIED, alice, request=request, proofs=proofs, service=SERVICE)
    assert counted.discounted == (
        Discounted(
            alice,
            "the request for this promotion (mallory) is not proven (recorded as mallory's, and its token proves "
            "erin): ask for it again (findly-infra promote) and approve after it",
        ),
    )


def test_a_count_for_no_named_service_checks_tokens_for_that_subject() -> None:
    audience = purpose_audience("aud", PROMOTE, "", "2.0.0", "production")
    approve = purpose_audience("aud", APPROVE, "", "2.0.0", "production")
    alice = _approval("alice", "devops", identity=_identity("alice", "11", token="a"))
    proofs = Proofs(
        T0 + timedelta(hours=1),
        {
            ("r", GITHUB_ISSUER, audience): Proven(_identity("erin", "7", token="r"), T0),
            ("a", GITHUB_ISSUER, approve): Proven(_identity("alice", "11", token="a"), T0),
        },
    )
    assert _count(VERIFIED, alice, request=_REQUEST, proofs=proofs).counted == (alice,)
