"""Tamper evidence (issue 15): the event log's chain of links, kept by the memory and SQLite stores, checked by
``verify_stream`` and ``findly-infra state verify`` — any edited, deleted, inserted, moved or reordered event is named
as the first broken link; a rewrite that recomputed the links is caught by a head kept elsewhere; a state written
before links is linked when first opened to write."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from findly_infra.adapters.memory import MemoryEventStore
from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.application.codec import event_from_dict, event_to_dict
from findly_infra.application.integrity import GENESIS, link, links_for, parse_anchor, verify_stream
from findly_infra.cli.exits import EXIT_BAD_INPUT, EXIT_OK
from findly_infra.domain.events import Event

from .log_integrity import SERVICE, Rows, batches, check_tampering, event, histories, rows_as_inserts, tampering


@given(st.data(), histories, batches)
def test_any_change_to_the_memory_log_is_named_at_its_first_event(
    data: st.DataObject, history: list[tuple[str, bool]], sizes: list[int]
) -> None:
    store = MemoryEventStore()

    def write(rows: Rows) -> None:
        store.streams[SERVICE] = [event_from_dict(json.loads(body)) for _, body, _ in rows]
        store.links[SERVICE] = [value or "" for _, _, value in rows]

    def read() -> Rows:
        return list(store.chain(SERVICE))

    damage = data.draw(tampering(len(history)))
    check_tampering(lambda v, e: store.append(SERVICE, v, e), read, write, history=history, sizes=sizes, damage=damage)


@settings(max_examples=40, deadline=None)
@given(st.data(), histories, batches)
def test_any_change_to_the_sqlite_log_is_named_at_its_first_event(
    tmp_path_factory: object, data: st.DataObject, history: list[tuple[str, bool]], sizes: list[int]
) -> None:
    folder = tmp_path_factory.mktemp("chain")  # type: ignore[attr-defined]
    store = SqliteEventStore(folder / "state.sqlite3")
    try:

        def write(rows: Rows) -> None:  # as someone with the file would: its rows, by SQL
            with sqlite3.connect(folder / "state.sqlite3") as raw:
                raw.execute("DELETE FROM events WHERE service = ?", (SERVICE,))
                raw.executemany(
                    "INSERT INTO events (service, position, type, at, body, link) VALUES (?, ?, ?, ?, ?, ?)",
                    rows_as_inserts(rows),
                )
            raw.close()

        damage = data.draw(tampering(len(history)))
        check_tampering(
            lambda v, e: store.append(SERVICE, v, e),
            lambda: list(store.chain(SERVICE)),
            write,
            history=history,
            sizes=sizes,
            damage=damage,
        )
    finally:
        store.close()


def test_deleting_the_last_event_needs_a_kept_head() -> None:
    store = MemoryEventStore()
    store.append(SERVICE, 0, [event(0, "unit", True), event(1, "e2e", True)])
    head = verify_stream(SERVICE, store.chain(SERVICE)).head
    assert head is not None
    del store.streams[SERVICE][-1]
    del store.links[SERVICE][-1]
    assert verify_stream(SERVICE, store.chain(SERVICE)).intact  # a shorter chain is still a chain
    kept = verify_stream(SERVICE, store.chain(SERVICE), [head])
    assert kept.broken is not None
    assert kept.broken.position == 1
    assert "a kept head recorded it" in kept.broken.problem


def test_a_link_binds_its_stream_and_position_and_anchors_parse_as_printed() -> None:
    body = '{"a": 1}'
    assert link(GENESIS, "fn-posts", 0, body) != link(GENESIS, "fn-users", 0, body)
    assert link(GENESIS, "fn-posts", 0, body) != link(GENESIS, "fn-posts", 1, body)
    head = parse_anchor(f"fn-posts@12={'ab' * 32}")
    assert (head.service, head.position, str(head)) == ("fn-posts", 12, f"fn-posts@12={'ab' * 32}")
    for bad in ("fn-posts@x=ab", "fn-posts=ab", f"@1={'ab' * 32}", f"fn-posts@1={'AB' * 32}"):
        with pytest.raises(ValueError, match="SERVICE@POSITION=LINK"):
            parse_anchor(bad)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "findly_infra", "--state", "state.sqlite3", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=60,
        env={"PATH": os.environ["PATH"], "FINDLY_ACTOR": "ci"},
    )


def test_a_state_written_before_links_is_linked_when_first_written_and_verify_names_what_is_wrong(
    tmp_path: Path,
) -> None:
    store = SqliteEventStore(tmp_path / "state.sqlite3")
    store.append(SERVICE, 0, [event(index, "unit", True) for index in range(5)])
    store.close()
    with sqlite3.connect(tmp_path / "state.sqlite3") as raw:  # as a state of schema 1 was: no links
        raw.execute("ALTER TABLE events DROP COLUMN link")
        raw.execute("PRAGMA user_version = 1")
    raw.close()
    unlinked = _cli("state", "verify", cwd=tmp_path)  # read only: says so, changes nothing
    assert unlinked.returncode == EXIT_BAD_INPUT, unlinked.stdout + unlinked.stderr
    assert "5 events without links" in unlinked.stdout
    assert "state migrate links them" in unlinked.stdout
    migrated = _cli("state", "migrate", cwd=tmp_path)
    assert migrated.returncode == EXIT_OK, migrated.stdout + migrated.stderr
    verified = _cli("--json", "state", "verify", cwd=tmp_path)
    assert verified.returncode == EXIT_OK, verified.stdout + verified.stderr
    document = json.loads(verified.stdout)
    assert document["ok"] is True
    head = document["streams"][SERVICE]["head"]
    assert head.startswith(f"{SERVICE}@4=")
    # an edit by hand: exit 2, the event named, and the JSON not "ok"
    with sqlite3.connect(tmp_path / "state.sqlite3") as raw:
        raw.execute("UPDATE events SET body = replace(body, '\"ci\"', '\"mallory\"') WHERE position = 2")
    raw.close()
    broken = _cli("--json", "state", "verify", "--expect", head, cwd=tmp_path)
    assert broken.returncode == EXIT_BAD_INPUT
    document = json.loads(broken.stdout)
    assert document["ok"] is False
    assert document["streams"][SERVICE]["broken"]["position"] == 2
    text = _cli("state", "verify", cwd=tmp_path).stdout
    assert f"{SERVICE}: event 2 does not match its link" in text


def test_a_memory_store_made_with_events_links_them_at_its_first_append() -> None:
    store = MemoryEventStore(streams={SERVICE: [event(0, "unit", True), event(1, "e2e", False)]})
    assert verify_stream(SERVICE, store.chain(SERVICE)).unlinked == 2  # given, not yet linked: said so
    store.append(SERVICE, 2, [event(2, "smoke", True)])
    verdict = verify_stream(SERVICE, store.chain(SERVICE))
    assert verdict.intact, verdict
    assert verdict.events == 3


def test_the_memory_store_encodes_and_links_nothing_until_asked_and_then_what_it_would_have(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 24: nothing the memory store keeps outlives the process, so a simulation's appends are not encoded nor
    hashed; asked (``state verify``, an export, a snapshot's seal), it links the events as appended — intact."""
    from findly_infra.adapters import memory

    encoded: list[Event] = []
    monkeypatch.setattr(memory, "event_to_dict", lambda e: (encoded.append(e), event_to_dict(e))[1])
    store = MemoryEventStore()
    for index in range(30):
        store.append(SERVICE, index, [event(index, "unit", index % 3 != 0)])
    assert encoded == []
    verdict = verify_stream(SERVICE, store.chain(SERVICE))
    assert verdict.intact, verdict
    assert verdict.events == 30
    assert encoded


@given(
    st.lists(st.tuples(st.sampled_from(["unit", "e2e"]), st.booleans()), max_size=3),
    st.lists(
        st.one_of(
            st.tuples(st.just("append"), st.integers(1, 3)),
            st.tuples(st.just("read"), st.sampled_from(["chain", "links", "snapshot"])),
            st.tuples(st.just("replace"), st.integers(0, 40)),
        ),
        max_size=20,
    ),
)
def test_the_memory_store_links_lazily_exactly_what_an_eager_store_linked_at_each_append(
    given_events: list[tuple[str, bool]], script: list[tuple[str, object]]
) -> None:
    """Whatever reads come between the appends, and whatever event of ``streams`` is replaced after its append (as a
    test tampers), the chain read is the one the store made eagerly at each append: a link over the event as
    appended, so a replaced one is named."""
    initial = [event(index, suite, passed) for index, (suite, passed) in enumerate(given_events)]
    store = MemoryEventStore(streams={SERVICE: list(initial)})
    stream, links = list(initial), []  # the eager store, as every append linked before issue 24

    def text(e: Event) -> str:
        return json.dumps(event_to_dict(e))

    def chain() -> Rows:
        return [(p, text(e), links[p] if p < len(links) else None) for p, e in enumerate(stream)]

    made = len(stream)
    for what, arg in script:
        if what == "append":
            batch = [event(made + offset, "smoke", True) for offset in range(int(str(arg)))]
            made += len(batch)
            if len(links) < len(stream):
                links.extend(
                    links_for(links[-1] if links else GENESIS, SERVICE, len(links), map(text, stream[len(links) :]))
                )
            links.extend(links_for(links[-1] if links else GENESIS, SERVICE, len(stream), map(text, batch)))
            assert store.append(SERVICE, len(stream), batch) == len(stream) + len(batch)
            stream.extend(batch)
        elif what == "replace" and stream:
            position = int(str(arg)) % len(stream)
            forged = event(1000 + position, "forged", False)
            stream[position] = store.streams[SERVICE][position] = forged
        elif what == "read" and arg == "chain":
            assert list(store.chain(SERVICE)) == chain()
        elif what == "read" and arg == "links":
            assert store.links.get(SERVICE, []) == links
        elif what == "read" and stream and len(links) == len(stream):  # a snapshot sealed by the event's link
            store.save_snapshot(SERVICE, len(stream), "{}")
            kept = store.load_snapshot(SERVICE)
            assert kept is not None
            assert kept.snapshot.link == kept.event_link == links[-1]
    assert list(store.chain(SERVICE)) == chain()
    assert store.links.get(SERVICE, []) == links
