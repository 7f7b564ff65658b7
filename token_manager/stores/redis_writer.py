"""What the store's writer thread tells Redis: what the ledger owes it
(LEAVEs, then charges, then deferred updates) and the heartbeat that keeps
this process's tickets, requests in flight and lease alive.

Only the courier's thread and a waiter's attempt call these (never an event
loop, never under the manager's lock).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from ..budgets import BUDGETS
from .base import StorageUnavailable
from .ledger import Charge, Ledger
from .redis_learned import LearnedLimits
from .redis_leases import Leases, short_lease
from .redis_link import PoolKeys, RedisLink

logger = logging.getLogger("token_manager")


def send_at_exit(writer: weakref.ref[Writer]) -> None:
    """A process that settles and exits still tells Redis (best effort)."""
    found = writer()
    if found is None or not found.owes():
        return
    try:
        found.send()
    except StorageUnavailable:
        logger.warning("Redis is unavailable at exit: this process's charges lapse")


class Writer:
    def __init__(
        self,
        link: RedisLink,
        keys: PoolKeys,
        ledger: Ledger,
        leases: Leases,
        learned: LearnedLimits,
        flight_lease: Callable[[float], float],
        clock: Callable[[], float],
        *,
        fair_queue: bool,
    ) -> None:
        self._link, self._keys, self._ledger = link, keys, ledger
        self._leases, self._learned = leases, learned
        self._flight_lease, self._clock = flight_lease, clock
        self.fair_queue = fair_queue
        self.later: deque[Callable[[], object]] = deque()
        self.limits: dict[str, dict[str, int | None] | None] = {}  # as last recorded
        self.on_lost: Callable[[str], None] = lambda pool: None
        self._lock = threading.Lock()

    def owes(self) -> bool:
        """Whether anything waits to be sent."""
        return bool(self.later) or self._ledger.owes()

    def send(self) -> None:
        """Tell Redis what the ledger owes it: LEAVEs, then charges, then the
        deferred updates. I/O: raises StorageUnavailable (nothing is lost)."""
        with self._lock:
            self._send_leaving()
            self._send_charges()
            while self.later:
                update = self.later.popleft()
                try:
                    update()
                except StorageUnavailable:
                    self.later.appendleft(update)
                    raise
            self._ledger.forget_expired(self._clock(), dict(self._leases.windows))

    def _send_leaving(self) -> None:
        leaving = self._ledger.take_leaving()
        try:
            if self.fair_queue:
                for member, pool in leaving.items():
                    channel = self._keys.channel(pool)
                    self._link.run(
                        "LEAVE", self._keys.queue_keys(pool), [member, channel]
                    )
        except StorageUnavailable:
            self._ledger.return_leaving(leaving)
            raise

    def _send_charges(self) -> None:
        by_pool: dict[str, list[Charge]] = {}
        for charge in self._ledger.unwritten():
            by_pool.setdefault(charge.pool, []).append(charge)
        now = self._clock()
        for pool, owed in by_pool.items():
            window = self._leases.window(pool)
            args: list[Any] = [window, self._flight_lease(window)]
            for charge in owed:
                age = -1.0 if charge.settled_at is None else now - charge.settled_at
                args += [charge.reservation_id, max(-1.0, age)]
                for name in BUDGETS:
                    reserved = charge.reserved.get(name, 0)
                    args += [reserved, charge.amounts.get(name, reserved)]
            self._link.run("SYNC", self._keys.keys(pool), args)
            self._ledger.written(owed)

    def beat(self) -> None:
        """One heartbeat: stay registered, renew tickets and requests in flight,
        hear the others' excess and the learned limits."""
        tickets, flights = self._ledger.tickets(), self._ledger.flights()
        for pool in set(self._leases.windows) | set(tickets) | set(flights):
            window = self._leases.window(pool)
            args: list[Any] = [short_lease(window), self._flight_lease(window), window]
            args += self._leases.args(pool)
            members = sorted(tickets.get(pool, ()))
            args += [len(members), *members]
            for name in BUDGETS:
                held = [
                    f"{rid}|{amounts.get(name, 0)}"
                    for rid, amounts in flights.get(pool, ())
                ]
                args += [len(held), *held]
            limits = self.limits.get(pool) or {}
            args += [
                -1 if limits.get(name) is None else limits[name] for name in BUDGETS
            ]
            sent = self._clock()
            reply = self._link.run("REFRESH", self._keys.every_key(pool), args)
            lost, live, excess, learned = reply
            self._leases.contact(pool, live, sent)
            self._leases.heard_excess(pool, excess, sent)
            self._learned.heard(pool, learned, sent)
            if int(lost):
                self.on_lost(pool)
