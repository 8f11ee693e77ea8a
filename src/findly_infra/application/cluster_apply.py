"""An environment's rendered objects brought to its cluster (``apply``), or compared with it (``diff``).

Every object is applied server-side as the field manager ``findly-infra`` with strict field validation, so the
cluster keeps what other managers own (an autoscaler's replicas, a mesh's injected sidecars) and refuses a field it
does not know. First the whole set is applied as a server-side dry run: an object the cluster refuses stops the
command before anything changed. Then the objects are applied for real, the Namespace first; and objects that carry
our labels for this environment but left the platform file are pruned — never anything we did not apply.

``diff`` is the dry run alone: what would be created, changed (with the fields) or pruned — as ``kubectl diff
--server-side --force-conflicts`` judges it: a field another manager took (``kubectl set image``, the most common
drift) is listed as changing, with the manager that owns it now, where ``apply`` refuses to take it back unless forced.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from findly_infra.application.ports import BadInputError, ClusterObjects, FieldConflictError
from findly_infra.domain.cluster import (
    ENVIRONMENT_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    PROVIDERS,
    PRUNABLE,
    object_key,
)

__all__ = ["Change", "ClusterReport", "Value", "apply_environment", "diff_environment"]

_CUSTOM = {
    "networking.istio.io": "Istio",
    "security.istio.io": "Istio",
    "monitoring.coreos.com": "the Prometheus operator",
}
_BOOKKEEPING = ("managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink")
APPLIED = "findly-infra/applied"
"""The annotation ``apply`` sets on each object it applies: a digest of the object as applied (without it). An object
of ours whose annotation is the digest of what would be applied now, and that holds every value of it, is one the
apply would not change — so it is neither dry-run nor applied again (kubectl's client-side apply keeps the whole
object in ``kubectl.kubernetes.io/last-applied-configuration`` for the same purpose and skips an empty patch as
``unchanged``: kubernetes/kubectl pkg/cmd/apply/patcher.go). Anything else that applies as ``findly-infra`` (a
release's step) leaves it out, so the server removes it and the next ``apply`` looks again."""


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
    owners: tuple[tuple[str, str], ...] = ()
    """For ``diff``: the fields another field manager owns now (``kubectl set image``: ``kubectl-set``), each with
    that manager — ``apply`` takes them back only when forced."""
    before: Mapping[str, Any] | None = attrs.field(default=None, eq=False, repr=False)
    """For ``diff``: the object as the cluster holds it now (None: it does not exist), without the server's
    bookkeeping and with a Secret's values masked — kubectl diff's ``LIVE``."""
    after: Mapping[str, Any] | None = attrs.field(default=None, eq=False, repr=False)
    """For ``diff``: the object as the server-side apply would make it (its dry run's answer; None: pruned), the
    same way — kubectl diff's ``MERGED``."""

    @property
    def shown(self) -> bool:
        """Whether this change carries the objects a diff shows (``diff`` of one that is not unchanged)."""
        return self.action != "unchanged" and (self.before is not None or self.after is not None)

    def unified(self) -> list[str]:
        """The unified diff of the object's YAML, live → merged, as ``kubectl diff`` prints it (``diff -u -N`` of
        the two, kubernetes/kubectl pkg/cmd/diff/diff.go): all ``+`` for an object to create, all ``-`` for one to
        prune. Empty when this change carries no objects."""
        if not self.shown:
            return []
        where = f"{self.namespace}/" if self.namespace else ""
        return list(
            difflib.unified_diff(
                _yaml(self.before),
                _yaml(self.after),
                fromfile=f"live/{where}{self.reference}",
                tofile=f"merged/{where}{self.reference}",
                lineterm="",
            )
        )

    def values(self) -> list[Value]:
        """Each value that differs, with its path, old and new (``None``: absent) — a Secret's masked."""
        return _values(self.before, self.after) if self.shown else []

    @property
    def owned_by(self) -> dict[str, str]:
        return dict(self.owners)

    @property
    def reference(self) -> str:
        """``deployment.apps/fn-posts``, as kubectl names an object."""
        group = self.api_version.rpartition("/")[0]
        return f"{self.kind.lower()}{'.' + group if group else ''}/{self.name}"

    def describe(self, dry_run: bool) -> str:
        verb = {"create": "created", "configure": "configured", "unchanged": "unchanged", "prune": "pruned"}
        said = verb[self.action] + (" (dry run)" if dry_run and self.action != "unchanged" else "")
        where = f" in {self.namespace}" if self.namespace else ""
        owned = self.owned_by
        said_fields = [f"{field} (owned by {owned[field]})" if field in owned else field for field in self.fields]
        fields = f": {', '.join(said_fields)}" if self.fields else ""
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
            **({"owned_by": self.owned_by} if self.owners else {}),
            **({"note": self.note} if self.note else {}),
            **({"values": [value.to_json() for value in self.values()]} if self.shown else {}),
        }


@attrs.frozen
class Value:
    """One value ``diff`` finds changing: its dotted path (as :attr:`Change.fields` names it), what the cluster
    holds (``None``: absent) and what the apply would make it."""

    path: str
    old: Any
    new: Any

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "old": self.old, "new": self.new}


def _yaml(obj: Mapping[str, Any] | None) -> list[str]:
    if obj is None:
        return []
    import yaml

    return yaml.safe_dump(dict(obj), sort_keys=True, default_flow_style=False, allow_unicode=True).splitlines()


def _values(before: Any, after: Any) -> list[Value]:
    """The leaves where *after* differs from *before*, the paths of :func:`_differences` (an object or map on one
    side alone is taken leaf by leaf)."""
    return [Value(path, old, new) for path, old, new in _walk(before, after, "", leaves=True)]


_MASK, _MASK_BEFORE, _MASK_AFTER = "***", "*** (before)", "*** (after)"


def _masked(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    """A Secret's values never shown: each key of ``data`` (and ``stringData``) becomes ``***``, or ``*** (before)``
    and ``*** (after)`` where its value changes — as kubectl diff masks them (kubernetes/kubectl
    pkg/cmd/diff/diff.go, ``Masker`` and ``sensitiveMaskBefore``/``sensitiveMaskAfter``). Not a Secret: as given."""
    if (before or after or {}).get("kind") != "Secret":
        return before, after
    old, new = dict(before or {}), dict(after or {})
    for field in ("data", "stringData"):
        was, now = old.get(field), new.get(field)
        was = dict(was) if isinstance(was, Mapping) else None
        now = dict(now) if isinstance(now, Mapping) else None
        for key in set(was or {}) | set(now or {}):
            changed = was is not None and now is not None and key in was and key in now and was[key] != now[key]
            if was is not None and key in was:
                was[key] = _MASK_BEFORE if changed else _MASK
            if now is not None and key in now:
                now[key] = _MASK_AFTER if changed else _MASK
        if was is not None:
            old[field] = was
        if now is not None:
            new[field] = now
    return (old if before is not None else None), (new if after is not None else None)


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
    def owned(self) -> dict[str, list[str]]:
        """Each manager other than ours that owns a field ``apply`` would change, and the objects it holds them in."""
        found: dict[str, list[str]] = {}
        for change in self.changes:
            for manager in dict.fromkeys(manager for _, manager in change.owners):
                found.setdefault(manager, []).append(change.reference)
        return found

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
            **({"owned": self.owned} if self.owned else {}),
            "changes": [change.to_json() for change in self.changes],
            **({"ready": not self.not_ready, "not_ready": dict(self.not_ready)} if self.waited else {}),
        }


_ACTIONS = ("create", "configure", "unchanged", "prune")
_FUTURE = {"create": "to create", "configure": "to change", "unchanged": "unchanged", "prune": "to prune"}
_PAST = {"create": "created", "configure": "changed", "unchanged": "unchanged", "prune": "pruned"}


def _comparable(obj: Mapping[str, Any]) -> dict[str, Any]:
    metadata = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _BOOKKEEPING}
    annotations = {k: v for k, v in (metadata.get("annotations") or {}).items() if k != APPLIED}
    metadata.pop("annotations", None)
    if annotations:
        metadata["annotations"] = annotations
    return {**{k: v for k, v in obj.items() if k not in ("status", "metadata")}, "metadata": metadata}


def _annotated(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """*manifest* with :data:`APPLIED`: the digest of the manifest as rendered (labels included)."""
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    metadata = dict(manifest.get("metadata") or {})
    metadata["annotations"] = {**(metadata.get("annotations") or {}), APPLIED: digest[:32]}
    return {**manifest, "metadata": metadata}


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _holds(live: Any, wanted: Any) -> bool:
    """Whether *live* holds every value of *wanted*: each key of a map (more keys, such as the server's defaults,
    are fine), each item of a list in order (a list of another length is not), each value equal and of its type."""
    if type(wanted) in _SCALARS:  # most values: compared at once, without the ABC checks below
        return type(live) is type(wanted) and live == wanted
    if isinstance(wanted, Mapping):
        return isinstance(live, Mapping) and all(key in live and _holds(live[key], v) for key, v in wanted.items())
    if isinstance(wanted, list):
        return (
            isinstance(live, list)
            and len(live) == len(wanted)
            and all(_holds(have, want) for have, want in zip(live, wanted, strict=True))
        )
    return type(live) is type(wanted) and live == wanted


def _differences(before: Any, after: Any) -> list[str]:
    """The dotted paths where *after* differs from *before*."""
    return [path for path, _, _ in _walk(before, after, "", leaves=False)]


def _walk(before: Any, after: Any, path: str, *, leaves: bool) -> list[tuple[str, Any, Any]]:
    """Where *after* differs from *before*: each path with its old and new value. Maps are compared key by key and
    lists of one length item by item; with *leaves*, a map on one side alone is also taken key by key (its leaves
    are the values shown), else it is one difference at its own path."""
    if leaves:
        maps = before is None or isinstance(before, Mapping), after is None or isinstance(after, Mapping)
        descend = all(maps) and (before is not None or after is not None)
    else:
        descend = isinstance(before, Mapping) and isinstance(after, Mapping)
    if descend:
        old, new = before or {}, after or {}
        found = []
        for key in sorted(set(old) | set(new), key=str):
            found += _walk(old.get(key), new.get(key), f"{path}.{key}" if path else str(key), leaves=leaves)
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        found = []
        for index, (was, now) in enumerate(zip(before, after, strict=True)):
            found += _walk(was, now, f"{path}[{index}]", leaves=leaves)
        return found
    return [] if before == after else [(path, before, after)]


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
    are in ``not_ready`` with the cluster's reason.

    Requests: one server-side dry run per object (the check before anything changes, and what it would change), one
    list per kind of ours in *namespace* (what is there now, and what to prune), and one real apply per object the
    dry run found to change — none for an unchanged one. In a namespace the same apply creates, nothing can exist
    yet: there are no dry runs and no lists, one discovery request says whether the cluster serves every kind, and
    each object is applied once."""
    ordered = [_annotated(manifest) for manifest in _ordered(objects)]
    listed = _Listed(cluster, environment)
    try:  # the cluster checks everything before any change
        plan = _plan(cluster, ordered, listed, force=force, show_owned=False, writing=not dry_run)
    except BadInputError as refused:
        if str(refused).endswith("nothing was changed"):
            raise
        raise type(refused)(f"{refused}; nothing was changed") from None
    changes = [step.change for step in plan] if dry_run else _carry_out(cluster, plan, force=force)
    if prune:
        changes += _prune(cluster, ordered, listed, namespace, dry_run=dry_run)
    if wait is None or dry_run:
        return ClusterReport(environment, cluster.server, dry_run, tuple(changes))
    not_ready = []
    for change in changes:
        if change.kind == "Deployment" and change.action != "prune":
            readiness = cluster.wait_ready(change.namespace, change.name, timeout=wait)
            if not readiness.ready:
                not_ready.append((change.name, readiness.reason))
    return ClusterReport(environment, cluster.server, dry_run, tuple(changes), tuple(not_ready), waited=True)


def diff_environment(
    cluster: ClusterObjects,
    objects: Sequence[Mapping[str, Any]],
    environment: str,
    namespace: str,
    *,
    prune: bool = True,
) -> ClusterReport:
    """How *cluster* differs from *objects*: a server-side dry run of each, and the objects of ours that would be
    pruned. A field another manager owns now is listed as changing, with that manager (``owners``): the object is
    dry-run again with ``force``, as ``kubectl diff --server-side --force-conflicts`` does — a drift check says what
    differs, where ``apply`` refuses to take such a field back unless forced.

    Requests: one dry run per object, and one list per kind of ours in *namespace* (what is there now to compare
    with, and what would be pruned) instead of a get per object — kubectl diff gets each object and dry-runs it
    (kubernetes/kubectl pkg/cmd/diff/diff.go, ``InfoObject.Live`` and ``Merged``)."""
    ordered = [_annotated(manifest) for manifest in _ordered(objects)]
    listed = _Listed(cluster, environment)
    changes = [
        _shown(step.change, step.live, step.result if step.result is not None else step.manifest)
        for step in _plan(cluster, ordered, listed, force=False, show_owned=True, writing=False)
    ]
    if prune:
        for change in _prune(cluster, ordered, listed, namespace, dry_run=True):
            live = listed.of(change.api_version, change.kind, change.namespace).get(change.name)
            changes.append(_shown(change, live, None))
    return ClusterReport(environment, cluster.server, True, tuple(changes))


def _shown(change: Change, live: Mapping[str, Any] | None, merged: Mapping[str, Any] | None) -> Change:
    """*change* with the objects its diff shows: *live* (none for one to create) and *merged* (none for one to
    prune), each without the server's bookkeeping (kubectl diff drops ``managedFields`` unless asked:
    ``--show-managed-fields``), a Secret's values masked. Nothing for an unchanged object."""
    if change.action == "unchanged":
        return change
    before = _comparable(live) if live is not None and change.action != "create" else None
    after = _comparable(merged) if merged is not None and change.action != "prune" else None
    shown_before, shown_after = _masked(before, after)
    return attrs.evolve(change, before=shown_before, after=shown_after)


@attrs.define
class _Listed:
    """The objects of ours — both labels — per kind and namespace, each kind listed once (a list by label, as
    ``kubectl apply --prune -l`` lists: kubernetes/kubectl pkg/cmd/apply/prune.go), and the namespaces this run
    creates, where nothing can be yet."""

    cluster: ClusterObjects
    environment: str
    lists: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = attrs.Factory(dict)
    new_namespaces: set[str] = attrs.Factory(set)

    @property
    def selector(self) -> str:
        return f"{MANAGED_BY_LABEL}={MANAGED_BY},{ENVIRONMENT_LABEL}={self.environment}"

    def of(self, api_version: str, kind: str, namespace: str) -> dict[str, dict[str, Any]]:
        """Ours of a kind in *namespace*, by name."""
        key = (api_version, kind, namespace)
        if key not in self.lists:
            if namespace in self.new_namespaces:
                self.lists[key] = {}
            else:
                found = self.cluster.managed(api_version, kind, namespace, self.selector)
                self.lists[key] = {str(item["metadata"]["name"]): item for item in found}
        return self.lists[key]

    def live(self, manifest: Mapping[str, Any]) -> dict[str, Any] | None:
        """The object as the cluster holds it now: from its kind's list when it is ours, else read (an object that
        exists without our labels: someone else's, or ours before the labels)."""
        api_version, kind, namespace, name = object_key(manifest)
        if kind != "Namespace":
            found = self.of(api_version, kind, namespace).get(name)
            if found is not None:
                return found
        return self.cluster.get(api_version, kind, namespace, name)


@attrs.frozen
class _Step:
    manifest: Mapping[str, Any]
    change: Change
    live: Mapping[str, Any] | None
    refresh: bool = False
    """Unchanged but for :data:`APPLIED`: applied all the same (said as unchanged), so that the next run need not
    ask."""
    result: Mapping[str, Any] | None = None
    """The dry run's answer, the object as the apply would make it (None where nothing was dry-run)."""


def _plan(
    cluster: ClusterObjects,
    ordered: Sequence[Mapping[str, Any]],
    listed: _Listed,
    *,
    force: bool,
    show_owned: bool,
    writing: bool,
) -> list[_Step]:
    """What applying *ordered* would do, as the cluster judges it: each object not as last applied dry-run (its
    namespace new: only its kind checked, by one discovery request for all of them; a new Namespace the apply
    writes first is checked by that write)."""
    steps: list[_Step] = []
    unchecked: list[tuple[str, str, str, str]] = []
    for manifest in ordered:
        api_version, kind, namespace, name = object_key(manifest)
        if namespace in listed.new_namespaces:  # the server cannot check it until its namespace exists
            unchecked.append((api_version, kind, namespace, name))
            change = Change(api_version, kind, namespace, name, "create", note="its namespace is new")
            steps.append(_Step(manifest, change, None))
            continue
        live: Mapping[str, Any] | None = None
        if kind == "Namespace":  # cluster-scoped: read by name (the access grants its own namespace alone)
            live = cluster.get(api_version, kind, namespace, name)
            if live is None and not steps and writing:  # written first: its own apply is its check
                listed.new_namespaces.add(name)
                steps.append(_Step(manifest, Change(api_version, kind, namespace, name, "create"), None))
                continue
        else:
            live = listed.of(api_version, kind, namespace).get(name)
        if live is not None and _holds(live, manifest):  # as last applied, and nobody changed it: nothing to do
            steps.append(_Step(manifest, Change(api_version, kind, namespace, name, "unchanged"), live))
            continue
        steps.append(_dry_run(cluster, manifest, listed, live, force=force, show_owned=show_owned))
        if steps[-1].change.action == "create" and kind == "Namespace":
            listed.new_namespaces.add(name)
    _check_served(cluster, unchecked)
    return steps


def _dry_run(
    cluster: ClusterObjects,
    manifest: Mapping[str, Any],
    listed: _Listed,
    live: Mapping[str, Any] | None,
    *,
    force: bool,
    show_owned: bool,
) -> _Step:
    """One dry run of *manifest*, compared with *live* (read here when not given)."""
    api_version, kind, namespace, name = object_key(manifest)
    owned: tuple[tuple[str, str], ...] = ()
    try:
        result, created = cluster.apply_object(manifest, dry_run=True, force=force)
    except FieldConflictError as conflict:
        live = (live or listed.live(manifest)) if show_owned else None
        if live is None:
            raise
        result, created = cluster.apply_object(manifest, dry_run=True, force=True)  # apply --force-conflicts
        owned = tuple((_as_path(field, live), manager) for field, manager in conflict.conflicts)
    if created:
        return _Step(manifest, Change(api_version, kind, namespace, name, "create"), None, result=result)
    live = live or listed.live(manifest)
    if live is None:  # deleted between the dry run and the read: it would be created
        return _Step(manifest, Change(api_version, kind, namespace, name, "create"), None, result=result)
    change = _compared(manifest, live, result, owned)
    return _Step(manifest, change, live, refresh=_applied(live) != _applied(result), result=result)


def _compared(
    manifest: Mapping[str, Any],
    live: Mapping[str, Any],
    result: Mapping[str, Any],
    owned: Sequence[tuple[str, str]] = (),
) -> Change:
    api_version, kind, namespace, name = object_key(manifest)
    fields = tuple(_differences(_comparable(live), _comparable(result)))
    owners = tuple((field, manager) for field in fields for manager in [_owner(field, owned)] if manager)
    unplaced = sorted({f"{path} (owned by {manager})" for path, manager in owned if not _placed(path, fields)})
    note = f"owned by another manager: {', '.join(unplaced)}" if unplaced else ""
    action = "configure" if fields else "unchanged"
    return Change(api_version, kind, namespace, name, action, fields, note=note, owners=owners)


def _applied(obj: Mapping[str, Any]) -> str | None:
    return ((obj.get("metadata") or {}).get("annotations") or {}).get(APPLIED)


def _check_served(cluster: ClusterObjects, unchecked: Sequence[tuple[str, str, str, str]]) -> None:
    """Refuse, before anything changes, an object of a kind the cluster does not serve (its CRDs not installed)."""
    if not unchecked:
        return
    kinds = sorted({(api_version, kind) for api_version, kind, _, _ in unchecked})
    served = cluster.served(kinds)
    if served is None:  # the server cannot say at once: ask per kind, in the namespace (no cluster-wide permission)
        served = {
            (api_version, kind)
            for api_version, kind, namespace in {(a, k, ns) for a, k, ns, _ in unchecked}
            if cluster.serves(api_version, kind, namespace)
        }
    for api_version, kind, _, name in unchecked:
        if (api_version, kind) not in served:
            owner = PROVIDERS.get(api_version.partition("/")[0])
            hint = f": is {owner} installed (its CRDs)?" if owner else ""
            raise BadInputError(
                f"cannot apply {kind} {name!r} to {cluster.server}: the cluster does not serve {api_version} "
                f"{kind}{hint}; nothing was changed"
            )


def _carry_out(cluster: ClusterObjects, plan: Sequence[_Step], *, force: bool) -> list[Change]:
    """Apply, in order, what the plan found to change; an unchanged object is not sent again."""
    changes = []
    for step in plan:
        if step.change.action == "unchanged" and not step.refresh:
            changes.append(step.change)
            continue
        result, created = cluster.apply_object(step.manifest, force=force)
        if created or step.live is None:
            api_version, kind, namespace, name = object_key(step.manifest)
            changes.append(Change(api_version, kind, namespace, name, "create"))
        else:
            changes.append(_compared(step.manifest, step.live, result))
    return changes


def _under(field: str, path: str) -> bool:
    """Whether *field* (a dotted path of :func:`_differences`) is *path* or inside it."""
    return field == path or field.startswith((f"{path}.", f"{path}["))


def _owner(field: str, owned: Sequence[tuple[str, str]]) -> str:
    """The manager that owns *field* — or a field it is inside (an atomic list, a map), or one inside it (a list
    that grows) — nearest first; empty when none does."""
    found = [(len(path), manager) for path, manager in owned if _under(field, path) or _under(path, field)]
    return max(found)[1] if found else ""


def _placed(path: str, fields: Sequence[str]) -> bool:
    return any(_under(field, path) or _under(path, field) for field in fields)


_ELEMENT = re.compile(r"\.([^.\[]+)|\[([^\]]*)\]")


def _as_path(field: str, live: Any) -> str:
    """A field as the server names it in a conflict (structured-merge-diff's ``fieldpath.Path.String``:
    ``.spec.template.spec.containers[name="app"].image``, a keyed item by its keys, a set's item by ``[=value]``, an
    atomic list's by ``[index]``) as :func:`_differences` names it in *live* (``spec.template.spec.containers[0]
    .image``); as the server names it when *live* has no such item."""
    said, here = "", live
    for name, key in _ELEMENT.findall(field):
        if name:
            said = f"{said}.{name}" if said else name
            here = here.get(name) if isinstance(here, Mapping) else None
            continue
        index = _item(here, key)
        if index is None:
            return field
        said, here = f"{said}[{index}]", here[index]
    return said or field


def _item(items: Any, key: str) -> int | None:
    """The index in *items* of the item ``[name="app",protocol="TCP"]``, ``[="value"]`` or ``[3]`` selects."""
    if not isinstance(items, list):
        return None
    try:
        if key.startswith("="):
            wanted = json.loads(key[1:])
            return next((i for i, item in enumerate(items) if item == wanted), None)
        if key.isdigit():
            return int(key) if int(key) < len(items) else None
        keys = json.loads("{" + re.sub(r"(^|,)([A-Za-z0-9_.-]+)=", r'\1"\2":', key) + "}")
    except (ValueError, RecursionError):
        return None
    return next(
        (
            i
            for i, item in enumerate(items)
            if isinstance(item, Mapping) and all(item.get(k) == v for k, v in keys.items())
        ),
        None,
    )


def _prune(
    cluster: ClusterObjects,
    ordered: Sequence[Mapping[str, Any]],
    listed: _Listed,
    namespace: str,
    *,
    dry_run: bool,
) -> list[Change]:
    """Delete ours (both labels) in *namespace* that *ordered* lacks — one list per kind, read once with the plan's;
    none in a namespace this run creates."""
    wanted = {object_key(manifest) for manifest in ordered}
    changes = []
    for rendered in PRUNABLE:
        if not rendered.namespaced:
            continue  # a namespace takes everything in it: it is never pruned
        api_version, kind = rendered.api_version, rendered.kind
        for name, found in sorted(listed.of(api_version, kind, namespace).items()):
            key = object_key({**found, "apiVersion": api_version, "kind": kind})
            if key in wanted:
                continue
            cluster.delete(api_version, kind, key[2], name, dry_run=dry_run)
            changes.append(Change(api_version, kind, key[2], name, "prune", note="no longer in the platform file"))
    return changes
