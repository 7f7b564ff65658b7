"""Running a tool and shaping its result: a failure or a timeout becomes a result,
never a raise; cancellation passes through (computer_use_demo/tool_calls.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from computer_use_demo.tool_calls import RunTool, run_tool_safely, tool_result_param
from computer_use_demo.tools.base import ToolResult


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


def hanging_tool() -> tuple[RunTool, asyncio.Event]:
    """A tool that never finishes, and the event it sets once it has started."""
    started = asyncio.Event()

    async def hang(name: str, tool_input: dict[str, Any]) -> ToolResult:
        started.set()
        await asyncio.Event().wait()  # nothing ever sets it
        return ToolResult(output="never")

    return hang, started


async def test_a_tool_past_its_time_limit_is_stopped() -> None:
    hang, _ = hanging_tool()
    result = await run_tool_safely(hang, "bash", {}, 0.05)
    assert result.error is not None and "within 0.05 s" in result.error


async def test_cancellation_passes_through() -> None:
    hang, started = hanging_tool()
    task = asyncio.ensure_future(run_tool_safely(hang, "bash", {}, None))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
