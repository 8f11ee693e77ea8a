"""When a rollout's next analysis is due: one analysis each analysis interval, counted from the rollout's latest
analysis — or, before its first one, from where it last (re)started: its start, a traffic shift, a resume, the
approval of a manual validation step. A watch (``rollout --watch``) waits one interval after each of those before
it analyses; ``rollout --due`` carries out, at any time, the analyses that this count says are due — so that a
rollout driven by ``--due`` calls now and then is analysed on the same instants as one a watch drives.

Pure: the events and the times come in as arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from findly_infra.domain.events import (
    AnalysisRecorded,
    ApprovalGranted,
    Event,
    RolloutResumed,
    RolloutStarted,
    TrafficShifted,
)
from findly_infra.domain.state import Rollout

__all__ = ["cadence_anchor", "next_analysis_at", "restarts_cadence"]


def restarts_cadence(event: Event) -> bool:
    """Whether *event* is one the count of analysis intervals starts again from (in its environment): an analysis,
    a rollout's start, a traffic shift, a resume, the approval of a manual validation step (not a promotion's)."""
    if isinstance(event, ApprovalGranted):
        return event.step is not None
    return isinstance(event, (AnalysisRecorded, RolloutStarted, TrafficShifted, RolloutResumed))


def cadence_anchor(rollout: Rollout, environment: str, recent: Sequence[Event], *, whole: bool) -> datetime | None:
    """The instant the analyses of *rollout* (the one in *environment*) are counted from: the latest event of
    *environment* in *recent* that restarts the count (:func:`restarts_cadence`), never before the rollout's current
    stage began (``step_started``, else its start).

    *recent* is the service's latest events, oldest first; *whole* says whether they are all of them. ``None`` when
    *recent* does not reach back far enough to tell: none of its events restarts the count, none is older than the
    stage, and there are older ones (read further back)."""
    floor = rollout.step_started or rollout.started
    for event in reversed(recent):
        if event.environment == environment and restarts_cadence(event):
            return max(event.at, floor)
        if event.at < floor:  # every later event was looked at: none restarted the count after the stage began
            return floor
    return floor if whole else None


def next_analysis_at(anchor: datetime, interval: timedelta) -> datetime:
    """When the analysis after *anchor* is due: one *interval* later (an interval is at least a second:
    ``AnalysisConfig``)."""
    if interval <= timedelta(0):
        raise ValueError(f"an analysis interval is a positive time, not {interval}")
    return anchor + interval
