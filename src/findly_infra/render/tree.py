"""The rendered tree: a Kustomize base, an overlay per environment, and Prometheus rule files.

:func:`render_platform` is pure and deterministic (stable order, no timestamps): the same platform
renders the same bytes, so GitOps diffs show only real changes. :func:`write_tree` puts it on disk.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from findly_infra.domain.platform import Platform
from findly_infra.render.access import access_objects
from findly_infra.render.manifests import Manifest, environment_manifests, service_base_manifests
from findly_infra.render.rules import alert_rule_groups, prometheus_rule, slo_rule_groups

__all__ = ["HEADER", "OWNED", "UnsafeOutputError", "dump", "render_platform", "write_tree"]

HEADER = "# Rendered by findly-infra from the platform file. Do not edit: change the file and render again.\n"
OWNED = ("access", "base", "overlays", "prometheus")
_KUSTOMIZATION = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}


_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
# YAML 1.1 words that some parsers (go-yaml v2, so kubectl of old) read as booleans or null
_RESERVED = frozenset(["y", "yes", "n", "no", "on", "off", "true", "false", "null", "~"])
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


_CONSTANTS = {None: "null", True: "true", False: "false"}


def _scalar(value: object) -> str:
    """One scalar: plain where it cannot be misread, else a double-quoted (JSON) string, which YAML reads as is."""
    if value is None or isinstance(value, bool):
        return _CONSTANTS[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
        number = repr(value)  # YAML 1.1 reads "1e-06" as a string: it needs the dot of "1.0e-06"
        return number.replace("e", ".0e", 1) if "e" in number and "." not in number else number
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return _NOT_YAML_PRINTABLE.sub(_escape, json.dumps(text, ensure_ascii=False))


# what YAML cannot hold as is (outside its printable set) or reads as a line break: escaped in a quoted scalar
_NOT_YAML_PRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _literal(text: str) -> tuple[str, list[str]] | None:
    """A multi-line string as a literal block (``|`` or ``|-``) with its lines, where one can hold it exactly."""
    if "\n" not in text or text.startswith((" ", "\n")) or "\r" in text or _UNPRINTABLE.search(text):
        return None
    body = text[:-1] if text.endswith("\n") else text
    if body.endswith("\n") or any(line.endswith(" ") or "\t" in line for line in body.split("\n")):
        return None  # trailing blank lines or spaces: a quoted string says them exactly
    return ("|" if text.endswith("\n") else "|-"), body.split("\n")


def _block(node: Any, indent: str, out: list[str]) -> None:
    """Block-style YAML of a non-empty mapping or sequence (sequences in mappings are not indented, as
    PyYAML and kubectl write them)."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            _entry(f"{indent}{_scalar(key)}:", value, indent + "  ", out, nested_list_indent=indent)
    else:
        for item in node:
            _entry(f"{indent}-", item, indent + "  ", out, nested_list_indent=indent + "  ", in_list=True)


def _entry(
    head: str,
    value: Any,
    inner: str,
    out: list[str],
    *,
    nested_list_indent: str,
    in_list: bool = False,
) -> None:
    if isinstance(value, (Mapping, list, tuple)) and value:
        if in_list:  # "- key: value" (or "- - item") with the rest of the collection under it
            start = len(out)
            _block(value, inner, out)
            out[start] = f"{head} {out[start][len(inner) :]}"
        else:
            out.append(head)
            _block(value, inner if isinstance(value, Mapping) else nested_list_indent, out)
    elif isinstance(value, str) and (literal := _literal(value)) is not None:
        indicator, lines = literal
        out.append(f"{head} {indicator}")
        out.extend(f"{inner}{line}" if line else "" for line in lines)
    elif isinstance(value, Mapping):
        out.append(f"{head} {{}}")
    elif isinstance(value, (list, tuple)):
        out.append(f"{head} []")
    else:
        out.append(f"{head} {_scalar(value)}")


def dump(document: Any) -> str:
    """A document as block-style YAML after the header: every value reads back as written (``yaml.safe_load``),
    multi-line strings (PromQL) as literal blocks. Written directly: PyYAML's pure-Python representer was two
    thirds of rendering a large platform."""
    if not isinstance(document, (Mapping, list, tuple)) or not document:
        lines = [
            "{}"
            if isinstance(document, Mapping)
            else "[]"
            if isinstance(document, (list, tuple))
            else _scalar(document)
        ]
    else:
        lines = []
        _block(document, "", lines)
    return HEADER + "\n".join(lines) + "\n"


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
    alerts, slos = alert_rule_groups(platform), slo_rule_groups(platform)
    if alerts:
        base["monitoring/prometheusrule-alerts.yaml"] = prometheus_rule("findly-alerts", alerts)
        files["prometheus/alerts.rules.yaml"] = {"groups": alerts}
    if slos:
        base["monitoring/prometheusrule-slo.yaml"] = prometheus_rule("findly-slo", slos)
        files["prometheus/slo.rules.yaml"] = {"groups": slos}
    for name, manifest in base.items():
        files[f"base/{name}"] = manifest
    files["base/kustomization.yaml"] = {**_KUSTOMIZATION, "resources": sorted(base)}
    for environment in chosen:
        overlay = environment_manifests(platform, environment, versions or {})
        for name, manifest in overlay.items():
            files[f"overlays/{environment.name}/{name}"] = manifest
        access = {f"{item['kind'].lower()}.yaml": item for item in access_objects(platform, environment.name)}
        for name, manifest in access.items():
            files[f"access/{environment.name}/{name}"] = manifest
        files[f"access/{environment.name}/kustomization.yaml"] = {**_KUSTOMIZATION, "resources": sorted(access)}
        files[f"overlays/{environment.name}/kustomization.yaml"] = {
            **_KUSTOMIZATION,
            "namespace": platform.kubernetes.namespace_for(environment.name),
            "resources": ["../../base", *sorted(overlay)],
            "labels": [{"pairs": {"environment": environment.name}, "includeSelectors": False}],
        }
    return {path: dump(files[path]) for path in sorted(files)}


class UnsafeOutputError(Exception):
    """Raised when writing the rendered tree would go through a symbolic link (and so, perhaps, out of its folder)."""


def _no_link(root: Path, relative: str) -> Path:
    """``root / relative``, refusing any symbolic link on the way (the root itself is the person's choice)."""
    path = root
    for part in Path(relative).parts:
        path = path / part
        if path.is_symlink():
            raise UnsafeOutputError(
                f"{path} is a symbolic link: render never writes through one (it could lead out of {root}); "
                "remove it, or render into another folder"
            )
    return path


def _write(path: Path, text: str) -> None:
    """Write *path* without following a link put there meanwhile (``O_NOFOLLOW``)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)


def write_tree(
    tree: Mapping[str, str], out: str | os.PathLike[str], *, prune: Iterable[str] | None = OWNED
) -> list[Path]:
    """Write *tree* under *out*; delete rendered files of ours under the *prune* folders that the tree lacks.

    Nothing is written or deleted through a symbolic link inside *out* (:class:`UnsafeOutputError`). Only files
    that start with :data:`HEADER` (rendered by us) are ever deleted, and folders left empty by that. Pass the
    folders that *tree* covers whole (``overlays/production`` when only production was rendered), or ``None`` to
    delete nothing. Returns the paths written or deleted.
    """
    root = Path(out)
    changed: list[Path] = []
    for relative in tree:
        _no_link(root, relative)  # all checked before anything is written
    root.mkdir(parents=True, exist_ok=True)
    for relative, text in tree.items():
        for parent in reversed(Path(relative).parents[:-1]):  # the folders, shallowest first, each checked
            _no_link(root, parent.as_posix()).mkdir(exist_ok=True)
        path = _no_link(root, relative)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            _write(path, text)
            changed.append(path)
    for scope in prune or ():
        folder = root / scope
        if not folder.is_dir() or folder.is_symlink():
            continue
        for path in sorted(folder.rglob("*.yaml")):
            relative = path.relative_to(root).as_posix()
            if any(p.is_symlink() for p in (path, *path.relative_to(root).parents)) or _linked(root, relative):
                continue  # never through a link: what it leads to is not ours
            if relative not in tree and path.is_file() and path.read_text(encoding="utf-8").startswith(HEADER):
                path.unlink()
                changed.append(path)
        for directory in sorted((d for d in folder.rglob("*") if d.is_dir() and not d.is_symlink()), reverse=True):
            if not _linked(root, directory.relative_to(root).as_posix()) and not any(directory.iterdir()):
                directory.rmdir()
    return changed


def _linked(root: Path, relative: str) -> bool:
    try:
        _no_link(root, relative)
    except UnsafeOutputError:
        return True
    return False
