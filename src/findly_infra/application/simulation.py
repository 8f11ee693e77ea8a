"""Simulations: a whole release in memory, on a virtual clock, against scripted metrics.

"What would this policy have done?" — the same pipeline and use cases as a real release, with the
in-memory adapters: the seed's 60-minute canary runs in milliseconds with the decisions real time
would give.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from findly_infra.adapters.memory import MemoryEventStore, SimulatedCluster, VirtualClock
from findly_infra.application.codec import event_to_dict
from findly_infra.application.service import PipelineService, PolicyRefusedError
from findly_infra.domain.analysis import Observation, criteria_for, judge
from findly_infra.domain.environment import StrategyKind
from findly_infra.domain.events import AnalysisRecorded, Event, MetricReading, RolloutStarted, TrafficShifted, Verdict
from findly_infra.domain.pipeline import Phase
from findly_infra.domain.platform import Platform
from findly_infra.domain.strategy import BlueGreenStrategy

__all__ = [
    "SCENARIOS",
    "Scenario",
    "ScenarioMetrics",
    "SimulationResult",
    "recorded_scenario",
    "scenario_from_points",
    "simulate",
]

START = datetime(2026, 1, 1, 9, 0, 0)
HEALTHY: Mapping[str, float] = {
    "requests": 1000.0,
    "error_rate": 0.001,
    "latency_p95": 0.3,
    "latency_p99": 0.5,
    "cpu_utilization": 0.5,
    "memory_utilization": 0.6,
    "health_check_failures": 0.0,
}

Scenario = Callable[[float], Mapping[str, float]]
"""Observed values of the new version, by minutes since its rollout started."""


def _with(**changes: float) -> dict[str, float]:
    return {**HEALTHY, **changes}


SCENARIOS: dict[str, Scenario] = {
    "healthy": lambda _minute: HEALTHY,
    "error-spike": lambda minute: _with(error_rate=0.05) if minute >= 15 else HEALTHY,
    "latency-regression": lambda minute: _with(latency_p95=2.5, latency_p99=3.0) if minute >= 5 else HEALTHY,
    "slow-burn": lambda minute: _with(error_rate=0.001 + 0.0005 * minute),
    "flapping": lambda minute: _with(error_rate=0.02) if int(minute) % 2 else HEALTHY,
    "no-traffic": lambda _minute: _with(requests=0.0),
    "metrics-outage": lambda minute: dict.fromkeys(HEALTHY, math.nan) if minute >= 10 else HEALTHY,
}


def scenario_from_points(points: list[Mapping[str, Any]]) -> Scenario:
    """A scenario from ``[{minute: 0, error_rate: 0.001, ...}, ...]``: each point holds until the next."""
    ordered = sorted(points, key=lambda point: float(point.get("minute", 0)))

    def scenario(minute: float) -> Mapping[str, float]:
        values = dict(HEALTHY)
        for point in ordered:
            if float(point.get("minute", 0)) > minute:
                break
            values.update({k: (math.nan if v is None else float(v)) for k, v in point.items() if k != "minute"})
        return values

    return scenario


def recorded_scenario(points: Sequence[Mapping[str, float]], spacing: float) -> Scenario:
    """A scenario from values recorded every *spacing* minutes (``[{minute, metric: value}]``, as
    ``PrometheusMetrics.recorded`` returns them): each holds for its interval; before the first and
    after the last there was no data, so every value is NaN — a replay never invents a healthy minute."""
    if not spacing > 0:
        raise ValueError(f"recorded values are spaced by a positive number of minutes, got {spacing}")
    ordered = sorted(points, key=lambda point: float(point["minute"]))
    if not ordered:
        return lambda _minute: dict.fromkeys(HEALTHY, math.nan)
    blank = dict.fromkeys({*HEALTHY, *(k for point in ordered for k in point if k != "minute")}, math.nan)

    def scenario(minute: float) -> Mapping[str, float]:
        index = math.floor((minute - float(ordered[0]["minute"])) / spacing + 1e-6)  # 40/60 over 20/60 is 2
        if minute < float(ordered[0]["minute"]) or index >= len(ordered):
            return blank
        return {**blank, **{k: float(v) for k, v in ordered[index].items() if k != "minute"}}

    return scenario


@attrs.define
class ScenarioMetrics:
    """A metrics source that judges a scenario's observations against the rollout's own criteria."""

    platform: Platform
    scenario: Scenario
    started: dict[tuple[str, str, str], datetime] = attrs.field(factory=dict)
    strategies: dict[tuple[str, str], StrategyKind] = attrs.field(factory=dict)
    noise: random.Random | None = None
    started_at: Callable[[str, str], datetime | None] | None = None
    """Where the rollout's start is known (the state of a real release), it sets the scenario's minute 0."""
    baseline: Scenario | None = None
    """The current version's values by minute, for criteria relative to it (default: ``HEALTHY``)."""

    def analyze(
        self, service: str, environment: str, version: str, at: datetime, current: str | None = None
    ) -> tuple[Verdict, tuple[MetricReading, ...]]:
        """The scenario's values for the new version; the current version (if any) behaves as ``HEALTHY``."""
        key = (service, environment, version)
        known = self.started_at(service, environment) if self.started_at else None
        start = known or self.started.setdefault(key, at)
        minute = (at - start).total_seconds() / 60
        observation = Observation(self._noisy(self.scenario(minute)))
        strategy = self.platform.strategy_for(environment, self.strategies.get((service, environment)))
        canary = self.platform.canary_strategy
        baseline = None
        if current and any(c.relative for c in criteria_for(strategy, canary)):
            baseline = Observation(self._noisy(self.baseline(minute) if self.baseline is not None else HEALTHY))
        return judge(strategy, canary, observation, baseline)

    def _noisy(self, values: Mapping[str, float]) -> dict[str, float]:
        """±10% on every value but the request count, when the simulation is seeded."""
        if self.noise is None:
            return dict(values)
        noise = self.noise
        return {k: v if k == "requests" or math.isnan(v) else v * noise.uniform(0.9, 1.1) for k, v in values.items()}


@attrs.frozen
class SimulationResult:
    outcome: str
    steps: tuple[dict[str, Any], ...]
    events: tuple[Event, ...]
    virtual_seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True,
            "outcome": self.outcome,
            "steps": list(self.steps),
            "events": [event_to_dict(e) for e in self.events],
            "virtual_seconds": self.virtual_seconds,
        }


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
    """Release *version* of *service* into *environment* (after *baseline* serves it), judged by *scenario*.

    *current_scenario* is how the version it replaces behaves meanwhile, for criteria relative to it
    (default: ``HEALTHY``); a replay passes what Prometheus recorded of it, and *rollout_start* (naive
    UTC), the time the recorded release began, so that the events carry the record's times.

    The environments before it are passed by the book first (their suites recorded as passed, their
    approvals given by scripted approvers), so that only *environment*'s rollout is under test. With
    *human_approvals* false, nobody passes the rollout's own manual gates: it ends ``paused`` there.
    """
    clock = VirtualClock(START if rollout_start is None else rollout_start - timedelta(days=1))
    cluster = SimulatedCluster()
    metrics = ScenarioMetrics(platform, SCENARIOS["healthy"], noise=random.Random(seed) if seed is not None else None)
    service_ = PipelineService(platform, MemoryEventStore(), clock, metrics, cluster)

    def started(svc: str, env: str) -> datetime | None:  # a scenario's minute 0 is its rollout's start
        rollout = service_.pipeline(svc).environments[env].rollout
        return rollout.started if rollout else None

    metrics.started_at = started
    target = platform.promotion_order.index(platform.environment(environment).name)
    for release, kind in ((baseline, None), (version, strategy)):
        for index, env in enumerate(platform.promotion_order[: target + 1]):
            last = index == target
            if last and release == version:
                if rollout_start is not None:
                    clock.current = max(clock.current, rollout_start)
                metrics.scenario, metrics.baseline = scenario, current_scenario
                metrics.strategies[(service, env)] = kind or platform.environment(env).strategy
            else:
                metrics.scenario, metrics.baseline = SCENARIOS["healthy"], None
                metrics.strategies[(service, env)] = platform.environment(env).strategy
            _enter(service_, platform, service, release, env, kind if last and release == version else None)
            _evidence(service_, platform, service, release, env)
            outcome = service_.watch(service, env, actor="findly-sim", wait=clock.advance, max_steps=10_000)
            if human_approvals or release != version or not last:
                outcome = _human_gates(service_, platform, service, release, env, clock, outcome)
            if not last:
                for suite in platform.environment(env).tests:
                    service_.record_test(service, release, env, suite, True, actor="ci")
            if outcome.phase is not Phase.SUCCEEDED:
                break
    events = service_.history(service)
    starts = [
        i
        for i, e in enumerate(events)
        if isinstance(e, RolloutStarted) and e.version == version and e.environment == environment
    ]
    mine = tuple(events[starts[-1] :]) if starts else ()  # the rollout under test, from its start
    steps = tuple(
        {
            "at": e.at.isoformat(),
            "type": e.type,
            **({"weight": e.weight} if isinstance(e, TrafficShifted) else {}),
            **({"verdict": e.verdict.value} if isinstance(e, AnalysisRecorded) else {}),
            **({"reason": e.reason} if e.reason else {}),
        }
        for e in mine
        if e.type
        in (
            "traffic_shifted",
            "analysis_recorded",
            "rolled_back",
            "rollout_paused",
            "rollout_succeeded",
            "awaiting_approval",
            "rollout_aborted",
        )
    )
    phase = service_.pipeline(service).environments[environment].phase
    outcome_name = {Phase.SUCCEEDED: "succeeded", Phase.ROLLED_BACK: "rolled_back", Phase.ABORTED: "rolled_back"}.get(
        phase, "paused"
    )
    seconds = (mine[-1].at - mine[0].at).total_seconds() if mine else 0.0
    return SimulationResult(outcome_name, steps, mine, seconds)


def _enter(  # noqa: PLR0917 - a private step of simulate
    service_: PipelineService, platform: Platform, service: str, version: str, env: str, kind: StrategyKind | None
) -> None:
    """Deploy, with the scripted approvals a promotion needs."""
    requester = "release-bot"
    try:
        service_.deploy(service, version, env, actor=requester, strategy=kind)
        return
    except PolicyRefusedError as refused:
        if refused.refusal.rule != "approvals":
            raise
    for person in _approvers(platform, env, exclude=requester):
        service_.approve(service, version, env, actor=person)
    service_.deploy(service, version, env, actor=requester, strategy=kind)


def _evidence(service_: PipelineService, platform: Platform, service: str, version: str, env: str) -> None:
    """The suites a blue-green rollout validates on (smoke and performance tests): recorded as passed."""
    rollout = service_.pipeline(service).environments[env].rollout
    if rollout is None or not rollout.phase.active:
        return
    strategy = platform.strategy_for(env, rollout.strategy)
    if isinstance(strategy, BlueGreenStrategy):
        for step in strategy.validation_steps:
            if not step.manual and step.name != "health_checks":
                service_.record_test(service, version, env, step.name, True, actor="ci")


def _approvers(platform: Platform, env: str, *, exclude: str) -> list[str]:
    chosen: list[str] = []
    for group in platform.environment(env).approvers:
        for member in platform.approver_group(group).members if platform.approver_groups else ():
            if member != exclude and member not in chosen:
                chosen.append(member)
                break
    return chosen


def _human_gates(  # noqa: PLR0917 - a private step of simulate
    service_: PipelineService,
    platform: Platform,
    service: str,
    version: str,
    env: str,
    clock: VirtualClock,
    outcome: Any,
) -> Any:
    """Scripted people pass blue-green's manual validation; suites it waits for are recorded as passed."""
    for _ in range(20):
        rollout = service_.pipeline(service).environments[env].rollout
        if rollout is None or outcome.phase not in (Phase.AWAITING_APPROVAL, Phase.PROGRESSING):
            return outcome
        if outcome.phase is Phase.AWAITING_APPROVAL:
            for person in _approvers(platform, env, exclude=rollout.started_by):
                try:
                    service_.approve(service, version, env, actor=person)
                    break
                except PolicyRefusedError:
                    continue
        outcome = service_.watch(service, env, actor="findly-sim", wait=clock.advance, max_steps=10_000)
    return outcome
