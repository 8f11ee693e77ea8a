"""``notify``: the outbox of notifications — ``notify deliver`` (what is due, for a scheduled job or a person),
``notify status`` (each receiver's queue), ``notify list`` (each delivery), ``notify test RECEIVER`` (a test
notification). What every command that records events does afterwards is ``cli.notify_after``."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from findly_infra.cli import present
from findly_infra.cli.context import Command, Context
from findly_infra.cli.exits import EXIT_DEPENDENCY, EXIT_OK
from findly_infra.cli.notify_after import receiver_json, report_line

if TYPE_CHECKING:
    from findly_infra.application.notify import Notifications
    from findly_infra.application.ports import Dispatch
    from findly_infra.bootstrap import Runtime

__all__ = ["COMMANDS", "dispatch_json", "dispatch_text"]


def dispatch_json(dispatch: Dispatch) -> dict[str, Any]:
    """One delivery as ``--json`` shows it: the notification, the receiver, its state and attempts — no URL or key."""
    from findly_infra.application.notify import notification_to_dict

    return {
        "notification": notification_to_dict(dispatch.notification),
        "receiver": dispatch.receiver,
        "state": dispatch.state.value,
        "attempts": dispatch.attempts,
        "queued": dispatch.queued.isoformat(),
        "next_attempt": dispatch.next_attempt.isoformat() if dispatch.next_attempt else None,
        "settled": dispatch.settled.isoformat() if dispatch.settled else None,
        "detail": dispatch.detail,
    }


def dispatch_text(dispatch: Dispatch) -> str:
    """``2026-12-06T10:00:00  notify pagerduty  rolled_back 2.0.0 in production (trigger): delivered after 2
    attempts (202 Event processed)``."""
    note = dispatch.notification
    action = f" ({note.action.value})" if note.action else ""
    when = dispatch.settled or dispatch.queued
    if dispatch.state.value == "delivered":
        how = f"delivered after {dispatch.attempts} attempt{'s' if dispatch.attempts != 1 else ''}"
    elif dispatch.state.value == "gave_up":
        how = f"gave up after {dispatch.attempts} attempt{'s' if dispatch.attempts != 1 else ''}"
    else:
        due = dispatch.next_attempt.isoformat(timespec="seconds") if dispatch.next_attempt else "now"
        how = f"queued, {dispatch.attempts} attempt{'s' if dispatch.attempts != 1 else ''}, next at {due}"
    detail = f" ({dispatch.detail})" if dispatch.detail else ""
    text = f"{when.isoformat(timespec='seconds'):19}  notify {dispatch.receiver}  {note.kind.value} {note.version} "
    return present.printable(f"{text}in {note.environment}{action}: {how}{detail}", one_line=True)


def _arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="notify_command", metavar="ACTION", required=True)
    deliver = actions.add_parser(
        "deliver",
        help="decide what the recorded events call for and send what is due (for a scheduled job): exit 0 when nothing "
        "due is left undelivered, 5 when a receiver could not be reached (it says which, and when the next attempt is)",
    )
    deliver.add_argument(
        "--budget", metavar="SECONDS", type=_seconds, default=60.0, help="stop starting deliveries after this long (60)"
    )
    deliver.add_argument(
        "--all",
        action="store_true",
        help="also what waits for its next attempt (after a receiver was fixed): everything queued is due now",
    )
    actions.add_parser("status", help="each receiver: delivered, queued (and when next tried), given up")
    listing = actions.add_parser("list", help="each delivery, the latest first")
    listing.add_argument("--service", metavar="NAME", help="only this service's")
    listing.add_argument("--limit", metavar="N", type=_count, default=50, help="at most N (50)")
    test = actions.add_parser("test", help="send a test notification to RECEIVER now (exit 0 delivered, 5 not)")
    test.add_argument("receiver", metavar="RECEIVER", help="a receiver declared in notifications.receivers")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (0 < value < 86400):  # NaN and infinity too
        raise argparse.ArgumentTypeError(f"a number of seconds above 0 (and below a day), got {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a whole number above 0, got {text!r}")
    return value


def _notifications(context: Context, runtime: Runtime) -> Notifications:
    from findly_infra.application.ports import BadInputError

    if runtime.notifications is None:
        raise BadInputError(
            f"--state {context.settings.state} keeps no outbox of notifications (memory:// keeps nothing): name a "
            "SQLite or PostgreSQL state"
        )
    return runtime.notifications


def _notify(context: Context) -> int:
    action = context.args.notify_command
    platform = context.platform()
    if action == "deliver" and platform.notifications.receivers:  # its job is to send what is queued: exit 2 without
        from findly_infra.bootstrap.extras import require_extra  # what sends (queueing needs nothing; `notify test`
        # says it as a delivery failure, exit 5, with the receiver it could not reach)

        require_extra("notifications", "notify deliver (sending to the receivers notifications: declares)")
    if action == "deliver":
        runtime = context.runtime(platform, scripted=True, after=False)
        return _deliver(context, _notifications(context, runtime))
    if action == "test":
        return _test(context, platform)
    runtime = context.runtime(platform, scripted=True, read_only=True)
    notifications = _notifications(context, runtime)
    if action == "status":
        return _status(context, notifications)
    service = platform.service(context.args.service).name if context.args.service else None  # unknown: exit 2, named
    dispatches = notifications.dispatches(service, context.args.limit)
    context.emit(
        {"deliveries": [dispatch_json(d) for d in dispatches]},
        "\n".join(dispatch_text(d) for d in dispatches) or "no notifications kept",
    )
    return EXIT_OK


def _deliver(context: Context, notifications: Notifications) -> int:
    notifications.sweep()
    report = notifications.deliver(budget=timedelta(seconds=context.args.budget), waiting=context.args.all)
    left = report.undelivered
    receivers = [receiver_json(r) for r in report.receivers]
    if not left:
        context.emit({"receivers": receivers}, report_line(report) or "notify: nothing due")
        return EXIT_OK
    message = "; ".join(
        f"{r.receiver}: {r.failed + r.skipped} not delivered, {r.gave_up} given up ({r.detail or 'not tried in time'})"
        + (f", next attempt at {r.next_attempt.isoformat(timespec='seconds')}" if r.next_attempt else "")
        for r in left
    )
    if context.json:
        error = {"kind": "dependency", "message": f"not delivered: {message}"}
        present.emit_json({"ok": False, "receivers": receivers, "error": error}, context.out)
    else:
        line = report_line(report)
        if line:
            context.out.write(line + "\n")
        present.say(f"not delivered: {message}", "notify.undelivered", False)
    return EXIT_DEPENDENCY


def _status(context: Context, notifications: Notifications) -> int:
    counts: dict[str, dict[str, Any]] = {r.name: _empty() for r in notifications.platform.notifications.receivers}
    for dispatch in notifications.dispatches():
        entry = counts.setdefault(dispatch.receiver, _empty())
        entry[dispatch.state.value] += 1
        if dispatch.state.value == "pending":
            when = dispatch.next_attempt.isoformat() if dispatch.next_attempt else None
            if when is not None and (entry["next_attempt"] is None or when < entry["next_attempt"]):
                entry["next_attempt"] = when
            entry["detail"] = entry["detail"] or dispatch.detail
        if entry["last"] is None:
            entry["last"] = dispatch.detail or None
    receivers = notifications.platform.notifications.receivers
    types = {r.name: r.type.value for r in receivers}
    document = {"receivers": [{"receiver": name, "type": types.get(name), **entry} for name, entry in counts.items()]}
    lines = [
        f"{name} ({types.get(name, 'no longer declared')}): delivered {e['delivered']}, queued {e['pending']}"
        + (f" (next attempt at {e['next_attempt'][:19]}; {e['detail'] or 'not tried yet'})" if e["pending"] else "")
        + f", given up {e['gave_up']}"
        for name, e in counts.items()
    ]
    context.emit(document, "\n".join(lines) or "no receivers declared (notifications: in the platform file)")
    return EXIT_OK


def _empty() -> dict[str, Any]:
    return {"delivered": 0, "pending": 0, "gave_up": 0, "next_attempt": None, "detail": "", "last": None}


def _test(context: Context, platform: Any) -> int:
    from findly_infra.application.ports import BadInputError
    from findly_infra.bootstrap.notify import receiver_notifier
    from findly_infra.domain.notifications import Notification, NotificationKind, NotificationSeverity
    from findly_infra.domain.notifying import notification_id

    receiver = platform.notifications.receiver(context.args.receiver)
    if receiver is None:
        names = ", ".join(r.name for r in platform.notifications.receivers) or "none"
        raise BadInputError(f"unknown receiver {context.args.receiver!r}; declared in notifications.receivers: {names}")
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    service = platform.all_services[0].name if platform.all_services else "findly-infra"
    environment = platform.promotion_order[-1] if platform.promotion_order else "test"
    note = Notification(
        id=notification_id("test", receiver.name, now.isoformat()),
        kind=NotificationKind.ROLLOUT_STARTED,
        severity=NotificationSeverity.INFO,
        service=service,
        environment=environment,
        version="test",
        at=now,
        summary=f"a test notification from findly-infra to {receiver.name}: nothing happened to {service}",
        details=(("test", "yes"), ("sent by", "findly-infra notify test")),
    )
    notifier = receiver_notifier(receiver, platform, timeout=10.0)
    if receiver.pages:
        return _test_page(context, receiver.name, notifier, note)
    outcome = notifier.send(note)
    document = {"receiver": receiver.name, "delivered": outcome.delivered, "detail": outcome.detail}
    if outcome.delivered:
        context.emit(document, f"{receiver.name}: delivered ({outcome.detail})")
        return EXIT_OK
    return _test_failed(context, document, f"{receiver.name}: not delivered: {outcome.detail}")


def _test_page(context: Context, name: str, notifier: Any, note: Any) -> int:
    """A paging receiver's test: an incident opened (a trigger with a test ``dedup_key``) and at once resolved — a
    notification that pages no one is not sent to it at all, so only these two show that the key and URL work. Both
    must be accepted."""
    import attrs

    from findly_infra.domain.notifications import PageAction

    key = f"findly/test/{name}/{note.at.isoformat()}"
    trigger = attrs.evolve(note, incident_key=key, action=PageAction.TRIGGER)
    resolve = attrs.evolve(note, id=note.id + "-resolve", incident_key=key, action=PageAction.RESOLVE)
    opened = notifier.send(trigger)
    document: dict[str, Any] = {"receiver": name, "delivered": False, "dedup_key": key, "detail": opened.detail}
    if not opened.delivered:
        document["permanent"] = opened.permanent
        why = " (refused for good: check the routing key and URL)" if opened.permanent else " (worth trying again)"
        message = f"{name}: the test incident {key} was not opened: {opened.detail}{why}"
        return _test_failed(context, document, message)
    closed = notifier.send(resolve)
    document.update(delivered=closed.delivered, detail=f"{opened.detail}; {closed.detail}")
    if not closed.delivered:
        message = f"{name}: the test incident {key} was opened but not resolved ({closed.detail}): resolve it by hand"
        return _test_failed(context, document, message)
    context.emit(
        document,
        f"{name}: delivered: test incident {key} opened ({opened.detail}) and resolved ({closed.detail})",
    )
    return EXIT_OK


def _test_failed(context: Context, document: dict[str, Any], message: str) -> int:
    if context.json:
        error = {"kind": "dependency", "message": message}
        present.emit_json({"ok": False, **document, "error": error}, context.out)
    else:
        present.say(message, "notify.test_failed", False)
    return EXIT_DEPENDENCY


COMMANDS = (
    Command(
        "notify",
        "notifications of the pipeline's events: `notify deliver` sends what is due (a scheduled job), `notify "
        "status` and `notify list` say what was delivered and what waits, `notify test RECEIVER` sends a test",
        _arguments,
        _notify,
    ),
)
