"""Cloud DNS — the records ``dr failover`` switches — through its official client: the zone's project, the endpoint (a
stand-in on 127.0.0.1 with anonymous credentials), Application Default Credentials otherwise."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from findly_infra.application.ports import BadInputError
from findly_infra.application.redaction import is_loopback
from findly_infra.bootstrap.extras import require_extra
from findly_infra.bootstrap.google import default_project
from findly_infra.bootstrap.retries import log_retries
from findly_infra.domain.platform import Platform

__all__ = ["dns_endpoint", "dns_project", "dns_records"]


def dns_records(platform: Platform, *, project: str | None = None, environ: Mapping[str, str] | None = None) -> Any:
    """The Cloud DNS adapter (``adapters.cloud_dns.CloudDnsRecords``, an ``application.ports.DnsRecords``) for the
    file's ``failover.dns``: the zone's project as :func:`dns_project` finds it; ``FINDLY_DNS_ENDPOINT`` overrides
    the API's address (``HOST:PORT`` or a URL) — on 127.0.0.1, plain HTTP with anonymous credentials (a stand-in in
    tests). A missing ``dns`` extra is exit 2 naming it."""
    env = os.environ if environ is None else environ
    if platform.failover is None or platform.failover.dns is None:
        raise BadInputError("the platform file has no failover.dns section: there are no DNS records to switch")
    require_extra("dns", "Switching DNS (failover.dns)")
    from findly_infra.adapters.cloud_dns import connect_cloud_dns

    log_retries()

    return connect_cloud_dns(dns_project(platform, project, env), endpoint=dns_endpoint(env))


def dns_project(platform: Platform, given: str | None, env: Mapping[str, str]) -> str:
    """The project of the managed zone: *given*, else ``failover.dns.project``, else ``gke_cluster.project``, else
    ``FINDLY_GCP_PROJECT``, else the credentials'."""
    failover = platform.failover
    in_section = failover.dns.project if failover is not None and failover.dns is not None else None
    in_cluster = platform.gke_cluster.project if platform.gke_cluster is not None else None
    return given or in_section or in_cluster or env.get("FINDLY_GCP_PROJECT") or default_project()


def dns_endpoint(env: Mapping[str, str], variable: str = "FINDLY_DNS_ENDPOINT") -> str | None:
    """The Cloud DNS API's base URL from *variable* (``None``: Google's own): ``HOST:PORT`` is ``http://`` on
    127.0.0.1 (a stand-in) and ``https://`` elsewhere; a URL is taken as written (plain ``http://`` only on
    loopback: ``connect_cloud_dns`` refuses it elsewhere)."""
    endpoint = env.get(variable) or None
    if endpoint is None:
        return None
    url = endpoint if "://" in endpoint else f"http://{endpoint}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - read for its ValueError
    except ValueError as exc:  # "[::1" (Invalid IPv6 URL), a port past 65535
        raise BadInputError(f"{variable} is HOST:PORT or a URL, got {endpoint[:80]!r}: {exc}") from None
    if not parts.hostname or parts.scheme not in ("http", "https"):
        raise BadInputError(f"{variable} is HOST:PORT or an http(s) URL, got {endpoint[:80]!r}")
    if "://" not in endpoint and not is_loopback(url):
        url = f"https://{endpoint}"
    return url.rstrip("/")
