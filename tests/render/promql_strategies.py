"""Hypothesis strategies for PromQL: expressions built from Prometheus's grammar (valid or nearly), and near-misses
made by mutating them — what people type, and what they mistype."""

from __future__ import annotations

from hypothesis import strategies as st

from findly_infra.promql.check import _EXPERIMENTAL, _FUNCTIONS, _NEWER_FUNCTIONS, _REMOVED

METRICS = ("x", "up", "http_requests_total", "job:rate5m:sum")
ODD_METRICS = ("sum", "by", "offset", "on", "inf", "nan", "start", "anchored")
LABELS = ("a", "le", "job", "status")
ODD_LABELS = ("on", "by", "bool", "offset", "__name__", '"a.b"', "a:b")
AGGREGATIONS = ("sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "topk", "bottomk", "quantile")
AGGREGATIONS += ("count_values", "limitk", "limit_ratio", "SUM", "Avg")
FUNCTIONS = tuple(sorted(_FUNCTIONS | _NEWER_FUNCTIONS.keys() | _EXPERIMENTAL | _REMOVED.keys()))
FUNCTIONS += ("rat", "rates", "RATE", "histogram_quantil", "fill")
DURATIONS = ("5m", "1h", "30s", "1h30m", "2w", "1y", "100ms", "1d2h")
ODD_DURATIONS = ("0s", "300", "1.5m", "5mm", "1m1h", "0x10")
NUMBERS = ("0", "1", "0.5", "1e3", "-1", "0x1F", "Inf", "NaN", ".5", "3600")
ODD_NUMBERS = ("1e20", "1_000", "5m", "1h30m")
REGEX_PIECES = (
    "a",
    ".",
    "*",
    "+",
    "?",
    "|",
    "(",
    ")",
    "(?:",
    "(?i)",
    "(?x)",
    "(?P<n>",
    "(?<n>",
    "[a-z]",
    "[^a]",
    "[[:alpha:]]",
    "[[:foo:]]",
    "{2}",
    "{1001}",
    "{2,1}",
    "{,3}",
    "{0}",
    "\\\\d",
    "\\\\w",
    "\\\\pL",
    "\\\\p{Greek}",
    "\\\\p{Letter}",
    "\\\\b",
    "\\\\z",
    "\\\\Z",
    "\\\\C",
    "\\\\Q.\\\\E",
    "\\\\x41",
    "\\\\x{41}",
    "\\\\u0041",
    "\\\\12",
    "\\\\1",
    "\\\\.",
    "^",
    "$",
    "5..",
    "é",
)


def _mostly(common: tuple[str, ...], rare: tuple[str, ...] = ()) -> st.SearchStrategy[str]:
    """One of *common* nine times in ten, else one of *rare*: mostly what people write, sometimes not."""
    return st.sampled_from(common * 9 * max(1, len(rare)) + rare * max(1, len(common)))


def _string(value: str) -> st.SearchStrategy[str]:
    return st.sampled_from((f'"{value}"', f"'{value}'", f"`{value}`"))


regexes = st.lists(st.sampled_from(REGEX_PIECES), max_size=5).map("".join)
values = _mostly(("b", "5..", "a b", "", 'q"q', "\\\\n"), ("\\\\q", "\\\\.")) | regexes
matcher = st.builds(
    lambda name, op, value: f"{name}{op}{value}",
    _mostly(LABELS, ODD_LABELS),
    _mostly(("=", "!=", "=~", "!~"), ("==",)),
    values.flatmap(lambda v: _string(v) if "`" not in v else st.just(f'"{v}"')),
)
selectors = st.builds(
    lambda name, matchers, joiner: f"{name}{{{joiner.join(matchers)}}}" if matchers or not name else name,
    _mostly((*METRICS, ""), ODD_METRICS),
    st.lists(matcher, max_size=3),
    _mostly((",", ", "), (" or ", ",,")),
)
modifiers = _mostly(
    ("", "", "", " offset 5m", " offset -1h", " @ 100", " @ start()", " @ end()"), (" offset 5", " @ 1e20")
)
vectors = st.builds(str.__add__, selectors, modifiers)
matrices = st.builds(
    lambda selector, duration, modifier: f"{selector}[{duration}]{modifier}",
    selectors,
    _mostly(DURATIONS, ODD_DURATIONS),
    modifiers,
)
grouping = st.builds(
    lambda word, labels: f" {word} ({', '.join(labels)}) " if word else " ",
    _mostly(("", "by", "without"), ("BY",)),
    st.lists(_mostly(LABELS, ODD_LABELS), max_size=2),
)


RANGE_FUNCTIONS = ("rate", "irate", "increase", "delta", "deriv", "changes", "resets", "avg_over_time")
RANGE_FUNCTIONS += ("max_over_time", "count_over_time", "last_over_time", "absent_over_time", "present_over_time")
VECTOR_FUNCTIONS = ("abs", "ceil", "floor", "exp", "ln", "sqrt", "sort", "sort_desc", "timestamp", "absent", "sgn")
VECTOR_FUNCTIONS += ("day_of_week", "hour", "histogram_count", "histogram_sum", "deg", "rad", "log2")


def _typed_call(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A call whose arguments have the types its function takes (mostly valid, then)."""
    return st.one_of(
        st.builds(lambda name, m: f"{name}({m})", st.sampled_from(RANGE_FUNCTIONS), matrices),
        st.builds(lambda name, v: f"{name}({v})", st.sampled_from(VECTOR_FUNCTIONS), children),
        st.builds(lambda q, v: f"histogram_quantile({q}, {v})", st.sampled_from(("0.5", "0.99", "1")), children),
        st.builds(lambda q, m: f"quantile_over_time({q}, {m})", st.sampled_from(("0.5", "0.99")), matrices),
        st.builds(lambda v: f"clamp({v}, 0, 1)", children),
        st.builds(lambda v: f'label_replace({v}, "a", "$1", "job", "(.*)")', children),
        st.builds(lambda v: f"round({v}, 0.1)", children),
        st.builds(lambda m: f"predict_linear({m}, 3600)", matrices),
        st.sampled_from(("vector(1)", "time()", "pi()")),
        st.builds(lambda v: f"scalar({v})", children),
        st.builds(lambda k, v: f"topk({k}, {v})", st.sampled_from(("1", "scalar(x)", "x", '"a"')), children),
        st.builds(lambda v: f'count_values("a", {v})', children),
        st.builds(lambda v, w: f"({v})[{w}] offset 1m", children, _mostly(("5m:", "1h:1m"), ("5m:0s", "-1m:"))),
    )


def _expressions(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    arguments = st.lists(children | matrices | _mostly(NUMBERS, ODD_NUMBERS) | _string("a"), max_size=3)
    return st.one_of(
        _typed_call(children),
        _typed_call(children),
        st.builds(lambda name, args: f"{name}({', '.join(args)})", st.sampled_from(FUNCTIONS), arguments),
        st.builds(
            lambda name, by, parameter, child: f"{name}{by}({parameter}{child})",
            st.sampled_from(AGGREGATIONS),
            grouping,
            st.sampled_from(("", "", "1, ", "0.5, ", '"a", ')),
            children,
        ),
        st.builds(
            lambda left, op, modifier, right: f"{left} {op}{modifier} {right}",
            children,
            st.sampled_from(("+", "-", "*", "/", "%", "^", "==", "!=", ">", "<", ">=", "<=", "and", "or", "unless")),
            _mostly(
                ("", " bool", " on (a)", " ignoring (a) group_left", " on () group_right (b)", " bool on (a)"),
                (" fill(0)", " group_left", " on (a) group_left (a)", " ignoring (__name__)"),
            ),
            children,
        ),
        st.builds(lambda child: f"({child})", children),
        st.builds(lambda child: f"-{child}", children),
        st.builds(lambda child, window: f"({child})[{window}]", children, st.sampled_from(("5m:", "5m:1m", "1h:30"))),
    )


expressions = st.recursive(vectors | _mostly(NUMBERS, ODD_NUMBERS), _expressions, max_leaves=6)
"""PromQL expressions from the grammar: most valid, some refused by every Prometheus or by an older one."""


@st.composite
def near_misses(draw: st.DrawFn) -> str:
    """An expression with a typo: a character deleted, inserted or doubled, or the end cut off."""
    text = draw(expressions)
    index = draw(st.integers(min_value=0, max_value=len(text)))
    edit = draw(st.sampled_from(("delete", "insert", "double", "cut")))
    if edit == "delete":
        return text[:index] + text[index + 1 :]
    if edit == "insert":
        return text[:index] + draw(st.sampled_from(list("()[]{},=~!<>+-*/^@:\"'`# \\0a"))) + text[index:]
    if edit == "double":
        return text[:index] + text[index : index + 1] * 2 + text[index:]
    return text[:index]
