"""Retries said on stderr: stdout is the command's own (one JSON document with ``--json``).

stamina's hooks are process-wide, and its default one logs through structlog's default configuration — on stdout.
So the composition root installs one hook (:func:`log_retries`) before it builds any adapter that retries
(Prometheus, Kubernetes, GKE, Secret Manager): each retry becomes one ``<dependency>.retry_scheduled`` line on
stderr, named by the adapter that retried, never the request (no URL with credentials, no token)."""

from __future__ import annotations

from typing import Any

__all__ = ["log_retries", "said_dependency"]

_DEPENDENCIES = (
    ("findly_infra.adapters.prometheus", "prometheus"),
    ("findly_infra.adapters.kubernetes", "kubernetes"),
    ("findly_infra.adapters.google_api", "google"),
    ("findly_infra.adapters.cloud_dns", "cloud_dns"),
    ("findly_infra.adapters.git_repository", "github"),
)
"""The module of the call stamina retried (or of the exception that caused the retry: stamina names every
``RetryingCaller`` call ``"<context block>"``) -> the dependency the log line names."""


def log_retries() -> None:
    """Make every retry of this process one warning on stderr (instead of stamina's default, on stdout)."""
    import stamina

    stamina.instrumentation.set_on_retry_hooks([_said])


def _said(details: Any) -> None:
    from findly_infra.logs import logger

    cause = details.caused_by
    dependency = said_dependency(str(details.name), type(cause).__module__)
    logger().warning(
        f"{dependency}.retry_scheduled",
        retry=details.retry_num,
        wait_seconds=round(details.wait_for, 3),
        caused_by=f"HTTP {cause.status}" if hasattr(cause, "status") else str(cause)[:200],
    )


def said_dependency(name: str, cause_module: str) -> str:
    """The dependency a retry is of: by the retried call's module, else by its cause's (``"dependency"``: neither
    is one of ours)."""
    for where in (name, cause_module):
        for module, said in _DEPENDENCIES:
            if where.startswith(module):
                return said
    return "dependency"
