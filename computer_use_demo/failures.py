"""Classifies what went wrong with a request: what to tell the user, and whether
trying again (perhaps with less history) can help.

Pure: no sleeping, no I/O. What to do about it is `retry_policy.py`'s to decide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import anthropic

from token_manager import Budget, RequestTooLargeError, retry_after_seconds
from token_manager.spending import SpendCapReached

from .redaction import redact
from .sdk_internals import is_error_event
from .status import ErrorKind


@dataclass(frozen=True, slots=True)
class Failure:
    """A request's failure, said the way the user should read it."""

    kind: ErrorKind
    retryable: bool
    message: str
    retry_after: float | None = None
    # Sending less history may help (the prompt or the input budget was too small).
    less_history_helps: bool = False
    context_window: int | None = None  # the model's window, when the error named it


class StreamBroken(Exception):
    """The stream did not deliver a whole, well-ordered message: the turn is retried.

    The SDK raises nothing when a connection closes cleanly before
    `message_stop`, when events come duplicated or out of order, or while only
    `ping`s keep the socket alive; the loop raises this instead.
    """

    def __init__(self, how: Literal["cut", "stalled", "invalid"], detail: str) -> None:
        super().__init__(detail)
        self.how = how
        self.detail = detail


def _error_body_type(error: anthropic.APIStatusError) -> str | None:
    body: Any = error.body
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict) and isinstance(inner.get("type"), str):
            return str(inner["type"])
        if isinstance(body.get("type"), str) and body.get("type") != "error":
            return str(body["type"])
    return None


def _retry_after(error: anthropic.APIStatusError) -> float | None:
    return retry_after_seconds(error.response.headers)


def _server_message(error: anthropic.APIStatusError) -> str:
    body: Any = error.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return redact(str(body["error"].get("message", "")))
    return redact(str(error.message))


def is_prompt_too_long(error: BaseException) -> bool:
    return (
        isinstance(error, anthropic.BadRequestError)
        and "prompt is too long" in _server_message(error).lower()
    )


def prompt_limit(error: BaseException) -> int | None:
    """The context window a "prompt is too long: N tokens > M maximum" error names."""
    if not is_prompt_too_long(error):
        return None
    match = re.search(r">\s*([\d,]+)\s*maximum", _server_message(error))  # type: ignore[arg-type]
    return int(match.group(1).replace(",", "")) if match else None


def classify(error: BaseException) -> Failure:
    """What this exception means for the user and whether trying again can help."""
    if isinstance(error, anthropic.APITimeoutError):
        return Failure("timeout", True, "The API stopped sending data (read timeout).")
    if isinstance(error, anthropic.APIConnectionError):
        return Failure("connection", True, "The connection to the API was lost.")
    if isinstance(error, SpendCapReached):
        # Refused before sending: nothing was spent on it; raise the cap or stop.
        return Failure("spend_cap", False, str(error))
    if isinstance(error, RequestTooLargeError):
        # Refused by the limiter before sending: less history fits the input budget.
        return Failure(
            "request_too_large",
            False,
            redact(str(error)),
            less_history_helps=error.budget == Budget.INPUT_TOKENS,
        )
    if isinstance(error, anthropic.APIStatusError):
        status = error.status_code
        mid_stream = is_error_event(error)
        body_type = _error_body_type(error)
        detail = _server_message(error)
        if status == 401 or body_type == "authentication_error":
            return Failure(
                "auth",
                False,
                "The API key was rejected (401). Check the key in the sidebar "
                "or ANTHROPIC_API_KEY.",
            )
        if status == 403 or body_type == "permission_error":
            return Failure(
                "permission", False, f"The API refused this request (403): {detail}"
            )
        if status == 429 or body_type == "rate_limit_error":
            return Failure(
                "rate_limit",
                True,
                f"Rate limited by the API (429): {detail}",
                retry_after=_retry_after(error),
            )
        if status == 529 or body_type == "overloaded_error":
            where = (
                f" in the middle of the answer ({body_type}: {detail})"
                if mid_stream
                else " (529)"
            )
            return Failure(
                "overloaded",
                True,
                f"The API is overloaded{where}.",
                retry_after=_retry_after(error),
            )
        if is_prompt_too_long(error):
            return Failure(
                "prompt_too_long",
                True,
                f"The prompt is too long: {detail}",
                less_history_helps=True,
                context_window=prompt_limit(error),
            )
        if status == 413 or body_type == "request_too_large":
            # Above the API's 32 MB body limit (api/overview, request size
            # limits): answered like "prompt is too long", by sending less.
            return Failure(
                "body_too_large",
                True,
                f"The request is larger than the API accepts (413): {detail}",
                less_history_helps=True,
            )
        if mid_stream:
            # An `error` event after a 200: named by its type and message.
            retryable = body_type in ("api_error", "timeout_error")
            return Failure(
                "server" if retryable else "bad_request",
                retryable,
                f"The API sent an error in the middle of the answer "
                f"({body_type or 'unknown type'}): {detail}",
            )
        if status >= 500:
            return Failure(
                "server",
                True,
                f"The API had an internal error ({status}): {detail}",
                retry_after=_retry_after(error),
            )
        return Failure(
            "bad_request", False, f"The API rejected the request ({status}): {detail}"
        )
    if isinstance(error, StreamBroken):
        if error.how == "stalled":
            return Failure(
                "timeout", True, f"The API stopped sending data ({error.detail})."
            )
        if error.how == "cut":
            return Failure(
                "connection", True, f"The stream was cut off ({error.detail})."
            )
        return Failure(
            "connection", True, f"The stream was malformed ({error.detail})."
        )
    # Transport errors the SDK did not wrap (a reset in the middle of a stream).
    name = type(error).__name__
    if any(
        word in name for word in ("Timeout", "Protocol", "Read", "Network", "Connect")
    ):
        return Failure("connection", True, f"The stream was cut off ({redact(name)}).")
    return Failure("bad_request", False, redact(f"{name}: {error}"))
