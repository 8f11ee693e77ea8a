"""The simulated DR cluster (``dr drill --simulate``, and tests): a Kubernetes cluster's objects in memory, beside
``adapters.memory.MemoryClusters`` (GKE) and ``MemoryDns``. A fake that holds real state, never a mock; every outcome
it takes part in says SIMULATED (``cli.dr_commands``)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from findly_infra.domain.cluster import Readiness, object_key

__all__ = ["MemoryClusterObjects"]


@attrs.define
class MemoryClusterObjects:
    """A cluster's objects in memory (the ``ClusterObjects`` port): an apply keeps the object as sent (the server's
    defaults and bookkeeping aside, a server-side apply of the whole object by its one manager leaves it so), a list
    selects by labels, and every Deployment is Ready at once — or never, for the names in *never_ready*."""

    server: str = "simulated://dr-cluster"
    objects: dict[tuple[str, str, str, str], dict[str, Any]] = attrs.field(factory=dict)
    never_ready: set[str] = attrs.field(factory=set)
    applies: int = 0
    """How many applies (not dry runs) it took: a rerun that changes nothing sends none."""

    def apply(self, manifest: Mapping[str, Any], *, dry_run: bool = False, force: bool = False) -> dict[str, Any]:
        return self.apply_object(manifest, dry_run=dry_run, force=force)[0]

    def apply_object(
        self,
        manifest: Mapping[str, Any],
        *,
        dry_run: bool = False,
        force: bool = False,  # noqa: ARG002 - one manager here: nothing to take back
    ) -> tuple[dict[str, Any], bool]:
        key = object_key(manifest)
        created = key not in self.objects
        kept = copy.deepcopy(dict(manifest))
        if not dry_run:
            self.objects[key] = kept
            self.applies += 1
        return copy.deepcopy(kept), created

    def get(self, api_version: str, kind_name: str, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.objects.get((api_version, kind_name, namespace if kind_name != "Namespace" else "", name))
        if found is None:
            found = self.objects.get((api_version, kind_name, namespace, name))
        return copy.deepcopy(found) if found is not None else None

    def served(self, kinds: Iterable[tuple[str, str]]) -> set[tuple[str, str]] | None:
        return set(kinds)

    def serves(self, api_version: str, kind_name: str, namespace: str) -> bool:  # noqa: ARG002 - serves every kind
        return True

    def managed(self, api_version: str, kind_name: str, namespace: str, selector: str) -> list[dict[str, Any]]:
        wanted = dict(pair.split("=", 1) for pair in selector.split(",") if pair)
        return [
            copy.deepcopy(item)
            for (version, kind, space, _), item in sorted(self.objects.items())
            if (version, kind, space) == (api_version, kind_name, namespace)
            and all((item["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())
        ]

    def delete(
        self,
        api_version: str,
        kind_name: str,
        namespace: str,
        name: str,
        *,
        dry_run: bool = False,
        resource_version: str | None = None,
    ) -> bool:
        key = (api_version, kind_name, namespace, name)
        held = self.objects.get(key)
        if held is None:
            return False
        if resource_version is not None and held.get("metadata", {}).get("resourceVersion") != resource_version:
            return False
        if not dry_run:
            del self.objects[key]
        return True

    def wait_ready(self, namespace: str, name: str, *, timeout: float) -> Readiness:  # noqa: ARG002 - at once
        present = any(
            kind == "Deployment" and (space, named) == (namespace, name) for _, kind, space, named in self.objects
        )
        if not present:
            return Readiness(False, reason=f"deployment {namespace}/{name} does not exist")
        if name in self.never_ready:
            return Readiness(False, failed=True, reason="ProgressDeadlineExceeded (simulated)")
        return Readiness(True)

    def deployments(self) -> list[str]:
        return sorted(f"{space}/{name}" for _, kind, space, name in self.objects if kind == "Deployment")
