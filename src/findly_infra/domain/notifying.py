"""The rules of notifications: which of the pipeline's events, waits and refusals are told to whom, how urgently,
with which facts, and when an incident opens and closes. Pure: the application folds a service's events through
:func:`decide` from a cursor, asks :func:`waiting` of each environment the new events touched, and :func:`refused`
when a promotion is refused; the outbox keeps each (notification, receiver) once.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from findly_infra.domain.approvals import needed_text
from findly_infra.domain.events import (
    AnalysisRecorded,
    Event,
    MetricReading,
    RolledBack,
    RolloutAborted,
    RolloutPaused,
    RolloutStarted,
    RolloutSucceeded,
    Verdict,
)
from findly_infra.domain.notation import MetricKind
from findly_infra.domain.notifications import (
    Notification,
    NotificationKind,
    NotificationSeverity,
    PageAction,
)
from findly_infra.domain.platform import Platform
from findly_infra.domain.refusal import Refusal
from findly_infra.domain.releases import (
    RELEASE_STREAM,
    PartState,
    PartStatus,
    Release,
    ReleaseCreated,
    ReleaseEntered,
    ReleaseInEnvironment,
    ReleaseReturning,
    ReleaseRolledBack,
    ReleaseSucceeded,
)
from findly_infra.domain.state import EnvironmentState, Phase
from findly_infra.domain.strategy import metric_kind
from findly_infra.domain.view import EnvironmentView, WaitKind, stop_author

__all__ = [
    "REHEARSAL",
    "WAITING_RULES",
    "Incidents",
    "RetrySchedule",
    "decide",
    "decide_releases",
    "incident_key",
    "notification_id",
    "reading_text",
    "refused",
    "release_command",
    "severity_of",
    "shown_value",
    "waiting",
]

REHEARSAL = "[rehearsal, virtual time] "
"""How the summary of every notification decided on a state that keeps virtual time starts (its very first words)."""


def notification_id(*parts: object) -> str:
    """A stable id of the decision *parts* name (service, stream position, kind…): the same decision, the same id."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()
    return f"ntf_{digest[:28]}"


def incident_key(service: str, environment: str, version: str) -> str:
    """PagerDuty's ``dedup_key``: one incident per service, environment and version."""
    return f"findly/{service}/{environment}/{version}"


@attrs.frozen
class Incidents:
    """What the fold of a service's events keeps between sweeps: the incidents opened (a pause, a rollback) and not
    yet resolved, as (environment, version)."""

    open: frozenset[tuple[str, str]] = frozenset()

    def to_text(self) -> str:
        return json.dumps(sorted(list(pair) for pair in self.open))

    @classmethod
    def from_text(cls, text: str) -> Incidents:
        loaded = json.loads(text or "[]")
        return cls(frozenset((str(environment), str(version)) for environment, version in loaded))


_SEVERITY = {
    NotificationKind.ROLLOUT_STARTED: NotificationSeverity.INFO,
    NotificationKind.AWAITING_APPROVAL: NotificationSeverity.WARNING,
    NotificationKind.AWAITING_EVIDENCE: NotificationSeverity.WARNING,
    NotificationKind.ROLLOUT_PAUSED: NotificationSeverity.CRITICAL,
    NotificationKind.ROLLED_BACK: NotificationSeverity.CRITICAL,
    NotificationKind.ROLLOUT_ABORTED: NotificationSeverity.WARNING,
    NotificationKind.ROLLOUT_SUCCEEDED: NotificationSeverity.INFO,
    NotificationKind.PROMOTION_REFUSED: NotificationSeverity.WARNING,
    NotificationKind.RELEASE_ENTERED: NotificationSeverity.INFO,
    NotificationKind.RELEASE_RETURNING: NotificationSeverity.CRITICAL,
    NotificationKind.RELEASE_ROLLED_BACK: NotificationSeverity.WARNING,
    NotificationKind.RELEASE_SUCCEEDED: NotificationSeverity.INFO,
}
"""How urgent each kind is: a pause or a rollback needs someone now, and so does a release returned as a whole (it
pages as a rollback does); a wait, an abort, a refusal or the end of a release's return (someone looks at the part
that failed) soon; the rest is information."""

_TRIGGERS = {"rollout_paused": NotificationKind.ROLLOUT_PAUSED, "rolled_back": NotificationKind.ROLLED_BACK}
_OTHERS = {
    "rollout_started": NotificationKind.ROLLOUT_STARTED,
    "rollout_aborted": NotificationKind.ROLLOUT_ABORTED,
    "rollout_succeeded": NotificationKind.ROLLOUT_SUCCEEDED,
}


def severity_of(kind: NotificationKind) -> NotificationSeverity:
    return _SEVERITY[kind]


def shown_value(metric: str, value: float | None) -> str:
    """A reading as a person reads it: ``0.100%``, ``183ms``; ``-`` for no data (``None`` or NaN)."""
    if value is None or math.isnan(value):
        return "-"
    if metric_kind(metric) is MetricKind.DURATION:
        return f"{value * 1000:.0f}ms"
    return f"{value:.3%}"


def reading_text(reading: MetricReading) -> str:
    """``error_rate 5.000% (threshold < 0.5%): fail`` — the value as a person reads it beside its threshold."""
    shown = "no data" if math.isnan(reading.value) else shown_value(reading.metric, reading.value)
    return f"{reading.metric} {shown} (threshold {reading.threshold}): {reading.verdict.value}"


@attrs.frozen
class _Context:
    platform: Platform
    service: str
    rehearsal: bool


def decide(
    platform: Platform,
    service: str,
    events: Sequence[tuple[int, Event]],
    incidents: Incidents,
    *,
    rehearsal: bool = False,
) -> tuple[tuple[Notification, ...], Incidents]:
    """The notifications *events* (each with its stream position) call for, and the incidents open after them.

    A rollout that starts, succeeds, is aborted, pauses or rolls back is told; a pause or a rollback opens the
    incident of its version (PagerDuty ``trigger``); the incident is resolved when that version succeeds there, a
    person aborts it, or another version's rollout starts there (superseded) or succeeds there. Ids come from the
    service, the position, the kind and the event's environment, version, time and actor: deciding the same events
    again gives the same notifications, and another state's events at the same positions other ids. *rehearsal*:
    the state keeps virtual time — every summary says so.
    """
    context = _Context(platform, service, rehearsal)
    found: list[Notification] = []
    open_ = set(incidents.open)
    analyses: dict[str, AnalysisRecorded] = {}
    before: dict[str, Event] = {}  # the event recorded just before, per environment (who decided a stop)
    for position, event in events:
        previous = before.get(event.environment)
        before[event.environment] = event
        if isinstance(event, AnalysisRecorded):
            analyses[event.environment] = event
            continue
        kind = _TRIGGERS.get(event.type) or _OTHERS.get(event.type)
        if kind is None:
            continue
        key = (event.environment, event.version)
        resolved: list[tuple[str, str]] = []
        if kind is NotificationKind.ROLLOUT_STARTED:
            resolved = sorted(pair for pair in open_ if pair[0] == event.environment and pair != key)
        elif kind is NotificationKind.ROLLOUT_SUCCEEDED:
            resolved = sorted(pair for pair in open_ if pair[0] == event.environment)
        elif kind is NotificationKind.ROLLOUT_ABORTED:
            resolved = [key] if key in open_ else []
        action: PageAction | None = None
        if kind in _TRIGGERS.values():
            action = PageAction.TRIGGER
            open_.add(key)
        elif key in resolved:
            action = PageAction.RESOLVE
        analysis = analyses.pop(event.environment, None)
        found.append(
            _of_event(
                context,
                position=position,
                event=event,
                kind=kind,
                action=action,
                analysis=analysis,
                author=stop_author(event, previous),
            )
        )
        for pair in resolved:
            open_.discard(pair)
            if pair != key:
                found.append(_superseded(context, position, event, kind, pair[1]))
    return tuple(found), Incidents(frozenset(open_))


def _summary(context: _Context, text: str) -> str:
    return f"{REHEARSAL}{text}" if context.rehearsal else text


def _of_event(
    context: _Context,
    *,
    position: int,
    event: Event,
    kind: NotificationKind,
    action: PageAction | None,
    analysis: AnalysisRecorded | None,
    author: str,
) -> Notification:
    """*author* is who decided *event* in words (:func:`~findly_infra.domain.view.stop_author`: the analysis of a
    watch, or a person)."""
    service, environment, version = context.service, event.environment, event.version
    where = f"{service} {version} in {environment}"
    details: list[tuple[str, str]] = [("service", service), ("environment", environment), ("version", version)]
    command = f"findly-infra status {service} --env {environment}"
    if isinstance(event, RolloutStarted):
        summary = f"{where}: {event.strategy.value} rollout started by {event.actor}"
        details += [("strategy", event.strategy.value), ("replacing", event.previous or "nothing (first release)")]
        if event.stages:
            details.append(("stages", " -> ".join(f"{weight}%" for weight, _ in event.stages)))
        if event.budget_override:
            details.append(("error budget overridden", event.reason))
    elif isinstance(event, RolloutSucceeded):
        summary = f"{where}: rollout succeeded, it serves all traffic"
    elif isinstance(event, RolloutAborted):
        summary = f"{where}: rollout aborted by {event.actor}: traffic is back on the previous version"
    else:  # paused or rolled back: say on what, and what unblocks it
        stopped = "paused" if kind is NotificationKind.ROLLOUT_PAUSED else "rolled back"
        failing = [r for r in analysis.readings if r.verdict is not Verdict.PASS] if analysis else []
        because = event.reason or ("by " + author)
        summary = f"{where}: {stopped} — {because}"
        if failing:
            summary += f": {reading_text(failing[0])} over the last {context.platform.prometheus.window.describe()}"
        for reading in failing:
            details.append(("criterion", reading_text(reading)))
        if failing:
            details.append(("window", context.platform.prometheus.window.describe()))
        if isinstance(event, RolledBack):
            details.append(("traffic back on", event.restored or "nothing (there was no previous version)"))
            command = f"findly-infra history {service}; then a fixed version: findly-infra deploy {service} VERSION"
        else:
            command = _unpause(service, version, environment, event.reason)
    if event.reason and not isinstance(event, (RolloutPaused, RolledBack, RolloutStarted)):
        details.append(("reason", event.reason))
    details += [("by", author), ("next", command)]
    return Notification(
        id=notification_id(service, position, kind.value, *_unique(event)),
        kind=kind,
        severity=_SEVERITY[kind],
        service=service,
        environment=environment,
        version=version,
        at=event.at,
        summary=_summary(context, summary),
        details=tuple(details),
        incident_key=incident_key(service, environment, version),
        action=action,
    )


def _unpause(service: str, version: str, environment: str, reason: str) -> str:
    """What unblocks a paused rollout: resume, abort or roll back — and first, for a pause on overdue evidence
    (``progress.blue_green_validation``: resume alone pauses it again), each missing suite's pass recorded."""
    if reason.startswith("no passed "):
        return (
            f"record each missing suite's pass (findly-infra record {service} {version} --env {environment} "
            f"--suite SUITE --passed), then findly-infra resume {service} --env {environment}; or abort|rollback"
        )
    return f"findly-infra resume|abort|rollback {service} --env {environment}"


def _unique(event: Event) -> tuple[str, ...]:
    """What makes *event* its own beyond its position: another state's event at the same position (the demo's, a
    rehearsal's, another project's) has another environment, version, time or actor — so its notifications have
    other ids (Standard Webhooks' ``webhook-id`` is unique per message: a receiver drops an id seen before)."""
    return event.environment, event.version, event.at.isoformat(), event.actor


def _superseded(context: _Context, position: int, event: Event, kind: NotificationKind, earlier: str) -> Notification:
    """The resolve of *earlier*'s incident, which *event* (another version's start or success) ended."""
    service, environment = context.service, event.environment
    how = "started" if kind is NotificationKind.ROLLOUT_STARTED else "succeeded"
    return Notification(
        id=notification_id(service, position, kind.value, "resolves", earlier, *_unique(event)),
        kind=kind,
        severity=NotificationSeverity.INFO,
        service=service,
        environment=environment,
        version=event.version,
        at=event.at,
        summary=_summary(
            context,
            f"{service} {event.version} {how} in {environment}: the incident of {earlier} there is over (superseded)",
        ),
        details=(("service", service), ("environment", environment), ("version", event.version), ("resolves", earlier)),
        incident_key=incident_key(service, environment, earlier),
        action=PageAction.RESOLVE,
    )


def waiting(
    service: str, view: EnvironmentView, state: EnvironmentState, at: datetime, *, rehearsal: bool = False
) -> Notification | None:
    """What an environment waiting for an approval or for evidence tells the receivers: who may approve (and the
    command), or which suite must pass — once per wait (the id is the wait's: its kind, version, step or suite, and
    since when; approvals that arrive while a promotion still waits for others do not make it a new wait). ``None``
    when it waits for neither (a pause is told by its event). *state* is the environment's state in the pipeline
    the view was made of; *at* the time of the view."""
    wait = view.waiting_for
    if wait is None or wait.kind is WaitKind.PERSON or view.retired:
        return None
    rollout = view.rollout
    needs = ", ".join(wait.needs)
    if rollout is not None and (rollout.phase is Phase.AWAITING_APPROVAL or wait.kind is WaitKind.EVIDENCE):
        version, since = rollout.version, rollout.started
        step = rollout.waiting_for or "" if wait.kind is WaitKind.APPROVAL else needs
    elif state.requested is not None:  # a promotion waiting for its approvals
        version, since, step = state.requested.version, state.requested.at, "promotion"
    else:
        return None
    kind = NotificationKind.AWAITING_APPROVAL if wait.kind is WaitKind.APPROVAL else NotificationKind.AWAITING_EVIDENCE
    if wait.kind is not WaitKind.APPROVAL:
        what = f"a passed {needs}"
    elif step == "promotion":  # one approval from each group, by different people (count_approvals)
        what = needed_text(wait.needs)
    else:  # a blue-green manual step: one approval, from a member of any group
        what = f"an approval from a member of {' or '.join(wait.needs)}"
    details: list[tuple[str, str]] = [("service", service), ("environment", view.environment), ("version", version)]
    details.append(("approvers" if wait.kind is WaitKind.APPROVAL else "suite", needs))
    if wait.kind is WaitKind.APPROVAL and step != "promotion":
        details.append(("step", step))
    if wait.deadline is not None:
        details.append(("deadline", wait.deadline.isoformat()))
    details.append(("to unblock", wait.message))
    text = f"{service} {version} in {view.environment} waits for {what}"
    return Notification(
        id=notification_id(service, view.environment, kind.value, version, step, since.isoformat()),
        kind=kind,
        severity=_SEVERITY[kind],
        service=service,
        environment=view.environment,
        version=version,
        at=at,
        summary=f"{REHEARSAL}{text}" if rehearsal else text,
        details=tuple(details),
        incident_key=incident_key(service, view.environment, version),
        action=None,
    )


def refused(
    service: str,
    environment: str,
    version: str,
    refusal: Refusal,
    *,
    stream_version: int,
    at: datetime,
    rehearsal: bool = False,
) -> Notification | None:
    """What a refused promotion tells the receivers: the rule and its sentence. The same refusal of the same
    request on the same state (a retried CI step) has the same id. ``None`` for a refusal that only says approvals
    are missing: the wait for them is told instead (:func:`waiting`)."""
    if refusal.rule in WAITING_RULES:
        return None
    kind = NotificationKind.PROMOTION_REFUSED
    text = f"{service} {version} may not enter {environment}: refused by {refusal.rule}: {refusal.message}"
    return Notification(
        id=notification_id(service, environment, version, kind.value, refusal.rule, stream_version),
        kind=kind,
        severity=_SEVERITY[kind],
        service=service,
        environment=environment,
        version=version,
        at=at,
        summary=f"{REHEARSAL}{text}" if rehearsal else text,
        details=(
            ("service", service),
            ("environment", environment),
            ("version", version),
            ("rule", refusal.rule),
            ("why", refusal.message),
        ),
        incident_key=incident_key(service, environment, version),
        action=None,
    )


WAITING_RULES = frozenset({"approvals"})
"""The rules whose refusal means "waiting for people", told as :func:`waiting` rather than as a refusal."""


@attrs.frozen
class RetrySchedule:
    """When a delivery that failed is tried again, and when it is given up: exponential backoff from ``first`` doubling
    up to ``cap``, with a jitter of ±``jitter`` derived from the delivery's key (so two deliveries that failed
    together do not come back together, and the same failure always waits the same: no randomness here); never
    sooner than the receiver's ``Retry-After``; given up after ``attempts`` attempts or once the next attempt would
    come more than ``age`` after it was queued."""

    first: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    attempts: int = 40
    """Above the ~31 attempts a day of backoff takes (8 to reach the hourly cap, then ~23; at most 37 with the
    jitter's shortest waits): the bound of ``age`` is the one a receiver down for good meets."""
    age: timedelta = timedelta(hours=24)
    jitter: float = 0.2

    def delay(self, key: str, attempt: int) -> timedelta:
        """The wait after failed attempt number *attempt* (1: the first), before any ``Retry-After``."""
        base: timedelta = min(self.cap, self.first * 2 ** min(attempt - 1, 32))
        fraction = int(hashlib.sha256(f"{key}\x1f{attempt}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        spread: timedelta = base * (1 - self.jitter + 2 * self.jitter * fraction)
        return spread

    def next_attempt(
        self, key: str, attempt: int, at: datetime, queued: datetime, retry_after: float | None = None
    ) -> datetime | None:
        """When to try again after failed attempt *attempt* made at *at* (``None``: give up)."""
        if attempt >= self.attempts:
            return None
        wait = self.delay(key, attempt)
        if retry_after is not None and retry_after > 0:
            wait = max(wait, timedelta(seconds=retry_after))
        when = at + wait
        return None if when - queued > self.age else when


# ---- releases of several services ----------------------------------------------------------------------------------


def release_command(verb: str, release: str, environment: str | None = None) -> str:
    """The ``release`` command a notification of *release* points to, with the options that command takes:
    ``findly-infra release approve 2026-12-06 --environment production``, ``release promote NAME --to staging``,
    ``release status NAME`` (every environment)."""
    if verb == "status" or not environment:
        return f"findly-infra release {verb} {release}"
    option = "--to" if verb == "promote" else "--environment"
    return f"findly-infra release {verb} {release} {option} {environment}"


def decide_releases(
    platform: Platform,
    known: Mapping[str, Release],
    events: Sequence[tuple[int, Event]],
    incidents: Incidents,
    *,
    rehearsal: bool = False,
) -> tuple[tuple[Notification, ...], Incidents]:
    """The notifications the release stream's *events* (each with its position) call for, and the incidents open
    after them; *known* is every release as the stream's events before *events* left them (:func:`releases`).

    A release that enters an environment is told (and, where the environment needs approval, that it waits for one
    approval of the whole release); a release returned as a whole there — one of its parts failed, or a person
    rolled it back — opens its incident (PagerDuty ``trigger``, one per release and environment); the incident is
    resolved when the release has been rolled back there, or when a release (a later one, or this one again)
    succeeds there. Ids come from the stream, the position, the kind and the event's environment, release, time and
    actor, as a service's do: deciding the same events again gives the same notifications."""
    state = dict(known)
    found: list[Notification] = []
    open_ = set(incidents.open)
    for position, event in events:
        if isinstance(event, ReleaseCreated):
            state[event.release] = Release.of(event)
            continue
        name = getattr(event, "release", "")
        if name not in state:
            continue  # a release the stream never named: nothing to tell of it
        release = state[name] = state[name].apply(event)
        here = release.environments.get(event.environment)
        if here is None:
            continue
        key = (event.environment, name)
        told = _ReleaseTold(platform, release, here, event, position, rehearsal)
        if isinstance(event, ReleaseEntered):
            found.append(told.entered())
            if told.approvers:
                found.append(told.awaiting_approval())
        elif isinstance(event, ReleaseReturning):
            open_.add(key)
            found.append(told.returning())
        elif isinstance(event, ReleaseRolledBack):
            found.append(told.rolled_back(PageAction.RESOLVE if key in open_ else None))
            open_.discard(key)
        elif isinstance(event, ReleaseSucceeded):
            resolved = sorted(pair for pair in open_ if pair[0] == event.environment)
            found.append(told.succeeded(PageAction.RESOLVE if key in resolved else None))
            for pair in resolved:
                open_.discard(pair)
                if pair != key:
                    found.append(told.supersedes(pair[1]))
    return tuple(found), Incidents(frozenset(open_))


def _part_text(part: PartState) -> str:
    return f"{part.service}={part.version}"


@attrs.frozen
class _ReleaseTold:
    """What one event of a release tells, from the release as it left it."""

    platform: Platform
    release: Release
    here: ReleaseInEnvironment
    event: Event
    position: int
    rehearsal: bool

    @property
    def _where(self) -> str:
        return f"release {self.release.name} in {self.here.environment}"

    @property
    def _parts(self) -> str:
        return ", ".join(str(part) for part in self.release.parts)

    def _note(
        self,
        kind: NotificationKind,
        summary: str,
        details: list[tuple[str, str]],
        *,
        action: PageAction | None = None,
        unique: tuple[str, ...] = (),
        incident: str | None = None,
        severity: NotificationSeverity | None = None,
    ) -> Notification:
        event, name, environment = self.event, self.release.name, self.here.environment
        head = [("release", name), ("parts", self._parts), ("environment", environment)]
        return Notification(
            id=notification_id(RELEASE_STREAM, self.position, kind.value, *unique, *_unique(event)),
            kind=kind,
            severity=severity or _SEVERITY[kind],
            service=RELEASE_STREAM,
            environment=environment,
            version=name,
            at=event.at,
            summary=f"{REHEARSAL}{summary}" if self.rehearsal else summary,
            details=(*head, *details),
            incident_key=incident_key(RELEASE_STREAM, environment, incident or name),
            action=action,
            parts=tuple(str(part) for part in self.release.parts),
        )

    @property
    def approvers(self) -> tuple[str, ...]:
        """The groups the environment needs an approval from (none: it needs none, or the platform file no longer
        has it — a sweep never fails on an event of the past)."""
        environment = next((e for e in self.platform.environments if e.name == self.here.environment), None)
        return environment.approvers if environment is not None and environment.approval_required else ()

    def _needs_approval(self) -> str:
        return needed_text(self.approvers)

    def entered(self) -> Notification:
        order = ", then ".join(part.service for part in self.release.parts)
        waits = (
            f"{self._needs_approval()} (one for the whole release), then for its parts to roll out one by one: {order}"
            if self.approvers
            else f"its parts to roll out one by one, in dependency order: {order}"
        )
        summary = f"{self._where}: entered by {self.event.actor} ({self._parts}); it waits for {waits}"
        details = [
            ("order", order),
            ("by", self.event.actor),
            ("waits for", waits),
            ("next", release_command("status", self.release.name)),
        ]
        return self._note(NotificationKind.RELEASE_ENTERED, summary, details)

    def awaiting_approval(self) -> Notification:
        environment, name = self.here.environment, self.release.name
        what = self._needs_approval()
        unblock = (
            f"{release_command('approve', name, environment)}, by someone other than {self.here.entered_by} "
            "(one approval per person counts for every part)"
        )
        summary = f"{self._where} waits for {what}: one approval for the whole release ({self._parts})"
        details = [("approvers", ", ".join(self.approvers)), ("waits for", what), ("to unblock", unblock)]
        return self._note(NotificationKind.AWAITING_APPROVAL, summary, details, unique=("approval",))

    def _returns(self) -> str:
        """What the return does: the parts under way rolled back, then those done, in reverse order, each to what
        it served before."""
        said = []
        for part in self.here.parts:
            if part.status is PartStatus.STARTED:
                said.append(f"{_part_text(part)} (under way) rolled back to {part.previous or 'nothing'}")
        for part in self.here.to_return:
            back = part.previous or "nothing (left running: nothing served it before)"
            said.append(f"{_part_text(part)} back to {back}")
        return "; ".join(said) or "nothing: no part had changed anything"

    def returning(self) -> Notification:
        here, event = self.here, self.event
        failed = next((part for part in here.parts if part.service == here.failed), None)
        returns = self._returns()
        if failed is not None:
            why = failed.reason or "its rollout did not succeed"
            summary = (
                f"{self._where}: {_part_text(failed)} failed — {why}; the release is returned as a whole: {returns}"
            )
            details = [("failed part", _part_text(failed)), ("why", why)]
        else:
            why = event.reason or "no reason given"
            summary = f"{self._where}: rolled back by {event.actor} — {why}; returning {returns}"
            details = [("rolled back by", event.actor), ("why", why)]
        details += [
            ("returning", returns),
            ("waits for", "each part returned, in reverse order"),
            ("next", release_command("status", self.release.name)),
        ]
        return self._note(NotificationKind.RELEASE_RETURNING, summary, details, action=PageAction.TRIGGER)

    def rolled_back(self, action: PageAction | None) -> Notification:
        here = self.here
        returned = [
            f"{_part_text(part)} -> {part.previous}"
            if part.status is PartStatus.RETURNED and part.previous
            else f"{_part_text(part)} left running"
            for part in reversed(here.parts)
            if part.status in (PartStatus.RETURNED, PartStatus.LEFT)
        ]
        failed = [part for part in here.parts if part.status is PartStatus.FAILED]
        said = "; ".join(returned) or "nothing to return"
        cause = f" after {here.failed} failed" if here.failed else ""
        summary = f"{self._where}: rolled back{cause}: {said}"
        details = [("returned", said)]
        details += [("failed part", f"{_part_text(part)}: {part.reason or 'failed'}") for part in failed]
        details += [
            (
                "next",
                f"a fixed release: findly-infra release create … (see {release_command('status', self.release.name)})",
            )
        ]
        return self._note(NotificationKind.RELEASE_ROLLED_BACK, summary, details, action=action)

    def succeeded(self, action: PageAction | None) -> Notification:
        environment, name = self.here.environment, self.release.name
        order = self.platform.promotion_order
        index = order.index(environment) if environment in order else None  # None: no longer in the file
        following = order[index + 1] if index is not None and index + 1 < len(order) else None
        unchanged = [part.service for part in self.here.parts if part.status is PartStatus.UNCHANGED]
        summary = f"{self._where}: succeeded, every part serves its version ({self._parts})"
        details: list[tuple[str, str]] = []
        if unchanged:
            details.append(("already served", ", ".join(unchanged)))
        if following is not None:
            details.append(("next", release_command("promote", name, following)))
        else:
            done = index is not None
            details.append(("next", "nothing: the release is done" if done else release_command("status", name)))
        return self._note(NotificationKind.RELEASE_SUCCEEDED, summary, details, action=action)

    def supersedes(self, earlier: str) -> Notification:
        summary = f"{self._where} succeeded: the incident of release {earlier} there is over (superseded)"
        return self._note(
            NotificationKind.RELEASE_SUCCEEDED,
            summary,
            [("resolves", earlier)],
            action=PageAction.RESOLVE,
            unique=("resolves", earlier),
            incident=earlier,
            severity=NotificationSeverity.INFO,
        )
