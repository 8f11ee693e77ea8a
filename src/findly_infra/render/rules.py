"""Prometheus rules: the file's alerts as configured (with corrected forms beside the naive ones),
and SLO recording rules with multiwindow, multi-burn-rate alerts (the SRE Workbook's tiers).

Pure functions of the platform; see ``docs/alerting.md`` for the reasoning.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import attrs

from findly_infra.domain.notation import Duration, LatencyObjective, format_number
from findly_infra.domain.operations import AlertRule, MetricNames
from findly_infra.domain.platform import Path, Platform
from findly_infra.domain.slo import AvailabilityObjective, ErrorRateObjective, SLODefinition
from findly_infra.promql import collapse, error_ratio, le_matcher, slow_ratio, string
from findly_infra.render.paging import BURN_ALERT, CORRECTED_BY, CORRECTS, timings

__all__ = [
    "BURN_ALERT",
    "CORRECTED_BY",
    "CORRECTS",
    "MIN_BAD_EVENTS",
    "MISSING_ALERT",
    "RECORD",
    "BurnTier",
    "alert_rule_groups",
    "burn_tiers",
    "corrected_pairs",
    "le_matcher",
    "prometheus_duration",
    "prometheus_rule",
    "rule_expressions",
    "slo_rule_groups",
]

MISSING_ALERT = "SLOMetricsMissing"
RECORD = "findly:slo_error_ratio:rate"
MIN_WINDOW = Duration.of(minutes=5)
"""No rate window is shorter: rate() needs several samples in it, even at a one-minute scrape interval
(with 1m windows and 1m samples, whether a window holds two samples depends on evaluation alignment)."""
_SRE_WINDOW = Duration.of(days=30)


@attrs.frozen
class BurnTier:
    """Alert when both windows burn the budget faster than ``factor`` (the SRE Workbook, ch. 5)."""

    severity: str
    long: Duration
    short: Duration
    factor: float


_WORKBOOK = (
    BurnTier("page", Duration.of(hours=1), Duration.of(minutes=5), 14.4),
    BurnTier("page", Duration.of(hours=6), Duration.of(minutes=30), 6.0),
    BurnTier("ticket", Duration.of(days=3), Duration.of(hours=6), 1.0),
)


def burn_tiers(window: Duration) -> tuple[BurnTier, ...]:
    """The workbook's tiers for a 30-day window, scaled to *window*; no window shorter than a minute."""

    def scaled(duration: Duration) -> Duration:
        exact = Duration(round(duration.milliseconds * window.milliseconds / _SRE_WINDOW.milliseconds))
        rounded = Duration(round(exact.milliseconds / 1000) * 1000)
        return max(rounded, MIN_WINDOW)

    tiers: dict[tuple[str, Duration, Duration], BurnTier] = {}
    for workbook in _WORKBOOK:
        tier = attrs.evolve(workbook, long=scaled(workbook.long), short=scaled(workbook.short))
        key = (tier.severity, tier.long, tier.short)
        if key not in tiers or tier.factor < tiers[key].factor:  # same windows: the lower factor fires first
            tiers[key] = tier
    return tuple(tiers.values())


def prometheus_duration(duration: Duration) -> str:
    """``1h``, ``5m``, ``3d``, ``2m30s`` — Prometheus's own notation."""
    return duration.format()


def _by(metrics: MetricNames) -> str:
    """Ratios per service, and per environment when series carry one (one Prometheus may see them all)."""
    return ", ".join(label for label in (metrics.service_label, metrics.environment_label) if label)


def _kind(slo: SLODefinition) -> str | None:
    if isinstance(slo.target, (AvailabilityObjective, ErrorRateObjective)):
        return "errors"
    if isinstance(slo.target, LatencyObjective):
        return "latency"
    return None


def slo_rule_groups(platform: Platform) -> list[dict[str, Any]]:
    """One group per SLO that is a share of good events: its recording rules, then the alerts that read them."""
    groups = [group for slo in platform.slo_definitions if (group := _slo_group(slo, platform.metrics)) is not None]
    if groups:
        groups.append({"name": "slo-metrics-presence", "rules": _missing(platform)})
    # evaluated as often as the file's alerts (without `interval` the Prometheus Operator's evaluationInterval
    # applies, 30 s by default: prometheus-operator pkg/apis/monitoring/v1/prometheus_types.go)
    evaluation, _ = timings(platform.performance_targets.alert_latency)
    return [
        {"name": group["name"], "interval": prometheus_duration(evaluation), "rules": group["rules"]}
        for group in groups
    ]


def _slo_group(slo: SLODefinition, metrics: MetricNames) -> dict[str, Any] | None:
    target, kind = slo.sla_target, _kind(slo)
    if target is None or kind is None:
        return None
    tiers = burn_tiers(slo.measurement_window)
    windows = sorted({w for tier in tiers for w in (tier.long, tier.short)})
    records = []
    for window in windows:
        text = prometheus_duration(window)
        ratio = (
            slow_ratio(metrics, [], text, slo.target.bound.seconds, by=_by(metrics))  # type: ignore[union-attr]
            if kind == "latency"
            else error_ratio(metrics, [], text, by=_by(metrics))
        )
        records.append({"record": f"{RECORD}{text}", "expr": ratio, "labels": {"slo": slo.name}})
    budget = format_number(round(target.allowed_error_ratio, 12))
    alerts = []
    for severity in ("page", "ticket"):
        chosen = [t for t in tiers if t.severity == severity]
        conditions = [_burning(slo, metrics, tier, budget) for tier in chosen]
        windows_text = ", ".join(f"{prometheus_duration(t.long)}/{prometheus_duration(t.short)}" for t in chosen)
        alerts.append(
            {
                "alert": BURN_ALERT,
                "expr": "\n or ".join(conditions),
                "labels": {"severity": severity, "slo": slo.name},
                "annotations": {
                    "summary": f"{{{{ $labels.{metrics.service_label} }}}} is burning its {slo.name} error budget",
                    "description": (
                        f"The {slo.name} SLO ({slo.target.format()} over {slo.measurement_window.describe()}) "
                        f"allows an error ratio of {budget}; burn-rate windows {windows_text}."
                    ),
                },
            }
        )
    # one group: its rules run in order, so the alerts read this evaluation's ratios, not the last one's
    return {"name": f"slo-{slo.name}", "rules": [*records, *alerts]}


def rule_expressions(platform: Platform) -> Iterator[tuple[Path, str, str]]:
    """Every PromQL expression the rules files hold, with the place in the platform file it comes from and the
    rule's name: ``(("slo_definitions", "availability"), "findly:slo_error_ratio:rate5m", "...")``."""
    groups = [(slo, _slo_group(slo, platform.metrics)) for slo in platform.slo_definitions]
    for slo, group in groups:
        for rule in group["rules"] if group is not None else ():
            yield ("slo_definitions", slo.name), rule.get("record") or rule["alert"], rule["expr"]
    if any(group is not None for _, group in groups):
        for rule in _missing(platform):
            yield ("metrics", "requests"), rule["alert"], rule["expr"]
    for alerts in platform.alerting_rules:
        for index, alert in enumerate(alerts.rules):
            place: Path = ("alerting_rules", alerts.name, index, "expression")
            yield place, alert.alert, collapse(alert.expression)
            fix = corrected(alert, platform.metrics)
            if fix is not None:
                yield place, fix[0], collapse(fix[1])


def _burning(slo: SLODefinition, metrics: MetricNames, tier: BurnTier, budget: str) -> str:
    """Both windows of a tier burn faster than its factor allows, on the evidence of at least
    :data:`MIN_BAD_EVENTS` bad requests in the long window (one stray error of a quiet service's few requests is a
    large share of them, and no outage)."""
    limit = f"({format_number(tier.factor)} * {budget})"
    long = f"{RECORD}{prometheus_duration(tier.long)}{{slo={string(slo.name)}}}"
    short = f"{RECORD}{prometheus_duration(tier.short)}{{slo={string(slo.name)}}}"
    evidence = _bad_events(slo, metrics, prometheus_duration(tier.long))
    return f"({long} > {limit}\n and {short} > {limit}\n and on ({_by(metrics)}) {evidence} >= {MIN_BAD_EVENTS})"


def _bad_events(slo: SLODefinition, metrics: MetricNames, window: str) -> str:
    """How many requests an SLO counts as bad in *window*: 5xx responses, or requests slower than its bound."""
    by = _by(metrics)
    if _kind(slo) == "latency":
        bound = le_matcher(slo.target.bound.seconds)  # type: ignore[union-attr]
        total = f"sum by ({by}) (increase({metrics.latency}_count[{window}]))"
        fast = f"sum by ({by}) (increase({metrics.latency}_bucket{{le=~`{bound}`}}[{window}]))"
        return f"({total} - {fast})"
    return f'sum by ({by}) (increase({metrics.requests}{{{metrics.status_label}=~"5.."}}[{window}]))'


def _missing(platform: Platform) -> list[dict[str, Any]]:
    """A service whose request metrics disappear cannot be judged: say so, once per service."""
    metrics = platform.metrics
    return [
        {
            "alert": MISSING_ALERT,
            "expr": f"absent({metrics.requests}{{{metrics.service_label}={string(service.name)}}})",
            "for": "10m",
            "labels": {"severity": "ticket", metrics.service_label: service.name},
            "annotations": {
                "summary": f"No {metrics.requests} series for {service.name}: its SLOs cannot be evaluated",
            },
        }
        for service in platform.all_services
    ]


# ---- the file's own alerts --------------------------------------------------------------------

_ABSOLUTE_RATE = re.compile(
    r"^\s*rate\s*\(\s*(?P<metric>[a-zA-Z_:][\w:]*)\s*\{(?P<labels>[^}]*)\}\s*\[(?P<window>\w+)\]\s*\)"
    r"\s*(?P<op>>=?)\s*(?P<limit>[\d.]+)\s*$"
)
_STATUS_MATCHER = re.compile(r"\s*,?\s*(?:status|code)\s*=~?\s*(['\"])5[^'\"]*\1\s*,?")
_UNSUMMED_QUANTILE = re.compile(
    r"histogram_quantile\s*\(\s*(?P<q>[\d.]+)\s*,\s*(?P<rate>rate\s*\([^()]*\[\w+\]\s*\))\s*\)"
)


MIN_BAD_EVENTS = 5
"""A corrected alert pages only on the evidence of at least this many bad requests in its window: 5 failed requests
for an error share; for a quantile, ``5 / (1 - q)`` requests in the window (100 for a p95, counted by the ``le="+Inf"``
bucket), so that about 5 of them are in its tail. On a quiet service one stray error (or slow request) is a large
share of a few requests and held for minutes by the rate window: over a quiet week of data
(``benchmarks/alerting.py``) the shares alone paged six times, with this condition none; an outage of a service with
any traffic still pages (``tests/alerting/test_quiet.py``). The SLO burn tiers need as many bad requests in their
long window."""

_RATE = re.compile(r"rate\s*\(\s*(?P<metric>[a-zA-Z_:][\w:]*)\s*(?:\{(?P<labels>[^}]*)\})?\s*\[(?P<window>\w+)\]\s*\)")


def corrected(rule: AlertRule, metrics: MetricNames) -> tuple[str, str, str] | None:
    """``(name, expression, reason)`` of a corrected form of a naive alert, or ``None`` when it is fine."""
    expression = collapse(rule.expression)
    # per service and environment, as the SLO records, Alertmanager's group_by and the inhibit rule's `equal` are:
    # Alertmanager compares label values as they are, so a page without `environment` inhibits nothing of one with it
    service = _by(metrics)
    if (match := _ABSOLUTE_RATE.match(expression)) is not None:
        labels = match["labels"]
        rest = _STATUS_MATCHER.sub(",", labels).strip(" ,")
        errors = f"sum by ({service}) (rate({match['metric']}{{{labels}}}[{match['window']}]))"
        selector = f"{{{rest}}}" if rest else ""
        total = f"sum by ({service}) (rate({match['metric']}{selector}[{match['window']}]))"
        evidence = f"sum by ({service}) (increase({match['metric']}{{{labels}}}[{match['window']}]))"
        return (
            f"{rule.alert}Ratio",
            f"{errors} / ({total} > 0) {match['op']} {match['limit']} and {evidence} >= {MIN_BAD_EVENTS}",
            "The original compares an absolute rate of 5xx responses per second with a number, so it depends on "
            "traffic: a busy service pages on a tiny share of errors and a quiet one never does. This form "
            "compares the share of 5xx responses per service and environment, once at least "
            f"{MIN_BAD_EVENTS} requests failed in the window (one stray error of a quiet service's few requests is no "
            "outage).",
        )
    if (found := _UNSUMMED_QUANTILE.search(expression)) and "by (le" not in expression.replace("by(le", "by (le"):
        fixed = _UNSUMMED_QUANTILE.sub(
            lambda m: f"histogram_quantile({m['q']}, sum by (le, {service}) ({m['rate']}))", expression
        )
        rate = _RATE.match(found["rate"])
        quantile = float(found["q"])
        if rate is not None and 0 < quantile < 1:
            labels = ",".join(part for part in (rate["labels"] or "", 'le="+Inf"') if part.strip())
            requests = f"sum by ({service}) (increase({rate['metric']}{{{labels}}}[{rate['window']}]))"
            fixed = f"({fixed}) and {requests} >= {format_number(round(MIN_BAD_EVENTS / (1 - quantile), 6))}"
        return (
            f"{rule.alert}Aggregated",
            fixed,
            "The original takes a quantile of each series' rate separately (one per pod and label set); this "
            "form sums the buckets by le, service and environment first, giving the quantile of each service, once "
            f"the window holds at least {MIN_BAD_EVENTS} / (1 - q) requests (about {MIN_BAD_EVENTS} in its tail).",
        )
    if (ratio := _CONTAINER_RATIO.match(expression)) is not None:
        return _per_service(rule, ratio, metrics)
    return None


_CONTAINER_RATIO = re.compile(
    r"^\s*(?P<usage>container_\w+)\s*(?:\{(?P<labels>[^}]*)\})?\s*/\s*(?P<limit>container_spec_\w+)\s*"
    r"(?:\{(?P<limit_labels>[^}]*)\})?\s*(?P<op>>=?)\s*(?P<value>[\d.]+)\s*$"
)
"""A ratio of two cAdvisor series (the seed's ``container_memory_usage_bytes / container_spec_memory_limit_bytes``)."""


def _per_service(rule: AlertRule, match: re.Match[str], metrics: MetricNames) -> tuple[str, str, str]:
    """The ratio per container, with its pod's service and environment from kube-state-metrics' ``kube_pod_labels``.

    The kubelet's cAdvisor series carry ``namespace``, ``pod``, ``container``, ``id``, ``image`` and ``name``, no pod
    label (kubernetes/kubernetes#79702); kube-state-metrics exposes a pod's Kubernetes labels on ``kube_pod_labels``
    as ``label_<label>`` (its docs/pod-metrics.md; from v2.0 only those its ``--metric-labels-allowlist`` names).
    The rendered pods carry the ``metrics`` section's service and environment labels (``render/manifests.py``)."""
    container = metrics.container_label
    # the pod's own cgroup (container "") and its pause container ("POD") are not a container of the service; a
    # limit of 0 (no limit, as some runtimes report it) would make a ratio of +Inf
    own = f'{container}!~"|POD"'

    def selector(labels: str | None) -> str:
        return "{" + ",".join(part for part in ((labels or "").strip(" ,"), own) if part) + "}"

    wanted = [label for label in (metrics.service_label, metrics.environment_label) if label]
    pods = f"max by (namespace, pod, {', '.join(f'label_{label}' for label in wanted)}) ({metrics.pod_labels})"
    for label in wanted:
        pods = f'label_replace({pods}, "{label}", "$1", "label_{label}", "(.+)")'
    ratio = f"{match['usage']}{selector(match['labels'])} / ({match['limit']}{selector(match['limit_labels'])} > 0)"
    expression = (
        f"(({ratio}) {match['op']} {match['value']}) * on (namespace, pod) group_left ({', '.join(wanted)}) {pods}"
    )
    return (
        f"{rule.alert}PerService",
        expression,
        "The kubelet's cAdvisor series name their namespace, pod and container, not the service or environment: "
        "the original's alerts carry neither, so they fall in one Alertmanager group and no page of the service "
        "inhibits them. This form takes both from the pod's labels (kube-state-metrics' kube_pod_labels, which "
        f"must be allowed to export them: --metric-labels-allowlist=pods=[{','.join(wanted)}]), and leaves out "
        "the pod's own cgroup, its pause container and containers without a limit.",
    )


def corrected_pairs(platform: Platform) -> list[tuple[str, str, list[str]]]:
    """``(original, corrected, labels)`` for each of the file's alerts that has a corrected form, with the labels
    both carry for the same series (what Alertmanager's inhibit rule compares: ``equal``)."""
    metrics = platform.metrics
    pairs = []
    for group in platform.alerting_rules:
        for rule in group.rules:
            fix = corrected(rule, metrics)
            if fix is not None:
                per_container = fix[0] == f"{rule.alert}PerService"
                # a pod's container alerting holds back the original's alerts of that pod (its cgroup's too)
                labels = ["namespace", "pod"] if per_container else _by(metrics).split(", ")
                pairs.append((rule.alert, fix[0], labels))
    return pairs


def alert_rule_groups(platform: Platform) -> list[dict[str, Any]]:
    """The file's ``alerting_rules`` as configured, and a corrected form beside each naive one, evaluated every 15
    seconds (Prometheus's default is a minute): with Alertmanager's group wait, within the seed's "< 30 seconds for
    alert generation" (:func:`findly_infra.render.alertmanager.timings`)."""
    evaluation, _ = timings(platform.performance_targets.alert_latency)
    groups = []
    for group in platform.alerting_rules:
        rules: list[dict[str, Any]] = []
        for rule in group.rules:
            original = _rule(rule, rule.alert, rule.expression)
            rules.append(original)
            fix = corrected(rule, platform.metrics)
            if fix is not None:
                name, expression, reason = fix
                # the labels Alertmanager's routes and inhibit rules read (render/alertmanager.py): the original no
                # longer pages, and an SLO page of the service holds the corrected form back — one outage, one page
                original["labels"][CORRECTED_BY] = name
                fixed = _rule(rule, name, expression)
                fixed["labels"][CORRECTS] = rule.alert
                fixed["annotations"] = {**fixed.get("annotations", {}), "corrects": rule.alert, "reason": reason}
                rules.append(fixed)
        groups.append({"name": group.name, "interval": prometheus_duration(evaluation), "rules": rules})
    return groups


def _rule(rule: AlertRule, name: str, expression: str) -> dict[str, Any]:
    rendered: dict[str, Any] = {"alert": name, "expr": collapse(expression)}
    if rule.duration.milliseconds:
        rendered["for"] = prometheus_duration(rule.duration)
    labels = {"severity": rule.severity}
    if rule.notification:
        labels["notification"] = rule.notification
    rendered["labels"] = labels
    annotations = {key: value for key, value in (("summary", rule.summary), ("description", rule.description)) if value}
    if annotations:
        rendered["annotations"] = annotations
    return rendered


def prometheus_rule(name: str, groups: list[dict[str, Any]]) -> dict[str, Any]:
    """The Prometheus operator's PrometheusRule object holding *groups*."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "findly-now", "role": "alert-rules"}},
        "spec": {"groups": groups},
    }
