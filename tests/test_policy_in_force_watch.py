"""A watch reads the policy in force at every step (issue 24): its steps read the policy stream once a decision, not
once a watch, so an adoption recorded by another command while the rollout runs is seen by the very next step —
here, where the policy in force trusts names, that step adopts its own file's policy again before deciding (a name
changes a names-trusted policy, ``test_policy_in_force``), and decides under it."""

from __future__ import annotations

from datetime import datetime

import attrs

from findly_infra import load_platform
from findly_infra.adapters.memory import MemoryEventStore, ScenarioMetrics, SimulatedCluster, VirtualClock
from findly_infra.application.scenarios import HEALTHY
from findly_infra.application.service import Outcome, PipelineService
from findly_infra.domain import ApproverGroup, PlatformPolicy, StrategyKind
from findly_infra.domain.events import AnalysisRecorded
from findly_infra.domain.policy import POLICY_STREAM, PolicyAdopted

from .conftest import EXAMPLE

PLATFORM = load_platform(EXAMPLE)
STRICTER = attrs.evolve(
    PLATFORM, approver_groups=(ApproverGroup("devops-team", ("alice",)), *(PLATFORM.approver_groups or ())[1:])
)
"""bob leaves devops-team: a strengthening, which anyone's command adopts."""


def _service(platform: object, store: MemoryEventStore, clock: VirtualClock) -> PipelineService:
    return PipelineService(platform, store, clock, ScenarioMetrics(lambda _minute: HEALTHY), SimulatedCluster())  # type: ignore[arg-type]


def test_an_adoption_recorded_while_a_watch_runs_judges_its_next_step() -> None:
    store, clock = MemoryEventStore(), VirtualClock(datetime(2026, 1, 1))
    watcher, other = _service(PLATFORM, store, clock), _service(STRICTER, store, clock)
    watcher.deploy("fn-posts", "1.0.0", "development", actor="alice", strategy=StrategyKind.CANARY)
    judged_by: list[PlatformPolicy | None] = []

    def on_step(_outcome: Outcome) -> None:
        judged_by.append(_decided_under(watcher))  # the start (the deploy's), then each step's
        if len(judged_by) == 3:  # after the second step: another command adopts the stricter file's policy
            other.adopt_policy(actor="erin")

    outcome = watcher.watch("fn-posts", "development", actor="findly", wait=clock.advance, on_step=on_step)
    assert outcome.phase.value == "succeeded"
    adopted = [event for event in store.streams[POLICY_STREAM] if isinstance(event, PolicyAdopted)]
    assert [(event.actor, event.policy) for event in adopted] == [
        ("alice", PlatformPolicy.of(PLATFORM)),  # the deploy, the first writing command
        ("erin", PlatformPolicy.of(STRICTER)),  # the other command, after the watch's second step
        ("findly", PlatformPolicy.of(PLATFORM)),  # the watch's third step, before it decided
    ]
    analyses = [event for event in store.streams["fn-posts"] if isinstance(event, AnalysisRecorded)]
    assert adopted[2].at == analyses[2].at  # seen by the very next step, not once a watch
    assert set(judged_by) == {PlatformPolicy.of(PLATFORM)}  # every decision under the policy in force as it decided
    assert len(analyses) == len(judged_by) - 1


def _decided_under(service: PipelineService) -> PlatformPolicy | None:
    """The policy the service's last decision was judged by (the pipeline it decided on, as it folded it)."""
    return service._cache["fn-posts"].policy  # what the decision saw, not a new read
