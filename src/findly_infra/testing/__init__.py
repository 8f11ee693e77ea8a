"""Test doubles and tools for your own tests: Hypothesis strategies (``findly_infra.testing.strategies``,
needs the ``testing`` extra), the in-memory adapters and the simulator."""

from __future__ import annotations

from findly_infra.adapters.memory import (
    MemoryErrorBudgets,
    MemoryEventStore,
    RecordingNotifier,
    ScriptedMetrics,
    SimulatedCluster,
    VirtualClock,
)
from findly_infra.application.simulation import SCENARIOS, ScenarioMetrics, SimulationResult, simulate

__all__ = [
    "SCENARIOS",
    "MemoryErrorBudgets",
    "MemoryEventStore",
    "RecordingNotifier",
    "ScenarioMetrics",
    "ScriptedMetrics",
    "SimulatedCluster",
    "SimulationResult",
    "VirtualClock",
    "simulate",
]
