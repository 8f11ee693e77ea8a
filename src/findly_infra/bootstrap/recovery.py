"""The DR use cases (``application.recovery``) on the ports a failover or a drill needs: the DR cluster's objects
through its kubeconfig context, GKE, Cloud DNS and Prometheus — or, simulated (``dr drill --simulate``), a DR
region in memory."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs

from findly_infra.application.backup import BackupInfo
from findly_infra.application.ports import BadInputError, ClusterInfrastructure, ClusterObjects, DnsRecords
from findly_infra.application.recovery import SIMULATED, InstantQueries, Recovery
from findly_infra.bootstrap.identity import dead_here
from findly_infra.bootstrap.prometheus import prometheus_client
from findly_infra.bootstrap.runtime import Runtime
from findly_infra.bootstrap.settings import Settings
from findly_infra.domain.platform import Platform
from findly_infra.domain.recovery import FailoverSettings, RecoveryKind

__all__ = ["dr_renderer", "newest_backup_in", "open_recovery", "recovery_reader", "simulated_platform"]


def recovery_reader(platform: Platform, runtime: Runtime) -> Recovery:
    """The DR use cases for reading what was recorded (``dr status``, ``history --recovery``): no cluster reached."""
    from findly_infra.adapters.simulated_dr import MemoryClusterObjects

    pipelines = runtime.service
    return Recovery(
        platform, pipelines.store, runtime.clock, pipelines.view, MemoryClusterObjects, dr_renderer(platform)
    )


def dr_renderer(platform: Platform) -> Callable[[str, Mapping[str, str]], list[dict[str, Any]]]:
    """(environment, versions) -> the environment's objects as ``apply`` sends them, for the DR cluster."""
    from findly_infra.render.objects import environment_objects, for_apply

    def render(environment: str, versions: Mapping[str, str]) -> list[dict[str, Any]]:
        return for_apply(environment_objects(platform, environment, versions), environment)

    return render


def simulated_platform(platform: Platform) -> Platform:
    """*platform* as a simulated drill takes it: a file with no ``failover:`` section drills every environment on
    the simulated DR cluster, with no DNS to describe."""
    if platform.failover is not None:
        return platform
    return attrs.evolve(platform, failover=FailoverSettings(context=SIMULATED))


def open_recovery(
    settings: Settings,
    platform: Platform,
    runtime: Runtime,
    stack: contextlib.ExitStack,
    *,
    kind: RecoveryKind,  # noqa: ARG001 - both kinds reach the same ports now (a drill reads the DNS zone)
    context: str | None = None,
    simulate: bool = False,
    no_cluster: bool = False,
    project: str | None = None,
) -> tuple[Recovery, str]:
    """The DR use cases for *kind* on its target (*context*, else ``failover.context``; :data:`SIMULATED` with
    *simulate*), and that target. Both reach Cloud DNS where the file names ``failover.dns``: a failover switches its
    records, a drill reads them (a simulated drill reads none)."""
    pipelines = runtime.service
    objects: ClusterObjects | None = None
    clusters: ClusterInfrastructure | None = None
    dns: DnsRecords | None = None
    prometheus: InstantQueries | None = None
    skip_cluster = "--no-cluster" if no_cluster else ""
    if simulate:
        from findly_infra.adapters.memory import MemoryClusters
        from findly_infra.adapters.simulated_dr import MemoryClusterObjects

        if platform.failover is None and not no_cluster:  # no DR zones named: no DR cluster to simulate
            skip_cluster = "the platform file has no failover section naming the DR cluster's zones"
        platform = simulated_platform(platform)
        target = SIMULATED
        objects = MemoryClusterObjects()
        clusters = None if no_cluster else MemoryClusters()
    else:
        if platform.failover is None:
            raise BadInputError(
                "the platform file has no failover: section (the DR cluster's context, the environments that fail "
                "over, the DNS records that move): docs/disaster-recovery.md shows one; `dr drill --simulate` drills "
                "without one"
            )
        target = context or platform.failover.context
        if platform.gke_cluster is not None and not no_cluster:
            from findly_infra.bootstrap.google import gke_clusters

            clusters = gke_clusters(platform, project=project)
        if platform.failover.dns is not None:  # a drill reads the zone as the failover would (it switches nothing)
            dns = _cloud_dns(platform)
        prometheus = prometheus_client(settings, platform, stack)
    built: list[ClusterObjects] = [objects] if objects is not None else []

    def dr_objects() -> ClusterObjects:
        if not built:
            from findly_infra.bootstrap.clusters import cluster_objects

            assert platform.failover is not None
            environment = platform.failover.environments[0] if platform.failover.environments else None
            built.append(
                cluster_objects(
                    platform,
                    environment or platform.promotion_order[-1],
                    context=target,
                    place=_dr_place(platform, context, project),
                )
            )
        return built[0]

    virtual = runtime.virtual
    recovery = Recovery(
        platform,
        pipelines.store,
        runtime.clock,
        pipelines.view,
        dr_objects,
        dr_renderer(platform),
        clusters=clusters,
        dns=dns,
        prometheus=prometheus,
        error_rate=_error_rate_query(platform) if prometheus is not None else None,
        wait=(lambda seconds: virtual.advance(timedelta(seconds=seconds))) if virtual is not None else time.sleep,
        holder=pipelines.holder,
        wall=pipelines.wall,
        dead=dead_here,
        driver=pipelines.driver,
        project=project,
        no_cluster=skip_cluster,
    )
    recovery.platform_digest = _platform_digest(settings, project)
    if not simulate:

        def preflight() -> None:
            """Before a new operation is recorded: the extras its steps need, and the target's kubeconfig context
            reached (a missing or malformed kubeconfig, a context it lacks: exit 2, nothing recorded)."""
            dr_objects()  # requires the kubernetes extra, reads the kubeconfig, names the context

        recovery.preflight = preflight
    if simulate:
        _rebuild_simulation(recovery, objects, clusters)
    return recovery, target


def _platform_digest(settings: Settings, project: str | None) -> str:
    """The platform file's SHA-256, with ``--project`` (what changes what an operation deploys): empty when no file
    is read (the embedded example)."""
    import hashlib

    try:
        data = settings.config_path.read_bytes()
    except OSError:
        return ""
    return hashlib.sha256(data + b"\0project=" + (project or "").encode()).hexdigest()


def _rebuild_simulation(recovery: Recovery, objects: Any, clusters: Any) -> None:
    """A simulated DR region keeps nothing between runs: a simulated drill resumed after a crash finds it as the
    steps its record says were done left it (the cluster created, the objects applied) — a simulation's own state,
    rebuilt from the record, as the real region would still hold it."""
    from findly_infra.domain.gke import plan_cluster
    from findly_infra.domain.recovery import RecoveryStep

    opened = recovery.open()
    if opened is None or opened.target != SIMULATED:
        return
    done = {event.step for event in opened.done if not event.skipped}
    if RecoveryStep.CLUSTER in done and clusters is not None:
        clusters.apply(plan_cluster(recovery.dr_cluster(), None))
    if RecoveryStep.DEPLOY in done:
        for environment in opened.started.environments:
            for manifest in recovery.objects_of(opened, environment):
                objects.apply_object(manifest)


def _error_rate_query(platform: Platform) -> Callable[[str, str], str]:
    """(service, environment) -> its error rate over the last minute, as the rollout analyses measure it."""
    from findly_infra.adapters.prometheus import Target, criterion_query

    def query(service: str, environment: str) -> str:
        return criterion_query("error_rate", platform.metrics, Target(service, environment), timedelta(minutes=1))

    return query


def _cloud_dns(platform: Platform) -> DnsRecords:
    """Cloud DNS for ``failover.dns`` (``bootstrap.dns.dns_records``, the ``dns`` extra)."""
    from findly_infra.bootstrap.dns import dns_records

    records: DnsRecords = dns_records(platform)
    return records


def newest_backup_in(directory: str) -> BackupInfo:
    """The newest state backup in *directory* (``application.backup.newest_backup``): bad input when the directory
    does not exist or holds none."""
    from findly_infra.application.backup import newest_backup

    if not Path(directory).is_dir():
        raise BadInputError(f"--backups {directory}: no such directory")
    found = newest_backup(directory)
    if found is None:
        raise BadInputError(f"--backups {directory}: holds no state backup (`findly-infra state backup` writes one)")
    return found


def _dr_place(platform: Platform, given: str | None, project: str | None) -> str:
    """Where a drill's or failover's cluster context came from, for the error of a kubeconfig that lacks it — with
    how such a context is made (``FINDLY_KUBE_CONTEXT`` does not change a DR target: not suggested)."""
    if given is not None:
        return f"--context {given} (the drill's target)"
    from findly_infra.render.runbook import dr_credentials

    assert platform.failover is not None
    command, named = dr_credentials(platform, project)
    return (
        f"failover.context {platform.failover.context} (the DR cluster's: once the cluster exists, `{command}` adds "
        f"the context {named})"
    )
