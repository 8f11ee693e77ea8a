"""The cluster's own commands: ``apply`` (an environment's rendered objects, server-side) and ``diff`` (how the
cluster differs from the platform file)."""

from __future__ import annotations

import argparse
from typing import Any

from findly_infra.cli import present
from findly_infra.cli.context import Command, Context, add_versions_argument, service_versions
from findly_infra.cli.exits import EXIT_DRIFT, EXIT_FAILED, EXIT_OK

__all__ = ["COMMANDS"]


def _arguments(parser: argparse.ArgumentParser, *, applying: bool) -> None:
    parser.add_argument("--env", required=True, help="the environment, as the platform file names it")
    add_versions_argument(parser, "what serves there, as the state says")
    if not applying:  # kubectl's spelling of the same dry run: diff always shows what a forced apply would change
        parser.add_argument(
            "--force-conflicts",
            action="store_true",
            help="accepted as kubectl diff accepts it; diff always lists fields another manager owns as changing",
        )
        return
    parser.add_argument("--dry-run", action="store_true", help="the server checks everything; nothing changes")
    parser.add_argument("--no-prune", action="store_true", help="keep objects of ours that left the platform file")
    parser.add_argument("--force-conflicts", action="store_true", help="take fields another field manager owns")
    parser.add_argument(
        "--wait",
        action="store_true",
        help="then wait until every Deployment applied is ready: exit 4 when one fails or runs out of time",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="with --wait: how long each Deployment may take (default 600, the progress deadline's default)",
    )


def _versions(context: Context, platform: Any, environment: str) -> dict[str, str]:
    """``--version`` pairs, else what serves in *environment* as the state says (read only). ``apply`` is refused
    (rule ``rollout-in-progress``) while a rollout is under way there: the rollout drives its tracks and weights."""
    versions = service_versions(context.args.versions, platform)
    runtime = context.runtime(platform, read_only=True)
    for service in platform.all_services:
        view = runtime.service.view(service.name, environment)
        if view.rollout is not None and view.rollout.phase.active and context.args.command == "apply":
            from findly_infra.application.service import PolicyRefusedError
            from findly_infra.domain.pipeline import Refusal

            raise PolicyRefusedError(
                Refusal(
                    "rollout-in-progress",
                    f"{service.name} is rolling out {view.rollout.version} in {environment} "
                    f"({view.rollout.phase.value}): apply would reset its tracks and weights; let the rollout end "
                    f"(findly-infra rollout {service.name} --env {environment} --watch), or end it by hand",
                )
            )
        if service.name not in versions and view.serving is not None:
            versions[service.name] = view.serving.version
    return versions


def _run(context: Context, *, applying: bool) -> int:
    from findly_infra.application.cluster_apply import apply_environment, diff_environment
    from findly_infra.application.ports import FieldConflictError
    from findly_infra.bootstrap import cluster_objects
    from findly_infra.render.objects import environment_objects, for_apply

    args = context.args
    platform = context.platform()
    environment = platform.environment(args.env).name
    objects = for_apply(
        environment_objects(platform, environment, _versions(context, platform, environment)), environment
    )
    cluster = cluster_objects(platform, environment, context=context.settings.kube_context)
    namespace = platform.kubernetes.namespace_for(environment)
    if not applying:  # a drift check says what differs, fields another manager took among it
        report = diff_environment(cluster, objects, environment, namespace)
    else:
        try:
            report = apply_environment(
                cluster,
                objects,
                environment,
                namespace,
                dry_run=args.dry_run,
                prune=not args.no_prune,
                force=args.force_conflicts,
                wait=args.timeout if args.wait else None,
            )
        except FieldConflictError as refused:
            raise FieldConflictError(
                f"{refused}; take them back with `findly-infra apply --force-conflicts`, or leave them to that "
                "manager (`findly-infra diff` lists every such field)",
                refused.conflicts,
            ) from None
    shown = [change for change in report.changes if change.action != "unchanged"]
    lines = [line for change in shown for line in (change.describe(report.dry_run), *change.unified())]
    for manager, references in report.owned.items():
        lines.append(
            f"{manager} owns fields listed above ({', '.join(references)}): `findly-infra apply` takes them back "
            "only with --force-conflicts"
        )
    lines += [f"deployment.apps/{name} not ready: {reason}" for name, reason in report.not_ready]
    lines.append(report.summary())
    for name, reason in report.not_ready:
        present.annotate("error", f"{environment}: deployment {name} is not ready: {reason}")
    if not applying and report.differs:
        present.annotate("warning", f"{environment} differs from the platform file: {report.summary()}")
    present.github_output(**{k: str(v) for k, v in report.counts.items()}, differs=str(report.differs).lower())
    context.emit(report.to_json(), "\n".join(lines))
    if report.not_ready:
        return EXIT_FAILED
    return EXIT_DRIFT if not applying and report.differs else EXIT_OK


COMMANDS = (
    Command(
        "apply",
        "server-side apply an environment's objects to its cluster (and prune ours that left the file)",
        lambda parser: _arguments(parser, applying=True),
        lambda context: _run(context, applying=True),
    ),
    Command(
        "diff",
        "how an environment's cluster differs from the platform file: exit 0 none, 7 it differs",
        lambda parser: _arguments(parser, applying=False),
        lambda context: _run(context, applying=False),
    ),
)
