"""The rules of notifications (``domain.notifying``, ``domain.notifications``): which events, waits and refusals are
told, how urgently and with which facts; when incidents open and close; stable ids; routing; the retry schedule."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.config.loader import load_platform_text
from findly_infra.domain.environment import StrategyKind
from findly_infra.domain.events import Event, MetricReading, Verdict
from findly_infra.domain.notifications import (
    Notification,
    NotificationKind,
    NotificationSettings,
    NotificationSeverity,
    PageAction,
    Receiver,
    ReceiverType,
    Route,
    SecretSource,
    route,
)
from findly_infra.domain.notifying import (
    Incidents,
    RetrySchedule,
    decide,
    incident_key,
    refused,
    waiting,
)
from findly_infra.domain.pipeline import DeploymentPipeline
from findly_infra.domain.platform import Platform
from findly_infra.domain.refusal import Refusal
from findly_infra.domain.view import EnvironmentView
from findly_infra.examples import example_platform_text

T0 = datetime(2026, 1, 5, 9, 0)
SERVICE = "fn-posts"
BAD = (MetricReading(metric="error_rate", value=0.05, threshold="< 0.5%", verdict=Verdict.FAIL),)
GOOD = (MetricReading(metric="error_rate", value=0.001, threshold="< 0.5%", verdict=Verdict.PASS),)


@pytest.fixture(scope="module")
def platform() -> Platform:
    return load_platform_text(example_platform_text())


_PLATFORM = load_platform_text(example_platform_text())

# ---- a pipeline driven by commands, its decisions kept as the appends a store would keep -----------------------

COMMANDS = st.sampled_from(["deploy", "pass", "fail", "doubt", "pause", "resume", "abort", "rollback", "later"])


def _drive(platform: Platform, commands: list[str], environment: str = "development") -> list[tuple[Event, ...]]:
    """The appends *commands* make on *environment*: each command's events, as one append."""
    pipeline = DeploymentPipeline.start(platform, SERVICE)
    at, version, appends = T0, 0, []
    for command in commands:
        at += timedelta(minutes=1)
        if command == "deploy":
            version += 1
            strategy = (StrategyKind.CANARY, StrategyKind.ROLLING)[version % 2]
            decision = pipeline.deploy(f"1.{version}.0", environment, actor="erin", at=at, strategy=strategy)
        elif command in ("pass", "fail", "doubt"):
            verdict = {"pass": Verdict.PASS, "fail": Verdict.FAIL, "doubt": Verdict.INCONCLUSIVE}[command]
            readings = {"pass": GOOD, "fail": BAD, "doubt": ()}[command]
            decision = pipeline.analyze(environment, verdict, actor="findly-infra", at=at, readings=readings)
        elif command == "later":
            at += timedelta(minutes=30)
            continue
        else:
            decide_command = getattr(pipeline, command)
            decision = decide_command(environment, actor="dave", at=at, reason=f"{command} it")
        if decision.events:
            pipeline = pipeline.apply_all(decision.events)
            appends.append(decision.events)
    return appends


def _positioned(appends: list[tuple[Event, ...]]) -> list[list[tuple[int, Event]]]:
    position, batches = 0, []
    for events in appends:
        batches.append(list(enumerate(events, position)))
        position += len(events)
    return batches


def _sweep(platform: Platform, batches: list[list[tuple[int, Event]]], cuts: list[int]) -> list[Notification]:
    """Decide the batches in sweeps that end after each batch index in *cuts* (and after the last), threading the
    kept incidents as the outbox's cursor does."""
    found: list[Notification] = []
    incidents = Incidents()
    start = 0
    for end in [*sorted(set(cuts)), len(batches)]:
        events = [pair for batch in batches[start:end] for pair in batch]
        if events:
            notes, incidents = decide(platform, SERVICE, events, Incidents.from_text(incidents.to_text()))
            found += notes
        start = max(start, end)
    return found


@given(st.lists(COMMANDS, max_size=30), st.lists(st.integers(0, 30), max_size=5))
def test_deciding_in_sweeps_tells_the_same_as_deciding_at_once(commands: list[str], cuts: list[int]) -> None:
    """A crash between appending and queueing leaves the events to a later sweep from the cursor: however the log is
    cut into sweeps (at appends, where a cursor stands), the same notifications come out, with the same ids."""
    batches = _positioned(_drive(_PLATFORM, commands))
    whole = _sweep(_PLATFORM, batches, [])
    assert _sweep(_PLATFORM, batches, cuts) == whole
    assert len({note.id for note in whole}) == len(whole)  # one id per notification


@given(
    st.lists(COMMANDS, max_size=30),
    st.sampled_from(["version", "environment", "at", "actor"]),
)
def test_another_states_events_at_the_same_positions_have_other_ids(commands: list[str], differs: str) -> None:
    """Review finding 3: ids came from the service, position and kind alone, so another state (the demo's, a
    rehearsal's) told its notifications under ids already used — and a Standard Webhooks receiver drops an id it has
    seen. The same story in another state, one fact of each event other, shares no id; decided again, the same ids."""
    batches = _positioned(_drive(_PLATFORM, commands))
    mine = _sweep(_PLATFORM, batches, [])
    change = {
        "version": lambda e: attrs.evolve(e, version=e.version + "-other"),
        "environment": lambda e: attrs.evolve(e, environment=e.environment + "-other"),
        "at": lambda e: attrs.evolve(e, at=e.at + timedelta(days=1)),
        "actor": lambda e: attrs.evolve(e, actor=e.actor + "-other"),
    }[differs]
    other = [[(position, change(event)) for position, event in batch] for batch in batches]
    theirs = _sweep(_PLATFORM, other, [])
    assert {note.id for note in mine}.isdisjoint(note.id for note in theirs)
    assert [note.id for note in _sweep(_PLATFORM, batches, [])] == [note.id for note in mine]


@given(st.lists(COMMANDS, max_size=30))
def test_incidents_open_on_a_pause_or_rollback_and_close_once(commands: list[str]) -> None:
    """A pause or a rollback triggers its version's incident; a resolve only ever closes an incident triggered before
    and still open; a success closes every incident of its environment."""
    batches = _positioned(_drive(_PLATFORM, commands))
    events = [event for batch in batches for _, event in batch]
    notes = _sweep(_PLATFORM, batches, [])
    open_: set[str] = set()
    for note in notes:
        if note.action is PageAction.TRIGGER:
            assert note.kind in (NotificationKind.ROLLOUT_PAUSED, NotificationKind.ROLLED_BACK)
            assert note.severity is NotificationSeverity.CRITICAL
            open_.add(note.incident_key)
        elif note.action is PageAction.RESOLVE:
            assert note.incident_key in open_
            open_.discard(note.incident_key)
        if note.kind is NotificationKind.ROLLOUT_SUCCEEDED:
            assert not {key for key in open_ if key.startswith(f"findly/{SERVICE}/{note.environment}/")}
    _, kept = decide(_PLATFORM, SERVICE, [pair for batch in batches for pair in batch], Incidents())
    assert {incident_key(SERVICE, env, version) for env, version in kept.open} == open_
    told = {note.kind.value for note in notes if note.action is not PageAction.RESOLVE or note.version}
    assert told <= {"rollout_started", "rollout_paused", "rolled_back", "rollout_aborted", "rollout_succeeded"}
    stops = [e for e in events if e.type in ("rollout_paused", "rolled_back", "rollout_aborted")]
    assert len([n for n in notes if n.kind.value in ("rollout_paused", "rolled_back", "rollout_aborted")]) == len(stops)


def test_a_rollback_names_the_criterion_its_value_threshold_and_window(platform: Platform) -> None:
    appends = _drive(platform, ["deploy", "later", "pass", "deploy", "fail", "fail"])
    notes = _sweep(platform, _positioned(appends), [])
    (rolled,) = [note for note in notes if note.kind is NotificationKind.ROLLED_BACK]
    assert rolled.severity is NotificationSeverity.CRITICAL
    assert rolled.action is PageAction.TRIGGER
    assert rolled.incident_key == "findly/fn-posts/development/1.2.0"
    assert "error_rate 5.000% (threshold < 0.5%): fail over the last 1 minute" in rolled.summary
    details = dict(rolled.details)
    assert details["criterion"] == "error_rate 5.000% (threshold < 0.5%): fail"
    assert details["window"] == "1 minute"
    assert details["traffic back on"] == "1.1.0"
    actor = next(e for batch in appends for e in batch if e.type == "rolled_back").actor
    assert details["by"] == f"the analysis (watch run by {actor})"  # the analysis decided it, not whoever watched


def test_a_pause_is_paged_and_resolved_when_the_version_succeeds(platform: Platform) -> None:
    appends = _drive(
        platform, ["deploy", "later", "pass", "deploy", "pause", "resume", "later", "pass", "later", "pass", "later"]
    )
    appends += _drive(platform, [])  # nothing more
    notes = _sweep(platform, _positioned(appends), [])
    kinds = [(note.kind, note.action) for note in notes]
    assert (NotificationKind.ROLLOUT_PAUSED, PageAction.TRIGGER) in kinds
    paused = next(note for note in notes if note.kind is NotificationKind.ROLLOUT_PAUSED)
    assert "resume|abort|rollback" in dict(paused.details)["next"]
    appends = _drive(platform, ["deploy", "later", "pass", "deploy", "pause", "resume"] + ["later", "pass"] * 6)
    notes = _sweep(platform, _positioned(appends), [])
    succeeded = [note for note in notes if note.kind is NotificationKind.ROLLOUT_SUCCEEDED and note.version == "1.2.0"]
    assert [note.action for note in succeeded] == [PageAction.RESOLVE]
    assert succeeded[0].incident_key == paused.incident_key


def test_a_newer_rollout_supersedes_the_incident_of_the_one_rolled_back(platform: Platform) -> None:
    appends = _drive(platform, ["deploy", "later", "pass", "deploy", "fail", "fail", "deploy"])
    notes = _sweep(platform, _positioned(appends), [])
    resolves = [note for note in notes if note.action is PageAction.RESOLVE]
    assert [(n.kind, n.version, n.incident_key) for n in resolves] == [
        (NotificationKind.ROLLOUT_STARTED, "1.3.0", "findly/fn-posts/development/1.2.0")
    ]
    assert "superseded" in resolves[0].summary


def test_an_abort_resolves_its_own_incident_and_pages_nothing_new(platform: Platform) -> None:
    appends = _drive(platform, ["deploy", "later", "pass", "deploy", "pause", "abort"])
    notes = _sweep(platform, _positioned(appends), [])
    aborted = next(note for note in notes if note.kind is NotificationKind.ROLLOUT_ABORTED)
    assert (aborted.severity, aborted.action) == (NotificationSeverity.WARNING, PageAction.RESOLVE)
    quiet = _sweep(platform, _positioned(_drive(platform, ["deploy", "later", "pass", "deploy", "abort"])), [])
    assert next(n for n in quiet if n.kind is NotificationKind.ROLLOUT_ABORTED).action is None  # nothing was open


def test_a_rehearsal_says_so_in_every_summary(platform: Platform) -> None:
    batches = _positioned(_drive(platform, ["deploy", "later", "pass", "deploy", "fail", "fail"]))
    notes, _ = decide(platform, SERVICE, [p for b in batches for p in b], Incidents(), rehearsal=True)
    assert notes
    assert all(note.summary.startswith("[rehearsal, virtual time] ") for note in notes)


# ---- waits and refusals -------------------------------------------------------------------------------------------


def _production_request(platform: Platform) -> DeploymentPipeline:
    pipeline = DeploymentPipeline.start(platform, SERVICE)
    decision = pipeline.deploy("1.0.0", "production", actor="erin", at=T0)
    return pipeline.apply_all(decision.events)


def test_a_promotion_waiting_for_approval_says_who_may_approve_and_how(platform: Platform) -> None:
    pipeline = _production_request(platform)
    view = EnvironmentView.of(pipeline, "production", T0)
    note = waiting(SERVICE, view, pipeline.environments["production"], T0 + timedelta(minutes=5))
    assert note is not None
    assert (note.kind, note.severity, note.action) == (
        NotificationKind.AWAITING_APPROVAL,
        NotificationSeverity.WARNING,
        None,
    )
    details = dict(note.details)
    assert "findly-infra approve fn-posts 1.0.0 --env production" in details["to unblock"]
    assert details["approvers"] == "devops-team, security-team"
    assert "by someone other than erin" in details["to unblock"]
    later = waiting(SERVICE, view, pipeline.environments["production"], T0 + timedelta(hours=2))
    assert later is not None
    assert later.id == note.id  # the same wait, whenever it is asked


def test_a_blue_green_rollout_tells_each_suite_it_waits_for_then_the_manual_step(platform: Platform) -> None:
    pipeline = DeploymentPipeline.start(platform, SERVICE)
    at = T0
    pipeline = pipeline.apply_all(
        pipeline.deploy("1.0.0", "development", actor="erin", at=at, strategy=StrategyKind.BLUE_GREEN).events
    )
    told = []
    for suite in ("smoke_tests", "performance_tests", None):
        view = EnvironmentView.of(pipeline, "development", at)
        note = waiting(SERVICE, view, pipeline.environments["development"], at)
        if suite is None:
            decision = pipeline.analyze("development", Verdict.PASS, actor="findly-infra", at=at, readings=GOOD)
            pipeline = pipeline.apply_all(decision.events)
            view = EnvironmentView.of(pipeline, "development", at)
            note = waiting(SERVICE, view, pipeline.environments["development"], at)
            assert note is not None
            assert note.kind is NotificationKind.AWAITING_APPROVAL
            assert dict(note.details)["step"] == "business_validation"
            told.append(note)
            break
        assert note is not None
        assert note.kind is NotificationKind.AWAITING_EVIDENCE
        details = dict(note.details)
        assert details["suite"] == suite
        assert f"--suite {suite} --passed" in details["to unblock"]
        assert "deadline" in details
        told.append(note)
        at += timedelta(minutes=1)
        pipeline = pipeline.apply_all(
            pipeline.record_test("1.0.0", "development", suite, passed=True, actor="ci", at=at).events
        )
    assert len({note.id for note in told}) == 3  # each wait told once, under its own id


@given(st.sampled_from(["required-tests", "error-budget", "one-rollout-at-a-time", "promotion-order", "approvals"]))
def test_a_refused_promotion_names_its_rule_except_a_wait_for_approvals(rule: str) -> None:
    refusal = Refusal(rule, f"refused by {rule}: because")
    note = refused(SERVICE, "production", "1.0.0", refusal, stream_version=7, at=T0)
    if rule == "approvals":
        assert note is None
        return
    assert note is not None
    assert (note.kind, note.severity, note.action) == (
        NotificationKind.PROMOTION_REFUSED,
        NotificationSeverity.WARNING,
        None,
    )
    assert dict(note.details)["rule"] == rule
    again = refused(SERVICE, "production", "1.0.0", refusal, stream_version=7, at=T0 + timedelta(minutes=3))
    assert again is not None
    assert again.id == note.id  # a retried CI step: the same refusal
    other = refused(SERVICE, "production", "1.0.0", refusal, stream_version=8, at=T0)
    assert other is not None
    assert other.id != note.id  # on another state: another refusal


# ---- routing ---------------------------------------------------------------------------------------------------------

RECEIVERS = (
    Receiver("slack", ReceiverType.SLACK, url=SecretSource("env", "SLACK")),
    Receiver("pagerduty", ReceiverType.PAGERDUTY, routing_key=SecretSource("secret", "pd")),
    Receiver("audit", ReceiverType.WEBHOOK, url=SecretSource("env", "A"), signing_secret=SecretSource("env", "S")),
)
SEVERITIES = list(NotificationSeverity)


def _note(
    kind: NotificationKind, severity: NotificationSeverity, environment: str, action: PageAction | None
) -> Notification:
    return Notification(
        id="n",
        kind=kind,
        severity=severity,
        service=SERVICE,
        environment=environment,
        version="1.0.0",
        at=T0,
        summary="s",
        action=action,
    )


ROUTES = st.lists(
    st.builds(
        Route,
        st.lists(st.sampled_from(["slack", "pagerduty", "audit"]), max_size=3).map(tuple),
        st.lists(st.sampled_from(["development", "staging", "production"]), max_size=2).map(tuple),
        st.sampled_from(SEVERITIES),
        st.lists(st.sampled_from(list(NotificationKind)), max_size=2).map(tuple),
    ),
    max_size=4,
).map(tuple)
NOTES = st.builds(
    _note,
    st.sampled_from(list(NotificationKind)),
    st.sampled_from(SEVERITIES),
    st.sampled_from(["development", "staging", "production"]),
    st.sampled_from([None, PageAction.TRIGGER, PageAction.RESOLVE]),
)


@given(ROUTES, NOTES)
def test_routing_sends_to_the_declared_receivers_of_every_matching_route(
    routes: tuple[Route, ...], note: Notification
) -> None:
    chosen = route(note, routes, RECEIVERS)
    expected = {name for r in routes if r.matches(note) for name in r.receivers}
    if note.action is None:
        expected.discard("pagerduty")  # a paging receiver hears only of incidents
    assert set(chosen) == expected
    assert list(chosen) == [r.name for r in RECEIVERS if r.name in expected]  # in the order declared
    more_severe = [s for s in SEVERITIES if SEVERITIES.index(s) >= SEVERITIES.index(note.severity)]
    for severity in more_severe:  # a route's severity is the least it matches: more severe reaches at least as many
        assert set(chosen) <= set(route(attrs.evolve(note, severity=severity), routes, RECEIVERS))


@given(NOTES)
def test_without_routes_the_channels_hear_everything_and_pages_are_for_production_criticals(note: Notification) -> None:
    settings = NotificationSettings(RECEIVERS)
    routes = settings.routes_for(("slack", "pagerduty"), "production")
    chosen = route(note, routes, RECEIVERS)
    assert "audit" not in chosen  # not among the notification_channels
    assert ("slack" in chosen) is True
    paged = note.environment == "production" and note.severity is NotificationSeverity.CRITICAL
    assert ("pagerduty" in chosen) == (paged and note.action is not None)
    assert settings.routes_for((), "production")[0].receivers == ("slack", "audit")  # no channels: every receiver


# ---- the retry schedule ---------------------------------------------------------------------------------------------


@given(st.text(min_size=1, max_size=20), st.integers(1, 45), st.none() | st.floats(0, 7200))
def test_backoff_grows_with_jitter_from_the_key_and_honours_retry_after(
    key: str, attempt: int, retry_after: float | None
) -> None:
    schedule = RetrySchedule()
    base = min(schedule.cap, schedule.first * 2 ** min(attempt - 1, 20))
    delay = schedule.delay(key, attempt)
    assert base * 0.8 - timedelta(microseconds=1) <= delay <= base * 1.2 + timedelta(microseconds=1)
    assert schedule.delay(key, attempt) == delay  # no randomness: the same key waits the same
    when = schedule.next_attempt(key, attempt, T0 + timedelta(hours=1), T0, retry_after)
    if attempt >= schedule.attempts:
        assert when is None  # given up after the bound of attempts
        return
    wait = max(delay, timedelta(seconds=retry_after or 0))
    if timedelta(hours=1) + wait > schedule.age:
        assert when is None  # given up: past the bound of age
    else:
        assert when == T0 + timedelta(hours=1) + wait


def test_two_deliveries_that_failed_together_come_back_apart() -> None:
    schedule = RetrySchedule()
    delays = {schedule.delay(f"ntf_{n}/slack", 3) for n in range(20)}
    assert len(delays) > 15


@given(st.text(min_size=1, max_size=20))
def test_a_receiver_down_for_good_is_retried_for_a_day(key: str) -> None:
    """Review finding 7: 10 attempts, 30 s doubling to an hour, gave up after about 3 hours while the docs promised
    24; the bound of attempts is now above what a day of backoff takes, so the bound of age is the one that ends it."""
    schedule = RetrySchedule()
    attempt, at = 1, T0
    while (following := schedule.next_attempt(key, attempt, at, T0)) is not None:
        attempt, at = attempt + 1, following
    assert attempt < schedule.attempts  # not the count ...
    assert at - T0 > schedule.age - schedule.cap * 1.2  # ... the age: the last attempt within an hour of the day


def test_a_late_first_failure_gives_up_by_age() -> None:
    schedule = RetrySchedule()
    assert schedule.next_attempt("k", 1, T0 + timedelta(hours=24), T0) is None
