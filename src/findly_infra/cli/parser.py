"""The argument parser, built for the command at hand only (``--version`` builds none of it)."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator, Sequence
from typing import NoReturn

from findly_infra import __version__
from findly_infra.cli import metrics, platform_commands, release
from findly_infra.cli.context import Command

__all__ = ["COMMANDS", "UsageError", "build_parser", "command_of"]

COMMANDS: dict[str, Command] = {
    command.name: command for module in (platform_commands, release, metrics) for command in module.COMMANDS
}
_GLOBAL_WITH_VALUE = ("--config", "--state", "--actor", "--prometheus-url", "--now")


class UsageError(Exception):
    """Raised when the command line itself is wrong (unknown option, missing argument)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def command_of(arguments: Sequence[str]) -> str | None:
    """The command named in *arguments* (the first word that is not a global option or its value)."""
    skip = False
    for word in arguments:
        if skip:
            skip = False
        elif word in _GLOBAL_WITH_VALUE:
            skip = True
        elif not word.startswith("-"):
            return word
    return None


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


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of the whole command line; with *command* (a known one), only that command's arguments
    are declared (the others are listed, so that help and "invalid choice" read the same)."""
    with _untranslated():
        parser = _Parser(
            prog="findly-infra",
            description="Orchestrates the deployments of the Findly Now microservices.",
            epilog="Exit codes: 0 done, 2 bad input, 3 refused by policy, 4 rolled back, 5 dependency unreachable.",
        )
        parser.add_argument("--version", action="version", version=f"findly-infra {__version__}")
        parser.add_argument(
            "--config", metavar="PATH", help="the platform file (default: $FINDLY_CONFIG or findly.yaml)"
        )
        parser.add_argument(
            "--state",
            metavar="URL",
            help="where state is kept: a SQLite file (default .findly/state.sqlite3) or memory://",
        )
        parser.add_argument(
            "--actor", metavar="NAME", help="who is acting (default: $FINDLY_ACTOR, then $GITHUB_ACTOR)"
        )
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
        for name, spec in COMMANDS.items():
            sub = commands.add_parser(name, help=spec.help)
            if command is None or command == name or command not in COMMANDS:
                spec.configure(sub)
    return parser
