"""Google Cloud's APIs — GKE and Secret Manager — through their official clients: the project, the endpoint (a
plain channel only on loopback: a stand-in), Application Default Credentials."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

from findly_infra.application.ports import BadInputError
from findly_infra.application.redaction import is_loopback
from findly_infra.bootstrap.extras import require_extra
from findly_infra.bootstrap.retries import log_retries
from findly_infra.domain.platform import Platform

__all__ = ["LazySecrets", "gke_clusters", "google_endpoint", "google_project", "release_gated", "secret_store"]


def gke_clusters(platform: Platform, *, project: str | None = None, environ: Mapping[str, str] | None = None) -> Any:
    """The GKE adapter (``adapters.gke.GkeClusters``) for the file's ``gke_cluster``: its project from *project*
    (``--project``), else the file's ``gke_cluster.project``, else ``FINDLY_GCP_PROJECT``, else the credentials'.
    ``FINDLY_GKE_ENDPOINT`` overrides the API's address — on 127.0.0.1, a plain channel (a stand-in in tests)."""
    env = os.environ if environ is None else environ
    if platform.gke_cluster is None:
        raise BadInputError("the platform file has no gke_cluster section: there is no cluster to plan")
    require_extra("gke", "GKE")
    from findly_infra.adapters.gke import connect_gke

    log_retries()

    endpoint, channel = google_endpoint(env, "FINDLY_GKE_ENDPOINT")
    return connect_gke(google_project(platform, project, env), endpoint=endpoint, channel=channel)


def secret_store(platform: Platform, *, project: str | None = None, environ: Mapping[str, str] | None = None) -> Any:
    """The Secret Manager adapter (``adapters.secret_manager.SecretStore``): the project as for GKE;
    ``FINDLY_SECRET_MANAGER_ENDPOINT`` overrides the API's address (on 127.0.0.1, a plain channel: a stand-in)."""
    env = os.environ if environ is None else environ
    require_extra("secret-manager", "Secret Manager")
    from findly_infra.adapters.secret_manager import connect_secret_manager

    log_retries()

    endpoint, channel = google_endpoint(env, "FINDLY_SECRET_MANAGER_ENDPOINT")
    return connect_secret_manager(google_project(platform, project, env), endpoint=endpoint, channel=channel)


def google_endpoint(env: Mapping[str, str], variable: str) -> tuple[str | None, Any]:
    """A Google API's address from *variable*: (``None``, a plain gRPC channel) on 127.0.0.1 — a stand-in — else
    (the endpoint or ``None``, no channel: the client's own TLS)."""
    endpoint = env.get(variable) or None
    if endpoint is not None:
        try:
            urlsplit(f"http://{endpoint}").port  # noqa: B018 - read for its ValueError
        except ValueError as exc:  # "[::1" (Invalid IPv6 URL), a port past 65535
            raise BadInputError(f"{variable} is HOST:PORT, got {endpoint[:80]!r}: {exc}") from None
    if endpoint is not None and is_loopback(f"http://{endpoint}"):
        import grpc

        return None, grpc.insecure_channel(endpoint)
    return endpoint, None


def google_project(platform: Platform, given: str | None, env: Mapping[str, str]) -> str:
    """The Google Cloud project: *given* (``--project``), else ``gke_cluster.project``, else ``FINDLY_GCP_PROJECT``,
    else the credentials'."""
    in_file = platform.gke_cluster.project if platform.gke_cluster is not None else None
    return given or in_file or env.get("FINDLY_GCP_PROJECT") or default_project()


def default_project() -> str:
    """The project of Application Default Credentials, when they name one."""
    try:
        import google.auth

        _, project = google.auth.default()
    except Exception as exc:  # noqa: BLE001 - no credentials at all: said, with what to do
        raise BadInputError(
            f"no Google Cloud project: give --project, gke_cluster.project in the file or FINDLY_GCP_PROJECT ({exc})"
        ) from None
    if not project:
        raise BadInputError("no Google Cloud project: give --project, gke_cluster.project or FINDLY_GCP_PROJECT")
    return str(project)


def release_gated(platform: Platform) -> bool:
    managed = platform.secret_management
    return managed is not None and managed.release_gate and bool(managed.secrets)


@attrs.define
class LazySecrets:
    """The release gate's secret store, reached on the first rollout that needs it (a command that starts none never
    loads the Secret Manager client)."""

    platform: Platform
    _store: Any = attrs.field(default=None, init=False)

    def observe(self, secret: str) -> Any:
        if self._store is None:
            self._store = secret_store(self.platform)
        return self._store.observe(secret)
