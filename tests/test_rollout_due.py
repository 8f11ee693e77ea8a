"""``rollout --due``: the analyses due now, then return — so that a GitHub runner is not held for an hour-long canary
and a scheduled job carries the rollout on. The rules, on the in-memory adapters and a virtual clock: calls at any
times analyse on the instants one watch would (in a rehearsal's time), never a step before its interval (on the real
clock, where a late call analyses once, now), one driver at a time; then the command line's outcomes and exit codes,
``--json`` and ``$GITHUB_OUTPUT``."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from findly_infra import load_platform
from findly_infra.adapters.memory import MemoryEventStore, ScenarioMetrics, SimulatedCluster, VirtualClock
from findly_infra.application.scenarios import SCENARIOS
from findly_infra.application.service import Due, PipelineService
from findly_infra.domain import StrategyKind
from findly_infra.domain.cadence import cadence_anchor, next_analysis_at, restarts_cadence
from findly_infra.domain.events import Event
from findly_infra.domain.pipeline import DeploymentPipeline
from tests.conftest import EXAMPLE
from tests.test_release_cli import cli

T0 = datetime(2026, 11, 26, 9, 0)
INTERVAL = timedelta(minutes=1)  # the example's analysis interval (the default)
SCENARIO_NAMES = ("healthy", "error-spike", "latency-regression", "flapping", "no-traffic", "metrics-outage")


def _service(scenario: str, holder: str = "runner-a", *, store: MemoryEventStore | None = None) -> PipelineService:
    clock = VirtualClock(T0)
    return PipelineService(
        load_platform(EXAMPLE),
        store if store is not None else MemoryEventStore(),
        clock,
        ScenarioMetrics(SCENARIOS[scenario]),
        SimulatedCluster(),
        holder=holder,
        wall=clock,
    )


def _clock(service: PipelineService) -> VirtualClock:
    assert isinstance(service.clock, VirtualClock)
    return service.clock


def _to(clock: VirtualClock) -> Callable[[datetime], None]:
    """``due``'s wait on a virtual clock: it moves to the instant a step is due (never back)."""

    def wait(at: datetime) -> None:
        if at > clock.now():
            clock.advance(at - clock.now())

    return wait


def _recorded(service: PipelineService) -> list[tuple[object, ...]]:
    return [
        (e.type, e.at, getattr(e, "verdict", None), getattr(e, "weight", None), e.reason)
        for e in service.store.load("fn-posts")[0]
    ]


def _deployed(scenario: str, strategy: StrategyKind = StrategyKind.CANARY) -> PipelineService:
    service = _service(scenario)
    service.deploy("fn-posts", "1.0.0", "development", actor="erin", strategy=strategy)
    return service


gaps = st.lists(st.integers(min_value=0, max_value=3 * 3600), min_size=1, max_size=12)


@settings(max_examples=40)
@given(
    scenario=st.sampled_from(SCENARIO_NAMES),
    strategy=st.sampled_from([StrategyKind.CANARY, StrategyKind.ROLLING]),
    gaps=gaps,
)
def test_due_calls_at_any_times_analyse_on_the_instants_one_watch_does(
    scenario: str, strategy: StrategyKind, gaps: list[int]
) -> None:
    """In a rehearsal's time each ``--due`` carries out the steps due by its time, each on its own instant: any
    sequence of them leaves exactly the events one watch leaves."""
    watched = _deployed(scenario, strategy)
    watched.watch("fn-posts", "development", actor="findly", wait=_clock(watched).advance)
    driven = _deployed(scenario, strategy)
    clock, called = _clock(driven), T0
    for gap in [*gaps, 10 * 3600]:  # the last call comes after any rollout of the example has ended
        called += timedelta(seconds=gap)
        due = driven.due("fn-posts", "development", actor="findly", until=called, wait=_to(clock))
        assert clock.now() <= called  # nothing analysed after the call's time
        if due.state == "progressing":
            assert due.next_step_at is not None
            assert due.next_step_at > called  # everything due by then was carried out
    assert _recorded(driven) == _recorded(watched)


@settings(max_examples=40)
@given(scenario=st.sampled_from(SCENARIO_NAMES), gaps=gaps)
def test_on_the_real_clock_a_late_call_analyses_once_and_never_before_the_interval(
    scenario: str, gaps: list[int]
) -> None:
    """On the real clock the call comes when it comes (the clock already reads its time): an analysis reads the
    present, so a late call analyses once, now — never twice at one instant, never before an interval has passed
    since the latest analysis or the rollout's start."""
    driven = _deployed(scenario)
    clock = _clock(driven)
    for gap in [*gaps, 10 * 3600]:
        clock.advance(timedelta(seconds=gap))
        before = len(_recorded(driven))
        due = driven.due("fn-posts", "development", actor="findly", until=clock.now(), wait=_to(clock))
        assert due.steps <= 1
        assert len(_recorded(driven)) - before == sum(1 for e in due.outcome.events)
    analysed = [at for kind, at, *_ in _recorded(driven) if kind == "analysis_recorded"]
    starts = [T0, *analysed]
    assert all(later - earlier >= INTERVAL for earlier, later in zip(starts, analysed, strict=False))


@settings(max_examples=25)
@given(scenario=st.sampled_from(SCENARIO_NAMES), cut_in=st.integers(min_value=1, max_value=70))
def test_a_runner_finding_the_lease_held_by_a_live_driver_drives_nothing(scenario: str, cut_in: int) -> None:
    """Two runners on one state: while one carries the due steps out (a ``--due --for`` waiting for the next), the
    other's ``--due`` finds its live lease, says who drives and records nothing; once the first has let go, the
    second goes on from where the log says, and the two leave the events one watch leaves."""
    store = MemoryEventStore()
    first, second = _service(scenario, "runner-a", store=store), _service(scenario, "runner-b", store=store)
    first.deploy("fn-posts", "1.0.0", "development", actor="erin", strategy=StrategyKind.CANARY)
    elsewhere: list[Due] = []
    waits = 0

    def wait(at: datetime) -> None:
        nonlocal waits
        waits += 1
        _to(_clock(first))(at)
        if waits == cut_in:  # the other runner's scheduled job comes meanwhile, at the same time
            _to(_clock(second))(_clock(first).now())
            before = len(store.load("fn-posts")[0])
            elsewhere.append(
                second.due(
                    "fn-posts", "development", actor="findly", until=_clock(second).now(), wait=_to(_clock(second))
                )
            )
            assert len(store.load("fn-posts")[0]) == before  # nothing recorded by the second runner

    first.due("fn-posts", "development", actor="findly", until=T0 + timedelta(minutes=40), wait=wait)
    if elsewhere:
        assert elsewhere[0].state == "driven_elsewhere"
        assert elsewhere[0].driver is not None
        assert elsewhere[0].driver.holder == "runner-a"
    left = store.lease("fn-posts", "development")
    assert left is None or not left.live(_clock(first).now())  # let go at the end
    _to(_clock(second))(_clock(first).now())
    second.due("fn-posts", "development", actor="findly", until=T0 + timedelta(hours=10), wait=_to(_clock(second)))
    watched = _deployed(scenario)
    watched.watch("fn-posts", "development", actor="findly", wait=_clock(watched).advance)
    assert _recorded(first) == _recorded(watched)


def test_due_answers_without_a_step_what_there_is_nothing_to_do_about() -> None:
    service = _service("no-traffic")
    clock = _clock(service)
    nothing = service.due("fn-posts", "development", actor="findly", until=T0, wait=_to(clock))
    assert (nothing.state, nothing.steps, nothing.outcome.events) == ("nothing_due", 0, ())
    service.deploy("fn-posts", "1.0.0", "development", actor="erin", strategy=StrategyKind.CANARY)
    early = service.due("fn-posts", "development", actor="findly", until=T0 + timedelta(seconds=59), wait=_to(clock))
    assert (early.state, early.steps, early.next_step_at) == ("progressing", 0, T0 + INTERVAL)
    paused = service.due("fn-posts", "development", actor="findly", until=T0 + timedelta(hours=1), wait=_to(clock))
    assert paused.state == "stopped"  # no traffic: inconclusive analyses pause it for a person
    assert paused.outcome.view.phase.value == "paused"
    again = service.due("fn-posts", "development", actor="findly", until=T0 + timedelta(hours=2), wait=_to(clock))
    assert (again.state, again.steps) == ("stopped", 0)


def test_due_of_a_version_whose_rollout_ended_answers_how_it_ended_and_refuses_another_version() -> None:
    service = _deployed("healthy")
    clock = _clock(service)
    with pytest.raises(Exception, match="rollout-version"):
        service.due("fn-posts", "development", actor="findly", until=T0, wait=_to(clock), version="2.0.0")
    done = service.due("fn-posts", "development", actor="findly", until=T0 + timedelta(hours=2), wait=_to(clock))
    assert (done.state, done.outcome.view.phase.value, done.steps) == ("ended", "succeeded", 60)
    retried = service.due(
        "fn-posts", "development", actor="findly", until=clock.now(), wait=_to(clock), version="1.0.0"
    )
    assert retried.state == "ended"
    assert retried.outcome.already == "the rollout of 1.0.0 in development already ended: succeeded"


# ---- the pure rule: where the count of intervals starts ----------------------------------------------------------


def _log(scenario: str, gaps: list[int]) -> tuple[PipelineService, list[Event]]:
    service = _deployed(scenario)
    clock, called = _clock(service), T0
    for gap in gaps:
        called += timedelta(seconds=gap)
        service.due("fn-posts", "development", actor="findly", until=called, wait=_to(clock))
    return service, service.store.load("fn-posts")[0]


@settings(max_examples=40)
@given(scenario=st.sampled_from(SCENARIO_NAMES), gaps=gaps, cut=st.integers(min_value=0, max_value=200))
def test_the_anchor_read_from_the_latest_events_is_the_one_the_whole_log_gives(
    scenario: str, gaps: list[int], cut: int
) -> None:
    """Read from any tail of the log, the anchor is the whole log's (the latest event restarting the count, not
    before the stage began) — or ``None``, asking for more, never a wrong one."""
    service, events = _log(scenario, gaps)
    pipeline = DeploymentPipeline.start(service.platform, "fn-posts").apply_all(events)
    rollout = pipeline.environments["development"].rollout
    assert rollout is not None
    whole = cadence_anchor(rollout, "development", events, whole=True)
    restarting = [e.at for e in events if e.environment == "development" and restarts_cadence(e)]
    assert whole == max(restarting[-1], rollout.step_started or rollout.started)
    tail = events[min(cut, len(events)) :]
    assert cadence_anchor(rollout, "development", tail, whole=False) in (whole, None)
    if tail and tail[0].at < (rollout.step_started or rollout.started):
        assert cadence_anchor(rollout, "development", tail, whole=False) == whole
    assert next_analysis_at(whole, INTERVAL) == whole + INTERVAL


# ---- the command line ------------------------------------------------------------------------------------------


def _outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "FINDLY_CONFIG": str(EXAMPLE),
        "FINDLY_ACTOR": "erin",
        "FINDLY_STATE": str(tmp_path / "state.sqlite3"),
        "FINDLY_NOW": "2026-01-05T09:00:00Z",
        "GITHUB_ACTIONS": "true",
        "GITHUB_OUTPUT": str(tmp_path / "out"),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
    }


def test_the_cli_says_nothing_due_when_no_rollout_is_under_way(env: dict[str, str], tmp_path: Path) -> None:
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--due")
    assert (code, document["ok"], document["outcome"], document["steps"]) == (0, True, "nothing_due", 0)
    assert _outputs(tmp_path / "out")["outcome"] == "nothing_due"


def test_the_cli_carries_out_the_due_steps_and_says_when_the_next_one_is(env: dict[str, str], tmp_path: Path) -> None:
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--due")
    assert (code, document["outcome"], document["steps"]) == (0, "progressing", 0)
    assert document["next_step_at"] == "2026-01-05T09:01:00Z"
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--due", "--for", "10 minutes")
    assert (code, document["outcome"], document["steps"]) == (0, "progressing", 10)
    assert document["next_step_at"] == "2026-01-05T09:11:00Z"
    assert document["candidate"] == {"version": "1.0.0", "weight": 100}  # a first release: all of its traffic
    assert [e["at"] for e in document["events"] if e["type"] == "analysis_recorded"][-1] == "2026-01-05T09:10:00"
    outputs = _outputs(tmp_path / "out")
    assert (outputs["outcome"], outputs["next_step_at"], outputs["steps"]) == (
        "progressing",
        "2026-01-05T09:11:00Z",
        "10",
    )
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--due", "--for", "2h")
    assert (code, document["outcome"], document["next_step_at"]) == (0, "succeeded", None)
    assert (_outputs(tmp_path / "out")["outcome"], _outputs(tmp_path / "out")["next_step_at"]) == ("succeeded", "")
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--due", "--version", "1.0.0")
    assert (code, document["outcome"]) == (0, "succeeded")
    assert document["already"] == "the rollout of 1.0.0 in development already ended: succeeded"


def test_the_cli_exits_4_when_the_due_steps_roll_it_back(env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "FINDLY_SCENARIO": "error-spike"}
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--due", "--for", "1h")
    assert (code, document["outcome"], document["phase"]) == (4, "rolled_back", "rolled_back")
    assert _outputs(tmp_path / "out")["outcome"] == "rolled_back"


def test_the_cli_exits_6_when_the_rollout_waits_for_a_person(env: dict[str, str], tmp_path: Path) -> None:
    env = {**env, "FINDLY_SCENARIO": "no-traffic"}
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--due", "--for", "1h")
    assert (code, document["outcome"], document["phase"]) == (6, "stopped_for_a_person", "paused")
    outputs = _outputs(tmp_path / "out")
    assert (outputs["outcome"], outputs["waiting_for"]) == ("stopped_for_a_person", "person")
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--due")
    assert (code, document["outcome"], document["steps"]) == (6, "stopped_for_a_person", 0)


def test_the_cli_says_driven_elsewhere_when_another_runner_holds_the_lease(env: dict[str, str], tmp_path: Path) -> None:
    from findly_infra.adapters.sqlite import SqliteEventStore

    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    store = SqliteEventStore(env["FINDLY_STATE"])
    try:
        store.acquire(
            "fn-posts",
            "development",
            "runner-7:4242",
            now=datetime.now().replace(microsecond=0),
            ttl=timedelta(hours=1),
        )
    finally:
        store.close()
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--due", "--for", "1h")
    assert (code, document["outcome"], document["steps"]) == (0, "driven_elsewhere", 0)
    assert document["driver"]["holder"] == "runner-7:4242"  # type: ignore[index]
    assert (_outputs(tmp_path / "out")["outcome"], _outputs(tmp_path / "out")["steps"]) == ("driven_elsewhere", "0")
    assert document["events"] == []


def test_the_cli_refuses_for_without_due_and_a_duration_it_cannot_read(env: dict[str, str]) -> None:
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--for", "10m")
    assert (code, document["ok"]) == (2, False)
    assert "--for DURATION goes with --due" in json.dumps(document)
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--due", "--for", "soon")
    assert code == 2
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--due", "--watch")
    assert code == 2


def _quick(folder: Path, seconds: int = 2) -> Path:
    """The example platform with a canary of seconds: analysed every second, two stages of *seconds*."""
    import re

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


def test_on_the_real_clock_due_waits_for_what_comes_due_within_for_and_no_step_comes_early(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A state that keeps real time (no ``--now``): ``--due`` analyses what is due and returns; ``--due --for`` waits
    for the steps that come due meanwhile, in real time, each at least an interval after the one before."""
    env = {key: value for key, value in env.items() if key != "FINDLY_NOW"}
    env["FINDLY_CONFIG"] = str(_quick(tmp_path))
    assert cli(env, "deploy", "fn-posts", "2.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--due")
    assert (code, document["outcome"]) == (0, "progressing")
    assert document["steps"] in (0, 1)  # one, if a second had passed already (a loaded machine)
    assert datetime.fromisoformat(str(document["next_step_at"]).removesuffix("Z")) is not None
    code, document = cli(env, "rollout", "fn-posts", "--env", "development", "--due", "--for", "30s")
    assert (code, document["outcome"], document["phase"]) == (0, "succeeded", "succeeded")
    events = [e for e in cli(env, "history", "fn-posts")[1]["events"] if e["version"] == "2.0.0"]  # type: ignore[index]
    started = next(datetime.fromisoformat(e["at"]) for e in events if e["type"] == "rollout_started")
    analysed = [datetime.fromisoformat(e["at"]) for e in events if e["type"] == "analysis_recorded"]
    assert analysed
    assert all(b - a >= timedelta(seconds=1) for a, b in zip([started, *analysed], analysed, strict=False))


def test_two_runners_due_at_once_on_one_state_drive_it_once(env: dict[str, str], tmp_path: Path) -> None:
    """Two scheduled jobs started together on one SQLite state, in real time: one carries the due steps out, the
    other answers ``driven_elsewhere`` (or, come after the end, ``nothing_due``) — both exit 0, and no step is taken
    twice or before its interval."""
    import os
    import subprocess
    import sys

    env = {key: value for key, value in env.items() if key != "FINDLY_NOW"}
    env["FINDLY_CONFIG"] = str(_quick(tmp_path))
    assert cli(env, "deploy", "fn-posts", "2.0.0", "--env", "development", "--strategy", "canary")[0] == 0
    due = [sys.executable, "-m", "findly_infra", "--json", "rollout", "fn-posts", "--env", "development", "--due"]
    runners = [
        subprocess.Popen(
            [*due, "--for", "30s"],
            env={**os.environ, **env, "GITHUB_ACTIONS": "", "FINDLY_ACTOR": f"runner-{n}"},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for n in (1, 2)
    ]
    answers = []
    for runner in runners:
        out, _ = runner.communicate(timeout=120)
        answers.append((runner.returncode, json.loads(out)["outcome"]))
    assert all(code == 0 for code, _ in answers), answers
    assert "succeeded" in {outcome for _, outcome in answers}
    assert {outcome for _, outcome in answers} <= {"succeeded", "driven_elsewhere", "nothing_due", "progressing"}
    events = cli(env, "history", "fn-posts")[1]["events"]
    analysed = [datetime.fromisoformat(e["at"]) for e in events if e["type"] == "analysis_recorded"]  # type: ignore[union-attr,index]
    assert all(b - a >= timedelta(seconds=1) for a, b in itertools.pairwise(analysed))
