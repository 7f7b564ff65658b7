"""Routes a tool call by name to the tool that runs it.

Never raises for a tool's failure: a bad call becomes a ToolFailure the model reads.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from anthropic.types.beta import BetaToolUnionParam

from .base import BaseAnthropicTool, ToolError, ToolFailure, ToolResult

logger = logging.getLogger(__name__)


class ToolCollection:
    """The tools offered to the model in one conversation."""

    def __init__(self, *tools: BaseAnthropicTool) -> None:
        self.tools = tools
        self.tool_map = {
            cast(dict[str, Any], tool.to_params())["name"]: tool for tool in tools
        }

    def to_params(self) -> list[BetaToolUnionParam]:
        return [tool.to_params() for tool in self.tools]

    async def run(self, *, name: str, tool_input: dict[str, Any]) -> ToolResult:
        tool = self.tool_map.get(name)
        if not tool:
            return ToolFailure(error=f"Tool {name} is invalid")
        if not isinstance(tool_input, dict):
            return ToolFailure(error=f"the input of {name} must be a JSON object")
        try:
            return await tool(**tool_input)
        except ToolError as error:
            return ToolFailure(error=error.message)
        except TypeError as error:
            return ToolFailure(
                error=f"{name} was called with unexpected arguments: {error}"
            )
        except Exception as error:
            logger.exception("tool %s failed", name)
            return ToolFailure(error=f"{name} failed: {type(error).__name__}: {error}")
