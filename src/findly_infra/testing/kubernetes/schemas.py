"""The API server's knowledge of types: the real OpenAPI schemas (as ``kubernetes-validate`` ships them) for the
built-in kinds, the CustomResourceDefinitions' structural schemas and CEL rules for the custom resources (Istio's, the
Prometheus operator's, GKE's ManagedCertificate: ``crds``), the typing a server-side apply's body goes through, and the
list semantics server-side apply merges by (``x-kubernetes-list-type`` / ``x-kubernetes-list-map-keys``).

Each kind's validator is built once and kept: validating an object is then a walk of its schema, not a file read.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from findly_infra.testing.kubernetes.crds import CUSTOM_RESOURCE_DEFINITIONS, cel_errors
from findly_infra.testing.kubernetes.validation import FieldError, invalid, not_supported, required, too_many

__all__ = [
    "BUILT_IN",
    "KIND_TABLE",
    "ListKind",
    "ResourceType",
    "Schemas",
    "custom_resource_types",
    "kind_table",
    "resource_type",
]

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
    schema: Mapping[str, Any] | None = attrs.field(default=None, eq=False, repr=False)
    """A custom resource's ``openAPIV3Schema``, from its CustomResourceDefinition."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``deployments.apps``, as messages name a resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_kind(self) -> str:
        """``Deployment.apps``, as ``errors.NewInvalid`` names a kind (``schema.GroupKind.String``)."""
        return f"{self.kind}.{self.group}" if self.group else self.kind


BUILT_IN: tuple[ResourceType, ...] = (
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
)
"""The built-in kinds served, validated against the real OpenAPI schemas."""


def custom_resource_types(definition: Mapping[str, Any]) -> list[ResourceType]:
    """The resources an ``apiextensions.k8s.io/v1`` CustomResourceDefinition serves: one per served version."""
    spec = definition.get("spec") or {}
    names = spec.get("names") or {}
    found = []
    for version in spec.get("versions") or []:
        if not version.get("served", True):
            continue
        schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
        }
        found.append(
            ResourceType(
                str(spec["group"]),
                str(version["name"]),
                str(names["kind"]),
                str(names["plural"]),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                status="status" in (version.get("subresources") or {}),
                custom=True,
                schema=schema,
            )
        )
    return found


def kind_table(definitions: Iterable[Mapping[str, Any]]) -> tuple[ResourceType, ...]:
    """The built-in kinds and those the *definitions* (CustomResourceDefinitions) add."""
    return BUILT_IN + tuple(resource for definition in definitions for resource in custom_resource_types(definition))


KIND_TABLE: tuple[ResourceType, ...] = kind_table(CUSTOM_RESOURCE_DEFINITIONS)
"""What a stand-in serves by default: the built-in kinds, Istio's, the Prometheus operator's and GKE's
ManagedCertificate (``crds.CUSTOM_RESOURCE_DEFINITIONS``)."""


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


def _custom_schema(resource: ResourceType) -> dict[str, Any]:
    """A custom resource's schema as the stand-in validates it: its CRD's ``openAPIV3Schema`` (spec, status, …), with
    ``apiVersion``, ``kind`` and ``metadata`` as every object has them."""
    declared = dict(resource.schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    properties = dict(declared.get("properties") or {})
    properties["apiVersion"] = {"type": "string", "enum": [resource.api_version]}
    properties["kind"] = {"type": "string", "enum": [resource.kind]}
    properties["metadata"] = {
        "$ref": "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    }
    return {**declared, "type": "object", "required": ["apiVersion", "kind", "metadata"], "properties": properties}


def _structural_strict(node: Any) -> Any:
    """A structural schema with its pruning made explicit: an object with ``properties`` and no
    ``x-kubernetes-preserve-unknown-fields`` knows no other field (``additionalProperties: false``)."""
    if isinstance(node, list):
        return [_structural_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _structural_strict(value) for key, value in node.items()}
    if (
        "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def _schema_folder(strict: bool) -> Path:
    from importlib.resources import files  # kubernetes-validate (the testing extra) ships the real schemas

    root = Path(str(files("kubernetes_validate"))) / "kubernetes-json-schema"
    return root / f"v{SCHEMA_VERSION}-local{'-strict' if strict else ''}"


@attrs.define
class Schemas:
    """Validators and list semantics per kind, built once."""

    _definitions: dict[str, Any] = attrs.field(factory=dict, init=False)
    _validators: dict[tuple[Any, bool], Any] = attrs.field(factory=dict, init=False)
    _roots: dict[Any, dict[str, Any]] = attrs.field(factory=dict, init=False)
    _digests: dict[int, tuple[Any, str]] = attrs.field(factory=dict, init=False)

    def _defs(self, strict: bool) -> dict[str, Any]:
        key = "strict" if strict else "lax"
        if key not in self._definitions:
            self._definitions[key] = json.loads((_schema_folder(strict) / "_definitions.json").read_text())
        found: dict[str, Any] = self._definitions[key]
        return found

    def _key(self, resource: ResourceType) -> Any:
        """A kind's cache key: built-in kinds by name, custom ones by their CRD's schema too (two stand-ins may serve
        different versions of one CRD)."""
        if not resource.custom:
            return resource.qualified
        held = self._digests.get(id(resource.schema))
        if held is None or held[0] is not resource.schema:
            held = (resource.schema, json.dumps(resource.schema, sort_keys=True))
            self._digests[id(resource.schema)] = held
        return (resource.qualified, resource.version, held[1])

    def root(self, resource: ResourceType) -> dict[str, Any]:
        """The kind's schema: the real OpenAPI schema of a built-in kind (unknown fields ``additionalProperties:
        false``), a custom resource's CRD schema."""
        key = self._key(resource)
        if key not in self._roots:
            if resource.custom:
                self._roots[key] = _custom_schema(resource)
            else:
                group = resource.group.split(".")[0]
                name = f"{resource.kind.lower()}-{group + '-' if group else ''}{resource.version}.json"
                self._roots[key] = json.loads((_schema_folder(True) / name).read_text())
        return self._roots[key]

    def _validator(self, resource: ResourceType, strict: bool) -> Any:
        key = (self._key(resource), strict)
        if key not in self._validators:
            import jsonschema  # type: ignore[import-untyped]  # the testing extra; no stubs shipped
            from referencing import Registry, Resource

            schema = self.root(resource)
            if resource.custom and strict:
                schema = _structural_strict(schema)
            elif not strict:
                schema = _lax(schema)
            definitions = self._defs(strict)
            registry: Registry[Any] = Registry().with_resources(
                [
                    ("https://kubernetes.io/api/_definitions.json", Resource.from_contents(definitions)),
                ]
            )
            self._validators[key] = jsonschema.Draft202012Validator(schema, registry=registry)
        return self._validators[key]

    def problems(self, resource: ResourceType, document: Mapping[str, Any]) -> list[FieldError]:
        """What is wrong with *document* as its schema types it, unknown fields aside; for a custom resource worded as
        kube-apiserver words a CRD's schema (``ValidateCustomResource``) and its CEL rules."""
        validator = self._validator(resource, strict=False)
        errors: list[FieldError] = []
        for error in validator.iter_errors(document):
            errors += _openapi_errors(error) if resource.custom else [invalid_schema(error)]
        if resource.custom and not errors:  # CEL rules run on objects whose schema holds
            errors += cel_errors(self.root(resource), document)
        return errors

    def unknown_fields(self, resource: ResourceType, document: Mapping[str, Any]) -> list[str]:
        """The fields *document* has that its schema does not know (``spec.replicass``)."""
        found = []
        for error in self._validator(resource, strict=True).iter_errors(document):
            if error.validator == "additionalProperties":
                extra = re.findall(r"'([^']+)'", error.message.split("(")[-1])
                base = _path(error.absolute_path)
                found += [f"{base}.{name}" if base else name for name in extra]
        return sorted(set(found))

    def typed_errors(self, resource: ResourceType, document: Mapping[str, Any]) -> list[str]:
        """What structured-merge-diff refuses when it types a server-side apply's body against the kind's schema
        (``typed.AsTyped`` / ``validatingObjectWalker``, sigs.k8s.io/structured-merge-diff ``typed/validate.go``):
        ``.spec.replicass: field not declared in schema`` (the rest of that object unchecked, as the walker stops at
        the first), ``.spec.x: duplicate entries for key [name="a"]``, ``.spec.replicas: expected numeric (int or
        float), got string``."""
        return _typed(self, self.root(resource), document, "")

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


# ---- wording of schema errors ----------------------------------------------------------------------------------------


def invalid_schema(error: Any) -> FieldError:
    """A built-in kind's schema error, at its field (``spec.replicas: Invalid value: "three": …``)."""
    return invalid(_path(error.absolute_path) or "<root>", error.instance, error.message)


def _openapi_errors(error: Any) -> list[FieldError]:  # noqa: PLR0911 - one wording per go-openapi failure code
    """A CRD schema error as ``apiextensions-apiserver/pkg/apiserver/validation`` words go-openapi's (``Required
    value``, ``Unsupported value: …: supported values: …``, ``… in body must be of type integer: "string"``, ``… in
    body should be less than or equal to 100``, ``Too many: …``)."""
    path = _path(error.absolute_path)
    where = path or "<root>"
    value, schema = error.instance, error.schema
    if error.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        return [required(f"{path}.{name}" if path else name) for name in missing]
    if error.validator == "enum":
        return [not_supported(where, value, [str(v) for v in schema.get("enum") or ()])]
    if error.validator == "type":
        got = {str: "string", bool: "boolean", int: "integer", float: "number", dict: "object", list: "array"}.get(
            type(value), "null"
        )
        return [
            FieldError(
                "FieldValueTypeInvalid",
                where,
                f'Invalid value: "{got}": {where} in body must be of type {schema.get("type")}: "{got}"',
            )
        ]
    if error.validator == "minimum":
        return [invalid(where, value, f"{where} in body should be greater than or equal to {schema['minimum']}")]
    if error.validator == "maximum":
        return [invalid(where, value, f"{where} in body should be less than or equal to {schema['maximum']}")]
    if error.validator == "maxLength":
        return [FieldError("FieldValueTooLong", where, f"Too long: may not be longer than {schema['maxLength']}")]
    if error.validator == "minLength":
        return [invalid(where, value, f"{where} in body should be at least {schema['minLength']} chars long")]
    if error.validator == "maxItems":
        return [too_many(where, len(value), int(schema["maxItems"]))]
    if error.validator == "minItems":
        return [invalid(where, value, f"{where} in body should have at least {schema['minItems']} items")]
    if error.validator == "maxProperties":
        return [too_many(where, len(value), int(schema["maxProperties"]))]
    if error.validator == "pattern":
        return [invalid(where, value, f"{where} in body should match '{schema['pattern']}'")]
    if error.validator == "oneOf":
        return [invalid(where, value, f"{where} in body must validate one and only one schema (oneOf)")]
    return [invalid(where, value, error.message)]


# ---- what structured-merge-diff's typing of an apply body refuses ----------------------------------------------------


def _go_type(value: Any) -> str:
    """Go's ``%T`` of a decoded JSON value."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return "[]interface {}"


def _go_unstructured(value: Any) -> str:
    """``%v`` of a structured-merge-diff ``value.Value`` holding *value* (``&{3}``)."""
    shown = ("true" if value else "false") if isinstance(value, bool) else value
    return f"&{{{shown}}}"


def _element(item: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    """A keyed list item's path element (``fieldpath.PathElement.String``): ``[name="app"]``."""
    return (
        "[" + ",".join(f"{key}={json.dumps(item.get(key, 'TCP' if key == 'protocol' else None))}" for key in keys) + "]"
    )


def _typed(schemas: Schemas, node: Mapping[str, Any] | None, value: Any, path: str) -> list[str]:  # noqa: PLR0911, PLR0912
    node = schemas.resolve(node)
    if node is None or value is None or node.get("x-kubernetes-preserve-unknown-fields"):
        return []
    if node.get("x-kubernetes-int-or-string") or ("oneOf" in node and "properties" not in node):
        return []  # an int-or-string (and other unions of scalars) is untyped: any scalar
    kind = node.get("type")
    if isinstance(kind, list):  # kubernetes-validate writes nullable types as ["array", "null"]
        kind = next((k for k in kind if k != "null"), None)
    properties, extra = node.get("properties"), node.get("additionalProperties")
    if kind == "object" or properties is not None or isinstance(extra, Mapping):
        if not isinstance(value, dict):
            return [f"{path}: expected map, got {_go_unstructured(value)}" if path else "expected map"]
        if properties is None and not isinstance(extra, Mapping):
            return []  # an object of no declared fields: kept as it comes
        errors: list[str] = []
        for name, child in value.items():  # the walker stops at the first undeclared field of an object
            if properties is not None and name in properties:
                errors += _typed(schemas, properties[name], child, f"{path}.{name}")
            elif isinstance(extra, Mapping):
                errors += _typed(schemas, extra, child, f"{path}.{name}")
            else:
                errors.append(f"{path}.{name}: field not declared in schema")
                break
        return errors
    if kind == "array":
        if not isinstance(value, list):
            return [f"{path}: expected list, got {_go_unstructured(value)}"]
        item_node = schemas.items(node)
        list_kind = schemas.list_kind(node)
        errors = []
        seen: set[str] = set()
        for index, item in enumerate(value):
            if list_kind.kind == "map":
                if not isinstance(item, dict):
                    return [
                        *errors,
                        f"{path}: element {index}: associative list with keys may not have non-map elements",
                    ]
                missing = [k for k in list_kind.keys if k not in item and k != "protocol"]
                if missing:
                    return [
                        *errors,
                        f"{path}: element {index}: associative list with keys has an element that omits key field "
                        f'"{missing[0]}" (and doesn\'t have default value)',
                    ]
                element = _element(item, list_kind.keys)
            elif list_kind.kind == "set":
                element = f"[={json.dumps(item)}]"
            else:
                element = f"[{index}]"
            if list_kind.kind != "atomic":
                if element in seen:
                    errors.append(f"{path}: duplicate entries for key {element}")
                seen.add(element)
            errors += _typed(schemas, item_node, item, f"{path}{element}")
        return errors
    if kind in ("integer", "number") and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return [f"{path}: expected numeric (int or float), got {_go_type(value)}"]
    if kind == "string" and not isinstance(value, str):
        return [f"{path}: expected string, got &value.valueUnstructured{{Value:{json.dumps(value)}}}"]
    if kind == "boolean" and not isinstance(value, bool):
        return [f"{path}: expected boolean, got {_go_unstructured(value)}"]
    return []
