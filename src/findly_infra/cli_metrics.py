"""The commands that read Prometheus: ``analyze`` (a rollout's criteria now) and ``slo status``
(error budgets and burn rates). Thin: the adapter builds the queries, the domain judges."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from findly_infra.cli import _annotate
from findly_infra.cli_release import (
    BadInputError,
    DependencyError,
    _emit,
    _github_output,
    _platform,
    _service,
    _strategy,
    _summary,
)

__all__ = ["COMMANDS", "add_metrics_commands", "prometheus_client", "prometheus_metrics"]


def add_metrics_commands(commands: Any) -> None:
    analyze = commands.add_parser(
        "analyze", help="judge the new version's metrics in Prometheus now: exit 0 pass, 4 fail, 3 inconclusive"
    )
    analyze.add_argument("service")
    analyze.add_argument("--env", required=True)
    analyze.add_argument("--version", help="the version to judge (default: the one rolling out)")
    analyze.add_argument(
        "--current", help="the version to compare with, for '< 1.2x current' criteria (default: the one replaced)"
    )
    analyze.add_argument("--at", help="the time to judge at, ISO 8601 (default: now)")
    analyze.add_argument(
        "--strategy", type=_strategy, help="whose criteria (default: the rollout's, else the environment's)"
    )
    slo = commands.add_parser("slo", help="service level objectives measured in Prometheus")
    actions = slo.add_subparsers(dest="slo_command", metavar="ACTION", required=True)
    status = actions.add_parser(
        "status", help="each SLO's SLI over its window, error budget left, and burn rates over 5m, 1h, 6h and 3d"
    )
    status.add_argument("service")
    status.add_argument("--env", required=True)
    status.add_argument("--at", help="the time to measure at, ISO 8601 (default: now)")


def closing(args: argparse.Namespace, close: Callable[[], None]) -> None:
    """Close a resource when the command ends, however it ends (the command line's ``_run`` does)."""
    args.__dict__.setdefault("close_after", []).append(close)


def _at(args: argparse.Namespace) -> datetime:
    if not args.at:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(args.at)
    except ValueError:
        raise BadInputError(f"--at is an ISO 8601 time such as 2026-11-26T09:00:00Z, got {args.at!r}") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def prometheus_client(args: argparse.Namespace, platform: Any) -> Any:
    """The Prometheus the flags, the environment or the platform file name (``None``: none is named)."""
    from findly_infra.adapters.prometheus import PrometheusClient

    url = getattr(args, "prometheus_url", None) or os.environ.get("FINDLY_PROMETHEUS_URL") or platform.prometheus.url
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise BadInputError(f"--prometheus-url is an http(s) address, got {url!r}")
    token = os.environ.get("FINDLY_PROMETHEUS_TOKEN") or None

    def on_retry(details: Any) -> None:  # logs go to stderr: stdout is the command's (and --json's) own
        from findly_infra.logs import logger

        cause = details.caused_by
        logger().warning(
            "prometheus.retry_scheduled",
            retry=details.retry_num,
            wait_seconds=round(details.wait_for, 3),
            caused_by=f"HTTP {cause.status}" if hasattr(cause, "status") else type(cause).__name__,
        )

    client = PrometheusClient(url, token=token, timeout=platform.prometheus.timeout.seconds, on_retry=on_retry)
    closing(args, client.close)
    return client


def prometheus_metrics(client: Any, platform: Any, service: Any) -> Any:
    """The metrics port on *client*, judging each rollout by its own strategy's criteria."""
    from findly_infra.adapters.prometheus import PrometheusMetrics

    def strategy_of(svc: str, env: str) -> Any:
        rollout = service.pipeline(svc).environments[env].rollout
        return platform.strategy_for(env, rollout.strategy if rollout else None)

    window = timedelta(milliseconds=platform.prometheus.window.milliseconds)
    return PrometheusMetrics(client, platform.metrics, strategy_of, window, platform.canary_strategy)


def _analyze(args: argparse.Namespace, out: IO[str]) -> int:
    from findly_infra.adapters.prometheus import PrometheusMetrics, PrometheusUnavailableError, Target, criterion_query
    from findly_infra.domain.analysis import criteria_for, judge, measured_metrics

    platform = _platform(args)
    service = _service(args, platform)
    metrics = service.metrics
    if not isinstance(metrics, PrometheusMetrics):
        raise BadInputError("analyze needs a Prometheus: --prometheus-url, FINDLY_PROMETHEUS_URL or prometheus.url")
    environment = platform.environment(args.env).name
    rollout = service.pipeline(args.service).environments[environment].rollout
    version = args.version or (rollout.version if rollout and rollout.phase.active else None)
    if version is None:
        raise BadInputError(f"no rollout is under way in {args.env}: name the version with --version")
    state = service.pipeline(args.service).environments[environment]
    current = args.current or (rollout.previous if rollout and rollout.phase.active else state.current)
    at = _at(args)
    strategy = platform.strategy_for(args.env, args.strategy or (rollout.strategy if rollout else None))
    canary = platform.canary_strategy
    checks = measured_metrics(strategy, canary)
    relative = tuple(c.metric for c in criteria_for(strategy, canary) if c.relative)
    target, baseline_target = Target(args.service, environment, version), Target(args.service, environment, current)
    try:
        observation = metrics.observe(target, checks, at)
        baseline = metrics.observe(baseline_target, relative, at) if relative and current else None
    except PrometheusUnavailableError as exc:
        raise DependencyError(str(exc)) from None
    verdict, readings = judge(strategy, canary, observation, baseline)
    rows: list[dict[str, Any]] = []
    for r in readings:
        row = {
            "metric": r.metric,
            "query": criterion_query(r.metric, platform.metrics, target, metrics.window),
            "value": _number(r.value),
            "threshold": r.threshold,
            "verdict": r.verdict.value,
        }
        if r.metric in relative and baseline is not None:
            row["current_query"] = criterion_query(r.metric, platform.metrics, baseline_target, metrics.window)
            row["current_value"] = _number(baseline.get(r.metric))
        rows.append(row)
    requests = observation.get("requests")
    document = {
        "version": version,
        "current": current,
        "at": at.isoformat(),
        "verdict": verdict.value,
        "requests": _number(requests),
        "min_requests": strategy.analysis.min_requests,
        "criteria": rows,
    }
    served = "no" if math.isnan(requests) else f"{requests:.0f}"
    against = f", against {current}" if baseline is not None else ""
    head = (
        f"{args.service} {version} in {args.env} at {at.isoformat()}: {verdict.value} "
        f"({served} requests in the last {platform.prometheus.window.describe()}, at least "
        f"{strategy.analysis.min_requests} needed{against})"
    )
    lines = [
        f"  {row['metric']:22} {_shown(row['metric'], row['value']):>12} {row['threshold']:>24}  {row['verdict']}"
        for row in rows
    ]
    _emit(args, out, document, "\n".join([head, *lines]))
    _github_output(verdict=verdict.value, version=version)
    table = [
        f"| `{r['metric']}` | {_shown(r['metric'], r['value'])} | `{r['threshold']}` | {r['verdict']} |" for r in rows
    ]
    _summary(
        "\n".join(
            [
                f"### Analysis of {args.service} {version} in {args.env}: {verdict.value}",
                f"{served} requests (at least {strategy.analysis.min_requests} needed) at {at.isoformat()}",
                "",
                "| metric | value | threshold | verdict |",
                "|---|---|---|---|",
                *table,
            ]
        )
    )
    if verdict.value != "pass":
        _annotate("warning", f"analysis of {args.service} {version} in {args.env}: {verdict.value}")
    return {"pass": 0, "fail": 4}.get(verdict.value, 3)


def _shown(metric: str, value: float | None) -> str:
    """A reading as a person reads it: ``0.100%``, ``183ms``; ``-`` for no data."""
    from findly_infra.domain.strategy import metric_kind

    if value is None:
        return "-"
    if metric_kind(metric) == "duration":
        return f"{value * 1000:.0f}ms"
    return f"{value:.3%}"


def recorded(args: argparse.Namespace, platform: Any) -> tuple[Any, Any, datetime]:
    """``simulate --replay VERSION --from TIME``: scenarios of what Prometheus recorded of the version
    (and of ``--current``), read with one range query per metric, one value per analysis interval."""
    from findly_infra.adapters.prometheus import PrometheusError, PrometheusMetrics, Target
    from findly_infra.application.simulation import recorded_scenario
    from findly_infra.domain.analysis import criteria_for, measured_metrics

    client = prometheus_client(args, platform)
    if client is None:
        raise BadInputError("--replay needs a Prometheus: --prometheus-url, FINDLY_PROMETHEUS_URL or prometheus.url")
    if not args.replay_from:
        raise BadInputError("--replay needs --from TIME: where the recorded release starts")
    if not 1 <= args.minutes <= 7 * 24 * 60:
        raise BadInputError(f"--minutes is between 1 and {7 * 24 * 60}, got {args.minutes}")
    args.at = args.replay_from
    start = _at(args)
    strategy = platform.strategy_for(args.env, args.strategy)
    window = timedelta(milliseconds=platform.prometheus.window.milliseconds)
    canary = platform.canary_strategy
    metrics = PrometheusMetrics(client, platform.metrics, lambda _service, _environment: strategy, window, canary)
    checks = measured_metrics(strategy, canary)
    step = timedelta(milliseconds=strategy.analysis.interval.milliseconds)
    end = start + timedelta(minutes=args.minutes)
    environment = platform.environment(args.env).name
    relative = tuple(c.metric for c in criteria_for(strategy, canary) if c.relative)

    def record(version: str, measured: tuple[str, ...]) -> Any:
        points = metrics.recorded(Target(args.service, environment, version), measured, start, end, step)
        return recorded_scenario(points, step.total_seconds() / 60)

    try:
        scenario = record(args.replay, checks)
        current = record(args.current, relative) if args.current and relative else None
    except PrometheusError as exc:
        raise DependencyError(str(exc)) from None
    return scenario, current, start.astimezone(UTC).replace(tzinfo=None)


def _slo_status(args: argparse.Namespace, out: IO[str]) -> int:
    from findly_infra.adapters.prometheus import PrometheusBudgets, PrometheusUnavailableError

    platform = _platform(args)
    service = platform.service(args.service).name
    environment = platform.environment(args.env).name
    client = prometheus_client(args, platform)
    if client is None:
        raise BadInputError("slo status needs a Prometheus: --prometheus-url, FINDLY_PROMETHEUS_URL or prometheus.url")
    at = _at(args)
    try:
        report = PrometheusBudgets(client, platform.metrics, platform.slo_definitions).report(service, environment, at)
    except PrometheusUnavailableError as exc:
        raise DependencyError(str(exc)) from None
    document = _report_json(report)
    _emit(args, out, document, _report_text(report))
    _github_output(spent=",".join(document["spent"]), budget_spent="true" if report.spent else "false")
    _summary(_report_markdown(report))
    for status in report.spent:
        _annotate("warning", f"{service} in {environment}: {status.describe()}")
    return 0


def _report_markdown(report: Any) -> str:
    """A GitHub step summary of ``slo status``: one row per SLO."""
    from findly_infra.domain.slo import BURN_WINDOWS

    rows = []
    for status in report.budgets:
        left = "-" if not status.measured else ("**spent**" if status.exhausted else f"{status.remaining:.0%}")
        burns = " | ".join("-" if math.isnan(rate) else f"{rate:.2f}" for _window, rate in status.burn_rates)
        sli = "-" if not status.measured else f"{status.sli:.3%}"
        rows.append(f"| {status.slo.name} | `{status.slo.target.format()}` | {sli} | {left} | {burns} |")
    windows = " | ".join(window.format() for window in BURN_WINDOWS)
    return "\n".join(
        [
            f"### Error budgets of {report.service} in {report.environment}",
            "",
            f"| SLO | objective | SLI | budget left | burn {windows} |",
            "|---|---|---|---|" + "---|" * len(BURN_WINDOWS),
            *rows,
        ]
    )


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value


def _slo_fields(report: Any, status: Any) -> dict[str, Any]:
    """What every SLO's row says, budget or capacity: its name, objective, window and query."""
    window = status.slo.measurement_window
    return {
        "slo": status.slo.name,
        "objective": status.slo.target.format(),
        "window": window.describe(),
        "window_seconds": window.milliseconds / 1000,
        "query": report.queries[status.slo.name],
    }


def _report_json(report: Any) -> dict[str, Any]:
    slos = []
    for status in report.budgets:
        remaining = status.remaining_time
        slos.append(
            {
                **_slo_fields(report, status),
                "sli": _number(status.sli),
                "error_ratio": _number(status.error_ratio),
                "allowed_error_ratio": round(status.target.allowed_error_ratio, 12),
                "budget": status.target.error_budget.format(),
                "budget_remaining": _number(status.remaining),
                "budget_remaining_minutes": None if remaining is None else remaining.milliseconds / 60_000,
                "exhausted": status.exhausted,
                "burn_rates": {window.format(): _number(rate) for window, rate in status.burn_rates},
            }
        )
    capacity = [
        {
            **_slo_fields(report, status),
            "requests_per_second": _number(status.requests_per_second),
            "utilization": _number(status.utilization),
        }
        for status in report.capacities
    ]
    return {
        "service": report.service,
        "environment": report.environment,
        "at": report.at.isoformat(),
        "spent": [status.slo.name for status in report.spent],
        "slos": slos,
        "capacity": capacity,
        "notes": list(report.notes),
    }


def _report_text(report: Any) -> str:
    lines = [f"{report.service} in {report.environment} at {report.at.isoformat()}"]
    for status in report.budgets:
        objective = f"{status.slo.target.format()} over {status.slo.measurement_window.describe()}"
        if status.measured:
            remaining = status.remaining_time
            left = "SPENT" if status.exhausted else f"{status.remaining:.0%} left"
            budget = (
                f"{left} ({remaining.describe() if remaining else '0s'} of {status.target.error_budget.describe()})"
            )
            sli = f"SLI {status.sli:.3%}"
        else:
            budget, sli = "no traffic: nothing spent", "SLI -"
        burns = "  ".join(
            f"{window.format()} {'-' if math.isnan(rate) else f'{rate:.2f}'}" for window, rate in status.burn_rates
        )
        lines.append(f"  {status.slo.name:14} {objective:48} {sli:13} budget {budget}")
        lines.append(f"  {'':14} burn rate  {burns}")
    for status in report.capacities:
        load = "no traffic" if math.isnan(status.requests_per_second) else f"{status.requests_per_second:.1f} req/s"
        share = "" if math.isnan(status.utilization) else f" ({status.utilization:.0%} of capacity)"
        lines.append(f"  {status.slo.name:14} {status.slo.target.format():48} {load}{share}")
    lines += [f"  note: {note}" for note in report.notes]
    return "\n".join(lines)


COMMANDS: dict[str, Callable[[argparse.Namespace, IO[str]], int]] = {
    "analyze": _analyze,
    "slo": _slo_status,
}
