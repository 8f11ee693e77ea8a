"""The commands that read Prometheus: ``analyze`` (a version's criteria now), ``slo status`` (error budgets
and burn rates), and the record a replay reads (``simulate --replay``)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from findly_infra.cli import present
from findly_infra.cli.context import Command, Context, strategy_kind

if TYPE_CHECKING:
    from findly_infra.application.scenarios import Scenario
    from findly_infra.domain.platform import Platform

__all__ = ["COMMANDS", "replayed"]

_NEEDS_PROMETHEUS = "needs a Prometheus: --prometheus-url, FINDLY_PROMETHEUS_URL or prometheus.url"


def _when(context: Context) -> datetime:
    """The time to measure at: ``--at``, else the global ``--now`` (or ``FINDLY_NOW``), else now. The flags
    ``--at`` and ``--now`` naming different times are refused rather than one of them silently ignored."""
    from findly_infra.application.ports import BadInputError

    now = context.settings.now
    if context.args.at is None:
        return datetime.now(UTC) if now is None else now.replace(tzinfo=UTC)
    at = _at(context.args.at)
    if context.args.now and now is not None and now.replace(tzinfo=UTC) != at:
        raise BadInputError(f"--at {context.args.at} and --now {context.args.now} name different times: give one")
    return at


def _at(text: str | None, name: str = "--at") -> datetime:
    """An ISO 8601 time (aware, UTC when no zone is given); now when none is given."""
    from findly_infra.application.ports import BadInputError

    if not text:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise BadInputError(f"{name} is an ISO 8601 time such as 2026-11-26T09:00:00Z, got {text!r}") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _analyze_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", help="the service, as the platform file names it")
    parser.add_argument("--env", required=True, help="the environment, as the platform file names it")
    parser.add_argument("--version", help="the version to judge (default: the one rolling out)")
    parser.add_argument(
        "--current", help="the version to compare with, for '< 1.2x current' criteria (default: the one replaced)"
    )
    parser.add_argument("--at", help="the time to judge at, ISO 8601 (default: --now, else now)")
    parser.add_argument(
        "--strategy", type=strategy_kind, help="whose criteria (default: the rollout's, else the environment's)"
    )


def _analyze(context: Context) -> int:
    from findly_infra.application.analysis import analyze_version
    from findly_infra.application.ports import BadInputError

    args = context.args
    platform = context.platform()
    runtime = context.runtime(platform, service=args.service, read_only=True)
    if not runtime.live_metrics:
        raise BadInputError(f"analyze {_NEEDS_PROMETHEUS}")
    environment = platform.environment(args.env).name
    view = runtime.service.view(args.service, environment)
    rollout = view.rollout if view.rollout and view.rollout.phase.active else None  # the rollout under way
    version = args.version or (rollout.version if rollout else None)
    if version is None:
        raise BadInputError(f"no rollout is under way in {args.env}: name the version with --version")
    current = args.current or (rollout.previous if rollout else (view.serving.version if view.serving else None))
    report = analyze_version(
        platform,
        runtime.service.metrics,
        service=args.service,
        environment=environment,
        version=version,
        at=_when(context),
        current=current,
        strategy=args.strategy or (rollout.strategy if rollout else None),
    )
    describe = runtime.service.metrics.describe
    context.emit(
        present.analysis_json(report, describe), present.analysis_text(report, platform.prometheus.window.describe())
    )
    present.github_output(verdict=report.verdict.value, version=version)
    present.summary(lambda: present.analysis_markdown(report))
    if report.verdict.value != "pass":
        present.annotate("warning", f"analysis of {args.service} {version} in {args.env}: {report.verdict.value}")
    return {"pass": 0, "fail": 4}.get(report.verdict.value, 3)


def _slo_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="slo_command", metavar="ACTION", required=True)
    status = actions.add_parser(
        "status", help="each SLO's SLI over its window, error budget left, and burn rates over 5m, 1h, 6h and 3d"
    )
    status.add_argument("service", help="the service, as the platform file names it")
    status.add_argument("--env", required=True, help="the environment, as the platform file names it")
    status.add_argument("--at", help="the time to measure at, ISO 8601 (default: --now, else now)")


def _slo_status(context: Context) -> int:
    from findly_infra.application.ports import BadInputError

    args = context.args
    platform = context.platform()
    service = platform.service(args.service).name
    environment = platform.environment(args.env).name
    runtime = context.runtime(platform, read_only=True)
    if runtime.slo_reports is None:
        raise BadInputError(f"slo status {_NEEDS_PROMETHEUS}")
    report = runtime.slo_reports.report(service, environment, _when(context))
    document = present.report_json(report)
    context.emit(document, present.report_text(report))
    present.github_output(spent=",".join(document["spent"]), budget_spent="true" if report.spent else "false")
    present.summary(lambda: present.report_markdown(report))
    for status in report.spent:
        present.annotate("warning", f"{service} in {environment}: {status.describe()}")
    return 0


def replayed(context: Context, platform: Platform) -> tuple[Scenario, Scenario | None, datetime]:
    """``simulate --replay VERSION --from TIME``: what Prometheus recorded of the version (and of
    ``--current``), as scenarios, and the time the recorded release started (naive UTC)."""
    from findly_infra.application.ports import BadInputError
    from findly_infra.application.replay import recorded_release

    args = context.args
    runtime = context.runtime(platform, read_only=True)
    if runtime.metrics_record is None:
        raise BadInputError(f"--replay {_NEEDS_PROMETHEUS}")
    if not args.replay_from:
        raise BadInputError("--replay needs --from TIME: where the recorded release starts")
    start = _at(args.replay_from, "--from")
    scenario, current = recorded_release(
        platform,
        runtime.metrics_record,
        service=args.service,
        environment=args.env,
        version=args.replay,
        start=start,
        minutes=args.minutes,
        current=args.current,
        strategy=args.strategy,
    )
    return scenario, current, start.astimezone(UTC).replace(tzinfo=None)


COMMANDS: tuple[Any, ...] = (
    Command(
        "analyze",
        "judge the new version's metrics in Prometheus now: exit 0 pass, 4 fail, 3 inconclusive",
        _analyze_arguments,
        _analyze,
    ),
    Command("slo", "service level objectives measured in Prometheus", _slo_arguments, _slo_status),
)
