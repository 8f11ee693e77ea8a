"""A GKE API for tests: the ``google.container.v1.ClusterManager`` service over gRPC on 127.0.0.1, serving the real
proto messages to the real ``google-cloud-container`` client (there is no emulator for this API).

It holds state — clusters with their control plane's version, node pools with their version and image type, the
cluster's node auto-provisioning and Workload Identity settings, operations that finish after a number of polls — and
behaves as GKE does where a tool depends on it, each rule beside the reference it follows:

- resource names (``projects/P/locations/L/clusters/C[/nodePools/N]``), ``NOT_FOUND`` for what does not exist;
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

    def cluster(self, project: str, location: str, name: str) -> Any:
        with self._lock:
            held = self._clusters[(project, location, name)]
            return self._types.Cluster.deserialize(self._types.Cluster.serialize(held))  # a copy

    def fail_operation(self, method: str, message: str) -> None:
        """The next operation *method* starts ends ``DONE`` with an error, and changes nothing."""
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
        return self._found(request.name)[1]

    def _list_node_pools(self, request: Any) -> Any:
        return self._types.ListNodePoolsResponse(node_pools=list(self._found(request.parent)[1].node_pools))

    def _get_node_pool(self, request: Any) -> Any:
        return self._pool(request.name)[2]

    def _get_server_config(self, request: Any) -> Any:
        import grpc

        match = _LOCATION.match(request.name)
        if match is None:
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid resource name: {request.name!r}")
        offered = sorted(
            {version for key, versions in self._versions.items() if key[:2] == match.groups() for version in versions},
            key=_order,
            reverse=True,
        ) or [DEFAULT_MASTER_VERSION]
        return self._types.ServerConfig(
            default_cluster_version=offered[0],
            valid_master_versions=offered,
            valid_node_versions=offered,
            default_image_type=DEFAULT_IMAGE_TYPE,
            valid_image_types=list(_IMAGE_TYPES),
        )

    def _get_operation(self, request: Any) -> Any:
        import grpc

        match = _OPERATION.match(request.name)
        if match is None:  # GKE returns a short name, and reads an operation back only by its full name
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid operation name: {request.name!r}")
        operation = self._operations.get((match.group(1), match.group(2), match.group(3)))
        if operation is None:  # another project or location holds no operation of that name
            raise Abort(grpc.StatusCode.NOT_FOUND, f"Not found: {request.name}.")
        if operation.proto.status == self._types.Operation.Status.RUNNING:
            operation.polls_left -= 1
            if operation.polls_left <= 0:
                if operation.error is None:
                    operation.effect()
                    self._refresh_node_version(self._clusters[operation.cluster])
                else:
                    operation.proto.error = {"code": 9, "message": operation.error}
                    operation.proto.status_message = operation.error
                operation.proto.status = self._types.Operation.Status.DONE
        return operation.proto

    # ---- serving: changing -----------------------------------------------------------------------------------------

    def _start(self, method: str, key: tuple[str, str, str], kind: Any, target: str, effect: Callable[[], None]) -> Any:
        import grpc

        pool = target.rsplit("/nodePools/", 1)[1] if "/nodePools/" in target else None
        running = [
            op
            for op in self._operations.values()
            if op.cluster == key
            and op.proto.status == self._types.Operation.Status.RUNNING
            and (op.pool is None or pool is None or op.pool == pool)
        ]
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
            proto, key, pool, effect, self.polls, self._failing_operations.pop(method, None)
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
        import grpc

        key, cluster = self._found(request.name)
        update = request.update
        _modelled(
            [field for field in type(update).meta.fields if _given(update, field)], _CLUSTER_UPDATES, "ClusterUpdate"
        )
        if "desired_cluster_autoscaling" in update:
            self._check_cluster_autoscaling(update.desired_cluster_autoscaling)
        if "desired_workload_identity_config" in update:
            pool = update.desired_workload_identity_config.workload_pool
            fleet = self._fleets.get(key, "")
            allowed = [f"{key[0]}.svc.id.goog", *([f"{fleet}.svc.id.goog"] if fleet else [])]
            if pool and pool not in allowed:
                # "The workload pool is always PROJECT_ID.svc.id.goog" — the cluster's own project
                # (https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity) — or, for a cluster
                # registered to a fleet whose host project is another, the fleet's, FLEET_PROJECT_ID.svc.id.goog
                # (https://cloud.google.com/kubernetes-engine/fleet-management/docs/use-workload-identity). The
                # status is GKE's 400 badRequest; the wording ours.
                raise Abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Invalid workload pool {pool!r}: the cluster's workload pool is {' or '.join(allowed)}.",
                )

        def effect() -> None:
            if "desired_cluster_autoscaling" in update:
                cluster.autoscaling = update.desired_cluster_autoscaling
            if "desired_workload_identity_config" in update:
                # an empty pool turns Workload Identity off, as `gcloud container clusters update
                # --disable-workload-identity` asks (googlecloudsdk/api_lib/container/api_adapter.py)
                cluster.workload_identity_config = update.desired_workload_identity_config

        return self._start("UpdateCluster", key, self._types.Operation.Type.UPDATE_CLUSTER, request.name, effect)


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
