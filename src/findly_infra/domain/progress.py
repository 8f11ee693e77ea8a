"""How a rollout moves, one policy per strategy: its first step, and what an analysis leads to.

``DeploymentPipeline`` asks; these functions answer with the events to record (none: keep going as is).
Each takes the strategy, the rollout as it stands, and the analysis's time; ``base`` carries the fields every
event of the decision shares (service, environment, version, time, actor).
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import TypedDict

from findly_infra.domain.environment import Environment, RollbackCapability
from findly_infra.domain.events import (
    AwaitingApproval,
    Event,
    RolledBack,
    RolloutPaused,
    RolloutSucceeded,
    TrafficShifted,
)
from findly_infra.domain.notation import Duration
from findly_infra.domain.state import EnvironmentState, Rollout
from findly_infra.domain.strategy import BlueGreenStrategy, CanaryStrategy, RollingStrategy, ValidationStep

__all__: list[str] = []  # the pipeline's own policies: ask DeploymentPipeline, not these


class Base(TypedDict):
    """What every event of one decision says: which service, environment and version; when; who."""

    service: str
    environment: str
    version: str
    at: datetime
    actor: str


@functools.lru_cache(maxsize=256)
def as_timedelta(milliseconds: int) -> timedelta:
    return timedelta(milliseconds=milliseconds)


def first_step(strategy: CanaryStrategy | BlueGreenStrategy | RollingStrategy, base: Base) -> tuple[Event, ...]:
    """A canary's first stage; a rolling update's whole traffic; blue-green none (it validates on internal traffic)."""
    if isinstance(strategy, CanaryStrategy):
        return (TrafficShifted(**base, weight=strategy.traffic_progression[0].canary_weight, step=0),)
    if isinstance(strategy, BlueGreenStrategy):
        return ()
    return (TrafficShifted(**base, weight=100, step=0),)


def after_failure(
    strategy: CanaryStrategy | BlueGreenStrategy | RollingStrategy, env: Environment, rollout: Rollout, base: Base
) -> tuple[Event, ...]:
    """A failed analysis: at the threshold (a canary's ``rollback_threshold`` failures in the stage, one for the
    others), roll back where rollback is automatic, else pause for a person; below it, keep counting."""
    handling = strategy.failure_handling if isinstance(strategy, CanaryStrategy) else None
    threshold = handling.rollback_threshold if handling else 1
    count = rollout.failures + 1
    if count < threshold:
        return ()
    automatic = handling.automatic_rollback if handling else True
    if automatic and env.rollback_capability is RollbackCapability.AUTOMATIC:
        noun = "analysis" if count == 1 else "analyses"
        why = f"{count} failed {noun} in this stage (threshold {threshold})"
        return (RolledBack(**base, reason=why, restored=rollout.previous),)
    return (RolloutPaused(**base, reason="analysis failed; rollback is manual here"),)


def after_doubt(
    strategy: CanaryStrategy | BlueGreenStrategy | RollingStrategy, rollout: Rollout, base: Base
) -> tuple[Event, ...]:
    """An inconclusive analysis: ``inconclusive_limit`` of them in a row pause the rollout for a person."""
    streak = rollout.inconclusive + 1
    if streak < strategy.analysis.inconclusive_limit:
        return ()
    return (RolloutPaused(**base, reason=f"{streak} inconclusive analyses in a row: not enough data to decide"),)


def plan(
    strategy: CanaryStrategy | BlueGreenStrategy | RollingStrategy,
) -> tuple[tuple[tuple[int, int | None], ...], tuple[tuple[str, str], ...], tuple[tuple[str, int], ...]]:
    """What a rollout records of its strategy when it starts, so that it keeps it whatever the file says later:
    a canary's stages, a blue-green rollout's validation steps, and the durations its progress waits for."""
    if isinstance(strategy, CanaryStrategy):
        return canary_plan(strategy), (), ()
    if isinstance(strategy, BlueGreenStrategy):
        steps = tuple((step.name, step.description) for step in strategy.validation_steps)
        timings = (
            ("validation_timeout", strategy.validation_timeout.milliseconds),
            ("bake_time", strategy.bake_time.milliseconds),
        )
        return (), steps, timings
    return (), (), (("watch", strategy.watch.milliseconds),)


def recorded_duration(rollout: Rollout, name: str, default: Duration) -> Duration:
    """The duration *name* the rollout recorded when it started, else the file's (*default*)."""
    recorded = dict(rollout.timings).get(name)
    return default if recorded is None else Duration(recorded)


def validation_steps(strategy: BlueGreenStrategy, rollout: Rollout) -> tuple[ValidationStep, ...]:
    """The rollout's own validation steps (recorded when it started), else the file's."""
    if rollout.validation:
        return tuple(ValidationStep(name, description) for name, description in rollout.validation)
    return strategy.validation_steps


def rolling(strategy: RollingStrategy, rollout: Rollout, base: Base, at: datetime) -> tuple[Event, ...]:
    """A rolling update succeeds on the first passing analysis once it has been watched for ``watch`` (its own)."""
    watched = at - rollout.started >= as_timedelta(recorded_duration(rollout, "watch", strategy.watch).milliseconds)
    return (RolloutSucceeded(**base),) if watched else ()


def canary_plan(strategy: CanaryStrategy) -> tuple[tuple[int, int | None], ...]:
    """A canary's stages as a rollout records them: (weight, duration in ms, ``None`` for stable)."""
    return tuple(
        (step.canary_weight, step.duration.milliseconds if step.duration else None)
        for step in strategy.traffic_progression
    )


def canary(strategy: CanaryStrategy, rollout: Rollout, base: Base, at: datetime) -> tuple[Event, ...]:
    """The next stage once this one has lasted its duration; the last stage (or an untimed 100%) succeeds. The
    stages are the rollout's own plan, recorded when it started (the file's, for a rollout that recorded none)."""
    stages = rollout.stages or canary_plan(strategy)
    _weight, duration = stages[rollout.step]
    started = rollout.step_started or rollout.started
    if duration is None or at - started < as_timedelta(duration):
        return ()  # an untimed stage is the last one, 100%: the shift into it already succeeded
    if rollout.step + 1 >= len(stages):
        return (RolloutSucceeded(**base),)
    weight, following = stages[rollout.step + 1]
    shifted = TrafficShifted(**base, weight=weight, step=rollout.step + 1)
    if weight == 100 and following is None:
        return (shifted, RolloutSucceeded(**base))
    return (shifted,)


def blue_green(
    strategy: BlueGreenStrategy, rollout: Rollout, state: EnvironmentState, base: Base, at: datetime
) -> tuple[Event, ...]:
    """Before cutover, validation (:func:`blue_green_validation`); after it, success once baked for ``bake_time``."""
    if rollout.weight < 100:
        return blue_green_validation(strategy, rollout, state, base, at)
    cut_over = rollout.step_started
    bake = as_timedelta(recorded_duration(rollout, "bake_time", strategy.bake_time).milliseconds)
    baked = cut_over is not None and at - cut_over >= bake
    return (RolloutSucceeded(**base),) if baked else ()


def blue_green_validation(
    strategy: BlueGreenStrategy, rollout: Rollout, state: EnvironmentState, base: Base, at: datetime
) -> tuple[Event, ...]:
    """Validation steps in order: health checks (this passing analysis), evidence (a passed suite of the step's
    name, awaited until ``validation_timeout``, then a person decides), a manual step (an approval); then cut over."""
    timeout = recorded_duration(rollout, "validation_timeout", strategy.validation_timeout)
    for step in validation_steps(strategy, rollout):
        if step.is_health_checks:
            continue
        if step.manual:
            if step.name in rollout.approved_steps:
                continue
            return (AwaitingApproval(**base, step=step.name, reason=step.description),)
        if not state.has_passed(rollout.version, step.name):
            if at - rollout.started >= as_timedelta(timeout.milliseconds):
                why = f"no passed {step.name} for {rollout.version} within {timeout.describe()}"
                return (RolloutPaused(**base, reason=why),)
            return ()
    return (TrafficShifted(**base, weight=100, step=1, reason="cutover"),)
