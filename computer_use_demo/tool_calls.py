"""Runs one of the model's tool calls and gives its outcome the API's form.

Never raises for a tool's failure: every outcome becomes a `tool_result` the
model can read. (Answering calls left open lives in `conversation.repair`.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from anthropic.types.beta import (
    BetaImageBlockParam,
    BetaTextBlockParam,
    BetaToolResultBlockParam,
)

from .redaction import redact
from .tools import ToolResult

logger = logging.getLogger(__name__)

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


async def run_tool_safely(
    run_tool: RunTool,
    name: str,
    tool_input: dict[str, Any],
    time_limit: float | None,
) -> ToolResult:
    """Run one tool; a timeout or any exception becomes an error result, never a raise.

    Cancellation is the one exception that passes through: the user asked to stop.
    """
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
