"""Decides what follows a failed request: send less history, back off, or give up.

Pure: no sleeping, no I/O; the randomness of the backoff comes in as `jitter`.
Attempts and shrinks are counted apart: sending less history is not a retry.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .failures import Failure
from .settings import DEFAULT_MAX_RETRY_WAIT
from .status import ErrorKind

DEFAULT_MAX_ATTEMPTS = 4  # per request (the SDK itself never retries)
MAX_CONTEXT_SHRINKS = 3  # input budget, "prompt is too long", context window filled
# Backoff for overload / 5xx / broken streams.
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0

# An answer that stopped at the model's context window: kept when nothing can shrink.
CONTEXT_WINDOW_FILLED = Failure(
    "context_window_exceeded",
    False,
    "The model's context window filled up.",
    less_history_helps=True,
)

_SHRINK_NOTICES: dict[ErrorKind, str] = {
    "request_too_large": "The request is larger than the input tokens/min limit; "
    "sending less history.",
    "prompt_too_long": "The API said the prompt is too long; sending less history.",
    "body_too_large": "The request was larger than the API accepts (413); sending "
    "less history and fewer screenshots.",
    "context_window_exceeded": "The model's context window filled up; retrying "
    "with less history.",
}


def duration(seconds: float) -> str:
    """A wait as a person says it: "45 s", "60 min", "2.5 h"."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def backoff_seconds(attempt: int, jitter: float) -> float:
    """Exponential backoff after failed `attempt` (1-based); `jitter` in [0, 1)."""
    base = min(BACKOFF_BASE_SECONDS * 2 ** (attempt - 1), BACKOFF_MAX_SECONDS)
    return base * (0.75 + 0.25 * jitter)


@dataclass(frozen=True, slots=True)
class Shrink:
    """Send the request again with less history."""

    notice: str
    context_window: int | None = None  # learned from the error, kept for later


@dataclass(frozen=True, slots=True)
class Backoff:
    """Send the same request again after `seconds` (0: the limiter holds it)."""

    seconds: float
    attempt: int  # the attempt that follows
    notice: str
    wait_seconds: float | None  # the wait the user is told about


@dataclass(frozen=True, slots=True)
class GiveUp:
    failure: Failure


Decision = Shrink | Backoff | GiveUp


@dataclass(frozen=True, slots=True)
class RetryState:
    """Where one request stands: which attempt, how often its history shrank."""

    attempt: int = 1
    shrinks: int = 0

    def after(self, decision: Shrink | Backoff) -> RetryState:
        if isinstance(decision, Shrink):
            return replace(self, shrinks=self.shrinks + 1)
        return replace(self, attempt=decision.attempt)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    max_shrinks: int = MAX_CONTEXT_SHRINKS
    # The longest retry-after sat out (COMPUTER_USE_MAX_RETRY_WAIT); a longer
    # one gives up at once, so the user is never left waiting in silence.
    max_wait: float = DEFAULT_MAX_RETRY_WAIT

    def may_retry(self, state: RetryState) -> bool:
        """Whether a transient failure of this attempt is followed by another."""
        return state.attempt < self.max_attempts

    def next(self, failure: Failure, state: RetryState, jitter: float) -> Decision:
        if failure.less_history_helps and state.shrinks < self.max_shrinks:
            notice = _SHRINK_NOTICES.get(failure.kind, failure.message)
            return Shrink(notice, failure.context_window)
        if not (failure.retryable and self.may_retry(state)):
            return GiveUp(failure)
        asked = failure.retry_after
        if asked is not None and asked > self.max_wait:
            return GiveUp(
                replace(
                    failure,
                    retryable=False,
                    message=f"The API asks to wait {duration(asked)} before the next "
                    f"request (retry-after: {asked:.0f} s), longer than the "
                    f"{duration(self.max_wait)} this app waits "
                    "(COMPUTER_USE_MAX_RETRY_WAIT). Nothing was lost: try again later.",
                )
            )
        following = state.attempt + 1
        of = f"(attempt {following} of {self.max_attempts})."
        if failure.kind == "rate_limit":
            # The limiter saw the 429's retry-after and holds every caller; the
            # next admission waits exactly as long as needed.
            return Backoff(
                0.0,
                following,
                f"Rate limited by the API; retrying {of}",
                failure.retry_after,
            )
        delay = max(backoff_seconds(state.attempt, jitter), asked or 0.0)
        return Backoff(
            delay, following, f"{failure.message} Retrying in {delay:.1f} s {of}", delay
        )
