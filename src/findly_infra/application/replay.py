"""Replays: what Prometheus recorded of a past release, as scenarios a simulation judges minute by minute."""

from __future__ import annotations

from datetime import datetime, timedelta

from findly_infra.application.ports import BadInputError, MetricsQuery, MetricsRecord
from findly_infra.application.scenarios import Scenario, recorded_scenario
from findly_infra.domain.analysis import criteria_for, measured_metrics
from findly_infra.domain.environment import StrategyKind
from findly_infra.domain.platform import Platform

__all__ = ["MAX_REPLAY_MINUTES", "recorded_release"]

MAX_REPLAY_MINUTES = 7 * 24 * 60


def recorded_release(
    platform: Platform,
    record: MetricsRecord,
    *,
    service: str,
    environment: str,
    version: str,
    start: datetime,
    minutes: int,
    current: str | None = None,
    strategy: StrategyKind | None = None,
) -> tuple[Scenario, Scenario | None]:
    """The recorded *version* from *start* for *minutes* (one value per analysis interval, one range query
    per metric), and *current*'s record for criteria relative to it (``None`` when there are none)."""
    if not 1 <= minutes <= MAX_REPLAY_MINUTES:
        raise BadInputError(f"--minutes is between 1 and {MAX_REPLAY_MINUTES}, got {minutes}")
    judged_by = platform.strategy_for(environment, strategy)
    canary = platform.canary_strategy
    step = timedelta(milliseconds=judged_by.analysis.interval.milliseconds)
    until = start + timedelta(minutes=minutes)
    relative = tuple(c.metric for c in criteria_for(judged_by, canary) if c.relative)
    name = platform.environment(environment).name

    def scenario(of: str, metrics: tuple[str, ...]) -> Scenario:
        points = record.record(MetricsQuery(service, name, of, metrics, start), until, step)
        return recorded_scenario(points, step.total_seconds() / 60)

    recorded = scenario(version, measured_metrics(judged_by, canary))
    baseline = scenario(current, relative) if current and relative else None
    return recorded, baseline
