"""The rules of ``domain.recovery``, as properties: an operation resumes at the first step it has not done, in
:data:`STEPS` order; each step's measured time runs from the end of the one before (crash time counted) and they add
up to the RTO; and whatever is asked, at most one operation is open at a time — a new one is admitted only when none
is, the open one resumes only for its own kind and target."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.events import Event
from findly_infra.domain.recovery import (
    DR_STREAM,
    STEPS,
    RecoveryAbandoned,
    RecoveryCompleted,
    RecoveryKind,
    RecoveryOperation,
    RecoveryStarted,
    RecoveryStep,
    RecoveryStepDone,
    RecoveryStepFailed,
    admit,
    failover_environments,
    open_operation,
    operation_name,
    operations,
)
from findly_infra.domain.refusal import Refusal

T0 = datetime(2026, 11, 26, 9, 0)
KINDS = st.sampled_from(list(RecoveryKind))
TARGETS = st.sampled_from(["dr-context", "simulated"])


def _head(at: datetime) -> dict[str, object]:
    return {"service": DR_STREAM, "environment": "", "version": "", "at": at, "actor": "alice"}


def _started(name: str, at: datetime, kind: RecoveryKind = RecoveryKind.DRILL, target: str = "t") -> RecoveryStarted:
    return RecoveryStarted(**_head(at), operation=name, kind=kind, target=target, environments=("production",))  # type: ignore[arg-type]


def _done(name: str, step: RecoveryStep, start: datetime, at: datetime) -> RecoveryStepDone:
    return RecoveryStepDone(**_head(at), operation=name, step=step, started=start)  # type: ignore[arg-type]


actions = st.lists(
    st.tuples(
        # steps weighted, and scripts long enough, that operations reach their end (about 1 in 8 completes)
        st.sampled_from(["start", "step", "step", "step", "step", "step", "fail", "complete", "complete", "abandon"]),
        KINDS,
        TARGETS,
        st.integers(0, 600),
    ),
    min_size=12,
    max_size=60,
)


def _drive(script: list[tuple[str, RecoveryKind, str, int]]) -> list[Event]:
    """The events a writer that follows the rules records for *script*: :func:`admit` before each start; a step
    done or failed only at the open operation's next step; completed only once every step is done."""
    events: list[Event] = []
    at = T0
    for action, kind, target, seconds in script:
        at += timedelta(seconds=seconds)
        current = open_operation(events)
        if action == "start":
            decided = admit(events, kind, target)
            if decided is None:
                events.append(_started(operation_name(kind, at) + f"-{len(events)}", at, kind, target))
            elif isinstance(decided, RecoveryOperation):
                assert decided == current
                assert (decided.kind, decided.target) == (kind, target)
            else:
                assert decided.rule == "recovery-in-progress"
                assert current is not None
                assert (current.kind, current.target) != (kind, target)
        elif current is None:
            continue
        elif action == "step" and current.next_step is not None:
            events.append(_done(current.name, current.next_step, at - timedelta(seconds=seconds), at))
        elif action == "fail" and current.next_step is not None:
            events.append(
                RecoveryStepFailed(**_head(at), operation=current.name, step=current.next_step, started=at, message="x")  # type: ignore[arg-type]
            )
        elif action == "complete" and current.next_step is None:
            rto = current.rto_seconds
            assert rto is not None
            events.append(RecoveryCompleted(**_head(at), operation=current.name, rto_seconds=rto))  # type: ignore[arg-type]
        elif action == "abandon":
            events.append(RecoveryAbandoned(**_head(at), operation=current.name))  # type: ignore[arg-type]
    return events


@given(actions)
def test_at_most_one_operation_is_ever_open(script: list[tuple[str, RecoveryKind, str, int]]) -> None:
    events = _drive(script)
    for end in range(len(events) + 1):
        assert sum(operation.unfinished for operation in operations(events[:end])) <= 1


@given(actions)
def test_steps_are_done_in_order_each_once_and_an_operation_resumes_at_the_first_not_done(
    script: list[tuple[str, RecoveryKind, str, int]],
) -> None:
    for operation in operations(_drive(script)):
        done = [event.step for event in operation.done]
        assert done == list(STEPS[: len(done)])
        assert operation.next_step == (STEPS[len(done)] if len(done) < len(STEPS) else None)
        if operation.completed is not None:
            assert operation.next_step is None


@given(actions)
def test_the_timings_run_end_to_end_and_add_up_to_the_rto(script: list[tuple[str, RecoveryKind, str, int]]) -> None:
    for operation in operations(_drive(script)):
        timings = operation.timings()
        assert all(timing.seconds >= 0 for timing in timings)
        if operation.next_step is None:
            assert operation.rto_seconds == pytest.approx(sum(timing.seconds for timing in timings))
            if operation.completed is not None:
                assert operation.completed.rto_seconds == operation.rto_seconds
        else:
            assert operation.rto_seconds is None


@given(st.lists(st.integers(0, 900), min_size=len(STEPS), max_size=len(STEPS)), st.integers(0, 3600))
def test_time_lost_to_a_crash_counts_against_the_step_it_interrupted(gaps: list[int], lost: int) -> None:
    """A step whose first run died and whose rerun began *lost* seconds later is measured from the end of the step
    before it, not from the rerun's start."""
    at = T0
    events: list[Event] = [_started("op", at)]
    for index, (step, gap) in enumerate(zip(STEPS, gaps, strict=True)):
        began = at + timedelta(seconds=lost if index == 2 else 0)
        at = began + timedelta(seconds=gap)
        events.append(_done("op", step, began, at))
    (operation,) = operations(events)
    seconds = [timing.seconds for timing in operation.timings()]
    assert seconds[2] == gaps[2] + lost
    assert operation.rto_seconds == sum(gaps) + lost


def test_a_step_recorded_twice_is_measured_once_at_its_first_record() -> None:
    events: list[Event] = [_started("op", T0)]
    events.append(_done("op", RecoveryStep.CLUSTER, T0, T0 + timedelta(seconds=10)))
    events.append(_done("op", RecoveryStep.CLUSTER, T0, T0 + timedelta(seconds=50)))
    (operation,) = operations(events)
    assert [timing.seconds for timing in operation.timings()] == [10.0]
    assert operation.next_step is RecoveryStep.DEPLOY


def test_nothing_after_an_operations_end_belongs_to_it() -> None:
    events: list[Event] = [_started("op", T0), RecoveryAbandoned(**_head(T0), operation="op")]  # type: ignore[arg-type]
    events.append(_done("op", RecoveryStep.CLUSTER, T0, T0))
    (operation,) = operations(events)
    assert operation.done == ()
    assert not operation.unfinished


def test_the_failure_since_the_last_step_says_why_it_stopped() -> None:
    failed = RecoveryStepFailed(
        **_head(T0),  # type: ignore[arg-type]
        operation="op",
        step=RecoveryStep.CLUSTER,
        started=T0,
        message="quota",
    )
    events: list[Event] = [_started("op", T0), failed]
    assert operations(events)[0].failing == failed
    events.append(_done("op", RecoveryStep.CLUSTER, T0, T0))
    assert operations(events)[0].failing is None


def test_another_kind_or_target_is_refused_while_one_is_open_naming_it_and_the_way_out() -> None:
    events: list[Event] = [_started("drill-1", T0, RecoveryKind.DRILL, "ctx")]
    refused = admit(events, RecoveryKind.FAILOVER, "ctx")
    assert isinstance(refused, Refusal)
    assert refused.rule == "recovery-in-progress"
    assert "drill-1" in refused.message
    assert "dr abandon" in refused.message
    assert isinstance(admit(events, RecoveryKind.DRILL, "ctx"), RecoveryOperation)
    assert isinstance(admit(events, RecoveryKind.DRILL, "other"), Refusal)


@given(KINDS, st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)))
def test_an_operation_is_named_by_its_kind_and_start_to_the_second(kind: RecoveryKind, at: datetime) -> None:
    name = operation_name(kind, at)
    assert name.startswith(f"{kind.value}-")
    assert name == operation_name(kind, at.replace(microsecond=0))


def test_the_environments_that_fail_over() -> None:
    from findly_infra.domain.recovery import FailoverSettings

    order = ("development", "staging", "production")
    assert failover_environments(FailoverSettings("c", environments=("production",)), order) == ("production",)
    assert failover_environments(FailoverSettings("c"), order, ("staging",)) == ("staging",)
    assert failover_environments(FailoverSettings("c"), order) == order
    assert failover_environments(None, order) == order
