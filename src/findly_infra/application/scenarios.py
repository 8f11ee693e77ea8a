"""Scripted metrics by the minute: the scenarios a simulation runs against (pure data and functions).

A scenario is what the new version's metrics look like, minute by minute since its rollout started;
``ScenarioMetrics`` (in the in-memory adapters) serves one through the metrics port.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

__all__ = ["HEALTHY", "SCENARIOS", "START", "Scenario", "recorded_scenario", "scenario_from_points"]

START = datetime(2026, 1, 1, 9, 0, 0)
HEALTHY: Mapping[str, float] = {
    "requests": 1000.0,
    "error_rate": 0.001,
    "latency_p95": 0.3,
    "latency_p99": 0.5,
    "cpu_utilization": 0.5,
    "memory_utilization": 0.6,
    "health_check_failures": 0.0,
}

Scenario = Callable[[float], Mapping[str, float]]
"""Observed values of the new version, by minutes since its rollout started."""


def _with(**changes: float) -> dict[str, float]:
    return {**HEALTHY, **changes}


SCENARIOS: dict[str, Scenario] = {
    "healthy": lambda _minute: HEALTHY,
    "error-spike": lambda minute: _with(error_rate=0.05) if minute >= 15 else HEALTHY,
    "latency-regression": lambda minute: _with(latency_p95=2.5, latency_p99=3.0) if minute >= 5 else HEALTHY,
    "slow-burn": lambda minute: _with(error_rate=0.001 + 0.0005 * minute),
    "flapping": lambda minute: _with(error_rate=0.02) if int(minute) % 2 else HEALTHY,
    "no-traffic": lambda _minute: _with(requests=0.0),
    "metrics-outage": lambda minute: dict.fromkeys(HEALTHY, math.nan) if minute >= 10 else HEALTHY,
}


def scenario_from_points(points: list[Mapping[str, Any]]) -> Scenario:
    """A scenario from ``[{minute: 0, error_rate: 0.001, ...}, ...]``: each point holds until the next.

    A metric no point has named yet is missing (NaN: no evidence, which never passes); a name that is not a
    metric raises :class:`ValueError` naming its place (``[1].eror_rate``), rather than being ignored.
    """
    for index, point in enumerate(points):
        for key in point:
            if key != "minute" and key not in HEALTHY:
                raise ValueError(f"[{index}].{key}: not a metric; the metrics are {', '.join(HEALTHY)}")
    ordered = sorted(points, key=lambda point: float(point.get("minute", 0)))

    def scenario(minute: float) -> Mapping[str, float]:
        values = dict.fromkeys(HEALTHY, math.nan)
        for point in ordered:
            if float(point.get("minute", 0)) > minute:
                break
            values.update({k: (math.nan if v is None else float(v)) for k, v in point.items() if k != "minute"})
        return values

    return scenario


def recorded_scenario(points: Sequence[Mapping[str, float]], spacing: float) -> Scenario:
    """A scenario from values recorded every *spacing* minutes (``[{minute, metric: value}]``, as
    ``PrometheusMetrics.recorded`` returns them): each holds for its interval; before the first and
    after the last there was no data, so every value is NaN — a replay never invents a healthy minute."""
    if not spacing > 0:
        raise ValueError(f"recorded values are spaced by a positive number of minutes, got {spacing}")
    ordered = sorted(points, key=lambda point: float(point["minute"]))
    if not ordered:
        return lambda _minute: dict.fromkeys(HEALTHY, math.nan)
    blank = dict.fromkeys({*HEALTHY, *(k for point in ordered for k in point if k != "minute")}, math.nan)

    def scenario(minute: float) -> Mapping[str, float]:
        index = math.floor((minute - float(ordered[0]["minute"])) / spacing + 1e-6)  # 40/60 over 20/60 is 2
        if minute < float(ordered[0]["minute"]) or index >= len(ordered):
            return blank
        return {**blank, **{k: float(v) for k, v in ordered[index].items() if k != "minute"}}

    return scenario
