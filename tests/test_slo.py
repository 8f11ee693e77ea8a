"""Error-budget arithmetic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain import Duration, ErrorBudgetStatement, Percentage, SLATarget, SLODefinition
from findly_infra.domain.slo import AvailabilityObjective
from findly_infra.testing.strategies import durations, percentages, sla_targets

MONTH = Duration.of(days=30)
ratios = st.floats(0, 1, allow_nan=False)


def test_99_9_percent_over_30_days_is_43_2_minutes() -> None:
    target = SLATarget(Percentage(99.9), MONTH)
    assert target.error_budget == Duration.of(minutes=43.2)
    assert target.error_budget.describe() == "43.2 minutes"
    assert target.burn_rate(0.001) == pytest.approx(1.0)
    assert target.budget_remaining(0.0) == 1.0
    assert target.budget_remaining(0.0005) == pytest.approx(0.5)
    assert target.budget_remaining_time(0.0005) == Duration.of(minutes=21.6)
    assert target.is_exhausted(0.002)
    assert target.budget_remaining_time(0.002) == Duration(0)


@given(percentages(exclusive=True), percentages(exclusive=True), durations(min_ms=60_000, max_ms=10**11))
def test_a_stricter_objective_never_has_a_larger_budget(a: Percentage, b: Percentage, window: Duration) -> None:
    low, high = sorted([a, b])
    assert SLATarget(high, window).error_budget <= SLATarget(low, window).error_budget


@given(percentages(exclusive=True), durations(min_ms=60_000, max_ms=10**11), durations(min_ms=60_000, max_ms=10**11))
def test_a_longer_window_never_has_a_smaller_budget(objective: Percentage, a: Duration, b: Duration) -> None:
    short, long = sorted([a, b])
    assert SLATarget(objective, short).error_budget <= SLATarget(objective, long).error_budget


@given(sla_targets(), ratios, ratios)
def test_more_errors_burn_faster_and_leave_less(target: SLATarget, a: float, b: float) -> None:
    low, high = sorted([a, b])
    assert target.burn_rate(low) <= target.burn_rate(high)
    assert target.budget_remaining(low) >= target.budget_remaining(high)
    assert target.budget_remaining_time(low) >= target.budget_remaining_time(high)


@given(sla_targets())
def test_spending_exactly_the_allowed_ratio_burns_at_one_and_leaves_nothing(target: SLATarget) -> None:
    assert target.burn_rate(target.allowed_error_ratio) == pytest.approx(1.0)
    assert target.budget_remaining(target.allowed_error_ratio) == pytest.approx(0.0, abs=1e-9)
    assert target.budget_remaining(0.0) == 1.0


@given(sla_targets(), st.one_of(st.floats(allow_nan=True).filter(lambda x: not 0 <= x <= 1), st.just(float("nan"))))
def test_impossible_error_ratios_are_refused(target: SLATarget, ratio: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        target.burn_rate(ratio)


@given(sla_targets())
def test_a_stated_budget_that_matches_is_accepted(target: SLATarget) -> None:
    slo = SLODefinition(
        "a", AvailabilityObjective(target.objective), target.window, ErrorBudgetStatement(target.error_budget)
    )
    assert slo.stated_budget_disagreement() is None


@given(sla_targets(), st.floats(0.02, 0.9) | st.floats(1.02, 50))
def test_a_stated_budget_off_by_more_than_one_percent_is_named(target: SLATarget, factor: float) -> None:
    stated = target.error_budget * factor
    if (
        stated.milliseconds == 0
        or abs(stated.milliseconds - target.error_budget.milliseconds) <= 0.01 * target.error_budget.milliseconds
    ):
        return
    slo = SLODefinition("a", AvailabilityObjective(target.objective), target.window, ErrorBudgetStatement(stated))
    message = slo.stated_budget_disagreement()
    assert message is not None
    assert "disagrees" in message
