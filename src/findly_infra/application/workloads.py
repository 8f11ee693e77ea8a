"""Releases on a real cluster: the workloads and routes of an environment bound to one, brought to what the event log
says (``domain.tracks.track_plan``), in the order that keeps traffic safe.

1. **Bring up** every track the plan runs — its Deployment applied with the plan's version (the secondary with as many
   replicas as the primary) — and wait until each is ready, as ``kubectl rollout status`` judges it. A track that does
   not get there (past its progress deadline, or out of time) stops here with the reason the cluster gave: no traffic
   has moved to it.
2. **Route**: the DestinationRule's subsets (the tracks), the VirtualService's weights by track, and — before a
   blue-green cutover — a route that sends requests carrying the preview header to the candidate.
3. **Retire** the tracks the plan no longer runs: scaled to zero, once no traffic goes to them.

Every step is an idempotent server-side apply of the rendered object as ``findly-infra``: converging twice changes
nothing, so a command killed at any point leaves a cluster the next command brings to the log. It forces its fields,
as a controller should: a weight or an image someone changed by hand is taken back to what the log says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from findly_infra.application.ports import ClusterObjects, DependencyError
from findly_infra.domain.cleanup import Leftover, cleanup_due, leftovers
from findly_infra.domain.cluster import deployment_readiness
from findly_infra.domain.environment import StrategyKind
from findly_infra.domain.tracks import PREVIEW_HEADER, TRACKS, Holding, Track, TrackPlan, track_plan
from findly_infra.domain.view import EnvironmentView

__all__ = [
    "ClusterInspector",
    "ClusterReading",
    "ClusterWorkloads",
    "Render",
    "TrackCleaner",
    "Workload",
    "WorkloadNotReadyError",
]

Render = Callable[[str, StrategyKind, Mapping[str, str]], Sequence[Mapping[str, Any]]]
"""(environment, strategy, {service: version}) -> the environment's objects as ``apply`` sends them, rendered as if
the environment rolled out by that strategy."""


class WorkloadNotReadyError(DependencyError):
    """A track did not become ready: its Deployment passed its progress deadline (``failed``: it will not by
    itself, and the rollout fails), or ran out of time (the next command waits again)."""

    def __init__(self, message: str, *, failed: bool = False, reason: str = "") -> None:
        super().__init__(message)
        self.failed = failed
        self.reason = reason


@attrs.frozen
class Workload:
    """One of a service's Deployments as the cluster holds it: the version it is labelled with, the images its pod
    template runs, and its replicas — desired (``spec.replicas``) against ready (``status.readyReplicas``), with the
    reason it is not ready as ``kubectl rollout status`` would judge it."""

    name: str
    track: str | None
    version: str | None
    images: tuple[str, ...]
    replicas: int
    ready: int
    not_ready: str = ""
    """Why the Deployment does not serve its current spec (empty: it does)."""
    image_drift: str = ""
    """Set when the service's container runs another image tag than the version the Deployment is labelled with
    (``kubectl set image``, say): what it runs."""

    def describe(self) -> str:
        """``fn-posts 1.0.0 3/3 ready``; ``fn-posts-canary 2.0.0 scaled to zero``; ``fn-posts 2.0.0 1/3 ready (…)``."""
        version = self.version or "(no version label)"
        if self.replicas == 0:
            return f"{self.name} {version} scaled to zero"
        text = f"{self.name} {version} {self.ready}/{self.replicas} ready"
        return f"{text} ({self.not_ready})" if self.not_ready else text


@attrs.frozen
class ClusterReading:
    """What a cluster holds for one service in one environment, read back in detail (``status``), beside what the
    log says it should hold: ``drift`` names each difference, in words."""

    server: str
    namespace: str
    workloads: tuple[Workload, ...]
    holding: Holding
    """Which Deployment runs which version, and the traffic each version gets through the subsets (read back)."""
    expected: Holding
    """What the log says it should hold (``domain.tracks.expected_holding``)."""

    @property
    def drift(self) -> tuple[str, ...]:
        """Each way the cluster differs from the log (empty: it follows the log): a Deployment running another
        version (or none), traffic routed otherwise, another preview, an image that is not its version, a workload
        the log says serves that is not ready."""
        held, expected = self.holding, self.expected
        found: list[str] = []
        for name in sorted(set(held.running) | set(expected.running)):
            running, wanted = held.running.get(name), expected.running.get(name)
            if running == wanted:
                continue
            if wanted is None:
                found.append(f"{name} runs {running}, where the log runs nothing")
            elif running is None:
                found.append(f"{name} runs nothing (absent or scaled to zero), where the log runs {wanted}")
            else:
                found.append(f"{name} runs {running}, where the log runs {wanted}")
        if held.weights != expected.weights:
            found.append(f"traffic goes {_shares(held.weights)}, where the log says {_shares(expected.weights)}")
        if held.preview != expected.preview:
            found.append(
                f"requests with {PREVIEW_HEADER} reach {held.preview or 'no candidate'}, where the log says "
                f"{expected.preview or 'none'}"
            )
        for workload in self.workloads:
            if workload.replicas and workload.image_drift:
                found.append(f"{workload.name} runs image {workload.image_drift}, not {workload.version}")
            serves = workload.version is not None and expected.running.get(workload.name) == workload.version
            if workload.replicas and workload.not_ready and serves:
                found.append(f"{workload.name} ({workload.version}) is not ready: {workload.not_ready}")
        return tuple(found)

    def describe(self) -> str:
        """``fn-posts 1.0.0 3/3 ready, fn-posts-canary 2.0.0 3/3 ready; traffic 1.0.0 95%, 2.0.0 5%``."""
        workloads = ", ".join(workload.describe() for workload in self.workloads) or "no Deployment"
        preview = f"; preview {self.holding.preview}" if self.holding.preview else ""
        return f"{workloads}; traffic {_shares(self.holding.weights)}{preview}"


def _shares(weights: Mapping[str, int]) -> str:
    return ", ".join(f"{version} {weight}%" for version, weight in sorted(weights.items())) or "nowhere"


@runtime_checkable
class ClusterInspector(Protocol):
    """A ``Workloads`` that can also read a cluster back in detail (``status``): a real cluster's, not the simulated
    one's (which holds exactly what it was told)."""

    def inspect(self, service: str, environment: str, expected: Holding) -> ClusterReading | None:
        """What the cluster bound to *environment* holds for *service* (``None``: no cluster is bound there)."""
        ...


@runtime_checkable
class TrackCleaner(Protocol):
    """A ``Workloads`` that removes what replaced versions left once a release succeeded (``auto_cleanup``,
    ``domain.cleanup``): the cluster's and the simulated one's. Two steps, so that the removal is recorded before it
    is made (``PipelineService``): what would go, read; then the removal."""

    def leftovers(self, view: EnvironmentView, auto_cleanup: bool) -> tuple[str, ...]:
        """The Deployments of *view*'s service the cluster holds that cleaning up after *view*'s success removes
        (``domain.cleanup.leftovers`` over what it reads); empty unless it is due."""
        ...

    def clean_up(self, view: EnvironmentView, auto_cleanup: bool, names: Sequence[str]) -> tuple[str, ...]:
        """Delete those of *names* that are still leftovers (read again just before: one that runs again stays);
        the names deleted. Deleting twice deletes nothing the second time."""
        ...


@attrs.define
class ClusterWorkloads:
    """The ``Workloads`` port on a cluster's API (``ClusterObjects``), for the environments bound to it."""

    cluster: ClusterObjects
    render: Render = attrs.field(repr=False)
    namespaces: Mapping[str, str]
    """Environment -> its namespace, for the environments bound to this cluster."""
    configured: Mapping[str, StrategyKind]
    """Environment -> its configured strategy (a rollout keeps the one it started with)."""
    version_label: str = "version"
    ready_timeout: float = 600.0

    def binds(self, environment: str) -> bool:
        return environment in self.namespaces

    def converge(self, view: EnvironmentView, at: datetime) -> bool:  # noqa: ARG002 - the cluster keeps its own time
        """Bring the environment's workloads and routes to *view*; whether anything had to change."""
        plan = track_plan(view, self.configured[view.environment])
        namespace = self.namespaces[view.environment]
        deployments = self._deployments(namespace, view.service)
        live = {track.name: deployments.get(track.deployment(view.service)) for track in plan.tracks}
        primary = live[plan.primary.name]
        primary_replicas = None if primary is None else _replicas(primary)
        changed = False
        for track in plan.tracks:
            if track.version is not None:
                changed |= self._bring_up(view, plan, track, namespace, live[track.name], primary_replicas)
        changed |= self._route(view, plan, namespace)
        running = {track.deployment(view.service) for track in plan.tracks if track.version is not None}
        for name, deployment in sorted(deployments.items()):  # every other track: another strategy's too
            if name not in running:
                changed |= self._retire(view, plan, name, deployment)
        return changed

    def _deployments(self, namespace: str, service: str) -> dict[str, dict[str, Any]]:
        """The service's Deployments, one per track any strategy runs (one list: every step reads them)."""
        names = {f"{service}{suffix}" for tracks in TRACKS.values() for _, suffix in tracks}
        listed = self.cluster.managed("apps/v1", "Deployment", namespace, f"app={service}")
        return {item["metadata"]["name"]: item for item in listed if item["metadata"]["name"] in names}

    # ---- the three steps -----------------------------------------------------------------------------------------

    def _bring_up(  # noqa: PLR0917 - the step, and what it needs of the others
        self,
        view: EnvironmentView,
        plan: TrackPlan,
        track: Track,
        namespace: str,
        live: Mapping[str, Any] | None,
        primary_replicas: int | None,
    ) -> bool:
        assert track.version is not None
        name = track.deployment(view.service)
        changed = (
            live is None
            or self._version(live) != track.version
            or _replicas(live) == 0
            or _other_image(view.service, live, track.version) is not None  # `kubectl set image`, say: taken back
        )
        if changed:  # rendered only when it has to change: a step that moves nothing renders nothing
            desired = self._object(view, plan, "Deployment", name, track.version)
            if track is not plan.primary:  # the secondary runs as many replicas as the primary
                desired["spec"]["replicas"] = max(1, primary_replicas or 1)
            self.cluster.apply(desired, force=True)
        if not changed and live is not None and deployment_readiness(live).ready:
            return False  # running and ready as it was read: nothing to wait for
        readiness = self.cluster.wait_ready(namespace, name, timeout=self.ready_timeout)
        if not readiness.ready:
            raise WorkloadNotReadyError(
                f"deployment {name} ({track.version}) in {namespace} is not ready: {readiness.reason}; no traffic "
                "was moved to it",
                failed=readiness.failed and track.version == (view.candidate.version if view.candidate else None),
                reason=f"deployment {name} is not ready: {readiness.reason}",
            )
        return changed

    def _route(self, view: EnvironmentView, plan: TrackPlan, namespace: str) -> bool:
        if plan.strategy is StrategyKind.ROLLING:
            return self._route_rolling(view, plan, namespace)
        primary, secondary = plan.tracks
        host = view.service
        routes: list[dict[str, Any]] = []
        if plan.preview is not None:
            target = secondary if secondary.version == plan.preview else primary
            routes.append(
                {
                    "name": "preview",
                    "match": [{"headers": {PREVIEW_HEADER: {"exact": plan.preview}}}],
                    "route": [{"destination": {"host": host, "subset": target.name}, "weight": 100}],
                }
            )
        first, second = primary.weight, secondary.weight
        if first + second == 0:  # nothing serves yet: whatever comes goes to the primary
            first = 100
        routes.append(
            {
                "name": "primary",
                "route": [
                    {"destination": {"host": host, "subset": primary.name}, "weight": first},
                    {"destination": {"host": host, "subset": secondary.name}, "weight": second},
                ],
            }
        )
        changed = self._subsets(view, plan, namespace)
        live = self.cluster.get("networking.istio.io/v1", "VirtualService", namespace, view.service)
        if live is not None and (live.get("spec") or {}).get("http") == routes:
            return changed
        desired = self._object(view, plan, "VirtualService", view.service, primary.version or secondary.version)
        desired["spec"]["http"] = routes
        self.cluster.apply(desired, force=True)
        return True

    def _route_rolling(self, view: EnvironmentView, plan: TrackPlan, namespace: str) -> bool:
        """A rolling update has one track; where a mesh routes the service (a canary or blue-green rollout ran there,
        or the environment's own objects route it), all of its traffic goes to that track."""
        live = self.cluster.get("networking.istio.io/v1", "VirtualService", namespace, view.service)
        if live is None:
            return False  # no mesh routing: the Service spreads traffic over the one track's pods
        routes = [
            {
                "name": "primary",
                "route": [{"destination": {"host": view.service, "subset": plan.primary.name}, "weight": 100}],
            }
        ]
        if (live.get("spec") or {}).get("http") == routes:
            return False
        meshed = attrs.evolve(plan, strategy=StrategyKind.CANARY)  # rendered as a strategy the mesh routes
        desired = self._object(view, meshed, "VirtualService", view.service, plan.primary.version)
        desired["spec"]["http"] = routes
        self.cluster.apply(desired, force=True)
        return True

    def _subsets(self, view: EnvironmentView, plan: TrackPlan, namespace: str) -> bool:
        """The DestinationRule's subsets are the tracks of the rollout's strategy (a rollout may use another strategy
        than the one the environment's objects were applied with): applied when they differ."""
        wanted = [{"name": track.name, "labels": {"track": track.name}} for track in plan.tracks]
        live = self.cluster.get("networking.istio.io/v1", "DestinationRule", namespace, view.service)
        if live is not None and (live.get("spec") or {}).get("subsets") == wanted:
            return False
        self.cluster.apply(self._object(view, plan, "DestinationRule", view.service, None), force=True)
        return True

    def _retire(self, view: EnvironmentView, plan: TrackPlan, name: str, live: Mapping[str, Any]) -> bool:
        if _replicas(live) == 0:
            return False
        strategy = next(  # the strategy that runs this track (a rollout of another strategy may have left it)
            (kind for kind, tracks in TRACKS.items() if any(f"{view.service}{s}" == name for _, s in tracks[1:])),
            plan.strategy,
        )
        desired = self._object(
            view, attrs.evolve(plan, strategy=strategy), "Deployment", name, self._version(live) or "latest"
        )
        desired["spec"]["replicas"] = 0
        self.cluster.apply(desired, force=True)
        return True

    # ---- auto_cleanup ----------------------------------------------------------------------------------------------

    def leftovers(self, view: EnvironmentView, auto_cleanup: bool) -> tuple[str, ...]:
        """:class:`TrackCleaner`: one list of the service's Deployments (the domain keeps only ours, the
        environment's, scaled to zero, of a secondary track)."""
        if not cleanup_due(view, auto_cleanup) or not self.binds(view.environment):
            return ()
        held = self._deployments(self.namespaces[view.environment], view.service)
        found = (
            Leftover(name, _replicas(item), dict((item.get("metadata") or {}).get("labels") or {}))
            for name, item in held.items()
        )
        return leftovers(view, auto_cleanup, found)

    def clean_up(self, view: EnvironmentView, auto_cleanup: bool, names: Sequence[str]) -> tuple[str, ...]:
        """:class:`TrackCleaner`: each of *names* still a leftover as read now deleted as ``findly-infra``, only in the
        version read (``DeleteOptions.preconditions.resourceVersion``: one a rollout brought up meanwhile stays). The
        API server's default propagation for a Deployment is background — kube-controller-manager's garbage collector
        then deletes its ReplicaSets, whose pods are already gone at zero replicas. One already gone is not
        counted."""
        if not cleanup_due(view, auto_cleanup) or not self.binds(view.environment):
            return ()
        namespace = self.namespaces[view.environment]
        held = self._deployments(namespace, view.service)
        found = (
            Leftover(name, _replicas(item), dict((item.get("metadata") or {}).get("labels") or {}))
            for name, item in held.items()
        )
        still = set(leftovers(view, auto_cleanup, found))
        removed = []
        for name in names:
            if name not in still:
                continue
            version = (held[name].get("metadata") or {}).get("resourceVersion")
            # as read: one a rollout brought up since (another command) is not deleted (409 Precondition failed)
            if self.cluster.delete("apps/v1", "Deployment", namespace, name, resource_version=version):
                removed.append(name)
        return tuple(removed)

    # ---- reading back ----------------------------------------------------------------------------------------------

    def holding(self, service: str, environment: str) -> Holding:
        """What the cluster holds for *service* in *environment*: the version each Deployment with replicas runs, and
        the traffic each version gets as the VirtualService routes it — through the DestinationRule's subsets to the
        pods they select (a subset that selects nothing, or no single version, serves no version)."""
        return self._read(service, environment)[0]

    def inspect(self, service: str, environment: str, expected: Holding) -> ClusterReading | None:
        """:meth:`holding`, with each Deployment's images and replicas (desired and ready), beside *expected* (what
        the log says): one list and two gets, as :meth:`holding` reads. ``None`` for an environment not bound here."""
        if not self.binds(environment):
            return None
        held, deployments = self._read(service, environment)
        workloads = tuple(
            self._workload(service, name, live) for name, live in sorted(deployments.items(), key=_primary_first)
        )
        return ClusterReading(self.cluster.server, self.namespaces[environment], workloads, held, expected)

    def _workload(self, service: str, name: str, live: Mapping[str, Any]) -> Workload:
        template = (live.get("spec") or {}).get("template") or {}
        version = self._version(live)
        labels = (template.get("metadata") or {}).get("labels") or {}
        readiness = deployment_readiness(live)
        return Workload(
            name,
            str(labels["track"]) if "track" in labels else None,
            version,
            tuple(str(container.get("image", "")) for container in _containers(live)),
            _replicas(live),
            int((live.get("status") or {}).get("readyReplicas", 0)),
            "" if readiness.ready else readiness.reason,
            (_other_image(service, live, version) or "") if version is not None else "",
        )

    def _read(self, service: str, environment: str) -> tuple[Holding, dict[str, dict[str, Any]]]:
        namespace = self.namespaces[environment]
        deployments = self._deployments(namespace, service)
        pods: dict[str, tuple[str, Mapping[str, Any], int]] = {}
        for name, live in deployments.items():
            version = self._version(live)
            if version is not None and _replicas(live) > 0:
                template = (((live.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")
                pods[name] = (version, template or {}, _replicas(live))
        running = {name: version for name, (version, _, _) in pods.items()}
        rule = self.cluster.get("networking.istio.io/v1", "DestinationRule", namespace, service)
        subsets = {
            str(subset.get("name")): subset.get("labels") or {}
            for subset in ((rule or {}).get("spec") or {}).get("subsets") or []
        }

        def served(destination: Mapping[str, Any]) -> str | None:
            subset = destination.get("subset")
            if destination.get("host") != service or (subset is not None and subset not in subsets):
                return None
            wanted = subsets.get(subset, {}) if subset is not None else {}
            versions = {v for v, labels, _ in pods.values() if all(labels.get(k) == x for k, x in wanted.items())}
            return versions.pop() if len(versions) == 1 else None

        service_ = self.cluster.get("networking.istio.io/v1", "VirtualService", namespace, service)
        if service_ is None:  # no mesh routing: the Service spreads requests over every ready pod
            total = sum(replicas for _, _, replicas in pods.values())
            weights: dict[str, int] = {}
            for version, _, replicas in pods.values():
                weights[version] = weights.get(version, 0) + round(100 * replicas / total)
            return Holding(running, weights), deployments
        weights, preview = {}, None
        for route in (service_.get("spec") or {}).get("http") or []:
            destinations = route.get("route") or []
            if route.get("match"):
                if route.get("name") == "preview" and destinations:
                    preview = served(destinations[0].get("destination") or {})
                continue
            for destination in destinations:
                version = served(destination.get("destination") or {})
                weight = int(destination.get("weight", 100 if len(destinations) == 1 else 0))
                if version is not None and weight > 0:
                    weights[version] = weights.get(version, 0) + weight
            break  # the first route without a match takes everything else
        return Holding(running, weights, preview), deployments

    # ---- objects ---------------------------------------------------------------------------------------------------

    def _object(
        self, view: EnvironmentView, plan: TrackPlan, kind: str, name: str, version: str | None
    ) -> dict[str, Any]:
        versions = {view.service: version} if version else {}
        for item in self.render(view.environment, plan.strategy, versions):
            if item.get("kind") == kind and (item.get("metadata") or {}).get("name") == name:
                return {**item, "spec": dict(item.get("spec") or {})}
        raise WorkloadNotReadyError(f"the platform renders no {kind} {name!r} for {view.environment}")

    def _version(self, deployment: Mapping[str, Any]) -> str | None:
        labels = (deployment.get("metadata") or {}).get("labels") or {}
        value = labels.get(self.version_label)
        return str(value) if value is not None else None


def _replicas(deployment: Mapping[str, Any]) -> int:
    return int((deployment.get("spec") or {}).get("replicas", 1))


def _primary_first(item: tuple[str, Any]) -> tuple[int, str]:
    return len(item[0]), item[0]  # the primary's name is the service's: the shortest


def _containers(deployment: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    template = (deployment.get("spec") or {}).get("template") or {}
    return [c for c in (template.get("spec") or {}).get("containers") or [] if isinstance(c, Mapping)]


def _other_image(service: str, deployment: Mapping[str, Any], version: str) -> str | None:
    """The image of the service's container (the one named after it, else the first) when its tag is not *version*
    — the Deployment is labelled with one version and runs another — else ``None`` (also for an image pinned by
    digest, which says no version)."""
    containers = _containers(deployment)
    own = next((c for c in containers if c.get("name") == service), containers[0] if containers else None)
    image = str(own.get("image", "")) if own is not None else ""
    tag = _tag(image)
    return image if tag is not None and tag != version else None


def _tag(image: str) -> str | None:
    """An image reference's tag (``gcr.io/x/fn-posts:1.0.0`` -> ``1.0.0``); ``None`` when it has none or is pinned by
    digest (nothing to compare with a version)."""
    if "@" in image:
        return None
    name, _, tag = image.rpartition(":")
    return tag if name and "/" not in tag else None
