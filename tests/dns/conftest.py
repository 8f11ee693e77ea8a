"""Cloud DNS tests: stamina's waits turned off (a retry is still a retry; it just does not sleep), and the records the
failover moves (``failover.dns``) as the platform file names them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from findly_infra.application.ports import RecordSet

PROJECT, ZONE = "findly-now", "findly-app"
NAME = "api.findly.app."
PRIMARY = RecordSet(NAME, "A", 60, ("34.120.0.10",))
DR = RecordSet(NAME, "A", 60, ("35.190.0.20",))
OTHER = RecordSet(NAME, "A", 60, ("203.0.113.7",))
"""What someone else put there in between: neither the primary's nor the DR's addresses."""


@pytest.fixture(autouse=True)
def _no_waits() -> Iterator[None]:
    import stamina

    stamina.set_testing(True, attempts=3)
    yield
    stamina.set_testing(False)
