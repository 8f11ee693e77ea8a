"""The command line: the only code that knows argv, exit codes and stdout.

Commands are thin — parse, call a use case on ports the composition root (``findly_infra.bootstrap``)
built, present the result (``cli.present``) — and every documented error maps to its exit code here:
0 done; 2 bad input; 3 refused by policy; 4 rollout failed its analysis and was rolled back or
aborted; 5 a dependency could not be reached or answer; 6 stopped for a person; 1 only for bugs.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import IO, TYPE_CHECKING, NoReturn

from findly_infra import __version__

if TYPE_CHECKING:
    import argparse

    from findly_infra.application.gitops import HandOffPendingError
    from findly_infra.cli.context import Context

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_BROKEN_PIPE",
    "EXIT_BUG",
    "EXIT_DEPENDENCY",
    "EXIT_DRIFT",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_REFUSED",
    "EXIT_STOPPED",
    "main",
    "run",
]

from findly_infra.cli.exits import (
    EXIT_BAD_INPUT,
    EXIT_BROKEN_PIPE,
    EXIT_BUG,
    EXIT_DEPENDENCY,
    EXIT_DRIFT,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_STOPPED,
)


def main(argv: Sequence[str] | None = None, *, out: IO[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    if out is None:
        for stream in (sys.stdout, sys.stderr):
            _survive_encoding(stream)
    out = out or sys.stdout
    arguments = list(sys.argv[1:] if argv is None else argv)
    wants_json = "--json" in arguments
    try:
        code = _main(arguments, out, wants_json)
        out.flush()
    except BrokenPipeError:  # `findly-infra demo | head -1`: the reader has gone; end quietly, as a pipe does
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())  # nothing left to flush at exit
        return EXIT_BROKEN_PIPE
    return code


_PLAIN = {"—": "-", "–": "-", "→": "->", "←": "<-", "…": "...", "✓": "+", "✗": "x", "█": "#", "░": "-", "≥": ">=",
          "≤": "<=", "·": ".", "‘": "'", "’": "'", "“": '"', "”": '"', "×": "x"}  # fmt: skip
"""What a character of our text becomes on a stream that cannot show it (anything else becomes ``?``)."""


def _plain(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return "".join(_PLAIN.get(ch, "?") for ch in error.object[error.start : error.end]), error.end


codecs.register_error("findly-plain", _plain)


def _survive_encoding(stream: object) -> None:
    """Text that *stream*'s encoding cannot show (``PYTHONIOENCODING=ascii``, a ``C`` locale, a Windows code page)
    is written in plain ASCII (``—`` as ``-``, ``✓`` as ``+``, anything else ``?``) rather than ending the command
    with a UnicodeEncodeError half-way through its output."""
    reconfigure = getattr(stream, "reconfigure", None)
    if reconfigure is None:
        return
    with contextlib.suppress(AttributeError, LookupError, ValueError, OSError):
        if codecs.lookup(stream.encoding).name not in ("utf-8", "utf-16", "utf-32", "gb18030"):  # type: ignore[attr-defined]
            reconfigure(errors="findly-plain")


def _main(arguments: list[str], out: IO[str], wants_json: bool) -> int:
    if "--version" in arguments and all(word.startswith("-") for word in arguments):  # before any parser is built
        if wants_json:
            out.write(f'{{"ok": true, "version": "{__version__}"}}\n')
        else:
            out.write(f"findly-infra {__version__}\n")
        return EXIT_OK
    from findly_infra.cli.parser import UsageError

    try:
        return _parse_and_run(arguments, out, wants_json)
    except BrokenPipeError:
        raise
    except UsageError as exc:
        return _fail(out, wants_json, "usage", str(exc), EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        return _fail(out, wants_json, "interrupted", "interrupted", 130)
    except Exception as exc:
        if os.environ.get("FINDLY_DEBUG"):
            raise
        return _fail(out, wants_json, "bug", f"internal error, please report it: {type(exc).__name__}: {exc}", EXIT_BUG)


def _parse_and_run(arguments: list[str], out: IO[str], wants_json: bool) -> int:
    from findly_infra.cli.parser import COMMANDS, build_parser, command_of

    parser = build_parser(command_of(arguments))
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exit_:  # --help prints, then exits 0
        return int(exit_.code or 0)
    if args.command is None:
        parser.print_help(out)
        return EXIT_BAD_INPUT
    return _run(COMMANDS[args.command].run, args, out, wants_json)


def _run(command: Callable[[Context], int], args: argparse.Namespace, out: IO[str], wants_json: bool) -> int:
    """Run a command and close what it opened; the documented errors become their exit codes."""
    from findly_infra.cli.context import Context

    with contextlib.ExitStack() as stack:
        try:
            return command(Context(args, out, stack))
        except Exception as exc:
            code = _exit_code_of(exc, out, wants_json)
            if code is None:
                raise
            return code


def _exit_code_of(exc: Exception, out: IO[str], wants_json: bool) -> int | None:  # noqa: PLR0911 - one per kind
    """The exit code of a documented error (``None``: a bug). Imported only when one is raised, so that
    ``validate`` loads nothing of the release machinery."""
    from findly_infra.application.ports import BadInputError, ConcurrencyError, DependencyError, HandOffRefusedError
    from findly_infra.application.service import PolicyRefusedError
    from findly_infra.domain.platform import UnknownNameError

    if isinstance(exc, PolicyRefusedError):
        return _fail(out, wants_json, "refused", str(exc), EXIT_REFUSED, rule=exc.refusal.rule)
    from findly_infra.application.gitops import HandOffPendingError

    if isinstance(exc, HandOffPendingError):  # stopped for a person: the pull request to merge (issue 28)
        return _waiting_for_merge(out, wants_json, exc)
    if isinstance(exc, HandOffRefusedError):  # a person closed the pull request: refused, never proposed again
        return _fail(out, wants_json, "refused", str(exc), EXIT_REFUSED, rule="pull-request-closed")
    if isinstance(exc, ConcurrencyError):
        return _fail(out, wants_json, "refused", f"refused by one-writer-at-a-time: {exc}", EXIT_REFUSED)
    if isinstance(exc, (BadInputError, UnknownNameError)):
        return _fail(out, wants_json, "bad_input", str(exc.args[0] if exc.args else exc), EXIT_BAD_INPUT)
    if isinstance(exc, DependencyError):
        return _fail(out, wants_json, "dependency", str(exc), EXIT_DEPENDENCY)
    return None


def _fail(out: IO[str], wants_json: bool, kind: str, message: str, code: int, *, rule: str | None = None) -> int:
    from findly_infra.application.redaction import redact_text, url_secrets
    from findly_infra.cli import present

    # the last guard: whatever a dependency echoed, the secrets this process was given are never printed
    held = [
        os.environ.get(name) for name in ("FINDLY_PROMETHEUS_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "GITHUB_TOKEN")
    ]
    for name in ("FINDLY_PROMETHEUS_URL", "FINDLY_STATE"):
        held += url_secrets(os.environ.get(name))
    message = redact_text(message, held, schemes=False)
    if wants_json:
        error: dict[str, str] = {"kind": kind, "message": message}
        if rule is not None:
            error["rule"] = rule
        present.emit_json({"ok": False, "error": error}, out)
    else:
        sys.stderr.write(f"{present.printable(message)}\n")
    present.annotate("error", message)
    return code


def _waiting_for_merge(out: IO[str], wants_json: bool, pending: HandOffPendingError) -> int:
    """A GitOps hand-off proposed in a pull request that is still open: stopped for a person (exit 6), not failed —
    the change is recorded, and the pull request's URL says what unblocks it."""
    from findly_infra.cli import present

    message = str(pending)
    if wants_json:
        document = {
            "ok": True,
            "outcome": "waiting",
            "waiting_for": "pull_request",
            "environment": pending.environment,
            "pull_request": pending.url,
            "message": message,
        }
        present.emit_json(document, out)
    else:
        out.write(f"{present.printable(message)}\n")
    present.annotate("notice", message)
    return EXIT_STOPPED


def run() -> NoReturn:
    """Entry point of ``python -m findly_infra``."""
    sys.exit(main())
