"""The YAML writer as it was before issue 24 (``src/findly_infra/render/tree.py`` at 000095d), kept verbatim so that
the tests can hold the faster writer to the same bytes. Not used by the package."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from findly_infra.render.tree import HEADER

__all__ = ["dump"]


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
# YAML 1.1 words that some parsers (go-yaml v2, so kubectl of old) read as booleans or null
_RESERVED = frozenset(["y", "yes", "n", "no", "on", "off", "true", "false", "null", "~"])
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


_CONSTANTS = {None: "null", True: "true", False: "false"}


def _scalar(value: object) -> str:
    """One scalar: plain where it cannot be misread, else a double-quoted (JSON) string, which YAML reads as is."""
    if value is None or isinstance(value, bool):
        return _CONSTANTS[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
        number = repr(value)  # YAML 1.1 reads "1e-06" as a string: it needs the dot of "1.0e-06"
        return number.replace("e", ".0e", 1) if "e" in number and "." not in number else number
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return _NOT_YAML_PRINTABLE.sub(_escape, json.dumps(text, ensure_ascii=False))


# what YAML cannot hold as is (outside its printable set) or reads as a line break: escaped in a quoted scalar
_NOT_YAML_PRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _literal(text: str) -> tuple[str, list[str]] | None:
    """A multi-line string as a literal block (``|`` or ``|-``) with its lines, where one can hold it exactly."""
    if "\n" not in text or text.startswith((" ", "\n")) or "\r" in text or _UNPRINTABLE.search(text):
        return None
    body = text[:-1] if text.endswith("\n") else text
    if body.endswith("\n") or any(line.endswith(" ") or "\t" in line for line in body.split("\n")):
        return None  # trailing blank lines or spaces: a quoted string says them exactly
    return ("|" if text.endswith("\n") else "|-"), body.split("\n")


def _block(node: Any, indent: str, out: list[str]) -> None:
    """Block-style YAML of a non-empty mapping or sequence (sequences in mappings are not indented, as
    PyYAML and kubectl write them)."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            _entry(f"{indent}{_scalar(key)}:", value, indent + "  ", out, nested_list_indent=indent)
    else:
        for item in node:
            _entry(f"{indent}-", item, indent + "  ", out, nested_list_indent=indent + "  ", in_list=True)


def _entry(
    head: str,
    value: Any,
    inner: str,
    out: list[str],
    *,
    nested_list_indent: str,
    in_list: bool = False,
) -> None:
    if isinstance(value, (Mapping, list, tuple)) and value:
        if in_list:  # "- key: value" (or "- - item") with the rest of the collection under it
            start = len(out)
            _block(value, inner, out)
            out[start] = f"{head} {out[start][len(inner) :]}"
        else:
            out.append(head)
            _block(value, inner if isinstance(value, Mapping) else nested_list_indent, out)
    elif isinstance(value, str) and (literal := _literal(value)) is not None:
        indicator, lines = literal
        out.append(f"{head} {indicator}")
        out.extend(f"{inner}{line}" if line else "" for line in lines)
    elif isinstance(value, Mapping):
        out.append(f"{head} {{}}")
    elif isinstance(value, (list, tuple)):
        out.append(f"{head} []")
    else:
        out.append(f"{head} {_scalar(value)}")


def dump(document: Any) -> str:
    """A document as block-style YAML after the header: every value reads back as written (``yaml.safe_load``),
    multi-line strings (PromQL) as literal blocks. Written directly: PyYAML's pure-Python representer was two
    thirds of rendering a large platform."""
    if not isinstance(document, (Mapping, list, tuple)) or not document:
        lines = [
            "{}"
            if isinstance(document, Mapping)
            else "[]"
            if isinstance(document, (list, tuple))
            else _scalar(document)
        ]
    else:
        lines = []
        _block(document, "", lines)
    return HEADER + "\n".join(lines) + "\n"
