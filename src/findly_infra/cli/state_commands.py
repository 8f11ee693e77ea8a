"""The state's own commands: ``state check`` (the full check of a state), ``state verify`` (its chain of links and
its snapshots), ``state snapshot``, ``state export``/``import``, ``state backup``/``restore`` (``cli.backup_commands``)
and ``state migrate`` (its schema)."""

from __future__ import annotations

import argparse

from findly_infra.cli import present
from findly_infra.cli.context import Command, Context
from findly_infra.cli.exits import EXIT_BAD_INPUT, EXIT_OK

__all__ = ["COMMANDS"]


def _state_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="state_command", metavar="ACTION", required=True)
    actions.add_parser(
        "check",
        help="SQLite's integrity check, then every stream's positions and records, and every snapshot against its "
        "stream folded again: exit 0 sound, 2 damaged",
    )
    actions.add_parser(
        "snapshot",
        help="fold every service's whole stream again and keep it as its snapshot (snapshots are derived: safe to "
        "rebuild at any time)",
    )
    export = actions.add_parser(
        "export", help="every stream as JSON Lines, complete and in order (a backup, or a move to another store)"
    )
    export.add_argument("--output", "-o", metavar="FILE", help="write to FILE (default: standard output)")
    importing = actions.add_parser(
        "import", help="read an export into this state (refused over a stream that already has other events)"
    )
    importing.add_argument("file", metavar="FILE", help="the export (- for standard input)")
    verify = actions.add_parser(
        "verify",
        help="every stream's chain of links, from its first event, and every snapshot against its stream folded "
        "again: exit 0 intact, 2 broken (the first broken link, or the snapshot's first difference, named); prints "
        "each stream's head, to keep elsewhere and check later with --expect",
    )
    verify.add_argument(
        "--expect",
        metavar="SERVICE@POSITION=LINK",
        action="append",
        default=[],
        type=_anchor,
        help="a head kept elsewhere (as verify printed it) that the stream must still pass through; repeatable",
    )
    actions.add_parser(
        "migrate",
        help="bring the state's schema to this version's (PostgreSQL: creates it; refused if a newer one wrote it)",
    )
    from findly_infra.cli.backup_commands import add_backup_arguments

    add_backup_arguments(actions)


def _anchor(text: str) -> object:
    from findly_infra.application.integrity import parse_anchor

    try:
        return parse_anchor(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _verify(context: Context) -> int:
    from findly_infra.bootstrap import verify_state

    where, verdicts = verify_state(context.settings, context.args.expect)
    lines = [f"{where}: {'intact' if all(v.intact for v in verdicts) else 'NOT intact'}"]
    for verdict in verdicts:
        if verdict.broken is not None:
            lines.append(f"  {verdict.broken}")
        elif verdict.unlinked:
            lines.append(
                f"  {verdict.service}: {verdict.unlinked} events without links (a state of an older findly-infra): "
                "findly-infra state migrate links them"
            )
        elif verdict.head is not None:
            lines.append(f"  {verdict.service}: {verdict.events} events, head {verdict.head}")
        if verdict.snapshot is not None and (verdict.snapshot.problem or verdict.snapshot.note):
            lines.append(f"  {verdict.snapshot}")
    if not verdicts:
        lines.append("  no streams")
    context.emit(
        {
            "ok": all(v.intact for v in verdicts),  # exit 2 is never "ok": a CI step reading only this agrees
            "state": where,
            "intact": all(v.intact for v in verdicts),
            "streams": {
                v.service: {
                    "events": v.events,
                    "head": str(v.head) if v.head else None,
                    "broken": None
                    if v.broken is None
                    else {"position": v.broken.position, "problem": v.broken.problem},
                    "unlinked": v.unlinked,
                    "snapshot": None
                    if v.snapshot is None
                    else {
                        "version": v.snapshot.version,
                        "ok": v.snapshot.ok,
                        "problem": v.snapshot.problem,
                        "note": v.snapshot.note,
                    },
                }
                for v in verdicts
            },
        },
        "\n".join(lines),
    )
    for verdict in verdicts:
        if verdict.broken is not None:
            present.annotate("error", f"the event log is not intact: {verdict.broken}")
        if verdict.snapshot is not None and verdict.snapshot.problem is not None:
            present.annotate("error", f"a snapshot is not the fold of its stream: {verdict.snapshot}")
    return EXIT_OK if all(v.intact for v in verdicts) else EXIT_BAD_INPUT


def _state(context: Context) -> int:  # noqa: PLR0911 - one line an action
    if context.args.state_command == "verify":
        return _verify(context)
    if context.args.state_command == "migrate":
        return _migrate(context)
    if context.args.state_command == "snapshot":
        return _snapshot(context)
    if context.args.state_command == "export":
        return _export(context)
    if context.args.state_command == "import":
        return _import(context)
    if context.args.state_command in ("backup", "restore"):
        from findly_infra.cli import backup_commands

        return int(getattr(backup_commands, context.args.state_command)(context))
    from findly_infra.bootstrap import check_state
    from findly_infra.domain.policy import POLICY_STREAM

    found = check_state(context.settings)
    services = {name: count for name, count in found.streams.items() if name != POLICY_STREAM}
    adoptions = found.streams.get(POLICY_STREAM, 0)
    policy = f"; {adoptions} policy adoption{'s' if adoptions != 1 else ''}" if adoptions else ""
    text = (
        f"{found.location}: sound ({len(services)} services, {sum(services.values())} events{policy})"
        if found.sound
        else "\n".join([f"{found.location}: damaged", *(f"  {problem}" for problem in found.problems)])
    )
    context.emit(
        {
            "ok": found.sound,
            "state": found.location,
            "sound": found.sound,
            "streams": found.streams,
            "problems": list(found.problems),
        },
        text,
    )
    return EXIT_OK if found.sound else EXIT_BAD_INPUT


def _snapshot(context: Context) -> int:
    platform = context.platform()
    runtime = context.runtime(platform, scripted=True)
    rebuilt = {}
    for service in platform.all_services:  # each stream folded a page at a time, never held whole
        if version := runtime.service.save_snapshot(service.name):
            rebuilt[service.name] = version
    lines = [f"{name}: snapshot at event {version}" for name, version in rebuilt.items()] or ["no service has events"]
    context.emit({"snapshots": rebuilt}, "\n".join(lines))
    return EXIT_OK


def _export(context: Context) -> int:
    import contextlib
    import os
    import sys
    from pathlib import Path

    from findly_infra.application.ports import BadInputError
    from findly_infra.application.transfer import export_lines
    from findly_infra.bootstrap import state_store

    store = context.stack.enter_context(state_store(context.settings, read_only=True))
    output = context.args.output
    count = -1
    if output is None:
        for count, line in enumerate(export_lines(store)):  # noqa: B007 - counted
            context.out.write(line + "\n")
    else:
        target = Path(output)
        draft = target.with_name(f".{target.name}.{os.getpid()}.part")  # whole or not at all
        try:
            with open(draft, "w", encoding="utf-8") as file:
                for count, line in enumerate(export_lines(store)):  # noqa: B007 - counted
                    file.write(line + "\n")
                file.flush()
                os.fsync(file.fileno())
            draft.replace(target)
        except OSError as exc:
            raise BadInputError(f"--output {output}: {exc.strerror or exc}") from None
        finally:
            with contextlib.suppress(OSError):
                draft.unlink()
        summary = {"exported": str(target), "events": count}
        if context.json:
            context.emit(summary, "")
        else:
            sys.stderr.write(f"{count} events written to {target}\n")
    return EXIT_OK


def _import(context: Context) -> int:
    import os
    import stat
    import sys

    from findly_infra.application.ports import BadInputError
    from findly_infra.application.transfer import bounded_lines, read_export, write_export
    from findly_infra.bootstrap import state_store

    name = context.args.file
    try:  # the whole export read and checked before the state is even opened
        if name == "-":
            export = read_export(bounded_lines(sys.stdin.buffer, "standard input"), where="standard input")
        else:
            # opened without blocking (a FIFO with no writer would block the open itself), and refused unless it is
            # a regular file — a pipe, a device (/dev/zero) or a directory is never read, as with reports
            descriptor = os.open(name, os.O_RDONLY | os.O_NONBLOCK)
            with os.fdopen(descriptor, "rb") as file:
                if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                    raise BadInputError(
                        f"{name} is not a regular file (a directory, a pipe or a device?): name the export itself "
                        "(or - for standard input)"
                    )
                os.set_blocking(descriptor, True)
                export = read_export(bounded_lines(file, name), where=name)
    except OSError as exc:
        raise BadInputError(f"{name}: {exc.strerror or exc}") from None
    store = context.stack.enter_context(state_store(context.settings))
    report = write_export(store, export)
    from findly_infra.application.notify import mark_told
    from findly_infra.application.ports import Outbox

    if isinstance(store, Outbox):  # an imported past is history: its rollouts and rollbacks are not told now
        mark_told(store, report.imported)
    lines = [f"{service}: {count} events imported" for service, count in report.imported.items()]
    lines += [f"{service}: already imported (the same events), nothing written" for service in report.already]
    context.emit(
        {"imported": report.imported, "already": list(report.already), "time": report.time},
        "\n".join(lines) or "the export has no events",
    )
    return EXIT_OK


def _migrate(context: Context) -> int:
    from findly_infra.bootstrap import migrate_state

    where, found, now = migrate_state(context.settings)
    text = (
        f"{where}: schema {now}: up to date"
        if found == now
        else f"{where}: schema {found} -> {now}" + (" (created)" if found == 0 else "")
    )
    context.emit({"state": where, "schema_before": found, "schema": now, "changed": found != now}, text)
    return EXIT_OK


COMMANDS = (
    Command(
        "state",
        "the state itself: `state check` reads all of it and says what is wrong, `state verify` checks its chain of "
        "links; `state migrate` its schema",
        _state_arguments,
        _state,
    ),
)
