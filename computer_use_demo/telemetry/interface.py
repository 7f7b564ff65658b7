"""What the loop tells telemetry: a turn, its requests and its tool calls.

The loop calls only these methods; telemetry never calls back into the loop,
changes what it does, or raises into it. Nothing here imports OpenTelemetry.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

OnWait = Callable[[str, float], None]  # (budget, seconds): the limiter holds a request
# The dollars a response cost, from its model and usage (None: not known).
CostSource = Callable[[str, Any], float | None]


class RequestTrace(Protocol):
    """One API request: from admission by the limiter to the end of its stream.

    Leaving its context with an exception marks the request failed."""

    def on_wait(self, tell: OnWait) -> OnWait:
        """`tell`, also recording each wait the limiter announces."""
        ...

    def admitted(self) -> None:
        """The limiter let the request go: the API call starts now."""
        ...

    def responded(
        self, *, response_id: str | None, stop_reason: str | None, usage: Any
    ) -> None:
        """The whole response arrived, with what the server measured."""
        ...


class ToolTrace(Protocol):
    """One tool call; leaving its context with an exception marks it failed."""

    def result(self, *, is_error: bool) -> None: ...


class TurnTrace(Protocol):
    """One turn of the agent: from the user's message to the final answer."""

    def request(self, *, max_tokens: int) -> AbstractContextManager[RequestTrace]: ...

    def tool(self, *, name: str, call_id: str) -> AbstractContextManager[ToolTrace]: ...

    def retrying(self, *, attempt: int, wait_seconds: float) -> None:
        """The answer is asked for again (attempt 2, 3, ...) after this backoff."""
        ...


class Telemetry(Protocol):
    def turn(
        self, *, model: str, provider: str
    ) -> AbstractContextManager[TurnTrace]: ...

    def set_cost_source(self, source: CostSource | None) -> None: ...

    def shutdown(self) -> None:
        """Send what is still buffered; later calls record nothing."""
        ...
