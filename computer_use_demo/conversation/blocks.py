"""The vocabulary of a conversation: a message's blocks and what kind each one is.

Pure and read-only: every helper returns new lists or dicts and never writes
into a message or block it is given.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeGuard


def content_blocks(content: Any) -> list[Any]:
    """`content` (a message's, or a tool_result's) as a new list of blocks.

    A string is one text block; an empty string holds none (the API refuses an
    empty text block). Anything else that is not a list holds none.
    """
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return list(content) if isinstance(content, list | tuple) else []


def blocks(message: Any) -> list[Any]:
    """The blocks of a message, as a new list (see `content_blocks`)."""
    return content_blocks(message.get("content"))


def block_type(block: Any) -> str | None:
    """A block's `type`, or None for anything that is not a block dict."""
    return block.get("type") if isinstance(block, dict) else None


def is_tool_use(block: Any) -> TypeGuard[dict[str, Any]]:
    """Whether `block` is one of our tool calls (server tool calls are the API's)."""
    return block_type(block) == "tool_use"


def is_tool_result(block: Any) -> bool:
    return block_type(block) == "tool_result"


def tool_use_ids(message: Any) -> list[str]:
    """The ids of the tool calls in `message`, in order."""
    return [str(block["id"]) for block in blocks(message) if is_tool_use(block)]


def answered_ids(messages: Iterable[Any]) -> set[str]:
    """Every tool_use_id that already has a tool_result in the user messages given."""
    return {
        str(block["tool_use_id"])
        for message in messages
        if message.get("role") == "user"
        for block in blocks(message)
        if is_tool_result(block)
    }


def has_cache_mark(block: Any) -> bool:
    return isinstance(block, dict) and "cache_control" in block


def without_cache_mark(block: Any) -> tuple[Any, bool]:
    """The block minus any cache_control (inside a tool_result too); whether it changed."""
    if not isinstance(block, dict):
        return block, False
    inner = block.get("content")
    inner_items: list[Any] = (
        inner if is_tool_result(block) and isinstance(inner, list) else []
    )
    inner_marked = any(has_cache_mark(item) for item in inner_items)
    if "cache_control" not in block and not inner_marked:
        return block, False
    clean = {key: value for key, value in block.items() if key != "cache_control"}
    if inner_marked:
        clean["content"] = [without_cache_mark(item)[0] for item in inner_items]
    return clean, True
