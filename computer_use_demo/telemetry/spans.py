"""Telemetry that records: a span per turn, per API request and per tool call,
with the metrics beside them.

Imported only when telemetry is on. A turn's span is the parent of its
requests' and tools' spans; each request's span is current while it runs, so
the SDK's own span for the HTTP call (and its trace-context header) nests
under it. OpenTelemetry's API never raises, and what could (a metric, the cost
source) is guarded: telemetry never breaks a turn.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from . import attributes as names
from .interface import CostSource, OnWait
from .metrics import Instruments

logger = logging.getLogger(__name__)


class OtelTelemetry:
    def __init__(
        self,
        tracer: Tracer,
        instruments: Instruments,
        shutdown: Callable[[], None] = lambda: None,
    ) -> None:
        self.tracer = tracer
        self.instruments = instruments
        self.cost_source: CostSource | None = None
        self._shutdown = shutdown

    @contextmanager
    def turn(self, *, model: str, provider: str) -> Iterator[OtelTurnTrace]:
        common = {
            names.PROVIDER: names.provider_name(provider),
            names.SYSTEM: names.provider_name(provider),
            names.REQUEST_MODEL: names.text(model),
        }
        span = self.tracer.start_span(
            f"invoke_agent {names.AGENT}",
            kind=SpanKind.INTERNAL,
            attributes={
                names.OPERATION: "invoke_agent",
                names.AGENT_NAME: names.AGENT,
                **common,
            },
        )
        turn = OtelTurnTrace(self, span, model=names.text(model), common=common)
        with trace.use_span(
            span, record_exception=False, set_status_on_exception=False
        ):
            try:
                yield turn
            except BaseException as error:
                _failed(span, error)
                raise
            finally:
                turn.summarise()
                span.end()

    def set_cost_source(self, source: CostSource | None) -> None:
        self.cost_source = source

    def shutdown(self) -> None:
        try:
            self._shutdown()
        except Exception:
            logger.debug("flushing telemetry failed", exc_info=True)


class OtelTurnTrace:
    def __init__(
        self,
        telemetry: OtelTelemetry,
        span: Span,
        *,
        model: str,
        common: dict[str, str],
    ) -> None:
        self.telemetry = telemetry
        self.span = span
        self.model = model
        self.common = common
        # What every metric of a request carries (the conventions require the operation).
        self.chat: dict[str, str] = {names.OPERATION: "chat", **common}
        self.attempt = 1
        self.requests = 0
        self.tool_calls = 0
        self.usage: dict[str, int] = {}

    @contextmanager
    def request(self, *, max_tokens: int) -> Iterator[OtelRequestTrace]:
        self.requests += 1
        span = self.telemetry.tracer.start_span(
            f"chat {self.model}",
            kind=SpanKind.CLIENT,
            attributes={
                names.OPERATION: "chat",
                **self.common,
                names.REQUEST_MAX_TOKENS: int(max_tokens),
                names.ATTEMPT: self.attempt,
            },
        )
        call = OtelRequestTrace(self, span)
        with trace.use_span(
            span, record_exception=False, set_status_on_exception=False
        ):
            try:
                yield call
            except BaseException as error:
                call.failed(error)
                raise
            else:
                self.attempt = 1  # the next request asks for a new answer
            finally:
                call.finish()

    @contextmanager
    def tool(self, *, name: str, call_id: str) -> Iterator[OtelToolTrace]:
        self.tool_calls += 1
        tool_name = names.text(name)
        span = self.telemetry.tracer.start_span(
            f"execute_tool {tool_name}",
            kind=SpanKind.INTERNAL,
            attributes={
                names.OPERATION: "execute_tool",
                names.TOOL_NAME: tool_name,
                names.TOOL_CALL_ID: names.text(call_id),
                # The conventions' word for a tool the client runs itself.
                names.TOOL_TYPE: "function",
            },
        )
        with trace.use_span(
            span, record_exception=False, set_status_on_exception=False
        ):
            try:
                yield OtelToolTrace(span)
            except BaseException as error:
                _failed(span, error)
                raise
            finally:
                span.end()

    def retrying(self, *, attempt: int, wait_seconds: float) -> None:
        self.attempt = attempt
        self.span.add_event(
            "retry",
            {names.ATTEMPT: attempt, names.RETRY_WAIT: float(wait_seconds)},
        )

    def add_usage(self, used: dict[str, int]) -> None:
        for key, count in used.items():
            self.usage[key] = self.usage.get(key, 0) + count

    def summarise(self) -> None:
        """The turn's totals, set as it ends."""
        self.span.set_attributes(
            {
                **self.usage,
                names.TURN_REQUESTS: self.requests,
                names.TURN_TOOL_CALLS: self.tool_calls,
            }
        )


class OtelRequestTrace:
    def __init__(self, turn: OtelTurnTrace, span: Span) -> None:
        self.turn = turn
        self.span = span
        self.instruments = turn.telemetry.instruments
        self.started_ns = time.time_ns()
        self.started = time.monotonic()
        self.sent: float | None = None  # when the limiter let it go
        self.waited_on: str | None = None
        self.error: str | None = None

    def on_wait(self, tell: OnWait) -> OnWait:
        def told(budget: str, seconds: float) -> None:
            try:
                self.waited_on = names.text(budget)
                self.span.add_event(
                    "rate_limit.wait",
                    {
                        names.RATE_LIMIT_BUDGET: self.waited_on,
                        names.RATE_LIMIT_WAIT: float(seconds),
                    },
                )
            except Exception:
                logger.debug("recording a wait failed", exc_info=True)
            tell(budget, seconds)

        return told

    def admitted(self) -> None:
        self.sent = time.monotonic()
        waited = self.sent - self.started
        budget = self.waited_on or "none"
        self.instruments.waited(
            waited, {**self.turn.chat, names.RATE_LIMIT_BUDGET: budget}
        )
        if self.waited_on is not None:
            # The wait as a child span of its own: a timeline shows it at a glance.
            wait = self.turn.telemetry.tracer.start_span(
                "rate_limit.wait",
                kind=SpanKind.INTERNAL,
                start_time=self.started_ns,
                attributes={
                    names.RATE_LIMIT_BUDGET: budget,
                    names.RATE_LIMIT_WAIT: round(waited, 3),
                },
            )
            wait.end()

    def responded(
        self, *, response_id: str | None, stop_reason: str | None, usage: Any
    ) -> None:
        used = names.usage_tokens(usage)
        found: dict[str, Any] = dict(used)
        if response_id:
            found[names.RESPONSE_ID] = names.text(response_id)
        if stop_reason:
            found[names.FINISH_REASONS] = [names.text(stop_reason)]
        self.span.set_attributes(found)
        self.turn.add_usage(used)
        self.instruments.tokens(used, self.turn.chat)
        self._price(usage)

    def _price(self, usage: Any) -> None:
        source = self.turn.telemetry.cost_source
        if source is None or usage is None:
            return
        try:
            dollars = source(self.turn.model, usage)
        except Exception:
            logger.debug("the cost source failed", exc_info=True)
            return
        if dollars is not None:
            self.instruments.spent(float(dollars), self.turn.chat)

    def failed(self, error: BaseException) -> None:
        self.error = names.error_type(error)
        _failed(self.span, error, self.error)
        code = names.status_code(error)
        if code is not None:
            self.span.set_attribute(names.HTTP_STATUS, code)
        if code == 429:
            self.instruments.refused_429(self.turn.chat)

    def finish(self) -> None:
        if self.sent is not None:  # the API was called: how long it took
            attributes = dict(self.turn.chat)
            if self.error is not None:
                attributes[names.ERROR_TYPE] = self.error
            self.instruments.duration(time.monotonic() - self.sent, attributes)
        self.span.end()


class OtelToolTrace:
    def __init__(self, span: Span) -> None:
        self.span = span

    def result(self, *, is_error: bool) -> None:
        if is_error:
            self.span.set_attribute(names.ERROR_TYPE, "tool_error")
            self.span.set_status(Status(StatusCode.ERROR))


def _failed(span: Span, error: BaseException, kind: str | None = None) -> None:
    """Marks the span failed with a kind, never the error's text (it may quote input)."""
    kind = kind or names.error_type(error)
    span.set_attribute(names.ERROR_TYPE, kind)
    span.set_status(Status(StatusCode.ERROR, kind))
