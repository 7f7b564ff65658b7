"""Prompt-cache breakpoints on the newest user turns of a request view.

Rewrites only the list it is given, by replacing messages with changed copies:
never edits a message or block dict in place, so a history that shares them stays intact.
"""

from __future__ import annotations

from typing import Any

from anthropic.types.beta import BetaMessageParam

from .blocks import block_type, content_blocks, without_cache_mark

# Four breakpoints per request; the system prompt holds one of them.
MESSAGE_CACHE_BREAKPOINTS = 3
EPHEMERAL: dict[str, str] = {"type": "ephemeral"}


def _can_hold_mark(block: Any) -> bool:
    # The API refuses a breakpoint on an empty text block.
    return isinstance(block, dict) and not (
        block_type(block) == "text" and not block.get("text")
    )


def _marked_copy(message: Any, mark: bool) -> tuple[Any | None, bool]:
    """A copy of `message` with stale marks gone and, if `mark`, a new one on its
    last block (None when nothing changed); and whether the new mark was placed."""
    blocks = []
    changed = False
    for block in content_blocks(message.get("content")):
        clean, was_marked = without_cache_mark(block)
        blocks.append(clean)
        changed = changed or was_marked
    placed = False
    if mark:
        target = next(
            (i for i in range(len(blocks) - 1, -1, -1) if _can_hold_mark(blocks[i])),
            None,
        )
        if target is not None:
            blocks[target] = {**blocks[target], "cache_control": EPHEMERAL}
            changed = placed = True
    return ({**message, "content": blocks} if changed else None), placed


def inject_cache_breakpoints(
    messages: list[BetaMessageParam], breakpoints: int = MESSAGE_CACHE_BREAKPOINTS
) -> None:
    """Mark the last block of the `breakpoints` newest user messages; clear every other mark.

    The quickstart only cleared the mark one turn back, so stale marks from a
    restored conversation or a pruned view could push a request past the API's
    four breakpoints. Each call leaves exactly the newest marks in place.
    """
    remaining = breakpoints
    for index in range(len(messages) - 1, -1, -1):
        message: Any = messages[index]
        mark = remaining > 0 and message.get("role") == "user"
        replacement, placed = _marked_copy(message, mark)
        remaining -= placed
        if replacement is not None:
            messages[index] = replacement
