"""The documentation's examples, read from the pages and run as a user would: from a scratch folder outside the
repository, against the installed package, their output compared with what the page shows.

Console blocks: each ``$ command`` (with its ``\\`` continuations and heredoc lines) runs in one bash session, so
``export`` and files carry over; the lines after it are its expected output (stdout and stderr, as a terminal
shows them), ``...`` or ``…`` standing for any lines; a trailing ``# exit N`` says its exit code (else 0).
A ``…`` inside a line stands for any text (a process id, a temporary folder).

A page's console blocks run in ONE bash session, as someone following the page in one terminal would (``kill %1`` in
a later block stops what an earlier one started). A command ending in ``&`` starts a server in the background, as the
pages do with the stand-ins (``python -m findly_infra.testing.gke --port 8443 --example &``): the next command waits
until it has printed what the page shows it printing (its readiness: the launchers print once they serve), or fail if
it ends first. When the page ends, every process the session started — its jobs and anything they started in its
process group — is stopped (SIGTERM, then SIGKILL), and the run fails if one could not be: no server is left behind.
Python blocks: ``print(...)  # shown`` (or a comment line right after the print) is the line it must print.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
_EXIT = re.compile(r"#\s*exit (\d+)")
_HEREDOC = re.compile(r"<<-?\s*'?([A-Za-z_]+)'?")


@attrs.frozen
class Step:
    command: str
    expected: tuple[str, ...]
    exit_code: int


@attrs.frozen
class ConsoleBlock:
    page: str
    index: int
    steps: tuple[Step, ...]

    @property
    def id(self) -> str:
        return f"{self.page}#{self.index}"

    @property
    def text(self) -> str:
        return "\n".join(step.command for step in self.steps)


def _blocks(language: str, pages: list[Path] | None = None) -> Iterator[tuple[str, int, str]]:
    for page in pages or [*sorted(DOCS.glob("*.md")), ROOT / "README.md"]:
        for index, block in enumerate(re.findall(rf"```{language}\n(.*?)```", page.read_text(), re.S)):
            yield page.name, index, block


def console_blocks() -> list[ConsoleBlock]:
    found = []
    for page, index, block in _blocks("console"):
        steps: list[Step] = []
        lines = block.rstrip("\n").split("\n")
        position = 0
        while position < len(lines):
            line = lines[position]
            if not line.startswith("$ "):
                raise ValueError(f"{page} console block {index}: output before any command: {line!r}")
            command = [line[2:]]
            position += 1
            while command[-1].endswith("\\") and position < len(lines):  # continuation lines
                command.append(lines[position])
                position += 1
            heredoc = _HEREDOC.search(command[0])
            if heredoc and not command[0].lstrip().startswith("#"):
                while position < len(lines):
                    command.append(lines[position])
                    position += 1
                    if command[-1] == heredoc.group(1):
                        break
            expected = []
            while position < len(lines) and not lines[position].startswith("$ "):
                expected.append(lines[position])
                position += 1
            text = "\n".join(command)
            code = _EXIT.search(command[-1])
            steps.append(Step(text, tuple(expected), int(code.group(1)) if code else 0))
        found.append(ConsoleBlock(page, index, tuple(steps)))
    return found


def pages() -> dict[str, list[ConsoleBlock]]:
    """The console blocks of each page that has some, in the page's order."""
    found: dict[str, list[ConsoleBlock]] = {}
    for block in console_blocks():
        found.setdefault(block.page, []).append(block)
    return found


def python_blocks() -> list[tuple[str, str]]:
    return [(f"{page}#{index}", block) for page, index, block in _blocks("python")]


def expected_prints(code: str) -> list[str]:
    """What a Python block says it prints: ``print(...)  # line``, or a comment line right after a print."""
    shown = []
    lines = code.split("\n")
    for number, line in enumerate(lines):
        if "print(" not in line:
            continue
        comment = re.search(r"\)\s+#\s?(.*)$", line)
        if comment:
            shown.append(comment.group(1).rstrip())
        elif number + 1 < len(lines) and lines[number + 1].strip().startswith("#"):
            shown.append(lines[number + 1].strip()[1:].strip())
    return shown


def _line_matches(expected: str, actual: str) -> bool:
    expected, actual = expected.rstrip(), actual.rstrip()
    if "…" not in expected:
        return actual == expected
    return re.fullmatch(".*".join(re.escape(part) for part in expected.split("…")), actual, re.S) is not None


def matches(expected: list[str], actual: list[str]) -> bool:
    """*actual* is *expected*, where a ``...``/``…`` line stands for any lines (none included) and a ``…`` inside a
    line for any text. Showing nothing checks nothing; showing something shows all of it: a line printed after the
    last one shown fails (a page that means "and more" ends with ``...``)."""
    return not expected or _whole(expected, actual)


def _whole(expected: list[str], actual: list[str]) -> bool:
    if not expected:
        return not actual
    head, *rest = expected
    if head.strip() in ("...", "…"):
        return any(_whole(rest, actual[start:]) for start in range(len(actual) + 1))
    return bool(actual) and _line_matches(head, actual[0]) and _whole(rest, actual[1:])


def in_order(expected: list[str], actual: list[str]) -> bool:
    """Each expected line appears in *actual*, in order."""
    remaining = iter(line.rstrip() for line in actual)
    return all(any(line == wanted.rstrip() for line in remaining) for wanted in expected)


_NOT_THE_USERS = ("FINDLY_", "GITHUB_", "PYTEST", "COV_", "PG", "KUBE", "GOOGLE_", "CLOUDSDK_", "ACTIONS_", "RUNNER_")


def user_environment(home: Path, **extra: str) -> dict[str, str]:
    """A user's shell: the installed ``findly-infra`` on PATH, HOME a folder of its own, and none of the settings
    that would make a page pass here and not for them — our FINDLY_*/GITHUB_* variables, a kubeconfig
    (KUBECONFIG), PostgreSQL's PG* variables, Google credentials, a PYTHONPATH reaching the checkout."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(_NOT_THE_USERS) and k not in ("PYTHONPATH", "CI")}
    bin_dir = str(Path(sys.executable).parent)
    return {**kept, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}", "HOME": str(home), "COLUMNS": "200", **extra}


_STARTED_WITHIN = 60.0
"""Seconds a server started in the background (``… &``) has to print what the page shows, before the page fails."""


def _group(pgid: int) -> list[int]:
    """The live (not zombie) processes of process group *pgid*, read from ``/proc`` (Linux)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # /proc/PID/stat: "PID (COMM) STATE PPID PGRP …", COMM may hold spaces and parentheses (proc(5))
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(stat.parent.name))
    return found


def _background(command: str) -> bool:
    """Whether *command* ends by putting its last pipeline in the background (``… &``, a comment after it)."""
    last = command.rstrip().split("\n")[-1]
    return re.search(r"(?<![&>|])&\s*(#.*)?$", last) is not None


class Shell:
    """One bash session in *folder* for a page's console blocks, in its own process group: ``run(block)`` runs each
    step and checks it; ``close()`` (or leaving the ``with``) stops everything the session started. *replace* maps
    what the page shows to what this run uses (an address, a port): in commands, and back in outputs."""

    def __init__(
        self, folder: Path, env: dict[str, str], replace: dict[str, str] | None = None, *, grace: float = 15.0
    ) -> None:
        self.folder = folder
        self.grace = grace  # seconds the page's processes have to end on SIGTERM before SIGKILL
        self.replace = dict(replace or {})
        self.results = Path(tempfile.mkdtemp(prefix="findly-doc-results-"))  # outside the folder: it stays empty
        self.count = 0
        self.left_behind: list[int] = []
        self.errors = self.results / "shell.stderr"  # the shell's own words (a syntax error), not a step's
        with self.errors.open("w") as errors:
            self.process = subprocess.Popen(
                ["bash", "--noprofile", "--norc"],
                cwd=folder,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                text=True,
                start_new_session=True,  # its own process group: everything it starts is stopped at the end
            )

    def __enter__(self) -> Shell:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def _wait_for(self, path: Path, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            if self.process.poll() is not None:
                said = self.errors.read_text(errors="replace")[-2000:]
                raise AssertionError(f"the shell ended (exit {self.process.returncode}) mid-step:\n{said}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no end to a step within {timeout:g} s")
            time.sleep(0.01)

    def _output(self, number: int) -> list[str]:
        text = (self.results / str(number)).read_text(errors="replace")
        lines = text.rstrip("\n").split("\n") if text else []
        for old, new in self.replace.items():
            lines = [line.replace(new, old) for line in lines]
        return lines

    def step(self, command: str) -> int:
        """Run *command* (as the page shows it) and return its number; its output is ``self._output(number)``."""
        number, self.count = self.count, self.count + 1
        for old, new in self.replace.items():
            command = command.replace(old, new)
        out, rc = self.results / str(number), self.results / f"{number}.rc"
        if _background(command):  # its output keeps going to its file; $! is the job
            self._send(f'{{ {command}\n}} > {out} 2>&1 < /dev/null; echo "0 $!" > {rc}.part; mv {rc}.part {rc}')
        else:
            self._send(f"{{ {command}\n}} > {out} 2>&1 < /dev/null; echo $? > {rc}.part; mv {rc}.part {rc}")
        self._wait_for(rc)
        return number

    def run(self, block: ConsoleBlock) -> None:
        """Run *block*'s steps in this session; fail with the first step whose output or exit differs."""
        for step in block.steps:
            number = self.step(step.command)
            code, *job = (int(word) for word in (self.results / f"{number}.rc").read_text().split())
            expected = list(step.expected)
            if job:  # a server in the background: wait until it has said what the page shows, or has ended
                deadline = time.monotonic() + _STARTED_WITHIN
                while not matches([*expected, "..."], output := self._output(number)):  # it goes on printing
                    ended = not _group_has(job[0])
                    if ended or time.monotonic() > deadline:
                        why = "ended" if ended else f"did not print it within {_STARTED_WITHIN:g} s"
                        raise AssertionError(
                            f"{block.id}: `{step.command}` {why}; it printed\n"
                            + "\n".join(self._output(number))
                            + "\n\nthe page shows\n"
                            + "\n".join(expected)
                        )
                    time.sleep(0.02)
                continue
            output = self._output(number)
            shown = "\n".join(output)
            assert code == step.exit_code, (
                f"{block.id}: `{step.command}` exited {code}, the page says {step.exit_code}:\n{shown}"
            )
            assert matches(expected, output), (
                f"{block.id}: `{step.command}` printed\n{shown}\n\nthe page shows\n" + "\n".join(expected)
            )

    def close(self) -> None:
        """Stop every job, then every process left in the session's group (SIGTERM, then SIGKILL); the processes
        that needed SIGKILL are in ``left_behind``."""
        pgid = self.process.pid
        if self.process.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                self._send("kill $(jobs -p) 2>/dev/null; exit 0")  # the jobs first, as a reader's Ctrl-D would not
                assert self.process.stdin is not None
                self.process.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        for sig, grace in ((signal.SIGTERM, self.grace), (signal.SIGKILL, 5.0)):
            members = _group(pgid)
            if not members:
                break
            if sig == signal.SIGKILL:
                self.left_behind = members
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, sig)
            deadline = time.monotonic() + grace
            while _group(pgid) and time.monotonic() < deadline:
                time.sleep(0.05)
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        shutil.rmtree(self.results, ignore_errors=True)


def _group_has(pid: int) -> bool:
    """Whether process *pid* is alive (not a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def run_page(
    blocks: list[ConsoleBlock], folder: Path, env: dict[str, str], replace: dict[str, str] | None = None
) -> None:
    """Run a page's console *blocks* in order, in one session in *folder*; fail with the first step that differs,
    and if a process the page started outlived it (needed SIGKILL)."""
    with Shell(folder, env, replace) as shell:
        for block in blocks:
            shell.run(block)
    assert not shell.left_behind, f"{blocks[0].page}: processes outlived SIGTERM at the page's end: {shell.left_behind}"


def run_console(block: ConsoleBlock, folder: Path, env: dict[str, str], replace: dict[str, str] | None = None) -> None:
    """Run *block*'s steps in a bash session of its own in *folder* (see :func:`run_page`)."""
    run_page([block], folder, env, replace)


def free_ports(*shown: int) -> dict[str, str]:
    """For each port a page shows (``8443``): a free port of 127.0.0.1 this run uses instead, as the replacements
    ``Shell`` takes — ``127.0.0.1:8443`` and ``--port 8443`` — so that pages run side by side, beside servers the
    machine already runs on the pages' ports."""
    replace = {}
    for port in shown:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        replace[f"127.0.0.1:{port}"] = f"127.0.0.1:{free}"
        replace[f"--port {port}"] = f"--port {free}"
    return replace


def run_python(name: str, code: str, folder: Path, env: dict[str, str]) -> None:
    script = folder / "example.py"
    script.write_text(code)
    completed = subprocess.run(
        [sys.executable, str(script)], cwd=folder, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert completed.returncode == 0, f"{name} failed:\n{completed.stderr}"
    expected = expected_prints(code)
    printed = completed.stdout.rstrip("\n").split("\n")
    assert in_order(expected, printed), f"{name} printed\n{completed.stdout}\nthe page shows\n" + "\n".join(expected)


__all__ = [
    "ConsoleBlock",
    "Shell",
    "console_blocks",
    "expected_prints",
    "free_ports",
    "in_order",
    "matches",
    "pages",
    "python_blocks",
    "run_console",
    "run_page",
    "run_python",
    "user_environment",
]
