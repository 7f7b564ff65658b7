"""How large one request may be, and how the request view reports what it left out.

Pure values: a budget is derived from the model's context window (its entry in
`models.py`) and the input tokens/min limit, never from the conversation itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from anthropic.types.beta import BetaMessageParam

from ..models import context_window_for

CountMessage = Callable[[BetaMessageParam], int]
"""Estimated input tokens of one message (the TokenManager's estimator)."""


@dataclass(frozen=True)
class ContextBudget:
    """How large one request may be, and how old content gives way to fit.

    - `max_input_tokens`: the whole request's input, system prompt and tools too.
    - `images_to_keep`: the user's "only send the N most recent screenshots"
      (None: all, unless the budget needs room). At most N tool-result
      screenshots are sent; they go oldest first, `image_removal_chunk` at a
      time (None: N at a time, as in the quickstart), so between N-chunk+1 and
      N remain and the request prefix changes once per chunk, not every turn.
    - `old_tool_output_tokens`: what a long text of an old tool result keeps.
    - `keep_recent_turns`: the newest turns never trimmed (they may still be
      dropped whole if nothing else fits; the newest turn never is).
    - `prune_step_turns`: the turns counted old (trimmed by steps 1 and 2)
      grow this many at a time.
    - `drop_step_fraction`: the oldest turns are dropped in slices of about
      this fraction of `max_input_tokens`, so a request leaves out up to that
      much more than it must, and its prefix changes once per slice.
    """

    max_input_tokens: int
    images_to_keep: int | None = None
    image_removal_chunk: int | None = None
    old_tool_output_tokens: int = 1_000
    keep_recent_turns: int = 8
    prune_step_turns: int = 16
    drop_step_fraction: float = 0.15

    def __post_init__(self) -> None:
        if self.max_input_tokens < 1:
            raise ValueError(
                f"max_input_tokens must be positive, not {self.max_input_tokens}"
            )
        if self.images_to_keep is not None and self.images_to_keep < 0:
            raise ValueError(f"images_to_keep cannot be {self.images_to_keep}")
        if self.image_removal_chunk is not None and self.image_removal_chunk < 1:
            raise ValueError(
                f"image_removal_chunk must be at least 1, not {self.image_removal_chunk}"
            )
        if self.old_tool_output_tokens < 1 or self.keep_recent_turns < 0:
            raise ValueError("old_tool_output_tokens >= 1 and keep_recent_turns >= 0")
        if not 0 < self.drop_step_fraction <= 1:
            raise ValueError(
                f"drop_step_fraction must be in (0, 1], not {self.drop_step_fraction}"
            )
        if self.prune_step_turns < 1:
            raise ValueError(
                f"prune_step_turns must be at least 1, not {self.prune_step_turns}"
            )

    @classmethod
    def for_model(
        cls,
        model: str,
        *,
        fraction: float = 0.8,
        input_tokens_per_minute: int | None = None,
        images_to_keep: int | None = None,
        betas: Iterable[str] = (),
        context_window: int | None = None,
    ) -> ContextBudget:
        """`fraction` of the model's context window, and never more input than one
        minute of the input tokens/min limit admits (a larger request could never go).

        `context_window`, when known better than the table (for example read from
        a "prompt is too long" error), replaces `context_window_for(model, betas)`.
        """
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], not {fraction}")
        window = context_window or context_window_for(model, betas)
        budget = int(window * fraction)
        if input_tokens_per_minute is not None and input_tokens_per_minute > 0:
            budget = min(budget, input_tokens_per_minute)
        return cls(max_input_tokens=max(1, budget), images_to_keep=images_to_keep)

    def images_to_remove(self, screenshots: int) -> int:
        """How many of the oldest of `screenshots` the images_to_keep setting removes:
        enough that at most N remain, rounded up to whole chunks."""
        keep = self.images_to_keep
        if keep is None or screenshots <= keep:
            return 0
        chunk = max(1, min(self.image_removal_chunk or keep, keep))
        surplus = screenshots - keep
        return min(screenshots, -(-surplus // chunk) * chunk)


@dataclass(frozen=True)
class PruneReport:
    """What one request view left out, and its size before and after."""

    images_removed: int  # all screenshots left out, the setting's and the budget's
    images_removed_for_budget: int
    tool_outputs_shortened: int
    turns_dropped: int
    tokens_before: int  # with the images_to_keep setting applied, before budget steps
    tokens_after: int
    fits: bool

    @property
    def pruned_for_budget(self) -> bool:
        """Whether the budget (not the user's image setting) left something out."""
        return bool(
            self.images_removed_for_budget
            or self.tool_outputs_shortened
            or self.turns_dropped
        )

    def describe(self) -> str:
        parts = []
        if self.turns_dropped:
            parts.append(f"{self.turns_dropped} oldest turn(s)")
        if self.tool_outputs_shortened:
            parts.append(f"{self.tool_outputs_shortened} old tool output(s) shortened")
        if self.images_removed_for_budget:
            parts.append(f"{self.images_removed_for_budget} old screenshot(s)")
        left_out = ", ".join(parts) or "nothing"
        note = (
            ""
            if self.fits
            else " It is still over budget: start a new conversation or raise the budget."
        )
        return (
            f"To fit the context budget, this request leaves out {left_out} "
            f"(~{self.tokens_before:,} -> ~{self.tokens_after:,} tokens).{note}"
        )
