"""Who drives a rollout: a lease, so that of two runners watching the same rollout only one analyses and moves
traffic, and a runner that died stops holding it once its lease runs out. Pure: the stores carry the rule out
atomically (PostgreSQL in one statement, on its own clock), and time comes in as an argument."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

__all__ = ["Lease", "lease_after"]


@attrs.frozen
class Lease:
    """*holder* drives the rollout of a service in an environment until *expires* (UTC), unless it renews."""

    holder: str
    expires: datetime

    def live(self, now: datetime) -> bool:
        return now < self.expires

    def describe(self) -> str:
        return f"{self.holder} (until {self.expires.isoformat(timespec='seconds')})"


def lease_after(
    current: Lease | None, holder: str, now: datetime, ttl: timedelta, *, replacing: str | None = None
) -> Lease:
    """The lease after *holder* asks for it at *now*: taken when free or run out, renewed when already *holder*'s
    (for *ttl* from *now*), taken over when held by *replacing* (a holder known to be dead) — else the current
    holder's, unchanged."""
    if not holder.strip():
        raise ValueError("a lease needs a holder")
    if ttl <= timedelta(0):
        raise ValueError(f"a lease lasts some time, not {ttl}")
    if current is None or current.holder in (holder, replacing) or not current.live(now):
        return Lease(holder, now + ttl)
    return current
