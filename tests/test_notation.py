"""Every notation reads what people write, and reads back what it writes."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.environment import DeploymentTrigger, TriggerKind
from findly_infra.domain.notation import (
    ByteSize,
    Comparison,
    CpuQuantity,
    Duration,
    ErrorBudgetStatement,
    LatencyObjective,
    MachineType,
    NotationError,
    Percentage,
    RelativeThreshold,
    Threshold,
    cadence_in,
)
from findly_infra.domain.slo import (
    AvailabilityObjective,
    ErrorRateObjective,
    ThroughputObjective,
    parse_alerting_threshold,
    parse_objective,
)
from findly_infra.domain.strategy import FailureHandling, TrafficSplit
from findly_infra.testing.strategies import (
    byte_sizes,
    cpu_quantities,
    durations,
    latency_objectives,
    machine_types,
    percentages,
    relative_thresholds,
    thresholds,
)

NOTATIONS = [
    Duration,
    Percentage,
    Threshold,
    RelativeThreshold,
    LatencyObjective,
    ByteSize,
    CpuQuantity,
    MachineType,
    ErrorBudgetStatement,
    TrafficSplit,
    DeploymentTrigger,
]


@given(durations())
def test_duration_reads_back_what_it_writes(duration: Duration) -> None:
    assert Duration.parse(duration.format()) == duration
    described = Duration.parse(duration.describe())  # for people: rounded, but close
    assert abs(described.milliseconds - duration.milliseconds) <= max(1, duration.milliseconds // 1000)


@given(percentages())
def test_percentage_reads_back_what_it_writes(value: Percentage) -> None:
    assert Percentage.parse(value.format()) == value


@given(thresholds())
def test_threshold_reads_back_what_it_writes(threshold: Threshold) -> None:
    assert Threshold.parse(threshold.format()) == threshold


@given(relative_thresholds())
def test_relative_threshold_reads_back_what_it_writes(threshold: RelativeThreshold) -> None:
    assert RelativeThreshold.parse(threshold.format()) == threshold


def test_relative_thresholds_read_as_people_write_them() -> None:
    for text in ("< 1.2x current", "<1.2 x baseline", "< 1.2 times the current version", "< 1.2×current"):
        assert RelativeThreshold.parse(text) == RelativeThreshold(Comparison.LT, 1.2)
    for text in ("> 1.2x current", "< 0x current", "< -1x current", "< 1.2x", "1.2x current"):
        with pytest.raises(NotationError):
            RelativeThreshold.parse(text)


@given(latency_objectives())
def test_latency_objective_reads_back_what_it_writes(objective: LatencyObjective) -> None:
    assert LatencyObjective.parse(objective.format()) == objective


@given(byte_sizes())
def test_byte_size_reads_back_what_it_writes(size: ByteSize) -> None:
    assert ByteSize.parse(size.format()) == size


@given(cpu_quantities())
def test_cpu_quantity_reads_back_what_it_writes(cpu: CpuQuantity) -> None:
    assert CpuQuantity.parse(cpu.format()) == cpu


@given(machine_types())
def test_machine_type_reads_back_what_it_writes(machine: MachineType) -> None:
    assert MachineType.parse(machine.format()) == machine


@given(durations(min_ms=1), st.sampled_from([None, "month", "week", "day", "year"]))
def test_error_budget_reads_back_what_it_writes(budget: Duration, per: str | None) -> None:
    statement = ErrorBudgetStatement(budget, per)
    assert ErrorBudgetStatement.parse(statement.format()) == statement


@given(st.integers(0, 100), st.sampled_from([None, "internal traffic", "all traffic"]))
def test_traffic_split_reads_back_what_it_writes(green: int, audience: str | None) -> None:
    split = TrafficSplit(Percentage(100 - green), Percentage(green), audience)
    assert TrafficSplit.parse(split.format()) == split


@given(
    st.one_of(
        st.builds(DeploymentTrigger, st.just(TriggerKind.PUSH), st.none() | st.sampled_from(["main", "release/*"])),
        st.builds(DeploymentTrigger, st.just(TriggerKind.MERGE), st.sampled_from(["main", "develop"])),
        st.builds(
            lambda source: DeploymentTrigger(TriggerKind.PROMOTION, source=source),
            st.none() | st.sampled_from(["staging", "qa-2"]),
        ),
    )
)
def test_trigger_reads_back_what_it_writes(trigger: DeploymentTrigger) -> None:
    assert DeploymentTrigger.parse(trigger.format()) == trigger


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10 minutes", Duration.of(minutes=10)),
        ("15m", Duration.of(minutes=15)),
        ("30 days", Duration.of(days=30)),
        ("2 seconds", Duration.of(seconds=2)),
        ("1.5 seconds", Duration(1500)),
        ("200ms", Duration(200)),
        ("1h30m", Duration.of(minutes=90)),
        ("1 hour", Duration.of(hours=1)),
        ("90-day", Duration.of(days=90)),
        ("43.2 minutes", Duration(2_592_000)),
        (600, Duration.of(minutes=10)),
        (0.5, Duration(500)),
    ],
)
def test_duration_reads_what_people_write(text: object, expected: Duration) -> None:
    assert Duration.parse(text) == expected


@pytest.mark.parametrize(
    ("text", "comparison", "value"),
    [
        ("< 0.5%", Comparison.LT, 0.005),
        ("> 2 seconds", Comparison.GT, 2.0),
        ("< 1.5 seconds", Comparison.LT, 1.5),
        ("<= 80%", Comparison.LE, 0.8),
        (">= 100", Comparison.GE, 100.0),
        ("> 5%", Comparison.GT, 0.05),
    ],
)
def test_threshold_reads_what_people_write(text: str, comparison: Comparison, value: float) -> None:
    threshold = Threshold.parse(text)
    assert threshold.comparison is comparison
    assert math.isclose(threshold.value, value)


def test_seed_notations_read_as_meant() -> None:
    assert Percentage.parse("99.9%").ratio == pytest.approx(0.999)
    assert LatencyObjective.parse("95% of requests < 200ms") == LatencyObjective(Percentage(95), Duration(200))
    assert ByteSize.parse("100GB").bytes == 100 * 10**9
    assert ByteSize.parse("512Mi").bytes == 512 * 2**20
    assert MachineType.parse("e2-standard-4") == MachineType("e2-standard-4", "e2", 4, 16.0)
    assert ErrorBudgetStatement.parse("43.2 minutes/month") == ErrorBudgetStatement(Duration(2_592_000), "month")
    assert FailureHandling.parse_threshold("2 failed criteria") == 2
    assert TrafficSplit.parse("0% blue, 100% green (internal traffic)").audience == "internal traffic"
    assert DeploymentTrigger.parse("Manual promotion from staging").source == "staging"
    assert DeploymentTrigger.parse("Merge to main branch").branch is None  # the default branch, whatever its name
    assert DeploymentTrigger.parse("Push to feature branches") == DeploymentTrigger(TriggerKind.PUSH)
    assert parse_objective("99.9%") == AvailabilityObjective(Percentage(99.9))
    assert isinstance(parse_objective("< 0.1% error rate"), ErrorRateObjective)
    assert parse_objective("1000 requests/second capacity") == ThroughputObjective(1000.0)
    assert parse_alerting_threshold("> 80% capacity utilization") == Threshold(Comparison.GT, Percentage(80))
    assert cadence_in("Continuous replication + hourly snapshots") == Duration.of(hours=1)
    assert cadence_in("Automated 90-day rotation") == Duration.of(days=90)
    assert cadence_in("Indefinite") is None


@pytest.mark.parametrize("notation", NOTATIONS, ids=lambda n: n.__name__)
@given(
    garbage=st.one_of(
        st.text(max_size=40),
        st.integers(),
        st.floats(),
        st.booleans(),
        st.none(),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=3), st.integers()),
    )
)
def test_garbage_is_refused_with_a_sentence_never_a_crash(notation: type, garbage: object) -> None:
    try:
        value = notation.parse(garbage)
    except NotationError as error:
        message = str(error)
    else:
        assert notation.parse(value.format()) == value
        return
    assert message.startswith(("expected", "a ", "an ", "the ")), message
    assert len(message) < 300


@pytest.mark.parametrize(
    ("notation", "garbage"),
    [
        (Duration, "ten minutes"),
        (Duration, "10 parsecs"),
        (Duration, -5),
        (Percentage, "99.9"),
        (Percentage, "lots%"),
        (Threshold, "0.5%"),
        (Threshold, "< soon"),
        (LatencyObjective, "95% < 200ms"),
        (ByteSize, "100 GBs"),
        (MachineType, "e2-superfast"),
        (DeploymentTrigger, "whenever"),
    ],
)
def test_known_garbage_names_what_was_expected(notation: type, garbage: object) -> None:
    with pytest.raises(NotationError, match=r"expected|cannot|must|zero or more"):
        notation.parse(garbage)


@given(thresholds())
def test_nan_never_satisfies_a_threshold(threshold: Threshold) -> None:
    assert not threshold.holds_for(math.nan)
