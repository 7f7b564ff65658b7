"""Each model class has its own windows, queue, learned limits and retry-after."""

from __future__ import annotations

import asyncio
import functools

import pytest

from tests.token_manager.fake_time import FakeTime, settle
from token_manager import RateLimits, TokenManager

OPUS, OPUS_OTHER, SONNET = (
    "claude-opus-4-5",
    "claude-opus-4-1-20250805",
    "claude-sonnet-4-5",
)


def manager(clock: FakeTime) -> TokenManager:
    return TokenManager(
        RateLimits(2, 10_000, 4_000, 60.0),
        clock=clock,
        waiting=clock,
        explicit_limits=(),
    )


async def test_ids_of_one_class_share_a_pool_and_classes_do_not() -> None:
    clock = FakeTime()
    tm = manager(clock)
    await tm.acquire(100, 10, model=OPUS)
    await tm.acquire(100, 10, model=OPUS_OTHER)
    third_opus = asyncio.ensure_future(tm.acquire(100, 10, model=OPUS))
    sonnet = await asyncio.wait_for(tm.acquire(100, 10, model=SONNET), 1)
    await settle()
    assert not third_opus.done(), "two Opus 4.x requests filled the Opus pool"
    assert sonnet.pool == "sonnet-4"
    assert tm.snapshot(model=OPUS).budgets["requests"].used == 2
    assert tm.snapshot(model=OPUS).waiters == 1
    assert tm.snapshot(model=SONNET).budgets["requests"].used == 1
    assert tm.snapshot().budgets["requests"].used == 0, "no model: the default pool"
    third_opus.cancel()


async def test_headers_and_retry_after_belong_to_the_requests_pool() -> None:
    clock = FakeTime()
    tm = manager(clock)

    class Response:
        status_code = 429
        headers = {
            "retry-after": "30",
            "anthropic-ratelimit-input-tokens-limit": "30000",
        }

    functools.partial(tm.observe_response, model=OPUS)(Response())
    assert tm.limits_for(model=OPUS).input_tokens_per_minute == 30_000
    assert tm.limits_for(model=SONNET).input_tokens_per_minute == 10_000
    assert tm.snapshot(model=OPUS).paused_for == pytest.approx(30.0)
    assert tm.snapshot(model=SONNET).paused_for == 0
    await asyncio.wait_for(tm.acquire(100, 10, model=SONNET), 1)
    reports = {report.pool: report for report in tm.pool_reports()}
    assert reports["opus-4"].rate_limited == 1 and reports["sonnet-4"].rate_limited == 0
    assert reports["opus-4"].limits["input_tokens"] == 30_000
    assert reports["sonnet-4"].usage["requests"] == 1


def test_max_tokens_follow_the_pools_output_limit() -> None:
    tm = manager(FakeTime())
    tm.update_from_headers(
        {"anthropic-ratelimit-output-tokens-limit": "8000"}, model=SONNET
    )
    assert tm.clamp_max_tokens(64_000, model=SONNET) == 8_000
    assert tm.clamp_max_tokens(64_000) == 4_000
    assert tm.max_tokens_for_next_request(64_000, model=SONNET) == 8_000
