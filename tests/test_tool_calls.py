"""History repair and tool-result shaping: every tool_use keeps its tool_result."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from computer_use_demo.tool_calls import (
    INTERRUPTED_TOOL_ERROR,
    answer_unanswered_tool_calls,
    answered_ids,
    run_tool_safely,
    tool_result_param,
)
from computer_use_demo.tools.base import ToolResult


def tool_use(tool_use_id: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_use_id, "name": "bash", "input": {}}


def test_open_calls_get_error_results_in_a_new_user_turn() -> None:
    messages: list[Any] = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [tool_use("a"), tool_use("b")]},
    ]
    assert answer_unanswered_tool_calls(messages) == ["a", "b"]
    assert messages[2]["role"] == "user"
    assert [block["tool_use_id"] for block in messages[2]["content"]] == ["a", "b"]
    assert all(block["is_error"] for block in messages[2]["content"])
    assert messages[2]["content"][0]["content"] == INTERRUPTED_TOOL_ERROR


def test_partial_results_are_kept_and_completed_before_other_content() -> None:
    done = {"type": "tool_result", "tool_use_id": "a", "content": "ok"}
    messages: list[Any] = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [tool_use("a"), tool_use("b")]},
        {"role": "user", "content": [done, {"type": "text", "text": "new prompt"}]},
    ]
    assert answer_unanswered_tool_calls(messages) == ["b"]
    content = messages[2]["content"]
    assert [block["type"] for block in content] == [
        "tool_result",
        "tool_result",
        "text",
    ]
    assert content[0] is done
    assert answered_ids(messages) == {"a", "b"}


def test_a_valid_history_is_left_alone() -> None:
    messages: list[Any] = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "text", "text": "hello"}]},
    ]
    assert answer_unanswered_tool_calls(messages) == []
    assert len(messages) == 2


def test_error_result_is_a_string_and_marked_as_error() -> None:
    param = tool_result_param(ToolResult(error="boom", system="restarted"), "x")
    assert param["is_error"] is True
    assert param["content"] == "<system>restarted</system>\nboom"


def test_output_and_screenshot_become_text_and_image_blocks() -> None:
    param = tool_result_param(ToolResult(output="done", base64_image="AAAA"), "x")
    content: list[Any] = list(param["content"])
    assert [block["type"] for block in content] == ["text", "image"]
    assert content[1]["source"]["data"] == "AAAA"


async def test_a_tool_that_raises_becomes_an_error_result() -> None:
    async def explode(name: str, tool_input: dict[str, Any]) -> ToolResult:
        raise RuntimeError("disk on fire")

    result = await run_tool_safely(explode, "bash", {}, 5)
    assert result.error is not None and "disk on fire" in result.error


async def test_a_tool_past_its_time_limit_is_stopped() -> None:
    async def hang(name: str, tool_input: dict[str, Any]) -> ToolResult:
        await asyncio.sleep(30)
        return ToolResult(output="never")

    result = await run_tool_safely(hang, "bash", {}, 0.05)
    assert result.error is not None and "within 0.05 s" in result.error


async def test_cancellation_passes_through() -> None:
    async def hang(name: str, tool_input: dict[str, Any]) -> ToolResult:
        await asyncio.sleep(30)
        return ToolResult(output="never")

    task = asyncio.ensure_future(run_tool_safely(hang, "bash", {}, None))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
