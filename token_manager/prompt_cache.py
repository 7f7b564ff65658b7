"""Predicts which prefix of a request the API will read from its prompt cache.

Pure: every call takes `now`; no I/O, no locks (the manager holds its lock).
It errs towards "not cached": a prefix counts only while safely inside its
TTL and at least the model's minimum cacheable length, and a conversation
whose predicted hit missed predicts nothing until a real hit is seen again.

As the server keeps it (prompt-caching docs,
https://platform.claude.com/docs/en/build-with-claude/prompt-caching): a cache
belongs to one model and one organisation, so entries are kept per `scope`
(`cache_scope`: the model and the API key's tag); an entry lives its
breakpoint's TTL from when the server received the request that wrote or
read it, so the caller passes the time the request was admitted, never the
time its response ended.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from .model_table import model_facts

TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}
SAFETY_SHARE = 0.1  # of the TTL: the request may reach the server that much later
MAX_PREFIXES = 4096


@dataclass(frozen=True)
class Breakpoint:
    """A `cache_control` mark: the prefix up to it, its size and lifetime."""

    key: str  # fingerprint of everything up to and including the marked block
    tokens: int  # estimated tokens of that prefix
    ttl: float  # seconds


def cache_scope(model: str | None, account: str = "") -> str:
    """Whose cache a request reads: one model (any spelling of it) of one account."""
    facts = model_facts(model)
    name = facts.key if facts else (model or "").strip().lower()
    return f"{account}/{name}"


def ttl_seconds(cache_control: object) -> float:
    ttl = cache_control.get("ttl") if isinstance(cache_control, dict) else None
    return TTL_SECONDS.get(str(ttl), TTL_SECONDS["5m"]) if ttl else TTL_SECONDS["5m"]


class PromptCacheModel:
    """What the server's cache holds, as far as this process can tell."""

    def __init__(self, safety_share: float = SAFETY_SHARE) -> None:
        self._safety = safety_share
        # (scope, prefix key) -> (cached until, ttl, the prefix's real tokens)
        self._cached: OrderedDict[tuple[str, str], tuple[float, float, int]] = (
            OrderedDict()
        )
        self._distrusted: OrderedDict[tuple[str, str], None] = OrderedDict()

    def prediction(
        self,
        scope: str,
        conversation: str,
        breakpoints: Sequence[Breakpoint],
        min_tokens: int,
        now: float,
    ) -> tuple[int, float]:
        """Tokens the server will read from cache, and until when that holds:
        the longest marked prefix still safely cached, or (0, inf). A prefix's
        size is what the server measured when it was cached (never more than
        estimated now)."""
        if (scope, conversation) in self._distrusted:
            return 0, math.inf
        best, until = 0, math.inf
        for point in breakpoints:
            found = self._cached.get((scope, point.key))
            if found is None:
                continue
            safe_until = found[0] - self._safety * found[1]
            tokens = min(point.tokens, found[2])
            if now < safe_until and tokens >= min_tokens and tokens > best:
                best, until = tokens, safe_until
        return best, until

    def observe(
        self,
        scope: str,
        conversation: str,
        breakpoints: Sequence[Breakpoint],
        min_tokens: int,
        predicted_cached: int,
        cache_read: int,
        cache_written: int,
        now: float,
    ) -> None:
        """Learn from a response's usage: what it read and wrote is cached anew,
        from `now`, the time the request was admitted."""
        key = (scope, conversation)
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
                self._cached[(scope, point.key)] = (now + point.ttl, point.ttl, real)
                self._cached.move_to_end((scope, point.key))
        while len(self._cached) > MAX_PREFIXES:
            self._cached.popitem(last=False)

    def forget(self) -> None:
        self._cached.clear()
        self._distrusted.clear()
