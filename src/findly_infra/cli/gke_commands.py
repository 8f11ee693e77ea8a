"""``cluster plan`` and ``cluster apply``: the GKE cluster the platform file describes (``gke_cluster``,
``cluster_autoscaler``) against the real one — a plan people can review, decided by the domain (``domain.gke``), and
carried out by the GKE adapter. A cluster that does not exist is planned as a create; ``--dr`` plans the DR region's
copy of it (``domain.gke.dr_cluster_spec``: ``failover.cluster`` in ``disaster_recovery.multi_region.dr_region``),
so that both regions are declared by one file."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from findly_infra.cli.context import Command, Context
from findly_infra.cli.exits import EXIT_DRIFT, EXIT_OK

if TYPE_CHECKING:
    from findly_infra.domain.gke import ClusterSpec
    from findly_infra.domain.platform import Platform

__all__ = ["COMMANDS"]


def _arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="cluster_command", metavar="ACTION", required=True)
    for name, summary in (
        ("plan", "what differs, field by field, and the call that changes each: exit 0 none, 7 it differs"),
        ("apply", "carry the plan out, one operation at a time; stops at the first that fails (exit 5)"),
    ):
        action = actions.add_parser(name, help=summary)
        action.add_argument(
            "--project",
            help="the Google Cloud project (default: gke_cluster.project, else $FINDLY_GCP_PROJECT, else the "
            "credentials')",
        )
        action.add_argument(
            "--delete-pools", action="store_true", help="delete node pools the file does not list (else kept, shown)"
        )
        action.add_argument(
            "--dr",
            action="store_true",
            help="the DR region's copy of gke_cluster (failover.cluster, in disaster_recovery.multi_region.dr_region)",
        )


def _plan_json(plan: Any) -> dict[str, Any]:
    return {
        "cluster": plan.cluster,
        "location": plan.location,
        "master_version": plan.master_version,
        "empty": plan.empty,
        # the cluster does not exist: what create_cluster makes (null: it exists, and the rest says what changes)
        "creates": _created(plan.creates) if plan.creates is not None else None,
        "cluster_changes": [_field(change) for change in plan.cluster_changes],
        "node_pools": [
            {
                "name": change.pool,
                "action": change.action.name.lower(),
                "fields": [_field(field) for field in change.fields],
                **(
                    {"version": change.spec.version, "image_type": change.spec.image_type}
                    if change.spec is not None and change.spec.version
                    else {}
                ),
                # the whole pool before -> after (null: none), beside the fields that differ
                "before": _value(change.was) if change.was is not None else None,
                "after": _value(change.spec) if change.spec is not None else None,
            }
            for change in plan.pools
        ],
        "unchanged": list(plan.unchanged),
    }


def _field(change: Any) -> dict[str, Any]:
    return {
        "field": change.field,
        "before": _value(change.before),
        "after": _value(change.after),
        "call": change.call,
        "recreates_nodes": change.recreates_nodes,
        "says": change.describe(),
    }


def _value(value: object) -> object:
    """A field's value as JSON: node auto-provisioning's limits as an object, taints and zones as lists."""
    import attrs

    if attrs.has(type(value)):
        return attrs.asdict(value)  # type: ignore[arg-type]
    if isinstance(value, tuple):
        return [_value(item) for item in value]
    return value


def _created(spec: ClusterSpec) -> dict[str, Any]:
    """A cluster to create as JSON: its name, location, settings (``null``: off, or GKE's default) and pools."""
    from findly_infra.domain.gke import Keep

    def setting(value: object) -> object:
        return None if isinstance(value, Keep) else _value(value)

    return {
        "name": spec.name,
        "location": spec.location,
        "auto_provisioning": setting(spec.auto_provisioning),
        "workload_pool": setting(spec.workload_pool),
        "node_pools": [_value(pool) for pool in spec.pools],
    }


def _desired(platform: Platform, project: str | None, dr: bool, primary: ClusterSpec | None = None) -> ClusterSpec:
    """The file's cluster — or, with *dr*, the DR region's copy of it (with *primary*: at its version and release
    channel), refused (exit 2) naming what is missing."""
    from findly_infra.application.ports import BadInputError
    from findly_infra.domain.errors import InvariantError
    from findly_infra.domain.gke import ClusterSpec, dr_cluster_spec

    cluster = platform.gke_cluster
    assert cluster is not None  # gke_clusters refuses a file without one
    if not dr:
        return ClusterSpec.of(cluster, platform.cluster_autoscaler, project=project)
    if platform.failover is None:
        raise BadInputError(
            "--dr plans the DR region's cluster from the file's failover: section (failover.cluster: its name and "
            "each zone's DR zone), which the file does not have"
        )
    recovery = platform.disaster_recovery
    if recovery is None or recovery.multi_region is None:
        raise BadInputError(
            "--dr needs the DR region: disaster_recovery.multi_region.dr_region, which the file does not have"
        )
    try:
        return dr_cluster_spec(
            cluster,
            platform.cluster_autoscaler,
            platform.failover,
            recovery.multi_region.dr_region,
            project=project,
            primary=primary,
        )
    except InvariantError as exc:
        raise BadInputError(f"failover.cluster.{exc.field or 'zones'}: {exc}") from None


def _cluster(context: Context) -> int:
    from findly_infra.bootstrap import gke_clusters
    from findly_infra.domain.gke import plan_cluster

    args = context.args
    platform = context.platform()
    clusters = gke_clusters(platform, project=args.project)
    desired = _desired(platform, clusters.project, args.dr)
    observed = clusters.observe(desired.location, desired.name)
    version = ""
    if args.dr and observed is None:  # the DR copy to be created: at the primary's version and release channel
        from findly_infra.application.recovery import dr_version, read_primary

        primary, why = read_primary(clusters, platform, clusters.project)
        desired = _desired(platform, clusters.project, args.dr, primary)
        version = "\n  " + dr_version(desired, why)
    plan = plan_cluster(desired, observed, delete_pools=args.delete_pools)
    if args.cluster_command == "plan":
        context.emit({"project": clusters.project, "plan": _plan_json(plan)}, plan.describe() + version)
        return EXIT_OK if plan.empty else EXIT_DRIFT
    report = clusters.apply(plan)
    lines = [f"done: {line}" for line in report.done] or [f"cluster {plan.cluster}: nothing to change"]
    kept = [change.pool for change in plan.pools if change not in plan.actionable]
    if kept:
        lines.append(f"kept (not in the file; --delete-pools deletes them): {', '.join(kept)}")
    context.emit({"project": clusters.project, "plan": _plan_json(plan), "done": list(report.done)}, "\n".join(lines))
    return EXIT_OK


COMMANDS = (
    Command(
        "cluster",
        "the GKE cluster the file describes: `cluster plan` what differs (exit 7), `cluster apply` carries it out",
        _arguments,
        _cluster,
    ),
)
