"""The rendered Alertmanager configuration is one the real Alertmanager takes (``amtool check-config`` of Debian's
``prometheus-alertmanager``), sends each rendered alert where its ``notification:`` (or else its severity) says
(``amtool config routes test``), and holds no secret."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from findly_infra import load_platform
from findly_infra.domain.checks import check_platform
from findly_infra.domain.notation import Duration
from findly_infra.domain.notifications import NotificationSettings, Receiver, ReceiverType, SecretSource
from findly_infra.domain.operations import AlertGroup, AlertRule
from findly_infra.domain.platform import Platform, Severity
from findly_infra.render import render_platform, write_tree
from findly_infra.render.alertmanager import SECRET_FOLDER, alertmanager_config, receiver, timings
from tests.conftest import ALERTMANAGER_INSTALL, EXAMPLE, require_tool

CONFIG = "prometheus/alertmanager.yaml"


def amtool() -> str:
    return require_tool("amtool", ALERTMANAGER_INSTALL)


def check_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [amtool(), "check-config", str(path)], capture_output=True, text=True, check=False, timeout=60
    )


def routed(path: Path, labels: dict[str, str]) -> str:
    """The receiver the real routing tree sends an alert with *labels* to."""
    answer = subprocess.run(
        [amtool(), "config", "routes", "test", f"--config.file={path}", *(f"{k}={v}" for k, v in labels.items())],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return answer.stdout.strip()


def _rules(tree: dict[str, str]) -> list[dict[str, Any]]:
    groups = yaml.safe_load(tree["prometheus/alerts.rules.yaml"])["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_amtool_accepts_the_configuration_rendered_from_the_example(tmp_path: Path) -> None:
    write_tree(render_platform(load_platform(EXAMPLE)), tmp_path)
    checked = check_config(tmp_path / CONFIG)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def test_the_check_bites_on_a_route_to_a_receiver_that_is_not_there(tmp_path: Path) -> None:
    config = alertmanager_config(load_platform(EXAMPLE))
    config["route"]["routes"][0]["receiver"] = "opsgenie"
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(config))
    checked = check_config(tmp_path / "broken.yaml")
    assert checked.returncode != 0
    assert "opsgenie" in checked.stdout + checked.stderr


def test_each_seed_alert_is_routed_to_the_receiver_its_notification_names(tmp_path: Path) -> None:
    tree = render_platform(load_platform(EXAMPLE))
    write_tree(tree, tmp_path)
    seen = {}
    for rule in _rules(tree):
        labels = {**rule["labels"], "alertname": rule["alert"], "service": "fn-posts", "environment": "production"}
        seen[rule["alert"]] = routed(tmp_path / CONFIG, labels)
        # a file's alert with a corrected form no longer pages: the corrected form pages in its place
        expected = "slack" if "corrected_by" in rule["labels"] else rule["labels"]["notification"]
        assert seen[rule["alert"]] == expected
    assert seen["ServiceDown"] == "pagerduty"
    assert seen["HighErrorRate"] == "slack"
    assert seen["HighErrorRateRatio"] == "pagerduty"
    assert seen["HighMemoryUsage"] == "slack"
    # the SLO burn alerts name no receiver: a page goes where the file's critical alerts go, a ticket to warnings'
    assert routed(tmp_path / CONFIG, {"alertname": "SLOErrorBudgetBurn", "severity": "page"}) == "pagerduty"
    assert routed(tmp_path / CONFIG, {"alertname": "SLOErrorBudgetBurn", "severity": "ticket"}) == "slack"


def test_no_secret_is_rendered_each_receiver_reads_its_own_from_the_mounted_secret() -> None:
    config = alertmanager_config(load_platform(EXAMPLE))
    receivers = {item["name"]: item for item in config["receivers"]}
    assert receivers["slack"]["slack_configs"][0] == {
        "api_url_file": f"{SECRET_FOLDER}/slack-api-url",
        "send_resolved": True,
    }
    pagerduty = receivers["pagerduty"]["pagerduty_configs"][0]
    assert pagerduty["routing_key_file"] == f"{SECRET_FOLDER}/pagerduty-routing-key"
    configs = [c for item in config["receivers"] for kind, items in item.items() if kind != "name" for c in items]
    fields = {key for c in configs for key in c}
    assert not {"routing_key", "service_key", "api_url", "url"} & fields
    assert receiver("audit", _declared(load_platform(EXAMPLE)).notifications) == {
        "name": "audit",
        "webhook_configs": [{"url_file": f"{SECRET_FOLDER}/audit-url", "send_resolved": True}],
    }


def _declared(platform: Platform) -> Platform:
    """*platform* with a webhook receiver ``audit`` and a PagerDuty receiver ``oncall`` declared in notifications."""
    receivers = (
        Receiver(
            "audit",
            ReceiverType.WEBHOOK,
            url=SecretSource("env", "AUDIT_URL"),
            signing_secret=SecretSource("env", "AUDIT_KEY"),
        ),
        Receiver("oncall", ReceiverType.PAGERDUTY, routing_key=SecretSource("secret", "oncall-key")),
    )
    return attrs.evolve(platform, notifications=NotificationSettings(receivers=receivers))


def test_a_receiver_declared_in_notifications_is_rendered_as_its_type(tmp_path: Path) -> None:
    rules = (
        AlertRule("Audited", "up == 0", "info", notification="audit"),
        AlertRule("Paged", "up == 0", "critical", notification="oncall"),
    )
    platform = _declared(attrs.evolve(load_platform(EXAMPLE), alerting_rules=(AlertGroup("own", rules),)))
    assert not [f for f in check_platform(platform) if f.rule == "alert-receivers"]
    receivers = {item["name"]: item for item in alertmanager_config(platform)["receivers"]}
    assert receivers["audit"]["webhook_configs"] == [{"url_file": f"{SECRET_FOLDER}/audit-url", "send_resolved": True}]
    (oncall,) = receivers["oncall"]["pagerduty_configs"]
    assert oncall["routing_key_file"] == f"{SECRET_FOLDER}/oncall-routing-key"
    path = tmp_path / "alertmanager.yaml"
    path.write_text(
        yaml.safe_dump(alertmanager_config(attrs.evolve(platform, alerting_rules=(AlertGroup("own", rules[1:]),))))
    )
    checked = check_config(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert routed(path, {"alertname": "Paged", "severity": "critical", "notification": "oncall"}) == "oncall"


@pytest.mark.parametrize("name", ["email", "teams"])
def test_validate_refuses_a_notification_alertmanager_has_no_receiver_for(name: str) -> None:
    example = load_platform(EXAMPLE)
    (group, *others) = example.alerting_rules
    first = attrs.evolve(group.rules[0], notification=name)
    platform = attrs.evolve(example, alerting_rules=(attrs.evolve(group, rules=(first, *group.rules[1:])), *others))
    (finding,) = [f for f in check_platform(platform) if f.rule == "alert-receivers"]
    assert finding.severity is Severity.ERROR
    assert finding.path == ("alerting_rules", group.name, 0, "notification")
    assert repr(name) in finding.message
    assert "slack or pagerduty" in finding.message
    assert "notifications.receivers" in finding.message
    assert "0.26" in finding.message
    if name == "email":
        assert "email receiver is not rendered" in finding.message
    # the seed's own file names slack and pagerduty (its notification_channels' email is no rule's notification:)
    assert not [f for f in check_platform(example) if f.rule == "alert-receivers"]


def _amtool_version() -> tuple[int, ...]:
    answer = subprocess.run([amtool(), "--version"], capture_output=True, text=True, check=False, timeout=60)
    text = (answer.stdout + answer.stderr).split("version ", 1)[1].split(" ", 1)[0]
    return tuple(int(part) for part in text.split("+")[0].split("-")[0].split(".")[:2])


def test_a_webhook_receiver_reads_its_url_from_a_file_which_needs_alertmanager_0_26(tmp_path: Path) -> None:
    """Any other notification name is a webhook in Alertmanager's format; its url_file came in v0.26.0
    (config/notifiers.go): an older amtool refuses the field, as the docs say."""
    rules = (AlertRule("AuditTrail", "up == 0", "info", notification="audit"),)
    platform = _declared(attrs.evolve(load_platform(EXAMPLE), alerting_rules=(AlertGroup("audit", rules),)))
    path = tmp_path / "alertmanager.yaml"
    path.write_text(render_platform(platform)[CONFIG])
    checked = check_config(path)
    if _amtool_version() >= (0, 26):
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert routed(path, {"alertname": "AuditTrail", "severity": "info", "notification": "audit"}) == "audit"
    else:
        assert checked.returncode != 0
        assert "field url_file not found" in checked.stdout + checked.stderr


def test_warnings_are_inhibited_by_a_critical_of_the_same_service_and_environment() -> None:
    rule, slo, *corrections = alertmanager_config(load_platform(EXAMPLE))["inhibit_rules"]
    assert rule["equal"] == slo["equal"] == ["service", "environment"]
    assert 'service=~".+"' in rule["source_matchers"]
    assert 'service=~".+"' in slo["source_matchers"]
    # each corrected form holds back its original for the same series: the service's, or (cAdvisor's) the pod's
    assert {(c["source_matchers"][0], c["target_matchers"][0], tuple(c["equal"])) for c in corrections} == {
        ('alertname="HighErrorRateRatio"', 'alertname="HighErrorRate"', ("service", "environment")),
        ('alertname="HighLatencyAggregated"', 'alertname="HighLatency"', ("service", "environment")),
        ('alertname="HighMemoryUsagePerService"', 'alertname="HighMemoryUsage"', ("namespace", "pod")),
    }


def test_evaluation_and_group_wait_stay_within_the_alert_latency_target() -> None:
    evaluation, group_wait = timings(Duration.of(seconds=30))
    assert (evaluation, group_wait) == (Duration.of(seconds=15), Duration.of(seconds=10))
    for seconds in range(2, 120):
        evaluation, group_wait = timings(Duration.of(seconds=seconds))
        assert evaluation + group_wait <= Duration.of(seconds=seconds)


_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
_SEVERITIES = st.sampled_from(["critical", "warning", "page", "ticket", "info", "high"])
_LABELS = st.sampled_from(["service", "app_name", "app_kubernetes_io_name"])
_RULES = st.builds(
    AlertRule,
    alert=_NAMES,
    expression=st.just("up == 0"),
    severity=_SEVERITIES,
    duration=st.integers(0, 3600).map(lambda s: Duration.of(seconds=s)),
    notification=st.sampled_from([None, "slack", "pagerduty"]),
)


@settings(max_examples=15)
@given(
    groups=st.lists(st.lists(_RULES, min_size=1, max_size=4), min_size=1, max_size=3),
    service=_LABELS,
    environment=st.sampled_from([None, "environment", "stage"]),
)
def test_amtool_accepts_and_routes_the_configuration_of_any_alert_section(
    groups: list[list[AlertRule]], service: str, environment: str | None, tmp_path_factory: Any
) -> None:
    example = load_platform(EXAMPLE)
    platform: Platform = attrs.evolve(
        example,
        alerting_rules=tuple(AlertGroup(f"group{i}", tuple(rules)) for i, rules in enumerate(groups)),
        metrics=attrs.evolve(example.metrics, service_label=service, environment_label=environment),
    )
    folder = tmp_path_factory.mktemp("am")
    path = folder / "alertmanager.yaml"
    path.write_text(render_platform(platform)[CONFIG])
    checked = check_config(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = yaml.safe_load(path.read_text())
    names = {item["name"] for item in config["receivers"]}
    assert config["route"]["group_by"] == ["alertname", service, *([environment] if environment else [])]
    for inhibit in config.get("inhibit_rules", ()):
        assert inhibit["equal"] == config["route"]["group_by"][1:]
    for rules in groups:
        for rule in rules:
            if rule.notification is not None:
                assert rule.notification in names
                labels = {"alertname": rule.alert, "severity": rule.severity, "notification": rule.notification}
                assert routed(path, labels) == rule.notification


def test_every_rule_group_is_evaluated_at_the_alerts_interval() -> None:
    """Without ``interval`` an SLO group ran at the Prometheus Operator's evaluationInterval (30 s by default:
    prometheus-operator pkg/apis/monitoring/v1/prometheus_types.go), twice the file's alerts' 15 s."""
    tree = render_platform(load_platform(EXAMPLE))
    evaluation, _ = timings(Duration.of(seconds=30))
    for name in ("prometheus/alerts.rules.yaml", "prometheus/slo.rules.yaml"):
        groups = yaml.safe_load(tree[name])["groups"]
        assert groups
        assert {group.get("interval") for group in groups} == {evaluation.format()}, name
