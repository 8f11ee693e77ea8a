"""Alert rules, ingress, disaster recovery and the platform's performance targets."""

from __future__ import annotations

import re
from typing import ClassVar

import attrs

from findly_infra.domain.environment import require_service_name
from findly_infra.domain.errors import InvariantError, first_repeat
from findly_infra.domain.notation import Duration, cadence_in

__all__ = [
    "MAX_CERTIFICATE_DOMAINS",
    "AlertGroup",
    "AlertRule",
    "Backend",
    "BackupPolicy",
    "CdnConfiguration",
    "ClusterBinding",
    "DisasterRecovery",
    "DisasterRecoveryTesting",
    "GlobalLoadBalancer",
    "IngressConfiguration",
    "KubernetesSettings",
    "MetricNames",
    "MultiRegion",
    "PerformanceTargets",
    "PrometheusSettings",
    "address_name_problem",
    "certificate_domain_problem",
]

_ALERT_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@attrs.frozen
class AlertRule:
    """A Prometheus alert as configured in ``alerting_rules``."""

    alert: str
    expression: str
    severity: str
    duration: Duration = Duration(0)
    notification: str | None = None
    summary: str | None = None
    description: str | None = None

    def __attrs_post_init__(self) -> None:
        if not _ALERT_NAME.match(self.alert):
            raise InvariantError(
                f"{self.alert!r} is not an alert name (letters, digits and '_', not starting with a digit)",
                field="alert",
            )
        if not self.expression.strip():
            raise InvariantError("the expression is empty", field="expression")
        problem = _unbalanced(self.expression)
        if problem:
            raise InvariantError(f"the expression {problem}", field="expression")


def _unbalanced(expression: str) -> str | None:
    """A sentence when brackets or quotes in a PromQL expression do not match. As PromQL reads them
    (https://prometheus.io/docs/prometheus/latest/querying/basics/, "String literals" and "Comments"): a string is
    quoted by ``'``, ``"`` or a backtick; in the first two a backslash escapes the next character, in backticks none
    is escaped; a ``#`` outside a string begins a comment, to the end of its line."""
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    inside = ""  # the quote of the string being read, "#" in a comment, "" in the expression itself
    at = 0
    while at < len(expression):
        char = expression[at]
        if inside == "#":
            if char == "\n":
                inside = ""
        elif inside != "":
            if char == inside:
                inside = ""
            elif char == "\\" and inside != "`":
                at += 1  # the character it escapes
        elif char in "#'\"`":
            inside = char
        elif char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            return f"has an unmatched {char!r} at character {at + 1}"
        at += 1
    if inside not in ("", "#"):
        return f"has an unclosed {inside} quote"
    if stack:
        return f"has an unclosed {stack[-1]!r}"
    return None


@attrs.frozen
class AlertGroup:
    """A named list of alert rules (``critical_alerts``)."""

    name: str
    rules: tuple[AlertRule, ...]


@attrs.frozen
class Backend:
    """A path of the global load balancer, the service behind it, and that service's health check."""

    service: str
    path: str
    health_check: str = "/health"

    def __attrs_post_init__(self) -> None:
        require_service_name(self.service, "service")
        for field in ("path", "health_check"):
            if not getattr(self, field).startswith("/"):
                raise InvariantError(f"{field} starts with '/', got {getattr(self, field)!r}", field=field)


# ---- the domains of a Google-managed certificate ---------------------------------------------------------------------
# GKE's ManagedCertificate (networking.gke.io/v1) as its CRD declares it (GoogleCloudPlatform/gke-managed-certs,
# deploy/managedcertificates-crd.yaml: "Up to 100 non-wildcard domain names, each up to 63 characters long", maxItems
# 100, maxLength 63 and this pattern; https://cloud.google.com/kubernetes-engine/docs/how-to/managed-certs).

MAX_CERTIFICATE_DOMAINS = 100
_CERTIFICATE_DOMAIN = re.compile(r"^(([a-z0-9]+|[a-z0-9][-a-z0-9]*[a-z0-9])\.)+[a-z][-a-z0-9]*[a-z0-9]$")
_ADDRESS_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def certificate_domain_problem(domain: str) -> str | None:
    """Why *domain* cannot be a domain of a Google-managed certificate (GKE's ManagedCertificate), or ``None``."""
    if "*" in domain:
        return (
            f"{domain!r} is a wildcard: a Google-managed certificate (ManagedCertificate) takes no wildcard domains; "
            "list each name"
        )
    if domain.endswith("."):
        return f"{domain!r}: write the domain without its final dot (ManagedCertificate's pattern has none)"
    if domain != domain.lower():
        return f"{domain!r}: write the domain in lower case (ManagedCertificate's pattern takes no capitals)"
    if len(domain) > 63:
        return f"{domain!r} is {len(domain)} characters long: a ManagedCertificate domain has at most 63"
    if not _CERTIFICATE_DOMAIN.match(domain):
        return f"{domain!r} is not a DNS name such as 'api.findly.now' (labels of letters, digits and '-', dotted)"
    return None


def address_name_problem(name: str) -> str | None:
    """Why *name* cannot name a reserved Compute Engine address (1-63 characters, a lower-case letter first, then
    lower-case letters, digits and '-', not ending with '-': https://cloud.google.com/compute/docs/naming-resources),
    or ``None``."""
    if len(name) <= 63 and _ADDRESS_NAME.match(name):
        return None
    return (
        f"{name!r} is not the name of a reserved address (gcloud compute addresses create NAME --global: 1-63 "
        "lower-case letters, digits and '-', starting with a letter)"
    )


@attrs.frozen
class GlobalLoadBalancer:
    """The seed's global load balancer — its backends, and its ``ssl_certificates`` (prose: ``Google-managed SSL``)
    — and, our own keys, per environment: the ``domains`` its Google-managed certificate covers, and the
    ``static_ips`` (reserved global addresses, by name) its Ingress takes. Each environment has its own Ingress and
    its own certificate: a domain can be on one environment's only."""

    backends: tuple[Backend, ...] = ()
    ssl_certificates: str = "Google-managed SSL"
    domains: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(environment, its domains), in the file's order."""
    static_ips: tuple[tuple[str, str], ...] = ()
    """(environment, the name of its reserved global static IP address)."""

    def __attrs_post_init__(self) -> None:
        paths = [backend.path for backend in self.backends]
        if (repeat := first_repeat(paths)) is not None:
            raise InvariantError(f"the path {paths[repeat]!r} is routed twice", field="backends", index=repeat)
        for environment, domains in self.domains:
            if len(domains) > MAX_CERTIFICATE_DOMAINS:
                raise InvariantError(
                    f"{environment} lists {len(domains)} domains: a Google-managed certificate (ManagedCertificate) "
                    f"covers at most {MAX_CERTIFICATE_DOMAINS}",
                    field="domains",
                    index=environment,
                )
            for domain in domains:
                if (problem := certificate_domain_problem(domain)) is not None:
                    raise InvariantError(problem, field="domains", index=environment)
            if (repeat := first_repeat(domains)) is not None:
                raise InvariantError(f"{domains[repeat]!r} is listed twice", field="domains", index=environment)
        for environment, address in self.static_ips:
            if (problem := address_name_problem(address)) is not None:
                raise InvariantError(problem, field="static_ips", index=environment)

    @property
    def google_managed(self) -> bool:
        """Whether ``ssl_certificates`` asks for Google-managed certificates (``Google-managed SSL``)."""
        return re.search(r"google[-\s]*managed", self.ssl_certificates, re.IGNORECASE) is not None

    def domains_for(self, environment: str) -> tuple[str, ...]:
        return next((domains for name, domains in self.domains if name == environment), ())

    def static_ip_for(self, environment: str) -> str | None:
        return next((address for name, address in self.static_ips if name == environment), None)


@attrs.frozen
class CdnConfiguration:
    cache_policy: str = ""
    ttl: str = ""
    compression: str = ""


@attrs.frozen
class IngressConfiguration:
    global_load_balancer: GlobalLoadBalancer = GlobalLoadBalancer()
    cdn_configuration: CdnConfiguration | None = None


@attrs.frozen
class BackupPolicy:
    """How one kind of data is backed up. The fields are prose; the properties read what they state."""

    name: str
    frequency: str
    retention: str
    encryption: str | None = None
    testing: str | None = None
    versioning: str | None = None

    @property
    def continuous(self) -> bool:
        """Whether data is replicated as it changes ("Continuous replication", "Real-time replication")."""
        return bool(re.search(r"\b(continuous|real-time|realtime|streaming)\b", self.frequency, re.I))

    @property
    def interval(self) -> Duration | None:
        """The snapshot interval the frequency names (``hourly`` -> 1h), if any."""
        return cadence_in(self.frequency)

    @property
    def retention_period(self) -> Duration | None:
        """How long backups are kept; ``None`` for "Indefinite" or a phrase that names no period."""
        if re.search(r"\b(indefinite|forever|unlimited)\b", self.retention, re.I):
            return None
        return cadence_in(self.retention)

    @property
    def worst_case_loss(self) -> Duration | None:
        """The most data a failure could lose: zero when continuous, else the interval."""
        if self.continuous:
            return Duration(0)
        return self.interval


@attrs.frozen
class MultiRegion:
    primary_region: str
    dr_region: str
    replication: str = ""
    failover: str = ""

    def __attrs_post_init__(self) -> None:
        if self.primary_region == self.dr_region:
            raise InvariantError(
                f"the disaster-recovery region must differ from the primary region {self.primary_region!r}",
                field="dr_region",
            )


@attrs.frozen
class DisasterRecoveryTesting:
    frequency: str = ""
    scope: str = ""
    validation: str = ""
    documentation: str = ""

    @property
    def interval(self) -> Duration | None:
        return cadence_in(self.frequency)


@attrs.frozen
class DisasterRecovery:
    """Recovery targets (RTO, RPO), backups per kind of data, regions and drills."""

    rto_target: Duration
    rpo_target: Duration
    backup_strategy: tuple[BackupPolicy, ...] = ()
    multi_region: MultiRegion | None = None
    testing: DisasterRecoveryTesting | None = None

    def __attrs_post_init__(self) -> None:
        for field in ("rto_target", "rpo_target"):
            if getattr(self, field).milliseconds <= 0:
                raise InvariantError(f"{field} is a positive time", field=field)


@attrs.frozen
class PerformanceTargets:
    """The seed's infrastructure performance targets; each has the seed's value as default."""

    deployment_speed: Duration = Duration.of(minutes=10)
    scaling_response: Duration = Duration.of(minutes=2)
    recovery_time: Duration = Duration.of(minutes=15)
    alert_latency: Duration = Duration.of(seconds=30)

    def __attrs_post_init__(self) -> None:
        for field in ("deployment_speed", "scaling_response", "recovery_time", "alert_latency"):
            if getattr(self, field).milliseconds <= 0:
                raise InvariantError(f"{field} is a positive time", field=field)


_METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


@attrs.frozen
class MetricNames:
    """The names the metrics carry (section ``metrics``), with the conventional defaults.

    Requests are a counter with labels for the service, the deployed version, the environment and the
    HTTP status; latency is a histogram (``<latency>_bucket`` with ``le``, ``<latency>_count``). CPU and
    memory come from cAdvisor and kube-state-metrics, joined on ``(namespace, pod)`` with
    ``<pod_labels>`` (whose pod labels read ``label_<name>``); probe results from the kubelet.
    ``environment_label: null`` drops the environment matcher (one Prometheus per environment).
    """

    requests: str = "http_requests_total"
    latency: str = "http_request_duration_seconds"
    service_label: str = "service"
    version_label: str = "version"
    status_label: str = "status"
    environment_label: str | None = "environment"
    cpu_usage: str = "container_cpu_usage_seconds_total"
    memory_usage: str = "container_memory_working_set_bytes"
    resource_requests: str = "kube_pod_container_resource_requests"
    resource_limits: str = "kube_pod_container_resource_limits"
    pod_labels: str = "kube_pod_labels"
    probes: str = "prober_probe_total"
    container_label: str = "container"

    METRIC_FIELDS: ClassVar[tuple[str, ...]] = (
        "requests",
        "latency",
        "cpu_usage",
        "memory_usage",
        "resource_requests",
        "resource_limits",
        "pod_labels",
        "probes",
    )
    LABEL_FIELDS: ClassVar[tuple[str, ...]] = (
        "service_label",
        "version_label",
        "status_label",
        "environment_label",
        "container_label",
    )

    def __attrs_post_init__(self) -> None:
        for field in self.METRIC_FIELDS:
            if not _METRIC.match(getattr(self, field)):
                raise InvariantError(f"{getattr(self, field)!r} is not a metric name", field=field)
        for field in self.LABEL_FIELDS:
            value = getattr(self, field)
            if value is not None and not _LABEL.match(value):
                raise InvariantError(f"{value!r} is not a label name", field=field)


_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@attrs.frozen
class ClusterBinding:
    """Where one environment runs (``kubernetes.clusters.<environment>``): a kubeconfig context (``None``: the
    kubeconfig's current one), or the in-cluster service account (``in_cluster: true``, for a runner inside the
    cluster). An environment bound to no cluster keeps the simulated cluster, and says so."""

    environment: str
    context: str | None = None
    in_cluster: bool = False

    def __attrs_post_init__(self) -> None:
        if self.context is not None and (not self.context.strip() or len(self.context) > 253):
            raise InvariantError(f"{self.context!r} is not a kubeconfig context name", field="context")
        if self.in_cluster and self.context is not None:
            raise InvariantError(
                "in_cluster: true uses the pod's service account; a kubeconfig context is for the other case: "
                "give one of them",
                field="in_cluster",
            )


@attrs.frozen
class KubernetesSettings:
    """Where the services run (section ``kubernetes``): each environment gets the namespace
    ``<namespace>-<environment>``; principals and selectors that name ``namespace`` are read as
    "this environment's namespace". ``clusters`` binds environments to clusters."""

    namespace: str = "findly-now"
    kubernetes_version: str = "1.32"
    clusters: tuple[ClusterBinding, ...] = ()

    def cluster_for(self, environment: str) -> ClusterBinding | None:
        """The environment's cluster, or ``None`` (the simulated cluster)."""
        return next((binding for binding in self.clusters if binding.environment == environment), None)

    def __attrs_post_init__(self) -> None:
        if not _NAMESPACE.match(self.namespace) or len(self.namespace) > 40:
            raise InvariantError(
                f"{self.namespace!r} is not a namespace name (lower-case letters, digits, '-'; at most 40)",
                field="namespace",
            )
        if not re.match(r"^1\.\d+$", self.kubernetes_version):
            raise InvariantError(
                f"kubernetes_version is written like '1.32', got {self.kubernetes_version!r}",
                field="kubernetes_version",
            )

    def namespace_for(self, environment: str) -> str:
        return f"{self.namespace}-{environment}"


@attrs.frozen
class PrometheusSettings:
    """Where rollouts read their metrics (section ``prometheus``); ``--prometheus-url`` and
    ``FINDLY_PROMETHEUS_URL`` override ``url``. The bearer token only ever comes from the environment
    (``FINDLY_PROMETHEUS_TOKEN``), never from the file."""

    url: str | None = None
    timeout: Duration = Duration.of(seconds=5)
    window: Duration = Duration.of(minutes=1)

    def __attrs_post_init__(self) -> None:
        if self.url is not None and not re.match(r"^https?://[^\s/]+", self.url):
            raise InvariantError(
                f"url is an http(s) address such as 'http://prometheus:9090', got {self.url!r}", field="url"
            )
        for field in ("timeout", "window"):
            if getattr(self, field).milliseconds < 1000:
                raise InvariantError(f"{field} is at least 1s", field=field)
