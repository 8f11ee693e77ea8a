"""Test doubles and tools for your own tests: Hypothesis strategies (``findly_infra.testing.strategies``,
needs the ``testing`` extra), the in-memory adapters, the scenarios and the simulator."""

from __future__ import annotations

from findly_infra.adapters.memory import (
    MemoryErrorBudgets,
    MemoryEventStore,
    MemoryNotifier,
    MemoryOutbox,
    MemorySecrets,
    ScenarioMetrics,
    ScriptedMetrics,
    SimulatedCluster,
    SystemClock,
    VirtualClock,
)
from findly_infra.application.scenarios import HEALTHY, SCENARIOS, recorded_scenario, scenario_from_points
from findly_infra.application.simulation import SimulationResult
from findly_infra.bootstrap import simulate

__all__ = [
    "HEALTHY",
    "SCENARIOS",
    "MemoryErrorBudgets",
    "MemoryEventStore",
    "MemoryNotifier",
    "MemoryOutbox",
    "MemorySecrets",
    "ScenarioMetrics",
    "ScriptedMetrics",
    "SimulatedCluster",
    "SimulationResult",
    "SystemClock",
    "VirtualClock",
    "recorded_scenario",
    "scenario_from_points",
    "simulate",
]
