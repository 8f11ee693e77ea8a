"""The domains of each environment's Google-managed certificate (our ``ingress_configuration.global_load_balancer.
domains`` and ``static_ips``): a domain passes exactly when GKE's published ManagedCertificate CRD would take it
(property-tested against the CRD's own pattern and limits), every refusal names its place, and ``validate`` says
where HTTPS cannot be had (rules ``ingress-domains``, ``ingress-https``)."""

from __future__ import annotations

import re
from typing import Any

import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from findly_infra import validate_platform_text
from findly_infra.config.loader import converter
from findly_infra.domain import Platform
from findly_infra.domain.operations import certificate_domain_problem
from findly_infra.testing.strategies import certificate_domains

from .conftest import EXAMPLE

# GoogleCloudPlatform/gke-managed-certs, deploy/managedcertificates-crd.yaml: spec.domains items
CRD_PATTERN = re.compile(r"^(([a-z0-9]+|[a-z0-9][-a-z0-9]*[a-z0-9])\.)+[a-z][-a-z0-9]*[a-z0-9]$")
CRD_MAX_LENGTH = 63


def crd_takes(domain: str) -> bool:
    return len(domain) <= CRD_MAX_LENGTH and CRD_PATTERN.match(domain) is not None


@given(
    st.one_of(
        certificate_domains,
        certificate_domains.map(lambda d: f"*.{d}"),
        certificate_domains.map(str.upper),
        certificate_domains.map(lambda d: f"{d}."),
        certificate_domains.map(lambda d: f"{'a' * 60}.{d}"),
        st.text(alphabet="abz019-.*A_ ", max_size=70),
    )
)
@example("api.findly.now")
@example("localhost")  # one label: no dot, refused by the pattern
@example("a.b1")
@example("x.1com")
def test_a_domain_passes_exactly_when_the_managedcertificate_crd_takes_it(domain: str) -> None:
    problem = certificate_domain_problem(domain)
    assert (problem is None) == crd_takes(domain), problem
    if problem is not None:
        assert repr(domain) in problem


def _report(balancer: dict[str, Any]) -> Any:
    document = yaml.safe_load(EXAMPLE.read_text())
    document["ingress_configuration"]["global_load_balancer"].update(balancer)
    return validate_platform_text(yaml.safe_dump(document, sort_keys=False))


def test_every_refused_domain_or_address_is_named_at_its_place() -> None:
    report = _report(
        {
            "domains": {
                "production": ["api.findly.now", "*.findly.now", "API.findly.now", "api.findly.now"],
                "staging": ["api.findly.now"],
                "qa": ["qa.findly.now"],
            },
            "static_ips": {"production": "Findly_IP"},
        }
    )
    errors = {(e.path, e.rule) for e in report.errors}
    assert ("ingress_configuration.global_load_balancer.domains.production[1]", "structure") in errors
    assert ("ingress_configuration.global_load_balancer.domains.production[2]", "structure") in errors
    assert ("ingress_configuration.global_load_balancer.static_ips.production", "structure") in errors
    wildcard = next(e for e in report.errors if e.path.endswith("production[1]"))
    assert "takes no wildcard domains" in wildcard.message
    twice = _report({"domains": {"production": ["api.findly.now", "api.findly.now"]}})
    assert [(e.path, e.message) for e in twice.errors] == [
        ("ingress_configuration.global_load_balancer.domains.production", "'api.findly.now' is listed twice")
    ]
    many = _report({"domains": {"production": [f"h{i}.findly.now" for i in range(101)]}})
    assert [e.path for e in many.errors] == ["ingress_configuration.global_load_balancer.domains.production"]
    assert "at most 100" in many.errors[0].message
    shared = _report({"domains": {"production": ["api.findly.now"], "staging": ["api.findly.now"], "qa": ["q.x.io"]}})
    assert {(e.path, e.rule) for e in shared.errors} == {
        ("ingress_configuration.global_load_balancer.domains.staging[0]", "ingress-domains"),
        ("ingress_configuration.global_load_balancer.domains.qa", "ingress-domains"),
    }
    assert "production's too" in next(e.message for e in shared.errors if e.path.endswith("staging[0]"))


def test_validate_says_where_an_ingress_would_serve_plain_http() -> None:
    """Defect (issue 22): ``ssl_certificates: "Google-managed SSL"`` was taken at its word with no domain anywhere:
    the Ingress named a certificate nobody could provision."""
    seed = _report({})
    (https,) = [w for w in seed.warnings if w.rule == "ingress-https"]
    assert https.path == "ingress_configuration.global_load_balancer.ssl_certificates"
    assert "development, staging, production have none" in https.message
    partial = _report({"domains": {"production": ["api.findly.now"]}})
    said = {(w.path, w.message.split(":")[0]) for w in partial.warnings if w.rule == "ingress-https"}
    assert said == {
        (
            "ingress_configuration.global_load_balancer.ssl_certificates",
            "Google-managed SSL needs each environment's domains (ingress_configuration.global_load_balancer.domains), "
            "and development, staging have none",
        ),
        (
            "ingress_configuration.global_load_balancer.static_ips",
            "production takes an ephemeral address, which changes when the Ingress is re-created, leaving the "
            "domains' DNS records pointing elsewhere",
        ),
    }
    complete = _report(
        {
            "domains": {e: [f"api.{e}.findly.now"] for e in ("development", "staging", "production")},
            "static_ips": {e: f"findly-now-{e}" for e in ("development", "staging", "production")},
        }
    )
    assert complete.ok
    assert [w for w in complete.warnings if w.rule.startswith("ingress")] == []
    assert complete.platform is not None
    again = converter().structure(converter().unstructure(complete.platform), Platform)
    assert again == complete.platform


def test_the_render_pages_https_block_loads_and_renders_what_the_page_shows() -> None:
    from findly_infra.render import render_platform
    from tests.conftest import ROOT

    page = (ROOT / "docs" / "render.md").read_text()
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", page, re.S) if "domains:" in b]
    report = _report(yaml.safe_load(block)["ingress_configuration"]["global_load_balancer"])
    assert report.ok, [str(e) for e in report.errors]
    tree = render_platform(report.platform)
    certificate = yaml.safe_load(tree["overlays/production/managedcertificate.yaml"])
    assert (certificate["kind"], certificate["metadata"]["name"]) == ("ManagedCertificate", "findly-now")
    assert certificate["spec"]["domains"] == ["api.findly.now", "www.findly.now"]
    annotations = yaml.safe_load(tree["overlays/production/ingress.yaml"])["metadata"]["annotations"]
    assert annotations == {
        "kubernetes.io/ingress.class": "gce",
        "kubernetes.io/ingress.global-static-ip-name": "findly-now-production",
        "networking.gke.io/managed-certificates": "findly-now",
    }
    shown = page.split("renders, in `overlays/production/`:", 1)[1].split("```")[1]
    for key, value in annotations.items():
        assert f"{key}: {value}" in shown


def test_the_platform_file_pages_ingress_keys_load_where_it_says() -> None:
    from tests.conftest import ROOT

    page = (ROOT / "docs" / "platform-file.md").read_text()
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", page, re.S) if "static_ips" in b]
    report = _report(yaml.safe_load(block)["ingress_configuration"]["global_load_balancer"])
    assert report.ok, [str(e) for e in report.errors]
    assert report.platform is not None
    assert report.platform.ingress_configuration is not None
    balancer = report.platform.ingress_configuration.global_load_balancer
    assert balancer.domains_for("staging") == ("api.staging.findly.now",)
    assert balancer.static_ip_for("production") == "findly-now-production"
    assert len(balancer.backends) == 3  # the seed's, kept beside our keys
