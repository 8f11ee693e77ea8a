"""The Kubernetes API stand-in, one per test, and our adapter connected to it through a kubeconfig (the kubernetes
extra is needed: the tests here skip without it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

pytest.importorskip("kubernetes", reason="the kubernetes extra: pip install 'findly-infra[kubernetes]'")

from findly_infra.adapters.kubernetes import KubernetesObjects, connect
from findly_infra.testing.kubernetes import KubernetesStandIn


@pytest.fixture
def cluster() -> Iterator[KubernetesStandIn]:
    with KubernetesStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def kubeconfig(cluster: KubernetesStandIn, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(cluster.kubeconfig()))
    return path


@pytest.fixture
def objects(kubeconfig: Path) -> KubernetesObjects:
    return connect(context="stand-in", kubeconfig=str(kubeconfig))
