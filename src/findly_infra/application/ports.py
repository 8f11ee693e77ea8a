"""The ports the use cases need: small Protocols, one per concern (Flagger's habit).

Adapters implement them: in memory (for tests and simulations), SQLite (the default state), and
later Prometheus, Kubernetes and GCP. The use cases never import an adapter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from findly_infra.domain.events import Event, MetricReading, Verdict
from findly_infra.domain.slo import BudgetStatus

__all__ = [
    "Clock",
    "ConcurrencyError",
    "DependencyUnavailableError",
    "ErrorBudgets",
    "EventStore",
    "MetricsSource",
    "Notifier",
    "TrafficRouter",
]


class ConcurrencyError(Exception):
    """Raised when another writer changed a service's stream since it was read: nothing was written."""


class DependencyUnavailableError(Exception):
    """Raised by an adapter whose system (Prometheus, Kubernetes, GCP) cannot be reached after its retries."""


class EventStore(Protocol):
    """Per-service streams of events, appended all-or-nothing at an expected version."""

    def load(self, service: str) -> tuple[list[Event], int]:
        """The service's events in order, and the stream's version (its event count)."""
        ...

    def append(self, service: str, expected_version: int, events: Sequence[Event]) -> int:
        """Append *events* if the stream is still at *expected_version*; return the new version.

        Raises :class:`ConcurrencyError` (and writes nothing) otherwise.
        """
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class MetricsSource(Protocol):
    """Judges the new version's metrics for one analysis: a verdict and each criterion's reading.

    *current* is the version it replaces (``None`` on a first release), for criteria relative to it.
    """

    def analyze(
        self, service: str, environment: str, version: str, at: datetime, current: str | None = None
    ) -> tuple[Verdict, tuple[MetricReading, ...]]: ...


class ErrorBudgets(Protocol):
    """Each error-budget SLO of a service in an environment, as measured up to *at*.

    Raises :class:`DependencyUnavailableError` when the budgets cannot be read.
    """

    def budgets(self, service: str, environment: str, at: datetime) -> tuple[BudgetStatus, ...]: ...


class TrafficRouter(Protocol):
    """Sets which version serves which share of an environment's traffic (the mesh's weights)."""

    def route(self, service: str, environment: str, weights: dict[str, int], at: datetime) -> None: ...

    def weights(self, service: str, environment: str) -> dict[str, int]: ...


class Notifier(Protocol):
    def notify(self, event: Event) -> None: ...
