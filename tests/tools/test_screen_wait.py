"""The settle time under a tool call: carried by ToolResult.screen_wait through
redaction and shown by the CLI's two renderers (never sent to the model)."""

from __future__ import annotations

import io
import json

import pytest

from computer_use_demo.cli.output import JsonRenderer, RichRenderer
from computer_use_demo.redaction import redact_tool_result
from computer_use_demo.tool_calls import tool_result_param
from computer_use_demo.tools.base import ScreenWait, ToolResult

SETTLED = ToolResult(base64_image="aGk=", screen_wait=ScreenWait(0.4231, still=True))


@pytest.mark.parametrize(
    ("wait", "line"),
    [
        (ScreenWait(0.4231, True), "screen settled in 0.42 s"),
        (ScreenWait(3.004, False), "screen still changing after 3.00 s"),
    ],
)
def test_the_wait_reads_as_a_status_line(wait: ScreenWait, line: str) -> None:
    assert wait.describe() == line


def test_the_terminal_shows_the_wait_beside_the_screenshot(
    capsys: pytest.CaptureFixture[str],
) -> None:
    RichRenderer(out=io.StringIO()).tool_result(SETTLED, "toolu_1")
    assert "[screenshot] (screen settled in 0.42 s)" in capsys.readouterr().err


def test_json_lines_carry_the_settle_seconds() -> None:
    out = io.StringIO()
    JsonRenderer(out=out).tool_result(SETTLED, "toolu_1")
    event = json.loads(out.getvalue())
    assert event["screen_settle_s"] == 0.423 and event["image"] is True


def test_redaction_keeps_the_wait_and_the_model_never_sees_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-" + "x" * 40)
    leaked = SETTLED.replace(output="key sk-ant-api03-" + "x" * 40)
    redacted = redact_tool_result(leaked)
    assert "x" * 40 not in (redacted.output or "")
    assert redacted.screen_wait == SETTLED.screen_wait
    assert "settled" not in json.dumps(tool_result_param(redacted, "toolu_1"))


def test_a_result_with_only_a_wait_is_empty() -> None:
    assert not ToolResult(screen_wait=ScreenWait(0.3, True))
    combined = ToolResult(output="a") + SETTLED
    assert combined.screen_wait == SETTLED.screen_wait and combined.output == "a"
