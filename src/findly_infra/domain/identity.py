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
    renamed) and the numeric id (which cannot), and where they acted from — the evidence an approval records."""

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

    @property
    def run(self) -> str:
        """The run that acted, as one key: ``issuer/repository/run_id`` (a re-run attempt is the same run)."""
        return f"{self.issuer}/{self.repository.casefold()}/{self.run_id}"

    @property
    def workflow(self) -> str:
        """The workflow file that ran, without its ref: ``owner/repo/.github/workflows/release.yml``."""
        return self.workflow_ref.partition("@")[0]

    def describe(self) -> str:
        attempt = f" attempt {self.run_attempt}" if self.run_attempt != "1" else ""
        return f"{self.login} (id {self.user_id}) via {self.workflow_ref} run {self.run_id}{attempt}"


_REQUIRED = ("actor", "actor_id", "repository", "ref", "workflow_ref", "run_id", "run_attempt", "iss", "jti")


def identity_from_claims(claims: Mapping[str, object]) -> VerifiedIdentity:
    """The identity a verified token's *claims* state; raises :class:`IdentityClaimsError` naming a missing or
    malformed claim."""
    for name in _REQUIRED:
        value = claims.get(name)
        if not isinstance(value, str) or not value.strip():
            raise IdentityClaimsError(f"the token's {name!r} claim is missing or empty")
    for name in ("actor_id", "run_id", "run_attempt"):
        if not str(claims[name]).isdigit():
            raise IdentityClaimsError(f"the token's {name!r} claim is not a number, as GitHub writes it")
    environment = claims.get("environment", "")
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
    )


def _names(field: str, what: str) -> Callable[[object, attrs.Attribute[tuple[str, ...]], tuple[str, ...]], None]:
    def check(_instance: object, _attribute: attrs.Attribute[tuple[str, ...]], values: tuple[str, ...]) -> None:
        for index, value in enumerate(values):
            if not value.strip() or value != value.strip() or any(ch.isspace() for ch in value):
                raise InvariantError(f"{what} cannot be blank or hold spaces: {value!r}", field=field, index=index)
        if (repeat := first_repeat([value.casefold() for value in values])) is not None:
            raise InvariantError(f"{values[repeat]!r} is listed twice", field=field, index=repeat)

    return check


@attrs.frozen
class IdentityPolicy:
    """Who counts as acting in an environment, for approvals and promotions (the environment's ``identity:``).

    ``verified: false`` (the default): any named actor (``--actor``, ``FINDLY_ACTOR``, ``GITHUB_ACTOR``) — the name
    is trusted. ``verified: true``: only a GitHub Actions identity proven by an OIDC token, from the listed
    repositories, workflows, refs and GitHub environments (each list, when given, must hold the token's value).
    """

    verified: bool = False
    repositories: tuple[str, ...] = attrs.field(default=(), validator=_names("repositories", "a repository"))
    """``owner/repo``, as GitHub names it (compared without case, as GitHub does)."""
    workflows: tuple[str, ...] = attrs.field(default=(), validator=_names("workflows", "a workflow"))
    """``owner/repo/.github/workflows/release.yml`` (the token's ``workflow_ref`` without its ``@ref``), or
    ``.github/workflows/release.yml`` in any of the listed repositories."""
    refs: tuple[str, ...] = attrs.field(default=(), validator=_names("refs", "a ref"))
    """``refs/heads/main``: the ref the workflow ran on."""
    github_environments: tuple[str, ...] = attrs.field(
        default=(), validator=_names("github_environments", "a GitHub environment")
    )
    """The GitHub environment the job ran in (its protection rules — required reviewers — ran first)."""

    def __attrs_post_init__(self) -> None:
        restricted = self.repositories or self.workflows or self.refs or self.github_environments
        if restricted and not self.verified:
            raise InvariantError(
                "repositories, workflows, refs and github_environments restrict verified identities: set "
                "verified: true, or remove them",
                field="verified",
            )
        for index, workflow in enumerate(self.workflows):
            path = workflow if workflow.startswith(".github/") else workflow.partition("/")[2].partition("/")[2]
            if "@" in workflow or not path.startswith(".github/workflows/"):
                raise InvariantError(
                    f"a workflow is owner/repo/.github/workflows/FILE or .github/workflows/FILE, without @ref: "
                    f"{workflow!r}",
                    field="workflows",
                    index=index,
                )
            if workflow.startswith(".github/") and not self.repositories:
                raise InvariantError(
                    f"{workflow!r} names no repository: write owner/repo/{workflow}, or list the repositories",
                    field="workflows",
                    index=index,
                )

    def refusal(self, identity: VerifiedIdentity) -> str | None:
        """Why *identity* does not count here (a sentence naming the claim and what the policy lists), or
        ``None`` when it does."""
        repository = identity.repository.casefold()
        if self.repositories and repository not in {r.casefold() for r in self.repositories}:
            return f"the run is in {identity.repository}, not {_either(self.repositories)}"
        if self.workflows:
            workflow = identity.workflow.casefold()
            allowed = {
                (f"{repository}/{w}" if w.startswith(".github/") else w).casefold()
                for w in self.workflows
                for repository in (self.repositories if w.startswith(".github/") else ("",))
            }
            if workflow not in allowed:
                return f"the workflow is {identity.workflow}, not {_either(self.workflows)}"
        if self.refs and identity.ref not in self.refs:
            return f"the workflow ran on {identity.ref or 'no ref'}, not {_either(self.refs)}"
        if self.github_environments and identity.environment.casefold() not in {
            e.casefold() for e in self.github_environments
        }:
            where = f"GitHub environment {identity.environment}" if identity.environment else "no GitHub environment"
            return f"the job ran in {where}, not {_either(self.github_environments)}"
        return None


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
            if value is None:
                continue
            match = _URL.fullmatch(value)
            loopback = match is not None and match["host"] in ("127.0.0.1", "[::1]", "localhost")
            if match is None or (match["scheme"] != "https" and not (match["scheme"] == "http" and loopback)):
                raise InvariantError(f"{field} is an https URL (http only on loopback): {value!r}", field=field)
        if not self.audience.strip() or any(ch.isspace() for ch in self.audience):
            raise InvariantError("the audience is one word, such as findly-infra", field="audience")

    @property
    def keys_url(self) -> str:
        return self.jwks_url or f"{self.issuer.rstrip('/')}/.well-known/jwks"
