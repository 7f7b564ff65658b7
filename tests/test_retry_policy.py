"""The retry policy as a table: failure and state in, the next step out (no sleeping)."""

from __future__ import annotations

import pytest

from computer_use_demo.failures import Failure
from computer_use_demo.retry_policy import (
    CONTEXT_WINDOW_FILLED,
    Backoff,
    Decision,
    GiveUp,
    RetryPolicy,
    RetryState,
    Shrink,
    backoff_seconds,
)

OVERLOADED = Failure("overloaded", True, "The API is overloaded (529).")
RATE_LIMITED = Failure("rate_limit", True, "Rate limited", retry_after=7.0)
AUTH = Failure("auth", False, "The API key was rejected (401).")
TOO_LONG = Failure(
    "prompt_too_long",
    True,
    "The prompt is too long: 210000 tokens > 200000 maximum",
    less_history_helps=True,
    context_window=200_000,
)
INPUT_TOO_LARGE = Failure(
    "request_too_large", False, "input tokens/min ...", less_history_helps=True
)
OUTPUT_TOO_LARGE = Failure("request_too_large", False, "output tokens/min ...")

POLICY = RetryPolicy(max_attempts=4, max_shrinks=3)


@pytest.mark.parametrize(
    ("failure", "state", "expected"),
    [
        (OVERLOADED, RetryState(1, 0), Backoff),
        (OVERLOADED, RetryState(3, 0), Backoff),
        (OVERLOADED, RetryState(4, 0), GiveUp),
        (AUTH, RetryState(1, 0), GiveUp),
        (RATE_LIMITED, RetryState(1, 0), Backoff),
        (TOO_LONG, RetryState(1, 0), Shrink),
        (TOO_LONG, RetryState(4, 2), Shrink),  # shrinking is not a retry
        (TOO_LONG, RetryState(1, 3), Backoff),  # shrunk enough: retried as it is
        (TOO_LONG, RetryState(4, 3), GiveUp),
        (INPUT_TOO_LARGE, RetryState(1, 0), Shrink),
        (INPUT_TOO_LARGE, RetryState(1, 3), GiveUp),
        (OUTPUT_TOO_LARGE, RetryState(1, 0), GiveUp),
        (CONTEXT_WINDOW_FILLED, RetryState(1, 2), Shrink),
        (CONTEXT_WINDOW_FILLED, RetryState(1, 3), GiveUp),
    ],
)
def test_each_failure_leads_to_its_next_step(
    failure: Failure, state: RetryState, expected: type[Decision]
) -> None:
    assert type(POLICY.next(failure, state, jitter=0.5)) is expected


def test_a_backoff_grows_with_the_attempt_and_names_the_next_one() -> None:
    first = POLICY.next(OVERLOADED, RetryState(1, 0), jitter=0.0)
    third = POLICY.next(OVERLOADED, RetryState(3, 0), jitter=0.0)
    assert isinstance(first, Backoff) and isinstance(third, Backoff)
    assert (first.seconds, third.seconds) == (0.75, 3.0)
    assert first.attempt == 2 and "(attempt 2 of 4)" in first.notice
    assert first.notice.startswith("The API is overloaded (529). Retrying in 0.8 s")
    assert first.wait_seconds == first.seconds


def test_a_429_is_retried_at_once_as_the_limiter_holds_the_wait() -> None:
    decision = POLICY.next(RATE_LIMITED, RetryState(1, 0), jitter=0.9)
    assert decision == Backoff(
        0.0, 2, "Rate limited by the API; retrying (attempt 2 of 4).", 7.0
    )


def test_a_shrink_carries_the_window_the_error_named() -> None:
    decision = POLICY.next(TOO_LONG, RetryState(), jitter=0.0)
    assert decision == Shrink(
        "The API said the prompt is too long; sending less history.", 200_000
    )


def test_giving_up_keeps_the_failure_for_the_user() -> None:
    assert POLICY.next(AUTH, RetryState(), jitter=0.0) == GiveUp(AUTH)


def test_the_state_counts_attempts_and_shrinks_apart() -> None:
    state = RetryState()
    for failure in (TOO_LONG, OVERLOADED, INPUT_TOO_LARGE, OVERLOADED):
        decision = POLICY.next(failure, state, jitter=0.0)
        assert not isinstance(decision, GiveUp)
        state = state.after(decision)
    assert state == RetryState(attempt=3, shrinks=2)


def test_one_attempt_allowed_means_no_retry() -> None:
    policy = RetryPolicy(max_attempts=1)
    assert not policy.may_retry(RetryState())
    assert isinstance(policy.next(OVERLOADED, RetryState(), jitter=0.0), GiveUp)


def test_backoff_grows_and_is_capped() -> None:
    assert backoff_seconds(1, 0.999) < backoff_seconds(3, 0.0) + 1
    assert backoff_seconds(20, 0.999) <= 30.0
    assert backoff_seconds(1, 0.0) == pytest.approx(0.75)


def test_a_retry_after_above_the_cap_gives_up_at_once_saying_how_long() -> None:
    asked = Failure("rate_limit", True, "Rate limited", retry_after=3600.0)
    decision = RetryPolicy(max_wait=300.0).next(asked, RetryState(), jitter=0.5)
    assert isinstance(decision, GiveUp)
    assert "asks to wait 60 min" in decision.failure.message
    assert "5 min" in decision.failure.message
    within = RetryPolicy(max_wait=300.0).next(
        Failure("rate_limit", True, "Rate limited", retry_after=299.0),
        RetryState(),
        jitter=0.5,
    )
    assert isinstance(within, Backoff) and within.wait_seconds == 299.0


def test_an_overload_with_retry_after_waits_at_least_that_long() -> None:
    overloaded = Failure("overloaded", True, "Overloaded.", retry_after=20.0)
    decision = POLICY.next(overloaded, RetryState(1, 0), jitter=0.5)
    assert isinstance(decision, Backoff) and decision.seconds == 20.0
