"""Operational logs on stderr (structlog): JSON lines when stderr is not a terminal (CI, files), readable
key=value lines when it is. Stdout stays the command's own (one JSON document with ``--json``).

Configured only by commands that talk to a dependency, so that ``validate`` never imports structlog.
Secrets never reach a log: callers pass what happened, not the request (no URL with credentials, no token).
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

__all__ = ["configure", "logger"]

_configured = False


def configure(stream: TextIO | None = None) -> None:
    """Send structlog's output to *stream* (default stderr), as JSON unless it is a terminal."""
    import structlog

    global _configured  # noqa: PLW0603 - one process-wide logging setup, made once
    target = stream or sys.stderr
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if target.isatty()
        else structlog.processors.JSONRenderer(sort_keys=True)
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        # without a stream of its own, each line goes to the stderr of the moment: a process that swaps or closes
        # its stderr after the first log (a host running main() again, pytest's capture of a later session) never
        # has a line written to a closed stream (which ended the command with exit 1)
        logger_factory=structlog.PrintLoggerFactory(stream) if stream is not None else _current_stderr,
        cache_logger_on_first_use=False,
    )
    _configured = True


def _current_stderr(*_names: Any) -> Any:
    import structlog

    return structlog.PrintLogger(sys.stderr)


def logger() -> Any:
    """The findly logger (configuring stderr output on first use)."""
    import structlog

    if not _configured:
        configure()
    return structlog.get_logger("findly")
