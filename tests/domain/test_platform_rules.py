"""The rules of ``domain.platform``, pinned: how a finding names its place (``environments.production.approvers[1]``),
the built-in resource profiles, and what the platform answers by name — environments in promotion order, the strategy
a release uses, services named by other sections, autoscalers, resource profiles (the file's own first, then the
built-in ones, ``production-equivalent`` being the last environment's)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.environment import (
    ApproverGroup,
    DeploymentTrigger,
    Environment,
    HealthCheck,
    ResourceProfile,
    Service,
    StrategyKind,
    TriggerKind,
)
from findly_infra.domain.infrastructure import (
    AutoscalerLimits,
    ClusterAutoscaler,
    CustomMetricTarget,
    GKECluster,
    HorizontalAutoscaler,
    Infrastructure,
)
from findly_infra.domain.notation import ByteSize, CpuQuantity, Duration
from findly_infra.domain.operations import Backend, GlobalLoadBalancer, IngressConfiguration
from findly_infra.domain.platform import (
    BUILTIN_RESOURCE_PROFILES,
    Finding,
    Platform,
    Severity,
    UnknownNameError,
    format_path,
)
from findly_infra.domain.security import IstioConfiguration, SecretManagement, SecurityPolicy
from findly_infra.domain.strategy import BlueGreenStrategy, CanaryStep, CanaryStrategy, RollingStrategy

PUSH = DeploymentTrigger(TriggerKind.PUSH)
PROMOTION = DeploymentTrigger(TriggerKind.PROMOTION)


def test_paths_as_people_read_them() -> None:
    assert format_path(("environments", "production", "approvers", 1)) == "environments.production.approvers[1]"
    assert format_path(()) == ""
    assert format_path((0,)) == "[0]"
    assert format_path(("a_b-c", "x")) == "a_b-c.x"
    assert format_path(("secrets", "a.b")) == "secrets['a.b']"
    assert format_path(("secrets", "")) == "secrets['']"
    assert format_path(("with space",)) == "['with space']"
    assert format_path(("a", 2, 3, "b")) == "a[2][3].b"


@given(st.lists(st.from_regex(r"\A[a-z_][a-z0-9_-]{0,8}\Z") | st.integers(0, 99), max_size=5))
def test_a_plain_path_is_dotted_and_indexed(path: list[str | int]) -> None:
    text = format_path(tuple(path))
    expected = ""
    for part in path:
        expected += f"[{part}]" if isinstance(part, int) else (f".{part}" if expected else part)
    assert text == expected


def test_findings() -> None:
    finding = Finding(("environments", "prod", "approvers", 0), "unknown group")
    assert (finding.severity, finding.rule) == (Severity.ERROR, "structure")
    assert finding.location == "environments.prod.approvers[0]"
    assert str(finding) == "environments.prod.approvers[0]: unknown group"
    assert (Severity.ERROR.value, Severity.WARNING.value) == ("error", "warning")


def test_the_built_in_resource_profiles() -> None:
    minimal, standard = BUILTIN_RESOURCE_PROFILES["minimal"], BUILTIN_RESOURCE_PROFILES["standard"]
    assert (minimal.container.cpu_request, minimal.container.cpu_limit) == (CpuQuantity(100), CpuQuantity(500))
    assert (minimal.container.memory_request, minimal.container.memory_limit) == (
        ByteSize(128 * 2**20),
        ByteSize(256 * 2**20),
    )
    assert minimal.namespace is not None
    assert (minimal.namespace.cpu_request, minimal.namespace.cpu_limit) == (CpuQuantity(2000), CpuQuantity(4000))
    assert (minimal.namespace.memory_request, minimal.namespace.memory_limit) == (
        ByteSize(4 * 2**30),
        ByteSize(8 * 2**30),
    )
    assert (standard.container.cpu_request, standard.container.cpu_limit) == (CpuQuantity(250), CpuQuantity(1000))
    assert (standard.container.memory_request, standard.container.memory_limit) == (
        ByteSize(256 * 2**20),
        ByteSize(512 * 2**20),
    )
    assert standard.namespace is not None
    assert (standard.namespace.cpu_limit, standard.namespace.memory_limit) == (CpuQuantity(16000), ByteSize(32 * 2**30))


CHAIN = (
    Environment("dev", PUSH, resource_limits="minimal"),
    Environment("staging", PROMOTION),
    Environment("prod", PROMOTION, deployment_strategy=StrategyKind.CANARY),
)
CANARY = CanaryStrategy((CanaryStep("a", 5, Duration(60_000)), CanaryStep("full", 100, None)))


def test_environments_by_name_and_order() -> None:
    subject = Platform(CHAIN)
    assert subject.promotion_order == ("dev", "staging", "prod")
    assert subject.environment("staging") is CHAIN[1]
    with pytest.raises(UnknownNameError) as error:
        subject.environment("qa")
    assert str(error.value) == "unknown environment 'qa'; known: dev, staging, prod"
    assert subject.previous_environment("dev") is None
    assert subject.previous_environment("staging") is CHAIN[0]
    assert subject.previous_environment("prod") is CHAIN[1]
    with pytest.raises(UnknownNameError):
        subject.previous_environment("qa")


def test_the_strategy_a_release_uses() -> None:
    blue_green = BlueGreenStrategy()
    full = Platform(CHAIN, canary_strategy=CANARY, blue_green_strategy=blue_green)
    assert full.strategy_for("prod") is CANARY
    assert full.strategy_for("dev") is full.rolling_strategy
    assert full.strategy_for("dev", StrategyKind.BLUE_GREEN) is blue_green
    assert full.strategy_for("prod", StrategyKind.ROLLING) is full.rolling_strategy
    assert full.strategy_for("dev", StrategyKind.CANARY) is CANARY
    assert isinstance(full.rolling_strategy, RollingStrategy)
    bare = Platform(CHAIN)
    with pytest.raises(UnknownNameError) as error:
        bare.strategy_for("prod")
    assert str(error.value) == "the platform file has no canary_strategy section"
    with pytest.raises(UnknownNameError) as error:
        bare.strategy_for("dev", StrategyKind.BLUE_GREEN)
    assert str(error.value) == "the platform file has no blue_green_strategy section"
    with pytest.raises(UnknownNameError):
        bare.strategy_for("qa")


def test_approver_groups_by_name() -> None:
    ops = ApproverGroup("ops", ("alice",))
    assert Platform(CHAIN, approver_groups=(ApproverGroup("sec", ("bob",)), ops)).approver_group("ops") is ops
    for groups in (None, (ops,)):
        with pytest.raises(UnknownNameError) as error:
            Platform(CHAIN, approver_groups=groups).approver_group("dev")
        assert str(error.value) == "unknown approver group 'dev'"


def hpa(key: str, low: int = 1) -> HorizontalAutoscaler:
    return HorizontalAutoscaler(key, low, 5, (CustomMetricTarget("rps", 10),))


def test_every_service_the_file_names() -> None:
    ingress = IngressConfiguration(
        GlobalLoadBalancer(
            backends=(
                Backend("fn-posts", "/posts", "/healthz"),
                Backend("fn-web", "/", "/ready"),
                Backend("fn-web", "/web"),
            )
        )
    )
    subject = Platform(
        CHAIN,
        services=(Service("fn-posts", port=9000),),
        ingress_configuration=ingress,
        hpa_configuration=(hpa("fn_users"), hpa("fn_web"), hpa("FN_Users")),
    )
    assert subject.all_services == (
        Service("fn-posts", port=9000),
        Service("fn-web", health_check=HealthCheck("/ready")),
        Service("fn-users"),
    )
    assert subject.service("fn-users") == Service("fn-users")
    with pytest.raises(UnknownNameError) as error:
        subject.service("fn-x")
    assert str(error.value) == "unknown service 'fn-x'; known: fn-posts, fn-web, fn-users"
    with pytest.raises(UnknownNameError) as error:
        Platform(CHAIN).service("fn-x")
    assert str(error.value) == "unknown service 'fn-x'; known: none"
    assert Platform(CHAIN).all_services == ()


def test_the_autoscaler_of_a_service_is_the_first_that_names_it() -> None:
    first, second = hpa("fn_users", 1), hpa("FN-USERS", 2)
    subject = Platform(CHAIN, hpa_configuration=(first, hpa("fn_web"), second))
    assert subject.autoscaler_for("fn-users") is first
    assert subject.autoscaler_for("fn-users") is first  # asked again, from the index
    assert subject.autoscaler_for("fn-posts") is None
    other = Platform(CHAIN, hpa_configuration=(second,))
    assert other.autoscaler_for("fn-users") is second
    assert subject.autoscaler_for("fn-users") is first
    many = [Platform(CHAIN, hpa_configuration=(hpa("fn_users", n),)) for n in range(1, 5)] * 20
    assert [platform.autoscaler_for("fn-users").min_replicas for platform in many] == [1, 2, 3, 4] * 20  # type: ignore[union-attr]


def test_resource_profiles_the_files_first() -> None:
    minimal = BUILTIN_RESOURCE_PROFILES["minimal"]
    mine = ResourceProfile("minimal", BUILTIN_RESOURCE_PROFILES["standard"].container)
    large = ResourceProfile("large", minimal.container)
    subject = Platform(CHAIN, resource_profiles=(large, mine))
    assert subject.resource_profile_names == ("minimal", "standard", "production-equivalent", "large")
    assert Platform(CHAIN).resource_profile_names == ("minimal", "standard", "production-equivalent")
    assert subject.resource_profile("minimal") is mine
    assert subject.resource_profile("large") is large
    assert subject.resource_profile("standard") is BUILTIN_RESOURCE_PROFILES["standard"]
    assert Platform(CHAIN).resource_profile("minimal") is minimal
    with pytest.raises(UnknownNameError) as error:
        subject.resource_profile("huge")
    assert str(error.value) == (
        "unknown resource profile 'huge'; known: minimal, standard, production-equivalent, large"
    )


def test_production_equivalent_is_the_last_environments_profile() -> None:
    last = (Environment("dev", PUSH), Environment("prod", PROMOTION, resource_limits="minimal"))
    equivalent = Platform(last).resource_profile("production-equivalent")
    assert equivalent.name == "production-equivalent"
    assert equivalent.container == BUILTIN_RESOURCE_PROFILES["minimal"].container
    assert equivalent.namespace == BUILTIN_RESOURCE_PROFILES["minimal"].namespace
    circular = (Environment("prod", PUSH, resource_limits="production-equivalent"),)
    assert Platform(circular).resource_profile("production-equivalent").container == (
        BUILTIN_RESOURCE_PROFILES["standard"].container
    )
    assert Platform(()).resource_profile("production-equivalent").container == (
        BUILTIN_RESOURCE_PROFILES["standard"].container
    )
    own = ResourceProfile("production-equivalent", BUILTIN_RESOURCE_PROFILES["minimal"].container)
    assert Platform(circular, resource_profiles=(own,)).resource_profile("production-equivalent") is own


def test_the_entities_the_seed_names() -> None:
    cluster = GKECluster("prod", "us-central1")
    autoscaler = ClusterAutoscaler(AutoscalerLimits(1, 1, 1))
    hpas = (hpa("fn_users"),)
    assert Platform(
        CHAIN, gke_cluster=cluster, cluster_autoscaler=autoscaler, hpa_configuration=hpas
    ).infrastructure == (Infrastructure(cluster, autoscaler, hpas))
    mesh, secrets = IstioConfiguration(), SecretManagement()
    assert Platform(CHAIN, istio_configuration=mesh, secret_management=secrets).security_policy == SecurityPolicy(
        (), mesh, secrets
    )
