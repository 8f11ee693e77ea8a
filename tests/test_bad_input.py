"""No input makes loading print a traceback or hang: each gets a clear message (the CLI exits 2)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra import validate_platform, validate_platform_text
from findly_infra.cli import main
from findly_infra.config.document import MAX_BYTES, MAX_NODES, parse_document

from .conftest import EXAMPLE

BILLION_LAUGHS = """
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
environments: *i
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   \n# only a comment\n", "empty"),
        ("environments: [unclosed", "invalid YAML"),
        ("environments:\n  dev:\n   - a\n  b: c\n", "expected a mapping"),
        ("- just\n- a list\n", "mapping of sections"),
        ("42\n", "mapping of sections"),
        ("environments: !!python/object:os.system {}\n", "unsupported YAML tag"),
        ("environments: !!python/object/apply:os.system [ls]\n", "unsupported YAML tag"),
        ("environments: !!python/name:os.system ''\n", "invalid value"),
        ("environments: !!binary aGVsbG8=\n", "expected a mapping"),
        ("a: 1\n---\nb: 2\n", "invalid YAML"),
        (BILLION_LAUGHS, f"more than {MAX_NODES:,} values"),
        ("environments:\n  dev: {}\n  dev: {}\n", "appears twice"),
        ("[" * 5000 + "]" * 5000, "nest"),
        ("[" * 200_000 + "]" * 200_000, "nest"),
        ("- " * 100_000 + "x\n", "nest"),
        ("a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 300)), "nest"),
        ("environments: {" + "a: {" * 200 + "}" * 201, "nest"),
        ("? [a, b]\n: c\n", "plain text"),
        ("environments:\n  dev:\n    x: " + "9" * 5000 + "\n", "the number is too large"),
        ("environments: [0x" + "f" * 5000 + "]\n", "the number is too large"),
    ],
)
def test_bad_documents_are_refused_with_a_message(text: str, message: str) -> None:
    report = validate_platform_text(text)
    assert not report.ok
    assert any(message in problem.message for problem in report.errors), [str(e) for e in report.errors]


def test_binary_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "findly.yaml"
    path.write_bytes(bytes(range(256)) * 4)
    report = validate_platform(path)
    assert [e.message for e in report.errors] == ["this is a binary file, not YAML text"]


def test_non_utf8_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "findly.yaml"
    path.write_bytes("environments:\n  caf\xe9: {}\n".encode("latin-1"))
    assert "not UTF-8" in validate_platform(path).errors[0].message


def test_a_50_megabyte_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "findly.yaml"
    with path.open("wb") as out:
        out.truncate(50 * 1024 * 1024)
    report = validate_platform(path)
    assert "50.0 MiB" in report.errors[0].message
    assert MAX_BYTES < 50 * 1024 * 1024


def test_a_missing_file_and_a_directory_are_named(tmp_path: Path) -> None:
    assert validate_platform(tmp_path / "nope.yaml").errors[0].message.startswith("no such file")
    assert "is a directory" in validate_platform(tmp_path).errors[0].message


def test_lines_are_reported_for_yaml_syntax_errors() -> None:
    report = validate_platform_text("environments:\n  dev:\n    tests: [unit\n  prod: {}\n")
    assert report.errors[0].line is not None


def test_merge_keys_are_understood_and_own_keys_win() -> None:
    document = parse_document("defaults: &defaults {a: 1, b: 2}\nthing:\n  <<: *defaults\n  b: 3\n")
    assert document.data["thing"] == {"a": 1, "b": 3}


def test_anchors_that_stay_small_are_fine(example_text: str) -> None:
    text = example_text.replace(
        '    tests: ["e2e", "performance", "security", "load"]',
        '    tests: &staging_tests ["e2e", "performance", "security", "load"]',
    )
    assert validate_platform_text(text + "\n").ok


@given(st.binary(max_size=300))
def test_any_bytes_give_a_report_never_an_exception(raw: bytes) -> None:
    report = validate_platform_text(raw)
    assert report.ok or report.errors


@given(st.text(max_size=300))
def test_any_text_gives_a_report_never_an_exception(text: str) -> None:
    report = validate_platform_text(text)
    for problem in report.errors:
        assert problem.message


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=20,
    )
)
def test_any_yaml_value_under_a_section_gives_a_report(value: object) -> None:
    import yaml

    for section in ("environments", "canary_strategy", "gke_cluster", "alerting_rules", "approver_groups"):
        text = yaml.safe_dump(
            {"environments": {"dev": {"deployment_trigger": "Push to feature branches"}}} | {section: value}
        )
        report = validate_platform_text(text)
        assert report.ok or all(problem.message and problem.path for problem in report.errors)


def test_validate_refuses_an_expression_prometheus_refuses_and_names_its_place(tmp_path: Path) -> None:
    path = tmp_path / "findly.yaml"
    path.write_text(EXAMPLE.read_text().replace("rate(http_requests_total{status=~'5..'}[5m]) > 0.05", "rat(x[5m]) >"))
    out = io.StringIO()
    assert main(["validate", str(path)], out=out) == 2
    assert (
        "error: alerting_rules.critical_alerts[1].expression (line 344): Prometheus refuses this expression, "
        "and with it the whole rules file: unknown function 'rat' (did you mean 'rate'?)\n"
    ) in out.getvalue()
    out = io.StringIO()
    assert main(["--json", "validate", str(path)], out=out) == 2
    [error] = json.loads(out.getvalue())["errors"]
    assert (error["path"], error["line"], error["rule"]) == (
        "alerting_rules.critical_alerts[1].expression",
        344,
        "promql",
    )
