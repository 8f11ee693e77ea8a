"""Issue 27, the review of GKE against the real service (reviews/i27-google.md), the failover's part: the DR lease
renewed while GKE creates the DR cluster (finding 8) — a real create takes minutes, longer than a lease cut for the
step when it began — so that no second runner takes the failover over mid-create."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from findly_infra.application.recovery import RecoveryRefusedError
from tests.recovery.test_failover_kill_matrix import CONTEXT, FAILOVER, World

pytest.importorskip("google.cloud.container_v1", reason="the gke extra")


def test_the_dr_lease_is_renewed_while_gke_creates_so_a_second_runner_is_refused_mid_create() -> None:
    import grpc

    from findly_infra.adapters.gke import connect_gke
    from findly_infra.testing.gke import GkeStandIn

    world = World()
    seen: list[Any] = []

    def sleep(_: float) -> None:
        world.clock.sleep(40 * 60)  # 40 minutes each poll: past the lease's 70 once it has waited twice
        if len(seen) == 2:
            second = attrs.evolve(world.process("runner-2"), dead=lambda _: False)  # runner-1 is alive
            try:
                second.run(FAILOVER, CONTEXT, actor="bob")
                seen.append("taken over")
            except RecoveryRefusedError as refused:
                seen.append(refused.refusal.rule)
            return
        seen.append("poll")

    with GkeStandIn(polls=6) as gke:
        world.clusters = connect_gke(  # type: ignore[assignment]
            "findly-now", channel=grpc.insecure_channel(gke.address), poll_interval=0, sleep=sleep
        )
        finished = world.process("runner-1").run(FAILOVER, CONTEXT, actor="alice")
        assert [method for method, _ in gke.calls].count("CreateCluster") == 1
    assert seen[2] == "recovery-in-progress"  # the lease was renewed under the create: not run out, not taken
    assert finished.completed is not None


# ---- a drill's target (from the end-to-end helper's finding) ------------------------------------------------------


def test_a_drill_on_a_context_an_environment_is_bound_to_is_refused_naming_the_binding() -> None:
    """`dr drill --context <the primary's context>` applied production's objects WITH PRUNE to the live primary."""
    from findly_infra.application.ports import BadInputError
    from findly_infra.domain.operations import ClusterBinding
    from findly_infra.domain.recovery import RecoveryKind
    from tests.recovery.fakes import PLATFORM

    primary = "gke_findly-now_us-central1_findly-production"
    bound = attrs.evolve(
        PLATFORM,
        kubernetes=attrs.evolve(PLATFORM.kubernetes, clusters=(ClusterBinding("production", context=primary),)),
    )
    world = World()
    recovery = attrs.evolve(world.process("runner-1"), platform=bound)
    with pytest.raises(BadInputError, match=r"kubernetes\.clusters\.production binds it to the production environment"):
        recovery.run(RecoveryKind.DRILL, primary, actor="alice")
    assert not world.objects.objects  # nothing applied anywhere
    assert recovery.operations() == ()


def test_a_drill_on_another_context_than_failover_context_leaves_the_dr_gke_cluster_alone() -> None:
    """It planned and created the production DR cluster in GKE whatever the drill's target was."""
    from findly_infra.domain.recovery import RecoveryKind, RecoveryStep

    world = World()
    done = world.process("runner-1").run(RecoveryKind.DRILL, "kind-spare", actor="alice")
    assert done.completed is not None
    assert world.clusters.calls == []  # no DR cluster created
    assert world.clusters.clusters == {}
    (cluster,) = [event for event in done.done if event.step is RecoveryStep.CLUSTER]
    assert cluster.skipped
    assert "kind-spare is not failover.context" in " ".join(cluster.detail)
