"""What a service's events add up to, per environment: the state records and the fold that builds them.

``DeploymentPipeline`` (``pipeline.py``) decides; this module only remembers. Each event changes one
environment's :class:`EnvironmentState`; :func:`fold` is that change, one ``match`` arm per event.
The fold runs once per stored event on every load, so it is written for speed: plain copies of
records without validators, and no sets rebuilt for events that do not touch them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

import attrs

from findly_infra.domain.environment import StrategyKind
from findly_infra.domain.events import (
    AnalysisRecorded,
    ApprovalGranted,
    ApprovalsSuperseded,
    AwaitingApproval,
    Event,
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
from findly_infra.domain.identity import VerifiedIdentity

__all__ = [
    "RECORD_EVENTS",
    "Approval",
    "Entry",
    "EnvironmentState",
    "HistoryError",
    "PendingRequest",
    "Phase",
    "Rollout",
    "UnreadRecordsError",
    "bounded_records",
    "fold",
    "live_versions",
    "records_aside",
    "records_back",
    "with_records",
]


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
        return self in _ACTIVE

    @property
    def stopped_for_a_person(self) -> bool:
        """The rollout goes no further until someone acts (approves, resumes, aborts or rolls back)."""
        return self in _FOR_A_PERSON


_ACTIVE = (Phase.AWAITING_APPROVAL, Phase.PROGRESSING, Phase.PAUSED)
"""The phases :attr:`Phase.active` names, read once (a member read off its enum costs a lookup, and every view and
decision asks)."""
_FOR_A_PERSON = (Phase.AWAITING_APPROVAL, Phase.PAUSED)


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
    """The new version's share of traffic, in percent."""
    step_started: datetime | None = None
    failures: int = 0
    """Failed analyses in the current stage (a traffic shift or a resume starts a new count)."""
    inconclusive: int = 0
    """Inconclusive analyses in a row (any decisive verdict ends the streak)."""
    waiting_for: str | None = None
    """The manual validation step the rollout awaits an approval for."""
    paused_from: Phase | None = None
    started_by: str = ""
    approved_steps: frozenset[str] = frozenset()
    reason: str = ""
    """Why it stopped (paused, rolled back, aborted), in the words of the event that stopped it."""
    stopped_at: datetime | None = None
    stages: tuple[tuple[int, int | None], ...] = ()
    """A canary's plan as it started (weight, duration in ms); empty when its start did not record one."""
    validation: tuple[tuple[str, str], ...] = ()
    """A blue-green rollout's validation steps as it started (name, description); empty when not recorded."""
    timings: tuple[tuple[str, int], ...] = ()
    """Its plan's durations in ms as it started (``validation_timeout``, ``bake_time``, ``watch``)."""
    step_approvals: frozenset[tuple[str, str]] = frozenset()
    """Who approved which manual step: (step, approver) — a retried approval is answered, not refused."""
    resumed_by: str = ""
    """Who resumed it last (cleared when it pauses again) — a retried resume is answered, not refused."""
    started_by_id: str | None = None
    """The GitHub account id of whoever started it, when verified (self-approval is judged on it)."""
    entry: Entry | None = None
    """What let it in: the request and the approvals pending when it started, and who started it — so that, before
    a real cluster is moved for it, the proofs that let it in can be checked again (``None``: a first rollout with
    nothing pending, or one folded before entries were kept)."""
    replaced: VerifiedIdentity | None = None
    """Who started the rollout that let ``previous`` in (``EnvironmentState.let_in``), with their token, taken from
    the state when this one started: its starter's token must not be older — an earlier promotion's tokens, replayed
    by whoever can write the state, do not let an older version back in (``DeploymentPipeline.entry_refusal``)."""


@attrs.frozen
class Approval:
    """One approval of a pending promotion, by one member of one group."""

    version: str
    group: str
    approver: str
    at: datetime
    approver_id: str | None = None
    """The approver's GitHub account id, when verified."""
    identity: VerifiedIdentity | None = None
    """The evidence the approval was recorded with (``None``: a name): judged again, under the policy in force,
    whenever the approval is counted (``domain.approvals``)."""


@attrs.frozen
class PendingRequest:
    """A promotion asked for and not yet started: approvals bind to it (and to its version)."""

    version: str
    requested_by: str
    at: datetime
    requested_by_id: str | None = None
    """The requester's GitHub account id, when verified."""
    identity: VerifiedIdentity | None = None
    """How the requester was verified — with the token that proves it (``None``: a name)."""


@attrs.frozen
class Entry:
    """What let a rollout in: the promotion request and the approvals of its version pending when it started, and
    the identity of whoever started it (with their token: its issue time is when the rollout was let in)."""

    request: PendingRequest | None = None
    approvals: tuple[Approval, ...] = ()
    identity: VerifiedIdentity | None = None


@attrs.frozen
class EnvironmentState:
    """One environment of one service."""

    current: str | None = None
    """The version that last succeeded here (what serves once no rollout holds traffic)."""
    succeeded: frozenset[str] = frozenset()
    rollout: Rollout | None = None
    passed: frozenset[tuple[str, str]] = frozenset()
    """(version, suite) pairs whose latest result is a pass."""
    failed: frozenset[tuple[str, str]] = frozenset()
    requested: PendingRequest | None = None
    approvals: tuple[Approval, ...] = ()
    approval_runs: frozenset[str] = frozenset()
    """The GitHub Actions runs (``VerifiedIdentity.run``) that approved anything here: a run approves once."""
    let_in: Rollout | None = None
    """The rollout that made :attr:`current` current (the latest that succeeded here), with its entry: a cluster is
    told to serve ``current`` (or a rollout's ``previous``) only where that entry is still proven
    (``DeploymentPipeline.entry_refusal``)."""
    let_in_before: Rollout | None = None
    """The rollout that let in the version :attr:`current` replaced (the :attr:`let_in` before the latest success):
    a return to that version (``DeploymentPipeline.return_to``) makes it :attr:`let_in` again, so that a cluster is
    moved back to it only where its own entry is still proven."""

    @property
    def phase(self) -> Phase:
        return self.rollout.phase if self.rollout else Phase.IDLE

    def has_passed(self, version: str, suite: str) -> bool:
        return (version, suite) in self.passed


_State = TypeVar("_State", Rollout, EnvironmentState)


def _replace(record: _State, **changes: object) -> _State:
    """``attrs.evolve`` for the fold's records, which have no validators: a copy with *changes*.

    The fold runs once per event, so this is the pipeline's innermost loop.
    """
    copy = object.__new__(type(record))
    for field in _FIELDS[type(record)]:
        object.__setattr__(copy, field, changes[field] if field in changes else getattr(record, field))
    return copy


_FIELDS = {cls: tuple(field.name for field in attrs.fields(cls)) for cls in (Rollout, EnvironmentState)}


class HistoryError(Exception):
    """Raised when an event cannot follow the ones before it: a rollout's event with no rollout started, an
    event of an environment the platform file does not name. The history is not as this version reads it."""


def _rollout(state: EnvironmentState) -> Rollout:
    if state.rollout is None:
        raise HistoryError("a rollout's event, but no rollout was started in its environment")
    return state.rollout


def _stopped(state: EnvironmentState, phase: Phase, event: Event, **changes: object) -> EnvironmentState:
    rollout = _replace(_rollout(state), phase=phase, reason=event.reason, stopped_at=event.at, **changes)
    return _replace(state, rollout=rollout)


def _ran(state: EnvironmentState, event: ApprovalGranted) -> frozenset[str]:
    return state.approval_runs | {event.identity.run} if event.identity else state.approval_runs


def _entry(state: EnvironmentState, event: RolloutStarted) -> Entry | None:
    """What lets the rollout *event* starts in: the request and approvals of its version pending in *state*."""
    request = state.requested if state.requested is not None and state.requested.version == event.version else None
    approvals = tuple(approval for approval in state.approvals if approval.version == event.version)
    if request is None and not approvals and event.identity is None:
        return None
    return Entry(request, approvals, event.identity)


def _replaced(state: EnvironmentState, event: RolloutStarted) -> VerifiedIdentity | None:
    """Who started the rollout that let in the version *event* replaces, as *state* holds it."""
    let_in = state.let_in
    if let_in is None or let_in.entry is None or let_in.version != event.previous:
        return None
    return let_in.entry.identity


def fold(state: EnvironmentState, event: Event) -> EnvironmentState:  # noqa: PLR0911, PLR0912 - one arm per event
    """The environment's state after *event*; events the fold does not know change nothing."""
    match event:
        case AnalysisRecorded(verdict=verdict):  # the most frequent event first
            rollout = _rollout(state)
            if verdict is Verdict.PASS:  # failures count per stage: a flapping canary does not reset them
                if rollout.inconclusive == 0:
                    return state  # the usual analysis changes nothing: no copy
                rollout = _replace(rollout, inconclusive=0)
            elif verdict is Verdict.FAIL:
                rollout = _replace(rollout, failures=rollout.failures + 1, inconclusive=0)
            else:
                rollout = _replace(rollout, inconclusive=rollout.inconclusive + 1)
            return _replace(state, rollout=rollout)
        case TrafficShifted():
            rollout = _replace(
                _rollout(state),
                step=event.step,
                weight=event.weight,
                step_started=event.at,
                phase=Phase.PROGRESSING,
                failures=0,
            )
            return _replace(state, rollout=rollout)
        case TestResultRecorded():
            key = (event.version, event.suite)
            if event.passed:
                return _replace(state, passed=state.passed | {key}, failed=state.failed - {key})
            return _replace(state, failed=state.failed | {key}, passed=state.passed - {key})
        case PromotionRequested():
            requester = event.identity.user_id if event.identity else None
            request = PendingRequest(event.version, event.actor, event.at, requester, event.identity)
            return _replace(state, requested=request)
        case ApprovalsSuperseded():
            return _replace(state, approvals=tuple(a for a in state.approvals if a.version != event.superseded))
        case ApprovalGranted(step=str(step)):  # a rollout's manual validation step
            rollout = _rollout(state)
            approved = _replace(
                rollout,
                phase=Phase.PROGRESSING,
                waiting_for=None,
                approved_steps=rollout.approved_steps | {step},
                step_approvals=rollout.step_approvals | {(step, event.actor)},
            )
            return _replace(state, rollout=approved, approval_runs=_ran(state, event))
        case ApprovalGranted():
            approver = event.identity.user_id if event.identity else None
            approval = Approval(event.version, event.group, event.actor, event.at, approver, event.identity)
            return _replace(state, approvals=(*state.approvals, approval), approval_runs=_ran(state, event))
        case RolloutStarted():
            rollout = Rollout(
                event.version,
                event.previous,
                event.strategy,
                Phase.PROGRESSING,
                event.at,
                step_started=event.at,
                started_by=event.actor,
                started_by_id=event.identity.user_id if event.identity else None,
                entry=_entry(state, event),
                replaced=_replaced(state, event),
                stages=event.stages,
                validation=event.validation,
                timings=event.timings,
            )
            return _replace(state, rollout=rollout, requested=None, approvals=())
        case AwaitingApproval():
            rollout = _replace(_rollout(state), phase=Phase.AWAITING_APPROVAL, waiting_for=event.step)
            return _replace(state, rollout=rollout)
        case RolloutPaused():
            return _stopped(state, Phase.PAUSED, event, paused_from=_rollout(state).phase, resumed_by="")
        case RolloutResumed():
            rollout = _rollout(state)
            resumed = _replace(
                rollout,
                phase=rollout.paused_from or Phase.PROGRESSING,
                paused_from=None,
                failures=0,
                inconclusive=0,
                step_started=event.at,
                reason="",
                stopped_at=None,
                resumed_by=event.actor,
            )
            return _replace(state, rollout=resumed)
        case RolloutSucceeded():
            rollout = _replace(_rollout(state), phase=Phase.SUCCEEDED, weight=100, stopped_at=event.at)
            return _replace(
                state,
                rollout=rollout,
                current=event.version,
                succeeded=state.succeeded | {event.version},
                let_in=rollout,
                let_in_before=state.let_in,
            )
        case RolledBack() if state.rollout is not None and state.rollout.phase is Phase.SUCCEEDED:
            # a return from a rollout that succeeded (``DeploymentPipeline.return_to``): what it replaced serves again,
            # let in by the rollout that let it in before
            before = state.let_in_before
            returned = _stopped(state, Phase.ROLLED_BACK, event, weight=0)
            let_in = before if before is not None and before.version == event.restored else None
            return _replace(returned, current=event.restored, let_in=let_in, let_in_before=None)
        case RolledBack():
            return _stopped(state, Phase.ROLLED_BACK, event, weight=0)
        case RolloutAborted():
            return _stopped(state, Phase.ABORTED, event, weight=0)
    return state


# ---- the records of versions: what a bounded snapshot keeps, and what is read back by version ------------------------

RECORD_EVENTS = ("rollout_succeeded", "test_result_recorded")
"""The events that add to a version's records in an environment (``succeeded``, ``passed``, ``failed``). The rules
read those records by version only — the version a promotion or a test result names, or the one a rollout holds —
so a snapshot keeps the records of the versions its environments hold (:func:`live_versions`), and the others are
read back, by version, from these events (``DeploymentPipeline.with_records``)."""


class UnreadRecordsError(LookupError):
    """A rule asked for the records of a version that a bounded snapshot left out and no one read back: a bug of the
    caller (``DeploymentPipeline.unread`` says which to read before deciding), never a decision taken on less."""


def live_versions(state: EnvironmentState) -> frozenset[str]:
    """The versions *state* holds by itself — what serves, what rolls out or rolled out last, what it replaced,
    what is asked for and approved: the versions rules read the records of without a command naming them."""
    found = {state.current} if state.current is not None else set()
    if state.requested is not None:
        found.add(state.requested.version)
    found.update(approval.version for approval in state.approvals)
    for rollout in (state.rollout, state.let_in):
        if rollout is not None:
            found.add(rollout.version)
            if rollout.previous is not None:
                found.add(rollout.previous)
    if state.let_in_before is not None:  # what a return restores (its version is the latest rollout's previous)
        found.add(state.let_in_before.version)
    return frozenset(found)


def bounded_records(state: EnvironmentState, keep: frozenset[str]) -> EnvironmentState:
    """*state* with the records of the versions in *keep* alone (what a snapshot keeps, however long the history).
    An environment that holds no version of its own (test results recorded where nothing was ever rolled out or
    asked for) keeps its records whole: so that it stays in the snapshot, as it stays in the fold."""
    if not live_versions(state):
        return state
    succeeded = frozenset(version for version in state.succeeded if version in keep)
    passed = frozenset(pair for pair in state.passed if pair[0] in keep)
    failed = frozenset(pair for pair in state.failed if pair[0] in keep)
    if (len(succeeded), len(passed), len(failed)) == (len(state.succeeded), len(state.passed), len(state.failed)):
        return state
    return _replace(state, succeeded=succeeded, passed=passed, failed=failed)


def with_records(state: EnvironmentState, version: str, events: Iterable[Event]) -> EnvironmentState:
    """*state* (which holds none of *version*'s records from before *events*, only later ones) with the records
    *events* — *version*'s :data:`RECORD_EVENTS` in this environment, oldest first — add: a success is kept for
    good, and a suite's latest result wins, so a result *state* already holds (a later one) stands."""
    succeeded, results = False, dict[tuple[str, str], bool]()
    for event in events:
        if event.version != version:
            raise ValueError(f"an event of {event.version} among the records of {version}")
        if isinstance(event, RolloutSucceeded):
            succeeded = True
        elif isinstance(event, TestResultRecorded):
            results[(version, event.suite)] = event.passed
    later = state.passed | state.failed
    passed = {key for key, ok in results.items() if ok and key not in later}
    failed = {key for key, ok in results.items() if not ok and key not in later}
    if not (passed or failed or (succeeded and version not in state.succeeded)):
        return state
    return _replace(
        state,
        succeeded=state.succeeded | {version} if succeeded else state.succeeded,
        passed=state.passed | passed,
        failed=state.failed | failed,
    )


def records_aside(environments: dict[str, EnvironmentState], events: Sequence[Event]) -> dict[str, EnvironmentState]:
    """Before folding *events* into *environments* (changed in place): the records of each environment they add to,
    set aside (the states as they were, returned) and emptied — so that folding a page of a long history copies
    small sets, not sets that grow with every release once per result. :func:`records_back` merges them again."""
    aside: dict[str, EnvironmentState] = {}
    for name in {event.environment for event in events if isinstance(event, (TestResultRecorded, RolloutSucceeded))}:
        state = environments.get(name)
        if state is not None and (state.succeeded or state.passed or state.failed):
            aside[name] = state
            environments[name] = _replace(state, succeeded=frozenset(), passed=frozenset(), failed=frozenset())
    return aside


def records_back(environments: dict[str, EnvironmentState], aside: Mapping[str, EnvironmentState]) -> None:
    """After the fold: the records :func:`records_aside` set aside, merged with those the fold added (a success is
    kept for good; a suite's latest result wins: one in the page replaces the one before it) — what folding with
    them in place gives."""
    for name, before in aside.items():
        state = environments[name]
        environments[name] = _replace(
            state,
            succeeded=before.succeeded | state.succeeded,
            passed=(before.passed - state.failed) | state.passed,
            failed=(before.failed - state.passed) | state.failed,
        )
