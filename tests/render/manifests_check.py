"""Validate rendered manifests the way the ecosystem does: kubernetes-validate (strict) for built-in
kinds, the structural CRD schemas for Istio and Prometheus Operator kinds."""

from __future__ import annotations

from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from .crd_schemas import SCHEMAS


def check_manifest(document: dict[str, Any], kubernetes_version: str) -> None:
    """Raise if *document* is not a valid object of its kind."""
    key = (document.get("apiVersion"), document.get("kind"))
    if key in SCHEMAS:
        jsonschema.validate(document, SCHEMAS[key])
        return
    kubernetes_validate.validate(document, f"{kubernetes_version}.0", strict=True)


def documents(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d is not None]
