"""The rules of ``domain.operations``, pinned (issue 23): alert rules (a PromQL expression's brackets and quotes read
as PromQL reads them), the load balancer's backends, certificate domains and static addresses as GKE and Compute
Engine take them, backups and disaster recovery, performance targets, metric names, clusters, namespaces and
Prometheus. Each refusal is exact (words, field, index) and each boundary tried on both sides. Fast, in-process."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from findly_infra.domain.errors import InvariantError
from findly_infra.domain.notation import Duration
from findly_infra.domain.operations import (
    MAX_CERTIFICATE_DOMAINS,
    AlertRule,
    Backend,
    BackupPolicy,
    ClusterBinding,
    DisasterRecovery,
    DisasterRecoveryTesting,
    GlobalLoadBalancer,
    KubernetesSettings,
    MetricNames,
    MultiRegion,
    PerformanceTargets,
    PrometheusSettings,
    address_name_problem,
    certificate_domain_problem,
)

Refusal = tuple[str, str | None, int | str | None]


def refusal(make: Callable[..., object], *args: object, **kwargs: object) -> Refusal:
    """What ``make(*args, **kwargs)`` is refused with: the message, the field and the index it names."""
    with pytest.raises(InvariantError) as caught:
        make(*args, **kwargs)
    return caught.value.message, caught.value.field, caught.value.index


# ---- alert rules --------------------------------------------------------------------------------------------------


def test_an_alert_has_a_name_and_an_expression() -> None:
    assert AlertRule("_High_Errors1", "up == 0", "critical").duration == Duration(0)
    assert refusal(AlertRule, "1high", "up", "critical") == (
        "'1high' is not an alert name (letters, digits and '_', not starting with a digit)",
        "alert",
        None,
    )
    assert refusal(AlertRule, "high-errors", "up", "critical")[1] == "alert"
    assert refusal(AlertRule, "High", " \t", "critical") == ("the expression is empty", "expression", None)


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("sum(rate(x[5m])", "has an unclosed '('"),
        ("sum(rate(x[5m]))) > 1", "has an unmatched ')' at character 17"),
        ("x{a='b'}]", "has an unmatched ']' at character 9"),
        ("x{a='b')", "has an unmatched ')' at character 8"),
        ('x{a="b}', 'has an unclosed " quote'),
        ("x{a='b}", "has an unclosed ' quote"),
        ("x{a=`b}", "has an unclosed ` quote"),
        ('x{a="b\\"}', 'has an unclosed " quote'),  # an escaped quote does not close
        ("x{a=[b}", "has an unmatched '}' at character 7"),
        ("(", "has an unclosed '('"),
        ("{[", "has an unclosed '['"),
    ],
)
def test_an_expression_whose_brackets_or_quotes_do_not_match_is_refused(expression: str, problem: str) -> None:
    assert refusal(AlertRule, "A", expression, "critical") == (f"the expression {problem}", "expression", None)


@pytest.mark.parametrize(
    "expression",
    [
        'x{path="a)"} > 0',
        "x{path='(['} > 0",
        "x{path=`{`} > 0",
        'x{path="C:\\\\"} > 0',  # an escaped backslash, then the closing quote
        "x{path='it\\'s ('} > 0",
        "x{path=`C:\\`} > 0",  # a backslash in backticks escapes nothing (PromQL: no escapes in backticks)
        'rate(x[5m]) # a comment ( with " an unclosed bracket and quote\n > 0',
        "(\n# )\n x)",
        "up # a comment to the end",
        'X{a="b"} > 0',
    ],
)
def test_brackets_and_quotes_are_read_as_promql_reads_them(expression: str) -> None:
    """Defect (issue 23, found by pinning ``_unbalanced``): a quote after an escaped backslash (``"C:\\\\"``) or after
    a backslash in backticks was taken as escaped, and a comment's brackets and quotes as the expression's: a valid
    alert rule was refused."""
    assert AlertRule("A", expression, "critical").expression == expression


# ---- the load balancer ---------------------------------------------------------------------------------------------


def test_a_backend_is_a_service_behind_an_absolute_path_with_an_absolute_health_check() -> None:
    assert Backend("fn-posts", "/posts").health_check == "/health"
    assert refusal(Backend, "Fn", "/posts")[1] == "service"
    assert refusal(Backend, "fn-posts", "posts") == ("path starts with '/', got 'posts'", "path", None)
    assert refusal(Backend, "fn-posts", "/posts", "health") == (
        "health_check starts with '/', got 'health'",
        "health_check",
        None,
    )


@pytest.mark.parametrize(
    ("domain", "problem"),
    [
        (
            "*.findly.now",
            "'*.findly.now' is a wildcard: a Google-managed certificate (ManagedCertificate) takes no wildcard "
            "domains; list each name",
        ),
        (
            "findly.now.",
            "'findly.now.': write the domain without its final dot (ManagedCertificate's pattern has none)",
        ),
        ("Findly.now", "'Findly.now': write the domain in lower case (ManagedCertificate's pattern takes no capitals)"),
        ("a" * 60 + ".now", f"'{'a' * 60}.now' is 64 characters long: a ManagedCertificate domain has at most 63"),
        (
            "localhost",
            "'localhost' is not a DNS name such as 'api.findly.now' (labels of letters, digits and '-', dotted)",
        ),
        ("a.1now", "'a.1now' is not a DNS name such as 'api.findly.now' (labels of letters, digits and '-', dotted)"),
        ("a-.now", "'a-.now' is not a DNS name such as 'api.findly.now' (labels of letters, digits and '-', dotted)"),
        ("a" * 59 + ".now", None),
        ("api.findly.now", None),
        ("a.b-c.now", None),
    ],
)
def test_a_certificate_domain_is_one_a_managed_certificate_takes(domain: str, problem: str | None) -> None:
    assert certificate_domain_problem(domain) == problem


@given(st.from_regex(r"[a-z0-9-]{0,66}", fullmatch=True))
def test_an_address_name_is_1_to_63_lower_case_characters_starting_with_a_letter(name: str) -> None:
    fits = (
        1 <= len(name) <= 63
        and name[0].isalpha()
        and not name.endswith("-")
        and all(c.isdigit() or c.islower() or c == "-" for c in name)
    )
    expected = (
        None
        if fits
        else f"{name!r} is not the name of a reserved address (gcloud compute addresses create NAME --global: 1-63 "
        "lower-case letters, digits and '-', starting with a letter)"
    )
    assert address_name_problem(name) == expected


def test_the_boundaries_of_an_address_name() -> None:
    assert address_name_problem("a" * 63) is None
    assert address_name_problem("a" * 64) is not None
    assert address_name_problem("a") is None


def test_a_load_balancer_routes_each_path_once_and_names_valid_domains_and_addresses_per_environment() -> None:
    posts, matcher = Backend("fn-posts", "/posts"), Backend("fn-matcher", "/match")
    balancer = GlobalLoadBalancer(
        (posts, matcher),
        domains=(("staging", ("s.findly.now",)), ("production", ("findly.now", "api.findly.now"))),
        static_ips=(("staging", "staging-ip"), ("production", "production-ip")),
    )
    assert balancer.domains_for("production") == ("findly.now", "api.findly.now")
    assert balancer.domains_for("staging") == ("s.findly.now",)
    assert balancer.domains_for("development") == ()
    assert balancer.static_ip_for("production") == "production-ip"
    assert balancer.static_ip_for("staging") == "staging-ip"
    assert balancer.static_ip_for("development") is None
    assert refusal(GlobalLoadBalancer, (posts, matcher, Backend("fn-other", "/posts"))) == (
        "the path '/posts' is routed twice",
        "backends",
        2,
    )
    many = tuple(f"d{i}.findly.now" for i in range(MAX_CERTIFICATE_DOMAINS + 1))
    assert GlobalLoadBalancer(domains=(("production", many[:-1]),)).domains_for("production") == many[:-1]
    assert refusal(GlobalLoadBalancer, domains=(("staging", ()), ("production", many))) == (
        "production lists 101 domains: a Google-managed certificate (ManagedCertificate) covers at most 100",
        "domains",
        "production",
    )
    assert refusal(GlobalLoadBalancer, domains=(("staging", ("a.now", "*.now")),)) == (
        certificate_domain_problem("*.now"),
        "domains",
        "staging",
    )
    assert refusal(GlobalLoadBalancer, domains=(("staging", ("a.now", "b.now", "a.now")),)) == (
        "'a.now' is listed twice",
        "domains",
        "staging",
    )
    assert refusal(GlobalLoadBalancer, static_ips=(("staging", "ok"), ("production", "Bad"))) == (
        address_name_problem("Bad"),
        "static_ips",
        "production",
    )


@pytest.mark.parametrize(
    ("said", "managed"),
    [("Google-managed SSL", True), ("google managed", True), ("GOOGLE--MANAGED", True), ("Self-managed", False)],
)
def test_google_managed_certificates_are_read_from_the_prose(said: str, managed: bool) -> None:
    assert GlobalLoadBalancer(ssl_certificates=said).google_managed is managed


# ---- backups and disaster recovery ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "retention", "continuous", "interval", "kept", "loss"),
    [
        ("Continuous replication + hourly snapshots", "30 days", True, Duration.of(hours=1), Duration.of(days=30), 0),
        ("Real-time replication", "Indefinite", True, None, None, 0),
        ("realtime", "forever", True, None, None, 0),
        ("Streaming WAL", "unlimited", True, None, None, 0),
        ("Daily snapshots", "7 days", False, Duration.of(days=1), Duration.of(days=7), Duration.of(days=1)),
        ("Weekly", "as needed", False, Duration.of(days=7), None, Duration.of(days=7)),
        ("on demand", "90 days", False, None, Duration.of(days=90), None),
    ],
)
def test_a_backup_policys_prose_is_read_for_what_it_states(  # noqa: PLR0917 - one row of the table
    frequency: str,
    retention: str,
    continuous: bool,
    interval: Duration | None,
    kept: Duration | None,
    loss: Duration | int | None,
) -> None:
    policy = BackupPolicy("db", frequency, retention)
    assert policy.continuous is continuous
    assert policy.interval == interval
    assert policy.retention_period == kept
    assert policy.worst_case_loss == (Duration(0) if loss == 0 else loss)


def test_disaster_recovery_has_two_regions_positive_targets_and_a_drill_cadence() -> None:
    assert refusal(MultiRegion, "europe-west1", "europe-west1") == (
        "the disaster-recovery region must differ from the primary region 'europe-west1'",
        "dr_region",
        None,
    )
    assert MultiRegion("europe-west1", "europe-west4").dr_region == "europe-west4"
    assert DisasterRecoveryTesting("Quarterly").interval == Duration.of(days=91)
    assert DisasterRecoveryTesting().interval is None
    assert DisasterRecovery(Duration(1), Duration(1)).rto_target == Duration(1)
    assert refusal(DisasterRecovery, Duration(0), Duration(1)) == ("rto_target is a positive time", "rto_target", None)
    assert refusal(DisasterRecovery, Duration(1), Duration(0)) == ("rpo_target is a positive time", "rpo_target", None)


@pytest.mark.parametrize("field", ["deployment_speed", "scaling_response", "recovery_time", "alert_latency"])
def test_each_performance_target_is_a_positive_time(field: str) -> None:
    assert getattr(PerformanceTargets(**{field: Duration(1)}), field) == Duration(1)
    assert refusal(PerformanceTargets, **{field: Duration(0)}) == (f"{field} is a positive time", field, None)


# ---- metric names --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", MetricNames.METRIC_FIELDS)
def test_each_metric_is_a_prometheus_metric_name(field: str) -> None:
    assert getattr(MetricNames(**{field: "ns:metric_1"}), field) == "ns:metric_1"
    assert refusal(MetricNames, **{field: "1metric"}) == ("'1metric' is not a metric name", field, None)


@pytest.mark.parametrize("field", MetricNames.LABEL_FIELDS)
def test_each_label_is_a_prometheus_label_name(field: str) -> None:
    assert getattr(MetricNames(**{field: "_label1"}), field) == "_label1"
    assert refusal(MetricNames, **{field: "a:b"}) == ("'a:b' is not a label name", field, None)


def test_the_environment_label_may_be_dropped() -> None:
    assert MetricNames(environment_label=None).environment_label is None


# ---- clusters and namespaces ----------------------------------------------------------------------------------------


def test_a_cluster_binding_is_a_context_or_the_pods_service_account() -> None:
    assert ClusterBinding("staging").context is None
    assert ClusterBinding("staging", "c" * 253).context == "c" * 253
    assert ClusterBinding("staging", in_cluster=True).in_cluster
    for context in ("", "  ", "c" * 254):
        assert refusal(ClusterBinding, "staging", context) == (
            f"{context!r} is not a kubeconfig context name",
            "context",
            None,
        )
    assert refusal(ClusterBinding, "staging", "gke", in_cluster=True) == (
        "in_cluster: true uses the pod's service account; a kubeconfig context is for the other case: give one of them",
        "in_cluster",
        None,
    )


def test_kubernetes_settings_name_each_environments_namespace_and_its_cluster() -> None:
    staging, production = ClusterBinding("staging", "s"), ClusterBinding("production", in_cluster=True)
    settings = KubernetesSettings("n" * 40, "1.9", (staging, production))
    assert settings.namespace_for("staging") == f"{'n' * 40}-staging"
    assert settings.cluster_for("staging") is staging
    assert settings.cluster_for("production") is production
    assert settings.cluster_for("development") is None
    for namespace in ("n" * 41, "Findly", "-a", "a-"):
        assert refusal(KubernetesSettings, namespace) == (
            f"{namespace!r} is not a namespace name (lower-case letters, digits, '-'; at most 40)",
            "namespace",
            None,
        )
    for version in ("1", "2.32", "1.32.1", "v1.32"):
        assert refusal(KubernetesSettings, kubernetes_version=version) == (
            f"kubernetes_version is written like '1.32', got {version!r}",
            "kubernetes_version",
            None,
        )


def test_prometheus_is_an_http_address_read_with_a_timeout_and_window_of_at_least_a_second() -> None:
    assert PrometheusSettings("https://p:9090", Duration(1000), Duration(1000)).url == "https://p:9090"
    assert PrometheusSettings("http://p").url == "http://p"
    for url in ("p:9090", "ftp://p", "http:// p", "http:///p"):
        assert refusal(PrometheusSettings, url) == (
            f"url is an http(s) address such as 'http://prometheus:9090', got {url!r}",
            "url",
            None,
        )
    assert refusal(PrometheusSettings, timeout=Duration(999)) == ("timeout is at least 1s", "timeout", None)
    assert refusal(PrometheusSettings, window=Duration(999)) == ("window is at least 1s", "window", None)
