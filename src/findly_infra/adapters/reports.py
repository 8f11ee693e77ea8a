"""Test reports read from files, safely: only regular files, at most 50 MiB, read with that bound (a pipe, a device
or ``/dev/zero`` is refused before anything is read). JUnit XML is parsed by defusedxml (no DTD, no entity expanded,
nothing external fetched) in every shape its dialects write — pytest, Maven Surefire, Gradle, jest-junit: suites
nested in suites, cases directly under ``<testsuites>`` — and its own counters must agree with its cases. It is
parsed incrementally (each case counted and dropped as it ends), so a 50 MiB report takes a few MiB, not hundreds.
Trivy JSON is read for every finding class; an object holding a key twice is refused (a later duplicate could hide an
earlier finding). A report that cannot be read — an unknown encoding, a counter past any report's size, nesting
deeper than Python's parser goes — is bad input named by its file, never a crash. What they mean for a release is
``application.evidence``'s to say."""

from __future__ import annotations

import json
import math
import stat
from pathlib import Path
from typing import Any, BinaryIO

import attrs

from findly_infra.application.evidence import SEVERITIES, JUnitSummary, TrivyFinding
from findly_infra.application.ports import BadInputError

__all__ = ["MAX_REPORT_BYTES", "FileReports"]

MAX_REPORT_BYTES = 50 * 1024 * 1024
_COUNTERS = ("tests", "failures", "errors", "skipped")
_MAX_COUNT = MAX_REPORT_BYTES  # a case takes more than one byte, so no report counts more
_TRIVY_CLASSES = ("Vulnerabilities", "Misconfigurations", "Secrets", "Licenses")


def _open(path: Path) -> BinaryIO:
    """*path* opened for reading, once it is known to be a regular file of at most 50 MiB."""
    try:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            raise BadInputError(f"{path} is not a regular file (a directory, a pipe or a device?)")
        if status.st_size > MAX_REPORT_BYTES:
            raise BadInputError(f"{path} is {status.st_size / 1024 / 1024:.0f} MiB: a report may be at most 50 MiB")
        return path.open("rb")
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _read(path: Path) -> bytes:
    with _open(path) as file:
        try:
            data = file.read(MAX_REPORT_BYTES + 1)
        except OSError as exc:
            raise BadInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_REPORT_BYTES:
        raise BadInputError(f"{path} grew past 50 MiB while it was read")
    return data


class _Bounded:
    """A file read at most 50 MiB far, in the pieces a parser asks for: a report that grows while it is read is
    refused, not followed."""

    def __init__(self, file: BinaryIO, path: Path) -> None:
        self._file, self._path, self._left = file, path, MAX_REPORT_BYTES

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._file.read(self._left + 1 if size < 0 else min(size, self._left + 1))
        except OSError as exc:
            raise BadInputError(f"cannot read {self._path}: {exc.strerror or exc}") from None
        self._left -= len(data)
        if self._left < 0:
            raise BadInputError(f"{self._path} grew past 50 MiB while it was read")
        return data


class _DuplicateKeyError(ValueError):
    """Raised when one JSON object holds a key twice."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict — refused when a key appears twice, which ``json`` would resolve to the last one:
    ``{"Vulnerabilities": [critical], "Vulnerabilities": []}`` must not read as a clean scan. Trivy's JSON is
    written by Go's ``encoding/json`` from structs, one key per field, so a real report never holds a key twice."""
    report = dict(pairs)
    if len(report) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return report


def _count(element: Any, name: str, path: Path) -> int | None:
    raw = element.get(name)
    if raw is None or raw == "":
        return None
    said = f"{path}: <{element.tag}> has {name}={raw[:40]!r}"
    try:
        number = float(raw)
    except ValueError:
        raise BadInputError(f"{said}, not a number") from None
    if math.isnan(number):
        raise BadInputError(f"{said}, not a number")
    if number > _MAX_COUNT:  # "1e999", or 5,000 nines: int() of either would crash, and no report holds that many
        raise BadInputError(f"{said}, more than any report can hold")
    value = int(number)
    if value < 0:
        raise BadInputError(f"{said}, below 0")
    return value


@attrs.define
class _Suite:
    """A ``<testsuite>`` (or the ``<testsuites>`` root) being read: what it says, and what its cases were so far."""

    element: Any
    said: dict[str, int | None]
    counted: dict[str, int] = attrs.field(factory=lambda: dict.fromkeys(_COUNTERS, 0))


def _said(element: Any, path: Path, *, root: bool) -> dict[str, int | None]:
    """The counters a suite states (read when it starts: its attributes are all there)."""
    said = {attribute: _count(element, attribute, path) for attribute in _COUNTERS}
    if said["skipped"] is None and root and element.tag == "testsuites":
        said["skipped"] = _count(element, "disabled", path)
    return said


def _check(suite: _Suite, path: Path) -> None:
    """A suite's counters agree with its cases, or the report is refused."""
    for attribute in _COUNTERS:
        said = suite.said[attribute]
        if said is not None and said != suite.counted[attribute]:
            name = suite.element.get("name") or suite.element.tag
            raise BadInputError(
                f"{path}: <{suite.element.tag} name={name!r}> says {attribute}={said} but has "
                f"{suite.counted[attribute]}: a report whose counters and cases disagree is not evidence"
            )


def _trivy_json(path: Path) -> Any:
    try:
        return json.loads(_read(path), object_pairs_hook=_refuse_duplicates)
    except _DuplicateKeyError as exc:
        raise BadInputError(
            f"{path}: the key {exc.key!r} appears twice in one object: Trivy writes each key once, and a "
            "second one could hide the first one's findings"
        ) from None
    except RecursionError:  # 100,000 '[': Python's parser recurses once a level
        raise BadInputError(f"{path} is nested too deeply to be a Trivy report") from None
    except ValueError:  # not JSON, or an integer of more than 4,300 digits
        raise BadInputError(f"{path} is not JSON, so not a Trivy report") from None


class FileReports:
    """The ``ReportReader`` port on report files."""

    def junit(self, path: Path) -> JUnitSummary:
        """Parsed incrementally: each test case is counted when it ends and dropped from the tree, each suite is
        checked when it ends and dropped, so memory stays bounded by the largest single case (a 49 MiB report of
        1.8 million cases took 594 MiB parsed whole; ``python benchmarks/reports.py``)."""
        from xml.etree.ElementTree import ParseError

        import defusedxml.ElementTree as SafeTree
        from defusedxml import DefusedXmlException

        with _open(path) as file:
            try:
                return self._junit(SafeTree.iterparse(_Bounded(file, path), ("start", "end"), forbid_dtd=True), path)
            except DefusedXmlException:
                raise BadInputError(f"{path}: a JUnit report has no DTD or entities") from None
            except ParseError as exc:
                raise BadInputError(f"{path} is not JUnit XML: {exc}") from None
            except LookupError as exc:  # <?xml encoding="x-unknown"?>: Python's codecs do not know it
                raise BadInputError(f"{path} is not JUnit XML: its declared encoding is unknown ({exc})") from None
            except ValueError as exc:  # pyexpat: "multi-byte encodings are not supported"
                raise BadInputError(f"{path} is not JUnit XML that can be read: {exc}") from None

    def _junit(self, events: Any, path: Path) -> JUnitSummary:
        suites: list[_Suite] = []
        open_elements: list[Any] = []
        root: _Suite | None = None
        in_case = 0
        failed = errored = 0
        for event, element in events:
            if event == "start":
                if not open_elements and element.tag not in ("testsuite", "testsuites"):
                    raise BadInputError(f"{path} is not a JUnit report (root <{element.tag}>)")
                open_elements.append(element)
                if element.tag == "testcase":
                    in_case += 1
                elif element.tag == "testsuite" or len(open_elements) == 1:
                    suites.append(_Suite(element, _said(element, path, root=len(open_elements) == 1)))
                    root = root or suites[0]
                continue
            open_elements.pop()
            if element.tag == "testcase":
                in_case -= 1
                failures, errors = len(element.findall("failure")), len(element.findall("error"))
                skipped = 1 if element.find("skipped") is not None else 0
                failed += 1 if failures else 0
                errored += 1 if errors and not failures else 0
                counted = suites[-1].counted  # the innermost suite; it hands its counts on when it ends
                counted["tests"] += 1
                counted["failures"] += failures
                counted["errors"] += errors
                counted["skipped"] += skipped
            elif suites and element is suites[-1].element:
                suite = suites.pop()
                _check(suite, path)
                for attribute in _COUNTERS if suites else ():  # a suite counts the cases of the suites in it
                    suites[-1].counted[attribute] += suite.counted[attribute]
            elif in_case:
                continue  # a case's <failure>, <error> and <skipped> are read when the case ends
            if open_elements:
                del open_elements[-1][-1]  # an element that ended is its parent's last child: drop it
        if root is None:  # pragma: no cover - the parser refuses a document without a root element first
            raise BadInputError(f"{path} is not JUnit XML: no element")
        return JUnitSummary(root.counted["tests"], failed, errored, root.counted["skipped"])

    def trivy(self, path: Path) -> tuple[TrivyFinding, ...]:
        report = _trivy_json(path)
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
