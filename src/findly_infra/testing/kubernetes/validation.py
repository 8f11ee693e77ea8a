"""What kube-apiserver's validation refuses beyond a kind's schema, worded as it words it.

Field errors follow ``k8s.io/apimachinery/pkg/util/validation/field/errors.go`` (``Invalid value: "x": detail``,
``Required value``, ``Unsupported value: "x": supported values: …``, ``Duplicate value``, ``Forbidden: …``), gathered
into a 422 ``Invalid`` Status as ``errors.NewInvalid`` does (``k8s.io/apimachinery/pkg/api/errors/errors.go``):
``Service "x" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive``, one cause per
error. The rules: names, labels and annotations (``k8s.io/apimachinery/pkg/api/validate/content/kube.go``,
``pkg/util/validation/validation.go``, ``pkg/api/validation/objectmeta.go``); Services
(``pkg/apis/core/validation/validation.go``: ``ValidateService``, ``validateServicePort``,
``ValidateServiceClusterIPsRelatedFields``, ``validateUpgradeDowngradeClusterIPs``).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

__all__ = [
    "FieldError",
    "aggregate",
    "annotation_errors",
    "dns1123_label",
    "dns1123_subdomain",
    "duplicate",
    "forbidden",
    "go_value",
    "invalid",
    "label_errors",
    "label_key",
    "label_value",
    "not_supported",
    "required",
    "service_errors",
    "too_long",
    "too_many",
]


@attrs.frozen
class FieldError:
    """One ``field.Error``: its type (the Status cause's ``reason``), its field path and its body."""

    type: str
    field: str
    body: str

    def __str__(self) -> str:
        return f"{self.field}: {self.body}"

    def cause(self) -> dict[str, str]:
        return {"reason": self.type, "message": self.body, "field": self.field}


def go_value(value: Any) -> str:  # noqa: PLR0911 - one answer per Go formatting verb
    """A bad value as ``field.Error.ErrorBody`` prints it: strings quoted (``%q``), numbers and booleans plain
    (``%v``), anything else as Go's ``%#v`` of the decoded type (``[]string{"a"}``, ``map[string]string{"a":"b"}``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[]string{" + ", ".join(json.dumps(v) for v in value) + "}"
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return (
            "map[string]string{" + ", ".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in sorted(value.items())) + "}"
        )
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError(
        "FieldValueInvalid", field, f"Invalid value: {go_value(value)}" + (f": {detail}" if detail else "")
    )


def required(field: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", field, "Required value" + (f": {detail}" if detail else ""))


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", field, f"Forbidden: {detail}")


def duplicate(field: str, value: Any) -> FieldError:
    return FieldError("FieldValueDuplicate", field, f"Duplicate value: {go_value(value)}")


def not_supported(field: str, value: Any, supported: Iterable[str]) -> FieldError:
    quoted = ", ".join(json.dumps(v) for v in supported)
    return FieldError(
        "FieldValueNotSupported", field, f"Unsupported value: {go_value(value)}: supported values: {quoted}"
    )


def too_long(field: str, max_length: int) -> FieldError:
    # field.TooLong (k8s.io/apimachinery/pkg/util/validation/field/errors.go, 1.32 on): "may not be more than N bytes"
    return FieldError("FieldValueTooLong", field, f"Too long: may not be more than {max_length} bytes")


def too_many(field: str, actual: int, maximum: int) -> FieldError:
    return FieldError("FieldValueTooMany", field, f"Too many: {actual}: must have at most {maximum} items")


def aggregate(errors: Sequence[FieldError]) -> str:
    """``ErrorList.ToAggregate().Error()``: one error as itself, several as ``[a, b]``, repeats dropped."""
    seen: list[str] = []
    for error in errors:
        if str(error) not in seen:
            seen.append(str(error))
    return seen[0] if len(seen) == 1 else "[" + ", ".join(seen) + "]"


# ---- names, labels, annotations: k8s.io/apimachinery/pkg/api/validate/content ---------------------------------------

_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY = re.compile(f"^{_LABEL_KEY_FMT}$")
_LABEL_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)
_LABEL_VALUE_FMT = f"({_LABEL_KEY_FMT})?"
_LABEL_VALUE = re.compile(f"^{_LABEL_VALUE_FMT}$")
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character"
)
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL = re.compile(f"^{_DNS1123_LABEL_FMT}$")
_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN = re.compile(f"^{_DNS1123_SUBDOMAIN_FMT}$")
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character"
)
TOTAL_ANNOTATION_SIZE = 256 * 1024  # pkg/api/validation/objectmeta.go: TotalAnnotationSizeLimitB


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    """``content.RegexError``."""
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def _max_len(length: int) -> str:
    return f"must be no more than {length} bytes"


def dns1123_subdomain(value: str) -> list[str]:
    """``IsDNS1123Subdomain``."""
    errors = [_max_len(253)] if len(value) > 253 else []
    if not _DNS1123_SUBDOMAIN.match(value):
        errors.append(_regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errors


def dns1123_label(value: str) -> list[str]:
    """``IsDNS1123Label``."""
    errors = [_max_len(63)] if len(value) > 63 else []
    if not _DNS1123_LABEL.match(value):
        if _DNS1123_SUBDOMAIN.match(value):
            errors.append("must not contain dots")
        else:
            errors.append(_regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errors


def label_key(value: str) -> list[str]:
    """``IsLabelKey`` (what ``IsQualifiedName`` is): an optional DNS subdomain prefix and ``/``, then a name part of at
    most 63 characters."""
    errors: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors += [f"prefix part {message}" for message in dns1123_subdomain(prefix)]
    else:
        return [
            "a valid label key "
            + _regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append(f"name part {_max_len(63)}")
    if not _LABEL_KEY.match(name):
        errors.append("name part " + _regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc"))
    return errors


def label_value(value: str) -> list[str]:
    """``IsLabelValue``: empty, or at most 63 characters of the qualified-name alphabet."""
    errors = [_max_len(63)] if len(value) > 63 else []
    if not _LABEL_VALUE.match(value):
        errors.append(_regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errors


def label_errors(labels: Mapping[str, Any], field: str) -> list[FieldError]:
    """``ValidateLabels`` (``k8s.io/apimachinery/pkg/apis/meta/v1/validation``): each key a qualified name, each value
    a label value; a value that is not a string is refused as the decoder would."""
    errors: list[FieldError] = []
    for key, value in labels.items():
        errors += [invalid(field, str(key), message) for message in label_key(str(key))]
        if not isinstance(value, str):
            errors.append(invalid(field, value, "must be a string"))
            continue
        errors += [invalid(field, value, message) for message in label_value(value)]
    return errors


def annotation_errors(annotations: Mapping[str, Any], field: str) -> list[FieldError]:
    """``ValidateAnnotations``: keys are qualified names (case does not matter), all together at most 256 KiB."""
    errors: list[FieldError] = []
    for key in annotations:
        errors += [invalid(field, str(key), message) for message in label_key(str(key).lower())]
    # ValidateAnnotationsSize sums Go string lengths: bytes, not characters
    size = sum(len(str(k).encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > TOTAL_ANNOTATION_SIZE:
        errors.append(too_long(field, TOTAL_ANNOTATION_SIZE))
    return errors


# ---- Services: pkg/apis/core/validation/validation.go ----------------------------------------------------------------

_SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_PROTOCOLS = ("SCTP", "TCP", "UDP")
_AFFINITIES = ("ClientIP", "None")
_INTERNAL_POLICIES = ("Cluster", "Local")
_PORT_NAME = re.compile(r"^[-a-z0-9]+$")


def _port_number(value: Any) -> list[str]:
    """``IsValidPortNum``."""
    return [] if isinstance(value, int) and 1 <= value <= 65535 else ["must be between 1 and 65535, inclusive"]


def _port_name(value: str) -> list[str]:
    """``IsValidPortName``: an IANA service name."""
    errors = [_max_len(15)] if len(value) > 15 else []
    if not _PORT_NAME.match(value):
        errors.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", value):
        errors.append("must contain at least one letter (a-z)")
    if "--" in value:
        errors.append("must not contain consecutive hyphens")
    if value and (value[0] == "-" or value[-1] == "-"):
        errors.append("must not begin or end with a hyphen")
    return errors


def _headless(spec: Mapping[str, Any]) -> bool:
    ips = spec.get("clusterIPs") or []
    return len(ips) == 1 and ips[0] == "None"


def _service_port(port: Mapping[str, Any], path: str, *, require_name: bool, names: set[str]) -> list[FieldError]:
    """``validateServicePort``."""
    errors: list[FieldError] = []
    name = port.get("name") or ""
    if require_name and not name:
        errors.append(required(f"{path}.name"))
    elif name:
        errors += [invalid(f"{path}.name", name, message) for message in dns1123_label(name)]
        if name in names:
            errors.append(duplicate(f"{path}.name", name))
        names.add(name)
    errors += [invalid(f"{path}.port", port.get("port", 0), message) for message in _port_number(port.get("port", 0))]
    protocol = port.get("protocol") or ""
    if not protocol:
        errors.append(required(f"{path}.protocol"))
    elif protocol not in _PROTOCOLS:
        errors.append(not_supported(f"{path}.protocol", protocol, _PROTOCOLS))
    target = port.get("targetPort")
    if isinstance(target, str):
        errors += [invalid(f"{path}.targetPort", target, message) for message in _port_name(target)]
    elif target is not None:
        errors += [invalid(f"{path}.targetPort", target, message) for message in _port_number(target)]
    return errors


def _cluster_ips(spec: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateServiceClusterIPsRelatedFields``, the parts a single-stack cluster meets."""
    errors: list[FieldError] = []
    cluster_ip = spec.get("clusterIP") or ""
    cluster_ips = list(spec.get("clusterIPs") or [])
    if cluster_ip:
        if not cluster_ips:
            errors.append(required("spec.clusterIPs"))
        elif cluster_ips[0] != cluster_ip:
            errors.append(invalid("spec.clusterIPs", cluster_ips, "first value must match `clusterIP`"))
    elif cluster_ips:
        errors.append(invalid("spec.clusterIPs", cluster_ips, "must be empty when `clusterIP` is not specified"))
    for index, ip in enumerate(cluster_ips):
        if index == 0 and ip == "None":
            if len(cluster_ips) > 1:
                errors.append(invalid("spec.clusterIPs", cluster_ips, "'None' must be the first and only value"))
            continue
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            errors.append(
                invalid(
                    f"spec.clusterIPs[{index}]",
                    ip,
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                )
            )
    if len(cluster_ips) > 2:
        errors.append(invalid("spec.clusterIPs", cluster_ips, "may only hold up to 2 values"))
    return errors


def service_errors(  # noqa: PLR0912, PLR0915 - ValidateService's rules, in the order kube-apiserver checks them
    spec: Mapping[str, Any], old: Mapping[str, Any] | None
) -> list[FieldError]:
    """``ValidateService`` (and ``ValidateServiceUpdate`` with the *old* spec) on a defaulted Service spec."""
    errors: list[FieldError] = []
    kind = spec.get("type") or ""
    ports = [p for p in spec.get("ports") or [] if isinstance(p, Mapping)]
    headless = _headless(spec)
    if not ports and not headless and kind != "ExternalName":
        errors.append(required("spec.ports"))
    if kind in ("LoadBalancer", "NodePort") and headless:
        errors.append(invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {kind} services"))
    if kind == "ExternalName":
        if spec.get("clusterIPs"):
            errors.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        if spec.get("ipFamilies"):
            errors.append(forbidden("spec.ipFamilies", "may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            errors.append(forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services"))
        cname = str(spec.get("externalName") or "").removesuffix(".")
        if cname:
            errors += [invalid("spec.externalName", cname, message) for message in dns1123_subdomain(cname)]
        else:
            errors.append(required("spec.externalName"))
    names: set[str] = set()
    for index, port in enumerate(ports):
        errors += _service_port(port, f"spec.ports[{index}]", require_name=len(ports) > 1, names=names)
    if spec.get("selector") is not None:
        errors += label_errors(spec.get("selector") or {}, "spec.selector")
    affinity = spec.get("sessionAffinity") or ""
    if not affinity:
        errors.append(required("spec.sessionAffinity"))
    elif affinity not in _AFFINITIES:
        errors.append(not_supported("spec.sessionAffinity", affinity, _AFFINITIES))
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        errors.append(forbidden("spec.sessionAffinityConfig", "must not be set when session affinity is None"))
    if kind != "ExternalName":
        errors += _cluster_ips(spec)
    if not kind:
        errors.append(required("spec.type"))
    elif kind not in _SERVICE_TYPES:
        errors.append(not_supported("spec.type", kind, _SERVICE_TYPES))
    if kind == "ClusterIP":
        for index, port in enumerate(ports):
            if port.get("nodePort"):
                errors.append(forbidden(f"spec.ports[{index}].nodePort", "may not be used when `type` is 'ClusterIP'"))
    node_ports: set[tuple[Any, Any]] = set()
    for index, port in enumerate(ports):
        if not port.get("nodePort"):
            continue
        key = (port.get("protocol"), port.get("nodePort"))
        if key in node_ports:
            errors.append(duplicate(f"spec.ports[{index}].nodePort", port.get("nodePort")))
        node_ports.add(key)
    seen: set[tuple[Any, Any]] = set()
    for index, port in enumerate(ports):
        key = (port.get("protocol"), port.get("port"))
        if key in seen:  # Go prints the ServicePort key with %#v
            errors.append(
                FieldError(
                    "FieldValueDuplicate",
                    f"spec.ports[{index}]",
                    f'Duplicate value: core.ServicePort{{Name:"", Protocol:"{key[0]}", AppProtocol:(*string)(nil), '
                    f'Port:{key[1]}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:""}}, NodePort:0}}',
                )
            )
        seen.add(key)
    if kind in ("ClusterIP", "NodePort", "LoadBalancer"):
        policy = spec.get("internalTrafficPolicy")
        if policy is None:
            errors.append(required("spec.internalTrafficPolicy"))
        elif policy not in _INTERNAL_POLICIES:
            errors.append(not_supported("spec.internalTrafficPolicy", policy, _INTERNAL_POLICIES))
    if old is not None:
        errors = _cluster_ip_update(old, spec) + errors
    return errors


def _cluster_ip_update(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[FieldError]:
    """``validateUpgradeDowngradeClusterIPs``: a Service's cluster IP never changes once set."""
    if "ExternalName" in (old.get("type"), new.get("type")):
        return []
    if _headless(old) and _headless(new):
        return []
    before, after = list(old.get("clusterIPs") or []), list(new.get("clusterIPs") or [])
    errors: list[FieldError] = []
    if len(before) == len(after):
        for index, ip in enumerate(before):
            if ip != after[index]:
                errors.append(invalid(f"spec.clusterIPs[{index}]", after, "may not change once set"))
    elif len(before) > len(after):
        if not after:
            errors.append(invalid("spec.clusterIPs[0]", after, "primary clusterIP can not be unset"))
        elif before and after[0] != before[0]:
            errors.append(invalid("spec.clusterIPs[0]", after, "may not change once set"))
    elif before and after[0] != before[0]:
        errors.append(invalid("spec.clusterIPs[0]", after, "may not change once set"))
    return errors
