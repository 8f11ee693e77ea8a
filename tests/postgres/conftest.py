"""A real PostgreSQL on 127.0.0.1 (``initdb`` in a temporary folder, as ``nobody`` when the tests run as root): one
server for the session, a database of its own for each test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

pytest.importorskip("psycopg", reason="the postgresql extra: pip install 'findly-infra[postgresql]'")

from findly_infra.testing.postgresql import PostgresServer, postgres_binaries
from tests.conftest import require_tool

POSTGRES_INSTALL = "Debian: apt-get install postgresql"
_names = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    if postgres_binaries() is None:
        require_tool("initdb", POSTGRES_INSTALL)  # skips (or fails, with FINDLY_REQUIRE_TOOLS=1)
    with PostgresServer() as server:
        yield server


@pytest.fixture
def pg_url(postgres: PostgresServer) -> str:
    """A new, empty database's URL (its password in it, as a team's secret would be)."""
    return postgres.url(f"findly_{next(_names)}")
