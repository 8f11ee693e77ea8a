"""Rules of ``domain/state.py`` that a mutation run showed no test pinned (issue 23): a pause clears who resumed
the rollout last, so that a person who resumes it again after a new pause is obeyed, not answered "already"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from findly_infra.domain import (
    EnvironmentState,
    Phase,
    StrategyKind,
    bounded_records,
    fold,
    live_versions,
    with_records,
)
from findly_infra.domain import TestResultRecorded as ResultRecorded  # not a test class

from .test_pipeline_rules import ENV, START, run, serving

GATES = st.lists(st.tuples(st.sampled_from(["pause", "resume"]), st.sampled_from(["alice", "bob"])), max_size=12)


@given(GATES)
@example([("pause", "bob"), ("resume", "bob"), ("pause", "alice"), ("resume", "bob")])
def test_a_pause_clears_who_resumed_last(script: list[tuple[str, str]]) -> None:
    """A resume is answered "already" exactly when the rollout is not paused and the same person resumed it since
    it last paused; after a pause, whoever resumed before resumes it again for real (one event)."""
    pipeline = serving()
    pipeline = run(pipeline, pipeline.deploy("1.0.0", ENV, actor="carol", at=START, strategy=StrategyKind.CANARY))
    resumed_by = ""
    for minute, (command, actor) in enumerate(script, start=1):
        at = START + timedelta(minutes=minute)
        rollout = pipeline.environments[ENV].rollout
        assert rollout is not None
        assert rollout.resumed_by == resumed_by
        if command == "pause":
            decision = pipeline.pause(ENV, actor=actor, at=at, reason="look")
            if rollout.phase is Phase.PAUSED:
                assert decision.already is not None
                continue
            resumed_by = ""
        else:
            decision = pipeline.resume(ENV, actor=actor, at=at)
            if rollout.phase is not Phase.PAUSED:
                if resumed_by == actor:
                    assert decision.already == f"{actor} already resumed 1.0.0 in {ENV} (progressing)"
                else:
                    assert decision.refusal is not None
                    assert decision.refusal.rule == "rollout-paused"
                continue
            resumed_by = actor
        assert decision.refusal is None
        assert decision.already is None
        (recorded,) = decision.events
        assert (recorded.actor, recorded.at, recorded.reason) == (actor, at, "look" if command == "pause" else "")
        pipeline = pipeline.apply_all(decision.events)
        assert pipeline.environments[ENV].phase is (Phase.PAUSED if command == "pause" else Phase.PROGRESSING)


# ---- issue 24: the records of versions, as a bounded snapshot keeps them and a command reads them back -------------

RESULTS = st.lists(
    st.tuples(st.sampled_from(["1.0.0", "2.0.0"]), st.sampled_from(["unit", "e2e"]), st.booleans()), max_size=8
)


def _result(version: str, suite: str, passed: bool, minute: int) -> ResultRecorded:
    at = START + timedelta(minutes=minute)
    return ResultRecorded(
        service="fn-posts", environment=ENV, version=version, at=at, actor="ci", suite=suite, passed=passed
    )


@given(RESULTS, RESULTS)
def test_records_read_back_merge_as_the_fold_gives_them(older: list[Any], later: list[Any]) -> None:
    """What a bounded snapshot left out of a version's records (the *older* results), read back into a state that
    folded only the *later* ones, is what folding them all gives: a suite's latest result wins, a success stays."""
    events = [_result(*r, minute) for minute, r in enumerate([*older, *later])]
    whole = EnvironmentState()
    for each in events:
        whole = fold(whole, each)
    head = EnvironmentState()
    for each in events[len(older) :]:
        head = fold(head, each)
    for version in ("1.0.0", "2.0.0"):
        head = with_records(head, version, [e for e in events[: len(older)] if e.version == version])
    assert (head.passed, head.failed) == (whole.passed, whole.failed)
    with pytest.raises(ValueError, match=r"an event of 2\.0\.0 among the records of 1\.0\.0"):
        with_records(head, "1.0.0", [_result("2.0.0", "unit", True, 0)])


@given(RESULTS)
def test_a_bounded_state_keeps_the_records_of_the_versions_kept_and_an_environment_with_none_of_its_own_whole(
    results: list[Any],
) -> None:
    state = EnvironmentState()
    for minute, result in enumerate(results):
        state = fold(state, _result(*result, minute))
    assert live_versions(state) == frozenset()
    assert bounded_records(state, frozenset({"1.0.0"})) is state  # no version of its own: kept whole
    serving_state = attrs.evolve(state, current="1.0.0", succeeded=frozenset({"1.0.0", "2.0.0"}))
    kept = bounded_records(serving_state, frozenset({"1.0.0"}))
    assert kept.succeeded == {"1.0.0"}
    assert kept.passed == {pair for pair in state.passed if pair[0] == "1.0.0"}
    assert kept.failed == {pair for pair in state.failed if pair[0] == "1.0.0"}
