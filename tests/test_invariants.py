"""Domain objects refuse to exist in a broken state, and say which field is at fault."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from findly_infra import load_platform
from findly_infra.domain import (
    AlertRule,
    AnalysisSettings,
    ApproverGroup,
    AuthorizationPolicy,
    AutoscalerLimits,
    Backend,
    BackupPolicy,
    BlueGreenStrategy,
    BlueGreenTrafficSplit,
    ByteSize,
    CanaryStep,
    CanaryStrategy,
    ClusterAutoscaler,
    CpuQuantity,
    CustomMetricTarget,
    DeploymentTrigger,
    DisasterRecovery,
    Duration,
    Environment,
    GKECluster,
    GlobalLoadBalancer,
    HealthCheck,
    HorizontalAutoscaler,
    InvariantError,
    IPBlock,
    IstioConfiguration,
    LabelSelector,
    MachineType,
    MetricCriterion,
    MultiRegion,
    MutualTLS,
    NetworkPeer,
    NetworkPolicy,
    NetworkPort,
    NodePool,
    Operation,
    Percentage,
    Platform,
    PrincipalSet,
    ResourceMetricTarget,
    ResourceQuota,
    RollbackTrigger,
    RollingStrategy,
    SecretType,
    Service,
    SLATarget,
    StrategyKind,
    Threshold,
    TrafficSplit,
    TriggerKind,
    UnknownNameError,
    ValidationStep,
)

from .conftest import EXAMPLE

PUSH = DeploymentTrigger(TriggerKind.PUSH)
E2 = MachineType.parse("e2-standard-4")
STEP = CanaryStep("a", 10, Duration.of(minutes=5))
FULL = CanaryStep("full", 100, None)


def quota(cpu: str = "1", limit: str = "2", memory: str = "1Gi", memory_limit: str = "2Gi") -> ResourceQuota:
    return ResourceQuota(
        CpuQuantity.parse(cpu), CpuQuantity.parse(limit), ByteSize.parse(memory), ByteSize.parse(memory_limit)
    )


BROKEN: list[tuple[str, Callable[[], object], str]] = [
    ("service name", lambda: Service("Fn_Posts"), "DNS label"),
    ("service port", lambda: Service("fn", port=0), "must be >= 1"),
    ("environment name", lambda: Environment("Prod", PUSH), "DNS label"),
    ("test listed twice", lambda: Environment("p", PUSH, tests=("unit", "unit")), "listed twice"),
    ("empty test", lambda: Environment("p", PUSH, tests=(" ",)), "cannot be empty"),
    ("approval without groups", lambda: Environment("p", PUSH, approval_required=True), "no approver group"),
    ("groups without approval", lambda: Environment("p", PUSH, approvers=("ops",)), "approval_required is false"),
    ("approvals that never expire", lambda: Environment("p", PUSH, approval_expires_after=Duration(0)), "expire"),
    ("member twice", lambda: ApproverGroup("ops", ("a", "a")), "listed twice"),
    ("empty member", lambda: ApproverGroup("ops", ("",)), "cannot be empty"),
    ("cpu request above limit", lambda: quota("2", "1"), "cpu_request"),
    ("memory request above limit", lambda: quota(memory="4Gi"), "memory_request"),
    ("probe path", lambda: HealthCheck("health"), "starts with '/'"),
    ("probe period", lambda: HealthCheck(period=Duration(10)), "at least 1s"),
    ("probe timeout", lambda: HealthCheck(timeout=Duration(10)), "at least 1s"),
    ("criterion metric", lambda: MetricCriterion("errors", Threshold.parse("< 1%")), "unknown metric"),
    ("criterion kind", lambda: MetricCriterion("latency_p99", Threshold.parse("< 1%")), "is a duration"),
    ("analysis interval", lambda: AnalysisSettings(Duration(10)), "at least 1s"),
    ("canary weight", lambda: CanaryStep("a", 0, None), "above 0"),
    ("canary duration", lambda: CanaryStep("a", 5, Duration(0)), "positive"),
    ("no stages", lambda: CanaryStrategy(()), "at least one stage"),
    ("only full traffic", lambda: CanaryStrategy((FULL,)), "starts below 100%"),
    ("stable too early", lambda: CanaryStrategy((CanaryStep("a", 5, None), FULL)), "only the last stage"),
    ("never full", lambda: CanaryStrategy((STEP,)), "must end at 100%"),
    ("weights go down", lambda: CanaryStrategy((STEP, CanaryStep("b", 5, STEP.duration), FULL)), "never go down"),
    (
        "criterion twice",
        lambda: CanaryStrategy((STEP, FULL), (MetricCriterion("error_rate", Threshold.parse("< 1%")),) * 2),
        "two criteria",
    ),
    ("split sum", lambda: TrafficSplit(Percentage(50), Percentage(40)), "add up to 100%"),
    (
        "cutover keeps blue",
        lambda: BlueGreenTrafficSplit(cutover=TrafficSplit(Percentage(50), Percentage(50))),
        "cutover",
    ),
    ("trigger metric", lambda: RollbackTrigger("errors", Threshold.parse("> 1%")), "unknown metric"),
    ("trigger kind", lambda: RollbackTrigger("error_rate", Threshold.parse("> 2s")), "is a percentage"),
    ("trigger without threshold", lambda: RollbackTrigger("error_rate"), "needs a threshold"),
    ("step twice", lambda: BlueGreenStrategy(validation_steps=(ValidationStep("a"), ValidationStep("a"))), "twice"),
    ("rolling stuck", lambda: RollingStrategy(max_surge=Percentage(0)), "never progress"),
    ("rolling surge", lambda: RollingStrategy(max_surge=Percentage(150)), "at most 100%"),
    ("rolling deadline", lambda: RollingStrategy(progress_deadline=Duration(0)), "positive"),
    ("objective", lambda: SLATarget(Percentage(100), Duration.of(days=1)), "strictly between"),
    ("window", lambda: SLATarget(Percentage(99), Duration(0)), "positive"),
    ("resource metric", lambda: ResourceMetricTarget("disk", 50), "'cpu' or 'memory'"),
    ("utilisation", lambda: ResourceMetricTarget("cpu", 0), "(0, 100]"),
    ("metric name", lambda: CustomMetricTarget("requests per second", 5), "not a metric name"),
    ("metric target", lambda: CustomMetricTarget("rps", 0), "above zero"),
    ("min replicas", lambda: HorizontalAutoscaler("a", 0, 3, (ResourceMetricTarget("cpu", 50),)), "at least 1"),
    ("no metric", lambda: HorizontalAutoscaler("a", 1, 3, ()), "at least one metric"),
    (
        "metric twice",
        lambda: HorizontalAutoscaler("a", 1, 3, (ResourceMetricTarget("cpu", 50), ResourceMetricTarget("cpu", 60))),
        "twice",
    ),
    (
        "autoscaler timing",
        lambda: ClusterAutoscaler(AutoscalerLimits(1, 1, 1), scale_down_unneeded_time=Duration(0)),
        "positive",
    ),
    ("no zones", lambda: NodePool("p", (), E2, 1, 2), "at least one zone"),
    ("bad zone", lambda: NodePool("p", ("moon-1",), E2, 1, 2), "not a zone"),
    ("zone twice", lambda: NodePool("p", ("us-east1-b", "us-east1-b"), E2, 1, 2), "twice"),
    ("negative min", lambda: NodePool("p", ("us-east1-b",), E2, -1, 2), "0 or more"),
    ("zero max", lambda: NodePool("p", ("us-east1-b",), E2, 0, 0), "at least 1"),
    ("disk type", lambda: NodePool("p", ("us-east1-b",), E2, 1, 2, disk_type="floppy"), "unknown disk type"),
    ("disk size", lambda: NodePool("p", ("us-east1-b",), E2, 1, 2, disk_size=ByteSize.parse("5GB")), "at least 10GB"),
    (
        "pool twice",
        lambda: GKECluster("c", "us-east1", (NodePool("p", ("us-east1-b",), E2, 1, 2),) * 2),
        "twice",
    ),
    ("cidr", lambda: IPBlock("10.0.0.0/33"), "CIDR"),
    ("empty peer", NetworkPeer, "names a namespace_selector"),
    ("ip block and selector", lambda: NetworkPeer(LabelSelector(), None, IPBlock("10.0.0.0/8")), "no selector"),
    ("protocol", lambda: NetworkPort(80, "HTTP"), "TCP, UDP or SCTP"),
    ("port range", lambda: NetworkPort(0), "between 1 and 65535"),
    ("port name", lambda: NetworkPort("Web Port"), "port name"),
    ("policy type", lambda: NetworkPolicy("p", policy_types=("Sideways",)), "'Ingress' or 'Egress'"),
    ("mtls mode", lambda: MutualTLS("MAYBE"), "STRICT"),
    ("tls version", lambda: MutualTLS(min_tls_version="SSLV3"), "TLSV1_2"),
    ("principal", lambda: PrincipalSet(("fn-posts",)), "not a principal"),
    ("method", lambda: Operation(methods=("YEET",)), "unknown HTTP method"),
    ("path", lambda: Operation(paths=("api",)), "starts with '/'"),
    ("action", lambda: AuthorizationPolicy("a", destination=PrincipalSet(("*",)), action="MAYBE"), "ALLOW"),
    ("no destination", lambda: AuthorizationPolicy("a"), "destination.principals"),
    (
        "policy twice",
        lambda: IstioConfiguration(
            authorization_policies=(AuthorizationPolicy("a", destination=PrincipalSet(("*",))),) * 2
        ),
        "twice",
    ),
    ("rotation", lambda: SecretType("db", Duration(0)), "positive"),
    ("alert name", lambda: AlertRule("High Latency", "up == 0", "warning"), "not an alert name"),
    ("alert expression", lambda: AlertRule("A", "  ", "warning"), "empty"),
    ("alert brackets", lambda: AlertRule("A", "sum(rate(x[5m])", "warning"), "unclosed"),
    ("alert mismatch", lambda: AlertRule("A", "sum(x]", "warning"), "unmatched"),
    ("alert quote", lambda: AlertRule("A", "x{a='b}", "warning"), "unclosed '"),
    ("backend path", lambda: Backend("fn", "api"), "starts with '/'"),
    ("path twice", lambda: GlobalLoadBalancer((Backend("a", "/x"), Backend("b", "/x"))), "routed twice"),
    ("same regions", lambda: MultiRegion("us-east1", "us-east1"), "must differ"),
    ("rto", lambda: DisasterRecovery(Duration(0), Duration(1000)), "positive"),
]


@pytest.mark.parametrize(("name", "build", "message"), BROKEN, ids=[case[0] for case in BROKEN])
def test_broken_objects_are_refused_with_a_sentence(name: str, build: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        build()
    if isinstance(raised.value, InvariantError):
        assert raised.value.message == str(raised.value)


def test_backup_policies_read_their_prose() -> None:
    databases = BackupPolicy("db", "Continuous replication + hourly snapshots", "30 days point-in-time recovery")
    assert databases.continuous
    assert databases.worst_case_loss == Duration(0)
    assert databases.interval == Duration.of(hours=1)
    assert databases.retention_period == Duration.of(days=30)
    infrastructure = BackupPolicy("infra", "GitOps repository backup", "Indefinite")
    assert infrastructure.retention_period is None
    assert infrastructure.worst_case_loss is None


def test_platform_lookups_name_what_they_know() -> None:
    platform = load_platform(EXAMPLE)
    with pytest.raises(UnknownNameError, match="known: development, staging, production"):
        platform.environment("prod")
    with pytest.raises(UnknownNameError, match="unknown service 'fn-nope'"):
        platform.service("fn-nope")
    with pytest.raises(UnknownNameError, match="unknown approver group"):
        platform.approver_group("ops")
    with pytest.raises(UnknownNameError, match="unknown resource profile 'huge'"):
        platform.resource_profile("huge")
    assert platform.previous_environment("development") is None
    staging = platform.previous_environment("production")
    assert staging is not None
    assert staging.name == "staging"
    assert platform.approver_group("devops-team").members == ("alice", "bob")
    assert platform.service("fn-matcher").health_check.path == "/health"
    assert platform.infrastructure.cluster == platform.gke_cluster
    assert platform.security_policy.istio == platform.istio_configuration
    bare = Platform((Environment("dev", PUSH),))
    assert isinstance(bare.strategy_for("dev"), RollingStrategy)
    with pytest.raises(UnknownNameError, match="no canary_strategy"):
        bare.strategy_for("dev", StrategyKind.CANARY)
    with pytest.raises(UnknownNameError, match="no blue_green_strategy"):
        bare.strategy_for("dev", StrategyKind.BLUE_GREEN)
