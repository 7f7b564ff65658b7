"""Starts the OpenTelemetry SDK: tracer and meter providers whose exporters send
OTLP over HTTP (or print to the console), in background threads.

Imported only when telemetry is on: this is the one module that imports the
SDK and the exporters. Never blocks a turn: spans go through a batch
processor, metrics through a periodic reader; `shutdown` flushes both.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)

from .config import DEFAULT_SERVICE_NAME, ExportConfig
from .metrics import Instruments
from .redacting import RedactingSpanExporter
from .spans import OtelTelemetry

logger = logging.getLogger(__name__)

SCOPE = "computer_use_demo"
# The longest a process waits for the collector as it ends: a collector that is
# down must not hold the CLI's exit for the exporters' retries (tens of seconds).
FLUSH_SECONDS = 5.0


def start(config: ExportConfig, version: str = "") -> OtelTelemetry:
    """Registers the providers as the process's own (so the Anthropic SDK's spans
    join the same traces) and returns the telemetry that records into them."""
    # Each retry is logged as a warning; the final failure is enough to tell.
    logging.getLogger("opentelemetry.exporter").setLevel(logging.ERROR)
    resource = _resource()
    # Flushed by `shutdown` (bounded), not by the SDK's own unbounded exit hooks.
    tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    if (span_exporter := _span_exporter(config)) is not None:
        tracer_provider.add_span_processor(
            BatchSpanProcessor(RedactingSpanExporter(span_exporter))
        )
    readers: list[MetricReader] = []
    if (metric_exporter := _metric_exporter(config)) is not None:
        readers.append(PeriodicExportingMetricReader(metric_exporter))
    meter_provider = MeterProvider(
        resource=resource, metric_readers=readers, shutdown_on_exit=False
    )
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)

    def flush_both() -> None:
        try:
            tracer_provider.shutdown()
        finally:
            meter_provider.shutdown()

    once = threading.Lock()

    def shutdown() -> None:
        if not once.acquire(blocking=False):
            return  # flushed already (the CLI, then the exit hook)
        worker = threading.Thread(
            target=flush_both, name="telemetry-flush", daemon=True
        )
        worker.start()
        worker.join(FLUSH_SECONDS)
        if worker.is_alive():
            logger.warning(
                "telemetry: the collector did not take the last spans and metrics "
                "within %g s; they were not sent (is OTEL_EXPORTER_OTLP_ENDPOINT right?)",
                FLUSH_SECONDS,
            )

    atexit.register(shutdown)  # the app: its server process ends without asking
    return OtelTelemetry(
        tracer_provider.get_tracer(SCOPE, version),
        Instruments.create(meter_provider.get_meter(SCOPE, version)),
        shutdown,
    )


def _resource() -> Resource:
    """OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES as the SDK reads them; our
    name when they give none."""
    resource = Resource.create({})
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    return resource


def _span_exporter(config: ExportConfig) -> SpanExporter | None:
    if config.traces == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )

        return OTLPSpanExporter()  # endpoint, headers, timeout: from OTEL_* itself
    if config.traces == "console":
        return ConsoleSpanExporter(out=sys.stderr)  # stdout is the CLI's answer
    return None


def _metric_exporter(config: ExportConfig) -> MetricExporter | None:
    if config.metrics == "otlp":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
            OTLPMetricExporter,
        )

        return OTLPMetricExporter()
    if config.metrics == "console":
        return ConsoleMetricExporter(out=sys.stderr)
    return None
