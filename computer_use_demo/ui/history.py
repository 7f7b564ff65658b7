"""Draws the stored conversation and the tools' results as they come back.

Never raises on a block it does not know (shown as a caption); never shows an
image when "hide screenshots" is on.
"""

from __future__ import annotations

import base64
import logging
from typing import Any

import streamlit as st

from ..conversation import block_type, blocks, content_blocks
from ..redaction import redact
from ..tools import ToolResult
from .usage import Prices, UsageRecord, describe, usage_by_turn

logger = logging.getLogger(__name__)

TOOL = "tool"
UNSHOWABLE = "(a block that could not be shown)"


def starts_turn(message: dict[str, Any]) -> bool:
    """A user message the user typed (not only tool results) starts a turn."""
    if not isinstance(message, dict) or message.get("role") != "user":
        return False
    return any(block_type(block) == "text" for block in blocks(message))


def render_history(
    messages: list[dict[str, Any]],
    usage_records: list[UsageRecord],
    prices: Prices,
    hide_images: bool,
) -> None:
    """Every message, with each finished turn's usage under it.

    Survives any content (a hand-edited or foreign history): a block that
    cannot be drawn becomes a caption and a log line, never an exception.
    """
    try:
        per_turn = usage_by_turn(usage_records)
    except (TypeError, ValueError, AttributeError):
        per_turn = {}
    turn: int | None = None
    for index, message in enumerate(messages):
        if starts_turn(message):
            _turn_caption(per_turn, turn, prices)
            turn = index
        if not isinstance(message, dict):
            _unshowable(index, TypeError(type(message).__name__))
            continue
        sender = message.get("role")
        sender = sender if sender in ("user", "assistant") else "assistant"
        content = message.get("content")
        blocks = content if isinstance(content, list) else [content]
        for block in blocks:
            try:
                render_block(sender, block, hide_images)
            except Exception as error:  # one bad block must not take the page
                _unshowable(index, error)
    _turn_caption(per_turn, turn, prices)


def _unshowable(index: int, error: Exception) -> None:
    logger.warning("message %d has a block that cannot be shown: %r", index, error)
    st.caption(UNSHOWABLE)


def _turn_caption(per_turn: dict[int, Any], turn: int | None, prices: Prices) -> None:
    if turn is not None and turn in per_turn:
        st.caption(f"This turn: {describe(per_turn[turn], prices)}")


def render_block(sender: str, block: Any, hide_images: bool) -> None:
    """One stored block."""
    if isinstance(block, str):
        if block:
            st.chat_message(sender).markdown(redact(block))
        return
    if not isinstance(block, dict):
        raise TypeError(f"a block that is a {type(block).__name__}")
    kind = block.get("type")
    if kind == "tool_result":
        render_tool_result_block(block, hide_images)
        return
    with st.chat_message(sender):
        if kind == "text":
            st.markdown(redact(block.get("text", "")))
        elif kind == "thinking":
            with st.expander("Thinking", expanded=False):
                st.markdown(redact(block.get("thinking", "")))
        elif kind == "redacted_thinking":
            st.caption("(redacted thinking)")
        elif kind in ("tool_use", "server_tool_use"):
            st.markdown(f"**Tool use:** `{block.get('name')}`")
            st.json(block.get("input", {}), expanded=False)
        elif kind == "image":
            if not hide_images:
                st.image(base64.b64decode(block["source"]["data"]))
        else:
            st.caption(f"{kind} block")


def render_tool_result_block(block: dict[str, Any], hide_images: bool) -> None:
    with st.chat_message(TOOL):
        for item in content_blocks(block.get("content")):
            if not isinstance(item, dict):
                st.caption(UNSHOWABLE)
            elif item.get("type") == "text":
                if block.get("is_error"):
                    st.error(item.get("text", ""))
                else:
                    st.code(item.get("text", ""))
            elif item.get("type") == "image" and not hide_images:
                st.image(base64.b64decode(item["source"]["data"]))


def render_tool_output(result: ToolResult, hide_images: bool) -> None:
    """A tool's result as it comes back during the turn: text, error, screenshot."""
    with st.chat_message(TOOL):
        if result.output:
            if result.__class__.__name__ == "CLIResult":
                st.code(result.output)
            else:
                st.markdown(result.output)
        if result.error:
            st.error(result.error)
        if result.base64_image and not hide_images:
            st.image(base64.b64decode(result.base64_image))
        if result.screen_wait:
            st.caption(result.screen_wait.describe())
