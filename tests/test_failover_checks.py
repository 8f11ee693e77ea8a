"""Issue 27: ``validate`` checks the ``failover:`` section's cross-references (rules ``failover-*``), each finding
naming its place; and a file the zone rule passes is one ``dr_cluster_spec`` builds the DR cluster of (a property)."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra import load_platform, validate_platform_text
from findly_infra.domain import Severity, check_platform
from findly_infra.domain.errors import InvariantError
from findly_infra.domain.gke import dr_cluster_spec
from findly_infra.domain.recovery import DnsFailover, DnsRecord, DrCluster, FailoverSettings

from .conftest import EXAMPLE

PLATFORM = load_platform(EXAMPLE)


def _findings(text: str) -> list[tuple[str, str, str]]:
    report = validate_platform_text(text)
    return [
        (problem.path, problem.rule, problem.message)
        for problem in (*report.errors, *report.warnings)
        if problem.rule.startswith("failover")
    ]


def test_the_examples_failover_section_passes(example_text: str) -> None:
    assert "\nfailover:\n" in example_text
    assert _findings(example_text) == []


@pytest.mark.parametrize(
    ("old", "new", "path", "rule"),
    [
        ("environments: [production]", "environments: [prod]", "failover.environments.prod", "failover-environments"),
        ("      us-central1-c: us-east1-d\n", "", "failover.cluster.zones", "failover-zones"),
        (
            "us-central1-c: us-east1-d",
            "us-central1-c: us-west1-a",
            "failover.cluster.zones.us-central1-c",
            "failover-zones",
        ),
        (
            "us-central1-c: us-east1-d",
            "us-central1-c: us-east1-c",
            "failover.cluster.zones.us-central1-c",
            "failover-zones",
        ),
        ('name: "findly-production-dr"', 'name: "Findly-DR"', "failover.cluster.name", "failover-cluster"),
        (
            "  environments:",
            "  health: {query: 'min(up)'}\n  environments:",
            "failover.health.query",
            "failover-health",
        ),
    ],
)
def test_each_failover_rule_names_its_place(example_text: str, old: str, new: str, path: str, rule: str) -> None:
    text = example_text[example_text.index("\nfailover:\n") :]
    assert old in text, old  # in the failover section
    found = _findings(example_text.replace(text, text.replace(old, new, 1)))
    assert any(where == path and name == rule for where, name, _ in found), found
    assert all(name == rule for _, name, _ in found), found


def test_failover_without_a_dr_region_is_refused(example_text: str) -> None:
    start = example_text.index("  multi_region:")
    text = example_text[:start] + example_text[example_text.index("  testing:", start) :]
    found = _findings(text)
    assert [(where, name) for where, name, _ in found] == [("failover", "failover-region")]
    assert "disaster_recovery.multi_region.dr_region" in found[0][2]


def test_an_unused_mapping_is_a_warning_with_a_suggestion(example_text: str) -> None:
    text = example_text.replace("      us-central1-c: us-east1-d\n", "      us-centrl1-c: us-east1-d\n", 1)
    report = validate_platform_text(text)
    warnings = [w for w in report.warnings if w.rule == "failover-zones"]
    assert any("did you mean 'us-central1-c'" in w.message for w in warnings), warnings


_PRIMARY = ("us-central1-a", "us-central1-b", "us-central1-c")
_DR_ZONES = ("us-east1-b", "us-east1-c", "us-east1-d", "us-west1-a")


@given(st.dictionaries(st.sampled_from(_PRIMARY), st.sampled_from(_DR_ZONES)))
def test_a_mapping_the_zone_rule_passes_is_one_the_dr_cluster_is_built_from(mapping: dict[str, str]) -> None:
    settings = FailoverSettings(context="dr", cluster=DrCluster(zones=tuple(mapping.items())))
    platform = attrs.evolve(PLATFORM, failover=settings)
    errors = [f for f in check_platform(platform) if f.rule == "failover-zones" and f.severity is Severity.ERROR]
    assert all(f.path[:3] == ("failover", "cluster", "zones") for f in errors)
    assert PLATFORM.gke_cluster is not None
    try:
        spec = dr_cluster_spec(PLATFORM.gke_cluster, PLATFORM.cluster_autoscaler, settings, "us-east1")
    except InvariantError:
        assert errors  # what the builder refuses, validate has said
        return
    duplicated = len(set(mapping.values())) < len(mapping)
    assert bool(errors) == duplicated  # else the rule passes exactly what builds
    if not errors:
        assert all(zone.startswith("us-east1-") for pool in spec.pools for zone in pool.zones)


def test_dns_with_its_project_or_the_clusters_passes() -> None:
    record = DnsRecord("api.findly.now.", ("10.0.0.1",), ("10.1.0.1",))
    dns = DnsFailover("findly", (record,), project="findly-dns")
    settings = FailoverSettings(context="dr", cluster=DrCluster(zones=tuple(zip(_PRIMARY, _DR_ZONES, strict=False))))
    platform = attrs.evolve(PLATFORM, failover=attrs.evolve(settings, dns=dns))
    assert not [f for f in check_platform(platform) if f.rule.startswith("failover")]
