"""Rate-limit headers and retry-after: one parser for the manager and the loop."""

from __future__ import annotations

import pytest

from token_manager import Budget, retry_after_seconds, wait_label, wait_phrase
from token_manager.headers import budget_headers


def test_a_budgets_headers_are_read() -> None:
    said = budget_headers(
        {
            "anthropic-ratelimit-input-tokens-limit": "30000",
            "anthropic-ratelimit-input-tokens-remaining": "12000",
            "anthropic-ratelimit-input-tokens-reset": "2023-11-14T22:14:20Z",
        },
        Budget.INPUT_TOKENS,
    )
    assert (said.limit, said.remaining, said.reset_at) == (
        30_000,
        12_000,
        1_700_000_060.0,
    )
    assert budget_headers({}, Budget.OUTPUT_TOKENS).limit is None


def test_malformed_headers_are_ignored() -> None:
    said = budget_headers(
        {
            "anthropic-ratelimit-requests-limit": "lots",
            "anthropic-ratelimit-requests-reset": "soon",
        },
        Budget.REQUESTS,
    )
    assert said.limit is None and said.reset_at is None


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "nan", "retry-after": "3"}, 3.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, None),
        ({"retry-after": "-1"}, None),
        ({"retry-after": "inf"}, None),
        ({}, None),
    ],
)
def test_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_seconds(headers) == seconds


def test_each_budget_has_one_label() -> None:
    assert [budget.label for budget in Budget] == [
        "requests/min",
        "input tokens/min",
        "output tokens/min",
    ]
    assert Budget.INPUT_TOKENS == "input_tokens"
    assert wait_label("output_tokens") == "output tokens/min"
    assert wait_label("retry_after") == "the API's retry-after"
    assert wait_phrase("input_tokens") == "the input tokens/min budget"
    assert wait_phrase("retry_after") == "the API's retry-after"
