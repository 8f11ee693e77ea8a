"""A whole release in memory and virtual time, on the in-memory adapters: what a policy would have done."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from findly_infra.application.scenarios import SCENARIOS, START, Scenario
from findly_infra.application.service import PipelineService
from findly_infra.application.simulation import SimulationResult, run_simulation
from findly_infra.domain.environment import StrategyKind
from findly_infra.domain.platform import Platform

__all__ = ["simulate"]


def simulate(
    platform: Platform,
    service: str,
    environment: str,
    scenario: Scenario,
    *,
    strategy: StrategyKind | None = None,
    seed: int | None = None,
    version: str = "2.0.0",
    baseline: str = "1.0.0",
    human_approvals: bool = True,
    current_scenario: Scenario | None = None,
    rollout_start: datetime | None = None,
) -> SimulationResult:
    """A whole release in memory and virtual time (see ``application.simulation.run_simulation``), on the
    in-memory adapters: *seed* adds ±10% noise to every value but the request count."""
    from findly_infra.adapters.memory import MemoryEventStore, ScenarioMetrics, SimulatedCluster, VirtualClock

    clock = VirtualClock(START if rollout_start is None else rollout_start - timedelta(days=1))
    metrics = ScenarioMetrics(SCENARIOS["healthy"], noise=random.Random(seed) if seed is not None else None)
    pipelines = PipelineService(platform, MemoryEventStore(), clock, metrics, SimulatedCluster())
    return run_simulation(
        pipelines,
        clock,
        metrics,
        service=service,
        environment=environment,
        scenario=scenario,
        strategy=strategy,
        version=version,
        baseline=baseline,
        human_approvals=human_approvals,
        current_scenario=current_scenario,
        rollout_start=rollout_start,
    )
