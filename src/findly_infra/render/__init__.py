"""Rendering: Kubernetes manifests, Kustomize overlays and Prometheus rules from the platform file.

The names below load on first use, so that ``findly_infra.render.rules`` (which ``validate`` reads to check the
rules' PromQL) does not bring the manifests with it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from findly_infra.render.tree import UnsafeOutputError, render_platform, write_tree

__all__ = ["UnsafeOutputError", "render_platform", "write_tree"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from findly_infra.render import tree

        return getattr(tree, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
