"""The API's own context management, offered per model: tool-result clearing and compaction.

Pure: builds the `context_management` request field and its beta flags; never
enables a strategy for a model the API does not document it for (the model's
entry in `models.py` says which).
"""

from __future__ import annotations

from typing import Any, Literal

from ..models import lookup_model_conf

CONTEXT_MANAGEMENT_BETA = "context-management-2025-06-27"
COMPACTION_BETA = "compact-2026-01-12"

ServerStrategy = Literal["off", "client", "clear_tool_uses", "compact"]

DEFAULT_CLEAR_TRIGGER_TOKENS = 100_000  # the API's own default
DEFAULT_KEEP_TOOL_USES = 3  # screenshots of the last few actions stay visible
DEFAULT_CLEAR_AT_LEAST_TOKENS = 20_000  # clear enough to be worth a cache miss


def server_context_management(
    strategy: ServerStrategy | str,
    model: str,
    *,
    trigger_tokens: int | None = None,
    keep_tool_uses: int = DEFAULT_KEEP_TOOL_USES,
    exclude_tools: tuple[str, ...] = (),
) -> tuple[dict[str, Any] | None, list[str]]:
    """The `context_management` field and the betas to add, or (None, []).

    `"off"`/`"client"` (the client-side budget alone), an unknown strategy or a
    model without support give (None, []): the client-side budget then does all
    the work, as it also does as the fallback when a strategy is on.
    `trigger_tokens` is when the server acts; None leaves the API's default
    (100k for clearing, 150k for compaction).
    """
    conf = lookup_model_conf(model)
    if strategy == "clear_tool_uses" and conf.clears_tool_uses:
        trigger = trigger_tokens or DEFAULT_CLEAR_TRIGGER_TOKENS
        edit: dict[str, Any] = {
            "type": "clear_tool_uses_20250919",
            "trigger": {"type": "input_tokens", "value": trigger},
            "keep": {"type": "tool_uses", "value": keep_tool_uses},
            "clear_at_least": {
                "type": "input_tokens",
                "value": min(DEFAULT_CLEAR_AT_LEAST_TOKENS, trigger // 4),
            },
        }
        if exclude_tools:
            edit["exclude_tools"] = list(exclude_tools)
        return {"edits": [edit]}, [CONTEXT_MANAGEMENT_BETA]
    if strategy == "compact" and conf.compacts:
        compact: dict[str, Any] = {"type": "compact_20260112"}
        if trigger_tokens:
            compact["trigger"] = {"type": "input_tokens", "value": trigger_tokens}
        return {"edits": [compact]}, [COMPACTION_BETA]
    return None, []
