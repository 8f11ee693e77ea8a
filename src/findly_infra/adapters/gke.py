"""GKE through the official client (``google-cloud-container``), imported only here: reads a cluster as a
``domain.gke.ClusterSpec``, and carries out a ``ClusterPlan`` the domain decided — one call per change, each
long-running operation waited for (polled by its full path: GKE returns a short name), in the plan's order, stopping at
the first that fails with what was and was not done. It decides nothing.

A cluster that does not exist is read as ``None`` (GKE answers ``NOT_FOUND`` for its name, as Terraform's
container_cluster read takes it: ``handleNotFoundError``), and a plan that ``creates`` it is ONE ``create_cluster``
with every node pool (below, :meth:`GkeClusters._create`), its operation waited for, then the cluster read until it is
``RUNNING``. Creation takes minutes on real GKE (the control plane, then each pool's nodes): the same poll interval
and ``operation_timeout`` apply to the operation and to the wait for ``RUNNING``, together. Any other plan — an empty
one too — first waits for the cluster to rest (``RUNNING``: a create a killed run left is ``PROVISIONING`` with its
pools already listed), as Terraform waits before it changes a cluster. A create answered ``ALREADY_EXISTS`` (retried
after its answer was lost) is that cluster, waited for. A DR copy is created at its primary's version and channel
(``ClusterSpec.master_version``/``release_channel``).

Errors: ``NOT_FOUND`` (but for the cluster ``observe`` reads: ``None``), ``PERMISSION_DENIED`` (the server's
message names the permission — or the quota, and then the message says it is one and where to ask for more) and
``INVALID_ARGUMENT`` are configuration problems (:class:`BadInputError`, exit 2; part way through a plan
:class:`GkeApplyRefusedError`);
``FAILED_PRECONDITION`` (an operation already running on the cluster), ``UNAVAILABLE`` and ``DEADLINE_EXCEEDED`` are
retried with backoff, then :class:`DependencyUnavailableError` (exit 5; part way through a plan, or an operation that
ends in error, :class:`GkeApplyError`). A cluster GKE holds in ``ERROR`` or ``DEGRADED`` is refused when read
(:class:`DependencyUnavailableError`, with GKE's message), as Terraform's read refuses it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import attrs

from findly_infra.adapters.google_api import AlreadyExistsError, NotFoundError, call_google
from findly_infra.application.ports import BadInputError, ConcurrencyError, DependencyUnavailableError
from findly_infra.application.redaction import redact_text
from findly_infra.domain.gke import (
    ClusterPlan,
    ClusterSpec,
    FieldChange,
    NodeAutoProvisioning,
    PoolAction,
    PoolChange,
    PoolSpec,
)

__all__ = ["ApplyReport", "GkeApplyError", "GkeApplyRefusedError", "GkeClusters", "connect_gke"]


@attrs.frozen
class ApplyReport:
    done: tuple[str, ...]
    """Each change carried out, as a line (``node pool monitoring-pool: create``)."""


class GkeApplyError(DependencyUnavailableError):
    """Raised when an operation fails part way through a plan, or GKE cannot be reached (exit 5): what was done,
    and what was not."""

    def __init__(self, message: str, *, done: tuple[str, ...], not_done: tuple[str, ...]) -> None:
        super().__init__(message)
        self.done = done
        self.not_done = not_done


class GkeApplyRefusedError(BadInputError):
    """Raised when GKE refuses a call part way through a plan — a permission missing (``PERMISSION_DENIED``, the
    message names it) or a change it does not take (``INVALID_ARGUMENT``) — a configuration problem (exit 2): what
    was done, and what was not."""

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
    _waiting: Callable[[], object] | None = attrs.field(default=None, init=False, repr=False)

    @property
    def _once(self) -> dict[str, Any]:
        return {"retry": None, "timeout": self.call_timeout}

    # ---- reading -----------------------------------------------------------------------------------------------------

    def _name(self, location: str, cluster: str) -> str:
        return f"projects/{self.project}/locations/{location}/clusters/{cluster}"

    def observe(self, location: str, name: str) -> ClusterSpec | None:
        """The cluster as GKE holds it, in the plan's terms (with each pool's version and image type, and the
        control plane's version: what an update keeps and a new pool runs); ``None`` when GKE answers ``NOT_FOUND``
        for it ("Not found: projects/P/locations/L/clusters/C."): it does not exist, and the plan creates it. (A
        project that does not exist, or may not be read, is answered otherwise — "Project … not found or deleted",
        ``PERMISSION_DENIED`` — and stays a configuration problem.)"""
        path = self._name(location, name)
        try:
            cluster = self._call("get_cluster", path, lambda: self.client.get_cluster(name=path, **self._once))
        except NotFoundError:
            return None
        from google.cloud import container_v1

        broken = (container_v1.Cluster.Status.ERROR, container_v1.Cluster.Status.DEGRADED)
        if cluster.status in broken:
            # Terraform's container_cluster read refuses these too ("Cluster %q has status %q with message %q"): a
            # cluster in ERROR "is unusable. It will be automatically deleted"; DEGRADED "requires user action to
            # restore full functionality" (Cluster.Status) — a plan against either would say nothing is wrong.
            said = redact_text(str(cluster.status_message)[:1000]) or "no message"
            advice = (
                f"GKE deletes it on its own, or: gcloud container clusters delete {name} --location {location}; "
                "then plan again"
                if cluster.status == container_v1.Cluster.Status.ERROR
                else "it needs a person (GKE's message says what); then plan again"
            )
            raise DependencyUnavailableError(f"{path} is {cluster.status.name}: {said} ({advice})")
        listed = self._call("list_node_pools", path, lambda: self.client.list_node_pools(parent=path, **self._once))
        pools = tuple(sorted((_pool(pool) for pool in listed.node_pools), key=lambda pool: pool.name))
        return ClusterSpec(
            name,
            location,
            pools,
            auto_provisioning=_auto_provisioning(cluster.autoscaling),
            workload_pool=cluster.workload_identity_config.workload_pool or None,
            master_version=cluster.current_master_version or None,
            release_channel=_channel(cluster.release_channel.channel, container_v1),
        )

    # ---- carrying a plan out -----------------------------------------------------------------------------------------

    def apply(self, plan: ClusterPlan, *, waiting: Callable[[], object] | None = None) -> ApplyReport:
        """Each change of *plan* in its order, one call and one operation at a time, each waited for; at the first
        that fails raises :class:`GkeApplyRefusedError` (GKE refused it) or :class:`GkeApplyError` (it failed, or
        GKE could not be reached), naming what was done and what was not.

        Before any change — and for an EMPTY plan too — the cluster is waited for until it rests (``RUNNING``, within
        ``operation_timeout``): a cluster still ``PROVISIONING`` (a create a killed run left), ``RECONCILING`` or
        ``STOPPING`` is not ready, whatever its pools say, as Terraform waits for a resting state before every update
        (``containerClusterRestingStates``: RUNNING ready, DEGRADED and ERROR errors, every other status waited
        out — hashicorp/terraform-provider-google, google/services/container/resource_container_cluster.go,
        ``containerClusterAwaitRestingState``). *waiting* is called before each wait (a caller renews its lease
        there: a create takes minutes)."""
        from google.cloud import container_v1

        self._waiting = waiting
        try:
            if plan.creates is not None:
                return self._create(plan.creates, container_v1)
            return self._update(plan, container_v1)
        finally:
            self._waiting = None

    def _update(self, plan: ClusterPlan, container_v1: Any) -> ApplyReport:
        path = self._name(plan.location, plan.cluster)
        steps: list[tuple[str, Callable[[], Any]]] = [
            (_setting_label(change), self._setting(path, change, container_v1)) for change in plan.before_pools
        ]
        for change in plan.actionable:
            steps += self._steps(path, change, container_v1)
        steps += [(_setting_label(change), self._setting(path, change, container_v1)) for change in plan.after_pools]
        settle = f"cluster {plan.cluster}: wait until RUNNING"
        try:
            was = self._until_running(path, settle, container_v1, time.monotonic() + self.operation_timeout)
        except (BadInputError, DependencyUnavailableError) as exc:
            kind = GkeApplyRefusedError if isinstance(exc, BadInputError) else GkeApplyError
            not_done = (settle, *(label for label, _ in steps))
            raise kind(f"{exc}; done: nothing; not done: {', '.join(not_done)}", done=(), not_done=not_done) from None
        done: list[str] = [f"cluster {plan.cluster}: was {was}, waited until RUNNING"] if was else []
        for index, (what, call) in enumerate(steps):
            try:
                operation = self._call(what, path, call)
                self._wait(operation, plan.location, what)
            except (BadInputError, DependencyUnavailableError) as exc:
                not_done = tuple(label for label, _ in steps[index:])
                kind = GkeApplyRefusedError if isinstance(exc, BadInputError) else GkeApplyError
                raise kind(
                    f"{what} failed: {exc}; done: {', '.join(done) or 'nothing'}; not done: {', '.join(not_done)}",
                    done=tuple(done),
                    not_done=not_done,
                ) from None
            done.append(what)
        return ApplyReport(tuple(done))

    def _create(self, spec: ClusterSpec, types: Any) -> ApplyReport:
        """*spec* created as ONE ``create_cluster`` (``CreateClusterRequest``: ``parent`` projects/P/locations/L and
        the ``cluster`` — google/container/v1/cluster_service.proto; what ``gcloud container clusters create`` and
        Terraform's google_container_cluster create send), its operation waited for, then the cluster read until
        ``RUNNING`` (Terraform's ``waitForContainerClusterReady``: PROVISIONING and RECONCILING are waited out, any
        other status ends it). The cluster carries:

        - every node pool as ``create_node_pool`` would make it (``_new_pool``: its zones as ``locations``,
          ``initial_node_count`` — per zone, as a regional cluster's pools count — at least the pool's minimum, its
          autoscaling bounds, machine, disks, taints, metadata mode), so the cluster never has GKE's ``default-pool``
          (``Cluster.node_pools``: "should not be set if node_config or initial_node_count are specified" — neither
          is);
        - ``locations``: every zone of its pools (``Cluster.locations``, the default of a pool created without
          locations) — and, for a zonal cluster, its own zone, which GKE wants in the list (Terraform appends it:
          "GKE requires a full list of node locations");
        - ``workload_identity_config`` where the spec has a workload pool (its pools' ``GKE_METADATA`` needs it on the
          cluster), ``autoscaling`` (node auto-provisioning with its cpu and memory limits, which GKE requires
          together) where the spec turns it on; what the spec leaves off is not sent (off is GKE's default);
        - the spec's ``release_channel`` and its ``master_version`` as ``initial_cluster_version`` where it has them
          (a DR copy: the primary's, so the regions do not drift); the primary's exact version where the location
          offers it (``GetServerConfig``'s ``valid_master_versions``), else its minor ("1.X": "picks the highest
          valid patch version in that minor", Cluster.initial_cluster_version) — versions reach each region over
          days and old patches leave. Without them GKE's default: "if no release channel configuration and no
          version is specified, the cluster is enrolled in the REGULAR channel with its default version"
          (Cluster.release_channel, cluster_service.proto; https://cloud.google.com/kubernetes-engine/docs/concepts/
          release-channels)."""
        parent = f"projects/{self.project}/locations/{spec.location}"
        path = self._name(spec.location, spec.name)
        zones = {zone for pool in spec.pools for zone in pool.zones}
        if _is_zone(spec.location):
            zones.add(spec.location)
        cluster = types.Cluster(
            name=spec.name,
            locations=sorted(zones),
            node_pools=[_new_pool(pool, types) for pool in spec.pools],
        )
        if isinstance(spec.workload_pool, str):
            cluster.workload_identity_config = types.WorkloadIdentityConfig(workload_pool=spec.workload_pool)
        if isinstance(spec.auto_provisioning, NodeAutoProvisioning):
            cluster.autoscaling = types.ClusterAutoscaling(
                enable_node_autoprovisioning=True,
                resource_limits=[
                    types.ResourceLimit(resource_type="cpu", maximum=spec.auto_provisioning.max_cores),
                    types.ResourceLimit(resource_type="memory", maximum=spec.auto_provisioning.max_memory_gb),
                ],
            )
        if spec.release_channel:
            cluster.release_channel = types.ReleaseChannel(channel=types.ReleaseChannel.Channel[spec.release_channel])
        if spec.master_version:
            cluster.initial_cluster_version = self._offered(parent, spec.master_version)
        request = types.CreateClusterRequest(parent=parent, cluster=cluster)
        what = f"cluster {spec.name}: create"
        pools = ", ".join(pool.name for pool in spec.pools) or "none"
        started = False
        try:
            deadline = time.monotonic() + self.operation_timeout
            try:
                operation = self._call(
                    "create_cluster", parent, lambda: self.client.create_cluster(request=request, **self._once)
                )
            except AlreadyExistsError:
                started = True
                return self._held(spec, path, what, types, deadline)
            started = True
            self._wait(operation, spec.location, what, deadline=deadline)
            self._until_running(path, what, types, deadline)
        except (BadInputError, DependencyUnavailableError) as exc:
            kind = GkeApplyRefusedError if isinstance(exc, BadInputError) else GkeApplyError
            # Once GKE took the request, a cluster may be left: still provisioning (the next apply waits for it), or
            # in ERROR, which "will be automatically deleted" (Cluster.Status) — Terraform marks it tainted so that
            # its next apply replaces it (resource_container_cluster.go, "was created in an error state"); we say so
            # rather than delete what we cannot see the state of.
            left = (
                f". GKE may hold the cluster still provisioning, or in ERROR (deleted by GKE on its own, or: gcloud "
                f"container clusters delete {spec.name} --location {spec.location}): plan again"
                if started
                else ""
            )
            raise kind(
                f"{what} (node pools {pools}) failed: {exc}; done: nothing; not done: {what}{left}",
                done=(),
                not_done=(what,),
            ) from None
        return ApplyReport((f"{what} (node pools {pools}), running",))

    def _offered(self, parent: str, version: str) -> str:
        """*version* where *parent*'s location offers it, else its minor (``1.29.8-gke.1031000`` -> ``1.29``)."""
        config = self._call(
            "get_server_config", parent, lambda: self.client.get_server_config(name=parent, **self._once)
        )
        if version in config.valid_master_versions:
            return version
        return ".".join(version.split(".")[:2])

    def _held(self, spec: ClusterSpec, path: str, what: str, types: Any, deadline: float) -> ApplyReport:
        """GKE answered ``ALREADY_EXISTS`` to our create: the cluster exists now — most often our own create, sent
        again after its answer was lost (a deadline, a broken connection: CreateCluster is not idempotent, and GKE
        answers 409 "Already exists: projects/…/clusters/…" for a name in use). Not a configuration problem: as
        Terraform reads the cluster back after a failed create and goes on with it
        (hashicorp/terraform-provider-google, resource_container_cluster.go, resourceContainerClusterCreate), it is
        waited for until ``RUNNING``, then read: as the file says, it is the created cluster; otherwise someone
        else's, and the plan is made again (:class:`ConcurrencyError`)."""
        from findly_infra.domain.gke import plan_cluster

        was = self._until_running(path, what, types, deadline)
        observed = self.observe(spec.location, spec.name)
        if observed is None or not plan_cluster(spec, observed).empty:
            raise ConcurrencyError(
                f"{what}: GKE already holds a cluster {spec.name} in {spec.location}, not as the file says (someone "
                "else's): plan again to see what differs"
            )
        waited = f", waited from {was} until RUNNING" if was else ""
        return ApplyReport((f"{what}: GKE already held it (our create, its first answer lost){waited}",))

    def _until_running(self, path: str, what: str, types: Any, deadline: float) -> str | None:
        """Read the cluster until it is ``RUNNING`` ("created and fully usable", Cluster.Status), and return the
        status it was in first when it was not (``None``: it was). PROVISIONING, RECONCILING and STOPPING are waited
        out at the poll interval, within *deadline*, as Terraform waits out every status but its resting ones
        (``containerClusterAwaitRestingState``: RUNNING ready, DEGRADED and ERROR errors — the wait after a create,
        ``waitForContainerClusterReady``, the same); ERROR and DEGRADED end the wait with GKE's ``status_message``; a
        cluster gone meanwhile (deleted: STOPPING, or by GKE after ERROR — "It will be automatically deleted",
        Cluster.Status.ERROR) is said so (:class:`DependencyUnavailableError`: plan again, it will be created)."""
        waiting = (
            types.Cluster.Status.PROVISIONING,
            types.Cluster.Status.RECONCILING,
            types.Cluster.Status.STOPPING,
        )
        first: str | None = None
        polls = 0
        while True:
            try:
                cluster = self._call("get_cluster", path, lambda: self.client.get_cluster(name=path, **self._once))
            except NotFoundError:
                was = f"was {first}, " if first else ""
                raise DependencyUnavailableError(
                    f"{what}: {path} is gone ({was}deleted — by someone, or by GKE after it ended in ERROR, which GKE "
                    "deletes on its own): plan again, and it will be created"
                ) from None
            if cluster.status == types.Cluster.Status.RUNNING:
                return first
            first = first or cluster.status.name
            if cluster.status not in waiting:
                said = redact_text(str(cluster.status_message)[:1000]) or "no message"
                raise DependencyUnavailableError(f"{path} is {cluster.status.name}: {said}")
            if time.monotonic() > deadline:
                raise DependencyUnavailableError(f"{what}: {path} still {cluster.status.name} after the timeout")
            self._pause(polls)
            polls += 1

    def _pause(self, polls: int) -> None:
        """Sleep before the next poll — soon at first (a quick change), then every interval — the caller's *waiting*
        called first (its lease renewed while GKE works)."""
        if self._waiting is not None:
            self._waiting()
        self.sleep(min(self.poll_interval, 0.25 * 2 ** min(polls, 16)))

    def _steps(self, cluster: str, change: PoolChange, types: Any) -> list[tuple[str, Callable[[], Any]]]:
        """The calls that carry one pool's change out, each its own operation: the zones alone (the API asks for a
        location change in "a standalone API call"), the other ``update_node_pool`` fields together, the
        autoscaling bounds by ``set_node_pool_autoscaling``."""
        name = f"{cluster}/nodePools/{change.pool}"
        label = f"node pool {change.pool}"
        if change.action is PoolAction.DELETE:
            return [(f"{label}: delete", lambda: self.client.delete_node_pool(name=name, **self._once))]
        spec = change.spec
        assert spec is not None
        if change.action is PoolAction.CREATE:
            request = types.CreateNodePoolRequest(parent=cluster, node_pool=_new_pool(spec, types))
            return [(f"{label}: create", lambda: self.client.create_node_pool(request=request, **self._once))]
        groups: dict[str, list[str]] = {}  # the zones alone, then one group per call
        for field in change.fields:
            groups.setdefault("zones" if field.field == "zones" else field.call, []).append(field.field)
        return [
            (f"{label}: {', '.join(fields)}", self._pool_call(name, spec, group, fields, types))
            for group, fields in groups.items()
        ]

    def _pool_call(self, name: str, spec: PoolSpec, group: str, fields: list[str], types: Any) -> Callable[[], Any]:
        if group == "set_node_pool_autoscaling":
            scaling = types.SetNodePoolAutoscalingRequest(name=name, autoscaling=_autoscaling(spec, types))
            return lambda: self.client.set_node_pool_autoscaling(request=scaling, **self._once)
        update = _update_request(name, spec, fields, types)
        return lambda: self.client.update_node_pool(request=update, **self._once)

    def _setting(self, cluster: str, change: FieldChange, types: Any) -> Callable[[], Any]:
        if change.field == "workload_pool":
            config = types.WorkloadIdentityConfig(workload_pool=change.after or "")  # "" turns it off, as gcloud does
            update = types.ClusterUpdate(desired_workload_identity_config=config)
        else:
            return lambda: self._update_auto_provisioning(cluster, change.after, types)
        request = types.UpdateClusterRequest(name=cluster, update=update)
        return lambda: self.client.update_cluster(request=request, **self._once)

    def _update_auto_provisioning(self, cluster: str, wanted: object, types: Any) -> Any:
        """Node auto-provisioning on within *wanted*'s cpu and memory maxima, or off (``None``): the cluster's own
        ``ClusterAutoscaling`` read afresh and changed only there (its profile, defaults, other resources' limits and
        the minima kept) — GKE refuses resource limits without auto-provisioning, so turning it off drops them."""
        current = self.client.get_cluster(name=cluster, **self._once).autoscaling
        autoscaling = types.ClusterAutoscaling.deserialize(types.ClusterAutoscaling.serialize(current))
        if isinstance(wanted, NodeAutoProvisioning):
            minima = {limit.resource_type: limit.minimum for limit in current.resource_limits}
            others = [limit for limit in current.resource_limits if limit.resource_type not in ("cpu", "memory")]
            autoscaling.enable_node_autoprovisioning = True
            autoscaling.resource_limits = [
                types.ResourceLimit(resource_type="cpu", minimum=minima.get("cpu", 0), maximum=wanted.max_cores),
                types.ResourceLimit(
                    resource_type="memory", minimum=minima.get("memory", 0), maximum=wanted.max_memory_gb
                ),
                *others,
            ]
        else:
            autoscaling.enable_node_autoprovisioning = False
            autoscaling.resource_limits = []
        request = types.UpdateClusterRequest(
            name=cluster, update=types.ClusterUpdate(desired_cluster_autoscaling=autoscaling)
        )
        return self.client.update_cluster(request=request, **self._once)

    def _wait(self, operation: Any, location: str, what: str, *, deadline: float | None = None) -> None:
        from google.cloud import container_v1

        full = f"projects/{self.project}/locations/{location}/operations/{operation.name}"  # GKE answers a short name
        deadline = time.monotonic() + self.operation_timeout if deadline is None else deadline
        polls = 0
        while operation.status != container_v1.Operation.Status.DONE:
            if time.monotonic() > deadline:
                raise DependencyUnavailableError(f"{what}: operation {operation.name} still running after the timeout")
            self._pause(polls)
            polls += 1
            operation = self._call(
                f"{what} (polling {operation.name})", full, lambda: self.client.get_operation(name=full, **self._once)
            )
        if operation.error.message or operation.error.code:
            raise DependencyUnavailableError(
                f"operation {operation.name} ended in error: {redact_text(str(operation.error.message)[:1000])}"
            )

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


_ZONE_SUFFIX = re.compile(r"-[a-z]$")


def _is_zone(location: str) -> bool:
    """``us-central1-a`` (a zonal cluster) rather than ``us-central1`` (a regional one): a zone is its region and a
    letter (https://cloud.google.com/compute/docs/regions-zones)."""
    return bool(_ZONE_SUFFIX.search(location))


def _pool(pool: Any) -> PoolSpec:
    config = pool.config
    scaling = pool.autoscaling
    mode = config.workload_metadata_config.mode
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
        workload_metadata=mode.name if mode else None,  # MODE_UNSPECIFIED: not set
        version=pool.version or None,
        image_type=config.image_type or None,
    )


def _channel(channel: Any, types: Any) -> str | None:
    """A cluster's release channel by name, ``None`` for UNSPECIFIED (no channel)."""
    return None if channel == types.ReleaseChannel.Channel.UNSPECIFIED else str(channel.name)


def _auto_provisioning(autoscaling: Any) -> NodeAutoProvisioning | None:
    if not autoscaling.enable_node_autoprovisioning:
        return None
    limits = {limit.resource_type: int(limit.maximum) for limit in autoscaling.resource_limits}
    return NodeAutoProvisioning(limits.get("cpu", 0), limits.get("memory", 0))


def _setting_label(change: FieldChange) -> str:
    if change.field == "workload_pool":
        return "workload identity " + ("off" if change.after is None else "on")
    return "node auto-provisioning " + ("off" if change.after is None else "on")


def _taints(spec: PoolSpec, types: Any) -> list[Any]:
    return [
        types.NodeTaint(key=key, value=value, effect=types.NodeTaint.Effect[effect])
        for key, value, effect in spec.taints
    ]


def _autoscaling(spec: PoolSpec, types: Any) -> Any:
    """A pool's autoscaling: its bounds only when it is on — off is ``{enabled: false}`` alone, as Terraform sends
    it (``expandNodePoolAutoscaling``/``nodePoolUpdate``: ``&container.NodePoolAutoscaling{Enabled: false}``,
    hashicorp/terraform-provider-google, google/services/container/resource_container_node_pool.go), and as it reads
    the bounds back only when enabled; what GKE keeps of bounds sent with ``enabled: false`` is not published."""
    if not spec.autoscaling:
        return types.NodePoolAutoscaling(enabled=False)
    return types.NodePoolAutoscaling(enabled=True, min_node_count=spec.min_nodes, max_node_count=spec.max_nodes)


def _metadata(mode: str, types: Any) -> Any:
    return types.WorkloadMetadataConfig(mode=types.WorkloadMetadataConfig.Mode[mode])


def _new_pool(spec: PoolSpec, types: Any) -> Any:
    """A node pool to create: no version (GKE gives it the control plane's, as the plan says) and GKE's default
    image, the metadata mode only where the file sets it."""
    config = types.NodeConfig(
        machine_type=spec.machine_type,
        disk_size_gb=spec.disk_size_gb,
        disk_type=spec.disk_type,
        taints=_taints(spec, types),
    )
    if spec.workload_metadata:
        config.workload_metadata_config = _metadata(spec.workload_metadata, types)
    return types.NodePool(
        name=spec.name,
        locations=list(spec.zones),
        initial_node_count=max(spec.min_nodes, 1),
        config=config,
        autoscaling=_autoscaling(spec, types),
    )


def _update_request(name: str, spec: PoolSpec, fields: list[str], types: Any) -> Any:
    """An ``UpdateNodePoolRequest`` that changes *fields* and nothing else. ``node_version`` and ``image_type`` are
    sent only when the plan changes them — it never does: an empty one leaves the pool's as it is, as gcloud
    (googlecloudsdk/api_lib/container/api_adapter.py, UpdateNodePoolRequest) and Terraform send neither when they
    change other things. Never ``"-"``, which "picks the Kubernetes master version" (an upgrade no plan showed), nor
    the pool's own version read back, which GKE may no longer offer, and then refuses the whole update."""
    request = types.UpdateNodePoolRequest(name=name)
    if "node_version" in fields and spec.version:
        request.node_version = spec.version
    if "image_type" in fields and spec.image_type:
        request.image_type = spec.image_type
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
    if "workload_metadata" in fields and spec.workload_metadata:
        request.workload_metadata_config = _metadata(spec.workload_metadata, types)
    return request
