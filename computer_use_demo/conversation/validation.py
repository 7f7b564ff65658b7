"""Checks a conversation the way the Messages API would before accepting it.

Pure and read-only: reports problems as sentences, never fixes or mutates anything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .blocks import (
    block_type,
    blocks,
    content_blocks,
    has_cache_mark,
    is_tool_result,
    is_tool_use,
)

MAX_CACHE_BREAKPOINTS = 4  # per request, the system prompt's included
# A tool_use id matches this pattern (the Messages API reference:
# https://platform.claude.com/docs/en/api/messages).
TOOL_USE_ID = re.compile(r"^[a-zA-Z0-9_-]+$")

# Blocks only one side of the conversation may send.
_ASSISTANT_ONLY = frozenset(
    {"tool_use", "thinking", "redacted_thinking", "server_tool_use", "compaction"}
)
_USER_ONLY = frozenset({"tool_result"})


def _turns(messages: Sequence[Any]) -> list[tuple[str, list[Any]]]:
    """Consecutive messages of one role, merged as the API merges them."""
    turns: list[tuple[str, list[Any]]] = []
    for message in messages:
        role = str(message.get("role"))
        message_blocks = blocks(message)
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(message_blocks)
        else:
            turns.append((role, message_blocks))
    return turns


def _cache_marks(turn_blocks: list[Any]) -> int:
    marks = 0
    for block in turn_blocks:
        marks += has_cache_mark(block)
        if is_tool_result(block):
            marks += sum(
                has_cache_mark(inner) for inner in content_blocks(block.get("content"))
            )
    return marks


def _message_problems(index: int, message: Any, is_last: bool) -> list[str]:
    if not isinstance(message, dict):
        return [f"message {index} is not a mapping"]
    role = message.get("role")
    if role not in ("user", "assistant"):
        return [f"message {index} has role {role!r}; only user and assistant exist"]
    content = message.get("content")
    problems: list[str] = []
    if not content and not (is_last and role == "assistant"):
        problems.append(f"message {index} ({role}) has empty content")
    forbidden = _USER_ONLY if role == "assistant" else _ASSISTANT_ONLY
    for block in blocks(message):
        if block_type(block) in forbidden:
            problems.append(
                f"message {index} ({role}) holds a {block_type(block)} block"
            )
    return problems


def _pairing_problems(turns: list[tuple[str, list[Any]]]) -> list[str]:
    problems: list[str] = []
    seen_calls: set[str] = set()
    for position, (role, turn_blocks) in enumerate(turns):
        if role == "assistant":
            calls = [str(b.get("id")) for b in turn_blocks if is_tool_use(b)]
            for call in calls:
                if call in seen_calls:
                    problems.append(f"tool_use id {call} is used twice")
                seen_calls.add(call)
            if not calls:
                continue
            follower = turns[position + 1][1] if position + 1 < len(turns) else None
            if follower is None:
                problems.append(f"tool_use {calls} never gets a tool_result")
                continue
            answered = {
                str(b.get("tool_use_id")) for b in follower if is_tool_result(b)
            }
            problems.extend(
                f"tool_use {call} has no tool_result in the next user turn"
                for call in calls
                if call not in answered
            )
            kinds = [block_type(b) for b in follower]
            first_other = next(
                (i for i, kind in enumerate(kinds) if kind != "tool_result"),
                len(kinds),
            )
            if "tool_result" in kinds[first_other:]:
                problems.append(
                    f"user turn {position + 1}: tool_result blocks must come before any other block"
                )
        else:
            before = turns[position - 1][1] if position > 0 else []
            calls_before = {str(b.get("id")) for b in before if is_tool_use(b)}
            answers: set[str] = set()
            for block in turn_blocks:
                if not is_tool_result(block):
                    continue
                answer = str(block.get("tool_use_id"))
                if answer not in calls_before:
                    problems.append(
                        f"tool_result {answer} answers no tool_use of the turn before it"
                    )
                if answer in answers:
                    problems.append(f"tool_use {answer} is answered twice")
                answers.add(answer)
    return problems


def validate_conversation(messages: Sequence[Any]) -> list[str]:
    """Every reason the API would refuse `messages`; an empty list means valid.

    Checks roles, empty messages, blocks on the wrong side, that every tool_use
    is answered in the very next user turn (tool_results first) and every
    tool_result answers the turn before it, and at most four cache breakpoints.
    Consecutive messages of one role are merged first, as the API does.
    """
    if not messages:
        return ["the conversation is empty"]
    problems: list[str] = []
    for index, message in enumerate(messages):
        problems.extend(
            _message_problems(index, message, is_last=index == len(messages) - 1)
        )
    if problems:
        return problems
    if messages[0].get("role") != "user":
        problems.append("the first message is not from the user")
    turns = _turns(messages)
    problems.extend(_pairing_problems(turns))
    marks = sum(_cache_marks(turn_blocks) for _, turn_blocks in turns)
    if marks > MAX_CACHE_BREAKPOINTS:
        problems.append(
            f"{marks} cache_control breakpoints; the API accepts at most {MAX_CACHE_BREAKPOINTS}"
        )
    return problems


def _text_field(block: dict[str, Any], name: str, *, required: bool = True) -> bool:
    value = block.get(name)
    return isinstance(value, str) and (bool(value) or not required)


def block_problem(block: Any) -> str | None:
    """Why `block` does not have the shape of its type, or None.

    Only the fields the product and the API rely on: a tool call's `id`,
    `name` and `input`, a result's `tool_use_id`, text's `text`, an image's
    `source`, thinking's `signature`. Unknown types are the API's: kept as they are.
    """
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        return "a block without a type"
    kind = block["type"]
    if kind == "text" and not isinstance(block.get("text"), str):
        return "a text block whose text is not a string"
    if kind in ("tool_use", "server_tool_use"):
        if not _text_field(block, "id"):
            return f"a {kind} block without an id"
        if not TOOL_USE_ID.match(str(block["id"])):
            return f"a {kind} block whose id is not letters, digits, _ and -"
        if not _text_field(block, "name"):
            return f"a {kind} block without a name"
        if not isinstance(block.get("input", {}), dict):
            return f"a {kind} block whose input is not an object"
    if kind == "tool_result":
        if not _text_field(block, "tool_use_id"):
            return "a tool_result block without a tool_use_id"
        inner = block.get("content")
        if inner is not None and not isinstance(inner, str | list):
            return "a tool_result whose content is neither text nor blocks"
        if isinstance(inner, list):
            for item in inner:
                if problem := block_problem(item):
                    return f"a tool_result holding {problem}"
        if not isinstance(block.get("is_error", False), bool):
            return "a tool_result whose is_error is not true or false"
    if kind == "image" and not isinstance(block.get("source"), dict):
        return "an image block without a source"
    if kind == "thinking" and not (
        isinstance(block.get("thinking"), str) and _text_field(block, "signature")
    ):
        return "a thinking block without its text or signature"
    if kind == "redacted_thinking" and not _text_field(block, "data"):
        return "a redacted_thinking block without its data"
    return None


def shape_problem(messages: Sequence[Any]) -> str | None:
    """The first block in `messages` whose shape is wrong, said with its place."""
    for index, message in enumerate(messages):
        for position, block in enumerate(blocks(message)):
            if problem := block_problem(block):
                return f"message {index}, block {position}: {problem}"
    return None
