"""A watch on a terminal (issue 26): a compact block redrawn in place, checked on the SCREEN a terminal emulator
(pyte) shows after reading what the command wrote to a real pseudo-terminal — not on the escape codes. CI logs (no
terminal, or ``CI`` / ``TERM=dumb`` set) keep one line per step."""

from __future__ import annotations

import fcntl
import io
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import pyte
import pytest

from findly_infra.cli.live import LiveBlock, fit, wanted
from tests.test_cli import run
from tests.test_watch_progress import CRITERIA

HEAD = "fn-posts in development: 2.0.0 by canary, from 1.0.0"


def on_terminal(
    env: dict[str, str], *args: str, columns: int = 100, rows: int = 30, interrupt_after: int = 0
) -> tuple[int, list[str], bytes]:
    """Run the CLI with a pseudo-terminal of *columns* by *rows* as its stdout and stderr (as a person's shell does);
    its exit code, the screen at the end (lines, right-stripped) and the bytes written. With *interrupt_after*, Ctrl-C
    (SIGINT, as the terminal sends it) once the block has been drawn that many times."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "findly_infra", *args],
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env={**os.environ, "TERM": "xterm-256color", "GITHUB_ACTIONS": "", "CI": "", **env},
    )
    os.close(terminal)
    written, interrupted = b"", False
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the last writer closed the terminal
                break
            if not chunk:
                break
            written += chunk
            if interrupt_after and not interrupted and written.count(HEAD.encode()) >= interrupt_after:
                process.send_signal(signal.SIGINT)
                interrupted = True
        code = process.wait(timeout=30)
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
    screen = pyte.Screen(columns, rows)
    pyte.ByteStream(screen).feed(written)
    return code, [line.rstrip() for line in screen.display], written


def _canary(env: dict[str, str]) -> None:
    """1.0.0 serving development, 2.0.0 entering it by canary (5% → 25% → 50% → 100%); set up without a terminal."""
    for args in (
        ("deploy", "fn-posts", "1.0.0", "--env", "development"),
        ("rollout", "fn-posts", "--env", "development", "--watch"),
        ("deploy", "fn-posts", "2.0.0", "--env", "development", "--strategy", "canary"),
    ):
        assert run(*args, env=env).returncode == 0


RESULT = "fn-posts 2.0.0 in development: "
"""How the result line below the block begins."""


def _block(screen: list[str]) -> list[str]:
    """The block on *screen*: from its head to the result line below it (or the first blank line)."""
    assert [line for line in screen if line.startswith("fn-posts in ")] == [HEAD], screen  # drawn once, in place
    start = screen.index(HEAD)
    end = next((i for i in range(start, len(screen)) if not screen[i] or screen[i].startswith(RESULT)), len(screen))
    return screen[start:end]


def _result(screen: list[str]) -> str:
    """The line right below the block: the command's result."""
    start = screen.index(HEAD)
    return screen[start + len(_block(screen))]


WATCH = ("rollout", "fn-posts", "--env", "development", "--watch")


def test_a_watch_on_a_terminal_redraws_one_block_in_place_and_leaves_the_final_state(env: dict[str, str]) -> None:
    _canary(env)
    code, screen, written = on_terminal(env, *WATCH)
    assert code == 0
    assert written.count(HEAD.encode()) >= 8  # drawn at every step (four stages, two analyses each) ...
    assert _block(screen) == [  # ... and on screen once: its final state
        HEAD,
        "stage 4/4 [████████████████████] 100%  succeeded: serving 2.0.0 100%",
        "  ✓ error_rate              0.100%  (threshold < 0.5%)",
        "  ✓ latency_p95              300ms  (threshold < 1500ms)",
        "  ✓ cpu_utilization        50.000%  (threshold < 80%)",
        "  ✓ memory_utilization     60.000%  (threshold < 85%)",
        "succeeded: nothing is next",
        _block(screen)[-1],
    ]
    assert _block(screen)[-1].startswith("last: ")
    # the last event: development cleans up after a success (auto_cleanup), else the success itself
    assert _block(screen)[-1].endswith(" tracks_cleaned_up auto_cleanup: removed fn-posts-canary")
    assert _result(screen) == RESULT + "succeeded (serving 2.0.0 100%)"  # the result line follows the block
    # before the first analysis the block said when it is due (not "nothing is next")
    assert b"next analysis at 09:06:00 (the first of this watch)" in written
    assert b"progressing: nothing is next" not in written
    assert not any(line[:4].isdigit() for line in screen)  # no step printed as a line of the log


def test_a_rollback_on_a_terminal_marks_the_failing_criterion_and_says_where_and_why(env: dict[str, str]) -> None:
    _canary(env)
    code, screen, _ = on_terminal({**env, "FINDLY_SCENARIO": "error-spike"}, *WATCH)
    assert code == 4
    block = _block(screen)
    assert block[1] == "stage 2/4 [░░░░░░░░░░░░░░░░░░░░]   0%  rolled_back: serving 1.0.0 100%"
    assert block[2] == "  ✗ error_rate              5.000%  (threshold < 0.5%)"  # the value beside its threshold
    assert "  ✓ latency_p95              300ms  (threshold < 1500ms)" in block
    assert "rolled back at stage 2/4 (25%): 2 failed analyses in this stage (threshold 2)" in block
    assert "  error_rate over the last 1 minute" in block
    # the result line follows the final block after a rollback too (it said nothing, as after a pause it does)
    assert _result(screen).startswith(RESULT + "rolled_back (serving 1.0.0 100%) — 2 failed analyses")


def test_the_block_is_cut_to_the_terminal_width(env: dict[str, str]) -> None:
    """A line longer than the terminal would wrap, and the redraw would then climb too few lines, leaving pieces of
    earlier blocks: each line is cut (…) to the width, and the screen shows the one block."""
    _canary(env)
    code, screen, _ = on_terminal({**env, "FINDLY_SCENARIO": "error-spike"}, *WATCH, columns=40)
    assert code == 4
    block = [line for line in screen if line]
    assert sum(line.startswith("fn-posts in development") for line in block) == 1
    start = block.index("fn-posts in development: 2.0.0 by cana…")
    assert block[start : start + 9] == [
        "fn-posts in development: 2.0.0 by cana…",
        "stage 2/4 [░░░░░░░░░░░░░░░░░░░░]   0% …",
        "  ✗ error_rate              5.000%  (t…",
        "  ✓ latency_p95              300ms  (t…",
        "  ✓ cpu_utilization        50.000%  (t…",
        "  ✓ memory_utilization     60.000%  (t…",
        "rolled back at stage 2/4 (25%): 2 fail…",
        "  error_rate over the last 1 minute",
        "last: 09:21:00 rolled_back",
    ]


def test_ctrl_c_leaves_the_last_whole_block_and_says_interrupted(env: dict[str, str]) -> None:
    _canary(env)
    code, screen, _ = on_terminal({**env, "FINDLY_STEP_DELAY": "0.3"}, *WATCH, interrupt_after=2)
    assert code == 130
    shown = [line for line in screen if line]
    head = next(i for i, line in enumerate(shown) if line.startswith("fn-posts in development"))
    assert shown[head] == HEAD
    assert shown[head + 1].startswith("stage ")
    last = next(i for i in range(head, len(shown)) if shown[i].startswith("last: "))  # the whole block ...
    assert shown[last + 1 :] == ["^Cinterrupted"] or shown[last + 1 :] == ["interrupted"]  # ... then the result


@pytest.mark.parametrize("setting", [{"CI": "true"}, {"TERM": "dumb"}, {"FINDLY_PROGRESS": "lines"}])
def test_ci_logs_keep_one_line_per_step_even_on_a_terminal(env: dict[str, str], setting: dict[str, str]) -> None:
    _canary(env)
    code, _, written = on_terminal({**env, **setting}, *WATCH)
    assert code == 0
    assert b"\x1b[" not in written  # no cursor movement
    steps = [line for line in written.decode().replace("\r\n", "\n").splitlines() if line[:4].isdigit()]
    assert len(steps) >= 8
    assert steps[-1].endswith(f"succeeded (serving 2.0.0 100%) — stage 4/4: {CRITERIA}")


class _Terminal(io.StringIO):
    """A stream that says it is a terminal, in *encoding*."""

    def __init__(self, encoding: str = "utf-8") -> None:
        super().__init__()
        self._encoding = encoding

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("environ", "as_json", "progress", "drawn"),
    [
        ({"TERM": "xterm"}, False, "auto", True),
        ({"TERM": "xterm", "NO_COLOR": "1"}, False, "auto", True),  # the block has no colour: nothing to turn off
        ({"TERM": "xterm", "CI": "false"}, False, "auto", True),
        ({"TERM": "xterm", "CI": "true"}, False, "auto", False),
        ({"TERM": "xterm", "CI": "1"}, False, "auto", False),
        ({"TERM": "xterm", "GITHUB_ACTIONS": "true"}, False, "auto", False),
        ({"TERM": "dumb"}, False, "auto", False),
        ({}, False, "auto", False),  # no TERM: nothing known of the terminal
        ({"TERM": "xterm"}, True, "auto", False),
        ({"TERM": "xterm"}, False, "lines", False),
    ],
)
def test_where_the_block_is_drawn(environ: dict[str, str], as_json: bool, progress: str, drawn: bool) -> None:
    assert wanted(_Terminal(), as_json, progress, environ) is drawn
    assert wanted(io.StringIO(), as_json, progress, environ) is False  # not a terminal: a log


def test_a_terminal_that_cannot_show_the_marks_gets_ascii() -> None:
    assert LiveBlock(_Terminal("ascii")).ascii_only
    assert not LiveBlock(_Terminal("utf-8")).ascii_only


def test_a_line_is_cut_to_the_cells_it_takes() -> None:
    assert fit("abcdef", 6) == "abcdef"
    assert fit("abcdefg", 6) == "abcde…"
    assert fit("服务服务", 6) == "服务…"  # two cells each
    assert fit("ab", 1, "~") == "~"
