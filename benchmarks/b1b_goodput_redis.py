"""B1b: three processes sharing one budget through Redis, against one fake API.

Each process runs agents with its own TokenManager on the same Redis key; the
baseline is the same three processes each limiting alone (no shared budget).
Starts its own redis-server on a free loopback port. One JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.b1_goodput import (  # noqa: E402
    ITPM,
    WINDOW,
    accepted_per_window,
    agent,
)
from fake_anthropic import FakeAnthropicAPI  # noqa: E402
from tests.plugins.redis_server import local_redis  # noqa: E402
from token_manager import RateLimits, TokenManager  # noqa: E402
from token_manager.stores import RedisStore  # noqa: E402

PROCESSES = 3
AGENTS_PER_PROCESS = 3


def child(
    base_url: str, api_key: str, redis_url: str | None, until: float, seed: int
) -> None:
    """One process: its agents, one TokenManager (shared through Redis, or alone)."""

    class Endpoint:
        pass

    endpoint: Any = Endpoint()
    endpoint.base_url = base_url
    endpoint.api_key = api_key
    storage = RedisStore(redis_url, prefix=f"b1b-{int(until)}") if redis_url else None
    manager = TokenManager(RateLimits(1_000, ITPM, 100_000, WINDOW), storage=storage)
    counts = {"ok": 0, "gave_up": 0}

    async def run() -> None:
        await asyncio.gather(
            *(
                agent(endpoint, manager, seed * 100 + index, until, counts)
                for index in range(AGENTS_PER_PROCESS)
            )
        )

    asyncio.run(run())
    print(json.dumps(counts))


def run(shared: bool, redis_url: str, windows: int) -> dict[str, float | int]:
    with FakeAnthropicAPI(
        itpm=ITPM, rpm=1_000, otpm=100_000, window_seconds=WINDOW
    ) as api:
        started = time.monotonic()
        wall_until = time.time() + windows * WINDOW
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    api.base_url,
                    api.api_key,
                    redis_url if shared else "",
                    str(wall_until),
                    str(seed),
                ],
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for seed in range(PROCESSES)
        ]
        for process in processes:
            process.communicate(timeout=windows * WINDOW + 120)
        stats = api.stats()
    per_window = accepted_per_window(stats["accepted"], started, WINDOW, windows)
    steady = per_window[1:]
    return {
        "goodput_ratio": round(statistics.mean(steady) / ITPM, 3),
        "rate_limited": stats["rate_limited"],
    }


def main(windows: int) -> dict[str, object]:
    with local_redis() as redis_url:
        ours = run(True, redis_url, windows)
        baseline = run(False, redis_url, windows)
    return {
        "bench": "B1b",
        "processes": PROCESSES,
        "agents": PROCESSES * AGENTS_PER_PROCESS,
        "windows": windows,
        **ours,
        "baseline": {"name": "each process limiting alone", **baseline},
    }


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, url, key, redis, until, seed = sys.argv
        remaining = float(until) - time.time()
        child(url, key, redis or None, time.monotonic() + remaining, int(seed))
    else:
        parser = argparse.ArgumentParser(description=__doc__)
        parser.add_argument("--windows", type=int, default=10)
        print(json.dumps(main(parser.parse_args().windows)))
