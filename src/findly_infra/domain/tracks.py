"""Which version each of a service's workloads should run, and with what share of traffic: what an environment's view
(the event log, folded) asks of a cluster. Pure, so that the Kubernetes adapter and the simulated cluster follow one
rule, and the rule is property-tested against the log.

The two tracks follow Flagger's primary/canary pattern. The **primary** (Deployment ``<service>``; track ``stable``
for a canary, ``blue`` for blue-green, the only one for a rolling update) runs what serves. During a canary or
blue-green rollout the **secondary** (``<service>-canary`` / ``<service>-green``) runs the candidate, while the
primary keeps the previous version running — so a rollback only moves traffic, at once. Before a blue-green cutover
the candidate gets no weight, but validation traffic reaches it by header (:data:`PREVIEW_HEADER`). Once a rollout
succeeds the primary is moved to the new version (ready before it gets the traffic back) and the secondary goes to
zero; once it is rolled back or aborted the primary simply takes all the traffic again.
"""

from __future__ import annotations

import attrs

from findly_infra.domain.environment import StrategyKind
from findly_infra.domain.view import EnvironmentView

__all__ = ["PREVIEW_HEADER", "Track", "TrackPlan", "track_plan"]

PREVIEW_HEADER = "x-findly-preview"
"""The request header that routes validation traffic to a blue-green candidate before cutover (its value: the
candidate's version)."""

_NAMES = {
    StrategyKind.CANARY: (("stable", ""), ("canary", "-canary")),
    StrategyKind.BLUE_GREEN: (("blue", ""), ("green", "-green")),
    StrategyKind.ROLLING: (("stable", ""),),
}


@attrs.frozen
class Track:
    """One workload of a service: its track name, its Deployment's suffix, the version it runs (``None``: none,
    scaled to zero) and its share of the traffic in percent."""

    name: str
    suffix: str
    version: str | None
    weight: int

    def deployment(self, service: str) -> str:
        return f"{service}{self.suffix}"


@attrs.frozen
class TrackPlan:
    """What the cluster should hold for one service in one environment."""

    service: str
    environment: str
    strategy: StrategyKind
    tracks: tuple[Track, ...]
    """The primary first."""
    preview: str | None = None
    """A blue-green candidate that validation traffic reaches by :data:`PREVIEW_HEADER` (before cutover)."""

    @property
    def primary(self) -> Track:
        return self.tracks[0]

    def weights(self) -> dict[str, int]:
        """Version -> share, zero shares left out: what the mesh routes (``EnvironmentView.routes`` of the log)."""
        shares: dict[str, int] = {}
        for track in self.tracks:
            if track.version is not None and track.weight > 0:
                shares[track.version] = shares.get(track.version, 0) + track.weight
        return shares


def track_plan(view: EnvironmentView, configured: StrategyKind) -> TrackPlan:
    """The tracks *view* asks for. The strategy is the latest rollout's (it keeps the one it started with), else the
    environment's *configured* one."""
    kind = view.strategy or configured
    names = _NAMES[kind]
    active = view.rollout is not None and view.rollout.phase.active and view.candidate is not None
    serving = view.serving
    if kind is StrategyKind.ROLLING:
        running = view.candidate if active else serving
        version = running.version if running is not None else None
        ((name, suffix),) = names
        return TrackPlan(view.service, view.environment, kind, (Track(name, suffix, version, 100 if version else 0),))
    (primary_name, primary_suffix), (secondary_name, secondary_suffix) = names
    if active and view.candidate is not None and serving is not None:  # the previous version keeps running
        tracks = (
            Track(primary_name, primary_suffix, serving.version, serving.weight),
            Track(secondary_name, secondary_suffix, view.candidate.version, view.candidate.weight),
        )
        preview = view.candidate.version if kind is StrategyKind.BLUE_GREEN and view.candidate.weight == 0 else None
        return TrackPlan(view.service, view.environment, kind, tracks, preview)
    if active and view.candidate is not None:  # a first release: nothing else to keep, it runs on the primary
        candidate = view.candidate
        preview = candidate.version if kind is StrategyKind.BLUE_GREEN and candidate.weight == 0 else None
        tracks = (
            Track(primary_name, primary_suffix, candidate.version, candidate.weight),
            Track(secondary_name, secondary_suffix, None, 0),
        )
        return TrackPlan(view.service, view.environment, kind, tracks, preview)
    version = serving.version if serving is not None else None
    tracks = (
        Track(primary_name, primary_suffix, version, 100 if version else 0),
        Track(secondary_name, secondary_suffix, None, 0),
    )
    return TrackPlan(view.service, view.environment, kind, tracks)
