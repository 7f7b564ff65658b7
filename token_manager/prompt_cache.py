"""Predicts which prefix of a request the API will read from its prompt cache.

Pure: every call takes `now`; no I/O, no locks (the manager holds its lock).
It errs towards "not cached": a prefix counts only while safely inside its
TTL and at least the model's minimum cacheable length, and a conversation
whose predicted hit missed predicts nothing until a real hit is seen again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}
SAFETY_SHARE = 0.1  # of the TTL: the request may reach the server that much later
MAX_PREFIXES = 4096


@dataclass(frozen=True)
class Breakpoint:
    """A `cache_control` mark: the prefix up to it, its size and lifetime."""

    key: str  # fingerprint of everything up to and including the marked block
    tokens: int  # estimated tokens of that prefix
    ttl: float  # seconds


def ttl_seconds(cache_control: object) -> float:
    ttl = cache_control.get("ttl") if isinstance(cache_control, dict) else None
    return TTL_SECONDS.get(str(ttl), TTL_SECONDS["5m"]) if ttl else TTL_SECONDS["5m"]


class PromptCacheModel:
    """What the server's cache holds, as far as this process can tell."""

    def __init__(self, safety_share: float = SAFETY_SHARE) -> None:
        self._safety = safety_share
        # (pool, prefix key) -> (cached until, ttl, the prefix's real tokens)
        self._cached: OrderedDict[tuple[str, str], tuple[float, float, int]] = (
            OrderedDict()
        )
        self._distrusted: OrderedDict[tuple[str, str], None] = OrderedDict()

    def predict(
        self,
        pool: str,
        conversation: str,
        breakpoints: Sequence[Breakpoint],
        min_tokens: int,
        now: float,
    ) -> int:
        """Tokens the server will read from cache: the longest marked prefix still
        safely cached, or 0. A prefix's size is what the server measured when it
        was cached (never more than estimated now)."""
        if (pool, conversation) in self._distrusted:
            return 0
        best = 0
        for point in breakpoints:
            found = self._cached.get((pool, point.key))
            if found is None or now + self._safety * found[1] >= found[0]:
                continue
            tokens = min(point.tokens, found[2])
            if tokens >= min_tokens:
                best = max(best, tokens)
        return best

    def observe(
        self,
        pool: str,
        conversation: str,
        breakpoints: Sequence[Breakpoint],
        min_tokens: int,
        predicted_cached: int,
        cache_read: int,
        cache_written: int,
        now: float,
    ) -> None:
        """Learn from a response's usage: what it read and wrote is cached anew."""
        key = (pool, conversation)
        if cache_read > 0:
            self._distrusted.pop(key, None)
        elif predicted_cached > 0:
            self._distrusted[key] = None
            while len(self._distrusted) > MAX_PREFIXES:
                self._distrusted.popitem(last=False)
        if (cache_read <= 0 and cache_written <= 0) or not breakpoints:
            return  # caching was off, or every prefix was too short
        # Read + written is the server's size of the prefix up to the last mark;
        # earlier marks are scaled by the same measure.
        measured = cache_read + cache_written
        scale = measured / max(1, max(point.tokens for point in breakpoints))
        for point in breakpoints:
            real = round(point.tokens * scale)
            if real >= min_tokens:
                self._cached[(pool, point.key)] = (now + point.ttl, point.ttl, real)
                self._cached.move_to_end((pool, point.key))
        while len(self._cached) > MAX_PREFIXES:
            self._cached.popitem(last=False)

    def forget(self) -> None:
        self._cached.clear()
        self._distrusted.clear()
