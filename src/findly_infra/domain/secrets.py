"""What a secrets audit finds (pure; the Secret Manager adapter only reads): for each secret the platform file says
the services read, in one environment — missing, no enabled version, rotation overdue against its type's period,
more than one version enabled past the grace period, readable by a principal its access does not allow, not readable
by the pods of a service that needs it.

Who may read a secret is each service that reads it — its pods in that environment, the Kubernetes ServiceAccount
``<service>`` in the environment's namespace, as Workload Identity Federation for GKE names it to IAM
(``domain.workload_identity``) — and the file's ``readers``. A Google service account per service
(``serviceAccount:<service>@<project>.iam.gserviceaccount.com``, how earlier versions named a service's reader) is no
longer taken as the service's: every environment whose pods may act as it reads every environment's secret, which the
secret's own policy cannot show. List it in ``readers`` to keep it (while moving to the principals, say).

Who may read includes those granted under an IAM condition while the condition can still hold: a time-limited grant
(``request.time < timestamp("…")``) reads until then, and the audit says until when; a condition the audit cannot
judge counts as a reader, and the audit says so — never the other way round (a gate that cannot read a rule does not
pass it).

No secret's value ever enters the domain: an audit sees versions (their state and age) and who may read them.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta

import attrs

from findly_infra.domain.security import ManagedSecret, SecretManagement
from findly_infra.domain.workload_identity import WorkloadPool

__all__ = [
    "ACCESSOR_ROLE",
    "ConditionVerdict",
    "ConditionalReader",
    "ObservedSecret",
    "SecretFinding",
    "SecretGrant",
    "SecretIdCollision",
    "SecretProblem",
    "SecretReader",
    "SecretVersion",
    "allowed_readers",
    "audit_secrets",
    "judge_condition",
    "readers_at",
    "secret_grants",
    "secret_id",
    "secret_id_collisions",
    "unavailable_for",
]


ACCESSOR_ROLE = "roles/secretmanager.secretAccessor"
"""The role a workload is granted on each secret it reads: it reads payloads and nothing else
(https://cloud.google.com/secret-manager/docs/access-control)."""


def secret_id(secret: ManagedSecret, environment: str) -> str:
    """The secret's ID in Secret Manager for *environment*: ``<name>-<environment>``."""
    return f"{secret.name}-{environment}"


@attrs.frozen
class SecretIdCollision:
    """Two or more (secret, environment) pairs that :func:`secret_id` maps to one Secret Manager secret: each
    environment's grants and audit would act on the one secret — ``payments`` in ``eu-production`` and
    ``payments-eu`` in ``production`` are both ``payments-eu-production``, readable by both environments' pods."""

    secret_id: str
    places: tuple[tuple[str, str], ...]
    """(secret name, environment) of each pair, in the file's order of secrets, then environments."""

    def describe(self) -> str:
        named = " and ".join(f"secret_management.secrets.{name} in {environment}" for name, environment in self.places)
        every = "both" if len(self.places) == 2 else "all"
        return (
            f"{named} are {every} the Secret Manager secret {self.secret_id} (<name>-<environment>): each "
            "environment's pods would be granted, and audited against, the other's secret; rename one of the secrets"
        )


def secret_id_collisions(secrets: SecretManagement, environments: Iterable[str]) -> tuple[SecretIdCollision, ...]:
    """Every secret ID that more than one (secret, environment) pair of *secrets* in *environments* maps to (an
    environment named twice counts once), in the order of its first pair."""
    names = tuple(dict.fromkeys(environments))
    pairs: dict[str, list[tuple[str, str]]] = {}
    for secret in secrets.secrets:
        for environment in names:
            pairs.setdefault(secret_id(secret, environment), []).append((secret.name, environment))
    return tuple(SecretIdCollision(name, tuple(places)) for name, places in pairs.items() if len(places) > 1)


def allowed_readers(secret: ManagedSecret, namespace: str, pool: WorkloadPool) -> frozenset[str]:
    """Who may read the secret in the environment whose namespace is *namespace*: the principal of each service that
    reads it (its pods there, ``…/subject/ns/<namespace>/sa/<service>``; needs the pool's project number), and its
    ``readers``."""
    return frozenset({pool.principal(namespace, service) for service in secret.services} | set(secret.readers))


def _may_read(secret: ManagedSecret, member: str, namespace: str, pool: WorkloadPool) -> bool:
    """*member* is one of the secret's readers, or the principal of a service that reads it (any project number when
    the pool's is not known: :meth:`WorkloadPool.is_principal_of`)."""
    return member in secret.readers or any(pool.is_principal_of(member, namespace, s) for s in secret.services)


@attrs.frozen
class SecretGrant:
    """Read access one workload needs: *member* — the principal of *service*'s pods in the environment — gets
    ``roles/secretmanager.secretAccessor`` on *secret* (its ID in Secret Manager)."""

    secret: str
    service: str
    member: str


def secret_grants(
    secrets: SecretManagement, environment: str, namespace: str, pool: WorkloadPool
) -> tuple[SecretGrant, ...]:
    """Every grant the services' pods in *environment* (running in *namespace*) need: each secret's ID there to the
    principal of each service that reads it, in the file's order. ``ValueError`` when the pool's project number is
    not known."""
    return tuple(
        SecretGrant(secret_id(secret, environment), service, pool.principal(namespace, service))
        for secret in secrets.secrets
        for service in secret.services
    )


@attrs.frozen
class SecretVersion:
    version: str
    enabled: bool
    created: datetime


@attrs.frozen
class ConditionalReader:
    """A member granted a role that reads payloads under an IAM condition: the grant applies while *expression* (CEL,
    https://cloud.google.com/iam/docs/conditions-overview) holds. An empty expression is a condition that could not
    be read at all (e.g. a ``…_withcond_…`` role of a version-1 policy, which hides it)."""

    member: str
    expression: str
    title: str = ""


@attrs.frozen
class ObservedSecret:
    """A secret as Secret Manager holds it: its versions (not destroyed) and the members that may access it —
    *readers* unconditionally, *conditional* while their condition holds."""

    versions: tuple[SecretVersion, ...] = ()
    readers: frozenset[str] = frozenset()
    conditional: tuple[ConditionalReader, ...] = ()


@attrs.frozen
class ConditionVerdict:
    """What an IAM condition means for access at a given moment."""

    can_hold: bool
    """It holds now or may hold later (never ``False`` for a condition not fully judged)."""
    until: datetime | None = None
    """The moment after which it can no longer hold (an expiry), when the condition has one."""
    judged: bool = True
    """Every part of it was understood; ``False``: some part was not, so it counts as able to hold."""


@attrs.frozen
class SecretReader:
    """A member that may read a secret's payload now or later, and for how long."""

    member: str
    until: datetime | None = None
    """A time-limited grant: a reader until then (naive UTC)."""
    condition: str | None = None
    """The condition's expression, when the audit could not (fully) judge it."""

    def describe(self) -> str:
        notes = []
        if self.until is not None:
            notes.append(f"until {self.until:%Y-%m-%d %H:%M} UTC")
        if self.condition is not None:
            what = f": {self.condition}" if self.condition else " (hidden: policy version 1)"
            notes.append(f"under a condition the audit cannot judge{what}")
        return f"{self.member} ({', '.join(notes)})" if notes else self.member


class SecretProblem(enum.Enum):
    MISSING = "missing"
    NO_ENABLED_VERSION = "no-enabled-version"
    ROTATION_OVERDUE = "rotation-overdue"
    STALE_VERSIONS = "stale-versions"
    UNEXPECTED_READER = "unexpected-reader"
    WORKLOAD_CANNOT_READ = "workload-cannot-read"


@attrs.frozen
class SecretFinding:
    secret: str
    """The secret's ID in Secret Manager."""
    problem: SecretProblem
    message: str
    readers: tuple[SecretReader, ...] = ()
    """For an unexpected reader: who, and for how long."""


def audit_secrets(  # noqa: PLR0917 - the audit's inputs, each named
    secrets: SecretManagement,
    environment: str,
    pool: WorkloadPool,
    namespace: str,
    observed: Mapping[str, ObservedSecret | None],
    now: datetime,
) -> tuple[SecretFinding, ...]:
    """The findings for every secret of *secrets* in *environment* — whose pods run in *namespace*, as principals of
    *pool* — given what Secret Manager holds (*observed*, by secret ID; ``None`` or absent: it does not exist) at
    *now*. Empty: every secret is there, fresh, readable by the pods of each service that reads it and by no one
    else."""
    findings: list[SecretFinding] = []
    grace = timedelta(milliseconds=secrets.grace_period.milliseconds)
    for secret in secrets.secrets:
        name = secret_id(secret, environment)
        held = observed.get(name)
        if held is None:
            findings.append(SecretFinding(name, SecretProblem.MISSING, f"{name} does not exist"))
            continue
        enabled = sorted((v for v in held.versions if v.enabled), key=lambda v: v.created, reverse=True)
        kind = secrets.secret_type(secret.type)
        if not enabled:
            findings.append(SecretFinding(name, SecretProblem.NO_ENABLED_VERSION, f"{name} has no enabled version"))
        elif kind is not None:
            period = timedelta(milliseconds=kind.rotation_period.milliseconds)
            age = now - enabled[0].created
            if age > period:
                findings.append(
                    SecretFinding(
                        name,
                        SecretProblem.ROTATION_OVERDUE,
                        f"{name}'s latest version ({enabled[0].version}) is {_days(age)} old: {secret.type} rotate "
                        f"every {kind.rotation_period.describe()}",
                    )
                )
        if len(enabled) > 1 and now - enabled[0].created > grace:
            older = ", ".join(version.version for version in enabled[1:])
            findings.append(
                SecretFinding(
                    name,
                    SecretProblem.STALE_VERSIONS,
                    f"{name} still has {older} enabled, {_days(now - enabled[0].created)} after version "
                    f"{enabled[0].version} replaced them (grace period {secrets.grace_period.describe()})",
                )
            )
        unexpected = tuple(r for r in readers_at(held, now) if not _may_read(secret, r.member, namespace, pool))
        if unexpected:
            findings.append(
                SecretFinding(
                    name,
                    SecretProblem.UNEXPECTED_READER,
                    f"{name} is readable by {', '.join(r.describe() for r in unexpected)}, which its access does not "
                    f"allow ({secret.type}: "
                    f"{kind.access_pattern if kind and kind.access_pattern else 'its services only'})"
                    + _shared_account_note(secret, unexpected, pool),
                    unexpected,
                )
            )
        findings.extend(_workloads_that_cannot_read(secret, name, environment, held, namespace, pool))
    return tuple(findings)


def _shared_account_note(secret: ManagedSecret, unexpected: tuple[SecretReader, ...], pool: WorkloadPool) -> str:
    """Why a service's own Google service account is not taken as the service's reader any more."""
    accounts = {f"serviceAccount:{service}@{pool.project}.iam.gserviceaccount.com" for service in secret.services}
    if not any(reader.member in accounts for reader in unexpected):
        return ""
    return (
        "; a Google service account per service is one identity for every environment (the pods of each environment "
        "that may act as it read this one's secret): grant each environment's pods their own principal "
        "(findly-infra secrets grant), or list the account in readers to keep it"
    )


def _workloads_that_cannot_read(  # noqa: PLR0917 - one secret's finding, every input named
    secret: ManagedSecret, name: str, environment: str, held: ObservedSecret, namespace: str, pool: WorkloadPool
) -> Iterator[SecretFinding]:
    """A service that reads the secret whose pods' principal holds no unconditional grant of a role that reads it:
    they fail at run time when they ask for it (a conditional grant ends, or may never hold)."""
    for service in secret.services:
        if any(pool.is_principal_of(member, namespace, service) for member in held.readers):
            continue
        yield SecretFinding(
            name,
            SecretProblem.WORKLOAD_CANNOT_READ,
            f"{service}'s pods in {environment} cannot read {name}: their principal (the Kubernetes ServiceAccount "
            f"{service} in {namespace}, workload pool {pool.name}) holds no role on it that reads it unconditionally; "
            f"grant it: findly-infra secrets grant --env {environment}",
        )


def readers_at(held: ObservedSecret, now: datetime) -> tuple[SecretReader, ...]:
    """Who may read *held*'s payload at *now* or later, by member: its unconditional readers, and each conditional
    reader whose condition can still hold (the longest-lasting grant of a member wins, :func:`_longer`: a condition the
    audit cannot judge lasts as long as the expiry it may have, for ever when it has none)."""
    best: dict[str, SecretReader] = {member: SecretReader(member) for member in held.readers}
    for grant in held.conditional:
        verdict = judge_condition(grant.expression, now)
        if not verdict.can_hold:
            continue
        reader = SecretReader(grant.member, verdict.until, None if verdict.judged else grant.expression)
        best[grant.member] = _longer(best.get(grant.member), reader)
    return tuple(best[member] for member in sorted(best))


def _longer(held: SecretReader | None, new: SecretReader) -> SecretReader:
    """Of two grants of one member, the one that may last longer: the later end (none: for ever, unconditional or
    not judged); of two that end together, the judged one (it reads for certain); else the first."""
    if held is None:
        return new
    return new if _reach(new) > _reach(held) else held


def _reach(reader: SecretReader) -> tuple[bool, datetime, bool]:
    return reader.until is None, reader.until or datetime.min, reader.condition is None


# ---- IAM conditions ---------------------------------------------------------------------------------------------
# Conditions are CEL expressions (https://cloud.google.com/iam/docs/conditions-overview). The audit reads the one
# form a time-limited grant takes — ``request.time < timestamp("2026-12-01T00:00:00Z")`` (the date/time attributes,
# https://cloud.google.com/iam/docs/conditions-attribute-reference#date-time), alone or joined to others with
# ``&&`` — and nothing else: every other part is "not judged", which counts as able to hold.

_TIMESTAMP = r"timestamp\(\s*(?P<q{n}>[\"'])(?P<t{n}>[^\"']+)(?P=q{n})\s*\)"
_COMPARISON = re.compile(
    rf"^(?:request\.time\s*(?P<op1><=|>=|<|>)\s*{_TIMESTAMP.format(n=1)}"
    rf"|{_TIMESTAMP.format(n=2)}\s*(?P<op2><=|>=|<|>)\s*request\.time)$"
)
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}


def judge_condition(expression: str, now: datetime) -> ConditionVerdict:
    """Whether an IAM condition can hold at *now* (naive UTC) or later, and until when.

    A conjunction (``a && b``) cannot hold once any of its parts cannot: an expiry in the past ends it, whatever the
    other parts say. A part the audit does not understand (anything but a comparison of ``request.time`` with a
    ``timestamp``), a disjunction (``||``), a negation or an empty expression is not judged: it may hold.
    """
    parts = _conjuncts(expression)
    if parts is None:
        return ConditionVerdict(can_hold=True, judged=False)
    until: datetime | None = None
    judged = True
    for part in parts:
        bound = _time_bound(part)
        if bound is None:
            judged = False
            continue
        op, moment = bound
        if op in ("<", "<="):
            if now > moment or (op == "<" and now == moment):
                return ConditionVerdict(can_hold=False, until=moment)
            until = moment if until is None else min(until, moment)
    return ConditionVerdict(can_hold=True, until=until, judged=judged)


def _conjuncts(expression: str) -> list[str] | None:
    """The top-level ``&&`` parts of *expression*, outer parentheses removed; ``None`` when it has none to judge:
    empty, a top-level ``||`` (a disjunction holds when any side does) or ``?`` (``a && b ? c : d`` is a conditional,
    whose condition decides nothing of the whole: ``?:`` binds looser than ``||`` and ``&&``), or text that is not
    read here (a comment, a string not closed, brackets that do not pair)."""
    text = _unwrap(expression.strip())
    if not text:
        return None
    tokens = _top_level(text)
    if tokens is None:
        return None
    parts, start = [], 0
    for at, token in tokens:
        if token != "&&":
            return None
        parts.append(text[start:at])
        start = at + 2
    parts.append(text[start:])
    return [_unwrap(part.strip()) for part in parts]


def _code(text: str) -> list[tuple[int, str]] | None:
    """Each character of *text* outside its string literals, with its position; ``None`` when *text* has a comment
    or a string that is not closed. CEL's lexis (google/cel-spec doc/langdef.md, "Syntax" and "String and Bytes
    Values"): a string is quoted by ``"`` or ``'``, or by three of either (then it may hold a lone quote and new
    lines); an ``r`` or ``R`` before it (after a ``b`` too) makes it raw — a backslash escapes nothing there; a
    comment runs from ``//`` to the end of its line."""
    found: list[tuple[int, str]] = []
    at = 0
    while at < len(text):
        char = text[at]
        if char in "\"'":
            quote = char * 3 if text.startswith(char * 3, at) else char
            prefix = text[max(at - 2, 0) : at].lower()
            raw = prefix.endswith("r") or prefix == "rb"
            at += len(quote)
            while not text.startswith(quote, at):
                if at >= len(text):
                    return None
                at += 1 if raw or text[at] != "\\" else 2
            at += len(quote)
            continue
        if text.startswith("//", at):
            return None
        found.append((at, char))
        at += 1
    return found


def _top_level(text: str) -> list[tuple[int, str]] | None:
    """The positions of ``&&``, ``||`` and ``?`` outside brackets (``()``, ``[]``, ``{}``) and string literals, in
    order; ``None`` when *text* is not read here (:func:`_code`, or brackets that do not pair)."""
    code = _code(text)
    if code is None:
        return None
    found: list[tuple[int, str]] = []
    depth, skip = 0, None
    for at, char in code:
        if at == skip:
            continue
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth < 0:
                return None
        elif depth == 0 and char == "?":
            found.append((at, char))
        elif depth == 0 and text[at : at + 2] in ("&&", "||"):
            found.append((at, text[at : at + 2]))
            skip = at + 1
    return found if depth == 0 else None


def _unwrap(text: str) -> str:
    while text.startswith("(") and text.endswith(")") and _closes_at_end(text):
        text = text[1:-1].strip()
    return text


def _closes_at_end(text: str) -> bool:
    """Whether the bracket *text* opens with closes at its end (``(a) && (b)``: no)."""
    depth = 0
    for at, char in _code(text) or ():
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return at == len(text) - 1
    return False  # pragma: no mutate - equivalent: brackets that never close leave text that _top_level refuses


def _time_bound(part: str) -> tuple[str, datetime] | None:
    """``request.time OP timestamp(T)`` (either way round) as (OP with request.time on the left, T in naive UTC)."""
    match = _COMPARISON.match(part)
    if match is None:
        return None
    if match["op1"]:
        op, text = match["op1"], match["t1"]
    else:
        op, text = _FLIPPED[match["op2"]], match["t2"]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    offset = moment.utcoffset()
    if offset is None:  # CEL's timestamp() takes RFC 3339, which always carries its offset
        return None
    return op, moment.replace(tzinfo=None) - offset


def unavailable_for(
    service: str, environment: str, secrets: SecretManagement, observed: Mapping[str, ObservedSecret | None]
) -> tuple[str, ...]:
    """The secrets *service* reads in *environment* that it could not read now: missing, or with no enabled version
    (the release gate's rule, ``secrets-present``)."""
    unavailable = []
    for secret in secrets.secrets:
        if service not in secret.services:
            continue
        name = secret_id(secret, environment)
        held = observed.get(name)
        if held is None or not any(version.enabled for version in held.versions):
            unavailable.append(name)
    return tuple(unavailable)


def _days(age: timedelta) -> str:
    days = age.total_seconds() / 86_400
    return f"{days:.0f} days" if days >= 1 else f"{age.total_seconds() / 3600:.0f} hours"
