"""Judging one analysis interval: observations against criteria, to pass, fail or inconclusive.

Missing data is never a pass (Argo Rollouts #1466, Flagger #1035): no value, NaN, or fewer
requests than the minimum make the analysis inconclusive. A failing criterion fails the analysis
even when others are missing: a breach is evidence.

A criterion relative to the current version (``< 1.2x current``) reads the *baseline* observation
(the current version over the same interval), which needs its own minimum of requests; with no
current version at all (a first release) there is nothing to compare with and it is left out.
"""

from __future__ import annotations

import functools
import math
import operator
import typing
from collections.abc import Callable, Mapping

import attrs

from findly_infra.domain.events import MetricReading, Verdict
from findly_infra.domain.notation import (
    Comparison,
    Duration,
    MetricKind,
    Percentage,
    RelativeThreshold,
    Threshold,
    format_number,
)
from findly_infra.domain.strategy import (
    BlueGreenStrategy,
    CanaryStrategy,
    DeploymentStrategy,
    MetricCriterion,
    RollbackTrigger,
    metric_kind,
)

__all__ = ["REQUESTS", "Observation", "criteria_for", "judge", "judge_criteria", "judge_triggers", "measured_metrics"]

REQUESTS = "requests"
"""The request count an analysis reads beside its criteria (for the minimum-traffic rule)."""


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
    criteria: tuple[MetricCriterion, ...],
    observation: Observation,
    min_requests: int,
    baseline: Observation | None = None,
) -> tuple[Verdict, tuple[MetricReading, ...]]:
    """Every criterion must hold: pass; any breached: fail; otherwise (no data, too little traffic): inconclusive.

    *baseline* is the current version's observation, for criteria relative to it (``None``: no current version).
    """
    return _judge(_plan_of(criteria, True), observation, min_requests, baseline)


def judge_triggers(
    triggers: tuple[RollbackTrigger, ...], observation: Observation, min_requests: int
) -> tuple[Verdict, tuple[MetricReading, ...]]:
    """Any trigger firing fails the analysis (and, after cutover, returns traffic at once)."""
    return _judge(_plan_of(triggers, False), observation, min_requests)


def criteria_for(strategy: DeploymentStrategy, canary: CanaryStrategy | None) -> tuple[MetricCriterion, ...]:
    """What a rollout's analyses hold the new version to: a canary its ``success_criteria``; a rolling
    update the platform's canary criteria (*canary*) where there are any; blue-green none (its triggers judge)."""
    if isinstance(strategy, CanaryStrategy):
        return strategy.success_criteria
    if isinstance(strategy, BlueGreenStrategy) or canary is None:
        return ()
    return canary.success_criteria


def measured_metrics(strategy: DeploymentStrategy, canary: CanaryStrategy | None) -> tuple[str, ...]:
    """The metrics an analysis of *strategy* reads (besides the request count)."""
    if isinstance(strategy, BlueGreenStrategy):
        return tuple(trigger.name for trigger in strategy.metric_triggers)
    return tuple(criterion.metric for criterion in criteria_for(strategy, canary))


def judge(
    strategy: DeploymentStrategy,
    canary: CanaryStrategy | None,
    observation: Observation,
    baseline: Observation | None = None,
) -> tuple[Verdict, tuple[MetricReading, ...]]:
    """One analysis of a rollout by *strategy*: blue-green's triggers, else the criteria :func:`criteria_for`
    gives; with none, enough traffic passes and too little is inconclusive."""
    min_requests = strategy.analysis.min_requests
    if isinstance(strategy, BlueGreenStrategy):
        return judge_triggers(strategy.rollback_triggers, observation, min_requests)
    criteria = criteria_for(strategy, canary)
    if not criteria:
        return (Verdict.PASS if _enough_traffic(observation, min_requests) else Verdict.INCONCLUSIVE), ()
    return judge_criteria(criteria, observation, min_requests, baseline)


_COMPARE: dict[Comparison, Callable[[float, float], bool]] = {
    Comparison.LT: operator.lt,
    Comparison.LE: operator.le,
    Comparison.GT: operator.gt,
    Comparison.GE: operator.ge,
}


class _Check(typing.NamedTuple):
    """One comparison of an analysis, worked out once per set of criteria (analyses run every interval): a tuple,
    unpacked in one go where the judging loop reads it.

    A criterion *must hold* (``error_rate: "< 1%"``); a rollback trigger must *not* (``error_rate: "> 1%"``).
    """

    metric: str
    relative: RelativeThreshold | None
    """A limit relative to the current version's value, or ``None`` for the fixed ``limit``."""
    limit: float
    compare: Callable[[float, float], bool]
    text: str
    must_hold: bool


_PLANS: dict[int, tuple[object, tuple[_Check, ...]]] = {}
"""Plans by the identity of their criteria (frozen tuples that live as long as their platform): hashing the
criteria on every analysis would cost more than judging them. Each entry keeps its criteria alive, so an
identity is never reused while its entry stands."""


def _plan_of(rules: tuple[MetricCriterion, ...] | tuple[RollbackTrigger, ...], must_hold: bool) -> tuple[_Check, ...]:
    entry = _PLANS.get(id(rules))  # pragma: no mutate (equivalent: a cache miss recomputes the same plan)
    if entry is not None and entry[0] is rules:
        return entry[1]
    checks = tuple(
        (rule.metric, rule.threshold) if isinstance(rule, MetricCriterion) else (rule.name, rule.threshold)
        for rule in rules
    )
    plan = _plan(tuple((metric, threshold, must_hold) for metric, threshold in checks if threshold is not None))
    # platforms come and go in long-lived processes (property tests): stay bounded
    if len(_PLANS) > 1024:  # pragma: no mutate (equivalent: where a cache is cut changes no verdict)
        _PLANS.clear()
    _PLANS[id(rules)] = (rules, plan)  # pragma: no mutate (equivalent: a cache kept or not, the same plan)
    return plan


@functools.cache
def _plan(checks: tuple[tuple[str, Threshold | RelativeThreshold | None, bool], ...]) -> tuple[_Check, ...]:
    plan: list[_Check] = []
    for metric, threshold, must_hold in checks:
        assert threshold is not None
        compare = _COMPARE[threshold.comparison]
        if isinstance(threshold, RelativeThreshold):
            plan.append(_Check(metric, threshold, math.nan, compare, threshold.format(), must_hold))
        else:
            plan.append(_Check(metric, None, threshold.value, compare, threshold.format(), must_hold))
    return tuple(plan)


def _limit_text(metric: str, limit: float) -> str:
    """A computed limit in the metric's own notation: ``600ms``, ``0.4%``."""
    if math.isinf(limit):
        return format_number(limit)
    if metric_kind(metric) is MetricKind.DURATION:
        return Duration(round(limit * 1000)).format()
    return Percentage(round(limit * 100, 6)).format()


_PASS, _FAIL, _INCONCLUSIVE = Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE
"""An enum member read from its class costs a lookup each time; an analysis reads one per criterion."""


def _reading_maker() -> Callable[[str, float, str, Verdict], MetricReading]:
    """A maker of :class:`MetricReading` that sets its four slots as its ``__init__`` does, without the keyword
    call: half the cost, and an analysis makes one per criterion every interval. It has no validator, converter nor
    post-init to skip (a test holds it to that, and to equality with the ``__init__``'s)."""
    new = object.__new__
    set_metric, set_value, set_threshold, set_verdict = (
        typing.cast(typing.Any, MetricReading.__dict__[name]).__set__
        for name in ("metric", "value", "threshold", "verdict")
    )

    def make(metric: str, value: float, threshold: str, verdict: Verdict) -> MetricReading:
        reading = new(MetricReading)
        set_metric(reading, metric)
        set_value(reading, value)
        set_threshold(reading, threshold)
        set_verdict(reading, verdict)
        return reading

    return make


_reading = _reading_maker()


def _judge(
    plan: tuple[_Check, ...], observation: Observation, min_requests: int, baseline: Observation | None = None
) -> tuple[Verdict, tuple[MetricReading, ...]]:
    values = observation.values
    requests = values.get(REQUESTS)
    enough = requests is not None and float(requests) >= min_requests  # NaN is never enough
    readings: list[MetricReading] = []
    failed = doubtful = False  # pragma: no mutate (equivalent: only their truth is read, and None is false)
    make = _reading
    isnan = math.isnan
    for metric, relative, fixed, compare, text, must_hold in plan:
        value = values.get(metric)
        value = math.nan if value is None else float(value)
        limit, shown = fixed, text
        if relative is not None:
            if baseline is None:
                continue  # no current version: nothing to compare with
            current = baseline.get(metric) if _enough_traffic(baseline, min_requests) else math.nan
            limit = relative.limit_for(current)
            shown = text if math.isnan(limit) else f"{text} = {_limit_text(metric, limit)}"
            if value == current == 0:
                limit = math.inf  # both zero: the new version is no worse
        if not enough or isnan(value) or isnan(limit):
            verdict = _INCONCLUSIVE
            doubtful = True
        elif compare(value, limit) == must_hold:
            verdict = _PASS
        else:
            verdict = _FAIL
            failed = True
        readings.append(make(metric, value, shown, verdict))
    if failed:
        return _FAIL, tuple(readings)
    if doubtful or not readings or not enough:
        return _INCONCLUSIVE, tuple(readings)
    return _PASS, tuple(readings)
