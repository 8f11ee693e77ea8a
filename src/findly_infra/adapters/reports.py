"""Test reports read from files, safely: only regular files, at most 50 MiB, read with that bound (a pipe, a device
or ``/dev/zero`` is refused before anything is read). JUnit XML is parsed by defusedxml (no DTD, no entity expanded,
nothing external fetched) in every shape its dialects write — pytest, Maven Surefire, Gradle, jest-junit: suites
nested in suites, cases directly under ``<testsuites>`` — and its own counters must agree with its cases. It is
counted as it is parsed (the parser's target, no tree built), so a 50 MiB report takes a few MiB, not hundreds.
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
_OUTCOMES = ("failure", "error", "skipped")
_PIECE = 64 * 1024
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


def _piece(file: BinaryIO, path: Path, size: int) -> bytes:
    try:
        return file.read(size)
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


def _count(tag: str, attrib: dict[str, str], name: str, path: Path) -> int | None:
    raw = attrib.get(name)
    if raw is None or raw == "":
        return None
    said = f"{path}: <{tag}> has {name}={raw[:40]!r}"
    try:
        number = float(raw)
    except ValueError:
        raise BadInputError(f"{said}, not a number") from None
    if math.isnan(number):
        raise BadInputError(f"{said}, not a number")
    if number < 0:  # "-inf" too
        raise BadInputError(f"{said}, below 0")
    if number > _MAX_COUNT:  # "1e999", or 5,000 nines: int() of either would crash, and no report holds that many
        raise BadInputError(f"{said}, more than any report can hold")
    return int(number)


@attrs.define
class _Suite:
    """A ``<testsuite>`` (or the ``<testsuites>`` root) being read: what it says, and what its cases were so far."""

    tag: str
    name: str
    said: dict[str, int | None]
    index: int
    """Its place among the elements open when it started (the root's is 0)."""
    counted: dict[str, int] = attrs.field(factory=lambda: dict.fromkeys(_COUNTERS, 0))

    def check(self, path: Path) -> None:
        """Its counters agree with its cases, or the report is refused."""
        for attribute in _COUNTERS:
            said = self.said[attribute]
            if said is not None and said != self.counted[attribute]:
                raise BadInputError(
                    f"{path}: <{self.tag} name={self.name!r}> says {attribute}={said} but has "
                    f"{self.counted[attribute]}: a report whose counters and cases disagree is not evidence"
                )


@attrs.define
class _JUnitCounter:
    """The parser's target: told of each element as the parser meets it, it counts cases and checks suites, and
    keeps nothing but the elements still open — no tree is built, so memory stays bounded by the nesting, not the
    size (a 49 MiB report of 1.8 million cases took 594 MiB as a tree; ``python benchmarks/reports.py``)."""

    path: Path
    open: list[str] = attrs.field(factory=list)
    suites: list[_Suite] = attrs.field(factory=list)
    cases: list[list[int]] = attrs.field(factory=list)
    """Of each case still open: its <failure>, <error> and <skipped> children."""
    root: _Suite | None = None
    failed: int = 0
    errored: int = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        root = not self.open
        if root and tag not in ("testsuite", "testsuites"):
            raise BadInputError(f"{self.path} is not a JUnit report (root <{tag}>)")
        if self.open and self.open[-1] == "testcase" and tag in _OUTCOMES:  # a case's own child, as findall() reads
            self.cases[-1][_OUTCOMES.index(tag)] += 1
        self.open.append(tag)
        if tag == "testcase":
            self.cases.append([0, 0, 0])
        elif tag == "testsuite" or root:
            said = {attribute: _count(tag, attrib, attribute, self.path) for attribute in _COUNTERS}
            if said["skipped"] is None and root and tag == "testsuites":
                said["skipped"] = _count(tag, attrib, "disabled", self.path)
            self.suites.append(_Suite(tag, attrib.get("name") or tag, said, len(self.open) - 1))
            self.root = self.root or self.suites[0]

    def end(self, tag: str) -> None:
        self.open.pop()
        if tag == "testcase":
            failures, errors, skipped = self.cases.pop()
            self.failed += 1 if failures else 0
            self.errored += 1 if errors and not failures else 0
            counted = self.suites[-1].counted  # the innermost suite; it hands its counts on when it ends
            counted["tests"] += 1
            counted["failures"] += failures
            counted["errors"] += errors
            counted["skipped"] += 1 if skipped else 0
        elif self.suites and len(self.open) == self.suites[-1].index:
            suite = self.suites.pop()
            suite.check(self.path)
            for attribute in _COUNTERS if self.suites else ():  # a suite counts the cases of the suites in it
                self.suites[-1].counted[attribute] += suite.counted[attribute]

    def data(self, _text: str) -> None:
        pass

    def close(self) -> None:
        """The end of the document (the parser says so)."""

    def summary(self) -> JUnitSummary:
        if self.root is None:  # pragma: no cover - the parser refuses a document without a root element first
            raise BadInputError(f"{self.path} is not JUnit XML: no element")
        return JUnitSummary(self.root.counted["tests"], self.failed, self.errored, self.root.counted["skipped"])


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
        """Read as it is parsed, a piece at a time (:class:`_JUnitCounter`): no tree is built."""
        from xml.etree.ElementTree import ParseError

        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import DefusedXMLParser

        counter = _JUnitCounter(path)
        parser = DefusedXMLParser(target=counter, forbid_dtd=True, forbid_entities=True, forbid_external=True)
        left = MAX_REPORT_BYTES
        with _open(path) as file:
            try:
                while piece := _piece(file, path, min(_PIECE, left + 1)):
                    left -= len(piece)
                    if left < 0:
                        raise BadInputError(f"{path} grew past 50 MiB while it was read")
                    parser.feed(piece)
                parser.close()
                summary = counter.summary()
            except DefusedXmlException:
                raise BadInputError(f"{path}: a JUnit report has no DTD or entities") from None
            except ParseError as exc:
                raise BadInputError(f"{path} is not JUnit XML: {exc}") from None
            except LookupError as exc:  # <?xml encoding="x-unknown"?>: Python's codecs do not know it
                raise BadInputError(f"{path} is not JUnit XML: its declared encoding is unknown ({exc})") from None
            except ValueError as exc:  # pyexpat: "multi-byte encodings are not supported"
                raise BadInputError(f"{path} is not JUnit XML that can be read: {exc}") from None
        return summary

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
