"""Error budgets, the promotion gate and whole rollouts, on a real Prometheus's data.

The data (``conftest.py``) starts at T0: fn-matcher's 2.0.0 stays healthy everywhere, fn-notifications'
2.0.0 starts failing 10% of its requests in production at T0 + 20m. Commands run in virtual time from
``--now`` so that the rollout reads the backfilled minutes one analysis after another.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from findly_infra import load_platform
from findly_infra.adapters.prometheus import PrometheusBudgets, PrometheusClient
from findly_infra.cli import main
from findly_infra.domain import Duration, SLODefinition, parse_objective
from tests.conftest import EXAMPLE

from .conftest import T0
from .test_prometheus import socket_closed_port

PLATFORM = load_platform(EXAMPLE)
LATER = T0 + timedelta(minutes=90)


@pytest.fixture
def client(prometheus: str) -> Iterator[PrometheusClient]:
    client = PrometheusClient(prometheus, timeout=5.0, attempts=2)
    yield client
    client.close()


def cli(*args: str, url: str, state: Path | None = None, now: Any = T0, actor: str = "erin") -> tuple[int, Any]:
    """Runs the command line in this process with --json; returns the exit code and the document."""
    out = io.StringIO()
    base = ["--json", "--config", str(EXAMPLE), "--actor", actor, "--prometheus-url", url, "--now", now.isoformat()]
    code = main([*base, "--state", str(state) if state else "memory://", *args], out=out)
    return code, json.loads(out.getvalue())


# ---- slo status ---------------------------------------------------------------------------------------


def test_a_healthy_service_has_most_of_its_budgets_left(client: PrometheusClient) -> None:
    report = PrometheusBudgets(client, PLATFORM.metrics, PLATFORM.slo_definitions).report(
        "fn-matcher", "production", LATER
    )
    budgets = {status.slo.name: status for status in report.budgets}
    availability = budgets["availability"]
    # 1.0.0 fails 0.01% of its requests and 2.0.0 0.02%, as much traffic each: 0.015% of a 0.1% budget
    assert availability.error_ratio == pytest.approx(0.00015, rel=1e-3)
    assert availability.remaining == pytest.approx(0.85, rel=1e-3)
    assert availability.remaining_time is not None
    assert availability.remaining_time.milliseconds / 60_000 == pytest.approx(0.85 * 43.2, rel=1e-3)
    assert {window.format(): rate for window, rate in availability.burn_rates} == pytest.approx(
        {"5m": 0.15, "1h": 0.15, "6h": 0.15, "3d": 0.15}, rel=1e-3
    )
    assert budgets["latency"].sli == pytest.approx(0.96)  # 96% of requests under the 0.2 s bucket
    assert not report.spent
    (throughput,) = report.capacities
    assert throughput.requests_per_second == pytest.approx(2000 / 60, rel=1e-3)
    assert throughput.utilization == pytest.approx(2000 / 60 / 1000, rel=1e-3)


def test_a_failing_version_spends_the_budget_and_burns_fast(client: PrometheusClient) -> None:
    source = PrometheusBudgets(client, PLATFORM.metrics, PLATFORM.slo_definitions)
    before = source.report("fn-notifications", "production", T0 + timedelta(minutes=15))
    assert not before.spent
    after = source.report("fn-notifications", "production", T0 + timedelta(minutes=40))
    assert {status.slo.name for status in after.spent} == {"availability", "error_rate"}
    error_rate = next(s for s in after.budgets if s.slo.name == "error_rate")
    # half the traffic fails 10%: 5% errors against 0.1% allowed, a burn rate of 50 over the last 5 minutes
    assert dict(error_rate.burn_rates)[Duration.of(minutes=5)] == pytest.approx(50.0, rel=1e-2)
    assert error_rate.remaining < 0
    assert error_rate.remaining_time == Duration(0)


def test_no_traffic_measures_nothing_and_spends_nothing(client: PrometheusClient) -> None:
    report = PrometheusBudgets(client, PLATFORM.metrics, PLATFORM.slo_definitions).report(
        "fn-posts", "development", LATER
    )
    assert all(not status.measured and not status.exhausted for status in report.budgets)
    assert all(math.isnan(rate) for status in report.budgets for _, rate in status.burn_rates)
    assert math.isnan(report.capacities[0].requests_per_second)


def test_a_latency_bound_without_a_bucket_is_named(client: PrometheusClient) -> None:
    slo = SLODefinition("latency", parse_objective("95% of requests < 300ms"), Duration.of(minutes=5))
    report = PrometheusBudgets(client, PLATFORM.metrics, (slo,)).report("fn-matcher", "production", LATER)
    assert not report.budgets[0].measured
    (note,) = report.notes
    assert "no bucket at le=0.3" in note
    assert "fn-matcher in production" in note


def test_slo_status_prints_every_slo_and_names_the_spent_ones(prometheus: str) -> None:
    later = T0 + timedelta(minutes=40)  # --now is honoured: slo status measures at it
    code, document = cli("slo", "status", "fn-notifications", "--env", "production", url=prometheus, now=later)
    assert code == 0
    assert document["spent"] == ["availability", "error_rate"]
    rows = {row["slo"]: row for row in document["slos"]}
    assert set(rows) == {"availability", "latency", "error_rate"}
    assert rows["availability"]["budget"] == "43m12s"
    assert rows["availability"]["budget_remaining_minutes"] == 0.0
    assert set(rows["availability"]["burn_rates"]) == {"5m", "1h", "6h", "3d"}
    assert 'environment="production"' in rows["availability"]["query"]
    assert document["capacity"][0]["slo"] == "throughput"
    code, document = cli("slo", "status", "fn-posts", "--env", "development", url=prometheus)
    assert (code, document["slos"][0]["sli"], document["spent"]) == (0, None, [])  # no traffic: null, not NaN


def test_slo_status_without_prometheus_or_with_bad_names_exits_2(tmp_path: Path) -> None:
    out = io.StringIO()
    code = main(["--json", "--config", str(EXAMPLE), "slo", "status", "fn-posts", "--env", "production"], out=out)
    assert code == 2
    assert "needs a Prometheus" in json.loads(out.getvalue())["error"]["message"]
    with socket_closed_port() as url:
        code, document = cli("slo", "status", "fn-postz", "--env", "production", url=url)
    assert code == 2
    assert "fn-postz" in document["error"]["message"]


def test_slo_status_exits_5_when_prometheus_cannot_be_reached() -> None:
    with socket_closed_port() as url:
        code, document = cli("slo", "status", "fn-posts", "--env", "production", url=url)
    assert (code, document["error"]["kind"]) == (5, "dependency")


# ---- whole releases ---------------------------------------------------------------------------------


def release_to_production_gate(url: str, state: Path, service: str) -> None:
    """2.0.0 through development and staging (real analyses of their data), tests recorded, approvals given."""
    for env in ("development", "staging"):
        assert cli("deploy", service, "2.0.0", "--env", env, url=url, state=state)[0] == 0
        code, document = cli("rollout", service, "--env", env, "--watch", url=url, state=state)
        assert (code, document["phase"]) == (0, "succeeded"), document
        for suite in PLATFORM.environment(env).tests:
            assert (
                cli("record", service, "2.0.0", "--env", env, "--suite", suite, "--passed", url=url, state=state)[0]
                == 0
            )
    assert cli("promote", service, "2.0.0", "--to", "production", url=url, state=state)[0] == 3  # approvals
    for person in ("alice", "carol"):
        assert cli("approve", service, "2.0.0", "--env", "production", url=url, state=state, actor=person)[0] == 0


def history(url: str, state: Path, service: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = cli("history", service, url=url, state=state)[1]["events"]
    return events


def production_canary(url: str, state: Path, service: str) -> tuple[int, Any, list[dict[str, Any]]]:
    """The whole release of 2.0.0, its production canary watched to the end: exit code, document, production events."""
    release_to_production_gate(url, state, service)
    promote = ("promote", service, "2.0.0", "--to", "production", "--strategy", "canary")
    assert cli(*promote, url=url, state=state)[0] == 0
    code, document = cli("rollout", service, "--env", "production", "--watch", url=url, state=state)
    return code, document, [e for e in history(url, state, service) if e["environment"] == "production"]


def test_a_whole_canary_on_healthy_data_succeeds(prometheus: str, tmp_path: Path) -> None:
    code, document, events = production_canary(prometheus, tmp_path / "state.sqlite3", "fn-matcher")
    assert (code, document["phase"], document["serving"]) == (0, "succeeded", {"version": "2.0.0", "weight": 100})
    weights = [e["weight"] for e in events if e["type"] == "traffic_shifted"]
    assert weights == [5, 25, 50, 100]
    analyses = [e for e in events if e["type"] == "analysis_recorded"]
    assert len(analyses) >= 60  # one a minute through 10 + 20 + 30 minutes of stages
    assert all(e["verdict"] == "pass" for e in analyses)
    error_rates = [r["value"] for e in analyses for r in e["readings"] if r["metric"] == "error_rate"]
    assert error_rates == pytest.approx([0.0002] * len(error_rates), rel=1e-6)  # the data's 0.02%, read live


def test_a_whole_canary_rolls_back_when_the_data_turns_bad(prometheus: str, tmp_path: Path) -> None:
    code, document, events = production_canary(prometheus, tmp_path / "state.sqlite3", "fn-notifications")
    assert (code, document["phase"], document["candidate"]) == (4, "rolled_back", None)
    assert document["serving"] is None  # its first release in production: nothing else to serve
    assert document["stopped"].startswith("2 failed analyses")
    failed = [e for e in events if e["type"] == "analysis_recorded" and e["verdict"] == "fail"]
    rolled_back = next(e for e in events if e["type"] == "rolled_back")
    breaks = T0.replace(tzinfo=None) + timedelta(minutes=20)
    # nothing failed before the data turned bad, and the rollback came within the first minutes after
    assert all(datetime.fromisoformat(e["at"]) >= breaks - timedelta(minutes=1) for e in failed)
    assert datetime.fromisoformat(rolled_back["at"]) <= breaks + timedelta(minutes=3)
    assert {r["metric"] for e in failed for r in e["readings"] if r["verdict"] == "fail"} == {"error_rate"}

    # a replay from the same start, on range queries, judges every minute as the live rollout did
    started = next(e for e in events if e["type"] == "rollout_started")
    live = [(e["at"], e["verdict"]) for e in events if e["type"] == "analysis_recorded"]
    replay = ("simulate", "fn-notifications", "--env", "production", "--strategy", "canary", "--replay", "2.0.0")
    code, document = cli(*replay, "--from", started["at"] + "Z", url=prometheus)
    assert (code, document["outcome"]) == (0, "rolled_back")
    replayed = [(step["at"], step["verdict"]) for step in document["steps"] if step["type"] == "analysis_recorded"]
    assert replayed == live


# ---- the promotion gate -----------------------------------------------------------------------------


def test_a_spent_budget_refuses_promotion_unless_a_reason_is_recorded(prometheus: str, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    release_to_production_gate(prometheus, state, "fn-notifications")
    promote = ("promote", "fn-notifications", "2.0.0", "--to", "production", "--strategy", "canary")
    spent_at = T0 + timedelta(minutes=40)  # 2.0.0 has failed 10% in production since minute 20
    code, document = cli(*promote, url=prometheus, state=state, now=spent_at)
    assert (code, document["error"]["rule"]) == (3, "error-budget")
    assert "availability" in document["error"]["message"]
    reason = ("--override-budget", "hotfix for the outage itself (INC-123)")
    code, document = cli(*promote, *reason, url=prometheus, state=state, now=spent_at)
    assert (code, document["phase"]) == (0, "progressing")
    started = next(
        e
        for e in history(prometheus, state, "fn-notifications")
        if e["type"] == "rollout_started" and e["environment"] == "production"
    )
    assert started["budget_override"] == "hotfix for the outage itself (INC-123)"
    assert "availability" in started["reason"]


def test_an_unreadable_budget_stops_promotion_with_exit_5_unless_overridden(prometheus: str, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    release_to_production_gate(prometheus, state, "fn-matcher")
    promote = ("promote", "fn-matcher", "2.0.0", "--to", "production")
    with socket_closed_port() as down:
        code, document = cli(*promote, url=down, state=state)
        assert (code, document["error"]["kind"]) == (5, "dependency")
        assert "error-budget gate" in document["error"]["message"]
        assert not [
            e
            for e in history(down, state, "fn-matcher")
            if e["type"] == "rollout_started" and e["environment"] == "production"
        ]  # nothing recorded
        code, document = cli(*promote, "--override-budget", "Prometheus is down, INC-7", url=down, state=state)
        assert code == 0
        started = [e for e in history(down, state, "fn-matcher") if e["type"] == "rollout_started"]
    assert started[-1]["budget_override"] == "Prometheus is down, INC-7"
    assert "budgets unknown" in started[-1]["reason"]


def test_a_replay_needs_a_prometheus_and_a_start(prometheus: str) -> None:
    replay = ("simulate", "fn-matcher", "--env", "production", "--strategy", "canary", "--replay", "2.0.0")
    code, document = cli(*replay, url=prometheus)
    assert (code, document["error"]["kind"]) == (2, "bad_input")
    assert "--from" in document["error"]["message"]
    out = io.StringIO()
    assert main(["--json", "--config", str(EXAMPLE), *replay, "--from", T0.isoformat()], out=out) == 2
    assert "needs a Prometheus" in json.loads(out.getvalue())["error"]["message"]
    with socket_closed_port() as down:
        code, document = cli(*replay, "--from", T0.isoformat(), url=down)
    assert (code, document["error"]["kind"]) == (5, "dependency")


def test_a_healthy_replay_succeeds_and_a_gap_in_the_record_is_no_evidence(prometheus: str) -> None:
    replay = ("simulate", "fn-matcher", "--env", "production", "--strategy", "canary", "--replay", "2.0.0")
    code, document = cli(*replay, "--from", T0.isoformat(), url=prometheus)
    assert (code, document["outcome"]) == (0, "succeeded")
    # the record ends at T0 + 100 minutes: a replay that runs off its end pauses, it never passes on nothing
    late = (T0 + timedelta(minutes=80)).isoformat()
    code, document = cli(*replay, "--from", late, url=prometheus)
    assert (code, document["outcome"]) == (0, "paused")


def test_a_whole_rollout_with_prometheus_down_pauses_for_a_person_and_never_succeeds(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    with socket_closed_port() as down:
        deploy = ("deploy", "fn-posts", "2.0.0", "--env", "development", "--strategy", "canary")
        assert cli(*deploy, "--override-budget", "Prometheus is down", url=down, state=state)[0] == 0
        code, document = cli("rollout", "fn-posts", "--env", "development", "--watch", url=down, state=state)
        events = history(down, state, "fn-posts")
    assert (code, document["phase"]) == (6, "paused")  # stopped for a person: not success, not failed
    assert document["candidate"] == {"version": "2.0.0", "weight": 100}  # a first release: all the traffic
    assert document["rollout"]["step_weight"] == 5
    assert document["waiting_for"]["kind"] == "person"
    verdicts = [e["verdict"] for e in events if e["type"] == "analysis_recorded"]
    assert verdicts == ["inconclusive"] * 3  # the platform's inconclusive_limit
    assert "inconclusive" in events[-1]["reason"]


def test_analyze_and_slo_status_report_to_github(
    prometheus: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    at = (T0 + timedelta(minutes=40)).isoformat()
    slo = ("slo", "status", "fn-notifications", "--env", "production", "--at", at)
    assert cli(*slo, url=prometheus)[:1] == (2,)  # --at and --now disagree: refused, neither silently ignored
    assert cli(*slo, url=prometheus, now=T0 + timedelta(minutes=40))[0] == 0
    assert "spent=availability,error_rate" in output.read_text()
    assert "budget_spent=true" in output.read_text()
    assert "| availability | `99.9%` |" in summary.read_text()
    assert "**spent**" in summary.read_text()
    analyze = ("analyze", "fn-posts", "--env", "production", "--strategy", "canary", "--version", "slow")
    assert cli(*analyze, url=prometheus, now=T0 + timedelta(minutes=20))[0] == 4
    assert "verdict=fail" in output.read_text()
    assert "| `latency_p95` | 4583ms | `< 1500ms` | fail |" in summary.read_text()
    replay = ("simulate", "fn-posts", "--env", "production", "--strategy", "canary", "--replay", "healthy")
    code, document = cli(*replay, "--current", "1.0.0", "--from", T0.isoformat(), url=prometheus)
    assert (code, document["outcome"]) == (0, "succeeded")
    assert output.read_text().splitlines()[-2:] == ["version=healthy", "simulated=true"]  # the replayed version
    started = [e for e in document["events"] if e["type"] == "rollout_started" and e["environment"] == "production"]
    assert (started[-1]["version"], started[-1]["previous"]) == ("healthy", "1.0.0")
