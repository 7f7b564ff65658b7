"""One tool result never floods the context: head and tail in, the whole saved
privately, the budget following the input tokens/min the limiter allows."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from computer_use_demo.tool_output.budget import ToolResultBudget
from computer_use_demo.tools.base import CLIResult, ToolResult


@pytest.mark.parametrize(
    ("configured", "input_limit", "tokens"),
    [
        (None, 40_000, 10_000),  # a quarter of a window
        (None, 1_000_000, 20_000),  # never more than 20k
        (None, 1_000, 500),  # never fewer than 500
        (None, None, 20_000),  # no input limit
        (1_000, 40_000, 1_000),  # TOKEN_MANAGER_TOOL_RESULT_TOKENS wins
    ],
)
def test_the_budget_follows_the_input_limit(
    configured: int | None, input_limit: int | None, tokens: int
) -> None:
    assert ToolResultBudget(tokens=configured).tokens_for(input_limit) == tokens


def test_small_tool_results_pass_unchanged(tmp_path: Path) -> None:
    result = CLIResult(output="hello", error="")
    assert ToolResultBudget(directory=tmp_path).apply(result, 40_000) is result


def test_a_flood_of_output_keeps_head_and_tail_and_is_saved_privately(
    tmp_path: Path,
) -> None:
    budget = ToolResultBudget(tokens=1_000, directory=tmp_path)
    lines = "\n".join(
        f"line {number}: some output text here" for number in range(200_000)
    )
    started = time.monotonic()
    budgeted = budget.apply(ToolResult(output=lines, base64_image="IMG"), 40_000)
    assert time.monotonic() - started < 5
    assert budgeted.base64_image == "IMG"
    text = budgeted.output or ""
    assert text.startswith("line 0:") and text.endswith(
        "line 199999: some output text here"
    )
    assert len(text) < 10_000
    saved = list(tmp_path.iterdir())
    assert len(saved) == 1 and str(saved[0]) in text and "sed -n" in text
    assert saved[0].read_text() == lines
    assert stat.S_IMODE(saved[0].stat().st_mode) == 0o600
