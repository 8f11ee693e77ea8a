"""Test evidence: what makes a report a pass. Reading the files is an adapter's job (``adapters.reports``);
the rules that judge what they say are here, in one place.

- A JUnit report passes when at least one test ran (skipped ones did not) and none failed or errored: an empty or
  all-skipped report is not a pass (a job that ran nothing proves nothing).
- A Trivy report passes when no finding — vulnerability, failed misconfiguration check, secret or licence — is at
  the severity that fails the suite or above (``--fail-on``, default ``HIGH``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import attrs

__all__ = ["SEVERITIES", "Evidence", "JUnitSummary", "ReportReader", "TrivyFinding", "junit_evidence", "trivy_evidence"]

SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")
"""Trivy's severities, lowest first."""


@attrs.frozen
class JUnitSummary:
    """What a JUnit report says: how many test cases it has, and how many failed, errored or were skipped."""

    tests: int
    failures: int
    errors: int = 0
    skipped: int = 0

    @property
    def ran(self) -> int:
        return self.tests - self.skipped


@attrs.frozen
class TrivyFinding:
    """One finding of a Trivy report: its class (``Vulnerabilities``, ``Misconfigurations``, ``Secrets``,
    ``Licenses``), its id and its severity (one of :data:`SEVERITIES`)."""

    kind: str
    id: str
    severity: str


@attrs.frozen
class Evidence:
    """A test result to record: passed or not, and why in a few words."""

    passed: bool
    detail: str = ""


class ReportReader(Protocol):
    """Reads test reports from files; raises ``BadInputError`` naming the file when one is not its format."""

    def junit(self, path: Path) -> JUnitSummary: ...

    def trivy(self, path: Path) -> tuple[TrivyFinding, ...]:
        """Every finding of a Trivy JSON report, of every class."""
        ...


def junit_evidence(summary: JUnitSummary) -> Evidence:
    if summary.ran <= 0:
        skipped = f" ({summary.skipped} skipped)" if summary.skipped else ""
        return Evidence(False, f"no test ran{skipped}")  # an empty or all-skipped report is not a pass
    bad = summary.failures + summary.errors
    counts = [f"{summary.ran - bad}/{summary.ran} passed"]
    counts += [f"{n} {what}" for n, what in ((summary.failures, "failed"), (summary.errors, "errored")) if n]
    counts += [f"{summary.skipped} skipped"] if summary.skipped else []
    return Evidence(bad == 0, ", ".join(counts))


def trivy_evidence(findings: tuple[TrivyFinding, ...], fail_on: str = "HIGH") -> Evidence:
    """Passed when no finding is at *fail_on* or above."""
    limit = SEVERITIES.index(fail_on)
    blocking = [finding for finding in findings if SEVERITIES.index(finding.severity) >= limit]
    detail = f"{len(findings)} findings, {len(blocking)} at {fail_on} or above"
    if blocking:
        kinds = sorted({finding.kind for finding in blocking})
        detail += f" ({', '.join(kinds)}: {', '.join(finding.id for finding in blocking[:5])}"
        detail += ", …)" if len(blocking) > 5 else ")"
    return Evidence(not blocking, detail)
