"""The ports the use cases need: small Protocols, one per concern (Flagger's habit).

Adapters implement them: in memory (for tests and simulations), SQLite (the default state),
Prometheus, and later Kubernetes and GCP. The use cases never import an adapter; the composition
root (``findly_infra.bootstrap``) builds the adapters and hands them in.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import attrs

from findly_infra.domain.analysis import Observation
from findly_infra.domain.cluster import Readiness
from findly_infra.domain.events import Event
from findly_infra.domain.gitops import GitChange, GitCommit
from findly_infra.domain.gke import ClusterPlan, ClusterSpec
from findly_infra.domain.identity import VerifiedIdentity
from findly_infra.domain.lease import Fence, Lease
from findly_infra.domain.notifications import Notification
from findly_infra.domain.proofs import ProofCheck, Proven, Unproven
from findly_infra.domain.secrets import ObservedSecret
from findly_infra.domain.slo import BudgetReport, BudgetStatus
from findly_infra.domain.tracks import Holding
from findly_infra.domain.view import EnvironmentView

__all__ = [
    "AdvancingClock",
    "BadInputError",
    "Clock",
    "ClusterInfrastructure",
    "ClusterObjects",
    "ConcurrencyError",
    "Delivery",
    "DependencyError",
    "DependencyUnavailableError",
    "Dispatch",
    "DispatchState",
    "DnsRecords",
    "ErrorBudgets",
    "EventStore",
    "FieldConflictError",
    "GitRepository",
    "HandOffRefusedError",
    "IdentityProof",
    "IdentityRefusedError",
    "KeptSnapshot",
    "LeaseLostError",
    "Leases",
    "MetricsQuery",
    "MetricsRecord",
    "MetricsSource",
    "Notifier",
    "Outbox",
    "PagedStore",
    "PolicyAnchor",
    "PolicyAnchors",
    "ProofVerifier",
    "RecordSet",
    "SLOReports",
    "SecretAccess",
    "SecretStates",
    "Snapshot",
    "SnapshotStore",
    "StateError",
    "TimeKeepingStore",
    "Workloads",
]


class ConcurrencyError(Exception):
    """Raised when another writer changed a service's stream since it was read: nothing was written."""


class BadInputError(Exception):
    """Raised when what a person gave is wrong: an argument, a report that is not its format, a file that
    cannot be read. The message names the place."""


class FieldConflictError(BadInputError):
    """Raised when a server-side apply, not forced, would change fields another field manager owns (``kubectl set
    image``, ``kubectl edit``). ``conflicts`` holds each field as the server names it
    (``.spec.template.spec.containers[name="app"].image``) and the manager that owns it now."""

    def __init__(self, message: str, conflicts: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.conflicts = tuple(conflicts)


class HandOffRefusedError(BadInputError):
    """A GitOps hand-off a person refused: its pull request was closed without being merged. Nothing is proposed
    again for that rollout (exit 3, rule ``pull-request-closed``, naming *url*): reopen it, or start another
    rollout."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url


class StateError(BadInputError):
    """Raised when the state named is not a findly state, was written by a newer version, was removed or replaced
    while a command ran, or is damaged. Nothing is written to it; the message says what to do. ``readable`` holds
    the events of the stream that could be read before the damage (for ``history``)."""

    def __init__(self, message: str, readable: Sequence[Event] = ()) -> None:
        super().__init__(message)
        self.readable = tuple(readable)


class DependencyError(Exception):
    """Raised when a system we depend on (Prometheus, Kubernetes, GCP, PostgreSQL) cannot answer a request."""


class DependencyUnavailableError(DependencyError):
    """Raised by an adapter whose system cannot be reached after its retries."""


class EventStore(Protocol):
    """Per-service streams of events, appended all-or-nothing at an expected version."""

    def load(self, service: str, since: int = 0) -> tuple[list[Event], int]:
        """The service's events in order from position *since* (0: all of them), and the stream's version
        (its event count)."""
        ...

    def append(
        self, service: str, expected_version: int, events: Sequence[Event], *, fence: Fence | None = None
    ) -> int:
        """Append *events* if the stream is still at *expected_version*; return the new version.

        Raises :class:`ConcurrencyError` (and writes nothing) otherwise. With a *fence* (a driver's write, in a store
        that keeps leases): only while the lease on the rollout in ``fence.environment`` is still the one it was cut
        from, checked in the append's own transaction — else :class:`LeaseLostError`, and nothing is written.
        """
        ...


class LeaseLostError(Exception):
    """Raised when a driver's fenced write finds that the lease it was cut from is no longer held — taken over by
    another runner, or given up: nothing was written (the runner follows the new driver instead)."""


class IdentityRefusedError(Exception):
    """Raised when who is acting cannot be proven: no token can be had here, or the token does not prove anyone
    (forged, expired, for another audience or issuer, an unexpected algorithm…). The message says why, never the
    token; the command line refuses by the rule ``verified-identity`` (exit 3)."""


class IdentityProof(Protocol):
    """Who is acting, proven (a GitHub Actions run's OIDC token, requested and verified)."""

    def prove(self, audience: str | None = None) -> VerifiedIdentity:
        """The identity a fresh token proves — a token asked for *audience* (a purpose audience,
        ``domain.proofs.purpose_audience``; ``None``: the settings' own), verified for exactly that audience, and kept
        in the identity (``VerifiedIdentity.token``). Raises :class:`IdentityRefusedError` when none can be proven,
        :class:`DependencyUnavailableError` when the issuer's keys or the token endpoint cannot be reached."""
        ...


@runtime_checkable
class ProofVerifier(Protocol):
    """Checks a recorded token again, when what it proves is counted (``domain.proofs``)."""

    def verify_proof(self, check: ProofCheck) -> Proven | Unproven:
        """What *check*'s token proves: signed by a key its issuer publishes now, by that issuer, for exactly its
        audience — its expiry not required (evidence outlives a token's minutes). Never raises for a token that
        proves nothing (:class:`Unproven` says why: ``key_gone`` when its key is no longer published, ``unreachable``
        when the issuer's keys could not be read)."""
        ...


@attrs.frozen
class PolicyAnchor:
    """The adoption of the policy stream the state's owner vouches for: its position and link, when and by whom
    (``findly-infra policy anchor``)."""

    position: int
    link: str
    by: str
    at: datetime | None = None


@runtime_checkable
class PolicyAnchors(Protocol):
    """Where a store keeps the owner's anchor of the policy in force: a table only the schema's owner may write
    (PostgreSQL: the CI role is granted SELECT alone)."""

    def policy_anchor(self) -> PolicyAnchor | None:
        """The anchor (``None``: the state is not anchored)."""
        ...

    def anchor_policy(self, anchor: PolicyAnchor) -> None:
        """Keep *anchor* (replacing the last). Raises :class:`StateError` where the user may not write it."""
        ...

    def may_anchor(self) -> None:
        """Raise :class:`StateError` where the user may not write the anchor (asked before anything is written)."""
        ...


class SecretStates(Protocol):
    """What the secret store holds of a secret — its versions' states and ages, who may read it — never its value."""

    def observe(self, secret: str) -> ObservedSecret | None:
        """``None`` when the secret does not exist."""
        ...


class SecretAccess(Protocol):
    """Who may read a secret's payload: asked, and granted (``secrets grant``)."""

    def holds_access(self, secret: str, member: str) -> bool | None:
        """Whether *member* may read *secret* unconditionally; ``None`` when the secret does not exist."""
        ...

    def grant_access(self, secret: str, member: str) -> bool:
        """Let *member* read *secret*; whether anything had to change."""
        ...


@runtime_checkable
class PagedStore(Protocol):
    """A store that reads a stream a page at a time (``history`` streams long histories; ``--limit`` reads only
    the latest events)."""

    def page(self, service: str, since: int, limit: int | None) -> tuple[list[Event], int]:
        """At most *limit* events from position *since* (all with ``None``), and the stream's version."""
        ...


@runtime_checkable
class Leases(Protocol):
    """Who drives each rollout (``domain.lease``), kept in the state every runner reaches."""

    def acquire(
        self,
        service: str,
        environment: str,
        holder: str,
        *,
        now: datetime,
        ttl: timedelta,
        replacing: str | None = None,
    ) -> Lease:
        """Take the lease, or renew it when *holder* has it, for *ttl* — unless another holds a live one (but one held
        by *replacing*, a holder known to be dead, is taken over). Returns
        the lease that holds afterwards (*holder*'s when taken). Atomic: of two racing runners one gets it. A
        store shared between machines may judge expiry on its own clock rather than *now*."""
        ...

    def release(self, service: str, environment: str, holder: str) -> None:
        """Give the lease up, if *holder* has it."""
        ...

    def lease(self, service: str, environment: str) -> Lease | None:
        """The lease as it stands (possibly run out), or ``None``."""
        ...


@attrs.frozen
class Snapshot:
    """A snapshot as a store keeps it: its text at *version*, the link of event ``version - 1`` and its digest
    (``None`` for both in a snapshot written before they were kept)."""

    service: str
    version: int
    text: str
    link: str | None
    digest: str | None


@attrs.frozen
class KeptSnapshot:
    """A service's snapshot as stored, beside what the stream holds at the event it says it folds up to — read
    together, in one indexed read."""

    snapshot: Snapshot
    event_link: str | None
    """The link of the stored event at ``version - 1``; ``None`` when the stream has no such event (or one without a
    link)."""
    event_seal: str | None
    """The digest written on that event's row when the snapshot was saved; ``None`` when none was."""


@runtime_checkable
class SnapshotStore(Protocol):
    """A store that keeps each service's latest snapshot beside its stream (``application.snapshots``): derived
    data, written after the events it summarises, read instead of them — sealed by the event it folds up to."""

    def load_snapshot(self, service: str) -> KeptSnapshot | None:
        """The latest snapshot of *service* as stored, with the link and the seal of the stored event at its version
        - 1, in one indexed read (no walk); ``None`` when there is none (or the state keeps none yet)."""
        ...

    def save_snapshot(self, service: str, version: int, text: str) -> None:
        """Keep *text* as *service*'s snapshot at *version*, sealed (``application.snapshots.sealed``) with the link
        of the stored event at *version* - 1, and write its digest on that event's row — in one transaction. It
        replaces the kept one unless that one is later and sealed by its stream. Raises :class:`StateError` when the
        stream has no linked event at *version* - 1."""
        ...

    def snapshotted(self) -> list[str]:
        """Every service with a snapshot kept (with a stream or not)."""
        ...

    def records(self, service: str, version: str, before: int) -> list[Event]:
        """The events of *service*'s stream at positions before *before* that add to *version*'s records
        (``domain.state.RECORD_EVENTS``: its successes and test results, in every environment), oldest first — one
        indexed read, whatever the length of the history: what a bounded snapshot left out of *version*'s records,
        read back when a command names it (``DeploymentPipeline.with_records``)."""
        ...


@runtime_checkable
class TimeKeepingStore(Protocol):
    """A durable store that says how it keeps time: the real clock (``"wall"``) or a rehearsal's virtual clock
    (``"virtual"``), decided once by the first command that writes to it — so real and virtual times never mix
    in one history (see ``application.timekeeping.time_for``)."""

    def time_kept(self) -> str | None:
        """``"wall"``, ``"virtual"``, or ``None`` while undecided."""
        ...

    def keep_time(self, mode: str) -> str:
        """Decide the mode once; returns the one the store keeps (an earlier decision wins)."""
        ...

    def latest_time(self) -> datetime | None:
        """The latest event's time across every stream (where a rehearsal's clock resumes)."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...


@runtime_checkable
class AdvancingClock(Clock, Protocol):
    """Virtual time: it moves only when told to (simulations, replays, scripted metrics)."""

    def advance(self, delta: timedelta) -> datetime: ...


@attrs.frozen
class MetricsQuery:
    """What one analysis measures: *metrics* (and the request count) of one version of a service in an
    environment, over the window ending *at*.

    ``rollout_started`` is when the rollout under analysis began (minute 0 of a scripted scenario);
    ``candidate`` is false when the version measured is the one being replaced (for criteria relative to it).
    """

    service: str
    environment: str
    version: str
    metrics: tuple[str, ...]
    at: datetime
    rollout_started: datetime | None = None
    candidate: bool = True


class MetricsSource(Protocol):
    """Measures; never judges (the application judges, in one place: ``domain.analysis.judge``).

    A value it could not measure is NaN in the observation: no evidence, never a pass. Raises
    :class:`DependencyUnavailableError` only where the caller must know the source is down; an adapter
    may instead return an observation of NaNs, which judges as inconclusive.
    """

    def observe(self, query: MetricsQuery) -> Observation: ...

    def describe(self, metric: str, query: MetricsQuery) -> str | None:
        """How *metric* is measured for *query* (a PromQL expression), for people to check; ``None`` if scripted."""
        ...


class MetricsRecord(Protocol):
    """What a metrics source recorded over a span of time (for replays of past releases)."""

    def record(self, query: MetricsQuery, until: datetime, step: timedelta) -> list[dict[str, float]]:
        """What each analysis from ``query.at`` to *until*, one every *step*, would have read:
        ``[{"minute": m, "requests": ..., metric: ...}]`` from minute 0; NaN where nothing was recorded."""
        ...


class SLOReports(Protocol):
    """Every SLO of a service in an environment measured up to *at*: budgets, burn rates, capacity, notes."""

    def report(self, service: str, environment: str, at: datetime) -> BudgetReport: ...


class ErrorBudgets(Protocol):
    """Each error-budget SLO of a service in an environment, as measured up to *at*.

    Raises :class:`DependencyUnavailableError` when the budgets cannot be read.
    """

    def budgets(self, service: str, environment: str, at: datetime) -> tuple[BudgetStatus, ...]: ...


class ClusterObjects(Protocol):
    """A cluster's objects through its API server: applied server-side as ``findly-infra``, read, listed by label,
    deleted. Raises :class:`BadInputError` for what the server refuses as wrong (an invalid object, a kind it does
    not serve, a namespace that does not exist, a field another manager owns, a permission it does not grant) and
    :class:`DependencyUnavailableError` when it does not answer."""

    server: str
    """The API server's address (credentials never shown)."""

    def apply(self, manifest: Mapping[str, Any], *, dry_run: bool = False, force: bool = False) -> dict[str, Any]:
        """The object as the server holds it after the apply (or would, with *dry_run*)."""
        ...

    def apply_object(
        self, manifest: Mapping[str, Any], *, dry_run: bool = False, force: bool = False
    ) -> tuple[dict[str, Any], bool]:
        """As :meth:`apply`, and whether the apply created the object (or would, with *dry_run*): one request."""
        ...

    def get(self, api_version: str, kind_name: str, namespace: str, name: str) -> dict[str, Any] | None: ...

    def served(self, kinds: Iterable[tuple[str, str]]) -> set[tuple[str, str]] | None:
        """Which of *kinds* (``(apiVersion, kind)``) the cluster serves, from one discovery request; ``None`` when
        the server cannot say so at once (then ask :meth:`serves` per kind)."""
        ...

    def serves(self, api_version: str, kind_name: str, namespace: str) -> bool:
        """Whether the cluster serves the kind at all (a custom resource whose CRDs are not installed: no); asked
        in *namespace*, so that no cluster-wide permission is needed."""
        ...

    def managed(self, api_version: str, kind_name: str, namespace: str, selector: str) -> list[dict[str, Any]]:
        """The objects of a kind in *namespace* that the label *selector* selects (none: the kind is not served)."""
        ...

    def delete(
        self,
        api_version: str,
        kind_name: str,
        namespace: str,
        name: str,
        *,
        dry_run: bool = False,
        resource_version: str | None = None,
    ) -> bool:
        """Whether it deleted the object (``False``: already gone, or changed since *resource_version*, when given)."""
        ...

    def wait_ready(self, namespace: str, name: str, *, timeout: float) -> Readiness:
        """Until the Deployment is ready or has failed, or *timeout* seconds pass (then: not ready, and why)."""
        ...


class Workloads(Protocol):
    """The cluster a release acts on: for each service in each environment, which version runs on which track, ready,
    and how traffic is routed between the tracks — brought to what the event log says, and read back. Implemented on
    a real cluster's API (``application.workloads.ClusterWorkloads``) and by the simulated cluster (memory, or kept in
    the SQLite state), which the embedded default, ``demo`` and ``simulate`` use."""

    def converge(self, view: EnvironmentView, at: datetime) -> bool:
        """Bring the environment's workloads and routes to *view* (``domain.tracks.track_plan``), in the order that
        keeps traffic safe: bring up and wait until ready, route, retire. Converging twice changes nothing; returns
        whether anything had to change. Raises :class:`DependencyError` when the cluster cannot (a track that does not
        become ready: ``WorkloadNotReadyError`` with the cluster's reason)."""
        ...

    def holding(self, service: str, environment: str) -> Holding:
        """What the cluster holds now for *service* in *environment*, read back."""
        ...


class ClusterInfrastructure(Protocol):
    """GKE clusters (``adapters.gke.GkeClusters``; ``adapters.memory.MemoryClusters``): read one as the plan compares
    it, and carry a plan out (``domain.gke``)."""

    def observe(self, location: str, name: str) -> ClusterSpec | None:
        """The cluster as it is, or ``None`` when it does not exist."""
        ...

    def apply(self, plan: ClusterPlan, *, waiting: Callable[[], object] | None = None) -> Any:
        """Carry *plan* out, each operation waited for (a created cluster: until it runs); returns a report whose
        ``done`` lists each change made, as a line. Before any change — and for an EMPTY plan too — the cluster is
        waited for until it rests (``RUNNING``): one still being created (a killed run's), reconciled or deleted is
        not ready, whatever its pools say; one in ERROR or DEGRADED is refused. A create answered "already exists"
        (its first answer lost) is that cluster: waited for, not refused. *waiting* is called before each wait (the
        caller renews its lease there). Raises :class:`DependencyUnavailableError` (or a :class:`BadInputError` for a
        refusal; :class:`ConcurrencyError` when the cluster changed under the plan) naming what was and was not
        done."""
        ...


@attrs.frozen
class RecordSet:
    """One DNS record set as the zone holds it: *name* fully qualified (ending in a dot), *type*, *ttl* in seconds,
    and its data (addresses, or a name for a CNAME), in the zone's order."""

    name: str
    type: str
    ttl: int
    rrdatas: tuple[str, ...]


class DnsRecords(Protocol):
    """The DNS zone failover switches (Cloud DNS: ``adapters.cloud_dns``; ``adapters.memory.MemoryDns``)."""

    def read(self, zone: str, name: str, type: str) -> RecordSet | None:
        """The record set *name*/*type* in managed zone *zone* as it is now, or ``None``. Raises
        :class:`BadInputError` when the zone does not exist (or may not be read: the message names the permission),
        :class:`DependencyUnavailableError` when the service cannot be reached after retries."""
        ...

    def replace_all(self, zone: str, changes: Sequence[tuple[RecordSet | None, RecordSet]]) -> None:
        """Make each *new* of *changes* (``(old, new)``) the record set of its name and type, replacing *old*
        (``None``: there was none), all in ONE atomic change of *zone* — Cloud DNS's ``changes.create``
        "Atomically updates the ResourceRecordSet collection" — and wait until it is ``done``.

        A record set that already holds its *new* data (compared as Cloud DNS stores it,
        ``domain.recovery.same_dns_data``; the TTL aside) is left out of the change: a rerun sends nothing for it,
        and waits for the change that made it while that one is still pending. When any record set holds neither
        its *old* nor its *new*, nothing is sent (:class:`ConcurrencyError` naming it); when someone else's change
        lands in between, Cloud DNS refuses the whole change: nothing of it is made."""
        ...


@attrs.frozen
class Delivery:
    """What one attempt to hand a notification to a receiver came to.

    ``delivered``: the receiver accepted it (Slack's 200 ``ok``, PagerDuty's 202). Otherwise ``permanent`` says
    that sending the same thing again cannot help (a 4xx other than 408 and 429: a bad payload, a revoked
    webhook, a wrong routing key), and ``retry_after`` is the wait in seconds the receiver asked for (429's
    ``Retry-After``), if it did. ``detail`` is the receiver's status and message for ``history`` — never the URL,
    key or signature.
    """

    delivered: bool
    detail: str
    permanent: bool = False
    retry_after: float | None = None


class Notifier(Protocol):
    """One receiver (a Slack incoming webhook, a PagerDuty service, a signed webhook): formats a notification in
    its service's own format and sends it once. Never raises for the receiver's answer or its absence: every
    outcome, a refused connection included, is a :class:`Delivery`. *timeout* (seconds): what is left of the caller's
    budget — the whole exchange ends by then (or by the receiver's own timeout, if sooner), a timed-out delivery."""

    def send(self, notification: Notification, *, timeout: float | None = None) -> Delivery: ...


class DispatchState(enum.Enum):
    """Where one (notification, receiver) delivery stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    GAVE_UP = "gave_up"


@attrs.frozen
class Dispatch:
    """One notification for one receiver, as the outbox keeps it: queued once (its key is the notification's id and
    the receiver), tried ``attempts`` times, due again at ``next_attempt`` while pending; ``detail`` is the last
    attempt's outcome (the receiver's status — never a URL, key or signature), ``settled`` when it was delivered or
    given up."""

    notification: Notification
    receiver: str
    queued: datetime
    attempts: int = 0
    next_attempt: datetime | None = None
    state: DispatchState = DispatchState.PENDING
    detail: str = ""
    settled: datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.notification.id, self.receiver


@runtime_checkable
class Outbox(Protocol):
    """The state's outbox of notifications (``application.notify``): what each receiver is to be told, kept until it
    is delivered or given up, beside each service's cursor in its stream (how far its events were decided on)."""

    def notify_cursor(self, service: str) -> tuple[int, str] | None:
        """How far *service*'s events were decided on, and what the fold kept (``Incidents`` as text); ``None``:
        never (a service whose events are all new)."""
        ...

    def enqueue(self, dispatches: Sequence[Dispatch], cursor: tuple[str, int | None, int, str] | None = None) -> bool:
        """Keep each of *dispatches* whose key is not kept yet (a key kept already is left as it is), and with
        *cursor* — (service, the position it was read at or ``None`` when there was none, the new position, the
        fold's text) — move that service's cursor, all in one transaction. Returns ``False``, writing nothing, when
        the cursor is no longer where it was read (another process decided on these events first)."""
        ...

    def due(self, now: datetime, limit: int = 100, *, in_turn: bool = True) -> list[Dispatch]:
        """Pending dispatches whose next attempt is at or before *now*, the earliest first (in the order queued, where
        due together: a receiver hears of a rollout's events in the order they happened). *in_turn*: first in, first
        out per (receiver, incident) — one is not due while one of the same receiver and incident queued before it is
        pending (a resolve never overtakes its trigger); ``False``: every pending one, in or out of turn."""
        ...

    def claim(self, dispatch: Dispatch, until: datetime) -> bool:
        """Take *dispatch* for one attempt: if it is still pending at its ``attempts``, count the attempt and hold it
        until *until* (a process that dies while sending leaves it due again then). Of two processes, one wins."""
        ...

    def settle(
        self, dispatch: Dispatch, *, state: DispatchState, detail: str, at: datetime, next_attempt: datetime | None
    ) -> None:
        """Record how the attempt claimed at ``dispatch.attempts`` (counted) ended."""
        ...

    def dispatches(self, service: str | None = None, limit: int | None = None) -> list[Dispatch]:
        """What the outbox keeps (of *service*), the last queued first (at most *limit*)."""
        ...

    def paged(self, incident: str) -> tuple[str, ...]:
        """The receivers that were queued a trigger of *incident* (where its resolve must go)."""
        ...


class GitRepository(Protocol):
    """The GitOps repository an environment is promoted through (``gitops:``, ``domain.gitops``): read at the head
    of the followed branch, changed by commits (or pull requests) that carry a key, so that a retried hand-off finds
    the commit an interrupted one made instead of making a second."""

    def read(self, path: str) -> str | None:
        """*path*'s text at the head of the followed branch, fetched now (``None``: no such file)."""
        ...

    def commit(self, change: GitChange) -> GitCommit:
        """Commit *change* on the followed branch (or, with ``pull_request: true``, on a branch of its own, proposed
        in a pull request against it) and push it; a commit already carrying *change*'s key (on the branch, or on
        an open pull request's) is returned instead (``created=False``). A push refused because the branch moved is
        retried on the new head; a change that no longer applies there (someone changed the same line) raises
        :class:`BadInputError` naming the file."""
        ...

    def revert(self, commit: str, *, key: str, message: str) -> GitCommit:
        """Revert *commit* on the followed branch (or in a pull request), keyed as :meth:`commit` is."""
        ...

    def includes(self, revision: str, commit: str) -> bool | None:
        """Whether *revision* (what the controller applied) is *commit* or has it in its history; ``None``: the
        repository does not know *revision*."""
        ...

    def read_at(self, revision: str, path: str) -> str | None:
        """*path*'s text at *revision* (a commit the controller reports it applied: ``<sha>``, or Flux's
        ``main@sha1:<sha>``), fetched if need be; ``None``: no such file there, or a revision the repository does not
        know. What the controller deployed is that revision's tree, not every commit of its history."""
        ...
