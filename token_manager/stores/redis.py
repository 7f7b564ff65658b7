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
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import uuid
from collections.abc import Callable
from typing import Any

from ..budgets import BUDGETS, Budget
from . import redis_scripts
from .base import Decision, Handle, PoolReport, StorageUnavailable, Ticket

logger = logging.getLogger("token_manager")

CLUSTER_SCHEME = "redis+cluster://"
# A heartbeat-kept lease: long enough to outlast a busy machine's hiccups, short
# enough that a dead process frees its place well within one window.
SHORT_LEASE_MIN, SHORT_LEASE_MAX = 0.5, 5.0


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
    ) -> None:
        """`lease_seconds` None: requests in flight hold a short lease the
        heartbeat renews (a dead process's charges count one window more, then
        go); a number: a fixed lease, never renewed (the old behaviour, 600 s).
        `fair_queue` False: no tickets, whoever asks when budget is free gets it
        (the old polling, kept as a benchmark's baseline)."""
        import redis

        self.cluster = is_cluster_url(url, cluster)
        self._redis = client or _connect(url, self.cluster)
        from redis.exceptions import RedisClusterException

        self._errors: tuple[type[BaseException], ...] = (
            redis.RedisError,
            RedisClusterException,
            OSError,
        )
        self.prefix, self.account = prefix, account
        self.fixed_lease, self.fair_queue = lease_seconds, fair_queue
        self.instance = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._known: dict[str, dict[str, int | None] | None] = {}
        self._windows: dict[str, float] = {}
        self._live_lock = threading.Lock()
        self._tickets: dict[str, set[str]] = {}  # pool -> ticket members waiting
        self._in_flight: dict[str, tuple[str, dict[str, int]]] = {}
        self._heartbeat: threading.Thread | None = None
        self._stopped = threading.Event()
        self._listener: threading.Thread | None = None
        self._channels: dict[str, str] = {}  # channel -> pool
        self.on_head: Callable[[str], None] | None = None
        self._reserve = self._redis.register_script(redis_scripts.RESERVE)
        self._settle = self._redis.register_script(redis_scripts.SETTLE)
        self._usage = self._redis.register_script(redis_scripts.USAGE)
        self._ceiling = self._redis.register_script(redis_scripts.CEILING)
        self._leave = self._redis.register_script(redis_scripts.LEAVE)
        self._refresh = self._redis.register_script(redis_scripts.REFRESH)
        self._queue_length = self._redis.register_script(redis_scripts.QUEUE_LENGTH)

    def close(self) -> None:
        """Stop the heartbeat (this process's tickets and leases then lapse)."""
        self._stopped.set()
        for thread in (self._heartbeat, self._listener):
            if thread is not None:
                thread.join(timeout=5)

    # ---- keys ------------------------------------------------------------

    def tag(self, pool: str) -> str:
        return f"{self.prefix}:{{{pool}:{self.account}}}"

    def keys(self, pool: str) -> list[str]:
        """The budget keys of one pool, in `BUDGETS` order (one hash tag)."""
        return [f"{self.tag(pool)}:{name}" for name in BUDGETS]

    def queue_keys(self, pool: str) -> list[str]:
        """The pool's queue of tickets and their leases (same hash tag)."""
        return [f"{self.tag(pool)}:queue", f"{self.tag(pool)}:leases"]

    def channel(self, pool: str) -> str:
        """Where the scripts announce a pool's new head (a ticket ahead left)."""
        return f"{self.tag(pool)}:head"

    def ticket_member(self, ticket: Ticket) -> str:
        """A ticket as Redis holds it: named after this process's instance."""
        return f"{self.instance}.{ticket.ticket_id}"

    def _stats_key(self, pool: str) -> str:
        return f"{self.tag(pool)}:stats"

    # ---- leases ----------------------------------------------------------

    def _window(self, pool: str) -> float:
        return self._windows.get(pool, 60.0)

    def _flight_lease(self, window: float) -> float:
        return self.fixed_lease if self.fixed_lease is not None else short_lease(window)

    def _start_heartbeat(self) -> None:
        if self._heartbeat is None or not self._heartbeat.is_alive():
            self._heartbeat = threading.Thread(
                target=self._beat, name="token-manager-heartbeat", daemon=True
            )
            self._heartbeat.start()

    def _beat(self) -> None:
        while not self._stopped.wait(self._beat_interval()):
            try:
                self.refresh_leases()
            except Exception as error:  # a heartbeat must outlive any outage
                logger.debug("heartbeat skipped: %s", type(error).__name__)

    def _listen_for_heads(self, pool: str) -> None:
        """Hear when one of our tickets becomes the head, so it asks at once
        instead of at its next re-check (which stays, in case a message is lost)."""
        with self._live_lock:
            self._channels.setdefault(self.channel(pool), pool)
            if self._listener is None or not self._listener.is_alive():
                self._listener = threading.Thread(
                    target=self._listen, name="token-manager-heads", daemon=True
                )
                self._listener.start()

    def _listen(self) -> None:
        pubsub: Any = None
        subscribed: set[str] = set()
        while not self._stopped.is_set():
            try:
                if pubsub is None:
                    pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                    subscribed = set()
                with self._live_lock:
                    wanted = set(self._channels) - subscribed
                if wanted:
                    pubsub.subscribe(*wanted)
                    subscribed |= wanted
                message = pubsub.get_message(timeout=0.5)
                if message and message.get("type") == "message":
                    self._heard(_text(message["channel"]), _text(message["data"]))
            except Exception as error:  # a lost message costs one re-check
                logger.debug("head listener restarts: %s", type(error).__name__)
                pubsub = None
                self._stopped.wait(0.5)

    def _heard(self, channel: str, head: str) -> None:
        pool = self._channels.get(channel)
        callback = self.on_head
        if pool is not None and callback is not None and head.startswith(self.instance):
            callback(pool)

    def _beat_interval(self) -> float:
        windows = list(self._windows.values()) or [60.0]
        return min(short_lease(window) for window in windows) / 3

    def refresh_leases(self) -> None:
        """One heartbeat: renew this process's tickets and requests in flight."""
        with self._live_lock:
            pools = set(self._tickets) | {pool for pool, _ in self._in_flight.values()}
            plan = {
                pool: (
                    sorted(self._tickets.get(pool, ())),
                    [
                        (reservation_id, amounts)
                        for reservation_id, (held, amounts) in self._in_flight.items()
                        if held == pool
                    ],
                )
                for pool in pools
            }
        for pool, (tickets, flights) in plan.items():
            if not tickets and not flights:
                continue
            window = self._window(pool)
            args: list[Any] = [short_lease(window), self._flight_lease(window), window]
            args += [len(tickets), *tickets]
            for name in BUDGETS:
                members = [
                    f"{reservation_id}|{amounts.get(name, 0)}"
                    for reservation_id, amounts in flights
                ]
                args += [len(members), *members]
            self._run(
                self._refresh, keys=self.keys(pool) + self.queue_keys(pool), args=args
            )

    def _registry(self) -> str:
        return f"{self.prefix}:pools:{self.account}"

    # ---- calls -----------------------------------------------------------

    def _run(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except self._errors as error:
            raise StorageUnavailable(
                f"Redis is unavailable: {type(error).__name__}"
            ) from error

    def _remember(self, pool: str, limits: dict[str, int | None] | None = None) -> None:
        """The registry of pools, and the limits a status command shows."""
        if pool not in self._known:
            self._run(self._redis.sadd, self._registry(), pool)
            self._known[pool] = None
        if limits is not None and self._known[pool] != limits:
            self.record(pool, limits=limits)
            self._known[pool] = dict(limits)

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
        self._remember(pool, limits)
        self._windows[pool] = window
        reservation_id = f"{self.instance}.{uuid.uuid4().hex}"
        lease = self._flight_lease(window)
        member = ""
        if ticket is not None and self.fair_queue:
            member = self.ticket_member(ticket)
            with self._live_lock:
                self._tickets.setdefault(pool, set()).add(member)
            self._start_heartbeat()
            self._listen_for_heads(pool)
        args: list[Any] = [window, reservation_id, lease]
        for name in BUDGETS:
            limit = limits.get(name)
            args += [amounts.get(name, 0), -1 if limit is None else limit]
        args += [member, ticket.delay if ticket else 0.0, short_lease(window)]
        args += [self.channel(pool)]
        answer, value, key, order = self._run(
            self._reserve, keys=self.keys(pool) + self.queue_keys(pool), args=args
        )
        budget = _text(key).rsplit(":", 1)[-1] or None
        if int(answer) == 2:
            return Decision(None, behind=True, order=float(_text(order)))
        if int(answer) == -1:
            return Decision(None, budget=budget, too_large=True)
        if int(answer) != 1:
            return Decision(None, wait=float(_text(value)), budget=budget)
        with self._live_lock:
            self._tickets.get(pool, set()).discard(member)
            if self.fixed_lease is None:
                self._in_flight[reservation_id] = (pool, dict(amounts))
        if self.fixed_lease is None:
            self._start_heartbeat()
        return Decision(Handle(reservation_id, pool, dict(amounts), shared=True))

    def leave(self, pool: str, ticket: Ticket) -> None:
        member = self.ticket_member(ticket)
        with self._live_lock:
            self._tickets.get(pool, set()).discard(member)
        if self.fair_queue:
            self._run(
                self._leave,
                keys=self.queue_keys(pool),
                args=[member, self.channel(pool)],
            )

    def settle(self, handle: Handle, amounts: dict[str, int], now: float) -> None:
        with self._live_lock:
            self._in_flight.pop(handle.reservation_id, None)
        window = self._window(handle.pool)
        args: list[Any] = [
            max(window, self._flight_lease(window)),
            handle.reservation_id,
        ]
        for name in BUDGETS:
            old = handle.amounts.get(name, 0)
            args += [old, amounts.get(name, old)]
        self._run(self._settle, keys=self.keys(handle.pool), args=args)

    def waiting(self, pool: str) -> int:
        """Live tickets in the pool's queue, every process's."""
        return int(self._run(self._queue_length, keys=self.queue_keys(pool), args=[]))

    def usage(self, pool: str, window: float, now: float) -> dict[str, int]:
        totals = self._run(self._usage, keys=self.keys(pool), args=[window])
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
        return int(self._run(self._ceiling, keys=[key], args=args))

    def pools(self) -> list[str]:
        members = self._run(self._redis.smembers, self._registry())
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
            self._run(self._redis.hset, key, mapping=fields)
        if rate_limited:
            self._run(self._redis.hincrby, key, "rate_limited", rate_limited)

    def report(self, pool: str, window: float, now: float) -> PoolReport:
        stats = {
            _text(name): _text(value)
            for name, value in self._run(
                self._redis.hgetall, self._stats_key(pool)
            ).items()
        }
        limits: dict[str, int | None] = {}
        for name in BUDGETS:
            raw = stats.get(f"limit:{name}")
            limits[name] = None if raw is None or int(raw) < 0 else int(raw)
        return PoolReport(
            pool=pool,
            usage=self.usage(pool, window, now),
            limits=limits,
            waiters=self.waiting(pool)
            if self.fair_queue
            else sum(int(v) for k, v in stats.items() if k.startswith("waiters:")),
            rate_limited=int(stats.get("rate_limited", 0)),
        )
