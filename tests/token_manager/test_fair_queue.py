"""The shared queue: processes on one Redis pool are served in arrival order.

Two "processes" are two `RedisStore`s (each its own instance id) against a real
redis-server; one test kills a real child process with SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.redis_server import RedisClusterProcesses, RedisProcess
from token_manager import RateLimits, TokenManager
from token_manager.stores import RedisStore, Ticket
from token_manager.stores.redis import CLAIM_WINDOWS

pytestmark = pytest.mark.redis

WINDOW = 0.5
ROOT = Path(__file__).resolve().parents[2]
LIMITS: dict[str, int | None] = {
    "requests": 1,
    "input_tokens": None,
    "output_tokens": None,
}
ONE = {"requests": 1, "input_tokens": 0, "output_tokens": 0}
# A pool that admits 1,000 input tokens a window, and a request of 900: once 500
# are charged, the head of the queue must wait for the big one to fit.
INPUT_LIMIT_ONLY: dict[str, int | None] = {
    "requests": None,
    "input_tokens": 1_000,
    "output_tokens": None,
}
BIG = {"requests": 1, "input_tokens": 900, "output_tokens": 0}


def manager(store: RedisStore, rpm: int = 1, **kwargs: Any) -> TokenManager:
    return TokenManager(
        RateLimits(rpm, None, None, WINDOW),
        storage=store,
        explicit_limits=(),
        **kwargs,
    )


def wait_until(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


def fill_window(tm: TokenManager) -> None:
    tm.reconcile(tm.acquire_sync(1, 0), {"input_tokens": 1})


def test_waiters_of_two_processes_are_served_in_arrival_order(
    redis_server: RedisProcess,
) -> None:
    stores = [RedisStore(redis_server.url, prefix="f1") for _ in range(2)]
    first, second = (manager(store) for store in stores)
    fill_window(first)
    order: list[str] = []
    threads = []
    # Alternate processes; each waiter takes its ticket before the next comes.
    for index, (name, tm) in enumerate(
        [("a1", first), ("b1", second), ("a2", first), ("b2", second)]
    ):

        def ask(name: str = name, tm: TokenManager = tm) -> None:
            tm.reconcile(tm.acquire_sync(1, 0), {"input_tokens": 1})
            order.append(name)

        threads.append(threading.Thread(target=ask, daemon=True))
        threads[-1].start()
        assert wait_until(
            lambda index=index: stores[0].waiting("default") + len(order) > index
        )
    for thread in threads:
        thread.join(10)
    assert order == ["a1", "b1", "a2", "b2"]
    assert stores[0].waiting("default") == 0
    for store in stores:
        store.close()


def run_big_against_small(url: str, prefix: str, fair: bool) -> tuple[float, int]:
    """Process A asks for 900 of 1,000 input tokens; process B, arriving just
    after, keeps asking for 100 at a time from four threads. How long A waited,
    and how many of B's requests went while A waited."""
    stores = [RedisStore(url, prefix=prefix, fair_queue=fair) for _ in range(2)]
    big, small = (
        TokenManager(
            RateLimits(None, 1_000, None, WINDOW), storage=store, explicit_limits=()
        )
        for store in stores
    )
    big.reconcile(big.acquire_sync(600, 0), {"input_tokens": 600})
    done = threading.Event()
    overtook = [0]
    result: list[float] = []

    def ask_big() -> None:
        started = time.monotonic()
        big.reconcile(big.acquire_sync(900, 0), {"input_tokens": 900})
        result.append(time.monotonic() - started)
        done.set()

    def ask_small() -> None:
        while not done.is_set():
            reservation = small.acquire_sync(100, 0)
            if not done.is_set():
                overtook[0] += 1
            small.reconcile(reservation, {"input_tokens": 100})

    threading.Thread(target=ask_big, daemon=True).start()
    time.sleep(0.05)
    for _ in range(4):
        threading.Thread(target=ask_small, daemon=True).start()
    done.wait(4 * WINDOW + 2)
    for store in stores:
        store.close()
    return (result[0] if result else float("inf")), overtook[0]


def test_a_big_request_is_not_starved_by_another_process_small_ones(
    redis_server: RedisProcess,
) -> None:
    waited, overtook = run_big_against_small(redis_server.url, "f9", fair=True)
    assert waited < 2 * WINDOW + 0.3
    assert overtook <= 4, "at most the few that fit before the big one queued"
    # Today's polling, for contrast: the small ones keep the window busy.
    waited_before, overtook_before = run_big_against_small(
        redis_server.url, "f9-old", fair=False
    )
    assert waited_before > waited and overtook_before > overtook


def test_without_the_fair_queue_nobody_holds_a_ticket(
    redis_server: RedisProcess,
) -> None:
    store = RedisStore(redis_server.url, prefix="f2", fair_queue=False)
    other = RedisStore(redis_server.url, prefix="f2")
    assert store.try_reserve("p", ONE, LIMITS, WINDOW, 0.0, ticket=Ticket("x")).handle
    blocked = store.try_reserve("p", ONE, LIMITS, WINDOW, 0.0, ticket=Ticket("y"))
    assert blocked.handle is None and not blocked.behind
    assert other.waiting("p") == 0


def test_the_head_alone_may_reserve_even_when_budget_is_free(
    redis_server: RedisProcess,
) -> None:
    first = RedisStore(redis_server.url, prefix="f3")
    second = RedisStore(redis_server.url, prefix="f3")
    limits = {**LIMITS, "requests": 2}
    taken = first.try_reserve("p", ONE, limits, WINDOW, 0.0)
    assert taken.handle is not None
    first.settle(taken.handle, ONE, 0.0)
    # In flight: it stays. Each process then holds its half (nobody borrows).
    assert second.try_reserve("p", ONE, limits, WINDOW, 0.0).handle is not None
    head = first.try_reserve("p", ONE, limits, WINDOW, 0.0, ticket=Ticket("a"))
    assert head.handle is None and not head.behind, "the head waits for budget"
    behind = second.try_reserve("p", ONE, limits, WINDOW, 0.0, ticket=Ticket("b"))
    assert behind.behind and behind.order is not None
    time.sleep(WINDOW + 0.05)  # the settled charge expires: one request fits
    again = second.try_reserve("p", ONE, limits, WINDOW, 0.0, ticket=Ticket("b"))
    assert again.behind, "budget is free, but the head came first"
    assert first.try_reserve(
        "p", ONE, limits, WINDOW, 0.0, ticket=Ticket("a")
    ).handle, "the head goes"
    for store in (first, second):
        store.close()


def test_a_dead_process_ticket_expires_and_the_queue_moves_on(
    redis_server: RedisProcess,
) -> None:
    dead = RedisStore(redis_server.url, prefix="f4")
    alive = RedisStore(redis_server.url, prefix="f4")
    tm = TokenManager(
        RateLimits(None, 1_000, None, 2.0), storage=alive, explicit_limits=()
    )
    tm.reconcile(tm.acquire_sync(500, 0), {"input_tokens": 500})
    assert not dead.try_reserve(
        "default", BIG, INPUT_LIMIT_ONLY, 2.0, 0.0, ticket=Ticket("gone")
    ).handle, "the head waits for 900 to be free"
    dead.close()  # no heartbeat any more: as if the process were killed
    started = time.monotonic()
    tm.acquire_sync(100, 0)  # fits at once, but stands behind the dead head
    waited = time.monotonic() - started
    assert 0.2 < waited < 1.5, "behind the dead ticket until its lease (0.5 s) lapsed"
    assert alive.waiting("default") == 0


def test_a_live_process_keeps_its_place_by_heartbeat(
    redis_server: RedisProcess,
) -> None:
    holder = RedisStore(redis_server.url, prefix="f5")
    other = RedisStore(redis_server.url, prefix="f5")
    limits = {**LIMITS, "requests": 1}
    assert holder.try_reserve("p", ONE, limits, WINDOW, 0.0).handle  # in flight
    holder.try_reserve("p", ONE, limits, WINDOW, 0.0, ticket=Ticket("mine"))
    time.sleep(2.0)  # four leases: only the heartbeat keeps them
    assert holder.waiting("p") == 1
    assert other.usage("p", WINDOW, 0.0)["requests"] == 1, "still in flight"
    behind = other.try_reserve("p", ONE, limits, WINDOW, 0.0, ticket=Ticket("x"))
    assert behind.behind
    holder.close()
    other.close()


async def test_a_cancelled_waiter_leaves_the_shared_queue(
    redis_server: RedisProcess,
) -> None:
    store = RedisStore(redis_server.url, prefix="f6")
    tm = manager(store)
    await asyncio.to_thread(fill_window, tm)
    waiting = asyncio.ensure_future(tm.acquire(1, 0))
    assert await asyncio.to_thread(wait_until, lambda: store.waiting("default") == 1)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert await asyncio.to_thread(
        wait_until, lambda: store.waiting("default") == 0, 0.5
    ), "gone at once, not after its lease"
    assert not tm.snapshot().waiters
    # and the next caller is not held back by it
    started = time.monotonic()
    await tm.acquire(1, 0)
    assert time.monotonic() - started < WINDOW + 0.3
    store.close()


def test_a_batch_ticket_waits_behind_interactive_ones_for_a_bounded_time(
    redis_server: RedisProcess,
) -> None:
    batch = RedisStore(redis_server.url, prefix="f7")
    app = RedisStore(redis_server.url, prefix="f7")
    full = {**LIMITS, "requests": 1}
    assert app.try_reserve("p", ONE, full, WINDOW, 0.0).handle  # in flight: full
    batch.try_reserve("p", ONE, full, WINDOW, 0.0, ticket=Ticket("job", delay=0.3))
    soon = app.try_reserve("p", ONE, full, WINDOW, 0.0, ticket=Ticket("soon"))
    assert not soon.behind, "an interactive caller arriving soon after goes first"
    time.sleep(0.4)
    late = app.try_reserve("p", ONE, full, WINDOW, 0.0, ticket=Ticket("late"))
    job = batch.try_reserve("p", ONE, full, WINDOW, 0.0, ticket=Ticket("job", 0.3))
    assert late.behind and job.behind
    assert job.order is not None and late.order is not None
    assert job.order < late.order, "after its delay the batch caller is ahead"
    batch.close()
    app.close()


CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from token_manager import RateLimits, TokenManager
from token_manager.stores import RedisStore
store = RedisStore({url!r}, prefix="f8")
tm = TokenManager(RateLimits(2, None, None, {window}), storage=store)
tm.acquire_sync(1, 0)          # in flight, never settled
print("holding", flush=True)
tm.acquire_sync(1, 0)          # in flight too: the pool is full
print("full", flush=True)
tm.acquire_sync(1, 0)          # waits at the head of the queue
"""


def test_a_killed_process_frees_its_place_within_one_lease(
    redis_server: RedisProcess,
) -> None:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD.format(root=str(ROOT), url=redis_server.url, window=2.0),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "holding"
        assert child.stdout.readline().strip() == "full"
        store = RedisStore(redis_server.url, prefix="f8")
        assert wait_until(lambda: store.waiting("default") == 1)
        time.sleep(1.5)  # the child's heartbeat keeps everything alive
        assert store.waiting("default") == 1
        os.kill(child.pid, signal.SIGKILL)
        killed = time.monotonic()
        tm = TokenManager(RateLimits(2, None, None, 2.0), storage=store)
        tm.acquire_sync(1, 0)
        waited = time.monotonic() - killed
        # The dead ticket goes within one lease (0.5 s); the dead requests in
        # flight count one window more after their lease, as the server's would,
        # and the share it held (all of it: it was alone) is held back for its
        # claim (CLAIM_WINDOWS windows after its last contact).
        assert store.waiting("default") == 0
        assert 2.0 < waited < CLAIM_WINDOWS * 2.0 + 1.0
    finally:
        child.kill()
        child.wait(5)


def test_every_queue_script_runs_in_one_cluster_slot(
    redis_cluster: RedisClusterProcesses,
) -> None:
    from redis.cluster import key_slot

    first = RedisStore(redis_cluster.url, prefix="fc")
    second = RedisStore(redis_cluster.url, prefix="fc")
    for pool in ("opus-4", "sonnet-4"):
        keys = first.keys(pool) + first.queue_keys(pool)
        assert len({key_slot(key.encode()) for key in keys}) == 1
    limits = {**LIMITS, "requests": 1}
    held = first.try_reserve("sonnet-4", ONE, limits, WINDOW, 0.0, ticket=Ticket("a"))
    assert held.handle is not None
    head = first.try_reserve("sonnet-4", ONE, limits, WINDOW, 0.0, ticket=Ticket("b"))
    behind = second.try_reserve(
        "sonnet-4", ONE, limits, WINDOW, 0.0, ticket=Ticket("c")
    )
    assert head.handle is None and not head.behind and behind.behind
    first.refresh_leases()
    second.refresh_leases()
    assert first.waiting("sonnet-4") == 2
    second.leave("sonnet-4", Ticket("c"))
    assert first.waiting("sonnet-4") == 1
    first.settle(held.handle, ONE, 0.0)
    assert first.report("sonnet-4", WINDOW, 0.0).waiters == 1
    for store in (first, second):
        store.close()


def test_a_new_head_hears_at_once_not_at_its_next_recheck(
    redis_server: RedisProcess,
) -> None:
    """Pub/sub: when the ticket ahead leaves, the next one asks within
    milliseconds, not at its re-check a second later (60 s window)."""
    ahead = RedisStore(redis_server.url, prefix="f10")
    store = RedisStore(redis_server.url, prefix="f10")
    tm = TokenManager(
        RateLimits(None, 1_000, None, 60.0), storage=store, explicit_limits=()
    )
    # 400, then 100: within its half of 1,000 (a borrow would wait a heartbeat).
    tm.reconcile(tm.acquire_sync(400, 0), {"input_tokens": 400})
    assert not ahead.try_reserve(
        "default", BIG, INPUT_LIMIT_ONLY, 60.0, 0.0, ticket=Ticket("a")
    ).handle
    granted = threading.Event()

    def ask() -> None:
        tm.acquire_sync(100, 0)
        granted.set()

    threading.Thread(target=ask, daemon=True).start()
    assert wait_until(lambda: store.waiting("default") == 2)
    time.sleep(1.2)  # its re-check rhythm (1 s) is under way
    assert not granted.is_set()
    left = time.monotonic()
    ahead.leave("default", Ticket("a"))
    assert granted.wait(2)
    assert time.monotonic() - left < 0.4
    for each in (ahead, store):
        each.close()
