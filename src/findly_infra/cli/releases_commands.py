"""``release create|promote|approve|step|watch|rollback|status|history``: releases of several services
(``application.releases``) — versions of several services promoted together, approved once per environment, rolled
out one service at a time in the order of the platform file's ``depends_on``, and returned as a whole when one part
fails. The single-service commands are in ``release.py``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from findly_infra.cli import present
from findly_infra.cli.context import Command, Context, reason_argument
from findly_infra.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_STOPPED

if TYPE_CHECKING:
    from findly_infra.application.releases import ReleaseProgress, ReleaseService
    from findly_infra.bootstrap import Runtime
    from findly_infra.domain.events import Event
    from findly_infra.domain.releases import Release, ReleaseInEnvironment

__all__ = ["COMMANDS", "progress_json", "release_json"]


_NAME = "the release's name"
_ENV = "the environment the release is in"


def _arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="release_command", metavar="ACTION", required=True)
    create = actions.add_parser(
        "create", help="name a release: SERVICE=VERSION... or --file (ordered by the platform file's depends_on)"
    )
    create.add_argument("name", metavar="NAME", help="the release's name (letters, digits, '.', '_', '-')")
    create.add_argument("parts", nargs="*", metavar="SERVICE=VERSION", help="each service and the version it releases")
    create.add_argument(
        "--file", metavar="FILE", help="a YAML file: {release: NAME, services: {SERVICE: VERSION, ...}}"
    )
    promote = actions.add_parser(
        "promote",
        help="set the release out into an environment (after it succeeded in the one before); where approval is "
        "needed, every part's promotion is asked for and it stops for a person (exit 6)",
    )
    promote.add_argument("name", metavar="NAME", help=_NAME)
    promote.add_argument("--to", dest="environment", required=True, metavar="ENV", help="the environment to enter")
    approve = actions.add_parser(
        "approve", help="approve the whole release for an environment: one approval of every part, by one person"
    )
    approve.add_argument("name", metavar="NAME", help=_NAME)
    approve.add_argument("--environment", "--env", dest="environment", required=True, metavar="ENV", help=_ENV)
    approve.add_argument("--group", help="the approver group to approve for (default: the one you belong to)")
    for action, text in (
        ("step", "advance the release as far as it goes now: parts started, done or returned, one analysis"),
        ("watch", "advance the release until it succeeds (0), is rolled back (4) or waits for a person (6)"),
    ):
        sub = actions.add_parser(action, help=text)
        sub.add_argument("name", metavar="NAME", help=_NAME)
        sub.add_argument("--environment", "--env", dest="environment", required=True, metavar="ENV", help=_ENV)
    rollback = actions.add_parser(
        "rollback", help="return the release as a whole in an environment: the parts it did, in reverse order"
    )
    rollback.add_argument("name", metavar="NAME", help=_NAME)
    rollback.add_argument("--environment", "--env", dest="environment", required=True, metavar="ENV", help=_ENV)
    rollback.add_argument("--reason", required=True, type=reason_argument, help="why (recorded)")
    status = actions.add_parser("status", help="each release (or NAME), each environment: phase, parts, waits")
    status.add_argument("name", nargs="?", metavar="NAME", help="the release (default: every release)")
    history = actions.add_parser("history", help="the release's events (and with --parts each part's own)")
    history.add_argument("name", metavar="NAME", help=_NAME)
    history.add_argument("--parts", action="store_true", help="each part's events of the version it releases too")


# ---- presentation -------------------------------------------------------------------------------------------------


def _here_json(here: ReleaseInEnvironment) -> dict[str, Any]:
    return {
        "environment": here.environment,
        "phase": here.phase.value,
        "entered_by": here.entered_by,
        "entered_at": here.entered_at.isoformat(),
        "approvers": list(here.approvers),
        "failed": here.failed or None,
        "ended_at": here.ended_at.isoformat() if here.ended_at else None,
        "parts": [
            {
                "service": part.service,
                "version": part.version,
                "status": part.status.value,
                "previous": part.previous,
                "reason": part.reason or None,
            }
            for part in here.parts
        ],
    }


def release_json(release: Release, waits: dict[str, str | None] | None = None) -> dict[str, Any]:
    """One release as ``--json`` shows it: its parts in rollout order, and where it stands in each environment."""
    waits = waits or {}
    return {
        "release": release.name,
        "parts": [str(part) for part in release.parts],
        "created_by": release.created_by,
        "created_at": release.created_at.isoformat(),
        "environments": {
            name: {**_here_json(here), "waiting_for": waits.get(name)} for name, here in release.environments.items()
        },
    }


def _here_text(here: ReleaseInEnvironment, waiting: str | None) -> str:
    line = partial(present.printable, one_line=True)
    lines = [f"  {here.environment}: {here.phase.value.replace('_', ' ')}"]
    if here.approvers:
        lines[0] += f" (approved by {', '.join(here.approvers)})"
    for part in here.parts:
        detail = f" — {line(part.reason)}" if part.reason else ""
        lines.append(f"    {part.service} {part.version}: {part.status.value}{detail}")
    if waiting:
        lines.append(f"    waits for {line(waiting)}")
    return "\n".join(lines)


def _release_text(release: Release, waits: dict[str, str | None] | None = None) -> str:
    waits = waits or {}
    head = f"release {release.name}: {', '.join(map(str, release.parts))}"
    body = [_here_text(here, waits.get(name)) for name, here in release.environments.items()]
    return "\n".join([head, *body]) if body else f"{head}\n  not promoted yet"


def progress_json(progress: ReleaseProgress, simulated: Sequence[str] = ()) -> dict[str, Any]:
    """What a command that moves a release did, as ``--json`` shows it (*simulated*: what of its environment ran on
    the simulated cluster or scripted metrics, as every release command says)."""
    from findly_infra.application.codec import event_shown

    here = progress.here
    return {
        "release": progress.release.name,
        "environment": progress.environment,
        "outcome": progress.state,
        "phase": here.phase.value if here is not None else None,
        "waiting_for": progress.waiting,
        "already": progress.already,
        "parts": _here_json(here)["parts"] if here is not None else [],
        "recorded": [event_shown(event) for event in progress.events],
        "acted": [
            {"service": service, "events": [e.type for e in outcome.events], "phase": outcome.phase.value}
            for service, outcome in progress.outcomes
        ],
        "simulated": bool(simulated),
        "simulation": list(simulated),
    }


def _progress_text(progress: ReleaseProgress) -> str:
    lines = []
    if progress.already:
        lines.append(progress.already)
    for service, outcome in progress.outcomes:
        lines.append(f"{service} in {progress.environment}: {present.view_text(outcome.view)}")
    here = progress.here
    if here is not None:
        lines.append(f"release {progress.release.name}")
        lines.append(_here_text(here, progress.waiting))
    if progress.state == "progressing" and here is not None and here.phase.under_way:
        name, env = progress.release.name, progress.environment
        lines.append(f"next: findly-infra release watch {name} --environment {env}")
    return "\n".join(lines)


def _finish(context: Context, progress: ReleaseProgress, simulated: Sequence[str] = ()) -> int:
    """The command's document or text, its notes, and its exit code: 0 done or under way, 4 rolled back, 6 it waits
    for a person."""
    if progress.state == "stopped" and progress.waiting:
        present.annotate("warning", f"release {progress.release.name} waits for {progress.waiting}")
    _report(context, progress, simulated)
    context.emit(progress_json(progress, simulated), _progress_text(progress))
    if progress.state == "rolled_back":
        return EXIT_FAILED
    return EXIT_STOPPED if progress.state == "stopped" else EXIT_OK


# ---- commands -----------------------------------------------------------------------------------------------------


def _service(context: Context, *, read_only: bool = False) -> tuple[ReleaseService, Runtime]:
    from findly_infra.bootstrap import release_service

    runtime = context.runtime(context.platform(), read_only=read_only)
    return release_service(runtime), runtime


def _run(context: Context) -> int:
    action = context.args.release_command
    return {
        "create": _create,
        "promote": _promote,
        "approve": _approve,
        "step": _advance,
        "watch": _advance,
        "rollback": _rollback,
        "status": _status,
        "history": _history,
    }[action](context)


def _parts_of_file(path: str) -> tuple[str, tuple[Any, ...]]:
    """The release a ``--file`` names: its name and parts (bad input naming the file, the place and its line). Read as
    the platform file is (``config.document``: one UTF-8 YAML document, no key twice, bounded), and every version
    written as text: YAML reads ``1.10`` as the number 1.1 and ``0x1F`` as 31, so an unquoted number is refused."""
    from findly_infra.application.ports import BadInputError
    from findly_infra.application.releases import parts_of
    from findly_infra.config.document import DocumentError, read_document

    try:
        document = read_document(path)
    except DocumentError as exc:
        line = f" (line {exc.line})" if exc.line else ""
        place = ".".join(map(str, exc.path))
        raise BadInputError(f"--file {path}{': ' + place if place else ''}{line}: {exc.message}") from None
    data = document.data
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict) or not data["services"]:
        raise BadInputError(f"--file {path}: expected {{release: NAME, services: {{SERVICE: VERSION, ...}}}}")
    unknown = sorted(str(key) for key in set(data) - {"release", "services"})
    if unknown:
        raise BadInputError(f"--file {path}: unknown key {unknown[0]!r} (release, services)")
    name = data.get("release")
    if name is not None and not isinstance(name, str):
        raise BadInputError(f"--file {path}: release: a name (text), got {name!r}")
    for service, version in data["services"].items():
        if not isinstance(version, str):
            written = document.line_of(("services", service))
            raise BadInputError(
                f"--file {path}: services.{service}{f' (line {written})' if written else ''}: "
                "the version must be text: "
                f'YAML read {version!r} ({type(version).__name__}); quote it as written, e.g. {service}: "1.10"'
            )
    return name or "", parts_of(data["services"], where=f"--file {path}")


def _create(context: Context) -> int:
    from findly_infra.application.ports import BadInputError
    from findly_infra.application.releases import parse_parts

    args = context.args
    actor = context.actor()
    if args.file and args.parts:
        raise BadInputError("release create: give SERVICE=VERSION words or --file, not both")
    if args.file:
        named, parts = _parts_of_file(args.file)
        if named and named != args.name:
            raise BadInputError(f"--file {args.file}: release: {named}, but the command names {args.name}")
    else:
        if not args.parts:
            raise BadInputError("release create: give SERVICE=VERSION words, or --file FILE")
        parts = parse_parts(args.parts)
    releases, _ = _service(context)
    release, already = releases.create(args.name, parts, actor=actor, where=f"--file {args.file}" if args.file else "")
    text = already or f"created release {release.name}: {', '.join(map(str, release.parts))} (in this order)"
    context.emit({**release_json(release), "already": already}, text)
    return EXIT_OK


def _promote(context: Context) -> int:
    args = context.args
    platform = context.platform()
    runtime, actor, identity = context.acting(platform, args.environment)
    from findly_infra.bootstrap import release_service

    progress = release_service(runtime).promote(args.name, args.environment, actor=actor, identity=identity)
    simulated = runtime.simulated_in(args.environment)
    present.say_simulated(simulated, runtime.scenario, context.json)
    return _finish(context, progress, simulated)


def _approve(context: Context) -> int:
    args = context.args
    platform = context.platform()
    runtime, actor, identity = context.acting(platform, args.environment)
    from findly_infra.bootstrap import release_service

    progress = release_service(runtime).approve(
        args.name, args.environment, actor=actor, group=args.group, identity=identity
    )
    simulated = runtime.simulated_in(args.environment)
    present.say_simulated(simulated, runtime.scenario, context.json)
    _report(context, progress, simulated)
    context.emit(progress_json(progress, simulated), _progress_text(progress))
    return EXIT_OK


def _report(context: Context, progress: ReleaseProgress, simulated: Sequence[str] = ()) -> None:
    """In GitHub Actions: the release in its environment in the step summary and the job's outputs (``simulated``
    among them, as every release command writes it)."""
    from findly_infra.cli.release_summary import report_release

    report_release(progress.release, progress.environment, context.platform())
    present.github_output(simulated=str(bool(simulated)).lower())


def _waiter(context: Context, runtime: Runtime) -> Any:
    from findly_infra.cli.release import watch_waiter  # the watch's own: virtual time, never past the wall

    return watch_waiter(runtime, context.json, context.settings.step_delay)


def _advance(context: Context) -> int:
    args = context.args
    actor = context.actor()
    releases, runtime = _service(context)
    releases.release(args.name)  # an unknown release is said before anything else (exit 2)
    simulated = runtime.simulated_in(args.environment)
    present.say_simulated(simulated, runtime.scenario, context.json)
    run = releases.watch if args.release_command == "watch" else releases.step
    progress = run(args.name, args.environment, actor=actor, wait=_waiter(context, runtime))
    return _finish(context, progress, simulated)


def _rollback(context: Context) -> int:
    args = context.args
    actor = context.actor()
    releases, runtime = _service(context)
    progress = releases.roll_back(
        args.name, args.environment, actor=actor, reason=args.reason, wait=_waiter(context, runtime)
    )
    simulated = runtime.simulated_in(args.environment)
    present.say_simulated(simulated, runtime.scenario, context.json)
    _finish(context, progress, simulated)
    return EXIT_OK if progress.state == "rolled_back" else EXIT_STOPPED


def _status(context: Context) -> int:
    releases, _ = _service(context, read_only=True)
    found = [releases.release(context.args.name)] if context.args.name else list(releases.releases().values())
    shown = []
    texts = []
    waiting = False
    for release in found:
        waits = {env: releases.waiting_for(release, env) for env in release.environments}
        waiting = waiting or any(wait is not None for wait in waits.values())
        shown.append(release_json(release, waits))
        texts.append(_release_text(release, waits))
    context.emit({"releases": shown}, "\n".join(texts) or "no release recorded (findly-infra release create ...)")
    return EXIT_STOPPED if waiting and context.args.name else EXIT_OK  # a release named: 6 while it waits for a person


def _history(context: Context) -> int:
    from findly_infra.application.codec import event_shown

    args = context.args
    releases, _ = _service(context, read_only=True)
    events = releases.history(args.name)
    parts = releases.part_history(args.name) if args.parts else {}
    document: dict[str, Any] = {"release": args.name, "events": [event_shown(event) for event in events]}
    lines = [_event_line(event) for event in events]
    if args.parts:
        document["parts"] = {service: [event_shown(e) for e in found] for service, found in parts.items()}
        for service, found in parts.items():
            lines.append(f"-- {service}")
            lines.extend(_event_line(event) for event in found)
    context.emit(document, "\n".join(lines))
    return EXIT_OK


def _event_line(event: Event) -> str:
    field = partial(present.printable, one_line=True)
    part = getattr(event, "part", "") or ""
    detail = " ".join(filter(None, [part, getattr(event, "part_version", "") or "", event.reason or ""]))
    return (
        f"{event.at.isoformat()}  {field(event.environment or '-'):12} {event.type:24} {field(event.actor):12} "
        f"{field(detail)}"
    )


COMMANDS = (
    Command(
        "release",
        "releases of several services: `release create NAME SERVICE=VERSION...`, `promote NAME --to ENV`, "
        "`approve`, `step`, `watch`, `rollback`, `status`, `history`",
        _arguments,
        _run,
    ),
)
