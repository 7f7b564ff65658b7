"""The server's prompt cache: prefixes up to `cache_control` breakpoints, with TTLs.

Pure: the time is always a parameter. Rules followed (prompt-caching docs):
- the prompt is read as blocks in the order tools -> system -> messages; a
  breakpoint caches the prefix up to and including its block;
- at most 4 breakpoints per request (a 5th is a 400);
- a lookup checks, at each breakpoint, the prefix ending there and at each of the
  20 block boundaries before it, and reads the longest live one it finds;
- a prefix shorter than the model's minimum cacheable length is never cached;
- an entry lives 5 minutes, or 1 hour when its breakpoint asked `"ttl": "1h"`,
  counted again from every hit; the cache holds at most `max_entries` (LRU).
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .counting import TokenCounter
from .validation import invalid

MAX_BREAKPOINTS = 4
LOOKBACK_BLOCKS = 20
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


@dataclass(frozen=True)
class PromptBlock:
    """One block of the prompt as the cache sees it."""

    tokens: int
    identity: str  # what the block is, without any cache_control
    ttl: float | None  # the TTL its breakpoint asks for; None: no breakpoint


@dataclass(frozen=True)
class CacheUsage:
    input_tokens: int  # after the last cache read or write
    cache_creation_input_tokens: int
    cache_read_input_tokens: int

    @property
    def total(self) -> int:
        return (
            self.input_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )


@dataclass(frozen=True)
class CachePlan:
    """A lookup's outcome, applied by `commit` only if the request is processed."""

    usage: CacheUsage
    read_key: str | None
    writes: tuple[tuple[str, int, float], ...]


@dataclass
class _Entry:
    tokens: int
    ttl: float
    expires_at: float


class PromptCache:
    """Prefixes that earlier requests wrote, keyed by a hash of (model, blocks)."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def use(
        self,
        model: str,
        blocks: list[PromptBlock],
        *,
        min_tokens: int,
        now: float,
    ) -> CacheUsage:
        """Look up and commit at once (a request the server processes)."""
        plan = self.look(model, blocks, min_tokens=min_tokens, now=now)
        self.commit(plan, now)
        return plan.usage

    def look(
        self,
        model: str,
        blocks: list[PromptBlock],
        *,
        min_tokens: int,
        now: float,
    ) -> CachePlan:
        """What this request would read and write; changes nothing but expiry.

        The read is the longest live prefix found at a breakpoint or up to 20
        blocks before it; the write reaches the last breakpoint long enough to cache."""
        keys, ends = _prefix_keys(model, blocks)
        total = ends[-1] if ends else 0
        breakpoints = [index for index, block in enumerate(blocks) if block.ttl]
        read_at = -1  # index of the last block of the prefix read
        for point in breakpoints:
            for index in range(point, max(-1, point - LOOKBACK_BLOCKS - 1), -1):
                if index <= read_at:
                    break
                if self._live(keys[index], now) is not None:
                    read_at = index
                    break
        read = ends[read_at] if read_at >= 0 else 0
        written = read
        writes: list[tuple[str, int, float]] = []
        for point in breakpoints:
            if ends[point] < min_tokens:
                continue  # too short to cache: silently not cached
            if point > read_at:
                written = max(written, ends[point])
            writes.append((keys[point], ends[point], float(blocks[point].ttl or 0)))
        return CachePlan(
            usage=CacheUsage(
                input_tokens=total - written,
                cache_creation_input_tokens=written - read,
                cache_read_input_tokens=read,
            ),
            read_key=keys[read_at] if read_at >= 0 else None,
            writes=tuple(writes),
        )

    def commit(self, plan: CachePlan, now: float) -> None:
        """The request was processed: its hit is refreshed, its breakpoints written."""
        if plan.read_key is not None:
            entry = self._entries.get(plan.read_key)
            if entry is not None:
                entry.expires_at = max(entry.expires_at, now + entry.ttl)
                self._entries.move_to_end(plan.read_key)
        for key, tokens, ttl in plan.writes:
            self._store(key, tokens, ttl, now)

    def _live(self, key: str, now: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at <= now:
            del self._entries[key]
            return None
        return entry

    def _store(self, key: str, tokens: int, ttl: float, now: float) -> None:
        entry = self._entries.get(key)
        if entry is not None:
            entry.ttl = max(entry.ttl, ttl)
            entry.expires_at = max(entry.expires_at, now + ttl)
            self._entries.move_to_end(key)
            return
        self._entries[key] = _Entry(tokens=tokens, ttl=ttl, expires_at=now + ttl)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)


def _prefix_keys(model: str, blocks: list[PromptBlock]) -> tuple[list[str], list[int]]:
    """For each block: the hash of the prefix ending with it, and its token count."""
    digest = hashlib.sha256(model.encode())
    keys: list[str] = []
    ends: list[int] = []
    running = 0
    for block in blocks:
        digest.update(block.identity.encode())
        running += block.tokens
        keys.append(digest.copy().hexdigest())
        ends.append(running)
    return keys, ends


# ---- reading a request body into blocks ---------------------------------------


def prompt_blocks(body: dict[str, Any], counter: TokenCounter) -> list[PromptBlock]:
    """The request as an ordered list of blocks; raises a 400 above 4 breakpoints.

    Their tokens add up to what the server counts for the whole request."""
    marks = sum(1 for _ in _marks(body))
    if marks > MAX_BREAKPOINTS:
        raise invalid(
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be "
            f"provided. Found {marks}."
        )
    blocks: list[PromptBlock] = []
    for tool in body.get("tools") or []:
        if isinstance(tool, dict):
            identity = _identity(("tool", tool))
            blocks.append(
                PromptBlock(
                    counter.tool_tokens(identity, tool), identity, _ttl_of(tool)
                )
            )
    system = body.get("system")
    if isinstance(system, str) and system:
        blocks.append(
            PromptBlock(counter.text(system), _identity(("system", system)), None)
        )
    elif isinstance(system, list):
        for item in system:
            identity = _identity(("system", item))
            blocks.append(
                PromptBlock(
                    counter.block_tokens(identity, item), identity, _ttl_of(item)
                )
            )
    for message in body.get("messages") or []:
        role = message.get("role")
        content = message.get("content")
        items = [content] if isinstance(content, str) else list(content or [])
        for position, item in enumerate(items):
            identity = _identity((role, position == 0, item))
            tokens = counter.block_tokens(identity, item)
            if position == 0:
                tokens += counter.message_overhead
            blocks.append(PromptBlock(tokens, identity, _ttl_of(item)))
        if not items:
            blocks.append(
                PromptBlock(
                    counter.message_overhead, _identity((role, True, None)), None
                )
            )
    return blocks


def _identity(value: Any) -> str:
    return json.dumps(_strip(value), sort_keys=True, separators=(",", ":"))


def _marks(body: dict[str, Any]) -> Iterator[Any]:
    """Every cache_control in the request (tools, system, message blocks, tool_result items)."""
    containers: list[Any] = list(body.get("tools") or [])
    if isinstance(body.get("system"), list):
        containers += body["system"]
    for message in body.get("messages") or []:
        if isinstance(message.get("content"), list):
            containers += message["content"]
    for item in containers:
        if not isinstance(item, dict):
            continue
        if item.get("cache_control"):
            yield item["cache_control"]
        if item.get("type") == "tool_result" and isinstance(item.get("content"), list):
            for inner in item["content"]:
                if isinstance(inner, dict) and inner.get("cache_control"):
                    yield inner["cache_control"]


def _ttl_of(item: Any) -> float | None:
    """The TTL a block's breakpoint asks for (inside a tool_result too), or None."""
    if not isinstance(item, dict):
        return None
    marks = [item.get("cache_control")]
    if item.get("type") == "tool_result" and isinstance(item.get("content"), list):
        marks += [
            inner.get("cache_control")
            for inner in item["content"]
            if isinstance(inner, dict)
        ]
    ttls = [
        TTL_SECONDS.get(str(mark.get("ttl") or "5m"), TTL_SECONDS["5m"])
        for mark in marks
        if isinstance(mark, dict)
    ]
    return max(ttls) if ttls else None


def _strip(value: Any) -> Any:
    """The value without cache_control anywhere: a breakpoint does not change content."""
    if isinstance(value, dict):
        return {
            key: _strip(inner) for key, inner in value.items() if key != "cache_control"
        }
    if isinstance(value, list | tuple):
        return [_strip(inner) for inner in value]
    return value
