"""Pure router from the SDK's message-stream events to our typed UI deltas.

No I/O, no client, no accumulation of its own: the SDK's `MessageStream` owns the
message snapshot; this module only names what happened so the UI can draw it.
An event or delta type it does not know is ignored, never an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias, cast

from anthropic.lib.streaming import (
    BetaInputJsonEvent,
    ParsedBetaContentBlockStopEvent,
    ParsedBetaMessageStopEvent,
    ParsedBetaMessageStreamEvent,
    ParsedBetaTextEvent,
)
from anthropic.types.beta import (
    BetaContentBlockParam,
    BetaInputJSONDelta,
    BetaMCPToolUseBlock,
    BetaRawContentBlockDelta,
    BetaRawContentBlockDeltaEvent,
    BetaRawContentBlockStartEvent,
    BetaRawContentBlockStopEvent,
    BetaRawMessageDeltaEvent,
    BetaRawMessageStartEvent,
    BetaRawMessageStopEvent,
    BetaRawMessageStreamEvent,
    BetaServerToolUseBlock,
    BetaTextDelta,
    BetaThinkingDelta,
    BetaToolUseBlock,
)

BlockKind = str
"""A content-block type as the API names it (`text`, `tool_use`, `compaction`, ...)."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one response, as the API reports them (cumulative)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0

    @property
    def total_input_tokens(self) -> int:
        """Everything the prompt cost, cached or not."""
        return (
            self.input_tokens
            + self.cache_creation_input_tokens
            + self.cache_read_input_tokens
        )

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens
            + other.cache_creation_input_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens
            + other.cache_read_input_tokens,
        )

    @classmethod
    def from_api(cls, usage: Any) -> Usage:
        """Read an SDK usage object (or a dict); absent counts are zero."""

        def count(name: str) -> int:
            value = (
                usage.get(name) if isinstance(usage, dict) else getattr(usage, name, 0)
            )
            return int(value or 0)

        return cls(
            input_tokens=count("input_tokens"),
            output_tokens=count("output_tokens"),
            cache_creation_input_tokens=count("cache_creation_input_tokens"),
            cache_read_input_tokens=count("cache_read_input_tokens"),
        )


@dataclass(frozen=True, slots=True)
class MessageStarted:
    message_id: str
    model: str
    usage: Usage


@dataclass(frozen=True, slots=True)
class BlockStarted:
    index: int
    block_type: BlockKind
    tool_use_id: str | None = None
    tool_name: str | None = None


@dataclass(frozen=True, slots=True)
class TextDelta:
    index: int
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    index: int
    thinking: str


@dataclass(frozen=True, slots=True)
class ToolInputDelta:
    """A fragment of a tool call's JSON input; only the finished block is final."""

    index: int
    tool_use_id: str
    tool_name: str
    partial_json: str


@dataclass(frozen=True, slots=True)
class BlockFinished:
    """A finished block in request form (a plain dict, as it enters the history)."""

    index: int
    block: dict[str, Any]


@dataclass(frozen=True, slots=True)
class UsageUpdated:
    usage: Usage
    stop_reason: str | None


@dataclass(frozen=True, slots=True)
class MessageFinished:
    stop_reason: str | None
    usage: Usage


@dataclass(frozen=True, slots=True)
class StreamInterrupted:
    """The stream broke before `message_stop`; what was shown is not kept as is."""

    reason: str
    will_retry: bool


StreamEvent = (
    MessageStarted
    | BlockStarted
    | TextDelta
    | ThinkingDelta
    | ToolInputDelta
    | BlockFinished
    | UsageUpdated
    | MessageFinished
    | StreamInterrupted
)
StreamCallback = Callable[[StreamEvent], None]


@dataclass(slots=True)
class _OpenBlock:
    block_type: BlockKind
    tool_use_id: str | None = None
    tool_name: str | None = None


TOOL_INPUT_BLOCKS = frozenset({"tool_use", "server_tool_use", "mcp_tool_use"})
# Stops that can cut the block being written (its tool input then never runs).
MAY_END_INSIDE_A_BLOCK = frozenset(
    {"max_tokens", "model_context_window_exceeded", "refusal"}
)
# What the SDK's message stream yields: the wire events (raw before
# `message_start`) and the events it derives from them (`text`, `input_json`, ...).
# A string: the SDK's union is generic for type checkers only.
SDKStreamEvent: TypeAlias = (
    "ParsedBetaMessageStreamEvent[Any] | BetaRawMessageStreamEvent"
)


@dataclass
class StreamRouter:
    """Turns each SDK stream event into at most one `StreamEvent` for `emit`.

    Routes the raw wire events only (`content_block_delta`, ...) and ignores the
    SDK's derived duplicates (`text`, `input_json`, ...), so nothing is said twice.
    """

    emit: StreamCallback
    _open_blocks: dict[int, _OpenBlock] = field(default_factory=dict)
    finished_indexes: set[int] = field(default_factory=set)
    # The raw JSON text of each tool call: the SDK parses leniently (partial
    # mode), so only this text says whether an input really is complete.
    _tool_json: dict[int, list[str]] = field(default_factory=dict)
    stop_reason: str | None = None
    message_started: bool = False
    message_stopped: bool = False
    # The first way the stream broke the API's event order (a duplicated,
    # dropped or misplaced event): the message cannot be trusted and is retried.
    protocol_error: str | None = None
    _blocks_started: int = 0

    def route(self, event: SDKStreamEvent) -> None:
        """Route one event. Each case names the `type` as well as the class: the
        SDK builds an event type it does not know as another class (see
        `sdk_internals`); such events, like the derived ones, are ignored."""
        match event:
            case BetaRawContentBlockDeltaEvent(type="content_block_delta"):
                if self._in_order(event.type, event.index):
                    self._route_delta(event.index, event.delta)
            case ParsedBetaTextEvent() | BetaInputJsonEvent():
                pass  # the SDK's own derivations of the delta just routed
            case BetaRawContentBlockStartEvent(type="content_block_start"):
                if self._in_order(event.type, event.index):
                    self._start_block(event)
            case BetaRawContentBlockStopEvent(type="content_block_stop"):
                if self._in_order(event.type, event.index):
                    self._stop_block(event)
            case BetaRawMessageStartEvent(type="message_start"):
                if self._in_order(event.type):
                    self.message_started = True
                    self.emit(
                        MessageStarted(
                            message_id=event.message.id,
                            model=event.message.model,
                            usage=Usage.from_api(event.message.usage),
                        )
                    )
            case BetaRawMessageDeltaEvent(type="message_delta"):
                if self._in_order(event.type):
                    self.stop_reason = event.delta.stop_reason
                    self.emit(
                        UsageUpdated(
                            usage=Usage.from_api(event.usage),
                            stop_reason=self.stop_reason,
                        )
                    )
            case BetaRawMessageStopEvent(type="message_stop"):
                if self._in_order(event.type):
                    self._stop_message(event)
            case _:
                pass  # `text`, `input_json`, ... or a type newer than this code

    @property
    def complete(self) -> bool:
        """The whole message arrived in order: `message_stop` seen, nothing broken."""
        return self.message_stopped and self.protocol_error is None

    def _in_order(self, kind: str, index: int | None = None) -> bool:
        """Whether a wire event may come now; the first one that may not is kept
        as the protocol error (and the event is not shown).

        The SDK accumulates whatever arrives (a duplicated block start becomes a
        second block with the same tool_use id), so the order is checked here.
        """
        problem = self._order_problem(kind, index)
        if problem is not None and self.protocol_error is None:
            self.protocol_error = problem
        return problem is None

    def _order_problem(self, kind: str, index: int | None) -> str | None:
        if self.message_stopped:
            return f"a {kind} event arrived after message_stop"
        if kind == "message_start":
            return "message_start arrived twice" if self.message_started else None
        if not self.message_started:
            return f"a {kind} event arrived before message_start"
        if kind == "content_block_start":
            if index != self._blocks_started:
                return (
                    f"block {index} started where block {self._blocks_started} was due"
                )
            self._blocks_started += 1
        elif (
            kind in ("content_block_delta", "content_block_stop")
            and index not in self._open_blocks
        ):
            return f"a {kind} event for block {index}, which is not open"
        return None

    def tool_input_json(self, index: int) -> str | None:
        """The tool input's JSON text as streamed, or None if no fragment came."""
        fragments = self._tool_json.get(index)
        return "".join(fragments) if fragments else None

    def open_indexes(self) -> set[int]:
        """Blocks that started but never finished (the stream broke inside them)."""
        return set(self._open_blocks)

    def _start_block(self, event: BetaRawContentBlockStartEvent) -> None:
        block = event.content_block
        opened = _OpenBlock(block_type=block.type)
        match block:
            case BetaToolUseBlock() | BetaServerToolUseBlock() | BetaMCPToolUseBlock():
                if block.type in TOOL_INPUT_BLOCKS:
                    opened.tool_use_id, opened.tool_name = block.id, block.name
        self._open_blocks[event.index] = opened
        self.emit(
            BlockStarted(
                index=event.index,
                block_type=opened.block_type,
                tool_use_id=opened.tool_use_id,
                tool_name=opened.tool_name,
            )
        )

    def _stop_block(self, event: BetaRawContentBlockStopEvent) -> None:
        self._open_blocks.pop(event.index, None)
        self.finished_indexes.add(event.index)
        # Only the SDK's parsed stop carries the finished block.
        if isinstance(event, ParsedBetaContentBlockStopEvent):
            block = cast(dict[str, Any], block_to_param(event.content_block))
            self.emit(BlockFinished(index=event.index, block=block))

    def _stop_message(self, event: BetaRawMessageStopEvent) -> None:
        self.message_stopped = True
        if self._open_blocks and self.stop_reason not in MAY_END_INSIDE_A_BLOCK:
            self.protocol_error = (
                f"the message ended ({self.stop_reason}) inside block "
                f"{min(self._open_blocks)}"
            )
        usage = Usage()
        if isinstance(event, ParsedBetaMessageStopEvent):
            usage = Usage.from_api(event.message.usage)
        self.emit(MessageFinished(stop_reason=self.stop_reason, usage=usage))

    def _route_delta(self, index: int, delta: BetaRawContentBlockDelta) -> None:
        match delta:
            case BetaTextDelta(type="text_delta"):
                self.emit(TextDelta(index=index, text=delta.text))
            case BetaThinkingDelta(type="thinking_delta"):
                self.emit(ThinkingDelta(index=index, thinking=delta.thinking))
            case BetaInputJSONDelta(type="input_json_delta"):
                opened = self._open_blocks.get(index)
                if opened is not None and delta.partial_json:
                    self._tool_json.setdefault(index, []).append(delta.partial_json)
                    self.emit(
                        ToolInputDelta(
                            index=index,
                            tool_use_id=opened.tool_use_id or "",
                            tool_name=opened.tool_name or "",
                            partial_json=delta.partial_json,
                        )
                    )
            case _:
                pass  # signature, citations, compaction: they land in the finished block


def block_to_param(block: Any) -> BetaContentBlockParam:
    """The request form of a response block, ready to be sent back unchanged.

    Our own tool calls keep only what the API accepts back; every other block
    (thinking with its signature, server tools, compaction, types we do not know)
    is kept exactly as it came.
    """
    if isinstance(block, dict):
        return cast(BetaContentBlockParam, dict(block))
    block_type = getattr(block, "type", None)
    if block_type == "text":
        param: dict[str, Any] = {"type": "text", "text": block.text}
        if getattr(block, "citations", None):
            param["citations"] = [
                citation.to_dict() if hasattr(citation, "to_dict") else citation
                for citation in block.citations
            ]
        return cast(BetaContentBlockParam, param)
    if block_type == "tool_use":
        return cast(
            BetaContentBlockParam,
            {
                "type": "tool_use",
                "id": block.id,
                "name": block.name,
                "input": block.input if isinstance(block.input, dict) else {},
            },
        )
    if hasattr(block, "to_dict"):
        return cast(BetaContentBlockParam, block.to_dict(mode="json"))
    return cast(BetaContentBlockParam, dict(vars(block)))
