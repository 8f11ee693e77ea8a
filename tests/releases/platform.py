"""The platform the release tests run on: the example's environments (development → staging → production, production
needing approval, rolled back automatically), one approver group for production (one ``release approve`` lets a
release in), a canary there, and three dependent services: fn-posts, then fn-matcher (depends on fn-posts), then
fn-notifications (depends on fn-matcher)."""

from __future__ import annotations

from pathlib import Path

from findly_infra.examples import example_platform_text

SERVICES = ("fn-posts", "fn-matcher", "fn-notifications")
"""In dependency order."""


def release_platform_text(*, example_production: bool = False) -> str:
    """The example (its services depend on each other); its production (two approver groups, blue-green with a
    manual validation step) as it is with *example_production*, else one approver group and a canary."""
    text = example_platform_text()
    if not example_production:
        text = text.replace('approvers: ["devops-team", "security-team"]', 'approvers: ["devops-team"]')
        text = text.replace('deployment_strategy: "blue-green"', 'deployment_strategy: "canary"')
    assert text.count("depends_on") == 2, "the example's services changed"
    return text


def release_platform_file(folder: Path, *, example_production: bool = False) -> Path:
    path = folder / "findly.yaml"
    path.write_text(release_platform_text(example_production=example_production), encoding="utf-8")
    return path
