"""The release's approval gates the release (review of issue 28, findings 1-3): in an environment that needs
approval no part starts — nor is its start recorded — until the release's own approvals satisfy the environment's
rules; each part's service is given them only as the part starts, on behalf of who entered the release."""

from __future__ import annotations

from pathlib import Path

import pytest

from findly_infra.application.releases import parse_parts
from findly_infra.application.service import PolicyRefusedError
from findly_infra.domain.events import ApprovalGranted
from findly_infra.domain.releases import PartStatus, ReleasePartStarted
from tests.releases.platform import SERVICES
from tests.releases.test_release_flow import Stand, record_tests, serving, stand, through


def _up_to_production(s: Stand, name: str, version: str, *, actor: str = "erin") -> None:
    s.releases.create(name, parse_parts([f"{svc}={version}" for svc in SERVICES]), actor=actor)
    for environment in ("development", "staging"):
        s.releases.promote(name, environment, actor=actor)
        assert s.releases.watch(name, environment, actor=actor, wait=s.clock.advance).state == "done"
        record_tests(s, name, environment)


def test_a_watch_before_the_approval_starts_nothing_and_the_approval_then_lets_the_release_through(
    tmp_path: Path,
) -> None:
    """Finding 1: a scheduled ``step``/``watch`` between promote and approve left a part STARTED that ``release
    approve`` skipped, and the release was stuck for good."""
    s = stand(tmp_path)
    _up_to_production(s, "r1", "1.0.0")
    s.releases.promote("r1", "production", actor="erin")
    for run in (s.releases.step, s.releases.watch):
        waiting = run("r1", "production", actor="erin", wait=s.clock.advance)
        assert waiting.state == "stopped"
        assert waiting.waiting is not None
        assert "release approve r1 --environment production" in waiting.waiting
        assert not [e for e in waiting.events if isinstance(e, ReleasePartStarted)]
    here = s.releases.release("r1").environments["production"]
    assert {part.status for part in here.parts} == {PartStatus.PENDING}
    assert s.releases.progress("r1", "production").state == "stopped"
    s.releases.approve("r1", "production", actor="alice")
    assert s.releases.watch("r1", "production", actor="erin", wait=s.clock.advance).state == "done"
    assert all(serving(s, service, "production") == "1.0.0" for service in SERVICES)
    again = s.releases.approve("r1", "production", actor="alice")  # a retry after it went on: it stands
    assert again.already is not None


def test_an_approval_of_a_rolled_back_release_lets_no_other_release_nor_a_single_promotion_in(tmp_path: Path) -> None:
    """Finding 2: r2's approval, left in a part it never started, let r3 (and a single-service deploy) into
    production with no approval of its own."""
    s = stand(tmp_path)
    s.releases.create("r1", parse_parts([f"{svc}=1.0.0" for svc in SERVICES]), actor="erin")
    assert through(s, "r1").state == "done"
    s.releases.create("r2", parse_parts([f"{svc}=2.0.0" for svc in SERVICES]), actor="erin")
    s.metrics.failing.add(("fn-matcher", "production", "2.0.0"))
    assert through(s, "r2").state == "rolled_back"
    s.metrics.failing.clear()
    never = [
        e for e in s.pipelines.history("fn-notifications") if isinstance(e, ApprovalGranted) and e.version == "2.0.0"
    ]
    assert never == []  # a part never started holds no approval
    with pytest.raises(PolicyRefusedError) as single:
        s.pipelines.deploy("fn-notifications", "2.0.0", "production", actor="mallory")
    assert single.value.refusal.rule == "approvals"

    s.releases.create("r3", parse_parts(["fn-posts=1.0.0", "fn-notifications=2.0.0"]), actor="mallory")
    for environment in ("development", "staging"):
        s.releases.promote("r3", environment, actor="mallory")
        s.releases.watch("r3", environment, actor="mallory", wait=s.clock.advance)
        record_tests(s, "r3", environment)
    assert s.releases.promote("r3", "production", actor="mallory").state == "stopped"
    watched = s.releases.watch("r3", "production", actor="mallory", wait=s.clock.advance)
    assert watched.state == "stopped"
    assert watched.waiting is not None
    assert "release approve r3" in watched.waiting
    assert serving(s, "fn-notifications", "production") == "1.0.0"
    # and r2's approver is not held back from approving r3 (nothing of r2's is "already" there)
    s.releases.approve("r3", "production", actor="alice")
    assert s.releases.watch("r3", "production", actor="mallory", wait=s.clock.advance).state == "done"
    assert serving(s, "fn-notifications", "production") == "2.0.0"


def test_the_approver_watching_the_release_does_not_void_their_own_approval(tmp_path: Path) -> None:
    """Finding 3: ``release watch`` run by the approver started each part as them, their approval then did not
    count, and the watch exited 0 ``progressing`` for ever."""
    s = stand(tmp_path)
    _up_to_production(s, "r1", "1.0.0")
    s.releases.promote("r1", "production", actor="erin")
    s.releases.approve("r1", "production", actor="alice")
    done = s.releases.watch("r1", "production", actor="alice", wait=s.clock.advance)
    assert done.state == "done"
    for service in SERVICES:
        rollout = s.pipelines.pipeline(service).environments["production"].rollout
        assert rollout is not None
        assert rollout.started_by == "erin"  # on behalf of who entered the release
        assert [a.approver for a in rollout.entry.approvals] == ["alice"]


def test_the_person_who_entered_the_release_cannot_approve_it_and_nothing_is_recorded(tmp_path: Path) -> None:
    s = stand(tmp_path)
    _up_to_production(s, "r1", "1.0.0")
    s.releases.promote("r1", "production", actor="alice")
    before = len(s.releases.history("r1"))
    with pytest.raises(PolicyRefusedError) as refused:
        s.releases.approve("r1", "production", actor="alice")
    assert refused.value.refusal.rule == "self-approval"
    assert len(s.releases.history("r1")) == before
    waiting = s.releases.watch("r1", "production", actor="bob", wait=s.clock.advance)
    assert waiting.state == "stopped"
