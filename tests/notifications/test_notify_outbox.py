"""The outbox of notifications on each state (memory, SQLite; PostgreSQL in tests/notifications/
test_notify_postgres.py), and the notify use cases on it: queued once, due in order, backoff and give-up, a crash
between appending events and queueing their notifications, two processes delivering at once."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import attrs
import pytest

from findly_infra.adapters.memory import (
    MemoryEventStore,
    MemoryNotifier,
    MemoryOutbox,
    ScenarioMetrics,
    SimulatedCluster,
)
from findly_infra.adapters.notifiers import PagerDutyNotifier
from findly_infra.adapters.sqlite import SqliteEventStore
from findly_infra.application.notify import Notifications
from findly_infra.application.ports import Delivery, Dispatch, DispatchState, EventStore, Outbox
from findly_infra.application.scenarios import SCENARIOS
from findly_infra.application.service import PipelineService
from findly_infra.config.loader import load_platform_text
from findly_infra.domain.notifications import (
    Notification,
    NotificationKind,
    NotificationSeverity,
    PageAction,
)
from findly_infra.domain.platform import Platform
from findly_infra.examples import example_platform_text
from findly_infra.testing.receivers import ReceiversStandIn

NOTIFY = """
notifications:
  receivers:
    slack: {type: slack, url: {env: SLACK_WEBHOOK_URL}}
    pagerduty: {type: pagerduty, routing_key: {secret: pagerduty-routing-key}}
  routes:
    - {environments: [production], severity: critical, receivers: [pagerduty, slack]}
    - {severity: info, receivers: [slack]}
"""
T0 = datetime(2026, 1, 5, 9, 0)


@attrs.define
class Clock:
    """A clock a test moves: when attempts are made, and when they are due."""

    current: datetime = T0

    def now(self) -> datetime:
        return self.current


def platform_with_receivers() -> Platform:
    return load_platform_text(example_platform_text() + NOTIFY)


@pytest.fixture(params=["memory", "sqlite"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], tuple[EventStore, Outbox]]]:
    """How to open the state (again: a second process's view of the same state, where the store is shared)."""
    if request.param == "memory":
        store, outbox = MemoryEventStore(), MemoryOutbox()
        yield lambda: (store, outbox)
        return
    opened: list[SqliteEventStore] = []

    def open_sqlite() -> tuple[EventStore, Outbox]:
        opened.append(SqliteEventStore(tmp_path / "state.sqlite3"))
        return opened[-1], opened[-1]

    yield open_sqlite
    for sqlite_store in opened:
        sqlite_store.close()


def _note(n: int, action: PageAction | None = None) -> Notification:
    return Notification(
        id=f"ntf_{n}",
        kind=NotificationKind.ROLLED_BACK,
        severity=NotificationSeverity.CRITICAL,
        service="fn-posts",
        environment="production",
        version=f"1.{n}.0",
        at=T0,
        summary=f"fn-posts 1.{n}.0 rolled back",
        details=(("criterion", "error_rate 5.000% (threshold < 0.5%): fail"),),
        incident_key=f"findly/fn-posts/production/1.{n}.0",
        action=action,
    )


def test_a_dispatch_is_queued_once_and_due_in_order(stores: Callable[[], tuple[EventStore, Outbox]]) -> None:
    _, outbox = stores()
    later = Dispatch(_note(2), "slack", T0, next_attempt=T0 + timedelta(seconds=5))
    first = Dispatch(_note(1, PageAction.TRIGGER), "pagerduty", T0, next_attempt=T0)
    assert outbox.enqueue([later, first])
    assert outbox.enqueue([attrs.evolve(first, next_attempt=T0 + timedelta(hours=1))])  # kept already: as it was
    assert [d.key for d in outbox.due(T0 + timedelta(seconds=10))] == [first.key, later.key]
    assert [d.key for d in outbox.due(T0)] == [first.key]
    (kept,) = outbox.due(T0)
    assert kept.notification == first.notification  # every fact kept, as queued
    assert outbox.paged("findly/fn-posts/production/1.1.0") == ("pagerduty",)
    assert outbox.paged("findly/fn-posts/production/1.2.0") == ()


def test_a_cursor_moves_only_from_where_it_was_read(stores: Callable[[], tuple[EventStore, Outbox]]) -> None:
    _, outbox = stores()
    assert outbox.notify_cursor("fn-posts") is None
    assert outbox.enqueue([Dispatch(_note(1), "slack", T0, next_attempt=T0)], ("fn-posts", None, 3, "[]"))
    assert outbox.notify_cursor("fn-posts") == (3, "[]")
    # another process decided from the same place first: this one writes nothing
    assert not outbox.enqueue([Dispatch(_note(2), "slack", T0, next_attempt=T0)], ("fn-posts", None, 5, "[]"))
    assert outbox.notify_cursor("fn-posts") == (3, "[]")
    assert [d.notification.id for d in outbox.dispatches()] == ["ntf_1"]


def test_one_of_two_processes_claims_an_attempt(stores: Callable[[], tuple[EventStore, Outbox]]) -> None:
    _, one = stores()
    _, other = stores()
    one.enqueue([Dispatch(_note(1), "slack", T0, next_attempt=T0)])
    (seen_by_one,) = one.due(T0)
    (seen_by_other,) = other.due(T0)
    assert one.claim(seen_by_one, T0 + timedelta(minutes=2))
    assert not other.claim(seen_by_other, T0 + timedelta(minutes=2))  # it was taken: not sent twice
    assert one.due(T0 + timedelta(minutes=1)) == []  # held while it is sent
    assert [d.attempts for d in one.due(T0 + timedelta(minutes=2))] == [1]  # its sender died: due again


def _service(platform: Platform, store: EventStore, clock: Clock) -> PipelineService:
    return PipelineService(platform, store, clock, ScenarioMetrics(SCENARIOS["healthy"]), SimulatedCluster())


def _notifications(
    platform: Platform, store: EventStore, outbox: Outbox, clock: Clock, receivers: dict[str, MemoryNotifier]
) -> Notifications:
    pipelines = _service(platform, store, clock)

    def view(service: str, environment: str) -> tuple[object, object]:
        return pipelines.view(service, environment), pipelines.pipeline(service).environments[environment]

    return Notifications(
        platform,
        store,
        outbox,
        clock,
        receivers.__getitem__,
        view,  # type: ignore[arg-type]
        lambda service: pipelines.pipeline(service).version,
    )


def test_a_crash_between_the_append_and_the_outbox_is_swept_later(
    stores: Callable[[], tuple[EventStore, Outbox]],
) -> None:
    """The command appended its events and died before queueing: the next sweep (any command's, or notify deliver's)
    decides them from the cursor, and each receiver gets each notification once."""
    platform = platform_with_receivers()
    store, outbox = stores()
    clock = Clock()
    service = _service(platform, store, clock)
    service.deploy("fn-posts", "1.0.0", "development", actor="erin")  # ... and the process died here
    receivers = {"slack": MemoryNotifier(), "pagerduty": MemoryNotifier()}
    store, outbox = stores()  # another process, later
    notifications = _notifications(platform, store, outbox, clock, receivers)
    assert notifications.sweep(["fn-posts"]) == 1
    assert notifications.sweep(["fn-posts"]) == 0  # nothing new: nothing queued twice
    report = notifications.deliver()
    assert [(r.receiver, r.delivered, r.queued) for r in report.receivers] == [("slack", 1, 0)]
    assert [n.kind for n in receivers["slack"].received] == [NotificationKind.ROLLOUT_STARTED]
    assert notifications.deliver().attempts == ()  # delivered: never again


def test_a_receiver_down_for_a_while_gets_it_once_with_backoff(stores: Callable[[], tuple[EventStore, Outbox]]) -> None:
    platform = platform_with_receivers()
    store, outbox = stores()
    clock = Clock()
    slack = MemoryNotifier()
    slack.fail(3, retry_after=120)
    notifications = _notifications(platform, store, outbox, clock, {"slack": slack})
    outbox.enqueue([Dispatch(_note(1), "slack", T0, next_attempt=T0), Dispatch(_note(2), "slack", T0, next_attempt=T0)])
    waits = []
    for _ in range(3):
        report = notifications.deliver()
        assert len(report.attempts) == 1  # a receiver that failed is not tried again in the same run
        (receiver,) = report.receivers
        assert receiver.queued == 2
        assert receiver.next_attempt is not None
        (tried,) = [d for d in outbox.dispatches() if d.key == report.attempts[0][0].key]
        assert tried.next_attempt is not None
        waits.append(tried.next_attempt - clock.current)
        clock.current = max(d.next_attempt for d in outbox.due(datetime.max) if d.next_attempt is not None)
    assert all(wait >= timedelta(seconds=120) for wait in waits)  # Retry-After honoured over the backoff's 30 s
    report = notifications.deliver()
    assert (report.receivers[0].delivered, report.receivers[0].queued) == (2, 0)
    assert len(slack.received) == 2
    assert notifications.deliver().attempts == ()
    kept = {d.notification.id: d for d in outbox.dispatches()}
    assert {d.state for d in kept.values()} == {DispatchState.DELIVERED}
    assert sum(d.attempts for d in kept.values()) == 5 == slack.attempts  # 3 failures, then each once


def test_a_permanent_failure_gives_up_at_once_and_a_long_outage_after_the_bound(
    stores: Callable[[], tuple[EventStore, Outbox]],
) -> None:
    platform = platform_with_receivers()
    store, outbox = stores()
    clock = Clock()
    pagerduty, slack = MemoryNotifier(), MemoryNotifier(down=True)
    pagerduty.fail(permanent=True)
    notifications = _notifications(platform, store, outbox, clock, {"slack": slack, "pagerduty": pagerduty})
    outbox.enqueue(
        [
            Dispatch(_note(1, PageAction.TRIGGER), "pagerduty", T0, next_attempt=T0),
            Dispatch(_note(1), "slack", T0, next_attempt=T0),
        ]
    )
    notifications.deliver()
    gave_up = {d.receiver: d for d in outbox.dispatches()}
    assert gave_up["pagerduty"].state is DispatchState.GAVE_UP
    assert gave_up["pagerduty"].attempts == 1
    assert "permanent failure" in gave_up["pagerduty"].detail
    for _ in range(notifications.schedule.attempts + 2):
        due = outbox.due(datetime.max)
        if not due:
            break
        clock.current = max(clock.current, min(d.next_attempt for d in due if d.next_attempt is not None))
        notifications.deliver()
    (slack_dispatch,) = [d for d in outbox.dispatches() if d.receiver == "slack"]
    assert slack_dispatch.state is DispatchState.GAVE_UP
    assert slack_dispatch.attempts <= notifications.schedule.attempts
    assert slack_dispatch.settled is not None
    assert slack_dispatch.settled - slack_dispatch.queued <= notifications.schedule.age
    assert slack.received == []


def test_a_resolve_goes_where_its_trigger_went(stores: Callable[[], tuple[EventStore, Outbox]]) -> None:
    """A rollback in production pages; the version rolled out again later succeeds: PagerDuty gets the resolve of the
    same incident, although the routes send an info notification to Slack alone."""
    platform = platform_with_receivers()
    store, outbox = stores()
    clock = Clock()
    receivers = {"slack": MemoryNotifier(), "pagerduty": MemoryNotifier()}
    notifications = _notifications(platform, store, outbox, clock, receivers)
    trigger = _note(1, PageAction.TRIGGER)
    outbox.enqueue([Dispatch(trigger, "pagerduty", T0, next_attempt=T0)])
    resolve = attrs.evolve(
        trigger, id="ntf_9", kind=NotificationKind.ROLLOUT_SUCCEEDED, severity=NotificationSeverity.INFO
    )
    resolve = attrs.evolve(resolve, action=PageAction.RESOLVE)
    assert {d.receiver for d in notifications._dispatches([resolve])} == {"slack", "pagerduty"}


def test_an_old_state_gains_the_outbox_without_telling_its_past(tmp_path: Path) -> None:
    """A state written before the outbox (no notify tables) opens, gains them on its first writing command with each
    cursor at its stream's end, and its snapshots, leases and links are as they were."""
    path = tmp_path / "old.sqlite3"
    platform = platform_with_receivers()
    store = SqliteEventStore(path)
    service = _service(platform, store, Clock())
    service.deploy("fn-posts", "1.0.0", "development", actor="erin")
    store.close()
    with sqlite3.connect(path) as connection:  # as a version before the outbox left it
        connection.execute("DROP TABLE notify_outbox")
        connection.execute("DROP TABLE notify_cursors")
        chain_before = connection.execute("SELECT service, position, link FROM events ORDER BY 1, 2").fetchall()
    store = SqliteEventStore(path, create=False)  # a read: leaves it as it is
    assert store.notify_cursor("fn-posts") is None
    assert store.dispatches() == []
    store.close()
    store = SqliteEventStore(path)
    assert store.notify_cursor("fn-posts") == (2, "[]")  # at the end: the past is not told
    receivers = {"slack": MemoryNotifier(), "pagerduty": MemoryNotifier()}
    notifications = _notifications(platform, store, store, Clock(), receivers)
    assert notifications.sweep() == 0
    _service(platform, store, Clock()).rollback("fn-posts", "development", actor="erin", reason="bad build")
    assert notifications.sweep() == 1  # what happens after the upgrade is told
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT service, position, link FROM events ORDER BY 1, 2").fetchall()[
            : len(chain_before)
        ] == (chain_before)
    store.close()


def test_notifications_of_a_real_release_reach_each_receiver_once(
    stores: Callable[[], tuple[EventStore, Outbox]],
) -> None:
    """From the events a release records: the right kinds to the right receivers, each once, however often swept."""
    platform = platform_with_receivers()
    store, outbox = stores()
    clock = Clock()
    receivers = {"slack": MemoryNotifier(), "pagerduty": MemoryNotifier()}
    notifications = _notifications(platform, store, outbox, clock, receivers)
    service = _service(platform, store, clock)
    service.deploy("fn-posts", "1.0.0", "development", actor="erin")
    notifications.sweep()
    service.pause("fn-posts", "development", actor="erin", reason="look first")
    notifications.sweep()
    notifications.sweep()
    notifications.deliver()
    kinds = [n.kind for n in receivers["slack"].received]
    assert kinds == [NotificationKind.ROLLOUT_STARTED, NotificationKind.ROLLOUT_PAUSED]
    assert receivers["pagerduty"].received == []  # development's pause is no page (routes: production criticals)
    paused = receivers["slack"].received[1]
    assert paused.action is PageAction.TRIGGER
    assert "look first" in paused.summary


def test_a_refused_promotion_is_queued_as_it_is_refused(stores: Callable[[], tuple[EventStore, Outbox]]) -> None:
    """A refusal is not an event: the use case is told before it raises, and the notification names the rule (a
    retried step refused again on the same state is the same notification)."""
    from findly_infra.application.service import PolicyRefusedError

    platform = platform_with_receivers()
    store, outbox = stores()
    clock = Clock()
    receivers = {"slack": MemoryNotifier(), "pagerduty": MemoryNotifier()}
    notifications = _notifications(platform, store, outbox, clock, receivers)
    service = _service(platform, store, clock)
    service.refusals = notifications.refused
    for _ in range(2):
        with pytest.raises(PolicyRefusedError):
            service.deploy("fn-posts", "1.0.0", "staging", actor="erin")  # development first
    notifications.deliver()
    (refused,) = receivers["slack"].received
    assert refused.kind is NotificationKind.PROMOTION_REFUSED
    assert dict(refused.details)["rule"] == "promotion-order"
    assert receivers["pagerduty"].received == []


def test_a_simulation_says_what_it_would_notify_and_sends_nothing() -> None:
    from findly_infra.application.notify import would_notify
    from findly_infra.application.scenarios import SCENARIOS
    from findly_infra.bootstrap import simulate

    platform = platform_with_receivers()
    from findly_infra.domain.environment import StrategyKind

    canary = StrategyKind.CANARY
    result = simulate(platform, "fn-posts", "production", SCENARIOS["error-spike"], strategy=canary)
    assert result.outcome == "rolled_back"
    told = [(note.kind.value, receivers) for note, receivers in would_notify(platform, "fn-posts", result.events)]
    assert told == [("rollout_started", ("slack",)), ("rolled_back", ("slack", "pagerduty"))]
    assert would_notify(load_platform_text(example_platform_text()), "fn-posts", result.events) == []


def test_a_long_backlog_is_swept_a_page_at_a_time_and_a_rollback_keeps_its_criterion(
    stores: Callable[[], tuple[EventStore, Outbox]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backlog (a state whose events were never swept) is decided a page at a time, never held whole, and a page
    never ends between an analysis and the rollback it caused."""
    from findly_infra.application import snapshots
    from findly_infra.domain.environment import StrategyKind

    platform = platform_with_receivers()
    store, outbox = stores()
    clock = Clock()
    service = PipelineService(platform, store, clock, ScenarioMetrics(SCENARIOS["error-spike"]), SimulatedCluster())
    service.deploy("fn-posts", "1.0.0", "development", actor="erin", strategy=StrategyKind.CANARY)
    for _ in range(30):
        clock.current += timedelta(minutes=1)
        if service.step("fn-posts", "development", actor="findly-infra").view.phase.value != "progressing":
            break
    receivers = {"slack": MemoryNotifier(), "pagerduty": MemoryNotifier()}
    notifications = _notifications(platform, store, outbox, clock, receivers)
    length = store.load("fn-posts")[1]
    assert store.load("fn-posts")[0][-2:][0].type == "analysis_recorded"  # the rollback's analysis, then it
    monkeypatch.setattr(snapshots, "SNAPSHOT_PAGE", length - 1)  # a page that would end between the two
    notifications.sweep()
    notifications.deliver()
    kinds = [note.kind for note in receivers["slack"].received]
    assert kinds == [NotificationKind.ROLLOUT_STARTED, NotificationKind.ROLLED_BACK]
    assert "error_rate" in receivers["slack"].received[1].summary  # its analysis was in the same page
    cursor = outbox.notify_cursor("fn-posts")
    assert cursor is not None
    assert cursor[0] == store.load("fn-posts")[1]


def test_each_send_is_given_what_is_left_of_the_budget(stores: Callable[[], tuple[EventStore, Outbox]]) -> None:
    """Review finding 4: the budget was checked only before each send, and a send could then run its whole timeout
    past it; each send is now given what is left of the run's budget (at least ``SEND_FLOOR``)."""
    platform = platform_with_receivers()
    store, outbox = stores()
    clock = Clock()
    slack = MemoryNotifier()
    notifications = _notifications(platform, store, outbox, clock, {"slack": slack})
    outbox.enqueue([Dispatch(_note(1), "slack", T0, next_attempt=T0)])
    notifications.deliver(budget=timedelta(seconds=8))
    outbox.enqueue([Dispatch(_note(2), "slack", T0, next_attempt=T0)])
    notifications.deliver()
    assert slack.timeouts == [8.0, None]


def test_a_resolve_never_overtakes_its_trigger(stores: Callable[[], tuple[EventStore, Outbox]]) -> None:
    """Review finding 2: PagerDuty down when the trigger was first tried, its resolve queued meanwhile was sent first
    (due at once) and discarded — PagerDuty drops a resolve of no open incident — and the trigger sent later opened
    an incident nothing resolved. First in, first out per (receiver, incident): the resolve waits for its trigger."""
    platform = platform_with_receivers()
    store, outbox = stores()
    clock = Clock()
    with ReceiversStandIn() as receivers:
        pagerduty = PagerDutyNotifier(receivers.routing_key, url=receivers.pagerduty_url, timeout=5.0)
        notifications = _notifications(platform, store, outbox, clock, {})
        notifications.notifier = {"pagerduty": pagerduty}.__getitem__
        trigger = _note(1, PageAction.TRIGGER)
        resolve = attrs.evolve(
            trigger, id="ntf_9", kind=NotificationKind.ROLLOUT_SUCCEEDED, severity=NotificationSeverity.INFO
        )
        resolve = attrs.evolve(resolve, action=PageAction.RESOLVE)
        receivers.pagerduty.down(requests=1)
        outbox.enqueue([Dispatch(trigger, "pagerduty", T0, next_attempt=T0)])
        assert notifications.deliver().attempts[0][1].value == "failed"
        clock.current = T0 + timedelta(seconds=5)
        outbox.enqueue([Dispatch(resolve, "pagerduty", clock.current, next_attempt=clock.current)])
        assert notifications.deliver().attempts == ()  # its trigger is still pending: not its turn
        assert notifications.deliver().receivers[0].queued == 2  # yet both are told as queued
        clock.current = T0 + timedelta(hours=1)
        for _ in range(2):
            notifications.deliver()
        (incident,) = receivers.pagerduty.incidents
        assert (incident.status, receivers.pagerduty.dropped) == ("resolved", 0)
        assert {d.state for d in outbox.dispatches()} == {DispatchState.DELIVERED}


def test_a_run_reads_every_page_of_what_is_due(stores: Callable[[], tuple[EventStore, Outbox]]) -> None:
    """Review finding 6: a run sent the first page of what was due and said nothing of the rest (``notify deliver``
    exited 0 with deliveries due). It reads page after page; what its budget leaves untried is told as skipped."""
    platform = platform_with_receivers()
    store, outbox = stores()
    clock = Clock()
    slack = MemoryNotifier()
    notifications = _notifications(platform, store, outbox, clock, {"slack": slack})
    outbox.enqueue([Dispatch(_note(n), "slack", T0, next_attempt=T0) for n in range(5)])
    (report,) = notifications.deliver(limit=2).receivers
    assert (report.delivered, report.skipped, report.queued) == (5, 0, 0)
    outbox.enqueue([Dispatch(_note(n), "slack", T0, next_attempt=T0) for n in range(10, 15)])
    spent = notifications.deliver(budget=timedelta(seconds=-1), limit=2)
    assert [(r.delivered, r.skipped, r.queued) for r in spent.receivers] == [(0, 5, 5)]
    assert spent.undelivered == spent.receivers


def test_what_a_run_says_of_an_attempt_cut_short_or_taken_by_another_run(
    stores: Callable[[], tuple[EventStore, Outbox]],
) -> None:
    """Review finding 8a: an attempt whose sender died was told as "not tried yet", and a delivery another runner took
    (and was sending) as "not delivered (its earlier failure), 1 queued" — each says now what is true."""
    from findly_infra.cli.notify_after import report_line

    platform = platform_with_receivers()
    store, outbox = stores()
    clock = Clock()
    slack = MemoryNotifier()
    notifications = _notifications(platform, store, outbox, clock, {"slack": slack})
    outbox.enqueue([Dispatch(_note(1), "slack", T0, next_attempt=T0)])
    (claimed,) = outbox.due(T0)
    assert outbox.claim(claimed, T0 + timedelta(minutes=2))  # ... and its process died while sending
    clock.current = T0 + timedelta(minutes=1)
    line = report_line(notifications.deliver())
    assert "not tried yet" not in line
    assert "tried, no answer recorded yet" in line

    _, other = stores()  # another runner takes the third while this one sends the second
    outbox.enqueue([Dispatch(_note(n), "slack", clock.current, next_attempt=clock.current) for n in (2, 3)])

    class Racing:
        def send(self, notification: Notification, *, timeout: float | None = None) -> Delivery:
            for third in [d for d in other.due(clock.current) if d.notification.id == "ntf_3"]:
                assert other.claim(third, clock.current + timedelta(minutes=2))
            return slack.send(notification, timeout=timeout)

    notifications.notifier = {"slack": Racing()}.__getitem__
    (report,) = notifications.deliver().receivers
    assert (report.delivered, report.queued) == (1, 1)  # the one cut short above still waits; not the one taken
