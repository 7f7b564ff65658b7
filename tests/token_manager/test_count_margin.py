"""The margin held on a request in flight for what its count may be short by.

The server counts a request's real tokens when it arrives; the manager learns
them only from the usage at the end. An estimate a little short lets requests
in flight together pass the server's limit (seen in B1d: one 429 with the
learned ratio 0.7% short on average). Admission therefore holds the estimate
plus `Calibration.spread()` of it until reconcile, which charges the real count.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.token_manager.fake_time import FakeTime
from token_manager import RateLimits, TokenManager
from token_manager.estimate import (
    LEAST_SPREAD,
    SAMPLES_FOR_SPREAD,
    UNCALIBRATED_SPREAD,
    Calibration,
)
from token_manager.estimator import FRAMING_SLACK_TOKENS

RATIOS = (1.0, 1.1, 1.0, 1.1, 1.0, 1.1)  # what the server's counts were, over ours


def test_the_spread_is_wide_before_any_count_then_what_recent_counts_show() -> None:
    calibration = Calibration()
    assert calibration.spread() == UNCALIBRATED_SPREAD
    for _ in range(SAMPLES_FOR_SPREAD - 1):
        calibration.learn(1_000, 1_170)
    assert calibration.spread() == UNCALIBRATED_SPREAD, "too few counts to tell"
    calibration.learn(1_000, 1_170)
    assert calibration.ratio == pytest.approx(1.17)
    assert calibration.spread() == LEAST_SPREAD, "steady counts: the floor"
    for ratio in RATIOS:
        calibration.learn(1_000, round(1_000 * ratio))
    assert calibration.spread() == pytest.approx(1.17 / calibration.ratio - 1)


def _message(number: int, words: int) -> list[dict[str, Any]]:
    return [{"role": "user", "content": f"conversation {number}: " + "word " * words}]


async def _served(
    tm: TokenManager, number: int, words: int, ratio: float
) -> tuple[int, int]:
    """One request the server counts at `ratio` times our raw count: what was
    held while in flight, and what the server counted."""
    estimate = tm.estimate_request(messages=_message(number, words))
    assert estimate.detail is not None
    real = round(estimate.detail.raw_total * ratio)
    reservation = await tm.acquire(estimate, 100)
    tm.reconcile(reservation, {"input_tokens": real, "output_tokens": 10})
    return reservation.input_tokens, real


async def test_a_request_in_flight_holds_at_least_what_the_server_counts() -> None:
    clock = FakeTime()
    tm = TokenManager(
        RateLimits(None, 1_000_000, None, 60.0), clock=clock, waiting=clock
    )
    for number, ratio in enumerate(RATIOS):
        await _served(tm, number, 800, ratio)
    # Every later request counted within the range seen is covered in flight;
    # without the margin the ones at the top of it were held about 5% short.
    for number, words in enumerate((300, 900, 1_500), start=len(RATIOS)):
        held, real = await _served(tm, number, words, max(RATIOS))
        assert held >= real
        assert held - real <= 0.02 * real + FRAMING_SLACK_TOKENS, "no more than that"


async def test_the_margin_is_charged_only_in_flight() -> None:
    clock = FakeTime()
    tm = TokenManager(RateLimits(None, 100_000, None, 60.0), clock=clock, waiting=clock)
    estimate = tm.estimate_request(messages=_message(1, 2_000))
    margin = estimate.margin(estimate.total_tokens)
    assert margin == pytest.approx(
        estimate.total_tokens * UNCALIBRATED_SPREAD + FRAMING_SLACK_TOKENS, abs=1
    )
    reservation = await tm.acquire(estimate, 100)
    in_flight = tm.snapshot().budgets["input_tokens"].used
    assert in_flight == estimate.total_tokens + margin
    tm.reconcile(reservation, {"input_tokens": 2_100, "output_tokens": 10})
    assert tm.snapshot().budgets["input_tokens"].used == 2_100


async def test_the_margin_never_makes_a_request_that_fits_too_large() -> None:
    clock = FakeTime()
    tm = TokenManager(RateLimits(None, 10_000, None, 60.0), clock=clock, waiting=clock)
    estimate = tm.estimate_request(messages=_message(1, 9_000))
    total = estimate.total_tokens
    assert total < 10_000 < total + estimate.margin(total)
    reservation = await tm.acquire(estimate, 100)
    assert reservation.input_tokens == 10_000, "held up to the limit, not refused"


async def test_only_the_part_not_yet_measured_carries_a_margin() -> None:
    clock = FakeTime()
    tm = TokenManager(RateLimits(None, 100_000, None, 60.0), clock=clock, waiting=clock)
    first = _message(1, 3_000)
    _, real = await _served(tm, 1, 3_000, 1.17)
    later = [
        *first,
        {"role": "assistant", "content": "done"},
        {"role": "user", "content": "and now " + "word " * 200},
    ]
    estimate = tm.estimate_request(messages=later)
    assert estimate.detail is not None and estimate.detail.prefix_real == real
    assert estimate.estimated_tokens == estimate.total_tokens - real
    margin = estimate.margin(estimate.total_tokens)
    assert margin == (
        math.ceil(estimate.estimated_tokens * UNCALIBRATED_SPREAD)
        + FRAMING_SLACK_TOKENS
    )
    assert margin < 0.03 * estimate.total_tokens, "the measured prefix is exact"
