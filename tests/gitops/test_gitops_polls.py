"""How often a GitOps rollout reads the controller's object while it waits for the commit: soon at first — Argo CD
told by a webhook (or Flux by a receiver) syncs within a second or two — then every ``poll_interval``, so that a
release of several services does not wait a whole interval per part for a controller that was already there."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from findly_infra import example_path, load_platform
from findly_infra.adapters.memory import MemoryEventStore, MemoryGitRepository, SimulatedCluster
from findly_infra.application.gitops import GitOpsWorkloads
from findly_infra.application.scenarios import SCENARIOS
from findly_infra.application.service import PipelineService
from findly_infra.bootstrap.clusters import Clusters
from findly_infra.domain import Phase, StrategyKind
from findly_infra.domain.gitops import GitOpsBinding, GitOpsSettings
from findly_infra.render.tree import render_platform
from findly_infra.testing import ScenarioMetrics, VirtualClock


@attrs.define
class LateArgo:
    """An Application that reports the branch's head synced and healthy from its *late*-th read on (before: the
    revision it had)."""

    repository: MemoryGitRepository
    late: int
    first: str = ""
    reads: int = 0

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any]:  # noqa: ARG002
        self.reads += 1
        revision = self.repository.head if self.reads >= self.late else self.first
        status = {"sync": {"status": "Synced", "revision": revision}, "health": {"status": "Healthy"}}
        return {"apiVersion": api_version, "kind": kind, "status": status}


def _slept(late: int) -> list[float]:
    settings = GitOpsSettings("https://github.com/findly-now/deploy.git", (GitOpsBinding("development", "dev"),))
    platform = load_platform(example_path())
    platform = attrs.evolve(
        platform,
        gitops=settings,
        environments=tuple(attrs.evolve(e, deployment_strategy=StrategyKind.ROLLING) for e in platform.environments),
    )
    repository = MemoryGitRepository()
    tree = render_platform(platform, versions={"fn-posts": "1.0.0"})
    repository.seed({f"k8s/{path}": text for path, text in tree.items()})
    argo = LateArgo(repository, late, first=repository.head)
    store = MemoryEventStore()
    slept: list[float] = []
    workloads = GitOpsWorkloads(
        settings,
        repository,
        lambda _environment: argo,  # type: ignore[arg-type, return-value]
        {"fn-posts": "gcr.io/findly-now/fn-posts"},
        lambda service: store.load(service)[0],
        poll_interval=5,
        sleep=slept.append,
        monotonic=lambda: sum(slept),
    )
    clock = VirtualClock(datetime(2026, 1, 5, 9))
    release = PipelineService(
        platform,
        store,
        clock,
        ScenarioMetrics(SCENARIOS["healthy"]),
        Clusters(platform, SimulatedCluster(), gitops=workloads),
    )
    outcome = release.deploy("fn-posts", "1.4.0", "development", actor="erin")
    assert outcome.phase is Phase.PROGRESSING
    return slept


def test_the_controller_is_read_again_soon_then_every_poll_interval() -> None:
    # two reads come before the wait's first: the repair's and the deploy's, each checking the object's source
    assert _slept(late=4) == [0.25]  # there a quarter of a second later: not a whole interval
    assert _slept(late=10) == [0.25, 0.5, 1, 2, 4, 5, 5]
