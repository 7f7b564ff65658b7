"""B1e chaos: a fleet on one Redis budget through real faults.

3 processes x 4 sessions send requests over HTTP to the fake API, sharing one
Redis pool, for 30 windows of 10 s, while the schedule strikes: a 3 s pause
(CLIENT PAUSE), a restart empty, a restart with its data, `kill -9` of one
process, and one process cut off from Redis (its TCP proxy drops every
connection) for 2 windows. Each process reaches Redis through its own proxy.

Figures: 429s; input tokens the API accepted per window over the limit
(`goodput_ratio`, the mean over the run after the first window); the most
accepted in any window-long span (`max_window_ratio`, outages included); the
longest a session waited for a grant once Redis answered again, counted from
then: waits under way when an outage ended or begun within a window after
(`longest_stall_windows`), and beside it the longest wait of all, faults or
none (`longest_wait_windows`: a full window's fair queue alone makes some
waits longer than a window); what Redis still holds one window after every
session stopped (`leaked_tokens`). The baseline is the same fleet, same
faults, with the unbounded fallback (each process alone spends the whole limit
while Redis is away; nothing done then reaches Redis). One JSON line.

    python benchmarks/b1e_chaos.py [--window 10] [--windows 30]
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
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.b1_goodput import MAX_TOKENS, accepted_per_window, prompt_of  # noqa: E402
from fake_anthropic import FakeAnthropicAPI  # noqa: E402
from tests.plugins.redis_server import RedisProcess, TcpProxy  # noqa: E402
from token_manager import RateLimits, TokenManager  # noqa: E402
from token_manager.stores import RedisStore  # noqa: E402

PROCESSES = 3
SESSIONS = 4
ITPM = 40_000
PAUSE_SECONDS = 3.0
KILLED, CUT_OFF = 2, 1  # which process is killed, which is cut off


def limits(window: float) -> RateLimits:
    return RateLimits(1_000, ITPM, 100_000, window)


async def session(
    config: dict[str, Any], manager: TokenManager, seed: int, waits: list[Any]
) -> None:
    """Requests until the end; every acquire's (asked, granted) time kept."""
    import anthropic
    import httpx2

    async def observe(response: Any) -> None:
        manager.observe_response(response)

    rng = random.Random(seed)
    http = httpx2.AsyncClient(event_hooks={"response": [observe]})
    client = anthropic.AsyncAnthropic(
        api_key=config["api_key"], base_url=config["base_url"], http_client=http
    )
    try:
        while time.monotonic() < config["until"]:
            messages: list[Any] = [{"role": "user", "content": prompt_of(rng)}]
            asked = time.monotonic()
            estimate = manager.estimate_request(messages=messages)
            reservation = await manager.acquire(estimate, MAX_TOKENS)
            waits.append((asked, time.monotonic()))
            if time.monotonic() >= config["until"]:
                manager.release(reservation)
                break
            try:
                response = await client.messages.create(
                    model="claude-opus-4-8", max_tokens=MAX_TOKENS, messages=messages
                )
                manager.reconcile(reservation, response.usage)
            except anthropic.RateLimitError:
                manager.release(reservation)
            except anthropic.APIError:
                manager.reconcile(reservation, None)
    finally:
        await client.close()


def child(config: dict[str, Any]) -> None:
    """One process of the fleet: its sessions, one manager, Redis via its proxy."""
    import faulthandler

    faulthandler.register(signal.SIGUSR1)  # a stuck child says where
    store = RedisStore(
        config["redis_url"], prefix=config["prefix"], bounded_outage=config["bounded"]
    )
    manager = TokenManager(limits(config["window"]), storage=store)
    waits: list[Any] = []

    async def run() -> None:
        await asyncio.gather(
            *(
                session(config, manager, config["seed"] * 100 + index, waits)
                for index in range(SESSIONS)
            )
        )

    asyncio.run(run())
    # Stay alive (heartbeat on) while the parent looks for leaked charges.
    time.sleep(max(0.0, config["linger_until"] - time.monotonic()))
    print(json.dumps({"waits": waits}), flush=True)


def longest_span(accepted: list[tuple[float, int]], window: float) -> tuple[int, float]:
    """The most input tokens accepted within any `window` seconds, and when
    that span began."""
    times = sorted(accepted)
    best, began, total, start = 0, 0.0, 0, 0
    for at, tokens in times:
        total += tokens
        while times[start][0] <= at - window:
            total -= times[start][1]
            start += 1
        if total > best:
            best, began = total, times[start][0]
    return best, began


def stall(
    waits: list[tuple[float, float]],
    outages: list[tuple[float, float]],
    window: float,
) -> tuple[float, float]:
    """The longest wait for a grant once Redis answered again: a wait under
    way when an outage ended, or begun within a window after, counted from the
    last such end (or from when it began); a grant made during an outage is
    not counted. Also when that count began."""
    longest, began = 0.0, 0.0
    for asked, granted in waits:
        if any(begin <= granted <= end for begin, end in outages):
            continue
        ends = [end for _, end in outages if end < granted and asked < end + window]
        if not ends:
            continue
        since = max(asked, max(ends))
        if granted - since > longest:
            longest, began = granted - since, since
    return longest, began


def longest_wait(waits: list[tuple[float, float]]) -> tuple[float, float]:
    """The longest wait for a grant, faults or none, and when it began."""
    return max(((granted - asked, asked) for asked, granted in waits), default=(0, 0))


def run(bounded: bool, window: float, windows: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as directory:
        redis = RedisProcess(Path(directory))
        proxies = [TcpProxy(redis.port) for _ in range(PROCESSES)]
        prefix = f"b1e-{'bounded' if bounded else 'baseline'}"
        try:
            with FakeAnthropicAPI(
                itpm=ITPM, rpm=1_000, otpm=100_000, window_seconds=window
            ) as api:
                return _fleet(api, redis, proxies, prefix, bounded, window, windows)
        finally:
            for proxy in proxies:
                proxy.close()
            redis.stop()


def _fleet(
    api: FakeAnthropicAPI,
    redis: RedisProcess,
    proxies: list[TcpProxy],
    prefix: str,
    bounded: bool,
    window: float,
    windows: int,
) -> dict[str, Any]:
    started = time.monotonic()
    until = started + windows * window
    linger_until = until + window + 4.0
    children = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--child",
                json.dumps(
                    {
                        "base_url": api.base_url,
                        "api_key": api.api_key,
                        "redis_url": proxies[index].url,
                        "prefix": prefix,
                        "bounded": bounded,
                        "window": window,
                        "until": until,
                        "linger_until": linger_until,
                        "seed": index,
                    }
                ),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for index in range(PROCESSES)
    ]
    everyone: list[tuple[float, float]] = []  # outages every process sees
    cut_off: list[tuple[float, float]] = []

    def at(fraction: float) -> None:
        time.sleep(
            max(0.0, started + round(fraction * windows) * window - time.monotonic())
        )

    faults: list[dict[str, Any]] = []

    def struck(name: str, begin: float, end: float) -> None:
        faults.append(
            {
                "fault": name,
                "at_window": round((begin - started) / window, 2),
                "seconds": round(end - begin, 2),
            }
        )

    at(0.1)
    begin = time.monotonic()
    redis.pause(PAUSE_SECONDS)
    everyone.append((begin, begin + PAUSE_SECONDS))
    struck("pause", begin, begin + PAUSE_SECONDS)
    for fraction, keep in ((0.27, False), (0.43, True)):
        at(fraction)
        begin = time.monotonic()
        redis.restart(keep_data=keep)
        everyone.append((begin, time.monotonic()))
        struck(
            "restart with data" if keep else "restart empty", begin, time.monotonic()
        )
    at(0.6)
    os.kill(children[KILLED].pid, signal.SIGKILL)
    struck("kill -9", time.monotonic(), time.monotonic())
    at(0.73)
    begin = time.monotonic()
    proxies[CUT_OFF].cut()
    time.sleep(2 * window)
    proxies[CUT_OFF].mend()
    cut_off.append((begin, time.monotonic()))
    struck("cut off from Redis", begin, time.monotonic())

    time.sleep(max(0.0, until + window + 1.0 - time.monotonic()))
    left = RedisStore(redis.url, prefix=prefix).usage("default", window, 0.0)
    longest, stall_at, any_wait, any_wait_at = 0.0, 0.0, 0.0, 0.0
    for index, process in enumerate(children):
        try:
            out, _ = process.communicate(timeout=2 * window + 60)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGUSR1)
            time.sleep(1)
            process.kill()
            out, _ = process.communicate()
            faults.append({"stuck_process": index})
        if index == KILLED or not out.strip():
            continue
        waits = [
            tuple(pair) for pair in json.loads(out.strip().splitlines()[-1])["waits"]
        ]
        outages = everyone + (cut_off if index == CUT_OFF else [])
        waited, since = stall(waits, outages, window)
        if waited > longest:
            longest, stall_at = waited, since
        waited, since = longest_wait(waits)
        if waited > any_wait:
            any_wait, any_wait_at = waited, since
    stats = api.stats()
    per_window = accepted_per_window(stats["accepted"], started, window, windows)
    most, began = longest_span(stats["accepted"], window)
    return {
        "rate_limited": stats["rate_limited"],
        "goodput_ratio": round(statistics.mean(per_window[1:]) / ITPM, 3),
        "max_window_ratio": round(most / ITPM, 3),
        "max_window_at": round((began - started) / window, 2),
        "longest_stall_windows": round(longest / window, 2),
        "longest_stall_at": round((stall_at - started) / window, 2),
        "longest_wait_windows": round(any_wait / window, 2),
        "longest_wait_at": round((any_wait_at - started) / window, 2),
        "leaked_tokens": int(left["input_tokens"]),
        "faults": faults,
    }


def main(window: float, windows: int) -> dict[str, Any]:
    ours = run(True, window, windows)
    baseline = run(False, window, windows)
    return {
        "bench": "B1e",
        "processes": PROCESSES,
        "sessions": PROCESSES * SESSIONS,
        "window_seconds": window,
        "windows": windows,
        **ours,
        "baseline": {"name": "unbounded fallback", **baseline},
    }


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(json.loads(sys.argv[2]))
    else:
        parser = argparse.ArgumentParser(
            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        parser.add_argument(
            "--window", type=float, default=10.0, help="seconds standing for a minute"
        )
        parser.add_argument("--windows", type=int, default=30)
        arguments = parser.parse_args()
        print(json.dumps(main(arguments.window, arguments.windows)))
