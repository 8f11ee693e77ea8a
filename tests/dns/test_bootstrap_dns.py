"""``bootstrap.dns.dns_records``: the Cloud DNS adapter for the file's ``failover.dns`` — its project (the section's,
else the cluster's, else ``FINDLY_GCP_PROJECT``), ``FINDLY_DNS_ENDPOINT`` (a stand-in on 127.0.0.1: plain HTTP,
anonymous credentials), and the exit-2 refusals: no section, no extra."""

from __future__ import annotations

import attrs
import pytest

from findly_infra import load_platform
from findly_infra.application.ports import BadInputError
from findly_infra.bootstrap import MissingExtraError, dns_records
from findly_infra.bootstrap import extras as extras_module
from findly_infra.bootstrap.dns import dns_endpoint, dns_project
from findly_infra.domain.platform import Platform
from findly_infra.domain.recovery import DnsFailover, DnsRecord, FailoverSettings
from tests.conftest import EXAMPLE
from tests.dns.conftest import NAME, ZONE

EXAMPLE_PLATFORM = load_platform(EXAMPLE)


def _platform(project: str | None = None, *, cluster_project: str | None = None) -> Platform:
    record = DnsRecord(NAME, ("34.120.0.10",), ("35.190.0.20",))
    failover = FailoverSettings(context="dr", dns=DnsFailover(ZONE, (record,), project=project))
    cluster = EXAMPLE_PLATFORM.gke_cluster
    assert cluster is not None
    return attrs.evolve(EXAMPLE_PLATFORM, failover=failover, gke_cluster=attrs.evolve(cluster, project=cluster_project))


def test_the_zones_project_is_the_sections_else_the_clusters_else_the_environments() -> None:
    env = {"FINDLY_GCP_PROJECT": "from-env"}
    assert dns_project(_platform("dns-project", cluster_project="gke-project"), None, env) == "dns-project"
    assert dns_project(_platform(None, cluster_project="gke-project"), None, env) == "gke-project"
    assert dns_project(_platform(None), None, env) == "from-env"
    assert dns_project(_platform("dns-project"), "given", env) == "given"


def test_the_endpoint_is_plain_http_only_on_loopback() -> None:
    assert dns_endpoint({}) is None
    assert dns_endpoint({"FINDLY_DNS_ENDPOINT": "127.0.0.1:8053"}) == "http://127.0.0.1:8053"
    assert dns_endpoint({"FINDLY_DNS_ENDPOINT": "http://127.0.0.1:8053/"}) == "http://127.0.0.1:8053"
    assert dns_endpoint({"FINDLY_DNS_ENDPOINT": "dns.example.com:443"}) == "https://dns.example.com:443"
    for bad in ("127.0.0.1:99999", "[::1", "ftp://127.0.0.1:21"):
        with pytest.raises(BadInputError, match="FINDLY_DNS_ENDPOINT"):
            dns_endpoint({"FINDLY_DNS_ENDPOINT": bad})


def test_a_stand_in_endpoint_gets_the_real_client_with_anonymous_credentials() -> None:
    pytest.importorskip("google.cloud.dns", reason="the dns extra")
    from google.auth.credentials import AnonymousCredentials

    records = dns_records(_platform("dns-project"), environ={"FINDLY_DNS_ENDPOINT": "127.0.0.1:8053"})
    assert records.project == "dns-project"
    assert isinstance(records.client._credentials, AnonymousCredentials)
    assert records.client._connection.API_BASE_URL == "http://127.0.0.1:8053"


def test_no_failover_dns_section_is_exit_2() -> None:
    with pytest.raises(BadInputError, match=r"no failover\.dns section"):
        dns_records(attrs.evolve(EXAMPLE_PLATFORM, failover=None), environ={})


def test_without_the_extra_it_is_exit_2_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(extras_module.EXTRAS, "dns", ("findly_no_such_module",))
    with pytest.raises(MissingExtraError, match=r"needs the 'dns' extra.*pip install 'findly-infra\[dns\]'"):
        dns_records(_platform("dns-project"), environ={})
