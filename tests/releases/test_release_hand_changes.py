"""A release's parts changed by hand (review of issue 28, findings 4 and 7): a part's own rollout rolled back by a
person and followed by a hotfix is the part's failure — the release turns back, never rolls the part out again over
the hotfix —; a release does not end succeeded while a part it finished no longer serves its version; and a
rollback does not say it returned a part it did not touch."""

from __future__ import annotations

from pathlib import Path

from findly_infra.application.releases import parse_parts
from findly_infra.domain.events import RolloutStarted
from findly_infra.domain.releases import PartStatus, ReleasePhase
from tests.releases.platform import SERVICES
from tests.releases.test_release_flow import Stand, serving, stand, through

ENV = "development"


def _second(tmp_path: Path) -> Stand:
    s = stand(tmp_path)
    s.releases.create("r1", parse_parts([f"{svc}=1.0.0" for svc in SERVICES]), actor="erin")
    assert through(s, "r1", upto=ENV).state == "done"
    s.releases.create("r2", parse_parts([f"{svc}=2.0.0" for svc in SERVICES]), actor="erin")
    s.releases.promote("r2", ENV, actor="erin")
    return s


def test_a_part_rolled_back_by_hand_then_hotfixed_is_failed_not_rolled_out_again_over_the_hotfix(
    tmp_path: Path,
) -> None:
    s = _second(tmp_path)
    s.releases.step("r2", ENV, actor="ci", wait=s.clock.advance)  # fn-posts 2.0.0 started
    s.pipelines.rollback("fn-posts", ENV, actor="bob", reason="looks wrong")
    s.pipelines.deploy("fn-posts", "1.0.1", ENV, actor="bob")
    s.pipelines.watch("fn-posts", ENV, actor="bob", wait=s.clock.advance, version="1.0.1")
    ended = s.releases.watch("r2", ENV, actor="ci", wait=s.clock.advance)
    assert ended.state == "rolled_back"
    here = ended.release.environments[ENV]
    assert here.failed == "fn-posts"
    assert here.part("fn-posts").status is PartStatus.FAILED
    assert "looks wrong" in here.part("fn-posts").reason
    assert serving(s, "fn-posts", ENV) == "1.0.1"  # the hotfix stands
    starts = [e for e in s.pipelines.history("fn-posts") if isinstance(e, RolloutStarted) and e.environment == ENV]
    assert [e.version for e in starts] == ["1.0.0", "2.0.0", "1.0.1"]


def test_a_release_whose_done_part_was_replaced_by_hand_does_not_end_succeeded_nor_claim_to_return_it(
    tmp_path: Path,
) -> None:
    s = _second(tmp_path)
    while s.releases.release("r2").environments[ENV].part("fn-posts").status is not PartStatus.DONE:
        s.releases.step("r2", ENV, actor="ci", wait=s.clock.advance)
    s.pipelines.deploy("fn-posts", "1.0.0", ENV, actor="bob")  # by hand, over the release's done part
    s.pipelines.watch("fn-posts", ENV, actor="bob", wait=s.clock.advance, version="1.0.0")
    stopped = s.releases.watch("r2", ENV, actor="ci", wait=s.clock.advance)
    assert stopped.state == "stopped"  # exit 6, not "done"
    assert stopped.waiting is not None
    assert "fn-posts serves 1.0.0 in development, not 2.0.0" in stopped.waiting
    assert stopped.release.environments[ENV].phase is ReleasePhase.ROLLING_OUT
    assert s.releases.progress("r2", ENV).waiting == stopped.waiting  # status names it too
    rolled = s.releases.roll_back("r2", ENV, actor="bob", reason="a bad night", wait=s.clock.advance)
    here = rolled.release.environments[ENV]
    assert here.phase is ReleasePhase.ROLLED_BACK
    assert here.part("fn-posts").status is PartStatus.LEFT  # not touched: bob's rollout brought it back
    assert "not the release's" in here.part("fn-posts").reason
    assert {here.part(name).status for name in SERVICES[1:]} == {PartStatus.RETURNED}
    assert all(serving(s, service, ENV) == "1.0.0" for service in SERVICES)
