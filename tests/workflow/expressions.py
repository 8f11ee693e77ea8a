"""GitHub Actions expressions (``${{ … }}`` and ``if:``), evaluated as the runner does.

Written from GitHub's reference (https://docs.github.com/actions/reference/workflows-and-actions/expressions): literals
(``null``, booleans, numbers, strings in single quotes with ``''`` for a quote), property access (``a.b``, ``a['b']``,
a missing property is ``null``), operators ``( ) [ ] . ! < <= > >= == != && ||`` (``&&`` and ``||`` return an operand,
not a boolean; ``==`` between strings ignores case; a loose comparison of other types converts to numbers), the
functions ``contains``, ``startsWith``, ``endsWith``, ``format``, ``join``, ``toJSON``, ``fromJSON`` (``hashFiles`` is
not kept) and the status checks ``success()``, ``always()``, ``cancelled()``, ``failure()``. An ``if:`` without a
status check is ``success() && (…)``; a value in ``if:`` may be written with or without ``${{ }}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["condition", "evaluate", "interpolate", "to_string"]

_TOKEN = re.compile(
    r"\s*(?:(?P<number>-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?))"
    r"|(?P<string>'(?:[^']|'')*')"
    r"|(?P<op>&&|\|\||==|!=|<=|>=|[!<>()\[\].,*])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ValueError(f"cannot read the expression {text!r} at {position}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


def to_string(value: Any) -> str:
    """A value as ``${{ }}`` writes it into text."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2)
    return str(value)


def _truthy(value: Any) -> bool:
    if value is None or value is False:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, str):
        return value != ""
    return True


def _number(value: Any) -> float:  # noqa: PLR0911 - one return per kind of value, as GitHub converts them
    if value is None:
        return 0.0
    if value is True:
        return 1.0
    if value is False:
        return 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0.0
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
        except ValueError:
            return float("nan")
    return float("nan")


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    if type(left) is type(right) or left is None or right is None:
        if isinstance(left, (dict, list)):
            return left is right
        if left is None or right is None:
            return left is right if not (isinstance(left, str) or isinstance(right, str)) else _loose(left, right)
        return bool(left == right)
    return _loose(left, right)


def _loose(left: Any, right: Any) -> bool:
    if isinstance(left, (dict, list)) or isinstance(right, (dict, list)):
        return False
    return _number(left) == _number(right)


def _format(template: str, *args: Any) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "{{":
            return "{"
        if match.group(0) == "}}":
            return "}"
        return to_string(args[int(match.group(1))])

    return re.sub(r"\{\{|\}\}|\{(\d+)\}", replace, template)


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, list):
        return any(_equal(item, needle) for item in haystack)
    return to_string(needle).casefold() in to_string(haystack).casefold()


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], context: Mapping[str, Any], status: Mapping[str, bool]) -> None:
        self.tokens = tokens
        self.at = 0
        self.context = context
        self.status = status

    def peek(self) -> str:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> tuple[str, str]:
        token = self.tokens[self.at]
        if expected is not None and token[1] != expected:
            raise ValueError(f"expected {expected!r}, found {token[1]!r}")
        self.at += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if self.at != len(self.tokens):
            raise ValueError(f"unexpected {self.peek()!r}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == "||":
            self.take()
            right = self.and_()
            value = value if _truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.equality()
        while self.peek() == "&&":
            self.take()
            right = self.equality()
            value = right if _truthy(value) else value
        return value

    def equality(self) -> Any:
        value = self.comparison()
        while self.peek() in ("==", "!="):
            op = self.take()[1]
            right = self.comparison()
            value = _equal(value, right) if op == "==" else not _equal(value, right)
        return value

    def comparison(self) -> Any:
        value = self.unary()
        while self.peek() in ("<", "<=", ">", ">="):
            op = self.take()[1]
            right = self.unary()
            if isinstance(value, str) and isinstance(right, str):
                a: Any = value.casefold()
                b: Any = right.casefold()
            else:
                a, b = _number(value), _number(right)
            value = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        return value

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            return not _truthy(self.unary())
        return self.postfix()

    def postfix(self) -> Any:
        value = self.primary()
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                _, name = self.take()
                if name == "*":
                    value = list(value.values()) if isinstance(value, dict) else []
                    continue
                value = _property(value, name)
            else:
                key = self.or_()
                self.take("]")
                value = _property(value, key)
        return value

    def primary(self) -> Any:  # noqa: PLR0911 - one return per kind of primary
        kind, text = self.take()
        if kind == "number":
            return float(int(text, 16)) if text.lower().startswith(("0x", "-0x")) else float(text)
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if text == "(":
            value = self.or_()
            self.take(")")
            return value
        if kind != "name":
            raise ValueError(f"unexpected {text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self.peek() == "(":
            self.take()
            args: list[Any] = []
            while self.peek() != ")":
                args.append(self.or_())
                if self.peek() == ",":
                    self.take()
            self.take(")")
            return self.call(text, args)
        return _property(self.context, text)

    def call(self, name: str, args: list[Any]) -> Any:
        functions: dict[str, Callable[..., Any]] = {
            "contains": _contains,
            "startswith": lambda a, b: to_string(a).casefold().startswith(to_string(b).casefold()),
            "endswith": lambda a, b: to_string(a).casefold().endswith(to_string(b).casefold()),
            "format": lambda template, *rest: _format(to_string(template), *rest),
            "join": lambda items, sep=",": (
                to_string(sep).join(to_string(i) for i in items) if isinstance(items, list) else to_string(items)
            ),
            "tojson": lambda value: json.dumps(value, indent=2),
            "fromjson": json.loads,
            "success": lambda: self.status["success"],
            "always": lambda: True,
            "cancelled": lambda: self.status["cancelled"],
            "failure": lambda: self.status["failure"],
        }
        function = functions.get(name.casefold())
        if function is None:
            raise ValueError(f"the function {name}() is not kept by this harness")
        return function(*args)


def _property(value: Any, name: Any) -> Any:
    if isinstance(value, Mapping):
        key = to_string(name)
        for candidate in value:
            if str(candidate).casefold() == key.casefold():  # contexts' properties are read without case
                return value[candidate]
        return None
    if isinstance(value, list) and isinstance(name, (int, float)):
        index = int(name)
        return value[index] if 0 <= index < len(value) else None
    return None


def evaluate(expression: str, context: Mapping[str, Any], status: Mapping[str, bool] | None = None) -> Any:
    """The value of *expression* (without ``${{ }}``) in *context*."""
    state = status or {"success": True, "failure": False, "cancelled": False}
    return _Parser(_tokens(expression), context, state).parse()


def interpolate(text: Any, context: Mapping[str, Any]) -> str:
    """*text* with each ``${{ … }}`` replaced by its value, as a string (a non-string YAML value as GitHub reads it)."""
    if isinstance(text, bool):
        return "true" if text else "false"
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: to_string(evaluate(m.group(1), context)), to_string(text), flags=re.S)


_STATUS = re.compile(r"\b(success|always|cancelled|failure)\s*\(")


def condition(text: Any, context: Mapping[str, Any], status: Mapping[str, bool]) -> bool:
    """An ``if:``: with no status check in it, ``success() && (…)``."""
    if text is None:
        return status["success"]
    if isinstance(text, bool):
        return text and status["success"]
    expression = str(text).strip()
    if expression.startswith("${{") and expression.endswith("}}"):
        expression = expression[3:-2]
    if not _STATUS.search(expression):
        expression = f"success() && ({expression})"
    return _truthy(evaluate(expression, context, status))
