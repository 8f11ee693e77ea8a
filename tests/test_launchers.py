"""The stand-ins' launchers (``python -m findly_infra.testing.<name>``), as the docs tell a user to run them: each
started as a process on a free port, its printed lines read, one real request made through what they say (the real
client library, or the tool's own command), then SIGTERM (or Ctrl-C) and exit 0. Bad input — a port taken, a port that
is not one, a malformed option — is exit 2 with a message naming it, and nothing is served."""

from __future__ import annotations

import shlex
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from findly_infra.examples import example_platform_text
from tests.conftest import PROMETHEUS_INSTALL, require_tool
from tests.docs_examples import user_environment

pytestmark = pytest.mark.timeout(180)


class Launched:
    def __init__(self, process: subprocess.Popen[str], lines: list[str]) -> None:
        self.process = process
        self.lines = lines

    def exports(self) -> dict[str, str]:
        """The variables of the printed ``export`` line, as a shell would read them."""
        (line,) = [line for line in self.lines if line.startswith("export ")]
        return dict(word.split("=", 1) for word in shlex.split(line)[1:])

    def stop(self, signal_number: int = signal.SIGTERM) -> tuple[int, str]:
        self.process.send_signal(signal_number)
        rest, errors = self.process.communicate(timeout=60)
        return self.process.returncode, rest + errors


@contextmanager
def launched(module: str, *args: str, cwd: Path) -> Iterator[Launched]:
    """``python -m findly_infra.testing.MODULE --port 0 ARGS``, once it says it serves (its lines before that)."""
    process = subprocess.Popen(
        [sys.executable, "-m", f"findly_infra.testing.{module}", "--port", "0", *args],
        cwd=cwd,
        env=user_environment(cwd),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines: list[str] = []
        assert process.stdout is not None
        while not (lines and lines[-1].startswith("serving on 127.0.0.1 until interrupted")):
            line = process.stdout.readline()
            assert line, (
                f"{module} ended before serving: {process.wait()} {process.stderr.read() if process.stderr else ''}"
            )
            lines.append(line.rstrip("\n"))
        yield Launched(process, lines)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _tool(*words: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    findly = str(Path(sys.executable).parent / "findly-infra")
    return subprocess.run([findly, *words], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_the_kubernetes_launcher_serves_the_kubeconfig_it_prints(tmp_path: Path) -> None:
    kubernetes = pytest.importorskip("kubernetes", reason="the kubernetes extra")
    with launched("kubernetes", cwd=tmp_path) as cluster:
        config = cluster.exports()["KUBECONFIG"]
        assert f"kubeconfig: {config}" in cluster.lines
        client = kubernetes.config.new_client_from_config(config_file=config, context="findly-prod")
        names = [ns.metadata.name for ns in kubernetes.client.CoreV1Api(client).list_namespace().items]
        assert "default" in names  # a real request, through the printed kubeconfig
        env = user_environment(tmp_path, KUBECONFIG=config)
        (tmp_path / "findly.yaml").write_text(_tool("example", cwd=tmp_path, env=env).stdout)
        diff = _tool("diff", "--env", "production", "--context", "findly-prod", cwd=tmp_path, env=env)
        assert diff.returncode == 7, diff.stderr  # everything to create: the page's first `diff`
        assert "production: 33 to create" in diff.stdout
        code, _ = cluster.stop()
    assert code == 0
    assert not Path(config).exists()  # its own temp folder, removed with it


def test_the_kubernetes_launchers_controller_makes_what_is_applied_ready(tmp_path: Path) -> None:
    pytest.importorskip("kubernetes", reason="the kubernetes extra")
    with launched("kubernetes", "--controller", "--kubeconfig", "kc", cwd=tmp_path) as cluster:
        assert "controller: each Deployment becomes ready as it is applied" in cluster.lines
        env = user_environment(tmp_path, KUBECONFIG=str(tmp_path / "kc"))
        (tmp_path / "findly.yaml").write_text(_tool("example", cwd=tmp_path, env=env).stdout)
        wait = ("apply", "--env", "development", "--context", "findly-prod", "--wait", "--timeout", "120")
        applied = _tool(*wait, cwd=tmp_path, env=env)
        assert applied.returncode == 0, applied.stdout + applied.stderr  # without a controller: exit 4 at the timeout
        assert "every workload ready" in applied.stdout
        code, _ = cluster.stop()
    assert code == 0


def test_the_kubernetes_launcher_writes_the_kubeconfig_asked_for_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    pytest.importorskip("kubernetes", reason="the kubernetes extra")
    with launched("kubernetes", "--kubeconfig", "kc", "--context", "lab", cwd=tmp_path) as cluster:
        assert cluster.exports() == {"KUBECONFIG": str(tmp_path / "kc")}
        assert "current-context: lab" in (tmp_path / "kc").read_text()
        code, output = cluster.stop(signal.SIGINT)
    assert (code, output.strip()) == (0, "stopped")  # no traceback from Ctrl-C
    assert (tmp_path / "kc").exists()  # the user's own file is left


def test_the_gke_launcher_holds_the_pages_cluster_for_cluster_plan(tmp_path: Path) -> None:
    pytest.importorskip("google.cloud.container_v1", reason="the gke extra")
    with launched("gke", "--example", cwd=tmp_path) as gke:
        exports = gke.exports()
        assert exports["FINDLY_GCP_PROJECT"] == "findly-now"
        env = user_environment(tmp_path, **exports)
        (tmp_path / "findly.yaml").write_text(_tool("example", cwd=tmp_path, env=env).stdout)
        plan = _tool("cluster", "plan", cwd=tmp_path, env=env)
        assert plan.returncode == 7, plan.stderr
        assert "    max_nodes: 8 -> 10  (set_node_pool_autoscaling)" in plan.stdout.splitlines()  # as docs/gke.md
        code, _ = gke.stop()
    assert code == 0


def test_the_secret_manager_launcher_serves_the_real_client(tmp_path: Path) -> None:
    pytest.importorskip("google.cloud.secretmanager_v1", reason="the secret-manager extra")
    import grpc
    from google.cloud import secretmanager_v1
    from google.cloud.secretmanager_v1.services.secret_manager_service.transports.grpc import (
        SecretManagerServiceGrpcTransport,
    )

    with launched("secret_manager", "--example", "--secret", "matcher-api-key-production", cwd=tmp_path) as sm:
        exports = sm.exports()
        channel = grpc.insecure_channel(exports["FINDLY_SECRET_MANAGER_ENDPOINT"])
        client = secretmanager_v1.SecretManagerServiceClient(
            transport=SecretManagerServiceGrpcTransport(channel=channel)
        )
        for secret in ("posts-db-password-production", "matcher-api-key-production"):
            versions = list(client.list_secret_versions(parent=f"projects/findly-now/secrets/{secret}"))
            assert [v.state.name for v in versions] == ["ENABLED"], secret
        policy = client.get_iam_policy(request={"resource": "projects/findly-now/secrets/posts-db-password-production"})
        assert "user:mallory@example.com" in policy.bindings[0].members  # the reader the page's audit finds
        channel.close()
        code, _ = sm.stop()
    assert code == 0


def test_the_github_oidc_launcher_answers_a_runners_token_request(tmp_path: Path) -> None:
    jwt = pytest.importorskip("jwt", reason="the github extra")
    import httpx

    with launched("github_oidc", "--claim", "actor=erin", "--claim", "environment=production", cwd=tmp_path) as github:
        (issuer,) = [line.removeprefix("issuer: ") for line in github.lines if line.startswith("issuer: ")]
        exports = github.exports()
        assert exports["GITHUB_ACTOR"] == "erin"
        answer = httpx.get(
            exports["ACTIONS_ID_TOKEN_REQUEST_URL"] + "&audience=findly-infra",
            headers={"Authorization": f"Bearer {exports['ACTIONS_ID_TOKEN_REQUEST_TOKEN']}"},
        )
        token = answer.json()["value"]
        key = jwt.PyJWKClient(f"{issuer}/.well-known/jwks").get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="findly-infra", issuer=issuer)
        assert (claims["actor"], claims["sub"]) == ("erin", "repo:findly-now/services:environment:production")
        code, _ = github.stop()
    assert code == 0


def _run(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"findly_infra.testing.{module}", *args],
        cwd=cwd,
        env=user_environment(cwd),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_prometheus_launcher_serves_the_docs_series_to_analyze(tmp_path: Path) -> None:
    """A real Prometheus holding the docs' example series: the prometheus.md analysis, through the printed URL."""
    pytest.importorskip("httpx", reason="the prometheus extra")
    require_tool("prometheus", PROMETHEUS_INSTALL)
    require_tool("promtool", PROMETHEUS_INSTALL)
    (tmp_path / "findly.yaml").write_text(example_platform_text())
    before = set(Path(tempfile.gettempdir()).glob("findly-prometheus-*"))
    with launched("prometheus", "--example", cwd=tmp_path) as prometheus:
        url = prometheus.exports()["FINDLY_PROMETHEUS_URL"]
        assert (
            prometheus.lines[0]
            == f"Prometheus at {url}, holding the docs' example series (2026-11-01 12:00 to 13:40 UTC)"
        )
        words = ("analyze", "fn-posts", "--env", "production", "--strategy", "canary", "--version", "slow")
        env = user_environment(tmp_path, FINDLY_PROMETHEUS_URL=url)
        analysis = _tool(*words, "--at", "2026-11-01T12:20:00Z", cwd=tmp_path, env=env)
        assert analysis.returncode == 4, analysis.stdout + analysis.stderr  # fail: the slow version's latency
        assert "latency_p95                  4583ms                 < 1500ms  fail" in analysis.stdout
        (folder,) = set(Path(tempfile.gettempdir()).glob("findly-prometheus-*")) - before  # its TSDB
        code, _ = prometheus.stop(signal.SIGINT)
    assert code == 0
    assert not folder.exists()  # removed when it stopped


def test_the_postgresql_launcher_serves_the_state_it_prints_then_removes_it(tmp_path: Path) -> None:
    """A real PostgreSQL, the URL printed a state the tool migrates and writes, no password; stopped, it is gone."""
    pytest.importorskip("psycopg", reason="the postgresql extra")
    from findly_infra.testing.postgresql import postgres_binaries

    if postgres_binaries() is None:
        require_tool("initdb", "Debian: apt-get install postgresql")
    with launched("postgresql", cwd=tmp_path) as postgres:
        state = postgres.exports()["FINDLY_STATE"]
        assert state.startswith("postgresql://findly@127.0.0.1:")
        assert state.endswith("/findly")
        env = user_environment(tmp_path, FINDLY_STATE=state)
        migrated = _tool("state", "migrate", cwd=tmp_path, env=env)
        assert migrated.returncode == 0, migrated.stderr
        assert migrated.stdout == f"{state}: schema 0 -> 8 (created)\n"
        port = int(state.rsplit(":", 1)[1].split("/")[0])
        code, _ = postgres.stop(signal.SIGTERM)
    assert code == 0
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # the server stopped with it


@pytest.mark.parametrize("module", ["kubernetes", "gke", "secret_manager", "github_oidc", "prometheus", "postgresql"])
def test_a_port_in_use_is_bad_input_named(module: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run(module, "--port", str(port), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert f"--port {port}: 127.0.0.1:{port} cannot be listened on: Address already in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # nothing said to be served


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--port", "70000"), "argument --port: 70000 is not a port number"),
        (("--port", "http"), "argument --port: 'http' is not a port number"),
    ],
)
def test_a_port_that_is_not_one_is_bad_input(args: tuple[str, ...], says: str, tmp_path: Path) -> None:
    result = _run("kubernetes", *args, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert says in result.stderr


def test_malformed_options_are_bad_input_named(tmp_path: Path) -> None:
    claim = _run("github_oidc", "--port", "0", "--claim", "actor", cwd=tmp_path)
    assert claim.returncode == 2
    assert "--claim 'actor': give NAME=VALUE" in claim.stderr
    secret = _run("secret_manager", "--port", "0", "--secret", "a/b", cwd=tmp_path)
    assert secret.returncode == 2
    assert "--secret 'a/b'" in secret.stderr
    kubeconfig = _run("kubernetes", "--port", "0", "--kubeconfig", str(tmp_path / "no" / "such" / "kc"), cwd=tmp_path)
    assert kubeconfig.returncode == 2
    assert "--kubeconfig" in kubeconfig.stderr
    assert "Traceback" not in claim.stderr + secret.stderr + kubeconfig.stderr


def test_the_real_servers_launchers_refuse_malformed_options_before_starting_anything(tmp_path: Path) -> None:
    pytest.importorskip("httpx", reason="the prometheus extra")
    pytest.importorskip("psycopg", reason="the postgresql extra")
    both = _run("prometheus", "--port", "0", "--example", "--openmetrics", "x.om", cwd=tmp_path)
    assert both.returncode == 2
    assert "--example or --openmetrics FILE, not both" in both.stderr
    missing = _run("prometheus", "--port", "0", "--openmetrics", "no-such.om", cwd=tmp_path)
    assert missing.returncode == 2
    assert "--openmetrics no-such.om: No such file or directory" in missing.stderr
    database = _run("postgresql", "--port", "0", "--database", "a;b", cwd=tmp_path)
    assert database.returncode == 2
    assert "--database 'a;b'" in database.stderr
    assert "Traceback" not in both.stderr + missing.stderr + database.stderr
    assert both.stdout + missing.stdout + database.stdout == ""
