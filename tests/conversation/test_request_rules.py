"""The API's request rules met before sending (conversation/request_rules.py):
whitespace-only text, image count and size, the 32 MB body."""

from __future__ import annotations

import base64
import copy
import io
import json
from typing import Any

from PIL import Image

from computer_use_demo.conversation import (
    MAX_IMAGES_PER_REQUEST,
    apply_request_rules,
    repair_loaded_conversation,
    validate_conversation,
)
from computer_use_demo.conversation.request_rules import (
    IMAGE_LEFT_OUT,
    MAX_IMAGE_BYTES,
)


def png(width: int, height: int, noise: int = 0) -> str:
    """A real PNG of that size; `noise` random bytes make it that much larger."""
    image = Image.new("RGB", (width, height), (30, 30, 30))
    if noise:
        side = int((noise / 3) ** 0.5) + 1
        patch = Image.frombytes(
            "RGB", (side, side), bytes(range(256)) * (side * side * 3 // 256 + 1)
        )
        image.paste(patch, (0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=0)
    return base64.b64encode(buffer.getvalue()).decode()


def image_block(data: str) -> dict[str, Any]:
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": data},
    }


def session(screenshots: list[str]) -> list[Any]:
    """One computer action per screenshot, each answered with it."""
    messages: list[Any] = [{"role": "user", "content": "do the task"}]
    for number, data in enumerate(screenshots):
        tool_id = f"toolu_{number:04d}"
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "\n\n"},
                    {
                        "type": "tool_use",
                        "id": tool_id,
                        "name": "computer",
                        "input": {"action": "screenshot"},
                    },
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": tool_id,
                        "content": [image_block(data)],
                    }
                ],
            }
        )
    return messages


def sent_images(messages: list[Any]) -> list[str]:
    return [
        inner["source"]["data"]
        for message in messages
        if message["role"] == "user" and isinstance(message["content"], list)
        for block in message["content"]
        for inner in (
            block.get("content", []) if block["type"] == "tool_result" else [block]
        )
        if isinstance(inner, dict) and inner.get("type") == "image"
    ]


def blank_texts(messages: list[Any]) -> int:
    return sum(
        1
        for message in messages
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "text" and not block["text"].strip()
    )


def test_whitespace_only_text_never_goes_and_the_history_keeps_it() -> None:
    history = session([png(8, 8)])
    history.append({"role": "assistant", "content": [{"type": "text", "text": " \n"}]})
    before = copy.deepcopy(history)
    sent, report = apply_request_rules(history)
    assert blank_texts(sent) == 0 and report.blank_texts_dropped == 2
    assert sent[-1]["role"] == "user", "a message of only whitespace is left out"
    assert validate_conversation(sent) == []
    assert history == before, "the history is not edited"


def test_a_request_holds_at_most_100_images_the_newest() -> None:
    shots = [png(16, 16 + number) for number in range(150)]
    history = session(shots)
    sent, report = apply_request_rules(history)
    assert sent_images(sent) == shots[-MAX_IMAGES_PER_REQUEST:]
    assert report.images_sent == 100 and report.images_left_out == 50
    assert validate_conversation(sent) == [], "every tool_use keeps its result"
    first_result: Any = next(iter(sent[2]["content"]))
    assert first_result["tool_use_id"] == "toolu_0000"
    assert first_result["content"] == [{"type": "text", "text": IMAGE_LEFT_OUT}]


def test_more_than_20_images_leave_out_those_above_2000_px() -> None:
    large = png(2400, 100)
    shots = [large, large, *[png(10, 10) for _ in range(20)]]
    sent, report = apply_request_rules(session(shots))
    assert large not in sent_images(sent) and len(sent_images(sent)) == 20
    assert report.images_too_large == 2
    # With few images the same large one goes through.
    few, _ = apply_request_rules(session([large, png(10, 10)]))
    assert large in sent_images(few)


def test_an_image_above_8000_px_or_5_mb_never_goes() -> None:
    wide = png(8001, 4)
    heavy = "A" * (MAX_IMAGE_BYTES + 1)
    small = png(10, 10)
    sent, report = apply_request_rules(session([wide, heavy, small]))
    assert sent_images(sent) == [small]
    assert report.images_too_large == 2
    texts = json.dumps(sent)
    assert "8001x4 px" in texts and "> 5 MB" in texts


def test_the_body_stays_within_its_byte_budget_the_oldest_screenshots_going() -> None:
    shots = [png(200, 200, noise=30_000) for _ in range(10)]
    history = session(shots)
    whole = len(json.dumps(history))
    budget = whole // 2
    sent, report = apply_request_rules(history, max_bytes=budget)
    assert len(json.dumps(sent)) <= budget and report.fits
    assert report.messages_bytes == len(json.dumps(sent))
    kept = sent_images(sent)
    assert 0 < len(kept) < 10 and kept == shots[-len(kept) :]
    assert validate_conversation(sent) == []


def test_a_request_that_meets_every_rule_is_the_same_list() -> None:
    history: list[Any] = [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": [{"type": "text", "text": "hi"}]},
    ]
    sent, report = apply_request_rules(history)
    assert sent is history and report.images_sent == 0


def test_a_saved_conversation_is_repaired_to_be_sendable() -> None:
    history = session([png(8, 8)])
    history[0]["content"] = [
        {"type": "text", "text": "do it", "cache_control": {"type": "ephemeral"}}
    ]
    history.append({"role": "assistant", "content": [{"type": "text", "text": "\n"}]})
    history.append(
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_open", "name": "bash", "input": {}}
            ],
        }
    )
    repaired = repair_loaded_conversation(history)
    assert blank_texts(history) == 0
    assert "cache_control" not in json.dumps(history)
    assert history[-1]["content"][0]["tool_use_id"] == "toolu_open"
    assert validate_conversation(history) == []
    assert len(repaired) == 3


def test_a_tool_result_of_only_whitespace_text_goes_without_content() -> None:
    history = session([png(8, 8)])
    history[2]["content"][0]["content"] = [{"type": "text", "text": "\n"}]
    sent, _ = apply_request_rules(history)
    result: Any = next(iter(sent[2]["content"]))
    assert "content" not in result
    assert validate_conversation(sent) == []
