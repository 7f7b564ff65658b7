"""The app's traces and metrics: one message sent in a real headless Chromium
reaches a real OTLP/HTTP receiver as one trace, while the app keeps running."""

from __future__ import annotations

from pathlib import Path

import pytest

from fake_anthropic import FakeAnthropicAPI
from tests.plugins.otlp_receiver import OtlpReceiver
from tests.plugins.streamlit_app import chromium_page, send_prompt, streamlit_app

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_turn_in_the_app_is_exported_as_one_trace(
    otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    scenario = [
        {
            "content": [
                {"type": "tool_use", "name": "bash", "input": {"command": "true"}}
            ]
        },
        {"content": [{"type": "text", "text": "Finished."}]},
    ]
    exporting = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.endpoint,
        # Export soon: the app runs on, nothing flushes it at exit here.
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_METRIC_EXPORT_INTERVAL": "500",
    }
    with (
        FakeAnthropicAPI(scenario=scenario) as api,
        streamlit_app(api, tmp_path, exporting) as url,
        chromium_page() as page,
    ):
        page.goto(url)
        page.get_by_text("requests/min: 0 /").wait_for(timeout=30_000)
        send_prompt(page, "run a command")
        page.get_by_text("Finished.").wait_for(timeout=30_000)
        assert otlp_receiver.wait_for(
            lambda: (
                any(s.name.startswith("invoke_agent") for s in otlp_receiver.spans())
                and "gen_ai.client.token.usage" in otlp_receiver.metrics()
            ),
            seconds=20,
        ), (tmp_path / "streamlit.log").read_text()[-2000:]
    spans = otlp_receiver.spans()
    [turn] = [s for s in spans if s.name.startswith("invoke_agent")]
    chats = [s for s in spans if s.name.startswith("chat ")]
    tools = [s for s in spans if s.name == "execute_tool bash"]
    assert len(chats) == 2 and len(tools) == 1
    assert {s.parent_span_id for s in [*chats, *tools]} == {turn.span_id}
    assert {s.trace_id for s in spans} == {turn.trace_id}
    assert otlp_receiver.resource_attributes()["service.name"] == "computer-use-demo"
    assert api.api_key.encode() not in b"".join(otlp_receiver.raw)
