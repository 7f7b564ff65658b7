"""B1d: fairness across processes sharing one Redis pool, against one fake API.

3 processes x 4 sessions, each session sending random-size requests through its
process's TokenManager, all on one Redis pool, for `--windows` windows of
`--window` seconds (10 s, as B1: the time from a grant to its response's
end holds budget idle, a cost of about that time over the window, which
would dominate a 2 s window and is under 1% of the real 60 s one).
Half-way through, one process is killed with SIGKILL. Reported: 429s, goodput
(input tokens accepted per window over the limit, the first window left out),
the ratio of most to fewest grants per surviving session, the longest wait for
a grant in windows, and `killed_process_freed_seconds`: from the kill until the
killed process holds nothing that stops the others: no ticket in the queue and
no request in flight (what it had sent, the server counted: those charges then
count one window more, as the server's own bucket does). The baseline, in the
same run, is the old polling: no ticket queue, and requests in flight held by a
fixed 600 s lease; when its leases outlive the run, the figure is read from the
lease ends in Redis. Starts its own redis-server on a free loopback port.
One JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.b1_goodput import accepted_per_window  # noqa: E402
from fake_anthropic import FakeAnthropicAPI  # noqa: E402
from tests.plugins.redis_server import local_redis  # noqa: E402
from token_manager import RateLimits, TokenManager  # noqa: E402
from token_manager.stores import RedisStore  # noqa: E402
from token_manager.window import DEFAULT_LEASE_SECONDS  # noqa: E402

PROCESSES = 3
SESSIONS = 4
INPUT_TOKENS_PER_SECOND = 10_000  # the limit is this times the window
MAX_TOKENS = 64
KILLED = 2  # the index of the process killed half-way
STARTUP_SECONDS = 8.0


async def session(
    base_url: str,
    api_key: str,
    manager: TokenManager,
    seed: int,
    until: float,
    figures: dict[str, Any],
) -> None:
    import anthropic
    import httpx2

    rng = random.Random(seed)

    async def hook(response: Any) -> None:
        manager.observe_response(response)

    http = httpx2.AsyncClient(event_hooks={"response": [hook]})
    client = anthropic.AsyncAnthropic(
        api_key=api_key, base_url=base_url, http_client=http
    )
    try:
        while time.monotonic() < until:
            messages: list[Any] = [
                {"role": "user", "content": "word " * rng.randint(300, 1_500)}
            ]
            estimate = manager.estimate_request(messages=messages)
            asked = time.monotonic()
            reservation = await manager.acquire(estimate, MAX_TOKENS)
            waited = time.monotonic() - asked
            if time.monotonic() >= until:
                manager.release(reservation)
                break
            figures["grants"] += 1
            figures["longest_wait"] = max(figures["longest_wait"], waited)
            try:
                response = await client.messages.create(
                    model="claude-opus-4-8", max_tokens=MAX_TOKENS, messages=messages
                )
                manager.reconcile(reservation, response.usage)
            except anthropic.RateLimitError:
                manager.release(reservation)
    finally:
        await client.close()


def child(
    base_url: str,
    api_key: str,
    redis_url: str,
    prefix: str,
    fair: bool,
    start: float,
    until: float,
    window: float,
) -> None:
    """One process: four sessions on one TokenManager sharing the Redis pool,
    from the wall-clock `start` (every process at once) to `until`."""
    store = RedisStore(
        redis_url,
        prefix=prefix,
        fair_queue=fair,
        lease_seconds=None if fair else DEFAULT_LEASE_SECONDS,
    )
    print(json.dumps({"instance": store.instance}), flush=True)
    limits = RateLimits(1_000, itpm(window), 100_000, window)
    manager = TokenManager(limits, storage=store)
    figures = [{"grants": 0, "longest_wait": 0.0} for _ in range(SESSIONS)]
    seed = os.getpid()
    time.sleep(max(0.0, start - time.time()))
    until = time.monotonic() + (until - time.time())

    async def run() -> None:
        await asyncio.gather(
            *(
                session(base_url, api_key, manager, seed * 10 + i, until, figures[i])
                for i in range(SESSIONS)
            )
        )

    asyncio.run(run())
    print(json.dumps({"sessions": figures}), flush=True)


def held_by(store: RedisStore, pool: str, instance: str) -> tuple[int, float]:
    """How many tickets and in-flight charges `instance` still holds in `pool`,
    and the latest time (seconds from now) one of them would lapse by itself."""
    client = store.connection()
    now_seconds, micros = client.time()
    now = float(now_seconds) + micros / 1_000_000
    held, latest = 0, 0.0
    for key in store.keys(pool) + store.queue_keys(pool)[1:]:
        for member, score in client.zrangebyscore(key, now, "+inf", withscores=True):
            if member.decode().startswith(instance):
                held += 1
                latest = max(latest, float(score) - now)
    return held, latest


def in_flight(store: RedisStore, pool: str, instance: str) -> bool:
    client = store.connection()
    now_seconds, micros = client.time()
    now = float(now_seconds) + micros / 1_000_000
    return any(
        member.decode().startswith(instance)
        for member in client.zrangebyscore(store.keys(pool)[0], now, "+inf")
    )


def itpm(window: float) -> int:
    return round(INPUT_TOKENS_PER_SECOND * window)


def run(fair: bool, redis_url: str, windows: int, window: float) -> dict[str, Any]:
    prefix = f"b1d-{'fair' if fair else 'polling'}-{os.getpid()}"
    observer = RedisStore(redis_url, prefix=prefix)
    with FakeAnthropicAPI(
        itpm=itpm(window), rpm=1_000, otpm=100_000, window_seconds=window
    ) as api:
        # Every process starts at once, after its imports (slow on a busy machine).
        wall_start = time.time() + STARTUP_SECONDS
        wall_until = wall_start + windows * window
        processes = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    api.base_url,
                    api.api_key,
                    redis_url,
                    prefix,
                    "1" if fair else "0",
                    str(wall_start),
                    str(wall_until),
                    str(window),
                ],
                stdout=subprocess.PIPE,
                text=True,
                cwd=ROOT,
            )
            for _ in range(PROCESSES)
        ]
        instances = []
        for process in processes:
            assert process.stdout is not None
            instances.append(json.loads(process.stdout.readline())["instance"])
        started = time.monotonic() + (wall_start - time.time())
        time.sleep(max(0.0, started + windows * window / 2 - time.monotonic()))
        # Killed while it holds a request in flight (and, with the queue, tickets).
        deadline = time.monotonic() + window
        while time.monotonic() < deadline:
            if in_flight(observer, "default", instances[KILLED]):
                break
            time.sleep(0.005)
        os.kill(processes[KILLED].pid, signal.SIGKILL)
        killed_at = time.monotonic()
        freed: float | None = None
        latest = 0.0
        while time.monotonic() < killed_at + 2 * window:
            held, latest = held_by(observer, "default", instances[KILLED])
            if held == 0:
                freed = time.monotonic() - killed_at
                break
            time.sleep(0.01)
        if freed is None:  # the leases outlive the run: when they would lapse
            freed = time.monotonic() - killed_at + latest
        outputs = []
        for index, process in enumerate(processes):
            out, _ = process.communicate(timeout=windows * window + 120)
            if index != KILLED:
                outputs.append(json.loads(out.strip().splitlines()[-1]))
        stats = api.stats()
    observer.close()
    per_window = accepted_per_window(stats["accepted"], started, window, windows)
    sessions = [figures for output in outputs for figures in output["sessions"]]
    grants = [figures["grants"] for figures in sessions]
    return {
        "rate_limited": stats["rate_limited"],
        "goodput_ratio": round(statistics.mean(per_window[1:]) / itpm(window), 3),
        "grant_ratio": round(max(grants) / max(1, min(grants)), 3),
        "longest_wait_windows": round(
            max(figures["longest_wait"] for figures in sessions) / window, 3
        ),
        "killed_process_freed_seconds": round(freed, 3),
    }


def main(windows: int, window: float) -> dict[str, Any]:
    with local_redis() as redis_url:
        ours = run(True, redis_url, windows, window)
        baseline = run(False, redis_url, windows, window)
    return {"bench": "B1d", **ours, "baseline": baseline}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, url, key, redis, prefix, fair, start, until, window = sys.argv
        child(
            url,
            key,
            redis,
            prefix,
            fair == "1",
            float(start),
            float(until),
            float(window),
        )
    else:
        parser = argparse.ArgumentParser(description=__doc__)
        parser.add_argument("--windows", type=int, default=10)
        parser.add_argument("--window", type=float, default=10.0)
        arguments = parser.parse_args()
        print(json.dumps(main(arguments.windows, arguments.window)))
