"""``DeploymentPipeline``: one service's way through the environments, as a fold of its events.

Every command either refuses, naming the rule that refused, or returns the events it causes.
Nothing here reads a clock or does I/O: times, actors and analysis verdicts come in as arguments.
The rules (DESIGN.md, "Rules the pipeline enforces") are small named functions, so a refusal says
which one spoke and a property test can aim at one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime

import attrs

from findly_infra.domain import progress
from findly_infra.domain.approvals import (
    ApprovalCount,
    count_approvals,
    needed_text,
    proof_checks,
    request_proven,
    same_actor,
)
from findly_infra.domain.environment import Environment, RollbackCapability, StrategyKind
from findly_infra.domain.events import (
    AnalysisRecorded,
    ApprovalGranted,
    ApprovalsSuperseded,
    Event,
    MetricReading,
    PromotionRequested,
    RolledBack,
    RolloutAborted,
    RolloutPaused,
    RolloutResumed,
    RolloutStarted,
    TestResultRecorded,
    Verdict,
)
from findly_infra.domain.identifiers import same_person
from findly_infra.domain.identity import VerifiedIdentity
from findly_infra.domain.notation import Duration
from findly_infra.domain.platform import Platform
from findly_infra.domain.policy import EnvironmentPolicy, PlatformPolicy
from findly_infra.domain.proofs import PROMOTE, ProofCheck, Proofs, Proven, purpose_audience
from findly_infra.domain.refusal import Refusal
from findly_infra.domain.state import (
    RECORD_EVENTS,
    Entry,
    EnvironmentState,
    Phase,
    Rollout,
    UnreadRecordsError,
    fold,
    live_versions,
    records_aside,
    records_back,
    with_records,
)
from findly_infra.domain.strategy import BlueGreenStrategy, CanaryStrategy, RollingStrategy

__all__ = ["ROLLOUT_RECORDED_EVIDENCE", "Decision", "DeploymentPipeline", "Refusal", "override_reason"]

ROLLOUT_RECORDED_EVIDENCE = frozenset({"health checks", "canary validation"})
"""Suites the rollout itself is the evidence of (the seed's production "tests"): never recorded by hand."""


def override_reason(reason: str | None) -> str | None:
    """The reason given for an override, or ``None`` when none was given: a blank reason is no reason."""
    return reason.strip() if reason and reason.strip() else None


@attrs.frozen
class Decision:
    """What a command caused: its events (to record), and a refusal when it was refused.

    A refused promotion still records its request, so that approvals can bind to it.
    """

    events: tuple[Event, ...] = ()
    refusal: Refusal | None = None
    already: str | None = None
    """Set when the command asks for what already holds — a retry of a command that took effect: what holds,
    and nothing new to record (a retried CI step can tell this from a refusal)."""

    @property
    def accepted(self) -> bool:
        return self.refusal is None


def _refuse(rule: str, message: str, *events: Event) -> Decision:
    return Decision(events, Refusal(rule, message))


@attrs.frozen
class DeploymentPipeline:
    """The aggregate: one service's environments, folded from its events.

    Build it with :meth:`start` and :meth:`apply`; ask it with the command methods, which return a
    :class:`Decision`; record the decision's events and apply them to get the next pipeline.
    """

    platform: Platform = attrs.field(eq=False, repr=False)
    service: str
    environments: Mapping[str, EnvironmentState] = attrs.field(factory=dict)
    version: int = 0
    updated: datetime | None = None
    """The time of the latest event folded (``None`` before any): no decision is stamped earlier."""
    policy: PlatformPolicy | None = attrs.field(default=None, eq=False, repr=False)
    """The policy in force (``domain.policy``), by which approvals are judged when they are counted; ``None``: the
    platform file's. The use cases set it from the state (:meth:`judged_by`)."""
    proofs: Proofs | None = attrs.field(default=None, eq=False, repr=False)
    """What verifying the recorded tokens again found (``domain.proofs``): where the policy verifies identities,
    only what they prove counts. ``None``: none were checked, and no verified approval counts."""
    held: frozenset[str] | None = attrs.field(default=None, eq=False, repr=False)
    """The versions whose records (``succeeded``, ``passed``, ``failed``) this pipeline holds whole, when it started
    from a bounded snapshot (``application.snapshots``), which keeps the records of the versions its environments
    hold alone; ``None``: every version's (a fold of the whole stream). A rule asked about another version raises
    :class:`UnreadRecordsError`: :meth:`unread` names them, :meth:`with_records` adds them."""
    records_before: int = attrs.field(default=0, eq=False, repr=False)
    """Where the bounded snapshot it started from was taken: the records left out are those of events before this
    position (the events after it are folded whole)."""

    @classmethod
    def start(cls, platform: Platform, service: str) -> DeploymentPipeline:
        platform.service(service)
        return cls(platform, service, {env.name: EnvironmentState() for env in platform.environments})

    @classmethod
    def replay(cls, platform: Platform, service: str, events: Iterable[Event]) -> DeploymentPipeline:
        pipeline = cls.start(platform, service)
        for event in events:
            pipeline = pipeline.apply(event)
        return pipeline

    def judged_by(self, policy: PlatformPolicy | None, proofs: Proofs | None = None) -> DeploymentPipeline:
        """This pipeline, its approvals counted under *policy* (the policy in force; ``None``: the file's) with what
        *proofs* found of their tokens."""
        if policy is self.policy and proofs is self.proofs:
            return self
        copy = self._copy()
        object.__setattr__(copy, "policy", policy)
        object.__setattr__(copy, "proofs", proofs)
        return copy

    def proof_checks(self, environment: str) -> tuple[ProofCheck, ...]:
        """The recorded tokens counting *environment*'s pending approvals rests on, each with what to check it for
        (none where its policy trusts names or nothing is pending): the use cases verify them (``proofs``)."""
        state = self.environments.get(environment)
        if state is None or not self._judged_here(environment):
            return ()
        return proof_checks(self.policy_of(environment), self.service, environment, state.requested, state.approvals)

    def entry_checks(self, environment: str) -> tuple[ProofCheck, ...]:
        """The recorded tokens the entries of what *environment* holds rest on (``entry_refusal``): its latest
        rollout's, and that of the rollout which let in the version it serves beside it."""
        state = self.environments.get(environment)
        if state is None or not self._judged_here(environment):
            return ()
        policy = self.policy_of(environment)
        checks: tuple[ProofCheck, ...] = ()
        for rollout in (state.rollout, state.let_in):
            if rollout is None or rollout.entry is None:
                continue
            entry = rollout.entry
            checks += proof_checks(policy, self.service, environment, entry.request, entry.approvals)
            if not policy.identity.verified:
                continue  # pragma: no mutate (equivalent: unverified, the let-in's proof_checks are () too)
            for identity, version in ((entry.identity, rollout.version), (rollout.replaced, rollout.previous)):
                if identity is not None and identity.token and version is not None:
                    audience = purpose_audience(policy.audience, PROMOTE, self.service, version, environment)
                    checks += (ProofCheck(identity.token, policy.issuer, audience, policy.keys_url),)
        return tuple(dict.fromkeys(checks))

    def entry_refusal(self, environment: str, *, running: Collection[str] = ()) -> Refusal | None:
        """Why what *environment* holds was not let in by what its proofs now prove (rule ``unproven-entry``), or
        ``None``. Each version a cluster would be told to run there must have entered through a rollout whose
        approvals — those pending when it started — counted again under the policy in force, at the time it started
        (where identities are verified: the issue time of the starter's own token), cover every group: the latest
        rollout's version while it holds traffic (rolled back or aborted, it holds none), and the version served
        beside it or after it (``current``, a rollout's ``previous``) — through the rollout that made it current
        (:attr:`EnvironmentState.let_in`): a history imported or appended with the state's credentials cannot
        make a cluster serve a version by a rollout of its own that stopped.

        *running*: the versions the cluster runs now, read back. Keeping what already runs there is no entry — a
        version served beside or after the latest rollout, or the latest rollout's own once it succeeded, is not
        judged again when the cluster already runs it — so that a version let in before the environment verified
        identities, or by a token whose key GitHub has since retired, does not strand the cluster: the next rollout,
        proven, replaces it, and a rollback returns to it."""
        policy = self.policy_of(environment)
        state = self.environments.get(environment)
        if not policy.approval_required or state is None:
            return None
        rollout = state.rollout
        if rollout is None:
            return None  # nothing rolled out here, so nothing served (a version is current only by a rollout)
        succeeded = rollout.phase is Phase.SUCCEEDED
        kept = succeeded and rollout.version in running
        if rollout.phase not in (Phase.ROLLED_BACK, Phase.ABORTED) and not kept:
            refusal = self._entry_problem(policy, environment, rollout)
            if refusal is not None:
                return refusal
        serving = rollout.previous  # served beside the latest rollout, or after it
        if succeeded or serving is None or serving in running:
            return None  # a succeeded rollout serves its own (judged above), nothing else serves, or it runs
        let_in = state.let_in
        if let_in is None or let_in.version != serving:
            return Refusal(
                "unproven-entry",
                f"{serving} would serve {environment}, and no rollout that succeeded there let it in: no cluster is "
                "moved for it (its history must be repaired by the state's owner)",
            )
        return self._entry_problem(policy, environment, let_in, serving=True)

    def _entry_problem(
        self, policy: EnvironmentPolicy, environment: str, rollout: Rollout, *, serving: bool = False
    ) -> Refusal | None:
        """Why *rollout*'s entry into *environment* is not proven under *policy* now, or ``None``; *serving*: the
        rollout that let in the version served beside or after the latest one."""
        what = (
            f"{rollout.version} would serve {environment}, but the rollout that let it in"
            if serving
            else f"the rollout of {rollout.version} in {environment}"
        )
        remedy = (
            "its history must be repaired by the state's owner" if serving else "roll it back: findly-infra rollback"
        )
        entry = rollout.entry or Entry()
        proofs = self.proofs
        if policy.identity.verified:
            started = _proven_at(policy, self.proofs, entry.identity, (self.service, rollout.version, environment))
            if isinstance(started, str):
                return Refusal(
                    "unproven-entry",
                    f"{what} was started by {rollout.started_by or 'no one'}, and {started}: its entry cannot be "
                    f"proven, so no cluster is moved for it ({remedy})",
                )
            replaced = self._replaced_at(policy, environment, rollout)
            if replaced is not None and replaced > started:
                return Refusal(
                    "unproven-entry",
                    f"{what} rests on tokens issued at {started.isoformat()}, before those that let in "
                    f"{rollout.previous} ({replaced.isoformat()}) which it replaces: an earlier promotion's proofs, "
                    f"replayed, so no cluster is moved for it ({remedy})",
                )
            assert proofs is not None  # without proofs, _proven_at said why above
            proofs = attrs.evolve(proofs, checked_at=started)
        before = EnvironmentState(requested=entry.request, approvals=entry.approvals)
        promoter = (rollout.started_by, rollout.started_by_id)
        count = count_approvals(
            policy, before, rollout.version, rollout.started, promoter=promoter, proofs=proofs, service=self.service
        )
        if count.missing:
            return Refusal(
                "unproven-entry",
                f"{what} was let in without an approval from {', '.join(count.missing)} that its proofs now prove"
                f"{count.describe_discounted()}: no cluster is moved for it ({remedy})",
            )
        return None

    def _replaced_at(self, policy: EnvironmentPolicy, environment: str, rollout: Rollout) -> datetime | None:
        """When the token of whoever let in the version *rollout* replaces was issued, where it still proves that
        (a token that can no longer be checked orders nothing: ``None``)."""
        replaced, previous = rollout.replaced, rollout.previous
        if replaced is None or previous is None:  # pragma: no mutate (equivalent: either missing proves nothing)
            return None
        found = _proven_at(policy, self.proofs, replaced, (self.service, previous, environment))
        return None if isinstance(found, str) else found

    def _judged_here(self, environment: str) -> bool:
        """Whether *environment* has a policy to judge it by — in force or in the file: an environment retired from
        both (still in the log, renamed or removed since) is shown, never judged, and its tokens are not checked."""
        held = self.policy.environment(environment) if self.policy is not None else None
        return held is not None or environment in self.platform.promotion_order

    def policy_of(self, environment: str) -> EnvironmentPolicy:
        """The policy approvals into *environment* are counted under: the one in force, else the file's."""
        held = self.policy.environment(environment) if self.policy is not None else None
        return held or EnvironmentPolicy.of(self.platform, environment)

    def count(
        self, environment: str, version: str, at: datetime, *, promoter: tuple[str, str | None] | None = None
    ) -> ApprovalCount:
        """The approvals of *version*'s pending promotion into *environment* that count at *at* (``domain.approvals``);
        *promoter*, who promotes now, does not count as an approver."""
        return count_approvals(
            self.policy_of(environment),
            self.environments[environment],
            version,
            at,
            promoter=promoter,
            proofs=self.proofs,
            service=self.service,
        )

    def request_problem(self, environment: str) -> str | None:
        """Why the pending request in *environment* is not proven under the policy in force (``None``: it is, or
        none is needed, or none is pending)."""
        requested = self.environments[environment].requested
        if requested is None:
            return None
        return request_proven(self.policy_of(environment), requested, self.service, self.proofs)

    def state(self, environment: str) -> EnvironmentState:
        self.platform.environment(environment)
        return self.environments[environment]

    # ---- questions --------------------------------------------------------------------------

    @property
    def retired(self) -> tuple[str, ...]:
        """Environments the history has and the platform file no longer names (renamed or removed since)."""
        named = self.platform.promotion_order  # a few names: a tuple is searched as fast as a set is built
        return tuple(name for name in self.environments if name not in named)

    def affected_rollouts(self) -> tuple[str, ...]:
        """What the platform file, as it is now, changes for the rollouts under way: one sentence each (a rollout
        in an environment the file no longer names; a canary whose stages the file changed, which keeps its own)."""
        found = []
        for name, state in self.environments.items():
            rollout = state.rollout
            if rollout is None or not rollout.phase.active:
                continue
            where = f"{self.service}: the rollout of {rollout.version} in {name} ({rollout.phase.value})"
            if name in self.retired:
                found.append(f"{where} is under way, but the platform file no longer names {name}: end it first")
                continue
            strategy = self.platform.strategy_for(
                name,  # pragma: no mutate (equivalent: a rollout always names its kind, so the name is never read)
                rollout.strategy,
            )
            kept, now = _plan_change(rollout, strategy)
            if kept:
                found.append(
                    f"{where} keeps {' and '.join(kept)} it started with; the file's {' and '.join(now)} apply from "
                    "the next rollout"
                )
        return tuple(found)

    def stamp(self, at: datetime) -> datetime:
        """The time to decide at when the clock reads *at*: *at*, or the latest event's time when *at* is earlier
        (a clock behind the log — another runner's skew): so that times never decrease within a stream. The
        commands take whatever time they are given; the use cases ask this first."""
        return at if self.updated is None or at >= self.updated else self.updated

    def missing_approvals(self, environment: str, at: datetime) -> tuple[str, ...]:
        """The groups whose approval the pending promotion into *environment* still needs at *at*."""
        env = self.platform.environment(environment)
        requested = self.environments[env.name].requested
        if requested is None:
            return env.approvers
        return self.count(env.name, requested.version, at).missing

    def awaited_evidence(self, environment: str) -> str | None:
        """The suite a blue-green rollout in *environment* waits for before cutover (a passed result for
        its version), or ``None`` when it waits for no evidence."""
        rollout = self.environments[environment].rollout
        if rollout is None or rollout.phase is not Phase.PROGRESSING or rollout.weight >= 100:
            return None
        state = self.records(environment, rollout.version)
        kind = rollout.strategy  # below: what strategy_for gives a rolling or canary rollout is no blue-green (asked
        # first: every view of every step asks); an environment retired is in the history, no longer in the file
        canary = kind is StrategyKind.CANARY and self.platform.canary_strategy is not None
        if canary or kind is StrategyKind.ROLLING or environment not in self.platform.promotion_order:
            return None
        strategy = self.platform.strategy_for(environment, kind)
        if not isinstance(strategy, BlueGreenStrategy):
            return None
        for step in progress.validation_steps(strategy, rollout):  # its own, recorded when it started
            if step.manual and step.name not in rollout.approved_steps:
                return None  # a person's approval comes first
            if step.evidence is not None and not state.has_passed(rollout.version, step.evidence):
                return step.evidence
        return None

    # ---- the records of versions, as a bounded snapshot left them -----------------------------

    def live_versions(self) -> frozenset[str]:
        """The versions the environments hold by themselves (``domain.state.live_versions``): their records are read
        by the rules without a command naming them, and a snapshot keeps them."""
        found: frozenset[str] = frozenset()
        for state in self.environments.values():
            found |= live_versions(state)
        return found

    def unread(self, versions: Iterable[str] = ()) -> tuple[str, ...]:
        """Of *versions* (those a command names) and :meth:`live_versions`, the ones whose records a bounded
        snapshot left out and were not read back since: read them (the stream's :data:`RECORD_EVENTS` of each,
        before :attr:`records_before`) and add them with :meth:`with_records` before deciding or snapshotting."""
        if self.held is None:
            return ()
        wanted = dict.fromkeys([*versions, *sorted(self.live_versions())])
        return tuple(version for version in wanted if version not in self.held)

    def with_records(self, version: str, events: Iterable[Event]) -> DeploymentPipeline:
        """This pipeline with *version*'s records whole again: *events* are the stream's :data:`RECORD_EVENTS` of
        *version* before :attr:`records_before`, oldest first (what the bounded snapshot left out; the events after
        it were folded whole). The result is what the fold of the whole stream holds for *version*."""
        if self.held is None or version in self.held:
            return self
        by_environment: dict[str, list[Event]] = {}
        for event in events:
            if event.type not in RECORD_EVENTS:
                raise ValueError(f"a {event.type} is not among the records of a version")
            by_environment.setdefault(event.environment, []).append(event)
        environments = dict(self.environments)
        for name, found in by_environment.items():
            environments[name] = with_records(environments.get(name) or EnvironmentState(), version, found)
        copy = self._copy()
        object.__setattr__(copy, "environments", environments)
        object.__setattr__(copy, "held", self.held | {version})
        return copy

    def records(self, environment: str, version: str) -> EnvironmentState:
        """*environment*'s state, to read *version*'s records in; raises :class:`UnreadRecordsError` when a bounded
        snapshot left them out and they were not read back (never an answer on less than the whole history)."""
        if self.held is not None and version not in self.held:
            raise UnreadRecordsError(
                f"{self.service}: the records of {version} before event {self.records_before} were not read back "
                "(a bounded snapshot keeps only the versions its environments hold)"
            )
        return self.environments[environment]

    # ---- the fold --------------------------------------------------------------------------

    def apply(self, event: Event) -> DeploymentPipeline:
        """The pipeline after *event*; unknown event types change nothing but the version. An event of an
        environment the platform file no longer names keeps that environment, retired (:attr:`retired`): its past
        stays readable, and no command acts on it.

        Raises :class:`HistoryError` for an event that cannot follow the ones before it.
        """
        new = fold(self.environments.get(event.environment) or EnvironmentState(), event)
        copy = self._copy()
        object.__setattr__(copy, "environments", {**self.environments, event.environment: new})
        object.__setattr__(copy, "version", self.version + 1)
        object.__setattr__(copy, "updated", event.at if self.updated is None else max(self.updated, event.at))
        return copy

    def _copy(self) -> DeploymentPipeline:
        """A copy, field by field: attrs.evolve would re-run __init__ for every event, and the fold is the innermost
        loop of every load."""
        copy = object.__new__(DeploymentPipeline)
        for field in _PIPELINE_FIELDS:
            object.__setattr__(copy, field, getattr(self, field))
        return copy

    def apply_all(self, events: Iterable[Event]) -> DeploymentPipeline:
        """The pipeline after *events*, as :meth:`apply` one at a time gives it — folded into one copy (a page of a
        whole stream is folded without a pipeline per event). Raises :class:`HistoryError` as :meth:`apply` does."""
        events = events if isinstance(events, (tuple, list)) else list(events)
        if len(events) < 2:  # a decision's event or two: one fold, nothing to set aside (most calls)
            return self.apply(events[0]) if events else self
        environments = dict(self.environments)
        version, updated = self.version, self.updated
        aside = records_aside(environments, events)  # the sets that grow with every release: copied once, not per event
        for event in events:
            environments[event.environment] = fold(environments.get(event.environment) or _BLANK, event)
            version += 1
            updated = event.at if updated is None or event.at > updated else updated
        records_back(environments, aside)
        copy = self._copy()
        object.__setattr__(copy, "environments", environments)
        object.__setattr__(copy, "version", version)
        object.__setattr__(copy, "updated", updated)
        return copy

    # ---- commands ----------------------------------------------------------------------------

    def record_test(
        self, version: str, environment: str, suite: str, passed: bool, *, actor: str, at: datetime
    ) -> Decision:
        self.platform.environment(environment)
        state = self.records(environment, version) if environment in self.environments else None
        held = state is not None and (version, suite) in (state.passed if passed else state.failed)
        if held:  # a retry, or the same result again: the record already says so
            verdict = "passed" if passed else "failed"
            return Decision(already=f"{suite} of {version} is already recorded as {verdict} in {environment}")
        return Decision(
            (TestResultRecorded(**self._base(environment, version, actor, at), suite=suite, passed=passed),)
        )

    def deploy(
        self,
        version: str,
        environment: str,
        *,
        actor: str,
        at: datetime,
        strategy: StrategyKind | None = None,
        budget_spent: bool = False,
        budget_override: str | None = None,
        budget_detail: str = "",
        identity: VerifiedIdentity | None = None,
    ) -> Decision:
        """Bring *version* into *environment*: the request, and the rollout when every rule allows it.

        ``budget_spent`` says the environment's error budget is spent (``budget_detail`` says which,
        for the refusal's message); only ``budget_override``, a reason, lets the version in then, and
        the reason is recorded on the rollout. ``identity`` is how *actor* was verified (``None``: a name); an
        environment whose ``identity`` policy asks for verified people refuses a name (rule ``verified-identity``)
        and an identity from elsewhere (``identity-source``), and records nothing then.
        """
        env = self.platform.environment(environment)
        state = self.environments[environment]
        if (refusal := _identity_refusal(env, actor, identity, "promotions")) is not None:
            return Decision(refusal=refusal)
        base = self._base(environment, version, actor, at)
        request: list[Event] = []
        if env.approval_required:
            pending = state.requested
            if pending is not None and pending.version != version:
                request.append(ApprovalsSuperseded(**base, superseded=pending.version, reason="a newer version"))
            if pending is None or pending.version != version or self.request_problem(environment) is not None:
                # none pending, another version, or one its token does not prove: asked (again), by this proof
                request.append(PromotionRequested(**base, budget_override=budget_override, identity=identity))
        rollout = state.rollout
        if rollout is not None and rollout.phase.active and rollout.version == version and rollout.started_by == actor:
            return Decision(already=f"{actor} already started {version} in {environment} ({rollout.phase.value})")
        override = override_reason(budget_override)
        for rule in _ENTRY_RULES:
            refusal = rule(self, env, version, actor, at, budget_spent, override, budget_detail, identity)
            if refusal is not None:
                return Decision(tuple(request), refusal)
        kind = strategy or env.strategy
        overridden = override if budget_spent else None
        stages, validation, timings = progress.plan(self._strategy(env, kind))
        started = RolloutStarted(
            stages=stages,
            validation=validation,
            timings=timings,
            **base,
            reason=f"{overridden} (overrides the spent error budget: {budget_detail or 'said to be spent'})"
            if overridden
            else "",
            strategy=kind,
            previous=state.current,
            budget_override=overridden,
            identity=identity,
        )
        return Decision((*request, started, *self._first_step(env, kind, version, actor, at)))

    def approve(
        self,
        version: str,
        environment: str,
        *,
        actor: str,
        at: datetime,
        group: str | None = None,
        identity: VerifiedIdentity | None = None,
    ) -> Decision:
        """An approval by *actor* for the pending request (or the blue-green business validation).

        ``identity`` is how *actor* was verified (``None``: a name, refused where the environment's policy asks for
        verified people). A verified approval is recorded with its evidence; its run approves once (rule
        ``approval-replay``: a second approval from the same run, of anything, and any approval from a re-run
        attempt, which GitHub gives the original actor's identity whoever re-ran it). Membership and self-approval
        are judged on the account id where both sides have one.
        """
        env = self.platform.environment(environment)
        if not env.approvers:
            return _refuse("approval-not-required", f"{environment} requires no approval")
        if (refusal := _identity_refusal(env, actor, identity, "approvals")) is not None:
            return Decision(refusal=refusal)
        if identity is not None and identity.run_attempt != "1":
            return _refuse(
                "approval-replay",
                f"run {identity.run_id} attempt {identity.run_attempt} is a re-run: GitHub gives a re-run the "
                "identity of the run's first actor, whoever re-ran it; approve from a new run",
            )
        decision = self._approve(version, environment, actor=actor, at=at, group=group, identity=identity)
        if identity is not None and not decision.already and self._ran(identity.run):
            return _refuse(
                "approval-replay",
                f"run {identity.run_id} of {identity.repository} already approved in {self.service}: a run approves "
                "once; approve from a new run",
            )
        return decision

    def _ran(self, run: str) -> bool:
        return any(run in state.approval_runs for state in self.environments.values())

    def _approve(  # noqa: PLR0911 - each refusal names its rule
        self,
        version: str,
        environment: str,
        *,
        actor: str,
        at: datetime,
        group: str | None,
        identity: VerifiedIdentity | None,
    ) -> Decision:
        env = self.platform.environment(environment)
        state = self.environments[environment]
        user_id = identity.user_id if identity else None
        groups = [g for g in env.approvers if group is None or g == group]
        member_of = (
            [g for g in groups if self.platform.approver_group(g).includes(actor, user_id)]
            if self.platform.approver_groups
            else []
        )
        if group is not None and group not in env.approvers:
            return _refuse(
                "approver-membership", f"{environment} takes approvals from {', '.join(env.approvers)}, not {group}"
            )
        if not member_of:
            return _refuse("approver-membership", _not_a_member(self.platform, groups, actor, user_id, environment))
        rollout = state.rollout
        if rollout and rollout.phase is Phase.AWAITING_APPROVAL and rollout.version == version:
            step = rollout.waiting_for
            assert step is not None  # a rollout awaits approval only of the step its AwaitingApproval names
            if same_actor(rollout.started_by, rollout.started_by_id, actor, user_id):
                return _refuse("self-approval", f"{actor} started this rollout and cannot approve its {step}")
            granted = ApprovalGranted(
                **self._base(environment, version, actor, at), group=member_of[0], step=step, identity=identity
            )
            approved = attrs.evolve(rollout, phase=Phase.PROGRESSING, approved_steps=rollout.approved_steps | {step})
            return Decision((granted, *self._continue_blue_green(env, approved, actor, at)))
        if (  # a retry of a step approval that took effect: the rollout went on
            rollout
            and rollout.version == version
            and (state.requested is None or state.requested.version != version)
            and (
                approved_step := next((s for s, who in sorted(rollout.step_approvals) if same_person(who, actor)), None)
            )
        ):
            return Decision(
                already=f"{actor} already approved {approved_step} of {version} in {environment} "
                f"({rollout.phase.value})"
            )
        if state.requested is None or state.requested.version != version:
            pending = state.requested.version if state.requested else "none"
            return _refuse(
                "approval-target", f"no promotion of {version} into {environment} is pending (pending: {pending})"
            )
        requested = state.requested
        if (problem := self.request_problem(environment)) is not None:
            return _refuse(
                "approval-target",
                f"the promotion of {version} into {environment} was asked for as {requested.requested_by}, and that "
                f"request is not proven ({problem}): it is asked for again by the next promotion (findly-infra "
                f"promote {self.service} {version} --to {environment}); approve after it",
            )
        if same_actor(requested.requested_by, requested.requested_by_id, actor, user_id):
            return _refuse("self-approval", f"{actor} asked for this promotion and cannot approve it")
        count = self.count(environment, version, at)  # judged under the policy in force, as the promotion will be
        if any(same_actor(a.approver, a.approver_id, actor, user_id) for a in count.valid):  # a retry: it stands
            return Decision(already=f"{actor} already approved {version} for {environment}")
        open_groups = [g for g in member_of if g not in {a.group for a in count.counted}]
        if not open_groups:
            return _refuse("distinct-approvers", f"{', '.join(member_of)} already approved {version} for {environment}")
        base = self._base(environment, version, actor, at)
        return Decision((ApprovalGranted(**base, group=open_groups[0], identity=identity),))

    def analyze(
        self,
        environment: str,
        verdict: Verdict,
        *,
        actor: str,
        at: datetime,
        readings: tuple[MetricReading, ...] = (),
    ) -> Decision:
        """Record one analysis of the rollout in *environment* and take the decision it leads to."""
        env = self.platform.environment(environment)
        rollout = self.environments[environment].rollout
        if rollout is None or rollout.phase is not Phase.PROGRESSING:
            return _refuse("rollout-progressing", f"no rollout is progressing in {environment}")
        strategy = self._strategy(env, rollout.strategy)
        if (
            isinstance(strategy, CanaryStrategy)
            and not rollout.stages  # a rollout that recorded its plan keeps it, whatever the file says now
            and rollout.step >= len(strategy.traffic_progression)
        ):
            return _refuse(
                "strategy-changed",
                f"the canary of {rollout.version} in {environment} is at stage {rollout.step + 1}, which the platform "
                f"file no longer has ({len(strategy.traffic_progression)} stages now): restore its stages, or end it "
                f"by hand (findly-infra resume|abort|rollback {self.service} --env {environment})",
            )
        base = self._base(environment, rollout.version, actor, at)
        recorded = AnalysisRecorded(**base, verdict=verdict, readings=readings)
        return Decision((recorded, *self._after_analysis(env, rollout, verdict, actor, at)))

    def pause(self, environment: str, *, actor: str, at: datetime, reason: str) -> Decision:
        rollout = self.environments[environment].rollout
        if rollout is not None and rollout.phase is Phase.PAUSED:
            return Decision(already=f"{rollout.version} is already paused in {environment} ({rollout.reason})")
        if rollout is None or rollout.phase not in (Phase.PROGRESSING, Phase.AWAITING_APPROVAL):
            return _refuse("rollout-progressing", f"no rollout is progressing in {environment}")
        return Decision((RolloutPaused(**self._base(environment, rollout.version, actor, at), reason=reason),))

    def resume(self, environment: str, *, actor: str, at: datetime, reason: str = "") -> Decision:
        rollout = self.environments[environment].rollout
        if rollout is not None and rollout.phase is not Phase.PAUSED and rollout.resumed_by == actor:  # a retry
            return Decision(
                already=f"{actor} already resumed {rollout.version} in {environment} ({rollout.phase.value})"
            )
        if rollout is None or rollout.phase is not Phase.PAUSED:
            return _refuse("rollout-paused", f"no rollout is paused in {environment}")
        return Decision((RolloutResumed(**self._base(environment, rollout.version, actor, at), reason=reason),))

    def abort(self, environment: str, *, actor: str, at: datetime, reason: str) -> Decision:
        rollout = self.environments[environment].rollout
        if rollout is not None and rollout.phase is Phase.ABORTED:
            return Decision(already=f"{rollout.version} is already aborted in {environment} ({rollout.reason})")
        if rollout is None or not rollout.phase.active:
            return _refuse("rollout-active", f"no rollout to abort in {environment}")
        return Decision((RolloutAborted(**self._base(environment, rollout.version, actor, at), reason=reason),))

    def workload_failed(self, environment: str, *, actor: str, at: datetime, reason: str) -> Decision:
        """The cluster could not run the rollout's version — its Deployment passed its progress deadline: a failed
        step, acted on as a failed analysis at its threshold is: rolled back where rollback is automatic, else
        paused for a person. *reason* is the cluster's."""
        env = self.platform.environment(environment)
        rollout = self.environments[environment].rollout
        if rollout is None or rollout.phase is not Phase.PROGRESSING:
            return _refuse("rollout-progressing", f"no rollout is progressing in {environment}")
        base = self._base(environment, rollout.version, actor, at)
        why = f"the cluster could not run {rollout.version}: {reason}"
        if env.rollback_capability is RollbackCapability.AUTOMATIC:
            return Decision((RolledBack(**base, reason=why, restored=rollout.previous),))
        return Decision((RolloutPaused(**base, reason=f"{why}; rollback is manual here"),))

    def rollback(self, environment: str, *, actor: str, at: datetime, reason: str) -> Decision:
        """Return all traffic to the previous version — allowed from every phase of an active rollout."""
        rollout = self.environments[environment].rollout
        if rollout is None or not rollout.phase.active:
            return _refuse("rollout-active", f"no rollout to roll back in {environment}")
        base = self._base(environment, rollout.version, actor, at)
        return Decision((RolledBack(**base, reason=reason, restored=rollout.previous),))

    def return_to(self, environment: str, version: str, *, actor: str, at: datetime, reason: str) -> Decision:
        """Return *environment* to *version* — a release returning one of its parts (``domain.releases``): the
        rollout under way there is rolled back (as :meth:`rollback`), and a rollout that succeeded there is undone
        when it replaced *version* (a :class:`RolledBack` of it, ``restored`` *version*: *version* is ``current``
        again, let in by the rollout that let it in before). No new approval: *version* served there before, and
        before a bound cluster is moved to it, its own entry must still be proven (:meth:`entry_refusal`).
        Already so (*version* serves, nothing under way): ``already``. Otherwise refused (rule ``return-target``)."""
        state = self.state(environment)
        rollout = state.rollout
        if rollout is not None and rollout.phase.active:
            if rollout.previous != version:
                return _refuse(
                    "return-target",
                    f"the rollout of {rollout.version} under way in {environment} would return to "
                    f"{rollout.previous or 'nothing'}, not {version}",
                )
            return self.rollback(environment, actor=actor, at=at, reason=reason)
        if state.current == version:
            latest = f" (the latest rollout, of {rollout.version}, {rollout.phase.value})" if rollout else ""
            return Decision(already=f"{version} already serves {environment}{latest}")
        if rollout is not None and rollout.phase is Phase.SUCCEEDED and rollout.previous == version:
            base = self._base(environment, rollout.version, actor, at)
            return Decision((RolledBack(**base, reason=reason, restored=version),))
        return _refuse(
            "return-target",
            f"{environment} serves {state.current or 'nothing'}, and its latest rollout did not replace {version}: "
            f"nothing returns it to {version}",
        )

    # ---- rollout mechanics ---------------------------------------------------------------------

    def _base(self, environment: str, version: str, actor: str, at: datetime) -> progress.Base:
        return {"service": self.service, "environment": environment, "version": version, "at": at, "actor": actor}

    def _strategy(self, env: Environment, kind: StrategyKind) -> CanaryStrategy | BlueGreenStrategy | RollingStrategy:
        return self.platform.strategy_for(
            env.name,  # pragma: no mutate (equivalent: a kind is always given, so the name is never read)
            kind,
        )

    def _first_step(
        self, env: Environment, kind: StrategyKind, version: str, actor: str, at: datetime
    ) -> tuple[Event, ...]:
        return progress.first_step(self._strategy(env, kind), self._base(env.name, version, actor, at))

    def _after_analysis(
        self, env: Environment, rollout: Rollout, verdict: Verdict, actor: str, at: datetime
    ) -> tuple[Event, ...]:
        """What an analysis leads to: a failure or doubt counted (and acted on at its limit), else progress."""
        strategy = self._strategy(env, rollout.strategy)
        base = self._base(env.name, rollout.version, actor, at)
        if verdict is Verdict.FAIL:
            return progress.after_failure(strategy, env, rollout, base)
        if verdict is Verdict.INCONCLUSIVE:
            return progress.after_doubt(strategy, rollout, base)
        return self._progress(env, rollout, strategy, base, at)

    def _progress(
        self,
        env: Environment,
        rollout: Rollout,
        strategy: CanaryStrategy | BlueGreenStrategy | RollingStrategy,
        base: progress.Base,
        at: datetime,
    ) -> tuple[Event, ...]:
        """After a passing analysis: one policy per strategy (``domain/progress.py``)."""
        if isinstance(strategy, RollingStrategy):
            return progress.rolling(strategy, rollout, base, at)
        if isinstance(strategy, CanaryStrategy):
            return progress.canary(strategy, rollout, base, at)
        return progress.blue_green(strategy, rollout, self.records(env.name, rollout.version), base, at)

    def _continue_blue_green(self, env: Environment, rollout: Rollout, actor: str, at: datetime) -> tuple[Event, ...]:
        strategy = self._strategy(env, rollout.strategy)  # the rollout's own kind: blue-green, awaiting a step
        assert isinstance(strategy, BlueGreenStrategy)
        base = self._base(env.name, rollout.version, actor, at)
        return progress.blue_green_validation(strategy, rollout, self.records(env.name, rollout.version), base, at)


def _plan_change(
    rollout: Rollout, now: CanaryStrategy | BlueGreenStrategy | RollingStrategy
) -> tuple[list[str], list[str]]:
    """What of its recorded plan the file now says otherwise: what the rollout keeps, and what the file says
    (both empty: nothing changed, or nothing was recorded)."""
    stages, validation, timings = progress.plan(now)
    kept, said = [], []
    if rollout.stages and stages != rollout.stages:
        kept.append(f"the {len(rollout.stages)} canary stages")
        said.append(f"{len(stages)} stages")
    if rollout.validation and validation != rollout.validation:
        kept.append(f"the validation steps ({', '.join(name for name, _ in rollout.validation)})")
        said.append(f"({', '.join(name for name, _ in validation)})")
    current = dict(timings)
    for name, ms in rollout.timings:
        if current.get(name, ms) != ms:
            kept.append(f"the {name.replace('_', ' ')} of {Duration(ms).describe()}")
            said.append(f"{name.replace('_', ' ')} of {Duration(current[name]).describe()}")
    return kept, said


def _proven_at(
    policy: EnvironmentPolicy, proofs: Proofs | None, identity: VerifiedIdentity | None, subject: tuple[str, str, str]
) -> datetime | str:
    """When *identity*'s promote token was issued, where it proves *identity* for *subject*; else why not."""
    if proofs is None:
        return "its starter's proof was not checked"
    found = proofs.of(identity, policy.issuer, purpose_audience(policy.audience, PROMOTE, *subject))
    if not isinstance(found, Proven):
        return f"its starter's token does not prove it: {found.reason}"
    if identity is not None and not same_person(found.identity.login, identity.login):
        return f"its starter's token proves {found.identity.login}, not {identity.login}"
    return found.issued_at


def _identity_refusal(env: Environment, actor: str, identity: VerifiedIdentity | None, what: str) -> Refusal | None:
    """Why *actor* (verified as *identity*, or a bare name) does not count for *what* in *env*, or ``None``."""
    if identity is not None and not same_person(identity.login, actor):
        return Refusal("verified-identity", f"{actor} is acting, but the token proves {identity.login}")
    if not env.identity.verified:
        return None
    if identity is None:
        return Refusal(
            "verified-identity",
            f"{env.name} takes {what} only from a verified GitHub identity (a GitHub Actions run's OIDC token): "
            f"{actor} is a name, not a proof",
        )
    problem = env.identity.refusal(identity)
    if problem is not None:
        return Refusal(
            "identity-source", f"{identity.login} is verified, but {env.name} takes no {what} from here: {problem}"
        )
    return None


def _not_a_member(platform: Platform, groups: list[str], actor: str, user_id: str | None, environment: str) -> str:
    message = f"{actor} belongs to none of {', '.join(groups)}, who approve {environment}"
    if user_id is None:  # by name: a member by login would have been one
        return message
    if not platform.approver_groups:
        return message
    for name in groups:
        group = platform.approver_group(name)
        known = next((group.id_of(m) for m in group.members if same_person(m, actor) and group.id_of(m)), None)
        if known is not None and known != user_id:
            return (
                f"{message}: the file gives {actor} in {name} the id {known}, and this is account {user_id} (a login "
                "renamed and taken by another account?)"
            )
    return message


# ---- entry rules -------------------------------------------------------------------------------

EntryRule = Callable[..., Refusal | None]


def _from_previous(pipeline: DeploymentPipeline, env: Environment, version: str, *_: object) -> Refusal | None:
    """A version enters an environment only after succeeding in the one before it."""
    previous = pipeline.platform.previous_environment(env.name)
    if previous is not None and version not in pipeline.records(previous.name, version).succeeded:
        return Refusal(
            "promotion-order", f"{version} has not succeeded in {previous.name}, which comes before {env.name}"
        )
    return None


def _tests_passed(pipeline: DeploymentPipeline, env: Environment, version: str, *_: object) -> Refusal | None:
    """Leaving an environment needs every suite it lists, passed for that exact version."""
    previous = pipeline.platform.previous_environment(env.name)
    if previous is None:
        return None
    state = pipeline.records(previous.name, version)
    missing = [
        suite
        for suite in previous.tests
        if suite not in ROLLOUT_RECORDED_EVIDENCE and not state.has_passed(version, suite)
    ]
    if missing:
        return Refusal("required-tests", f"{version} has not passed {', '.join(missing)} in {previous.name}")
    return None


def _one_at_a_time(pipeline: DeploymentPipeline, env: Environment, *_: object) -> Refusal | None:
    rollout = pipeline.environments[env.name].rollout
    if rollout is not None and rollout.phase.active:
        return Refusal(
            "one-rollout-at-a-time", f"{rollout.version} is still rolling out in {env.name} ({rollout.phase.value})"
        )
    return None


def _approved(  # noqa: PLR0917 - an entry rule's arguments
    pipeline: DeploymentPipeline,
    env: Environment,
    version: str,
    actor: str,
    at: datetime,
    _spent: bool,
    _override: str | None,
    _detail: str,
    identity: VerifiedIdentity | None,
) -> Refusal | None:
    """One approval from each listed group, by distinct people, none of them the requester nor the one promoting now,
    unexpired — each judged when counted, under the policy in force (``domain.approvals``)."""
    if not pipeline.policy_of(env.name).approval_required:
        return None
    promoter = (actor, identity.user_id if identity is not None else None)
    count = pipeline.count(env.name, version, at, promoter=promoter)
    if count.missing:
        return Refusal(
            "approvals",
            f"{version} needs {needed_text(count.missing)} to enter {env.name}" + count.describe_discounted(),
        )
    return None


def _budget(
    _pipeline: DeploymentPipeline,
    env: Environment,
    version: str,
    _actor: str,
    _at: datetime,
    budget_spent: bool,
    override: str | None,
    detail: str,
    *_: object,
) -> Refusal | None:
    """A spent error budget lets a version in only with a recorded reason."""
    if budget_spent and override is None:
        spent = f" ({detail})" if detail else ""
        return Refusal(
            "error-budget",
            f"{env.name}'s error budget is spent{spent}: promote {version} only with a recorded override reason",
        )
    return None


_BLANK = EnvironmentState()
"""The state of an environment before its first event."""
_ENTRY_RULES: tuple[EntryRule, ...] = (_one_at_a_time, _from_previous, _tests_passed, _approved, _budget)
_PIPELINE_FIELDS = tuple(field.name for field in attrs.fields(DeploymentPipeline))
