"""What each known model accepts: tool version, output limits, thinking modes.

Shared by the Streamlit sidebar and the terminal front end; pure data, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .tools import ToolVersion

ThinkingMode = Literal["adaptive", "extended", "off"]
ThinkingEffort = Literal["low", "medium", "high", "max"]


@dataclass(kw_only=True, frozen=True)
class ModelConfig:
    """Defaults the UI offers for one model family."""

    tool_version: ToolVersion
    max_output_tokens: int
    default_output_tokens: int
    # The first mode is the one the UI selects by default.
    thinking_modes: tuple[ThinkingMode, ...] = ("off", "extended")


CLAUDE_4 = ModelConfig(
    tool_version="computer_use_20250429",
    max_output_tokens=64_000,
    default_output_tokens=16_384,
)
CLAUDE_4_5 = ModelConfig(
    tool_version="computer_use_20250124",
    max_output_tokens=128_000,
    default_output_tokens=16_384,
)
OPUS_4_5 = ModelConfig(
    tool_version="computer_use_20251124",
    max_output_tokens=64_000,
    default_output_tokens=16_384,
)
HAIKU_4_5 = ModelConfig(
    tool_version="computer_use_20250124",
    max_output_tokens=8_192,
    default_output_tokens=4_096,
    thinking_modes=("off",),
)
# Opus/Sonnet 4.6 think adaptively by default but still take a fixed budget.
CLAUDE_4_6 = ModelConfig(
    tool_version="computer_use_20251124",
    max_output_tokens=128_000,
    default_output_tokens=16_384,
    thinking_modes=("adaptive", "extended", "off"),
)
# Opus 4.7 and later reject a manual thinking budget.
CLAUDE_4_7 = ModelConfig(
    tool_version="computer_use_20251124",
    max_output_tokens=128_000,
    default_output_tokens=16_384,
    thinking_modes=("adaptive", "off"),
)
# Unknown ids: thinking off by default, every mode selectable.
DEFAULT_MODEL_CONF = ModelConfig(
    tool_version="computer_use_20250429",
    max_output_tokens=64_000,
    default_output_tokens=16_384,
    thinking_modes=("off", "adaptive", "extended"),
)

MODEL_TO_MODEL_CONF: dict[str, ModelConfig] = {
    "claude-opus-4-1-20250805": CLAUDE_4,
    "claude-opus-4-1": CLAUDE_4,
    "claude-sonnet-4-20250514": CLAUDE_4,
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


def lookup_model_conf(model: str) -> ModelConfig:
    """The config of a model id, matching Bedrock/Vertex forms and dated snapshots.

    An exact id wins; otherwise the longest known id the normalised one starts
    with, so `anthropic.claude-sonnet-4-5-20250929-v1:0` finds Sonnet 4.5.
    """
    if model in MODEL_TO_MODEL_CONF:
        return MODEL_TO_MODEL_CONF[model]
    normalised = model.removeprefix("anthropic.").replace("@", "-")
    candidates = [
        known for known in MODEL_TO_MODEL_CONF if normalised.startswith(known)
    ]
    if candidates:
        return MODEL_TO_MODEL_CONF[max(candidates, key=len)]
    return DEFAULT_MODEL_CONF
