"""The use cases: load a service's pipeline, ask the domain, store its events, drive the ports.

Every public method is what a command does; the command line is a thin layer over this class.
State changes are all-or-nothing: events are appended in one transaction at the version they were
decided on, and traffic is routed only after they are stored (a crash in between is repaired by
the next call, which routes to the state the events say).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import attrs

from findly_infra.application.ports import (
    Clock,
    DependencyUnavailableError,
    ErrorBudgets,
    EventStore,
    MetricsSource,
    Notifier,
    TrafficRouter,
)
from findly_infra.domain.environment import StrategyKind
from findly_infra.domain.events import Event, RolledBack, RolloutAborted, RolloutSucceeded, TrafficShifted, Verdict
from findly_infra.domain.pipeline import Decision, DeploymentPipeline, Phase, Refusal
from findly_infra.domain.platform import Platform

__all__ = ["Outcome", "PipelineService", "PolicyRefusedError"]


class PolicyRefusedError(Exception):
    """Raised when the pipeline refuses a command; ``refusal.rule`` names the rule that refused."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"refused by {refusal.rule}: {refusal.message}")
        self.refusal = refusal


@attrs.frozen
class Outcome:
    """What a command left behind: the events it recorded and the environment's state after them."""

    events: tuple[Event, ...]
    phase: Phase
    version: str | None
    weight: int


@attrs.define
class PipelineService:
    """Drives one platform's pipelines through the ports it is given (memory, SQLite, real clusters)."""

    platform: Platform
    store: EventStore
    clock: Clock
    metrics: MetricsSource
    traffic: TrafficRouter
    notifier: Notifier | None = None
    budgets: ErrorBudgets | None = None
    _cache: dict[str, DeploymentPipeline] = attrs.field(factory=dict, init=False, repr=False)

    # ---- reading ---------------------------------------------------------------------------

    def pipeline(self, service: str) -> DeploymentPipeline:
        return self._load(service)[0]

    def _load(self, service: str) -> tuple[DeploymentPipeline, int]:
        """The pipeline at the store's version, folding only the events not yet folded."""
        events, version = self.store.load(service)
        cached = self._cache.get(service)
        if cached is None or cached.version > version:
            cached = DeploymentPipeline.start(self.platform, service)
        pipeline = cached.apply_all(events[cached.version :])
        self._cache[service] = pipeline
        return pipeline, version

    def history(self, service: str) -> list[Event]:
        self.platform.service(service)
        return self.store.load(service)[0]

    def status(self, service: str) -> dict[str, dict[str, Any]]:
        """Per environment: ``{"version", "phase", "weight"}``."""
        pipeline = self.pipeline(service)
        result = {}
        for name in self.platform.promotion_order:
            state = pipeline.environments[name]
            rollout = state.rollout
            result[name] = {
                "version": rollout.version if rollout and rollout.phase.active else state.current,
                "current": state.current,
                "phase": state.phase.value,
                "weight": rollout.weight if rollout and rollout.phase.active else (100 if state.current else 0),
            }
        return result

    # ---- commands --------------------------------------------------------------------------

    def deploy(
        self,
        service: str,
        version: str,
        environment: str,
        *,
        actor: str,
        strategy: StrategyKind | None = None,
        budget_override: str | None = None,
        budget_spent: bool = False,
    ) -> Outcome:
        """Deploy or promote *version* into *environment* (the rules decide which is allowed).

        With an error-budgets port, the environment's budgets are read once every other rule allows the
        version in: a spent one refuses it (rule ``error-budget``) unless ``budget_override`` gives a
        reason. Budgets that cannot be read raise :class:`DependencyUnavailableError` (nothing is
        recorded) unless there is an override reason, which then records that they were unknown.
        """

        def decide(pipeline: DeploymentPipeline, spent: bool, detail: str = "") -> Decision:
            return pipeline.deploy(
                version,
                environment,
                actor=actor,
                at=self.clock.now(),
                strategy=strategy,
                budget_spent=spent,
                budget_override=budget_override,
                budget_detail=detail,
            )

        def gated(pipeline: DeploymentPipeline) -> Decision:
            decision = decide(pipeline, budget_spent)
            if decision.refusal is not None or budget_spent or self.budgets is None:
                return decision
            try:
                statuses = self.budgets.budgets(service, environment, self.clock.now())
            except DependencyUnavailableError as exc:
                if not budget_override:
                    raise DependencyUnavailableError(
                        f"the error-budget gate cannot read {environment}'s budgets for {service}: {exc}; "
                        "try again, or promote with an override reason"
                    ) from None
                return decide(pipeline, True, f"budgets unknown: {exc}")
            spent = [status for status in statuses if status.exhausted]
            if not spent:
                return decision
            return decide(pipeline, True, "; ".join(status.describe() for status in spent))

        return self._decide(service, environment, gated)

    def record_test(
        self, service: str, version: str, environment: str, suite: str, passed: bool, *, actor: str
    ) -> Outcome:
        return self._decide(
            service,
            environment,
            lambda p: p.record_test(version, environment, suite, passed, actor=actor, at=self.clock.now()),
        )

    def approve(self, service: str, version: str, environment: str, *, actor: str, group: str | None = None) -> Outcome:
        return self._decide(
            service,
            environment,
            lambda p: p.approve(version, environment, actor=actor, at=self.clock.now(), group=group),
        )

    def pause(self, service: str, environment: str, *, actor: str, reason: str) -> Outcome:
        return self._decide(
            service, environment, lambda p: p.pause(environment, actor=actor, at=self.clock.now(), reason=reason)
        )

    def resume(self, service: str, environment: str, *, actor: str, reason: str = "") -> Outcome:
        return self._decide(
            service, environment, lambda p: p.resume(environment, actor=actor, at=self.clock.now(), reason=reason)
        )

    def abort(self, service: str, environment: str, *, actor: str, reason: str) -> Outcome:
        return self._decide(
            service, environment, lambda p: p.abort(environment, actor=actor, at=self.clock.now(), reason=reason)
        )

    def rollback(self, service: str, environment: str, *, actor: str, reason: str) -> Outcome:
        return self._decide(
            service, environment, lambda p: p.rollback(environment, actor=actor, at=self.clock.now(), reason=reason)
        )

    def step(self, service: str, environment: str, *, actor: str) -> Outcome:
        """One analysis of the rollout in *environment*, at the clock's time, and what it leads to."""

        def analyze(pipeline: DeploymentPipeline) -> Decision:
            rollout = pipeline.environments[environment].rollout
            if rollout is None:
                return pipeline.analyze(environment, Verdict.INCONCLUSIVE, actor=actor, at=self.clock.now())
            verdict, readings = self.metrics.analyze(
                service, environment, rollout.version, self.clock.now(), current=rollout.previous
            )
            return pipeline.analyze(environment, verdict, actor=actor, at=self.clock.now(), readings=readings)

        return self._decide(service, environment, analyze)

    def watch(
        self,
        service: str,
        environment: str,
        *,
        actor: str,
        wait: Callable[[timedelta], object],
        on_step: Callable[[Outcome], None] | None = None,
        max_steps: int = 100_000,
    ) -> Outcome:
        """Analyse every interval until the rollout ends or waits for a person; ``wait`` passes the time."""
        outcome = self.reconcile(service, environment)
        for _ in range(max_steps):
            if outcome.phase is not Phase.PROGRESSING:
                return outcome
            wait(self.interval(environment, service))
            outcome = self.step(service, environment, actor=actor)
            if on_step is not None:
                on_step(outcome)
        return outcome

    def interval(self, environment: str, service: str) -> timedelta:
        cached = self._cache.get(service)
        rollout = (cached or self.pipeline(service)).environments[environment].rollout
        kind = rollout.strategy if rollout else None
        strategy = self.platform.strategy_for(environment, kind)
        return timedelta(milliseconds=strategy.analysis.interval.milliseconds)

    def reconcile(self, service: str, environment: str) -> Outcome:
        """Route traffic to what the recorded events say (after a crash between storing and routing)."""
        state = self.pipeline(service).environments[environment]
        self.traffic.route(service, environment, _desired_weights(state.rollout, state.current), self.clock.now())
        return _outcome((), state)

    # ---- the one way state changes -------------------------------------------------------------

    def _decide(self, service: str, environment: str, command: Callable[[DeploymentPipeline], Decision]) -> Outcome:
        if service not in self._cache:
            self.platform.service(service)  # raises UnknownNameError for a service the platform does not know
        if environment not in self.platform.promotion_order:
            self.platform.environment(environment)
        pipeline, version = self._load(service)
        decision = command(pipeline)
        if decision.events:
            self.store.append(service, version, decision.events)
            pipeline = pipeline.apply_all(decision.events)
            self._cache[service] = pipeline  # the store now holds exactly these events
        state = pipeline.environments[environment]
        if any(isinstance(e, (TrafficShifted, RolledBack, RolloutAborted, RolloutSucceeded)) for e in decision.events):
            self.traffic.route(service, environment, _desired_weights(state.rollout, state.current), self.clock.now())
        if self.notifier is not None:
            for event in decision.events:
                self.notifier.notify(event)
        if decision.refusal is not None:
            raise PolicyRefusedError(decision.refusal)
        return _outcome(decision.events, state)


def _desired_weights(rollout: Any, current: str | None) -> dict[str, int]:
    """Which version should serve what share, from the state alone."""
    if rollout is None or rollout.phase in (Phase.ROLLED_BACK, Phase.ABORTED):
        previous = rollout.previous if rollout is not None else current
        return {previous: 100} if previous else {}
    if rollout.phase is Phase.SUCCEEDED:
        return {rollout.version: 100}
    if rollout.previous is None:
        return {rollout.version: 100} if rollout.weight else {}
    return {rollout.version: rollout.weight, rollout.previous: 100 - rollout.weight}


def _outcome(events: tuple[Event, ...], state: Any) -> Outcome:
    rollout = state.rollout
    return Outcome(
        events,
        state.phase,
        rollout.version if rollout else state.current,
        rollout.weight if rollout else (100 if state.current else 0),
    )
