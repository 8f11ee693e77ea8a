"""``secrets audit`` and ``secrets rotate`` against the Secret Manager stand-in, through the real client: an audit over
seeded ages that never reads a payload, rotations that keep the previous version through the grace period, the fault
matrix — and, for random secret values, no output, log, JSON or error message ever holds one."""

from __future__ import annotations

import io
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from findly_infra.domain.workload_identity import WorkloadPool
from findly_infra.testing.secret_manager import SecretManagerStandIn
from tests.conftest import EXAMPLE, PAST
from tests.test_release_cli import cli

PROJECT = "findly-now"
NUMBER = "123456789012"
POOL = WorkloadPool(PROJECT, NUMBER)
OWN = POOL.principal("findly-now-production", "fn-posts")  # production's fn-posts pods (Workload Identity)
DB, KEY = "posts-db-password-production", "matcher-api-key-production"


def _platform(folder: Path) -> Path:
    document = yaml.safe_load(EXAMPLE.read_text())
    document["secret_management"]["secrets"] = {
        "posts-db-password": {"type": "database_credentials", "services": ["fn-posts"]},
        "matcher-api-key": {"type": "api_keys", "services": ["fn-matcher"]},
    }
    document["secret_management"]["grace_period"] = "2 days"
    document["gke_cluster"]["project_number"] = NUMBER
    path = folder / "findly.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _env(sm: SecretManagerStandIn, config: Path) -> dict[str, str]:
    return {"FINDLY_CONFIG": str(config), "FINDLY_SECRET_MANAGER_ENDPOINT": sm.address, "FINDLY_GCP_PROJECT": PROJECT}


def _rotate(env: dict[str, str], value: bytes, *args: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, Any]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(value)))
    return cli(env, "secrets", "rotate", *args)


def test_an_audit_over_seeded_ages_finds_what_is_wrong_and_never_reads_a_value(
    sm: SecretManagerStandIn, tmp_path: Path
) -> None:
    env = _env(sm, _platform(tmp_path))
    sm.add_secret(PROJECT, DB, b"first", readers=(OWN, "user:mallory@example.com"))
    sm.backdate(PROJECT, DB, timedelta(days=45))  # database credentials rotate every 30 days
    code, document = cli(env, "secrets", "audit", "--env", "production")
    assert code == 7
    assert [(f["secret"], f["problem"]) for f in document["findings"]] == [  # type: ignore[index]
        (DB, "rotation-overdue"),
        (DB, "unexpected-reader"),
        (KEY, "missing"),
    ]
    assert "AccessSecretVersion" not in {method for method, _ in sm.calls}  # never a payload


def test_a_rotation_keeps_the_previous_version_through_the_grace_period(
    sm: SecretManagerStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _env(sm, _platform(tmp_path))
    sm.add_secret(PROJECT, DB, b"first", readers=(OWN,))
    sm.add_secret(PROJECT, KEY, b"key", readers=(POOL.principal("findly-now-production", "fn-matcher"),))
    sm.backdate(PROJECT, DB, timedelta(days=40))
    code, document = _rotate(env, b"second", "posts-db-password", "--env", "production", monkeypatch=monkeypatch)
    assert (code, document["added"], document["disabled"]) == (0, "2", [])  # 1 stays enabled: the grace period
    assert sm.payloads(PROJECT, DB) == [(1, "ENABLED", b"first"), (2, "ENABLED", b"second")]
    sm.backdate(PROJECT, DB, timedelta(days=3))  # past the grace period: the next rotation disables what 2 replaced
    code, document = cli(env, "secrets", "audit", "--env", "production")
    assert [f["problem"] for f in document["findings"]] == ["stale-versions"]  # type: ignore[index]
    code, document = _rotate(env, b"third", "posts-db-password", "--env", "production", monkeypatch=monkeypatch)
    assert (document["added"], document["disabled"]) == ("3", ["1"])
    assert [state for _, state, _ in sm.payloads(PROJECT, DB)] == ["DISABLED", "ENABLED", "ENABLED"]
    code, _ = cli(env, "secrets", "audit", "--env", "production")
    assert code == 0
    code, document = cli(env, "secrets", "rotate", "matcher-api-key", "--env", "production", "--generate", "32")
    assert (code, document["added"]) == (0, "2")
    assert len(sm.payloads(PROJECT, KEY)[-1][2]) >= 32


def test_the_fault_matrix(sm: SecretManagerStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _env(sm, _platform(tmp_path))
    sm.add_secret(PROJECT, DB, b"first", readers=(OWN,))
    sm.fail("ListSecretVersions", grpc.StatusCode.UNAVAILABLE, "try later", times=2)
    assert cli(env, "secrets", "audit", "--env", "production")[0] == 7  # retried through; the key is missing
    sm.fail("GetSecret", grpc.StatusCode.UNAVAILABLE, "down", times=5)  # every attempt
    code, document = cli(env, "secrets", "audit", "--env", "production")
    assert code == 5
    assert "after 5 attempts" in document["error"]["message"]  # type: ignore[index]
    sm.fail("GetIamPolicy", grpc.StatusCode.PERMISSION_DENIED, "Permission 'secretmanager.secrets.getIamPolicy' denied")
    code, document = cli(env, "secrets", "audit", "--env", "production")
    assert code == 2
    assert "secretmanager.secrets.getIamPolicy" in document["error"]["message"]  # type: ignore[index]
    code, document = _rotate(env, b"", "posts-db-password", "--env", "production", monkeypatch=monkeypatch)
    assert code == 2  # an empty value is refused before anything is written
    assert len(sm.payloads(PROJECT, DB)) == 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=8, max_size=64))
def test_no_output_log_json_or_error_ever_holds_a_secret_value(
    value: str, sm: SecretManagerStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: Any
) -> None:
    env = _env(sm, _platform(tmp_path))
    try:
        sm.payloads(PROJECT, DB)
    except KeyError:  # the first example: the secret is made once for all of them
        sm.add_secret(PROJECT, DB, b"seed", readers=(OWN,))
    seen = []
    for failing in (None, "AddSecretVersion", "DisableSecretVersion"):
        if failing:
            sm.fail(failing, grpc.StatusCode.PERMISSION_DENIED, "Permission 'secretmanager.versions.add' denied")
        for as_json in (True, False):
            args = ("secrets", "rotate", "posts-db-password", "--env", "production")
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(value.encode())))
            out = io.StringIO()
            from unittest import mock

            from findly_infra.cli import main

            with mock.patch.dict("os.environ", {"GITHUB_ACTIONS": "", **env}):
                main([*(["--json"] if as_json else []), *args], out=out)
            seen.append(out.getvalue())
        audit = io.StringIO()
        with mock.patch.dict("os.environ", env):
            main(["--json", "secrets", "audit", "--env", "production"], out=audit)
        seen.append(audit.getvalue())
    captured = capfd.readouterr()
    seen += [captured.out, captured.err]
    for text in seen:
        assert value not in text
    assert any(value.encode() == payload for _, _, payload in sm.payloads(PROJECT, DB))  # it did reach the store


def test_the_release_gate_refuses_a_rollout_whose_secret_is_missing_exit_3(
    sm: SecretManagerStandIn, tmp_path: Path
) -> None:
    config = _platform(tmp_path)
    document = yaml.safe_load(config.read_text())
    document["secret_management"]["release_gate"] = True
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    env = {**_env(sm, config), "FINDLY_ACTOR": "erin", "FINDLY_STATE": str(tmp_path / "s.db"), "FINDLY_NOW": PAST}
    code, document = cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")
    assert code == 3
    assert document["error"]["rule"] == "secrets-present"  # type: ignore[index]
    assert "posts-db-password-development" in document["error"]["message"]  # type: ignore[index]
    sm.add_secret(PROJECT, "posts-db-password-development", b"pw", readers=(OWN,))
    assert cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")[0] == 0
    code, _ = cli(env, "deploy", "fn-matcher", "1.0.0", "--env", "development")
    assert code == 3  # fn-matcher's key is still missing


def test_secrets_schedule_sets_the_native_rotation_from_the_file_once(sm: SecretManagerStandIn, tmp_path: Path) -> None:
    config = _platform(tmp_path)
    document = yaml.safe_load(config.read_text())
    document["secret_management"]["rotation_topic"] = "projects/findly-now/topics/secret-rotation"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    env = _env(sm, config)
    sm.add_secret(PROJECT, DB, b"pw", readers=(OWN,))
    sm.add_secret(PROJECT, KEY, b"key")
    code, document = cli(env, "secrets", "schedule", "--env", "production")
    assert (code, sorted(document["changed"])) == (0, sorted([DB, KEY]))  # type: ignore[arg-type]
    secret = sm.client().get_secret(name=f"projects/{PROJECT}/secrets/{DB}")
    assert secret.rotation.rotation_period == timedelta(days=30)  # database_credentials
    assert [topic.name for topic in secret.topics] == ["projects/findly-now/topics/secret-rotation"]
    assert cli(env, "secrets", "schedule", "--env", "production")[1]["changed"] == []  # set once


def test_a_rotation_whose_disabling_fails_says_the_new_version_was_added(
    sm: SecretManagerStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _env(sm, _platform(tmp_path))
    sm.add_secret(PROJECT, DB, b"first", readers=(OWN,))
    _rotate(env, b"second", "posts-db-password", "--env", "production", monkeypatch=monkeypatch)
    sm.backdate(PROJECT, DB, timedelta(days=3))
    sm.fail("DisableSecretVersion", grpc.StatusCode.PERMISSION_DENIED, "Permission 'secretmanager.versions.disable'")
    code, document = _rotate(env, b"third", "posts-db-password", "--env", "production", monkeypatch=monkeypatch)
    assert code == 2
    message = document["error"]["message"]  # type: ignore[index]
    assert "posts-db-password-production: version 3 was added" in message
    assert "secretmanager.versions.disable" in message
    assert [state for _, state, _ in sm.payloads(PROJECT, DB)] == ["ENABLED", "ENABLED", "ENABLED"]


# ---- issue 22: right against the real API -------------------------------------------------------------------------

MATCHER = POOL.principal("findly-now-production", "fn-matcher")
FUTURE, PAST_EXPIRY = "2099-01-01T00:00:00Z", "2020-01-01T00:00:00Z"


def _store(sm: SecretManagerStandIn) -> Any:
    from findly_infra.adapters.secret_manager import connect_secret_manager

    return connect_secret_manager(PROJECT, channel=sm.channel())


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.binary(min_size=1, max_size=65536))
def test_a_rotation_sends_the_checksum_the_api_verifies(value: bytes, sm: SecretManagerStandIn) -> None:
    """Defect: the upload carried zlib's CRC-32 as data_crc32c, which the API checks as CRC32C: every real rotation
    was refused (INVALID_ARGUMENT)."""
    from datetime import datetime

    try:
        sm.payloads(PROJECT, DB)
    except KeyError:
        sm.add_secret(PROJECT, DB, b"first", readers=(OWN,))
    rotation = _store(sm).rotate(DB, value, grace=timedelta(days=2), now=datetime(2026, 1, 5))
    version = sm.client().get_secret_version(name=f"projects/{PROJECT}/secrets/{DB}/versions/{rotation.added}")
    assert version.client_specified_payload_checksum  # sent, and verified by the service
    assert sm.payloads(PROJECT, DB)[-1] == (int(rotation.added), "ENABLED", value)


def test_a_value_over_64_kib_is_refused_before_anything_is_written(
    sm: SecretManagerStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _env(sm, _platform(tmp_path))
    sm.add_secret(PROJECT, DB, b"first", readers=(OWN,))
    code, document = _rotate(env, b"x" * 65537, "posts-db-password", "--env", "production", monkeypatch=monkeypatch)
    assert code == 2
    assert "at most 65536" in document["error"]["message"]  # type: ignore[index]
    assert "AddSecretVersion" not in {method for method, _ in sm.calls}


def test_an_audit_counts_a_conditional_grant_while_its_condition_can_hold(
    sm: SecretManagerStandIn, tmp_path: Path
) -> None:
    """Defect: the audit read IAM policies at version 1, where a conditional grant comes back under a
    ``…_withcond_…`` role: a time-limited grant to anyone was missed."""
    env = _env(sm, _platform(tmp_path))
    sm.add_secret(PROJECT, DB, b"pw", readers=(OWN,))
    sm.add_secret(PROJECT, KEY, b"key", readers=(MATCHER,))
    sm.grant(PROJECT, DB, "user:mallory@example.com", condition=f'request.time < timestamp("{FUTURE}")')
    sm.grant(PROJECT, DB, "user:eve@example.com", condition=f'request.time < timestamp("{PAST_EXPIRY}")')
    sm.grant(PROJECT, DB, "group:oncall@example.com", condition='resource.name.endsWith("-production")')
    code, document = cli(env, "secrets", "audit", "--env", "production")
    assert code == 7
    (finding,) = document["findings"]  # type: ignore[misc]
    assert (finding["secret"], finding["problem"]) == (DB, "unexpected-reader")
    assert finding["readers"] == [
        {"member": "group:oncall@example.com", "until": None, "condition": 'resource.name.endsWith("-production")'},
        {"member": "user:mallory@example.com", "until": "2099-01-01T00:00:00Z", "condition": None},
    ]  # eve's grant expired: not a reader any more
    assert "user:mallory@example.com (until 2099-01-01 00:00 UTC)" in finding["message"]
    assert "group:oncall@example.com (under a condition the audit cannot judge: " in finding["message"]
    assert "AccessSecretVersion" not in {method for method, _ in sm.calls}


def test_the_release_gate_does_not_read_iam_policies(sm: SecretManagerStandIn, tmp_path: Path) -> None:
    """Defect: the gate read each secret's IAM policy, a permission (secretmanager.secrets.getIamPolicy) the page did
    not list for it: a deploy whose account lacked it ended in exit 2. It needs to know that a version is enabled."""
    config = _platform(tmp_path)
    document = yaml.safe_load(config.read_text())
    document["secret_management"]["release_gate"] = True
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    env = {**_env(sm, config), "FINDLY_ACTOR": "erin", "FINDLY_STATE": str(tmp_path / "s.db"), "FINDLY_NOW": PAST}
    sm.add_secret(PROJECT, "posts-db-password-development", b"pw", readers=(OWN,))
    denied = "Permission 'secretmanager.secrets.getIamPolicy' denied on resource (or it may not exist)."
    sm.fail("GetIamPolicy", grpc.StatusCode.PERMISSION_DENIED, denied, times=100)
    code, document = cli(env, "deploy", "fn-posts", "1.0.0", "--env", "development")
    assert code == 0, document
    assert {method for method, _ in sm.calls} == {"GetSecret", "ListSecretVersions"}


def test_a_retried_audit_prints_one_json_document_and_its_retry_on_stderr(
    sm: SecretManagerStandIn, tmp_path: Path
) -> None:
    """Defect: stamina's default retry hook logged through structlog's default configuration, on stdout: a retried
    ``--json`` command printed a log line before its document. As a CI step runs it, in a process of its own."""
    import json
    import subprocess

    from tests.docs_examples import user_environment

    config = _platform(tmp_path)
    sm.add_secret(PROJECT, DB, b"pw", readers=(OWN,))
    sm.add_secret(PROJECT, KEY, b"key", readers=(MATCHER,))
    sm.fail("GetSecret", grpc.StatusCode.UNAVAILABLE, "the service is restarting", times=1)
    env = user_environment(
        tmp_path,
        FINDLY_CONFIG=str(config),
        FINDLY_SECRET_MANAGER_ENDPOINT=sm.address,
        FINDLY_GCP_PROJECT=PROJECT,
    )
    result = subprocess.run(
        [sys.executable, "-m", "findly_infra", "--json", "secrets", "audit", "--env", "production"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    document = json.loads(result.stdout)  # exactly one document: json.loads refuses anything after it
    assert (document["ok"], document["findings"]) == (True, [])
    retries = [json.loads(line) for line in result.stderr.splitlines() if "retry_scheduled" in line]
    assert [(r["event"].endswith(".retry_scheduled"), r["retry"]) for r in retries] == [(True, 1)]
    assert "the service is restarting" in retries[0]["caused_by"]
    assert [method for method, _ in sm.calls].count("GetSecret") == 3  # the failed call, then one per secret


def test_a_schedule_changed_by_someone_else_meanwhile_is_refused_not_undone(
    sm: SecretManagerStandIn, tmp_path: Path
) -> None:
    config = _platform(tmp_path)
    document = yaml.safe_load(config.read_text())
    document["secret_management"]["rotation_topic"] = "projects/findly-now/topics/secret-rotation"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    sm.add_secret(PROJECT, DB, b"pw", readers=(OWN,))
    sm.add_secret(PROJECT, KEY, b"key")
    sm.interleave("UpdateSecret", lambda: sm.label(PROJECT, DB, "owner", "platform"))  # between our read and write
    code, document = cli(_env(sm, config), "secrets", "schedule", "--env", "production")
    assert code == 2
    assert "etag" in document["error"]["message"]  # type: ignore[index]
    secret = sm.client().get_secret(name=f"projects/{PROJECT}/secrets/{DB}")
    assert (dict(secret.labels), list(secret.topics)) == ({"owner": "platform"}, [])  # no schedule written over it


def _scheduled_platform(folder: Path, period: str) -> Path:
    config = _platform(folder)
    document = yaml.safe_load(config.read_text())
    document["secret_management"]["rotation_topic"] = "projects/findly-now/topics/secret-rotation"
    document["secret_management"]["secret_types"]["api_keys"]["rotation_period"] = period
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    return config


def test_a_schedule_the_api_takes_is_sent_and_one_it_refuses_never_reaches_it(
    sm: SecretManagerStandIn, tmp_path: Path
) -> None:
    """Fidelity review: a "30m" rotation period passed validate, and `secrets schedule` sent it; Secret Manager takes
    1 hour to 100 years (Rotation in resources.proto), and the stand-in now refuses the rest as it does."""
    sm.add_secret(PROJECT, DB, b"pw", readers=(OWN,))
    sm.add_secret(PROJECT, KEY, b"key")
    code, document = cli(_env(sm, _scheduled_platform(tmp_path, "30m")), "secrets", "schedule", "--env", "production")
    assert code == 2
    assert "secret_management.secret_types.api_keys.rotation_period" in document["error"]["message"]  # type: ignore[index]
    assert "UpdateSecret" not in [method for method, _ in sm.calls]
    code, document = cli(
        _env(sm, _scheduled_platform(tmp_path, "1 hour")), "secrets", "schedule", "--env", "production"
    )
    assert (code, sorted(document["changed"])) == (0, sorted([DB, KEY]))  # type: ignore[arg-type]
    rotation = sm.client().get_secret(name=f"projects/{PROJECT}/secrets/{KEY}").rotation
    assert rotation.rotation_period == timedelta(hours=1)  # the shortest the API takes, first due an hour from now


# ---- grant_access: what binding a workload to the secrets it reads needs ---------------------------------------------

WORKLOAD = f"serviceAccount:fn-notifications@{PROJECT}.iam.gserviceaccount.com"


def _accessors(sm: SecretManagerStandIn, secret: str) -> list[tuple[list[str], str]]:
    return [
        (sorted(b.members), b.condition.expression)
        for b in sm.policy(PROJECT, secret).bindings
        if b.role == "roles/secretmanager.secretAccessor"
    ]


def test_grant_access_adds_the_accessor_role_once_and_keeps_every_other_binding(sm: SecretManagerStandIn) -> None:
    sm.add_secret(PROJECT, DB, b"pw")
    until = f'request.time < timestamp("{FUTURE}")'
    sm.grant(PROJECT, DB, "user:oncall@example.com", condition=until)
    sm.grant(PROJECT, DB, "group:admins@example.com", role="roles/secretmanager.admin")
    store = _store(sm)
    assert store.grant_access(DB, WORKLOAD) is True
    assert _accessors(sm, DB) == [(["user:oncall@example.com"], until), ([WORKLOAD], "")]
    assert sm.policy(PROJECT, DB).version == 3  # the condition survived the write
    assert any(b.role == "roles/secretmanager.admin" for b in sm.policy(PROJECT, DB).bindings)
    writes = [method for method, _ in sm.calls].count("SetIamPolicy")
    assert store.grant_access(DB, WORKLOAD) is False  # idempotent: nothing written the second time
    assert [method for method, _ in sm.calls].count("SetIamPolicy") == writes


def test_grant_access_done_again_when_the_policy_changed_between_its_read_and_its_write(
    sm: SecretManagerStandIn,
) -> None:
    sm.add_secret(PROJECT, DB, b"pw", readers=(OWN,))
    sm.interleave("SetIamPolicy", lambda: sm.grant(PROJECT, DB, "user:alice@example.com"))
    assert _store(sm).grant_access(DB, WORKLOAD) is True
    assert _accessors(sm, DB) == [(sorted([OWN, "user:alice@example.com", WORKLOAD]), "")]  # alice's grant kept
    assert [m for m, _ in sm.calls] == ["GetIamPolicy", "SetIamPolicy", "GetIamPolicy", "SetIamPolicy"]


def test_grant_access_under_a_policy_that_never_stops_changing_or_without_the_permission(
    sm: SecretManagerStandIn,
) -> None:
    from findly_infra.application.ports import BadInputError, DependencyUnavailableError

    sm.add_secret(PROJECT, DB, b"pw", readers=(OWN,))
    sm.interleave("SetIamPolicy", lambda: sm.grant(PROJECT, DB, "user:alice@example.com"), times=5)
    with pytest.raises(DependencyUnavailableError, match=r"kept changing.*after 5 attempts"):
        _store(sm).grant_access(DB, WORKLOAD)
    assert WORKLOAD not in sm.policy(PROJECT, DB).bindings[0].members
    denied = "Permission 'secretmanager.secrets.setIamPolicy' denied on resource (or it may not exist)."
    sm.fail("SetIamPolicy", grpc.StatusCode.PERMISSION_DENIED, denied)
    with pytest.raises(BadInputError, match=r"secretmanager\.secrets\.setIamPolicy"):
        _store(sm).grant_access(DB, WORKLOAD)
