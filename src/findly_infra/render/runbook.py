"""The disaster-recovery runbook generated from the platform file, and a failover's or drill's report, in Markdown.

Pure and deterministic: the same file and the same recorded operation give the same text — no clock is read, and the
only times written are the ones the operation recorded."""

from __future__ import annotations

from collections.abc import Iterable

from findly_infra.domain.platform import Platform
from findly_infra.domain.recovery import RecoveryOperation, RecoveryStep, failover_environments

__all__ = ["dr_credentials", "operation_markdown", "rto_not_counted", "runbook_markdown"]

_STEP_SAYS = {
    RecoveryStep.CLUSTER: "the DR cluster brought to the file (created when missing)",
    RecoveryStep.DEPLOY: "each environment's objects applied with each service's last good version",
    RecoveryStep.READY: "every Deployment Ready",
    RecoveryStep.HEALTH: "the health check through Prometheus",
    RecoveryStep.DNS: "DNS switched from the primary to the DR addresses",
}


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _target(platform: Platform) -> tuple[float | None, float | None]:
    recovery = platform.disaster_recovery
    if recovery is None:
        return None, None
    return recovery.rto_target.seconds, recovery.rpo_target.seconds


def operation_markdown(platform: Platform, operation: RecoveryOperation) -> str:
    """The report of one failover or drill: its steps with their measured seconds beside the RTO, and the RPO."""
    rto_target, rpo_target = _target(platform)
    started = operation.started
    simulated = operation.target == "simulated"
    state = "completed" if operation.completed else "abandoned" if operation.abandoned else "open"
    lines = [
        f"# {'SIMULATED ' if simulated else ''}{operation.kind.value} {operation.name}",
        "",
        f"- target: `{operation.target}`"
        + (" (a DR region simulated in memory: nothing real was touched)" if simulated else ""),
        f"- started: {started.at.isoformat(timespec='seconds')} by {started.actor}",
        f"- state: {state}",
        f"- environments: {', '.join(started.environments) or 'none'}",
        "",
        "## Steps",
        "",
        "| step | what | seconds | |",
        "|---|---|---:|---|",
    ]
    for timing in operation.timings():
        mark = "skipped" if timing.skipped else "done"
        lines.append(f"| {timing.step.value} | {_STEP_SAYS[timing.step]} | {_seconds(timing.seconds)} | {mark} |")
    rto = operation.rto_seconds
    verdict = ""
    if rto is not None and rto_target is not None:
        verdict = "within the target" if rto <= rto_target else "**over the target**"
    lines += [
        f"| **RTO** | start to the last step, crashes included | **{_seconds(rto)}** | "
        f"target {_seconds(rto_target)} s {verdict} |",
        "",
    ]
    lines += ["What the RTO does not count:", ""]
    lines += [f"- {said}" for said in rto_not_counted(operation)]
    lines.append("")
    details = [(timing.step.value, line) for timing in operation.timings() for line in timing.detail]
    if details:
        lines += ["## What each step did", ""]
        lines += [f"- {step}: {line}" for step, line in details]
        lines.append("")
    versions = operation.versions()
    if any(versions.values()):
        lines += ["## Versions deployed (the last good, from the event log)", "", "| environment | service | version |"]
        lines.append("|---|---|---|")
        for environment, services in versions.items():
            lines += [f"| {environment} | {service} | {version} |" for service, version in sorted(services.items())]
        lines.append("")
    if started.skipped:
        lines += [f"- not deployed (no good version in the log): {', '.join(started.skipped)}", ""]
    lines += ["## RPO", ""]
    if started.backup_age_seconds is None:
        lines.append("No backup directory was given (`--backups DIR`): the RPO was not measured.")
    else:
        within = ""
        if rpo_target is not None:
            within = " — within the target" if started.backup_age_seconds <= rpo_target else " — **over the target**"
        lines.append(
            f"The newest state backup (`{started.backup}`) was {started.backup_age_seconds:.0f} s old at the start "
            f"(target {_seconds(rpo_target)} s){within}; {started.events_after_backup} events recorded after it "
            "would have been lost with the state."
        )
    if operation.failing is not None:
        lines += ["", f"Stopped at **{operation.failing.step.value}**: {operation.failing.message}"]
    if operation.abandoned is not None:
        lines += ["", f"Abandoned by {operation.abandoned.actor}: {operation.abandoned.reason}"]
    return "\n".join(lines) + "\n"


def _owners(platform: Platform, environments: Iterable[str]) -> list[str]:
    lines = []
    groups = {group.name: group for group in platform.approver_groups or ()}
    for environment in environments:
        env = platform.environment(environment)
        for name in env.approvers:
            group = groups.get(name)
            members = ", ".join(group.members) if group is not None else "members not listed in approver_groups"
            lines.append(f"- {environment} approvers — {name}: {members}")
    paging = [receiver.name for receiver in platform.notifications.receivers if receiver.pages]
    others = [receiver.name for receiver in platform.notifications.receivers if not receiver.pages]
    if paging:
        lines.append(f"- paged (notifications receivers that page): {', '.join(paging)}")
    if others:
        lines.append(f"- told (notifications receivers): {', '.join(others)}")
    return lines or ["- the platform file names no approvers nor receivers: name who decides a failover here"]


def runbook_markdown(platform: Platform, last_drill: RecoveryOperation | None) -> str:
    """The runbook: the steps in order with the exact commands, the owners, the DNS records, the targets, the drill
    frequency, and the last drill's measured figures — generated from *platform*."""
    failover = platform.failover
    recovery = platform.disaster_recovery
    rto_target, rpo_target = _target(platform)
    environments = failover_environments(
        failover, platform.promotion_order, [binding.environment for binding in platform.kubernetes.clusters]
    )
    regions = recovery.multi_region if recovery is not None else None
    lines = ["# Disaster recovery runbook", "", "Generated from the platform file by findly-infra's `dr runbook`.", ""]
    lines += ["## Targets", ""]
    lines.append(f"- RTO (recovery time objective): {_seconds(rto_target)} s")
    lines.append(f"- RPO (recovery point objective): {_seconds(rpo_target)} s")
    if regions is not None:
        lines.append(f"- primary region {regions.primary_region}, DR region {regions.dr_region}")
    testing = recovery.testing if recovery is not None else None
    lines.append(f"- drills: {testing.frequency if testing is not None and testing.frequency else 'not scheduled'}")
    lines += ["", "## Who decides and who is told", ""]
    lines += _owners(platform, environments)
    lines += ["", "## Steps", ""]
    lines += _steps(platform, environments, bool(_paged(platform)))
    lines += ["", "## DNS records", ""]
    if failover is None or failover.dns is None:
        lines.append("The failover section names no DNS records: traffic is switched outside findly-infra.")
    else:
        lines += [f"Managed zone `{failover.dns.zone}`:", "", "| record | type | primary | DR |", "|---|---|---|---|"]
        lines += [f"| {r.name} | {r.type} | {', '.join(r.primary)} | {', '.join(r.dr)} |" for r in failover.dns.records]
    lines += ["", "## The last drill", ""]
    if last_drill is None:
        lines.append(
            f"No drill recorded yet: `{_CLI} dr drill` (or `{_CLI} dr drill --simulate`)."
            if failover is not None
            else f"No drill recorded yet: `{_CLI} dr drill --simulate`."
        )
    else:
        simulated = " (SIMULATED)" if last_drill.target == "simulated" else ""
        began = last_drill.started.at.isoformat(timespec="seconds")
        lines.append(f"{last_drill.name} on `{last_drill.target}`{simulated}, started {began}:")
        lines += ["", "| step | seconds | |", "|---|---:|---|"]
        for timing in last_drill.timings():
            lines.append(
                f"| {timing.step.value} | {_seconds(timing.seconds)} | {'skipped' if timing.skipped else 'done'} |"
            )
        lines.append(f"| **RTO** | **{_seconds(last_drill.rto_seconds)}** | target {_seconds(rto_target)} s |")
    return "\n".join(lines) + "\n"


_CLI = "findly-infra --state STATE --actor YOU"
"""Every command of the runbook names the state (``--state``: the one that survived the region, or the restored one —
never the default local file, which a runner in the DR region would create empty) and who acts (``--actor``)."""


def _paged(platform: Platform) -> list[str]:
    return [receiver.name for receiver in platform.notifications.receivers]


def _steps(platform: Platform, environments: Iterable[str], told: bool) -> list[str]:
    """The numbered steps, each command one that runs on this file: without a ``failover:`` section, none that
    needs it (``cluster plan --dr``, ``dr failover``) — the step says what to add instead."""
    failover = platform.failover
    cluster = platform.gke_cluster
    lines = [
        "In the commands, `STATE` is the state's URL (`postgresql://…` of the database in the DR region, or the "
        "file restored there) and `YOU` the name of the person acting (or set `FINDLY_STATE` and `FINDLY_ACTOR` and "
        "leave both flags out). Run them where the platform file is (or add `--config FILE`).",
        "",
    ]
    declare = "Declare the disaster: the approvers above decide" + ("; page the receivers above." if told else ".")
    steps = [
        declare,
        "Restore the state in the DR region if the primary's is lost: "
        f"`{_CLI} state restore BACKUP` into an empty state (the newest backup: "
        f"`{_CLI} state backup --check DIR` says its age against the RPO).",
    ]
    if failover is None:
        steps.append(
            "**The platform file has no `failover:` section**: findly-infra cannot fail this platform over "
            "(a failover, a real drill and the DR cluster's plan refuse, exit 2). Add one — the DR cluster's "
            "kubeconfig context (`failover.context`), the environments, the DR zones, the DNS records — as "
            f"docs/disaster-recovery.md shows, then write this runbook again (`{_CLI} dr runbook --report DIR`). "
            "Until then it can only be rehearsed in simulation: "
            f"`{_CLI} dr drill --simulate`."
        )
    else:
        dr_name = failover.cluster.name or (f"{cluster.name}-dr" if cluster is not None else "")
        command, named = dr_credentials(platform)
        credentials = f"`{command}` (it needs `gke-gcloud-auth-plugin`), which names the context `{named}`"
        if cluster is not None:
            steps.append(
                f"Bring the DR cluster {dr_name} to the file: `{_CLI} cluster plan --dr`, then "
                f"`{_CLI} cluster apply --dr` (`dr failover` does it as its first step; a cluster created here "
                "is billed until it is deleted)."
            )
            same = failover.context == named
            steps.append(
                f"Get the DR cluster's credentials once it exists: {credentials} — "
                + (
                    "`failover.context` names it."
                    if same
                    else f"**`failover.context` is `{failover.context}`, not that name**: correct it in the file, "
                    "or the deploy step finds no such context (exit 2)."
                )
            )
        else:
            steps.append(
                "The file has no gke_cluster: the DR cluster is provisioned outside findly-infra; its kubeconfig "
                f"context must be `{failover.context}` (`failover.context`)."
            )
        steps.append(
            f"Fail over: `{_CLI} dr failover --confirm` — deploys {', '.join(environments)} to context "
            f"`{failover.context}` at each service's last good version, waits until Ready, checks health, then "
            "switches DNS — never to a region that serves nothing (`dr-serves-nothing`), lacks a service "
            "(`dr-partial`: `--allow-partial` accepts it, recorded) or was not checked (`health-unchecked`: bind "
            "the DR region's Prometheus, or say `--no-health-check`, recorded). A drill left open is ended by the "
            "failover (recorded as superseded); a lease whose runner is gone with the region is taken with "
            "`--take-over` (recorded)."
        )
    steps += [
        f"If it stops, read the step and the reason (`{_CLI} dr status`), fix it, and run the same command "
        f"again: it resumes from the step it had not finished. `{_CLI} dr abandon --reason TEXT` ends it.",
        f"Record what happened: `{_CLI} dr history`; write the report with `--report DIR`.",
    ]
    return lines + [f"{index}. {text}" for index, text in enumerate(steps, 1)]


def dr_credentials(platform: Platform, project: str | None = None) -> tuple[str, str]:
    """The ``gcloud`` command that adds the DR cluster's kubeconfig context, and the context it names
    (``gke_<project>_<region>_<name>``, as ``gcloud container clusters get-credentials`` names it). The project is
    *project* (``--project``), else ``gke_cluster.project``, else the one ``failover.context`` names where it is such
    a name for this cluster (a project id holds no underscore), else ``PROJECT``. *platform* has a ``failover:``
    section."""
    failover = platform.failover
    assert failover is not None
    cluster = platform.gke_cluster
    recovery = platform.disaster_recovery
    regions = recovery.multi_region if recovery is not None else None
    region = regions.dr_region if regions is not None else "DR_REGION"
    name = failover.cluster.name or (f"{cluster.name}-dr" if cluster is not None else "NAME")
    project = project or (cluster.project if cluster is not None else None)
    said = failover.context.split("_")
    if project is None and len(said) >= 4 and said[0] == "gke" and said[2] == region and "_".join(said[3:]) == name:
        project = said[1]
    project = project or "PROJECT"
    command = f"gcloud container clusters get-credentials {name} --region {region} --project {project}"
    return command, f"gke_{project}_{region}_{name}"


def rto_not_counted(operation: RecoveryOperation) -> list[str]:
    """What the measured RTO (from ``recovery_started`` to the end of the last step) leaves out, for the text, the
    JSON (``rto.not_counted``) and the report: the setup before the start, DNS caching (beside it), and what this
    operation did not really do — a simulated region, skipped steps, a drill's DNS."""
    said = [
        "the command's setup before the operation started (the file, the state, the lease, --backups) and the time "
        "before anyone ran it",
    ]
    if operation.dns_cache_seconds is not None:
        said.append(f"DNS caching after the switch: up to {operation.dns_cache_seconds} s more (dns_cache_seconds)")
    else:
        said.append("DNS caching after a switch (the records' TTL before it)")
    if operation.target == "simulated":
        said.append("real work: the simulated region creates the cluster and readies every Deployment at once")
    else:
        said.append("on stand-ins, real GKE creation and pod start-up: their speed is measured, not GKE's")
    skipped = [timing.step.value for timing in operation.timings() if timing.skipped]
    if skipped:
        said.append(f"the steps skipped: {', '.join(skipped)}")
    return said
