"""Keeps one tool result from flooding the context: head and tail, the rest on disk.

Bounded work however large the output; the saved file is private (0600). The
budget follows the input tokens/min the limiter allows, so one result never
takes more than a quarter of a window.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from token_manager.estimate import count_text

from .private_files import open_directory_of, private_directory
from .shortening import keep_head_and_tail

logger = logging.getLogger(__name__)
COUNT_EXACTLY_UP_TO_CHARS = 400_000
DEFAULT_TOOL_OUTPUT_DIR = Path("/tmp/outputs/tool_results")
MOST_TOKENS, FEWEST_TOKENS = 20_000, 500


class ToolResultLike(Protocol):
    @property
    def output(self) -> str | None: ...
    @property
    def error(self) -> str | None: ...
    def replace(self, **changes: Any) -> Any: ...


@dataclass(frozen=True)
class ToolResultBudget:
    """How much of a tool result enters the conversation, and where the rest goes.

    `tokens`: TOKEN_MANAGER_TOOL_RESULT_TOKENS when set; else a quarter of
    the input tokens/min, between 500 and 20,000."""

    tokens: int | None = None
    directory: Path = DEFAULT_TOOL_OUTPUT_DIR

    def tokens_for(self, input_tokens_per_minute: int | None) -> int:
        if self.tokens:
            return self.tokens
        if input_tokens_per_minute is None:
            return MOST_TOKENS
        return max(FEWEST_TOKENS, min(MOST_TOKENS, input_tokens_per_minute // 4))

    def apply(
        self,
        result: ToolResultLike,
        input_tokens_per_minute: int | None,
        owner: tuple[int, int] | None = None,
    ) -> Any:
        """The result itself if it fits; else head + tail and where the rest is
        (saved for `owner`, the uid and gid the tools run as, to read)."""
        budget = self.tokens_for(input_tokens_per_minute)
        changes: dict[str, str] = {}
        for name in ("output", "error"):
            text = getattr(result, name)
            if not text:
                continue
            budgeted = budget_text(text, budget, self.directory, f"tool-{name}", owner)
            if budgeted.saved_to is not None:
                changes[name] = budgeted.text
                logger.info(
                    "tool %s of %d tokens shortened; whole text in %s",
                    name,
                    budgeted.original_tokens,
                    budgeted.saved_to,
                )
        return result.replace(**changes) if changes else result


@dataclass(frozen=True)
class BudgetedText:
    text: str
    saved_to: Path | None
    original_tokens: int


def _tokens_at_most(text: str, budget: int) -> tuple[bool, int]:
    """Whether `text` fits `budget` tokens, and its (estimated) size."""
    if len(text) <= budget:  # a cl100k token is never shorter than one character
        return True, len(text) // 3
    if len(text) > COUNT_EXACTLY_UP_TO_CHARS:
        return False, count_text(text)  # sampled count for huge texts
    tokens = count_text(text)
    return tokens <= budget, tokens


def save_private(
    text: str, directory: Path, label: str, owner: tuple[int, int] | None = None
) -> Path:
    """Save `text` where only its reader can read it: our private folder, or,
    for an `owner` (uid, gid: the account the tools run as, which pages
    through it), a private folder of that account's, the file handed to it."""
    name = f"{label}-{uuid.uuid4().hex[:12]}.txt"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    if owner is None:
        directory = private_directory(directory)  # per-user, 0700, never a planted link
        descriptor = os.open(directory / name, flags, 0o600)
    else:
        try:
            folder, directory = open_directory_of(*owner)
        except OSError as error:  # its folder is not safe: keep the file ours
            logger.warning("saving the whole output in our own folder: %s", error)
            return save_private(text, directory, label)
        try:
            descriptor = os.open(name, flags, 0o600, dir_fd=folder)
            os.fchown(descriptor, *owner)
        finally:
            os.close(folder)
    with os.fdopen(descriptor, "w", encoding="utf-8", errors="replace") as handle:
        handle.write(text)
    return directory / name


def budget_text(
    text: str,
    budget_tokens: int,
    directory: Path,
    label: str,
    owner: tuple[int, int] | None = None,
) -> BudgetedText:
    """`text` itself if it fits; else its head and tail and where the whole is
    (saved for `owner` to read, when given)."""
    fits, tokens = _tokens_at_most(text, budget_tokens)
    if fits:
        return BudgetedText(text, None, tokens)
    path = save_private(text, directory, label, owner)
    chars_per_token = max(1.0, len(text) / max(tokens, 1))
    keep_chars = int(budget_tokens * chars_per_token * 0.9)
    return BudgetedText(
        keep_head_and_tail(text, keep_chars, saved_to=path), path, tokens
    )
