"""GKE through the official client (``google-cloud-container``), imported only here: reads a cluster as a
``domain.gke.ClusterSpec``, and carries out a ``ClusterPlan`` the domain decided — one call per change, each
long-running operation waited for (polled by its full path: GKE returns a short name), in the plan's order, stopping at
the first that fails with what was and was not done. It decides nothing.

Errors: ``NOT_FOUND`` and ``PERMISSION_DENIED`` (the server's message names the permission) are configuration
problems (:class:`BadInputError`, exit 2); ``FAILED_PRECONDITION`` (an operation already running on the cluster),
``UNAVAILABLE`` and ``DEADLINE_EXCEEDED`` are retried with backoff, then :class:`DependencyUnavailableError` (exit 5).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import attrs

from findly_infra.adapters.google_api import call_google
from findly_infra.application.ports import BadInputError, DependencyUnavailableError
from findly_infra.domain.gke import AutoscalingLimits, ClusterPlan, ClusterSpec, PoolAction, PoolChange, PoolSpec

__all__ = ["ApplyReport", "GkeApplyError", "GkeClusters", "connect_gke"]


@attrs.frozen
class ApplyReport:
    done: tuple[str, ...]
    """Each change carried out, as a line (``node pool monitoring-pool: create``)."""


class GkeApplyError(DependencyUnavailableError):
    """An operation failed part way through a plan: what was done, and what was not."""

    def __init__(self, message: str, *, done: tuple[str, ...], not_done: tuple[str, ...]) -> None:
        super().__init__(message)
        self.done = done
        self.not_done = not_done


@attrs.define
class GkeClusters:
    """One project's GKE clusters through a ``ClusterManagerClient``."""

    client: Any = attrs.field(repr=False)
    project: str
    poll_interval: float = 5.0
    operation_timeout: float = 3600.0
    attempts: int = 5
    sleep: Callable[[float], object] = attrs.field(default=time.sleep, repr=False)
    call_timeout: float = 60.0
    """Seconds one call may take (the client's own retries are off: ours know what each status means)."""

    @property
    def _once(self) -> dict[str, Any]:
        return {"retry": None, "timeout": self.call_timeout}

    # ---- reading -----------------------------------------------------------------------------------------------------

    def _name(self, location: str, cluster: str) -> str:
        return f"projects/{self.project}/locations/{location}/clusters/{cluster}"

    def observe(self, location: str, name: str) -> ClusterSpec:
        """The cluster as GKE holds it, in the plan's terms."""
        path = self._name(location, name)
        cluster = self._call("get_cluster", path, lambda: self.client.get_cluster(name=path, **self._once))
        listed = self._call("list_node_pools", path, lambda: self.client.list_node_pools(parent=path, **self._once))
        pools = tuple(sorted((_pool(pool) for pool in listed.node_pools), key=lambda pool: pool.name))
        return ClusterSpec(name, location, pools, _limits(cluster.autoscaling))

    # ---- carrying a plan out -----------------------------------------------------------------------------------------

    def apply(self, plan: ClusterPlan) -> ApplyReport:
        """Each change of *plan* in its order, each operation waited for; raises :class:`GkeApplyError` at the first
        that fails, naming what was done and what was not."""
        from google.cloud import container_v1

        steps: list[tuple[str, Callable[[], Any]]] = []
        path = self._name(plan.location, plan.cluster)
        if plan.autoscaling:
            values = {change.field: change.after for change in plan.autoscaling}
            steps.append(("cluster autoscaling limits", lambda: self._update_limits(path, values)))
        for change in plan.actionable:
            steps.append((f"node pool {change.pool}: {change.action.value}", self._step(path, change, container_v1)))
        done: list[str] = []
        for index, (what, call) in enumerate(steps):
            try:
                operation = self._call(what, path, call)
                self._wait(operation, plan.location, what)
            except (BadInputError, DependencyUnavailableError) as exc:
                not_done = tuple(label for label, _ in steps[index:])
                raise GkeApplyError(
                    f"{what} failed: {exc}; done: {', '.join(done) or 'nothing'}; not done: {', '.join(not_done)}",
                    done=tuple(done),
                    not_done=not_done,
                ) from None
            done.append(what)
        return ApplyReport(tuple(done))

    def _step(self, cluster: str, change: PoolChange, types: Any) -> Callable[[], Any]:
        name = f"{cluster}/nodePools/{change.pool}"
        if change.action is PoolAction.DELETE:
            return lambda: self.client.delete_node_pool(name=name, **self._once)
        spec = change.spec
        assert spec is not None
        if change.action is PoolAction.CREATE:
            pool = types.NodePool(
                name=spec.name,
                locations=list(spec.zones),
                initial_node_count=max(spec.min_nodes, 1),
                config=types.NodeConfig(
                    machine_type=spec.machine_type,
                    disk_size_gb=spec.disk_size_gb,
                    disk_type=spec.disk_type,
                    taints=_taints(spec, types),
                ),
                autoscaling=_autoscaling(spec, types),
            )
            return lambda: self.client.create_node_pool(
                request=types.CreateNodePoolRequest(parent=cluster, node_pool=pool), **self._once
            )
        fields = {field.field for field in change.fields}
        calls: list[Callable[[], Any]] = []
        if fields & {"zones", "machine_type", "disk_type", "disk_size_gb", "taints"}:
            request = types.UpdateNodePoolRequest(name=name, node_version="-", image_type="")
            if "zones" in fields:
                request.locations = list(spec.zones)
            if "machine_type" in fields:
                request.machine_type = spec.machine_type
            if "disk_type" in fields:
                request.disk_type = spec.disk_type
            if "disk_size_gb" in fields:
                request.disk_size_gb = spec.disk_size_gb
            if "taints" in fields:
                request.taints = types.NodeTaints(taints=_taints(spec, types))
            calls.append(lambda: self.client.update_node_pool(request=request, **self._once))
        if fields & {"autoscaling", "min_nodes", "max_nodes"}:
            scaling = types.SetNodePoolAutoscalingRequest(name=name, autoscaling=_autoscaling(spec, types))
            calls.append(lambda: self.client.set_node_pool_autoscaling(request=scaling, **self._once))
        if len(calls) == 1:
            return calls[0]

        def both() -> Any:  # two operations, one after the other: GKE runs one at a time per cluster
            first = calls[0]()
            self._wait(first, cluster.split("/")[3], f"node pool {change.pool}: update")
            return calls[1]()

        return both

    def _update_limits(self, cluster: str, values: dict[str, object]) -> Any:
        from google.cloud import container_v1 as types

        current = self.client.get_cluster(name=cluster, **self._once).autoscaling
        limits = _limits(current) or AutoscalingLimits(False, 0, 0)
        limits = attrs.evolve(limits, **values)  # type: ignore[arg-type]
        autoscaling = types.ClusterAutoscaling(
            enable_node_autoprovisioning=limits.enabled,
            resource_limits=[
                types.ResourceLimit(resource_type="cpu", maximum=limits.max_cores),
                types.ResourceLimit(resource_type="memory", maximum=limits.max_memory_gb),
            ],
        )
        request = types.UpdateClusterRequest(
            name=cluster, update=types.ClusterUpdate(desired_cluster_autoscaling=autoscaling)
        )
        return self.client.update_cluster(request=request, **self._once)

    def _wait(self, operation: Any, location: str, what: str) -> None:
        from google.cloud import container_v1

        full = f"projects/{self.project}/locations/{location}/operations/{operation.name}"  # GKE answers a short name
        deadline = time.monotonic() + self.operation_timeout
        polls = 0
        while operation.status != container_v1.Operation.Status.DONE:
            if time.monotonic() > deadline:
                raise DependencyUnavailableError(f"{what}: operation {operation.name} still running after the timeout")
            self.sleep(min(self.poll_interval, 0.25 * 2**polls))  # soon at first (a quick change), then every interval
            polls += 1
            operation = self._call(
                f"{what} (polling {operation.name})", full, lambda: self.client.get_operation(name=full, **self._once)
            )
        if operation.error.message or operation.error.code:
            raise DependencyUnavailableError(f"operation {operation.name} ended in error: {operation.error.message}")

    def _call(self, what: str, resource: str, call: Callable[[], Any]) -> Any:
        # one operation at a time per cluster: FAILED_PRECONDITION (another running) is waited out
        return call_google("GKE", what, resource, call, attempts=self.attempts, busy_is_transient=True)


def connect_gke(project: str, *, endpoint: str | None = None, channel: Any = None, **options: Any) -> GkeClusters:
    """A :class:`GkeClusters` with Application Default Credentials (or, for tests, an insecure *channel* to a stand-in,
    or another *endpoint*)."""
    from google.cloud import container_v1

    if channel is not None:
        from google.cloud.container_v1.services.cluster_manager.transports.grpc import ClusterManagerGrpcTransport

        client = container_v1.ClusterManagerClient(transport=ClusterManagerGrpcTransport(channel=channel))
    else:
        try:
            client = container_v1.ClusterManagerClient(client_options={"api_endpoint": endpoint} if endpoint else None)
        except Exception as exc:  # noqa: BLE001 - no credentials, or unreadable ones: said, not a traceback
            raise BadInputError(
                f"cannot reach GKE: {exc} (Application Default Credentials: gcloud auth application-default login)"
            ) from None
    return GkeClusters(client, project, **options)


def _pool(pool: Any) -> PoolSpec:
    config = pool.config
    scaling = pool.autoscaling
    return PoolSpec(
        name=pool.name,
        zones=tuple(sorted(pool.locations)),
        machine_type=config.machine_type,
        disk_size_gb=int(config.disk_size_gb),
        disk_type=config.disk_type,
        autoscaling=bool(scaling.enabled),
        min_nodes=int(scaling.min_node_count),
        max_nodes=int(scaling.max_node_count),
        taints=tuple(sorted((taint.key, taint.value, taint.effect.name) for taint in config.taints)),
    )


def _limits(autoscaling: Any) -> AutoscalingLimits | None:
    limits = {limit.resource_type: int(limit.maximum) for limit in autoscaling.resource_limits}
    if not autoscaling.enable_node_autoprovisioning and not limits:
        return None
    return AutoscalingLimits(
        bool(autoscaling.enable_node_autoprovisioning), limits.get("cpu", 0), limits.get("memory", 0)
    )


def _taints(spec: PoolSpec, types: Any) -> list[Any]:
    return [
        types.NodeTaint(key=key, value=value, effect=types.NodeTaint.Effect[effect])
        for key, value, effect in spec.taints
    ]


def _autoscaling(spec: PoolSpec, types: Any) -> Any:
    return types.NodePoolAutoscaling(
        enabled=spec.autoscaling, min_node_count=spec.min_nodes, max_node_count=spec.max_nodes
    )
