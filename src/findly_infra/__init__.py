"""findly-infra: orchestrates the deployments of the Findly Now microservices.

The public API is listed in ``__all__``. Names are imported on first use, so that
``findly-infra --version`` and other light commands start fast.

>>> import findly_infra
>>> platform = findly_infra.load_platform("examples/findly.yaml")  # doctest: +SKIP
>>> platform.promotion_order  # doctest: +SKIP
('development', 'staging', 'production')
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    # loading the platform file
    "load_platform": "findly_infra.config.loader",
    "load_platform_text": "findly_infra.config.loader",
    "validate_platform": "findly_infra.config.loader",
    "validate_platform_text": "findly_infra.config.loader",
    "PlatformError": "findly_infra.config.loader",
    "Problem": "findly_infra.config.loader",
    "ValidationReport": "findly_infra.config.loader",
    "example_path": "findly_infra.examples",
    "example_platform_text": "findly_infra.examples",
    # rendering manifests and rules
    "render_platform": "findly_infra.render",
    "write_tree": "findly_infra.render",
    # the domain's main names (everything else is in findly_infra.domain)
    "Platform": "findly_infra.domain.platform",
    "Finding": "findly_infra.domain.platform",
    "Severity": "findly_infra.domain.platform",
    "UnknownNameError": "findly_infra.domain.platform",
    "check_platform": "findly_infra.domain.checks",
    "Environment": "findly_infra.domain.environment",
    "Service": "findly_infra.domain.environment",
    "HealthCheck": "findly_infra.domain.environment",
    "ResourceQuota": "findly_infra.domain.environment",
    "StrategyKind": "findly_infra.domain.environment",
    "DeploymentStrategy": "findly_infra.domain.strategy",
    "CanaryStrategy": "findly_infra.domain.strategy",
    "BlueGreenStrategy": "findly_infra.domain.strategy",
    "RollingStrategy": "findly_infra.domain.strategy",
    "SLATarget": "findly_infra.domain.slo",
    "SLODefinition": "findly_infra.domain.slo",
    "Duration": "findly_infra.domain.notation",
    "Percentage": "findly_infra.domain.notation",
    "Threshold": "findly_infra.domain.notation",
    "NotationError": "findly_infra.domain.notation",
}

__all__ = [
    "BlueGreenStrategy",
    "CanaryStrategy",
    "DeploymentStrategy",
    "Duration",
    "Environment",
    "Finding",
    "HealthCheck",
    "NotationError",
    "Percentage",
    "Platform",
    "PlatformError",
    "Problem",
    "ResourceQuota",
    "RollingStrategy",
    "SLATarget",
    "SLODefinition",
    "Service",
    "Severity",
    "StrategyKind",
    "Threshold",
    "UnknownNameError",
    "ValidationReport",
    "__version__",
    "check_platform",
    "example_path",
    "example_platform_text",
    "load_platform",
    "load_platform_text",
    "render_platform",
    "validate_platform",
    "validate_platform_text",
    "write_tree",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'findly_infra' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from findly_infra.config.loader import (
        PlatformError,
        Problem,
        ValidationReport,
        load_platform,
        load_platform_text,
        validate_platform,
        validate_platform_text,
    )
    from findly_infra.domain.checks import check_platform
    from findly_infra.domain.environment import Environment, HealthCheck, ResourceQuota, Service, StrategyKind
    from findly_infra.domain.notation import Duration, NotationError, Percentage, Threshold
    from findly_infra.domain.platform import Finding, Platform, Severity, UnknownNameError
    from findly_infra.domain.slo import SLATarget, SLODefinition
    from findly_infra.domain.strategy import BlueGreenStrategy, CanaryStrategy, DeploymentStrategy, RollingStrategy
    from findly_infra.examples import example_path, example_platform_text
    from findly_infra.render import render_platform, write_tree
