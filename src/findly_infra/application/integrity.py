"""Tamper evidence for the event log: each stored event carries a link — a SHA-256 over the link before it, its
stream, its position and its stored text — so that an event edited, deleted, inserted or moved after it was written
breaks the chain at that event, and ``findly-infra state verify`` names the first broken link of every stream.

What this can and cannot show. Whoever can write to the state can also compute links: a chain rewritten from the
first changed event onward verifies. What such a rewrite cannot do is keep a head someone else has kept: a stream's
head (its last position and link) recorded outside the state — in a CI job's log, an artifact, a ticket — is checked
with ``state verify --expect SERVICE@POSITION=LINK``, and every event up to it is then as it was when it was recorded.
A chain therefore detects accidents and naive edits by itself, and a rewrite against any head kept elsewhere.

Snapshots (``application.snapshots``) are derived from the chain: each carries the link of the event it folds up to,
and ``state verify`` folds every stream again up to its snapshot and compares (:class:`SnapshotVerdict`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

__all__ = [
    "GENESIS",
    "PAGE",
    "Anchor",
    "Break",
    "ChainedStore",
    "Head",
    "SnapshotVerdict",
    "StreamVerdict",
    "link",
    "links_for",
    "paged_rows",
    "parse_anchor",
    "verify_stream",
]

GENESIS = "0" * 64
"""The link before a stream's first event."""


def link(previous: str, service: str, position: int, body: str) -> str:
    """The link of the event stored as *body* at *position* of *service*'s stream, after *previous*: hex SHA-256 of
    the four, each on its own line (a service name and a position hold no newline; the body is last)."""
    return hashlib.sha256(f"{previous}\n{service}\n{position}\n{body}".encode()).hexdigest()


def links_for(previous: str, service: str, first: int, bodies: Iterable[str]) -> list[str]:
    """The links of *bodies* appended at positions *first*, *first* + 1, … after the link *previous*."""
    found = []
    for offset, body in enumerate(bodies):
        previous = link(previous, service, first + offset, body)
        found.append(previous)
    return found


PAGE = 5000
"""Rows a store reads at a time when it walks a stream's chain."""


def paged_rows(fetch: Callable[[int], Sequence[tuple[Any, Any, Any]]]) -> Iterator[tuple[int, str, str | None]]:
    """A stream's (position, text, link) rows, *fetch* (``since`` → at most :data:`PAGE` rows from that position, in
    order) called a page at a time, so that a stream of any length is walked in bounded memory."""
    since = 0
    while True:
        rows = fetch(since)
        yield from ((int(p), str(b), None if v is None else str(v)) for p, b, v in rows)
        if len(rows) < PAGE:
            return
        since = int(rows[-1][0]) + 1


@runtime_checkable
class ChainedStore(Protocol):
    """A store whose events carry their links (memory, SQLite, PostgreSQL)."""

    def services(self) -> list[str]:
        """Every service with a stream."""
        ...

    def chain(self, service: str) -> Iterator[tuple[int, str, str | None]]:
        """The stream as stored, in position order: (position, stored text, link — ``None`` where none was
        written)."""
        ...


@attrs.frozen
class Head:
    """Where a stream ends: its last position and that event's link (``SERVICE@POSITION=LINK``)."""

    service: str
    position: int
    link: str

    def __str__(self) -> str:
        return f"{self.service}@{self.position}={self.link}"


@attrs.frozen
class Break:
    """The first event of a stream whose link does not hold, and why."""

    service: str
    position: int
    problem: str

    def __str__(self) -> str:
        return f"{self.service}: event {self.position} {self.problem}"


Anchor = Head
"""A head kept elsewhere, to check the stream against."""


@attrs.frozen
class SnapshotVerdict:
    """What folding a stream again up to its snapshot found: ``problem`` is ``None`` when the snapshot is the fold
    of the events it says it folds (its body and its link); ``note`` says what is worth knowing but misleads no
    command (a snapshot written before snapshots were sealed, which every command ignores)."""

    service: str
    version: int
    problem: str | None = None
    note: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def __str__(self) -> str:
        what = self.problem or self.note or "is the fold of the events"
        return f"{self.service}: the snapshot at event {self.version} {what}"


@attrs.frozen
class StreamVerdict:
    """What verifying one stream found: its length and head, and its first break (``None``: intact); with its
    snapshot's verdict where one is kept."""

    service: str
    events: int
    head: Head | None
    broken: Break | None = None
    unlinked: int = 0
    """Events without links, in a stream that has none (a state written before links, opened read only and not yet
    migrated): nothing vouches for them — ``state migrate`` links them."""
    snapshot: SnapshotVerdict | None = None

    @property
    def intact(self) -> bool:
        return self.broken is None and self.unlinked == 0 and (self.snapshot is None or self.snapshot.ok)


def verify_stream(  # noqa: PLR0911 - each way a link can fail is said apart
    service: str, rows: Iterable[tuple[int, str, str | None]], anchors: Iterable[Anchor] = ()
) -> StreamVerdict:
    """Walk *service*'s stored rows from the first and name the first link that does not hold: a position out of
    order or missing (an event deleted, inserted or moved), a link that is not the one its text and the links before
    it give (an event edited, or links rewritten), an event without a link after linked ones. *anchors* (heads kept
    elsewhere) must each be on the chain."""
    expected = {anchor.position: anchor.link for anchor in anchors if anchor.service == service}
    previous, count, unlinked, head = GENESIS, 0, 0, None
    for position, body, stored in rows:
        if position != count:
            what = "is missing" if position > count else "is out of order"
            return StreamVerdict(service, count, head, Break(service, count, f"{what} (next stored: {position})"))
        count += 1
        if stored is None:
            if head is not None:
                return StreamVerdict(service, count, head, Break(service, position, "has no link, after linked events"))
            unlinked += 1
            continue
        if unlinked:  # links removed from the events before this one: nothing before it can be vouched for
            return StreamVerdict(
                service,
                count,
                head,
                Break(service, 0, f"has no link, nor do the {unlinked} after it, while later events do"),
            )
        previous = link(previous, service, position, body)
        if previous != stored:
            return StreamVerdict(
                service,
                count,
                head,
                Break(service, position, "does not match its link: it, or an event before it, was changed"),
            )
        head = Head(service, position, previous)
        if position in expected and expected.pop(position) != previous:
            return StreamVerdict(
                service,
                count,
                head,
                Break(service, position, "is not the event a kept head recorded: the stream was rewritten up to it"),
            )
    if expected:
        position = min(expected)
        return StreamVerdict(
            service,
            count,
            head,
            Break(service, position, f"is gone: a kept head recorded it, and the stream has {count} events"),
        )
    return StreamVerdict(service, count, head, None, unlinked)


def parse_anchor(text: str) -> Anchor:
    """``SERVICE@POSITION=LINK`` (as ``state verify`` prints heads); raises ``ValueError`` naming what is wrong."""
    where, _, value = text.partition("=")
    service, _, position = where.rpartition("@")
    if not service or not position.isdigit() or len(value) != 64 or not all(c in "0123456789abcdef" for c in value):
        raise ValueError(f"expected SERVICE@POSITION=LINK (a 64-digit hex link, as state verify prints), got {text!r}")
    return Head(service, int(position), value)
