"""Releases of several services (``domain.releases``), as use cases composed on :class:`PipelineService`: each part's
rollout stays its service's own — requested, approved, started, analysed and rolled back by the pipeline's use cases,
under its environment's rules and strategy — and the release records, in its own stream (``_releases``), what it
decided before it acts on a service.

The order that makes a release crash-safe: every step of :meth:`ReleaseService.advance` records its intent in the
release stream first (at the stream's expected version, decided again on a concurrent write), then acts on a service
through an idempotent use case (a rollout already started, a return already made, say so). A release killed at any
write is advanced again from what the release stream and each part's service show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

import attrs

from findly_infra.application.ports import BadInputError, ConcurrencyError, LeaseLostError, Leases, StateError
from findly_infra.application.service import (
    Outcome,
    PipelineService,
    PolicyRefusedError,
    check_input,
    rehearsal_refusal,
)
from findly_infra.domain.errors import InvariantError
from findly_infra.domain.events import Event, RolledBack, RolloutAborted, RolloutStarted, RolloutSucceeded
from findly_infra.domain.identity import VerifiedIdentity
from findly_infra.domain.lease import Fence
from findly_infra.domain.platform import UnknownNameError
from findly_infra.domain.policy import EnvironmentPolicy
from findly_infra.domain.refusal import Refusal
from findly_infra.domain.releases import (
    RELEASE_STREAM,
    PartObservation,
    PartState,
    PartStatus,
    Release,
    ReleaseAction,
    ReleaseActionKind,
    ReleaseCreated,
    ReleaseInEnvironment,
    ReleasePart,
    ReleasePartDone,
    ReleasePartFailed,
    ReleasePartReturned,
    ReleasePhase,
    ReleaseStep,
    release_approval,
    releases,
)
from findly_infra.domain.state import Phase

__all__ = ["ReleaseProgress", "ReleaseService", "parse_parts", "parts_of"]

_ASKED = "approvals"
"""The rule a promotion into an environment that needs approval is refused by, until it is approved: the request is
recorded all the same (``DeploymentPipeline.deploy``)."""


def parse_parts(words: Iterable[str], *, where: str = "the command line") -> tuple[ReleasePart, ...]:
    """``SERVICE=VERSION`` words as a release's parts; raises :class:`BadInputError` naming the word and *where*."""
    parts = []
    for word in words:
        service, sep, version = word.partition("=")
        if not sep or not service.strip() or not version.strip():
            raise BadInputError(f"{where}: {word!r} is not SERVICE=VERSION")
        parts.append(ReleasePart(service.strip(), version.strip()))
    return tuple(parts)


@attrs.frozen
class ReleaseProgress:
    """Where a release stands in an environment after a command: *state* ``done`` (it succeeded there), ``rolled_back``
    (returned as a whole), ``stopped`` (it waits for a person: *waiting* says for what and how), ``progressing``
    (steps remain: ``release step`` or ``watch`` again); *events* are what the command recorded in the release stream,
    *outcomes* what it did to each part's service (in order)."""

    release: Release
    environment: str
    state: Literal["done", "rolled_back", "stopped", "progressing"]
    events: tuple[Event, ...] = ()
    outcomes: tuple[tuple[str, Outcome], ...] = ()
    waiting: str | None = None
    already: str | None = None

    @property
    def here(self) -> ReleaseInEnvironment | None:
        return self.release.environments.get(self.environment)


@attrs.define
class ReleaseService:
    """The release use cases, on one platform's :class:`PipelineService` (its store, clock and rules)."""

    pipelines: PipelineService
    attempts: int = 8
    """How many times a release decides again when another command changed the release stream meanwhile."""
    max_actions: int = 1000
    """A bound on the actions one command takes (a release of N parts needs about 3N): past it, a bug, said."""

    # ---- reading ---------------------------------------------------------------------------------------------------

    def _read(self) -> tuple[dict[str, Release], int, datetime | None]:
        events, version = self.pipelines.store.load(RELEASE_STREAM)
        latest = max((event.at for event in events), default=None)
        return releases(events), version, latest

    def releases(self) -> dict[str, Release]:
        """Every release recorded, by name, in the order they were created."""
        return self._read()[0]

    def release(self, name: str) -> Release:
        found = self.releases().get(name)
        if found is None:
            raise BadInputError(f"no release named {name!r} (findly-infra release create {name} SERVICE=VERSION...)")
        return found

    def history(self, name: str) -> list[Event]:
        """The release stream's events of release *name*, oldest first."""
        self.release(name)
        events, _ = self.pipelines.store.load(RELEASE_STREAM)
        return [event for event in events if getattr(event, "release", None) == name]

    def part_history(self, name: str) -> dict[str, list[Event]]:
        """Each part's events of the version it releases (its service's stream), by service in rollout order."""
        release = self.release(name)
        return {
            part.service: [event for event in self.pipelines.history(part.service) if event.version == part.version]
            for part in release.parts
        }

    def observe(self, release: Release, environment: str) -> dict[str, PartObservation]:
        """What each part's service shows in *environment* (and, for a part started whose service's latest rollout
        is not its own, how its own rollout ended: :attr:`PartObservation.own`)."""
        found = {}
        here = release.environments.get(environment)
        for part in release.parts:
            state = self.pipelines.pipeline(part.service).environments.get(environment)
            seen = PartObservation.of(part.service, state) if state is not None else PartObservation(part.service)
            held = here.part(part.service) if here is not None else None
            if held is not None and held.status is PartStatus.STARTED and not held.owns(seen):
                own, why = self._own_outcome(part.service, environment, held)
                seen = attrs.evolve(seen, own=own, own_reason=why)
            found[part.service] = seen
        return found

    def _own_outcome(self, service: str, environment: str, part: PartState) -> tuple[Phase | None, str]:
        """How the first rollout of *part*'s version in *service*'s history since the part was started ended, when
        another rollout came after it (``None``: none such)."""
        if part.started_at is None:
            return None, ""
        own = False
        for event in self.pipelines.history(service):
            if event.environment != environment or event.at < part.started_at:
                continue
            if isinstance(event, RolloutStarted):
                if own:
                    return None, ""  # it ended neither way before the next one started
                own = event.version == part.version
            elif own and isinstance(event, RolledBack):
                return Phase.ROLLED_BACK, event.reason
            elif own and isinstance(event, RolloutAborted):
                return Phase.ABORTED, event.reason
            elif own and isinstance(event, RolloutSucceeded):
                return Phase.SUCCEEDED, ""
        return None, ""

    def waiting_for(self, release: Release, environment: str) -> str | None:
        """What the release waits for from a person in *environment* (``None``: nothing)."""
        here = release.environments.get(environment)
        if here is None or not here.phase.under_way:
            return None
        env = self.pipelines.platform.environment(environment)
        for part in here.parts:
            if part.status in (
                PartStatus.DONE,
                PartStatus.UNCHANGED,
                PartStatus.RETURNED,
                PartStatus.LEFT,
                PartStatus.FAILED,
            ):
                continue
            view = self.pipelines.view(part.service, environment)
            rollout = view.rollout
            under_way = rollout is not None and rollout.version == part.version and view.phase.active
            if under_way and view.phase.stopped_for_a_person and view.waiting_for is not None:
                also = (
                    f"; or, for the release: findly-infra release approve {release.name} --environment {environment}"
                    if view.phase is Phase.AWAITING_APPROVAL
                    else ""
                )
                return f"{part.service} {part.version}: {view.waiting_for.message}{also}"
            pipeline = self.pipelines.pipeline(part.service)
            if not under_way and pipeline.environments[environment].current == part.version:
                continue  # it serves the version already: nothing to approve, nothing to roll out
            if not under_way and env.approval_required and here.phase is ReleasePhase.ROLLING_OUT:
                count = release_approval(self.policy_of(release, env.name), release.name, here, self._now())
                if count.missing:
                    return (
                        f"an approval of release {release.name} for {environment} from {', '.join(count.missing)} "
                        f"before {part.service} {part.version} starts{count.describe_discounted()} "
                        f"(findly-infra release approve {release.name} --environment {environment})"
                    )
            if not under_way and part.status is PartStatus.STARTED:  # its start was refused: what for, said
                return self._evidence(release, here, part, env.name)
            return None
        replaced = release.replaced(environment, self.observe(release, environment))
        return replaced.message if replaced is not None else None

    def _evidence(self, release: Release, here: ReleaseInEnvironment, part: PartState, environment: str) -> str | None:
        """The evidence *part*'s start waits for (rule ``required-tests``: the suites of the environment before, which
        CI records), judged as its deploy will be — a dry run of ``DeploymentPipeline.deploy``, nothing recorded —;
        ``None``: none missing. The command that met it was refused (exit 3, the rule named, as ``deploy`` is);
        ``release status`` says what it waits for."""
        pipeline = self.pipelines.pipeline(part.service, (part.version,))
        decision = pipeline.deploy(part.version, environment, actor=here.entered_by, at=pipeline.stamp(self._now()))
        refusal = decision.refusal
        if refusal is None or refusal.rule != "required-tests":
            return None
        previous = self.pipelines.platform.previous_environment(environment)
        before = previous.name if previous is not None else "the environment before"
        return (
            f"{part.service} {part.version}: evidence (refused by required-tests: {refusal.message}; CI records each "
            f"suite: findly-infra record {part.service} {part.version} --env {before} --suite SUITE --passed, then "
            f"findly-infra release watch {release.name} --environment {environment})"
        )

    def policy_of(self, release: Release, environment: str) -> EnvironmentPolicy:
        """The policy *release*'s approvals into *environment* are counted under: the one in force (as each part's
        pipeline is judged by), else the platform file's."""
        return self.pipelines.pipeline(release.services[0]).policy_of(environment)

    # ---- recording -------------------------------------------------------------------------------------------------

    def _leases(self) -> Leases | None:
        store = self.pipelines.store
        return store if self.pipelines.holder and isinstance(store, Leases) else None

    def _wall(self) -> datetime:
        wall = self.pipelines.wall
        return wall.now() if wall is not None else datetime.now(UTC).replace(tzinfo=None)

    def _lead(self, environment: str) -> Fence | None:
        """Take (or renew) the release's lease in *environment* — ``_releases`` in the state's leases, as
        ``PipelineService`` takes a rollout's — and return the fence its writes to the release stream carry (``None``:
        no leases kept). One runner acts on a release at a time: another live holder (a second schedule, a CI retry,
        a watch still running) refuses this one, rule ``release-lease``; one whose process is known dead, or whose
        lease ran out, is taken over, and its later writes are fenced out (it stops). Renewed before every action on
        a service, so that a runner that lost the lease while it waited acts on no service after."""
        leases = self._leases()
        if leases is None:
            return None
        holder = self.pipelines.holder
        ttl = self.pipelines.lease_ttl or timedelta(minutes=2)
        lease = leases.acquire(RELEASE_STREAM, environment, holder, now=self._wall(), ttl=ttl)
        if lease.holder != holder and self.pipelines.dead(lease):
            lease = leases.acquire(
                RELEASE_STREAM, environment, holder, now=self._wall(), ttl=ttl, replacing=lease.holder
            )
        if lease.holder != holder:
            raise PolicyRefusedError(
                Refusal(
                    "release-lease",
                    f"the release in {environment} is driven by {lease.describe()}: one runner at a time (it goes on "
                    f"from where that one leaves it once its lease is given up or runs out)",
                )
            )
        return lease.fence(environment)

    def _let_go(self, environment: str) -> None:
        leases = self._leases()
        if leases is not None:
            leases.release(RELEASE_STREAM, environment, self.pipelines.holder)

    def _now(self, latest: datetime | None = None) -> datetime:
        now = self.pipelines.clock.now()
        return now if latest is None or now >= latest else latest

    def _record(
        self, decide: Callable[[dict[str, Release], datetime], ReleaseStep], *, fence: Fence | None = None
    ) -> tuple[ReleaseStep, dict[str, Release]]:
        """Decide on the release stream as it is, record the step's events at the stream's version (decided again
        when another command wrote meanwhile), and return the step with the releases after it. A refusal raises
        :class:`PolicyRefusedError` (nothing recorded)."""
        for attempt in range(1, self.attempts + 1):
            found, version, latest = self._read()
            step = decide(found, self._now(latest))
            if step.refusal is not None:
                raise PolicyRefusedError(step.refusal)
            if not step.events:
                return step, found
            try:
                self.pipelines.store.append(RELEASE_STREAM, version, step.events, fence=fence)
            except ConcurrencyError:
                if attempt == self.attempts:
                    raise
                continue
            for event in step.events:
                name = getattr(event, "release", "")
                if name in found:
                    found[name] = found[name].apply(event)
                elif isinstance(event, ReleaseCreated):
                    found[name] = Release.of(event)
            return step, found
        raise AssertionError("unreachable")  # pragma: no cover - the last attempt raises

    def _decided(
        self, name: str, decide: Callable[[Release, datetime], ReleaseStep], *, fence: Fence | None = None
    ) -> tuple[ReleaseStep, Release]:
        """:meth:`_record` of a decision on release *name* (bad input when there is none)."""

        def on(found: dict[str, Release], at: datetime) -> ReleaseStep:
            release = found.get(name)
            if release is None:
                raise BadInputError(
                    f"no release named {name!r} (findly-infra release create {name} SERVICE=VERSION...)"
                )
            return decide(release, at)

        step, found = self._record(on, fence=fence)
        return step, found[name]

    # ---- commands --------------------------------------------------------------------------------------------------

    def create(
        self, name: str, parts: Sequence[ReleasePart], *, actor: str, where: str = ""
    ) -> tuple[Release, str | None]:
        """Name release *name* of *parts* (ordered by the platform file's ``depends_on``). The same release created
        again is answered ``already``; another with the same name is refused (rule ``release-name``). *where* names
        where the parts were given (``--file release.yaml``), for the errors."""
        check_input(actor=actor)
        for part in parts:
            place = f"{where}: services.{part.service}" if where else f"{part.service}={part.version!r}"
            try:
                self.pipelines.platform.service(part.service)
            except UnknownNameError as exc:  # bad input, naming the known ones and where it was written
                raise BadInputError(f"{place}: {exc}" if where else str(exc)) from None
            try:
                check_input(version=part.version)
            except BadInputError as exc:
                raise BadInputError(f"{place}: {exc}") from None
        try:
            wanted = Release.create(
                name, parts, self.pipelines.platform.dependencies, actor=actor, at=self.pipelines.clock.now()
            )
        except InvariantError as exc:
            raise BadInputError(str(exc)) from None
        already: str | None = None

        def decide(found: dict[str, Release], at: datetime) -> ReleaseStep:
            nonlocal already
            held = found.get(name)
            if held is not None:
                if tuple(str(part) for part in held.parts) == wanted.parts:
                    already = f"release {name} already exists ({', '.join(wanted.parts)})"
                    return ReleaseStep()
                return ReleaseStep(
                    refusal=Refusal(
                        "release-name",
                        f"release {name} already exists with other parts ({', '.join(map(str, held.parts))})",
                    )
                )
            return ReleaseStep((attrs.evolve(wanted, at=at),))

        _, found = self._record(decide)
        return found[name], already

    def promote(
        self, name: str, environment: str, *, actor: str, identity: VerifiedIdentity | None = None
    ) -> ReleaseProgress:
        """Set release *name* out into *environment* (``Release.enter``: after it succeeded in the environment before,
        one release at a time), and where the environment needs approval, ask the promotion of every part there (each
        request recorded in its service; nothing starts): the release then waits for ``release approve``."""
        check_input(actor=actor)
        env = self.pipelines.platform.environment(environment)
        _one_token_per_part(identity, env.name, "promote")
        order = self.pipelines.platform.promotion_order

        def enter(release: Release, at: datetime) -> ReleaseStep:
            others = [
                other.name
                for other in self.releases().values()
                if other.name != release.name
                and (there := other.environments.get(env.name)) is not None
                and there.phase.under_way
            ]
            return release.enter(env.name, order, others, actor=actor, at=at)

        self._promotable(self.release(name), env.name, actor=actor, identity=identity)
        step, release = self._decided(name, enter)
        already = (
            None
            if step.events
            else f"release {name} is already {release.environments[env.name].phase.value} in {env.name}"
        )
        outcomes: list[tuple[str, Outcome]] = []
        here = release.environments[env.name]
        if env.approval_required and here.phase is ReleasePhase.ROLLING_OUT:
            for part in here.parts:
                if part.status is not PartStatus.PENDING:
                    continue
                state = self.pipelines.pipeline(part.service).environments[env.name]
                if state.current == part.version or (state.requested and state.requested.version == part.version):
                    continue  # serves it already, or asked for already (a retry)
                try:
                    outcome = self.pipelines.deploy(
                        part.service, part.version, env.name, actor=actor, identity=identity
                    )
                except PolicyRefusedError as refused:
                    if refused.refusal.rule == _ASKED:  # asked for, recorded: it waits for the release's approval
                        continue
                    raise _of_part(part.service, part.version, refused) from None
                outcomes.append((part.service, outcome))
        return self._progress(release, env.name, step.events, tuple(outcomes), already=already)

    def _promotable(self, release: Release, environment: str, *, actor: str, identity: VerifiedIdentity | None) -> None:
        """Before a release enters *environment*: every part it would ask for there judged first, as its service's
        promotion would be (``DeploymentPipeline.deploy``, decided and not recorded) — a part refused by a rule other
        than the approval it waits for refuses the release, naming the part, and nothing is recorded (a release
        refused half-entered held the environment and left requests behind). The error budget is judged when each
        part starts."""
        here = release.environments.get(environment)
        if here is not None and here.phase.under_way:
            return  # entered already: a retry asks what is left
        order = self.pipelines.platform.promotion_order
        if release.enter(environment, order, actor=actor, at=self.pipelines.clock.now()).refusal is not None:
            return  # the release's own rule refuses it first (release-from-previous), in its own words
        for part in release.parts:
            pipeline = self.pipelines.pipeline(part.service)
            state = pipeline.environments[environment]
            if state.current == part.version:
                continue  # serves it already: nothing to ask
            at = pipeline.stamp(self.pipelines.clock.now())
            decision = pipeline.deploy(part.version, environment, actor=actor, at=at, identity=identity)
            if decision.refusal is not None and decision.refusal.rule not in (_ASKED, "error-budget"):
                raise _of_part(part.service, part.version, PolicyRefusedError(decision.refusal))

    def approve(
        self,
        name: str,
        environment: str,
        *,
        actor: str,
        group: str | None = None,
        identity: VerifiedIdentity | None = None,
    ) -> ReleaseProgress:
        """One person approves release *name* for *environment*: ``ReleaseApproved``, judged under the environment's
        rules (``Release.approve``: membership, distinct approvers, never who entered the release), recorded in the
        release stream only — the release's approval gates its parts (``Release.advance``), and each part's service is
        given it as the part starts. A part whose rollout awaits a manual validation step (a blue-green
        ``business_validation``) has that step approved too, by the same command: every such step judged first, with
        the release's approval, so that a refusal (naming the rule and the part) records nothing where it can be
        foreseen. Approved again: ``already``."""
        check_input(actor=actor)
        env = self.pipelines.platform.environment(environment)
        _one_token_per_part(identity, env.name, "approve")
        release = self.release(name)
        policy = self.policy_of(release, env.name)
        at = self._now()
        judged = release.approve(env.name, policy, actor=actor, at=at, group=group)
        if judged.refusal is not None:
            raise PolicyRefusedError(judged.refusal)
        here = release.environments[env.name]
        steps = [part for part in here.parts if part.status is PartStatus.STARTED and self._awaits_step(part, env.name)]
        for part in steps:  # judged first, every one, before anything is recorded
            pipeline = self.pipelines.pipeline(part.service, (part.version,))
            decision = pipeline.approve(
                part.version, env.name, actor=actor, at=pipeline.stamp(at), group=group, identity=identity
            )
            if decision.refusal is not None:
                raise _of_part(part.service, part.version, PolicyRefusedError(decision.refusal))
        step, release = self._decided(
            name, lambda release, at: release.approve(env.name, policy, actor=actor, at=at, group=group)
        )
        outcomes = []
        for part in steps:
            try:
                outcome = self.pipelines.approve(
                    part.service, part.version, env.name, actor=actor, group=group, identity=identity
                )
            except PolicyRefusedError as refused:
                raise _of_part(part.service, part.version, refused) from None
            outcomes.append((part.service, outcome))
        acted = step.events or any(outcome.events for _, outcome in outcomes)
        already = None if acted else f"{actor} already approved release {name} for {env.name}"
        return self._progress(release, env.name, step.events, tuple(outcomes), already=already)

    def _awaits_step(self, part: PartState, environment: str) -> bool:
        """Whether *part*'s rollout in *environment* awaits the approval of a manual validation step."""
        state = self.pipelines.pipeline(part.service).environments[environment]
        rollout = state.rollout
        return rollout is not None and rollout.version == part.version and rollout.phase is Phase.AWAITING_APPROVAL

    def roll_back(
        self, name: str, environment: str, *, actor: str, reason: str, wait: Callable[[timedelta], object]
    ) -> ReleaseProgress:
        """A person returns release *name* as a whole in *environment*: ``ReleaseReturning`` recorded, then each
        part it did returned, in reverse order (and a part under way rolled back first). Asked again once it is
        rolled back there (a retry, killed after its last write), it answers ``already``, as ``rollback`` of a
        service does."""
        check_input(actor=actor, reason=reason)
        env = self.pipelines.platform.environment(environment)
        here = self.release(name).environments.get(env.name)
        if here is not None and here.phase is ReleasePhase.ROLLED_BACK:
            for part in here.parts:  # the cluster brought to the log, as a retried rollback of a service does
                self.pipelines.reconcile(part.service, env.name)
            already = f"release {name} is already rolled back in {env.name}"
            return attrs.evolve(self.progress(name, env.name), already=already)
        step, _ = self._decided(
            name, lambda release, at: release.roll_back(env.name, actor=actor, at=at, reason=reason)
        )
        try:
            progress = self.run(name, env.name, actor=actor, wait=wait, watch=True)
        except PolicyRefusedError as refused:
            if refused.refusal.rule != "release-lease":
                raise
            # recorded: the runner that drives the release now returns it, and acts on nothing else meanwhile
            driven = f"release {name} is returning in {env.name}: {refused.refusal.message}"
            return attrs.evolve(self.progress(name, env.name), events=step.events, already=driven)
        return attrs.evolve(progress, events=step.events + progress.events)

    def step(self, name: str, environment: str, *, actor: str, wait: Callable[[timedelta], object]) -> ReleaseProgress:
        """Advance release *name* in *environment* as far as it goes without waiting: its parts started, done and
        returned as their services show, and one analysis of the part under way."""
        return self.run(name, environment, actor=actor, wait=wait, watch=False)

    def watch(self, name: str, environment: str, *, actor: str, wait: Callable[[timedelta], object]) -> ReleaseProgress:
        """Advance release *name* in *environment* until it succeeds, is rolled back, or waits for a person: each
        part's rollout watched to its end (``PipelineService.watch``)."""
        return self.run(name, environment, actor=actor, wait=wait, watch=True)

    def run(
        self,
        name: str,
        environment: str,
        *,
        actor: str,
        wait: Callable[[timedelta], object],
        watch: bool,
        on_action: Callable[[str, str, Outcome | None], object] | None = None,
    ) -> ReleaseProgress:
        """The release's loop: :meth:`Release.advance` on what each part's service shows, its events recorded in the
        release stream FIRST, then its action on a service (START: ``deploy``; WAIT: a step, or with *watch* the
        part's whole rollout; RETURN: ``return_to``), until it ends, waits for a person, or (without *watch*) its
        part under way was analysed once."""
        check_input(actor=actor)
        env = self.pipelines.platform.environment(environment).name
        why = self.pipelines.rehearsal
        if why is not None:  # in virtual time no bound cluster moves: refused before any intent is recorded
            refusal = rehearsal_refusal(self.pipelines.platform, self.release(name).services[0], env, why)
            if refusal is not None:
                raise refusal
        release = self.release(name)
        if env not in release.environments:
            raise PolicyRefusedError(
                Refusal(
                    "release-open",
                    f"release {name} has not entered {env} (findly-infra release promote {name} --to {env})",
                )
            )
        fence = self._lead(env)
        try:
            return self._run(release, env, actor=actor, wait=wait, watch=watch, on_action=on_action, fence=fence)
        except LeaseLostError:  # another runner took the release over: it goes on from here
            return self.progress(name, env)
        finally:
            if fence is not None:
                self._let_go(env)

    def _run(
        self,
        release: Release,
        env: str,
        *,
        actor: str,
        wait: Callable[[timedelta], object],
        watch: bool,
        on_action: Callable[[str, str, Outcome | None], object] | None,
        fence: Fence | None,
    ) -> ReleaseProgress:
        name = release.name
        recorded: list[Event] = []
        outcomes: list[tuple[str, Outcome]] = []
        stepped = ""  # without watch: the part analysed once (the command ends when it is to wait for it again)
        policy = self.policy_of(release, env)
        for _ in range(self.max_actions):
            step, release = self._decided(
                name,
                lambda rel, at: rel.advance(env, self.observe(rel, env), actor=actor, at=at, policy=policy),
                fence=fence,
            )
            recorded.extend(step.events)
            self._settle(env, step.events)
            action = step.action
            if step.waiting is not None:  # the release's approval: it waits for a person
                return self._progress(release, env, tuple(recorded), tuple(outcomes), waiting=step.waiting.message)
            if action.kind is ReleaseActionKind.NONE or (
                action.kind is ReleaseActionKind.WAIT and action.service == stepped
            ):
                return self._progress(release, env, tuple(recorded), tuple(outcomes))
            if on_action is not None:
                on_action(action.kind.value, action.service, None)
            if fence is not None:  # renewed before acting; taken over: act on nothing
                try:
                    renewed = self._lead(env)
                except PolicyRefusedError:
                    renewed = None
                if renewed != fence:
                    raise LeaseLostError(f"the release's lease in {env} was taken over")
            outcome = self._act(release, env, action, actor=actor, wait=wait, watch=watch, policy=policy)
            if isinstance(outcome, str) or outcome is None:  # it waits for a person
                waits = outcome if isinstance(outcome, str) else None
                return self._progress(release, env, tuple(recorded), tuple(outcomes), waiting=waits)
            outcomes.append((action.service, outcome))
            if action.kind is ReleaseActionKind.WAIT and not watch:
                stepped = action.service
        raise StateError(f"release {name} in {env} took more than {self.max_actions} actions in one command")

    def _settle(self, env: str, events: Sequence[Event]) -> None:
        """The cluster of each part the release just found done, failed or returned, brought to its service's log:
        a command killed between its service's append and its route left the cluster behind, and no other command of
        the release acts on that service again."""
        for event in events:
            if isinstance(event, (ReleasePartDone, ReleasePartFailed, ReleasePartReturned)):
                self.pipelines.reconcile(event.part, env)

    def _act(
        self,
        release: Release,
        env: str,
        action: ReleaseAction,
        *,
        actor: str,
        wait: Callable[[timedelta], object],
        watch: bool,
        policy: EnvironmentPolicy,
    ) -> Outcome | str | None:
        """*action* on its part's service (``None``, or what it waits for: the part waits for a person — an approval,
        a manual step)."""
        name = release.name
        service, version = action.service, action.version
        if action.kind is ReleaseActionKind.START:
            assert version is not None  # a start names its version
            return self._start(release, env, service, version, actor=actor, policy=policy)
        if action.kind is ReleaseActionKind.WAIT:
            if self.pipelines.view(service, env).phase.stopped_for_a_person:
                return None
            if watch:
                return self.pipelines.watch(service, env, actor=actor, wait=wait, version=version)
            wait(self.pipelines.interval(service, env))
            return self.pipelines.step(service, env, actor=actor, version=version)
        reason = f"release {name} is returned in {env}"  # RETURN
        if version is None:  # a first release's rollout under way: rolled back to nothing
            return self.pipelines.rollback(service, env, actor=actor, reason=reason)
        return self.pipelines.return_to(service, env, version, actor=actor, reason=reason)

    def _start(
        self, release: Release, env: str, service: str, version: str, *, actor: str, policy: EnvironmentPolicy
    ) -> Outcome | str:
        """START a part (idempotent: a rollout already started says so). Where *env* needs approval (the release's
        approval satisfied it, ``Release.advance``), the part's promotion is asked for if it is not pending (a promote
        killed before it), the release's approvals that count are recorded in the part's service — only now, as it
        starts, so a part never started holds none — and the part is started on behalf of who entered the release
        (its requester): an approver who runs ``release watch`` does not void their own approval."""
        here = release.environments[env]
        if not policy.approval_required:
            try:
                return self.pipelines.deploy(service, version, env, actor=actor)
            except PolicyRefusedError as refused:
                raise _of_part(service, version, refused) from None
        requester = here.entered_by
        state = self.pipelines.pipeline(service).environments[env]
        if state.requested is None or state.requested.version != version:
            try:
                return self.pipelines.deploy(service, version, env, actor=requester)
            except PolicyRefusedError as refused:
                if refused.refusal.rule != _ASKED:
                    raise _of_part(service, version, refused) from None
        for approval in release_approval(policy, release.name, here, self._now()).counted:
            try:
                self.pipelines.approve(service, version, env, actor=approval.approver, group=approval.group)
            except PolicyRefusedError:
                continue  # its group approved already (the deploy below counts what there is)
        try:
            return self.pipelines.deploy(service, version, env, actor=requester)
        except PolicyRefusedError as refused:
            if refused.refusal.rule == _ASKED:  # the service does not count the release's approvals: said so
                return f"{service} {version}: {refused.refusal.message}"
            raise _of_part(service, version, refused) from None

    def _progress(
        self,
        release: Release,
        environment: str,
        events: tuple[Event, ...],
        outcomes: tuple[tuple[str, Outcome], ...],
        *,
        already: str | None = None,
        waiting: str | None = None,
    ) -> ReleaseProgress:
        here = release.environments.get(environment)
        waiting = self.waiting_for(release, environment) or waiting
        if here is not None and here.phase is ReleasePhase.SUCCEEDED:
            state: Literal["done", "rolled_back", "stopped", "progressing"] = "done"
        elif here is not None and here.phase is ReleasePhase.ROLLED_BACK:
            state = "rolled_back"
        elif waiting is not None:
            state = "stopped"
        else:
            state = "progressing"
        return ReleaseProgress(release, environment, state, events, outcomes, waiting, already)

    def progress(self, name: str, environment: str) -> ReleaseProgress:
        """Where release *name* stands in *environment*, read only."""
        return self._progress(self.release(name), self.pipelines.platform.environment(environment).name, (), ())


def _one_token_per_part(identity: VerifiedIdentity | None, environment: str, what: str) -> None:
    """Where *environment* verifies identities, a GitHub token proves one action on one service's version
    (``domain.proofs.purpose_audience``): one token cannot prove a release's parts. Refused, rule
    ``verified-identity``, until a release asks for a token per part; each part goes through the single-service
    command from a run of its own."""
    if identity is not None:
        raise PolicyRefusedError(
            Refusal(
                "verified-identity",
                f"{environment} verifies identities, and a token proves one service's {what}: "
                f"{what} each part with findly-infra {what} SERVICE VERSION (a run each)",
            )
        )


def _of_part(service: str, version: str, refused: PolicyRefusedError) -> PolicyRefusedError:
    """*refused*, its message naming the part it refused (the rule stays the service's)."""
    return PolicyRefusedError(Refusal(refused.refusal.rule, f"{service} {version}: {refused.refusal.message}"))


def parts_of(mapping: Mapping[str, object], *, where: str) -> tuple[ReleasePart, ...]:
    """A release file's ``services:`` mapping as parts (each version text); :class:`BadInputError` naming *where*."""
    parts = []
    for service, version in mapping.items():
        if not isinstance(service, str) or not isinstance(version, (str, int, float)) or isinstance(version, bool):
            raise BadInputError(f"{where}: services.{service}: a version (text), got {version!r}")
        parts.append(ReleasePart(service, str(version)))
    return tuple(parts)
