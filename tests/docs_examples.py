"""The documentation's examples, read from the pages and run as a user would: from a scratch folder outside the
repository, against the installed package, their output compared with what the page shows.

Console blocks: each ``$ command`` (with its ``\\`` continuations and heredoc lines) runs in one bash session, so
``export`` and files carry over; the lines after it are its expected output (stdout and stderr, as a terminal
shows them), ``...`` or ``…`` standing for any lines; a trailing ``# exit N`` says its exit code (else 0).
Python blocks: ``print(...)  # shown`` (or a comment line right after the print) is the line it must print.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
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


def matches(expected: list[str], actual: list[str]) -> bool:
    """*actual* is *expected*, where a ``...``/``…`` line stands for any lines (none included)."""
    if not expected:
        return True
    head, *rest = expected
    if head.strip() in ("...", "…"):
        return any(matches(rest, actual[start:]) for start in range(len(actual) + 1))
    return bool(actual) and actual[0].rstrip() == head.rstrip() and matches(rest, actual[1:])


def in_order(expected: list[str], actual: list[str]) -> bool:
    """Each expected line appears in *actual*, in order."""
    remaining = iter(line.rstrip() for line in actual)
    return all(any(line == wanted.rstrip() for line in remaining) for wanted in expected)


def user_environment(home: Path, **extra: str) -> dict[str, str]:
    """A user's shell: the installed ``findly-infra`` on PATH, none of our FINDLY_*/GITHUB_* settings."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("FINDLY_", "GITHUB_", "PYTEST", "COV_"))}
    bin_dir = str(Path(sys.executable).parent)
    return {**kept, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}", "HOME": str(home), "COLUMNS": "200", **extra}


def run_console(block: ConsoleBlock, folder: Path, env: dict[str, str], replace: dict[str, str] | None = None) -> None:
    """Run *block*'s steps in one bash session in *folder*; fail with the first step whose output or exit differs.
    *replace* maps what the page shows to what this run uses (an address): in commands, and back in outputs."""
    script = ["set +e"]
    results = folder / f".doc-results-{block.index}"
    results.mkdir()
    for number, step in enumerate(block.steps):
        command = step.command
        for old, new in (replace or {}).items():
            command = command.replace(old, new)
        script.append(f"{{ {command}\n}} > {results}/{number} 2>&1; echo $? > {results}/{number}.rc")
    completed = subprocess.run(
        ["bash", "-c", "\n".join(script)], cwd=folder, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert completed.returncode == 0, completed.stderr
    for number, step in enumerate(block.steps):
        output = (
            (results / str(number)).read_text().rstrip("\n").split("\n")
            if (results / str(number)).stat().st_size
            else []
        )
        for old, new in (replace or {}).items():
            output = [line.replace(new, old) for line in output]
        code = int((results / f"{number}.rc").read_text())
        shown = "\n".join(output)
        assert code == step.exit_code, (
            f"{block.id}: `{step.command}` exited {code}, the page says {step.exit_code}:\n{shown}"
        )
        expected = list(step.expected)
        assert matches(expected, output) if expected else True, (
            f"{block.id}: `{step.command}` printed\n{shown}\n\nthe page shows\n" + "\n".join(expected)
        )


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
    "console_blocks",
    "expected_prints",
    "in_order",
    "matches",
    "pages",
    "python_blocks",
    "run_console",
    "run_python",
    "user_environment",
]
