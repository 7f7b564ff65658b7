"""Dollars held and charged agree with a hand computation from the pricing
table, per usage shape; caps refuse the request that could pass them, and what
is charged never passes a cap."""

from __future__ import annotations

import random

import pytest

from token_manager import RateLimits, TokenManager
from token_manager.model_table import (
    DEAREST_PRICES,
    PriceList,
    Prices,
    price_list_from_json,
)
from token_manager.spend import NANO, UsageShape, usage_cost, worst_case_cost
from token_manager.spending import SpendCapReached, SpendCaps, Spending

SONNET = Prices(3.0, 15.0, 3.75, 6.0, 0.30)  # the pricing page's Sonnet 4.5 row


def usd(amount: float) -> int:
    return round(amount * NANO)


@pytest.mark.parametrize(
    ("usage", "dollars"),
    [
        # 1,000 uncached in, 500 out: 1,000 x $3/M + 500 x $15/M
        ({"input_tokens": 1_000, "output_tokens": 500}, 0.003 + 0.0075),
        # a 5-minute cache write of 10,000: x $3.75/M
        (
            {"input_tokens": 10, "cache_creation_input_tokens": 10_000},
            10 * 3e-6 + 10_000 * 3.75e-6,
        ),
        # a 1-hour write, as the usage's split says: x $6/M
        (
            {
                "cache_creation_input_tokens": 10_000,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 0,
                    "ephemeral_1h_input_tokens": 10_000,
                },
            },
            10_000 * 6e-6,
        ),
        # both TTLs in one request
        (
            {
                "cache_creation_input_tokens": 3_000,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 1_000,
                    "ephemeral_1h_input_tokens": 2_000,
                },
            },
            1_000 * 3.75e-6 + 2_000 * 6e-6,
        ),
        # cache reads: x $0.30/M
        ({"cache_read_input_tokens": 100_000, "input_tokens": 50}, 0.03 + 50 * 3e-6),
        # thinking is billed as output (it is part of output_tokens)
        ({"input_tokens": 100, "output_tokens": 8_000}, 100 * 3e-6 + 8_000 * 15e-6),
        # the web search tool: $10 per 1,000 searches, beside its tokens
        (
            {
                "input_tokens": 2_000,
                "output_tokens": 100,
                "server_tool_use": {"web_search_requests": 3},
            },
            2_000 * 3e-6 + 100 * 15e-6 + 0.03,
        ),
    ],
)
def test_each_usage_shape_costs_what_the_pricing_table_says(
    usage: dict, dollars: float
) -> None:
    assert usage_cost(UsageShape.of(usage), SONNET) == usd(dollars)


def test_writes_without_a_split_are_priced_at_the_requests_ttl() -> None:
    usage = {"cache_creation_input_tokens": 1_000}
    assert usage_cost(UsageShape.of(usage, writes_ttl="1h"), SONNET) == usd(0.006)
    assert usage_cost(UsageShape.of(usage), SONNET) == usd(0.00375)


def test_the_worst_case_bills_every_input_token_at_its_dearest_rate() -> None:
    assert worst_case_cost(1_000, 2_000, SONNET, writes_ttl=None) == usd(0.003 + 0.03)
    assert worst_case_cost(1_000, 2_000, SONNET, writes_ttl="5m") == usd(0.00375 + 0.03)
    assert worst_case_cost(1_000, 2_000, SONNET, writes_ttl="1h") == usd(0.006 + 0.03)


def test_the_worst_case_is_never_below_any_real_cost_of_the_same_request() -> None:
    chooser = random.Random(20261207)
    for _ in range(500):
        total, max_tokens = chooser.randint(0, 200_000), chooser.randint(1, 64_000)
        read = chooser.randint(0, total)
        written = chooser.randint(0, total - read)
        usage = {
            "input_tokens": total - read - written,
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
            "output_tokens": chooser.randint(0, max_tokens),
        }
        ttl = chooser.choice(["5m", "1h"])
        real = usage_cost(UsageShape.of(usage, writes_ttl=ttl), SONNET)
        assert real <= worst_case_cost(total, max_tokens, SONNET, writes_ttl=ttl)


def test_an_unknown_model_is_priced_at_the_dearest_row_and_a_file_overrides() -> None:
    assert PriceList().for_model("my-finetune") == DEAREST_PRICES
    overridden = price_list_from_json(
        {"claude-sonnet-4-5": {"input": 2.0, "output": 10.0}}
    )
    prices = overridden.for_model("anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert prices == Prices(2.0, 10.0, 2.5, 4.0, 0.2)
    assert overridden.for_model("claude-haiku-4-5").input == 1.0
    bad_lists: list[object] = [
        [],
        {"x": {"input": 1}},
        {"x": {"input": "a", "output": 1}},
    ]
    for bad in bad_lists:
        with pytest.raises(ValueError):
            price_list_from_json(bad)


def spending(conversation: float | None = None, day: float | None = None) -> Spending:
    caps = SpendCaps(
        conversation=None if conversation is None else usd(conversation),
        day=None if day is None else usd(day),
    )
    return Spending(caps, wall_clock=lambda: 1_780_000_000.0)


def test_a_request_whose_worst_case_could_pass_the_cap_is_refused() -> None:
    ledger = spending(conversation=1.00)
    held = ledger.reserve(conversation="c", account="a", pool="p", worst=usd(0.60))
    with pytest.raises(SpendCapReached) as refused:
        ledger.reserve(conversation="c", account="a", pool="p", worst=usd(0.60))
    assert "conversation spending cap of $1.00" in str(refused.value)
    assert "$0.6000 spent, $0.4000 left" in str(refused.value)
    assert "could cost up to $0.6000" in str(refused.value)
    ledger.settle(held, usd(0.10))  # the real cost replaces the hold
    ledger.reserve(conversation="c", account="a", pool="p", worst=usd(0.60))
    other = ledger.reserve(conversation="d", account="a", pool="p", worst=usd(0.90))
    ledger.release(other)
    assert ledger.report(conversation="d", account="a").conversation_spent == 0


def test_the_daily_cap_spans_conversations() -> None:
    ledger = spending(day=1.00)
    for name in ("a", "b"):
        held = ledger.reserve(conversation=name, account="k", pool="p", worst=usd(0.5))
        ledger.settle(held, usd(0.45))
    with pytest.raises(SpendCapReached) as refused:
        ledger.reserve(conversation="c", account="k", pool="p", worst=usd(0.2))
    assert "daily spending cap" in str(refused.value)
    ledger.reserve(conversation="c", account="other-key", pool="p", worst=usd(0.2))


def test_what_is_charged_never_passes_the_cap() -> None:
    chooser = random.Random(7)
    ledger = spending(conversation=5.00)
    charged = 0
    for _ in range(2_000):
        worst = usd(chooser.uniform(0.01, 0.5))
        try:
            held = ledger.reserve(conversation="c", account="a", pool="p", worst=worst)
        except SpendCapReached:
            continue
        if chooser.random() < 0.1:
            ledger.release(held)
            continue
        real = chooser.randint(0, worst)
        ledger.settle(held, real)
        charged += real
        assert charged <= usd(5.00)
    assert charged > usd(4.5), "the cap is used, not just guarded"


def test_the_manager_reads_its_caps_and_prices_from_the_environment() -> None:
    manager = TokenManager.from_env(
        {
            "TOKEN_MANAGER_MAX_COST_PER_CONVERSATION": "2.50",
            "TOKEN_MANAGER_MAX_COST_PER_DAY": "$20",
        }
    )
    assert manager.spending.caps == SpendCaps(usd(2.5), usd(20))
    estimate = manager.estimate_request(
        messages=[{"role": "user", "content": "hello"}], model="claude-sonnet-4-5"
    )
    worst = manager.spending.worst_case(estimate, 1_000, model="claude-sonnet-4-5")
    assert worst == worst_case_cost(
        estimate.total_tokens, 1_000, SONNET, writes_ttl=None
    )
    assert isinstance(
        TokenManager(RateLimits(None, None, None)).spending.caps, SpendCaps
    )
