"""Test reports read from files: JUnit XML (a report with a DTD or entities is refused, so no entity is
ever expanded) and Trivy JSON. What they mean for a release is ``application.evidence``'s to say."""

from __future__ import annotations

import json
from pathlib import Path

from findly_infra.application.evidence import JUnitSummary
from findly_infra.application.ports import BadInputError

__all__ = ["MAX_REPORT_BYTES", "FileReports"]

MAX_REPORT_BYTES = 50 * 1024 * 1024


def _read(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            raise BadInputError(f"{path} is over 50 MiB")
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise BadInputError(f"{path} is not UTF-8 text") from None


class FileReports:
    """The ``ReportReader`` port on report files."""

    def junit(self, path: Path) -> JUnitSummary:
        from xml.etree import ElementTree

        text = _read(path)
        if "<!DOCTYPE" in text or "<!ENTITY" in text:
            raise BadInputError(f"{path}: a JUnit report has no DTD or entities")
        try:
            root = ElementTree.fromstring(text)
        except ElementTree.ParseError as exc:
            raise BadInputError(f"{path} is not JUnit XML: {exc}") from None
        if root.tag not in ("testsuite", "testsuites"):
            raise BadInputError(f"{path} is not a JUnit report (root <{root.tag}>)")
        suites = [root] if root.tag == "testsuite" else root.findall(".//testsuite")
        tests = failures = 0
        for suite in suites:
            cases = suite.findall("testcase")
            tests += len(cases)
            failures += sum(1 for case in cases if case.find("failure") is not None or case.find("error") is not None)
        return JUnitSummary(tests, failures)

    def trivy(self, path: Path) -> tuple[str, ...]:
        text = _read(path)
        try:
            report = json.loads(text)
            results = report.get("Results") or []
            return tuple(
                str(finding.get("Severity", "UNKNOWN"))
                for result in results
                for finding in (result.get("Vulnerabilities") or [])
            )
        except (ValueError, AttributeError, TypeError):
            raise BadInputError(f"{path} is not a Trivy JSON report") from None
