"""Rendering: Kubernetes manifests, Kustomize overlays and Prometheus rules from the platform file."""

from __future__ import annotations

from findly_infra.render.tree import render_platform, write_tree

__all__ = ["render_platform", "write_tree"]
