"""``secrets grant --env ENV`` against the Secret Manager stand-in, through the real client: each secret a service
reads in an environment granted to that service's pods there — the Kubernetes ServiceAccount ``<service>`` in the
environment's namespace, as Workload Identity Federation for GKE names it to IAM — and to nothing else; idempotent; a
dry run that changes nothing; a missing secret or a refused permission stopping the command, said.

Defect (issue 22): no Workload Identity binding was applied at all, so on a real GKE the pods could not read the
secrets the release gate insists on."""

from __future__ import annotations

from pathlib import Path

import grpc
import yaml

from findly_infra.testing.secret_manager import SecretManagerStandIn
from tests.conftest import EXAMPLE
from tests.test_release_cli import cli

PROJECT, NUMBER = "findly-now", "123456789012"
ACCESSOR = "roles/secretmanager.secretAccessor"


def principal(namespace: str, account: str) -> str:
    """Written out as Google's page writes it, not computed by the code under test."""
    return (
        f"principal://iam.googleapis.com/projects/{NUMBER}/locations/global/workloadIdentityPools/"
        f"{PROJECT}.svc.id.goog/subject/ns/{namespace}/sa/{account}"
    )


def _platform(folder: Path, *, number: str | None = NUMBER) -> Path:
    document = yaml.safe_load(EXAMPLE.read_text())
    document["secret_management"]["secrets"] = {
        "posts-db-password": {"type": "database_credentials", "services": ["fn-posts"]},
        "shared-api-key": {
            "type": "api_keys",
            "services": ["fn-posts", "fn-matcher"],
            "readers": ["serviceAccount:ci@findly-now.iam.gserviceaccount.com"],
        },
    }
    if number is not None:
        document["gke_cluster"]["project_number"] = number
    path = folder / "findly.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _env(sm: SecretManagerStandIn, config: Path) -> dict[str, str]:
    return {"FINDLY_CONFIG": str(config), "FINDLY_SECRET_MANAGER_ENDPOINT": sm.address, "FINDLY_GCP_PROJECT": PROJECT}


def _readers(sm: SecretManagerStandIn, secret: str) -> set[str]:
    return {m for b in sm.policy(PROJECT, secret).bindings if b.role == ACCESSOR for m in b.members}


def _secrets(sm: SecretManagerStandIn, environment: str) -> None:
    sm.add_secret(PROJECT, f"posts-db-password-{environment}", b"pw")
    sm.add_secret(PROJECT, f"shared-api-key-{environment}", b"key", readers=("user:erin@example.com",))


def _writes(sm: SecretManagerStandIn) -> int:
    return [method for method, _ in sm.calls].count("SetIamPolicy")


def test_each_environments_pods_are_granted_their_own_secrets_once(sm: SecretManagerStandIn, tmp_path: Path) -> None:
    env = _env(sm, _platform(tmp_path))
    for environment in ("staging", "production"):
        _secrets(sm, environment)
    code, document = cli(env, "secrets", "grant", "--env", "production")
    assert code == 0, document
    production = "findly-now-production"
    assert [(g["secret"], g["service"], g["member"], g["action"]) for g in document["grants"]] == [  # type: ignore[index]
        ("posts-db-password-production", "fn-posts", principal(production, "fn-posts"), "grant"),
        ("shared-api-key-production", "fn-posts", principal(production, "fn-posts"), "grant"),
        ("shared-api-key-production", "fn-matcher", principal(production, "fn-matcher"), "grant"),
    ]
    assert (document["workload_pool"], document["namespace"]) == ("findly-now.svc.id.goog", production)
    assert _readers(sm, "posts-db-password-production") == {principal(production, "fn-posts")}
    assert _readers(sm, "shared-api-key-production") == {
        "user:erin@example.com",  # kept: a grant never takes anyone's access away
        principal(production, "fn-posts"),
        principal(production, "fn-matcher"),
    }
    assert _readers(sm, "posts-db-password-staging") == set()  # production's grant is production's only
    writes = _writes(sm)
    code, again = cli(env, "secrets", "grant", "--env", "production")
    assert (code, again["changed"], _writes(sm)) == (0, False, writes)  # idempotent: nothing written
    assert {g["action"] for g in again["grants"]} == {"held"}  # type: ignore[union-attr]
    assert cli(env, "secrets", "grant", "--env", "staging")[0] == 0
    assert _readers(sm, "posts-db-password-staging") == {principal("findly-now-staging", "fn-posts")}
    assert principal("findly-now-staging", "fn-posts") not in _readers(sm, "posts-db-password-production")
    code, audit = cli(env, "secrets", "audit", "--env", "production")
    assert [(f["secret"], f["problem"]) for f in audit["findings"]] == [  # type: ignore[index]
        ("shared-api-key-production", "unexpected-reader")  # erin: granted by hand, not in the file's readers
    ]
    assert "AccessSecretVersion" not in {method for method, _ in sm.calls}  # never a payload


def test_a_dry_run_says_what_would_be_granted_and_changes_nothing(sm: SecretManagerStandIn, tmp_path: Path) -> None:
    env = _env(sm, _platform(tmp_path))
    _secrets(sm, "production")
    sm.grant(PROJECT, "posts-db-password-production", principal("findly-now-production", "fn-posts"))
    code, document = cli(env, "secrets", "grant", "--env", "production", "--dry-run")
    assert (code, document["dry_run"], document["changed"]) == (7, True, True)
    assert [g["action"] for g in document["grants"]] == ["held", "grant", "grant"]  # type: ignore[union-attr]
    assert _writes(sm) == 0
    assert cli(env, "secrets", "grant", "--env", "production")[0] == 0
    code, document = cli(env, "secrets", "grant", "--env", "production", "--dry-run")
    assert (code, document["changed"]) == (0, False)  # nothing left to do


def test_a_missing_secret_stops_the_grant_before_anything_is_granted(sm: SecretManagerStandIn, tmp_path: Path) -> None:
    env = _env(sm, _platform(tmp_path))
    sm.add_secret(PROJECT, "shared-api-key-production", b"key")
    code, document = cli(env, "secrets", "grant", "--env", "production")
    assert code == 2
    message = document["error"]["message"]  # type: ignore[index]
    assert message.startswith("posts-db-password-production does not exist: nothing was granted")
    assert _writes(sm) == 0


def test_a_refused_permission_is_exit_2_naming_it(sm: SecretManagerStandIn, tmp_path: Path) -> None:
    env = _env(sm, _platform(tmp_path))
    _secrets(sm, "production")
    denied = "Permission 'secretmanager.secrets.setIamPolicy' denied on resource (or it may not exist)."
    sm.fail("SetIamPolicy", grpc.StatusCode.PERMISSION_DENIED, denied)
    code, document = cli(env, "secrets", "grant", "--env", "production")
    assert code == 2
    assert "secretmanager.secrets.setIamPolicy" in document["error"]["message"]  # type: ignore[index]


def test_without_the_project_number_nothing_can_be_named_and_it_is_said(
    sm: SecretManagerStandIn, tmp_path: Path
) -> None:
    env = _env(sm, _platform(tmp_path, number=None))
    _secrets(sm, "production")
    code, document = cli(env, "secrets", "grant", "--env", "production")
    assert code == 2
    assert "gke_cluster.project_number" in document["error"]["message"]  # type: ignore[index]
    assert sm.calls == []
