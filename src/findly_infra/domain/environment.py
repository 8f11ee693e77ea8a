"""Environments, the way a version is brought into each, and what leaving each requires."""

from __future__ import annotations

import enum
import re
from typing import ClassVar

import attrs

from findly_infra.domain.errors import InvariantError, first_repeat
from findly_infra.domain.identifiers import actor_problem, same_person
from findly_infra.domain.identity import IdentityPolicy
from findly_infra.domain.images import image_name_problem
from findly_infra.domain.notation import ByteSize, CpuQuantity, Duration, NotationError, describe_value

__all__ = [
    "ApproverGroup",
    "DeploymentTrigger",
    "Environment",
    "HealthCheck",
    "ResourceProfile",
    "ResourceQuota",
    "RollbackCapability",
    "Service",
    "StrategyKind",
    "TriggerKind",
    "dns_label_problem",
    "require_service_name",
    "service_name_from_key",
]

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def dns_label_problem(value: str, what: str) -> str | None:
    """Why *value* cannot be *what* ("a service name", "an environment name"): it must be a DNS label, the whole of
    it (a trailing newline too is refused); ``None`` when it can."""
    if _NAME.fullmatch(value) is None or len(value) > 63:
        return f"{what} {value!r} must be a DNS label: lower-case letters, digits and '-', at most 63 characters"
    return None


def require_service_name(value: str, field: str) -> None:
    """Raises :class:`InvariantError` on *field* unless *value* can name a service (a DNS label)."""
    problem = dns_label_problem(value, "a service name")
    if problem is not None:
        raise InvariantError(problem, field=field)


@attrs.frozen
class _DnsLabel:
    """The validator of a name that must be a DNS label (a class, not a closure: a closure is made at import, where
    no mutant of a mutation run is on, so its rule could never be tested)."""

    what: str

    def __call__(self, _instance: object, attribute: attrs.Attribute[str], value: str) -> None:
        problem = dns_label_problem(value, self.what)
        if problem is not None:
            raise InvariantError(problem, field=attribute.name)


def service_name_from_key(key: str) -> str:
    """``fn_posts`` (a YAML key) names the service ``fn-posts``."""
    return key.replace("_", "-").lower()


class StrategyKind(enum.Enum):
    """How a new version replaces the old one in an environment."""

    ROLLING = "rolling"
    BLUE_GREEN = "blue-green"
    CANARY = "canary"


class RollbackCapability(enum.Enum):
    """``automatic``: a failed analysis rolls back by itself; ``manual``: it pauses for a person."""

    AUTOMATIC = "automatic"
    MANUAL = "manual"


class TriggerKind(enum.Enum):
    PUSH = "push"
    MERGE = "merge"
    PROMOTION = "promotion"


_PUSH_FEATURE = re.compile(r"^push(?:es)?\s+to\s+(?:any\s+)?feature\s+branch(?:es)?$", re.I)
_PUSH = re.compile(r"^push(?:es)?\s+to\s+(?:the\s+)?(?:branch\s+)?([\w./*-]+?)(?:\s+branch)?$", re.I)
_MERGE = re.compile(r"^merge(?:s)?\s+(?:in)?to\s+(?:the\s+)?(?:branch\s+)?([\w./*-]+?)(?:\s+branch)?$", re.I)
_MERGE_DEFAULT = re.compile(r"^merge(?:s)?\s+(?:in)?to\s+(?:the\s+)?(?:main|default)(?:\s+branch)?$", re.I)
_PROMOTION = re.compile(r"^(?:manual\s+)?promotion(?:\s+from\s+([\w-]+))?$|^manual$", re.I)


@attrs.frozen
class DeploymentTrigger:
    """What brings a version into an environment.

    ``Push to feature branches`` (``branch`` is ``None``: any branch but the default one),
    ``Push to branch release/*``, ``Merge to main branch`` (``branch`` is ``None``: the default branch, whatever it
    is called — ``--default-branch``), ``Merge to branch X`` (X by name), ``Manual promotion from staging``
    (``source`` names the environment it comes from), or ``Manual``.
    """

    kind: TriggerKind
    branch: str | None = None
    source: str | None = None

    EXAMPLE: ClassVar[str] = "'Push to feature branches', 'Merge to main branch' or 'Manual promotion from staging'"

    @classmethod
    def parse(cls, raw: object) -> DeploymentTrigger:
        if not isinstance(raw, str):
            raise NotationError(f"expected a deployment trigger such as {cls.EXAMPLE}, got {describe_value(raw)}")
        text = " ".join(raw.split())
        if _PUSH_FEATURE.match(text):
            return cls(TriggerKind.PUSH)
        if _MERGE_DEFAULT.match(text):  # "the main branch" is the repository's default one, as for feature branches
            return cls(TriggerKind.MERGE)
        if match := _MERGE.match(text):
            return cls(TriggerKind.MERGE, branch=match.group(1))
        if match := _PUSH.match(text):
            return cls(TriggerKind.PUSH, branch=match.group(1))
        if match := _PROMOTION.match(text):
            return cls(TriggerKind.PROMOTION, source=match.group(1))
        raise NotationError(f"expected a deployment trigger such as {cls.EXAMPLE}, got {describe_value(raw)}")

    def matches(self, event_name: str, ref: str, *, default_branch: str = "main") -> bool:
        """Whether a GitHub event (``GITHUB_EVENT_NAME``, ``GITHUB_REF``) triggers this deployment.

        A merge is a push to the merged-into branch: "the main branch" is the *default_branch*, a named branch
        only that one; "feature branches" are all branches but the default one; promotions are never triggered by
        an event.
        """
        if self.kind is TriggerKind.PROMOTION or event_name != "push" or not ref.startswith("refs/heads/"):
            return False
        branch = ref.removeprefix("refs/heads/")
        if self.kind is TriggerKind.MERGE:
            return _branch_matches(branch, self.branch or default_branch)
        if self.branch is None:
            return branch != default_branch
        return _branch_matches(branch, self.branch)

    def format(self) -> str:
        if self.kind is TriggerKind.PUSH:
            return "Push to feature branches" if self.branch is None else f"Push to branch {self.branch}"
        if self.kind is TriggerKind.MERGE:
            return "Merge to main branch" if self.branch is None else f"Merge to branch {self.branch}"
        return "Manual promotion" if self.source is None else f"Manual promotion from {self.source}"

    def __str__(self) -> str:
        return self.format()


def _branch_matches(branch: str, pattern: str) -> bool:
    """``release/*`` matches ``release/1.2``; ``*`` stops at ``/``, ``**`` does not (as GitHub's filters)."""
    regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
    return re.fullmatch(regex, branch) is not None


@attrs.frozen
class ResourceQuota:
    """CPU, memory and storage allocation: requests and limits."""

    cpu_request: CpuQuantity
    cpu_limit: CpuQuantity
    memory_request: ByteSize
    memory_limit: ByteSize
    storage: ByteSize | None = None

    def __attrs_post_init__(self) -> None:
        if self.cpu_request > self.cpu_limit:
            raise InvariantError(
                f"cpu_request {self.cpu_request} is above cpu_limit {self.cpu_limit}", field="cpu_request"
            )
        if self.memory_request > self.memory_limit:
            raise InvariantError(
                f"memory_request {self.memory_request} is above memory_limit {self.memory_limit}",
                field="memory_request",
            )


@attrs.frozen
class ResourceProfile:
    """A named size, as an environment's ``resource_limits`` names it: per container and per namespace."""

    name: str
    container: ResourceQuota
    namespace: ResourceQuota | None = None


@attrs.frozen
class HealthCheck:
    """A liveness, readiness or startup probe: an HTTP GET of ``path`` on the service's port."""

    path: str = "/health"
    initial_delay: Duration = Duration.of(seconds=0)
    period: Duration = Duration.of(seconds=10)
    timeout: Duration = Duration.of(seconds=1)
    failure_threshold: int = attrs.field(default=3, validator=attrs.validators.ge(1))

    def __attrs_post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise InvariantError(f"a health-check path starts with '/', got {self.path!r}", field="path")
        if self.period.milliseconds < 1000:
            raise InvariantError(f"a probe period is at least 1s, got {self.period}", field="period")
        if self.timeout.milliseconds < 1000:
            raise InvariantError(f"a probe timeout is at least 1s, got {self.timeout}", field="timeout")


@attrs.frozen
class Service:
    """A microservice the platform deploys."""

    name: str = attrs.field(validator=_DnsLabel("a service name"))
    image: str | None = None
    port: int = attrs.field(default=8080, validator=[attrs.validators.ge(1), attrs.validators.le(65535)])
    health_check: HealthCheck = HealthCheck()
    depends_on: tuple[str, ...] = ()
    """The services this one needs running first (``depends_on:``): a release of several services rolls them out
    before it, and returns them after it (``domain.releases``)."""

    def __attrs_post_init__(self) -> None:
        """``image`` is the image's name without its tag (``gcr.io/findly-now/fn-posts``: the version released is
        the tag), as the OCI/Docker reference grammar has it (``domain.images``); the service's name when none is
        given."""
        if self.image is not None and (problem := image_name_problem(self.image)) is not None:
            raise InvariantError(problem, field="image")


@attrs.frozen
class ApproverGroup:
    """A group whose members may approve promotions (``devops-team: [alice, {login: bob, id: 1002}]``).

    Members are GitHub logins, compared without case as GitHub compares them. A member given with its numeric id
    (``ids``: login → id) is, for a verified identity, that account and no other: a login can be renamed and then
    taken by someone else, an id cannot.
    """

    name: str
    members: tuple[str, ...]
    ids: tuple[tuple[str, str], ...] = ()
    """(login, numeric id) of the members given with one."""

    def __attrs_post_init__(self) -> None:
        for index, member in enumerate(self.members):
            if not member.strip():
                raise InvariantError("a member name cannot be empty", field="members", index=index)
            if (problem := actor_problem(member)) is not None:
                raise InvariantError(problem, field="members", index=index)
        if (repeat := first_repeat([member.casefold() for member in self.members])) is not None:
            raise InvariantError(f"{self.members[repeat]!r} is listed twice", field="members", index=repeat)
        logins = [member.casefold() for member in self.members]
        for login, user_id in self.ids:
            if login.casefold() not in logins:
                raise InvariantError(f"{login!r} has an id but is not a member", field="members")
            if not user_id.isdigit():
                raise InvariantError(
                    f"{login}'s id is GitHub's number for the account: {user_id!r}",
                    field="members",
                    index=logins.index(login.casefold()),
                )
        if (repeat := first_repeat([user_id for _, user_id in self.ids])) is not None:
            raise InvariantError(f"the id {self.ids[repeat][1]} is given to two members", field="members")

    def id_of(self, member: str) -> str | None:
        """The numeric id the file gives *member*, or ``None``."""
        return next((user_id for login, user_id in self.ids if same_person(login, member)), None)

    def includes(self, login: str, user_id: str | None = None) -> bool:
        """Whether *login* (verified as the account *user_id*, when given) is a member: by id where the file gives
        the member's id and the identity is verified, by login otherwise."""
        for member in self.members:
            known = self.id_of(member)
            if user_id is not None and known is not None:
                if known == user_id:
                    return True
            elif same_person(member, login):
                return True
        return False


@attrs.frozen
class Environment:
    """An environment a version passes through, as the platform file's ``environments`` section gives it."""

    name: str = attrs.field(validator=_DnsLabel("an environment name"))
    deployment_trigger: DeploymentTrigger
    purpose: str = ""
    tests: tuple[str, ...] = ()
    approval_required: bool = False
    approvers: tuple[str, ...] = ()
    approval_expires_after: Duration = Duration.of(hours=24)
    auto_cleanup: bool = False
    resource_limits: str = "standard"
    data: str | None = None
    deployment_strategy: StrategyKind | None = None
    rollback_capability: RollbackCapability = RollbackCapability.AUTOMATIC
    promotes_from: str | None = None
    identity: IdentityPolicy = IdentityPolicy()
    """Who counts as acting here, for approvals and promotions (any named actor unless ``verified``)."""

    def __attrs_post_init__(self) -> None:
        for field, values in (("tests", self.tests), ("approvers", self.approvers)):
            for index, value in enumerate(values):
                if not value.strip():
                    raise InvariantError("an entry cannot be empty", field=field, index=index)
            if (repeat := first_repeat(values)) is not None:
                raise InvariantError(f"{values[repeat]!r} is listed twice", field=field, index=repeat)
        if self.approval_required and not self.approvers:
            raise InvariantError(
                "approval_required is true but no approver group is listed: name at least one group in approvers",
                field="approvers",
            )
        if self.approvers and not self.approval_required:
            raise InvariantError(
                "approvers are listed but approval_required is false: set approval_required: true "
                "or remove the approvers",
                field="approval_required",
            )
        if self.approval_expires_after.milliseconds <= 0:
            raise InvariantError("approvals must expire after a positive time", field="approval_expires_after")

    @property
    def strategy(self) -> StrategyKind:
        """The environment's own strategy; one that names none rolls."""
        return self.deployment_strategy or StrategyKind.ROLLING

    @property
    def predecessor_named(self) -> str | None:
        """The environment this one says it is promoted from, by ``promotes_from`` or its trigger."""
        return self.promotes_from or self.deployment_trigger.source
