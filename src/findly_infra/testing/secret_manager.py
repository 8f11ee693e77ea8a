"""A Secret Manager API for tests: ``google.cloud.secretmanager.v1.SecretManagerService`` over gRPC on 127.0.0.1,
serving the real proto messages to the real ``google-cloud-secret-manager`` client (there is no emulator).

It holds secrets, their versions (payload, state, create time from the test's clock) and IAM policies, and behaves as
Secret Manager does where a tool depends on it — each rule below with the reference it follows: resource names
(``projects/P/secrets/S[/versions/N]``), ``NOT_FOUND``, versions numbered from 1, the ``latest`` alias, a payload's
CRC32C checked and its size limited, a disabled or destroyed version's payload refused, etags on secrets, versions and
IAM policies (a stale one refused), IAM policy versions and conditional role bindings, pages of versions. A test can
make any method fail (``fail``), run another client's change between two calls (``interleave``) and read every call
received (``calls``) — e.g. to check that an audit never accessed a payload.

    with SecretManagerStandIn(clock=lambda: now) as sm:
        sm.add_secret("findly-now", "posts-db-password-production", b"s3cret", readers=[...])
        sm.grant("findly-now", "posts-db-password-production", "user:erin@example.com",
                 condition='request.time < timestamp("2026-12-01T00:00:00Z")')
        client = sm.client()

The references: the API's protos (googleapis/googleapis ``google/cloud/secretmanager/v1/service.proto`` and
``resources.proto``, ``google/iam/v1/policy.proto`` and ``iam_policy.proto``) and the pages cited beside each rule.
Where Google publishes a status code but not the words of the message, the words are ours (said beside the rule).
What it does not serve (regional secrets, filters other than on ``state``, map-key update paths) it refuses
``UNIMPLEMENTED``, never ignores.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from findly_infra.testing._grpc import Abort, GrpcStandIn, Method

__all__ = ["ACCESSOR", "MAX_PAYLOAD", "SecretManagerStandIn"]

ACCESSOR = "roles/secretmanager.secretAccessor"

MAX_PAYLOAD = 65536
"""resources.proto, ``SecretPayload.data``: "Must be no larger than 64KiB"."""

# The answers whose words Google publishes (in its error responses, quoted where cited):
_VERSION_STATE = "Secret Version [{name}] is in {state} state."
# AccessSecretVersion of a version not ENABLED: 400 FAILED_PRECONDITION, e.g. "Secret Version
# [projects/…/versions/4] is in DESTROYED state." (google-github-actions/get-secretmanager-secrets#268).
_EMPTY_PAYLOAD = "Field [payload] is required."
# AddSecretVersion with an empty payload: 400 INVALID_ARGUMENT (hashicorp/terraform-provider-google#10475, #8766).
_PAYLOAD_TOO_LARGE = f"Secret payload data length must be at most [{MAX_PAYLOAD}] bytes."
# AddSecretVersion over 64 KiB: 400 INVALID_ARGUMENT (kyma-project/busola#1970).
_IAM_CONFLICT = (
    "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff."
)
# SetIamPolicy with a stale etag: 409 ABORTED (the words of Google's IAM: openshift/installer's error table,
# GoogleCloudPlatform/cloud-foundation-toolkit's retryable errors).
_IAM_DOWNGRADE = (
    "Specified policy version ({given}) cannot be less than the existing policy version (3). For more information, "
    "please refer to https://cloud.google.com/iam/docs/policies#versions"
)
# SetIamPolicy at version 1 with the etag of a policy holding conditions: 400 INVALID_ARGUMENT
# (hashicorp/vault-plugin-secrets-gcp#88).
_MEMBER_FORM = 'Policy members must be of the form "<type>:<value>".'
# SetIamPolicy with a member that has no type: 400 INVALID_ARGUMENT, IAM's own answer as a client logged it
# (hashicorp/terraform-provider-google#4965; terraform-google-modules/terraform-google-kubernetes-engine#380).
_ROLE_NOT_SUPPORTED = "Role {role} is not supported for this resource."
# SetIamPolicy with a role that cannot be granted on the resource: 400 INVALID_ARGUMENT
# (hashicorp/terraform-provider-google#9130: "Error 400: Role roles/storage.viewer is not supported for this
# resource.").
_SECRET_NOT_FOUND = "Secret [{name}] not found."
# GetSecret of a secret that does not exist: 404 NOT_FOUND, as gcloud prints it (`gcloud secrets describe`:
# "NOT_FOUND: Secret [projects/<number>/secrets/<id>] not found.") in users' transcripts; Google publishes no wording,
# so it is unverified — and the real name carries the project's number where the stand-in echoes the name asked.
# The same words for the other methods that name a secret (UpdateSecret, ListSecretVersions, AddSecretVersion, IAM):
# unverified too.
_NO_VERSIONS = "Secret [{name}] not found or has no versions."
# AccessSecretVersion through a secret that does not exist or has no version: 404 NOT_FOUND
# (googleapis/repo-automation-bots#3385: "5 NOT_FOUND: Secret [projects/856896688174/secrets/owl_botq] not found or
# has no versions."); the other methods that name a version (Get, Enable, Disable, Destroy) answer the same here,
# unverified.
_LABEL_VALUE = r"[\p{Ll}\p{Lo}\p{N}_-]{0,63}"
_LABEL_KEY = r"[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}"
_LABEL_CHARACTER = "is not a non-uppercased letter (Unicode character class Ll or Lo), digit, hyphen, or underscore"
# Labels (resources.proto, Secret.labels; https://cloud.google.com/secret-manager/docs/labels): keys 1 to 63
# characters matching _LABEL_KEY, values 0 to 63 matching _LABEL_VALUE, each at most 128 bytes of UTF-8, at most 64
# labels. A character out of place is 400 INVALID_ARGUMENT in these words — a value's: 'Invalid field
# "labels.entity"; value "bot_kyma-modg-stage@protecode-sc.local" does not conform to regular expression
# "[\p{Ll}\p{Lo}\p{N}_-]{0,63}"; character "@" at position 19 is not a non-uppercased letter (Unicode character
# class Ll or Lo), digit, hyphen, or underscore' (Secret Manager, kyma-project/test-infra#13818); a key's first
# character: '… key "Team" does not conform to regular expression "…"; first character "T" is not a non-uppercased
# letter (Unicode character class Ll or Lo)' (the same rule in Pub/Sub, terraform-linters/tflint-ruleset-google#413).
# The words for lengths and counts are not published: ours.

_MIN_ROTATION_PERIOD = 3600
_MAX_ROTATION = 3153600000
_MIN_ROTATION_NOTICE = 300
# resources.proto, Rotation: next_rotation_time "Cannot be set to less than 300s (5 min) in the future and at most
# 3153600000s (100 years)"; rotation_period "Must be in seconds and at least 3600s (1h) and at most 3153600000s
# (100 years)"; "next_rotation_time MUST be set if rotation_period is set"; "Secret.topics must be set to configure
# rotation" (and https://cloud.google.com/secret-manager/docs/secret-rotation: "Pub/Sub topics must be configured on
# the secret", "next_rotation_time cannot be set to less than five minutes in the future", "The rotation_period cannot
# be less than one hour long"). Refused INVALID_ARGUMENT; the words are not published: ours.
_MAX_TOPICS = 10
"""resources.proto, Secret.topics: "A list of up to 10 Pub/Sub topics", each ``projects/*/topics/*`` (Topic.name)."""

_UPDATABLE = ("labels", "annotations", "topics", "rotation", "rotation.next_rotation_time", "rotation.rotation_period")
"""The ``update_mask`` paths UpdateSecret applies here: whole fields, and the two fields of ``rotation`` one by one
(as Google's samples mask them: GoogleCloudPlatform/golang-samples secretmanager/update_secret_rotation_period.go,
``rotation.rotation_period``)."""

_STATES = ("ENABLED", "DISABLED", "DESTROYED")
_FILTER_TERM = re.compile(r"^(?P<not>-)?state(?P<op>:|=|!=)(?P<value>\S+)$")


@attrs.define
class _Held:
    secret: Any
    versions: list[tuple[Any, bytes]] = attrs.field(factory=list)
    policy: Any = None
    """The policy as IAM keeps it (conditions and all); GetIamPolicy renders it at the version asked for."""


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
        self._etags = itertools.count(1)

    # ---- the method table ------------------------------------------------------------------------------------------

    def methods(self) -> dict[str, Method]:
        from google.iam.v1 import iam_policy_pb2

        types = self._types
        version = types.SecretVersion.serialize
        policy = self._policy.Policy.SerializeToString
        return {
            "GetSecret": (types.GetSecretRequest.deserialize, types.Secret.serialize, self._get_secret),
            "UpdateSecret": (types.UpdateSecretRequest.deserialize, types.Secret.serialize, self._update_secret),
            "ListSecretVersions": (
                types.ListSecretVersionsRequest.deserialize,
                types.ListSecretVersionsResponse.serialize,
                self._list_versions,
            ),
            "GetSecretVersion": (types.GetSecretVersionRequest.deserialize, version, self._get_version),
            "AddSecretVersion": (types.AddSecretVersionRequest.deserialize, version, self._add_version),
            "EnableSecretVersion": (types.EnableSecretVersionRequest.deserialize, version, self._enable_version),
            "DisableSecretVersion": (types.DisableSecretVersionRequest.deserialize, version, self._disable_version),
            "DestroySecretVersion": (types.DestroySecretVersionRequest.deserialize, version, self._destroy_version),
            "AccessSecretVersion": (
                types.AccessSecretVersionRequest.deserialize,
                types.AccessSecretVersionResponse.serialize,
                self._access_version,
            ),
            "GetIamPolicy": (iam_policy_pb2.GetIamPolicyRequest.FromString, policy, self._get_policy),
            "SetIamPolicy": (iam_policy_pb2.SetIamPolicyRequest.FromString, policy, self._set_policy),
        }

    def client(self) -> Any:
        """The real ``SecretManagerServiceClient``, over an insecure channel to this stand-in."""
        from google.cloud.secretmanager_v1.services.secret_manager_service.transports.grpc import (
            SecretManagerServiceGrpcTransport,
        )

        transport = SecretManagerServiceGrpcTransport(channel=self.channel())
        return self._types.SecretManagerServiceClient(transport=transport)

    # ---- what a test arranges --------------------------------------------------------------------------------------

    def add_secret(self, project: str, secret_id: str, *payloads: bytes, readers: tuple[str, ...] = ()) -> None:
        """A secret with a version per payload (created now, by the clock), readable by *readers* (unconditionally)."""
        name = f"projects/{project}/secrets/{secret_id}"
        secret = self._types.Secret(
            name=name, create_time=self.clock(), replication={"automatic": {}}, etag=self._etag()
        )
        policy = self._policy.Policy(version=1, etag=self._policy_etag())
        if readers:
            policy.bindings.add(role=ACCESSOR, members=list(readers))
        with self._lock:
            self._secrets[name] = _Held(secret, policy=policy)
            for payload in payloads:
                self._new_version(self._secrets[name], payload)

    def grant(
        self,
        project: str,
        secret_id: str,
        member: str,
        *,
        role: str = ACCESSOR,
        condition: str | None = None,
        title: str = "",
    ) -> None:
        """Another administrator's grant: *member* gets *role* on the secret — under *condition* (a CEL expression)
        when given. The policy's etag changes, as any change to it does."""
        with self._lock:
            held = self._held(f"projects/{project}/secrets/{secret_id}")
            policy = held.policy
            for binding in policy.bindings:
                if binding.role == role and _under(binding, condition):
                    if member not in binding.members:
                        binding.members.append(member)
                    break
            else:
                binding = policy.bindings.add(role=role, members=[member])
                if condition:
                    binding.condition.expression = condition
                    binding.condition.title = title or "granted by a test"
            policy.version = 3 if _has_conditions(policy) else 1
            policy.etag = self._policy_etag()

    def label(self, project: str, secret_id: str, key: str, value: str) -> None:
        """Another administrator's change to the secret's metadata (a label): its etag changes."""
        with self._lock:
            held = self._held(f"projects/{project}/secrets/{secret_id}")
            held.secret.labels[key] = value
            held.secret.etag = self._etag()

    def policy(self, project: str, secret_id: str) -> Any:
        """The secret's IAM policy as IAM keeps it (a copy: conditions and all)."""
        with self._lock:
            kept = self._policy.Policy()
            kept.CopyFrom(self._held(f"projects/{project}/secrets/{secret_id}").policy)
            return kept

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

    # ---- resources and their names -----------------------------------------------------------------------------------

    def _held(self, name: str, *, missing: str = _SECRET_NOT_FOUND) -> _Held:
        """The secret named *name*, else NOT_FOUND in *missing*'s words. A regional secret
        (``projects/P/locations/L/secrets/S``, served at ``secretmanager.L.rep.googleapis.com``:
        https://cloud.google.com/secret-manager/regional-secrets/regional-secrets-overview) is refused UNIMPLEMENTED:
        the stand-in serves global secrets only, and a NOT_FOUND would tell a test something untrue."""
        import grpc

        if re.match(r"^projects/[^/]+/locations/", name):
            raise Abort(
                grpc.StatusCode.UNIMPLEMENTED,
                f"the Secret Manager stand-in serves global secrets only (projects/P/secrets/S): [{name}] is a "
                "regional secret, which it does not serve",
            )
        held = self._secrets.get(name)
        if held is None:
            raise Abort(grpc.StatusCode.NOT_FOUND, missing.format(name=name))
        return held

    def _version(self, name: str, *, alias: bool = False) -> tuple[_Held, int]:
        """The secret holding version *name* and the version's index. With *alias*, ``…/versions/latest`` is "an
        alias to the most recently created SecretVersion" (service.proto, GetSecretVersionRequest and
        AccessSecretVersionRequest) — whatever its state: accessing ``latest`` when the newest version is destroyed
        is refused, not answered with an older one (google-github-actions/get-secretmanager-secrets#268)."""
        import grpc

        secret, _, number = name.rpartition("/versions/")
        held = self._held(secret, missing=_NO_VERSIONS)
        if alias and number == "latest":
            if not held.versions:
                raise Abort(grpc.StatusCode.NOT_FOUND, _NO_VERSIONS.format(name=secret))
            return held, len(held.versions) - 1
        for index, (version, _) in enumerate(held.versions):
            if version.name == name:
                return held, index
        raise Abort(grpc.StatusCode.NOT_FOUND, f"Secret Version [{name}] not found.")

    def _etag(self) -> str:
        """A new etag for a secret or a version: a string that "includes quotes, i.e. a valid etag string is "123",
        not 123" (https://cloud.google.com/secret-manager/docs/etags, after AIP-154)."""
        return f'"{next(self._etags):016x}"'

    def _policy_etag(self) -> bytes:
        """A new IAM policy etag (``bytes etag = 3`` in policy.proto; base64 in JSON, e.g. "BwUjMhCsNvY=")."""
        return b"\x07" + next(self._etags).to_bytes(7, "big")

    def _check_etag(self, given: str, held: str, name: str) -> None:
        """Secret Manager's etags: "If an ETag is provided and matches the current resource ETag, the request
        succeeds; otherwise, it fails with a FAILED_PRECONDITION error and an HTTP status code 400. If an ETag isn't
        provided, the request proceeds" (https://cloud.google.com/secret-manager/docs/etags). The words are ours."""
        import grpc

        if given and given != held:
            raise Abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"The etag {given} does not match the current etag {held} of [{name}].",
            )

    # ---- secrets -----------------------------------------------------------------------------------------------------

    def _get_secret(self, request: Any) -> Any:
        return self._held(request.name).secret

    def _update_secret(self, request: Any) -> Any:
        """UpdateSecret ("secrets.patch"): the request's etag is "embedded in the Secret data" and checked; a change
        makes a new etag (https://cloud.google.com/secret-manager/docs/etags). ``update_mask`` is required
        (service.proto); a path naming no field of Secret is refused INVALID_ARGUMENT, as AIP-134 has an unknown path
        refused; a field of Secret this stand-in does not keep, or a map key (``labels.team``: AIP-161 allows them,
        whether Secret Manager takes them is not published — Google's samples send the whole map,
        GoogleCloudPlatform/golang-samples secretmanager/delete_secret_label.go) is refused UNIMPLEMENTED, never
        applied to the whole field. The secret as updated is checked — labels, topics, the rotation schedule — and
        nothing is changed when it is refused."""
        import grpc

        held = self._held(request.secret.name)
        self._check_etag(request.secret.etag, held.secret.etag, held.secret.name)
        paths = list(request.update_mask.paths)
        if not paths:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, "update_mask is required.")
        fields = type(held.secret).meta.fields
        for path in paths:
            if path in _UPDATABLE:
                continue
            top = path.split(".", 1)[0]
            if top not in fields:
                raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"update_mask path [{path}] is not a field of Secret.")
            if top in ("labels", "annotations"):
                raise Abort(
                    grpc.StatusCode.UNIMPLEMENTED,
                    f"the Secret Manager stand-in does not apply a map key's path [{path}] (whether Secret Manager "
                    f"does is not published): send the whole map with the path [{top}]",
                )
            raise Abort(
                grpc.StatusCode.UNIMPLEMENTED,
                f"the Secret Manager stand-in does not apply the update_mask path [{path}] (it applies "
                f"{', '.join(_UPDATABLE)})",
            )
        updated = self._types.Secret.deserialize(self._types.Secret.serialize(held.secret))
        for path in paths:
            top, _, sub = path.partition(".")
            if not sub:
                setattr(updated, top, getattr(request.secret, top))
            elif sub in request.secret.rotation:
                setattr(updated.rotation, sub, getattr(request.secret.rotation, sub))
            elif sub in updated.rotation:
                delattr(updated.rotation, sub)
        if "labels" in paths:
            self._check_labels(updated.labels)
        if any(path == "topics" or path.startswith("rotation") for path in paths):
            self._check_rotation(updated, request.secret, paths)
        updated.etag = self._etag()
        held.secret = updated
        return held.secret

    @staticmethod
    def _check_labels(labels: Any) -> None:
        """Secret.labels as resources.proto and https://cloud.google.com/secret-manager/docs/labels bound them (the
        words: beside ``_LABEL_CHARACTER``)."""
        import grpc

        def refuse(message: str) -> Abort:
            return Abort(grpc.StatusCode.INVALID_ARGUMENT, message)

        if len(labels) > 64:
            raise refuse(f'Invalid field "labels"; {len(labels)} labels, where at most 64 can be assigned.')
        for key, value in labels.items():
            if not key or len(key) > 63 or len(key.encode()) > 128:
                raise refuse(
                    f'Invalid field "labels"; key "{key}" must be 1 to 63 characters long and at most 128 bytes.'
                )
            if len(value) > 63 or len(value.encode()) > 128:
                raise refuse(
                    f'Invalid field "labels.{key}"; value "{value}" must be at most 63 characters long and at most '
                    "128 bytes."
                )
            if not _lower_letter(key[0]):
                raise refuse(
                    f'Invalid field "labels"; key "{key}" does not conform to regular expression "{_LABEL_KEY}"; first '
                    f'character "{key[0]}" is not a non-uppercased letter (Unicode character class Ll or Lo)'
                )
            for where, text, pattern, start in (
                ('"labels"; key', key, _LABEL_KEY, 1),
                (f'"labels.{key}"; value', value, _LABEL_VALUE, 0),
            ):
                wrong = next((at for at in range(start, len(text)) if not _label_character(text[at])), None)
                if wrong is not None:
                    raise refuse(
                        f'Invalid field {where} "{text}" does not conform to regular expression "{pattern}"; '
                        f'character "{text[wrong]}" at position {wrong} {_LABEL_CHARACTER}'
                    )

    def _check_rotation(self, updated: Any, asked: Any, paths: list[str]) -> None:
        """The secret's rotation schedule as updated, under Rotation's rules (beside ``_MIN_ROTATION_PERIOD``):
        ``next_rotation_time`` — when this request sets it — 300 s to 100 years ahead of the stand-in's clock,
        ``rotation_period`` 1 hour to 100 years in whole seconds and only with a ``next_rotation_time``, and a
        schedule only on a secret with topics (``projects/*/topics/*``, at most 10)."""
        import grpc

        def refuse(message: str) -> Abort:
            return Abort(grpc.StatusCode.INVALID_ARGUMENT, message)

        topics = [topic.name for topic in updated.topics]
        if len(topics) > _MAX_TOPICS:
            raise refuse(f"Secret.topics holds {len(topics)} topics, at most {_MAX_TOPICS} are allowed.")
        for topic in topics:
            if not re.match(r"^projects/[^/]+/topics/[^/]+$", topic):
                raise refuse(f"Topic name [{topic}] is not of the form projects/*/topics/*.")
        rotation = updated.rotation
        scheduled = "next_rotation_time" in rotation
        if "rotation_period" in rotation:
            period = rotation.rotation_period
            seconds = period.total_seconds()
            if period.microseconds or not _MIN_ROTATION_PERIOD <= seconds <= _MAX_ROTATION:
                raise refuse(
                    f"Rotation period {seconds:g}s is invalid: it must be in whole seconds, at least "
                    f"{_MIN_ROTATION_PERIOD}s (1 hour) and at most {_MAX_ROTATION}s (100 years)."
                )
            if not scheduled:
                raise refuse("next_rotation_time must be set if rotation_period is set.")
        sets_next = any(path in ("rotation", "rotation.next_rotation_time") for path in paths)
        if scheduled and sets_next and "next_rotation_time" in asked.rotation:
            ahead = (rotation.next_rotation_time - self.clock()).total_seconds()
            if not _MIN_ROTATION_NOTICE <= ahead <= _MAX_ROTATION:
                raise refuse(
                    f"next_rotation_time {rotation.next_rotation_time.isoformat()} is {ahead:.0f}s from now: it must "
                    f"be at least {_MIN_ROTATION_NOTICE}s (5 minutes) and at most {_MAX_ROTATION}s (100 years) in the "
                    "future."
                )
        if (scheduled or "rotation_period" in rotation) and not topics:
            raise refuse("Secret.topics must be set to configure rotation.")

    # ---- versions ----------------------------------------------------------------------------------------------------

    def _new_version(self, held: _Held, payload: bytes, *, checksum_given: bool = False) -> Any:
        """A version numbered after the last ("IDs … start at 1 and are incremented for each subsequent version",
        resources.proto), ENABLED, with an etag of its own ("generated at resource creation (…addVersion)",
        https://cloud.google.com/secret-manager/docs/etags)."""
        version = self._types.SecretVersion(
            name=f"{held.secret.name}/versions/{len(held.versions) + 1}",
            create_time=self.clock(),
            state=self._types.SecretVersion.State.ENABLED,
            replication_status={"automatic": {}},
            etag=self._etag(),
            client_specified_payload_checksum=checksum_given,
        )
        held.versions.append((version, payload))
        return version

    def _list_versions(self, request: Any) -> Any:
        """Every version, destroyed ones too, "sorted in reverse by create_time (newest first)" (service.proto,
        ListSecretVersionsResponse), a page at a time — those that match ``filter`` when one is given (``state``
        only: :func:`_state_filter`)."""
        held = self._held(request.parent)
        keep = _state_filter(request.filter) if request.filter else (lambda _: True)
        ordered = sorted(
            (v for v, _ in held.versions if keep(v.state.name)),
            key=lambda v: int(v.name.rsplit("/", 1)[1]),
            reverse=True,
        )
        start = int(request.page_token or 0)
        size = request.page_size or self.page_size
        page = ordered[start : start + size]
        token = str(start + size) if start + size < len(ordered) else ""
        return self._types.ListSecretVersionsResponse(versions=page, next_page_token=token, total_size=len(ordered))

    def _get_version(self, request: Any) -> Any:
        held, index = self._version(request.name, alias=True)
        return held.versions[index][0]

    def _add_version(self, request: Any) -> Any:
        """A payload is refused when empty, over 64 KiB, or when its ``data_crc32c`` — "the crc32c checksum" the
        service "will verify" (resources.proto, SecretPayload) — is not the CRC32C (Castagnoli) of the data
        (https://cloud.google.com/secret-manager/docs/data-integrity: its example, "YQo=" with dataCrc32c
        "163439259", is CRC32C; zlib's CRC-32 of the same bytes is 3723141383). The status of a mismatch,
        INVALID_ARGUMENT, is what Google's APIs answer for a checksum that does not match (Cloud KMS,
        https://cloud.google.com/kms/docs/data-integrity-guidelines); its words are ours."""
        import google_crc32c
        import grpc

        held = self._held(request.parent)
        data = bytes(request.payload.data)
        if not data:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, _EMPTY_PAYLOAD)
        if len(data) > MAX_PAYLOAD:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, _PAYLOAD_TOO_LARGE)
        given = "data_crc32c" in request.payload
        if given and request.payload.data_crc32c != google_crc32c.value(data):
            raise Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "Checksum mismatch: data_crc32c is not the CRC32C of the payload; nothing was written.",
            )
        return self._new_version(held, data, checksum_given=given)

    def _change_state(self, request: Any, state: str) -> Any:
        """Enable, disable, destroy: the version's etag is checked and renewed even when nothing changes ("Even
        when an update doesn't change a resource's state, it still updates the resource ETag", and "updating a
        secret version doesn't affect the secret ETag": https://cloud.google.com/secret-manager/docs/etags). A
        destroyed version stays destroyed: "A version may not leave this state once entered" (resources.proto), so
        enabling or disabling it is FAILED_PRECONDITION (the words of the access refusal)."""
        import grpc

        held, index = self._version(request.name)
        version, data = held.versions[index]
        self._check_etag(request.etag, version.etag, version.name)
        kind = self._types.SecretVersion.State
        if version.state == kind.DESTROYED and state != "DESTROYED":
            raise Abort(
                grpc.StatusCode.FAILED_PRECONDITION, _VERSION_STATE.format(name=version.name, state="DESTROYED")
            )
        version.state = getattr(kind, state)
        if state == "DESTROYED":  # "the secret data is no longer stored"; destroy_time is set (resources.proto)
            if not version.destroy_time:
                version.destroy_time = self.clock()
            data = b""
        version.etag = self._etag()
        held.versions[index] = (version, data)
        return version

    def _enable_version(self, request: Any) -> Any:
        return self._change_state(request, "ENABLED")

    def _disable_version(self, request: Any) -> Any:
        return self._change_state(request, "DISABLED")

    def _destroy_version(self, request: Any) -> Any:
        return self._change_state(request, "DESTROYED")

    def _access_version(self, request: Any) -> Any:
        """The payload of an ENABLED version only ("DISABLED: may not be accessed", resources.proto), refused with
        FAILED_PRECONDITION naming the version the alias resolved to; the answer names that version and carries the
        payload's CRC32C (https://cloud.google.com/secret-manager/docs/data-integrity: "the returned SecretPayload
        contains the data along with its checksum")."""
        import google_crc32c
        import grpc

        held, index = self._version(request.name, alias=True)
        version, data = held.versions[index]
        if version.state != self._types.SecretVersion.State.ENABLED:
            raise Abort(
                grpc.StatusCode.FAILED_PRECONDITION, _VERSION_STATE.format(name=version.name, state=version.state.name)
            )
        payload = {"data": data, "data_crc32c": google_crc32c.value(data)}
        return self._types.AccessSecretVersionResponse(name=version.name, payload=payload)

    # ---- IAM ---------------------------------------------------------------------------------------------------------

    def _get_policy(self, request: Any) -> Any:
        """The policy at the version asked for (policy.proto, GetPolicyOptions): "Valid values are 0, 1, and 3.
        Requests specifying an invalid value will be rejected"; "if you specify version 3, but the policy has no
        conditional role bindings, the response uses version 1". At version 1 a conditional binding comes back under
        its role's name followed by ``_withcond_`` and a hash, without its condition
        (https://cloud.google.com/iam/docs/troubleshooting-withcond: "roles/iam.serviceAccountAdmin_withcond_
        2b17cc25d2cd9e2c54d8"; how Google makes the hash is not published — here 20 hex digits of a SHA-256)."""
        import grpc

        held = self._held(request.resource)
        asked = request.options.requested_policy_version
        if asked not in (0, 1, 3):
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid requested policy version: {asked}.")
        kept = held.policy
        answer = self._policy.Policy()
        answer.CopyFrom(kept)
        if not _has_conditions(kept):
            answer.version = 1
        elif asked < 3:
            answer.version = 1
            for binding in answer.bindings:
                if binding.HasField("condition"):
                    binding.role = f"{binding.role}_withcond_{_condition_hash(binding)}"
                    binding.ClearField("condition")
        return answer

    def _set_policy(self, request: Any) -> Any:
        """SetIamPolicy replaces the policy (iam_policy.proto), under IAM's rules (policy.proto, Policy):

        - the version must be 0, 1 or 3 ("Requests that specify an invalid value are rejected");
        - a binding with a condition needs version 3 ("Adding a conditional role binding … must specify version 3");
        - an etag that is not the policy's current one is refused, ABORTED ("systems are expected to put that etag in
          the request … to ensure that their change will be applied to the same version of the policy");
        - with the current etag, a version lower than the held policy's is refused ("Specified policy version (1)
          cannot be less than the existing policy version (3)"); without an etag the policy is overwritten blindly
          ("If you omit this field, then IAM allows you to overwrite a version 3 policy with a version 1 policy, and
          all of the conditions in the version 3 policy are lost");
        - each binding names a role that can be granted on a secret and at least one well-formed member
          (:func:`_check_binding`).

        The answer is the policy as set, with its new etag."""
        import grpc

        held = self._held(request.resource)
        given = request.policy
        if given.version not in (0, 1, 3):
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid policy version: {given.version}.")
        if _has_conditions(given) and given.version < 3:
            raise Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Conditional role bindings need policy version 3, the policy given is version {given.version}. "
                "For more information, please refer to https://cloud.google.com/iam/docs/policies#versions",
            )
        if given.etag and given.etag != held.policy.etag:
            raise Abort(grpc.StatusCode.ABORTED, _IAM_CONFLICT)
        if given.etag and _has_conditions(held.policy) and given.version < 3:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, _IAM_DOWNGRADE.format(given=given.version or 1))
        for binding in given.bindings:
            _check_binding(binding)
        policy = self._policy.Policy()
        policy.CopyFrom(given)
        policy.version = 3 if _has_conditions(policy) else 1
        policy.etag = self._policy_etag()
        held.policy = policy
        return policy


_MEMBER_TYPES = frozenset(
    {
        "user",
        "serviceAccount",
        "group",
        "domain",
        "principal",
        "principalSet",
        "deleted",
        "projectOwner",
        "projectEditor",
        "projectViewer",
    }
)
"""The principal types of Binding.members (policy.proto: ``user:``, ``serviceAccount:``, ``group:``, ``domain:``,
``principal://…``, ``principalSet://…``, ``deleted:…``; the convenience values ``projectOwner:`` and the like), besides
``allUsers`` and ``allAuthenticatedUsers``."""

_GRANTABLE = re.compile(
    r"^(?:roles/(?:owner|editor|viewer)|roles/secretmanager\.[A-Za-z]+|(?:projects|organizations)/[^/]+/roles/[\w.]+)$"
)
"""The roles IAM lets one grant on a secret are those ``roles.queryGrantableRoles`` lists for it: Secret Manager's own
predefined roles (https://cloud.google.com/secret-manager/docs/access-control), the basic roles, custom roles. The
stand-in keeps that shape (not the list of Secret Manager's role names, nor whether a custom role exists)."""


def _check_binding(binding: Any) -> None:
    """A binding IAM would store: "Each of the bindings must contain at least one principal" (policy.proto, Policy;
    "bindings with no members will result in an error" in its 2019 wording — the words of the refusal are not
    published: ours); each member ``<type>:<value>`` of a known type (the words of a member without a type are IAM's,
    beside ``_MEMBER_FORM``; those of an unknown type are ours); a role that can be granted on a secret — not a
    ``…_withcond_<hash>`` role, the name IAM shows at policy version 1 for a conditional binding
    (https://cloud.google.com/iam/docs/troubleshooting-withcond), which a tool that read at version 1 writes back.
    What IAM answers to such a role is not published: the stand-in answers as IAM does for any role that cannot be
    granted there (beside ``_ROLE_NOT_SUPPORTED``)."""
    import grpc

    role = binding.role
    if "_withcond_" in role or not _GRANTABLE.match(role):
        raise Abort(grpc.StatusCode.INVALID_ARGUMENT, _ROLE_NOT_SUPPORTED.format(role=role))
    if not binding.members:
        raise Abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"The binding for role {role} has no members: each binding must contain at least one principal.",
        )
    for member in binding.members:
        if member in ("allUsers", "allAuthenticatedUsers"):
            continue
        kind, colon, value = member.partition(":")
        if not colon or not kind or not value:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, _MEMBER_FORM)
        if kind not in _MEMBER_TYPES:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f'Unknown member type "{kind}" in "{member}".')


def _state_filter(text: str) -> Callable[[str], bool]:
    """ListSecretVersionsRequest.filter ("adhering to the rules in List-operation filtering",
    https://cloud.google.com/secret-manager/docs/filtering, which follows AIP-160) for the field the stand-in filters
    on, ``state``: terms ``state:ENABLED``, ``state=DISABLED``, ``state!=DESTROYED`` (``NOT``/``-`` before one negates
    it), joined by ``OR`` — which binds tighter, as AIP-160 has it — and by ``AND`` or a space. Anything else — another
    field, parentheses, a value that is not a state's name as the enum spells it — is refused UNIMPLEMENTED: never
    ignored (a filter ignored lists versions the caller asked to leave out)."""
    import grpc

    def unsupported(why: str) -> Abort:
        return Abort(
            grpc.StatusCode.UNIMPLEMENTED,
            f"the Secret Manager stand-in does not filter {text!r}: {why} (it filters on state only: state:ENABLED, "
            "state!=DESTROYED, NOT …, joined by OR and AND)",
        )

    clauses: list[list[tuple[bool, str, str]]] = []
    expecting, joined, negated = True, False, False
    for token in text.split():
        if token in ("AND", "OR"):
            if expecting:
                raise unsupported(f"{token} where a term was expected")
            expecting, joined = True, token == "OR"
            continue
        if token == "NOT":  # "a NOT b" is "a AND NOT b" (AIP-160)
            negated, joined = not negated, joined and expecting
            expecting = True
            continue
        match = _FILTER_TERM.match(token)
        if match is None:
            raise unsupported(f"{token!r} is not a term on state")
        if match["value"] not in _STATES:
            raise unsupported(f"{match['value']!r} is not one of {', '.join(_STATES)}")
        if expecting and joined and clauses:
            clauses[-1].append((negated != bool(match["not"]), match["op"], match["value"]))
        else:
            clauses.append([(negated != bool(match["not"]), match["op"], match["value"])])
        expecting, joined, negated = False, False, False
    if expecting:
        raise unsupported("it ends where a term was expected")

    def holds(state: str, term: tuple[bool, str, str]) -> bool:
        negate, op, value = term
        return (state == value) != (negate != (op == "!="))

    return lambda state: all(any(holds(state, term) for term in clause) for clause in clauses)


def _lower_letter(character: str) -> bool:
    return unicodedata.category(character) in ("Ll", "Lo")


def _label_character(character: str) -> bool:
    return _lower_letter(character) or unicodedata.category(character).startswith("N") or character in "_-"


def _under(binding: Any, condition: str | None) -> bool:
    """Whether *binding* grants under exactly *condition* (``None``: none)."""
    if not condition:
        return not binding.HasField("condition")
    return bool(binding.HasField("condition") and binding.condition.expression == condition)


def _has_conditions(policy: Any) -> bool:
    return any(binding.HasField("condition") for binding in policy.bindings)


def _condition_hash(binding: Any) -> str:
    condition = binding.condition
    text = "\n".join((binding.role, condition.title, condition.description, condition.expression))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


if __name__ == "__main__":  # python -m findly_infra.testing.secret_manager: served until interrupted
    from findly_infra.testing._launch import secret_manager as launch

    raise SystemExit(launch())
