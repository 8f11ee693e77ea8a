"""The records of versions read back from PostgreSQL (schema 7) whatever the database's encoding: the version a row
names is found in its text as ``json.dumps`` wrote it (ASCII, every other character a ``\\u`` escape), not by parsing
JSON on the server — ``jsonb`` refuses an escape the database's encoding cannot hold (PostgreSQL docs, datatype-json:
"the jsonb type also rejects \\u escapes for non-ASCII characters when the database encoding is not UTF8"), which
left such a record out of the index (the review of issue 24: a failed version promoted on a LATIN1 database)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import psycopg
import pytest

from findly_infra.adapters.postgresql import PostgresEventStore
from findly_infra.application.codec import ANALYSIS_PREFIX
from findly_infra.application.service import PolicyRefusedError
from findly_infra.testing.postgresql import PostgresServer
from tests.test_audit_trail import T0
from tests.test_bounded_snapshots import _releases, _service


def _database(server: PostgresServer, encoding: str) -> str:
    """A new database of *encoding* (template0, C locale: any encoding), its URL."""
    base = server.url(f"findly_admin_{uuid.uuid4().hex[:8]}")
    name = f"findly_{encoding.lower()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(
            f"CREATE DATABASE {name} ENCODING '{encoding}' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
        )
    head, _, query = base.partition("?")
    return f"{head.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


@pytest.mark.parametrize("encoding", ["UTF8", "LATIN1"])
def test_a_failure_recorded_by_a_person_of_any_name_keeps_the_version_out(
    postgres: PostgresServer, encoding: str
) -> None:
    url = _database(postgres, encoding)
    store = PostgresEventStore(url, create=True)
    events = _releases(6, T0)
    store.append("fn-posts", 0, events)
    later = events[-1].at + timedelta(days=1)
    service = _service(store, later)
    # 1.0.2 passed integration, then failed it — recorded by a name outside LATIN1 (actors are any printable text)
    service.record_test("fn-posts", "1.0.2", "development", "integration", False, actor="\u738b\u5c0f\u660e")
    service.save_snapshot("fn-posts")
    fresh = PostgresEventStore(url)
    found = fresh.records("fn-posts", "1.0.2", 10_000)
    assert [e.passed for e in found if getattr(e, "suite", None) == "integration"] == [True, False]
    with pytest.raises(PolicyRefusedError, match="required-tests"):
        _service(fresh, later).deploy("fn-posts", "1.0.2", "staging", actor="erin")
    fresh.close()
    store.close()


def test_the_records_are_read_by_the_index_and_its_predicate_is_the_analysis_prefix(pg_url: str) -> None:
    store = PostgresEventStore(pg_url, create=True)
    store.append("fn-posts", 0, _releases(3, T0))
    with psycopg.connect(pg_url, autocommit=True) as connection:
        connection.execute("SET enable_seqscan = off")
        (definition,) = connection.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'findly_events_record_keys'"
        ).fetchone()
        assert ANALYSIS_PREFIX in definition  # the migration's literal is the codec's prefix
        plan = connection.execute(
            "EXPLAIN SELECT position FROM findly_events e WHERE e.service = 'fn-posts' AND "
            f"left(e.body, {len(ANALYSIS_PREFIX)}) <> '{ANALYSIS_PREFIX}' "
            "AND findly_record_key(e.body) IN ('1.0.1', '') AND e.position < 100"
        ).fetchall()
        assert "findly_events_record_keys" in str(plan), plan
        keys = connection.execute(
            "SELECT findly_record_key(body) FROM findly_events WHERE left(body, 31) <> %s", (ANALYSIS_PREFIX,)
        ).fetchall()
        assert {key for (key,) in keys} == {"1.0.0", "1.0.1", "1.0.2"}
    store.close()
