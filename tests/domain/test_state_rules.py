"""Rules of ``domain/state.py`` that a mutation run showed no test pinned (issue 23): a pause clears who resumed
the rollout last, so that a person who resumes it again after a new pause is obeyed, not answered "already"."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import example, given
from hypothesis import strategies as st

from findly_infra.domain import Phase, StrategyKind

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
