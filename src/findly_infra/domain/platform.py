"""The platform: every section of the platform file as one value, and what follows from them together."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping

import attrs

from findly_infra.domain.environment import (
    ApproverGroup,
    Environment,
    HealthCheck,
    ResourceProfile,
    ResourceQuota,
    Service,
    StrategyKind,
    service_name_from_key,
)
from findly_infra.domain.gitops import GitOpsSettings
from findly_infra.domain.identity import OidcSettings
from findly_infra.domain.infrastructure import ClusterAutoscaler, GKECluster, HorizontalAutoscaler, Infrastructure
from findly_infra.domain.notation import ByteSize, CpuQuantity
from findly_infra.domain.notifications import NotificationSettings
from findly_infra.domain.operations import (
    AlertGroup,
    DisasterRecovery,
    IngressConfiguration,
    KubernetesSettings,
    MetricNames,
    PerformanceTargets,
    PrometheusSettings,
)
from findly_infra.domain.recovery import FailoverSettings
from findly_infra.domain.security import IstioConfiguration, NetworkPolicy, SecretManagement, SecurityPolicy
from findly_infra.domain.slo import SLODefinition
from findly_infra.domain.strategy import BlueGreenStrategy, CanaryStrategy, DeploymentStrategy, RollingStrategy

__all__ = [
    "BUILTIN_RESOURCE_PROFILES",
    "Finding",
    "Path",
    "Platform",
    "Severity",
    "UnknownNameError",
    "format_path",
]

Path = tuple[str | int, ...]
_PLAIN_PART = re.compile(r"[\w-]+")
r"""A part written after a dot: letters and digits (``str.isalnum``'s, which ``\w`` matches), ``_`` and ``-``."""


def format_path(path: Path) -> str:
    """``("environments", "production", "approvers", 1)`` -> ``environments.production.approvers[1]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_PART.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@attrs.frozen
class Finding:
    """A problem found in a platform: where, what, how bad, and the rule that found it."""

    path: Path
    message: str
    severity: Severity = Severity.ERROR
    rule: str = "structure"

    @property
    def location(self) -> str:
        return format_path(self.path)

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class UnknownNameError(LookupError):
    """Raised when a service, environment, group or profile is asked for by a name the platform does not know."""


_MI, _GI = 2**20, 2**30
BUILTIN_RESOURCE_PROFILES: Mapping[str, ResourceProfile] = {
    # a table, not calls made at import (which no test could see a mutant of): 100m, 500m, 128Mi, 256Mi; 2, 4, 4Gi, 8Gi
    "minimal": ResourceProfile(
        "minimal",
        ResourceQuota(CpuQuantity(100), CpuQuantity(500), ByteSize(128 * _MI), ByteSize(256 * _MI)),
        ResourceQuota(CpuQuantity(2000), CpuQuantity(4000), ByteSize(4 * _GI), ByteSize(8 * _GI)),
    ),
    # 250m, 1, 256Mi, 512Mi; 8, 16, 16Gi, 32Gi
    "standard": ResourceProfile(
        "standard",
        ResourceQuota(CpuQuantity(250), CpuQuantity(1000), ByteSize(256 * _MI), ByteSize(512 * _MI)),
        ResourceQuota(CpuQuantity(8000), CpuQuantity(16000), ByteSize(16 * _GI), ByteSize(32 * _GI)),
    ),
}
PRODUCTION_EQUIVALENT = "production-equivalent"


_AUTOSCALERS: dict[int, tuple[Platform, dict[str, HorizontalAutoscaler]]] = {}
"""Each platform's autoscalers by service, by the platform's identity (each entry keeps its platform alive,
so an identity is not reused while its entry stands)."""

_ORDERS: dict[int, tuple[Platform, tuple[str, ...]]] = {}
"""Each platform's promotion order, by the platform's identity (each entry keeps its platform alive)."""


@attrs.frozen
class Platform:
    """Everything the platform file says, section by section.

    The fields carry the file's own section names. ``services`` holds the ``services:`` section;
    :attr:`all_services` adds the services the other sections name (ingress backends, autoscaling).
    """

    environments: tuple[Environment, ...]
    canary_strategy: CanaryStrategy | None = None
    blue_green_strategy: BlueGreenStrategy | None = None
    rolling_strategy: RollingStrategy = RollingStrategy()
    slo_definitions: tuple[SLODefinition, ...] = ()
    hpa_configuration: tuple[HorizontalAutoscaler, ...] = ()
    cluster_autoscaler: ClusterAutoscaler | None = None
    gke_cluster: GKECluster | None = None
    network_policies: tuple[NetworkPolicy, ...] = ()
    istio_configuration: IstioConfiguration | None = None
    secret_management: SecretManagement | None = None
    disaster_recovery: DisasterRecovery | None = None
    alerting_rules: tuple[AlertGroup, ...] = ()
    ingress_configuration: IngressConfiguration | None = None
    monitoring_stack: Mapping[str, object] = attrs.field(factory=dict, hash=False)
    security_layers: Mapping[str, object] = attrs.field(factory=dict, hash=False)
    services: tuple[Service, ...] = ()
    approver_groups: tuple[ApproverGroup, ...] | None = None
    resource_profiles: tuple[ResourceProfile, ...] = ()
    performance_targets: PerformanceTargets = PerformanceTargets()
    metrics: MetricNames = MetricNames()
    kubernetes: KubernetesSettings = KubernetesSettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    github_oidc: OidcSettings = OidcSettings()
    """Whose tokens prove who acts where an environment's ``identity`` asks for ``verified`` people."""
    notifications: NotificationSettings = NotificationSettings()
    """Who is told of the pipeline's events (``notifications:``): the receivers and the routes to them."""
    failover: FailoverSettings | None = None
    """How the platform is brought back in the DR region (``failover:``, ``domain.recovery``)."""
    gitops: GitOpsSettings | None = None
    """The environments promoted through a Git repository instead of a cluster (``gitops:``, ``domain.gitops``)."""

    # ---- environments -----------------------------------------------------------------------

    @property
    def promotion_order(self) -> tuple[str, ...]:
        """Environment names in the order a version passes through them (the file's order): worked out once a
        platform (every view of every decision asks)."""
        kept = _ORDERS.get(id(self))
        if kept is None or kept[0] is not self:
            if len(_ORDERS) > 64:  # platforms come and go in long-lived processes (property tests): stay bounded
                _ORDERS.clear()
            kept = _ORDERS[id(self)] = (self, tuple(environment.name for environment in self.environments))
        return kept[1]

    def environment(self, name: str) -> Environment:
        for environment in self.environments:
            if environment.name == name:
                return environment
        raise UnknownNameError(f"unknown environment {name!r}; known: {', '.join(self.promotion_order)}")

    def previous_environment(self, name: str) -> Environment | None:
        """The environment a version must have succeeded in before entering *name* (``None`` for the first)."""
        index = self.promotion_order.index(self.environment(name).name)
        return self.environments[index - 1] if index else None

    def strategy_for(self, environment: str, override: StrategyKind | None = None) -> DeploymentStrategy:
        """The strategy a release into *environment* uses: *override*, else the environment's own."""
        kind = override or self.environment(environment).strategy
        if kind is StrategyKind.CANARY:
            if self.canary_strategy is None:
                raise UnknownNameError("the platform file has no canary_strategy section")
            return self.canary_strategy
        if kind is StrategyKind.BLUE_GREEN:
            if self.blue_green_strategy is None:
                raise UnknownNameError("the platform file has no blue_green_strategy section")
            return self.blue_green_strategy
        return self.rolling_strategy

    # ---- people -----------------------------------------------------------------------------

    def approver_group(self, name: str) -> ApproverGroup:
        for group in self.approver_groups or ():
            if group.name == name:
                return group
        raise UnknownNameError(f"unknown approver group {name!r}")

    # ---- services ---------------------------------------------------------------------------

    @property
    def all_services(self) -> tuple[Service, ...]:
        """The ``services:`` section, then every other service the file names, in order of appearance."""
        found: dict[str, Service] = {service.name: service for service in self.services}
        if self.ingress_configuration is not None:
            for backend in self.ingress_configuration.global_load_balancer.backends:
                if backend.service not in found:
                    found[backend.service] = Service(backend.service, health_check=HealthCheck(backend.health_check))
        for autoscaler in self.hpa_configuration:
            name = service_name_from_key(autoscaler.service)
            if name not in found:
                found[name] = Service(name)
        return tuple(found.values())

    def service(self, name: str) -> Service:
        for service in self.all_services:
            if service.name == name:
                return service
        known = ", ".join(service.name for service in self.all_services) or "none"
        raise UnknownNameError(f"unknown service {name!r}; known: {known}")

    @property
    def dependencies(self) -> dict[str, tuple[str, ...]]:
        """Each service -> the services it depends on (``depends_on``), in the file's order (``domain.releases``)."""
        return {service.name: service.depends_on for service in self.all_services}

    def autoscaler_for(self, service: str) -> HorizontalAutoscaler | None:
        """The autoscaler ``hpa_configuration`` gives *service* (the first one that names it), if any."""
        # indexed once per platform (rendering asks once per service): a cache, which answers as a rebuilt index does
        entry = _AUTOSCALERS.get(id(self))  # pragma: no mutate (equivalent: without the cache, the index is rebuilt)
        if entry is None or entry[0] is not self:  # pragma: no mutate (equivalent: the index is rebuilt)
            index: dict[str, HorizontalAutoscaler] = {}
            for autoscaler in self.hpa_configuration:
                index.setdefault(service_name_from_key(autoscaler.service), autoscaler)
            if len(_AUTOSCALERS) > 64:  # pragma: no mutate (equivalent: a cache's bound, the answers are the same)
                _AUTOSCALERS.clear()  # pragma: no mutate (equivalent: a cache's bound, the answers are the same)
            entry = _AUTOSCALERS[id(self)] = (self, index)  # pragma: no mutate (equivalent: the cache's key)
        return entry[1].get(service)

    # ---- resources --------------------------------------------------------------------------

    @property
    def resource_profile_names(self) -> tuple[str, ...]:
        names = dict.fromkeys([*BUILTIN_RESOURCE_PROFILES, PRODUCTION_EQUIVALENT])
        names.update(dict.fromkeys(profile.name for profile in self.resource_profiles))
        return tuple(names)

    def resource_profile(self, name: str) -> ResourceProfile:
        """A profile by name: the file's own first, then the built-in ``minimal`` and ``standard``.

        ``production-equivalent``, unless the file defines it, is whatever the last environment uses.
        """
        for profile in self.resource_profiles:
            if profile.name == name:
                return profile
        if name == PRODUCTION_EQUIVALENT:
            last = self.environments[-1].resource_limits if self.environments else "standard"
            base = self.resource_profile("standard" if last == PRODUCTION_EQUIVALENT else last)
            return attrs.evolve(base, name=PRODUCTION_EQUIVALENT)
        if name in BUILTIN_RESOURCE_PROFILES:
            return BUILTIN_RESOURCE_PROFILES[name]
        raise UnknownNameError(f"unknown resource profile {name!r}; known: {', '.join(self.resource_profile_names)}")

    # ---- entities the seed names ------------------------------------------------------------

    @property
    def infrastructure(self) -> Infrastructure:
        return Infrastructure(self.gke_cluster, self.cluster_autoscaler, self.hpa_configuration)

    @property
    def security_policy(self) -> SecurityPolicy:
        return SecurityPolicy(self.network_policies, self.istio_configuration, self.secret_management)
