"""One process's windows, per pool.

Not locked: the TokenManager holds its lock around every call.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from ..budgets import BUDGETS
from ..limits import lowest
from ..window import SlidingWindow, seconds_until_fits
from .base import Ask, Ceiling, Decision, Handle, PoolReport, Stats, Store, Ticket


@dataclass
class _Stats:
    limits: dict[str, int | None] = field(default_factory=dict)
    waiters: int = 0
    rate_limited: int = 0


class MemoryStore(Store):
    def __init__(self, window: float) -> None:
        self._window = window
        self._pools: dict[str, dict[str, SlidingWindow]] = {}
        self._stats: dict[str, _Stats] = {}
        # pool -> budget -> (the lowest limit learned, when it lapses)
        self._learned: dict[str, dict[str, tuple[int, float]]] = {}

    def windows(self, pool: str) -> dict[str, SlidingWindow]:
        found = self._pools.get(pool)
        if found is None:
            found = self._pools[pool] = {
                name: SlidingWindow(self._window) for name in BUDGETS
            }
        return found

    def resize(self, window: float) -> None:
        self._window = window
        for windows in self._pools.values():
            for sliding in windows.values():
                sliding.window = window

    def decide(self, ask: Ask) -> Decision:
        """The queue in one process is the manager's own: the ticket is ignored.
        Each limit is lowered to the lowest learned one."""
        learned = self.learned_limits(ask.pool, ask.now)
        limits = {
            name: lowest(limit, learned.get(name)) for name, limit in ask.limits.items()
        }
        for name, amount in ask.amounts.items():
            limit = limits.get(name)
            if limit is not None and amount > limit:
                return Decision(None, budget=name, too_large=True)
        windows = self.windows(ask.pool)
        wait, binding = seconds_until_fits(windows, ask.amounts, limits, ask.now)
        if wait > 0:
            return Decision(None, wait=wait, budget=binding)
        return Decision(self.record_reservation(ask.pool, ask.amounts, ask.now))

    def leave(self, pool: str, ticket: Ticket) -> None:
        """Nothing to leave: one process's queue lives in its manager."""

    def record_reservation(
        self,
        pool: str,
        amounts: dict[str, int],
        now: float,
        reservation_id: str | None = None,
    ) -> Handle:
        """Charge in flight without checking (also: a mirror of a shared grant)."""
        handle = Handle(reservation_id or uuid.uuid4().hex, pool, dict(amounts))
        windows = self.windows(pool)
        for name, amount in amounts.items():
            handle.entries[name] = windows[name].reserve(now, amount)
        return handle

    def settle(self, handle: Handle, amounts: dict[str, int], now: float) -> None:
        windows = self.windows(handle.pool)
        for name, entry in handle.entries.items():
            windows[name].settle(entry, amounts.get(name, entry.amount), now)
        handle.amounts.update(amounts)

    def usage(self, pool: str, window: float, now: float) -> dict[str, int]:
        return {name: sliding.used(now) for name, sliding in self.windows(pool).items()}

    def hold_ceiling(self, ceiling: Ceiling) -> int:
        sliding, now = self.windows(ceiling.pool)[ceiling.budget], ceiling.now
        phantom = max(0, ceiling.server_used - sliding.used_without_ceiling(now))
        sliding.set_ceiling(phantom, now + ceiling.expires_in - sliding.window, now)
        return phantom

    def learn_limits(
        self, pool: str, learned: dict[str, int], holds: float, now: float
    ) -> None:
        """A lower limit replaces a higher one at once, a higher one only once
        the lower lapsed; the same limit again holds longer."""
        known = self._learned.setdefault(pool, {})
        for name, limit in learned.items():
            lowest, ends = known.get(name, (limit, now))
            if ends <= now or limit < lowest:
                known[name] = (limit, now + holds)
            elif limit == lowest:
                known[name] = (limit, max(ends, now + holds))

    def learned_limits(self, pool: str, now: float) -> dict[str, int]:
        return {
            name: limit
            for name, (limit, ends) in self._learned.get(pool, {}).items()
            if ends > now
        }

    def pools(self) -> list[str]:
        return sorted(self._pools)

    def keep_stats(self, stats: Stats) -> None:
        self.windows(stats.pool)
        kept = self._stats.setdefault(stats.pool, _Stats())
        if stats.limits is not None:
            kept.limits = dict(stats.limits)
        if stats.waiters is not None:
            kept.waiters = stats.waiters
        kept.rate_limited += stats.rate_limited

    def report(self, pool: str, window: float, now: float) -> PoolReport:
        stats = self._stats.get(pool, _Stats())
        return PoolReport(
            pool=pool,
            usage=self.usage(pool, window, now),
            limits={name: stats.limits.get(name) for name in BUDGETS},
            waiters=stats.waiters,
            rate_limited=stats.rate_limited,
        )
