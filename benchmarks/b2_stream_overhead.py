"""B2: our streaming path (router + callbacks) vs bare iteration of the SDK's stream.

A 100k-token answer served over loopback by the fake API; both consumers read the
same stream in the same run, alternating, best of N. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anthropic

from computer_use_demo.streaming import StreamEvent, StreamRouter, TextDelta
from fake_anthropic import FakeAnthropicAPI

REQUEST = {
    "model": "claude-opus-4-8",
    "max_tokens": 128_000,
    "messages": [{"role": "user", "content": "write"}],
}


async def bare(client: anthropic.AsyncAnthropic) -> tuple[float, int]:
    started = time.perf_counter()
    async with client.beta.messages.stream(**REQUEST) as stream:  # type: ignore[arg-type]
        async for _ in stream:
            pass
        message = await stream.get_final_message()
    return time.perf_counter() - started, message.usage.output_tokens


async def ours(client: anthropic.AsyncAnthropic) -> tuple[float, int]:
    received: list[str] = []

    def on_event(event: StreamEvent) -> None:  # what a UI callback does: keep the text
        if isinstance(event, TextDelta):
            received.append(event.text)

    started = time.perf_counter()
    router = StreamRouter(emit=on_event)
    async with client.beta.messages.stream(**REQUEST) as stream:  # type: ignore[arg-type]
        async for event in stream:
            router.route(event)
        message = await stream.get_final_message()
    elapsed = time.perf_counter() - started
    assert "".join(received) == message.content[0].text  # type: ignore[union-attr]
    return elapsed, message.usage.output_tokens


async def main(tokens: int, rounds: int) -> dict[str, object]:
    scenario = {
        "turns": [],
        "default": {"content": [{"type": "text", "tokens": tokens}]},
    }
    with FakeAnthropicAPI(scenario=scenario) as api:
        client = anthropic.AsyncAnthropic(
            api_key=api.api_key, base_url=api.base_url, max_retries=0, timeout=300
        )
        bare_times: list[float] = []
        our_times: list[float] = []
        output_tokens = 0
        await bare(client)  # warm up the connection and the server
        for _ in range(rounds):
            elapsed, output_tokens = await bare(client)
            bare_times.append(elapsed)
            elapsed, _ = await ours(client)
            our_times.append(elapsed)
        await client.close()
    bare_best, ours_best = min(bare_times), min(our_times)
    return {
        "bench": "B2",
        "stream_tokens": output_tokens,
        "throughput_tokens_per_s": round(output_tokens / ours_best),
        "throughput_ratio": round(bare_best / ours_best, 3),
        "seconds": round(ours_best, 3),
        "rounds": rounds,
        "baseline": {
            "name": "bare SDK messages.stream iteration",
            "throughput_tokens_per_s": round(output_tokens / bare_best),
            "seconds": round(bare_best, 3),
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    print(json.dumps(asyncio.run(main(arguments.tokens, arguments.rounds))))
