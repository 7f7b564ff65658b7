"""A limit one process learns from the server's headers holds every process
sharing its Redis at once (a real redis-server; two managers, each with its
own `RedisStore` and client: two processes as Redis sees them)."""

from __future__ import annotations

import threading
import time

import pytest

from tests.plugins.redis_server import RedisProcess
from token_manager import RateLimits, RequestTooLargeError, TokenManager
from token_manager.stores import RedisStore, account_tag

pytestmark = pytest.mark.redis

WINDOW = 4.0
LEARNED = {"anthropic-ratelimit-input-tokens-limit": "1000"}


def process(url: str, prefix: str, api_key: str = "sk-ant-shared") -> TokenManager:
    """A manager configured for 40,000 input tokens (the default, not explicit)."""
    return TokenManager(
        RateLimits(None, 40_000, None, WINDOW),
        storage=RedisStore(url, prefix=prefix, account=account_tag(api_key)),
        explicit_limits=(),
    )


class Acquire:
    """An acquire in a thread: when it was granted, if it was."""

    def __init__(self, tm: TokenManager, tokens: int) -> None:
        self.granted_after: float | None = None
        started = time.monotonic()

        def run() -> None:
            tm.acquire_sync(tokens, 0)
            self.granted_after = time.monotonic() - started

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def within(self, seconds: float) -> bool:
        self._thread.join(seconds)
        return self.granted_after is not None


def test_a_limit_learned_by_one_process_holds_another_not_yet_corrected(
    redis_server: RedisProcess,
) -> None:
    first, second = process(redis_server.url, "l1"), process(redis_server.url, "l1")
    first.update_from_headers(LEARNED)
    first.reconcile(first.acquire_sync(900, 0), {"input_tokens": 900})
    assert second.limits_for().input_tokens_per_minute == 40_000, "no response yet"
    waiter = Acquire(second, 900)
    assert not waiter.within(1.0), "900 more would make 1,800 of 1,000"
    assert second.limits_for().input_tokens_per_minute == 1_000
    assert waiter.within(WINDOW + 3), "granted once the first 900 expire"
    assert waiter.granted_after is not None
    assert waiter.granted_after >= WINDOW - 1.5
    other = process(redis_server.url, "l1", api_key="sk-ant-another-org")
    assert Acquire(other, 900).within(2.0), "another API key: its own limits"
    assert other.limits_for().input_tokens_per_minute == 40_000


def test_a_request_above_the_shared_limit_fails_at_once_naming_it(
    redis_server: RedisProcess,
) -> None:
    first, second = process(redis_server.url, "l2"), process(redis_server.url, "l2")
    first.update_from_headers(LEARNED)
    first.reconcile(first.acquire_sync(1, 0), {"input_tokens": 1})
    with pytest.raises(RequestTooLargeError, match="limit 1,000 is smaller"):
        second.acquire_sync(1_500, 0)


def test_the_lowest_limit_learned_wins_and_the_last_seen_holds_while_redis_is_down(
    redis_server: RedisProcess,
) -> None:
    first, second = process(redis_server.url, "l3"), process(redis_server.url, "l3")
    first.update_from_headers(LEARNED)
    second.update_from_headers({"anthropic-ratelimit-input-tokens-limit": "3000"})
    for tm in (first, second):
        tm.reconcile(tm.acquire_sync(1, 0), {"input_tokens": 1})
    assert second.limits_for().input_tokens_per_minute == 1_000
    redis_server.stop()
    assert second.limits_for().input_tokens_per_minute == 1_000
