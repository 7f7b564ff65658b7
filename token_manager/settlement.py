"""After the response: charge what a request really cost, or give it back
(a part of `TokenManager`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from .budgets import BUDGETS, Budget
from .estimator import RequestEstimator
from .pool_state import Held, PoolState
from .pools import cache_reads_count
from .snapshot import Reservation
from .stores import FallbackStore

logger = logging.getLogger("token_manager")


class SettlementMixin:
    """Reconcile and release; `TokenManager` provides the state below."""

    _lock: threading.RLock
    _clock: Callable[[], float]
    _store: FallbackStore
    _held: dict[str, Held]
    _estimator: RequestEstimator

    def _pool(self, pool: str) -> PoolState:
        raise NotImplementedError

    def _wake_next(self, pool: PoolState) -> None:
        raise NotImplementedError

    def reconcile(self, reservation: Reservation, usage: Any) -> None:
        """Charge what the request really cost; its window starts now.

        `usage` None: the server counted it but we never learnt how much (a
        broken stream): the reservation stays charged as reserved. Cache reads
        are free unless the pool's class counts them; cache writes count."""
        with self._lock:
            held = self._held.pop(reservation.reservation_id, None)
            if held is None:
                return
            now = self._clock()
            if usage is None:
                self._store.settle(held.handle, dict(held.handle.amounts), now)
            else:
                fresh = _usage_value(usage, "input_tokens")
                written = _usage_value(usage, "cache_creation_input_tokens")
                read = _usage_value(usage, "cache_read_input_tokens")
                counted = (
                    fresh
                    + written
                    + (read if cache_reads_count(reservation.pool) else 0)
                )
                self._store.settle(
                    held.handle,
                    {
                        Budget.INPUT_TOKENS: counted,
                        Budget.OUTPUT_TOKENS: _usage_value(usage, "output_tokens"),
                    },
                    now,
                )
                if held.estimate is not None:
                    self._estimator.learn(
                        held.estimate,
                        input_tokens=fresh,
                        cache_written=written,
                        cache_read=read,
                        admitted_at=held.admitted_at,
                    )
            self._wake_next(self._pool(reservation.pool))

    def release(self, reservation: Reservation) -> None:
        """Give back a reservation the server never counted (refused before it started)."""
        with self._lock:
            held = self._held.pop(reservation.reservation_id, None)
            if held is None:
                return
            self._store.settle(
                held.handle, {name: 0 for name in BUDGETS}, self._clock()
            )
            self._wake_next(self._pool(reservation.pool))


def _usage_value(usage: Any, name: str) -> int:
    """A count of the usage; a negative one (never the server's) counts as 0,
    so a window can never go below empty and admit more than its limit."""
    value = usage.get(name) if isinstance(usage, Mapping) else getattr(usage, name, 0)
    count = int(value or 0)
    if count < 0:
        logger.warning("usage %s is negative (%d): counted as 0", name, count)
        return 0
    return count
