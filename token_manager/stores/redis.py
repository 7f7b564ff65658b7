"""A budget shared by every process that uses the same Redis (or Redis Cluster).

Fair across processes: every waiter holds a ticket in the pool's queue and only
the head may reserve. A live process keeps its tickets and its requests in
flight alive with a heartbeat (one thread, one script per pool every third of
a lease); a process that dies (SIGKILL, a crashed container) loses its place
within one lease, and its requests in flight then count one window more, as
the server counts them.

Bounded when Redis is away: a process spends only the share of each limit it
holds a lease for (see redis_leases). What it grants or settles meanwhile is
written back (once, by name) before its next grant. Only the courier's threads
and a waiter's attempt (never an event loop, never under the manager's lock)
talk to Redis. The parts: the link (connection, keys), the leases, the writer
(what is owed, the heartbeat), the recovery after Redis lost its data, the
learned limits and the status.
"""

from __future__ import annotations

import atexit
import os
import time
import uuid
import weakref
from collections.abc import Callable
from typing import Any

from ..budgets import BUDGETS, Budget
from . import base
from .base import Decision, Handle, StorageUnavailable, Store, Ticket
from .ledger import Ledger
from .redis_courier import Courier
from .redis_learned import LearnedLimits
from .redis_leases import CLAIM_WINDOWS, Leases, Limits, short_lease
from .redis_link import PoolKeys, RedisLink, account_tag, is_cluster_url
from .redis_lua_common import CAP_RAISED
from .redis_recovery import Recovery
from .redis_reserve import BEHIND, GRANTED, LOST, TOO_LARGE, read_answer, reserve_args
from .redis_status import RedisStatus
from .redis_writer import Writer, send_at_exit

__all__ = [
    "CLAIM_WINDOWS",
    "RedisStore",
    "account_tag",
    "is_cluster_url",
    "short_lease",
]


class RedisStore(Store, PoolKeys):
    """Charges in Redis, decided atomically by Lua scripts."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "token-manager",
        account: str = "anonymous",
        cluster: bool | None = None,
        lease_seconds: float | None = None,
        fair_queue: bool = True,
        client: Any | None = None,
        clock: Callable[[], float] = time.monotonic,
        bounded_outage: bool = True,
    ) -> None:
        """`lease_seconds` None: requests in flight hold a short lease the
        heartbeat renews (a dead process's charges count one window more, then
        go); a number: a fixed lease, never renewed (600 s: a benchmark's
        baseline). `fair_queue` False: no tickets, whoever asks when budget is
        free gets it (a benchmark's baseline). `bounded_outage` False: during
        an outage a process spends the whole limit alone and nothing it does
        then reaches Redis (a benchmark's baseline). The connection is made on
        first use, so a server (or Cluster) that cannot be reached at start is
        only an outage."""
        PoolKeys.__init__(
            self, prefix, account, f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        )
        self.cluster = is_cluster_url(url, cluster)
        self._link = RedisLink(url, self.cluster, client)
        self.fixed_lease, self.fair_queue = lease_seconds, fair_queue
        self.bounded_outage, self._clock = bounded_outage, clock
        self.ledger = Ledger()
        self._leases = Leases(self.instance, clock, bounded_outage)
        self._learned = LearnedLimits(clock)
        self._status = RedisStatus(self._link, self, fair_queue=fair_queue)
        self._writer = Writer(
            self._link,
            self,
            self.ledger,
            self._leases,
            self._learned,
            self._flight_lease,
            clock,
            fair_queue=fair_queue,
        )
        self._writer.limits = self._status.known
        self._channels: dict[str, str] = {}  # channel -> pool
        self.on_head: Callable[[str], None] | None = None
        self.on_recovered: Callable[[], None] | None = None
        self._courier = Courier(
            self.connection,
            self.send,
            self.beat,
            self._leases.beat_interval,
            self._heard,
        )
        self._recovery = Recovery(
            self._link, self.ledger, self._leases, self._courier.poke, clock
        )
        self._writer.on_lost = self._recovery.lost
        atexit.register(send_at_exit, weakref.ref(self._writer))

    def close(self) -> None:
        """Stop the courier and leave the live processes (tickets and leases lapse)."""
        self._courier.stop()
        for pool in list(self._leases.contacted):
            try:
                self._link.run("DEPART", self.live_keys(pool), [self.instance])
            except StorageUnavailable:
                return

    def connection(self) -> Any:
        """The Redis client (made on first use; may raise the client's errors)."""
        return self._link.connection()

    @property
    def healthy(self) -> bool:
        """Whether the last call to Redis was answered."""
        return self._link.healthy

    def _flight_lease(self, window: float) -> float:
        return self.fixed_lease if self.fixed_lease is not None else short_lease(window)

    # ---- outages ---------------------------------------------------------

    def degraded_limits(self, pool: str, limits: Limits) -> Limits | None:
        """What this process may spend alone now (see `Leases.degraded`)."""
        return self._leases.degraded(pool, limits, self._link.healthy)

    def spendable(self, pool: str, limits: Limits) -> Limits:
        """The most one request may ask of each limit now (no I/O)."""
        return self._leases.spendable(pool, limits, self._link.healthy)

    # ---- the writer ------------------------------------------------------

    def send(self) -> None:
        """What the ledger owes Redis (I/O: raises StorageUnavailable)."""
        self._writer.send()

    def owes(self) -> bool:
        return self._writer.owes()

    def beat(self) -> None:
        """One heartbeat; after an outage, say Redis is back."""
        self._recovery.notice_restart()
        self._writer.beat()
        if self._link.take_came_back() and self.on_recovered is not None:
            self.on_recovered()

    def refresh_leases(self) -> None:
        """One heartbeat now (tests)."""
        self.beat()

    def later(self, update: Callable[[], object]) -> None:
        """Send `update` from the writer thread (a header's ceiling, a 429 seen)."""
        self._writer.later.append(update)
        self._courier.poke()

    def _heard(self, channel: str, head: str) -> None:
        if head == CAP_RAISED:  # someone borrows: hear the new cap now
            self._courier.beat_now()
            return
        pool = self._channels.get(channel)
        callback = self.on_head
        if pool is not None and callback is not None and head.startswith(self.instance):
            callback(pool)

    # ---- the store -------------------------------------------------------

    def decide(self, ask: base.Ask) -> Decision:
        pool, window = ask.pool, ask.window
        self._leases.windows[pool] = window
        self._status.remember(pool, ask.limits)
        self._recovery.notice_restart()
        self.send()  # before any new grant: every charge this process owes Redis
        held = self._recovery.held(pool)
        if held > 0:
            return Decision(None, wait=held)
        member = ""
        if ask.ticket is not None and self.fair_queue:
            member = self.ticket_member(ask.ticket)
            if not self.ledger.hold_ticket(pool, member):
                return Decision(None, wait=short_lease(window))  # its waiter is gone
            self._channels.setdefault(self.channel(pool), pool)
            self._courier.listen(self.channel(pool))
        self._courier.poke()  # the heartbeat runs
        reservation_id = f"{self.instance}.{uuid.uuid4().hex}"
        args = reserve_args(
            ask,
            reservation_id,
            self._flight_lease(window),
            member,
            self.channel(pool),
            self._leases.args(pool),
        )
        sent = self._clock()
        answer = read_answer(self._link.run("RESERVE", self.every_key(pool), args))
        self._leases.contact(pool, answer.live, sent)
        self._learned.heard(pool, answer.learned, sent)
        if answer.code == LOST:
            self._recovery.lost(pool)
            return Decision(None, wait=short_lease(window))
        if answer.code != GRANTED and member and self.ledger.is_gone(member):
            self.ledger.leave_again(pool, member)  # cancelled while this ran
            self._courier.poke()
        if answer.code == BEHIND:
            return Decision(None, behind=True, order=float(answer.order))
        if answer.code == TOO_LARGE:
            return Decision(None, budget=answer.budget, too_large=True)
        if answer.code != GRANTED:
            return Decision(None, wait=float(answer.value), budget=answer.budget)
        if member:
            self.ledger.ticket_granted(member)
        if self.fixed_lease is None:
            self.ledger.charge(reservation_id, pool, ask.amounts, written=True)
        return Decision(Handle(reservation_id, pool, dict(ask.amounts), shared=True))

    def record_local(self, handle: Handle) -> bool:
        """A grant made without Redis: written to it before this process's next
        grant there (no I/O here). False: it is not (the baseline)."""
        if not self.bounded_outage:
            return False
        self.ledger.charge(
            handle.reservation_id, handle.pool, handle.amounts, written=False
        )
        self._courier.poke()
        return True

    def forget(self, pool: str, ticket: Ticket) -> None:
        """`ticket`'s waiter is gone (no I/O: the writer sends the LEAVE)."""
        self.ledger.drop_ticket(pool, self.ticket_member(ticket))
        self._courier.poke()

    def leave(self, pool: str, ticket: Ticket) -> None:
        self.ledger.drop_ticket(pool, self.ticket_member(ticket))
        self.send()

    def settle(self, handle: Handle, amounts: dict[str, int], now: float) -> None:
        """No I/O: the ledger keeps it and the writer sends it at once."""
        self.ledger.settle(
            handle.reservation_id, handle.pool, handle.amounts, amounts, self._clock()
        )
        self._courier.poke()

    def hold_ceiling(self, ceiling: base.Ceiling) -> int:
        key = self.keys(ceiling.pool)[BUDGETS.index(Budget(ceiling.budget))]
        args = [ceiling.window, ceiling.expires_in, int(ceiling.server_used)]
        return int(self._link.run("CEILING", [key], args))

    def learn_limits(
        self, pool: str, learned: dict[str, int], holds: float, now: float
    ) -> None:
        """Tell Redis the limits the server's headers said (I/O: the writer
        sends it); the same limits again only once a quarter of `holds` on."""
        self._learned.tell(self._link, self.learned_key(pool), pool, learned, holds)

    def learned_limits(self, pool: str, now: float) -> dict[str, int]:
        """The lowest limits every process learned, as Redis last said (no I/O)."""
        return self._learned.current(pool)

    # ---- status ----------------------------------------------------------

    def waiting(self, pool: str) -> int:
        """Live tickets in the pool's queue, every process's."""
        return self._status.waiting(pool)

    def usage(self, pool: str, window: float, now: float) -> dict[str, int]:
        self.send()  # this process's own charges first: it reads what it wrote
        return self._status.usage(pool, window)

    def read_usage(self, pool: str, window: float) -> dict[str, int]:
        """The shared windows' usage as Redis has it (the writer's own read: what
        this process owes is sent before anything it queued with `later`)."""
        return self._status.usage(pool, window)

    def pools(self) -> list[str]:
        return self._status.pools()

    def keep_stats(self, stats: base.Stats) -> None:
        self._status.keep(stats)

    def report(self, pool: str, window: float, now: float) -> base.PoolReport:
        self.send()  # the statistics this process posted first
        return self._status.report(pool, window)
