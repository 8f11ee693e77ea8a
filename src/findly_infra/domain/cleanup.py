"""What ``auto_cleanup`` removes from a cluster once a release succeeded: the leftovers of the versions it replaced.

The seed gives ``auto_cleanup: true`` to its development environment and says nothing more; we read it as the
reference tools clean up after a release, and no further:

- Flagger scales the canary Deployment to zero once the primary is promoted (``pkg/controller/scheduler.go``, phase
  ``Finalising``: ``canaryController.ScaleToZero`` then ``Promotion completed! Scaling down``) but keeps it: its pod
  template is the next analysis's start. Our tracks do the same in every environment (``domain.tracks``): the
  secondary (``<service>-canary`` / ``<service>-green``) goes to zero after success, still holding the replaced
  candidate's template. With ``auto_cleanup`` that Deployment is **deleted** — and so is the Deployment of a track the
  service's strategy no longer uses (``-green`` left by a blue-green rollout, once the environment rolls by canary).
- Old ReplicaSets are not ours to delete: the Deployment controller owns them and trims them to the Deployment's
  ``spec.revisionHistoryLimit`` (kubernetes/kubernetes ``pkg/controller/deployment/sync.go``, ``cleanupDeployment``:
  only those with no replica, desired or running), as Argo Rollouts' ``revisionHistoryLimit`` does for a Rollout.
  An environment with ``auto_cleanup`` renders :data:`CLEANUP_REVISION_HISTORY` on its Deployments
  (``render.manifests``): the tool never rolls back through a ReplicaSet (the previous version keeps running on the
  primary until a rollout succeeds; going back after that is a new release, recorded), and a ``kubectl rollout undo``
  would be drift the next converge takes back.

Nothing serving is ever removed: only after the environment's latest rollout **succeeded** (never while one is
under way, nor after a rollback or an abort: the candidate's Deployment is the evidence of what failed), never the
primary, never a Deployment with replicas, never one the log says runs, and only Deployments labelled as ours and as
the environment's (``domain.cluster``). Pure: the cluster's Deployments come in as :class:`Leftover`, read by the
adapter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from findly_infra.domain.cluster import ENVIRONMENT_LABEL, MANAGED_BY, MANAGED_BY_LABEL
from findly_infra.domain.state import Phase
from findly_infra.domain.tracks import TRACKS, expected_holding
from findly_infra.domain.view import EnvironmentView

__all__ = ["CLEANUP_REVISION_HISTORY", "Leftover", "cleanup_due", "leftovers", "secondary_names"]

CLEANUP_REVISION_HISTORY = 0
"""``spec.revisionHistoryLimit`` of the Deployments of an environment with ``auto_cleanup`` (Kubernetes defaults it
to 10): no old ReplicaSet is kept once it runs no pod. Nothing of ours reads them (see the module's text)."""


@attrs.frozen
class Leftover:
    """One of a service's Deployments as a cluster holds it: its name, desired replicas and labels."""

    name: str
    replicas: int
    labels: Mapping[str, str] = attrs.field(factory=dict)


def secondary_names(service: str) -> frozenset[str]:
    """Every track's Deployment but the primary, whatever the strategy: ``fn-posts-canary``, ``fn-posts-green``."""
    return frozenset(f"{service}{suffix}" for tracks in TRACKS.values() for _, suffix in tracks[1:])


def cleanup_due(view: EnvironmentView, auto_cleanup: bool) -> bool:
    """Whether the environment's leftovers go now: ``auto_cleanup`` is on, the environment is not retired, and its
    latest rollout succeeded (so none is under way)."""
    rollout = view.rollout
    return auto_cleanup and not view.retired and rollout is not None and rollout.phase is Phase.SUCCEEDED


def leftovers(view: EnvironmentView, auto_cleanup: bool, held: Iterable[Leftover]) -> tuple[str, ...]:
    """The names, sorted, of the Deployments in *held* that cleaning up after *view*'s success removes: a secondary
    track's (any strategy's), scaled to zero, run by nothing the log says, labelled as ours and as the view's
    environment's. Empty unless :func:`cleanup_due`."""
    if not cleanup_due(view, auto_cleanup):
        return ()
    candidates = secondary_names(view.service)
    running = expected_holding(view).running
    found = {
        item.name
        for item in held
        if item.name in candidates
        and item.name not in running
        and item.replicas == 0
        and item.labels.get(MANAGED_BY_LABEL) == MANAGED_BY
        and item.labels.get(ENVIRONMENT_LABEL) == view.environment
    }
    return tuple(sorted(found))
