"""What ``findly-infra extras`` lists, installed exactly, in fresh environments from wheels: for each setting alone, the
core's ``extras`` names its extra, the core's deploy ends in exit 2 naming it, and a core+that-extra install deploys;
for a platform file that needs several, the list installed deploys, and the list but one ends in exit 2 naming the
one left out. And the extras no single-service test installs: ``cloud`` (everything but ``github``) and
``testing`` (the strategies and the Kubernetes stand-in)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.cluster.bound import quick_text
from tests.conftest import EXAMPLE, PAST
from tests.install.conftest import Installed
from tests.install.test_extras import CLOSED, PROJECT, findly

SECRET = {"posts-db-password": {"type": "database_credentials", "services": ["fn-posts"]}}


def _platform(folder: Path, document: dict[str, object]) -> str:
    path = folder / "findly.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return str(path)


@contextlib.contextmanager
def _setting(extra: str, folder: Path) -> Iterator[dict[str, str]]:
    """The environment (platform file, settings, a stand-in or a real server on 127.0.0.1) in which a deploy to
    development calls for *extra* alone, as ``extras`` decides it."""
    document = yaml.safe_load(quick_text(EXAMPLE.read_text()))
    env = {"FINDLY_STATE": str(folder / "state.sqlite3"), "FINDLY_NOW": PAST, "FINDLY_ACTOR": "erin"}
    if extra == "postgresql":
        from findly_infra.testing.postgresql import PostgresServer, postgres_binaries

        try:
            postgres_binaries()
        except FileNotFoundError as exc:  # pragma: no cover - CI installs PostgreSQL
            pytest.skip(str(exc))
        with PostgresServer() as server:
            yield {**env, "FINDLY_CONFIG": _platform(folder, document), "FINDLY_STATE": server.url("findly")}
    elif extra == "prometheus":
        yield {**env, "FINDLY_CONFIG": _platform(folder, document), "FINDLY_PROMETHEUS_URL": f"http://{CLOSED}"}
    elif extra == "kubernetes":
        pytest.importorskip("kubernetes", reason="the stand-in's kubeconfig is written by this process")
        from findly_infra.testing.kubernetes import KubernetesStandIn

        document["kubernetes"]["clusters"] = {"development": {"context": "stand-in"}}
        with KubernetesStandIn() as cluster, cluster.controller():
            kubeconfig = folder / "kubeconfig"
            kubeconfig.write_text(yaml.safe_dump(cluster.kubeconfig()))
            env.pop("FINDLY_NOW")  # a bound cluster moves in real time only (a rehearsal there is refused)
            yield {**env, "FINDLY_CONFIG": _platform(folder, document), "KUBECONFIG": str(kubeconfig)}
    elif extra == "github":
        pytest.importorskip("jwt", reason="the stand-in signs in this process: the github extra")
        from findly_infra.testing.github_oidc import GitHubOidcStandIn

        document["environments"]["development"]["identity"] = {"verified": True, "repositories": ["findly-now/x"]}
        with GitHubOidcStandIn() as github:
            document["github_oidc"] = {"issuer": github.url}
            env.pop("FINDLY_ACTOR")  # a verified environment takes the token's identity, never a name given
            job = github.job(actor="alice", actor_id="1001", run_id="7", repository="findly-now/x")
            yield {**env, **job, "GITHUB_OUTPUT": str(folder / "output"), "FINDLY_CONFIG": _platform(folder, document)}
    else:
        assert extra == "secret-manager"
        pytest.importorskip("google.cloud.secretmanager_v1", reason="the stand-in serves from this process")
        from findly_infra.testing.secret_manager import SecretManagerStandIn

        document["secret_management"].update(secrets=SECRET, release_gate=True)
        with SecretManagerStandIn() as sm:
            sm.add_secret(PROJECT, "posts-db-password-development", b"s3cret")
            yield {
                **env,
                "FINDLY_CONFIG": _platform(folder, document),
                "FINDLY_GCP_PROJECT": PROJECT,
                "FINDLY_SECRET_MANAGER_ENDPOINT": sm.address,
            }


def _named(code: int, document: dict[str, object]) -> str | None:
    """The extra an exit 2 says is missing (``None``: it did not say one)."""
    if code != 2:
        return None
    message = str(document["error"]["message"])  # type: ignore[index]
    return next((extra for extra in NAMES if f"needs the {extra!r} extra" in message), None)


NAMES = ("prometheus", "kubernetes", "postgresql", "github", "secret-manager")
DEPLOY = ("deploy", "fn-posts", "1.0.0", "--env", "development")


@pytest.mark.parametrize("extra", ["postgresql", "prometheus", "kubernetes", "github", "secret-manager"])
def test_each_setting_extras_names_and_its_extra_alone_deploys(
    extra: str, installed: Installed, tmp_path: Path
) -> None:
    core, alone = installed(""), installed(extra)
    with _setting(extra, tmp_path) as env:
        code, document, _ = findly(core, tmp_path, "extras", **env)
        assert (code, document["extras"]) == (0, [extra]), document
        code, document, _ = findly(core, tmp_path, *DEPLOY, **env)
        assert _named(code, document) == extra, document  # the core: exit 2 naming it (and nothing recorded)
        if extra == "kubernetes":  # the environment's namespace and objects, as an administrator applies them
            assert findly(alone, tmp_path, "apply", "--env", "development", **env)[0] == 0
        code, document, stderr = findly(alone, tmp_path, *DEPLOY, **env)
        if extra == "prometheus":  # nothing serves it: unreachable (5) or the rollout started before any analysis
            assert code in (0, 5), document
            assert _named(code, document) is None
        else:
            assert code == 0, (document, stderr)


def test_an_install_of_exactly_the_listed_extras_deploys_and_one_lacking_any_names_it(
    installed: Installed, tmp_path: Path
) -> None:
    """A platform file that binds development to a cluster, verifies its identities and gates its releases on Secret
    Manager: the core's ``extras`` lists three; ``pip install 'findly-infra[those]'`` deploys; an install of the list
    but one ends in exit 2 naming the one left out, having written nothing."""
    for module in ("kubernetes", "jwt", "google.cloud.secretmanager_v1"):
        pytest.importorskip(module, reason="the stand-ins run in this process")
    from findly_infra.testing.github_oidc import GitHubOidcStandIn
    from findly_infra.testing.kubernetes import KubernetesStandIn
    from findly_infra.testing.secret_manager import SecretManagerStandIn

    document = yaml.safe_load(quick_text(EXAMPLE.read_text()))
    document["kubernetes"]["clusters"] = {"development": {"context": "stand-in"}}
    document["environments"]["development"]["identity"] = {"verified": True, "repositories": ["findly-now/x"]}
    document["secret_management"].update(secrets=SECRET, release_gate=True)
    with (
        KubernetesStandIn() as cluster,
        cluster.controller(),
        GitHubOidcStandIn() as github,
        SecretManagerStandIn() as sm,
    ):
        sm.add_secret(PROJECT, "posts-db-password-development", b"s3cret")
        document["github_oidc"] = {"issuer": github.url}
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(cluster.kubeconfig()))
        output = tmp_path / "output"
        env = {
            "FINDLY_CONFIG": _platform(tmp_path, document),
            "FINDLY_STATE": str(tmp_path / "state.sqlite3"),
            "KUBECONFIG": str(kubeconfig),
            "FINDLY_GCP_PROJECT": PROJECT,
            "FINDLY_SECRET_MANAGER_ENDPOINT": sm.address,
            **github.job(actor="alice", actor_id="1001", run_id="7", repository="findly-now/x"),
            "GITHUB_OUTPUT": str(output),
        }
        code, listed, _ = findly(installed(""), tmp_path, "extras", **env)
        assert code == 0, listed
        assert listed["extras"] == ["github", "kubernetes", "secret-manager"]
        assert output.read_text() == "extras=github,kubernetes,secret-manager\n"  # what the Action installs
        for lacking in listed["extras"]:  # type: ignore[union-attr]
            others = ",".join(extra for extra in listed["extras"] if extra != lacking)  # type: ignore[union-attr]
            code, document, _ = findly(installed(others), tmp_path, *DEPLOY, **env)
            assert _named(code, document) == lacking, document  # exit 2 naming the one left out
        assert findly(installed(""), tmp_path, "history", "fn-posts", **env)[1]["events"] == []  # nothing written
        everything = installed(",".join(listed["extras"]))  # type: ignore[arg-type]
        assert findly(everything, tmp_path, "apply", "--env", "development", **env)[0] == 0
        code, document, stderr = findly(everything, tmp_path, *DEPLOY, **env)
        assert code == 0, (document, stderr)
        assert '"actor": "alice"' in json.dumps(document), document  # the token's identity, verified


def _python(bin_: Path, code: str) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FINDLY_", "GITHUB_", "PYTHON"))}
    result = subprocess.run(
        [str(bin_ / "python"), "-c", code], capture_output=True, text=True, timeout=300, env=base, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_cloud_extra_brings_every_module_but_githubs(installed: Installed, tmp_path: Path) -> None:
    """``cloud`` is every service extra but ``github``: each one's modules import, and a deploy to an environment
    that verifies identities ends in exit 2 naming ``github`` (the one it leaves out)."""
    bin_ = installed("cloud")
    code = (
        "import importlib, json; from findly_infra.bootstrap.extras import EXTRAS, missing_modules; "
        "print(json.dumps({extra: missing_modules(modules) for extra, modules in EXTRAS.items()}))"
    )
    missing = json.loads(_python(bin_, code).strip().splitlines()[-1])
    assert {extra for extra, found in missing.items() if found} == {"github"}, missing
    assert "jwt" in missing["github"]  # (cryptography may come with Google's auth libraries)
    document = yaml.safe_load(EXAMPLE.read_text())
    document["environments"]["development"]["identity"] = {"verified": True, "repositories": ["findly-now/x"]}
    env = {"FINDLY_CONFIG": _platform(tmp_path, document), "FINDLY_STATE": str(tmp_path / "s.sqlite3")}
    code_, result, _ = findly(bin_, tmp_path, *DEPLOY, FINDLY_NOW=PAST, **env)
    assert _named(code_, result) == "github", result


def test_the_testing_extra_brings_the_strategies_and_the_kubernetes_stand_in(installed: Installed) -> None:
    """``testing``: the Hypothesis strategies draw a whole valid platform, and the Kubernetes stand-in (its schemas
    from kubernetes-validate, its CEL rules by cel-python) serves on 127.0.0.1 — without the Kubernetes client."""
    bin_ = installed("testing")
    code = """
import json, urllib.request
from hypothesis import given, settings
from findly_infra.testing import strategies
from findly_infra.testing.kubernetes import KubernetesStandIn

drawn = []

@settings(max_examples=3, database=None)
@given(strategies.platforms())
def draw(platform):
    drawn.append(platform)

draw()
with KubernetesStandIn() as cluster:
    with urllib.request.urlopen(cluster.url + "/version") as answer:
        version = json.load(answer)
import importlib.util
print(len(drawn), "gitVersion" in version, importlib.util.find_spec("kubernetes") is None)
"""
    assert _python(bin_, code).strip().splitlines()[-1] == "3 True True"
