"""Time across commands: which clock a command runs on, and where a virtual clock starts.

A durable state keeps one kind of time for good, decided by the first command that writes to it:

- **wall** — the real clock. Every event is stamped when it happened; ``--now`` is refused (beyond a small skew,
  :data:`SKEW`) on a command that writes, so that no virtual time poisons a team's history: no approval made to
  look younger or older than it is, no rollout stamped ahead.
- **virtual** — a rehearsal or a replay (``--now``, the demo): a state of its own whose clock moves as fast as a
  rollout asks. Without ``--now`` its clock resumes at its latest event.

``memory://`` keeps nothing, so its time is always virtual. Either way a stream's times never run backwards, and
no future time is recorded.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from findly_infra.application.ports import BadInputError

__all__ = ["SKEW", "TimeMode", "era_problem", "future_problem", "time_for", "virtual_start"]

TimeMode = Literal["wall", "virtual"]
SKEW = timedelta(minutes=5)
"""How far ``--now`` may be from the real clock and still be read as "now" (runners' clocks differ)."""


def time_for(kept: str | None, given: datetime | None, wall: datetime, *, where: str) -> TimeMode:
    """The time a writing command runs on, on a durable state that keeps *kept* time (``None``: undecided — this
    command decides), given ``--now`` *given* (naive UTC) at real time *wall*. A ``--now`` within :data:`SKEW`
    of the real clock is the real clock.

    Raises :class:`BadInputError` for a future ``--now``, and for a virtual ``--now`` on a state that keeps real
    time (*where* names the state in the message).
    """
    if given is not None and (future := future_problem(given, wall)) is not None:
        raise BadInputError(f"--now {given.isoformat()} {future} (replay the past, or use --state memory://)")
    asked: TimeMode = "virtual" if given is not None and abs(given - wall) > SKEW else "wall"
    if kept not in (None, "wall", "virtual"):
        raise BadInputError(f"--state {where} keeps time as {kept!r}, which this version does not know")
    if kept == "wall" and asked == "virtual":
        assert given is not None
        raise BadInputError(
            f"--now {given.isoformat()}: --state {where} keeps real time (its history was recorded on the real "
            "clock), so no command writes virtual time into it; rehearse or replay on a state of its own "
            "(--state rehearsal.sqlite3 --now …) or in memory (--state memory://)"
        )
    return "virtual" if kept == "virtual" else asked


def era_problem(at: datetime) -> str | None:
    """Why *at* is not a time a release happens at (years 1970 to 9000: a rollout, an approval's age and a budget
    window are added to it, and subtracted), or ``None``. ``--now`` and ``state import`` both answer to it."""
    if not 1970 <= at.year <= 9000:
        return "is not a time a release happens at (years 1970 to 9000)"
    return None


def future_problem(at: datetime, wall: datetime) -> str | None:
    """Why *at* (naive UTC) cannot be recorded in a durable store at real time *wall*, or ``None``: a time later than
    the real clock and its :data:`SKEW` is in the future — whichever time the state keeps, since a rehearsal's virtual
    clock on a durable store never runs ahead of the real one either (it waits for it). ``--now`` and ``state import``
    both answer to it."""
    if at > wall + SKEW:
        return "is in the future: a durable store records no future time"
    return None


def virtual_start(given: datetime | None, latest_recorded: datetime | None, wall: datetime) -> datetime:
    """The start of a command's virtual clock: *given* (else *wall*), not before *latest_recorded*."""
    start = given or wall
    return max(start, latest_recorded) if latest_recorded is not None else start
