"""The custom resources the stand-in serves, as CustomResourceDefinitions, and what kube-apiserver checks of them:
their structural schema (``openAPIV3Schema``) and their CEL rules (``x-kubernetes-validations``).

Istio's five kinds are our transcription of Istio's published CRDs — ``kubernetes/customresourcedefinitions.gen.yaml``
of istio/api at tag v1.30.3 (the ``v1`` version of each; Istio's Helm charts ship the same file) — written here field by
field with every enum, bound, ``oneOf`` and CEL rule they declare, not a copy of the file. Where the transcription stops
short (the ``status`` Istio writes; ``EnvoyFilter``-level details nobody renders), the schema keeps the subtree open
(``x-kubernetes-preserve-unknown-fields``), as the published CRDs do for ``status``. GKE's ``ManagedCertificate``
follows
GoogleCloudPlatform/gke-managed-certs ``deploy/managedcertificates-crd.yaml`` (v1.2.12); the Prometheus operator's
``PrometheusRule`` is kept open below ``spec``.

The GitOps controllers' kinds: Argo CD's ``Application`` (``argoproj.io/v1alpha1``) follows argoproj/argo-cd
``manifests/crds/application-crd.yaml`` (commit 37ee0097, 2026-08) and its Go types
(``pkg/apis/application/v1alpha1/types.go``) — the fields a team sets, and the ``status`` the application controller
writes, transcribed; the nested option blocks (``helm``, ``kustomize``, ``retry``, a sync result's resources…) kept
open. Flux's ``Kustomization`` (``kustomize.toolkit.fluxcd.io/v1``) follows fluxcd/kustomize-controller
``config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml`` (commit 186fb3b2, 2026-08), its ``v1`` version
whole (spec and status). The two differ where it matters to a reader of their status: Flux's CRD declares the status
subresource (``subresources: {status: {}}``: an object write leaves ``.status`` alone, ``/status`` writes only it),
Argo CD's does not (``subresources: {}``; the type is ``+genclient:noStatus``: the controller patches the whole
object, status included).

A test may install the real published files instead (``KubernetesStandIn(crds=[...])``, any
``apiextensions.k8s.io/v1`` CustomResourceDefinition): the stand-in then serves and validates exactly what they say.

CEL rules are evaluated with ``cel-python`` (the ``testing`` extra), with kube-apiserver's wording of a rule that does
not hold (``field.Invalid(path, <schema type>, message)``, ``apiextensions-apiserver/pkg/apiserver/schema/cel/
validation.go``): ``spec.http[0].timeout: Invalid value: "string": must be a valid duration greater than 1ms``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from typing import Any

from findly_infra.testing.kubernetes.validation import FieldError, invalid

__all__ = [
    "ARGO_CD_SOURCE",
    "CUSTOM_RESOURCE_DEFINITIONS",
    "FLUX_KUSTOMIZATION_SOURCE",
    "ISTIO_SOURCE",
    "MANAGED_CERTIFICATE_SOURCE",
    "cel_errors",
    "custom_resource_definition",
]

ISTIO_SOURCE = "istio/api kubernetes/customresourcedefinitions.gen.yaml, tag v1.30.3"
MANAGED_CERTIFICATE_SOURCE = "GoogleCloudPlatform/gke-managed-certs deploy/managedcertificates-crd.yaml, tag v1.2.12"
ARGO_CD_SOURCE = "argoproj/argo-cd manifests/crds/application-crd.yaml, commit 37ee0097cf851bc2dd7665fc081bbce61a7e836e"
FLUX_KUSTOMIZATION_SOURCE = (
    "fluxcd/kustomize-controller config/crd/bases/kustomize.toolkit.fluxcd.io_kustomizations.yaml, "
    "commit 186fb3b29138ce82ff61ba1a9370b96a3dd598fe"
)

# ---- building blocks of the transcription ---------------------------------------------------------------------------

_STR: dict[str, Any] = {"type": "string"}
_BOOL: dict[str, Any] = {"type": "boolean"}
_I32: dict[str, Any] = {"type": "integer", "format": "int32"}
_U32: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": 4294967295}
_DOUBLE: dict[str, Any] = {"type": "number", "format": "double"}
_DURATION: dict[str, Any] = {  # every duration Istio declares carries this rule
    "type": "string",
    "x-kubernetes-validations": [
        {"rule": "duration(self) >= duration('1ms')", "message": "must be a valid duration greater than 1ms"}
    ],
}
_OPEN: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _obj(
    properties: Mapping[str, Any],
    *,
    required: tuple[str, ...] = (),
    rules: tuple[tuple[str, str], ...] = (),
    one_of: tuple[str, ...] = (),
) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "object", "properties": dict(properties)}
    if required:
        node["required"] = list(required)
    if rules:
        node["x-kubernetes-validations"] = [{"rule": rule, "message": message} for rule, message in rules]
    if one_of:  # protobuf oneof: at most one of these fields, as the generated CRDs write it
        node["oneOf"] = [{"not": {"anyOf": [{"required": [name]} for name in one_of]}}] + [
            {"required": [name]} for name in one_of
        ]
    return node


def _arr(items: Mapping[str, Any], **bounds: int) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "array", "items": dict(items)}
    for name, value in bounds.items():
        node[{"max_items": "maxItems", "min_items": "minItems"}[name]] = value
    return node


def _map(values: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": dict(values)}


def _enum(*values: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


_STRINGS = _arr(_STR)
_STRING_MATCH = _obj({"exact": _STR, "prefix": _STR, "regex": _STR}, one_of=("exact", "prefix", "regex"))
_PORT_SELECTOR = _obj({"number": _U32})
_DESTINATION = _obj({"host": _STR, "port": _PORT_SELECTOR, "subset": _STR}, required=("host",))
_HEADER_OPERATIONS = _obj({"add": _map(_STR), "remove": _STRINGS, "set": _map(_STR)})
_HEADERS = _obj({"request": _HEADER_OPERATIONS, "response": _HEADER_OPERATIONS})
_PERCENT = _obj({"value": _DOUBLE})
_WORKLOAD_SELECTOR = _obj(
    {
        "matchLabels": {
            "type": "object",
            "maxProperties": 4096,
            "additionalProperties": {
                "type": "string",
                "maxLength": 63,
                "x-kubernetes-validations": [
                    {"rule": '!self.contains("*")', "message": "wildcard not allowed in label value match"}
                ],
            },
            "x-kubernetes-validations": [
                {"rule": 'self.all(key, !key.contains("*"))', "message": "wildcard not allowed in label key match"},
                {"rule": "self.all(key, key.size() != 0)", "message": "key must not be empty"},
            ],
        }
    }
)
_CLIENT_TLS = _obj(
    {
        "caCertificates": _STR,
        "caCrl": _STR,
        "clientCertificate": _STR,
        "credentialName": _STR,
        "insecureSkipVerify": _BOOL,
        "mode": _enum("DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"),
        "privateKey": _STR,
        "sni": _STR,
        "subjectAltNames": _STRINGS,
    }
)
_CONNECTION_POOL = _obj(
    {
        "http": _obj(
            {
                "h2UpgradePolicy": _enum("DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"),
                "http1MaxPendingRequests": _I32,
                "http2MaxRequests": _I32,
                "idleTimeout": _DURATION,
                "maxConcurrentStreams": _I32,
                "maxRequestsPerConnection": _I32,
                "maxRetries": _I32,
                "useClientProtocol": _BOOL,
            }
        ),
        "tcp": _obj(
            {
                "connectTimeout": _DURATION,
                "idleTimeout": _STR,
                "maxConnectionDuration": _DURATION,
                "maxConnections": _I32,
                "tcpKeepalive": _obj({"interval": _DURATION, "probes": _U32, "time": _DURATION}),
            }
        ),
    }
)
_LOAD_BALANCER = _obj(
    {
        "consistentHash": _obj(
            {
                "httpCookie": _obj(
                    {
                        "attributes": _arr(_obj({"name": _STR, "value": _STR}, required=("name",))),
                        "name": _STR,
                        "path": _STR,
                        "ttl": _STR,
                    },
                    required=("name",),
                ),
                "httpHeaderName": _STR,
                "httpQueryParameterName": _STR,
                "maglev": _obj({"tableSize": {"type": "integer", "minimum": 0}}),
                "minimumRingSize": {"type": "integer", "minimum": 0},
                "ringHash": _obj({"minimumRingSize": {"type": "integer", "minimum": 0}}),
                "useSourceIp": _BOOL,
            },
            one_of=("httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"),
        ),
        "localityLbSetting": _obj(
            {
                "distribute": _arr(_obj({"from": _STR, "to": _map(_U32)})),
                "enabled": _BOOL,
                "failover": _arr(_obj({"from": _STR, "to": _STR})),
                "failoverPriority": _STRINGS,
            }
        ),
        "simple": _enum("UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"),
        "warmup": _obj(
            {
                "aggression": {"type": "number", "format": "double", "minimum": 0},
                "duration": _DURATION,
                "minimumPercent": {"type": "number", "format": "double", "minimum": 0, "maximum": 100},
            },
            required=("duration",),
        ),
        "warmupDurationSecs": _DURATION,
    },
    one_of=("simple", "consistentHash"),
)
_OUTLIER_DETECTION = _obj(
    {
        "baseEjectionTime": _DURATION,
        "consecutive5xxErrors": _U32,
        "consecutiveErrors": _I32,
        "consecutiveGatewayErrors": _U32,
        "consecutiveLocalOriginFailures": _U32,
        "interval": _DURATION,
        "maxEjectionPercent": _I32,
        "minHealthPercent": _I32,
        "splitExternalLocalOriginErrors": _BOOL,
    }
)
_PORT_TRAFFIC_POLICY = _obj(
    {
        "connectionPool": _CONNECTION_POOL,
        "loadBalancer": _LOAD_BALANCER,
        "outlierDetection": _OUTLIER_DETECTION,
        "port": _PORT_SELECTOR,
        "tls": _CLIENT_TLS,
    }
)
_TRAFFIC_POLICY = _obj(
    {
        "connectionPool": _CONNECTION_POOL,
        "loadBalancer": _LOAD_BALANCER,
        "outlierDetection": _OUTLIER_DETECTION,
        "portLevelSettings": _arr(_PORT_TRAFFIC_POLICY, max_items=4096),
        "proxyProtocol": _obj({"version": _enum("V1", "V2")}),
        "retryBudget": _obj(
            {
                "minRetryConcurrency": _U32,
                "percent": {"type": "number", "format": "double", "minimum": 0, "maximum": 100},
            }
        ),
        "tls": _CLIENT_TLS,
        "tunnel": _obj(
            {"protocol": _STR, "targetHost": _STR, "targetPort": _U32}, required=("targetHost", "targetPort")
        ),
    }
)
_HTTP_MATCH = _obj(
    {
        "authority": _STRING_MATCH,
        "gateways": _STRINGS,
        "headers": _map(_STRING_MATCH),
        "ignoreUriCase": _BOOL,
        "method": _STRING_MATCH,
        "name": _STR,
        "port": _U32,
        "queryParams": _map(_STRING_MATCH),
        "scheme": _STRING_MATCH,
        "sourceLabels": _map(_STR),
        "sourceNamespace": _STR,
        "statPrefix": _STR,
        "uri": _STRING_MATCH,
        "withoutHeaders": _map(_STRING_MATCH),
    }
)
_HTTP_ROUTE = _obj(
    {
        "corsPolicy": _obj(
            {
                "allowCredentials": _BOOL,
                "allowHeaders": _STRINGS,
                "allowMethods": _STRINGS,
                "allowOrigin": _STRINGS,
                "allowOrigins": _arr(_STRING_MATCH),
                "exposeHeaders": _STRINGS,
                "maxAge": _DURATION,
                "unmatchedPreflights": _enum("UNSPECIFIED", "FORWARD", "IGNORE"),
            }
        ),
        "delegate": _obj({"name": _STR, "namespace": _STR}),
        "directResponse": _obj(
            {
                "body": _obj(
                    {"bytes": {"type": "string", "format": "byte"}, "string": _STR}, one_of=("string", "bytes")
                ),
                "status": _U32,
            },
            required=("status",),
        ),
        "fault": _obj(
            {
                "abort": _obj(
                    {"grpcStatus": _STR, "http2Error": _STR, "httpStatus": _I32, "percentage": _PERCENT},
                    one_of=("httpStatus", "grpcStatus", "http2Error"),
                ),
                "delay": _obj(
                    {"exponentialDelay": _DURATION, "fixedDelay": _DURATION, "percent": _I32, "percentage": _PERCENT},
                    one_of=("fixedDelay", "exponentialDelay"),
                ),
            }
        ),
        "headers": _HEADERS,
        "match": _arr(_HTTP_MATCH),
        "mirror": _DESTINATION,
        "mirror_percent": _U32,
        "mirrorPercent": _U32,
        "mirrorPercentage": _PERCENT,
        "mirrors": _arr(_obj({"destination": _DESTINATION, "percentage": _PERCENT}, required=("destination",))),
        "name": _STR,
        "redirect": _obj(
            {
                "authority": _STR,
                "derivePort": _enum("FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"),
                "port": _U32,
                "redirectCode": _U32,
                "scheme": _STR,
                "uri": _STR,
            },
            one_of=("port", "derivePort"),
        ),
        "retries": _obj(
            {
                "attempts": _I32,
                "backoff": _DURATION,
                "perTryTimeout": _DURATION,
                "retryIgnorePreviousHosts": _BOOL,
                "retryOn": _STR,
                "retryRemoteLocalities": _BOOL,
            }
        ),
        "rewrite": _obj({"authority": _STR, "uri": _STR, "uriRegexRewrite": _obj({"match": _STR, "rewrite": _STR})}),
        "route": _arr(
            _obj({"destination": _DESTINATION, "headers": _HEADERS, "weight": _I32}, required=("destination",))
        ),
        "timeout": _DURATION,
    }
)
_L4_MATCH: dict[str, Any] = {
    "destinationSubnets": _STRINGS,
    "gateways": _STRINGS,
    "port": _U32,
    "sourceLabels": _map(_STR),
    "sourceNamespace": _STR,
}
_L4_ROUTE = _arr(_obj({"destination": _DESTINATION, "weight": _I32}, required=("destination",)))
_ISTIO_STATUS = _OPEN  # conditions and validationMessages Istio writes; the published schema preserves the rest too

_VIRTUAL_SERVICE = _obj(
    {
        "exportTo": _STRINGS,
        "gateways": _STRINGS,
        "hosts": _STRINGS,
        "http": _arr(_HTTP_ROUTE),
        "tcp": _arr(_obj({"match": _arr(_obj({**_L4_MATCH, "sourceSubnet": _STR})), "route": _L4_ROUTE})),
        "tls": _arr(
            _obj(
                {"match": _arr(_obj({**_L4_MATCH, "sniHosts": _STRINGS}, required=("sniHosts",))), "route": _L4_ROUTE},
                required=("match",),
            )
        ),
    }
)
_DESTINATION_RULE = _obj(
    {
        "exportTo": _STRINGS,
        "host": _STR,
        "subsets": _arr(
            _obj({"labels": _map(_STR), "name": _STR, "trafficPolicy": _TRAFFIC_POLICY}, required=("name",))
        ),
        "trafficPolicy": _TRAFFIC_POLICY,
        "workloadSelector": _WORKLOAD_SELECTOR,
    },
    required=("host",),
)
_SERVER_TLS = _obj(
    {
        "caCertCredentialName": _STR,
        "caCertificates": _STR,
        "caCrl": _STR,
        "cipherSuites": _STRINGS,
        "credentialName": _STR,
        "credentialNames": _arr(_STR, max_items=2, min_items=1),
        "httpsRedirect": _BOOL,
        "maxProtocolVersion": _enum("TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"),
        "minProtocolVersion": _enum("TLS_AUTO", "TLSV1_0", "TLSV1_1", "TLSV1_2", "TLSV1_3"),
        "mode": _enum("PASSTHROUGH", "SIMPLE", "MUTUAL", "AUTO_PASSTHROUGH", "ISTIO_MUTUAL", "OPTIONAL_MUTUAL"),
        "privateKey": _STR,
        "serverCertificate": _STR,
        "subjectAltNames": _STRINGS,
        "tlsCertificates": _arr(
            _obj({"caCertificates": _STR, "privateKey": _STR, "serverCertificate": _STR}), max_items=2, min_items=1
        ),
        "verifyCertificateHash": _STRINGS,
        "verifyCertificateSpki": _STRINGS,
    },
    rules=(
        (
            "(has(self.credentialName) ? 1 : 0) + (has(self.credentialNames) ? 1 : 0) <= 1",
            "only one of credentialName or credentialNames can be set",
        ),
        (
            "(has(self.credentialNames) ? 1 : 0) + (has(self.tlsCertificates) ? 1 : 0) <= 1",
            "only one of credentialName or tlsCertificates can be set",
        ),
        (
            "(has(self.tlsCertificates) ? 1 : 0) + (has(self.credentialNames) ? 1 : 0) <= 1",
            "only one of credentialNames or tlsCertificates can be set",
        ),
    ),
)
_GATEWAY = _obj(
    {
        "selector": _map(_STR),
        "servers": _arr(
            _obj(
                {
                    "bind": _STR,
                    "defaultEndpoint": _STR,
                    "hosts": _STRINGS,
                    "name": _STR,
                    "port": _obj(
                        {"name": _STR, "number": _U32, "protocol": _STR, "targetPort": _U32},
                        required=("number", "protocol", "name"),
                    ),
                    "tls": _SERVER_TLS,
                },
                required=("port", "hosts"),
            )
        ),
    }
)
_MTLS_MODE = _enum("UNSET", "DISABLE", "PERMISSIVE", "STRICT")
_PEER_AUTHENTICATION = _obj(
    {
        "mtls": _obj({"mode": _MTLS_MODE}),
        "portLevelMtls": {
            "type": "object",
            "additionalProperties": _obj({"mode": _MTLS_MODE}),
            "x-kubernetes-validations": [
                {"rule": "self.all(key, 0 < int(key) && int(key) <= 65535)", "message": "port must be between 1-65535"}
            ],
        },
        "selector": _WORKLOAD_SELECTOR,
    },
    rules=(
        (
            "has(self.portLevelMtls) ? (((has(self.selector) && has(self.selector.matchLabels)) ? "
            "self.selector.matchLabels : {}).size() > 0) : true",
            "portLevelMtls requires selector",
        ),
    ),
)
_TARGET_REFERENCE = _obj(
    {
        "group": {
            "type": "string",
            "maxLength": 253,
            "pattern": "^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
        },
        "kind": {"type": "string", "maxLength": 63, "minLength": 1, "pattern": "^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$"},
        "name": {"type": "string", "maxLength": 253, "minLength": 1},
        "namespace": {
            "type": "string",
            "x-kubernetes-validations": [
                {"rule": "self.size() == 0", "message": "cross namespace referencing is not currently supported"}
            ],
        },
    },
    required=("kind", "name"),
)
_SERVICE_ACCOUNTS = _arr({"type": "string", "maxLength": 320}, max_items=16)
_AUTHORIZATION_POLICY = _obj(
    {
        "action": _enum("ALLOW", "DENY", "AUDIT", "CUSTOM"),
        "provider": _obj({"name": _STR}),
        "rules": _arr(
            _obj(
                {
                    "from": _arr(
                        _obj(
                            {
                                "source": _obj(
                                    {
                                        **dict.fromkeys(
                                            (
                                                "ipBlocks",
                                                "namespaces",
                                                "notIpBlocks",
                                                "notNamespaces",
                                                "notPrincipals",
                                                "notRemoteIpBlocks",
                                                "notRequestPrincipals",
                                                "notTrustDomains",
                                                "principals",
                                                "remoteIpBlocks",
                                                "requestPrincipals",
                                                "trustDomains",
                                            ),
                                            _STRINGS,
                                        ),
                                        "notServiceAccounts": _SERVICE_ACCOUNTS,
                                        "serviceAccounts": _SERVICE_ACCOUNTS,
                                    },
                                    rules=(
                                        (
                                            "(has(self.serviceAccounts) || has(self.notServiceAccounts)) ? "
                                            "(!has(self.principals) &&\n!has(self.notPrincipals) && "
                                            "!has(self.namespaces) && !has(self.notNamespaces)) : true",
                                            "Cannot set serviceAccounts with namespaces or principals",
                                        ),
                                    ),
                                )
                            }
                        ),
                        max_items=512,
                    ),
                    "to": _arr(
                        _obj(
                            {
                                "operation": _obj(
                                    dict.fromkeys(
                                        (
                                            "hosts",
                                            "methods",
                                            "notHosts",
                                            "notMethods",
                                            "notPaths",
                                            "notPorts",
                                            "paths",
                                            "ports",
                                        ),
                                        _STRINGS,
                                    )
                                )
                            }
                        )
                    ),
                    "when": _arr(_obj({"key": _STR, "notValues": _STRINGS, "values": _STRINGS}, required=("key",))),
                }
            ),
            max_items=512,
        ),
        "selector": _WORKLOAD_SELECTOR,
        "targetRef": _TARGET_REFERENCE,
        "targetRefs": _arr(_TARGET_REFERENCE, max_items=16),
    },
    rules=(
        (
            "(has(self.selector) ? 1 : 0) + (has(self.targetRef) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1",
            "only one of targetRefs or selector can be set",
        ),
    ),
    one_of=("provider",),
)
_MANAGED_CERTIFICATE_SPEC = _obj(
    {
        "domains": {
            "type": "array",
            "maxItems": 100,
            "items": {
                "type": "string",
                "maxLength": 63,
                "pattern": "^(([a-z0-9]+|[a-z0-9][-a-z0-9]*[a-z0-9])\\.)+[a-z][-a-z0-9]*[a-z0-9]$",
            },
        }
    }
)
_MANAGED_CERTIFICATE_STATUS = _obj(
    {
        "certificateName": _STR,
        "certificateStatus": _STR,
        "domainStatus": _arr(_obj({"domain": _STR, "status": _STR}, required=("domain", "status"))),
        "expireTime": {"type": "string", "format": "date-time"},
    }
)

# ---- Argo CD's Application (argoproj.io/v1alpha1), from ARGO_CD_SOURCE -----------------------------------------------

_I64: dict[str, Any] = {"type": "integer", "format": "int64"}
_TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
_OPEN_LIST: dict[str, Any] = {"type": "array", "items": _OPEN}
_ARGO_SOURCE = _obj(  # ApplicationSource: "repoURL" is its one required field
    {
        "chart": _STR,
        "directory": _OPEN,
        "helm": _OPEN,
        "kustomize": _OPEN,
        "name": _STR,
        "path": _STR,
        "plugin": _OPEN,
        "ref": _STR,
        "repoURL": _STR,
        "tagPrefix": _STR,
        "targetRevision": _STR,
    },
    required=("repoURL",),
)
_ARGO_DESTINATION = _obj({"name": _STR, "namespace": _STR, "server": _STR})  # ApplicationDestination: none required
_ARGO_APPLICATION_SPEC = _obj(
    {
        "destination": _ARGO_DESTINATION,
        "ignoreDifferences": _OPEN_LIST,
        "info": _arr(_obj({"name": _STR, "value": _STR}, required=("name", "value"))),
        "project": _STR,  # "" means the default project (types.go: ApplicationSpec.Project)
        "revisionHistoryLimit": _I64,
        "source": _ARGO_SOURCE,
        "sourceHydrator": _OPEN,
        "sources": _arr(_ARGO_SOURCE),
        "syncPolicy": _obj(
            {
                "automated": _obj({"allowEmpty": _BOOL, "enabled": _BOOL, "prune": _BOOL, "selfHeal": _BOOL}),
                "managedNamespaceMetadata": _OPEN,
                "retry": _OPEN,
                "syncOptions": _STRINGS,
            }
        ),
    },
    required=("destination", "project"),
)
_ARGO_APPLICATION_STATUS = _obj(
    {
        # ApplicationCondition
        "conditions": _arr(
            _obj({"lastTransitionTime": _TIME, "message": _STR, "type": _STR}, required=("message", "type"))
        ),
        "controllerNamespace": _STR,
        # AppHealthStatus: status is gitops-engine's HealthStatusCode (pkg/health/health.go: Unknown, Progressing,
        # Healthy, Suspended, Degraded, Missing) — a plain string in the CRD, no enum
        "health": _obj({"lastTransitionTime": _TIME, "message": _STR, "status": _STR}),
        "history": _arr(
            _obj(
                {
                    "deployStartedAt": _TIME,
                    "deployedAt": _TIME,
                    "id": _I64,
                    "initiatedBy": _OPEN,
                    "revision": _STR,
                    "revisions": _STRINGS,
                    "source": _OPEN,
                    "sources": _OPEN_LIST,
                },
                required=("deployedAt", "id"),
            )
        ),
        "observedAt": _TIME,
        # OperationState: phase is gitops-engine's OperationPhase (pkg/sync/common/types.go: Running, Terminating,
        # Failed, Error, Succeeded) — a plain string in the CRD
        "operationState": _obj(
            {
                "finishedAt": _TIME,
                "message": _STR,
                "operation": _OPEN,
                "phase": _STR,
                "retryCount": _I64,
                "startedAt": _TIME,
                "syncResult": _OPEN,
            },
            required=("operation", "phase", "startedAt"),
        ),
        "reconciledAt": _TIME,
        "resourceHealthSource": _STR,
        "resources": _OPEN_LIST,
        "sourceHydrator": _OPEN,
        "sourceType": _STR,
        "sourceTypes": _STRINGS,
        "summary": _obj({"externalURLs": _STRINGS, "images": _STRINGS, "isAppOfApps": _BOOL}),
        # SyncStatus: status is SyncStatusCode (types.go: Unknown, Synced, OutOfSync), required
        "sync": _obj(
            {"comparedTo": _OPEN, "revision": _STR, "revisions": _STRINGS, "status": _STR}, required=("status",)
        ),
    }
)


def _argo_application() -> dict[str, Any]:
    definition = custom_resource_definition(
        "argoproj.io",
        "Application",
        "applications",
        _ARGO_APPLICATION_SPEC,
        status=_ARGO_APPLICATION_STATUS,
        status_subresource=False,  # "subresources: {}" in the CRD; "+genclient:noStatus" on the type
        version="v1alpha1",
    )
    definition["spec"]["names"]["shortNames"] = ["app", "apps"]
    schema = definition["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["operation"] = _obj(  # the sync a person or the API asks for; the controller clears it
        {"info": _OPEN_LIST, "initiatedBy": _OPEN, "retry": _OPEN, "sync": _OPEN}
    )
    schema["required"] = ["metadata", "spec"]
    return definition


# ---- Flux's Kustomization (kustomize.toolkit.fluxcd.io/v1), from FLUX_KUSTOMIZATION_SOURCE --------------------------

_FLUX_DURATION: dict[str, Any] = {"type": "string", "pattern": "^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"}
_FLUX_SELECTOR = _obj(
    dict.fromkeys(("annotationSelector", "group", "kind", "labelSelector", "name", "namespace", "version"), _STR)
)
_FLUX_KUSTOMIZATION_SPEC = _obj(
    {
        "buildMetadata": _arr(_enum("originAnnotations", "transformerAnnotations")),
        "commonMetadata": _obj({"annotations": _map(_STR), "labels": _map(_STR)}),
        "components": _STRINGS,
        "decryption": _obj(
            {
                "provider": _enum("sops"),
                "secretRef": _obj({"name": _STR}, required=("name",)),
                "serviceAccountName": _STR,
            },
            required=("provider",),
        ),
        "deletionPolicy": _enum("MirrorPrune", "Delete", "WaitForTermination", "Orphan"),
        "dependsOn": _arr(_obj({"name": _STR, "namespace": _STR, "readyExpr": _STR}, required=("name",))),
        "force": {"type": "boolean", "default": False},
        "healthCheckExprs": _arr(
            _obj(
                {"apiVersion": _STR, "current": _STR, "failed": _STR, "inProgress": _STR, "kind": _STR},
                required=("apiVersion", "current"),
            )
        ),
        "healthChecks": _arr(
            _obj({"apiVersion": _STR, "kind": _STR, "name": _STR, "namespace": _STR}, required=("kind", "name"))
        ),
        "ignore": _arr(_obj({"paths": _STRINGS, "target": _FLUX_SELECTOR}, required=("paths",))),
        "ignoreMissingComponents": _BOOL,
        "images": _arr(_obj({"digest": _STR, "name": _STR, "newName": _STR, "newTag": _STR}, required=("name",))),
        "interval": _FLUX_DURATION,
        "kubeConfig": _obj(
            {
                "configMapRef": _obj({"name": _STR}, required=("name",)),
                "secretRef": _obj({"key": _STR, "name": _STR}, required=("name",)),
            },
            rules=(
                (
                    "has(self.configMapRef) || has(self.secretRef)",
                    "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified",
                ),
                (
                    "!has(self.configMapRef) || !has(self.secretRef)",
                    "exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified",
                ),
            ),
        ),
        "namePrefix": {"type": "string", "maxLength": 200, "minLength": 1},
        "nameSuffix": {"type": "string", "maxLength": 200, "minLength": 1},
        "patches": _arr(_obj({"patch": _STR, "target": _FLUX_SELECTOR}, required=("patch",))),
        "path": _STR,
        "postBuild": _obj(
            {
                "substitute": _map(_STR),
                "substituteFrom": _arr(
                    _obj(
                        {
                            "kind": _enum("Secret", "ConfigMap"),
                            "name": {"type": "string", "maxLength": 253, "minLength": 1},
                            "optional": {"type": "boolean", "default": False},
                        },
                        required=("kind", "name"),
                    )
                ),
                "substituteStrategy": _enum("WithVariables", "Always"),
            }
        ),
        "prune": _BOOL,
        "retryInterval": _FLUX_DURATION,
        "serviceAccountName": _STR,
        "sourceRef": _obj(
            {
                "apiVersion": _STR,
                "kind": _enum("OCIRepository", "GitRepository", "Bucket", "ExternalArtifact"),
                "name": _STR,
                "namespace": _STR,
            },
            required=("kind", "name"),
        ),
        "suspend": _BOOL,
        "targetNamespace": {"type": "string", "maxLength": 63, "minLength": 1},
        "timeout": _FLUX_DURATION,
        "wait": _BOOL,
    },
    required=("interval", "prune", "sourceRef"),
)
_FLUX_CONDITION = _obj(  # metav1.Condition, as the CRD declares it
    {
        "lastTransitionTime": _TIME,
        "message": {"type": "string", "maxLength": 32768},
        "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
        "reason": {
            "type": "string",
            "maxLength": 1024,
            "minLength": 1,
            "pattern": "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
        },
        "status": _enum("True", "False", "Unknown"),
        "type": {
            "type": "string",
            "maxLength": 316,
            "pattern": "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
            "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
        },
    },
    required=("lastTransitionTime", "message", "reason", "status", "type"),
)
_FLUX_KUSTOMIZATION_STATUS = _obj(
    {
        "conditions": _arr(_FLUX_CONDITION),
        "history": _arr(
            _obj(
                {
                    "digest": _STR,
                    "firstReconciled": _TIME,
                    "lastReconciled": _TIME,
                    "lastReconciledDuration": _STR,
                    "lastReconciledStatus": _STR,
                    "metadata": _map(_STR),
                    "totalReconciliations": _I64,
                },
                required=(
                    "digest",
                    "firstReconciled",
                    "lastReconciled",
                    "lastReconciledDuration",
                    "lastReconciledStatus",
                    "totalReconciliations",
                ),
            )
        ),
        "inventory": _obj(
            {"entries": _arr(_obj({"id": _STR, "v": _STR}, required=("id", "v")))}, required=("entries",)
        ),
        "lastAppliedOriginRevision": _STR,
        "lastAppliedRevision": _STR,
        "lastAttemptedRevision": _STR,
        "lastHandledReconcileAt": _STR,
        "observedGeneration": _I64,
    }
)
_FLUX_KUSTOMIZATION_STATUS["default"] = {"observedGeneration": -1}


def _flux_kustomization() -> dict[str, Any]:
    definition = custom_resource_definition(
        "kustomize.toolkit.fluxcd.io",
        "Kustomization",
        "kustomizations",
        _FLUX_KUSTOMIZATION_SPEC,
        status=_FLUX_KUSTOMIZATION_STATUS,
        status_subresource=True,  # "subresources: {status: {}}" in the CRD
    )
    definition["spec"]["names"]["shortNames"] = ["ks"]
    return definition


def custom_resource_definition(
    group: str,
    kind: str,
    plural: str,
    spec: Mapping[str, Any],
    *,
    status: Mapping[str, Any] = _OPEN,
    status_subresource: bool = True,
    namespaced: bool = True,
    version: str = "v1",
) -> dict[str, Any]:
    """An ``apiextensions.k8s.io/v1`` CustomResourceDefinition serving *kind* at *version* with this *spec* schema."""
    served: dict[str, Any] = {
        "name": version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": dict(spec), "status": dict(status)}}},
    }
    if status_subresource:
        served["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
            "scope": "Namespaced" if namespaced else "Cluster",
            "versions": [served],
        },
    }


CUSTOM_RESOURCE_DEFINITIONS: tuple[dict[str, Any], ...] = (
    custom_resource_definition("networking.istio.io", "VirtualService", "virtualservices", _VIRTUAL_SERVICE),
    custom_resource_definition("networking.istio.io", "DestinationRule", "destinationrules", _DESTINATION_RULE),
    custom_resource_definition("networking.istio.io", "Gateway", "gateways", _GATEWAY),
    custom_resource_definition("security.istio.io", "PeerAuthentication", "peerauthentications", _PEER_AUTHENTICATION),
    custom_resource_definition(
        "security.istio.io", "AuthorizationPolicy", "authorizationpolicies", _AUTHORIZATION_POLICY
    ),
    custom_resource_definition(
        "monitoring.coreos.com", "PrometheusRule", "prometheusrules", _OPEN, status_subresource=False
    ),
    custom_resource_definition(
        "networking.gke.io",
        "ManagedCertificate",
        "managedcertificates",
        _MANAGED_CERTIFICATE_SPEC,
        status=_MANAGED_CERTIFICATE_STATUS,
        status_subresource=False,  # the published CRD declares no subresources: status is written with the object
    ),
    _argo_application(),
    _flux_kustomization(),
)
"""What the stand-in serves unless told otherwise (``omit_groups``, ``crds``)."""


# ---- CEL: x-kubernetes-validations ----------------------------------------------------------------------------------

_GO_DURATION = re.compile(r"^[-+]?(0|(\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$")  # time.ParseDuration's grammar


@functools.cache
def _program(rule: str) -> Any:
    import celpy  # the testing extra (cel-python)

    environment = celpy.Environment()
    return environment.program(environment.compile(rule))


def _walk(node: Mapping[str, Any] | None, value: Any, path: str) -> Iterator[tuple[Mapping[str, Any], Any, str]]:
    """Every (schema, value, field path) pair of *value* under *node*, parents first (``field.Path`` notation:
    ``spec.http[0].timeout``, map keys as ``[key]``)."""
    if node is None:
        return
    yield node, value, path
    if isinstance(value, dict):
        properties = node.get("properties") or {}
        extra = node.get("additionalProperties")
        for name, child in value.items():
            if name in properties:
                yield from _walk(properties[name], child, f"{path}.{name}" if path else name)
            elif isinstance(extra, Mapping):
                yield from _walk(extra, child, f"{path}[{name}]")
    elif isinstance(value, list) and isinstance(node.get("items"), Mapping):
        for index, item in enumerate(value):
            yield from _walk(node["items"], item, f"{path}[{index}]")


def cel_errors(root: Mapping[str, Any], document: Mapping[str, Any]) -> list[FieldError]:
    """The ``x-kubernetes-validations`` rules of *root* (a CRD's ``openAPIV3Schema``) that *document* breaks."""
    import celpy

    errors: list[FieldError] = []
    for node, value, path in _walk(root, document, ""):
        for rule in node.get("x-kubernetes-validations") or ():
            text, message = str(rule["rule"]), str(rule.get("message") or rule["rule"]).strip()
            type_name = str(node.get("type") or "object")
            if "duration(self)" in text and not (isinstance(value, str) and _GO_DURATION.match(value)):
                # cel-go's string-to-duration conversion (common/types/string.go) fails on what Go cannot parse
                detail = "type conversion error from 'string' to 'google.protobuf.Duration'"
                errors.append(invalid(path, type_name, f"{detail} evaluating rule: {message}"))
                continue
            subject = value.replace("µs", "us").replace("μs", "us") if isinstance(value, str) else value
            try:
                result = _program(text).evaluate({"self": celpy.json_to_cel(subject)})  # type: ignore[attr-defined]
            except Exception as exc:  # noqa: BLE001 - cel-python raises its own error types for a failed evaluation
                errors.append(
                    invalid(path, type_name, f"{exc.args[0] if exc.args else exc} evaluating rule: {message}")
                )
                continue
            if isinstance(result, Exception):
                errors.append(
                    invalid(path, type_name, f"{result.args[0] if result.args else result} evaluating rule: {message}")
                )
            elif not bool(result):
                errors.append(invalid(path, type_name, message))
    return errors
