"""``dr failover``, ``dr drill``, ``dr status``, ``dr abandon`` and ``dr history``: the platform brought back in the
DR region (``application.recovery``), each step recorded, its measured RTO beside the target; ``--report DIR``
writes the operation's report and the runbook generated from the platform file (``render.runbook``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from findly_infra.cli import present
from findly_infra.cli.context import Command, Context, reason_argument
from findly_infra.cli.exits import EXIT_OK, EXIT_REFUSED

if TYPE_CHECKING:
    from findly_infra.application.recovery import Recovery
    from findly_infra.domain.platform import Platform
    from findly_infra.domain.recovery import RecoveryOperation

__all__ = ["COMMANDS", "operation_json", "operation_text", "recovery_history"]


def _arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="dr_command", metavar="ACTION", required=True)
    drill = actions.add_parser(
        "drill",
        help="rehearse a failover on a chosen target (--context CONTEXT, default failover.context; no DNS switched): "
        "the measured RTO per step beside the target; exit 3 (rule rto-target / rpo-target) when over it",
    )
    drill.add_argument(
        "--simulate",
        action="store_true",
        help="on a simulated DR region in memory (GKE, the cluster): every outcome says SIMULATED",
    )
    drill.add_argument(
        "--no-cluster", action="store_true", help="leave the GKE cluster as it is (the cluster step is skipped)"
    )
    failover = actions.add_parser(
        "failover",
        help="bring the platform back in the DR region and switch DNS to it once healthy (needs --confirm)",
    )
    failover.add_argument(
        "--confirm",
        action="store_true",
        required=True,
        help="a failover moves production traffic to another region: a person's decision, said on the command line",
    )
    failover.add_argument(
        "--force",
        action="store_true",
        help="switch a DNS record that holds neither its primary nor its DR addresses (someone changed it)",
    )
    failover.add_argument(
        "--allow-partial",
        action="store_true",
        help="switch DNS although services were skipped for want of a good version (recorded)",
    )
    for action in (drill, failover):
        action.add_argument(
            "--no-health-check",
            action="store_true",
            help="accept that health is not checked (no Prometheus bound): a failover switches DNS all the same, a "
            "drill is not refused for it (recorded)",
        )
        action.add_argument(
            "--backups",
            metavar="DIR",
            help="where `state backup` writes: the newest backup's age beside the RPO, and what it would lose",
        )
        action.add_argument(
            "--report",
            metavar="DIR",
            help="write dr-<operation>.json, dr-<operation>.md and runbook.md there",
        )
        action.add_argument(
            "--project", help="the Google Cloud project of the DR cluster (default: gke_cluster.project)"
        )
    actions.add_parser("status", help="the open failover or drill (if any) and the latest one")
    abandon = actions.add_parser("abandon", help="end the open failover or drill unfinished, so another may start")
    abandon.add_argument("--reason", required=True, type=reason_argument, help="why (recorded)")
    for action in (drill, failover, abandon):
        action.add_argument(
            "--take-over",
            action="store_true",
            help="take over a live lease whose runner you know is gone (the DR lease; for drill/failover also a "
            "rollout's in an environment that fails over): recorded, with the actor",
        )
    history = actions.add_parser("history", help="every failover and drill recorded, with its steps' times")
    history.add_argument("--limit", type=_positive, metavar="N", help="only the latest N operations")
    runbook = actions.add_parser("runbook", help="write the runbook generated from the platform file")
    runbook.add_argument("--report", metavar="DIR", required=True, help="the directory runbook.md is written to")


def _positive(text: str) -> int:
    """``--limit N``: a whole number above 0 (``0`` or ``-1`` would show all, or drop the oldest: exit 2)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a whole number of operations above 0, got {text!r}")
    return value


# ---- presentation -------------------------------------------------------------------------------------------------


def _state(operation: RecoveryOperation) -> str:
    if operation.completed is not None:
        return "completed"
    if operation.abandoned is not None:
        return "abandoned"
    return "open"


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def operation_json(operation: RecoveryOperation, platform: Platform) -> dict[str, Any]:
    """One operation as ``--json`` shows it (``dr failover``, ``dr drill``, ``dr status``, ``dr history``)."""
    from findly_infra.application.recovery import SIMULATED
    from findly_infra.render.runbook import rto_not_counted

    started = operation.started
    recovery = platform.disaster_recovery
    rto_target = recovery.rto_target.seconds if recovery is not None else None
    rpo_target = recovery.rpo_target.seconds if recovery is not None else None
    rto = operation.rto_seconds
    rpo = None
    if started.backup_age_seconds is not None:
        rpo = {
            "backup": started.backup,
            "age_seconds": _seconds(started.backup_age_seconds),
            "target_seconds": rpo_target,
            "within": None if rpo_target is None else started.backup_age_seconds <= rpo_target,
            "events_after": started.events_after_backup,
        }
    failing = operation.failing
    return {
        "operation": operation.name,
        "kind": operation.kind.value,
        "target": operation.target,
        "state": _state(operation),
        "started": started.at.isoformat(timespec="seconds"),
        "actor": started.actor,
        "environments": list(started.environments),
        "versions": operation.versions(),
        "skipped_services": list(started.skipped),
        "steps": [
            {"step": t.step.value, "seconds": _seconds(t.seconds), "skipped": t.skipped, "detail": list(t.detail)}
            for t in operation.timings()
        ],
        "next_step": operation.next_step.value if operation.next_step is not None else None,
        "failure": {"step": failing.step.value, "message": failing.message} if failing is not None else None,
        "rto": {
            "seconds": _seconds(rto),
            "target_seconds": rto_target,
            "within": None if rto is None or rto_target is None else rto <= rto_target,
            # how long resolvers may keep answering the primary after the DNS switch: the records' TTL before it
            "dns_cache_seconds": operation.dns_cache_seconds,
            "measured": "the RTO runs from the operation's start (recovery_started) to the end of its last step",
            "not_counted": rto_not_counted(operation),
        },
        "rpo": rpo,
        "abandoned": operation.abandoned.reason if operation.abandoned is not None else None,
        "simulated": operation.target == SIMULATED,
        "caveats": _caveats(operation),
    }


def _caveats(operation: RecoveryOperation) -> list[str]:
    """What the measured RTO does not cover: environments where nothing was deployed, services skipped, health not
    checked — a "within" is qualified by them."""
    from findly_infra.domain.recovery import RecoveryStep

    said = [
        f"nothing deployed in {environment}" for environment, deployed in operation.versions().items() if not deployed
    ]
    if operation.started.skipped:
        said.append(f"not deployed (no good version): {', '.join(operation.started.skipped)}")
    if any(done.step is RecoveryStep.HEALTH and done.skipped for done in operation.steps_done()):
        said.append("health not checked")
    return said


def operation_text(operation: RecoveryOperation, platform: Platform) -> str:
    shown = operation_json(operation, platform)
    lines = [
        f"{'SIMULATED ' if shown['simulated'] else ''}{shown['kind']} {shown['operation']} on {shown['target']}: "
        f"{shown['state']}"
    ]
    for step in shown["steps"]:
        mark = "skipped" if step["skipped"] else "done"
        lines.append(f"  {step['step']:8} {mark:7} {step['seconds']:>9.3f} s")
        lines += [f"      {line}" for line in step["detail"]]
    if shown["next_step"] is not None and shown["state"] == "open":
        lines.append(f"  next step: {shown['next_step']} (run the same command again to resume)")
    if shown["failure"] is not None:
        lines.append(f"  failed at {shown['failure']['step']}: {shown['failure']['message']}")
    rto = shown["rto"]
    if rto["seconds"] is not None:
        target = (
            f" (target {rto['target_seconds']:g} s: {'within' if rto['within'] else 'OVER'})"
            if (rto["target_seconds"] is not None)
            else ""
        )
        qualified = f" — but {'; '.join(shown['caveats'])}" if shown["caveats"] else ""
        lines.append(f"  RTO measured: {rto['seconds']:.3f} s{target}{qualified}")
        if rto["dns_cache_seconds"] is not None:
            lines.append(
                f"  DNS caching: resolvers may keep answering the primary for up to {rto['dns_cache_seconds']} s more "
                "(the records' TTL before the switch)"
            )
        lines.append(f"  {rto['measured']}; not in it: {'; '.join(rto['not_counted'])}")
    rpo = shown["rpo"]
    if rpo is not None:
        target = (
            f" (target {rpo['target_seconds']:g} s: {'within' if rpo['within'] else 'OVER'})"
            if (rpo["target_seconds"] is not None)
            else ""
        )
        lines.append(
            f"  RPO: newest backup {rpo['backup']} was {rpo['age_seconds']:.0f} s old{target}; "
            f"{rpo['events_after']} events recorded after it would be lost"
        )
    if shown["skipped_services"]:
        lines.append(f"  not deployed (no good version): {', '.join(shown['skipped_services'])}")
    if shown["abandoned"] is not None:
        lines.append(f"  abandoned: {shown['abandoned']}")
    return "\n".join(lines)


def _markdown_table(shown: dict[str, Any]) -> str:
    rows = [
        f"### {'SIMULATED ' if shown['simulated'] else ''}{shown['kind']} {shown['operation']} ({shown['state']})",
        "",
        "| step | seconds | |",
        "|---|---:|---|",
    ]
    for step in shown["steps"]:
        rows.append(f"| {step['step']} | {step['seconds']:.3f} | {'skipped' if step['skipped'] else 'done'} |")
    rto = shown["rto"]
    if rto["seconds"] is not None:
        rows.append(f"| **RTO** | **{rto['seconds']:.3f}** | target {rto['target_seconds']} s |")
    return "\n".join(rows)


def _outputs(shown: dict[str, Any]) -> None:
    rto = shown["rto"]
    present.github_output(
        operation=shown["operation"],
        kind=shown["kind"],
        state=shown["state"],
        rto_seconds="" if rto["seconds"] is None else f"{rto['seconds']:.3f}",
        rto_within="" if rto["within"] is None else str(rto["within"]).lower(),
        simulated=str(shown["simulated"]).lower(),
    )
    present.summary(lambda: _markdown_table(shown))


# ---- the commands -------------------------------------------------------------------------------------------------


def _run(context: Context) -> int:
    action = context.args.dr_command
    if action in ("drill", "failover"):
        return _operate(context)
    if action == "abandon":
        return _abandon(context)
    if action == "runbook":
        return _runbook(context)
    return _read(context)


def _recovery(context: Context, *, read_only: bool) -> tuple[Recovery, Platform, str]:
    from findly_infra.bootstrap.recovery import open_recovery
    from findly_infra.domain.recovery import RecoveryKind

    args = context.args
    kind = RecoveryKind.FAILOVER if args.dr_command == "failover" else RecoveryKind.DRILL
    simulate = bool(getattr(args, "simulate", False))
    platform = context.platform(embedded_example=simulate or read_only)
    given = getattr(args, "context", None)  # the flag only: FINDLY_KUBE_CONTEXT may name the primary's cluster
    if given is not None and (kind is RecoveryKind.FAILOVER or simulate):
        from findly_infra.application.ports import BadInputError

        where = "a failover goes to failover.context" if not simulate else "--simulate drills on no real cluster"
        raise BadInputError(f"--context {given}: {where}; leave --context out")
    if given is not None and kind is RecoveryKind.DRILL:  # before any service is reached
        from findly_infra.application.recovery import refuse_bound_target

        refuse_bound_target(platform, kind, given)
    runtime = context.runtime(platform, read_only=read_only)
    if read_only or args.dr_command not in ("drill", "failover"):
        simulate = True  # reads and abandon reach no cluster
    recovery, target = open_recovery(
        context.settings,
        platform,
        runtime,
        context.stack,
        kind=kind,
        context=given,
        simulate=simulate,
        no_cluster=bool(getattr(args, "no_cluster", False)),
        project=getattr(args, "project", None),
    )
    if runtime.virtual is not None and not simulate:
        from findly_infra.application.ports import BadInputError

        raise BadInputError(
            "a failover or a drill on a real cluster runs in real time: time is virtual here (--now, or a state that "
            "keeps a rehearsal's time, or memory://); use `dr drill --simulate` to rehearse"
        )
    return recovery, recovery.platform, target


def _operate(context: Context) -> int:
    from findly_infra.application.recovery import RecoveryRefusedError, RecoveryStepError
    from findly_infra.domain.recovery import RecoveryKind

    args = context.args
    actor = context.actor()
    recovery, platform, target = _recovery(context, read_only=False)
    kind = RecoveryKind.FAILOVER if args.dr_command == "failover" else RecoveryKind.DRILL
    backup = None
    if args.backups:
        from findly_infra.bootstrap.recovery import newest_backup_in

        backup = newest_backup_in(args.backups)
    if target == "simulated":
        present.say(
            "SIMULATED: the DR region is simulated in memory (GKE, the cluster's objects): nothing real was created "
            "or deployed, and the times measured are the simulation's",
            "dr.simulated",
            context.json,
            simulated=["cluster", "gke", "dns"],
        )
        present.annotate("warning", "SIMULATED: the DR region is simulated in memory")
    if args.report:  # checked before anything runs: a report that cannot be written stops nothing half-way
        _report_folder(args.report)
    recovery.allow_partial = bool(getattr(args, "allow_partial", False))
    recovery.no_health_check = bool(args.no_health_check)
    try:
        operation = recovery.run(
            kind,
            target,
            actor=actor,
            backup=backup,
            force=getattr(args, "force", False),
            take_over=bool(args.take_over),
        )
    except (RecoveryRefusedError, RecoveryStepError) as stopped:
        opened = recovery.open()
        if opened is None or (opened.kind, opened.target) != (kind, target):  # refused before it had one
            raise
        return _stopped(context, recovery, opened, stopped)
    shown = operation_json(operation, platform)
    file_platform = context.platform(embedded_example=True) if args.report else None
    written = _write_report(args.report, recovery, operation, file_platform) if args.report else []
    document = {**shown, "report": written}
    _outputs(shown)
    context.emit(document, operation_text(operation, platform) + "".join(f"\nwrote {path}" for path in written))
    if kind is RecoveryKind.DRILL:
        return _held_to_targets(context, shown, no_health_check=bool(args.no_health_check))
    if shown["rto"]["within"] is False:
        present.say(
            f"the failover took {shown['rto']['seconds']:.0f} s, over the RTO target", "dr.over_rto", context.json
        )
    return EXIT_OK


def _held_to_targets(context: Context, shown: dict[str, Any], *, no_health_check: bool = False) -> int:
    """A drill over its RTO (or its backups over the RPO) exits 3, rule ``rto-target`` (``rpo-target``): a scheduled
    drill then fails where people look. So does a real drill that deployed nothing in an environment
    (``dr-serves-nothing``: its RTO measures no recovery), and a real drill whose health was not checked
    (``health-unchecked``, unless ``--no-health-check``). The drill is recorded completed all the same."""
    over = []
    empty = [environment for environment, deployed in shown["versions"].items() if not deployed]
    if empty and not shown["simulated"]:  # a simulated drill proves nothing real: its caveats say it, exit 0
        over.append(("dr-serves-nothing", f"the drill deployed no service in {', '.join(empty)}: its RTO measures no "
                     "recovery there (no good version in the log)"))  # fmt: skip
    health = next((step for step in shown["steps"] if step["step"] == "health"), None)
    if health is not None and health["skipped"] and not shown["simulated"] and not no_health_check:
        over.append(("health-unchecked", "the drill did not check health (no Prometheus bound): a failover would "
                     "refuse to switch DNS without --no-health-check"))  # fmt: skip
    if shown["rto"]["within"] is False:
        over.append(("rto-target", f"the drill took {shown['rto']['seconds']:.0f} s, over the RTO target of "
                     f"{shown['rto']['target_seconds']:g} s"))  # fmt: skip
    if shown["rpo"] is not None and shown["rpo"]["within"] is False:
        over.append(("rpo-target", f"the newest backup was {shown['rpo']['age_seconds']:.0f} s old, over the RPO "
                     f"target of {shown['rpo']['target_seconds']:g} s"))  # fmt: skip
    if not over:
        return EXIT_OK
    for rule, message in over:
        present.say(f"refused by {rule}: {message}", "dr.over_target", context.json, rule=rule)
        present.annotate("error", f"refused by {rule}: {message}")
    return EXIT_REFUSED


def _stopped(context: Context, recovery: Recovery, operation: RecoveryOperation, stopped: Exception) -> int:
    """A refused or failed step: the operation as it stands (open), beside the error, in one document."""
    from findly_infra.application.recovery import RecoveryRefusedError
    from findly_infra.cli.exits import EXIT_DEPENDENCY

    shown = operation_json(operation, recovery.platform)
    refused = isinstance(stopped, RecoveryRefusedError)
    error: dict[str, Any] = {"kind": "refused" if refused else "dependency", "message": str(stopped)}
    if isinstance(stopped, RecoveryRefusedError):
        error["rule"] = stopped.refusal.rule
    _outputs(shown)
    if context.json:
        present.emit_json({"ok": False, "error": error, **shown}, context.out)
    else:
        context.out.write(present.printable(operation_text(operation, recovery.platform)) + "\n")
        import sys

        sys.stderr.write(present.printable(str(stopped)) + "\n")
    present.annotate("error", str(stopped))
    return EXIT_REFUSED if refused else EXIT_DEPENDENCY


def _abandon(context: Context) -> int:
    actor = context.actor()
    recovery, platform, _ = _recovery(context, read_only=False)
    operation = recovery.abandon(actor=actor, reason=context.args.reason, take_over=bool(context.args.take_over))
    context.emit(operation_json(operation, platform), operation_text(operation, platform))
    return EXIT_OK


def _read(context: Context) -> int:
    recovery, platform, _ = _recovery(context, read_only=True)
    found = recovery.operations()
    if context.args.dr_command == "status":
        current = recovery.open()
        latest = found[-1] if found else None
        document = {
            "open": operation_json(current, platform) if current is not None else None,
            "latest": operation_json(latest, platform) if latest is not None else None,
        }
        # the open operation once: it is often the latest too (compared by name: each read builds new objects)
        if latest is None:
            text = "no failover or drill recorded"
        elif current is None:
            text = "nothing open (no failover or drill under way)\nlatest: " + operation_text(latest, platform)
        elif current.name == latest.name:
            text = "open: " + operation_text(current, platform)
        else:
            text = "open: " + operation_text(current, platform) + "\nlatest: " + operation_text(latest, platform)
        context.emit(document, text)
        return EXIT_OK
    return history_of(context, platform, found)


def history_of(context: Context, platform: Platform, found: Any) -> int:
    """Every operation recorded (``dr history``, ``history --recovery``), oldest first."""
    limit = getattr(context.args, "limit", None)
    shown = list(found)[-limit:] if limit else list(found)
    context.emit(
        {"operations": [operation_json(operation, platform) for operation in shown]},
        "\n".join(operation_text(operation, platform) for operation in shown) or "no failover or drill recorded",
    )
    return EXIT_OK


def recovery_history(context: Context) -> int:
    """``history --recovery``: every failover and drill recorded, read only."""
    from findly_infra.bootstrap.recovery import recovery_reader

    platform = context.platform(embedded_example=True)
    recovery = recovery_reader(platform, context.runtime(platform, read_only=True))
    return history_of(context, platform, recovery.operations())


def _runbook(context: Context) -> int:
    recovery, _, _ = _recovery(context, read_only=True)
    written = _write_report(context.args.report, recovery, None, context.platform(embedded_example=True))
    context.emit({"report": written}, "\n".join(f"wrote {path}" for path in written))
    return EXIT_OK


def _report_folder(directory: str) -> Path:
    """*directory*, made if missing and writable — else bad input naming it (exit 2)."""
    from findly_infra.application.ports import BadInputError

    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInputError(f"--report {directory}: {exc.strerror or exc}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BadInputError(f"--report {directory}: not writable")
    return folder


def _write_report(
    directory: str, recovery: Recovery, operation: RecoveryOperation | None, platform: Platform | None = None
) -> list[str]:
    """``dr-<operation>.json``, ``dr-<operation>.md`` and ``runbook.md`` in *directory*, each written whole (to a
    temporary file, then renamed). The runbook is the file's (*platform*), never the simulated region's stand-in
    ``failover`` (a file with none is said to have none)."""
    import json

    from findly_infra.render.runbook import operation_markdown, runbook_markdown

    folder = _report_folder(directory)
    files: dict[str, str] = {}
    if operation is not None:
        shown = operation_json(operation, recovery.platform)
        files[f"dr-{operation.name}.json"] = json.dumps(shown, indent=2, sort_keys=True) + "\n"
        files[f"dr-{operation.name}.md"] = operation_markdown(recovery.platform, operation)
    files["runbook.md"] = runbook_markdown(platform or recovery.platform, recovery.last_drill())
    written = []
    for name, text in files.items():
        path = folder / name
        temporary = path.with_name(f".{name}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
        written.append(str(path))
    return written


COMMANDS = (
    Command(
        "dr",
        "disaster recovery: `dr drill` rehearses a failover (its RTO measured), `dr failover --confirm` brings the "
        "platform back in the DR region, `dr status`, `dr abandon`, `dr history`, `dr runbook`",
        _arguments,
        _run,
    ),
)
