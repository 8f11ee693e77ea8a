"""The pipeline's domain events: what happened, to which version, where, when, by whom and why.

Events are the audit trail: a service's state is the fold of its events (see ``pipeline.py``).
Times and actors come in as arguments; nothing here reads a clock.
"""

from __future__ import annotations

import enum
import functools
from datetime import datetime

import attrs

from findly_infra.domain.environment import StrategyKind
from findly_infra.domain.identity import VerifiedIdentity

__all__ = [
    "AnalysisRecorded",
    "ApprovalGranted",
    "ApprovalsSuperseded",
    "AwaitingApproval",
    "Event",
    "MetricReading",
    "PromotionRequested",
    "RolledBack",
    "RolloutAborted",
    "RolloutPaused",
    "RolloutResumed",
    "RolloutStarted",
    "RolloutSucceeded",
    "TestResultRecorded",
    "TracksCleanedUp",
    "TrafficShifted",
    "Verdict",
]


@functools.cache
def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


class Verdict(enum.Enum):
    """An analysis's outcome. Missing data is never a pass: it is ``INCONCLUSIVE``."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


@attrs.frozen(kw_only=True)
class Event:
    """What every event says: which service, environment and version; when; who; why."""

    service: str
    environment: str
    version: str
    at: datetime
    actor: str
    reason: str = ""

    @property
    def type(self) -> str:
        """The event's name in the audit trail: ``rollout_started``."""
        return _snake(type(self).__name__)


@attrs.frozen(kw_only=True)
class TestResultRecorded(Event):
    """A test suite ran against the version in the environment."""

    suite: str
    passed: bool


@attrs.frozen(kw_only=True)
class PromotionRequested(Event):
    """Someone asked for the version to enter the environment; approvals bind to this request."""

    budget_override: str | None = None
    identity: VerifiedIdentity | None = None
    """How the requester was verified (``None``: a name, trusted as given)."""


@attrs.frozen(kw_only=True)
class ApprovalGranted(Event):
    """A member of an approver group approved the version for the environment (its promotion, or the
    rollout's manual validation ``step``)."""

    group: str
    step: str | None = None
    identity: VerifiedIdentity | None = None
    """How the approver was verified — login and id, issuer, repository, workflow, run, token id (``None``: a name,
    trusted as given where the environment's policy accepts one)."""


@attrs.frozen(kw_only=True)
class ApprovalsSuperseded(Event):
    """A newer version was requested: pending approvals of ``superseded`` no longer count."""

    superseded: str


@attrs.frozen(kw_only=True)
class RolloutStarted(Event):
    """The version began replacing ``previous`` (``None`` for a first release) by ``strategy``.

    ``budget_override`` is the reason given for entering although the error budget was spent
    (``reason`` then says which budget).
    """

    strategy: StrategyKind
    previous: str | None = None
    budget_override: str | None = None
    stages: tuple[tuple[int, int | None], ...] = ()
    """A canary's plan as it started — each stage's weight and duration in milliseconds (``None``: stable) — so
    that the rollout keeps it when the platform file changes (empty: recorded before plans were)."""
    validation: tuple[tuple[str, str], ...] = ()
    """A blue-green rollout's validation steps as it started: (name, description) in order (empty: not recorded)."""
    timings: tuple[tuple[str, int], ...] = ()
    """The plan's durations in milliseconds as it started: blue-green ``validation_timeout`` and ``bake_time``, a
    rolling update's ``watch`` (empty: not recorded)."""
    identity: VerifiedIdentity | None = None
    """How whoever started it was verified (``None``: a name, trusted as given)."""


@attrs.frozen(kw_only=True)
class TrafficShifted(Event):
    """The new version now gets ``weight`` percent of traffic (stage ``step`` of the strategy)."""

    weight: int
    step: int


@attrs.frozen(kw_only=True)
class MetricReading:
    """One criterion's observation in an analysis: the value (NaN when missing) and its verdict."""

    metric: str
    value: float
    threshold: str
    verdict: Verdict


@attrs.frozen(kw_only=True)
class AnalysisRecorded(Event):
    """One analysis interval's verdict, with each criterion's reading."""

    verdict: Verdict
    readings: tuple[MetricReading, ...] = ()


@attrs.frozen(kw_only=True)
class AwaitingApproval(Event):
    """A blue-green rollout waits for the manual ``step`` (business validation) to be approved."""

    step: str


@attrs.frozen(kw_only=True)
class RolloutPaused(Event):
    """The rollout waits for a person (``resume``, ``abort`` or ``rollback``)."""


@attrs.frozen(kw_only=True)
class RolloutResumed(Event):
    """A person let the paused rollout continue."""


@attrs.frozen(kw_only=True)
class RolloutSucceeded(Event):
    """The version serves all traffic in the environment."""


@attrs.frozen(kw_only=True)
class RolledBack(Event):
    """All traffic returned to ``restored`` (``None``: there was no previous version)."""

    restored: str | None = None


@attrs.frozen(kw_only=True)
class RolloutAborted(Event):
    """A person stopped the rollout; traffic returned to the previous version."""


@attrs.frozen(kw_only=True)
class TracksCleanedUp(Event):
    """After the rollout of ``version`` succeeded in an environment with ``auto_cleanup``, the Deployments the
    replaced versions left (``removed``: a secondary track scaled to zero, a track the strategy no longer uses) were
    deleted from its cluster (``domain.cleanup``). Recorded before they are deleted; it changes no state."""

    removed: tuple[str, ...] = ()
