"""``state import`` is a door like any command's (issue 23): it lets in only what the commands would have recorded —
no future time, no time running backwards, no version, actor, suite or reason the commands refuse, no event of
another service, nothing the codec would read otherwise — and it reads its file as the other doors read theirs: a
regular file, line by line with a bound, nesting bounded before JSON parses it. Every refusal is exit 2 naming the
line, the event and the field, and nothing is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.application.ports import BadInputError
from findly_infra.application.transfer import MAX_LINE_BYTES, read_export
from findly_infra.cli import EXIT_BAD_INPUT
from findly_infra.domain.environment import dns_label_problem
from tests.conftest import EXAMPLE, PAST
from tests.test_release_cli import cli


def _env(state: Path) -> dict[str, str]:
    return {"FINDLY_CONFIG": str(EXAMPLE), "FINDLY_ACTOR": "erin", "FINDLY_STATE": str(state), "FINDLY_NOW": PAST}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """An export of a state with a canary rolled out, paused, resumed and rolled back, and a test result."""
    folder = tmp_path_factory.mktemp("export")
    env = _env(folder / "source.sqlite3")
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    assert cli(env, "pause", "fn-posts", "--env", "development", "--reason", "a look at the dashboards")[0] == 0
    assert cli(env, "resume", "fn-posts", "--env", "development", "--reason", "looks fine")[0] == 0
    assert cli(env, "rollout", "fn-posts", "--env", "development", "--watch")[0] == 0
    assert cli(env, "record", "fn-posts", "1.0.0", "--env", "development", "--suite", "unit", "--passed")[0] == 0
    assert cli(env, "deploy", "fn-posts", "1.1.0", "--env", "development", "--strategy", "canary")[0] == 0
    assert cli(env, "rollback", "fn-posts", "--env", "development", "--reason", "not today")[0] == 0
    target = folder / "export.jsonl"
    assert cli(env, "state", "export", "--output", str(target))[0] == 0
    return target.read_text().splitlines()


def _import(tmp_path: Path, lines: list[str]) -> tuple[int, dict[str, Any], Path]:
    source, state = tmp_path / "in.jsonl", tmp_path / "target.sqlite3"
    source.write_text("\n".join(lines) + "\n")
    code, document = cli(_env(state), "state", "import", str(source))
    return code, document, state


def _nothing_imported(state: Path) -> None:
    assert not state.exists()  # refused whole, before the state was even opened


def test_an_export_of_every_kind_of_event_moves_whole(tmp_path: Path, exported: list[str]) -> None:
    code, document, state = _import(tmp_path, exported)
    assert code == 0, document
    assert document["imported"]["fn-posts"] == len(exported) - 2  # type: ignore[index]
    assert cli(_env(state), "state", "verify")[0] == 0


def _event_line(lines: list[str], kind: str, nth: int = 0) -> int:
    found = [i for i, line in enumerate(lines) if json.loads(line).get("event", {}).get("event") == kind]
    return found[nth]


def _edited(kind: str, change: Callable[[dict[str, Any]], None], nth: int = 0) -> Callable[[list[str]], list[str]]:
    def edit(lines: list[str]) -> list[str]:
        lines = list(lines)
        index = _event_line(lines, kind, nth)
        record = json.loads(lines[index])
        change(record["event"])
        lines[index] = json.dumps(record)
        return lines

    return edit


def _set(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda event: event.update(values)


def _twice(lines: list[str]) -> list[str]:
    index = _event_line(lines, "TestResultRecorded")
    lines = list(lines)
    lines[index] = lines[index].replace('"actor": "erin"', '"actor": "erin", "actor": "root"')
    return lines


HOSTILE: dict[str, tuple[Callable[[list[str]], list[str]], str]] = {
    "future": (
        _edited("TestResultRecorded", _set(at="2999-01-01T00:00:00")),
        "field at: 2999-01-01T00:00:00 is in the future",
    ),
    "far-future": (
        _edited("TestResultRecorded", _set(at="9999-12-31T23:59:59")),
        "field at: 9999-12-31T23:59:59 is not a time a release happens at",
    ),
    "before-1970": (
        _edited("RolloutStarted", _set(at="0001-01-01T00:00:00")),
        "field at: 0001-01-01T00:00:00 is not a time a release happens at (years 1970 to 9000)",
    ),
    "backwards": (
        _edited("TestResultRecorded", _set(at="2026-01-05T08:00:00")),
        "field at: 2026-01-05T08:00:00 is before the event before it",
    ),
    "utc-offset": (_edited("TestResultRecorded", _set(at="2026-01-05T11:00:00+02:00")), "carries a UTC offset"),
    "version-newline": (
        _edited("RolloutStarted", _set(version="1.0.0\nforged")),
        "field version: '1.0.0\\nforged' is not",
    ),
    "actor-hidden": (
        _edited("RolloutPaused", _set(actor="erin\u200b")),
        "field actor: the actor 'erin\\u200b' has an unprintable",
    ),
    "actor-script": (_edited("RolloutPaused", _set(actor="\u0435rin")), "field actor: the actor"),
    "reason-newline": (_edited("RolledBack", _set(reason="not today\n::error::forged")), "field reason:"),
    "suite-control": (_edited("TestResultRecorded", _set(suite="unit\x1b[2J")), "field suite:"),
    "environment": (_edited("TestResultRecorded", _set(environment="Development\n")), "field environment:"),
    "previous": (_edited("RolloutStarted", _set(previous="1.0.0 ; rm"), nth=1), "field previous:"),
    "another-service": (
        _edited("TestResultRecorded", _set(service="fn-matcher")),
        "field service: an event of 'fn-matcher' in fn-posts's stream",
    ),
    "lax-bool": (
        _edited("TestResultRecorded", _set(passed="no")),
        'field passed: "no" is not as findly-infra writes it (it reads as true)',
    ),
    "lax-number": (_edited("TrafficShifted", _set(weight="100")), "field weight:"),
    "unknown-field": (
        _edited("TestResultRecorded", _set(approved=True)),
        "field approved: TestResultRecorded has no field 'approved'",
    ),
    "key-twice": (_twice, "the key 'actor' is given twice"),
    "does-not-fold": (
        _edited("RolloutSucceeded", _set(environment="staging")),
        "field event: cannot follow the events before it (a rollout's event, but no rollout was started",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_an_import_refuses_what_the_commands_refuse_naming_the_place_and_imports_nothing(
    tmp_path: Path, exported: list[str], case: str
) -> None:
    mangle, said = HOSTILE[case]
    code, document, state = _import(tmp_path, mangle(exported))
    assert code == EXIT_BAD_INPUT, document
    message = document["error"]["message"]  # type: ignore[index]
    assert said in message, message
    assert ", line " in message, message
    assert "nothing was imported" in message, message
    _nothing_imported(state)


def test_a_time_within_the_skew_of_the_real_clock_is_let_in_and_one_past_it_is_not() -> None:
    from datetime import datetime, timedelta

    from findly_infra.application.timekeeping import SKEW

    now = datetime(2026, 3, 1, 12)

    def export(at: datetime) -> list[str]:
        event = {
            "event": "TestResultRecorded", "type": "test_result_recorded", "service": "fn-posts",
            "environment": "development", "version": "1.0.0", "at": at.isoformat(), "actor": "ci", "reason": "",
            "suite": "unit", "passed": True,
        }  # fmt: skip
        header = {"format": "findly-state/1", "time": "wall", "streams": {"fn-posts": 1}}
        return [json.dumps(header), json.dumps({"service": "fn-posts", "position": 0, "event": event})]

    assert read_export(export(now + SKEW), now=now).streams["fn-posts"][0].at == now + SKEW
    with pytest.raises(BadInputError, match=r"line 2: fn-posts's event 0, field at: .* is in the future"):
        read_export(export(now + SKEW + timedelta(seconds=1)), now=now)


def _run(*args: str, env: dict[str, str], stdin: Any = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "findly_infra", *args],
        capture_output=True,
        text=True,
        timeout=30,  # a FIFO that blocks the import would hang it: a timeout fails the test
        env={**os.environ, "GITHUB_ACTIONS": "", **env},
        stdin=stdin,
        check=False,
    )


def test_an_import_reads_only_a_regular_file_with_bounded_lines_and_bounded_nesting(tmp_path: Path) -> None:
    """Issue 23: /dev/zero was exit 1 (MemoryError), a FIFO hung, 100,000 nested ``[`` were exit 1 (RecursionError)."""
    env = _env(tmp_path / "target.sqlite3")
    fifo = tmp_path / "export.fifo"
    os.mkfifo(fifo)
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    long = tmp_path / "long.jsonl"
    long.write_bytes(b" " * (MAX_LINE_BYTES + 10))
    for path, said in (
        ("/dev/zero", "/dev/zero is not a regular file"),
        (str(fifo), "export.fifo is not a regular file"),
        (str(tmp_path), "Is a directory"),
        (str(deep), "deep.jsonl, line 1: nested deeper than 64 levels"),
        (str(long), "long.jsonl, line 1: longer than 4 MiB"),
    ):
        result = _run("state", "import", path, env=env)
        assert result.returncode == EXIT_BAD_INPUT, (path, result.stderr)
        assert said in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    with open("/dev/zero", "rb") as zero:  # standard input is read with the same bound
        result = _run("state", "import", "-", env=env, stdin=zero)
    assert result.returncode == EXIT_BAD_INPUT, result.stderr
    assert "standard input, line 1: longer than 4 MiB" in result.stderr
    assert not (tmp_path / "target.sqlite3").exists()  # refused before the state was opened


@given(st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True), st.sampled_from(["\n", " ", "A", "_"]))
def test_a_name_is_a_dns_label_the_whole_of_it(label: str, extra: str) -> None:
    """The rule service and environment names share — which an import applies to each stream and event: a DNS label,
    the whole text (``re.match`` with ``$`` let ``"fn-posts\\n"`` through)."""
    assert dns_label_problem(label, "a service name") is None
    assert dns_label_problem(label + extra, "a service name") is not None
    assert dns_label_problem(extra + label, "a service name") is not None
    assert dns_label_problem("a" * 64, "a service name") is not None
