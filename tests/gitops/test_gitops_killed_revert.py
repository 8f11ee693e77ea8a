"""A command killed after it pushed a revert and before it recorded it: the next command finds the revert by its key
and records it (``GitOpsReverted``, once), instead of leaving the revert out of the log — and then follows the
controller to that revert, not to whatever the controller last reported. As ``test_gitops_flow`` does for a forward
commit, on the in-memory state and repository; ``test_release_gitops_kills`` kills the git adapter there."""

from __future__ import annotations

import pytest

from findly_infra.adapters.memory import MemoryCommit
from findly_infra.domain import Phase
from findly_infra.domain.gitops import GitOpsCommitted, GitOpsReverted
from tests.gitops.test_gitops_flow import ENV, IMAGE, SERVICE, Killed, World, _world


def _dies_after_the_next_push(world: World) -> None:
    def dies(_commit: MemoryCommit) -> None:
        world.repository.after_push = None
        raise Killed

    world.repository.after_push = dies


def test_a_revert_pushed_by_a_killed_rollback_is_recorded_by_the_next_command() -> None:
    world = _world()
    world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")
    world.release.watch(SERVICE, ENV, actor="bot", wait=world.clock.advance)
    world.release.deploy(SERVICE, "3.0.0", ENV, actor="erin")
    _dies_after_the_next_push(world)
    with pytest.raises(Killed):
        world.release.rollback(SERVICE, ENV, actor="bob", reason="wrong build")
    pushes = world.repository.pushes
    assert [type(e) for e in world.handoffs()] == [GitOpsCommitted, GitOpsCommitted]  # the revert: pushed only
    assert world.image() == f'image: "{IMAGE}:2.0.0"'
    world.release.reconcile(SERVICE, ENV)
    *_, committed, reverted = world.handoffs()
    assert isinstance(reverted, GitOpsReverted)
    assert (reverted.reverts, reverted.commit) == (committed.commit, world.repository.head)
    world.release.reconcile(SERVICE, ENV)
    assert len(world.handoffs()) == 3  # recorded once
    assert world.repository.pushes == pushes  # found by its key, never pushed again


def test_the_revert_of_a_first_rollout_pushed_by_a_killed_rollback_is_recorded_by_the_next_command() -> None:
    world = _world()
    world.release.deploy(SERVICE, "2.0.0", ENV, actor="erin")  # the first rollout: nothing served before it
    _dies_after_the_next_push(world)
    with pytest.raises(Killed):
        world.release.rollback(SERVICE, ENV, actor="bob", reason="wrong build")
    assert world.release.view(SERVICE, ENV).phase is Phase.ROLLED_BACK
    assert world.image() == f'image: "{IMAGE}:1.0.0"'  # back to what the repository had
    world.release.reconcile(SERVICE, ENV)
    committed, reverted = world.handoffs()
    assert isinstance(reverted, GitOpsReverted)
    assert (reverted.reverts, reverted.commit) == (committed.commit, world.repository.head)
    world.release.reconcile(SERVICE, ENV)
    assert len(world.handoffs()) == 2
