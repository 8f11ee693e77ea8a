"""An environment's rendered objects brought to its cluster (``apply``), or compared with it (``diff``).

Every object is applied server-side as the field manager ``findly-infra`` with strict field validation, so the
cluster keeps what other managers own (an autoscaler's replicas, a mesh's injected sidecars) and refuses a field it
does not know. First the whole set is applied as a server-side dry run: an object the cluster refuses stops the
command before anything changed. Then the objects are applied for real, the Namespace first; and objects that carry
our labels for this environment but left the platform file are pruned — never anything we did not apply.

``diff`` is the dry run alone: what would be created, changed (with the fields) or pruned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from findly_infra.application.ports import BadInputError, ClusterObjects
from findly_infra.domain.cluster import (
    ENVIRONMENT_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    PROVIDERS,
    PRUNABLE,
    object_key,
)

__all__ = ["Change", "ClusterReport", "apply_environment"]

_CUSTOM = {
    "networking.istio.io": "Istio",
    "security.istio.io": "Istio",
    "monitoring.coreos.com": "the Prometheus operator",
}
_BOOKKEEPING = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink")


@attrs.frozen
class Change:
    """What happened (or would) to one object: ``create``, ``configure`` (with the fields that differ),
    ``unchanged`` or ``prune``."""

    api_version: str
    kind: str
    namespace: str
    name: str
    action: str
    fields: tuple[str, ...] = ()
    note: str = ""

    @property
    def reference(self) -> str:
        """``deployment.apps/fn-posts``, as kubectl names an object."""
        group = self.api_version.rpartition("/")[0]
        return f"{self.kind.lower()}{'.' + group if group else ''}/{self.name}"

    def describe(self, dry_run: bool) -> str:
        verb = {"create": "created", "configure": "configured", "unchanged": "unchanged", "prune": "pruned"}
        said = verb[self.action] + (" (dry run)" if dry_run and self.action != "unchanged" else "")
        where = f" in {self.namespace}" if self.namespace else ""
        fields = f": {', '.join(self.fields)}" if self.fields else ""
        note = f" — {self.note}" if self.note else ""
        return f"{self.reference}{where} {said}{fields}{note}"

    def to_json(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "action": self.action,
            "fields": list(self.fields),
            **({"note": self.note} if self.note else {}),
        }


@attrs.frozen
class ClusterReport:
    environment: str
    server: str
    dry_run: bool
    changes: tuple[Change, ...]
    not_ready: tuple[tuple[str, str], ...] = ()
    """With ``wait``: the Deployments that did not become ready, and the reason the cluster gave."""
    waited: bool = False

    @property
    def counts(self) -> dict[str, int]:
        return {action: sum(1 for c in self.changes if c.action == action) for action in _ACTIONS}

    @property
    def differs(self) -> bool:
        """Whether the cluster differs from the file (anything to create, change or prune)."""
        return any(change.action != "unchanged" for change in self.changes)

    def summary(self) -> str:
        counts = self.counts
        words = _FUTURE if self.dry_run else _PAST
        said = ", ".join(f"{counts[action]} {words[action]}" for action in _ACTIONS)
        mode = "dry run: nothing changed" if self.dry_run else "applied server-side as findly-infra"
        ready = ""
        if self.waited:
            ready = f"; {len(self.not_ready)} not ready" if self.not_ready else "; every workload ready"
        return f"{self.environment}: {said} ({mode}{ready}; {self.server})"

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "server": self.server,
            "dry_run": self.dry_run,
            "differs": self.differs,
            "counts": self.counts,
            "changes": [change.to_json() for change in self.changes],
            **({"ready": not self.not_ready, "not_ready": dict(self.not_ready)} if self.waited else {}),
        }


_ACTIONS = ("create", "configure", "unchanged", "prune")
_FUTURE = {"create": "to create", "configure": "to change", "unchanged": "unchanged", "prune": "to prune"}
_PAST = {"create": "created", "configure": "changed", "unchanged": "unchanged", "prune": "pruned"}


def _comparable(obj: Mapping[str, Any]) -> dict[str, Any]:
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _BOOKKEEPING}
    return {**{k: v for k, v in obj.items() if k not in ("status", "metadata")}, "metadata": metadata}


def _differences(before: Any, after: Any, path: str = "") -> list[str]:
    """The dotted paths where *after* differs from *before*."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        found = []
        for key in sorted(set(before) | set(after), key=str):
            found += _differences(before.get(key), after.get(key), f"{path}.{key}" if path else str(key))
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        found = []
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            found += _differences(old, new, f"{path}[{index}]")
        return found
    return [] if before == after else [path]


def _ordered(objects: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Namespaces first (everything else lives in one), then a stable order."""
    return sorted(objects, key=lambda o: (o.get("kind") != "Namespace", object_key(o)))


def apply_environment(
    cluster: ClusterObjects,
    objects: Sequence[Mapping[str, Any]],
    environment: str,
    namespace: str,
    *,
    dry_run: bool = False,
    prune: bool = True,
    force: bool = False,
    wait: float | None = None,
) -> ClusterReport:
    """Apply *objects* (the environment's, labelled by ``render.objects.for_apply``) to *cluster*; with *dry_run*,
    only say what would change. Objects of ours for *environment* in *namespace* that *objects* lacks are pruned.
    With *wait* (seconds), then wait until every Deployment applied is ready — the ones that fail or run out of time
    are in ``not_ready`` with the cluster's reason."""
    ordered = _ordered(objects)
    try:  # the cluster checks everything before any change
        planned = _pass(cluster, ordered, dry_run=True, force=force)
    except BadInputError as refused:
        if str(refused).endswith("nothing was changed"):
            raise
        raise type(refused)(f"{refused}; nothing was changed") from None
    changes = planned if dry_run else _pass(cluster, ordered, dry_run=False, force=force)
    if prune:
        changes += _prune(cluster, ordered, environment, namespace, dry_run=dry_run)
    if wait is None or dry_run:
        return ClusterReport(environment, cluster.server, dry_run, tuple(changes))
    not_ready = []
    for change in changes:
        if change.kind == "Deployment" and change.action != "prune":
            readiness = cluster.wait_ready(change.namespace, change.name, timeout=wait)
            if not readiness.ready:
                not_ready.append((change.name, readiness.reason))
    return ClusterReport(environment, cluster.server, dry_run, tuple(changes), tuple(not_ready), waited=True)


def _pass(cluster: ClusterObjects, ordered: Sequence[Mapping[str, Any]], *, dry_run: bool, force: bool) -> list[Change]:
    changes: list[Change] = []
    new_namespaces: set[str] = set()
    for manifest in ordered:
        api_version, kind, namespace, name = object_key(manifest)
        live = cluster.get(api_version, kind, namespace, name)
        if dry_run and namespace in new_namespaces:  # its namespace does not exist yet: the server cannot check it
            if not cluster.serves(api_version, kind, namespace):  # but it can say whether it knows the kind at all
                owner = PROVIDERS.get(api_version.partition("/")[0])
                hint = f": is {owner} installed (its CRDs)?" if owner else ""
                raise BadInputError(
                    f"cannot apply {kind} {name!r} to {cluster.server}: the cluster does not serve {api_version} "
                    f"{kind}{hint}; nothing was changed"
                )
            changes.append(Change(api_version, kind, namespace, name, "create", note="its namespace is new"))
            continue
        result = cluster.apply(manifest, dry_run=dry_run, force=force)
        if live is None:
            if kind == "Namespace":
                new_namespaces.add(name)
            changes.append(Change(api_version, kind, namespace, name, "create"))
            continue
        fields = tuple(_differences(_comparable(live), _comparable(result)))
        changes.append(Change(api_version, kind, namespace, name, "configure" if fields else "unchanged", fields))
    return changes


def _prune(
    cluster: ClusterObjects,
    ordered: Sequence[Mapping[str, Any]],
    environment: str,
    namespace: str,
    *,
    dry_run: bool,
) -> list[Change]:
    wanted = {object_key(manifest) for manifest in ordered}
    selector = f"{MANAGED_BY_LABEL}={MANAGED_BY},{ENVIRONMENT_LABEL}={environment}"
    changes = []
    for rendered in PRUNABLE:
        if not rendered.namespaced:
            continue  # a namespace takes everything in it: it is never pruned
        api_version, kind = rendered.api_version, rendered.kind
        for found in cluster.managed(api_version, kind, namespace, selector):
            key = object_key({**found, "apiVersion": api_version, "kind": kind})
            if key in wanted:
                continue
            cluster.delete(api_version, kind, key[2], key[3], dry_run=dry_run)
            changes.append(Change(api_version, kind, key[2], key[3], "prune", note="no longer in the platform file"))
    return changes
