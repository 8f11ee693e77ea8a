"""The platform file's commands: ``validate``, ``example``, ``render`` and ``extras``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from findly_infra.cli import present
from findly_infra.cli.context import Command, Context, add_versions_argument, service_versions
from findly_infra.cli.exits import EXIT_BAD_INPUT, EXIT_OK

__all__ = ["COMMANDS"]


def _validate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", metavar="PATH", help="the platform file (default: --config)")
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors")


def _state_file_exists(args: argparse.Namespace) -> bool:
    """Whether the state the flags or FINDLY_STATE name (else the default) is a file here: checked before anything
    heavy is imported, so that validating without a state stays as fast as it was."""
    url = args.state or os.environ.get("FINDLY_STATE") or ".findly/state.sqlite3"
    return "://" not in url.removeprefix("sqlite://") and Path(url.removeprefix("sqlite://")).is_file()


def _validate(context: Context) -> int:
    from findly_infra.config.loader import validate_platform

    args = context.args
    if args.file:
        path = Path(args.file)
    else:
        from findly_infra.bootstrap import require_platform_file

        path = require_platform_file(context.settings)  # says how to get one when there is none
    report = validate_platform(path)
    affected: list[str] = []
    if report.platform is not None and _state_file_exists(args):  # what the file changes for rollouts under way
        from findly_infra.bootstrap import rollouts_affected  # (the release machinery loads only when there is a state)

        affected = rollouts_affected(context.settings, report.platform)
    failed = not report.ok or (args.strict and bool(report.warnings or affected))
    if context.json:
        document = report.to_json()
        document["rollouts_affected"] = affected
        document["ok"] = not failed
        if failed:
            document["error"] = {"kind": "bad_input", "message": f"{len(report.errors)} errors in {path}"}
        present.emit_json(document, context.out)
    else:
        for problem in report.errors:
            context.out.write(present.printable(f"error: {problem}") + "\n")
        for problem in report.warnings:
            context.out.write(present.printable(f"warning: {problem}  [{problem.rule}]") + "\n")
        for sentence in affected:
            context.out.write(present.printable(f"warning: state: {sentence}  [rollout-in-progress]") + "\n")
        verdict = "invalid" if failed else "valid"
        warnings = len(report.warnings) + len(affected)
        context.out.write(f"{path}: {verdict} ({len(report.errors)} errors, {warnings} warnings)\n")
    for problem in report.errors:
        present.annotate("error", f"{problem.path}: {problem.message}", str(path), problem.line)
    for problem in report.warnings:
        present.annotate("warning", f"{problem.path}: {problem.message}", str(path), problem.line)
    for sentence in affected:
        present.annotate("warning", sentence, str(path))
    return EXIT_BAD_INPUT if failed else EXIT_OK


def _example(context: Context) -> int:
    """The example platform file on stdout (``findly-infra example > findly.yaml``); with ``--json``, its text
    and where the installed package keeps it."""
    from findly_infra.examples import example_path, example_platform_text

    text = example_platform_text()
    if not context.json:
        context.out.write(text)
        return EXIT_OK
    try:
        path: str | None = str(example_path())
    except FileNotFoundError:
        path = None
    context.emit({"path": path, "text": text}, "")
    return EXIT_OK


def _render_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="DIR", help="the folder to render into")
    parser.add_argument("--env", action="append", metavar="ENV", help="one environment (repeatable; default: all)")
    add_versions_argument(parser, "latest")
    parser.add_argument("--no-prune", action="store_true", help="keep rendered files the platform no longer has")


def _refuse_input(context: Context, message: str, lines: list[str], errors: list[Any]) -> int:
    """Bad input with every problem listed (the text lines, or ``errors`` in the JSON document)."""
    import sys

    if context.json:
        present.emit_json(
            {"ok": False, "error": {"kind": "bad_input", "message": message}, "errors": errors}, context.out
        )
    else:
        for line in lines:
            context.out.write(f"{line}\n")
        sys.stderr.write(f"{message}\n")
    return EXIT_BAD_INPUT


def _render(context: Context) -> int:
    from findly_infra.application.ports import BadInputError
    from findly_infra.config.loader import validate_platform
    from findly_infra.render import UnsafeOutputError, render_platform, write_tree

    args = context.args
    path = context.settings.config_path
    report = validate_platform(path)
    if report.platform is None:
        for problem in report.errors:
            present.annotate("error", f"{problem.path}: {problem.message}", str(path), problem.line)
        lines = [f"error: {problem}" for problem in report.errors]
        return _refuse_input(context, f"{path} is not valid", lines, [p.to_json() for p in report.errors])
    versions = service_versions(args.versions, report.platform)
    tree = render_platform(report.platform, environments=args.env, versions=versions)
    scopes = (
        ["base", "prometheus", *(f"overlays/{env}" for env in args.env), *(f"access/{env}" for env in args.env)]
        if args.env
        else ["base", "prometheus", "overlays", "access"]
    )
    try:
        changed = write_tree(tree, args.out, prune=None if args.no_prune else scopes)
    except UnsafeOutputError as exc:
        raise BadInputError(str(exc)) from None
    except OSError as exc:
        raise BadInputError(f"cannot write into {args.out}: {exc.strerror or exc}") from None
    context.emit(
        {"out": args.out, "files": sorted(tree), "changed": len(changed)},
        f"rendered {len(tree)} files into {args.out} ({len(changed)} changed)",
    )
    return EXIT_OK


def _extras(context: Context) -> int:
    """The extras the release commands need with this platform file and these settings, on one line (comma-separated,
    sorted; empty: the core), and as the step output ``extras`` in GitHub Actions. Imports no extra, reaches nothing:
    it runs on the core install, before the extras are installed."""
    from findly_infra.bootstrap import load_platform, needed_extras

    args = context.args
    settings = context.settings
    origins = {
        "state": "--state" if args.state else "FINDLY_STATE",
        "prometheus_url": "--prometheus-url" if args.prometheus_url else "FINDLY_PROMETHEUS_URL",
    }
    why = needed_extras(settings, load_platform(settings), origins=origins)  # a bad file: exit 2, each problem named
    line = ",".join(why)
    present.github_output(extras=line)
    context.emit({"extras": list(why), "why": why}, line + "\n")
    return EXIT_OK


COMMANDS = (
    Command("validate", "check the platform file: exit 0 when valid, 2 when not", _validate_arguments, _validate),
    Command(
        "example",
        "print the example platform file (the seed's blocks and our sections)",
        lambda _parser: None,
        _example,
    ),
    Command(
        "render",
        "render Kustomize base and overlays, and Prometheus rules, from the platform file",
        _render_arguments,
        _render,
    ),
    Command(
        "extras",
        "print the extras (comma-separated) the release commands need with this platform file and these settings",
        lambda _parser: None,
        _extras,
    ),
)
