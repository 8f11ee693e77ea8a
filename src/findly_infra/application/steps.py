"""What one step of a rollout says, as facts and as words: the stage, the weights, each criterion's value beside its
threshold and its verdict, when the next analysis is due and, when the step stopped the rollout, what stopped it.

Pure formatting of the events a use case returned (it reads nothing), here rather than in ``cli`` so that the CLI's
watch lines and the demo's story (an application use case, which may not import the CLI) say a rollback alike."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from findly_infra.application.service import Outcome
    from findly_infra.domain.events import AnalysisRecorded, Event, MetricReading
    from findly_infra.domain.view import EnvironmentView

__all__ = [
    "STOPS",
    "VERDICT_WORDS",
    "bound_text",
    "criterion_text",
    "doubt_text",
    "last_analysis",
    "number",
    "shown",
    "step_facts",
    "stop_author_of",
    "stop_story",
    "stop_text",
    "triggers",
]

VERDICT_WORDS = {"pass": "ok", "fail": "FAILED", "inconclusive": "no verdict"}
"""A verdict as a watch's line says it."""
STOPS = ("rolled_back", "rollout_paused", "rollout_aborted")
"""The events that stop a rollout: a step that recorded one says what stopped it."""


def number(value: float | None) -> float | None:
    """JSON has no NaN: a missing value is null."""
    return None if value is None or math.isnan(value) else value


def shown(metric: str, value: float | None) -> str:
    """A reading as a person reads it: ``0.100%``, ``183ms``; ``-`` for no data (the words notifications use too)."""
    from findly_infra.domain.notifying import shown_value

    return shown_value(metric, value)


def bound_text(threshold: str, *, trigger: bool = False) -> str:
    """A reading's bound as a person reads it beside the value — ``(threshold < 0.5%)`` for a criterion that must
    hold; ``(rolls back if > 1%)`` for a blue-green rollback trigger, whose bound is the condition that rolls it back
    (``0.100% > 1%`` alone reads as a false statement). The notifications' words (``domain.notifying``) too."""
    return f"(rolls back if {threshold})" if trigger else f"(threshold {threshold})"


def triggers(view: EnvironmentView) -> bool:
    """Whether *view*'s rollout is judged by rollback triggers (blue-green), not by criteria that must hold."""
    return view.strategy is not None and view.strategy.value == "blue-green"


def criterion_text(reading: MetricReading, *, trigger: bool = False) -> str:
    """``error_rate 5.000% (threshold < 0.5%) FAILED``; a blue-green trigger's ``error_rate 0.100% (rolls back if >
    1%) ok``: the value beside its bound, and its verdict."""
    value = shown(reading.metric, number(reading.value))
    bound = bound_text(reading.threshold, trigger=trigger)
    return f"{reading.metric} {value} {bound} {VERDICT_WORDS.get(reading.verdict.value, '?')}"


def doubt_text(outcome: Outcome) -> str | None:
    """Why the analysis *outcome*'s step made found no verdict, from what it measured (``None`` where it found one,
    or made none): ``metrics unreadable: …``; ``no request series`` (nothing counted the new version's requests);
    ``requests 12 < min_requests 100``; ``no series for latency_p95`` (enough traffic, a criterion without data).
    Only a watch's own step knows (the events record the readings, not the request count)."""
    analysis = outcome.analysis
    if analysis is None or analysis.verdict.value != "inconclusive":
        return None
    if analysis.unreachable:
        return f"metrics unreadable: {analysis.unreachable}"
    requests, least = analysis.requests, analysis.strategy.analysis.min_requests
    if math.isnan(requests):
        return "no request series"
    if requests < least:
        return f"requests {requests:.0f} < min_requests {least}"
    missing = [r.metric for r in analysis.readings if number(r.value) is None]
    return f"no series for {', '.join(missing)}" if missing else None


def last_analysis(events: Sequence[Event]) -> AnalysisRecorded | None:
    from findly_infra.domain.events import AnalysisRecorded

    return next((e for e in reversed(events) if isinstance(e, AnalysisRecorded)), None)


def _stop(events: Sequence[Event]) -> Event | None:
    """The event of *events* that stopped the rollout (rolled back, paused, aborted), if one did."""
    return next((e for e in reversed(events) if e.type in STOPS), None)


def stop_story(events: Sequence[Event], environment: str) -> tuple[Event, ...]:
    """Of *events* (a service's latest, oldest first), what tells how the latest rollout in *environment* stopped:
    the last analysis of its version before the stop, then the stop — ``()`` when they hold no stop there. What
    ``status``, ``history`` and a watch started on a stopped rollout show beside the stop: the criteria that did
    not pass, as the watch that stopped it showed them."""
    mine = [event for event in events if event.environment == environment]
    at = next((i for i in range(len(mine) - 1, -1, -1) if mine[i].type in STOPS), None)
    if at is None:
        return ()
    stop = mine[at]
    analysis = next(
        (e for e in reversed(mine[:at]) if e.type == "analysis_recorded" and e.version == stop.version), None
    )
    before = mine[at - 1] if at else None  # what says who decided it (domain.view.stop_author)
    story = [e for e in (analysis, before) if e is not None]
    return (*dict.fromkeys(story), stop)  # in order: the analysis, what came just before the stop, the stop


def stop_author_of(events: Sequence[Event]) -> str | None:
    """Who stopped the rollout, of a step's or a story's *events* (``domain.view.stop_author``): ``the analysis
    (watch run by erin)`` for a stop its analysis decided, else the person; ``None`` where nothing stopped it."""
    from findly_infra.domain.view import stop_author

    at = next((i for i in range(len(events) - 1, -1, -1) if events[i].type in STOPS), None)
    if at is None:
        return None
    return stop_author(events[at], events[at - 1] if at else None)


def step_facts(
    outcome: Outcome, interval: timedelta, window: str, *, next_at: datetime | None = None
) -> dict[str, Any]:
    """One step of a rollout as facts: when, the phase, the stage (a canary's ``n`` of ``of``, its weight), the
    weights by version, the analysis's verdict and each criterion's value, threshold and verdict, when the next
    analysis is due (while it progresses), and — when the step stopped it — what stopped it: the event, its reason,
    the criteria that did not pass and the window they were measured over. *interval* is the strategy's analysis
    interval and *window* the metrics' window, both from the platform file; *next_at* is when the next analysis is
    due where the step recorded nothing to count from (a watch's first step, before its first analysis)."""
    view, events = outcome.view, outcome.events
    at: datetime | None = events[-1].at if events else None
    rollout = view.rollout
    stage = None
    if rollout is not None and rollout.stages:
        index = min(rollout.step, len(rollout.stages) - 1)
        stage = {"n": index + 1, "of": len(rollout.stages), "weight": rollout.stages[index][0]}
    analysis = last_analysis(events)
    readings = analysis.readings if analysis else ()
    verdict = analysis.verdict if analysis else None
    criteria = [
        {"metric": r.metric, "value": number(r.value), "threshold": r.threshold, "verdict": r.verdict.value}
        for r in readings
    ]
    stop = _stop(events)
    progressing = view.phase.value == "progressing"
    doubt = doubt_text(outcome)
    return ({"no_verdict_because": doubt} if doubt is not None else {}) | {
        "at": at.isoformat() if at else None,
        "phase": view.phase.value,
        "stage": stage,
        "weights": view.routes(),
        "verdict": verdict.value if verdict is not None else None,
        "criteria": criteria,
        "next_step_at": None
        if not progressing
        else (at + interval).isoformat()
        if at is not None
        else (next_at.isoformat() if next_at is not None else None),
        "stopped": None
        if stop is None
        else {
            "event": stop.type,
            "at": stop.at.isoformat(),
            "by": stop_author_of(events),
            "reason": stop.reason,
            "failing": [c for c in criteria if c["verdict"] != "pass"],
            "window": window,
        },
    }


_STOPPED_WORDS = {"rolled_back": "rolled back", "rollout_paused": "paused", "rollout_aborted": "aborted"}


def stop_text(outcome: Outcome, window: str, *, reason: bool = True) -> str | None:
    """What stopped the rollout at *outcome*'s step, in one sentence (``None`` when the step stopped nothing):
    ``rolled back at stage 2/4 (25%): error_rate 5.000% (threshold < 0.5%) FAILED over the last 1 minute; 2 failed
    analyses in this stage (threshold 2)``; without its *reason* where that is said beside it already."""
    stop = _stop(outcome.events)
    if stop is None:
        return None
    facts = step_facts(outcome, timedelta(0), window)
    stage = facts["stage"]
    where = "" if stage is None else f" at stage {stage['n']}/{stage['of']} ({stage['weight']}%)"
    analysis = last_analysis(outcome.events)
    failing = [r for r in (analysis.readings if analysis else ()) if r.verdict.value != "pass"]
    criteria = ", ".join(criterion_text(r, trigger=triggers(outcome.view)) for r in failing)
    because = f": {criteria} over the last {window}" if criteria else ""
    why = f"; {stop.reason}" if stop.reason and reason else ""
    return f"{_STOPPED_WORDS.get(stop.type, stop.type)}{where}{because}{why}"
