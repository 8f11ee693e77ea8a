"""Rules of ``domain/analysis.py`` that a mutation run showed no test pinned (issue 23): which metrics an analysis
reads — a rolling update the platform's canary criteria (none without a canary section), a canary its own criteria,
blue-green its metric triggers (not the manual one)."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.analysis import criteria_for, measured_metrics

from .test_pipeline_rules import BLUE_GREEN, PLATFORM

CANARY = PLATFORM.canary_strategy
assert CANARY is not None
ROLLING = PLATFORM.rolling_strategy


@given(st.integers(0, len(CANARY.success_criteria)), st.booleans())
def test_a_rolling_analysis_reads_the_canary_criteria_metrics(kept: int, with_canary: bool) -> None:
    canary = attrs.evolve(CANARY, success_criteria=CANARY.success_criteria[:kept]) if with_canary else None
    expected = tuple(c.metric for c in CANARY.success_criteria[:kept]) if with_canary else ()
    assert measured_metrics(ROLLING, canary) == expected
    assert criteria_for(ROLLING, canary) == (CANARY.success_criteria[:kept] if with_canary else ())
    assert measured_metrics(canary or CANARY, None) == (expected if with_canary else measured_metrics(CANARY, CANARY))


def test_blue_green_reads_its_metric_triggers_and_a_canary_its_own_criteria() -> None:
    assert measured_metrics(BLUE_GREEN, CANARY) == ("error_rate", "latency_p99", "health_check_failures")
    assert criteria_for(BLUE_GREEN, CANARY) == ()
    assert measured_metrics(CANARY, None) == ("error_rate", "latency_p95", "cpu_utilization", "memory_utilization")


@given(st.floats(0, 1, allow_nan=False))
def test_a_computed_limit_is_shown_in_the_metrics_notation_to_a_millionth_of_a_percent(limit: float) -> None:
    from findly_infra.domain.analysis import _limit_text
    from findly_infra.domain.notation import Percentage

    assert _limit_text("error_rate", limit) == Percentage(round(limit * 100, 6)).format()
    assert _limit_text("error_rate", 0.00148148149) == "0.148148%"
    assert _limit_text("latency_p95", 0.6) == "600ms"
    assert _limit_text("error_rate", float("inf")) == "inf"  # no finite limit: said as such
