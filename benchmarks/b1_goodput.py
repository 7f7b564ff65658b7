"""B1: goodput against a fake API that enforces limits, with and without the TokenManager.

8 concurrent agents send random-size requests for 10 short windows. Reported:
input tokens accepted per window as a fraction of the limit, and 429s; the
baseline is the same agents with only the SDK's own retries. One JSON line.

    python benchmarks/b1_goodput.py [--window 10] [--latency 0.3] [--cpu-load]

`--latency S` makes the fake API answer S seconds after it counted a request
(a far-away API); `--cpu-load` keeps every core busy in other processes for the
whole run (a loaded machine). Both runs (ours and the baseline) see the same.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anthropic

from fake_anthropic import FakeAnthropicAPI
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
    *,
    model: str = "claude-opus-4-8",
    pool_model: str | None = None,
) -> None:
    """One agent sending requests until `until`; with `pool_model` its manager
    keeps that model's pool (`acquire(..., model=)`), else the default pool."""
    rng = random.Random(seed)
    pool: dict[str, Any] = {} if pool_model is None else {"model": pool_model}
    hooks = {"response": [_async_hook(manager, pool)]} if manager else {}
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
                estimate = manager.estimate_request(messages=messages, **pool)
                reservation = await manager.acquire(estimate, MAX_TOKENS, **pool)
                if time.monotonic() >= until:
                    manager.release(reservation)
                    break
            try:
                response = await client.messages.create(
                    model=model, max_tokens=MAX_TOKENS, messages=messages
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


def _async_hook(manager: TokenManager | None, pool: dict[str, Any]) -> Any:
    async def hook(response: Any) -> None:
        if manager is not None:
            manager.observe_response(response, **pool)

    return hook


def _busy(stop: Any) -> None:
    while not stop.is_set():
        for _ in range(100_000):
            pass


@contextmanager
def cpu_load(enabled: bool) -> Iterator[int]:
    """Busy loops in other processes, one per core, for the block's duration."""
    if not enabled:
        yield 0
        return
    stop = multiprocessing.Event()
    workers = [
        multiprocessing.Process(target=_busy, args=(stop,), daemon=True)
        for _ in range(os.cpu_count() or 2)
    ]
    for worker in workers:
        worker.start()
    try:
        yield len(workers)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()


async def run(
    with_manager: bool,
    agents: int,
    windows: int,
    window: float = WINDOW,
    latency: float = 0.0,
) -> dict[str, Any]:
    with FakeAnthropicAPI(
        itpm=ITPM, rpm=1_000, otpm=100_000, window_seconds=window, latency=latency
    ) as api:
        manager = (
            TokenManager(RateLimits(1_000, ITPM, 100_000, window))
            if with_manager
            else None
        )
        counts = {"ok": 0, "gave_up": 0}
        started = time.monotonic()
        until = started + windows * window
        await asyncio.gather(
            *(agent(api, manager, seed, until, counts) for seed in range(agents))
        )
        stats = api.stats()
    per_window = accepted_per_window(stats["accepted"], started, window, windows)
    steady = per_window[1:]  # the first window starts with a full bucket
    return {
        "goodput_ratio": round(statistics.mean(steady) / ITPM, 3),
        "min_window_ratio": round(min(steady) / ITPM, 3),
        "rate_limited": stats["rate_limited"],
        "requests_ok": counts["ok"],
        "requests_given_up": counts["gave_up"],
    }


def accepted_per_window(
    accepted: list[tuple[float, int]], started: float, window: float, windows: int
) -> list[int]:
    """The input tokens the fake API accepted in each window from `started`
    (its `stats()["accepted"]`: one (monotonic time, tokens) per request)."""
    return [
        sum(
            tokens
            for at, tokens in accepted
            if started + index * window <= at < started + (index + 1) * window
        )
        for index in range(windows)
    ]


async def main(
    agents: int,
    windows: int,
    window: float = WINDOW,
    latency: float = 0.0,
    load: bool = False,
) -> dict[str, Any]:
    with cpu_load(load) as busy_processes:
        ours = await run(True, agents, windows, window, latency)
        baseline = await run(False, agents, windows, window, latency)
    return {
        "bench": "B1",
        "agents": agents,
        "windows": windows,
        "window_seconds": window,
        "latency_seconds": latency,
        "cpu_load_processes": busy_processes,
        "itpm": ITPM,
        **ours,
        "baseline": baseline,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agents", type=int, default=8)
    parser.add_argument("--windows", type=int, default=10)
    parser.add_argument(
        "--window", type=float, default=WINDOW, help="seconds standing for a minute"
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="seconds the fake API waits after counting a request before answering",
    )
    parser.add_argument(
        "--cpu-load",
        action="store_true",
        help="keep every core busy in other processes during the run",
    )
    arguments = parser.parse_args()
    print(
        json.dumps(
            asyncio.run(
                main(
                    arguments.agents,
                    arguments.windows,
                    arguments.window,
                    arguments.latency,
                    arguments.cpu_load,
                )
            )
        )
    )
