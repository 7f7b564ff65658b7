"""What every part of the limiter reads and changes, behind one lock: the
configured limits, each pool's queue and what the server said, the held
reservations, the estimator and the store.

The parts (admission, settlement, server feedback, sizing, the meter) each
hold this one object; none holds another part. Store I/O never runs under
`lock`: a part takes what it needs under the lock, asks the store outside it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from .budgets import BUDGETS, Budget
from .estimator import RequestEstimate, RequestEstimator
from .limits import RateLimits, lowest
from .pool_state import Held, PoolState
from .pools import DEFAULT_POOL, cache_reads_count, rate_limit_pool
from .stores import FallbackStore


class LimiterState:
    def __init__(
        self,
        limits: RateLimits,
        store: FallbackStore,
        *,
        clock: Callable[[], float],
        wall_clock: Callable[[], float],
        explicit_limits: Sequence[str] = BUDGETS,
        cache_aware_admission: bool = True,
    ) -> None:
        self.lock = threading.RLock()
        self.clock, self.wall_clock = clock, wall_clock
        self.store = store
        self.configured = limits
        # Which limits the user set (a server's lower one still wins over them).
        self.explicit: dict[str, bool] = {
            name: name in explicit_limits for name in BUDGETS
        }
        self.cache_aware_admission = cache_aware_admission
        self.pools: dict[str, PoolState] = {}
        self.held: dict[str, Held] = {}
        self.estimator = RequestEstimator()

    @property
    def window(self) -> float:
        return self.configured.window_seconds

    def pool(self, name: str) -> PoolState:
        found = self.pools.get(name)
        if found is None:
            found = self.pools[name] = PoolState()
        return found

    def limits_of(self, pool: str) -> RateLimits:
        """The limits in force for `pool`: the configured ones, corrected by
        what the server said about it, here or to any process sharing the
        store: the lowest (its lower limit wins over a set one; over a default
        one, its own wins)."""
        with self.lock:
            server = self.pool(pool).server
            shared = self.store.learned_limits(pool, self.clock())
            effective: dict[str, int | None] = {}
            for name, configured in self.configured.by_budget().items():
                learned = lowest(server[name].learned_limit, shared.get(name))
                if learned is None:
                    effective[name] = configured
                elif self.explicit[name] and configured is not None:
                    effective[name] = min(configured, learned)
                else:
                    effective[name] = learned
            return RateLimits.from_budgets(effective, self.window)

    def wake_next(self, pool: PoolState) -> None:
        """Someone left or budget came back: the next waiter re-checks. With a
        shared queue the local order may differ from the shared one, so every
        local waiter looks (only the first in the shared queue asks Redis)."""
        if self.store.fair():
            pool.wake_all()
        else:
            pool.wake_head()

    def wake_everyone(self) -> None:
        with self.lock:
            for pool in self.pools.values():
                pool.wake_all()

    def request_pool(self, request: RequestEstimate | int, model: str | None) -> str:
        if model is not None:
            return rate_limit_pool(model)
        if isinstance(request, RequestEstimate):
            return request.pool
        return DEFAULT_POOL

    def input_charge(self, request: RequestEstimate | int, pool: str) -> int:
        """What a request costs the input tokens/min budget while in flight: its
        predicted uncached part where cache reads are free and admission is
        cache-aware, else all of it, plus the estimate's margin (never making a
        request that fits not fit). A bare int is taken as all of it."""
        if not isinstance(request, RequestEstimate):
            return max(0, int(request))
        if self.cache_aware_admission and not cache_reads_count(pool):
            charge = max(0, request.uncached_tokens)
        else:
            charge = max(0, request.total_tokens)
        limit = self.limits_of(pool).input_tokens_per_minute
        with_margin = charge + request.margin(charge)
        return with_margin if limit is None else max(charge, min(with_margin, limit))

    def amounts(
        self, request: RequestEstimate | int, output_tokens: int, pool: str
    ) -> dict[str, int]:
        return {
            Budget.REQUESTS: 1,
            Budget.INPUT_TOKENS: self.input_charge(request, pool),
            Budget.OUTPUT_TOKENS: max(0, int(output_tokens)),
        }
