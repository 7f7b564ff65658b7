"""The value every tool returns and the base class every tool implements.

Shared by the loop, the token manager and the UIs; it must never do I/O.
"""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from dataclasses import dataclass, fields, replace
from typing import Any

from anthropic.types.beta import BetaToolUnionParam


class BaseAnthropicTool(metaclass=ABCMeta):
    """A tool whose schema Anthropic defines; we only implement its behaviour."""

    # Each tool declares its own keyword arguments; callers pass the model's input.
    __call__: Any

    @abstractmethod
    def to_params(self) -> BetaToolUnionParam:
        """The tool's entry in the request's `tools` list."""


@dataclass(frozen=True, slots=True)
class ScreenWait:
    """How long the computer tool waited for the screen before its screenshot;
    `still` is False when it stopped waiting with the screen still changing.
    `changed_at` (the action's effect first seen) and `moved_at` (the last
    motion) count from the wait's start; None: never."""

    seconds: float
    still: bool
    changed_at: float | None = None
    moved_at: float | None = None

    def describe(self) -> str:
        """The status line the app and the CLI show under the tool call."""
        if self.still:
            return f"screen settled in {self.seconds:.2f} s"
        return f"screen still changing after {self.seconds:.2f} s"


@dataclass(kw_only=True, frozen=True)
class ToolResult:
    """What a tool produced: text output, an error, a screenshot, a system note,
    and (not sent to the model) how long the screen took to settle."""

    output: str | None = None
    error: str | None = None
    base64_image: str | None = None
    system: str | None = None
    screen_wait: ScreenWait | None = None

    def __bool__(self) -> bool:
        return any(
            getattr(self, field.name)
            for field in fields(self)
            if field.name != "screen_wait"
        )

    def __add__(self, other: ToolResult) -> ToolResult:
        def combine(
            mine: str | None, theirs: str | None, concatenate: bool = True
        ) -> str | None:
            if mine and theirs:
                if concatenate:
                    return mine + theirs
                raise ValueError("Cannot combine tool results")
            return mine or theirs

        return ToolResult(
            output=combine(self.output, other.output),
            error=combine(self.error, other.error),
            base64_image=combine(self.base64_image, other.base64_image, False),
            system=combine(self.system, other.system),
            screen_wait=other.screen_wait or self.screen_wait,
        )

    def replace(self, **changes: Any) -> ToolResult:
        """A copy with some fields changed (results are frozen)."""
        return replace(self, **changes)


class CLIResult(ToolResult):
    """A result meant to be shown as command-line output."""


class ToolFailure(ToolResult):
    """A result that reports a failure to the model instead of raising."""


class ToolError(Exception):
    """A bad argument or failed action, reported to the model as an error result."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
