"""``auto_cleanup`` on a cluster: development (the seed's ``auto_cleanup: true``) bound to the Kubernetes stand-in.
After a canary succeeds the canary Deployment — scaled to zero, still holding the replaced candidate's template —
is deleted, and the log says so once; an environment without ``auto_cleanup`` keeps it; a Deployment that is not
ours stays; a process killed between the success and the cleanup, or between the record and the delete, leaves a
cluster the next command that converges tidies, recording nothing twice.

The harness builds the use cases by hand on a virtual clock, as ``test_releases.py``'s kill harness does (the
composition root refuses virtual time on a bound cluster), so that whole canaries run in seconds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

from findly_infra import load_platform
from findly_infra.adapters.kubernetes import connect
from findly_infra.application.cluster_apply import apply_environment
from findly_infra.application.service import PipelineService
from findly_infra.bootstrap import environment_renderer
from findly_infra.domain import ClusterBinding, Phase, StrategyKind, TracksCleanedUp
from findly_infra.domain.platform import Platform
from findly_infra.render.access import access_objects
from findly_infra.testing import MemoryEventStore, VirtualClock
from findly_infra.testing.kubernetes import KubernetesStandIn
from tests.cluster.bound import quick
from tests.conftest import EXAMPLE

ENV, NS, SERVICE = "development", "findly-now-development", "fn-posts"


def _platform(*, auto_cleanup: bool = True) -> Platform:
    platform = load_platform(EXAMPLE)
    assert platform.environment(ENV).auto_cleanup  # the seed's
    environments = tuple(attrs.evolve(env, auto_cleanup=auto_cleanup) for env in platform.environments)
    return quick(
        attrs.evolve(
            platform,
            environments=environments,
            kubernetes=attrs.evolve(platform.kubernetes, clusters=(ClusterBinding(ENV, context="stand-in"),)),
        )
    )


@pytest.fixture
def objects(cluster: KubernetesStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """development's access and objects applied (rendered as a canary environment: the canary's Deployment at zero
    replicas), a controller running."""
    config = tmp_path / "kubeconfig"
    config.write_text(yaml.safe_dump(cluster.kubeconfig()))
    monkeypatch.setenv("KUBECONFIG", str(config))
    platform = _platform()
    for manifest in access_objects(platform, ENV):
        cluster.apply(manifest, manager="admin")
    objects = connect(context="stand-in")
    apply_environment(objects, environment_renderer(platform)(ENV, StrategyKind.CANARY, {}), ENV, NS)
    with cluster.controller():
        yield objects


def _process(platform: Platform, store: Any, clock: Any, objects: Any) -> PipelineService:
    from findly_infra.application.scenarios import SCENARIOS
    from findly_infra.application.workloads import ClusterWorkloads
    from findly_infra.testing import ScenarioMetrics

    workloads = ClusterWorkloads(
        objects, environment_renderer(platform), {ENV: NS}, {ENV: StrategyKind.ROLLING}, ready_timeout=10
    )
    return PipelineService(platform, store, clock, ScenarioMetrics(SCENARIOS["healthy"]), workloads)


def _canary(release: PipelineService, clock: VirtualClock, version: str) -> None:
    release.deploy(SERVICE, version, ENV, actor="erin", strategy=StrategyKind.CANARY)
    assert release.watch(SERVICE, ENV, actor="findly", wait=clock.advance).phase is Phase.SUCCEEDED


def _cleaned(release: PipelineService) -> list[TracksCleanedUp]:
    return [e for e in release.history(SERVICE) if isinstance(e, TracksCleanedUp)]


def _deployments(cluster: KubernetesStandIn) -> dict[str, tuple[str, int]]:
    found = {}
    for suffix in ("", "-canary", "-green"):
        item = cluster.get("apps/v1", "Deployment", NS, f"{SERVICE}{suffix}")
        if item is not None:
            found[f"{SERVICE}{suffix}"] = (item["metadata"]["labels"]["version"], item["spec"]["replicas"])
    return found


def _serving_alone(cluster: KubernetesStandIn, version: str) -> bool:
    """The primary runs *version*, with replicas, and no other track's Deployment is left."""
    held = _deployments(cluster)
    return list(held) == [SERVICE] and held[SERVICE][0] == version and held[SERVICE][1] > 0


def test_a_canary_that_succeeds_in_development_is_cleaned_up_and_the_log_says_so(
    cluster: KubernetesStandIn, objects: Any
) -> None:
    store, clock = MemoryEventStore(), VirtualClock(datetime(2026, 1, 5, 9))
    release = _process(_platform(), store, clock, objects)
    _canary(release, clock, "1.0.0")  # a first release, on the primary: the canary applied at zero goes
    assert [(e.version, e.removed) for e in _cleaned(release)] == [("1.0.0", ("fn-posts-canary",))]
    _canary(release, clock, "2.0.0")  # the canary runs 2.0.0, is promoted, scaled to zero, then deleted
    assert _serving_alone(cluster, "2.0.0")  # what serves stays, nothing else
    assert [(e.version, e.removed) for e in _cleaned(release)] == [
        ("1.0.0", ("fn-posts-canary",)),
        ("2.0.0", ("fn-posts-canary",)),
    ]
    assert release.reconcile(SERVICE, ENV).events == ()  # cleaning twice records once
    assert len(_cleaned(release)) == 2
    deletes = [r for r in cluster.audit if r.verb == "delete" and r.resource == "deployments"]
    assert {r.name for r in deletes} == {"fn-posts-canary"}
    assert {r.namespace for r in deletes} == {NS}


def test_an_environment_without_auto_cleanup_keeps_the_canary_scaled_to_zero(
    cluster: KubernetesStandIn, objects: Any
) -> None:
    store, clock = MemoryEventStore(), VirtualClock(datetime(2026, 1, 5, 9))
    release = _process(_platform(auto_cleanup=False), store, clock, objects)  # as the seed's staging
    _canary(release, clock, "1.0.0")
    _canary(release, clock, "2.0.0")
    held = _deployments(cluster)
    assert (held["fn-posts"][0], held["fn-posts-canary"]) == ("2.0.0", ("2.0.0", 0))
    assert _cleaned(release) == []


def test_a_deployment_that_is_not_ours_is_never_removed(cluster: KubernetesStandIn, objects: Any) -> None:
    foreign = {  # someone's own fn-posts-green, at zero replicas, not labelled as ours
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "fn-posts-green", "namespace": NS, "labels": {"app": SERVICE, "version": "0.9.0"}},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": SERVICE, "track": "green"}},
            "template": {
                "metadata": {"labels": {"app": SERVICE, "track": "green"}},
                "spec": {"containers": [{"name": SERVICE, "image": "fn-posts:0.9.0"}]},
            },
        },
    }
    cluster.apply(foreign, manager="someone")
    store, clock = MemoryEventStore(), VirtualClock(datetime(2026, 1, 5, 9))
    release = _process(_platform(), store, clock, objects)
    _canary(release, clock, "1.0.0")
    assert cluster.get("apps/v1", "Deployment", NS, "fn-posts-green") is not None
    assert [e.removed for e in _cleaned(release)] == [("fn-posts-canary",)]


class Killed(BaseException):
    """The process died here."""


@attrs.define
class DyingObjects:
    """The cluster's API through a process that dies at its first Deployment delete (*after*: once it is done)."""

    inner: Any
    after: bool

    def delete(self, *args: Any, **options: Any) -> None:
        if self.after:
            self.inner.delete(*args, **options)
        raise Killed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@attrs.define
class BlindObjects:
    """The cluster's API through a process that dies at the first list after it scaled the canary to zero (the
    success followed): the cleanup's, before it records anything."""

    inner: Any
    armed: bool = False

    def apply(self, manifest: Any, **options: Any) -> Any:
        applied = self.inner.apply(manifest, **options)
        name, replicas = manifest["metadata"]["name"], (manifest.get("spec") or {}).get("replicas")
        self.armed |= manifest["kind"] == "Deployment" and name == f"{SERVICE}-canary" and replicas == 0
        return applied

    def managed(self, *args: Any, **options: Any) -> Any:
        if self.armed:
            raise Killed
        return self.inner.managed(*args, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize("when", ["before-the-record", "before-the-delete", "after-the-delete"])
def test_a_process_killed_during_the_cleanup_leaves_it_to_the_next_command_that_converges(
    cluster: KubernetesStandIn, objects: Any, when: str
) -> None:
    platform = _platform()
    store, clock = MemoryEventStore(), VirtualClock(datetime(2026, 1, 5, 9))
    _canary(_process(platform, store, clock, objects), clock, "1.0.0")
    release = _process(platform, store, clock, objects)
    release.deploy(SERVICE, "2.0.0", ENV, actor="erin", strategy=StrategyKind.CANARY)
    assert _deployments(cluster)["fn-posts-canary"][0] == "2.0.0"
    if when == "before-the-record":
        dying = _process(platform, store, clock, BlindObjects(objects))
        with pytest.raises(Killed):  # dies at the list that follows the success's convergence
            dying.watch(SERVICE, ENV, actor="findly", wait=clock.advance)
        assert _deployments(cluster)["fn-posts-canary"] == ("2.0.0", 0)
        assert not [e for e in _cleaned(dying) if e.version == "2.0.0"]  # nothing recorded yet
    else:
        dying = _process(platform, store, clock, DyingObjects(objects, after=when == "after-the-delete"))
        with pytest.raises(Killed):
            dying.watch(SERVICE, ENV, actor="findly", wait=clock.advance)
    assert dying.view(SERVICE, ENV).phase is Phase.SUCCEEDED
    again = _process(platform, store, clock, objects)  # a new process, the same log and cluster
    again.reconcile(SERVICE, ENV)
    assert _serving_alone(cluster, "2.0.0")
    assert [(e.version, e.removed) for e in _cleaned(again)][-1] == ("2.0.0", ("fn-posts-canary",))
    assert len([e for e in _cleaned(again) if e.version == "2.0.0"]) == 1  # recorded once, whenever it died
    assert again.reconcile(SERVICE, ENV).events == ()


@attrs.define
class RacingObjects:
    """The cluster's API while another command brings the canary up again between the cleanup's read and its delete
    (a rollout started meanwhile)."""

    inner: Any
    cluster: KubernetesStandIn
    reads: int = 0

    def managed(self, *args: Any, **options: Any) -> Any:
        listed = self.inner.managed(*args, **options)
        self.reads += 1
        if self.reads == 2:  # the delete's own read: then the other command's apply
            live = self.cluster.get("apps/v1", "Deployment", NS, f"{SERVICE}-canary")
            assert live is not None
            live["metadata"].pop("managedFields", None)
            self.cluster.apply({**live, "spec": {**live["spec"], "replicas": 2}}, manager="findly-infra", force=True)
        return listed

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_deployment_brought_up_between_the_read_and_the_delete_is_not_deleted(
    cluster: KubernetesStandIn, objects: Any
) -> None:
    from findly_infra.application.workloads import ClusterWorkloads

    platform = _platform(auto_cleanup=False)  # nothing cleaned by the release itself: the cleanup is called by hand
    store, clock = MemoryEventStore(), VirtualClock(datetime(2026, 1, 5, 9))
    release = _process(platform, store, clock, objects)
    _canary(release, clock, "1.0.0")
    view = release.view(SERVICE, ENV)
    racing = RacingObjects(objects, cluster)
    workloads = ClusterWorkloads(racing, environment_renderer(platform), {ENV: NS}, {ENV: StrategyKind.ROLLING})
    assert workloads.leftovers(view, True) == ("fn-posts-canary",)
    assert workloads.clean_up(view, True, ("fn-posts-canary",)) == ()  # 409 Precondition failed: not deleted
    assert _deployments(cluster)["fn-posts-canary"][1] == 2
    assert workloads.clean_up(view, True, ("fn-posts-canary",)) == ()  # it runs now: not a leftover any more
