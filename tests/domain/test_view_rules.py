"""Rules of ``domain/view.py`` that a mutation run showed no test pinned (issue 23): the routes a cluster is given
leave out every version with a 0% share, and give every other version exactly its share."""

from __future__ import annotations

import attrs
from hypothesis import example, given
from hypothesis import strategies as st

from findly_infra.domain import StrategyKind
from findly_infra.domain.view import EnvironmentView

from .test_pipeline_rules import COMMANDS, ENV, PLATFORM, START, play, run, serving, with_steps


@given(st.sampled_from(list(StrategyKind)), st.booleans(), st.lists(COMMANDS, max_size=10))
@example(StrategyKind.BLUE_GREEN, False, [])
@example(StrategyKind.BLUE_GREEN, True, [])
@example(StrategyKind.CANARY, True, [])
@example(StrategyKind.CANARY, True, [("rollback",)])
@example(StrategyKind.ROLLING, True, [])
def test_routes_leave_out_zero_shares_and_give_every_other_version_its_share(
    kind: StrategyKind, previous: bool, script: list[tuple[object, ...]]
) -> None:
    """Whatever the rollout's state, the routes are the serving version and the candidate with their shares, each
    above 0% — a blue-green candidate before cutover, or a first release with nothing to route yet, gets no
    route — and together they make 100% whenever anything is routed."""
    pipeline = serving(with_steps(("health_checks", "smoke_tests")), previous)
    pipeline = run(pipeline, pipeline.deploy("1.0.0", ENV, actor="alice", at=START, strategy=kind))
    for after, at in [(pipeline, START), *play(pipeline, script)]:
        view = EnvironmentView.of(after, ENV, at)
        shares = [share for share in (view.serving, view.candidate) if share is not None]
        routes = view.routes()
        assert routes == {share.version: share.weight for share in shares if share.weight != 0}
        assert all(weight > 0 for weight in routes.values())
        assert sum(routes.values()) in ((100,) if routes else (0,))
        if any(share.weight == 0 for share in shares):
            assert len(routes) < len(shares)


@given(st.sampled_from(["rollback", "abort", "pause"]), st.sampled_from(["", "the dashboard is red"]))
def test_a_stopped_rollout_says_why_in_its_words_or_by_its_phase(command: str, reason: str) -> None:
    pipeline = serving()
    pipeline = run(pipeline, pipeline.deploy("1.0.0", ENV, actor="alice", at=START, strategy=StrategyKind.CANARY))
    pipeline = run(pipeline, getattr(pipeline, command)(ENV, actor="bob", at=START, reason=reason))
    view = EnvironmentView.of(pipeline, ENV, START)
    phase = {"rollback": "rolled back", "abort": "aborted", "pause": "paused"}[command]
    assert view.stopped == (reason or phase)
    assert view.describe().endswith(f" — {reason or phase}")


def test_a_one_percent_share_is_routed() -> None:
    """Only 0% is left out: a canary stage of 1% gets its route."""
    canary = PLATFORM.canary_strategy
    assert canary is not None
    first = attrs.evolve(canary.traffic_progression[0], canary_weight=1)
    platform = attrs.evolve(
        PLATFORM, canary_strategy=attrs.evolve(canary, traffic_progression=(first, *canary.traffic_progression[1:]))
    )
    pipeline = serving(platform)
    pipeline = run(pipeline, pipeline.deploy("1.0.0", ENV, actor="alice", at=START, strategy=StrategyKind.CANARY))
    assert EnvironmentView.of(pipeline, ENV, START).routes() == {"0.9.0": 99, "1.0.0": 1}
