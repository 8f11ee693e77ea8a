"""Rules of ``domain/progress.py`` (and the view's deadline, which reads the same record) that a mutation run showed
no test pinned (issue 23): a rolling update moves exactly all traffic at once; a blue-green rollout's bake time and
evidence deadline are those it recorded when it started, whatever the platform file says later."""

from __future__ import annotations

from datetime import timedelta

import attrs
from hypothesis import example, given
from hypothesis import strategies as st

from findly_infra.domain import DeploymentPipeline, Phase, StrategyKind, Verdict
from findly_infra.domain import events as ev
from findly_infra.domain.notation import Duration
from findly_infra.domain.view import EnvironmentView, WaitKind

from .test_pipeline_rules import ACTORS, BLUE_GREEN, ENV, PLATFORM, START, run, serving, with_steps


@given(ACTORS, st.booleans())
@example("carol", False)
def test_a_rolling_update_moves_exactly_all_traffic_at_once(actor: str, previous: bool) -> None:
    """Its first step is the whole traffic (100%, step 0), by whoever deployed: the cluster routes the new version
    alone, and the version it replaces gets no share."""
    pipeline = serving(previous=previous)
    decision = pipeline.deploy("1.0.0", ENV, actor=actor, at=START, strategy=StrategyKind.ROLLING)
    started, shifted = decision.events
    assert isinstance(started, ev.RolloutStarted)
    assert isinstance(shifted, ev.TrafficShifted)
    assert (shifted.weight, shifted.step, shifted.actor, shifted.at) == (100, 0, actor, START)
    after = pipeline.apply_all(decision.events)
    rollout = after.environments[ENV].rollout
    assert rollout is not None
    assert (rollout.weight, rollout.step, rollout.phase) == (100, 0, Phase.PROGRESSING)
    assert EnvironmentView.of(after, ENV, START).routes() == {"1.0.0": 100}


MINUTES = st.integers(1, 90)


def edited(bake: int, timeout: int) -> object:
    """The example platform whose blue-green strategy (health checks, then smoke tests) bakes for *bake* minutes
    and awaits evidence for *timeout*."""
    platform = with_steps(("health_checks", "smoke_tests"))
    strategy = attrs.evolve(
        platform.blue_green_strategy,  # type: ignore[attr-defined]
        bake_time=Duration.of(minutes=bake),
        validation_timeout=Duration.of(minutes=timeout),
    )
    return attrs.evolve(platform, blue_green_strategy=strategy)


def started_then_edited(bake: int, timeout: int, new_bake: int, new_timeout: int) -> DeploymentPipeline:
    """A blue-green rollout started under *bake*/*timeout*, read under a file saying *new_bake*/*new_timeout*."""
    pipeline = serving(edited(bake, timeout))
    started = pipeline.deploy("1.0.0", ENV, actor="alice", at=START, strategy=StrategyKind.BLUE_GREEN)
    pipeline = pipeline.apply_all(started.events)
    first = DeploymentPipeline.start(edited(new_bake, new_timeout), "fn-posts")
    history = [*_history(), *started.events]
    return first.apply_all(history)


def _history() -> tuple[ev.Event, ...]:
    pipeline = DeploymentPipeline.start(PLATFORM, "fn-posts")
    first = pipeline.deploy("0.9.0", ENV, actor="alice", at=START - timedelta(hours=2), strategy=StrategyKind.ROLLING)
    pipeline = pipeline.apply_all(first.events)
    done = pipeline.analyze(ENV, Verdict.PASS, actor="findly", at=START - timedelta(hours=1))
    return (*first.events, *done.events)


@given(MINUTES, MINUTES, MINUTES)
@example(10, 5, 20)
@example(10, 20, 5)
def test_a_blue_green_rollout_awaits_evidence_until_its_own_deadline_not_an_edited_files(
    timeout: int, new_timeout: int, at_minute: int
) -> None:
    """Without a passed smoke test, a passing analysis pauses the rollout exactly once its recorded validation
    timeout has passed since it started; the view gives that deadline, and how long is left."""
    pipeline = started_then_edited(10, timeout, 10, new_timeout)
    at = START + timedelta(minutes=at_minute)
    view = EnvironmentView.of(pipeline, ENV, at)
    deadline = START + timedelta(minutes=timeout)
    assert view.waiting_for is not None
    assert (view.waiting_for.kind, view.waiting_for.deadline) == (WaitKind.EVIDENCE, deadline)
    left = Duration(max(0, int((deadline - at).total_seconds() * 1000))).describe()
    assert f"within {left}, by {deadline.isoformat()}" in view.waiting_for.message
    decision = pipeline.analyze(ENV, Verdict.PASS, actor="findly", at=at)
    caused = decision.events[1:]
    if at_minute >= timeout:
        (paused,) = caused
        assert isinstance(paused, ev.RolloutPaused)
        described = Duration.of(minutes=timeout).describe()
        assert paused.reason == f"no passed smoke_tests for 1.0.0 within {described}"
    else:
        assert caused == ()


@given(MINUTES, MINUTES, MINUTES)
@example(10, 5, 7)
@example(10, 20, 10)
def test_a_blue_green_rollout_bakes_for_its_own_bake_time_not_an_edited_files(
    bake: int, new_bake: int, after: int
) -> None:
    """Cut over (its smoke test passed), the rollout succeeds on the first passing analysis once it has baked for
    the bake time it recorded when it started, counted from cutover — not before, whatever the file says now."""
    pipeline = started_then_edited(bake, 60, new_bake, 60)
    pipeline = run(pipeline, pipeline.record_test("1.0.0", ENV, "smoke_tests", True, actor="ci", at=START))
    cutover_at = START + timedelta(minutes=1)
    decision = pipeline.analyze(ENV, Verdict.PASS, actor="findly", at=cutover_at)
    shifted = decision.events[1]
    assert isinstance(shifted, ev.TrafficShifted)
    assert (shifted.weight, shifted.step, shifted.reason) == (100, 1, "cutover")
    pipeline = pipeline.apply_all(decision.events)
    later = pipeline.analyze(ENV, Verdict.PASS, actor="findly", at=cutover_at + timedelta(minutes=after))
    succeeded = [e for e in later.events if isinstance(e, ev.RolloutSucceeded)]
    assert len(succeeded) == (1 if after >= bake else 0)


def test_a_rollout_that_recorded_no_timings_is_judged_by_the_files() -> None:
    """An old rollout, started before durations were recorded, keeps to the file's."""
    pipeline = serving(edited(10, 30))
    decision = pipeline.deploy("1.0.0", ENV, actor="alice", at=START, strategy=StrategyKind.BLUE_GREEN)
    (started,) = decision.events
    assert isinstance(started, ev.RolloutStarted)
    assert dict(started.timings) == {"validation_timeout": 30 * 60_000, "bake_time": 10 * 60_000}
    old = pipeline.apply(attrs.evolve(started, timings=()))
    view = EnvironmentView.of(old, ENV, START)
    assert view.waiting_for is not None
    assert view.waiting_for.deadline == START + timedelta(minutes=30)
    assert BLUE_GREEN.validation_timeout != Duration.of(minutes=30)


@given(st.integers(1, 10))
def test_a_rolling_update_that_recorded_no_watch_is_watched_for_the_files(minutes: int) -> None:
    """An old rolling update, started before durations were recorded, succeeds once watched for the file's watch."""
    pipeline = serving()
    decision = pipeline.deploy("1.0.0", ENV, actor="alice", at=START, strategy=StrategyKind.ROLLING)
    started, *rest = decision.events
    assert isinstance(started, ev.RolloutStarted)
    old = pipeline.apply_all((attrs.evolve(started, timings=()), *rest))
    analysis = old.analyze(ENV, Verdict.PASS, actor="findly", at=START + timedelta(minutes=minutes))
    succeeded = any(isinstance(e, ev.RolloutSucceeded) for e in analysis.events)
    assert succeeded is (
        timedelta(minutes=minutes) >= timedelta(milliseconds=PLATFORM.rolling_strategy.watch.milliseconds)
    )
