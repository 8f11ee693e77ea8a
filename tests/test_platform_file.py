"""The platform file: the seed's blocks load as written; every config object round-trips; bad files say where."""

from __future__ import annotations

import copy
import io
import json
import re
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from findly_infra import PlatformError, load_platform, load_platform_text, validate_platform_text
from findly_infra.cli import main
from findly_infra.config.document import Document
from findly_infra.config.loader import converter, dump_platform, validate_document
from findly_infra.domain import (
    AvailabilityObjective,
    BlueGreenStrategy,
    CanaryStrategy,
    Duration,
    LatencyObjective,
    Percentage,
    Platform,
    StrategyKind,
)
from findly_infra.testing.strategies import canary_strategies, platforms

from .conftest import EXAMPLE

SEED_SECTIONS = {
    "environments",
    "canary_strategy",
    "blue_green_strategy",
    "slo_definitions",
    "hpa_configuration",
    "cluster_autoscaler",
    "gke_cluster",
    "network_policies",
    "istio_configuration",
    "secret_management",
    "disaster_recovery",
    "alerting_rules",
    "ingress_configuration",
    "monitoring_stack",
    "security_layers",
}
# Maps whose keys are the user's own names, or prose kept as data: renaming a key there is not a typo.
FREE_KEYS = {
    "environments",
    "slo_definitions",
    "hpa_configuration",
    "network_policies",
    "services",
    "resource_profiles",
    "approver_groups",
    "alerting_rules",
    "success_criteria",
    "backup_strategy",
    "secret_types",
    "match_labels",
    "validation_steps",
    "rollback_triggers",
    "zones",  # failover.cluster.zones: its keys are primary zones (data), each checked as a zone name
}
DESCRIPTIVE = {"monitoring_stack", "security_layers"}


def test_the_seed_blocks_alone_load_as_written(seed_only_text: str) -> None:
    data = yaml.safe_load(seed_only_text)
    assert set(data) == SEED_SECTIONS
    report = validate_platform_text(seed_only_text)
    assert report.ok, [str(e) for e in report.errors]
    rules = {w.rule for w in report.warnings}
    # Without our approver_groups section nobody can approve production: said, not silently accepted.
    assert "approver-groups" in rules
    assert {"deployment-speed", "alert-error-ratio", "alert-quantile-aggregation"} <= rules


def test_the_example_file_loads_into_the_seed_model() -> None:
    platform = load_platform(EXAMPLE)
    assert platform.promotion_order == ("development", "staging", "production")
    production = platform.environment("production")
    assert production.approvers == ("devops-team", "security-team")
    assert production.strategy is StrategyKind.BLUE_GREEN
    assert platform.environment("development").strategy is StrategyKind.ROLLING
    assert isinstance(platform.strategy_for("production"), BlueGreenStrategy)
    assert isinstance(platform.strategy_for("production", StrategyKind.CANARY), CanaryStrategy)
    canary = platform.canary_strategy
    assert canary is not None
    assert [s.canary_weight for s in canary.traffic_progression] == [5, 25, 50, 100]
    assert canary.traffic_progression[-1].duration is None  # "stable"
    assert canary.time_to_full_traffic == Duration.of(hours=1)
    assert canary.failure_handling.rollback_threshold == 2
    slos = {slo.name: slo for slo in platform.slo_definitions}
    assert slos["availability"].target == AvailabilityObjective(Percentage(99.9))
    assert slos["availability"].sla_target is not None
    assert slos["availability"].sla_target.error_budget == Duration(2_592_000)
    assert slos["latency"].target == LatencyObjective(Percentage(95), Duration(200))
    assert [s.name for s in platform.all_services] == ["fn-posts", "fn-notifications", "fn-matcher"]
    assert platform.autoscaler_for("fn-posts") is not None
    assert platform.gke_cluster is not None
    assert platform.gke_cluster.node_pools[0].machine_type.vcpus == 4
    assert (
        platform.resource_profile("production-equivalent").container == platform.resource_profile("standard").container
    )
    assert platform.monitoring_stack["metrics"] == {
        "collector": "Prometheus",
        "storage": "Prometheus TSDB",
        "federation": "Multi-cluster setup",
        "retention": "30 days",
    }


def test_the_example_round_trips_through_unstructure_and_yaml() -> None:
    platform = load_platform(EXAMPLE)
    assert converter().structure(converter().unstructure(platform), Platform) == platform
    assert load_platform_text(dump_platform(platform)) == platform


@given(platforms())
def test_generated_platforms_validate_and_round_trip(platform: Platform) -> None:
    report = validate_platform_text(dump_platform(platform))
    assert report.ok, [str(e) for e in report.errors]
    assert report.platform == platform


CONFIG_CLASSES = [
    cls
    for cls in vars(__import__("findly_infra.domain", fromlist=["*"])).values()
    if isinstance(cls, type) and attrs.has(cls)
]


@given(canary_strategies())
def test_canary_strategies_round_trip(canary: CanaryStrategy) -> None:
    assert converter().structure(converter().unstructure(canary), CanaryStrategy) == canary


@pytest.mark.parametrize("cls", [c for c in CONFIG_CLASSES if c is not Platform], ids=lambda c: c.__name__)
def test_every_config_object_in_the_example_round_trips(cls: type) -> None:
    """Every attrs object found inside the example platform structures back from its unstructured form."""
    found = list(_objects_of(load_platform(EXAMPLE), cls))
    for obj in found:
        assert converter().structure(converter().unstructure(obj), cls) == obj


def _objects_of(value: object, cls: type) -> Any:
    if isinstance(value, cls):
        yield value
    if attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            yield from _objects_of(getattr(value, field.name), cls)
    elif isinstance(value, tuple):
        for item in value:
            yield from _objects_of(item, cls)


# ---- mutations: every broken file names the place --------------------------------------------


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if path else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*path, index))
    return found


def _format(path: tuple[Any, ...]) -> str:
    from findly_infra.domain.platform import format_path

    return format_path(path)


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


@pytest.fixture(scope="module")
def example_data() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE.read_text())


def _validate(data: dict[str, Any]) -> Any:
    return validate_document(Document(data, {}, "mutated"))


def _strict_key_paths(data: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        p
        for p in _paths(data)
        if isinstance(p[-1], str)
        and p[0] not in DESCRIPTIVE
        and not (len(p) > 1 and p[-2] in FREE_KEYS)
        and not (len(p) > 2 and p[-3] in FREE_KEYS and isinstance(p[-2], int))
        and not (len(p) > 1 and isinstance(p[-2], int) and p[-3:-2] and p[-3] in FREE_KEYS)
        and not (len(p) > 2 and p[-2] == "match_labels")
    ]


@given(data=st.data())
def test_a_typo_in_a_key_is_named_at_its_place(example_data: dict[str, Any], data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(_strict_key_paths(example_data)))
    mutated = copy.deepcopy(example_data)
    parent = _get(mutated, path[:-1]) if len(path) > 1 else mutated
    parent[path[-1] + "x"] = parent.pop(path[-1])
    report = _validate(mutated)
    typo = _format((*path[:-1], path[-1] + "x"))
    assert any(e.path == typo and e.message.startswith("unknown") for e in report.errors), (
        typo,
        [str(e) for e in report.errors],
    )


@given(data=st.data())
def test_a_wrong_type_is_named_at_its_place(example_data: dict[str, Any], data: st.DataObject) -> None:
    candidates = [p for p in _paths(example_data) if p[0] not in DESCRIPTIVE]
    path = data.draw(st.sampled_from(candidates))
    wrong = data.draw(st.sampled_from([{"unexpected": [1]}, [[["nested"]]]]))
    mutated = copy.deepcopy(example_data)
    _get(mutated, path[:-1])[path[-1]] = wrong
    report = _validate(mutated)
    where = _format(path)
    assert report.errors, where
    assert any(e.path.startswith(where) for e in report.errors), (where, [str(e) for e in report.errors])


@given(data=st.data())
def test_a_negative_number_is_out_of_range_at_its_place(example_data: dict[str, Any], data: st.DataObject) -> None:
    numbers = [
        p
        for p in _paths(example_data)
        if p[0] not in DESCRIPTIVE
        and isinstance(_get(example_data, p), (int, float))
        and not isinstance(_get(example_data, p), bool)
    ]
    path = data.draw(st.sampled_from(numbers))
    mutated = copy.deepcopy(example_data)
    _get(mutated, path[:-1])[path[-1]] = -data.draw(st.integers(1, 10**6))
    report = _validate(mutated)
    where = _format(path)
    assert any(e.path.startswith(where) for e in report.errors), (where, [str(e) for e in report.errors])


@given(data=st.data())
def test_a_missing_required_key_is_named(example_data: dict[str, Any], data: st.DataObject) -> None:
    required = [
        ("environments", "production", "deployment_trigger"),
        ("canary_strategy", "traffic_progression"),
        ("slo_definitions", "latency", "measurement_window"),
        ("gke_cluster", "node_pools", 0, "machine_type"),
        ("hpa_configuration", "fn_posts", "max_replicas"),
        ("alerting_rules", "critical_alerts", 0, "expression"),
        ("disaster_recovery", "rto_target"),
        ("environments",),
    ]
    path = data.draw(st.sampled_from(required))
    mutated = copy.deepcopy(example_data)
    del _get(mutated, path[:-1])[path[-1]]
    report = _validate(mutated)
    assert any(e.path == _format(path) and "required" in e.message for e in report.errors), [
        str(e) for e in report.errors
    ]


@given(data=st.data())
def test_any_mutation_gives_located_problems_never_an_exception(
    example_data: dict[str, Any], data: st.DataObject
) -> None:
    mutated = copy.deepcopy(example_data)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = list(_paths(mutated))
        path = data.draw(st.sampled_from(paths))
        value = data.draw(
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(),
                st.sampled_from(HUGE_INTEGERS),
                st.floats(),
                st.text(max_size=20),
                st.lists(st.integers(), max_size=2),
                st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
            )
        )
        _get(mutated, path[:-1])[path[-1]] = value
    report = _validate(mutated)
    for problem in (*report.errors, *report.warnings):
        assert problem.message
        assert problem.path


HUGE_INTEGERS = (2**63, -(2**63) - 1, 10**5000, -(16**5000), 2**20000)
"""Past 64 bits, and past the 4,300 decimal digits Python's int() and str() take (issue 23: 41 of 3,000 fuzzed files
ended in exit 1)."""

HUGE_LITERALS = (
    "9" * 5000,
    "-" + "9" * 4301,
    "0x" + "f" * 5000,
    "0b" + "1" * 20000,
    "0" + "7" * 3000,
    "+1_" + "0" * 5000,
    "1" + ":59" * 3000,
    "9223372036854775808",
    "1.0e999",
    "-.inf",
    ".nan",
    '"' + "9" * 5000 + ' minutes"',
    '"every ' + "9" * 5000 + ' hours"',
    '"' + "9" * 5000 + ' failed criteria"',
    '"< ' + "9" * 5000 + '%"',
)
"""Numbers as YAML writes them (PyYAML's YAML 1.1 int and float: decimal, hex, binary, octal, underscores,
sexagesimal, octal as 0777), past 64 bits or past what Python's int() reads, and the floats no count is; and as the
notations write them in text (a duration, a cadence, a threshold, a count: 'every 9…9 hours' crashed with exit 1)."""


@settings(max_examples=60)
@given(data=st.data())
def test_any_number_written_in_any_place_gives_located_problems_never_an_exception(
    example_text: str, data: st.DataObject
) -> None:
    """The mutated files as text: a scalar of the example replaced by a huge number as YAML writes it. Parsing is
    where 5,000 digits crashed (PyYAML's int() inside its constructor), so mutating the parsed data cannot find it."""
    lines = example_text.splitlines()
    scalars = [i for i, line in enumerate(lines) if re.match(r"^\s*(- )?[a-z_]+: [^\s#&*|>{\[]", line)]
    index = data.draw(st.sampled_from(scalars))
    literal = data.draw(st.sampled_from(HUGE_LITERALS[:-4] if data.draw(st.booleans()) else HUGE_LITERALS[-4:]))
    key = lines[index].split(":", 1)[0]
    mutated = [*lines[:index], f"{key}: {literal}", *lines[index + 1 :]]
    report = validate_platform_text("\n".join(mutated) + "\n")
    for problem in (*report.errors, *report.warnings):
        assert problem.message
        assert problem.path or problem.line, str(problem)
    if literal.lstrip("+-").replace("_", "").isdigit() or literal.startswith(("0x", "0b", "1:")):
        assert any("too large" in problem.message for problem in report.errors), (key, literal[:20])


@pytest.mark.parametrize("literal", HUGE_LITERALS[:8])  # the whole numbers
def test_a_huge_integer_is_refused_at_its_place_and_validate_exits_2(
    example_text: str, tmp_path: Path, literal: str
) -> None:
    path = tmp_path / "findly.yaml"
    path.write_text(example_text.replace("max_replicas: 20", f"max_replicas: {literal}", 1))
    out = io.StringIO()
    assert main(["--json", "validate", str(path)], out=out) == 2
    [error] = json.loads(out.getvalue())["errors"]
    assert (error["path"], error["line"]) == ("hpa_configuration.fn_posts.max_replicas", 172)
    assert error["message"].startswith("the number is too large")


@pytest.mark.parametrize(
    ("old", "new", "path", "said"),
    [
        (
            'frequency: "Continuous replication + hourly snapshots"',
            'frequency: "every ' + "9" * 5000 + ' hours"',
            None,
            None,
        ),
        (
            'rollback_threshold: "2 failed criteria"',
            'rollback_threshold: "' + "9" * 5000 + ' failed criteria"',
            "canary_strategy.failure_handling.rollback_threshold",
            "a count of failed analyses has at most 9 digits",
        ),
    ],
    ids=["cadence", "threshold"],
)
def test_a_huge_number_written_in_a_notation_is_not_a_crash(
    example_text: str, old: str, new: str, path: str | None, said: str | None
) -> None:
    """'every 9…9 hours' overflowed a float into int() (exit 1); '9…9 failed criteria' printed Python's 4,300-digit
    message."""
    report = validate_platform_text(example_text.replace(old, new, 1))
    for problem in report.errors:
        assert "4300" not in problem.message
    if path is not None:
        assert any(p.path == path and p.message.startswith(str(said)) for p in report.errors), report.errors


def test_load_platform_raises_one_documented_error_with_every_problem(example_text: str) -> None:
    broken = example_text.replace('"security-team"]', '"secuirty-team"]').replace(
        '"Manual promotion from staging"', '"Manual promotion from production"'
    )
    with pytest.raises(PlatformError) as raised:
        load_platform_text(broken, source="findly.yaml")
    problems = {p.path: p for p in raised.value.problems}
    assert problems["environments.production.approvers[1]"].message == (
        "unknown approver group 'secuirty-team' (did you mean 'security-team'?)"
    )
    assert (
        problems["environments.production.approvers[1]"].line
        == example_text[: example_text.index('approvers: ["devops-team"')].count("\n") + 1
    )
    assert "would loop" in problems["environments.production.deployment_trigger"].message
    assert "findly.yaml" in str(raised.value)


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        ("canary_weight: 100", "canary_weight: 90", "canary_strategy.traffic_progression[3]", "must end at 100%"),
        ("canary_weight: 25", "canary_weight: 2", "canary_strategy.traffic_progression[1]", "never go down"),
        (
            'duration: "20 minutes"',
            'duration: "-5m"',
            "canary_strategy.traffic_progression[1].duration",
            "expected a duration",
        ),
        ('duration: "20 minutes"', "duration: 0", "canary_strategy.traffic_progression[1].duration", "positive"),
        ("min_replicas: 3", "min_replicas: 30", "hpa_configuration.fn_posts.min_replicas", "above max_replicas"),
        ("min_nodes: 3", "min_nodes: 30", "gke_cluster.node_pools[0].min_nodes", "above max_nodes"),
        (
            "target_utilization: 70",
            "target_utilization: 0",
            "hpa_configuration.fn_posts.metrics[0].resource.target_utilization",
            "(0, 100]",
        ),
        (
            "target_utilization: 80",
            "target_utilization: 101",
            "hpa_configuration.fn_posts.metrics[1].resource.target_utilization",
            "(0, 100]",
        ),
        (
            'error_budget: "43.2 minutes/month"',
            'error_budget: "4 hours/month"',
            "slo_definitions.availability.error_budget",
            "disagrees",
        ),
        (
            'rollback_threshold: "2 failed criteria"',
            "rollback_threshold: 61",
            "canary_strategy.failure_handling.rollback_threshold",
            "can never happen",
        ),
        (
            "Manual promotion from staging",
            "Manual promotion from production",
            "environments.production.deployment_trigger",
            "would loop",
        ),
        (
            "Manual promotion from staging",
            "Manual promotion from development",
            "environments.production.deployment_trigger",
            "skipping staging",
        ),
        ("security-team: [carol, dave]", "security-team: []", "environments.production.approvers[1]", "no members"),
        (
            "devops-team: [alice, bob]\n  security-team: [carol, dave]",
            "devops-team: [alice]\n  security-team: [alice]",
            "environments.production.approvers",
            "distinct",
        ),
        (
            "approval_required: true",
            "approval_required: false",
            "environments.production.approval_required",
            "approvers are listed",
        ),
        (
            'resource_limits: "minimal"',
            'resource_limits: "minimall"',
            "environments.development.resource_limits",
            "did you mean 'minimal'",
        ),
        (
            'deployment_strategy: "blue-green"',
            'deployment_strategy: "purple"',
            "environments.production.deployment_strategy",
            "rolling, blue-green or canary",
        ),
        (
            'latency_p95: "< 1.5 seconds"',
            'latency_p95: "< 1.5%"',
            "canary_strategy.success_criteria.latency_p95",
            "is a duration",
        ),
        (
            'error_rate: "< 0.5%"',
            'error_ratee: "< 0.5%"',
            "canary_strategy.success_criteria.error_ratee",
            "unknown metric",
        ),
        ('mode: "STRICT"', 'mode: "STRICTLY"', "istio_configuration.mtls.mode", "STRICT, PERMISSIVE or DISABLE"),
        ('effect: "NO_SCHEDULE"', 'effect: "NEVER"', "gke_cluster.node_pools[1].taints[0].effect", "NO_SCHEDULE"),
        ("port: 443", "port: 70000", "network_policies.allow_external_ingress.ingress[0].ports[1].port", "65535"),
        (
            'expression: "up == 0"',
            'expression: "sum(up == 0"',
            "alerting_rules.critical_alerts[0].expression",
            "unclosed",
        ),
        ('alert: "HighLatency"', 'alert: "ServiceDown"', "alerting_rules.warning_alerts[0].alert", "defined twice"),
        (
            '"us-central1-a", "us-central1-b"]',
            '"europe-west4-a", "us-central1-b"]',
            "gke_cluster.node_pools[1].zones",
            "outside",
        ),
    ],
)
def test_each_documented_error_names_its_place(example_text: str, old: str, new: str, path: str, message: str) -> None:
    assert old in example_text
    report = validate_platform_text(example_text.replace(old, new, 1))
    assert not report.ok
    matching = [e for e in report.errors if e.path == path]
    assert matching, [str(e) for e in report.errors]
    assert any(message in e.message for e in matching), [str(e) for e in matching]
    assert all(e.line is not None for e in matching)
