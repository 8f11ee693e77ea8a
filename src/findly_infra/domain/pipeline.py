"""``DeploymentPipeline``: one service's way through the environments, as a fold of its events.

Every command either refuses, naming the rule that refused, or returns the events it causes.
Nothing here reads a clock or does I/O: times, actors and analysis verdicts come in as arguments.
The rules (DESIGN.md, "Rules the pipeline enforces") are small named functions, so a refusal says
which one spoke and a property test can aim at one.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TypedDict, TypeVar

import attrs

from findly_infra.domain.environment import Environment, RollbackCapability, StrategyKind
from findly_infra.domain.events import (
    AnalysisRecorded,
    ApprovalGranted,
    ApprovalsSuperseded,
    AwaitingApproval,
    Event,
    MetricReading,
    PromotionRequested,
    RolledBack,
    RolloutAborted,
    RolloutPaused,
    RolloutResumed,
    RolloutStarted,
    RolloutSucceeded,
    TestResultRecorded,
    TrafficShifted,
    Verdict,
)
from findly_infra.domain.platform import Platform
from findly_infra.domain.strategy import BlueGreenStrategy, CanaryStrategy, RollingStrategy

__all__ = [
    "Decision",
    "DeploymentPipeline",
    "EnvironmentState",
    "Phase",
    "Refusal",
    "Rollout",
]

ROLLOUT_RECORDED_EVIDENCE = frozenset({"health checks", "canary validation"})
"""Suites the rollout itself records as evidence (the seed's production "tests")."""


class _Base(TypedDict):
    service: str
    environment: str
    version: str
    at: datetime
    actor: str


class Phase(enum.Enum):
    IDLE = "idle"
    AWAITING_APPROVAL = "awaiting_approval"
    PROGRESSING = "progressing"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    ROLLED_BACK = "rolled_back"
    ABORTED = "aborted"

    @property
    def active(self) -> bool:
        """A rollout in this phase still holds the environment (one rollout at a time)."""
        return self in (Phase.AWAITING_APPROVAL, Phase.PROGRESSING, Phase.PAUSED)


@attrs.frozen
class Refusal:
    """Why a command was refused: the rule's name and a sentence a person can act on."""

    rule: str
    message: str


@attrs.frozen
class Decision:
    """What a command caused: its events (to record), and a refusal when it was refused.

    A refused promotion still records its request, so that approvals can bind to it.
    """

    events: tuple[Event, ...] = ()
    refusal: Refusal | None = None

    @property
    def accepted(self) -> bool:
        return self.refusal is None


def _refuse(rule: str, message: str, *events: Event) -> Decision:
    return Decision(events, Refusal(rule, message))


@attrs.frozen
class Rollout:
    """The rollout in one environment: where it stands and what it has seen."""

    version: str
    previous: str | None
    strategy: StrategyKind
    phase: Phase
    started: datetime
    step: int = 0
    weight: int = 0
    step_started: datetime | None = None
    failures: int = 0
    inconclusive: int = 0
    waiting_for: str | None = None
    paused_from: Phase | None = None
    started_by: str = ""
    approved_steps: frozenset[str] = frozenset()


@attrs.frozen
class Approval:
    version: str
    group: str
    approver: str
    at: datetime


@attrs.frozen
class EnvironmentState:
    """One environment of one service."""

    current: str | None = None
    succeeded: frozenset[str] = frozenset()
    rollout: Rollout | None = None
    passed: frozenset[tuple[str, str]] = frozenset()
    failed: frozenset[tuple[str, str]] = frozenset()
    requested: tuple[str, str, datetime] | None = None
    approvals: tuple[Approval, ...] = ()

    @property
    def phase(self) -> Phase:
        return self.rollout.phase if self.rollout else Phase.IDLE


@attrs.frozen
class DeploymentPipeline:
    """The aggregate: one service's environments, folded from its events.

    Build it with :meth:`start` and :meth:`apply`; ask it with the command methods, which return a
    :class:`Decision`; record the decision's events and apply them to get the next pipeline.
    """

    platform: Platform = attrs.field(eq=False, repr=False)
    service: str
    environments: Mapping[str, EnvironmentState] = attrs.field(factory=dict)
    version: int = 0

    @classmethod
    def start(cls, platform: Platform, service: str) -> DeploymentPipeline:
        platform.service(service)
        return cls(platform, service, {env.name: EnvironmentState() for env in platform.environments})

    @classmethod
    def replay(cls, platform: Platform, service: str, events: Iterable[Event]) -> DeploymentPipeline:
        pipeline = cls.start(platform, service)
        for event in events:
            pipeline = pipeline.apply(event)
        return pipeline

    def state(self, environment: str) -> EnvironmentState:
        self.platform.environment(environment)
        return self.environments[environment]

    # ---- the fold --------------------------------------------------------------------------

    def apply(self, event: Event) -> DeploymentPipeline:
        """The pipeline after *event*; unknown event types change nothing but the version."""
        state = self.environments[event.environment]
        handler = _FOLD.get(type(event))
        new = handler(state, event) if handler else state
        return attrs.evolve(self, environments={**self.environments, event.environment: new}, version=self.version + 1)

    def apply_all(self, events: Iterable[Event]) -> DeploymentPipeline:
        pipeline = self
        for event in events:
            pipeline = pipeline.apply(event)
        return pipeline

    # ---- commands ----------------------------------------------------------------------------

    def record_test(
        self, version: str, environment: str, suite: str, passed: bool, *, actor: str, at: datetime
    ) -> Decision:
        self.platform.environment(environment)
        return Decision(
            (TestResultRecorded(**self._base(environment, version, actor, at), suite=suite, passed=passed),)
        )

    def deploy(
        self,
        version: str,
        environment: str,
        *,
        actor: str,
        at: datetime,
        strategy: StrategyKind | None = None,
        budget_spent: bool = False,
        budget_override: str | None = None,
        budget_detail: str = "",
    ) -> Decision:
        """Bring *version* into *environment*: the request, and the rollout when every rule allows it.

        ``budget_spent`` says the environment's error budget is spent (``budget_detail`` says which,
        for the refusal's message); only ``budget_override``, a reason, lets the version in then, and
        the reason is recorded on the rollout.
        """
        env = self.platform.environment(environment)
        state = self.environments[environment]
        base = self._base(environment, version, actor, at)
        request: list[Event] = []
        if env.approval_required:
            if state.requested and state.requested[0] != version:
                request.append(ApprovalsSuperseded(**base, superseded=state.requested[0], reason="a newer version"))
            if not state.requested or state.requested[0] != version:
                request.append(PromotionRequested(**base, budget_override=budget_override))
        for rule in _ENTRY_RULES:
            refusal = rule(self, env, version, actor, at, budget_spent, budget_override, budget_detail)
            if refusal is not None:
                return Decision(tuple(request), refusal)
        kind = strategy or env.strategy
        overridden = budget_override.strip() if budget_spent and budget_override and budget_override.strip() else None
        started = RolloutStarted(
            **base,
            reason=f"{overridden} (overrides the spent error budget: {budget_detail or 'said to be spent'})"
            if overridden
            else "",
            strategy=kind,
            previous=state.current,
            budget_override=overridden,
        )
        return Decision((*request, started, *self._first_step(env, kind, version, actor, at)))

    def approve(  # noqa: PLR0911 - each refusal names its rule
        self, version: str, environment: str, *, actor: str, at: datetime, group: str | None = None
    ) -> Decision:
        """An approval by *actor* for the pending request (or the blue-green business validation)."""
        env = self.platform.environment(environment)
        state = self.environments[environment]
        groups = [g for g in env.approvers if group is None or g == group]
        member_of = (
            [g for g in groups if actor in self.platform.approver_group(g).members]
            if self.platform.approver_groups
            else []
        )
        if not env.approvers:
            return _refuse("approval-not-required", f"{environment} requires no approval")
        if group is not None and group not in env.approvers:
            return _refuse(
                "approver-membership", f"{environment} takes approvals from {', '.join(env.approvers)}, not {group}"
            )
        if not member_of:
            return _refuse(
                "approver-membership", f"{actor} belongs to none of {', '.join(groups)}, who approve {environment}"
            )
        rollout = state.rollout
        if rollout and rollout.phase is Phase.AWAITING_APPROVAL and rollout.version == version:
            step = rollout.waiting_for or ""
            if rollout.started_by == actor:
                return _refuse("self-approval", f"{actor} started this rollout and cannot approve its {step}")
            granted = ApprovalGranted(**self._base(environment, version, actor, at), group=member_of[0], step=step)
            approved = attrs.evolve(rollout, phase=Phase.PROGRESSING, approved_steps=rollout.approved_steps | {step})
            return Decision((granted, *self._continue_blue_green(env, approved, actor, at)))
        if state.requested is None or state.requested[0] != version:
            pending = state.requested[0] if state.requested else "none"
            return _refuse(
                "approval-target", f"no promotion of {version} into {environment} is pending (pending: {pending})"
            )
        if state.requested[1] == actor:
            return _refuse("self-approval", f"{actor} asked for this promotion and cannot approve it")
        valid = _valid_approvals(env, state, at)
        if any(a.approver == actor for a in valid):
            return _refuse("distinct-approvers", f"{actor} already approved {version} for {environment}")
        open_groups = [g for g in member_of if g not in {a.group for a in valid}]
        if not open_groups:
            return _refuse("distinct-approvers", f"{', '.join(member_of)} already approved {version} for {environment}")
        return Decision((ApprovalGranted(**self._base(environment, version, actor, at), group=open_groups[0]),))

    def analyze(
        self,
        environment: str,
        verdict: Verdict,
        *,
        actor: str,
        at: datetime,
        readings: tuple[MetricReading, ...] = (),
    ) -> Decision:
        """Record one analysis of the rollout in *environment* and take the decision it leads to."""
        env = self.platform.environment(environment)
        rollout = self.environments[environment].rollout
        if rollout is None or rollout.phase is not Phase.PROGRESSING:
            return _refuse("rollout-progressing", f"no rollout is progressing in {environment}")
        base = self._base(environment, rollout.version, actor, at)
        recorded = AnalysisRecorded(**base, verdict=verdict, readings=readings)
        return Decision((recorded, *self._after_analysis(env, rollout, verdict, actor, at)))

    def pause(self, environment: str, *, actor: str, at: datetime, reason: str) -> Decision:
        rollout = self.environments[environment].rollout
        if rollout is None or rollout.phase not in (Phase.PROGRESSING, Phase.AWAITING_APPROVAL):
            return _refuse("rollout-progressing", f"no rollout is progressing in {environment}")
        return Decision((RolloutPaused(**self._base(environment, rollout.version, actor, at), reason=reason),))

    def resume(self, environment: str, *, actor: str, at: datetime, reason: str = "") -> Decision:
        rollout = self.environments[environment].rollout
        if rollout is None or rollout.phase is not Phase.PAUSED:
            return _refuse("rollout-paused", f"no rollout is paused in {environment}")
        return Decision((RolloutResumed(**self._base(environment, rollout.version, actor, at), reason=reason),))

    def abort(self, environment: str, *, actor: str, at: datetime, reason: str) -> Decision:
        rollout = self.environments[environment].rollout
        if rollout is None or not rollout.phase.active:
            return _refuse("rollout-active", f"no rollout to abort in {environment}")
        return Decision((RolloutAborted(**self._base(environment, rollout.version, actor, at), reason=reason),))

    def rollback(self, environment: str, *, actor: str, at: datetime, reason: str) -> Decision:
        """Return all traffic to the previous version — allowed from every phase of an active rollout."""
        rollout = self.environments[environment].rollout
        if rollout is None or not rollout.phase.active:
            return _refuse("rollout-active", f"no rollout to roll back in {environment}")
        base = self._base(environment, rollout.version, actor, at)
        return Decision((RolledBack(**base, reason=reason, restored=rollout.previous),))

    # ---- rollout mechanics ---------------------------------------------------------------------

    def _base(self, environment: str, version: str, actor: str, at: datetime) -> _Base:
        return {"service": self.service, "environment": environment, "version": version, "at": at, "actor": actor}

    def _strategy(self, env: Environment, kind: StrategyKind) -> CanaryStrategy | BlueGreenStrategy | RollingStrategy:
        return self.platform.strategy_for(env.name, kind)

    def _first_step(
        self, env: Environment, kind: StrategyKind, version: str, actor: str, at: datetime
    ) -> tuple[Event, ...]:
        strategy = self._strategy(env, kind)
        base = self._base(env.name, version, actor, at)
        if isinstance(strategy, CanaryStrategy):
            return (TrafficShifted(**base, weight=strategy.traffic_progression[0].canary_weight, step=0),)
        if isinstance(strategy, BlueGreenStrategy):
            return ()  # validation first, on internal traffic: no public traffic yet
        return (TrafficShifted(**base, weight=100, step=0),)

    def _after_analysis(
        self, env: Environment, rollout: Rollout, verdict: Verdict, actor: str, at: datetime
    ) -> tuple[Event, ...]:
        strategy = self._strategy(env, rollout.strategy)
        base = self._base(env.name, rollout.version, actor, at)
        if verdict is Verdict.FAIL:
            threshold = strategy.failure_handling.rollback_threshold if isinstance(strategy, CanaryStrategy) else 1
            automatic = not isinstance(strategy, CanaryStrategy) or strategy.failure_handling.automatic_rollback
            if rollout.failures + 1 >= threshold:
                if automatic and env.rollback_capability is RollbackCapability.AUTOMATIC:
                    count = rollout.failures + 1
                    noun = "analysis" if count == 1 else "analyses"
                    why = f"{count} failed {noun} in this stage (threshold {threshold})"
                    return (RolledBack(**base, reason=why, restored=rollout.previous),)
                return (RolloutPaused(**base, reason="analysis failed; rollback is manual here"),)
            return ()
        if verdict is Verdict.INCONCLUSIVE:
            if rollout.inconclusive + 1 >= strategy.analysis.inconclusive_limit:
                why = f"{rollout.inconclusive + 1} inconclusive analyses in a row: not enough data to decide"
                return (RolloutPaused(**base, reason=why),)
            return ()
        return self._progress(env, rollout, strategy, actor, at)

    def _progress(  # noqa: PLR0911 - one outcome per strategy and stage
        self,
        env: Environment,
        rollout: Rollout,
        strategy: CanaryStrategy | BlueGreenStrategy | RollingStrategy,
        actor: str,
        at: datetime,
    ) -> tuple[Event, ...]:
        base = self._base(env.name, rollout.version, actor, at)
        if isinstance(strategy, RollingStrategy):
            watched = at - rollout.started >= _td(strategy.watch.milliseconds)
            return (RolloutSucceeded(**base),) if watched else ()
        if isinstance(strategy, BlueGreenStrategy):
            if rollout.weight < 100:
                return self._continue_blue_green(env, rollout, actor, at)
            baked = rollout.step_started is not None and at - rollout.step_started >= _td(
                strategy.bake_time.milliseconds
            )
            return (RolloutSucceeded(**base),) if baked else ()
        step = strategy.traffic_progression[rollout.step]
        started = rollout.step_started or rollout.started
        if step.duration is None or at - started < _td(step.duration.milliseconds):
            return (RolloutSucceeded(**base),) if step.duration is None and step.canary_weight == 100 else ()
        if rollout.step + 1 >= len(strategy.traffic_progression):
            return (RolloutSucceeded(**base),)
        following = strategy.traffic_progression[rollout.step + 1]
        shifted = TrafficShifted(**base, weight=following.canary_weight, step=rollout.step + 1)
        if following.canary_weight == 100 and following.duration is None:
            return (shifted, RolloutSucceeded(**base))
        return (shifted,)

    def _continue_blue_green(self, env: Environment, rollout: Rollout, actor: str, at: datetime) -> tuple[Event, ...]:
        """Validation steps in order; a manual one waits for an approval; then cut over to green."""
        strategy = self.platform.strategy_for(env.name, StrategyKind.BLUE_GREEN)
        assert isinstance(strategy, BlueGreenStrategy)
        base = self._base(env.name, rollout.version, actor, at)
        state = self.environments[env.name]
        for step in strategy.validation_steps:
            if step.name == "health_checks":
                continue  # this analysis just passed: the rollout records it
            if step.manual:
                if step.name in rollout.approved_steps:
                    continue
                return (AwaitingApproval(**base, step=step.name, reason=step.description),)
            if (rollout.version, step.name) not in state.passed:
                if at - rollout.started >= _td(strategy.validation_timeout.milliseconds):
                    why = f"no passed {step.name} for {rollout.version} within {strategy.validation_timeout.describe()}"
                    return (RolloutPaused(**base, reason=why),)  # no phase waits forever: a person decides
                return ()  # evidence (a passed suite of that name) still missing
        return (TrafficShifted(**base, weight=100, step=1, reason="cutover"),)


def _td(milliseconds: int) -> timedelta:
    return timedelta(milliseconds=milliseconds)


def _valid_approvals(env: Environment, state: EnvironmentState, at: datetime) -> list[Approval]:
    """Approvals for the pending request that have not expired."""
    if state.requested is None:
        return []
    expiry = _td(env.approval_expires_after.milliseconds)
    return [a for a in state.approvals if a.version == state.requested[0] and at - a.at < expiry]


# ---- entry rules -------------------------------------------------------------------------------

EntryRule = Callable[..., Refusal | None]


def _from_previous(pipeline: DeploymentPipeline, env: Environment, version: str, *_: object) -> Refusal | None:
    """A version enters an environment only after succeeding in the one before it."""
    previous = pipeline.platform.previous_environment(env.name)
    if previous is not None and version not in pipeline.environments[previous.name].succeeded:
        return Refusal(
            "promotion-order", f"{version} has not succeeded in {previous.name}, which comes before {env.name}"
        )
    return None


def _tests_passed(pipeline: DeploymentPipeline, env: Environment, version: str, *_: object) -> Refusal | None:
    """Leaving an environment needs every suite it lists, passed for that exact version."""
    previous = pipeline.platform.previous_environment(env.name)
    if previous is None:
        return None
    state = pipeline.environments[previous.name]
    missing = [
        suite
        for suite in previous.tests
        if suite not in ROLLOUT_RECORDED_EVIDENCE and (version, suite) not in state.passed
    ]
    if missing:
        return Refusal("required-tests", f"{version} has not passed {', '.join(missing)} in {previous.name}")
    return None


def _one_at_a_time(pipeline: DeploymentPipeline, env: Environment, *_: object) -> Refusal | None:
    rollout = pipeline.environments[env.name].rollout
    if rollout is not None and rollout.phase.active:
        return Refusal(
            "one-rollout-at-a-time", f"{rollout.version} is still rolling out in {env.name} ({rollout.phase.value})"
        )
    return None


def _approved(
    pipeline: DeploymentPipeline, env: Environment, version: str, _actor: str, at: datetime, *_: object
) -> Refusal | None:
    """One approval from each listed group, by distinct people, none of them the requester, unexpired."""
    if not env.approval_required:
        return None
    state = pipeline.environments[env.name]
    if state.requested is None or state.requested[0] != version:
        approvals: list[Approval] = []
    else:
        approvals = _valid_approvals(env, state, at)
    missing = [g for g in env.approvers if g not in {a.group for a in approvals}]
    if missing:
        return Refusal("approvals", f"{version} needs an approval from {', '.join(missing)} to enter {env.name}")
    return None


def _budget(
    _pipeline: DeploymentPipeline,
    env: Environment,
    version: str,
    _actor: str,
    _at: datetime,
    budget_spent: bool,
    override: str | None,
    detail: str,
) -> Refusal | None:
    """A spent error budget lets a version in only with a recorded reason."""
    if budget_spent and not (override and override.strip()):
        spent = f" ({detail})" if detail else ""
        return Refusal(
            "error-budget",
            f"{env.name}'s error budget is spent{spent}: promote {version} only with a recorded override reason",
        )
    return None


_ENTRY_RULES: tuple[EntryRule, ...] = (_one_at_a_time, _from_previous, _tests_passed, _approved, _budget)


# ---- the fold, event by event --------------------------------------------------------------------


_State = TypeVar("_State", "Rollout", "EnvironmentState")


def _replace(record: _State, **changes: object) -> _State:
    """``attrs.evolve`` for the fold's state records, which have no validators: a copy with *changes*.

    The fold runs once per event, so this is the pipeline's innermost loop.
    """
    copy = object.__new__(type(record))
    for field in _FIELDS[type(record)]:
        object.__setattr__(copy, field, changes[field] if field in changes else getattr(record, field))
    return copy


def _rollout(state: EnvironmentState) -> Rollout:
    assert state.rollout is not None
    return state.rollout


def _fold_test(state: EnvironmentState, event: TestResultRecorded) -> EnvironmentState:
    key = (event.version, event.suite)
    if event.passed:
        return _replace(state, passed=state.passed | {key}, failed=state.failed - {key})
    return _replace(state, failed=state.failed | {key}, passed=state.passed - {key})


def _fold_request(state: EnvironmentState, event: PromotionRequested) -> EnvironmentState:
    return _replace(state, requested=(event.version, event.actor, event.at))


def _fold_superseded(state: EnvironmentState, event: ApprovalsSuperseded) -> EnvironmentState:
    return _replace(state, approvals=tuple(a for a in state.approvals if a.version != event.superseded))


def _fold_approval(state: EnvironmentState, event: ApprovalGranted) -> EnvironmentState:
    if event.step is not None:  # a rollout's manual validation step
        rollout = _rollout(state)
        approved = _replace(
            rollout, phase=Phase.PROGRESSING, waiting_for=None, approved_steps=rollout.approved_steps | {event.step}
        )
        return _replace(state, rollout=approved)
    return _replace(state, approvals=(*state.approvals, Approval(event.version, event.group, event.actor, event.at)))


def _fold_started(state: EnvironmentState, event: RolloutStarted) -> EnvironmentState:
    rollout = Rollout(
        event.version,
        event.previous,
        event.strategy,
        Phase.PROGRESSING,
        event.at,
        step_started=event.at,
        started_by=event.actor,
    )
    return _replace(state, rollout=rollout, requested=None, approvals=())


def _fold_shift(state: EnvironmentState, event: TrafficShifted) -> EnvironmentState:
    rollout = _replace(
        _rollout(state),
        step=event.step,
        weight=event.weight,
        step_started=event.at,
        phase=Phase.PROGRESSING,
        failures=0,
    )
    return _replace(state, rollout=rollout)


def _fold_analysis(state: EnvironmentState, event: AnalysisRecorded) -> EnvironmentState:
    rollout = _rollout(state)
    if event.verdict is Verdict.PASS:  # failures count per stage: a flapping canary does not reset them
        rollout = _replace(rollout, inconclusive=0)
    elif event.verdict is Verdict.FAIL:
        rollout = _replace(rollout, failures=rollout.failures + 1, inconclusive=0)
    else:
        rollout = _replace(rollout, inconclusive=rollout.inconclusive + 1)
    return _replace(state, rollout=rollout)


def _fold_awaiting(state: EnvironmentState, event: AwaitingApproval) -> EnvironmentState:
    return _replace(state, rollout=_replace(_rollout(state), phase=Phase.AWAITING_APPROVAL, waiting_for=event.step))


def _fold_paused(state: EnvironmentState, _event: RolloutPaused) -> EnvironmentState:
    rollout = _rollout(state)
    return _replace(state, rollout=_replace(rollout, phase=Phase.PAUSED, paused_from=rollout.phase))


def _fold_resumed(state: EnvironmentState, event: RolloutResumed) -> EnvironmentState:
    rollout = _rollout(state)
    phase = rollout.paused_from or Phase.PROGRESSING
    return _replace(
        state,
        rollout=_replace(rollout, phase=phase, paused_from=None, failures=0, inconclusive=0, step_started=event.at),
    )


def _fold_succeeded(state: EnvironmentState, event: RolloutSucceeded) -> EnvironmentState:
    rollout = _replace(_rollout(state), phase=Phase.SUCCEEDED, weight=100)
    return _replace(state, rollout=rollout, current=event.version, succeeded=state.succeeded | {event.version})


def _fold_rolled_back(state: EnvironmentState, _event: RolledBack) -> EnvironmentState:
    return _replace(state, rollout=_replace(_rollout(state), phase=Phase.ROLLED_BACK, weight=0))


def _fold_aborted(state: EnvironmentState, _event: RolloutAborted) -> EnvironmentState:
    return _replace(state, rollout=_replace(_rollout(state), phase=Phase.ABORTED, weight=0))


_FIELDS = {cls: tuple(field.name for field in attrs.fields(cls)) for cls in (Rollout, EnvironmentState)}

_FOLD: dict[type[Event], Callable[[EnvironmentState, Event], EnvironmentState]] = {
    TestResultRecorded: _fold_test,  # type: ignore[dict-item]
    PromotionRequested: _fold_request,  # type: ignore[dict-item]
    ApprovalsSuperseded: _fold_superseded,  # type: ignore[dict-item]
    ApprovalGranted: _fold_approval,  # type: ignore[dict-item]
    RolloutStarted: _fold_started,  # type: ignore[dict-item]
    TrafficShifted: _fold_shift,  # type: ignore[dict-item]
    AnalysisRecorded: _fold_analysis,  # type: ignore[dict-item]
    AwaitingApproval: _fold_awaiting,  # type: ignore[dict-item]
    RolloutPaused: _fold_paused,  # type: ignore[dict-item]
    RolloutResumed: _fold_resumed,  # type: ignore[dict-item]
    RolloutSucceeded: _fold_succeeded,  # type: ignore[dict-item]
    RolledBack: _fold_rolled_back,  # type: ignore[dict-item]
    RolloutAborted: _fold_aborted,  # type: ignore[dict-item]
}
