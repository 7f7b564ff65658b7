"""Where charges live: this process's memory, or Redis shared by many processes.

Storage only records and checks; waiting, fairness and estimates live above it.
The Redis script is atomic, so two processes can never both take the last slot.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from .window import Entry, SlidingWindow, seconds_until_fits

logger = logging.getLogger(__name__)

BUDGETS = ("requests", "input_tokens", "output_tokens")


class StorageUnavailable(Exception):
    """The shared store cannot be reached; the caller falls back to local limiting."""


@dataclass
class Handle:
    """What a storage needs to find a reservation again."""

    reservation_id: str
    amounts: dict[str, int]
    entries: dict[str, Entry] = field(default_factory=dict)
    score: float | None = None


class Storage(Protocol):
    def try_reserve(
        self,
        amounts: dict[str, int],
        limits: dict[str, int | None],
        window: float,
        now: float,
    ) -> tuple[Handle | None, float, str | None]:
        """Charge all amounts at once if every budget admits them; else the wait and why."""

    def adjust(self, handle: Handle, amounts: dict[str, int], now: float) -> None:
        """Replace a reservation's amounts (real usage known, or released)."""

    def usage(self, window: float, now: float) -> dict[str, int]:
        """Per budget, what the current window holds."""

    def add_ceiling(
        self, budget: str, amount: int, expires_in: float, window: float, now: float
    ) -> None:
        """Charge a phantom amount that expires in `expires_in` s (the server says less remains)."""


class MemoryStorage:
    """One process's windows. Not locked: the TokenManager holds its lock around calls."""

    def __init__(self, window: float) -> None:
        self.windows = {name: SlidingWindow(window) for name in BUDGETS}

    def resize(self, window: float) -> None:
        for sliding in self.windows.values():
            sliding.window = window

    def try_reserve(
        self,
        amounts: dict[str, int],
        limits: dict[str, int | None],
        window: float,
        now: float,
    ) -> tuple[Handle | None, float, str | None]:
        wait, binding = seconds_until_fits(self.windows, amounts, limits, now)
        if wait > 0:
            return None, wait, binding
        return self.record(amounts, now), 0.0, None

    def record(
        self, amounts: dict[str, int], now: float, reservation_id: str | None = None
    ) -> Handle:
        """Charge without checking (a mirror of what the shared store granted)."""
        handle = Handle(reservation_id or uuid.uuid4().hex, dict(amounts))
        for name, amount in amounts.items():
            handle.entries[name] = self.windows[name].charge(now, amount)
        return handle

    def adjust(self, handle: Handle, amounts: dict[str, int], now: float) -> None:
        for name, amount in amounts.items():
            entry = handle.entries.get(name)
            if entry is not None:
                self.windows[name].adjust(entry, amount)
        handle.amounts.update(amounts)

    def usage(self, window: float, now: float) -> dict[str, int]:
        return {name: sliding.used(now) for name, sliding in self.windows.items()}

    def next_expiry(self, now: float) -> float | None:
        """Seconds until the oldest charge in any budget stops counting."""
        times = [
            sliding.entries[0].at + sliding.window - now
            for sliding in self.windows.values()
            if sliding.entries
        ]
        return max(0.0, min(times)) if times else None

    def add_ceiling(
        self, budget: str, amount: int, expires_in: float, window: float, now: float
    ) -> None:
        if amount > 0:
            self.windows[budget].charge(now, amount, at=now + expires_in - window)


# Members are "<id>|<amount>" scored by the time they were charged (Redis TIME).
_SUM_AND_WAIT = """
local function amount_of(member) return tonumber(string.match(member, '|(%-?%d+)$')) end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1])
"""

RESERVE_SCRIPT = (
    _SUM_AND_WAIT
    + """
local id = ARGV[2]
local wait, binding = 0, ''
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local amount = tonumber(ARGV[1 + 2 * i])
  local limit = tonumber(ARGV[2 + 2 * i])
  if limit >= 0 then
    local members = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
    local total = 0
    for j = 1, #members, 2 do total = total + amount_of(members[j]) end
    local excess = total + amount - limit
    if excess > 0 then
      local freed = 0
      for j = 1, #members, 2 do
        freed = freed + amount_of(members[j])
        if freed >= excess then
          local until_free = tonumber(members[j + 1]) + window - now
          if until_free > wait then wait, binding = until_free, key end
          break
        end
      end
    end
  end
end
if wait > 0 then return {0, tostring(wait), binding} end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, id .. '|' .. ARGV[1 + 2 * i])
  redis.call('PEXPIRE', key, math.ceil(window * 1000) + 1000)
end
return {1, tostring(now), ''}
"""
)

ADJUST_SCRIPT = """
local id, score = ARGV[1], ARGV[2]
for i, key in ipairs(KEYS) do
  local old = id .. '|' .. ARGV[1 + 2 * i]
  if redis.call('ZREM', key, old) == 1 then
    redis.call('ZADD', key, score, id .. '|' .. ARGV[2 + 2 * i])
  end
end
return 1
"""

USAGE_SCRIPT = (
    _SUM_AND_WAIT
    + """
local totals = {}
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local members = redis.call('ZRANGE', key, 0, -1)
  local total = 0
  for j = 1, #members do total = total + amount_of(members[j]) end
  totals[i] = total
end
return totals
"""
)

CEILING_SCRIPT = (
    _SUM_AND_WAIT
    + """
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]) - window, 'ceiling:' .. ARGV[3] .. '|' .. ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
return 1
"""
)


class RedisStorage:
    """A budget shared by every process that uses the same Redis and key prefix."""

    def __init__(
        self, url: str, prefix: str = "token-manager", client: Any | None = None
    ) -> None:
        import redis

        self._redis = client or redis.Redis.from_url(
            url, socket_timeout=2.0, socket_connect_timeout=2.0
        )
        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self.keys = [f"{prefix}:{name}" for name in BUDGETS]
        self._reserve = self._redis.register_script(RESERVE_SCRIPT)
        self._adjust = self._redis.register_script(ADJUST_SCRIPT)
        self._usage = self._redis.register_script(USAGE_SCRIPT)
        self._ceiling = self._redis.register_script(CEILING_SCRIPT)

    def _call(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        try:
            return script(keys=keys, args=args)
        except self._errors as error:
            raise StorageUnavailable(
                f"Redis is unavailable: {type(error).__name__}"
            ) from error

    def try_reserve(
        self,
        amounts: dict[str, int],
        limits: dict[str, int | None],
        window: float,
        now: float,
    ) -> tuple[Handle | None, float, str | None]:
        reservation_id = uuid.uuid4().hex
        args: list[Any] = [window, reservation_id]
        for name in BUDGETS:
            limit = limits.get(name)
            args += [amounts.get(name, 0), -1 if limit is None else limit]
        granted, value, binding = self._call(self._reserve, self.keys, args)
        if int(granted) != 1:
            name = binding.decode() if isinstance(binding, bytes) else str(binding)
            return None, float(value), name.rsplit(":", 1)[-1]
        return Handle(reservation_id, dict(amounts), score=float(value)), 0.0, None

    def adjust(self, handle: Handle, amounts: dict[str, int], now: float) -> None:
        args: list[Any] = [handle.reservation_id, handle.score]
        for name in BUDGETS:
            old = handle.amounts.get(name, 0)
            args += [old, amounts.get(name, old)]
        self._call(self._adjust, self.keys, args)
        handle.amounts.update(amounts)

    def usage(self, window: float, now: float) -> dict[str, int]:
        totals = self._call(self._usage, self.keys, [window])
        return {name: int(total) for name, total in zip(BUDGETS, totals, strict=True)}

    def add_ceiling(
        self, budget: str, amount: int, expires_in: float, window: float, now: float
    ) -> None:
        if amount > 0:
            key = self.keys[BUDGETS.index(budget)]
            self._call(
                self._ceiling, [key], [window, expires_in, uuid.uuid4().hex, amount]
            )
