"""The rules of ``domain.proofs``, pinned (issue 23): the purpose audience a token is asked for (exact, so that a token
kept for one approval proves nothing of another), what a recorded identity proves once its token was checked, and
how two checks' findings merge. Fast and in-process: they run for every mutant."""

from __future__ import annotations

import re
from datetime import datetime

import attrs
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.identity import GITHUB_ISSUER, VerifiedIdentity
from findly_infra.domain.proofs import ADOPT, APPROVE, PROMOTE, ProofCheck, Proofs, Proven, Unproven, purpose_audience

T0 = datetime(2026, 3, 2, 9)
ERIN = VerifiedIdentity(
    login="erin",
    user_id="42",
    repository="findly/infra",
    ref="refs/heads/main",
    workflow_ref="findly/infra/.github/workflows/release.yml@refs/heads/main",
    run_id="1001",
    environment="",
    issuer=GITHUB_ISSUER,
    token_id="jti-1",
    token="t.o.k",
)


def test_a_purpose_audience_is_the_audience_the_action_and_a_digest_of_the_subject() -> None:
    """The first 32 hex digits of SHA-256 over the subject as a JSON list (golden values: a change here orphans every
    token already kept)."""
    assert (APPROVE, PROMOTE, ADOPT) == ("approve", "promote", "adopt")
    assert purpose_audience("findly-infra", APPROVE, "fn-posts", "1.4.0", "production") == (
        "findly-infra:approve:75e27099f412d8ac9a4e9e9c4a5f14d1"
    )
    assert purpose_audience("findly-infra", ADOPT, "abc") == "findly-infra:adopt:02f393ea9358560882c1fe797bf99d60"
    assert purpose_audience("a", "b") == "a:b:4f53cda18c2baa0c0354bb5f9a3ecbe5"


@given(st.lists(st.text(max_size=5), max_size=3), st.lists(st.text(max_size=5), max_size=3))
def test_a_purpose_audience_is_short_and_names_one_subject(one: list[str], other: list[str]) -> None:
    audience = purpose_audience("findly-infra", APPROVE, *one)
    assert re.fullmatch(r"findly-infra:approve:[0-9a-f]{32}", audience)
    assert (audience == purpose_audience("findly-infra", APPROVE, *other)) is (one == other)


def test_a_check_is_found_by_its_token_issuer_and_audience() -> None:
    check = ProofCheck("t", "i", "a", "https://k")
    assert check.key == ("t", "i", "a")
    assert ProofCheck("t", "i", "a").keys_url == ""


def test_what_an_identity_proves() -> None:
    proven = Proven(ERIN, T0)
    gone = Unproven("signed by a key no longer published", key_gone=True)
    proofs = Proofs(T0, {("t.o.k", "iss", "aud"): proven, ("t.o.k", "iss", "other"): gone})
    assert proofs.of(ERIN, "iss", "aud") is proven
    assert proofs.of(ERIN, "iss", "other") is gone
    assert proofs.of(ERIN, "iss", "third") == Unproven("its proof was not checked")
    assert proofs.of(ERIN, "other-issuer", "aud") == Unproven("its proof was not checked")
    assert proofs.of(None, "iss", "aud") == Unproven("a name, not a proof")
    assert proofs.of(attrs.evolve(ERIN, token=""), "iss", "aud") == Unproven(
        "recorded without its token (before tokens were kept, or written by hand)"
    )
    assert (gone.key_gone, gone.unreachable) == (True, False)
    assert Unproven("x") == Unproven("x", key_gone=False, unreachable=False)


def test_merged_proofs_take_the_later_check_time_and_results() -> None:
    first = Proofs(T0, {("a", "i", "x"): Unproven("unreachable", unreachable=True), ("b", "i", "x"): Proven(ERIN, T0)})
    later = datetime(2026, 3, 2, 10)
    second = Proofs(later, {("a", "i", "x"): Proven(ERIN, T0)})
    merged = first.merged(second)
    assert merged.checked_at == later
    assert merged.checked == {("a", "i", "x"): Proven(ERIN, T0), ("b", "i", "x"): Proven(ERIN, T0)}
    assert Proofs(T0).checked == {}
