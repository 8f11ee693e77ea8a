"""A rollout on the real clock: data around *now*, an analysis every second, the watch sleeping between them.

The other Prometheus tests replay backfilled minutes in virtual time (``--now``); this one is the live path a
release takes in production — no ``--now``, the system clock, real sleeps — on a canary shortened to seconds.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from findly_infra.cli import main
from findly_infra.testing.prometheus import PrometheusServer, PrometheusServerError, Stream, openmetrics
from tests.conftest import EXAMPLE, PROMETHEUS_INSTALL, require_tool


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Prometheus with data from ten minutes ago to ten minutes ahead, and a platform whose canary takes seconds."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    streams = [
        Stream("fn-matcher", "development", "2.0.0", 1000, lambda _minute: 0.0002),
        Stream("fn-notifications", "development", "2.0.0", 1000, lambda _minute: 0.2),
    ]
    folder = tmp_path_factory.mktemp("live")
    text = EXAMPLE.read_text()
    stages = re.search(r"  traffic_progression:\n(?:    .*\n)+", text)
    assert stages is not None
    quick = (
        "  traffic_progression:\n"
        '    - {stage: "Initial", canary_weight: 50, duration: "3 seconds"}\n'
        '    - {stage: "Full", canary_weight: 100, duration: "stable"}\n'
        '  analysis: {interval: "1s", min_requests: 10}\n'
    )
    (folder / "findly.yaml").write_text(text.replace(stages.group(0), quick))
    require_tool("prometheus", PROMETHEUS_INSTALL)
    require_tool("promtool", PROMETHEUS_INSTALL)
    server = PrometheusServer(openmetrics(streams, start=start, minutes=20), folder / "prometheus")
    try:
        url = server.start()
    except PrometheusServerError as exc:
        pytest.fail(str(exc))
    try:
        yield url, folder / "findly.yaml"
    finally:
        server.stop()


def cli(url: str, config: Path, state: Path, *args: str) -> tuple[int, Any]:
    out = io.StringIO()
    base = ["--json", "--config", str(config), "--state", str(state), "--actor", "erin", "--prometheus-url", url]
    code = main([*base, *args], out=out)
    return code, json.loads(out.getvalue())


@pytest.mark.parametrize(
    ("service", "code", "phase"), [("fn-matcher", 0, "succeeded"), ("fn-notifications", 4, "rolled_back")]
)
def test_a_live_canary_waits_real_time_and_follows_the_data(
    live: tuple[str, Path], tmp_path: Path, service: str, code: int, phase: str
) -> None:
    url, config = live
    state = tmp_path / "state.sqlite3"
    began = datetime.now(UTC).replace(tzinfo=None)
    deploy = ("deploy", service, "2.0.0", "--env", "development", "--strategy", "canary")
    if code:  # 20% of fn-notifications' requests fail in development: its budget is spent, the gate says so
        refused, document = cli(url, config, state, *deploy)
        assert (refused, document["error"]["rule"]) == (3, "error-budget")
        deploy = (*deploy, "--override-budget", "testing the rollback")
    assert cli(url, config, state, *deploy)[0] == 0
    result, document = cli(url, config, state, "rollout", service, "--env", "development", "--watch")
    ended = datetime.now(UTC).replace(tzinfo=None)
    assert (result, document["phase"]) == (code, phase)
    events = cli(url, config, state, "history", service)[1]["events"]
    analyses = [e for e in events if e["type"] == "analysis_recorded"]
    times = [datetime.fromisoformat(e["at"]) for e in analyses]
    assert len(analyses) >= 2
    # real time: every analysis was stamped by the system clock during the command, each after the one before
    # (their spacing is the scheduler's business: under load it varies, and no test asserts on it)
    assert all(began <= at <= ended for at in times)
    assert all(a < b for a, b in itertools.pairwise(times))
    rates = [r["value"] for e in analyses for r in e["readings"] if r["metric"] == "error_rate"]
    assert rates == pytest.approx([0.0002 if code == 0 else 0.2] * len(rates), rel=1e-3)
