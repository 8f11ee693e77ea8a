"""Secret Manager through the official client (``google-cloud-secret-manager``), imported only here.

It reads what the release gate needs — a secret's versions (state, create time): :meth:`SecretStore.observe` — and
what an audit adds — who may access it, from its IAM policy read at version 3 so that conditional grants come back
with their conditions: :meth:`SecretStore.audit` — and one payload only: :meth:`SecretStore.payload`, the latest
version of a notification receiver's URL or key (``access_secret_version``), handed to the composition root that
builds the receiver. It writes a rotation: a new version (the value given, with its CRC32C — Castagnoli, as the
API checks it — so a corrupted upload is refused), then disables the versions a newer one replaced more than the grace
period ago; a rotation schedule; and a grant of read access (:meth:`SecretStore.grant_access`), a read-modify-write of
the IAM policy with its etag. A value is never logged, printed or put in a message.

Errors: ``NOT_FOUND`` is a missing secret (an audit finding, not an error); ``PERMISSION_DENIED`` names the permission
(exit 2); ``UNAVAILABLE``/``DEADLINE_EXCEEDED`` are retried with backoff, then exit 5; a stale etag (``ABORTED`` from
IAM) has the read-modify-write done again on fresh state.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from findly_infra.adapters.google_api import NotFoundError, call_google, retry_on_conflict
from findly_infra.application.ports import BadInputError, DependencyUnavailableError
from findly_infra.domain.secrets import ConditionalReader, ObservedSecret, SecretVersion

__all__ = [
    "ACCESSOR",
    "MAX_PAYLOAD",
    "POLICY_VERSION",
    "READER_ROLES",
    "Rotation",
    "SecretStore",
    "connect_secret_manager",
]

ACCESSOR = "roles/secretmanager.secretAccessor"
"""The role that reads payloads and nothing else (https://cloud.google.com/secret-manager/docs/access-control)."""

READER_ROLES = frozenset({ACCESSOR, "roles/secretmanager.admin", "roles/owner"})
"""The roles whose members can read a secret's payload."""

MAX_PAYLOAD = 65536
"""A payload "Must be no larger than 64KiB" (SecretPayload.data, google/cloud/secretmanager/v1/resources.proto)."""

POLICY_VERSION = 3
"""The IAM policy version read and written: "Any operation that affects conditional role bindings must specify
version 3", and a version-1 read hides each condition behind a ``…_withcond_<hash>`` role (google/iam/v1/policy.proto;
https://cloud.google.com/iam/docs/troubleshooting-withcond)."""

_WITHCOND = "_withcond_"


@attrs.frozen
class Rotation:
    secret: str
    added: str
    """The new version's number."""
    disabled: tuple[str, ...]
    """The versions disabled: replaced more than the grace period ago."""


@attrs.define
class SecretStore:
    """One project's secrets through a ``SecretManagerServiceClient``."""

    client: Any = attrs.field(repr=False)
    project: str
    attempts: int = 5
    call_timeout: float = 30.0

    def _name(self, secret: str) -> str:
        return f"projects/{self.project}/secrets/{secret}"

    def observe(self, secret: str) -> ObservedSecret | None:
        """The secret's versions (not destroyed) — what the release gate needs, with ``secretmanager.secrets.get`` and
        ``secretmanager.versions.list`` only (it never reads the IAM policy: no reader is returned); ``None`` when
        the secret does not exist."""
        name = self._name(secret)
        try:
            self._call("get the secret", name, lambda: self.client.get_secret(name=name, **self._once))
        except NotFoundError:
            return None
        return ObservedSecret(self._versions(name))

    def audit(self, secret: str) -> ObservedSecret | None:
        """The secret's versions and who may read its payload — unconditionally, or under an IAM condition (read at
        policy version 3, so each condition comes with its grant) — for ``secrets audit``; ``None`` when it does not
        exist. Also needs ``secretmanager.secrets.getIamPolicy``."""
        observed = self.observe(secret)
        if observed is None:
            return None
        name = self._name(secret)
        policy = self._policy(name)
        readers: set[str] = set()
        conditional: list[ConditionalReader] = []
        for binding in policy.bindings:
            role, hidden, _ = binding.role.partition(_WITHCOND)
            if role not in READER_ROLES:
                continue
            if binding.HasField("condition") or hidden:  # a hidden condition: one the audit cannot judge
                expression = binding.condition.expression if binding.HasField("condition") else ""
                conditional += [ConditionalReader(m, expression, binding.condition.title) for m in binding.members]
            else:
                readers.update(binding.members)
        return attrs.evolve(observed, readers=frozenset(readers), conditional=tuple(conditional))

    def payload(self, secret: str) -> bytes | None:
        """The latest enabled version's payload of *secret* (``secretmanager.versions.access``), checked against its
        CRC32C where the API gives one; ``None`` when the secret does not exist or has no enabled version. For a
        notification receiver's URL or key: never logged, printed or put in a message."""
        name = f"{self._name(secret)}/versions/latest"
        try:
            response = self._call(
                "read the latest version of", name, lambda: self.client.access_secret_version(name=name, **self._once)
            )
        except NotFoundError:
            return None
        data = bytes(response.payload.data)
        if "data_crc32c" in response.payload:  # proto-plus: the field set (optional int64)
            import google_crc32c

            if google_crc32c.value(data) != response.payload.data_crc32c:
                raise DependencyUnavailableError(f"Secret Manager answered {name} with a corrupted payload (CRC32C)")
        return data

    def holds_access(self, secret: str, member: str) -> bool | None:
        """Whether *member* holds ``roles/secretmanager.secretAccessor`` on *secret* unconditionally — what
        :meth:`grant_access` would leave as it is; ``None`` when the secret does not exist. Reads the IAM policy
        (version 3) only: ``secretmanager.secrets.getIamPolicy``."""
        try:
            policy = self._policy(self._name(secret))
        except NotFoundError:
            return None
        return _holds(policy, member)

    def grant_access(self, secret: str, member: str) -> bool:
        """Let *member* (a workload's principal, ``principal://…``, or ``serviceAccount:…``) read *secret*'s payload:
        ``roles/secretmanager.secretAccessor``, unconditionally. A read-modify-write of the IAM policy at version 3
        (every other binding, conditions and all, kept) sent with the etag it was read with, so that a change made in
        between is refused rather than overwritten — then done again on the fresh policy. Whether it had to change: a
        member that already holds the role unconditionally is left as it is. Needs
        ``secretmanager.secrets.getIamPolicy`` and ``secretmanager.secrets.setIamPolicy``."""
        name = self._name(secret)

        def read_modify_write() -> bool:
            policy = self._policy(name)
            if _holds(policy, member):
                return False
            granted = [b for b in policy.bindings if b.role == ACCESSOR and not b.HasField("condition")]
            if granted:
                granted[0].members.append(member)
            else:
                policy.bindings.add(role=ACCESSOR, members=[member])
            policy.version = POLICY_VERSION
            self._call(
                "set the IAM policy",
                name,
                lambda: self.client.set_iam_policy(request={"resource": name, "policy": policy}, **self._once),
            )
            return True

        changed: bool = retry_on_conflict(
            "Secret Manager", f"grant {member} access", name, read_modify_write, attempts=self.attempts
        )
        return changed

    def rotate(self, secret: str, value: bytes, *, grace: timedelta, now: datetime) -> Rotation:
        """Add *value* as the secret's new version, then disable the enabled versions a newer one replaced more than
        *grace* ago (the previous version stays enabled through the grace period: the next rotation disables it)."""
        import google_crc32c

        name = self._name(secret)
        if not value:
            raise BadInputError(f"the new value of {secret} is empty: nothing was written")
        if len(value) > MAX_PAYLOAD:
            raise BadInputError(
                f"the new value of {secret} is {len(value)} bytes: Secret Manager keeps at most {MAX_PAYLOAD} "
                "(64 KiB); nothing was written"
            )
        # The API checks data_crc32c as CRC32C (Castagnoli), not zlib's CRC-32: SecretPayload.data_crc32c in
        # google/cloud/secretmanager/v1/resources.proto; https://cloud.google.com/secret-manager/docs/data-integrity
        payload = {"data": value, "data_crc32c": google_crc32c.value(value)}
        added = self._call(
            "add a version",
            name,
            lambda: self.client.add_secret_version(request={"parent": name, "payload": payload}, **self._once),
        )
        number = added.name.rsplit("/", 1)[1]
        disabled: list[str] = []
        try:
            listed = self._call("list the versions", name, lambda: self._listed(name))
            enabled = sorted((v for v in listed if v.state.name == "ENABLED"), key=_number)
            for older, newer in itertools.pairwise(enabled):
                if now - _naive(newer.create_time) > grace:
                    disabled.append(self._disable(older.name, older.etag))
        except (BadInputError, DependencyUnavailableError) as exc:  # the new value is in: say so, or it is added twice
            done = f"; disabled {', '.join(disabled)}" if disabled else ""
            raise type(exc)(
                f"{secret}: version {number} was added{done}, but the versions it replaced were not all disabled: "
                f"{exc} (do not rotate again for this: the next rotation disables them)"
            ) from None
        return Rotation(secret, number, tuple(disabled))

    def schedule(self, secret: str, *, period: timedelta, topic: str, first: datetime) -> bool:
        """Set the secret's native rotation schedule (every *period*, next at *first*, notifying *topic*) unless it
        already has that period and topic; whether it had to change."""
        name = self._name(secret)
        current = self._call("get the secret", name, lambda: self.client.get_secret(name=name, **self._once))
        held_period = current.rotation.rotation_period
        same_period = held_period is not None and held_period.total_seconds() == period.total_seconds()
        if same_period and [t.name for t in current.topics] == [topic]:
            return False
        update = {
            "name": name,
            "etag": current.etag,  # changed by someone since it was read: refused (FAILED_PRECONDITION), not undone
            "rotation": {
                "next_rotation_time": first.replace(tzinfo=UTC),
                "rotation_period": period,  # proto-plus marshals a timedelta as a Duration
            },
            "topics": [{"name": topic}],
        }
        mask = {"paths": ["rotation", "topics"]}
        self._call(
            "set the rotation schedule",
            name,
            lambda: self.client.update_secret(request={"secret": update, "update_mask": mask}, **self._once),
        )
        return True

    def _disable(self, version: str, etag: str) -> str:
        """Disable *version* as it was listed: with its etag, so that one changed in between (re-enabled, destroyed)
        is refused — FAILED_PRECONDITION (https://cloud.google.com/secret-manager/docs/etags) — not acted on."""
        request = {"name": version, "etag": etag}
        self._call(
            "disable a version", version, lambda: self.client.disable_secret_version(request=request, **self._once)
        )
        return version.rsplit("/", 1)[1]

    def _listed(self, name: str) -> list[Any]:
        return list(self.client.list_secret_versions(parent=name, **self._once))

    def _versions(self, name: str) -> tuple[SecretVersion, ...]:
        listed = self._call("list the versions", name, lambda: self._listed(name))
        return tuple(
            SecretVersion(str(_number(v)), v.state.name == "ENABLED", _naive(v.create_time))
            for v in listed
            if v.state.name != "DESTROYED"
        )

    def _policy(self, name: str) -> Any:
        """The IAM policy at version 3: conditional bindings with their conditions."""
        request = {"resource": name, "options": {"requested_policy_version": POLICY_VERSION}}
        return self._call(
            "read the IAM policy", name, lambda: self.client.get_iam_policy(request=request, **self._once)
        )

    # ---- one call, its errors ----------------------------------------------------------------------------------------

    @property
    def _once(self) -> dict[str, Any]:
        return {"retry": None, "timeout": self.call_timeout}

    def _call(self, what: str, resource: str, call: Callable[[], Any]) -> Any:
        return call_google("Secret Manager", what, resource, call, attempts=self.attempts)


def connect_secret_manager(project: str, *, endpoint: str | None = None, channel: Any = None) -> SecretStore:
    """A :class:`SecretStore` with Application Default Credentials (or, for tests, an insecure *channel*)."""
    from google.cloud import secretmanager_v1

    if channel is not None:
        from google.cloud.secretmanager_v1.services.secret_manager_service.transports.grpc import (
            SecretManagerServiceGrpcTransport,
        )

        client = secretmanager_v1.SecretManagerServiceClient(
            transport=SecretManagerServiceGrpcTransport(channel=channel)
        )
    else:
        try:
            options = {"api_endpoint": endpoint} if endpoint else None
            client = secretmanager_v1.SecretManagerServiceClient(client_options=options)
        except Exception as exc:  # noqa: BLE001 - no credentials: said, not a traceback
            raise BadInputError(
                f"cannot reach Secret Manager: {exc} (Application Default Credentials: gcloud auth "
                "application-default login)"
            ) from None
    return SecretStore(client, project)


def _holds(policy: Any, member: str) -> bool:
    """Whether *policy* grants *member* the accessor role unconditionally."""
    return any(
        member in binding.members
        for binding in policy.bindings
        if binding.role == ACCESSOR and not binding.HasField("condition")
    )


def _number(version: Any) -> int:
    return int(version.name.rsplit("/", 1)[1])


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
