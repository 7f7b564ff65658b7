"""The store the manager talks to: the shared one when it answers, this
process's own windows always, and the switch between them in one place.

Every shared grant is mirrored locally, so a Redis outage loses no track of
our own charges; while Redis is gone, limiting goes on locally (and says so),
within the share of each limit the shared store last leased this process.
Nothing here waits on Redis for a settle, a header or a statistic: those go
through the shared store's writer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from ..budgets import SHARED_STORE
from . import base
from .base import (
    Ask,
    Decision,
    Handle,
    PoolReport,
    StorageUnavailable,
    Store,
    Ticket,
)
from .memory import MemoryStore

logger = logging.getLogger("token_manager")

REDIS_RETRY_SECONDS = 5.0
# Other processes free budget without telling us: look again after this share
# of the window (at most a second), whatever the store said.
SHARED_RECHECK_SHARE = 0.05
SHARED_RECHECK_SECONDS = 1.0

T = TypeVar("T")


class FallbackStore(Store):
    def __init__(
        self,
        local: MemoryStore,
        shared: Store | None,
        clock: Callable[[], float],
    ) -> None:
        self.local, self.shared, self._clock = local, shared, clock
        self._down_until = 0.0
        # The shared usage the writer last read, per pool, and the pools whose
        # read it has queued (one at a time: an outage queues no pile).
        self._seen: dict[str, dict[str, int]] = {}
        self._reading: set[str] = set()

    def fair(self) -> bool:
        """Whether waiters are ordered by the shared store's queue right now."""
        return self.available() and bool(getattr(self.shared, "fair_queue", False))

    def available(self) -> bool:
        """Whether the shared store is in use right now (not known to be down)."""
        if self.shared is None:
            return False
        # A store that answered since it failed is back, whatever the timer says.
        return self._clock() >= self._down_until or bool(
            getattr(self.shared, "healthy", False)
        )

    def _shared_call(self, call: Callable[[Store], T]) -> T | None:
        """Run `call` on the shared store; None when there is none or it is down."""
        if self.shared is None or not self.available():
            return None
        try:
            return call(self.shared)
        except StorageUnavailable as error:
            self._down_until = self._clock() + REDIS_RETRY_SECONDS
            logger.warning("%s; limiting locally until it is back", error)
            return None

    def decide(self, ask: Ask) -> Decision:
        """Both halves at once (the manager calls them apart, around its lock)."""
        return self.complete(ask, self.try_reserve_shared(ask))

    def try_reserve_shared(self, ask: Ask) -> Decision | None:
        """The shared store's answer (network I/O: call it without holding locks);
        None when there is no shared store or it is down. A wait is cut to a
        short re-check: other processes free budget, and move the queue, without
        telling us."""
        decision = self._shared_call(
            lambda store: store.try_reserve(
                ask.pool,
                ask.amounts,
                ask.limits,
                ask.window,
                ask.now,
                ticket=ask.ticket,
            )
        )
        if decision is None or decision.handle is not None or decision.too_large:
            return decision
        recheck = min(SHARED_RECHECK_SECONDS, ask.window * SHARED_RECHECK_SHARE)
        return Decision(
            None,
            wait=recheck if decision.behind else min(decision.wait, recheck),
            budget=decision.budget,
            behind=decision.behind,
            order=decision.order,
        )

    def forget_ticket(self, pool: str, ticket: Ticket) -> None:
        """`ticket`'s waiter is gone, whatever the shared store's state: it stops
        being renewed at once and leaves the shared queue when Redis answers."""
        forget = getattr(self.shared, "forget", None)
        if forget is not None:
            forget(pool, ticket)
        elif self.shared is not None:
            self._shared_call(lambda store: store.leave(pool, ticket))

    def leave(self, pool: str, ticket: Ticket) -> None:
        self.forget_ticket(pool, ticket)

    def mark_up(self) -> None:
        """The shared store answers again (its writer has sent what it owed)."""
        self._down_until = 0.0

    def complete(self, ask: Ask, shared: Decision | None) -> Decision:
        """Local half of a reservation (under the caller's lock): mirror a shared
        grant, or decide locally when the shared store gave no answer."""
        if shared is None:
            return self._degraded(ask)
        if shared.handle is None:
            return shared
        mirror = self.local.record_reservation(
            ask.pool, ask.amounts, ask.now, shared.handle.reservation_id
        )
        mirror.shared = True
        return Decision(mirror)

    def _degraded(self, ask: Ask) -> Decision:
        """Without the shared store: only this process's leased share of each
        limit (its own charges are all in the local windows); a lease that
        lapsed grants nothing until Redis answers."""
        if self.shared is None:  # one process alone: its windows decide
            return self.local.decide(ask)
        limits_of = getattr(self.shared, "degraded_limits", None)
        scaled = ask.limits if limits_of is None else limits_of(ask.pool, ask.limits)
        recheck = min(SHARED_RECHECK_SECONDS, ask.window * SHARED_RECHECK_SHARE)
        if scaled is None:
            return Decision(None, wait=recheck, budget=SHARED_STORE)
        for name, amount in ask.amounts.items():
            limit = scaled.get(name)
            if limit is not None and amount > limit:
                return Decision(None, wait=recheck, budget=name)
        decision = self.local.decide(replace(ask, limits=scaled, ticket=None))
        if decision.handle is None and not decision.too_large:
            # Redis may answer, or the lease end, long before this frees.
            return replace(decision, wait=min(decision.wait, recheck))
        record_local = getattr(self.shared, "record_local", None)
        if (
            decision.handle is not None
            and record_local is not None
            and record_local(decision.handle)
        ):
            decision.handle.shared = True  # its settle goes to the ledger too
        return decision

    def settle(self, handle: Handle, amounts: dict[str, int], now: float) -> None:
        if handle.shared and hasattr(self.shared, "ledger"):
            # No I/O: the shared store's ledger has it, its writer sends it.
            assert self.shared is not None
            reserved = Handle(handle.reservation_id, handle.pool, dict(handle.amounts))
            self.shared.settle(reserved, amounts, now)
        elif handle.shared:
            shared_amounts = dict(handle.amounts)  # what the shared store holds now
            self._shared_call(
                lambda store: store.settle(
                    Handle(handle.reservation_id, handle.pool, shared_amounts),
                    amounts,
                    now,
                )
            )
        self.local.settle(handle, amounts, now)

    def usage(self, pool: str, window: float, now: float) -> dict[str, int]:
        shared = self._shared_call(lambda store: store.usage(pool, window, now))
        return shared if shared is not None else self.local.usage(pool, window, now)

    def usage_seen(self, pool: str, window: float, now: float) -> dict[str, int]:
        """Usage for a meter, never waiting for Redis: what the writer last read
        of the shared windows (never less than this process's own), or this
        process's own until it has read them; each call queues a fresh read."""
        local = self.local.usage(pool, window, now)
        shared = self.shared
        if shared is None or not self.available():
            return local
        read = getattr(shared, "read_usage", None)
        if read is None:  # a store without a writer: asking it does not wait
            return self.usage(pool, window, now)
        if pool not in self._reading:
            self._reading.add(pool)

            def refresh() -> None:
                try:
                    self._seen[pool] = read(pool, window)
                except StorageUnavailable:
                    pass  # the writer's next send marks the outage
                finally:
                    self._reading.discard(pool)

            self._later(lambda _store: refresh())
        seen = self._seen.get(pool)
        if seen is None:
            return local
        return {name: max(seen.get(name, 0), used) for name, used in local.items()}

    def hold_ceiling(self, ceiling: base.Ceiling) -> int:
        """Locally at once (while Redis is gone, the server's word still holds),
        and in the shared store through its writer; the local phantom."""
        self._later(lambda store: store.hold_ceiling(ceiling))
        return self.local.hold_ceiling(ceiling)

    def spendable(
        self, pool: str, limits: dict[str, int | None]
    ) -> dict[str, int | None]:
        """The most one request may ask of each limit now (no I/O): all of it,
        or the share the shared store leases this process."""
        spendable = getattr(self.shared, "spendable", None)
        return dict(limits) if spendable is None else spendable(pool, limits)

    def learn_limits(
        self, pool: str, learned: dict[str, int], holds: float, now: float
    ) -> None:
        """Locally at once, and to the shared store through its writer (no I/O)."""
        self.local.learn_limits(pool, learned, holds, now)
        self._later(lambda store: store.learn_limits(pool, learned, holds, now))

    def learned_limits(self, pool: str, now: float) -> dict[str, int]:
        """The lowest of this process's and the shared store's (as it last
        answered: no I/O, also while it is down)."""
        lowest = self.local.learned_limits(pool, now)
        if self.shared is not None:
            for name, limit in self.shared.learned_limits(pool, now).items():
                lowest[name] = min(limit, lowest.get(name, limit))
        return lowest

    def _later(self, update: Callable[[Store], object]) -> None:
        """An update the shared store's writer sends (no I/O here)."""
        shared = self.shared
        later = getattr(shared, "later", None)
        if shared is None:
            return
        if later is None:
            self._shared_call(update)
        else:
            later(lambda: update(shared))

    def pools(self) -> list[str]:
        shared = self._shared_call(lambda store: store.pools()) or []
        return sorted({*self.local.pools(), *shared})

    def keep_stats(self, stats: base.Stats) -> None:
        self.local.keep_stats(stats)
        self._later(lambda store: store.keep_stats(stats))

    def report(self, pool: str, window: float, now: float) -> PoolReport:
        shared = self._shared_call(lambda store: store.report(pool, window, now))
        return shared if shared is not None else self.local.report(pool, window, now)
