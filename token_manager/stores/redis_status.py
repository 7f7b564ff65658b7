"""What a status command reads of the shared store: the registry of pools,
each pool's limits, waiters and 429s, and its usage. I/O: raises
StorageUnavailable."""

from __future__ import annotations

from typing import Any

from ..budgets import BUDGETS
from .base import PoolReport, Stats
from .redis_link import PoolKeys, RedisLink, text


class RedisStatus:
    def __init__(self, link: RedisLink, keys: PoolKeys, *, fair_queue: bool) -> None:
        self._link, self._keys, self.fair_queue = link, keys, fair_queue
        self.known: dict[str, dict[str, int | None] | None] = {}  # pool -> limits

    def remember(self, pool: str, limits: dict[str, int | None] | None = None) -> None:
        """The registry of pools, and the limits a status command shows."""
        if pool not in self.known:
            self._link.call(lambda redis: redis.sadd(self._keys.registry(), pool))
            self.known[pool] = None
        if limits is not None and self.known[pool] != limits:
            self.keep(Stats(pool, limits=limits))
            self.known[pool] = dict(limits)

    def keep(self, stats: Stats) -> None:
        self.remember(stats.pool)
        key = self._keys.stats_key(stats.pool)
        fields: dict[str, Any] = {}
        if stats.limits is not None:
            fields |= {
                f"limit:{name}": -1 if value is None else value
                for name, value in stats.limits.items()
            }
        if stats.waiters is not None:
            fields[f"waiters:{self._keys.instance}"] = stats.waiters
        if fields:
            self._link.call(lambda redis: redis.hset(key, mapping=fields))
        if stats.rate_limited:
            increment = stats.rate_limited
            self._link.call(lambda redis: redis.hincrby(key, "rate_limited", increment))

    def pools(self) -> list[str]:
        members = self._link.call(lambda redis: redis.smembers(self._keys.registry()))
        return sorted(text(member) for member in members)

    def waiting(self, pool: str) -> int:
        """Live tickets in the pool's queue, every process's."""
        return int(self._link.run("QUEUE_LENGTH", self._keys.queue_keys(pool), []))

    def usage(self, pool: str, window: float) -> dict[str, int]:
        totals = self._link.run("USAGE", self._keys.keys(pool), [window])
        return {name: int(total) for name, total in zip(BUDGETS, totals, strict=True)}

    def report(self, pool: str, window: float) -> PoolReport:
        stats = {
            text(name): text(value)
            for name, value in self._link.call(
                lambda redis: redis.hgetall(self._keys.stats_key(pool))
            ).items()
        }
        limits: dict[str, int | None] = {}
        for name in BUDGETS:
            raw = stats.get(f"limit:{name}")
            limits[name] = None if raw is None or int(raw) < 0 else int(raw)
        if self.fair_queue:
            waiters = self.waiting(pool)
        else:  # each live process says how many of its callers wait
            live = self._link.call(
                lambda redis: redis.zrange(self._keys.live_keys(pool)[0], 0, -1)
            )
            waiters = sum(
                int(stats.get(f"waiters:{text(instance)}", 0)) for instance in live
            )
        return PoolReport(
            pool=pool,
            usage=self.usage(pool, window),
            limits=limits,
            waiters=waiters,
            rate_limited=int(stats.get("rate_limited", 0)),
        )
