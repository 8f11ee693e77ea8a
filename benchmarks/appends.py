"""Durable appends per second, each beside its reference in the same run: our PostgreSQL store's ``append`` (one
event, one transaction each) beside a plain psycopg INSERT loop into a table of the same shape on the same server
(autocommit: one statement, one transaction per insert; ``synchronous_commit`` as the server has it), and our SQLite
store's beside a plain sqlite3 INSERT loop into a file of the same shape (WAL, ``synchronous=FULL``, one transaction
per insert). Rounds interleaved (ours, then the reference), the median of each, and the ratio.

    python benchmarks/appends.py            # 9 rounds of 200 appends
    python benchmarks/appends.py 15 300     # rounds, appends per round

The PostgreSQL server is the tests' own (``findly_infra.testing.postgresql``) on the loopback, measured three ways:
durable (``fsync`` on, the server's defaults: each commit waits for the disk), ``fsync=off`` (what each append costs
beyond the disk: its round trips and its work, on both sides), and ``fsync=off`` through a relay that delays each
message 0.5 ms each way (a network between the runner and the server: round trips dominate).
"""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.application.codec import event_to_dict
from findly_infra.application.integrity import GENESIS, link
from findly_infra.domain import TestResultRecorded

AT = datetime(2026, 1, 1)
EVENT = TestResultRecorded(
    service="fn-appends", environment="development", version="1.0.0", at=AT, actor="bench", suite="unit", passed=True
)
BODY = json.dumps(event_to_dict(EVENT))
LINK = link(GENESIS, "fn-appends", 0, BODY)


def rate(run: Callable[[int], None], count: int) -> float:
    began = time.perf_counter()
    run(count)
    return count / (time.perf_counter() - began)


def side_by_side(name: str, ours: Callable[[int], None], plain: Callable[[int], None], rounds: int, count: int) -> None:
    ours(5)  # warm: the first statements, prepared statements, caches
    plain(5)
    mine, theirs = [], []
    for _ in range(rounds):
        mine.append(rate(ours, count))
        theirs.append(rate(plain, count))
    a, b = statistics.median(mine), statistics.median(theirs)
    print(
        f"{name}: {a:,.0f} appends/s beside {b:,.0f} plain INSERTs/s = {a / b:.2f} "
        f"(median of {rounds} interleaved rounds of {count}; ours {min(mine):,.0f}–{max(mine):,.0f}, "
        f"plain {min(theirs):,.0f}–{max(theirs):,.0f})"
    )


class Ours:
    """Appends of one event each to one stream of a store, from where it is."""

    def __init__(self, store: Any) -> None:
        self.store, self.version = store, 0

    def __call__(self, count: int) -> None:
        for _ in range(count):
            self.version = self.store.append("fn-appends", self.version, [EVENT])


def sqlite_plain(path: Path) -> Callable[[int], None]:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute(
        "CREATE TABLE events (service TEXT NOT NULL, position INTEGER NOT NULL, type TEXT NOT NULL, at TEXT NOT NULL, "
        "body TEXT NOT NULL, link TEXT, seal TEXT, PRIMARY KEY (service, position)) WITHOUT ROWID"
    )
    connection.execute("CREATE INDEX events_at ON events (at)")
    position = 0

    def run(count: int) -> None:
        nonlocal position
        for _ in range(count):
            connection.execute(
                "INSERT INTO events (service, position, type, at, body, link) VALUES (?, ?, ?, ?, ?, ?)",
                ("fn-appends", position, EVENT.type, AT.isoformat(), BODY, LINK),
            )
            position += 1

    return run


def postgres_plain(url: str) -> Callable[[int], None]:
    import psycopg

    connection = psycopg.connect(url, autocommit=True)
    connection.execute(
        "CREATE TABLE plain_events (service text NOT NULL, position integer NOT NULL CHECK (position >= 0), "
        "type text NOT NULL, at timestamp NOT NULL, body text NOT NULL, link text, seal text, "
        "PRIMARY KEY (service, position))"
    )
    connection.execute("CREATE INDEX plain_events_at ON plain_events (at)")
    position = 0

    def run(count: int) -> None:
        nonlocal position
        for _ in range(count):
            connection.execute(
                "INSERT INTO plain_events (service, position, type, at, body, link) VALUES (%s, %s, %s, %s, %s, %s)",
                ("fn-appends", position, EVENT.type, AT, BODY, LINK),
            )
            position += 1

    return run


class Network:
    """A relay between the clients and the server that holds what it receives *delay* seconds before passing it on,
    each way: a network whose round trip takes twice that (and the relay's own time) — the same for both loops."""

    def __init__(self, port: int, delay: float) -> None:
        self.target, self.delay = port, delay
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, url: str) -> str:
        return url.replace(f":{self.target}/", f":{self.port}/")

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            server = socket.create_connection(("127.0.0.1", self.target))
            for one in (client, server):
                one.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._relay, args=(source, sink), daemon=True).start()

    def _relay(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(1 << 16):
                time.sleep(self.delay)
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)


def main() -> None:
    rounds, count = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (9, 200)
    with tempfile.TemporaryDirectory() as folder:
        side_by_side(
            "SQLite",
            Ours(SqliteEventStore(Path(folder) / "ours.sqlite3")),
            sqlite_plain(Path(folder) / "plain.sqlite3"),
            rounds,
            count,
        )
    from findly_infra.adapters.postgresql import PostgresEventStore
    from findly_infra.testing.postgresql import PostgresServer, postgres_binaries

    if postgres_binaries() is None:
        print("PostgreSQL: not installed (Debian: apt-get install postgresql): not measured")
        return
    for durable in (True, False):
        with PostgresServer(durable=durable) as server:
            url = server.url("appends")
            side_by_side(
                f"PostgreSQL (loopback, {'fsync on' if durable else 'fsync off: round trips and work alone'})",
                Ours(PostgresEventStore(url)),
                postgres_plain(url),
                rounds,
                count,
            )
            if not durable:
                network = Network(server.port, 0.0005)
                side_by_side(
                    "PostgreSQL (fsync off, through a relay adding 0.5 ms each way: a network's round trips)",
                    Ours(PostgresEventStore(network.url(server.url("network")))),
                    postgres_plain(network.url(server.url("network_plain"))),
                    rounds,
                    max(20, count // 5),
                )


if __name__ == "__main__":
    main()
