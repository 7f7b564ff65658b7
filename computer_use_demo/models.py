"""What the app needs per model beyond the shared table: tool version, UI
output default, thinking modes and the API's context edits.

Ids, output ceilings, context windows and prices are the shared model table's
(`token_manager.model_table`); this module joins the two. Shared by the
Streamlit sidebar, the terminal front end and the conversation rules; pure
data, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from token_manager.model_table import (
    DEFAULT_CONTEXT_WINDOW,
    LONG_CONTEXT_WINDOW,
    MODELS,
    ModelFacts,
    model_facts,
)

from .tools import ToolVersion

ThinkingMode = Literal["adaptive", "extended", "off"]
ThinkingEffort = Literal["low", "medium", "high", "max"]

LONG_CONTEXT_BETA = "context-1m-2025-08-07"


@dataclass(kw_only=True, frozen=True)
class ModelConfig:
    """Defaults the UI offers for one model family, and what the API offers it."""

    tool_version: ToolVersion
    default_output_tokens: int
    # The shared table's, for a model it lists (`with_table_facts`).
    max_output_tokens: int = 64_000
    # The first mode is the one the UI selects by default.
    thinking_modes: tuple[ThinkingMode, ...] = ("off", "extended")
    # The 1M-token context beta (`LONG_CONTEXT_BETA`) is offered.
    long_context: bool = False
    # Context editing (`clear_tool_uses_20250919`): every Claude 4 generation model.
    clears_tool_uses: bool = False
    # Server-side compaction (`compact_20260112`): Opus/Sonnet 4.6 and later.
    compacts: bool = False

    def with_table_facts(self, facts: ModelFacts) -> ModelConfig:
        return replace(
            self,
            max_output_tokens=facts.max_output_tokens,
            long_context=facts.long_context,
        )

    def context_window(self, betas: Iterable[str] = ()) -> int:
        """Tokens the model can read: 1M only where the 1M beta is both requested
        and offered for the model, else 200k."""
        if self.long_context and LONG_CONTEXT_BETA in betas:
            return LONG_CONTEXT_WINDOW
        return DEFAULT_CONTEXT_WINDOW


CLAUDE_4 = ModelConfig(
    tool_version="computer_use_20250429",
    default_output_tokens=16_384,
    clears_tool_uses=True,
)
CLAUDE_4_5 = ModelConfig(
    tool_version="computer_use_20250124",
    default_output_tokens=16_384,
    clears_tool_uses=True,
)
OPUS_4_5 = replace(CLAUDE_4_5, tool_version="computer_use_20251124")
HAIKU_4_5 = replace(CLAUDE_4_5, default_output_tokens=4_096, thinking_modes=("off",))
# Opus/Sonnet 4.6 think adaptively by default but still take a fixed budget.
CLAUDE_4_6 = ModelConfig(
    tool_version="computer_use_20251124",
    default_output_tokens=16_384,
    thinking_modes=("adaptive", "extended", "off"),
    clears_tool_uses=True,
    compacts=True,
)
# Opus 4.7 and later reject a manual thinking budget.
CLAUDE_4_7 = replace(CLAUDE_4_6, thinking_modes=("adaptive", "off"))
# Unknown ids: thinking off by default, every mode selectable.
DEFAULT_MODEL_CONF = ModelConfig(
    tool_version="computer_use_20250429",
    default_output_tokens=16_384,
    thinking_modes=("off", "adaptive", "extended"),
)
# An id of a Claude 4 family the table does not list yet: the unknown id's UI
# defaults, and what the API offers the whole family.
CLAUDE_4_FAMILY = replace(DEFAULT_MODEL_CONF, clears_tool_uses=True)
SONNET_4_FAMILY = replace(CLAUDE_4_FAMILY, long_context=True)

# The app's facts per row of the shared table, by the row's key.
_APP_FACTS: dict[str, ModelConfig] = {
    "claude-opus-4-0": CLAUDE_4,
    "claude-opus-4-1": CLAUDE_4,
    "claude-sonnet-4-0": CLAUDE_4,
    "claude-sonnet-4-5": CLAUDE_4_5,
    "claude-haiku-4-5": HAIKU_4_5,
    "claude-opus-4-5": OPUS_4_5,
    "claude-opus-4-6": CLAUDE_4_6,
    "claude-sonnet-4-6": CLAUDE_4_6,
    "claude-opus-4-7": CLAUDE_4_7,
    "claude-opus-4-8": CLAUDE_4_7,
}
_FAMILIES: dict[str, ModelConfig] = {
    "claude-opus-4": CLAUDE_4_FAMILY,
    "claude-sonnet-4": SONNET_4_FAMILY,
    "claude-haiku-4": CLAUDE_4_FAMILY,
}

# Every first-party id the table lists, and the family fallbacks, with their
# config: what the UI and the CLI offer.
MODEL_TO_MODEL_CONF: dict[str, ModelConfig] = {
    **_FAMILIES,
    **{
        model_id: _APP_FACTS[facts.key].with_table_facts(facts)
        for facts in MODELS
        for model_id in facts.ids
    },
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
    """The config of a model id in any provider's spelling.

    A model the shared table lists gets its row; otherwise the longest family
    id the normalised one starts with (`claude-sonnet-4-9` is a Sonnet 4), or
    the unknown id's config.
    """
    facts = model_facts(model)
    if facts is not None:
        return _APP_FACTS[facts.key].with_table_facts(facts)
    normalised = normalise_model_id(model)
    candidates = [known for known in _FAMILIES if normalised.startswith(known)]
    if candidates:
        return _FAMILIES[max(candidates, key=len)]
    return DEFAULT_MODEL_CONF


def context_window_for(model: str, betas: Iterable[str] = ()) -> int:
    """Tokens `model` can read with `betas` (200k for ids nobody knows)."""
    return lookup_model_conf(model).context_window(betas)
