"""What every command that may record events does when it ends (:func:`after_command`): decide and deliver their
notifications within a small budget, saying what came of it on stderr and in the step summary — never changing the
command's exit code or ``--json``."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from findly_infra.cli import present

if TYPE_CHECKING:
    from findly_infra.application.notify import DeliveryReport
    from findly_infra.bootstrap import Runtime

__all__ = ["AFTER_COMMAND_BUDGET", "after_command", "receiver_json", "report_line", "report_markdown"]

AFTER_COMMAND_BUDGET = timedelta(seconds=10)
"""How long a command that recorded events spends delivering afterwards (each receiver's own timeout is 5 s): what
is left waits for the next command or ``notify deliver``."""


def after_command(runtime: Runtime, service: str | None, as_json: bool) -> None:
    """Decide and deliver what the command's events call for, within :data:`AFTER_COMMAND_BUDGET`: never raises, never
    changes the command's exit code or ``--json`` — a failure is a line on stderr (a log event with ``--json``)."""
    notifications = runtime.notifications
    if notifications is None:
        return
    try:
        notifications.sweep([service] if service else None)
        if not notifications.declared:
            return
        report = notifications.deliver(budget=AFTER_COMMAND_BUDGET)
    except Exception as exc:  # noqa: BLE001 - notifications never fail a release: said, and the release stands
        present.say(
            f"notify: not delivered now ({type(exc).__name__}: {exc}); `findly-infra notify deliver` tries again",
            "notify.failed",
            as_json,
        )
        return
    line = report_line(report)
    if line:
        receivers = [receiver_json(r) for r in report.receivers]
        failed = any(r.failed or r.gave_up or r.queued or r.skipped for r in report.receivers)
        present.say(line, "notify.delivered", as_json, info=not failed, receivers=receivers)
        present.summary(lambda: report_markdown(report))


def report_markdown(report: DeliveryReport) -> str:
    """The step summary's table of what the command's notifications came to, receiver by receiver."""
    rows = [
        "| receiver | delivered | given up | waiting | next attempt | last answer |",
        "|---|---|---|---|---|---|",
    ]
    for r in report.receivers:
        when = r.next_attempt.isoformat(timespec="seconds") if r.next_attempt and r.queued else ""
        detail = (r.detail or "").replace("|", "\\|")
        rows.append(f"| {r.receiver} | {r.delivered} | {r.gave_up} | {r.queued} | {when} | {detail} |")
    return "#### Notifications\n\n" + "\n".join(rows)


def report_line(report: DeliveryReport) -> str:
    """``notify: slack delivered 2; pagerduty not delivered (503 unavailable), 1 queued, next attempt at 10:02:30``;
    empty when nothing was attempted and nothing waits."""
    parts = []
    for receiver in report.receivers:
        if not (receiver.delivered or receiver.failed or receiver.gave_up or receiver.queued):
            continue
        words = []
        if receiver.delivered:
            words.append(f"delivered {receiver.delivered}")
        if receiver.gave_up:
            words.append(f"gave up {receiver.gave_up}")
        if receiver.queued:
            words.append(f"not delivered ({receiver.detail or 'not tried yet'}), {receiver.queued} queued")
            if receiver.next_attempt is not None:
                words.append(f"next attempt at {receiver.next_attempt.isoformat(timespec='seconds')}")
        parts.append(f"{receiver.receiver} {', '.join(words)}")
    return f"notify: {'; '.join(parts)}" if parts else ""


def receiver_json(receiver: Any) -> dict[str, Any]:
    return {
        "receiver": receiver.receiver,
        "delivered": receiver.delivered,
        "failed": receiver.failed,
        "gave_up": receiver.gave_up,
        "queued": receiver.queued,
        "next_attempt": receiver.next_attempt.isoformat() if receiver.next_attempt else None,
        "detail": receiver.detail,
    }
