"""Request validation with the real API's status codes and error shapes.

Every rule here is in the table of `fake_anthropic/RULES.md`, with its source;
tests rely on them to prove a history stays valid to send.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .images import MEDIA_TYPES, UnreadableImage, decode_base64, read_header

# Errors page, "Request size limits": 32 MB for the Messages and Token Counting
# APIs. "MB" is not defined there; the fake takes the smaller reading.
MAX_REQUEST_BYTES = 32_000_000
# Vision page, "General limits" and the wire sentences of its errors.
MAX_IMAGES = 100
MAX_IMAGE_PIXELS = 8000
MANY_IMAGES = 20  # above this many images, each may be at most ...
MANY_IMAGES_MAX_PIXELS = 2000
MAX_IMAGE_BASE64_BYTES = 5 * 1024 * 1024

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


def check_size(raw: bytes) -> None:
    """The body's bytes, checked before anything else (at the edge, before auth)."""
    if len(raw) > MAX_REQUEST_BYTES:
        raise APIError(
            413,
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes.",
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
    check_images(messages)


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
                raise invalid("messages: text content blocks must be non-empty")
            if kind == "text" and not str(block["text"]).strip():
                raise invalid(
                    "messages: text content blocks must contain non-whitespace text"
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
