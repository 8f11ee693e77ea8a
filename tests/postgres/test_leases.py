"""One driver per rollout: the lease rule (pure, property-tested), the three stores carrying it out, and runners for
real — two watches of one rollout on a shared state (one drives, the other follows and ends as it does), and a driver
SIGKILLed mid-watch whose lease runs out so that another runner takes over where the log says."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra import load_platform
from findly_infra.adapters.memory import MemoryEventStore
from findly_infra.adapters.postgresql import PostgresEventStore
from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.bootstrap import Settings, open_runtime
from findly_infra.domain import Lease, lease_after
from tests.conftest import EXAMPLE, PAST
from tests.test_release_cli import cli

T0 = datetime(2026, 11, 26, 9, 0)
TTL = timedelta(minutes=3)


# ---- the rule -------------------------------------------------------------------------------------------------------


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 400)), max_size=60))
def test_a_live_lease_is_never_taken_and_one_run_out_always_can_be(asks: list[tuple[str, int]]) -> None:
    lease: Lease | None = None
    now = T0
    for holder, seconds in asks:
        now += timedelta(seconds=seconds)
        after = lease_after(lease, holder, now, TTL)
        if lease is not None and lease.live(now) and lease.holder != holder:
            assert after == lease  # someone else's live lease stands
        else:
            assert after == Lease(holder, now + TTL)  # free, run out, or renewed: the asker's, from now
        lease = after


def test_a_lease_needs_a_holder_and_some_time() -> None:
    with pytest.raises(ValueError, match="holder"):
        lease_after(None, " ", T0, TTL)
    with pytest.raises(ValueError, match="some time"):
        lease_after(None, "a", T0, timedelta(0))


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
    assert store.lease("fn-posts", "development") is None


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


def test_two_runners_watching_one_rollout_drive_it_once(state: str, tmp_path: Path) -> None:
    reference = str(tmp_path / "reference.sqlite3")  # the same release, watched by one runner alone
    for where in (reference, state):
        assert cli(_env(where), "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    assert cli(_env(reference), "rollout", "fn-posts", "--env", "development", "--watch")[0] == 0
    watch = [sys.executable, "-m", "findly_infra", "--json", "rollout", "fn-posts", "--env", "development", "--watch"]
    watch += ["--version", "1.0.0"]  # a watch that starts after the other ended answers how it ended
    slowed = {**os.environ, **_env(state), "FINDLY_STEP_DELAY": "0.1"}  # a watch of a few seconds: they overlap
    runners = [subprocess.Popen(watch, env=slowed, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    results = [runner.communicate(timeout=120) for runner in runners]
    assert [runner.returncode for runner in runners] == [0, 0], results  # both: the rollout succeeded
    following = [b'"event": "rollout.following"' in err for _, err in results]
    assert sorted(following) == [False, True]  # one drove it; the other saw it driven, and followed
    analyses = _analyses(state)
    assert len(analyses) == len(_analyses(reference))  # analysed once per interval, not once per runner
    assert analyses == sorted(set(analyses))
    assert all(b'"phase": "succeeded"' in out for out, _ in results)


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


def test_a_driver_killed_mid_watch_is_taken_over_once_its_lease_runs_out(state: str) -> None:
    env = _env(state)
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    driver = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_DRIVER), state, PAST, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert driver.returncode == -9, driver.stderr
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


def test_a_holder_killed_on_this_machine_is_known_dead_and_others_are_not() -> None:
    import socket

    from findly_infra.bootstrap import dead_here, runner_identity

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(10)  # gone, and reaped
    host = socket.gethostname()
    assert dead_here(Lease(f"{host}:{child.pid}", T0))
    assert not dead_here(Lease(runner_identity(), T0))  # this process
    assert not dead_here(Lease(f"{host}:1", T0))  # alive (init)
    assert not dead_here(Lease(f"elsewhere-{host}:{child.pid}", T0))  # another machine: only its lease running out
    assert runner_identity({"GITHUB_RUN_ID": "7", "GITHUB_RUN_ATTEMPT": "2", "GITHUB_WORKFLOW": "deploy"}).endswith(
        "(GitHub run 7 attempt 2, deploy)"
    )
