"""The telemetry in use when none was asked for: every call does nothing.

Must stay free of OpenTelemetry imports and of any work per call: the loop
calls it on every request and tool call.
"""

from __future__ import annotations

from typing import Any

from .interface import CostSource, OnWait


class _NoTrace:
    """A turn, a request and a tool call at once, each recording nothing."""

    __slots__ = ()

    def __enter__(self) -> _NoTrace:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    # TurnTrace
    def request(self, *, max_tokens: int) -> _NoTrace:
        return self

    def tool(self, *, name: str, call_id: str) -> _NoTrace:
        return self

    def retrying(self, *, attempt: int, wait_seconds: float) -> None:
        return None

    # RequestTrace
    def on_wait(self, tell: OnWait) -> OnWait:
        return tell

    def admitted(self) -> None:
        return None

    def responded(
        self, *, response_id: str | None, stop_reason: str | None, usage: Any
    ) -> None:
        return None

    # ToolTrace
    def result(self, *, is_error: bool) -> None:
        return None


NO_TRACE = _NoTrace()


class NoTelemetry:
    __slots__ = ()

    def turn(self, *, model: str, provider: str) -> _NoTrace:
        return NO_TRACE

    def set_cost_source(self, source: CostSource | None) -> None:
        return None

    def shutdown(self) -> None:
        return None


NO_TELEMETRY = NoTelemetry()
