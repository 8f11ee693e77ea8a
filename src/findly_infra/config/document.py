"""Reading a YAML document safely, remembering the line of every value.

Only PyYAML's safe composer is used. On top of it this module refuses what YAML allows but a
platform file never needs and an attacker loves: documents that expand past a node budget
through aliases ("billion laughs"), nesting deeper than a limit, files over a size limit, binary
files, duplicate keys, which YAML would silently resolve to the last one, and whole numbers past
64 bits (5,000 decimal digits would crash Python's int(); 0x and 5,000 digits would crash the
first message or manifest that printed it).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path as FilePath
from typing import Any

import attrs
import yaml

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_INTEGER",
    "MAX_NODES",
    "Document",
    "DocumentError",
    "parse_document",
    "read_document",
]

MAX_BYTES = 1024 * 1024
MAX_NODES = 50_000
MAX_DEPTH = 64
MAX_INTEGER = 2**63 - 1
"""The largest whole number a platform file may hold (Kubernetes' and Prometheus' integers are 64 bits)."""

_Path = tuple[str | int, ...]

try:  # the C composer is much faster and as safe; fall back where libyaml is missing
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader


class DocumentError(ValueError):
    """Raised when a file cannot be read as one YAML document of the platform file's shape."""

    def __init__(self, message: str, *, line: int | None = None, path: _Path = ()) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.path = path


@attrs.frozen
class Document:
    """A YAML document as plain Python data, with the line where each value (by path) was written."""

    data: Any
    lines: dict[_Path, int] = attrs.field(hash=False)
    source: str = "<string>"

    def line_of(self, path: _Path) -> int | None:
        """The line of *path*, or of its nearest enclosing value that has one."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


def read_document(path: str | os.PathLike[str]) -> Document:
    """Read and parse *path*; every failure is a :class:`DocumentError`."""
    file = FilePath(path)
    try:
        status = file.stat()
        if stat.S_ISDIR(status.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(status.st_mode):  # a pipe or a device would block, or never end
            raise DocumentError(f"{file} is not a regular file (a pipe or a device?): name the platform file itself")
        size = status.st_size
        if size > MAX_BYTES:
            raise DocumentError(
                f"the file is {size / 1024 / 1024:.1f} MiB; "
                f"a platform file may be at most {MAX_BYTES // 1024 // 1024} MiB"
            )
        with file.open("rb") as stream:
            raw = stream.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise DocumentError(f"no such file: {file}") from None
    except IsADirectoryError:
        raise DocumentError(f"{file} is a directory, not a platform file") from None
    except OSError as exc:
        raise DocumentError(f"cannot read {file}: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise DocumentError(f"the file is over {MAX_BYTES // 1024 // 1024} MiB; a platform file may not be")
    return parse_document(raw, source=str(file))


def parse_document(raw: bytes | str, *, source: str = "<string>") -> Document:
    """Parse YAML text (or UTF-8 bytes) into a :class:`Document`."""
    if isinstance(raw, bytes):
        if b"\x00" in raw:
            raise DocumentError("this is a binary file, not YAML text")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DocumentError(f"the file is not UTF-8 text (byte {exc.start + 1} cannot be read)") from None
    else:
        text = raw
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise DocumentError(f"the text is over {MAX_BYTES // 1024 // 1024} MiB; a platform file may not be")
    try:
        _check_nesting(text)
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        raise DocumentError(f"invalid YAML: {problem}{context}", line=mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise DocumentError(f"invalid YAML: {exc}") from None
    except RecursionError:
        raise DocumentError(f"the document is nested too deeply (more than {MAX_DEPTH} levels)") from None
    if node is None:
        raise DocumentError("the file is empty: a platform file is a mapping of sections, starting with environments")
    builder = _Builder()
    data = builder.build(node, (), 0)
    return Document(data, builder.lines, source)


_STANDARD_TAGS: dict[type[yaml.Node], str] = {
    yaml.MappingNode: "tag:yaml.org,2002:map",
    yaml.SequenceNode: "tag:yaml.org,2002:seq",
}


def _line(event: yaml.Event) -> int | None:
    return event.start_mark.line + 1 if event.start_mark is not None else None


def _check_nesting(text: str) -> None:
    """Refuse documents nested deeper than :data:`MAX_DEPTH`, or too large, before composing them.

    libyaml's composer recurses on the C stack, so a hundred thousand ``[`` would crash the
    process; its parser does not, so the events are walked first, counting depth.
    """
    depth = 0
    for count, event in enumerate(yaml.parse(text, Loader=_Loader)):
        if count > 2 * MAX_NODES:  # a key and its value are two events; aliases are counted when built
            raise DocumentError(
                f"the document holds more than {MAX_NODES:,} values; a platform file never needs that many",
                line=_line(event),
            )
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise DocumentError(f"the document is nested deeper than {MAX_DEPTH} levels", line=_line(event))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


class _Builder:
    """Turns composed nodes into Python values, counting every node reached (aliases included)."""

    def __init__(self) -> None:
        self.lines: dict[_Path, int] = {}
        self.count = 0
        self.constructor = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, path: _Path, depth: int) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise DocumentError(
                f"the document expands to more than {MAX_NODES:,} values (through YAML aliases?); "
                "a platform file never needs that many",
                line=node.start_mark.line + 1,
            )
        if depth > MAX_DEPTH:
            raise DocumentError(f"the document is nested deeper than {MAX_DEPTH} levels", line=node.start_mark.line + 1)
        self.lines.setdefault(path, node.start_mark.line + 1)
        expected = _STANDARD_TAGS.get(type(node))
        if expected is not None and node.tag != expected:
            raise DocumentError(
                f"unsupported YAML tag {node.tag!r}: a platform file uses plain YAML",
                line=node.start_mark.line + 1,
                path=path,
            )
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index), depth + 1) for index, item in enumerate(node.value)]
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise DocumentError(
                f"invalid value: {getattr(exc, 'problem', None) or exc}", line=node.start_mark.line + 1, path=path
            ) from None
        except ValueError:  # int() of more than 4,300 decimal digits (sys.get_int_max_str_digits), in PyYAML
            value = None
            too_large = True
        else:
            too_large = isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER
        if too_large:  # 0x + 5,000 digits passes int(); every use of it past here (a message, a manifest) would not
            raise DocumentError(
                f"the number is too large: a platform file's whole numbers are within ±{MAX_INTEGER:,} (64 bits)",
                line=node.start_mark.line + 1,
                path=path,
            )
        return value

    def _pairs(self, node: yaml.MappingNode, depth: int) -> Iterator[tuple[yaml.Node, yaml.Node]]:
        """The mapping's own pairs after YAML merge keys (``<<: *defaults``) are applied; own keys win."""
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        own: list[tuple[yaml.Node, yaml.Node]] = []
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
                for source in sources:
                    if not isinstance(source, yaml.MappingNode):
                        raise DocumentError(
                            "a merge key (<<) takes a mapping or a list of mappings", line=key.start_mark.line + 1
                        )
                    self.count += len(source.value)
                    merged.extend(self._pairs(source, depth + 1))
            else:
                own.append((key, value))
        own_keys = {key.value for key, _ in own if isinstance(key, yaml.ScalarNode)}
        yield from ((k, v) for k, v in merged if not (isinstance(k, yaml.ScalarNode) and k.value in own_keys))
        yield from own

    def _mapping(self, node: yaml.MappingNode, path: _Path, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        own_lines: dict[str, int] = {}
        own_nodes = {id(key) for key, _ in node.value}
        for key_node, value_node in self._pairs(node, depth):
            if not isinstance(key_node, yaml.ScalarNode):
                raise DocumentError(
                    "a key must be plain text, not a list or a mapping", line=key_node.start_mark.line + 1, path=path
                )
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if id(key_node) not in own_nodes:
                if key in result:  # among merged mappings, the first to give a key wins
                    continue
            elif key in own_lines:
                raise DocumentError(
                    f"the key {key!r} appears twice (first on line {own_lines[key]})", line=line, path=(*path, key)
                )
            else:
                own_lines[key] = line
            self.lines[(*path, key)] = line
            result[key] = self.build(value_node, (*path, key), depth + 1)
        return result
