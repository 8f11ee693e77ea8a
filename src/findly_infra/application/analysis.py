"""One analysis of a version: measure through the metrics port, judge in the domain — in one place.

A rollout step and the ``analyze`` command both come here, so a live analysis, a scripted one and a
replay hold a version to the same criteria. The port measures; :func:`~findly_infra.domain.analysis.judge`
decides. A source that cannot be reached is no evidence: within a rollout it makes the analysis
inconclusive (repeated, that pauses the rollout for a person); asked directly, it is an error.
"""

from __future__ import annotations

import math
from datetime import datetime

import attrs

from findly_infra.application.ports import DependencyUnavailableError, MetricsQuery, MetricsSource
from findly_infra.domain.analysis import REQUESTS, Observation, criteria_for, judge, measured_metrics
from findly_infra.domain.environment import StrategyKind
from findly_infra.domain.events import MetricReading, Verdict
from findly_infra.domain.platform import Platform
from findly_infra.domain.strategy import CanaryStrategy, DeploymentStrategy

__all__ = ["AnalysisReport", "analyze_version"]


@attrs.frozen
class AnalysisReport:
    """An analysis: what was asked, measured and decided."""

    query: MetricsQuery
    current: str | None
    """The version compared with, for criteria relative to it (``None``: none)."""
    strategy: DeploymentStrategy
    observation: Observation
    baseline: Observation | None
    relative: tuple[str, ...]
    """The metrics judged against the current version."""
    verdict: Verdict
    readings: tuple[MetricReading, ...]
    unreachable: str | None = None
    """Why the metrics could not be read (the analysis is then inconclusive)."""

    @property
    def requests(self) -> float:
        return self.observation.get(REQUESTS)

    @property
    def baseline_query(self) -> MetricsQuery | None:
        if self.current is None or not self.relative:
            return None
        return attrs.evolve(self.query, version=self.current, metrics=self.relative, candidate=False)

    @property
    def requests_text(self) -> str:
        return "no" if math.isnan(self.requests) else f"{self.requests:.0f}"


def analyze_version(
    platform: Platform,
    metrics: MetricsSource,
    *,
    service: str,
    environment: str,
    version: str,
    at: datetime,
    current: str | None = None,
    strategy: StrategyKind | None = None,
    rollout_started: datetime | None = None,
    tolerate_outage: bool = False,
) -> AnalysisReport:
    """Measure *version* of *service* in *environment* over the window ending *at*, and judge it by
    *strategy*'s criteria (default: the environment's). *current* is the version it replaces.

    With ``tolerate_outage`` (a rollout's own analysis), an unreachable source gives an inconclusive
    report; otherwise :class:`DependencyUnavailableError` propagates.
    """
    judged_by = platform.strategy_for(environment, strategy)
    canary = platform.canary_strategy
    measured, relative_metrics = _metrics_of(judged_by, canary)
    relative = relative_metrics if current else ()
    query = MetricsQuery(service, environment, version, measured, at, rollout_started)
    unreachable = None
    try:
        observation = metrics.observe(query)
        baseline = (
            metrics.observe(attrs.evolve(query, version=current, metrics=relative, candidate=False))
            if relative and current
            else None
        )
    except DependencyUnavailableError as exc:
        if not tolerate_outage:
            raise
        observation, baseline, unreachable = Observation({}), Observation({}) if relative else None, str(exc)
    verdict, readings = judge(judged_by, canary, observation, baseline)
    return AnalysisReport(query, current, judged_by, observation, baseline, relative, verdict, readings, unreachable)


_METRICS: dict[tuple[int, int], tuple[object, object, tuple[str, ...], tuple[str, ...]]] = {}


def _metrics_of(strategy: DeploymentStrategy, canary: object) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What an analysis by *strategy* measures, and which of it is judged against the current version:
    worked out once per strategy (frozen, and alive while its entry holds it), not once per analysis."""
    key = (id(strategy), id(canary))
    entry = _METRICS.get(key)
    if entry is None or entry[0] is not strategy or entry[1] is not canary:
        assert canary is None or isinstance(canary, CanaryStrategy)
        measured = measured_metrics(strategy, canary)
        relative = tuple(c.metric for c in criteria_for(strategy, canary) if c.relative)
        if len(_METRICS) > 1024:
            _METRICS.clear()
        entry = _METRICS[key] = (strategy, canary, measured, relative)
    return entry[2], entry[3]
