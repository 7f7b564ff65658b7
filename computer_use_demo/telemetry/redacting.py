"""A span exporter that runs redaction over every text of every span before the
inner exporter sends it: ours, and the Anthropic SDK's own spans alike.

Our spans carry no content, but the SDK's spans are the SDK's (and its content
mode is the user's choice): whatever a span holds, a known secret never leaves
the process. Built on the SDK's public `ReadableSpan` and `Event` constructors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status

from ..redaction import redact


class RedactingSpanExporter(SpanExporter):
    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([redacted_span(span) for span in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def redacted_span(span: ReadableSpan) -> ReadableSpan:
    status = span.status
    return ReadableSpan(
        name=redact(span.name),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=redacted_attributes(span.attributes),
        events=[
            Event(
                redact(event.name),
                redacted_attributes(event.attributes),
                event.timestamp,
            )
            for event in span.events
        ],
        links=span.links,
        kind=span.kind,
        status=Status(
            status.status_code,
            redact(status.description) if status.description else None,
        ),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def redacted_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {
        key: _redacted_value(value) for key, value in dict(attributes or {}).items()
    }


def _redacted_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, tuple | list):
        return tuple(redact(item) if isinstance(item, str) else item for item in value)
    return value
