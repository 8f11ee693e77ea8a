"""The machinery that runs the docs' console blocks (tests/docs_examples.py) does what a reader does, and leaves
nothing behind: one shell per page, a server started in the background waited on until it prints what the page shows,
every process the page started stopped at its end, and a user's environment without ours."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from tests.docs_examples import ConsoleBlock, Shell, Step, _group, run_page, user_environment

SERVER = (  # a server that says where it listens once it does, and serves until stopped — as the launchers do
    f"{sys.executable} -u -c 'import http.server as h; "
    's = h.HTTPServer(("127.0.0.1", 0), h.SimpleHTTPRequestHandler); '
    'print("serving at", s.server_address[1]); s.serve_forever()\''
)


def _block(index: int, *steps: tuple[str, tuple[str, ...], int]) -> ConsoleBlock:
    return ConsoleBlock("harness.md", index, tuple(Step(command, expected, code) for command, expected, code in steps))


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_a_server_started_in_the_background_serves_the_next_blocks_and_is_stopped_at_the_pages_end(
    tmp_path: Path,
) -> None:
    """The next command runs once the server has printed what the page shows (it reaches it at once), a later block
    of the page still has it (``kill %1`` works there), and when the page ends nothing it started is left: not the
    server, not what a job started in its turn."""
    pids = tmp_path / "pids"
    reach = (
        f"{sys.executable} -c 'import re, urllib.request; "
        'port = re.search(r"at (\\d+)", open("server.out").read())[1]; '
        'print(urllib.request.urlopen(f"http://127.0.0.1:{port}/").status)\''
    )
    page = [
        _block(0, (f"{SERVER} | tee server.out &", ("serving at …",), 0), (reach, ("200",), 0)),
        _block(1, (f"echo $! > {pids}; sleep 300 & echo $! >> {pids}", (), 0), ("bash -c 'sleep 301 & wait' &", (), 0)),
    ]
    with Shell(tmp_path, user_environment(tmp_path)) as shell:
        for block in page:
            shell.run(block)
        group = _group(shell.process.pid)
        assert len(group) >= 5  # bash, the server and tee, two sleeps, a bash around one
    started = [int(line) for line in pids.read_text().split()]
    assert not _group(shell.process.pid)
    assert not any(_alive(pid) for pid in [*started, *group])
    assert shell.left_behind == []  # all went on SIGTERM


def test_kill_percent_one_in_a_later_block_stops_the_server_an_earlier_one_started(tmp_path: Path) -> None:
    run_page(
        [
            _block(0, (f"{SERVER} &", ("serving at …",), 0)),
            _block(1, ("kill %1 && wait %1", (), 143), ("jobs | wc -l", ("0",), 0)),
        ],
        tmp_path,
        user_environment(tmp_path),
    )


def test_a_server_that_ends_before_printing_what_the_page_shows_fails_the_page_with_what_it_said(
    tmp_path: Path,
) -> None:
    block = _block(0, ("python3 -c 'import sys; sys.exit(\"port taken\")' &", ("serving at …",), 0))
    with pytest.raises(AssertionError, match=r"(?s)ended; it printed\nport taken.*the page shows\nserving at …"):
        run_page([block], tmp_path, user_environment(tmp_path))


def test_a_process_that_ignores_sigterm_is_killed_and_named(tmp_path: Path) -> None:
    """(``run_page`` then fails the page, naming it.)"""
    stubborn = (
        f"{sys.executable} -u -c 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        'print("up"); time.sleep(300)\' &'
    )
    with Shell(tmp_path, user_environment(tmp_path), grace=1.0) as shell:
        shell.run(_block(0, (stubborn, ("up",), 0)))
    assert len(shell.left_behind) == 1
    assert not _group(shell.process.pid)


def test_a_line_may_hold_any_text_where_the_page_shows_an_ellipsis() -> None:
    from tests.docs_examples import matches

    assert matches(
        ["serving on 127.0.0.1 until interrupted (Ctrl-C, or kill …)"],
        ["serving on 127.0.0.1 until interrupted (Ctrl-C, or kill 4242)"],
    )
    assert matches(["kubeconfig: …/kubeconfig"], ["kubeconfig: /tmp/x/kubeconfig"])
    assert not matches(["kubeconfig: …/kubeconfig"], ["kubeconfig: /tmp/x/kubeconfig.yaml"])
    assert not matches(["a (b)"], ["a (c)"])


def test_a_step_prints_what_the_page_shows_and_nothing_after_it() -> None:
    """A line printed after the last one a page shows (a stderr notice the page hides from nobody) fails the step;
    a page that shows nothing checks nothing."""
    from tests.docs_examples import matches

    assert not matches(["shown"], ["shown", "simulated: time is virtual"])
    assert matches(["shown", "..."], ["shown", "simulated: time is virtual"])
    assert matches([], ["anything"])


def test_the_users_environment_holds_none_of_ours(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What would make a page pass here and fail for a reader — a state, an actor, a kubeconfig, a PostgreSQL
    password, a Google credential, a GitHub token, a PYTHONPATH reaching the checkout — is not in a page's shell."""
    ours = {
        "FINDLY_STATE": "x.sqlite3",
        "FINDLY_ACTOR": "ci",
        "FINDLY_CONFIG": "/repo/findly.yaml",
        "GITHUB_TOKEN": "t",
        "KUBECONFIG": "/root/.kube/config",
        "PGPASSWORD": "p",
        "PGHOST": "db",
        "GOOGLE_APPLICATION_CREDENTIALS": "/k.json",
        "CLOUDSDK_CORE_PROJECT": "p",
        "ACTIONS_ID_TOKEN_REQUEST_URL": "http://x",
        "PYTHONPATH": "/repo/src",
    }
    for name, value in ours.items():
        monkeypatch.setenv(name, value)
    env = user_environment(tmp_path)
    assert not set(ours) & set(env)
    assert env["HOME"] == str(tmp_path)
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)  # the installed findly-infra first
    assert os.path.exists(Path(env["PATH"].split(":")[0]) / "findly-infra")


def test_a_page_runs_in_its_own_process_group(tmp_path: Path) -> None:
    with Shell(tmp_path, user_environment(tmp_path)) as shell:
        assert os.getpgid(shell.process.pid) == shell.process.pid != os.getpgid(0)
    with pytest.raises(ProcessLookupError):
        os.killpg(shell.process.pid, 0)


@pytest.mark.parametrize("page", ["prometheus.md", "simulation.md", "state-and-evidence.md"])
def test_a_page_that_starts_a_real_server_checks_it_still_serves_before_reading_it(page: str) -> None:
    """Debian's prometheus and postgresql packages start their own servers on 9090 and 5432 at install: a launcher
    started in the background on a taken port ends at once (exit 2), and a reader's next commands would read the
    system's empty server. So the page's step right after the launcher's exports the one address it printed, and the
    next one (``kill -0 %1``) fails loudly when the launcher has ended — before any command reads a server."""
    from tests.docs_examples import pages

    steps = [step.command for block in pages()[page] for step in block.steps]
    (start,) = [n for n, command in enumerate(steps) if re.match(r"python -m findly_infra\.testing\.\w+ ", command)]
    assert steps[start + 1].startswith(("export FINDLY_PROMETHEUS_URL=", "export FINDLY_STATE=")), steps[start + 1]
    assert steps[start + 2].startswith("kill -0 %1"), steps[start + 2]


def test_a_launcher_on_a_taken_port_is_caught_by_the_pages_next_line(tmp_path: Path) -> None:
    """As a reader runs it — no one waiting on the launcher's lines — a launcher that found its port taken has ended
    with its error, and the page's ``kill -0 %1`` exits 1: the page stops there, not on a wrong verdict further on."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        launcher = f"{sys.executable} -m findly_infra.testing.prometheus --port {port} --example &"
        with Shell(tmp_path, user_environment(tmp_path)) as shell:
            shell.run(_block(0, (launcher, ("...",), 0)))  # "..." : matched at once, as by a reader not waiting
            shell.run(_block(1, ("wait %1", (), 2)))  # it ends by itself: exit 2, the port taken (its error: its own)
            shell.run(_block(2, ("kill -0 %1", ("bash: line …: kill: %1: no such job",), 1)))
