"""The context budget: a fraction of the model's window, capped by the input
tokens/min limit, refusing nonsense settings (conversation/budget.py)."""

from __future__ import annotations

import pytest

from computer_use_demo.conversation import (
    ContextBudget,
)

# ---- windows and budgets ----------------------------------------------------------


def test_budget_is_a_fraction_of_the_window_capped_by_input_tokens_per_minute() -> None:
    assert ContextBudget.for_model("claude-opus-4-8").max_input_tokens == 160_000
    assert (
        ContextBudget.for_model("claude-opus-4-8", fraction=0.5).max_input_tokens
        == 100_000
    )
    capped = ContextBudget.for_model(
        "claude-opus-4-8", input_tokens_per_minute=30_000, images_to_keep=3
    )
    assert capped.max_input_tokens == 30_000
    assert capped.images_to_keep == 3
    learned = ContextBudget.for_model("claude-opus-4-8", context_window=100_000)
    assert learned.max_input_tokens == 80_000


@pytest.mark.parametrize("fraction", [0, -0.1, 1.5])
def test_budget_refuses_a_fraction_outside_zero_to_one(fraction: float) -> None:
    with pytest.raises(ValueError, match="fraction"):
        ContextBudget.for_model("claude-opus-4-8", fraction=fraction)


def test_budget_refuses_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        ContextBudget(max_input_tokens=0)
    with pytest.raises(ValueError):
        ContextBudget(max_input_tokens=10, images_to_keep=-1)
    with pytest.raises(ValueError):
        ContextBudget(max_input_tokens=10, prune_step_turns=0)
