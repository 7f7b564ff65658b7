"""Runs the model's tool calls at most once each and keeps every tool_use answered.

Never raises for a tool's failure: every outcome becomes a `tool_result` the
model can read. The history repair here is what makes any interruption safe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast

from anthropic.types.beta import (
    BetaContentBlockParam,
    BetaImageBlockParam,
    BetaMessageParam,
    BetaTextBlockParam,
    BetaToolResultBlockParam,
)

from .redaction import redact, redact_tool_result
from .tools import ToolResult

logger = logging.getLogger(__name__)

INTERRUPTED_TOOL_ERROR = "human stopped or interrupted tool execution"
NOT_RUN_TOOL_ERROR = "this tool call was not run: the turn ended before it could start"

RunTool = Callable[[str, dict[str, Any]], Awaitable[ToolResult]]


def tool_result_param(result: ToolResult, tool_use_id: str) -> BetaToolResultBlockParam:
    """The API form of a tool's result (the quickstart's shape, `system` note first)."""

    def with_system_note(text: str) -> str:
        return f"<system>{result.system}</system>\n{text}" if result.system else text

    if result.error:
        return {
            "type": "tool_result",
            "tool_use_id": tool_use_id,
            "content": with_system_note(result.error),
            "is_error": True,
        }
    content: list[BetaTextBlockParam | BetaImageBlockParam] = []
    if result.output:
        content.append({"type": "text", "text": with_system_note(result.output)})
    if result.base64_image:
        content.append(
            {
                "type": "image",
                "source": {
                    "type": "base64",
                    "media_type": "image/png",
                    "data": result.base64_image,
                },
            }
        )
    return {
        "type": "tool_result",
        "tool_use_id": tool_use_id,
        "content": content,
        "is_error": False,
    }


def _blocks(message: BetaMessageParam) -> list[Any]:
    content = message.get("content")
    return list(content) if isinstance(content, list) else []


def _tool_use_ids(message: BetaMessageParam) -> list[str]:
    return [
        str(block["id"])
        for block in _blocks(message)
        if isinstance(block, dict) and block.get("type") == "tool_use"
    ]


def answered_ids(messages: Iterable[BetaMessageParam]) -> set[str]:
    """Every tool_use_id that already has a tool_result somewhere in the history."""
    return {
        str(block["tool_use_id"])
        for message in messages
        if message.get("role") == "user"
        for block in _blocks(message)
        if isinstance(block, dict) and block.get("type") == "tool_result"
    }


def answer_unanswered_tool_calls(
    messages: list[BetaMessageParam], reason: str = INTERRUPTED_TOOL_ERROR
) -> list[str]:
    """Give every tool_use of the last assistant turn a result, in place.

    Results already present are kept; missing ones become error results placed
    first in the following user turn (created if absent), as the API requires.
    Returns the ids it answered.
    """
    for position in range(len(messages) - 1, -1, -1):
        if messages[position].get("role") == "assistant":
            break
    else:
        return []
    tool_use_ids = _tool_use_ids(messages[position])
    if not tool_use_ids:
        return []
    follower = messages[position + 1] if position + 1 < len(messages) else None
    present = answered_ids([follower]) if follower is not None else set()
    missing = [
        tool_use_id for tool_use_id in tool_use_ids if tool_use_id not in present
    ]
    if not missing:
        return []
    new_results: list[BetaContentBlockParam] = [
        {
            "type": "tool_result",
            "tool_use_id": tool_use_id,
            "content": reason,
            "is_error": True,
        }
        for tool_use_id in missing
    ]
    if follower is None or follower.get("role") != "user":
        messages.insert(position + 1, {"role": "user", "content": new_results})
        return missing
    existing = follower.get("content")
    if isinstance(existing, str):
        rest: list[Any] = [{"type": "text", "text": existing}] if existing else []
    else:
        rest = list(existing or [])
    results = [
        block
        for block in rest
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    others = [block for block in rest if block not in results]
    follower["content"] = cast(Any, [*results, *new_results, *others])
    return missing


async def run_tool_safely(
    run_tool: RunTool,
    name: str,
    tool_input: dict[str, Any],
    time_limit: float | None,
) -> ToolResult:
    """Run one tool; a timeout or any exception becomes an error result, never a raise.

    Every secret is redacted from the result here, before the history, the UI,
    the terminal or any file sees it. Cancellation is the one exception that
    passes through: the user asked to stop.
    """
    return redact_tool_result(
        await _run_tool_catching(run_tool, name, tool_input, time_limit)
    )


async def _run_tool_catching(
    run_tool: RunTool,
    name: str,
    tool_input: dict[str, Any],
    time_limit: float | None,
) -> ToolResult:
    try:
        async with asyncio.timeout(time_limit):
            return await run_tool(name, tool_input)
    except TimeoutError as error:
        limit = f" within {time_limit:g} s" if time_limit is not None else ""
        detail = f": {error}" if str(error) else ""
        return ToolResult(
            error=redact(
                f"the {name} tool did not finish{limit} and was stopped{detail}"
            )
        )
    except asyncio.CancelledError:
        raise
    except Exception as error:
        logger.exception("tool %s failed", name)
        return ToolResult(
            error=redact(f"the {name} tool failed: {type(error).__name__}: {error}")
        )
