"""Draws one assistant turn while it streams: text, thinking apart, tool calls forming.

Redraws are coalesced (~20/s) and only the unfinished tail of a long text is
redrawn, so a 100k-token answer costs about as much to draw as to stream. Never
shows thinking as answer text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from streamlit.delta_generator import DeltaGenerator

from ..redaction import redact
from ..streaming import (
    BlockFinished,
    BlockStarted,
    MessageFinished,
    MessageStarted,
    StreamEvent,
    StreamInterrupted,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
    Usage,
)
from .coalesce import GrowingText, RedrawClock


@dataclass
class _LiveBlock:
    kind: str
    text: GrowingText
    container: DeltaGenerator
    placeholder: DeltaGenerator
    tool_name: str | None = None


@dataclass
class LiveTurns:
    """Receives the loop's stream events and keeps the chat up to date."""

    parent: DeltaGenerator
    on_usage: Callable[[Usage], None]
    clock: Callable[[], float] = time.monotonic
    redraw: RedrawClock = field(default_factory=RedrawClock)
    _blocks: dict[int, _LiveBlock] = field(default_factory=dict)
    _message: DeltaGenerator | None = None

    def __call__(self, event: StreamEvent) -> None:
        if isinstance(event, MessageStarted):
            self._blocks.clear()
            self._message = self.parent.chat_message("assistant")
        elif isinstance(event, BlockStarted):
            self._start(event)
        elif isinstance(event, TextDelta | ThinkingDelta):
            delta = event.text if isinstance(event, TextDelta) else event.thinking
            self._grow(event.index, delta)
        elif isinstance(event, ToolInputDelta):
            self._grow(event.index, event.partial_json)
        elif isinstance(event, BlockFinished):
            self._finish(event)
        elif isinstance(event, StreamInterrupted):
            self._interrupted(event)
        elif isinstance(event, MessageFinished):
            self._flush_all()
            self.on_usage(event.usage)

    def _start(self, event: BlockStarted) -> None:
        message = self._message or self.parent.chat_message("assistant")
        self._message = message
        container: DeltaGenerator
        if event.block_type == "thinking":
            container = message.expander("Thinking", expanded=False)
        else:
            container = message.container()
        if event.block_type in ("tool_use", "server_tool_use"):
            container.markdown(f"**Tool use:** `{event.tool_name}`")
        elif event.block_type not in ("text", "thinking"):
            container.caption(f"{event.block_type} block")
        placeholder = container.empty()
        self._blocks[event.index] = _LiveBlock(
            event.block_type, GrowingText(), container, placeholder, event.tool_name
        )

    def _grow(self, index: int, delta: str) -> None:
        block = self._blocks.get(index)
        if block is None:
            return
        frozen = block.text.add(delta)
        if frozen and block.kind in ("text", "thinking"):
            # Finished paragraphs are drawn once, above a fresh tail placeholder.
            block.placeholder.markdown(redact("".join(frozen)))
            block.placeholder = block.container.empty()
            block.text.dirty = True
        if self.redraw.due(self.clock()):
            self._flush_all()

    def _draw(self, block: _LiveBlock) -> None:
        if not block.text.dirty:
            return
        block.text.dirty = False
        if block.kind in ("tool_use", "server_tool_use"):
            block.placeholder.code(redact(block.text.text), language="json")
        elif block.kind == "thinking":
            block.placeholder.markdown(redact(block.text.tail))
        elif block.kind == "text":
            block.placeholder.markdown(redact(block.text.tail) + " ▌")

    def _flush_all(self) -> None:
        for block in self._blocks.values():
            self._draw(block)

    def flush_stale(self) -> None:
        """The trailing redraw (called by the heartbeat): deltas held back by the
        coalescing are drawn once the interval has passed, even if no new delta
        comes (a pause before a tool call, a slow model)."""
        if any(block.text.dirty for block in self._blocks.values()) and (
            self.redraw.due(self.clock())
        ):
            self._flush_all()

    def _finish(self, event: BlockFinished) -> None:
        block = self._blocks.get(event.index)
        if block is None:
            return
        final: Any = event.block
        if block.kind == "text" or block.kind == "thinking":
            block.placeholder.markdown(redact(block.text.tail))
        elif block.kind in ("tool_use", "server_tool_use"):
            block.placeholder.code(
                redact(json.dumps(final.get("input", {}), indent=2)), language="json"
            )
        block.text.dirty = False

    def _interrupted(self, event: StreamInterrupted) -> None:
        self._flush_all()
        if self._message is not None:
            note = "retrying…" if event.will_retry else "not kept in the conversation"
            self._message.warning(
                f"Stream interrupted ({event.reason}); this partial answer is {note}."
            )
        self._message = None
        self._blocks.clear()
