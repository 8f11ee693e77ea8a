"""The rules of ``domain.security``, pinned (issue 23): network policies as Kubernetes reads them, the mesh's mTLS
and authorization rules as Istio takes them — the ``AUDIT`` action among them — and secret management as Secret
Manager takes it. Each refusal is exact (its words, the field and the index it names) and each boundary is tried on
both sides. Fast and in-process: they run for every mutant."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.errors import InvariantError
from findly_infra.domain.notation import Duration
from findly_infra.domain.security import (
    ROTATION_PERIOD_MAX,
    ROTATION_PERIOD_MIN,
    AuthorizationPolicy,
    EgressRule,
    IngressRule,
    IPBlock,
    IstioConfiguration,
    LabelSelector,
    ManagedSecret,
    MutualTLS,
    NetworkPeer,
    NetworkPolicy,
    NetworkPort,
    Operation,
    PrincipalSet,
    SecretManagement,
    SecretType,
)

Refusal = tuple[str, str | None, int | str | None]


def refusal(make: Callable[..., object], *args: object, **kwargs: object) -> Refusal:
    """What ``make(*args, **kwargs)`` is refused with: the message, the field and the index it names."""
    with pytest.raises(InvariantError) as caught:
        make(*args, **kwargs)
    return caught.value.message, caught.value.field, caught.value.index


PRINCIPAL = "cluster.local/ns/findly-now/sa/fn-posts"


# ---- network policies -------------------------------------------------------------------------------------------


def test_a_label_selector_selects_everything_only_when_it_names_no_label() -> None:
    assert LabelSelector().selects_everything
    assert LabelSelector().as_dict() == {}
    selector = LabelSelector((("app", "fn-posts"), ("tier", "api")))
    assert not selector.selects_everything
    assert selector.as_dict() == {"app": "fn-posts", "tier": "api"}


def test_an_ip_block_is_cidr_blocks_with_host_bits_allowed() -> None:
    block = IPBlock("10.0.0.1/8", ("10.1.0.0/16", "fd00::1/64"))  # host bits set: Kubernetes takes them
    assert block.except_ == ("10.1.0.0/16", "fd00::1/64")
    message = "is not a CIDR block such as '10.0.0.0/8'"
    assert refusal(lambda: IPBlock("10.0.0.0/33")) == (f"'10.0.0.0/33' {message}", "cidr", None)
    assert refusal(lambda: IPBlock("10.0.0.0/8", ("10.1.0.0/16", "nope"))) == (f"'nope' {message}", "except", None)


def test_a_peer_names_something_and_an_ip_block_names_no_selector() -> None:
    every = LabelSelector()
    block = IPBlock("10.0.0.0/8")
    for peer in (NetworkPeer(namespace_selector=every), NetworkPeer(pod_selector=every), NetworkPeer(ip_block=block)):
        assert peer is not None
    assert refusal(NetworkPeer) == ("a peer names a namespace_selector, a pod_selector or an ip_block", None, None)
    alone = ("a peer with an ip_block names no selector", "ip_block", None)
    assert refusal(lambda: NetworkPeer(namespace_selector=every, ip_block=block)) == alone
    assert refusal(lambda: NetworkPeer(pod_selector=every, ip_block=block)) == alone


@given(st.integers(-2, 65_538))
def test_a_port_number_lies_between_1_and_65535(port: int) -> None:
    if 1 <= port <= 65_535:
        assert NetworkPort(port).port == port
    else:
        assert refusal(lambda: NetworkPort(port)) == (f"a port lies between 1 and 65535, got {port}", "port", None)


def test_a_port_is_a_number_or_a_name_over_tcp_udp_or_sctp() -> None:
    assert NetworkPort(1).protocol == "TCP"
    assert NetworkPort(65_535, "UDP").port == 65_535
    assert NetworkPort("http-metrics", "SCTP").port == "http-metrics"
    assert NetworkPort("a").port == "a"
    for name in ("-http", "http-", "HTTP", "h_t", ""):
        assert refusal(NetworkPort, name) == (
            f"{name!r} is not a port number or a port name",
            "port",
            None,
        )
    assert refusal(lambda: NetworkPort(80, "tcp")) == ("protocol is TCP, UDP or SCTP, got 'tcp'", "protocol", None)


def test_a_network_policys_types_and_rules_agree() -> None:
    ingress, egress = (IngressRule(),), (EgressRule(),)
    assert NetworkPolicy("a").effective_policy_types == ("Ingress",)
    assert NetworkPolicy("a", egress=egress).effective_policy_types == ("Ingress", "Egress")
    assert NetworkPolicy("a", policy_types=("Egress",), egress=egress).effective_policy_types == ("Egress",)
    assert NetworkPolicy("a", policy_types=("Ingress",), ingress=ingress).effective_policy_types == ("Ingress",)
    assert refusal(lambda: NetworkPolicy("a", policy_types=("Ingress", "egress"))) == (
        "a policy type is 'Ingress' or 'Egress', got 'egress'",
        "policy_types",
        1,
    )
    assert refusal(lambda: NetworkPolicy("a", policy_types=("Ingress",), egress=egress)) == (
        "egress rules are listed but policy_types leaves out 'Egress'",
        "egress",
        None,
    )
    assert refusal(lambda: NetworkPolicy("a", policy_types=("Egress",), ingress=ingress)) == (
        "ingress rules are listed but policy_types leaves out 'Ingress'",
        "ingress",
        None,
    )


# ---- the mesh -----------------------------------------------------------------------------------------------------


def test_mutual_tls_takes_istios_modes_and_minimum_versions() -> None:
    for mode in ("STRICT", "PERMISSIVE", "DISABLE"):
        for version in ("TLSV1_2", "TLSV1_3", "TLS_AUTO"):
            assert MutualTLS(mode, version).mode == mode
    assert refusal(lambda: MutualTLS("strict")) == ("mode is STRICT, PERMISSIVE or DISABLE, got 'strict'", "mode", None)
    assert refusal(lambda: MutualTLS(min_tls_version="TLSV1_1")) == (
        "min_tls_version is TLSV1_2, TLSV1_3 or TLS_AUTO, got 'TLSV1_1'",
        "min_tls_version",
        None,
    )


def test_a_principal_is_a_workload_identity_or_anyone() -> None:
    principals = PrincipalSet((PRINCIPAL, "*", "td/ns/b/sa/c"), ("findly-now",))
    assert principals.service_accounts == (("findly-now", "fn-posts"), ("b", "c"))
    assert refusal(lambda: PrincipalSet((PRINCIPAL, "cluster.local/ns/A/sa/b"))) == (
        "'cluster.local/ns/A/sa/b' is not a principal such as 'cluster.local/ns/findly-now/sa/fn-posts'",
        "principals",
        1,
    )


def test_an_operation_names_http_methods_and_absolute_paths() -> None:
    methods = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE")
    assert Operation(methods, ("/api/*", "*")).methods == methods
    assert refusal(lambda: Operation(("GET", "get"))) == (
        "unknown HTTP method 'get'; known: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, CONNECT, TRACE",
        "methods",
        1,
    )
    assert refusal(lambda: Operation(paths=("/a", "api"))) == ("a path starts with '/', got 'api'", "paths", 1)


@pytest.mark.parametrize("action", ["ALLOW", "DENY", "AUDIT"])
def test_an_authorization_policys_action_is_allow_deny_or_audit(action: str) -> None:
    """Istio's AuthorizationPolicy actions (istio.io/latest/docs/reference/config/security/authorization-policy/):
    ALLOW, DENY, AUDIT — and CUSTOM, which needs an extension provider this file cannot name."""
    policy = AuthorizationPolicy("p", destination=PrincipalSet((PRINCIPAL,)), action=action)
    assert policy.action == action


@pytest.mark.parametrize("action", ["CUSTOM", "audit", "Allow", ""])
def test_any_other_action_is_refused(action: str) -> None:
    assert refusal(lambda: AuthorizationPolicy("p", destination=PrincipalSet((PRINCIPAL,)), action=action)) == (
        f"action is ALLOW, DENY or AUDIT, got {action!r}",
        "action",
        None,
    )


def test_an_authorization_policy_names_the_workload_it_protects_and_is_listed_once() -> None:
    assert AuthorizationPolicy("p", destination=PrincipalSet((PRINCIPAL,))).action == "ALLOW"
    assert refusal(lambda: AuthorizationPolicy("p", destination=PrincipalSet(namespaces=("findly-now",)))) == (
        "name the workload the policy protects in destination.principals",
        "destination",
        None,
    )
    policy = AuthorizationPolicy("p", destination=PrincipalSet((PRINCIPAL,)))
    other = AuthorizationPolicy("q", destination=PrincipalSet((PRINCIPAL,)))
    assert IstioConfiguration(authorization_policies=(policy, other)).mtls == MutualTLS()
    assert refusal(lambda: IstioConfiguration(authorization_policies=(policy, other, policy))) == (
        "policy 'p' is listed twice",
        "authorization_policies",
        2,
    )


# ---- secret management --------------------------------------------------------------------------------------------


@given(
    st.one_of(
        st.integers(0, 4_000_000),
        st.sampled_from([3_599_000, 3_599_999, 3_600_000, 3_600_001, 3_601_000]),
        st.sampled_from([3_153_599_999_000, 3_153_600_000_000, 3_153_600_000_001, 3_153_600_001_000]),
    )
)
def test_a_rotation_period_is_one_secret_manager_takes(milliseconds: int) -> None:
    """``Rotation.rotation_period`` (google/cloud/secretmanager/v1/resources.proto): whole seconds, at least 3600s
    and at most 3153600000s."""
    period = Duration(milliseconds)
    if milliseconds <= 0:
        assert refusal(lambda: SecretType("k", period)) == (
            "rotation_period is a positive time",
            "rotation_period",
            None,
        )
        return
    fits = (
        milliseconds % 1000 == 0
        and ROTATION_PERIOD_MIN.milliseconds <= milliseconds <= ROTATION_PERIOD_MAX.milliseconds
    )
    if fits:
        assert SecretType("k", period).rotation_period == period
        return
    given_as = f"{milliseconds / 1000:g} seconds" if milliseconds % 1000 else period.describe()
    assert refusal(lambda: SecretType("k", period)) == (
        "rotation_period is 1 hour to 100 years (3153600000 seconds) in whole seconds, the only periods a Secret "
        f"Manager rotation schedule takes (secrets schedule sets one from it), got {given_as}",
        "rotation_period",
        None,
    )


def test_a_rotation_period_refused_is_said_as_written() -> None:
    assert refusal(lambda: SecretType("k", Duration(3_600_500)))[0].endswith("got 3600.5 seconds")
    assert refusal(SecretType, "k", Duration(1))[0].endswith("got 0.001 seconds")
    assert refusal(lambda: SecretType("k", Duration.of(minutes=30)))[0].endswith("got 30 minutes")


def test_a_managed_secret_has_a_secret_managers_name_and_iam_members_as_readers() -> None:
    members = tuple(
        f"{kind}:x@y" for kind in ("user", "serviceAccount", "group", "domain", "principal", "principalSet")
    )
    assert ManagedSecret("A_b-9", "t", readers=members).readers == members
    assert ManagedSecret("a" * 200, "t").name == "a" * 200
    for name in ("a" * 201, "", "a.b"):
        assert refusal(ManagedSecret, name, "t") == (
            f"{name!r} is not a secret name (letters, digits, '-' and '_': Secret Manager's)",
            "name",
            None,
        )
    for member in ("ci@p.iam.gserviceaccount.com", "serviceaccount:ci@p", "user:", "user:a b"):
        assert refusal(ManagedSecret, "s", "t", readers=("user:a@b", member)) == (
            f"{member!r} is not an IAM member such as 'serviceAccount:ci@p.iam.gserviceaccount.com'",
            "readers",
            1,
        )


def test_secret_management_finds_its_types_its_default_period_and_its_topic() -> None:
    kinds = (SecretType("api_keys", Duration.of(days=90)), SecretType("db", Duration.of(days=30)))
    management = SecretManagement(secret_types=kinds, rotation="Automated 90-day rotation")
    assert management.secret_type("db") is kinds[1]
    assert management.secret_type("api_keys") is kinds[0]
    assert management.secret_type("other") is None
    assert management.default_rotation_period == Duration.of(days=90)
    assert SecretManagement().default_rotation_period is None
    assert SecretManagement(rotation="by hand").default_rotation_period is None
    topic = "projects/findly-now/topics/secret-rotation"
    assert SecretManagement(rotation_topic=topic).rotation_topic == topic
    for wrong in ("projects/findly-now/topics/", "topics/t", "projects/a/b/topics/t"):
        assert refusal(SecretManagement, rotation_topic=wrong) == (
            f"{wrong!r} is not a Pub/Sub topic such as 'projects/findly-now/topics/secret-rotation'",
            "rotation_topic",
            None,
        )
