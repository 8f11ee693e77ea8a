"""``adapters.memory.MemoryClusters`` — the in-memory ``ClusterInfrastructure`` the simulation and the recovery use
case take for GKE: planned against, then applied, it holds a cluster whose next plan is empty — a cluster created
from nothing (issue 27) as much as one updated."""

from __future__ import annotations

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from findly_infra.adapters.memory import MemoryClusters
from findly_infra.application.ports import ClusterInfrastructure, ConcurrencyError
from findly_infra.domain.gke import ClusterSpec, plan_cluster

from .test_gke_plan import clusters


@given(clusters(observed=False), st.none() | clusters(observed=True), st.booleans())
def test_planned_against_then_applied_the_next_plan_is_empty(
    desired: ClusterSpec, observed: ClusterSpec | None, delete_pools: bool
) -> None:
    infrastructure: ClusterInfrastructure = MemoryClusters(
        {} if observed is None else {(observed.location, observed.name): observed}
    )
    plan = plan_cluster(desired, infrastructure.observe(desired.location, desired.name), delete_pools=delete_pools)
    event("create" if plan.creates is not None else "change" if not plan.empty else "nothing")
    report = infrastructure.apply(plan)
    assert bool(report.done) == (plan.creates is not None or bool(plan.actionable or plan.cluster_changes))
    after = infrastructure.observe(desired.location, desired.name)
    assert after is not None
    again = plan_cluster(desired, after, delete_pools=delete_pools)
    unlisted = (
        observed is not None and not delete_pools and {p.name for p in observed.pools} - {p.name for p in desired.pools}
    )
    assert again.empty or (unlisted and not again.actionable and not again.cluster_changes)  # kept pools: drift
    if plan.creates is not None:
        assert [pool.name for pool in after.pools] == [pool.name for pool in desired.pools]
    assert infrastructure.apply(again).done == ()  # nothing twice


def test_a_stale_plan_is_refused_and_changes_nothing() -> None:
    desired = ClusterSpec("findly-production-dr", "us-east1")
    memory = MemoryClusters()
    create = plan_cluster(desired, None)
    memory.apply(create)
    with pytest.raises(ConcurrencyError, match="exists already"):
        memory.apply(create)
    other = MemoryClusters()
    identity = ClusterSpec("findly-production-dr", "us-east1", workload_pool="findly-now.svc.id.goog")
    with pytest.raises(ConcurrencyError, match="does not exist"):
        other.apply(plan_cluster(identity, desired))  # planned against a cluster that is gone
    assert other.clusters == {}


def test_a_cluster_still_provisioning_is_waited_for_by_an_empty_plan_and_one_in_error_refused() -> None:
    """As ``adapters.gke`` does (reviews/i27-google.md finding 1): the plan alone cannot tell a cluster being created
    from one that runs, so ``apply`` waits for it — calling *waiting* (the DR lease renewed) — even with nothing to
    change; a cluster in ERROR is refused."""
    from findly_infra.application.ports import DependencyUnavailableError

    spec = ClusterSpec("findly-production-dr", "us-east1")
    key = (spec.location, spec.name)
    infrastructure = MemoryClusters({key: spec}, statuses={key: "PROVISIONING"})
    waited: list[str] = []
    plan = plan_cluster(spec, infrastructure.observe(*key))
    assert plan.empty
    report = infrastructure.apply(plan, waiting=lambda: waited.append("renewed"))
    assert report.done == ("cluster findly-production-dr: was PROVISIONING, waited until RUNNING",)
    assert waited == ["renewed"]
    assert infrastructure.apply(plan).done == ()  # RUNNING now
    infrastructure.statuses[key] = "ERROR"
    with pytest.raises(DependencyUnavailableError, match="is ERROR"):
        infrastructure.apply(plan)
