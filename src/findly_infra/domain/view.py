"""The read model: what one environment of one service looks like now, in one place.

Every answer to "what is serving, at what weight, what is rolling out, what does it wait for and
why did it stop" comes from :meth:`EnvironmentView.of` — ``status``, each command's outcome,
``--json``, GitHub outputs and the step summary, and the routes the cluster is given. *Serving* and
*candidate* never share a name: the serving version is the one that holds the environment when no
rollout does; the candidate is the version a rollout is bringing in.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

import attrs

from findly_infra.domain import progress
from findly_infra.domain.approvals import needed_text
from findly_infra.domain.environment import StrategyKind
from findly_infra.domain.events import AnalysisRecorded, Event, Verdict
from findly_infra.domain.notation import Duration
from findly_infra.domain.pipeline import DeploymentPipeline
from findly_infra.domain.state import Phase, Rollout
from findly_infra.domain.strategy import BlueGreenStrategy

__all__ = ["EnvironmentView", "Share", "WaitKind", "Waiting", "stop_author"]


@attrs.frozen
class Share:
    """A version and its share of the environment's traffic, in percent."""

    version: str
    weight: int


class WaitKind(enum.Enum):
    APPROVAL = "approval"
    """A member of each named group approves (a promotion, or a rollout's manual validation step)."""
    EVIDENCE = "evidence"
    """A passed result of the named suite is recorded for the candidate."""
    PERSON = "person"
    """Someone resumes, aborts or rolls back the paused rollout."""


@attrs.frozen
class Waiting:
    """What the environment waits for, and what would unblock it."""

    kind: WaitKind
    needs: tuple[str, ...]
    """The approver groups, or the suite, whose word is awaited; for ``PERSON``, the suites whose passed results a
    paused blue-green rollout needs before it can be resumed (its evidence deadline has passed), else empty."""
    message: str
    """A sentence a person can act on."""
    deadline: datetime | None = None
    """When waiting ends by itself (evidence not recorded by then pauses the rollout)."""


@attrs.frozen
class EnvironmentView:
    """One service in one environment: the serving version, the candidate, the phase, the wait, the stop."""

    service: str
    environment: str
    phase: Phase
    serving: Share | None
    """The version that serves when no rollout holds the environment, and its share now."""
    candidate: Share | None
    """The version being rolled out, and its share now; ``None`` when no rollout is under way."""
    rollout: Rollout | None
    """The latest rollout, under way or ended (its version, strategy, step, who started it)."""
    waiting_for: Waiting | None
    stopped: str | None
    """Why the latest rollout stopped: paused, rolled back or aborted (``None`` otherwise)."""
    retired: bool = False
    """The platform file no longer names this environment: its past is shown, nothing acts on it."""

    @property
    def strategy(self) -> StrategyKind | None:
        return self.rollout.strategy if self.rollout else None

    def describe(self) -> str:
        """``succeeded (serving 1.4.0 100%)``; ``progressing (serving 1.3.0 95%, canary 1.4.0 5%)``;
        a stopped rollout says why."""
        parts = []
        if self.serving is not None:
            parts.append(f"serving {self.serving.version} {self.serving.weight}%")
        if self.candidate is not None:
            kind = (
                self.strategy.value
                if self.strategy
                else (
                    "candidate"  # pragma: no mutate (equivalent: a pipeline's candidate has a strategy)
                )
            )
            parts.append(f"{kind} {self.candidate.version} {self.candidate.weight}%")
        text = f"{self.phase.value} ({', '.join(parts) or 'nothing serving'})"
        text = f"{text} — {self.stopped}" if self.stopped else text
        return f"retired, no longer in the platform file: {text}" if self.retired else text

    @property
    def rollout_share(self) -> int:
        """The latest rollout's version's share of traffic now: 100 once it succeeded, 0 after a rollback."""
        if self.candidate is not None:
            return self.candidate.weight
        if self.rollout is not None and self.rollout.phase is Phase.SUCCEEDED and self.serving is not None:
            return self.serving.weight
        return 0

    def routes(self) -> dict[str, int]:
        """Which version should get which share of traffic: what the cluster is given."""
        shares = [share for share in (self.serving, self.candidate) if share is not None and share.weight > 0]
        return {share.version: share.weight for share in shares}

    @classmethod
    def of(cls, pipeline: DeploymentPipeline, environment: str, at: datetime) -> EnvironmentView:
        """The view of *environment* in *pipeline* at *at* (approvals expire; evidence has a deadline)."""
        state = pipeline.environments[environment]
        rollout = state.rollout
        retired = environment not in pipeline.platform.promotion_order  # in the history, so retired unless named
        candidate: Share | None = None
        stopped = None
        phase = rollout.phase if rollout is not None else None
        if rollout is not None and rollout.phase.active:
            # a first release has nothing else to serve: the candidate takes what traffic there is
            share = rollout.weight if rollout.previous else (100 if rollout.weight else 0)
            candidate = Share(rollout.version, share)
            serving = Share(rollout.previous, 100 - share) if rollout.previous else None
        elif rollout is not None and phase in _UNDONE:
            serving = Share(rollout.previous, 100) if rollout.previous else None
        else:
            serving = Share(state.current, 100) if state.current else None
        if rollout is not None and phase in _STOPPED:
            stopped = rollout.reason or rollout.phase.value.replace("_", " ")
        return cls(
            pipeline.service,
            environment,
            state.phase,
            serving,
            candidate,
            rollout,
            _waiting(pipeline, environment, at, retired=retired),
            stopped,
            retired,
        )


_UNDONE = (Phase.ROLLED_BACK, Phase.ABORTED)
"""A rollout's phases that gave its traffic back (read once: every view of every decision asks)."""
_STOPPED = (Phase.PAUSED, Phase.ROLLED_BACK, Phase.ABORTED)
"""A rollout's phases that say why it stopped."""


def _waiting(pipeline: DeploymentPipeline, environment: str, at: datetime, *, retired: bool) -> Waiting | None:
    if retired:  # the platform file no longer names it: nothing there waits for anyone
        return None
    state = pipeline.environments[environment]
    rollout = state.rollout
    service = pipeline.service
    if rollout is not None and rollout.phase is Phase.PAUSED:
        return _paused(pipeline, environment, rollout, at)
    if rollout is not None and rollout.phase is Phase.AWAITING_APPROVAL:
        return _step_approval(pipeline, environment, rollout)
    suite = pipeline.awaited_evidence(environment)
    if suite is not None and rollout is not None:
        strategy = pipeline.platform.strategy_for(environment, rollout.strategy)
        assert isinstance(strategy, BlueGreenStrategy)
        timeout = progress.recorded_duration(rollout, "validation_timeout", strategy.validation_timeout)
        deadline = rollout.started + timedelta(milliseconds=timeout.milliseconds)
        left = Duration(max(0, int((deadline - at).total_seconds() * 1000))).describe()
        return Waiting(
            WaitKind.EVIDENCE,
            (suite,),
            f"a passed {suite} for {rollout.version} within {left}, by {deadline.isoformat()}, or it pauses "
            f"(findly-infra record {service} {rollout.version} --env {environment} --suite {suite} --passed)",
            deadline,
        )
    if state.requested is not None and (rollout is None or not rollout.phase.active):
        missing = pipeline.missing_approvals(environment, at)
        version = state.requested.version
        if missing:
            return Waiting(
                WaitKind.APPROVAL,
                missing,
                f"{version} needs {needed_text(missing)}{' (different people)' if len(missing) > 1 else ''} to enter "
                f"{environment}, by someone other than {state.requested.requested_by} "
                f"(findly-infra approve {service} {version} --env {environment})",
            )
    return None


def _evidence_overdue(pipeline: DeploymentPipeline, environment: str, at: datetime) -> tuple[str, ...]:
    """The evidence suites a paused blue-green rollout in *environment* still has no passed result of, once its
    ``validation_timeout`` has passed at *at*: resumed without them, its next step pauses it again at once
    (``progress.blue_green_validation`` measures the deadline from the rollout's start, and a resume does not renew
    it). Empty when it is no blue-green rollout, or the deadline has not passed, or nothing is missing."""
    rollout = pipeline.environments[environment].rollout
    if rollout is None or rollout.strategy is not StrategyKind.BLUE_GREEN or rollout.weight >= 100:
        return ()
    strategy = pipeline.platform.strategy_for(environment, rollout.strategy)
    if not isinstance(strategy, BlueGreenStrategy):
        return ()
    timeout = progress.recorded_duration(rollout, "validation_timeout", strategy.validation_timeout)
    if at - rollout.started < timedelta(milliseconds=timeout.milliseconds):
        return ()
    state = pipeline.records(environment, rollout.version)
    return tuple(
        step.evidence
        for step in progress.validation_steps(strategy, rollout)
        if step.evidence is not None and not state.has_passed(rollout.version, step.evidence)
    )


def _paused(pipeline: DeploymentPipeline, environment: str, rollout: Rollout, at: datetime) -> Waiting:
    """What unblocks the paused *rollout*: a person resumes, aborts or rolls back — after recording the evidence
    whose deadline passed, where some is missing."""
    service = pipeline.service
    missing = _evidence_overdue(pipeline, environment, at)
    if missing:  # resume alone would pause it again at the next step: the deadline is the rollout's, not renewed
        records = ", then ".join(
            f"findly-infra record {service} {rollout.version} --env {environment} --suite {suite} --passed"
            for suite in missing
        )
        return Waiting(
            WaitKind.PERSON,
            missing,
            f"paused ({rollout.reason}): record a passed {' and a passed '.join(missing)} for {rollout.version}, "
            f"then resume ({records}, then findly-infra resume {service} --env {environment}) — resume alone "
            "pauses it again, its deadline has passed; or abort or roll back "
            f"(findly-infra abort|rollback {service} --env {environment})",
        )
    return Waiting(
        WaitKind.PERSON,
        (),
        f"paused ({rollout.reason or 'by a person'}): resume, abort or roll back "
        f"(findly-infra resume|abort|rollback {service} --env {environment})",
    )


def stop_author(stop: Event, before: Event | None) -> str:
    """Who stopped a rollout, in words, given the event recorded just *before* its *stop* in the same environment: a
    pause or rollback that a watch's step decided is recorded with the analysis that led to it (one decision: same
    environment, version, instant and actor — the person who ran the watch), so it is ``the analysis (watch run by
    erin)`` (``the evidence deadline (…)`` where the analysis passed and the blue-green validation's evidence was
    overdue); any other stop is the person's who asked for it: ``erin``. In virtual time a person's stop may share
    the analysis's instant: one after a passing analysis is told apart by its reason; one after a failed or
    inconclusive analysis at that very instant is taken for the analysis's (the events record no decider)."""
    decided = (
        isinstance(before, AnalysisRecorded)
        and before.environment == stop.environment
        and before.version == stop.version
        and before.at == stop.at
        and before.actor == stop.actor
    )
    if not decided:
        return stop.actor
    assert isinstance(before, AnalysisRecorded)
    if before.verdict is Verdict.PASS:  # a pass stops nothing but overdue evidence (progress.blue_green_validation)
        overdue = stop.type == "rollout_paused" and stop.reason.startswith("no passed ")
        return f"the evidence deadline (watch run by {stop.actor})" if overdue else stop.actor
    return f"the analysis (watch run by {stop.actor})"


def _step_approval(pipeline: DeploymentPipeline, environment: str, rollout: Rollout) -> Waiting:
    """What a blue-green rollout's manual step waits for: one approval, by a member of any of the environment's
    approver groups other than who started it (``DeploymentPipeline._approve``)."""
    service = pipeline.service
    groups = pipeline.platform.environment(environment).approvers
    if not groups:  # DeploymentPipeline.approve refuses every approval here (rule approval-not-required)
        return Waiting(
            WaitKind.APPROVAL,
            groups,
            f"an approval of {rollout.waiting_for} for {rollout.version}, which no one can give: {environment} "
            f"names no approvers — abort or roll back (findly-infra abort|rollback {service} --env {environment})",
        )
    return Waiting(  # one approval of the step, by a member of any of the groups (DeploymentPipeline._approve)
        WaitKind.APPROVAL,
        groups,
        f"an approval of {rollout.waiting_for} for {rollout.version} from a member of {' or '.join(groups)} "
        f"(one is enough), by someone other than {rollout.started_by} "
        f"(findly-infra approve {service} {rollout.version} --env {environment})",
    )
