"""Request validation with the real API's status codes and error shapes.

The conversation checks are the strict ones the real API applies: teammates'
fault tests rely on them to prove a history stays valid to send.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KNOWN_BETAS = frozenset(
    {
        "computer-use-2024-10-22",
        "computer-use-2025-01-24",
        "computer-use-2025-11-24",
        "prompt-caching-2024-07-31",
        "token-efficient-tools-2025-02-19",
        "context-management-2025-06-27",
        "compact-2026-01-12",
        "interleaved-thinking-2025-05-14",
        "output-128k-2025-02-19",
        "fine-grained-tool-streaming-2025-05-14",
        "token-counting-2024-11-01",
    }
)
BLOCK_TYPES_USER = {"text", "image", "tool_result", "document", "search_result"}


@dataclass(frozen=True)
class APIError(Exception):
    status: int
    error_type: str
    message: str

    def body(self) -> dict[str, Any]:
        return {
            "type": "error",
            "error": {"type": self.error_type, "message": self.message},
        }


def invalid(message: str) -> APIError:
    return APIError(400, "invalid_request_error", message)


def check_headers(headers: Any, api_key: str) -> None:
    # Newer SDKs send the key as a bearer token, older ones as x-api-key.
    bearer = (headers.get("authorization") or "").removeprefix("Bearer ").strip()
    if api_key not in (headers.get("x-api-key"), bearer):
        raise APIError(401, "authentication_error", "invalid x-api-key")
    if not headers.get("anthropic-version"):
        raise invalid("anthropic-version: header is required")
    betas = [
        beta.strip()
        for beta in (headers.get("anthropic-beta") or "").split(",")
        if beta.strip()
    ]
    unknown = [beta for beta in betas if beta not in KNOWN_BETAS]
    if unknown:
        raise invalid(
            f"Unexpected value(s) `{', '.join(unknown)}` for the `anthropic-beta` header. "
            "Please consult our documentation at docs.anthropic.com or try again without the header."
        )


def check_body(body: Any, *, count_only: bool = False) -> None:
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise invalid("model: Field required")
    if not count_only:
        max_tokens = body.get("max_tokens")
        if (
            not isinstance(max_tokens, int)
            or isinstance(max_tokens, bool)
            or max_tokens < 1
        ):
            raise invalid("max_tokens: Field required and must be a positive integer")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid("messages: at least one message is required")
    check_conversation(messages)


def _blocks(message: dict[str, Any]) -> list[Any]:
    content = message.get("content")
    if isinstance(content, str):
        if not content:
            raise invalid("messages: text content blocks must be non-empty")
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise invalid("messages: content must be a string or a list of blocks")
    return content


def check_conversation(messages: list[Any]) -> None:
    """Roles, block shapes, and tool_use/tool_result pairing, as the API enforces them."""
    turns: list[tuple[str, list[Any]]] = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in (
            "user",
            "assistant",
        ):
            raise invalid(
                f"messages.{index}.role: Input should be 'user' or 'assistant'"
            )
        blocks = _blocks(message)
        if not blocks and not (
            message["role"] == "assistant" and index == len(messages) - 1
        ):
            raise invalid(f"messages.{index}: all messages must have non-empty content")
        for position, block in enumerate(blocks):
            if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                raise invalid(
                    f"messages.{index}.content.{position}: each block needs a type"
                )
            kind = block["type"]
            if kind == "text" and not block.get("text"):
                raise invalid(
                    f"messages.{index}.content.{position}: text content blocks must be non-empty"
                )
            if kind == "thinking" and not block.get("signature"):
                raise invalid(
                    f"messages.{index}.content.{position}.thinking.signature: Field required"
                )
            if kind == "tool_use" and not isinstance(block.get("input"), dict):
                raise invalid(
                    f"messages.{index}.content.{position}.tool_use.input: Input should be an object"
                )
            if message["role"] == "assistant" and kind in ("tool_result", "image"):
                raise invalid(
                    f"messages.{index}.content.{position}: {kind} blocks are not allowed in assistant messages"
                )
        if turns and turns[-1][0] == message["role"]:
            turns[-1][1].extend(blocks)  # consecutive same-role messages are combined
        else:
            turns.append((message["role"], list(blocks)))
    if turns[0][0] != "user":
        raise invalid("messages: the first message must use the user role")
    for position, (role, blocks) in enumerate(turns):
        if role != "assistant":
            continue
        calls = [block.get("id") for block in blocks if block.get("type") == "tool_use"]
        if not calls:
            continue
        following = turns[position + 1][1] if position + 1 < len(turns) else []
        answered = {
            block.get("tool_use_id")
            for block in following
            if block.get("type") == "tool_result"
        }
        missing = [call for call in calls if call not in answered]
        if missing:
            raise invalid(
                f"messages.{_message_index(messages, position + 1)}: `tool_use` ids were found without "
                f"`tool_result` blocks immediately after: {', '.join(map(str, missing))}. Each `tool_use` "
                "block must have a corresponding `tool_result` block in the next message."
            )
        leading = 0
        while (
            leading < len(following) and following[leading].get("type") == "tool_result"
        ):
            leading += 1
        if any(block.get("type") == "tool_result" for block in following[leading:]):
            raise invalid(
                "tool_result blocks must come first in the user message that follows tool use"
            )
    for position, (role, blocks) in enumerate(turns):
        if role != "user":
            continue
        previous = turns[position - 1][1] if position > 0 else []
        previous_calls = {
            block.get("id") for block in previous if block.get("type") == "tool_use"
        }
        for block in blocks:
            if (
                block.get("type") == "tool_result"
                and block.get("tool_use_id") not in previous_calls
            ):
                raise invalid(
                    f"messages.{_message_index(messages, position)}.content: unexpected `tool_use_id` found in "
                    f"`tool_result` blocks: {block.get('tool_use_id')}. Each `tool_result` block must have a "
                    "corresponding `tool_use` block in the previous message."
                )


def _message_index(messages: list[Any], turn: int) -> int:
    """The index of the first message of merged turn `turn` (for error texts)."""
    count, previous = -1, None
    for index, message in enumerate(messages):
        if message.get("role") != previous:
            count += 1
            previous = message.get("role")
        if count == turn:
            return index
    return len(messages)
