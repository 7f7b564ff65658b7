"""The window arithmetic twice, held to the same answers: the Lua scripts the
shared store runs (on a real redis-server) and `token_manager/window.py`, over
sequences of reserve, reconcile, release and time steps.

The scripts are the store's own, with one change: their clock is a key the
test sets instead of Redis's TIME (so time steps need no sleeping). Times are
whole seconds, so neither side's floating point decides a boundary.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.plugins.redis_server import RedisProcess
from token_manager.stores import redis_scripts
from token_manager.window import EXPIRY_MARGIN, SlidingWindow

pytestmark = pytest.mark.redis

WINDOW, LEASE, LIMIT = 60, 600, 1_000
BUDGETS = ("requests", "input_tokens", "output_tokens")
REDIS_TIME = (
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) + tonumber(t[2]) / 1000000\n"
)
TEST_TIME = "local now = tonumber(redis.call('GET', 'test-clock'))\n"
_runs = itertools.count()


def on_test_clock(script: str) -> str:
    assert REDIS_TIME in script, "the scripts read Redis's TIME this way"
    return script.replace(REDIS_TIME, TEST_TIME)


class LuaWindow:
    """The input-tokens window as the shared store keeps it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        tag = f"prop{next(_runs)}:{{default:test}}"
        self.budget_keys = [f"{tag}:{name}" for name in BUDGETS]
        extra = ("queue", "leases", "live", "shares", "learned")
        self.every_key = self.budget_keys + [f"{tag}:{name}" for name in extra]
        self.reserve = client.register_script(on_test_clock(redis_scripts.RESERVE))
        self.sync = client.register_script(on_test_clock(redis_scripts.SYNC))
        self.usage = client.register_script(on_test_clock(redis_scripts.USAGE))

    def at(self, now: int) -> None:
        self.client.set("test-clock", now)

    def try_reserve(self, rid: str, amount: int) -> tuple[bool, float]:
        args: list[Any] = [WINDOW, rid, LEASE, 0, -1, amount, LIMIT, 0, -1]
        args += ["", 0.0, 1.0, "channel", "instance", 1.5 * WINDOW, 1e9, 0]
        code, value, *_ = self.reserve(keys=self.every_key, args=args)
        return int(code) == 1, 0.0 if int(code) == 1 else float(value)

    def settle(self, rid: str, reserved: int, amount: int) -> None:
        args = [WINDOW, LEASE, rid, 0, 0, 0, reserved, amount, 0, 0]
        self.sync(keys=self.budget_keys, args=args)

    def used(self) -> int:
        return int(self.usage(keys=self.budget_keys, args=[WINDOW])[1])


# Round amounts too: they meet a boundary (a wait freed by exactly one charge).
amounts = st.one_of(st.integers(0, LIMIT), st.integers(0, 20).map(lambda n: 50 * n))
steps = st.lists(
    st.one_of(
        st.tuples(st.just("reserve"), amounts),
        st.tuples(st.just("reconcile"), st.integers(0, 50), amounts),
        st.tuples(st.just("release"), st.integers(0, 50)),
        st.tuples(st.just("advance"), st.integers(1, 90)),
    ),
    max_size=30,
)


@settings(
    derandomize=True,
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@example(  # a charge stops counting exactly one window after it settles
    [("reserve", 600), ("reconcile", 0, 600), ("advance", WINDOW), ("reserve", 600)]
)
@example(  # the wait is until enough of the oldest has gone
    [
        ("reserve", 400),
        ("reconcile", 0, 400),
        ("advance", 10),
        ("reserve", 500),
        ("reconcile", 0, 500),
        ("advance", 5),
        ("reserve", 700),
    ]
)
@example(  # exactly the oldest charge frees enough: the wait ends with it
    [
        ("reserve", 400),
        ("reconcile", 0, 400),
        ("advance", 10),
        ("reserve", 600),
        ("reconcile", 0, 600),
        ("reserve", 400),
    ]
)
@example([("reserve", 300), ("release", 0), ("reserve", LIMIT)])
@given(steps=steps)
def test_lua_and_python_windows_give_the_same_answers(
    redis_server: RedisProcess, steps: list[tuple[Any, ...]]
) -> None:
    lua = LuaWindow(redis_server.client())
    python = SlidingWindow(WINDOW, lease=LEASE)
    in_flight: list[tuple[str, Any, int]] = []  # id, Python entry, reserved
    now = 1_000
    lua.at(now)
    for index, step in enumerate(steps):
        if step[0] == "advance":
            now += step[1]
            lua.at(now)
        elif step[0] == "reserve":
            amount = step[1]
            wait = python.wait_for(amount, LIMIT, now)
            granted, lua_wait = lua.try_reserve(f"r{index}", amount)
            assert granted == (wait == 0), (step, wait, lua_wait)
            if granted:
                entry = python.reserve(now, amount)
                in_flight.append((f"r{index}", entry, amount))
            else:
                assert lua_wait == pytest.approx(wait - EXPIRY_MARGIN, abs=1e-6)
        elif in_flight:
            rid, entry, reserved = in_flight.pop(step[1] % len(in_flight))
            amount = step[2] if step[0] == "reconcile" else 0
            python.settle(entry, amount, now)
            lua.settle(rid, reserved, amount)
        assert lua.used() == python.used(now), step
