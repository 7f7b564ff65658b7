"""The daily spend of an API key, shared by every process on one Redis.

Per day, three keys with one hash tag (so a Redis Cluster keeps them in one
slot) and a two-day expiry: the total (spent plus every hold in flight, in
nano-dollars) that the cap is checked against atomically, the holds in flight
by id, and what each pool really spent. A hold whose reserve timed out is
cancelled by id once Redis answers: if the reserve landed, it is taken back;
if it lands later, a tombstone makes it a no-op. The caller runs this off the
event loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

EXPIRE_SECONDS = 2 * 24 * 3600

# KEYS total, holds, tombstones; ARGV cap, amount, hold id, expiry.
# {0, total}: refused (nothing changed); {1, total}: held; {2, total}: cancelled.
RESERVE = """
if redis.call('HEXISTS', KEYS[3], ARGV[3]) == 1 then
  return {2, tonumber(redis.call('GET', KEYS[1]) or '0')}
end
local total = tonumber(redis.call('GET', KEYS[1]) or '0')
local amount = tonumber(ARGV[2])
if total + amount > tonumber(ARGV[1]) then
  return {0, total}
end
total = redis.call('INCRBY', KEYS[1], amount)
redis.call('HSET', KEYS[2], ARGV[3], amount)
for _, key in ipairs(KEYS) do redis.call('EXPIRE', key, ARGV[4]) end
return {1, total}
"""

# KEYS total, holds, pools; ARGV hold id, real cost (-1: given back), pool, expiry.
SETTLE = """
local held = redis.call('HGET', KEYS[2], ARGV[1])
if not held then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
local real = tonumber(ARGV[2])
if real < 0 then real = 0 end
redis.call('INCRBY', KEYS[1], real - tonumber(held))
if real > 0 then
  redis.call('HINCRBY', KEYS[3], ARGV[3], real)
  redis.call('EXPIRE', KEYS[3], ARGV[4])
end
return 1
"""

# KEYS total, holds, tombstones; ARGV hold id, expiry.
CANCEL = """
local held = redis.call('HGET', KEYS[2], ARGV[1])
if held then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('INCRBY', KEYS[1], -tonumber(held))
  return 1
end
redis.call('HSET', KEYS[3], ARGV[1], 1)
redis.call('EXPIRE', KEYS[3], ARGV[2])
return 0
"""

# KEYS pools; ARGV pool, real cost, expiry: what a request without a hold spent.
RECORD = """
redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


SCRIPTS = {"reserve": RESERVE, "settle": SETTLE, "cancel": CANCEL, "record": RECORD}


class RedisDaySpend:
    """`connect` makes the client on first use (a Cluster client connects at
    once, and a process must start while Redis is away)."""

    def __init__(self, connect: Callable[[], Any], prefix: str) -> None:
        self._connect = connect
        self._prefix = prefix
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def _redis(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _script(self, name: str) -> Any:
        return self._redis.register_script(SCRIPTS[name])

    def _keys(self, key: str, *kinds: str) -> list[str]:
        return [f"{self._prefix}:spend-{kind}:{{{key}}}" for kind in kinds]

    def reserve(
        self, key: str, cap: int, amount: int, hold_id: str
    ) -> tuple[bool, int]:
        outcome, total = self._script("reserve")(
            keys=self._keys(key, "total", "holds", "cancelled"),
            args=[cap, amount, hold_id, EXPIRE_SECONDS],
        )
        return int(outcome) == 1, int(total)

    def settle(self, key: str, hold_id: str, pool: str, real: int) -> None:
        """Replace a hold by its real cost (-1: give it back)."""
        self._script("settle")(
            keys=self._keys(key, "total", "holds", "pools"),
            args=[hold_id, real, pool, EXPIRE_SECONDS],
        )

    def cancel(self, key: str, hold_id: str) -> None:
        """Take back a hold whose reserve may or may not have landed."""
        self._script("cancel")(
            keys=self._keys(key, "total", "holds", "cancelled"),
            args=[hold_id, EXPIRE_SECONDS],
        )

    def record(self, key: str, pool: str, real: int) -> None:
        if real > 0:
            self._script("record")(
                keys=self._keys(key, "pools"), args=[pool, real, EXPIRE_SECONDS]
            )

    def read(self, key: str) -> tuple[int, dict[str, int]]:
        total_key, pools_key = self._keys(key, "total", "pools")
        total = int(self._redis.get(total_key) or 0)
        pools = self._redis.hgetall(pools_key) or {}
        return total, {_text(name): int(value) for name, value in pools.items()}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
