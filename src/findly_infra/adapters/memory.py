"""In-memory adapters for every port: fakes that hold real state, for tests and simulations."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import attrs

from findly_infra.application.ports import ConcurrencyError, DependencyUnavailableError
from findly_infra.domain.events import Event, MetricReading, Verdict
from findly_infra.domain.slo import BudgetStatus

__all__ = [
    "MemoryErrorBudgets",
    "MemoryEventStore",
    "RecordingNotifier",
    "ScriptedMetrics",
    "SimulatedCluster",
    "SystemClock",
    "VirtualClock",
]


@attrs.define
class MemoryEventStore:
    """Streams in a dict; appends check the expected version like the SQLite store does."""

    streams: dict[str, list[Event]] = attrs.field(factory=dict)

    def load(self, service: str) -> tuple[list[Event], int]:
        events = list(self.streams.get(service, []))
        return events, len(events)

    def append(self, service: str, expected_version: int, events: Sequence[Event]) -> int:
        stream = self.streams.setdefault(service, [])
        if len(stream) != expected_version:
            raise ConcurrencyError(f"{service} changed: at version {len(stream)}, not {expected_version}")
        stream.extend(events)
        return len(stream)


@attrs.define
class VirtualClock:
    """Time that moves only when told to: a 60-minute canary runs in milliseconds."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> datetime:
        self.current += delta
        return self.current


class SystemClock:
    def now(self) -> datetime:
        from datetime import UTC

        return datetime.now(UTC).replace(tzinfo=None)


@attrs.define
class SimulatedCluster:
    """Records which version serves which share of traffic, per service and environment, over time."""

    routes: dict[tuple[str, str], dict[str, int]] = attrs.field(factory=dict)
    history: list[tuple[datetime, str, str, dict[str, int]]] = attrs.field(factory=list)

    def route(self, service: str, environment: str, weights: dict[str, int], at: datetime) -> None:
        cleaned = {version: weight for version, weight in weights.items() if weight > 0}
        if self.routes.get((service, environment)) == cleaned:
            return  # applying the same step twice changes nothing
        self.routes[(service, environment)] = cleaned
        self.history.append((at, service, environment, dict(cleaned)))

    def weights(self, service: str, environment: str) -> dict[str, int]:
        return dict(self.routes.get((service, environment), {}))


Script = Callable[[str, str, str, datetime], tuple[Verdict, tuple[MetricReading, ...]]]


@attrs.define
class ScriptedMetrics:
    """Verdicts from a script: a function of (service, environment, version, time)."""

    script: Script

    def analyze(
        self,
        service: str,
        environment: str,
        version: str,
        at: datetime,
        current: str | None = None,  # noqa: ARG002 - a script judges the new version alone
    ) -> tuple[Verdict, tuple[MetricReading, ...]]:
        return self.script(service, environment, version, at)


@attrs.define
class MemoryErrorBudgets:
    """Error budgets held in memory, per (service, environment): set them, or take the source down."""

    statuses: dict[tuple[str, str], tuple[BudgetStatus, ...]] = attrs.field(factory=dict)
    down: bool = False
    reads: int = 0

    def budgets(self, service: str, environment: str, at: datetime) -> tuple[BudgetStatus, ...]:  # noqa: ARG002
        self.reads += 1
        if self.down:
            raise DependencyUnavailableError("the error budgets cannot be read (the in-memory source is down)")
        return self.statuses.get((service, environment), ())


@attrs.define
class RecordingNotifier:
    sent: list[Event] = attrs.field(factory=list)

    def notify(self, event: Event) -> None:
        self.sent.append(event)
