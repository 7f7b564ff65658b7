"""Load: 20 sessions sharing one TokenManager for several windows. Soak: 1,000 turns."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from fake_anthropic import FakeAnthropicAPI, free_port
from tests.plugins.stack_checks import wait_for_port
from tests.reliability.agent import run_agent
from token_manager import RateLimits, TokenManager

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.slow,
    pytest.mark.usefixtures("screen_env"),
]
ROOT = Path(__file__).resolve().parents[2]


async def one_turn(
    api: Any,
    manager: TokenManager,
    history: list[Any],
    on_tool: Any = None,
    **loop_options: Any,
) -> None:
    options: dict[str, Any] = {
        "token_manager": manager,
        "max_tokens": 256,
        **loop_options,
    }
    if on_tool is not None:
        options["tool_output_callback"] = on_tool
    await run_agent(history, api.api_key, **options)


async def test_twenty_sessions_share_the_budget_fairly(
    monkeypatch: pytest.MonkeyPatch, figures: dict[str, Any]
) -> None:
    window, itpm = 2.0, 30_000
    turn = {"content": [{"type": "text", "tokens": 20}]}
    with FakeAnthropicAPI(
        scenario={"turns": [], "default": turn},
        itpm=itpm,
        rpm=60,
        otpm=200_000,
        window_seconds=window,
    ) as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
        manager = TokenManager(RateLimits(60, itpm, 200_000, window))
        completed = [0] * 20
        until = time.monotonic() + 4 * window

        async def session(index: int) -> None:
            history: list[Any] = [{"role": "user", "content": "word " * 400}]
            while time.monotonic() < until:
                await one_turn(api, manager, history)
                completed[index] += 1
                history.append({"role": "user", "content": "next " * 50})

        await asyncio.wait_for(
            asyncio.gather(*(session(index) for index in range(20))), timeout=120
        )
        stats = api.stats()
    figures["load_sessions"] = 20
    figures["load_turns"] = sum(completed)
    figures["load_429s"] = stats["rate_limited"]
    assert stats["rate_limited"] == 0
    assert min(completed) >= 1, f"no session starves: {completed}"
    assert max(completed) - min(completed) <= 3, f"fair order: {completed}"


async def test_a_long_session_stays_flat(
    monkeypatch: pytest.MonkeyPatch, figures: dict[str, Any], tmp_path: Path
) -> None:
    """The fake API runs in its own process, so only the agent's memory is measured.

    The suite's soak: 400 turns under a 40k-token context budget (a fifth of
    the window), past which requests stop growing by turn ~100;
    `RELIABILITY_SOAK=full` (benchmarks/reliability_report.py): 1,000 turns
    under the default 160k."""
    full = os.environ.get("RELIABILITY_SOAK") == "full"
    count, budget_fraction = (1_000, 0.8) if full else (400, 0.2)
    half = count // 2
    turns = [
        {
            "content": [
                {"type": "text", "text": f"step {index}"},
                {
                    "type": "tool_use",
                    "name": "bash",
                    "input": {
                        "command": f"echo {index}; head -c 1500 /dev/zero | tr '\\0' y"
                    },
                },
            ]
        }
        for index in range(count)
    ]
    script = tmp_path / "soak.json"
    script.write_text(
        json.dumps({"turns": [*turns, {"content": [{"type": "text", "text": "done"}]}]})
    )
    port = free_port()
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, before the measured part
        [
            sys.executable,
            "-m",
            "fake_anthropic",
            "--port",
            str(port),
            "--script",
            str(script),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        wait_for_port(port, 30)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", base_url)
        process = psutil.Process()
        manager = TokenManager(RateLimits(None, None, None))
        history: list[Any] = [{"role": "user", "content": "work for a long time"}]
        gc.collect()
        start_rss = process.memory_info().rss
        start_fds = process.num_fds()
        start_threads = threading.active_count()
        samples: list[int] = []

        def sample(result: Any, tool_id: str) -> None:
            samples.append(process.memory_info().rss)

        await asyncio.wait_for(
            one_turn(
                FakeKey(),
                manager,
                history,
                sample,
                context_budget_fraction=budget_fraction,
            ),
            timeout=600,
        )
        gc.collect()
        end_rss = process.memory_info().rss
        stats = httpx.get(f"{base_url}/_stats", timeout=10)  # noqa: ASYNC210 - after the measured part
        sizes = stats.json()["request_bytes"]
    finally:
        server.terminate()
        server.wait(timeout=10)
    grown_mb = (end_rss - start_rss) / 1e6
    figures.update(
        soak_turns=count,
        soak_rss_start_mb=round(start_rss / 1e6, 1),
        soak_rss_end_mb=round(end_rss / 1e6, 1),
        soak_rss_half_mb=round(samples[half] / 1e6, 1),
        soak_max_request_bytes=max(sizes),
        soak_fds_start=start_fds,
        soak_fds_end=process.num_fds(),
        soak_threads_start=start_threads,
        soak_threads_end=threading.active_count(),
    )
    assert len(sizes) == count + 1 and len(history) > 2 * count
    # The user keeps the whole history; requests stop growing at the budget.
    tenth = count // 10
    assert max(sizes[-tenth:]) <= max(sizes[half - tenth : half]) * 1.2
    assert process.num_fds() <= start_fds + 10, "no leaked sockets or files"
    assert threading.active_count() <= start_threads + 3
    # Caches fill during the first turns, then memory stays flat: the second
    # half of the session may add only the history itself (~3 MB) and noise.
    second_half_mb = (samples[-1] - samples[half]) / 1e6
    assert second_half_mb < 20, (
        f"memory grew {second_half_mb:.0f} MB in the second {half} turns"
    )
    assert grown_mb < 100, f"memory grew {grown_mb:.0f} MB"


class FakeKey:
    """Stands in for the API object: the key the child server expects."""

    api_key = "sk-ant-test-fake-api-key-0000"
