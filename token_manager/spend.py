"""What a request costs, in whole nano-dollars: the most it could cost (held at
admission) and what its usage really cost (charged at reconcile).

Pure arithmetic over the model table's prices (`model_table.Prices`, USD per
million tokens, which is micro-dollars per token: times 1,000 it is a whole
number of nano-dollars per token for every listed price). Rules, from the
pricing page (https://platform.claude.com/docs/en/about-claude/pricing):
- uncached input at the input price; cache writes at 1.25x (5-minute TTL) or
  2x (1-hour TTL); cache reads at 0.1x; output, thinking included, at the
  output price;
- the web search tool costs $10 per 1,000 searches, beside its tokens.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .model_table import Prices

NANO = 1_000_000_000  # nano-dollars per dollar
WEB_SEARCH_NANO = 10 * NANO // 1_000  # $10 per 1,000 searches


def per_token(price_per_million: float) -> int:
    """Nano-dollars per token of a price in USD per million tokens (rounded up)."""
    return math.ceil(round(price_per_million * 1_000, 6))


def dollars(nano: int) -> float:
    return nano / NANO


def shown(nano: int) -> str:
    """A cost as the user reads it: cents from a dollar, four digits below one
    (so two amounts that differ never read the same)."""
    value = dollars(nano)
    return f"${value:,.2f}" if value >= 1 or value == 0 else f"${value:.4f}"


@dataclass(frozen=True)
class UsageShape:
    """The parts of a response's usage that are priced differently."""

    input_tokens: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0
    output_tokens: int = 0
    web_searches: int = 0

    @classmethod
    def of(cls, usage: Any, *, writes_ttl: str = "5m") -> UsageShape:
        """Read the SDK's usage object (or a dict, or ours). Cache writes are
        split by TTL where the usage says (`cache_creation`); where it does
        not, they are priced at `writes_ttl`, the longest the request asked."""
        written = _count(usage, "cache_creation_input_tokens")
        split = _field(usage, "cache_creation")
        one_hour = _count(split, "ephemeral_1h_input_tokens") if split else 0
        five_minutes = _count(split, "ephemeral_5m_input_tokens") if split else 0
        if not split or one_hour + five_minutes != written:
            one_hour, five_minutes = (
                (written, 0) if writes_ttl == "1h" else (0, written)
            )
        tools = _field(usage, "server_tool_use")
        return cls(
            input_tokens=_count(usage, "input_tokens"),
            cache_write_5m=five_minutes,
            cache_write_1h=one_hour,
            cache_read=_count(usage, "cache_read_input_tokens"),
            output_tokens=_count(usage, "output_tokens"),
            web_searches=_count(tools, "web_search_requests") if tools else 0,
        )


def usage_cost(shape: UsageShape, prices: Prices) -> int:
    """What the server bills for one response, in nano-dollars."""
    return (
        shape.input_tokens * per_token(prices.input)
        + shape.cache_write_5m * per_token(prices.cache_write_5m)
        + shape.cache_write_1h * per_token(prices.cache_write_1h)
        + shape.cache_read * per_token(prices.cache_read)
        + shape.output_tokens * per_token(prices.output)
        + shape.web_searches * WEB_SEARCH_NANO
    )


def worst_case_cost(
    input_tokens: int, max_tokens: int, prices: Prices, *, writes_ttl: str | None
) -> int:
    """The most a request can cost: every input token at the dearest rate it
    may be billed (a cache write at the longest TTL it marks, when it marks
    any), and all of `max_tokens` as output."""
    input_price = prices.input
    if writes_ttl == "1h":
        input_price = max(input_price, prices.cache_write_1h)
    elif writes_ttl is not None:
        input_price = max(input_price, prices.cache_write_5m)
    return max(0, input_tokens) * per_token(input_price) + max(
        0, max_tokens
    ) * per_token(prices.output)


def _field(usage: Any, name: str) -> Any:
    if usage is None:
        return None
    if isinstance(usage, Mapping):
        return usage.get(name)
    return getattr(usage, name, None)


def _count(usage: Any, name: str) -> int:
    value = _field(usage, name)
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0
