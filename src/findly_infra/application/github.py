"""Which environment a GitHub event deploys to: the first whose ``deployment_trigger`` matches — or, for a version
that never ran in the environment before it, that one first (``domain.arrival``)."""

from __future__ import annotations

import typing

from findly_infra.domain.arrival import LeftBefore, arrival_for_event, left_before
from findly_infra.domain.platform import Platform

if typing.TYPE_CHECKING:
    from findly_infra.application.service import PipelineService

__all__ = ["arrival", "environment_for_event", "left_for"]


def environment_for_event(platform: Platform, event: str, ref: str, *, default_branch: str = "main") -> str | None:
    """The environment a push or merge of *ref* deploys to (``None``: none). Production is reached only
    by promotion, never by an event, as the seed's ``deployment_trigger: promotion`` says."""
    for environment in platform.environments:
        if environment.deployment_trigger.matches(event, ref, default_branch=default_branch):
            return environment.name
    return None


def arrival(pipelines: PipelineService, service: str, target: str, version: str) -> str:
    """Where an event that maps to *target* deploys *version* of *service* now: *target*, or the environment before
    it first (``domain.arrival.arrival_for_event``)."""
    name = pipelines.platform.environment(target).name
    return arrival_for_event(pipelines.pipeline(service, (version,)), name, version)


def left_for(pipelines: PipelineService, service: str, target: str, version: str) -> LeftBefore | None:
    """What *version* of *service* still needs before it may enter *target* (``domain.arrival.left_before``)."""
    name = pipelines.platform.environment(target).name
    return left_before(pipelines.pipeline(service, (version,)), name, version)
