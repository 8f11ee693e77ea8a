"""The state survives a region (issue 27, item 2): ``state backup --to DIR`` writes one new file, read in one
transaction (consistent while another writer appends), whole or not at all (a killed backup leaves no file under a
backup's name), with each stream's head link; ``state restore`` writes it only into an empty state, every line checked
as an import is and every link recomputed — a tampered or truncated backup is refused naming the stream and the event,
and nothing is written; ``state backup --check`` holds the newest backup's age to the RPO (exit 3, rule
``rpo-target``) with times given by ``FINDLY_NOW``, never the wall clock."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from findly_infra.adapters.memory import MemoryEventStore
from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.application.backup import (
    BACKUP_NAME,
    BackupInfo,
    backup_name,
    newest_backup,
    read_backup,
    restore_backup,
    rpo_refusal,
    write_backup,
)
from findly_infra.application.ports import BadInputError, StateError
from findly_infra.application.timekeeping import SKEW
from findly_infra.application.transfer import export_lines, import_lines
from findly_infra.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_REFUSED
from findly_infra.domain.events import AnalysisRecorded, Verdict
from findly_infra.domain.recovery import (
    DR_STREAM,
    RecoveryKind,
    RecoveryStarted,
    RecoveryStep,
    RecoveryStepDone,
)
from tests.conftest import EXAMPLE, PAST
from tests.test_release_cli import cli

TAKEN = "2026-01-05T10:00:00Z"
"""When the tests' backups are taken (``FINDLY_NOW``): after every event of the source state (``PAST`` on)."""


def _env(state: Path | str, now: str = TAKEN) -> dict[str, str]:
    return {"FINDLY_CONFIG": str(EXAMPLE), "FINDLY_ACTOR": "erin", "FINDLY_STATE": str(state), "FINDLY_NOW": now}


@pytest.fixture(scope="module")
def source_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state with two services rolled out by canary, one rolling out still, the policy in force, and a drill's
    recovery events (the ``_dr`` stream)."""
    return built_source(tmp_path_factory.mktemp("source"))


def built_source(folder: Path) -> Path:
    """The state :func:`source_state` gives, built in *folder* (shared with the PostgreSQL tests)."""
    state = folder / "state.sqlite3"
    env = _env(state, PAST)
    for service in ("fn-posts", "fn-matcher"):
        assert cli(env, "deploy", service, "1.0.0", "--env", "development", "--strategy", "canary")[0] == 0
        assert cli(env, "rollout", service, "--env", "development", "--watch")[0] == 0
    assert cli(env, "deploy", "fn-posts", "1.1.0", "--env", "development", "--strategy", "canary")[0] == 0
    store = SqliteEventStore(state)
    try:
        store.append(DR_STREAM, 0, _drill(datetime(2026, 1, 5, 9, 30)))
    finally:
        store.close()
    return state


def _drill(at: datetime) -> list[Any]:
    started = RecoveryStarted(
        service=DR_STREAM,
        environment="",
        version="",
        at=at,
        actor="erin",
        operation="drill-1",
        kind=RecoveryKind.DRILL,
        target="simulated",
        environments=("development",),
        backup_age_seconds=60.0,
    )
    done = RecoveryStepDone(
        service=DR_STREAM,
        environment="",
        version="",
        at=at + timedelta(minutes=1),
        actor="erin",
        operation="drill-1",
        step=RecoveryStep.CLUSTER,
        started=at,
    )
    return [started, done]


def _copy(state: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / state.name
    shutil.copy(state, target)
    return target


def _rows(store: Any) -> dict[str, list[tuple[int, str, str | None]]]:
    """Every stream as stored: (position, text, link)."""
    return {service: list(store.chain(service)) for service in store.services()}


def _backup(state: Path, folder: Path, now: str = TAKEN) -> Path:
    code, document = cli(_env(state, now), "state", "backup", "--to", str(folder))
    assert code == EXIT_OK, document
    return Path(str(document["backup"]))


def _lines(backup: Path) -> list[str]:
    return gzip.decompress(backup.read_bytes()).decode().splitlines()


def _rewritten(backup: Path, lines: list[str], name: str = "changed") -> Path:
    target = backup.with_name(f"{name}-{backup.name}")
    target.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return target


# ---- the recovery stream moves like the others -----------------------------------------------------------------------


def test_an_export_holding_the_recovery_stream_imports_whole() -> None:
    source = MemoryEventStore()
    source.append(DR_STREAM, 0, _drill(datetime(2026, 1, 5, 9, 30)))
    target = MemoryEventStore()
    report = import_lines(target, list(export_lines(source)))
    assert report.imported == {DR_STREAM: 2}
    assert target.load(DR_STREAM)[0] == source.load(DR_STREAM)[0]


def test_a_recovery_event_naming_an_environment_or_a_version_is_not_let_in() -> None:
    source = MemoryEventStore()
    source.append(DR_STREAM, 0, _drill(datetime(2026, 1, 5, 9, 30)))
    lines = list(export_lines(source))
    record = json.loads(lines[1])
    record["event"]["environment"] = "production"
    with pytest.raises(BadInputError, match="_dr's event 0, field environment: a recovery operation's event names"):
        import_lines(MemoryEventStore(), [lines[0], json.dumps(record), *lines[2:]])


# ---- round trips -----------------------------------------------------------------------------------------------------


def test_a_backup_restores_into_a_new_sqlite_state_event_by_event_with_the_same_links(
    source_state: Path, tmp_path: Path
) -> None:
    backup = _backup(source_state, tmp_path / "backups")
    assert BACKUP_NAME.fullmatch(backup.name)
    assert backup.stat().st_mode & 0o777 == 0o600  # the whole record, tokens with it: its owner's alone
    assert backup.name == "findly-state-20260105T100000Z.jsonl.gz"
    header = json.loads(_lines(backup)[0])
    source = SqliteEventStore(source_state, create=False)
    try:
        rows = _rows(source)
        assert header["streams"] == {service: len(stream) for service, stream in rows.items()}
        assert header["backup"]["heads"] == {service: stream[-1][2] for service, stream in rows.items()}
        assert header["backup"]["taken_at"] == "2026-01-05T10:00:00"
        assert header["backup"]["newest_event_at"] == source.latest_time().isoformat()  # type: ignore[union-attr]
    finally:
        source.close()
    restored = tmp_path / "restored.sqlite3"
    code, document = cli(_env(restored), "state", "restore", str(backup))
    assert code == EXIT_OK, document
    assert document["restored"] == {service: len(stream) for service, stream in rows.items()}
    target = SqliteEventStore(restored, create=False)
    try:
        assert _rows(target) == rows  # every event, as stored, with its link
    finally:
        target.close()
    assert cli(_env(restored), "state", "verify")[0] == EXIT_OK
    # the rollout under way carries on in its new home, from the restored log
    code, document = cli(_env(restored), "rollout", "fn-posts", "--env", "development", "--watch")
    assert (code, document["phase"]) == (EXIT_OK, "succeeded")


def test_a_backup_is_also_an_export_that_state_import_reads(source_state: Path, tmp_path: Path) -> None:
    backup = _backup(source_state, tmp_path / "backups")
    plain = tmp_path / "plain.jsonl"
    plain.write_text("\n".join(_lines(backup)) + "\n")
    code, document = cli(_env(tmp_path / "imported.sqlite3"), "state", "import", str(plain))
    assert code == EXIT_OK, document
    assert set(document["imported"]) == {"_dr", "_policy", "fn-matcher", "fn-posts"}  # type: ignore[arg-type]


def test_an_interrupted_restore_is_run_again_and_a_state_with_other_events_is_refused(
    source_state: Path, tmp_path: Path
) -> None:
    backup = _backup(source_state, tmp_path / "backups")
    checked = read_backup(backup)
    partial = tmp_path / "partial.sqlite3"
    store = SqliteEventStore(partial)
    try:  # a restore killed after its first stream
        store.append("_dr", 0, checked.export.streams["_dr"])
    finally:
        store.close()
    code, document = cli(_env(partial), "state", "restore", str(backup))
    assert code == EXIT_OK, document
    assert document["already"] == ["_dr"]
    store = SqliteEventStore(partial, create=False)
    try:  # every restored stream counts as told, the interrupted run's too (review i27-backup, finding 5)
        told = {service: store.notify_cursor(service) for service in checked.info.streams}
    finally:
        store.close()
    assert {service: None if cursor is None else cursor[0] for service, cursor in told.items()} == (
        checked.info.streams
    )
    other = tmp_path / "other.sqlite3"
    assert cli(_env(other, PAST), "deploy", "fn-posts", "2.0.0", "--env", "development")[0] == 0
    before = _rows_of(other)
    code, document = cli(_env(other), "state", "restore", str(backup))
    assert code == EXIT_REFUSED, document
    assert document["error"]["rule"] == "empty-state"  # type: ignore[index]
    assert "a restore writes only into an empty state" in document["error"]["message"]  # type: ignore[index]
    assert _rows_of(other) == before  # nothing written


def _rows_of(state: Path) -> dict[str, list[tuple[int, str, str | None]]]:
    store = SqliteEventStore(state, create=False)
    try:
        return _rows(store)
    finally:
        store.close()


def test_a_memory_state_is_refused_plainly(tmp_path: Path) -> None:
    code, document = cli(_env("memory://"), "state", "backup", "--to", str(tmp_path))
    assert code == EXIT_BAD_INPUT
    assert "memory:// keeps nothing between commands" in document["error"]["message"]  # type: ignore[index]
    code, document = cli(_env(tmp_path / "nothing.sqlite3"), "state", "backup", "--to", str(tmp_path / "b"))
    assert code == EXIT_BAD_INPUT
    assert "does not exist: there is nothing to back up" in document["error"]["message"]  # type: ignore[index]
    assert not (tmp_path / "b").exists()


# ---- consistent, and whole or not at all -----------------------------------------------------------------------------


class _Interleaved:
    """A store read for a backup while another connection appends to the same state between two of its reads (after
    its heads are read, and again after its first event) — what a writer racing a backup does, made deterministic."""

    def __init__(self, store: Any, writer: Any, service: str) -> None:
        self._store, self._writer, self._service = store, writer, service
        self.appended = 0

    def _append(self) -> None:
        version = self._writer.load(self._service)[1]
        event = AnalysisRecorded(
            service=self._service,
            environment="development",
            version="1.1.0",
            at=datetime(2026, 1, 5, 9, 59, self.appended),
            actor="findly",
            verdict=Verdict.PASS,
        )
        self._writer.append(self._service, version, [event])
        self.appended += 1

    def reading(self) -> Any:
        return self._store.reading()

    def services(self) -> list[str]:
        return list(self._store.services())

    def head(self, service: str) -> Any:
        if not self.appended:  # before the first head is read (that of _dr): the racing stream's is read after it
            self._append()
        return self._store.head(service)

    def chain(self, service: str) -> Iterator[tuple[int, str, str | None]]:
        for number, row in enumerate(self._store.chain(service)):
            yield row
            if number == 0 and service == self._service:
                self._append()

    def time_kept(self) -> str | None:
        return str(self._store.time_kept())

    def keep_time(self, mode: str) -> str:
        return str(self._store.keep_time(mode))

    def latest_time(self) -> datetime | None:
        return self._store.latest_time()  # type: ignore[no-any-return]

    def load(self, service: str, since: int = 0) -> Any:
        return self._store.load(service, since)

    def append(self, service: str, expected_version: int, events: Any, **kwargs: Any) -> int:
        return int(self._store.append(service, expected_version, events, **kwargs))


def consistent_while_appended(state_url: str, open_store: Any, tmp_path: Path) -> None:
    """A backup of the state at *state_url* while another connection appends is the state as the backup's
    transaction began: restored, each stream is its head then, and the appends are not in it (shared with the
    PostgreSQL tests)."""
    reader, writer = open_store(state_url, create=False), open_store(state_url, create=True)
    try:
        before = {service: reader.head(service) for service in reader.services()}
        latest = reader.latest_time()
        racing = _Interleaved(reader, writer, "fn-posts")
        info = write_backup(racing, tmp_path / "backups", datetime(2026, 1, 5, 10))  # type: ignore[arg-type]
        assert racing.appended == 2  # the writer got in twice, in the middle of the backup
        assert writer.load("fn-posts")[1] == before["fn-posts"][0] + 3  # and its appends are in the state
    finally:
        reader.close()
        writer.close()
    assert info.streams == {service: head[0] + 1 for service, head in before.items()}
    assert info.heads == {service: head[1] for service, head in before.items()}
    assert info.newest_event_at == latest  # not the racing appends' 09:59
    target = MemoryEventStore()
    restore_backup(target, read_backup(info.path))
    assert {service: target.head(service) for service in target.services()} == before


def test_a_backup_taken_while_another_connection_appends_is_the_state_as_it_began(
    source_state: Path, tmp_path: Path
) -> None:
    state = _copy(source_state, tmp_path / "state")
    consistent_while_appended(str(state), lambda url, create: SqliteEventStore(url, create=create), tmp_path)


_KILLED_AT_FSYNC = """
import os, signal, sys
real = os.fsync
def killed(descriptor):
    real(descriptor)
    os.kill(os.getpid(), signal.SIGKILL)   # SIGKILL once the draft is on the disk, before it is linked into place
os.fsync = killed
from findly_infra.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_backup_killed_before_it_is_linked_into_place_leaves_no_backup(source_state: Path, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    result = subprocess.run(
        [sys.executable, "-c", _KILLED_AT_FSYNC, "state", "backup", "--to", str(folder)],
        env={**os.environ, **_env(source_state), "GITHUB_ACTIONS": ""},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == -9, result.stderr
    left = sorted(path.name for path in folder.iterdir())
    assert len(left) == 1
    assert left[0].startswith(".findly-state-20260105T100000Z")
    assert left[0].endswith(".part")
    assert newest_backup(folder) is None  # a draft is never a backup
    assert cli(_env(source_state), "state", "backup", "--check", str(folder), "--rpo", "1h")[0] == EXIT_REFUSED
    # the next backup, with --keep, clears the dead draft (an hour old), never another run's live one
    hours_ago = (folder / left[0]).stat().st_mtime - 2 * 3600
    os.utime(folder / left[0], (hours_ago, hours_ago))
    live = folder / ".findly-state-20260105T100100Z.jsonl.gz.1.0badf00d.part"
    live.write_bytes(b"another run, still writing")
    code, document = cli(
        _env(source_state, "2026-01-05T10:05:00Z"), "state", "backup", "--to", str(folder), "--keep", "3"
    )
    assert code == EXIT_OK
    assert [Path(str(gone)).name for gone in document["deleted"]] == left  # type: ignore[union-attr]
    assert sorted(path.name for path in folder.iterdir()) == [live.name, "findly-state-20260105T100500Z.jsonl.gz"]


def test_a_backup_interrupted_while_it_writes_leaves_nothing(
    source_state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from findly_infra.application import backup as module

    real = module._write_stream

    def interrupted(store: Any, service: str, *rest: Any) -> None:
        if service == "fn-posts":
            raise KeyboardInterrupt
        real(store, service, *rest)

    monkeypatch.setattr(module, "_write_stream", interrupted)
    store = SqliteEventStore(source_state, create=False)
    try:
        with pytest.raises(KeyboardInterrupt):
            write_backup(store, tmp_path / "backups", datetime(2026, 1, 5, 10))
    finally:
        store.close()
    assert list((tmp_path / "backups").iterdir()) == []


def test_a_state_whose_links_do_not_hold_is_not_backed_up(source_state: Path, tmp_path: Path) -> None:
    import sqlite3

    state = _copy(source_state, tmp_path / "state")
    with contextlib.closing(sqlite3.connect(state)) as connection:
        connection.execute(
            'UPDATE events SET body = replace(body, \'"actor": "erin"\', \'"actor": "mallory"\') '
            "WHERE service = 'fn-posts' AND position = 1"
        )
        connection.commit()
    code, document = cli(_env(state), "state", "backup", "--to", str(tmp_path / "backups"))
    assert code == EXIT_BAD_INPUT
    assert "fn-posts's event 1 does not hold its link" in document["error"]["message"]  # type: ignore[index]
    assert list((tmp_path / "backups").iterdir()) == []


def test_a_second_backup_in_the_same_second_never_writes_over_the_first(source_state: Path, tmp_path: Path) -> None:
    first = _backup(source_state, tmp_path / "backups")
    before = first.read_bytes()
    second = _backup(source_state, tmp_path / "backups")  # the same second: a name of its own, not exit 2
    assert second.name == first.name.replace(".jsonl.gz", "-2.jsonl.gz")
    assert BACKUP_NAME.fullmatch(second.name)
    assert first.read_bytes() == before
    assert read_backup(second).info.events == read_backup(first).info.events


def test_keep_deletes_only_the_oldest_of_our_own_backups(source_state: Path, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    (folder / "notes.txt").write_text("ours, not the tool's")
    (folder / "findly-state-export.jsonl").write_text("not a backup's name")
    for minute in range(4):
        _backup(source_state, folder, f"2026-01-05T10:0{minute}:00Z")
    code, document = cli(
        _env(source_state, "2026-01-05T10:04:00Z"), "state", "backup", "--to", str(folder), "--keep", "2"
    )
    assert code == EXIT_OK
    assert sorted(path.name for path in folder.iterdir()) == [
        "findly-state-20260105T100300Z.jsonl.gz",
        "findly-state-20260105T100400Z.jsonl.gz",
        "findly-state-export.jsonl",
        "notes.txt",
    ]
    assert len(document["deleted"]) == 3  # type: ignore[arg-type]


# ---- a backup changed or cut short is refused, naming the place ------------------------------------------------------


def _restored_nothing(backup: Path, tmp_path: Path, message: str) -> None:
    state = tmp_path / "target.sqlite3"
    code, document = cli(_env(state), "state", "restore", str(backup))
    assert code == EXIT_BAD_INPUT, document
    assert message in document["error"]["message"], document  # type: ignore[index]
    assert not state.exists()  # refused whole, before the state was even opened


def _line_of(lines: list[str], service: str, position: int) -> int:
    return next(
        number
        for number, line in enumerate(lines)
        if number and json.loads(line)["service"] == service and json.loads(line)["position"] == position
    )


def test_an_edited_event_is_refused_naming_its_stream_and_position(source_state: Path, tmp_path: Path) -> None:
    backup = _backup(source_state, tmp_path / "backups")
    lines = _lines(backup)
    number = _line_of(lines, "fn-posts", 3)
    record = json.loads(lines[number])
    record["event"]["actor"] = "mallory"  # a value the door lets in: only the link can tell
    lines[number] = json.dumps(record)
    _restored_nothing(_rewritten(backup, lines), tmp_path, "fn-posts's event 3 is not the event the backup recorded")


def test_links_rewritten_without_the_header_are_refused_at_the_head(source_state: Path, tmp_path: Path) -> None:
    from findly_infra.application.integrity import GENESIS, link

    backup = _backup(source_state, tmp_path / "backups")
    lines = _lines(backup)
    previous, last = GENESIS, 0
    for number, line in enumerate(lines[1:], start=1):  # fn-matcher's events edited, and every link after recomputed
        record = json.loads(line)
        if record["service"] != "fn-matcher":
            continue
        if record["position"] == 2:
            record["event"]["actor"] = "mallory"
        previous = link(previous, "fn-matcher", record["position"], json.dumps(record["event"]))
        record["link"], last = previous, record["position"]
        lines[number] = json.dumps(record)
    _restored_nothing(
        _rewritten(backup, lines), tmp_path, f"fn-matcher's head (event {last}) is not the one the header records"
    )


def test_a_backup_cut_short_is_refused(source_state: Path, tmp_path: Path) -> None:
    backup = _backup(source_state, tmp_path / "backups")
    cut = backup.with_name(f"cut-{backup.name}")
    cut.write_bytes(backup.read_bytes()[: len(backup.read_bytes()) // 2])
    _restored_nothing(cut, tmp_path, "cut short or damaged")
    lines = _lines(backup)
    _restored_nothing(_rewritten(backup, lines[:-1], "lines"), tmp_path, "the export is incomplete (cut short?)")


def test_a_plain_export_is_not_a_backup(source_state: Path, tmp_path: Path) -> None:
    export = tmp_path / "findly-state-20260105T100000Z.jsonl"
    assert cli(_env(source_state), "state", "export", "--output", str(export))[0] == EXIT_OK
    _restored_nothing(export, tmp_path, "a state export, not a backup")


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_any_event_changed_in_a_backup_is_refused_at_its_own_position(data: st.DataObject) -> None:
    store = MemoryEventStore()  # the recovery stream: any number of steps recorded, no fold to satisfy
    count = data.draw(st.integers(0, 10), label="more steps") + 2
    steps = [
        RecoveryStepDone(
            service=DR_STREAM,
            environment="",
            version="",
            at=datetime(2026, 1, 5, 9, 40 + n),
            actor="erin",
            operation="drill-1",
            step=RecoveryStep.DEPLOY,
            started=datetime(2026, 1, 5, 9, 30),
        )
        for n in range(count - 2)
    ]
    store.append(DR_STREAM, 0, [*_drill(datetime(2026, 1, 5, 9, 30)), *steps])
    position = data.draw(st.integers(0, count - 1), label="position")
    reason = data.draw(st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=8))
    with tempfile.TemporaryDirectory() as folder:
        backup = write_backup(store, Path(folder), datetime(2026, 1, 5, 10)).path
        lines = _lines(backup)
        record = json.loads(lines[position + 1])
        record["event"]["reason"] = reason
        lines[position + 1] = json.dumps(record)
        with pytest.raises(BadInputError, match=f"_dr's event {position} is not the event the backup recorded"):
            read_backup(_rewritten(backup, lines))
        restored = MemoryEventStore()
        restore_backup(restored, read_backup(backup))
        assert restored.links == store.links


# ---- the recovery point objective ------------------------------------------------------------------------------------


def test_the_rpo_check_passes_within_the_target_and_refuses_past_it(source_state: Path, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    _backup(source_state, folder)  # 10:00:00
    code, document = cli(_env(source_state, "2026-01-05T10:05:00Z"), "state", "backup", "--check", str(folder))
    assert code == EXIT_OK, document  # the example's rpo_target: 5 minutes — exactly at it is within
    assert (document["within"], document["age_seconds"], document["rpo_seconds"]) == (True, 300.0, 300.0)
    assert (
        document["newest_event_age_seconds"]
        == (
            datetime(2026, 1, 5, 10, 5) - datetime.fromisoformat(str(document["newest_event_at"]).removesuffix("Z"))
        ).total_seconds()
    )
    assert document["events_since"] == {"_dr": 0, "_policy": 0, "fn-matcher": 0, "fn-posts": 0}
    code, document = cli(_env(source_state, "2026-01-05T10:05:01Z"), "state", "backup", "--check", str(folder))
    assert code == EXIT_REFUSED
    assert (document["ok"], document["within"], document["error"]["rule"]) == (False, False, "rpo-target")  # type: ignore[index]
    assert "is 5 min 1 s old, over the RPO of 5 min" in document["error"]["message"]  # type: ignore[index]
    code, document = cli(
        _env(source_state, "2026-01-05T10:05:01Z"), "state", "backup", "--check", str(folder), "--rpo", "1h"
    )
    assert (code, document["rpo_seconds"]) == (EXIT_OK, 3600.0)


def test_the_rpo_check_counts_what_a_loss_now_would_cost(source_state: Path, tmp_path: Path) -> None:
    state = _copy(source_state, tmp_path / "state")
    folder = tmp_path / "backups"
    _backup(state, folder)
    assert (
        cli(_env(state, "2026-01-05T10:01:00Z"), "pause", "fn-posts", "--env", "development", "--reason", "x")[0] == 0
    )
    code, document = cli(_env(state, "2026-01-05T10:02:00Z"), "state", "backup", "--check", str(folder))
    assert code == EXIT_OK
    assert document["events_since"]["fn-posts"] == 1  # type: ignore[index]


def test_no_backup_at_all_is_refused_and_a_folder_that_does_not_exist_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "findly-state-20260105T100000Z.jsonl.gz").write_bytes(b"not gzip at all")
    code, document = cli(_env(tmp_path / "s.sqlite3"), "state", "backup", "--check", str(tmp_path / "empty"))
    assert (code, document["error"]["rule"]) == (EXIT_REFUSED, "rpo-target")  # type: ignore[index]
    assert "no backup in" in document["error"]["message"]  # type: ignore[index]
    assert len(document["unreadable"]) == 1  # type: ignore[arg-type]
    code, document = cli(_env(tmp_path / "s.sqlite3"), "state", "backup", "--check", str(tmp_path / "nowhere"))
    assert code == EXIT_BAD_INPUT
    code, document = cli(
        _env(tmp_path / "s.sqlite3"), "state", "backup", "--check", str(tmp_path / "empty"), "--rpo", "soon"
    )
    assert (code, document["error"]["kind"]) == (EXIT_BAD_INPUT, "bad_input")  # type: ignore[index]


def test_the_rpo_check_annotates_a_github_actions_job(
    source_state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "backups"
    _backup(source_state, folder)
    output = tmp_path / "output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    env = {**_env(source_state, "2026-01-06T10:00:00Z"), "GITHUB_ACTIONS": "true"}
    from findly_infra.cli import main

    with mock_env(env):
        code = main(["state", "backup", "--check", str(folder)])
    assert code == EXIT_REFUSED
    assert "::error::refused by rpo-target: the newest backup" in capsys.readouterr().err
    assert "within=false\n" in output.read_text()
    assert "backup_age_seconds=86400\n" in output.read_text()


@contextlib.contextmanager
def mock_env(values: dict[str, str]) -> Iterator[None]:
    from unittest import mock

    with mock.patch.dict(os.environ, values):
        yield


@given(
    taken=st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1)),
    elapsed=st.timedeltas(timedelta(days=-3), timedelta(days=3)),
    target=st.timedeltas(timedelta(seconds=1), timedelta(days=1)),
)
def test_the_rpo_rule_refuses_exactly_a_backup_older_than_the_target_or_from_the_future(
    taken: datetime, elapsed: timedelta, target: timedelta
) -> None:
    info = BackupInfo(Path("findly-state-x.jsonl.gz"), taken, None, {}, 0)
    refusal = rpo_refusal(info, taken + elapsed, target)
    assert (refusal is not None) == (elapsed > target or elapsed < -SKEW)  # the future is never clamped to "0 s old"
    assert refusal is None or elapsed >= -SKEW or "in the future" in refusal.message
    assert refusal is None or refusal.rule == "rpo-target"
    assert rpo_refusal(None, taken, target) is not None  # no backup: a loss now loses everything


def test_newest_backup_reads_the_newest_header_only(source_state: Path, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    older = _backup(source_state, folder, "2026-01-05T10:00:00Z")
    newer = _backup(source_state, folder, "2026-01-05T11:00:00Z")
    (folder / "findly-state-20260105T120000Z.jsonl.gz").write_bytes(gzip.compress(b"{}\n"))  # unreadable: skipped
    found = newest_backup(folder)
    assert found is not None
    assert found.path == newer
    assert found.taken_at == datetime(2026, 1, 5, 11)
    assert found.events == sum(found.streams.values())
    assert found.size == newer.stat().st_size
    assert found.newest_event_at is not None
    assert found.newest_event_at < found.taken_at
    assert older.exists()
    assert newest_backup(tmp_path / "nowhere") is None


def test_a_state_of_links_not_written_yet_is_named(tmp_path: Path) -> None:
    class Unlinked(MemoryEventStore):
        def head(self, service: str) -> tuple[int, str | None] | None:
            found = super().head(service)
            return None if found is None else (found[0], None)

    store = Unlinked()
    store.append(DR_STREAM, 0, _drill(datetime(2026, 1, 5, 9, 30)))
    with pytest.raises(StateError, match="carry no links yet"):
        write_backup(store, tmp_path, datetime(2026, 1, 5, 10))
    assert list(tmp_path.iterdir()) == []


_APPENDER = """
import sys
from datetime import datetime, timedelta
from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.domain.recovery import DR_STREAM, RecoveryStep, RecoveryStepDone

store = SqliteEventStore(sys.argv[1])
print("appending", flush=True)
for n in range(int(sys.argv[2])):
    version = store.load(DR_STREAM, since=1 << 62)[1]
    at = datetime(2026, 1, 5, 9, 40) + timedelta(seconds=n)
    store.append(DR_STREAM, version, [RecoveryStepDone(
        service=DR_STREAM, environment="", version="", at=at, actor="erin", operation="drill-1",
        step=RecoveryStep.DEPLOY, started=datetime(2026, 1, 5, 9, 30))])
store.close()
"""


def test_backups_taken_while_another_process_appends_each_restore_whole(source_state: Path, tmp_path: Path) -> None:
    state = _copy(source_state, tmp_path / "state")
    with subprocess.Popen(
        [sys.executable, "-c", _APPENDER, str(state), "400"], stdout=subprocess.PIPE, text=True
    ) as appender:
        taken = _taken_while(appender, state, tmp_path)
    for info in taken:  # each one a state as it stood at one instant: every line and link holds, every head agrees
        restored = MemoryEventStore()
        restore_backup(restored, read_backup(info.path))
        assert {service: restored.head(service)[1] for service in restored.services()} == info.heads  # type: ignore[index]
    assert [info.streams["_dr"] for info in taken] == sorted(info.streams["_dr"] for info in taken)


def _taken_while(appender: subprocess.Popen[str], state: Path, tmp_path: Path) -> list[BackupInfo]:
    """Three backups of *state* taken while *appender* appends to it (once it has begun)."""
    assert appender.stdout is not None
    assert appender.stdout.readline() == "appending\n"
    taken = []
    try:
        for second in range(3):
            source = SqliteEventStore(state, create=False)
            try:
                taken.append(write_backup(source, tmp_path / "backups", datetime(2026, 1, 5, 10, 0, second)))
            finally:
                source.close()
    finally:
        assert appender.wait(timeout=120) == 0
    return taken


def test_a_state_without_events_is_not_backed_up(tmp_path: Path) -> None:
    """A wiped state backed up on schedule would pass the RPO check while holding nothing."""
    state = tmp_path / "empty.sqlite3"
    SqliteEventStore(state).close()
    code, document = cli(_env(state), "state", "backup", "--to", str(tmp_path / "backups"))
    assert code == EXIT_BAD_INPUT
    assert "the state holds no events: nothing to back up" in document["error"]["message"]  # type: ignore[index]
    assert list((tmp_path / "backups").iterdir()) == []


# ---- a backup from the future (review i27-backup, finding 1) --------------------------------------------------------

FUTURE = "2099-01-01T00:00:00Z"
"""Far ahead of any real clock this suite runs under."""


def test_a_backup_is_never_stamped_in_the_future_of_the_real_clock(source_state: Path, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    code, document = cli(_env(source_state, FUTURE), "state", "backup", "--to", str(folder))
    assert code == EXIT_BAD_INPUT, document
    assert "in the future of the real clock" in document["error"]["message"]  # type: ignore[index]
    assert not folder.exists() or list(folder.iterdir()) == []


def _future_backup(state: Path, folder: Path) -> Path:
    """A backup stamped in 2099, as a rehearsal's or a skewed host's would have been before the refusal above."""
    store = SqliteEventStore(state, create=False)
    try:
        return write_backup(store, folder, datetime(2099, 1, 1)).path
    finally:
        store.close()


def test_the_check_never_counts_a_backup_from_the_future(source_state: Path, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    future = _future_backup(source_state, folder)
    code, document = cli(_env(source_state, "2026-01-05T10:01:00Z"), "state", "backup", "--check", str(folder))
    assert code == EXIT_REFUSED, document  # the future one alone: no backup vouches, said plainly
    assert [each["file"] for each in document["unreadable"]] == [str(future)]  # type: ignore[union-attr]
    assert "in the future" in document["unreadable"][0]["problem"]  # type: ignore[index]
    _backup(source_state, folder)  # 10:00:00
    code, document = cli(_env(source_state, "2026-01-05T10:01:00Z"), "state", "backup", "--check", str(folder))
    assert code == EXIT_OK, document
    assert (document["backup"], document["age_seconds"]) == (str(folder / backup_name(datetime(2026, 1, 5, 10))), 60.0)


def test_keep_never_deletes_the_backup_just_taken_nor_counts_one_from_the_future(
    source_state: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "backups"
    future = _future_backup(source_state, folder)
    _backup(source_state, folder, "2026-01-05T10:00:00Z")
    code, document = cli(
        _env(source_state, "2026-01-05T10:01:00Z"), "state", "backup", "--to", str(folder), "--keep", "1"
    )
    assert code == EXIT_OK, document
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        [future.name, "findly-state-20260105T100100Z.jsonl.gz"]
    )
    assert document["deleted"] == [str(folder / "findly-state-20260105T100000Z.jsonl.gz")]


# ---- a state written by an older findly-infra (review i27-backup, finding 2) ----------------------------------------


def _older(state: Path) -> str:
    """*state* as an older findly-infra left it: fn-posts's events stored without a field added since (``identity``,
    whose default is ``None``) and linked over that text, as ``state migrate`` links the bodies it finds. Returns the
    head link."""
    import sqlite3

    from findly_infra.application.integrity import GENESIS, links_for

    connection = sqlite3.connect(state)
    try:
        rows = connection.execute(
            "SELECT position, body FROM events WHERE service = 'fn-posts' ORDER BY position"
        ).fetchall()
        bodies = [json.dumps({k: v for k, v in json.loads(body).items() if k != "identity"}) for _, body in rows]
        assert bodies != [body for _, body in rows]  # some event carried the field
        links = links_for(GENESIS, "fn-posts", 0, bodies)
        connection.executemany(
            "UPDATE events SET body = ?, link = ? WHERE service = 'fn-posts' AND position = ?",
            [(body, value, position) for (position, _), body, value in zip(rows, bodies, links, strict=True)],
        )
        connection.commit()
    finally:
        connection.close()
    return links[-1]


def test_a_state_stored_by_an_older_version_backs_up_and_restores_with_its_own_links(
    source_state: Path, tmp_path: Path
) -> None:
    state = _copy(source_state, tmp_path / "old")
    head = _older(state)
    assert cli(_env(state), "state", "verify")[0] == EXIT_OK
    backup = _backup(state, tmp_path / "backups")
    target = tmp_path / "new.sqlite3"
    code, document = cli(_env(target), "state", "restore", str(backup))
    assert code == EXIT_OK, document
    source, restored = SqliteEventStore(state, create=False), SqliteEventStore(target, create=False)
    try:
        assert restored.head("fn-posts") == source.head("fn-posts")
        assert restored.head("fn-posts")[1] == head  # type: ignore[index]
        assert _rows(restored) == _rows(source)  # every text as its source stored it
    finally:
        source.close()
        restored.close()
    assert cli(_env(target), "state", "verify")[0] == EXIT_OK


def test_a_backup_that_would_not_restore_is_never_written(source_state: Path, tmp_path: Path) -> None:
    import sqlite3

    from findly_infra.application.integrity import GENESIS, links_for

    state = _copy(source_state, tmp_path / "odd")
    connection = sqlite3.connect(state)
    try:  # an event whose stored text no findly-infra decodes, its links whole: verify passes, restore cannot
        rows = connection.execute(
            "SELECT position, body FROM events WHERE service = '_dr' ORDER BY position"
        ).fetchall()
        bodies = [body for _, body in rows]
        bodies[0] = json.dumps({**json.loads(bodies[0]), "type": "NoSuchEvent"})
        links = links_for(GENESIS, "_dr", 0, bodies)
        connection.executemany(
            "UPDATE events SET body = ?, link = ? WHERE service = '_dr' AND position = ?",
            [(body, value, position) for (position, _), body, value in zip(rows, bodies, links, strict=True)],
        )
        connection.commit()
    finally:
        connection.close()
    folder = tmp_path / "backups"
    code, document = cli(_env(state), "state", "backup", "--to", str(folder))
    assert code != EXIT_OK, document
    assert "would not restore" in document["error"]["message"]  # type: ignore[index]
    assert list(folder.iterdir()) == []


# ---- a backup cut short after its header (review i27-backup, finding 4) ---------------------------------------------


def test_the_check_never_counts_a_backup_cut_short_after_its_header(source_state: Path, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    older = _backup(source_state, folder, "2026-01-05T10:00:00Z")
    newer = _backup(source_state, folder, "2026-01-05T10:01:00Z")
    newer.write_bytes(newer.read_bytes()[: newer.stat().st_size // 2])  # an interrupted copy: its header still reads
    lines = _lines(older)
    shorter = folder / "findly-state-20260105T100200Z.jsonl.gz"
    shorter.write_bytes(gzip.compress(("\n".join(lines[:-1]) + "\n").encode()))  # whole gzip, an event short
    code, document = cli(_env(source_state, "2026-01-05T10:03:00Z"), "state", "backup", "--check", str(folder))
    assert code == EXIT_OK, document  # the older, sound one is the newest that counts
    assert (document["backup"], document["age_seconds"]) == (str(older), 180.0)
    problems = {each["file"]: each["problem"] for each in document["unreadable"]}  # type: ignore[union-attr]
    assert set(problems) == {str(newer), str(shorter)}
    assert "cut short" in problems[str(newer)]
    assert "lines where its header counts" in problems[str(shorter)]
    found = newest_backup(folder)
    assert found is not None
    assert found.path == older


# ---- a folder without hard links: a mounted bucket (review i27-backup, finding 7) -----------------------------------


@pytest.mark.parametrize("code", ["ENOSYS", "EPERM", "EOPNOTSUPP"])
def test_a_backup_into_a_folder_without_hard_links_is_renamed_into_place(
    source_state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    import errno

    def no_link(source: object, target: object) -> None:
        raise OSError(getattr(errno, code), os.strerror(getattr(errno, code)))

    monkeypatch.setattr(os, "link", no_link)  # what Cloud Storage FUSE answers: it has no hard links
    folder = tmp_path / "bucket"
    backup = _backup(source_state, folder)
    assert [path.name for path in folder.iterdir()] == [backup.name]  # no draft left beside it
    assert read_backup(backup).info.events > 0
    before = backup.read_bytes()
    second = _backup(source_state, folder)  # the same second: never renamed over the first
    assert sorted(path.name for path in folder.iterdir()) == sorted([backup.name, second.name])
    assert backup.read_bytes() == before


def test_a_backup_whose_name_another_run_takes_meanwhile_takes_the_next(
    source_state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from findly_infra.application import backup as module

    checked = module._restorable

    def raced(draft: Path, final: Path) -> None:
        checked(draft, final)
        final.write_bytes(b"another run's backup, linked first")

    monkeypatch.setattr(module, "_restorable", raced)
    folder = tmp_path / "backups"
    backup = _backup(source_state, folder)
    assert backup.name == backup_name(datetime(2026, 1, 5, 10), 2)
    assert (folder / backup_name(datetime(2026, 1, 5, 10))).read_bytes() == b"another run's backup, linked first"


# ---- the RPO refusal says what is known (review i27-backup, finding 10) ---------------------------------------------


def test_the_rpo_refusal_says_a_stale_schedule_apart_from_a_loss(source_state: Path, tmp_path: Path) -> None:
    state = _copy(source_state, tmp_path / "state")
    folder = tmp_path / "backups"
    _backup(state, folder)  # 10:00:00
    code, document = cli(_env(state, "2026-01-05T10:06:00Z"), "state", "backup", "--check", str(folder))
    assert code == EXIT_REFUSED  # the rule holds the backup's age, even with nothing recorded since
    message = document["error"]["message"]  # type: ignore[index]
    assert "would lose nothing, but the schedule is not keeping up" in message
    assert "would lose more" not in message
    paused = cli(_env(state, "2026-01-05T10:06:30Z"), "pause", "fn-posts", "--env", "development", "--reason", "x")
    assert paused[0] == EXIT_OK
    code, document = cli(_env(state, "2026-01-05T10:07:00Z"), "state", "backup", "--check", str(folder))
    assert code == EXIT_REFUSED
    assert "would lose the 1 events recorded since" in document["error"]["message"]  # type: ignore[index]
    code, document = cli(  # no state to compare with: what is not known is not claimed
        _env(tmp_path / "nowhere.sqlite3", "2026-01-05T10:07:00Z"), "state", "backup", "--check", str(folder)
    )
    assert code == EXIT_REFUSED
    assert "could lose more than the RPO allows" in document["error"]["message"]  # type: ignore[index]


# ---- a folder two states share (review i27-backup, finding 11) ------------------------------------------------------


def test_check_and_keep_consider_only_this_states_backups(source_state: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.sqlite3"
    assert cli(_env(other, PAST), "deploy", "fn-posts", "2.0.0", "--env", "development")[0] == EXIT_OK
    folder = tmp_path / "shared"
    ours = _backup(source_state, folder, "2026-01-05T10:00:00Z")
    theirs = _backup(other, folder, "2026-01-05T10:04:00Z")
    assert read_backup(ours).info.firsts.keys() == read_backup(ours).info.streams.keys()
    code, document = cli(_env(source_state, "2026-01-05T10:06:00Z"), "state", "backup", "--check", str(folder))
    assert code == EXIT_REFUSED, document  # the other state's fresh backup does not vouch for this one
    assert [each["file"] for each in document["unreadable"]] == [str(theirs)]  # type: ignore[union-attr]
    assert "another state" in document["unreadable"][0]["problem"]  # type: ignore[index]
    assert document["backup"] == str(ours)
    code, document = cli(_env(other, "2026-01-05T10:06:00Z"), "state", "backup", "--check", str(folder))
    assert (code, document["backup"]) == (EXIT_OK, str(theirs))
    code, document = cli(
        _env(source_state, "2026-01-05T10:07:00Z"), "state", "backup", "--to", str(folder), "--keep", "1"
    )
    assert code == EXIT_OK, document
    assert document["deleted"] == [str(ours)]  # its own older one, never the other state's
    assert theirs.exists()


def test_a_state_stored_by_an_older_version_restores_into_memory_with_its_own_links(
    source_state: Path, tmp_path: Path
) -> None:
    state = _copy(source_state, tmp_path / "old")
    _older(state)
    checked = read_backup(_backup(state, tmp_path / "backups"))
    store = MemoryEventStore()
    restore_backup(store, checked)  # its heads checked against the backup's inside
    assert {service: store.head(service) for service in checked.info.streams} == {
        service: (count - 1, checked.info.heads[service]) for service, count in checked.info.streams.items()
    }
    assert [body for _, body, _ in store.chain("fn-posts")] == checked.bodies["fn-posts"]
