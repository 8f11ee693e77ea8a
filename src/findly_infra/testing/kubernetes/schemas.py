"""The API server's knowledge of types: the real OpenAPI schemas (as ``kubernetes-validate`` ships them) for the
built-in kinds, small structural schemas for the custom resources (Istio, the Prometheus operator), defaulting,
and the list semantics server-side apply merges by (``x-kubernetes-list-type`` / ``x-kubernetes-list-map-keys``).

Each kind's validator is built once and kept: validating an object is then a walk of its schema, not a file read.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

__all__ = ["KIND_TABLE", "ListKind", "ResourceType", "Schemas", "resource_type"]

SCHEMA_VERSION = "1.33.0"
"""The Kubernetes version whose schemas are served (the newest ``kubernetes-validate`` ships may be later)."""


@attrs.frozen
class ResourceType:
    """One REST resource: where it lives and what it is."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    status: bool = False
    """Whether it has a status subresource (writes to the object leave ``.status`` alone, and the reverse)."""
    custom: bool = False
    scale: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``deployments.apps``, as messages name a resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


KIND_TABLE: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "Namespace", "namespaces", namespaced=False, status=True),
    ResourceType("", "v1", "Service", "services", status=True),
    ResourceType("", "v1", "ServiceAccount", "serviceaccounts"),
    ResourceType("", "v1", "ConfigMap", "configmaps"),
    ResourceType("", "v1", "Secret", "secrets"),
    ResourceType("", "v1", "ResourceQuota", "resourcequotas", status=True),
    ResourceType("", "v1", "Pod", "pods", status=True),
    ResourceType("apps", "v1", "Deployment", "deployments", status=True, scale=True),
    ResourceType("apps", "v1", "ReplicaSet", "replicasets", status=True),
    ResourceType("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", status=True),
    ResourceType("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", status=True),
    ResourceType("networking.k8s.io", "v1", "Ingress", "ingresses", status=True),
    ResourceType("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies"),
    ResourceType("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    ResourceType("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", namespaced=False),
    ResourceType("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False),
    ResourceType("coordination.k8s.io", "v1", "Lease", "leases"),
    ResourceType("networking.istio.io", "v1", "VirtualService", "virtualservices", status=True, custom=True),
    ResourceType("networking.istio.io", "v1", "DestinationRule", "destinationrules", status=True, custom=True),
    ResourceType("networking.istio.io", "v1", "Gateway", "gateways", status=True, custom=True),
    ResourceType("security.istio.io", "v1", "PeerAuthentication", "peerauthentications", status=True, custom=True),
    ResourceType("security.istio.io", "v1", "AuthorizationPolicy", "authorizationpolicies", status=True, custom=True),
    ResourceType("monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules", custom=True),
)


def resource_type(api_version: str, kind: str) -> ResourceType | None:
    for candidate in KIND_TABLE:
        if candidate.api_version == api_version and candidate.kind == kind:
            return candidate
    return None


@attrs.frozen
class ListKind:
    """How server-side apply treats a list: ``atomic`` (replaced whole, owned as one field), ``map`` (items keyed by
    ``keys``, merged and owned item by item) or ``set`` (scalar items, owned one by one)."""

    kind: str
    keys: tuple[str, ...] = ()


ATOMIC = ListKind("atomic")

# Structural schemas of the custom resources the platform renders: what the CRDs say of the fields findly-infra
# writes (Istio's own CRDs keep the rest open: x-kubernetes-preserve-unknown-fields), strict where it matters — a
# misspelt route field must be refused, as kube-apiserver refuses it against the CRD's schema.
_STRING = {"type": "string"}
_INT = {"type": "integer"}
_LABELS = {"type": "object", "additionalProperties": _STRING}
_STRING_MATCH = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"exact": _STRING, "prefix": _STRING, "regex": _STRING},
}
_DESTINATION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["host"],
    "properties": {
        "host": _STRING,
        "subset": _STRING,
        "port": {"type": "object", "additionalProperties": False, "properties": {"number": _INT}},
    },
}
_HTTP_ROUTE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": _STRING,
        "match": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "name": _STRING,
                    "uri": _STRING_MATCH,
                    "headers": {"type": "object", "additionalProperties": _STRING_MATCH},
                    "port": _INT,
                },
            },
        },
        "route": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["destination"],
                "properties": {
                    "destination": _DESTINATION,
                    "weight": {"type": "integer", "minimum": 0, "maximum": 100},
                    "headers": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                },
            },
        },
        "timeout": _STRING,
        "retries": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "fault": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "headers": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "corsPolicy": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}
_OPEN = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_CUSTOM_SPECS: Mapping[str, Mapping[str, Any]] = {
    "VirtualService": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "hosts": {"type": "array", "items": _STRING},
            "gateways": {"type": "array", "items": _STRING},
            "http": {"type": "array", "items": _HTTP_ROUTE},
            "tcp": {"type": "array", "items": _OPEN},
            "tls": {"type": "array", "items": _OPEN},
            "exportTo": {"type": "array", "items": _STRING},
        },
    },
    "DestinationRule": {
        "type": "object",
        "additionalProperties": False,
        "required": ["host"],
        "properties": {
            "host": _STRING,
            "trafficPolicy": _OPEN,
            "subsets": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": {"name": _STRING, "labels": _LABELS, "trafficPolicy": _OPEN},
                },
            },
            "exportTo": {"type": "array", "items": _STRING},
        },
    },
}


def _custom_schema(kind: str, api_version: str) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata"],
        "properties": {
            "apiVersion": {"enum": [api_version]},
            "kind": {"enum": [kind]},
            "metadata": {
                "$ref": "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
            },
            "spec": dict(_CUSTOM_SPECS.get(kind, _OPEN)),
            "status": _OPEN,
        },
    }


def _schema_folder(strict: bool) -> Path:
    from importlib.resources import files  # kubernetes-validate (the testing extra) ships the real schemas

    root = Path(str(files("kubernetes_validate"))) / "kubernetes-json-schema"
    return root / f"v{SCHEMA_VERSION}-local{'-strict' if strict else ''}"


@attrs.define
class Schemas:
    """Validators and list semantics per kind, built once."""

    _definitions: dict[str, Any] = attrs.field(factory=dict, init=False)
    _validators: dict[tuple[str, bool], Any] = attrs.field(factory=dict, init=False)
    _roots: dict[str, dict[str, Any]] = attrs.field(factory=dict, init=False)

    def _defs(self, strict: bool) -> dict[str, Any]:
        key = "strict" if strict else "lax"
        if key not in self._definitions:
            self._definitions[key] = json.loads((_schema_folder(strict) / "_definitions.json").read_text())
        found: dict[str, Any] = self._definitions[key]
        return found

    def root(self, resource: ResourceType) -> dict[str, Any]:
        """The kind's schema (strict: unknown fields are ``additionalProperties: false``)."""
        if resource.kind not in self._roots:
            if resource.custom:
                self._roots[resource.kind] = _custom_schema(resource.kind, resource.api_version)
            else:
                group = resource.group.split(".")[0]
                name = f"{resource.kind.lower()}-{group + '-' if group else ''}{resource.version}.json"
                self._roots[resource.kind] = json.loads((_schema_folder(True) / name).read_text())
        return self._roots[resource.kind]

    def _validator(self, resource: ResourceType, strict: bool) -> Any:
        key = (resource.kind, strict)
        if key not in self._validators:
            import jsonschema  # type: ignore[import-untyped]  # the testing extra; no stubs shipped
            from referencing import Registry, Resource

            schema = self.root(resource)
            if not strict:
                schema = _lax(schema)
            definitions = self._defs(strict)
            registry: Registry[Any] = Registry().with_resources(
                [
                    ("https://kubernetes.io/api/_definitions.json", Resource.from_contents(definitions)),
                ]
            )
            self._validators[key] = jsonschema.Draft202012Validator(schema, registry=registry)
        return self._validators[key]

    def problems(self, resource: ResourceType, document: Mapping[str, Any]) -> list[tuple[str, str]]:
        """What is wrong with *document* as its schema types it: (field path, message), unknown fields aside."""
        validator = self._validator(resource, strict=False)
        return [(_path(error.absolute_path), error.message) for error in validator.iter_errors(document)]

    def unknown_fields(self, resource: ResourceType, document: Mapping[str, Any]) -> list[str]:
        """The fields *document* has that its schema does not know (``spec.replicass``)."""
        found = []
        for error in self._validator(resource, strict=True).iter_errors(document):
            if error.validator == "additionalProperties":
                extra = re.findall(r"'([^']+)'", error.message.split("(")[-1])
                base = _path(error.absolute_path)
                found += [f"{base}.{name}" if base else name for name in extra]
        return sorted(set(found))

    # ---- what server-side apply needs: the schema of a field, and a list's semantics ----------------------------

    def resolve(self, node: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        """*node* with its ``$ref`` followed (and ``allOf`` of one taken)."""
        while node is not None and "$ref" in node:
            name = str(node["$ref"]).rsplit("/", 1)[-1]
            node = self._defs(True)["$defs"].get(name)
        if node is not None and "allOf" in node and len(node["allOf"]) == 1:
            return self.resolve(node["allOf"][0])
        return node

    def child(self, node: Mapping[str, Any] | None, field: str) -> Mapping[str, Any] | None:
        """The schema of *field* in an object whose schema is *node* (``None``: untyped, preserved as is)."""
        node = self.resolve(node)
        if node is None:
            return None
        properties = node.get("properties") or {}
        if field in properties:
            return self.resolve(properties[field])
        extra = node.get("additionalProperties")
        if isinstance(extra, Mapping):
            return self.resolve(extra)
        return None

    def items(self, node: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        node = self.resolve(node)
        return None if node is None else self.resolve(node.get("items"))

    def list_kind(self, node: Mapping[str, Any] | None) -> ListKind:
        node = self.resolve(node)
        if node is None:
            return ATOMIC
        kind = node.get("x-kubernetes-list-type")
        if kind == "map":
            return ListKind("map", tuple(node.get("x-kubernetes-list-map-keys") or ()))
        if kind == "set":
            return ListKind("set")
        if kind is None and node.get("x-kubernetes-patch-merge-key"):  # older schemas: the patch key
            return ListKind("map", (str(node["x-kubernetes-patch-merge-key"]),))
        return ATOMIC

    def is_map(self, node: Mapping[str, Any] | None) -> bool:
        """Whether a field is a map of free keys (labels), whose keys are owned one by one, rather than a struct."""
        node = self.resolve(node)
        return node is not None and not node.get("properties") and isinstance(node.get("additionalProperties"), Mapping)


def _lax(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The schema without its own ``additionalProperties: false`` (unknown fields are judged separately)."""
    copy = dict(schema)
    if copy.get("additionalProperties") is False:
        copy.pop("additionalProperties")
    return copy


def _path(parts: Iterator[Any] | Any) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@functools.cache
def schemas() -> Schemas:
    """The one set of schemas a process builds."""
    return Schemas()
