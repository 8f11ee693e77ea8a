"""``auto_cleanup`` (``domain.cleanup``): after a success, what replaced versions left in a cluster is removed — never
what serves, never during a rollout, never what is not ours, only where the environment asks — and recorded
(``TracksCleanedUp``), once, by the use cases on the simulated cluster; the event travels through the codec, the
state's export and import, ``history --json``."""

from __future__ import annotations

import json
from datetime import datetime

import attrs
from hypothesis import event, given
from hypothesis import strategies as st

from findly_infra import load_platform
from findly_infra.adapters.memory import SimulatedCluster
from findly_infra.application.codec import event_from_dict, event_to_dict
from findly_infra.application.service import PipelineService
from findly_infra.domain import Phase, StrategyKind, TracksCleanedUp
from findly_infra.domain.cleanup import Leftover, cleanup_due, leftovers, secondary_names
from findly_infra.domain.cluster import ENVIRONMENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL
from findly_infra.domain.platform import Platform
from findly_infra.domain.tracks import expected_holding
from findly_infra.testing import MemoryEventStore, ScenarioMetrics, VirtualClock

from .conftest import EXAMPLE
from .test_tracks import COMMANDS, ENV, _run

SERVICE = "fn-posts"
OURS = {MANAGED_BY_LABEL: MANAGED_BY, ENVIRONMENT_LABEL: ENV}
NAMES = st.sampled_from(["fn-posts", "fn-posts-canary", "fn-posts-green", "fn-posts-blue", "fn-users-canary"])
LABELS = st.sampled_from(
    [OURS, {MANAGED_BY_LABEL: MANAGED_BY, ENVIRONMENT_LABEL: "staging"}, {ENVIRONMENT_LABEL: ENV}, {}]
)
HELD = st.lists(st.builds(Leftover, NAMES, st.integers(0, 3), LABELS), max_size=8)


@given(st.sampled_from(list(StrategyKind)), st.lists(COMMANDS, max_size=40), HELD, st.booleans())
def test_cleanup_never_removes_what_serves_nor_acts_during_a_rollout_nor_touches_what_is_not_ours(
    kind: StrategyKind, script: list[str], held: list[Leftover], auto_cleanup: bool
) -> None:
    for view in _run(kind, script):
        removed = leftovers(view, auto_cleanup, held)
        running = expected_holding(view).running
        assert set(removed) <= {item.name for item in held}
        assert SERVICE not in removed  # never the primary
        assert not set(removed) & set(running)  # never a Deployment the log says runs
        assert set(removed) <= secondary_names(SERVICE)  # only this service's tracks
        for item in held:
            if item.name in removed:  # only ours, the environment's, at zero replicas
                assert item.replicas == 0
                assert item.labels.get(MANAGED_BY_LABEL) == MANAGED_BY
                assert item.labels.get(ENVIRONMENT_LABEL) == ENV
        due = auto_cleanup and view.rollout is not None and view.rollout.phase is Phase.SUCCEEDED
        assert cleanup_due(view, auto_cleanup) is due
        if not due:  # not asked, nothing succeeded, or a rollout under way (or rolled back, aborted): nothing
            assert removed == ()
        else:  # and when due, every leftover goes
            assert not (view.rollout is not None and view.rollout.phase.active)
            expected = {
                item.name
                for item in held
                if item.name in secondary_names(SERVICE) and item.replicas == 0 and item.labels == OURS
            }
            assert set(removed) == expected
            event(f"due, removed {len(removed)}")


def test_a_secondary_left_by_another_strategy_goes_too_and_the_primary_never() -> None:
    (*_, done) = _run(StrategyKind.CANARY, ["deploy", *["pass"] * 12])
    assert done.phase is Phase.SUCCEEDED
    held = [Leftover(name, 0, OURS) for name in ("fn-posts", "fn-posts-canary", "fn-posts-green")]
    assert leftovers(done, True, held) == ("fn-posts-canary", "fn-posts-green")
    assert leftovers(done, False, held) == ()


# ---- the use cases, on the simulated cluster --------------------------------------------------------------------


def _service(platform: Platform) -> tuple[PipelineService, SimulatedCluster, VirtualClock]:
    from findly_infra.application.scenarios import SCENARIOS

    clock, cluster = VirtualClock(datetime(2026, 1, 5, 9)), SimulatedCluster()
    store = MemoryEventStore()
    return PipelineService(platform, store, clock, ScenarioMetrics(SCENARIOS["healthy"]), cluster), cluster, clock


def _two_canaries(release: PipelineService, clock: VirtualClock) -> None:
    release.deploy(SERVICE, "1.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    release.watch(SERVICE, ENV, actor="bot", wait=clock.advance)
    release.deploy(SERVICE, "2.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    release.watch(SERVICE, ENV, actor="bot", wait=clock.advance)


def test_a_canary_that_succeeds_in_development_leaves_no_canary_and_says_so_once() -> None:
    release, cluster, clock = _service(load_platform(EXAMPLE))
    _two_canaries(release, clock)
    cleaned = [e for e in release.history(SERVICE) if isinstance(e, TracksCleanedUp)]
    assert [(e.version, e.removed, e.actor) for e in cleaned] == [("2.0.0", ("fn-posts-canary",), "findly")]
    assert cluster.parked[(SERVICE, ENV)] == {}  # the canary's Deployment is gone
    assert cluster.holding(SERVICE, ENV).running == {SERVICE: "2.0.0"}  # what serves stays
    assert release.reconcile(SERVICE, ENV).events == ()  # cleaning again removes and records nothing
    assert len([e for e in release.history(SERVICE) if isinstance(e, TracksCleanedUp)]) == 1
    assert release.view(SERVICE, ENV).phase is Phase.SUCCEEDED  # folded harmlessly


def test_an_environment_without_auto_cleanup_keeps_the_secondary_scaled_to_zero() -> None:
    platform = load_platform(EXAMPLE)  # the seed's staging has no auto_cleanup: development without it
    platform = attrs.evolve(
        platform, environments=tuple(attrs.evolve(env, auto_cleanup=False) for env in platform.environments)
    )
    release, cluster, clock = _service(platform)
    _two_canaries(release, clock)
    assert not [e for e in release.history(SERVICE) if isinstance(e, TracksCleanedUp)]
    assert cluster.parked[(SERVICE, ENV)] == {"fn-posts-canary": "2.0.0"}


def test_a_rollback_cleans_nothing_up() -> None:
    release, cluster, clock = _service(load_platform(EXAMPLE))
    release.deploy(SERVICE, "1.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    release.watch(SERVICE, ENV, actor="bot", wait=clock.advance)
    release.deploy(SERVICE, "2.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    release.rollback(SERVICE, ENV, actor="bob", reason="no")
    release.reconcile(SERVICE, ENV)
    assert not [e for e in release.history(SERVICE) if isinstance(e, TracksCleanedUp)]
    assert cluster.parked[(SERVICE, ENV)] == {"fn-posts-canary": "2.0.0"}  # the evidence of what failed


class Killed(BaseException):
    """The process died here."""


def test_a_crash_between_the_success_and_the_cleanup_is_finished_by_the_next_command_that_converges() -> None:
    release, cluster, clock = _service(load_platform(EXAMPLE))
    release.deploy(SERVICE, "1.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    release.watch(SERVICE, ENV, actor="bot", wait=clock.advance)
    release.deploy(SERVICE, "2.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    real = SimulatedCluster.leftovers

    def dies(self: SimulatedCluster, view: object, auto_cleanup: bool) -> tuple[str, ...]:
        raise Killed  # the process dies once the cluster follows the success, before it cleans up

    SimulatedCluster.leftovers = dies  # type: ignore[method-assign]
    try:
        release.watch(SERVICE, ENV, actor="bot", wait=clock.advance)
    except Killed:
        pass
    finally:
        SimulatedCluster.leftovers = real  # type: ignore[method-assign]
    assert release.view(SERVICE, ENV).phase is Phase.SUCCEEDED
    assert cluster.parked[(SERVICE, ENV)] == {"fn-posts-canary": "2.0.0"}  # left behind
    again = PipelineService(release.platform, release.store, clock, release.metrics, cluster)  # the next process
    assert [e.type for e in again.reconcile(SERVICE, ENV).events] == ["tracks_cleaned_up"]
    assert cluster.parked[(SERVICE, ENV)] == {}
    assert again.reconcile(SERVICE, ENV).events == ()


def test_a_crash_between_the_record_and_the_removal_removes_without_recording_again() -> None:
    release, cluster, clock = _service(load_platform(EXAMPLE))
    release.deploy(SERVICE, "1.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    release.watch(SERVICE, ENV, actor="bot", wait=clock.advance)
    release.deploy(SERVICE, "2.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    real = SimulatedCluster.clean_up

    def dies(self: SimulatedCluster, view: object, auto_cleanup: bool, names: object) -> tuple[str, ...]:
        raise Killed  # recorded, then the process dies before the Deployment is deleted

    SimulatedCluster.clean_up = dies  # type: ignore[method-assign]
    try:
        release.watch(SERVICE, ENV, actor="bot", wait=clock.advance)
    except Killed:
        pass
    finally:
        SimulatedCluster.clean_up = real  # type: ignore[method-assign]
    assert cluster.parked[(SERVICE, ENV)] == {"fn-posts-canary": "2.0.0"}
    again = PipelineService(release.platform, release.store, clock, release.metrics, cluster)
    assert again.reconcile(SERVICE, ENV).events == ()  # already recorded: removed, not recorded twice
    assert cluster.parked[(SERVICE, ENV)] == {}
    assert len([e for e in again.history(SERVICE) if isinstance(e, TracksCleanedUp)]) == 1


def test_the_event_travels_through_the_codec() -> None:
    at = datetime(2026, 1, 5, 9)
    cleaned = TracksCleanedUp(
        service=SERVICE, environment=ENV, version="2.0.0", at=at, actor="findly", removed=("fn-posts-canary",)
    )
    text = json.dumps(event_to_dict(cleaned))
    assert event_from_dict(json.loads(text)) == cleaned
    assert json.loads(text)["event"] == "TracksCleanedUp"


def test_the_state_export_carries_it_and_the_import_checks_what_it_names() -> None:
    import pytest

    from findly_infra.application.ports import BadInputError
    from findly_infra.application.transfer import export_lines, read_export

    release, _, clock = _service(load_platform(EXAMPLE))
    _two_canaries(release, clock)
    lines = list(export_lines(release.store))
    read = read_export(lines, now=clock.now())
    assert [e for e in read.streams[SERVICE] if isinstance(e, TracksCleanedUp)] == [
        e for e in release.history(SERVICE) if isinstance(e, TracksCleanedUp)
    ]
    hostile = [line.replace('"fn-posts-canary"', '"fn-posts-canary\\u001b[2J"') for line in lines]
    with pytest.raises(BadInputError, match="removed"):
        read_export(hostile, now=clock.now())


def test_the_state_files_simulated_cluster_cleans_up_too_and_history_shows_it(tmp_path: object) -> None:
    from pathlib import Path

    from findly_infra.bootstrap import Settings, open_runtime

    state = str(Path(str(tmp_path)) / "state.sqlite3")
    settings = Settings(state=state, now=datetime(2026, 1, 5, 9))
    with open_runtime(settings, load_platform(EXAMPLE), service=SERVICE) as runtime:
        assert runtime.virtual is not None
        _two_canaries(runtime.service, runtime.virtual)
        assert [e.removed for e in _cleaned(runtime.service)] == [("fn-posts-canary",)]
        assert runtime.service.reconcile(SERVICE, ENV).events == ()
    with open_runtime(Settings(state=state), load_platform(EXAMPLE), service=SERVICE) as runtime:  # kept in the file
        assert [e.removed for e in _cleaned(runtime.service)] == [("fn-posts-canary",)]
        assert runtime.service.reconcile(SERVICE, ENV).events == ()


def _cleaned(release: PipelineService) -> list[TracksCleanedUp]:
    return [e for e in release.history(SERVICE) if isinstance(e, TracksCleanedUp)]
