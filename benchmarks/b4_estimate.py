"""B4: how close `estimate_request` comes to the server's count, turn by turn.

A multi-turn computer-use conversation (text, bash output, screenshots) is sent
to the fake API, whose tokenizer differs from cl100k by a factor and per-block
overheads the estimator does not know. The manager learns from each response:
the calibrated ratio and the conversation's measured prefix. Also reported:
the share of turns whose in-flight charge (estimate plus margin) covered the
server's count. Baseline: the raw local count, uncalibrated.
One JSON line.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import random
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anthropic
from PIL import Image

from computer_use_demo.request import system_prompt
from fake_anthropic import FakeAnthropicAPI
from token_manager import RateLimits, TokenManager
from token_manager.estimate import MessageCounter, system_tokens, tools_tokens

MODEL = "claude-opus-4-8"

TOOLS: list[dict[str, Any]] = [
    {
        "type": "computer_20250124",
        "name": "computer",
        "display_width_px": 1024,
        "display_height_px": 768,
    },
    {"type": "bash_20250124", "name": "bash"},
    {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
]


def screenshot(rng: random.Random) -> str:
    image = Image.new("RGB", (1024, 768), (rng.randint(0, 255), 80, 120))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def bash_output(rng: random.Random) -> str:
    return "\n".join(
        f"-rw-r--r-- 1 user user {rng.randint(10, 99999):>6} Nov 24 file_{index}.txt"
        for index in range(rng.randint(5, 60))
    )


def main(turns: int) -> dict[str, Any]:
    rng = random.Random(7)
    system: list[Any] = [{"type": "text", "text": system_prompt()}]
    messages: list[Any] = [
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "Open the files folder and summarise what is there.",
                }
            ],
        }
    ]
    manager = TokenManager(RateLimits(None, None, None))
    counter = MessageCounter()
    ours: list[float] = []
    baseline: list[float] = []
    covered: list[bool] = []
    with FakeAnthropicAPI() as api:
        client = anthropic.Anthropic(api_key=api.api_key, base_url=api.base_url)
        for turn in range(turns):
            estimate = manager.estimate_request(
                system=system, messages=messages, tools=TOOLS, model=MODEL
            )
            raw = (
                system_tokens(system)
                + tools_tokens(TOOLS)
                + counter.count_all(messages)
            )
            reservation = manager.acquire_sync(estimate, 64)
            response = client.beta.messages.create(
                model=MODEL,
                max_tokens=64,
                system=system,
                messages=messages,
                tools=TOOLS,  # type: ignore[arg-type]
            )
            usage = response.usage
            real = (
                usage.input_tokens
                + (usage.cache_creation_input_tokens or 0)
                + (usage.cache_read_input_tokens or 0)
            )
            manager.reconcile(reservation, usage)
            if turn >= 1:
                ours.append(abs(estimate.total_tokens - real) / real)
                baseline.append(abs(raw - real) / real)
                covered.append(reservation.input_tokens >= real)
            tool_id = f"toolu_b4_{turn}"
            use_screen = turn % 2 == 0
            messages.append(
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "text",
                            "text": f"Step {turn}: "
                            + " ".join(
                                rng.choice(
                                    ["looking", "at", "the", "folder", "now", "files"]
                                )
                                for _ in range(rng.randint(5, 40))
                            ),
                        },
                        {
                            "type": "tool_use",
                            "id": tool_id,
                            "name": "computer" if use_screen else "bash",
                            "input": {"action": "screenshot"}
                            if use_screen
                            else {"command": "ls -la ~/files"},
                        },
                    ],
                }
            )
            content: list[dict[str, Any]] = (
                [
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": screenshot(rng),
                        },
                    }
                ]
                if use_screen
                else [{"type": "text", "text": bash_output(rng)}]
            )
            messages.append(
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": tool_id,
                            "content": content,
                        }
                    ],
                }
            )
    return {
        "bench": "B4",
        "turns": turns,
        "median_error": round(statistics.median(ours), 4),
        "max_error": round(max(ours), 4),
        "calibration_ratio": round(manager.calibration_ratio, 3),
        "in_flight_covered_share": round(sum(covered) / len(covered), 3),
        "baseline": {
            "name": "raw cl100k count, uncalibrated",
            "median_error": round(statistics.median(baseline), 4),
            "max_error": round(max(baseline), 4),
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=30)
    print(json.dumps(main(parser.parse_args().turns)))
