"""Two processes sharing a daily spending cap through one real Redis stay
under it together, and a Redis that does not answer refuses (money fails
closed) instead of letting a process spend alone."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.plugins.redis_server import RedisProcess
from token_manager.spend import NANO
from token_manager.spending import SpendCaps, Spending, SpendUnknown
from token_manager.stores.redis_link import connect
from token_manager.stores.spend_redis import RedisDaySpend

pytestmark = pytest.mark.redis

CAP = 2 * NANO  # $2 a day


def process(url: str) -> Spending:
    """One process's spending: its own ledger and client, the fleet's Redis."""
    return Spending(
        SpendCaps(day=CAP),
        wall_clock=lambda: 1_780_000_000.0,
        shared=RedisDaySpend(lambda: connect(url, False), "spendtest"),
    )


SPENDER = """
import json, random, sys
sys.path.insert(0, {root!r})
from token_manager.spend import NANO
from token_manager.spending import SpendCapReached, SpendCaps, Spending
from token_manager.stores.redis_link import connect
from token_manager.stores.spend_redis import RedisDaySpend
spending = Spending(SpendCaps(day={cap}), wall_clock=lambda: 1_780_000_000.0,
                    shared=RedisDaySpend(lambda: connect({url!r}, False), "spendtest"))
chooser = random.Random({seed})
charged, refused = [], 0
for turn in range(80):
    worst = chooser.randint(NANO // 100, NANO // 5)
    try:
        held = spending.reserve(conversation=f"{seed}-{{turn}}", account="key",
                                pool="p", worst=worst)
    except SpendCapReached:
        refused += 1
        continue
    real = chooser.randint(worst // 4, worst)
    spending.settle(held, real)
    charged.append(real)
print(json.dumps({{"charged": sum(charged), "refused": refused}}))
"""


def test_two_processes_stay_under_a_shared_daily_cap_together(
    redis_server: RedisProcess,
) -> None:
    root = str(Path(__file__).resolve().parents[2])
    spenders = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                SPENDER.format(root=root, cap=CAP, url=redis_server.url, seed=seed),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for seed in (1, 2)
    ]
    results = [json.loads(spender.communicate(timeout=120)[0]) for spender in spenders]
    charged = sum(result["charged"] for result in results)
    assert charged <= CAP, "together they never pass the cap"
    assert charged > CAP * 0.8, "the cap is reached"
    assert all(result["refused"] > 0 for result in results), "each met it"
    report = process(redis_server.url).report(
        conversation="", account="key", fresh=True
    )
    assert report.day_spent == charged, "Redis holds what was really spent"
    assert report.day_by_pool == {"p": charged}


def test_a_frozen_redis_refuses_instead_of_spending_alone(
    redis_server: RedisProcess,
) -> None:
    spending = process(redis_server.url)
    spending.settle(
        spending.reserve(conversation="c", account="key", pool="p", worst=NANO // 10),
        NANO // 20,
    )
    redis_server.freeze()
    try:
        with pytest.raises(SpendUnknown) as refused:
            spending.reserve(
                conversation="c", account="key", pool="p", worst=NANO // 10
            )
    finally:
        redis_server.thaw()
    assert "cannot be checked" in str(refused.value)
    held = spending.reserve(conversation="c", account="key", pool="p", worst=NANO // 10)
    spending.release(held)

    def total() -> int:
        return spending.report(conversation="c", account="key", fresh=True).day_spent

    deadline = time.monotonic() + 10
    while total() != NANO // 20 and time.monotonic() < deadline:
        time.sleep(0.1)  # the timed-out reserve is taken back once Redis answers
    assert total() == NANO // 20, "the refused and the released hold left nothing"
    time.sleep(0.5)
    assert total() == NANO // 20, "and a late-landing reserve does not come back"
