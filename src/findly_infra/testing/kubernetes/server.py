"""A Kubernetes API server on 127.0.0.1 for tests: the real ``kubernetes`` client and ``kubectl`` talk to it over HTTP.

It behaves as kube-apiserver does where a deployment tool depends on it, each rule beside the source it follows:

- **types**: discovery (``/api``, ``/apis``, ``/version``); the built-in kinds validated against their real OpenAPI
  schemas (``kubernetes-validate``'s), the custom resources against their CustomResourceDefinitions (``crds``: Istio's
  published schemas and CEL rules, GKE's ManagedCertificate, the Prometheus operator's PrometheusRule, Argo CD's
  Application and Flux's Kustomization; ``crds=`` adds others), with the ``default``s their schemas declare; a
  create's, update's or patch's unknown fields refused with ``fieldValidation=Strict`` (400, 422), dropped
  with a ``Warning`` header otherwise, and a server-side apply's refused with the 500 kube-apiserver answers whatever
  ``fieldValidation`` says;
  names, labels, annotations, Services and Deployments' selectors validated as the server validates them, each error
  worded as it words them (``validation``); a namespace that does not exist refused (404); defaults and allocations
  set (a Deployment's replicas and strategy, a Service's type, affinity and cluster IP, ports' protocol, a
  Namespace's ``kubernetes.io/metadata.name`` label);
- **writes**: create (409 AlreadyExists), replace (PUT, 409 Conflict on a stale ``resourceVersion``), delete (with
  ``DeleteOptions`` from the body or the query: ``dryRun``, preconditions), JSON merge patch, JSON patch, strategic
  merge patch, and **server-side apply** with ``managedFields``: conflicts between managers (409, worded and caused
  as ``NewConflictError`` words them), ``force``, removal of what a manager stopped applying, create-on-apply, and
  the 500 a real server answers an apply its schema cannot type; ``dryRun=All``; the
  status subresource (object writes leave ``.status`` alone; ``/status`` writes only it) and a Deployment's ``/scale``
  (``autoscaling/v1`` Scale); ``generation`` moves with the spec; ``resourceVersion`` with every change (an unchanged
  apply changes nothing);
- **reads**: get, list (with ``labelSelector``, ``fieldSelector=metadata.name=``, and pages: ``limit``/``continue``,
  ``remainingItemCount``, 410 once compacted), and **watch** from a ``resourceVersion`` (410 Gone when it is older
  than :meth:`KubernetesStandIn.compact` kept);
- **a cluster as it starts**: the ``default``, ``kube-system``, ``kube-public`` and ``kube-node-lease`` namespaces;
- **faults**, per test (:meth:`KubernetesStandIn.fail`): a status (409, 429 with ``Retry-After``, 500, 403) for the
  next matching requests, a slow response, a watch dropped after some events;
- **a controller the test drives** (not the adapter): :meth:`mark_ready` / :meth:`mark_failed` write a Deployment's
  status through the status subresource, as kube-controller-manager would;
- **an audit log**: every request as (verb, resource, namespace, name, subresource), for least-privilege checks.

What it does not do is listed in ``docs/testing.md``.

    with KubernetesStandIn() as cluster:
        client = kubernetes.client.ApiClient(cluster.configuration())
        ...
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import json
import posixpath
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs

from findly_infra.testing.kubernetes import fields, validation
from findly_infra.testing.kubernetes.crds import CUSTOM_RESOURCE_DEFINITIONS
from findly_infra.testing.kubernetes.schemas import ResourceType, Schemas, kind_table, schemas
from findly_infra.testing.kubernetes.validation import FieldError

__all__ = ["APIError", "AuditRecord", "Fault", "KubernetesStandIn"]

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_LABEL_KINDS = {"Namespace", "Service"}
_BOOKKEEPING: tuple[fields.Path, ...] = (
    (("f", "metadata"), ("f", "managedFields")),
    (("f", "metadata"), ("f", "resourceVersion")),
    (("f", "metadata"), ("f", "generation")),
    (("f", "metadata"), ("f", "uid")),
    (("f", "metadata"), ("f", "creationTimestamp")),
    (("f", "metadata"), ("f", "name")),
    (("f", "metadata"), ("f", "namespace")),
    (("f", "apiVersion"),),
    (("f", "kind"),),
)
_STATUS: tuple[fields.Path, ...] = ((("f", "status"),),)
SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
"""The namespaces a cluster has from the start, created by kube-apiserver's system namespaces controller
(pkg/controlplane/controller/systemnamespaces: ``NamespaceSystem``, ``NamespacePublic``, ``NamespaceNodeLease``,
``NamespaceDefault``)."""
METADATA_NAME_LABEL = "kubernetes.io/metadata.name"
"""Set by the API server on every Namespace to its name, whatever a write says (``SetDefaults_Namespace`` and the
namespace strategy's ``Canonicalize``, pkg/registry/core/namespace/strategy.go)."""


class _Dropped(Exception):  # noqa: N818 - a signal, not an error
    """A watch the fault drops: the connection closes mid-stream, with no end."""


class APIError(Exception):
    """A request the server answers with a ``Status`` of failure."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details = dict(details or {})
        self.headers = dict(headers or {})
        self.metadata = dict(metadata or {})

    def status(self) -> dict[str, Any]:
        """The ``metav1.Status`` body: empty ``reason`` and ``details`` left out, as Go's ``omitempty`` does (an error
        that is not a Status answers 500 with neither: ``responsewriters.ErrorToAPIStatus``)."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": dict(self.metadata),
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            body["reason"] = self.reason
        if self.details:
            body["details"] = {k: v for k, v in self.details.items() if v not in ("", None, [])}
        body["code"] = self.code
        return body


def _not_found(resource: ResourceType, name: str) -> APIError:
    """``errors.NewNotFound(qualifiedResource, name)``: ``deployments.apps "x" not found``."""
    return APIError(
        404,
        "NotFound",
        f'{resource.qualified} "{name}" not found',
        details={"name": name, "group": resource.group, "kind": resource.plural},
    )


_NO_ROUTE = "the server could not find the requested resource"
"""What kube-apiserver answers a path it serves nothing at (``pkg/util/notfoundhandler``), as a 404 ``NotFound``."""


@attrs.define
class Fault:
    """What the next matching requests get instead of an answer (see :meth:`KubernetesStandIn.fail`)."""

    method: str | None
    path: re.Pattern[str]
    status: int = 0
    times: int = 1
    retry_after: int | None = None
    delay: float = 0.0
    drop_watch_after: int | None = None
    message: str = ""

    def matches(self, method: str, path: str) -> bool:
        return self.times > 0 and (self.method is None or self.method == method) and bool(self.path.search(path))


@attrs.frozen
class AuditRecord:
    """One request, as RBAC sees it."""

    verb: str
    group: str
    resource: str
    subresource: str
    namespace: str
    name: str


@attrs.define
class _Owner:
    paths: set[fields.Path]
    operation: str
    api_version: str
    time: str
    subresource: str = ""


@attrs.define
class _Target:
    resource: ResourceType
    namespace: str
    name: str
    subresource: str


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class KubernetesStandIn:
    """The server, its objects and its controls. Use as a context manager (it serves from ``__enter__``)."""

    def __init__(
        self,
        *,
        schema_set: Schemas | None = None,
        omit_groups: Iterable[str] = (),
        crds: Iterable[Mapping[str, Any]] = (),
        unfaithful_lenient_apply: bool = False,
    ) -> None:
        """*omit_groups*: API groups this cluster does not serve (``networking.istio.io``: Istio is not installed).
        *crds*: CustomResourceDefinitions (``apiextensions.k8s.io/v1`` documents, such as the ones Istio publishes)
        served besides or instead of the stand-in's own (``crds.CUSTOM_RESOURCE_DEFINITIONS``): a kind they define
        replaces the stand-in's version of it.

        A server-side apply whose body does not fit the kind's schema (a field it does not declare, two items of a
        keyed list with one key, a scalar of another type) is answered as kube-apiserver answers it — HTTP 500,
        ``failed to create typed patch object (NS/NAME; GROUP/VERSION, Kind=KIND): .spec.x: field not declared in
        schema``, whatever ``fieldValidation`` says (kubernetes/kubernetes#122480, #139253: structured-merge-diff's
        typing error is not a Status). *unfaithful_lenient_apply* turns that off, for a test that needs the
        leniency no real server has: such an apply's undeclared fields are then dropped, with a ``Warning`` header
        (none with ``fieldValidation=Ignore``), and a mistyped value is judged by the schema as a create's is
        (422)."""
        self.schemas = schema_set or schemas()
        omitted = set(omit_groups)
        definitions = {(d["spec"]["group"], d["spec"]["names"]["kind"]): d for d in CUSTOM_RESOURCE_DEFINITIONS}
        definitions.update({(d["spec"]["group"], d["spec"]["names"]["kind"]): d for d in crds})
        self.kinds = tuple(kind for kind in kind_table(definitions.values()) if kind.group not in omitted)
        self.unfaithful_lenient_apply = unfaithful_lenient_apply
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._owners: dict[tuple[str, str, str], dict[tuple[str, str], _Owner]] = {}
        self._events: list[tuple[int, str, str, dict[str, Any]]] = []  # (rv, plural.group, type, object)
        self._base: dict[tuple[str, str, str], dict[str, Any]] = {}  # every object as it was when history starts
        self._compacted = 0
        self._version = 100
        self._allocated: set[str] = set()
        self._faults: list[Fault] = []
        self.audit: list[AuditRecord] = []
        self.requests = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        namespace = self._kind("v1", "Namespace")
        for name in SYSTEM_NAMESPACES:  # kube-apiserver's bootstrap controller creates them (pkg/controlplane)
            body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            self._write(_Target(namespace, "", name, ""), "create", body, manager="kube-apiserver", params={})

    # ---- lifecycle -------------------------------------------------------------------------------------------------

    def __enter__(self) -> KubernetesStandIn:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def start(self, port: int = 0) -> str:
        """Serve on *port* of 127.0.0.1 (0: a free one); returns :attr:`url`."""
        stand_in = self

        class Handler(_Handler):
            server_side = stand_in

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="kubernetes-stand-in", daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            with self._changed:
                self._changed.notify_all()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def configuration(self) -> Any:
        """A ``kubernetes.client.Configuration`` for this server (the client library is imported here)."""
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = self.url
        return configuration

    def kubeconfig(self, context: str = "stand-in", namespace: str = "default") -> dict[str, Any]:
        """A kubeconfig document naming this server (write it to a file for ``KUBECONFIG``, ``kubectl``)."""
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": {"server": self.url}}],
            "users": [{"name": context, "user": {"token": "stand-in"}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}],
            "current-context": context,
        }

    # ---- controls for tests ----------------------------------------------------------------------------------------

    def fail(
        self,
        status: int = 0,
        *,
        method: str | None = None,
        path: str = "",
        times: int = 1,
        retry_after: int | None = None,
        delay: float = 0.0,
        drop_watch_after: int | None = None,
        message: str = "",
    ) -> Fault:
        """The next *times* requests whose method is *method* (any: ``None``) and whose path matches the regular
        expression *path* are answered with *status* (after *delay* seconds; with ``Retry-After`` for a 429), or
        only delayed (*status* 0), or — a watch — dropped after *drop_watch_after* events."""
        fault = Fault(method, re.compile(path), status, times, retry_after, delay, drop_watch_after, message)
        with self._lock:
            self._faults.append(fault)
        return fault

    def compact(self) -> int:
        """Forget the change history up to now, as etcd compaction does: a watch from an older version gets 410, and
        so does a list continued from a page read before (``continue`` tokens name the version they list)."""
        with self._lock:
            self._compacted = self._version
            self._events.clear()
            by_name = {kind.qualified: kind for kind in self.kinds}
            self._base = {key: self._rendered(by_name[key[0]], obj) for key, obj in self._objects.items()}
            return self._version

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The stored object (with its ``managedFields``), or ``None``."""
        resource = self._kind(api_version, kind)
        with self._lock:
            found = self._objects.get((resource.qualified, namespace if resource.namespaced else "", name))
            return None if found is None else self._rendered(resource, found)

    def objects(self, api_version: str, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        resource = self._kind(api_version, kind)
        with self._lock:
            return [
                self._rendered(resource, obj)
                for (qualified, ns, _), obj in sorted(self._objects.items())
                if qualified == resource.qualified and (namespace is None or ns == namespace)
            ]

    def apply(self, manifest: Mapping[str, Any], *, manager: str = "test", force: bool = False) -> dict[str, Any]:
        """Server-side apply *manifest* as *manager*, as a test's own hand (an administrator, another controller):
        the same path as a request, without HTTP and without the audit log. A manifest read back from the stand-in
        may be applied as it is: its ``managedFields`` are left out, as a hand edit of a read object leaves them (a
        request that sends them is refused, as kube-apiserver refuses it)."""
        resource = self._kind(str(manifest.get("apiVersion")), str(manifest.get("kind")))
        body = copy.deepcopy(dict(manifest))
        metadata = body.get("metadata") or {}
        if isinstance(metadata, dict):
            metadata.pop("managedFields", None)
        target = _Target(resource, str(metadata.get("namespace", "")), str(metadata.get("name", "")), "")
        params = {"force": "true"} if force else {}
        return self._write(target, "apply", body, manager=manager, params=params)

    def patch(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        name: str,
        patch: Mapping[str, Any],
        *,
        subresource: str = "",
        manager: str = "test",
    ) -> dict[str, Any]:
        """JSON merge patch (RFC 7386) the object — or its ``status`` subresource, *subresource* ``"status"`` — as
        *manager*, as a test's own hand or a controller the test plays (``testing.gitops``): the same path as a
        request, without HTTP and without the audit log. Raises :class:`APIError` as the request would be answered."""
        resource = self._kind(api_version, kind)
        target = _Target(resource, namespace if resource.namespaced else "", name, subresource)
        return self._write(target, "merge", copy.deepcopy(dict(patch)), manager=manager, params={})

    @contextlib.contextmanager
    def controller(self, *, failing: Iterable[str] = (), interval: float = 0.02) -> Iterator[set[str]]:
        """While in the block, play kube-controller-manager: every Deployment whose current generation it has not
        observed is marked ready (:meth:`mark_ready`) — or, named in *failing*, failed past its progress deadline.
        Yields the set of failing names, which the test may change as it goes."""
        fail, stop = set(failing), threading.Event()

        def run() -> None:
            while not stop.wait(interval):
                with self._lock:
                    pending = [
                        (obj["metadata"]["namespace"], obj["metadata"]["name"])
                        for (qualified, _, _), obj in self._objects.items()
                        if qualified == "deployments.apps"
                        and (obj.get("status") or {}).get("observedGeneration") != obj["metadata"].get("generation")
                    ]
                for namespace, name in pending:
                    with contextlib.suppress(KeyError):
                        if name in fail:
                            self.mark_failed(namespace, name)
                        else:
                            self.mark_ready(namespace, name)

        thread = threading.Thread(target=run, name="stand-in-controller", daemon=True)
        thread.start()
        try:
            yield fail
        finally:
            stop.set()
            thread.join()

    def mark_ready(self, namespace: str, name: str) -> dict[str, Any]:
        """Do what kube-controller-manager does once a Deployment's pods are up: every replica updated, ready and
        available for its current generation."""
        return self._deployment_status(namespace, name, ready=True)

    def mark_failed(self, namespace: str, name: str, *, unavailable: int | None = None) -> dict[str, Any]:
        """A Deployment whose rollout exceeded its progress deadline (``Progressing=False``,
        ``ProgressDeadlineExceeded``), with *unavailable* replicas (default: all)."""
        return self._deployment_status(namespace, name, ready=False, unavailable=unavailable)

    def _deployment_status(
        self, namespace: str, name: str, *, ready: bool, unavailable: int | None = None
    ) -> dict[str, Any]:
        resource = self._kind("apps/v1", "Deployment")
        with self._lock:
            live = self._objects.get((resource.qualified, namespace, name))
            if live is None:
                raise KeyError(f"no Deployment {namespace}/{name}")
            replicas = int(live.get("spec", {}).get("replicas", 1))
            down = replicas if unavailable is None else unavailable
            at = _now()
            if ready:
                status = {
                    "observedGeneration": live["metadata"]["generation"],
                    "replicas": replicas,
                    "updatedReplicas": replicas,
                    "readyReplicas": replicas,
                    "availableReplicas": replicas,
                    "conditions": [
                        _condition(
                            "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", at
                        ),
                        _condition(
                            "Progressing",
                            "True",
                            "NewReplicaSetAvailable",
                            f'ReplicaSet "{name}" has successfully progressed.',
                            at,
                        ),
                    ],
                }
            else:
                status = {
                    "observedGeneration": live["metadata"]["generation"],
                    "replicas": replicas,
                    "updatedReplicas": replicas,
                    "readyReplicas": replicas - down,
                    "availableReplicas": replicas - down,
                    "unavailableReplicas": down,
                    "conditions": [
                        _condition(
                            "Available",
                            "False",
                            "MinimumReplicasUnavailable",
                            "Deployment does not have minimum availability.",
                            at,
                        ),
                        _condition(
                            "Progressing",
                            "False",
                            "ProgressDeadlineExceeded",
                            f'ReplicaSet "{name}" has timed out progressing.',
                            at,
                        ),
                    ],
                }
            target = _Target(resource, namespace, name, "status")
            body = {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": namespace},
                "status": status,
            }
            return self._write(target, "merge", body, manager="kube-controller-manager", params={})

    # ---- the store -------------------------------------------------------------------------------------------------

    def _kind(self, api_version: str, kind: str) -> ResourceType:
        for candidate in self.kinds:
            if candidate.api_version == api_version and candidate.kind == kind:
                return candidate
        raise APIError(404, "NotFound", _NO_ROUTE)

    def _rendered(self, resource: ResourceType, obj: Mapping[str, Any]) -> dict[str, Any]:
        out = copy.deepcopy(dict(obj))
        key = (resource.qualified, out["metadata"].get("namespace", ""), out["metadata"]["name"])
        owners = self._owners.get(key, {})
        if owners:
            out["metadata"]["managedFields"] = [
                {
                    "manager": manager,
                    "operation": owner.operation,
                    "apiVersion": owner.api_version,
                    "time": owner.time,
                    "fieldsType": "FieldsV1",
                    "fieldsV1": fields.encode_fields(owner.paths),
                    **({"subresource": owner.subresource} if owner.subresource else {}),
                }
                for (manager, _), owner in sorted(owners.items(), key=lambda item: (item[0][1], item[0][0]))
            ]
        return out

    def _record(self, resource: ResourceType, kind: str, obj: dict[str, Any]) -> None:
        self._events.append((self._version, resource.qualified, kind, self._rendered(resource, obj)))
        self._changed.notify_all()

    def _write(  # noqa: PLR0912, PLR0915 - the one write path every verb shares
        self,
        target: _Target,
        how: str,
        body: Any,
        *,
        manager: str,
        params: Mapping[str, str],
        precondition: str | None = None,
    ) -> dict[str, Any]:
        """Create (``create``), replace (``replace``), patch (``merge``/``json``/``strategic``) or apply (``apply``)
        one object, all or nothing; returns the object as stored (or as it would be, with ``dryRun``)."""
        resource = target.resource
        namespace = target.namespace if resource.namespaced else ""
        key = (resource.qualified, namespace, target.name)
        dry_run = _dry_run(params.get("dryRun"))
        strict = params.get("fieldValidation") == "Strict"
        force = params.get("force") == "true"
        warnings: list[str] = []
        with self._lock:
            live = self._objects.get(key)
            if how == "apply" and isinstance(body, dict) and target.subresource in ("", "status"):
                self._check_apply_body(resource, body)
            if how in ("create", "replace", "apply"):
                if not isinstance(body, dict):
                    raise APIError(400, "BadRequest", "the request body is not an object")
                # the handlers check the object's namespace and name before storage and admission (where a namespace
                # that does not exist is refused): create.go, update.go, patch.go
                self._check_identity(resource, target, body, apply_to_live=how == "apply" and live is not None)
            if (
                resource.namespaced
                and resource.kind != "Namespace"
                and self._objects.get(("namespaces", "", namespace)) is None
            ):
                raise APIError(
                    404,
                    "NotFound",
                    f'namespaces "{namespace}" not found',
                    details={"name": namespace, "kind": "namespaces"},
                )
            if how == "create" and live is not None:
                raise APIError(
                    409,
                    "AlreadyExists",
                    f'{resource.qualified} "{target.name}" already exists',
                    details={"name": target.name, "group": resource.group, "kind": resource.plural},
                )
            if how not in ("create", "apply") and live is None:
                raise _not_found(resource, target.name)
            if target.subresource and live is None:
                raise _not_found(resource, target.name)
            base = copy.deepcopy(live) if live is not None else {}
            root = self.schemas.root(resource)
            if how in ("create", "replace", "apply"):
                applied = copy.deepcopy(body)
            elif how in ("merge", "strategic") and not isinstance(body, dict):
                raise APIError(400, "BadRequest", "a merge patch is a JSON object")
            elif how == "merge":
                applied = fields.json_merge_patch(base, body)
            elif how == "json":
                try:
                    applied = fields.json_patch(base, body)
                except fields.PatchError as exc:
                    raise APIError(422, "Invalid", str(exc)) from None
            else:
                if resource.custom:
                    raise APIError(
                        415,
                        "UnsupportedMediaType",
                        "the body of the request was in an unknown format - accepted media types include: "
                        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
                    )
                applied = fields.strategic_merge_patch(base, body, root, self.schemas)
            applied.setdefault("apiVersion", resource.api_version)
            applied.setdefault("kind", resource.kind)
            applied.setdefault("metadata", {})
            applied["metadata"].setdefault("name", target.name)
            if resource.namespaced:
                applied["metadata"].setdefault("namespace", namespace)
            unknown = self.schemas.unknown_fields(resource, applied)
            if unknown:  # an apply reaches here only with unfaithful_lenient_apply: kube-apiserver answered it 500
                if strict and how != "apply":
                    raise _strict_decoding(resource, how, applied, unknown)
                if params.get("fieldValidation") != "Ignore":
                    warnings += [f'unknown field "{name}"' for name in unknown]
                applied = _without(applied, unknown)
            _default_keys(resource, applied)  # keyed lists match on defaulted keys; other defaults are nobody's
            requested_version = applied.get("metadata", {}).get("resourceVersion") or precondition
            if requested_version and live is not None and requested_version != live["metadata"]["resourceVersion"]:
                raise _conflict(resource, target.name, _OPTIMISTIC_LOCK)
            owners = {name: copy.deepcopy(owner) for name, owner in self._owners.get(key, {}).items()}
            subresource = target.subresource
            ignored: tuple[fields.Path, ...]
            if subresource == "status":  # a status write owns, and changes, only the status
                ignored = (*_BOOKKEEPING, (("f", "spec"),), (("f", "metadata"),))
            else:
                ignored = _BOOKKEEPING + (_STATUS if resource.status else ())
            if how == "apply":
                others = {
                    name: owner.paths for (name, sub), owner in owners.items() if (name, sub) != (manager, subresource)
                }
                printed = {
                    name: _printed_manager(name, owner)
                    for (name, sub), owner in owners.items()
                    if (name, sub) != (manager, subresource)
                }
                mine = owners.get((manager, subresource))
                paths_by = {**others, manager: mine.paths if mine else set()}
                try:
                    merged, after = fields.apply_configuration(
                        base, applied, manager, paths_by, root, schemas=self.schemas, force=force, ignored=ignored
                    )
                except fields.Conflict as conflict:
                    raise _apply_conflict(conflict.conflicts, printed) from None
                new_owners: dict[tuple[str, str], _Owner] = {}
                for (name, sub), owner in owners.items():
                    if (name, sub) == (manager, subresource):
                        continue
                    remaining = after.get(name, set()) if sub == subresource else owner.paths
                    if remaining:
                        new_owners[(name, sub)] = attrs.evolve(owner, paths=remaining)
                if after.get(manager):
                    new_owners[(manager, subresource)] = _Owner(
                        after[manager], "Apply", resource.api_version, _now(), subresource
                    )
                candidate = merged
            else:
                candidate = applied
                new_owners = owners
            candidate = self._keep_sides(resource, base, candidate, subresource)
            _default(resource, candidate)
            owned_view = copy.deepcopy(candidate)  # what the writer sent and the defaults: allocations are nobody's
            self._strategy(resource, live, candidate, dry_run=dry_run)
            problems = self._problems(resource, live, candidate)
            if problems:
                raise _invalid(resource, target.name, problems)
            if how != "apply":
                changed, removed = fields.changed_leaves(base, owned_view, root, self.schemas)
                changed = {p for p in changed if not any(p[: len(i)] == i for i in ignored)}
                removed = {p for p in removed if not any(p[: len(i)] == i for i in ignored)}
                if subresource == "scale":  # the scale subresource writes the replicas and nothing else
                    changed = {p for p in changed if p == _REPLICAS}
                    removed = set()
                for owner_key, owner in list(new_owners.items()):
                    owner.paths -= changed | removed
                    if not owner.paths:
                        del new_owners[owner_key]
                if changed:
                    mine = new_owners.get((manager, subresource))
                    paths = (mine.paths if mine else set()) | changed
                    new_owners[(manager, subresource)] = _Owner(
                        paths, "Update", resource.api_version, _now(), subresource
                    )
            same_owners = {k: o.paths for k, o in new_owners.items()} == {
                k: o.paths for k, o in self._owners.get(key, {}).items()
            }
            if live is not None and _comparable(candidate) == _comparable(live) and same_owners:
                return _with_warnings(self._rendered(resource, live), warnings)  # nothing changed: nothing written
            if dry_run:
                return _with_warnings(self._rendered(resource, self._stamped(candidate, live, bump=False)), warnings)
            self._version += 1
            stored = self._stamped(candidate, live, bump=True)
            self._objects[key] = stored
            self._owners[key] = new_owners
            self._record(resource, "ADDED" if live is None else "MODIFIED", stored)
            return _with_warnings(self._rendered(resource, stored), warnings)

    def _check_apply_body(self, resource: ResourceType, body: Mapping[str, Any]) -> None:
        """What the field manager refuses of a server-side apply's body before anything else, in its order
        (k8s.io/apimachinery/pkg/util/managedfields/internal): another group, version or kind (400 ``invalid object
        type: apps/v1beta1, Kind=Deployment``, ``versionCheckManager``, versioncheck.go — the outermost manager since
        Kubernetes 1.28, before structuredmerge.go's older ``Incorrect version specified in apply patch``), then
        (``structuredMergeManager.Apply``, structuredmerge.go) ``managedFields`` set (400), and a body its typed
        conversion fails on (``failed to create typed patch object (%v): %v`` with ``objectGVKNN`` of the body — its
        own namespace and name, as sent), answered 500 with no reason because that error is not a Status
        (``responsewriters.ErrorToAPIStatus``, k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/status.go) —
        unless *unfaithful_lenient_apply*."""
        _check_applied_kind(body, resource.group, resource.version, resource.kind)
        if (body.get("metadata") or {}).get("managedFields") is not None:
            raise APIError(400, "BadRequest", "metadata.managedFields must be nil")
        if self.unfaithful_lenient_apply:
            return
        typed = self.schemas.typed_errors(resource, body)
        if typed:
            sent = body.get("metadata")
            metadata: Mapping[str, Any] = sent if isinstance(sent, dict) else {}
            where = f"{metadata.get('namespace') or ''}/{metadata.get('name') or ''}"
            # schema.GroupVersionKind.String(): "apps/v1, Kind=Deployment", "/v1, Kind=Service" for the core group
            gvk = f"{resource.group}/{resource.version}, Kind={resource.kind}"
            # typed.ValidationErrors.Error() (structured-merge-diff typed/validate.go): one error as it is, several
            # as "errors:" and one indented line each
            errors = typed[0] if len(typed) == 1 else "errors:\n" + "\n".join(f"  {e}" for e in typed)
            raise APIError(500, "", f"failed to create typed patch object ({where}; {gvk}): {errors}")

    def _check_identity(
        self, resource: ResourceType, target: _Target, body: Mapping[str, Any], *, apply_to_live: bool
    ) -> None:
        """The object's kind, namespace and name against the request's. The namespace first
        (``rest.EnsureObjectNamespaceMatchesRequestNamespace``, k8s.io/apiserver/pkg/registry/rest/meta.go: an empty
        one takes the request's), then the name (``checkName``, k8s.io/apiserver/pkg/endpoints/handlers/rest.go:
        ``the name of the object (%s) does not match the name on the URL (%s)``) — an update's body must carry its
        name; an apply's may leave it out where the live object gives it (the handler checks the object the apply
        made). A body of another kind is refused in the stand-in's own words."""
        metadata = body.get("metadata") or {}
        if body.get("kind") not in (None, resource.kind) or body.get("apiVersion") not in (None, resource.api_version):
            raise APIError(
                400,
                "BadRequest",
                f"the body is a {body.get('apiVersion')} {body.get('kind')}, sent to {resource.qualified}",
            )
        if resource.namespaced and metadata.get("namespace") not in (None, "", target.namespace):
            raise APIError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        name = metadata.get("name")
        if apply_to_live and name is None:
            return
        if name != target.name:
            raise APIError(400, "BadRequest", _name_mismatch(name, target.name))

    def _keep_sides(
        self, resource: ResourceType, base: Mapping[str, Any], candidate: dict[str, Any], subresource: str
    ) -> dict[str, Any]:
        """The status subresource's split: an object write keeps the live status, a status write keeps the rest."""
        if not resource.status or not base:
            return candidate
        if subresource == "status":
            kept = copy.deepcopy(dict(base))
            if "status" in candidate:
                kept["status"] = candidate["status"]
            else:
                kept.pop("status", None)
            return kept
        kept = dict(candidate)
        if "status" in base:
            kept["status"] = copy.deepcopy(base["status"])
        else:
            kept.pop("status", None)
        return kept

    def _strategy(  # noqa: PLR0912 - each kind's allocations, in the order its registry makes them
        self, resource: ResourceType, live: Mapping[str, Any] | None, obj: dict[str, Any], *, dry_run: bool
    ) -> None:
        """What a kind's registry sets that no writer owns: a Namespace's phase and finalizer (namespace strategy's
        ``PrepareForCreate``), a Service's cluster IP and node ports, allocated on create and kept when a write leaves
        them out (pkg/registry/core/service/storage: ``allocateCreate``, ``patchAllocatedValues``)."""
        if resource.api_version != "v1" or resource.kind not in ("Namespace", "Service"):
            return
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        if resource.kind == "Namespace" and live is None:
            finalizers = spec.setdefault("finalizers", [])
            if "kubernetes" not in finalizers:
                finalizers.append("kubernetes")
            obj["status"] = {"phase": "Active"}
        if resource.kind != "Service" or spec.get("type") == "ExternalName":
            return
        old = (live or {}).get("spec") or {}
        if live is not None:  # normalizeClusterIPs: a new clusterIP alone names a new primary, to be judged
            if not spec.get("clusterIPs") and old.get("clusterIPs") and old.get("clusterIP") == spec.get("clusterIP"):
                spec["clusterIPs"] = list(old["clusterIPs"])
            moved = spec.get("clusterIP") and spec.get("clusterIP") != old.get("clusterIP")
            if moved and (not spec.get("clusterIPs") or spec.get("clusterIPs") == old.get("clusterIPs")):
                spec["clusterIPs"] = [spec["clusterIP"]]
        if not spec.get("clusterIP") and old.get("clusterIP"):  # patchAllocatedValues: left out is kept
            spec["clusterIP"] = old["clusterIP"]
        if not spec.get("clusterIPs") and old.get("clusterIPs"):
            spec["clusterIPs"] = list(old["clusterIPs"])
        if not spec.get("clusterIP"):
            spec["clusterIP"] = self._allocate(dry_run=dry_run)
        if not spec.get("clusterIPs"):
            spec["clusterIPs"] = [spec["clusterIP"]]
        if spec["clusterIP"] != "None":
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            old_ports = {(p.get("port"), p.get("protocol")): p for p in old.get("ports") or []}
            for port in spec.get("ports") or []:
                if isinstance(port, dict) and not port.get("nodePort"):
                    kept = old_ports.get((port.get("port"), port.get("protocol")), {}).get("nodePort")
                    port["nodePort"] = kept or 30000 + len(self._allocated) % 2768
        if live is None:
            obj.setdefault("status", {"loadBalancer": {}})

    def _allocate(self, *, dry_run: bool) -> str:
        """A cluster IP from the default service range 10.96.0.0/12 (kubeadm's and kind's ``--service-cluster-ip-
        range``), never one already given; ``.1`` is the ``kubernetes`` Service's."""
        for host in range(10, 1 << 20):
            ip = f"10.{96 + (host >> 16)}.{(host >> 8) & 255}.{host & 255}"
            if ip not in self._allocated:
                if not dry_run:
                    self._allocated.add(ip)
                return ip
        raise APIError(500, "InternalError", "Internal error occurred: failed to allocate a serviceIP: range is full")

    def _problems(
        self, resource: ResourceType, live: Mapping[str, Any] | None, obj: Mapping[str, Any]
    ) -> list[FieldError]:
        """Everything validation refuses: the schema (and a CRD's CEL rules), the name, labels and annotations
        (``ValidateObjectMeta``), and each kind's own rules (Deployments, Services)."""
        found = self.schemas.problems(resource, obj)
        metadata = obj.get("metadata") or {}
        name = str(metadata.get("name") or "")
        if not name:
            found.append(validation.required("metadata.name", "name or generateName is required"))
        elif resource.group == "rbac.authorization.k8s.io":  # RBAC names are path segments ("system:…")
            if name in (".", "..") or "/" in name or "%" in name:
                found.append(
                    validation.invalid("metadata.name", name, "may not be '.' or '..', nor contain '/' or '%'")
                )
        else:
            found += [validation.invalid("metadata.name", name, message) for message in _name_errors(resource, name)]
        found += validation.label_errors(metadata.get("labels") or {}, "metadata.labels")
        found += validation.annotation_errors(metadata.get("annotations") or {}, "metadata.annotations")
        found += _workload_problems(resource, live, obj)
        if (resource.api_version, resource.kind) == ("v1", "Service"):
            old = (live or {}).get("spec") if live is not None else None
            found += validation.service_errors(obj.get("spec") or {}, old)
        return found

    def _stamped(self, candidate: dict[str, Any], live: Mapping[str, Any] | None, *, bump: bool) -> dict[str, Any]:
        stored = copy.deepcopy(candidate)
        metadata = stored["metadata"]
        metadata.pop("managedFields", None)
        if live is None:
            metadata["uid"] = str(uuid.uuid4())
            metadata["creationTimestamp"] = _now()
            metadata["generation"] = 1
        else:
            for name in ("uid", "creationTimestamp", "generation"):
                if name in live["metadata"]:
                    metadata[name] = live["metadata"][name]
            if live.get("spec") != stored.get("spec") and bump:
                metadata["generation"] = int(live["metadata"].get("generation", 1)) + 1
        metadata["resourceVersion"] = str(
            self._version if bump else (live or {}).get("metadata", {}).get("resourceVersion", "0")
        )
        return stored

    def _delete(self, target: _Target, options: Mapping[str, Any]) -> dict[str, Any]:
        """Delete one object, with ``DeleteOptions`` (from the body, or else the query, as the delete handler reads
        them: staging/src/k8s.io/apiserver/pkg/endpoints/handlers/delete.go): ``dryRun`` deletes nothing,
        ``preconditions`` (uid, resourceVersion) refuse a delete of another object or version (409)."""
        resource = target.resource
        namespace = target.namespace if resource.namespaced else ""
        key = (resource.qualified, namespace, target.name)
        dry_run = _dry_run(options.get("dryRun"))
        with self._lock:
            live = self._objects.get(key)
            if live is None:
                raise _not_found(resource, target.name)
            preconditions = options.get("preconditions") or {}
            for field, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
                wanted = preconditions.get(field)
                if wanted is not None and wanted != live["metadata"].get(field):  # storage.Preconditions.Check
                    raise _conflict(
                        resource,
                        target.name,
                        f"Precondition failed: {label} in precondition: {wanted}, {label} in object meta: "
                        f"{live['metadata'].get(field)}",
                    )
            if not dry_run:
                self._version += 1
                del self._objects[key]
                self._owners.pop(key, None)
                gone = {**live, "metadata": {**live["metadata"], "resourceVersion": str(self._version)}}
                self._record(resource, "DELETED", gone)
                if resource.kind == "Namespace":  # its objects go with it
                    for other in [k for k in self._objects if k[1] == target.name]:
                        kind = next(r for r in self.kinds if r.qualified == other[0])
                        self._version += 1
                        removed = self._objects.pop(other)
                        self._owners.pop(other, None)
                        self._record(kind, "DELETED", removed)
        return {  # genericregistry.Store's finalizeDelete: a Status naming what went
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": target.name,
                **({"group": resource.group} if resource.group else {}),
                "kind": resource.plural,
                "uid": live["metadata"].get("uid"),
            },
        }

    def _state_at(self, resource: ResourceType, version: int) -> dict[tuple[str, str, str], dict[str, Any]]:
        """The objects of a kind as they were at *version* (the history since the last compaction, replayed)."""
        state = {key: obj for key, obj in self._base.items() if key[0] == resource.qualified}
        for at, qualified, kind, obj in self._events:
            if at > version:
                break
            if qualified != resource.qualified:
                continue
            key = (qualified, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            if kind == "DELETED":
                state.pop(key, None)
            else:
                state[key] = obj
        return state

    def _list(self, resource: ResourceType, namespace: str | None, params: Mapping[str, str]) -> dict[str, Any]:
        """A list, whole or in pages (``limit`` / ``continue``, as the etcd3 store pages it:
        staging/src/k8s.io/apiserver/pkg/storage/etcd3/store.go ``GetList``, storage/continue.go): a page of at most
        *limit* items in key order, a ``continue`` token naming the version the first page was read at and the key
        to go on from, ``remainingItemCount`` when no selector filters; a continued page lists that same version —
        or, once it is compacted away, 410 ``Expired`` with a token to go on at the latest version."""
        selector = _selector(params.get("labelSelector", ""))
        name = _field_name(params.get("fieldSelector", ""))
        limit = int(params.get("limit") or 0)
        token = params.get("continue") or ""
        prefix = f"{namespace}/" if resource.namespaced and namespace else ""
        with self._lock:
            version, start = self._version, ""
            if token:
                start, version = self._continued(token, params)
            if version >= self._version or version < 0:
                version = self._version
                listed = {
                    k: self._rendered(resource, o) for k, o in self._objects.items() if k[0] == resource.qualified
                }
            else:
                listed = self._state_at(resource, version)
            keyed = sorted(
                (f"{ns}/{obj_name}" if ns else obj_name, obj)
                for (_, ns, obj_name), obj in listed.items()
                if (namespace is None or ns == namespace)
            )
            keyed = [(k.removeprefix(prefix), obj) for k, obj in keyed]
            keyed = [(k, obj) for k, obj in keyed if k > start]
            items: list[dict[str, Any]] = []
            more, last = False, ""
            for item_key, obj in keyed:
                if limit and len(items) >= limit:
                    more = True
                    break
                last = item_key
                meta = obj["metadata"]
                if (name is None or meta["name"] == name) and selector(meta.get("labels") or {}):
                    items.append(_list_item(resource, obj))
            listed_meta: dict[str, Any] = {"resourceVersion": str(version)}
            if more:
                listed_meta["continue"] = _continue_token(version, f"{last}\x00")
                if not params.get("labelSelector") and not params.get("fieldSelector"):
                    listed_meta["remainingItemCount"] = len(keyed) - len(items)
            return {
                "kind": f"{resource.kind}List",
                "apiVersion": resource.api_version,
                "metadata": listed_meta,
                "items": items,
            }

    def _continued(self, token: str, params: Mapping[str, str]) -> tuple[str, int]:
        """Where a ``continue`` token goes on from: (key, version), or the error kube-apiserver gives."""
        version_param = params.get("resourceVersion")
        if version_param not in (None, "", "0"):
            raise APIError(400, "BadRequest", "specifying resource version is not allowed when using continue")
        try:
            decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        except (ValueError, binascii.Error) as exc:
            raise APIError(400, "BadRequest", f"invalid continue token: continue key is not valid: {exc}") from None
        if not isinstance(decoded, dict) or decoded.get("v") != "meta.k8s.io/v1":
            shown = decoded.get("v") if isinstance(decoded, dict) else decoded
            raise APIError(
                400,
                "BadRequest",
                "invalid continue token: continue key is not valid: server does not recognize this encoded "
                f"version {shown}",
            )
        version, start = int(decoded.get("rv") or 0), str(decoded.get("start") or "")
        if version == 0:
            raise APIError(
                400,
                "BadRequest",
                "invalid continue token: continue key is not valid: incorrect encoded start resourceVersion "
                "(version meta.k8s.io/v1)",
            )
        if not start:
            raise APIError(
                400,
                "BadRequest",
                "invalid continue token: continue key is not valid: encoded start key empty (version meta.k8s.io/v1)",
            )
        if posixpath.normpath("/" + start.lstrip("/")) != "/" + start.lstrip("/"):  # no path traversal past the prefix
            raise APIError(400, "BadRequest", f"invalid continue token: continue key is not valid: {start}")
        if 0 < version < self._compacted:  # etcd3/errors.go handleCompactedErrorForPaging
            raise APIError(
                410,
                "Expired",
                "The provided continue parameter is too old to display a consistent list result. You can start a new "
                "list without the continue parameter, or use the continue token in this response to retrieve the "
                "remainder of the results. Continuing with the provided token results in an inconsistent list - "
                "objects that were created, modified, or deleted between the time the first chunk was returned and "
                "now may show up in the list.",
                metadata={"continue": _continue_token(-1, start)},
            )
        return start, version

    def _watch(
        self, resource: ResourceType, namespace: str | None, params: Mapping[str, str], drop_after: int | None
    ) -> Iterator[dict[str, Any]]:
        selector = _selector(params.get("labelSelector", ""))
        name = _field_name(params.get("fieldSelector", ""))
        timeout = float(params.get("timeoutSeconds") or 30)
        deadline = time.monotonic() + timeout
        sent = 0

        def wanted(obj: Mapping[str, Any]) -> bool:
            metadata = obj["metadata"]
            return (
                (namespace is None or metadata.get("namespace", "") == namespace)
                and (name is None or metadata["name"] == name)
                and selector(metadata.get("labels") or {})
            )

        with self._lock:
            start = params.get("resourceVersion") or ""
            if start in ("", "0"):
                since = self._version
                initial = [
                    {"type": "ADDED", "object": self._rendered(resource, obj)}
                    for (qualified, _, _), obj in sorted(self._objects.items())
                    if qualified == resource.qualified and wanted(obj)
                ]
            else:
                since = int(start)
                if since < self._compacted:
                    raise APIError(410, "Expired", f"too old resource version: {since} ({self._compacted})")
                initial = []
        for event in initial:
            yield event
            sent += 1
            if drop_after is not None and sent >= drop_after:
                raise _Dropped
        while time.monotonic() < deadline and self._server is not None:
            with self._changed:
                pending = self._pending(since, resource, wanted)
                if not pending:
                    self._changed.wait(min(0.2, max(0.0, deadline - time.monotonic())))
                    pending = self._pending(since, resource, wanted)
            for version, kind, obj in pending:
                since = max(since, version)
                yield {"type": kind, "object": obj}
                sent += 1
                if drop_after is not None and sent >= drop_after:
                    raise _Dropped

    def _pending(
        self, since: int, resource: ResourceType, wanted: Callable[[Mapping[str, Any]], bool]
    ) -> list[tuple[int, str, dict[str, Any]]]:
        return [
            (v, kind, obj) for v, q, kind, obj in self._events if v > since and q == resource.qualified and wanted(obj)
        ]

    # ---- the scale subresource -------------------------------------------------------------------------------------

    def _scale(self, target: _Target, obj: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A Deployment's ``autoscaling/v1`` Scale (``scaleFromDeployment``, pkg/registry/apps/deployment/storage):
        the object's identity and version, ``spec.replicas``, ``status.replicas`` and the selector as a string."""
        resource = target.resource
        if obj is None:
            with self._lock:
                live = self._objects.get((resource.qualified, target.namespace, target.name))
                if live is None:
                    raise _not_found(resource, target.name)
                obj = copy.deepcopy(live)
        metadata = obj["metadata"]
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        scale: dict[str, Any] = {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                key: metadata[key]
                for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                if key in metadata
            },
            "spec": {"replicas": spec["replicas"]} if spec.get("replicas") else {},
            "status": {"replicas": int(status.get("replicas") or 0)},
        }
        selector = _selector_string(spec.get("selector") or {})
        if selector:
            scale["status"]["selector"] = selector
        return scale

    def _scale_write(
        self, target: _Target, how: str, body: Any, *, manager: str, params: Mapping[str, str]
    ) -> dict[str, Any]:
        """A write to ``/scale``: the Scale it makes (a PUT's body, or a patch of the current Scale), validated
        (``ValidateScale``), moved into the Deployment's ``spec.replicas`` — the writer owning that field, with
        ``subresource: scale`` — and answered with the new Scale."""
        resource = target.resource
        old = self._scale(target)
        if how == "apply":
            if not isinstance(body, dict):
                raise APIError(400, "BadRequest", "the request body is not an object")
            # /scale has its own field manager, of the Scale's kind (installer.go: the subresource's kind)
            _check_applied_kind(body, "autoscaling", "v1", "Scale")
            new = copy.deepcopy(body)
        elif how == "replace":
            new = copy.deepcopy(body) if isinstance(body, dict) else {}
        elif how == "json":
            try:
                new = fields.json_patch(old, body)
            except fields.PatchError as exc:
                raise APIError(422, "Invalid", str(exc)) from None
        else:
            new = fields.json_merge_patch(old, body if isinstance(body, dict) else {})
        metadata = new.get("metadata") or {}
        if metadata.get("namespace") not in (None, "", target.namespace):  # rest.EnsureObjectNamespaceMatches…
            raise APIError(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            )
        if metadata.get("name") != target.name and (how == "replace" or metadata.get("name") is not None):
            raise APIError(400, "BadRequest", _name_mismatch(metadata.get("name"), target.name))
        replicas = (new.get("spec") or {}).get("replicas", 0 if how != "apply" else None)
        if replicas is not None and (isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0):
            raise APIError(
                422,
                "Invalid",
                f'Scale.autoscaling "{target.name}" is invalid: spec.replicas: Invalid value: {replicas}: '
                "must be greater than or equal to 0",
                details={
                    "name": target.name,
                    "group": "autoscaling",
                    "kind": "Scale",
                    "causes": [
                        validation.invalid("spec.replicas", replicas, "must be greater than or equal to 0").cause()
                    ],
                },
            )
        if metadata.get("uid") not in (None, old["metadata"].get("uid")):
            raise _conflict(
                resource,
                target.name,
                f"Precondition failed: UID in precondition: {metadata.get('uid')}, UID in object meta: "
                f"{old['metadata'].get('uid')}",
            )
        change: dict[str, Any] = {
            "apiVersion": resource.api_version,
            "kind": resource.kind,
            "metadata": {"name": target.name, "namespace": target.namespace},
            "spec": {} if replicas is None else {"replicas": replicas},
        }
        result = self._write(
            target,
            "apply" if how == "apply" else "merge",
            change,
            manager=manager,
            params=params,
            precondition=metadata.get("resourceVersion") if how != "apply" else None,
        )
        return self._scale(target, result)

    # ---- faults and audit ------------------------------------------------------------------------------------------

    def _fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            self.requests += 1
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    return fault
        return None


def _workload_problems(
    resource: ResourceType, live: Mapping[str, Any] | None, candidate: Mapping[str, Any]
) -> list[FieldError]:
    """What kube-apiserver's validation of a Deployment refuses beyond its schema (pkg/apis/apps/validation:
    ``ValidateDeploymentSpec``, ``ValidateDeploymentUpdate``): no selector, a selector that does not select its own
    pods' labels, and a selector changed after creation (``apps/v1`` made it immutable)."""
    if (resource.group, resource.kind) != ("apps", "Deployment"):
        return []
    spec = candidate.get("spec") or {}
    selector_spec = spec.get("selector")
    selector = (selector_spec or {}).get("matchLabels") or {}
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    problems = []
    if selector_spec is None:
        problems.append(validation.required("spec.selector"))
    elif not selector and not selector_spec.get("matchExpressions"):
        problems.append(validation.invalid("spec.selector", selector_spec, "empty selector is invalid for deployment"))
    elif any(labels.get(key) != value for key, value in selector.items()):
        problems.append(
            validation.invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`")
        )
    if live is not None and (live.get("spec") or {}).get("selector") != selector_spec:
        problems.append(validation.invalid("spec.selector", selector_spec, "field is immutable"))
    return problems


_OPTIMISTIC_LOCK = "the object has been modified; please apply your changes to the latest version and try again"
"""``registry.OptimisticLockErrorMsg`` (k8s.io/apiserver/pkg/registry/generic/registry/store.go)."""
_REPLICAS: fields.Path = (("f", "spec"), ("f", "replicas"))


def _check_applied_kind(body: Mapping[str, Any], group: str, version: str, kind: str) -> None:
    """``versionCheckManager.Apply`` (k8s.io/apimachinery/pkg/util/managedfields/internal/versioncheck.go): the
    body's group, version and kind — parsed as ``Unstructured.GroupVersionKind`` parses them
    (``schema.ParseGroupVersion``: ``""`` and ``"/"`` are empty, ``v1`` the core group, more than one ``/`` nothing) —
    must be the field manager's, else 400 ``invalid object type: %v`` (``GroupVersionKind.String``:
    ``group/version, Kind=kind``, ``/v1, Kind=Service`` for the core group)."""
    api_version = body.get("apiVersion")
    sent_kind = body.get("kind")
    text = api_version if isinstance(api_version, str) else ""
    sent_group, sent_version = "", ""
    if text not in ("", "/"):
        if text.count("/") == 0:
            sent_version = text
        elif text.count("/") == 1:
            sent_group, sent_version = text.split("/")
    sent_kind = sent_kind if isinstance(sent_kind, str) else ""
    if (sent_group, sent_version, sent_kind) != (group, version, kind):
        raise APIError(400, "BadRequest", f"invalid object type: {sent_group}/{sent_version}, Kind={sent_kind}")


def _name_mismatch(name: Any, url_name: str) -> str:
    """``checkName`` (k8s.io/apiserver/pkg/endpoints/handlers/rest.go), run by the update and patch handlers on the
    object they are about to store: ``the name of the object (%s) does not match the name on the URL (%s)``."""
    return f"the name of the object ({name or ''}) does not match the name on the URL ({url_name})"


def _conflict(resource: ResourceType, name: str, why: str) -> APIError:
    """``errors.NewConflict``: ``Operation cannot be fulfilled on deployments.apps "x": <why>``."""
    return APIError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {resource.qualified} "{name}": {why}',
        details={"name": name, "group": resource.group, "kind": resource.plural},
    )


def _strict_decoding(resource: ResourceType, how: str, patched: Mapping[str, Any], unknown: list[str]) -> APIError:
    """``fieldValidation=Strict`` refusing unknown fields, as each handler words it: a create or update cannot decode
    the body (400, ``Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: …``,
    ``transformDecodeError`` in handlers/rest.go, from create.go and update.go); a JSON, merge or strategic patch is an
    invalid ``patch`` (422, handlers/patch.go). A server-side apply never gets here: its unknown fields fail its typing
    first (500, ``_check_apply_body``), and its own strict check (``applyPatcher``, handlers/patch.go) looks only for
    duplicate keys."""
    error = "strict decoding error: " + ", ".join(f'unknown field "{name}"' for name in unknown)
    if how in ("create", "replace"):
        return APIError(
            400,
            "BadRequest",
            f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: {error}',
        )
    cause = validation.invalid("patch", json.dumps(patched, separators=(",", ":")), error)
    return APIError(422, "Invalid", f' "" is invalid: {cause}', details={"causes": [cause.cause()]})


def _printed_manager(name: str, owner: _Owner) -> str:
    """How a conflict names a manager (``printManager``, k8s.io/apimachinery/pkg/util/managedfields/internal/
    conflict.go): ``"kubectl-edit" using policy/v1`` for an update, ``"findly-infra"`` for an apply, ``with
    subresource "status"`` where it wrote one. Never a time: the manager it prints is the identifier
    ``BuildManagerIdentifier`` made (managedfields.go), which clears ``Time`` ("Never include the time in the manager
    identifier"), so ``printManager``'s ``at <time>`` branch is never taken for a stored manager."""
    printed = json.dumps(name, ensure_ascii=False)  # Go's %q keeps printable characters as they are
    if owner.subresource:
        printed += f" with subresource {json.dumps(owner.subresource, ensure_ascii=False)}"
    if owner.operation == "Update":
        printed += f" using {owner.api_version}"
    return printed


def _apply_conflict(conflicts: list[tuple[str, str]], printed: Mapping[str, str]) -> APIError:
    """``NewConflictError``: one cause per field (``FieldManagerConflict``, the manager, the path), the message
    ``Apply failed with 1 conflict: conflict with "m": .spec.x``, or for several, grouped by manager in name order
    (``Apply failed with 2 conflicts: conflicts with "m":\n- .spec.x\n- .spec.y``); no name or kind in the details
    (``errors.NewApplyConflict``)."""
    ordered = sorted(conflicts)
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {printed.get(who, json.dumps(who))}",
            "field": path,
        }
        for who, path in ordered
    ]
    if len(ordered) == 1:
        who, path = ordered[0]
        message = f"Apply failed with 1 conflict: conflict with {printed.get(who, json.dumps(who))}: {path}"
    else:
        lines: list[str] = []
        for who in sorted({who for who, _ in ordered}):
            lines.append(f"conflicts with {printed.get(who, json.dumps(who))}:")
            lines += [f"- {path}" for other, path in ordered if other == who]
        message = f"Apply failed with {len(ordered)} conflicts: " + "\n".join(lines)
    return APIError(409, "Conflict", message, details={"causes": causes})


def _invalid(resource: ResourceType, name: str, errors: list[FieldError]) -> APIError:
    """``errors.NewInvalid``: 422 ``Invalid``, ``Deployment.apps "x" is invalid: <errors>``, a cause per error."""
    return APIError(
        422,
        "Invalid",
        f'{resource.group_kind} "{name}" is invalid: {validation.aggregate(errors)}',
        details={
            "name": name,
            "group": resource.group,
            "kind": resource.kind,
            "causes": [error.cause() for error in errors],
        },
    )


def _name_errors(resource: ResourceType, name: str) -> list[str]:
    """A kind's name rule (``ValidateObjectMeta``'s name function): DNS-1035 labels for Services
    (``ValidateServiceName``), DNS-1123 labels for Namespaces, DNS-1123 subdomains otherwise."""
    if (resource.api_version, resource.kind) == ("v1", "Service"):
        errors = ["must be no more than 63 bytes"] if len(name) > 63 else []
        if not re.match(r"^[a-z]([-a-z0-9]*[a-z0-9])?$", name):
            errors.append(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
                "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
                "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
            )
        return errors
    if (resource.api_version, resource.kind) == ("v1", "Namespace"):
        return validation.dns1123_label(name)
    return validation.dns1123_subdomain(name)


def _dry_run(value: Any) -> bool:
    """``dryRun`` (a query parameter, or ``DeleteOptions.dryRun``): ``All`` is the only value there is."""
    values = [value] if isinstance(value, str) else list(value or [])
    unsupported = [v for v in values if v != "All"]
    if unsupported:
        raise APIError(
            422,
            "Invalid",
            f'dryRun: Unsupported value: {validation.go_value(values)}: supported values: "All"',
        )
    return bool(values)


def _continue_token(version: int, start: str) -> str:
    """``storage.EncodeContinue``: unpadded URL-safe base64 of ``{"v":"meta.k8s.io/v1","rv":N,"start":"k\\u0000"}``."""
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": version, "start": start}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _list_item(resource: ResourceType, obj: Mapping[str, Any]) -> dict[str, Any]:
    """An item of a list as the server encodes it: a built-in kind's items carry no ``apiVersion``/``kind`` (typed
    lists set them on the list alone); a custom resource's do (unstructured)."""
    if resource.custom:
        return dict(obj)
    return {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}


def _condition(kind: str, status: str, reason: str, message: str, at: str) -> dict[str, str]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": at,
        "lastTransitionTime": at,
    }


def _with_warnings(obj: dict[str, Any], warnings: list[str]) -> dict[str, Any]:
    if warnings:
        obj = dict(obj)
        obj["__warnings__"] = warnings
    return obj


def _comparable(obj: Mapping[str, Any]) -> Any:
    metadata = {
        k: v
        for k, v in (obj.get("metadata") or {}).items()
        if k not in ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp")
    }
    return {**obj, "metadata": metadata}


def _without(obj: dict[str, Any], dotted_paths: list[str]) -> dict[str, Any]:
    """*obj* without the unknown fields named (``spec.template.spec.containers[0].portss``)."""
    result = copy.deepcopy(obj)
    for dotted in dotted_paths:
        parts = re.findall(r"[^.\[\]]+|\[\d+\]", dotted)
        current: Any = result
        for part in parts[:-1]:
            current = current[int(part[1:-1])] if part.startswith("[") else current.get(part, {})
        last = parts[-1]
        if isinstance(current, dict):
            current.pop(last, None)
    return result


def _default_keys(resource: ResourceType, obj: dict[str, Any]) -> None:
    """The defaulted keys of keyed lists (a port's protocol): set before an apply is merged, as the API server does."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    pod = spec.get("template", {}).get("spec", {}) if resource.kind == "Deployment" else {}
    for container in pod.get("containers", []) if isinstance(pod, dict) else []:
        for port in (container.get("ports") or []) if isinstance(container, dict) else []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
    if resource.kind == "Service":
        for port in spec.get("ports", []) or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


def _default(resource: ResourceType, obj: dict[str, Any]) -> None:
    """The defaults kube-apiserver sets that a deployment tool meets (pkg/apis/apps/v1/defaults.go,
    pkg/apis/core/v1/defaults.go: ``SetDefaults_Deployment``, ``SetDefaults_Service``, ``SetDefaults_Namespace``)."""
    if resource.custom and resource.schema:
        _structural_defaults(resource.schema, obj)
    if resource.api_version == "v1" and resource.kind == "Namespace":  # the label is the name, whatever was written
        metadata = obj.setdefault("metadata", {})
        labels = metadata.get("labels")
        metadata["labels"] = {**(labels if isinstance(labels, dict) else {}), METADATA_NAME_LABEL: metadata["name"]}
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    _default_keys(resource, obj)
    if resource.kind == "Deployment":
        spec.setdefault("replicas", 1)
        spec.setdefault("progressDeadlineSeconds", 600)
        spec.setdefault("revisionHistoryLimit", 10)
        strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            strategy.setdefault("type", "RollingUpdate")
            strategy.setdefault("rollingUpdate", {"maxSurge": "25%", "maxUnavailable": "25%"})
    if resource.api_version == "v1" and resource.kind == "Service":
        kind = spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if kind in ("ClusterIP", "NodePort", "LoadBalancer"):
            spec.setdefault("internalTrafficPolicy", "Cluster")
        if kind in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        if kind == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)
        for port in spec.get("ports", []) or []:
            if isinstance(port, dict) and not port.get("targetPort"):
                port["targetPort"] = port.get("port")


def _structural_defaults(node: Mapping[str, Any], value: Any) -> None:
    """Set a custom resource's ``default:`` values that its CRD's schema declares, where *value* leaves them out — as
    kube-apiserver's structural defaulting does on every write and read of a custom resource (apiextensions-apiserver
    pkg/apiserver/schema/defaulting/algorithm.go, ``Default``: a missing property of an object that is present takes
    its default; then into each property, additional property and array item). Flux's Kustomization is why:
    ``spec.force`` defaults to ``false``, ``status`` to ``{observedGeneration: -1}``."""
    if isinstance(value, dict):
        properties = node.get("properties") or {}
        for name, child in properties.items():
            if name not in value and isinstance(child, Mapping) and "default" in child:
                value[name] = copy.deepcopy(child["default"])
        extra = node.get("additionalProperties")
        for name, item in value.items():
            child = properties.get(name, extra if isinstance(extra, Mapping) else None)
            if isinstance(child, Mapping):
                _structural_defaults(child, item)
    elif isinstance(value, list) and isinstance(node.get("items"), Mapping):
        for item in value:
            _structural_defaults(node["items"], item)


def _selector(text: str) -> Callable[[Mapping[str, str]], bool]:
    """An equality- and set-based label selector: ``a=b``, ``a==b``, ``a!=b``, ``a``, ``!a``, ``a in (x,y)``,
    ``a notin (x)``."""
    clauses: list[tuple[str, str, frozenset[str]]] = []
    for raw in re.findall(r"[^,(]+(?:\([^)]*\))?", text):
        part = raw.strip()
        if not part:
            continue
        if match := re.fullmatch(r"(\S+)\s+(in|notin)\s+\(([^)]*)\)", part):
            values = frozenset(v.strip() for v in match.group(3).split(","))
            clauses.append((match.group(2), match.group(1), values))
        elif "!=" in part:
            key, value = (side.strip() for side in part.split("!=", 1))
            clauses.append(("notin", key, frozenset({value})))
        elif "=" in part:
            key, value = (side.strip() for side in re.split(r"==?", part, maxsplit=1))
            clauses.append(("in", key, frozenset({value})))
        elif part.startswith("!"):
            clauses.append(("absent", part[1:].strip(), frozenset()))
        else:
            clauses.append(("present", part, frozenset()))

    def holds(operator: str, key: str, values: frozenset[str], labels: Mapping[str, str]) -> bool:
        if operator == "in":
            return labels.get(key) in values
        if operator == "notin":
            return labels.get(key) not in values
        return (key in labels) == (operator == "present")

    return lambda labels: all(holds(op, key, values, labels) for op, key, values in clauses)


def _selector_string(selector: Mapping[str, Any]) -> str:
    """A label selector as ``labels.Selector.String`` writes it, sorted by key: ``app=x,track in (a,b)``."""
    requirements: list[tuple[str, str]] = [(k, f"{k}={v}") for k, v in (selector.get("matchLabels") or {}).items()]
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression.get("key", ""), expression.get("operator", "")
        values = ",".join(sorted(expression.get("values") or []))
        shown = {"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key}.get(
            operator, f"!{key}"
        )
        requirements.append((key, shown))
    return ",".join(text for _, text in sorted(requirements))


def _field_name(text: str) -> str | None:
    match = re.fullmatch(r"metadata\.name==?(.+)", text.strip())
    return match.group(1) if match else None


# ---- HTTP -----------------------------------------------------------------------------------------------------------


def _discovery(kinds: tuple[ResourceType, ...], group: str, version: str) -> dict[str, Any]:
    resources = []
    for resource in kinds:
        if (resource.group, resource.version) != (group, version):
            continue
        verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
        resources.append(
            {
                "name": resource.plural,
                "singularName": resource.kind.lower(),
                "namespaced": resource.namespaced,
                "kind": resource.kind,
                "verbs": verbs,
            }
        )
        if resource.status:
            resources.append(
                {
                    "name": f"{resource.plural}/status",
                    "singularName": "",
                    "namespaced": resource.namespaced,
                    "kind": resource.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        if resource.scale:  # autoscaling/v1 Scale, as kube-apiserver lists deployments/scale
            resources.append(
                {
                    "name": f"{resource.plural}/scale",
                    "singularName": "",
                    "namespaced": resource.namespaced,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": resources,
    }


_AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
"""The media type of aggregated discovery (KEP-3352; GA in Kubernetes 1.30, ``AggregatedDiscoveryEndpoint``): a
client that asks for it in ``Accept`` gets every group, version and resource of ``/apis`` (or the core group's, at
``/api``) in one ``APIGroupDiscoveryList``, answered with this ``Content-Type``; one that does not gets the legacy
``APIGroupList`` / ``APIVersions`` (k8s.io/apiserver/pkg/endpoints/discovery/aggregated/wrapper.go, ``WrappedHandler
.ServeHTTP``: ``IsAggregatedDiscoveryGVK(mediaType.Convert)``). Only ``v2`` is served here (``v2beta1`` was removed
in 1.33); a client asking for ``v2beta1`` alone gets the legacy documents, as one asking a server without it does."""


def _aggregated_discovery(accept: str) -> bool:
    """Whether ``Accept`` asks for aggregated discovery ``v2``: a media range ``application/json`` with the
    parameters ``g=apidiscovery.k8s.io``, ``v=v2``, ``as=APIGroupDiscoveryList`` (negotiation.go
    ``NegotiateMediaTypeOptions``, with the discovery endpoint's restrictions ``DiscoveryEndpointRestrictions``)."""
    for media_range in accept.split(","):
        kind, *parameters = (part.strip() for part in media_range.split(";"))
        values = dict(part.partition("=")[::2] for part in parameters)
        wanted = {"g": "apidiscovery.k8s.io", "v": "v2", "as": "APIGroupDiscoveryList"}
        if kind == "application/json" and all(values.get(k) == v for k, v in wanted.items()):
            return True
    return False


def _aggregated(kinds: Iterable[ResourceType]) -> dict[str, Any]:
    """An ``APIGroupDiscoveryList`` (k8s.io/api/apidiscovery/v2/types.go): per group (``metadata.name``, ``""`` for
    the core group) its versions, each with its resources — ``resource``, ``responseKind``, ``scope`` (``Namespaced``
    / ``Cluster``), ``singularResource``, ``verbs``, ``subresources`` — and ``freshness: Current``."""
    groups: dict[str, dict[str, list[dict[str, Any]]]] = {}
    verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    for resource in kinds:
        subresources = []
        if resource.status:
            subresources.append(
                {
                    "subresource": "status",
                    "responseKind": {"group": resource.group, "version": resource.version, "kind": resource.kind},
                    "verbs": ["get", "patch", "update"],
                }
            )
        if resource.scale:
            subresources.append(
                {
                    "subresource": "scale",
                    "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
                    "verbs": ["get", "patch", "update"],
                }
            )
        entry: dict[str, Any] = {
            "resource": resource.plural,
            "responseKind": {"group": resource.group, "version": resource.version, "kind": resource.kind},
            "scope": "Namespaced" if resource.namespaced else "Cluster",
            "singularResource": resource.kind.lower(),
            "verbs": verbs,
        }
        if subresources:
            entry["subresources"] = subresources
        groups.setdefault(resource.group, {}).setdefault(resource.version, []).append(entry)
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": [
            {
                "metadata": {"name": group},
                "versions": [
                    {"version": version, "resources": resources, "freshness": "Current"}
                    for version, resources in versions.items()
                ],
            }
            for group, versions in sorted(groups.items())
        ],
    }


def _groups(kinds: tuple[ResourceType, ...]) -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    for resource in kinds:
        if resource.group:
            groups.setdefault(resource.group, [])
            if resource.version not in groups[resource.group]:
                groups[resource.group].append(resource.version)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": name,
                "versions": [{"groupVersion": f"{name}/{v}", "version": v} for v in versions],
                "preferredVersion": {"groupVersion": f"{name}/{versions[0]}", "version": versions[0]},
            }
            for name, versions in sorted(groups.items())
        ],
    }


def _openapi_root(kinds: tuple[ResourceType, ...]) -> dict[str, Any]:
    """OpenAPI v3 discovery: one document per group-version (kubectl reads it to learn that the server validates
    fields itself, ``fieldValidation``)."""
    versions = sorted({(r.group, r.version) for r in kinds})
    return {
        "paths": {
            (f"apis/{group}/{version}" if group else f"api/{version}"): {
                "serverRelativeURL": f"/openapi/v3/{f'apis/{group}/{version}' if group else f'api/{version}'}?hash=0"
            }
            for group, version in versions
        }
    }


def _openapi_document(kinds: tuple[ResourceType, ...], group_version: str) -> dict[str, Any]:
    parameters = [
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
        {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
        {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
        {"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": True}},
    ]
    paths: dict[str, Any] = {}
    for resource in kinds:
        prefix = f"apis/{resource.group}/{resource.version}" if resource.group else f"api/{resource.version}"
        if prefix != group_version:
            continue
        scope = "/namespaces/{namespace}" if resource.namespaced else ""
        operation = {"parameters": parameters, "responses": {"200": {"description": "OK"}}}
        gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
        paths[f"/{prefix}{scope}/{resource.plural}/{{name}}"] = {
            "patch": {**operation, "x-kubernetes-action": "patch", "x-kubernetes-group-version-kind": gvk},
            "put": {**operation, "x-kubernetes-action": "put", "x-kubernetes-group-version-kind": gvk},
        }
        paths[f"/{prefix}{scope}/{resource.plural}"] = {
            "post": {**operation, "x-kubernetes-action": "post", "x-kubernetes-group-version-kind": gvk},
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": paths,
        "components": {"schemas": {}},
    }


_VERSION = {
    "major": "1",
    "minor": "33",
    "gitVersion": "v1.33.0-findly-stand-in",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "none (findly_infra.testing.kubernetes)",
    "compiler": "none",
    "platform": "linux/amd64",
}

_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


class _Handler(BaseHTTPRequestHandler):
    server_side: KubernetesStandIn
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart (Nagle and delayed ACKs)

    def log_message(self, *_: Any) -> None:
        return  # quiet: tests read the audit log instead

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    # ---- plumbing ----

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        code: int,
        document: Any,
        headers: Mapping[str, str] | None = None,
        *,
        content_type: str = "application/json",
    ) -> None:
        warnings = document.pop("__warnings__", []) if isinstance(document, dict) else []
        payload = json.dumps(document).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for warning in warnings:  # NewWarningHeader (k8s.io/apimachinery/pkg/util/net/http.go): " and \ escaped
            quoted = warning.replace("\\", "\\\\").replace('"', '\\"')
            self.send_header("Warning", f'299 - "{quoted}"')
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _serve(self, method: str) -> None:
        stand_in = self.server_side
        split = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(split.query).items()}
        body = self._body()
        path = split.path.rstrip("/") or "/"  # /version/ is /version
        fault = stand_in._fault(method, path)
        try:
            if fault is not None:
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.status:
                    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                    reasons = {
                        403: "Forbidden",
                        409: "Conflict",
                        429: "TooManyRequests",
                        500: "InternalError",
                        503: "ServiceUnavailable",
                        504: "Timeout",
                    }
                    message = fault.message or f"injected {fault.status} for {method} {path}"
                    raise APIError(fault.status, reasons.get(fault.status, "Unknown"), message, headers=headers)
            self._route(method, path, params, body, fault)
        except APIError as error:
            self._send(error.code, error.status(), error.headers)
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception as exc:  # noqa: BLE001 - a bug of the stand-in's answers 500, as a server does
            failure = APIError(500, "InternalError", f"the stand-in failed: {type(exc).__name__}: {exc}")
            self._send(500, failure.status())

    def _route(  # noqa: PLR0911, PLR0912, PLR0915 - one HTTP route table, read top to bottom
        self, method: str, path: str, params: dict[str, str], body: bytes, fault: Fault | None
    ) -> None:
        stand_in = self.server_side
        if path == "/version":
            self._send(200, _VERSION)
            return
        aggregated = _aggregated_discovery(self.headers.get("Accept") or "")
        if path in ("/api", "/apis") and aggregated:
            core = path == "/api"
            listed = [r for r in stand_in.kinds if (r.group == "") == core]
            self._send(200, _aggregated(listed), content_type=_AGGREGATED_V2)
            return
        if path == "/api":
            self._send(
                200,
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}],
                },
            )
            return
        if path == "/apis":
            self._send(200, _groups(stand_in.kinds))
            return
        if path == "/openapi/v3":
            self._send(200, _openapi_root(stand_in.kinds))
            return
        if path.startswith("/openapi/v3/"):
            self._send(200, _openapi_document(stand_in.kinds, path.removeprefix("/openapi/v3/")))
            return
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise APIError(404, "NotFound", _NO_ROUTE)
        if not rest:
            if method != "GET" or not any((r.group, r.version) == (group, version) for r in stand_in.kinds):
                raise APIError(404, "NotFound", _NO_ROUTE)
            self._send(200, _discovery(stand_in.kinds, group, version))
            return
        plurals = {r.plural: r for r in stand_in.kinds if (r.group, r.version) == (group, version)}
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3 and rest[2] in plurals and plurals[rest[2]].namespaced:
            namespace, rest = rest[1], rest[2:]
        resource = plurals.get(rest[0])
        if resource is None:
            raise APIError(404, "NotFound", _NO_ROUTE)
        name = rest[1] if len(rest) > 1 else ""
        subresource = rest[2] if len(rest) > 2 else ""
        served = {"status": resource.status, "scale": resource.scale}
        if len(rest) > 3 or (subresource and not served.get(subresource)):
            raise APIError(404, "NotFound", _NO_ROUTE)
        if subresource and method in ("POST", "DELETE"):
            raise APIError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if resource.namespaced and namespace is None and (name or method != "GET"):
            raise APIError(404, "NotFound", _NO_ROUTE)
        watch = params.get("watch") in ("true", "1")
        verb = (
            "watch"
            if watch
            else (
                "list"
                if method == "GET" and not name
                else ("deletecollection" if method == "DELETE" and not name else _VERBS[method])
            )
        )
        stand_in.audit.append(AuditRecord(verb, resource.group, resource.plural, subresource, namespace or "", name))
        target = _Target(resource, namespace or "", name, subresource)
        manager = params.get("fieldManager") or (self.headers.get("User-Agent") or "unknown").split("/")[0]
        if method == "GET" and watch:
            self._stream(stand_in._watch(resource, namespace, params, fault.drop_watch_after if fault else None))
            return
        if method == "GET" and not name:
            self._send(200, stand_in._list(resource, namespace, params))
            return
        if method == "GET" and subresource == "scale":
            self._send(200, stand_in._scale(target))
            return
        if method == "GET":
            found = stand_in.get(resource.api_version, resource.kind, namespace or "", name)
            if found is None:
                raise _not_found(resource, name)
            self._send(200, found)
            return
        if method == "DELETE":
            if not name:
                raise APIError(405, "MethodNotAllowed", "the stand-in does not delete collections")
            self._send(200, stand_in._delete(target, self._delete_options(body, params)))
            return
        content_type = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip()
        if method == "PATCH":
            # PatchResource checks the patch type first, against the route's list (installer.go: JSON, merge,
            # strategic, apply; a custom resource's has no strategic, apiextensions-apiserver's
            # customresource_handler.go), worded by negotiation.NewUnsupportedMediaTypeError (errors.go)
            accepted = [
                "application/json-patch+json",
                "application/merge-patch+json",
                *(() if resource.custom else ("application/strategic-merge-patch+json",)),
                "application/apply-patch+yaml",
            ]
            if content_type not in accepted:
                raise APIError(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request was in an unknown format - accepted media types include: "
                    + ", ".join(accepted),
                )
        document = self._decode(body, content_type)
        if method == "POST":
            if name:
                raise APIError(405, "MethodNotAllowed", "POST to a named object is not allowed")
            target.name = str((document or {}).get("metadata", {}).get("name") or "")
            if not target.name:
                raise _invalid(resource, "", [validation.required("metadata.name", "name or generateName is required")])
            self._send(201, stand_in._write(target, "create", document, manager=manager, params=params))
            return
        if method == "PUT":
            if subresource == "scale":
                self._send(200, stand_in._scale_write(target, "replace", document, manager=manager, params=params))
                return
            self._send(200, stand_in._write(target, "replace", document, manager=manager, params=params))
            return
        how = {
            "application/apply-patch+yaml": "apply",
            "application/merge-patch+json": "merge",
            "application/json-patch+json": "json",
            "application/strategic-merge-patch+json": "strategic",
        }[content_type]
        if how == "apply" and not params.get("fieldManager"):
            raise APIError(
                422,
                "Invalid",
                'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
            )
        if subresource == "scale":
            self._send(200, stand_in._scale_write(target, how, document, manager=manager, params=params))
            return
        existed = stand_in.get(resource.api_version, resource.kind, namespace or "", name) is not None
        if how == "apply" and not existed:  # an apply that creates is authorized as a create too, as upstream does
            stand_in.audit.append(AuditRecord("create", resource.group, resource.plural, "", namespace or "", name))
        result = stand_in._write(target, how, document, manager=manager, params=params)
        self._send(200 if existed or how != "apply" else 201, result)

    def _delete_options(self, body: bytes, params: Mapping[str, str]) -> dict[str, Any]:
        """``DeleteOptions`` as the delete handler reads them: the body's when there is one, else the query's."""
        if not body:
            return {"dryRun": params["dryRun"]} if "dryRun" in params else {}
        try:
            options = json.loads(body)
        except ValueError as exc:
            raise APIError(400, "BadRequest", f"the body of the request cannot be decoded: {exc}") from None
        if not isinstance(options, dict):
            raise APIError(400, "BadRequest", "decoded object cannot be converted to DeleteOptions")
        return options

    def _decode(self, body: bytes, content_type: str) -> Any:
        if content_type not in (
            "application/json",
            "application/apply-patch+yaml",
            "application/merge-patch+json",
            "application/json-patch+json",
            "application/strategic-merge-patch+json",
            "application/yaml",
        ):
            raise APIError(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                f"application/json, application/yaml (got {content_type})",
            )
        if not body:
            raise APIError(400, "BadRequest", "the request has no body")
        try:
            if content_type == "application/apply-patch+yaml":
                import yaml

                return yaml.safe_load(body)
            return json.loads(body)
        except (ValueError, Exception) as exc:  # noqa: BLE001 - any body that is not JSON/YAML is the client's
            raise APIError(400, "BadRequest", f"the body of the request cannot be decoded: {exc}") from None

    def _stream(self, events: Iterator[dict[str, Any]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event in events:
                line = json.dumps(event).encode() + b"\n"
                self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except APIError as error:  # an expired version: said in the stream, as the API server does
            line = json.dumps({"type": "ERROR", "object": error.status()}).encode() + b"\n"
            self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n0\r\n\r\n")
        except _Dropped:  # cut mid-stream, as a broken network does
            self.close_connection = True
            self.connection.shutdown(2)
            return
        except (BrokenPipeError, ConnectionResetError):
            return
        self.close_connection = True
