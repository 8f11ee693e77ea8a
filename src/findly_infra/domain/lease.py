"""Who drives a rollout: a lease, so that of two runners watching the same rollout only one analyses and moves
traffic, and a runner that died stops holding it once its lease runs out. Pure: the stores carry the rule out
atomically (PostgreSQL in one statement, on its own clock), and time comes in as an argument.

Every lease carries a fencing token, which grows each time the lease changes hands (never on a renewal): a driver's
writes carry its :class:`Fence`, and the store admits them only while the lease it holds is still that one — so a
driver displaced while it was stopped (frozen, partitioned, judged dead) can never write again."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

__all__ = ["Fence", "Lease", "lease_after", "released"]


@attrs.frozen
class Lease:
    """*holder* drives the rollout of a service in an environment until *expires* (UTC), unless it renews; *token*
    grows each time the lease changes hands (0: a lease kept before tokens were)."""

    holder: str
    expires: datetime
    token: int = 0

    def live(self, now: datetime) -> bool:
        return now < self.expires

    def describe(self) -> str:
        return f"{self.holder} (until {self.expires.isoformat(timespec='seconds')})"

    def fence(self, environment: str) -> Fence:
        """What the holder's writes to the rollout in *environment* carry while it drives."""
        return Fence(environment, self.holder, self.token)


@attrs.frozen
class Fence:
    """A driver's writes to the rollout in *environment*: admitted only while *holder* holds its lease with *token*
    (the store checks it in the write's own transaction)."""

    environment: str
    holder: str
    token: int

    def admits(self, current: Lease | None) -> bool:
        """Whether the lease as it stands is still the one this fence was cut from: held by the same holder, with
        the same token (not taken over since, even by a holder of the same name)."""
        return current is not None and current.holder == self.holder and current.token == self.token

    def describe(self, current: Lease | None) -> str:
        """Why the lease as it stands refuses this fence's write."""
        if current is None:
            return f"the lease on the rollout in {self.environment} is no longer kept"
        if current.holder == self.holder:  # the same name under a newer token: taken over, then taken back
            return f"the lease on the rollout in {self.environment} was taken again since (token {current.token})"
        return f"the rollout in {self.environment} was taken over by {current.describe()}"


def lease_after(
    current: Lease | None, holder: str, now: datetime, ttl: timedelta, *, replacing: str | None = None
) -> Lease:
    """The lease after *holder* asks for it at *now*: taken when free or run out, renewed when already *holder*'s
    (for *ttl* from *now*), taken over when held by *replacing* (a holder known to be dead) — else the current
    holder's, unchanged. Its token: 1 for a lease never held, the same on a renewal, one more when it changes hands."""
    if not holder.strip():
        raise ValueError("a lease needs a holder")
    if ttl <= timedelta(0):
        raise ValueError(f"a lease lasts some time, not {ttl}")
    if current is None:
        return Lease(holder, now + ttl, 1)
    if current.holder == holder:
        return Lease(holder, now + ttl, current.token)
    if current.holder == replacing or not current.live(now):
        return Lease(holder, now + ttl, current.token + 1)
    return current


def released(current: Lease | None, holder: str) -> Lease | None:
    """The lease after *holder* gives it up: run out at once (its token kept, so that the next holder's is higher
    still), when it is *holder*'s — else unchanged."""
    if current is None or current.holder != holder:
        return current
    return attrs.evolve(current, expires=datetime.min)
