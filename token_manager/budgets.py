"""The three budgets the API meters, and the one place their names are spelled.

Everything that shows a budget to a user takes its `.label` from here; never
build a label from the identifier.
"""

from __future__ import annotations

from enum import StrEnum


class Budget(StrEnum):
    """One metered budget; its value is the identifier used in dicts and Redis keys."""

    REQUESTS = "requests"
    INPUT_TOKENS = "input_tokens"
    OUTPUT_TOKENS = "output_tokens"

    @property
    def label(self) -> str:
        """How a user reads it: "requests/min", "input tokens/min", "output tokens/min"."""
        return _LABELS[self]

    @property
    def header(self) -> str:
        """Its part of the `anthropic-ratelimit-<header>-*` response headers."""
        return _HEADERS[self]


_LABELS = {
    Budget.REQUESTS: "requests/min",
    Budget.INPUT_TOKENS: "input tokens/min",
    Budget.OUTPUT_TOKENS: "output tokens/min",
}
_HEADERS = {
    Budget.REQUESTS: "requests",
    Budget.INPUT_TOKENS: "input-tokens",
    Budget.OUTPUT_TOKENS: "output-tokens",
}

BUDGETS: tuple[Budget, ...] = tuple(Budget)

# Why a request waits when no budget binds: the server's retry-after on a 429.
RETRY_AFTER = "retry_after"
RETRY_AFTER_LABEL = "the API's retry-after"
# Why a request waits while Redis, which holds a fleet's budget, is silent
# and this process's lease on a share of it has lapsed.
SHARED_STORE = "shared_store"
SHARED_STORE_LABEL = "Redis (the fleet's shared budget) to answer"


def wait_label(reason: str | None) -> str:
    """What a waiting request waits for, said for a user (a budget or retry-after)."""
    if reason == RETRY_AFTER:
        return RETRY_AFTER_LABEL
    if reason == SHARED_STORE:
        return SHARED_STORE_LABEL
    if reason in _BY_VALUE:
        return _BY_VALUE[reason].label
    return "a free slot"


_BY_VALUE = {budget.value: budget for budget in Budget}


def wait_phrase(reason: str | None) -> str:
    """The end of "Waiting 12 s for ...": "the input tokens/min budget",
    "the API's retry-after", "Redis (...) to answer", "a free slot"."""
    if reason in _BY_VALUE:
        return f"the {_BY_VALUE[reason].label} budget"
    return wait_label(reason)
