"""The streaming loop end to end: the real SDK against the fake API over HTTP, real tools.

After every scenario the history must be valid to send again (the fake API's own
validator checks it), and no tool may run twice for one tool_use_id.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from computer_use_demo.conversation import validate_conversation
from computer_use_demo.loop import sampling_loop
from computer_use_demo.providers import APIProvider
from computer_use_demo.status import LoopStatus
from computer_use_demo.streaming import (
    StreamEvent,
    StreamInterrupted,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
)
from computer_use_demo.tools import ToolResult
from fake_anthropic import FakeAnthropicAPI
from fake_anthropic.validation import APIError, check_conversation
from token_manager import RateLimits, TokenManager

# The tools are built from the screen variables; no display stands behind them.
pytestmark = pytest.mark.usefixtures("screen_env")


@dataclass
class Run:
    messages: list[Any]
    events: list[StreamEvent] = field(default_factory=list)
    statuses: list[LoopStatus] = field(default_factory=list)
    blocks: list[Any] = field(default_factory=list)
    tool_results: list[tuple[ToolResult, str]] = field(default_factory=list)
    api_calls: list[tuple[Any, Any, Any]] = field(default_factory=list)

    def text(self) -> str:
        return "".join(
            event.text for event in self.events if isinstance(event, TextDelta)
        )

    def kinds(self) -> list[str]:
        return [status.kind for status in self.statuses]


def fresh_manager(**limits: Any) -> TokenManager:
    return TokenManager(
        RateLimits(
            limits.get("rpm", 1_000),
            limits.get("itpm", 1_000_000),
            limits.get("otpm", 1_000_000),
        )
    )


async def run_loop(
    api: FakeAnthropicAPI,
    prompt: str = "do the task",
    *,
    monkeypatch: pytest.MonkeyPatch,
    manager: TokenManager | None = None,
    history: list[Any] | None = None,
    **options: Any,
) -> Run:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
    run = Run(
        messages=history
        or [{"role": "user", "content": [{"type": "text", "text": prompt}]}]
    )
    options.setdefault("tool_version", "computer_use_20250124")
    await sampling_loop(
        model="claude-opus-4-8",
        provider=APIProvider.ANTHROPIC,
        system_prompt_suffix="",
        messages=run.messages,
        output_callback=run.blocks.append,
        tool_output_callback=lambda result, tool_id: run.tool_results.append(
            (result, tool_id)
        ),
        api_response_callback=lambda request, response, error: run.api_calls.append(
            (request, response, error)
        ),
        api_key=api.api_key,
        stream_callback=run.events.append,
        status_callback=run.statuses.append,
        token_manager=manager or fresh_manager(),
        **options,
    )
    return run


def assert_valid(messages: list[Any]) -> None:
    assert validate_conversation(messages) == []
    try:
        check_conversation(messages)
    except APIError as error:  # the fake API's validator, as on the next request
        pytest.fail(f"history rejected: {error.message}")


async def wait_until(condition: Any, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - polling shared state the loop mutates
            await asyncio.sleep(0.02)


def bash(command: str, **extra: Any) -> dict[str, Any]:
    return {"type": "tool_use", "name": "bash", "input": {"command": command}, **extra}


async def test_text_streams_as_deltas_then_the_turn_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeAnthropicAPI(
        scenario=[{"content": [{"type": "text", "tokens": 300}]}]
    ) as api:
        run = await run_loop(api, monkeypatch=monkeypatch)
    deltas = [event for event in run.events if isinstance(event, TextDelta)]
    assert len(deltas) > 50, "text arrives in many deltas, not at once"
    assert run.messages[-1]["content"][0]["text"] == run.text()
    assert run.api_calls and run.api_calls[0][2] is None
    assert_valid(run.messages)


async def test_tools_run_in_order_and_their_results_go_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log = tmp_path / "ran.log"
    scenario = [
        {
            "content": [
                {"type": "text", "text": "Two things."},
                bash(f"echo one >> {log}"),
                bash(f"echo two >> {log}; echo done"),
            ]
        },
        {"content": [{"type": "text", "text": "Both ran."}]},
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(api, monkeypatch=monkeypatch)
        second_request = api.message_requests()[1].body
    assert log.read_text() == "one\ntwo\n"
    assert [block["type"] for block in run.messages[2]["content"]] == [
        "tool_result",
        "tool_result",
    ]
    sent_back = second_request["messages"][2]["content"]
    assert sent_back[1]["content"][0]["text"] == "done"
    partial = [event for event in run.events if isinstance(event, ToolInputDelta)]
    assert {event.tool_name for event in partial} == {"bash"}
    assert_valid(run.messages)


async def test_thinking_is_kept_apart_and_sent_back_with_its_signature(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = [
        {
            "content": [
                {
                    "type": "thinking",
                    "thinking": "I should check the disk",
                    "signature": "sig-XYZ",
                },
                bash("true"),
            ]
        },
        {"content": [{"type": "text", "text": "ok"}]},
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(
            api,
            monkeypatch=monkeypatch,
            thinking_mode="extended",
            thinking_budget=2048,
            max_tokens=4096,
        )
        second = api.message_requests()[1].body
    assert (
        "".join(e.thinking for e in run.events if isinstance(e, ThinkingDelta))
        == "I should check the disk"
    )
    assert "disk" not in run.text()
    thinking = second["messages"][1]["content"][0]
    assert thinking == {
        "type": "thinking",
        "thinking": "I should check the disk",
        "signature": "sig-XYZ",
    }
    assert second["thinking"] == {"type": "enabled", "budget_tokens": 2048}


@pytest.mark.parametrize(
    ("fault", "expected_status"),
    [
        ({"status": 529, "times": 3}, "retrying"),
        ({"status": 500, "times": 3}, "retrying"),
        ({"drop_after_events": 6}, "retrying"),
        ({"sse_error_after_events": 5, "error_type": "overloaded_error"}, "retrying"),
    ],
    ids=["overloaded", "server-error", "connection-drop", "sse-error-event"],
)
async def test_transient_faults_are_retried_and_lose_nothing(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fault: dict[str, Any],
    expected_status: str,
) -> None:
    monkeypatch.setattr(
        "computer_use_demo.retry_policy.backoff_seconds", lambda attempt, jitter: 0.01
    )
    monkeypatch.setattr(
        "anthropic._base_client.BaseClient._calculate_retry_timeout", lambda *args: 0.01
    )
    log = tmp_path / "ran.log"
    scenario = [
        {"content": [bash(f"echo ran >> {log}")]},
        {"fault": fault, "content": [{"type": "text", "tokens": 40}]},
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(api, monkeypatch=monkeypatch)
    assert log.read_text() == "ran\n", "the tool ran exactly once"
    assert expected_status in run.kinds()
    assert (
        run.messages[-1]["role"] == "assistant"
        and run.messages[-1]["content"][0]["type"] == "text"
    )
    if "drop_after_events" in fault or "sse_error_after_events" in fault:
        interrupted = [
            event for event in run.events if isinstance(event, StreamInterrupted)
        ]
        assert interrupted and interrupted[0].will_retry
    assert_valid(run.messages)


async def test_a_429_waits_for_retry_after_through_the_manager(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = [
        {
            "fault": {"status": 429, "retry_after": 1, "times": 3},
            "content": [{"type": "text", "text": "finally"}],
        }
    ]
    manager = fresh_manager()
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(api, monkeypatch=monkeypatch, manager=manager)
        statuses = [request.status for request in api.message_requests()]
    assert statuses == [429, 429, 429, 200]
    assert run.text() == "finally"
    assert "retrying" in run.kinds()
    waits = [status for status in run.statuses if status.kind == "rate_limit_wait"]
    assert waits, "the next request waited out the retry-after"
    assert all(
        status.message.endswith("s for the API's retry-after.") for status in waits
    )
    # Every response, the SDK's retries included, reached the model's own pool.
    reports = {report.pool: report for report in manager.pool_reports()}
    assert reports["opus-4"].rate_limited == 3
    assert "default" not in reports or reports["default"].rate_limited == 0


async def test_a_stalled_stream_times_out_and_is_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COMPUTER_USE_READ_TIMEOUT", "0.5")
    monkeypatch.setattr(
        "computer_use_demo.retry_policy.backoff_seconds", lambda attempt, jitter: 0.01
    )
    scenario = [
        {
            "fault": {"stall_seconds": 3, "stall_after_events": 4},
            "content": [{"type": "text", "tokens": 30}],
        }
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(api, monkeypatch=monkeypatch)
    assert any(isinstance(event, StreamInterrupted) for event in run.events)
    assert run.messages[-1]["role"] == "assistant"
    assert_valid(run.messages)


async def test_a_bad_key_stops_with_a_clear_message_and_no_retry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeAnthropicAPI(api_key="sk-ant-test-the-right-key-000") as api:
        monkeypatch.setattr(
            type(api), "api_key", property(lambda self: "sk-ant-test-a-wrong-key-0000")
        )
        run = await run_loop(api, monkeypatch=monkeypatch)
        assert len(api.message_requests()) == 1
    errors = [status for status in run.statuses if status.kind == "error"]
    assert errors and errors[0].error_kind == "auth" and "API key" in errors[0].message
    assert "wrong-key" not in errors[0].message
    assert len(run.messages) == 1


async def test_malformed_tool_json_becomes_an_error_result(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log = tmp_path / "ran.log"
    scenario = [
        {
            "content": [
                {"type": "text", "text": "Running."},
                bash(f"echo ran >> {log}", malformed_json=True),
            ]
        },
        {"content": [{"type": "text", "text": "I see the error."}]},
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(api, monkeypatch=monkeypatch)
    assert not log.exists(), "a malformed call never runs"
    result = run.messages[2]["content"][0]
    assert result["is_error"] and "not valid JSON" in result["content"]
    assert run.messages[-1]["content"][0]["text"] == "I see the error."
    assert_valid(run.messages)


async def test_a_tool_call_cut_off_by_max_tokens_never_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log = tmp_path / "ran.log"
    scenario = [
        {
            "content": [
                {"type": "text", "text": "Writing a long file."},
                bash(f"echo ran >> {log}", truncate=True),
            ]
        }
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(api, monkeypatch=monkeypatch)
    assert not log.exists()
    assert "tool_call_cut_off" in run.kinds()
    assert all(block.get("type") != "tool_use" for block in run.messages[-1]["content"])
    assert_valid(run.messages)


async def test_refusal_and_pause_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = [
        {
            "content": [{"type": "text", "text": "Searching"}],
            "stop_reason": "pause_turn",
        },
        {
            "content": [{"type": "text", "text": "I can't help with that."}],
            "stop_reason": "refusal",
        },
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(api, monkeypatch=monkeypatch)
        assert len(api.message_requests()) == 2, "pause_turn is continued once"
    assert "refusal" in run.kinds()
    assert_valid(run.messages)


async def test_prompt_too_long_prunes_and_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history: list[Any] = [{"role": "user", "content": "start"}]
    for turn in range(40):
        history.append(
            {
                "role": "assistant",
                "content": [{"type": "text", "text": f"step {turn} " + "word " * 200}],
            }
        )
        history.append(
            {"role": "user", "content": [{"type": "text", "text": "continue " * 50}]}
        )
    with FakeAnthropicAPI(context_window=6_000) as api:
        run = await run_loop(api, monkeypatch=monkeypatch, history=history)
        statuses = [request.status for request in api.message_requests()]
    assert statuses[-1] == 200 and 400 in statuses
    assert "context_pruned" in run.kinds()
    assert len(run.messages) == 82, "the visible history keeps everything"
    assert_valid(run.messages)


async def test_a_tool_exception_and_a_tool_timeout_become_error_results(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = [
        {
            "content": [
                bash("sleep 5"),
                {"type": "tool_use", "name": "computer", "input": {"action": "fly"}},
            ]
        },
        {"content": [{"type": "text", "text": "noted"}]},
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(api, monkeypatch=monkeypatch, tool_timeout=0.5)
    results = run.messages[2]["content"]
    assert "did not finish within 0.5 s" in results[0]["content"]
    assert results[1]["content"] == "Invalid action: fly"
    assert_valid(run.messages)


async def test_cancelling_during_a_tool_leaves_a_valid_history(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    started = tmp_path / "second-tool-started"
    scenario = [
        {
            "content": [
                bash("echo first"),
                bash(f"touch {started}; sleep 10"),
                bash("echo never"),
            ]
        }
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        history: list[Any] = [{"role": "user", "content": "go"}]
        task = asyncio.ensure_future(
            run_loop(api, monkeypatch=monkeypatch, history=history)
        )
        await wait_until(lambda: len(history) >= 3 and len(history[2]["content"]) >= 1)
        await wait_until(started.exists)  # the second tool is running now
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    results = history[2]["content"]
    assert [result.get("is_error") for result in results] == [False, True, True]
    assert_valid(history)


async def test_the_api_key_never_reaches_events_statuses_or_tools(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = [
        {"content": [bash("env")]},
        {"content": [{"type": "text", "text": "ok"}]},
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        monkeypatch.setenv("ANTHROPIC_API_KEY", api.api_key)
        run = await run_loop(api, monkeypatch=monkeypatch)
    everything = (
        repr(run.messages)
        + repr(run.events)
        + repr(run.statuses)
        + repr(run.tool_results)
    )
    assert api.api_key not in everything


def long_history(turns: int = 40) -> list[Any]:
    history: list[Any] = [{"role": "user", "content": "start"}]
    for turn in range(turns):
        history.append(
            {
                "role": "assistant",
                "content": [{"type": "text", "text": f"step {turn} " + "word " * 200}],
            }
        )
        history.append(
            {"role": "user", "content": [{"type": "text", "text": "continue " * 50}]}
        )
    return history


CONTEXT_FILLED = {
    "content": [{"type": "text", "text": "partial"}],
    "stop_reason": "model_context_window_exceeded",
}


async def test_a_context_window_overflow_is_pruned_and_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = [CONTEXT_FILLED, {"content": [{"type": "text", "text": "complete"}]}]
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(
            api,
            monkeypatch=monkeypatch,
            history=long_history(),
            context_budget_fraction=0.03,  # ~6k of 200k: the view already prunes
        )
        sent = [len(request.body["messages"]) for request in api.message_requests()]
    assert len(sent) == 2 and sent[1] < sent[0], "the retry sends less history"
    assert "context_pruned" in run.kinds()
    assert [block["text"] for block in run.messages[-1]["content"]] == ["complete"]
    assert any(
        isinstance(event, StreamInterrupted) and event.will_retry
        for event in run.events
    )
    assert_valid(run.messages)


async def test_a_context_window_overflow_with_nothing_to_drop_is_one_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeAnthropicAPI(scenario=[CONTEXT_FILLED, CONTEXT_FILLED]) as api:
        run = await run_loop(api, monkeypatch=monkeypatch)
        assert len(api.message_requests()) == 1, "not sent again unchanged"
    assert run.text() == "partial", "the answer streamed once"
    errors = [status for status in run.statuses if status.kind == "error"]
    assert len(errors) == 1 and errors[0].error_kind == "context_window_exceeded"
    assert "nothing older is left" in errors[0].message
    assert "context_pruned" not in run.kinds() and "retrying" not in run.kinds()
    assert [block["text"] for block in run.messages[-1]["content"]] == ["partial"]
    assert_valid(run.messages)


async def test_max_tokens_far_above_the_non_streaming_limit_go_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeAnthropicAPI(
        scenario=[{"content": [{"type": "text", "text": "long"}]}]
    ) as api:
        run = await run_loop(
            api, monkeypatch=monkeypatch, max_tokens=128_000, manager=fresh_manager()
        )
        sent = api.message_requests()[0].body
    assert sent["max_tokens"] == 128_000 and sent["stream"] is True
    assert run.text() == "long"


@pytest.mark.desktop
async def test_a_computer_use_session_on_a_real_display(
    monkeypatch: pytest.MonkeyPatch, xvfb_display: Any
) -> None:
    scenario = [
        {
            "content": [
                {"type": "text", "text": "Looking."},
                {
                    "type": "tool_use",
                    "name": "computer",
                    "input": {"action": "mouse_move", "coordinate": [200, 150]},
                },
                {
                    "type": "tool_use",
                    "name": "computer",
                    "input": {"action": "cursor_position"},
                },
            ]
        },
        {
            "content": [
                {
                    "type": "tool_use",
                    "name": "computer",
                    "input": {"action": "screenshot"},
                }
            ]
        },
        {"content": [{"type": "text", "text": "I can see the desktop."}]},
    ]
    for name, value in xvfb_display.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(
        "computer_use_demo.tools.computer.BaseComputerTool._screenshot_delay", 0.05
    )
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(api, monkeypatch=monkeypatch, only_n_most_recent_images=1)
        third_request = api.message_requests()[2].body["messages"]
    position = run.messages[2]["content"][1]["content"][0]["text"]
    assert position == "X=200,Y=150"
    screenshots = [
        inner
        for message in third_request
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
        for inner in (block["content"] if isinstance(block["content"], list) else [])
        if inner.get("type") == "image"
    ]
    assert len(screenshots) == 1, "images_to_keep=1 sends only the newest screenshot"
    assert run.messages[-1]["content"][0]["text"] == "I can see the desktop."
    assert_valid(run.messages)


async def test_cached_turns_are_admitted_for_their_uncached_part(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = [
        {"content": [{"type": "text", "text": f"step {step}"}, bash("seq 1 400")]}
        for step in range(5)
    ] + [{"content": [{"type": "text", "text": "done"}]}]
    manager = fresh_manager()
    admitted: list[tuple[Any, Any]] = []
    usages: list[Any] = []
    acquire, reconcile = manager.acquire, manager.reconcile

    async def recording_acquire(request: Any, output: int, **kwargs: Any) -> Any:
        reservation = await acquire(request, output, **kwargs)
        admitted.append((request, reservation))
        return reservation

    def recording_reconcile(reservation: Any, usage: Any) -> None:
        usages.append(usage)
        reconcile(reservation, usage)

    monkeypatch.setattr(manager, "acquire", recording_acquire)
    monkeypatch.setattr(manager, "reconcile", recording_reconcile)
    with FakeAnthropicAPI(scenario=scenario) as api:
        await run_loop(api, monkeypatch=monkeypatch, manager=manager)
    assert len(admitted) == 6
    for (estimate, reservation), usage in zip(admitted, usages, strict=True):
        assert estimate.pool == "opus-4"
        assert reservation.input_tokens == (
            estimate.uncached_tokens + estimate.margin(estimate.uncached_tokens)
        )
        # Never predicts more from the cache than the server then read.
        assert estimate.cached_tokens <= usage.cache_read_input_tokens
    # Opus 4.5+ caches from 4,096 tokens: the first prefixes are too short.
    later = [estimate for estimate, _ in admitted if estimate.total_tokens > 6_000]
    assert len(later) >= 2
    assert all(estimate.cached_tokens > 0 for estimate in later)
    assert all(
        estimate.uncached_tokens < estimate.total_tokens / 2 for estimate in later
    )


def _sse(*events: dict[str, Any]) -> str:
    return "".join(
        f"event: {event['type']}\ndata: {json.dumps(event)}\n\n" for event in events
    )


def _message_start() -> dict[str, Any]:
    return {
        "type": "message_start",
        "message": {
            "id": "msg_cut",
            "type": "message",
            "role": "assistant",
            "model": "claude-opus-4-8",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 1},
        },
    }


def _text_start_and_delta(text: str) -> list[dict[str, Any]]:
    return [
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": text},
        },
    ]


async def test_a_stream_closed_cleanly_without_message_stop_is_retried(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(
        "computer_use_demo.retry_policy.backoff_seconds", lambda attempt, jitter: 0.01
    )
    cut = tmp_path / "cut.sse"
    cut.write_text(_sse(_message_start(), *_text_start_and_delta("I")))
    scenario = [
        {"raw_sse": str(cut)},
        {"content": [{"type": "text", "text": "The whole answer."}]},
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(api, monkeypatch=monkeypatch)
        requests = len(api.message_requests())
    interruptions = [e for e in run.events if isinstance(e, StreamInterrupted)]
    assert interruptions and interruptions[0].will_retry
    assert "cut off" in interruptions[0].reason
    assert requests == 2
    assert run.messages[-1]["content"] == [
        {"type": "text", "text": "The whole answer."}
    ]
    assert_valid(run.messages)


async def test_a_stream_closed_inside_a_tool_call_never_runs_it_and_is_retried(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(
        "computer_use_demo.retry_policy.backoff_seconds", lambda attempt, jitter: 0.01
    )
    log = tmp_path / "ran.log"
    command = json.dumps({"command": f"echo ran >> {log}"})
    cut = tmp_path / "cut.sse"
    cut.write_text(
        _sse(
            _message_start(),
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_cut_01",
                    "name": "bash",
                    "input": {},
                },
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": command[:12]},
            },
        )
    )
    scenario = [
        {"raw_sse": str(cut)},
        {"content": [{"type": "text", "text": "Nothing ran."}]},
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(api, monkeypatch=monkeypatch)
    assert not log.exists(), "half a tool call never runs"
    assert "tool_call_cut_off" not in run.kinds(), "not blamed on max tokens"
    assert not any("toolu_cut_01" in json.dumps(m) for m in run.messages)
    assert run.messages[-1]["content"][0]["text"] == "Nothing ran."
    assert_valid(run.messages)


async def test_a_stream_of_only_pings_counts_as_stalled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pings keep the socket busy, so the HTTP read timeout never fires."""
    monkeypatch.setenv("COMPUTER_USE_READ_TIMEOUT", "0.5")
    monkeypatch.setattr(
        "computer_use_demo.retry_policy.backoff_seconds", lambda attempt, jitter: 0.01
    )
    served: list[int] = []

    class PingsOnly(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            served.append(len(served))
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("connection", "close")
            self.end_headers()
            if len(served) == 1:
                # message_start, then nothing but pings for far longer than the timeout.
                self.wfile.write(_sse(_message_start()).encode())
                for _ in range(60):
                    try:
                        self.wfile.write(b'event: ping\ndata: {"type": "ping"}\n\n')
                        self.wfile.flush()
                    except OSError:
                        return  # the client gave up on us, as it should
                    time.sleep(0.1)
                return
            self.wfile.write(
                _sse(
                    _message_start(),
                    *_text_start_and_delta("After the stall."),
                    {"type": "content_block_stop", "index": 0},
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                        "usage": {"output_tokens": 4},
                    },
                    {"type": "message_stop"},
                ).encode()
            )

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), PingsOnly)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(
        "ANTHROPIC_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}"
    )
    run = Run(messages=[{"role": "user", "content": "hello"}])
    started = time.monotonic()
    try:
        await sampling_loop(
            model="claude-opus-4-8",
            provider=APIProvider.ANTHROPIC,
            system_prompt_suffix="",
            messages=run.messages,
            output_callback=run.blocks.append,
            tool_output_callback=lambda result, tool_id: None,
            api_response_callback=lambda request, response, error: None,
            api_key="sk-ant-test-pings-000000",
            tool_version="computer_use_20250124",
            stream_callback=run.events.append,
            status_callback=run.statuses.append,
            token_manager=fresh_manager(),
        )
    finally:
        server.shutdown()
    assert time.monotonic() - started < 5, "the stall ended at the read timeout"
    interruptions = [e for e in run.events if isinstance(e, StreamInterrupted)]
    assert interruptions and "stopped sending data" in interruptions[0].reason
    assert len(served) == 2
    assert run.messages[-1]["content"] == [{"type": "text", "text": "After the stall."}]


async def test_a_request_above_the_input_limit_is_sent_again_with_less_history(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from token_manager import RequestTooLargeError

    manager = fresh_manager()
    acquire = manager.acquire
    refused: list[int] = []

    async def refuse_once(request: Any, output: int, **kwargs: Any) -> Any:
        if not refused:  # as if the limit dropped while it waited
            refused.append(request.total_tokens)
            raise RequestTooLargeError("input_tokens", request.total_tokens, 10)
        return await acquire(request, output, **kwargs)

    monkeypatch.setattr(manager, "acquire", refuse_once)
    scenario = [{"content": [{"type": "text", "text": "answered"}]}]
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(api, monkeypatch=monkeypatch, manager=manager)
    assert refused and run.text() == "answered"
    assert "context_pruned" in run.kinds() and "error" not in run.kinds()


async def test_a_cached_conversation_grows_past_one_minute_of_input_without_a_429(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At a small input tokens/min limit, only what the prompt cache cannot carry
    counts: requests grow far past the limit, the server never refuses one, and
    most input comes from the cache (issue 12). Cache-blind, they stay under it."""
    itpm, turns = 12_000, 40
    line = "report line $i: -rw-r--r-- 1 user user 18734 Nov 24 13:05 invoice-$i.csv"
    command = (
        f'n=$(( ${{n:-0}} + 1 )); for i in $(seq 1 30); do echo "$n {line}"; done; '
        f'if [ "$n" -ge {turns} ]; then echo "ALL READ"; fi'
    )
    scenario = {
        "default": {"content": [bash(command)]},
        "stop_when": "ALL READ",
        "final": {"content": [{"type": "text", "text": "Read them all."}]},
    }
    window = 3.0
    manager = TokenManager(RateLimits(1_000, itpm, 1_000_000, window))
    with FakeAnthropicAPI(
        scenario=scenario,
        rpm=1_000,
        itpm=itpm,
        otpm=1_000_000,
        window_seconds=window,
        min_cacheable_tokens=0,
    ) as api:
        run = await run_loop(
            api, monkeypatch=monkeypatch, manager=manager, max_tokens=1024
        )
        requests = api.message_requests()
    refused = [r for r in requests if r.status == 429]
    assert not refused, "the limiter kept every request under the server's limit"
    sizes = [
        r.usage["input_tokens"]
        + r.usage["cache_creation_input_tokens"]
        + r.usage["cache_read_input_tokens"]
        for r in requests
        if r.usage
    ]
    assert max(sizes) > 2 * itpm, "requests grew far past one minute of input"
    reads = [r.usage["cache_read_input_tokens"] for r in requests if r.usage]
    assert sum(reads) > 0.7 * sum(sizes), "most input came from the cache"
    assert run.messages[-1]["content"][0]["text"] == "Read them all."
    assert "error" not in run.kinds()
    assert_valid(run.messages)
