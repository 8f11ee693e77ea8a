"""The documentation's console examples that reach PostgreSQL, run as a user would — against the real server the
tests start, at the address the pages show (``postgresql://findly@127.0.0.1:5432/findly``), the password in
``PGPASSWORD`` as libpq reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from findly_infra.testing.postgresql import PostgresServer, postgres_binaries
from tests.conftest import ROOT, require_tool
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


def _trial_steps() -> str:
    """The shell lines docs/state-and-evidence.md gives to try PostgreSQL on one's machine."""
    text = (ROOT / "docs" / "state-and-evidence.md").read_text()
    part = text[text.index("**To try it on your machine**") :]
    start = part.index("```bash\n") + len("```bash\n")
    return part[start : part.index("```", start)]


def test_the_local_trial_steps_start_the_server_the_example_uses(tmp_path: Path) -> None:
    """The page's steps, run as written — as an unprivileged user (``nobody`` when the tests run as root), on a free
    port instead of 5432 and with the PostgreSQL found here instead of 15 — then the page's example against it."""
    import os
    import shutil
    import socket
    import subprocess
    import tempfile

    binaries = postgres_binaries()
    if binaries is None:
        require_tool("initdb", "Debian: apt-get install postgresql")
    assert binaries is not None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    steps = _trial_steps()
    assert "/usr/lib/postgresql/15/bin" in steps
    assert "5432" in steps
    script = steps.replace("/usr/lib/postgresql/15/bin", str(binaries)).replace("5432", str(port))
    home = Path(tempfile.mkdtemp(prefix="findly-trial-"))  # not under pytest's root-only folder: nobody enters it
    user = group = None
    if os.geteuid() == 0:
        import pwd

        nobody = pwd.getpwnam("nobody")
        user, group = nobody.pw_uid, nobody.pw_gid
        os.chown(home, user, group)
    shell = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LC_ALL": "C.UTF-8"}
    try:
        started = subprocess.run(
            ["bash", "-euc", script],
            cwd=home,
            env=shell,
            user=user,
            group=group,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert started.returncode == 0, started.stdout + started.stderr
        project = tmp_path / "project"
        project.mkdir()
        url = f"postgresql://findly@127.0.0.1:{port}/findly"
        for block in pages()["state-and-evidence.md"]:
            if POSTGRES in block.text:
                run_console(block, project, user_environment(tmp_path), replace={POSTGRES: url})
    finally:
        subprocess.run(
            [str(binaries / "pg_ctl"), "-D", str(home / "findly-pg"), "-m", "immediate", "stop"],
            env=shell,
            user=user,
            group=group,
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(home, ignore_errors=True)
