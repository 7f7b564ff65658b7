"""The API's own context edits, offered only where the model's entry says so
(conversation/server_context.py)."""

from __future__ import annotations

import pytest

from computer_use_demo.conversation import (
    COMPACTION_BETA,
    CONTEXT_MANAGEMENT_BETA,
    server_context_management,
)

# ---- server-side context management -------------------------------------------------


@pytest.mark.parametrize("strategy", ["off", "client", "something-else"])
def test_client_side_strategies_add_nothing_to_the_request(strategy: str) -> None:
    assert server_context_management(strategy, "claude-opus-4-8") == (None, [])


def test_clearing_tool_uses_is_offered_with_its_beta_on_claude_4_models() -> None:
    edits, betas = server_context_management(
        "clear_tool_uses", "anthropic.claude-sonnet-4-5-20250929-v1:0"
    )
    assert betas == [CONTEXT_MANAGEMENT_BETA]
    assert edits is not None
    (edit,) = edits["edits"]
    assert edit["type"] == "clear_tool_uses_20250919"
    assert edit["trigger"] == {"type": "input_tokens", "value": 100_000}
    assert edit["keep"] == {"type": "tool_uses", "value": 3}
    assert edit["clear_at_least"]["type"] == "input_tokens"
    assert server_context_management(
        "clear_tool_uses", "claude-3-7-sonnet-20250219"
    ) == (None, [])


def test_compaction_is_offered_with_its_beta_only_where_the_model_supports_it() -> None:
    edits, betas = server_context_management("compact", "claude-opus-4-6")
    assert edits == {"edits": [{"type": "compact_20260112"}]}
    assert betas == [COMPACTION_BETA]
    with_trigger, _ = server_context_management(
        "compact", "claude-sonnet-4-6@20260101", trigger_tokens=120_000
    )
    assert with_trigger == {
        "edits": [
            {
                "type": "compact_20260112",
                "trigger": {"type": "input_tokens", "value": 120_000},
            }
        ]
    }
    assert server_context_management("compact", "claude-sonnet-4-5") == (None, [])
    assert server_context_management("compact", "claude-haiku-4-5") == (None, [])
