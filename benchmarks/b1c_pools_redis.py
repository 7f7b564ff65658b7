"""B1c: two model classes sharing one Redis, each metered in its own pool.

The fake API keeps one bucket set per model class (Sonnet 4.x, Opus 4.x), each
with the same input tokens/min limit. Two processes send Sonnet requests and two
send Opus requests, every process with its own TokenManager on one real Redis
(started here on a free loopback port). Ours: each request names its model
(`acquire(..., model=)`, `observe_response(..., model=)`), so each class has its
own shared pool. Baseline, same run: the same four processes without `model=`
(one pool for both classes, the behaviour before pools). Reported per class:
input tokens the server accepted per window / that class's limit (steady
windows, the first is skipped as it starts full), and 429s. One JSON line.

    python benchmarks/b1c_pools_redis.py [--windows 10] [--window 2] [--latency 0]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
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

MODELS = {"sonnet-4": "claude-sonnet-4-6", "opus-4": "claude-opus-4-8"}
PROCESSES_PER_CLASS = 2
AGENTS_PER_PROCESS = 3
# Processes take seconds to import the SDK on a busy machine: all of them start
# sending at one agreed wall-clock time, and the windows are counted from it.
STARTUP_SECONDS = 8.0


def require_pools() -> None:
    """Ours needs `model=` on the manager; say so instead of measuring something else."""
    manager = TokenManager(RateLimits(None, None, None, 60.0), explicit_limits=())
    for method in ("acquire", "observe_response"):
        if "model" not in inspect.signature(getattr(manager, method)).parameters:
            raise SystemExit(
                f"B1c needs TokenManager.{method}(..., model=) (pools per model "
                "class, issue 12); this TokenManager has no `model` keyword."
            )


def child(config: dict[str, Any]) -> None:
    """One process: its agents and one TokenManager sharing Redis with the others."""

    class Endpoint:
        pass

    endpoint: Any = Endpoint()
    endpoint.base_url = config["base_url"]
    endpoint.api_key = config["api_key"]
    manager = TokenManager.from_env(
        {
            "ANTHROPIC_API_KEY": config["api_key"],
            "TOKEN_MANAGER_RPM": "1000",
            "TOKEN_MANAGER_INPUT_TPM": str(config["itpm"]),
            "TOKEN_MANAGER_OUTPUT_TPM": "100000",
            "TOKEN_MANAGER_WINDOW_SECONDS": str(config["window"]),
            "TOKEN_MANAGER_REDIS_URL": config["redis_url"],
            "TOKEN_MANAGER_REDIS_PREFIX": config["prefix"],
        }
    )
    counts = {"ok": 0, "gave_up": 0}
    time.sleep(max(0.0, config["wall_start"] - time.time()))
    until = time.monotonic() + (config["wall_until"] - time.time())
    model = config["model"]

    async def run() -> None:
        await asyncio.gather(
            *(
                agent(
                    endpoint,
                    manager,
                    config["seed"] * 100 + index,
                    until,
                    counts,
                    model=model,
                    pool_model=model if config["pooled"] else None,
                )
                for index in range(AGENTS_PER_PROCESS)
            )
        )

    asyncio.run(run())
    print(json.dumps(counts))


def run(
    pooled: bool, redis_url: str, windows: int, window: float, latency: float
) -> dict[str, Any]:
    with FakeAnthropicAPI(
        itpm=ITPM, rpm=1_000, otpm=100_000, window_seconds=window, latency=latency
    ) as api:
        wall_start = time.time() + STARTUP_SECONDS
        started = time.monotonic() + STARTUP_SECONDS
        wall_until = wall_start + windows * window
        prefix = f"b1c-{'pools' if pooled else 'shared'}-{int(wall_until)}"
        processes = []
        for number, model in enumerate(
            model for model in MODELS.values() for _ in range(PROCESSES_PER_CLASS)
        ):
            config = {
                "base_url": api.base_url,
                "api_key": api.api_key,
                "redis_url": redis_url,
                "prefix": prefix,
                "wall_start": wall_start,
                "wall_until": wall_until,
                "seed": number,
                "model": model,
                "pooled": pooled,
                "itpm": ITPM,
                "window": window,
            }
            processes.append(
                subprocess.Popen(
                    [sys.executable, __file__, "--child", json.dumps(config)],
                    stdout=subprocess.PIPE,
                    text=True,
                    cwd=ROOT,
                )
            )
        for process in processes:
            process.communicate(timeout=STARTUP_SECONDS + windows * window + 120)
            if process.returncode != 0:
                raise SystemExit(f"a B1c process failed (exit {process.returncode})")
        stats = api.stats()
    pools: dict[str, Any] = {}
    for pool in MODELS:
        class_stats = stats["by_class"].get(pool, {"accepted": [], "rate_limited": 0})
        per_window = accepted_per_window(
            class_stats["accepted"], started, window, windows
        )
        steady = per_window[1:]  # the first window starts with a full bucket
        pools[pool] = {
            "goodput_ratio": round(statistics.mean(steady) / ITPM, 3),
            "min_window_ratio": round(min(steady) / ITPM, 3),
            "rate_limited": class_stats["rate_limited"],
        }
    return pools


def main(windows: int, window: float, latency: float) -> dict[str, Any]:
    require_pools()
    with local_redis() as redis_url:
        ours = run(True, redis_url, windows, window, latency)
        baseline = run(False, redis_url, windows, window, latency)
    return {
        "bench": "B1c",
        "models": MODELS,
        "processes": PROCESSES_PER_CLASS * len(MODELS),
        "agents": PROCESSES_PER_CLASS * len(MODELS) * AGENTS_PER_PROCESS,
        "itpm_per_class": ITPM,
        "windows": windows,
        "window_seconds": window,
        "latency_seconds": latency,
        "pools": ours,
        "baseline": {"name": "one shared pool for both classes", "pools": baseline},
    }


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(json.loads(sys.argv[2]))
    else:
        parser = argparse.ArgumentParser(
            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        parser.add_argument("--windows", type=int, default=10)
        parser.add_argument(
            "--window", type=float, default=WINDOW, help="seconds standing for a minute"
        )
        parser.add_argument("--latency", type=float, default=0.0)
        arguments = parser.parse_args()
        print(json.dumps(main(arguments.windows, arguments.window, arguments.latency)))
