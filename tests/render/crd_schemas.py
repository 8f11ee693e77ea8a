"""Structural schemas for the custom resources we render (Istio, Prometheus Operator, GKE's ManagedCertificate).

kubernetes-validate knows the built-in kinds only. These schemas are written from the Istio
(networking/security v1) and prometheus-operator (monitoring.coreos.com/v1) API references for the
fields we emit, and GKE's ManagedCertificate from its published CRD (GoogleCloudPlatform/gke-managed-certs,
deploy/managedcertificates-crd.yaml); unknown fields are refused, so a typo in a renderer fails here.
"""

from __future__ import annotations

from typing import Any

STRING = {"type": "string"}
STRINGS = {"type": "array", "items": STRING}
LABELS = {"type": "object", "additionalProperties": STRING}
METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": STRING, "namespace": STRING, "labels": LABELS, "annotations": LABELS},
    "additionalProperties": False,
}
SELECTOR = {
    "type": "object",
    "properties": {"matchLabels": LABELS},
    "additionalProperties": False,
}


def _resource(api: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {"apiVersion": {"const": api}, "kind": {"const": kind}, "metadata": METADATA, "spec": spec},
        "additionalProperties": False,
    }


def _closed(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or [], "additionalProperties": False}


DESTINATION = _closed({"host": STRING, "subset": STRING, "port": _closed({"number": {"type": "integer"}})}, ["host"])
SCHEMAS: dict[tuple[str, str], dict[str, Any]] = {
    ("networking.istio.io/v1", "VirtualService"): _resource(
        "networking.istio.io/v1",
        "VirtualService",
        _closed(
            {
                "hosts": STRINGS,
                "gateways": STRINGS,
                "http": {
                    "type": "array",
                    "items": _closed(
                        {
                            "name": STRING,
                            "route": {
                                "type": "array",
                                "items": _closed(
                                    {
                                        "destination": DESTINATION,
                                        "weight": {"type": "integer", "minimum": 0, "maximum": 100},
                                    },
                                    ["destination"],
                                ),
                            },
                        }
                    ),
                },
            },
            ["hosts"],
        ),
    ),
    ("networking.istio.io/v1", "DestinationRule"): _resource(
        "networking.istio.io/v1",
        "DestinationRule",
        _closed(
            {
                "host": STRING,
                "trafficPolicy": _closed(
                    {"tls": _closed({"mode": {"enum": ["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"]}})}
                ),
                "subsets": {"type": "array", "items": _closed({"name": STRING, "labels": LABELS}, ["name"])},
            },
            ["host"],
        ),
    ),
    ("security.istio.io/v1", "PeerAuthentication"): _resource(
        "security.istio.io/v1",
        "PeerAuthentication",
        _closed(
            {
                "selector": SELECTOR,
                "mtls": _closed({"mode": {"enum": ["UNSET", "DISABLE", "PERMISSIVE", "STRICT"]}}),
            }
        ),
    ),
    ("security.istio.io/v1", "AuthorizationPolicy"): _resource(
        "security.istio.io/v1",
        "AuthorizationPolicy",
        _closed(
            {
                "selector": SELECTOR,
                "action": {"enum": ["ALLOW", "DENY", "AUDIT", "CUSTOM"]},
                "rules": {
                    "type": "array",
                    "items": _closed(
                        {
                            "from": {
                                "type": "array",
                                "items": _closed(
                                    {
                                        "source": _closed(
                                            {"principals": STRINGS, "namespaces": STRINGS, "ipBlocks": STRINGS}
                                        )
                                    }
                                ),
                            },
                            "to": {
                                "type": "array",
                                "items": _closed(
                                    {
                                        "operation": _closed(
                                            {"methods": STRINGS, "paths": STRINGS, "ports": STRINGS, "hosts": STRINGS}
                                        )
                                    }
                                ),
                            },
                        }
                    ),
                },
            }
        ),
    ),
    ("monitoring.coreos.com/v1", "PrometheusRule"): _resource(
        "monitoring.coreos.com/v1",
        "PrometheusRule",
        _closed(
            {
                "groups": {
                    "type": "array",
                    "items": _closed(
                        {
                            "name": STRING,
                            "interval": STRING,
                            "rules": {
                                "type": "array",
                                "items": _closed(
                                    {
                                        "record": STRING,
                                        "alert": STRING,
                                        "expr": STRING,
                                        "for": STRING,
                                        "labels": LABELS,
                                        "annotations": LABELS,
                                    },
                                    ["expr"],
                                ),
                            },
                        },
                        ["name", "rules"],
                    ),
                }
            },
            ["groups"],
        ),
    ),
    ("networking.gke.io/v1", "ManagedCertificate"): _resource(
        "networking.gke.io/v1",
        "ManagedCertificate",
        _closed(
            {
                "domains": {  # "Up to 100 non-wildcard domain names, each up to 63 characters long."
                    "type": "array",
                    "maxItems": 100,
                    "items": {
                        "type": "string",
                        "maxLength": 63,
                        "pattern": r"^(([a-z0-9]+|[a-z0-9][-a-z0-9]*[a-z0-9])\.)+[a-z][-a-z0-9]*[a-z0-9]$",
                    },
                }
            },
        ),
    ),
}
