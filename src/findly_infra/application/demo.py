"""The demo's story, told through the use cases: a version promoted to production with its tests and
approvals, rolled out as a canary that succeeds, then a bad version rolled back — in virtual time."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from findly_infra.application.ports import AdvancingClock
from findly_infra.application.scenarios import SCENARIOS
from findly_infra.application.service import Outcome, PipelineService, PolicyRefusedError
from findly_infra.application.simulation import ScenarioSource, SimulatedProofs, simulated_identity
from findly_infra.application.steps import stop_text
from findly_infra.domain.environment import StrategyKind
from findly_infra.domain.events import TrafficShifted

__all__ = ["tell_the_story"]

REQUESTER = "erin"


def tell_the_story(
    pipelines: PipelineService, clock: AdvancingClock, metrics: ScenarioSource, service: str
) -> Iterator[str]:
    """Run the demo on *pipelines* (whose metrics are *metrics*, on *clock*), saying what happens line by line. Its
    people are verified by no token (``simulation.simulated_identity``): *pipelines* counts their approvals as such."""
    pipelines.simulated_identities = True
    pipelines.proofs = SimulatedProofs()
    platform = pipelines.platform

    def watch(env: str) -> Outcome:
        return pipelines.watch(service, env, actor="findly", wait=clock.advance)

    def through_staging(version: str) -> Iterator[tuple[str, Outcome]]:
        for env in platform.promotion_order[:-1]:
            pipelines.deploy(
                service,
                version,
                env,
                actor=REQUESTER,
                identity=simulated_identity(platform, env, REQUESTER, pipelines.clock.now()),
            )
            outcome = watch(env)
            for suite in platform.environment(env).tests:
                pipelines.record_test(service, version, env, suite, True, actor="ci")
            yield env, outcome

    def request(version: str) -> Outcome:
        identity = simulated_identity(platform, platform.promotion_order[-1], REQUESTER, pipelines.clock.now())
        return pipelines.deploy(
            service,
            version,
            platform.promotion_order[-1],
            actor=REQUESTER,
            strategy=StrategyKind.CANARY,
            identity=identity,
        )

    v1, v2 = "1.4.0", "1.5.0"
    metrics.scenario = SCENARIOS["healthy"]
    for name, outcome in through_staging(v1):
        yield f"{name:12} {v1}: {outcome.view.describe()}"
        yield f"{'':12} tests recorded: {', '.join(platform.environment(name).tests)}"
    production = platform.promotion_order[-1]
    env = platform.environment(production)
    try:
        request(v1)
    except PolicyRefusedError as refused:
        yield f"{production:12} promotion refused by rule '{refused.refusal.rule}': {refused.refusal.message}"
    for group in env.approvers:
        person = next(m for m in platform.approver_group(group).members if m != REQUESTER)
        pipelines.approve(
            service,
            v1,
            production,
            actor=person,
            identity=simulated_identity(platform, production, person, pipelines.clock.now()),
        )
        yield f"{'':12} approved by {person} ({group})"
    request(v1)
    outcome = watch(production)
    weights = [
        e.weight
        for e in pipelines.history(service)
        if isinstance(e, TrafficShifted) and e.environment == production and e.version == v1
    ]
    yield f"{production:12} canary {v1}: weights {' -> '.join(map(str, weights))}%: {outcome.view.describe()}"

    for _env, _outcome in through_staging(v2):
        pass
    for group in env.approvers:
        person = next(m for m in reversed(platform.approver_group(group).members) if m != REQUESTER)
        with contextlib.suppress(PolicyRefusedError):  # the refused request is what the approvals bind to
            request(v2)
        pipelines.approve(
            service,
            v2,
            production,
            actor=person,
            identity=simulated_identity(platform, production, person, pipelines.clock.now()),
        )
    metrics.scenario = SCENARIOS["error-spike"]
    request(v2)
    outcome = watch(production)
    stopped = stop_text(outcome, platform.prometheus.window.describe())  # which criterion, its value, threshold
    serving = outcome.view.serving
    after = f" (serving {serving.version} {serving.weight}%)" if stopped and serving else ""
    yield f"{production:12} canary {v2} under an error spike: {stopped or outcome.view.describe()}{after}"
