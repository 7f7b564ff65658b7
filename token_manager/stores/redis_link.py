"""The connection to Redis (or a Redis Cluster): its keys, its scripts, its
health. Errors become `StorageUnavailable` (never with the URL: it may carry a
password).

Keys: `<prefix>:{<pool>:<account>}:<name>`; `<account>` is a short hash of
the API key, never the key. One pool's keys share the `{...}` hash tag, so
every script runs in one Cluster slot.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ..budgets import BUDGETS
from . import redis_scripts
from .base import StorageUnavailable, Ticket

CLUSTER_SCHEME = "redis+cluster://"
T = TypeVar("T")


def account_tag(api_key: str | None) -> str:
    """A short, one-way name for the API key's organisation (never the key)."""
    if not api_key:
        return "anonymous"
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]


def is_cluster_url(url: str, cluster: bool | None = None) -> bool:
    return bool(cluster) or url.startswith(CLUSTER_SCHEME)


def text(value: Any) -> str:
    """A reply item as text (the client answers bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def connect(url: str, cluster: bool) -> Any:
    """A client of plain Redis or of a Cluster, with short socket timeouts."""
    import redis

    options: dict[str, Any] = {"socket_timeout": 2.0, "socket_connect_timeout": 2.0}
    if cluster:
        from redis.cluster import RedisCluster

        plain = "redis://" + url.removeprefix(CLUSTER_SCHEME).removeprefix("redis://")
        return RedisCluster.from_url(plain, **options)
    return redis.Redis.from_url(url, **options)


class PoolKeys:
    """The names of a pool's keys, for one prefix, account and instance."""

    def __init__(self, prefix: str, account: str, instance: str) -> None:
        self.prefix, self.account, self.instance = prefix, account, instance

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

    def every_key(self, pool: str) -> list[str]:
        """What RESERVE and REFRESH touch: budgets, queue, live, learned."""
        found = self.keys(pool) + self.queue_keys(pool) + self.live_keys(pool)
        return [*found, self.learned_key(pool)]

    def channel(self, pool: str) -> str:
        """Where the scripts announce a pool's new head (a ticket ahead left)."""
        return f"{self.tag(pool)}:head"

    def ticket_member(self, ticket: Ticket) -> str:
        """A ticket as Redis holds it: named after this process's instance."""
        return f"{self.instance}.{ticket.ticket_id}"

    def stats_key(self, pool: str) -> str:
        return f"{self.tag(pool)}:stats"

    def registry(self) -> str:
        return f"{self.prefix}:pools:{self.account}"


class RedisLink:
    """One client, made on first use (so a server that cannot be reached at
    start is only an outage), and whether Redis answered last."""

    def __init__(self, url: str, cluster: bool, client: Any | None) -> None:
        import redis
        from redis.exceptions import RedisClusterException

        self._url, self._cluster, self._client = url, cluster, client
        self._errors: tuple[type[BaseException], ...] = (
            redis.RedisError,
            RedisClusterException,
            OSError,
        )
        self._scripts: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.healthy, self.came_back = True, False

    def connection(self) -> Any:
        """The Redis client (may raise the client's errors)."""
        with self._lock:
            if self._client is None:
                self._client = connect(self._url, self._cluster)
            return self._client

    def _script(self, name: str) -> Any:
        found = self._scripts.get(name)
        if found is None:
            found = self._scripts[name] = self.connection().register_script(
                getattr(redis_scripts, name)
            )
        return found

    def run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        """One script, its errors as StorageUnavailable."""
        return self.call(lambda _: self._script(script)(keys=keys, args=args))

    def call(self, call: Callable[[Any], T]) -> T:
        try:
            result = call(self.connection())
        except self._errors as error:
            self.healthy = False
            raise StorageUnavailable(
                f"Redis is unavailable: {type(error).__name__}"
            ) from error
        if not self.healthy:
            self.healthy, self.came_back = True, True
        return result

    def server_id(self) -> str:
        """Which redis-server answers: its run id, new at every start (with its
        data or not); a Cluster's, every node's. Raises StorageUnavailable.

        INFO's `run_id`: "random value identifying the Redis server"
        (https://redis.io/docs/latest/commands/info/), drawn at start-up."""
        found = self.call(lambda redis: redis.info("server"))
        if isinstance(found, dict) and "run_id" in found:
            return str(found["run_id"])
        nodes = found.values() if isinstance(found, dict) else ()
        return ",".join(
            sorted(str(node.get("run_id")) for node in nodes if isinstance(node, dict))
        )

    def take_came_back(self) -> bool:
        """Whether Redis answered again since it last failed (once)."""
        came_back, self.came_back = self.came_back, False
        return came_back
