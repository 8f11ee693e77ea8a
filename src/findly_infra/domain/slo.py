"""Service level objectives and their error budgets."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import ClassVar

import attrs

from findly_infra.domain.errors import InvariantError
from findly_infra.domain.notation import (
    Duration,
    ErrorBudgetStatement,
    LatencyObjective,
    MetricKind,
    NotationError,
    Percentage,
    Threshold,
    describe_value,
    format_number,
)

__all__ = [
    "BURN_WINDOWS",
    "AvailabilityObjective",
    "BudgetReport",
    "BudgetStatus",
    "CapacityStatus",
    "ErrorRateObjective",
    "SLATarget",
    "SLODefinition",
    "SLOObjective",
    "ThroughputObjective",
    "budget_status",
    "parse_alerting_threshold",
    "parse_objective",
]


@attrs.frozen
class SLATarget:
    """An objective over a window, and the error-budget arithmetic that follows from it.

    ``SLATarget(Percentage(99.9), Duration.of(days=30)).error_budget`` is 43.2 minutes.
    """

    objective: Percentage
    window: Duration

    def __attrs_post_init__(self) -> None:
        if not 0 < self.objective.percent < 100:
            raise InvariantError(f"an objective lies strictly between 0% and 100%, got {self.objective}")
        if self.window.milliseconds <= 0:
            raise InvariantError("an SLO window is a positive time", field="window")

    @property
    def allowed_error_ratio(self) -> float:
        """The share of bad events the objective tolerates: 0.001 for 99.9%."""
        return (100 - self.objective.percent) / 100

    @property
    def error_budget(self) -> Duration:
        """The time of total outage the window tolerates."""
        return Duration(round(self.window.milliseconds * self.allowed_error_ratio))

    def burn_rate(self, observed_error_ratio: float) -> float:
        """How fast an observed error ratio spends the budget: 1 spends it exactly over the window."""
        _check_ratio(observed_error_ratio)
        return observed_error_ratio / self.allowed_error_ratio

    def budget_remaining(self, observed_error_ratio: float) -> float:
        """The fraction of the budget left after a window at *observed_error_ratio* (negative when overspent)."""
        return 1 - self.burn_rate(observed_error_ratio)

    def budget_remaining_time(self, observed_error_ratio: float) -> Duration:
        """The budget left, as outage time (zero when spent)."""
        left = self.budget_remaining(observed_error_ratio)
        return Duration(max(0, round(self.error_budget.milliseconds * left)))

    def is_exhausted(self, observed_error_ratio: float) -> bool:
        return self.budget_remaining(observed_error_ratio) <= 0


def _check_ratio(value: float) -> None:
    if math.isnan(value) or not 0 <= value <= 1:
        raise ValueError(f"an error ratio lies between 0 and 1, got {value}")


@attrs.frozen
class AvailabilityObjective:
    """``99.9%``: the share of good events (or time) to keep."""

    target: Percentage

    def format(self) -> str:
        return self.target.format()


@attrs.frozen
class ErrorRateObjective:
    """``< 0.1% error rate``: the largest error ratio to keep under."""

    limit: Threshold

    def format(self) -> str:
        return f"{self.limit.format()} error rate"


@attrs.frozen
class ThroughputObjective:
    """``1000 requests/second capacity``: the load the service must carry."""

    requests_per_second: float

    def format(self) -> str:
        return f"{format_number(self.requests_per_second)} requests/second capacity"


SLOObjective = AvailabilityObjective | LatencyObjective | ErrorRateObjective | ThroughputObjective

_ERROR_RATE = re.compile(r"^(.+?%)\s*(?:error\s*rate|errors?)?$", re.I)
_THROUGHPUT = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:requests?|req|rps)(?:\s*/\s*(?:second|sec|s))?(?:\s+capacity)?$", re.I)
_AVAILABILITY = re.compile(r"^(.+?%)\s*(?:uptime|availability|available)?$", re.I)
_OBJECTIVE_EXAMPLE = "'99.9%', '95% of requests < 200ms', '< 0.1% error rate' or '1000 requests/second capacity'"


def parse_objective(raw: object) -> SLOObjective:
    """Reads an SLO ``target`` in any of the four forms the seed uses."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return AvailabilityObjective(Percentage.parse(raw))
    if not isinstance(raw, str):
        raise NotationError(f"expected an objective such as {_OBJECTIVE_EXAMPLE}, got {describe_value(raw)}")
    text = " ".join(raw.split())
    try:
        if " of requests " in text.lower():
            return LatencyObjective.parse(text)
        if text.startswith("<"):  # an error rate is kept under a limit: '> 1% error rate' is no objective
            match = _ERROR_RATE.match(text)
            if match:
                return ErrorRateObjective(Threshold.parse(match.group(1)))
        if match := _THROUGHPUT.match(text):
            return ThroughputObjective(float(match.group(1)))
        if match := _AVAILABILITY.match(text):
            return AvailabilityObjective(Percentage.parse(match.group(1)))
    except NotationError:
        pass
    raise NotationError(f"expected an objective such as {_OBJECTIVE_EXAMPLE}, got {describe_value(raw)}")


_ALERT_SUFFIX = re.compile(r"\s*(?:error\s*rate|errors?|capacity\s+utili[sz]ation|utili[sz]ation|capacity)$", re.I)


def parse_alerting_threshold(raw: object) -> LatencyObjective | Threshold:
    """Reads ``"90% of requests < 200ms"``, ``"> 0.5% error rate"`` or ``"> 80% capacity utilization"``."""
    if isinstance(raw, str):
        text = " ".join(raw.split())
        try:
            if " of requests " in text.lower():
                return LatencyObjective.parse(text)
            return Threshold.parse(_ALERT_SUFFIX.sub("", text))
        except NotationError:
            pass
    raise NotationError(
        "expected an alerting threshold such as '90% of requests < 200ms' or '> 0.5% error rate', "
        f"got {describe_value(raw)}"
    )


@attrs.frozen
class SLODefinition:
    """One entry of ``slo_definitions``: an objective, its window, and optionally its stated budget."""

    name: str
    target: SLOObjective
    measurement_window: Duration
    error_budget: ErrorBudgetStatement | None = None
    alerting_threshold: LatencyObjective | Threshold | None = None

    TOLERANCE: ClassVar[float] = 0.01

    def __attrs_post_init__(self) -> None:
        if self.measurement_window.milliseconds <= 0:
            raise InvariantError("the measurement window is a positive time", field="measurement_window")
        objective = self.target
        if isinstance(objective, AvailabilityObjective) and not 0 < objective.target.percent < 100:
            raise InvariantError(
                f"an availability target lies between 0% and 100%, got {objective.target}", field="target"
            )
        if isinstance(objective, ErrorRateObjective) and objective.limit.kind is not MetricKind.PERCENTAGE:
            raise InvariantError("an error-rate target is a percentage, such as '< 0.1% error rate'", field="target")
        if isinstance(objective, ErrorRateObjective) and not 0 < objective.limit.value < 1:
            raise InvariantError(
                f"an error-rate target lies between 0% and 100%, got {objective.limit}", field="target"
            )
        if isinstance(objective, ThroughputObjective) and objective.requests_per_second <= 0:
            raise InvariantError("a throughput target is above zero requests per second", field="target")

    @property
    def sla_target(self) -> SLATarget | None:
        """The objective as a share of good events over the window; ``None`` for throughput."""
        objective = self.target
        if isinstance(objective, AvailabilityObjective):
            return SLATarget(objective.target, self.measurement_window)
        if isinstance(objective, LatencyObjective):
            return SLATarget(objective.proportion, self.measurement_window)
        if isinstance(objective, ErrorRateObjective) and isinstance(objective.limit.limit, Percentage):
            return SLATarget(Percentage(100 - objective.limit.limit.percent), self.measurement_window)
        return None

    def stated_budget_disagreement(self) -> str | None:
        """A sentence when the stated ``error_budget`` is not what the target and window give, else ``None``."""
        target = self.sla_target
        if self.error_budget is None or target is None:
            return None
        period = self.error_budget.period(self.measurement_window)
        expected = SLATarget(target.objective, period).error_budget
        stated = self.error_budget.budget
        if abs(stated.milliseconds - expected.milliseconds) <= self.TOLERANCE * expected.milliseconds:
            return None
        over = (
            f"a {self.error_budget.per}"
            if self.error_budget.per
            else f"the {self.measurement_window.describe()} window"
        )
        return (
            f"the stated error budget {self.error_budget} disagrees with the target: "
            f"{target.objective} over {over} ({period.describe()}) leaves {expected.describe()}"
        )


BURN_WINDOWS: tuple[Duration, ...] = (
    Duration.of(minutes=5),
    Duration.of(hours=1),
    Duration.of(hours=6),
    Duration.of(days=3),
)
"""The windows ``slo status`` reports burn rates over (the SRE Workbook's alerting windows)."""

_RATIO_SLACK = 1e-9


def _measured_ratio(value: float) -> float:
    """A measured bad-event ratio: NaN (no traffic) stays NaN; float noise at the ends is clamped."""
    if math.isnan(value):
        return value
    if not -_RATIO_SLACK <= value <= 1 + _RATIO_SLACK:
        raise ValueError(f"a ratio of bad events lies between 0 and 1, got {value}")
    return min(1.0, max(0.0, value))


@attrs.frozen
class BudgetStatus:
    """An SLO's error budget as measured: the share of bad events over its window, and how fast it burns.

    ``error_ratio`` is NaN when the window held no traffic: nothing is known, so nothing is spent.
    ``burn_rates`` pairs each window with bad ratio / allowed ratio (1: the budget lasts exactly the window).
    """

    slo: SLODefinition
    error_ratio: float = attrs.field(converter=_measured_ratio)
    burn_rates: tuple[tuple[Duration, float], ...] = ()

    def __attrs_post_init__(self) -> None:
        if self.slo.sla_target is None:
            raise InvariantError(f"the {self.slo.name} SLO is a capacity target: it has no error budget")

    @property
    def target(self) -> SLATarget:
        target = self.slo.sla_target
        assert target is not None  # checked on construction
        return target

    @property
    def measured(self) -> bool:
        return not math.isnan(self.error_ratio)

    @property
    def sli(self) -> float:
        """The share of good events over the window (NaN: no traffic)."""
        return 1 - self.error_ratio

    @property
    def remaining(self) -> float:
        """The fraction of the budget left: 1 untouched, 0 spent, negative overspent; NaN when unmeasured."""
        return self.target.budget_remaining(self.error_ratio) if self.measured else math.nan

    @property
    def remaining_time(self) -> Duration | None:
        """The budget left as full-outage time (zero when spent); ``None`` when unmeasured."""
        return self.target.budget_remaining_time(self.error_ratio) if self.measured else None

    @property
    def exhausted(self) -> bool:
        """Spent (or overspent). An unmeasured budget is not spent: no traffic failed."""
        return self.measured and self.remaining <= 0

    def describe(self) -> str:
        """``availability: 99.95% good over 30 days, 50% of the 43m12s budget left``."""
        if not self.measured:
            return f"{self.slo.name}: no traffic over {self.slo.measurement_window.describe()}"
        left = "spent" if self.exhausted else f"{self.remaining:.0%} of the {self.target.error_budget.describe()} left"
        return (
            f"{self.slo.name}: {self.sli:.4%} good over {self.slo.measurement_window.describe()} "
            f"(objective {self.slo.target.format()}), budget {left}"
        )


def budget_status(
    slo: SLODefinition, error_ratio: float, window_ratios: Sequence[tuple[Duration, float]] = ()
) -> BudgetStatus:
    """The status of *slo* from its measured bad-event ratio and the ratios over the burn windows."""
    target = slo.sla_target
    if target is None:
        raise InvariantError(f"the {slo.name} SLO is a capacity target: it has no error budget")
    burns = tuple(
        (window, math.nan if math.isnan(ratio) else target.burn_rate(_measured_ratio(ratio)))
        for window, ratio in window_ratios
    )
    return BudgetStatus(slo, error_ratio, burns)


@attrs.frozen
class CapacityStatus:
    """A throughput SLO (``1000 requests/second capacity``) against the load measured: no budget to spend."""

    slo: SLODefinition
    requests_per_second: float

    @property
    def utilization(self) -> float:
        """Load over capacity (NaN when unmeasured)."""
        objective = self.slo.target
        assert isinstance(objective, ThroughputObjective)
        return self.requests_per_second / objective.requests_per_second


@attrs.frozen
class BudgetReport:
    """A service's SLOs in one environment: each error budget, each capacity target, and what could
    not be measured and why (``notes``). ``queries`` maps each SLO to the PromQL of its window."""

    service: str
    environment: str
    at: datetime
    budgets: tuple[BudgetStatus, ...]
    capacities: tuple[CapacityStatus, ...]
    queries: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    notes: tuple[str, ...] = ()

    @property
    def spent(self) -> tuple[BudgetStatus, ...]:
        return tuple(status for status in self.budgets if status.exhausted)
