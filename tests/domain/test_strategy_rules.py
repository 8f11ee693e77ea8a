"""The rules of ``domain.strategy``, pinned: which metrics are known and in what unit, what each strategy's parts
refuse (with the field and index named), the canary's arithmetic (time to full traffic, analyses per stage), the
traffic splits of a blue-green release, which validation steps wait for a person or for evidence, and when a
rollback trigger fires."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.errors import InvariantError
from findly_infra.domain.notation import (
    Comparison,
    Duration,
    MetricKind,
    NotationError,
    Percentage,
    RelativeThreshold,
    Threshold,
)
from findly_infra.domain.strategy import (
    AnalysisSettings,
    BlueGreenStrategy,
    BlueGreenTrafficSplit,
    CanaryStep,
    CanaryStrategy,
    FailureHandling,
    MetricCriterion,
    RollbackTrigger,
    RollingStrategy,
    TrafficSplit,
    ValidationStep,
    metric_kind,
)

KNOWN = "error_rate, cpu_utilization, memory_utilization, health_check_failures, latency_p95, latency_p99"


def refusal(build: object, *args: object, **kwargs: object) -> InvariantError:
    with pytest.raises(InvariantError) as error:
        build(*args, **kwargs)  # type: ignore[operator]
    return error.value


@pytest.mark.parametrize(
    ("metric", "kind"),
    [
        ("error_rate", MetricKind.PERCENTAGE),
        ("cpu_utilization", MetricKind.PERCENTAGE),
        ("memory_utilization", MetricKind.PERCENTAGE),
        ("health_check_failures", MetricKind.PERCENTAGE),
        ("latency_p95", MetricKind.DURATION),
        ("latency_p9", MetricKind.DURATION),
        ("latency_p99.9", MetricKind.DURATION),
        ("latency_p999", None),
        ("latency_p", None),
        ("xlatency_p95", None),
        ("latency_p95x", None),
        ("throughput", None),
    ],
)
def test_metric_kinds(metric: str, kind: MetricKind | None) -> None:
    assert metric_kind(metric) is kind


def test_criteria() -> None:
    fixed = MetricCriterion("error_rate", Threshold.parse("< 1%"))
    relative = MetricCriterion("latency_p95", RelativeThreshold.parse("< 1.2x current"))
    assert (fixed.relative, relative.relative) == (False, True)
    assert fixed.holds_for(0.005) is True
    assert fixed.holds_for(0.02) is False
    assert fixed.holds_for(0.005, 1.0) is True
    assert relative.holds_for(1.1, 1.0) is True
    assert relative.holds_for(1.3, 1.0) is False
    assert relative.holds_for(1.1) is False  # no current value: NaN never holds
    error = refusal(MetricCriterion, "throughput", Threshold.parse("< 1%"))
    assert (str(error).split(" (")[0], error.field) == (
        f"unknown metric 'throughput'; known metrics: {KNOWN}",
        "metric",
    )
    error = refusal(MetricCriterion, "latency_p95", Threshold.parse("< 1%"))
    assert str(error).startswith(
        "latency_p95 is a duration, so its threshold is written like '< 1.5 seconds'; got '< 1%'"
    )
    assert error.field == "threshold"
    error = refusal(MetricCriterion, "error_rate", Threshold.parse("< 2s"))
    assert str(error).startswith("error_rate is a percentage, so its threshold is written like '< 0.5%'; got '< 2s'")
    assert MetricCriterion("latency_p99", RelativeThreshold.parse("<= 2x current")).metric == "latency_p99"


def test_analysis_settings() -> None:
    assert AnalysisSettings(Duration(1_000), 0, 1).interval == Duration(1_000)
    error = refusal(AnalysisSettings, Duration(999))
    assert (str(error).split(" (")[0], error.field) == ("the analysis interval is at least 1s, got 999ms", "interval")
    with pytest.raises(ValueError, match="min_requests"):
        AnalysisSettings(min_requests=-1)
    with pytest.raises(ValueError, match="inconclusive_limit"):
        AnalysisSettings(inconclusive_limit=0)


def test_canary_steps() -> None:
    assert CanaryStep("full", 100, None).duration is None
    assert CanaryStep("tiny", 1, Duration(1)).canary_weight == 1
    for weight in (0, 101, -5):
        error = refusal(CanaryStep, "s", weight, None)
        assert str(error).startswith(f"canary_weight is a percentage of traffic above 0 and at most 100, got {weight}")
        assert error.field == "canary_weight"
    error = refusal(CanaryStep, "s", 5, Duration(0))
    assert str(error).startswith("a stage lasts a positive time, got 0s")
    assert error.field == "duration"


def test_rollback_thresholds() -> None:
    assert FailureHandling.parse_threshold("2 failed criteria") == 2
    assert FailureHandling.parse_threshold("3 failed analyses") == 3
    assert FailureHandling.parse_threshold(" 1 failure ") == 1
    assert FailureHandling.parse_threshold("4 FAILING checks") == 4
    assert FailureHandling.parse_threshold("5 intervals") == 5
    assert FailureHandling.parse_threshold("6") == 6
    assert FailureHandling.parse_threshold(7) == 7
    for bad in ("two failed criteria", "2 failed people", True, None, 2.5):
        with pytest.raises(NotationError) as error:
            FailureHandling.parse_threshold(bad)
        assert str(error.value) == (
            f"expected a count of failed analyses such as '2 failed criteria' or 2, got {bad!r}"
        )
    assert FailureHandling(rollback_threshold=1).rollback_threshold == 1
    error = refusal(FailureHandling, rollback_threshold=0)
    assert (str(error).split(" (")[0], error.field) == ("rollback_threshold is at least 1, got 0", "rollback_threshold")


def minutes(n: int) -> Duration:
    return Duration.of(minutes=n)


def test_what_a_canary_refuses() -> None:
    error = refusal(CanaryStrategy, ())
    assert str(error).startswith("a canary needs at least one stage")
    assert error.field == "traffic_progression"
    error = refusal(
        CanaryStrategy, (CanaryStep("a", 50, minutes(1)), CanaryStep("b", 20, minutes(1)), CanaryStep("c", 100, None))
    )
    assert str(error).startswith(
        "canary weights never go down during a rollout: stage 'b' has 20%, after 50% in stage 'a'"
    )
    assert (error.field, error.index) == ("traffic_progression", 1)
    error = refusal(CanaryStrategy, (CanaryStep("all", 100, None),))
    assert str(error).startswith(
        "a canary starts below 100% of traffic: add a stage that gives the new version a share, such as "
        "canary_weight: 5"
    )
    assert (error.field, error.index) == ("traffic_progression", 0)
    error = refusal(
        CanaryStrategy,
        (CanaryStep("a", 5, minutes(1)), CanaryStep("b", 20, minutes(1)), CanaryStep("c", 50, minutes(1))),
    )
    assert str(error).startswith("the canary must end at 100% of traffic; its last stage 'c' gives it 50%")
    assert (error.field, error.index) == ("traffic_progression", 2)
    error = refusal(
        CanaryStrategy, (CanaryStep("a", 5, minutes(1)), CanaryStep("b", 50, None), CanaryStep("c", 100, None))
    )
    assert str(error).startswith("only the last stage can be 'stable'; stage 'b' needs a duration")
    assert (error.field, error.index) == ("traffic_progression", 1)
    criteria = (
        MetricCriterion("error_rate", Threshold.parse("< 1%")),
        MetricCriterion("error_rate", Threshold.parse("< 2%")),
    )
    error = refusal(CanaryStrategy, (CanaryStep("a", 5, minutes(1)), CanaryStep("c", 100, None)), criteria)
    assert str(error).startswith("error_rate has two criteria")
    assert (error.field, error.index) == ("success_criteria", "error_rate")
    # equal weights in a row are allowed
    same = CanaryStrategy(
        (CanaryStep("a", 50, minutes(1)), CanaryStep("b", 50, minutes(1)), CanaryStep("c", 100, None))
    )
    assert len(same.traffic_progression) == 3


def test_the_canarys_arithmetic() -> None:
    canary = CanaryStrategy(
        (
            CanaryStep("a", 5, minutes(5)),
            CanaryStep("b", 25, Duration.of(seconds=150)),
            CanaryStep("c", 100, minutes(30)),
        ),
        analysis=AnalysisSettings(interval=minutes(2)),
    )
    assert canary.timed_steps == canary.traffic_progression
    assert canary.time_to_full_traffic == Duration.of(seconds=450)
    assert canary.analysis_count == 2 + 1 + 15
    stable = CanaryStrategy((CanaryStep("a", 5, minutes(5)), CanaryStep("full", 100, None)))
    assert stable.timed_steps == (CanaryStep("a", 5, minutes(5)),)
    assert stable.time_to_full_traffic == minutes(5)
    assert stable.analysis_count == 5


@given(st.lists(st.tuples(st.integers(1, 99), st.integers(1, 30)), min_size=1, max_size=4), st.integers(1, 5))
def test_time_to_full_traffic_and_analyses_add_up(stages: list[tuple[int, int]], interval: int) -> None:
    weights = sorted(weight for weight, _ in stages)
    steps = tuple(
        CanaryStep(f"s{n}", weight, minutes(length))
        for n, (weight, (_, length)) in enumerate(zip(weights, stages, strict=True))
    )
    canary = CanaryStrategy(
        (*steps, CanaryStep("full", 100, minutes(7))), analysis=AnalysisSettings(interval=minutes(interval))
    )
    assert canary.time_to_full_traffic == minutes(sum(length for _, length in stages))
    assert canary.analysis_count == sum(length // interval for _, length in stages) + 7 // interval


def test_traffic_splits() -> None:
    assert TrafficSplit.parse("100% blue, 0% green") == TrafficSplit(Percentage(100), Percentage(0))
    assert TrafficSplit.parse(" 0% Blue ,100% GREEN (internal traffic) ") == TrafficSplit(
        Percentage(0), Percentage(100), "internal traffic"
    )
    assert TrafficSplit.parse("50.5% blue, 49.5% green") == TrafficSplit(Percentage(50.5), Percentage(49.5))
    assert TrafficSplit.parse("0% blue, 100% green ( all ) ").audience == "all"
    assert TrafficSplit(Percentage(0), Percentage(100), "internal traffic").format() == (
        "0% blue, 100% green (internal traffic)"
    )
    assert str(TrafficSplit(Percentage(100), Percentage(0))) == "100% blue, 0% green"
    example = "'100% blue, 0% green' or '0% blue, 100% green (internal traffic)'"
    for bad in ("100% blue", "blue, green", 5, None):
        with pytest.raises(NotationError) as error:
            TrafficSplit.parse(bad)
        assert str(error.value) == f"expected a traffic split such as {example}, got {bad!r}"
    with pytest.raises(InvariantError, match=r"^blue and green shares add up to 100%, not 90.0%"):
        TrafficSplit(Percentage(40), Percentage(50))
    assert TrafficSplit(Percentage(33.3), Percentage(66.7)).green == Percentage(66.7)
    # float noise within 1e-9 is no difference; 1e-8 is
    assert TrafficSplit(Percentage(1 / 3 * 100), Percentage(2 / 3 * 100)).blue == Percentage(1 / 3 * 100)
    for blue, green in ((50, 50.5), (50, 49.999), (0.1, 99.8), (50, 50.00000001)):
        with pytest.raises(InvariantError, match=r"^blue and green shares add up to 100%"):
            TrafficSplit(Percentage(blue), Percentage(green))


def test_the_moments_of_a_blue_green_release() -> None:
    split = BlueGreenTrafficSplit()
    assert (split.initial.blue, split.cutover.green, split.rollback.blue) == (Percentage(100),) * 3
    half = TrafficSplit(Percentage(50), Percentage(50))
    for field, rule, colour in (
        ("initial", "before the release all traffic stays on the live (blue) colour", "blue"),
        ("cutover", "a cutover sends all traffic to the new (green) colour", "green"),
        ("rollback", "a rollback returns all traffic to the previous (blue) colour", "blue"),
    ):
        error = refusal(BlueGreenTrafficSplit, **{field: half})
        assert str(error).startswith(f"{rule}: expected 100% {colour}, got '50% blue, 50% green'")
        assert error.field == field
    # validation may split as it likes
    assert BlueGreenTrafficSplit(validation=half).validation == half


def test_validation_steps() -> None:
    manual = ValidationStep("business_validation", "Manual approval by product")
    health = ValidationStep("health_checks", "automated")
    tests = ValidationStep("smoke_tests", "automated suite")
    assert (manual.manual, health.manual, tests.manual) == (True, False, False)
    assert ValidationStep("x", "semi-manual check").manual is True
    assert ValidationStep("x", "manually").manual is False
    assert (manual.is_health_checks, health.is_health_checks, tests.is_health_checks) == (False, True, False)
    assert (manual.evidence, health.evidence, tests.evidence) == (None, None, "smoke_tests")


def test_rollback_triggers() -> None:
    trigger = RollbackTrigger("error_rate", Threshold.parse("> 1%"))
    assert trigger.manual is False
    assert (trigger.fires_for(0.02), trigger.fires_for(0.01), trigger.fires_for(math.nan)) == (True, False, False)
    manual = RollbackTrigger("manual_trigger", description="a person")
    assert manual.manual is True
    assert manual.fires_for(1.0) is False
    error = refusal(RollbackTrigger, "error_rate")
    assert (str(error).split(" (")[0], error.field) == (
        "the error_rate trigger needs a threshold such as '> 1%'",
        "threshold",
    )
    error = refusal(RollbackTrigger, "throughput", Threshold.parse("> 1%"))
    assert str(error).startswith(f"unknown metric 'throughput'; known metrics: {KNOWN} (or manual_trigger)")
    assert error.field == "name"
    error = refusal(RollbackTrigger, "latency_p99", Threshold.parse("> 1%"))
    assert str(error).startswith(
        "latency_p99 is a duration, so its threshold is written like '> 2 seconds'; got '> 1%'"
    )
    assert error.field == "threshold"
    error = refusal(RollbackTrigger, "error_rate", Threshold.parse("> 2s"))
    assert str(error).startswith("error_rate is a percentage, so its threshold is written like '> 1%'; got '> 2s'")


def test_what_a_blue_green_strategy_refuses() -> None:
    error = refusal(BlueGreenStrategy, validation_timeout=Duration(0))
    assert (str(error).split(" (")[0], error.field) == ("validation_timeout is a positive time", "validation_timeout")
    error = refusal(BlueGreenStrategy, validation_steps=(ValidationStep("a"), ValidationStep("b"), ValidationStep("a")))
    assert str(error).startswith("a is listed twice")
    assert (error.field, error.index) == ("validation_steps", 2)
    triggers = (RollbackTrigger("manual_trigger"), RollbackTrigger("manual_trigger"))
    error = refusal(BlueGreenStrategy, rollback_triggers=triggers)
    assert (error.field, error.index) == ("rollback_triggers", 1)
    assert BlueGreenStrategy(validation_timeout=Duration(1)).validation_timeout == Duration(1)
    metric = RollbackTrigger("error_rate", Threshold(Comparison.GT, Percentage(1)))
    strategy = BlueGreenStrategy(rollback_triggers=(RollbackTrigger("manual_trigger"), metric))
    assert strategy.metric_triggers == (metric,)


def test_what_a_rolling_update_refuses() -> None:
    error = refusal(RollingStrategy, max_surge=Percentage(0), max_unavailable=Percentage(0))
    assert str(error).startswith("max_surge and max_unavailable cannot both be 0%: the update could never progress")
    assert RollingStrategy(max_surge=Percentage(0), max_unavailable=Percentage(1)).max_surge == Percentage(0)
    assert RollingStrategy(max_surge=Percentage(100), max_unavailable=Percentage(100)).max_unavailable == Percentage(
        100
    )
    for field in ("max_surge", "max_unavailable"):
        error = refusal(RollingStrategy, **{field: Percentage(101)})
        assert str(error).startswith(f"{field} is at most 100%, got 101%")
        assert error.field == field
    assert RollingStrategy(progress_deadline=Duration(1)).progress_deadline == Duration(1)
    error = refusal(RollingStrategy, progress_deadline=Duration(0))
    assert (str(error).split(" (")[0], error.field) == ("the progress deadline is a positive time", "progress_deadline")
