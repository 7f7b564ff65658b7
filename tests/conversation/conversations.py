"""Conversations for the conversation rules' tests: sessions of computer-use
steps, a deterministic token count, and readers of what a request view holds."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

from computer_use_demo.conversation import (
    ContextBudget,
    PruneReport,
    build_request_messages,
)

Message = dict[str, Any]

IMAGE_TOKENS = 100


def count(message: Any) -> int:
    """A deterministic stand-in for the TokenManager's estimate: 4 chars a token,
    a fixed price per image, a little framing per message."""
    content = message["content"]
    blocks = [content] if isinstance(content, str) else content
    return 4 + sum(_block_tokens(block) for block in blocks)


def _block_tokens(block: Any) -> int:
    if isinstance(block, str):
        return len(block) // 4 + 1
    if block.get("type") == "image":
        return IMAGE_TOKENS
    if block.get("type") == "tool_result":
        inner = block.get("content")
        items = [inner] if isinstance(inner, str) else list(inner or [])
        return 3 + sum(_block_tokens(item) for item in items)
    visible = {
        k: v for k, v in block.items() if k not in ("cache_control", "signature")
    }
    return 3 + len(json.dumps(visible)) // 4


def image() -> Message:
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"},
    }


def turn(
    number: int,
    *,
    output: str = "done",
    screenshot: bool = False,
    thinking: bool = False,
) -> list[Message]:
    """One computer-use step: the assistant calls a tool, the user message answers it."""
    assistant: list[Message] = []
    if thinking:
        assistant.append(
            {
                "type": "thinking",
                "thinking": f"plan {number}",
                "signature": f"sig{number}",
            }
        )
    assistant.append({"type": "text", "text": f"Step {number}."})
    assistant.append(
        {
            "type": "tool_use",
            "id": f"toolu_{number}",
            "name": "computer",
            "input": {"action": "screenshot"},
        }
    )
    result: list[Message] = [{"type": "text", "text": output}]
    if screenshot:
        result.append(image())
    return [
        {"role": "assistant", "content": assistant},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": f"toolu_{number}",
                    "content": result,
                    "is_error": False,
                }
            ],
        },
    ]


def session(turns: int, **kwargs: Any) -> list[Any]:
    history: list[Message] = [
        {"role": "user", "content": "Book me a flight to Lisbon."}
    ]
    for number in range(turns):
        history.extend(turn(number, **kwargs))
    return history


def total_tokens(messages: list[Any]) -> int:
    return sum(count(message) for message in messages)


def build(
    history: list[Any],
    budget: ContextBudget,
    counter: Callable[[Any], int] = count,
    fixed_tokens: int = 0,
) -> tuple[list[Any], PruneReport]:
    """build_request_messages, typed loosely for tests that index into the view."""
    view, report = build_request_messages(history, budget, counter, fixed_tokens)
    return cast(list[Any], view), report


def screenshots_in(messages: list[Any]) -> int:
    return sum(
        1
        for message in messages
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result" and isinstance(block.get("content"), list)
        for inner in block["content"]
        if inner.get("type") == "image"
    )


def without_marks(message: Any) -> Any:
    content = message["content"]
    if not isinstance(content, list):
        return message
    return {
        **message,
        "content": [
            {k: v for k, v in block.items() if k != "cache_control"}
            for block in content
        ],
    }


def marks(messages: list[Any]) -> list[int]:
    found = []
    for index, message in enumerate(messages):
        content = message["content"]
        if not isinstance(content, list):
            continue
        for block in content:
            if "cache_control" in block:
                found.append(index)
            if block.get("type") == "tool_result" and isinstance(
                block.get("content"), list
            ):
                found.extend(
                    index for inner in block["content"] if "cache_control" in inner
                )
    return found


def compaction(summary: str | None) -> Message:
    return {"type": "compaction", "content": summary, "encrypted_content": "opaque"}


def compacted_session() -> list[Any]:
    history = session(10, output="r" * 400)
    history.append(
        {
            "role": "assistant",
            "content": [compaction("Summary of steps 0-9."), *turn(10)[0]["content"]],
        }
    )
    history.append(turn(10)[1])
    for number in range(11, 15):
        history.extend(turn(number, output="r" * 400))
    return history
