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
