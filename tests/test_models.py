"""Per-model facts live on the model's entry: context window, long context,
the API's context edits, Bedrock and Vertex ids (computer_use_demo/models.py)."""

from __future__ import annotations

import pytest

from computer_use_demo.models import (
    DEFAULT_MODEL_CONF,
    LONG_CONTEXT_BETA,
    context_window_for,
    lookup_model_conf,
    normalise_model_id,
)


def test_context_window_is_200k_unless_the_1m_beta_is_requested_for_a_model_offering_it() -> (
    None
):
    assert context_window_for("claude-opus-4-8") == 200_000
    assert context_window_for("some-future-model") == 200_000
    assert context_window_for("claude-sonnet-4-5-20250929") == 200_000
    assert (
        context_window_for("claude-sonnet-4-5-20250929", [LONG_CONTEXT_BETA])
        == 1_000_000
    )
    assert (
        context_window_for(
            "anthropic.claude-sonnet-4-20250514-v1:0", [LONG_CONTEXT_BETA]
        )
        == 1_000_000
    )
    assert context_window_for("claude-haiku-4-5", [LONG_CONTEXT_BETA]) == 200_000


@pytest.mark.parametrize(
    ("model", "long_context", "clears_tool_uses", "compacts"),
    [
        ("claude-sonnet-4-20250514", True, True, False),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", True, True, False),
        ("claude-sonnet-4-6@20260101", True, True, True),
        ("claude-opus-4-6", True, True, True),
        ("claude-opus-4-8", False, True, True),
        ("claude-opus-4-1-20250805", False, True, False),
        ("claude-haiku-4-5", False, True, False),
        # Ids of a Claude 4 family the table does not list keep the family's facts
        # and the unknown id's UI defaults.
        ("claude-sonnet-4-9", True, True, False),
        ("claude-haiku-4-7", False, True, False),
        ("claude-3-7-sonnet-20250219", False, False, False),
        ("some-future-model", False, False, False),
    ],
)
def test_each_model_entry_says_what_the_api_offers_it(
    model: str, long_context: bool, clears_tool_uses: bool, compacts: bool
) -> None:
    conf = lookup_model_conf(model)
    assert conf.long_context is long_context
    assert conf.clears_tool_uses is clears_tool_uses
    assert conf.compacts is compacts


def test_an_unlisted_family_id_gets_the_unknown_ids_ui_defaults() -> None:
    family = lookup_model_conf("claude-sonnet-4-9")
    assert family.tool_version == DEFAULT_MODEL_CONF.tool_version
    assert family.thinking_modes == DEFAULT_MODEL_CONF.thinking_modes
    assert family.max_output_tokens == DEFAULT_MODEL_CONF.max_output_tokens


def test_bedrock_and_vertex_ids_are_spelt_as_the_api_spells_them() -> None:
    assert (
        normalise_model_id("anthropic.claude-sonnet-4-5-20250929-v1:0")
        == "claude-sonnet-4-5-20250929-v1:0"
    )
    assert normalise_model_id("claude-sonnet-4-5@20250929") == (
        "claude-sonnet-4-5-20250929"
    )
