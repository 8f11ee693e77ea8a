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

import threading
from collections.abc import Callable
from concurrent import futures
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

import attrs

__all__ = ["SecretManagerStandIn"]

ACCESSOR = "roles/secretmanager.secretAccessor"


class _Abort(Exception):  # noqa: N818 - a gRPC status, not an error of ours
    def __init__(self, code: Any, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@attrs.define
class _Held:
    secret: Any
    versions: list[tuple[Any, bytes]] = attrs.field(factory=list)
    policy: Any = None


class SecretManagerStandIn:
    def __init__(self, *, clock: Callable[[], datetime] | None = None, page_size: int = 2) -> None:
        from google.cloud import secretmanager_v1
        from google.iam.v1 import policy_pb2

        self._types = secretmanager_v1
        self._policy = policy_pb2
        self.clock = clock or (lambda: datetime.now(UTC))
        self.page_size = page_size
        self._lock = threading.RLock()
        self._secrets: dict[str, _Held] = {}
        self._faults: list[list[Any]] = []
        self.calls: list[tuple[str, str]] = []
        self._server: Any = None
        self.address = ""

    # ---- lifecycle ---------------------------------------------------------------------------------------------------

    def __enter__(self) -> SecretManagerStandIn:
        import grpc
        from google.iam.v1 import iam_policy_pb2

        types = self._types
        table: dict[str, tuple[Callable[[bytes], Any], Callable[[Any], bytes], Callable[[Any], Any]]] = {
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

        def handler(method: str, serve: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
            def answer(request: Any, context: Any) -> Any:
                try:
                    with self._lock:
                        name = str(getattr(request, "name", "") or getattr(request, "parent", "") or "")
                        name = name or str(getattr(request, "resource", "") or getattr(request.secret, "name", ""))
                        self.calls.append((method, name))
                        for fault in self._faults:
                            if fault[0] == method and fault[3] > 0:
                                fault[3] -= 1
                                raise _Abort(fault[1], fault[2])
                        return serve(request)
                except _Abort as abort:
                    context.abort(abort.code, abort.message)

            return answer

        handlers = {
            method: grpc.unary_unary_rpc_method_handler(
                handler(method, serve), request_deserializer=decode, response_serializer=encode
            )
            for method, (decode, encode, serve) in table.items()
        }
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("google.cloud.secretmanager.v1.SecretManagerService", handlers),)
        )
        self.address = f"127.0.0.1:{self._server.add_insecure_port('127.0.0.1:0')}"
        self._server.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.stop(grace=None)

    def client(self) -> Any:
        """The real ``SecretManagerServiceClient``, over an insecure channel to this stand-in."""
        import grpc
        from google.cloud.secretmanager_v1.services.secret_manager_service.transports.grpc import (
            SecretManagerServiceGrpcTransport,
        )

        transport = SecretManagerServiceGrpcTransport(channel=grpc.insecure_channel(self.address))
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

    def fail(self, method: str, code: Any, message: str = "", *, times: int = 1) -> None:
        with self._lock:
            self._faults.append([method, code, message or f"{method} failed", times])

    # ---- serving -----------------------------------------------------------------------------------------------------

    def _held(self, name: str) -> _Held:
        import grpc

        held = self._secrets.get(name)
        if held is None:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f"Secret [{name}] not found or has no versions.")
        return held

    def _version(self, name: str) -> tuple[_Held, Any, bytes]:
        import grpc

        held = self._held(name.rsplit("/versions/", 1)[0])
        for version, data in held.versions:
            if version.name == name:
                return held, version, data
        raise _Abort(grpc.StatusCode.NOT_FOUND, f"Secret Version [{name}] not found.")

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
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "Checksum mismatch: the payload was corrupted in transit.")
        if not data:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "A secret payload must not be empty.")
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
