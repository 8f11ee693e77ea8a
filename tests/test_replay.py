"""Replays: values recorded every interval become a scenario that never invents data."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from findly_infra.testing import recorded_scenario

values = st.floats(0, 1, allow_nan=False) | st.just(math.nan)


@given(st.lists(values, min_size=1, max_size=30), st.sampled_from([20 / 60, 0.5, 1.0, 5.0]), st.floats(-100, 300))
def test_a_recorded_value_holds_for_its_interval_and_nothing_outside_the_record(
    recorded: list[float], spacing: float, minute: float
) -> None:
    points = [{"minute": i * spacing, "error_rate": v, "requests": 1000.0} for i, v in enumerate(recorded)]
    scenario = recorded_scenario(points, spacing)
    values = scenario(minute)
    index = math.floor(minute / spacing + 1e-6)
    if minute >= 0 and index < len(recorded):
        expected = recorded[index]
        assert (math.isnan(values["error_rate"]) and math.isnan(expected)) or values["error_rate"] == expected
        assert values["requests"] == 1000.0
    else:
        assert all(math.isnan(v) for v in values.values())  # no record: no evidence, never a healthy default
    assert math.isnan(values["latency_p95"])  # a metric the record lacks is never made up


def test_steps_that_are_not_whole_minutes_land_on_their_own_value() -> None:
    points = [{"minute": i * 20 / 60, "error_rate": float(i)} for i in range(10)]
    scenario = recorded_scenario(points, 20 / 60)
    assert [scenario(seconds / 60)["error_rate"] for seconds in range(0, 200, 20)] == [float(i) for i in range(10)]


def test_an_empty_record_is_no_evidence_at_all() -> None:
    assert all(math.isnan(v) for v in recorded_scenario([], 1.0)(3).values())
