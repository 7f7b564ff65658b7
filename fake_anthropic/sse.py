"""Builds the event sequence of one answer, shaped exactly like the real API's.

Pure: returns (event name, payload, output tokens in it) tuples; framing and pacing
happen in the app.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

FILLER = [
    "the",
    "screen",
    "shows",
    "a",
    "terminal",
    "window",
    "with",
    "a",
    "prompt",
    "and",
    "a",
    "panel",
    "at",
    "the",
    "bottom",
    "where",
    "firefox",
    "and",
    "the",
    "file",
    "manager",
    "can",
    "be",
    "opened",
    "with",
    "one",
    "click",
]


@dataclass(frozen=True)
class Event:
    name: str
    data: dict[str, Any]
    tokens: int = 0


def filler_text(tokens: int, seed: int) -> str:
    """Deterministic words, about one token each."""
    rng = random.Random(seed)
    return " ".join(rng.choice(FILLER) for _ in range(max(1, tokens)))


def _chunks(text: str, size: int) -> Iterator[str]:
    words = text.split(" ")
    for start in range(0, len(words), size):
        piece = " ".join(words[start : start + size])
        yield piece if start == 0 else " " + piece


def _json_fragments(text: str, rng: random.Random) -> Iterator[str]:
    """Fragments that split keys and strings, as the real API's chunking does."""
    position = 0
    while position < len(text):
        step = rng.randint(3, 11)
        yield text[position : position + step]
        position += step


def resolve_blocks(
    content: list[dict[str, Any]], turn_index: int
) -> list[dict[str, Any]]:
    """Concrete blocks: filler text generated, tool ids fixed per turn (a retry
    re-sends the same ids, as a re-generated answer would not, but a test needs)."""
    resolved = []
    for position, block in enumerate(content):
        block = dict(block)
        if block.get("type") == "text" and "text" not in block:
            block["text"] = filler_text(
                int(block.get("tokens", 10)), seed=turn_index * 1000 + position
            )
        if block.get("type") == "tool_use":
            block.setdefault("id", f"toolu_fake_{turn_index:04d}_{position:02d}")
            block.setdefault("input", {})
        if block.get("type") == "thinking":
            block.setdefault(
                "thinking", filler_text(int(block.get("tokens", 20)), seed=turn_index)
            )
            block.setdefault("signature", f"sig-{turn_index}-{position}-" + "A" * 24)
        resolved.append(block)
    return resolved


def answer_events(
    *,
    message_id: str,
    model: str,
    blocks: list[dict[str, Any]],
    stop_reason: str,
    usage: dict[str, int],
    count_tokens: Any,
    words_per_delta: int = 3,
    seed: int = 0,
) -> tuple[list[Event], int]:
    """The whole stream of one answer, and its output token count."""
    rng = random.Random(seed)
    events: list[Event] = [
        Event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {**usage, "output_tokens": 1},
                },
            },
        ),
        Event("ping", {"type": "ping"}),
    ]
    output_tokens = 0
    for index, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "text":
            events.append(_start(index, {"type": "text", "text": ""}))
            for piece in _chunks(block["text"], words_per_delta):
                tokens = count_tokens(piece)
                output_tokens += tokens
                events.append(
                    _delta(index, {"type": "text_delta", "text": piece}, tokens)
                )
            events.append(_stop(index))
        elif kind == "thinking":
            events.append(
                _start(index, {"type": "thinking", "thinking": "", "signature": ""})
            )
            for piece in _chunks(block["thinking"], words_per_delta):
                tokens = count_tokens(piece)
                output_tokens += tokens
                events.append(
                    _delta(index, {"type": "thinking_delta", "thinking": piece}, tokens)
                )
            events.append(
                _delta(
                    index, {"type": "signature_delta", "signature": block["signature"]}
                )
            )
            events.append(_stop(index))
        elif kind == "tool_use":
            events.append(
                _start(
                    index,
                    {
                        "type": "tool_use",
                        "id": block["id"],
                        "name": block["name"],
                        "caller": {"type": "direct"},
                        "input": {},
                    },
                )
            )
            text = json.dumps(block["input"])
            if block.get("malformed_json"):
                text = text[:-1] + ' "oops"}' if len(text) > 2 else '{"oops" 1}'
            if block.get("truncate"):
                text = text[: max(1, len(text) // 2)]
            events.append(
                _delta(index, {"type": "input_json_delta", "partial_json": ""})
            )
            for piece in _json_fragments(text, rng):
                tokens = count_tokens(piece)
                output_tokens += tokens
                events.append(
                    _delta(
                        index,
                        {"type": "input_json_delta", "partial_json": piece},
                        tokens,
                    )
                )
            if not block.get("truncate"):
                events.append(_stop(index))
        else:
            events.append(_start(index, block))
            events.append(_stop(index))
        if index == 0:
            events.append(Event("ping", {"type": "ping"}))
    output_tokens = max(1, output_tokens)
    events.append(
        Event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        )
    )
    events.append(Event("message_stop", {"type": "message_stop"}))
    return events, output_tokens


def _start(index: int, block: dict[str, Any]) -> Event:
    return Event(
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": block},
    )


def _delta(index: int, delta: dict[str, Any], tokens: int = 0) -> Event:
    return Event(
        "content_block_delta",
        {"type": "content_block_delta", "index": index, "delta": delta},
        tokens,
    )


def _stop(index: int) -> Event:
    return Event("content_block_stop", {"type": "content_block_stop", "index": index})


def frame(event: Event) -> bytes:
    return f"event: {event.name}\ndata: {json.dumps(event.data, separators=(',', ':'))}\n\n".encode()


def message_json(
    *,
    message_id: str,
    model: str,
    blocks: list[dict[str, Any]],
    stop_reason: str,
    usage: dict[str, int],
) -> dict[str, Any]:
    """The non-streaming response body of the same answer."""
    content = []
    for block in blocks:
        clean = {
            key: value
            for key, value in block.items()
            if key not in ("tokens", "malformed_json", "truncate")
        }
        if clean.get("type") == "tool_use":
            clean.setdefault("caller", {"type": "direct"})
        content.append(clean)
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }
