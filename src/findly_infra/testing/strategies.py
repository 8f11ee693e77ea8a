"""Hypothesis strategies for the platform file's values, for our property tests and for yours.

Every strategy builds domain objects that are valid by construction; :func:`platforms` builds
whole platforms that pass every error-level check (warnings may remain), so that
``validate_platform_text(dump(platform))`` is ``ok`` and gives the same platform back.

Needs the ``testing`` extra (Hypothesis).
"""

from __future__ import annotations

import string
import zlib
from collections.abc import Sequence

import attrs
from hypothesis import strategies as st

from findly_infra.domain.environment import (
    ApproverGroup,
    DeploymentTrigger,
    Environment,
    HealthCheck,
    ResourceProfile,
    ResourceQuota,
    RollbackCapability,
    Service,
    StrategyKind,
    TriggerKind,
)
from findly_infra.domain.identity import GITHUB_ISSUER, VerifiedIdentity
from findly_infra.domain.infrastructure import (
    AutoscalerLimits,
    ClusterAutoscaler,
    CustomMetricTarget,
    ExternalMetricTarget,
    GKECluster,
    HorizontalAutoscaler,
    NodePool,
    ResourceMetricTarget,
    Taint,
    TaintEffect,
)
from findly_infra.domain.notation import (
    ByteSize,
    Comparison,
    CpuQuantity,
    Duration,
    ErrorBudgetStatement,
    LatencyObjective,
    MachineType,
    Percentage,
    RelativeThreshold,
    Threshold,
)
from findly_infra.domain.operations import (
    AlertGroup,
    AlertRule,
    Backend,
    GlobalLoadBalancer,
    IngressConfiguration,
    PerformanceTargets,
)
from findly_infra.domain.platform import Platform
from findly_infra.domain.releases import ReleasePart
from findly_infra.domain.slo import (
    AvailabilityObjective,
    ErrorRateObjective,
    SLATarget,
    SLODefinition,
    ThroughputObjective,
)
from findly_infra.domain.strategy import (
    AnalysisSettings,
    BlueGreenStrategy,
    CanaryStep,
    CanaryStrategy,
    FailureHandling,
    MetricCriterion,
    RollbackTrigger,
    ValidationStep,
)

__all__ = [
    "byte_sizes",
    "canary_strategies",
    "certificate_domains",
    "cpu_quantities",
    "cyclic_dependency_graphs",
    "dependency_graphs",
    "dns_labels",
    "durations",
    "environments_chain",
    "github_id",
    "github_logins",
    "latency_objectives",
    "machine_types",
    "percentages",
    "platforms",
    "relative_thresholds",
    "release_parts",
    "release_versions",
    "sla_targets",
    "thresholds",
    "verified_identities",
]

dns_labels = st.from_regex(r"\A[a-z]([a-z0-9-]{0,10}[a-z0-9])?\Z")
"""Lower-case names that are valid DNS labels (service, environment and group names)."""

certificate_domains = st.builds(
    lambda labels, top: ".".join([*labels, top]),
    st.lists(st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?\Z"), min_size=1, max_size=3),
    st.from_regex(r"\A[a-z]([a-z0-9-]{0,4}[a-z0-9])\Z"),
).filter(lambda domain: len(domain) <= 63)
"""Domains a Google-managed certificate takes (GKE's ManagedCertificate: dotted DNS labels, the last starting with a
letter, no wildcard, at most 63 characters)."""

github_logins = st.from_regex(r"\A[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}\Z")
"""GitHub logins: letters, digits and single hyphens, not at either end, at most 39 characters."""

_REPOSITORIES = st.just("findly-now/services")
_WORKFLOWS = st.just(".github/workflows/release.yml")
_REFS = st.sampled_from(["refs/heads/main", "refs/heads/feature", "refs/tags/v1.0.0"])


def github_id(name: str) -> str:
    """The id :func:`verified_identities` (and the OIDC stand-in) give the repository or owner *name* unless told
    otherwise: a number that stays the same for the same name, as GitHub's id stays the same for a repository."""
    return str(100_000 + zlib.crc32(name.casefold().encode()) % 900_000_000)


@st.composite
def verified_identities(
    draw: st.DrawFn,
    *,
    logins: st.SearchStrategy[str] = github_logins,
    repositories: st.SearchStrategy[str] = _REPOSITORIES,
    workflows: st.SearchStrategy[str] = _WORKFLOWS,
    refs: st.SearchStrategy[str] = _REFS,
    issuer: str = GITHUB_ISSUER,
    repository_ids: st.SearchStrategy[str] | None = None,
    workflow_refs: st.SearchStrategy[str] | None = None,
    job_workflows: st.SearchStrategy[str] | None = None,
) -> VerifiedIdentity:
    """Identities as a verified GitHub Actions OIDC token states them: a login and its account id, the run's
    repository (and its id), workflow, ref, run id and attempt, the job's workflow, a token id. Give *logins*
    (``st.sampled_from([...])``) to aim at your approver groups; ``attrs.evolve`` what a rule under test reads.

    By default, as GitHub writes a token of a job of the workflow itself: the workflow file read at the run's ref
    (``workflow_ref``), the job's workflow the run's (``job_workflow_ref``), the repository's id :func:`github_id` of
    its name. *repository_ids* draws other ids (a repository re-created under its name); *workflow_refs* the ref in
    ``workflow_ref``; *job_workflows* the job's workflow — ``owner/repo/.github/workflows/FILE@REF``, or
    ``.github/workflows/FILE`` of the run's repository at the run's ref (a reusable workflow called as ``./…``)."""
    repository, ref = draw(repositories), draw(refs)
    workflow_ref = f"{repository}/{draw(workflows)}@{draw(workflow_refs) if workflow_refs is not None else ref}"
    job = draw(job_workflows) if job_workflows is not None else workflow_ref
    if job.startswith(".github/"):
        job = f"{repository}/{job}"
    owner = repository.partition("/")[0]
    return VerifiedIdentity(
        login=draw(logins),
        user_id=str(draw(st.integers(1, 2**31))),
        repository=repository,
        ref=ref,
        workflow_ref=workflow_ref,
        run_id=str(draw(st.integers(1, 2**40))),
        environment=draw(st.sampled_from(["", "production", "staging"])),
        issuer=issuer,
        token_id=draw(st.uuids()).hex,
        run_attempt=str(draw(st.sampled_from([1, 1, 1, 2]))),
        job_workflow_ref=job if "@" in job else f"{job}@{ref}",
        repository_id=draw(repository_ids) if repository_ids is not None else github_id(repository),
        repository_owner_id=github_id(owner),
    )


_words = st.text(string.ascii_letters + string.digits + " .,-", min_size=0, max_size=30).map(str.strip)


def durations(*, min_ms: int = 0, max_ms: int = 400 * 86_400_000) -> st.SearchStrategy[Duration]:
    """Durations in whole milliseconds; biased towards whole seconds, minutes and hours as people write them."""
    exact = st.integers(min_ms, max_ms).map(Duration)
    round_numbers = st.sampled_from([1_000, 60_000, 3_600_000, 86_400_000]).flatmap(
        lambda unit: st.integers(max(1, -(-min_ms // unit)), max(1, max_ms // unit)).map(lambda n: Duration(n * unit))
    )
    return st.one_of(exact, round_numbers).filter(lambda d: min_ms <= d.milliseconds <= max_ms)


def percentages(*, max_percent: float = 100.0, exclusive: bool = False) -> st.SearchStrategy[Percentage]:
    """Percentages written with up to three decimals (``99.9%``, ``0.5%``)."""
    values = st.integers(0, int(max_percent * 1000)).map(lambda n: round(n / 1000, 3))
    if exclusive:
        values = values.filter(lambda v: 0 < v < max_percent)
    return values.map(Percentage)


def thresholds(kind: str | None = None) -> st.SearchStrategy[Threshold]:
    """``< 0.5%``, ``> 2s``, ``< 100``: of one kind (``percentage``, ``duration``, ``number``) or any."""
    limits: dict[str, st.SearchStrategy[Percentage | Duration | float]] = {
        "percentage": percentages(),
        "duration": durations(min_ms=1, max_ms=3_600_000),
        "number": st.integers(0, 10**6).map(float),
    }
    chosen = limits[kind] if kind else st.one_of(*limits.values())
    return st.builds(Threshold, st.sampled_from(Comparison), chosen)


def relative_thresholds() -> st.SearchStrategy[RelativeThreshold]:
    """``< 1.2x current``, ``<= 2x current``: a canary held to a multiple of the current version."""
    factors = st.integers(1, 10_000).map(lambda n: n / 100)
    return st.builds(RelativeThreshold, st.sampled_from([Comparison.LT, Comparison.LE]), factors)


def latency_objectives() -> st.SearchStrategy[LatencyObjective]:
    return st.builds(
        LatencyObjective,
        percentages(max_percent=100, exclusive=True),
        durations(min_ms=1, max_ms=60_000),
    )


def byte_sizes() -> st.SearchStrategy[ByteSize]:
    return st.integers(0, 2**53).map(ByteSize)


def cpu_quantities() -> st.SearchStrategy[CpuQuantity]:
    return st.integers(0, 256_000).map(CpuQuantity)


def machine_types() -> st.SearchStrategy[MachineType]:
    standard = st.builds(
        lambda series, shape, cpus: MachineType.parse(f"{series}-{shape}-{cpus}"),
        st.sampled_from(["e2", "n2", "n2d", "c3"]),
        st.sampled_from(["standard", "highmem", "highcpu"]),
        st.sampled_from([2, 4, 8, 16, 32]),
    )
    return st.one_of(standard, st.sampled_from(["e2-micro", "e2-small", "e2-medium"]).map(MachineType.parse))


def sla_targets() -> st.SearchStrategy[SLATarget]:
    return st.builds(SLATarget, percentages(exclusive=True), durations(min_ms=60_000, max_ms=90 * 86_400_000))


def _canary_steps(interval: Duration) -> st.SearchStrategy[tuple[CanaryStep, ...]]:
    def build(weights: list[int], minutes: list[int], stable: bool) -> tuple[CanaryStep, ...]:
        ordered = [*sorted(weights), 100]
        steps = []
        for index, weight in enumerate(ordered):
            last = index == len(ordered) - 1
            duration = None if last and stable else Duration(max(1, minutes[index]) * interval.milliseconds)
            steps.append(CanaryStep(f"stage-{index}", weight, duration))
        return tuple(steps)

    return st.builds(
        build,
        st.lists(st.integers(1, 99), min_size=1, max_size=5),
        st.lists(st.integers(1, 30), min_size=6, max_size=6),
        st.booleans(),
    )


def canary_strategies() -> st.SearchStrategy[CanaryStrategy]:
    """Canaries whose rollback threshold can be reached."""

    def build(
        analysis: AnalysisSettings,
        steps: tuple[CanaryStep, ...],
        criteria: dict[str, Threshold | RelativeThreshold],
        data: st.DataObject,
    ) -> CanaryStrategy:
        draft = CanaryStrategy(steps, (), FailureHandling(), analysis)
        threshold = data.draw(st.integers(1, max(1, draft.analysis_count)))
        channels = data.draw(st.lists(st.sampled_from(["slack", "pagerduty", "email"]), unique=True, max_size=3))
        return CanaryStrategy(
            steps,
            tuple(MetricCriterion(metric, limit) for metric, limit in criteria.items()),
            FailureHandling(data.draw(st.booleans()), threshold, tuple(channels)),
            analysis,
        )

    criteria = st.fixed_dictionaries(
        {},
        optional={
            "error_rate": thresholds("percentage"),
            "latency_p95": thresholds("duration"),
            "latency_p99": thresholds("duration") | relative_thresholds(),
            "cpu_utilization": thresholds("percentage"),
            "memory_utilization": thresholds("percentage"),
        },
    )
    analysis = st.builds(
        AnalysisSettings,
        st.sampled_from([Duration.of(seconds=30), Duration.of(seconds=60), Duration.of(minutes=5)]),
        st.integers(0, 1000),
        st.integers(1, 5),
    )
    return analysis.flatmap(lambda a: st.builds(build, st.just(a), _canary_steps(a.interval), criteria, st.data()))


def _blue_green() -> st.SearchStrategy[BlueGreenStrategy]:
    steps = st.lists(
        st.sampled_from(
            [
                ValidationStep("health_checks", "All pods healthy"),
                ValidationStep("smoke_tests", "Critical path validation"),
                ValidationStep("performance_tests", "Latency within SLA"),
                ValidationStep("business_validation", "Manual approval required"),
            ]
        ),
        unique_by=lambda step: step.name,
    )
    triggers = st.lists(
        st.one_of(
            st.builds(RollbackTrigger, st.just("error_rate"), thresholds("percentage")),
            st.builds(RollbackTrigger, st.just("latency_p99"), thresholds("duration")),
            st.builds(RollbackTrigger, st.just("health_check_failures"), thresholds("percentage")),
            st.just(RollbackTrigger("manual_trigger", None, "Emergency rollback")),
        ),
        unique_by=lambda trigger: trigger.name,
    )
    return st.builds(BlueGreenStrategy, validation_steps=steps.map(tuple), rollback_triggers=triggers.map(tuple))


def environments_chain(
    *, groups: tuple[str, ...], strategies: tuple[StrategyKind, ...]
) -> st.SearchStrategy[tuple[Environment, ...]]:
    """One to four environments in a valid promotion order, the later ones entered by promotion."""

    def build(names: list[str], data: st.DataObject) -> tuple[Environment, ...]:
        result = []
        for index, name in enumerate(names):
            if index == 0:
                trigger = DeploymentTrigger(TriggerKind.PUSH, data.draw(st.sampled_from([None, "develop"])))
            elif index == 1 and data.draw(st.booleans()):
                trigger = DeploymentTrigger(TriggerKind.MERGE)
            else:
                trigger = DeploymentTrigger(TriggerKind.PROMOTION, source=names[index - 1])
            approvers = tuple(data.draw(st.lists(st.sampled_from(groups), unique=True))) if groups else ()
            result.append(
                Environment(
                    name=name,
                    deployment_trigger=trigger,
                    purpose=data.draw(_words),
                    tests=tuple(data.draw(st.lists(st.sampled_from(["unit", "e2e", "load", "smoke"]), unique=True))),
                    approval_required=bool(approvers),
                    approvers=approvers,
                    auto_cleanup=data.draw(st.booleans()),
                    resource_limits=data.draw(st.sampled_from(["minimal", "standard", "production-equivalent"])),
                    deployment_strategy=data.draw(st.sampled_from((None, *strategies))),
                    rollback_capability=data.draw(st.sampled_from(RollbackCapability)),
                )
            )
        return tuple(result)

    return st.builds(build, st.lists(dns_labels, min_size=1, max_size=4, unique=True), st.data())


def _slo(name: str) -> st.SearchStrategy[SLODefinition]:
    def build(objective: object, window: Duration, state_budget: bool) -> SLODefinition:
        slo = SLODefinition(name, objective, window)  # type: ignore[arg-type]
        target = slo.sla_target
        if state_budget and target is not None:
            return SLODefinition(name, slo.target, window, ErrorBudgetStatement(target.error_budget))
        return slo

    objectives = st.one_of(
        percentages(exclusive=True).map(AvailabilityObjective),
        latency_objectives(),
        percentages(max_percent=50, exclusive=True).map(lambda p: ErrorRateObjective(Threshold(Comparison.LT, p))),
        st.integers(1, 10**5).map(lambda n: ThroughputObjective(float(n))),
    )
    return st.builds(build, objectives, durations(min_ms=60_000, max_ms=90 * 86_400_000), st.booleans())


_Pool = tuple[str, MachineType, int, int, list[str], bool]


def _cluster() -> st.SearchStrategy[tuple[GKECluster, ClusterAutoscaler]]:
    def build(region: str, pools: list[_Pool]) -> tuple[GKECluster, ClusterAutoscaler]:
        node_pools = tuple(
            NodePool(
                name,
                tuple(f"{region}-{zone}" for zone in zones),
                machine,
                low,
                max(1, low + extra),
                taints=(Taint("monitoring", TaintEffect.NO_SCHEDULE, "true"),) if tainted else (),
            )
            for name, machine, low, extra, zones, tainted in pools
        )
        cluster = GKECluster("findly-test", region, node_pools)
        limits = AutoscalerLimits(
            max(1, max((p.max_total_nodes for p in node_pools), default=1)),
            max(1, cluster.max_cores),
            max(1, int(cluster.max_memory_gb) + 1),
        )
        return cluster, ClusterAutoscaler(limits)

    pool = st.tuples(
        dns_labels,
        machine_types(),
        st.integers(0, 5),
        st.integers(0, 10),
        st.lists(st.sampled_from("abcf"), min_size=1, max_size=3, unique=True),
        st.booleans(),
    )
    return st.builds(
        build,
        st.sampled_from(["us-central1", "us-east1", "europe-west4"]),
        st.lists(pool, max_size=3, unique_by=lambda p: p[0]),
    )


def _approver_groups(data: st.DataObject) -> tuple[ApproverGroup, ...]:
    """Groups that each have a member of their own, so that one approval per group by distinct people is possible."""
    names = data.draw(st.lists(dns_labels, max_size=3, unique=True))
    people = data.draw(st.lists(dns_labels, min_size=len(names), max_size=8, unique=True))
    shared = people[len(names) :]
    return tuple(
        ApproverGroup(
            name, (people[index], *(data.draw(st.lists(st.sampled_from(shared), unique=True)) if shared else ()))
        )
        for index, name in enumerate(names)
    )


def _autoscaler(service: Service, data: st.DataObject) -> HorizontalAutoscaler:
    low = data.draw(st.integers(1, 5))
    extra = data.draw(
        st.lists(
            st.one_of(
                st.builds(CustomMetricTarget, st.just("http_requests_per_second"), st.integers(1, 10**4).map(float)),
                st.builds(ExternalMetricTarget, st.just("kafka_consumer_lag"), st.integers(1, 10**4).map(float)),
            ),
            max_size=1,
        )
    )
    cpu = ResourceMetricTarget("cpu", data.draw(st.integers(1, 100)))
    return HorizontalAutoscaler(service.name.replace("-", "_"), low, low + data.draw(st.integers(0, 20)), (cpu, *extra))


def _ingress(
    services: tuple[Service, ...], environments: tuple[Environment, ...], data: st.DataObject
) -> IngressConfiguration:
    """A global load balancer in front of the services, with Google-managed certificates for some environments: each
    its own domains (a domain resolves to one load balancer), some with a reserved address."""
    backends = tuple(Backend(s.name, f"/{s.name}/*", s.health_check.path) for s in services)
    with_domains = data.draw(st.lists(st.sampled_from([e.name for e in environments]), unique=True))
    wanted = len(with_domains) * 2
    pool = data.draw(st.lists(certificate_domains, min_size=wanted, max_size=max(wanted, 12), unique=True))
    domains = tuple((name, tuple(pool[2 * i : 2 * i + 2])) for i, name in enumerate(with_domains))
    static_ips = tuple((name, f"{name}-ip") for name in with_domains if data.draw(st.booleans()))
    return IngressConfiguration(GlobalLoadBalancer(backends, "Google-managed SSL", domains, static_ips))


def platforms() -> st.SearchStrategy[Platform]:
    """Whole platforms that pass every error-level check (warnings may remain)."""

    def build(data: st.DataObject) -> Platform:
        groups = _approver_groups(data)
        canary = data.draw(st.none() | canary_strategies())
        blue_green = data.draw(st.none() | _blue_green())
        kinds = tuple(
            kind
            for kind, present in ((StrategyKind.CANARY, canary), (StrategyKind.BLUE_GREEN, blue_green))
            if present is not None
        )
        environments = data.draw(environments_chain(groups=tuple(g.name for g in groups), strategies=kinds))
        if blue_green is not None and any(step.manual for step in blue_green.validation_steps):
            environments = tuple(  # a manual blue-green step needs someone to approve it
                env
                if env.deployment_strategy is not StrategyKind.BLUE_GREEN or env.approvers
                else attrs.evolve(env, deployment_strategy=None)
                for env in environments
            )
        probes = st.sampled_from(["/health", "/healthz", "/ready"]).map(HealthCheck)
        names = data.draw(st.lists(dns_labels, max_size=3, unique=True))
        services = tuple(
            Service(
                name,
                port=data.draw(st.integers(1, 65535)),
                health_check=data.draw(probes),
                depends_on=tuple(data.draw(st.lists(st.sampled_from(names[:index]), unique=True)) if index else ()),
            )
            for index, name in enumerate(names)
        )
        cluster = data.draw(st.none() | _cluster())
        fronted: bool = data.draw(st.booleans())
        ingress = _ingress(services, environments, data) if services and fronted else None
        service_down = AlertRule("ServiceDown", "up == 0", "critical", Duration.of(minutes=1), "pagerduty")
        large = ResourceQuota(CpuQuantity(500), CpuQuantity(2000), ByteSize(2**29), ByteSize(2**30))
        return Platform(
            environments=environments,
            canary_strategy=canary,
            blue_green_strategy=blue_green,
            slo_definitions=tuple(
                data.draw(_slo(name)) for name in data.draw(st.lists(dns_labels, max_size=3, unique=True))
            ),
            hpa_configuration=tuple(_autoscaler(s, data) for s in services if data.draw(st.booleans())),
            gke_cluster=cluster[0] if cluster else None,
            cluster_autoscaler=cluster[1] if cluster else None,
            ingress_configuration=ingress,
            alerting_rules=(AlertGroup("critical_alerts", (service_down,)),) if data.draw(st.booleans()) else (),
            services=services,
            approver_groups=None if not groups and data.draw(st.booleans()) else groups,
            resource_profiles=(ResourceProfile("large", large),) if data.draw(st.booleans()) else (),
            performance_targets=PerformanceTargets(),
        )

    return st.builds(build, st.data())


# ---- releases of several services (``domain.releases``) ---------------------------------------------------------

release_versions = st.from_regex(r"\A[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}\Z")
"""Versions a release's parts name (``1.4.2``)."""


def dependency_graphs(*, min_services: int = 1, max_services: int = 8) -> st.SearchStrategy[dict[str, tuple[str, ...]]]:
    """Dependencies without a cycle, as :attr:`Platform.dependencies` gives them: service -> the services it depends
    on, keyed in the file's order — which is not a dependency order: a service may depend on one written after it."""

    def build(names: list[str], data: st.DataObject) -> dict[str, tuple[str, ...]]:
        ranked = data.draw(st.permutations(names))  # a hidden order: each depends only on services before it there
        graph: dict[str, tuple[str, ...]] = {}
        for name in names:
            earlier = ranked[: ranked.index(name)]
            graph[name] = (
                tuple(data.draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3))) if earlier else ()
            )
        return graph

    return st.builds(build, st.lists(dns_labels, min_size=min_services, max_size=max_services, unique=True), st.data())


def cyclic_dependency_graphs(*, max_services: int = 8) -> st.SearchStrategy[dict[str, tuple[str, ...]]]:
    """Dependencies with at least one cycle (a service may depend on itself: a cycle of one)."""

    def build(graph: dict[str, tuple[str, ...]], data: st.DataObject) -> dict[str, tuple[str, ...]]:
        names = list(graph)
        cycle = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
        closed = {**graph}
        for index, name in enumerate(cycle):  # each on the cycle depends on the next, the last on the first
            after = cycle[(index + 1) % len(cycle)]
            if after not in closed[name]:
                closed[name] = (*closed[name], after)
        return closed

    return st.builds(build, dependency_graphs(max_services=max_services), st.data())


def release_parts(services: Sequence[str], *, min_parts: int = 1) -> st.SearchStrategy[tuple[ReleasePart, ...]]:
    """The parts of a release of some of *services* (each once, in any order), each with a version."""

    def build(chosen: list[str], data: st.DataObject) -> tuple[ReleasePart, ...]:
        return tuple(ReleasePart(name, data.draw(release_versions)) for name in chosen)

    return st.builds(build, st.lists(st.sampled_from(list(services)), min_size=min_parts, unique=True), st.data())
