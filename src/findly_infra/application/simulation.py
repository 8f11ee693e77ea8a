"""Simulations: a whole release in memory, on a virtual clock, against scripted metrics.

"What would this policy have done?" — the same pipeline and use cases as a real release, on the
ports it is given (the composition root, ``findly_infra.bootstrap.simulate``, gives it the in-memory
adapters): the seed's 60-minute canary runs in milliseconds with the decisions real time would give.
"""

from __future__ import annotations

import base64
import itertools
import json
from datetime import datetime
from typing import Any, Protocol

import attrs

from findly_infra.application.codec import event_shown
from findly_infra.application.ports import AdvancingClock, MetricsSource
from findly_infra.application.scenarios import SCENARIOS, Scenario
from findly_infra.application.service import Outcome, PipelineService, PolicyRefusedError
from findly_infra.domain.environment import StrategyKind
from findly_infra.domain.events import AnalysisRecorded, Event, RolloutStarted, TrafficShifted
from findly_infra.domain.identity import VerifiedIdentity
from findly_infra.domain.platform import Platform
from findly_infra.domain.policy import SIMULATED_ISSUER
from findly_infra.domain.proofs import ProofCheck, Proven, Unproven
from findly_infra.domain.state import Phase
from findly_infra.domain.strategy import BlueGreenStrategy

__all__ = [
    "SIMULATED_ISSUER",
    "ScenarioSource",
    "SimulatedProofs",
    "SimulationResult",
    "run_simulation",
    "simulated_identity",
]

_SHOWN = frozenset(
    {
        "traffic_shifted",
        "analysis_recorded",
        "rolled_back",
        "rollout_paused",
        "rollout_succeeded",
        "awaiting_approval",
        "rollout_aborted",
    }
)


class ScenarioSource(MetricsSource, Protocol):
    """A metrics source that plays scenarios: the candidate's, and the replaced version's (``None``: healthy)."""

    scenario: Scenario
    baseline: Scenario | None


@attrs.frozen
class SimulationResult:
    outcome: str
    steps: tuple[dict[str, Any], ...]
    events: tuple[Event, ...]
    virtual_seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True,
            "outcome": self.outcome,
            "steps": list(self.steps),
            "events": [event_shown(e) for e in self.events],
            "virtual_seconds": self.virtual_seconds,
        }


def run_simulation(
    service_: PipelineService,
    clock: AdvancingClock,
    metrics: ScenarioSource,
    *,
    service: str,
    environment: str,
    scenario: Scenario,
    strategy: StrategyKind | None = None,
    version: str = "2.0.0",
    baseline: str = "1.0.0",
    human_approvals: bool = True,
    current_scenario: Scenario | None = None,
    rollout_start: datetime | None = None,
) -> SimulationResult:
    """Release *version* of *service* into *environment* (after *baseline* serves it), judged by *scenario*,
    through *service_*'s ports, with *clock* passing the time and *metrics* playing the scenarios.

    *current_scenario* is how the version it replaces behaves meanwhile, for criteria relative to it
    (default: healthy); a replay passes what Prometheus recorded of it, and *rollout_start* (naive
    UTC), the time the recorded release began, so that the events carry the record's times.

    The environments before it are passed by the book first (their suites recorded as passed, their
    approvals given by scripted approvers), so that only *environment*'s rollout is under test. With
    *human_approvals* false, nobody passes the rollout's own manual gates: it ends ``paused`` there. The people it
    acts with are verified by no token (:func:`simulated_identity`): *service_* counts their approvals as such.
    """
    service_.simulated_identities = True
    service_.proofs = SimulatedProofs()
    platform = service_.platform
    target = platform.promotion_order.index(platform.environment(environment).name)
    for release, kind in ((baseline, None), (version, strategy)):
        for index, env in enumerate(platform.promotion_order[: target + 1]):
            last = index == target
            if last and release == version:
                if rollout_start is not None and rollout_start > clock.now():
                    clock.advance(rollout_start - clock.now())
                metrics.scenario, metrics.baseline = scenario, current_scenario
            else:
                metrics.scenario, metrics.baseline = SCENARIOS["healthy"], None
            _enter(service_, platform, service, release, env, kind if last and release == version else None)
            _evidence(service_, platform, service, release, env)
            outcome = service_.watch(service, env, actor="findly-sim", wait=clock.advance, max_steps=10_000)
            if human_approvals or release != version or not last:
                outcome = _human_gates(service_, platform, service, release, env, clock, outcome)
            if not last:
                for suite in platform.environment(env).tests:
                    service_.record_test(service, release, env, suite, True, actor="ci")
            if outcome.phase is not Phase.SUCCEEDED:
                break
    events = service_.history(service)
    starts = [
        i
        for i, e in enumerate(events)
        if isinstance(e, RolloutStarted) and e.version == version and e.environment == environment
    ]
    mine = tuple(events[starts[-1] :]) if starts else ()  # the rollout under test, from its start
    steps = tuple(
        {
            "at": e.at.isoformat(),
            "type": e.type,
            **({"weight": e.weight} if isinstance(e, TrafficShifted) else {}),
            **({"verdict": e.verdict.value} if isinstance(e, AnalysisRecorded) else {}),
            **({"reason": e.reason} if e.reason else {}),
        }
        for e in mine
        if e.type in _SHOWN
    )
    phase = service_.pipeline(service).environments[environment].phase
    outcome_name = {Phase.SUCCEEDED: "succeeded", Phase.ROLLED_BACK: "rolled_back", Phase.ABORTED: "rolled_back"}.get(
        phase, "paused"
    )
    seconds = (mine[-1].at - mine[0].at).total_seconds() if mine else 0.0
    return SimulationResult(outcome_name, steps, mine, seconds)


def _enter(  # noqa: PLR0917 - a private step of simulate
    service_: PipelineService, platform: Platform, service: str, version: str, env: str, kind: StrategyKind | None
) -> None:
    """Deploy, with the scripted approvals a promotion needs."""
    requester = "release-bot"

    def request() -> None:
        identity = simulated_identity(platform, env, requester, service_.clock.now())
        service_.deploy(service, version, env, actor=requester, strategy=kind, identity=identity)

    try:
        request()
        return
    except PolicyRefusedError as refused:
        if refused.refusal.rule != "approvals":
            raise
    for person in _approvers(platform, env, exclude=requester):
        service_.approve(
            service,
            version,
            env,
            actor=person,
            identity=simulated_identity(platform, env, person, service_.clock.now()),
        )
    request()


def _evidence(service_: PipelineService, platform: Platform, service: str, version: str, env: str) -> None:
    """The suites a blue-green rollout validates on (smoke and performance tests): recorded as passed."""
    rollout = service_.pipeline(service).environments[env].rollout
    if rollout is None or not rollout.phase.active:
        return
    strategy = platform.strategy_for(env, rollout.strategy)
    steps = strategy.validation_steps if isinstance(strategy, BlueGreenStrategy) else ()
    for step in steps:
        if step.evidence is not None:
            service_.record_test(service, version, env, step.evidence, True, actor="ci")


_RUNS = itertools.count(1)


def simulated_identity(
    platform: Platform, environment: str, person: str, at: datetime | None = None
) -> VerifiedIdentity | None:
    """Who *person* would be in *environment* if verified: an identity from the first repository, workflow, ref and
    GitHub environment its policy lists (issuer ``simulated``, a run of its own), proven by a simulated token issued
    at *at* (the simulation's time) that only a simulation's verifier accepts (:class:`SimulatedProofs`) — or
    ``None`` where the environment takes names. Simulations ask what a policy does with people who may act, not
    whether a token verifies."""
    policy = platform.environment(environment).identity
    if not policy.verified:
        return None
    ids = {login.casefold(): user_id for group in platform.approver_groups or () for login, user_id in group.ids}
    workflow = policy.workflows[0] if policy.workflows else ".github/workflows/release.yml"
    repository = (
        policy.repositories[0]
        if policy.repositories
        else "/".join(workflow.split("/")[:2])
        if not workflow.startswith(".github/")
        else "simulated/repository"
    )
    ref = policy.refs[0] if policy.refs else "refs/heads/main"
    run = next(_RUNS)
    workflow_ref = f"{repository}/{workflow}@{ref}" if workflow.startswith(".github/") else f"{workflow}@{ref}"
    job = policy.job_workflows[0] if policy.job_workflows else ""  # the job of the reusable workflow it requires
    job = f"{repository}/{job}" if job.startswith(".github/") else job
    identity = VerifiedIdentity(
        login=person,
        user_id=ids.get(person.casefold(), str(900_000_000 + sum(map(ord, person.casefold())))),
        repository=repository,
        ref=ref,
        workflow_ref=workflow_ref,
        run_id=str(run),
        environment=policy.github_environments[0] if policy.github_environments else "",
        issuer=SIMULATED_ISSUER,
        token_id=f"simulated-{run}",
        job_workflow_ref=(job if "@" in job else f"{job}@{ref}") if job else workflow_ref,
        repository_id=policy.repository_ids[0] if policy.repository_ids else "",
        event_name=policy.events[0] if policy.events else "workflow_dispatch",
    )
    return attrs.evolve(identity, token=_simulated_token(identity, at or _EPOCH))


_EPOCH = datetime(1970, 1, 1)
_SIMULATED = "simulated:"


def _simulated_token(identity: VerifiedIdentity, at: datetime) -> str:
    """A simulated proof: what a token would state — the identity and its issue time — as text, signed by no one."""
    claims = {field.name: getattr(identity, field.name) for field in attrs.fields(VerifiedIdentity)}
    claims.pop("token")
    text = json.dumps({**claims, "iat": at.isoformat()}, sort_keys=True)
    return _SIMULATED + base64.urlsafe_b64encode(text.encode()).decode()


@attrs.define
class SimulatedProofs:
    """The ``ProofVerifier`` of a simulation (``simulate``, ``demo``): it accepts the simulation's own proofs — of
    issuer ``simulated`` (:data:`SIMULATED_ISSUER`), made by :func:`simulated_identity` — and nothing else. No real
    verifier ever accepts one: a simulation's approvals count in it alone."""

    def verify_proof(self, check: ProofCheck) -> Proven | Unproven:
        if check.issuer != SIMULATED_ISSUER or not check.token.startswith(_SIMULATED):
            return Unproven(f"not a simulated proof of {SIMULATED_ISSUER}")
        try:
            claims = json.loads(base64.urlsafe_b64decode(check.token.removeprefix(_SIMULATED)))
            issued = datetime.fromisoformat(claims.pop("iat"))
            identity = VerifiedIdentity(**claims, token=check.token)
        except (ValueError, TypeError, KeyError) as exc:
            return Unproven(f"not a simulated proof: {exc}")
        except RecursionError:
            return Unproven("not a simulated proof: nested too deeply")
        if identity.issuer != SIMULATED_ISSUER:
            return Unproven(f"not a simulated proof of {SIMULATED_ISSUER}")
        return Proven(identity, issued)


def _approvers(platform: Platform, env: str, *, exclude: str) -> list[str]:
    chosen: list[str] = []
    for group in platform.environment(env).approvers:
        for member in platform.approver_group(group).members if platform.approver_groups else ():
            if member != exclude and member not in chosen:
                chosen.append(member)
                break
    return chosen


def _human_gates(  # noqa: PLR0917 - a private step of simulate
    service_: PipelineService,
    platform: Platform,
    service: str,
    version: str,
    env: str,
    clock: AdvancingClock,
    outcome: Outcome,
) -> Outcome:
    """Scripted people pass blue-green's manual validation; suites it waits for are recorded as passed."""
    for _ in range(20):
        rollout = service_.pipeline(service).environments[env].rollout
        if rollout is None or outcome.phase not in (Phase.AWAITING_APPROVAL, Phase.PROGRESSING):
            return outcome
        if outcome.phase is Phase.AWAITING_APPROVAL:
            for person in _approvers(platform, env, exclude=rollout.started_by):
                try:
                    identity = simulated_identity(platform, env, person, service_.clock.now())
                    service_.approve(service, version, env, actor=person, identity=identity)
                    break
                except PolicyRefusedError:
                    continue
        outcome = service_.watch(service, env, actor="findly-sim", wait=clock.advance, max_steps=10_000)
    return outcome
