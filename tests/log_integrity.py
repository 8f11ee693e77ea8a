"""The event log's chain of links, as a contract every store keeps (memory and SQLite here, PostgreSQL in
``tests/postgres``): whatever is edited, deleted, inserted, moved or reordered after it was written, ``verify_stream``
names the first event that no longer holds — and a rewrite that recomputed every link is caught by a head kept
elsewhere. Each store is tampered with as someone holding it would: its rows, read and written back."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from findly_infra.application.integrity import GENESIS, Head, links_for, verify_stream
from findly_infra.domain.events import Event, TestResultRecorded

SERVICE = "fn-posts"
T0 = datetime(2026, 11, 26, 9)

Rows = list[tuple[int, str, str | None]]
"""A stream as stored: (position, text, link)."""


def event(index: int, suite: str, passed: bool) -> Event:
    return TestResultRecorded(
        service=SERVICE,
        environment="development",
        version=f"1.{index}.0",
        at=T0 + timedelta(minutes=index),
        actor="ci",
        suite=suite,
        passed=passed,
    )


histories = st.lists(st.tuples(st.sampled_from(["unit", "e2e", "smoke"]), st.booleans()), min_size=2, max_size=25)
batches = st.lists(st.integers(1, 4), min_size=1, max_size=25)


@st.composite
def tampering(draw: st.DrawFn, length: int) -> tuple[str, int, int]:
    """(how, i, j): edit event i; delete event i; swap the texts of i < j (links kept); move row j to i's place
    (links with it); insert a copy of event i before it; rewrite from i with every link recomputed."""
    how = draw(st.sampled_from(["edit", "delete", "swap", "swap_rows", "duplicate", "rewrite"]))
    i = draw(st.integers(0, length - 2))  # never only the last: see test_deleting_the_last_event_needs_a_kept_head
    j = draw(st.integers(i + 1, length - 1))
    return how, i, j


def tamper(rows: Rows, how: str, i: int, j: int) -> tuple[Rows, int]:
    """The rows after the tampering, and the position the chain must break at."""
    rows = list(rows)
    if how == "edit":
        position, body, link = rows[i]
        data = json.loads(body)
        data["actor"] = "mallory"
        rows[i] = (position, json.dumps(data), link)
    elif how == "delete":
        del rows[i]
    elif how == "swap":  # every event's text differs (its version does): a swap reorders
        (pi, bi, li), (pj, bj, lj) = rows[i], rows[j]
        rows[i], rows[j] = (pi, bj, li), (pj, bi, lj)
    elif how == "swap_rows":
        rows[i], rows[j] = (rows[i][0], rows[j][1], rows[j][2]), (rows[j][0], rows[i][1], rows[i][2])
    elif how == "duplicate":  # the copy at i is the event as it was; the original, now at i + 1, is not
        rows.insert(i, rows[i])
        rows = [(position, body, link) for position, (_, body, link) in enumerate(rows)]
        return rows, i + 1
    elif how == "rewrite":
        data = json.loads(rows[i][1])
        data["passed"] = not data["passed"]
        bodies = [body for _, body, _ in rows]
        bodies[i] = json.dumps(data)
        previous = GENESIS if i == 0 else rows[i - 1][2] or GENESIS
        links = links_for(previous, SERVICE, i, bodies[i:])
        rows = rows[:i] + [(p, b, v) for (p, _, _), b, v in zip(rows[i:], bodies[i:], links, strict=True)]
    return rows, i


def check_tampering(
    append: Callable[[int, list[Event]], int],
    read: Callable[[], Rows],
    write: Callable[[Rows], None],
    *,
    history: list[tuple[str, bool]],
    sizes: list[int],
    damage: tuple[str, int, int],
) -> None:
    """Append *history* in batches of *sizes*, check the chain holds, keep its head, tamper, and check the first
    broken link is where the damage began (for a rewrite: where the kept head is)."""
    events = [event(index, suite, passed) for index, (suite, passed) in enumerate(history)]
    version, sizes = 0, list(sizes) or [1]
    while version < len(events):
        size = sizes[version % len(sizes)]
        version = append(version, events[version : version + size])
    rows = read()
    intact = verify_stream(SERVICE, rows)
    assert intact.intact, intact
    assert intact.events == len(events)
    assert intact.head is not None
    head: Head = intact.head
    how, i, j = damage
    changed, at = tamper(rows, how, i, j)
    write(changed)
    verdict = verify_stream(SERVICE, read())
    if how == "rewrite":  # every link recomputed: the chain alone holds, a kept head does not
        assert verdict.intact, verdict
        verdict = verify_stream(SERVICE, read(), [head])
        at = head.position
    assert verdict.broken is not None, (how, i, j, verdict)
    assert verdict.broken.position == at, (how, i, j, verdict)


def rows_as_inserts(rows: Rows) -> list[tuple[str, int, str, str, str, str | None]]:
    """(service, position, type, at, body, link) for a store's table, from rows of text."""
    found = []
    for position, body, link in rows:
        data: dict[str, Any] = json.loads(body)
        found.append((SERVICE, position, str(data["type"]), str(data["at"]), body, link))
    return found
