"""A Secret Manager API for tests: ``google.cloud.secretmanager.v1.SecretManagerService`` over gRPC on 127.0.0.1,
serving the real proto messages to the real ``google-cloud-secret-manager`` client (there is no emulator).

It holds secrets, their versions (payload, state, create time from the test's clock) and IAM policies, and behaves as
Secret Manager does where a tool depends on it: resource names (``projects/P/secrets/S[/versions/N]``), ``NOT_FOUND``,
versions numbered from 1, a payload checksum checked when given, pages of versions. A test can make any method fail
(``fail``) and read every call received (``calls``) — e.g. to check that an audit never accessed a payload.

    with SecretManagerStandIn(clock=lambda: now) as sm:
        sm.add_secret("findly-now", "posts-db-password-production", b"s3cret", readers=[...])
        client = sm.client()
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from findly_infra.testing._grpc import Abort, GrpcStandIn, Method

__all__ = ["SecretManagerStandIn"]

ACCESSOR = "roles/secretmanager.secretAccessor"


@attrs.define
class _Held:
    secret: Any
    versions: list[tuple[Any, bytes]] = attrs.field(factory=list)
    policy: Any = None


class SecretManagerStandIn(GrpcStandIn):
    service = "google.cloud.secretmanager.v1.SecretManagerService"

    def __init__(self, *, clock: Callable[[], datetime] | None = None, page_size: int = 2) -> None:
        from google.cloud import secretmanager_v1
        from google.iam.v1 import policy_pb2

        super().__init__()
        self._types = secretmanager_v1
        self._policy = policy_pb2
        self.clock = clock or (lambda: datetime.now(UTC))
        self.page_size = page_size
        self._secrets: dict[str, _Held] = {}

    # ---- the method table ------------------------------------------------------------------------------------------

    def methods(self) -> dict[str, Method]:
        from google.iam.v1 import iam_policy_pb2

        types = self._types
        table: dict[str, Method] = {
            "GetSecret": (types.GetSecretRequest.deserialize, types.Secret.serialize, self._get_secret),
            "ListSecretVersions": (
                types.ListSecretVersionsRequest.deserialize,
                types.ListSecretVersionsResponse.serialize,
                self._list_versions,
            ),
            "AddSecretVersion": (
                types.AddSecretVersionRequest.deserialize,
                types.SecretVersion.serialize,
                self._add_version,
            ),
            "DisableSecretVersion": (
                types.DisableSecretVersionRequest.deserialize,
                types.SecretVersion.serialize,
                self._disable_version,
            ),
            "AccessSecretVersion": (
                types.AccessSecretVersionRequest.deserialize,
                types.AccessSecretVersionResponse.serialize,
                self._access_version,
            ),
            "UpdateSecret": (types.UpdateSecretRequest.deserialize, types.Secret.serialize, self._update_secret),
            "GetIamPolicy": (
                iam_policy_pb2.GetIamPolicyRequest.FromString,
                self._policy.Policy.SerializeToString,
                self._get_policy,
            ),
        }

        return table

    def client(self) -> Any:
        """The real ``SecretManagerServiceClient``, over an insecure channel to this stand-in."""
        from google.cloud.secretmanager_v1.services.secret_manager_service.transports.grpc import (
            SecretManagerServiceGrpcTransport,
        )

        transport = SecretManagerServiceGrpcTransport(channel=self.channel())
        return self._types.SecretManagerServiceClient(transport=transport)

    # ---- what a test arranges --------------------------------------------------------------------------------------

    def add_secret(self, project: str, secret_id: str, *payloads: bytes, readers: tuple[str, ...] = ()) -> None:
        """A secret with a version per payload (created now, by the clock), readable by *readers*."""
        name = f"projects/{project}/secrets/{secret_id}"
        secret = self._types.Secret(name=name, create_time=self.clock(), replication={"automatic": {}})
        policy = self._policy.Policy(bindings=[self._policy.Binding(role=ACCESSOR, members=list(readers))])
        with self._lock:
            self._secrets[name] = _Held(secret, policy=policy)
            for payload in payloads:
                self._new_version(self._secrets[name], payload)

    def payloads(self, project: str, secret_id: str) -> list[tuple[int, str, bytes]]:
        """(version, state, payload) of each version: what a test checks after a rotation."""
        with self._lock:
            held = self._secrets[f"projects/{project}/secrets/{secret_id}"]
            return [(int(v.name.rsplit("/", 1)[1]), v.state.name, data) for v, data in held.versions]

    def backdate(self, project: str, secret_id: str, by: timedelta) -> None:
        """As if *by* had passed since the secret's versions were made: each one's create time moves back."""
        with self._lock:
            for version, _ in self._secrets[f"projects/{project}/secrets/{secret_id}"].versions:
                version.create_time = version.create_time - by

    # ---- serving -----------------------------------------------------------------------------------------------------

    def _held(self, name: str) -> _Held:
        import grpc

        held = self._secrets.get(name)
        if held is None:
            raise Abort(grpc.StatusCode.NOT_FOUND, f"Secret [{name}] not found or has no versions.")
        return held

    def _version(self, name: str) -> tuple[_Held, Any, bytes]:
        import grpc

        held = self._held(name.rsplit("/versions/", 1)[0])
        for version, data in held.versions:
            if version.name == name:
                return held, version, data
        raise Abort(grpc.StatusCode.NOT_FOUND, f"Secret Version [{name}] not found.")

    def _new_version(self, held: _Held, payload: bytes) -> Any:
        version = self._types.SecretVersion(
            name=f"{held.secret.name}/versions/{len(held.versions) + 1}",
            create_time=self.clock(),
            state=self._types.SecretVersion.State.ENABLED,
        )
        held.versions.append((version, payload))
        return version

    def _get_secret(self, request: Any) -> Any:
        return self._held(request.name).secret

    def _list_versions(self, request: Any) -> Any:
        held = self._held(request.parent)
        ordered = sorted((v for v, _ in held.versions), key=lambda v: int(v.name.rsplit("/", 1)[1]), reverse=True)
        start = int(request.page_token or 0)
        size = request.page_size or self.page_size
        page = ordered[start : start + size]
        token = str(start + size) if start + size < len(ordered) else ""
        return self._types.ListSecretVersionsResponse(versions=page, next_page_token=token, total_size=len(ordered))

    def _add_version(self, request: Any) -> Any:
        import zlib

        import grpc

        held = self._held(request.parent)
        data = bytes(request.payload.data)
        if "data_crc32c" in request.payload and request.payload.data_crc32c != zlib.crc32(data) & 0xFFFFFFFF:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, "Checksum mismatch: the payload was corrupted in transit.")
        if not data:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, "A secret payload must not be empty.")
        return self._new_version(held, data)

    def _disable_version(self, request: Any) -> Any:
        _, version, _ = self._version(request.name)
        version.state = self._types.SecretVersion.State.DISABLED
        return version

    def _access_version(self, request: Any) -> Any:
        _, version, data = self._version(request.name)
        return self._types.AccessSecretVersionResponse(name=version.name, payload={"data": data})

    def _update_secret(self, request: Any) -> Any:
        held = self._held(request.secret.name)
        for path in request.update_mask.paths:
            if path.startswith("rotation"):
                held.secret.rotation = request.secret.rotation
            elif path == "topics":
                held.secret.topics = request.secret.topics
        return held.secret

    def _get_policy(self, request: Any) -> Any:
        return self._held(request.resource).policy
