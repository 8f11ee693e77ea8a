"""The rendered tree: a Kustomize base, an overlay per environment, and Prometheus rule files.

:func:`render_platform` is pure and deterministic (stable order, no timestamps): the same platform
renders the same bytes, so GitOps diffs show only real changes. :func:`write_tree` puts it on disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from findly_infra.domain.platform import Platform
from findly_infra.render.manifests import (
    Manifest,
    environment_manifests,
    service_base_manifests,
    shared_base_manifests,
)
from findly_infra.render.rules import alert_rule_groups, slo_rule_groups

__all__ = ["HEADER", "OWNED", "dump", "render_platform", "write_tree"]

HEADER = "# Rendered by findly-infra from the platform file. Do not edit: change the file and render again.\n"
OWNED = ("base", "overlays", "prometheus")
_KUSTOMIZATION = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}


_Base: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's emitter is ~10x faster


class _Dumper(_Base):  # type: ignore[valid-type,misc]
    """Block style, with multi-line strings (PromQL) as literal blocks."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _string)


def dump(document: Any) -> str:
    return HEADER + yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120)


def _prometheus_rule(name: str, groups: list[dict[str, Any]]) -> Manifest:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": "findly-now", "role": "alert-rules"}},
        "spec": {"groups": groups},
    }


def render_platform(
    platform: Platform,
    *,
    environments: Iterable[str] | None = None,
    versions: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Every rendered file, by path relative to the output folder, as text.

    *environments* limits the overlays (default: every environment); *versions* maps a service
    to the version (image tag) to deploy (default ``latest``). Unknown names raise
    :class:`~findly_infra.domain.platform.UnknownNameError`.
    """
    chosen = [platform.environment(name) for name in environments] if environments else list(platform.environments)
    for name in versions or {}:
        platform.service(name)
    files: dict[str, Manifest | dict[str, Any]] = {}
    base: dict[str, Manifest] = {}
    for service in platform.all_services:
        for name, manifest in service_base_manifests(platform, service).items():
            base[f"{service.name}/{name}"] = manifest
    base.update(shared_base_manifests(platform))
    alerts, slos = alert_rule_groups(platform), slo_rule_groups(platform)
    if alerts:
        base["monitoring/prometheusrule-alerts.yaml"] = _prometheus_rule("findly-alerts", alerts)
        files["prometheus/alerts.rules.yaml"] = {"groups": alerts}
    if slos:
        base["monitoring/prometheusrule-slo.yaml"] = _prometheus_rule("findly-slo", slos)
        files["prometheus/slo.rules.yaml"] = {"groups": slos}
    for name, manifest in base.items():
        files[f"base/{name}"] = manifest
    files["base/kustomization.yaml"] = {**_KUSTOMIZATION, "resources": sorted(base)}
    for environment in chosen:
        overlay = environment_manifests(platform, environment, versions or {})
        for name, manifest in overlay.items():
            files[f"overlays/{environment.name}/{name}"] = manifest
        files[f"overlays/{environment.name}/kustomization.yaml"] = {
            **_KUSTOMIZATION,
            "namespace": platform.kubernetes.namespace_for(environment.name),
            "resources": ["../../base", *sorted(overlay)],
            "labels": [{"pairs": {"environment": environment.name}, "includeSelectors": False}],
        }
    return {path: dump(files[path]) for path in sorted(files)}


def write_tree(
    tree: Mapping[str, str], out: str | os.PathLike[str], *, prune: Iterable[str] | None = OWNED
) -> list[Path]:
    """Write *tree* under *out*; delete rendered files of ours under the *prune* folders that the tree lacks.

    Only files that start with :data:`HEADER` (rendered by us) are ever deleted, and folders left
    empty by that. Pass the folders that *tree* covers whole (``overlays/production`` when only
    production was rendered), or ``None`` to delete nothing. Returns the paths written or deleted.
    """
    root = Path(out)
    changed: list[Path] = []
    for relative, text in tree.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    for scope in prune or ():
        folder = root / scope
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.yaml")):
            relative = path.relative_to(root).as_posix()
            if relative not in tree and path.read_text(encoding="utf-8").startswith(HEADER):
                path.unlink()
                changed.append(path)
        for directory in sorted((d for d in folder.rglob("*") if d.is_dir()), reverse=True):
            if not any(directory.iterdir()):
                directory.rmdir()
    return changed
