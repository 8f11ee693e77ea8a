"""The Secret Manager stand-in (``findly_infra.testing.secret_manager``) serving the real client over gRPC on
127.0.0.1, on a clock the test moves; stamina's waits off."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

pytest.importorskip("google.cloud.secretmanager_v1", reason="the secret-manager extra")

from findly_infra.testing.secret_manager import SecretManagerStandIn


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(autouse=True)
def _no_waits() -> Iterator[None]:
    import stamina

    stamina.set_testing(True, attempts=5)
    yield
    stamina.set_testing(False)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sm(clock: Clock) -> Iterator[SecretManagerStandIn]:
    with SecretManagerStandIn(clock=clock) as stand_in:
        yield stand_in
