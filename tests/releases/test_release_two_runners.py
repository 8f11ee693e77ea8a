"""Two runners on one release (review of issue 28, finding 6): the release's lease (``_releases`` in the state's
leases, the release's environment) lets one runner act on its parts at a time, fences its writes to the release
stream, and is renewed before every action on a service — so that a stale action (a part deployed after the release
turned back, or rolled out twice) is never taken. Two ``ReleaseService`` on one store, cluster and clocks, each its
own holder, the second run in the middle of the first (between its recorded intent and its act)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from findly_infra.application.releases import ReleaseService, parse_parts
from findly_infra.application.service import Outcome, PipelineService, PolicyRefusedError
from findly_infra.domain.events import RolloutStarted
from findly_infra.domain.releases import ReleasePhase
from findly_infra.testing import VirtualClock
from tests.releases.platform import SERVICES
from tests.releases.test_release_flow import T0, Stand, serving, stand, through

ENV = "development"


def _runner(s: Stand, holder: str, wall: VirtualClock) -> ReleaseService:
    pipelines = PipelineService(
        s.platform, s.store, s.clock, s.metrics, s.cluster, holder=holder, wall=wall, backoff=lambda _: None
    )
    return ReleaseService(pipelines)


def _second_release(tmp_path: Path) -> tuple[Stand, VirtualClock]:
    s = stand(tmp_path)
    s.releases.create("r1", parse_parts([f"{svc}=1.0.0" for svc in SERVICES]), actor="erin")
    assert through(s, "r1", upto=ENV).state == "done"
    s.releases.create("r2", parse_parts([f"{svc}=2.0.0" for svc in SERVICES]), actor="erin")
    s.releases.promote("r2", ENV, actor="erin")
    return s, VirtualClock(T0)


def _before_starting(service: str, then: Callable[[], object]) -> Callable[[str, str, Outcome | None], object]:
    done: list[str] = []

    def on_action(kind: str, part: str, _: Outcome | None) -> None:
        if kind == "start" and part == service and not done:  # its intent recorded, its deploy not yet made
            done.append(part)
            then()

    return on_action


def _starts(s: Stand, service: str) -> int:
    return len([e for e in s.pipelines.history(service) if isinstance(e, RolloutStarted) and e.version == "2.0.0"])


def test_a_second_watch_while_the_first_holds_the_release_acts_on_nothing(tmp_path: Path) -> None:
    s, wall = _second_release(tmp_path)
    first, second = _runner(s, "runner-b", wall), _runner(s, "runner-a", wall)
    refused: list[PolicyRefusedError] = []

    def other() -> None:
        with pytest.raises(PolicyRefusedError) as caught:
            second.watch("r2", ENV, actor="ci", wait=s.clock.advance)
        refused.append(caught.value)

    ended = first.run(
        "r2", ENV, actor="ci", wait=s.clock.advance, watch=True, on_action=_before_starting("fn-posts", other)
    )
    assert ended.state == "done"
    assert refused[0].refusal.rule == "release-lease"
    assert "runner-b" in refused[0].refusal.message
    assert all(_starts(s, service) == 1 for service in SERVICES)  # each part rolled out once
    assert second.watch("r2", ENV, actor="ci", wait=s.clock.advance).state == "done"  # given up: the next goes on


def test_a_persons_rollback_while_a_runner_is_about_to_start_a_part_leaves_no_part_rolled_out(tmp_path: Path) -> None:
    s, wall = _second_release(tmp_path)
    runner, person = _runner(s, "runner-b", wall), _runner(s, "bob-laptop", wall)
    said: list[str | None] = []

    def roll_back() -> None:
        progress = person.roll_back("r2", ENV, actor="bob", reason="a bad night", wait=s.clock.advance)
        said.append(progress.already)

    on_action = _before_starting("fn-notifications", roll_back)
    ended = runner.run("r2", ENV, actor="ci", wait=s.clock.advance, watch=True, on_action=on_action)
    assert said[0] is not None
    assert "runner-b" in said[0]  # recorded; the runner that drives the release returns it
    assert ended.state == "rolled_back"
    here = ended.release.environments[ENV]
    assert here.phase is ReleasePhase.ROLLED_BACK
    for service in SERVICES:  # every part back on 1.0.0, none left running 2.0.0 behind the release's back
        assert serving(s, service, ENV) == "1.0.0"
        assert not s.pipelines.view(service, ENV).phase.active


def test_a_runner_whose_lease_was_taken_over_while_it_stalled_acts_on_nothing_after(tmp_path: Path) -> None:
    s, wall = _second_release(tmp_path)
    stalled, retry = _runner(s, "runner-b", wall), _runner(s, "runner-a", wall)

    def takeover() -> None:
        wall.advance(timedelta(minutes=10))  # runner-b stalls past its lease: a retry takes the release over
        assert retry.watch("r2", ENV, actor="ci", wait=s.clock.advance).state == "done"

    ended = stalled.run(
        "r2", ENV, actor="ci", wait=s.clock.advance, watch=True, on_action=_before_starting("fn-posts", takeover)
    )
    assert ended.state == "done"
    assert all(_starts(s, service) == 1 for service in SERVICES)  # fn-posts not rolled out a second time
    assert all(not s.pipelines.view(service, ENV).phase.active for service in SERVICES)
