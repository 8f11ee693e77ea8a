"""Which optional extras the release commands need with given settings and a platform file — decided by the very
predicates the composition root builds each adapter on, so that the list (the ``extras`` command, the Action's
install) can never disagree with the exit 2 "needs the X extra" of :func:`~findly_infra.bootstrap.extras.require_extra`.
"""

from __future__ import annotations

from collections.abc import Mapping

from findly_infra.bootstrap.clusters import bound_environments
from findly_infra.bootstrap.google import release_gated
from findly_infra.bootstrap.identity import verifying_environments
from findly_infra.bootstrap.prometheus import prometheus_url
from findly_infra.bootstrap.settings import Settings
from findly_infra.bootstrap.stores import is_postgres
from findly_infra.domain.platform import Platform

__all__ = ["needed_dr_extras", "needed_extras"]


def needed_extras(
    settings: Settings, platform: Platform, *, origins: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The extras the release commands (``deploy``, ``promote``, ``record``, ``approve``, ``rollout``, ``status``,
    ``github``, …) need with these *settings* and this *platform*, each with why, sorted by name (empty: the core
    is enough). The state's URL (``stores.is_postgres``: ``open_store`` opens PostgreSQL), the Prometheus named
    (``prometheus.prometheus_url``: ``prometheus_client``), the environments bound to a cluster
    (``clusters.bound_environments``: ``workloads_for``), those whose policy verifies identities
    (``identity.verifying_environments``: the command line asks for a token there) and the release gate
    (``google.release_gated``: the runtime's ``LazySecrets``) — installing these spares every release command the
    exit 2 of ``require_extra``; and the receivers ``notifications:`` declares (``bootstrap.notify``: without the
    extra, each delivery fails saying which to install — a release never fails for want of it). Reads nothing but
    its arguments: nothing is imported or reached.

    *origins* names where ``state`` and ``prometheus_url`` came from (``--state``, ``FINDLY_STATE``, …), for the
    reasons; no value is ever repeated in them (a URL may hold a password).
    """
    origins = origins or {}
    why: dict[str, str] = {}
    if is_postgres(settings.state):
        scheme = settings.state.partition("://")[0]
        why["postgresql"] = f"{origins.get('state', 'the state')} is a {scheme}:// URL (a team's shared state)"
    if prometheus_url(settings, platform):
        source = origins.get("prometheus_url") if settings.prometheus_url else "the platform file's prometheus.url"
        why["prometheus"] = f"{source or 'the Prometheus URL'} names a Prometheus: rollouts are judged on its metrics"
    if bound := bound_environments(platform):
        why["kubernetes"] = f"kubernetes.clusters binds {', '.join(bound)} to a cluster"
    if platform.gitops is not None and platform.gitops.environments:  # the controller's object is read (issue 28)
        handed = ", ".join(binding.environment for binding in platform.gitops.environments)
        said = f"{why['kubernetes']}; " if "kubernetes" in why else ""
        why["kubernetes"] = f"{said}gitops.environments hands {handed} to {platform.gitops.controller.value}"
        if platform.gitops.pull_request:
            why["gitops"] = "gitops.pull_request: true opens the pull requests through GitHub's API"
    if verifying := verifying_environments(platform):
        why["github"] = (
            f"{', '.join(f'environments.{name}' for name in verifying)} verif{'ies' if len(verifying) == 1 else 'y'} "
            "identities (identity: {verified: true}): GitHub Actions OIDC tokens"
        )
    if release_gated(platform):
        why["secret-manager"] = (
            "secret_management.release_gate is true: a deploy or promotion reads its secrets in Secret Manager first"
        )
    if receivers := platform.notifications.receivers:
        why["notifications"] = (
            f"notifications.receivers declares {', '.join(receiver.name for receiver in receivers)}: "
            "every release command tells them what it did"
        )
        held = [
            f"notifications.receivers.{receiver.name}.{field}"
            for receiver in receivers
            for field, source in receiver.settings()
            if source.kind == "secret"
        ]
        if held and "secret-manager" not in why:
            why["secret-manager"] = f"{', '.join(held)} {'is' if len(held) == 1 else 'are'} read from Secret Manager"
    return dict(sorted(why.items()))


def needed_dr_extras(
    settings: Settings, platform: Platform, *, origins: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The extras ``dr drill`` and ``dr failover`` (not simulated), ``state backup`` and ``state restore`` need with
    these *settings* and this *platform* (``extras --dr``), each with why, sorted — decided as
    ``bootstrap.recovery.open_recovery`` builds them: the DR cluster through GKE where ``gke_cluster`` is declared
    (``gke``; not with ``--no-cluster``), its objects through its kubeconfig context (``kubernetes``), Cloud DNS where
    ``failover.dns`` names records (``dns``: a drill reads them too), the health check where a Prometheus is named,
    and a PostgreSQL state. Without a ``failover:`` section only the state's extra: the DR commands refuse (or
    simulate)."""
    origins = origins or {}
    why: dict[str, str] = {}
    if is_postgres(settings.state):
        scheme = settings.state.partition("://")[0]
        why["postgresql"] = (
            f"{origins.get('state', 'the state')} is a {scheme}:// URL: state backup/restore and dr read and write it"
        )
    failover = platform.failover
    if failover is not None:
        if platform.gke_cluster is not None:
            why["gke"] = (
                "gke_cluster and failover: dr drill/failover bring the DR cluster to the file (not with --no-cluster)"
            )
        why["kubernetes"] = f"failover.context {failover.context}: dr drill/failover apply to the DR cluster"
        if failover.dns is not None:
            why["dns"] = (
                f"failover.dns (zone {failover.dns.zone}): dr failover switches its records, dr drill reads them"
            )
        if prometheus_url(settings, platform):
            why["prometheus"] = "a Prometheus is named: dr drill/failover check each service's health through it"
    return dict(sorted(why.items()))
