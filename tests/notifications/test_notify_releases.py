"""Notifications of releases of several services (``domain.notifying.decide_releases``): a release entering an
environment, waiting there for its one approval, returned as a whole when a part fails (an incident, as a rollback's),
rolled back, succeeded; each names the release, its parts, the environment and what it waits for; routes on a service
match a release with a part of it; the release stream is swept from its own cursor like a service's."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from findly_infra.adapters.memory import MemoryEventStore, MemoryNotifier, MemoryOutbox
from findly_infra.application.ports import EventStore, Outbox
from findly_infra.config.loader import load_platform_text, validate_platform_text
from findly_infra.domain.events import Event
from findly_infra.domain.notifications import (
    Notification,
    NotificationKind,
    NotificationSeverity,
    PageAction,
    Receiver,
    ReceiverType,
    Route,
    SecretSource,
    route,
)
from findly_infra.domain.notifying import Incidents, decide_releases
from findly_infra.domain.platform import Platform
from findly_infra.domain.releases import (
    RELEASE_STREAM,
    PartObservation,
    Release,
    ReleaseActionKind,
    ReleaseCreated,
    ReleasePart,
    releases,
)
from findly_infra.domain.state import Phase
from findly_infra.examples import example_platform_text

T0 = datetime(2026, 1, 5, 9, 0)
PLATFORM = load_platform_text(example_platform_text())
SERVICES = tuple(service.name for service in PLATFORM.all_services)
ORDER = PLATFORM.promotion_order

# ---- a release driven through its environments, its decisions kept as the appends the use case makes -------------

# What happens in one environment: every part succeeds ("ok"), the part at an index fails (("fail", i)), or every part
# succeeds and then a person rolls the release back ("rollback").
OUTCOMES = st.one_of(st.just("ok"), st.just("rollback"), st.tuples(st.just("fail"), st.integers(0, 2)))


@attrs.define
class _Services:
    """What each part's service shows: a rollout started goes straight to its end (success, or a rollback when it is
    the part that fails); a return puts the version before back."""

    serving: dict[str, str | None]
    shown: dict[str, PartObservation] = attrs.field(factory=dict)

    def observe(self) -> dict[str, PartObservation]:
        return {
            service: self.shown.get(service, PartObservation(service, current=current))
            for service, current in self.serving.items()
        }

    def start(self, service: str, version: str, fails: bool) -> None:
        before = self.serving[service]
        if fails:
            why = "error_rate 5.000% (threshold < 0.5%): fail"
            self.shown[service] = PartObservation(service, before, version, Phase.ROLLED_BACK, why)
        else:
            self.serving[service] = version
            self.shown[service] = PartObservation(service, version, version, Phase.SUCCEEDED)

    def give_back(self, service: str, version: str | None) -> None:
        self.serving[service] = version
        shown = self.shown.get(service)
        self.shown[service] = PartObservation(
            service, version, shown.rollout_version if shown else None, Phase.ROLLED_BACK
        )


def _drive(platform: Platform, parts: int, outcomes: list[object], *, name: str = "r1") -> list[tuple[Event, ...]]:
    """The appends of a release of the first *parts* services through the environments, one outcome each (it stops
    at the first environment it does not succeed in)."""
    chosen = [ReleasePart(service, f"2.{index}.0") for index, service in enumerate(SERVICES[:parts])]
    at = T0
    created = Release.create(name, chosen, platform.dependencies, actor="erin", at=at)
    release = Release.of(created)
    appends: list[tuple[Event, ...]] = [(created,)]

    def record(events: tuple[Event, ...]) -> None:
        nonlocal release
        if events:
            appends.append(events)
            for event in events:
                release = release.apply(event)

    for environment, outcome in zip(ORDER, outcomes, strict=False):
        at += timedelta(minutes=10)
        # what each service serves there before the release: the first service nothing yet, the others 1.0.0
        services = _Services({service: "1.0.0" if index else None for index, service in enumerate(SERVICES)})
        record(release.enter(environment, ORDER, actor="erin", at=at).events)
        if platform.environment(environment).approval_required:
            for group, who in zip(platform.environment(environment).approvers, ("dave", "frank"), strict=False):
                approved = release.environments[environment]
                record((_approval(release, environment, who=who, group=group, at=at, by=approved.entered_by),))
        failing = outcome[1] % parts if isinstance(outcome, tuple) else None
        for _ in range(4 * parts + 4):
            at += timedelta(minutes=1)
            step = release.advance(environment, services.observe(), actor="ci", at=at)
            record(step.events)
            action = step.action
            if action.kind is ReleaseActionKind.START:
                index = release.services.index(action.service)
                services.start(action.service, action.version or "", fails=index == failing)
            elif action.kind is ReleaseActionKind.RETURN:
                services.give_back(action.service, action.version)
            elif action.kind is ReleaseActionKind.NONE:
                if outcome == "rollback" and release.environments[environment].phase.value == "succeeded":
                    record(release.roll_back(environment, actor="dave", at=at, reason="a bad interplay").events)
                    continue
                break
        if release.environments[environment].phase.value != "succeeded":
            break
    return appends


def _approval(release: Release, environment: str, *, who: str, group: str, at: datetime, by: str) -> Event:
    from findly_infra.domain.releases import ReleaseApproved

    assert who != by
    return ReleaseApproved(
        service=RELEASE_STREAM, environment=environment, version=release.name, at=at, actor=who,
        release=release.name, group=group,
    )  # fmt: skip


def _positioned(appends: list[tuple[Event, ...]]) -> list[list[tuple[int, Event]]]:
    position, batches = 0, []
    for events in appends:
        batches.append(list(enumerate(events, position)))
        position += len(events)
    return batches


def _sweep(platform: Platform, batches: list[list[tuple[int, Event]]], cuts: list[int]) -> list[Notification]:
    """Decide in sweeps that end after each batch index in *cuts*, as the outbox does: the releases folded from
    everything before the sweep, the incidents kept as text."""
    found: list[Notification] = []
    incidents, start = Incidents(), 0
    for end in [*sorted(set(cuts)), len(batches)]:
        before = [event for batch in batches[:start] for _, event in batch]
        events = [pair for batch in batches[start:end] for pair in batch]
        if events:
            notes, incidents = decide_releases(
                platform, releases(before), events, Incidents.from_text(incidents.to_text())
            )
            found += notes
        start = max(start, end)
    return found


SCENARIOS = st.tuples(st.integers(1, 3), st.lists(OUTCOMES, min_size=1, max_size=3))


@settings(max_examples=60, deadline=None)
@given(SCENARIOS, st.lists(st.integers(0, 40), max_size=4))
def test_deciding_a_release_in_sweeps_tells_the_same_as_at_once(
    scenario: tuple[int, list[object]], cuts: list[int]
) -> None:
    """Wherever the release stream's cursor stands between two sweeps, the same notifications, with the same ids."""
    parts, outcomes = scenario
    batches = _positioned(_drive(PLATFORM, parts, outcomes))
    whole = _sweep(PLATFORM, batches, [])
    assert _sweep(PLATFORM, batches, cuts) == whole
    assert len({note.id for note in whole}) == len(whole)


@settings(max_examples=60, deadline=None)
@given(SCENARIOS)
def test_each_step_of_a_release_is_told_with_its_parts_and_what_it_waits_for(
    scenario: tuple[int, list[object]],
) -> None:
    parts, outcomes = scenario
    appends = _drive(PLATFORM, parts, outcomes)
    events = [event for batch in appends for event in batch]
    notes = _sweep(PLATFORM, _positioned(appends), [])
    created = next(event for event in events if isinstance(event, ReleaseCreated))
    named = list(created.parts)  # in rollout order: the example's services depend on each other
    assert sorted(named) == sorted(str(ReleasePart(s, f"2.{i}.0")) for i, s in enumerate(SERVICES[:parts]))
    for note in notes:  # every one names the release, its parts and the environment
        assert (note.service, note.version) == (RELEASE_STREAM, "r1")
        assert list(note.parts) == named
        assert dict(note.details)["parts"] == ", ".join(named)
        assert note.environment in ORDER
        if note.action is not PageAction.RESOLVE or note.kind is not NotificationKind.RELEASE_SUCCEEDED:
            assert (
                "waits for" in dict(note.details) or "next" in dict(note.details) or "to unblock" in dict(note.details)
            )

    def told(kind: NotificationKind) -> list[Notification]:
        return [note for note in notes if note.kind is kind]

    def happened(name: str) -> list[Event]:
        return [event for event in events if event.type == name]

    entered = happened("release_entered")
    assert [n.environment for n in told(NotificationKind.RELEASE_ENTERED)] == [e.environment for e in entered]
    gated = [e.environment for e in entered if PLATFORM.environment(e.environment).approval_required]
    waits = told(NotificationKind.AWAITING_APPROVAL)
    assert [n.environment for n in waits] == gated
    for note in waits:
        details = dict(note.details)
        assert details["approvers"] == "devops-team, security-team"
        assert "findly-infra release approve r1 --environment production" in details["to unblock"]
        assert "other than erin" in details["to unblock"]
    returning = told(NotificationKind.RELEASE_RETURNING)
    assert len(returning) == len(happened("release_returning"))
    for note in returning:  # a release returned as a whole pages, as a rollback does
        assert (note.severity, note.action) == (NotificationSeverity.CRITICAL, PageAction.TRIGGER)
        assert note.incident_key == f"findly/{RELEASE_STREAM}/{note.environment}/r1"
        details = dict(note.details)
        assert "returning" in details
        failed = [e for e in happened("release_part_failed") if e.environment == note.environment]
        if failed:  # the part that failed and why
            assert details["failed part"] == f"{failed[0].part}={failed[0].part_version}"  # type: ignore[attr-defined]
            assert details["why"] == failed[0].reason
        else:
            assert details["rolled back by"] == "dave"
    rolled = told(NotificationKind.RELEASE_ROLLED_BACK)
    assert len(rolled) == len(happened("release_rolled_back"))
    for note in rolled:  # the end of the return closes the incident its start opened
        assert note.action is PageAction.RESOLVE
        assert note.incident_key in {n.incident_key for n in returning}
    succeeded = told(NotificationKind.RELEASE_SUCCEEDED)
    assert len(succeeded) == len(happened("release_succeeded"))
    for note in succeeded:
        following = ORDER[ORDER.index(note.environment) + 1] if note.environment != ORDER[-1] else None
        expected = f"findly-infra release promote r1 --to {following}" if following else "nothing: the release is done"
        assert dict(note.details)["next"] == expected


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), st.lists(OUTCOMES, min_size=1, max_size=3)), min_size=1, max_size=3))
def test_an_incident_opens_on_a_return_and_closes_once(runs: list[tuple[int, list[object]]]) -> None:
    """Several releases one after another: a return triggers its release's incident there; a resolve only ever
    closes one open; a release that succeeds in an environment leaves no incident open there (a later release's
    success closes one left open)."""
    appends: list[tuple[Event, ...]] = []
    for index, (parts, outcomes) in enumerate(runs):
        appends += _drive(PLATFORM, parts, outcomes, name=f"r{index}")
    notes = _sweep(PLATFORM, _positioned(appends), [])
    open_: set[str] = set()
    for note in notes:
        if note.action is PageAction.TRIGGER:
            assert note.kind is NotificationKind.RELEASE_RETURNING
            open_.add(note.incident_key)
        elif note.action is PageAction.RESOLVE:
            assert note.incident_key in open_
            open_.discard(note.incident_key)
        if note.kind is NotificationKind.RELEASE_SUCCEEDED:
            assert not {key for key in open_ if key.startswith(f"findly/{RELEASE_STREAM}/{note.environment}/")}
    _, kept = decide_releases(PLATFORM, {}, [pair for batch in _positioned(appends) for pair in batch], Incidents())
    assert {f"findly/{RELEASE_STREAM}/{env}/{name}" for env, name in kept.open} == open_


def test_a_returned_release_left_open_is_resolved_when_a_later_release_succeeds_there() -> None:
    """A return that never finished (killed, then left) keeps its incident open until a release succeeds there."""
    first = _drive(PLATFORM, 3, [("fail", 2)], name="r1")
    cut = next(i for i, batch in enumerate(first) if any(e.type == "release_returning" for e in batch))
    appends = first[: cut + 1] + _drive(PLATFORM, 1, ["ok"], name="r2")
    notes = _sweep(PLATFORM, _positioned(appends), [])
    resolves = [note for note in notes if note.action is PageAction.RESOLVE]
    assert [(n.version, n.incident_key) for n in resolves] == [("r2", f"findly/{RELEASE_STREAM}/development/r1")]
    assert "superseded" in resolves[0].summary


def test_a_failed_part_is_named_with_why_and_what_is_returned() -> None:
    notes = _sweep(PLATFORM, _positioned(_drive(PLATFORM, 3, ["ok", "ok", ("fail", 2)])), [])
    (returning,) = [note for note in notes if note.kind is NotificationKind.RELEASE_RETURNING]
    assert returning.environment == "production"
    assert returning.summary.startswith(
        "release r1 in production: fn-notifications=2.1.0 failed — error_rate 5.000% (threshold < 0.5%): fail; "
        "the release is returned as a whole: fn-matcher=2.2.0 back to 1.0.0; fn-posts=2.0.0 back to nothing"
    )
    (rolled,) = [note for note in notes if note.kind is NotificationKind.RELEASE_ROLLED_BACK]
    assert "fn-matcher=2.2.0 -> 1.0.0" in dict(rolled.details)["returned"]
    assert "fn-posts=2.0.0 left running" in dict(rolled.details)["returned"]
    assert dict(rolled.details)["failed part"].startswith("fn-notifications=2.1.0: error_rate")


def test_a_rehearsal_says_so_in_every_release_summary() -> None:
    batches = _positioned(_drive(PLATFORM, 2, ["ok", "ok", ("fail", 1)]))
    notes, _ = decide_releases(PLATFORM, {}, [p for b in batches for p in b], Incidents(), rehearsal=True)
    assert notes
    assert all(note.summary.startswith("[rehearsal, virtual time] ") for note in notes)


def test_an_environment_the_platform_file_no_longer_has_is_told_without_failing_the_sweep() -> None:
    """An event of the past names an environment since removed from the file: told, with no approval to wait for."""
    appends = _drive(PLATFORM, 2, ["ok"])
    renamed = [
        tuple(attrs.evolve(e, environment="qa") if e.environment == "development" else e for e in batch)
        for batch in appends
    ]
    notes = _sweep(PLATFORM, _positioned(renamed), [])
    assert [note.kind.value for note in notes] == ["release_entered", "release_succeeded"]
    assert dict(notes[1].details)["next"] == "findly-infra release status r1"


# ---- routes ---------------------------------------------------------------------------------------------------------

RECEIVERS = (
    Receiver("slack", ReceiverType.SLACK, url=SecretSource("env", "SLACK")),
    Receiver("pagerduty", ReceiverType.PAGERDUTY, routing_key=SecretSource("secret", "pd")),
)


@given(
    st.lists(st.sampled_from(SERVICES), min_size=1, max_size=3, unique=True),
    st.lists(st.sampled_from(SERVICES), max_size=2, unique=True),
    st.sampled_from(ORDER),
    st.sampled_from(list(NotificationSeverity)),
)
def test_a_route_on_a_service_matches_a_release_with_a_part_of_it(
    parts: list[str], services: list[str], environment: str, severity: NotificationSeverity
) -> None:
    note = Notification(
        id="n",
        kind=NotificationKind.RELEASE_RETURNING,
        severity=severity,
        service=RELEASE_STREAM,
        environment=environment,
        version="r1",
        at=T0,
        summary="s",
        action=PageAction.TRIGGER,
        parts=tuple(f"{service}=1.0.0" for service in parts),
    )
    routes = (
        Route(("slack",), services=tuple(services)),
        Route(("pagerduty",), (ORDER[-1],), NotificationSeverity.CRITICAL),
    )
    chosen = route(note, routes, RECEIVERS)
    assert ("slack" in chosen) == (not services or bool(set(services) & set(parts)))
    assert ("pagerduty" in chosen) == (environment == ORDER[-1] and severity is NotificationSeverity.CRITICAL)
    single = attrs.evolve(note, service=parts[0], parts=())
    assert ("slack" in route(single, routes, RECEIVERS)) == (not services or parts[0] in services)


def test_a_route_naming_an_unknown_service_is_refused_at_its_place() -> None:
    text = example_platform_text() + (
        "\nnotifications:\n  receivers:\n    slack: {type: slack, url: {env: SLACK_WEBHOOK_URL}}\n"
        "  routes:\n    - {services: [fn-post, fn-matcher], receivers: [slack]}\n"
    )
    report = validate_platform_text(text)
    (problem,) = [p for p in report.errors if p.rule == "notification-routes"]
    assert problem.path == "notifications.routes[0].services[0]"
    assert problem.message.startswith("unknown service 'fn-post'")
    assert "did you mean 'fn-posts'" in problem.message
    good = validate_platform_text(text.replace("fn-post,", "fn-posts,"))
    assert good.ok, good.errors
    assert good.platform is not None
    assert good.platform.notifications.routes == (Route(("slack",), services=("fn-posts", "fn-matcher")),)


# ---- the sweep: the release stream from its own cursor ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_the_sweep_tells_the_release_stream_once_from_its_own_cursor(kind: str, tmp_path: Path) -> None:
    """The release stream is swept like a service's: from its cursor, told once, however often swept; each
    notification routed as a service's is (here: every one to Slack, production's criticals to PagerDuty), and kept
    whole by the outbox (a release's parts too: Slack's header names the release from them)."""
    from findly_infra.adapters.sqlite import SqliteEventStore
    from tests.notifications.test_notify_outbox import Clock, _notifications, platform_with_receivers

    platform = platform_with_receivers()
    store: EventStore
    outbox: Outbox
    if kind == "sqlite":
        sqlite = SqliteEventStore(tmp_path / "state.sqlite3")
        store, outbox = sqlite, sqlite
    else:
        store, outbox = MemoryEventStore(), MemoryOutbox()
    receivers = {"slack": MemoryNotifier(), "pagerduty": MemoryNotifier()}
    notifications = _notifications(platform, store, outbox, Clock(), receivers)
    appends = _drive(platform, 2, ["ok", "ok", ("fail", 1)])
    for events in appends[:2]:
        store.append(RELEASE_STREAM, store.load(RELEASE_STREAM)[1], events)
    assert notifications.sweep() == 1  # development entered: to Slack
    assert outbox.notify_cursor(RELEASE_STREAM) == (store.load(RELEASE_STREAM)[1], "[]")
    for events in appends[2:]:
        store.append(RELEASE_STREAM, store.load(RELEASE_STREAM)[1], events)
    assert notifications.sweep([RELEASE_STREAM]) > 0
    assert notifications.sweep() == 0  # told once
    notifications.deliver()
    kinds = sorted(note.kind.value for note in receivers["slack"].received)  # queued at one time: any order
    assert kinds == sorted(
        [
            "release_entered",
            "release_succeeded",
            "release_entered",
            "release_succeeded",
            "release_entered",
            "awaiting_approval",
            "release_returning",
            "release_rolled_back",
        ]
    )
    paged = [(note.kind.value, note.action) for note in receivers["pagerduty"].received]
    assert paged == [("release_returning", PageAction.TRIGGER), ("release_rolled_back", PageAction.RESOLVE)]
    assert all(note.parts == ("fn-posts=2.0.0", "fn-notifications=2.1.0") for note in receivers["slack"].received)
    if kind == "sqlite":
        sqlite.close()


# ---- through the receivers' stand-ins ------------------------------------------------------------------------------


def test_a_release_returned_in_production_reaches_slack_pagerduty_and_a_webhook_as_each_takes_it() -> None:
    """A release's notifications over real HTTP to the loopback receivers, which check the real payload formats:
    Slack's message names the release (not the stream), PagerDuty opens the release's incident on its return and
    resolves it when it is rolled back, the signed webhook (verified by the Standard Webhooks reference library)
    carries the parts."""
    from standardwebhooks import Webhook

    from findly_infra.adapters.notifiers import PagerDutyNotifier, SlackNotifier, WebhookNotifier
    from findly_infra.testing.receivers import ReceiversStandIn

    key = "0123456789abcdef0123456789abcdef"
    notes = _sweep(PLATFORM, _positioned(_drive(PLATFORM, 3, ["ok", "ok", ("fail", 2)])), [])
    production = [note for note in notes if note.environment == "production"]
    assert [note.kind.value for note in production] == [
        "release_entered",
        "awaiting_approval",
        "release_returning",
        "release_rolled_back",
    ]
    with ReceiversStandIn(routing_key=key) as receivers:
        slack = SlackNotifier(receivers.slack_url)
        pagerduty = PagerDutyNotifier(key, url=receivers.pagerduty_url)
        webhook = WebhookNotifier(receivers.webhook_url, receivers.webhook_secret)
        for note in production:
            assert slack.send(note).delivered
            assert webhook.send(note).delivered
            if note.action is not None:
                assert pagerduty.send(note).delivered
        headers = [message.payload["blocks"][0]["text"]["text"] for message in receivers.slack.messages]
        assert headers[0] == "Release entered: release r1 in production"
        assert headers[2] == "Release returned as a whole: release r1 in production"
        assert "fn-notifications=2.1.0 failed" in receivers.slack.messages[2].payload["text"]
        incident = receivers.pagerduty.incident(f"findly/{RELEASE_STREAM}/production/r1")
        assert incident is not None
        assert (incident.status, incident.triggers, incident.severity) == ("resolved", 1, "critical")
        details = incident.events[0]["payload"]["custom_details"]
        assert details["parts"] == "fn-posts=2.0.0, fn-matcher=2.2.0, fn-notifications=2.1.0"
        assert details["failed part"] == "fn-notifications=2.1.0"
        request = receivers.webhook.requests[2]
        verified = Webhook(receivers.webhook_secret).verify(request.body, dict(request.headers))
        assert verified["type"] == "release_returning"
        assert verified["data"]["parts"] == ["fn-posts=2.0.0", "fn-matcher=2.2.0", "fn-notifications=2.1.0"]
        assert verified["data"]["version"] == "r1"


def test_a_resolve_decided_in_the_same_sweep_as_its_trigger_goes_where_the_trigger_went() -> None:
    """Found while adding releases (whose return and end are often swept together): a resolve went to the receivers
    its trigger was queued for, read from the outbox — but a trigger decided in the same sweep was not queued yet, so
    PagerDuty opened an incident it never heard the end of. A rollout paused then aborted between two sweeps (a
    command that died before its sweep) shows it: the abort's resolve must reach PagerDuty too."""
    from tests.notifications.test_notify_outbox import Clock, _notifications, _service

    routes = "  routes:\n    - {environments: [development], severity: critical, receivers: [pagerduty]}\n"
    platform = load_platform_text(
        example_platform_text()
        + "\nnotifications:\n  receivers:\n"
        + "    pagerduty: {type: pagerduty, routing_key: {secret: pagerduty-routing-key}}\n"
        + routes
    )
    store, outbox, clock = MemoryEventStore(), MemoryOutbox(), Clock()
    receivers = {"pagerduty": MemoryNotifier()}
    notifications = _notifications(platform, store, outbox, clock, receivers)
    service = _service(platform, store, clock)
    service.deploy("fn-posts", "1.0.0", "development", actor="erin")
    service.pause("fn-posts", "development", actor="erin", reason="look first")
    service.abort("fn-posts", "development", actor="erin", reason="not this one")
    notifications.sweep(["fn-posts"])
    notifications.deliver()
    paged = [(note.kind, note.action) for note in receivers["pagerduty"].received]
    assert paged == [
        (NotificationKind.ROLLOUT_PAUSED, PageAction.TRIGGER),
        (NotificationKind.ROLLOUT_ABORTED, PageAction.RESOLVE),
    ]
