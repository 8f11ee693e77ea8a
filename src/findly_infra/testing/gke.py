"""A GKE API for tests: the ``google.container.v1.ClusterManager`` service over gRPC on 127.0.0.1, serving the real
proto messages to the real ``google-cloud-container`` client (there is no emulator for this API).

It holds state — clusters with their control plane's version, node pools with their version and image type, the
cluster's node auto-provisioning and Workload Identity settings, operations that finish after a number of polls — and
behaves as GKE does where a tool depends on it, each rule beside the reference it follows:

- resource names (``projects/P/locations/L/clusters/C[/nodePools/N]``), ``NOT_FOUND`` for what does not exist;
- ``CreateCluster`` as the API takes it: the name's pattern, ``ALREADY_EXISTS``, ``node_pools`` or else
  ``initial_node_count`` (a ``default-pool``), never both, each pool checked as ``CreateNodePool`` checks one and in the
  cluster's region, ``initial_cluster_version`` read as the API reads it against the location's server config, the
  cluster ``PROVISIONING`` until its ``CREATE_CLUSTER`` operation is done (``ERROR`` when it fails), every other
  operation on it refused meanwhile in GKE's words; ``DeleteCluster`` (``STOPPING``, then gone);
- operations returned with a short name and read back only by their full name
  (``projects/P/locations/L/operations/NAME``), in the location that started them;
- one cluster-level operation, or one operation per node pool, at a time (``FAILED_PRECONDITION``, worded as GKE
  words it), a change visible once its operation is ``DONE``;
- ``UpdateNodePool`` as the API applies it: ``node_version`` (``-`` the control plane's version, ``latest``, ``1.X``,
  ``1.X.Y``, an explicit version; empty: unchanged) and ``image_type`` (empty: unchanged), a node version newer than
  the control plane's minor version or not offered (the control plane's and the ``valid_node_versions`` a test gives
  are) refused, a request that changes nothing refused;
- node pool autoscaling and node auto-provisioning checked as the API checks them (bounds, per-zone against total
  limits, resource limits only with auto-provisioning and required by it), Workload Identity's pool
  (``<project>.svc.id.goog``, or its fleet host project's) and a node pool's ``GKE_METADATA`` only on a cluster that
  has it;
- only resource names: a request in the deprecated fields (``project_id``, ``zone``, ``cluster_id``, …) is refused
  ``UNIMPLEMENTED``.

A test can make any method fail (``fail``), make the next operation of a method end in an error (``fail_operation``),
and read every call it received (``calls``). What it does not do is listed in ``docs/testing.md``.

    with GkeStandIn() as gke:
        gke.add_cluster("findly-now", "us-central1", "findly-production", master_version="1.30.5-gke.1014001")
        gke.offer_versions("findly-now", "us-east1", ("1.30.5-gke.1014001", "1.31.1-gke.1146000"))  # the DR region
        client = gke.client()   # container_v1.ClusterManagerClient over an insecure channel to the stand-in
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from typing import Any

import attrs

from findly_infra.testing._grpc import Abort, GrpcStandIn, Method

__all__ = ["DEFAULT_IMAGE_TYPE", "DEFAULT_MASTER_VERSION", "GkeStandIn"]

_CLUSTER = re.compile(r"^projects/([^/]+)/locations/([^/]+)/clusters/([^/]+)$")
_POOL = re.compile(r"^projects/([^/]+)/locations/([^/]+)/clusters/([^/]+)/nodePools/([^/]+)$")
_OPERATION = re.compile(r"^projects/([^/]+)/locations/([^/]+)/operations/([^/]+)$")
_LOCATION = re.compile(r"^projects/([^/]+)/locations/([^/]+)$")
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)-gke\.(\d+)$")
_ALIAS = re.compile(r"^\d+\.\d+(\.\d+)?(-gke\.\d+)?$")
_ZONE = re.compile(r"^([a-z]+-[a-z]+\d+)-[a-z]$")

_CLUSTER_NAME = "(?:[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?)"
"""Cluster.name: "up to 40 characters ... Lowercase letters, numbers, and hyphens only. Must start with a letter. Must
end with a number or a letter." (cluster_service.proto); GKE's refusal quotes this very regex (below)."""

_DEFAULT_POOL = "default-pool"
"""The pool GKE makes of ``initial_node_count`` and ``node_config`` ("a NodePool object with an auto-generated name",
cluster_service.proto): ``default-pool``, the name Terraform deletes for ``remove_default_node_pool``
(hashicorp/terraform-provider-google, google/services/container/resource_container_cluster.go)."""

_CREATE_UNMODELLED = ("autopilot",)
"""Cluster fields of a CreateClusterRequest that change what GKE does with the rest (Autopilot: GKE manages the nodes,
no node_pools) and that the stand-in does not model: refused UNIMPLEMENTED. Every other field is kept as given and
read back (GKE returns the cluster's configuration), with no rule of its own."""

DEFAULT_MASTER_VERSION = "1.30.5-gke.1014001"
"""The control plane's version of a cluster added without one."""

DEFAULT_IMAGE_TYPE = "COS_CONTAINERD"
"""A node pool's image when none is asked for: "Container-Optimized OS with containerd (cos_containerd) is the default
node image" (https://cloud.google.com/kubernetes-engine/docs/concepts/node-images)."""

_IMAGE_TYPES = ("COS_CONTAINERD", "UBUNTU_CONTAINERD", "WINDOWS_LTSC_CONTAINERD")
"""The Linux and Windows node images GKE offers (same page); ``ServerConfig.valid_image_types``."""

_UPDATE_FIELDS = (
    # The fields of an UpdateNodePoolRequest of which GKE wants at least one, and its message when none is given, as
    # it answered in 2023 (https://github.com/2i2c-org/infrastructure/pull/2757: "Error 400: At least one of [...]
    # must be specified"). The proto marks node_version and image_type REQUIRED, but GKE does not enforce it: gcloud
    # (googlecloudsdk/api_lib/container/api_adapter.py, UpdateNodePoolRequest) and Terraform send neither when they
    # change the locations, the workload metadata or the taints; empty means "unchanged".
    "node_version",
    "image_type",
    "updated_node_pool",
    "locations",
    "workload_metadata_config",
    "upgrade_settings",
    "kubelet_config",
    "linux_node_config",
    "tags",
    "taints",
    "labels",
    "node_network_config",
    "gcfs_config",
    "gvnic",
    "confidential_nodes",
    "logging_config",
    "fast_socket",
    "resource_labels",
    "accelerators",
    "windows_node_config",
    "machine_type",
    "disk_type",
    "disk_size_gb",
)

_POOL_UPDATES = (
    "node_version",
    "image_type",
    "locations",
    "workload_metadata_config",
    "taints",
    "machine_type",
    "disk_type",
    "disk_size_gb",
)
"""The UpdateNodePoolRequest fields the stand-in applies; another is answered UNIMPLEMENTED, never ignored."""

_CLUSTER_UPDATES = ("desired_cluster_autoscaling", "desired_workload_identity_config")
"""Likewise for ClusterUpdate."""

_DEPRECATED = ("project_id", "zone", "cluster_id", "node_pool_id", "operation_id")
"""The request fields cluster_service.proto marks "Deprecated. … This field has been deprecated and replaced by the
name field" (or parent): the stand-in serves resource names only, and refuses these rather than answer
"Invalid resource name: ''"."""

_MAX_NODES_PER_ZONE = 1000
""""Nodes per node pool zone: 1,000" (https://cloud.google.com/kubernetes-engine/quotas, limits per cluster)."""


@attrs.define
class _Operation:
    proto: Any
    cluster: tuple[str, str, str]
    pool: str | None
    """The node pool it works on; ``None``: a cluster-level operation."""
    effect: Callable[[], None]
    polls_left: int
    error: str | None = None
    failed: Callable[[str], None] | None = None
    """What an operation ending in an error leaves behind (``None``: nothing changed)."""


def _version(text: str) -> tuple[int, int, int, int] | None:
    match = _VERSION.match(text)
    return None if match is None else (int(match[1]), int(match[2]), int(match[3]), int(match[4]))


def _order(text: str) -> tuple[int, int, int, int]:
    """A version's place among versions (what is not a version sorts first)."""
    return _version(text) or (0, 0, 0, 0)


class GkeStandIn(GrpcStandIn):
    """The stand-in server (see the module's documentation). ``polls`` is how many ``get_operation`` calls see an
    operation still running before it is done."""

    service = "google.container.v1.ClusterManager"

    def __init__(self, *, polls: int = 2) -> None:
        from google.cloud import container_v1

        super().__init__()
        self._types = container_v1
        self.polls = polls
        self._clusters: dict[tuple[str, str, str], Any] = {}
        self._versions: dict[tuple[str, str, str], tuple[str, ...]] = {}
        self._fleets: dict[tuple[str, str, str], str] = {}
        self._offers: dict[tuple[str, str], tuple[tuple[str, ...], str]] = {}
        self._operations: dict[tuple[str, str, str], _Operation] = {}
        self._failing_operations: dict[str, str] = {}
        self._ids = itertools.count(1)

    # ---- the method table ------------------------------------------------------------------------------------------

    def methods(self) -> dict[str, Method]:
        types = self._types
        table: dict[str, tuple[Any, Any, Callable[[Any], Any]]] = {
            "GetCluster": (types.GetClusterRequest, types.Cluster, self._get_cluster),
            "ListNodePools": (types.ListNodePoolsRequest, types.ListNodePoolsResponse, self._list_node_pools),
            "GetNodePool": (types.GetNodePoolRequest, types.NodePool, self._get_node_pool),
            "GetServerConfig": (types.GetServerConfigRequest, types.ServerConfig, self._get_server_config),
            "GetOperation": (types.GetOperationRequest, types.Operation, self._get_operation),
            "CreateNodePool": (types.CreateNodePoolRequest, types.Operation, self._create_node_pool),
            "UpdateNodePool": (types.UpdateNodePoolRequest, types.Operation, self._update_node_pool),
            "SetNodePoolAutoscaling": (
                types.SetNodePoolAutoscalingRequest,
                types.Operation,
                self._set_node_pool_autoscaling,
            ),
            "DeleteNodePool": (types.DeleteNodePoolRequest, types.Operation, self._delete_node_pool),
            "UpdateCluster": (types.UpdateClusterRequest, types.Operation, self._update_cluster),
            "CreateCluster": (types.CreateClusterRequest, types.Operation, self._create_cluster),
            "DeleteCluster": (types.DeleteClusterRequest, types.Operation, self._delete_cluster),
        }
        return {
            name: (request.deserialize, reply.serialize, _named_only(serve))
            for name, (request, reply, serve) in table.items()
        }

    def client(self) -> Any:
        """The real ``ClusterManagerClient``, over an insecure channel to this stand-in."""
        from google.cloud.container_v1.services.cluster_manager.transports.grpc import ClusterManagerGrpcTransport

        return self._types.ClusterManagerClient(transport=ClusterManagerGrpcTransport(channel=self.channel()))

    # ---- what a test arranges --------------------------------------------------------------------------------------

    def add_cluster(
        self,
        project: str,
        location: str,
        name: str,
        *,
        node_pools: tuple[Any, ...] = (),
        master_version: str = DEFAULT_MASTER_VERSION,
        valid_node_versions: Iterable[str] = (),
        autoscaling: Any = None,
        workload_pool: str = "",
        fleet_host_project: str = "",
    ) -> Any:
        """A cluster as GKE would hold it: its control plane at *master_version*, its node pools
        (``container_v1.NodePool`` messages; one without a version runs the control plane's, one without an image
        type GKE's default), its ``ClusterAutoscaling`` and Workload Identity pool. *valid_node_versions* are the
        versions ``UpdateNodePool`` offers (``ServerConfig.valid_node_versions``) besides the control plane's — not
        the pools' own: a version GKE no longer offers is refused when asked for, even where a pool runs it.
        *fleet_host_project*: the cluster is registered to a fleet whose host project is another, whose workload
        pool it may then take (fleet Workload Identity Federation)."""
        types = self._types
        if _version(master_version) is None:
            raise ValueError(f"{master_version!r} is not a GKE version such as {DEFAULT_MASTER_VERSION!r}")
        pools = [self._settled(pool, master_version, workload_pool) for pool in node_pools]
        cluster = types.Cluster(
            name=name,
            location=location,
            status=types.Cluster.Status.RUNNING,
            self_link=f"https://container.googleapis.com/v1/projects/{project}/locations/{location}/clusters/{name}",
            current_master_version=master_version,
            node_pools=pools,
        )
        if autoscaling is not None:
            cluster.autoscaling = autoscaling
        if workload_pool:
            cluster.workload_identity_config = types.WorkloadIdentityConfig(workload_pool=workload_pool)
        key = (project, location, name)
        offered = {master_version, *valid_node_versions}
        with self._lock:
            self._clusters[key] = cluster
            self._versions[key] = tuple(sorted(offered, key=_order))
            self._fleets[key] = fleet_host_project
            self._refresh_node_version(cluster)
        return cluster

    def offer_versions(self, project: str, location: str, versions: Iterable[str], *, default: str = "") -> None:
        """What ``GetServerConfig`` offers in *location* (``valid_master_versions``, ``valid_node_versions``) and so
        what ``CreateCluster`` takes there: *versions*, besides those of the clusters held there; *default* (the
        highest when empty) is ``default_cluster_version``, what a cluster created without a version runs."""
        offered = tuple(sorted(set(versions) | ({default} if default else set()), key=_order))
        for version in offered:
            if _version(version) is None:
                raise ValueError(f"{version!r} is not a GKE version such as {DEFAULT_MASTER_VERSION!r}")
        with self._lock:
            self._offers[(project, location)] = (offered, default)

    def cluster(self, project: str, location: str, name: str) -> Any:
        with self._lock:
            held = self._clusters[(project, location, name)]
            return self._types.Cluster.deserialize(self._types.Cluster.serialize(held))  # a copy

    def fail_operation(self, method: str, message: str) -> None:
        """The next operation *method* starts ends ``DONE`` with an error, and changes nothing — but a cluster whose
        ``CreateCluster`` fails, which stays in ``ERROR`` (with the error as its ``status_message``) until deleted."""
        with self._lock:
            self._failing_operations[method] = message

    def operations(self) -> list[Any]:
        """Every operation started, in order (copies: a list taken under the lock, never a generator holding it)."""
        with self._lock:
            return [type(op.proto).deserialize(type(op.proto).serialize(op.proto)) for op in self._operations.values()]

    # ---- serving: reading --------------------------------------------------------------------------------------------

    def _found(self, name: str) -> tuple[tuple[str, str, str], Any]:
        import grpc

        match = _CLUSTER.match(name)
        if match is None:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid resource name: {name!r}")
        key = (match.group(1), match.group(2), match.group(3))
        if key not in self._clusters:
            # "ResponseError: code=404, message=Not found: projects/sourcegraph-dogfood/locations/us-central1/clusters/
            # dogfood." (https://github.com/sourcegraph/handbook/pull/6308, get-credentials: a GetCluster), the same for
            # a node pool's parent ("Error 404: Not found: projects/xxxx/locations/europe-west1/clusters/gke-cluster.",
            # https://github.com/hashicorp/terraform-provider-google/issues/5229)
            raise Abort(grpc.StatusCode.NOT_FOUND, f"Not found: {name}.")
        return key, self._clusters[key]

    def _pool(self, name: str) -> tuple[tuple[str, str, str], Any, Any]:
        import grpc

        match = _POOL.match(name)
        if match is None:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid resource name: {name!r}")
        key, cluster = self._found(name.rsplit("/nodePools/", 1)[0])
        pool = next((p for p in cluster.node_pools if p.name == match.group(4)), None)
        if pool is None:
            raise Abort(grpc.StatusCode.NOT_FOUND, f"Not found: {name}.")
        return key, cluster, pool

    def _get_cluster(self, request: Any) -> Any:
        """The cluster — and, since GKE creates or deletes it whoever watches, a poll's time passed for the
        cluster-level operation running on it (a create or delete): a client that lost the operation (its runner
        killed, its answer lost) sees the cluster go from PROVISIONING to RUNNING (Cluster.Status) by reading it
        alone, as on GKE, where the operation goes on server-side. The stand-in's time is counted in polls."""
        key, _ = self._found(request.name)
        running = self._types.Operation.Status.RUNNING
        for operation in list(self._operations.values()):
            if operation.cluster == key and operation.pool is None and operation.proto.status == running:
                self._advance(operation)
        return self._found(request.name)[1]  # NOT_FOUND once a delete is done

    def _list_node_pools(self, request: Any) -> Any:
        return self._types.ListNodePoolsResponse(node_pools=list(self._found(request.parent)[1].node_pools))

    def _get_node_pool(self, request: Any) -> Any:
        return self._pool(request.name)[2]

    def _get_server_config(self, request: Any) -> Any:
        import grpc

        match = _LOCATION.match(request.name)
        if match is None:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid resource name: {request.name!r}")
        offered, default = self._server_versions(match.group(1), match.group(2))
        return self._types.ServerConfig(
            default_cluster_version=default,
            valid_master_versions=offered,
            valid_node_versions=offered,
            default_image_type=DEFAULT_IMAGE_TYPE,
            valid_image_types=list(_IMAGE_TYPES),
        )

    def _server_versions(self, project: str, location: str) -> tuple[list[str], str]:
        """The versions *location* offers, newest first, and its default: those a test offered there
        (``offer_versions``) and those of the clusters held there (their control plane's and ``valid_node_versions``);
        in a location the test said nothing of, what the project's locations offer together — a version reaches every
        region within days ("GKE follows a predictable multi-day rollout schedule for making new versions available
        … The rollout generally spans four or more days", https://cloud.google.com/kubernetes-engine/versioning-and-
        upgrades), so that a cluster copied to another region may ask its version there."""
        here = [versions for key, versions in self._versions.items() if key[:2] == (project, location)]
        if (project, location) in self._offers:
            given, default = self._offers[(project, location)]
            found = {*given, *(version for versions in here for version in versions)}
        else:
            default = ""
            found = {
                *(version for (owner, _), (given, _) in self._offers.items() if owner == project for version in given),
                *(version for key, versions in self._versions.items() if key[0] == project for version in versions),
            }
        offered = sorted(found, key=_order, reverse=True) or [DEFAULT_MASTER_VERSION]
        return offered, default or offered[0]

    def _get_operation(self, request: Any) -> Any:
        import grpc

        match = _OPERATION.match(request.name)
        if match is None:  # GKE returns a short name, and reads an operation back only by its full name
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid operation name: {request.name!r}")
        operation = self._operations.get((match.group(1), match.group(2), match.group(3)))
        if operation is None:  # another project or location holds no operation of that name
            raise Abort(grpc.StatusCode.NOT_FOUND, f"Not found: {request.name}.")
        self._advance(operation)
        return operation.proto

    def _advance(self, operation: _Operation) -> None:
        """One poll's time passes for *operation*: done (its effect, or its error) once ``polls`` have."""
        if operation.proto.status == self._types.Operation.Status.RUNNING:
            operation.polls_left -= 1
            if operation.polls_left <= 0:
                if operation.error is None:
                    operation.effect()
                else:
                    operation.proto.error = {"code": 9, "message": operation.error}
                    operation.proto.status_message = operation.error
                    if operation.failed is not None:
                        operation.failed(operation.error)
                if operation.cluster in self._clusters:  # not once DELETE_CLUSTER is done
                    self._refresh_node_version(self._clusters[operation.cluster])
                operation.proto.status = self._types.Operation.Status.DONE

    # ---- serving: changing -----------------------------------------------------------------------------------------

    def _start(
        self,
        method: str,
        key: tuple[str, str, str],
        kind: Any,
        target: str,
        effect: Callable[[], None],
        *,
        failed: Callable[[str], None] | None = None,
    ) -> Any:
        import grpc

        pool = target.rsplit("/nodePools/", 1)[1] if "/nodePools/" in target else None
        running = [
            op
            for op in self._operations.values()
            if op.cluster == key
            and op.proto.status == self._types.Operation.Status.RUNNING
            and (op.pool is None or pool is None or op.pool == pool)
        ]
        if running and running[0].proto.operation_type == self._types.Operation.Type.CREATE_CLUSTER:
            # Nothing else is done to a cluster being created, delete included: "code=400, message=Operation
            # operation-1708671573108-… is currently creating cluster ig-ci-gke-amd64-5476. Please wait and try again
            # once it is done." (https://github.com/inspektor-gadget/inspektor-gadget/issues/2535, a delete, 2024;
            # the status failedPrecondition as in https://github.com/hashicorp/terraform-provider-google/issues/10366)
            raise Abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"Operation {running[0].proto.name} is currently creating cluster {key[2]}. Please wait and try "
                "again once it is done.",
            )
        if running:
            # "Generally, GKE allows only one cluster-level operation or one operation per node pool to run at the
            # same time": a cluster-level operation waits for every other, a node pool's for the cluster's and that
            # pool's — refused in the first of the words GKE's page gives, "Cluster is running incompatible operation
            # OPERATION_NAME" (https://cloud.google.com/kubernetes-engine/docs/troubleshooting/concurrent-operations),
            # with GKE's status, 400 failedPrecondition.
            raise Abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"Cluster is running incompatible operation {running[0].proto.name}.",
            )
        number = next(self._ids)
        short = f"operation-{number}-{number * 2654435761 % 2**32:08x}"
        project, location, _ = key
        proto = self._types.Operation(
            name=short,
            zone=location,
            location=location,
            operation_type=kind,
            status=self._types.Operation.Status.RUNNING,
            self_link=f"https://container.googleapis.com/v1/projects/{project}/locations/{location}/operations/{short}",
            target_link=f"https://container.googleapis.com/v1/{target}",
        )
        self._operations[(project, location, short)] = _Operation(
            proto, key, pool, effect, self.polls, self._failing_operations.pop(method, None), failed
        )
        return proto

    def _settled(self, pool: Any, master_version: str, workload_pool: str) -> Any:
        settled = self._types.NodePool.deserialize(self._types.NodePool.serialize(pool))  # a copy
        settled.status = self._types.NodePool.Status.RUNNING
        if not settled.version:
            # "If unspecified, [the node version] defaults as described here" — the control plane's version
            # (NodePool.version; https://cloud.google.com/kubernetes-engine/versioning#specifying_node_version)
            settled.version = master_version
        settled.config.image_type = (settled.config.image_type or DEFAULT_IMAGE_TYPE).upper()
        modes = self._types.WorkloadMetadataConfig.Mode
        if not settled.config.workload_metadata_config.mode:
            # GKE fills the mode in, and in UpdateNodePool too: GCE_METADATA "when workload [identity] is not
            # configured", set back when a tool sends MODE_UNSPECIFIED
            # (https://gitlab.com/gitlab-org/gitlab-environment-toolkit/-/merge_requests/510); GKE_METADATA
            # "implied" on a cluster with Workload Identity (https://github.com/FairwindsOps/terraform-gke/pull/45)
            mode = modes.GKE_METADATA if workload_pool else modes.GCE_METADATA
            settled.config.workload_metadata_config = self._types.WorkloadMetadataConfig(mode=mode)
        return settled

    def _refresh_node_version(self, cluster: Any) -> None:
        # Cluster.current_node_version: "Deprecated, use NodePools.version instead. ... If they are currently at
        # multiple versions ..., this reflects the minimum version of all nodes." (cluster_service.proto)
        versions = [pool.version for pool in cluster.node_pools if _version(pool.version)]
        cluster.current_node_version = min(versions, key=_order) if versions else ""

    def _create_node_pool(self, request: Any) -> Any:
        import grpc

        key, cluster = self._found(request.parent)
        wanted = request.node_pool
        if any(pool.name == wanted.name for pool in cluster.node_pools):
            raise Abort(grpc.StatusCode.ALREADY_EXISTS, f"Already exists: {request.parent}/nodePools/{wanted.name}.")
        self._check_autoscaling(wanted.autoscaling, "node_pool.autoscaling")
        self._check_disk(wanted.config.disk_size_gb)
        self._check_workload_metadata(cluster, wanted.config)
        version = self._resolved(key, cluster, wanted.version) if wanted.version else cluster.current_master_version
        image = self._image(wanted.config.image_type) if wanted.config.image_type else DEFAULT_IMAGE_TYPE
        pool = self._settled(wanted, cluster.current_master_version, cluster.workload_identity_config.workload_pool)
        pool.version, pool.config.image_type = version, image
        return self._start(
            "CreateNodePool",
            key,
            self._types.Operation.Type.CREATE_NODE_POOL,
            f"{request.parent}/nodePools/{pool.name}",
            lambda: cluster.node_pools.append(pool),
        )

    def _update_node_pool(self, request: Any) -> Any:
        import grpc

        key, cluster, pool = self._pool(request.name)
        given = [field for field in _UPDATE_FIELDS if _given(request, field)]
        _modelled(given, _POOL_UPDATES, "UpdateNodePoolRequest")
        if not given:
            raise Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"At least one of [{', '.join(repr(field) for field in _UPDATE_FIELDS)}] must be specified.",
            )
        version = self._resolved(key, cluster, request.node_version) if request.node_version else pool.version
        image = self._image(request.image_type) if request.image_type else pool.config.image_type
        if request.disk_size_gb:
            self._check_disk(request.disk_size_gb)
        if "workload_metadata_config" in request:
            self._check_workload_metadata(cluster, request)

        def effect() -> None:
            pool.version = version
            pool.config.image_type = image
            if request.locations:
                pool.locations = list(request.locations)
            if request.machine_type:
                pool.config.machine_type = request.machine_type
            if request.disk_type:
                pool.config.disk_type = request.disk_type
            if request.disk_size_gb:
                pool.config.disk_size_gb = request.disk_size_gb
            if "taints" in request:
                pool.config.taints = list(request.taints.taints)
            if "workload_metadata_config" in request:
                pool.config.workload_metadata_config = request.workload_metadata_config
                if not request.workload_metadata_config.mode:  # MODE_UNSPECIFIED: GKE sets its own back (_settled)
                    settled = self._settled(
                        pool, cluster.current_master_version, cluster.workload_identity_config.workload_pool
                    )
                    pool.config.workload_metadata_config = settled.config.workload_metadata_config

        return self._start("UpdateNodePool", key, self._types.Operation.Type.UPGRADE_NODES, request.name, effect)

    def _resolved(self, key: tuple[str, str, str], cluster: Any, asked: str) -> str:
        """*asked* as UpdateNodePoolRequest.node_version reads it (cluster_service.proto): "-" picks the Kubernetes
        master version, "latest" the highest valid version, "1.X" the highest valid 1.X.*, "1.X.Y" the highest valid
        gke.N patch of 1.X.Y, "1.X.Y-gke.N" that version."""
        import grpc

        master = cluster.current_master_version
        offered = self._versions[key]
        if asked == "-":
            chosen = str(master)
        elif asked == "latest":
            chosen = offered[-1]
        else:
            matching = [version for version in offered if version == asked or version.startswith(f"{asked}.")]
            matching += [version for version in offered if version.startswith(f"{asked}-gke.")]
            if not matching or not re.match(r"^\d+\.\d+(\.\d+)?(-gke\.\d+)?$", asked):
                # "Error 400: Node version "1.13.6-gke.5" is unsupported., badRequest"
                # (https://github.com/jetstack/terraform-google-gke-cluster/issues/28)
                raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f'Node version "{asked}" is unsupported.')
            chosen = max(matching, key=_order)
        node, control = _version(chosen), _version(master)
        if node is not None and control is not None and node[:2] > control[:2]:
            # Nodes never run a newer minor version than the control plane: "Error 400: Node version "1.16.8-gke.9"
            # must not have a greater minor version than master version "1.15.11-gke.12"., badRequest"
            # (https://github.com/hashicorp/terraform-provider-google/issues/6405)
            raise Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f'Node version "{chosen}" must not have a greater minor version than master version "{master}".',
            )
        return chosen

    def _image(self, asked: str) -> str:
        import grpc

        if asked.upper() not in _IMAGE_TYPES:  # the wording is ours; the list is ServerConfig.valid_image_types
            raise Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f'Image type "{asked}" is unsupported; valid image types: {", ".join(_IMAGE_TYPES)}.',
            )
        return asked.upper()

    @staticmethod
    def _check_disk(size_gb: int) -> None:
        import grpc

        if size_gb and size_gb < 10:  # NodeConfig.disk_size_gb: "The smallest allowed disk size is 10GB." (ours)
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"Disk size must be at least 10 GB, got {size_gb} GB.")

    def _check_workload_metadata(self, cluster: Any, holder: Any) -> None:
        import grpc

        mode = holder.workload_metadata_config.mode
        if mode == self._types.WorkloadMetadataConfig.Mode.GKE_METADATA and not (
            cluster.workload_identity_config.workload_pool
        ):
            # "Workload Identity Federation for GKE must be enabled at the cluster level before you can enable
            # Workload Identity Federation for GKE on node pools."
            # (https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity; the status is GKE's usual
            # 400 badRequest for a change it does not take, the wording ours)
            raise Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "Workload Identity is not enabled on the cluster: the GKE_METADATA mode needs the cluster's "
                "workload_identity_config.workload_pool.",
            )

    def _check_autoscaling(self, scaling: Any, field: str) -> None:
        """NodePoolAutoscaling as cluster_service.proto bounds it: min_node_count "greater than or equal to 0 and
        less than or equal to max_node_count"; total_min_node_count likewise against total_max_node_count; "The
        total_*_node_count fields are mutually exclusive with the *_node_count fields"; at most 1,000 nodes per zone
        (https://cloud.google.com/kubernetes-engine/quotas). GKE answers 400 badRequest; the wording is ours."""
        import grpc

        def refuse(message: str) -> Abort:
            return Abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid {field}: {message}.")

        if not scaling.enabled:
            return
        low, high = scaling.min_node_count, scaling.max_node_count
        total_low, total_high = scaling.total_min_node_count, scaling.total_max_node_count
        if (low or high) and (total_low or total_high):
            raise refuse(
                "total_min_node_count and total_max_node_count cannot be used with min_node_count and max_node_count"
            )
        for name, value in (
            ("min_node_count", low),
            ("max_node_count", high),
            ("total_min_node_count", total_low),
            ("total_max_node_count", total_high),
        ):
            if value < 0:
                raise refuse(f"{name} must be greater than or equal to 0, got {value}")
        if low > high:
            raise refuse(f"min_node_count ({low}) must be less than or equal to max_node_count ({high})")
        if total_low > total_high:
            raise refuse(
                f"total_min_node_count ({total_low}) must be less than or equal to total_max_node_count ({total_high})"
            )
        if high > _MAX_NODES_PER_ZONE:
            raise refuse(f"max_node_count ({high}) is above the limit of {_MAX_NODES_PER_ZONE} nodes per zone")

    def _set_node_pool_autoscaling(self, request: Any) -> Any:
        key, _, pool = self._pool(request.name)
        self._check_autoscaling(request.autoscaling, "autoscaling")

        def effect() -> None:
            pool.autoscaling = request.autoscaling

        # The operation's type is not published for setAutoscaling: Operation.Type (cluster_service.proto) keeps
        # SET_NODE_POOL_MANAGEMENT for "The node pool's management field" and calls UPGRADE_NODES "most forms of
        # updates to node pools" — the stand-in answers UPGRADE_NODES, unverified.
        return self._start(
            "SetNodePoolAutoscaling", key, self._types.Operation.Type.UPGRADE_NODES, request.name, effect
        )

    def _delete_node_pool(self, request: Any) -> Any:
        key, cluster, pool = self._pool(request.name)

        def effect() -> None:
            cluster.node_pools = [p for p in cluster.node_pools if p.name != pool.name]

        return self._start("DeleteNodePool", key, self._types.Operation.Type.DELETE_NODE_POOL, request.name, effect)

    def _check_cluster_autoscaling(self, autoscaling: Any) -> None:
        import grpc

        limits = {limit.resource_type: limit for limit in autoscaling.resource_limits}
        if autoscaling.enable_node_autoprovisioning and not all(
            limits.get(kind) is not None and limits[kind].maximum > 0 for kind in ("cpu", "memory")
        ):
            # "Error 400: Resource limits for cpu, memory must be specified when enabling node autoprovisioning.,
            # badRequest" (https://github.com/hashicorp/terraform-provider-google/issues/24232, 2025)
            raise Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "Resource limits for cpu, memory must be specified when enabling node autoprovisioning.",
            )
        if limits and not autoscaling.enable_node_autoprovisioning:
            # GKE answered "Error 400: Resource limits are supported only with node autoprovisioning., badRequest"
            # in 2022 (https://github.com/aptos-labs/aptos-core/pull/5645)
            raise Abort(
                grpc.StatusCode.INVALID_ARGUMENT, "Resource limits are supported only with node autoprovisioning."
            )
        for kind, limit in limits.items():
            if limit.minimum < 0 or limit.minimum > limit.maximum:  # ResourceLimit: minimum and maximum amount
                raise Abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Invalid resource limit for {kind}: minimum {limit.minimum} must be between 0 and the maximum "
                    f"{limit.maximum}.",
                )

    def _update_cluster(self, request: Any) -> Any:
        key, cluster = self._found(request.name)
        update = request.update
        _modelled(
            [field for field in type(update).meta.fields if _given(update, field)], _CLUSTER_UPDATES, "ClusterUpdate"
        )
        if "desired_cluster_autoscaling" in update:
            self._check_cluster_autoscaling(update.desired_cluster_autoscaling)
        if "desired_workload_identity_config" in update:
            _check_workload_pool(
                update.desired_workload_identity_config.workload_pool, key[0], self._fleets.get(key, "")
            )

        def effect() -> None:
            if "desired_cluster_autoscaling" in update:
                cluster.autoscaling = update.desired_cluster_autoscaling
            if "desired_workload_identity_config" in update:
                # an empty pool turns Workload Identity off, as `gcloud container clusters update
                # --disable-workload-identity` asks (googlecloudsdk/api_lib/container/api_adapter.py)
                cluster.workload_identity_config = update.desired_workload_identity_config

        return self._start("UpdateCluster", key, self._types.Operation.Type.UPDATE_CLUSTER, request.name, effect)

    def _create_cluster(self, request: Any) -> Any:
        import grpc

        types = self._types
        match = _LOCATION.match(request.parent)
        if match is None:  # parent: "Specified in the format `projects/*/locations/*`" (cluster_service.proto)
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid resource name: {request.parent!r}")
        project, location = match.group(1), match.group(2)
        wanted = types.Cluster.deserialize(types.Cluster.serialize(request.cluster))  # a copy: it is kept
        _modelled([field for field in _CREATE_UNMODELLED if _given(wanted, field)], (), "Cluster (CreateCluster)")
        if not re.fullmatch(_CLUSTER_NAME, wanted.name):
            # "Invalid value for field "cluster.name": "my_cluster". Must be a match of regex '(?:[a-z](?:[-a-z0-9]
            # {0,38}[a-z0-9])?)' (only lowercase alphanumerics and '-' allowed, must start with a letter and end with
            # an alphanumeric, and must be no longer than 40 characters)." — code=400
            # (https://github.com/otrack/cloud-computing-infrastructures/pull/17, 2024); an empty name fails the
            # same regex (GKE's answer to an empty name is not published: assumed the same).
            raise Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f'Invalid value for field "cluster.name": "{wanted.name}". Must be a match of regex '
                f"'{_CLUSTER_NAME}' (only lowercase alphanumerics and '-' allowed, must start with a letter and end "
                "with an alphanumeric, and must be no longer than 40 characters).",
            )
        key = (project, location, wanted.name)
        name = f"{request.parent}/clusters/{wanted.name}"
        if key in self._clusters:
            # GKE answers code=409 "Already exists: projects/***/zones/us-west2-a/clusters/cilium-…."
            # (https://github.com/cilium/cilium/issues/25918) — also while the one of that name is being deleted
            # (rancher/hosted-providers-e2e, hosted/gke/p1/p1_provisioning_test.go: "a cluster in GKE exists with
            # the same name")
            raise Abort(grpc.StatusCode.ALREADY_EXISTS, f"Already exists: {name}.")
        self._check_cluster_pools(wanted, location)
        if "autoscaling" in wanted:
            self._check_cluster_autoscaling(wanted.autoscaling)
        fleet = wanted.fleet.project  # Fleet.project: "The Fleet host project … where this cluster will be registered"
        _check_workload_pool(wanted.workload_identity_config.workload_pool, project, fleet)
        for index, wanted_pool in enumerate(wanted.node_pools):
            self._check_autoscaling(wanted_pool.autoscaling, f"node_pools[{index}].autoscaling")
            self._check_disk(wanted_pool.config.disk_size_gb)
            self._check_workload_metadata(wanted, wanted_pool.config)
            if wanted_pool.config.image_type:
                self._image(wanted_pool.config.image_type)
        master = self._initial_version(project, location, wanted.initial_cluster_version)
        if not wanted.initial_cluster_version and "release_channel" not in wanted:
            # Cluster.release_channel: "If no release channel configuration and no version is specified, the
            # cluster is enrolled in the REGULAR channel with its default version" (cluster_service.proto); the
            # channel's own default version is the location's default here (ServerConfig.channels not modelled)
            wanted.release_channel = types.ReleaseChannel(channel=types.ReleaseChannel.Channel.REGULAR)

        cluster = self._provisioned(wanted, location, name, master)
        self._clusters[key] = cluster
        self._versions[key] = tuple(sorted(self._server_versions(project, location)[0], key=_order))
        self._fleets[key] = fleet
        self._refresh_node_version(cluster)

        def effect() -> None:
            # Cluster.Status: RUNNING "indicates the cluster has been created and is fully usable"
            cluster.status = types.Cluster.Status.RUNNING
            for pool in cluster.node_pools:
                pool.status = types.NodePool.Status.RUNNING

        def failed(message: str) -> None:
            # A create that fails leaves the cluster in ERROR: "The ERROR state indicates the cluster is unusable. It
            # will be automatically deleted. Details can be found in the `statusMessage` field." (Cluster.Status);
            # Terraform reads it back after a failed create ("GKE cluster … was created in an error state",
            # resource_container_cluster.go). The stand-in keeps it until DeleteCluster (no automatic deletion); the
            # pools' status then is not published: ERROR here, unverified.
            cluster.status = types.Cluster.Status.ERROR
            cluster.status_message = message
            for pool in cluster.node_pools:
                pool.status = types.NodePool.Status.ERROR

        return self._start("CreateCluster", key, types.Operation.Type.CREATE_CLUSTER, name, effect, failed=failed)

    def _provisioned(self, cluster: Any, location: str, name: str, master: str) -> Any:
        """*cluster* as CreateCluster starts it: in *location*, its control plane at *master*, ``PROVISIONING``."""
        types = self._types
        cluster.location = location
        cluster.zone = location  # Cluster.zone: deprecated, output only, the location's name
        cluster.self_link = f"https://container.googleapis.com/v1/{name}"
        cluster.status = types.Cluster.Status.PROVISIONING  # "the cluster is being created" (Cluster.Status)
        cluster.current_master_version = master
        if not cluster.locations and _ZONE.match(location):
            # a zonal cluster's nodes are in its zone when no node locations are given (GKE fills Cluster.locations
            # in: https://github.com/cloudpilot-ai/karpenter-provider-gcp/issues/438, "zonal europe-west4-a ->
            # Cluster.locations [europe-west4-a]"); a regional cluster's default zones are GKE's choice, not modelled
            cluster.locations = [location]
        pools = []
        for wanted_pool in cluster.node_pools:
            pool = self._settled(wanted_pool, master, cluster.workload_identity_config.workload_pool)
            # Every pool created with the cluster runs the control plane's version, whatever version it asks: a
            # cluster created at 1.X-1 with pools asking 1.X runs "v-XX-1 for both CP and NP"
            # (rancher/hosted-providers-e2e, hosted/gke/p1/p1_provisioning_test.go; rancher/gke-operator
            # pkg/gke/create.go sends NodePool.version); Terraform allows a node_version on create only "set to the
            # same value as min_master_version" (resource_container_cluster.go).
            pool.version = master
            if not pool.locations:
                # NodePool.locations: "If this value is unspecified during node pool creation, the Cluster.Locations
                # value will be used, instead." (cluster_service.proto)
                pool.locations = list(cluster.locations)
            pool.status = types.NodePool.Status.PROVISIONING  # "the node pool is being created" (NodePool.Status)
            pool.self_link = f"https://container.googleapis.com/v1/{name}/nodePools/{pool.name}"
            pools.append(pool)
        cluster.node_pools = pools
        if pools:
            # Cluster.node_config: "For responses, this field will be populated with the node configuration of the
            # first node pool." (cluster_service.proto)
            cluster.node_config = pools[0].config
        return cluster

    def _check_cluster_pools(self, wanted: Any, location: str) -> None:
        """A CreateClusterRequest's node pools: ``node_pools``, or else ``initial_node_count`` (and ``node_config``),
        never both; unique names; zones in the cluster's region."""
        import grpc

        types = self._types
        legacy = [field for field in ("initial_node_count", "node_config") if field in wanted]
        if wanted.node_pools and legacy:
            # Cluster.initial_node_count and node_config: "For requests, this field should only be used in lieu of a
            # "node_pool" object … Do not use this and a node_pool at the same time."; Cluster.node_pools: "This field
            # should not be set if "node_config" or "initial_node_count" are specified." (cluster_service.proto).
            # GKE's 400 badRequest; the wording ours.
            raise Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Cluster.node_pools cannot be used with Cluster.{' and Cluster.'.join(legacy)}: give each node "
                "pool its own initial_node_count and config.",
            )
        if not wanted.node_pools:
            if wanted.initial_node_count <= 0:
                # "Error 400: Cluster.initial_node_count must be greater than zero., badRequest" — a cluster with
                # no node pool (https://github.com/hashicorp/terraform-provider-google/issues/13540, and
                # rancher/hosted-providers-e2e hosted/gke/p1/p1_provisioning_test.go "with no nodepools")
                raise Abort(grpc.StatusCode.INVALID_ARGUMENT, "Cluster.initial_node_count must be greater than zero.")
            default = types.NodePool(
                name=_DEFAULT_POOL, initial_node_count=wanted.initial_node_count, config=wanted.node_config
            )
            wanted.node_pools = [default]
        seen: set[str] = set()
        for pool in wanted.node_pools:
            if not pool.name:
                # the field GKE names ("Invalid value for field "node_pool.name"", rancher/hosted-providers-e2e
                # hosted/gke/p1/p1_provisioning_test.go); the rest of the sentence ours
                raise Abort(grpc.StatusCode.INVALID_ARGUMENT, 'Invalid value for field "node_pool.name": "".')
            if pool.name in seen:
                # a cluster's node pools are named uniquely (CreateNodePool answers ALREADY_EXISTS for a second of a
                # name); GKE's 400 for two in one CreateClusterRequest is not published: the wording ours
                raise Abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f'Invalid value for field "node_pool.name": "{pool.name}": two node pools of one name.',
                )
            seen.add(pool.name)
        region = _region(location)
        for field, zones in [("cluster.locations", wanted.locations)] + [
            (f"node_pools[{pool.name}].locations", pool.locations) for pool in wanted.node_pools
        ]:
            outside = [zone for zone in zones if _region(zone) != region or not _ZONE.match(zone)]
            if outside:
                # --node-locations: "All zones must be in the same region as the cluster's master(s)"
                # (https://cloud.google.com/sdk/gcloud/reference/container/clusters/create); NodePool.locations are
                # Compute Engine zones. GKE's 400 badRequest; the wording ours.
                raise Abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Invalid {field}: {', '.join(outside)} {'is not a zone' if len(outside) == 1 else 'are not zones'}"
                    f" of the cluster's region {region}.",
                )

    def _initial_version(self, project: str, location: str, asked: str) -> str:
        """Cluster.initial_cluster_version as cluster_service.proto reads it: "latest" the highest valid version,
        "1.X" the highest valid 1.X.*, "1.X.Y" the highest gke.N patch of 1.X.Y, "1.X.Y-gke.N" that version, "" or
        "-" the default version — among the location's ``valid_master_versions`` (``GetServerConfig``)."""
        import grpc

        offered, default = self._server_versions(project, location)
        if asked in ("", "-"):
            return default
        if asked == "latest":
            return offered[0]
        matching = [
            version for version in offered if version == asked or version.startswith((f"{asked}.", f"{asked}-gke."))
        ]
        if matching and _ALIAS.match(asked):
            return max(matching, key=_order)
        if _version(asked) is not None:
            # "ResponseError: code=400, message=Master version "…" is unsupported" — an explicit version
            # (knative/test-infra's cluster creation script, https://github.com/knative/test-infra/issues/694)
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f'Master version "{asked}" is unsupported.')
        # an alias nothing matches: "No valid versions with the prefix "1.31" found" (code=400, the same script)
        raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f'No valid versions with the prefix "{asked}" found.')

    def _delete_cluster(self, request: Any) -> Any:
        types = self._types
        key, cluster = self._found(request.name)
        before = cluster.status

        def effect() -> None:
            # "Deletes the cluster, including the Kubernetes endpoint and all worker nodes." (ClusterManager.
            # DeleteCluster, cluster_service.proto): gone once the operation is done; its operations stay readable
            del self._clusters[key]
            self._versions.pop(key, None)
            self._fleets.pop(key, None)

        def failed(_message: str) -> None:
            cluster.status = before  # a delete made to fail changes nothing (what GKE leaves is not published)

        # refused while another operation runs, a create included ("Cluster is running incompatible operation …",
        # https://github.com/elastic/cloud-on-k8s/pull/9098, 2026; the create's words above)
        operation = self._start(
            "DeleteCluster", key, types.Operation.Type.DELETE_CLUSTER, request.name, effect, failed=failed
        )
        cluster.status = types.Cluster.Status.STOPPING  # "the cluster is being deleted" (Cluster.Status)
        return operation


def _named_only(serve: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """*serve*, refusing UNIMPLEMENTED a request that uses the deprecated fields (``_DEPRECATED``) — whether or not it
    also gives the name — rather than reading an empty name."""

    def named(request: Any) -> Any:
        import grpc

        given = [field for field in _DEPRECATED if _given(request, field)]
        if given:
            raise Abort(
                grpc.StatusCode.UNIMPLEMENTED,
                "the GKE stand-in serves resource names only (name or parent: projects/P/locations/L/clusters/C…): "
                f"{type(request).__name__} gives the deprecated {', '.join(given)}",
            )
        return serve(request)

    return named


def _region(location: str) -> str:
    """The region of a zone (``us-east1-b``: ``us-east1``) or of a region (itself)."""
    match = _ZONE.match(location)
    return location if match is None else match.group(1)


def _check_workload_pool(pool: str, project: str, fleet: str) -> None:
    import grpc

    allowed = [f"{project}.svc.id.goog", *([f"{fleet}.svc.id.goog"] if fleet else [])]
    if pool and pool not in allowed:
        # "The workload pool is always PROJECT_ID.svc.id.goog" — the cluster's own project
        # (https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity) — or, for a cluster registered
        # to a fleet whose host project is another, the fleet's, FLEET_PROJECT_ID.svc.id.goog
        # (https://cloud.google.com/kubernetes-engine/fleet-management/docs/use-workload-identity). The status is
        # GKE's 400 badRequest; the wording ours.
        raise Abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"Invalid workload pool {pool!r}: the cluster's workload pool is {' or '.join(allowed)}.",
        )


def _modelled(given: list[str], modelled: tuple[str, ...], kind: str) -> None:
    """Refuse (UNIMPLEMENTED) a field this stand-in does not apply, rather than accept it and change nothing."""
    import grpc

    unknown = [field for field in given if field not in modelled]
    if unknown:
        raise Abort(
            grpc.StatusCode.UNIMPLEMENTED,
            f"the GKE stand-in does not model {kind}.{', '.join(unknown)} (it applies {', '.join(modelled)})",
        )


def _given(request: Any, field: str) -> bool:
    """Whether *request* sets *field*: a message present, a list or text not empty, a number not zero (a field GKE
    named that this version of the proto does not have is never set)."""
    return field in type(request).meta.fields and field in request


if __name__ == "__main__":  # python -m findly_infra.testing.gke: served until interrupted
    from findly_infra.testing._launch import gke as launch

    raise SystemExit(launch())
