"""Environments bound to the Kubernetes stand-in, driven as on a real cluster: in real time (virtual time never moves a
bound cluster — a rehearsal there is refused), on a platform file whose rollouts take seconds instead of hours."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import attrs

from findly_infra.domain import ClusterBinding, StrategyKind
from findly_infra.domain.notation import Duration
from findly_infra.domain.platform import Platform

__all__ = ["STEP", "bind", "gated", "quick", "quick_text", "real_time"]

STEP = 0.3
"""Seconds: every canary stage, bake and watch of :func:`quick` (the seed's take minutes), and how long a test's watch
waits between analyses. Tests never assert on time; a slow machine only takes more analyses to get through a stage."""

INTERVAL = Duration.of(seconds=1)
"""The analysis interval of :func:`quick`: the least a platform file may give."""


def quick(platform: Platform, seconds: float = STEP) -> Platform:
    """*platform* with every rollout's clock in *seconds*: canary stages (the last stays ``stable``), blue-green bake
    and the rolling watch, and analyses every second (:data:`INTERVAL`); a blue-green validation still waits a minute
    for its evidence (recorded at once by the tests) before it pauses for a person."""
    step = Duration(round(seconds * 1000))
    canary, blue_green, rolling = platform.canary_strategy, platform.blue_green_strategy, platform.rolling_strategy
    return attrs.evolve(
        platform,
        canary_strategy=None
        if canary is None
        else attrs.evolve(
            canary,
            traffic_progression=tuple(
                attrs.evolve(stage, duration=step if stage.duration is not None else None)
                for stage in canary.traffic_progression
            ),
            analysis=attrs.evolve(canary.analysis, interval=INTERVAL),
        ),
        blue_green_strategy=None
        if blue_green is None
        else attrs.evolve(
            blue_green,
            bake_time=step,
            validation_timeout=Duration.of(minutes=1),
            analysis=attrs.evolve(blue_green.analysis, interval=INTERVAL),
        ),
        rolling_strategy=attrs.evolve(rolling, watch=step, analysis=attrs.evolve(rolling.analysis, interval=INTERVAL)),
    )


def quick_text(text: str, seconds: float = STEP) -> str:
    """The platform file *text* (the example's) with every rollout's clock in *seconds*, as :func:`quick` does — for
    the command line, which reads the file (and whose watch waits the whole interval between analyses). Its canary
    stages last two seconds: the file's checks want each to hold ``rollback_threshold`` (2) analyses."""
    step = f'"{seconds:g}s"'
    text = re.sub(r'duration: "\d+ minutes"', 'duration: "2s"', text)
    text = text.replace("canary_strategy:\n", "canary_strategy:\n  analysis: {interval: 1s}\n", 1)
    text = text.replace(
        "blue_green_strategy:\n",
        f"blue_green_strategy:\n  bake_time: {step}\n  validation_timeout: 1m\n  analysis: {{interval: 1s}}\n",
        1,
    )
    return text + f"\nrolling_strategy:\n  watch: {step}\n  analysis: {{interval: 1s}}\n"


def bind(platform: Platform, *environments: str, context: str = "stand-in") -> Platform:
    """*platform* with *environments* bound to the kubeconfig *context* (``kubernetes.clusters``)."""
    clusters = tuple(ClusterBinding(environment, context=context) for environment in environments)
    return attrs.evolve(platform, kubernetes=attrs.evolve(platform.kubernetes, clusters=clusters))


def gated(platform: Platform, environment: str) -> Platform:
    """*platform* whose *environment* asks for approvals (so that it has promotions to approve) and rolls out
    blue-green, its manual business validation included (so that it has a rollout step to approve)."""
    environments = tuple(
        attrs.evolve(
            env,
            approval_required=True,
            approvers=("devops-team", "security-team"),
            deployment_strategy=StrategyKind.BLUE_GREEN,
        )
        if env.name == environment
        else env
        for env in platform.environments
    )
    return attrs.evolve(platform, environments=environments)


def real_time(interval: timedelta) -> None:
    """How a test's watch passes an interval on a bound cluster: in real time, but no longer than a stage
    (:data:`STEP`) — analysing more often than the file asks changes no rule (stages, bakes and watches last as long
    as they say), it only spares the test the rest of each second."""
    time.sleep(min(interval.total_seconds(), STEP))
