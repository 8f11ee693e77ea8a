"""``secrets audit``, ``rotate``, ``schedule`` and ``grant``: the secrets the platform file says the services read
(``secret_management.secrets``), against Secret Manager. No value is ever printed, logged or recorded: an audit never
reads one, a rotation takes its value from standard input or a generator — never from the command line — and a grant
reads and writes IAM policies only."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from findly_infra.cli.context import Command, Context
from findly_infra.cli.exits import EXIT_DRIFT, EXIT_OK

__all__ = ["COMMANDS"]


def _arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="secrets_command", metavar="ACTION", required=True)
    audit = actions.add_parser(
        "audit", help="missing, overdue, left enabled, readable by others: exit 0 none, 7 findings (never a value)"
    )
    rotate = actions.add_parser(
        "rotate", help="add a new version (value on standard input, or --generate), disable those replaced long ago"
    )
    rotate.add_argument("secret", metavar="NAME", help="the secret, as secret_management.secrets names it")
    rotate.add_argument("--generate", type=int, metavar="BYTES", help="a new random value of BYTES random bytes")
    rotate.add_argument(
        "--grace-period", metavar="DURATION", help="how long a replaced version stays enabled (default: the file's)"
    )
    schedule = actions.add_parser(
        "schedule",
        help="set each secret's native rotation schedule from its type's period (notifying rotation_topic)",
    )
    grant = actions.add_parser(
        "grant",
        help="give each service's pods (Workload Identity) read access to the secrets they read: exit 0 done, "
        "7 with --dry-run when something would change",
    )
    grant.add_argument("--dry-run", action="store_true", help="say what would be granted, grant nothing")
    for action in (audit, rotate, schedule, grant):
        action.add_argument("--env", required=True, help="the environment, as the platform file names it")
        action.add_argument("--project", help="the Google Cloud project (default: as for cluster plan)")


def _secrets(context: Context) -> int:
    from findly_infra.application.ports import BadInputError
    from findly_infra.bootstrap import secret_store
    from findly_infra.domain.secrets import audit_secrets, secret_id

    args = context.args
    platform = context.platform()
    environment = platform.environment(args.env).name
    managed = platform.secret_management
    if managed is None or not managed.secrets:
        raise BadInputError(
            f"the platform file names no secrets (secret_management.secrets): nothing to {args.secrets_command}"
        )
    store = secret_store(platform, project=args.project)
    now = datetime.now(UTC).replace(tzinfo=None)
    namespace = platform.kubernetes.namespace_for(environment)
    if args.secrets_command == "grant":
        return _grant(context, store, managed, environment, namespace, _pool(platform, store.project))
    if args.secrets_command == "audit":
        observed = {secret_id(s, environment): store.audit(secret_id(s, environment)) for s in managed.secrets}
        findings = audit_secrets(managed, environment, _pool(platform, store.project), namespace, observed, now)
        lines = [f"{finding.problem.value}: {finding.message}" for finding in findings]
        lines = lines or [
            f"{len(managed.secrets)} secrets in {environment}: present, fresh, readable only by their own"
        ]
        document = {
            "environment": environment,
            "project": store.project,
            "secrets": sorted(observed),
            "findings": [
                {"secret": f.secret, "problem": f.problem.value, "message": f.message, "readers": _readers(f)}
                for f in findings
            ],
        }
        context.emit(document, "\n".join(lines))
        return EXIT_DRIFT if findings else EXIT_OK
    if args.secrets_command == "schedule":
        return _schedule(context, store, managed, environment, now)
    secret = next((s for s in managed.secrets if s.name == args.secret), None)
    if secret is None:
        known = ", ".join(s.name for s in managed.secrets)
        raise BadInputError(f"{args.secret!r} is not a secret of secret_management.secrets (known: {known})")
    grace = timedelta(milliseconds=managed.grace_period.milliseconds)
    if args.grace_period:
        from findly_infra.domain.notation import Duration, NotationError

        try:
            grace = timedelta(milliseconds=Duration.parse(args.grace_period).milliseconds)
        except NotationError as exc:
            raise BadInputError(f"--grace-period: {exc}") from None
    rotation = store.rotate(secret_id(secret, environment), _value(args.generate), grace=grace, now=now)
    text = f"{rotation.secret}: version {rotation.added} added"
    if rotation.disabled:
        text += f"; disabled {', '.join(rotation.disabled)} (replaced more than the grace period ago)"
    context.emit({"secret": rotation.secret, "added": rotation.added, "disabled": list(rotation.disabled)}, text)
    return EXIT_OK


def _pool(platform: Any, project: str) -> Any:
    """The workload pool the services' pods are principals of: the cluster's project (``gke_cluster.project``, else
    the secrets' project), with its number where the file gives it (``gke_cluster.project_number``)."""
    from findly_infra.domain.workload_identity import WorkloadPool

    cluster = platform.gke_cluster
    return WorkloadPool(
        (cluster.project if cluster is not None else None) or project,
        cluster.project_number if cluster is not None else None,
    )


def _grant(  # noqa: PLR0917 - the command's inputs, each named
    context: Context, store: Any, managed: Any, environment: str, namespace: str, pool: Any
) -> int:
    """Each secret the services read in *environment* to the principal of each service's pods there."""
    from findly_infra.application.ports import BadInputError
    from findly_infra.application.secret_access import grant_secret_access
    from findly_infra.domain.secrets import ACCESSOR_ROLE, secret_grants

    if pool.number is None:
        raise BadInputError(
            "secrets grant names each service's pods by their Workload Identity principal, which names the number of "
            f"project {pool.project}: give gke_cluster.project_number (gcloud projects describe {pool.project} "
            "--format='value(projectNumber)')"
        )
    dry_run = bool(context.args.dry_run)
    outcomes = grant_secret_access(store, secret_grants(managed, environment, namespace, pool), dry_run=dry_run)
    changed = sum(1 for outcome in outcomes if outcome.changed)
    verb = "to grant" if dry_run else "granted"
    lines = [
        f"{o.grant.secret}: "
        + (
            f"{'grant' if dry_run else 'granted'} {ACCESSOR_ROLE} to {o.grant.service}'s pods"
            if o.changed
            else f"{o.grant.service}'s pods already hold {ACCESSOR_ROLE}"
        )
        + f" ({o.grant.member})"
        for o in outcomes
    ]
    mode = "dry run: nothing changed" if dry_run else f"project {store.project}"
    lines.append(
        f"{environment}: {changed} {verb}, {len(outcomes) - changed} already held "
        f"({mode}; the pods of namespace {namespace}, workload pool {pool.name})"
    )
    document = {
        "environment": environment,
        "project": store.project,
        "workload_pool": pool.name,
        "namespace": namespace,
        "dry_run": dry_run,
        "changed": changed > 0,
        "grants": [
            {
                "secret": o.grant.secret,
                "service": o.grant.service,
                "member": o.grant.member,
                "role": ACCESSOR_ROLE,
                "action": ("grant" if o.changed else "held"),
            }
            for o in outcomes
        ],
    }
    context.emit(document, "\n".join(lines))
    return EXIT_DRIFT if dry_run and changed else EXIT_OK


def _readers(finding: Any) -> list[dict[str, str | None]]:
    """An unexpected-reader finding's readers: each member, until when (RFC 3339, UTC) for a time-limited grant, and
    the condition the audit could not judge (counted as a reader)."""
    return [
        {
            "member": reader.member,
            "until": f"{reader.until.isoformat()}Z" if reader.until is not None else None,
            "condition": reader.condition,
        }
        for reader in finding.readers
    ]


def _schedule(context: Context, store: Any, managed: Any, environment: str, now: datetime) -> int:
    """Each secret's rotation every its type's period, the first one period from now, notifying the topic."""
    from findly_infra.application.ports import BadInputError
    from findly_infra.domain.secrets import secret_id

    if managed.rotation_topic is None:
        raise BadInputError(
            "secret_management.rotation_topic names no Pub/Sub topic: Secret Manager notifies one when a secret is "
            "due (projects/P/topics/T)"
        )
    lines, changed = [], []
    for secret in managed.secrets:
        kind = managed.secret_type(secret.type)
        if kind is None:
            continue
        period = timedelta(milliseconds=kind.rotation_period.milliseconds)
        name = secret_id(secret, environment)
        if store.schedule(name, period=period, topic=managed.rotation_topic, first=now + period):
            changed.append(name)
            lines.append(
                f"{name}: rotation every {kind.rotation_period.describe()}, notifying {managed.rotation_topic}"
            )
        else:
            lines.append(f"{name}: already rotates every {kind.rotation_period.describe()}")
    context.emit({"environment": environment, "changed": changed}, "\n".join(lines))
    return EXIT_OK


def _value(generate: int | None) -> bytes:
    """The new value: *generate* random bytes (URL-safe text), else standard input, exactly — never an argument."""
    import secrets as random_source

    from findly_infra.application.ports import BadInputError

    if generate is not None:
        if not 16 <= generate <= 4096:
            raise BadInputError(f"--generate takes 16 to 4096 bytes, got {generate}")
        return random_source.token_urlsafe(generate).encode()
    if sys.stdin is None or sys.stdin.isatty():
        raise BadInputError("give the new value on standard input (printf '%s' \"$VALUE\" | …), or --generate BYTES")
    value = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    if not value:
        raise BadInputError("standard input is empty: no new value was given, nothing was written")
    return value


COMMANDS = (
    Command(
        "secrets",
        "the secrets the services read: `secrets audit` (exit 7 on findings), `secrets rotate NAME`, `secrets "
        "schedule`, `secrets grant` (the pods' read access)",
        _arguments,
        _secrets,
    ),
)
