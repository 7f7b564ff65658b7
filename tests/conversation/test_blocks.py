"""The one reading of a message's blocks (computer_use_demo/conversation/blocks.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from computer_use_demo.conversation import (
    answered_ids,
    block_type,
    blocks,
    content_blocks,
    is_tool_use,
    tool_use_ids,
    without_cache_mark,
)

TEXT = {"type": "text", "text": "hi"}
CALL = {"type": "tool_use", "id": "a", "name": "bash", "input": {}}
MARK = {"type": "ephemeral"}


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("hi", [TEXT]),
        ("", []),  # the API refuses an empty text block
        ([TEXT, CALL], [TEXT, CALL]),
        (None, []),
        (42, []),
    ],
)
def test_content_becomes_a_list_of_blocks(content: Any, expected: list[Any]) -> None:
    assert content_blocks(content) == expected
    assert blocks({"role": "user", "content": content}) == expected


def test_blocks_is_a_new_list_the_caller_may_change() -> None:
    message: dict[str, Any] = {"role": "assistant", "content": [TEXT]}
    blocks(message).append(CALL)
    assert message["content"] == [TEXT]


@pytest.mark.parametrize(
    ("block", "kind", "tool_use"),
    [
        (CALL, "tool_use", True),
        ({**CALL, "type": "server_tool_use"}, "server_tool_use", False),
        (TEXT, "text", False),
        ("a bare string", None, False),
        (None, None, False),
    ],
)
def test_block_kinds(block: Any, kind: str | None, tool_use: bool) -> None:
    assert block_type(block) == kind
    assert is_tool_use(block) is tool_use


def test_tool_calls_and_their_answers_are_found_by_id() -> None:
    history: list[Any] = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [TEXT, CALL, {**CALL, "id": "b"}]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "a", "content": "ok"}],
        },
    ]
    assert tool_use_ids(history[1]) == ["a", "b"]
    assert answered_ids(history) == {"a"}


def test_cache_marks_are_stripped_from_a_copy_inside_tool_results_too() -> None:
    block = {
        "type": "tool_result",
        "tool_use_id": "a",
        "content": [{**TEXT, "cache_control": MARK}],
        "cache_control": MARK,
    }
    before = copy.deepcopy(block)
    clean, changed = without_cache_mark(block)
    assert changed
    assert clean == {"type": "tool_result", "tool_use_id": "a", "content": [TEXT]}
    assert block == before
    assert without_cache_mark(TEXT) == (TEXT, False)
