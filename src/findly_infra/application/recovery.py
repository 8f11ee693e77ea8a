"""``dr failover`` and ``dr drill``: the platform brought back in the DR region, step by step, each step recorded in
the recovery stream (``domain.recovery``) — so that a run killed at any point is simply run again and goes on from
the step it had not finished.

The steps (``domain.recovery.STEPS``), each idempotent, so that a crash between a step's effect and its record only
makes the rerun do it again harmlessly:

- ``cluster``: the DR cluster brought to the file (``domain.gke.dr_cluster_spec``, planned and applied through the
  ``ClusterInfrastructure`` port: created when missing, nothing done when it already is as the file says);
- ``deploy``: each failover environment's objects applied server-side to the DR cluster (``apply_environment``:
  dry run first, prune), each service at its last good version — what serves there when no rollout holds it, read
  from the event log and fixed when the operation starts (a resumed run deploys the same). No rollout analysis:
  those versions already proved themselves where they serve. A service with no good version is reported, skipped;
- ``ready``: every Deployment Ready within ``failover.ready_timeout``;
- ``health``: each service's ``failover.health.query`` gives a sample >= 1 within ``health.timeout`` (no sample is
  not healthy); skipped, said plainly, where no Prometheus is bound;
- ``dns``: after health passed, every record of ``failover.dns`` read, then — a failover only — all of them switched
  from their primary to their DR data in ONE Cloud DNS change that names what it replaces (atomic: a record that is
  neither is refused unless forced, and then nothing is switched); a drill reads the zone the same way and fails
  where the failover would, and records what it would switch. Both report the longest TTL read: how long resolvers
  may keep answering the primary after the switch.

The operation takes the DR lease (service :data:`~findly_infra.domain.recovery.DR_STREAM`, environment
:data:`LEASE`) where the store keeps leases, and refuses while another runner holds it, while another operation is
open (``recovery-in-progress``), or while a rollout is under way in an environment that fails over
(``rollout-in-progress``: it would race the versions). Imports no adapter: every port is handed in.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import attrs

from findly_infra.application.ports import (
    BadInputError,
    Clock,
    ClusterInfrastructure,
    ClusterObjects,
    ConcurrencyError,
    DependencyError,
    DnsRecords,
    EventStore,
    LeaseLostError,
    Leases,
    RecordSet,
)
from findly_infra.application.service import PolicyRefusedError
from findly_infra.domain.errors import InvariantError
from findly_infra.domain.events import Event
from findly_infra.domain.gke import ClusterSpec
from findly_infra.domain.lease import Fence, Lease
from findly_infra.domain.platform import Platform
from findly_infra.domain.recovery import (
    DR_STREAM,
    FailoverSettings,
    RecoveryAbandoned,
    RecoveryCompleted,
    RecoveryKind,
    RecoveryOperation,
    RecoveryStarted,
    RecoveryStep,
    RecoveryStepDone,
    RecoveryStepFailed,
    admit,
    failover_environments,
    open_operation,
    operation_name,
    operations,
    same_dns_data,
)
from findly_infra.domain.refusal import Refusal
from findly_infra.domain.view import EnvironmentView

__all__ = [
    "LEASE",
    "SIMULATED",
    "BackupSeen",
    "InstantQueries",
    "Recovery",
    "RecoveryRefusedError",
    "RecoveryStepError",
    "Rpo",
    "dr_version",
    "read_primary",
    "refuse_bound_target",
]

LEASE = "failover"
"""The environment part of the DR lease's key (its service is :data:`DR_STREAM`): one failover or drill at a time."""
SIMULATED = "simulated"
"""The target of a drill on the simulated DR cluster."""
_CLUSTER_MILLISECONDS = 3_600_000
"""How long the cluster step may take: GKE's operations are waited for up to an hour (``adapters.gke``)."""
_RENEW_EVERY = timedelta(minutes=1)
"""How often the DR lease is renewed while the cluster step waits on GKE."""
_POLL_SECONDS = 5.0
"""How often the health check asks Prometheus again while it waits."""


class RecoveryRefusedError(PolicyRefusedError):
    """Raised when a recovery operation is refused by a rule (``refusal.rule``): another operation or a rollout holds
    the platform, a DNS record someone else changed. Nothing was switched (exit 3)."""


class RecoveryStepError(DependencyError):
    """Raised when a step failed (a dependency, a workload not ready, a health check not passed): the failure is
    recorded, the operation stays open, and running the command again resumes from that step."""

    def __init__(self, operation: str, step: RecoveryStep, message: str) -> None:
        super().__init__(
            f"{operation}: step {step.value} failed: {message} — the operation stays open: run the same command "
            "again to resume from this step (or `findly-infra dr abandon --reason TEXT`)"
        )
        self.operation = operation
        self.step = step


class InstantQueries(Protocol):
    """Prometheus's instant queries (``adapters.prometheus.PrometheusClient``): each sample's labels and value."""

    def query(self, expression: str, at: datetime) -> list[tuple[Mapping[str, str], float]]: ...


class BackupSeen(Protocol):
    """What the RPO is measured on: the newest state backup (``application.backup.BackupInfo``)."""

    @property
    def path(self) -> Any: ...

    @property
    def taken_at(self) -> datetime: ...

    @property
    def newest_event_at(self) -> datetime | None: ...

    @property
    def streams(self) -> Mapping[str, int]:
        """Each stream the backup holds, and its count of events."""
        ...


@attrs.frozen
class Rpo:
    """What a loss of the state at the operation's start would have cost: the newest backup's age beside the RPO
    target, and the events recorded after it."""

    backup: str
    age_seconds: float
    target_seconds: float | None
    events_after: int

    @property
    def within(self) -> bool | None:
        return None if self.target_seconds is None else self.age_seconds <= self.target_seconds


@attrs.define
class Recovery:
    """The DR use cases on the ports they need (the composition root, ``bootstrap.recovery``, builds them; tests
    pass fakes that hold state and a clock that advances)."""

    platform: Platform
    store: EventStore
    clock: Clock
    views: Callable[[str, str], EnvironmentView]
    """(service, environment) -> the environment's view as the event log says (``PipelineService.view``)."""
    objects: Callable[[], ClusterObjects]
    """The DR cluster's objects (the target's kubeconfig context, or the simulated DR cluster), reached on first
    use."""
    render: Callable[[str, Mapping[str, str]], Sequence[Mapping[str, Any]]]
    """(environment, {service: version}) -> the environment's objects as ``apply`` sends them
    (``bootstrap.recovery.dr_renderer``: ``render.objects.environment_objects`` + ``for_apply``)."""
    clusters: ClusterInfrastructure | None = None
    """GKE, where the DR cluster is brought to the file (``None``: the cluster step is skipped, saying why)."""
    dns: DnsRecords | None = None
    prometheus: InstantQueries | None = None
    error_rate: Callable[[str, str], str] | None = attrs.field(default=None, repr=False)
    """(service, environment) -> the PromQL of its error rate over the last minute (``failover.health
    .max_error_rate``; the composition root builds it as the analyses do)."""
    wait: Callable[[float], object] = attrs.field(default=time.sleep, repr=False)
    """Waits *seconds* between health polls (a test's clock advances instead)."""
    holder: str = ""
    """Who this process is, for the DR lease (empty: no lease taken — a state that keeps none)."""
    wall: Clock | None = attrs.field(default=None, repr=False)
    """The real clock, for leases (``None``: :attr:`clock`)."""
    dead: Callable[[Lease], bool] = attrs.field(default=lambda _: False, repr=False)
    driver: Callable[[str, str], Lease | None] = attrs.field(default=lambda _s, _e: None, repr=False)
    """(service, environment) -> the live lease of a rollout there (``PipelineService.driver``)."""
    project: str | None = None
    """The Google Cloud project of the DR cluster (``None``: the file's)."""
    no_cluster: str = ""
    preflight: Callable[[], object] | None = attrs.field(default=None, repr=False)
    """Checks run before a new operation is recorded (``bootstrap.recovery``: the extras, the target's kubeconfig
    context reached): bad input there records nothing."""
    platform_digest: str = ""
    """The platform file's digest (``bootstrap.recovery``): recorded when an operation starts, compared on a rerun."""
    allow_partial: bool = False
    """``--allow-partial``: a failover may switch DNS although services were skipped for want of a good version (said
    in the DNS step's detail, with the actor)."""
    no_health_check: bool = False
    """``--no-health-check``: a failover may switch DNS although health was not checked (no Prometheus bound; said in
    the DNS step's detail, with the actor)."""
    """Why the cluster step is skipped, when it is (``--no-cluster``; no ``gke_cluster`` in the file)."""
    _renewed: datetime | None = attrs.field(default=None, init=False)
    """When this runner last took or renewed the DR lease (the cluster step renews it while GKE works)."""
    _version: int = attrs.field(default=0, init=False)
    _fence: Fence | None = attrs.field(default=None, init=False)
    _actor: str = attrs.field(default="", init=False)
    _taken_over: list[str] = attrs.field(factory=list, init=False)
    """Leases taken over with ``--take-over`` in this run (recorded)."""
    _rollouts_left: tuple[str, ...] = attrs.field(default=(), init=False)
    _cache_seconds: int | None = attrs.field(default=None, init=False)
    """The DNS step's longest TTL read before the switch (:attr:`RecoveryStepDone.cache_seconds`)."""

    # ---- reading ------------------------------------------------------------------------------------------------

    @property
    def failover(self) -> FailoverSettings:
        if self.platform.failover is None:
            raise BadInputError(
                "the platform file has no failover: section (the DR cluster's context, the environments that fail "
                "over, the DNS records that move): docs/disaster-recovery.md shows one"
            )
        return self.platform.failover

    def operations(self) -> tuple[RecoveryOperation, ...]:
        """Every failover and drill recorded, oldest first."""
        events, _ = self.store.load(DR_STREAM)
        return operations(events)

    def open(self) -> RecoveryOperation | None:
        events, _ = self.store.load(DR_STREAM)
        return open_operation(events)

    def last_drill(self) -> RecoveryOperation | None:
        """The latest drill that completed (its measured figures go in the runbook)."""
        done = [op for op in self.operations() if op.kind is RecoveryKind.DRILL and op.completed is not None]
        return done[-1] if done else None

    @property
    def rto_target_seconds(self) -> float | None:
        recovery = self.platform.disaster_recovery
        return recovery.rto_target.seconds if recovery is not None else None

    @property
    def rpo_target_seconds(self) -> float | None:
        recovery = self.platform.disaster_recovery
        return recovery.rpo_target.seconds if recovery is not None else None

    # ---- the operations -----------------------------------------------------------------------------------------

    def run(
        self,
        kind: RecoveryKind,
        target: str,
        *,
        actor: str,
        backup: BackupSeen | None = None,
        force: bool = False,
        take_over: bool = False,
    ) -> RecoveryOperation:
        """Run a failover or a drill on *target* (a kubeconfig context, or :data:`SIMULATED`) to its end: a new
        one, or the open one of the same kind and target resumed from its next step. Raises
        :class:`RecoveryRefusedError` (nothing done) or :class:`RecoveryStepError` (the step's failure recorded,
        the operation open); returns the completed operation."""
        self.failover  # noqa: B018 - read for its refusal: no failover section, nothing to run
        self._refuse_bound_target(kind, target)
        environments = failover_environments(
            self.platform.failover,
            self.platform.promotion_order,
            [binding.environment for binding in self.platform.kubernetes.clusters],
        )
        self._taken_over = []
        self._actor = actor
        self._take_lease(take_over=take_over)
        try:
            self._rollouts_left = self._refuse_rollouts(environments, take_over=take_over)
            operation = self._admitted(kind, target, environments, actor=actor, backup=backup)
            while operation.next_step is not None:
                operation = self._step(operation, operation.next_step, actor=actor, force=force)
            if operation.completed is None:
                rto = operation.rto_seconds
                assert rto is not None  # every step is done
                self._append(
                    RecoveryCompleted(
                        **self._header(actor),
                        operation=operation.name,
                        rto_seconds=rto,
                        rto_target_seconds=self.rto_target_seconds,
                    )
                )
                operation = self._reload(operation.name)
            return operation
        finally:
            self._let_go()

    def _refuse_bound_target(self, kind: RecoveryKind, target: str) -> None:
        refuse_bound_target(self.platform, kind, target)

    def abandon(self, *, actor: str, reason: str, take_over: bool = False) -> RecoveryOperation:
        """End the open operation unfinished (``RecoveryAbandoned``), so that another may start. Refused (rule
        ``recovery-in-progress``) while a live runner still holds the DR lease, and (rule ``no-open-recovery``) when
        none is open. *take_over*: a person says the DR lease's holder is gone (recorded in the reason)."""
        self._taken_over = []
        self._take_lease(take_over=take_over)
        if self._taken_over:
            reason = f"{reason} (--take-over: {'; '.join(self._taken_over)})"
        try:
            events, self._version = self.store.load(DR_STREAM)
            current = open_operation(events)
            if current is None:
                raise RecoveryRefusedError(Refusal("no-open-recovery", "no failover or drill is open: nothing to end"))
            self._append(RecoveryAbandoned(**self._header(actor, reason), operation=current.name))
            return self._reload(current.name)
        finally:
            self._let_go()

    def rpo(self, backup: BackupSeen | None, at: datetime) -> Rpo | None:
        """The RPO as it stands at *at*: the newest backup's age, and the events the state recorded after it —
        each stream's events beyond the count the backup holds of it (every stream it holds, and those the
        platform names, the policy's and the recovery stream's)."""
        if backup is None:
            return None
        after = 0
        for stream in sorted(set(backup.streams) | set(self._streams())):
            _, length = self.store.load(stream, since=backup.streams.get(stream, 0))
            after += max(0, length - backup.streams.get(stream, 0))
        return Rpo(str(backup.path), max(0.0, (at - backup.taken_at).total_seconds()), self.rpo_target_seconds, after)

    # ---- how each step is taken ---------------------------------------------------------------------------------

    def _admitted(
        self,
        kind: RecoveryKind,
        target: str,
        environments: tuple[str, ...],
        *,
        actor: str,
        backup: BackupSeen | None,
    ) -> RecoveryOperation:
        events, self._version = self.store.load(DR_STREAM)
        at = self.clock.now()
        current = open_operation(events)
        superseding = kind is RecoveryKind.FAILOVER and current is not None and current.kind is RecoveryKind.DRILL
        if (current is None or superseding) and self.preflight is not None:
            self.preflight()  # what would fail at a step for want of a setup is said before anything is recorded
        if superseding:
            assert current is not None
            # a drill (failed, simulated, killed) never blocks the real failover: it is ended, saying by what
            self._append(
                RecoveryAbandoned(
                    **self._header(actor, f"superseded by failover {self._name(kind, events, at)}"),
                    operation=current.name,
                )
            )
            events, self._version = self.store.load(DR_STREAM)
        decided = admit(events, kind, target)
        if isinstance(decided, Refusal):
            raise RecoveryRefusedError(decided)
        if decided is not None:
            recorded = decided.started.platform_digest
            if recorded and self.platform_digest and recorded != self.platform_digest:
                raise RecoveryRefusedError(
                    Refusal(
                        "recovery-changed",
                        f"the {decided.kind.value} {decided.name} started with another platform file (or --project) "
                        f"than this run's (sha256 {recorded[:12]}… then, {self.platform_digest[:12]}… now): a rerun "
                        "deploys only what the operation fixed at its start. Run it again with the same file, or end "
                        "it (`findly-infra dr abandon --reason TEXT`) and start again",
                    )
                )
            return decided
        versions, skipped = self._last_good(environments)
        rpo = self.rpo(backup, at)
        name = self._name(kind, events, at)
        self._append(
            RecoveryStarted(
                **self._header(actor, at=at),
                operation=name,
                kind=kind,
                target=target,
                environments=environments,
                versions=versions,
                skipped=skipped,
                rollouts_left=self._rollouts_left,
                taken_over=tuple(self._taken_over),
                platform_digest=self.platform_digest,
                backup_age_seconds=rpo.age_seconds if rpo is not None else None,
                backup=rpo.backup if rpo is not None else "",
                events_after_backup=rpo.events_after if rpo is not None else None,
            )
        )
        return self._reload(name)

    def _name(self, kind: RecoveryKind, events: Sequence[Event], at: datetime | None = None) -> str:
        """The name of an operation of *kind* starting at *at* (now): unique among *events*' operations."""
        at = at or self.clock.now()
        taken = {operation.name for operation in operations(events)}
        name = operation_name(kind, at)
        suffix = 2
        while name in taken:  # two in one second: the second is told apart
            name = f"{operation_name(kind, at)}-{suffix}"
            suffix += 1
        return name

    def _last_good(self, environments: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Each service's last good version per environment (what serves when no rollout holds it: during a rollout
        the version it replaces, after a rollback the one it gave traffic back to), and the services with none."""
        versions, skipped = [], []
        for environment in environments:
            for service in self.platform.all_services:
                serving = self.views(service.name, environment).serving
                if serving is None:
                    skipped.append(f"{environment}/{service.name}")
                else:
                    versions.append(f"{environment}/{service.name}={serving.version}")
        return tuple(versions), tuple(skipped)

    def _step(self, operation: RecoveryOperation, step: RecoveryStep, *, actor: str, force: bool) -> RecoveryOperation:
        self._take_lease(step)  # renewed before each step: a step never outlives the lease it began under
        started = self.clock.now()
        steps: dict[RecoveryStep, Callable[[RecoveryOperation], tuple[bool, list[str]]]] = {
            RecoveryStep.CLUSTER: self._cluster,
            RecoveryStep.DEPLOY: self._deploy,
            RecoveryStep.READY: self._ready,
            RecoveryStep.HEALTH: self._health,
            RecoveryStep.DNS: functools.partial(self._dns, force=force),
        }
        try:
            skipped, detail = steps[step](operation)
            if self._taken_over:  # said once, in the first step this run records (the operation may be resumed)
                detail = [f"lease taken over (--take-over, by {actor}): {what}" for what in self._taken_over] + detail
                self._taken_over = []
        except RecoveryRefusedError as refused:
            self._failed(operation, step, started, str(refused), actor)
            raise
        except (DependencyError, BadInputError, ConcurrencyError) as exc:
            self._failed(operation, step, started, str(exc), actor)
            if isinstance(exc, (BadInputError, ConcurrencyError)):
                raise
            raise RecoveryStepError(operation.name, step, str(exc)) from exc
        self._append(
            RecoveryStepDone(
                **self._header(actor),
                operation=operation.name,
                step=step,
                started=started,
                detail=tuple(detail),
                skipped=skipped,
                cache_seconds=self._cache_seconds if step is RecoveryStep.DNS else None,
            )
        )
        return self._reload(operation.name)

    def _failed(
        self, operation: RecoveryOperation, step: RecoveryStep, started: datetime, message: str, actor: str
    ) -> None:
        self._append(
            RecoveryStepFailed(
                **self._header(actor), operation=operation.name, step=step, started=started, message=message[:2000]
            )
        )

    def dr_cluster(self, primary: ClusterSpec | None = None) -> ClusterSpec:
        """The DR cluster as the file describes it (``domain.gke.dr_cluster_spec``; with *primary*, created at its
        version and release channel). Bad input when the file names no DR region, or a zone its mapping leaves
        out."""
        from findly_infra.domain.gke import dr_cluster_spec

        recovery = self.platform.disaster_recovery
        if recovery is None or recovery.multi_region is None:
            raise BadInputError(
                "disaster_recovery.multi_region.dr_region names no DR region: the DR cluster has nowhere to be"
            )
        if self.platform.gke_cluster is None:
            raise BadInputError("the platform file has no gke_cluster section: there is no DR cluster to describe")
        try:
            return dr_cluster_spec(
                self.platform.gke_cluster,
                self.platform.cluster_autoscaler,
                self.failover,
                recovery.multi_region.dr_region,
                project=self.project,
                primary=primary,
            )
        except InvariantError as wrong:
            raise BadInputError(f"failover.cluster.{wrong.field or 'zones'}: {wrong}") from None

    def _cluster(self, operation: RecoveryOperation) -> tuple[bool, list[str]]:
        from findly_infra.domain.gke import plan_cluster

        if self.no_cluster:
            return True, [f"cluster not brought to the file: {self.no_cluster}"]
        if self.clusters is None or self.platform.gke_cluster is None:
            return True, ["cluster not brought to the file: the platform file has no gke_cluster section"]
        if operation.target not in (SIMULATED, self.failover.context):
            # the GKE cluster the file describes for the DR region is failover.context's: a drill on another
            # context must not create (or change) it
            return True, [
                f"cluster not brought to the file: the drill's target {operation.target} is not failover.context "
                f"({self.failover.context}), the DR cluster GKE holds — the target's cluster is taken as it is"
            ]
        desired = self.dr_cluster()
        observed = self.clusters.observe(desired.location, desired.name)
        version: list[str] = []
        if observed is None:  # to be created: at the primary's version and channel, where the primary can be read
            primary, why = read_primary(self.clusters, self.platform, self.project)
            desired = self.dr_cluster(primary)
            version = [dr_version(desired, why)]
        plan = plan_cluster(desired, observed)
        where = f"cluster {desired.name} ({desired.location})"
        # An empty plan is carried out all the same: the port waits for a cluster still being created (a killed
        # run's) until it runs. The DR lease is renewed while GKE works (a create takes minutes, a plan's operations
        # each up to their timeout): a step never outlives the lease it runs under.
        report = self.clusters.apply(plan, waiting=self._renew_cluster_lease)
        done = [f"done: {line}" for line in getattr(report, "done", ())]
        if plan.empty:
            return False, [f"{where}: already as the file says, nothing to change", *done]
        return False, [f"{where}: {'created' if plan.creates is not None else 'brought to the file'}", *version, *done]

    def objects_of(self, operation: RecoveryOperation, environment: str) -> list[dict[str, Any]]:
        """*environment*'s objects as applied to the DR cluster: at the operation's versions, without the services
        it has none for."""
        versions = operation.versions().get(environment, {})
        objects = self.render(environment, versions)
        # only the services the operation fixed at its start: one added to the file since is never deployed (its image
        # would be `:latest`); objects of no service (the namespace's) are kept
        return [
            dict(item)
            for item in objects
            if (app := (item["metadata"].get("labels") or {}).get("app")) is None or app in versions
        ]

    def _deploy(self, operation: RecoveryOperation) -> tuple[bool, list[str]]:
        from findly_infra.application.cluster_apply import apply_environment

        cluster = self.objects()
        detail = []
        for environment in operation.started.environments:
            namespace = self.platform.kubernetes.namespace_for(environment)
            report = apply_environment(cluster, self.objects_of(operation, environment), environment, namespace)
            versions = operation.versions().get(environment, {})
            shown = ", ".join(f"{service} {version}" for service, version in sorted(versions.items()))
            detail.append(f"{report.summary()}")
            detail.append(
                f"{environment}: {shown} — the last good versions, already proven there: no rollout analysis"
                if shown
                else f"{environment}: no service has a good version in the log: none of them deployed"
            )
        detail += [f"{pair}: no good version anywhere in the log — not deployed" for pair in operation.started.skipped]
        detail += list(operation.started.rollouts_left)
        return False, detail

    def _ready(self, operation: RecoveryOperation) -> tuple[bool, list[str]]:
        cluster = self.objects()
        deadline = self.clock.now() + timedelta(milliseconds=self.failover.ready_timeout.milliseconds)
        not_ready, count = [], 0
        for environment in operation.started.environments:
            for item in self.objects_of(operation, environment):
                if item.get("kind") != "Deployment":
                    continue
                count += 1
                left = max(1.0, (deadline - self.clock.now()).total_seconds())
                readiness = cluster.wait_ready(
                    str(item["metadata"]["namespace"]), item["metadata"]["name"], timeout=left
                )
                if not readiness.ready:
                    not_ready.append(f"{environment}/{item['metadata']['name']}: {readiness.reason or 'not ready'}")
        if not_ready:
            raise _NotReadyError(
                f"{len(not_ready)} of {count} Deployments not Ready within {self.failover.ready_timeout}: "
                + "; ".join(not_ready)
            )
        return False, [f"{count} Deployments Ready"]

    def _health(self, operation: RecoveryOperation) -> tuple[bool, list[str]]:
        if self.prometheus is None:
            return True, ["health not checked: no Prometheus bound"]
        health = self.failover.health
        deadline = self.clock.now() + timedelta(milliseconds=health.timeout.milliseconds)
        pending = {
            (environment, service): health.query.replace("$service", service).replace(
                "$namespace", self.platform.kubernetes.namespace_for(environment)
            )
            for environment, versions in operation.versions().items()
            for service in versions
        }
        said: dict[tuple[str, str], str] = {}
        ceiling = health.max_error_rate.ratio if health.max_error_rate is not None and self.error_rate else None
        while True:
            for key, expression in list(pending.items()):
                samples = self.prometheus.query(expression, self.clock.now())
                values = [value for _, value in samples]
                if not values or not all(not math.isnan(value) and value >= 1 for value in values):
                    said[key] = f"{min(values)}" if values else "no sample"
                    continue
                if ceiling is not None and self.error_rate is not None:
                    rate = self._error_rate(self.error_rate(key[1], key[0]))
                    if rate is not None and rate > ceiling:  # no requests (NaN, no sample): not a failure
                        said[key] = f"error rate {rate:.4f} above {health.max_error_rate}"
                        continue
                del pending[key]
            if not pending or self.clock.now() >= deadline:
                break
            self.wait(min(_POLL_SECONDS, max(0.0, (deadline - self.clock.now()).total_seconds())) or _POLL_SECONDS)
        if pending:
            raise _NotReadyError(
                f"not healthy within {health.timeout}: "
                + "; ".join(f"{env}/{service} ({said.get((env, service), 'no sample')})" for env, service in pending)
                + " — no sample is not healthy"
            )
        checked = sum(len(versions) for versions in operation.versions().values())
        detail = [f"{checked} services healthy: {health.query} >= 1 for each"]
        if ceiling is not None:
            detail.append(f"and each one's error rate over the last minute at most {health.max_error_rate}")
        return False, detail

    def _error_rate(self, expression: str) -> float | None:
        """The error rate *expression* reads now (``None``: no requests — NaN, or no sample)."""
        assert self.prometheus is not None
        values = [value for _, value in self.prometheus.query(expression, self.clock.now()) if not math.isnan(value)]
        return max(values) if values else None

    def _dns(self, operation: RecoveryOperation, *, force: bool) -> tuple[bool, list[str]]:
        """Every record of ``failover.dns`` read, then all of them switched in ONE Cloud DNS change (atomic: all or
        none). A drill reads the zone the same way and switches nothing: what would stop the failover's DNS step
        (a record at neither its primary nor its DR data, a routing-policy record, a permission missing) stops the
        drill's. Data is compared as Cloud DNS stores it (``domain.recovery.same_dns_data``), the TTL aside; the
        longest TTL read is how long resolvers may keep answering the primary (:attr:`_cache_seconds`)."""
        dns = self.failover.dns
        self._cache_seconds = None
        if dns is None:
            return True, ["traffic not switched: the failover section names no DNS records (failover.dns)"]
        drill = operation.kind is RecoveryKind.DRILL
        overridden = [] if drill else self._refuse_an_unsafe_switch(operation)
        if self.dns is None:
            if drill:
                return True, [
                    f"a drill switches nothing, and the zone was not read here (no Cloud DNS): would switch "
                    f"{record.name} {record.type} from {', '.join(record.primary)} to {', '.join(record.dr)} (zone "
                    f"{dns.zone})"
                    for record in dns.records
                ]
            raise BadInputError("no Cloud DNS is reachable here to switch failover.dns's records")
        read = [(record, self.dns.read(dns.zone, record.name, record.type)) for record in dns.records]
        switched = [
            record
            for record, current in read
            if current is not None and same_dns_data(record.type, current.rrdatas, record.dr)
        ]
        stray = [
            (record, current)
            for record, current in read
            if record not in switched
            and (current is None or not same_dns_data(record.type, current.rrdatas, record.primary))
        ]
        if stray and (drill or not force):
            said = "; ".join(
                f"{record.name} {record.type} holds "
                f"{', '.join(current.rrdatas) if current is not None else 'no such record'}: neither its primary "
                f"({', '.join(record.primary)}) nor its DR ({', '.join(record.dr)}) data"
                for record, current in stray
            )
            raise RecoveryRefusedError(
                Refusal(
                    "dns-record-changed",
                    f"in zone {dns.zone}: {said} — someone else changed it; "
                    + (
                        "a failover would stop here, at its DNS step: check it before you need to fail over"
                        if drill
                        else "nothing was switched (no record of failover.dns). Check it, then rerun with --force "
                        "to switch it"
                    ),
                )
            )
        moving = [(record, current) for record, current in read if record not in switched]
        ttls = [current.ttl for _, current in moving if current is not None]
        self._cache_seconds = max(ttls) if ttls else None
        cache = (
            f"resolvers may keep answering the primary for up to {self._cache_seconds} s after the switch (the "
            "longest TTL the zone held)"
            if self._cache_seconds is not None
            else ""
        )
        if drill:
            detail = [
                f"a drill switches nothing: would switch {record.name} {record.type} from "
                f"{', '.join(current.rrdatas) if current is not None else 'nothing'} to {', '.join(record.dr)} "
                f"(zone {dns.zone}, read: the failover's DNS step would pass)"
                for record, current in moving
            ]
            detail += [f"{record.name} {record.type}: already {', '.join(record.dr)}" for record in switched]
            return True, [*detail, *([cache] if cache else [])]
        self.dns.replace_all(
            dns.zone,
            [(current, RecordSet(record.name, record.type, record.ttl, record.dr)) for record, current in read],
        )  # ONE change: records already switched are left out of it (a rerun waits for it while pending)
        detail = [f"{record.name} {record.type}: already {', '.join(record.dr)} — nothing sent" for record in switched]
        detail += [
            f"{record.name} {record.type}: {', '.join(current.rrdatas) if current is not None else 'nothing'} -> "
            f"{', '.join(record.dr)}"
            for record, current in moving
        ]
        if moving:
            detail.append(f"{len(moving)} record(s) switched in one Cloud DNS change")
        return False, [*detail, *overridden, *([cache] if cache else [])]

    def _refuse_an_unsafe_switch(self, operation: RecoveryOperation) -> list[str]:
        """Before a failover's DNS moves: refused (nothing switched, the operation left open with the reason) when
        the DR region serves nothing (``dr-serves-nothing``: no service deployed at all, or in an environment, the
        latter unless ``--allow-partial``), when services were skipped for want of a good version (``dr-partial``,
        unless ``--allow-partial``), or when health was not checked (``health-unchecked``, unless
        ``--no-health-check``): an unconfigured gate refuses (DESIGN.md "Lessons", Keptn #2277). Returns what a
        person's flag let through, said in the step's detail."""
        actor = self._actor or operation.started.actor
        versions = operation.versions()
        empty = [environment for environment, deployed in versions.items() if not deployed]
        if not any(versions.values()):
            raise RecoveryRefusedError(
                Refusal(
                    "dr-serves-nothing",
                    "no service was deployed in the DR region (no good version in the log: is this the right state? "
                    "`state restore` first): DNS not switched. `findly-infra dr abandon --reason TEXT`, then start "
                    "again on the restored state",
                )
            )
        said = []
        if (empty or operation.started.skipped) and not self.allow_partial:
            missing = ", ".join(operation.started.skipped)
            raise RecoveryRefusedError(
                Refusal(
                    "dr-serves-nothing" if empty else "dr-partial",
                    (f"{', '.join(empty)}: no service deployed in the DR region; " if empty else "")
                    + f"not deployed (no good version): {missing} — DNS not switched. Run again with "
                    "--allow-partial to switch it all the same (recorded)",
                )
            )
        if empty or operation.started.skipped:
            said.append(
                f"--allow-partial (by {actor}): switched with {', '.join(operation.started.skipped)} not deployed"
            )
        health = next((done for done in operation.steps_done() if done.step is RecoveryStep.HEALTH), None)
        if health is not None and health.skipped:
            if not self.no_health_check:
                raise RecoveryRefusedError(
                    Refusal(
                        "health-unchecked",
                        "health was not checked (no Prometheus bound: --prometheus-url, FINDLY_PROMETHEUS_URL or "
                        "prometheus.url) — DNS not switched: an unchecked gate refuses. Bind one (then `dr abandon` "
                        "and start again), or run again with --no-health-check to switch it unchecked (recorded)",
                    )
                )
            said.append(f"--no-health-check (by {actor}): switched with health not checked")
        return said

    # ---- the stream, the lease, the rules -----------------------------------------------------------------------

    def _header(self, actor: str, reason: str = "", at: datetime | None = None) -> dict[str, Any]:
        """What every recovery event says: the recovery stream, no environment nor version, who, why, now."""
        when = at or self.clock.now()
        return {"service": DR_STREAM, "environment": "", "version": "", "actor": actor, "reason": reason, "at": when}

    def _append(self, event: Event) -> None:
        """Append *event* at the stream's version last read: another writer in between is a
        :class:`ConcurrencyError`, nothing written; a runner whose DR lease was taken over writes nothing
        (``LeaseLostError``)."""
        if self._fence is None:
            self._version = self.store.append(DR_STREAM, self._version, [event])
            return
        try:
            self._version = self.store.append(DR_STREAM, self._version, [event], fence=self._fence)
        except LeaseLostError as lost:
            self._fence = None  # not ours any more: nothing to give up
            raise RecoveryRefusedError(
                Refusal("recovery-in-progress", f"another runner took the DR lease over: {lost}")
            ) from None

    def _reload(self, name: str) -> RecoveryOperation:
        events, self._version = self.store.load(DR_STREAM)
        return next(operation for operation in operations(events) if operation.name == name)

    def _streams(self) -> list[str]:
        from findly_infra.domain.policy import POLICY_STREAM

        return [service.name for service in self.platform.all_services] + [POLICY_STREAM, DR_STREAM]

    def _leases(self) -> Leases | None:
        return self.store if self.holder and isinstance(self.store, Leases) else None

    def _now(self) -> datetime:
        return (self.wall or self.clock).now()

    def _take_lease(self, step: RecoveryStep | None = None, *, take_over: bool = False) -> None:
        """Take or renew the DR lease, for as long as *step* may take (the cluster step: GKE's hour for an operation;
        the others: the longest of the ready and health timeouts) and ten minutes more."""
        leases = self._leases()
        if leases is None:
            return
        failover = self.platform.failover
        longest = (
            max(failover.ready_timeout.milliseconds, failover.health.timeout.milliseconds) if failover else 600_000
        )
        if step is RecoveryStep.CLUSTER:
            longest = max(longest, _CLUSTER_MILLISECONDS)
        ttl = timedelta(milliseconds=longest) + timedelta(minutes=10)
        lease = leases.acquire(DR_STREAM, LEASE, self.holder, now=self._now(), ttl=ttl)
        if lease.holder != self.holder and (take_over or self.dead(lease)):
            if take_over:
                self._taken_over.append(f"{DR_STREAM}/{LEASE} from {lease.describe()}")
            lease = leases.acquire(DR_STREAM, LEASE, self.holder, now=self._now(), ttl=ttl, replacing=lease.holder)
        if lease.holder != self.holder:
            raise RecoveryRefusedError(
                Refusal(
                    "recovery-in-progress",
                    f"another failover or drill is running: {lease.describe()} holds the DR lease; wait for it to "
                    "end (`findly-infra dr status`), or — when you know that runner is gone (a crashed runner on "
                    "another machine) — run this again with --take-over (recorded)",
                )
            )
        if self._fence is not None and lease.fence(LEASE) != self._fence:
            self._fence = None  # taken over and back between two renewals: this runner's writes are not admitted
            raise RecoveryRefusedError(
                Refusal("recovery-in-progress", "another runner took the DR lease over meanwhile: this run stops")
            )
        self._fence = lease.fence(LEASE)
        self._renewed = self._now()

    def _renew_cluster_lease(self) -> None:
        """Renew the DR lease while the cluster step waits on GKE — at most once a minute (by the wall clock): the
        same holder and token (``domain.lease.lease_after``: a renewal keeps the token), so the fence this runner's
        writes carry stays admitted; a lease another runner took meanwhile is refused (``recovery-in-progress``)."""
        if self._leases() is None:
            return
        now = self._now()
        if self._renewed is not None and now - self._renewed < _RENEW_EVERY:
            return
        self._take_lease(RecoveryStep.CLUSTER)

    def _let_go(self) -> None:
        leases = self._leases()
        if leases is not None and self._fence is not None:
            leases.release(DR_STREAM, LEASE, self.holder)
        self._fence = None

    def _refuse_rollouts(self, environments: Sequence[str], *, take_over: bool = False) -> tuple[str, ...]:
        """Refuse (``rollout-in-progress``) while a rollout's lease is LIVE in an environment that fails over: someone
        drives it now, and the versions deployed would race it (``--take-over``, recorded: a person says that runner
        is gone). A rollout left under way (progressing, paused, awaiting approval) whose runner is gone does not
        block: in a lost region it can be neither aborted nor rolled back. It is left as recorded, and the failover
        deploys the version that served (:meth:`_last_good`). Returns what it leaves, per service."""
        left = []
        for environment in environments:
            for service in self.platform.all_services:
                view = self.views(service.name, environment)
                lease = self.driver(service.name, environment)
                active = view.rollout is not None and view.rollout.phase.active
                if lease is not None and not take_over:
                    raise RecoveryRefusedError(
                        Refusal(
                            "rollout-in-progress",
                            f"{service.name} is driven by {lease.describe()} in {environment}, which fails over: "
                            f"the versions deployed in the DR region would race it; let the rollout end (findly-infra "
                            f"rollout {service.name} --env {environment} --watch), or end it (abort / rollback), then "
                            "run this again — or, when you know its runner is gone, run this again with --take-over "
                            "(recorded)",
                        )
                    )
                if lease is not None:
                    self._taken_over.append(f"{service.name}/{environment} from {lease.describe()}")
                if active or lease is not None:
                    assert view.rollout is not None or lease is not None
                    what = (
                        f"rollout of {view.rollout.version} ({view.rollout.phase.value})"
                        if view.rollout is not None and active
                        else f"rollout driven by {lease.describe() if lease else 'another runner'}"
                    )
                    serving = view.serving.version if view.serving is not None else "no version"
                    left.append(
                        f"{environment}/{service.name}: {what} left as recorded; the failover deploys {serving}, "
                        "the version that served"
                    )
        return tuple(left)


def refuse_bound_target(platform: Platform, kind: RecoveryKind, target: str) -> None:
    """A drill's target must not be a cluster an environment runs on: the drill applies the failover environments'
    objects there WITH PRUNE — on the primary's own context it would prune production's live objects. Refused (bad
    input, exit 2) naming the binding of ``kubernetes.clusters`` that holds it; the CLI asks before it reaches any
    service, and :meth:`Recovery.run` again."""
    if kind is not RecoveryKind.DRILL or target == SIMULATED:
        return
    bound = [binding.environment for binding in platform.kubernetes.clusters if binding.context == target]
    if bound:
        spare = f"failover.context {platform.failover.context}, or a spare one" if platform.failover else "a spare one"
        raise BadInputError(
            f"--context {target}: kubernetes.clusters.{bound[0]} binds it to the {bound[0]} environment — a drill "
            "applies the failover environments' objects to its target with prune, which would replace and prune "
            f"what serves there; drill on a cluster no environment runs on ({spare})"
        )


def read_primary(
    clusters: ClusterInfrastructure, platform: Platform, project: str | None
) -> tuple[ClusterSpec | None, str]:
    """The file's (primary) cluster as GKE holds it — what the DR copy is created like (its version, its release
    channel) — or ``None`` and why not: it does not exist, or cannot be read (the region is lost: the reason a
    failover runs)."""
    if platform.gke_cluster is None:
        return None, "the platform file has no gke_cluster section"
    try:
        spec = ClusterSpec.of(platform.gke_cluster, platform.cluster_autoscaler, project=project)
        primary = clusters.observe(spec.location, spec.name)
    except (DependencyError, BadInputError, ValueError) as exc:
        return None, f"the primary cluster could not be read ({str(exc)[:300]})"
    if primary is None:
        return None, f"the primary cluster {spec.name} ({spec.location}) does not exist"
    return primary, ""


def dr_version(desired: ClusterSpec, why: str) -> str:
    """What version and channel the DR copy is created at, in a line, and why (the plan and the step say it)."""
    if desired.master_version:
        channel = f", in its {desired.release_channel} release channel" if desired.release_channel else ""
        return f"version: the primary's {desired.master_version}{channel} (so the regions do not drift)"
    return (
        f"version: GKE's default — the REGULAR release channel's default version — since {why}: it may differ from "
        "the primary's"
    )


class _NotReadyError(DependencyError):
    """Raised when the DR cluster's workloads are not Ready, or not healthy, in time."""
