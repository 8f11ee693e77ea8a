"""In-memory adapters for every port: fakes that hold real state, for tests and simulations."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from findly_infra.application.codec import event_to_dict
from findly_infra.application.integrity import GENESIS, links_for
from findly_infra.application.ports import (
    BadInputError,
    ConcurrencyError,
    Delivery,
    DependencyUnavailableError,
    Dispatch,
    DispatchState,
    KeptSnapshot,
    LeaseLostError,
    MetricsQuery,
    RecordSet,
    Snapshot,
    StateError,
)
from findly_infra.application.scenarios import HEALTHY, Scenario
from findly_infra.application.snapshots import sealed
from findly_infra.domain.analysis import Observation
from findly_infra.domain.cleanup import Leftover, cleanup_due, leftovers
from findly_infra.domain.cluster import ENVIRONMENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL
from findly_infra.domain.events import Event
from findly_infra.domain.gitops import GitChange, GitCommit
from findly_infra.domain.gke import ClusterPlan, ClusterSpec
from findly_infra.domain.lease import Fence, Lease, lease_after, released
from findly_infra.domain.notifications import Notification, PageAction
from findly_infra.domain.recovery import dns_data, same_dns_data
from findly_infra.domain.secrets import ObservedSecret
from findly_infra.domain.slo import BudgetStatus
from findly_infra.domain.state import RECORD_EVENTS
from findly_infra.domain.tracks import Holding, expected_holding
from findly_infra.domain.view import EnvironmentView

__all__ = [
    "ClustersReport",
    "MemoryClusters",
    "MemoryCommit",
    "MemoryDns",
    "MemoryErrorBudgets",
    "MemoryEventStore",
    "MemoryGitRepository",
    "MemoryNotifier",
    "MemoryOutbox",
    "MemoryPullRequest",
    "MemorySecrets",
    "ScenarioMetrics",
    "ScriptedMetrics",
    "SimulatedCluster",
    "SystemClock",
    "VirtualClock",
]


@attrs.define
class MemoryEventStore:
    """Streams in a dict; appends check the expected version like the SQLite store does.

    Nothing it keeps outlives the process, so an append only checks and keeps: each event's stored text (the JSON a
    durable store writes) and its link (``application.integrity``) are made when something first asks for them —
    :meth:`chain` (``state verify``, an export), a snapshot's seal, :attr:`links` — over the events as they were
    appended, so that they are the ones an eager store would have made at each append, and an event of ``streams``
    changed afterwards still no longer matches its link. A simulation, which never asks, never encodes nor hashes."""

    streams: dict[str, list[Event]] = attrs.field(factory=dict)
    snapshots: dict[str, Snapshot] = attrs.field(factory=dict)
    """Each service's snapshot, as a durable store keeps it (sealed: ``application.snapshots``)."""
    seals: dict[tuple[str, int], str] = attrs.field(factory=dict)
    """The digest written on an event (service, position) when a snapshot folding up to it was saved — the column
    beside the event's link in a durable store."""
    leases: dict[tuple[str, str], Lease] = attrs.field(factory=dict)
    _links: dict[str, list[str]] = attrs.field(factory=dict, alias="links")
    _unlinked: dict[str, _Unlinked] = attrs.field(factory=dict, init=False, repr=False, eq=False)
    _bodies: dict[tuple[str, int], str] = attrs.field(factory=dict, init=False, repr=False, eq=False)
    """The texts events were appended as by :meth:`append_stored` (another than today's encoding of them)."""
    """Per stream, the appends not linked yet — what :meth:`_linked` links, exactly as each append would have."""

    @property
    def links(self) -> dict[str, list[str]]:
        """Each stream's links (``application.integrity``), as made at each append: an event of ``streams`` changed
        afterwards no longer matches its link."""
        for service in list(self._unlinked):
            self._linked(service)
        return self._links

    def load(self, service: str, since: int = 0) -> tuple[list[Event], int]:
        stream = self.streams.get(service, [])
        return stream[since:], len(stream)

    def services(self) -> list[str]:
        return sorted(name for name, stream in self.streams.items() if stream)

    def page(self, service: str, since: int, limit: int | None) -> tuple[list[Event], int]:
        stream = self.streams.get(service, [])
        return stream[since : None if limit is None else since + limit], len(stream)

    def append(
        self, service: str, expected_version: int, events: Sequence[Event], *, fence: Fence | None = None
    ) -> int:
        if fence is not None and not fence.admits(self.leases.get((service, fence.environment))):
            raise LeaseLostError(fence.describe(self.leases.get((service, fence.environment))) + ": nothing written")
        stream = self.streams.get(service)
        if stream is None:
            stream = self.streams[service] = []
        if len(stream) != expected_version:
            raise ConcurrencyError(f"{service} changed: at version {len(stream)}, not {expected_version}")
        unlinked = self._unlinked.get(service)
        if unlinked is None:
            unlinked = self._unlinked[service] = _Unlinked(len(self._links.get(service, ())))
        if unlinked.through < len(stream):  # events given when the store was made: linked as a migration would
            unlinked.appends.append((unlinked.through, stream[unlinked.through :]))
            unlinked.through = len(stream)
        kept = tuple(events)
        unlinked.appends.append((expected_version, kept))
        unlinked.through += len(kept)
        stream.extend(kept)
        return len(stream)

    def append_stored(self, service: str, expected_version: int, events: Sequence[Event], bodies: Sequence[str]) -> int:
        """Append *events* stored as the texts *bodies* exactly (``state restore``'s append: linked over those texts,
        as the durable stores do)."""
        stream = self.streams.setdefault(service, [])
        if len(stream) != expected_version:
            raise ConcurrencyError(f"{service} changed: at version {len(stream)}, not {expected_version}")
        links = self._linked(service)
        if len(links) != len(stream):
            raise StateError(f"{service}'s events carry no links yet: nothing written")
        links.extend(links_for(links[-1] if links else GENESIS, service, expected_version, bodies))
        for offset, body in enumerate(bodies):
            self._bodies[(service, expected_version + offset)] = body
        stream.extend(events)
        return len(stream)

    def _linked(self, service: str) -> list[str]:
        """*service*'s links, its appends not linked yet linked now (each from the link before it, at the position
        it was appended at, over the text of the event as appended)."""
        links = self._links.setdefault(service, [])
        unlinked = self._unlinked.pop(service, None)
        for first, events in unlinked.appends if unlinked is not None else ():
            links.extend(links_for(links[-1] if links else GENESIS, service, first, map(_stored, events)))
        return links

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """One consistent read (``state backup``'s): nothing else runs in this process's memory meanwhile."""
        yield

    def head(self, service: str) -> tuple[int, str | None] | None:
        """The stream's last position and that event's link (``None``: no event)."""
        stream, links = self.streams.get(service, []), self._linked(service)
        return None if not stream else (len(stream) - 1, links[len(stream) - 1] if len(links) >= len(stream) else None)

    def chain(self, service: str) -> Iterator[tuple[int, str, str | None]]:
        links = self._linked(service)
        for position, event in enumerate(self.streams.get(service, [])):
            body = self._bodies.get((service, position)) or _stored(event)
            yield position, body, links[position] if position < len(links) else None

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
        lease = lease_after(self.leases.get((service, environment)), holder, now, ttl, replacing=replacing)
        self.leases[(service, environment)] = lease
        return lease

    def release(self, service: str, environment: str, holder: str) -> None:
        lease = released(self.leases.get((service, environment)), holder)
        if lease is not None:  # run out, its token kept: the next holder's is higher still
            self.leases[(service, environment)] = lease

    def lease(self, service: str, environment: str) -> Lease | None:
        return self.leases.get((service, environment))

    def load_snapshot(self, service: str) -> KeptSnapshot | None:
        snapshot = self.snapshots.get(service)
        if snapshot is None:
            return None
        return KeptSnapshot(
            snapshot, self._link(service, snapshot.version - 1), self.seals.get((service, snapshot.version - 1))
        )

    def save_snapshot(self, service: str, version: int, text: str) -> None:
        link = self._link(service, version - 1)
        if link is None:
            raise StateError(f"{service} has no linked event {version - 1}: no snapshot at event {version} is kept")
        snapshot = sealed(service, version, text, link)
        kept = self.snapshots.get(service)
        if kept is None or kept.version <= version or not self._sealed(kept):
            self.snapshots[service] = snapshot
        self.seals[(service, version - 1)] = str(snapshot.digest)

    def snapshotted(self) -> list[str]:
        return sorted(self.snapshots)

    def records(self, service: str, version: str, before: int) -> list[Event]:
        return [
            event
            for event in self.streams.get(service, [])[:before]
            if event.type in RECORD_EVENTS and event.version == version
        ]

    def _link(self, service: str, position: int) -> str | None:
        links = self._linked(service)
        if position < 0 or position >= len(self.streams.get(service, [])) or position >= len(links):
            return None
        return links[position] or None

    def _sealed(self, snapshot: Snapshot) -> bool:
        """Whether *snapshot* is the one sealed by its stream (as the durable stores judge it in SQL)."""
        position = snapshot.version - 1
        link = self._link(snapshot.service, position)
        return (
            link is not None
            and link == snapshot.link
            and self.seals.get((snapshot.service, position)) == snapshot.digest
        )


class _Unlinked:
    """A stream's appends not linked yet: each as (the position its links start at, its events as appended), in
    order; and how many links the stream would have had linked eagerly (what the next append links after)."""

    __slots__ = ("appends", "through")

    def __init__(self, through: int) -> None:
        self.through = through
        self.appends: list[tuple[int, Sequence[Event]]] = []


def _stored(event: Event) -> str:
    """An event as a durable store keeps it (the text its link is over)."""
    return json.dumps(event_to_dict(event))


@attrs.define
class VirtualClock:
    """Time that moves only when told to: a 60-minute canary runs in milliseconds."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> datetime:
        self.current += delta
        return self.current


class SystemClock:
    def now(self) -> datetime:
        from datetime import UTC

        return datetime.now(UTC).replace(tzinfo=None)


@attrs.define
class SimulatedCluster:
    """A perfect cluster in memory: every track it is asked to run is ready at once, and it routes as told. Keeps
    what it holds per service and environment, and the history of its weights (for charts and tests)."""

    holdings: dict[tuple[str, str], Holding] = attrs.field(factory=dict)
    history: list[tuple[datetime, str, str, dict[str, int]]] = attrs.field(factory=list)
    parked: dict[tuple[str, str], dict[str, str]] = attrs.field(factory=dict)
    """Per service and environment, the Deployments scaled to zero — name -> the version their template still holds —
    as a cluster keeps them until ``auto_cleanup`` deletes them (:meth:`clean_up`)."""
    _wanted: dict[tuple[str, str], tuple[EnvironmentView, tuple[object, ...], Holding]] = attrs.field(
        factory=dict, init=False, repr=False, eq=False
    )
    """Per service and environment, the holding the last view converged to asked for, beside that view and what of
    it the holding depends on: the same view again, or one that routes as the last did (the use cases' repair before
    each decision), is not planned again."""

    def converge(self, view: EnvironmentView, at: datetime) -> bool:
        key = (view.service, view.environment)
        planned = self._wanted.get(key)
        if planned is not None and planned[0] is view:  # the view converged to last (frozen): the same plan
            wanted = planned[2]
        else:
            rollout = view.rollout
            routes = (view.serving, view.candidate, view.strategy, rollout is not None and rollout.phase.active)
            # expected_holding reads nothing else of a view
            wanted = planned[2] if planned is not None and planned[1] == routes else expected_holding(view)
            self._wanted[key] = (view, routes, wanted)
        held = self.holdings.get(key)
        if held is wanted:
            return False  # what the last convergence left: applying the same step twice changes nothing
        if held is None:
            held = Holding()
        if held == wanted:
            return False  # applying the same step twice changes nothing
        if held.weights != wanted.weights:
            self.history.append((at, view.service, view.environment, dict(wanted.weights)))
        if held.running.keys() != wanted.running.keys():  # scaled to zero: kept, with its template's version
            parked = self.parked.setdefault(key, {})
            parked.update({name: v for name, v in held.running.items() if name not in wanted.running})
            for name in wanted.running:
                parked.pop(name, None)
        self.holdings[key] = wanted
        return True

    def leftovers(self, view: EnvironmentView, auto_cleanup: bool) -> tuple[str, ...]:
        """``TrackCleaner``: the Deployments it keeps scaled to zero that ``domain.cleanup`` removes (every one is
        ours and the environment's)."""
        if not cleanup_due(view, auto_cleanup):
            return ()
        labels = {MANAGED_BY_LABEL: MANAGED_BY, ENVIRONMENT_LABEL: view.environment}
        held = self.parked.get((view.service, view.environment), {})
        return leftovers(view, auto_cleanup, (Leftover(name, 0, labels) for name in held))

    def clean_up(self, view: EnvironmentView, auto_cleanup: bool, names: Sequence[str]) -> tuple[str, ...]:
        """``TrackCleaner``: each of *names* still a leftover, no longer kept."""
        still = set(self.leftovers(view, auto_cleanup))
        removed = tuple(name for name in names if name in still)
        parked = self.parked.get((view.service, view.environment), {})
        for name in removed:
            del parked[name]
        return removed

    def holding(self, service: str, environment: str) -> Holding:
        return self.holdings.get((service, environment), Holding())

    def weights(self, service: str, environment: str) -> dict[str, int]:
        """Version -> share of traffic, zero shares left out."""
        return dict(self.holding(service, environment).weights)


@attrs.frozen
class ClustersReport:
    done: tuple[str, ...]
    """Each change made, as a line (what ``adapters.gke.ApplyReport`` says)."""


@attrs.define
class MemoryClusters:
    """GKE clusters in memory (``ClusterInfrastructure``): ClusterSpecs by (location, name), a plan applied as the
    domain says it leaves the cluster (``ClusterPlan.apply_to``) — what the simulation and the recovery use case's
    tests take for GKE. ``calls`` lists each (location, name, what) applied."""

    clusters: dict[tuple[str, str], ClusterSpec] = attrs.field(factory=dict)
    calls: list[tuple[str, str, str]] = attrs.field(factory=list)
    statuses: dict[tuple[str, str], str] = attrs.field(factory=dict)
    """A cluster's GKE status where it is not ``RUNNING`` (``PROVISIONING``: a create a killed run left): ``apply``
    waits it out — RUNNING at once — before anything else, as ``adapters.gke`` does; ``ERROR`` is refused."""

    def observe(self, location: str, name: str) -> ClusterSpec | None:
        return self.clusters.get((location, name))

    def apply(self, plan: ClusterPlan, *, waiting: Callable[[], object] | None = None) -> ClustersReport:
        key = (plan.location, plan.cluster)
        observed = self.clusters.get(key)
        settled: tuple[str, ...] = ()
        status = self.statuses.pop(key, "RUNNING") if observed is not None else "RUNNING"
        if status in ("ERROR", "DEGRADED"):
            self.statuses[key] = status
            raise DependencyUnavailableError(f"cluster {plan.cluster} ({plan.location}) is {status}")
        if status != "RUNNING":
            if waiting is not None:
                waiting()
            settled = (f"cluster {plan.cluster}: was {status}, waited until RUNNING",)
            self.calls.append((plan.location, plan.cluster, settled[0]))
        if plan.empty:
            return ClustersReport(settled)
        if plan.creates is not None and observed is not None:
            raise ConcurrencyError(f"cluster {plan.cluster} ({plan.location}) exists already: plan it again")
        if plan.creates is None and observed is None:
            raise ConcurrencyError(f"cluster {plan.cluster} ({plan.location}) does not exist any more: plan it again")
        self.clusters[key] = plan.apply_to(observed)
        if plan.creates is not None:
            done: tuple[str, ...] = (f"cluster {plan.cluster}: create",)
        else:
            done = (
                *(f"{change.field}" for change in plan.before_pools),
                *(f"node pool {change.pool}: {change.action.value}" for change in plan.actionable),
                *(f"{change.field}" for change in plan.after_pools),
            )
        self.calls += [(plan.location, plan.cluster, line) for line in done]
        return ClustersReport(settled + done)


@attrs.define
class MemorySecrets:
    """Secrets as a secret store would hold them (versions and readers, never a value), by secret ID."""

    secrets: dict[str, ObservedSecret] = attrs.field(factory=dict)

    def observe(self, secret: str) -> ObservedSecret | None:
        return self.secrets.get(secret)


Script = Callable[[MetricsQuery], Mapping[str, float]]


@attrs.define
class ScriptedMetrics:
    """Observations from a script: a function of the query (service, environment, version, metrics, time).

    ``queries`` keeps every query asked, so a test can check what was measured.
    """

    script: Script
    queries: list[MetricsQuery] = attrs.field(factory=list)

    def observe(self, query: MetricsQuery) -> Observation:
        self.queries.append(query)
        return Observation(dict(self.script(query)))

    def describe(self, metric: str, query: MetricsQuery) -> str | None:  # noqa: ARG002 - scripted: no query
        return None


@attrs.define
class ScenarioMetrics:
    """Scripted metrics by the minute: the candidate behaves as *scenario* from its rollout's start (minute 0),
    the version it replaces as *baseline* (default: healthy throughout). Seeded *noise* varies every value but
    the request count by ±10%."""

    scenario: Scenario
    baseline: Scenario | None = None
    noise: random.Random | None = None
    first_seen: dict[tuple[str, str, str], datetime] = attrs.field(factory=dict)

    def observe(self, query: MetricsQuery) -> Observation:
        start = query.rollout_started or self.first_seen.setdefault(
            (query.service, query.environment, query.version), query.at
        )
        minute = (query.at - start).total_seconds() / 60
        if query.candidate:
            values = self.scenario(minute)
        else:
            values = self.baseline(minute) if self.baseline is not None else HEALTHY
        return Observation(self._noisy(values))

    def describe(self, metric: str, query: MetricsQuery) -> str | None:  # noqa: ARG002 - scripted: no query
        return None

    def _noisy(self, values: Mapping[str, float]) -> dict[str, float]:
        if self.noise is None:
            return dict(values)
        noise = self.noise
        return {k: v if k == "requests" or math.isnan(v) else v * noise.uniform(0.9, 1.1) for k, v in values.items()}


@attrs.define
class MemoryErrorBudgets:
    """Error budgets held in memory, per (service, environment): set them, or take the source down."""

    statuses: dict[tuple[str, str], tuple[BudgetStatus, ...]] = attrs.field(factory=dict)
    down: bool = False
    reads: int = 0

    def budgets(self, service: str, environment: str, at: datetime) -> tuple[BudgetStatus, ...]:  # noqa: ARG002
        self.reads += 1
        if self.down:
            raise DependencyUnavailableError("the error budgets cannot be read (the in-memory source is down)")
        return self.statuses.get((service, environment), ())


@attrs.define
class MemoryOutbox:
    """The outbox (``application.ports.Outbox``) in a dict: cursors and dispatches as the SQLite state keeps them."""

    cursors: dict[str, tuple[int, str]] = attrs.field(factory=dict)
    kept: dict[tuple[str, str], Dispatch] = attrs.field(factory=dict)

    def notify_cursor(self, service: str) -> tuple[int, str] | None:
        return self.cursors.get(service)

    def enqueue(self, dispatches: Sequence[Dispatch], cursor: tuple[str, int | None, int, str] | None = None) -> bool:
        if cursor is not None:
            service, expected, position, text = cursor
            found = self.cursors.get(service)
            if (found[0] if found else None) != expected:
                return False
            self.cursors[service] = (position, text)
        for dispatch in dispatches:
            self.kept.setdefault(dispatch.key, dispatch)
        return True

    def due(self, now: datetime, limit: int = 100, *, in_turn: bool = True) -> list[Dispatch]:
        pending, earlier = [], set()
        for d in self.kept.values():  # in the order queued
            if d.state is not DispatchState.PENDING:
                continue
            turn = (d.receiver, d.notification.incident_key)
            waits = in_turn and bool(d.notification.incident_key) and turn in earlier
            earlier.add(turn)
            if not waits and d.next_attempt is not None and d.next_attempt <= now:
                pending.append(d)
        return sorted(pending, key=_due_order)[:limit]  # stable: in the order queued, where due together

    def claim(self, dispatch: Dispatch, until: datetime) -> bool:
        found = self.kept.get(dispatch.key)
        if found is None or found.state is not DispatchState.PENDING or found.attempts != dispatch.attempts:
            return False
        self.kept[dispatch.key] = attrs.evolve(found, attempts=found.attempts + 1, next_attempt=until)
        return True

    def settle(
        self, dispatch: Dispatch, *, state: DispatchState, detail: str, at: datetime, next_attempt: datetime | None
    ) -> None:
        found = self.kept[dispatch.key]
        if found.attempts != dispatch.attempts or found.state is not DispatchState.PENDING:
            return  # another attempt's record is the later one
        settled = at if state is not DispatchState.PENDING else None
        self.kept[dispatch.key] = attrs.evolve(
            found, state=state, detail=detail, next_attempt=next_attempt, settled=settled
        )

    def dispatches(self, service: str | None = None, limit: int | None = None) -> list[Dispatch]:
        found = [d for d in reversed(self.kept.values()) if service is None or d.notification.service == service]
        return found[:limit] if limit is not None else found  # the latest queued first

    def paged(self, incident: str) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys(
                d.receiver
                for d in self.kept.values()
                if d.notification.incident_key == incident and d.notification.action is PageAction.TRIGGER
            )
        )


def _due_order(dispatch: Dispatch) -> datetime:
    assert dispatch.next_attempt is not None
    return dispatch.next_attempt


@attrs.define
class MemoryNotifier:
    """A receiver in memory (``application.ports.Notifier``): keeps what it was sent, and can be told to fail — the
    next *n* sends (``fail(n)``), for good (``fail(permanent=True)``), or with a ``Retry-After`` — or be down
    until told otherwise (``down = True``). ``received`` holds each notification it accepted, in order."""

    received: list[Notification] = attrs.field(factory=list)
    attempts: int = 0
    timeouts: list[float | None] = attrs.field(factory=list)
    """The time each send was given (what was left of the caller's budget; ``None``: no bound)."""
    down: bool = False
    _failures: int = 0
    _permanent: bool = False
    _retry_after: float | None = None

    def fail(self, times: int = 1, *, permanent: bool = False, retry_after: float | None = None) -> None:
        self._failures, self._permanent, self._retry_after = times, permanent, retry_after

    def send(self, notification: Notification, *, timeout: float | None = None) -> Delivery:
        self.attempts += 1
        self.timeouts.append(timeout)
        if self.down:
            return Delivery(False, "connection refused (memory receiver down)")
        if self._permanent:
            return Delivery(False, "400 invalid payload (memory receiver)", permanent=True)
        if self._failures > 0:
            self._failures -= 1
            if self._retry_after is not None:
                return Delivery(False, "429 too many requests", retry_after=self._retry_after)
            return Delivery(False, "503 unavailable (memory receiver)")
        self.received.append(notification)
        return Delivery(True, "200 ok")


@attrs.define
class MemoryDns:
    """Cloud DNS managed zones in memory (``application.ports.DnsRecords``), refusing as Cloud DNS does
    (``adapters.cloud_dns``): a change is all or nothing — one whose *old* is not what the zone holds (someone else
    changed it) is a :class:`ConcurrencyError` and changes nothing; a record set that already holds its *new* data
    (as Cloud DNS stores it: ``domain.recovery.same_dns_data``) is left out (a rerun); a zone that does not exist is
    :class:`BadInputError`. ``zones`` maps a zone's name to its record sets by (name in lower case, type: DNS names
    compare without case, RFC 4343); ``changes`` holds each change made, in order, as (zone, ((old, new), ...));
    with ``down`` set, every call is :class:`DependencyUnavailableError`."""

    zones: dict[str, dict[tuple[str, str], RecordSet]] = attrs.field(factory=dict)
    changes: list[tuple[str, tuple[tuple[RecordSet | None, RecordSet], ...]]] = attrs.field(factory=list)
    down: bool = False

    def add_zone(self, zone: str, *records: RecordSet) -> None:
        self.zones[zone] = {(record.name.lower(), record.type): record for record in records}

    def put(self, zone: str, record: RecordSet) -> None:
        """Set *record* as another hand would (a person, another tool): no check, no change recorded."""
        self._zone(zone)[(record.name.lower(), record.type)] = record

    def read(self, zone: str, name: str, type: str) -> RecordSet | None:
        return self._zone(zone).get((name.lower(), type))

    def replace(self, zone: str, old: RecordSet | None, new: RecordSet) -> None:
        """One record set's :meth:`replace_all`."""
        self.replace_all(zone, [(old, new)])

    def replace_all(self, zone: str, changes: Sequence[tuple[RecordSet | None, RecordSet]]) -> None:
        records = self._zone(zone)
        sent, stale = [], []
        for old, new in changes:
            current = records.get((new.name.lower(), new.type))
            if current is not None and same_dns_data(new.type, current.rrdatas, new.rrdatas):
                continue  # a rerun: nothing to send for it
            if not _same_records(current, old):
                stale.append(f"{new.name} ({new.type})")
            sent.append((old, new))
        if stale:
            raise ConcurrencyError(
                f"{', '.join(stale)} in zone {zone} not what was expected (someone else changed it): nothing was "
                "changed"
            )
        if not sent:
            return
        for _, new in sent:
            records[(new.name.lower(), new.type)] = attrs.evolve(
                new, rrdatas=tuple(dns_data(new.type, data) for data in new.rrdatas)
            )
        self.changes.append((zone, tuple(sent)))

    def _zone(self, zone: str) -> dict[tuple[str, str], RecordSet]:
        if self.down:
            raise DependencyUnavailableError("Cloud DNS (memory) is down")
        if zone not in self.zones:
            raise BadInputError(f"Cloud DNS has no managed zone {zone} (memory)")
        return self.zones[zone]


def _same_records(current: RecordSet | None, wanted: RecordSet | None) -> bool:
    """Name (without case), type, ttl and the same data as Cloud DNS stores it, in any order (``None``: none)."""
    if current is None or wanted is None:
        return current is wanted
    return (
        current.name.lower() == wanted.name.lower()
        and (current.type, current.ttl) == (wanted.type, wanted.ttl)
        and same_dns_data(current.type, current.rrdatas, wanted.rrdatas)
    )


@attrs.frozen
class MemoryCommit:
    """One commit of :class:`MemoryGitRepository`: its parents (two for a merge), every file it holds, its message
    and the ``Findly-Change:`` key it carries."""

    sha: str
    parents: tuple[str, ...]
    files: Mapping[str, str]
    message: str
    key: str = ""


@attrs.define
class MemoryPullRequest:
    number: int
    head: str
    """The sha of its branch's commit."""
    branch: str
    url: str
    state: str = "open"
    """``open``, ``merged`` or ``closed``."""


@attrs.define
class MemoryGitRepository:
    """The ``GitRepository`` port held in memory: the followed *branch* as a chain of commits (each with all of its
    files), the keys they carry, and — with *pull_request* — a branch and a pull request per change, merged by
    :meth:`merge` (a merge commit, as GitHub's default merge method makes one). ``includes`` walks every parent.
    A revert is a file-level one: each file the reverted commit changed goes back to its parent's text where the
    head still holds the commit's text (else, as ``git revert`` with a conflict, :class:`BadInputError`)."""

    branch: str = "main"
    pull_request: bool = False
    url: str = "https://github.com/findly-now/deploy"
    commits: dict[str, MemoryCommit] = attrs.field(factory=dict)
    head: str = ""
    pulls: list[MemoryPullRequest] = attrs.field(factory=list)
    pushes: int = 0
    """Commits pushed by :meth:`commit` and :meth:`revert` (a found one is not pushed again)."""
    after_push: Callable[[MemoryCommit], object] | None = attrs.field(default=None, repr=False)
    """Called once a commit is pushed, before it is returned: a test kills the command there."""
    before_push: Callable[[str], object] | None = attrs.field(default=None, repr=False)
    """Called with a change's key before it is committed and pushed: a test kills the command there."""

    def seed(self, files: Mapping[str, str], message: str = "render the tree") -> str:
        """A commit on the branch by someone else (the rendered tree, a person's change); its sha."""
        return self._add(self._files_at(self.head) | dict(files), message, "", (self.head,) if self.head else ())

    def files(self, revision: str | None = None) -> dict[str, str]:
        """Every file at *revision* (default: the head)."""
        return self._files_at(self.head if revision is None else revision)

    def log(self, revision: str | None = None) -> list[MemoryCommit]:
        """The commits reachable from *revision* (default: the head), newest first."""
        found: list[MemoryCommit] = []
        seen: set[str] = set()
        todo = [self.head if revision is None else revision]
        while todo:
            sha = todo.pop(0)
            if not sha or sha in seen:
                continue
            seen.add(sha)
            commit = self.commits[sha]
            found.append(commit)
            todo.extend(commit.parents)
        return found

    def merge(self, url: str, *, squash: bool = False) -> str:
        """Merge the open pull request *url* with a merge commit (or, *squash*, as GitHub's squash merge: one new
        commit on the branch with every change of the pull request's branch, its message keeping the key —
        https://docs.github.com/en/pull-requests/collaborating-with-pull-requests/incorporating-changes-from-a-pull-request/about-pull-request-merges);
        the new commit's sha."""
        pull = next(p for p in self.pulls if p.url == url and p.state == "open")
        pull.state = "merged"
        files = self._files_at(pull.head)
        if not squash:
            return self._add(files, f"Merge pull request #{pull.number}", "", (self.head, pull.head))
        key = next((c.key for c in self.log(pull.head) if c.key), "")
        return self._add(files, f"Squashed (#{pull.number})\n\nFindly-Change: {key}", key, (self.head,))

    def push_to_pull(self, url: str, files: Mapping[str, str], message: str = "a reviewer's change") -> str:
        """A reviewer pushes a commit of their own (*files*) onto the open pull request *url*'s branch; its sha."""
        pull = next(p for p in self.pulls if p.url == url and p.state == "open")
        pull.head = self._add(self._files_at(pull.head) | dict(files), message, "", (pull.head,), move=False)
        return pull.head

    # ---- the port ------------------------------------------------------------------------------------------------

    def read(self, path: str) -> str | None:
        return self._files_at(self.head).get(path)

    def commit(self, change: GitChange) -> GitCommit:
        found = self._keyed(change.key)
        if found is not None:
            return found
        base = self._files_at(self.head)
        if base | dict(change.files) == base:  # as the git adapter: an empty commit would carry a key for nothing
            raise BadInputError(
                f"nothing to commit for {', '.join(sorted(change.files))}: {self.branch!r} already holds what it would "
                f"write, but no commit carries 'Findly-Change: {change.key}' (changed by hand?)"
            )
        return self._push(base | dict(change.files), change.message, change.key)

    def revert(self, commit: str, *, key: str, message: str) -> GitCommit:
        found = self._keyed(key)
        if found is not None:
            return found
        if commit not in self.commits:
            raise BadInputError(f"{commit} is not in {self.url}")
        reverted = self._merged(commit)
        before = self._files_at(reverted.parents[0]) if reverted.parents else {}
        files = self._files_at(self.head)
        for path, text in reverted.files.items():
            if before.get(path) == text:
                continue  # not changed by that commit
            if files.get(path) != text:
                raise BadInputError(f"{path} changed since {commit[:12]} in {self.url}: the revert does not apply")
            if path in before:
                files[path] = before[path]
            else:
                files.pop(path, None)
        return self._push(files, message, key)

    def includes(self, revision: str, commit: str) -> bool | None:
        if revision not in self.commits:
            return None
        key = self.commits[commit].key if commit in self.commits else ""
        return any(found.sha == commit or (key and found.key == key) for found in self.log(revision))

    def read_at(self, revision: str, path: str) -> str | None:
        sha = revision.rsplit("@", 1)[-1].rsplit(":", 1)[-1]  # <sha>, or Flux's main@sha1:<sha>
        if sha not in self.commits:
            return None
        return self._files_at(sha).get(path)

    # ---- inside ------------------------------------------------------------------------------------------------

    def _keyed(self, key: str) -> GitCommit | None:
        for found in self.log():
            if key and found.key == key:
                return GitCommit(found.sha, self.branch, None, created=False)
        for pull in self.pulls:
            if pull.state == "open" and self.commits[pull.head].key == key:
                return GitCommit(pull.head, pull.branch, pull.url, created=False)
        return None

    def _push(self, files: dict[str, str], message: str, key: str) -> GitCommit:
        if self.before_push is not None:
            self.before_push(key)
        body = f"{message}\n\nFindly-Change: {key}"
        if not self.pull_request:
            sha = self._add(files, body, key, (self.head,) if self.head else ())
            result = GitCommit(sha, self.branch)
        else:
            sha = self._add(files, body, key, (self.head,) if self.head else (), move=False)
            number = len(self.pulls) + 1
            branch = f"findly/{key.replace(':', '-')}"
            pull = MemoryPullRequest(number, sha, branch, f"{self.url}/pull/{number}")
            self.pulls.append(pull)
            result = GitCommit(sha, branch, pull.url)
        self.pushes += 1
        if self.after_push is not None:
            self.after_push(self.commits[sha])
        return result

    def _add(
        self, files: Mapping[str, str], message: str, key: str, parents: tuple[str, ...], *, move: bool = True
    ) -> str:
        digest = hashlib.sha1(usedforsecurity=False)
        digest.update(json.dumps([parents, message, sorted(files.items()), len(self.commits)]).encode())
        sha = digest.hexdigest()
        self.commits[sha] = MemoryCommit(sha, parents, dict(files), message, key)
        if move:
            self.head = sha
        return sha

    def _merged(self, commit: str) -> MemoryCommit:
        """*commit*, or — not on the branch: a pull request's, squash-merged — the branch's commit carrying its key
        (as the git adapter's revert finds the merged commit)."""
        if any(found.sha == commit for found in self.log()):
            return self.commits[commit]
        key = self.commits[commit].key
        return next((found for found in self.log() if key and found.key == key), self.commits[commit])

    def _files_at(self, revision: str) -> dict[str, str]:
        return dict(self.commits[revision].files) if revision else {}
