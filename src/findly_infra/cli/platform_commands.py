"""The platform file's commands: ``validate``, ``example``, ``render`` and ``extras``."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from findly_infra.cli import present
from findly_infra.cli.context import Command, Context, add_versions_argument, service_versions
from findly_infra.cli.exits import EXIT_BAD_INPUT, EXIT_DRIFT, EXIT_OK

if TYPE_CHECKING:
    from findly_infra.render.tree import TreeChange

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
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing: say what would change in DIR, exit 7 when it differs from the platform file (a stale "
        "committed tree, in CI)",
    )


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
    from findly_infra.render import UnsafeOutputError, render_platform
    from findly_infra.render.tree import tree_changes

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
    prune = None if args.no_prune else scopes
    try:
        changes = tree_changes(tree, args.out, prune=prune, write=not args.check)  # one pass
    except UnsafeOutputError as exc:
        raise BadInputError(str(exc)) from None
    except OSError as exc:
        raise BadInputError(f"cannot write into {args.out}: {exc.strerror or exc}") from None
    written = 0 if args.check else sum(change.state in ("created", "changed", "removed") for change in changes)
    return _said_render(context, args.out, tree, changes, written, check=args.check)


_STATES = ("created", "changed", "removed", "kept")
_LISTED = 20
"""Created files listed by name in the text (the rest counted): a first render creates them all."""


def _said_render(
    context: Context, out: str, tree: Mapping[str, str], changes: Sequence[TreeChange], written: int, *, check: bool
) -> int:
    """What ``render`` did (or with ``--check`` would do) to the tree already in *out*, file by file: created, changed
    (with a unified diff of the file), removed (ours, no longer rendered), kept (the same, with ``--no-prune``);
    unchanged files are counted, not listed. ``--check`` exits 7 when the folder differs from the platform file."""
    by_state = {state: [c for c in changes if c.state == state] for state in (*_STATES, "unchanged")}
    differs = any(by_state[state] for state in ("created", "changed", "removed"))
    counts = ", ".join(f"{len(by_state[state])} {state}" for state in (*_STATES, "unchanged") if by_state[state])
    if check:
        head = (
            f"{out} differs from the platform file ({counts}): run findly-infra render --out {out}"
            if differs
            else f"{out} is up to date with the platform file ({counts})"
        )
    else:
        head = f"rendered {len(tree)} files into {out} ({written} changed{': ' + counts if counts else ''})"
    lines = [head]
    listed = dict.fromkeys(_STATES, 0)
    for change in changes:
        if change.state == "unchanged":
            continue
        listed[change.state] += 1
        if change.state == "created" and listed["created"] > _LISTED:  # a first render: the count says enough
            continue
        note = " (no longer rendered; kept: --no-prune)" if change.state == "kept" else ""
        lines.append(f"{change.state:9} {change.path}{note}")
        if change.state == "changed":
            lines += [f"  {line}" for line in change.diff()]
    if listed["created"] > _LISTED:
        lines.append(f"          … and {listed['created'] - _LISTED} more created (--json lists every file)")
    if check and differs:
        present.annotate("warning", f"{out} differs from the platform file ({counts}): render it again")
    present.github_output(differs=str(differs).lower())
    context.emit(
        {
            "out": out,
            "files": sorted(tree),
            "changed": written,
            "check": check,
            "differs": differs,
            "counts": {state: len(found) for state, found in by_state.items()},
            "changes": [
                {"path": c.path, "state": c.state, **({"diff": "\n".join(c.diff())} if c.state == "changed" else {})}
                for c in changes
                if c.state != "unchanged"
            ],
        },
        "\n".join(lines),
    )
    return EXIT_DRIFT if check and differs else EXIT_OK


def _extras(context: Context) -> int:
    """The extras the release commands need with this platform file and these settings, on one line (comma-separated,
    sorted; empty: the core), and as the step output ``extras`` in GitHub Actions. Imports no extra, reaches nothing:
    it runs on the core install, before the extras are installed."""
    from findly_infra.bootstrap import load_platform, needed_dr_extras, needed_extras

    args = context.args
    settings = context.settings
    origins = {
        "state": "--state" if args.state else "FINDLY_STATE",
        "prometheus_url": "--prometheus-url" if args.prometheus_url else "FINDLY_PROMETHEUS_URL",
    }
    platform = load_platform(settings)  # a bad file: exit 2, each problem named
    needed = needed_dr_extras if args.dr else needed_extras
    why = needed(settings, platform, origins=origins)
    line = ",".join(why)
    present.github_output(extras=line)
    context.emit({"extras": list(why), "why": why}, line + "\n")
    return EXIT_OK


def _extras_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dr",
        action="store_true",
        help="the extras dr drill, dr failover, state backup and state restore need instead (docs/install.md)",
    )


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
        _extras_arguments,
        _extras,
    ),
)
