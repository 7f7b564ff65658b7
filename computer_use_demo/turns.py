"""The assistant turn the loop acts on, made from a streamed message and its router.

Pure: decides which tool calls may run (whole, well-formed input) and which are
answered with an error; never runs a tool and never touches the history.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, cast

from anthropic.types.beta import (
    BetaContentBlockParam,
    BetaMessage,
    BetaTextBlock,
    BetaToolUseBlock,
)

from .conversation import is_tool_use
from .streaming import StreamRouter, block_to_param


@dataclass(frozen=True)
class Turn:
    """A response that finished streaming (or broke on malformed tool JSON)."""

    content: list[BetaContentBlockParam]
    stop_reason: str | None
    # tool_use id -> why its input cannot run: answered with an error result.
    tool_input_errors: dict[str, str] = field(default_factory=dict)
    # Calls max_tokens cut inside their input: left out of the history, never run.
    cut_off_tool_ids: set[str] = field(default_factory=set)

    @property
    def has_tool_calls(self) -> bool:
        return any(is_tool_use(block) for block in self.content)


def message_to_params(message: BetaMessage) -> list[BetaContentBlockParam]:
    """The assistant turn to append to the history; whitespace-only text blocks
    are dropped.

    The API rejects text blocks without non-whitespace text in a request, and
    the model often writes one ("\n\n") before a tool call.
    """
    params: list[BetaContentBlockParam] = []
    for block in message.content:
        if getattr(block, "type", None) == "text" and not block.text.strip():  # type: ignore[union-attr]
            continue
        params.append(block_to_param(block))
    return params


def tool_input_problem(
    block: BetaContentBlockParam, json_text: str | None
) -> str | None:
    """Why a finished tool_use block must not run, or None when its input is sound.

    `json_text` is the concatenated `input_json_delta` fragments (None when the
    router saw none: an empty input means `{}`).
    """
    if not json_text:
        return None
    try:
        parsed = json.loads(json_text)
    except json.JSONDecodeError as error:
        return (
            f"the tool input was not valid JSON ({error.msg} at character {error.pos})"
        )
    if not isinstance(parsed, dict):
        return "the tool input was not a JSON object"
    return None


def _our_tool_call(block: Any) -> BetaToolUseBlock | None:
    """The block as one of our tool calls; the SDK builds unknown block types as
    another class, so the type string is checked as well."""
    if isinstance(block, BetaToolUseBlock) and block.type == "tool_use":
        return block
    return None


def _text_of(block: Any) -> str | None:
    """A text block's text (None for every other block)."""
    if isinstance(block, BetaTextBlock) and block.type == "text":
        return block.text or ""
    return None


def turn_from_message(message: BetaMessage, router: StreamRouter) -> Turn:
    """A whole message: calls whose input was cut or is not a JSON object do not run."""
    content = message_to_params(message)
    invalid: dict[str, str] = {}
    cut_off: set[str] = set()
    for index, block in enumerate(message.content):
        if (call := _our_tool_call(block)) is None:
            continue
        if index not in router.finished_indexes:
            cut_off.add(call.id)
        elif problem := tool_input_problem(
            block_to_param(call), router.tool_input_json(index)
        ):
            invalid[call.id] = problem
    if cut_off:
        # A call whose input never finished is dropped from the history: it
        # must not run, and keeping half an input would only confuse the model.
        content = [
            block
            for block in content
            if not (is_tool_use(block) and block.get("id") in cut_off)
        ]
    return Turn(
        content=content,
        stop_reason=message.stop_reason,
        tool_input_errors=invalid,
        cut_off_tool_ids=cut_off,
    )


def turn_from_broken_stream(message: BetaMessage, router: StreamRouter) -> Turn:
    """The blocks that finished, plus the malformed call (answered as an error)."""
    content: list[BetaContentBlockParam] = []
    invalid: dict[str, str] = {}
    for index, block in enumerate(message.content):
        call = _our_tool_call(block)
        text = _text_of(block)
        if index in router.finished_indexes:
            if text is not None and not text.strip():
                continue
            param = block_to_param(block)
            content.append(param)
            if call is not None and (
                problem := tool_input_problem(param, router.tool_input_json(index))
            ):
                invalid[call.id] = problem
        elif call is not None:
            content.append(
                cast(
                    BetaContentBlockParam,
                    {"type": "tool_use", "id": call.id, "name": call.name, "input": {}},
                )
            )
            invalid[call.id] = "the tool input was not valid JSON"
        elif text and text.strip():
            content.append(block_to_param(block))
        # An unfinished thinking block has no signature and cannot be sent back.
    return Turn(
        content=content,
        stop_reason="tool_use" if invalid else "end_turn",
        tool_input_errors=invalid,
    )
