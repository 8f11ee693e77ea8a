"""A release's return of a part that succeeded (``PipelineService.return_to``) on a cluster bound to the Kubernetes
stand-in, through the real adapter (``ClusterWorkloads``): the primary Deployment runs the version it replaced again,
with all the traffic, for every strategy; its own entry is judged (it was let in before), and no new approval is
asked. Real time, a platform whose rollouts take seconds (``bound.quick``), as ``test_releases.py``."""

from __future__ import annotations

from typing import Any

import pytest

from findly_infra.bootstrap import Runtime
from findly_infra.domain import Phase, StrategyKind
from findly_infra.testing.kubernetes import KubernetesStandIn
from tests.cluster.bound import real_time
from tests.cluster.test_releases import ENV, SERVICE, bound, held, runtime

__all__ = ["bound", "runtime"]  # the fixtures, shared with test_releases.py


def released(runtime: Runtime, version: str, kind: StrategyKind) -> None:
    release = runtime.service
    release.deploy(SERVICE, version, ENV, actor="erin", strategy=kind)
    for suite in ("smoke_tests", "performance_tests"):
        release.record_test(SERVICE, version, ENV, suite, True, actor="ci")
    assert release.watch(SERVICE, ENV, actor="findly", wait=real_time).phase is Phase.SUCCEEDED


@pytest.mark.parametrize("kind", list(StrategyKind))
def test_a_return_from_a_success_runs_the_replaced_version_on_the_cluster_again(
    runtime: Runtime, cluster: KubernetesStandIn, kind: StrategyKind
) -> None:
    released(runtime, "1.0.0", kind)
    released(runtime, "2.0.0", kind)
    assert held(cluster)[SERVICE][0] == "2.0.0"
    returned = runtime.service.return_to(SERVICE, ENV, "1.0.0", actor="release", reason="the release failed")
    assert returned.phase is Phase.ROLLED_BACK
    after: dict[str, Any] = held(cluster)
    assert after[SERVICE][0] == "1.0.0"
    assert after[SERVICE][1] >= 1
    assert after["weights"]["stable"] == 100  # all of the traffic
    assert sum(after["weights"].values()) == 100
    assert not runtime.service.reconcile(SERVICE, ENV).routed  # converged: a second pass changes nothing
    assert runtime.service.return_to(SERVICE, ENV, "1.0.0", actor="release", reason="again").already
