"""Every port of one command, built from the settings and the platform file (:func:`open_runtime`, the front door),
and closed together."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import attrs

from findly_infra.application.evidence import ReportReader
from findly_infra.application.notify import Notifications
from findly_infra.application.ports import (
    AdvancingClock,
    BadInputError,
    Clock,
    ErrorBudgets,
    EventStore,
    MetricsRecord,
    MetricsSource,
    Notifier,
    SLOReports,
    TimeKeepingStore,
    Workloads,
)
from findly_infra.application.redaction import redact_url
from findly_infra.application.scenarios import SCENARIOS
from findly_infra.application.service import PipelineService, rehearsal_refusal
from findly_infra.application.simulation import ScenarioSource
from findly_infra.application.timekeeping import SKEW, TimeMode, time_for, virtual_start
from findly_infra.bootstrap.clusters import bound_environments, workloads_for
from findly_infra.bootstrap.google import LazySecrets, release_gated
from findly_infra.bootstrap.identity import dead_here, proof_verifier, runner_identity
from findly_infra.bootstrap.notify import notifications_for
from findly_infra.bootstrap.prometheus import prometheus_client
from findly_infra.bootstrap.settings import Settings, refuse_throwaway_state
from findly_infra.bootstrap.stores import is_postgres, open_store, sqlite_path
from findly_infra.domain.notifications import Receiver
from findly_infra.domain.platform import Platform

__all__ = ["Runtime", "open_runtime", "rollouts_affected", "time_mode"]


@attrs.define
class Runtime:
    """Every port of one command, built and ready, and closed together (use it as a context manager)."""

    platform: Platform
    service: PipelineService
    clock: Clock
    virtual: AdvancingClock | None
    """The clock when time is virtual (scripted metrics, replays); ``None`` on the real clock."""
    scenarios: ScenarioSource | None
    """The scripted metrics when no Prometheus serves (``None``: live metrics)."""
    slo_reports: SLOReports | None
    metrics_record: MetricsRecord | None
    reports: ReportReader
    _stack: contextlib.ExitStack = attrs.field(repr=False)
    wall: Clock | None = None
    """The clock virtual time may not run ahead of (a durable store: no future timestamps); ``None``: no limit."""
    simulated: tuple[str, ...] = ()
    """What is simulated rather than real: ``"cluster"`` (no cluster is bound: traffic moves on the simulated
    cluster, nothing is deployed), ``"metrics"`` (no Prometheus is bound: scripted metrics judge the rollouts)."""
    scenario: str = "healthy"
    """The scripted scenario's name, when metrics are simulated."""
    bound: frozenset[str] = frozenset()
    """The environments bound to a real cluster (``kubernetes.clusters``): their traffic is not simulated."""
    notifications: Notifications | None = None
    """The notify use cases on the state's outbox (``None``: a state that keeps none, or a demo's)."""

    def simulated_in(self, environment: str) -> tuple[str, ...]:
        """What is simulated for a command in *environment* (not the cluster, where one is bound)."""
        return tuple(part for part in self.simulated if not (part == "cluster" and environment in self.bound))

    @property
    def live_metrics(self) -> bool:
        """Whether a Prometheus serves the analyses (else scripted metrics do)."""
        return self.scenarios is None

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def time_mode(
    settings: Settings,
    store: EventStore,
    wall: datetime,
    *,
    durable: bool,
    read_only: bool,
    before_keeping: Callable[[str], None] = lambda _why: None,
) -> tuple[TimeMode, datetime | None]:
    """The time a command runs on, and where a rehearsal's clock resumes (its latest event) when no ``--now``
    says. A writing command on a state that has not decided decides it (``application.timekeeping``) — after
    *before_keeping* is told why its time is virtual, when it is (it may refuse: the state then keeps nothing)."""
    if not durable:
        before_keeping("the state keeps nothing (memory://), so its time is virtual")
        return "virtual", None
    if not isinstance(store, TimeKeepingStore):
        given = time_for(None, settings.now, wall, where="(given)")
        if given == "virtual":
            before_keeping("--now / FINDLY_NOW makes this a rehearsal, in virtual time")
        return given, None
    where = redact_url(settings.state)
    kept = store.time_kept()
    if read_only:  # reads write nothing: --now only says when to look from
        mode = time_for(None, settings.now, wall, where=where) if kept is None or settings.now else kept
    else:
        mode = time_for(kept, settings.now, wall, where=where)
        if mode == "virtual":
            before_keeping(
                f"--state {where} keeps a rehearsal's virtual time (its first command gave --now)"
                if kept == "virtual"
                else "--now / FINDLY_NOW makes this a rehearsal, in virtual time"
            )
        if kept is None:  # this command decides; of two racing first commands, the first wins
            mode = time_for(store.keep_time(mode), settings.now, wall, where=where)
    resume = store.latest_time() if mode == "virtual" and settings.now is None else None
    return ("virtual" if mode == "virtual" else "wall"), resume


def open_runtime(
    settings: Settings,
    platform: Platform,
    *,
    service: str | None = None,
    scripted: bool = False,
    store: EventStore | None = None,
    cluster: Workloads | None = None,
    budgets: ErrorBudgets | None = None,
    read_only: bool = False,
    moves: str | None = None,
    notify: bool = True,
    notifier: Callable[[Receiver], Notifier] | None = None,
) -> Runtime:
    """Build every port a command needs, on the state the settings name (or the *store* and simulated *cluster*
    given).

    Metrics come from Prometheus when one is named, else from the scripted scenario (``scripted`` ignores
    any Prometheus); environments the platform file binds to a cluster act on it, the others on the simulated
    cluster kept in the state (``Runtime.simulated`` says what is simulated). Time is the real clock, except: from
    ``settings.now``
    (a replay) and on a store that keeps nothing (``memory://``), time is virtual — it moves as fast as the
    rollout asks, starts never before *service*'s latest event, and on a durable store never runs ahead
    of the real clock (``Runtime.wall``): no future timestamp is ever stored. With *read_only* (``status``,
    ``history``, the metrics commands), a state that does not exist is read as empty and nothing is created.

    Virtual time never moves a real cluster: the service refuses, in virtual time, every command that would move or
    converge the cluster of an environment the platform file binds (``RehearsalRefusedError``, exit 2). *moves*
    names the environment a command is about to move (deploy, rollout, the human gates): that refusal then comes
    before the state is opened (``--now``) or decides its time, so a refused rehearsal leaves nothing behind.

    Notifications (``Runtime.notifications``) are decided and kept on a durable state unless *notify* is false (the
    demo); *notifier* builds each receiver (default: ``bootstrap.notify.receiver_notifier``, reading its URL and keys
    from the environment or Secret Manager). A refused promotion is queued as it is refused.
    """
    from findly_infra.adapters.memory import MemoryEventStore, ScenarioMetrics, SystemClock, VirtualClock
    from findly_infra.adapters.reports import FileReports

    if settings.scenario not in SCENARIOS:
        raise BadInputError(f"unknown scenario {settings.scenario!r}; known: {', '.join(SCENARIOS)}")
    rehearsal: list[str] = []

    def before_keeping(why: str) -> None:  # time is virtual: a command that moves a bound cluster goes no further
        rehearsal.append(why)
        if moves is not None and service is not None and not read_only:
            refusal = rehearsal_refusal(platform, service, platform.environment(moves).name, why)
            if refusal is not None:
                raise refusal

    wall = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    if settings.now is not None and abs(settings.now - wall) > SKEW:  # a rehearsal: refused before any state opens
        before_keeping("--now / FINDLY_NOW makes this a rehearsal, in virtual time")
    stack = contextlib.ExitStack()
    try:
        if store is None or cluster is None:
            if not read_only:  # a job's throwaway state: refused before it is created
                refuse_throwaway_state(settings)
            store, cluster = open_store(settings.state, stack, create=not read_only, timeout=settings.state_timeout)
        prometheus = None if scripted else prometheus_client(settings, platform, stack)
        durable = not isinstance(store, MemoryEventStore)
        mode, resume = time_mode(
            settings, store, wall, durable=durable, read_only=read_only, before_keeping=before_keeping
        )
        start = settings.now if settings.now is not None and mode == "virtual" else resume or wall
        virtual = VirtualClock(start) if mode == "virtual" else None
        clock: Clock = virtual or SystemClock()
        scenarios: ScenarioMetrics | None = None
        metrics: MetricsSource
        slo_reports = record = None
        if prometheus is None:
            metrics = scenarios = ScenarioMetrics(SCENARIOS[settings.scenario])
        else:
            from findly_infra.adapters.prometheus import PrometheusBudgets, PrometheusMetrics

            window = timedelta(milliseconds=platform.prometheus.window.milliseconds)
            metrics = record = PrometheusMetrics(prometheus, platform.metrics, window)
            slo_reports = PrometheusBudgets(prometheus, platform.metrics, platform.slo_definitions)
            budgets = budgets or slo_reports
        state_file = None if is_postgres(settings.state) else sqlite_path(settings.state)
        workloads = workloads_for(
            platform,
            cluster,
            settings.kube_context,
            history=lambda name: store.load(name)[0],
            gitops_cache=state_file.parent / "gitops" if state_file is not None else None,
        )
        pipelines = PipelineService(
            platform,
            store,
            clock,
            metrics,
            workloads,
            budgets,
            secrets=LazySecrets(platform) if release_gated(platform) else None,
            holder=runner_identity() if durable else "",
            dead=dead_here,
            wall=SystemClock(),
            lease_ttl=timedelta(seconds=settings.lease_seconds) if settings.lease_seconds else None,
            lease_setting="FINDLY_LEASE_SECONDS",
            rehearsal=(rehearsal[-1] if rehearsal else "time is virtual") if virtual is not None else None,
            proofs=proof_verifier(),
        )
        notifications = (
            notifications_for(
                platform,
                store,
                pipelines,
                SystemClock(),
                rehearsal=virtual is not None,
                notifier=notifier,
            )
            if notify and durable
            else None
        )
        if notifications is not None and not read_only:
            pipelines.refusals = notifications.refused
        if virtual is not None and service is not None:
            platform.service(service)
            virtual.current = virtual_start(start, pipelines.latest_time(service), wall)
        return Runtime(
            platform,
            pipelines,
            clock,
            virtual,
            scenarios,
            slo_reports,
            record,
            FileReports(),
            stack,
            wall=SystemClock() if durable and virtual is not None else None,
            simulated=("cluster",) + (("metrics",) if scenarios is not None else ()) + (("time",) if virtual else ()),
            scenario=settings.scenario,
            bound=frozenset(bound_environments(platform))
            | frozenset(binding.environment for binding in (platform.gitops.environments if platform.gitops else ())),
            notifications=notifications,
        )
    except BaseException:
        stack.close()
        raise


def rollouts_affected(settings: Settings, platform: Platform) -> list[str]:
    """What *platform* (a platform file about to be used) changes for the rollouts under way in the state the
    settings name — nothing when that state does not exist or keeps nothing. Read only."""
    if not is_postgres(settings.state):
        path = sqlite_path(settings.state)
        if path is None or not path.is_file():
            return []
    found: list[str] = []
    with open_runtime(settings, platform, read_only=True, scripted=True) as runtime:
        for service in platform.all_services:
            try:
                found += runtime.service.pipeline(service.name).affected_rollouts()
            except BadInputError as exc:  # a damaged stream: said, and the others still checked
                found.append(f"{service.name}: {exc}")
    return found
