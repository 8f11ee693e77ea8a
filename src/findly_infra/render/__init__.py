"""Rendering: Kubernetes manifests, Kustomize overlays and Prometheus rules from the platform file."""

from __future__ import annotations

from findly_infra.render.tree import UnsafeOutputError, render_platform, write_tree

__all__ = ["UnsafeOutputError", "render_platform", "write_tree"]
