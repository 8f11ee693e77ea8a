"""The rules of ``domain.environment``, pinned: names are DNS labels (RFC 1123, at most 63 characters, as Kubernetes
names namespaces and Services), the deployment triggers people write and which GitHub push each one takes (a branch
filter's ``*`` stops at ``/``, ``**`` does not, as GitHub's filter patterns), what a quota, probe, approver group and
environment refuse, and who an approver group includes (by id where the file pins one)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.environment import (
    ApproverGroup,
    DeploymentTrigger,
    Environment,
    HealthCheck,
    ResourceQuota,
    Service,
    StrategyKind,
    TriggerKind,
    require_service_name,
    service_name_from_key,
)
from findly_infra.domain.errors import InvariantError
from findly_infra.domain.identifiers import actor_problem
from findly_infra.domain.notation import ByteSize, CpuQuantity, Duration, NotationError

PUSH = DeploymentTrigger(TriggerKind.PUSH)


def refusal(build: object, *args: object, **kwargs: object) -> InvariantError:
    with pytest.raises(InvariantError) as error:
        build(*args, **kwargs)  # type: ignore[operator]
    return error.value


@pytest.mark.parametrize("name", ["a", "fn-posts", "a1", "9", "a" * 63, "a-b-c"])
def test_dns_labels(name: str) -> None:
    require_service_name(name, "service")
    assert Service(name).name == name
    assert Environment(name, PUSH).name == name


@pytest.mark.parametrize("name", ["", "-a", "a-", "A", "fn_posts", "a.b", "a" * 64, "a b"])
def test_not_dns_labels(name: str) -> None:
    error = refusal(require_service_name, name, "service")
    assert str(error).startswith(
        f"a service name {name!r} must be a DNS label: lower-case letters, digits and '-', at most 63 characters"
    )
    assert error.field == "service"
    error = refusal(Service, name)
    assert str(error).startswith(f"a service name {name!r} must be a DNS label")
    assert error.field == "name"
    error = refusal(Environment, name, PUSH)
    assert str(error).startswith(f"an environment name {name!r} must be a DNS label")
    assert error.field == "name"


def test_service_names_from_yaml_keys() -> None:
    assert service_name_from_key("fn_posts") == "fn-posts"
    assert service_name_from_key("FN_Posts_2") == "fn-posts-2"


def test_services() -> None:
    assert Service("fn").port == 8080
    assert Service("fn", port=1).port == 1
    assert Service("fn", port=65535).port == 65535
    for port in (0, 65536):
        with pytest.raises(ValueError, match="port"):
            Service("fn", port=port)


@pytest.mark.parametrize(
    ("text", "trigger"),
    [
        ("Push to feature branches", DeploymentTrigger(TriggerKind.PUSH)),
        ("pushes to any feature branch", DeploymentTrigger(TriggerKind.PUSH)),
        ("Push to branch release/*", DeploymentTrigger(TriggerKind.PUSH, branch="release/*")),
        ("push to the develop branch", DeploymentTrigger(TriggerKind.PUSH, branch="develop")),
        ("Merge to main branch", DeploymentTrigger(TriggerKind.MERGE)),
        ("merge into the main branch", DeploymentTrigger(TriggerKind.MERGE)),
        ("Merge to the default branch", DeploymentTrigger(TriggerKind.MERGE)),
        ("Merge to branch main", DeploymentTrigger(TriggerKind.MERGE, branch="main")),
        ("merges into the branch trunk", DeploymentTrigger(TriggerKind.MERGE, branch="trunk")),
        ("Merge to trunk branch", DeploymentTrigger(TriggerKind.MERGE, branch="trunk")),
        ("Manual promotion from staging", DeploymentTrigger(TriggerKind.PROMOTION, source="staging")),
        ("promotion", DeploymentTrigger(TriggerKind.PROMOTION)),
        ("  Manual   promotion  ", DeploymentTrigger(TriggerKind.PROMOTION)),
        ("MANUAL", DeploymentTrigger(TriggerKind.PROMOTION)),
    ],
)
def test_deployment_triggers_read_as_meant(text: str, trigger: DeploymentTrigger) -> None:
    assert DeploymentTrigger.parse(text) == trigger


def test_deployment_triggers_refused_and_written() -> None:
    example = "'Push to feature branches', 'Merge to main branch' or 'Manual promotion from staging'"
    for bad in ("whenever", 5, None):
        with pytest.raises(NotationError) as error:
            DeploymentTrigger.parse(bad)
        assert str(error.value) == f"expected a deployment trigger such as {example}, got {bad!r}"
    assert PUSH.format() == "Push to feature branches"
    assert DeploymentTrigger(TriggerKind.PUSH, branch="release/*").format() == "Push to branch release/*"
    assert DeploymentTrigger(TriggerKind.MERGE, branch="main").format() == "Merge to branch main"
    assert DeploymentTrigger(TriggerKind.MERGE).format() == "Merge to main branch"
    for trigger in (DeploymentTrigger(TriggerKind.MERGE), DeploymentTrigger(TriggerKind.MERGE, branch="main")):
        assert DeploymentTrigger.parse(trigger.format()) == trigger  # written as read
    assert DeploymentTrigger(TriggerKind.PROMOTION).format() == "Manual promotion"
    assert str(DeploymentTrigger(TriggerKind.PROMOTION, source="dev")) == "Manual promotion from dev"


@pytest.mark.parametrize(
    ("trigger", "event", "ref", "default", "expected"),
    [
        (PUSH, "push", "refs/heads/feature/x", "main", True),
        (PUSH, "push", "refs/heads/main", "main", False),
        (PUSH, "push", "refs/heads/main", "trunk", True),
        (PUSH, "pull_request", "refs/heads/feature", "main", False),
        (PUSH, "push", "refs/tags/v1", "main", False),
        (DeploymentTrigger(TriggerKind.MERGE, branch="main"), "push", "refs/heads/main", "main", True),
        (DeploymentTrigger(TriggerKind.MERGE, branch="main"), "push", "refs/heads/dev", "main", False),
        (DeploymentTrigger(TriggerKind.MERGE), "push", "refs/heads/trunk", "trunk", True),
        (DeploymentTrigger(TriggerKind.MERGE), "push", "refs/heads/main", "trunk", False),
        (DeploymentTrigger(TriggerKind.PUSH, branch="release/*"), "push", "refs/heads/release/1.2", "main", True),
        (DeploymentTrigger(TriggerKind.PUSH, branch="release/*"), "push", "refs/heads/release/1/2", "main", False),
        (DeploymentTrigger(TriggerKind.PUSH, branch="release/**"), "push", "refs/heads/release/1/2", "main", True),
        (DeploymentTrigger(TriggerKind.PUSH, branch="rel.x"), "push", "refs/heads/relax", "main", False),
        (DeploymentTrigger(TriggerKind.PUSH, branch="main"), "push", "refs/heads/main", "main", True),
        (DeploymentTrigger(TriggerKind.PUSH, branch="main"), "push", "refs/heads/main2", "main", False),
        (DeploymentTrigger(TriggerKind.PROMOTION), "push", "refs/heads/main", "main", False),
    ],
)
def test_which_push_a_trigger_takes(
    trigger: DeploymentTrigger, event: str, ref: str, default: str, expected: bool
) -> None:
    assert trigger.matches(event, ref, default_branch=default) is expected


_BRANCH = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}(/[A-Za-z0-9._-]{1,10})?", fullmatch=True)


@given(default=_BRANCH, other=_BRANCH)
def test_the_main_branch_is_the_default_branch_whatever_it_is_called(default: str, other: str) -> None:
    """ "Merge to main branch" (as the seed writes it) is a push to the DEFAULT branch, as "feature branches" are every
    other one: with `--default-branch trunk`, a push to trunk is the merge and not a feature push, and a push to any
    other branch (main included) the reverse — the two triggers never both take a push, and one always does."""
    merge = DeploymentTrigger.parse("Merge to main branch")
    feature = DeploymentTrigger.parse("Push to feature branches")
    on_default = f"refs/heads/{default}"
    assert merge.matches("push", on_default, default_branch=default)
    assert not feature.matches("push", on_default, default_branch=default)
    if other != default:
        assert not merge.matches("push", f"refs/heads/{other}", default_branch=default)
        assert feature.matches("push", f"refs/heads/{other}", default_branch=default)


@given(default=_BRANCH, named=_BRANCH)
def test_a_merge_to_a_named_branch_takes_that_branch_whatever_the_default(default: str, named: str) -> None:
    """ "Merge to branch X" names X: a push to X, and to no other branch, whatever the default branch is."""
    merge = DeploymentTrigger.parse(f"Merge to branch {named}")
    assert merge.matches("push", f"refs/heads/{named}", default_branch=default)
    if default != named:
        assert not merge.matches("push", f"refs/heads/{default}", default_branch=default)


def test_the_default_branch_is_main() -> None:
    assert PUSH.matches("push", "refs/heads/main") is False
    assert DeploymentTrigger(TriggerKind.MERGE).matches("push", "refs/heads/main") is True


def quota(request: int, limit: int, memory_request: int, memory_limit: int) -> ResourceQuota:
    return ResourceQuota(CpuQuantity(request), CpuQuantity(limit), ByteSize(memory_request), ByteSize(memory_limit))


def test_quotas_keep_requests_within_limits() -> None:
    assert quota(500, 500, 10, 10).cpu_request == CpuQuantity(500)
    error = refusal(quota, 501, 500, 1, 1)
    assert (str(error).split(" (")[0], error.field) == ("cpu_request 501m is above cpu_limit 500m", "cpu_request")
    error = refusal(quota, 1, 1, 2**21, 2**20)
    assert str(error).startswith("memory_request 2Mi is above memory_limit 1Mi")
    assert error.field == "memory_request"


def test_probes() -> None:
    assert HealthCheck("/ready", period=Duration(1_000), timeout=Duration(1_000)).path == "/ready"
    error = refusal(HealthCheck, "ready")
    assert (str(error).split(" (")[0], error.field) == ("a health-check path starts with '/', got 'ready'", "path")
    error = refusal(HealthCheck, period=Duration(999))
    assert (str(error).split(" (")[0], error.field) == ("a probe period is at least 1s, got 999ms", "period")
    error = refusal(HealthCheck, timeout=Duration(999))
    assert (str(error).split(" (")[0], error.field) == ("a probe timeout is at least 1s, got 999ms", "timeout")
    with pytest.raises(ValueError, match="failure_threshold"):
        HealthCheck(failure_threshold=0)
    assert HealthCheck(failure_threshold=1).failure_threshold == 1


def test_what_an_approver_group_refuses() -> None:
    error = refusal(ApproverGroup, "ops", ("alice", " "))
    assert (str(error).split(" (")[0], error.field, error.index) == ("a member name cannot be empty", "members", 1)
    error = refusal(ApproverGroup, "ops", ("alice", "bob", "Alice"))
    assert str(error).startswith("'Alice' is listed twice")
    assert (error.field, error.index) == ("members", 2)
    error = refusal(ApproverGroup, "ops", ("alice",), (("bob", "1"),))
    assert str(error).startswith("'bob' has an id but is not a member")
    assert error.field == "members"
    error = refusal(ApproverGroup, "ops", ("alice", "bob"), (("BOB", "x1"),))
    assert str(error).startswith("BOB's id is GitHub's number for the account: 'x1'")
    assert (error.field, error.index) == ("members", 1)
    error = refusal(ApproverGroup, "ops", ("alice", "bob", "carol"), (("alice", "1"), ("bob", "2"), ("carol", "1")))
    assert str(error).startswith("the id 1 is given to two members")
    assert error.field == "members"
    error = refusal(ApproverGroup, "ops", ("alice", "bad\u200bname"))
    assert (error.field, error.index) == ("members", 1)
    problem = actor_problem("bad\u200bname")
    assert problem is not None
    assert str(error).startswith(problem)


def test_who_an_approver_group_includes() -> None:
    group = ApproverGroup("ops", ("alice", "Bob"), (("bob", "1002"),))
    assert group.id_of("BOB") == "1002"
    assert group.id_of("alice") is None
    assert group.includes("ALICE") is True
    assert group.includes("alice", "999") is True  # alice is not pinned: her login is enough
    assert group.includes("bob") is True
    assert group.includes("bob", "1002") is True
    assert group.includes("bob", "1003") is False  # pinned: another account under bob's login is not bob
    assert group.includes("mallory", "1002") is True  # the account, whatever its login now
    assert group.includes("mallory") is False
    assert ApproverGroup("empty", ()).includes("alice") is False


def test_what_an_environment_refuses() -> None:
    error = refusal(Environment, "prod", PUSH, tests=("unit", " "))
    assert (str(error).split(" (")[0], error.field, error.index) == ("an entry cannot be empty", "tests", 1)
    error = refusal(Environment, "prod", PUSH, tests=("unit", "e2e", "unit"))
    assert str(error).startswith("'unit' is listed twice")
    assert (error.field, error.index) == ("tests", 2)
    error = refusal(Environment, "prod", PUSH, approval_required=True, approvers=("ops", "ops"))
    assert (error.field, error.index) == ("approvers", 1)
    error = refusal(Environment, "prod", PUSH, approval_required=True, approvers=("",))
    assert (error.field, error.index) == ("approvers", 0)
    error = refusal(Environment, "prod", PUSH, approval_required=True)
    assert str(error).startswith("approval_required is true but no approver group is listed")
    assert error.field == "approvers"
    error = refusal(Environment, "prod", PUSH, approvers=("ops",))
    assert str(error).startswith(
        "approvers are listed but approval_required is false: set approval_required: true or remove the approvers"
    )
    assert error.field == "approval_required"
    error = refusal(Environment, "prod", PUSH, approval_expires_after=Duration(0))
    assert (str(error).split(" (")[0], error.field) == (
        "approvals must expire after a positive time",
        "approval_expires_after",
    )
    assert Environment("prod", PUSH, approval_expires_after=Duration(1)).approval_expires_after == Duration(1)


def test_an_environments_strategy_and_predecessor() -> None:
    assert Environment("dev", PUSH).strategy is StrategyKind.ROLLING
    assert Environment("dev", PUSH, deployment_strategy=StrategyKind.CANARY).strategy is StrategyKind.CANARY
    promoted = DeploymentTrigger(TriggerKind.PROMOTION, source="dev")
    assert Environment("qa", promoted).predecessor_named == "dev"
    assert Environment("qa", promoted, promotes_from="staging").predecessor_named == "staging"
    assert Environment("qa", PUSH).predecessor_named is None


@given(st.from_regex(r"\A[a-z0-9][a-z0-9/._-]{0,20}\Z"), st.from_regex(r"\A[a-z0-9][a-z0-9/._-]{0,20}\Z"))
def test_a_branch_filter_without_wildcards_matches_only_its_branch(pattern: str, branch: str) -> None:
    trigger = DeploymentTrigger(TriggerKind.PUSH, branch=pattern)
    assert trigger.matches("push", f"refs/heads/{branch}") is (branch == pattern)
    assert trigger.matches("push", f"refs/heads/{pattern}") is True
