"""Test evidence: what makes a report a pass. Reading the files is an adapter's job (``adapters.reports``);
the rules that judge what they say are here, in one place.

- A JUnit report passes when at least one test ran and none failed or errored: an empty report is
  not a pass (a job that ran nothing proves nothing).
- A Trivy report passes when no finding reaches the severity limit (default ``HIGH``); a finding of a
  severity Trivy does not name is counted as ``UNKNOWN``, below every limit but ``UNKNOWN``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import attrs

__all__ = ["SEVERITIES", "Evidence", "JUnitSummary", "ReportReader", "junit_evidence", "trivy_evidence"]

SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")
"""Trivy's severities, lowest first."""


@attrs.frozen
class JUnitSummary:
    """What a JUnit report says: how many test cases ran, and how many failed or errored."""

    tests: int
    failures: int


@attrs.frozen
class Evidence:
    """A test result to record: passed or not, and why in a few words."""

    passed: bool
    detail: str = ""


class ReportReader(Protocol):
    """Reads test reports from files; raises ``BadInputError`` naming the file when one is not its format."""

    def junit(self, path: Path) -> JUnitSummary: ...

    def trivy(self, path: Path) -> tuple[str, ...]:
        """The severity of every finding in a Trivy JSON report."""
        ...


def junit_evidence(summary: JUnitSummary) -> Evidence:
    if summary.tests == 0:
        return Evidence(False, "no test ran")  # an empty report is not a pass
    passed = summary.tests - summary.failures
    return Evidence(summary.failures == 0, f"{passed}/{summary.tests} passed")


def trivy_evidence(severities: tuple[str, ...], max_severity: str = "HIGH") -> Evidence:
    """Passed when no finding is at *max_severity* or above."""
    limit = SEVERITIES.index(max_severity)
    known = [severity if severity in SEVERITIES else "UNKNOWN" for severity in severities]
    blocking = [severity for severity in known if SEVERITIES.index(severity) >= limit]
    return Evidence(not blocking, f"{len(severities)} findings, {len(blocking)} at {max_severity} or above")
