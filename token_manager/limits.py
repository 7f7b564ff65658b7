"""The organisation's limits per window, and the error for a request that can never fit.

Values only: nothing here keeps state or reads the clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .budgets import Budget

DEFAULT_RPM = 50
DEFAULT_INPUT_TPM = 40_000
DEFAULT_OUTPUT_TPM = 16_000
# A limit the server's headers said holds for every process sharing the store
# this many windows after the last response that said it.
LEARNED_LIMIT_WINDOWS = 10


@dataclass(frozen=True)
class RateLimits:
    """The organisation's limits per window; None means unlimited."""

    requests_per_minute: int | None
    input_tokens_per_minute: int | None
    output_tokens_per_minute: int | None
    window_seconds: float = 60.0

    def by_budget(self) -> dict[str, int | None]:
        return {
            Budget.REQUESTS: self.requests_per_minute,
            Budget.INPUT_TOKENS: self.input_tokens_per_minute,
            Budget.OUTPUT_TOKENS: self.output_tokens_per_minute,
        }

    @classmethod
    def from_budgets(
        cls, budgets: Mapping[str, int | None], window_seconds: float
    ) -> RateLimits:
        return cls(
            budgets.get(Budget.REQUESTS),
            budgets.get(Budget.INPUT_TOKENS),
            budgets.get(Budget.OUTPUT_TOKENS),
            window_seconds,
        )


_ADVICE = {
    Budget.INPUT_TOKENS: "lower 'images to keep', start a new conversation, or raise the limit",
    Budget.OUTPUT_TOKENS: "lower 'max output tokens' or raise the limit",
    Budget.REQUESTS: "raise the limit",
}


class RequestTooLargeError(Exception):
    """One request is larger than a whole window of some budget: it can never go."""

    def __init__(self, budget: str, requested: int, limit: int) -> None:
        self.budget, self.requested, self.limit = Budget(budget), requested, limit
        super().__init__(
            f"{self.budget.label} limit {limit:,} is smaller than this request's "
            f"{requested:,}: {_ADVICE[self.budget]}"
        )


def lowest(*limits: int | None) -> int | None:
    """The lowest of the limits known (None: none is)."""
    known = [limit for limit in limits if limit is not None]
    return min(known) if known else None


def check_fits(amounts: Mapping[str, int], limits: Mapping[str, int | None]) -> None:
    """Raise `RequestTooLargeError` if some amount exceeds its whole limit."""
    for budget in Budget:
        limit = limits.get(budget)
        amount = amounts.get(budget, 0)
        if limit is not None and amount > limit:
            raise RequestTooLargeError(budget, amount, limit)
