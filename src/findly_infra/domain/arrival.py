"""Where a version a GitHub event brings goes (``findly-infra github``): the environment whose ``deployment_trigger``
the event matches — staging for a merge to main, in the seed — or, when the version never ran in the environment
before it and an event (not a promotion) brings versions into that one, there first.

Why: a merge to main builds a version (the merge commit) that the feature branch never ran in development, and a
version enters staging only after succeeding in development with development's suites passed. So the merge deploys
it to development first and says what is left before staging (its rollout there, its suites recorded); the same
event run again once they are takes it on to staging. Nothing skips an environment: this rule only chooses which of
the two to ask, and the pipeline's rules still decide.

Pure: the pipeline comes in as an argument.
"""

from __future__ import annotations

import attrs

from findly_infra.domain.environment import TriggerKind
from findly_infra.domain.pipeline import ROLLOUT_RECORDED_EVIDENCE, DeploymentPipeline

__all__ = ["LeftBefore", "arrival_for_event", "left_before"]


def arrival_for_event(pipeline: DeploymentPipeline, target: str, version: str) -> str:
    """The environment an event that maps to *target* deploys *version* into: *target* — or the environment before
    it, when *version* is not in that one (it has not succeeded there, and the latest rollout there is not of it;
    suites recorded for it there without a rollout do not count: they are evidence, not a deployment) and versions
    enter it by an event (a push or a merge, not a promotion)."""
    previous = pipeline.platform.previous_environment(target)
    if previous is None or previous.deployment_trigger.kind is TriggerKind.PROMOTION:
        return target
    state = pipeline.records(previous.name, version)
    rollout = pipeline.environments[previous.name].rollout
    entered = version in state.succeeded or (rollout is not None and rollout.version == version)
    return target if entered else previous.name


@attrs.frozen
class LeftBefore:
    """What *version* still needs in *previous* (the environment before *target*) before it may enter *target*."""

    target: str
    previous: str
    version: str
    rollout: str | None
    """Its rollout there, when it has not succeeded there yet: ``progressing``, ``paused``, ``rolled_back``, … or
    ``never run`` (``None``: it succeeded there)."""
    suites: tuple[str, ...]
    """*previous*'s suites not yet passed for *version* (in the file's order)."""

    @property
    def failed(self) -> bool:
        """Whether its rollout there ended without succeeding (rolled back, aborted): it cannot go on as it is."""
        return self.rollout in ("rolled_back", "aborted")

    @property
    def waits(self) -> bool:
        """Whether *version* waits for something that comes (its rollout there to end, its suites to be recorded),
        rather than being refused: something is left, and its rollout there did not fail."""
        return not self.failed and (self.rollout is not None or bool(self.suites))

    def describe(self) -> str:
        """``its rollout in development to succeed (progressing now) and unit, smoke passed in development``."""
        parts = []
        if self.rollout is not None:
            now = "it never ran there" if self.rollout == "never run" else f"{self.rollout.replace('_', ' ')} now"
            parts.append(f"its rollout in {self.previous} to succeed ({now})")
        if self.suites:
            parts.append(f"{', '.join(self.suites)} passed in {self.previous}")
        return " and ".join(parts) if parts else "nothing"


def left_before(pipeline: DeploymentPipeline, target: str, version: str) -> LeftBefore | None:
    """What *version* still needs before it may enter *target* by the promotion order and the required tests (``None``
    for the first environment): its rollout in the environment before it, and that environment's suites."""
    previous = pipeline.platform.previous_environment(target)
    if previous is None:
        return None
    state = pipeline.records(previous.name, version)
    rollout = pipeline.environments[previous.name].rollout
    phase: str | None = None
    if version not in state.succeeded:
        phase = rollout.phase.value if rollout is not None and rollout.version == version else "never run"
    suites = tuple(
        suite
        for suite in previous.tests
        if suite not in ROLLOUT_RECORDED_EVIDENCE and not state.has_passed(version, suite)
    )
    return LeftBefore(target, previous.name, version, phase, suites)
