"""What the terminal shows: streamed text on stdout, the rest compactly on stderr.

Two renderers with one interface: rich for people, JSON lines for scripts.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any, Protocol, TextIO

from rich.console import Console
from rich.status import Status

from token_manager import wait_label

from ..redaction import StreamingRedactor, redact
from ..status import LoopStatus
from ..streaming import (
    BlockFinished,
    BlockStarted,
    MessageFinished,
    StreamEvent,
    StreamInterrupted,
    TextDelta,
    ThinkingDelta,
)
from ..tools import ToolResult
from .terminal_text import printable


class Renderer(Protocol):
    def stream(self, event: StreamEvent) -> None: ...
    def tool_result(self, result: ToolResult, tool_use_id: str) -> None: ...
    def status(self, status: LoopStatus) -> None: ...
    def finish(self, exit_code: int) -> None: ...


class JsonRenderer:
    """One JSON object per line on stdout, for scripting."""

    def __init__(self, out: TextIO = sys.stdout, show_thinking: bool = False) -> None:
        self.out = out
        self.show_thinking = show_thinking
        # A secret split across deltas is caught before any of it is written.
        self._text = StreamingRedactor()
        self._thinking = StreamingRedactor()

    def _emit(self, event: dict[str, Any]) -> None:
        self.out.write(redact(json.dumps(event, default=str)) + "\n")
        self.out.flush()

    def _emit_held(self) -> None:
        if text := self._text.flush():
            self._emit({"type": "text_delta", "text": text})
        if thinking := self._thinking.flush():
            self._emit({"type": "thinking_delta", "thinking": thinking})

    def stream(self, event: StreamEvent) -> None:
        if isinstance(event, TextDelta):
            if text := self._text.feed(event.text):
                self._emit({"type": "text_delta", "text": text})
            return
        if isinstance(event, ThinkingDelta):
            if self.show_thinking and (thinking := self._thinking.feed(event.thinking)):
                self._emit({"type": "thinking_delta", "thinking": thinking})
            return
        if isinstance(event, BlockFinished | StreamInterrupted | MessageFinished):
            self._emit_held()
        if isinstance(event, BlockFinished) and event.block.get("type") in (
            "tool_use",
            "server_tool_use",
        ):
            block: Any = event.block
            self._emit(
                {
                    "type": "tool_use",
                    "id": block.get("id"),
                    "name": block.get("name"),
                    "input": block.get("input"),
                }
            )
        elif isinstance(event, StreamInterrupted):
            self._emit(
                {
                    "type": "interrupted",
                    "reason": event.reason,
                    "will_retry": event.will_retry,
                }
            )
        elif isinstance(event, MessageFinished):
            usage = event.usage
            self._emit(
                {
                    "type": "message",
                    "stop_reason": event.stop_reason,
                    "usage": {
                        "input_tokens": usage.input_tokens,
                        "output_tokens": usage.output_tokens,
                        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
                        "cache_read_input_tokens": usage.cache_read_input_tokens,
                    },
                }
            )

    def tool_result(self, result: ToolResult, tool_use_id: str) -> None:
        self._emit(
            {
                "type": "tool_result",
                "tool_use_id": tool_use_id,
                "output": result.output,
                "error": result.error,
                "image": bool(result.base64_image),
            }
        )

    def status(self, status: LoopStatus) -> None:
        self._emit(
            {
                "type": "status",
                "kind": status.kind,
                "message": status.message,
                "wait_seconds": status.wait_seconds,
                "error_kind": status.error_kind,
            }
        )

    def finish(self, exit_code: int) -> None:
        self._emit_held()
        self._emit({"type": "done", "exit_code": exit_code})


class RichRenderer:
    """Answer text streams to stdout as it comes; tools, waits and errors go to stderr."""

    def __init__(self, out: TextIO = sys.stdout, show_thinking: bool = False) -> None:
        self.out = out
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.show_thinking = show_thinking
        self._countdown: asyncio.Task[None] | None = None
        self._line_open = False
        # A secret split across deltas is caught before any of it is written;
        # no escape sequence of the model's reaches the terminal.
        self._answer = StreamingRedactor()
        self._thinking = StreamingRedactor()

    def _text(self, text: str) -> None:
        text = printable(text)
        if not text:
            return
        self.out.write(text)
        self.out.flush()
        self._line_open = not text.endswith("\n")

    def _newline(self) -> None:
        if self._line_open:
            self._text("\n")

    def _release_held(self) -> None:
        self._text(self._answer.flush())
        if thinking := printable(self._thinking.flush()):
            self.err.print(thinking, style="dim italic", end="", markup=False)

    def stream(self, event: StreamEvent) -> None:
        self._stop_countdown()
        if isinstance(event, BlockFinished | StreamInterrupted | MessageFinished):
            self._release_held()
        if isinstance(event, TextDelta):
            self._text(self._answer.feed(event.text))
        elif isinstance(event, ThinkingDelta) and self.show_thinking:
            if thinking := printable(self._thinking.feed(event.thinking)):
                self.err.print(thinking, style="dim italic", end="", markup=False)
        elif (
            isinstance(event, BlockStarted)
            and event.block_type == "thinking"
            and self.show_thinking
        ):
            self.err.print("[thinking] ", style="dim", end="")
        elif isinstance(event, BlockFinished):
            block: Any = event.block
            if block.get("type") in ("tool_use", "server_tool_use"):
                self._newline()
                arguments = json.dumps(block.get("input", {}))
                self.err.print(
                    printable(f"→ {block.get('name')} {arguments[:200]}"),
                    style="cyan",
                    markup=False,
                )
            elif block.get("type") == "thinking" and self.show_thinking:
                self.err.print()
        elif isinstance(event, StreamInterrupted):
            self._newline()
            if not event.will_retry:  # a retry is said once, by its status line
                self.err.print(
                    printable(f"! stream interrupted ({event.reason}); stopped"),
                    style="yellow",
                    markup=False,
                )
        elif isinstance(event, MessageFinished):
            self._newline()

    def tool_result(self, result: ToolResult, tool_use_id: str) -> None:
        if result.error:
            self.err.print(
                f"  ✗ {_first_lines(result.error)}", style="red", markup=False
            )
        if result.output:
            self.err.print(
                f"  {_first_lines(result.output)}", style="dim", markup=False
            )
        if result.base64_image:
            self.err.print("  [screenshot]", style="dim")

    def status(self, status: LoopStatus) -> None:
        """One line per notice; a wait also counts down on a terminal (a
        spinner that goes when the wait ends)."""
        self._stop_countdown()
        if status.kind in ("rate_limit_wait", "retrying") and status.wait_seconds:
            self._newline()
            if status.kind == "retrying" or not self.err.is_terminal:
                self.err.print(printable(status.message), style="yellow", markup=False)
            if self.err.is_terminal:
                self._countdown = asyncio.get_running_loop().create_task(
                    self._count_down(status)
                )
        elif status.kind == "error":
            self._newline()
            self.err.print(
                printable(f"error: {status.message}"), style="bold red", markup=False
            )
        else:
            self.err.print(printable(status.message), style="yellow", markup=False)

    async def _count_down(self, status: LoopStatus) -> None:
        until = time.monotonic() + float(status.wait_seconds or 0)
        what = wait_label(status.budget) if status.budget else "the API"
        with Status("", console=self.err) as spinner:
            while (left := until - time.monotonic()) > 0:
                spinner.update(f"waiting {left:4.0f} s for {what}")
                await asyncio.sleep(min(0.25, left))

    def _stop_countdown(self) -> None:
        if self._countdown is not None and not self._countdown.done():
            self._countdown.cancel()
        self._countdown = None

    def finish(self, exit_code: int) -> None:
        self._stop_countdown()
        self._release_held()
        self._newline()


def _first_lines(text: str, lines: int = 3, width: int = 160) -> str:
    text = printable(text)
    shown = [line[:width] for line in text.splitlines()[:lines]]
    more = len(text.splitlines()) - lines
    return "\n    ".join(shown) + (f"\n    … {more} more lines" if more > 0 else "")
