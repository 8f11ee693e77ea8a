"""The documentation's console examples that reach a cluster, run as a user would — against the Kubernetes
stand-in, reached through a kubeconfig whose context the pages name (``findly-prod``) at their address."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

pytest.importorskip("kubernetes", reason="the kubernetes extra: pip install 'findly-infra[kubernetes]'")

from findly_infra.testing.kubernetes import KubernetesStandIn
from tests.conftest import KUBECTL_INSTALL, require_tool
from tests.docs_examples import pages, run_console, user_environment

CONTEXT = "--context findly-prod"
SHOWN = "http://127.0.0.1:6443"  # the address the pages show


@pytest.mark.parametrize("page", [page for page, blocks in pages().items() if any(CONTEXT in b.text for b in blocks)])
def test_console_examples_that_reach_a_cluster(page: str, cluster: KubernetesStandIn, tmp_path: Path) -> None:
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump(cluster.kubeconfig(context="findly-prod")))
    project = tmp_path / "project"
    project.mkdir()
    if any(step.command.startswith("kubectl ") for block in pages()[page] for step in block.steps):
        require_tool("kubectl", KUBECTL_INSTALL)
    for block in pages()[page]:
        run_console(block, project, user_environment(tmp_path, KUBECONFIG=str(config)), replace={SHOWN: cluster.url})
