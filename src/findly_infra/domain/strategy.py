"""Deployment strategies: rolling, blue-green and canary, with what decides their success."""

from __future__ import annotations

import itertools
import math
import re
from typing import ClassVar

import attrs

from findly_infra.domain.errors import InvariantError, first_repeat
from findly_infra.domain.notation import (
    Duration,
    MetricKind,
    NotationError,
    Percentage,
    RelativeThreshold,
    Threshold,
    describe_value,
)

__all__ = [
    "HEALTH_CHECKS_STEP",
    "AnalysisSettings",
    "BlueGreenStrategy",
    "BlueGreenTrafficSplit",
    "CanaryStep",
    "CanaryStrategy",
    "DeploymentStrategy",
    "FailureHandling",
    "MetricCriterion",
    "RollbackTrigger",
    "RollingStrategy",
    "TrafficSplit",
    "ValidationStep",
    "metric_kind",
]

_MAX_COUNT_DIGITS = 9

HEALTH_CHECKS_STEP = "health_checks"
"""The blue-green validation step met by the rollout's own analysis rather than by recorded evidence."""

_LATENCY_METRIC = re.compile(r"^latency_p(\d{1,2}(?:\.\d+)?)$")
_PERCENT_METRICS = ("error_rate", "cpu_utilization", "memory_utilization", "health_check_failures")


def metric_kind(metric: str) -> MetricKind | None:
    """What a criterion's metric is measured in: a percentage, a duration, or ``None`` if unknown.

    Known metrics: ``error_rate``, ``cpu_utilization``, ``memory_utilization``,
    ``health_check_failures`` (percentages) and ``latency_pNN`` such as ``latency_p95`` (durations).
    """
    if metric in _PERCENT_METRICS:
        return MetricKind.PERCENTAGE
    if _LATENCY_METRIC.match(metric):
        return MetricKind.DURATION
    return None


def _known_metrics() -> str:
    return ", ".join((*_PERCENT_METRICS, "latency_p95", "latency_p99"))


@attrs.frozen
class MetricCriterion:
    """``error_rate: "< 0.5%"``: a metric of the new version and the threshold it is held to, or
    ``latency_p95: "< 1.2x current"``: held to a multiple of the current version's value."""

    metric: str
    threshold: Threshold | RelativeThreshold

    def __attrs_post_init__(self) -> None:
        kind = metric_kind(self.metric)
        if kind is None:
            raise InvariantError(f"unknown metric {self.metric!r}; known metrics: {_known_metrics()}", field="metric")
        if isinstance(self.threshold, Threshold) and kind != self.threshold.kind:
            example = "'< 1.5 seconds'" if kind is MetricKind.DURATION else "'< 0.5%'"
            raise InvariantError(
                f"{self.metric} is a {kind.value}, so its threshold is written like {example}; got '{self.threshold}'",
                field="threshold",
            )

    @property
    def relative(self) -> bool:
        """Whether the criterion compares with the current version rather than a fixed limit."""
        return isinstance(self.threshold, RelativeThreshold)

    def holds_for(self, observed: float, current: float = math.nan) -> bool:
        """Whether an observed value (a ratio, or seconds) meets the threshold; *current* is the current
        version's value, for a relative criterion. NaN never does."""
        if isinstance(self.threshold, RelativeThreshold):
            return self.threshold.holds_for(observed, current)
        return self.threshold.holds_for(observed)


@attrs.frozen
class AnalysisSettings:
    """How often, and on how much traffic, a rollout's metrics are judged.

    An analysis with fewer than ``min_requests`` requests is inconclusive; ``inconclusive_limit``
    inconclusive analyses in a row pause the rollout for a person.
    """

    interval: Duration = Duration.of(seconds=60)
    min_requests: int = attrs.field(default=100, validator=attrs.validators.ge(0))
    inconclusive_limit: int = attrs.field(default=3, validator=attrs.validators.ge(1))

    def __attrs_post_init__(self) -> None:
        if self.interval.milliseconds < 1000:
            raise InvariantError(f"the analysis interval is at least 1s, got {self.interval}", field="interval")


@attrs.frozen
class CanaryStep:
    """A stage of a canary: the share of traffic the new version gets, and for how long (``None``: stable)."""

    stage: str
    canary_weight: int
    duration: Duration | None

    def __attrs_post_init__(self) -> None:
        if not 0 < self.canary_weight <= 100:
            raise InvariantError(
                f"canary_weight is a percentage of traffic above 0 and at most 100, got {self.canary_weight}",
                field="canary_weight",
            )
        if self.duration is not None and self.duration.milliseconds <= 0:
            raise InvariantError(f"a stage lasts a positive time, got {self.duration}", field="duration")


@attrs.frozen
class FailureHandling:
    """What happens when the canary fails its analysis.

    ``rollback_threshold`` ("2 failed criteria") is the number of failed analyses within one stage of
    the canary that roll it back: they count per stage, not in a row, so a flapping canary that passes
    between its failures is still rolled back; a traffic shift (a new stage) or a resume starts the
    count again (see ``docs/pipeline.md``).
    """

    automatic_rollback: bool = True
    rollback_threshold: int = attrs.field(default=1)
    notification_channels: tuple[str, ...] = ()

    @rollback_threshold.validator
    def _check(self, _attribute: object, value: int) -> None:
        if value < 1:
            raise InvariantError(f"rollback_threshold is at least 1, got {value}", field="rollback_threshold")

    _THRESHOLD: ClassVar[re.Pattern[str]] = re.compile(
        r"^\s*(\d+)\s*(?:failed|failures?|failing)?\s*(?:criteria|criterion|analyses|analysis|checks?|intervals?)?\s*$",
        re.I,
    )

    @classmethod
    def parse_threshold(cls, raw: object) -> int:
        """Reads ``"2 failed criteria"``, ``"3 failed analyses"`` or ``2``."""
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        match = cls._THRESHOLD.match(raw) if isinstance(raw, str) else None
        if match is None:
            raise NotationError(
                f"expected a count of failed analyses such as '2 failed criteria' or 2, got {describe_value(raw)}"
            )
        if len(match.group(1)) > _MAX_COUNT_DIGITS:  # int() of 4,300 digits and more raises; none is a count
            raise NotationError(
                f"a count of failed analyses has at most {_MAX_COUNT_DIGITS} digits, got {describe_value(raw)}"
            )
        return int(match.group(1))


@attrs.frozen
class CanaryStrategy:
    """Progressive traffic shifting, judged by success criteria at every analysis interval."""

    traffic_progression: tuple[CanaryStep, ...]
    success_criteria: tuple[MetricCriterion, ...] = ()
    failure_handling: FailureHandling = FailureHandling()
    analysis: AnalysisSettings = AnalysisSettings()

    def __attrs_post_init__(self) -> None:
        steps = self.traffic_progression
        if not steps:
            raise InvariantError("a canary needs at least one stage", field="traffic_progression")
        for index, (before, after) in enumerate(itertools.pairwise(steps), start=1):
            if after.canary_weight < before.canary_weight:
                raise InvariantError(
                    f"canary weights never go down during a rollout: stage {after.stage!r} has "
                    f"{after.canary_weight}%, after {before.canary_weight}% in stage {before.stage!r}",
                    field="traffic_progression",
                    index=index,
                )
        if steps[0].canary_weight == 100:
            raise InvariantError(
                "a canary starts below 100% of traffic: add a stage that gives the new version a share, "
                "such as canary_weight: 5",
                field="traffic_progression",
                index=0,
            )
        if steps[-1].canary_weight != 100:
            raise InvariantError(
                f"the canary must end at 100% of traffic; its last stage {steps[-1].stage!r} "
                f"gives it {steps[-1].canary_weight}%",
                field="traffic_progression",
                index=len(steps) - 1,
            )
        for index, step in enumerate(steps[:-1]):
            if step.duration is None:
                raise InvariantError(
                    f"only the last stage can be 'stable'; stage {step.stage!r} needs a duration",
                    field="traffic_progression",
                    index=index,
                )
        metrics = [criterion.metric for criterion in self.success_criteria]
        if (repeat := first_repeat(metrics)) is not None:
            raise InvariantError(f"{metrics[repeat]} has two criteria", field="success_criteria", index=metrics[repeat])

    @property
    def timed_steps(self) -> tuple[CanaryStep, ...]:
        return tuple(step for step in self.traffic_progression if step.duration is not None)

    @property
    def time_to_full_traffic(self) -> Duration:
        """How long the canary takes before every request reaches the new version."""
        total = Duration(0)
        for step in self.traffic_progression:
            if step.canary_weight == 100:
                break
            total += step.duration or Duration(0)
        return total

    @property
    def analysis_count(self) -> int:
        """How many analyses run over the timed stages, one per ``analysis.interval``."""
        interval = self.analysis.interval.milliseconds
        return sum(step.duration.milliseconds // interval for step in self.timed_steps if step.duration)


_SPLIT = re.compile(
    r"^\s*(\d+(?:\.\d+)?)%\s*blue\s*,\s*(\d+(?:\.\d+)?)%\s*green\s*(?:\((.+)\))?\s*$",
    re.I,
)


_SHARE_SLACK = 1e-9
"""How far from 100% two shares written in decimals may add up (float noise)."""


@attrs.frozen
class TrafficSplit:
    """``0% blue, 100% green (internal traffic)``: the share of each colour, and who the split is for."""

    blue: Percentage
    green: Percentage
    audience: str | None = None

    EXAMPLE: ClassVar[str] = "'100% blue, 0% green' or '0% blue, 100% green (internal traffic)'"

    def __attrs_post_init__(self) -> None:
        if not math.isclose(self.blue.percent + self.green.percent, 100, rel_tol=0, abs_tol=_SHARE_SLACK):
            raise InvariantError(f"blue and green shares add up to 100%, not {self.blue.percent + self.green.percent}%")

    @classmethod
    def parse(cls, raw: object) -> TrafficSplit:
        match = _SPLIT.match(raw) if isinstance(raw, str) else None
        if match is None:
            raise NotationError(f"expected a traffic split such as {cls.EXAMPLE}, got {describe_value(raw)}")
        audience = match.group(3).strip() if match.group(3) else None
        return cls(Percentage(float(match.group(1))), Percentage(float(match.group(2))), audience)

    def format(self) -> str:
        text = f"{self.blue.format()} blue, {self.green.format()} green"
        return text if self.audience is None else f"{text} ({self.audience})"

    def __str__(self) -> str:
        return self.format()


@attrs.frozen
class BlueGreenTrafficSplit:
    """The four moments of a blue-green release and the split at each."""

    initial: TrafficSplit = TrafficSplit(Percentage(100), Percentage(0))
    validation: TrafficSplit = TrafficSplit(Percentage(0), Percentage(100), "internal traffic")
    cutover: TrafficSplit = TrafficSplit(Percentage(0), Percentage(100), "all traffic")
    rollback: TrafficSplit = TrafficSplit(Percentage(100), Percentage(0))

    def __attrs_post_init__(self) -> None:
        expectations = (
            ("initial", self.initial, "blue", "before the release all traffic stays on the live (blue) colour"),
            ("cutover", self.cutover, "green", "a cutover sends all traffic to the new (green) colour"),
            ("rollback", self.rollback, "blue", "a rollback returns all traffic to the previous (blue) colour"),
        )
        for field, split, colour, rule in expectations:
            share = split.blue if colour == "blue" else split.green
            if share.percent != 100:
                raise InvariantError(f"{rule}: expected 100% {colour}, got '{split}'", field=field)


_MANUAL = re.compile(r"\bmanual\b", re.I)


@attrs.frozen
class ValidationStep:
    """A blue-green check before cutover: ``health_checks``, ``smoke_tests``, ``performance_tests``,
    ``business_validation``. A step whose description says "manual" waits for a person's approval;
    ``health_checks`` is recorded by the rollout itself; any other step is met by a passed test suite
    of its name."""

    name: str
    description: str = ""

    @property
    def manual(self) -> bool:
        return bool(_MANUAL.search(self.description))

    @property
    def is_health_checks(self) -> bool:
        """The step the rollout's own analysis meets (a passing analysis on the new colour)."""
        return self.name == HEALTH_CHECKS_STEP

    @property
    def evidence(self) -> str | None:
        """The test suite whose passed result meets this step; ``None`` for health checks and manual steps."""
        return None if self.manual or self.is_health_checks else self.name


@attrs.frozen
class RollbackTrigger:
    """After cutover, a metric whose breach returns traffic to the previous colour at once
    (``error_rate: "> 1%"``), or the emergency ``manual_trigger``, which has no threshold."""

    name: str
    threshold: Threshold | None = None
    description: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.threshold is None:
            if metric_kind(self.name) is not None:
                raise InvariantError(f"the {self.name} trigger needs a threshold such as '> 1%'", field="threshold")
            return
        kind = metric_kind(self.name)
        if kind is None:
            raise InvariantError(
                f"unknown metric {self.name!r}; known metrics: {_known_metrics()} (or manual_trigger)", field="name"
            )
        if kind != self.threshold.kind:
            example = "'> 2 seconds'" if kind is MetricKind.DURATION else "'> 1%'"
            raise InvariantError(
                f"{self.name} is a {kind.value}, so its threshold is written like {example}; got '{self.threshold}'",
                field="threshold",
            )

    @property
    def manual(self) -> bool:
        return self.threshold is None

    def fires_for(self, observed: float) -> bool:
        """Whether an observed value breaches the trigger (NaN never fires: it is no evidence)."""
        return self.threshold is not None and self.threshold.holds_for(observed)


@attrs.frozen
class BlueGreenStrategy:
    """Two colours: validate the new one on internal traffic, cut over, and watch for rollback triggers."""

    traffic_split: BlueGreenTrafficSplit = BlueGreenTrafficSplit()
    validation_steps: tuple[ValidationStep, ...] = ()
    rollback_triggers: tuple[RollbackTrigger, ...] = ()
    bake_time: Duration = Duration.of(minutes=10)
    validation_timeout: Duration = Duration.of(hours=1)
    analysis: AnalysisSettings = AnalysisSettings()

    def __attrs_post_init__(self) -> None:
        if self.validation_timeout.milliseconds <= 0:
            raise InvariantError("validation_timeout is a positive time", field="validation_timeout")
        for field, names in (
            ("validation_steps", [step.name for step in self.validation_steps]),
            ("rollback_triggers", [trigger.name for trigger in self.rollback_triggers]),
        ):
            if (repeat := first_repeat(names)) is not None:
                raise InvariantError(f"{names[repeat]} is listed twice", field=field, index=repeat)

    @property
    def metric_triggers(self) -> tuple[RollbackTrigger, ...]:
        return tuple(trigger for trigger in self.rollback_triggers if not trigger.manual)


@attrs.frozen
class RollingStrategy:
    """A rolling update: replace pods a few at a time, watch the new version for ``watch``, and redeploy
    the previous version on a failed analysis."""

    max_surge: Percentage = Percentage(25)
    max_unavailable: Percentage = Percentage(0)
    progress_deadline: Duration = Duration.of(minutes=10)
    watch: Duration = Duration.of(minutes=5)
    analysis: AnalysisSettings = AnalysisSettings()

    def __attrs_post_init__(self) -> None:
        if self.max_surge.percent == 0 and self.max_unavailable.percent == 0:
            raise InvariantError("max_surge and max_unavailable cannot both be 0%: the update could never progress")
        for field, value in (("max_surge", self.max_surge), ("max_unavailable", self.max_unavailable)):
            if value.percent > 100:
                raise InvariantError(f"{field} is at most 100%, got {value}", field=field)
        if self.progress_deadline.milliseconds <= 0:
            raise InvariantError("the progress deadline is a positive time", field="progress_deadline")


DeploymentStrategy = RollingStrategy | BlueGreenStrategy | CanaryStrategy
