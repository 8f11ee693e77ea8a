"""The Prometheus the settings or the platform file name, with its credentials kept off plain HTTP."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlsplit

from findly_infra.application.ports import BadInputError
from findly_infra.application.redaction import is_loopback, redact_url
from findly_infra.bootstrap.extras import require_extra
from findly_infra.bootstrap.retries import log_retries
from findly_infra.bootstrap.settings import Settings
from findly_infra.domain.platform import Platform

__all__ = ["prometheus_client", "prometheus_url"]


def prometheus_url(settings: Settings, platform: Platform) -> str | None:
    """The Prometheus the analyses read: ``--prometheus-url`` or ``FINDLY_PROMETHEUS_URL``, else the file's
    ``prometheus.url`` (``None``: none is named, and scripted metrics judge the rollouts)."""
    return settings.prometheus_url or platform.prometheus.url or None


def prometheus_client(settings: Settings, platform: Platform, stack: contextlib.ExitStack) -> Any:
    """The Prometheus client the settings or the platform file name (``None``: none is named)."""
    url = prometheus_url(settings, platform)
    if not url:
        return None
    shown = redact_url(url)
    if not url.startswith(("http://", "https://")):
        raise BadInputError(f"--prometheus-url is an http(s) address, got {shown!r}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - read for its ValueError: a port past 65535, or not a number
    except ValueError as exc:  # "http://[::1": Invalid IPv6 URL
        raise BadInputError(f"--prometheus-url (or FINDLY_PROMETHEUS_URL, prometheus.url) {shown!r}: {exc}") from None
    secret = settings.prometheus_token is not None or parts.password is not None
    if secret and url.startswith("http://") and not is_loopback(url) and not settings.allow_plain_http_credentials:
        raise BadInputError(
            f"Prometheus at {shown} is plain HTTP: its credentials (FINDLY_PROMETHEUS_TOKEN, or a password in the "
            "URL) would cross the network readable; use https://, or set FINDLY_ALLOW_PLAIN_HTTP_CREDENTIALS=1 "
            "where the network is trusted"
        )
    require_extra("prometheus", f"reading Prometheus at {shown}")
    from findly_infra.adapters.prometheus import PrometheusClient

    log_retries()
    client = PrometheusClient(
        url,
        token=settings.prometheus_token,
        timeout=platform.prometheus.timeout.seconds,
    )
    stack.callback(client.close)
    return client
