"""The argument parser, built for the command at hand only (``--version`` builds none of it)."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

from findly_infra import __version__
from findly_infra.cli import (
    cluster_commands,
    dr_commands,
    gke_commands,
    metrics,
    notify_commands,
    platform_commands,
    policy_commands,
    release,
    releases_commands,
    secrets_commands,
    state_commands,
)
from findly_infra.cli.context import Command, name_argument

__all__ = ["COMMANDS", "UsageError", "build_parser", "command_of"]

COMMANDS: dict[str, Command] = {
    command.name: command
    for module in (
        platform_commands,
        release,
        metrics,
        state_commands,
        policy_commands,
        cluster_commands,
        gke_commands,
        secrets_commands,
        notify_commands,
        dr_commands,
        releases_commands,
    )
    for command in module.COMMANDS
}
_GLOBAL_WITH_VALUE = ("--config", "--state", "--actor", "--prometheus-url", "--now", "--context")


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
            epilog="Exit codes: 0 done, 2 bad input, 3 refused by policy, 4 rolled back or aborted (or not ready), "
            "5 dependency unreachable, 6 stopped for a person (paused, awaiting approval or evidence), "
            "7 a difference or findings (diff and cluster plan: the cluster differs from the file; secrets audit: "
            "findings; secrets grant --dry-run: something to grant), 1 a bug.",
        )
        parser.add_argument("--version", action="version", version=f"findly-infra {__version__}")
        _global_options(parser)
        commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
        for name, spec in COMMANDS.items():
            sub = commands.add_parser(name, help=spec.help)
            if command is None or command == name or command not in COMMANDS:
                spec.configure(sub)
                _global_options(sub, after_command=True)
                for action in sub._actions:  # `state verify --json`: after an action's name too
                    if isinstance(action, argparse._SubParsersAction):
                        for nested in {id(p): p for p in action.choices.values()}.values():
                            _global_options(nested, after_command=True)
    return parser


def _global_options(parser: argparse.ArgumentParser, *, after_command: bool = False) -> None:
    """The options every command takes, before or after its name (after it, they override only when given)."""
    group: Any = parser.add_argument_group("global options (also before COMMAND)") if after_command else parser
    unset: dict[str, Any] = {"default": argparse.SUPPRESS} if after_command else {}
    group.add_argument(
        "--config", metavar="PATH", help="the platform file (default: $FINDLY_CONFIG, else ./findly.yaml)", **unset
    )
    group.add_argument(
        "--state",
        metavar="URL",
        help="where state is kept: a SQLite file (default .findly/state.sqlite3; $FINDLY_STATE), postgresql://… (a "
        "team's, shared by every runner) or memory://; in a GitHub Actions job a command that writes needs it named",
        **unset,
    )
    group.add_argument(
        "--actor",
        metavar="NAME",
        type=name_argument("actor"),
        help="who is acting (default: $FINDLY_ACTOR, then $GITHUB_ACTOR)",
        **unset,
    )
    group.add_argument(
        "--prometheus-url",
        metavar="URL",
        help="Prometheus for rollout analysis (default: $FINDLY_PROMETHEUS_URL, else the file's)",
        **unset,
    )
    group.add_argument(
        "--context",
        metavar="CONTEXT",
        help="the kubeconfig context of the bound environments' cluster (default: $FINDLY_KUBE_CONTEXT, else each "
        "binding's); for apply and diff, also an environment bound to none",
        **unset,
    )
    group.add_argument(
        "--now",
        metavar="TIME",
        help="act at this past ISO 8601 time, in virtual time (replays; default: $FINDLY_NOW, else now)",
        **unset,
    )
    group.add_argument(
        "--json",
        action="store_true",
        help='print exactly one JSON document on stdout, with "ok" (logs go to stderr)',
        **unset,
    )
