"""Issue 27, end to end on two regions: the seed's example platform with production released on the primary region's
cluster (a Kubernetes stand-in), the DR region's cluster a second stand-in reached by ``failover.context``, GKE (its
stand-in) holding the primary cluster only, Cloud DNS (its stand-in) holding the record at the primary address — and
``findly-infra dr drill`` / ``dr failover`` run as a person runs them. Without Prometheus the health step is skipped,
and says so; one test binds a real Prometheus (its ``up`` series backfilled: the stand-in runs no pods to scrape)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kubernetes", reason="the kubernetes extra")
pytest.importorskip("google.cloud.container_v1", reason="the gke extra")
pytest.importorskip("google.cloud.dns", reason="the dns extra")

from findly_infra.adapters.memory import SystemClock
from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.domain.recovery import DR_STREAM, RecoveryStepDone, open_operation
from findly_infra.testing.prometheus import PrometheusServer
from tests.conftest import PROMETHEUS_INSTALL, require_tool
from tests.recovery.two_regions import (
    DR_ADDRESS,
    DR_CONTEXT,
    NAMESPACE,
    PRIMARY_ADDRESS,
    PROJECT,
    Regions,
    regions,
)

STEPS = ["cluster", "deploy", "ready", "health", "dns"]
DR_CLUSTER, DR_LOCATION = "findly-production-dr", "us-east1"


@pytest.fixture
def two(tmp_path: Path) -> Iterator[Regions]:
    with regions(tmp_path) as made:
        yield made


def _creates(two: Regions) -> list[Any]:
    """Each CreateCluster GKE was asked for."""
    return [request for method, request in two.gke.calls if method == "CreateCluster"]


def test_a_drill_on_the_dr_context_brings_every_service_up_there_and_switches_no_dns(
    two: Regions, tmp_path: Path
) -> None:
    assert two.images(two.dr) == {}  # the DR region holds nothing yet, GKE has no DR cluster
    with pytest.raises(KeyError):
        two.gke.cluster(PROJECT, DR_LOCATION, DR_CLUSTER)

    code, shown = two.cli(
        "--json", "--context", DR_CONTEXT, "dr", "drill", "--no-health-check", "--report", str(tmp_path / "dr")
    )

    assert code == 0, shown
    assert (shown["kind"], shown["state"], shown["target"], shown["simulated"]) == (
        "drill",
        "completed",
        DR_CONTEXT,
        False,
    )
    assert [step["step"] for step in shown["steps"]] == STEPS
    steps = {step["step"]: step for step in shown["steps"]}
    assert not steps["cluster"]["skipped"]
    assert steps["cluster"]["detail"][0] == f"cluster {DR_CLUSTER} ({DR_LOCATION}): created"
    assert steps["health"] == {
        **steps["health"],
        "skipped": True,
        "detail": ["health not checked: no Prometheus bound"],
    }
    assert steps["dns"]["skipped"]
    assert "would switch api.findly.now. A from 203.0.113.10 to 198.51.100.10" in steps["dns"]["detail"][0]
    # every service up in the DR cluster, at the version that serves in production: what the primary runs
    assert shown["versions"] == {"production": two.versions}
    assert two.images(two.dr) == two.versions == two.images(two.primary)
    assert shown["skipped_services"] == []
    # the DR cluster created once by the cluster step, in the DR region, its pools in the DR zones
    (create,) = _creates(two)
    assert create == f"projects/{PROJECT}/locations/{DR_LOCATION}"
    created = two.gke.cluster(PROJECT, DR_LOCATION, DR_CLUSTER)
    assert created.status.name == "RUNNING"
    assert {zone for pool in created.node_pools for zone in pool.locations} <= {
        "us-east1-b",
        "us-east1-c",
        "us-east1-d",
    }
    # DNS untouched: no change asked for, the name servers still answer the primary
    assert two.dns.changes("findly-now") == []
    assert two.record() == PRIMARY_ADDRESS
    # the RTO: each step measured, adding up to it, within the seed's 15 minutes
    rto = shown["rto"]
    assert (rto["target_seconds"], rto["within"]) == (900.0, True)
    assert rto["seconds"] == pytest.approx(sum(step["seconds"] for step in shown["steps"]), abs=0.01)
    assert 0 < rto["seconds"] <= 900
    assert sorted(Path(path).name for path in shown["report"]) == sorted(
        [f"dr-{shown['operation']}.json", f"dr-{shown['operation']}.md", "runbook.md"]
    )
    # kept in the state, shown by history --recovery and dr status
    code, history = two.cli("--json", "history", "--recovery")
    assert code == 0
    (kept,) = history["operations"]
    assert {key: kept[key] for key in ("operation", "kind", "state", "target", "rto", "steps")} == {
        key: shown[key] for key in ("operation", "kind", "state", "target", "rto", "steps")
    }
    code, text = two.cli("history", "--recovery")
    assert f"drill {shown['operation']} on {DR_CONTEXT}: completed" in text.splitlines()[0]
    assert "SIMULATED" not in text


def test_a_failover_switches_dns_only_once_the_dr_cluster_is_deployed_and_ready(two: Regions) -> None:
    seen: list[tuple[list[str], tuple[str, ...]]] = []
    state = two.folder / "state.sqlite3"

    def at_the_change() -> None:  # what the state recorded, and the name servers answered, as DNS was asked to move
        store = SqliteEventStore(state, create=False)
        try:
            events, _ = store.load(DR_STREAM)
        finally:
            store.close()
        current = open_operation(events)
        assert current is not None
        seen.append(([done.step.value for done in current.done], two.record()))

    two.dns.before_change = at_the_change
    code, shown = two.cli("--json", "dr", "failover", "--confirm", "--no-health-check")

    assert code == 0, shown
    assert (shown["kind"], shown["state"], shown["target"]) == ("failover", "completed", DR_CONTEXT)
    assert seen == [(["cluster", "deploy", "ready", "health"], PRIMARY_ADDRESS)]  # DNS moved last, once
    assert two.record() == DR_ADDRESS  # the name servers answer the DR address: the change is done
    (change,) = two.dns.created()
    assert [r.rrdatas for r in change.deletions] == [PRIMARY_ADDRESS]  # it named what it replaced
    assert [r.rrdatas for r in change.additions] == [DR_ADDRESS]
    assert two.images(two.dr) == two.versions
    assert two.images(two.primary) == two.versions  # the primary region is not touched
    assert [step["step"] for step in shown["steps"]] == STEPS
    assert shown["steps"][-1]["detail"][0] == "api.findly.now. A: 203.0.113.10 -> 198.51.100.10"
    assert shown["rto"]["dns_cache_seconds"] == 60  # the record's TTL in the zone before the switch
    assert shown["rto"]["within"] is True

    # run again (a person unsure it went through): a new failover finds everything as it should be, sends nothing
    code, again = two.cli("--json", "dr", "failover", "--confirm", "--no-health-check")
    assert code == 0, again
    assert again["steps"][0]["detail"] == [
        f"cluster {DR_CLUSTER} ({DR_LOCATION}): already as the file says, nothing to change"
    ]
    assert again["steps"][-1]["detail"] == [
        "api.findly.now. A: already 198.51.100.10 — nothing sent",
        "--no-health-check (by alice): switched with health not checked",  # the person's flag, recorded
    ]
    assert len(two.dns.created()) == 1
    assert len(_creates(two)) == 1


def test_a_failover_is_refused_while_a_rollout_holds_its_lease(two: Regions) -> None:
    store = SqliteEventStore(two.folder / "state.sqlite3", create=False)
    try:  # a `rollout --watch` on another runner drives fn-posts in production
        now = SystemClock().now()
        store.acquire("fn-posts", "production", "ci-runner-7 (watch)", now=now, ttl=timedelta(minutes=10))
    finally:
        store.close()

    code, shown = two.cli("--json", "dr", "failover", "--confirm", "--no-health-check")

    assert code == 3, shown
    assert shown["error"]["rule"] == "rollout-in-progress"
    assert "fn-posts" in shown["error"]["message"]
    assert "ci-runner-7" in shown["error"]["message"]
    # nothing done, nothing recorded: no DR cluster, no Deployment there, DNS untouched
    assert _creates(two) == []
    assert two.images(two.dr) == {}
    assert two.dns.changes("findly-now") == []
    assert two.record() == PRIMARY_ADDRESS
    code, history = two.cli("--json", "dr", "history")
    assert (code, history["operations"]) == (0, [])


def _steps_done(state: Path) -> list[str]:
    store = SqliteEventStore(state, create=False)
    try:
        events, _ = store.load(DR_STREAM)
    finally:
        store.close()
    return [event.step.value for event in events if isinstance(event, RecoveryStepDone)]


def test_with_a_real_prometheus_dns_moves_once_each_service_is_healthy_there(two: Regions, tmp_path: Path) -> None:
    """The health step on a real Prometheus, asked the failover's default query, ``min(up{namespace=…,
    service=…})``, for every service before DNS moves. The stand-in runs no pods to scrape (and Prometheus 2.42 applies
    new scrape targets only every 5 s), so the ``up`` a scrape of the DR namespace's pods would have written over
    the last two minutes is backfilled, as the suite's Prometheus fixture backfills the analyses' series."""
    require_tool("prometheus", PROMETHEUS_INSTALL)
    require_tool("promtool", PROMETHEUS_INSTALL)
    now = time.time()
    samples = [
        f'up{{namespace="{NAMESPACE}",service="{service}"}} 1 {now - seconds:.3f}'
        for service in sorted(two.versions)
        for seconds in range(120, 0, -15)
    ]
    data = "# TYPE up gauge\n" + "\n".join(samples) + "\n# EOF\n"
    with PrometheusServer(data, tmp_path / "prometheus") as url:
        two.prometheus_url = url
        seen: list[list[str]] = []
        two.dns.before_change = lambda: seen.append(_steps_done(two.folder / "state.sqlite3"))

        code, shown = two.cli("--json", "dr", "failover", "--confirm", "--no-health-check")

    assert code == 0, shown
    health = shown["steps"][3]
    assert (health["step"], health["skipped"]) == ("health", False)
    assert health["detail"][0] == (
        f'{len(two.versions)} services healthy: min(up{{namespace="$namespace", service="$service"}}) >= 1 for each'
    )
    assert seen == [["cluster", "deploy", "ready", "health"]]  # DNS asked to move once health had passed
    assert two.record() == DR_ADDRESS
