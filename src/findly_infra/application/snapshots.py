"""Snapshots of a service's pipeline, so that a command's cost does not grow with its history: a command reads the
latest snapshot and only the events after it. A snapshot is derived from the events — never the source of truth: one
that cannot be read, or of a format this version does not know, or ahead of its stream, is ignored and the stream read
whole; ``findly-infra state snapshot`` rebuilds them all from the events, and ``state check`` compares each with the
stream it summarises.
"""

from __future__ import annotations

import functools
import typing
from datetime import datetime
from typing import Any

import attrs
import cattrs

from findly_infra.domain.pipeline import DeploymentPipeline
from findly_infra.domain.platform import Platform
from findly_infra.domain.state import EnvironmentState

__all__ = ["SNAPSHOT_EVERY", "SNAPSHOT_FORMAT", "from_snapshot", "snapshot_of"]

SNAPSHOT_FORMAT = 3
"""The layout of a snapshot's body; another one is ignored (and the stream read whole). 2: approvals carry the
approver's id and the runs that approved (a snapshot without them would forget which runs already approved). 3: each
approval carries its whole evidence (a snapshot without it would make every verified approval a name, which no longer
counts where identities are verified)."""

SNAPSHOT_EVERY = 500
"""A writing command saves a new snapshot once the stream is this many events past the last one: a command reads
at most about this many events, whatever the length of the history."""


@functools.cache
def _converter() -> cattrs.Converter:
    converter = cattrs.Converter()
    converter.register_unstructure_hook(datetime, lambda value: value.isoformat())
    converter.register_structure_hook(datetime, lambda value, _type: datetime.fromisoformat(value))
    converter.register_unstructure_hook_func(  # sets as sorted lists: JSON has no sets, and the text is stable
        _is_set,
        lambda value: sorted(converter.unstructure(item) for item in value),
    )
    # the sets that grow with every release (versions that succeeded, suites passed): read without per-item dispatch,
    # so that a snapshot of thousands of releases still reads in a few milliseconds
    converter.register_structure_hook_func(
        lambda kind: kind == frozenset[str], lambda value, _type: frozenset(map(str, value))
    )
    converter.register_structure_hook_func(
        lambda kind: kind == frozenset[tuple[str, str]],
        lambda value, _type: frozenset((str(first), str(second)) for first, second in value),
    )
    return converter


def _is_set(kind: Any) -> bool:
    return kind is frozenset or typing.get_origin(kind) is frozenset


_EMPTY = EnvironmentState()


def snapshot_of(pipeline: DeploymentPipeline) -> dict[str, Any]:
    """The pipeline's state as JSON-able data, at its version (environments with nothing recorded left out)."""
    converter = _converter()
    return {
        "format": SNAPSHOT_FORMAT,
        "service": pipeline.service,
        "version": pipeline.version,
        "updated": None if pipeline.updated is None else pipeline.updated.isoformat(),
        "environments": {
            name: converter.unstructure(state) for name, state in pipeline.environments.items() if state != _EMPTY
        },
    }


def from_snapshot(platform: Platform, service: str, snapshot: dict[str, Any]) -> DeploymentPipeline | None:
    """The pipeline *snapshot* describes, for *platform*; ``None`` when it is not one this version can read."""
    if (
        not isinstance(snapshot, dict)
        or snapshot.get("format") != SNAPSHOT_FORMAT
        or snapshot.get("service") != service
    ):
        return None
    converter = _converter()
    try:
        environments = {
            str(name): converter.structure(state, EnvironmentState)
            for name, state in dict(snapshot["environments"]).items()
        }
        version = int(snapshot["version"])
        updated = None if snapshot.get("updated") is None else datetime.fromisoformat(snapshot["updated"])
    except (KeyError, TypeError, ValueError, cattrs.BaseValidationError):
        return None
    start = DeploymentPipeline.start(platform, service)
    return attrs.evolve(start, environments={**start.environments, **environments}, version=version, updated=updated)
