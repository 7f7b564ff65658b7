"""How the fake server counts tokens: deliberately NOT the client's cl100k count.

cl100k tokens times a factor plus per-block overheads (Claude's tokenizer differs),
images by width*height/750. The prompt cache lives in `prompt_cache.py`.
"""

from __future__ import annotations

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

    def block_tokens(self, key: str, block: Any) -> int:
        """`block(block)`, remembered under `key` (its canonical JSON): long
        sessions resend the same blocks on every turn."""
        cached = self._cache.get(key)
        if cached is None:
            cached = self.block(block)
            self._remember(key, cached)
        return cached

    def tool_tokens(self, key: str, tool: dict[str, Any]) -> int:
        cached = self._cache.get(key)
        if cached is None:
            visible = {
                name: value for name, value in tool.items() if name != "cache_control"
            }
            cached = TOOL_PROMPT_TOKENS.get(str(tool.get("name")), 0) + self.text(
                json.dumps(visible)
            )
            self._remember(key, cached)
        return cached

    def _remember(self, key: str, tokens: int) -> None:
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[key] = tokens

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
