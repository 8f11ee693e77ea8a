"""Kubernetes and Istio objects for one platform, as plain dictionaries (no I/O, no clock).

Every function here is a pure function of the platform (and the versions to deploy), so the
output is deterministic: the same file renders the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from findly_infra.domain import tracks as domain_tracks
from findly_infra.domain.cleanup import CLEANUP_REVISION_HISTORY
from findly_infra.domain.environment import Environment, HealthCheck, ResourceQuota, Service, StrategyKind
from findly_infra.domain.infrastructure import (
    CustomMetricTarget,
    ExternalMetricTarget,
    HorizontalAutoscaler,
    ResourceMetricTarget,
)
from findly_infra.domain.notation import ByteSize, CpuQuantity, Percentage, format_number
from findly_infra.domain.operations import Backend
from findly_infra.domain.platform import Platform
from findly_infra.domain.security import (
    AuthorizationPolicy,
    IPBlock,
    LabelSelector,
    NetworkPeer,
    NetworkPolicy,
    NetworkPort,
)

__all__ = [
    "DEFAULT_VERSION",
    "NEG_ANNOTATION",
    "TRACKS",
    "Manifest",
    "environment_manifests",
    "fronted_services",
    "ingress_manifests",
    "service_base_manifests",
]

Manifest = dict[str, Any]
DEFAULT_VERSION = "latest"
PART_OF = "findly-now"
TRACKS: Mapping[StrategyKind, tuple[str, str | None]] = {
    kind: (tracks[0][0], tracks[1][0] if len(tracks) > 1 else None) for kind, tracks in domain_tracks.TRACKS.items()
}
"""Each strategy's (primary, secondary) track labels, as ``domain.tracks`` names them: the primary is ``stable``
whatever the strategy, so its Deployment's selector never changes."""
_PRINCIPAL_NAMESPACE = re.compile(r"^([^/]+)/ns/([^/]+)/sa/(.+)$")


def _labels(app: str, /, **extra: str) -> dict[str, str]:
    return {
        "app": app,
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "findly-infra",
        **extra,
    }


def _meta(name: str, labels: dict[str, str], annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if annotations:
        meta["annotations"] = annotations
    return meta


def cpu(quantity: CpuQuantity) -> str:
    return quantity.format()


def memory(size: ByteSize) -> str:
    """A Kubernetes memory quantity: ``512Mi``, ``1G``, ``1k``, or bytes."""
    return size.kubernetes()


def quantity(value: float) -> str:
    """A Kubernetes quantity for a metric target: ``1000``, ``1500m``."""
    if value == int(value):
        return str(int(value))
    return f"{round(value * 1000)}m"


def _percent(value: Percentage) -> str:
    return f"{format_number(value.percent)}%"


def _resources(quota: ResourceQuota) -> dict[str, Any]:
    return {
        "requests": {"cpu": cpu(quota.cpu_request), "memory": memory(quota.memory_request)},
        "limits": {"cpu": cpu(quota.cpu_limit), "memory": memory(quota.memory_limit)},
    }


def _probe(check: HealthCheck, *, startup: bool = False) -> dict[str, Any]:
    probe: dict[str, Any] = {
        "httpGet": {"path": check.path, "port": "http"},
        "periodSeconds": max(1, round(check.period.seconds)),
        "timeoutSeconds": max(1, round(check.timeout.seconds)),
        "failureThreshold": 30 if startup else check.failure_threshold,
    }
    if check.initial_delay.milliseconds and not startup:
        probe["initialDelaySeconds"] = round(check.initial_delay.seconds)
    return probe


def _backends(platform: Platform) -> tuple[Backend, ...]:
    ingress = platform.ingress_configuration
    return ingress.global_load_balancer.backends if ingress else ()


# ---- base: what every environment shares ------------------------------------------------------


NEG_ANNOTATION = "cloud.google.com/neg"
"""GKE's container-native load balancing: the load balancer of an Ingress reaches the pods of a Service so annotated
directly, through network endpoint groups — which a ClusterIP Service behind a GKE Ingress needs. GKE defaults to it
only on VPC-native clusters without Shared VPC and without GKE network policy
(https://cloud.google.com/kubernetes-engine/docs/how-to/container-native-load-balancing), and the platform renders
network policies: so the Services the Ingress names say it."""


def fronted_services(platform: Platform) -> frozenset[str]:
    """The services the Ingress routes to (its backends')."""
    return frozenset(backend.service for backend in _backends(platform))


def service_base_manifests(
    platform: Platform, service: Service, *, fronted: Collection[str] | None = None
) -> dict[str, Manifest]:
    """ServiceAccount, Service, HorizontalPodAutoscaler and PodDisruptionBudget of one service. The ServiceAccount
    ``<service>`` is what the service's pods run as (``serviceAccountName``): in each environment's namespace, the
    identity Workload Identity Federation for GKE gives IAM (``domain.workload_identity``). *fronted*: the
    platform's :func:`fronted_services`, found once by whoever renders every service (else found here)."""
    name = service.name
    labels = _labels(name)
    behind_ingress = name in (fronted_services(platform) if fronted is None else fronted)
    neg = {NEG_ANNOTATION: '{"ingress": true}'} if behind_ingress else None
    manifests: dict[str, Manifest] = {
        "serviceaccount.yaml": {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(name, labels)},
        "service.yaml": {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta(name, labels, neg),
            "spec": {
                "selector": {"app": name},
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            },
        },
        "pdb.yaml": {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": _meta(name, labels),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": name}}},
        },
    }
    autoscaler = platform.autoscaler_for(name)
    if autoscaler is not None:
        manifests["hpa.yaml"] = _hpa(name, labels, autoscaler)
    return manifests


def _hpa(name: str, labels: dict[str, str], autoscaler: HorizontalAutoscaler) -> Manifest:
    metrics: list[dict[str, Any]] = []
    for metric in autoscaler.metrics:
        if isinstance(metric, ResourceMetricTarget):
            target: dict[str, Any] = {"type": "Utilization", "averageUtilization": metric.target_utilization}
            metrics.append({"type": "Resource", "resource": {"name": metric.name, "target": target}})
        elif isinstance(metric, CustomMetricTarget):
            target = {"type": "AverageValue", "averageValue": quantity(metric.target_value)}
            metrics.append({"type": "Pods", "pods": {"metric": {"name": metric.metric_name}, "target": target}})
        elif isinstance(metric, ExternalMetricTarget):
            target = {"type": "AverageValue", "averageValue": quantity(metric.target_value)}
            metrics.append({"type": "External", "external": {"metric": {"name": metric.metric_name}, "target": target}})
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(name, labels),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": autoscaler.min_replicas,
            "maxReplicas": autoscaler.max_replicas,
            "metrics": metrics,
        },
    }


# ---- overlays: what differs by environment ----------------------------------------------------


def environment_manifests(
    platform: Platform, environment: Environment, versions: Mapping[str, str]
) -> dict[str, Manifest]:
    """Everything one environment adds to the base, by relative file name."""
    namespace = platform.kubernetes.namespace_for(environment.name)
    profile = platform.resource_profile(environment.resource_limits)
    manifests: dict[str, Manifest] = {
        "namespace.yaml": {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": _meta(
                namespace,
                {"name": namespace, "environment": environment.name, "istio-injection": "enabled"},
            ),
        }
    }
    if profile.namespace is not None:
        hard = _resources(profile.namespace)
        manifests["resourcequota.yaml"] = {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": _meta(f"{environment.name}-quota", {"environment": environment.name}),
            "spec": {
                "hard": {
                    "requests.cpu": hard["requests"]["cpu"],
                    "requests.memory": hard["requests"]["memory"],
                    "limits.cpu": hard["limits"]["cpu"],
                    "limits.memory": hard["limits"]["memory"],
                }
            },
        }
    for service in platform.all_services:
        version = versions.get(service.name, DEFAULT_VERSION)
        for file, manifest in _service_rollout(platform, environment, service, version, profile.container).items():
            manifests[f"{service.name}/{file}"] = manifest
    manifests.update(ingress_manifests(platform, environment))
    manifests.update(_security(platform, environment))
    return manifests


def ingress_manifests(platform: Platform, environment: Environment) -> dict[str, Manifest]:
    """The environment's Ingress of the global load balancer (its health checks are the services' readiness probes)
    and, where the file gives the environment domains under Google-managed SSL, the ``ManagedCertificate`` that
    covers them — each environment its own, since a domain resolves to one load balancer only.

    As GKE documents a Google-managed certificate (https://cloud.google.com/kubernetes-engine/docs/how-to/managed-certs):
    the ManagedCertificate (``networking.gke.io/v1``) lives in the Ingress's namespace, and the Ingress names it in
    ``networking.gke.io/managed-certificates`` — only where one is rendered (an Ingress naming a certificate that does
    not exist has none); the Ingress is an external Application Load Balancer, ``kubernetes.io/ingress.class: gce``
    (managed certificates do not work with ``gce-internal``; GKE still reads the class from this annotation, not
    from ``spec.ingressClassName``); and a reserved global static IP address, named by
    ``kubernetes.io/ingress.global-static-ip-name``, keeps the address the domains' DNS records point at when the
    Ingress is re-created — rendered where the file names one (``static_ips``)."""
    ingress = platform.ingress_configuration
    backends = _backends(platform)
    if ingress is None or not backends:
        return {}
    balancer = ingress.global_load_balancer
    annotations = {"kubernetes.io/ingress.class": "gce"}
    address = balancer.static_ip_for(environment.name)
    if address is not None:
        annotations["kubernetes.io/ingress.global-static-ip-name"] = address
    manifests: dict[str, Manifest] = {}
    domains = balancer.domains_for(environment.name) if balancer.google_managed else ()
    if domains:
        annotations["networking.gke.io/managed-certificates"] = PART_OF
        manifests["managedcertificate.yaml"] = {
            "apiVersion": "networking.gke.io/v1",
            "kind": "ManagedCertificate",
            "metadata": _meta(PART_OF, {"app.kubernetes.io/part-of": PART_OF}),
            "spec": {"domains": list(domains)},
        }
    paths = [
        {
            "path": backend.path,
            "pathType": "ImplementationSpecific",
            "backend": {"service": {"name": backend.service, "port": {"number": 80}}},
        }
        for backend in backends
    ]
    manifests["ingress.yaml"] = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": _meta(PART_OF, {"app.kubernetes.io/part-of": PART_OF}, annotations),
        "spec": {"rules": [{"http": {"paths": paths}}]},
    }
    return manifests


def _service_rollout(
    platform: Platform, environment: Environment, service: Service, version: str, quota: ResourceQuota
) -> dict[str, Manifest]:
    """The Deployments of the environment's strategy, and the mesh routing that shifts traffic between them."""
    strategy = environment.strategy
    primary, secondary = TRACKS[strategy]
    manifests = {
        f"deployment-{primary}.yaml": _deployment(platform, environment, service, version, primary, quota, None)
    }
    if secondary is None:
        return manifests
    manifests[f"deployment-{secondary}.yaml"] = _deployment(
        platform, environment, service, version, secondary, quota, 0
    )
    host = service.name
    subsets = [{"name": track, "labels": {"track": track}} for track in (primary, secondary)]
    manifests["destinationrule.yaml"] = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": _meta(host, _labels(host)),
        "spec": {"host": host, "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}, "subsets": subsets},
    }
    manifests["virtualservice.yaml"] = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": _meta(host, _labels(host), {"findly.dev/driven-by": f"{strategy.value} rollout"}),
        "spec": {
            "hosts": [host],
            "http": [
                {
                    "name": "primary",
                    "route": [
                        {"destination": {"host": host, "subset": primary}, "weight": 100},
                        {"destination": {"host": host, "subset": secondary}, "weight": 0},
                    ],
                }
            ],
        },
    }
    return manifests


def _deployment(  # noqa: PLR0917 - one private builder, called in two places
    platform: Platform,
    environment: Environment,
    service: Service,
    version: str,
    track: str,
    quota: ResourceQuota,
    replicas: int | None,
) -> Manifest:
    primary = replicas is None
    name = service.name if primary else f"{service.name}-{track}"
    metrics = platform.metrics
    pod_labels = _labels(
        service.name,
        track=track,
        **{
            metrics.service_label: service.name,
            metrics.version_label: version,
            metrics.environment_label or "environment": environment.name,
        },
    )
    check = service.health_check
    image = service.image or service.name
    rolling = platform.rolling_strategy
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": service.name, "track": track}},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {
                "maxSurge": _percent(rolling.max_surge),
                "maxUnavailable": _percent(rolling.max_unavailable),
            },
        },
        "progressDeadlineSeconds": max(1, round(rolling.progress_deadline.seconds)),
        "template": {
            "metadata": {
                "labels": pod_labels,
                "annotations": {
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": str(service.port),
                },
            },
            "spec": {
                "serviceAccountName": service.name,
                "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                "topologySpreadConstraints": [
                    {
                        "maxSkew": 1,
                        "topologyKey": "topology.kubernetes.io/zone",
                        "whenUnsatisfiable": "ScheduleAnyway",
                        "labelSelector": {"matchLabels": {"app": service.name, "track": track}},
                    }
                ],
                "containers": [
                    {
                        "name": service.name,
                        "image": f"{image}:{version}",
                        "ports": [{"name": "http", "containerPort": service.port, "protocol": "TCP"}],
                        "resources": _resources(quota),
                        "startupProbe": _probe(check, startup=True),
                        "readinessProbe": _probe(check),
                        "livenessProbe": _probe(check),
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True,
                            "capabilities": {"drop": ["ALL"]},
                        },
                    }
                ],
            },
        },
    }
    if environment.auto_cleanup:  # old ReplicaSets go once they run nothing: domain.cleanup says why
        spec["revisionHistoryLimit"] = CLEANUP_REVISION_HISTORY
    if replicas is not None:
        spec = {"replicas": replicas, **spec}
    elif platform.autoscaler_for(service.name) is None:
        spec = {"replicas": 2, **spec}
    labels = _labels(service.name, track=track, **{metrics.version_label: version})
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(name, labels), "spec": spec}


def _in_namespace(platform: Platform, environment: Environment, value: str) -> str:
    """The base namespace, as the file writes it, means this environment's namespace."""
    return platform.kubernetes.namespace_for(environment.name) if value == platform.kubernetes.namespace else value


def _security(platform: Platform, environment: Environment) -> dict[str, Manifest]:
    manifests: dict[str, Manifest] = {}
    for policy in platform.network_policies:
        manifests[f"security/networkpolicy-{_file(policy.name)}.yaml"] = _network_policy(platform, environment, policy)
    istio = platform.istio_configuration
    if istio is not None:
        manifests["security/peerauthentication.yaml"] = {
            "apiVersion": "security.istio.io/v1",
            "kind": "PeerAuthentication",
            "metadata": _meta("default", {"app.kubernetes.io/part-of": PART_OF}),
            "spec": {"mtls": {"mode": istio.mtls.mode}},
        }
        for authorization in istio.authorization_policies:
            manifests[f"security/authorizationpolicy-{_file(authorization.name)}.yaml"] = _authorization(
                platform, environment, authorization
            )
    return manifests


def _file(name: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", name.lower().replace("_", "-")).strip("-")


def _selector(platform: Platform, environment: Environment, selector: LabelSelector) -> dict[str, Any]:
    labels = {k: _in_namespace(platform, environment, v) if k == "name" else v for k, v in selector.match_labels}
    return {"matchLabels": labels} if labels else {}


def _peer(platform: Platform, environment: Environment, peer: NetworkPeer) -> dict[str, Any]:
    rendered: dict[str, Any] = {}
    if peer.namespace_selector is not None:
        rendered["namespaceSelector"] = _selector(platform, environment, peer.namespace_selector)
    if peer.pod_selector is not None:
        rendered["podSelector"] = _selector(platform, environment, peer.pod_selector)
    if peer.ip_block is not None:
        rendered["ipBlock"] = _ip_block(peer.ip_block)
    return rendered


def _ip_block(block: IPBlock) -> dict[str, Any]:
    return {"cidr": block.cidr, **({"except": list(block.except_)} if block.except_ else {})}


def _ports(ports: tuple[NetworkPort, ...]) -> list[dict[str, Any]]:
    return [{"protocol": port.protocol, "port": port.port} for port in ports]


def _network_policy(platform: Platform, environment: Environment, policy: NetworkPolicy) -> Manifest:
    spec: dict[str, Any] = {
        "podSelector": _selector(platform, environment, policy.pod_selector),
        "policyTypes": list(policy.effective_policy_types),
    }
    if policy.ingress:
        spec["ingress"] = [
            {
                **({"from": [_peer(platform, environment, p) for p in rule.from_]} if rule.from_ else {}),
                **({"ports": _ports(rule.ports)} if rule.ports else {}),
            }
            for rule in policy.ingress
        ]
    if policy.egress:
        spec["egress"] = [
            {
                **({"to": [_peer(platform, environment, p) for p in rule.to]} if rule.to else {}),
                **({"ports": _ports(rule.ports)} if rule.ports else {}),
            }
            for rule in policy.egress
        ]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(_file(policy.name), {"app.kubernetes.io/part-of": PART_OF}),
        "spec": spec,
    }


def _principal(platform: Platform, environment: Environment, principal: str) -> str:
    match = _PRINCIPAL_NAMESPACE.match(principal)
    if match is None:
        return principal
    domain, namespace, account = match.groups()
    return f"{domain}/ns/{_in_namespace(platform, environment, namespace)}/sa/{account}"


def _authorization(platform: Platform, environment: Environment, policy: AuthorizationPolicy) -> Manifest:
    accounts = sorted({account for _namespace, account in policy.destination.service_accounts})
    spec: dict[str, Any] = {}
    if len(accounts) == 1:
        spec["selector"] = {"matchLabels": {"app": accounts[0]}}
    spec["action"] = policy.action
    rule: dict[str, Any] = {}
    source: dict[str, Any] = {}
    if policy.source.principals:
        source["principals"] = [_principal(platform, environment, p) for p in policy.source.principals]
    if policy.source.namespaces:
        source["namespaces"] = [_in_namespace(platform, environment, n) for n in policy.source.namespaces]
    if source:
        rule["from"] = [{"source": source}]
    operation: dict[str, Any] = {}
    if policy.operation.methods:
        operation["methods"] = list(policy.operation.methods)
    if policy.operation.paths:
        operation["paths"] = list(policy.operation.paths)
    if operation:
        rule["to"] = [{"operation": operation}]
    spec["rules"] = [rule]
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": _meta(_file(policy.name), {"app.kubernetes.io/part-of": PART_OF}),
        "spec": spec,
    }
