"""The release commands: deploy, promote, record, approve, rollout, the human gates, status, history,
simulate, github and demo. Each parses, calls a use case on the runtime the composition root built,
and presents the outcome."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from findly_infra.cli import present
from findly_infra.cli.annotations import StepAnnotations
from findly_infra.cli.context import (
    Command,
    Context,
    name_argument,
    reason_argument,
    strategy_kind,
    version_argument,
)
from findly_infra.cli.exits import EXIT_BAD_INPUT, EXIT_DEPENDENCY, EXIT_FAILED, EXIT_OK, EXIT_STOPPED

if TYPE_CHECKING:
    from findly_infra.application.service import Outcome
    from findly_infra.bootstrap import Runtime
    from findly_infra.cli.live import LiveBlock
    from findly_infra.domain.arrival import LeftBefore

__all__ = ["COMMANDS", "watch_waiter"]


def _arguments(*positional: str, env: str | None = "--env") -> Callable[[argparse.ArgumentParser], None]:
    def configure(parser: argparse.ArgumentParser) -> None:
        for name in positional:
            if name == "version":
                parser.add_argument(name, type=version_argument, help="the version: an image tag, e.g. 1.4.0")
            else:
                parser.add_argument(name, help="the service, as the platform file names it")
        if env == "--env":
            parser.add_argument("--env", required=True, help="the environment, as the platform file names it")
        elif env == "--to":
            parser.add_argument("--to", required=True, dest="env", help="the environment to promote into")

    return configure


def _with(*configures: Callable[[argparse.ArgumentParser], None]) -> Callable[[argparse.ArgumentParser], None]:
    def configure(parser: argparse.ArgumentParser) -> None:
        for step in configures:
            step(parser)

    return configure


def _release_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--strategy", type=strategy_kind, help="rolling, blue-green or canary, for this release")
    parser.add_argument(
        "--override-budget",
        metavar="REASON",
        type=reason_argument,
        help="promote although the error budget is spent (the reason is recorded)",
    )
    parser.add_argument(
        "--budget-spent", action="store_true", help="say the environment's error budget is spent (no Prometheus)"
    )


# ---- commands ----------------------------------------------------------------------------------


def _deploy(context: Context) -> int:
    args = context.args
    platform = context.platform()
    runtime, actor, identity = context.acting(
        platform, args.env, service=args.service, moves=args.env, purpose=("promote", args.version)
    )
    outcome = runtime.service.deploy(
        args.service,
        args.version,
        args.env,
        actor=actor,
        strategy=args.strategy,
        budget_override=args.override_budget,
        budget_spent=args.budget_spent,
        identity=identity,
    )
    failed = outcome.phase.value in ("rolled_back", "aborted")  # the cluster could not run it
    stopped = outcome.phase.stopped_for_a_person and any(e.type == "rollout_paused" for e in outcome.events)
    _present(
        context,
        runtime,
        outcome,
        f"{args.service} {args.version} -> {args.env}: {present.view_text(outcome.view)}",
        version=args.version,
        outcome="rolled_back" if failed else "stopped_for_a_person" if stopped else "started",
    )
    return EXIT_FAILED if failed else EXIT_STOPPED if stopped else EXIT_OK


def _present(
    context: Context,
    runtime: Runtime,
    result: Outcome,
    text: str,
    *,
    watched: bool = False,
    said: dict[str, Any] | None = None,
    **outputs: str,
) -> None:
    """A release command's outcome everywhere it goes: GitHub outputs, what of it was simulated (said out loud on
    stderr, as an annotation and in the summary — a watch said it when it began), then the text or the JSON."""
    simulated = runtime.simulated_in(result.view.environment) if watched else _simulated(runtime, result)
    if result.already:  # a retry of what took effect: said, and the outputs say it too
        text = f"{text} (already done: {result.already}; nothing new recorded)"
        outputs = {**outputs, "already": result.already}
    present.outcome_outputs(result, simulated, **outputs)
    if not watched:
        present.say_simulated(simulated, runtime.scenario, context.json)
    context.emit({**present.outcome_json(result, simulated), **(said or {})}, text)


def _simulated(runtime: Runtime, result: Outcome) -> tuple[str, ...]:
    """What of *result* was simulated: the cluster if it moved traffic, the metrics if it analysed, the time if
    it recorded anything."""
    used = {"cluster": result.routed, "metrics": result.analysis is not None, "time": bool(result.events)}
    return tuple(part for part in runtime.simulated_in(result.view.environment) if used.get(part))


def _scenario_names() -> list[str]:
    from findly_infra.application.scenarios import SCENARIOS

    return list(SCENARIOS)


def _record_arguments(parser: argparse.ArgumentParser) -> None:
    from findly_infra.application.evidence import SEVERITIES  # built only when `record` is the command

    parser.add_argument(
        "--suite", required=True, type=name_argument("suite"), help="the test suite, e.g. unit or smoke_tests"
    )
    result = parser.add_mutually_exclusive_group(required=True)
    result.add_argument("--passed", action="store_true", help="the suite passed")
    result.add_argument("--failed", action="store_true", help="the suite failed")
    result.add_argument("--junit", metavar="FILE", help="a JUnit XML report: passed when it has no failure or error")
    result.add_argument(
        "--trivy",
        metavar="FILE",
        help="a Trivy JSON report: passed when no finding of any class (vulnerability, failed misconfiguration, "
        "secret, licence) is at --fail-on or above",
    )
    parser.add_argument(
        "--fail-on",
        "--max-severity",  # its old name, which said the opposite of what it does
        dest="fail_on",
        default="HIGH",
        type=str.upper,
        choices=SEVERITIES,
        metavar="SEVERITY",
        help=f"with --trivy: the lowest severity that fails the suite, one of {', '.join(SEVERITIES)} (default HIGH)",
    )


def _record(context: Context) -> int:
    from findly_infra.application.evidence import Evidence, junit_evidence, trivy_evidence

    args = context.args
    runtime = context.runtime(context.platform(), service=args.service)
    if args.junit:
        evidence = junit_evidence(runtime.reports.junit(Path(args.junit)))
    elif args.trivy:
        evidence = trivy_evidence(runtime.reports.trivy(Path(args.trivy)), args.fail_on)
    else:
        evidence = Evidence(bool(args.passed))
    outcome = runtime.service.record_test(
        args.service, args.version, args.env, args.suite, evidence.passed, actor=context.actor()
    )
    verdict = "passed" if evidence.passed else "failed"
    detail = f" ({evidence.detail})" if evidence.detail else ""
    text = f"{args.service} {args.version} in {args.env}: {args.suite} {verdict}{detail}"
    if outcome.already:  # a retry, or the same result again: nothing new recorded
        text = f"{text} (already done: {outcome.already}; nothing new recorded)"
        present.github_output(already=outcome.already)
    simulated = _simulated(runtime, outcome)
    present.say_simulated(simulated, runtime.scenario, context.json)
    _say_cluster_not_read(context, runtime, outcome)
    context.emit(
        {
            "suite": args.suite,
            "passed": evidence.passed,
            "detail": evidence.detail,
            "already": outcome.already,
            "cluster_read": outcome.cluster_read,
            "simulated": bool(simulated),
            "simulation": list(simulated),
        },
        text,
    )
    return EXIT_OK


def _say_cluster_not_read(context: Context, runtime: Runtime, outcome: Outcome) -> None:
    """Evidence recorded without reading the cluster of an environment bound to one: said on stderr (a log event
    with ``--json``, whose document has ``cluster_read: false``), so that nobody takes the cluster for repaired."""
    environment = outcome.view.environment
    if outcome.cluster_read or environment not in runtime.bound:
        return
    present.say(
        f"{environment}'s cluster was not read or repaired: evidence is recorded without it; the next command that "
        f"moves traffic in {environment} brings the cluster to the log",
        "release.cluster_not_read",
        context.json,
        environment=environment,
    )


def _approve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--group", help="the approver group to approve for (default: the one you belong to)")


def _approve(context: Context) -> int:
    args = context.args
    platform = context.platform()
    runtime, actor, identity = context.acting(
        platform, args.env, service=args.service, purpose=("approve", args.version)
    )
    outcome = runtime.service.approve(
        args.service, args.version, args.env, actor=actor, group=args.group, identity=identity
    )
    who = identity.describe() if identity else actor
    _say_cluster_not_read(context, runtime, outcome)
    _present(
        context,
        runtime,
        outcome,
        f"{who} approved {args.service} {args.version} for {args.env}: {present.view_text(outcome.view)}",
        version=args.version,
    )
    return EXIT_OK


def _rollout_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--watch",
        action="store_true",
        help="analyse every interval until the rollout ends (exit 0, or 4 rolled back or aborted) or stops for a "
        "person (6)",
    )
    mode.add_argument(
        "--due",
        action="store_true",
        help="carry out the analyses due now (one each interval since the latest), then return: exit 0 with "
        "outcome progressing and next_step_at while steps remain (run it again, e.g. from a scheduled job), "
        "nothing_due when no rollout is under way, driven_elsewhere when another runner drives it",
    )
    parser.add_argument(
        "--for",
        dest="due_for",
        metavar="DURATION",
        type=_duration_argument,
        help="with --due: also carry out the analyses that come due within DURATION ('10 minutes', '10m'), "
        "waiting for them, then return",
    )
    parser.add_argument(
        "--version",
        type=version_argument,
        help="the version whose rollout this is: another version's is refused, and a watch retried after it "
        "ended answers how it ended (exit 0 or 4) instead of 'nothing to watch'",
    )
    parser.add_argument(
        "--scenario",
        default=None,
        choices=_scenario_names(),
        help="the scripted metrics where no Prometheus is bound (default: $FINDLY_SCENARIO, else healthy)",
    )


def _progress(
    context: Context, runtime: Runtime, live: LiveBlock | None = None, annotations: StepAnnotations | None = None
) -> Callable[[Outcome], None]:
    """How each step of a rollout is shown: the block redrawn in place on a terminal (*live*, see
    :mod:`findly_infra.cli.live`), a line each otherwise, and a log event on stderr with ``--json`` (stdout is the
    one document at the end); in GitHub Actions, the steps worth it as annotations (*annotations*)."""
    args, out = context.args, context.out
    window = runtime.platform.prometheus.window.describe()

    def show(outcome: Outcome) -> None:
        outcome = _with_stop_story(runtime, outcome)
        interval = _cadence(runtime, outcome)
        at = outcome.events[-1].at.isoformat() if outcome.events else ""
        next_at = _first_due(runtime, outcome)
        if annotations is not None:
            annotations(outcome, present.step_json(outcome, interval, window, next_at))
        if live is not None:
            from findly_infra.cli.live import block_lines

            live.draw(block_lines(outcome, interval, window, ascii_only=live.ascii_only, next_at=next_at))
        elif not context.json:
            out.write(present.step_text(outcome, interval, window, next_at) + "\n")
            out.flush()
        else:
            from findly_infra.logs import logger

            view = outcome.view
            step = present.step_json(outcome, interval, window, next_at)
            logger().info(
                "rollout.step",
                service=args.service,
                environment=args.env,
                phase=view.phase.value,
                candidate=view.candidate.version if view.candidate else None,
                weight=view.rollout.weight if view.rollout else 0,
                share=view.rollout_share,
                verdict=outcome.analysis.verdict.value if outcome.analysis else step["verdict"],
                at=at or None,
                stage=step["stage"],
                weights=step["weights"],
                criteria=step["criteria"],
                next_step_at=step["next_step_at"],
                stopped=step["stopped"],
            )

    return show


def _first_due(runtime: Runtime, outcome: Outcome) -> datetime | None:
    """When the next analysis of a progressing rollout is due, for a step that recorded nothing to count from (a
    watch's first step: ``PipelineService.next_step_at`` reads it from the latest events); ``None`` otherwise."""
    from findly_infra.application.ports import StateError

    if outcome.events or outcome.view.phase.value != "progressing":
        return None
    try:
        return runtime.service.next_step_at(outcome.view.service, outcome.view.environment)
    except StateError:  # the history does not say: the line says nothing of it, as before
        return None


def _live_block(context: Context) -> LiveBlock | None:
    """The block a watch redraws in place, where a person watches a terminal (:func:`findly_infra.cli.live.wanted`);
    ``None`` where each step is a line (CI logs, pipes, files, ``--json``)."""
    from findly_infra.cli.live import LiveBlock, wanted

    return LiveBlock(context.out) if wanted(context.out, context.json, context.settings.progress) else None


def _cadence(runtime: Runtime, outcome: Outcome) -> timedelta:
    """How often the rollout of *outcome* is analysed: its strategy's interval in the platform file already read (as
    the watch's own is), so that showing a step reads nothing."""
    strategy = runtime.platform.strategy_for(outcome.view.environment, outcome.view.strategy)
    return timedelta(milliseconds=strategy.analysis.interval.milliseconds)


def _step_json(runtime: Runtime, outcome: Outcome) -> dict[str, Any]:
    """The last step of a watch as facts (``progress`` in its ``--json`` document): see :func:`present.step_json`."""
    outcome = _with_stop_story(runtime, outcome)
    return present.step_json(outcome, _cadence(runtime, outcome), runtime.platform.prometheus.window.describe())


def _stop_story(runtime: Runtime, service: str, environment: str) -> tuple[Any, ...]:
    """How the latest rollout in *environment* stopped, read from the service's latest events: the analysis before
    the stop and the stop (:func:`findly_infra.application.steps.stop_story`); ``()`` where they do not hold it."""
    from findly_infra.application.steps import stop_story

    latest = next(runtime.service.history_pages(service, last=200), [])
    return stop_story(latest, environment)


def _with_stop_story(runtime: Runtime, outcome: Outcome) -> Outcome:
    """*outcome* to show: a step that recorded nothing on a stopped rollout (a watch started after it stopped) is
    shown with how it stopped — the failing criteria of the analysis that stopped it, and who decided it — as the
    watch that stopped it showed them. Only shown: the command's ``events`` stay what it recorded (none)."""
    rollout = outcome.view.rollout
    if outcome.events or rollout is None or rollout.phase.value not in ("paused", "rolled_back", "aborted"):
        return outcome
    import attrs

    story = _stop_story(runtime, outcome.view.service, outcome.view.environment)
    return attrs.evolve(outcome, events=story) if story else outcome


def _following(service: str, environment: str, live: LiveBlock | None = None) -> Callable[[Any], None]:
    """Says, on stderr and once per driver, that another runner drives the rollout this watch follows."""
    seen: set[str] = set()

    def following(lease: Any) -> None:
        if lease.holder in seen:
            return
        seen.add(lease.holder)
        if live is not None:  # said below the block, which is drawn afresh under it
            live.release()
        from findly_infra.logs import logger

        logger().info(
            "rollout.following",
            service=service,
            environment=environment,
            driver=lease.holder,
            lease_until=lease.expires.isoformat(timespec="seconds"),
            message=f"{lease.describe()} drives this rollout: following the log until it ends, or taking over "
            "if its lease runs out",
        )

    return following


def watch_waiter(
    runtime: Runtime, as_json: bool, delay: float, live: LiveBlock | None = None
) -> Callable[[timedelta], None]:
    """How a watch passes an interval: virtual time advances at once (slowed by ``FINDLY_STEP_DELAY`` real
    seconds a step, to watch it live) — but on a durable store never past the real clock, so once it has
    caught up it waits like live time; live, one analysis per interval whatever each one took."""
    virtual, wall = runtime.virtual, runtime.wall
    tick, caught_up = time.monotonic(), False

    def wait(interval: timedelta) -> None:
        nonlocal tick, caught_up
        if virtual is None:  # no bursts after a slow analysis
            tick = max(tick + interval.total_seconds(), time.monotonic())
            time.sleep(max(0.0, tick - time.monotonic()))
            return
        if wall is not None:  # no future timestamps in a durable store: wait for the clock to get there
            ahead = (virtual.now() + interval - wall.now()).total_seconds()
            if ahead > 0:
                if not caught_up:
                    caught_up = True
                    if live is not None:  # said below the block, which is drawn afresh under it
                        live.release()
                    present.say(
                        "virtual time has reached the present: from here the rollout waits in real time "
                        "(a durable store records no future time)",
                        "rollout.real_time",
                        as_json,
                    )
                time.sleep(ahead)
        virtual.advance(interval)
        if delay > 0:
            time.sleep(delay)

    return wait


def _duration_argument(value: str) -> timedelta:
    """``--for``'s type: a duration in the platform file's notations (argparse reports anything else, exit 2)."""
    from findly_infra.domain.notation import Duration, NotationError

    try:
        return timedelta(milliseconds=Duration.parse(value).milliseconds)
    except NotationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _rollout(context: Context) -> int:
    args = context.args
    if args.due_for is not None and not args.due:
        from findly_infra.application.ports import BadInputError

        raise BadInputError("rollout --for DURATION goes with --due (the analyses due within DURATION)")
    runtime = context.runtime(context.platform(), service=args.service, moves=args.env)
    if args.due:
        return _rollout_due(context, runtime)
    pipelines, actor = runtime.service, context.actor()
    live = _live_block(context) if args.watch else None
    annotations = StepAnnotations(runtime.platform.prometheus.window.describe())
    show = _progress(context, runtime, live, annotations)
    wait = watch_waiter(runtime, context.json, context.settings.step_delay, live)
    if args.watch:
        # before a watch that may take an hour
        present.say_simulated(runtime.simulated_in(args.env), runtime.scenario, context.json)
        outcome = pipelines.watch(
            args.service,
            args.env,
            actor=actor,
            wait=wait,
            on_step=show,
            version=args.version,
            on_lease=_following(args.service, args.env, live),
        )
    else:
        outcome = pipelines.reconcile(args.service, args.env)
        if not outcome.phase.stopped_for_a_person:  # stopped: say what would unblock it (exit 6), analyse nothing
            if runtime.virtual is not None:
                wait(pipelines.interval(args.service, args.env))
            outcome = pipelines.step(args.service, args.env, actor=actor, version=args.version)
        show(outcome)
    view = outcome.view
    rolled_back = view.phase.value in ("rolled_back", "aborted")
    stopped = view.phase.stopped_for_a_person
    result = "rolled_back" if rolled_back else "stopped_for_a_person" if stopped else view.phase.value
    version = view.rollout.version if view.rollout else ""
    text = ""
    if stopped and view.waiting_for is not None:
        text = f"stopped for a person: {args.service} in {args.env} waits for {view.waiting_for.message}"
    if outcome.stopped_by:  # another command stopped it while this watch ran (a person's, or the driver's): who
        said = f"{args.service} in {args.env} was {outcome.stopped_by}"
        text = f"{said}; {text}" if text else said
    if text:  # what would unblock it (a step's annotation said what stopped it, and why)
        present.annotate("warning", text)
    present.summary(lambda: _rollout_markdown(runtime, args.service, args.env) + (f"\n\n**{text}**" if text else ""))
    progress = {"progress": _step_json(runtime, outcome)} if args.watch else None
    if not text and (live is not None or outcome.already):  # the result line: below the block, or for a retry
        text = f"{args.service} {version} in {args.env}: {present.view_text(view)}"
    _present(context, runtime, outcome, text, watched=args.watch, said=progress, version=version, outcome=result)
    if rolled_back:
        return EXIT_FAILED
    return EXIT_STOPPED if stopped else EXIT_OK


def _due_waiter(
    runtime: Runtime, as_json: bool, delay: float, live: LiveBlock | None = None
) -> Callable[[datetime], None]:
    """How ``rollout --due`` passes the time to a step due at an instant: a rehearsal's clock moves there (as a
    watch's does, never past the real clock on a durable store); the real clock is slept until it reads it."""
    virtual, clock = runtime.virtual, runtime.clock
    if virtual is None:
        return lambda at: time.sleep(max(0.0, (at - clock.now()).total_seconds()))
    passing = watch_waiter(runtime, as_json, delay, live)

    def wait(at: datetime) -> None:
        if at > virtual.now():
            passing(at - virtual.now())

    return wait


def _rollout_due(context: Context, runtime: Runtime) -> int:
    """``rollout --due``: the analyses due now (and with ``--for``, within that time), then return; a scheduled job
    (or a re-run) comes back for the rest. Exit 0 while it progresses (outcome ``progressing``, with
    ``next_step_at``), when nothing is under way (``nothing_due``) and when another runner drives it
    (``driven_elsewhere``); 0, 4 or 6 as a watch when the rollout ends or stops for a person."""
    args, pipelines = context.args, runtime.service
    within = args.due_for or timedelta(0)
    virtual = runtime.virtual
    if virtual is not None:  # a rehearsal: the steps due by its time, each on its own instant (as a watch's)
        until = virtual.now() + within
        latest = pipelines.latest_time(args.service)
        if latest is not None and latest < virtual.now():  # back to the log's latest event, never before it
            virtual.advance(latest - virtual.now())
    else:
        until = runtime.clock.now() + within
    live, annotations = _live_block(context), StepAnnotations(runtime.platform.prometheus.window.describe())
    due = pipelines.due(
        args.service,
        args.env,
        actor=context.actor(),
        until=until,
        wait=_due_waiter(runtime, context.json, context.settings.step_delay, live),
        on_step=_progress(context, runtime, live, annotations),
        version=args.version,
    )
    outcome, view = due.outcome, due.outcome.view
    service, env = args.service, args.env
    again = f"`findly-infra rollout {service} --env {env} --due`"
    next_at = due.next_step_at.isoformat(timespec="seconds") + "Z" if due.next_step_at else ""
    steps = f"{due.steps} analysis step{'s' if due.steps != 1 else ''} carried out"
    code, result = EXIT_OK, str(due.state)
    if due.state == "progressing":
        text = (
            f"{service} in {env}: {steps}; still {present.view_text(view)}: next analysis at {next_at}; "
            f"run {again} again (the scheduled job does)"
        )
    elif due.state == "nothing_due":
        last = "" if view.rollout is None else f" (the latest, {view.rollout.version}, {view.phase.value})"
        text = f"nothing due: no rollout is under way in {env}{last}"
    elif due.state == "driven_elsewhere":
        driver = due.driver.describe() if due.driver else "another runner"
        text = (
            f"{service} in {env} is driven by {driver}, which carries it on: {steps} here; {again} takes it over "
            "only once that runner's lease runs out"
        )
    else:
        rolled_back = view.phase.value in ("rolled_back", "aborted")
        stopped = view.phase.stopped_for_a_person
        result = "rolled_back" if rolled_back else "stopped_for_a_person" if stopped else view.phase.value
        code = EXIT_FAILED if rolled_back else EXIT_STOPPED if stopped else EXIT_OK
        text = f"{service} in {env}: {steps}; {present.view_text(view)}"
        if stopped and view.waiting_for is not None:
            text = f"stopped for a person: {service} in {env} waits for {view.waiting_for.message}"
        if outcome.stopped_by:
            text = f"{service} in {env} was {outcome.stopped_by}; {text}"
        if stopped or rolled_back:
            present.annotate("warning", text)
    if due.steps:
        present.summary(lambda: _rollout_markdown(runtime, service, env))
    simulated = runtime.simulated_in(env) if due.steps else ()
    if outcome.already:
        text = f"{text} (already done: {outcome.already}; nothing new recorded)"
    version = view.rollout.version if view.rollout else ""
    present.outcome_outputs(
        outcome,
        simulated,
        version=version,
        outcome=result,
        next_step_at=next_at,
        steps=str(due.steps),
        **({"already": outcome.already} if outcome.already else {}),
    )
    present.say_simulated(simulated, runtime.scenario, context.json)
    document = {
        **present.outcome_json(outcome, simulated),
        "outcome": result,
        "steps": due.steps,
        "next_step_at": next_at or None,
        "driver": None
        if due.driver is None
        else {"holder": due.driver.holder, "until": due.driver.expires.isoformat()},
    }
    context.emit(document, text)
    return code


def _rollout_markdown(runtime: Runtime, service: str, environment: str) -> str:
    from findly_infra.application.service import timeline

    # the latest events only (a rollout's summary costs the same at any length of history): from the rollout's start
    events = [event for page in runtime.service.history_pages(service, last=2000) for event in page]
    mine = [event for event in events if event.environment == environment]
    starts = [index for index, event in enumerate(mine) if event.type == "rollout_started"]
    if not starts:  # a rollout longer than the events read: the whole history, as it was
        events = runtime.service.history(service)
        mine = [event for event in events if event.environment == environment]
        return present.rollout_markdown(
            service, environment, mine, timeline(runtime.platform, service, events, environment)
        )
    mine = mine[starts[-1] :]
    return present.rollout_markdown(service, environment, mine, timeline(runtime.platform, service, mine, environment))


def _gate_arguments(name: str) -> Callable[[argparse.ArgumentParser], None]:
    def configure(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--reason",
            required=name != "resume",
            default="",
            type=reason_argument,
            help="why (recorded in the audit trail)" + ("" if name == "resume" else "; required"),
        )

    return configure


def _gate(name: str) -> Callable[[Context], int]:
    def run(context: Context) -> int:
        args = context.args
        runtime = context.runtime(context.platform(), service=args.service, moves=args.env)
        use_case = getattr(runtime.service, name)
        outcome = use_case(args.service, args.env, actor=context.actor(), reason=args.reason)
        text = f"{args.service} in {args.env}: {present.view_text(outcome.view)}"
        _present(context, runtime, outcome, text, version=outcome.view.rollout.version if outcome.view.rollout else "")
        return EXIT_OK

    return run


def _status_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", nargs="?", help="one service (default: every service)")
    parser.add_argument("--env", help="one environment (default: every environment)")
    parser.add_argument(
        "--no-cluster",
        action="store_true",
        help="the log alone: read no cluster (by default each environment bound to one is read back beside the log, "
        "and exit 5 says a cluster could not be read)",
    )


def _status(context: Context) -> int:
    """Per service and environment, what the log says — and, where the platform file binds a cluster, what that
    cluster holds, read back (``ClusterReading``), with each drift between the two flagged. The log is shown
    whatever happens to the clusters: one that cannot be read is said, beside it, and the exit code says it (5
    unreachable, 2 refused or misconfigured), since ``status`` promised what it holds; ``--no-cluster`` reads the log
    alone."""
    from findly_infra.application.ports import BadInputError, StateError

    args = context.args
    platform = context.platform()
    names = [platform.service(args.service).name] if args.service else [s.name for s in platform.all_services]
    environment = platform.environment(args.env).name if args.env else None
    runtime = context.runtime(platform, read_only=True)
    pipelines = runtime.service  # one store for every service
    document: dict[str, Any] = {}
    lines, unreadable, drifts = [], [], []
    unread: dict[str, Exception] = {}  # an environment's cluster that failed once is not asked again for each service
    for name in names:  # one service's damaged history does not hide the others
        try:
            views = [v for v in pipelines.status(name) if environment is None or v.environment == environment]
        except StateError as exc:
            document[name] = {"error": str(exc)}
            unreadable.append(str(exc))
            lines.append(f"{name:18} cannot be read: {exc}")
            continue
        document[name] = {view.environment: present.view_json(view) for view in views}
        for view in views:
            lines += _view_status(runtime, view, document[name][view.environment])
            cluster, said, differences = _cluster_status(runtime, view, unread, read=not args.no_cluster)
            document[name][view.environment]["cluster"] = cluster
            lines += said
            drifts += [f"{name} in {view.environment}: {item}" for item in differences]
    where = runtime.simulated_in(environment) if environment else runtime.simulated
    simulated = [part for part in where if part == "cluster"]  # where what serves was routed
    answer = {"services": document, "simulated": bool(simulated), "simulation": simulated, "drift": drifts}
    for item in drifts:  # the cluster differs from the log: flagged where a workflow's reader looks
        present.annotate("warning", f"drift: {item}")
    failures: list[tuple[str, bool]] = []  # what went wrong, and whether it is bad input (else unreachable)
    if unreadable:
        failures.append((f"{len(unreadable)} of {len(names)} services cannot be read: " + "; ".join(unreadable), True))
    for env, error in unread.items():
        failures.append((f"{env}'s cluster could not be read: {error}", isinstance(error, BadInputError)))
    if not failures:
        context.emit(answer, "\n".join(lines))
        return EXIT_OK
    code = EXIT_BAD_INPUT if any(bad for _, bad in failures) else EXIT_DEPENDENCY
    message = "; ".join(text for text, _ in failures)
    if unread:
        message += "; the log is shown without it (`findly-infra status --no-cluster` reads the log alone)"
    kind = "bad_input" if code == EXIT_BAD_INPUT else "dependency"
    if context.json:
        present.emit_json({"ok": False, **answer, "error": {"kind": kind, "message": message}}, context.out)
    else:
        context.out.write(present.printable("\n".join(lines)) + "\n")
        sys.stderr.write(present.printable(message) + "\n")
    present.annotate("error", message)
    return code


def _view_status(runtime: Runtime, view: Any, shown: dict[str, Any]) -> list[str]:
    """``status``'s lines of one environment of one service, and what they add to its document *shown*: who drives
    its rollout now (and until when unless renewed), and how a stopped rollout stopped."""
    pipelines, name = runtime.service, view.service
    driver = pipelines.driver(name, view.environment) if view.phase.active else None
    text = present.view_text(view)
    if driver is not None:
        shown["driver"] = {"holder": driver.holder, "until": driver.expires.isoformat(timespec="seconds")}
        text += f"; driven by {driver.describe()}"
    lines = [f"{name:18} {view.environment:12} {text}"]
    if view.stopped is not None:  # how it stopped: the criteria that did not pass, and who decided it
        shown["stop"], said = _stop_status(runtime, view)
        lines += said
    return lines


def _stop_status(runtime: Runtime, view: Any) -> tuple[dict[str, Any] | None, list[str]]:
    """How *view*'s stopped rollout stopped, as ``status`` shows it: the stop's facts (``step_facts``'s ``stopped``:
    its event, when, by whom, the failing criteria and their window) and a line under the environment's —
    ``    paused at 09:08:00 by the analysis (watch run by erin) at stage 1/4 (5%): error_rate 0.100% (threshold
    < 0.5%) no verdict over the last 1 minute``. ``None`` and no line where the latest events do not hold it."""
    from findly_infra.application.service import Outcome
    from findly_infra.application.steps import step_facts, stop_author_of, stop_text

    story = _stop_story(runtime, view.service, view.environment)
    if not story:
        return None, []
    outcome = Outcome(story, view)
    window = runtime.platform.prometheus.window.describe()
    facts = step_facts(outcome, timedelta(0), window)["stopped"]
    text = stop_text(outcome, window, reason=False) or ""
    verb, _, rest = text.partition(" at stage ")
    rest = f" at stage {rest}" if rest else text[len(verb) :]
    at = story[-1].at.time().isoformat(timespec="seconds")
    return facts, [present.printable(f"{'':18} {'':12} {verb} at {at} by {stop_author_of(story)}{rest}", one_line=True)]


def _cluster_status(
    runtime: Runtime, view: Any, unread: dict[str, Exception], *, read: bool
) -> tuple[dict[str, Any], list[str], tuple[str, ...]]:
    """What ``status`` says of *view*'s cluster: its JSON, its lines (under the view's) and its drift. Bound to none:
    simulated, as every outcome there says. Bound, and read back: what it holds. Bound but not read (``--no-cluster``,
    or it failed — for this service or an earlier one, kept in *unread*): why."""
    from findly_infra.application.ports import BadInputError, DependencyError

    environment, indent = view.environment, " " * 32
    if view.retired or environment not in runtime.bound:
        return {"bound": False, "simulated": not view.retired}, [], ()
    if not read:
        return {"bound": True, "read": False, "reason": "--no-cluster"}, [], ()
    gitops = runtime.platform.gitops
    if gitops is not None and gitops.binding(environment) is not None:  # handed to a GitOps controller
        return _gitops_status(runtime, view, unread)
    reading = None
    if environment not in unread:
        try:
            reading = runtime.service.inspect(view.service, environment)
        except (DependencyError, BadInputError) as exc:
            unread[environment] = exc
    if reading is None:
        reason = str(unread.get(environment, "no cluster answered"))
        return (
            {"bound": True, "read": False, "reason": reason},
            [present.printable(f"{indent}cluster: not read: {reason}", one_line=True)],
            (),
        )
    said = [present.printable(f"{indent}cluster: {reading.describe()}", one_line=True)]
    said += [present.printable(f"{indent}drift: {item}", one_line=True) for item in reading.drift]
    return present.reading_json(reading), said, reading.drift


def _gitops_status(
    runtime: Runtime, view: Any, unread: dict[str, Exception]
) -> tuple[dict[str, Any], list[str], tuple[str, ...]]:
    """``status`` of an environment handed to a GitOps repository: the latest commit (or pull request) recorded, and
    what its controller reports of it (issue 28)."""
    from findly_infra.application.ports import BadInputError, DependencyError

    environment, indent = view.environment, " " * 32
    reading = None
    if environment not in unread:
        try:
            reading = runtime.service.gitops_reading(view.service, environment)
        except (DependencyError, BadInputError) as exc:
            unread[environment] = exc
    if reading is None:
        reason = str(unread.get(environment, "the controller was not read"))
        return (
            {"bound": True, "gitops": True, "read": False, "reason": reason},
            [present.printable(f"{indent}gitops: not read: {reason}", one_line=True)],
            (),
        )
    handoff = reading.handoff
    document = {
        "bound": True,
        "gitops": True,
        "read": True,
        "repository": reading.repository,
        "branch": reading.branch,
        "controller": reading.controller,
        "verdict": reading.reading.verdict.value,
        "revision": reading.reading.revision,
        "message": reading.reading.message,
        "warning": reading.reading.warning,
        "handoff": None
        if handoff is None
        else {
            "type": handoff.type,
            "version": handoff.version,
            "commit": handoff.commit,
            "branch": handoff.branch,
            "pull_request": handoff.pull_request,
            "at": handoff.at.isoformat(),
        },
    }
    return document, [present.printable(f"{indent}gitops: {reading.describe()}", one_line=True)], ()


def _history_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("service", nargs="?", help="the service, as the platform file names it")
    parser.add_argument(
        "--recovery", action="store_true", help="the failovers and drills recorded instead (as `dr history`)"
    )
    parser.add_argument(
        "--limit", type=_positive, metavar="N", help="only the latest N events (read without the rest of the history)"
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a whole number of events above 0, got {text!r}")
    return value


def _history(context: Context) -> int:
    """The events, streamed a page at a time (a history of any length in bounded memory): with ``--json`` one
    document whose ``events`` are written as they are read, and ``ok`` (with ``error`` when a record cannot be read)
    last."""
    import json

    from findly_infra.application.codec import event_shown
    from findly_infra.application.ports import StateError
    from findly_infra.cli.notify_commands import dispatch_json, dispatch_text

    args = context.args
    if args.recovery or args.service is None:
        return _recovery_history(context)
    runtime = context.runtime(context.platform(), read_only=True)
    service = runtime.service
    field = partial(present.printable, one_line=True)  # a stored value cannot forge a line or a terminal escape
    out, count, damage = context.out, 0, None
    deliveries = _deliveries(runtime, args.service)  # each delivery and give-up, beside the events by time

    before: dict[str, Any] = {}  # each environment's previous event: whether its analysis decided a stop
    blue_green: dict[str, bool] = {}  # each environment's latest rollout: judged by rollback triggers

    def write(events: Sequence[Any]) -> None:
        nonlocal count
        for event in events:
            if event.type == "rollout_started":  # the strategy says whether its analyses judge triggers
                blue_green[event.environment] = event.strategy.value == "blue-green"
            detail = _history_detail(event, before.get(event.environment), blue_green.get(event.environment, False))
            before[event.environment] = event
            while not context.json and deliveries and _delivery_time(deliveries[0]) <= event.at:
                out.write(dispatch_text(deliveries.pop(0)) + "\n")
            if context.json:
                out.write(("    " if count == 0 else ",\n    ") + json.dumps(event_shown(event), default=str))
            else:
                identity = getattr(event, "identity", None)
                proof = (
                    f"  [verified: {field(identity.describe())}, token {field(identity.token_id)}]" if identity else ""
                )
                out.write(
                    f"{event.at.isoformat()}  {field(event.environment):12} {field(event.version):10} "
                    f"{event.type:20} {field(event.actor):12} {field(detail)}{proof}\n"
                )
            count += 1

    if context.json:
        out.write('{\n  "events": [\n')
    try:
        for page in service.history_pages(args.service, last=args.limit):
            write(page)
    except StateError as exc:  # what can be read is shown, then what cannot
        damage = exc
        write(exc.readable)
    if context.json:
        shown: dict[str, Any] = {"notifications": [dispatch_json(d) for d in deliveries]} if deliveries else {}
        ending = shown | {"ok": damage is None}
        ending |= {"error": {"kind": "bad_input", "message": str(damage)}} if damage else {}
        tail = json.dumps(ending, indent=2)[1:-1].rstrip()  # the closing keys, at the document's indent
        out.write(("\n" if count else "") + "  ]," + tail + "\n}\n")
    else:
        out.writelines(dispatch_text(delivery) + "\n" for delivery in deliveries)
        if count == 0 and damage is None:
            out.write("no events\n")
    if damage is None:
        return EXIT_OK
    if not context.json:
        sys.stderr.write(present.printable(str(damage)) + "\n")
    present.annotate("error", str(damage))
    return EXIT_BAD_INPUT


def _recovery_history(context: Context) -> int:
    """``history --recovery``: the failovers and drills (``dr history``); a service is named otherwise."""
    from findly_infra.application.ports import BadInputError

    if not context.args.recovery:
        raise BadInputError("findly-infra history: name a service, or --recovery for the failovers and drills")
    if context.args.service is not None:
        raise BadInputError("findly-infra history: --recovery shows the failovers and drills: name no service")
    from findly_infra.cli.dr_commands import recovery_history

    return recovery_history(context)


def _history_detail(event: Any, before: Any, trigger: bool) -> str:
    """A ``history`` row's detail: the event's reason; an analysis's verdict and each criterion's reading beside its
    threshold; a stop that an analysis decided says so (its actor is the person who ran the watch, not who decided)."""
    from findly_infra.application.steps import STOPS, criterion_text
    from findly_infra.domain.view import stop_author

    if event.type == "analysis_recorded":
        readings = ", ".join(criterion_text(r, trigger=trigger) for r in event.readings)
        return f"{event.verdict.value}" + (f": {readings}" if readings else "")
    if event.type in STOPS and before is not None and (by := stop_author(event, before)) != event.actor:
        by = f"decided by {by.partition(' (')[0]} in the watch {event.actor} ran"
        return f"{event.reason}; {by}" if event.reason else by
    return str(event.reason)


def _would(note: Any, receivers: tuple[str, ...]) -> dict[str, Any]:
    action = note.action.value if note.action else None
    return {"kind": note.kind.value, "at": note.at.isoformat(), "action": action, "receivers": list(receivers)}


def _deliveries(runtime: Runtime, service: str) -> list[Any]:
    """The service's deliveries kept in the outbox, the earliest first (none where the state keeps no outbox)."""
    if runtime.notifications is None:
        return []
    return sorted(runtime.notifications.dispatches(service), key=_delivery_time)


def _delivery_time(dispatch: Any) -> datetime:
    """When a delivery happened (delivered or given up), else when it was queued."""
    return cast("datetime", dispatch.settled or dispatch.queued)


def _simulate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scenario", default="healthy", choices=_scenario_names(), help="the metrics the release meets"
    )
    parser.add_argument("--scenario-file", metavar="FILE", help="YAML or JSON: a list of {minute, metric: value}")
    parser.add_argument("--seed", type=int, help="add ±10%% noise to the metrics, reproducibly")
    parser.add_argument(
        "--replay", metavar="VERSION", help="judge what Prometheus recorded of VERSION from --from (needs a Prometheus)"
    )
    parser.add_argument("--from", dest="replay_from", metavar="TIME", help="where the replay starts, ISO 8601")
    parser.add_argument("--minutes", type=int, default=120, help="how much of the record to replay (default 120)")
    parser.add_argument("--current", metavar="VERSION", help="the version replaced, for '< 1.2x current' criteria")
    parser.add_argument(
        "--strategy", type=strategy_kind, help="rolling, blue-green or canary (default: the environment's)"
    )
    parser.add_argument(
        "--no-human-approvals", action="store_true", help="nobody passes the rollout's manual gates (it waits)"
    )


def _simulate(context: Context) -> int:
    from findly_infra.application.ports import BadInputError
    from findly_infra.application.scenarios import SCENARIOS, scenario_from_points
    from findly_infra.bootstrap import simulate

    args = context.args
    platform = context.platform(embedded_example=True)
    platform.service(args.service)
    platform.environment(args.env)
    current, start = None, None
    if args.replay:
        from findly_infra.cli.metrics import replayed

        scenario, current, start = replayed(context, platform)
    elif args.scenario_file:
        try:
            scenario = scenario_from_points(_scenario_points(Path(args.scenario_file)))
        except ValueError as exc:
            raise BadInputError(f"{args.scenario_file}: {exc}") from None
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
    # a replay judges what Prometheus recorded: only the cluster (and time) is simulated
    simulation = ["cluster", "time"] if args.replay else ["cluster", "metrics", "time"]
    from findly_infra.application.notify import would_notify

    told = would_notify(platform, args.service, result.events)  # never sent: what the routes would do
    if context.json:
        notify = {"would_notify": [_would(note, receivers) for note, receivers in told]} if told else {}
        present.emit_json({**result.to_json(), **notify, "simulated": True, "simulation": simulation}, context.out)
    else:
        for step in result.steps:
            extra = " ".join(f"{k}={v}" for k, v in step.items() if k not in ("at", "type"))
            context.out.write(f"{step['at']}  {step['type']:18} {extra}\n")
        context.out.write(
            f"outcome: {result.outcome} after {timedelta(seconds=result.virtual_seconds)} of virtual time\n"
        )
        for note, receivers in told:
            action = f" ({note.action.value})" if note.action else ""
            context.out.write(f"would notify {', '.join(receivers) or 'no receiver'}: {note.kind.value}{action}\n")
    present.summary(lambda: _simulation_markdown(platform, args.service, args.env, list(result.events)))
    present.github_output(
        outcome=result.outcome, phase=result.outcome, version=args.replay or "2.0.0", simulated="true"
    )
    return EXIT_OK


def _simulation_markdown(platform: Any, service: str, environment: str, events: list[Any]) -> str:
    """The rollout under test, from its start (its views start from the state before it, in memory)."""
    from findly_infra.application.service import timeline

    views = timeline(platform, service, events, environment)
    mine = [event for event in events if event.environment == environment]
    return present.rollout_markdown(service, environment, mine, views)


def _scenario_points(path: Path) -> list[Any]:
    from findly_infra.application.ports import BadInputError
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
    return data


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--service", default="fn-posts", help="the service the story releases (default fn-posts)")


def _demo(context: Context) -> int:
    """The whole story on a fresh embedded state, readable to a person. Its virtual time starts a day ago, so
    that the story (about two hours) is over before now: a durable store records no future time."""
    from datetime import UTC, datetime

    import attrs

    from findly_infra.application.demo import tell_the_story
    from findly_infra.bootstrap import fresh_demo_state

    args = context.args
    platform = context.platform(embedded_example=True)
    # the story runs on the simulated cluster, in virtual time, whatever the file binds: no cluster of yours moves
    platform = attrs.evolve(platform, kubernetes=attrs.evolve(platform.kubernetes, clusters=()))
    name = platform.service(args.service).name
    state = context.settings.state if args.state else ".findly/demo.sqlite3"
    fresh_demo_state(state)  # a new store, or the demo's own from before: never anyone else's
    start = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0) - timedelta(days=1)
    context.use_state(str(state), now=start)
    runtime = context.runtime(platform, service=name, scripted=True, notify=False)  # a story: it tells no one
    assert runtime.virtual is not None
    assert runtime.scenarios is not None
    story = list(tell_the_story(runtime.service, runtime.virtual, runtime.scenarios, name))
    from findly_infra.application.notify import mark_told
    from findly_infra.application.ports import Outbox

    if isinstance(runtime.service.store, Outbox):  # told no one now, nor later: `notify deliver` must not tell it
        mark_told(runtime.service.store, {name: runtime.service.pipeline(name).version})
    count = len(runtime.service.history(name))
    config = "" if context.settings.config_path.exists() else f"--config {_example_path()} "
    hint = f"findly-infra {config}--state {state} history {name}"
    if context.json:
        context.emit(
            {
                "state": str(state),
                "service": name,
                "story": story,
                "events": count,
                "from": start.isoformat(),
                "simulated": True,
                "simulation": ["cluster", "metrics", "time"],
                "history": hint,
            },
            "",
        )
        return EXIT_OK
    context.out.write(
        f"state: {state} (SQLite, the embedded default); simulated: the simulated cluster, scripted metrics, "
        f"virtual time from {start.isoformat()}\n\n"
    )
    for line in story:
        context.out.write(line + "\n")
    context.out.write(f"\n{count} events recorded. See them: {hint}\n")
    return EXIT_OK


def _example_path() -> str:
    from findly_infra.examples import example_path

    try:
        return shlex.quote(str(example_path()))
    except FileNotFoundError:
        return "findly.yaml  # (first: findly-infra example > findly.yaml)"


def _github_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strategy", type=strategy_kind, help="rolling, blue-green or canary (default: the environment's)"
    )
    parser.add_argument(
        "--default-branch",
        default=os.environ.get("FINDLY_DEFAULT_BRANCH", "main"),
        help="the repository's default branch: 'Merge to main branch' is a push to it, 'Push to feature branches' "
        "a push to any other (default: $FINDLY_DEFAULT_BRANCH, else main)",
    )


def _github(context: Context) -> int:
    """Read GITHUB_EVENT_NAME and GITHUB_REF; deploy where a trigger matches (production only by promotion) — or, for
    a version that never ran in the environment before that one, there first, saying what is left (exit 6)."""
    from findly_infra.application.github import arrival, environment_for_event, left_for
    from findly_infra.application.ports import BadInputError
    from findly_infra.application.service import PolicyRefusedError

    args = context.args
    event, ref = os.environ.get("GITHUB_EVENT_NAME", ""), os.environ.get("GITHUB_REF", "")
    if not event or not ref:
        raise BadInputError(
            "github reads GITHUB_EVENT_NAME and GITHUB_REF, which are not set (is this GitHub Actions?)"
        )
    platform = context.platform()
    target = environment_for_event(platform, event, ref, default_branch=args.default_branch)
    if target is None:
        context.emit(
            {"environment": None, "outcome": "nothing to do"},
            f"no environment is deployed on {event} of {ref}: nothing to do",
        )
        present.github_output(outcome="skipped", phase="idle", version=args.version)
        return EXIT_OK
    service, version = args.service, args.version
    runtime, actor, identity = context.acting(
        platform, target, service=service, moves=target, purpose=("promote", version)
    )
    environment = arrival(runtime.service, service, target, version)
    if environment != target:  # it never ran where it comes from: there first (acting there, as there)
        runtime, actor, identity = context.acting(
            platform, environment, service=service, moves=environment, purpose=("promote", version)
        )
    try:
        outcome = runtime.service.deploy(
            service, version, environment, actor=actor, strategy=args.strategy, identity=identity
        )
    except PolicyRefusedError as refused:
        left = left_for(runtime.service, service, target, version)
        if refused.refusal.rule not in ("promotion-order", "required-tests") or left is None or not left.waits:
            raise
        return _github_waits(context, runtime, trigger=f"{event} of {ref}", target=target, outcome=None, left=left)
    said = f"{event} of {ref}: {service} {version} -> {environment}: {present.view_text(outcome.view)}"
    left = left_for(runtime.service, service, target, version) if environment != target else None
    if left is not None and left.waits and outcome.phase.active:
        return _github_waits(context, runtime, trigger=f"{event} of {ref}", target=target, outcome=outcome, left=left)
    failed = outcome.phase.value in ("rolled_back", "aborted")  # the cluster could not run it
    _present(
        context,
        runtime,
        outcome,
        said,
        version=version,
        outcome="rolled_back" if failed else "started",
        environment=environment,
        target=target,
        said={"outcome": "rolled_back" if failed else "started", "target": target},
    )
    return EXIT_FAILED if failed else EXIT_OK


def _github_waits(
    context: Context, runtime: Runtime, *, trigger: str, target: str, outcome: Outcome | None, left: LeftBefore
) -> int:
    """``github``'s answer when the version cannot enter *target* yet: what is left in the environment before it (its
    rollout there, its suites), and how to do it — exit 6, waiting for evidence. *outcome*: its deployment there,
    made just now (``None``: nothing deployed, it is there already)."""
    args = context.args
    service, version, previous = args.service, args.version, left.previous
    how = []
    if left.rollout is not None:
        how.append(f"`findly-infra rollout {service} --env {previous} --watch` (or --due)")
    if left.suites:
        how.append(f"`findly-infra record {service} {version} --env {previous} --suite SUITE --junit REPORT`")
    again = f"`findly-infra github {service} {version}` again"
    waiting = f"{version} needs {left.describe()} before {target}: {' and '.join(how)}, then run {again}"
    if outcome is not None:
        done = f"{version} never ran in {previous}, which comes before {target}: deployed there first"
        text = f"{trigger} maps to {target}; {done} ({present.view_text(outcome.view)}). {waiting}"
    else:
        text = f"{trigger} maps to {target}; waiting: {waiting}"
    present.annotate("warning", text)
    needs = [*(["rollout"] if left.rollout is not None else []), *left.suites]
    outputs = {
        "version": version,
        "environment": previous if outcome is not None else "",
        "target": target,
        "outcome": "started" if outcome is not None else "waiting",
        "waiting_for": "evidence",
        "waiting_needs": ",".join(needs),
        "waiting_message": waiting,
    }
    document: dict[str, Any] = {
        "target": target,
        "environment": previous if outcome is not None else None,
        "outcome": outputs["outcome"],
        "left": {"environment": previous, "rollout": left.rollout, "suites": list(left.suites), "message": waiting},
    }
    if outcome is not None:
        simulated = _simulated(runtime, outcome)
        present.outcome_outputs(outcome, simulated, **outputs)
        present.say_simulated(simulated, runtime.scenario, context.json)
        document = {**present.outcome_json(outcome, simulated), **document}
    else:
        present.github_output(**outputs)
        document = {**present.view_json(runtime.service.view(service, previous)), **document}
    context.emit(document, text)
    return EXIT_STOPPED


COMMANDS = (
    Command(
        "deploy",
        "deploy a version into an environment (exit 3 when a rule refuses)",
        _with(_arguments("service", "version"), _release_options),
        _deploy,
    ),
    Command(
        "promote",
        "promote a version into the next environment",
        _with(_arguments("service", "version", env="--to"), _release_options),
        _deploy,
    ),
    Command(
        "record",
        "record a test result for a version",
        _with(_arguments("service", "version"), _record_arguments),
        _record,
    ),
    Command(
        "approve",
        "approve a version for an environment",
        _with(_arguments("service", "version"), _approve_arguments),
        _approve,
    ),
    Command(
        "rollout",
        "run one analysis step of the rollout, all of them with --watch, or those due now with --due",
        _with(_arguments("service"), _rollout_arguments),
        _rollout,
    ),
    *(
        Command(
            name,
            f"{name} the rollout in an environment",
            _with(_arguments("service"), _gate_arguments(name)),
            _gate(name),
        )
        for name in ("pause", "resume", "abort", "rollback")
    ),
    Command("status", "per environment: what serves, what rolls out, what it waits for", _status_arguments, _status),
    Command("history", "the service's events: the audit trail", _history_arguments, _history),
    Command(
        "simulate",
        "a release in memory and virtual time, judged on scripted metrics (or on Prometheus's record with --replay)",
        _with(_arguments("service"), _simulate_arguments),
        _simulate,
    ),
    Command(
        "github",
        "deploy to the environment whose deployment_trigger matches this GitHub event",
        _with(_arguments("service", "version", env=None), _github_arguments),
        _github,
    ),
    Command(
        "demo",
        "the whole story on a fresh embedded state: promotions, approvals, a canary, a rollback",
        _demo_arguments,
        _demo,
    ),
)
