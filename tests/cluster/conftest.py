"""The Kubernetes API stand-in, one per test (the kubernetes extra is needed: the tests here skip without it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("kubernetes", reason="the kubernetes extra: pip install 'findly-infra[kubernetes]'")

from findly_infra.testing.kubernetes import KubernetesStandIn


@pytest.fixture
def cluster() -> Iterator[KubernetesStandIn]:
    with KubernetesStandIn() as stand_in:
        yield stand_in
