"""Classifies what went wrong with a request, and how long to back off before retrying.

Pure: no sleeping, no I/O; randomness and attempt numbers come in as arguments.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

import anthropic

from .redaction import redact
from .status import ErrorKind

# Backoff for overload / 5xx / broken streams, after the SDK's own retries.
BACKOFF_BASE_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Failure:
    """A request's failure, said the way the user should read it."""

    kind: ErrorKind
    retryable: bool
    message: str
    retry_after: float | None = None


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


class MalformedToolInput(Exception):
    """The model streamed tool-input JSON that cannot be parsed."""


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
    headers = error.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None


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
    if isinstance(error, anthropic.APIStatusError):
        status = error.status_code
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
            where = " in the middle of the answer" if status == 200 else " (529)"
            return Failure("overloaded", True, f"The API is overloaded{where}.")
        if is_prompt_too_long(error):
            return Failure("prompt_too_long", True, f"The prompt is too long: {detail}")
        if status == 413 or body_type == "request_too_large":
            return Failure(
                "request_too_large", False, f"The request is too large: {detail}"
            )
        if status >= 500 or (
            status == 200 and body_type in ("api_error", "timeout_error")
        ):
            return Failure(
                "server", True, f"The API had an internal error ({status}): {detail}"
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
    if isinstance(error, MalformedToolInput):
        return Failure("bad_request", False, str(error))
    # Transport errors the SDK did not wrap (a reset in the middle of a stream).
    name = type(error).__name__
    if any(
        word in name for word in ("Timeout", "Protocol", "Read", "Network", "Connect")
    ):
        return Failure("connection", True, f"The stream was cut off ({redact(name)}).")
    return Failure("bad_request", False, redact(f"{name}: {error}"))


def backoff_seconds(attempt: int, jitter: float) -> float:
    """Exponential backoff for retry `attempt` (1-based); `jitter` in [0, 1)."""
    base = min(BACKOFF_BASE_SECONDS * 2 ** (attempt - 1), BACKOFF_MAX_SECONDS)
    return base * (0.75 + 0.25 * jitter)
