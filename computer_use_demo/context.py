"""Keeps each request inside its budget, and the API's own context management as an option.

Pure: builds a request view of the history and never mutates the history itself;
it never splits a tool_use from its tool_result nor drops the first user message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

from anthropic.types.beta import BetaMessageParam

DEFAULT_CONTEXT_WINDOW = 200_000
CONTEXT_WINDOWS: dict[str, int] = {}  # every current computer-use model: 200k
IMAGE_PLACEHOLDER = "[screenshot removed to save context]"
CONTEXT_MANAGEMENT_BETA = "context-management-2025-06-27"
COMPACTION_BETA = "compact-2026-01-12"
CACHE_BREAKPOINTS_FOR_MESSAGES = 3  # a fourth is the system prompt's

ContextStrategy = Literal["client", "clear_tool_uses", "compact"]
CountMessage = Callable[[Any], int]


def context_window_for(model: str) -> int:
    for known, window in CONTEXT_WINDOWS.items():
        if model.startswith(known):
            return window
    return DEFAULT_CONTEXT_WINDOW


@dataclass(frozen=True)
class ContextBudget:
    """How large one request may be, and how old content gets trimmed to fit."""

    max_input_tokens: int
    images_to_keep: int | None = None
    image_removal_chunk: int = 3
    old_tool_output_tokens: int = 2_000
    keep_recent_turns: int = 2

    @classmethod
    def for_model(
        cls,
        model: str,
        *,
        fraction: float = 0.8,
        input_tokens_per_minute: int | None = None,
        images_to_keep: int | None = None,
        context_window: int | None = None,
    ) -> ContextBudget:
        """A fraction of the context window, and never more than a window of input tokens/min."""
        budget = int((context_window or context_window_for(model)) * fraction)
        if input_tokens_per_minute is not None:
            budget = min(budget, int(input_tokens_per_minute * 0.95))
        return cls(max_input_tokens=max(500, budget), images_to_keep=images_to_keep)


@dataclass(frozen=True)
class PruneReport:
    images_removed: int
    tool_outputs_shortened: int
    turns_dropped: int
    tokens_before: int
    tokens_after: int
    fits: bool

    def describe(self) -> str:
        parts = []
        if self.turns_dropped:
            parts.append(f"{self.turns_dropped} oldest turn(s)")
        if self.tool_outputs_shortened:
            parts.append(f"{self.tool_outputs_shortened} old tool output(s) shortened")
        if self.images_removed:
            parts.append(f"{self.images_removed} old screenshot(s)")
        left_out = ", ".join(parts) or "nothing"
        note = "" if self.fits else " The request is still over budget."
        return (
            f"To fit the context budget, left out of this request: {left_out} "
            f"(~{self.tokens_before:,} -> ~{self.tokens_after:,} tokens).{note}"
        )


def _blocks(message: Any) -> list[Any]:
    content = message.get("content")
    return content if isinstance(content, list) else []


def _is_block(block: Any, kind: str) -> bool:
    return isinstance(block, dict) and block.get("type") == kind


def _copy_messages(history: list[BetaMessageParam]) -> list[dict[str, Any]]:
    """New message dicts and content lists; blocks stay shared until changed."""
    return [
        {**message, "content": list(message["content"])}
        if isinstance(message.get("content"), list)
        else dict(message)
        for message in history
    ]


def _after_last_compaction(messages: list[dict[str, Any]]) -> int:
    """Index of the message holding the newest `compaction` block (0 if none).

    The API ignores what precedes it, so the budget counts from there on.
    """
    for index in range(len(messages) - 1, -1, -1):
        if any(_is_block(block, "compaction") for block in _blocks(messages[index])):
            return index
    return 0


def _remove_old_images(messages: list[dict[str, Any]], keep: int, chunk: int) -> int:
    """Replace all but the newest `keep` tool-result screenshots, in whole chunks.

    Removing in chunks keeps the request prefix identical for several turns in a
    row, so the prompt cache keeps hitting; between `keep` and `keep+chunk-1`
    screenshots remain.
    """
    locations: list[tuple[int, int, int]] = []
    for message_index, message in enumerate(messages):
        for block_index, block in enumerate(_blocks(message)):
            if _is_block(block, "tool_result") and isinstance(
                block.get("content"), list
            ):
                for inner_index, inner in enumerate(block["content"]):
                    if _is_block(inner, "image"):
                        locations.append((message_index, block_index, inner_index))
    surplus = len(locations) - keep
    to_remove = surplus - surplus % max(1, chunk) if surplus > 0 else 0
    for message_index, block_index, inner_index in locations[:to_remove]:
        content = messages[message_index]["content"]
        block = dict(content[block_index])
        inner = list(block["content"])
        inner[inner_index] = {"type": "text", "text": IMAGE_PLACEHOLDER}
        block["content"] = inner
        content[block_index] = block
    return to_remove


def _shorten(text: str, max_chars: int) -> str:
    if len(text) <= max_chars:
        return text
    head = max_chars * 2 // 3
    tail = max_chars - head
    return f"{text[:head]}\n[... {len(text) - head - tail:,} chars omitted from this old tool output ...]\n{text[-tail:]}"


def _shorten_old_tool_outputs(
    messages: list[dict[str, Any]], before: int, max_chars: int
) -> list[int]:
    """Shorten long text in tool results of messages[:before]; the indexes changed."""
    changed: list[int] = []
    for index in range(before):
        content = messages[index].get("content")
        if not isinstance(content, list):
            continue
        for block_index, block in enumerate(content):
            if not _is_block(block, "tool_result"):
                continue
            inner = block.get("content")
            if isinstance(inner, str) and len(inner) > max_chars:
                content[block_index] = {**block, "content": _shorten(inner, max_chars)}
            elif isinstance(inner, list) and any(
                _is_block(item, "text") and len(str(item.get("text", ""))) > max_chars
                for item in inner
            ):
                content[block_index] = {
                    **block,
                    "content": [
                        {**item, "text": _shorten(str(item["text"]), max_chars)}
                        if _is_block(item, "text")
                        else item
                        for item in inner
                    ],
                }
            else:
                continue
            if not changed or changed[-1] != index:
                changed.append(index)
    return changed


def _turn_starts(messages: list[dict[str, Any]], start: int) -> list[int]:
    """Indexes of assistant messages after `start`: each begins a droppable turn
    (the assistant message and the user messages that answer it)."""
    return [
        index
        for index in range(start + 1, len(messages))
        if messages[index].get("role") == "assistant"
    ]


def build_request_messages(
    history: list[BetaMessageParam],
    budget: ContextBudget,
    count_message: CountMessage,
    fixed_tokens: int = 0,
) -> tuple[list[BetaMessageParam], PruneReport]:
    """The messages to send: old screenshots, then old tool outputs, then the oldest
    whole turns left out until the request fits `budget` (with `fixed_tokens` of
    system prompt and tools). `history` is not changed."""
    messages = _copy_messages(history)
    images_removed = 0
    if budget.images_to_keep is not None:
        images_removed = _remove_old_images(
            messages, budget.images_to_keep, budget.image_removal_chunk
        )

    first_counted = _after_last_compaction(messages)
    sizes = [
        count_message(message) if index >= first_counted else 0
        for index, message in enumerate(messages)
    ]
    tokens_before = fixed_tokens + sum(
        count_message(message) for message in history[first_counted:]
    )
    total = fixed_tokens + sum(sizes)

    shortened = 0
    if total > budget.max_input_tokens:
        recent = (
            _turn_starts(messages, 0)[-budget.keep_recent_turns :]
            if budget.keep_recent_turns
            else []
        )
        boundary = recent[0] if recent else len(messages)
        for index in _shorten_old_tool_outputs(
            messages, boundary, budget.old_tool_output_tokens * 3
        ):
            shortened += 1
            new_size = count_message(messages[index]) if index >= first_counted else 0
            total += new_size - sizes[index]
            sizes[index] = new_size

    dropped_turns = 0
    if total > budget.max_input_tokens:
        starts = _turn_starts(messages, 0)
        # Never drop the newest turn: it holds the question being answered.
        cut_at = None
        for position, start in enumerate(starts[:-1]):
            end = starts[position + 1]
            total -= sum(sizes[start:end])
            dropped_turns += 1
            cut_at = end
            if total <= budget.max_input_tokens:
                break
        if cut_at is not None:
            first_start = starts[0]
            note = {
                "type": "text",
                "text": f"[{dropped_turns} earlier turn(s) were left out here to fit the context budget.]",
            }
            head = messages[:first_start]
            first = dict(head[0])
            first_content = first.get("content")
            first_blocks = (
                [{"type": "text", "text": first_content}]
                if isinstance(first_content, str)
                else list(first_content or [])
            )
            first["content"] = [*first_blocks, note]
            total += count_message(first) - sizes[0]
            messages = [first, *head[1:], *messages[cut_at:]]

    report = PruneReport(
        images_removed=images_removed,
        tool_outputs_shortened=shortened,
        turns_dropped=dropped_turns,
        tokens_before=tokens_before,
        tokens_after=total,
        fits=total <= budget.max_input_tokens,
    )
    return cast(list[BetaMessageParam], messages), report


def inject_cache_breakpoints(messages: list[BetaMessageParam]) -> None:
    """Mark the newest user turns for prompt caching (in this request view only).

    Blocks are replaced, never edited, so the history they came from is untouched.
    """
    remaining = CACHE_BREAKPOINTS_FOR_MESSAGES
    for message in reversed(messages):
        content = message.get("content")
        if (
            message.get("role") != "user"
            or not isinstance(content, list)
            or not content
        ):
            continue
        blocks = cast(list[Any], content)
        for index, block in enumerate(blocks):
            if isinstance(block, dict) and "cache_control" in block:
                blocks[index] = {
                    key: value for key, value in block.items() if key != "cache_control"
                }
        if remaining and isinstance(blocks[-1], dict):
            blocks[-1] = {**blocks[-1], "cache_control": {"type": "ephemeral"}}
            remaining -= 1


_CLEAR_TOOL_USES_MODELS = ("claude-opus-4", "claude-sonnet-4", "claude-haiku-4-5")
_COMPACTION_MODELS = (
    "claude-opus-4-6",
    "claude-sonnet-4-6",
    "claude-opus-4-7",
    "claude-opus-4-8",
)


def _supports(model: str, families: tuple[str, ...]) -> bool:
    normalised = model.removeprefix("anthropic.").replace("@", "-")
    return any(normalised.startswith(family) for family in families)


def server_context_management(
    strategy: ContextStrategy | str, model: str, budget_tokens: int | None = None
) -> tuple[dict[str, Any] | None, list[str]]:
    """The `context_management` request field and its beta flag, or (None, []) when
    the strategy is client-side only or the model does not support it."""
    trigger = budget_tokens or int(DEFAULT_CONTEXT_WINDOW * 0.6)
    if strategy == "clear_tool_uses" and _supports(model, _CLEAR_TOOL_USES_MODELS):
        return (
            {
                "edits": [
                    {
                        "type": "clear_tool_uses_20250919",
                        "trigger": {"type": "input_tokens", "value": trigger},
                        "keep": {"type": "tool_uses", "value": 3},
                        "clear_at_least": {
                            "type": "input_tokens",
                            "value": min(20_000, trigger // 4),
                        },
                    }
                ]
            },
            [CONTEXT_MANAGEMENT_BETA],
        )
    if strategy == "compact" and _supports(model, _COMPACTION_MODELS):
        return {"edits": [{"type": "compact_20260112"}]}, [COMPACTION_BETA]
    return None, []


def validate_conversation(messages: list[Any]) -> list[str]:
    """Problems the API would reject: role order, unanswered or orphaned tool calls."""
    problems: list[str] = []
    if not messages:
        return ["the conversation is empty"]
    if messages[0].get("role") != "user":
        problems.append("the first message is not from the user")
    merged: list[tuple[str, list[Any]]] = []
    for message in messages:
        role = message.get("role")
        content = message.get("content")
        blocks = (
            [{"type": "text", "text": content}]
            if isinstance(content, str)
            else list(content or [])
        )
        if merged and merged[-1][0] == role:
            merged[-1][1].extend(blocks)
        else:
            merged.append((str(role), blocks))
    for position, (role, blocks) in enumerate(merged):
        if role == "assistant":
            calls = [
                block.get("id") for block in blocks if _is_block(block, "tool_use")
            ]
            follower = merged[position + 1][1] if position + 1 < len(merged) else None
            if calls and follower is None:
                problems.append(f"tool calls {calls} are never answered")
                continue
            answered = [
                block.get("tool_use_id")
                for block in follower or []
                if _is_block(block, "tool_result")
            ]
            for call in calls:
                if call not in answered:
                    problems.append(
                        f"tool_use {call} has no tool_result right after it"
                    )
            if calls and follower:
                leading = 0
                while leading < len(follower) and _is_block(
                    follower[leading], "tool_result"
                ):
                    leading += 1
                if any(_is_block(block, "tool_result") for block in follower[leading:]):
                    problems.append(
                        "tool_result blocks must come first in their message"
                    )
        else:
            previous_calls = (
                {
                    block.get("id")
                    for block in merged[position - 1][1]
                    if _is_block(block, "tool_use")
                }
                if position > 0
                else set()
            )
            for block in blocks:
                if (
                    _is_block(block, "tool_result")
                    and block.get("tool_use_id") not in previous_calls
                ):
                    problems.append(
                        f"tool_result {block.get('tool_use_id')} answers no tool_use in the turn before"
                    )
    return problems
