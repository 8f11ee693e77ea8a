"""A GKE API for tests: the ``google.container.v1.ClusterManager`` service over gRPC on 127.0.0.1, serving the real
proto messages to the real ``google-cloud-container`` client (there is no emulator for this API).

It holds state — clusters, their node pools, operations that finish after a number of polls — and behaves as GKE does
where a tool depends on it: resource names (``projects/P/locations/L/clusters/C[/nodePools/N]``), ``NOT_FOUND`` for
what does not exist, operations returned with a short name and read back only by their full path, one operation at a
time per cluster (``FAILED_PRECONDITION`` while one runs), a change visible once its operation is ``DONE``. A test can
make any method fail (``fail``), make the next operation of a method end in an error (``fail_operation``), and read
every call it received (``calls``).

    with GkeStandIn() as gke:
        gke.add_cluster("findly-now", "us-central1", "findly-production")
        client = gke.client()   # container_v1.ClusterManagerClient over an insecure channel to the stand-in
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from findly_infra.testing._grpc import Abort, GrpcStandIn, Method

__all__ = ["GkeStandIn"]

_CLUSTER = re.compile(r"^projects/([^/]+)/locations/([^/]+)/clusters/([^/]+)$")
_POOL = re.compile(r"^projects/([^/]+)/locations/([^/]+)/clusters/([^/]+)/nodePools/([^/]+)$")
_OPERATION = re.compile(r"^projects/([^/]+)/locations/([^/]+)/operations/([^/]+)$")


@attrs.define
class _Operation:
    proto: Any
    cluster: tuple[str, str, str]
    effect: Callable[[], None]
    polls_left: int
    error: str | None = None


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
        self._operations: dict[str, _Operation] = {}
        self._failing_operations: dict[str, str] = {}
        self._ids = itertools.count(1)

    # ---- the method table ------------------------------------------------------------------------------------------

    def methods(self) -> dict[str, Method]:
        types = self._types
        table: dict[str, tuple[Any, Any, Callable[[Any], Any]]] = {
            "GetCluster": (types.GetClusterRequest, types.Cluster, self._get_cluster),
            "ListNodePools": (types.ListNodePoolsRequest, types.ListNodePoolsResponse, self._list_node_pools),
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
        return {name: (request.deserialize, reply.serialize, serve) for name, (request, reply, serve) in table.items()}

    def client(self) -> Any:
        """The real ``ClusterManagerClient``, over an insecure channel to this stand-in."""
        from google.cloud.container_v1.services.cluster_manager.transports.grpc import ClusterManagerGrpcTransport

        return self._types.ClusterManagerClient(transport=ClusterManagerGrpcTransport(channel=self.channel()))

    # ---- what a test arranges --------------------------------------------------------------------------------------

    def add_cluster(self, project: str, location: str, name: str, *, node_pools: tuple[Any, ...] = ()) -> Any:
        """A cluster as GKE would hold it (its node pools: ``container_v1.NodePool`` messages)."""
        types = self._types
        cluster = types.Cluster(
            name=name,
            location=location,
            status=types.Cluster.Status.RUNNING,
            self_link=f"https://container.googleapis.com/v1/projects/{project}/locations/{location}/clusters/{name}",
            node_pools=[self._settled(pool) for pool in node_pools],
        )
        with self._lock:
            self._clusters[(project, location, name)] = cluster
        return cluster

    def cluster(self, project: str, location: str, name: str) -> Any:
        with self._lock:
            held = self._clusters[(project, location, name)]
            return self._types.Cluster.deserialize(self._types.Cluster.serialize(held))  # a copy

    def fail_operation(self, method: str, message: str) -> None:
        """The next operation *method* starts ends ``DONE`` with an error, and changes nothing."""
        with self._lock:
            self._failing_operations[method] = message

    # ---- serving -----------------------------------------------------------------------------------------------------

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

    def _get_operation(self, request: Any) -> Any:
        import grpc

        match = _OPERATION.match(request.name)
        if match is None:  # GKE returns a short name, and reads an operation back only by its full path
            raise Abort(grpc.StatusCode.INVALID_ARGUMENT, f"Invalid operation name: {request.name!r}")
        operation = self._operations.get(match.group(3))
        if operation is None:
            raise Abort(grpc.StatusCode.NOT_FOUND, f"Not found: {request.name}.")
        if operation.proto.status == self._types.Operation.Status.RUNNING:
            operation.polls_left -= 1
            if operation.polls_left <= 0:
                if operation.error is None:
                    operation.effect()
                else:
                    operation.proto.error = {"code": 9, "message": operation.error}
                    operation.proto.status_message = operation.error
                operation.proto.status = self._types.Operation.Status.DONE
        return operation.proto

    def _start(self, method: str, key: tuple[str, str, str], kind: Any, target: str, effect: Callable[[], None]) -> Any:
        import grpc

        running = [
            op
            for op in self._operations.values()
            if op.cluster == key and op.proto.status == self._types.Operation.Status.RUNNING
        ]
        if running:
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
            operation_type=kind,
            status=self._types.Operation.Status.RUNNING,
            self_link=f"https://container.googleapis.com/v1/projects/{project}/locations/{location}/operations/{short}",
            target_link=target,
        )
        self._operations[short] = _Operation(proto, key, effect, self.polls, self._failing_operations.pop(method, None))
        return proto

    def _settled(self, pool: Any) -> Any:
        settled = self._types.NodePool.deserialize(self._types.NodePool.serialize(pool))  # a copy
        settled.status = self._types.NodePool.Status.RUNNING
        return settled

    def _create_node_pool(self, request: Any) -> Any:
        import grpc

        key, cluster = self._found(request.parent)
        if any(pool.name == request.node_pool.name for pool in cluster.node_pools):
            raise Abort(
                grpc.StatusCode.ALREADY_EXISTS, f"Already exists: {request.parent}/nodePools/{request.node_pool.name}."
            )
        pool = self._settled(request.node_pool)
        return self._start(
            "CreateNodePool",
            key,
            self._types.Operation.Type.CREATE_NODE_POOL,
            f"{request.parent}/nodePools/{pool.name}",
            lambda: cluster.node_pools.append(pool),
        )

    def _update_node_pool(self, request: Any) -> Any:
        key, _, pool = self._pool(request.name)

        def effect() -> None:
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

        return self._start("UpdateNodePool", key, self._types.Operation.Type.UPGRADE_NODES, request.name, effect)

    def _set_node_pool_autoscaling(self, request: Any) -> Any:
        key, _, pool = self._pool(request.name)

        def effect() -> None:
            pool.autoscaling = request.autoscaling

        return self._start(
            "SetNodePoolAutoscaling", key, self._types.Operation.Type.SET_NODE_POOL_MANAGEMENT, request.name, effect
        )

    def _delete_node_pool(self, request: Any) -> Any:
        key, cluster, pool = self._pool(request.name)

        def effect() -> None:
            cluster.node_pools = [p for p in cluster.node_pools if p.name != pool.name]

        return self._start("DeleteNodePool", key, self._types.Operation.Type.DELETE_NODE_POOL, request.name, effect)

    def _update_cluster(self, request: Any) -> Any:
        key, cluster = self._found(request.name)

        def effect() -> None:
            if "desired_cluster_autoscaling" in request.update:
                cluster.autoscaling = request.update.desired_cluster_autoscaling

        return self._start("UpdateCluster", key, self._types.Operation.Type.UPDATE_CLUSTER, request.name, effect)

    def operations(self) -> Iterator[Any]:
        with self._lock:
            yield from (operation.proto for operation in self._operations.values())
