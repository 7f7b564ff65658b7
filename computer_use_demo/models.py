"""What each known model accepts: tool version, output limits, thinking modes,
context window and the API's context edits. The one home of per-model facts.

Shared by the Streamlit sidebar, the terminal front end and the conversation
rules; pure data, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from .tools import ToolVersion

ThinkingMode = Literal["adaptive", "extended", "off"]
ThinkingEffort = Literal["low", "medium", "high", "max"]

DEFAULT_CONTEXT_WINDOW = 200_000
LONG_CONTEXT_WINDOW = 1_000_000
LONG_CONTEXT_BETA = "context-1m-2025-08-07"


@dataclass(kw_only=True, frozen=True)
class ModelConfig:
    """Defaults the UI offers for one model family, and what the API offers it."""

    tool_version: ToolVersion
    max_output_tokens: int
    default_output_tokens: int
    # The first mode is the one the UI selects by default.
    thinking_modes: tuple[ThinkingMode, ...] = ("off", "extended")
    # The 1M-token context beta (`LONG_CONTEXT_BETA`) is offered.
    long_context: bool = False
    # Context editing (`clear_tool_uses_20250919`): every Claude 4 generation model.
    clears_tool_uses: bool = False
    # Server-side compaction (`compact_20260112`): Opus/Sonnet 4.6 and later.
    compacts: bool = False

    def context_window(self, betas: Iterable[str] = ()) -> int:
        """Tokens the model can read: 1M only where the 1M beta is both requested
        and offered for the model, else 200k."""
        if self.long_context and LONG_CONTEXT_BETA in betas:
            return LONG_CONTEXT_WINDOW
        return DEFAULT_CONTEXT_WINDOW


# Maximum output per model: the models overview
# (https://platform.claude.com/docs/en/about-claude/models/overview).
CLAUDE_4 = ModelConfig(
    tool_version="computer_use_20250429",
    max_output_tokens=32_000,  # Opus 4 and 4.1
    default_output_tokens=16_384,
    clears_tool_uses=True,
)
SONNET_4 = replace(CLAUDE_4, max_output_tokens=64_000, long_context=True)
CLAUDE_4_5 = ModelConfig(
    tool_version="computer_use_20250124",
    max_output_tokens=64_000,
    default_output_tokens=16_384,
    long_context=True,
    clears_tool_uses=True,
)
OPUS_4_5 = ModelConfig(
    tool_version="computer_use_20251124",
    max_output_tokens=64_000,
    default_output_tokens=16_384,
    clears_tool_uses=True,
)
HAIKU_4_5 = ModelConfig(
    tool_version="computer_use_20250124",
    max_output_tokens=8_192,
    default_output_tokens=4_096,
    thinking_modes=("off",),
    clears_tool_uses=True,
)
# Opus/Sonnet 4.6 think adaptively by default but still take a fixed budget.
CLAUDE_4_6 = ModelConfig(
    tool_version="computer_use_20251124",
    max_output_tokens=128_000,
    default_output_tokens=16_384,
    thinking_modes=("adaptive", "extended", "off"),
    long_context=True,
    clears_tool_uses=True,
    compacts=True,
)
# Opus 4.7 and later reject a manual thinking budget.
CLAUDE_4_7 = ModelConfig(
    tool_version="computer_use_20251124",
    max_output_tokens=128_000,
    default_output_tokens=16_384,
    thinking_modes=("adaptive", "off"),
    clears_tool_uses=True,
    compacts=True,
)
# Unknown ids: thinking off by default, every mode selectable.
DEFAULT_MODEL_CONF = ModelConfig(
    tool_version="computer_use_20250429",
    max_output_tokens=64_000,
    default_output_tokens=16_384,
    thinking_modes=("off", "adaptive", "extended"),
)
# An id of a Claude 4 family this table does not know yet: the unknown id's UI
# defaults, and what the API offers the whole family.
CLAUDE_4_FAMILY = replace(DEFAULT_MODEL_CONF, clears_tool_uses=True)
SONNET_4_FAMILY = replace(CLAUDE_4_FAMILY, long_context=True)

MODEL_TO_MODEL_CONF: dict[str, ModelConfig] = {
    "claude-opus-4": CLAUDE_4_FAMILY,
    "claude-sonnet-4": SONNET_4_FAMILY,
    "claude-haiku-4": CLAUDE_4_FAMILY,
    "claude-opus-4-1-20250805": CLAUDE_4,
    "claude-opus-4-1": CLAUDE_4,
    "claude-sonnet-4-20250514": SONNET_4,
    "claude-opus-4-20250514": CLAUDE_4,
    "claude-sonnet-4-5-20250929": CLAUDE_4_5,
    "claude-sonnet-4-5": CLAUDE_4_5,
    "claude-haiku-4-5-20251001": HAIKU_4_5,
    "claude-haiku-4-5": HAIKU_4_5,
    "claude-opus-4-5-20251101": OPUS_4_5,
    "claude-opus-4-5": OPUS_4_5,
    "claude-opus-4-6": CLAUDE_4_6,
    "claude-sonnet-4-6": CLAUDE_4_6,
    "claude-opus-4-7": CLAUDE_4_7,
    "claude-opus-4-8": CLAUDE_4_7,
}

DEFAULT_MODEL_BY_PROVIDER: dict[str, str] = {
    "anthropic": "claude-opus-4-8",
    "bedrock": "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "vertex": "claude-sonnet-4-5@20250929",
}


def normalise_model_id(model: str) -> str:
    """Bedrock (`anthropic.` prefix) and Vertex (`@` date) ids in the API's spelling."""
    return model.removeprefix("anthropic.").replace("@", "-")


def lookup_model_conf(model: str) -> ModelConfig:
    """The config of a model id, matching Bedrock/Vertex forms and dated snapshots.

    An exact id wins; otherwise the longest known id the normalised one starts
    with, so `anthropic.claude-sonnet-4-5-20250929-v1:0` finds Sonnet 4.5.
    """
    if model in MODEL_TO_MODEL_CONF:
        return MODEL_TO_MODEL_CONF[model]
    normalised = normalise_model_id(model)
    candidates = [
        known for known in MODEL_TO_MODEL_CONF if normalised.startswith(known)
    ]
    if candidates:
        return MODEL_TO_MODEL_CONF[max(candidates, key=len)]
    return DEFAULT_MODEL_CONF


def context_window_for(model: str, betas: Iterable[str] = ()) -> int:
    """Tokens `model` can read with `betas` (200k for ids nobody knows)."""
    return lookup_model_conf(model).context_window(betas)
