"""What the loop tells the user besides the model's words: waits, retries, limits.

Plain values for the UIs; nothing here renders or logs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

StatusKind = Literal[
    "rate_limit_wait",  # the token manager holds the request until a budget frees
    "retrying",  # overload, 5xx, dropped or stalled stream: trying again
    "max_tokens_clamped",  # max_tokens lowered to what the output budget allows
    "context_pruned",  # old screenshots/outputs/turns left out of the request
    "tool_call_cut_off",  # max_tokens ended a tool call mid-input: not run
    "refusal",  # the model declined; the turn ends
    "stopped",  # the loop ended without an answer (after an error, or cancelled)
    "error",  # an error the user must act on (key, limits, request)
]

ErrorKind = Literal[
    "auth",
    "permission",
    "rate_limit",
    "overloaded",
    "server",
    "connection",
    "timeout",
    "prompt_too_long",
    "request_too_large",  # above a rate limit's whole window (the limiter's)
    "spend_cap",  # its worst case could pass a spending cap (not sent)
    "body_too_large",  # above the API's request size limit (413)
    "context_window_exceeded",  # the answer filled the model's window
    "bad_request",
]


@dataclass(frozen=True, slots=True)
class LoopStatus:
    """One notice for the user; `message` is already a readable sentence."""

    kind: StatusKind
    message: str
    wait_seconds: float | None = None
    budget: str | None = None  # "requests" | "input_tokens" | "output_tokens"
    attempt: int | None = None
    error_kind: ErrorKind | None = None


StatusCallback = Callable[[LoopStatus], None]
