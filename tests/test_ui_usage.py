"""Usage per turn and per conversation, cache hit rate and the cost estimate."""

from __future__ import annotations

import pytest

from computer_use_demo.streaming import Usage
from computer_use_demo.ui.usage import (
    DEFAULT_PRICES,
    FALLBACK_PRICES,
    Prices,
    cache_hit_rate,
    cost,
    describe,
    prices_for,
    total_usage,
    usage_by_turn,
    usage_record,
)


def test_cost_weighs_each_kind_of_token_by_its_price() -> None:
    usage = Usage(1_000_000, 100_000, 200_000, 2_000_000)
    assert cost(usage, Prices(3.0, 15.0, 3.75, 0.30)) == pytest.approx(
        3.0 + 1.5 + 0.75 + 0.6
    )


def test_the_cache_hit_rate_is_reads_over_the_whole_prompt() -> None:
    assert cache_hit_rate(Usage(100, 0, 100, 800)) == pytest.approx(0.8)
    assert cache_hit_rate(Usage()) is None


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-sonnet-4-5-20250929", DEFAULT_PRICES["claude-sonnet-4-5"]),
        (
            "anthropic.claude-haiku-4-5-20251001-v1:0",
            DEFAULT_PRICES["claude-haiku-4-5"],
        ),
        ("claude-opus-4-1@20250805", DEFAULT_PRICES["claude-opus-4-1"]),
        ("some-future-model", FALLBACK_PRICES),
    ],
)
def test_prices_follow_the_longest_known_model_prefix(
    model: str, expected: Prices
) -> None:
    assert prices_for(model, DEFAULT_PRICES) == expected


def test_an_edited_price_table_is_used() -> None:
    table = {"claude-sonnet-4-5": Prices(1.0, 1.0, 1.0, 1.0)}
    assert cost(Usage(1_000_000, 0, 0, 0), prices_for("claude-sonnet-4-5", table)) == 1


def test_turns_sum_their_responses_and_the_conversation_sums_all() -> None:
    records = [
        usage_record(0, Usage(10, 5, 100, 0)),
        usage_record(0, Usage(20, 5, 0, 100)),  # a tool round trip, same turn
        usage_record(2, Usage(1, 1, 0, 200)),
    ]
    assert usage_by_turn(records) == {
        0: Usage(30, 10, 100, 100),
        2: Usage(1, 1, 0, 200),
    }
    assert total_usage(records) == Usage(31, 11, 100, 300)


def test_the_summary_names_every_figure() -> None:
    text = describe(Usage(1_200, 340, 5_000, 20_000), DEFAULT_PRICES["claude-opus-4-8"])
    for part in ("in 1,200", "out 340", "cache write 5,000", "cache read 20,000"):
        assert part in text
    assert "cache hit 76%" in text and "~$" in text
