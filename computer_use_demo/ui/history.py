"""Draws the stored conversation and the tools' results as they come back.

Never raises on a block it does not know (shown as a caption); never shows an
image when "hide screenshots" is on.
"""

from __future__ import annotations

import base64
from typing import Any

import streamlit as st

from ..conversation import block_type, blocks, content_blocks
from ..tools import ToolResult
from .usage import Prices, UsageRecord, describe, usage_by_turn

TOOL = "tool"


def starts_turn(message: dict[str, Any]) -> bool:
    """A user message the user typed (not only tool results) starts a turn."""
    if message.get("role") != "user":
        return False
    content = message.get("content")
    if isinstance(content, str):
        return True
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "text" for block in content
    )


def render_history(
    messages: list[dict[str, Any]],
    usage_records: list[UsageRecord],
    prices: Prices,
    hide_images: bool,
) -> None:
    """Every message, with each finished turn's usage under it."""
    per_turn = usage_by_turn(usage_records)
    turn: int | None = None
    for index, message in enumerate(messages):
        if starts_turn(message):
            _turn_caption(per_turn, turn, prices)
            turn = index
        for block in blocks(message):
            render_block(message["role"], block, hide_images)
    _turn_caption(per_turn, turn, prices)


def _turn_caption(per_turn: dict[int, Any], turn: int | None, prices: Prices) -> None:
    if turn is not None and turn in per_turn:
        st.caption(f"This turn: {describe(per_turn[turn], prices)}")


def render_block(sender: str, block: Any, hide_images: bool) -> None:
    """One stored block."""
    kind = block_type(block)
    if kind == "tool_result":
        render_tool_result_block(block, hide_images)
        return
    with st.chat_message(sender):
        if kind == "text":
            st.markdown(block.get("text", ""))
        elif kind == "thinking":
            with st.expander("Thinking", expanded=False):
                st.markdown(block.get("thinking", ""))
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
            if item.get("type") == "text":
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
