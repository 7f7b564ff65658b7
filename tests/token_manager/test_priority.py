"""Interactive callers before batch ones, in one process: by at most one window.

Time is a `FakeTime`: the queue's order is pure arithmetic on arrival times.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.token_manager.fake_time import FakeTime, settle
from token_manager import RateLimits, TokenManager
from token_manager.settings import read_settings


def faked(clock: FakeTime, **kwargs: Any) -> TokenManager:
    return TokenManager(
        RateLimits(1, None, None, 10.0), clock=clock, waiting=clock, **kwargs
    )


async def run_in_order(
    tm: TokenManager, clock: FakeTime, arrivals: list[tuple[str, str, float]]
) -> list[str]:
    """Each (name, priority, seconds after the previous arrival) asks for one
    request; the window then moves on until everyone went. The grant order."""
    order: list[str] = []

    async def ask(name: str, priority: str) -> None:
        reservation = await tm.acquire(1, 0, priority=priority)
        order.append(name)
        tm.reconcile(reservation, {"input_tokens": 1})

    tasks = []
    for name, priority, after in arrivals:
        clock.advance(after)
        await settle()
        tasks.append(asyncio.ensure_future(ask(name, priority)))
        await settle()
    for _ in range(len(arrivals) + 1):
        clock.advance(10.5)  # one window and a little: one more grant each time
        await settle()
    await asyncio.gather(*tasks)
    return order


async def test_an_interactive_caller_goes_before_a_batch_one_that_came_first() -> None:
    clock = FakeTime()
    tm = faked(clock)
    tm.reconcile(await tm.acquire(1, 0), {"input_tokens": 1})  # the window is full
    order = await run_in_order(
        tm, clock, [("batch", "batch", 0.0), ("app", "interactive", 1.0)]
    )
    assert order == ["app", "batch"]


async def test_a_batch_caller_ages_into_priority_after_one_window() -> None:
    """Nothing starves: interactive callers arriving more than one window after
    a batch caller stand behind it."""
    clock = FakeTime()
    tm = faked(clock)
    tm.reconcile(await tm.acquire(1, 0), {"input_tokens": 1})
    order = await run_in_order(
        tm,
        clock,
        [
            ("batch", "batch", 0.0),
            ("app-soon", "interactive", 4.0),
            ("app-late", "interactive", 7.0),  # 11 s after the batch caller
        ],
    )
    assert order == ["app-soon", "batch", "app-late"]


async def test_callers_of_one_priority_stay_first_come_first_served() -> None:
    clock = FakeTime()
    tm = faked(clock, priority="batch")
    tm.reconcile(await tm.acquire(1, 0), {"input_tokens": 1})
    order = await run_in_order(
        tm, clock, [(f"job-{index}", "batch", 0.5) for index in range(4)]
    )
    assert order == ["job-0", "job-1", "job-2", "job-3"]


def test_the_priority_is_a_documented_setting_and_a_wrong_one_is_refused() -> None:
    assert read_settings({}).priority == "interactive"
    settings = read_settings({"TOKEN_MANAGER_PRIORITY": "Batch"})
    assert TokenManager.from_env({"TOKEN_MANAGER_PRIORITY": "batch"}).priority == (
        settings.priority
    )
    with pytest.raises(ValueError, match="interactive, batch"):
        TokenManager(RateLimits(1, None, None), priority="urgent")
