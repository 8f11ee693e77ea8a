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
from typing import Any

import attrs

from findly_infra.application.ports import ClusterObjects, DependencyError
from findly_infra.domain.cluster import deployment_readiness
from findly_infra.domain.environment import StrategyKind
from findly_infra.domain.tracks import PREVIEW_HEADER, Track, TrackPlan, track_plan
from findly_infra.domain.view import EnvironmentView

__all__ = ["ClusterWorkloads", "Render", "WorkloadNotReadyError"]

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
        live = {
            track.name: self.cluster.get("apps/v1", "Deployment", namespace, track.deployment(view.service))
            for track in plan.tracks
        }
        primary = live[plan.primary.name]
        primary_replicas = None if primary is None else _replicas(primary)
        changed = False
        for track in plan.tracks:
            if track.version is not None:
                changed |= self._bring_up(view, plan, track, namespace, live[track.name], primary_replicas)
        if plan.strategy is not StrategyKind.ROLLING:
            changed |= self._route(view, plan, namespace)
        for track in plan.tracks:
            if track.version is None:
                changed |= self._retire(view, plan, track, live[track.name])
        return changed

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
        changed = live is None or self._version(live) != track.version or _replicas(live) == 0
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

    def _subsets(self, view: EnvironmentView, plan: TrackPlan, namespace: str) -> bool:
        """The DestinationRule's subsets are the tracks of the rollout's strategy (a rollout may use another strategy
        than the one the environment's objects were applied with): applied when they differ."""
        wanted = [{"name": track.name, "labels": {"track": track.name}} for track in plan.tracks]
        live = self.cluster.get("networking.istio.io/v1", "DestinationRule", namespace, view.service)
        if live is not None and (live.get("spec") or {}).get("subsets") == wanted:
            return False
        self.cluster.apply(self._object(view, plan, "DestinationRule", view.service, None), force=True)
        return True

    def _retire(self, view: EnvironmentView, plan: TrackPlan, track: Track, live: Mapping[str, Any] | None) -> bool:
        name = track.deployment(view.service)
        if live is None or _replicas(live) == 0:
            return False
        desired = self._object(view, plan, "Deployment", name, self._version(live) or "latest")
        desired["spec"]["replicas"] = 0
        self.cluster.apply(desired, force=True)
        return True

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
