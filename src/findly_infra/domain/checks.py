"""Checks across sections of a platform: each rule is a small named function that yields findings.

A rule's name travels with every finding it makes, so a message can say which rule spoke and
``docs/platform-file.md`` can explain each one.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator

from findly_infra.domain.environment import StrategyKind, TriggerKind, service_name_from_key
from findly_infra.domain.infrastructure import ClusterAutoscaler, GKECluster
from findly_infra.domain.notation import LatencyObjective, Threshold
from findly_infra.domain.platform import Finding, Platform, Severity, UnknownNameError
from findly_infra.domain.recovery import FailoverSettings
from findly_infra.domain.releases import dependency_cycle
from findly_infra.domain.slo import ErrorRateObjective

__all__ = ["RULES", "check_platform", "did_you_mean"]

Rule = Callable[[Platform], Iterator[Finding]]
ERROR, WARNING = Severity.ERROR, Severity.WARNING


def did_you_mean(name: str, known: object) -> str:
    """`` (did you mean 'security-team'?)`` when *name* is close to one of *known*, else ``""``."""
    # difflib's defaults: a ratio of at least 0.6, the closest first
    matches = difflib.get_close_matches(name, [str(k) for k in known])  # type: ignore[attr-defined]
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def promotion_order(platform: Platform) -> Iterator[Finding]:
    """Every environment but the first is entered from the one before it: no loops, no skips."""
    order = platform.promotion_order
    for index, environment in enumerate(platform.environments):
        named = environment.predecessor_named
        field = "promotes_from" if environment.promotes_from else "deployment_trigger"
        path = ("environments", environment.name, field)
        if named is None:
            if index == 0 and environment.deployment_trigger.kind is TriggerKind.PROMOTION:
                yield Finding(
                    path,
                    f"{environment.name} is the first environment, so nothing can be promoted into it",
                    ERROR,
                    "promotion-order",
                )
            continue
        if named not in order:
            yield Finding(
                path,
                f"unknown environment {named!r}{did_you_mean(named, order)}; known: {', '.join(order)}",
                ERROR,
                "promotion-order",
            )
        elif order.index(named) >= index:
            yield Finding(
                path,
                f"{environment.name} is promoted from {named}, which comes at or after it: "
                f"the promotion order {' -> '.join(order)} would loop",
                ERROR,
                "promotion-order",
            )
        elif order.index(named) < index - 1:
            skipped = ", ".join(order[order.index(named) + 1 : index])
            yield Finding(
                path,
                f"{environment.name} is promoted from {named}, skipping {skipped}: "
                "a version must pass every environment in order",
                ERROR,
                "promotion-order",
            )


def cluster_bindings(platform: Platform) -> Iterator[Finding]:
    """Every environment a cluster is bound to exists."""
    order = platform.promotion_order
    for binding in platform.kubernetes.clusters:
        if binding.environment not in order:
            yield Finding(
                ("kubernetes", "clusters", binding.environment),
                f"unknown environment {binding.environment!r}{did_you_mean(binding.environment, order)}; "
                f"known: {', '.join(order)}",
                ERROR,
                "cluster-binding",
            )


def approver_groups(platform: Platform) -> Iterator[Finding]:
    """Approvers name groups that exist and have enough distinct members to approve."""
    groups = {group.name: group for group in platform.approver_groups or ()}
    for environment in platform.environments:
        if not environment.approvers:
            continue
        if platform.approver_groups is None:
            yield Finding(
                ("environments", environment.name, "approvers"),
                f"no approver_groups section says who belongs to {', '.join(environment.approvers)}: "
                f"until it does, nothing can be approved into {environment.name}",
                WARNING,
                "approver-groups",
            )
            continue
        people: set[str] = set()
        for index, name in enumerate(environment.approvers):
            path = ("environments", environment.name, "approvers", index)
            if name not in groups:
                yield Finding(
                    path, f"unknown approver group {name!r}{did_you_mean(name, groups)}", ERROR, "approver-groups"
                )
            elif not groups[name].members:
                yield Finding(
                    path,
                    f"approver group {name!r} has no members, so no one can approve {environment.name}",
                    ERROR,
                    "approver-groups",
                )
            else:
                people.update(member.casefold() for member in groups[name].members)
                unpinned = [m for m in groups[name].members if groups[name].id_of(m) is None]
                if environment.identity.verified and unpinned:
                    yield Finding(
                        ("approver_groups", name),
                        f"{environment.name} takes verified identities, but {', '.join(unpinned)} in {name!r} "
                        f"{'is' if len(unpinned) == 1 else 'are'} given by login only: a login can be renamed and "
                        "taken by another account; write {login: NAME, id: ACCOUNT_ID} (gh api users/NAME --jq .id)",
                        WARNING,
                        "approver-ids",
                    )
        usable = [name for name in environment.approvers if groups.get(name) and groups[name].members]
        if len(usable) == len(environment.approvers) and len(people) < len(usable):
            yield Finding(
                ("environments", environment.name, "approvers"),
                f"{environment.name} needs one approval from each of {len(usable)} groups by distinct "
                f"people, but only {len(people)} people belong to them",
                ERROR,
                "approver-groups",
            )
    used = {name for environment in platform.environments for name in environment.approvers}
    for name, group in groups.items():
        if not group.members and name not in used:
            yield Finding(
                ("approver_groups", name), f"approver group {name!r} has no members", WARNING, "approver-groups"
            )


def identity_scope(platform: Platform) -> Iterator[Finding]:
    """An environment that verifies identities says where they may come from: a token of any repository, or of any
    workflow of the repository, proves a person but not that they acted through the release workflow."""
    for environment in platform.environments:
        policy = environment.identity
        if not policy.verified:
            continue
        path = ("environments", environment.name, "identity")
        if not policy.repositories:
            yield Finding(
                path,
                f"{environment.name} verifies identities from any repository: a workflow anyone runs in a repository "
                "of their own proves them too; list repositories",
                WARNING,
                "identity-scope",
            )
        if not policy.workflows:
            yield Finding(
                path,
                f"{environment.name} verifies identities from any workflow of its repositories, and whoever may push "
                "a branch may add one; list workflows (and refs)",
                WARNING,
                "identity-scope",
            )
        if policy.repositories and not policy.repository_ids:
            yield Finding(
                path,
                f"{environment.name} knows its repositories by name only: one deleted and re-created under that name "
                "(by whoever takes the name) passes; pin them with repository_ids "
                "(gh api repos/OWNER/REPO --jq .id)",
                WARNING,
                "identity-scope",
            )
        elif policy.repository_ids and len(policy.repository_ids) < len(policy.repositories):
            yield Finding(
                path,
                f"{environment.name} lists {len(policy.repositories)} repositories but {len(policy.repository_ids)} "
                "repository_ids: a token of a repository whose id is not listed is refused",
                WARNING,
                "identity-scope",
            )


def resource_profiles(platform: Platform) -> Iterator[Finding]:
    """Each environment's ``resource_limits`` names a known profile."""
    for environment in platform.environments:
        try:
            platform.resource_profile(environment.resource_limits)
        except UnknownNameError:
            known = platform.resource_profile_names
            yield Finding(
                ("environments", environment.name, "resource_limits"),
                f"unknown resource profile {environment.resource_limits!r}"
                f"{did_you_mean(environment.resource_limits, known)}; known: {', '.join(known)}",
                ERROR,
                "resource-profiles",
            )


def strategies_defined(platform: Platform) -> Iterator[Finding]:
    """An environment's strategy has its section in the file."""
    for environment in platform.environments:
        kind = environment.strategy  # rolling where it names none: no section needed
        section = {StrategyKind.CANARY: "canary_strategy", StrategyKind.BLUE_GREEN: "blue_green_strategy"}.get(kind)
        if section and getattr(platform, section) is None:
            yield Finding(
                ("environments", environment.name, "deployment_strategy"),
                f"{environment.name} rolls out by {kind.value} but the file has no {section} section",
                ERROR,
                "strategy-defined",
            )


def canary_analysis(platform: Platform) -> Iterator[Finding]:
    """The rollback threshold can be reached; every stage is analysed; the canary fits the time target."""
    canary = platform.canary_strategy
    if canary is None:
        return
    interval = canary.analysis.interval
    threshold = canary.failure_handling.rollback_threshold
    path = ("canary_strategy", "failure_handling", "rollback_threshold")
    if threshold > canary.analysis_count:
        yield Finding(
            path,
            f"a rollback after {threshold} failed analyses can never happen: the canary's timed "
            f"stages hold only {canary.analysis_count} analyses at one every {interval}",
            ERROR,
            "rollback-threshold",
        )
    else:
        first = canary.traffic_progression[0]
        assert first.duration is not None  # a canary starts below 100%, and only its last stage may be stable
        in_first = first.duration.milliseconds // interval.milliseconds
        if threshold > in_first:
            yield Finding(
                path,
                f"a canary failing from the start is only rolled back after {threshold} analyses, "
                f"past its first stage {first.stage!r} ({in_first} analyses): it reaches more traffic "
                "before it is stopped",
                WARNING,
                "rollback-threshold",
            )
    if not canary.success_criteria:
        yield Finding(
            ("canary_strategy", "success_criteria"),
            "no success criteria: every analysis would be inconclusive and the canary would pause",
            WARNING,
            "canary-criteria",
        )
    for index, step in enumerate(canary.traffic_progression):
        if step.duration is not None and step.duration < interval:
            yield Finding(
                ("canary_strategy", "traffic_progression", index, "duration"),
                f"stage {step.stage!r} lasts {step.duration}, less than one analysis interval ({interval}):"
                " it is never analysed",
                WARNING,
                "canary-analysis",
            )
    target = platform.performance_targets.deployment_speed
    total = canary.time_to_full_traffic
    if total > target:
        yield Finding(
            ("canary_strategy", "traffic_progression"),
            f"the canary takes {total.describe()} to reach full traffic, more than the "
            f"{target.describe()} target for a full production deployment "
            "(performance_targets.deployment_speed)",
            WARNING,
            "deployment-speed",
        )


def blue_green(platform: Platform) -> Iterator[Finding]:
    """A blue-green release watches something after cutover, and has someone to approve manual steps."""
    strategy = platform.blue_green_strategy
    if strategy is None:
        return
    if not strategy.metric_triggers:
        yield Finding(
            ("blue_green_strategy", "rollback_triggers"),
            "no metric rollback triggers: nothing returns traffic to the previous colour by itself",
            WARNING,
            "blue-green-triggers",
        )
    manual = [step.name for step in strategy.validation_steps if step.manual]
    for environment in platform.environments:
        if manual and environment.deployment_strategy is StrategyKind.BLUE_GREEN and not environment.approvers:
            yield Finding(
                ("environments", environment.name, "approvers"),
                f"the blue-green step {manual[0]} needs a manual approval, but {environment.name} "
                "lists no approver groups",
                ERROR,
                "blue-green-approval",
            )


def slo_consistency(platform: Platform) -> Iterator[Finding]:
    """Stated budgets match targets and windows; alerting thresholds sit on the right side of the target."""
    for slo in platform.slo_definitions:
        disagreement = slo.stated_budget_disagreement()
        if disagreement:
            yield Finding(("slo_definitions", slo.name, "error_budget"), disagreement, ERROR, "slo-error-budget")
        alert, target = slo.alerting_threshold, slo.target
        if alert is None:
            continue
        path = ("slo_definitions", slo.name, "alerting_threshold")
        if isinstance(target, LatencyObjective) and isinstance(alert, LatencyObjective):
            if alert.proportion > target.proportion:
                yield Finding(
                    path,
                    f"alerting at {alert} would alert while the objective {target} still holds",
                    WARNING,
                    "slo-alerting-threshold",
                )
        elif (
            isinstance(target, ErrorRateObjective)
            and isinstance(alert, Threshold)
            and (alert.comparison.is_upper_bound or alert.value < target.limit.value)
        ):
            yield Finding(
                path,
                f"an error-rate alert is written like '> 0.5%' and at or above the objective "
                f"({target.limit}); got '{alert}'",
                WARNING,
                "slo-alerting-threshold",
            )


def autoscaling(platform: Platform) -> Iterator[Finding]:
    """Autoscaling names each service once."""
    seen: dict[str, str] = {}
    for autoscaler in platform.hpa_configuration:
        name = service_name_from_key(autoscaler.service)
        if name in seen:
            yield Finding(
                ("hpa_configuration", autoscaler.service),
                f"{autoscaler.service!r} and {seen[name]!r} both name the service {name}",
                ERROR,
                "autoscaling-services",
            )
        seen[name] = autoscaler.service


def cluster_capacity(platform: Platform) -> Iterator[Finding]:
    """Node pools fit their cluster's region and the autoscaler's limits — limits GKE itself enforces only with node
    auto-provisioning (its cluster-wide ``resource_limits``; there is no per-pool limit but each pool's own
    ``max_nodes``), so that where it does not, the pools' capacity is what keeps the cluster under them."""
    cluster, autoscaler = platform.gke_cluster, platform.cluster_autoscaler
    if cluster is None:
        return
    for index, pool in enumerate(cluster.node_pools):
        outside = sorted(
            region for region in pool.regions if not cluster.location.startswith(region) and region != cluster.location
        )
        if outside:
            yield Finding(
                ("gke_cluster", "node_pools", index, "zones"),
                f"zones in {', '.join(outside)} lie outside the cluster's location {cluster.location}",
                ERROR,
                "cluster-zones",
            )
        if autoscaler is not None and pool.max_total_nodes > autoscaler.resource_limits.max_nodes_per_pool:
            yield Finding(
                ("gke_cluster", "node_pools", index, "max_nodes"),
                f"{pool.name} can grow to {pool.max_total_nodes} nodes ({pool.max_nodes} per zone in "
                f"{len(pool.zones)} zones), above cluster_autoscaler.resource_limits.max_nodes_per_pool "
                f"({autoscaler.resource_limits.max_nodes_per_pool}), which GKE does not enforce: the pool's own "
                "max_nodes bounds it",
                WARNING,
                "cluster-capacity",
            )
    if autoscaler is None:
        return
    yield from _autoscaler_switch(cluster, autoscaler)
    limits = autoscaler.resource_limits
    enforced = autoscaler.node_auto_provisioning
    unenforced = (
        ", and GKE enforces cluster-wide limits only with node auto-provisioning (node_auto_provisioning: true, "
        "which also lets GKE create node pools of its own): lower the pools' max_nodes"
    )
    min_cores = sum(p.min_nodes * len(p.zones) * p.machine_type.vcpus for p in cluster.node_pools)
    if min_cores > limits.max_cores:
        yield Finding(
            ("cluster_autoscaler", "resource_limits", "max_cores"),
            f"the node pools' minimum sizes already need {min_cores} cores, above max_cores {limits.max_cores}",
            ERROR,
            "cluster-capacity",
        )
    elif cluster.max_cores > limits.max_cores:
        yield Finding(
            ("cluster_autoscaler", "resource_limits", "max_cores"),
            f"the node pools can grow to {cluster.max_cores} cores, above max_cores {limits.max_cores}"
            + (": the autoscaler stops before the pools' max_nodes" if enforced else unenforced),
            WARNING,
            "cluster-capacity",
        )
    if cluster.max_memory_gb > limits.max_memory_gb:
        yield Finding(
            ("cluster_autoscaler", "resource_limits", "max_memory_gb"),
            f"the node pools can grow to {cluster.max_memory_gb:g} GB of memory, above max_memory_gb "
            f"{limits.max_memory_gb}" + ("" if enforced else unenforced),
            WARNING,
            "cluster-capacity",
        )


def _autoscaler_switch(cluster: GKECluster, autoscaler: ClusterAutoscaler) -> Iterator[Finding]:
    """On GKE the cluster autoscaler works per node pool: ``enabled: false`` keeps every pool at its size."""
    autoscaled = [pool.name for pool in cluster.node_pools if pool.auto_scaling]
    if not autoscaler.enabled and autoscaled:
        yield Finding(
            ("cluster_autoscaler", "enabled"),
            "the cluster autoscaler is off, and on GKE it scales each node pool: "
            f"{', '.join(autoscaled)} (auto_scaling: true) will keep the size they have",
            WARNING,
            "cluster-autoscaler",
        )


def mesh_identities(platform: Platform) -> Iterator[Finding]:
    """Authorization principals name known services, and mTLS is on where principals are used."""
    istio = platform.istio_configuration
    if istio is None:
        return
    services = {service.name for service in platform.all_services}
    for index, policy in enumerate(istio.authorization_policies):
        for side in ("source", "destination"):
            for position, (_namespace, account) in enumerate(getattr(policy, side).service_accounts):
                if services and account not in services:
                    yield Finding(
                        ("istio_configuration", "authorization_policies", index, side, "principals", position),
                        f"service account {account!r} is not a known service{did_you_mean(account, services)}",
                        WARNING,
                        "mesh-identities",
                    )
        if istio.mtls.mode == "DISABLE" and (policy.source.principals or policy.destination.principals):
            yield Finding(
                ("istio_configuration", "mtls", "mode"),
                f"principals are only known over mTLS, but mTLS is disabled: policy {policy.name!r} can never match",
                ERROR,
                "mesh-identities",
            )


def secret_rotation(platform: Platform) -> Iterator[Finding]:
    """Secret rotation states a period."""
    secrets = platform.secret_management
    if secrets is not None and secrets.rotation and secrets.default_rotation_period is None:
        yield Finding(
            ("secret_management", "rotation"),
            f"{secrets.rotation!r} names no rotation period (such as 'Automated 90-day rotation')",
            WARNING,
            "secret-rotation",
        )


def secret_references(platform: Platform) -> Iterator[Finding]:
    """Each secret the services read has a known type (its rotation period) and names services that exist."""
    secrets = platform.secret_management
    if secrets is None:
        return
    services = {service.name for service in platform.all_services}
    for secret in secrets.secrets:
        if secrets.secret_type(secret.type) is None:
            known = ", ".join(kind.name for kind in secrets.secret_types) or "none"
            yield Finding(
                ("secret_management", "secrets", secret.name, "type"),
                f"{secret.type!r} is not one of the secret_types ({known}): its rotation period is unknown",
                ERROR,
                "secret-references",
            )
        for service in secret.services:
            if service not in services:
                yield Finding(
                    ("secret_management", "secrets", secret.name, "services"),
                    f"{service!r} is not a service of the platform file",
                    ERROR,
                    "secret-references",
                )


def secret_ids(platform: Platform) -> Iterator[Finding]:
    """No two (secret, environment) pairs are one Secret Manager secret (``<name>-<environment>``)."""
    from findly_infra.domain.secrets import secret_id_collisions

    secrets = platform.secret_management
    if secrets is None:
        return
    for collision in secret_id_collisions(secrets, (environment.name for environment in platform.environments)):
        yield Finding(
            ("secret_management", "secrets", collision.places[-1][0]), collision.describe(), ERROR, "secret-ids"
        )


def workload_identity(platform: Platform) -> Iterator[Finding]:
    """Under the release gate the services' pods read their secrets from Secret Manager: they can only as their
    Kubernetes service accounts' principals, which needs Workload Identity on the cluster, and ``secrets grant`` names
    those principals with the project's number."""
    managed = platform.secret_management
    if managed is None or not managed.release_gate or not any(secret.services for secret in managed.secrets):
        return
    cluster = platform.gke_cluster
    gate = "the release gate (secret_management.release_gate) holds a rollout until its service's secrets exist"
    if cluster is None or cluster.workload_identity is not True:
        said = "turns it off" if cluster is not None and cluster.workload_identity is False else "does not turn it on"
        yield Finding(
            ("gke_cluster", "workload_identity") if cluster is not None else ("secret_management", "release_gate"),
            f"{gate}, but the pods read them only through Workload Identity, and gke_cluster.workload_identity "
            f"{said}: set it to true (cluster plan and apply give the cluster its workload pool and the node pools "
            "the GKE metadata server)",
            WARNING,
            "workload-identity",
        )
    if cluster is None or cluster.project_number is None:
        yield Finding(
            ("gke_cluster", "project_number") if cluster is not None else ("secret_management", "release_gate"),
            f"{gate}, but nothing lets the pods read them until secrets grant gives each service's principal access, "
            "and a principal names the project's number: give gke_cluster.project_number (gcloud projects describe "
            "PROJECT --format='value(projectNumber)')",
            WARNING,
            "workload-identity",
        )


def ingress_certificates(platform: Platform) -> Iterator[Finding]:
    """Each environment's domains are its own and name a known environment; where ``ssl_certificates`` says
    Google-managed, every environment has domains (else its Ingress serves plain HTTP) and, as GKE recommends, a
    reserved static address the domains can point at."""
    ingress = platform.ingress_configuration
    if ingress is None:
        return
    balancer = ingress.global_load_balancer
    order = platform.promotion_order
    base = ("ingress_configuration", "global_load_balancer")
    for key, pairs in (("domains", balancer.domains), ("static_ips", balancer.static_ips)):
        for environment, _value in pairs:
            if environment not in order:
                yield Finding(
                    (*base, key, environment),
                    f"unknown environment {environment!r}{did_you_mean(environment, order)}; known: {', '.join(order)}",
                    ERROR,
                    "ingress-domains",
                )
    owners: dict[str, str] = {}
    for environment, domains in balancer.domains:
        for index, domain in enumerate(domains):
            if domain in owners and owners[domain] != environment:
                yield Finding(
                    (*base, "domains", environment, index),
                    f"{domain} is {owners[domain]}'s too: a domain's DNS record points at one load balancer, and a "
                    "Google-managed certificate is provisioned only where the domain resolves to its own: give each "
                    "environment its own names",
                    ERROR,
                    "ingress-domains",
                )
            owners.setdefault(domain, environment)
    if not balancer.backends or (not balancer.google_managed and not balancer.domains):
        return
    if not balancer.google_managed:
        yield Finding(
            (*base, "domains"),
            f"domains are for Google-managed certificates, but ssl_certificates says {balancer.ssl_certificates!r}: "
            "no certificate is rendered for them",
            WARNING,
            "ingress-https",
        )
        return
    bare = [environment for environment in order if not balancer.domains_for(environment)]
    if bare:
        yield Finding(
            (*base, "ssl_certificates"),
            "Google-managed SSL needs each environment's domains (ingress_configuration.global_load_balancer.domains), "
            f"and {', '.join(bare)} {'has' if len(bare) == 1 else 'have'} none: {'its' if len(bare) == 1 else 'their'} "
            "Ingress serves plain HTTP only",
            WARNING,
            "ingress-https",
        )
    unreserved = [e for e in order if balancer.domains_for(e) and balancer.static_ip_for(e) is None]
    if unreserved:
        yield Finding(
            (*base, "static_ips"),
            f"{', '.join(unreserved)} {'takes' if len(unreserved) == 1 else 'take'} an ephemeral address, which "
            "changes when the Ingress is re-created, leaving the domains' DNS records pointing elsewhere: GKE "
            "recommends a reserved global static IP (gcloud compute addresses create NAME --global), named here",
            WARNING,
            "ingress-https",
        )


def recovery_point(platform: Platform) -> Iterator[Finding]:
    """Backups can meet the recovery point objective; the recovery regions match the cluster."""
    recovery = platform.disaster_recovery
    if recovery is None:
        return
    for policy in recovery.backup_strategy:
        loss = policy.worst_case_loss
        if loss is not None and loss > recovery.rpo_target:
            yield Finding(
                ("disaster_recovery", "backup_strategy", policy.name, "frequency"),
                f"{policy.frequency!r} can lose {loss.describe()} of data, more than the "
                f"rpo_target of {recovery.rpo_target.describe()}",
                WARNING,
                "recovery-point",
            )
    cluster = platform.gke_cluster
    if recovery.multi_region and cluster and not cluster.location.startswith(recovery.multi_region.primary_region):
        yield Finding(
            ("disaster_recovery", "multi_region", "primary_region"),
            f"the primary region {recovery.multi_region.primary_region} is not where the cluster "
            f"{cluster.name} runs ({cluster.location})",
            WARNING,
            "recovery-regions",
        )
    if recovery.rto_target > platform.performance_targets.recovery_time:
        yield Finding(
            ("disaster_recovery", "rto_target"),
            f"the RTO of {recovery.rto_target.describe()} is above the recovery-time target of "
            f"{platform.performance_targets.recovery_time.describe()}",
            WARNING,
            "recovery-time",
        )


_GKE_NAME = re.compile(r"^[a-z](?:[a-z0-9-]{0,38}[a-z0-9])?$")
"""A GKE cluster's name: "up to 40 characters", "lowercase letters, numbers, and hyphens only", starting with a
letter and ending with a letter or number (cluster_service.proto, Cluster.name)."""


def _failover_cluster(platform: Platform, settings: FailoverSettings, region: str | None) -> Iterator[Finding]:
    """``failover.cluster``: every pool's zone mapped into the DR region, two never to one; a name GKE takes."""
    zones = ("failover", "cluster", "zones")
    cluster = platform.gke_cluster
    if cluster is not None:
        used = sorted({zone for pool in cluster.node_pools for zone in pool.zones})
        mapped = dict(settings.cluster.zones)
        for index, pool in enumerate(cluster.node_pools):
            missing = [zone for zone in pool.zones if zone not in mapped]
            if missing:
                yield Finding(
                    zones,
                    f"node pool {pool.name} (gke_cluster.node_pools[{index}]) runs in {', '.join(missing)}, which "
                    f"failover.cluster.zones does not map to a zone of the DR region"
                    f"{f' {region}' if region else ''} (regions do not share zone letters: none is guessed)",
                    ERROR,
                    "failover-zones",
                )
        for primary in mapped:
            if primary not in used:
                yield Finding(
                    (*zones, primary),
                    f"no node pool runs in {primary}{did_you_mean(primary, used)}: the mapping is never used",
                    WARNING,
                    "failover-zones",
                )
        name = settings.cluster.name or f"{cluster.name}-dr"
        if not _GKE_NAME.match(name):
            yield Finding(
                ("failover", "cluster", "name"),
                f"the DR cluster's name {name!r} is not one GKE takes: up to 40 lowercase letters, digits and "
                "hyphens, starting with a letter and ending with a letter or digit"
                + ("" if settings.cluster.name else " (it defaults to gke_cluster.name and -dr: give one)"),
                ERROR,
                "failover-cluster",
            )
        if name == cluster.name and region == cluster.location:
            yield Finding(
                ("failover", "cluster", "name"),
                f"the DR cluster would be the primary cluster itself ({name} in {region})",
                ERROR,
                "failover-cluster",
            )
    seen: dict[str, str] = {}
    for primary, dr in settings.cluster.zones:
        if region is not None and not dr.startswith(f"{region}-"):
            yield Finding(
                (*zones, primary),
                f"{dr} is not a zone of the DR region {region} (disaster_recovery.multi_region.dr_region)",
                ERROR,
                "failover-zones",
            )
        if dr in seen:
            yield Finding(
                (*zones, primary),
                f"{primary} and {seen[dr]} both map to {dr}: a pool in both would have one zone twice in the DR "
                "region, and half its spread",
                ERROR,
                "failover-zones",
            )
        seen.setdefault(dr, primary)


def failover(platform: Platform) -> Iterator[Finding]:
    """The ``failover:`` section's cross-references: the environments it names exist; there is a DR region
    (``disaster_recovery.multi_region``) to fail over to; every zone of every node pool maps to a zone of that region
    (``domain.gke.dr_cluster_spec`` guesses none), two zones never to one; the DR cluster's name is one GKE takes;
    the health query is per service. (The DNS zone's project is not required here: the command finds it as it finds
    GKE's — ``--project``, ``failover.dns.project``, ``gke_cluster.project``, ``FINDLY_GCP_PROJECT``, the
    credentials' — ``bootstrap.dns.dns_project``.)"""
    settings = platform.failover
    if settings is None:
        return
    order = platform.promotion_order
    for name in settings.environments:
        if name not in order:
            yield Finding(
                ("failover", "environments", name),
                f"unknown environment {name!r}{did_you_mean(name, order)}; known: {', '.join(order)}",
                ERROR,
                "failover-environments",
            )
    recovery = platform.disaster_recovery
    region = recovery.multi_region.dr_region if recovery is not None and recovery.multi_region is not None else None
    if region is None:
        yield Finding(
            ("failover",),
            "failover needs the DR region it fails over to: disaster_recovery.multi_region.dr_region",
            ERROR,
            "failover-region",
        )
    yield from _failover_cluster(platform, settings, region)
    if "$service" not in settings.health.query:
        yield Finding(
            ("failover", "health", "query"),
            "the health query does not name $service: it is asked once per service (with $service and $namespace "
            "filled in), and would tell them apart by nothing",
            ERROR,
            "failover-health",
        )


_ABSOLUTE_ERROR_RATE = re.compile(r"rate\s*\(\s*\w*requests\w*\s*\{[^}]*\b(?:status|code)\w*\s*=~?\s*['\"]5")
_COMPARISON = re.compile(r"[<>]=?\s*[\d.]+\s*$")
_SEVERITIES = ("critical", "page", "warning", "ticket", "info")


def alert_rules(platform: Platform) -> Iterator[Finding]:
    """Alert names are unique; expressions avoid the traps of absolute error rates and unsummed quantiles."""
    seen: set[str] = set()
    for group in platform.alerting_rules:
        for index, rule in enumerate(group.rules):
            path: tuple[str | int, ...] = ("alerting_rules", group.name, index)
            if rule.alert in seen:
                yield Finding((*path, "alert"), f"the alert {rule.alert!r} is defined twice", ERROR, "alert-names")
            seen.add(rule.alert)
            expression = " ".join(rule.expression.split())
            if _ABSOLUTE_ERROR_RATE.search(expression) and "/" not in expression and _COMPARISON.search(expression):
                yield Finding(
                    (*path, "expression"),
                    "compares an absolute rate of 5xx responses with a number, so it depends on traffic: "
                    "busy services page on a tiny error share and quiet ones never do; compare the ratio "
                    "sum(rate(errors)) / sum(rate(requests)) instead",
                    WARNING,
                    "alert-error-ratio",
                )
            for match in re.finditer(r"histogram_quantile\s*\(", expression):
                inner = expression[match.end() :]
                # "by (... le" within the next 400 characters: sum by (le) (...) and sum(...) by (le) alike
                if not re.search(r"\bby\s*\([^)]*\ble\b", inner[:400]):
                    yield Finding(
                        (*path, "expression"),
                        "histogram_quantile over rate() without sum by (le) computes one quantile per "
                        "pod and series, not for the service: aggregate the buckets first, "
                        "histogram_quantile(0.95, sum by (le) (rate(..._bucket[5m])))",
                        WARNING,
                        "alert-quantile-aggregation",
                    )
            if rule.severity not in _SEVERITIES:
                yield Finding(
                    (*path, "severity"),
                    f"unusual severity {rule.severity!r}; Alertmanager routes usually "
                    f"expect one of {', '.join(_SEVERITIES)}",
                    WARNING,
                    "alert-severity",
                )


_NEEDS = {"slack": ("url",), "pagerduty": ("routing_key",), "webhook": ("url", "signing_secret")}
"""What each receiver type must be told where to read (PagerDuty's ``url`` is the Events API's unless given)."""


def notification_receivers(platform: Platform) -> Iterator[Finding]:
    """Each receiver is told where to read what its type needs, and nothing its type does not take."""
    for receiver in platform.notifications.receivers:
        given = {field for field, _source in receiver.settings()}
        for field in _NEEDS[receiver.type.value]:
            if field not in given:
                yield Finding(
                    ("notifications", "receivers", receiver.name, field),
                    f"a {receiver.type.value} receiver needs its {field}: {{env: NAME}} or {{secret: NAME}}",
                    ERROR,
                    "notification-receivers",
                )
        for field in sorted(given - {*_NEEDS[receiver.type.value], "url"}):
            yield Finding(
                ("notifications", "receivers", receiver.name, field),
                f"a {receiver.type.value} receiver takes no {field}",
                ERROR,
                "notification-receivers",
            )


def _route_services(platform: Platform, index: int, services: tuple[str, ...]) -> Iterator[Finding]:
    """A route's ``services`` name services of the platform (a release matches by the services of its parts)."""
    known = [service.name for service in platform.all_services]
    for position, name in enumerate(services):
        if name not in known:
            yield Finding(
                ("notifications", "routes", index, "services", position),
                f"unknown service {name!r}; known: {', '.join(known) or 'none'}{did_you_mean(name, known)}",
                ERROR,
                "notification-routes",
            )


def notification_routes(platform: Platform) -> Iterator[Finding]:
    """Routes name declared receivers, known environments and known services; the seed's ``notification_channels``
    and alerts' ``notification:`` name declared receivers (a warning: the seed's own blocks must load as written)."""
    settings = platform.notifications
    names = [receiver.name for receiver in settings.receivers]
    for index, route in enumerate(settings.routes or ()):
        if not route.receivers:
            yield Finding(
                ("notifications", "routes", index, "receivers"),
                f"a route names at least one receiver; declared: {', '.join(names) or 'none'}",
                ERROR,
                "notification-routes",
            )
        for position, name in enumerate(route.receivers):
            if name not in names:
                yield Finding(
                    ("notifications", "routes", index, "receivers", position),
                    f"unknown receiver {name!r}; declared: {', '.join(names) or 'none'}{did_you_mean(name, names)}",
                    ERROR,
                    "notification-routes",
                )
        for position, name in enumerate(route.environments):
            if name not in platform.promotion_order:
                order = platform.promotion_order
                # "prod" is too short beside "production" for difflib's ratio: a name that begins one known is close
                starts = [known for known in order if name and known.startswith(name)]
                hint = did_you_mean(name, order) or (f" (did you mean {starts[0]!r}?)" if len(starts) == 1 else "")
                yield Finding(
                    ("notifications", "routes", index, "environments", position),
                    f"unknown environment {name!r}; known: {', '.join(order) or 'none'}{hint}",
                    ERROR,
                    "notification-routes",
                )
        yield from _route_services(platform, index, route.services)
    if not settings.receivers:
        return
    channels = platform.canary_strategy.failure_handling.notification_channels if platform.canary_strategy else ()
    for index, name in enumerate(channels):
        if name not in names:
            yield Finding(
                ("canary_strategy", "failure_handling", "notification_channels", index),
                f"no receiver {name!r} is declared in notifications.receivers, so it is told nothing",
                WARNING,
                "notification-routes",
            )
    for group in platform.alerting_rules:
        for index, rule in enumerate(group.rules):
            if rule.notification is not None and rule.notification not in names:
                yield Finding(
                    ("alerting_rules", group.name, index, "notification"),
                    f"no receiver {rule.notification!r} is declared in notifications.receivers",
                    WARNING,
                    "notification-routes",
                )


_ALERTMANAGER_BY_NAME = ("slack", "pagerduty")
"""The receivers ``render`` knows by their name alone (``render/alertmanager.py``); any other needs declaring."""


def alert_receivers(platform: Platform) -> Iterator[Finding]:
    """An alert's ``notification:`` names a receiver ``render`` can write for Alertmanager: ``slack`` or ``pagerduty``,
    or one declared in ``notifications.receivers`` (its type says which). Any other name would have no receiver."""
    declared = {receiver.name for receiver in platform.notifications.receivers}
    for group in platform.alerting_rules:
        for index, rule in enumerate(group.rules):
            name = rule.notification
            if name is None or name in _ALERTMANAGER_BY_NAME or name in declared:
                continue
            names = [*_ALERTMANAGER_BY_NAME, *sorted(declared)]
            known = " or ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " or " + names[-1]
            if name == "email":
                why = (
                    "Alertmanager's email receiver is not rendered (the platform file gives no mail server or "
                    "addresses)"
                )
            else:
                why = f"Alertmanager would have no receiver {name!r}"
            yield Finding(
                ("alerting_rules", group.name, index, "notification"),
                f"{why}: name {known}{did_you_mean(name, [*_ALERTMANAGER_BY_NAME, *declared])}, or declare "
                f"{name!r} in notifications.receivers with type slack, pagerduty or webhook (a webhook receiver "
                "reads its URL from a file, which needs Alertmanager 0.26)",
                ERROR,
                "alert-receivers",
            )


def release_dependencies(platform: Platform) -> Iterator[Finding]:
    """Every ``depends_on`` names another service of the platform, and the dependencies have no cycle: a release of
    several services rolls each out after those it depends on (``domain.releases``)."""
    known = [service.name for service in platform.all_services]
    for service in platform.services:
        path = ("services", service.name, "depends_on")
        for need in service.depends_on:
            if need == service.name:
                yield Finding(path, f"{service.name} depends on itself", ERROR, "release-dependencies")
            elif need not in known:
                others = [name for name in known if name != service.name]
                yield Finding(
                    path,
                    f"unknown service {need!r}{did_you_mean(need, others)}; known: {', '.join(others) or 'none'}",
                    ERROR,
                    "release-dependencies",
                )
    dependencies = platform.dependencies  # what is named above left out: a cycle is a cycle of what exists
    graph = {name: tuple(n for n in needs if n != name and n in dependencies) for name, needs in dependencies.items()}
    if (cycle := dependency_cycle(graph)) is not None:
        yield Finding(
            ("services", cycle[0], "depends_on"),
            f"dependency cycle: {' -> '.join(cycle)}: no release could roll these services out in an order",
            ERROR,
            "release-dependencies",
        )


_GITHUB_REMOTE = re.compile(r"^(?:https://(?:[^@/]+@)?|ssh://git@|git@)github\.com[/:][^/]+/[^/]+?(?:\.git)?/?$")
"""A repository on GitHub, as ``git clone`` is given it: https (with or without credentials), ssh, scp-like."""
_REMOTE_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[^/@:]+@[^/:]+:)", re.IGNORECASE)
"""A remote reached over the network (a scheme other than a local path, or scp-like ``user@host:path``)."""


def gitops(platform: Platform) -> Iterator[Finding]:
    """``gitops:``: the environments it binds exist, are bound to no cluster as well, roll out by ``rolling`` (the
    controller applies one Deployment; traffic splitting is not ours there), and pull requests need GitHub."""
    settings = platform.gitops
    if settings is None:
        return
    order = platform.promotion_order
    bound = {binding.environment for binding in platform.kubernetes.clusters}
    for binding in settings.environments:
        place = ("gitops", "environments", binding.environment)
        if binding.environment not in order:
            yield Finding(
                place,
                f"unknown environment {binding.environment!r}{did_you_mean(binding.environment, order)}; "
                f"known: {', '.join(order)}",
                ERROR,
                "gitops-binding",
            )
            continue
        if binding.environment in bound:
            yield Finding(
                place,
                f"{binding.environment} is bound both to a cluster (kubernetes.clusters.{binding.environment}) and to "
                "the GitOps repository: one of them deploys it — remove one binding (gitops.context names the "
                "cluster where its Application or Kustomization lives)",
                ERROR,
                "gitops-cluster",
            )
        kind = platform.environment(binding.environment).strategy
        if kind is not StrategyKind.ROLLING:
            yield Finding(
                ("environments", binding.environment, "deployment_strategy"),
                f"{binding.environment} is promoted through the GitOps repository, where the controller applies the "
                f"overlay's one Deployment: a {kind.value} traffic split would be the controller's (Argo Rollouts, "
                "Flagger), not findly-infra's — use deployment_strategy: rolling there",
                ERROR,
                "gitops-strategy",
            )
    if settings.pull_request and not _GITHUB_REMOTE.match(settings.repository.strip()):
        remote = bool(_REMOTE_URL.match(settings.repository.strip()))
        yield Finding(
            ("gitops", "pull_request"),
            f"pull requests are opened through the GitHub API, and {settings.repository} is "
            + (
                "not on github.com (a GitHub Enterprise Server is reached with GITHUB_API_URL set to its API)"
                if remote
                else "a local repository, which has no pull requests: set pull_request: false"
            ),
            WARNING if remote else ERROR,
            "gitops-pull-request",
        )


RULES: tuple[Rule, ...] = (
    promotion_order,
    cluster_bindings,
    approver_groups,
    identity_scope,
    resource_profiles,
    strategies_defined,
    canary_analysis,
    blue_green,
    slo_consistency,
    autoscaling,
    cluster_capacity,
    mesh_identities,
    secret_rotation,
    secret_references,
    secret_ids,
    workload_identity,
    ingress_certificates,
    recovery_point,
    failover,
    alert_rules,
    notification_receivers,
    notification_routes,
    alert_receivers,
    release_dependencies,
    gitops,
)


def check_platform(platform: Platform) -> tuple[Finding, ...]:
    """Every finding of every rule, errors first, each group in the file's order."""
    findings = [finding for rule in RULES for finding in rule(platform)]
    return tuple(sorted(findings, key=lambda finding: finding.severity is not Severity.ERROR))
