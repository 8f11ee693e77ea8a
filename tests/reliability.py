"""Figures of the reliability matrices: what the tests that break things on purpose did, counted.

``python scripts/reliability_report.py`` (``nox -s reliability``) sets ``FINDLY_RELIABILITY_TALLY`` to a file and
prints the sums per matrix: processes killed, servers frozen, racing commands, bad inputs tried, events checked after
a fault and how many of them were lost or repeated. Outside that run nothing is written.

Each figure is counted where the thing happens (a kill where the test kills, a lost event where the test compares
the log with what it must hold), so a test that stops doing what it says stops counting too.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Hashable, Iterable

__all__ = ["compare_logs", "tally"]

TALLY = "FINDLY_RELIABILITY_TALLY"


def tally(figure: str, count: int = 1) -> None:
    """Add *count* to *figure* in the reliability run's tally (nothing outside that run)."""
    path = os.environ.get(TALLY)
    if path and count:
        # one short line per call, appended: concurrent writers (child processes, xdist workers) never interleave
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps({"figure": figure, "count": count}) + "\n")


def compare_logs(expected: Iterable[Hashable], found: Iterable[Hashable]) -> tuple[int, int]:
    """Count what a log that went through a fault lost and repeated against the log it must equal: ``(lost,
    repeated)``, tallied as ``events checked``, ``events lost`` and ``events repeated``. Tests still assert
    equality themselves (order matters too); this says how much was looked at."""
    want, got = Counter(expected), Counter(found)
    lost = sum((want - got).values())
    repeated = sum((got - want).values())
    tally("events checked", sum(want.values()))
    tally("events lost", lost)
    tally("events repeated", repeated)
    return lost, repeated
