"""Virtual time across commands: where a command's virtual clock starts.

Scripted metrics and replays run on a virtual clock. Each command is a new process, so its clock
starts again: at the time given (``--now``), else now — but never before the latest event already
recorded for the service, so that a stream's times never run backwards.
"""

from __future__ import annotations

from datetime import datetime

__all__ = ["virtual_start"]


def virtual_start(given: datetime | None, latest_recorded: datetime | None, wall: datetime) -> datetime:
    """The start of a command's virtual clock: *given* (else *wall*), not before *latest_recorded*."""
    start = given or wall
    return max(start, latest_recorded) if latest_recorded is not None else start
