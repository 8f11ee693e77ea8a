"""``PipelineService.return_to`` moves the cluster back: after a rollout that succeeded (its tracks tidied away where
the environment cleans up), returning to the version it replaced makes the cluster run that version again — for every
strategy — on the simulated cluster here, and on the Kubernetes stand-in through the real adapter in
``tests/cluster/test_release_returns.py``."""

from __future__ import annotations

from datetime import datetime

import attrs
import pytest

from findly_infra import load_platform
from findly_infra.adapters.memory import SimulatedCluster
from findly_infra.application.scenarios import SCENARIOS
from findly_infra.application.service import PipelineService
from findly_infra.domain import Phase, StrategyKind
from findly_infra.domain.platform import Platform
from findly_infra.testing import MemoryEventStore, ScenarioMetrics, VirtualClock
from tests.conftest import EXAMPLE

ENV, SERVICE = "development", "fn-posts"


def platform_without_manual_steps() -> Platform:
    """The example, its blue-green validation the evidence alone (development has no approvers)."""
    platform = load_platform(EXAMPLE)
    blue_green = platform.blue_green_strategy
    assert blue_green is not None
    steps = tuple(step for step in blue_green.validation_steps if not step.manual)
    return attrs.evolve(platform, blue_green_strategy=attrs.evolve(blue_green, validation_steps=steps))


def released(service: PipelineService, clock: VirtualClock, version: str, kind: StrategyKind) -> None:
    service.deploy(SERVICE, version, ENV, actor="erin", strategy=kind)
    for suite in ("smoke_tests", "performance_tests"):
        service.record_test(SERVICE, version, ENV, suite, True, actor="ci")
    assert service.watch(SERVICE, ENV, actor="findly", wait=clock.advance).phase is Phase.SUCCEEDED


@pytest.mark.parametrize("kind", list(StrategyKind))
def test_a_return_from_a_success_runs_the_version_it_replaced_again_on_the_simulated_cluster(
    kind: StrategyKind,
) -> None:
    clock, cluster = VirtualClock(datetime(2026, 1, 5, 9)), SimulatedCluster()
    service = PipelineService(
        platform_without_manual_steps(), MemoryEventStore(), clock, ScenarioMetrics(SCENARIOS["healthy"]), cluster
    )
    released(service, clock, "1.0.0", kind)
    released(service, clock, "2.0.0", kind)
    assert cluster.holding(SERVICE, ENV).running == {SERVICE: "2.0.0"}
    returned = service.return_to(SERVICE, ENV, "1.0.0", actor="release", reason="the release failed")
    assert returned.phase is Phase.ROLLED_BACK
    assert returned.routed
    assert cluster.holding(SERVICE, ENV).running == {SERVICE: "1.0.0"}
    assert service.pipeline(SERVICE).environments[ENV].current == "1.0.0"
    again = service.return_to(SERVICE, ENV, "1.0.0", actor="release", reason="again")
    assert again.already
    assert not again.events
    nxt = service.deploy(SERVICE, "3.0.0", ENV, actor="erin", strategy=kind)
    assert nxt.view.rollout is not None
    assert nxt.view.rollout.previous == "1.0.0"
