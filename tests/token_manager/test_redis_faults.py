"""The shared budget under real Redis faults: a blip (CLIENT PAUSE), a frozen
server (SIGSTOP), restarts empty and with data. Nothing hangs the fleet once
Redis answers, nothing is lost, and no window holds more than the limit.

Two "processes" are two managers, each with its own `RedisStore` (its own
instance id and heartbeat) on one real redis-server.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time

import pytest

from fake_anthropic.server import free_port
from tests.plugins.redis_server import RedisProcess, TcpProxy
from token_manager import RateLimits, Reservation, TokenManager, wait_phrase
from token_manager.budgets import SHARED_STORE
from token_manager.stores import (
    FallbackStore,
    MemoryStore,
    RedisStore,
    StorageUnavailable,
)

pytestmark = [pytest.mark.redis, pytest.mark.slow]

WINDOW = 4.0


def manager(
    url: str, prefix: str, itpm: int = 1_000, window: float = WINDOW
) -> TokenManager:
    return TokenManager(
        RateLimits(None, itpm, None, window),
        storage=RedisStore(url, prefix=prefix),
        explicit_limits=(),
    )


def acquire_in_thread(
    tm: TokenManager, tokens: int
) -> tuple[threading.Thread, list[tuple[float, Reservation]]]:
    """Start an acquire in a thread; its grant lands in the list with its time."""
    granted: list[tuple[float, Reservation]] = []

    def run() -> None:
        reservation = tm.acquire_sync(tokens, 0)
        granted.append((time.monotonic(), reservation))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, granted


def shared_input(
    redis_server: RedisProcess, prefix: str, window: float = WINDOW
) -> int:
    store = RedisStore(redis_server.url, prefix=prefix)
    return store.usage("default", window, 0.0)["input_tokens"]


def test_a_frozen_redis_fails_a_call_within_one_socket_timeout(
    redis_server: RedisProcess,
) -> None:
    store = RedisStore(redis_server.url, prefix="frozen-call")
    store.usage("default", WINDOW, 0.0)  # connected
    redis_server.freeze()
    try:
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            store.usage("default", WINDOW, 0.0)
        took = time.monotonic() - started
    finally:
        redis_server.thaw()
    # One 2 s socket timeout: a call on a frozen server fails, never hangs.
    assert took < 3.5, took


async def test_once_its_lease_lapses_a_waiter_says_it_waits_for_redis() -> None:
    """Nothing listens at the URL: the newcomer's half share, for half a
    window, then waits that say why (never a silent hang)."""
    tm = TokenManager(
        RateLimits(None, 1_000, None, 2.0),
        storage=RedisStore(f"redis://127.0.0.1:{free_port()}/0", prefix="never"),
        explicit_limits=(),
    )
    tm.reconcile(await tm.acquire(300, 0), {"input_tokens": 300})
    await asyncio.sleep(1.2)  # past the newcomer's lease (half of the 2 s window)
    waits: list[str] = []
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(
            tm.acquire(100, 0, on_wait=lambda reason, _: waits.append(reason)), 3
        )
    assert waits == [SHARED_STORE]
    assert wait_phrase(SHARED_STORE) == "Redis (the fleet's shared budget) to answer"


def test_a_waiter_granted_locally_during_a_blip_leaves_the_shared_queue(
    redis_server: RedisProcess,
) -> None:
    first, second = manager(redis_server.url, "h1"), manager(redis_server.url, "h1")
    second.reconcile(second.acquire_sync(900, 0), {"input_tokens": 900})
    thread, granted = acquire_in_thread(first, 400)
    time.sleep(0.5)  # the first waits at the head of the shared queue
    assert not granted
    redis_server.pause(2.5)
    thread.join(10)
    assert granted, "granted locally during the blip (its share of the limit)"
    first.reconcile(granted[0][1], {"input_tokens": 400})
    time.sleep(WINDOW + 0.5)  # every charge so far has expired
    thread, later = acquire_in_thread(second, 100)
    thread.join(4)
    assert later, "the other process's request on an empty budget goes"
    thread, own = acquire_in_thread(first, 100)
    thread.join(4)
    assert own, "and the same process's next one"


def test_a_reconcile_while_redis_is_down_reaches_redis_once_it_answers(
    redis_server: RedisProcess,
) -> None:
    first = manager(redis_server.url, "h2", itpm=2_000)
    second = manager(redis_server.url, "h2", itpm=2_000)
    reservation = first.acquire_sync(1_500, 0)
    redis_server.pause(2.5)
    first.pool_reports()  # a status read times out: the store is marked down
    assert not first.snapshot().shared_available
    first.reconcile(reservation, {"input_tokens": 100})
    time.sleep(1.0)
    thread, granted = acquire_in_thread(second, 1_000)
    thread.join(6)
    assert granted, "the 1,400 given back reached Redis: 1,000 more fit"
    deadline = time.monotonic() + 5
    while shared_input(redis_server, "h2") != 1_100 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert shared_input(redis_server, "h2") == 1_100


def admitted_in_any_window(grants: list[tuple[float, int]]) -> int:
    """The most input tokens admitted within any WINDOW seconds."""
    return max(
        sum(size for at, size in grants if start <= at < start + WINDOW)
        for start, _ in grants
    )


@pytest.mark.parametrize("keep_data", [False, True])
def test_charges_survive_a_redis_restart(
    redis_server: RedisProcess, keep_data: bool
) -> None:
    prefix = f"h3{keep_data}"
    first, second = manager(redis_server.url, prefix), manager(redis_server.url, prefix)
    second.reconcile(second.acquire_sync(1, 0), {"input_tokens": 1})  # in the fleet
    time.sleep(WINDOW + 0.1)
    reservation = first.acquire_sync(900, 0)
    first.reconcile(reservation, {"input_tokens": 900})
    settled = time.monotonic()
    redis_server.restart(keep_data=keep_data)
    thread, granted = acquire_in_thread(second, 900)
    thread.join(WINDOW + 6)
    assert granted
    assert granted[0][0] - settled >= WINDOW - 0.2, (
        "the first process's 900 still counted after the restart"
    )


def test_charges_admitted_locally_during_a_blip_reach_redis(
    redis_server: RedisProcess,
) -> None:
    first, second = manager(redis_server.url, "h4"), manager(redis_server.url, "h4")
    # Both have spoken to Redis: each knows the other is there.
    second.reconcile(second.acquire_sync(1, 0), {"input_tokens": 1})
    first.reconcile(first.acquire_sync(1, 0), {"input_tokens": 1})
    time.sleep(WINDOW + 0.1)
    redis_server.pause(2.5)
    first.snapshot()  # marked down
    local = first.acquire_sync(400, 0)  # within its share: granted locally
    local_at = time.monotonic()
    first.reconcile(local, {"input_tokens": 400})
    time.sleep(1.0)  # Redis answers again
    grants = [(local_at, 400)]
    thread, granted = acquire_in_thread(second, 1_000)
    thread.join(WINDOW + 6)
    assert granted
    grants.append((granted[0][0], 1_000))
    assert admitted_in_any_window(grants) <= 1_000


def test_a_frozen_redis_bounds_each_process_to_its_share(
    redis_server: RedisProcess,
) -> None:
    # A lease of half a window outlasts the client's 2 s timeout at 10 s windows.
    first, second = (manager(redis_server.url, "h5", window=10.0) for _ in range(2))
    for tm in (first, second):
        tm.reconcile(tm.acquire_sync(1, 0), {"input_tokens": 1})
    time.sleep(1.0)
    redis_server.freeze()
    try:
        admitted = 0
        for tm in (first, second):
            for attempt in range(3):
                thread, granted = acquire_in_thread(tm, 300)
                # The first meets the client's timeout and the lease's start;
                # by then the process limits itself locally, deciding at once.
                thread.join(5 if attempt == 0 else 2)
                if granted:
                    tm.reconcile(granted[0][1], {"input_tokens": 300})
                    admitted += 300
        assert 0 < admitted <= 1_000 - 2, "each spent at most its half of 1,000"
    finally:
        redis_server.thaw()


def test_what_a_process_borrowed_after_anothers_heartbeat_counts_in_an_outage(
    redis_server: RedisProcess,
) -> None:
    """A borrows above its half of 1,000 and Redis freezes at once, before B's
    next heartbeat: B, alone for the outage, still holds back what A took."""
    window = 16.0  # a 4 s lease: B spends alone from 4 s to 8 s of silence
    limits: dict[str, int | None] = {
        "requests": None,
        "input_tokens": 1_000,
        "output_tokens": None,
    }

    def asks(tokens: int) -> dict[str, int]:
        return {"requests": 1, "input_tokens": tokens, "output_tokens": 0}

    def process() -> tuple[RedisStore, FallbackStore]:
        shared = RedisStore(redis_server.url, prefix="h-borrow")
        return shared, FallbackStore(MemoryStore(window), shared, time.monotonic)

    (a_shared, a), (b_shared, b) = process(), process()
    try:
        for each in (a, b):  # both live, each leased half
            contact = each.try_reserve("default", asks(1), limits, window, 0.0)
            assert contact.handle is not None
            each.settle(contact.handle, asks(1), time.monotonic())
        for shared in (a_shared, b_shared):
            shared.refresh_leases()
        deadline = time.monotonic() + 5
        borrowed = None
        while borrowed is None and time.monotonic() < deadline:
            now = time.monotonic()
            borrowed = a.try_reserve("default", asks(800), limits, window, now).handle
            time.sleep(0.05)
        assert borrowed is not None, "A borrows once B has heard of it"
        redis_server.freeze()
        try:
            spent, started = 0, time.monotonic()
            while time.monotonic() - started < 10:
                now = time.monotonic()
                decision = b.try_reserve("default", asks(50), limits, window, now)
                if decision.handle is not None:
                    b.settle(decision.handle, asks(50), now)
                    spent += 50
                time.sleep(0.1)
        finally:
            redis_server.thaw()
        assert spent > 0, "B spent within its share while Redis was away"
        assert 800 + 2 + spent <= 1_000, f"B spent {spent} beside A's 800"
    finally:
        for shared in (a_shared, b_shared):
            shared.close()


def test_a_borrower_waits_for_the_others_to_hear_it_not_for_their_heartbeat(
    redis_server: RedisProcess,
) -> None:
    """A grant above this process's half waits until the other process has
    heard the raised cap: told on the pool's channel, it beats at once, well
    before its next heartbeat (every 1.7 s at a minute's window)."""
    first, second = (manager(redis_server.url, "h-told", window=60.0) for _ in range(2))
    for tm in (first, second):  # both live, both listening to the pool's channel
        tm.reconcile(tm.acquire_sync(1, 0), {"input_tokens": 1})
    time.sleep(0.5)
    started = time.monotonic()
    first.acquire_sync(800, 0)
    took = time.monotonic() - started
    assert took < 0.5, f"the borrow took {took:.2f} s"


def test_a_process_cut_off_past_its_claim_is_granted_again_at_once(
    redis_server: RedisProcess,
) -> None:
    """Redis forgot this process alone (its claim ended while it was cut off):
    it writes its charges back and goes on, with no restart's wait for the
    others to write theirs (two heartbeats and half a second)."""
    window = 4.0  # a 1 s lease, a 6 s claim
    proxy = TcpProxy(redis_server.port)
    try:
        tm = manager(proxy.url, "h-cut", window=window)
        tm.reconcile(tm.acquire_sync(100, 0), {"input_tokens": 100})
        proxy.cut()
        time.sleep(1.5 * window + 1.0)
        proxy.mend()
        started = time.monotonic()
        tm.reconcile(tm.acquire_sync(1, 0), {"input_tokens": 1})
        took = time.monotonic() - started
        assert took < 1.5, f"granted {took:.1f} s after Redis answered again"
        assert shared_input(redis_server, "h-cut", window) == 1
    finally:
        proxy.close()


async def test_cancelling_waiters_at_any_point_leaves_no_ticket(
    redis_server: RedisProcess,
) -> None:
    """Each trial is a new process's first use of the pool (its first attempt
    is the slow one), cancelled at a random moment while the budget is full."""
    holder = TokenManager(
        RateLimits(1, None, None, 30.0),
        storage=RedisStore(redis_server.url, prefix="h6"),
        explicit_limits=(),
    )
    await holder.acquire(1, 0)  # the one request of the window: everyone waits
    rng = random.Random(19)
    for _ in range(40):
        tm = TokenManager(
            RateLimits(1, None, None, 30.0),
            storage=RedisStore(redis_server.url, prefix="h6"),
            explicit_limits=(),
        )
        task = asyncio.ensure_future(tm.acquire(1, 0))
        for _ in range(rng.randrange(4)):
            await asyncio.sleep(0)
        await asyncio.sleep(rng.uniform(0.0, 0.004))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    client = redis_server.client()

    def tickets() -> int:
        return sum(int(client.zcard(queue)) for queue in client.keys("h6:*:queue"))

    def drained() -> bool:  # the stores' own threads send the LEAVEs
        deadline = time.monotonic() + 5
        while tickets() and time.monotonic() < deadline:
            time.sleep(0.1)
        return tickets() == 0

    assert await asyncio.to_thread(drained), (
        "every cancelled waiter's ticket left the shared queue"
    )


FAULTS_AT_START = {
    "stopped": (RedisProcess.stop, lambda server: server.restart(keep_data=False)),
    "frozen": (RedisProcess.freeze, RedisProcess.thaw),
    "paused": (lambda server: server.pause(6.0), lambda server: time.sleep(6.0)),
}


@pytest.mark.parametrize("fault", sorted(FAULTS_AT_START))
async def test_a_process_starting_while_redis_is_down_spends_only_its_lease_share(
    redis_server: RedisProcess, fault: str
) -> None:
    strike, mend = FAULTS_AT_START[fault]
    strike(redis_server)
    tm = manager(redis_server.url, f"h7{fault}", window=10.0)
    admitted = 0
    for _ in range(3):  # the first meets the client's 2 s timeout
        try:
            timeout = 1.0 if admitted else 4.0
            granted = await asyncio.wait_for(tm.acquire(300, 0), timeout)
        except TimeoutError:
            break
        tm.reconcile(granted, {"input_tokens": 300})
        admitted += 300
    assert admitted == 300, "half of the 1,000: never the whole limit alone"
    await asyncio.to_thread(mend, redis_server)

    def written_back() -> bool:
        deadline = time.monotonic() + 6
        while shared_input(redis_server, f"h7{fault}", 10.0) != 300:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        time.sleep(1.0)
        return shared_input(redis_server, f"h7{fault}", 10.0) == 300

    assert await asyncio.to_thread(written_back), "its 300 reach Redis, once"


def test_a_restart_with_older_data_is_noticed_and_nothing_is_over_admitted(
    redis_server: RedisProcess,
) -> None:
    """Redis comes back with its last snapshot (a crash after a save): it still
    knows both processes, but not a charge made since. The process that made it
    notices the new server (its run id) and writes it back before anyone is
    granted against the older data."""
    window = 30.0
    first = manager(redis_server.url, "h9", itpm=1_000, window=window)
    second = manager(redis_server.url, "h9", itpm=1_000, window=window)
    second.reconcile(second.acquire_sync(1, 0), {"input_tokens": 1})  # known to Redis
    redis_server.save()
    first.reconcile(first.acquire_sync(800, 0), {"input_tokens": 800})
    deadline = time.monotonic() + 5
    while (
        shared_input(redis_server, "h9", window) < 801 and time.monotonic() < deadline
    ):
        time.sleep(0.05)  # the settle reached Redis (after the snapshot)
    redis_server.restart(keep_data=True, save=False)
    assert shared_input(redis_server, "h9", window) == 1, "the snapshot lacks the 800"
    thread, granted = acquire_in_thread(second, 500)
    thread.join(8)
    assert not granted, "801 are charged: 500 more would pass the limit"
    assert shared_input(redis_server, "h9", window) >= 801, "the 800 were written back"
