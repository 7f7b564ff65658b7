"""The TokenManager: pacing, fairness, reconciliation, server headers, budgets.

Time is a `FakeTime`: waits end when the test advances the clock, never by sleeping.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from tests.token_manager.fake_time import FakeTime, settle
from token_manager import RateLimits, RequestTooLargeError, TokenManager


def manager(
    rpm: int | None = 100,
    itpm: int | None = 10_000,
    otpm: int | None = 4_000,
    window: float = 60.0,
    **kwargs: Any,
) -> TokenManager:
    return TokenManager(RateLimits(rpm, itpm, otpm, window), **kwargs)


def faked(time_: FakeTime, **kwargs: Any) -> TokenManager:
    return manager(clock=time_, waiting=time_, **kwargs)


async def test_a_request_larger_than_a_window_fails_at_once() -> None:
    tm = manager(itpm=40_000)
    with pytest.raises(
        RequestTooLargeError,
        match=r"input tokens/min limit 40,000 is smaller than this request's 52,310",
    ):
        await tm.acquire(52_310, 100)


async def test_requests_within_limits_go_without_waiting() -> None:
    tm = manager()
    started = time.monotonic()
    for _ in range(5):
        reservation = await tm.acquire(1_000, 500)
        assert reservation.waited_seconds < 0.05
    assert time.monotonic() - started < 0.5
    assert tm.snapshot().budgets["input_tokens"].used == 5_000


async def test_a_request_goes_as_soon_as_it_fits_not_later() -> None:
    clock = FakeTime()
    tm = faked(clock, rpm=2, window=0.6)
    first = clock()
    for _ in range(2):
        tm.reconcile(await tm.acquire(10, 10), {"input_tokens": 10})
    waits: list[tuple[str, float]] = []
    third = asyncio.ensure_future(
        tm.acquire(
            10, 10, on_wait=lambda budget, seconds: waits.append((budget, seconds))
        )
    )
    await settle()
    clock.advance(0.59)
    await settle()
    assert not third.done(), "the window still holds two requests"
    clock.advance(0.02)
    await settle()
    assert third.done()
    elapsed = clock() - first
    assert 0.5 <= elapsed < 0.8
    assert waits and waits[0][0] == "requests"


async def test_reconcile_replaces_the_estimate_and_cache_reads_are_free() -> None:
    tm = manager(otpm=4_000)
    reservation = await tm.acquire(5_000, 4_000)
    tm.reconcile(
        reservation,
        {
            "input_tokens": 200,
            "cache_creation_input_tokens": 300,
            "cache_read_input_tokens": 9_000,
            "output_tokens": 150,
        },
    )
    budgets = tm.snapshot().budgets
    assert budgets["input_tokens"].used == 500
    assert budgets["output_tokens"].used == 150
    assert budgets["requests"].used == 1


async def test_release_gives_everything_back() -> None:
    tm = manager()
    reservation = await tm.acquire(5_000, 4_000)
    tm.release(reservation)
    assert {name: budget.used for name, budget in tm.snapshot().budgets.items()} == {
        "requests": 0,
        "input_tokens": 0,
        "output_tokens": 0,
    }


async def test_first_come_first_served_a_big_request_is_not_starved() -> None:
    clock = FakeTime()
    tm = faked(clock, itpm=1_000, window=0.5)
    tm.reconcile(await tm.acquire(600, 1), {"input_tokens": 600})
    order: list[str] = []

    async def ask(name: str, tokens: int) -> None:
        reservation = await tm.acquire(tokens, 1)
        order.append(name)
        tm.reconcile(reservation, {"input_tokens": tokens})

    tasks = []
    for name, tokens in (("big", 900), ("small-1", 100), ("small-2", 100)):
        tasks.append(asyncio.ensure_future(ask(name, tokens)))
        await settle()
    assert order == [], "the big one waits, and the small ones wait behind it"
    for _ in range(4):
        clock.advance(0.5)
        await settle()
    await asyncio.gather(*tasks)
    assert order[0] == "big"


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    clock = FakeTime()
    tm = faked(clock, rpm=1)
    await tm.acquire(1, 1)
    waiting = asyncio.ensure_future(tm.acquire(1, 1))
    await settle()
    assert tm.snapshot().waiters == 1
    assert tm.snapshot().waiting_for == "requests"
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert tm.snapshot().waiters == 0


@pytest.mark.slow
def test_threads_and_event_loops_share_one_budget_without_exceeding_it() -> None:
    window, limit = 0.5, 4
    tm = manager(rpm=limit, window=window)
    granted: list[float] = []
    lock = threading.Lock()

    def thread_worker() -> None:
        for _ in range(3):
            reservation = tm.acquire_sync(1, 1)
            with lock:
                granted.append(time.monotonic())
            tm.reconcile(reservation, {"input_tokens": 1})

    def loop_worker() -> None:
        async def run() -> None:
            for _ in range(3):
                reservation = await tm.acquire(1, 1)
                with lock:
                    granted.append(time.monotonic())
                tm.reconcile(reservation, {"input_tokens": 1})

        asyncio.run(run())

    workers = [threading.Thread(target=thread_worker) for _ in range(2)] + [
        threading.Thread(target=loop_worker) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)
    assert len(granted) == 12
    granted.sort()
    for index, at in enumerate(granted):
        in_window = [
            other for other in granted[: index + 1] if at - other < window - 0.01
        ]
        assert len(in_window) <= limit


async def test_server_headers_correct_the_limits_and_remaining() -> None:
    clock = FakeTime()
    tm = TokenManager(
        RateLimits(50, 40_000, 16_000),
        clock=clock,
        waiting=clock,
        wall_clock=lambda: 1_700_000_000.0,
        explicit_limits=(),
    )
    reset = "2023-11-14T22:14:20Z"  # 1_700_000_060: in a minute
    tm.update_from_headers(
        {
            "anthropic-ratelimit-input-tokens-limit": "80000",
            "anthropic-ratelimit-input-tokens-remaining": "30000",
            "anthropic-ratelimit-input-tokens-reset": reset,
        }
    )
    snapshot = tm.snapshot()
    assert snapshot.budgets["input_tokens"].limit == 80_000
    assert snapshot.budgets["input_tokens"].limit_source == "server"
    # The server says only 30,000 remain: we never plan past that.
    assert snapshot.budgets["input_tokens"].used == 50_000
    waiting = asyncio.ensure_future(tm.acquire(31_000, 1))
    await settle()
    clock.advance(59)
    await settle()
    assert not waiting.done(), "31,000 does not fit in the 30,000 that remain"
    clock.advance(1.5)
    await settle()
    assert waiting.done(), "at the server's reset it fits"


async def test_explicit_limits_stay_when_the_server_allows_more() -> None:
    tm = manager(itpm=10_000)
    tm.update_from_headers({"anthropic-ratelimit-input-tokens-limit": "400000"})
    assert tm.limits.input_tokens_per_minute == 10_000


async def test_retry_after_pauses_every_caller() -> None:
    clock = FakeTime()
    tm = faked(clock)

    class Response:
        status_code = 429
        headers = {"retry-after": "7"}

    tm.observe_response(Response())
    assert tm.snapshot().paused_for == pytest.approx(7.0)
    waits: list[tuple[str, float]] = []
    task = asyncio.ensure_future(
        tm.acquire(
            1, 1, on_wait=lambda budget, seconds: waits.append((budget, seconds))
        )
    )
    await settle()
    assert waits == [("retry_after", pytest.approx(7.0))]
    clock.advance(6.9)
    await settle()
    assert not task.done()
    clock.advance(0.2)
    await settle()
    assert task.done()
    assert tm.pool_reports()[0].rate_limited == 1


def test_max_tokens_is_clamped_to_the_output_budget() -> None:
    tm = manager(otpm=16_000)
    assert tm.clamp_max_tokens(128_000) == 16_000
    assert tm.clamp_max_tokens(8_000) == 8_000
    assert manager(otpm=None).clamp_max_tokens(128_000) == 128_000


async def test_the_measured_prefix_is_exact_and_only_new_content_is_estimated() -> None:
    tm = manager()
    system = [{"type": "text", "text": "You drive a desktop."}]
    tools = [{"type": "bash_20250124", "name": "bash"}]
    history: list[Any] = [
        {"role": "user", "content": "list the files in my home directory"}
    ]
    first = tm.estimate_request(system=system, messages=history, tools=tools)
    reservation = await tm.acquire(first, 100)
    tm.reconcile(reservation, {"input_tokens": 1_234, "output_tokens": 50})
    history += [
        {"role": "assistant", "content": [{"type": "text", "text": "Sure."}]},
        {"role": "user", "content": "thanks"},
    ]
    second = tm.estimate_request(system=system, messages=history, tools=tools)
    new_part = tm.estimate_message_tokens(history[1]) + tm.estimate_message_tokens(
        history[2]
    )
    assert second.total_tokens == 1_234 + new_part
    assert tm.estimate_input_tokens(system=system, messages=history, tools=tools) == (
        1_234 + new_part
    )


def test_the_environment_configures_the_singleton() -> None:
    tm = TokenManager.from_env(
        {
            "TOKEN_MANAGER_RPM": "5",
            "TOKEN_MANAGER_INPUT_TPM": "1,000",
            "TOKEN_MANAGER_WINDOW_SECONDS": "2",
        }
    )
    assert tm.limits == RateLimits(5, 1_000, 16_000, 2.0)
    assert tm.snapshot().budgets["output_tokens"].limit_source == "default"
    assert tm.cache_aware_admission is True
    assert (
        TokenManager.from_env({"TOKEN_MANAGER_CACHE_AWARE": "0"}).cache_aware_admission
        is False
    )


@pytest.mark.slow
def test_a_hundred_thousand_acquisitions_stay_bounded_in_memory_and_time() -> None:
    """A hundred windows' worth: the windows stop growing after the first."""
    clock = FakeTime()
    tm = faked(clock, rpm=None, itpm=10**12, otpm=10**12, window=1.0)
    lap_seconds: list[float] = []
    started = time.perf_counter()
    for index in range(100_000):
        clock.now += 0.001
        reservation = tm.acquire_sync(10, 10)
        tm.reconcile(reservation, {"input_tokens": 9, "output_tokens": 5})
        if index % 10_000 == 9_999:
            lap_seconds.append(time.perf_counter() - started)
            started = time.perf_counter()
    assert not tm._state.held, "no reservation is kept once reconciled"
    windows = tm._state.store.local.windows("default").values()
    assert all(len(window.entries) <= 1_001 for window in windows)
    assert all(not window.in_flight for window in windows)
    assert max(lap_seconds) < 3 * min(lap_seconds), (
        f"time per call stays flat: {lap_seconds}"
    )


async def test_the_server_count_is_available_as_an_option() -> None:
    import anthropic

    from fake_anthropic import FakeAnthropicAPI

    messages = [{"role": "user", "content": "how many tokens is this?"}]
    with FakeAnthropicAPI() as api:
        client = anthropic.AsyncAnthropic(api_key=api.api_key, base_url=api.base_url)
        counted = await manager().count_tokens_with_server(
            client, model="claude-opus-4-8", messages=messages
        )
        await client.close()
    local = manager().estimate_input_tokens(messages=messages)
    assert counted > 0 and counted != local, (
        "the server's count is its own, not the local estimate"
    )
