"""Repairs a history whose last tool calls were left open (a stop, a crash, a cut).

Works in place on the history it is given, and only adds: a result that exists
is never changed, so no tool call is answered twice.
"""

from __future__ import annotations

from typing import Any, cast

from anthropic.types.beta import BetaContentBlockParam, BetaMessageParam

from .blocks import answered_ids, blocks, is_tool_result, tool_use_ids

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
