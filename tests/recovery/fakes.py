"""What the recovery tests share: the example platform with its services released, the DR region's fakes that hold
state, a clock that moves only as told, and a store that can be killed at a chosen write."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from findly_infra import load_platform
from findly_infra.adapters.memory import MemoryClusters, MemoryDns, MemoryEventStore, ScenarioMetrics, SimulatedCluster
from findly_infra.adapters.simulated_dr import MemoryClusterObjects
from findly_infra.application.ports import RecordSet
from findly_infra.application.recovery import Recovery
from findly_infra.application.scenarios import SCENARIOS
from findly_infra.application.service import PipelineService
from findly_infra.bootstrap.recovery import dr_renderer
from findly_infra.domain import DeploymentPipeline, Event, Phase, Verdict
from findly_infra.domain.lease import Fence
from findly_infra.domain.platform import Platform
from tests.conftest import EXAMPLE

PLATFORM = load_platform(EXAMPLE)
T0 = datetime(2026, 11, 26, 9, 0, 0)
ZONE = "findly-now"
RECORD = "api.findly.now."
PRIMARY = ("203.0.113.10",)
DR = ("198.51.100.10",)


def released(
    service: str, version: str, *, platform: Platform = PLATFORM, upto: str = "production", finish: bool = True
) -> list[Event]:
    """The events of *version* of *service* released by the book through every environment up to *upto* (its
    rollout there left under way unless *finish*)."""
    events: list[Event] = []
    pipeline = DeploymentPipeline.start(platform, service)
    at = T0

    def do(decision: object) -> object:
        nonlocal pipeline
        found = decision.events  # type: ignore[attr-defined]
        pipeline = pipeline.apply_all(found)
        events.extend(found)
        return decision

    steps = (
        [step.name for step in platform.blue_green_strategy.validation_steps] if platform.blue_green_strategy else []
    )
    for env in platform.promotion_order:
        decision = do(pipeline.deploy(version, env, actor="erin", at=at))
        if decision.refusal is not None:  # type: ignore[attr-defined]
            for person in ("alice", "carol"):
                do(pipeline.approve(version, env, actor=person, at=at))
            do(pipeline.deploy(version, env, actor="erin", at=at))
        for suite in steps:
            do(pipeline.record_test(version, env, suite, True, actor="ci", at=at))
        for _ in range(50):
            rollout = pipeline.environments[env].rollout
            if not (finish or env != upto) or rollout is None or not rollout.phase.active:
                break
            at += timedelta(minutes=5)
            if rollout.phase is Phase.AWAITING_APPROVAL:
                for person in ("alice", "carol"):
                    do(pipeline.approve(version, env, actor=person, at=at))
                continue
            do(pipeline.analyze(env, Verdict.PASS, actor="findly", at=at))
        for suite in platform.environment(env).tests:
            do(pipeline.record_test(version, env, suite, True, actor="ci", at=at))
        if env == upto:
            break
    return events


@attrs.define
class Clock:
    """Time that moves only when told, plus *tick* at every reading (each step then takes a known time)."""

    current: datetime = T0 + timedelta(days=1)
    tick: timedelta = timedelta(seconds=1)

    def now(self) -> datetime:
        self.current += self.tick
        return self.current

    def sleep(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class Crash(BaseException):
    """The process killed: nothing after it runs (not even a ``finally`` that writes)."""


@attrs.define
class KillableStore(MemoryEventStore):
    """The memory store, killed at its *kill_at*-th append to the recovery stream (the append not made) — and, like a
    killed process, it gives up no lease."""

    kill_at: int | None = None
    appends: int = 0
    killed: bool = False

    def append(
        self, service: str, expected_version: int, events: Sequence[Event], *, fence: Fence | None = None
    ) -> int:
        if service == "_dr":
            self.appends += 1
            if self.kill_at is not None and self.appends == self.kill_at:
                self.killed = True
                raise Crash
        return super().append(service, expected_version, events, fence=fence)

    def release(self, service: str, environment: str, holder: str) -> None:
        if not self.killed:
            super().release(service, environment, holder)


@attrs.define
class Prometheus:
    """Instant queries answered from *samples* (expression -> values): none is no sample."""

    samples: dict[str, list[float]] = attrs.field(factory=dict)
    healthy: bool = True
    asked: list[str] = attrs.field(factory=list)

    def query(self, expression: str, at: datetime) -> list[tuple[Mapping[str, str], float]]:  # noqa: ARG002
        self.asked.append(expression)
        if expression in self.samples:
            return [({}, value) for value in self.samples[expression]]
        return [({}, 1.0)] if self.healthy else []


@attrs.define
class Region:
    """The DR region's fakes, and the primary region's event log."""

    store: KillableStore
    clock: Clock
    objects: MemoryClusterObjects = attrs.field(factory=MemoryClusterObjects)
    clusters: MemoryClusters = attrs.field(factory=MemoryClusters)
    dns: MemoryDns = attrs.field(factory=MemoryDns)
    prometheus: Prometheus | None = attrs.field(factory=Prometheus)
    platform: Platform = PLATFORM

    def recovery(
        self, holder: str = "runner-1", dead: Callable[[object], bool] = lambda _: False, *, allow_partial: bool = True
    ) -> Recovery:
        """The use case on these fakes. *allow_partial*: ``--allow-partial`` — fn-matcher is never released in most
        of these event logs, so a failover's DNS step would refuse (``dr-partial``) without it."""
        pipelines = PipelineService(
            self.platform,
            self.store,
            self.clock,
            ScenarioMetrics(SCENARIOS["healthy"]),
            SimulatedCluster(),
            wall=self.clock,
        )
        return Recovery(
            self.platform,
            self.store,
            self.clock,
            pipelines.view,
            lambda: self.objects,
            dr_renderer(self.platform),
            clusters=self.clusters,
            dns=self.dns,
            prometheus=self.prometheus,
            wait=self.clock.sleep,
            holder=holder,
            wall=self.clock,
            dead=dead,  # type: ignore[arg-type]
            driver=pipelines.driver,
            allow_partial=allow_partial,
        )

    def record(self) -> tuple[str, ...]:
        """What the failover's record holds now."""
        held = self.dns.read(ZONE, RECORD, "A")
        return held.rrdatas if held is not None else ()

    def images(self) -> dict[str, str]:
        """Each Deployment in the DR cluster, with the image it runs."""
        return {
            f"{space}/{name}": item["spec"]["template"]["spec"]["containers"][0]["image"]
            for (_, kind, space, name), item in self.objects.objects.items()
            if kind == "Deployment"
        }


def region(streams: Mapping[str, list[Event]] | None = None, **kwargs: object) -> Region:
    """A DR region beside an event log holding *streams*; the DNS record at its primary addresses."""
    store = KillableStore(streams={name: list(events) for name, events in (streams or {}).items()})
    made = Region(store, Clock(), **kwargs)  # type: ignore[arg-type]
    made.dns.add_zone(ZONE, RecordSet(RECORD, "A", 60, PRIMARY))
    return made


def nan() -> float:
    return math.nan
