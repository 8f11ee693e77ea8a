"""The rules of ``domain.notation``, pinned by exact examples (the unit tables, the bounds, the messages) and by
properties whose examples reach each rule (what ``format`` writes and ``parse`` reads back).

Kubernetes quantities (memory in rendered manifests) are whole numbers with the suffixes of kubernetes/apimachinery
``pkg/api/resource/suffix.go``: ``Ki Mi Gi Ti`` (powers of 2), ``k M G T`` (powers of 10; ``k`` lower-case — there
is no ``K``, ``KB`` or ``MB``)."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.notation import (
    ByteSize,
    Comparison,
    CpuQuantity,
    Duration,
    ErrorBudgetStatement,
    LatencyObjective,
    MachineType,
    MetricKind,
    NotationError,
    Percentage,
    RelativeThreshold,
    Threshold,
    cadence_in,
    describe_value,
    format_number,
)
from findly_infra.render.manifests import memory

QUANTITY = re.compile(r"^(0|[1-9][0-9]*)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
SUFFIX = {"": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def refused(notation: type, raw: object) -> str:
    with pytest.raises(NotationError) as error:
        notation.parse(raw)  # type: ignore[attr-defined]
    return str(error.value)


# ---- numbers and messages ----------------------------------------------------------------------------------------


def test_numbers_are_written_shortest() -> None:
    assert format_number(2.0) == "2"
    assert format_number(-3.0) == "-3"
    assert format_number(0.5) == "0.5"
    assert format_number(1e15) == "1000000000000000.0"
    assert format_number(1e15 - 1) == "999999999999999"
    assert format_number(-1e15) == "-1000000000000000.0"
    assert format_number(math.inf) == "inf"
    assert format_number(math.nan) == "nan"


def test_a_value_is_quoted_cut_to_60_characters() -> None:
    assert describe_value("abc") == "'abc'"
    assert describe_value("x" * 58) == "'" + "x" * 58 + "'"  # 60 characters: whole
    assert describe_value("x" * 59) == "'" + "x" * 56 + "..."  # 61: cut to 57 and an ellipsis
    assert len(describe_value("x" * 59)) == 60


# ---- durations ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "milliseconds"),
    [
        ("200ms", 200),
        ("3 msec", 3),
        ("2 msecs", 2),
        ("1 millisecond", 1),
        ("4 milliseconds", 4),
        ("2s", 2_000),
        ("2 sec", 2_000),
        ("2 secs", 2_000),
        ("1 second", 1_000),
        ("2 seconds", 2_000),
        ("15m", 900_000),
        ("1 min", 60_000),
        ("2 mins", 120_000),
        ("1 minute", 60_000),
        ("10 minutes", 600_000),
        ("1h", 3_600_000),
        ("1 hr", 3_600_000),
        ("2 hrs", 7_200_000),
        ("1 hour", 3_600_000),
        ("2 hours", 7_200_000),
        ("1d", 86_400_000),
        ("1 day", 86_400_000),
        ("30 days", 2_592_000_000),
        ("90-day", 7_776_000_000),
        ("1w", 604_800_000),
        ("1 wk", 604_800_000),
        ("2 wks", 1_209_600_000),
        ("1 week", 604_800_000),
        ("2 weeks", 1_209_600_000),
        ("1h30m", 5_400_000),
        (" 1 H 30 M ", 5_400_000),
        ("1.5h", 5_400_000),
        (".5s", 500),
        ("1e3ms", 1_000),
        ("0.0004s", 0),
        ("0.0006s", 1),
        (600, 600_000),
        (0, 0),
        (1.5, 1_500),
        (0.0006, 1),
    ],
)
def test_durations_read_as_meant(text: object, milliseconds: int) -> None:
    assert Duration.parse(text) == Duration(milliseconds)


def test_durations_refused() -> None:
    example = "'10 minutes', '15m', '1h30m' or 600 (seconds)"
    assert refused(Duration, -1) == "expected a duration of zero or more seconds, got -1"
    assert refused(Duration, math.inf) == "expected a duration of zero or more seconds, got inf"
    assert refused(Duration, math.nan) == "expected a duration of zero or more seconds, got nan"
    assert refused(Duration, "10 parsecs") == f"expected a duration such as {example}, got '10 parsecs'"
    assert refused(Duration, "") == f"expected a duration such as {example}, got ''"
    assert refused(Duration, "10m junk") == f"expected a duration such as {example}, got '10m junk'"
    assert refused(Duration, "10m 5") == f"expected a duration such as {example}, got '10m 5'"
    assert refused(Duration, True) == f"expected a duration such as {example}, got True"
    assert refused(Duration, None) == f"expected a duration such as {example}, got None"
    assert refused(Duration, 10**10 + 1) == "the duration 10000000001 is too long (over 300 years)"
    assert Duration.parse(10**10) == Duration(10**13)  # the longest there is
    assert refused(Duration, "10000000001s") == "the duration '10000000001s' is too long (over 300 years)"
    assert Duration.parse("10000000000s") == Duration(10**13)
    with pytest.raises(ValueError, match="milliseconds"):
        Duration(-1)


def test_durations_of_parts_add_and_scale() -> None:
    assert Duration.of(days=1, hours=1, minutes=1, seconds=1) == Duration(90_061_000)
    assert Duration.of(seconds=0.0015) == Duration(2)
    assert Duration.of() == Duration(0)
    assert Duration(1_500).seconds == 1.5
    assert Duration(90_000).minutes == 1.5
    assert Duration(1) + Duration(2) == Duration(3)
    assert Duration(1_000) * 1.5 == Duration(1_500)
    assert Duration(3) * 0.5 == Duration(2)


@pytest.mark.parametrize(
    ("milliseconds", "written", "described"),
    [
        (0, "0s", "0 seconds"),
        (1, "1ms", "0.001 seconds"),
        (1_500, "1500ms", "1.5 seconds"),
        (1_000, "1s", "1 second"),
        (59_000, "59s", "59 seconds"),
        (60_000, "1m", "1 minute"),
        (2_592_000, "43m12s", "43.2 minutes"),
        (3_600_000, "1h", "1 hour"),
        (5_400_000, "1h30m", "1.5 hours"),
        (86_400_000, "1d", "1 day"),
        (90_061_000, "1d1h1m1s", "1.042 days"),
        (604_800_000, "1w", "7 days"),
        (2_592_000_000, "4w2d", "30 days"),
    ],
)
def test_durations_written_for_machines_and_people(milliseconds: int, written: str, described: str) -> None:
    assert Duration(milliseconds).format() == written
    assert str(Duration(milliseconds)) == written
    assert Duration(milliseconds).describe() == described


@given(st.integers(0, 10**13))
def test_a_duration_reads_back_what_it_writes_and_describes(milliseconds: int) -> None:
    duration = Duration(milliseconds)
    assert Duration.parse(duration.format()) == duration
    amount, unit = duration.describe().split()
    size = {"day": 86_400_000, "hour": 3_600_000, "minute": 60_000, "second": 1000}[unit.removesuffix("s")]
    assert unit.endswith("s") is (amount != "1")
    assert float(amount) == round(milliseconds / size, 3)
    assert milliseconds >= size or unit.startswith("second")


@pytest.mark.parametrize(
    ("phrase", "period"),
    [
        ("Continuous replication + hourly snapshots", Duration.of(hours=1)),
        ("Daily backups", Duration.of(days=1)),
        ("nightly", Duration.of(days=1)),
        ("Weekly restore testing", Duration.of(days=7)),
        ("monthly", Duration.of(days=30)),
        ("QUARTERLY", Duration.of(days=91)),
        ("yearly", Duration.of(days=365)),
        ("annually", Duration.of(days=365)),
        ("Automated 90-day rotation", Duration.of(days=90)),
        ("every 6 hours, and weekly", Duration.of(hours=6)),
        ("every 2 weeks or monthly", Duration.of(days=14)),
        ("every 1.5 Hours", Duration.of(minutes=90)),
        ("hourlyish", None),
        ("every 3 parsecs", None),
        ("Indefinite", None),
    ],
)
def test_the_shortest_cadence_a_phrase_names(phrase: str, period: Duration | None) -> None:
    assert cadence_in(phrase) == period


# ---- percentages and thresholds ----------------------------------------------------------------------------------


def test_percentages() -> None:
    assert Percentage.parse("99.9%") == Percentage(99.9)
    assert Percentage.parse(" 5 % ") == Percentage(5)
    assert Percentage.parse(70) == Percentage(70)
    assert Percentage.parse(0.5) == Percentage(0.5)
    assert Percentage.parse("0%") == Percentage(0)
    assert Percentage(50).ratio == 0.5
    assert Percentage.from_ratio(0.25) == Percentage(25)
    assert Percentage(99.5).format() == "99.5%"
    assert str(Percentage(100)) == "100%"
    assert Percentage(5) < Percentage(6)
    assert refused(Percentage, "99.9") == "expected a percentage such as '99.9%' or '0.5%', got '99.9'"
    assert refused(Percentage, True) == "expected a percentage such as '99.9%' or '0.5%', got True"
    for bad in (-1, math.inf, math.nan):
        with pytest.raises(NotationError, match=r"^a percentage is a number, zero or more, got"):
            Percentage(bad)
    with pytest.raises(NotationError, match=r"got -1%$"):
        Percentage(-1)


@pytest.mark.parametrize(
    ("comparison", "below", "at", "above", "upper"),
    [
        (Comparison.LT, True, False, False, True),
        (Comparison.LE, True, True, False, True),
        (Comparison.GT, False, False, True, False),
        (Comparison.GE, False, True, True, False),
    ],
)
def test_comparisons(comparison: Comparison, below: bool, at: bool, above: bool, upper: bool) -> None:
    assert (comparison.holds(1, 2), comparison.holds(2, 2), comparison.holds(3, 2)) == (below, at, above)
    assert comparison.is_upper_bound is upper


def test_thresholds() -> None:
    assert Threshold.parse("< 0.5%") == Threshold(Comparison.LT, Percentage(0.5))
    assert Threshold.parse(">=2 seconds") == Threshold(Comparison.GE, Duration(2_000))
    assert Threshold.parse("<= 100") == Threshold(Comparison.LE, 100.0)
    assert Threshold.parse("> 1e3") == Threshold(Comparison.GT, 1000.0)
    assert Threshold.parse("< 0.5%").kind is MetricKind.PERCENTAGE
    assert Threshold.parse("< 2s").kind is MetricKind.DURATION
    assert Threshold.parse("< 2").kind is MetricKind.NUMBER
    assert Threshold.parse("< 0.5%").value == 0.005
    assert Threshold.parse("< 1500ms").value == 1.5
    assert Threshold.parse("< 7").value == 7
    assert Threshold.parse("< 0.5%").format() == "< 0.5%"
    assert (Threshold.parse("< 2").holds_for(1), Threshold.parse("< 2").holds_for(2)) == (True, False)
    assert (Threshold.parse("> 50%").holds_for(0.6), Threshold.parse("> 50%").holds_for(0.4)) == (True, False)
    assert Threshold.parse(">= 0").holds_for(math.nan) is False
    assert str(Threshold.parse(">= 90s")) == ">= 1m30s"
    assert Threshold.parse("> 2.50").format() == "> 2.5"
    example = "'< 0.5%', '> 2 seconds' or '< 100'"
    assert refused(Threshold, "0.5%") == (
        f"expected a threshold that starts with <, <=, > or >=, such as {example}, got '0.5%'"
    )
    assert refused(Threshold, "< soon") == (
        f"expected a percentage, a duration or a number after '<', such as {example}, got '< soon'"
    )
    assert refused(Threshold, 5) == f"expected a threshold such as {example}, got 5"


@given(st.sampled_from(list(Comparison)), st.floats(0, 10, allow_nan=False), st.floats(0, 10, allow_nan=False))
def test_a_threshold_holds_as_its_comparison_and_never_for_nan(
    comparison: Comparison, observed: float, limit: float
) -> None:
    threshold = Threshold(comparison, limit)
    assert threshold.holds_for(observed) is comparison.holds(observed, limit)
    assert threshold.holds_for(math.nan) is False


def test_relative_thresholds() -> None:
    assert RelativeThreshold.parse("< 1.2x current") == RelativeThreshold(Comparison.LT, 1.2)
    assert RelativeThreshold.parse("<= 2 times the  baseline version") == RelativeThreshold(Comparison.LE, 2)
    assert RelativeThreshold.parse("<2×CURRENT") == RelativeThreshold(Comparison.LT, 2)
    assert RelativeThreshold(Comparison.LE, 2.0).format() == "<= 2x current"
    assert str(RelativeThreshold(Comparison.LT, 1.5)) == "< 1.5x current"
    assert RelativeThreshold(Comparison.LT, 1.5).limit_for(2) == 3
    below, at = RelativeThreshold(Comparison.LT, 1.5), RelativeThreshold(Comparison.LE, 1.5)
    assert (below.holds_for(2.9, 2), below.holds_for(3, 2), at.holds_for(3, 2), at.holds_for(3.1, 2)) == (
        True,
        False,
        True,
        False,
    )
    assert (below.holds_for(0, 0), below.holds_for(1, 0), below.holds_for(0, 1)) == (True, False, True)
    assert (below.holds_for(math.nan, 1), below.holds_for(1, math.nan), below.holds_for(math.nan, math.nan)) == (
        False,
        False,
        False,
    )
    example = "'< 1.2x current' or '<= 2x current'"
    assert refused(RelativeThreshold, "> 2x current") == (
        f"expected a comparison with the current version such as {example}, got '> 2x current'"
    )
    with pytest.raises(NotationError) as upper:
        RelativeThreshold(Comparison.GT, 2)
    assert str(upper.value) == f"a comparison with the current version is an upper bound such as {example}"
    assert RelativeThreshold(Comparison.LT, 1e6).factor == 1e6
    for factor in (0, -1, 1e6 + 1, math.inf, math.nan):
        with pytest.raises(NotationError, match=r"^the factor is a number above 0"):
            RelativeThreshold(Comparison.LT, factor)


@given(
    st.sampled_from([Comparison.LT, Comparison.LE]),
    st.floats(0.1, 5),
    st.floats(0, 10, allow_nan=False),
    st.floats(0, 10, allow_nan=False),
)
def test_a_relative_threshold_holds_against_the_current_version(
    comparison: Comparison, factor: float, observed: float, current: float
) -> None:
    threshold = RelativeThreshold(comparison, factor)
    expected = (observed == current == 0) or comparison.holds(observed, factor * current)
    assert threshold.holds_for(observed, current) is expected
    assert threshold.holds_for(math.nan, current) is False
    assert threshold.holds_for(observed, math.nan) is False
    assert threshold.holds_for(0, 0) is True


def test_latency_objectives() -> None:
    assert LatencyObjective.parse("95% of requests < 200ms") == LatencyObjective(Percentage(95), Duration(200))
    assert LatencyObjective.parse("99.5% OF REQUESTS <= 1s") == LatencyObjective(Percentage(99.5), Duration(1_000))
    assert LatencyObjective(Percentage(95), Duration(200)).format() == "95% of requests < 200ms"
    assert str(LatencyObjective(Percentage(90), Duration(2_000))) == "90% of requests < 2s"
    assert refused(LatencyObjective, "95% < 200ms") == (
        "expected a latency objective such as '95% of requests < 200ms', got '95% < 200ms'"
    )
    assert refused(LatencyObjective, "95% of requests < 0ms") == (
        "the latency bound must be above zero, got '95% of requests < 0ms'"
    )
    for share in (0, 100):
        with pytest.raises(NotationError) as error:
            LatencyObjective(Percentage(share), Duration(200))
        assert str(error.value) == f"the share of requests must be between 0% and 100%, got {share}%"
    assert LatencyObjective(Percentage(0.1), Duration(1)).proportion == Percentage(0.1)


def test_error_budget_statements() -> None:
    assert ErrorBudgetStatement.parse("43.2 minutes/month") == ErrorBudgetStatement(Duration(2_592_000), "month")
    assert ErrorBudgetStatement.parse("1h per Week") == ErrorBudgetStatement(Duration(3_600_000), "week")
    assert ErrorBudgetStatement.parse("5m") == ErrorBudgetStatement(Duration(300_000))
    assert refused(ErrorBudgetStatement, "soon/month") == (
        "expected an error budget such as '43.2 minutes/month', got 'soon/month'"
    )
    assert refused(ErrorBudgetStatement, "soon") == "expected an error budget such as '43.2 minutes/month', got 'soon'"
    with pytest.raises(NotationError) as error:
        ErrorBudgetStatement(Duration(1), "fortnight")
    assert str(error.value) == (
        "an error budget is stated per one of minute, hour, day, week, month, quarter, year, got 'fortnight'"
    )
    window = Duration.of(days=28)
    assert ErrorBudgetStatement(Duration(1)).period(window) == window
    periods = {
        "minute": Duration.of(minutes=1),
        "hour": Duration.of(hours=1),
        "day": Duration.of(days=1),
        "week": Duration.of(days=7),
        "month": Duration.of(days=30),
        "quarter": Duration.of(days=90),
        "year": Duration.of(days=365),
    }
    for per, period in periods.items():
        assert ErrorBudgetStatement(Duration(1), per).period(window) == period
    assert ErrorBudgetStatement(Duration(2_592_000), "month").format() == "43.2 minutes/month"
    assert str(ErrorBudgetStatement(Duration(3_600_000))) == "1 hour"
    # a description that does not read back exactly (rounded to 3 places) is written for machines
    assert ErrorBudgetStatement(Duration(3_600_001), "day").format() == "3600001ms/day"


# ---- sizes and machines ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("100GB", 100 * 10**9),
        ("512Mi", 512 * 2**20),
        ("2 gib", 2 * 2**30),
        ("1b", 1),
        ("1k", 10**3),
        ("1kb", 10**3),
        ("1m", 10**6),
        ("1MB", 10**6),
        ("1g", 10**9),
        ("1t", 10**12),
        ("1TB", 10**12),
        ("1Ki", 2**10),
        ("1KiB", 2**10),
        ("1mib", 2**20),
        ("1Gi", 2**30),
        ("1Ti", 2**40),
        ("1TiB", 2**40),
        ("1.5Gi", 3 * 2**29),
        ("7", 7),
        (7, 7),
        (0, 0),
        (2**53, 2**53),
        ("8192Ti", 2**53),
    ],
)
def test_sizes_read_as_meant(text: object, size: int) -> None:
    assert ByteSize.parse(text) == ByteSize(size)


def test_sizes_refused() -> None:
    example = "'100GB', '512Mi' or '2Gi'"
    assert refused(ByteSize, -1) == "a size cannot be negative, got -1"
    assert refused(ByteSize, 2**53 + 1) == "the size 9007199254740993 is more than 8 PiB"
    assert refused(ByteSize, "8193Ti") == "the size '8193Ti' is more than 8 PiB"
    assert refused(ByteSize, "1e400") == "the size '1e400' is more than 8 PiB"
    assert refused(ByteSize, "100 GBs") == f"expected a size such as {example}, got '100 GBs'"
    assert refused(ByteSize, "GB") == f"expected a size such as {example}, got 'GB'"
    assert refused(ByteSize, 1.5) == f"expected a size such as {example}, got 1.5"
    assert refused(ByteSize, True) == f"expected a size such as {example}, got True"
    with pytest.raises(ValueError, match="bytes"):
        ByteSize(-1)


@pytest.mark.parametrize(
    ("size", "written", "quantity"),
    [
        (0, "0", "0"),
        (1, "1", "1"),
        (1_000, "1KB", "1k"),
        (1_024, "1Ki", "1Ki"),
        (1_500_000, "1500KB", "1500k"),
        (10**6, "1MB", "1M"),
        (512 * 2**20, "512Mi", "512Mi"),
        (3 * 2**29, "1536Mi", "1536Mi"),
        (10**9, "1GB", "1G"),
        (100 * 10**9, "100GB", "100G"),
        (2**30, "1Gi", "1Gi"),
        (10**12, "1TB", "1T"),
        (2**40, "1Ti", "1Ti"),
        (2**41, "2Ti", "2Ti"),
        (1_000_001, "1000001", "1000001"),
        (1_024_000, "1000Ki", "1000Ki"),
        (2**10 * 10**9, "1024GB", "1024G"),
        (5 * 2**40, "5Ti", "5Ti"),
    ],
)
def test_sizes_written_for_the_file_and_for_kubernetes(size: int, written: str, quantity: str) -> None:
    assert ByteSize(size).format() == written
    assert str(ByteSize(size)) == written
    assert ByteSize(size).kubernetes() == quantity


def test_a_rendered_memory_quantity_is_one_kubernetes_reads() -> None:
    """Rendered manifests wrote ``1K`` and ``1500K`` for decimal kilobytes: Kubernetes knows ``k``, not ``K``."""
    assert memory(ByteSize(1_000)) == "1k"
    assert memory(ByteSize(1_500_000)) == "1500k"
    assert memory(ByteSize(512 * 2**20)) == "512Mi"
    assert memory(ByteSize(10**9)) == "1G"


@given(
    st.integers(0, 2**53) | st.integers(1, 4096).map(lambda n: n * 10**6) | st.integers(1, 64).map(lambda n: n * 2**30)
)
def test_a_size_is_written_whole_and_reads_back(size: int) -> None:
    byte_size = ByteSize(size)
    assert ByteSize.parse(byte_size.format()) == byte_size
    assert ByteSize.parse(byte_size.kubernetes()) == byte_size
    match = QUANTITY.match(byte_size.kubernetes())
    assert match is not None
    unit = SUFFIX[match.group(2) or ""]
    assert int(match.group(1)) * unit == size
    # the largest unit that divides the size: the shortest whole number
    assert size == 0 or not [larger for larger in SUFFIX.values() if larger > unit and size % larger == 0]
    # the largest binary suffix that divides, else the largest decimal one: never a fraction
    assert re.fullmatch(r"\d+(Ki|Mi|Gi|Ti|KB|MB|GB|TB)?", byte_size.format())


def test_size_units() -> None:
    assert ByteSize(2 * 10**9).gigabytes == 2
    assert ByteSize(2**31).gibibytes == 2
    assert ByteSize(1) < ByteSize(2)


def test_cpu_quantities() -> None:
    assert CpuQuantity.parse("500m") == CpuQuantity(500)
    assert CpuQuantity.parse("2") == CpuQuantity(2_000)
    assert CpuQuantity.parse(0.5) == CpuQuantity(500)
    assert CpuQuantity.parse(0) == CpuQuantity(0)
    assert CpuQuantity.parse(2) == CpuQuantity(2_000)
    assert CpuQuantity.parse("1.5") == CpuQuantity(1_500)
    assert CpuQuantity.parse("0.5m") == CpuQuantity(0)
    assert CpuQuantity.parse("1.5m") == CpuQuantity(2)
    assert CpuQuantity.parse(10**6) == CpuQuantity(10**9)
    assert CpuQuantity.parse(f"{10**9}m") == CpuQuantity(10**9)
    example = "'500m', '2' or 0.5"
    assert refused(CpuQuantity, -1) == f"expected a CPU quantity such as {example}, got -1"
    assert refused(CpuQuantity, math.nan) == f"expected a CPU quantity such as {example}, got nan"
    assert refused(CpuQuantity, "2 cores") == f"expected a CPU quantity such as {example}, got '2 cores'"
    assert refused(CpuQuantity, 10**6 + 1) == "the CPU quantity 1000001 is more than a million cores"
    assert refused(CpuQuantity, f"{10**9 + 1}m") == "the CPU quantity '1000000001m' is more than a million cores"
    assert CpuQuantity(1_500).cores == 1.5
    assert CpuQuantity(2_000).format() == "2"
    assert CpuQuantity(0).format() == "0"
    assert CpuQuantity(1_500).format() == "1500m"
    assert str(CpuQuantity(250)) == "250m"
    assert CpuQuantity(1) < CpuQuantity(2)


@pytest.mark.parametrize(
    ("text", "machine"),
    [
        ("e2-standard-4", MachineType("e2-standard-4", "e2", 4, 16.0)),
        ("n2-highmem-8", MachineType("n2-highmem-8", "n2", 8, 64.0)),
        ("c3-highcpu-22", MachineType("c3-highcpu-22", "c3", 22, 22.0)),
        ("e2-micro", MachineType("e2-micro", "e2", 2, 1.0)),
        ("e2-small", MachineType("e2-small", "e2", 2, 2.0)),
        ("e2-medium", MachineType("e2-medium", "e2", 2, 4.0)),
        ("n2-custom-4-16384", MachineType("n2-custom-4-16384", "n2", 4, 16.0)),
        (" e2-standard-2 ", MachineType("e2-standard-2", "e2", 2, 8.0)),
    ],
)
def test_machine_types(text: str, machine: MachineType) -> None:
    assert MachineType.parse(text) == machine
    assert machine.format() == machine.name
    assert str(machine) == machine.name


@pytest.mark.parametrize(
    "text", ["e2-standard", "e2-standard-0", "e2-standard-4-8", "e2-micro-2", "n2-custom-4", "E2-standard-4", "x"]
)
def test_machine_types_refused(text: str) -> None:
    assert MachineType.parse("n1-standard-1") == MachineType("n1-standard-1", "n1", 1, 4.0)
    assert refused(MachineType, text) == (
        "expected a machine type such as 'e2-standard-4', 'n2-highmem-8', 'e2-medium' or 'n2-custom-4-16384', "
        f"got {text!r}"
    )


@pytest.mark.parametrize(
    ("notation", "what", "example"),
    [
        (Duration, "a duration", "'10 minutes', '15m', '1h30m' or 600 (seconds)"),
        (Percentage, "a percentage", "'99.9%' or '0.5%'"),
        (Threshold, "a threshold", "'< 0.5%', '> 2 seconds' or '< 100'"),
        (RelativeThreshold, "a comparison with the current version", "'< 1.2x current' or '<= 2x current'"),
        (LatencyObjective, "a latency objective", "'95% of requests < 200ms'"),
        (ErrorBudgetStatement, "an error budget", "'43.2 minutes/month'"),
        (ByteSize, "a size", "'100GB', '512Mi' or '2Gi'"),
        (CpuQuantity, "a CPU quantity", "'500m', '2' or 0.5"),
        (MachineType, "a machine type", "'e2-standard-4', 'n2-highmem-8', 'e2-medium' or 'n2-custom-4-16384'"),
    ],
)
def test_what_is_not_text_is_refused_naming_what_was_expected(notation: type, what: str, example: str) -> None:
    assert refused(notation, None) == f"expected {what} such as {example}, got None"
    assert refused(notation, [1]) == f"expected {what} such as {example}, got [1]"
