"""``dr failover`` and ``dr drill`` as use cases, on fakes that hold state: every step taken once and recorded, a
run killed anywhere resumed to the end without repeating a done step's effect, and every refusal named."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
import pytest

from findly_infra.application.ports import RecordSet
from findly_infra.application.recovery import RecoveryRefusedError, RecoveryStepError
from findly_infra.domain import Event
from findly_infra.domain.lease import Lease
from findly_infra.domain.recovery import (
    DR_STREAM,
    STEPS,
    RecoveryKind,
    RecoveryStarted,
    RecoveryStep,
    RecoveryStepDone,
    RecoveryStepFailed,
)

from .fakes import DR, PRIMARY, RECORD, ZONE, Crash, Prometheus, Region, region, released

Streams = dict[str, list[Event]]
FAILOVER, DRILL = RecoveryKind.FAILOVER, RecoveryKind.DRILL
CONTEXT = "gke_findly-now_us-east1_findly-production-dr"
NAMESPACE = "findly-now-production"


def _released() -> Streams:
    return {
        "fn-posts": released("fn-posts", "1.4.0"),
        "fn-notifications": released("fn-notifications", "2.0.1"),
    }


@pytest.fixture(scope="module")
def streams() -> Streams:
    return _released()


def _dr_events(dr: Region) -> list[object]:
    return list(dr.store.streams.get(DR_STREAM, []))


def test_a_failover_brings_every_service_up_in_the_dr_cluster_then_switches_dns(streams: Streams) -> None:
    dr = region(streams)
    operation = dr.recovery().run(FAILOVER, CONTEXT, actor="alice")

    assert operation.completed is not None
    assert [timing.step for timing in operation.timings()] == list(STEPS)
    (cluster,) = dr.clusters.clusters.values()  # created in the DR region, zones mapped by the file
    assert (cluster.name, cluster.location) == ("findly-production-dr", "us-east1")
    assert {zone for pool in cluster.pools for zone in pool.zones} <= {"us-east1-b", "us-east1-c", "us-east1-d"}
    images = dr.images()  # each service at the version that serves in production, nothing invented
    assert images[f"{NAMESPACE}/fn-posts"].endswith(":1.4.0")
    assert images[f"{NAMESPACE}/fn-notifications"].endswith(":2.0.1")
    assert not any("fn-matcher" in name for name in images)
    assert operation.started.skipped == ("production/fn-matcher",)
    assert dr.record() == DR
    assert len(dr.dns.changes) == 1
    assert operation.rto_seconds == pytest.approx(sum(timing.seconds for timing in operation.timings()))
    assert operation.completed.rto_target_seconds == 900.0


def test_dns_is_switched_only_after_health_passed(streams: Streams) -> None:
    dr = region(streams, prometheus=Prometheus(healthy=False))
    with pytest.raises(RecoveryStepError, match="no sample is not healthy"):
        dr.recovery().run(FAILOVER, CONTEXT, actor="alice")
    assert dr.record() == PRIMARY  # never fail open: no sample, no switch
    (failed,) = [event for event in _dr_events(dr) if isinstance(event, RecoveryStepFailed)]
    assert failed.step is RecoveryStep.HEALTH
    assert dr.recovery().open() is not None  # open: a rerun resumes

    dr.prometheus = Prometheus(healthy=True)
    operation = dr.recovery().run(FAILOVER, CONTEXT, actor="alice")
    assert operation.completed is not None
    assert dr.record() == DR


def test_a_sample_below_one_is_not_healthy(streams: Streams) -> None:
    dr = region(streams)
    assert dr.prometheus is not None
    query = 'min(up{namespace="findly-now-production", service="fn-posts"})'
    dr.prometheus.samples[query] = [1.0, 0.0]
    with pytest.raises(RecoveryStepError, match="fn-posts"):
        dr.recovery().run(FAILOVER, CONTEXT, actor="alice")


def test_with_no_prometheus_health_is_skipped_and_says_so(streams: Streams) -> None:
    dr = region(streams, prometheus=None)
    operation = dr.recovery().run(DRILL, CONTEXT, actor="alice")
    health = next(timing for timing in operation.timings() if timing.step is RecoveryStep.HEALTH)
    assert health.skipped
    assert health.detail == ("health not checked: no Prometheus bound",)


def test_a_drill_switches_no_dns_and_says_what_it_would_switch(streams: Streams) -> None:
    dr = region(streams)
    operation = dr.recovery().run(DRILL, CONTEXT, actor="alice")
    assert operation.completed is not None
    dns = operation.timings()[-1]
    assert dns.step is RecoveryStep.DNS
    assert dns.skipped
    assert "would switch api.findly.now. A from 203.0.113.10 to 198.51.100.10" in dns.detail[0]
    assert dr.record() == PRIMARY
    assert len(dr.dns.changes) == 0


def test_each_step_is_measured_from_the_end_of_the_one_before(streams: Streams) -> None:
    dr = region(streams)
    operation = dr.recovery().run(DRILL, CONTEXT, actor="alice")
    started = operation.started.at
    ends = [done.at for done in operation.steps_done()]
    assert [timing.seconds for timing in operation.timings()] == [
        (end - before).total_seconds() for before, end in zip([started, *ends], ends, strict=False)
    ]
    assert operation.rto_seconds == (ends[-1] - started).total_seconds()


def test_the_last_good_version_is_the_one_serving_while_a_rollout_holds_production() -> None:
    # 1.4.0 serves production; 1.5.0 reached it but was rolled back: 1.4.0 is deployed, not 1.5.0
    from findly_infra.domain import DeploymentPipeline

    from .fakes import PLATFORM, T0

    events = released("fn-posts", "1.4.0")
    pipeline = DeploymentPipeline.start(PLATFORM, "fn-posts").apply_all(events)
    decision = pipeline.rollback("production", actor="erin", reason="bad", at=T0 + timedelta(days=1))
    events += list(decision.events)
    dr = region({"fn-posts": events})
    view = dr.recovery().views("fn-posts", "production")
    operation = dr.recovery().run(DRILL, CONTEXT, actor="alice")
    assert operation.versions()["production"].get("fn-posts") == (
        view.serving.version if view.serving is not None else None
    )


def test_a_rollout_left_under_way_whose_runner_is_gone_does_not_block_the_failover() -> None:
    # dr#1: in a lost region a paused/awaiting rollout can be neither aborted nor rolled back: the failover goes on,
    # deploys the version that served, and says which rollout it leaves as recorded
    dr = region({"fn-posts": released("fn-posts", "1.4.0", finish=False)})
    view = dr.recovery().views("fn-posts", "production")
    assert view.rollout is not None
    assert view.rollout.phase.active
    operation = dr.recovery().run(DRILL, CONTEXT, actor="alice")  # the same check: a drill, as nothing serves yet
    assert operation.completed is not None
    (left,) = operation.started.rollouts_left
    assert left.startswith("production/fn-posts: rollout of")
    assert "left as recorded" in left
    deploy = next(timing for timing in operation.timings() if timing.step is RecoveryStep.DEPLOY)
    assert left in deploy.detail
    serving = view.serving.version if view.serving is not None else None
    assert operation.versions()["production"].get("fn-posts") == serving


def test_refused_while_a_rollouts_lease_is_live(streams: Streams) -> None:
    dr = region(streams)
    dr.store.leases[("fn-posts", "production")] = Lease("watcher", dr.clock.current + timedelta(minutes=5), 1)
    with pytest.raises(RecoveryRefusedError) as refused:
        dr.recovery().run(DRILL, CONTEXT, actor="alice")
    assert refused.value.refusal.rule == "rollout-in-progress"
    assert "watcher" in str(refused.value)
    assert "--take-over" in str(refused.value)
    assert _dr_events(dr) == []  # nothing recorded, nothing touched
    assert dr.clusters.clusters == {}


def test_take_over_goes_past_a_dead_rollout_runners_live_lease_and_records_it(streams: Streams) -> None:
    dr = region(streams)
    dr.store.leases[("fn-posts", "production")] = Lease("watcher", dr.clock.current + timedelta(minutes=5), 1)
    operation = dr.recovery().run(FAILOVER, CONTEXT, actor="alice", take_over=True)
    assert operation.completed is not None
    assert any(taken.startswith("fn-posts/production from watcher") for taken in operation.started.taken_over)
    first = operation.timings()[0]
    assert any("--take-over, by alice" in line and "watcher" in line for line in first.detail)


def test_take_over_breaks_a_crashed_runners_dr_lease_for_rerun_and_abandon(streams: Streams) -> None:
    # dr#6: a runner killed on another machine is not known dead here; its DR lease would hold for up to 70 min
    dr = region(streams)
    dr.store.kill_at = 3
    with pytest.raises(Crash):
        dr.recovery(holder="runner-1").run(FAILOVER, CONTEXT, actor="alice")
    dr.store.kill_at = None
    dr.store.killed = False
    with pytest.raises(RecoveryRefusedError, match="--take-over"):
        dr.recovery(holder="runner-2").abandon(actor="bob", reason="runner-1 lost with the region")
    abandoned = dr.recovery(holder="runner-2").abandon(actor="bob", reason="runner-1 lost", take_over=True)
    assert abandoned.abandoned is not None
    assert "--take-over" in abandoned.abandoned.reason
    assert "runner-1" in abandoned.abandoned.reason


def test_take_over_resumes_a_crashed_runners_operation_and_says_so(streams: Streams) -> None:
    dr = region(streams)
    dr.store.kill_at = 3
    with pytest.raises(Crash):
        dr.recovery(holder="runner-1").run(FAILOVER, CONTEXT, actor="alice")
    dr.store.kill_at = None
    dr.store.killed = False
    operation = dr.recovery(holder="runner-2").run(FAILOVER, CONTEXT, actor="bob", take_over=True)
    assert operation.completed is not None
    said = [line for timing in operation.timings() for line in timing.detail if "--take-over, by bob" in line]
    assert said
    assert "runner-1" in said[0]


def test_refused_while_another_runner_holds_the_dr_lease(streams: Streams) -> None:
    dr = region(streams)
    dr.store.leases[(DR_STREAM, "failover")] = Lease("runner-0", dr.clock.current + timedelta(minutes=30), 1)
    with pytest.raises(RecoveryRefusedError) as refused:
        dr.recovery().run(FAILOVER, CONTEXT, actor="alice")
    assert refused.value.refusal.rule == "recovery-in-progress"
    assert "runner-0" in str(refused.value)
    assert _dr_events(dr) == []


def test_one_operation_open_at_a_time_unless_abandoned(streams: Streams) -> None:
    dr = region(streams, prometheus=Prometheus(healthy=False))
    with pytest.raises(RecoveryStepError):
        dr.recovery().run(DRILL, CONTEXT, actor="alice")
    with pytest.raises(RecoveryRefusedError) as refused:  # a drill on another target while one is open
        dr.recovery().run(DRILL, "elsewhere", actor="alice")
    assert refused.value.refusal.rule == "recovery-in-progress"
    assert "dr abandon" in str(refused.value)

    abandoned = dr.recovery().abandon(actor="alice", reason="the drill's Prometheus is down")
    assert abandoned.abandoned is not None
    dr.prometheus = Prometheus(healthy=True)
    operation = dr.recovery().run(FAILOVER, CONTEXT, actor="alice")
    assert operation.completed is not None
    assert [op.kind for op in dr.recovery().operations()] == [DRILL, FAILOVER]


def test_a_failover_supersedes_an_open_drill_and_records_it(streams: Streams) -> None:
    # user#2 / dr#10 (a rule changed on purpose): a failed drill left open never blocks the real failover
    dr = region(streams, prometheus=Prometheus(healthy=False))
    with pytest.raises(RecoveryStepError):
        dr.recovery().run(DRILL, CONTEXT, actor="alice")
    dr.prometheus = Prometheus(healthy=True)
    operation = dr.recovery().run(FAILOVER, CONTEXT, actor="bob")
    assert operation.completed is not None
    drill, failover = dr.recovery().operations()
    assert drill.abandoned is not None
    assert drill.abandoned.reason == f"superseded by failover {failover.name}"
    assert drill.abandoned.actor == "bob"


def test_a_preflight_that_fails_records_nothing(streams: Streams) -> None:
    # user#2 / dr#8b: a setup error (an extra missing, a malformed kubeconfig) is bad input, and writes no operation
    from findly_infra.application.ports import BadInputError

    def preflight() -> None:
        raise BadInputError("the kubeconfig is not valid YAML")

    dr_recovery = region(streams).recovery()
    dr_recovery.preflight = preflight
    with pytest.raises(BadInputError):
        dr_recovery.run(DRILL, CONTEXT, actor="alice")
    assert dr_recovery.operations() == ()


def test_abandon_with_nothing_open_is_refused(streams: Streams) -> None:
    with pytest.raises(RecoveryRefusedError) as refused:
        region(streams).recovery().abandon(actor="alice", reason="nothing")
    assert refused.value.refusal.rule == "no-open-recovery"


def test_a_dns_record_someone_else_changed_is_refused_unless_forced(streams: Streams) -> None:
    dr = region(streams)
    dr.dns.put(ZONE, RecordSet(RECORD, "A", 60, ("192.0.2.99",)))
    with pytest.raises(RecoveryRefusedError) as refused:
        dr.recovery().run(FAILOVER, CONTEXT, actor="alice")
    assert refused.value.refusal.rule == "dns-record-changed"
    assert "api.findly.now." in str(refused.value)
    assert "192.0.2.99" in str(refused.value)
    assert dr.record() == ("192.0.2.99",)  # nothing switched
    assert dr.recovery().open() is not None

    operation = dr.recovery().run(FAILOVER, CONTEXT, actor="alice", force=True)
    assert operation.completed is not None
    assert dr.record() == DR


def test_a_record_already_at_its_dr_addresses_is_not_sent_again(streams: Streams) -> None:
    dr = region(streams)
    dr.dns.put(ZONE, RecordSet(RECORD, "A", 60, DR))
    operation = dr.recovery().run(FAILOVER, CONTEXT, actor="alice")
    assert len(dr.dns.changes) == 0
    assert "nothing sent" in operation.timings()[-1].detail[0]


def test_a_deployment_not_ready_fails_the_ready_step_and_leaves_the_operation_open(streams: Streams) -> None:
    dr = region(streams)
    dr.objects.never_ready.add("fn-posts")
    with pytest.raises(RecoveryStepError, match="run the same command again") as failed:
        dr.recovery().run(FAILOVER, CONTEXT, actor="alice")
    assert failed.value.step is RecoveryStep.READY
    assert dr.recovery().open().next_step is RecoveryStep.READY  # type: ignore[union-attr]
    dr.objects.never_ready.clear()
    assert dr.recovery().run(FAILOVER, CONTEXT, actor="alice").completed is not None


def _appends_to_kill() -> list[int]:
    # the recovery stream's appends of a whole failover: started, one per step, completed
    return list(range(1, len(STEPS) + 3))


@pytest.mark.parametrize("kill_at", _appends_to_kill())
def test_a_failover_killed_at_any_write_resumes_and_finishes_without_repeating_a_step(
    streams: Streams, kill_at: int
) -> None:
    dr = region(streams)
    dr.store.kill_at = kill_at
    with pytest.raises(Crash):
        dr.recovery(holder="runner-1").run(FAILOVER, CONTEXT, actor="alice")
    dr.store.kill_at = None
    dr.store.killed = False
    # another process, which knows the first is dead (its lease is taken over at once)
    operation = dr.recovery(holder="runner-2", dead=lambda lease: lease.holder == "runner-1").run(  # type: ignore[attr-defined]
        FAILOVER, CONTEXT, actor="alice"
    )
    assert operation.completed is not None
    done = [event.step for event in _dr_events(dr) if isinstance(event, RecoveryStepDone)]
    assert done == list(STEPS)  # each step recorded once, in order
    assert len([e for e in _dr_events(dr) if isinstance(e, RecoveryStarted)]) == 1  # one operation, resumed
    assert len(dr.clusters.calls) == 1  # the cluster created once: a rerun finds it as the file says
    assert len(dr.dns.changes) == 1  # DNS switched once: a rerun finds it at the DR addresses
    assert dr.record() == DR
    assert len(dr.images()) == 4  # two services, two tracks each (blue-green): nothing doubled


def test_a_killed_runners_lease_that_is_not_known_dead_holds_until_it_runs_out(streams: Streams) -> None:
    dr = region(streams)
    dr.store.kill_at = 3
    with pytest.raises(Crash):
        dr.recovery(holder="runner-1").run(FAILOVER, CONTEXT, actor="alice")
    dr.store.kill_at = None
    dr.store.killed = False
    with pytest.raises(RecoveryRefusedError) as refused:
        dr.recovery(holder="runner-2").run(FAILOVER, CONTEXT, actor="alice")
    assert refused.value.refusal.rule == "recovery-in-progress"
    dr.clock.sleep(timedelta(hours=1).total_seconds())  # the lease ran out
    assert dr.recovery(holder="runner-2").run(FAILOVER, CONTEXT, actor="alice").completed is not None


def test_a_resumed_operation_deploys_the_versions_it_started_with(streams: Streams) -> None:
    dr = region(streams, prometheus=Prometheus(healthy=False))
    with pytest.raises(RecoveryStepError):
        dr.recovery().run(FAILOVER, CONTEXT, actor="alice")
    # meanwhile a newer fn-posts reached production: the open operation keeps what it started with
    dr.store.streams["fn-posts"] = released("fn-posts", "1.9.0")
    dr.prometheus = Prometheus(healthy=True)
    operation = dr.recovery().run(FAILOVER, CONTEXT, actor="alice")
    assert operation.versions()["production"]["fn-posts"] == "1.4.0"
    assert dr.images()[f"{NAMESPACE}/fn-posts"].endswith(":1.4.0")


def test_without_gke_cluster_the_cluster_step_is_skipped_saying_why(streams: Streams) -> None:
    from .fakes import PLATFORM

    dr = region(streams, platform=attrs.evolve(PLATFORM, gke_cluster=None))
    operation = dr.recovery().run(DRILL, CONTEXT, actor="alice")
    cluster = operation.timings()[0]
    assert cluster.skipped
    assert "no gke_cluster" in cluster.detail[0]


@attrs.frozen
class _Backup:
    path: str
    taken_at: datetime
    newest_event_at: datetime | None
    streams: dict[str, int]


def test_the_rpo_is_the_newest_backups_age_and_the_events_recorded_after_it(streams: Streams) -> None:
    dr = region(streams)
    held = {"fn-posts": len(streams["fn-posts"]) - 3, "fn-notifications": len(streams["fn-notifications"])}
    backup = _Backup("backups/state-1.json", dr.clock.current - timedelta(minutes=3), None, held)
    operation = dr.recovery().run(DRILL, CONTEXT, actor="alice", backup=backup)
    started = operation.started
    assert started.backup == "backups/state-1.json"
    assert started.backup_age_seconds == (started.at - backup.taken_at).total_seconds()
    assert started.backup_age_seconds >= 180.0
    assert started.events_after_backup == 3  # fn-posts's last three: the recovery stream was empty at the start


@pytest.mark.parametrize("kill_at", [3, 4, 5])
def test_a_simulated_drill_killed_after_deploying_resumes_on_the_simulation_rebuilt_from_its_record(
    kill_at: int,
) -> None:
    import contextlib

    from findly_infra.adapters.memory import SimulatedCluster
    from findly_infra.bootstrap import Settings, open_runtime
    from findly_infra.bootstrap.recovery import open_recovery

    from .fakes import PLATFORM, KillableStore

    store = KillableStore(streams=_released(), kill_at=kill_at)

    def drill() -> object:
        with contextlib.ExitStack() as stack:
            runtime = stack.enter_context(
                open_runtime(Settings(state="memory://"), PLATFORM, store=store, cluster=SimulatedCluster())
            )
            recovery, target = open_recovery(runtime_settings, PLATFORM, runtime, stack, kind=DRILL, simulate=True)
            return recovery.run(DRILL, target, actor="alice")

    runtime_settings = Settings(state="memory://")
    with pytest.raises(Crash):
        drill()
    store.kill_at = None
    operation = drill()
    assert operation.completed is not None  # type: ignore[attr-defined]
    ready = next(t for t in operation.timings() if t.step is RecoveryStep.READY)  # type: ignore[attr-defined]
    assert ready.detail == ("4 Deployments Ready",)


def test_with_max_error_rate_a_service_erring_above_it_is_not_healthy_and_no_traffic_is_no_failure(
    streams: Streams,
) -> None:
    from findly_infra.domain.notation import Percentage

    from .fakes import PLATFORM

    failover = PLATFORM.failover
    assert failover is not None
    health = attrs.evolve(failover.health, max_error_rate=Percentage.parse("1%"))
    platform = attrs.evolve(PLATFORM, failover=attrs.evolve(failover, health=health))
    dr = region(streams, platform=platform)
    assert dr.prometheus is not None
    dr.prometheus.samples["errors fn-posts production"] = [0.05]  # 5%: above 1%
    dr.prometheus.samples["errors fn-notifications production"] = []  # no requests: not a failure

    def recovery() -> object:
        made = dr.recovery()
        made.error_rate = lambda service, environment: f"errors {service} {environment}"
        return made

    with pytest.raises(RecoveryStepError, match=r"fn-posts \(error rate 0.0500 above 1%\)"):
        recovery().run(FAILOVER, CONTEXT, actor="alice")  # type: ignore[attr-defined]
    assert dr.record() == PRIMARY
    dr.prometheus.samples["errors fn-posts production"] = [0.001]
    operation = recovery().run(FAILOVER, CONTEXT, actor="alice")  # type: ignore[attr-defined]
    assert operation.completed is not None
    assert dr.record() == DR


def test_dns_never_moves_to_a_dr_region_that_serves_nothing() -> None:
    # dr#2 / user#1: an empty (or wrong, or not yet restored) state deploys nothing: DNS is not switched
    dr = region({})
    with pytest.raises(RecoveryRefusedError) as refused:
        dr.recovery(allow_partial=True).run(FAILOVER, CONTEXT, actor="alice")
    assert refused.value.refusal.rule == "dr-serves-nothing"
    assert dr.record() == PRIMARY
    assert len(dr.dns.changes) == 0
    opened = dr.recovery().open()
    assert opened is not None
    assert opened.next_step is RecoveryStep.DNS
    assert opened.failing is not None
    assert "dr-serves-nothing" in opened.failing.message


def test_dns_is_not_switched_with_services_skipped_unless_allow_partial(streams: Streams) -> None:
    dr = region(streams)  # fn-matcher has no good version: skipped
    with pytest.raises(RecoveryRefusedError) as refused:
        dr.recovery(allow_partial=False).run(FAILOVER, CONTEXT, actor="alice")
    assert refused.value.refusal.rule == "dr-partial"
    assert "production/fn-matcher" in str(refused.value)
    assert "--allow-partial" in str(refused.value)
    assert dr.record() == PRIMARY
    operation = dr.recovery(allow_partial=True).run(FAILOVER, CONTEXT, actor="bob")
    assert operation.completed is not None
    assert dr.record() == DR
    assert any(line.startswith("--allow-partial (by bob)") for line in operation.timings()[-1].detail)


def test_dns_is_not_switched_when_health_was_not_checked_unless_no_health_check(streams: Streams) -> None:
    # dr#3: an unconfigured gate refuses (DESIGN.md "Lessons", Keptn #2277)
    dr = region(streams, prometheus=None)
    with pytest.raises(RecoveryRefusedError) as refused:
        dr.recovery().run(FAILOVER, CONTEXT, actor="alice")
    assert refused.value.refusal.rule == "health-unchecked"
    assert dr.record() == PRIMARY
    assert len(dr.dns.changes) == 0
    recovery = dr.recovery()
    recovery.no_health_check = True
    operation = recovery.run(FAILOVER, CONTEXT, actor="bob")
    assert operation.completed is not None
    assert dr.record() == DR
    assert any(line.startswith("--no-health-check (by bob)") for line in operation.timings()[-1].detail)


def test_a_rerun_with_another_platform_file_is_refused_and_deploys_nothing_new(streams: Streams) -> None:
    # dr#4 / dr#12: a rerun never deploys what the operation did not fix at its start
    dr = region(streams, prometheus=Prometheus(healthy=False))
    first = dr.recovery()
    first.platform_digest = "a" * 64
    with pytest.raises(RecoveryStepError):
        first.run(FAILOVER, CONTEXT, actor="alice")
    assert dr.recovery().open().started.platform_digest == "a" * 64  # type: ignore[union-attr]
    dr.prometheus = Prometheus(healthy=True)
    changed = dr.recovery()
    changed.platform_digest = "b" * 64
    with pytest.raises(RecoveryRefusedError) as refused:
        changed.run(FAILOVER, CONTEXT, actor="alice")
    assert refused.value.refusal.rule == "recovery-changed"
    assert "dr abandon" in str(refused.value)
    assert dr.record() == PRIMARY
    same = dr.recovery()
    same.platform_digest = "a" * 64
    assert same.run(FAILOVER, CONTEXT, actor="alice").completed is not None


def test_a_release_into_an_environment_that_fails_over_is_refused_while_a_failover_is_open(streams: Streams) -> None:
    # dr#7: with a failover open, `deploy fn-posts 2.0.0 --env production` was accepted and then deadlocked its rerun
    from findly_infra.adapters.memory import ScenarioMetrics, SimulatedCluster
    from findly_infra.application.scenarios import SCENARIOS
    from findly_infra.application.service import PipelineService, PolicyRefusedError

    dr = region(streams, prometheus=Prometheus(healthy=False))
    with pytest.raises(RecoveryStepError):
        dr.recovery().run(FAILOVER, CONTEXT, actor="alice")
    pipelines = PipelineService(
        dr.platform, dr.store, dr.clock, ScenarioMetrics(SCENARIOS["healthy"]), SimulatedCluster(), wall=dr.clock
    )
    with pytest.raises(PolicyRefusedError) as refused:
        pipelines.deploy("fn-posts", "2.0.0", "production", actor="erin")
    assert refused.value.refusal.rule == "failover-in-progress"
    assert "dr abandon" in str(refused.value)
    dr.recovery().abandon(actor="alice", reason="tested")
    with pytest.raises(PolicyRefusedError) as other:  # ended: the release's own rules decide again
        pipelines.deploy("fn-posts", "2.0.0", "production", actor="erin")
    assert other.value.refusal.rule != "failover-in-progress"
