"""Error classification decides retry or stop; its messages must read well."""

from __future__ import annotations

import anthropic
import httpx2
import pytest

from computer_use_demo.failures import classify
from token_manager import RequestTooLargeError

REQUEST = httpx2.Request("POST", "http://127.0.0.1/v1/messages")


def status_error(
    status: int, error_type: str, message: str = "m", **headers: str
) -> anthropic.APIStatusError:
    response = httpx2.Response(status, headers=headers, request=REQUEST)
    body = {"type": "error", "error": {"type": error_type, "message": message}}
    client = anthropic.Anthropic(api_key="sk-ant-test-unused-000000")
    return client._make_status_error(message, body=body, response=response)


@pytest.mark.parametrize(
    ("status", "error_type", "kind", "retryable"),
    [
        (401, "authentication_error", "auth", False),
        (403, "permission_error", "permission", False),
        (429, "rate_limit_error", "rate_limit", True),
        (529, "overloaded_error", "overloaded", True),
        (500, "api_error", "server", True),
        (200, "overloaded_error", "overloaded", True),  # SSE error event after a 200
        (400, "invalid_request_error", "bad_request", False),
    ],
)
def test_status_errors_are_classified(
    status: int, error_type: str, kind: str, retryable: bool
) -> None:
    failure = classify(status_error(status, error_type))
    assert (failure.kind, failure.retryable) == (kind, retryable)


def test_prompt_too_long_is_its_own_kind() -> None:
    failure = classify(
        status_error(
            400,
            "invalid_request_error",
            "prompt is too long: 210000 tokens > 200000 maximum",
        )
    )
    assert failure.kind == "prompt_too_long"


def test_retry_after_is_read_from_the_429() -> None:
    failure = classify(status_error(429, "rate_limit_error", **{"retry-after": "7"}))
    assert failure.retry_after == 7.0


def test_a_key_in_the_server_message_is_redacted() -> None:
    failure = classify(
        status_error(400, "invalid_request_error", "bad key sk-ant-api03-abcdefghijkl")
    )
    assert "sk-ant-api03" not in failure.message


def test_transport_errors_mid_stream_are_retryable() -> None:
    assert classify(httpx2.RemoteProtocolError("peer closed")).retryable
    assert classify(httpx2.ReadTimeout("stalled")).retryable
    assert classify(anthropic.APITimeoutError(request=REQUEST)).kind == "timeout"


def test_prompt_too_long_names_the_window_and_asks_for_less_history() -> None:
    failure = classify(
        status_error(
            400,
            "invalid_request_error",
            "prompt is too long: 210,000 tokens > 200,000 maximum",
        )
    )
    assert failure.less_history_helps and failure.context_window == 200_000


@pytest.mark.parametrize(
    ("budget", "shrinkable"), [("input_tokens", True), ("output_tokens", False)]
)
def test_a_request_larger_than_a_budget_shrinks_only_for_input(
    budget: str, shrinkable: bool
) -> None:
    failure = classify(RequestTooLargeError(budget, 90_000, 30_000))
    assert (failure.kind, failure.retryable) == ("request_too_large", False)
    assert failure.less_history_helps == shrinkable
    assert "30,000" in failure.message


def test_an_error_event_mid_stream_is_said_as_such() -> None:
    assert (
        "in the middle of the answer"
        in classify(status_error(200, "overloaded_error")).message
    )
    assert "(529)" in classify(status_error(529, "overloaded_error")).message


def test_an_error_event_of_another_type_names_it_and_is_not_retried() -> None:
    failure = classify(status_error(200, "invalid_request_error"))
    assert "invalid_request_error" in failure.message
    assert "(200)" not in failure.message and not failure.retryable


def test_a_413_asks_for_less_history() -> None:
    failure = classify(status_error(413, "request_too_large"))
    assert failure.kind == "body_too_large" and failure.less_history_helps
