"""Telemetry's parts: when it is on, what its attributes say, that redaction runs
over every exported span, and what the loop records in-process (the SDK's
in-memory exporter and reader stand in for a collector)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode

from computer_use_demo import telemetry
from computer_use_demo.redaction import register_secret
from computer_use_demo.telemetry.attributes import provider_name, usage_tokens
from computer_use_demo.telemetry.config import ExportConfig
from computer_use_demo.telemetry.metrics import Instruments
from computer_use_demo.telemetry.redacting import RedactingSpanExporter
from computer_use_demo.telemetry.spans import OtelTelemetry
from fake_anthropic import FakeAnthropicAPI
from tests.test_loop import bash, run_loop, wait_until

pytestmark = pytest.mark.usefixtures("screen_env")


@pytest.mark.parametrize(
    ("environ", "traces", "metrics"),
    [
        ({}, "none", "none"),
        (
            {"OTEL_SERVICE_NAME": "x", "OTEL_EXPORTER_OTLP_HEADERS": "a=b"},
            "none",
            "none",
        ),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, "otlp", "otlp"),
        (
            {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"},
            "otlp",
            "otlp",
        ),
        ({"OTEL_TRACES_EXPORTER": "console"}, "console", "none"),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, "otlp", "none"),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
                "OTEL_TRACES_EXPORTER": "none",
            },
            "none",
            "otlp",
        ),
        ({"OTEL_TRACES_EXPORTER": "zipkin,console"}, "console", "none"),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
                "OTEL_SDK_DISABLED": "true",
            },
            "none",
            "none",
        ),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": " "}, "none", "none"),
    ],
)
def test_telemetry_is_on_only_when_an_otel_variable_asks(
    environ: dict[str, str], traces: str, metrics: str
) -> None:
    config = ExportConfig.from_env(environ)
    assert (config.traces, config.metrics) == (traces, metrics)
    assert config.enabled == (traces != "none" or metrics != "none")


def test_unknown_exporters_and_protocols_are_named_not_fatal() -> None:
    config = ExportConfig.from_env(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317",
            "OTEL_TRACES_EXPORTER": "jaeger",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        }
    )
    assert config.traces == "none" and config.metrics == "otlp"
    assert any("OTEL_TRACES_EXPORTER=jaeger" in p for p in config.problems)
    assert any("grpc" in p and "http/protobuf" in p for p in config.problems)


def test_input_tokens_include_cache_reads_and_writes() -> None:
    usage = {
        "input_tokens": 40,
        "output_tokens": 7,
        "cache_read_input_tokens": 1000,
        "cache_creation_input_tokens": None,
    }
    assert usage_tokens(usage) == {
        "gen_ai.usage.input_tokens": 1040,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.usage.cache_read.input_tokens": 1000,
        "gen_ai.usage.cache_creation.input_tokens": 0,
    }
    assert usage_tokens(None) == {}


def test_providers_take_the_conventions_names() -> None:
    assert [provider_name(p) for p in ("anthropic", "bedrock", "vertex")] == [
        "anthropic",
        "aws.bedrock",
        "gcp.vertex_ai",
    ]


def test_every_exported_text_passes_redaction() -> None:
    secret = "registered-secret-for-telemetry-42"
    register_secret(secret)
    inner = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(inner)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span(f"span {secret}") as span:
        span.set_attribute("url.full", f"https://user:{secret}@example.com/v1")
        span.set_attribute("list", [f"a {secret}", "b"])
        span.set_attribute("count", 3)
        span.add_event("event", {"detail": f"key sk-ant-api03-{'x' * 20}"})
        span.set_status(StatusCode.ERROR, f"failed with {secret}")
    [exported] = inner.get_finished_spans()
    dump = exported.to_json()
    assert secret not in dump and "sk-ant-api03" not in dump
    assert exported.name == "span [REDACTED]"
    assert exported.attributes is not None and exported.attributes["count"] == 3
    assert exported.attributes["list"] == ("a [REDACTED]", "b")
    assert exported.parent is None and exported.context is not None


@dataclass
class Recorded:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    def finished(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.spans.get_finished_spans() if s.name.startswith(prefix)]

    def sums(self, name: str) -> float:
        data = self.metrics.get_metrics_data()
        total = 0.0
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name != name:
                        continue
                    points: list[Any] = list(metric.data.data_points)
                    total += sum(float(point.value) for point in points)
        return total


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meters = MeterProvider(metric_readers=[reader])
    telemetry.use(
        OtelTelemetry(
            tracer_provider.get_tracer("test"),
            Instruments.create(meters.get_meter("test")),
        )
    )
    try:
        yield Recorded(spans, reader)
    finally:
        telemetry.use(None)


def test_off_by_default_the_loop_records_into_the_no_op() -> None:
    assert telemetry.current() is telemetry.NO_TELEMETRY


async def test_the_cost_source_prices_each_response_into_the_cost_metric(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    priced: list[tuple[str, int]] = []

    def cost_of(model: str, usage: Any) -> float:
        priced.append((model, usage.output_tokens))
        return 0.25

    telemetry.set_cost_source(cost_of)
    try:
        with FakeAnthropicAPI(
            scenario=[
                {"content": [bash("echo hi")]},
                {"content": [{"type": "text", "text": "ok"}]},
            ]
        ) as api:
            await run_loop(api, monkeypatch=monkeypatch)
    finally:
        telemetry.set_cost_source(None)
    assert [model for model, _ in priced] == ["claude-opus-4-8"] * 2
    assert recorded.sums("computer_use.cost") == pytest.approx(0.5)


async def test_a_failing_tool_and_a_stopped_turn_end_their_spans_as_errors(
    recorded: Recorded, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = [
        {"content": [{"type": "tool_use", "name": "no_such_tool", "input": {}}]},
        {"content": [bash("sleep 30")]},
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        turn = asyncio.ensure_future(run_loop(api, monkeypatch=monkeypatch))
        await wait_until(lambda: len(recorded.finished("execute_tool")) == 1)
        await wait_until(lambda: len(recorded.finished("chat ")) == 2)
        await asyncio.sleep(0.3)  # the sleep is running
        turn.cancel()
        with pytest.raises(asyncio.CancelledError):
            await turn
    [failed_tool, stopped_tool] = recorded.finished("execute_tool")
    assert failed_tool.name == "execute_tool no_such_tool"
    assert failed_tool.attributes is not None
    assert failed_tool.attributes["error.type"] == "tool_error"
    assert stopped_tool.name == "execute_tool bash"
    assert stopped_tool.attributes is not None
    assert stopped_tool.attributes["error.type"] == "cancelled"
    [turn_span] = recorded.finished("invoke_agent")
    assert turn_span.status.status_code == StatusCode.ERROR
    assert turn_span.attributes is not None
    assert turn_span.attributes["error.type"] == "cancelled"
    assert turn_span.attributes["computer_use.turn.tool_calls"] == 2
