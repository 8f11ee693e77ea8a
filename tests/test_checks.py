"""The rules across sections: each one targeted, and the promotion-order rule as a property."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra import load_platform, validate_platform_text
from findly_infra.domain import (
    DeploymentTrigger,
    Environment,
    Platform,
    Severity,
    TriggerKind,
    check_platform,
)
from findly_infra.testing.strategies import dns_labels

from .conftest import EXAMPLE


def _rules(platform: Platform, severity: Severity | None = None) -> set[str]:
    return {f.rule for f in check_platform(platform) if severity is None or f.severity is severity}


@given(st.lists(dns_labels, min_size=2, max_size=6, unique=True), st.data())
def test_promotion_from_anywhere_but_the_previous_environment_is_refused(names: list[str], data: st.DataObject) -> None:
    index = data.draw(st.integers(1, len(names) - 1))
    source = data.draw(st.sampled_from(names))
    environments = [
        Environment(name, DeploymentTrigger(TriggerKind.PUSH) if i == 0 else DeploymentTrigger(TriggerKind.PROMOTION))
        for i, name in enumerate(names)
    ]
    environments[index] = attrs.evolve(
        environments[index], deployment_trigger=DeploymentTrigger(TriggerKind.PROMOTION, source=source)
    )
    findings = [f for f in check_platform(Platform(tuple(environments))) if f.rule == "promotion-order"]
    if source == names[index - 1]:
        assert findings == []
    else:
        assert len(findings) == 1
        assert findings[0].severity is Severity.ERROR
        assert findings[0].path == ("environments", names[index], "deployment_trigger")
        expected = "skipping" if names.index(source) < index else "would loop"
        assert expected in findings[0].message


def test_the_first_environment_cannot_be_promoted_into() -> None:
    platform = Platform((Environment("dev", DeploymentTrigger(TriggerKind.PROMOTION)),))
    assert "promotion-order" in _rules(platform, Severity.ERROR)


def test_promotes_from_is_checked_like_the_trigger() -> None:
    platform = Platform(
        (
            Environment("dev", DeploymentTrigger(TriggerKind.PUSH)),
            Environment("prod", DeploymentTrigger(TriggerKind.PUSH, "main"), promotes_from="qa"),
        )
    )
    (finding,) = check_platform(platform)
    assert finding.path == ("environments", "prod", "promotes_from")
    assert "unknown environment 'qa'" in finding.message


@pytest.mark.parametrize(
    ("old", "new", "rule", "severity"),
    [
        (
            "approver_groups:\n  devops-team: [alice, bob]\n  security-team: [carol, dave]\n",
            "",
            "approver-groups",
            None,
        ),
        ("max_cores: 200", "max_cores: 100", "cluster-capacity", Severity.WARNING),
        ("max_cores: 200", "max_cores: 10", "cluster-capacity", Severity.ERROR),
        ("max_memory_gb: 800", "max_memory_gb: 100", "cluster-capacity", Severity.WARNING),
        (
            '"cluster.local/ns/findly-now/sa/fn-posts"]',
            '"cluster.local/ns/findly-now/sa/fn-postz"]',
            "mesh-identities",
            Severity.WARNING,
        ),
        ('mode: "STRICT"', 'mode: "DISABLE"', "mesh-identities", Severity.ERROR),
        (
            'rotation: "Automated 90-day rotation"',
            'rotation: "Automated rotation"',
            "secret-rotation",
            Severity.WARNING,
        ),
        ('frequency: "Real-time replication"', 'frequency: "Daily export"', "recovery-point", Severity.WARNING),
        ('primary_region: "us-central1"', 'primary_region: "europe-west1"', "recovery-regions", Severity.WARNING),
        ('rto_target: "15 minutes"', 'rto_target: "2 hours"', "recovery-time", Severity.WARNING),
        ('severity: "warning"', 'severity: "meh"', "alert-severity", Severity.WARNING),
        (
            'alerting_threshold: "> 0.5% error rate"',
            'alerting_threshold: "< 0.5% error rate"',
            "slo-alerting-threshold",
            Severity.WARNING,
        ),
        (
            'alerting_threshold: "90% of requests < 200ms"',
            'alerting_threshold: "99% of requests < 200ms"',
            "slo-alerting-threshold",
            Severity.WARNING,
        ),
        (
            'rollback_threshold: "2 failed criteria"',
            'rollback_threshold: "12 failed criteria"',
            "rollback-threshold",
            Severity.WARNING,
        ),
        ('duration: "10 minutes"', 'duration: "30s"', "canary-analysis", Severity.WARNING),
        ('deployment_strategy: "blue-green"', 'deployment_strategy: "canary"', "deployment-speed", Severity.WARNING),
    ],
)
def test_each_rule_speaks_where_the_file_shows_its_trap(
    example_text: str, old: str, new: str, rule: str, severity: Severity | None
) -> None:
    assert old in example_text
    report = validate_platform_text(example_text.replace(old, new, 1))
    problems = [p for p in (*report.errors, *report.warnings) if p.rule == rule]
    assert problems, [str(p) for p in (*report.errors, *report.warnings)]
    if severity is not None:
        assert severity.value in {p.severity for p in problems}


def test_the_example_has_only_the_seed_traps_as_warnings() -> None:
    platform = load_platform(EXAMPLE)
    assert _rules(platform, Severity.ERROR) == set()
    assert _rules(platform, Severity.WARNING) == {
        "deployment-speed",
        "cluster-capacity",
        "alert-error-ratio",
        "alert-quantile-aggregation",
        "ingress-https",  # Google-managed SSL, but the seed names no domain: no certificate can be provisioned
    }


@pytest.mark.parametrize(
    ("expression", "warned"),
    [
        ("rate(http_requests_total{status=~'5..'}[5m]) > 0.05", True),
        ('sum(rate(http_requests_total{code=~"5.."}[5m])) > 10', True),
        (
            "sum(rate(http_requests_total{status=~'5..'}[5m])) / sum(rate(http_requests_total[5m])) > 0.05",
            False,
        ),
        ("up == 0", False),
    ],
)
def test_absolute_error_rates_are_told_from_ratios(example_text: str, expression: str, warned: bool) -> None:
    text = example_text.replace("rate(http_requests_total{status=~'5..'}[5m]) > 0.05", expression.replace('"', '\\"'))
    report = validate_platform_text(text)
    assert report.ok, [str(e) for e in report.errors]
    assert any(w.rule == "alert-error-ratio" for w in report.warnings) is warned


@pytest.mark.parametrize(
    ("expression", "warned"),
    [
        ("histogram_quantile(0.95, rate(http_request_duration_seconds_bucket[5m])) > 0.2", True),
        ("histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > 0.2", False),
        ("histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket[5m])) by (le, service)) > 0.2", False),
        ("histogram_quantile(0.95, sum by (service) (rate(http_request_duration_seconds_bucket[5m]))) > 0.2", True),
    ],
)
def test_quantiles_without_sum_by_le_are_warned(example_text: str, expression: str, warned: bool) -> None:
    text = example_text.replace(
        "histogram_quantile(0.95, rate(http_request_duration_seconds_bucket[5m])) > 0.2", expression
    )
    report = validate_platform_text(text)
    assert report.ok, [str(e) for e in report.errors]
    assert any(w.rule == "alert-quantile-aggregation" for w in report.warnings) is warned
