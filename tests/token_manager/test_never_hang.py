"""The reproduced unsafe cases of issue 12: each failed on the old manager.

Limits that drop while a request waits, waiters that spin, phantom charges
that pile up, cancellation that leaks, estimates that swap, latency that
frees budget early. Time is faked: nothing sleeps.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from tests.token_manager.fake_time import FakeTime, settle
from token_manager import RateLimits, RequestTooLargeError, TokenManager
from token_manager.stores import Decision, Handle, MemoryStore


def faked(
    clock: FakeTime, itpm: int | None = 40_000, window: float = 2.0, **kwargs: Any
) -> TokenManager:
    return TokenManager(
        RateLimits(None, itpm, None, window),
        clock=clock,
        waiting=clock,
        explicit_limits=(),
        **kwargs,
    )


async def test_a_waiter_that_no_longer_fits_fails_at_once_and_the_queue_moves_on() -> (
    None
):
    clock = FakeTime()
    tm = faked(clock)
    first = await tm.acquire(30_000, 0)
    tm.reconcile(first, {"input_tokens": 30_000})
    big = asyncio.ensure_future(tm.acquire(35_000, 0))
    small = asyncio.ensure_future(tm.acquire(100, 0))
    await settle()
    tm.update_from_headers({"anthropic-ratelimit-input-tokens-limit": "30000"})
    await settle()
    assert big.done(), "the limit fell below its size: it can never go"
    with pytest.raises(RequestTooLargeError, match="input tokens/min limit 30,000"):
        big.result()
    clock.advance(2.01)
    await settle()
    assert small.done(), "the one behind it goes once the window frees"
    tm.reconcile(small.result(), {"input_tokens": 100})
    assert tm.snapshot().waiters == 0


def test_set_limits_fails_a_blocked_thread_waiter_too() -> None:
    clock = FakeTime()
    tm = faked(clock)
    tm.reconcile(tm.acquire_sync(30_000, 0), {"input_tokens": 30_000})
    outcome: list[BaseException | None] = []

    def wait() -> None:
        try:
            tm.acquire_sync(35_000, 0)
            outcome.append(None)
        except RequestTooLargeError as error:
            outcome.append(error)

    thread = threading.Thread(target=wait)
    thread.start()
    assert clock.wait_for_pauses(1), "the thread is waiting"
    tm.set_limits(RateLimits(None, 30_000, None, 2.0))
    thread.join(5)
    assert outcome and isinstance(outcome[0], RequestTooLargeError)


async def test_a_waiter_behind_the_head_sleeps_until_woken_never_polls() -> None:
    clock = FakeTime()
    tm = faked(clock, itpm=1_000)
    tm.reconcile(await tm.acquire(1_000, 0), {"input_tokens": 1_000})
    head = asyncio.ensure_future(tm.acquire(500, 0))
    behind = asyncio.ensure_future(tm.acquire(500, 0))
    await settle()
    pauses = clock.pauses
    # The head's ready time passes before its timer fires: nobody may poll.
    clock.now += 5.0
    for _ in range(100):
        await asyncio.sleep(0)
    assert clock.pauses == pauses, "no waiter re-checks without a reason"
    assert clock.sleepers == 1, "only the head has a timer; the one behind sleeps"
    clock.advance(0.01)
    await settle()
    assert head.done() and behind.done()
    assert clock.pauses <= pauses + 2


async def test_repeated_headers_never_pile_up_phantom_charges() -> None:
    clock = FakeTime()
    tm = faked(clock, itpm=80_000, window=60.0)
    reservation = await tm.acquire(10_000, 0)
    headers = {
        "anthropic-ratelimit-input-tokens-limit": "80000",
        "anthropic-ratelimit-input-tokens-remaining": "69000",
    }
    tm.update_from_headers(headers)  # the server counted 11,000: 1,000 unseen
    assert tm.snapshot().budgets["input_tokens"].used == 11_000
    tm.reconcile(reservation, {"input_tokens": 11_000})
    for _ in range(3):
        tm.update_from_headers(headers)
    assert tm.snapshot().budgets["input_tokens"].used == 11_000, (
        "the real 11,000 replaced the phantom; the server's 11,000 are counted once"
    )


class SlowSharedStore:
    """A 'shared' store whose grant lands while the caller is being cancelled."""

    def __init__(self) -> None:
        self.inner = MemoryStore(60.0)
        self.entered = threading.Event()
        self.go_on = threading.Event()
        self.granted: list[str] = []
        self.settled: dict[str, dict[str, int]] = {}

    def try_reserve(
        self,
        pool: str,
        amounts: dict[str, int],
        limits: dict[str, int | None],
        window: float,
        now: float,
        *,
        ticket: Any = None,
    ) -> Decision:
        self.entered.set()
        self.go_on.wait(5)
        decision = self.inner.try_reserve(pool, amounts, limits, window, now)
        if decision.handle is not None:
            decision.handle.shared = True
            self.granted.append(decision.handle.reservation_id)
        return decision

    def settle(self, handle: Handle, amounts: dict[str, int], now: float) -> None:
        self.settled[handle.reservation_id] = dict(amounts)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_cancelling_while_the_shared_store_grants_leaks_nothing() -> None:
    clock = FakeTime()
    store = SlowSharedStore()
    tm = faked(clock, storage=store)
    task = asyncio.ensure_future(tm.acquire(5_000, 0))
    await asyncio.to_thread(store.entered.wait, 5)
    task.cancel()
    await settle()
    store.go_on.set()  # the grant lands after the caller is gone
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(500):  # the worker thread finishes on its own time
        if store.settled:
            break
        await asyncio.sleep(0.01)
    assert not tm._state.held, "the late grant was released"
    assert tm._state.store.local.usage("default", 60.0, clock())["input_tokens"] == 0
    assert len(store.granted) == 1
    assert store.settled[store.granted[0]]["input_tokens"] == 0, (
        "the shared store got it back"
    )


async def test_two_requests_that_estimate_the_same_keep_their_own_details() -> None:
    tm = faked(FakeTime(), itpm=None)
    system = [{"type": "text", "text": "You drive a desktop."}]
    first = [{"role": "user", "content": "open file 1"}]
    second = [{"role": "user", "content": "open file 2"}]
    one = tm.estimate_request(system=system, messages=first)
    two = tm.estimate_request(system=system, messages=second)
    assert one.total_tokens == two.total_tokens
    reservation_one = await tm.acquire(one, 10)
    reservation_two = await tm.acquire(two, 10)
    tm.reconcile(reservation_one, {"input_tokens": 111})
    tm.reconcile(reservation_two, {"input_tokens": 222})
    grown = [*second, {"role": "assistant", "content": "ok"}]
    again = tm.estimate_request(system=system, messages=grown)
    assert again.total_tokens == 222 + tm.estimate_message_tokens(grown[1])


async def test_a_charge_expires_one_window_after_the_response_not_the_reservation() -> (
    None
):
    clock = FakeTime()
    tm = faked(clock, itpm=1_000, window=10.0)
    reservation = await tm.acquire(1_000, 0)
    clock.advance(30.0)  # a slow request: still in flight, still counted
    assert tm.snapshot().budgets["input_tokens"].used == 1_000
    tm.reconcile(reservation, {"input_tokens": 900})
    clock.advance(9.9)
    assert tm.snapshot().budgets["input_tokens"].used == 900
    clock.advance(0.2)
    assert tm.snapshot().budgets["input_tokens"].used == 0


async def test_admitted_total_stays_under_the_servers_bucket_whatever_the_latency() -> (
    None
):
    """A server that counts each request one window from when it *received* it;
    requests reach it `latency` after admission and answer `latency` later."""
    clock = FakeTime()
    window, limit, latency = 10.0, 10_000, 3.0
    tm = faked(clock, itpm=limit, window=window)
    received: list[tuple[float, int]] = []
    in_flight: list[tuple[float, Any]] = []
    for step in range(400):
        now = clock()
        for item in [item for item in in_flight if item[0] <= now]:
            in_flight.remove(item)
            tm.reconcile(item[1], {"input_tokens": 1_000})
        task = asyncio.ensure_future(tm.acquire(1_000, 0))
        await settle()
        if task.done():
            received.append((now + latency, 1_000))
            in_flight.append((now + 2 * latency, task.result()))
        else:
            task.cancel()
            await settle()
        clock.advance(0.25 + (step % 3) * 0.1)
        at = clock()
        held = sum(size for when, size in received if when <= at < when + window)
        assert held <= limit, f"the server would count {held} at {at}"
    assert len(received) > 20
