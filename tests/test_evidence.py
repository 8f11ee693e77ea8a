"""Evidence that means what it says: every shape of JUnit XML its dialects write, every class of Trivy finding, and
report files read safely (issue 11: "Evidence that means what it says"). Each report is judged through the command
line, as a CI job records it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from findly_infra.adapters.reports import FileReports
from findly_infra.application.evidence import JUnitSummary, junit_evidence, trivy_evidence
from findly_infra.application.ports import BadInputError
from findly_infra.cli import EXIT_BAD_INPUT
from tests.test_release_cli import cli

PASSING_PYTEST = """<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest"
errors="0" failures="0" skipped="1" tests="3" time="0.1" timestamp="2026-11-26T10:00:00" hostname="ci">
<testcase classname="tests.test_a" name="test_one" time="0.01"/>
<testcase classname="tests.test_a" name="test_two" time="0.01"/>
<testcase classname="tests.test_a" name="test_skip" time="0.0"><skipped type="pytest.skip" message="later"/></testcase>
</testsuite></testsuites>"""

SUREFIRE_FAILING = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" name="com.findly.PostsTest" time="0.2" tests="2"
 errors="0" skipped="0" failures="1">
  <properties><property name="java.version" value="21"/></properties>
  <testcase name="creates" classname="com.findly.PostsTest" time="0.1"/>
  <testcase name="lists" classname="com.findly.PostsTest" time="0.1">
    <failure message="expected 2" type="org.opentest4j.AssertionFailedError">stack</failure>
    <system-out>log</system-out>
  </testcase>
</testsuite>"""

SUREFIRE_FLAKY = """<testsuite name="com.findly.FlakyTest" tests="1" errors="0" skipped="0" failures="0">
  <testcase name="retried" classname="com.findly.FlakyTest"><flakyFailure message="once" type="X">s</flakyFailure>
  </testcase></testsuite>"""

JEST_NESTED_FAILING = """<testsuites name="jest tests" tests="3" failures="1" errors="0" time="1.2">
  <testsuite name="posts" errors="0" failures="1" skipped="0" timestamp="2026-11-26T10:00:00" time="1" tests="2">
    <testcase classname="posts creates" name="posts creates" time="0.1"/>
    <testcase classname="posts lists" name="posts lists" time="0.1"><failure>Error: boom</failure></testcase>
  </testsuite>
  <testsuite name="search" errors="0" failures="0" skipped="0" tests="1">
    <testcase classname="search finds" name="search finds" time="0.1"/>
  </testsuite>
</testsuites>"""

GRADLE_ERROR = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="PostsTest" tests="1" skipped="0" failures="0" errors="1" timestamp="2026-11-26T10:00:00"
 hostname="ci" time="0.1"><properties/>
  <testcase name="boots" classname="PostsTest" time="0.1"><error message="NPE" type="NullPointerException">s</error>
  </testcase><system-out><![CDATA[]]></system-out><system-err><![CDATA[]]></system-err>
</testsuite>"""

SUITES_OF_SUITES = """<testsuites><testsuite name="outer"><testsuite name="inner">
<testcase name="deep"><failure/></testcase></testsuite></testsuite></testsuites>"""

CASE_UNDER_SUITES = """<testsuites><testcase name="loose"><error/></testcase><testsuite name="s">
<testcase name="fine"/></testsuite></testsuites>"""

COUNTERS_ONLY = """<testsuites><testsuite name="summary" tests="5" failures="5"/></testsuites>"""

ALL_SKIPPED = """<testsuite name="s" tests="2" skipped="2"><testcase name="a"><skipped/></testcase>
<testcase name="b"><skipped/></testcase></testsuite>"""

LAUGHS = """<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<testsuite name="s" tests="1"><testcase name="&lol2;"/></testsuite>"""

EXTERNAL = """<?xml version="1.0"?><!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<testsuite name="s" tests="1"><testcase name="&x;"/></testsuite>"""


@pytest.mark.parametrize(
    ("report", "passed", "detail"),
    [
        (PASSING_PYTEST, True, "2/2 passed, 1 skipped"),
        (SUREFIRE_FAILING, False, "1/2 passed, 1 failed"),
        (SUREFIRE_FLAKY, True, "1/1 passed"),  # failed once, passed on its rerun: Surefire counts it passed
        (JEST_NESTED_FAILING, False, "2/3 passed, 1 failed"),
        (GRADLE_ERROR, False, "0/1 passed, 1 errored"),
        (SUITES_OF_SUITES, False, "0/1 passed, 1 failed"),
        (CASE_UNDER_SUITES, False, "1/2 passed, 1 errored"),
        (ALL_SKIPPED, False, "no test ran (2 skipped)"),
    ],
    ids=[
        "pytest",
        "surefire",
        "surefire-flaky",
        "jest-nested",
        "gradle-error",
        "suites-of-suites",
        "case-under-testsuites",
        "all-skipped",
    ],
)
def test_every_junit_dialect_is_judged_by_its_cases(
    env: dict[str, str], tmp_path: Path, report: str, passed: bool, detail: str
) -> None:
    path = tmp_path / "report.xml"
    path.write_text(report)
    assert junit_evidence(FileReports().junit(path)).detail == detail
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    code, document = cli(
        env, "record", "fn-posts", "1.0.0", "--env", "development", "--suite", "unit", "--junit", str(path)
    )
    assert (code, document["passed"], document["detail"]) == (0, passed, detail)


@pytest.mark.parametrize(
    ("report", "said"),
    [
        (COUNTERS_ONLY, "says tests=5 but has 0"),
        (SUREFIRE_FAILING.replace('failures="1"', 'failures="0"'), "says failures=0 but has 1"),
        (LAUGHS, "no DTD or entities"),
        (EXTERNAL, "no DTD or entities"),
        ("<html/>", "not a JUnit report (root <html>)"),
        ("<testsuite", "not JUnit XML"),
        ('<testsuite tests="many"/>', "tests='many', not a number"),
    ],
    ids=["counters-only", "counters-disagree", "billion-laughs", "external-entity", "html", "truncated", "nan"],
)
def test_a_junit_report_that_cannot_be_trusted_is_bad_input(tmp_path: Path, report: str, said: str) -> None:
    path = tmp_path / "report.xml"
    path.write_text(report)
    with pytest.raises(BadInputError, match=said.replace("(", r"\(").replace(")", r"\)")):
        FileReports().junit(path)


def _trivy(**result: object) -> dict[str, object]:
    return {
        "SchemaVersion": 2,
        "ArtifactName": "fn-posts:1.0.0",
        "ArtifactType": "container_image",
        "Results": [{"Target": "fn-posts:1.0.0 (debian 12)", "Class": "os-pkgs", **result}],
    }


@pytest.mark.parametrize(
    ("report", "passed", "detail"),
    [
        (
            _trivy(Vulnerabilities=[{"VulnerabilityID": "CVE-1", "Severity": "MEDIUM"}]),
            True,
            "1 findings, 0 at HIGH or above",
        ),
        (
            _trivy(Secrets=[{"RuleID": "aws-access-key-id", "Severity": "CRITICAL"}]),
            False,
            "1 findings, 1 at HIGH or above (Secrets: aws-access-key-id)",
        ),
        (
            _trivy(
                Misconfigurations=[
                    {"ID": "KSV001", "Severity": "HIGH", "Status": "FAIL"},
                    {"ID": "KSV002", "Severity": "CRITICAL", "Status": "PASS"},
                ]
            ),
            False,
            "1 findings, 1 at HIGH or above (Misconfigurations: KSV001)",
        ),
        (
            _trivy(Licenses=[{"Name": "AGPL-3.0", "Severity": "high"}]),
            False,
            "1 findings, 1 at HIGH or above (Licenses: AGPL-3.0)",
        ),
        (
            _trivy(Vulnerabilities=[{"VulnerabilityID": "CVE-2", "Severity": "critical"}]),
            False,
            "1 findings, 1 at HIGH or above (Vulnerabilities: CVE-2)",
        ),
        ({"SchemaVersion": 2, "ArtifactName": "fn-posts:1.0.0", "Results": []}, True, "0 findings, 0 at HIGH or above"),
    ],
    ids=["medium-vulnerability", "critical-secret", "failed-misconfiguration", "licence", "lower-case", "clean"],
)
def test_every_trivy_finding_class_counts(report: dict[str, object], passed: bool, detail: str, tmp_path: Path) -> None:
    path = tmp_path / "trivy.json"
    path.write_text(json.dumps(report))
    evidence = trivy_evidence(FileReports().trivy(path), "HIGH")
    assert (evidence.passed, evidence.detail) == (passed, detail)


@pytest.mark.parametrize(
    ("report", "said"),
    [
        ({}, "not a Trivy JSON report"),
        ({"x": 1}, "not a Trivy JSON report"),
        (["CRITICAL"], "not a Trivy JSON report"),
        ({"SchemaVersion": 2, "ArtifactName": "x"}, "without Results scanned nothing"),
        (_trivy(Vulnerabilities=[{"VulnerabilityID": "CVE-3", "Severity": "SEVERE"}]), "has severity 'SEVERE'"),
        (_trivy(Vulnerabilities="CVE-4"), r"Results\[0\]\.Vulnerabilities is not a list"),
    ],
    ids=["empty-object", "other-object", "list", "no-results", "unknown-severity", "malformed"],
)
def test_what_is_not_a_trivy_report_is_bad_input(report: object, said: str, tmp_path: Path) -> None:
    path = tmp_path / "trivy.json"
    path.write_text(json.dumps(report))
    with pytest.raises(BadInputError, match=said):
        FileReports().trivy(path)


def test_fail_on_names_what_fails_and_the_old_name_still_works(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "trivy.json"
    path.write_text(json.dumps(_trivy(Vulnerabilities=[{"VulnerabilityID": "CVE-1", "Severity": "HIGH"}])))
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    record = ("record", "fn-posts", "1.0.0", "--env", "development", "--suite", "security", "--trivy", str(path))
    assert cli(env, *record, "--fail-on", "critical")[1]["passed"] is True
    assert cli(env, *record, "--max-severity", "HIGH")[1]["passed"] is False
    assert cli(env, *record, "--fail-on", "SEVERE")[0] == EXIT_BAD_INPUT


def test_report_files_are_read_safely(env: dict[str, str], tmp_path: Path) -> None:
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.xml"
    with huge.open("wb") as file:  # sparse: 60 MiB on paper, nothing on disk
        file.truncate(60 * 1024 * 1024)
    record = ("record", "fn-posts", "1.0.0", "--env", "development", "--suite", "unit")
    for path, said in (
        (fifo, "is not a regular file"),
        (Path("/dev/zero"), "is not a regular file"),
        (huge, "a report may be at most 50 MiB"),
        (tmp_path, "is not a regular file"),
    ):
        for kind in ("--junit", "--trivy"):
            code, document = cli(env, *record, kind, str(path))
            assert code == EXIT_BAD_INPUT
            assert said in document["error"]["message"]  # type: ignore[index]
    # a FIFO read would hang here forever (the suite's timeout would fail it): getting past the loop is the proof
    code, document = cli({**env, "FINDLY_CONFIG": str(fifo)}, "status", "fn-posts")
    assert code == EXIT_BAD_INPUT
    assert "is not a regular file" in document["error"]["message"]  # type: ignore[index]


# ---- issue 23: reports that crashed (exit 1), hid findings, or took a gigabyte ---------------------------------------

NINES = "9" * 5000


@pytest.mark.parametrize(
    ("report", "said"),
    [
        ('<testsuite tests="1e999"><testcase name="a"/></testsuite>', "tests='1e999', more than any report can hold"),
        (f'<testsuite tests="{NINES}"><testcase name="a"/></testsuite>', "more than any report can hold"),
        ('<testsuite failures="1e308"><testcase name="a"/></testsuite>', "more than any report can hold"),
        ('<testsuite tests="nan"><testcase name="a"/></testsuite>', "tests='nan', not a number"),
        (
            '<?xml version="1.0" encoding="x-unknown"?><testsuite tests="1"><testcase name="a"/></testsuite>',
            "its declared encoding is unknown",
        ),
    ],
    ids=["1e999", "5000-digits", "1e308", "nan", "unknown-encoding"],
)
def test_a_junit_report_that_crashed_the_reader_is_bad_input(
    env: dict[str, str], tmp_path: Path, report: str, said: str
) -> None:
    path = tmp_path / "report.xml"
    path.write_text(report)
    with pytest.raises(BadInputError, match=said.replace("(", r"\(")):
        FileReports().junit(path)
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    code, document = cli(
        env, "record", "fn-posts", "1.0.0", "--env", "development", "--suite", "unit", "--junit", str(path)
    )
    assert code == EXIT_BAD_INPUT
    assert str(path) in document["error"]["message"]  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (
            '{"SchemaVersion": 2, "ArtifactName": "x", "Results": [{"Vulnerabilities": '
            + "[" * 100_000
            + "]" * 100_000
            + "}]}",
            "nested too deeply",
        ),
        (
            '{"SchemaVersion": 2, "ArtifactName": "x", "Results": [{"Target": "x", '
            '"Vulnerabilities": [{"VulnerabilityID": "CVE-9", "Severity": "CRITICAL"}], "Vulnerabilities": []}]}',
            "the key 'Vulnerabilities' appears twice",
        ),
        (
            '{"SchemaVersion": 2, "ArtifactName": "x", "Results": [{"Target": "x", '
            '"Vulnerabilities": [{"VulnerabilityID": "CVE-9", "Severity": "CRITICAL", "Severity": "LOW"}]}]}',
            "the key 'Severity' appears twice",
        ),
        ('{"SchemaVersion": 2, "ArtifactName": "x", "Results": []', "not JSON"),
        ('{"SchemaVersion": ' + NINES + ', "ArtifactName": "x", "Results": []}', "not JSON"),
    ],
    ids=["deep-list", "deep-inside", "duplicate-class-hides-critical", "duplicate-severity", "truncated", "huge-int"],
)
def test_a_trivy_report_that_crashed_the_reader_or_hid_a_finding_is_bad_input(
    env: dict[str, str], tmp_path: Path, text: str, said: str
) -> None:
    path = tmp_path / "trivy.json"
    path.write_text(text)
    with pytest.raises(BadInputError, match=said):
        FileReports().trivy(path)
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    record = ("record", "fn-posts", "1.0.0", "--env", "development", "--suite", "security", "--trivy", str(path))
    code, document = cli(env, *record)
    assert code == EXIT_BAD_INPUT
    assert said in document["error"]["message"]  # type: ignore[index]


def _large_junit(path: Path, suites: int, cases: int) -> None:
    """Suites nested two deep, each with *cases* cases, every 97th failing, every 89th erroring, every 83rd
    skipped — its counters true."""
    with path.open("w") as out:
        out.write('<?xml version="1.0" encoding="utf-8"?><testsuites name="all">')
        for suite in range(suites):
            out.write(f'<testsuite name="outer{suite}"><properties><property name="p" value="v"/></properties>')
            numbers = range(suite * cases, (suite + 1) * cases)
            failing = sum(1 for n in numbers if n % 97 == 0)
            erroring = sum(1 for n in numbers if n % 89 == 0)
            skipped = sum(1 for n in numbers if n % 83 == 0)
            out.write(
                f'<testsuite name="inner{suite}" tests="{cases}" failures="{failing}" errors="{erroring}" '
                f'skipped="{skipped}">'
            )
            for n in numbers:
                inside = "<failure/>" * (n % 97 == 0) + "<error/>" * (n % 89 == 0) + "<skipped/>" * (n % 83 == 0)
                out.write(f'<testcase name="t{n}">{inside}<system-out>out {n}</system-out></testcase>\n')
            out.write("</testsuite></testsuite>\n")
        out.write("</testsuites>\n")


def test_a_large_junit_report_is_counted_exactly_in_bounded_memory(tmp_path: Path) -> None:
    import tracemalloc

    path = tmp_path / "large.xml"
    suites, cases = 4, 25_000
    _large_junit(path, suites, cases)
    total = suites * cases
    tracemalloc.start()
    try:
        summary = FileReports().junit(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    failed = sum(1 for n in range(total) if n % 97 == 0)
    errored = sum(1 for n in range(total) if n % 89 == 0 and n % 97 != 0)
    assert summary == JUnitSummary(total, failed, errored, sum(1 for n in range(total) if n % 83 == 0))
    # the whole tree of this 5 MiB report took ~75 MiB; read incrementally, what is held is a case or two
    assert path.stat().st_size > 4 * 1024 * 1024
    assert peak < 4 * 1024 * 1024, peak


def test_a_suite_deep_in_a_large_report_still_has_its_counters_checked(tmp_path: Path) -> None:
    path = tmp_path / "large.xml"
    _large_junit(path, 2, 1000)
    text = path.read_text()
    path.write_text(text.replace('name="inner1" tests="1000"', 'name="inner1" tests="999"'))
    with pytest.raises(BadInputError, match="<testsuite name='inner1'> says tests=999 but has 1000"):
        FileReports().junit(path)


def _read(reader: Any, path: Path) -> tuple[Any, str | None]:
    """What *reader* makes of *path*, or its refusal: any other exception fails the test."""
    try:
        return reader(path), None
    except BadInputError as exc:
        return None, str(exc)


ENCODINGS = ["utf-8", "UTF-8", "latin-1", "utf-16", "shift_jis", "cp500", "x-unknown", "", "utf-8\x00", "ü"]
COUNTERS = ["1", "0", "-1", "nan", "inf", "-inf", "1e999", "1e308", "9" * 5000, "0x10", "1.5", "", " 2 ", "٣"]


@settings(max_examples=60, deadline=None)
@given(
    encoding=st.sampled_from(ENCODINGS),
    attribute=st.tuples(
        st.sampled_from(["tests", "failures", "errors", "skipped", "disabled"]), st.sampled_from(COUNTERS)
    ),
    depth=st.integers(0, 3000),
    cases=st.integers(0, 5),
)
def test_any_hostile_junit_report_gives_a_summary_or_bad_input(
    tmp_path_factory: pytest.TempPathFactory, encoding: str, attribute: tuple[str, str], depth: int, cases: int
) -> None:
    counter, value = attribute
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>' if encoding else ""
    inner = '<testcase name="a"/>' * cases
    text = (
        f'{declaration}<testsuites {counter}="{value}">'
        + "<testsuite>" * depth
        + inner
        + "</testsuite>" * depth
        + "</testsuites>"
    )
    path = tmp_path_factory.mktemp("junit") / "report.xml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    summary, refusal = _read(FileReports().junit, path)
    assert (refusal is None and summary.tests == cases) or str(path) in str(refusal), refusal


@settings(max_examples=60, deadline=None)
@given(
    duplicate=st.sampled_from([None, "Results", "Vulnerabilities", "Severity", "SchemaVersion"]),
    depth=st.integers(0, 200_000),
    number=st.sampled_from(["2", "9" * 5000, "1e999", "-0", "NaN", "Infinity"]),
)
def test_any_hostile_trivy_report_gives_findings_or_bad_input(
    tmp_path_factory: pytest.TempPathFactory, duplicate: str | None, depth: int, number: str
) -> None:
    finding = '{"VulnerabilityID": "CVE-1", "Severity": "CRITICAL"' + (
        ', "Severity": "LOW"' if duplicate == "Severity" else ""
    )
    finding += ', "Extra": ' + "[" * depth + "]" * depth + "}"
    result = '{"Target": "x", "Vulnerabilities": [' + finding + "]"
    result += ', "Vulnerabilities": []}' if duplicate == "Vulnerabilities" else "}"
    text = f'{{"SchemaVersion": {number}, "ArtifactName": "x", "Results": [{result}]'
    text += ', "Results": []}' if duplicate == "Results" else "}"
    if duplicate == "SchemaVersion":
        text = text.replace('"ArtifactName"', '"SchemaVersion": 2, "ArtifactName"')
    path = tmp_path_factory.mktemp("trivy") / "trivy.json"
    path.write_text(text)
    findings, refusal = _read(FileReports().trivy, path)
    if refusal is None:  # a report read at all is read whole: its CRITICAL is never hidden
        assert duplicate is None
        assert [finding.severity for finding in findings] == ["CRITICAL"]
    else:
        assert str(path) in refusal
