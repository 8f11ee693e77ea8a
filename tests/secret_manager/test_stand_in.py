"""The Secret Manager stand-in answers as the real API does where a tool depends on it — each test names the rule's
reference (the API's protos, its pages, Google's published error responses) — through the real client, over gRPC on
127.0.0.1: CRC32C, payload limits, disabled and destroyed versions, the ``latest`` alias, etags on secrets, versions
and IAM policies, IAM policy versions and conditional bindings, NOT_FOUND, pages, faults and the calls received."""

from __future__ import annotations

import re
import zlib
from datetime import timedelta
from typing import Any

import google_crc32c
import grpc
import pytest
from google.api_core import exceptions

from findly_infra.testing.secret_manager import SecretManagerStandIn

PROJECT = "findly-now"
NAME = f"projects/{PROJECT}/secrets/api-key"
ALICE, MALLORY = "user:alice@example.com", "user:mallory@example.com"
UNTIL = 'request.time < timestamp("2030-01-01T00:00:00Z")'
ONCE: dict[str, Any] = {"retry": None}


def _client(sm: SecretManagerStandIn, *payloads: bytes) -> Any:
    sm.add_secret(PROJECT, "api-key", *payloads, readers=(ALICE,))
    return sm.client()


def _add(client: Any, data: bytes, **payload: Any) -> Any:
    return client.add_secret_version(request={"parent": NAME, "payload": {"data": data, **payload}}, **ONCE)


# ---- payloads: https://cloud.google.com/secret-manager/docs/data-integrity, SecretPayload in resources.proto --------


def test_the_checksum_is_crc32c_as_the_pages_example_shows(sm: SecretManagerStandIn) -> None:
    client = _client(sm)
    added = _add(client, b"a\n", data_crc32c=163439259)  # the page's example: "YQo=" with dataCrc32c "163439259"
    assert added.client_specified_payload_checksum
    with pytest.raises(exceptions.InvalidArgument):
        _add(client, b"a\n", data_crc32c=zlib.crc32(b"a\n"))  # zlib's CRC-32 (3723141383) is not the API's checksum
    assert not _add(client, b"b").client_specified_payload_checksum  # optional: the service computes its own
    accessed = client.access_secret_version(name=f"{NAME}/versions/1", **ONCE)
    assert accessed.payload.data_crc32c == google_crc32c.value(b"a\n")  # returned with the data
    assert [state for _, state, _ in sm.payloads(PROJECT, "api-key")] == ["ENABLED", "ENABLED"]  # the bad one: none


def test_a_payload_is_at_most_64_kib_and_never_empty(sm: SecretManagerStandIn) -> None:
    client = _client(sm)
    _add(client, b"x" * 65536)
    with pytest.raises(exceptions.InvalidArgument, match=r"must be at most \[65536\] bytes"):
        _add(client, b"x" * 65537)
    with pytest.raises(exceptions.InvalidArgument, match=r"Field \[payload\] is required"):
        _add(client, b"")
    assert len(sm.payloads(PROJECT, "api-key")) == 1


# ---- versions: State in resources.proto; the refusal's words from google-github-actions/get-secretmanager-secrets#268


def test_only_an_enabled_versions_payload_is_given(sm: SecretManagerStandIn) -> None:
    client = _client(sm, b"one", b"two")
    client.disable_secret_version(name=f"{NAME}/versions/1", **ONCE)
    with pytest.raises(exceptions.FailedPrecondition, match=r"Secret Version \[.*/versions/1\] is in DISABLED state"):
        client.access_secret_version(name=f"{NAME}/versions/1", **ONCE)
    client.enable_secret_version(name=f"{NAME}/versions/1", **ONCE)
    assert client.access_secret_version(name=f"{NAME}/versions/1", **ONCE).payload.data == b"one"
    destroyed = client.destroy_secret_version(name=f"{NAME}/versions/1", **ONCE)
    assert (destroyed.state.name, destroyed.destroy_time is not None) == ("DESTROYED", True)
    assert sm.payloads(PROJECT, "api-key")[0] == (1, "DESTROYED", b"")  # "the secret data is no longer stored"
    for leave in (client.enable_secret_version, client.disable_secret_version):  # "may not leave this state"
        with pytest.raises(exceptions.FailedPrecondition, match="is in DESTROYED state"):
            leave(name=f"{NAME}/versions/1", **ONCE)
    with pytest.raises(exceptions.FailedPrecondition, match="is in DESTROYED state"):
        client.access_secret_version(name=f"{NAME}/versions/1", **ONCE)
    listed = client.list_secret_versions(parent=NAME, **ONCE)
    assert [(v.name.rsplit("/", 1)[1], v.state.name) for v in listed] == [("2", "ENABLED"), ("1", "DESTROYED")]


def test_latest_is_the_most_recently_created_version_whatever_its_state(sm: SecretManagerStandIn) -> None:
    client = _client(sm, b"one", b"two")
    assert client.access_secret_version(name=f"{NAME}/versions/latest", **ONCE).name == f"{NAME}/versions/2"
    client.disable_secret_version(name=f"{NAME}/versions/2", **ONCE)
    assert client.get_secret_version(name=f"{NAME}/versions/latest", **ONCE).name == f"{NAME}/versions/2"
    with pytest.raises(exceptions.FailedPrecondition, match=r"\[.*/versions/2\] is in DISABLED state"):
        client.access_secret_version(name=f"{NAME}/versions/latest", **ONCE)  # not version 1, though it is enabled
    _add(client, b"three")
    assert client.access_secret_version(name=f"{NAME}/versions/latest", **ONCE).payload.data == b"three"
    sm.add_secret(PROJECT, "empty")
    with pytest.raises(exceptions.NotFound, match="not found or has no versions"):
        client.access_secret_version(name=f"projects/{PROJECT}/secrets/empty/versions/latest", **ONCE)


# ---- etags: https://cloud.google.com/secret-manager/docs/etags -------------------------------------------------------


def test_secret_and_version_etags_refuse_a_stale_request(sm: SecretManagerStandIn) -> None:
    client = _client(sm, b"one")
    secret = client.get_secret(name=NAME, **ONCE)
    assert secret.etag[0] == secret.etag[-1] == '"'  # "a valid etag string is "123", not 123"
    labelled = {"name": NAME, "etag": secret.etag, "labels": {"team": "posts"}}
    updated = client.update_secret(request={"secret": labelled, "update_mask": {"paths": ["labels"]}}, **ONCE)
    assert updated.etag != secret.etag  # a change makes a new one
    with pytest.raises(exceptions.FailedPrecondition):  # "otherwise, it fails with a FAILED_PRECONDITION error"
        client.update_secret(request={"secret": labelled, "update_mask": {"paths": ["labels"]}}, **ONCE)
    version = client.get_secret_version(name=f"{NAME}/versions/1", **ONCE)
    again = client.enable_secret_version(request={"name": version.name, "etag": version.etag}, **ONCE)
    assert (again.state.name, again.etag != version.etag) == ("ENABLED", True)  # a no-op still renews it
    with pytest.raises(exceptions.FailedPrecondition):
        client.disable_secret_version(request={"name": version.name, "etag": version.etag}, **ONCE)
    assert client.get_secret(name=NAME, **ONCE).etag == updated.etag  # a version's change leaves the secret's
    client.disable_secret_version(name=version.name, **ONCE)  # no etag: no check
    assert sm.payloads(PROJECT, "api-key")[0][1] == "DISABLED"


# ---- IAM: google/iam/v1/policy.proto; https://cloud.google.com/iam/docs/troubleshooting-withcond ---------------------


def _policy(client: Any, version: int | None = None) -> Any:
    options = {"options": {"requested_policy_version": version}} if version is not None else {}
    return client.get_iam_policy(request={"resource": NAME, **options}, **ONCE)


def test_a_conditional_binding_is_shown_at_version_3_and_hidden_at_version_1(sm: SecretManagerStandIn) -> None:
    client = _client(sm, b"one")
    assert _policy(client, 3).version == 1  # no condition yet: "the response uses version 1"
    sm.grant(PROJECT, "api-key", MALLORY, condition=UNTIL, title="on call until 2030")
    full = _policy(client, 3)
    assert full.version == 3
    conditional = [b for b in full.bindings if b.HasField("condition")]
    assert [(b.role, list(b.members), b.condition.expression) for b in conditional] == [
        ("roles/secretmanager.secretAccessor", [MALLORY], UNTIL)
    ]
    for old in (_policy(client), _policy(client, 1)):  # what a tool reading at version 1 (the default) is given
        assert old.version == 1
        assert not any(b.HasField("condition") for b in old.bindings)
        (hidden,) = [b for b in old.bindings if MALLORY in b.members]
        assert hidden.role.startswith("roles/secretmanager.secretAccessor_withcond_")
        assert len(hidden.role.rsplit("_", 1)[1]) == 20  # "…_withcond_2b17cc25d2cd9e2c54d8"
    with pytest.raises(exceptions.InvalidArgument):  # "Valid values are 0, 1, and 3"
        _policy(client, 2)


def test_set_iam_policy_keeps_iams_rules_on_versions_and_etags(sm: SecretManagerStandIn) -> None:
    client = _client(sm, b"one")
    plain = _policy(client, 3)
    conditional = type(plain)()
    conditional.CopyFrom(plain)
    binding = conditional.bindings.add(role="roles/secretmanager.secretAccessor", members=[MALLORY])
    binding.condition.expression = UNTIL
    with pytest.raises(exceptions.InvalidArgument):  # a conditional binding needs version 3
        client.set_iam_policy(request={"resource": NAME, "policy": conditional}, **ONCE)
    conditional.version = 3
    set_ = client.set_iam_policy(request={"resource": NAME, "policy": conditional}, **ONCE)
    assert (set_.version, set_.etag != plain.etag) == (3, True)
    with pytest.raises(exceptions.Aborted, match="There were concurrent policy changes"):  # a stale etag: 409
        client.set_iam_policy(request={"resource": NAME, "policy": conditional}, **ONCE)
    current = _policy(client)  # read at version 1, written back with its etag: refused, conditions are not lost
    with pytest.raises(exceptions.InvalidArgument, match=r"Specified policy version \(1\) cannot be less"):
        client.set_iam_policy(request={"resource": NAME, "policy": current}, **ONCE)
    assert _policy(client, 3).version == 3
    current.ClearField("etag")  # without an etag IAM overwrites blindly: "all of the conditions … are lost"
    with pytest.raises(exceptions.InvalidArgument, match=r"Role .*_withcond_\w+ is not supported for this resource"):
        client.set_iam_policy(request={"resource": NAME, "policy": current}, **ONCE)  # but no `_withcond_` role
    kept = [b for b in current.bindings if "_withcond_" not in b.role]
    del current.bindings[:]
    current.bindings.extend(kept)
    overwritten = client.set_iam_policy(request={"resource": NAME, "policy": current}, **ONCE)
    assert overwritten.version == 1
    assert not any(b.HasField("condition") for b in _policy(client, 3).bindings)


# ---- kept as they were: NOT_FOUND, pages, faults, calls -----------------------------------------------------------


def test_not_found_pages_faults_and_the_calls_received(sm: SecretManagerStandIn) -> None:
    client = _client(sm, b"1", b"2", b"3", b"4", b"5")
    with pytest.raises(exceptions.NotFound, match=r"Secret \[projects/findly-now/secrets/nope\] not found"):
        client.get_secret(name=f"projects/{PROJECT}/secrets/nope", **ONCE)
    with pytest.raises(exceptions.NotFound, match=r"Secret Version \[.*/versions/9\] not found"):
        client.get_secret_version(name=f"{NAME}/versions/9", **ONCE)
    assert [v.name[-1] for v in client.list_secret_versions(parent=NAME, **ONCE)] == list("54321")  # newest first
    assert [m for m, _ in sm.calls].count("ListSecretVersions") == 3  # pages of two
    sm.fail("GetSecret", grpc.StatusCode.UNAVAILABLE, "try later")
    with pytest.raises(exceptions.ServiceUnavailable):
        client.get_secret(name=NAME, **ONCE)
    assert client.get_secret(name=NAME, **ONCE).name == NAME
    assert sm.calls[-1] == ("GetSecret", NAME)


# ---- fidelity review (issue 22): rotation schedules, filters, IAM policies, labels, names ---------------------------

TOPIC = {"name": f"projects/{PROJECT}/topics/secret-rotation"}


def _schedule(client: Any, paths: list[str], **secret: Any) -> Any:
    update = {"name": NAME, **secret}
    return client.update_secret(request={"secret": update, "update_mask": {"paths": paths}}, **ONCE)


@pytest.mark.parametrize(
    ("rotation", "topics", "refusal"),
    [
        ({"rotation_period": timedelta(minutes=30)}, [TOPIC], r"Rotation period 1800s is invalid"),
        ({"rotation_period": timedelta(seconds=3_153_600_001)}, [TOPIC], r"at most 3153600000s \(100 years\)"),
        ({"rotation_period": timedelta(hours=1, milliseconds=500)}, [TOPIC], r"in whole seconds"),
        ({"next_rotation_time": timedelta(minutes=4)}, [TOPIC], r"at least 300s \(5 minutes\)"),
        ({"next_rotation_time": timedelta(days=36_501)}, [TOPIC], r"at most 3153600000s \(100 years\)"),
        ({"next_rotation_time": -timedelta(days=1)}, [TOPIC], r"at least 300s"),
        ({"rotation_period": timedelta(hours=1)}, [TOPIC], r"next_rotation_time must be set if rotation_period"),
        ({"next_rotation_time": timedelta(hours=1), "rotation_period": timedelta(hours=1)}, [], r"topics must be set"),
        ({"next_rotation_time": timedelta(hours=1)}, [{"name": "secret-rotation"}], r"projects/\*/topics/\*"),
    ],
)
def test_a_rotation_schedule_outside_the_apis_bounds_is_refused_and_changes_nothing(
    sm: SecretManagerStandIn, clock: Any, rotation: dict[str, timedelta], topics: list[Any], refusal: str
) -> None:
    """resources.proto, Rotation: next_rotation_time 300 s to 100 years ahead, rotation_period 1 hour to 100 years in
    seconds and only with a next_rotation_time, Secret.topics set; https://cloud.google.com/secret-manager/docs/secret-rotation."""
    client = _client(sm, b"one")
    before = client.get_secret(name=NAME, **ONCE)
    asked = {k: (clock.now + v if k == "next_rotation_time" else v) for k, v in rotation.items()}
    with pytest.raises(exceptions.InvalidArgument, match=refusal):
        _schedule(client, ["rotation", "topics"], rotation=asked, topics=topics)
    assert client.get_secret(name=NAME, **ONCE) == before


def test_a_rotation_schedule_within_the_bounds_is_kept_field_by_field(sm: SecretManagerStandIn, clock: Any) -> None:
    client = _client(sm, b"one")
    first = clock.now + timedelta(minutes=5, seconds=1)
    rotation = {"next_rotation_time": first, "rotation_period": timedelta(hours=1)}
    _schedule(client, ["rotation", "topics"], rotation=rotation, topics=[TOPIC])
    longest = {"rotation_period": timedelta(seconds=3_153_600_000)}  # only the period: the next time is kept
    held = _schedule(client, ["rotation.rotation_period"], rotation=longest).rotation
    assert (held.next_rotation_time, held.rotation_period) == (first, timedelta(seconds=3_153_600_000))
    with pytest.raises(exceptions.InvalidArgument, match="topics must be set"):  # the schedule needs its topics
        _schedule(client, ["topics"], topics=[])


def test_a_version_list_is_filtered_by_state_and_any_other_filter_refused(sm: SecretManagerStandIn) -> None:
    """https://cloud.google.com/secret-manager/docs/filtering (AIP-160): a filter is never ignored."""
    client = _client(sm, b"1", b"2", b"3")
    client.disable_secret_version(name=f"{NAME}/versions/1", **ONCE)
    client.destroy_secret_version(name=f"{NAME}/versions/2", **ONCE)

    def listed(text: str) -> list[str]:
        request = {"parent": NAME, "filter": text}
        return [v.name.rsplit("/", 1)[1] for v in client.list_secret_versions(request=request, **ONCE)]

    assert listed("state:ENABLED") == ["3"]
    assert listed("state:ENABLED OR state:DISABLED") == ["3", "1"]
    assert listed("NOT state:DESTROYED") == ["3", "1"]
    assert listed("state!=ENABLED AND -state:DESTROYED") == ["1"]
    for unsupported in ("create_time>2021-01-01T00:00:00Z", "state:enabled", "(state:ENABLED)", "state:ENABLED OR"):
        with pytest.raises(exceptions.MethodNotImplemented, match="does not filter"):
            listed(unsupported)


@pytest.mark.parametrize(
    ("binding", "refusal"),
    [
        ({"role": "roles/secretmanager.secretAccessor", "members": []}, "has no members"),
        ({"role": "roles/secretmanager.secretAccessor", "members": ["alice"]}, 'must be of the form "<type>:<value>"'),
        ({"role": "roles/secretmanager.secretAccessor", "members": ["robot:r2"]}, 'Unknown member type "robot"'),
        ({"role": "roles/storage.objectViewer", "members": [ALICE]}, "is not supported for this resource"),
        ({"role": "secretAccessor", "members": [ALICE]}, "is not supported for this resource"),
        (
            {"role": "roles/secretmanager.secretAccessor_withcond_2b17cc25d2cd9e2c54d8", "members": [ALICE]},
            r"Role roles/secretmanager.secretAccessor_withcond_2b17cc25d2cd9e2c54d8 is not supported",
        ),
    ],
)
def test_set_iam_policy_refuses_a_binding_iam_would_not_store(
    sm: SecretManagerStandIn, binding: dict[str, Any], refusal: str
) -> None:
    """policy.proto: each binding has at least one principal, each member ``<type>:<value>``; a role that cannot be
    granted on a secret — the ``…_withcond_…`` name a version-1 read shows — refused (the words: the stand-in's
    module, beside each rule)."""
    client = _client(sm, b"one")
    before = _policy(client, 3)
    with pytest.raises(exceptions.InvalidArgument, match=refusal):
        client.set_iam_policy(request={"resource": NAME, "policy": {"bindings": [binding]}}, **ONCE)
    assert _policy(client, 3) == before
    fine = {"role": "roles/secretmanager.viewer", "members": ["allAuthenticatedUsers", ALICE, "domain:example.com"]}
    custom = {"role": f"projects/{PROJECT}/roles/secretAccessGranter", "members": [f"principalSet://{PROJECT}/x"]}
    client.set_iam_policy(request={"resource": NAME, "policy": {"bindings": [fine, custom]}}, **ONCE)


def test_labels_are_checked_and_a_map_keys_path_is_not_taken_for_the_whole_map(sm: SecretManagerStandIn) -> None:
    """Secret.labels (resources.proto; https://cloud.google.com/secret-manager/docs/labels), refused in the words
    Google's label validator uses; ``labels.team`` never replaces the whole map."""
    client = _client(sm, b"one")
    _schedule(client, ["labels"], labels={"team": "posts", "tier": "gold"})
    with pytest.raises(exceptions.MethodNotImplemented, match=r"map key's path \[labels.team\]"):
        _schedule(client, ["labels.team"], labels={"team": "search"})
    value = 'Invalid field "labels.owner"; value "ops@example.com" does not conform to regular expression'
    with pytest.raises(exceptions.InvalidArgument, match=re.escape(value) + r'.*character "@" at position 3 is not'):
        _schedule(client, ["labels"], labels={"owner": "ops@example.com"})
    with pytest.raises(exceptions.InvalidArgument, match=r'key "Team" .*first character "T" is not a non-uppercased'):
        _schedule(client, ["labels"], labels={"Team": "posts"})
    with pytest.raises(exceptions.InvalidArgument, match="1 to 63 characters"):
        _schedule(client, ["labels"], labels={"k" * 64: "v"})
    with pytest.raises(exceptions.InvalidArgument, match="at most 64"):
        _schedule(client, ["labels"], labels={f"k{n}": "v" for n in range(65)})
    with pytest.raises(exceptions.InvalidArgument, match=r"\[colour\] is not a field of Secret"):
        _schedule(client, ["colour"])
    with pytest.raises(exceptions.MethodNotImplemented, match=r"\[expire_time\]"):
        _schedule(client, ["expire_time"])
    assert dict(client.get_secret(name=NAME, **ONCE).labels) == {"team": "posts", "tier": "gold"}
    _schedule(client, ["labels"], labels={"équipe": "données", "n2": ""})  # lower-case letters of any script


def test_get_secret_says_not_found_and_a_regional_secret_is_refused_as_not_served(sm: SecretManagerStandIn) -> None:
    client = _client(sm, b"one")
    with pytest.raises(exceptions.NotFound) as missing:
        client.get_secret(name=f"projects/{PROJECT}/secrets/nope", **ONCE)
    assert missing.value.message == f"Secret [projects/{PROJECT}/secrets/nope] not found."
    with pytest.raises(exceptions.NotFound, match="not found or has no versions"):  # the accessor's own words
        client.access_secret_version(name=f"projects/{PROJECT}/secrets/nope/versions/latest", **ONCE)
    regional = f"projects/{PROJECT}/locations/europe-west1/secrets/api-key"
    with pytest.raises(exceptions.MethodNotImplemented, match="serves global secrets only"):
        client.get_secret(name=regional, **ONCE)
    with pytest.raises(exceptions.MethodNotImplemented, match="serves global secrets only"):
        client.access_secret_version(name=f"{regional}/versions/latest", **ONCE)
