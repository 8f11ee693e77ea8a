"""Every retry of a command is one line on stderr named by the dependency that failed — never stamina's default line,
which lands on stdout and breaks ``--json``'s one document. stamina names a ``RetryingCaller``'s call ``"<context
block>"``, so the line is named by the adapter the cause comes from (the Kubernetes and Google adapters retry that
way; Prometheus with the decorator)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stamina
import yaml
from structlog.testing import capture_logs

from findly_infra.bootstrap.retries import log_retries, said_dependency
from findly_infra.logs import logger


@pytest.fixture(autouse=True)
def _hook() -> Iterator[None]:
    stamina.set_testing(True, attempts=3)
    logger()  # configured before capture_logs takes the output over (a first use would configure it again)
    log_retries()
    yield
    stamina.set_testing(False)


def _events(logs: list[dict[str, Any]]) -> list[str]:
    return [str(entry["event"]) for entry in logs]


def test_a_google_retry_is_said_as_google() -> None:
    pytest.importorskip("google.api_core", reason="the gke or secret-manager extra")
    from google.api_core import exceptions

    from findly_infra.adapters.google_api import call_google

    answers: list[object] = [exceptions.ServiceUnavailable("the service is currently unavailable"), "done"]

    def call() -> object:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    with capture_logs() as logs:
        assert call_google("GKE", "get the cluster", "projects/p", call, attempts=3) == "done"
    assert _events(logs) == ["google.retry_scheduled"]


def test_a_kubernetes_retry_is_said_as_kubernetes(tmp_path: Path) -> None:
    pytest.importorskip("kubernetes", reason="the kubernetes extra")
    from findly_infra.adapters.kubernetes import connect
    from findly_infra.testing.kubernetes import KubernetesStandIn

    with KubernetesStandIn() as cluster:
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(yaml.safe_dump(cluster.kubeconfig()))
        cluster.fail(503, method="GET", times=1)
        objects = connect(context="stand-in", kubeconfig=str(kubeconfig))
        with capture_logs() as logs:
            objects.get("v1", "Namespace", "", "default")
    assert _events(logs) == ["kubernetes.retry_scheduled"]


@pytest.mark.parametrize(
    ("name", "cause", "said"),
    [
        ("findly_infra.adapters.prometheus.PrometheusClient._get.<locals>.call", "httpx", "prometheus"),
        ("<context block>", "findly_infra.adapters.kubernetes", "kubernetes"),
        ("<context block>", "findly_infra.adapters.google_api", "google"),
        ("<context block>", "findly_infra.adapters.cloud_dns", "cloud_dns"),
        ("<context block>", "builtins", "dependency"),
    ],
)
def test_the_dependency_is_named_by_the_call_or_else_its_cause(name: str, cause: str, said: str) -> None:
    assert said_dependency(name, cause) == said


def test_a_log_line_goes_to_the_stderr_of_the_moment_not_one_closed_since(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host that runs ``main()`` again after swapping or closing its stderr (pytest sessions run one after another
    in one process do) still gets each line; a line written to the stream of the first log ended the command with
    exit 1 (ValueError: I/O operation on closed file)."""
    import io

    import structlog

    from findly_infra import logs

    monkeypatch.setattr(logs, "_configured", False)
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    try:
        logger().info("rollout.step")
        first.close()
        monkeypatch.setattr("sys.stderr", second)
        logger().info("rollout.following")
    finally:
        structlog.reset_defaults()
        monkeypatch.setattr(logs, "_configured", False)
    assert '"event": "rollout.following"' in second.getvalue()
