"""What the gRPC stand-ins of Google APIs share (``testing.gke``, ``testing.secret_manager``): a server on 127.0.0.1
serving a method table to the real clients, the calls received, and faults injected per method."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent import futures
from types import TracebackType
from typing import Any, Self

__all__ = ["Abort", "GrpcStandIn", "Method"]

Method = tuple[Callable[[bytes], Any], Callable[[Any], bytes], Callable[[Any], Any]]
"""(request deserializer, response serializer, the handler)."""


class Abort(Exception):  # noqa: N818 - a gRPC status the stand-in answers, not an error of ours
    def __init__(self, code: Any, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class GrpcStandIn:
    """A gRPC server for one service: ``methods()`` is the table the subclass serves."""

    service = ""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._faults: list[list[Any]] = []
        self._interleaved: list[list[Any]] = []
        self.calls: list[tuple[str, str]] = []
        """Each call received: (method, the resource name it named)."""
        self._server: Any = None
        self.address = ""
        self.port = 0
        """The port of 127.0.0.1 ``__enter__`` serves on (0: a free one)."""

    def methods(self) -> Mapping[str, Method]:
        raise NotImplementedError

    def fail(self, method: str, code: Any, message: str = "", *, times: int = 1) -> None:
        """The next *times* calls of *method* (``"GetCluster"``) end with the gRPC status *code*."""
        with self._lock:
            self._faults.append([method, code, message or f"{method} failed", times])

    def interleave(self, method: str, action: Callable[[], object], *, times: int = 1) -> None:
        """Run *action* as the next *times* calls of *method* arrive, before they are served: what another client did
        in between (a concurrent change between a read and a write)."""
        with self._lock:
            self._interleaved.append([method, action, times])

    def __enter__(self) -> Self:
        import grpc

        def handler(method: str, serve: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
            def answer(request: Any, context: Any) -> Any:
                try:
                    with self._lock:
                        self.calls.append((method, _resource(request)))
                        for step in self._interleaved:
                            if step[0] == method and step[2] > 0:
                                step[2] -= 1
                                step[1]()
                        for fault in self._faults:
                            if fault[0] == method and fault[3] > 0:
                                fault[3] -= 1
                                raise Abort(fault[1], fault[2])
                        return serve(request)
                except Abort as abort:
                    context.abort(abort.code, abort.message)

            return answer

        handlers = {
            method: grpc.unary_unary_rpc_method_handler(
                handler(method, serve), request_deserializer=decode, response_serializer=encode
            )
            for method, (decode, encode, serve) in self.methods().items()
        }
        # without SO_REUSEPORT (gRPC's default on Linux), so that a port another server listens on is refused rather
        # than shared with it
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=[("grpc.so_reuseport", 0)])
        self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(self.service, handlers),))
        port = self._server.add_insecure_port(f"127.0.0.1:{self.port}")
        if not port:  # older gRPC answers 0 where newer raises RuntimeError
            raise RuntimeError(f"cannot listen on 127.0.0.1:{self.port}")
        self.address = f"127.0.0.1:{port}"
        self._server.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._server is not None:
            self._server.stop(grace=None)

    def channel(self) -> Any:
        import grpc

        return grpc.insecure_channel(self.address)


def _resource(request: Any) -> str:
    for field in ("name", "parent", "resource"):
        value = getattr(request, field, "")
        if value:
            return str(value)
    secret = getattr(request, "secret", None)
    return str(getattr(secret, "name", "") or "")
