"""What one process may spend while Redis is away: its lease on a share of
each limit (in the spirit of Google's Doorman), as Redis last said it.

Every contact renews this process's lease on a share of each limit (one over
the live processes seen, less what the others may hold above theirs: Redis
lets a process borrow only up to a cap every other live process has heard),
which it may spend alone from when the others see it silent until half a
window after its last contact; the others hold that share back while it is
silent, for one window more. No I/O here: the store feeds in what Redis
answered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..budgets import BUDGETS
from .redis_link import text

# A heartbeat-kept lease: long enough to outlast a busy machine's hiccups, short
# enough that a dead process frees its place well within one window.
SHORT_LEASE_MIN, SHORT_LEASE_MAX = 0.5, 5.0
# A process may spend its share alone for this share of a window after its
# last contact; the others hold the share back for a window more (its charges
# count that long): the claim they see is CLAIM_WINDOWS windows. A process
# that dies holds its share back that long.
LEASE_SHARE = 0.5
STALE_MARGIN = 0.1  # seconds: our clock's contact may precede Redis's by a reply
CLAIM_WINDOWS = 1 + LEASE_SHARE
# A process that never reached Redis for a pool holds no lease: nobody knows it
# is there. Like Doorman's safe capacity, it may spend this share of each limit
# alone, for as long as a lease lasts from its first try (then nothing until
# Redis answers), never the whole limit the others may be spending too.
NEWCOMER_SHARE = 0.5
Limits = dict[str, int | None]


def short_lease(window: float) -> float:
    """The lease of a ticket (and of a request in flight) kept by the heartbeat."""
    return max(SHORT_LEASE_MIN, min(SHORT_LEASE_MAX, window / 4))


def _scaled(limits: Limits, share: float, less: dict[str, int]) -> Limits:
    return {
        name: None if limit is None else max(0, int(limit * share) - less.get(name, 0))
        for name, limit in limits.items()
    }


class Leases:
    """Per pool: its window, this process's share and last contact, what the
    others held above theirs; `bounded` False: no lease (the baseline)."""

    def __init__(
        self, instance: str, clock: Callable[[], float], bounded: bool
    ) -> None:
        self.instance, self._clock, self.bounded = instance, clock, bounded
        self.windows: dict[str, float] = {}
        self.contacted: set[str] = set()
        self._shares: dict[str, tuple[float, float]] = {}  # pool -> share, contact
        self._newcomer: dict[str, float] = {}  # pool -> first try without Redis
        self._excess: dict[str, tuple[dict[str, int], float]] = {}

    def window(self, pool: str) -> float:
        return self.windows.get(pool, 60.0)

    def beat_interval(self) -> float:
        windows = list(self.windows.values()) or [60.0]
        return min(short_lease(window) for window in windows) / 3

    def args(self, pool: str) -> list[Any]:
        """instance, claim, stale, expect (see redis_lua_common._REGISTER) and
        whether borrowing is capped (_BORROW)."""
        window = self.window(pool)
        if not self.bounded:  # nobody is held back, nothing written back
            return [self.instance, CLAIM_WINDOWS * window, 1e12, 0, 0]
        return [
            self.instance,
            CLAIM_WINDOWS * window,
            short_lease(window),
            1 if pool in self.contacted else 0,
            1,
        ]

    def contact(self, pool: str, live: Any, sent: float) -> None:
        """Redis answered a request sent at `sent`, with `live` processes."""
        self.contacted.add(pool)
        self._shares[pool] = (1.0 / max(1, int(live)), sent)

    def heard_excess(self, pool: str, excess: Any, sent: float) -> None:
        """What the others may hold above their shares, per budget: what they
        held, or the cap on their borrowing if higher (a heartbeat's)."""
        held = {
            str(name): int(text(over))
            for name, over in zip(BUDGETS, excess, strict=True)
        }
        self._excess[pool] = (held, sent)

    def degraded(self, pool: str, limits: Limits, healthy: bool) -> Limits | None:
        """What this process may spend of each limit without Redis now: its
        share (one over the live processes at its last contact) less what the
        others may hold above theirs, as its last heartbeat said (for a
        window: until those charges expire), from when the others see it
        silent (and hold that share back) until its lease ends; None outside
        that time or while Redis answers (Redis decides). Never reached: see
        `NEWCOMER_SHARE`."""
        if not self.bounded:
            return dict(limits)
        if healthy:
            return None  # Redis answers: it decides (the others count on it)
        known = self._shares.get(pool)
        now, window = self._clock(), self.window(pool)
        if known is None:
            first = self._newcomer.setdefault(pool, now)
            if now - first > LEASE_SHARE * window:
                return None
            return _scaled(limits, NEWCOMER_SHARE, {})
        share, contact = known
        silent = now - contact
        if silent > LEASE_SHARE * window:
            return None
        if silent < short_lease(window) + STALE_MARGIN:
            return None  # the others hold our share back only once we are stale
        excess, seen = self._excess.get(pool, ({}, 0.0))
        return _scaled(limits, share, excess if now - seen < window else {})

    def spendable(self, pool: str, limits: Limits, healthy: bool) -> Limits:
        """The most one request may ask of each limit now: its share while
        Redis is away, and before Redis was ever reached for `pool` (a request
        sized before the first answer may meet an outage)."""
        if not self.bounded:
            return dict(limits)
        if pool not in self._shares:
            return _scaled(limits, NEWCOMER_SHARE, {})
        if healthy:
            return dict(limits)
        return self.degraded(pool, limits, healthy) or dict(limits)
