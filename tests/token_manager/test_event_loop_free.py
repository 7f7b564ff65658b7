"""Nothing a session calls on its event loop waits for Redis: with the server
frozen for real (SIGSTOP), every call returns at once and the loop keeps
ticking; only `acquire` may wait, and it waits off the loop.

The app's meter calls `snapshot` from the event loop (on every usage and
heartbeat), the loop calls the rest around each request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.plugins.redis_server import RedisProcess
from token_manager import RateLimits, TokenManager
from token_manager.stores import RedisStore

pytestmark = [pytest.mark.redis, pytest.mark.slow]

AT_ONCE = 0.05  # seconds: a call that took longer waited for something
USAGE = {"input_tokens": 90, "output_tokens": 5}
HEADERS = {
    "anthropic-ratelimit-input-tokens-limit": "50000",
    "anthropic-ratelimit-input-tokens-remaining": "49000",
    "anthropic-ratelimit-input-tokens-reset": "2030-01-01T00:00:00Z",
}


class LoopLag:
    """The longest a 10 ms sleep on the loop overslept: the loop's stall."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._running = True

    async def run(self) -> None:
        while self._running:
            started = time.monotonic()
            await asyncio.sleep(0.01)
            self.worst = max(self.worst, time.monotonic() - started - 0.01)

    def stop(self) -> None:
        self._running = False


class Response:
    status_code = 200
    headers = HEADERS


def timed(call: Callable[[], Any]) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


async def test_no_call_waits_for_a_frozen_redis_on_the_event_loop(
    redis_server: RedisProcess,
) -> None:
    tm = TokenManager(
        RateLimits(None, 10_000, None, 10.0),
        storage=RedisStore(redis_server.url, prefix="loopfree"),
        explicit_limits=(),
    )
    first = await tm.acquire(100, 10)
    tm.reconcile(first, USAGE)
    tm.snapshot()  # the shared store is known to be up
    tm.estimate_request(
        messages=[{"role": "user", "content": "hi"}]
    )  # the tokenizer loaded

    lag = LoopLag()
    ticker = asyncio.create_task(lag.run())
    redis_server.freeze()
    try:
        took: dict[str, float] = {}
        messages = [{"role": "user", "content": "what is on the screen?"}]
        took["estimate_request"] = timed(lambda: tm.estimate_request(messages=messages))
        took["snapshot"] = timed(tm.snapshot)
        took["update_from_headers"] = timed(lambda: tm.update_from_headers(HEADERS))
        took["observe_response"] = timed(lambda: tm.observe_response(Response()))
        took["max_tokens_for_next_request"] = timed(
            lambda: tm.max_tokens_for_next_request(4096)
        )
        granted = await asyncio.wait_for(tm.acquire(100, 10), 30)  # off the loop
        took["reconcile"] = timed(lambda: tm.reconcile(granted, USAGE))
        again = await asyncio.wait_for(tm.acquire(100, 10), 30)
        took["release"] = timed(lambda: tm.release(again))
        took["snapshot while down"] = timed(tm.snapshot)
    finally:
        redis_server.thaw()
        lag.stop()
        await ticker
    slow = {
        name: round(seconds, 3) for name, seconds in took.items() if seconds > AT_ONCE
    }
    assert slow == {}, "these waited for Redis on the event loop"
    assert lag.worst < 0.25, f"the event loop stalled {lag.worst:.2f} s"
