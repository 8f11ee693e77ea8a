"""Disaster recovery: the platform brought back in the DR region (``dr failover``), or rehearsed there (``dr drill``),
step by step, each step recorded — so a failover killed half way is simply run again and goes on from the step it
had not finished, and a drill's measured recovery time is kept beside the targets it is held to.

What the file says (``failover:``, ours, beside the seed's ``disaster_recovery``): which environments fail over, the
DR region's copy of ``gke_cluster`` (its name; each primary zone's DR zone — regions do not share zone letters:
``us-east1`` has ``b``, ``c`` and ``d``), the kubeconfig context that reaches it, the Cloud DNS records that move
(each with its primary and DR addresses), the health check read through Prometheus before traffic moves, and how
long readiness may take.

The steps, in order (:data:`STEPS`): ``cluster`` (the DR cluster brought to the file: created if missing),
``deploy`` (each environment's objects applied there with each service's last good version from the event log),
``ready`` (every workload Ready), ``health`` (the health check passes, where Prometheus is bound), ``dns`` (the
records switched to the DR addresses — a failover only; a drill records what it would have switched). Each is
idempotent in the adapters; this module decides which comes next from the recorded events, and what a finished
operation measured. Pure: times and identities come in as arguments.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Iterable, Sequence
from datetime import datetime

import attrs

from findly_infra.domain.errors import InvariantError
from findly_infra.domain.events import Event
from findly_infra.domain.notation import Duration, Percentage
from findly_infra.domain.refusal import Refusal

__all__ = [
    "DR_STREAM",
    "STEPS",
    "DnsFailover",
    "DnsRecord",
    "DrCluster",
    "FailoverHealth",
    "FailoverSettings",
    "RecoveryAbandoned",
    "RecoveryCompleted",
    "RecoveryKind",
    "RecoveryOperation",
    "RecoveryStarted",
    "RecoveryStep",
    "RecoveryStepDone",
    "RecoveryStepFailed",
    "StepTiming",
    "admit",
    "dns_data",
    "failover_environments",
    "open_operation",
    "operation_name",
    "operations",
    "same_dns_data",
]

DR_STREAM = "_dr"
"""The stream that holds recovery operations (failovers and drills), beside the services' streams and the policy's:
not a DNS label, so never a service's name."""


# ---- the file's ``failover:`` section --------------------------------------------------------------------------------

_ZONE = re.compile(r"^[a-z]+-[a-z]+\d+-[a-z]$")
_CONTEXT_MAX = 253


@attrs.frozen
class DrCluster:
    """The DR region's copy of ``gke_cluster`` (``failover.cluster``): the same node pools, in the DR region
    (``disaster_recovery.multi_region.dr_region``), under *name* (default ``<gke_cluster.name>-dr``), each pool's
    zones mapped through *zones* (a primary zone -> its DR zone)."""

    name: str | None = None
    zones: tuple[tuple[str, str], ...] = ()
    """(primary zone, DR zone), in the file's order."""

    def __attrs_post_init__(self) -> None:
        for primary, dr in self.zones:
            for zone in (primary, dr):
                if not _ZONE.match(zone):
                    raise InvariantError(f"{zone!r} is not a zone name (like us-east1-b)", field="zones")

    def zone_for(self, primary: str) -> str | None:
        return next((dr for given, dr in self.zones if given == primary), None)


@attrs.frozen
class DnsRecord:
    """One Cloud DNS record set that moves on failover: *name* (fully qualified, ending in a dot), its *type*, and
    the addresses (rrdatas) it holds in each region."""

    name: str
    primary: tuple[str, ...]
    dr: tuple[str, ...]
    type: str = "A"
    ttl: int = 60

    def __attrs_post_init__(self) -> None:
        if not self.name.endswith("."):
            raise InvariantError(
                f"{self.name!r} is a DNS name written fully qualified, ending in a dot ({self.name}.)", field="name"
            )
        if self.type not in ("A", "AAAA", "CNAME"):
            raise InvariantError(f"type is A, AAAA or CNAME, got {self.type!r}", field="type")
        if not self.primary or not self.dr:
            raise InvariantError("a record needs its primary and its DR addresses", field="dr")
        for field, values in (("primary", self.primary), ("dr", self.dr)):
            _check_data(self.type, values, field)
        if same_dns_data(self.type, self.primary, self.dr):
            raise InvariantError("the DR addresses are the primary's: failing over would move nothing", field="dr")
        if not 0 < self.ttl <= 86400:
            raise InvariantError(f"ttl is seconds between 1 and 86400, got {self.ttl}", field="ttl")


def _check_data(type_: str, values: Sequence[str], field: str) -> None:
    """What Cloud DNS would refuse with ``400 invalid`` at the switch, refused here when the file is read: A data an
    IPv4 address, AAAA an IPv6 address ("1.1.1.1 is valid resource record data for type A. X.X.X.X is invalid":
    https://cloud.google.com/dns/docs/error-messages#invalidvalue), a CNAME target fully qualified, ending in a dot
    (DNSControl/dnscontrol#349, mantl/mantl#1082) and alone ("SOA and CNAME resource record sets can only have one
    resource record", invalidRecordCount, the same page)."""
    if type_ == "CNAME" and len(values) != 1:
        raise InvariantError(f"a CNAME holds one name, got {len(values)}: {', '.join(values)}", field=field)
    for value in values:
        if type_ in ("A", "AAAA"):
            kind = ipaddress.IPv4Address if type_ == "A" else ipaddress.IPv6Address
            try:
                kind(value)
            except ValueError:
                raise InvariantError(
                    f"{value!r} is not an IPv{4 if type_ == 'A' else 6} address (a {type_} record's data)", field=field
                ) from None
            if "%" in value:
                raise InvariantError(f"{value!r}: an address in DNS data has no zone index (%...)", field=field)
        elif not re.fullmatch(r"(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)+", value) or len(value) > 254:
            raise InvariantError(
                f"{value!r} is a DNS name written fully qualified, ending in a dot ({value.rstrip('.')}.)", field=field
            )


def dns_data(type_: str, data: str) -> str:
    """*data* (one rrdata of a record set of type *type_*) in the form Cloud DNS stores and returns it, to compare
    and to send: an AAAA address compressed, lower case ("the actual AAAA record that will be created is
    2a03:b0c0:1:e0::29b:8001 ... performed by Google": hashicorp/terraform-provider-google#1546; "gcloud stores and
    returns it in the minified format": DNSControl/dnscontrol#25; Terraform compares AAAA data by
    ``net.ParseIP(record).String()``, google/services/dns/resource_dns_record_set.go ``rrdatasDnsDiffSuppress``); an
    A address as written (a dotted quad has one form); a CNAME target in lower case, as DNS names compare without
    regard to case (RFC 4343). Data that does not parse is returned as given."""
    if type_ in ("A", "AAAA"):
        try:
            address = ipaddress.ip_address(data)
        except ValueError:
            return data
        return address.compressed
    if type_ == "CNAME":
        return data.lower()
    return data


def same_dns_data(type_: str, given: Iterable[str], wanted: Iterable[str]) -> bool:
    """Whether two record sets of type *type_* hold the same data, in any order, as Cloud DNS stores it
    (:func:`dns_data`)."""
    return {dns_data(type_, data) for data in given} == {dns_data(type_, data) for data in wanted}


@attrs.frozen
class DnsFailover:
    """Where traffic is switched (``failover.dns``): the Cloud DNS managed *zone* (its name, not its DNS name) in
    *project* (default ``gke_cluster.project``), and the *records* that move."""

    zone: str
    records: tuple[DnsRecord, ...]
    project: str | None = None

    def __attrs_post_init__(self) -> None:
        if not self.records:
            raise InvariantError("name at least one record that moves on failover", field="records")
        seen = [(record.name, record.type) for record in self.records]
        if len(set(seen)) != len(seen):
            raise InvariantError("a record (name and type) is listed twice", field="records")


@attrs.frozen
class FailoverHealth:
    """The health check before traffic moves (``failover.health``): *query* (PromQL; ``$service`` and
    ``$namespace`` are filled in per service) must return a sample ``>= 1`` for every service, within *timeout*.
    The default asks that the service's scrape targets in the DR namespace are up. No sample is not healthy."""

    query: str = 'min(up{namespace="$namespace", service="$service"})'
    timeout: Duration = Duration.of(minutes=5)
    max_error_rate: Percentage | None = None
    """Where given, also ``error_rate`` over the last minute below this (once the DR cluster has traffic: a
    re-run after DNS switched, or a drill fed by synthetic traffic); no requests is not a failure."""


@attrs.frozen
class FailoverSettings:
    """The ``failover:`` section: how the platform is brought back in the DR region."""

    context: str
    """The kubeconfig context that reaches the DR cluster."""
    environments: tuple[str, ...] = ()
    """The environments that fail over (empty: every environment the file bound to a cluster, else all)."""
    cluster: DrCluster = DrCluster()
    dns: DnsFailover | None = None
    health: FailoverHealth = FailoverHealth()
    ready_timeout: Duration = Duration.of(minutes=10)
    """How long every workload may take to become Ready in the DR cluster."""

    def __attrs_post_init__(self) -> None:
        if not self.context.strip() or len(self.context) > _CONTEXT_MAX:
            raise InvariantError(f"{self.context!r} is not a kubeconfig context name", field="context")
        if len(set(self.environments)) != len(self.environments):
            raise InvariantError("an environment is listed twice", field="environments")


# ---- operations and their events -----------------------------------------------------------------------------------


class RecoveryKind(enum.Enum):
    FAILOVER = "failover"
    """Traffic moves to the DR region: every step, DNS last."""
    DRILL = "drill"
    """A rehearsal on a chosen target: every step but DNS, whose switch is only described."""


class RecoveryStep(enum.Enum):
    CLUSTER = "cluster"
    DEPLOY = "deploy"
    READY = "ready"
    HEALTH = "health"
    DNS = "dns"


STEPS: tuple[RecoveryStep, ...] = tuple(RecoveryStep)
"""Every step, in the order an operation takes them."""


@attrs.frozen(kw_only=True)
class RecoveryStarted(Event):
    """A failover or a drill began (recorded in :data:`DR_STREAM`; ``environment`` and ``version`` are empty).
    *operation* names it (given by the caller, unique); *target* is the kubeconfig context it acts on (``simulated``
    for a drill on the simulated cluster); *versions* are the last good versions it deploys,
    ``environment/service=version``, fixed when it starts (a resumed operation deploys the same)."""

    operation: str
    kind: RecoveryKind
    target: str
    environments: tuple[str, ...]
    versions: tuple[str, ...] = ()
    backup_age_seconds: float | None = None
    """The newest state backup's age when it started (what a loss of the state would have cost, against the RPO);
    ``None``: no backup was named."""
    backup: str = ""
    """The newest state backup it was measured against (its path; empty: none named, or none found)."""
    events_after_backup: int | None = None
    """How many events the state recorded after that backup's newest event, when it started: what a loss of the
    state then would have lost (``None``: no backup was named)."""
    skipped: tuple[str, ...] = ()
    """``environment/service``: a service with no good version in that environment — reported, never deployed (a
    version is never invented)."""
    rollouts_left: tuple[str, ...] = ()
    """``environment/service: what``: a rollout left under way in an environment that fails over (its runner gone,
    or its lease taken over): left as recorded, the failover deploys the version that served instead."""
    taken_over: tuple[str, ...] = ()
    """Leases a person took over with ``--take-over`` when it started (``service/environment from holder``)."""
    platform_digest: str = ""
    """What the operation fixed at its start: the platform file's SHA-256 (and the flags that change what it deploys),
    so that a rerun with another file is refused (``recovery-changed``); empty: not known (an embedded example)."""
    """Leases a person took over with ``--take-over`` when it started (``service/environment from holder``)."""


@attrs.frozen(kw_only=True)
class RecoveryStepDone(Event):
    """One step of *operation* finished (or was skipped: *skipped*, saying why in *detail*)."""

    operation: str
    step: RecoveryStep
    started: datetime
    detail: tuple[str, ...] = ()
    skipped: bool = False
    cache_seconds: int | None = None
    """The DNS step: the longest TTL of the records it moves (or would move) as the zone held them before — how long
    resolvers may keep answering the primary after the switch ("ttl: Number of seconds that this
    ResourceRecordSet can be cached by resolvers": https://cloud.google.com/dns/docs/reference/rest/v1/
    resourceRecordSets); ``None``: not read (another step, no DNS, or switched by an earlier run)."""


@attrs.frozen(kw_only=True)
class RecoveryStepFailed(Event):
    """One step of *operation* failed; the operation stays open: running it again retries the step."""

    operation: str
    step: RecoveryStep
    started: datetime
    message: str


@attrs.frozen(kw_only=True)
class RecoveryCompleted(Event):
    """Every step of *operation* is done: its measured recovery time (from its start to its last step, time lost to
    a crash included) against the RTO."""

    operation: str
    rto_seconds: float
    rto_target_seconds: float | None = None


@attrs.frozen(kw_only=True)
class RecoveryAbandoned(Event):
    """A person ended *operation* unfinished (``reason`` says why), so that another may start."""

    operation: str


@attrs.frozen
class StepTiming:
    step: RecoveryStep
    seconds: float
    skipped: bool
    detail: tuple[str, ...]


@attrs.frozen
class RecoveryOperation:
    """One operation as its events tell it."""

    started: RecoveryStarted
    done: tuple[RecoveryStepDone, ...] = ()
    failures: tuple[RecoveryStepFailed, ...] = ()
    completed: RecoveryCompleted | None = None
    abandoned: RecoveryAbandoned | None = None
    failing: RecoveryStepFailed | None = None
    """The failure recorded last, while no step was done since (``None``: none): why it stopped."""

    @property
    def name(self) -> str:
        return self.started.operation

    @property
    def unfinished(self) -> bool:
        return self.completed is None and self.abandoned is None

    @property
    def next_step(self) -> RecoveryStep | None:
        """The first step not done yet (``None``: all done)."""
        finished = {done.step for done in self.done}
        return next((step for step in STEPS if step not in finished), None)

    def timings(self) -> tuple[StepTiming, ...]:
        """Each step's measured time: from the end of the step before (the operation's start for the first) to its
        own end — a crash's lost time counts against the step it interrupted."""
        timings = []
        before = self.started.at
        for done in self.steps_done():
            timings.append(StepTiming(done.step, (done.at - before).total_seconds(), done.skipped, done.detail))
            before = done.at
        return tuple(timings)

    def steps_done(self) -> tuple[RecoveryStepDone, ...]:
        """Each step's first record of being done, in the order of :data:`STEPS`."""
        first: dict[RecoveryStep, RecoveryStepDone] = {}
        for done in self.done:
            first.setdefault(done.step, done)
        return tuple(first[step] for step in STEPS if step in first)

    @property
    def kind(self) -> RecoveryKind:
        return self.started.kind

    @property
    def target(self) -> str:
        return self.started.target

    @property
    def rto_seconds(self) -> float | None:
        """The measured recovery time: from the start to the end of the last step (crashes and reruns included);
        ``None`` until every step is done."""
        if self.next_step is not None:
            return None
        return max(0.0, (self.steps_done()[-1].at - self.started.at).total_seconds())

    @property
    def dns_cache_seconds(self) -> int | None:
        """How long resolvers may keep answering the primary after the DNS step: the longest TTL of its records as the
        zone held them before the switch (:attr:`RecoveryStepDone.cache_seconds`), beside the measured RTO."""
        done = next((done for done in self.steps_done() if done.step is RecoveryStep.DNS), None)
        return done.cache_seconds if done is not None else None

    def versions(self) -> dict[str, dict[str, str]]:
        """The versions it deploys, per environment then service (from ``environment/service=version``)."""
        found: dict[str, dict[str, str]] = {environment: {} for environment in self.started.environments}
        for pair in self.started.versions:
            where, _, version = pair.partition("=")
            environment, _, service = where.partition("/")
            found.setdefault(environment, {})[service] = version
        return found

    def fold(self, event: Event) -> RecoveryOperation:
        if not self.unfinished:  # ended: nothing after its end belongs to it
            return self
        if isinstance(event, RecoveryStepDone) and event.operation == self.name:
            return attrs.evolve(self, done=(*self.done, event), failing=None)
        if isinstance(event, RecoveryStepFailed) and event.operation == self.name:
            return attrs.evolve(self, failures=(*self.failures, event), failing=event)
        if isinstance(event, RecoveryCompleted) and event.operation == self.name:
            return attrs.evolve(self, completed=event)
        if isinstance(event, RecoveryAbandoned) and event.operation == self.name:
            return attrs.evolve(self, abandoned=event)
        return self


def operations(events: Iterable[Event]) -> tuple[RecoveryOperation, ...]:
    """Every operation in :data:`DR_STREAM`'s *events*, oldest first."""
    found: list[RecoveryOperation] = []
    for event in events:
        if isinstance(event, RecoveryStarted):
            found.append(RecoveryOperation(event))
        elif found:
            found = [operation.fold(event) for operation in found]
    return tuple(found)


def open_operation(events: Sequence[Event]) -> RecoveryOperation | None:
    """The operation still open (at most one is: a new one is refused while one is open), or ``None``."""
    return next((operation for operation in reversed(operations(events)) if operation.unfinished), None)


def operation_name(kind: RecoveryKind, at: datetime) -> str:
    """The name of an operation started at *at*: ``drill-20261206-185200`` (unique per second, sortable)."""
    return f"{kind.value}-{at:%Y%m%d-%H%M%S}"


def admit(events: Sequence[Event], kind: RecoveryKind, target: str) -> RecoveryOperation | Refusal | None:
    """Whether a *kind* operation on *target* may run now, given the recovery stream's *events*: the open operation
    of the same kind and target (it resumes, from its :attr:`~RecoveryOperation.next_step`); a :class:`Refusal`
    (rule ``recovery-in-progress``) while another is open — one open operation at a time, whatever its kind; or
    ``None``: none is open, a new one starts."""
    current = open_operation(events)
    if current is None:
        return None
    if current.kind is kind and current.target == target:
        return current
    return Refusal(
        "recovery-in-progress",
        f"the {current.kind.value} {current.name} on {current.target} is still open (next step: "
        f"{current.next_step.value if current.next_step else 'none'}): run it again to finish it, or end it with "
        f"`findly-infra dr abandon --reason TEXT`",
    )


def failover_environments(
    failover: FailoverSettings | None, promotion_order: Sequence[str], bound: Sequence[str] = ()
) -> tuple[str, ...]:
    """The environments that fail over: ``failover.environments``, else every environment the file binds to a
    cluster (*bound*: ``kubernetes.clusters``), else all of them (*promotion_order*)."""
    if failover is not None and failover.environments:
        return failover.environments
    return tuple(bound) or tuple(promotion_order)
