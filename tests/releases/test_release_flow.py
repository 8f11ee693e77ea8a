"""Issue 28's end-to-end release, on the in-memory state and the simulated cluster: three dependent services go
development → staging → production with ONE ``release approve`` for production; the next release rolls back as a
whole when its last part's analysis fails in production — the two parts done returned in reverse order, each
service's state saying so, and the simulated cluster running the returned versions again."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import attrs
import pytest

from findly_infra import load_platform
from findly_infra.adapters.memory import SimulatedCluster
from findly_infra.application.ports import MetricsQuery, Observation
from findly_infra.application.releases import ReleaseProgress, ReleaseService, parse_parts
from findly_infra.application.scenarios import HEALTHY
from findly_infra.application.service import PipelineService, PolicyRefusedError
from findly_infra.domain import Phase
from findly_infra.domain.events import RolledBack
from findly_infra.domain.platform import Platform
from findly_infra.domain.releases import (
    PartStatus,
    ReleasePartReturned,
    ReleasePartStarted,
    ReleasePhase,
)
from findly_infra.testing import MemoryEventStore, VirtualClock
from tests.releases.platform import SERVICES, release_platform_file

T0 = datetime(2026, 1, 5, 9)
ENVIRONMENTS = ("development", "staging", "production")


@attrs.define
class PartMetrics:
    """Scripted metrics that hold state: healthy, except the candidates named in *failing* ((service, environment,
    version)), whose error rate is over every threshold from their first analysis."""

    failing: set[tuple[str, str, str]] = attrs.field(factory=set)

    def observe(self, query: MetricsQuery) -> Observation:
        values: Mapping[str, float] = HEALTHY
        if query.candidate and (query.service, query.environment, query.version) in self.failing:
            values = {**HEALTHY, "error_rate": 0.2}
        return Observation(dict(values))

    def describe(self, metric: str, query: MetricsQuery) -> str | None:  # noqa: ARG002 - scripted: no query
        return None


@attrs.define
class Stand:
    platform: Platform
    releases: ReleaseService
    pipelines: PipelineService
    clock: VirtualClock
    cluster: SimulatedCluster
    metrics: PartMetrics
    store: MemoryEventStore


def stand(
    tmp_path: Path,
    store: MemoryEventStore | None = None,
    cluster: SimulatedCluster | None = None,
    *,
    example_production: bool = False,
) -> Stand:
    platform = load_platform(release_platform_file(tmp_path, example_production=example_production))
    clock, metrics = VirtualClock(T0), PartMetrics()
    store = store or MemoryEventStore()
    cluster = cluster or SimulatedCluster()
    pipelines = PipelineService(platform, store, clock, metrics, cluster)
    return Stand(platform, ReleaseService(pipelines), pipelines, clock, cluster, metrics, store)


def record_tests(s: Stand, name: str, environment: str) -> None:
    """CI's part: every suite of *environment* passed for each part of release *name*."""
    for part in s.releases.release(name).parts:
        for suite in s.platform.environment(environment).tests:
            s.pipelines.record_test(part.service, part.version, environment, suite, True, actor="ci")


def through(s: Stand, name: str, *, upto: str = "production") -> ReleaseProgress:
    """Release *name* promoted and watched through each environment up to *upto* (one approval for production)."""
    progress: ReleaseProgress | None = None
    for environment in ENVIRONMENTS:
        progress = s.releases.promote(name, environment, actor="erin")
        if environment == "production":
            assert progress.state == "stopped", progress
            assert progress.waiting is not None
            assert "release approve" in progress.waiting
            progress = s.releases.approve(name, environment, actor="alice")
        progress = s.releases.watch(name, environment, actor="erin", wait=s.clock.advance)
        if progress.state != "done":
            return progress
        record_tests(s, name, environment)
        if environment == upto:
            break
    assert progress is not None
    return progress


def serving(s: Stand, service: str, environment: str) -> str | None:
    return s.pipelines.pipeline(service).environments[environment].current


def test_a_release_of_three_dependent_services_goes_through_with_one_approval_and_returns_as_a_whole(
    tmp_path: Path,
) -> None:
    s = stand(tmp_path)
    first, already = s.releases.create("r1", parse_parts([f"{svc}=1.0.0" for svc in reversed(SERVICES)]), actor="erin")
    assert already is None
    assert first.services == SERVICES  # dependencies first, whatever order they were named in
    done = through(s, "r1")
    assert done.state == "done"
    for environment in ENVIRONMENTS:
        for service in SERVICES:
            assert serving(s, service, environment) == "1.0.0"
    approvals = [e for e in s.releases.history("r1") if e.type == "release_approved"]
    assert [(e.environment, e.actor) for e in approvals] == [("production", "alice")]  # one approval, one person

    s.releases.create("r2", parse_parts([f"{svc}=2.0.0" for svc in SERVICES]), actor="erin")
    s.metrics.failing.add(("fn-notifications", "production", "2.0.0"))
    ended = through(s, "r2")
    assert ended.environment == "production"
    assert ended.state == "rolled_back"
    here = ended.release.environments["production"]
    assert here.phase is ReleasePhase.ROLLED_BACK
    assert here.failed == "fn-notifications"
    statuses = {part.service: part.status for part in here.parts}
    assert statuses == {
        "fn-posts": PartStatus.RETURNED,
        "fn-matcher": PartStatus.RETURNED,
        "fn-notifications": PartStatus.FAILED,
    }
    returned = [e.part for e in s.releases.history("r2") if isinstance(e, ReleasePartReturned)]
    assert returned == ["fn-matcher", "fn-posts"]  # the reverse of the order they were done
    for service in SERVICES:  # each service's own state says so, and the cluster runs it again
        state = s.pipelines.pipeline(service).environments["production"]
        assert state.current == "1.0.0", service
        assert state.phase is Phase.ROLLED_BACK
        assert s.pipelines.view(service, "production").routes() == {"1.0.0": 100}
        assert s.cluster.holding(service, "production").running == {service: "1.0.0"}, service
        assert serving(s, service, "staging") == "2.0.0"  # the environments before keep it
    returns = [e for e in s.pipelines.history("fn-posts") if isinstance(e, RolledBack)]
    assert [(e.environment, e.version, e.restored) for e in returns] == [("production", "2.0.0", "1.0.0")]
    # asked again: nothing more to do
    again = s.releases.watch("r2", "production", actor="erin", wait=s.clock.advance)
    assert again.state == "rolled_back"
    assert not again.events
    assert not again.outcomes


def test_an_approval_refused_for_one_part_records_nothing(tmp_path: Path) -> None:
    s = stand(tmp_path)
    s.releases.create("r1", parse_parts([f"{svc}=1.0.0" for svc in SERVICES]), actor="erin")
    through(s, "r1", upto="staging")
    s.releases.promote("r1", "production", actor="alice")
    before = {svc: len(s.pipelines.history(svc)) for svc in SERVICES}
    with pytest.raises(PolicyRefusedError) as refused:
        s.releases.approve("r1", "production", actor="alice")  # the requester cannot approve their own
    assert refused.value.refusal.rule == "self-approval"
    assert "release r1" in str(refused.value)
    assert {svc: len(s.pipelines.history(svc)) for svc in SERVICES} == before
    with pytest.raises(PolicyRefusedError) as outsider:
        s.releases.approve("r1", "production", actor="mallory")
    assert outsider.value.refusal.rule == "approver-membership"
    assert {svc: len(s.pipelines.history(svc)) for svc in SERVICES} == before


def test_a_person_rolls_a_release_back_as_a_whole(tmp_path: Path) -> None:
    s = stand(tmp_path)
    s.releases.create("r1", parse_parts([f"{svc}=1.0.0" for svc in SERVICES]), actor="erin")
    through(s, "r1", upto="development")
    s.releases.create("r2", parse_parts([f"{svc}=2.0.0" for svc in SERVICES]), actor="erin")
    assert through(s, "r2", upto="development").state == "done"
    back = s.releases.roll_back("r2", "development", actor="bob", reason="a bad night", wait=s.clock.advance)
    assert back.state == "rolled_back"
    for service in SERVICES:
        assert serving(s, service, "development") == "1.0.0"
    started = [e.part for e in s.releases.history("r2") if isinstance(e, ReleasePartStarted)]
    assert started == list(SERVICES)


def test_a_verified_identity_is_refused_for_a_whole_release(tmp_path: Path) -> None:
    """A token proves one action on one service's version (``domain.proofs``): a release does not pretend one token
    proves three parts — refused, rule ``verified-identity``, nothing recorded."""
    from findly_infra.domain.identity import VerifiedIdentity

    s = stand(tmp_path)
    s.releases.create("r1", parse_parts([f"{svc}=1.0.0" for svc in SERVICES]), actor="erin")
    through(s, "r1", upto="staging")
    identity = VerifiedIdentity(
        "alice", "1", "findly-now/app", "refs/heads/main", "w", "7", "production", "https://issuer", "t"
    )
    before = len(s.store.load("_releases")[0])
    for command in (
        lambda: s.releases.promote("r1", "production", actor="alice", identity=identity),
        lambda: s.releases.approve("r1", "production", actor="alice", identity=identity),
    ):
        with pytest.raises(PolicyRefusedError) as refused:
            command()
        assert refused.value.refusal.rule == "verified-identity"
    assert len(s.store.load("_releases")[0]) == before


def test_on_the_examples_blue_green_production_each_manual_step_is_approved_by_release_approve(
    tmp_path: Path,
) -> None:
    """The example's production: two approver groups (two people approve the release, once each), and blue-green
    with a manual business validation of each part, which ``release approve`` approves when the part reaches it."""
    s = stand(tmp_path, example_production=True)
    s.releases.create("r1", parse_parts([f"{svc}=1.0.0" for svc in SERVICES]), actor="erin")
    through(s, "r1", upto="staging")
    asked = s.releases.promote("r1", "production", actor="erin")
    assert asked.state == "stopped"
    assert asked.waiting is not None
    assert "devops-team, security-team" in asked.waiting
    assert s.releases.approve("r1", "production", actor="alice").state == "stopped"  # security-team still
    s.releases.approve("r1", "production", actor="carol")
    for service in SERVICES:  # CI's evidence of each part in production (the blue-green validation's suites)
        for suite in ("smoke_tests", "performance_tests"):
            s.pipelines.record_test(service, "1.0.0", "production", suite, True, actor="ci")
    stops = []
    progress = s.releases.watch("r1", "production", actor="erin", wait=s.clock.advance)
    while progress.state == "stopped":
        assert progress.waiting is not None
        assert "release approve r1" in progress.waiting
        stops.append(progress.waiting.split(" ", 1)[0])
        s.releases.approve("r1", "production", actor="alice")
        progress = s.releases.watch("r1", "production", actor="erin", wait=s.clock.advance)
    assert progress.state == "done"
    assert stops == list(SERVICES)  # each part's own validation, in the release's order
    approved = [e.actor for e in s.releases.history("r1") if e.type == "release_approved"]
    assert approved == ["alice", "carol"]  # the release approved once by each person


def test_a_part_that_already_serves_its_version_is_unchanged_and_never_returned(tmp_path: Path) -> None:
    s = stand(tmp_path)
    s.releases.create("r1", parse_parts([f"{svc}=1.0.0" for svc in SERVICES]), actor="erin")
    through(s, "r1", upto="development")
    s.releases.create("r2", parse_parts(["fn-posts=1.0.0", "fn-matcher=2.0.0", "fn-notifications=2.0.0"]), actor="erin")
    s.metrics.failing.add(("fn-notifications", "development", "2.0.0"))
    s.releases.promote("r2", "development", actor="erin")
    ended = s.releases.watch("r2", "development", actor="erin", wait=s.clock.advance)
    assert ended.state == "rolled_back"
    assert ended.here is not None
    assert [part.status for part in ended.here.parts] == [PartStatus.UNCHANGED, PartStatus.RETURNED, PartStatus.FAILED]
    assert [e.part for e in s.releases.history("r2") if isinstance(e, ReleasePartReturned)] == ["fn-matcher"]
    assert [e.type for e in s.pipelines.history("fn-posts")].count("rollout_started") == 1  # r1's alone
    for service in SERVICES:
        assert serving(s, service, "development") == "1.0.0"


def test_in_virtual_time_a_release_never_moves_a_bound_cluster_and_records_nothing(tmp_path: Path) -> None:
    from findly_infra.application.service import RehearsalRefusedError
    from findly_infra.domain import ClusterBinding

    platform = load_platform(release_platform_file(tmp_path))
    bound = attrs.evolve(
        platform, kubernetes=attrs.evolve(platform.kubernetes, clusters=(ClusterBinding("development", context="x"),))
    )
    store, clock = MemoryEventStore(), VirtualClock(T0)
    pipelines = PipelineService(bound, store, clock, PartMetrics(), SimulatedCluster(), rehearsal="time is virtual")
    releases = ReleaseService(pipelines)
    releases.create("r1", parse_parts([f"{svc}=1.0.0" for svc in SERVICES]), actor="erin")
    releases.promote("r1", "development", actor="erin")
    recorded = len(store.load("_releases")[0])
    with pytest.raises(RehearsalRefusedError):
        releases.watch("r1", "development", actor="erin", wait=clock.advance)
    assert len(store.load("_releases")[0]) == recorded
