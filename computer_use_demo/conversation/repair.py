"""Repairs a history whose last tool calls were left open (a stop, a crash, a cut).

Works in place on the history it is given, and only adds: a result that exists
is never changed, so no tool call is answered twice.
"""

from __future__ import annotations

from typing import Any, cast

from anthropic.types.beta import BetaContentBlockParam, BetaMessageParam

from .blocks import (
    answered_ids,
    blocks,
    content_blocks,
    is_tool_result,
    tool_use_ids,
    without_cache_mark,
)
from .request_rules import is_blank_text

INTERRUPTED_TOOL_ERROR = "human stopped or interrupted tool execution"
NOT_RUN_TOOL_ERROR = "this tool call was not run: the turn ended before it could start"


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
    calls = tool_use_ids(messages[position])
    if not calls:
        return []
    follower = messages[position + 1] if position + 1 < len(messages) else None
    present = answered_ids([follower]) if follower is not None else set()
    missing = [tool_use_id for tool_use_id in calls if tool_use_id not in present]
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
    rest = blocks(follower)
    results = [block for block in rest if is_tool_result(block)]
    others = [block for block in rest if block not in results]
    follower["content"] = cast(Any, [*results, *new_results, *others])
    return missing


def repair_loaded_conversation(messages: list[BetaMessageParam]) -> list[str]:
    """Make a conversation read from disk (any version's) sendable, in place.

    Whitespace-only text goes (a message left empty with it), stale cache
    marks go (the request sets its own), and open tool calls at the end are
    answered. Returns what was repaired, as short phrases.
    """
    repaired: list[str] = []
    blank = marked = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            if not content.strip():
                blank += bool(content)
                message["content"] = []
            continue
        kept = []
        for block in blocks(message):
            if is_blank_text(block):
                blank += 1
                continue
            if is_tool_result(block) and isinstance(block.get("content"), list):
                inner = content_blocks(block["content"])
                without_blank = [item for item in inner if not is_blank_text(item)]
                blank += len(inner) - len(without_blank)
                block = {k: v for k, v in block.items() if k != "content"}
                if without_blank:
                    block["content"] = without_blank
            clean, was_marked = without_cache_mark(block)
            marked += was_marked
            kept.append(clean)
        message["content"] = cast(Any, kept)
    emptied = [
        index for index, message in enumerate(messages) if not message.get("content")
    ]
    for index in reversed(emptied):
        del messages[index]
    if blank:
        repaired.append(f"{blank} whitespace-only text block(s) dropped")
    if marked:
        repaired.append(f"{marked} stale cache mark(s) removed")
    if answered := answer_unanswered_tool_calls(messages):
        repaired.append(f"{len(answered)} open tool call(s) answered")
    return repaired
