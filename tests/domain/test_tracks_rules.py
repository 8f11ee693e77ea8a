"""The rules of ``domain.tracks``, pinned: which Deployment runs which version with which share, for each strategy and
moment of a rollout (Flagger's primary/canary pattern: the primary ``<service>`` serves and keeps its selector; the
secondary ``<service>-canary``/``-green`` runs the candidate, then goes to zero), the preview header of a blue-green
candidate before cutover, and what a cluster that carried the plan out holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.environment import StrategyKind
from findly_infra.domain.state import Phase, Rollout
from findly_infra.domain.tracks import TRACKS, Holding, Track, TrackPlan, expected_holding, track_plan
from findly_infra.domain.view import EnvironmentView, Share

AT = datetime(2026, 1, 5, 9, tzinfo=UTC)
CANARY, BLUE_GREEN, ROLLING = StrategyKind.CANARY, StrategyKind.BLUE_GREEN, StrategyKind.ROLLING


def view(
    *,
    serving: tuple[str, int] | None = None,
    candidate: tuple[str, int] | None = None,
    strategy: StrategyKind | None = None,
    phase: Phase = Phase.PROGRESSING,
) -> EnvironmentView:
    rollout = None
    if strategy is not None:
        rollout = Rollout(candidate[0] if candidate else "2.0.0", serving[0] if serving else None, strategy, phase, AT)
    return EnvironmentView(
        "fn-posts",
        "prod",
        phase,
        Share(*serving) if serving else None,
        Share(*candidate) if candidate else None,
        rollout,
        None,
        None,
    )


def test_each_strategys_tracks() -> None:
    assert TRACKS[CANARY] == (("stable", ""), ("canary", "-canary"))
    assert TRACKS[BLUE_GREEN] == (("stable", ""), ("green", "-green"))
    assert TRACKS[ROLLING] == (("stable", ""),)
    assert Track("canary", "-canary", "2.0.0", 5).deployment("fn-posts") == "fn-posts-canary"


def test_a_canary_in_progress_keeps_the_previous_version_on_the_primary() -> None:
    plan = track_plan(view(serving=("1.0.0", 95), candidate=("2.0.0", 5), strategy=CANARY), ROLLING)
    assert plan == TrackPlan(
        "fn-posts",
        "prod",
        CANARY,
        (Track("stable", "", "1.0.0", 95), Track("canary", "-canary", "2.0.0", 5)),
    )
    assert plan.primary == Track("stable", "", "1.0.0", 95)
    assert plan.weights() == {"1.0.0": 95, "2.0.0": 5}
    assert plan.holding() == Holding({"fn-posts": "1.0.0", "fn-posts-canary": "2.0.0"}, {"1.0.0": 95, "2.0.0": 5})
    assert plan.holding().describe() == "fn-posts 1.0.0 (95%), fn-posts-canary 2.0.0 (5%)"


def test_a_blue_green_candidate_before_cutover_is_previewed_by_header() -> None:
    plan = track_plan(view(serving=("1.0.0", 100), candidate=("2.0.0", 0), strategy=BLUE_GREEN), ROLLING)
    assert plan.tracks == (Track("stable", "", "1.0.0", 100), Track("green", "-green", "2.0.0", 0))
    assert plan.preview == "2.0.0"
    assert plan.weights() == {"1.0.0": 100}
    holding = plan.holding()
    assert holding == Holding({"fn-posts": "1.0.0", "fn-posts-green": "2.0.0"}, {"1.0.0": 100}, "2.0.0")
    assert holding.describe() == "fn-posts 1.0.0 (100%), fn-posts-green 2.0.0 (0%), preview: 2.0.0"
    after = track_plan(view(serving=("1.0.0", 0), candidate=("2.0.0", 100), strategy=BLUE_GREEN), ROLLING)
    assert after.preview is None
    assert after.weights() == {"2.0.0": 100}
    # a canary at 0% is not previewed: the header is blue-green's
    canary = track_plan(view(serving=("1.0.0", 100), candidate=("2.0.0", 0), strategy=CANARY), ROLLING)
    assert canary.preview is None


def test_a_first_release_runs_on_the_primary() -> None:
    plan = track_plan(view(candidate=("1.0.0", 0), strategy=BLUE_GREEN), ROLLING)
    assert plan == TrackPlan(
        "fn-posts", "prod", BLUE_GREEN, (Track("stable", "", "1.0.0", 0), Track("green", "-green", None, 0)), "1.0.0"
    )
    assert plan.weights() == {}
    # nothing is routed, but a mesh sends every request somewhere: the primary takes it
    assert plan.holding() == Holding({"fn-posts": "1.0.0"}, {"1.0.0": 100}, "1.0.0")
    canary = track_plan(view(candidate=("1.0.0", 10), strategy=CANARY), ROLLING)
    assert canary.tracks == (Track("stable", "", "1.0.0", 10), Track("canary", "-canary", None, 0))
    assert canary.preview is None
    assert canary.holding() == Holding({"fn-posts": "1.0.0"}, {"1.0.0": 10})
    # a canary's first release at 0% is not previewed either
    assert track_plan(view(candidate=("1.0.0", 0), strategy=CANARY), ROLLING).preview is None


@pytest.mark.parametrize("phase", [Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.ABORTED])
def test_after_a_rollout_the_primary_takes_all_the_traffic(phase: Phase) -> None:
    plan = track_plan(view(serving=("1.0.0", 100), candidate=("2.0.0", 0), strategy=CANARY, phase=phase), ROLLING)
    assert plan == TrackPlan(
        "fn-posts", "prod", CANARY, (Track("stable", "", "1.0.0", 100), Track("canary", "-canary", None, 0))
    )
    assert plan.preview is None
    assert plan.holding() == Holding({"fn-posts": "1.0.0"}, {"1.0.0": 100})


def test_the_strategy_is_the_rollouts_else_the_environments() -> None:
    idle = view(serving=("1.0.0", 100))
    assert track_plan(idle, BLUE_GREEN).tracks == (Track("stable", "", "1.0.0", 100), Track("green", "-green", None, 0))
    assert track_plan(idle, ROLLING).tracks == (Track("stable", "", "1.0.0", 100),)
    nothing = view()
    assert track_plan(nothing, CANARY).tracks == (Track("stable", "", None, 0), Track("canary", "-canary", None, 0))
    assert track_plan(nothing, ROLLING).tracks == (Track("stable", "", None, 0),)
    assert track_plan(nothing, ROLLING).holding() == Holding({}, {})
    assert Holding().describe() == "nothing runs"


def test_a_rolling_update_runs_one_track() -> None:
    moving = view(serving=("1.0.0", 100), candidate=("2.0.0", 100), strategy=ROLLING)
    assert track_plan(moving, CANARY) == TrackPlan("fn-posts", "prod", ROLLING, (Track("stable", "", "2.0.0", 100),))
    done = view(serving=("2.0.0", 100), candidate=("3.0.0", 100), strategy=ROLLING, phase=Phase.ROLLED_BACK)
    assert track_plan(done, ROLLING).tracks == (Track("stable", "", "2.0.0", 100),)
    first = view(candidate=("1.0.0", 100), strategy=ROLLING)
    assert track_plan(first, ROLLING).tracks == (Track("stable", "", "1.0.0", 100),)
    no_candidate = view(serving=("1.0.0", 100), strategy=ROLLING)
    assert track_plan(no_candidate, ROLLING).tracks == (Track("stable", "", "1.0.0", 100),)


def test_expected_holding_is_the_same_whatever_the_configured_strategy() -> None:
    moving = view(serving=("1.0.0", 90), candidate=("2.0.0", 10), strategy=CANARY)
    assert expected_holding(moving) == track_plan(moving, ROLLING).holding()
    idle = view(serving=("1.0.0", 100))
    assert expected_holding(idle) == Holding({"fn-posts": "1.0.0"}, {"1.0.0": 100})
    assert expected_holding(view()) == Holding()


def test_weights_add_up_per_version_and_leave_zero_out() -> None:
    plan = TrackPlan(
        "fn-posts",
        "prod",
        CANARY,
        (Track("stable", "", "1.0.0", 60), Track("canary", "-canary", "1.0.0", 40), Track("x", "-x", "2.0.0", 0)),
    )
    assert plan.weights() == {"1.0.0": 100}
    assert TrackPlan("s", "e", CANARY, (Track("stable", "", None, 50),)).weights() == {}
    assert TrackPlan("s", "e", CANARY, (Track("stable", "", "1", 99), Track("c", "-c", "2", 1))).weights() == {
        "1": 99,
        "2": 1,
    }
    assert Holding({"b": "1", "a": "2"}, {"1": 30}).describe() == "a 2 (0%), b 1 (30%)"


@given(st.integers(0, 100), st.sampled_from([CANARY, BLUE_GREEN]), st.sampled_from(list(Phase)))
def test_a_plan_routes_what_the_log_routes(weight: int, strategy: StrategyKind, phase: Phase) -> None:
    subject = view(serving=("1.0.0", 100 - weight), candidate=("2.0.0", weight), strategy=strategy, phase=phase)
    plan = track_plan(subject, ROLLING)
    if phase.active:
        assert plan.weights() == {v: w for v, w in (("1.0.0", 100 - weight), ("2.0.0", weight)) if w > 0}
        assert plan.holding().running == {"fn-posts": "1.0.0", plan.tracks[1].deployment("fn-posts"): "2.0.0"}
        assert (plan.preview == "2.0.0") is (strategy is BLUE_GREEN and weight == 0)
    else:
        assert plan.weights() == {"1.0.0": 100}  # not active: the serving version takes everything, whatever it had
        assert plan.preview is None
