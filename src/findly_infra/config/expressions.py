"""The PromQL a platform file carries or makes: each expression checked with a real PromQL parser, each refusal
named at its place in the file (rule ``promql``).

Prometheus refuses a whole rules file for one bad expression, so an expression it would refuse is an error here,
not at deploy time: the file's own alerts (``alerting_rules.<group>[i].expression``) and the corrected forms
rendered beside them, the SLO rules rendered from ``slo_definitions``, and the metric and label names of the
``metrics`` section in every place the queries put them.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from findly_infra.domain.operations import MetricNames
from findly_infra.domain.platform import Finding, Platform, Severity
from findly_infra.promql import error_ratio, matchers, problem, slow_ratio
from findly_infra.render.rules import rule_expressions

__all__ = ["expression_findings", "metric_templates"]

RULE = "promql"


def metric_templates(names: MetricNames) -> Iterator[str]:
    """The queries made of *names*: each name of the ``metrics`` section in each place the rendered rules and the
    Prometheus adapter's queries put it (a selector in a range function, a grouping label, a matcher, a join)."""
    labels = matchers(names, service="s", environment="e", version="v")
    selector = "{" + ",".join(labels) + "}"
    by = ", ".join(label for label in (names.service_label, names.environment_label) if label)
    yield error_ratio(names, labels, "5m", by=by)
    yield slow_ratio(names, labels, "5m", 0.2, by=by)
    yield f"sum(increase({names.requests}{selector}[5m]))"
    yield f"histogram_quantile(0.95, sum by (le) (rate({names.latency}_bucket{selector}[5m])))"
    pods = f"max by (namespace, pod) ({names.pod_labels}{{{','.join(f'label_{m}' for m in labels)}}})"
    container = f'{names.container_label}="s"'
    for series in (
        f"rate({names.cpu_usage}{{{container}}}[5m])",
        f"avg_over_time({names.memory_usage}{{{container}}}[5m])",
        f'{names.resource_requests}{{{container},resource="cpu"}}',
        f'{names.resource_limits}{{{container},resource="memory"}}',
        f'rate({names.probes}{{{container},result="failed"}}[5m])',
    ):
        yield f"sum({series} * on (namespace, pod) group_left () {pods})"


def _name_findings(names: MetricNames) -> Iterator[Finding]:
    """Each name of the ``metrics`` section that makes a query Prometheus refuses (the others at their defaults,
    so that the error names the culprit)."""
    defaults = MetricNames()
    for field in (*MetricNames.METRIC_FIELDS, *MetricNames.LABEL_FIELDS):
        value = getattr(names, field)
        if value == getattr(defaults, field):
            continue
        for query in metric_templates(attrs.evolve(defaults, **{field: value})):
            found = problem(query)
            if found is not None:
                yield Finding(
                    ("metrics", field),
                    f"{value!r} cannot be used in PromQL: Prometheus refuses {query!r} ({found})",
                    Severity.ERROR,
                    RULE,
                )
                break


def expression_findings(platform: Platform) -> Iterator[Finding]:
    """An error for each expression of *platform* that Prometheus would refuse, at the place it comes from."""
    name_findings = list(_name_findings(platform.metrics))
    yield from name_findings
    reported: set[tuple[str | int, ...]] = set()
    for place, name, expression in rule_expressions(platform):
        if place in reported or (name_findings and place[0] != "alerting_rules"):
            continue  # one error for each place; the names' error already covers the rules made of them
        found = problem(expression)
        if found is None:
            continue
        reported.add(place)
        if place[0] == "alerting_rules" and name == _alert_at(platform, place):
            message = f"Prometheus refuses this expression, and with it the whole rules file: {found}"
        elif place[0] == "alerting_rules":
            message = f"the corrected alert {name} rendered beside it would be refused by Prometheus: {found}"
        else:
            message = f"the rule {name} rendered from it would be refused by Prometheus: {found}"
        yield Finding(place, message, Severity.ERROR, RULE)


def _alert_at(platform: Platform, place: tuple[str | int, ...]) -> str:
    """The name of the file's alert at *place* (``alerting_rules.<group>[index].expression``)."""
    _, group_name, index, _field = place
    group = next(group for group in platform.alerting_rules if group.name == group_name)
    return group.rules[int(index)].alert
