"""What the server says: limits and remaining budget from its headers, and
429s with their retry-after, per pool (a part of `TokenManager`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .budgets import BUDGETS
from .headers import budget_headers, retry_after_seconds
from .limiter_state import LimiterState
from .limits import LEARNED_LIMIT_WINDOWS
from .pool_state import PoolState
from .pools import rate_limit_pool

logger = logging.getLogger("token_manager")


class ServerFeedback:
    """What the server says about the limits: headers, 429s and their pauses."""

    def __init__(self, state: LimiterState) -> None:
        self._state = state

    def update_from_headers(
        self, headers: Mapping[str, str] | Any, *, model: str | None = None
    ) -> None:
        """Learn limits and remaining budget from `anthropic-ratelimit-*` headers
        for `model`'s pool; every waiter of that pool re-checks."""
        pool_name = rate_limit_pool(model)
        with self._state.lock:
            pool = self._state.pool(pool_name)
            now, wall = self._state.clock(), self._state.wall_clock()
            window = self._state.window
            learned = False
            said_limits: dict[str, int] = {}
            for budget in BUDGETS:
                said = budget_headers(headers, budget)
                state = pool.server[budget]
                if said.limit is not None:
                    learned = learned or state.learned_limit != said.limit
                    state.learned_limit = said_limits[budget] = said.limit
                if said.remaining is None:
                    continue
                state.remaining = said.remaining
                server_limit = (
                    state.learned_limit
                    or self._state.limits_of(pool_name).by_budget()[budget]
                )
                if server_limit is None:
                    continue
                expires_in = window
                if said.reset_at is not None:
                    expires_in = min(window, max(0.0, said.reset_at - wall))
                self._state.store.set_ceiling(
                    pool_name,
                    budget,
                    max(0, server_limit - said.remaining),
                    expires_in,
                    window,
                    now,
                )
            self._share_limits(pool_name, said_limits, window, now)
            if learned:
                self._state.store.record(
                    pool_name, limits=self._state.limits_of(pool_name).by_budget()
                )
            # retry-after comes with 429s (and overloads): everyone waits it out.
            retry_after = retry_after_seconds(headers)
            if retry_after is not None:
                self._pause(pool, retry_after, now)
            pool.wake_all()

    def _share_limits(
        self, pool: str, said: dict[str, int], window: float, now: float
    ) -> None:
        """Every process sharing the store admits against the lowest (no I/O)."""
        if said:
            holds = LEARNED_LIMIT_WINDOWS * window
            self._state.store.learn_limits(pool, said, holds, now)

    def pause(self, seconds: float, *, model: str | None = None) -> None:
        """Hold every caller of `model`'s pool for `seconds` (a 429's retry-after)."""
        with self._state.lock:
            pool = self._state.pool(rate_limit_pool(model))
            self._pause(pool, seconds, self._state.clock())
            pool.wake_all()

    @staticmethod
    def _pause(pool: PoolState, seconds: float, now: float) -> None:
        if pool.pause(seconds, now):
            logger.info("rate limited by the API: every request waits %.1f s", seconds)

    def observe_response(self, response: Any, *, model: str | None = None) -> None:
        """An httpx response hook: every response, the SDK's retries included."""
        headers = response.headers
        self.update_from_headers(headers, model=model)
        if getattr(response, "status_code", None) == 429:
            pool = rate_limit_pool(model)
            with self._state.lock:
                self._state.pool(pool).rate_limited += 1
                self._state.store.record(pool, rate_limited=1)
            if retry_after_seconds(headers) is None:
                self.pause(1.0, model=model)
