"""The use cases: load a service's pipeline, ask the domain, store its events, drive the ports.

Every public method is what a command does; the command line is a thin layer over this class.
State changes are all-or-nothing: events are appended in one transaction at the version they were
decided on, and traffic is routed only after they are stored (a crash in between is repaired by
the next call, which routes to the state the events say). Each call reads the service's stream
once, and only the events it has not folded yet; no port ever calls back into the service.
"""

from __future__ import annotations

import contextlib
import functools
import random
import time
import typing
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

import attrs

from findly_infra.application.analysis import AnalysisReport, analyze_version
from findly_infra.application.gitops import GitOpsReading, HandOffPendingError
from findly_infra.application.integrity import ChainedStore
from findly_infra.application.policies import policy_digest
from findly_infra.application.ports import (
    AdvancingClock,
    BadInputError,
    Clock,
    ConcurrencyError,
    DependencyError,
    DependencyUnavailableError,
    ErrorBudgets,
    EventStore,
    LeaseLostError,
    Leases,
    MetricsSource,
    PagedStore,
    PolicyAnchor,
    PolicyAnchors,
    ProofVerifier,
    SecretStates,
    SnapshotStore,
    StateError,
    Workloads,
)
from findly_infra.application.snapshots import SNAPSHOT_EVERY, SNAPSHOT_PAGE, restore, say_refused, snapshot_text
from findly_infra.application.workloads import ClusterInspector, ClusterReading, TrackCleaner, WorkloadNotReadyError
from findly_infra.domain.cadence import cadence_anchor, next_analysis_at
from findly_infra.domain.cleanup import cleanup_due
from findly_infra.domain.environment import StrategyKind
from findly_infra.domain.events import (
    Event,
    RolledBack,
    RolloutAborted,
    RolloutPaused,
    RolloutSucceeded,
    TracksCleanedUp,
    Verdict,
)
from findly_infra.domain.gitops import GitOpsCommitted, GitOpsReverted
from findly_infra.domain.identifiers import actor_problem, name_problem, reason_problem, version_problem
from findly_infra.domain.identity import VerifiedIdentity
from findly_infra.domain.lease import Fence, Lease
from findly_infra.domain.pipeline import Decision, DeploymentPipeline, Refusal, override_reason
from findly_infra.domain.platform import Platform
from findly_infra.domain.policy import (
    POLICY_IN_FORCE,
    POLICY_STREAM,
    Adoption,
    PlatformPolicy,
    PolicyAdopted,
    PolicyReading,
    adopt,
    adoption_checks,
    read_policy,
)
from findly_infra.domain.proofs import ADOPT, ProofCheck, Proofs, Proven, Unproven, purpose_audience
from findly_infra.domain.secrets import secret_id, unavailable_for
from findly_infra.domain.state import HistoryError, Phase
from findly_infra.domain.tracks import Holding, expected_holding
from findly_infra.domain.view import EnvironmentView, stop_author

__all__ = [
    "Due",
    "NotRoutedError",
    "Outcome",
    "PipelineService",
    "PolicyRefusedError",
    "RehearsalRefusedError",
    "UnprovenEntryError",
    "check_input",
    "rehearsal_refusal",
    "timeline",
]


class NotRoutedError(DependencyError):
    """Raised when a change was recorded but the cluster could not be told: the record stands (it is not a failed
    change) and the next command on the service routes the cluster as recorded."""


class RehearsalRefusedError(BadInputError):
    """Raised when a command would move or converge a cluster the platform file binds while time is virtual (a
    rehearsal's ``--now``, a state that keeps a rehearsal's time, ``memory://``): virtual time moves as fast as a
    rollout asks, so an hour-long canary would run on real traffic in seconds. Nothing is recorded, nothing moved."""


def rehearsal_refusal(platform: Platform, service: str, environment: str, why: str) -> RehearsalRefusedError | None:
    """The refusal of a command on *service* that would move *environment*'s cluster in virtual time (*why* says why
    time is virtual), or ``None`` where the platform file binds no cluster to it: the simulated cluster follows any
    time."""
    binding = platform.kubernetes.cluster_for(environment)
    if binding is None and platform.gitops is not None and platform.gitops.binding(environment) is not None:
        return RehearsalRefusedError(
            f"{environment} is promoted through the GitOps repository (gitops.environments.{environment}: "
            f"{platform.gitops.repository}) and time is virtual here ({why}): a rollout would commit to it, and the "
            "controller deploy it, in seconds instead of the time its strategy takes; nothing was recorded or "
            f"committed. Rehearse on the simulated cluster instead (`findly-infra simulate {service} --env "
            f"{environment}`), or act in real time"
        )
    if binding is None:
        return None
    if binding.in_cluster:
        where = "the pod's service account"
    else:
        where = f"kubeconfig context {binding.context}" if binding.context else "the kubeconfig's current context"
    return RehearsalRefusedError(
        f"{environment} is bound to a cluster (kubernetes.clusters.{environment}: {where}) and time is virtual here "
        f"({why}): virtual time moves as fast as the rollout asks, so a rollout would move real traffic in seconds "
        "instead of the hours its strategy takes; nothing was recorded and the cluster was not touched. Rehearse on "
        f"the simulated cluster instead (`findly-infra simulate {service} --env {environment}`, or a platform file "
        f"without kubernetes.clusters.{environment}), or act on the cluster in real time (without --now, on a state "
        "that keeps real time)"
    )


class PolicyRefusedError(Exception):
    """Raised when the pipeline refuses a command; ``refusal.rule`` names the rule that refused."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"refused by {refusal.rule}: {refusal.message}")
        self.refusal = refusal


class UnprovenEntryError(PolicyRefusedError):
    """Raised before a real cluster is moved for a rollout whose entry its proofs do not prove (rule
    ``unproven-entry``): nothing is moved; rolling it back (or aborting it) still goes, as it moves traffic away."""


@attrs.frozen
class Outcome:
    """What a command left behind: the events it recorded and the environment's view after them."""

    events: tuple[Event, ...]
    view: EnvironmentView
    analysis: AnalysisReport | None = None
    """The analysis a rollout step made (``None`` for other commands)."""
    routed: bool = False
    """Whether the command moved traffic (told the cluster new routes)."""
    already: str | None = None
    """Set when the command asked for what already held (a retry): what holds; nothing new was recorded."""
    cluster_read: bool = True
    """Whether the command read the cluster (and brought it to the log) before deciding. Evidence does not — a test
    result, an approval of a promotion: it is recorded whether the cluster answers or not, and the next command that
    moves traffic brings the cluster to the log."""
    stopped_by: str | None = None
    """Set when a watch ends on a rollout that another command stopped (a person's pause, abort or rollback, or the
    step of the runner it followed): what stopped it, who, when and why."""

    @property
    def phase(self) -> Phase:
        return self.view.phase


@attrs.frozen
class Due:
    """What ``rollout --due`` left behind (:meth:`PipelineService.due`): *state* is ``progressing`` (steps remain:
    the next is due at *next_step_at*), ``ended`` (succeeded, rolled back or aborted: the view's phase says which),
    ``stopped`` (paused or awaiting a person), ``nothing_due`` (no rollout under way) or ``driven_elsewhere``
    (another runner holds the rollout's lease: *driver*)."""

    state: typing.Literal["progressing", "ended", "stopped", "nothing_due", "driven_elsewhere"]
    outcome: Outcome
    """The events this call recorded (every step's), the view after them, and the last step's analysis."""
    steps: int = 0
    """How many analyses this call carried out."""
    next_step_at: datetime | None = None
    driver: Lease | None = None


@functools.lru_cache(maxsize=256)
def check_input(
    *, version: str | None = None, actor: str | None = None, reason: str | None = None, suite: str | None = None
) -> None:
    """Refuse, as bad input, what cannot be recorded: a version that is not an image tag and a label value, an
    actor, suite or reason that is not one printable line (``domain.identifiers``). What passed is remembered (a
    watch checks its actor at every step); what is refused raises again each time."""
    problems = [
        version_problem(version) if version is not None else None,
        actor_problem(actor) if actor is not None else None,
        name_problem(suite, "suite") if suite is not None else None,
        reason_problem(reason) if reason is not None else None,
    ]
    found = [problem for problem in problems if problem is not None]
    if found:
        raise BadInputError("; ".join(found))


def _backoff(attempt: int) -> None:
    """Full jitter: a random wait of up to 5 ms * 2**(attempt - 1) (at most 0.32 s before the last attempt)."""
    time.sleep(random.uniform(0, 0.005 * 2 ** (attempt - 1)))


@attrs.define
class PipelineService:
    """Drives one platform's pipelines through the ports it is given (memory, SQLite, real clusters)."""

    platform: Platform
    store: EventStore
    clock: Clock
    metrics: MetricsSource
    cluster: Workloads
    """Where releases take effect: real clusters for the environments bound to one, the simulated cluster for the
    others (the composition root decides)."""
    budgets: ErrorBudgets | None = None
    secrets: SecretStates | None = None
    """With ``secret_management.release_gate``: where a rollout's secrets are checked before it starts."""
    attempts: int = 8
    """How many times a command decides again when another changed the service's stream meanwhile."""
    backoff: Callable[[int], object] = attrs.field(default=_backoff, repr=False)
    """Waits before attempt *n* + 1 (jittered, growing): racing commands do not collide again in lockstep."""
    holder: str = ""
    """Who this process is, for the rollout leases (``rollout --watch`` drives a rollout only while it holds its
    lease, where the store keeps leases); empty: no leases taken."""
    wall: Clock | None = attrs.field(default=None, repr=False)
    """The real clock, for leases (a rehearsal's virtual clock says nothing of whether a runner is alive)."""
    lease_ttl: timedelta | None = None
    """How long a lease lasts unless renewed (default: three analysis intervals, at least two minutes); a watch
    refuses one shorter than its rollout's analysis interval (the time between two renewals), as bad input."""
    lease_setting: str = "the lease"
    """Where ``lease_ttl`` was set, for that refusal (the composition root: ``FINDLY_LEASE_SECONDS``)."""
    idle: Callable[[float], object] = attrs.field(default=time.sleep, repr=False)
    """Waits, in real seconds, while another runner drives the rollout."""
    dead: Callable[[Lease], bool] = attrs.field(default=lambda _: False, repr=False)
    """Whether a lease's holder is known to be dead (a process of this machine that no longer runs): its lease is
    taken over at once rather than left to run out."""
    simulated_identities: bool = False
    """Whether the identities this service is given are a simulation's (issuer ``simulated``, proven by no token —
    ``simulate`` and ``demo``): their approvals are then counted as if that were the policy's issuer."""
    rehearsal: str | None = None
    """Why time is virtual, when the composition root built this service on virtual time (a rehearsal's ``--now``, a
    state that keeps a rehearsal's time, ``memory://``); ``None``: real time. In virtual time no command moves or
    converges a cluster the platform file binds (:class:`RehearsalRefusedError`); evidence and reads still go."""
    refusals: Callable[[str, str, str, Refusal], object] | None = attrs.field(default=None, repr=False)
    """Told of each refused promotion (service, environment, version, refusal) before it is raised: the composition
    root queues its notification (``application.notify``); a refusal is not an event of the log."""
    _cache: dict[str, DeploymentPipeline] = attrs.field(factory=dict, init=False, repr=False)
    _fences: dict[tuple[str, str], Fence] = attrs.field(factory=dict, init=False, repr=False)
    """The lease of each rollout this service drives now (a watch holding it): every write to it is fenced by it."""
    _snapshotted: dict[str, int] = attrs.field(factory=dict, init=False, repr=False)
    _views: dict[tuple[str, str], tuple[object, EnvironmentView, tuple[object, ...]]] = attrs.field(
        factory=dict, init=False, repr=False
    )
    """The view each decision left, with the environment's state it was built of and what of it the cluster follows
    (:func:`_traffic`): the next decision on that state starts from it (what it routes), instead of building it
    again."""
    _policies: list[PolicyAdopted] = attrs.field(factory=list, init=False, repr=False)
    """The policy stream as far as read (``domain.policy``)."""
    proofs: ProofVerifier | None = None
    """Checks the recorded tokens again when what they prove is counted (``domain.proofs``): the composition root
    builds it. ``None``: no token is checked, so no verified approval counts."""
    _digests: list[str] = attrs.field(factory=list, init=False, repr=False)
    _proven: dict[tuple[str, str, str], Proven | Unproven] = attrs.field(factory=dict, init=False, repr=False)
    _reading: tuple[tuple[int, PolicyAnchor | None], PolicyReading] | None = attrs.field(
        default=None, init=False, repr=False
    )
    _anchor_read: tuple[int, PolicyAnchor | None] | None = attrs.field(default=None, init=False, repr=False)
    _simulated: tuple[PlatformPolicy, PlatformPolicy] | None = attrs.field(default=None, init=False, repr=False)
    _verifying: tuple[PlatformPolicy, bool] | None = attrs.field(default=None, init=False, repr=False)
    """The judging policy, and whether any of its environments verifies identities (proofs are checked only then)."""
    _proposed: tuple[Platform, PlatformPolicy, str] | None = attrs.field(default=None, init=False, repr=False)
    """The platform file's policy and its digest, for the platform they were made of (made once, not per decision)."""

    # ---- reading ---------------------------------------------------------------------------

    def pipeline(self, service: str, versions: tuple[str, ...] = ()) -> DeploymentPipeline:
        """The service's pipeline as the store holds it now (with the records of *versions* read back where a bounded
        snapshot left them out)."""
        return self._load(service, versions)

    def _load(
        self, service: str, versions: tuple[str, ...] = (), reading: PolicyReading | None = None
    ) -> DeploymentPipeline:
        """The pipeline at the store's version (:meth:`_fold`), judged by the policy in force (*reading*: as the
        decision under way just read it; ``None``: read now)."""
        return self._judged(self._fold(service, versions), reading=reading)

    def _fold(self, service: str, versions: tuple[str, ...] = ()) -> DeploymentPipeline:
        """The pipeline at the store's version, reading and folding only the events not yet folded — with the
        records of *versions* (those the command names) and of the versions its environments hold read back where
        a bounded snapshot left them out (:meth:`_read_back`)."""
        cached = self._cache.get(service)
        if cached is None:
            cached = DeploymentPipeline.start(self.platform, service)  # raises UnknownNameError
            cached = self._snapshot(service) or cached
        events, version = self.store.load(service, since=cached.version)
        if version < cached.version:  # the stream is shorter than what we folded: start again
            cached = DeploymentPipeline.start(self.platform, service)
            events, version = self.store.load(service)
        pipeline = cached
        for event in events:
            try:
                pipeline = pipeline.apply(event)
            except HistoryError as exc:
                raise StateError(
                    f"{service}'s history cannot be read past event {pipeline.version} ({event.type} in "
                    f"{event.environment} at {event.at.isoformat()}): {exc}; `findly-infra history {service}` shows "
                    "what came before; the other services are not affected"
                ) from None
        pipeline = self._read_back(pipeline, versions)
        self._cache[service] = pipeline
        return pipeline

    def _read_back(self, pipeline: DeploymentPipeline, versions: tuple[str, ...] = ()) -> DeploymentPipeline:
        """*pipeline* with the records a bounded snapshot left out of *versions* and of the versions its environments
        hold (``DeploymentPipeline.unread``): one indexed read of the stream each, usually none."""
        for version in pipeline.unread(versions):  # a pipeline holds less only when it came from a snapshot store
            store = typing.cast(SnapshotStore, self.store)
            pipeline = pipeline.with_records(version, store.records(pipeline.service, version, pipeline.records_before))
        return pipeline

    def _snapshot(self, service: str) -> DeploymentPipeline | None:
        """The service's latest snapshot, where the store keeps them and it may be trusted: read with the event it
        folds up to (one indexed read) and refused unless that event seals it (``application.snapshots.trusted``).
        A refused one is said on stderr, not used, and rebuilt by the next write."""
        if not isinstance(self.store, SnapshotStore):
            return None
        kept = self.store.load_snapshot(service)
        if kept is None:
            return None
        pipeline = restore(self.platform, service, kept)
        if isinstance(pipeline, str):
            say_refused(service, kept.snapshot.version, pipeline)
            self._snapshotted[service] = -SNAPSHOT_EVERY  # so that the next write rebuilds it, whatever the stream
            return None
        # a snapshot of an older format that still reads (every version's records) is replaced by the next write
        self._snapshotted[service] = pipeline.version if pipeline.held is not None else -SNAPSHOT_EVERY
        return pipeline

    def _maybe_snapshot(self, pipeline: DeploymentPipeline) -> None:
        """After a write, a new snapshot once the stream has run :data:`SNAPSHOT_EVERY` events past the last (or at
        once when the last was refused) — best effort: the events are recorded whatever happens to it."""
        if pipeline.version - self._snapshotted.get(pipeline.service, 0) < SNAPSHOT_EVERY:
            return  # first: isinstance of a Protocol is slow, and this runs at every decision
        if not isinstance(self.store, SnapshotStore):
            self._snapshotted[pipeline.service] = pipeline.version  # nothing kept: ask again SNAPSHOT_EVERY later
            return
        with contextlib.suppress(DependencyError, BadInputError):
            pipeline = self._read_back(pipeline)
            self.store.save_snapshot(pipeline.service, pipeline.version, snapshot_text(pipeline))
            self._snapshotted[pipeline.service] = pipeline.version

    def save_snapshot(self, service: str) -> int:
        """Fold *service*'s whole stream, a page at a time, and keep it as its snapshot (``state snapshot``); the
        version it is at (0: a stream without events, nothing kept)."""
        self._cache.pop(service, None)
        pipeline = DeploymentPipeline.start(self.platform, service)
        for events in self.history_pages(service, page=SNAPSHOT_PAGE):  # bounded memory: a page and the pipeline
            pipeline = pipeline.apply_all(events)
        if pipeline.version:  # a stream without events has nothing to snapshot
            if not isinstance(self.store, SnapshotStore):
                raise BadInputError("this state keeps no snapshots (memory://)")
            self.store.save_snapshot(service, pipeline.version, snapshot_text(pipeline))
        self._snapshotted[service] = pipeline.version
        return pipeline.version

    def history(self, service: str) -> list[Event]:
        self.platform.service(service)
        return self.store.load(service)[0]

    def history_pages(self, service: str, *, last: int | None = None, page: int = 1000) -> Iterator[list[Event]]:
        """The service's events, oldest first, a page at a time (only the *last* ones with *last*): a history of any
        length is read in bounded memory. A damaged record raises :class:`StateError` when its page is read (its
        ``readable`` holds that page's events before it)."""
        self.platform.service(service)
        if not isinstance(self.store, PagedStore):
            events = self.store.load(service)[0]
            yield events[-last:] if last else events
            return
        _, version = self.store.page(service, 0, 0)
        since = max(0, version - last) if last else 0
        while since < version:
            events, version = self.store.page(service, since, page)
            if not events and since < version:  # the stream says it has them: never an empty or shorter history
                raise StateError(f"{service}'s events from {since} cannot be read, and the stream has {version}")
            yield events
            since += len(events)

    def view(self, service: str, environment: str) -> EnvironmentView:
        """What serves in *environment* now, what is rolling out, and what it waits for."""
        name = self.platform.environment(environment).name
        pipeline = self._load(service)
        return EnvironmentView.of(pipeline, name, pipeline.stamp(self.clock.now()))

    def status(self, service: str) -> tuple[EnvironmentView, ...]:
        """The view of every environment, in promotion order (one read of the stream)."""
        pipeline = self._load(service)
        at = pipeline.stamp(self.clock.now())
        names = (*self.platform.promotion_order, *pipeline.retired)  # retired ones last: their past stays readable
        return tuple(EnvironmentView.of(pipeline, name, at) for name in names)

    def latest_time(self, service: str) -> datetime | None:
        """The time of the service's latest event (virtual time never runs back before it)."""
        return self._load(service).updated

    def interval(self, service: str, environment: str) -> timedelta:
        """How often the rollout in *environment* is analysed (its strategy's interval)."""
        rollout = self._load(service).environments[environment].rollout
        return self._interval(environment, rollout.strategy if rollout else None)

    def _interval(self, environment: str, kind: StrategyKind | None) -> timedelta:
        strategy = self.platform.strategy_for(environment, kind)
        return timedelta(milliseconds=strategy.analysis.interval.milliseconds)

    # ---- commands --------------------------------------------------------------------------

    def deploy(
        self,
        service: str,
        version: str,
        environment: str,
        *,
        actor: str,
        strategy: StrategyKind | None = None,
        budget_override: str | None = None,
        budget_spent: bool = False,
        identity: VerifiedIdentity | None = None,
    ) -> Outcome:
        """Deploy or promote *version* into *environment* (the rules decide which is allowed).

        ``identity`` is how *actor* was verified (a GitHub Actions OIDC token, checked by the caller's
        ``IdentityProof``); an environment whose policy asks for verified people refuses a bare name.

        With an error-budgets port, the environment's budgets are read once every other rule allows the
        version in: a spent one refuses it (rule ``error-budget``) unless ``budget_override`` gives a
        reason. Budgets that cannot be read raise :class:`DependencyUnavailableError` (nothing is
        recorded) unless there is an override reason, which then records that they were unknown.
        """
        check_input(version=version, actor=actor, reason=budget_override)
        override = override_reason(budget_override)
        strategy = _strategy(strategy)

        def decide(pipeline: DeploymentPipeline, at: datetime, spent: bool, detail: str = "") -> Decision:
            return pipeline.deploy(
                version,
                environment,
                actor=actor,
                at=at,
                strategy=strategy,
                budget_spent=spent,
                budget_override=override,
                budget_detail=detail,
                identity=identity,
            )

        def gated(pipeline: DeploymentPipeline, at: datetime) -> Decision:
            decision = decide(pipeline, at, budget_spent)
            if decision.refusal is not None or budget_spent or self.budgets is None:
                return decision
            try:
                statuses = self.budgets.budgets(service, environment, at)
            except DependencyUnavailableError as exc:
                if override is None:
                    raise DependencyUnavailableError(
                        f"the error-budget gate cannot read {environment}'s budgets for {service}: {exc}; "
                        "try again, or promote with an override reason"
                    ) from None
                return decide(pipeline, at, True, f"budgets unknown: {exc}")
            spent = [status for status in statuses if status.exhausted]
            if spent:
                return decide(pipeline, at, True, "; ".join(status.describe() for status in spent))
            return decision

        def checked(pipeline: DeploymentPipeline, at: datetime) -> Decision:
            fenced = self._failover_open(environment)
            if fenced is not None:
                return Decision(refusal=fenced)
            decision = gated(pipeline, at)
            if decision.refusal is not None or not any(e.type == "rollout_started" for e in decision.events):
                return decision
            unavailable = self._unavailable_secrets(service, self.platform.environment(environment).name)
            if not unavailable:
                return decision
            return Decision(
                refusal=Refusal(
                    "secrets-present",
                    f"{service} reads {', '.join(unavailable)} in {environment}, which "
                    f"{'does' if len(unavailable) == 1 else 'do'} not exist or has no enabled version: no traffic "
                    "moved; create it (or enable a version) first",
                )
            )

        try:
            return self._decide(
                service, environment, checked, actor=actor, identity=identity, governs=True, versions=(version,)
            )
        except PolicyRefusedError as refused:
            if self.refusals is not None:
                with contextlib.suppress(Exception):  # telling of a refusal never changes it, nor fails it
                    self.refusals(service, environment, version, refused.refusal)
            raise

    def record_test(
        self, service: str, version: str, environment: str, suite: str, passed: bool, *, actor: str
    ) -> Outcome:
        """Record a test result. Evidence does not need the cluster: it is recorded without reading it (the next
        command that moves traffic brings the cluster to the log)."""
        check_input(version=version, actor=actor, suite=suite)
        return self._decide(
            service,
            environment,
            lambda p, at: p.record_test(version, environment, suite, passed, actor=actor, at=at),
            actor=actor,
            evidence=lambda _pipeline, _environment: True,
            versions=(version,),
        )

    def approve(
        self,
        service: str,
        version: str,
        environment: str,
        *,
        actor: str,
        group: str | None = None,
        identity: VerifiedIdentity | None = None,
    ) -> Outcome:
        """Approve *version* into *environment* (or its rollout's manual step) as *actor*, verified as *identity* where
        the environment's policy asks for it: the approval event then records the evidence. An approval of a promotion
        is evidence, recorded without reading the cluster; one of a rollout under way of *version* lets its manual step
        go on (or, retried, finds it gone on, perhaps killed before its route), so the cluster is brought to the log
        first (and refused in virtual time where one is bound)."""
        check_input(version=version, actor=actor)

        def of_a_promotion(pipeline: DeploymentPipeline, name: str) -> bool:
            rollout = pipeline.environments[name].rollout
            return rollout is None or not rollout.phase.active or rollout.version != version

        return self._decide(
            service,
            environment,
            lambda p, at: p.approve(version, environment, actor=actor, at=at, group=group, identity=identity),
            actor=actor,
            identity=identity,
            governs=True,
            evidence=of_a_promotion,
        )

    def pause(self, service: str, environment: str, *, actor: str, reason: str) -> Outcome:
        check_input(actor=actor, reason=reason)
        return self._decide(
            service, environment, lambda p, at: p.pause(environment, actor=actor, at=at, reason=reason), actor=actor
        )

    def resume(self, service: str, environment: str, *, actor: str, reason: str = "") -> Outcome:
        check_input(actor=actor, reason=reason)
        return self._decide(
            service, environment, lambda p, at: p.resume(environment, actor=actor, at=at, reason=reason), actor=actor
        )

    def abort(self, service: str, environment: str, *, actor: str, reason: str) -> Outcome:
        check_input(actor=actor, reason=reason)
        return self._decide(
            service,
            environment,
            lambda p, at: p.abort(environment, actor=actor, at=at, reason=reason),
            actor=actor,
            away=True,
        )

    def rollback(self, service: str, environment: str, *, actor: str, reason: str) -> Outcome:
        """Roll the rollout in *environment* back. The emergency path answers a repeat too: when the latest
        rollout is already rolled back or aborted, the cluster is brought to the log and the outcome (no new
        events) says so, instead of a refusal a retried job could not tell from failure."""
        check_input(actor=actor, reason=reason)
        try:
            current = self.reconcile(service, environment)
        except (UnprovenEntryError, HandOffPendingError):  # never moved for it (a pull request still open): goes on
            current = Outcome((), self.view(service, environment))
        except WorkloadNotReadyError as exc:  # a GitOps controller not there yet: the rollback needs nothing of it
            if exc.failed or not self._handed_off(environment):
                raise
            current = Outcome((), self.view(service, environment))
        if current.phase in (Phase.ROLLED_BACK, Phase.ABORTED):
            return current
        return self._decide(
            service,
            environment,
            lambda p, at: p.rollback(environment, actor=actor, at=at, reason=reason),
            actor=actor,
            away=True,
        )

    def return_to(self, service: str, environment: str, version: str, *, actor: str, reason: str) -> Outcome:
        """Return *environment* to *version* (``DeploymentPipeline.return_to``: a release returning one of its parts):
        its rollout under way rolled back, or its latest success undone when it replaced *version*; no new approval,
        and a bound cluster is moved back only where *version*'s own entry is still proven. Asked again: ``already``
        (the cluster brought to the log)."""
        check_input(version=version, actor=actor, reason=reason)
        return self._decide(
            service,
            environment,
            lambda p, at: p.return_to(environment, version, actor=actor, at=at, reason=reason),
            actor=actor,
            away=True,
            versions=(version,),
        )

    def step(
        self, service: str, environment: str, *, actor: str, version: str | None = None, leased: bool = False
    ) -> Outcome:
        """One analysis of the rollout in *environment*, at the clock's time, and what it leads to (with
        *version*: refused, rule ``rollout-version``, when the rollout under way is of another version; while
        another runner's watch holds the rollout's lease: refused, rule ``rollout-lease``)."""
        check_input(actor=actor, version=version)
        other = None if leased else self.driver(service, environment)
        if other is not None and other.holder != self.holder:
            raise PolicyRefusedError(
                Refusal("rollout-lease", f"the rollout in {environment} is driven by {other.describe()}")
            )
        report: AnalysisReport | None = None

        def analyze(pipeline: DeploymentPipeline, at: datetime) -> Decision:
            nonlocal report
            rollout = pipeline.environments[environment].rollout
            if version is not None and rollout is not None and rollout.phase.active and rollout.version != version:
                message = f"the rollout under way in {environment} is of {rollout.version}, not {version}"
                return Decision(refusal=Refusal("rollout-version", message))
            if rollout is None or rollout.phase is not Phase.PROGRESSING:
                return pipeline.analyze(environment, Verdict.INCONCLUSIVE, actor=actor, at=at)  # refused
            report = analyze_version(
                self.platform,
                self.metrics,
                service=service,
                environment=environment,
                version=rollout.version,
                at=at,
                current=rollout.previous,
                strategy=rollout.strategy,
                rollout_started=rollout.started,
                tolerate_outage=True,
            )
            return pipeline.analyze(environment, report.verdict, actor=actor, at=at, readings=report.readings)

        return self._decide(service, environment, analyze, lambda: report, actor=actor)

    def watch(
        self,
        service: str,
        environment: str,
        *,
        actor: str,
        wait: Callable[[timedelta], object],
        on_step: Callable[[Outcome], None] | None = None,
        max_steps: int = 100_000,
        version: str | None = None,
        on_lease: Callable[[Lease], None] | None = None,
    ) -> Outcome:
        """Analyse every interval until the rollout ends or waits for a person; ``wait`` passes the time.

        ``on_step`` sees the state the watch starts from (an outcome without events), then every step.
        A rollout already stopped for a person is returned at once (its view says what would unblock it);
        where leases are kept (a ``holder`` is given and the store keeps them) the watch drives the rollout only while
        it holds its lease: another runner's watch follows the log (``on_lease`` sees who drives) and ends as the
        rollout does, or takes over where the log says once the driver's lease runs out;
        with no rollout under way there is nothing to watch, which is refused (rule ``rollout-progressing``) —
        unless *version* names the rollout expected: a watch of a rollout of *version* that already ended (a
        retried watch, killed after the rollout's last step) answers how it ended, with ``already`` saying so. A
        rollout of another version under way is refused (rule ``rollout-version``): it is not the one asked about.
        """
        if version is not None:
            check_input(version=version)
        outcome = self.reconcile(service, environment)
        rollout = outcome.view.rollout
        if version is not None and rollout is not None and rollout.version != version and outcome.phase.active:
            raise PolicyRefusedError(
                Refusal(
                    "rollout-version",
                    f"the rollout under way in {environment} is of {rollout.version}, not {version}",
                )
            )
        if not outcome.phase.active:
            if version is not None and rollout is not None and rollout.version == version:
                ended = f"the rollout of {version} in {environment} already ended: {rollout.phase.value}"
                return attrs.evolve(outcome, already=ended)
            latest = "" if rollout is None else f" (the latest, {rollout.version}, {rollout.phase.value})"
            raise PolicyRefusedError(
                Refusal("rollout-progressing", f"nothing to watch: no rollout is under way in {environment}{latest}")
            )
        kind = outcome.view.strategy
        interval = self._interval(environment, kind)  # the platform's strategies, read once a watch
        self._lease_ttl(environment, interval)  # before anything is taken
        if on_step is not None:
            on_step(outcome)  # where the watch starts from
        recorded: list[Event] = []
        followed = False
        try:
            for _ in range(max_steps):
                if outcome.phase is not Phase.PROGRESSING:
                    break
                same = outcome.view.strategy is kind  # a rollout keeps its strategy (another's may not)
                interval = interval if same else self._interval(environment, outcome.view.strategy)
                other = self._lead(service, environment, interval)
                if other is not None:  # another runner drives it: follow the log until it ends, or the lease runs out
                    if on_lease is not None:
                        on_lease(other)
                    left = (other.expires - self._wall()).total_seconds()  # look again when it may have run out
                    self.idle(min(max(left, 0.2), max(interval.total_seconds(), 1.0), 5.0))
                    outcome, followed = Outcome((), self.view(service, environment)), True
                    continue
                if followed:  # taken over: in virtual time, from where the other driver's log ends
                    self._catch_up(service)
                    followed = False
                wait(interval)
                stepped = self._drive(service, environment, actor=actor, version=version)
                outcome = Outcome((), self.view(service, environment)) if stepped is None else stepped
                recorded.extend(outcome.events)
                if on_step is not None:
                    on_step(outcome)
            return self._ended(service, environment, outcome, recorded)
        finally:
            self._let_go(service, environment)

    def _catch_up(self, service: str) -> None:
        """A runner that takes a rollout over in virtual time goes on from the log's latest event, not from where its
        own clock stood while it followed (its next analysis would be stamped at an instant already analysed)."""
        latest = self.latest_time(service)
        if isinstance(self.clock, AdvancingClock) and latest is not None and self.clock.now() < latest:
            self.clock.advance(latest - self.clock.now())

    # ---- rollout --due: the steps due now, then return (a scheduled job comes back for the rest) -------------------

    def due(
        self,
        service: str,
        environment: str,
        *,
        actor: str,
        until: datetime,
        wait: Callable[[datetime], object],
        on_step: Callable[[Outcome], None] | None = None,
        version: str | None = None,
    ) -> Due:
        """Carry out every analysis of the rollout in *environment* that is due by *until* — one each analysis
        interval, counted from the latest (``domain.cadence``) — then return without waiting for the next one.

        ``wait(at)`` passes the clock to *at* before the step due then: a virtual clock moves there (so a rehearsal's
        steps fall on their own instants, as a watch's do); the real clock is waited for, and one already past *at*
        steps at once — an analysis reads the present, so the intervals a late call missed are analysed once, now,
        as a watch that fell behind does. Where leases are kept it drives only while it holds the rollout's lease:
        another runner's live lease ends the call (``driven_elsewhere``), nothing analysed. A rollout stopped for a
        person is returned at once (``stopped``); no rollout under way is ``nothing_due`` — with *version*, one of
        *version* that already ended answers how it ended (``already``), and another version's under way is refused
        (rule ``rollout-version``), as a watch does."""
        check_input(actor=actor, version=version)
        outcome = self.reconcile(service, environment)
        early = self._due_at_once(service, environment, outcome, version)
        if early is not None:
            return early
        interval = self._interval(environment, outcome.view.strategy)
        recorded: list[Event] = []
        last = outcome
        try:
            while last.phase is Phase.PROGRESSING:
                at = self.next_step_at(service, environment)
                if at is None:  # another command ended or stopped it meanwhile
                    last = Outcome((), self.view(service, environment))
                    break
                if at > until:
                    return Due("progressing", attrs.evolve(last, events=tuple(recorded)), _analyses(recorded), at)
                other = self._lead(service, environment, interval)
                if other is not None:
                    return Due("driven_elsewhere", attrs.evolve(last, events=tuple(recorded)), driver=other)
                wait(at)
                stepped = self._drive(service, environment, actor=actor, version=version)
                last = Outcome((), self.view(service, environment)) if stepped is None else stepped
                if stepped is None and last.phase is Phase.PROGRESSING:  # taken over while it waited
                    return Due(
                        "driven_elsewhere",
                        attrs.evolve(last, events=tuple(recorded)),
                        _analyses(recorded),
                        driver=self.driver(service, environment),
                    )
                recorded.extend(last.events)
                if on_step is not None and stepped is not None:
                    on_step(stepped)
            ended = attrs.evolve(self._ended(service, environment, last, recorded), events=tuple(recorded))
            return Due("stopped" if ended.phase.stopped_for_a_person else "ended", ended, _analyses(recorded))
        finally:
            self._let_go(service, environment)

    def _due_at_once(self, service: str, environment: str, outcome: Outcome, version: str | None) -> Due | None:
        """What ``due`` answers without a step: no rollout under way, one stopped for a person, one driven by another
        runner — or ``None``: steps may be due."""
        rollout = outcome.view.rollout
        if version is not None and rollout is not None and rollout.version != version and outcome.phase.active:
            message = f"the rollout under way in {environment} is of {rollout.version}, not {version}"
            raise PolicyRefusedError(Refusal("rollout-version", message))
        if not outcome.phase.active:
            if version is not None and rollout is not None and rollout.version == version:
                ended = f"the rollout of {version} in {environment} already ended: {rollout.phase.value}"
                return Due("ended", attrs.evolve(outcome, already=ended))
            return Due("nothing_due", outcome)
        if outcome.phase is not Phase.PROGRESSING:
            return Due("stopped", outcome)
        self._lease_ttl(environment, self._interval(environment, outcome.view.strategy))  # before anything is taken
        other = self.driver(service, environment)
        if other is not None and other.holder != self.holder:
            return Due("driven_elsewhere", outcome, driver=other)
        return None

    def next_step_at(self, service: str, environment: str) -> datetime | None:
        """When the next analysis of the rollout progressing in *environment* is due (``domain.cadence``: one interval
        after the latest, or after its stage began); ``None`` when no rollout progresses there. Reads the stream's
        latest events only, further back only where they do not tell."""
        name = self.platform.environment(environment).name
        rollout = self._load(service).environments[name].rollout
        if rollout is None or rollout.phase is not Phase.PROGRESSING:
            return None
        interval = self._interval(name, rollout.strategy)
        for last in (200, 5000, None):
            recent = [event for page in self.history_pages(service, last=last) for event in page]
            whole = last is None or len(recent) < last
            anchor = cadence_anchor(rollout, name, recent, whole=whole)
            if anchor is not None:
                return next_analysis_at(anchor, interval)
        raise StateError(f"{service}'s history does not say when the rollout in {name} was last analysed")

    def _drive(self, service: str, environment: str, *, actor: str, version: str | None) -> Outcome | None:
        """A step of the watch that holds the rollout's lease — ``None`` when it found the rollout taken over by another
        runner while it waited (frozen, cut off: its write refused, it follows whoever drives now) or stopped by
        another command (a person's pause, abort or rollback: the watch ends as the rollout did)."""
        try:
            return self.step(service, environment, actor=actor, version=version, leased=True)
        except LeaseLostError:
            self._fences.pop((service, environment), None)
            return None
        except PolicyRefusedError as refused:
            if (
                refused.refusal.rule != "rollout-progressing"
                or self.view(service, environment).phase is Phase.PROGRESSING
            ):
                raise
            return None

    def _ended(self, service: str, environment: str, outcome: Outcome, recorded: Sequence[Event]) -> Outcome:
        """A watch's last outcome — with who stopped the rollout, where the watch did not stop it itself."""
        rollout = outcome.view.rollout
        if rollout is None or rollout.phase not in (Phase.PAUSED, Phase.ABORTED, Phase.ROLLED_BACK):
            return outcome
        stops = (RolloutPaused, RolloutAborted, RolledBack)
        latest = [e for e in next(self.history_pages(service, last=50), []) if e.environment == environment]
        at = next((i for i in range(len(latest) - 1, -1, -1) if isinstance(latest[i], stops)), None)
        stop = None if at is None else latest[at]
        if at is None or stop is None or any(stop is mine or stop == mine for mine in recorded):
            return outcome
        done = {RolloutPaused: "paused", RolloutAborted: "aborted", RolledBack: "rolled back"}[type(stop)]
        by = stop_author(stop, latest[at - 1] if at else None)  # the analysis's decision is not its watcher's
        said = f"{done} by {by} at {stop.at.isoformat(timespec='seconds')}"
        return attrs.evolve(outcome, stopped_by=f"{said}: {stop.reason}" if stop.reason else said)

    def _unavailable_secrets(self, service: str, environment: str) -> tuple[str, ...]:
        """The secrets *service* reads in *environment* that it could not read now (the release gate); none when the
        gate is off or there is no secret store."""
        managed = self.platform.secret_management
        if self.secrets is None or managed is None or not managed.release_gate:
            return ()
        reads = [secret for secret in managed.secrets if service in secret.services]
        observed = {secret_id(s, environment): self.secrets.observe(secret_id(s, environment)) for s in reads}
        return unavailable_for(service, environment, managed, observed)

    # ---- leases: one driver per rollout ----------------------------------------------------------------------------

    def _leases(self) -> Leases | None:
        return self.store if self.holder and isinstance(self.store, Leases) else None

    def _lead(self, service: str, environment: str, interval: timedelta) -> Lease | None:
        """Take or renew the rollout's lease; the other holder's lease when another runner has it (``None``: ours,
        or no leases kept)."""
        leases = self._leases()
        if leases is None:
            return None
        ttl = self._lease_ttl(environment, interval)
        lease = leases.acquire(service, environment, self.holder, now=self._wall(), ttl=ttl)
        if lease.holder != self.holder and self.dead(lease):  # killed on this very kernel: no need to wait it out
            lease = leases.acquire(service, environment, self.holder, now=self._wall(), ttl=ttl, replacing=lease.holder)
        if lease.holder != self.holder:
            self._fences.pop((service, environment), None)
            return lease
        self._fences[(service, environment)] = lease.fence(environment)  # its writes carry the token it holds now
        return None

    def _lease_ttl(self, environment: str, interval: timedelta) -> timedelta:
        """How long a lease on the rollout in *environment* lasts: refused (bad input) when shorter than one step —
        the analysis *interval* between two renewals — for another runner would take it over mid-step."""
        if self.lease_ttl is None:
            return max(3 * interval, timedelta(minutes=2))
        if self.lease_ttl < interval:
            raise BadInputError(
                f"{self.lease_setting}={self.lease_ttl.total_seconds():g} is shorter than one step of the rollout in "
                f"{environment}: its analysis interval is {interval.total_seconds():g} seconds, and a lease renewed "
                f"once a step must last at least that long (or another runner takes the rollout over mid-step); set "
                f"at least {interval.total_seconds():g}, or leave it unset (three intervals, at least two minutes)"
            )
        return self.lease_ttl

    def _let_go(self, service: str, environment: str) -> None:
        self._fences.pop((service, environment), None)
        leases = self._leases()
        if leases is not None:
            with contextlib.suppress(DependencyError, BadInputError):  # it runs out by itself
                leases.release(service, environment, self.holder)

    def _wall(self) -> datetime:
        if self.wall is not None:
            return self.wall.now()
        return datetime.now(UTC).replace(tzinfo=None)

    def driver(self, service: str, environment: str) -> Lease | None:
        """Who drives the rollout in *environment* now: the live lease, or ``None`` (none kept, or run out)."""
        if not isinstance(self.store, Leases):
            return None
        lease = self.store.lease(service, environment)
        return lease if lease is not None and lease.live(self._wall()) and not self.dead(lease) else None

    def holding(self, service: str, environment: str) -> tuple[Holding, Holding]:
        """What the cluster holds for *service* in *environment*, read back, and what the log says it should hold
        (equal when the cluster follows the log). Read only, in any time."""
        view = self.view(service, environment)
        return self.cluster.holding(service, view.environment), expected_holding(view)

    def inspect(self, service: str, environment: str) -> ClusterReading | None:
        """What the cluster bound to *environment* holds for *service*, read back in detail — each Deployment's
        version, images and ready replicas against desired, the weights through the subsets — with ``drift`` against
        what the log says (``status``); ``None`` where no cluster is bound (the simulated cluster follows the log by
        construction). Read only, in any time; raises ``DependencyError`` (or ``BadInputError``: no access, no
        such context, the extra missing) when the cluster cannot be read."""
        view = self.view(service, environment)
        if not isinstance(self.cluster, ClusterInspector):
            return None
        return self.cluster.inspect(service, view.environment, expected_holding(view))

    def gitops_reading(self, service: str, environment: str) -> GitOpsReading | None:
        """``status`` of an environment handed to a GitOps repository: the latest hand-off recorded and what its
        controller reports of it (``application.gitops``); ``None`` elsewhere. Read only."""
        reader = getattr(self.cluster, "gitops_reading", None)
        if reader is None:
            return None
        reading: GitOpsReading | None = reader(service, self.view(service, environment).environment)
        return reading

    def reconcile(self, service: str, environment: str) -> Outcome:
        """Bring the cluster to what the recorded events say (after a crash between storing and routing)."""
        view = self.view(service, environment)
        self._guard(service, view.environment)
        try:
            routed = self._follow(view, self.clock.now())
        except WorkloadNotReadyError as exc:  # the candidate cannot run: the rollout fails, as _repair has it fail
            rollout = view.rollout
            if not exc.failed or rollout is None or rollout.phase is not Phase.PROGRESSING:
                raise
            return self._workload_failed(service, view.environment, exc)
        return Outcome(self._clean_up(view), view, routed=routed)

    # ---- the policy in force (domain.policy) -----------------------------------------------------

    def policy_in_force(self) -> PlatformPolicy | None:
        """The policy the state holds: the latest adoption whose guard holds (``domain.policy.read_policy``: each
        adoption judged by the policy before it, on what its adopter's token proves) — ``None`` before any."""
        return self.policy_reading().in_force

    def policy_reading(self) -> PolicyReading:
        """The policy stream read with its guards checked: the policy in force, the adoptions not in force (damage)
        and why, the environments frozen (a proof that can no longer be checked), what was taken on trust, and the
        owner's anchor."""
        events = self._policy_stream()
        anchor = self._anchor(len(events))
        key = (len(events), anchor)
        if self._reading is not None and self._reading[0] == key:
            return self._reading[1]
        proposed, digest = self._file_policy()
        while len(self._digests) < len(events):  # each adoption's policy's digest, computed again once
            policy = events[len(self._digests)].policy
            self._digests.append(digest if policy is proposed else policy_digest(policy))
        anchored, problem = self._anchored(anchor, len(events))
        proofs = self._verified(adoption_checks(events, anchored))
        reading = read_policy(events, proofs=proofs, digests=self._digests, anchored=anchored, anchor_problem=problem)
        self._reading = (key, reading)
        return reading

    def policy_history(self) -> tuple[PolicyAdopted, ...]:
        """Every adoption of a policy, oldest first: who, when, proven how, and what it changed."""
        return tuple(self._policy_stream())

    def file_policy(self) -> PlatformPolicy:
        """The policy the platform file proposes."""
        return self._file_policy()[0]

    def proposal(self) -> tuple[PlatformPolicy, str]:
        """The policy the platform file proposes, and its digest (what a token that adopts it is bound to)."""
        return self._file_policy()

    def _file_policy(self) -> tuple[PlatformPolicy, str]:
        """The platform file's policy and its digest, made once for the platform this service is given (and once a
        process for a platform, however many services are made of it: a simulation makes one per environment)."""
        if self._proposed is None or self._proposed[0] is not self.platform:
            self._proposed = _proposal_of(self.platform)
        return self._proposed[1], self._proposed[2]

    def adopt_policy(self, *, actor: str, identity: VerifiedIdentity | None = None) -> Adoption:
        """Make the platform file's policy the one in force, as *actor* (proven as *identity*, whose token — where
        the policy in force verifies identities — must have been asked for this adoption: ``purpose_audience(…,
        ADOPT, digest)``): recorded when it changes anything; refused by ``policy-in-force`` (raises
        :class:`PolicyRefusedError`, nothing recorded) when a change the policy in force guards is not made by someone
        it accepts."""
        check_input(actor=actor)
        return self._hold_policy(actor, identity, governs=True, adopting=True)[0]

    def anchor_policy(self, *, actor: str) -> PolicyAnchor:
        """As the state's owner: make the platform file's policy the one in force, whatever the policy stream held
        (recorded, unguarded, ``anchored by the state's owner``), and anchor it — keep its position and link where
        only the owner may write (``PolicyAnchors``): from there on it is in force as it stands, the adoptions before
        it are history, and only the owner turns verified identities on where names were trusted. Raises
        :class:`BadInputError` where the store keeps no anchor, :class:`StateError` where the user may not write it."""
        check_input(actor=actor)
        if not isinstance(self.store, PolicyAnchors) or not isinstance(self.store, ChainedStore):
            raise BadInputError("this state keeps no anchor (memory://): anchor a durable state")
        self.store.may_anchor()  # before the adoption is written: a user who may not anchor records nothing
        proposed, digest = self._file_policy()
        events = self._policy_stream()
        reading = self.policy_reading()
        position = reading.position if reading.in_force == proposed else None
        if position is None:  # the file's policy, recorded as the owner's — whatever the stream held before
            now = self.clock.now()
            event = PolicyAdopted(
                service=POLICY_STREAM,
                environment="",
                version="",
                at=max(now, events[-1].at) if events else now,
                actor=actor,
                reason="anchored by the state's owner",
                policy=proposed,
                digest=digest,
                changes=tuple(map(str, reading.in_force.changes(proposed))) if reading.in_force is not None else (),
            )
            self.store.append(POLICY_STREAM, len(events), (event,))
            position = len(events)
        link = next(stored for at, _, stored in self.store.chain(POLICY_STREAM) if at == position)
        if link is None:
            raise StateError("the policy stream is not linked yet: run `findly-infra state migrate` first")
        anchor = PolicyAnchor(position, link, actor, self._wall())
        self.store.anchor_policy(anchor)
        self._anchor_read = None
        self._reading = None
        return anchor

    def _anchor(self, length: int) -> PolicyAnchor | None:
        """The owner's anchor, where the store keeps one (read again when the policy stream grew)."""
        if self._anchor_read is None or self._anchor_read[0] != length:  # isinstance of a Protocol is slow: once
            self._anchor_read = (length, self.store.policy_anchor() if isinstance(self.store, PolicyAnchors) else None)
        return self._anchor_read[1]

    def _anchored(self, anchor: PolicyAnchor | None, length: int) -> tuple[int | None, str | None]:
        """The anchored position, and why the anchor does not hold (``None``: it does) — it must name an adoption
        the stream has, with the link the stream has there."""
        if anchor is None:
            return None, None
        problem = (
            f"the owner's anchor names {POLICY_STREAM}@{anchor.position}={anchor.link[:12]}…, which the policy stream "
            "does not hold (it was rewritten, or the anchor was): decisions are refused until the owner anchors the "
            "policy again (findly-infra policy anchor)"
        )
        if anchor.position >= length or not isinstance(self.store, ChainedStore):
            return anchor.position, problem
        stored = next((link for at, _, link in self.store.chain(POLICY_STREAM) if at == anchor.position), None)
        return anchor.position, None if stored == anchor.link else problem

    def _policy_first(
        self, service: str, environment: str, actor: str, identity: VerifiedIdentity | None, *, governs: bool
    ) -> PolicyReading:
        """:meth:`_hold_policy` for a command on *service* in *environment* — names known first: a command refused
        as bad input adopts nothing. The policy reading it left (what the decision is judged by)."""
        known = self._cache.get(service)  # a service this process folded, and the environments it holds, are known
        if known is None or environment not in known.environments:
            known = self._fold(service)  # raises UnknownNameError for an unknown service
            if environment not in known.environments:
                environment = self.platform.environment(environment).name
        return self._hold_policy(actor, identity, governs=governs, environment=environment)[1]

    def _hold_policy(
        self,
        actor: str,
        identity: VerifiedIdentity | None,
        *,
        governs: bool,
        environment: str | None = None,
        adopting: bool = False,
    ) -> tuple[Adoption, PolicyReading]:
        """Before a command decides: the platform file's policy adopted where :func:`domain.policy.adopt` says so,
        in the policy stream, before the command's own events — so that a failure in between leaves only an
        adoption, itself valid, and the command run again finds the policy already in force. A change the policy in
        force guards takes effect only from ``policy adopt`` (*adopting*: *identity*'s token asked for this adoption)
        by someone it accepts; a command that *governs* what the policy decides in an *environment* such a change
        blocks is refused (rule ``policy-in-force``), the others go on under the policy in force, adopting nothing.
        Where the policy in force of *environment* rests on a proof that can no longer be checked, a command that
        governs it is refused too. Returns the adoption, and the policy reading it leaves (the command's decision is
        judged by it, not by a second read of the policy stream)."""
        proposed, digest = self._file_policy()
        for attempt in range(1, self.attempts + 1):
            reading = self.policy_reading()
            events = self._policies
            if reading.anchor_problem is not None:  # nothing is adopted, nor decided, until the owner anchors again
                if governs or adopting:
                    raise PolicyRefusedError(Refusal(POLICY_IN_FORCE, reading.anchor_problem))
                return _NOTHING_ADOPTED, reading
            if reading.in_force is proposed or reading.in_force == proposed:  # the file's policy is in force
                if governs:
                    self._refuse_frozen(reading, environment)
                return _NOTHING_ADOPTED, reading
            now = self.clock.now()
            at = max(now, events[-1].at) if events else now
            proofs = self._adopter_proofs(identity, digest, reading.in_force) if adopting else None
            adoption = adopt(
                reading.in_force,
                proposed,
                actor=actor,
                identity=identity,
                at=at,
                digest=digest,
                proofs=proofs,
                adopter=reading.adopter,
                anchored=reading.anchored is not None,
            )
            if adoption.refusal is not None:
                if governs and (environment is None or environment in adoption.blocked):
                    raise PolicyRefusedError(adoption.refusal)
                self._refuse_frozen(reading, environment if governs else None)
                return adoption, reading
            if adoption.event is None:
                self._refuse_frozen(reading, environment if governs else None)
                return adoption, reading
            try:
                self.store.append(POLICY_STREAM, len(events), (adoption.event,))
            except ConcurrencyError:  # another command adopted meanwhile: judge again against what it left
                if attempt == self.attempts:
                    raise
                self.backoff(attempt)
                continue
            self._policies.append(adoption.event)
            reading = self.policy_reading()
            self._refuse_frozen(reading, environment if governs else None)
            return adoption, reading
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _failover_open(self, environment: str) -> Refusal | None:
        """``failover-in-progress``: a FAILOVER is open (``application.recovery``) and *environment* fails over — a
        release there now would race the versions the failover deploys in the DR region (read at each attempt of the
        decision, as every rule it decides on)."""
        from findly_infra.domain.recovery import DR_STREAM, RecoveryKind, failover_environments, open_operation

        if self.platform.failover is None:
            return None
        events, _ = self.store.load(DR_STREAM)
        current = open_operation(events)
        if current is None or current.kind is not RecoveryKind.FAILOVER:
            return None
        name = self.platform.environment(environment).name
        if name not in current.started.environments and name not in failover_environments(
            self.platform.failover,
            self.platform.promotion_order,
            [binding.environment for binding in self.platform.kubernetes.clusters],
        ):
            return None
        return Refusal(
            "failover-in-progress",
            f"the failover {current.name} is open (next step: "
            f"{current.next_step.value if current.next_step else 'none'}) and {name} fails over: a release there "
            "would race the versions it deploys in the DR region; finish it (`findly-infra dr failover --confirm`) "
            "or end it (`findly-infra dr abandon --reason TEXT`) first",
        )

    def _refuse_frozen(self, reading: PolicyReading, environment: str | None) -> None:
        """Refuse a decision in *environment* whose policy in force rests on a proof that can no longer be checked:
        exit 5 when its issuer could not be reached (try again), else rule ``policy-in-force``."""
        if environment is None or (why := reading.blocked(environment)) is None:
            return
        if reading.unreachable:
            raise DependencyUnavailableError(f"{environment}'s policy in force cannot be checked now: {why}")
        raise PolicyRefusedError(Refusal(POLICY_IN_FORCE, f"{environment}'s policy in force cannot be proven: {why}"))

    def _adopter_proofs(
        self, identity: VerifiedIdentity | None, digest: str, in_force: PlatformPolicy | None
    ) -> Proofs | None:
        """What *identity*'s token proves for adopting the policy whose digest is *digest*, checked against each
        issuer and audience the policy in force verifies identities with (the guards it may have to pass)."""
        if identity is None or not identity.token or in_force is None:
            return None
        checks = {
            ProofCheck(identity.token, p.issuer, purpose_audience(p.audience, ADOPT, digest), p.keys_url): None
            for p in in_force.environments
            if p.identity.verified
        }
        return self._verified(tuple(checks))

    def _verified(self, checks: Sequence[ProofCheck]) -> Proofs:
        """What the recorded tokens of *checks* prove, each verified once a process (a result that could not be had
        — the issuer out of reach — is asked again next time): the composition root's verifier
        (``ProofVerifier``); without one, nothing is proven."""
        now = self.clock.now() if self.simulated_identities else self._wall()
        found: dict[tuple[str, str, str], Proven | Unproven] = {}
        for check in checks:
            result = self._proven.get(check.key)
            if result is None:
                if self.proofs is None:
                    result = Unproven(
                        "no verifier of proofs here (the github extra: pip install 'findly-infra[github]')"
                    )
                else:
                    result = self.proofs.verify_proof(check)
                if not (isinstance(result, Unproven) and result.unreachable):
                    self._proven[check.key] = result
            found[check.key] = result
        return Proofs(now, found)

    def _policy_stream(self) -> list[PolicyAdopted]:
        """The policy stream, reading only what was not read yet."""
        events, version = self.store.load(POLICY_STREAM, since=len(self._policies))
        if version < len(self._policies):  # shorter than what was read: read it again
            self._policies.clear()
            self._digests.clear()
            events, version = self.store.load(POLICY_STREAM)
        for event in events:
            if not isinstance(event, PolicyAdopted):  # the codec keeps other events out of a durable store's stream
                raise StateError(f"the policy stream holds a {event.type}: `findly-infra state check` says more")
            self._policies.append(event)
        return self._policies

    def _judging(self, reading: PolicyReading | None = None) -> PlatformPolicy:
        """The policy approvals are counted under: the one in force (the file's before any), as a simulation's
        identities are judged where this service is given those (*reading*: the policy stream as just read;
        ``None``: read now)."""
        held = (reading or self.policy_reading()).in_force or self._file_policy()[0]
        if not self.simulated_identities:
            return held
        if self._simulated is None or self._simulated[0] is not held:
            self._simulated = (held, held.simulated())
        return self._simulated[1]

    def _judged(
        self, pipeline: DeploymentPipeline, *, strict: str | None = None, reading: PolicyReading | None = None
    ) -> DeploymentPipeline:
        """*pipeline* judged by the policy in force, with what the tokens its pending approvals and requests rest
        on prove (each verified once a process). *strict*: the environment a decision is about to be taken in —
        a token there whose issuer could not be reached is exit 5 (try again), not an approval missing. *reading*:
        the policy stream as the decision under way just read it (``None``: read now)."""
        policy = self._judging(reading)
        if self._verifying is None or self._verifying[0] is not policy:
            self._verifying = (policy, any(p.identity.verified for p in policy.environments))
        if not self._verifying[1]:  # names are trusted everywhere: no token to check (most decisions, simulations)
            return pipeline.judged_by(policy)
        judged = pipeline.judged_by(policy)
        checks = [check for name in judged.environments for check in judged.proof_checks(name)]
        if strict is not None and strict in judged.environments:
            checks += judged.entry_checks(strict)
        proofs = self._verified(checks)
        if strict is not None:
            own = {check.key for check in judged.proof_checks(strict)}
            lost = [r for k, r in proofs.checked.items() if k in own and isinstance(r, Unproven) and r.unreachable]
            if lost:
                raise DependencyUnavailableError(f"a recorded proof cannot be checked now: {lost[0].reason}")
        return judged.judged_by(judged.policy, proofs)

    def _guard(self, service: str, environment: str) -> None:
        """Refuse, in virtual time, to move or converge a cluster the platform file binds to *environment*."""
        if self.rehearsal is not None:
            refusal = rehearsal_refusal(self.platform, service, environment, self.rehearsal)
            if refusal is not None:
                raise refusal

    # ---- the one way state changes -------------------------------------------------------------

    def _decide(  # noqa: PLR0912 - one decision: its policy, its retries, the cluster after it
        self,
        service: str,
        environment: str,
        command: Callable[[DeploymentPipeline, datetime], Decision],
        analysis: Callable[[], AnalysisReport | None] = lambda: None,
        *,
        failing: bool = False,
        actor: str | None = None,
        identity: VerifiedIdentity | None = None,
        governs: bool = False,
        evidence: Callable[[DeploymentPipeline, str], bool] = lambda _pipeline, _environment: False,
        away: bool = False,
        versions: tuple[str, ...] = (),
    ) -> Outcome:
        """Decide *command* on the service's state and store its events; the cluster follows. Before deciding, the
        file's policy is held against the one in force (a person's command: *actor*, proven as *identity*; one that
        *governs* what the policy decides is refused by a file that weakens it unproven), and the cluster is brought
        to the log (a crash between storing and routing left it behind) — except for *evidence* (true for a command
        that moves no traffic on that state: a test result, an approval of a promotion), which is recorded whether
        the cluster answers or not."""
        reading = None  # the policy stream as read for this attempt (None: read it again)
        if actor is not None:  # a person's command: the file's policy against the one in force, first
            reading = self._policy_first(service, environment, actor, identity, governs=governs)
        fence = self._fences.get((service, environment))  # a watch driving it: each write only while it holds it
        for attempt in range(1, self.attempts + 1):
            pipeline = self._load(service, versions, reading)  # raises UnknownNameError for an unknown service
            reading = None  # another attempt decides on the policy stream as it is then
            if environment not in pipeline.environments:
                environment = self.platform.environment(environment).name  # raises UnknownNameError
            if governs:  # the proofs it decides on: an issuer out of reach is exit 5, not an approval missing
                pipeline = self._judged(self._cache[service], strict=environment)
            at = pipeline.stamp(self.clock.now())  # never before the log's latest event
            before, traffic = self._before(pipeline, environment, at)
            leaves_cluster = evidence(pipeline, environment)
            if not leaves_cluster and self.rehearsal is not None:
                self._guard(service, environment)
            follow = False if failing or leaves_cluster else self._repair(service, pipeline, before, at, away=away)
            if isinstance(follow, Outcome):  # the cluster's verdict came first: the rollout failed
                return follow
            repaired = follow
            decision = command(pipeline, at)
            if not decision.events:
                break
            try:
                if fence is None:
                    self.store.append(service, pipeline.version, decision.events)
                else:  # raises LeaseLostError, writing nothing, once another runner took the rollout over
                    self.store.append(service, pipeline.version, decision.events, fence=fence)
            except ConcurrencyError:  # another command got there first: decide again on what it left
                if attempt == self.attempts:
                    raise
                self.backoff(attempt)
                continue
            pipeline = pipeline.apply_all(decision.events)
            self._cache[service] = pipeline  # the store now holds exactly these events
            if governs:  # what it recorded counted as the next command will count it (its own proof included)
                pipeline = self._judged(pipeline)
            self._maybe_snapshot(pipeline)
            break
        view = EnvironmentView.of(pipeline, environment, at)
        routes = _traffic(view)
        self._views[(service, environment)] = (pipeline.environments[environment], view, routes)
        routed = repaired
        moved = decision.events and routes != (traffic or _traffic(before))  # evidence moves none, and never routes
        if moved and not leaves_cluster:  # the cluster was just brought to the rest
            followed = self._route(service, decision, view, at, failing=failing)
            if isinstance(followed, Outcome):  # the cluster could not run the candidate: the rollout failed
                return followed
            routed = followed or repaired
        cleaned = () if failing or leaves_cluster else self._clean_up(view)  # the cluster follows the log: tidy it
        if decision.refusal is not None:
            raise PolicyRefusedError(decision.refusal)
        return Outcome(
            decision.events + cleaned, view, analysis(), routed, decision.already, cluster_read=not leaves_cluster
        )

    def _before(
        self, pipeline: DeploymentPipeline, environment: str, at: datetime
    ) -> tuple[EnvironmentView, tuple[object, ...] | None]:
        """*environment*'s view before a decision, read only for what the cluster follows (the repair, whether the
        decision moved traffic): the view the last decision left where the environment's state is still the one it
        was built of — a view's routes depend on nothing else (its time only says how long a wait has left) — with
        its :func:`_traffic` (``None``: a view built now, not worked out yet)."""
        kept = self._views.get((pipeline.service, environment))
        if kept is not None and kept[0] is pipeline.environments[environment]:
            return kept[1], kept[2]
        return EnvironmentView.of(pipeline, environment, at), None

    def _route(
        self, service: str, decision: Decision, view: EnvironmentView, at: datetime, *, failing: bool
    ) -> bool | Outcome:
        """After *decision*'s events are stored, the cluster follows *view*: whether anything had to change, or — the
        cluster cannot run the candidate — the failed rollout's outcome (with *decision*'s events first). Anything else
        the cluster answers is :class:`NotRoutedError`: recorded, and routed by the next command."""
        environment = view.environment
        recorded = ", ".join(event.type for event in decision.events)
        try:
            return self._follow(view, at)
        except WorkloadNotReadyError as exc:
            if not exc.failed or failing:
                raise NotRoutedError(
                    f"recorded ({recorded}), but the cluster could not be told: {exc}; the next command on {service} "
                    f"in {environment} tries again"
                ) from exc
            failed = self._workload_failed(service, environment, exc)
            return attrs.evolve(failed, events=decision.events + failed.events)
        except (DependencyError, BadInputError) as exc:  # recorded: say so, and what brings the cluster along
            raise NotRoutedError(
                f"recorded ({recorded}), but the cluster could not be told: {exc}; the next command on {service} in "
                f"{environment} routes it as recorded"
            ) from exc

    def _repair(
        self, service: str, pipeline: DeploymentPipeline, view: EnvironmentView, at: datetime, *, away: bool = False
    ) -> bool | Outcome:
        """Before deciding, the cluster follows the log (a crash between storing and routing left it behind). A
        progressing rollout whose candidate the cluster cannot run fails first (the outcome); one stopped for a
        person already lets their command go on (a rollback needs nothing of the candidate). A command that moves
        traffic *away* from the candidate (abort, rollback) goes on where the cluster may not follow a rollout whose
        entry is not proven: it was never moved for it."""
        try:
            return self._follow(view, at)
        except (UnprovenEntryError, HandOffPendingError):  # a pull request still open: a rollback needs none
            if away:
                return False
            raise
        except WorkloadNotReadyError as exc:
            if not exc.failed:
                if away and self._handed_off(view.environment):
                    # a GitOps controller has not deployed it (stuck, or slow): undoing it needs nothing of it — the
                    # decision's own route hands off the revert (issue 28)
                    return False
                raise
            rollout = pipeline.environments[view.environment].rollout
            if rollout is not None and rollout.phase is Phase.PROGRESSING:
                return self._workload_failed(service, view.environment, exc)
            return False

    def _handed_off(self, environment: str) -> bool:
        """Whether *environment* is handed to a GitOps controller (``gitops:``): a command going away from the
        candidate there hands off its revert without waiting for the controller to have deployed the candidate."""
        gitops = self.platform.gitops
        return gitops is not None and gitops.binding(environment) is not None

    def _workload_failed(self, service: str, environment: str, failure: WorkloadNotReadyError) -> Outcome:
        """The cluster could not run the candidate (past its progress deadline): the rollout fails as a failed step
        does — rolled back where rollback is automatic, else paused — and the cluster follows (it needs nothing of the
        candidate to route back)."""
        return self._decide(
            service,
            environment,
            lambda p, at: p.workload_failed(environment, actor="findly", at=at, reason=failure.reason),
            failing=True,
        )

    def _follow(self, view: EnvironmentView, at: datetime) -> bool:
        """Bring *view*'s environment's workloads and routes to what the log says (``Workloads.converge``); whether
        anything had to change. A real cluster is never moved for a rollout whose entry its proofs do not prove
        (:class:`UnprovenEntryError`)."""
        if self.platform.kubernetes.clusters or self.platform.gitops:  # none bound: the simulated one follows any log
            self._refuse_unproven(view)
        if self.platform.gitops is None:
            return self.cluster.converge(view, at)
        try:
            return self.cluster.converge(view, at)
        finally:  # a commit pushed is recorded, whatever the controller says of it (issue 28)
            self._record_handoffs(view)

    def _record_handoffs(self, view: EnvironmentView) -> tuple[Event, ...]:
        """The GitOps hand-offs the converge made or found (``application.gitops``), recorded in the service's log as
        :meth:`_clean_up` records its removal: each once (by its key), stamped now. A command killed after the push
        and before this record leaves a commit the next converge finds again by its key, and records then."""
        handoffs = getattr(self.cluster, "handoffs", None)
        made = tuple(handoffs(view.service, view.environment)) if handoffs is not None else ()
        recorded: tuple[Event, ...] = ()
        for attempt in range(1, self.attempts + 1):
            if not made:
                break
            pipeline = self._fold(view.service)
            known = {
                getattr(event, "key", None)
                for page in self.history_pages(view.service)
                for event in page
                if event.environment == view.environment and isinstance(event, GitOpsCommitted | GitOpsReverted)
            }
            at = pipeline.stamp(self.clock.now())
            new = tuple(attrs.evolve(event, at=at) for event in made if event.key not in known)
            if not new:
                break
            fence = self._fences.get((view.service, view.environment))
            try:
                if fence is None:
                    self.store.append(view.service, pipeline.version, new)
                else:
                    self.store.append(view.service, pipeline.version, new, fence=fence)
            except ConcurrencyError:
                if attempt == self.attempts:
                    raise
                self.backoff(attempt)
                continue
            self._cache[view.service] = pipeline.apply_all(new)
            self._maybe_snapshot(self._cache[view.service])
            recorded = new
            break
        return recorded

    def _clean_up(self, view: EnvironmentView) -> tuple[Event, ...]:
        """``auto_cleanup`` (``domain.cleanup``), once the cluster follows *view*: after the environment's latest
        rollout succeeded, what the replaced versions left is recorded (:class:`TracksCleanedUp`, what it names not
        recorded already since that success), then deleted. A crash in between leaves the record, and the next command
        that converges deletes what it names, recording nothing again; a cluster that does not answer now is tidied by
        the next one. The events recorded."""
        if view.retired:
            return ()
        auto_cleanup = self.platform.environment(view.environment).auto_cleanup
        # the pure rule first: it answers "not due" at every step of a rollout, at no cost (a runtime-checked
        # protocol's isinstance costs more than the rest of the step's bookkeeping)
        cleaner = self.cluster
        if not cleanup_due(view, auto_cleanup) or not isinstance(cleaner, TrackCleaner):
            return ()
        try:
            found = cleaner.leftovers(view, auto_cleanup)
        except DependencyError:
            return ()  # the next command that converges looks again
        if not found:
            return ()
        recorded: tuple[Event, ...] = ()
        for attempt in range(1, self.attempts + 1):
            pipeline = self._fold(view.service)
            new = tuple(name for name in found if name not in self._cleaned(view))
            if not new:
                break
            assert view.rollout is not None  # cleanup_due: it succeeded
            event = TracksCleanedUp(
                service=view.service,
                environment=view.environment,
                version=view.rollout.version,
                at=pipeline.stamp(self.clock.now()),
                actor="findly",
                reason=f"auto_cleanup: removed {', '.join(new)}",
                removed=new,
            )
            fence = self._fences.get((view.service, view.environment))
            try:
                if fence is None:
                    self.store.append(view.service, pipeline.version, (event,))
                else:
                    self.store.append(view.service, pipeline.version, (event,), fence=fence)
            except ConcurrencyError:  # another command wrote meanwhile (its own cleanup, maybe): look again
                if attempt == self.attempts:
                    raise
                self.backoff(attempt)
                continue
            self._cache[view.service] = pipeline.apply(event)
            self._maybe_snapshot(self._cache[view.service])
            recorded = (event,)
            break
        with contextlib.suppress(DependencyError):  # recorded: the next command that converges deletes it
            cleaner.clean_up(view, auto_cleanup, found)
        return recorded

    def _cleaned(self, view: EnvironmentView) -> set[str]:
        """What :class:`TracksCleanedUp` recorded removed in *view*'s environment since its latest success."""
        for last in (200, None):
            recent = [event for page in self.history_pages(view.service, last=last) for event in page]
            names: set[str] = set()
            for event in reversed(recent):
                if event.environment != view.environment:
                    continue
                if isinstance(event, RolloutSucceeded):
                    return names
                if isinstance(event, TracksCleanedUp):
                    names.update(event.removed)
            if last is not None and len(recent) < last:
                return names
        return set()

    def _refuse_unproven(self, view: EnvironmentView) -> None:
        """Before a cluster the platform file binds is moved for *view*: the entry of each version it would run
        must be proven — the latest rollout's while it holds traffic, and that of the rollout which let in the
        version served beside or after it, unless the cluster already runs that version (read back) — the approvals
        pending when it started, counted again under the policy in force with what their tokens prove now
        (``DeploymentPipeline.entry_refusal``). A history imported, or events written with the state's credentials,
        do not move a real cluster. The simulated cluster follows any log."""
        gitops = self.platform.gitops  # a commit the controller follows moves the environment as an apply does
        handed = gitops is not None and gitops.binding(view.environment) is not None
        if not handed and self.platform.kubernetes.cluster_for(view.environment) is None:
            return
        if (broken := self.policy_reading().anchor_problem) is not None:  # no policy to judge the entry by
            raise UnprovenEntryError(Refusal("unproven-entry", f"no cluster is moved: {broken}"))
        cached = self._cache.get(view.service) or self._load(view.service)
        judged = self._judged(cached, strict=view.environment)
        refusal = judged.entry_refusal(view.environment)
        if refusal is not None:  # what the cluster already runs stays: read it back, only when it matters
            running = self.cluster.holding(view.service, view.environment).running
            primary = running.get(view.service)  # the primary Deployment alone: a candidate's track keeps nothing
            refusal = judged.entry_refusal(view.environment, running=frozenset({primary} if primary else ()))
        if refusal is not None:
            raise UnprovenEntryError(refusal)


_NOTHING_ADOPTED = Adoption()
"""What a file whose policy is the one in force adopts (frozen: one for every command that finds it so)."""

_PROPOSALS: dict[int, tuple[Platform, PlatformPolicy, str]] = {}
"""Each platform's policy and its digest, by the platform's identity (a frozen platform, kept alive by its entry, so
an identity is never reused while its entry stands)."""


def _proposal_of(platform: Platform) -> tuple[Platform, PlatformPolicy, str]:
    """*platform*'s policy and its digest, worked out once a process for a platform."""
    kept = _PROPOSALS.get(id(platform))
    if kept is None or kept[0] is not platform:
        proposed = PlatformPolicy.of(platform)
        if len(_PROPOSALS) > 64:  # platforms come and go in long-lived processes (property tests): stay bounded
            _PROPOSALS.clear()
        kept = _PROPOSALS[id(platform)] = (platform, proposed, policy_digest(proposed))
    return kept


def _analyses(events: Sequence[Event]) -> int:
    return sum(1 for event in events if event.type == "analysis_recorded")


def _strategy(given: object) -> StrategyKind | None:
    """A strategy, also given by its name (``"canary"``, from an untyped caller); a misspelt one is bad input."""
    if given is None or isinstance(given, StrategyKind):
        return given
    try:
        return StrategyKind(given)
    except ValueError:
        known = ", ".join(kind.value for kind in StrategyKind)
        raise BadInputError(f"strategy {given!r} is not one of: {known}") from None


def _traffic(view: EnvironmentView) -> tuple[object, ...]:
    """What of a view the cluster follows: what serves, what rolls out and how, and whether it is under way."""
    active = view.rollout is not None and view.rollout.phase.active
    return (view.serving, view.candidate, view.strategy, active)


def timeline(platform: Platform, service: str, events: Sequence[Event], environment: str) -> list[EnvironmentView]:
    """The view of *environment* after each of its events in *events* (a service's whole stream, in
    order): how the serving and candidate shares moved over a rollout, for charts."""
    pipeline, views = DeploymentPipeline.start(platform, service), []
    for event in events:
        pipeline = pipeline.apply(event)
        if event.environment == environment:
            views.append(EnvironmentView.of(pipeline, environment, event.at))
    return views
