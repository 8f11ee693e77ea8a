"""What a new user meets first on a PostgreSQL state, each said for what it is (issue 22): a server that refuses the
connection over what the URL says — a database that does not exist, a password or user it refuses, a user not allowed
to connect — is bad input (exit 2) with what to do, never "try again" (exit 5, kept for a server that cannot be
reached or is not ready); and ``state verify`` never passes on a state with nothing to vouch for."""

from __future__ import annotations

import re
import socket

import psycopg

from findly_infra.cli import EXIT_BAD_INPUT, EXIT_DEPENDENCY, EXIT_OK
from findly_infra.testing.postgresql import PostgresServer
from tests.conftest import EXAMPLE, PAST
from tests.test_release_cli import cli


def _env(url: str) -> dict[str, str]:
    return {"FINDLY_CONFIG": str(EXAMPLE), "FINDLY_ACTOR": "erin", "FINDLY_STATE": url, "FINDLY_NOW": PAST}


def _message(document: dict[str, object]) -> str:
    error = document["error"]
    assert isinstance(error, dict)
    return str(error["message"])


def _with(url: str, *, user: str | None = None, password: str | None = None, database: str | None = None) -> str:
    found = re.fullmatch(r"postgresql://(?P<user>[^:]+):(?P<password>[^@]+)@(?P<where>[^/]+)/(?P<database>.+)", url)
    assert found is not None
    return (
        f"postgresql://{user or found['user']}:{password or found['password']}@{found['where']}/"
        f"{database or found['database']}"
    )


# ---- the connection refused over what the URL says: exit 2 -------------------------------------------------------


def test_a_database_that_does_not_exist_is_bad_input_with_the_createdb_that_makes_it(
    postgres: PostgresServer, pg_url: str
) -> None:
    """SQLSTATE 3D000 (invalid_catalog_name, ``database "%s" does not exist``: PostgreSQL's postinit.c)."""
    url = _with(pg_url, database="nosuchdb")
    code, document = cli(_env(url), "state", "migrate")
    assert code == EXIT_BAD_INPUT
    message = _message(document)
    assert 'database "nosuchdb" does not exist' in message
    assert f"createdb -h 127.0.0.1 -p {postgres.port} -U findly nosuchdb" in message
    assert "findly:***@127.0.0.1" in message
    assert postgres.password not in str(document)


def test_a_refused_password_or_user_is_bad_input_and_never_printed(postgres: PostgresServer, pg_url: str) -> None:
    """28P01 (invalid_password: ``password authentication failed for user "%s"``, auth.c) — also what a user that
    does not exist gets over a password method, by design."""
    for url in (_with(pg_url, password="not-the-password-x9"), _with(pg_url, user="ghost", password="x9-secret")):
        code, document = cli(_env(url), "status", "fn-posts")
        assert code == EXIT_BAD_INPUT, document
        message = _message(document)
        assert "password authentication failed for user" in message
        assert "PGPASSFILE" in message
        assert "not-the-password-x9" not in str(document)
        assert "x9-secret" not in str(document)


def test_a_role_that_may_not_log_in_or_connect_is_bad_input(postgres: PostgresServer, pg_url: str) -> None:
    """28000 (``role "%s" is not permitted to log in``, miscinit.c) and 42501 (``permission denied for database``,
    postinit.c): configuration, which no retry helps."""
    database = pg_url.rpartition("/")[2]
    with psycopg.connect(pg_url, autocommit=True) as owner:
        owner.execute(b"CREATE ROLE findly_nologin NOLOGIN PASSWORD 'change-me'")
        owner.execute(b"CREATE ROLE findly_noconnect LOGIN PASSWORD 'change-me'")
        owner.execute(f'REVOKE CONNECT ON DATABASE "{database}" FROM PUBLIC'.encode())
    code, document = cli(_env(_with(pg_url, user="findly_nologin", password="change-me")), "status", "fn-posts")
    assert code == EXIT_BAD_INPUT, document
    assert 'role "findly_nologin" is not permitted to log in' in _message(document)
    assert "pg_hba.conf" in _message(document)
    code, document = cli(_env(_with(pg_url, user="findly_noconnect", password="change-me")), "status", "fn-posts")
    assert code == EXIT_BAD_INPUT, document
    assert f'permission denied for database "{database}"' in _message(document)
    assert f"GRANT CONNECT ON DATABASE {database} TO findly_noconnect" in _message(document)


def test_a_server_that_cannot_be_reached_or_has_no_room_is_still_exit_5(postgres: PostgresServer, pg_url: str) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, document = cli(_env(pg_url.replace(f":{postgres.port}/", f":{port}/")), "status", "fn-posts")
    assert code == EXIT_DEPENDENCY
    assert "cannot connect to PostgreSQL" in _message(document)
    with psycopg.connect(pg_url, autocommit=True) as owner:  # 53300 too_many_connections: room may come back
        owner.execute(b"CREATE ROLE findly_full LOGIN PASSWORD 'change-me' CONNECTION LIMIT 0")
    code, document = cli(_env(_with(pg_url, user="findly_full", password="change-me")), "status", "fn-posts")
    assert code == EXIT_DEPENDENCY, document
    assert 'too many connections for role "findly_full"' in _message(document)


# ---- state verify: nothing to vouch for is never a pass ------------------------------------------------------------


def test_verify_refuses_a_database_without_the_schema_as_check_does(pg_url: str) -> None:
    code, document = cli(_env(pg_url), "state", "verify")
    assert code == EXIT_BAD_INPUT
    assert "has no findly state: nothing to verify (never migrated" in _message(document)
    assert cli(_env(pg_url), "state", "check")[0] == EXIT_BAD_INPUT


def test_verify_of_a_state_never_written_to_says_there_is_nothing_to_verify(pg_url: str) -> None:
    assert cli(_env(pg_url), "state", "migrate")[0] == EXIT_OK
    code, document = cli(_env(pg_url), "state", "verify")
    assert code == EXIT_BAD_INPUT
    assert "holds no events yet (no command has written to it since it was made): nothing to verify" in _message(
        document
    )


def test_verify_of_a_wiped_state_names_the_damage_and_every_kept_head_it_lost(pg_url: str) -> None:
    assert cli(_env(pg_url), "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == EXIT_OK
    code, document = cli(_env(pg_url), "state", "verify")
    assert code == EXIT_OK
    streams = document["streams"]
    assert isinstance(streams, dict)
    head = streams["fn-posts"]["head"]
    with psycopg.connect(pg_url, autocommit=True) as owner:  # every event deleted, with the owner's credentials
        owner.execute(b"DELETE FROM findly_events")
    code, document = cli(_env(pg_url), "state", "verify")
    assert code == EXIT_BAD_INPUT
    assert "is damaged: it holds no events, yet commands wrote to it (it keeps virtual time)" in _message(document)
    code, document = cli(_env(pg_url), "state", "verify", "--expect", head)
    assert code == EXIT_BAD_INPUT
    assert "fn-posts: event 1 is gone: a kept head recorded it, and the stream has 0 events" in _message(document)
    with psycopg.connect(pg_url, autocommit=True) as owner:  # the tables dropped
        owner.execute(b"DROP TABLE findly_events")
    code, document = cli(_env(pg_url), "state", "verify")
    assert code == EXIT_BAD_INPUT
    assert 'is damaged: relation "findly_events" does not exist' in _message(document)
    with psycopg.connect(pg_url, autocommit=True) as owner:
        owner.execute(b"DROP TABLE findly_schema")
    code, document = cli(_env(pg_url), "state", "verify", "--expect", head)
    assert code == EXIT_BAD_INPUT
    assert "has no findly state: nothing to verify" in _message(document)
    assert "fn-posts: event 1 is gone" in _message(document)
