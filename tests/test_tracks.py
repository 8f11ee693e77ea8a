"""The tracks a cluster should hold (``domain.tracks.track_plan``), against the log: for random scripts of release
commands, every view's plan routes exactly what the log says, runs every version that gets traffic, keeps the previous
version running while a rollout can still be rolled back, and shows a blue-green candidate by header only before
cutover."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import event, given
from hypothesis import strategies as st

from findly_infra import load_platform
from findly_infra.domain import DeploymentPipeline, Phase, StrategyKind, Verdict
from findly_infra.domain.tracks import PREVIEW_HEADER, track_plan
from findly_infra.domain.view import EnvironmentView

from .conftest import EXAMPLE

PLATFORM = load_platform(EXAMPLE)
ENV = "development"
T0 = datetime(2026, 1, 5, 9)
COMMANDS = st.sampled_from(
    ["deploy", "pass", "pass", "pass", "fail", "doubt", "pause", "resume", "abort", "rollback", "record"]
)


def _run(kind: StrategyKind, script: list[str]) -> list[EnvironmentView]:
    pipeline, at, views, version = DeploymentPipeline.start(PLATFORM, "fn-posts"), T0, [], 0
    for command in script:
        at += timedelta(minutes=7)
        if command == "deploy":
            version += 1
            decision = pipeline.deploy(f"1.{version}.0", ENV, actor="erin", at=at, strategy=kind)
        elif command in ("pass", "fail", "doubt"):
            verdict = {"pass": Verdict.PASS, "fail": Verdict.FAIL, "doubt": Verdict.INCONCLUSIVE}[command]
            decision = pipeline.analyze(ENV, verdict, actor="findly", at=at)
        elif command == "record":  # a blue-green rollout's evidence
            rollout = pipeline.environments[ENV].rollout
            if rollout is None:
                continue
            decision = pipeline.record_test(rollout.version, ENV, "smoke_tests", True, actor="ci", at=at)
            pipeline = pipeline.apply_all(decision.events)
            decision = pipeline.record_test(rollout.version, ENV, "performance_tests", True, actor="ci", at=at)
        elif command == "resume":
            decision = pipeline.resume(ENV, actor="bob", at=at)
        elif command == "pause":
            decision = pipeline.pause(ENV, actor="bob", at=at, reason="look")
        else:
            decision = getattr(pipeline, command)(ENV, actor="bob", at=at, reason="stop")
        pipeline = pipeline.apply_all(decision.events)
        views.append(EnvironmentView.of(pipeline, ENV, at))
    return views


@given(st.sampled_from(list(StrategyKind)), st.lists(COMMANDS, max_size=60))
def test_the_plan_routes_what_the_log_says_and_keeps_a_way_back(kind: StrategyKind, script: list[str]) -> None:
    for view in _run(kind, script):
        plan = track_plan(view, StrategyKind.ROLLING)
        assert plan.weights() == view.routes()  # exactly the log's routes
        running = {track.version for track in plan.tracks if track.version is not None}
        assert set(view.routes()) <= running  # nothing gets traffic that does not run
        assert len(plan.tracks) == (1 if plan.strategy is StrategyKind.ROLLING else 2)
        active = view.rollout is not None and view.rollout.phase.active
        if active and plan.strategy is not StrategyKind.ROLLING and view.serving is not None:
            assert plan.primary.version == view.serving.version  # the previous version still runs: back at once
        if not active:
            assert all(track.version is None for track in plan.tracks[1:])  # the secondary is scaled to zero
        before_cutover = active and view.candidate is not None and view.candidate.weight == 0
        assert (plan.preview is not None) == (plan.strategy is StrategyKind.BLUE_GREEN and before_cutover)
        event(f"{kind.value}: {view.phase.value}")


def test_a_canary_release_and_a_rollback_step_by_step() -> None:
    views = _run(StrategyKind.CANARY, ["deploy", *["pass"] * 12, "deploy", "pass", "rollback"])
    first = track_plan(views[0], StrategyKind.ROLLING)  # a first release takes the primary: nothing else to keep
    assert [(t.name, t.version, t.weight) for t in first.tracks] == [("stable", "1.1.0", 100), ("canary", None, 0)]
    done = next(view for view in views if view.phase is Phase.SUCCEEDED)
    assert [(t.version, t.weight) for t in track_plan(done, StrategyKind.ROLLING).tracks] == [("1.1.0", 100), (None, 0)]
    second = track_plan(views[-2], StrategyKind.ROLLING)  # 1.2.0 at its first stage; 1.1.0 still runs
    assert [(t.name, t.version, t.weight) for t in second.tracks] == [("stable", "1.1.0", 95), ("canary", "1.2.0", 5)]
    back = track_plan(views[-1], StrategyKind.ROLLING)  # rolled back: traffic moves, nothing has to start
    assert [(t.name, t.version, t.weight) for t in back.tracks] == [("stable", "1.1.0", 100), ("canary", None, 0)]


def test_a_blue_green_candidate_is_validated_by_header_before_it_gets_any_weight() -> None:
    (view,) = _run(StrategyKind.BLUE_GREEN, ["deploy"])
    plan = track_plan(view, StrategyKind.ROLLING)
    assert [(t.name, t.version, t.weight) for t in plan.tracks] == [("stable", "1.1.0", 0), ("green", None, 0)]
    assert (plan.preview, PREVIEW_HEADER) == ("1.1.0", "x-findly-preview")
