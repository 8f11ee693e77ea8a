"""Snapshots in a team's PostgreSQL state cannot be forged into a command: someone whose role may write
``findly_snapshots`` but not ``findly_events`` — a grant PostgreSQL makes per table — writes a snapshot whose digest
matches and whose link is right, and still no command uses it (the seal is on the event's row); ``state verify`` and
``state check`` name it. A database of schema 3 is migrated to 4, and the snapshots it kept are never trusted."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from findly_infra import load_platform
from findly_infra.adapters.memory import ScriptedMetrics, SimulatedCluster, VirtualClock
from findly_infra.adapters.postgresql import SCHEMA_VERSION, PostgresEventStore
from findly_infra.application.service import PipelineService
from findly_infra.application.snapshots import digest_of, trusted
from findly_infra.cli import EXIT_BAD_INPUT, EXIT_OK, EXIT_REFUSED
from findly_infra.domain import DeploymentPipeline
from tests.conftest import EXAMPLE, PAST
from tests.test_cli import run
from tests.test_release_cli import cli

SUITES = ("unit", "integration", "smoke")  # what development requires before staging
PAST_AT = datetime(2026, 1, 5, 9)


def _env(url: str) -> dict[str, str]:
    return {"FINDLY_CONFIG": str(EXAMPLE), "FINDLY_ACTOR": "erin", "FINDLY_STATE": url, "FINDLY_NOW": PAST}


def _released(url: str) -> dict[str, str]:
    """fn-posts 1.0.0 rolled out in development (no suite passed yet), its snapshot taken."""
    env = _env(url)
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == EXIT_OK
    assert cli(env, "rollout", "fn-posts", "--env", "development", "--watch")[0] == EXIT_OK
    assert cli(env, "state", "snapshot")[0] == EXIT_OK
    return env


def _as(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.hostname}:{parts.port}"))


def test_a_role_that_writes_only_the_snapshots_cannot_forge_one_into_a_command(pg_url: str) -> None:
    env = _released(pg_url)
    role, password = f"mallory_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    database = urlsplit(pg_url).path.lstrip("/")
    with psycopg.connect(pg_url, autocommit=True) as owner:
        owner.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        owner.execute(f"GRANT CONNECT ON DATABASE {database} TO {role}")
        owner.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
        owner.execute(f"GRANT INSERT, UPDATE, DELETE ON findly_snapshots TO {role}")
    with psycopg.connect(_as(pg_url, role, password), autocommit=True) as mallory:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # the premise: the events are not hers to write
            mallory.execute("UPDATE findly_events SET seal = NULL")
        version, body = mallory.execute(
            "SELECT version, body FROM findly_snapshots WHERE service = 'fn-posts'"
        ).fetchone()
        (link,) = mallory.execute(
            "SELECT link FROM findly_events WHERE service = 'fn-posts' AND position = %s", (version - 1,)
        ).fetchone()
        forged = json.loads(body)
        forged["environments"]["development"]["passed"] += [["1.0.0", suite] for suite in SUITES]
        text = json.dumps(forged, sort_keys=True, separators=(",", ":"))
        mallory.execute(  # its link right, its digest recomputed: all she can do
            "UPDATE findly_snapshots SET body = %s, link = %s, digest = %s WHERE service = 'fn-posts'",
            (text, link, digest_of("fn-posts", version, link, text)),
        )

    promoted = run("--json", "promote", "fn-posts", "1.0.0", "--to", "staging", env=env)
    assert promoted.returncode == EXIT_REFUSED, promoted.stdout + promoted.stderr
    assert json.loads(promoted.stdout)["error"]["rule"] == "required-tests"
    warning = next(json.loads(line) for line in promoted.stderr.splitlines() if "snapshot.refused" in line)
    assert f"is not the snapshot sealed on event {version - 1}" in warning["message"]

    verified = run("--json", "state", "verify", env=env)
    assert verified.returncode == EXIT_BAD_INPUT, verified.stdout + verified.stderr
    document = json.loads(verified.stdout)
    assert document["ok"] is False
    assert document["streams"]["fn-posts"]["snapshot"]["problem"].startswith(
        "is not the fold of the events: environments.development.passed: the snapshot says 3 items"
    )
    checked = run("state", "check", env=env)
    assert checked.returncode == EXIT_BAD_INPUT
    assert f"fn-posts: the snapshot at event {version} is not the fold of the events" in checked.stdout
    assert cli(env, "state", "snapshot")[0] == EXIT_OK  # rebuilt from the events
    assert cli(env, "state", "verify")[0] == EXIT_OK


def _as_schema_3(url: str) -> None:
    """Take the database back to schema 3, as a findly-infra before sealed snapshots left it: snapshots as JSON with
    no link or digest, no seals — and write into fn-posts' snapshot that every suite passed (format 2, which that
    version trusted)."""
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("DROP TABLE findly_notify_outbox, findly_notify_cursors")  # schema 8's
        connection.execute("DELETE FROM findly_schema WHERE version = 8")
        connection.execute("DROP INDEX findly_events_record_keys")  # schema 7's
        connection.execute("DROP FUNCTION findly_record_key")
        connection.execute("DELETE FROM findly_schema WHERE version = 7")
        connection.execute("ALTER TABLE findly_leases DROP COLUMN token")  # schema 6's
        connection.execute("DELETE FROM findly_schema WHERE version = 6")
        connection.execute("DROP TABLE findly_policy_anchor")  # schema 5's
        connection.execute("DELETE FROM findly_schema WHERE version = 5")
        connection.execute("ALTER TABLE findly_events DROP COLUMN seal")
        connection.execute("ALTER TABLE findly_snapshots DROP COLUMN link, DROP COLUMN digest")
        connection.execute("ALTER TABLE findly_snapshots ALTER COLUMN body TYPE jsonb USING body::jsonb")
        connection.execute("DELETE FROM findly_schema WHERE version = 4")
        (body,) = connection.execute("SELECT body FROM findly_snapshots WHERE service = 'fn-posts'").fetchone()
        body["format"] = 2
        body["environments"]["development"]["passed"] += [["1.0.0", suite] for suite in SUITES]
        connection.execute("UPDATE findly_snapshots SET body = %s WHERE service = 'fn-posts'", (json.dumps(body),))


def test_a_database_of_schema_3_is_migrated_and_the_snapshots_it_kept_are_never_trusted(pg_url: str) -> None:
    env = _released(pg_url)
    _as_schema_3(pg_url)
    platform = load_platform(EXAMPLE)
    reader = PostgresEventStore(pg_url, create=False)  # a read-only command: nothing migrated, nothing trusted
    try:
        assert reader.schema_version() == 3
        kept = reader.load_snapshot("fn-posts")
        assert kept is not None
        assert trusted(kept) == "is not sealed (no link or digest: written by an older findly-infra, or edited)"
        service = PipelineService(
            platform, reader, VirtualClock(PAST_AT), ScriptedMetrics(lambda _: {}), SimulatedCluster()
        )
        loaded = service.pipeline("fn-posts")
        whole = DeploymentPipeline.replay(platform, "fn-posts", reader.load("fn-posts")[0])
        assert loaded.environments == whole.environments
    finally:
        reader.close()

    promoted = run("--json", "promote", "fn-posts", "1.0.0", "--to", "staging", env=env)  # migrates, then decides
    assert promoted.returncode == EXIT_REFUSED, promoted.stdout + promoted.stderr
    assert "is not sealed" in promoted.stderr
    store = PostgresEventStore(pg_url, create=False)
    assert store.schema_version() == SCHEMA_VERSION == 8
    store.close()
    code, document = cli(env, "state", "verify")  # unsealed: no command uses it; said, not a failure
    assert code == EXIT_OK, document
    assert "is not sealed" in document["streams"]["fn-posts"]["snapshot"]["note"]  # type: ignore[index]
    assert cli(env, "record", "fn-posts", "1.0.0", "--env", "development", "--suite", "unit", "--passed")[0] == EXIT_OK
    code, document = cli(env, "state", "verify")  # the write rebuilt it, sealed
    assert code == EXIT_OK
    assert document["streams"]["fn-posts"]["snapshot"] == {  # type: ignore[index]
        "version": document["streams"]["fn-posts"]["events"],  # type: ignore[index]
        "ok": True,
        "problem": None,
        "note": None,
    }
