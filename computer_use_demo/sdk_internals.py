"""Every place the project leans on the Anthropic SDK beyond its public API.

Each reliance is named here once and pinned by tests/test_sdk_internals.py, so
an SDK upgrade that changes one fails that test instead of silently changing
the loop. Nothing here sends a request or keeps state.

Behaviour relied on without code of its own:
- the stream drops `ping` events before iteration, so a stall watchdog that
  resets on every event sees only real progress;
- an event type the SDK does not know is built as the first member of the
  event union, carrying its own `type` string: route on `type`, never on the
  class alone.
"""

from __future__ import annotations

from typing import Any

import anthropic
from anthropic.types.beta import BetaMessage

# What the SDK's message accumulator raises on an event it cannot place (a delta
# for a block that never started, ...): the stream is then broken, not buggy.
ACCUMULATOR_ERRORS: tuple[type[Exception], ...] = (
    LookupError,
    AssertionError,
    TypeError,
    ValueError,
)

# The SDK raises a ValueError with this text when a tool's streamed input JSON
# cannot be parsed; it has no exception class of its own.
MALFORMED_TOOL_JSON_TEXT = "tool parameter JSON"


def partial_message(stream: Any) -> BetaMessage | None:
    """What the SDK had accumulated when a stream broke (None before message_start).

    The public `current_message_snapshot` asserts a snapshot exists; the private
    `_current_snapshot_or_none` does not. A stream without it gives None.
    """
    read = getattr(stream, "_current_snapshot_or_none", None)
    return read() if callable(read) else None


def is_malformed_tool_json(error: BaseException) -> bool:
    """The SDK could not parse a tool's streamed input as JSON."""
    return isinstance(error, ValueError) and MALFORMED_TOOL_JSON_TEXT in str(error)


def is_error_event(error: BaseException) -> bool:
    """An `error` event inside a started stream, not a refused request.

    The SDK raises both as `APIStatusError`; one from the stream carries the
    stream's own HTTP status, 200. The server counted such a request.
    """
    return isinstance(error, anthropic.APIStatusError) and error.status_code == 200
