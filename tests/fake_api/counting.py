"""How the fake server counts tokens: deliberately NOT the client's cl100k count.

cl100k tokens times a factor plus per-block overheads (Claude's tokenizer differs),
images by width*height/750, and cache reads for repeated cache_control prefixes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from token_manager.estimate import count_text, image_size

TOOL_PROMPT_TOKENS = {"computer": 683, "bash": 240, "str_replace_based_edit_tool": 720}


@dataclass
class TokenCounter:
    factor: float = 1.17
    block_overhead: int = 6
    message_overhead: int = 5
    _cache: dict[str, int] = field(default_factory=dict, repr=False)

    def text(self, text: str) -> int:
        return round(count_text(text) * self.factor)

    def block(self, block: Any) -> int:
        if isinstance(block, str):
            return self.block_overhead + self.text(block)
        kind = block.get("type")
        if kind == "text":
            return self.block_overhead + self.text(block.get("text", ""))
        if kind == "image":
            size = image_size(str((block.get("source") or {}).get("data", "")))
            return self.block_overhead + (
                round(size[0] * size[1] / 750) if size else 1600
            )
        if kind == "tool_result":
            content = block.get("content")
            inner = [content] if isinstance(content, str) else list(content or [])
            return self.block_overhead + sum(self.block(item) for item in inner)
        if kind == "tool_use":
            return (
                self.block_overhead
                + self.text(block.get("name", ""))
                + self.text(json.dumps(block.get("input", {})))
            )
        if kind == "thinking":
            return self.block_overhead + self.text(block.get("thinking", ""))
        visible = {
            key: value
            for key, value in block.items()
            if key not in ("cache_control", "signature")
        }
        return self.block_overhead + self.text(json.dumps(visible))

    def message(self, message: dict[str, Any]) -> int:
        """Counted once per distinct message: long sessions resend the same ones."""
        key = json.dumps(_strip_marks(message), sort_keys=True)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._count_message(message)
            if len(self._cache) > 20_000:
                self._cache.clear()
            self._cache[key] = cached
        return cached

    def _count_message(self, message: dict[str, Any]) -> int:
        content = message.get("content")
        blocks = [content] if isinstance(content, str) else list(content or [])
        return self.message_overhead + sum(self.block(block) for block in blocks)

    def frame(self, body: dict[str, Any]) -> int:
        system = body.get("system")
        total = 0
        if isinstance(system, str):
            total += self.text(system)
        elif isinstance(system, list):
            total += sum(self.block(block) for block in system)
        for tool in body.get("tools") or []:
            total += TOOL_PROMPT_TOKENS.get(str(tool.get("name")), 0) + self.text(
                json.dumps(tool)
            )
        return total


@dataclass
class PromptCache:
    """Prefixes ending at cache_control breakpoints that earlier requests wrote."""

    written: dict[str, int] = field(default_factory=dict)

    def usage(
        self, body: dict[str, Any], counter: TokenCounter
    ) -> tuple[int, int, int]:
        """(uncached input, cache creation, cache read) for this request."""
        running = counter.frame(body)
        digest = hashlib.sha256(
            json.dumps([body.get("system"), body.get("tools")], sort_keys=True).encode()
        )
        breakpoints: list[tuple[str, int]] = []
        if _has_cache_mark(body.get("system")) or _has_cache_mark(body.get("tools")):
            breakpoints.append((digest.hexdigest(), running))
        for message in body.get("messages") or []:
            running += counter.message(message)
            digest.update(json.dumps(_strip_marks(message), sort_keys=True).encode())
            if _has_cache_mark(message.get("content")):
                breakpoints.append((digest.hexdigest(), running))
        total = running
        read = max(
            (tokens for key, tokens in breakpoints if key in self.written), default=0
        )
        created = 0
        if breakpoints:
            last_tokens = breakpoints[-1][1]
            created = max(0, last_tokens - read)
            for key, tokens in breakpoints:
                self.written[key] = tokens
        return total - read - created, created, read


def _has_cache_mark(value: Any) -> bool:
    if isinstance(value, list):
        return any(isinstance(item, dict) and "cache_control" in item for item in value)
    return False


def _strip_marks(message: dict[str, Any]) -> Any:
    content = message.get("content")
    if not isinstance(content, list):
        return message
    return {
        **message,
        "content": [
            {k: v for k, v in block.items() if k != "cache_control"}
            if isinstance(block, dict)
            else block
            for block in content
        ],
    }
