"""The lease rules of ``domain.lease``, pinned one by one: who holds a rollout's lease after each ask, its fencing token
(one more each time the lease changes hands, never on a renewal), which writes a fence admits, and a release that
keeps the token. Pure and fast: the mutation run (``nox -s mutation``) selects this file."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.lease import Fence, Lease, lease_after, released

T0 = datetime(2026, 11, 26, 9, 0)
TTL = timedelta(minutes=3)
HOLDERS = st.sampled_from(["a", "b", "c"])
SECONDS = st.integers(0, 400)


def test_a_lease_kept_before_tokens_were_has_token_0() -> None:
    assert Lease("a", T0).token == 0


@given(st.integers(-5, 5))
def test_a_lease_is_live_strictly_before_it_expires(seconds: int) -> None:
    lease = Lease("a", T0, 3)
    assert lease.live(T0 + timedelta(seconds=seconds)) is (seconds < 0)
    assert lease.live(T0 - timedelta(microseconds=1))
    assert not lease.live(T0)


def test_a_lease_says_who_holds_it_and_until_when_to_the_second() -> None:
    assert Lease("runner-1:42 [id 9f]", T0 + timedelta(microseconds=5), 7).describe() == (
        "runner-1:42 [id 9f] (until 2026-11-26T09:00:00)"
    )


@given(HOLDERS, st.integers(0, 10**6), st.sampled_from(["development", "production"]))
def test_a_leases_fence_is_its_holder_and_token_for_one_environment(holder: str, token: int, environment: str) -> None:
    assert Lease(holder, T0, token).fence(environment) == Fence(environment, holder, token)


@given(HOLDERS, SECONDS)
def test_a_lease_never_held_is_taken_with_token_1(holder: str, seconds: int) -> None:
    now = T0 + timedelta(seconds=seconds)
    assert lease_after(None, holder, now, TTL) == Lease(holder, now + TTL, 1)


@given(st.integers(-400, 400), st.integers(0, 50), st.integers(1, 600))
def test_a_holder_renews_its_own_lease_from_now_keeping_its_token(seconds: int, token: int, ttl: int) -> None:
    now = T0 + timedelta(seconds=seconds)  # live or run out: still the same holder, no one else wrote meanwhile
    after = lease_after(Lease("a", T0, token), "a", now, timedelta(seconds=ttl), replacing="a")
    assert after == Lease("a", now + timedelta(seconds=ttl), token)


@given(st.integers(0, 400), st.integers(0, 50))
def test_a_lease_run_out_is_taken_over_with_the_next_token(seconds: int, token: int) -> None:
    now = T0 + timedelta(seconds=seconds)  # at T0 exactly the lease has run out
    assert lease_after(Lease("a", T0, token), "b", now, TTL) == Lease("b", now + TTL, token + 1)


@given(st.integers(1, 400), st.integers(0, 50))
def test_a_live_lease_of_another_stands_unchanged(seconds: int, token: int) -> None:
    held = Lease("a", T0 + timedelta(seconds=seconds), token)
    assert lease_after(held, "b", T0, TTL) is held
    assert lease_after(held, "b", T0, TTL, replacing="c") is held  # another's death says nothing of a's


@given(st.integers(1, 400), st.integers(0, 50))
def test_a_live_lease_of_a_holder_known_dead_is_taken_over_with_the_next_token(seconds: int, token: int) -> None:
    held = Lease("a", T0 + timedelta(seconds=seconds), token)
    assert lease_after(held, "b", T0, TTL, replacing="a") == Lease("b", T0 + TTL, token + 1)


def test_a_lease_needs_a_holder_and_some_time() -> None:
    for blank in ("", " ", "\t\n"):
        with pytest.raises(ValueError, match=r"^a lease needs a holder$"):
            lease_after(None, blank, T0, TTL)
    for ttl in (timedelta(0), timedelta(seconds=-1)):
        with pytest.raises(ValueError, match=f"^{re.escape(f'a lease lasts some time, not {ttl}')}$"):
            lease_after(Lease("a", T0), "a", T0, ttl)
    assert lease_after(None, "a", T0, timedelta(microseconds=1)) == Lease("a", T0 + timedelta(microseconds=1), 1)


@given(st.lists(st.tuples(HOLDERS, SECONDS, st.booleans()), max_size=60))
def test_a_live_lease_is_never_taken_and_the_token_grows_exactly_when_it_changes_hands(
    asks: list[tuple[str, int, bool]],
) -> None:
    lease: Lease | None = None
    now = T0
    for holder, seconds, gives_up in asks:
        now += timedelta(seconds=seconds)
        if gives_up:
            after = released(lease, holder)
            if lease is not None and lease.holder == holder:
                assert after == Lease(holder, datetime.min, lease.token)  # run out at once, the token kept
            else:
                assert after is lease
        else:
            after = lease_after(lease, holder, now, TTL)
            if lease is not None and lease.live(now) and lease.holder != holder:
                assert after is lease  # someone else's live lease stands
            else:  # free, run out, or renewed: the asker's, from now
                token = 1 if lease is None else lease.token + (lease.holder != holder)
                assert after == Lease(holder, now + TTL, token)
        if lease is not None and after is not None:
            assert after.token >= lease.token  # never back: a displaced holder's fence is never admitted again
        lease = after


@given(HOLDERS, st.integers(0, 50))
def test_a_fence_admits_only_the_lease_it_was_cut_from(holder: str, token: int) -> None:
    fence = Lease(holder, T0, token).fence("production")
    assert fence.admits(Lease(holder, T0 - TTL, token))  # run out, but no one took it: still its own
    assert not fence.admits(None)
    assert not fence.admits(Lease(holder + "x", T0, token))
    assert not fence.admits(Lease(holder, T0, token + 1))
    assert not fence.admits(Lease(holder, T0, token - 1))


def test_a_refused_fence_says_what_became_of_the_lease() -> None:
    fence = Fence("production", "a", 3)
    assert fence.describe(None) == "the lease on the rollout in production is no longer kept"
    assert fence.describe(Lease("a", T0, 5)) == "the lease on the rollout in production was taken again since (token 5)"
    assert fence.describe(Lease("b", T0, 4)) == (
        "the rollout in production was taken over by b (until 2026-11-26T09:00:00)"
    )


def test_only_the_holder_releases_its_lease() -> None:
    held = Lease("a", T0, 4)
    assert released(None, "a") is None
    assert released(held, "b") is held
    assert released(held, "a") == Lease("a", datetime.min, 4)
    assert lease_after(released(held, "a"), "b", T0 - TTL, TTL) == Lease("b", T0, 5)  # free for the next, token 5
