"""The GKE stand-in (``findly_infra.testing.gke``) serving the real ``google-cloud-container`` client over gRPC on
127.0.0.1, and stamina's waits turned off (a retry is still a retry; it just does not sleep)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("google.cloud.container_v1", reason="the gke extra: pip install 'findly-infra[gke]'")

from findly_infra.testing.gke import GkeStandIn

PROJECT, LOCATION, CLUSTER = "findly-now", "us-central1", "findly-production"


@pytest.fixture(autouse=True)
def _no_waits() -> Iterator[None]:
    import stamina

    stamina.set_testing(True, attempts=5)
    yield
    stamina.set_testing(False)


@pytest.fixture
def gke() -> Iterator[GkeStandIn]:
    with GkeStandIn(polls=2) as stand_in:
        yield stand_in
