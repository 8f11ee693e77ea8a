"""The rules of ``domain.slo``, pinned: the error-budget arithmetic of the SRE Workbook (budget = (1 - objective) x
window; burn rate = bad ratio / allowed ratio), the four forms of an objective and of an alerting threshold, what
each definition refuses, a stated budget's agreement with its target, and a measured status in plain words."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.errors import InvariantError
from findly_infra.domain.notation import (
    Comparison,
    Duration,
    ErrorBudgetStatement,
    LatencyObjective,
    NotationError,
    Percentage,
    Threshold,
)
from findly_infra.domain.slo import (
    AvailabilityObjective,
    BudgetReport,
    BudgetStatus,
    CapacityStatus,
    ErrorRateObjective,
    SLATarget,
    SLODefinition,
    ThroughputObjective,
    budget_status,
    parse_alerting_threshold,
    parse_objective,
)

MONTH = Duration.of(days=30)
NINES = SLATarget(Percentage(99.9), MONTH)


def test_the_budget_arithmetic() -> None:
    assert NINES.allowed_error_ratio == pytest.approx(0.001)
    assert NINES.error_budget == Duration(2_592_000)  # 43.2 minutes
    assert NINES.burn_rate(0.001) == pytest.approx(1)
    assert NINES.burn_rate(0.002) == pytest.approx(2)
    assert NINES.budget_remaining(0.0005) == pytest.approx(0.5)
    assert NINES.budget_remaining(0.002) == pytest.approx(-1)
    assert NINES.budget_remaining_time(0.0005) == Duration(1_296_000)
    assert NINES.budget_remaining_time(0.002) == Duration(0)
    assert NINES.is_exhausted(0.001) is True
    assert NINES.is_exhausted(0.0009) is False
    assert NINES.is_exhausted(0) is False
    half = SLATarget(Percentage(50), MONTH)  # an allowed ratio of exactly 0.5: spent exactly at 0.5
    assert (half.is_exhausted(0.5), half.is_exhausted(0.25)) == (True, False)
    assert NINES.burn_rate(0) == 0
    assert NINES.burn_rate(1) == pytest.approx(1000)
    for bad in (-0.1, 1.1, math.nan):
        with pytest.raises(ValueError, match=r"^an error ratio lies between 0 and 1, got"):
            NINES.burn_rate(bad)


def test_a_target_lies_strictly_between_0_and_100_percent_over_a_positive_window() -> None:
    for percent in (0, 100):
        with pytest.raises(InvariantError, match=r"an objective lies strictly between 0% and 100%"):
            SLATarget(Percentage(percent), MONTH)
    with pytest.raises(InvariantError, match=r"^an SLO window is a positive time") as window:
        SLATarget(Percentage(99), Duration(0))
    assert window.value.field == "window"
    assert SLATarget(Percentage(0.001), Duration(1)).window == Duration(1)
    assert SLATarget(Percentage(99.999), Duration(1)).objective == Percentage(99.999)


@given(st.floats(0.01, 99.99), st.integers(1, 10**11), st.floats(0, 1))
def test_the_budget_burns_in_proportion(percent: float, window: int, ratio: float) -> None:
    target = SLATarget(Percentage(percent), Duration(window))
    allowed = (100 - percent) / 100
    assert target.allowed_error_ratio == pytest.approx(allowed)
    assert target.error_budget == Duration(round(window * allowed))
    assert target.burn_rate(ratio) == pytest.approx(ratio / allowed)
    assert target.budget_remaining(ratio) == pytest.approx(1 - ratio / allowed)
    assert target.is_exhausted(ratio) is (target.budget_remaining(ratio) <= 0)
    left = target.budget_remaining(ratio)
    assert target.budget_remaining_time(ratio) == Duration(max(0, round(target.error_budget.milliseconds * left)))


def test_objectives_in_their_four_forms() -> None:
    assert parse_objective("99.9%") == AvailabilityObjective(Percentage(99.9))
    assert parse_objective(99.5) == AvailabilityObjective(Percentage(99.5))
    assert parse_objective("99.9% uptime") == AvailabilityObjective(Percentage(99.9))
    assert parse_objective("99.9%  availability") == AvailabilityObjective(Percentage(99.9))
    assert parse_objective("99.9% available") == AvailabilityObjective(Percentage(99.9))
    assert parse_objective("95% of requests < 200ms") == LatencyObjective(Percentage(95), Duration(200))
    assert parse_objective("95% OF REQUESTS < 200ms") == LatencyObjective(Percentage(95), Duration(200))
    assert parse_objective("< 0.1% error rate") == ErrorRateObjective(Threshold(Comparison.LT, Percentage(0.1)))
    assert parse_objective("<= 1% errors") == ErrorRateObjective(Threshold(Comparison.LE, Percentage(1)))
    assert parse_objective("< 1%") == ErrorRateObjective(Threshold(Comparison.LT, Percentage(1)))
    assert parse_objective("1000 requests/second capacity") == ThroughputObjective(1000.0)
    assert parse_objective("50 rps") == ThroughputObjective(50.0)
    assert parse_objective("2.5 req/s") == ThroughputObjective(2.5)
    example = "'99.9%', '95% of requests < 200ms', '< 0.1% error rate' or '1000 requests/second capacity'"
    for bad in ("> 1% error rate", "soon", "", True, None, "95% of requests < soon", "< soon error rate"):
        with pytest.raises(NotationError) as error:
            parse_objective(bad)
        assert str(error.value) == f"expected an objective such as {example}, got {bad!r}"


def test_objectives_written() -> None:
    assert AvailabilityObjective(Percentage(99.9)).format() == "99.9%"
    assert ErrorRateObjective(Threshold(Comparison.LT, Percentage(0.1))).format() == "< 0.1% error rate"
    assert ThroughputObjective(1000.0).format() == "1000 requests/second capacity"
    assert ThroughputObjective(2.5).format() == "2.5 requests/second capacity"


def test_alerting_thresholds() -> None:
    assert parse_alerting_threshold("90% of requests < 200ms") == LatencyObjective(Percentage(90), Duration(200))
    assert parse_alerting_threshold("> 0.5% error rate") == Threshold(Comparison.GT, Percentage(0.5))
    assert parse_alerting_threshold(">  0.5%   errors") == Threshold(Comparison.GT, Percentage(0.5))
    assert parse_alerting_threshold("> 80% capacity utilization") == Threshold(Comparison.GT, Percentage(80))
    assert parse_alerting_threshold("> 80% utilisation") == Threshold(Comparison.GT, Percentage(80))
    assert parse_alerting_threshold("> 80% capacity") == Threshold(Comparison.GT, Percentage(80))
    for bad in ("soon", 5, None, "90% of requests < soon"):
        with pytest.raises(NotationError) as error:
            parse_alerting_threshold(bad)
        assert str(error.value) == (
            f"expected an alerting threshold such as '90% of requests < 200ms' or '> 0.5% error rate', got {bad!r}"
        )


def definition(target: object, **fields: object) -> SLODefinition:
    return SLODefinition("availability", target, MONTH, **fields)  # type: ignore[arg-type]


def test_what_a_definition_refuses() -> None:
    def refused(build: object) -> tuple[str, str | int | None]:
        with pytest.raises(InvariantError) as error:
            build()  # type: ignore[operator]
        return str(error.value).split(" (")[0], error.value.field

    assert refused(lambda: SLODefinition("a", AvailabilityObjective(Percentage(99)), Duration(0))) == (
        "the measurement window is a positive time",
        "measurement_window",
    )
    for percent in (0, 100):
        message, field = refused(lambda p=percent: definition(AvailabilityObjective(Percentage(p))))
        assert message.startswith("an availability target lies between 0% and 100%, got")
        assert field == "target"
    assert refused(lambda: definition(ErrorRateObjective(Threshold(Comparison.LT, 0.5)))) == (
        "an error-rate target is a percentage, such as '< 0.1% error rate'",
        "target",
    )
    for percent in (0, 100):
        message, field = refused(
            lambda p=percent: definition(ErrorRateObjective(Threshold(Comparison.LT, Percentage(p))))
        )
        assert message.startswith("an error-rate target lies between 0% and 100%, got")
        assert field == "target"
    assert refused(lambda: definition(ThroughputObjective(0))) == (
        "a throughput target is above zero requests per second",
        "target",
    )
    assert definition(ThroughputObjective(0.1)).sla_target is None
    assert definition(AvailabilityObjective(Percentage(0.5))).target == AvailabilityObjective(Percentage(0.5))
    assert definition(ErrorRateObjective(Threshold(Comparison.LT, Percentage(99.9)))).target is not None


def test_each_objective_as_a_share_of_good_events() -> None:
    assert definition(AvailabilityObjective(Percentage(99.9))).sla_target == NINES
    assert definition(LatencyObjective(Percentage(95), Duration(200))).sla_target == SLATarget(Percentage(95), MONTH)
    error_rate = definition(ErrorRateObjective(Threshold(Comparison.LT, Percentage(0.5))))
    assert error_rate.sla_target == SLATarget(Percentage(99.5), MONTH)
    assert definition(ThroughputObjective(100)).sla_target is None


def test_a_stated_budget_agrees_with_its_target_within_one_percent() -> None:
    nines = AvailabilityObjective(Percentage(99.9))
    assert definition(nines).stated_budget_disagreement() is None
    assert (
        definition(nines, error_budget=ErrorBudgetStatement(Duration(2_592_000))).stated_budget_disagreement() is None
    )
    # 1% of 2,592,000 ms is 25,920 ms: at the edge it agrees, past it it does not
    assert (
        definition(nines, error_budget=ErrorBudgetStatement(Duration(2_617_920))).stated_budget_disagreement() is None
    )
    assert (
        definition(nines, error_budget=ErrorBudgetStatement(Duration(2_566_080))).stated_budget_disagreement() is None
    )
    assert definition(nines, error_budget=ErrorBudgetStatement(Duration(2_617_921))).stated_budget_disagreement() == (
        "the stated error budget 2617921ms disagrees with the target: 99.9% over the 30 days window (30 days) "
        "leaves 43.2 minutes"
    )
    assert definition(nines, error_budget=ErrorBudgetStatement(Duration(2_566_079))).stated_budget_disagreement()
    weekly = definition(nines, error_budget=ErrorBudgetStatement(Duration.of(minutes=43.2), "week"))
    assert weekly.stated_budget_disagreement() == (
        "the stated error budget 43.2 minutes/week disagrees with the target: 99.9% over a week (7 days) leaves "
        "10.08 minutes"
    )
    assert (
        definition(nines, error_budget=ErrorBudgetStatement(Duration(604_800), "week")).stated_budget_disagreement()
        is None
    )
    capacity = definition(ThroughputObjective(100), error_budget=ErrorBudgetStatement(Duration(1)))
    assert capacity.stated_budget_disagreement() is None
    # a budget of zero where the target leaves under a millisecond: compared against 1 ms
    tiny = SLODefinition("a", AvailabilityObjective(Percentage(99.99)), Duration(1), ErrorBudgetStatement(Duration(0)))
    assert tiny.stated_budget_disagreement() is None
    tiny_off = SLODefinition(
        "a", AvailabilityObjective(Percentage(99.99)), Duration(1), ErrorBudgetStatement(Duration(2))
    )
    assert tiny_off.stated_budget_disagreement() is not None


AVAILABILITY = definition(AvailabilityObjective(Percentage(99.9)))


def test_a_measured_status() -> None:
    status = budget_status(AVAILABILITY, 0.0005, [(Duration.of(hours=1), 0.002), (Duration.of(days=3), math.nan)])
    assert status.error_ratio == 0.0005
    assert status.measured is True
    assert status.sli == pytest.approx(0.9995)
    assert status.remaining == pytest.approx(0.5)
    assert status.remaining_time == Duration(1_296_000)
    assert status.exhausted is False
    assert status.target == NINES
    assert status.burn_rates[0] == (Duration.of(hours=1), pytest.approx(2))
    assert status.burn_rates[1][0] == Duration.of(days=3)
    assert math.isnan(status.burn_rates[1][1])
    assert status.describe() == (
        "availability: 99.9500% good over 30 days (objective 99.9%), budget 50% of the 43.2 minutes left"
    )
    spent = budget_status(AVAILABILITY, 0.001)
    assert spent.exhausted is True
    assert spent.describe() == "availability: 99.9000% good over 30 days (objective 99.9%), budget spent"
    assert budget_status(AVAILABILITY, 1.0).remaining == pytest.approx(-999)


def test_an_unmeasured_status_spends_nothing() -> None:
    status = budget_status(AVAILABILITY, math.nan)
    assert status.measured is False
    assert math.isnan(status.remaining)
    assert math.isnan(status.sli)
    assert status.remaining_time is None
    assert status.exhausted is False
    assert status.describe() == "availability: no traffic over 30 days"


def test_measured_ratios_are_clamped_within_float_noise_and_refused_beyond() -> None:
    assert BudgetStatus(AVAILABILITY, 1 + 1e-10).error_ratio == 1.0
    assert BudgetStatus(AVAILABILITY, -1e-10).error_ratio == 0.0
    assert BudgetStatus(AVAILABILITY, 1 + 1e-9).error_ratio == 1.0
    assert BudgetStatus(AVAILABILITY, -1e-9).error_ratio == 0.0
    for bad in (1.1, -0.1, 1 + 2e-9, -2e-9):
        with pytest.raises(ValueError, match=r"^a ratio of bad events lies between 0 and 1, got"):
            BudgetStatus(AVAILABILITY, bad)
    with pytest.raises(ValueError, match=r"^a ratio of bad events"):
        budget_status(AVAILABILITY, 0.5, [(Duration.of(hours=1), 1.5)])
    assert budget_status(AVAILABILITY, 0.5, [(Duration.of(hours=1), 1 + 1e-10)]).burn_rates[0][1] == pytest.approx(1000)


def test_a_capacity_target_has_no_budget() -> None:
    capacity = SLODefinition("capacity", ThroughputObjective(200), MONTH)
    with pytest.raises(InvariantError) as error:
        budget_status(capacity, 0.1)
    assert str(error.value).startswith("the capacity SLO is a capacity target: it has no error budget")
    with pytest.raises(InvariantError) as direct:
        BudgetStatus(capacity, 0.1)
    assert str(direct.value).startswith("the capacity SLO is a capacity target: it has no error budget")
    assert CapacityStatus(capacity, 150).utilization == 0.75
    assert math.isnan(CapacityStatus(capacity, math.nan).utilization)


def test_a_report_names_the_budgets_spent() -> None:
    spent, fine = budget_status(AVAILABILITY, 0.002), budget_status(AVAILABILITY, 0.0001)
    report = BudgetReport("fn-posts", "prod", datetime(2026, 1, 1, tzinfo=UTC), (fine, spent), ())
    assert report.spent == (spent,)
    assert BudgetReport("fn-posts", "prod", datetime(2026, 1, 1, tzinfo=UTC), (fine,), ()).spent == ()
