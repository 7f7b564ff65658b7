"""After the response: charge what a request really cost, or give it back
(a part of `TokenManager`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .budgets import BUDGETS, Budget
from .limiter_state import LimiterState
from .pools import cache_reads_count
from .snapshot import Reservation

logger = logging.getLogger("token_manager")


class Settlement:
    """After the response: charge what a request really cost, or give it back."""

    def __init__(self, state: LimiterState) -> None:
        self._state = state

    def reconcile(self, reservation: Reservation, usage: Any) -> None:
        """Charge what the request really cost; its window starts now.

        `usage` None: the server counted it but we never learnt how much (a
        broken stream): the reservation stays charged as reserved. Cache reads
        are free unless the pool's class counts them; cache writes count."""
        with self._state.lock:
            held = self._state.held.pop(reservation.reservation_id, None)
            if held is None:
                return
            now = self._state.clock()
            if usage is None:
                self._state.store.settle(held.handle, dict(held.handle.amounts), now)
            else:
                fresh = _usage_value(usage, "input_tokens")
                written = _usage_value(usage, "cache_creation_input_tokens")
                read = _usage_value(usage, "cache_read_input_tokens")
                counted = (
                    fresh
                    + written
                    + (read if cache_reads_count(reservation.pool) else 0)
                )
                self._state.store.settle(
                    held.handle,
                    {
                        Budget.INPUT_TOKENS: counted,
                        Budget.OUTPUT_TOKENS: _usage_value(usage, "output_tokens"),
                    },
                    now,
                )
                if held.estimate is not None:
                    self._state.estimator.learn(
                        held.estimate,
                        input_tokens=fresh,
                        cache_written=written,
                        cache_read=read,
                        admitted_at=held.admitted_at,
                    )
            self._state.wake_next(self._state.pool(reservation.pool))

    def release(self, reservation: Reservation) -> None:
        """Give back a reservation the server never counted (refused before it started)."""
        with self._state.lock:
            held = self._state.held.pop(reservation.reservation_id, None)
            if held is None:
                return
            self._state.store.settle(
                held.handle, {name: 0 for name in BUDGETS}, self._state.clock()
            )
            self._state.wake_next(self._state.pool(reservation.pool))


def _usage_value(usage: Any, name: str) -> int:
    """A count of the usage; a negative one (never the server's) counts as 0,
    so a window can never go below empty and admit more than its limit."""
    value = usage.get(name) if isinstance(usage, Mapping) else getattr(usage, name, 0)
    count = int(value or 0)
    if count < 0:
        logger.warning("usage %s is negative (%d): counted as 0", name, count)
        return 0
    return count
