"""What verified identities and the log's chain of links cost.

1. A verified identity: one token verified with the issuer's keys cached (PyJWT, RS256), the first one with its JWKS
   fetched over loopback, a whole proof (a token requested from the runner's endpoint, then verified), and a fresh
   verifier meeting a key rotated in after its first fetch (the key set read twice) — against the GitHub OIDC
   stand-in on 127.0.0.1.
2. The chain: linking an event (one SHA-256 over the stored text), appends per second on SQLite with their links,
   `state verify` over SQLite (and PostgreSQL, where initdb is installed) states of 1k, 100k and 1M events, and what
   linking a state written before links costs once (the upgrade).

    python benchmarks/integrity.py                 # 1k, 100k and 1M events
    python benchmarks/integrity.py 1000 100000     # the sizes given
"""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from findly_infra.adapters.github_oidc import ActionsIdentity, OidcVerifier
from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.application import codec
from findly_infra.application.integrity import GENESIS, link, verify_stream
from findly_infra.cli import main
from findly_infra.testing.github_oidc import GitHubOidcStandIn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from state import fill, history


def per_call(action: Any, runs: int) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        action()
    return (time.perf_counter() - start) / runs


def identities() -> None:
    with GitHubOidcStandIn() as github:
        environ = github.job(actor="carol", actor_id="3003", run_id="2011")
        tokens = [github.mint(aud="findly-infra") for _ in range(200)]
        verifier = OidcVerifier("findly-infra", issuer=github.url, jwks_url=f"{github.url}/.well-known/jwks")
        start = time.perf_counter()
        verifier.verify(tokens[0])
        first = time.perf_counter() - start
        iterator = iter(tokens[1:])
        cached = per_call(lambda: verifier.verify(next(iterator)), 199)
        proof = ActionsIdentity(verifier, environ)
        proven = per_call(proof.prove, 50)
        github.rotate("key-2")
        github.stale_jwks = 1  # what a command meets after a rotation: a first key set without the new key
        start = time.perf_counter()
        OidcVerifier("findly-infra", issuer=github.url, jwks_url=f"{github.url}/.well-known/jwks").verify(
            github.mint(aud="findly-infra")
        )
        rotated = time.perf_counter() - start
        print("verified identities (GitHub OIDC stand-in on 127.0.0.1, RS256 2048-bit, keys through PyJWKClient)")
        print(f"  first token (JWKS fetched):           {first * 1000:7.2f} ms")
        print(f"  a token, keys cached:                 {cached * 1000:7.2f} ms")
        print(f"  a proof (requested + verified):       {proven * 1000:7.2f} ms")
        print(f"  a rotated key (JWKS fetched twice):   {rotated * 1000:7.2f} ms   JWKS fetches: {github.jwks_fetches}")
    code = "import time; t = time.perf_counter(); import jwt, httpx; print(time.perf_counter() - t)"
    imported = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    print(f"  import jwt, httpx (a fresh process):  {imported * 1000:7.2f} ms   (only where identities are verified)")


def linking() -> None:
    event = next(e for e in history(100) if e.type == "analysis_recorded")  # the most frequent event
    body = json.dumps(codec.event_to_dict(event))
    cost = per_call(lambda: link(GENESIS, "fn-posts", 12345, body), 20_000)
    encode = per_call(lambda: json.dumps(codec.event_to_dict(event)), 5_000)
    print("\nthe chain")
    print(f"  one link (SHA-256 of {len(body)} bytes):    {cost * 1e6:7.2f} µs")
    print(f"  encoding the event (done anyway):     {encode * 1e6:7.2f} µs")
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteEventStore(Path(folder) / "state.sqlite3")
        events = list(history(300))
        start = time.perf_counter()
        for version, item in enumerate(events):
            store.append("fn-posts", version, [item])
        rate = len(events) / (time.perf_counter() - start)
        store.close()
    print(f"  SQLite durable appends, one event each: {rate:7.0f}/s")


def verify(name: str, state: str, count: int) -> None:
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = main(["--state", state, "state", "verify"])
    elapsed = time.perf_counter() - start
    assert code == 0, out.getvalue()
    print(f"  {name:10} {count:>9,} events: {elapsed * 1000:9.1f} ms   {count / elapsed:9.0f} events/s")


def relink_sqlite(count: int) -> None:
    """A state of schema 1 (no links) linked by the first command that opens it to write."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "old.sqlite3"
        store = SqliteEventStore(path)
        fill(store, history(count))
        store.close()
        with contextlib.closing(sqlite3.connect(path)) as raw:
            raw.execute("ALTER TABLE events DROP COLUMN link")
            raw.execute("PRAGMA user_version = 1")
            raw.commit()
        start = time.perf_counter()
        SqliteEventStore(path).close()
        print(f"  SQLite     schema 1 -> 2, {count:>9,} events linked: {time.perf_counter() - start:7.1f} s")


def relink_postgres(url: str, count: int) -> None:
    import psycopg

    import findly_infra.adapters.postgresql as postgres_adapter

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("ALTER TABLE findly_events DROP COLUMN link")
        connection.execute("DELETE FROM findly_schema WHERE version = 3")
    start = time.perf_counter()
    postgres_adapter.PostgresEventStore(url).close()
    print(f"  PostgreSQL schema 2 -> 3, {count:>9,} events linked: {time.perf_counter() - start:7.1f} s")


def main_() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1_000, 100_000, 1_000_000]
    identities()
    linking()
    print("\nstate verify (whole state, read only)")
    with tempfile.TemporaryDirectory() as folder:
        for count in sizes:
            path = Path(folder) / f"state-{count}.sqlite3"
            store = SqliteEventStore(path)
            fill(store, history(count))
            rows = list(store.chain("fn-posts"))
            store.close()
            start = time.perf_counter()
            assert verify_stream("fn-posts", rows).intact
            walk = time.perf_counter() - start
            verify("SQLite", str(path), count)
            print(f"  {'':10} {'':>9}         (the walk alone: {walk * 1000:.1f} ms)")
    print("\nupgrading a state: every event linked once, by the first command that writes (or state migrate)")
    for count in sizes:
        relink_sqlite(count)
    try:
        from findly_infra.testing.postgresql import PostgresServer, postgres_binaries
    except ImportError:
        return
    if postgres_binaries() is None:
        print("  PostgreSQL: initdb not installed, skipped")
        return
    import findly_infra.adapters.postgresql as postgres_adapter

    with PostgresServer() as server:
        for count in sizes:
            url = server.url(f"verify_{count}")
            store = postgres_adapter.PostgresEventStore(url)
            fill(store, history(count))
            store.close()
            verify("PostgreSQL", url, count)
            relink_postgres(url, count)


if __name__ == "__main__":
    main_()
