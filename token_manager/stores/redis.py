"""A budget shared by every process that uses the same Redis (or Redis Cluster).

Keys: `<prefix>:{<pool>:<account>}:<budget>`; `<account>` is a short hash of
the API key, never the key. One pool's keys share the `{...}` hash tag, so
every script runs in one Cluster slot. Errors become `StorageUnavailable`
(never with the URL: it may carry a password).

Fair across processes: every waiter holds a ticket in the pool's queue and only
the head may reserve. A live process keeps its tickets and its requests in
flight alive with a heartbeat (one thread, one script per pool every third of
a lease); a process that dies (SIGKILL, a crashed container) loses its place
within one lease, and its requests in flight then count one window more, as
the server counts them.

Bounded when Redis is away: every contact renews this process's lease on a
share of each limit (one over the live processes seen, less what the others
held above theirs), which it may spend alone from when the others see it
silent (a lease) until half a window after its last contact; the others hold
that share back while it is silent, for one window more. What it grants or
settles meanwhile is written back (once, by name) before its next grant. A
process that never reached Redis holds no lease: see `NEWCOMER_SHARE`.
Only the courier's threads and a waiter's attempt (never an event loop,
never under the manager's lock) talk to Redis.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from ..budgets import BUDGETS, Budget
from . import redis_scripts
from .base import Decision, Handle, PoolReport, StorageUnavailable, Ticket
from .ledger import Charge, Ledger
from .redis_courier import RETRY_AFTER_ERROR, Courier

logger = logging.getLogger("token_manager")

CLUSTER_SCHEME = "redis+cluster://"
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
T = TypeVar("T")


def short_lease(window: float) -> float:
    """The lease of a ticket (and of a request in flight) kept by the heartbeat."""
    return max(SHORT_LEASE_MIN, min(SHORT_LEASE_MAX, window / 4))


def account_tag(api_key: str | None) -> str:
    """A short, one-way name for the API key's organisation (never the key)."""
    if not api_key:
        return "anonymous"
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]


def is_cluster_url(url: str, cluster: bool | None = None) -> bool:
    return bool(cluster) or url.startswith(CLUSTER_SCHEME)


def _connect(url: str, cluster: bool) -> Any:
    import redis

    options: dict[str, Any] = {"socket_timeout": 2.0, "socket_connect_timeout": 2.0}
    if cluster:
        from redis.cluster import RedisCluster

        plain = "redis://" + url.removeprefix(CLUSTER_SCHEME).removeprefix("redis://")
        return RedisCluster.from_url(plain, **options)
    return redis.Redis.from_url(url, **options)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _send_at_exit(store: weakref.ref[RedisStore]) -> None:
    """A process that settles and exits still tells Redis (best effort)."""
    found = store()
    if found is None or not found.owes():
        return
    try:
        found.send()
    except StorageUnavailable:
        logger.warning("Redis is unavailable at exit: this process's charges lapse")


class RedisStore:
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
        import redis
        from redis.exceptions import RedisClusterException

        self.cluster = is_cluster_url(url, cluster)
        self._url, self._client = url, client
        self._errors: tuple[type[BaseException], ...] = (
            redis.RedisError,
            RedisClusterException,
            OSError,
        )
        self.prefix, self.account = prefix, account
        self.fixed_lease, self.fair_queue = lease_seconds, fair_queue
        self.instance = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._clock = clock
        self.bounded_outage = bounded_outage
        self.ledger = Ledger()
        self._scripts: dict[str, Any] = {}
        self._connect_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._known: dict[str, dict[str, int | None] | None] = {}
        self._windows: dict[str, float] = {}
        self._contacted: set[str] = set()
        self._shares: dict[str, tuple[float, float]] = {}  # pool -> share, contact
        self._newcomer: dict[str, float] = {}  # pool -> first try without Redis
        self._excess: dict[str, tuple[dict[str, int], float]] = {}
        self._hold_until: dict[str, float] = {}
        # pool -> budget -> (the lowest learned limit, when it lapses): as Redis
        # last said, so nobody waits on Redis to read it.
        self._learned: dict[str, dict[str, tuple[int, float]]] = {}
        self._published: dict[tuple[str, str], tuple[int, float]] = {}
        self._later: deque[Callable[[], object]] = deque()
        self._healthy, self._came_back = True, False
        self._channels: dict[str, str] = {}  # channel -> pool
        self.on_head: Callable[[str], None] | None = None
        self.on_recovered: Callable[[], None] | None = None
        self._courier = Courier(
            self.connection, self.send, self.beat, self._beat_interval, self._heard
        )
        atexit.register(_send_at_exit, weakref.ref(self))

    def close(self) -> None:
        """Stop the courier and leave the live processes (tickets and leases lapse)."""
        self._courier.stop()
        for pool in list(self._contacted):
            try:
                self._run("DEPART", self.live_keys(pool), [self.instance])
            except StorageUnavailable:
                return

    # ---- keys ------------------------------------------------------------

    def tag(self, pool: str) -> str:
        return f"{self.prefix}:{{{pool}:{self.account}}}"

    def keys(self, pool: str) -> list[str]:
        """The budget keys of one pool, in `BUDGETS` order (one hash tag)."""
        return [f"{self.tag(pool)}:{name}" for name in BUDGETS]

    def queue_keys(self, pool: str) -> list[str]:
        """The pool's queue of tickets and their leases (same hash tag)."""
        return [f"{self.tag(pool)}:queue", f"{self.tag(pool)}:leases"]

    def live_keys(self, pool: str) -> list[str]:
        """The pool's live processes and their shares (same hash tag)."""
        return [f"{self.tag(pool)}:live", f"{self.tag(pool)}:shares"]

    def learned_key(self, pool: str) -> str:
        """The lowest limits learned from the server's headers (same hash tag)."""
        return f"{self.tag(pool)}:learned"

    def channel(self, pool: str) -> str:
        """Where the scripts announce a pool's new head (a ticket ahead left)."""
        return f"{self.tag(pool)}:head"

    def ticket_member(self, ticket: Ticket) -> str:
        """A ticket as Redis holds it: named after this process's instance."""
        return f"{self.instance}.{ticket.ticket_id}"

    def _stats_key(self, pool: str) -> str:
        return f"{self.tag(pool)}:stats"

    def _registry(self) -> str:
        return f"{self.prefix}:pools:{self.account}"

    # ---- connection ------------------------------------------------------

    def connection(self) -> Any:
        """The Redis client (made on first use; may raise the client's errors)."""
        with self._connect_lock:
            if self._client is None:
                self._client = _connect(self._url, self.cluster)
            return self._client

    def _script(self, name: str) -> Any:
        found = self._scripts.get(name)
        if found is None:
            found = self._scripts[name] = self.connection().register_script(
                getattr(redis_scripts, name)
            )
        return found

    def _run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """One script, its errors as StorageUnavailable."""
        return self._call(lambda _: self._script(script)(keys=keys, args=args))

    def _call(self, call: Callable[[Any], T]) -> T:
        try:
            result = call(self.connection())
        except self._errors as error:
            self._healthy = False
            raise StorageUnavailable(
                f"Redis is unavailable: {type(error).__name__}"
            ) from error
        if not self._healthy:
            self._healthy, self._came_back = True, True
        return result

    @property
    def healthy(self) -> bool:
        """Whether the last call to Redis was answered."""
        return self._healthy

    # ---- leases and the writer --------------------------------------------

    def _window(self, pool: str) -> float:
        return self._windows.get(pool, 60.0)

    def _flight_lease(self, window: float) -> float:
        return self.fixed_lease if self.fixed_lease is not None else short_lease(window)

    def _beat_interval(self) -> float:
        windows = list(self._windows.values()) or [60.0]
        return min(short_lease(window) for window in windows) / 3

    def _lease_args(self, pool: str) -> list[Any]:
        """instance, claim, stale, expect (see redis_scripts._REGISTER)."""
        window = self._window(pool)
        if not self.bounded_outage:  # nobody is held back, nothing written back
            return [self.instance, CLAIM_WINDOWS * window, 1e12, 0]
        return [
            self.instance,
            CLAIM_WINDOWS * window,
            short_lease(window),
            1 if pool in self._contacted else 0,
        ]

    def _contact(self, pool: str, live: Any, sent: float) -> None:
        self._contacted.add(pool)
        self._shares[pool] = (1.0 / max(1, int(live)), sent)

    def degraded_limits(
        self, pool: str, limits: dict[str, int | None]
    ) -> dict[str, int | None] | None:
        """What this process may spend of each limit without Redis now: its
        share (one over the live processes at its last contact) less what the
        others held above theirs then (for a window: until those charges
        expire), from when the others see it silent (and hold that share back)
        until its lease ends; None outside that time or while Redis answers
        (Redis decides). Never reached: see `NEWCOMER_SHARE`."""
        if not self.bounded_outage:
            return dict(limits)
        if self._healthy:
            return None  # Redis answers: it decides (the others count on it)
        known = self._shares.get(pool)
        now, window = self._clock(), self._window(pool)
        if known is None:
            return self._newcomer_limits(pool, limits, now, window)
        share, contact = known
        silent = now - contact
        if silent > LEASE_SHARE * window:
            return None
        if silent < short_lease(window) + STALE_MARGIN:
            return None  # the others hold our share back only once we are stale
        excess, seen = self._excess.get(pool, ({}, 0.0))
        recent = now - seen < window
        return {
            name: None
            if limit is None
            else max(0, int(limit * share) - (excess.get(name, 0) if recent else 0))
            for name, limit in limits.items()
        }

    def spendable(
        self, pool: str, limits: dict[str, int | None]
    ) -> dict[str, int | None]:
        """The most one request may ask of each limit now (no I/O): its share
        while Redis is away, and before Redis was ever reached for `pool` (a
        request sized before the first answer may meet an outage)."""
        if not self.bounded_outage:
            return dict(limits)
        if pool not in self._shares:
            return {
                name: None if limit is None else int(limit * NEWCOMER_SHARE)
                for name, limit in limits.items()
            }
        if self._healthy:
            return dict(limits)
        return self.degraded_limits(pool, limits) or dict(limits)

    def _newcomer_limits(
        self, pool: str, limits: dict[str, int | None], now: float, window: float
    ) -> dict[str, int | None] | None:
        """A lease this process gives itself, from its first try without Redis."""
        first = self._newcomer.setdefault(pool, now)
        if now - first > LEASE_SHARE * window:
            return None
        return self.spendable(pool, limits)

    def _lost(self, pool: str) -> None:
        """Redis no longer knows this process (restarted empty, or a partition
        outlasted its claim): write every charge back, and hold this pool's
        grants for two leases, so every live process (each hears of it within
        a third of a lease, or half a second after an error) writes its own
        back first."""
        logger.warning("Redis lost the shared charges; writing this process's back")
        self.ledger.rewrite_all()
        hold = 2 * max(short_lease(self._window(pool)), RETRY_AFTER_ERROR)
        self._hold_until[pool] = self._clock() + hold
        self._courier.poke()

    def send(self) -> None:
        """Tell Redis what the ledger owes it: LEAVEs, then charges, then the
        deferred updates. I/O: raises StorageUnavailable (nothing is lost)."""
        with self._send_lock:
            leaving = self.ledger.take_leaving()
            try:
                if self.fair_queue:
                    for member, pool in leaving.items():
                        self._run(
                            "LEAVE", self.queue_keys(pool), [member, self.channel(pool)]
                        )
            except StorageUnavailable:
                self.ledger.return_leaving(leaving)
                raise
            charges = self.ledger.unwritten()
            by_pool: dict[str, list[Charge]] = {}
            for charge in charges:
                by_pool.setdefault(charge.pool, []).append(charge)
            now = self._clock()
            for pool, owed in by_pool.items():
                window = self._window(pool)
                args: list[Any] = [window, self._flight_lease(window)]
                for charge in owed:
                    age = -1.0 if charge.settled_at is None else now - charge.settled_at
                    args += [charge.reservation_id, max(-1.0, age)]
                    for name in BUDGETS:
                        reserved = charge.reserved.get(name, 0)
                        args += [reserved, charge.amounts.get(name, reserved)]
                self._run("SYNC", self.keys(pool), args)
                self.ledger.written(owed)
            while self._later:
                update = self._later.popleft()
                try:
                    update()
                except StorageUnavailable:
                    self._later.appendleft(update)
                    raise
            self.ledger.forget_expired(now, dict(self._windows))

    def owes(self) -> bool:
        """Whether anything waits to be sent."""
        return bool(self._later) or self.ledger.owes()

    def beat(self) -> None:
        """One heartbeat: stay registered, renew tickets and requests in flight;
        after an outage, say Redis is back."""
        tickets, flights = self.ledger.tickets(), self.ledger.flights()
        for pool in set(self._windows) | set(tickets) | set(flights):
            window = self._window(pool)
            args: list[Any] = [short_lease(window), self._flight_lease(window), window]
            args += self._lease_args(pool)
            members = sorted(tickets.get(pool, ()))
            args += [len(members), *members]
            for name in BUDGETS:
                held = [
                    f"{rid}|{amounts.get(name, 0)}"
                    for rid, amounts in flights.get(pool, ())
                ]
                args += [len(held), *held]
            limits = self._known.get(pool) or {}
            args += [
                -1 if limits.get(name) is None else limits[name] for name in BUDGETS
            ]
            sent = self._clock()
            every_key = self.keys(pool) + self.queue_keys(pool) + self.live_keys(pool)
            every_key.append(self.learned_key(pool))
            lost, live, excess, learned = self._run("REFRESH", every_key, args)
            self._heard_limits(pool, learned, sent)
            self._contact(pool, live, sent)
            self._excess[pool] = (
                {
                    name: int(_text(over))
                    for name, over in zip(BUDGETS, excess, strict=True)
                },
                sent,
            )
            if int(lost):
                self._lost(pool)
        if self._came_back:
            self._came_back = False
            if self.on_recovered is not None:
                self.on_recovered()

    def refresh_leases(self) -> None:
        """One heartbeat now (tests)."""
        self.beat()

    def _heard(self, channel: str, head: str) -> None:
        pool = self._channels.get(channel)
        callback = self.on_head
        if pool is not None and callback is not None and head.startswith(self.instance):
            callback(pool)

    def _remember(self, pool: str, limits: dict[str, int | None] | None = None) -> None:
        """The registry of pools, and the limits a status command shows."""
        if pool not in self._known:
            self._call(lambda redis: redis.sadd(self._registry(), pool))
            self._known[pool] = None
        if limits is not None and self._known[pool] != limits:
            self.record(pool, limits=limits)
            self._known[pool] = dict(limits)

    # ---- the store -------------------------------------------------------

    def try_reserve(
        self,
        pool: str,
        amounts: dict[str, int],
        limits: dict[str, int | None],
        window: float,
        now: float,
        *,
        ticket: Ticket | None = None,
    ) -> Decision:
        self._windows[pool] = window
        self._remember(pool, limits)
        self.send()  # before any new grant: every charge this process owes Redis
        held = self._hold_until.get(pool, 0.0) - self._clock()
        if held > 0:
            return Decision(None, wait=held)
        member = ""
        if ticket is not None and self.fair_queue:
            member = self.ticket_member(ticket)
            if not self.ledger.hold_ticket(pool, member):
                return Decision(None, wait=short_lease(window))  # its waiter is gone
            self._channels.setdefault(self.channel(pool), pool)
            self._courier.listen(self.channel(pool))
        self._courier.poke()  # the heartbeat runs
        reservation_id = f"{self.instance}.{uuid.uuid4().hex}"
        args: list[Any] = [window, reservation_id, self._flight_lease(window)]
        for name in BUDGETS:
            limit = limits.get(name)
            args += [amounts.get(name, 0), -1 if limit is None else limit]
        args += [member, ticket.delay if ticket else 0.0, short_lease(window)]
        args += [self.channel(pool), *self._lease_args(pool)]
        sent = self._clock()
        every_key = self.keys(pool) + self.queue_keys(pool) + self.live_keys(pool)
        every_key.append(self.learned_key(pool))
        answer, value, key, order, live, learned = self._call(
            lambda _: self._script("RESERVE")(keys=every_key, args=args)
        )
        self._contact(pool, live, sent)
        self._heard_limits(pool, learned, sent)
        code = int(answer)
        if code == 3:
            self._lost(pool)
            return Decision(None, wait=short_lease(window))
        if code != 1 and member and self.ledger.is_gone(member):
            self.ledger.leave_again(pool, member)  # cancelled while this ran
            self._courier.poke()
        budget = _text(key).rsplit(":", 1)[-1] or None
        if code == 2:
            return Decision(None, behind=True, order=float(_text(order)))
        if code == -1:
            return Decision(None, budget=budget, too_large=True)
        if code != 1:
            return Decision(None, wait=float(_text(value)), budget=budget)
        if member:
            self.ledger.ticket_granted(member)
        if self.fixed_lease is None:
            self.ledger.charge(reservation_id, pool, amounts, written=True)
        return Decision(Handle(reservation_id, pool, dict(amounts), shared=True))

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

    def waiting(self, pool: str) -> int:
        """Live tickets in the pool's queue, every process's."""
        return int(
            self._call(
                lambda _: self._script("QUEUE_LENGTH")(
                    keys=self.queue_keys(pool), args=[]
                )
            )
        )

    def usage(self, pool: str, window: float, now: float) -> dict[str, int]:
        self.send()  # this process's own charges first: it reads what it wrote
        totals = self._call(
            lambda _: self._script("USAGE")(keys=self.keys(pool), args=[window])
        )
        return {name: int(total) for name, total in zip(BUDGETS, totals, strict=True)}

    def set_ceiling(
        self,
        pool: str,
        budget: str,
        server_used: int,
        expires_in: float,
        window: float,
        now: float,
    ) -> int:
        key = self.keys(pool)[BUDGETS.index(Budget(budget))]
        args = [window, expires_in, int(server_used)]
        return int(self._call(lambda _: self._script("CEILING")(keys=[key], args=args)))

    def learn_limits(
        self, pool: str, learned: dict[str, int], holds: float, now: float
    ) -> None:
        """Tell Redis the limits the server's headers said (I/O: the writer
        sends it); the same limits again only once a quarter of `holds` on."""
        at = self._clock()
        fresh = {
            name: limit
            for name, limit in learned.items()
            if (said := self._published.get((pool, name))) is None
            or said[0] != limit
            or at - said[1] >= holds / 4
        }
        if not fresh:
            return
        args: list[Any] = [holds]
        for name, limit in fresh.items():
            args += [name, int(limit)]
        reply = self._run("LEARN", [self.learned_key(pool)], args)
        self._heard_limits(pool, reply, at, names=set(fresh))
        for name, limit in fresh.items():
            self._published[(pool, name)] = (limit, at)

    def learned_limits(self, pool: str, now: float) -> dict[str, int]:
        """The lowest limits every process learned, as Redis last said (no I/O)."""
        at = self._clock()
        return {
            name: limit
            for name, (limit, ends) in self._learned.get(pool, {}).items()
            if ends > at
        }

    def _heard_limits(
        self, pool: str, reply: Any, sent: float, names: set[str] | None = None
    ) -> None:
        """Keep the learned limits of a script's answer (name, limit, seconds
        left): every budget's, or only those of `names`."""
        flat = [_text(item) for item in reply or ()]
        heard = {
            flat[at]: (int(float(flat[at + 1])), sent + float(flat[at + 2]))
            for at in range(0, len(flat) - 2, 3)
        }
        if names is None:
            self._learned[pool] = heard
            return
        kept = {
            name: known
            for name, known in self._learned.get(pool, {}).items()
            if name not in names
        }
        self._learned[pool] = kept | heard

    def later(self, update: Callable[[], object]) -> None:
        """Send `update` from the writer thread (a header's ceiling, a 429 seen)."""
        self._later.append(update)
        self._courier.poke()

    def pools(self) -> list[str]:
        members = self._call(lambda redis: redis.smembers(self._registry()))
        return sorted(_text(member) for member in members)

    def record(
        self,
        pool: str,
        *,
        limits: dict[str, int | None] | None = None,
        waiters: int | None = None,
        rate_limited: int = 0,
    ) -> None:
        self._remember(pool)
        key = self._stats_key(pool)
        fields: dict[str, Any] = {}
        if limits is not None:
            fields |= {
                f"limit:{name}": -1 if value is None else value
                for name, value in limits.items()
            }
        if waiters is not None:
            fields[f"waiters:{self.instance}"] = waiters
        if fields:
            self._call(lambda redis: redis.hset(key, mapping=fields))
        if rate_limited:
            self._call(lambda redis: redis.hincrby(key, "rate_limited", rate_limited))

    def report(self, pool: str, window: float, now: float) -> PoolReport:
        self.send()  # the statistics this process posted first
        stats = {
            _text(name): _text(value)
            for name, value in self._call(
                lambda redis: redis.hgetall(self._stats_key(pool))
            ).items()
        }
        limits: dict[str, int | None] = {}
        for name in BUDGETS:
            raw = stats.get(f"limit:{name}")
            limits[name] = None if raw is None or int(raw) < 0 else int(raw)
        if self.fair_queue:
            waiters = self.waiting(pool)
        else:  # each live process says how many of its callers wait
            live = self._call(
                lambda redis: redis.zrange(self.live_keys(pool)[0], 0, -1)
            )
            waiters = sum(
                int(stats.get(f"waiters:{_text(instance)}", 0)) for instance in live
            )
        return PoolReport(
            pool=pool,
            usage=self.usage(pool, window, now),
            limits=limits,
            waiters=waiters,
            rate_limited=int(stats.get("rate_limited", 0)),
        )
