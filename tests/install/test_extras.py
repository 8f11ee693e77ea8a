"""Each extra installed alone, as a user installs it: a fresh virtual environment, our wheel and one extra from a
local wheelhouse (``scripts/wheelhouse.sh``, run by ``.ci/run``: no test reaches the network), then the commands that
extra serves run for real against the loopback stand-ins — and every command whose extra is missing ends in exit 2
naming it, never exit 1. This is the path the lab's own environment (every extra at once) cannot see: an extra that
does not bring a module its commands import (``stamina`` for GKE, ``google-crc32c`` for Secret Manager, …)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import EXAMPLE, PAST, ROOT
from tests.install.conftest import WHEELHOUSE, Installed

EXTRAS = ("prometheus", "kubernetes", "postgresql", "github", "gke", "secret-manager", "notifications", "dns")
PROJECT = "findly-now"
CLOSED = "127.0.0.1:9"  # the discard port: nothing listens, a connection is refused at once


def findly(bin_: Path, folder: Path, *args: str, **env: str) -> tuple[int, dict[str, object], str]:
    """``findly-infra --json *args`` from the fresh environment, outside CI, in *folder*: exit code, the one JSON
    document on stdout, stderr. No traceback, ever."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FINDLY_", "GITHUB_", "ACTIONS_", "KUBECONFIG"))}
    result = subprocess.run(
        [str(bin_ / "findly-infra"), "--json", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**base, "PATH": f"{bin_}:{base.get('PATH', '')}", **env},
        cwd=folder,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode != 1, result.stdout + result.stderr
    document = json.loads(result.stdout)  # exactly one document, whatever was logged
    return result.returncode, document, result.stderr


def _platform(folder: Path, **changes: object) -> Path:
    document = yaml.safe_load(EXAMPLE.read_text())
    document["secret_management"]["secrets"] = {
        "posts-db-password": {"type": "database_credentials", "services": ["fn-posts"]},
    }
    document["secret_management"]["release_gate"] = True  # a deploy reads Secret Manager before traffic moves
    document.update(changes)
    path = folder / "findly.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _missing(code: int, document: dict[str, object], extra: str) -> None:
    assert code == 2, document
    message = str(document["error"]["message"])  # type: ignore[index]
    assert f"needs the {extra!r} extra" in message, message
    assert f"pip install 'findly-infra[{extra}]'" in message, message


# ---- the core alone: the main job runs, and every command of an extra names the extra ---------------------------


def test_the_core_alone_runs_the_demo_and_names_each_missing_extra(installed: Installed, tmp_path: Path) -> None:
    bin_ = installed("")
    demo = subprocess.run(
        [str(bin_ / "findly-infra"), "demo"], capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False
    )
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "weights 5 -> 25 -> 50 -> 100%: succeeded" in demo.stdout
    config = str(_platform(tmp_path))
    state = str(tmp_path / "state.sqlite3")
    assert findly(bin_, tmp_path, "validate", config)[0] == 0
    _missing(*findly(bin_, tmp_path, "cluster", "plan", FINDLY_CONFIG=config, FINDLY_GCP_PROJECT=PROJECT)[:2], "gke")
    audit = findly(
        bin_, tmp_path, "secrets", "audit", "--env", "production", FINDLY_CONFIG=config, FINDLY_GCP_PROJECT=PROJECT
    )
    _missing(*audit[:2], "secret-manager")
    status = findly(bin_, tmp_path, "status", "fn-posts", "--state", f"postgresql://findly@{CLOSED}/findly")
    _missing(*status[:2], "postgresql")
    apply = findly(bin_, tmp_path, "apply", "--env", "production", "--context", "stand-in", FINDLY_CONFIG=config)
    _missing(*apply[:2], "kubernetes")
    slo = findly(
        bin_,
        tmp_path,
        "slo",
        "status",
        "fn-posts",
        "--env",
        "production",
        FINDLY_CONFIG=config,
        FINDLY_PROMETHEUS_URL=f"http://{CLOSED}",
    )
    _missing(*slo[:2], "prometheus")
    gated = findly(
        bin_,
        tmp_path,
        "deploy",
        "fn-posts",
        "1.0.0",
        "--env",
        "development",
        FINDLY_CONFIG=config,
        FINDLY_STATE=state,
        FINDLY_NOW=PAST,
        FINDLY_GCP_PROJECT=PROJECT,
        FINDLY_ACTOR="alice",
    )
    _missing(*gated[:2], "secret-manager")  # the release gate reads Secret Manager before any traffic moves


# ---- each extra alone: its commands run for real against the loopback stand-ins -----------------------------------


def test_the_gke_extra_alone_plans_the_cluster(installed: Installed, tmp_path: Path) -> None:
    pytest.importorskip("google.cloud.container_v1", reason="the stand-in runs in this process: the gke extra")
    from findly_infra.testing.gke import GkeStandIn

    bin_ = installed("gke")
    config = str(_platform(tmp_path))
    with GkeStandIn(polls=1) as gke:
        gke.add_cluster(PROJECT, "us-central1", "findly-production")
        env = {"FINDLY_CONFIG": config, "FINDLY_GCP_PROJECT": PROJECT, "FINDLY_GKE_ENDPOINT": gke.address}
        code, document, _ = findly(bin_, tmp_path, "cluster", "plan", **env)
        assert code == 7, document  # the pools the file lists are not there: a plan that differs
        assert {p["action"] for p in document["plan"]["node_pools"]} == {"create"}  # type: ignore[index]
        audit = findly(bin_, tmp_path, "secrets", "audit", "--env", "production", **env)
        _missing(*audit[:2], "secret-manager")


def test_the_secret_manager_extra_alone_audits_and_retries_on_stderr(installed: Installed, tmp_path: Path) -> None:
    pytest.importorskip("google.cloud.secretmanager_v1", reason="the stand-in runs in this process: the extra")
    import grpc

    from findly_infra.testing.secret_manager import SecretManagerStandIn

    bin_ = installed("secret-manager")
    config = str(_platform(tmp_path))
    with SecretManagerStandIn() as sm:
        sm.add_secret(PROJECT, "posts-db-password-production", b"s3cret")
        sm.fail("GetSecret", grpc.StatusCode.UNAVAILABLE, "the service is currently unavailable")
        env = {"FINDLY_CONFIG": config, "FINDLY_GCP_PROJECT": PROJECT, "FINDLY_SECRET_MANAGER_ENDPOINT": sm.address}
        code, document, stderr = findly(bin_, tmp_path, "secrets", "audit", "--env", "production", **env)
        assert code in (0, 7), document  # retried through, then audited: one JSON document on stdout
        assert "retry_scheduled" in stderr, stderr  # the retry is said, on stderr
        plan = findly(bin_, tmp_path, "cluster", "plan", **env)
        _missing(*plan[:2], "gke")


def test_the_kubernetes_extra_alone_applies_to_a_cluster(installed: Installed, tmp_path: Path) -> None:
    pytest.importorskip("kubernetes", reason="the stand-in runs in this process: the kubernetes extra")
    from findly_infra.testing.kubernetes import KubernetesStandIn

    bin_ = installed("kubernetes")
    config = str(_platform(tmp_path, secret_management={"storage": "Google Secret Manager"}))
    with KubernetesStandIn() as cluster:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(cluster.kubeconfig()))
        env = {"FINDLY_CONFIG": config, "KUBECONFIG": str(kubeconfig)}
        code, document, _ = findly(bin_, tmp_path, "apply", "--env", "production", "--context", "stand-in", **env)
        assert code == 0, document
        assert document["counts"]["create"] > 0  # type: ignore[index]


def test_the_prometheus_extra_alone_reaches_for_prometheus(installed: Installed, tmp_path: Path) -> None:
    bin_ = installed("prometheus")
    config = str(_platform(tmp_path))
    code, document, stderr = findly(
        bin_,
        tmp_path,
        "slo",
        "status",
        "fn-posts",
        "--env",
        "production",
        FINDLY_CONFIG=config,
        FINDLY_PROMETHEUS_URL=f"http://{CLOSED}",
    )
    assert code == 5, document  # unreachable after its retries — not a missing module
    assert "prometheus.retry_scheduled" in stderr, stderr


def test_the_postgresql_extra_alone_reaches_for_postgresql(installed: Installed, tmp_path: Path) -> None:
    bin_ = installed("postgresql")
    config = str(_platform(tmp_path))
    state = f"postgresql://findly@{CLOSED}/findly"
    code, document, _ = findly(bin_, tmp_path, "status", "fn-posts", "--state", state, FINDLY_CONFIG=config)
    assert code == 5, document


def test_the_github_extra_alone_verifies_an_identity(installed: Installed, tmp_path: Path) -> None:
    pytest.importorskip("jwt", reason="the stand-in runs in this process: the github extra")
    from findly_infra.testing.github_oidc import GitHubOidcStandIn

    bin_ = installed("github")
    with GitHubOidcStandIn() as github:
        document = yaml.safe_load(EXAMPLE.read_text())
        document["environments"]["development"]["identity"] = {
            "verified": True,
            "repositories": ["findly-now/services"],
        }
        document["github_oidc"] = {"issuer": github.url}
        config = tmp_path / "findly.yaml"
        config.write_text(yaml.safe_dump(document, sort_keys=False))
        env = {"FINDLY_CONFIG": str(config), "FINDLY_STATE": str(tmp_path / "state.sqlite3"), "FINDLY_NOW": PAST}
        job = github.job(actor="alice", actor_id="1001", run_id="7")
        code, document, _ = findly(bin_, tmp_path, "deploy", "fn-posts", "1.0.0", "--env", "development", **env, **job)
        assert code == 0, document  # the token requested, its signature and claims verified: the deploy recorded
        history = findly(bin_, tmp_path, "history", "fn-posts", **env)[1]
        assert any("alice" in json.dumps(event) for event in history["events"])  # type: ignore[union-attr]


def test_the_notifications_extra_alone_tells_a_receiver_and_the_core_says_which_extra(
    installed: Installed, tmp_path: Path
) -> None:
    """The core alone cannot send: ``extras`` lists ``notifications`` for a file declaring receivers, and ``notify
    test`` says which extra is missing (a delivery failure, exit 5 — never a release's failure); with the extra alone
    (httpx) the same command reaches the Slack stand-in, which checks the real payload."""
    from findly_infra.testing.receivers import ReceiversStandIn

    document = yaml.safe_load(EXAMPLE.read_text())
    document["notifications"] = {"receivers": {"slack": {"type": "slack", "url": {"env": "SLACK_WEBHOOK_URL"}}}}
    config = tmp_path / "findly.yaml"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    with ReceiversStandIn() as receivers:
        env = {"FINDLY_CONFIG": str(config), "SLACK_WEBHOOK_URL": receivers.slack_url}
        code, listed, _ = findly(installed(""), tmp_path, "extras", **env)
        assert (code, listed["extras"]) == (0, ["notifications"]), listed
        code, document, _ = findly(installed(""), tmp_path, "notify", "test", "slack", **env)
        assert code == 5, document
        assert "pip install 'findly-infra[notifications]'" in str(document["detail"]), document
        assert receivers.slack.messages == []
        code, document, _ = findly(installed("notifications"), tmp_path, "notify", "test", "slack", **env)
        assert (code, document["delivered"]) == (0, True), document
        assert len(receivers.slack.messages) == 1
        assert receivers.slack_url not in json.dumps(document)  # the webhook's URL is its secret: never shown


_SWITCH = """
import json, os, sys
from findly_infra import load_platform
from findly_infra.application.ports import BadInputError, RecordSet
from findly_infra.bootstrap import dns_records

platform = load_platform(sys.argv[1])
try:
    records = dns_records(platform)
except BadInputError as exc:
    print(json.dumps({"refused": str(exc)}))
    raise SystemExit(2)
(record,) = platform.failover.dns.records
old = records.read(platform.failover.dns.zone, record.name, record.type)
new = RecordSet(record.name, record.type, record.ttl, record.dr)
records.replace_all(platform.failover.dns.zone, [(old, new)])
print(json.dumps({"now": list(records.read(platform.failover.dns.zone, record.name, record.type).rrdatas)}))
"""
"""What ``dr failover`` does to DNS, through the composition root, from a fresh environment (the ``dr`` command is
another's: this runs its DNS step alone)."""


def test_the_dns_extra_alone_switches_a_record_and_the_core_names_the_extra(
    installed: Installed, tmp_path: Path
) -> None:
    """The core alone: switching DNS is exit 2 naming the ``dns`` extra, nothing sent. With ``dns`` alone
    (google-cloud-dns and what it imports: requests, google-auth, stamina), the record set moves to the DR address on
    the Cloud DNS stand-in, through the real client, with anonymous credentials on 127.0.0.1."""
    from findly_infra.testing import cloud_dns

    document = yaml.safe_load(EXAMPLE.read_text())
    record = {"name": "api.findly.app.", "primary": ["34.120.0.10"], "dr": ["35.190.0.20"]}
    failover = document["failover"]  # the example's own, with this test's zone and record
    failover["dns"] = {"zone": "findly-app", "project": PROJECT, "records": [record]}
    config = tmp_path / "findly.yaml"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    script = tmp_path / "switch.py"
    script.write_text(_SWITCH)
    with cloud_dns.CloudDnsStandIn(project=PROJECT, polls=1) as dns:
        dns.add_zone("findly-app", "findly.app.")
        dns.add_records("findly-app", cloud_dns.RecordSet("api.findly.app.", "A", 60, ("34.120.0.10",)))
        base = {k: v for k, v in os.environ.items() if not k.startswith(("FINDLY_", "GOOGLE_", "PYTHON"))}
        env = {**base, "FINDLY_DNS_ENDPOINT": dns.url}
        for extra, code, said in (("", 2, "refused"), ("dns", 0, "now")):
            result = subprocess.run(
                [str(installed(extra) / "python"), str(script), str(config)],
                capture_output=True,
                text=True,
                timeout=300,
                env=env,
                cwd=tmp_path,
                check=False,
            )
            assert "Traceback" not in result.stderr, result.stderr
            assert result.returncode == code, result.stdout + result.stderr
            answer = json.loads(result.stdout.strip().splitlines()[-1])
            if said == "refused":
                assert "needs the 'dns' extra" in answer["refused"], answer
                assert "pip install 'findly-infra[dns]'" in answer["refused"], answer
                assert dns.requests == []  # nothing reached the service
            else:
                assert answer == {"now": ["35.190.0.20"]}, answer
        assert dns.record("findly-app", "api.findly.app.", "A").rrdatas == ("35.190.0.20",)


# ---- the install page, as written ----------------------------------------------------------------------------------


def test_the_install_page_runs_as_written(installed: Installed, wheel: Path, tmp_path: Path) -> None:
    """docs/install.md's console blocks, in a folder outside the repository, with the core environment's Python on
    PATH and pip reading the wheelhouse instead of PyPI (``PIP_NO_INDEX``): the page's venv, install, validate and
    missing-extra message, and the install of three extras, exactly as the page shows them."""
    from tests.docs_examples import pages, run_console, user_environment

    bin_ = installed("")
    env = user_environment(
        tmp_path,
        PATH=f"{bin_}:{os.environ.get('PATH', '')}",
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=f"{WHEELHOUSE} {wheel.parent}",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    folder = tmp_path / "project"
    folder.mkdir()
    for block in pages()["install.md"]:
        run_console(block, folder, env, replace={"./findly-infra": str(ROOT)})
