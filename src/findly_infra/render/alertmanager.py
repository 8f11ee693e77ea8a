"""An Alertmanager configuration from the platform file: the rendered alert rules page someone.

Routes send a file's alert that has a corrected form (label ``corrected_by``) to the warnings' receiver, then follow
each rule's ``notification:`` (the seed: ``pagerduty`` on critical alerts, ``slack`` on warnings) to a receiver of the
same name, typed as ``notifications.receivers`` declares it (else ``slack``/``pagerduty`` by name), then its
``severity`` for rules that name no receiver (the SLO burn alerts' ``page`` and ``ticket``). Inhibit rules hold back
what would page twice for one outage. Pure and deterministic; see ``docs/alerting.md`` ("Pages from the alert rules")
for the reasoning.

No secret is written: each receiver reads its URL or key from a file (``api_url_file``, ``routing_key_file``,
``url_file``) mounted from the Kubernetes Secret :data:`SECRET`. ``routing_key_file`` needs Alertmanager 0.25
(``config/notifiers.go`` at tag v0.25.0 is the first to have it; ``api_url_file`` is there from v0.22.0), and a
webhook's ``url_file`` needs 0.26 (first at v0.26.0) — so the seed's receivers need 0.25, a webhook receiver 0.26.
``validate`` refuses a ``notification:`` that is none of these (rule ``alert-receivers``).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from findly_infra.domain.notation import Duration
from findly_infra.domain.notifications import NotificationSettings
from findly_infra.domain.platform import Platform
from findly_infra.render.paging import BURN_ALERT, CORRECTED_BY, CORRECTS, timings
from findly_infra.render.rules import corrected_pairs

__all__ = [
    "ALERTMANAGER_TYPES",
    "BURN_ALERT",
    "CORRECTED_BY",
    "CORRECTS",
    "GROUP_INTERVAL",
    "MIN_VERSION",
    "REPEAT_INTERVAL",
    "SECRET",
    "SECRET_FOLDER",
    "alertmanager_config",
    "receiver",
    "receiver_type",
    "secret_keys",
    "timings",
]

SECRET = "alertmanager-receivers"
"""The Kubernetes Secret (in Alertmanager's namespace) whose keys hold the receivers' URLs and keys."""
SECRET_FOLDER = f"/etc/alertmanager/secrets/{SECRET}"
"""Where it is mounted: the Prometheus Operator mounts each Secret an ``Alertmanager`` lists in ``spec.secrets`` at
``/etc/alertmanager/secrets/<name>``; a hand-written StatefulSet mounts it at the same path."""
MIN_VERSION = {"slack": "0.22", "pagerduty": "0.25", "webhook": "0.26"}
"""The first Alertmanager release that reads each receiver type's secret from a file (``config/notifiers.go``)."""
GROUP_INTERVAL = Duration.of(minutes=1)
"""After a group's first notification, a new alert in it (another pod of the service) or its resolution is sent
within a minute (Alertmanager's default, 5 minutes, would tell the on-call engineer of a recovery five minutes late)."""
REPEAT_INTERVAL = Duration.of(hours=4)
"""A page still firing is sent again after four hours (Alertmanager's default)."""

_SEVERITY_ALIASES = {"page": "critical", "ticket": "warning"}
"""The SLO burn alerts' severities (``render/rules.py``) route as the file's own critical and warning alerts do."""
_PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")
"""The severities the PagerDuty Events API v2 accepts (payload.severity); any other is refused with 400:
https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ ("severity": critical, error, warning or info)."""
_LEVELS = {"critical": ["critical", "page"], "warning": ["ticket", "warning"]}
"""A critical alert (or an SLO page) for a service inhibits its warnings (and SLO tickets)."""
_DEFAULT = "default"
_NO_RECEIVERS = NotificationSettings()


ALERTMANAGER_TYPES = ("slack", "pagerduty", "webhook")
"""The receiver types rendered: a Slack incoming webhook, PagerDuty's Events API v2, Alertmanager's own webhook."""


def receiver_type(name: str, notifications: NotificationSettings = _NO_RECEIVERS) -> str | None:
    """The type of the receiver *name*: the one ``notifications.receivers`` declares for it, else ``slack`` or
    ``pagerduty`` by the name itself (the seed's ``notification:`` fields); ``None`` for any other name —
    ``validate`` refuses it (rule ``alert-receivers``)."""
    declared = notifications.receiver(name)
    if declared is not None:
        return declared.type.value
    return name if name in {"slack", "pagerduty"} else None


def _kind(name: str, notifications: NotificationSettings) -> str:
    # an unknown name renders as a webhook only for a platform ``validate`` has not passed (render refuses it)
    return receiver_type(name, notifications) or "webhook"


def secret_keys(name: str, notifications: NotificationSettings = _NO_RECEIVERS) -> dict[str, str]:
    """The keys of :data:`SECRET` the receiver *name* reads, each with what it holds."""
    kind = _kind(name, notifications)
    if kind == "slack":
        return {f"{name}-api-url": "the Slack incoming webhook's URL (https://hooks.slack.com/services/…)"}
    if kind == "pagerduty":
        return {f"{name}-routing-key": "the PagerDuty Events API v2 integration (routing) key"}
    return {f"{name}-url": f"the URL the {name} webhook receives Alertmanager's notifications at"}


def receiver(name: str, notifications: NotificationSettings = _NO_RECEIVERS) -> dict[str, Any]:
    """The receiver *name* as Alertmanager configures it, its secrets read from files of :data:`SECRET`.

    The one place that maps a receiver's name to its configuration: by its type in the platform file's
    ``notifications.receivers`` where it is declared there, else ``slack`` and ``pagerduty`` by their names (as
    the seed's ``notification:`` fields write them); a ``webhook`` receiver gets Alertmanager's own webhook format
    (not the signed body findly-infra's own notifications send)."""
    (key,) = secret_keys(name, notifications)
    path = f"{SECRET_FOLDER}/{key}"
    kind = _kind(name, notifications)
    if kind == "slack":
        return {"name": name, "slack_configs": [{"api_url_file": path, "send_resolved": True}]}
    if kind == "pagerduty":
        severity = (
            "{{ if eq .CommonLabels.severity "
            + " ".join(f'"{s}"' for s in _PAGERDUTY_SEVERITIES)
            + " }}{{ .CommonLabels.severity }}{{ else if eq .CommonLabels.severity "
            + " ".join(f'"{alias}"' for alias, s in _SEVERITY_ALIASES.items() if s == "warning")
            + " }}warning{{ else }}critical{{ end }}"
        )
        return {
            "name": name,
            "pagerduty_configs": [{"routing_key_file": path, "severity": severity, "send_resolved": True}],
        }
    return {"name": name, "webhook_configs": [{"url_file": path, "send_resolved": True}]}


def _matcher(label: str, values: list[str]) -> str:
    """``label="value"`` or ``label=~"a|b"``, the value quoted as Alertmanager's matchers read it (a double-quoted
    string with ``\\\\``, ``\\"`` and ``\\n`` escapes: https://prometheus.io/docs/alerting/latest/configuration/#matcher)."""
    if len(values) == 1:
        return f"{label}={_quoted(values[0])}"
    return f"{label}=~{_quoted('|'.join(_regex(v) for v in values))}"


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _regex(value: str) -> str:
    return "".join(f"\\{c}" if c in ".^$*+?()[]{}|\\" else c for c in value)


def alertmanager_config(platform: Platform) -> dict[str, Any]:
    """The Alertmanager configuration (``alertmanager.yml``) for the platform's alert rules."""
    rules = [rule for group in platform.alerting_rules for rule in group.rules]
    named = sorted({rule.notification for rule in rules if rule.notification})
    # each severity goes where the file's rules of that severity say (the most named receiver; ties by name)
    by_severity: dict[str, str] = {}
    for severity in sorted({rule.severity for rule in rules}):
        counts = Counter(rule.notification for rule in rules if rule.severity == severity and rule.notification)
        if counts:
            by_severity[severity] = min(counts, key=lambda name: (-counts[name], name))
    for alias, severity in _SEVERITY_ALIASES.items():
        if severity in by_severity and alias not in by_severity:
            by_severity[alias] = by_severity[severity]
    default = by_severity.get("warning") or (named[0] if named else _DEFAULT)
    metrics = platform.metrics
    labels = [label for label in (metrics.service_label, metrics.environment_label) if label]
    _, group_wait = timings(platform.performance_targets.alert_latency)  # (the evaluation interval: the rules')
    routes: list[dict[str, Any]] = [
        # first: a file's alert whose corrected form is rendered beside it no longer pages (the corrected form and
        # the SLO burn alerts do); it goes to the warnings' receiver, until it is deleted from the file
        {"matchers": [f'{CORRECTED_BY}=~".+"'], "receiver": default},
        *({"matchers": [_matcher("notification", [name])], "receiver": name} for name in named),
    ]
    for name in sorted(set(by_severity.values())):
        severities = sorted(s for s, target in by_severity.items() if target == name)
        routes.append({"matchers": [_matcher("severity", severities)], "receiver": name})
    config: dict[str, Any] = {
        "route": {
            "receiver": default,
            # one group per alert and service (and environment): each new problem is its own page, sent after
            # group_wait; grouped by service alone, a second alert of a service would wait for group_interval
            "group_by": ["alertname", *labels],
            "group_wait": group_wait.format(),
            "group_interval": GROUP_INTERVAL.format(),
            "repeat_interval": REPEAT_INTERVAL.format(),
            "routes": routes,
        },
        # with no receiver named anywhere, one that sends nothing (Alertmanager needs a root receiver)
        "receivers": [receiver(name, platform.notifications) for name in named] if named else [{"name": _DEFAULT}],
    }
    if rules and metrics.service_label:
        config["inhibit_rules"] = [
            {
                # a critical without the service label (a whole cluster's) inhibits nothing: Alertmanager reads a
                # missing label as equal to another missing one
                "source_matchers": [_matcher("severity", _LEVELS["critical"]), f'{metrics.service_label}=~".+"'],
                "target_matchers": [_matcher("severity", _LEVELS["warning"])],
                "equal": labels,
            },
            {
                # an SLO page inhibits the corrected forms of the file's alerts for the same service: one outage,
                # one page (the SLO page, with no `for:` and a lower threshold, fires first for the seed's)
                "source_matchers": [
                    _matcher("alertname", [BURN_ALERT]),
                    _matcher("severity", ["page"]),
                    f'{metrics.service_label}=~".+"',
                ],
                "target_matchers": [f'{CORRECTS}=~".+"'],
                "equal": list(labels),
            },
        ]
    # a corrected form firing holds back its original for the same series: it tells the same thing, better
    for original, fixed, equal in corrected_pairs(platform):
        config.setdefault("inhibit_rules", []).append(
            {
                "source_matchers": [_matcher("alertname", [fixed])],
                "target_matchers": [_matcher("alertname", [original])],
                "equal": equal,
            }
        )
    return config
