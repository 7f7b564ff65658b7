"""The TokenManager: pacing, fairness, reconciliation, server headers, budgets."""

from __future__ import annotations

import asyncio
import logging
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from computer_use_demo.tools.base import CLIResult, ToolResult
from token_manager import RateLimits, RequestTooLargeError, TokenManager


def manager(
    rpm: int | None = 100,
    itpm: int | None = 10_000,
    otpm: int | None = 4_000,
    window: float = 60.0,
    **kwargs: Any,
) -> TokenManager:
    return TokenManager(RateLimits(rpm, itpm, otpm, window), **kwargs)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


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


@pytest.mark.slow
async def test_a_request_goes_as_soon_as_it_fits_not_later() -> None:
    tm = manager(rpm=2, window=0.6)
    await tm.acquire(10, 10)
    first = time.monotonic()
    await tm.acquire(10, 10)
    waits: list[tuple[str, float]] = []
    await tm.acquire(
        10, 10, on_wait=lambda budget, seconds: waits.append((budget, seconds))
    )
    elapsed = time.monotonic() - first
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


@pytest.mark.slow
async def test_first_come_first_served_a_big_request_is_not_starved() -> None:
    tm = manager(itpm=1_000, window=0.5)
    await tm.acquire(600, 1)
    order: list[str] = []

    async def ask(name: str, tokens: int, delay: float) -> None:
        await asyncio.sleep(delay)
        await tm.acquire(tokens, 1)
        order.append(name)

    await asyncio.gather(
        ask("big", 900, 0.0), ask("small-1", 100, 0.05), ask("small-2", 100, 0.1)
    )
    assert order[0] == "big"


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    tm = manager(rpm=1)
    await tm.acquire(1, 1)
    waiting = asyncio.ensure_future(tm.acquire(1, 1))
    await asyncio.sleep(0.05)
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
            tm.acquire_sync(1, 1)
            with lock:
                granted.append(time.monotonic())

    def loop_worker() -> None:
        async def run() -> None:
            for _ in range(3):
                await tm.acquire(1, 1)
                with lock:
                    granted.append(time.monotonic())

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
    clock = FakeClock()
    tm = TokenManager(
        RateLimits(50, 40_000, 16_000),
        clock=clock,
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
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.1):
            await tm.acquire(31_000, 1)


async def test_explicit_limits_stay_when_the_server_allows_more() -> None:
    tm = manager(itpm=10_000)
    tm.update_from_headers({"anthropic-ratelimit-input-tokens-limit": "400000"})
    assert tm.limits.input_tokens_per_minute == 10_000


async def test_retry_after_pauses_every_caller() -> None:
    clock = FakeClock()
    tm = manager(clock=clock)

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
    await asyncio.sleep(0.05)
    assert waits == [("retry_after", pytest.approx(7.0))]
    clock.now += 7.5
    tm.pause(0)  # wakes the waiters to re-check the (fake) clock
    await asyncio.wait_for(task, 1)


def test_max_tokens_is_clamped_to_the_output_budget() -> None:
    tm = manager(otpm=16_000)
    assert tm.clamp_max_tokens(128_000) == 16_000
    assert tm.clamp_max_tokens(8_000) == 8_000
    assert manager(otpm=None).clamp_max_tokens(128_000) == 128_000


def test_small_tool_results_pass_unchanged(tmp_path: Path) -> None:
    tm = manager(tool_output_dir=tmp_path)
    result = CLIResult(output="hello", error="")
    assert tm.budget_tool_result(result) is result


def test_a_flood_of_output_keeps_head_and_tail_and_is_saved_privately(
    tmp_path: Path,
) -> None:
    tm = manager(tool_output_dir=tmp_path, tool_result_tokens=1_000)
    lines = "\n".join(
        f"line {number}: some output text here" for number in range(200_000)
    )
    started = time.monotonic()
    budgeted = tm.budget_tool_result(ToolResult(output=lines, base64_image="IMG"))
    assert time.monotonic() - started < 5
    assert budgeted.base64_image == "IMG"
    text = budgeted.output or ""
    assert text.startswith("line 0:") and text.endswith(
        "line 199999: some output text here"
    )
    assert len(text) < 10_000
    saved = [path for path in tmp_path.iterdir()]
    assert len(saved) == 1 and str(saved[0]) in text and "sed -n" in text
    assert saved[0].read_text() == lines
    assert stat.S_IMODE(saved[0].stat().st_mode) == 0o600


async def test_the_measured_prefix_is_exact_and_only_new_content_is_estimated() -> None:
    tm = manager()
    system = [{"type": "text", "text": "You drive a desktop."}]
    tools = [{"type": "bash_20250124", "name": "bash"}]
    history: list[Any] = [
        {"role": "user", "content": "list the files in my home directory"}
    ]
    first = tm.estimate_input_tokens(system=system, messages=history, tools=tools)
    reservation = await tm.acquire(first, 100)
    tm.reconcile(reservation, {"input_tokens": 1_234, "output_tokens": 50})
    history += [
        {"role": "assistant", "content": [{"type": "text", "text": "Sure."}]},
        {"role": "user", "content": "thanks"},
    ]
    second = tm.estimate_input_tokens(system=system, messages=history, tools=tools)
    new_part = tm.estimate_message_tokens(history[1]) + tm.estimate_message_tokens(
        history[2]
    )
    assert second == 1_234 + new_part


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


@pytest.mark.redis
def test_processes_sharing_redis_share_one_budget(redis_server: Any) -> None:
    from ratelimit.storage import RedisStorage

    first = manager(rpm=3, storage=RedisStorage(redis_server.url, prefix="t1"))
    second = manager(rpm=3, storage=RedisStorage(redis_server.url, prefix="t1"))
    for tm in (first, second, first):
        tm.acquire_sync(1, 1)
    assert second.snapshot().budgets["requests"].used == 3
    started = time.monotonic()
    done = threading.Event()

    def fourth() -> None:
        second.acquire_sync(1, 1)
        done.set()

    threading.Thread(target=fourth, daemon=True).start()
    assert not done.wait(0.3), "a fourth request in the window must wait"
    assert time.monotonic() - started >= 0.3


@pytest.mark.redis
def test_when_redis_goes_away_limiting_goes_on_locally(
    redis_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from ratelimit.storage import RedisStorage

    tm = manager(rpm=3, storage=RedisStorage(redis_server.url, prefix="t2"))
    tm.acquire_sync(1, 1)
    tm.acquire_sync(1, 1)
    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="token_manager"):
        tm.acquire_sync(1, 1)  # the third still fits: our own two were mirrored locally
    assert "Redis is unavailable" in caplog.text
    assert tm.snapshot().budgets["requests"].used == 3
    done = threading.Event()

    def fourth() -> None:
        tm.acquire_sync(1, 1)
        done.set()

    threading.Thread(target=fourth, daemon=True).start()
    assert not done.wait(0.3), "local limiting must still hold the fourth request"


@pytest.mark.slow
def test_a_million_acquisitions_stay_bounded_in_memory_and_time() -> None:
    clock = FakeClock()
    tm = manager(rpm=None, itpm=10**12, otpm=10**12, window=1.0, clock=clock)
    lap_seconds: list[float] = []
    started = time.perf_counter()
    for index in range(1_000_000):
        clock.now += 0.001
        reservation = tm.acquire_sync(10, 10)
        tm.reconcile(reservation, {"input_tokens": 9, "output_tokens": 5})
        if index % 100_000 == 99_999:
            lap_seconds.append(time.perf_counter() - started)
            started = time.perf_counter()
    assert not tm._held, "no reservation is kept once reconciled"
    assert all(len(window.entries) <= 1_001 for window in tm._local.windows.values())
    assert max(lap_seconds) < 3 * min(lap_seconds), (
        f"time per call stays flat: {lap_seconds}"
    )


async def test_the_server_count_is_available_as_an_option() -> None:
    import anthropic

    from tests.fake_api import FakeAnthropicAPI

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
