"""Test reports read from files, safely: only regular files, at most 50 MiB, read with that bound (a pipe, a device
or ``/dev/zero`` is refused before anything is read). JUnit XML is parsed by defusedxml (no DTD, no entity expanded,
nothing external fetched) in every shape its dialects write — pytest, Maven Surefire, Gradle, jest-junit: suites
nested in suites, cases directly under ``<testsuites>`` — and its own counters must agree with its cases. Trivy JSON
is read for every finding class. What they mean for a release is ``application.evidence``'s to say."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from findly_infra.application.evidence import SEVERITIES, JUnitSummary, TrivyFinding
from findly_infra.application.ports import BadInputError

__all__ = ["MAX_REPORT_BYTES", "FileReports"]

MAX_REPORT_BYTES = 50 * 1024 * 1024
_COUNTERS = (("tests", "tests"), ("failures", "failures"), ("errors", "errors"), ("skipped", "skipped"))
_TRIVY_CLASSES = ("Vulnerabilities", "Misconfigurations", "Secrets", "Licenses")


def _read(path: Path) -> bytes:
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            raise BadInputError(f"{path} is not a regular file (a directory, a pipe or a device?)")
        if status.st_size > MAX_REPORT_BYTES:
            raise BadInputError(f"{path} is {status.st_size / 1024 / 1024:.0f} MiB: a report may be at most 50 MiB")
        with path.open("rb") as file:
            data = file.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_REPORT_BYTES:
        raise BadInputError(f"{path} grew past 50 MiB while it was read")
    return data


def _count(element: Any, name: str) -> int | None:
    raw = element.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(float(raw))
    except ValueError:
        raise BadInputError(f"<{element.tag}> has {name}={raw!r}, not a number") from None
    if value < 0:
        raise BadInputError(f"<{element.tag}> has {name}={raw!r}, below 0")
    return value


def _cases(element: Any) -> tuple[int, int, int, int]:
    """The test cases in *element* and under it: (tests, failure elements, error elements, skipped cases)."""
    tests = failures = errors = skipped = 0
    for case in element.iter("testcase"):
        tests += 1
        failures += len(case.findall("failure"))
        errors += len(case.findall("error"))
        skipped += 1 if case.find("skipped") is not None else 0
    return tests, failures, errors, skipped


class FileReports:
    """The ``ReportReader`` port on report files."""

    def junit(self, path: Path) -> JUnitSummary:
        from xml.etree.ElementTree import ParseError

        import defusedxml.ElementTree as SafeTree
        from defusedxml import DefusedXmlException

        data = _read(path)
        try:
            root = SafeTree.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        except DefusedXmlException:
            raise BadInputError(f"{path}: a JUnit report has no DTD or entities") from None
        except ParseError as exc:
            raise BadInputError(f"{path} is not JUnit XML: {exc}") from None
        if root.tag not in ("testsuite", "testsuites"):
            raise BadInputError(f"{path} is not a JUnit report (root <{root.tag}>)")
        for element in [root, *root.iter("testsuite")]:  # each suite's counters agree with its cases
            counted = dict(zip(("tests", "failures", "errors", "skipped"), _cases(element), strict=True))
            for attribute, key in _COUNTERS:
                said = _count(element, attribute)
                if attribute == "skipped" and said is None:
                    said = _count(element, "disabled") if element.tag == "testsuites" else None
                if said is not None and said != counted[key]:
                    name = element.get("name") or element.tag
                    raise BadInputError(
                        f"{path}: <{element.tag} name={name!r}> says {attribute}={said} but has {counted[key]}: "
                        "a report whose counters and cases disagree is not evidence"
                    )
        tests, _, _, skipped = _cases(root)
        failed_cases = sum(1 for case in root.iter("testcase") if case.find("failure") is not None)
        errored_cases = sum(
            1 for case in root.iter("testcase") if case.find("failure") is None and case.find("error") is not None
        )
        return JUnitSummary(tests, failed_cases, errored_cases, skipped)

    def trivy(self, path: Path) -> tuple[TrivyFinding, ...]:
        try:
            report = json.loads(_read(path))
        except ValueError:
            raise BadInputError(f"{path} is not JSON, so not a Trivy report") from None
        if not isinstance(report, dict) or "SchemaVersion" not in report or "ArtifactName" not in report:
            raise BadInputError(f"{path} is not a Trivy JSON report (no SchemaVersion and ArtifactName)")
        results = report.get("Results")
        if not isinstance(results, list):
            raise BadInputError(f"{path}: a Trivy report without Results scanned nothing: it is not evidence")
        findings = []
        for index, result in enumerate(results):
            if not isinstance(result, dict):
                raise BadInputError(f"{path}: Results[{index}] is not an object")
            for kind in _TRIVY_CLASSES:
                entries = result.get(kind) or []
                if not isinstance(entries, list):
                    raise BadInputError(f"{path}: Results[{index}].{kind} is not a list")
                for number, entry in enumerate(entries):
                    place = f"Results[{index}].{kind}[{number}]"
                    if not isinstance(entry, dict):
                        raise BadInputError(f"{path}: {place} is not an object")
                    if kind == "Misconfigurations" and str(entry.get("Status", "FAIL")).upper() != "FAIL":
                        continue  # a check that passed is not a finding
                    severity = str(entry.get("Severity", "")).strip().upper()
                    if severity not in SEVERITIES:
                        raise BadInputError(
                            f"{path}: {place} has severity {entry.get('Severity')!r}; "
                            f"Trivy's are {', '.join(SEVERITIES)}"
                        )
                    ident = entry.get("VulnerabilityID") or entry.get("ID") or entry.get("RuleID") or entry.get("Name")
                    findings.append(TrivyFinding(kind, str(ident or place), severity))
        return tuple(findings)
