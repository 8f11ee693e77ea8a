"""Every expression `validate` accepts, Prometheus accepts too: checked with the real `promtool check rules` on the
rules file `render` writes, over expressions from PromQL's grammar and their near misses; and the parser's
disagreements with promtool, one by one."""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from findly_infra import load_platform_text, validate_platform_text
from findly_infra.examples import example_platform_text
from findly_infra.promql import problem
from findly_infra.render import render_platform, write_tree

from .conftest import tool
from .promql_strategies import expressions, near_misses


@cache
def _example() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(example_platform_text())
    return data


def _platform_text(alerts: list[str]) -> str:
    data = dict(_example())
    data["alerting_rules"] = {
        "checked": [{"alert": f"A{i}", "expression": e, "severity": "page"} for i, e in enumerate(alerts)]
    }
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _accepted(expression: str) -> bool:
    """Whether `validate` passes a file whose one alert has *expression*."""
    report = validate_platform_text(_platform_text([expression]))
    return report.ok


def promtool_refusals(expressions: list[str], directory: Path) -> dict[int, str]:
    """promtool's message for each expression it refuses, by index: one rules file, one group per expression."""
    groups = [{"name": f"g{i}", "rules": [{"alert": "A", "expr": e}]} for i, e in enumerate(expressions)]
    path = directory / "candidates.rules.yaml"
    path.write_text(json.dumps({"groups": groups}))  # JSON is YAML, and keeps every character as it is
    checked = subprocess.run(
        [tool("promtool"), "check", "rules", "--lint=none", str(path)], capture_output=True, text=True, check=False
    )
    refused = {
        int(match[1]): match[2]
        for match in re.finditer(r'group "g(\d+)", rule 1, "A": (.*)', checked.stdout + checked.stderr)
    }
    assert checked.returncode == 0 or refused, checked.stdout + checked.stderr
    return refused


@settings(max_examples=25)
@given(st.lists(expressions | near_misses(), min_size=5, max_size=25))
def test_every_expression_validate_accepts_promtool_accepts_in_the_rendered_rules_file(
    tmp_path_factory: pytest.TempPathFactory, candidates: list[str]
) -> None:
    accepted = [expression for expression in candidates if _accepted(expression)]
    out = tmp_path_factory.mktemp("rules")
    write_tree(render_platform(load_platform_text(_platform_text(accepted))), out)
    checked = subprocess.run(
        [tool("promtool"), "check", "rules", str(out / "prometheus" / "alerts.rules.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


# What the Rust parser (promql-parser 0.12) takes and promtool (Prometheus 2.42) refuses: each is refused here.
PARSER_TOO_LENIENT = [
    ("x[300]", "has no unit"),  # Prometheus 3.? reads bare numbers as seconds
    ("x offset 5", "has no unit"),
    ('{"foo.bar"}', "quoted name"),  # Prometheus 3's UTF-8 names
    ('x{"a.b"="c"}', "quoted name"),
    ('sum by ("a.b") (x)', "quoted name"),
    ('x{a="b" or c="d"}', "'or' between label matchers"),  # the crate's own extension
    ("x @ 1e20", "out of range"),
    ("histogram_stddev(x)", "2.47"),  # newer than 2.42
    ("histogram_avg(x)", "2.51"),
    ("mad_over_time(x[5m])", "experimental"),  # experimental in 3.x, unknown to 2.42
    ("limitk(1, x)", "experimental"),
    ("x + fill(0) y", "fill modifiers"),
    ('x{a=~"a**"}', "nested repetition"),  # Rust's regex takes what Go's refuses
    ('x{a=~"a++"}', "nested repetition"),
    ('x{a=~"a{1001}"}', "repeat count"),
    ('x{a=~"(a{10}){101}"}', "repeat count"),
    ('x{a=~"(?<n>a)"}', "Perl syntax"),  # Go 1.22 takes it; Debian 12's promtool is Go 1.19
    ('x{a=~"(?x)a b"}', "Perl syntax"),
    ('x{a=~"\\\\p{Letter}"}', "character class"),
    ('x{a=~"\\\\p{Kawi}"}', "character class"),  # Unicode 15: newer than Go 1.19's tables
    ('x{a=~"a)|(b"}', "unexpected )"),  # anchored it parses; Prometheus also parses it alone
    ("x > 5m", "where a number goes"),  # durations as numbers: Prometheus 3.x's newer syntax
    ("xoffset -1h", "where a number goes"),
    ("offset -1h", "where a number goes"),  # a metric named offset, minus a duration
    ("x > bool 1m", "where a number goes"),
    ("exp(Inf)", "expected type instant vector"),  # the Rust parser's type check lets these scalars through
    ("log2(0)", "expected type instant vector"),
]
# What the Rust parser refuses and promtool takes: validate refuses these too (never the wrong way round), and
# says why; the crate's regex (Rust's) is the stricter one, and it has no octal, \Q...\E or (?P<1>...).
PARSER_TOO_STRICT = [
    "holt_winters(x[5m], 0.5, 0.5)",  # removed in Prometheus 3.0: refused on purpose
    'x{a=~"\\\\Qa.b\\\\E"}',
    'x{a=~"\\\\12"}',
    'x{a=~"[\\\\d-z]"}',
    'x{a=~"\\\\pL{1000}"}',
    'x{a=~"\\\\p{Cs}"}',
    'x{a=~"(?)"}',
    "anchored",  # a key word of Prometheus 3.x's newest syntax, a plain name for 2.42
    "01e3",  # the Rust parser reads a leading 0 as an integer's
]


def test_what_the_parser_takes_and_prometheus_refuses_is_refused_by_name(tmp_path: Path) -> None:
    refused = promtool_refusals([expression for expression, _ in PARSER_TOO_LENIENT], tmp_path)
    assert sorted(refused) == list(range(len(PARSER_TOO_LENIENT))), refused
    for expression, reason in PARSER_TOO_LENIENT:
        assert reason in (problem(expression) or ""), (expression, problem(expression))


def test_what_the_parser_refuses_and_prometheus_takes_is_known(tmp_path: Path) -> None:
    assert promtool_refusals(PARSER_TOO_STRICT, tmp_path) == {}
    assert all(problem(expression) is not None for expression in PARSER_TOO_STRICT)


def test_raw_strings_keep_their_backslashes_as_prometheus_does(tmp_path: Path) -> None:
    """The Rust parser refuses `\\.` in a raw string; Prometheus takes it (lex_test.go), and our own latency rules
    write the bucket bound that way."""
    candidates = ["x{le=~`0\\.20*`}", "x{path=~`/api/\\d+`}", 'x{a=`a"b`}', "x{a=`multi\nline`}"]
    assert promtool_refusals(candidates, tmp_path) == {}
    assert [problem(expression) for expression in candidates] == [None] * len(candidates)
