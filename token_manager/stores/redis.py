"""A budget shared by every process that uses the same Redis (or Redis Cluster).

Keys: `<prefix>:{<pool>:<account>}:<budget>`; `<account>` is a short hash of
the API key, never the key. One pool's keys share the `{...}` hash tag, so
every script runs in one Cluster slot. Errors become `StorageUnavailable`
(never with the URL: it may carry a password).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Any

from ..budgets import BUDGETS, Budget
from ..window import DEFAULT_LEASE_SECONDS
from . import redis_scripts
from .base import Decision, Handle, PoolReport, StorageUnavailable

CLUSTER_SCHEME = "redis+cluster://"


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
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        client: Any | None = None,
    ) -> None:
        import redis

        self.cluster = is_cluster_url(url, cluster)
        self._redis = client or _connect(url, self.cluster)
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.prefix, self.account, self.lease = prefix, account, lease_seconds
        self._instance = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._known: set[str] = set()
        self._reserve = self._redis.register_script(redis_scripts.RESERVE)
        self._settle = self._redis.register_script(redis_scripts.SETTLE)
        self._usage = self._redis.register_script(redis_scripts.USAGE)
        self._ceiling = self._redis.register_script(redis_scripts.CEILING)

    # ---- keys ------------------------------------------------------------

    def tag(self, pool: str) -> str:
        return f"{self.prefix}:{{{pool}:{self.account}}}"

    def keys(self, pool: str) -> list[str]:
        """The budget keys of one pool, in `BUDGETS` order (one hash tag)."""
        return [f"{self.tag(pool)}:{name}" for name in BUDGETS]

    def _stats_key(self, pool: str) -> str:
        return f"{self.tag(pool)}:stats"

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

    def _remember(self, pool: str) -> None:
        if pool not in self._known:
            self._run(self._redis.sadd, self._registry(), pool)
            self._known.add(pool)

    def try_reserve(
        self,
        pool: str,
        amounts: dict[str, int],
        limits: dict[str, int | None],
        window: float,
        now: float,
    ) -> Decision:
        self._remember(pool)
        reservation_id = uuid.uuid4().hex
        args: list[Any] = [window, reservation_id, self.lease]
        for name in BUDGETS:
            limit = limits.get(name)
            args += [amounts.get(name, 0), -1 if limit is None else limit]
        answer, value, key = self._run(self._reserve, keys=self.keys(pool), args=args)
        budget = _text(key).rsplit(":", 1)[-1] or None
        if int(answer) == -1:
            return Decision(None, budget=budget, too_large=True)
        if int(answer) != 1:
            return Decision(None, wait=float(_text(value)), budget=budget)
        return Decision(Handle(reservation_id, pool, dict(amounts), shared=True))

    def settle(self, handle: Handle, amounts: dict[str, int], now: float) -> None:
        args: list[Any] = [self.lease, handle.reservation_id]
        for name in BUDGETS:
            old = handle.amounts.get(name, 0)
            args += [old, amounts.get(name, old)]
        self._run(self._settle, keys=self.keys(handle.pool), args=args)

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
            fields[f"waiters:{self._instance}"] = waiters
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
            waiters=sum(int(v) for k, v in stats.items() if k.startswith("waiters:")),
            rate_limited=int(stats.get("rate_limited", 0)),
        )
