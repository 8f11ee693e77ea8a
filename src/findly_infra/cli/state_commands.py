"""The state's own command: ``state check``, the full check of a state file."""

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


def _state(context: Context) -> int:
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


COMMANDS = (
    Command(
        "state", "the state itself: `state check` reads all of it and says what is wrong", _state_arguments, _state
    ),
)
