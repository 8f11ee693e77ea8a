"""One driver per rollout: the lease rule (pure, property-tested), the three stores carrying it out, and runners for
real — two watches of one rollout on a shared state (one drives, the other follows and ends as it does), and a driver
SIGKILLed mid-watch whose lease runs out so that another runner takes over where the log says."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import pytest

from findly_infra import load_platform
from findly_infra.adapters.memory import MemoryEventStore, ScenarioMetrics, SimulatedCluster, VirtualClock
from findly_infra.adapters.postgresql import PostgresEventStore
from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.application.ports import LeaseLostError
from findly_infra.application.scenarios import SCENARIOS
from findly_infra.application.service import PipelineService
from findly_infra.bootstrap import Settings, open_runtime
from findly_infra.domain import Fence, Lease, StrategyKind
from findly_infra.domain import events as recorded_events
from findly_infra.domain.events import Event
from tests.conftest import EXAMPLE, PAST
from tests.reliability import compare_logs, tally
from tests.test_release_cli import cli

T0 = datetime(2026, 11, 26, 9, 0)
TTL = timedelta(minutes=3)


# the rule itself (pure, each branch pinned): tests/domain/test_lease_rules.py


# ---- the stores ---------------------------------------------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryEventStore()
        return
    if request.param == "sqlite":
        durable: Any = SqliteEventStore(tmp_path / "state.sqlite3")
    else:
        durable = PostgresEventStore(request.getfixturevalue("pg_url"))
    yield durable
    durable.close()


def test_each_store_takes_renews_refuses_and_releases_a_lease(store: Any) -> None:
    now = datetime.utcnow()
    short = timedelta(milliseconds=300)
    assert store.lease("fn-posts", "development") is None
    first = store.acquire("fn-posts", "development", "runner-a", now=now, ttl=TTL)
    assert first.holder == "runner-a"
    assert store.acquire("fn-posts", "development", "runner-b", now=now, ttl=TTL) == store.lease(
        "fn-posts", "development"
    )  # a's, unchanged
    assert store.acquire("fn-posts", "production", "runner-b", now=now, ttl=TTL).holder == "runner-b"  # its own
    store.release("fn-posts", "development", "runner-b")  # not b's to give up
    assert store.lease("fn-posts", "development").holder == "runner-a"
    renewed = store.acquire("fn-posts", "development", "runner-a", now=now, ttl=short)
    assert renewed.holder == "runner-a"
    time.sleep(0.5)  # a's lease runs out (on the store's clock)
    later = datetime.utcnow()
    assert store.acquire("fn-posts", "development", "runner-b", now=later, ttl=TTL).holder == "runner-b"
    store.release("fn-posts", "development", "runner-b")
    given_up = store.lease("fn-posts", "development")  # run out at once, its token kept for the next holder's
    assert (given_up.holder, given_up.token, given_up.live(datetime.utcnow())) == ("runner-b", 2, False)


def _result(suite: str) -> Event:
    return recorded_events.TestResultRecorded(
        service="fn-posts", environment="development", version="1.0.0", at=T0, actor="ci", suite=suite, passed=True
    )


def test_a_fenced_append_after_a_take_over_is_refused_in_every_store(store: Any) -> None:
    now = datetime.utcnow()
    first = store.acquire("fn-posts", "development", "runner-a", now=now, ttl=TTL)
    fence = first.fence("development")
    assert store.append("fn-posts", 0, [_result("unit")], fence=fence) == 1
    renewed = store.acquire("fn-posts", "development", "runner-a", now=now, ttl=TTL)
    assert renewed.token == first.token  # a renewal keeps the token: the fence still holds
    assert store.append("fn-posts", 1, [_result("smoke")], fence=fence) == 2
    taken = store.acquire("fn-posts", "development", "runner-b", now=now, ttl=TTL, replacing="runner-a")
    assert (taken.holder, taken.token) == ("runner-b", first.token + 1)
    with pytest.raises(LeaseLostError, match="taken over by runner-b"):
        store.append("fn-posts", 2, [_result("late")], fence=fence)  # displaced: never written again
    assert store.load("fn-posts")[1] == 2  # nothing half-written
    assert store.append("fn-posts", 2, [_result("e2e")], fence=taken.fence("development")) == 3
    store.release("fn-posts", "development", "runner-b")
    again = store.acquire("fn-posts", "development", "runner-a", now=now, ttl=TTL)  # the same name, taken again
    assert again.token == taken.token + 1
    with pytest.raises(LeaseLostError, match="taken again since"):
        store.append("fn-posts", 3, [_result("late")], fence=fence)  # its old fence is not its new one
    assert store.append("fn-posts", 3, [_result("unit")]) == 4  # a person's command is never fenced
    with pytest.raises(LeaseLostError):
        store.append("fn-posts", 4, [_result("late")], fence=Fence("production", "runner-a", 1))  # never held


def test_a_sqlite_lease_table_of_before_tokens_gains_them(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    SqliteEventStore(path).close()
    with contextlib.closing(sqlite3.connect(path)) as old:  # the leases table as findly-infra made it before tokens
        old.executescript(
            "DROP TABLE leases; "
            "CREATE TABLE leases (service TEXT NOT NULL, environment TEXT NOT NULL, holder TEXT NOT NULL, "
            "expires TEXT NOT NULL, PRIMARY KEY (service, environment)) WITHOUT ROWID;"
            "INSERT INTO leases VALUES ('fn-posts', 'development', 'vm:42', '2000-01-01T00:00:00');"
        )
    store = SqliteEventStore(path, create=False)
    assert store.lease("fn-posts", "development") == Lease("vm:42", datetime(2000, 1, 1), 0)  # read as it is
    store.close()
    store = SqliteEventStore(path)
    taken = store.acquire("fn-posts", "development", "runner-a", now=datetime.utcnow(), ttl=TTL)
    assert (taken.holder, taken.token) == ("runner-a", 1)
    assert store.append("fn-posts", 0, [_result("unit")], fence=taken.fence("development")) == 1
    store.close()


def test_a_postgresql_take_over_and_a_fenced_append_are_serialized(pg_url: str) -> None:
    import psycopg

    store = PostgresEventStore(pg_url)
    fence = store.acquire("fn-posts", "development", "runner-a", now=datetime.utcnow(), ttl=TTL).fence("development")
    outcome: list[object] = []
    with psycopg.connect(pg_url) as other:  # another runner's take-over, not yet committed
        other.execute(
            "UPDATE findly_leases SET holder = 'runner-b', token = token + 1 WHERE service = 'fn-posts' "
            "AND environment = 'development'"
        )

        def append() -> None:
            try:
                outcome.append(store.append("fn-posts", 0, [_result("unit")], fence=fence))
            except LeaseLostError as exc:
                outcome.append(exc)

        writer = threading.Thread(target=append)
        writer.start()
        writer.join(1.0)  # the append waits for the take-over's row (FOR SHARE), or has read the one before it
        other.commit()
    writer.join(30)
    assert len(outcome) == 1
    assert isinstance(outcome[0], LeaseLostError), outcome  # it read the row the take-over committed
    assert store.load("fn-posts")[1] == 0
    store.close()


def test_of_racing_runners_one_gets_the_lease(pg_url: str) -> None:
    stores = [PostgresEventStore(pg_url) for _ in range(6)]
    barrier, got = threading.Barrier(len(stores)), []

    def race(index: int) -> None:
        barrier.wait()
        lease = stores[index].acquire("fn-posts", "development", f"r{index}", now=datetime.utcnow(), ttl=TTL)
        got.append(lease.holder == f"r{index}")

    threads = [threading.Thread(target=race, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(got) == [False] * 5 + [True]
    for one in stores:
        one.close()


# ---- runners ---------------------------------------------------------------------------------------------------------


def _states(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    return str(tmp_path / "state.sqlite3") if request.param == "sqlite" else request.getfixturevalue("pg_url")


@pytest.fixture(params=["sqlite", "postgresql"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _states(tmp_path, request)


def _env(state: str, **more: str) -> dict[str, str]:
    return {"FINDLY_CONFIG": str(EXAMPLE), "FINDLY_ACTOR": "erin", "FINDLY_STATE": state, "FINDLY_NOW": PAST, **more}


def _analyses(state: str) -> list[datetime]:
    settings = Settings(state=state)
    with open_runtime(settings, load_platform(EXAMPLE), read_only=True) as runtime:
        return [e.at for e in runtime.service.history("fn-posts") if e.type == "analysis_recorded"]


def _race(state: str, tmp_path: Path, containers: Sequence[str] = ()) -> list[tuple[bytes, bytes]]:
    """Two runners racing ``rollout --watch`` on one rollout (each in *containers*, a command prefix): both end as the
    rollout did, one drove it and the other followed — never displaced — and no instant was analysed twice."""
    reference = str(tmp_path / "reference.sqlite3")  # the same release, watched by one runner alone
    for where in (reference, state):
        assert cli(_env(where), "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    assert cli(_env(reference), "rollout", "fn-posts", "--env", "development", "--watch")[0] == 0
    watch = [sys.executable, "-m", "findly_infra", "--json", "rollout", "fn-posts", "--env", "development", "--watch"]
    watch += ["--version", "1.0.0"]  # a watch that starts after the other ended answers how it ended
    slowed = {**os.environ, **_env(state), "FINDLY_STEP_DELAY": "0.1"}  # a watch of a few seconds: they overlap
    runners = [
        subprocess.Popen([*containers, *watch], env=slowed, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    results = [runner.communicate(timeout=180) for runner in runners]
    tally("racing commands", len(runners))
    assert [runner.returncode for runner in runners] == [0, 0], results  # both: the rollout succeeded
    following = [err.count(b'"event": "rollout.following"') for _, err in results]
    assert sorted(following) == [0, 1], results  # one drove it; the other saw it driven by one driver, and followed
    analyses = _analyses(state)
    compare_logs(_analyses(reference), analyses)  # the instants one runner alone analyses: none lost, none twice
    assert len(analyses) == len(_analyses(reference))  # analysed once per interval, not once per runner
    assert analyses == sorted(set(analyses))  # no instant twice
    assert all(b'"phase": "succeeded"' in out for out, _ in results)
    return results


def test_two_runners_watching_one_rollout_drive_it_once(state: str, tmp_path: Path) -> None:
    _race(state, tmp_path)


def _containers() -> list[str]:
    """A command prefix that runs a runner as in a container of its own: a new pid namespace (it is pid 1 there, as
    the other one is) with its own /proc, and a host name of its own — the same as this machine's, as CI
    containers' often are. Skips where this cannot be had."""
    command = ["unshare", "--pid", "--fork", "--mount-proc", "--uts"]
    if shutil.which("unshare") is None:
        pytest.skip(
            "two runners of one host name and pid need util-linux's unshare (Debian: apt-get install util-linux)"
        )
    probe = subprocess.run([*command, "true"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(
            "two runners of one host name and pid need new pid and UTS namespaces (`unshare --pid --fork "
            f"--mount-proc --uts`: root or CAP_SYS_ADMIN), refused here: {probe.stderr.strip()}"
        )
    return command


def test_two_runners_of_one_host_name_and_pid_drive_one_rollout_once(state: str, tmp_path: Path) -> None:
    containers = _containers()
    results = _race(state, tmp_path, containers)
    (followed,) = [err for _, err in results if b"rollout.following" in err]
    said = json.loads(next(line for line in followed.splitlines() if b"rollout.following" in line))
    assert said["driver"].startswith(f"{socket.gethostname()}:1 [id ")  # the driver was this host name's pid 1 …
    who = subprocess.run(  # … as the other runner was: in such a container, a process is pid 1 of this host name
        [*containers, sys.executable, "-c", "from findly_infra.bootstrap import runner_identity as r; print(r())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert who.startswith(f"{socket.gethostname()}:1 [id ")


def test_only_a_holder_provably_of_this_kernel_and_pid_namespace_is_judged_dead() -> None:
    from findly_infra.bootstrap import dead_here, runner_identity

    identity = "import sys; from findly_infra.bootstrap import runner_identity as r; print(r(), flush=True); "
    gone = subprocess.run([sys.executable, "-c", identity], capture_output=True, text=True, check=True).stdout.strip()
    assert dead_here(Lease(gone, T0))  # it said it ran here, and its pid runs nothing now: taken over at once
    with subprocess.Popen(
        [sys.executable, "-c", identity + "sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as alive:
        assert alive.stdin is not None
        assert alive.stdout is not None
        running = alive.stdout.readline().strip()
        assert not dead_here(Lease(running, T0))  # alive
        alive.stdin.close()
        alive.wait(30)
    assert dead_here(Lease(running, T0))  # … until it ends
    mine = runner_identity()
    assert not dead_here(Lease(mine, T0))  # this process
    assert dead_here(Lease(re.sub(r"start \d+\]$", "start 1]", mine), T0))  # its pid, reused by a later process
    # where it ran cannot be proven to be here: never judged dead, its lease runs out
    assert not dead_here(Lease(re.sub(r"pidns \d+", "pidns 1", gone), T0))  # another container of this machine
    assert not dead_here(Lease(re.sub(r"boot [0-9a-f]", "boot x", gone), T0))  # another machine, or a reboot
    pid = int(gone.split(":", 1)[1].split(" ", 1)[0])
    assert not dead_here(Lease(f"{socket.gethostname()}:{pid}", T0))  # a name alone (an older findly-infra's)
    assert not dead_here(Lease(gone.split(" [", 1)[0] + " [id 0123abcd]", T0))  # one that could not say where
    assert runner_identity({"GITHUB_RUN_ID": "7", "GITHUB_RUN_ATTEMPT": "2", "GITHUB_WORKFLOW": "deploy"}).startswith(
        f"{socket.gethostname()}:{os.getpid()} (GitHub run 7 attempt 2, deploy) [id "
    )
    assert runner_identity() == mine  # one name a process
    assert gone.split(" [id ", 1)[1][:16] != mine.split(" [id ", 1)[1][:16]  # another process, another nonce


def test_a_lease_shorter_than_one_step_is_refused(tmp_path: Path) -> None:
    env = _env(str(tmp_path / "state.sqlite3"))
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    before = _analyses(env["FINDLY_STATE"])
    code, document = cli(
        {**env, "FINDLY_LEASE_SECONDS": "59"}, "rollout", "fn-posts", "--env", "development", "--watch"
    )
    assert code == 2, document
    message = document["error"]["message"]  # type: ignore[index]
    assert "FINDLY_LEASE_SECONDS=59 is shorter than one step" in message
    assert "its analysis interval is 60 seconds" in message
    assert _analyses(env["FINDLY_STATE"]) == before  # nothing taken, nothing analysed
    code, document = cli(
        {**env, "FINDLY_LEASE_SECONDS": "60"}, "rollout", "fn-posts", "--env", "development", "--watch"
    )
    assert (code, document["phase"]) == (0, "succeeded")  # one interval is enough


def _quick(folder: Path, seconds: int = 5) -> Path:
    """The example platform with a canary of seconds: analysed every second, two stages of *seconds*."""
    text = EXAMPLE.read_text()
    stages = re.search(r"  traffic_progression:\n(?:    .*\n)+", text)
    assert stages is not None
    quick = (
        "  traffic_progression:\n"
        f'    - {{stage: "Initial", canary_weight: 10, duration: "{seconds} seconds"}}\n'
        f'    - {{stage: "Half", canary_weight: 50, duration: "{seconds} seconds"}}\n'
        '    - {stage: "Full", canary_weight: 100, duration: "stable"}\n'
        '  analysis: {interval: "1s"}\n'
    )
    (folder / "findly.yaml").write_text(text.replace(stages.group(0), quick))
    return folder / "findly.yaml"


_DRIVER = """
import os, signal, sys
from findly_infra import load_platform
from findly_infra.bootstrap import Settings, open_runtime

steps = []
def wait(delta):
    steps.append(delta)
    if len(steps) == 3:  # killed mid-watch: no finally, no release — its lease is left to run out
        print("dying", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    runtime.virtual.advance(delta)

settings = Settings.from_environment({"FINDLY_LEASE_SECONDS": "1"}, state=sys.argv[1], now=sys.argv[2])
with open_runtime(settings, load_platform(sys.argv[3]), service="fn-posts") as runtime:
    runtime.service.holder = "runner-7:4242 (GitHub run 99 attempt 1)"  # as if on another machine: it must run out
    runtime.service.watch("fn-posts", "development", actor="findly", wait=wait)
"""


def test_a_driver_killed_mid_watch_is_taken_over_once_its_lease_runs_out(state: str, tmp_path: Path) -> None:
    config = _quick(tmp_path)  # a lease of one second is one step: allowed
    env = {**_env(state), "FINDLY_CONFIG": str(config)}
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    driver = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_DRIVER), state, PAST, str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert driver.returncode == -9, driver.stderr
    tally("kills")
    code, document = cli(env, "status", "fn-posts", "--env", "development")
    assert code == 0
    driving = document["services"]["fn-posts"]["development"]["driver"]  # type: ignore[index]
    assert driving["holder"] == "runner-7:4242 (GitHub run 99 attempt 1)"
    code, document = cli(env, "rollout", "fn-posts", "--env", "development")  # one step by hand: refused meanwhile
    assert (code, document["error"]["rule"]) == (3, "rollout-lease")  # type: ignore[index]
    before = len(_analyses(state))
    code, document = cli({**env, "FINDLY_LEASE_SECONDS": "1"}, "rollout", "fn-posts", "--env", "development", "--watch")
    assert (code, document["phase"]) == (0, "succeeded")  # taken over once the lease ran out, where the log said
    analyses = _analyses(state)
    assert len(analyses) > before
    assert analyses == sorted(set(analyses))  # nothing analysed twice


def test_a_driver_displaced_while_it_waited_writes_nothing_more_and_follows_the_new_one() -> None:
    """A driver frozen past its lease (SIGSTOP, a paused VM, a lost network) and taken over meanwhile: its next write is
    refused by the fence, nothing of it is written, and its watch follows the new driver — no traceback."""
    clock, wall = VirtualClock(datetime(2026, 1, 5, 9)), VirtualClock(T0)
    store = MemoryEventStore()
    driver = PipelineService(
        load_platform(EXAMPLE),
        store,
        clock,
        ScenarioMetrics(SCENARIOS["healthy"]),
        SimulatedCluster(),
        holder="runner-a",
        wall=wall,
        idle=lambda seconds: wall.advance(timedelta(seconds=seconds)),
    )
    driver.deploy("fn-posts", "1.0.0", "development", actor="erin", strategy=StrategyKind.CANARY)
    waits: list[timedelta] = []

    def wait(interval: timedelta) -> None:
        waits.append(interval)
        clock.advance(interval)
        if len(waits) == 2:  # frozen for an hour: its lease ran out, and another runner took the rollout over
            wall.advance(timedelta(hours=1))
            store.acquire("fn-posts", "development", "runner-b", now=wall.now(), ttl=timedelta(hours=2))

    drivers: list[str] = []
    outcome = driver.watch(
        "fn-posts", "development", actor="findly", wait=wait, max_steps=6, on_lease=lambda x: drivers.append(x.holder)
    )
    analyses = [event for event in store.load("fn-posts")[0] if event.type == "analysis_recorded"]
    assert len(analyses) == 1  # the step before it froze; none after
    assert (len(waits), set(drivers)) == (2, {"runner-b"})  # it followed runner-b from then on
    assert outcome.phase.value == "progressing"  # runner-b drives it on
    assert store.lease("fn-posts", "development").holder == "runner-b"  # never displaced by the one it displaced


def _lines(stream: IO[bytes], into: list[bytes]) -> threading.Thread:
    """Reads *stream* line by line into *into*, in a thread (a runner never blocks on a full pipe)."""

    def read() -> None:
        for line in stream:
            into.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return reader


def _until(
    lines: list[bytes], predicate: Callable[[bytes], bool], process: subprocess.Popen[bytes], seconds: float = 60
) -> bool:
    """Whether a line of *lines* meets *predicate* before *process* ends (looked at every 50 ms, for at most
    *seconds*)."""
    for _ in range(round(seconds / 0.05)):
        if any(predicate(line) for line in list(lines)):
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def test_a_driver_frozen_past_its_lease_never_writes_again_and_follows(state: str, tmp_path: Path) -> None:
    """The real thing: a driver SIGSTOPped mid-rollout, its lease run out and taken over by the runner that followed
    it; woken up, it writes nothing more (its next append is refused by the fence) and follows the new driver."""
    config = _quick(tmp_path, seconds=30)
    env = {**_env(state), "FINDLY_CONFIG": str(config)}
    reference = {**env, "FINDLY_STATE": str(tmp_path / "reference.sqlite3")}
    for where in (reference, env):
        assert cli(where, "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    assert cli(reference, "rollout", "fn-posts", "--env", "development", "--watch")[0] == 0
    watch = [sys.executable, "-m", "findly_infra", "--json", "rollout", "fn-posts", "--env", "development", "--watch"]
    # a rollout of some seconds, so that the second runner is up and following long before it ends, and a lease that
    # a driver slowed by a loaded machine still renews in time (it runs out only while the driver is frozen); the
    # second runner steps faster once it has taken over (the rest of the rollout, still some seconds of it, so that
    # the first one is woken up while the second still drives)
    slowed = {**os.environ, **env, "FINDLY_STEP_DELAY": "0.3", "FINDLY_LEASE_SECONDS": "2"}
    taking_over = {**slowed, "FINDLY_STEP_DELAY": "0.1"}
    logs: list[list[bytes]] = [[], []]
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(subprocess.Popen(watch, env=slowed, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        assert first.stderr is not None
        readers = [_lines(first.stderr, logs[0])]
        assert _until(logs[0], lambda line: b'"verdict": "pass"' in line, first)  # it drives
        second = stack.enter_context(
            subprocess.Popen(watch, env=taking_over, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        )
        assert second.stderr is not None
        readers.append(_lines(second.stderr, logs[1]))
        assert _until(logs[1], lambda line: b"rollout.following" in line, second)  # the other follows
        first.send_signal(signal.SIGSTOP)  # frozen: its lease runs out, and the follower takes over
        tally("freezes")
        try:
            # frozen inside a transaction (a lock on its lease or stream held), the driver keeps the follower waiting
            # until PostgreSQL cuts that transaction (idle_in_transaction_session_timeout: twice the state's 30 s
            # timeout): longer than the 60 s looked at elsewhere
            taken = _until(logs[1], lambda line: b'"verdict": "pass"' in line, second, seconds=150)
        finally:
            first.send_signal(signal.SIGCONT)
        assert taken, b"".join(logs[1])
        # not communicate(): it reads stderr too, racing the reader threads for the lines the test looks at
        outs = []
        for runner in (first, second):
            runner.wait(timeout=180)
            assert runner.stdout is not None
            outs.append(runner.stdout.read())
        for reader in readers:
            reader.join(30)
    assert [first.returncode, second.returncode] == [0, 0], logs
    assert all(b'"phase": "succeeded"' in out for out in outs)
    assert any(b"rollout.following" in line for line in logs[0]), logs[0][-12:]  # woken up, it followed the new driver
    assert not any(b"Traceback" in line for log in logs for line in log)
    analyses = _analyses(state)
    compare_logs(_analyses(reference["FINDLY_STATE"]), analyses)
    assert len(analyses) == len(_analyses(reference["FINDLY_STATE"]))  # nothing analysed twice, nor out of turn
    assert analyses == sorted(set(analyses))
