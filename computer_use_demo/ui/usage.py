"""Token usage per turn and per conversation, cache hit rate, and estimated cost.

Pure arithmetic over `Usage` values and an editable price table.
"""

from __future__ import annotations

from dataclasses import dataclass

from token_manager.model_table import DEAREST_PRICES, MODELS, model_facts

from ..streaming import Usage


@dataclass(frozen=True)
class Prices:
    """US dollars per million tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float


# The model table's list prices (USD per million tokens, token_manager.model_table,
# with their source and date there), by model key; editable in the sidebar.
DEFAULT_PRICES: dict[str, Prices] = {
    facts.key: Prices(
        facts.prices.input,
        facts.prices.output,
        facts.prices.cache_write_5m,
        facts.prices.cache_read,
    )
    for facts in MODELS
}
FALLBACK_PRICES = Prices(
    DEAREST_PRICES.input,
    DEAREST_PRICES.output,
    DEAREST_PRICES.cache_write_5m,
    DEAREST_PRICES.cache_read,
)


def prices_for(model: str, table: dict[str, Prices]) -> Prices:
    """The table's prices for `model` in any provider's spelling; an unknown id
    is priced at the dearest row, as the spending caps price it."""
    facts = model_facts(model)
    if model in table:
        return table[model]
    if facts is not None and facts.key in table:
        return table[facts.key]
    return FALLBACK_PRICES


def cost(usage: Usage, prices: Prices) -> float:
    return (
        usage.input_tokens * prices.input
        + usage.output_tokens * prices.output
        + usage.cache_creation_input_tokens * prices.cache_write
        + usage.cache_read_input_tokens * prices.cache_read
    ) / 1_000_000


def cache_hit_rate(usage: Usage) -> float | None:
    prompt = usage.total_input_tokens
    return None if prompt == 0 else usage.cache_read_input_tokens / prompt


def describe(usage: Usage, prices: Prices) -> str:
    rate = cache_hit_rate(usage)
    hit = "" if rate is None else f" · cache hit {rate:.0%}"
    return (
        f"in {usage.input_tokens:,} · out {usage.output_tokens:,} · cache write "
        f"{usage.cache_creation_input_tokens:,} · cache read {usage.cache_read_input_tokens:,}"
        f"{hit} · ~${cost(usage, prices):.4f}"
    )


# The app keeps one record per response: the turn it belongs to (the index of
# the user message that started it) and its usage; saved with the conversation.
UsageRecord = dict[str, int]


def usage_record(turn: int, usage: Usage) -> UsageRecord:
    return {
        "turn": turn,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
    }


def usage_of(record: UsageRecord) -> Usage:
    return Usage(
        input_tokens=int(record.get("input_tokens", 0)),
        output_tokens=int(record.get("output_tokens", 0)),
        cache_creation_input_tokens=int(record.get("cache_creation_input_tokens", 0)),
        cache_read_input_tokens=int(record.get("cache_read_input_tokens", 0)),
    )


def total_usage(records: list[UsageRecord]) -> Usage:
    return sum((usage_of(record) for record in records), Usage())


def usage_by_turn(records: list[UsageRecord]) -> dict[int, Usage]:
    """Each turn's usage, summed over its responses (a turn with tools has several)."""
    turns: dict[int, Usage] = {}
    for record in records:
        turn = int(record.get("turn", -1))
        turns[turn] = turns.get(turn, Usage()) + usage_of(record)
    return turns
