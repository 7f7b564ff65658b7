"""The CLI's traces and metrics, as a real OTLP/HTTP receiver decodes them: the
CLI runs as a user runs it (a process, the fake API over HTTP, a real bash)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from fake_anthropic import FakeAnthropicAPI, free_port
from tests.plugins.otlp_receiver import OtlpReceiver, ReceivedSpan, point_attributes
from tests.plugins.trace_timeline import render
from tests.test_cli import ROOT, cli_env, run_cli
from token_manager.model_table import PriceList
from token_manager.spend import NANO, UsageShape, usage_cost

ARTIFACTS = ROOT / "artifacts"

SECRET_ECHO = "echo key-is-$ANTHROPIC_API_KEY_COPY"

# A 429 (retry-after 1 s) before the first answer, a tool call, then the answer.
CONVERSATION = [
    {
        "fault": {"status": 429, "retry_after": 1, "times": 1},
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "name": "bash", "input": {"command": SECRET_ECHO}},
        ],
    },
    {"content": [{"type": "text", "text": "All good."}]},
]

SPAN_KIND_INTERNAL = 1
SPAN_KIND_CLIENT = 3
STATUS_ERROR = 2


def exported_env(
    api: FakeAnthropicAPI, receiver: OtlpReceiver, tmp_path: Path
) -> dict[str, str]:
    return cli_env(
        api,
        tmp_path,
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_SERVICE_NAME="cli-under-test",
        # The tool's output carries the key: it must reach no exported byte.
        ANTHROPIC_API_KEY_COPY=api.api_key,
    )


@pytest.fixture
def one_conversation(
    otlp_receiver: OtlpReceiver, tmp_path: Path
) -> tuple[subprocess.CompletedProcess[str], OtlpReceiver, FakeAnthropicAPI]:
    with FakeAnthropicAPI(scenario=CONVERSATION) as api:
        result = run_cli(
            ["check the system"], exported_env(api, otlp_receiver, tmp_path)
        )
    return result, otlp_receiver, api


def by_name(spans: list[ReceivedSpan], prefix: str) -> list[ReceivedSpan]:
    return sorted(
        (span for span in spans if span.name.startswith(prefix)),
        key=lambda span: span.start_ns,
    )


def test_one_turn_is_one_trace_of_requests_and_tools_with_genai_attributes(
    one_conversation: tuple[Any, OtlpReceiver, FakeAnthropicAPI],
) -> None:
    result, receiver, api = one_conversation
    assert result.returncode == 0, result.stderr
    spans = receiver.spans()
    assert receiver.resource_attributes()["service.name"] == "cli-under-test"

    [turn] = by_name(spans, "invoke_agent ")
    assert turn.parent_span_id == ""
    assert turn.kind == SPAN_KIND_INTERNAL
    assert turn.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert turn.attributes["gen_ai.provider.name"] == "anthropic"
    assert {span.trace_id for span in spans} == {turn.trace_id}

    refused, first, second = by_name(spans, "chat ")
    model = first.attributes["gen_ai.request.model"]
    assert first.name == f"chat {model}"
    for chat in (refused, first, second):
        assert chat.parent_span_id == turn.span_id
        assert chat.kind == SPAN_KIND_CLIENT
        assert chat.attributes["gen_ai.operation.name"] == "chat"
        assert chat.attributes["gen_ai.provider.name"] == "anthropic"
        assert chat.attributes["gen_ai.system"] == "anthropic"

    # The 429: failed, said so, and the answer asked again as attempt 2 after
    # the limiter sat out the retry-after (a child span of that request).
    assert refused.status_code == STATUS_ERROR
    assert refused.attributes["error.type"] == "rate_limit"
    assert refused.attributes["http.response.status_code"] == 429
    assert refused.attributes["computer_use.request.attempt"] == 1
    assert first.attributes["computer_use.request.attempt"] == 2
    assert second.attributes["computer_use.request.attempt"] == 1
    assert any(name == "retry" for name, _ in turn.events)
    [wait] = by_name(spans, "rate_limit.wait")
    assert wait.parent_span_id == first.span_id
    assert wait.end_ns - wait.start_ns >= 0.5e9
    assert any(name == "rate_limit.wait" for name, _ in first.events)

    # What the server answered, as the fake API recorded it.
    answered = [r for r in api.message_requests() if r.status == 200]
    assert len(answered) == 2
    assert first.attributes["gen_ai.response.finish_reasons"] == ["tool_use"]
    assert second.attributes["gen_ai.response.finish_reasons"] == ["end_turn"]
    for chat in (first, second):
        assert chat.attributes["gen_ai.response.id"].startswith("msg_")
        assert chat.attributes["gen_ai.usage.output_tokens"] > 0
        assert (
            chat.attributes["gen_ai.usage.input_tokens"]
            >= chat.attributes["gen_ai.usage.cache_read.input_tokens"]
            + chat.attributes["gen_ai.usage.cache_creation.input_tokens"]
        )
    assert (
        first.attributes["gen_ai.response.id"]
        != second.attributes["gen_ai.response.id"]
    )
    assert turn.attributes["gen_ai.usage.output_tokens"] == sum(
        chat.attributes["gen_ai.usage.output_tokens"] for chat in (first, second)
    )
    assert turn.attributes["computer_use.turn.requests"] == 3

    # The tool call: a child of the turn, between the two answers.
    [tool] = by_name(spans, "execute_tool ")
    assert tool.name == "execute_tool bash"
    assert tool.parent_span_id == turn.span_id
    assert tool.attributes["gen_ai.tool.name"] == "bash"
    assert tool.attributes["gen_ai.tool.call.id"].startswith("toolu_")
    assert first.end_ns <= tool.start_ns <= tool.end_ns <= second.start_ns

    # The SDK's own span for each HTTP call nests under our request's span, and
    # the trace context it sends reaches the API.
    for sdk_span in by_name(spans, "anthropic.messages.create"):
        assert sdk_span.parent_span_id in {
            refused.span_id,
            first.span_id,
            second.span_id,
        }
    render(
        spans,
        ARTIFACTS / "trace-timeline.png",
        "One CLI conversation: a 429, the limiter's wait, a tool call, the answer",
    )
    sent = {
        r.headers.get("traceparent", "").split("-")[1:2][0]
        for r in api.message_requests()
        if r.headers.get("traceparent")
    }
    assert sent == {turn.trace_id}


def test_metrics_count_tokens_durations_waits_and_429s(
    one_conversation: tuple[Any, OtlpReceiver, FakeAnthropicAPI],
) -> None:
    result, receiver, api = one_conversation
    assert result.returncode == 0, result.stderr
    metrics = receiver.metrics()
    spans = receiver.spans()
    _, first, second = by_name(spans, "chat ")

    usage = {
        point_attributes(point)["gen_ai.token.type"]: point
        for point in metrics["gen_ai.client.token.usage"]
    }
    assert usage["output"].count == 2
    assert usage["output"].sum == sum(
        chat.attributes["gen_ai.usage.output_tokens"] for chat in (first, second)
    )
    assert usage["input"].sum == sum(
        chat.attributes["gen_ai.usage.input_tokens"] for chat in (first, second)
    )
    for point in usage.values():
        attributes = point_attributes(point)
        assert attributes["gen_ai.operation.name"] == "chat"
        assert attributes["gen_ai.provider.name"] == "anthropic"
        assert list(point.explicit_bounds)[:3] == [1, 4, 16]

    durations = metrics["gen_ai.client.operation.duration"]
    failed = [
        p for p in durations if point_attributes(p).get("error.type") == "rate_limit"
    ]
    succeeded = [p for p in durations if "error.type" not in point_attributes(p)]
    assert sum(p.count for p in failed) == 1
    assert sum(p.count for p in succeeded) == 2

    waits = metrics["computer_use.rate_limit.wait.duration"]
    assert sum(p.count for p in waits) == 3  # one per admission
    assert max(p.max for p in waits) >= 0.5  # the retry-after, sat out by the limiter

    [refusals] = metrics["computer_use.api.rate_limited"]
    assert refusals.as_int == 1

    # What the two answers cost by the model table's prices, from the usage
    # the fake API itself recorded.
    model = str(first.attributes["gen_ai.request.model"])
    prices = PriceList().for_model(model)
    billed = sum(
        usage_cost(UsageShape.of(request.usage), prices)
        for request in api.requests
        if request.usage is not None and request.status == 200
    )
    assert sum(p.as_double for p in metrics["computer_use.cost"]) == pytest.approx(
        billed / NANO
    )


# A key with no tell-tale shape: only the registered secret can catch it.
PLAIN_KEY = "plainkey0123456789abcdefSECRET"


def test_no_exported_byte_holds_the_api_key(
    otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    """The model names a tool after the key and echoes it through bash: the
    names and ids that spans carry pass redaction, tool output never enters."""
    scenario = [
        {
            "content": [
                {
                    "type": "tool_use",
                    "name": f"probe_{PLAIN_KEY}",
                    "id": f"toolu_{PLAIN_KEY}",
                    "input": {},
                },
                {"type": "tool_use", "name": "bash", "input": {"command": SECRET_ECHO}},
            ]
        },
        {"content": [{"type": "text", "text": "All good."}]},
    ]
    with FakeAnthropicAPI(scenario=scenario, api_key=PLAIN_KEY) as api:
        result = run_cli(["check"], exported_env(api, otlp_receiver, tmp_path))
        sent_back = json.dumps([r.body for r in api.message_requests()])
    assert result.returncode == 0, result.stderr
    # The key did reach the conversation (the test is not vacuous) ...
    assert f"probe_{PLAIN_KEY}" in sent_back
    tools = by_name(otlp_receiver.spans(), "execute_tool ")
    assert sorted(span.attributes["gen_ai.tool.name"] for span in tools) == [
        "bash",
        "probe_[REDACTED]",
    ]
    assert "/v1/metrics" in otlp_receiver.paths
    # ... and no export carries it, whole or in part.
    everything = b"".join(otlp_receiver.raw)
    for form in (PLAIN_KEY, PLAIN_KEY[:12], PLAIN_KEY[-12:]):
        assert form.encode() not in everything


def test_unset_exports_nothing_and_never_imports_the_sdk(
    otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    with FakeAnthropicAPI(scenario=CONVERSATION) as api:
        env = cli_env(
            api,
            tmp_path,
            # Variables that configure an exporter but do not ask for one.
            OTEL_SERVICE_NAME="cli-under-test",
            OTEL_EXPORTER_OTLP_HEADERS="x-team=agents",
        )
        env = {k: v for k, v in env.items() if k not in _ASKING}
        result = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "computer_use_demo", "check"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "computer_use_demo.loop" in imported  # importtime did list the run
    assert "computer_use_demo.telemetry" in imported
    assert not {name for name in imported if name.startswith("opentelemetry.sdk")}
    assert not {name for name in imported if name.startswith("opentelemetry.exporter")}
    assert "computer_use_demo.telemetry.spans" not in imported
    assert otlp_receiver.raw == []


_ASKING = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER",
)


@pytest.mark.slow
def test_a_collector_that_is_down_holds_the_exit_briefly_and_is_named_once(
    tmp_path: Path,
) -> None:
    """The exporters retry for tens of seconds; the CLI waits at most a few."""
    scenario = [{"content": [{"type": "text", "text": "Done."}]}]
    with FakeAnthropicAPI(scenario=scenario) as api:
        env = cli_env(
            api, tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{free_port()}"
        )
        started = time.monotonic()
        result = run_cli(["check"], env)
        took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Done.\n"
    assert result.stderr.count("the collector did not take") == 1
    assert "Transient error" not in result.stderr
    assert took < 15, f"the exit waited {took:.1f} s for a collector that is down"
