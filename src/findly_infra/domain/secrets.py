"""What a secrets audit finds (pure; the Secret Manager adapter only reads): for each secret the platform file says
the services read, in one environment — missing, no enabled version, rotation overdue against its type's period,
more than one version enabled past the grace period, readable by a principal its access does not allow.

No secret's value ever enters the domain: an audit sees versions (their state and age) and who may read them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, timedelta

import attrs

from findly_infra.domain.security import ManagedSecret, SecretManagement

__all__ = [
    "ObservedSecret",
    "SecretFinding",
    "SecretProblem",
    "SecretVersion",
    "allowed_readers",
    "audit_secrets",
    "secret_id",
    "unavailable_for",
]


def secret_id(secret: ManagedSecret, environment: str) -> str:
    """The secret's ID in Secret Manager for *environment*: ``<name>-<environment>``."""
    return f"{secret.name}-{environment}"


def allowed_readers(secret: ManagedSecret, project: str) -> frozenset[str]:
    """Who may read the secret: the service account of each service that reads it
    (``serviceAccount:<service>@<project>.iam.gserviceaccount.com``, workload identity's), and its ``readers``."""
    accounts = {f"serviceAccount:{service}@{project}.iam.gserviceaccount.com" for service in secret.services}
    return frozenset(accounts | set(secret.readers))


@attrs.frozen
class SecretVersion:
    version: str
    enabled: bool
    created: datetime


@attrs.frozen
class ObservedSecret:
    """A secret as Secret Manager holds it: its versions (not destroyed) and the members that may access it."""

    versions: tuple[SecretVersion, ...] = ()
    readers: frozenset[str] = frozenset()


class SecretProblem(enum.Enum):
    MISSING = "missing"
    NO_ENABLED_VERSION = "no-enabled-version"
    ROTATION_OVERDUE = "rotation-overdue"
    STALE_VERSIONS = "stale-versions"
    UNEXPECTED_READER = "unexpected-reader"


@attrs.frozen
class SecretFinding:
    secret: str
    """The secret's ID in Secret Manager."""
    problem: SecretProblem
    message: str


def audit_secrets(
    secrets: SecretManagement,
    environment: str,
    project: str,
    observed: Mapping[str, ObservedSecret | None],
    now: datetime,
) -> tuple[SecretFinding, ...]:
    """The findings for every secret of *secrets* in *environment*, given what Secret Manager holds (*observed*, by
    secret ID; ``None`` or absent: it does not exist) at *now*. Empty: every secret is there, fresh and readable only
    by whom it should be."""
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
        unexpected = sorted(held.readers - allowed_readers(secret, project))
        if unexpected:
            findings.append(
                SecretFinding(
                    name,
                    SecretProblem.UNEXPECTED_READER,
                    f"{name} is readable by {', '.join(unexpected)}, which its access does not allow "
                    f"({secret.type}: {kind.access_pattern if kind and kind.access_pattern else 'its services only'})",
                )
            )
    return tuple(findings)


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
