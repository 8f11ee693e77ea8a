"""A watch's compact live view on a terminal: a small block redrawn in place at each step (issue 26).

The block says the service, environment and version, the stage with a bar of the new version's share, each criterion's
value beside its threshold with ✓/✗, when the next analysis comes, and the last event. It is drawn only where a person
watches a terminal (:func:`wanted`); CI logs, pipes and files keep one line per step, exactly as before.

Drawing: each redraw moves the cursor back to the block's first line (``CSI n F``), rewrites every line from its
start (``CSI 2K``) and clears what a longer block left below (``CSI J``) — ECMA-48's cursor and erase controls, which
every terminal emulator in use reads. Each line is cut to the terminal's width (read at each redraw, so a resize
takes effect at the next step), so that no line wraps and the cursor count stays true. The block is written in one
piece with Ctrl-C held back for that instant, so an interrupted watch leaves its last whole block on screen, with
the cursor below it for whatever is said next (the result line, or "interrupted")."""

from __future__ import annotations

import os
import shutil
import signal
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from findly_infra.application.service import Outcome

__all__ = ["LiveBlock", "block_lines", "wanted"]

_GLYPHS = {"pass": "✓", "fail": "✗", "inconclusive": "?", "full": "█", "empty": "░", "cut": "…"}
_ASCII = {"pass": "+", "fail": "x", "inconclusive": "?", "full": "#", "empty": "-", "cut": "~"}
_STOPPED = {"rolled_back": "rolled back", "rollout_paused": "paused", "rollout_aborted": "aborted"}
BAR = 20
"""Cells of the weight bar: one per 5 % of traffic."""


def wanted(out: IO[str], as_json: bool, progress: str = "auto", environ: Mapping[str, str] | None = None) -> bool:
    """Whether a watch draws the live block: stdout is a terminal, and nothing says this is a log. A log is
    ``--json`` (stdout is one document), ``CI`` set to anything but ``false``/``0`` (GitHub Actions, GitLab CI,
    CircleCI, Travis… set it), ``GITHUB_ACTIONS=true``, ``TERM=dumb`` or unset (no cursor movement to rely on), or
    *progress* ``lines`` (``FINDLY_PROGRESS=lines``: a person who wants the lines on a terminal). ``NO_COLOR`` changes
    nothing: the block uses no colour."""
    env = os.environ if environ is None else environ
    if as_json or progress == "lines":
        return False
    if env.get("CI", "").lower() not in ("", "false", "0") or env.get("GITHUB_ACTIONS") == "true":
        return False
    if env.get("TERM", "dumb") == "dumb":
        return False
    try:
        return out.isatty()
    except (AttributeError, ValueError):  # a closed or foreign stream
        return False


def _cells(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 0 if unicodedata.combining(ch) else 1 for ch in text)


def fit(line: str, columns: int, cut: str = "…") -> str:
    """*line* in at most *columns* cells (wide characters count two), ending with *cut* where it was shortened."""
    if _cells(line) <= columns:
        return line
    kept, used = [], _cells(cut)
    for ch in line:
        width = _cells(ch)
        if used + width > columns:
            break
        kept.append(ch)
        used += width
    return "".join(kept) + cut


def _duration(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours}h" if hours else "", f"{minutes}m" if minutes else "", f"{seconds}s" if seconds else ""]
    return " ".join(part for part in parts if part) or "0s"


def block_lines(
    outcome: Outcome, interval: timedelta, window: str, *, ascii_only: bool = False, next_at: datetime | None = None
) -> list[str]:
    """The block for *outcome*'s step, line by line (not yet cut to a width)::

    fn-posts in production: 2.0.0 by canary, from 1.0.0
    stage 2/4 [█████░░░░░░░░░░░░░░░]  25%  progressing: serving 1.0.0 75%, canary 2.0.0 25%
      ✓ error_rate              0.100%  (threshold < 0.5%)
      ✗ latency_p95              900ms  (threshold < 500ms)
    next analysis at 09:03:00 (in 1m)
    last: 09:02:00 analysis_recorded fail
    """
    from findly_infra.application.steps import bound_text, shown, step_facts, triggers
    from findly_infra.cli.present import printable

    glyph = _ASCII if ascii_only else _GLYPHS
    view, facts = outcome.view, step_facts(outcome, interval, window, next_at=next_at)
    rollout = view.rollout
    head = f"{view.service} in {view.environment}"
    if rollout is not None:
        head += f": {rollout.version} by {rollout.strategy.value}"
        head += f", from {rollout.previous}" if rollout.previous else ""
    share = view.rollout_share
    filled = min(BAR, max(0, round(share * BAR / 100)))
    bar = glyph["full"] * filled + glyph["empty"] * (BAR - filled)
    stage = facts["stage"]
    where = f"stage {stage['n']}/{stage['of']} " if stage else ""
    shares = [f"serving {view.serving.version} {view.serving.weight}%"] if view.serving else []
    if view.candidate is not None:
        shares.append(
            f"{view.strategy.value if view.strategy else 'candidate'} {view.candidate.version} {view.candidate.weight}%"
        )
    lines = [head, f"{where}[{bar}] {share:>3}%  {view.phase.value}: {', '.join(shares) or 'nothing serving'}"]
    for criterion in facts["criteria"]:
        mark = glyph.get(criterion["verdict"], "?")
        value = shown(criterion["metric"], criterion["value"])
        bound = bound_text(criterion["threshold"], trigger=triggers(view))
        lines.append(f"  {mark} {criterion['metric']:20} {value:>9}  {bound}")
    if "no_verdict_because" in facts:
        lines.append(f"  no verdict: {facts['no_verdict_because']}")
    stopped = facts["stopped"]
    if stopped is not None:  # the failing criteria are marked above: say what stopped it, where, over which window
        at_stage = f" at stage {stage['n']}/{stage['of']} ({stage['weight']}%)" if stage else ""
        lines.append(f"{_STOPPED.get(stopped['event'], stopped['event'])}{at_stage}: {stopped['reason']}")
        if stopped["failing"]:
            marked = ", ".join(c["metric"] for c in stopped["failing"])
            lines.append(f"  {marked} over the last {window}")
    else:
        if facts["next_step_at"] is not None:  # before the first analysis, when it is due (how long: not known here)
            within = f" (in {_duration(interval)})" if outcome.events else " (the first of this watch)"
            lines.append(f"next analysis at {facts['next_step_at'][11:19]}{within}")
        if view.waiting_for is not None:  # evidence a blue-green rollout waits for, an approval: what unblocks it
            lines.append(f"waiting for {view.waiting_for.message}")
        if facts["next_step_at"] is None and view.waiting_for is None:
            lines.append(f"{view.phase.value}: nothing is next")
    if outcome.events:
        last = outcome.events[-1]
        verdict = getattr(last, "verdict", None)
        what = verdict.value if verdict is not None else "" if stopped is not None else last.reason
        lines.append(f"last: {last.at.time().isoformat(timespec='seconds')} {last.type}" + (f" {what}" if what else ""))
    else:
        lines.append("last: nothing yet in this watch")
    return [printable(line, one_line=True) for line in lines]


class LiveBlock:
    """A block of lines redrawn in place on the terminal *out*."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._height = 0
        encoding = getattr(out, "encoding", None) or "ascii"
        try:
            "".join(_GLYPHS.values()).encode(encoding)
            self.ascii_only = False
        except (UnicodeEncodeError, LookupError):
            self.ascii_only = True

    def _columns(self) -> int:
        try:
            columns = os.get_terminal_size(self._out.fileno()).columns
        except (AttributeError, OSError, ValueError):
            columns = shutil.get_terminal_size().columns
        return max(columns, 20)

    def draw(self, lines: Sequence[str]) -> None:
        """Replace the block on screen with *lines*, each cut to the terminal's width less one column (a line that
        fills the last column leaves the cursor waiting to wrap, and some terminals then count a line more)."""
        columns = self._columns() - 1
        cut = _ASCII["cut"] if self.ascii_only else _GLYPHS["cut"]
        body = "".join(f"\x1b[2K{fit(line, columns, cut)}\n" for line in lines)
        text = (f"\x1b[{self._height}F" if self._height else "\r") + body + "\x1b[J"
        self._write(text)
        self._height = len(lines)

    def release(self) -> None:
        """Leave the block where it is: whatever is said next goes below it, and the next draw starts afresh there."""
        self._height = 0

    def _write(self, text: str) -> None:
        """*text* written and flushed whole: Ctrl-C (SIGINT) is held back for that instant where the platform allows,
        so that an interrupt never leaves half a block; it is delivered right after."""
        mask = getattr(signal, "pthread_sigmask", None)
        held = False
        if mask is not None:
            try:
                mask(signal.SIG_BLOCK, {signal.SIGINT})
                held = True
            except (OSError, ValueError):
                held = False
        try:
            self._out.write(text)
            self._out.flush()
        finally:
            if held and mask is not None:
                mask(signal.SIG_UNBLOCK, {signal.SIGINT})
