"""The release use cases (``application.releases``), composed on a runtime's pipeline service: the same store, clock,
metrics and clusters as the single-service commands."""

from __future__ import annotations

from findly_infra.application.releases import ReleaseService
from findly_infra.bootstrap.runtime import Runtime

__all__ = ["release_service"]


def release_service(runtime: Runtime) -> ReleaseService:
    """The releases of *runtime*'s platform, on its pipeline service."""
    return ReleaseService(runtime.service)
