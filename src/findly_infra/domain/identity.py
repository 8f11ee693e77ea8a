"""Who is acting, when a token proves it: a GitHub Actions identity, as the claims of a verified OIDC token state it.
Pure: the adapter verifies the token's signature, issuer, audience and times; this reads the claims it vouches for."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import attrs

from findly_infra.domain.errors import InvariantError, first_repeat

__all__ = [
    "GITHUB_ISSUER",
    "IdentityClaimsError",
    "IdentityPolicy",
    "OidcSettings",
    "VerifiedIdentity",
    "identity_from_claims",
]

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
"""The issuer of GitHub Actions' OIDC tokens (GitHub Enterprise Server has its own, set in ``github_oidc``)."""


class IdentityClaimsError(ValueError):
    """A verified token that does not say who is acting (a claim missing or not what GitHub writes)."""


@attrs.frozen
class VerifiedIdentity:
    """A person acting through a GitHub Actions run, as GitHub's OIDC token states it: the login (which can be
    renamed) and the numeric id (which cannot), and where they acted from — the evidence an approval records.

    ``workflow_ref`` is the run's workflow (the caller, for a job of a reusable workflow) and ``job_workflow_ref``
    the workflow whose job acted: the same for a job of the workflow itself, the called one for a job of a reusable
    workflow (https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/using-openid-connect-with-reusable-workflows).
    ``repository_id`` and ``repository_owner_id`` are GitHub's numbers for the repository and its owner, which a
    repository deleted and re-created under the same name does not keep. The last three are empty in evidence
    recorded before they were read (there, the job's workflow is the run's)."""

    login: str
    user_id: str
    repository: str
    ref: str
    workflow_ref: str
    run_id: str
    environment: str
    issuer: str
    token_id: str
    run_attempt: str = "1"
    job_workflow_ref: str = ""
    repository_id: str = ""
    repository_owner_id: str = ""
    event_name: str = ""
    """The event that started the run (claim ``event_name``: ``push``, ``workflow_dispatch``, ``pull_request``…);
    empty in evidence recorded before it was read."""
    sha: str = ""
    """The commit the run checked out (claim ``sha``)."""
    workflow_sha: str = ""
    """The commit the workflow file was read at (claim ``workflow_sha``): a re-run of an old run reads the old file,
    at its old commit."""
    token: str = attrs.field(default="", repr=False)
    """The OIDC token itself (the compact JWT) that proved this identity — the proof kept with what it proved, and
    verified again whenever that is counted (``domain.proofs``); empty for an identity no token proved (evidence
    recorded before tokens were kept, or an identity made by hand). The claims beside it are only what the command
    read from it: what counts is what the token says when it is verified again."""

    @property
    def run(self) -> str:
        """The run that acted, as one key: ``issuer/repository/run_id`` (a re-run attempt is the same run)."""
        return f"{self.issuer}/{self.repository.casefold()}/{self.run_id}"

    @property
    def workflow(self) -> str:
        """The workflow file that ran, without its ref: ``owner/repo/.github/workflows/release.yml``."""
        return self.workflow_ref.partition("@")[0]

    @property
    def job_workflow(self) -> str:
        """The workflow whose job acted, with its ref (``job_workflow_ref``; the run's workflow where none was
        recorded)."""
        return self.job_workflow_ref or self.workflow_ref

    def describe(self) -> str:
        attempt = f" attempt {self.run_attempt}" if self.run_attempt != "1" else ""
        job = f" (job of {self.job_workflow})" if self.job_workflow != self.workflow_ref else ""
        return f"{self.login} (id {self.user_id}) via {self.workflow_ref}{job} run {self.run_id}{attempt}"


_REQUIRED = ("actor", "actor_id", "repository", "ref", "workflow_ref", "run_id", "run_attempt", "iss", "jti")
_NUMBERS = ("actor_id", "run_id", "run_attempt")
_OPTIONAL_NUMBERS = ("repository_id", "repository_owner_id")
_OPTIONAL_TEXT = ("job_workflow_ref", "event_name", "sha", "workflow_sha")


def identity_from_claims(claims: Mapping[str, object], *, token: str = "") -> VerifiedIdentity:
    """The identity a verified token's *claims* state (*token*: the token itself, kept as the proof); raises
    :class:`IdentityClaimsError` naming a missing or malformed claim.

    ``job_workflow_ref``, ``repository_id`` and ``repository_owner_id`` are read where the token has them (GitHub's
    tokens do: https://docs.github.com/en/actions/reference/security/oidc); a ``job_workflow_ref`` missing is the
    run's workflow (GitHub's table describes it for jobs of reusable workflows), an id missing is empty, and a policy
    that pins repository ids then refuses the token."""
    for name in _REQUIRED:
        value = claims.get(name)
        if not isinstance(value, str) or not value.strip():
            raise IdentityClaimsError(f"the token's {name!r} claim is missing or empty")
    for name in _NUMBERS:
        if not str(claims[name]).isdigit():
            raise IdentityClaimsError(f"the token's {name!r} claim is not a number, as GitHub writes it")
    for name in _OPTIONAL_NUMBERS:
        value = claims.get(name, "")
        if not isinstance(value, str) or (value and not value.isdigit()):
            raise IdentityClaimsError(f"the token's {name!r} claim is not a number, as GitHub writes it")
    for name in _OPTIONAL_TEXT:
        if not isinstance(claims.get(name, ""), str):
            raise IdentityClaimsError(f"the token's {name!r} claim is not text, as GitHub writes it")
    environment = claims.get("environment")
    return VerifiedIdentity(
        login=str(claims["actor"]),
        user_id=str(claims["actor_id"]),
        repository=str(claims["repository"]),
        ref=str(claims["ref"]),
        workflow_ref=str(claims["workflow_ref"]),
        run_id=str(claims["run_id"]),
        environment=environment if isinstance(environment, str) else "",
        issuer=str(claims["iss"]),
        token_id=str(claims["jti"]),
        run_attempt=str(claims["run_attempt"]),
        job_workflow_ref=str(claims.get("job_workflow_ref", "")),
        repository_id=str(claims.get("repository_id", "")),
        repository_owner_id=str(claims.get("repository_owner_id", "")),
        event_name=str(claims.get("event_name", "")),
        sha=str(claims.get("sha", "")),
        workflow_sha=str(claims.get("workflow_sha", "")),
        token=token,
    )


_WORKFLOW = re.compile(r"(?P<repository>[^/@\s]+/[^/@\s]+)/(?P<path>\.github/workflows/[^@\s]+)(?:@(?P<ref>\S+))?")
"""``owner/repo/.github/workflows/FILE@REF`` as GitHub writes ``workflow_ref`` and ``job_workflow_ref`` (the path
ends at the first ``@``: neither an owner nor a repository name holds one)."""


def _parts(workflow_ref: str) -> tuple[str, str, str] | None:
    """(``owner/repo``, ``.github/workflows/FILE``, ``REF`` or ``""``) of a workflow reference, or ``None``."""
    match = _WORKFLOW.fullmatch(workflow_ref)
    return None if match is None else (match["repository"], match["path"], match["ref"] or "")


def _same_workflow(path: tuple[str, str], other: tuple[str, ...]) -> bool:
    """Owner and repository compare without case (GitHub's names do); the file's path exactly (paths in a
    repository are case-sensitive: ``RELEASE.yml`` is another file than ``release.yml``)."""
    return path[0].casefold() == other[0].casefold() and path[1] == other[1]


def _id_key(value: str) -> str:
    """A GitHub id as numbers compare: without its leading zeros."""
    return value.lstrip("0")  # pragma: no mutate - equivalent: "XX0XX" strips the same characters from a number


@attrs.frozen
class _Names:
    """The validator of a list of names (*field*, each one *what*): each entry one word, none listed twice
    (:func:`_repeat_key`). A class, not a closure, so that what it checks runs — and is tested — when a policy is
    made, not when this module is imported."""

    field: str
    what: str

    def __call__(
        self, _instance: object, _attribute: attrs.Attribute[tuple[str, ...]], values: tuple[str, ...]
    ) -> None:
        for index, value in enumerate(values):
            if not value.strip() or value != value.strip() or any(ch.isspace() for ch in value):
                raise InvariantError(
                    f"{self.what} cannot be blank or hold spaces: {value!r}", field=self.field, index=index
                )
        if (repeat := first_repeat([_repeat_key(self.field, value) for value in values])) is not None:
            raise InvariantError(f"{values[repeat]!r} is listed twice", field=self.field, index=repeat)


def _repeat_key(field: str, value: str) -> str:
    """What makes two entries of *field* the same: refs and workflow paths are case-sensitive, names are not."""
    if field in ("refs", "events"):
        return value
    if field in ("workflows", "job_workflows"):
        head, _, tail = value.partition("/.github/")
        return f"{head.casefold()}/.github/{tail}" if tail else value
    return value.casefold()


def _ids(_instance: object, _attribute: attrs.Attribute[tuple[str, ...]], values: tuple[str, ...]) -> None:
    for index, value in enumerate(values):
        if not value.isdigit() or not value.isascii():
            raise InvariantError(
                f"a repository id is GitHub's number for the repository (gh api repos/OWNER/REPO --jq .id): {value!r}",
                field="repository_ids",
                index=index,
            )
    if (repeat := first_repeat([_id_key(value) for value in values])) is not None:
        raise InvariantError(f"{values[repeat]!r} is listed twice", field="repository_ids", index=repeat)


@attrs.frozen
class IdentityPolicy:
    """Who counts as acting in an environment, for approvals and promotions (the environment's ``identity:``).

    ``verified: false`` (the default): any named actor (``--actor``, ``FINDLY_ACTOR``, ``GITHUB_ACTOR``) — the name
    is trusted. ``verified: true``: only a GitHub Actions identity proven by an OIDC token, from the places listed.
    Each list restricts one thing; an empty list restricts nothing (any value counts); given, the token's value must
    be one it lists (:meth:`refusal` names the first that is not).
    """

    verified: bool = False
    repositories: tuple[str, ...] = attrs.field(default=(), validator=_Names("repositories", "a repository"))
    """``owner/repo``: the run's repository (claim ``repository``), compared without case as GitHub compares
    names."""
    repository_ids: tuple[str, ...] = attrs.field(default=(), validator=_ids)
    """GitHub's numbers for the run's repository (claim ``repository_id``): a repository deleted and re-created under
    the same name — by anyone who can then take the name — has another, and is refused."""
    workflows: tuple[str, ...] = attrs.field(default=(), validator=_Names("workflows", "a workflow"))
    """The run's workflow (claim ``workflow_ref`` without its ``@ref``; the caller, for a job of a reusable
    workflow): ``owner/repo/.github/workflows/release.yml``, or ``.github/workflows/release.yml`` in any of the
    listed repositories. The owner and repository compare without case, the file's path exactly."""
    refs: tuple[str, ...] = attrs.field(default=(), validator=_Names("refs", "a ref"))
    """``refs/heads/main``: the refs of the run's repository the run may be on, compared exactly. Each of these
    must be one of them: the run's ref (claim ``ref``); the ref its workflow file was read at (the ``@ref`` of
    ``workflow_ref``); and the ref of the job's workflow (the ``@ref`` of ``job_workflow_ref``) where that workflow
    is of the run's repository and its ``job_workflows`` entry pins no ref of its own — a reusable workflow called as
    ``./.github/workflows/FILE`` runs at the caller's commit. A reusable workflow of another repository runs at the
    ref its caller names, a ref of that repository: pin it in ``job_workflows``."""
    job_workflows: tuple[str, ...] = attrs.field(default=(), validator=_Names("job_workflows", "a job's workflow"))
    """The workflow whose job acts (claim ``job_workflow_ref``): the run's workflow for its own jobs, the called one
    for a job of a reusable workflow. ``owner/repo/.github/workflows/FILE`` (any ref), or with ``@REF`` (exactly
    that ref: ``@refs/tags/v1``, or a commit SHA), or ``.github/workflows/FILE[@REF]`` in any listed repository."""
    github_environments: tuple[str, ...] = attrs.field(
        default=(), validator=_Names("github_environments", "a GitHub environment")
    )
    """The GitHub environment the job ran in (claim ``environment``; its protection rules — required reviewers —
    ran first), compared without case."""
    events: tuple[str, ...] = attrs.field(default=(), validator=_Names("events", "an event"))
    """The events that may start the run (claim ``event_name``: ``push``, ``workflow_dispatch``…), compared exactly.
    Not given: any event but ``pull_request_target``, which runs the base repository's workflow — on its protected
    ref, with its secrets and its OIDC tokens — for a pull request from anyone, and is then only as safe as every
    step that touches the pull request's code (https://docs.github.com/en/actions/reference/workflows-and-actions/events-that-trigger-workflows#pull_request_target):
    list it here to accept it."""

    def __attrs_post_init__(self) -> None:
        restricted = (
            self.repositories
            or self.repository_ids
            or self.workflows
            or self.refs
            or self.job_workflows
            or self.github_environments
            or self.events
        )
        if restricted and not self.verified:
            raise InvariantError(
                "repositories, repository_ids, workflows, refs, job_workflows, github_environments and events "
                "restrict verified identities: set verified: true, or remove them",
                field="verified",
            )
        for field in ("workflows", "job_workflows"):
            for index, workflow in enumerate(getattr(self, field)):
                self._check_workflow(field, index, workflow)

    def _check_workflow(self, field: str, index: int, workflow: str) -> None:
        relative = workflow.startswith(".github/")
        path, at, ref = workflow.partition("@")
        form = (
            "owner/repo/.github/workflows/FILE or .github/workflows/FILE, without @ref"
            if field == "workflows"
            else "owner/repo/.github/workflows/FILE[@REF] or .github/workflows/FILE[@REF]"
        )
        well_formed = (path.startswith(".github/workflows/") and len(path) > 18) or (
            not relative and _parts(path) is not None
        )
        if not well_formed or (at and (field == "workflows" or not ref)):
            raise InvariantError(f"a workflow is {form}: {workflow!r}", field=field, index=index)
        if relative and not self.repositories:
            raise InvariantError(
                f"{workflow!r} names no repository: write owner/repo/{workflow}, or list the repositories",
                field=field,
                index=index,
            )

    def _entries(self, field: str) -> list[tuple[tuple[str, str], str | None, str]]:
        """Each entry of *field* as (``(owner/repo, path)``, the ref it pins or ``None``, the entry as written); a
        relative entry once per listed repository."""
        found: list[tuple[tuple[str, str], str | None, str]] = []
        for entry in getattr(self, field):
            path, at, ref = entry.partition("@")
            pinned = ref if at else None
            if path.startswith(".github/"):
                found.extend(((repository, path), pinned, entry) for repository in self.repositories)
            else:
                parts = _parts(path)
                if parts is not None:
                    found.append(((parts[0], parts[1]), pinned, entry))
        return found

    def refusal(self, identity: VerifiedIdentity) -> str | None:
        """Why *identity* does not count here (a sentence naming the claim and what the policy lists), or
        ``None`` when it does."""
        return next((reason for check in self._checks() if (reason := check(identity)) is not None), None)

    def _checks(self) -> tuple[Callable[[VerifiedIdentity], str | None], ...]:
        return (
            self._repository,
            self._workflow,
            self._ref,
            self._job_workflow,
            self._job_ref,
            self._environment,
            self._event,
        )

    def _repository(self, identity: VerifiedIdentity) -> str | None:
        if self.repositories and identity.repository.casefold() not in {r.casefold() for r in self.repositories}:
            return f"the run is in {identity.repository} (claim repository), not {_either(self.repositories)}"
        if self.repository_ids and _id_key(identity.repository_id) not in {_id_key(i) for i in self.repository_ids}:
            found = f"has the id {identity.repository_id}" if identity.repository_id else "has no id in the token"
            return (
                f"the run's repository {identity.repository} {found} (claim repository_id), not "
                f"{_either(self.repository_ids)}: a repository deleted and re-created under its name is another "
                "repository"
            )
        return None

    def _workflow(self, identity: VerifiedIdentity) -> str | None:
        parts = _parts(identity.workflow_ref)
        if not self.workflows:
            return None
        if parts is None or not any(_same_workflow(path, parts) for path, _, _ in self._entries("workflows")):
            return f"the workflow is {identity.workflow} (claim workflow_ref), not {_either(self.workflows)}"
        return None

    def _ref(self, identity: VerifiedIdentity) -> str | None:
        if not self.refs:
            return None
        if identity.ref not in self.refs:
            return f"the workflow ran on {identity.ref or 'no ref'} (claim ref), not {_either(self.refs)}"
        parts = _parts(identity.workflow_ref)
        read_at = parts[2] if parts is not None else ""
        if read_at not in self.refs:
            return (
                f"the workflow file was read at {read_at or 'no ref'} (claim workflow_ref: {identity.workflow_ref}), "
                f"not {_either(self.refs)}"
            )
        return None

    def _listed_jobs(self, job: tuple[str, str, str]) -> set[str | None]:
        """The refs the ``job_workflows`` entries naming *job*'s workflow pin (``None``: an entry that pins none)."""
        return {pin for path, pin, _ in self._entries("job_workflows") if _same_workflow(path, job)}

    def _job_workflow(self, identity: VerifiedIdentity) -> str | None:
        job = _parts(identity.job_workflow)
        if self.job_workflows and (job is None or not self._listed_jobs(job)):
            return (
                f"the job's workflow is {identity.job_workflow.partition('@')[0]} (claim job_workflow_ref), not "
                f"{_either(self.job_workflows)}"
            )
        return None

    def _job_ref(self, identity: VerifiedIdentity) -> str | None:
        if not self.job_workflows and not self.refs:
            return None
        job = _parts(identity.job_workflow)
        if job is None:
            return f"the job's workflow is not a workflow file (claim job_workflow_ref: {identity.job_workflow})"
        pins = self._listed_jobs(job)
        if pins and None not in pins:  # every entry naming it pins its ref: that ref, whatever refs lists
            if job[2] in pins:
                return None
            return (
                f"the job's workflow ran at {job[2] or 'no ref'} (claim job_workflow_ref: {identity.job_workflow}), "
                f"not {_either(tuple(sorted(pin for pin in pins if pin)))}"
            )
        if self.refs and job[0].casefold() == identity.repository.casefold() and job[2] not in self.refs:
            return (
                f"the job's workflow, of the run's repository, ran at {job[2] or 'no ref'} (claim job_workflow_ref: "
                f"{identity.job_workflow}), not {_either(self.refs)}"
            )
        return None

    def _environment(self, identity: VerifiedIdentity) -> str | None:
        if self.github_environments and identity.environment.casefold() not in {
            e.casefold() for e in self.github_environments
        }:
            where = f"GitHub environment {identity.environment}" if identity.environment else "no GitHub environment"
            return f"the job ran in {where} (claim environment), not {_either(self.github_environments)}"
        return None

    def _event(self, identity: VerifiedIdentity) -> str | None:
        event = identity.event_name
        if self.events and event not in self.events:
            started = event or "no event in the token"
            return f"the run was started by {started} (claim event_name), not {_either(self.events)}"
        if not self.events and event == PULL_REQUEST_TARGET:
            return (
                f"the run was started by {PULL_REQUEST_TARGET} (claim event_name), which runs this repository's "
                "workflow for a pull request from anyone: list it in events to accept it"
            )
        return None


PULL_REQUEST_TARGET = "pull_request_target"
"""The event a policy refuses unless it lists it (``IdentityPolicy.events``)."""


def _either(values: tuple[str, ...]) -> str:
    return values[0] if len(values) == 1 else f"any of {', '.join(values)}"


_URL = re.compile(r"(?P<scheme>[a-z]+)://(?P<host>[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::\d{1,5})?(?:/[^\s?#]*)?")


@attrs.frozen
class OidcSettings:
    """Whose tokens prove an identity (the file's ``github_oidc:``): the issuer, the audience the tool asks tokens
    for and accepts, and where the issuer publishes its keys (``<issuer>/.well-known/jwks`` unless given)."""

    issuer: str = GITHUB_ISSUER
    audience: str = "findly-infra"
    jwks_url: str | None = None

    def __attrs_post_init__(self) -> None:
        for field in ("issuer", "jwks_url"):
            value = getattr(self, field)
            match = None if value is None else _URL.fullmatch(value)
            loopback = match is not None and match["host"] in ("127.0.0.1", "[::1]", "localhost")
            https = match is not None and (match["scheme"] == "https" or (match["scheme"] == "http" and loopback))
            if value is not None and not https:
                raise InvariantError(f"{field} is an https URL (http only on loopback): {value!r}", field=field)
        if not self.audience.strip() or any(ch.isspace() for ch in self.audience):
            raise InvariantError("the audience is one word, such as findly-infra", field="audience")

    @property
    def keys_url(self) -> str:
        return self.jwks_url or f"{self.issuer.rstrip('/')}/.well-known/jwks"
