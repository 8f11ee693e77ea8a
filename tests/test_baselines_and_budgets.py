"""Criteria relative to the current version, and error budgets as measured: the domain's rules, property-tested."""

from __future__ import annotations

import math
from datetime import datetime

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from findly_infra import load_platform
from findly_infra.application.ports import DependencyUnavailableError
from findly_infra.application.service import PipelineService, PolicyRefusedError
from findly_infra.domain import (
    BURN_WINDOWS,
    Comparison,
    Duration,
    InvariantError,
    MetricCriterion,
    Observation,
    RelativeThreshold,
    RolloutStarted,
    SLATarget,
    SLODefinition,
    StrategyKind,
    Threshold,
    Verdict,
    budget_status,
    judge_criteria,
    parse_objective,
)
from findly_infra.testing import (
    HEALTHY,
    SCENARIOS,
    MemoryErrorBudgets,
    MemoryEventStore,
    ScriptedMetrics,
    SimulatedCluster,
    VirtualClock,
    simulate,
)
from findly_infra.testing.strategies import relative_thresholds, sla_targets

from .conftest import EXAMPLE

values = st.floats(0, 100, allow_nan=False)
enough = st.integers(100, 10**6).map(float)


def criterion(threshold: RelativeThreshold) -> MetricCriterion:
    return MetricCriterion("latency_p95", threshold)


@given(relative_thresholds(), values, values, enough, enough)
def test_a_relative_criterion_judges_as_the_threshold_says(
    threshold: RelativeThreshold, new: float, current: float, requests: float, current_requests: float
) -> None:
    verdict, (reading,) = judge_criteria(
        (criterion(threshold),),
        Observation({"requests": requests, "latency_p95": new}),
        100,
        Observation({"requests": current_requests, "latency_p95": current}),
    )
    assert verdict is (Verdict.PASS if threshold.holds_for(new, current) else Verdict.FAIL)
    assert reading.verdict is verdict
    assert reading.threshold.startswith(threshold.format())


@given(relative_thresholds(), values)
def test_no_worse_than_nothing_is_no_worse(threshold: RelativeThreshold, factor_noise: float) -> None:
    assert threshold.holds_for(0.0, 0.0)
    assume(factor_noise > 0)
    assert not threshold.holds_for(factor_noise, 0.0)  # any error where there were none is worse


@given(
    relative_thresholds(),
    values,
    st.sampled_from(["nan current", "quiet current", "nan new", "quiet new"]),
)
def test_a_comparison_without_evidence_on_either_side_is_inconclusive(
    threshold: RelativeThreshold, value: float, missing: str
) -> None:
    new = {"requests": 1000.0, "latency_p95": value}
    current = {"requests": 1000.0, "latency_p95": value}
    side, what = missing.split()[1], missing.split(maxsplit=1)[0]
    chosen = current if side == "current" else new
    if what == "nan":
        chosen["latency_p95"] = math.nan
    else:
        chosen["requests"] = 99.0
    verdict, _ = judge_criteria((criterion(threshold),), Observation(new), 100, Observation(current))
    assert verdict is Verdict.INCONCLUSIVE


@given(relative_thresholds(), values)
def test_a_first_release_leaves_relative_criteria_out(threshold: RelativeThreshold, value: float) -> None:
    fixed = MetricCriterion("error_rate", Threshold.parse("< 0.5%"))
    observation = Observation({"requests": 1000.0, "latency_p95": value, "error_rate": 0.001})
    verdict, readings = judge_criteria((fixed, criterion(threshold)), observation, 100, baseline=None)
    assert [r.metric for r in readings] == ["error_rate"]
    assert verdict is Verdict.PASS
    alone, none = judge_criteria((criterion(threshold),), observation, 100, baseline=None)
    assert (alone, none) == (Verdict.INCONCLUSIVE, ())  # nothing judged is never a pass


def test_a_latency_regression_fails_against_the_current_version() -> None:
    criteria = (MetricCriterion("latency_p95", RelativeThreshold(Comparison.LT, 1.2)),)
    current = Observation({"requests": 5000.0, "latency_p95": 0.30})
    slower = Observation({"requests": 500.0, "latency_p95": 0.40})
    verdict, (reading,) = judge_criteria(criteria, slower, 100, current)
    assert (verdict, reading.threshold) == (Verdict.FAIL, "< 1.2x current = 360ms")
    assert judge_criteria(criteria, Observation({"requests": 500.0, "latency_p95": 0.33}), 100, current)[0] is (
        Verdict.PASS
    )


# ---- error budgets as measured ------------------------------------------------------------------------

ratios = st.floats(0, 1, allow_nan=False)


@given(sla_targets(), ratios, st.lists(ratios, min_size=4, max_size=4))
def test_a_budget_status_is_the_targets_arithmetic(target: SLATarget, ratio: float, window_ratios: list[float]) -> None:
    slo = SLODefinition("availability", parse_objective(target.objective.format()), target.window)
    status = budget_status(slo, ratio, list(zip(BURN_WINDOWS, window_ratios, strict=True)))
    allowed = status.target.allowed_error_ratio
    assert status.measured
    assert status.sli == pytest.approx(1 - ratio)
    assert status.remaining == pytest.approx(1 - ratio / allowed)
    assert status.exhausted == (status.remaining <= 0)
    assert status.remaining_time is not None
    assert status.remaining_time.milliseconds <= status.target.error_budget.milliseconds
    assert (status.remaining_time.milliseconds == 0) or not status.exhausted
    for (window, burn), measured in zip(status.burn_rates, window_ratios, strict=True):
        assert burn == pytest.approx(measured / allowed)
        assert window in BURN_WINDOWS


@given(sla_targets())
def test_no_traffic_is_unmeasured_and_spends_nothing(target: SLATarget) -> None:
    slo = SLODefinition("availability", parse_objective(target.objective.format()), target.window)
    status = budget_status(slo, math.nan, [(BURN_WINDOWS[0], math.nan)])
    assert not status.measured
    assert not status.exhausted
    assert math.isnan(status.remaining)
    assert status.remaining_time is None
    assert math.isnan(status.burn_rates[0][1])
    assert "no traffic" in status.describe()


def test_float_noise_at_the_ends_is_clamped_and_impossible_ratios_refused() -> None:
    slo = SLODefinition("latency", parse_objective("95% of requests < 200ms"), Duration.of(minutes=5))
    assert budget_status(slo, -1e-12).error_ratio == 0.0
    assert budget_status(slo, 1 + 1e-12).error_ratio == 1.0
    with pytest.raises(ValueError, match="between 0 and 1"):
        budget_status(slo, 1.5)


def test_a_capacity_target_has_no_budget() -> None:
    slo = SLODefinition("throughput", parse_objective("1000 requests/second capacity"), Duration.of(minutes=1))
    with pytest.raises(InvariantError, match="capacity target"):
        budget_status(slo, 0.0)


def test_a_simulated_canary_held_to_the_current_version_rolls_back_a_regression() -> None:
    platform = load_platform(EXAMPLE)
    canary = platform.canary_strategy
    assert canary is not None
    relative = tuple(
        MetricCriterion(c.metric, RelativeThreshold(Comparison.LT, 1.2)) if c.metric == "latency_p95" else c
        for c in canary.success_criteria
    )
    platform = attrs.evolve(platform, canary_strategy=attrs.evolve(canary, success_criteria=relative))
    healthy = simulate(platform, "fn-posts", "production", SCENARIOS["healthy"], strategy=StrategyKind.CANARY, seed=7)
    assert healthy.outcome == "succeeded"
    slower = simulate(
        platform, "fn-posts", "production", SCENARIOS["latency-regression"], strategy=StrategyKind.CANARY, seed=7
    )
    assert slower.outcome == "rolled_back"
    readings = [r for e in slower.events for r in getattr(e, "readings", ()) if r.metric == "latency_p95"]
    failed = [r for r in readings if r.verdict is Verdict.FAIL]
    assert failed
    assert all(r.threshold.startswith("< 1.2x current = ") for r in failed)


# ---- the promotion gate, through the use cases with in-memory budgets ------------------------------------


def _service(budgets: MemoryErrorBudgets) -> PipelineService:
    return PipelineService(
        load_platform(EXAMPLE),
        MemoryEventStore(),
        VirtualClock(datetime(2026, 11, 1, 12)),
        ScriptedMetrics(lambda _query: HEALTHY),
        SimulatedCluster(),
        budgets=budgets,
    )


PRINTABLE = st.characters(exclude_categories=("Cc", "Cf", "Cn", "Co", "Cs", "Zl", "Zp", "Zs"))
"""What a recorded reason may hold besides the space (domain.identifiers; the rest is tested in test_contract)."""

SLOS = {
    "availability": SLODefinition("availability", parse_objective("99.9%"), Duration.of(days=30)),
    "latency": SLODefinition("latency", parse_objective("95% of requests < 200ms"), Duration.of(minutes=5)),
}


@given(
    st.dictionaries(st.sampled_from(sorted(SLOS)), st.floats(0, 1) | st.just(math.nan)),
    st.none() | st.text(PRINTABLE | st.just(" "), max_size=12),
)
def test_the_gate_refuses_exactly_when_a_measured_budget_is_spent_and_no_reason_is_given(
    ratios: dict[str, float], reason: str | None
) -> None:
    statuses = tuple(budget_status(SLOS[name], ratio) for name, ratio in ratios.items())
    budgets = MemoryErrorBudgets({("fn-posts", "development"): statuses})
    service = _service(budgets)
    spent = [s.slo.name for s in statuses if s.exhausted]
    given_reason = (reason or "").strip()
    if spent and not given_reason:
        with pytest.raises(PolicyRefusedError) as refused:
            service.deploy("fn-posts", "1.0.0", "development", actor="erin", budget_override=reason)
        assert refused.value.refusal.rule == "error-budget"
        assert all(name in str(refused.value) for name in spent)  # each spent budget is named
        assert service.history("fn-posts") == []  # nothing recorded
    else:
        service.deploy("fn-posts", "1.0.0", "development", actor="erin", budget_override=reason)
        (started,) = [e for e in service.history("fn-posts") if isinstance(e, RolloutStarted)]
        assert started.budget_override == (given_reason if spent else None)
    assert budgets.reads == 1


def test_budgets_are_read_only_when_every_other_rule_allows_the_version_in() -> None:
    budgets = MemoryErrorBudgets(down=True)
    service = _service(budgets)
    with pytest.raises(PolicyRefusedError, match="promotion-order"):
        service.deploy("fn-posts", "1.0.0", "staging", actor="erin")
    assert budgets.reads == 0  # refused by order first: no need to read, nor to fail on, the budgets


def test_unreadable_budgets_stop_the_promotion_unless_a_reason_is_recorded() -> None:
    service = _service(MemoryErrorBudgets(down=True))
    with pytest.raises(DependencyUnavailableError, match="error-budget gate"):
        service.deploy("fn-posts", "1.0.0", "development", actor="erin")
    assert service.history("fn-posts") == []
    service.deploy("fn-posts", "1.0.0", "development", actor="erin", budget_override="INC-9")
    (started,) = [e for e in service.history("fn-posts") if isinstance(e, RolloutStarted)]
    assert started.budget_override == "INC-9"
    assert "budgets unknown" in started.reason
