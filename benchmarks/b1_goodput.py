"""B1: goodput against a fake API that enforces limits, with and without the TokenManager.

8 concurrent agents send random-size requests for 10 short windows. Reported:
input tokens accepted per window as a fraction of the limit, and 429s; the
baseline is the same agents with only the SDK's own retries. One JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anthropic

from tests.fake_api import FakeAnthropicAPI
from token_manager import RateLimits, TokenManager

ITPM = 20_000
WINDOW = 2.0
MAX_TOKENS = 64


def prompt_of(rng: random.Random) -> str:
    return "word " * rng.randint(300, 1_500)


async def agent(
    api: FakeAnthropicAPI,
    manager: TokenManager | None,
    seed: int,
    until: float,
    counts: dict[str, int],
) -> None:
    rng = random.Random(seed)
    hooks = {"response": [_async_hook(manager)]} if manager else {}
    import httpx2

    http = httpx2.AsyncClient(event_hooks=hooks)
    client = anthropic.AsyncAnthropic(
        api_key=api.api_key, base_url=api.base_url, http_client=http
    )
    try:
        while time.monotonic() < until:
            messages: list[Any] = [{"role": "user", "content": prompt_of(rng)}]
            reservation = None
            if manager is not None:
                estimate = manager.estimate_request(messages=messages)
                reservation = await manager.acquire(estimate, MAX_TOKENS)
                if time.monotonic() >= until:
                    manager.release(reservation)
                    break
            try:
                response = await client.messages.create(
                    model="claude-opus-4-8", max_tokens=MAX_TOKENS, messages=messages
                )
                counts["ok"] += 1
                if manager is not None and reservation is not None:
                    manager.reconcile(reservation, response.usage)
            except anthropic.RateLimitError:
                counts["gave_up"] += 1
                if manager is not None and reservation is not None:
                    manager.release(reservation)
    finally:
        await client.close()


def _async_hook(manager: TokenManager | None) -> Any:
    async def hook(response: Any) -> None:
        if manager is not None:
            manager.observe_response(response)

    return hook


async def run(with_manager: bool, agents: int, windows: int) -> dict[str, Any]:
    with FakeAnthropicAPI(
        itpm=ITPM, rpm=1_000, otpm=100_000, window_seconds=WINDOW
    ) as api:
        manager = (
            TokenManager(RateLimits(1_000, ITPM, 100_000, WINDOW))
            if with_manager
            else None
        )
        counts = {"ok": 0, "gave_up": 0}
        started = time.monotonic()
        until = started + windows * WINDOW
        await asyncio.gather(
            *(agent(api, manager, seed, until, counts) for seed in range(agents))
        )
        stats = api.stats()
    per_window: list[int] = []
    for index in range(windows):
        low, high = started + index * WINDOW, started + (index + 1) * WINDOW
        per_window.append(
            sum(tokens for at, tokens in stats["accepted"] if low <= at < high)
        )
    steady = per_window[1:]  # the first window starts with a full bucket
    return {
        "goodput_ratio": round(statistics.mean(steady) / ITPM, 3),
        "min_window_ratio": round(min(steady) / ITPM, 3),
        "rate_limited": stats["rate_limited"],
        "requests_ok": counts["ok"],
        "requests_given_up": counts["gave_up"],
    }


async def main(agents: int, windows: int) -> dict[str, Any]:
    ours = await run(True, agents, windows)
    baseline = await run(False, agents, windows)
    return {
        "bench": "B1",
        "agents": agents,
        "windows": windows,
        "window_seconds": WINDOW,
        "itpm": ITPM,
        **ours,
        "baseline": baseline,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--windows", type=int, default=10)
    arguments = parser.parse_args()
    print(json.dumps(asyncio.run(main(arguments.agents, arguments.windows))))
