"""Secret Manager through the official client (``google-cloud-secret-manager``), imported only here.

It reads what an audit needs — a secret's versions (state, create time) and who may access it (its IAM policy) — and
never a payload: no method here calls ``access_secret_version``. It writes a rotation: a new version (the value given,
with its CRC32C — Castagnoli, as the API checks it — so a corrupted upload is refused), then disables the versions a
newer one replaced more than the grace period ago. A value is never logged, printed or put in a message.

Errors: ``NOT_FOUND`` is a missing secret (an audit finding, not an error); ``PERMISSION_DENIED`` names the permission
(exit 2); ``UNAVAILABLE``/``DEADLINE_EXCEEDED`` are retried with backoff, then exit 5.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from findly_infra.adapters.google_api import NotFoundError, call_google
from findly_infra.application.ports import BadInputError, DependencyUnavailableError
from findly_infra.domain.secrets import ObservedSecret, SecretVersion

__all__ = ["MAX_PAYLOAD", "READER_ROLES", "Rotation", "SecretStore", "connect_secret_manager"]

READER_ROLES = frozenset({"roles/secretmanager.secretAccessor", "roles/secretmanager.admin", "roles/owner"})
"""The roles whose members can read a secret's payload."""

MAX_PAYLOAD = 65536
"""A payload "Must be no larger than 64KiB" (SecretPayload.data, google/cloud/secretmanager/v1/resources.proto)."""


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
        """The secret's versions (not destroyed) and who may read it; ``None`` when it does not exist."""
        name = self._name(secret)
        try:
            self._call("get the secret", name, lambda: self.client.get_secret(name=name, **self._once))
        except NotFoundError:
            return None
        versions = self._call(
            "list the versions", name, lambda: list(self.client.list_secret_versions(parent=name, **self._once))
        )
        policy = self._call(
            "read the IAM policy", name, lambda: self.client.get_iam_policy(request={"resource": name}, **self._once)
        )
        readers = frozenset(m for b in policy.bindings if b.role in READER_ROLES for m in b.members)
        return ObservedSecret(
            tuple(
                SecretVersion(v.name.rsplit("/", 1)[1], v.state.name == "ENABLED", _naive(v.create_time))
                for v in versions
                if v.state.name != "DESTROYED"
            ),
            readers,
        )

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
            observed = self.observe(secret)
            assert observed is not None
            enabled = sorted((v for v in observed.versions if v.enabled), key=lambda v: int(v.version))
            for older, newer in itertools.pairwise(enabled):
                if now - newer.created > grace:
                    disabled.append(self._disable(f"{name}/versions/{older.version}"))
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

    def _disable(self, version: str) -> str:
        self._call("disable a version", version, lambda: self.client.disable_secret_version(name=version, **self._once))
        return version.rsplit("/", 1)[1]

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


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
