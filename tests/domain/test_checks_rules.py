"""The rules of ``domain.checks``, pinned: each rule on small platforms built in the domain's terms, with the exact
findings it makes (place, sentence, severity, rule name) — ``docs/platform-file.md`` explains each rule by name, and
``validate`` prints these sentences."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain import checks
from findly_infra.domain.environment import (
    ApproverGroup,
    DeploymentTrigger,
    Environment,
    ResourceProfile,
    StrategyKind,
    TriggerKind,
)
from findly_infra.domain.identity import IdentityPolicy
from findly_infra.domain.infrastructure import (
    AutoscalerLimits,
    ClusterAutoscaler,
    CustomMetricTarget,
    GKECluster,
    HorizontalAutoscaler,
    NodePool,
)
from findly_infra.domain.notation import (
    Duration,
    ErrorBudgetStatement,
    LatencyObjective,
    MachineType,
    Percentage,
    Threshold,
)
from findly_infra.domain.operations import (
    AlertGroup,
    AlertRule,
    Backend,
    BackupPolicy,
    ClusterBinding,
    DisasterRecovery,
    GlobalLoadBalancer,
    IngressConfiguration,
    KubernetesSettings,
    MultiRegion,
    PerformanceTargets,
)
from findly_infra.domain.platform import BUILTIN_RESOURCE_PROFILES, Platform, Severity
from findly_infra.domain.security import (
    AuthorizationPolicy,
    IstioConfiguration,
    ManagedSecret,
    MutualTLS,
    PrincipalSet,
    SecretManagement,
    SecretType,
)
from findly_infra.domain.slo import AvailabilityObjective, ErrorRateObjective, SLODefinition, ThroughputObjective
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

ERROR, WARNING = Severity.ERROR, Severity.WARNING
PUSH = DeploymentTrigger(TriggerKind.PUSH)
PROMOTION = DeploymentTrigger(TriggerKind.PROMOTION)


def env(name: str, trigger: DeploymentTrigger = PROMOTION, **fields: object) -> Environment:
    return Environment(name, trigger, **fields)  # type: ignore[arg-type]


CHAIN = (env("dev", PUSH), env("staging", DeploymentTrigger(TriggerKind.PROMOTION, source="dev")))


def platform(*environments: Environment, **sections: object) -> Platform:
    return Platform(environments or CHAIN, **sections)  # type: ignore[arg-type]


def found(rule: checks.Rule, subject: Platform) -> list[tuple[str, str, Severity, str]]:
    return [(f.location, f.message, f.severity, f.rule) for f in rule(subject)]


# ---- did you mean ------------------------------------------------------------------------------------------------


def test_did_you_mean_names_the_closest_known_name() -> None:
    assert checks.did_you_mean("security-tem", ["security-team", "devops"]) == " (did you mean 'security-team'?)"
    assert checks.did_you_mean("zzz", ["security-team"]) == ""
    assert checks.did_you_mean("stagin", ("production", "staging")) == " (did you mean 'staging'?)"
    # the cutoff is 0.6: 'abcd' against 'abxy' is 0.5
    assert checks.did_you_mean("abcd", ["abxy"]) == ""
    assert checks.did_you_mean("abcd", ["abcx"]) == " (did you mean 'abcx'?)"


# ---- environments ------------------------------------------------------------------------------------------------


def test_promotion_order() -> None:
    assert found(checks.promotion_order, platform()) == []
    first = platform(env("dev"), env("staging", promotes_from="dev"))
    assert found(checks.promotion_order, first) == [
        (
            "environments.dev.deployment_trigger",
            "dev is the first environment, so nothing can be promoted into it",
            ERROR,
            "promotion-order",
        )
    ]
    # a later environment with no predecessor named is not this rule's business
    assert found(checks.promotion_order, platform(env("dev", PUSH), env("staging"))) == []
    unknown = platform(env("dev", PUSH), env("staging", promotes_from="stagin"))
    assert found(checks.promotion_order, unknown) == [
        (
            "environments.staging.promotes_from",
            "unknown environment 'stagin' (did you mean 'staging'?); known: dev, staging",
            ERROR,
            "promotion-order",
        )
    ]
    loop = platform(env("dev", PUSH), env("staging", promotes_from="staging"))
    assert found(checks.promotion_order, loop) == [
        (
            "environments.staging.promotes_from",
            "staging is promoted from staging, which comes at or after it: the promotion order dev -> staging "
            "would loop",
            ERROR,
            "promotion-order",
        )
    ]
    later = platform(env("dev", DeploymentTrigger(TriggerKind.PROMOTION, source="staging")), env("staging", PUSH))
    assert found(checks.promotion_order, later)[0][1].startswith("dev is promoted from staging, which comes at or")
    skip = platform(
        env("dev", PUSH),
        env("qa", promotes_from="dev"),
        env("uat", promotes_from="dev"),
        env("prod", promotes_from="dev"),
    )
    assert found(checks.promotion_order, skip) == [
        (
            "environments.uat.promotes_from",
            "uat is promoted from dev, skipping qa: a version must pass every environment in order",
            ERROR,
            "promotion-order",
        ),
        (
            "environments.prod.promotes_from",
            "prod is promoted from dev, skipping qa, uat: a version must pass every environment in order",
            ERROR,
            "promotion-order",
        ),
    ]


def test_cluster_bindings() -> None:
    bound = platform(kubernetes=KubernetesSettings(clusters=(ClusterBinding("dev"), ClusterBinding("stagng"))))
    assert found(checks.cluster_bindings, bound) == [
        (
            "kubernetes.clusters.stagng",
            "unknown environment 'stagng' (did you mean 'staging'?); known: dev, staging",
            ERROR,
            "cluster-binding",
        )
    ]


def gated(name: str = "prod", groups: tuple[str, ...] = ("ops",), **fields: object) -> Environment:
    return env(name, PUSH, approval_required=True, approvers=groups, **fields)


def test_approver_groups() -> None:
    assert found(checks.approver_groups, platform(gated())) == [
        (
            "environments.prod.approvers",
            "no approver_groups section says who belongs to ops: until it does, nothing can be approved into prod",
            WARNING,
            "approver-groups",
        )
    ]
    chain = platform(env("dev", PUSH), gated("staging", ("ops", "sec")), gated("prod"))
    assert found(checks.approver_groups, chain) == [
        (
            "environments.staging.approvers",
            "no approver_groups section says who belongs to ops, sec: until it does, nothing can be approved into "
            "staging",
            WARNING,
            "approver-groups",
        ),
        (
            "environments.prod.approvers",
            "no approver_groups section says who belongs to ops: until it does, nothing can be approved into prod",
            WARNING,
            "approver-groups",
        ),
    ]
    groups = (ApproverGroup("ops", ("alice", "bob")), ApproverGroup("sec", ()), ApproverGroup("idle", ()))
    subject = platform(gated(groups=("opz", "sec", "ops")), approver_groups=groups)
    assert found(checks.approver_groups, subject) == [
        (
            "environments.prod.approvers[0]",
            "unknown approver group 'opz' (did you mean 'ops'?)",
            ERROR,
            "approver-groups",
        ),
        (
            "environments.prod.approvers[1]",
            "approver group 'sec' has no members, so no one can approve prod",
            ERROR,
            "approver-groups",
        ),
        ("approver_groups.idle", "approver group 'idle' has no members", WARNING, "approver-groups"),
    ]
    few = (ApproverGroup("ops", ("alice",)), ApproverGroup("sec", ("ALICE",)), ApproverGroup("qa", ("bob",)))
    assert found(checks.approver_groups, platform(gated(groups=("ops", "sec")), approver_groups=few)) == [
        (
            "environments.prod.approvers",
            "prod needs one approval from each of 2 groups by distinct people, but only 1 people belong to them",
            ERROR,
            "approver-groups",
        )
    ]
    assert found(checks.approver_groups, platform(gated(groups=("ops", "qa")), approver_groups=few)) == []
    assert found(checks.approver_groups, platform(gated(groups=("ops",)), approver_groups=few)) == []


def test_approver_ids_for_verified_identities() -> None:
    verified = IdentityPolicy(verified=True)
    groups = (
        ApproverGroup("ops", ("alice", "bob", "carol"), ids=(("bob", "1002"),)),
        ApproverGroup("sec", ("dave", "erin"), ids=(("erin", "1005"),)),
        ApproverGroup("pinned", ("frank",), ids=(("frank", "1006"),)),
    )
    subject = platform(gated(groups=("ops", "sec", "pinned"), identity=verified), approver_groups=groups)
    assert found(checks.approver_groups, subject) == [
        (
            "approver_groups.ops",
            "prod takes verified identities, but alice, carol in 'ops' are given by login only: a login can be renamed "
            "and taken by another account; write {login: NAME, id: ACCOUNT_ID} (gh api users/NAME --jq .id)",
            WARNING,
            "approver-ids",
        ),
        (
            "approver_groups.sec",
            "prod takes verified identities, but dave in 'sec' is given by login only: a login can be renamed "
            "and taken by another account; write {login: NAME, id: ACCOUNT_ID} (gh api users/NAME --jq .id)",
            WARNING,
            "approver-ids",
        ),
    ]
    assert found(checks.approver_groups, platform(gated(groups=("ops",)), approver_groups=groups)) == []


FULL_SCOPE = IdentityPolicy(
    verified=True,
    repositories=("findly-now/services",),
    repository_ids=("123",),
    workflows=(".github/workflows/release.yml",),
)


def test_identity_scope_warns_of_each_missing_bound() -> None:
    """``checks.py:152`` (issue 23): an environment that verifies identities is told, by the rule identity-scope,
    what a token it accepts does not yet bind: any repository, any workflow, repositories by name only, or fewer ids
    than repositories."""
    assert found(checks.identity_scope, platform(gated(identity=FULL_SCOPE))) == []
    assert found(checks.identity_scope, platform(gated(identity=IdentityPolicy()))) == []
    unverified_first = platform(env("dev", PUSH), gated(identity=IdentityPolicy(verified=True)))
    assert [f[3] for f in found(checks.identity_scope, unverified_first)] == ["identity-scope", "identity-scope"]
    assert found(checks.identity_scope, platform(gated(identity=IdentityPolicy(verified=True)))) == [
        (
            "environments.prod.identity",
            "prod verifies identities from any repository: a workflow anyone runs in a repository of their own "
            "proves them too; list repositories",
            WARNING,
            "identity-scope",
        ),
        (
            "environments.prod.identity",
            "prod verifies identities from any workflow of its repositories, and whoever may push a branch may add "
            "one; list workflows (and refs)",
            WARNING,
            "identity-scope",
        ),
    ]
    by_name = attrs.evolve(FULL_SCOPE, repository_ids=())
    assert found(checks.identity_scope, platform(gated(identity=by_name))) == [
        (
            "environments.prod.identity",
            "prod knows its repositories by name only: one deleted and re-created under that name (by whoever takes "
            "the name) passes; pin them with repository_ids (gh api repos/OWNER/REPO --jq .id)",
            WARNING,
            "identity-scope",
        )
    ]
    short = attrs.evolve(FULL_SCOPE, repositories=("findly-now/services", "findly-now/web"))
    assert found(checks.identity_scope, platform(gated(identity=short))) == [
        (
            "environments.prod.identity",
            "prod lists 2 repositories but 1 repository_ids: a token of a repository whose id is not listed is refused",
            WARNING,
            "identity-scope",
        )
    ]
    both = attrs.evolve(short, repository_ids=("123", "456"))
    assert found(checks.identity_scope, platform(gated(identity=both))) == []


@given(
    repositories=st.integers(0, 3),
    ids=st.integers(0, 3),
    workflows=st.booleans(),
    verified=st.booleans(),
)
def test_identity_scope_speaks_exactly_of_the_bounds_missing(
    *, repositories: int, ids: int, workflows: bool, verified: bool
) -> None:
    policy = IdentityPolicy()
    if verified:
        policy = IdentityPolicy(
            verified=True,
            repositories=tuple(f"findly-now/repo{n}" for n in range(repositories)),
            repository_ids=tuple(str(100 + n) for n in range(min(ids, repositories))),
            workflows=("findly-now/repo0/.github/workflows/release.yml",) if workflows else (),
        )
        ids = min(ids, repositories)
    messages = [f.message for f in checks.identity_scope(platform(gated(identity=policy)))]
    expected = []
    if verified:
        if not repositories:
            expected.append("any repository")
        if not workflows:
            expected.append("any workflow")
        if repositories and not ids:
            expected.append("by name only")
        elif ids and ids < repositories:
            expected.append("repository_ids: a token")
    assert len(messages) == len(expected)
    assert all(words in message for words, message in zip(expected, messages, strict=True))


def test_resource_profiles() -> None:
    assert found(checks.resource_profiles, platform(env("dev", PUSH, resource_limits="minimal"))) == []
    mine = ResourceProfile("tiny", BUILTIN_RESOURCE_PROFILES["minimal"].container)
    subject = platform(env("dev", PUSH, resource_limits="minimall"), resource_profiles=(mine,))
    assert found(checks.resource_profiles, subject) == [
        (
            "environments.dev.resource_limits",
            "unknown resource profile 'minimall' (did you mean 'minimal'?); known: minimal, standard, "
            "production-equivalent, tiny",
            ERROR,
            "resource-profiles",
        )
    ]


def test_strategies_defined() -> None:
    canary = env("dev", PUSH, deployment_strategy=StrategyKind.CANARY)
    blue = env("dev", PUSH, deployment_strategy=StrategyKind.BLUE_GREEN)
    rolling = env("dev", PUSH, deployment_strategy=StrategyKind.ROLLING)
    assert found(checks.strategies_defined, platform(env("dev", PUSH))) == []
    assert found(checks.strategies_defined, platform(rolling)) == []
    assert found(checks.strategies_defined, platform(canary)) == [
        (
            "environments.dev.deployment_strategy",
            "dev rolls out by canary but the file has no canary_strategy section",
            ERROR,
            "strategy-defined",
        )
    ]
    assert found(checks.strategies_defined, platform(blue)) == [
        (
            "environments.dev.deployment_strategy",
            "dev rolls out by blue-green but the file has no blue_green_strategy section",
            ERROR,
            "strategy-defined",
        )
    ]
    assert found(checks.strategies_defined, platform(blue, blue_green_strategy=BlueGreenStrategy())) == []


# ---- strategies --------------------------------------------------------------------------------------------------


def canary(*steps: tuple[str, int, int | None], threshold: int = 1, criteria: bool = True) -> CanaryStrategy:
    return CanaryStrategy(
        tuple(
            CanaryStep(stage, weight, None if minutes is None else Duration.of(minutes=minutes))
            for stage, weight, minutes in steps
        ),
        (MetricCriterion("error_rate", Threshold.parse("< 1%")),) if criteria else (),
        FailureHandling(rollback_threshold=threshold),
        AnalysisSettings(interval=Duration.of(minutes=1)),
    )


def test_canary_analysis() -> None:
    fine = canary(("small", 5, 2), ("full", 100, None))
    assert found(checks.canary_analysis, platform()) == []
    assert found(checks.canary_analysis, platform(canary_strategy=fine)) == []
    never = canary(("small", 5, 2), ("more", 50, 1), ("full", 100, None), threshold=4)
    assert found(checks.canary_analysis, platform(canary_strategy=never)) == [
        (
            "canary_strategy.failure_handling.rollback_threshold",
            "a rollback after 4 failed analyses can never happen: the canary's timed stages hold only 3 analyses at "
            "one every 1m",
            ERROR,
            "rollback-threshold",
        )
    ]
    assert found(
        checks.canary_analysis,
        platform(canary_strategy=attrs.evolve(never, failure_handling=FailureHandling(rollback_threshold=3))),
    ) == [
        (
            "canary_strategy.failure_handling.rollback_threshold",
            "a canary failing from the start is only rolled back after 3 analyses, past its first stage 'small' "
            "(2 analyses): it reaches more traffic before it is stopped",
            WARNING,
            "rollback-threshold",
        )
    ]
    assert (
        found(
            checks.canary_analysis,
            platform(canary_strategy=attrs.evolve(never, failure_handling=FailureHandling(rollback_threshold=2))),
        )
        == []
    )
    bare = canary(("small", 5, 2), ("full", 100, None), criteria=False)
    assert found(checks.canary_analysis, platform(canary_strategy=bare)) == [
        (
            "canary_strategy.success_criteria",
            "no success criteria: every analysis would be inconclusive and the canary would pause",
            WARNING,
            "canary-criteria",
        )
    ]
    short = attrs.evolve(
        canary(("small", 5, 2), ("full", 100, None)), analysis=AnalysisSettings(interval=Duration.of(minutes=3))
    )
    assert found(checks.canary_analysis, platform(canary_strategy=short)) == [
        (
            "canary_strategy.failure_handling.rollback_threshold",
            "a rollback after 1 failed analyses can never happen: the canary's timed stages hold only 0 analyses at "
            "one every 3m",
            ERROR,
            "rollback-threshold",
        ),
        (
            "canary_strategy.traffic_progression[0].duration",
            "stage 'small' lasts 2m, less than one analysis interval (3m): it is never analysed",
            WARNING,
            "canary-analysis",
        ),
    ]
    exact = attrs.evolve(fine, analysis=AnalysisSettings(interval=Duration.of(minutes=2)))
    assert found(checks.canary_analysis, platform(canary_strategy=exact)) == []
    slow = canary(("small", 5, 10), ("half", 50, 1), ("full", 100, 30))
    assert found(checks.canary_analysis, platform(canary_strategy=slow)) == [
        (
            "canary_strategy.traffic_progression",
            "the canary takes 11 minutes to reach full traffic, more than the 10 minutes target for a full "
            "production deployment (performance_targets.deployment_speed)",
            WARNING,
            "deployment-speed",
        )
    ]
    on_time = platform(
        canary_strategy=slow, performance_targets=PerformanceTargets(deployment_speed=Duration.of(minutes=11))
    )
    assert found(checks.canary_analysis, on_time) == []


def test_blue_green() -> None:
    watched = BlueGreenStrategy(rollback_triggers=(RollbackTrigger("error_rate", Threshold.parse("> 1%")),))
    assert found(checks.blue_green, platform()) == []
    assert found(checks.blue_green, platform(blue_green_strategy=watched)) == []
    unwatched = BlueGreenStrategy(rollback_triggers=(RollbackTrigger("manual_trigger"),))
    assert found(checks.blue_green, platform(blue_green_strategy=unwatched)) == [
        (
            "blue_green_strategy.rollback_triggers",
            "no metric rollback triggers: nothing returns traffic to the previous colour by itself",
            WARNING,
            "blue-green-triggers",
        )
    ]
    manual = attrs.evolve(
        watched,
        validation_steps=(
            ValidationStep("smoke_tests", "automated"),
            ValidationStep("business_validation", "Manual sign-off"),
            ValidationStep("other", "manual too"),
        ),
    )
    blue = env("prod", PUSH, deployment_strategy=StrategyKind.BLUE_GREEN)
    approved = gated("prod", deployment_strategy=StrategyKind.BLUE_GREEN)
    assert found(checks.blue_green, platform(blue, blue_green_strategy=manual)) == [
        (
            "environments.prod.approvers",
            "the blue-green step business_validation needs a manual approval, but prod lists no approver groups",
            ERROR,
            "blue-green-approval",
        )
    ]
    assert found(checks.blue_green, platform(approved, blue_green_strategy=manual)) == []
    assert found(checks.blue_green, platform(env("prod", PUSH), blue_green_strategy=manual)) == []
    assert found(checks.blue_green, platform(blue, blue_green_strategy=watched)) == []


# ---- service levels ----------------------------------------------------------------------------------------------

MONTH = Duration.of(days=30)


def test_slo_consistency() -> None:
    good = SLODefinition(
        "availability", AvailabilityObjective(Percentage(99.9)), MONTH, ErrorBudgetStatement.parse("43.2 minutes")
    )
    assert found(checks.slo_consistency, platform(slo_definitions=(good,))) == []
    wrong = attrs.evolve(good, error_budget=ErrorBudgetStatement.parse("60 minutes"))
    assert found(checks.slo_consistency, platform(slo_definitions=(wrong,))) == [
        ("slo_definitions.availability.error_budget", wrong.stated_budget_disagreement(), ERROR, "slo-error-budget")
    ]
    latency = SLODefinition(
        "latency",
        LatencyObjective.parse("95% of requests < 200ms"),
        MONTH,
        alerting_threshold=LatencyObjective.parse("96% of requests < 200ms"),
    )
    assert found(checks.slo_consistency, platform(slo_definitions=(latency,))) == [
        (
            "slo_definitions.latency.alerting_threshold",
            "alerting at 96% of requests < 200ms would alert while the objective 95% of requests < 200ms still holds",
            WARNING,
            "slo-alerting-threshold",
        )
    ]
    for fine in ("95% of requests < 200ms", "90% of requests < 200ms"):
        ok = attrs.evolve(latency, alerting_threshold=LatencyObjective.parse(fine))
        assert found(checks.slo_consistency, platform(slo_definitions=(ok,))) == []
    errors = SLODefinition(
        "errors", ErrorRateObjective(Threshold.parse("< 1%")), MONTH, alerting_threshold=Threshold.parse("> 0.5%")
    )
    assert found(checks.slo_consistency, platform(slo_definitions=(errors,))) == [
        (
            "slo_definitions.errors.alerting_threshold",
            "an error-rate alert is written like '> 0.5%' and at or above the objective (< 1%); got '> 0.5%'",
            WARNING,
            "slo-alerting-threshold",
        )
    ]
    unalerted = attrs.evolve(good, name="quiet")
    assert [f[0] for f in found(checks.slo_consistency, platform(slo_definitions=(unalerted, errors)))] == [
        "slo_definitions.errors.alerting_threshold"
    ]
    upper = attrs.evolve(errors, alerting_threshold=Threshold.parse("< 2%"))
    assert found(checks.slo_consistency, platform(slo_definitions=(upper,)))[0][3] == "slo-alerting-threshold"
    for fine in ("> 1%", ">= 2%"):
        ok = attrs.evolve(errors, alerting_threshold=Threshold.parse(fine))
        assert found(checks.slo_consistency, platform(slo_definitions=(ok,))) == []
    # an alert of another form than its target's is not compared
    mixed = attrs.evolve(errors, alerting_threshold=LatencyObjective.parse("96% of requests < 200ms"))
    capacity = SLODefinition("capacity", ThroughputObjective(100), MONTH, alerting_threshold=Threshold.parse("> 80%"))
    assert found(checks.slo_consistency, platform(slo_definitions=(mixed, capacity))) == []


def hpa(service: str) -> HorizontalAutoscaler:
    return HorizontalAutoscaler(service, 1, 3, (CustomMetricTarget("rps", 10),))


def test_autoscaling_names_each_service_once() -> None:
    assert found(checks.autoscaling, platform(hpa_configuration=(hpa("fn_posts"), hpa("fn-users")))) == []
    twice = platform(hpa_configuration=(hpa("fn_posts"), hpa("fn-posts"), hpa("FN_POSTS")))
    assert found(checks.autoscaling, twice) == [
        (
            "hpa_configuration.fn-posts",
            "'fn-posts' and 'fn_posts' both name the service fn-posts",
            ERROR,
            "autoscaling-services",
        ),
        (
            "hpa_configuration.FN_POSTS",
            "'FN_POSTS' and 'fn-posts' both name the service fn-posts",
            ERROR,
            "autoscaling-services",
        ),
    ]


# ---- the cluster -------------------------------------------------------------------------------------------------

E2 = MachineType.parse("e2-standard-4")  # 4 vCPUs, 16 GB


def pool(name: str, zones: tuple[str, ...], low: int, high: int, *, scaled: bool = True) -> NodePool:
    return NodePool(name, zones, E2, low, high, auto_scaling=scaled)


def scaler(nodes: int = 100, cores: int = 1000, memory: int = 4000, **fields: object) -> ClusterAutoscaler:
    return ClusterAutoscaler(AutoscalerLimits(nodes, cores, memory), **fields)  # type: ignore[arg-type]


def test_cluster_zones_lie_in_the_clusters_location() -> None:
    cluster = GKECluster(
        "prod",
        "us-central1",
        (
            pool("a", ("us-central1-a", "us-east1-b", "europe-west1-c"), 0, 1),
            pool("b", ("us-central1-b",), 0, 1),
        ),
    )
    assert found(checks.cluster_capacity, platform(gke_cluster=cluster)) == [
        (
            "gke_cluster.node_pools[0].zones",
            "zones in europe-west1, us-east1 lie outside the cluster's location us-central1",
            ERROR,
            "cluster-zones",
        )
    ]
    zonal = GKECluster("prod", "us-central1-a", (pool("a", ("us-central1-a", "us-central1-b"), 0, 1),))
    assert found(checks.cluster_capacity, platform(gke_cluster=zonal)) == []
    assert found(checks.cluster_capacity, platform()) == []


def test_cluster_capacity_against_the_autoscalers_limits() -> None:
    cluster = GKECluster("prod", "us-central1", (pool("app", ("us-central1-a", "us-central1-b"), 2, 5),))
    # 2 zones x 5 = 10 nodes, 40 cores, 160 GB at most; 2 zones x 2 = 4 nodes, 16 cores at least
    assert found(checks.cluster_capacity, platform(gke_cluster=cluster, cluster_autoscaler=scaler(10, 40, 160))) == []
    unenforced = (
        ", and GKE enforces cluster-wide limits only with node auto-provisioning (node_auto_provisioning: true, "
        "which also lets GKE create node pools of its own): lower the pools' max_nodes"
    )
    assert found(checks.cluster_capacity, platform(gke_cluster=cluster, cluster_autoscaler=scaler(9, 39, 159))) == [
        (
            "gke_cluster.node_pools[0].max_nodes",
            "app can grow to 10 nodes (5 per zone in 2 zones), above cluster_autoscaler.resource_limits."
            "max_nodes_per_pool (9), which GKE does not enforce: the pool's own max_nodes bounds it",
            WARNING,
            "cluster-capacity",
        ),
        (
            "cluster_autoscaler.resource_limits.max_cores",
            f"the node pools can grow to 40 cores, above max_cores 39{unenforced}",
            WARNING,
            "cluster-capacity",
        ),
        (
            "cluster_autoscaler.resource_limits.max_memory_gb",
            f"the node pools can grow to 160 GB of memory, above max_memory_gb 159{unenforced}",
            WARNING,
            "cluster-capacity",
        ),
    ]
    enforced = scaler(10, 39, 159, node_auto_provisioning=True)
    assert found(checks.cluster_capacity, platform(gke_cluster=cluster, cluster_autoscaler=enforced)) == [
        (
            "cluster_autoscaler.resource_limits.max_cores",
            "the node pools can grow to 40 cores, above max_cores 39: the autoscaler stops before the pools' max_nodes",
            WARNING,
            "cluster-capacity",
        ),
        (
            "cluster_autoscaler.resource_limits.max_memory_gb",
            "the node pools can grow to 160 GB of memory, above max_memory_gb 159",
            WARNING,
            "cluster-capacity",
        ),
    ]
    assert found(checks.cluster_capacity, platform(gke_cluster=cluster, cluster_autoscaler=scaler(10, 16, 160)))[0] == (
        "cluster_autoscaler.resource_limits.max_cores",
        "the node pools can grow to 40 cores, above max_cores 16" + unenforced,
        WARNING,
        "cluster-capacity",
    )
    assert found(checks.cluster_capacity, platform(gke_cluster=cluster, cluster_autoscaler=scaler(10, 15, 160))) == [
        (
            "cluster_autoscaler.resource_limits.max_cores",
            "the node pools' minimum sizes already need 16 cores, above max_cores 15",
            ERROR,
            "cluster-capacity",
        )
    ]


def test_an_autoscaler_turned_off_keeps_every_autoscaled_pool_at_its_size() -> None:
    cluster = GKECluster(
        "prod",
        "us-central1",
        (
            pool("a", ("us-central1-a",), 1, 2),
            pool("b", ("us-central1-a",), 1, 2, scaled=False),
            pool("c", ("us-central1-a",), 1, 2),
        ),
    )
    assert found(checks.cluster_capacity, platform(gke_cluster=cluster, cluster_autoscaler=scaler(enabled=False))) == [
        (
            "cluster_autoscaler.enabled",
            "the cluster autoscaler is off, and on GKE it scales each node pool: a, c (auto_scaling: true) will keep "
            "the size they have",
            WARNING,
            "cluster-autoscaler",
        )
    ]
    fixed = GKECluster("prod", "us-central1", (pool("b", ("us-central1-a",), 1, 2, scaled=False),))
    assert found(checks.cluster_capacity, platform(gke_cluster=fixed, cluster_autoscaler=scaler(enabled=False))) == []


@given(
    zones=st.integers(1, 3),
    low=st.integers(0, 4),
    extra=st.integers(0, 4),
    nodes=st.integers(1, 20),
    cores=st.integers(1, 80),
    memory=st.integers(1, 300),
)
def test_cluster_capacity_speaks_exactly_of_the_limits_passed(
    *, zones: int, low: int, extra: int, nodes: int, cores: int, memory: int
) -> None:
    high = max(low + extra, 1)
    names = ("us-central1-a", "us-central1-b", "us-central1-c")[:zones]
    cluster = GKECluster("prod", "us-central1", (pool("app", names, low, high),))
    rules = [
        (f.location, f.severity)
        for f in checks.cluster_capacity(platform(gke_cluster=cluster, cluster_autoscaler=scaler(nodes, cores, memory)))
    ]
    expected = []
    if high * zones > nodes:
        expected.append(("gke_cluster.node_pools[0].max_nodes", WARNING))
    if low * zones * 4 > cores:
        expected.append(("cluster_autoscaler.resource_limits.max_cores", ERROR))
    elif high * zones * 4 > cores:
        expected.append(("cluster_autoscaler.resource_limits.max_cores", WARNING))
    if high * zones * 16 > memory:
        expected.append(("cluster_autoscaler.resource_limits.max_memory_gb", WARNING))
    assert rules == expected


# ---- the mesh and secrets ----------------------------------------------------------------------------------------


def test_mesh_identities() -> None:
    from findly_infra.domain.environment import Service

    services = (Service("fn-posts"), Service("fn-users"))
    policy = AuthorizationPolicy(
        "posts",
        source=PrincipalSet(principals=("cluster.local/ns/prod/sa/fn-post", "cluster.local/ns/prod/sa/fn-users")),
        destination=PrincipalSet(principals=("cluster.local/ns/prod/sa/zz-top",)),
    )
    known = AuthorizationPolicy("open", destination=PrincipalSet(principals=("cluster.local/ns/prod/sa/fn-users",)))
    mesh = IstioConfiguration(authorization_policies=(known, policy))
    assert found(checks.mesh_identities, platform(services=services)) == []
    assert found(checks.mesh_identities, platform(services=services, istio_configuration=mesh)) == [
        (
            "istio_configuration.authorization_policies[1].source.principals[0]",
            "service account 'fn-post' is not a known service (did you mean 'fn-posts'?)",
            WARNING,
            "mesh-identities",
        ),
        (
            "istio_configuration.authorization_policies[1].destination.principals[0]",
            "service account 'zz-top' is not a known service",
            WARNING,
            "mesh-identities",
        ),
    ]
    # no services known: nothing to compare with
    assert found(checks.mesh_identities, platform(istio_configuration=mesh)) == []
    disabled = attrs.evolve(mesh, mtls=MutualTLS(mode="DISABLE"))
    assert found(checks.mesh_identities, platform(istio_configuration=disabled)) == [
        (
            "istio_configuration.mtls.mode",
            "principals are only known over mTLS, but mTLS is disabled: policy 'open' can never match",
            ERROR,
            "mesh-identities",
        ),
        (
            "istio_configuration.mtls.mode",
            "principals are only known over mTLS, but mTLS is disabled: policy 'posts' can never match",
            ERROR,
            "mesh-identities",
        ),
    ]
    only_destination = IstioConfiguration(
        MutualTLS(mode="DISABLE"),
        (AuthorizationPolicy("p", destination=PrincipalSet(principals=("cluster.local/ns/prod/sa/fn-posts",))),),
    )
    assert [f[0] for f in found(checks.mesh_identities, platform(istio_configuration=only_destination))] == [
        "istio_configuration.mtls.mode"
    ]
    permissive = attrs.evolve(mesh, mtls=MutualTLS(mode="PERMISSIVE"))
    assert found(checks.mesh_identities, platform(istio_configuration=permissive)) == []


DAYS_90 = SecretType("api-key", Duration.of(days=90))


def test_secret_rotation_states_a_period() -> None:
    assert found(checks.secret_rotation, platform()) == []
    assert found(checks.secret_rotation, platform(secret_management=SecretManagement())) == []
    assert (
        found(
            checks.secret_rotation, platform(secret_management=SecretManagement(rotation="Automated 90-day rotation"))
        )
        == []
    )
    assert found(checks.secret_rotation, platform(secret_management=SecretManagement(rotation="Automated"))) == [
        (
            "secret_management.rotation",
            "'Automated' names no rotation period (such as 'Automated 90-day rotation')",
            WARNING,
            "secret-rotation",
        )
    ]


def test_secret_references() -> None:
    from findly_infra.domain.environment import Service

    secrets = SecretManagement(
        secret_types=(DAYS_90,),
        secrets=(
            ManagedSecret("db", "api-key", ("fn-posts",)),
            ManagedSecret("token", "password", ("fn-posts", "fn-gone", "fn-lost")),
        ),
    )
    assert found(checks.secret_references, platform()) == []
    assert found(checks.secret_references, platform(services=(Service("fn-posts"),), secret_management=secrets)) == [
        (
            "secret_management.secrets.token.type",
            "'password' is not one of the secret_types (api-key): its rotation period is unknown",
            ERROR,
            "secret-references",
        ),
        (
            "secret_management.secrets.token.services",
            "'fn-gone' is not a service of the platform file",
            ERROR,
            "secret-references",
        ),
        (
            "secret_management.secrets.token.services",
            "'fn-lost' is not a service of the platform file",
            ERROR,
            "secret-references",
        ),
    ]
    two_types = SecretManagement(
        secret_types=(DAYS_90, SecretType("tls", Duration.of(days=30))), secrets=(ManagedSecret("db", "password"),)
    )
    assert found(checks.secret_references, platform(secret_management=two_types))[0][1] == (
        "'password' is not one of the secret_types (api-key, tls): its rotation period is unknown"
    )
    untyped = SecretManagement(secrets=(ManagedSecret("db", "api-key"),))
    assert found(checks.secret_references, platform(secret_management=untyped)) == [
        (
            "secret_management.secrets.db.type",
            "'api-key' is not one of the secret_types (none): its rotation period is unknown",
            ERROR,
            "secret-references",
        )
    ]


def test_secret_ids_are_one_per_secret_and_environment() -> None:
    secrets = SecretManagement(
        secret_types=(DAYS_90,), secrets=(ManagedSecret("db", "api-key"), ManagedSecret("db-dev", "api-key"))
    )
    chain = (env("dev-dev", PUSH), env("dev", DeploymentTrigger(TriggerKind.PROMOTION, source="dev-dev")))
    assert found(checks.secret_ids, platform()) == []
    assert found(checks.secret_ids, platform(*chain, secret_management=secrets)) == [
        (
            "secret_management.secrets.db-dev",
            "secret_management.secrets.db in dev-dev and secret_management.secrets.db-dev in dev are both the Secret "
            "Manager secret db-dev-dev (<name>-<environment>): each environment's pods would be granted, and audited "
            "against, the other's secret; rename one of the secrets",
            ERROR,
            "secret-ids",
        )
    ]
    assert found(checks.secret_ids, platform(secret_management=secrets)) == []
    three = SecretManagement(
        secret_types=(DAYS_90,),
        secrets=(ManagedSecret("a", "api-key"), ManagedSecret("a-b", "api-key"), ManagedSecret("a-b-c", "api-key")),
    )
    chain3 = (env("b-c-d", PUSH), env("c-d", promotes_from="b-c-d"), env("d", promotes_from="c-d"))
    assert [f[0] for f in found(checks.secret_ids, platform(*chain3, secret_management=three))] == [
        "secret_management.secrets.a-b-c"
    ]


def test_workload_identity_under_the_release_gate() -> None:
    gate = "the release gate (secret_management.release_gate) holds a rollout until its service's secrets exist"
    secrets = SecretManagement(
        secret_types=(DAYS_90,), secrets=(ManagedSecret("db", "api-key", ("fn-posts",)),), release_gate=True
    )
    cluster = GKECluster("prod", "us-central1", project="findly-now", workload_identity=True, project_number="123")
    assert found(checks.workload_identity, platform(gke_cluster=cluster, secret_management=secrets)) == []
    assert found(checks.workload_identity, platform(gke_cluster=cluster)) == []
    ungated = attrs.evolve(secrets, release_gate=False)
    assert found(checks.workload_identity, platform(secret_management=ungated)) == []
    unread = attrs.evolve(secrets, secrets=(ManagedSecret("db", "api-key"),))
    assert found(checks.workload_identity, platform(secret_management=unread)) == []
    turn_on = (
        "but the pods read them only through Workload Identity, and gke_cluster.workload_identity {said}: set it to "
        "true (cluster plan and apply give the cluster its workload pool and the node pools the GKE metadata server)"
    )
    number = (
        "but nothing lets the pods read them until secrets grant gives each service's principal access, and a "
        "principal names the project's number: give gke_cluster.project_number (gcloud projects describe PROJECT "
        "--format='value(projectNumber)')"
    )
    assert found(checks.workload_identity, platform(secret_management=secrets)) == [
        (
            "secret_management.release_gate",
            f"{gate}, " + turn_on.format(said="does not turn it on"),
            WARNING,
            "workload-identity",
        ),
        ("secret_management.release_gate", f"{gate}, {number}", WARNING, "workload-identity"),
    ]
    off = attrs.evolve(cluster, workload_identity=False, project_number=None)
    assert found(checks.workload_identity, platform(gke_cluster=off, secret_management=secrets)) == [
        (
            "gke_cluster.workload_identity",
            f"{gate}, " + turn_on.format(said="turns it off"),
            WARNING,
            "workload-identity",
        ),
        ("gke_cluster.project_number", f"{gate}, {number}", WARNING, "workload-identity"),
    ]
    unsaid = attrs.evolve(cluster, workload_identity=None)
    assert found(checks.workload_identity, platform(gke_cluster=unsaid, secret_management=secrets)) == [
        (
            "gke_cluster.workload_identity",
            f"{gate}, " + turn_on.format(said="does not turn it on"),
            WARNING,
            "workload-identity",
        )
    ]


# ---- ingress, recovery, alerts -----------------------------------------------------------------------------------

BASE = "ingress_configuration.global_load_balancer"


def ingress(**fields: object) -> IngressConfiguration:
    return IngressConfiguration(GlobalLoadBalancer(backends=(Backend("fn-posts", "/posts"),), **fields))  # type: ignore[arg-type]


def test_ingress_domains_name_known_environments_each_its_own() -> None:
    assert found(checks.ingress_certificates, platform()) == []
    unknown = ingress(
        domains=(("dev", ("dev.findly.app",)), ("stagng", ("staging.findly.app",))),
        static_ips=(("dev", "dev-ip"), ("prd", "prod-ip")),
    )
    assert found(checks.ingress_certificates, platform(ingress_configuration=unknown))[:2] == [
        (
            f"{BASE}.domains.stagng",
            "unknown environment 'stagng' (did you mean 'staging'?); known: dev, staging",
            ERROR,
            "ingress-domains",
        ),
        (f"{BASE}.static_ips.prd", "unknown environment 'prd'; known: dev, staging", ERROR, "ingress-domains"),
    ]
    shared = ingress(
        domains=(("dev", ("a.findly.app", "b.findly.app")), ("staging", ("c.findly.app", "a.findly.app"))),
        static_ips=(("dev", "dev-ip"), ("staging", "staging-ip")),
    )
    assert found(checks.ingress_certificates, platform(ingress_configuration=shared)) == [
        (
            f"{BASE}.domains.staging[1]",
            "a.findly.app is dev's too: a domain's DNS record points at one load balancer, and a Google-managed "
            "certificate is provisioned only where the domain resolves to its own: give each environment its own "
            "names",
            ERROR,
            "ingress-domains",
        )
    ]


def test_google_managed_certificates_need_domains_and_reserved_addresses() -> None:
    plain = ingress(ssl_certificates="none")
    assert found(checks.ingress_certificates, platform(ingress_configuration=plain)) == []
    assert found(checks.ingress_certificates, platform(ingress_configuration=IngressConfiguration())) == []
    mine = ingress(ssl_certificates="our own", domains=(("dev", ("dev.findly.app",)),))
    assert found(checks.ingress_certificates, platform(ingress_configuration=mine)) == [
        (
            f"{BASE}.domains",
            "domains are for Google-managed certificates, but ssl_certificates says 'our own': no certificate is "
            "rendered for them",
            WARNING,
            "ingress-https",
        )
    ]
    three = (env("dev", PUSH), env("qa", promotes_from="dev"), env("prod", promotes_from="qa"))
    none = ingress()
    assert found(checks.ingress_certificates, platform(*three, ingress_configuration=none)) == [
        (
            f"{BASE}.ssl_certificates",
            "Google-managed SSL needs each environment's domains (ingress_configuration.global_load_balancer.domains), "
            "and dev, qa, prod have none: their Ingress serves plain HTTP only",
            WARNING,
            "ingress-https",
        )
    ]
    some = ingress(domains=(("dev", ("dev.findly.app",)), ("qa", ("qa.findly.app",))), static_ips=(("qa", "qa-ip"),))
    assert found(checks.ingress_certificates, platform(*three, ingress_configuration=some)) == [
        (
            f"{BASE}.ssl_certificates",
            "Google-managed SSL needs each environment's domains (ingress_configuration.global_load_balancer.domains), "
            "and prod has none: its Ingress serves plain HTTP only",
            WARNING,
            "ingress-https",
        ),
        (
            f"{BASE}.static_ips",
            "dev takes an ephemeral address, which changes when the Ingress is re-created, leaving the domains' DNS "
            "records pointing elsewhere: GKE recommends a reserved global static IP (gcloud compute addresses create "
            "NAME --global), named here",
            WARNING,
            "ingress-https",
        ),
    ]
    two = ingress(domains=(("dev", ("dev.findly.app",)), ("staging", ("staging.findly.app",))))
    assert found(checks.ingress_certificates, platform(ingress_configuration=two))[-1][1].startswith(
        "dev, staging take an ephemeral address"
    )
    done = attrs.evolve(
        two, global_load_balancer=attrs.evolve(two.global_load_balancer, static_ips=(("dev", "a"), ("staging", "b")))
    )
    assert found(checks.ingress_certificates, platform(ingress_configuration=done)) == []
    no_backends = IngressConfiguration(GlobalLoadBalancer(domains=(("dev", ("dev.findly.app",)),)))
    assert found(checks.ingress_certificates, platform(ingress_configuration=no_backends)) == []


def recovery(**fields: object) -> DisasterRecovery:
    base = DisasterRecovery(Duration.of(minutes=15), Duration.of(hours=1))
    return attrs.evolve(base, **fields)


def test_recovery_point_and_regions() -> None:
    assert found(checks.recovery_point, platform()) == []
    backups = (
        BackupPolicy("db", "Continuous replication", "30 days"),
        BackupPolicy("files", "hourly snapshots", "30 days"),
        BackupPolicy("logs", "Daily", "30 days"),
        BackupPolicy("misc", "whenever", "30 days"),
    )
    assert found(checks.recovery_point, platform(disaster_recovery=recovery(backup_strategy=backups))) == [
        (
            "disaster_recovery.backup_strategy.logs.frequency",
            "'Daily' can lose 1 day of data, more than the rpo_target of 1 hour",
            WARNING,
            "recovery-point",
        )
    ]
    cluster = GKECluster("prod", "us-central1")
    elsewhere = recovery(multi_region=MultiRegion("us-east1", "us-west1"))
    assert found(checks.recovery_point, platform(gke_cluster=cluster, disaster_recovery=elsewhere)) == [
        (
            "disaster_recovery.multi_region.primary_region",
            "the primary region us-east1 is not where the cluster prod runs (us-central1)",
            WARNING,
            "recovery-regions",
        )
    ]
    here = recovery(multi_region=MultiRegion("us-central1", "us-west1"))
    assert found(checks.recovery_point, platform(gke_cluster=cluster, disaster_recovery=here)) == []
    assert found(checks.recovery_point, platform(disaster_recovery=elsewhere)) == []
    slow = recovery(rto_target=Duration.of(minutes=16))
    assert found(checks.recovery_point, platform(disaster_recovery=slow)) == [
        (
            "disaster_recovery.rto_target",
            "the RTO of 16 minutes is above the recovery-time target of 15 minutes",
            WARNING,
            "recovery-time",
        )
    ]


def alerts(*rules: AlertRule) -> tuple[AlertGroup, ...]:
    return (AlertGroup("app", rules),)


def test_alert_rules() -> None:
    ratio = "sum(rate(http_requests_total{status=~'5..'}[5m])) / sum(rate(http_requests_total[5m])) > 0.01"
    assert found(checks.alert_rules, platform(alerting_rules=alerts(AlertRule("Errors", ratio, "critical")))) == []
    twice = (
        AlertGroup("a", (AlertRule("Errors", "up == 0", "page"),)),
        AlertGroup("b", (AlertRule("Errors", "up == 0", "info"),)),
    )
    assert found(checks.alert_rules, platform(alerting_rules=twice)) == [
        ("alerting_rules.b[0].alert", "the alert 'Errors' is defined twice", ERROR, "alert-names")
    ]
    absolute = 'rate(http_requests_total{status=~"5.."}[5m]) > 5'
    assert found(checks.alert_rules, platform(alerting_rules=alerts(AlertRule("Errors", absolute, "warning")))) == [
        (
            "alerting_rules.app[0].expression",
            "compares an absolute rate of 5xx responses with a number, so it depends on traffic: busy services page on "
            "a tiny error share and quiet ones never do; compare the ratio sum(rate(errors)) / sum(rate(requests)) "
            "instead",
            WARNING,
            "alert-error-ratio",
        )
    ]
    for fine in ("rate(http_requests_total{status=~'5..'}[5m])", "rate(http_requests_total{code='200'}[5m]) > 5"):
        assert found(checks.alert_rules, platform(alerting_rules=alerts(AlertRule("E", fine, "ticket")))) == []
    unsummed = "histogram_quantile(0.95, rate(http_request_duration_seconds_bucket[5m])) > 1"
    quantile = found(checks.alert_rules, platform(alerting_rules=alerts(AlertRule("Slow", unsummed, "critical"))))
    assert quantile == [
        (
            "alerting_rules.app[0].expression",
            "histogram_quantile over rate() without sum by (le) computes one quantile per pod and series, not for the "
            "service: aggregate the buckets first, histogram_quantile(0.95, sum by (le) (rate(..._bucket[5m])))",
            WARNING,
            "alert-quantile-aggregation",
        )
    ]
    for summed in (
        "histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m]))) > 1",
        "histogram_quantile(0.95, sum(rate(x_bucket[5m])) by (le, service)) > 1",
        "histogram_quantile (0.95, sum by (service, le) (rate(x_bucket[5m]))) > 1",
    ):
        assert found(checks.alert_rules, platform(alerting_rules=alerts(AlertRule("Slow", summed, "critical")))) == []
    # the aggregation by le is looked for in the 400 characters after histogram_quantile(
    for length, warned in ((400, False), (401, True)):
        head = "a" * (length - len(" sum by (le")) + " sum by (le"
        expression = f"histogram_quantile({head}) (rate(x_bucket[5m]))) > 1"
        rules = found(checks.alert_rules, platform(alerting_rules=alerts(AlertRule("Slow", expression, "page"))))
        assert [rule[3] for rule in rules] == (["alert-quantile-aggregation"] if warned else [])
    three = alerts(AlertRule("A", "up == 0", "page"), AlertRule("B", "up == 0", "page"), AlertRule("A", "up", "page"))
    assert [f[0] for f in found(checks.alert_rules, platform(alerting_rules=three))] == ["alerting_rules.app[2].alert"]
    assert found(checks.alert_rules, platform(alerting_rules=alerts(AlertRule("Odd", "up == 0", "urgent")))) == [
        (
            "alerting_rules.app[0].severity",
            "unusual severity 'urgent'; Alertmanager routes usually expect one of critical, page, warning, "
            "ticket, info",
            WARNING,
            "alert-severity",
        )
    ]


def test_check_platform_runs_every_rule_errors_first_in_the_files_order() -> None:
    subject = platform(
        env("dev"),
        env("staging", PUSH, resource_limits="huge"),
        secret_management=SecretManagement(rotation="Automated"),
        alerting_rules=alerts(AlertRule("Odd", "up == 0", "urgent")),
    )
    assert [(f.rule, f.severity) for f in checks.check_platform(subject)] == [
        ("promotion-order", ERROR),
        ("resource-profiles", ERROR),
        ("secret-rotation", WARNING),
        ("alert-severity", WARNING),
    ]
    assert len(checks.RULES) == 25  # the 24th and 25th: release-dependencies, gitops (issue 28)
    assert checks.check_platform(platform()) == ()
