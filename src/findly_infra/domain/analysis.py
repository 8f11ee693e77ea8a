"""Judging one analysis interval: observations against criteria, to pass, fail or inconclusive.

Missing data is never a pass (Argo Rollouts #1466, Flagger #1035): no value, NaN, or fewer
requests than the minimum make the analysis inconclusive. A failing criterion fails the analysis
even when others are missing: a breach is evidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import attrs

from findly_infra.domain.events import MetricReading, Verdict
from findly_infra.domain.notation import Threshold
from findly_infra.domain.strategy import MetricCriterion, RollbackTrigger

__all__ = ["Observation", "judge_criteria", "judge_triggers"]

REQUESTS = "requests"


@attrs.frozen
class Observation:
    """What was measured for the new version over one interval: metric -> value (ratios, seconds)."""

    values: Mapping[str, float] = attrs.field(factory=dict, hash=False)

    def get(self, metric: str) -> float:
        value = self.values.get(metric)
        return math.nan if value is None else float(value)


def _enough_traffic(observation: Observation, min_requests: int) -> bool:
    requests = observation.get(REQUESTS)
    return not math.isnan(requests) and requests >= min_requests


def judge_criteria(
    criteria: tuple[MetricCriterion, ...], observation: Observation, min_requests: int
) -> tuple[Verdict, tuple[MetricReading, ...]]:
    """Every criterion must hold: pass; any breached: fail; otherwise (no data, too little traffic): inconclusive."""
    return _judge([(c.metric, c.threshold, True) for c in criteria], observation, min_requests)


def judge_triggers(
    triggers: tuple[RollbackTrigger, ...], observation: Observation, min_requests: int
) -> tuple[Verdict, tuple[MetricReading, ...]]:
    """Any trigger firing fails the analysis (and, after cutover, returns traffic at once)."""
    return _judge([(t.name, t.threshold, False) for t in triggers if t.threshold], observation, min_requests)


def _judge(
    checks: list[tuple[str, Threshold | None, bool]], observation: Observation, min_requests: int
) -> tuple[Verdict, tuple[MetricReading, ...]]:
    readings = []
    enough = _enough_traffic(observation, min_requests)
    for metric, threshold, must_hold in checks:
        assert threshold is not None
        value = observation.get(metric)
        if math.isnan(value) or not enough:
            verdict = Verdict.INCONCLUSIVE
        else:
            met = threshold.holds_for(value)
            verdict = Verdict.PASS if met == must_hold else Verdict.FAIL
        readings.append(MetricReading(metric=metric, value=value, threshold=threshold.format(), verdict=verdict))
    verdicts = {reading.verdict for reading in readings}
    if Verdict.FAIL in verdicts:
        overall = Verdict.FAIL
    elif Verdict.INCONCLUSIVE in verdicts or not readings or not enough:
        overall = Verdict.INCONCLUSIVE
    else:
        overall = Verdict.PASS
    return overall, tuple(readings)
