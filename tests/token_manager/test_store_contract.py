"""One contract for every store of charges: this process's memory, Redis on a
real redis-server, Redis on a real 3-node Cluster, and the fallback store over
Redis (healthy, and under each real fault, where the contract is the degraded
one: no grant above the lease share; what was granted without Redis reaches it
exactly once when it answers).

Each `store()` of a subject is one process as the backend sees it (its own
client and instance); the memory subject is one process, so all are one.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.plugins.redis_server import RedisClusterProcesses, RedisProcess, TcpProxy
from token_manager import RateLimits, TokenManager
from token_manager.stores import (
    FallbackStore,
    MemoryStore,
    RedisStore,
    Store,
    Ticket,
)

POOL = "default"
WINDOW = 1.0
QUEUE_WINDOW = 4.0
LIMITS: dict[str, int | None] = {
    "requests": None,
    "input_tokens": 1_000,
    "output_tokens": None,
}


def asks(tokens: int) -> dict[str, int]:
    return {"requests": 1, "input_tokens": tokens, "output_tokens": 0}


class Subject:
    """Stores on one backend; `url` None: this process's memory."""

    def __init__(self, name: str, url: str | None, prefix: str) -> None:
        self.name, self.url, self.prefix = name, url, prefix
        self._memory = MemoryStore(WINDOW)
        self._made: list[RedisStore] = []

    def redis(self, url: str | None = None) -> RedisStore:
        assert self.url is not None
        made = RedisStore(url or self.url, prefix=self.prefix)
        self._made.append(made)
        return made

    def store(self) -> Store:
        if self.url is None:
            return self._memory
        if self.name == "fallback":
            return FallbackStore(MemoryStore(WINDOW), self.redis(), time.monotonic)
        return self.redis()

    def manager(self) -> TokenManager:
        """A process's manager (memory: one process, one manager), on windows
        long enough that a busy machine's hiccup keeps its tickets' leases."""
        limits = RateLimits(None, 1_000, None, QUEUE_WINDOW)
        storage = None if self.url is None else self.redis()
        if self.url is None:
            if not hasattr(self, "_manager"):
                self._manager = TokenManager(limits, explicit_limits=())
            return self._manager
        return TokenManager(limits, storage=storage, explicit_limits=())

    def queued(self) -> int | None:
        """Tickets in the shared queue (None: no shared queue, this process's)."""
        if self.url is None:
            return None
        return self.redis().waiting(POOL)

    def close(self) -> None:
        for made in self._made:
            made.close()


@pytest.fixture(scope="module")
def shared_backends(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, str]]:
    """One redis-server and one 3-node Cluster for the module's tests (each
    test has its own key prefix): a Cluster takes seconds to form."""
    directory = tmp_path_factory.mktemp("contract")
    with contextlib.ExitStack() as stack:
        server = RedisProcess(directory / "redis")
        stack.callback(server.stop)
        cluster = RedisClusterProcesses(directory / "cluster")
        stack.callback(cluster.stop)
        # The fallback store runs over the plain server.
        yield {"redis": server.url, "fallback": server.url, "cluster": cluster.url}


@pytest.fixture(params=["memory", "redis", "cluster", "fallback"])
def subject(
    request: pytest.FixtureRequest, shared_backends: dict[str, str]
) -> Iterator[Subject]:
    name = request.param
    url = shared_backends.get(name)  # memory: none
    found = Subject(name, url, f"contract-{name}-{uuid.uuid4().hex[:8]}")
    try:
        yield found
    finally:
        found.close()


def until(condition: Callable[[], bool], seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_grants_within_the_limit_and_refuses_over_it(subject: Subject) -> None:
    first, second = subject.store(), subject.store()
    now = time.monotonic()
    granted = first.try_reserve(POOL, asks(600), LIMITS, WINDOW, now)
    assert granted.handle is not None
    assert second.usage(POOL, WINDOW, now)["input_tokens"] == 600
    refused = second.try_reserve(POOL, asks(500), LIMITS, WINDOW, now)
    assert refused.handle is None and refused.wait > 0 and not refused.too_large
    never = second.try_reserve(POOL, asks(1_001), LIMITS, WINDOW, now)
    assert never.handle is None and never.too_large
    assert never.budget == "input_tokens"


def test_settle_corrects_the_charge_and_a_release_frees_it(subject: Subject) -> None:
    first, second = subject.store(), subject.store()
    now = time.monotonic()
    held = first.try_reserve(POOL, asks(600), LIMITS, WINDOW, now).handle
    assert held is not None
    first.settle(held, {"input_tokens": 200}, now)
    assert until(lambda: second.usage(POOL, WINDOW, now)["input_tokens"] == 200)
    # 500: no more than its half (another process's borrow waits a heartbeat).
    other = second.try_reserve(POOL, asks(500), LIMITS, WINDOW, now).handle
    assert other is not None, "the 400 given back fit 500 more"
    second.settle(other, {"requests": 0, "input_tokens": 0}, now)  # released
    assert until(lambda: first.usage(POOL, WINDOW, now)["input_tokens"] == 200)


def test_a_charge_expires_one_window_after_it_settles(subject: Subject) -> None:
    store = subject.store()
    held = store.try_reserve(POOL, asks(900), LIMITS, WINDOW, time.monotonic()).handle
    assert held is not None
    time.sleep(WINDOW + 0.3)  # in flight: it still counts
    now = time.monotonic()
    assert store.usage(POOL, WINDOW, now)["input_tokens"] == 900
    store.settle(held, {"input_tokens": 900}, now)
    assert store.try_reserve(POOL, asks(900), LIMITS, WINDOW, now).handle is None
    time.sleep(WINDOW + 0.2)
    now = time.monotonic()
    assert store.usage(POOL, WINDOW, now)["input_tokens"] == 0
    assert store.try_reserve(POOL, asks(900), LIMITS, WINDOW, now).handle is not None


def test_a_ticket_that_leaves_lets_the_next_one_ask(subject: Subject) -> None:
    holder, first, second = subject.store(), subject.store(), subject.store()
    now = time.monotonic()
    assert holder.try_reserve(POOL, asks(1_000), LIMITS, WINDOW, now).handle
    head, behind = Ticket("head"), Ticket("behind")
    assert first.try_reserve(POOL, asks(10), LIMITS, WINDOW, now, ticket=head).wait
    waiting = second.try_reserve(POOL, asks(10), LIMITS, WINDOW, now, ticket=behind)
    assert waiting.handle is None
    first.leave(POOL, head)

    def next_one_asks() -> bool:
        again = second.try_reserve(POOL, asks(10), LIMITS, WINDOW, now, ticket=behind)
        return again.handle is None and not again.behind

    assert until(next_one_asks), "no longer behind a ticket that left"
    if isinstance(second, RedisStore):
        assert second.waiting(POOL) == 1
        second.leave(POOL, behind)
        assert second.waiting(POOL) == 0


def test_waiters_are_served_first_come_first_served(subject: Subject) -> None:
    holder = subject.manager()
    held = holder.acquire_sync(900, 0)
    order: list[str] = []

    def waiter(name: str, tokens: int) -> threading.Thread:
        tm = subject.manager()

        def run() -> None:
            tm.acquire_sync(tokens, 0)
            order.append(name)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    early = waiter("early", 500)
    time.sleep(0.3)
    assert until(lambda: subject.queued() in (None, 1)), "early has its ticket"
    late = waiter("late", 100)  # it fits now, but it came later
    time.sleep(0.3)
    assert order == []
    holder.reconcile(held, {"input_tokens": 900})
    early.join(QUEUE_WINDOW + 5)
    late.join(QUEUE_WINDOW + 5)
    assert order == ["early", "late"]


def test_the_lowest_learned_limit_holds_until_it_lapses(subject: Subject) -> None:
    first, second = subject.store(), subject.store()
    now = time.monotonic()
    first.learn_limits(POOL, {"input_tokens": 1_000}, 1.5, now)
    first.learn_limits(POOL, {"input_tokens": 1_200}, 1.5, now)
    assert first.learned_limits(POOL, now) == {"input_tokens": 1_000}
    first.learn_limits(POOL, {"input_tokens": 800}, 1.5, now)
    writer = getattr(first, "shared", first)
    assert until(lambda: not getattr(writer, "owes", lambda: False)())
    unlimited: dict[str, int | None] = dict(LIMITS, input_tokens=None)
    refused = second.try_reserve(POOL, asks(900), unlimited, WINDOW, now)
    assert refused.too_large, "above the lowest limit learned: never fits"
    assert second.learned_limits(POOL, now) == {"input_tokens": 800}
    time.sleep(1.6)
    later = time.monotonic()
    assert first.learned_limits(POOL, later) == {}
    assert second.try_reserve(POOL, asks(900), unlimited, WINDOW, later).handle


# ---- the degraded contract, under real faults ------------------------------

# The others hold our share back after a ticket's lease (4 s); we spend it
# until half a window (8 s) after our last contact: long enough for a first
# attempt that waits out the client's 2 s timeout twice (behind the writer).
FAULT_WINDOW = 16.0
OUTAGE = 6.0  # past the short lease (4 s): the others see us stale, we spend alone


@pytest.fixture
def debug_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path / "debug", "--enable-debug-command", "local")
    try:
        yield server
    finally:
        server.stop()


def _debug_sleep(server: RedisProcess) -> None:
    """The server runs one command for `OUTAGE` seconds (its caller waits)."""
    import redis

    patient = redis.Redis(port=server.port, socket_timeout=OUTAGE + 5)
    patient.execute_command("DEBUG", "SLEEP", OUTAGE)


def _for_outage(strike: Callable[[], Any], mend: Callable[[], Any]) -> None:
    strike()
    time.sleep(OUTAGE)
    mend()


FAULTS: dict[str, Callable[[RedisProcess, TcpProxy], None]] = {
    "client pause": lambda server, _: _for_outage(
        lambda: server.pause(OUTAGE), lambda: None
    ),
    "debug sleep": lambda server, _: _debug_sleep(server),
    "kill -STOP": lambda server, _: _for_outage(server.freeze, server.thaw),
    "restart empty": lambda server, _: server.restart(
        keep_data=False, down_seconds=OUTAGE
    ),
    "restart with data": lambda server, _: server.restart(
        keep_data=True, down_seconds=OUTAGE
    ),
    "proxy cut": lambda _, proxy: _for_outage(proxy.cut, proxy.mend),
    "proxy stall": lambda _, proxy: _for_outage(proxy.stall, proxy.flow),
}


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(FAULTS))
def test_under_a_fault_no_grant_above_the_lease_share_and_each_is_written_once(
    debug_redis: RedisProcess, fault: str
) -> None:
    proxy = TcpProxy(debug_redis.port)
    prefix = f"fault-{fault.replace(' ', '-')}"
    limits = dict(LIMITS)
    ours = RedisStore(proxy.url, prefix=prefix)
    other = RedisStore(debug_redis.url, prefix=prefix)
    store = FallbackStore(MemoryStore(FAULT_WINDOW), ours, time.monotonic)
    try:
        for each in (other, store):  # both live: each leased half of 1,000
            now = time.monotonic()
            contact = each.try_reserve(POOL, asks(0), limits, FAULT_WINDOW, now)
            assert contact.handle is not None
            each.settle(contact.handle, {"requests": 0}, now)
        now = time.monotonic()
        held = store.try_reserve(POOL, asks(300), limits, FAULT_WINDOW, now).handle
        assert held is not None
        store.settle(held, {"input_tokens": 300}, time.monotonic())
        ours.refresh_leases()
        striking = threading.Thread(
            target=FAULTS[fault], args=(debug_redis, proxy), daemon=True
        )
        striking.start()
        time.sleep(0.3)  # struck
        granted = degraded = 0
        while striking.is_alive() or not ours.healthy:
            now = time.monotonic()
            decision = store.try_reserve(POOL, asks(100), limits, FAULT_WINDOW, now)
            if decision.handle is not None:
                store.settle(decision.handle, {"input_tokens": 100}, now)
                granted += 100
                # Redis names its grants after the instance; ours are local.
                by_redis = decision.handle.reservation_id.startswith(ours.instance)
                degraded += 0 if by_redis else 100
            assert degraded <= 200, "our share: 500 of 1,000, and we held 300"
            time.sleep(0.1)
        assert degraded > 0, "granted within its share while Redis was away"
        expected = 300 + granted

        def shared() -> int:
            return other.usage(POOL, FAULT_WINDOW, 0.0)["input_tokens"]

        assert until(lambda: shared() >= expected, 6.0), (shared(), expected)
        time.sleep(1.0)
        assert shared() == expected, "written back exactly once"
    finally:
        for each in (ours, other):
            each.close()
        proxy.close()
