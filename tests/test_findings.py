# ruff: noqa: E501 - the findings are quoted whole, as people read them
"""Every finding of the platform checks in the words a person reads, word for word: the example's own (the seed's
traps) and what each trap planted in it adds. A finding names its rule, its severity and its place."""

from __future__ import annotations

import pytest

from findly_infra import validate_platform_text

Finding = tuple[str, str, str, str]  # rule, severity, path, message


def _findings(text: str) -> list[Finding]:
    report = validate_platform_text(text)
    return [(p.rule, p.severity, str(p.path), p.message) for p in (*report.errors, *report.warnings)]


EXAMPLE_FINDINGS: list[Finding] = [
    (
        "deployment-speed",
        "warning",
        "canary_strategy.traffic_progression",
        "the canary takes 1 hour to reach full traffic, more than the 10 minutes target for a full production deployment (performance_targets.deployment_speed)",
    ),
    (
        "cluster-capacity",
        "warning",
        "gke_cluster.node_pools[0].max_nodes",
        "application-pool can grow to 30 nodes (10 per zone in 3 zones), above cluster_autoscaler.resource_limits.max_nodes_per_pool (20), which GKE does not enforce: the pool's own max_nodes bounds it",
    ),
    (
        "ingress-https",
        "warning",
        "ingress_configuration.global_load_balancer.ssl_certificates",
        "Google-managed SSL needs each environment's domains (ingress_configuration.global_load_balancer.domains), and development, staging, production have none: their Ingress serves plain HTTP only",
    ),
    (
        "alert-error-ratio",
        "warning",
        "alerting_rules.critical_alerts[1].expression",
        "compares an absolute rate of 5xx responses with a number, so it depends on traffic: busy services page on a tiny error share and quiet ones never do; compare the ratio sum(rate(errors)) / sum(rate(requests)) instead",
    ),
    (
        "alert-quantile-aggregation",
        "warning",
        "alerting_rules.warning_alerts[0].expression",
        "histogram_quantile over rate() without sum by (le) computes one quantile per pod and series, not for the service: aggregate the buckets first, histogram_quantile(0.95, sum by (le) (rate(..._bucket[5m])))",
    ),
]


TRAPS: list[tuple[str, str, list[Finding]]] = [
    (
        "approver_groups:\n  devops-team: [alice, bob]\n  security-team: [carol, dave]\n",
        "",
        [
            (
                "approver-groups",
                "warning",
                "environments.production.approvers",
                "no approver_groups section says who belongs to devops-team, security-team: until it does, nothing can be approved into production",
            ),
        ],
    ),
    (
        "max_cores: 200",
        "max_cores: 100",
        [
            (
                "cluster-capacity",
                "warning",
                "cluster_autoscaler.resource_limits.max_cores",
                "the node pools can grow to 136 cores, above max_cores 100, and GKE enforces cluster-wide limits only with node auto-provisioning (node_auto_provisioning: true, which also lets GKE create node pools of its own): lower the pools' max_nodes",
            ),
        ],
    ),
    (
        "max_cores: 200",
        "max_cores: 10",
        [
            (
                "cluster-capacity",
                "error",
                "cluster_autoscaler.resource_limits.max_cores",
                "the node pools' minimum sizes already need 44 cores, above max_cores 10",
            ),
        ],
    ),
    (
        "max_memory_gb: 800",
        "max_memory_gb: 100",
        [
            (
                "cluster-capacity",
                "warning",
                "cluster_autoscaler.resource_limits.max_memory_gb",
                "the node pools can grow to 544 GB of memory, above max_memory_gb 100, and GKE enforces cluster-wide limits only with node auto-provisioning (node_auto_provisioning: true, which also lets GKE create node pools of its own): lower the pools' max_nodes",
            ),
        ],
    ),
    (
        '"cluster.local/ns/findly-now/sa/fn-posts"]',
        '"cluster.local/ns/findly-now/sa/fn-postz"]',
        [
            (
                "mesh-identities",
                "warning",
                "istio_configuration.authorization_policies[0].source.principals[0]",
                "service account 'fn-postz' is not a known service (did you mean 'fn-posts'?)",
            ),
        ],
    ),
    (
        'mode: "STRICT"',
        'mode: "DISABLE"',
        [
            (
                "mesh-identities",
                "error",
                "istio_configuration.mtls.mode",
                "principals are only known over mTLS, but mTLS is disabled: policy 'allow-posts-to-notifications' can never match",
            ),
        ],
    ),
    (
        'rotation: "Automated 90-day rotation"',
        'rotation: "Automated rotation"',
        [
            (
                "secret-rotation",
                "warning",
                "secret_management.rotation",
                "'Automated rotation' names no rotation period (such as 'Automated 90-day rotation')",
            ),
        ],
    ),
    (
        'frequency: "Real-time replication"',
        'frequency: "Daily export"',
        [
            (
                "recovery-point",
                "warning",
                "disaster_recovery.backup_strategy.application_data.frequency",
                "'Daily export' can lose 1 day of data, more than the rpo_target of 5 minutes",
            ),
        ],
    ),
    (
        'primary_region: "us-central1"',
        'primary_region: "europe-west1"',
        [
            (
                "recovery-regions",
                "warning",
                "disaster_recovery.multi_region.primary_region",
                "the primary region europe-west1 is not where the cluster findly-production runs (us-central1)",
            ),
        ],
    ),
    (
        'rto_target: "15 minutes"',
        'rto_target: "2 hours"',
        [
            (
                "recovery-time",
                "warning",
                "disaster_recovery.rto_target",
                "the RTO of 2 hours is above the recovery-time target of 15 minutes",
            ),
        ],
    ),
    (
        'severity: "warning"',
        'severity: "meh"',
        [
            (
                "alert-severity",
                "warning",
                "alerting_rules.warning_alerts[0].severity",
                "unusual severity 'meh'; Alertmanager routes usually expect one of critical, page, warning, ticket, info",
            ),
        ],
    ),
    (
        'alerting_threshold: "> 0.5% error rate"',
        'alerting_threshold: "< 0.5% error rate"',
        [
            (
                "slo-alerting-threshold",
                "warning",
                "slo_definitions.error_rate.alerting_threshold",
                "an error-rate alert is written like '> 0.5%' and at or above the objective (< 0.1%); got '< 0.5%'",
            ),
        ],
    ),
    (
        'alerting_threshold: "90% of requests < 200ms"',
        'alerting_threshold: "99% of requests < 200ms"',
        [
            (
                "slo-alerting-threshold",
                "warning",
                "slo_definitions.latency.alerting_threshold",
                "alerting at 99% of requests < 200ms would alert while the objective 95% of requests < 200ms still holds",
            ),
        ],
    ),
    (
        'rollback_threshold: "2 failed criteria"',
        'rollback_threshold: "12 failed criteria"',
        [
            (
                "rollback-threshold",
                "warning",
                "canary_strategy.failure_handling.rollback_threshold",
                "a canary failing from the start is only rolled back after 12 analyses, past its first stage 'Initial' (10 analyses): it reaches more traffic before it is stopped",
            ),
        ],
    ),
    (
        'duration: "10 minutes"',
        'duration: "30s"',
        [
            (
                "rollback-threshold",
                "warning",
                "canary_strategy.failure_handling.rollback_threshold",
                "a canary failing from the start is only rolled back after 2 analyses, past its first stage 'Initial' (0 analyses): it reaches more traffic before it is stopped",
            ),
            (
                "canary-analysis",
                "warning",
                "canary_strategy.traffic_progression[0].duration",
                "stage 'Initial' lasts 30s, less than one analysis interval (1m): it is never analysed",
            ),
            (
                "deployment-speed",
                "warning",
                "canary_strategy.traffic_progression",
                "the canary takes 50.5 minutes to reach full traffic, more than the 10 minutes target for a full production deployment (performance_targets.deployment_speed)",
            ),
        ],
    ),
    (
        'deployment_strategy: "blue-green"',
        'deployment_strategy: "canary"',
        [],
    ),
]


QUOTES = ' "'  # an id a shell and pytest read back as written: no quotes, no trailing blanks


def test_the_examples_findings_word_for_word(example_text: str) -> None:
    assert _findings(example_text) == EXAMPLE_FINDINGS


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    TRAPS,
    ids=[f"{index}-{old.split(':')[0].strip(QUOTES)}" for index, (old, _, _) in enumerate(TRAPS)],
)
def test_each_trap_adds_exactly_its_findings(example_text: str, old: str, new: str, expected: list[Finding]) -> None:
    assert old in example_text
    added = [finding for finding in _findings(example_text.replace(old, new, 1)) if finding not in EXAMPLE_FINDINGS]
    assert added == expected
