"""``auto_cleanup`` on the PostgreSQL state's simulated cluster: it keeps its scaled-to-zero Deployments as the
memory and SQLite ones do, so a canary that succeeds in development leaves none, and the log says so once."""

from __future__ import annotations

from datetime import datetime

from findly_infra import load_platform
from findly_infra.bootstrap import Settings, open_runtime
from findly_infra.domain import Phase, StrategyKind, TracksCleanedUp
from tests.conftest import EXAMPLE


def test_a_canary_that_succeeds_in_development_is_cleaned_up_once(pg_url: str) -> None:
    settings = Settings(state=pg_url, now=datetime(2026, 1, 5, 9))
    with open_runtime(settings, load_platform(EXAMPLE), service="fn-posts") as runtime:
        release, clock = runtime.service, runtime.virtual
        assert clock is not None
        for version in ("1.0.0", "2.0.0"):
            release.deploy("fn-posts", version, "development", actor="erin", strategy=StrategyKind.CANARY)
            assert release.watch("fn-posts", "development", actor="bot", wait=clock.advance).phase is Phase.SUCCEEDED
        cleaned = [e for e in release.history("fn-posts") if isinstance(e, TracksCleanedUp)]
        assert [(e.version, e.removed) for e in cleaned] == [("2.0.0", ("fn-posts-canary",))]
        assert release.cluster.leftovers(release.view("fn-posts", "development"), True) == ()  # type: ignore[attr-defined]
        assert release.reconcile("fn-posts", "development").events == ()
        assert release.holding("fn-posts", "development")[0].running == {"fn-posts": "2.0.0"}
