"""The shared store against a real redis-server, and a real 3-node Redis Cluster."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest

from tests.plugins.redis_server import RedisClusterProcesses, RedisProcess
from token_manager import RateLimits, RequestTooLargeError, TokenManager
from token_manager.stores import Decision, RedisStore, account_tag

pytestmark = pytest.mark.redis

SECRET_KEY = "sk-ant-api03-secret-for-tests"


def manager(
    store: RedisStore, rpm: int | None = 100, itpm: int | None = 40_000
) -> TokenManager:
    return TokenManager(
        RateLimits(rpm, itpm, None, 60.0), storage=store, explicit_limits=()
    )


def wait_for(condition: Any, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return bool(condition())


def store(url: str, prefix: str, **kwargs: Any) -> RedisStore:
    return RedisStore(url, prefix=prefix, account=account_tag(SECRET_KEY), **kwargs)


def test_processes_sharing_redis_share_one_budget(redis_server: RedisProcess) -> None:
    first = manager(store(redis_server.url, "t1"), rpm=3)
    second = manager(store(redis_server.url, "t1"), rpm=3)
    for tm in (first, second, first):
        tm.acquire_sync(1, 1)
    # The meter shows the fleet as the writer last read it (never waiting).
    assert wait_for(lambda: second.snapshot().budgets["requests"].used == 3)
    started = time.monotonic()
    done = threading.Event()

    def fourth() -> None:
        second.acquire_sync(1, 1)
        done.set()

    threading.Thread(target=fourth, daemon=True).start()
    assert not done.wait(0.3), "a fourth request in the window must wait"
    assert time.monotonic() - started >= 0.3


def test_a_newcomer_asked_for_a_fresh_look_sees_the_fleet_at_once(
    redis_server: RedisProcess,
) -> None:
    for _ in range(3):
        manager(store(redis_server.url, "t1b"), rpm=5).acquire_sync(1, 1)
    newcomer = manager(store(redis_server.url, "t1b"), rpm=5)
    assert newcomer.snapshot(fresh=True).budgets["requests"].used == 3
    # Its meter, which never waits, shows only its own until the writer has read.
    assert newcomer.snapshot().budgets["requests"].used in (0, 3)
    assert wait_for(lambda: newcomer.snapshot().budgets["requests"].used == 3)


def test_when_redis_goes_away_limiting_goes_on_locally(
    redis_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    tm = manager(store(redis_server.url, "t2"), rpm=3)
    tm.acquire_sync(1, 1)
    tm.acquire_sync(1, 1)
    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="token_manager"):
        tm.acquire_sync(1, 1)  # the third still fits: our own two were mirrored locally
    assert "Redis is unavailable" in caplog.text
    assert redis_server.url not in caplog.text
    assert tm.snapshot().budgets["requests"].used == 3
    assert not tm.snapshot().shared_available
    done = threading.Event()

    def fourth() -> None:
        tm.acquire_sync(1, 1)
        done.set()

    threading.Thread(target=fourth, daemon=True).start()
    assert not done.wait(0.3), "local limiting must still hold the fourth request"


def test_the_script_refuses_an_amount_above_the_limit(
    redis_server: RedisProcess,
) -> None:
    shared = store(redis_server.url, "t3")
    limits: dict[str, int | None] = {
        "requests": 50,
        "input_tokens": 30_000,
        "output_tokens": None,
    }
    granted = shared.try_reserve(
        "sonnet-4",
        {"requests": 1, "input_tokens": 30_000, "output_tokens": 0},
        limits,
        60.0,
        0.0,
    )
    assert granted.handle is not None
    refused = shared.try_reserve(
        "sonnet-4",
        {"requests": 1, "input_tokens": 35_000, "output_tokens": 0},
        limits,
        60.0,
        0.0,
    )
    assert refused == Decision(None, budget="input_tokens", too_large=True)
    assert shared.usage("sonnet-4", 60.0, 0.0)["input_tokens"] == 30_000


async def test_a_limit_that_drops_while_waiting_fails_the_waiter_with_redis(
    redis_server: RedisProcess,
) -> None:
    tm = manager(store(redis_server.url, "t4"))
    await tm.acquire(30_000, 0)
    waiting = asyncio.ensure_future(tm.acquire(35_000, 0))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    tm.update_from_headers({"anthropic-ratelimit-input-tokens-limit": "30000"})
    with pytest.raises(RequestTooLargeError):
        await asyncio.wait_for(waiting, 5)
    assert tm.snapshot().budgets["input_tokens"].used == 30_000, "nothing over-admitted"


def test_two_processes_header_updates_never_double_count(
    redis_server: RedisProcess,
) -> None:
    first = manager(store(redis_server.url, "t5"), itpm=80_000)
    second = manager(store(redis_server.url, "t5"), itpm=80_000)
    for tm in (first, second):
        tm.reconcile(tm.acquire_sync(10_000, 0), {"input_tokens": 10_000})
    headers = {
        "anthropic-ratelimit-input-tokens-limit": "80000",
        "anthropic-ratelimit-input-tokens-remaining": "60000",
    }
    for _ in range(3):
        first.update_from_headers(headers)
        second.update_from_headers(headers)
    assert wait_for(lambda: first.snapshot().budgets["input_tokens"].used == 20_000)
    # Usage the store never saw (another client of the organisation) is held once.
    first.update_from_headers(
        {**headers, "anthropic-ratelimit-input-tokens-remaining": "55000"}
    )
    second.update_from_headers(
        {**headers, "anthropic-ratelimit-input-tokens-remaining": "55000"}
    )
    assert wait_for(lambda: second.snapshot().budgets["input_tokens"].used == 25_000)
    time.sleep(0.3)  # later reads agree: it is held once, not growing
    assert second.snapshot().budgets["input_tokens"].used == 25_000


class BlockingRedisStore(RedisStore):
    """Real Redis, but the grant waits until the test lets it land."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entered, self.go_on = threading.Event(), threading.Event()
        self.granted = threading.Event()

    def try_reserve(self, *args: Any, **kwargs: Any) -> Decision:
        self.entered.set()
        self.go_on.wait(5)
        decision = super().try_reserve(*args, **kwargs)
        self.granted.set()
        return decision


async def test_cancelling_a_waiting_acquire_leaks_nothing_in_redis(
    redis_server: RedisProcess,
) -> None:
    shared = BlockingRedisStore(redis_server.url, prefix="t6")
    tm = manager(shared)
    task = asyncio.ensure_future(tm.acquire(5_000, 0))
    await asyncio.to_thread(shared.entered.wait, 5)
    task.cancel()
    shared.go_on.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.to_thread(shared.granted.wait, 5)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if shared.usage("default", 60.0, 0.0)["requests"] == 0 and not tm._state.held:
            break
        await asyncio.sleep(0.02)
    assert shared.usage("default", 60.0, 0.0) == {
        "requests": 0,
        "input_tokens": 0,
        "output_tokens": 0,
    }
    assert not tm._state.held


def test_pools_keep_separate_keys_named_without_the_api_key(
    redis_server: RedisProcess,
) -> None:
    import redis

    shared = store(redis_server.url, "t7")
    tm = manager(shared, rpm=1)
    tm.acquire_sync(1, 1, model="claude-opus-4-5")
    tm.acquire_sync(1, 1, model="claude-sonnet-4-5")  # its own pool: no wait
    assert shared.keys("opus-4") != shared.keys("sonnet-4")
    assert shared.usage("opus-4", 60.0, 0.0)["requests"] == 1
    assert shared.usage("sonnet-4", 60.0, 0.0)["requests"] == 1
    names = [
        key.decode() if isinstance(key, bytes) else str(key)
        for key in redis.Redis(port=redis_server.port).keys("*")
    ]
    assert any("{opus-4:" in name for name in names)
    assert all(SECRET_KEY not in name for name in names)
    assert set(shared.pools()) == {"opus-4", "sonnet-4"}
    assert [report.pool for report in tm.pool_reports()] == ["opus-4", "sonnet-4"]


def test_every_script_runs_on_a_real_redis_cluster(
    redis_cluster: RedisClusterProcesses,
) -> None:
    from redis.cluster import key_slot

    shared = store(redis_cluster.url, "tc")
    assert shared.cluster
    for pool in ("opus-4", "sonnet-4", "haiku-4"):
        slots = {key_slot(key.encode()) for key in shared.keys(pool)}
        assert len(slots) == 1, "one hash tag: one slot per pool"
    first, second = (
        manager(shared, rpm=2),
        manager(store(redis_cluster.url, "tc"), rpm=2),
    )
    reservation = first.acquire_sync(1_000, 10, model="claude-sonnet-4-5")
    held = second.acquire_sync(1_000, 10, model="claude-sonnet-4-5")
    first.reconcile(reservation, {"input_tokens": 800, "output_tokens": 5})
    first.update_from_headers(
        {
            "anthropic-ratelimit-input-tokens-limit": "40000",
            "anthropic-ratelimit-input-tokens-remaining": "30000",
        },
        model="claude-sonnet-4-5",
    )
    # The first's writer thread sends its settle and the ceiling: wait for it.
    assert wait_for(
        lambda: (
            second.snapshot(model="claude-sonnet-4-5").budgets["input_tokens"].used
            == 10_000
        )
    )
    usage = second.snapshot(model="claude-sonnet-4-5").budgets
    assert usage["requests"].used == 2
    assert usage["input_tokens"].used == 10_000, "the server's 10,000 counted once"
    assert second.snapshot(model="claude-sonnet-4-5").shared_available
    refused = shared.try_reserve(
        "sonnet-4",
        {"requests": 1, "input_tokens": 50_000, "output_tokens": 0},
        {"requests": 50, "input_tokens": 40_000, "output_tokens": None},
        60.0,
        0.0,
    )
    assert refused.too_large
    done = threading.Event()

    def third() -> None:
        second.acquire_sync(1, 1, model="claude-sonnet-4-6")
        done.set()

    worker = threading.Thread(target=third, daemon=True)
    worker.start()
    assert not done.wait(0.3), "a third request in the shared pool waits"
    second.release(held)  # wakes it: the pool has room again
    worker.join(5)
    assert done.is_set()


def test_a_process_starting_without_redis_sizes_its_requests_to_its_share(
    redis_server: RedisProcess,
) -> None:
    redis_server.stop()
    tm = TokenManager(
        RateLimits(None, None, 16_000, 10.0),
        storage=store(redis_server.url, "t9"),
        explicit_limits=(),
    )
    max_tokens = tm.max_tokens_for_next_request(16_000)
    assert max_tokens == 8_000, "half of the output budget: what it may spend alone"
    done = threading.Event()

    def acquire() -> None:
        tm.acquire_sync(100, max_tokens)
        done.set()

    threading.Thread(target=acquire, daemon=True).start()
    assert done.wait(5), "a request sized so goes without Redis"
