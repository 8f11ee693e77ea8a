"""docs/state-and-evidence.md's steps to start PostgreSQL by hand, run as written, then the page's example against
that server. (The page's console blocks run in tests/test_docs.py, as written, against the server the page itself
starts with ``python -m findly_infra.testing.postgresql``.)"""

from __future__ import annotations

from pathlib import Path

import attrs

from findly_infra.testing.postgresql import postgres_binaries
from tests.conftest import ROOT, require_tool
from tests.docs_examples import pages, run_page, user_environment

POSTGRES = "postgresql://findly@127.0.0.1:5432/findly"  # the URL the page shows


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
        (block,) = [block for block in pages()["state-and-evidence.md"] if POSTGRES in block.text]
        # the page's example without the lines that start, check and stop a server of its own: this one was started by
        # hand
        steps = [
            step
            for step in block.steps
            if "findly_infra.testing.postgresql" not in step.command
            and not step.command.startswith(("kill %1", "kill -0 %1"))
        ]
        started_by_hand = attrs.evolve(block, steps=tuple(steps))
        run_page([started_by_hand], project, user_environment(tmp_path), replace={POSTGRES: url})
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
