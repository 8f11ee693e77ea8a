"""Which version each of a service's workloads should run, and with what share of traffic: what an environment's view
(the event log, folded) asks of a cluster. Pure, so that the Kubernetes adapter and the simulated cluster follow one
rule, and the rule is property-tested against the log.

The two tracks follow Flagger's primary/canary pattern. The **primary** (Deployment ``<service>``, track ``stable``,
whatever the strategy) runs what serves: its selector never changes (``apps/v1`` makes it immutable), so an
environment's strategy can change and a rollout can use another strategy than its environment's. During a canary or
blue-green rollout the **secondary** (``<service>-canary`` / ``<service>-green``) runs the candidate, while the
primary keeps the previous version running — so a rollback only moves traffic, at once (the seed's "blue", the live
colour, is the stable track). Before a blue-green cutover the candidate gets no weight, but validation traffic
reaches it by header (:data:`PREVIEW_HEADER`). Once a rollout succeeds the primary is moved to the new version (ready
before it gets the traffic back) and the secondary goes to zero; once it is rolled back or aborted the primary simply
takes all the traffic again.
"""

from __future__ import annotations

import attrs

from findly_infra.domain.environment import StrategyKind
from findly_infra.domain.view import EnvironmentView

__all__ = ["PREVIEW_HEADER", "TRACKS", "Holding", "Track", "TrackPlan", "expected_holding", "track_plan"]

PREVIEW_HEADER = "x-findly-preview"
"""The request header that routes validation traffic to a blue-green candidate before cutover (its value: the
candidate's version)."""

TRACKS: dict[StrategyKind, tuple[tuple[str, str], ...]] = {
    StrategyKind.CANARY: (("stable", ""), ("canary", "-canary")),
    StrategyKind.BLUE_GREEN: (("stable", ""), ("green", "-green")),
    StrategyKind.ROLLING: (("stable", ""),),
}
"""Each strategy's tracks, the primary first: (track label, the Deployment's suffix to the service's name)."""


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

    def holding(self) -> Holding:
        """What a cluster that carried this plan out holds (to compare with what one reads back). A mesh sends every
        request somewhere: when the log routes no version but the primary runs one (a first blue-green release before
        its cutover), whatever comes reaches the primary — there is nothing else to serve it."""
        running = {track.deployment(self.service): track.version for track in self.tracks if track.version}
        weights = self.weights()
        if not weights and self.primary.version is not None:
            weights = {self.primary.version: 100}
        return Holding(running, weights, self.preview)


@attrs.frozen
class Holding:
    """What a cluster holds for one service in one environment, read back in terms every cluster shares: which
    Deployment runs which version (those scaled to zero left out), each version's share of the traffic, and the
    version requests carrying :data:`PREVIEW_HEADER` reach. A cluster follows the log when its holding equals the
    plan's (``track_plan(view, configured).holding()``)."""

    running: dict[str, str] = attrs.field(factory=dict)
    """Deployment name -> the version it runs."""
    weights: dict[str, int] = attrs.field(factory=dict)
    """Version -> percent of the traffic, zero shares left out."""
    preview: str | None = None

    def describe(self) -> str:
        """``fn-posts 1.0.0 (95%), fn-posts-canary 2.0.0 (5%)``; ``nothing runs`` when nothing does."""
        if not self.running:
            return "nothing runs"
        parts = [
            f"{name} {version} ({self.weights.get(version, 0)}%)" for name, version in sorted(self.running.items())
        ]
        if self.preview is not None:
            parts.append(f"preview: {self.preview}")
        return ", ".join(parts)


def track_plan(view: EnvironmentView, configured: StrategyKind) -> TrackPlan:
    """The tracks *view* asks for. The strategy is the latest rollout's (it keeps the one it started with), else the
    environment's *configured* one."""
    kind = view.strategy or configured
    names = TRACKS[kind]
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


def expected_holding(view: EnvironmentView) -> Holding:
    """What a cluster that follows *view* holds — the same whatever the environment's configured strategy, since the
    primary's track is (the simulated cluster keeps exactly this; a real one is read back and compared with it)."""
    return track_plan(view, view.strategy or StrategyKind.ROLLING).holding()
