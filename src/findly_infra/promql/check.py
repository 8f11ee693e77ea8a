"""What Prometheus accepts: each expression parsed by a real PromQL parser, and what that parser takes and some
Prometheus (2.42 to 3.x, without feature flags) refuses, refused by name."""

from __future__ import annotations

import difflib
import math
import re
from typing import Any, NamedTuple

from findly_infra.promql.regexp import go_regexp_problem

__all__ = ["collapse", "problem"]

# The grammar is checked by a real PromQL parser (the `promql-parser` package: Python bindings of the Rust crate
# GreptimeTeam/promql-parser, which follows Prometheus's own grammar and type checks). That crate follows the newest
# Prometheus, so on top of it we refuse what an older (2.42, Debian 12's, which the tests run) or a newer (3.x)
# Prometheus refuses without feature flags, and work around the one place where the crate is stricter than
# Prometheus (backslashes in raw strings). Every rule below was compared with `promtool check rules`
# (tests/render/test_rules_promql.py runs the comparison).


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Functions known to every Prometheus from 2.42 to 3.x without --enable-feature: Prometheus v2.42.0's
# promql/parser/functions.go, less holt_winters (removed in 3.0), all of them stable (not `Experimental`) in 3.x.
_FUNCTIONS = _words(
    """abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp clamp_max
    clamp_min cos cosh count_over_time days_in_month day_of_month day_of_week day_of_year deg delta deriv exp floor
    histogram_count histogram_fraction histogram_quantile histogram_sum hour idelta increase irate label_join
    label_replace last_over_time ln log10 log2 max_over_time min_over_time minute month pi predict_linear
    present_over_time quantile_over_time rad rate resets round scalar sgn sin sinh sort sort_desc sqrt
    stddev_over_time stdvar_over_time sum_over_time tan tanh time timestamp vector year"""
)
# Stable in newer Prometheus only (the version that brought each; promql/parser/functions.go at each tag).
_NEWER_FUNCTIONS = {
    "histogram_stddev": "2.47",
    "histogram_stdvar": "2.47",
    "histogram_avg": "2.51",
    "first_over_time": "3.7",
}
# Behind --enable-feature=promql-experimental-functions (`Experimental: true` in functions.go; limitk and
# limit_ratio are aggregations, in the lexer's key words).
_EXPERIMENTAL = _words(
    """double_exponential_smoothing end histogram_quantiles info limit_ratio limitk mad_over_time max_of min_of range
    sort_by_label sort_by_label_desc start start_timestamp step ts_of_first_over_time ts_of_last_over_time
    ts_of_max_over_time ts_of_min_over_time"""
)
_REMOVED = {"holt_winters": "removed in Prometheus 3.0 (renamed double_exponential_smoothing, which is experimental)"}
_AGGREGATIONS = _words(
    """avg bottomk count count_values group max min quantile stddev stdvar sum topk limitk limit_ratio"""
)
_KEYWORDS = _words("and or unless atan2 by without on ignoring group_left group_right bool offset")
_GROUPING = _words("by without on ignoring group_left group_right")
_MAX_OPERATORS = 1000
"""Brackets and operators in one expression: the Rust parser recurses once for each, and a deep enough expression
overflows its stack (a crash, not an error: about 4,500 chained `+` or 9,000 nested brackets)."""
_MAX_TIMESTAMP = 2.0**63
"""`@` takes seconds below math.MaxInt64 (Prometheus's parser, setTimestamp); the Rust parser takes more."""

_TOKEN = re.compile(
    r"""(?P<space>[ \t\r\n]+)
    |(?P<comment>\#[^\n]*)
    |(?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`]*`)
    |(?P<number>(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)[a-zA-Z0-9_]*)
    |(?P<word>[a-zA-Z_][a-zA-Z0-9_:]*|:[a-zA-Z_:][a-zA-Z0-9_:]*)
    |(?P<op>==|!=|=~|!~|<=|>=|[-+*/%^<>=@,:])
    |(?P<open>[(\[{])
    |(?P<close>[)\]}])
    |(?P<other>.)""",
    re.X | re.S,
)
"""PromQL's tokens as Prometheus's lexer (promql/parser/lex.go) splits them: enough to tell strings, comments and
brackets apart, the parser itself judges the rest. A colon followed by a digit is the one of a subquery
(``[5m:1m]``), not the start of a name; ``other`` is an unterminated string or a character PromQL has no use for."""
_PLAIN_NUMBER = re.compile(r"(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$")
_DURATION = re.compile(r"(?:\d+(?:ms|[smhdwy]))+$")
_MATCH_OPERATORS = frozenset(("=", "!=", "=~", "!~"))
_ARITHMETIC = frozenset(("+", "-", "*", "/", "%", "^", "==", "!=", "<", ">", "<=", ">="))
_NOT_CALLS = (_AGGREGATIONS | _KEYWORDS) - {"limitk", "limit_ratio"}
_SUGGESTIONS = sorted(_FUNCTIONS | _AGGREGATIONS)


class _Token(NamedTuple):
    kind: str  # space, comment, string, number, word, op, open, close, other
    text: str


def _tokens(expression: str) -> list[_Token]:
    return [_Token(match.lastgroup or "other", match.group()) for match in _TOKEN.finditer(expression)]


def collapse(expression: str) -> str:
    """*expression* on one line: each run of spaces, line breaks and ``#`` comments outside strings becomes one
    space (a comment would otherwise swallow the rest of the line it is joined to); strings are kept as written."""
    parts: list[str] = []
    for token in _tokens(expression):
        if token.kind in ("space", "comment"):
            if parts and parts[-1] != " ":
                parts.append(" ")
        else:
            parts.append(token.text)
    return "".join(parts).strip()


_LEXICAL = re.compile(
    r"""[@\#]  # an @ modifier, a comment
    |[{,(]\s*["'`]  # a string where a name goes (or an argument: looked at, then let be)
    |[\[:]\s*[-+]?(?:0x[0-9a-f]+|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*(?:[]:]|$)  # a range or step with no unit
    |offset\s*[-+]?\s*\.?\d
    |(?:^|[^[:\s])\s*(?<![\w.])\d+(?:ms|[smhdwy])  # a duration other than a range's or a step's
    |[\d.]e\+?\d{3}|\d{300}  # a number that may be past the largest float""",
    re.X | re.I,
)
"""Where a token-level rule may apply (:func:`_lexical_problem`); an expression without any of these (most) skips the
tokens and goes straight to the parser."""


def problem(expression: str) -> str | None:
    """Why Prometheus would refuse *expression* (and with it the whole rules file), or ``None`` when every
    Prometheus from 2.42 to 3.x accepts it without feature flags."""
    if sum(map(expression.count, "([{+-*/%^<>=")) > _MAX_OPERATORS:  # each counts at most once: exact count below
        operators = sum(1 for t in _tokens(expression) if t.kind == "open" or t.text in _ARITHMETIC)
        if operators > _MAX_OPERATORS:
            return f"the expression has {operators} brackets and operators, more than the {_MAX_OPERATORS} checked"
    if _LEXICAL.search(expression):
        tokens = _significant(expression)
        found = _lexical_problem(tokens) or _unknown_function(tokens)
        if found is not None:
            return found
    import promql_parser  # lazily: only a file with expressions pays for it

    try:
        tree = promql_parser.parse(_without_raw_strings(expression) if "`" in expression else expression)
    except ValueError as exc:
        message = str(exc)
        if message == "invalid promql query" or message.startswith("unknown function"):
            # Prometheus names an unknown function before a syntax error, the Rust parser says only "invalid"
            message = _unknown_function(_significant(expression)) or message
        return (
            "a syntax error (a missing operand, bracket or keyword)" if message == "invalid promql query" else message
        )
    return _tree_problem(tree)


def _significant(expression: str) -> list[_Token]:
    return [token for token in _tokens(expression) if token.kind not in ("space", "comment")]


def _without_raw_strings(expression: str) -> str:
    """*expression*, each raw string (backticks) written as the double-quoted string of its value.

    Prometheus takes a raw string as it is (lex.go, lexRawString: `test\\.expression` is one string in its
    lex_test.go), the Rust crate refuses a backslash in it that is not an escape ("unknown escape sequence '.'",
    its lex.rs test_strings), which would refuse our own le=~`0\\.2` matchers.
    """
    if not any(mark in expression for mark in "\"'#"):  # no other strings or comments: only raw strings to find
        return _RAW_STRING.sub(lambda match: _quoted_raw(match.group()), expression)
    parts = []
    for token in _tokens(expression):
        if token.kind == "string" and token.text.startswith("`"):
            parts.append(_quoted_raw(token.text))
        else:
            parts.append(token.text)
    return "".join(parts)


_RAW_STRING = re.compile(r"`[^`]*`")


def _quoted_raw(raw: str) -> str:
    """A raw string (with its backticks) as the double-quoted string of the same value."""
    inner = raw[1:-1]
    return '"' + inner.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r") + '"'


def _out_of_range(text: str) -> bool:
    """Whether the decimal number *text* is past the largest 64-bit float (``1e309``): Go's ParseFloat refuses it."""
    if not _PLAIN_NUMBER.match(text) or text.lower().startswith("0x"):
        return False
    return math.isinf(float(text))


def _lexical_problem(tokens: list[_Token]) -> str | None:
    """What the Rust parser takes and Prometheus 2 refuses, seen in the tokens: Prometheus 3's quoted (UTF-8)
    names, numbers as durations and durations as numbers, and ``@`` timestamps out of range."""
    brackets: list[str] = []
    for index, token in enumerate(tokens):
        before = tokens[index - 1] if index else None
        if token.kind == "open":
            grouping = token.text == "(" and before is not None and before.text.lower() in _GROUPING
            brackets.append("labels" if grouping else token.text)
        elif token.kind == "close" and brackets:
            brackets.pop()
        elif token.kind == "string" and brackets and brackets[-1] in ("{", "labels"):
            if brackets[-1] == "labels" or (before is not None and before.text in ("{", ",")):
                return (
                    f"the quoted name {token.text} needs Prometheus 3 (UTF-8 names): Prometheus 2 takes only "
                    "names of letters, digits, '_' and ':', unquoted"
                )
        elif token.kind == "number" and _out_of_range(token.text):
            # Prometheus reads a number with Go's strconv.ParseFloat, which refuses one past the largest float64
            # ("value out of range", promql/parser/lex.go and parse.go number()); Python reads it as inf
            return f"the number {token.text} is out of range: Prometheus reads numbers as 64-bit floats"
        elif token.kind == "number" and _PLAIN_NUMBER.match(token.text) and _is_duration_place(tokens, index):
            return f"the duration {token.text} has no unit: write {token.text}s (Prometheus 2 takes no bare numbers)"
        elif token.kind == "number" and _DURATION.match(token.text) and not _is_duration_place(tokens, index):
            return (
                f"the duration {token.text} stands where a number goes: Prometheus 2 takes durations only in "
                "ranges, subquery steps and offsets"
            )
        elif token.text == "@" and not abs(_timestamp(tokens[index + 1 : index + 3])) < _MAX_TIMESTAMP:
            return f"the @ timestamp {_timestamp(tokens[index + 1 : index + 3]):g} is out of range"
    return None


def _unknown_function(tokens: list[_Token]) -> str | None:
    """The first call of a function that is not one every Prometheus knows, named as Prometheus names it."""
    braces = 0
    for index, token in enumerate(tokens[:-1]):
        braces += token.text == "{"
        braces -= token.text == "}"
        if token.kind == "word" and tokens[index + 1].text == "(" and braces <= 0:
            found = _called(token.text, tokens[index - 1] if index else None)
            if found is not None:
                return found
    return None


def _called(name: str, before: _Token | None) -> str | None:
    """What is wrong with calling *name* (a word before ``(``); keywords and aggregations are not calls, nor
    ``@ start()`` / ``@ end()``."""
    if name.lower() in _NOT_CALLS or (before and before.text == "@"):
        return None
    if name.lower() in ("fill", "fill_left", "fill_right"):
        return "fill modifiers are experimental in Prometheus 3; Prometheus 2 does not know them"
    if name.lower() in ("limitk", "limit_ratio"):
        return f"{name} is experimental in Prometheus 3 (--enable-feature=promql-experimental-functions)"
    found = _function_problem(name)
    if found is not None and found.startswith("unknown function"):
        return found + _did_you_mean(name, _SUGGESTIONS)
    return found


def _is_duration_place(tokens: list[_Token], index: int) -> bool:
    """A range (``x[300]``), a subquery's step (``[5m:30]``) or an offset (``x offset 5``, ``x offset -5``); an
    ``offset`` with nothing before it to modify is a metric's name (``offset - 1h`` subtracts)."""
    before = tokens[max(0, index - 3) : index]
    if before[-1:] and before[-1].text in ("[", ":"):
        return True
    if before[-1:] and before[-1].text in ("-", "+"):
        before = before[:-1]
    if not before or before[-1].text.lower() != "offset":
        return False
    modified = before[-2] if len(before) > 1 else None  # what the offset modifies ends with a name or a bracket
    return modified is not None and modified.kind in ("close", "word")


def _timestamp(tokens: list[_Token]) -> float:
    """The number after ``@`` (0 when it is ``start()``, ``end()`` or not a number: the parser judges those)."""
    sign = 1.0
    if tokens and tokens[0].text in ("-", "+"):
        sign = -1.0 if tokens[0].text == "-" else 1.0
        tokens = tokens[1:]
    if not tokens or tokens[0].kind != "number" or not _PLAIN_NUMBER.match(tokens[0].text):
        return 0.0
    text = tokens[0].text
    return sign * (float(int(text, 16)) if text.lower().startswith("0x") else float(text))


def _did_you_mean(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _tree_problem(tree: Any) -> str | None:
    """What the parsed expression uses that some Prometheus refuses: functions, aggregations and modifiers of
    newer (or experimental, or older) Prometheus, and regular expressions that Go's regexp refuses."""
    import promql_parser

    pending = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, promql_parser.Call):
            found = _function_problem(node.func.name) or _argument_problem(node)
            if found:
                return found
            pending.extend(node.args)
        elif isinstance(node, promql_parser.AggregateExpr):
            if str(node.op) in _EXPERIMENTAL:
                return f"{node.op} is experimental in Prometheus 3 (--enable-feature=promql-experimental-functions)"
            pending.extend(child for child in (node.expr, node.param) if isinstance(child, promql_parser.Expr))
        elif isinstance(node, promql_parser.BinaryExpr):
            fill = node.modifier.fill_values if node.modifier is not None else None
            if fill is not None and (fill.lhs is not None or fill.rhs is not None):
                return "fill modifiers are experimental in Prometheus 3; Prometheus 2 does not know them"
            pending.extend((node.lhs, node.rhs))
        elif isinstance(node, promql_parser.VectorSelector):
            found = _selector_problem(node.matchers)
            if found:
                return found
        elif isinstance(node, promql_parser.MatrixSelector):
            pending.append(node.vector_selector)
        elif isinstance(node, (promql_parser.ParenExpr, promql_parser.UnaryExpr, promql_parser.SubqueryExpr)):
            pending.append(node.expr)
    return None


_TYPE_NAMES = {"Vector": "instant vector", "Scalar": "scalar", "Matrix": "range vector", "String": "string"}


def _argument_problem(call: Any) -> str | None:
    """Each argument of the type its function takes (parse.go, checkAST for a Call: the last type repeats for
    variadic functions). The Rust parser lets some scalars through: `exp(Inf)`, `log2(0)`."""
    types = call.func.arg_types
    for index, argument in enumerate(call.args):
        wanted = _TYPE_NAMES[str(types[min(index, len(types) - 1)]).rsplit(".", 1)[-1]]  # "ValueType.Vector"
        got = _TYPE_NAMES[_value_type(argument)]
        if wanted != got:
            return f"expected type {wanted} in call to function {call.func.name!r}, got {got}"
    return None


def _value_type(node: Any) -> str:
    """The type Prometheus gives an expression (promql/parser/ast.go, Type)."""
    import promql_parser

    while isinstance(node, (promql_parser.ParenExpr, promql_parser.UnaryExpr)):
        node = node.expr
    if isinstance(node, promql_parser.NumberLiteral):
        return "Scalar"
    if isinstance(node, promql_parser.StringLiteral):
        return "String"
    if isinstance(node, (promql_parser.MatrixSelector, promql_parser.SubqueryExpr)):
        return "Matrix"
    if isinstance(node, promql_parser.Call):
        return str(node.func.return_type).rsplit(".", 1)[-1]
    if isinstance(node, promql_parser.BinaryExpr):
        both_scalar = _value_type(node.lhs) == _value_type(node.rhs) == "Scalar"
        return "Scalar" if both_scalar else "Vector"
    return "Vector"  # a selector or an aggregation


def _function_problem(name: str) -> str | None:
    if name in _FUNCTIONS:
        return None
    if name in _NEWER_FUNCTIONS:
        return f"{name}() needs Prometheus {_NEWER_FUNCTIONS[name]} or later"
    if name in _EXPERIMENTAL:
        return f"{name}() is experimental in Prometheus 3 (--enable-feature=promql-experimental-functions)"
    if name in _REMOVED:
        return f"{name}() was {_REMOVED[name]}"
    return f"unknown function {name!r}"


def _selector_problem(matchers: Any) -> str | None:
    import promql_parser

    if matchers.or_matchers:
        return "'or' between label matchers is not PromQL (an extension of the Rust parser; Prometheus refuses it)"
    for matcher in matchers.matchers:
        if matcher.op in (promql_parser.MatchOp.Re, promql_parser.MatchOp.NotRe):
            found = go_regexp_problem(matcher.value)
            if found:
                return f"the regular expression {matcher.value!r} of {matcher.name}: {found}"
    return None
