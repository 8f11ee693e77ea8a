"""The readings an analysis makes (``domain/analysis.py``) are the :class:`MetricReading` its ``__init__`` makes: the
judging loop builds them without the keyword call (an analysis makes one per criterion every interval), which holds
only while the class has nothing its ``__init__`` would run besides setting its four fields."""

from __future__ import annotations

import math

import attrs
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.analysis import Observation, _reading, judge_criteria
from findly_infra.domain.events import MetricReading, Verdict

from .test_pipeline_rules import PLATFORM

CANARY = PLATFORM.canary_strategy
assert CANARY is not None
CRITERIA = CANARY.success_criteria


def test_a_reading_has_nothing_its_init_runs_but_setting_its_fields() -> None:
    assert [field.name for field in attrs.fields(MetricReading)] == ["metric", "value", "threshold", "verdict"]
    assert all(field.validator is None and field.converter is None for field in attrs.fields(MetricReading))
    assert not hasattr(MetricReading, "__attrs_post_init__")
    assert not hasattr(MetricReading, "__attrs_pre_init__")


@given(st.text(max_size=8), st.floats(allow_nan=True), st.text(max_size=8), st.sampled_from(Verdict))
def test_a_reading_made_by_the_judge_is_the_one_its_init_makes(
    metric: str, value: float, threshold: str, verdict: Verdict
) -> None:
    made, init = (
        _reading(metric, value, threshold, verdict),
        MetricReading(metric=metric, value=value, threshold=threshold, verdict=verdict),
    )
    assert type(made) is MetricReading
    assert attrs.astuple(made, recurse=False)[::2] == attrs.astuple(init, recurse=False)[::2]  # NaN != NaN
    assert made == init or math.isnan(value)
    assert hash(made) == hash(init)
    assert repr(made) == repr(init)
    with_value = attrs.evolve(made, value=0.0)
    assert with_value == attrs.evolve(init, value=0.0)


@given(
    st.dictionaries(
        st.sampled_from(["requests", "error_rate", "latency_p95", "cpu_utilization", "memory_utilization"]),
        st.one_of(st.floats(0, 2000), st.just(math.nan), st.integers(0, 2000)),
    ),
    st.integers(0, 1500),
)
def test_every_reading_of_an_analysis_is_an_equal_metric_reading(values: dict[str, float], min_requests: int) -> None:
    verdict, readings = judge_criteria(CRITERIA, Observation(values), min_requests)
    assert [r.metric for r in readings] == [c.metric for c in CRITERIA]
    for reading in readings:
        again = MetricReading(
            metric=reading.metric, value=reading.value, threshold=reading.threshold, verdict=reading.verdict
        )
        assert attrs.astuple(reading) == attrs.astuple(again) or math.isnan(reading.value)
        assert isinstance(reading.value, float)
    assert verdict in Verdict
