"""The release commands of the command line: deploy, promote, record, approve, rollout, the human
gates, status, history, simulate and demo. Part of the composition root (see ``cli.py``)."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

__all__ = ["COMMANDS", "add_release_commands"]

DEFAULT_STATE = ".findly/state.sqlite3"
SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")


class BadInputError(Exception):
    """Raised when a release command's input is wrong (exit 2)."""


class DependencyError(Exception):
    """Raised when a dependency (Prometheus) cannot be reached after retries (exit 5)."""


def _strategy(value: str) -> Any:
    from findly_infra.domain.environment import StrategyKind

    try:
        return StrategyKind(value)
    except ValueError:
        raise argparse.ArgumentTypeError("expected rolling, blue-green or canary") from None


def add_release_commands(commands: Any) -> None:  # noqa: PLR0915 - one flat list of the commands' options
    def command(name: str, help_text: str, *, service: bool = True, version: bool = False) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = commands.add_parser(name, help=help_text)
        if service:
            parser.add_argument("service")
        if version:
            parser.add_argument("version")
        return parser

    deploy = command("deploy", "deploy a version into an environment (exit 3 when a rule refuses)", version=True)
    deploy.add_argument("--env", required=True)
    promote = command("promote", "promote a version into the next environment", version=True)
    promote.add_argument("--to", required=True, dest="env")
    for parser in (deploy, promote):
        parser.add_argument("--strategy", type=_strategy, help="rolling, blue-green or canary, for this release")
        parser.add_argument("--override-budget", metavar="REASON", help="promote although the error budget is spent")
        parser.add_argument("--budget-spent", action="store_true", help="the environment's error budget is spent")
    record = command("record", "record a test result for a version", version=True)
    record.add_argument("--env", required=True)
    record.add_argument("--suite", required=True)
    result = record.add_mutually_exclusive_group(required=True)
    result.add_argument("--passed", action="store_true")
    result.add_argument("--failed", action="store_true")
    result.add_argument("--junit", metavar="FILE", help="a JUnit XML report: passed when it has no failure or error")
    result.add_argument(
        "--trivy", metavar="FILE", help="a Trivy JSON report: passed when no finding reaches --max-severity"
    )
    record.add_argument("--max-severity", default="HIGH", choices=SEVERITIES)
    approve = command("approve", "approve a version for an environment", version=True)
    approve.add_argument("--env", required=True)
    approve.add_argument("--group")
    rollout = command("rollout", "run one analysis step of the rollout, or all of them with --watch")
    rollout.add_argument("--env", required=True)
    rollout.add_argument("--watch", action="store_true")
    rollout.add_argument(
        "--scenario", default=None, help="scripted metrics for the simulated cluster (default healthy)"
    )
    for name in ("pause", "resume", "abort", "rollback"):
        gate = command(name, f"{name} the rollout in an environment")
        gate.add_argument("--env", required=True)
        gate.add_argument("--reason", required=name != "resume", default="")
    status = command("status", "per environment: version, phase and traffic weight", service=False)
    status.add_argument("service", nargs="?")
    status.add_argument("--env")
    command("history", "the service's events: the audit trail")
    simulate = command("simulate", "a release in memory and virtual time against scripted metrics")
    simulate.add_argument("--env", required=True)
    simulate.add_argument("--scenario", default="healthy")
    simulate.add_argument("--scenario-file", metavar="FILE", help="YAML or JSON: a list of {minute, metric: value}")
    simulate.add_argument("--seed", type=int)
    simulate.add_argument(
        "--replay", metavar="VERSION", help="judge what Prometheus recorded of VERSION from --from (needs a Prometheus)"
    )
    simulate.add_argument("--from", dest="replay_from", metavar="TIME", help="where the replay starts, ISO 8601")
    simulate.add_argument("--minutes", type=int, default=120, help="how much of the record to replay (default 120)")
    simulate.add_argument("--current", metavar="VERSION", help="the version replaced, for '< 1.2x current' criteria")
    simulate.add_argument("--strategy", type=_strategy)
    simulate.add_argument(
        "--no-human-approvals", action="store_true", help="nobody passes the rollout's manual gates (it waits)"
    )
    github = command(
        "github", "deploy to the environment whose deployment_trigger matches this GitHub event", version=True
    )
    github.add_argument("--strategy", type=_strategy)
    github.add_argument("--default-branch", default=os.environ.get("FINDLY_DEFAULT_BRANCH", "main"))
    demo = command(
        "demo", "the whole story on a fresh embedded state: promotions, approvals, a canary, a rollback", service=False
    )
    demo.add_argument("--service", default="fn-posts")


# ---- composition -----------------------------------------------------------------------------


def _platform(args: argparse.Namespace) -> Any:
    from findly_infra.cli import _config_path
    from findly_infra.config.loader import validate_platform

    path = _config_path(args)
    if (
        not path.exists()
        and args.command in ("demo", "simulate")
        and not args.config
        and not os.environ.get("FINDLY_CONFIG")
    ):
        from findly_infra.config.loader import validate_platform_text
        from findly_infra.examples import example_platform_text

        report = validate_platform_text(example_platform_text(), source="the embedded example platform file")
        if report.platform is not None:
            return report.platform
    report = validate_platform(path)
    if report.platform is None:
        raise BadInputError("\n".join([f"{path} is not valid:", *(f"  {problem}" for problem in report.errors)]))
    return report.platform


def now_given(args: argparse.Namespace) -> datetime | None:
    """``--now`` (or ``$FINDLY_NOW``) as naive UTC, or ``None`` when neither is given."""
    text = getattr(args, "now", None) or os.environ.get("FINDLY_NOW")
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise BadInputError(f"--now is an ISO 8601 time such as 2026-11-26T09:00:00Z, got {text!r}") from None
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at


def _actor(args: argparse.Namespace) -> str:
    actor = getattr(args, "actor", None) or os.environ.get("FINDLY_ACTOR") or os.environ.get("GITHUB_ACTOR")
    if not actor:
        raise BadInputError("who is acting? give --actor NAME, or set FINDLY_ACTOR (GITHUB_ACTOR in Actions)")
    return str(actor)


def _service(args: argparse.Namespace, platform: Any, *, scenario: str | None = None, scripted: bool = False) -> Any:
    """The pipeline service on the state the flags name, with the simulated cluster.

    Metrics come from Prometheus when one is named (on the real clock, or virtual time from ``--now``),
    else from the scripted scenario in virtual time; ``scripted`` ignores any Prometheus (the demo).
    """
    from findly_infra.adapters.memory import MemoryEventStore, SimulatedCluster, SystemClock, VirtualClock
    from findly_infra.application.service import PipelineService
    from findly_infra.application.simulation import SCENARIOS, ScenarioMetrics

    state = args.state or os.environ.get("FINDLY_STATE") or DEFAULT_STATE
    if state == "memory://":
        store: Any = MemoryEventStore()
        traffic: Any = SimulatedCluster()
    else:
        from findly_infra.adapters.sqlite import SqliteEventStore, SqliteTrafficRouter

        store = SqliteEventStore(state.removeprefix("sqlite://"))
        traffic = SqliteTrafficRouter(store)
    from findly_infra.cli_metrics import prometheus_client

    prometheus = None if scripted else prometheus_client(args, platform)
    name = scenario or os.environ.get("FINDLY_SCENARIO") or "healthy"
    if name not in SCENARIOS:
        raise BadInputError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    given = now_given(args)
    latest = given or datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    service_name = getattr(args, "service", None)
    if service_name:
        events = store.load(service_name)[0]
        if events:
            latest = max(latest, *(event.at for event in events))
    # Live metrics run on the real clock; scripted metrics, and replays (--now), on virtual time,
    # which never runs backwards across invocations.
    clock: Any = SystemClock() if prometheus is not None and given is None else VirtualClock(latest)
    metrics = ScenarioMetrics(platform, SCENARIOS[name])
    service = PipelineService(platform, store, clock, metrics, traffic)
    if prometheus is not None:  # live data when a Prometheus is named; scripted metrics otherwise
        from findly_infra.adapters.prometheus import PrometheusBudgets
        from findly_infra.cli_metrics import prometheus_metrics

        service.metrics = prometheus_metrics(prometheus, platform, service)
        service.budgets = PrometheusBudgets(prometheus, platform.metrics, platform.slo_definitions)

    def started(svc: str, env: str) -> datetime | None:
        rollout = service.pipeline(svc).environments[env].rollout
        metrics.strategies[(svc, env)] = rollout.strategy if rollout else platform.environment(env).strategy
        return rollout.started if rollout else None

    metrics.started_at = started
    return service


def _emit(args: argparse.Namespace, out: IO[str], document: dict[str, Any], text: str) -> None:
    if args.json:
        out.write(json.dumps({"ok": True, **document}, indent=2, default=str) + "\n")
    else:
        out.write(text + ("\n" if text and not text.endswith("\n") else ""))


def _github_output(**values: str) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if os.environ.get("GITHUB_ACTIONS") == "true" and path:
        with open(path, "a", encoding="utf-8") as output:
            for key, value in values.items():
                output.write(f"{key}={value}\n")


def _summary(markdown: str) -> None:
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if os.environ.get("GITHUB_ACTIONS") == "true" and path:
        with open(path, "a", encoding="utf-8") as summary:
            summary.write(markdown + "\n")


def _outcome_text(outcome: Any) -> str:
    return f"{outcome.phase.value} (version {outcome.version or '-'}, weight {outcome.weight}%)"


# ---- commands ----------------------------------------------------------------------------------


def _deploy(args: argparse.Namespace, out: IO[str]) -> int:
    platform = _platform(args)
    service = _service(args, platform)
    outcome = service.deploy(
        args.service,
        args.version,
        args.env,
        actor=_actor(args),
        strategy=args.strategy,
        budget_override=args.override_budget,
        budget_spent=args.budget_spent,
    )
    _github_output(phase=outcome.phase.value, version=args.version, outcome="started")
    _emit(args, out, _outcome_json(outcome), f"{args.service} {args.version} -> {args.env}: {_outcome_text(outcome)}")
    return 0


def _record(args: argparse.Namespace, out: IO[str]) -> int:
    passed, detail = _test_result(args)
    platform = _platform(args)
    _service(args, platform).record_test(args.service, args.version, args.env, args.suite, passed, actor=_actor(args))
    verdict = "passed" if passed else "failed"
    _emit(
        args,
        out,
        {"suite": args.suite, "passed": passed, "detail": detail},
        f"{args.service} {args.version} in {args.env}: {args.suite} {verdict}{f' ({detail})' if detail else ''}",
    )
    return 0


def _test_result(args: argparse.Namespace) -> tuple[bool, str]:
    if args.passed or args.failed:
        return bool(args.passed), ""
    path = Path(args.junit or args.trivy)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInputError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(text) > 50 * 1024 * 1024:
        raise BadInputError(f"{path} is over 50 MiB")
    if args.junit:
        return _junit(path, text)
    return _trivy(path, text, args.max_severity)


def _junit(path: Path, text: str) -> tuple[bool, str]:
    from xml.etree import ElementTree

    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise BadInputError(f"{path}: a JUnit report has no DTD or entities")
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise BadInputError(f"{path} is not JUnit XML: {exc}") from None
    suites = [root] if root.tag == "testsuite" else root.findall(".//testsuite")
    if root.tag not in ("testsuite", "testsuites"):
        raise BadInputError(f"{path} is not a JUnit report (root <{root.tag}>)")
    tests = failures = 0
    for suite in suites:
        cases = suite.findall("testcase")
        tests += len(cases)
        failures += sum(1 for case in cases if case.find("failure") is not None or case.find("error") is not None)
    if tests == 0:
        return False, "no test ran"  # an empty report is not a pass
    return failures == 0, f"{tests - failures}/{tests} passed"


def _trivy(path: Path, text: str, max_severity: str) -> tuple[bool, str]:
    try:
        report = json.loads(text)
        results = report.get("Results") or []
        found = [v.get("Severity", "UNKNOWN") for result in results for v in (result.get("Vulnerabilities") or [])]
    except (ValueError, AttributeError, TypeError):
        raise BadInputError(f"{path} is not a Trivy JSON report") from None
    limit = SEVERITIES.index(max_severity)
    blocking = [s for s in found if s in SEVERITIES and SEVERITIES.index(s) >= limit]
    return not blocking, f"{len(found)} findings, {len(blocking)} at {max_severity} or above"


def _approve(args: argparse.Namespace, out: IO[str]) -> int:
    platform = _platform(args)
    actor = _actor(args)
    outcome = _service(args, platform).approve(args.service, args.version, args.env, actor=actor, group=args.group)
    _emit(args, out, _outcome_json(outcome), f"{actor} approved {args.service} {args.version} for {args.env}")
    return 0


def _rollout(args: argparse.Namespace, out: IO[str]) -> int:
    platform = _platform(args)
    service = _service(args, platform, scenario=args.scenario)
    actor = _actor(args)
    lines: list[str] = []

    live = not args.json and out.isatty()

    def show(outcome: Any) -> None:
        line = f"{outcome.events[-1].at.isoformat() if outcome.events else ''}  {_outcome_text(outcome)}"
        lines.append(line)
        if live:  # one line that updates in place, with a bar of the new version's share
            bar = "#" * (outcome.weight // 5)
            out.write(f"\r\033[K[{bar:<20}] {line}")
            if outcome.phase.value != "progressing":
                out.write("\n")
            out.flush()
        elif not args.json:
            out.write(line + "\n")
            out.flush()
        else:  # stdout is the one JSON document at the end: the steps go to the log as they happen
            from findly_infra.logs import logger

            verdicts = [e.verdict.value for e in outcome.events if hasattr(e, "verdict")]
            logger().info(
                "rollout.step",
                service=args.service,
                environment=args.env,
                version=outcome.version,
                phase=outcome.phase.value,
                weight=outcome.weight,
                verdict=verdicts[-1] if verdicts else None,
                at=outcome.events[-1].at.isoformat() if outcome.events else None,
            )

    virtual = hasattr(service.clock, "advance")  # scripted metrics or a replay; else live, on the real clock
    if args.watch:
        delay = float(os.environ.get("FINDLY_STEP_DELAY") or 0)  # real seconds per virtual step, to watch it live
        tick = time.monotonic()

        def wait(interval: timedelta) -> None:
            nonlocal tick
            if not virtual:  # live: one analysis per interval, whatever each one took (no bursts after a slow one)
                tick = max(tick + interval.total_seconds(), time.monotonic())
                time.sleep(max(0.0, tick - time.monotonic()))
                return
            service.clock.advance(interval)
            if delay > 0:
                time.sleep(delay)

        outcome = service.watch(args.service, args.env, actor=actor, wait=wait, on_step=show)
    else:
        if virtual:
            service.clock.advance(service.interval(args.env, args.service))
        outcome = service.step(args.service, args.env, actor=actor)
        show(outcome)
    rolled_back = outcome.phase.value in ("rolled_back", "aborted")
    _github_output(
        phase=outcome.phase.value,
        version=outcome.version or "",
        outcome="rolled_back" if rolled_back else outcome.phase.value,
    )
    _summary(_rollout_summary(args.service, args.env, service.history(args.service)))
    if args.json:
        _emit(args, out, _outcome_json(outcome), "")
    return 4 if rolled_back else 0


def _gate(name: str) -> Callable[[argparse.Namespace, IO[str]], int]:
    def run(args: argparse.Namespace, out: IO[str]) -> int:
        platform = _platform(args)
        service = _service(args, platform)
        outcome = getattr(service, name)(args.service, args.env, actor=_actor(args), reason=args.reason)
        _emit(args, out, _outcome_json(outcome), f"{args.service} in {args.env}: {_outcome_text(outcome)}")
        return 0

    return run


def _status(args: argparse.Namespace, out: IO[str]) -> int:
    platform = _platform(args)
    names = [args.service] if args.service else [s.name for s in platform.all_services]
    document: dict[str, Any] = {}
    lines = []
    for name in names:
        args.service = name
        status = _service(args, platform).status(name)
        if args.env:
            platform.environment(args.env)
            status = {args.env: status[args.env]}
        document[name] = status
        for env, row in status.items():
            lines.append(f"{name:18} {env:12} {row['phase']:18} {row['version'] or '-':12} {row['weight']:>3}%")
    _emit(args, out, {"services": document}, "\n".join(lines))
    return 0


def _history(args: argparse.Namespace, out: IO[str]) -> int:
    from findly_infra.application.codec import event_to_dict

    platform = _platform(args)
    events = _service(args, platform).history(args.service)
    lines = [
        f"{e.at.isoformat()}  {e.environment:12} {e.version:10} {e.type:20} {e.actor:12} {e.reason}" for e in events
    ]
    _emit(args, out, {"events": [event_to_dict(e) for e in events]}, "\n".join(lines) or "no events")
    return 0


def _simulate(args: argparse.Namespace, out: IO[str]) -> int:
    from findly_infra.application.simulation import SCENARIOS, scenario_from_points, simulate

    platform = _platform(args)
    platform.service(args.service)
    platform.environment(args.env)
    current, start = None, None
    if args.replay:
        from findly_infra.cli_metrics import recorded

        scenario, current, start = recorded(args, platform)
    elif args.scenario_file:
        scenario = _scenario_file(Path(args.scenario_file), scenario_from_points)
    elif args.scenario in SCENARIOS:
        scenario = SCENARIOS[args.scenario]
    else:
        raise BadInputError(f"unknown scenario {args.scenario!r}; known: {', '.join(SCENARIOS)}")
    result = simulate(
        platform,
        args.service,
        args.env,
        scenario,
        strategy=args.strategy,
        seed=args.seed,
        human_approvals=not args.no_human_approvals,
        current_scenario=current,
        rollout_start=start,
        **({"version": args.replay} if args.replay else {}),
        **({"baseline": args.current} if args.replay and args.current and args.current != args.replay else {}),
    )
    if args.json:
        out.write(json.dumps(result.to_json(), indent=2) + "\n")
    else:
        for step in result.steps:
            extra = " ".join(f"{k}={v}" for k, v in step.items() if k not in ("at", "type"))
            out.write(f"{step['at']}  {step['type']:18} {extra}\n")
        out.write(f"outcome: {result.outcome} after {timedelta(seconds=result.virtual_seconds)} of virtual time\n")
    _summary(_rollout_summary(args.service, args.env, list(result.events)))
    _github_output(outcome=result.outcome, phase=result.outcome, version=args.replay or "2.0.0")
    return 0


def _scenario_file(path: Path, build: Callable[[list[Any]], Any]) -> Any:
    from findly_infra.config.document import DocumentError, read_document

    try:
        data = read_document(path).data
    except DocumentError as exc:
        raise BadInputError(f"{path}: {exc.message}") from None
    if not isinstance(data, list) or not all(isinstance(p, dict) for p in data):
        raise BadInputError(f"{path}: a scenario is a list of points such as {{minute: 5, error_rate: 0.02}}")
    for index, point in enumerate(data):
        for key, value in point.items():
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise BadInputError(f"{path}: [{index}].{key}: expected a number, got {value!r}")
    return build(data)


def _outcome_json(outcome: Any) -> dict[str, Any]:
    from findly_infra.application.codec import event_to_dict

    return {
        "phase": outcome.phase.value,
        "version": outcome.version,
        "weight": outcome.weight,
        "events": [event_to_dict(e) for e in outcome.events],
    }


def _rollout_summary(service: str, environment: str, events: list[Any]) -> str:
    """A GitHub step summary: the steps as a table and the traffic weight as a Mermaid chart."""
    mine = [e for e in events if e.environment == environment]
    rows = ["| time | event | version | detail |", "|---|---|---|---|"]
    weights: list[int] = []
    errors: list[str] = []
    weight = 0
    for event in mine[-60:]:
        readings = {r.metric: r.value for r in getattr(event, "readings", ())}
        error = readings.get("error_rate")
        if event.type == "analysis_recorded":
            errors.append("0" if error is None or math.isnan(error) else f"{error * 100:.3g}")
        detail = getattr(event, "weight", None)
        if detail is not None:
            weight = detail
        if event.type in ("rolled_back", "rollout_aborted"):
            weight = 0
        if event.type == "analysis_recorded":
            detail = event.verdict.value
        weights.append(weight)
        shown = detail if detail is not None else event.reason
        rows.append(f"| {event.at.isoformat()} | {event.type} | {event.version} | {shown} |")
    chart = [
        "```mermaid",
        "xychart-beta",
        f'  title "{service} in {environment}: traffic to the new version (%)"',
        f"  x-axis [{', '.join(str(i) for i in range(len(weights)))}]",
        '  y-axis "weight" 0 --> 100',
        f"  line [{', '.join(str(w) for w in weights)}]",
        "```",
    ]
    if errors:
        chart += [
            "```mermaid",
            "xychart-beta",
            f'  title "{service} in {environment}: error rate of the new version at each analysis (%)"',
            f"  x-axis [{', '.join(str(i) for i in range(len(errors)))}]",
            f"  line [{', '.join(errors)}]",
            "```",
        ]
    return "\n".join([f"### {service} in {environment}", "", *rows, "", *chart])


def _demo(args: argparse.Namespace, out: IO[str]) -> int:
    """The whole story on a fresh embedded state, readable to a person."""
    from findly_infra.application.service import PolicyRefusedError
    from findly_infra.domain.environment import StrategyKind

    platform = _platform(args)
    name = args.service
    state = Path(args.state or ".findly/demo.sqlite3")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{state}{suffix}").unlink(missing_ok=True)
    args.state = str(state)
    args.service = name

    def say(text: str) -> None:
        out.write(text + "\n")

    def watch(service: Any, env: str) -> Any:
        return service.watch(name, env, actor="findly", wait=service.clock.advance)

    service = _service(args, platform, scripted=True)
    v1, v2 = "1.4.0", "1.5.0"
    say(f"state: {state} (SQLite, the embedded default); virtual time; scripted metrics\n")
    for env in platform.promotion_order[:-1]:
        service.deploy(name, v1, env, actor="erin")
        say(f"{env:12} {v1}: {_outcome_text(watch(service, env))}")
        for suite in platform.environment(env).tests:
            service.record_test(name, v1, env, suite, True, actor="ci")
        say(f"{'':12} tests recorded: {', '.join(platform.environment(env).tests)}")
    production = platform.promotion_order[-1]
    try:
        service.deploy(name, v1, production, actor="erin", strategy=StrategyKind.CANARY)
    except PolicyRefusedError as refused:
        say(f"{production:12} promotion refused by rule '{refused.refusal.rule}': {refused.refusal.message}")
    env = platform.environment(production)
    for group in env.approvers:
        person = next(m for m in platform.approver_group(group).members if m != "erin")
        service.approve(name, v1, production, actor=person)
        say(f"{'':12} approved by {person} ({group})")
    service.deploy(name, v1, production, actor="erin", strategy=StrategyKind.CANARY)
    outcome = watch(service, production)
    weights = [e.weight for e in service.history(name) if e.type == "traffic_shifted" and e.environment == production]
    say(f"{production:12} canary {v1}: weights {' -> '.join(map(str, weights))}%: {_outcome_text(outcome)}")

    bad = _service(args, platform, scenario="error-spike", scripted=True)
    for env_name in platform.promotion_order[:-1]:
        bad.metrics.scenario = service.metrics.scenario
        bad.deploy(name, v2, env_name, actor="erin")
        watch(bad, env_name)
        for suite in platform.environment(env_name).tests:
            bad.record_test(name, v2, env_name, suite, True, actor="ci")
    for group in env.approvers:
        person = next(m for m in reversed(platform.approver_group(group).members) if m != "erin")
        with contextlib.suppress(PolicyRefusedError):  # the refused request is what the approvals bind to
            bad.deploy(name, v2, production, actor="erin", strategy=StrategyKind.CANARY)
        bad.approve(name, v2, production, actor=person)
    from findly_infra.application.simulation import SCENARIOS

    bad.metrics.scenario = SCENARIOS["error-spike"]
    bad.deploy(name, v2, production, actor="erin", strategy=StrategyKind.CANARY)
    outcome = watch(bad, production)
    last = bad.history(name)[-1]
    say(f"{production:12} canary {v2} under an error spike: {_outcome_text(outcome)} — {last.reason}")
    say(f"\n{len(bad.history(name))} events recorded. See them: findly-infra --state {state} history {name}")
    return 0


def _github(args: argparse.Namespace, out: IO[str]) -> int:
    """Read GITHUB_EVENT_NAME and GITHUB_REF; deploy where a trigger matches (production only by promotion)."""
    event, ref = os.environ.get("GITHUB_EVENT_NAME", ""), os.environ.get("GITHUB_REF", "")
    if not event or not ref:
        raise BadInputError(
            "github reads GITHUB_EVENT_NAME and GITHUB_REF, which are not set (is this GitHub Actions?)"
        )
    platform = _platform(args)
    matching = [
        env.name
        for env in platform.environments
        if env.deployment_trigger.matches(event, ref, default_branch=args.default_branch)
    ]
    if not matching:
        _emit(
            args,
            out,
            {"environment": None, "outcome": "nothing to do"},
            f"no environment is deployed on {event} of {ref}: nothing to do",
        )
        _github_output(outcome="skipped", phase="idle", version=args.version)
        return 0
    environment = matching[0]
    service = _service(args, platform)
    outcome = service.deploy(args.service, args.version, environment, actor=_actor(args), strategy=args.strategy)
    _github_output(phase=outcome.phase.value, version=args.version, outcome="started", environment=environment)
    _emit(
        args,
        out,
        {"environment": environment, **_outcome_json(outcome)},
        f"{event} of {ref}: {args.service} {args.version} -> {environment}: {_outcome_text(outcome)}",
    )
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace, IO[str]], int]] = {
    "deploy": _deploy,
    "promote": _deploy,
    "record": _record,
    "approve": _approve,
    "rollout": _rollout,
    "pause": _gate("pause"),
    "resume": _gate("resume"),
    "abort": _gate("abort"),
    "rollback": _gate("rollback"),
    "status": _status,
    "history": _history,
    "simulate": _simulate,
    "demo": _demo,
    "github": _github,
}
