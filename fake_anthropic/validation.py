"""Request validation with the real API's status codes and error shapes.

Every rule here is in the table of `fake_anthropic/RULES.md`, with its source;
tests rely on them to prove a history stays valid to send.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .images import MEDIA_TYPES, UnreadableImage, decode_base64, read_header
from .model_classes import max_output_tokens

# Errors page, "Request size limits": 32 MB for the Messages and Token Counting
# APIs. "MB" is not defined there; the fake takes the smaller reading.
MAX_REQUEST_BYTES = 32_000_000
# Vision page, "General limits" and the wire sentences of its errors.
MAX_IMAGES = 100
MAX_IMAGE_PIXELS = 8000
MANY_IMAGES = 20  # above this many images, each may be at most ...
MANY_IMAGES_MAX_PIXELS = 2000
MAX_IMAGE_BASE64_BYTES = 5 * 1024 * 1024
# Messages API reference: tool_use.id.
TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]+$")

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


OUTPUT_128K_BETA = "output-128k-2025-02-19"


def betas_of(headers: Any) -> frozenset[str]:
    return frozenset(
        beta.strip()
        for beta in (headers.get("anthropic-beta") or "").split(",")
        if beta.strip()
    )


def check_headers(headers: Any, api_key: str) -> None:
    # Newer SDKs send the key as a bearer token, older ones as x-api-key.
    bearer = (headers.get("authorization") or "").removeprefix("Bearer ").strip()
    if api_key not in (headers.get("x-api-key"), bearer):
        raise APIError(401, "authentication_error", "invalid x-api-key")
    if not headers.get("anthropic-version"):
        raise invalid("anthropic-version: header is required")
    unknown = sorted(beta for beta in betas_of(headers) if beta not in KNOWN_BETAS)
    if unknown:
        raise invalid(
            f"Unexpected value(s) `{', '.join(unknown)}` for the `anthropic-beta` header. "
            "Please consult our documentation at docs.anthropic.com or try again without the header."
        )


def check_size(raw: bytes) -> None:
    """The body's bytes, checked before anything else (at the edge, before auth)."""
    if len(raw) > MAX_REQUEST_BYTES:
        raise APIError(
            413,
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes.",
        )


def check_body(
    body: Any, *, count_only: bool = False, betas: frozenset[str] = frozenset()
) -> None:
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise invalid("model: Field required")
    if not count_only:
        check_max_tokens(str(body["model"]), body.get("max_tokens"), betas)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid("messages: at least one message is required")
    check_conversation(messages, thinking=_thinking_on(body))
    check_images(messages)


def check_max_tokens(
    model: str, max_tokens: Any, betas: frozenset[str] = frozenset()
) -> None:
    if (
        not isinstance(max_tokens, int)
        or isinstance(max_tokens, bool)
        or max_tokens < 1
    ):
        raise invalid("max_tokens: Field required and must be a positive integer")
    ceiling = max_output_tokens(model)
    if ceiling is not None and OUTPUT_128K_BETA in betas and "3-7-sonnet" in model:
        ceiling = 128_000  # the beta lifts Claude 3.7 Sonnet's limit
    if ceiling is not None and max_tokens > ceiling:
        raise invalid(
            f"max_tokens: {max_tokens} > {ceiling}, which is the maximum allowed "
            f"number of output tokens for {model}"
        )


def _thinking_on(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    # Adaptive thinking may choose not to think, so only a fixed budget binds.
    return isinstance(thinking, dict) and thinking.get("type") == "enabled"


def _blocks(message: dict[str, Any]) -> list[Any]:
    content = message.get("content")
    if isinstance(content, str):
        if not content:
            raise invalid("messages: text content blocks must be non-empty")
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise invalid("messages: content must be a string or a list of blocks")
    return content


def _check_block(index: int, position: int, role: str, block: Any) -> None:
    where = f"messages.{index}.content.{position}"
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise invalid(f"{where}: each block needs a type")
    kind = block["type"]
    if kind == "text" and not block.get("text"):
        raise invalid("messages: text content blocks must be non-empty")
    if kind == "text" and not str(block["text"]).strip():
        raise invalid("messages: text content blocks must contain non-whitespace text")
    if kind == "thinking" and not block.get("signature"):
        raise invalid(f"{where}.thinking.signature: Field required")
    if kind == "redacted_thinking" and not block.get("data"):
        raise invalid(f"{where}.redacted_thinking.data: Field required")
    if kind == "tool_use":
        tool_id = block.get("id")
        if not isinstance(tool_id, str):
            raise invalid(f"{where}.tool_use.id: Field required")
        if not TOOL_ID.fullmatch(tool_id):
            raise invalid(
                f"{where}.tool_use.id: String should match pattern '{TOOL_ID.pattern}'"
            )
        if not isinstance(block.get("input"), dict):
            raise invalid(f"{where}.tool_use.input: Input should be an object")
    if kind == "tool_result" and not isinstance(block.get("tool_use_id"), str):
        raise invalid(f"{where}.tool_result.tool_use_id: Field required")
    if role == "assistant" and kind in ("tool_result", "image"):
        raise invalid(f"{where}: {kind} blocks are not allowed in assistant messages")


def check_conversation(messages: list[Any], *, thinking: bool = False) -> None:
    """Roles, block shapes, tool_use/tool_result pairing and, with thinking on,
    the thinking block that opens the tool-use turn in progress."""
    turns: list[tuple[str, list[Any]]] = []
    starts: list[int] = []  # the index of each turn's first message
    seen_ids: set[str] = set()
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in (
            "user",
            "assistant",
        ):
            raise invalid(
                f"messages.{index}.role: Input should be 'user' or 'assistant'"
            )
        role = message["role"]
        blocks = _blocks(message)
        if not blocks and not (role == "assistant" and index == len(messages) - 1):
            raise invalid(
                f"messages.{index}: all messages must have non-empty content "
                "except for the optional final assistant message"
            )
        for position, block in enumerate(blocks):
            _check_block(index, position, role, block)
            if block["type"] == "tool_use":
                if block["id"] in seen_ids:
                    raise invalid(
                        f"messages.{index}.content.{position}: `tool_use` ids must be unique"
                    )
                seen_ids.add(block["id"])
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)  # consecutive same-role messages are combined
        else:
            turns.append((role, list(blocks)))
            starts.append(index)
    if turns[0][0] != "user":
        raise invalid('messages: first message must use the "user" role')
    for position, (role, blocks) in enumerate(turns):
        if role == "assistant":
            _check_answered(blocks, turns, starts, position)
        else:
            _check_results_answer(blocks, turns, starts, position)
    if thinking:
        _check_thinking_turn(turns, starts)


def _check_answered(
    blocks: list[Any],
    turns: list[tuple[str, list[Any]]],
    starts: list[int],
    position: int,
) -> None:
    """Every tool_use is answered at the start of the next user turn."""
    calls = [block["id"] for block in blocks if block["type"] == "tool_use"]
    if not calls or position + 1 >= len(turns):
        return
    following = turns[position + 1][1]
    leading = 0
    while leading < len(following) and following[leading]["type"] == "tool_result":
        leading += 1
    later = any(block["type"] == "tool_result" for block in following[leading:])
    if leading < len(calls) and later:
        raise invalid(
            f"messages.{starts[position + 1]}: Did not find {len(calls)} tool_result "
            "block(s) at the beginning of this message. Messages following `tool_use` "
            "blocks must begin with a matching number of `tool_result` blocks."
        )
    answered = {block["tool_use_id"] for block in following[:leading]}
    missing = [call for call in calls if call not in answered]
    if missing:
        raise invalid(
            f"messages.{starts[position + 1]}: `tool_use` ids were found without "
            f"`tool_result` blocks immediately after: {', '.join(missing)}. Each "
            "`tool_use` block must have a corresponding `tool_result` block in the "
            "next message."
        )


def _check_results_answer(
    blocks: list[Any],
    turns: list[tuple[str, list[Any]]],
    starts: list[int],
    position: int,
) -> None:
    """Every tool_result answers a tool_use of the turn just before."""
    previous = turns[position - 1][1] if position > 0 else []
    calls = {block["id"] for block in previous if block["type"] == "tool_use"}
    for block in blocks:
        if block["type"] == "tool_result" and block["tool_use_id"] not in calls:
            raise invalid(
                f"messages.{starts[position]}.content: unexpected `tool_use_id` found in "
                f"`tool_result` blocks: {block['tool_use_id']}. Each `tool_result` block "
                "must have a corresponding `tool_use` block in the previous message."
            )


def _check_thinking_turn(turns: list[tuple[str, list[Any]]], starts: list[int]) -> None:
    """With thinking on, the assistant turn whose tool calls the request answers
    (the tool-use loop in progress) starts with its thinking block."""
    if len(turns) < 2 or turns[-1][0] != "user":
        return
    role, blocks = turns[-2]
    answers = any(block["type"] == "tool_result" for block in turns[-1][1])
    if role != "assistant" or not answers:
        return
    first = blocks[0]["type"] if blocks else "nothing"
    if first not in ("thinking", "redacted_thinking"):
        raise invalid(
            f"messages.{starts[-2]}.content.0.type: Expected `thinking` or "
            f"`redacted_thinking`, but found `{first}`. When `thinking` is enabled, a "
            "final `assistant` message must start with a thinking block (preceeding the "
            "lastmost set of `tool_use` and `tool_result` blocks). We recommend you "
            "include thinking blocks from previous turns. To avoid this requirement, "
            "disable `thinking`."
        )


def _image_blocks(messages: list[Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every image of the request with its path, also those inside tool results."""
    for index, message in enumerate(messages):
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for position, block in enumerate(content):
            if not isinstance(block, dict):
                continue
            path = f"messages.{index}.content.{position}"
            if block.get("type") == "image":
                yield path, block
            inner = block.get("content")
            if block.get("type") == "tool_result" and isinstance(inner, list):
                for item, nested in enumerate(inner):
                    if isinstance(nested, dict) and nested.get("type") == "image":
                        yield f"{path}.content.{item}", nested


def check_images(messages: list[Any]) -> None:
    """Count, byte size, format and dimensions of every base64 image."""
    images = list(_image_blocks(messages))
    if len(images) > MAX_IMAGES:
        raise invalid(
            f"messages: too many images in the request: {len(images)} > {MAX_IMAGES}"
        )
    many = len(images) > MANY_IMAGES
    for path, block in images:
        source = block.get("source")
        if not isinstance(source, dict) or source.get("type") != "base64":
            continue  # url and file sources are fetched by the server: not modelled
        media_type = source.get("media_type")
        if media_type not in MEDIA_TYPES:
            raise invalid(
                f"{path}.image.source.base64.media_type: Input should be "
                + ", ".join(f"'{kind}'" for kind in MEDIA_TYPES)
            )
        data = str(source.get("data") or "")
        if len(data) > MAX_IMAGE_BASE64_BYTES:
            raise invalid(
                f"{path}.image.source.base64: image exceeds 5 MB maximum: "
                f"{len(data)} bytes > {MAX_IMAGE_BASE64_BYTES} bytes"
            )
        try:
            header = read_header(decode_base64(data))
        except UnreadableImage as error:
            raise invalid(
                f"{path}.image.source.base64: Could not process image"
            ) from error
        if header.media_type != media_type:
            raise invalid(
                f"{path}.image.source.base64.data: The image was specified using the "
                f"{media_type} media type, but the image appears to be a "
                f"{header.media_type} image"
            )
        largest = max(header.width, header.height)
        if many and largest > MANY_IMAGES_MAX_PIXELS:
            raise invalid(
                f"{path}.image.source.base64.data: At least one of the image dimensions "
                f"exceed max allowed size for many-image requests: {MANY_IMAGES_MAX_PIXELS} pixels"
            )
        if largest > MAX_IMAGE_PIXELS:
            raise invalid(
                f"{path}.image.source.base64.data: At least one of the image dimensions "
                f"exceed max allowed size: {MAX_IMAGE_PIXELS} pixels"
            )
