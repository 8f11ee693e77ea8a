"""Loading the platform file: YAML -> cattrs -> domain, then the checks across sections.

Every problem names its place (``environments.production.approvers[1]``) and, where the YAML
gives it, its line. Nothing here prints or exits: the command line decides what to do with a
:class:`ValidationReport` or a :class:`PlatformError`.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import weakref
from collections.abc import Iterator
from typing import Any

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)

from findly_infra.config.converter import make_converter
from findly_infra.config.document import Document, DocumentError, parse_document, read_document
from findly_infra.config.expressions import expression_findings
from findly_infra.domain.checks import check_platform, did_you_mean
from findly_infra.domain.errors import InvariantError
from findly_infra.domain.platform import Finding, Path, Platform, Severity, format_path

__all__ = [
    "PlatformError",
    "Problem",
    "ValidationReport",
    "converter",
    "dump_platform",
    "load_platform",
    "load_platform_text",
    "source_line",
    "validate_document",
    "validate_platform",
    "validate_platform_text",
]

MAX_PROBLEMS = 200
"""At most this many errors are reported for one file: past that, more lines help no one."""

_RENAMED = {"from_": "from", "except_": "except"}
_ATTRS_VALIDATOR = re.compile(r"^'(\w+)' must be (.+?): (.*)$")


@functools.cache
def converter() -> cattrs.Converter:
    """The platform file's converter (built once)."""
    return make_converter()


@attrs.frozen
class Problem:
    """One error or warning about a platform file."""

    path: str
    message: str
    line: int | None = None
    severity: str = "error"
    rule: str = "structure"

    def __str__(self) -> str:
        if self.path:
            where = f"{self.path} (line {self.line})" if self.line else self.path
        else:
            where = f"line {self.line}" if self.line else ""
        return f"{where}: {self.message}" if where else self.message

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "message": self.message, "line": self.line, "rule": self.rule}


class PlatformError(Exception):
    """Raised when a platform file cannot be loaded. ``problems`` lists every error with its place and line."""

    def __init__(self, problems: tuple[Problem, ...], source: str = "<string>") -> None:
        self.problems = problems
        self.source = source
        listed = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(
            f"{source}: {len(problems)} error{'s' if len(problems) != 1 else ''} in the platform file\n{listed}"
        )


@attrs.frozen
class ValidationReport:
    """The outcome of validating a platform file: the platform (when it loaded), errors and warnings."""

    source: str
    platform: Platform | None
    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "file": self.source,
            "errors": [problem.to_json() for problem in self.errors],
            "warnings": [problem.to_json() for problem in self.warnings],
        }


def load_platform(path: str | os.PathLike[str]) -> Platform:
    """Load and check the platform file at *path*.

    Returns the :class:`~findly_infra.domain.platform.Platform`; raises :class:`PlatformError`
    listing every error when the file cannot be read, parsed, or does not pass the checks.
    Warnings do not stop loading: :func:`validate_platform` reports them.
    """
    return _platform_or_raise(validate_platform(path))


def load_platform_text(text: str | bytes, *, source: str = "<string>") -> Platform:
    """Like :func:`load_platform`, from YAML text."""
    return _platform_or_raise(validate_platform_text(text, source=source))


def _platform_or_raise(report: ValidationReport) -> Platform:
    if report.errors or report.platform is None:
        raise PlatformError(report.errors, report.source)
    return report.platform


def dump_platform(platform: Platform) -> str:
    """The platform as platform-file YAML; :func:`load_platform_text` reads it back to an equal platform."""
    import yaml

    return yaml.safe_dump(converter().unstructure(platform), sort_keys=False, allow_unicode=True, width=120)


def validate_platform(path: str | os.PathLike[str]) -> ValidationReport:
    """Every error and warning about the platform file at *path*, never raising for bad input."""
    try:
        document = read_document(path)
    except DocumentError as exc:
        return _document_failure(exc, str(path))
    return validate_document(document)


def validate_platform_text(text: str | bytes, *, source: str = "<string>") -> ValidationReport:
    try:
        document = parse_document(text, source=source)
    except DocumentError as exc:
        return _document_failure(exc, source)
    return validate_document(document)


def _document_failure(exc: DocumentError, source: str) -> ValidationReport:
    return ValidationReport(source, None, (Problem(format_path(exc.path), exc.message, exc.line, "error", "yaml"),), ())


def validate_document(document: Document) -> ValidationReport:
    """Structure a parsed document into a platform and run every check on it."""
    data = document.data
    if not isinstance(data, dict):
        problem = Problem(
            format_path(()),
            "a platform file is a mapping of sections (environments:, canary_strategy:, ...), "
            f"not {'a list' if isinstance(data, list) else 'a single value'}",
            document.line_of(()),
        )
        return ValidationReport(document.source, None, (problem,), ())
    try:
        platform = converter().structure(data, Platform)
    except Exception as exc:  # noqa: BLE001 - every structuring failure becomes a located problem
        errors = tuple(itertools.islice(_problems(exc, document), MAX_PROBLEMS))
        return ValidationReport(document.source, None, _unique(errors), ())
    findings = [*check_platform(platform), *expression_findings(platform)]
    errors = tuple(_located(f, document) for f in findings if f.severity is Severity.ERROR)
    warnings = tuple(_located(f, document) for f in findings if f.severity is Severity.WARNING)
    if not errors:
        _remember(platform, document)
    return ValidationReport(document.source, None if errors else platform, errors, warnings)


_SOURCES: dict[int, tuple[weakref.ref[Platform], Document]] = {}
"""Each platform loaded here (by identity, while it lives), with the document it came from."""


def _remember(platform: Platform, document: Document) -> None:
    key = id(platform)
    _SOURCES[key] = (weakref.ref(platform, lambda _: _SOURCES.pop(key, None)), document)


def source_line(platform: Platform, path: Path) -> int | None:
    """The line of *path* (``("kubernetes", "clusters", "production", "context")``) in the file *platform* was
    loaded from — so that a problem found later, on use (a kubeconfig context that does not exist), names its place
    as validation does. ``None`` for a platform not loaded from a file (built in code, or changed since)."""
    found = _SOURCES.get(id(platform))
    if found is None or found[0]() is not platform:
        return None
    return found[1].line_of(path)


def _located(finding: Finding, document: Document) -> Problem:
    return Problem(
        finding.location, finding.message, document.line_of(finding.path), finding.severity.value, finding.rule
    )


def _unique(problems: tuple[Problem, ...]) -> tuple[Problem, ...]:
    return tuple(dict.fromkeys(problems))


def _note_path(exc: BaseException) -> Path:
    for note in getattr(exc, "__notes__", ()):
        if isinstance(note, AttributeValidationNote):
            return (_RENAMED.get(note.name, note.name),)
        if isinstance(note, IterableValidationNote):
            return (note.index,)
    return ()


def _problems(exc: BaseException, document: Document, path: Path = ()) -> Iterator[Problem]:
    if isinstance(exc, (ClassValidationError, IterableValidationError, BaseExceptionGroup)):
        for inner in exc.exceptions:
            yield from _problems(inner, document, (*path, *_note_path(inner)))
        return
    for where, message in _leaf(exc, path):
        yield Problem(format_path(where), message, document.line_of(where))


def _leaf(exc: BaseException, path: Path) -> Iterator[tuple[Path, str]]:
    if isinstance(exc, ForbiddenExtraKeysError):
        allowed = [_RENAMED.get(a.name, a.name) for a in attrs.fields(exc.cl)]
        noun = "section" if exc.cl is Platform else "key"
        for key in sorted(exc.extra_fields):
            yield (
                (*path, key),
                f"unknown {noun} {key!r}{did_you_mean(key, allowed)}; expected one of: {', '.join(allowed)}",
            )
    elif isinstance(exc, KeyError):
        name = path[-1] if path else exc.args[0]
        yield path, f"{name} is required here"
    elif isinstance(exc, InvariantError):
        yield (*path, *exc.path), exc.message
    elif isinstance(exc, (ValueError, TypeError)) and (attrs_message := _ATTRS_VALIDATOR.match(str(exc))):
        name, condition, value = attrs_message.groups()  # attrs.validators: "'port' must be >= 1: -1"
        yield (*path, name), f"{name} must be {condition}, got {value}"
    elif isinstance(exc, (ValueError, TypeError)):
        yield path, str(exc)
    elif isinstance(exc, RecursionError):
        yield path, "the value is nested too deeply"
    else:
        yield path, f"{type(exc).__name__}: {exc}"
