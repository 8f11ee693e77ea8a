"""Kubernetes: objects applied server-side, read, listed and deleted through the API server, with the ``kubernetes``
client's configuration (kubeconfig context or in-cluster service account) and its HTTP layer — but not its typed
APIs (``AppsV1Api`` alone costs a third of a second to import): requests go by path, for the kinds the platform
renders.

Failures say what happened and to what: 429 waits as long as ``Retry-After`` says, 5xx and timeouts are retried with
backoff and then end as :class:`~findly_infra.application.ports.DependencyUnavailableError` naming the server; 401 and
403 as :class:`AccessDeniedError` naming the verb and resource refused (a configuration problem); a field another
manager owns as :class:`FieldConflictError` naming the object, the fields and their managers; an object the server
finds invalid, a kind it does not serve (missing CRDs) or a namespace that does not exist, as bad input naming the
object — and so the 500 kube-apiserver answers a server-side apply with a field its schema does not declare
(``failed to create typed patch object``, kubernetes/kubernetes#122480): not retried, bad input naming the field.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs

from findly_infra.application.ports import BadInputError, DependencyUnavailableError, FieldConflictError
from findly_infra.application.redaction import header_token, redact_text, redact_url
from findly_infra.domain.cluster import PROVIDERS, PRUNABLE, Readiness, RenderedKind, deployment_readiness
from findly_infra.domain.gitops import ARGO_APPLICATION, FLUX_GIT_REPOSITORY, FLUX_KUSTOMIZATION

__all__ = ["AccessDeniedError", "FieldConflictError", "KubeconfigError", "KubernetesObjects", "connect"]

FIELD_MANAGER = "findly-infra"


def _path(kind: RenderedKind, namespace: str = "", name: str = "") -> str:
    """The REST path of a kind's collection in *namespace*, or of one object of it."""
    root = f"/apis/{kind.api_version}" if "/" in kind.api_version else f"/api/{kind.api_version}"
    scope = f"/namespaces/{namespace}" if kind.namespaced and namespace else ""
    return f"{root}{scope}/{kind.plural}" + (f"/{name}" if name else "")


_BY_KIND = {(kind.api_version, kind.kind): kind for kind in PRUNABLE}  # the kinds the platform renders
_BY_KIND |= {  # and the GitOps controllers' objects, read (``gitops:``, issue 28): plurals as their CRDs name them
    ARGO_APPLICATION: RenderedKind(*ARGO_APPLICATION, "applications"),  # argo-cd manifests/crds/application-crd.yaml
    FLUX_KUSTOMIZATION: RenderedKind(*FLUX_KUSTOMIZATION, "kustomizations"),  # kustomize-controller config/crd/bases
    FLUX_GIT_REPOSITORY: RenderedKind(*FLUX_GIT_REPOSITORY, "gitrepositories"),  # source-controller config/crd/bases
}
_DISCOVERY = RenderedKind("v1", "APIGroupDiscoveryList", "apis", namespaced=False)  # how a discovery call is named
_CUSTOM_GROUPS = {
    "networking.istio.io": "Istio",
    "security.istio.io": "Istio",
    "monitoring.coreos.com": "the Prometheus operator",
    "argoproj.io": "Argo CD",
    "kustomize.toolkit.fluxcd.io": "Flux",
    "source.toolkit.fluxcd.io": "Flux",
}


class KubeconfigError(BadInputError):
    """Raised when the kubeconfig (or the pod's service account) does not say how to reach the cluster asked for: no
    kubeconfig, no such context, no current context. The message says what is missing, not where it was asked for:
    the caller names that (a binding of the platform file, ``--context``)."""


class AccessDeniedError(BadInputError):
    """The API server refused the credentials (401) or the permission (403): who may do what is configuration."""


def kind_of(api_version: str, kind: str) -> RenderedKind:
    found = _BY_KIND.get((api_version, kind))
    if found is None:
        raise BadInputError(f"{api_version} {kind} is not a kind findly-infra applies")
    return found


class _Retry(Exception):  # noqa: N818 - a signal to stamina, never seen outside
    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


@attrs.define
class KubernetesObjects:
    """The objects of one cluster, through its API server (the ``ClusterObjects`` port)."""

    api: Any = attrs.field(repr=False)
    """A ``kubernetes.client.ApiClient``."""
    server: str = attrs.field(converter=redact_url)
    timeout: float = 10.0
    attempts: int = 5

    # ---- the port ----------------------------------------------------------------------------------------------

    def apply(self, manifest: Mapping[str, Any], *, dry_run: bool = False, force: bool = False) -> dict[str, Any]:
        """Server-side apply *manifest* as ``findly-infra`` (strict field validation); the object as the server
        then holds it (or would, with *dry_run*)."""
        return self.apply_object(manifest, dry_run=dry_run, force=force)[0]

    def apply_object(
        self, manifest: Mapping[str, Any], *, dry_run: bool = False, force: bool = False
    ) -> tuple[dict[str, Any], bool]:
        """As :meth:`apply`, and whether the apply created the object (or would, with *dry_run*): kube-apiserver
        answers an apply that creates with 201 Created, one that patches with 200 — dry run or not
        (k8s.io/apiserver/pkg/endpoints/handlers/patch.go, ``patchResource``: ``wasCreated`` → ``http.StatusCreated``).
        One request."""
        kind = kind_of(str(manifest.get("apiVersion")), str(manifest.get("kind")))
        metadata = manifest.get("metadata") or {}
        name, namespace = str(metadata.get("name", "")), str(metadata.get("namespace", ""))
        query = [("fieldManager", FIELD_MANAGER), ("fieldValidation", "Strict")]
        if dry_run:
            query.append(("dryRun", "All"))
        if force:
            query.append(("force", "true"))
        answer = self._exchange(
            "patch",
            kind,
            namespace,
            name,
            "PATCH",
            _path(kind, namespace, name),
            query,
            # JSON (YAML 1.2) as the client would send it (rest.py: ``json.dumps(body)`` for a structured YAML body),
            # made here: text is sent as it is, without the client's walk of every value for its typed models first
            # (``ApiClient.sanitize_for_serialization``) — a plain document needs none
            json.dumps(manifest),
            "application/apply-patch+yaml",
        )
        body, created = answer.document, answer.status == 201
        if body is None:  # an apply that created the object answers 201 with it; this is for a silent server
            found = self.get(kind.api_version, kind.kind, namespace, name)
            return found or dict(manifest), created
        return body, created

    def served(self, kinds: Iterable[tuple[str, str]]) -> set[tuple[str, str]] | None:
        """Which of *kinds* (``(apiVersion, kind)``) the cluster serves, from aggregated discovery — every group,
        version and resource of ``/apis`` in one request (KEP-3352, GA in 1.30: ``Accept: application/json;
        g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList``, as kubectl asks since 1.30; the core group, always
        served, is not asked). ``None`` when the server answers the legacy document instead (an older server): then
        ask :meth:`serves` per kind."""
        wanted = {(api_version, kind) for api_version, kind in kinds if "/" in api_version}
        found = {(api_version, kind) for api_version, kind in kinds if "/" not in api_version}
        if not wanted:
            return found
        try:
            answer = self._exchange("get", _DISCOVERY, "", "", "GET", "/apis", [], None, None, accept=_AGGREGATED_V2)
        except _NotFound:
            return None
        document = answer.document
        if "as=APIGroupDiscoveryList" not in answer.content_type or document is None:
            return None
        for group in document.get("items") or []:
            name = str((group.get("metadata") or {}).get("name") or "")
            for version in group.get("versions") or []:
                for resource in version.get("resources") or []:
                    kind = str((resource.get("responseKind") or {}).get("kind") or "")
                    found.add((f"{name}/{version.get('version')}", kind))
        return found

    def get(self, api_version: str, kind_name: str, namespace: str, name: str) -> dict[str, Any] | None:
        kind = kind_of(api_version, kind_name)
        try:
            return self._call("get", kind, namespace, name, "GET", _path(kind, namespace, name), [], None, None)
        except _NotFound:
            return None

    def serves(self, api_version: str, kind_name: str, namespace: str) -> bool:
        kind = kind_of(api_version, kind_name)
        try:  # a list in the namespace: no cluster-wide permission needed to ask
            self._call("list", kind, namespace, "", "GET", _path(kind, namespace), [("limit", "1")], None, None)
        except _NotFound:
            return False
        return True

    def managed(self, api_version: str, kind_name: str, namespace: str, selector: str) -> list[dict[str, Any]]:
        """The objects of a kind in *namespace* (all namespaces for a cluster-scoped kind) that *selector* selects;
        empty when the cluster does not serve the kind."""
        kind = kind_of(api_version, kind_name)
        try:
            listed = self._call(
                "list", kind, namespace, "", "GET", _path(kind, namespace), [("labelSelector", selector)], None, None
            )
        except _NotFound:
            return []
        items = list((listed or {}).get("items") or [])
        for item in items:  # lists may leave these out of their items
            item.setdefault("apiVersion", kind.api_version)
            item.setdefault("kind", kind.kind)
        return items

    def delete(
        self,
        api_version: str,
        kind_name: str,
        namespace: str,
        name: str,
        *,
        dry_run: bool = False,
        resource_version: str | None = None,
    ) -> bool:
        """Whether the object was deleted (``False``: already gone, or — with *resource_version*, sent as
        ``DeleteOptions.preconditions`` — changed since that version was read: kube-apiserver answers 409
        ``Precondition failed``, staging/src/k8s.io/apiserver/pkg/storage/interfaces.go ``Preconditions.Check``)."""
        kind = kind_of(api_version, kind_name)
        query = [("dryRun", "All")] if dry_run else []
        body: dict[str, Any] | None = None  # the client encodes a JSON body itself (rest.py: json.dumps(body))
        if resource_version is not None:
            preconditions = {"resourceVersion": resource_version}
            body = {"apiVersion": "v1", "kind": "DeleteOptions", "preconditions": preconditions}
        path, content_type = _path(kind, namespace, name), "application/json" if body else None
        try:
            self._call("delete", kind, namespace, name, "DELETE", path, query, body, content_type)
        except (_NotFound, _Changed):
            return False
        return True

    # ---- one request -------------------------------------------------------------------------------------------

    def _call(  # noqa: PLR0917 - one request, every part named
        self,
        verb: str,
        kind: RenderedKind,
        namespace: str,
        name: str,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: Any,
        content_type: str | None,
    ) -> dict[str, Any] | None:
        """The document the server answered (retried as its status says; raised as its status means)."""
        return self._exchange(verb, kind, namespace, name, method, path, query, body, content_type).document

    def _exchange(  # noqa: PLR0917 - one request, every part named
        self,
        verb: str,
        kind: RenderedKind,
        namespace: str,
        name: str,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: Any,
        content_type: str | None,
        *,
        accept: str = "application/json",
    ) -> _Answer:
        import stamina

        what = f"{verb} {kind.qualified}" + (f' "{name}"' if name else "") + (f" in {namespace}" if namespace else "")

        def backoff(exc: Exception) -> bool | float:
            if isinstance(exc, _Retry):
                return exc.wait if exc.wait is not None else True
            return False

        caller = stamina.RetryingCaller(attempts=self.attempts, timeout=None, wait_initial=0.2, wait_max=5.0).on(
            backoff
        )
        try:
            return caller(self._once, what, kind, method, path, query, body, content_type, accept)
        except _Retry as exc:
            raise DependencyUnavailableError(
                f"the Kubernetes API server {self.server} did not {what}: {exc} (after {self.attempts} attempts)"
            ) from None

    def _once(  # noqa: PLR0917 - one request, every part named
        self,
        what: str,
        kind: RenderedKind,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: Any,
        content_type: str | None,
        accept: str = "application/json",
    ) -> _Answer:
        from urllib3.exceptions import HTTPError

        response = self._send(method, path, query, body, content_type, accept=accept)
        try:
            raw = response.read()
        except (HTTPError, OSError) as exc:  # the answer broke off
            raise _Retry(f"{type(exc).__name__}: {exc}") from None
        document = _json(raw)
        if 200 <= int(response.status) < 300:
            return _Answer(
                document if isinstance(document, dict) else None,
                int(response.status),
                str(_header(response, "Content-Type") or ""),
            )
        self._judge(what, kind, method, response, raw, document)
        raise AssertionError("unreachable: _judge raises")  # pragma: no cover

    def _send(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: Any,
        content_type: str | None,
        *,
        accept: str = "application/json",
    ) -> Any:
        """One HTTP request; its response unread (a watch streams it)."""
        from urllib3.exceptions import HTTPError

        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            method, url, headers, serialized, post = self.api.param_serialize(
                method, path, query_params=query, header_params=headers, body=body, auth_settings=["BearerToken"]
            )
            return self.api.call_api(method, url, headers, serialized, post, _request_timeout=self.timeout)
        except (HTTPError, OSError) as exc:  # connection refused, reset, timed out
            raise _Retry(f"{type(exc).__name__}: {exc}") from None

    def _secrets(self) -> list[str]:
        """The credentials these requests carry (the token, as refreshed; a password), to keep out of messages."""
        configuration = getattr(self.api, "configuration", None)
        keys = getattr(configuration, "api_key", None) or {}
        found = [str(value).removeprefix("Bearer ").strip() for value in keys.values()]
        return [*found, str(getattr(configuration, "password", None) or "")]

    def _judge(  # noqa: PLR0912, PLR0917 - what each status means
        self, what: str, kind: RenderedKind, method: str, response: Any, raw: bytes | None, document: Any
    ) -> None:
        """Raise what a failed answer means: retried (429, 5xx), refused (401, 403, 400, 422), absent, conflicting."""
        status = int(response.status)
        if isinstance(document, dict):
            message = str(document.get("message") or "")[:1000]
        else:
            message = (raw or b"")[:200].decode("utf-8", "replace")
        message = redact_text(message, self._secrets())  # a proxy before the API server may echo the token
        if status == 429:
            after = _retry_after(response)
            raise _Retry(f"429 too many requests{f' (Retry-After {after:g} s)' if after is not None else ''}", after)
        if status == 500 and method == "PATCH" and message.startswith(_TYPED_PATCH):
            raise BadInputError(f"the cluster refused to {what}: {_typed_patch_fields(message)}{_TYPED_PATCH_NOTE}")
        if status >= 500 or status == 408:
            raise _Retry(f"{status}: {message}")
        if status in (401, 403):
            raise AccessDeniedError(
                f"the Kubernetes API server {self.server} refused to {what} ({status} "
                f"{'unauthorized' if status == 401 else 'forbidden'}: {message}): check the credentials of the "
                "kubeconfig context, and that an administrator applied the access findly-infra render writes "
                "(access/ENV)"
            )
        if status == 404:
            missing = (document or {}).get("details", {}).get("kind") if isinstance(document, dict) else None
            if method != "GET" and kind.kind != "Namespace" and missing == "namespaces":
                raise BadInputError(
                    f"cannot {what}: {message} (an administrator creates the environment's namespace with its access: "
                    "kubectl apply --server-side -k access/ENV, from findly-infra render)"
                )
            if "could not find the requested resource" in message and method != "GET":
                owner = PROVIDERS.get(kind.api_version.partition("/")[0])
                hint = f": is {owner} installed (its CRDs)?" if owner else ""
                raise BadInputError(f"cannot {what}: the cluster does not serve {kind.api_version} {kind.kind}{hint}")
            raise _NotFound(what)
        if status == 409:
            causes = (document or {}).get("details", {}).get("causes") or [] if isinstance(document, dict) else []
            if causes:
                owned = "; ".join(f"{cause.get('field')} ({cause.get('message')})" for cause in causes)
                raise FieldConflictError(
                    f"cannot {what}: fields another manager owns would change: {owned}",
                    [(str(cause.get("field") or ""), _manager(str(cause.get("message") or ""))) for cause in causes],
                )
            if method == "DELETE" and ": Precondition failed: " in message:  # apierrors.NewConflict's words
                raise _Changed(what)  # not retried: the object is no longer the one the caller read
            raise _Retry(f"409 conflict: {message}")
        if status in (400, 422):
            causes = (document or {}).get("details", {}).get("causes") or [] if isinstance(document, dict) else []
            detail = "; ".join(f"{cause.get('field')}: {cause.get('message')}" for cause in causes) or message
            raise BadInputError(f"the cluster refused to {what}: {detail}")
        raise BadInputError(f"the cluster refused to {what}: {status} {message}")

    # ---- waiting for a Deployment ------------------------------------------------------------------------------

    def wait_ready(self, namespace: str, name: str, *, timeout: float) -> Readiness:
        """Until the Deployment *name* is ready or has failed (``domain.cluster.deployment_readiness``), or *timeout*
        seconds pass — then not ready, saying what it was waiting for. Watched from the version read: a watch that
        drops is resumed from the last version it delivered; one the server has forgotten (410) is read again."""
        kind = kind_of("apps/v1", "Deployment")
        deadline = time.monotonic() + timeout
        found = self.get(kind.api_version, kind.kind, namespace, name)
        if found is None:
            raise BadInputError(f"no Deployment {name!r} in {namespace} to wait for")
        readiness, version = deployment_readiness(found), str(found["metadata"].get("resourceVersion", ""))
        while not (readiness.ready or readiness.failed):
            left = deadline - time.monotonic()
            if left <= 0:
                return Readiness(False, reason=f"not ready within {timeout:g} seconds: {readiness.reason}")
            try:
                for event in self._watch(kind, namespace, name, version, left):
                    if event.get("type") == "ERROR":  # the version expired: read again, watch from the new one
                        found = self.get(kind.api_version, kind.kind, namespace, name) or found
                    elif event.get("type") == "DELETED":
                        return Readiness(False, True, f"Deployment {name!r} was deleted while waiting")
                    else:
                        found = event.get("object") or found
                    readiness = deployment_readiness(found)
                    version = str(found["metadata"].get("resourceVersion", version))
                    if readiness.ready or readiness.failed:
                        return readiness
            except _Retry:  # dropped mid-stream, or the server would not start it: again, from where it was
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        return readiness

    def _watch(
        self, kind: RenderedKind, namespace: str, name: str, version: str, seconds: float
    ) -> Iterator[dict[str, Any]]:
        query = [
            ("watch", "true"),
            ("fieldSelector", f"metadata.name={name}"),
            ("resourceVersion", version),
            ("timeoutSeconds", str(max(1, int(seconds)))),
        ]
        response = self._send("GET", _path(kind, namespace), query, None, None)
        if int(response.status) == 410:  # the version is too old, said up front rather than in the stream
            response.read()
            yield {"type": "ERROR", "object": {"code": 410}}
            return
        if int(response.status) != 200:
            raw = response.read()
            self._judge(f"watch {kind.qualified} {name!r} in {namespace}", kind, "GET", response, raw, _json(raw))
        from urllib3.exceptions import HTTPError

        buffer = b""
        try:
            for chunk in response.response.stream(4096, decode_content=True):
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    event = _json(line)
                    if isinstance(event, dict):
                        yield event
        except (HTTPError, OSError) as exc:  # the stream broke off (urllib3's ProtocolError)
            raise _Retry(f"the watch broke off: {exc}") from None
        finally:
            response.response.release_conn()


def _json(raw: bytes | None) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python's parser goes
        return None


@attrs.frozen
class _Answer:
    """A successful answer: its document, its status (an apply that created is 201), its media type."""

    document: dict[str, Any] | None
    status: int
    content_type: str


class _NotFound(Exception):  # noqa: N818 - answered as None / [] by the port methods
    pass


class _Changed(Exception):  # noqa: N818 - answered as False by delete
    """A delete's precondition failed: the object changed since the version given."""


_TYPED_PATCH = "failed to create typed patch object"
"""How kube-apiserver begins its answer to a server-side apply whose body does not fit the kind's schema — a field it
does not declare, two items of a keyed list with one key, a scalar of another type. The field manager returns that as
a plain error, so the server answers HTTP 500 (``structuredmerge.go``, kubernetes/kubernetes#122480 and #139253):
the same body fails the same way every time, so it is bad input, not a server to wait for."""
_TYPED_PATCH_NOTE = (
    " (kube-apiserver answers a server-side apply that does not fit the kind's schema with HTTP 500; not retried)"
)


def _typed_patch_fields(message: str) -> str:
    """The field errors of a typed-patch failure, as the object's own paths: ``failed to create typed patch object
    (ns/name; apps/v1, Kind=Deployment): .spec.replicass: field not declared in schema`` gives ``spec.replicass: field
    not declared in schema``; several (``errors:`` then one per line) are joined with ``; ``."""
    _, _, detail = message.partition("): ")
    lines = [line.strip() for line in (detail or message).splitlines() if line.strip() and line.strip() != "errors:"]
    return "; ".join(line.removeprefix(".") for line in lines)


_CONFLICT_WITH = re.compile(r'conflicts? with ("(?:[^"\\]|\\.)*")')


def _manager(cause: str) -> str:
    """The manager a conflict's cause names: ``conflict with "kubectl-set" using apps/v1 at 2026-01-05T09:00:00Z``
    gives ``kubectl-set`` — the name is Go-quoted (``printManager``, k8s.io/apimachinery/pkg/util/managedfields/
    internal/conflict.go, ``fmt.Sprintf("%q", …)``), then what it did; the whole cause when it says no name."""
    found = _CONFLICT_WITH.search(cause)
    if found is None:
        return cause
    try:
        return str(json.loads(found.group(1)))
    except ValueError:
        return found.group(1).strip('"')


_AGGREGATED_V2 = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
)
"""Aggregated discovery ``v2`` (1.30 on), else ``v2beta1`` (1.26 to 1.32, the same fields), else the legacy document —
as client-go's discovery client asks (``AcceptV2``, ``AcceptV2Beta1``, then JSON: k8s.io/client-go/discovery/
discovery_client.go)."""


def _header(response: Any, name: str) -> str | None:
    getter = getattr(response, "getheader", None) or getattr(response, "headers", {}).get
    value = getter(name) if callable(getter) else None
    return None if value is None else str(value)


def _retry_after(response: Any) -> float | None:
    value = _header(response, "Retry-After")
    try:
        return min(float(value), 60.0) if value is not None else None
    except ValueError:
        return None


def connect(
    *,
    context: str | None = None,
    in_cluster: bool = False,
    kubeconfig: str | None = None,
    timeout: float = 10.0,
    on_retry: Callable[[Any], None] | None = None,
) -> KubernetesObjects:
    """A cluster's objects, from the kubeconfig (``KUBECONFIG``, else ``~/.kube/config``; *context*, else its current
    context) or the pod's service account (*in_cluster*); *on_retry* is told of each retry. Raises
    :class:`KubeconfigError` when neither says where — no kubeconfig, no such context, no current one — before any
    request is sent."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    configuration = client.Configuration()
    where = "the pod's service account"
    if in_cluster:
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except (ConfigException, OSError) as exc:
            raise KubeconfigError(f"the pod's service account cannot be read here (not in a pod?): {exc}") from None
    else:
        # KUBECONFIG read now: the client reads it once, when first imported; a list of files, as kubectl merges them
        files = kubeconfig or os.environ.get("KUBECONFIG") or os.path.join("~", ".kube", "config")
        where = (
            f"kubeconfig {files}" if kubeconfig else f"KUBECONFIG {files}" if os.environ.get("KUBECONFIG") else files
        )
        try:
            contexts, current = config.list_kube_config_contexts(config_file=files)  # type: ignore[no-untyped-call]
        except (ConfigException, OSError, ValueError) as exc:
            raise KubeconfigError(f"no kubeconfig can be read at {where}: {exc}") from None
        names = [str(entry.get("name")) for entry in contexts or [] if isinstance(entry, dict)]
        known = f"its contexts: {', '.join(names)}" if names else "it has no context"
        if context is not None and context not in names:
            raise KubeconfigError(f"no context {context!r} in {where} ({known})")
        if context is None and not current:
            raise KubeconfigError(f"{where} has no current context ({known}): name one")
        try:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=files, context=context, client_configuration=configuration
            )
        except (ConfigException, OSError, ValueError) as exc:
            named = context or (current or {}).get("name", "")
            raise KubeconfigError(f"the context {named!r} of {where} cannot be used: {exc}") from None
    for value in (configuration.api_key or {}).values():  # "Bearer <token>": the Authorization header as sent
        header_token(
            str(value).removeprefix("Bearer "), "the service account's token" if in_cluster else f"{where}'s token"
        )
    configuration.retries = False  # our retries, which know what each status means
    if on_retry is not None:  # told of each retry (stamina's RetryDetails), instead of stamina's own log on stdout
        import stamina

        hook: Any = on_retry  # a RetryHook: called with stamina's RetryDetails
        stamina.instrumentation.set_on_retry_hooks([hook])
    return KubernetesObjects(client.ApiClient(configuration), configuration.host, timeout=timeout)
