"""The command line: the composition root that knows about argv, exit codes and stdout.

Exit codes (DESIGN.md): 0 done; 2 bad input; 3 refused by policy; 4 rollout failed its analysis
and was rolled back or aborted; 5 a dependency could not be reached; 1 only for bugs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, NoReturn

from findly_infra import __version__

__all__ = ["EXIT_BAD_INPUT", "EXIT_BUG", "EXIT_DEPENDENCY", "EXIT_FAILED", "EXIT_OK", "EXIT_REFUSED", "main"]

EXIT_OK = 0
EXIT_BUG = 1
EXIT_BAD_INPUT = 2
EXIT_REFUSED = 3
EXIT_FAILED = 4
EXIT_DEPENDENCY = 5

DEFAULT_CONFIG = "findly.yaml"


class UsageError(Exception):
    """Raised when the command line itself is wrong (unknown option, missing argument)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="findly-infra",
        description="Orchestrates the deployments of the Findly Now microservices.",
        epilog="Exit codes: 0 done, 2 bad input, 3 refused by policy, 4 rolled back, 5 dependency unreachable.",
    )
    parser.add_argument("--version", action="version", version=f"findly-infra {__version__}")
    parser.add_argument(
        "--config", metavar="PATH", help=f"the platform file (default: $FINDLY_CONFIG or {DEFAULT_CONFIG})"
    )
    parser.add_argument(
        "--state", metavar="URL", help="where state is kept: a SQLite file (default .findly/state.sqlite3) or memory://"
    )
    parser.add_argument("--actor", metavar="NAME", help="who is acting (default: $FINDLY_ACTOR, then $GITHUB_ACTOR)")
    parser.add_argument(
        "--prometheus-url",
        metavar="URL",
        help="Prometheus for rollout analysis (default: $FINDLY_PROMETHEUS_URL, the file)",
    )
    parser.add_argument(
        "--now",
        metavar="TIME",
        help="act at this ISO 8601 time, in virtual time (replays of past metrics; default: $FINDLY_NOW, else now)",
    )
    parser.add_argument("--json", action="store_true", help="print exactly one JSON document on stdout")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    validate = commands.add_parser("validate", help="check the platform file: exit 0 when valid, 2 when not")
    validate.add_argument("file", nargs="?", metavar="PATH", help="the platform file (default: --config)")
    validate.add_argument("--strict", action="store_true", help="treat warnings as errors")
    commands.add_parser("example", help="print the example platform file (the seed's blocks and our sections)")
    render = commands.add_parser(
        "render", help="render Kustomize base and overlays, and Prometheus rules, from the platform file"
    )
    render.add_argument("--out", required=True, metavar="DIR", help="the folder to render into")
    render.add_argument("--env", action="append", metavar="ENV", help="one environment (repeatable; default: all)")
    render.add_argument(
        "--version",
        dest="versions",
        action="append",
        default=[],
        metavar="SERVICE=VERSION",
        help="the version (image tag) to deploy for a service (repeatable; default: latest)",
    )
    render.add_argument("--no-prune", action="store_true", help="keep rendered files the platform no longer has")
    from findly_infra.cli_metrics import add_metrics_commands
    from findly_infra.cli_release import add_release_commands

    add_release_commands(commands)
    add_metrics_commands(commands)
    return parser


def _config_path(args: argparse.Namespace, explicit: str | None = None) -> Path:
    return Path(explicit or args.config or os.environ.get("FINDLY_CONFIG") or DEFAULT_CONFIG)


def _emit_json(document: dict[str, Any], out: IO[str]) -> None:
    out.write(json.dumps(document, indent=2, sort_keys=False) + "\n")


def _annotate(level: str, message: str, file: str | None = None, line: int | None = None) -> None:
    """A GitHub Actions annotation (``::error file=...,line=...::message``) when running in Actions."""
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return
    place = ",".join(p for p in (f"file={file}" if file else "", f"line={line}" if line else "") if p)
    escaped = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    sys.stderr.write(f"::{level} {place}::{escaped}\n" if place else f"::{level}::{escaped}\n")


def _validate(args: argparse.Namespace, out: IO[str]) -> int:
    from findly_infra.config.loader import validate_platform

    path = _config_path(args, args.file)
    report = validate_platform(path)
    failed = not report.ok or (args.strict and bool(report.warnings))
    if args.json:
        document = report.to_json()
        document["ok"] = not failed
        if failed:
            document["error"] = {"kind": "bad_input", "message": f"{len(report.errors)} errors in {path}"}
        _emit_json(document, out)
    else:
        for problem in report.errors:
            out.write(f"error: {problem}\n")
        for problem in report.warnings:
            out.write(f"warning: {problem}  [{problem.rule}]\n")
        verdict = "invalid" if failed else "valid"
        out.write(f"{path}: {verdict} ({len(report.errors)} errors, {len(report.warnings)} warnings)\n")
    for problem in report.errors:
        _annotate("error", f"{problem.path}: {problem.message}", str(path), problem.line)
    for problem in report.warnings:
        _annotate("warning", f"{problem.path}: {problem.message}", str(path), problem.line)
    return EXIT_BAD_INPUT if failed else EXIT_OK


def _example(_args: argparse.Namespace, out: IO[str]) -> int:
    from findly_infra.examples import example_platform_text

    out.write(example_platform_text())
    return EXIT_OK


def _render(args: argparse.Namespace, out: IO[str]) -> int:
    from findly_infra.config.loader import validate_platform
    from findly_infra.domain.platform import UnknownNameError
    from findly_infra.render import render_platform, write_tree

    path = _config_path(args)
    report = validate_platform(path)
    if report.platform is None:
        for problem in report.errors:
            _annotate("error", f"{problem.path}: {problem.message}", str(path), problem.line)
        lines = [f"error: {problem}" for problem in report.errors]
        return _refuse_input(args, out, f"{path} is not valid", lines, [p.to_json() for p in report.errors])
    versions: dict[str, str] = {}
    for pair in args.versions:
        service, _, version = pair.partition("=")
        if not service or not version:
            return _refuse_input(args, out, f"--version takes SERVICE=VERSION, got {pair!r}")
        versions[service] = version
    try:
        tree = render_platform(report.platform, environments=args.env, versions=versions)
    except UnknownNameError as exc:
        return _refuse_input(args, out, str(exc))
    scopes = (
        ["base", "prometheus", *(f"overlays/{env}" for env in args.env)]
        if args.env
        else ["base", "prometheus", "overlays"]
    )
    changed = write_tree(tree, args.out, prune=None if args.no_prune else scopes)
    if args.json:
        _emit_json({"ok": True, "out": args.out, "files": sorted(tree), "changed": len(changed)}, out)
    else:
        out.write(f"rendered {len(tree)} files into {args.out} ({len(changed)} changed)\n")
    return EXIT_OK


def _refuse_input(
    args: argparse.Namespace,
    out: IO[str],
    message: str,
    lines: list[str] | None = None,
    errors: list[Any] | None = None,
) -> int:
    if args.json:
        document: dict[str, Any] = {"ok": False, "error": {"kind": "bad_input", "message": message}}
        if errors:
            document["errors"] = errors
        _emit_json(document, out)
    else:
        for line in lines or []:
            out.write(f"{line}\n")
        sys.stderr.write(f"{message}\n")
    return EXIT_BAD_INPUT


_COMMANDS = {"validate": _validate, "example": _example, "render": _render}


@contextlib.contextmanager
def _untranslated() -> Iterator[None]:
    """argparse asks gettext for every string it builds, and gettext searches the disk for catalogues each
    time (a third of the start-up time with 20 commands); our messages are English, so skip the search."""
    translate = argparse._  # type: ignore[attr-defined]
    argparse._ = str  # type: ignore[attr-defined]
    try:
        yield
    finally:
        argparse._ = translate  # type: ignore[attr-defined]


def main(argv: Sequence[str] | None = None, *, out: IO[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    out = out or sys.stdout
    arguments = list(sys.argv[1:] if argv is None else argv)
    wants_json = "--json" in arguments
    try:
        with _untranslated():
            parser = _parser()
            args = parser.parse_args(arguments)
        if args.command is None:
            parser.print_help(out)
            return EXIT_BAD_INPUT
        return _run(args, out, wants_json)
    except UsageError as exc:
        return _fail(out, wants_json, "usage", str(exc), EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        return _fail(out, wants_json, "interrupted", "interrupted", 130)
    except Exception as exc:
        if os.environ.get("FINDLY_DEBUG"):
            raise
        return _fail(out, wants_json, "bug", f"internal error, please report it: {type(exc).__name__}: {exc}", EXIT_BUG)


def _run(args: argparse.Namespace, out: IO[str], wants_json: bool) -> int:
    """Run a command, mapping the documented errors to their exit codes."""
    if args.command in _COMMANDS:
        return _COMMANDS[args.command](args, out)
    from findly_infra.application.ports import ConcurrencyError, DependencyUnavailableError
    from findly_infra.application.service import PolicyRefusedError
    from findly_infra.cli_metrics import COMMANDS as METRICS_COMMANDS
    from findly_infra.cli_release import COMMANDS, BadInputError, DependencyError
    from findly_infra.domain.platform import UnknownNameError

    try:
        return (COMMANDS | METRICS_COMMANDS)[args.command](args, out)
    except PolicyRefusedError as exc:
        return _fail(out, wants_json, "refused", str(exc), EXIT_REFUSED, rule=exc.refusal.rule)
    except ConcurrencyError as exc:
        return _fail(out, wants_json, "refused", f"refused by one-writer-at-a-time: {exc}", EXIT_REFUSED)
    except (BadInputError, UnknownNameError) as exc:
        return _fail(out, wants_json, "bad_input", str(exc.args[0] if exc.args else exc), EXIT_BAD_INPUT)
    except (DependencyError, DependencyUnavailableError) as exc:
        return _fail(out, wants_json, "dependency", str(exc), EXIT_DEPENDENCY)
    finally:
        for close in getattr(args, "close_after", ()):
            close()


def _fail(out: IO[str], wants_json: bool, kind: str, message: str, code: int, *, rule: str | None = None) -> int:
    if wants_json:
        error: dict[str, str] = {"kind": kind, "message": message}
        if rule is not None:
            error["rule"] = rule
        _emit_json({"ok": False, "error": error}, out)
    else:
        sys.stderr.write(f"{message}\n")
    _annotate("error", message)
    return code


def run() -> NoReturn:
    """Entry point of ``python -m findly_infra``."""
    sys.exit(main())
