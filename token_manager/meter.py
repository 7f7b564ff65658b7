"""What the manager shows: one pool's snapshot for the UI, every pool's report
for a status command (a part of `TokenManager`)."""

from __future__ import annotations

from .budgets import BUDGETS
from .limiter_state import LimiterState
from .pool_state import PoolState
from .pools import rate_limit_pool
from .snapshot import BudgetSnapshot, LimiterSnapshot
from .stores import PoolReport


class Meter:
    """What the limiter shows: a pool's snapshot, every pool's report."""

    def __init__(self, state: LimiterState) -> None:
        self._state = state

    def snapshot(
        self, *, model: str | None = None, fresh: bool = False
    ) -> LimiterSnapshot:
        """What the meter shows, never waiting for Redis: the shared usage as the
        writer last read it. `fresh` asks Redis now instead (it may wait: for a
        script's one look, never for an event loop)."""
        pool_name = rate_limit_pool(model)
        with self._state.lock:
            now = self._state.clock()
            window = self._state.window
        store = self._state.store
        if fresh:
            usage = store.usage(pool_name, window, now)
        else:
            usage = store.usage_seen(pool_name, window, now)
        with self._state.lock:
            pool = self._state.pool(pool_name)
            limits = self._state.limits_of(pool_name).by_budget()
            budgets: dict[str, BudgetSnapshot] = {
                name: BudgetSnapshot(
                    used=usage[name],
                    limit=limits[name],
                    limit_source=self._limit_source(pool, name),
                    server_remaining=pool.server[name].remaining,
                )
                for name in BUDGETS
            }
            head = pool.queue[0] if pool.queue else None
            return LimiterSnapshot(
                budgets=budgets,
                window_seconds=window,
                waiters=len(pool.queue),
                next_free_in=None
                if head is None or head.ready_at is None
                else max(0.0, head.ready_at - now),
                waiting_for=head.waiting_for if head else None,
                paused_for=max(0.0, pool.paused_until - now),
                shared=self._state.store.shared is not None,
                shared_available=self._state.store.available(),
                pool=pool_name,
            )

    def pool_reports(self) -> list[PoolReport]:
        """Every pool the store knows (shared: every process's), with usage,
        limits, waiters and 429s seen: what a status command prints."""
        with self._state.lock:
            window, now = self._state.window, self._state.clock()
            own = {
                name: (self._state.limits_of(name).by_budget(), len(pool.queue))
                for name, pool in self._state.pools.items()
            }
        # Store I/O outside the lock: nobody waits on it for Redis.
        for name, (limits, waiters) in own.items():
            self._state.store.record(name, limits=limits, waiters=waiters)
        names = sorted({*self._state.store.pools(), *own})
        return [self._state.store.report(name, window, now) for name in names]

    def _limit_source(self, pool: PoolState, budget: str) -> str:
        if pool.server[budget].learned_limit is not None:
            return "server"
        return "configured" if self._state.explicit[budget] else "default"
