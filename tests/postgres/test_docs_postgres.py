"""The documentation's console examples that reach PostgreSQL, run as a user would — against the real server the
tests start, at the address the pages show (``postgresql://findly@127.0.0.1:5432/findly``), the password in
``PGPASSWORD`` as libpq reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from findly_infra.testing.postgresql import PostgresServer
from tests.docs_examples import pages, run_console, user_environment
from tests.test_docs import POSTGRES

BLOCKS = [(page, block) for page, blocks in pages().items() for block in blocks if POSTGRES in block.text]


@pytest.mark.parametrize(("page", "block"), BLOCKS, ids=[block.id for _, block in BLOCKS])
def test_console_examples_that_reach_postgresql(
    page: str, block: object, postgres: PostgresServer, tmp_path: Path
) -> None:
    database = f"docs_{abs(hash(getattr(block, 'id', page))) % 10**8}"
    url = postgres.url(database).replace(f":{postgres.password}@", "@")
    project = tmp_path / "project"
    project.mkdir()
    env = user_environment(tmp_path, PGPASSWORD=postgres.password)
    run_console(block, project, env, replace={POSTGRES: url})  # type: ignore[arg-type]


def test_the_pages_name_postgresql_somewhere() -> None:
    assert BLOCKS, "no page shows PostgreSQL"
