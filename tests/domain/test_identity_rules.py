"""The rules of ``domain.identity``, pinned (issue 23): the identity a verified GitHub Actions token states (each
claim GitHub writes, https://docs.github.com/en/actions/reference/security/oidc, read or refused by name), the
identity policy's restrictions (how each list is written, what makes two entries one, and the refusal each check
gives, in the order they are checked), and the OIDC settings. Fast and in-process: they run for every mutant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.errors import InvariantError
from findly_infra.domain.identity import (
    GITHUB_ISSUER,
    IdentityClaimsError,
    IdentityPolicy,
    OidcSettings,
    VerifiedIdentity,
    identity_from_claims,
)

Refusal = tuple[str, str | None, int | str | None]


def refusal(make: Callable[..., object], *args: object, **kwargs: object) -> Refusal:
    """What ``make(*args, **kwargs)`` is refused with: the message, the field and the index it names."""
    with pytest.raises(InvariantError) as caught:
        make(*args, **kwargs)
    return caught.value.message, caught.value.field, caught.value.index


REPO = "findly/infra"
WORKFLOW = f"{REPO}/.github/workflows/release.yml"
ME = VerifiedIdentity(
    login="erin",
    user_id="42",
    repository=REPO,
    ref="refs/heads/main",
    workflow_ref=f"{WORKFLOW}@refs/heads/main",
    run_id="1001",
    environment="production",
    issuer=GITHUB_ISSUER,
    token_id="jti-1",
    repository_id="77",
    event_name="push",
)


def verified(**restrictions: Any) -> IdentityPolicy:
    return IdentityPolicy(verified=True, **restrictions)


# ---- the identity -------------------------------------------------------------------------------------------------


def test_an_identity_names_its_run_workflow_and_jobs_workflow() -> None:
    identity = attrs.evolve(ME, repository="Findly/Infra", workflow_ref=f"{WORKFLOW}@refs/heads/a@b")
    assert identity.run == f"{GITHUB_ISSUER}/findly/infra/1001"
    assert identity.workflow == WORKFLOW
    assert identity.job_workflow == f"{WORKFLOW}@refs/heads/a@b"
    called = attrs.evolve(ME, job_workflow_ref="other/lib/.github/workflows/deploy.yml@v1")
    assert called.job_workflow == "other/lib/.github/workflows/deploy.yml@v1"


def test_an_identity_is_described_with_its_attempt_and_the_job_of_another_workflow() -> None:
    assert ME.describe() == f"erin (id 42) via {WORKFLOW}@refs/heads/main run 1001"
    same_job = attrs.evolve(ME, job_workflow_ref=ME.workflow_ref, run_attempt="2")
    assert same_job.describe() == f"erin (id 42) via {WORKFLOW}@refs/heads/main run 1001 attempt 2"
    called = attrs.evolve(ME, job_workflow_ref="other/lib/.github/workflows/deploy.yml@v1")
    assert called.describe() == (
        f"erin (id 42) via {WORKFLOW}@refs/heads/main (job of other/lib/.github/workflows/deploy.yml@v1) run 1001"
    )


CLAIMS: dict[str, object] = {
    "actor": "erin",
    "actor_id": "42",
    "repository": REPO,
    "ref": "refs/heads/main",
    "workflow_ref": f"{WORKFLOW}@refs/heads/main",
    "run_id": "1001",
    "run_attempt": "3",
    "iss": GITHUB_ISSUER,
    "jti": "jti-1",
}


def test_the_identity_is_every_claim_github_writes() -> None:
    claims = {
        **CLAIMS,
        "environment": "production",
        "job_workflow_ref": "other/lib/.github/workflows/deploy.yml@v1",
        "repository_id": "77",
        "repository_owner_id": "78",
        "event_name": "workflow_dispatch",
        "sha": "a" * 40,
        "workflow_sha": "b" * 40,
    }
    assert identity_from_claims(claims, token="t.o.k") == VerifiedIdentity(
        login="erin",
        user_id="42",
        repository=REPO,
        ref="refs/heads/main",
        workflow_ref=f"{WORKFLOW}@refs/heads/main",
        run_id="1001",
        environment="production",
        issuer=GITHUB_ISSUER,
        token_id="jti-1",
        run_attempt="3",
        job_workflow_ref="other/lib/.github/workflows/deploy.yml@v1",
        repository_id="77",
        repository_owner_id="78",
        event_name="workflow_dispatch",
        sha="a" * 40,
        workflow_sha="b" * 40,
        token="t.o.k",
    )


def test_claims_that_may_be_missing_are_empty() -> None:
    assert identity_from_claims(CLAIMS).environment == ""
    identity = identity_from_claims({**CLAIMS, "environment": 7})
    assert (identity.environment, identity.job_workflow_ref, identity.repository_id) == ("", "", "")
    assert (identity.repository_owner_id, identity.event_name, identity.sha, identity.workflow_sha) == ("", "", "", "")
    assert identity.token == ""


@pytest.mark.parametrize("name", list(CLAIMS))
@pytest.mark.parametrize("value", [None, "", "  ", 5])
def test_a_required_claim_missing_or_empty_is_named(name: str, value: object) -> None:
    claims = {**CLAIMS, name: value} if value is not None else {k: v for k, v in CLAIMS.items() if k != name}
    with pytest.raises(IdentityClaimsError) as refused:
        identity_from_claims(claims)
    assert str(refused.value) == f"the token's {name!r} claim is missing or empty"


@pytest.mark.parametrize("name", ["actor_id", "run_id", "run_attempt", "repository_id", "repository_owner_id"])
def test_a_number_claim_that_is_not_digits_is_named(name: str) -> None:
    with pytest.raises(IdentityClaimsError) as refused:
        identity_from_claims({**CLAIMS, name: "12a"})
    assert str(refused.value) == f"the token's {name!r} claim is not a number, as GitHub writes it"
    if name.startswith("repository"):
        with pytest.raises(IdentityClaimsError):
            identity_from_claims({**CLAIMS, name: 12})


@pytest.mark.parametrize("name", ["job_workflow_ref", "event_name", "sha", "workflow_sha"])
def test_a_text_claim_that_is_not_text_is_named(name: str) -> None:
    with pytest.raises(IdentityClaimsError) as refused:
        identity_from_claims({**CLAIMS, name: 5})
    assert str(refused.value) == f"the token's {name!r} claim is not text, as GitHub writes it"


# ---- how a policy's lists are written ------------------------------------------------------------------------------

LISTS = ("repositories", "workflows", "refs", "job_workflows", "github_environments", "events")


def test_restrictions_restrict_verified_identities_only() -> None:
    for field in (*LISTS, "repository_ids"):
        value = {"workflows": (WORKFLOW,), "job_workflows": (WORKFLOW,), "repository_ids": ("1",)}.get(field, ("x",))
        assert refusal(IdentityPolicy, **{field: value}) == (
            "repositories, repository_ids, workflows, refs, job_workflows, github_environments and events restrict "
            "verified identities: set verified: true, or remove them",
            "verified",
            None,
        )
        assert getattr(verified(**{field: value}), field) == value


_WHAT = {
    "repositories": "a repository",
    "workflows": "a workflow",
    "refs": "a ref",
    "job_workflows": "a job's workflow",
    "github_environments": "a GitHub environment",
    "events": "an event",
}


@pytest.mark.parametrize("field", LISTS)
@pytest.mark.parametrize("value", ["", " x", "x ", "a b", "a\tb"])
def test_an_entry_is_one_word(field: str, value: str) -> None:
    assert refusal(verified, **{field: ("ok/ok", value)}) == (
        f"{_WHAT[field]} cannot be blank or hold spaces: {value!r}",
        field,
        1,
    )


@pytest.mark.parametrize(
    ("field", "first", "again", "same"),
    [
        ("repositories", "findly/infra", "Findly/Infra", True),
        ("github_environments", "production", "PRODUCTION", True),
        ("refs", "refs/heads/main", "refs/heads/Main", False),
        ("events", "push", "Push", False),
        ("workflows", WORKFLOW, "Findly/INFRA/.github/workflows/release.yml", True),
        ("workflows", WORKFLOW, "findly/infra/.github/workflows/Release.yml", False),
        ("workflows", f"{REPO}/.github/workflows/X/.github/y.yml", f"{REPO}/.github/workflows/x/.github/y.yml", False),
        ("job_workflows", f"{WORKFLOW}@v1", "FINDLY/infra/.github/workflows/release.yml@v1", True),
        ("job_workflows", f"{WORKFLOW}@v1", f"{WORKFLOW}@V1", False),
    ],
)
def test_two_entries_are_one_as_github_compares_them(field: str, first: str, again: str, same: bool) -> None:
    """Names compare without case, refs, events and workflow paths exactly, a workflow's owner and repository
    without case."""
    if same:
        assert refusal(verified, **{field: (first, again)}) == (f"{again!r} is listed twice", field, 1)
    else:
        assert getattr(verified(**{field: (first, again)}), field) == (first, again)


def test_two_relative_workflows_differing_in_case_are_two() -> None:
    policy = verified(repositories=(REPO,), workflows=(".github/workflows/a.yml", ".github/workflows/A.yml"))
    assert len(policy.workflows) == 2
    assert refusal(verified, repositories=(REPO,), workflows=(".github/workflows/a.yml",) * 2)[2] == 1


def test_a_repository_id_is_githubs_number_listed_once() -> None:
    assert verified(repository_ids=("1", "0012")).repository_ids == ("1", "0012")
    for wrong in ("", "1a", "١٢"):  # Arabic-Indic digits are digits, but not GitHub's
        assert refusal(verified, repository_ids=("5", wrong)) == (
            f"a repository id is GitHub's number for the repository (gh api repos/OWNER/REPO --jq .id): {wrong!r}",
            "repository_ids",
            1,
        )
    assert refusal(verified, repository_ids=("12", "7", "012")) == ("'012' is listed twice", "repository_ids", 2)


@pytest.mark.parametrize(
    ("field", "entry", "fits"),
    [
        ("workflows", WORKFLOW, True),
        ("workflows", ".github/workflows/r.yml", True),
        ("workflows", ".github/workflows/r", True),
        ("workflows", ".github/workflows/", False),
        ("workflows", f"{WORKFLOW}@refs/heads/main", False),
        ("workflows", "findly/.github/workflows/r.yml", False),
        ("workflows", "a/b/c/.github/workflows/r.yml", False),
        ("workflows", "findly/infra/release.yml", False),
        ("job_workflows", f"{WORKFLOW}@refs/tags/v1", True),
        ("job_workflows", ".github/workflows/r.yml@v1", True),
        ("job_workflows", f"{WORKFLOW}@", False),
        ("job_workflows", ".github/workflows/@v1", False),
    ],
)
def test_a_workflow_is_written_as_github_names_it(field: str, entry: str, fits: bool) -> None:
    policy = {"repositories": (REPO,), field: ("x/y/.github/workflows/z.yml", entry)}
    if fits:
        assert getattr(verified(**policy), field)[1] == entry
        return
    form = (
        "owner/repo/.github/workflows/FILE or .github/workflows/FILE, without @ref"
        if field == "workflows"
        else "owner/repo/.github/workflows/FILE[@REF] or .github/workflows/FILE[@REF]"
    )
    assert refusal(verified, **policy) == (f"a workflow is {form}: {entry!r}", field, 1)


@pytest.mark.parametrize("field", ["workflows", "job_workflows"])
def test_a_relative_workflow_needs_the_repositories_listed(field: str) -> None:
    assert refusal(verified, **{field: (WORKFLOW, ".github/workflows/r.yml")}) == (
        "'.github/workflows/r.yml' names no repository: write owner/repo/.github/workflows/r.yml, or list the "
        "repositories",
        field,
        1,
    )


# ---- what a policy refuses -----------------------------------------------------------------------------------------


def test_a_policy_restricting_nothing_accepts_any_run_but_pull_request_target() -> None:
    assert verified().refusal(ME) is None
    assert verified().refusal(attrs.evolve(ME, event_name="pull_request_target")) == (
        "the run was started by pull_request_target (claim event_name), which runs this repository's workflow for a "
        "pull request from anyone: list it in events to accept it"
    )
    assert verified(events=("pull_request_target",)).refusal(attrs.evolve(ME, event_name="pull_request_target")) is None


def test_the_repository_is_compared_without_case_and_by_id() -> None:
    assert verified(repositories=("FINDLY/infra", "a/b")).refusal(ME) is None
    assert verified(repositories=("a/b",)).refusal(ME) == "the run is in findly/infra (claim repository), not a/b"
    assert verified(repositories=("a/b", "c/d")).refusal(ME) == (
        "the run is in findly/infra (claim repository), not any of a/b, c/d"
    )
    assert verified(repository_ids=("077",)).refusal(ME) is None
    assert verified(repository_ids=("77",)).refusal(attrs.evolve(ME, repository_id="0077")) is None
    assert verified(repository_ids=("770",)).refusal(ME) is not None
    assert verified(repository_ids=("78", "79")).refusal(ME) == (
        "the run's repository findly/infra has the id 77 (claim repository_id), not any of 78, 79: a repository "
        "deleted and re-created under its name is another repository"
    )
    assert verified(repository_ids=("78",)).refusal(attrs.evolve(ME, repository_id="")) == (
        "the run's repository findly/infra has no id in the token (claim repository_id), not 78: a repository "
        "deleted and re-created under its name is another repository"
    )


def test_the_workflow_is_compared_by_owner_and_repository_without_case_and_path_exactly() -> None:
    assert verified(workflows=("FINDLY/Infra/.github/workflows/release.yml",)).refusal(ME) is None
    assert verified(repositories=("x/y", REPO), workflows=(".github/workflows/release.yml",)).refusal(ME) is None
    assert verified(workflows=("findly/infra/.github/workflows/Release.yml",)).refusal(ME) == (
        f"the workflow is {WORKFLOW} (claim workflow_ref), not findly/infra/.github/workflows/Release.yml"
    )
    assert verified(workflows=("other/infra/.github/workflows/release.yml",)).refusal(ME) is not None
    assert verified(workflows=(WORKFLOW,)).refusal(attrs.evolve(ME, workflow_ref="not a workflow")) == (
        f"the workflow is not a workflow (claim workflow_ref), not {WORKFLOW}"
    )


def test_the_run_and_its_workflow_file_are_on_a_listed_ref() -> None:
    refs = ("refs/heads/main", "refs/tags/v1")
    assert verified(refs=refs).refusal(ME) is None
    assert verified(refs=refs).refusal(attrs.evolve(ME, ref="refs/heads/dev")) == (
        "the workflow ran on refs/heads/dev (claim ref), not any of refs/heads/main, refs/tags/v1"
    )
    assert verified(refs=("refs/heads/main",)).refusal(attrs.evolve(ME, ref="")) == (
        "the workflow ran on no ref (claim ref), not refs/heads/main"
    )
    read_elsewhere = attrs.evolve(ME, workflow_ref=f"{WORKFLOW}@refs/heads/dev")
    assert verified(refs=refs).refusal(read_elsewhere) == (
        f"the workflow file was read at refs/heads/dev (claim workflow_ref: {WORKFLOW}@refs/heads/dev), not any of "
        "refs/heads/main, refs/tags/v1"
    )
    unread = attrs.evolve(ME, workflow_ref="garbled", job_workflow_ref=ME.workflow_ref)
    assert verified(refs=refs).refusal(unread) == (
        "the workflow file was read at no ref (claim workflow_ref: garbled), not any of refs/heads/main, refs/tags/v1"
    )


LIB = "other/lib/.github/workflows/deploy.yml"


def test_the_jobs_workflow_is_one_listed_at_a_ref_it_pins() -> None:
    called = attrs.evolve(ME, job_workflow_ref=f"{LIB}@refs/tags/v2")
    assert verified(job_workflows=(LIB,)).refusal(called) is None
    assert verified(job_workflows=("OTHER/Lib/.github/workflows/deploy.yml@refs/tags/v2",)).refusal(called) is None
    assert verified(job_workflows=(f"{LIB}@refs/tags/v1", f"{LIB}@refs/tags/v2")).refusal(called) is None
    assert verified(job_workflows=(WORKFLOW,)).refusal(called) == (
        f"the job's workflow is {LIB} (claim job_workflow_ref), not {WORKFLOW}"
    )
    assert verified(job_workflows=(f"{LIB}@refs/tags/v1", f"{LIB}@refs/tags/v3")).refusal(called) == (
        f"the job's workflow ran at refs/tags/v2 (claim job_workflow_ref: {LIB}@refs/tags/v2), not any of "
        "refs/tags/v1, refs/tags/v3"
    )
    unpinned = attrs.evolve(ME, job_workflow_ref=LIB)
    assert verified(job_workflows=(f"{LIB}@refs/tags/v1",)).refusal(unpinned) == (
        f"the job's workflow ran at no ref (claim job_workflow_ref: {LIB}), not refs/tags/v1"
    )
    garbled = attrs.evolve(ME, job_workflow_ref="garbled")
    assert verified(job_workflows=(LIB,)).refusal(garbled) == (
        "the job's workflow is garbled (claim job_workflow_ref), not other/lib/.github/workflows/deploy.yml"
    )
    assert verified(refs=("refs/heads/main",)).refusal(garbled) == (
        "the job's workflow is not a workflow file (claim job_workflow_ref: garbled)"
    )


def test_a_jobs_workflow_of_the_runs_repository_runs_at_a_listed_ref_unless_its_entry_pins_one() -> None:
    refs = ("refs/heads/main",)
    local = attrs.evolve(ME, job_workflow_ref="FINDLY/infra/.github/workflows/build.yml@refs/heads/dev")
    assert verified(refs=refs).refusal(local) == (
        "the job's workflow, of the run's repository, ran at refs/heads/dev (claim job_workflow_ref: "
        "FINDLY/infra/.github/workflows/build.yml@refs/heads/dev), not refs/heads/main"
    )
    bare = attrs.evolve(ME, job_workflow_ref=f"{REPO}/.github/workflows/build.yml")
    assert verified(refs=refs).refusal(bare) == (
        "the job's workflow, of the run's repository, ran at no ref (claim job_workflow_ref: "
        f"{REPO}/.github/workflows/build.yml), not refs/heads/main"
    )
    pinned = (f"{REPO}/.github/workflows/build.yml@refs/heads/dev",)
    assert verified(refs=refs, job_workflows=pinned).refusal(local) is None
    either = (f"{REPO}/.github/workflows/build.yml@refs/heads/dev", f"{REPO}/.github/workflows/build.yml")
    assert verified(refs=refs, job_workflows=either).refusal(local) is not None
    elsewhere = attrs.evolve(ME, job_workflow_ref=f"{LIB}@refs/heads/dev")
    assert verified(refs=refs).refusal(elsewhere) is None  # another repository's ref: pin it in job_workflows
    assert (
        verified(refs=refs).refusal(
            attrs.evolve(ME, job_workflow_ref=f"{REPO}/.github/workflows/b.yml@refs/heads/main")
        )
        is None
    )


def test_the_github_environment_is_compared_without_case() -> None:
    assert verified(github_environments=("Production",)).refusal(ME) is None
    assert verified(github_environments=("staging", "qa")).refusal(ME) == (
        "the job ran in GitHub environment production (claim environment), not any of staging, qa"
    )
    assert verified(github_environments=("staging",)).refusal(attrs.evolve(ME, environment="")) == (
        "the job ran in no GitHub environment (claim environment), not staging"
    )


def test_the_event_is_compared_exactly() -> None:
    assert verified(events=("push", "workflow_dispatch")).refusal(ME) is None
    assert verified(events=("Push",)).refusal(ME) == "the run was started by push (claim event_name), not Push"
    assert verified(events=("push",)).refusal(attrs.evolve(ME, event_name="")) == (
        "the run was started by no event in the token (claim event_name), not push"
    )


def test_the_first_failing_check_is_the_one_said() -> None:
    wrong = attrs.evolve(ME, repository="a/b", ref="refs/heads/x", environment="qa", event_name="pull_request")
    policy = verified(
        repositories=(REPO,), refs=("refs/heads/main",), github_environments=("production",), events=("push",)
    )
    assert policy.refusal(wrong) == "the run is in a/b (claim repository), not findly/infra"
    assert policy.refusal(attrs.evolve(wrong, repository=REPO)) == (
        "the workflow ran on refs/heads/x (claim ref), not refs/heads/main"
    )
    assert policy.refusal(attrs.evolve(wrong, repository=REPO, ref="refs/heads/main")) == (
        "the job ran in GitHub environment qa (claim environment), not production"
    )


@given(
    st.sampled_from(["findly/infra", "Findly/INFRA", "other/infra"]),
    st.sampled_from(["refs/heads/main", "refs/heads/dev"]),
    st.sampled_from(["push", "pull_request_target", ""]),
)
def test_a_policy_accepts_exactly_the_runs_it_lists(repository: str, ref: str, event: str) -> None:
    identity = attrs.evolve(
        ME,
        repository=repository,
        ref=ref,
        workflow_ref=f"{repository}/.github/workflows/release.yml@{ref}",
        event_name=event,
    )
    policy = verified(repositories=(REPO,), refs=("refs/heads/main",))
    accepted = repository.casefold() == REPO and ref == "refs/heads/main" and event != "pull_request_target"
    assert (policy.refusal(identity) is None) is accepted


# ---- OIDC settings --------------------------------------------------------------------------------------------------


def test_oidc_settings_take_https_or_loopback_http_and_a_one_word_audience() -> None:
    assert OidcSettings().keys_url == f"{GITHUB_ISSUER}/.well-known/jwks"
    assert OidcSettings("https://ghes.example.com/_services/token/").keys_url == (
        "https://ghes.example.com/_services/token/.well-known/jwks"
    )
    assert OidcSettings(jwks_url="https://k.example/jwks").keys_url == "https://k.example/jwks"
    for loopback in ("http://127.0.0.1:8080", "http://[::1]/x", "http://localhost"):
        assert OidcSettings(loopback, jwks_url=loopback).issuer == loopback
    for field in ("issuer", "jwks_url"):
        for url in ("http://example.com", "https//x", "ftp://x", "https://a b", "http://127.0.0.2"):
            assert refusal(OidcSettings, **{field: url}) == (
                f"{field} is an https URL (http only on loopback): {url!r}",
                field,
                None,
            )
    for audience in ("", " ", "a b", "a\n"):
        assert refusal(OidcSettings, audience=audience) == (
            "the audience is one word, such as findly-infra",
            "audience",
            None,
        )
