"""Which environment a GitHub event deploys to: the first whose ``deployment_trigger`` matches."""

from __future__ import annotations

from findly_infra.domain.platform import Platform

__all__ = ["environment_for_event"]


def environment_for_event(platform: Platform, event: str, ref: str, *, default_branch: str = "main") -> str | None:
    """The environment a push or merge of *ref* deploys to (``None``: none). Production is reached only
    by promotion, never by an event, as the seed's ``deployment_trigger: promotion`` says."""
    for environment in platform.environments:
        if environment.deployment_trigger.matches(event, ref, default_branch=default_branch):
            return environment.name
    return None
