"""Moving a state: SQLite -> PostgreSQL -> SQLite through ``state export`` / ``state import`` keeps every stream whole
and in order, with its time; an import never writes over a stream, is checked whole before anything is written, and
can be run again after an interruption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from findly_infra.adapters.memory import MemoryEventStore
from findly_infra.adapters.postgresql import PostgresEventStore
from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.application.ports import BadInputError
from findly_infra.application.transfer import export_lines, import_lines
from tests.conftest import EXAMPLE, PAST
from tests.test_release_cli import cli


def _env(state: str) -> dict[str, str]:
    return {"FINDLY_CONFIG": str(EXAMPLE), "FINDLY_ACTOR": "erin", "FINDLY_STATE": state, "FINDLY_NOW": PAST}


def _released(state: str) -> None:
    env = _env(state)
    for service in ("fn-posts", "fn-matcher"):
        assert cli(env, "deploy", service, "1.0.0", "--env", "development", "--strategy", "canary")[0] == 0
        assert cli(env, "rollout", service, "--env", "development", "--watch")[0] == 0
    assert cli(env, "deploy", "fn-posts", "1.1.0", "--env", "development", "--strategy", "canary")[0] == 0


def test_a_state_moves_from_sqlite_to_postgresql_and_back_whole(tmp_path: Path, pg_url: str) -> None:
    sqlite = str(tmp_path / "state.sqlite3")
    _released(sqlite)
    exported = tmp_path / "export.jsonl"
    code, document = cli(_env(sqlite), "state", "export", "--output", str(exported))
    assert (code, document["events"]) == (0, len(exported.read_text().splitlines()) - 1)
    code, document = cli(_env(pg_url), "state", "import", str(exported))
    assert code == 0
    assert set(document["imported"]) == {"_policy", "fn-posts", "fn-matcher"}  # type: ignore[arg-type]
    assert document["time"] == "virtual"  # a rehearsal's state stays one
    back = str(tmp_path / "back.sqlite3")
    again = tmp_path / "again.jsonl"
    assert cli(_env(pg_url), "state", "export", "--output", str(again))[0] == 0
    assert again.read_text() == exported.read_text()  # the same lines, in the same order
    assert cli(_env(back), "state", "import", str(again))[0] == 0
    for service in ("fn-posts", "fn-matcher"):
        assert cli(_env(back), "history", service)[1] == cli(_env(sqlite), "history", service)[1]
        assert (
            cli(_env(pg_url), "status", service)[1]["services"] == cli(_env(sqlite), "status", service)[1]["services"]
        )
    # the rollout under way carries on in its new home
    code, document = cli(_env(pg_url), "rollout", "fn-posts", "--env", "development", "--watch")
    assert (code, document["phase"]) == (0, "succeeded")


def test_an_import_never_writes_over_a_stream_and_can_be_run_again(tmp_path: Path) -> None:
    source = SqliteEventStore(tmp_path / "source.sqlite3")
    _released(str(tmp_path / "source.sqlite3"))
    lines = list(export_lines(source))
    target = MemoryEventStore()
    first = import_lines(target, lines)
    assert sorted(first.imported) == ["_policy", "fn-matcher", "fn-posts"]  # the policy in force moves too
    again = import_lines(target, lines)  # interrupted, or simply run twice: nothing written twice
    assert (again.imported, again.already) == ({}, ("_policy", "fn-matcher", "fn-posts"))
    other = MemoryEventStore()
    other.append("fn-posts", 0, target.load("fn-posts")[0][:1])
    with pytest.raises(BadInputError, match="fn-posts already has 1 events in this state"):
        import_lines(other, lines)
    assert other.load("fn-matcher") == ([], 0)  # refused before anything was written


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda lines: lines[:-1], "has .* events, the header says .*incomplete"),
        (lambda lines: [*lines[:2], *lines[3:]], "event 1 comes where event 0 should"),  # line 2: the policy
        (lambda lines: [lines[0], lines[1][:40], *lines[2:]], "line 2: not JSON"),
        (lambda lines: lines[1:], "line 1: not a findly state export"),
        (lambda _: [], "is empty"),
        (
            lambda lines: [
                lines[0],
                json.dumps({**json.loads(lines[1]), "event": {"event": "Nonsense"}}),
                *lines[2:],
            ],
            "line 2: .* cannot be read",
        ),
    ],
)
def test_a_damaged_export_is_refused_naming_its_line_before_anything_is_written(
    tmp_path: Path, mangle: object, message: str
) -> None:
    _released(str(tmp_path / "source.sqlite3"))
    lines = list(export_lines(SqliteEventStore(tmp_path / "source.sqlite3")))
    target = MemoryEventStore()
    with pytest.raises(BadInputError, match=message):
        import_lines(target, mangle(lines))  # type: ignore[operator]
    assert target.streams == {}


def test_an_export_into_a_state_that_keeps_other_time_is_refused(tmp_path: Path, pg_url: str) -> None:
    _released(str(tmp_path / "source.sqlite3"))
    lines = list(export_lines(SqliteEventStore(tmp_path / "source.sqlite3")))  # virtual time
    store = PostgresEventStore(pg_url)
    store.keep_time("wall")
    with pytest.raises(BadInputError, match="keeps wall time and the export virtual time"):
        import_lines(store, lines)
    assert store.services() == []
    store.close()
