"""The tools the model drives the desktop with, in the quickstart's names."""

from .base import BaseAnthropicTool, CLIResult, ToolError, ToolFailure, ToolResult
from .bash import BashTool20241022, BashTool20250124
from .collection import ToolCollection
from .computer import ComputerTool20241022, ComputerTool20250124, ComputerTool20251124
from .edit import EditTool20250728
from .groups import TOOL_GROUPS_BY_VERSION, ToolGroup, ToolVersion

__all__ = [
    "TOOL_GROUPS_BY_VERSION",
    "BaseAnthropicTool",
    "BashTool20241022",
    "BashTool20250124",
    "CLIResult",
    "ComputerTool20241022",
    "ComputerTool20250124",
    "ComputerTool20251124",
    "EditTool20250728",
    "ToolCollection",
    "ToolError",
    "ToolFailure",
    "ToolGroup",
    "ToolResult",
    "ToolVersion",
]
