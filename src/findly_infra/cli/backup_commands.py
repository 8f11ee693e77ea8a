"""``state backup --to DIR`` (a consistent, atomic backup of the state), ``state backup --check DIR`` (the newest
backup's age against the RPO, for a scheduled job: exit 3, rule ``rpo-target``, when it is too old or missing) and
``state restore FILE`` (into an empty state, every link checked): declared beside the other ``state`` actions
(``cli.state_commands``), carried out here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from findly_infra.cli import present
from findly_infra.cli.exits import EXIT_OK, EXIT_REFUSED

if TYPE_CHECKING:
    from findly_infra.application.backup import BackupInfo
    from findly_infra.cli.context import Context

__all__ = ["add_backup_arguments", "backup", "restore"]


def add_backup_arguments(actions: Any) -> None:
    """The ``backup`` and ``restore`` actions of ``state`` (*actions*: its sub-parsers)."""
    taking = actions.add_parser(
        "backup",
        help="--to DIR: the whole state, read in one transaction, into a new DIR/findly-state-<UTC time>.jsonl.gz "
        "(written beside it, synced, then linked into place), with each stream's head link; --check DIR: the newest "
        "backup's age against the RPO (exit 3, rule rpo-target, when older or none)",
    )
    mode = taking.add_mutually_exclusive_group(required=True)
    mode.add_argument("--to", metavar="DIR", help="the folder to write the backup into (made if missing)")
    mode.add_argument("--check", metavar="DIR", help="the folder whose newest backup is checked against the RPO")
    taking.add_argument(
        "--keep", type=int, metavar="N", help="with --to: then delete the oldest of this tool's backups beyond N"
    )
    taking.add_argument(
        "--rpo",
        metavar="DURATION",
        help="with --check: the recovery point objective ('5 minutes', '15m'; default: the platform file's "
        "disaster_recovery.rpo_target)",
    )
    restoring = actions.add_parser(
        "restore",
        help="a backup into an EMPTY state (SQLite or PostgreSQL): every line checked as import checks it, every "
        "link recomputed and compared with the backup's; refused over a state with other events (exit 3, rule "
        "empty-state)",
    )
    restoring.add_argument("file", metavar="FILE", help="the backup (findly-state-….jsonl.gz)")


def _now(context: Context) -> datetime:
    """The time the command acts at (naive UTC): ``--now`` / ``FINDLY_NOW`` where given (tests, rehearsals), else the
    system clock."""
    now = context.settings.now  # naive UTC already (``bootstrap.settings``)
    return now if now is not None else _wall()


def _wall() -> datetime:
    """The real clock (naive UTC): what a durable record's time is bounded by."""
    return datetime.now(UTC).replace(tzinfo=None)


def _durable(context: Context, doing: str) -> None:
    from findly_infra.application.ports import BadInputError
    from findly_infra.bootstrap.stores import is_postgres, sqlite_path

    url = context.settings.state
    if not is_postgres(url) and sqlite_path(url) is None:
        raise BadInputError(
            f"{doing} needs a durable state (a SQLite file, sqlite://PATH or postgresql://…): memory:// keeps nothing "
            "between commands"
        )


def backup(context: Context) -> int:
    if context.args.check is not None:
        return _check(context)
    from findly_infra.application.backup import prune_backups, write_backup
    from findly_infra.application.ports import BadInputError
    from findly_infra.bootstrap import state_store
    from findly_infra.bootstrap.stores import is_postgres, sqlite_path

    if context.args.rpo is not None:
        raise BadInputError("--rpo goes with --check (the age of the newest backup), not with --to")
    keep = context.args.keep
    if keep is not None and keep < 1:
        raise BadInputError(f"--keep is 1 or more (the backup just taken is kept), got {keep}")
    _durable(context, "state backup")
    path = None if is_postgres(context.settings.state) else sqlite_path(context.settings.state)
    if path is not None and not path.exists():
        raise BadInputError(f"--state {path} does not exist: there is nothing to back up")
    store = context.stack.enter_context(state_store(context.settings, read_only=True))
    wall = _wall()
    info = write_backup(store, Path(context.args.to), _now(context), wall=wall)
    deleted = (
        prune_backups(Path(context.args.to), keep, kept=info.path, wall=wall, firsts=info.firsts)
        if keep is not None
        else []
    )
    document = {**_info_json(info), "deleted": [str(gone) for gone in deleted]}
    text = (
        f"{info.path}: {info.size} bytes, {len(info.streams)} streams, {info.events} events (taken at "
        f"{info.taken_at.isoformat()}Z; newest event {_at(info.newest_event_at)})"
    )
    if deleted:
        text += "\n" + "\n".join(f"deleted {gone}" for gone in deleted)
    present.github_output(backup=str(info.path), events=str(info.events))
    context.emit(document, text)
    return EXIT_OK


def _info_json(info: BackupInfo) -> dict[str, Any]:
    return {
        "backup": str(info.path),
        "size": info.size,
        "taken_at": f"{info.taken_at.isoformat()}Z",
        "newest_event_at": None if info.newest_event_at is None else f"{info.newest_event_at.isoformat()}Z",
        "streams": info.streams,
        "events": info.events,
        "heads": {name: f"{name}@{info.streams[name] - 1}={value}" for name, value in info.heads.items()},
    }


def _at(moment: datetime | None) -> str:
    return "none" if moment is None else f"{moment.isoformat()}Z"


def _target(context: Context) -> timedelta:
    from findly_infra.application.ports import BadInputError
    from findly_infra.domain.notation import Duration, NotationError

    if context.args.rpo is not None:
        try:
            duration = Duration.parse(context.args.rpo)
        except NotationError as exc:
            raise BadInputError(f"--rpo: {exc}") from None
        if duration.milliseconds <= 0:
            raise BadInputError("--rpo is a positive time, such as '5 minutes'")
        return timedelta(milliseconds=duration.milliseconds)
    recovery = context.platform().disaster_recovery
    if recovery is None:
        raise BadInputError(
            f"{context.settings.config_path} has no disaster_recovery.rpo_target: give --rpo DURATION, or the target "
            "in the platform file"
        )
    return timedelta(milliseconds=recovery.rpo_target.milliseconds)


def _check(context: Context) -> int:
    from findly_infra.application.backup import BackupInfo, backups, of_state, rpo_refusal
    from findly_infra.application.ports import BadInputError
    from findly_infra.application.timekeeping import SKEW

    if context.args.keep is not None:
        raise BadInputError("--keep goes with --to (deleting old backups), not with --check")
    directory = Path(context.args.check)
    if not directory.is_dir():
        raise BadInputError(f"--check {directory}: not a folder (no backup was ever written there?)")
    target, now = _target(context), _now(context)
    found = backups(directory, whole=True)  # a backup cut short after its header never counts
    bound = min(now, _wall()) + SKEW  # a backup stamped past it is from the future: it vouches for nothing
    readable = sorted(
        (each for each in found if isinstance(each, BackupInfo)),
        key=lambda info: (info.taken_at, info.path.name),
        reverse=True,
    )
    counts, note, firsts = _state(context)
    others = [each for each in readable if firsts is not None and of_state(each, firsts) is False]
    newest = next((each for each in readable if each.taken_at <= bound and each not in others), None)
    unreadable = [(str(path), why) for path, why in (each for each in found if not isinstance(each, BackupInfo))]
    unreadable += [
        (
            str(each.path),
            f"stamped {each.taken_at.isoformat()}Z, in the future of now ({now.isoformat()}Z) and of the real clock: "
            "a backup from the future (a --now ahead of the clock, or a host whose clock is ahead) is not counted",
        )
        for each in readable
        if each.taken_at > bound
    ]
    unreadable += [
        (
            str(each.path),
            "a backup of another state (its streams begin with other events than this state's): not counted — "
            "one folder for each state",
        )
        for each in others
    ]
    since = (
        None
        if newest is None or counts is None
        else {name: max(count - newest.streams.get(name, 0), 0) for name, count in sorted(counts.items())}
    )
    refusal = rpo_refusal(
        newest, now, target, str(directory), events_since=None if since is None else sum(since.values())
    )
    document: dict[str, Any] = {
        "ok": refusal is None,
        "within": refusal is None,
        "rpo_seconds": target.total_seconds(),
        "now": f"{now.isoformat()}Z",
        "backup": None,
        "unreadable": [{"file": path, "problem": why} for path, why in unreadable],
    }
    lines = []
    if newest is not None:
        age = now - newest.taken_at  # within the clocks' skew of now at most: never clamped
        event_age = None if newest.newest_event_at is None else max(now - newest.newest_event_at, timedelta(0))
        document |= {
            **_info_json(newest),
            "age_seconds": age.total_seconds(),
            "newest_event_age_seconds": None if event_age is None else event_age.total_seconds(),
        }
        lines.append(
            f"{newest.path}: taken {age.total_seconds():.0f} s ago (RPO {target.total_seconds():.0f} s): "
            f"{'within' if refusal is None else 'OVER'}; its newest event {_age(event_age)}"
        )
        document["events_since"] = since
        document["state"] = note
        if since is not None:
            lines.append(
                f"since it was taken, {sum(since.values())} events were recorded"
                + (f" ({', '.join(f'{name}: {n}' for name, n in since.items() if n)})" if any(since.values()) else "")
                + ": what losing the state now would cost"
            )
        elif note:
            lines.append(note)
    lines += [f"unreadable: {path}: {why}" for path, why in unreadable]
    if refusal is not None:
        document["error"] = {"kind": "refused", "rule": refusal.rule, "message": refusal.message}
        lines.append(f"refused by {refusal.rule}: {refusal.message}")
        present.annotate("error", f"refused by {refusal.rule}: {refusal.message}")
    for path, why in unreadable:
        present.annotate("warning", f"a backup cannot be read: {path}: {why}")
    present.github_output(
        within=str(refusal is None).lower(),
        backup=str(newest.path) if newest else "",
        backup_age_seconds=str(int(document.get("age_seconds", 0))) if newest else "",
    )
    context.emit(document, "\n".join(lines))
    return EXIT_OK if refusal is None else EXIT_REFUSED


def _age(age: timedelta | None) -> str:
    return "none" if age is None else f"{age.total_seconds():.0f} s old"


def _state(context: Context) -> tuple[dict[str, int] | None, str | None, dict[str, str] | None]:
    """The state's streams and their counts of events (to say what a loss now would cost) and their first links
    (which backups are its own: ``application.backup.of_state``); ``None`` and why where the state cannot be read
    (neither is needed for the check)."""
    from findly_infra.application.backup import BackupSource
    from findly_infra.application.ports import BadInputError, DependencyError
    from findly_infra.bootstrap import state_store
    from findly_infra.bootstrap.stores import is_postgres, sqlite_path

    url = context.settings.state
    if not is_postgres(url):
        path = sqlite_path(url)
        if path is None or not path.exists():
            return None, "no state here to compare with (--state / FINDLY_STATE names the one to)", None
    try:
        with state_store(context.settings, read_only=True) as store:
            if not isinstance(store, BackupSource):
                return None, None, None
            counts, firsts = {}, {}
            for service in store.services():
                head = store.head(service)
                counts[service] = 0 if head is None else head[0] + 1
                first = next(iter(store.chain(service)), None)
                if first is not None and first[2] is not None:
                    firsts[service] = first[2]
    except (BadInputError, DependencyError) as exc:
        return None, f"the state could not be read to compare ({exc})", None
    return counts, None, firsts


def restore(context: Context) -> int:
    from findly_infra.application.backup import NotEmptyError, read_backup, restore_backup
    from findly_infra.application.notify import mark_told
    from findly_infra.application.ports import Outbox
    from findly_infra.application.service import PolicyRefusedError
    from findly_infra.bootstrap import state_store

    _durable(context, "state restore")
    checked = read_backup(Path(context.args.file))  # whole and checked before the state is even opened
    store = context.stack.enter_context(state_store(context.settings))
    try:
        report = restore_backup(store, checked)
    except NotEmptyError as exc:
        raise PolicyRefusedError(exc.refusal) from None
    info = checked.info
    if isinstance(store, Outbox):  # a restored past is history: its rollouts and rollbacks are not told again —
        # every stream of the backup, those an interrupted run wrote (``already``) as well as this run's
        mark_told(store, {service: info.streams[service] for service in (*report.imported, *report.already)})
    lines = [f"{service}: {count} events restored" for service, count in report.imported.items()]
    lines += [f"{service}: already restored (the same events), nothing written" for service in report.already]
    lines.append(
        f"{len(info.streams)} streams, {info.events} events as of {info.taken_at.isoformat()}Z; every head is the "
        "backup's"
    )
    context.emit(
        {**_info_json(info), "restored": report.imported, "already": list(report.already), "time": report.time},
        "\n".join(lines),
    )
    return EXIT_OK
