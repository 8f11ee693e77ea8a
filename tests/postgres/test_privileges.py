"""The least-privileged database user docs/state-and-evidence.md gives: the owner migrates, then the documented
GRANTs (read from the page itself) are all a CI job's user needs for a whole release — and they make the event log
append-only for it: the job's credentials cannot change or delete an event."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from findly_infra.adapters.postgresql import MIGRATIONS, SCHEMA_VERSION
from findly_infra.testing.postgresql import PostgresServer
from tests.conftest import EXAMPLE, PAST, ROOT

DOCS = ROOT / "docs" / "state-and-evidence.md"
SERVICE, VERSION = "fn-posts", "1.4.0"


def _documented_grants() -> list[str]:
    text = DOCS.read_text()
    block = text[text.index("**A least-privileged database user.**") :]
    sql = block[block.index("```sql\n") + len("```sql\n") : block.index("```", block.index("```sql\n") + 6)]
    statements = [re.sub(r"--[^\n]*", "", line).strip() for line in sql.strip().splitlines()]
    return [statement.rstrip(";") for statement in statements if statement]


def _as(owner_url: str, role: str) -> str:
    return re.sub(r"//[^@]+@", f"//{role}:change-me@", owner_url)


def findly(state: str, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FINDLY_", "GITHUB_", "ACTIONS_"))}
    env |= {"FINDLY_CONFIG": str(EXAMPLE), "FINDLY_STATE": state, "FINDLY_NOW": PAST, "FINDLY_ACTOR": "erin"}
    return subprocess.run(
        [sys.executable, "-m", "findly_infra", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=300,
        check=False,
    )


def test_the_documented_grants_carry_a_release_and_keep_the_log_append_only(
    postgres: PostgresServer, pg_url: str, tmp_path: Path
) -> None:
    import psycopg

    migrated = findly(pg_url, tmp_path, "state", "migrate")
    assert migrated.returncode == 0, migrated.stderr
    with psycopg.connect(pg_url, autocommit=True) as owner:
        for statement in _documented_grants():
            owner.execute(statement.encode())
    ci = _as(pg_url, "findly_ci")
    steps = [
        ("deploy", SERVICE, VERSION, "--env", "development"),
        ("rollout", SERVICE, "--env", "development", "--watch"),
        *(
            ("record", SERVICE, VERSION, "--env", "development", "--suite", s, "--passed")
            for s in ("unit", "integration", "smoke")
        ),
        ("promote", SERVICE, VERSION, "--to", "staging"),
        ("rollout", SERVICE, "--env", "staging", "--watch"),
        ("status", SERVICE),
        ("history", SERVICE),
        ("state", "verify"),
        ("state", "check"),
        ("state", "snapshot"),
    ]
    for step in steps:
        result = findly(ci, tmp_path, *step)
        assert result.returncode == 0, (step, result.stdout, result.stderr)
    status = json.loads(findly(ci, tmp_path, "--json", "status", SERVICE).stdout)
    assert status["ok"] is True
    with psycopg.connect(ci, autocommit=True) as job:
        for rewrite in ("UPDATE findly_events SET body = body", "DELETE FROM findly_events"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                job.execute(rewrite.encode())


def test_a_user_without_the_grants_is_told_which_privilege_is_missing(
    postgres: PostgresServer, pg_url: str, tmp_path: Path
) -> None:
    import psycopg

    assert findly(pg_url, tmp_path, "state", "migrate").returncode == 0
    with psycopg.connect(pg_url, autocommit=True) as owner:
        owner.execute(b"CREATE ROLE findly_bare LOGIN PASSWORD 'change-me'")  # roles are the server's, not a database's
        owner.execute(b"GRANT SELECT ON findly_schema, findly_meta TO findly_bare")
    result = findly(_as(pg_url, "findly_bare"), tmp_path, "--json", "deploy", SERVICE, VERSION, "--env", "development")
    assert result.returncode == 2, result.stdout + result.stderr
    message = json.loads(result.stdout)["error"]["message"]
    assert "the database user may not do this (permission denied for table" in message
    assert "change-me" not in result.stdout + result.stderr


def _grant_documented(owner_url: str, role: str) -> None:
    import psycopg

    with psycopg.connect(owner_url, autocommit=True) as owner:
        for statement in _documented_grants():
            owner.execute(statement.replace("findly_ci", role).encode())


def _tables(url: str) -> list[tuple[str, str]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
    return [(str(name), str(owner)) for name, owner in rows]


def test_migrate_as_the_ci_user_on_an_up_to_date_schema_says_so_and_creates_nothing(
    postgres: PostgresServer, pg_url: str, tmp_path: Path
) -> None:
    assert findly(pg_url, tmp_path, "state", "migrate").returncode == 0
    _grant_documented(pg_url, "findly_ci_migrate")
    before = _tables(pg_url)
    ci = _as(pg_url, "findly_ci_migrate")
    result = findly(ci, tmp_path, "state", "migrate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(f"schema {SCHEMA_VERSION}: up to date")
    document = json.loads(findly(ci, tmp_path, "--json", "state", "migrate").stdout)
    assert (document["schema_before"], document["schema"], document["changed"]) == (
        SCHEMA_VERSION,
        SCHEMA_VERSION,
        False,
    )
    assert _tables(pg_url) == before  # nothing created, nothing altered


def test_a_ci_user_on_a_schema_behind_is_told_to_have_the_owner_migrate_without_sql(
    postgres: PostgresServer, pg_url: str, tmp_path: Path
) -> None:
    """A database an older findly-infra left at schema 3, and a job whose user has the grants of then: ``state
    migrate`` — and the first writing command, which would migrate — name who can migrate it, and quote no SQL."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as owner:  # what findly-infra at schema 3 created
        owner.execute(
            b"CREATE TABLE findly_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT "
            b"now(), tool text NOT NULL)"
        )
        for version, migration in enumerate(MIGRATIONS[:3], start=1):
            owner.execute(migration.encode())
            owner.execute("INSERT INTO findly_schema (version, tool) VALUES (%s, 'findly-infra 0.3')", (version,))
        owner.execute(b"CREATE ROLE findly_ci_behind LOGIN PASSWORD 'change-me'")
        owner.execute(b"GRANT SELECT ON findly_schema, findly_meta TO findly_ci_behind")
        owner.execute(b"GRANT SELECT, INSERT ON findly_events TO findly_ci_behind")
    ci = _as(pg_url, "findly_ci_behind")
    for command in (("state", "migrate"), ("deploy", SERVICE, VERSION, "--env", "development")):
        result = findly(ci, tmp_path, "--json", *command)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        message = json.loads(result.stdout)["error"]["message"]
        assert f"is at schema 3, this findly-infra needs schema {SCHEMA_VERSION}" in message
        assert "Run `findly-infra state migrate` (this version) as the schema's owner" in message
        assert "LINE 1" not in message
        assert "CREATE" not in message
        assert "or let it create them" not in message
    with psycopg.connect(pg_url, autocommit=True) as owner:
        assert owner.execute(b"SELECT max(version) FROM findly_schema").fetchone() == (3,)  # nothing half-done


def test_only_the_owner_anchors_the_policy_in_force(postgres: PostgresServer, pg_url: str, tmp_path: Path) -> None:
    """``policy anchor`` is the owner's: the documented grants let the CI user read the anchor (every command does)
    and never write it — refused with exit 2 naming the owner, nothing anchored — and the owner's anchor is then
    what every command, the CI user's too, reads."""
    assert findly(pg_url, tmp_path, "state", "migrate").returncode == 0
    _grant_documented(pg_url, "findly_ci_anchor")
    ci = _as(pg_url, "findly_ci_anchor")
    assert findly(ci, tmp_path, "deploy", SERVICE, VERSION, "--env", "development").returncode == 0
    refused = findly(ci, tmp_path, "--json", "policy", "anchor")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    message = json.loads(refused.stdout)["error"]["message"]
    assert "only the schema's owner anchors the policy in force" in message
    assert "change-me" not in refused.stdout + refused.stderr
    assert json.loads(findly(ci, tmp_path, "--json", "policy", "show").stdout)["anchored"] is None
    anchored = findly(pg_url, tmp_path, "--json", "policy", "anchor")
    assert anchored.returncode == 0, anchored.stdout + anchored.stderr
    assert json.loads(anchored.stdout)["anchor"]["position"] == 0
    assert json.loads(findly(ci, tmp_path, "--json", "policy", "show").stdout)["anchored"] == 0


def test_the_ci_users_refused_anchor_records_nothing(postgres: PostgresServer, pg_url: str, tmp_path: Path) -> None:
    """Refused before anything is written: no adoption labelled as the owner's is left in the policy stream."""
    assert findly(pg_url, tmp_path, "state", "migrate").returncode == 0
    _grant_documented(pg_url, "findly_ci_norecord")
    ci = _as(pg_url, "findly_ci_norecord")
    assert findly(ci, tmp_path, "deploy", SERVICE, VERSION, "--env", "development").returncode == 0
    weaker = tmp_path / "weaker.yaml"
    weaker.write_text(EXAMPLE.read_text().replace("approval_required: true", "approval_required: false"))
    before = json.loads(findly(ci, tmp_path, "--json", "policy", "show").stdout)["adoptions"]
    refused = findly(ci, tmp_path, "--config", str(weaker), "--json", "policy", "anchor")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert json.loads(findly(ci, tmp_path, "--json", "policy", "show").stdout)["adoptions"] == before
