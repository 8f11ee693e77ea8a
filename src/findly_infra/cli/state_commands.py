"""The state's own commands: ``state check`` (the full check of a state) and ``state migrate`` (its schema)."""

from __future__ import annotations

import argparse

from findly_infra.cli.context import Command, Context
from findly_infra.cli.exits import EXIT_BAD_INPUT, EXIT_OK

__all__ = ["COMMANDS"]


def _state_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="state_command", metavar="ACTION", required=True)
    actions.add_parser(
        "check",
        help="SQLite's integrity check, then every stream's positions and records: exit 0 sound, 2 damaged",
    )
    actions.add_parser(
        "snapshot",
        help="fold every service's whole stream again and keep it as its snapshot (snapshots are derived: safe to "
        "rebuild at any time)",
    )
    actions.add_parser(
        "migrate",
        help="bring the state's schema to this version's (PostgreSQL: creates it; refused if a newer one wrote it)",
    )


def _state(context: Context) -> int:
    if context.args.state_command == "migrate":
        return _migrate(context)
    if context.args.state_command == "snapshot":
        return _snapshot(context)
    from findly_infra.bootstrap import check_state

    found = check_state(context.settings)
    events = sum(found.streams.values())
    text = (
        f"{found.location}: sound ({len(found.streams)} services, {events} events)"
        if found.sound
        else "\n".join([f"{found.location}: damaged", *(f"  {problem}" for problem in found.problems)])
    )
    context.emit(
        {"state": found.location, "sound": found.sound, "streams": found.streams, "problems": list(found.problems)},
        text,
    )
    return EXIT_OK if found.sound else EXIT_BAD_INPUT


def _snapshot(context: Context) -> int:
    platform = context.platform()
    runtime = context.runtime(platform, scripted=True)
    rebuilt = {}
    for service in platform.all_services:
        if runtime.service.pipeline(service.name).version:
            rebuilt[service.name] = runtime.service.save_snapshot(service.name)
    lines = [f"{name}: snapshot at event {version}" for name, version in rebuilt.items()] or ["no service has events"]
    context.emit({"snapshots": rebuilt}, "\n".join(lines))
    return EXIT_OK


def _migrate(context: Context) -> int:
    from findly_infra.bootstrap import migrate_state

    where, found, now = migrate_state(context.settings)
    text = (
        f"{where}: schema {now}, nothing to do"
        if found == now
        else f"{where}: schema {found} -> {now}" + (" (created)" if found == 0 else "")
    )
    context.emit({"state": where, "schema_before": found, "schema": now, "changed": found != now}, text)
    return EXIT_OK


COMMANDS = (
    Command(
        "state",
        "the state itself: `state check` reads all of it and says what is wrong; `state migrate` its schema",
        _state_arguments,
        _state,
    ),
)
