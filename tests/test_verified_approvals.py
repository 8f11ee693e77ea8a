"""Approvals people can trust (issue 15), as pure rules: where an environment asks for verified identities a bare
name is refused (``verified-identity``), an identity from another repository, workflow, ref or GitHub environment too
(``identity-source``); members given with their account id are that account whatever its login; self-approval and
distinct approvers are judged on the id; a run approves once, and a re-run attempt never (``approval-replay``); the
approval event carries the evidence, through the codec and snapshots."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra import load_platform
from findly_infra.application.codec import event_from_dict, event_to_dict
from findly_infra.application.snapshots import from_snapshot, snapshot_of
from findly_infra.domain import (
    ApprovalGranted,
    ApproverGroup,
    Decision,
    DeploymentPipeline,
    IdentityClaimsError,
    IdentityPolicy,
    OidcSettings,
    Verdict,
    VerifiedIdentity,
    identity_from_claims,
)
from findly_infra.domain.errors import InvariantError
from findly_infra.testing.proofs import signed, vouched
from findly_infra.testing.strategies import verified_identities

from .conftest import EXAMPLE

T0 = datetime(2026, 11, 26, 9)
EXAMPLE_PLATFORM = load_platform(EXAMPLE)
POLICY = IdentityPolicy(
    verified=True,
    repositories=("findly-now/services",),
    workflows=(".github/workflows/release.yml",),
    refs=("refs/heads/main",),
)
PINNED = {"alice": "1001", "carol": "3003", "dave": "4004"}  # bob is given by login only
PLATFORM = attrs.evolve(
    EXAMPLE_PLATFORM,
    environments=tuple(
        attrs.evolve(env, identity=POLICY) if env.name == "production" else env for env in EXAMPLE_PLATFORM.environments
    ),
    approver_groups=(
        ApproverGroup("devops-team", ("alice", "bob"), (("alice", "1001"),)),
        ApproverGroup("security-team", ("carol", "dave"), (("carol", "3003"), ("dave", "4004"))),
    ),
)
ISSUER = "https://token.actions.githubusercontent.com"
ERIN = "5005"
SERVICES_ID = "74"  # findly-now/services' repository id


def person(
    login: str,
    user_id: str,
    run: int = 1,
    *,
    repository: str = "findly-now/services",
    workflow: str = ".github/workflows/release.yml",
    ref: str = "refs/heads/main",
    attempt: int = 1,
    environment: str = "",
    read_at: str | None = None,
    job: str | None = None,
    repository_id: str = SERVICES_ID,
) -> VerifiedIdentity:
    """*login*'s identity as GitHub's token states it: the workflow file read at *read_at* (the run's *ref* unless
    given), the job of *job* (``owner/repo/.github/workflows/FILE@REF``; the run's workflow unless given)."""
    workflow_ref = f"{repository}/{workflow}@{read_at or ref}"
    return signed(  # with a token of its own, which the pipelines here are judged as having verified (vouched)
        VerifiedIdentity(
            login=login,
            user_id=user_id,
            repository=repository,
            ref=ref,
            workflow_ref=workflow_ref,
            run_id=str(run),
            environment=environment,
            issuer=ISSUER,
            token_id=f"token-{login}-{run}-{attempt}",
            run_attempt=str(attempt),
            job_workflow_ref=job or workflow_ref,
            repository_id=repository_id,
            repository_owner_id="65",
        )
    )


def apply(pipeline: DeploymentPipeline, decision: Decision) -> DeploymentPipeline:
    assert decision.accepted, decision.refusal
    return vouched(pipeline.apply_all(decision.events), now=T0)


def requested(version: str = "1.0.0", *, by: VerifiedIdentity | None = None) -> DeploymentPipeline:
    """*version* through development and staging (names are enough there), its production promotion asked for by
    *by* (erin, verified, unless given)."""
    by = by or person("erin", ERIN, run=900)
    pipeline = DeploymentPipeline.start(PLATFORM, "fn-posts")
    for env in ("development", "staging"):
        pipeline = apply(pipeline, pipeline.deploy(version, env, actor="ci", at=T0))
        pipeline = apply(pipeline, pipeline.analyze(env, Verdict.PASS, actor="findly", at=T0 + timedelta(minutes=5)))
        for suite in PLATFORM.environment(env).tests:
            pipeline = apply(pipeline, pipeline.record_test(version, env, suite, True, actor="ci", at=T0))
    refused = pipeline.deploy(version, "production", actor=by.login, at=T0, identity=by)
    assert refused.refusal is not None
    assert refused.refusal.rule == "approvals", refused.refusal
    return vouched(pipeline.apply_all(refused.events), now=T0)


PENDING = requested()
NAMES = st.sampled_from(["alice", "Alice", "bob", "BOB", "carol", "dave", "erin", "mallory"])
IDS = st.sampled_from(["1001", "2002", "3003", "4004", ERIN, "9999"])


@given(NAMES, st.sampled_from(["devops-team", "security-team", None]))
def test_a_name_is_refused_where_verified_identities_are_asked_for(actor: str, group: str | None) -> None:
    approval = PENDING.approve("1.0.0", "production", actor=actor, at=T0, group=group)
    promotion = PENDING.deploy("1.0.0", "production", actor=actor, at=T0)
    for decision in (approval, promotion):
        assert decision.refusal is not None
        assert decision.refusal.rule == "verified-identity"
        assert "not a proof" in decision.refusal.message
        assert decision.events == ()  # nothing recorded: not even the request
    # the same name, verified, is judged on: carol approves
    granted = PENDING.approve("1.0.0", "production", actor="carol", at=T0, identity=person("carol", "3003"))
    assert granted.accepted


@given(
    st.sampled_from(["findly-now/services", "FINDLY-NOW/Services", "findly-now/fork", "mallory/services"]),
    st.sampled_from([".github/workflows/release.yml", ".github/workflows/ci.yml"]),
    st.sampled_from(["refs/heads/main", "refs/heads/feature", "refs/pull/7/merge"]),
)
def test_an_identity_from_another_place_is_refused(repository: str, workflow: str, ref: str) -> None:
    identity = person("carol", "3003", repository=repository, workflow=workflow, ref=ref)
    decision = PENDING.approve("1.0.0", "production", actor="carol", at=T0, identity=identity)
    wrong = {
        "the run is in": repository.casefold() != "findly-now/services",
        "the workflow is": workflow != ".github/workflows/release.yml",
        "ran on": ref != "refs/heads/main",
    }
    if not any(wrong.values()):
        assert decision.accepted, decision.refusal
        assert decision.events[0].identity == identity  # type: ignore[attr-defined]
        return
    assert decision.refusal is not None
    assert decision.refusal.rule == "identity-source"
    first = next(claim for claim, bad in wrong.items() if bad)  # the first claim that does not fit is named
    assert first in decision.refusal.message
    assert decision.events == ()


@given(NAMES, IDS)
def test_members_given_with_an_id_are_that_account_whatever_its_login(login: str, user_id: str) -> None:
    decision = PENDING.approve("1.0.0", "production", actor=login, at=T0, identity=person(login, user_id))
    # alice, carol and dave are their ids (renamed or not); bob is his login (the file gives no id)
    member = user_id in PINNED.values() or login.casefold() == "bob"
    if member and user_id == ERIN:  # erin's account, who asked, now called bob: erin still
        assert decision.refusal is not None
        assert decision.refusal.rule == "self-approval"
    elif member:
        assert decision.accepted, decision.refusal
    else:
        assert decision.refusal is not None
        assert decision.refusal.rule == "approver-membership"
        if login.casefold() in PINNED:  # a pinned login on another account: said so
            assert f"the id {PINNED[login.casefold()]}" in decision.refusal.message


@given(NAMES, st.sampled_from(["1001", "3003", "4004", "7777"]), NAMES, st.sampled_from(["1001", "3003", "4004"]))
def test_self_approval_is_judged_on_the_account_not_the_login(
    requester: str, requester_id: str, approver: str, approver_id: str
) -> None:
    pipeline = requested(by=person(requester, requester_id, run=900))
    decision = pipeline.approve("1.0.0", "production", actor=approver, at=T0, identity=person(approver, approver_id))
    if requester_id == approver_id:  # the same account, whatever either login says
        assert decision.refusal is not None
        assert decision.refusal.rule == "self-approval"
    else:  # another account, even under the requester's login (renamed and taken)
        assert decision.accepted, decision.refusal


def test_the_same_account_from_another_run_is_a_retry_not_a_second_vote() -> None:
    pipeline = requested()
    first = apply(
        pipeline, pipeline.approve("1.0.0", "production", actor="carol", at=T0, identity=person("carol", "3003"))
    )
    again = first.approve("1.0.0", "production", actor="Carol", at=T0, identity=person("Carol", "3003", run=2))
    assert again.already is not None  # the same account again: the approval stands (a second run is no second vote)
    other = first.approve("1.0.0", "production", actor="dave", at=T0, identity=person("dave", "4004", run=3))
    assert other.refusal is not None
    assert other.refusal.rule == "distinct-approvers"  # security-team has approved; dave is of no other group


approvals = st.lists(
    st.tuples(
        st.sampled_from([("alice", "1001"), ("bob", "2002"), ("carol", "3003"), ("dave", "4004")]),
        st.integers(1, 4),  # the run
        st.sampled_from(["1.0.0", "1.1.0"]),
        st.sampled_from([1, 1, 1, 2]),  # the attempt
        st.booleans(),  # whether 1.1.0 is asked for first
    ),
    max_size=12,
)


@given(approvals)
def test_a_run_approves_once_and_a_rerun_never(commands: list[tuple[tuple[str, str], int, str, int, bool]]) -> None:
    pipeline = requested()
    used: dict[int, tuple[str, str]] = {}  # run -> (version, approver) it approved
    recorded: list[object] = []
    for (login, user_id), run, version, attempt, newer in commands:
        pending = pipeline.environments["production"].requested
        if newer and pending is not None and pending.version != "1.1.0":  # a newer version asked for
            erin = person("erin", ERIN, 901)
            pipeline = vouched(
                pipeline.apply_all(pipeline.deploy("1.1.0", "production", actor="erin", at=T0, identity=erin).events),
                now=T0,
            )
        identity = person(login, user_id, run, attempt=attempt)
        decision = pipeline.approve(version, "production", actor=login, at=T0, identity=identity)
        if attempt != 1:
            assert decision.refusal is not None
            assert decision.refusal.rule == "approval-replay"
            assert "re-run" in decision.refusal.message
        elif run in used and decision.already is None:
            assert decision.refusal is not None
            assert decision.refusal.rule == "approval-replay", (run, used, decision)
        if decision.events:
            assert run not in used
            used[run] = (version, login)
        pipeline = vouched(pipeline.apply_all(decision.events), now=T0)
        recorded.extend(decision.events)
    granted = [e for e in recorded if isinstance(e, ApprovalGranted)]
    runs = [e.identity.run_id for e in granted if e.identity]
    assert len(runs) == len(set(runs))  # no run approved twice, of any version


def test_the_approval_records_its_evidence_through_the_codec_and_snapshots() -> None:
    carol = person("carol", "3003", run=77, environment="production")
    decision = PENDING.approve("1.0.0", "production", actor="carol", at=T0, identity=carol)
    (granted,) = decision.events
    assert isinstance(granted, ApprovalGranted)
    assert granted.identity == carol
    body = event_to_dict(granted)
    assert body["identity"] == {
        "login": "carol",
        "user_id": "3003",
        "repository": "findly-now/services",
        "ref": "refs/heads/main",
        "workflow_ref": "findly-now/services/.github/workflows/release.yml@refs/heads/main",
        "run_id": "77",
        "environment": "production",
        "issuer": ISSUER,
        "token_id": "token-carol-77-1",
        "run_attempt": "1",
        "job_workflow_ref": "findly-now/services/.github/workflows/release.yml@refs/heads/main",
        "repository_id": SERVICES_ID,
        "repository_owner_id": "65",
        "event_name": "",
        "sha": "",
        "workflow_sha": "",
        "token": carol.token,  # the proof itself, kept (and checked again whenever the approval is counted)
    }
    assert event_from_dict(body) == granted
    # evidence recorded before the job's workflow and the ids were read: they are empty, the job's workflow the run's
    added = {"job_workflow_ref", "repository_id", "repository_owner_id", "event_name", "sha", "workflow_sha", "token"}
    older = {**body, "identity": {k: v for k, v in body["identity"].items() if k not in added}}
    decoded = event_from_dict(older).identity  # type: ignore[attr-defined]
    assert (decoded.job_workflow_ref, decoded.repository_id, decoded.job_workflow) == ("", "", decoded.workflow_ref)
    assert POLICY.refusal(decoded) is None  # the policy here pins no repository id
    approved = PENDING.apply(granted)
    restored = from_snapshot(PLATFORM, "fn-posts", snapshot_of(approved))
    assert restored is not None
    assert restored.environments == approved.environments  # the run that approved is remembered
    replayed = restored.approve("1.0.0", "production", actor="alice", at=T0, identity=person("alice", "1001", run=77))
    assert replayed.refusal is not None
    assert replayed.refusal.rule == "approval-replay"


def test_an_environment_that_takes_names_records_an_identity_when_there_is_one() -> None:
    pipeline = DeploymentPipeline.start(PLATFORM, "fn-posts")
    dave = person("dave", "4004", run=5)
    decision = pipeline.deploy("1.0.0", "development", actor="dave", at=T0, identity=dave)
    assert decision.accepted
    assert decision.events[0].identity == dave  # type: ignore[attr-defined]
    assert pipeline.apply_all(decision.events).environments["development"].rollout.started_by_id == "4004"  # type: ignore[union-attr]
    mismatch = pipeline.deploy("1.0.0", "development", actor="mallory", at=T0, identity=dave)
    assert mismatch.refusal is not None
    assert mismatch.refusal.rule == "verified-identity"  # the actor must be who the token proves


@given(
    verified_identities(
        repositories=st.sampled_from(["findly-now/services", "Findly-Now/Services", "findly-now/other", "mallory/x"]),
        workflows=st.sampled_from([".github/workflows/release.yml", ".github/workflows/ci.yml"]),
    ),
    st.sampled_from([(), ("production",), ("production", "staging")]),
    st.booleans(),
)
def test_a_policy_accepts_exactly_the_identities_from_the_places_it_lists(
    identity: VerifiedIdentity, environments: tuple[str, ...], absolute: bool
) -> None:
    workflow = "findly-now/services/.github/workflows/release.yml" if absolute else ".github/workflows/release.yml"
    policy = IdentityPolicy(
        verified=True,
        repositories=("findly-now/services",),
        workflows=(workflow,),
        refs=("refs/heads/main",),
        github_environments=environments,
    )
    expected = (
        identity.repository.casefold() == "findly-now/services"
        and identity.workflow.casefold() == "findly-now/services/.github/workflows/release.yml"
        and identity.ref == "refs/heads/main"
        and (not environments or identity.environment in environments)
    )
    assert (policy.refusal(identity) is None) == expected, policy.refusal(identity)


MAIN, EVIL = "refs/heads/main", "refs/heads/evil"
AUTOMATION = "findly-now/automation/.github/workflows/approve.yml"  # a reusable workflow of another repository
LOCAL = "findly-now/services/.github/workflows/approve.yml"  # a reusable workflow of the run's repository


@given(
    st.sampled_from([MAIN, EVIL]),  # the run's ref (ref)
    st.sampled_from([MAIN, EVIL]),  # the ref the workflow file was read at (workflow_ref's @ref)
    st.sampled_from([None, f"{LOCAL}@{MAIN}", f"{LOCAL}@{EVIL}", f"{AUTOMATION}@refs/tags/v1"]),  # job_workflow_ref
)
def test_refs_hold_the_run_its_workflow_file_and_a_job_workflow_of_its_repository(
    ref: str, read_at: str, job: str | None
) -> None:
    """``refs`` constrains the ``ref`` claim, the ref of ``workflow_ref`` and — for a job's workflow of the run's own
    repository — the ref of ``job_workflow_ref``; a reusable workflow of another repository runs at a ref of that
    repository, which ``refs`` does not name (``job_workflows`` pins it)."""
    identity = person("carol", "3003", ref=ref, read_at=read_at, job=job)
    refused = POLICY.refusal(identity)
    job_ref = (job or f"x@{read_at}").rpartition("@")[2]
    own_job = job is None or job.startswith(LOCAL)
    if ref != MAIN:
        assert refused is not None
        assert "ran on refs/heads/evil" in refused
    elif read_at != MAIN:
        assert refused is not None
        assert "read at refs/heads/evil" in refused
        assert "workflow_ref" in refused
    elif own_job and job_ref != MAIN:
        assert refused is not None
        assert "job_workflow_ref" in refused
    else:
        assert refused is None, refused
    decision = PENDING.approve("1.0.0", "production", actor="carol", at=T0, identity=identity)
    assert decision.accepted == (refused is None)
    if refused is not None:
        assert decision.refusal is not None
        assert decision.refusal.rule == "identity-source"


@given(
    st.sampled_from(["findly-now/services", "Findly-Now/SERVICES"]),
    st.sampled_from(["release.yml", "RELEASE.yml", "Release.yml", "release.yaml"]),
    st.booleans(),
    st.booleans(),
)
def test_workflow_files_compare_exactly_and_their_repository_without_case(
    repository: str, file: str, absolute: bool, as_job: bool
) -> None:
    """Paths in a repository are case-sensitive on GitHub (``RELEASE.yml`` is another file); owners and repositories
    are not. The same for ``workflows`` (``workflow_ref``) and ``job_workflows`` (``job_workflow_ref``)."""
    entry = ("FINDLY-NOW/services/" if absolute else "") + ".github/workflows/release.yml"
    workflow = f".github/workflows/{file}"
    if as_job:
        policy = attrs.evolve(POLICY, workflows=(), job_workflows=(entry,))
        identity = person("carol", "3003", repository=repository, job=f"{repository}/{workflow}@{MAIN}")
    else:
        policy = attrs.evolve(POLICY, workflows=(entry,))
        identity = person("carol", "3003", repository=repository, workflow=workflow)
    refused = policy.refusal(identity)
    assert (refused is None) == (file == "release.yml"), refused
    if refused is not None:
        assert ("job_workflow_ref" in refused) == as_job
        assert file in refused


@given(
    st.sampled_from([SERVICES_ID, "999", ""]),  # the token's repository_id ("": evidence recorded before it was read)
    st.sampled_from([(), (SERVICES_ID,), ("555", SERVICES_ID), ("555",)]),
)
def test_a_repository_pinned_by_id_is_that_repository_and_not_one_recreated_under_its_name(
    repository_id: str, ids: tuple[str, ...]
) -> None:
    policy = attrs.evolve(POLICY, repository_ids=ids)
    refused = policy.refusal(person("carol", "3003", repository_id=repository_id))
    assert (refused is None) == (not ids or repository_id in ids), refused
    if refused is not None:
        assert "repository_id" in refused
        assert "re-created" in refused


JOBS = [
    f"{AUTOMATION}@refs/tags/v1",
    f"{AUTOMATION}@refs/heads/evil",
    f"{AUTOMATION.replace('approve', 'other')}@refs/tags/v1",
    f"{LOCAL}@{MAIN}",
    f"{LOCAL}@{EVIL}",
    None,  # a job of the run's workflow itself (job_workflow_ref = workflow_ref)
]
ENTRIES = [
    AUTOMATION,
    f"{AUTOMATION}@refs/tags/v1",
    ".github/workflows/approve.yml",
    f"{LOCAL}@{EVIL}",
    "findly-now/services/.github/workflows/release.yml",
]


@given(st.sampled_from(JOBS), st.lists(st.sampled_from(ENTRIES), unique=True, max_size=3))
def test_a_job_counts_where_its_workflow_is_listed_at_a_ref_it_pins(job: str | None, entries: list[str]) -> None:
    """``job_workflows`` names the workflow whose job acts (``job_workflow_ref``): with ``@REF`` that ref exactly,
    without it any ref — except that a workflow of the run's repository must still be at one of ``refs``."""
    policy = attrs.evolve(POLICY, job_workflows=tuple(entries))
    acting = job or f"findly-now/services/.github/workflows/release.yml@{MAIN}"
    path, _, ref = acting.partition("@")
    naming = [e for e in entries if e.partition("@")[0] in (path, path.replace("findly-now/services/", ""))]
    pins = {e.partition("@")[2] or None for e in naming}
    if entries and not naming:
        expected = False
    elif naming and None not in pins:
        expected = ref in pins
    else:
        expected = not path.startswith("findly-now/services/") or ref == MAIN
    refused = policy.refusal(person("carol", "3003", job=job))
    assert (refused is None) == expected, (job, entries, refused)
    if refused is not None:
        assert "job_workflow_ref" in refused


CLAIMS = {
    "actor": "carol",
    "actor_id": "3003",
    "repository": "findly-now/services",
    "ref": MAIN,
    "workflow_ref": f"findly-now/services/.github/workflows/release.yml@{MAIN}",
    "run_id": "2011",
    "run_attempt": "1",
    "iss": ISSUER,
    "jti": "token-1",
}


@given(
    st.sampled_from([None, f"{AUTOMATION}@refs/tags/v1", 7]),
    st.sampled_from([None, SERVICES_ID, "abc", 74]),
    st.sampled_from([None, "65", "-1"]),
)
def test_the_job_workflow_and_the_repository_ids_are_read_from_the_claims(
    job: object, repository_id: object, owner_id: object
) -> None:
    claims: dict[str, object] = dict(CLAIMS)
    for name, value in (("job_workflow_ref", job), ("repository_id", repository_id), ("repository_owner_id", owner_id)):
        if value is not None:
            claims[name] = value
    malformed = [
        name
        for name, value in (
            ("repository_id", repository_id),
            ("repository_owner_id", owner_id),
            ("job_workflow_ref", job),
        )
        if value is not None and not (isinstance(value, str) and (name == "job_workflow_ref" or value.isdigit()))
    ]
    if malformed:
        with pytest.raises(IdentityClaimsError, match=malformed[0]):
            identity_from_claims(claims)
        return
    identity = identity_from_claims(claims)
    assert identity.job_workflow == (job or CLAIMS["workflow_ref"])
    assert (identity.repository_id, identity.repository_owner_id) == (repository_id or "", owner_id or "")
    if job is not None:
        assert f"(job of {job})" in identity.describe()


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (lambda: IdentityPolicy(repositories=("a/b",)), "set verified: true"),
        (lambda: IdentityPolicy(verified=True, workflows=(".github/workflows/x.yml",)), "names no repository"),
        (lambda: IdentityPolicy(verified=True, workflows=("a/b/ci.yml",)), "owner/repo/.github/workflows/FILE"),
        (lambda: IdentityPolicy(verified=True, workflows=("a/b/.github/workflows/x.yml@main",)), "without @ref"),
        (lambda: IdentityPolicy(verified=True, repositories=("a/b", "A/B")), "listed twice"),
        (lambda: IdentityPolicy(verified=True, refs=(" refs/heads/main",)), "cannot be blank or hold spaces"),
        (lambda: IdentityPolicy(repository_ids=("74",)), "set verified: true"),
        (lambda: IdentityPolicy(verified=True, repository_ids=("findly-now/services",)), "GitHub's number"),
        (lambda: IdentityPolicy(verified=True, repository_ids=("74", "74")), "listed twice"),
        (lambda: IdentityPolicy(verified=True, job_workflows=(".github/workflows/x.yml",)), "names no repository"),
        (lambda: IdentityPolicy(verified=True, job_workflows=("a/b/.github/workflows/x.yml@",)), r"FILE\[@REF\]"),
        (lambda: IdentityPolicy(verified=True, job_workflows=("a/b/x.yml@refs/heads/main",)), r"FILE\[@REF\]"),
        (lambda: IdentityPolicy(verified=True, workflows=("a/b/.github/workflows/",)), "owner/repo"),
        (
            lambda: IdentityPolicy(
                verified=True, workflows=("a/b/.github/workflows/x.yml", "A/B/.github/workflows/x.yml")
            ),
            "listed twice",
        ),
        (lambda: OidcSettings(issuer="http://issuer.example.com"), "https URL"),
        (lambda: OidcSettings(audience="two words"), "one word"),
        (lambda: ApproverGroup("ops", ("alice", "Alice")), "listed twice"),
        (lambda: ApproverGroup("ops", ("аlice",)), "mixes scripts"),
        (lambda: ApproverGroup("ops", ("alice",), (("bob", "1"),)), "not a member"),
        (lambda: ApproverGroup("ops", ("alice", "bob"), (("alice", "1"), ("bob", "1"))), "given to two members"),
        (lambda: ApproverGroup("ops", ("alice",), (("alice", "x1"),)), "GitHub's number"),
    ],
)
def test_a_policy_or_group_that_cannot_mean_what_it_says_is_refused(policy: object, message: str) -> None:
    with pytest.raises(InvariantError, match=message):
        policy()  # type: ignore[operator]


def _with_identity(lines: str) -> str:
    """The example platform file with production's ``identity:`` made of *lines*."""
    from findly_infra.examples import example_platform_text

    text = example_platform_text()
    at = text.index("    deployment_strategy:", text.index("  production:\n"))
    return text[:at] + "    identity:\n      verified: true\n" + lines + text[at:]


FILE_POLICY = """      repositories: [findly-now/services]
      repository_ids: [74]
      workflows: [.github/workflows/release.yml]
      refs: [refs/heads/main]
      job_workflows: [findly-now/automation/.github/workflows/approve.yml@refs/tags/v1]
"""


def test_the_file_pins_repositories_by_id_and_names_the_jobs_workflows() -> None:
    from findly_infra import load_platform_text, validate_platform_text
    from findly_infra.config.loader import dump_platform

    report = validate_platform_text(_with_identity(FILE_POLICY))
    assert report.ok, report.errors
    assert report.platform is not None
    assert report.platform.environment("production").identity == IdentityPolicy(
        verified=True,
        repositories=("findly-now/services",),
        repository_ids=("74",),
        workflows=(".github/workflows/release.yml",),
        refs=("refs/heads/main",),
        job_workflows=("findly-now/automation/.github/workflows/approve.yml@refs/tags/v1",),
    )
    assert not [w for w in report.warnings if w.rule == "identity-scope"], report.warnings
    assert load_platform_text(dump_platform(report.platform)) == report.platform
    # by name only: validate says what a re-created repository would do, and how to pin it
    unpinned = validate_platform_text(_with_identity(FILE_POLICY.replace("      repository_ids: [74]\n", "")))
    assert unpinned.ok
    (warning,) = [w for w in unpinned.warnings if w.rule == "identity-scope"]
    assert warning.path == "environments.production.identity"
    assert "re-created" in warning.message
    assert "repository_ids" in warning.message


@pytest.mark.parametrize(
    ("lines", "path", "message"),
    [
        ("      repositories: [a/b]\n      repository_ids: [a/b]\n", "repository_ids[0]", "repository id"),
        ("      repositories: [a/b]\n      repository_ids: [true]\n", "repository_ids[0]", "repository id"),
        ("      repositories: [a/b]\n      repository_ids: 74\n", "repository_ids", "a list"),
        ("      job_workflows: [.github/workflows/x.yml]\n", "job_workflows[0]", "names no repository"),
        ("      job_workflows: [a/b/.github/workflows/x.yml@]\n", "job_workflows[0]", "FILE[@REF]"),
    ],
)
def test_an_identity_section_that_cannot_mean_what_it_says_names_its_place(lines: str, path: str, message: str) -> None:
    from findly_infra import validate_platform_text

    report = validate_platform_text(_with_identity(lines))
    assert not report.ok
    (error,) = report.errors
    assert error.path == f"environments.production.identity.{path}", error
    assert message in error.message


@given(
    st.sampled_from([(), ("74",)]),
    st.sampled_from(
        [(), (".github/workflows/approve.yml",), (f"{AUTOMATION}@refs/tags/v1",), (AUTOMATION,), (f"{LOCAL}@{EVIL}",)]
    ),
    st.booleans(),
)
def test_a_simulation_acts_from_a_place_the_policy_accepts(
    ids: tuple[str, ...], jobs: tuple[str, ...], absolute: bool
) -> None:
    """``simulate`` and ``demo`` ask what a policy does with the people who may act, so their simulated identities
    come from where the policy says: its repository (and id), workflow, ref and job's workflow."""
    from findly_infra.application.simulation import simulated_identity

    workflows = ("findly-now/services/.github/workflows/release.yml",) if absolute else POLICY.workflows
    policy = attrs.evolve(POLICY, repository_ids=ids, job_workflows=jobs, workflows=workflows)
    platform = attrs.evolve(
        PLATFORM,
        environments=tuple(
            attrs.evolve(env, identity=policy) if env.name == "production" else env for env in PLATFORM.environments
        ),
    )
    identity = simulated_identity(platform, "production", "carol")
    assert identity is not None
    assert policy.refusal(identity) is None, (policy, identity)
