"""The loop sends only what a server accepts, owns every wait, and names every
stop reason and error right: the real SDK against the fake API over HTTP."""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from fake_anthropic import FakeAnthropicAPI
from tests.test_loop import assert_valid, bash, fresh_manager, run_loop

pytestmark = pytest.mark.usefixtures("screen_env")


def blank_texts(messages: list[Any]) -> list[Any]:
    return [
        block
        for message in messages
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "text" and not block["text"].strip()
    ]


async def test_whitespace_text_before_a_tool_call_is_never_sent_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = [
        {"content": [{"type": "text", "text": "\n\n"}, bash("echo hi")]},
        {"content": [{"type": "text", "text": "done"}]},
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(api, monkeypatch=monkeypatch)
        requests = api.message_requests()
    assert [request.status for request in requests] == [200, 200]
    assert blank_texts(requests[1].body["messages"]) == []
    assert blank_texts(run.messages) == []
    assert run.messages[-1]["content"][0]["text"] == "done"
    assert_valid(run.messages)


async def test_a_retry_after_above_the_cap_stops_at_once_and_pauses_the_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = [
        {
            "fault": {"status": 429, "retry_after": 3600, "times": 5},
            "content": [{"type": "text", "text": "never"}],
        }
    ]
    manager = fresh_manager()
    started = time.monotonic()
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(api, monkeypatch=monkeypatch, manager=manager)
        assert len(api.message_requests()) == 1, "no retry inside the SDK or the loop"
    assert time.monotonic() - started < 10
    errors = [status for status in run.statuses if status.kind == "error"]
    assert len(errors) == 1 and errors[0].error_kind == "rate_limit"
    assert "asks to wait 60 min" in errors[0].message
    assert "COMPUTER_USE_MAX_RETRY_WAIT" in errors[0].message
    assert manager.snapshot(model="claude-opus-4-8").paused_for > 3500
    assert run.messages[-1]["role"] == "user", "the prompt is kept"


async def test_overload_retries_are_the_loops_each_with_a_countdown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "computer_use_demo.retry_policy.backoff_seconds", lambda attempt, jitter: 0.05
    )
    scenario = [
        {
            "fault": {"status": 529, "times": 2},
            "content": [{"type": "text", "text": "through"}],
        }
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(api, monkeypatch=monkeypatch)
        statuses = [request.status for request in api.message_requests()]
    assert statuses == [529, 529, 200]
    retries = [status for status in run.statuses if status.kind == "retrying"]
    assert len(retries) == 2, "every retry is said, none is silent in the SDK"
    assert all(status.wait_seconds for status in retries)
    assert run.text() == "through"


def png(noise_bytes: int, seed: int) -> str:
    side = int((noise_bytes / 3) ** 0.5) + 1
    raw = bytes((seed * 31 + index * 7919) % 251 for index in range(side * side * 3))
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), raw).save(
        buffer, format="PNG", compress_level=0
    )
    return base64.b64encode(buffer.getvalue()).decode()


def screenshot_session(shots: int, noise_bytes: int) -> list[Any]:
    history: list[Any] = [{"role": "user", "content": "look around"}]
    for number in range(shots):
        tool_id = f"toolu_{number:04d}"
        history += [
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": tool_id,
                        "name": "computer",
                        "input": {"action": "screenshot"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": tool_id,
                        "content": [
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": png(noise_bytes, number),
                                },
                            }
                        ],
                    }
                ],
            },
        ]
    history.append({"role": "assistant", "content": [{"type": "text", "text": "ok"}]})
    history.append({"role": "user", "content": "go on"})
    return history


async def test_a_413_is_answered_by_sending_less(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = [
        {
            "fault": {"status": 413, "times": 1},
            "content": [{"type": "text", "text": "smaller worked"}],
        }
    ]
    history = screenshot_session(8, 60_000)
    opened_with = len(history)
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(
            api,
            monkeypatch=monkeypatch,
            history=history,
            only_n_most_recent_images=None,
        )
        requests = api.message_requests()
    assert [request.status for request in requests] == [413, 200]
    sizes = [len(json.dumps(request.body["messages"])) for request in requests]
    assert sizes[1] < 0.75 * sizes[0], sizes
    assert "context_pruned" in run.kinds()
    assert run.text() == "smaller worked"
    assert len(run.messages) == opened_with + 1
    assert json.dumps(run.messages).count('"type": "image"') == 8, (
        "the history keeps all"
    )
    assert_valid(run.messages)


async def test_a_413_with_nothing_to_leave_out_is_one_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = [{"fault": {"status": 413, "times": 5}, "content": []}]
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(api, monkeypatch=monkeypatch)
        assert len(api.message_requests()) == 1
    errors = [status for status in run.statuses if status.kind == "error"]
    assert len(errors) == 1 and "(413)" in errors[0].message


async def test_a_refusal_inside_a_tool_call_is_said_to_be_a_refusal(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    log = tmp_path / "ran.log"
    scenario = [
        {
            "content": [
                {"type": "text", "text": "Sure, running"},
                bash(f"echo ran >> {log}", truncate=True),
            ],
            "stop_reason": "refusal",
        }
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(api, monkeypatch=monkeypatch, prompt="do the bad thing")
    assert not log.exists(), "no tool of a refused answer runs"
    assert "refusal" in run.kinds() and "tool_call_cut_off" not in run.kinds()
    refusal = next(status for status in run.statuses if status.kind == "refusal")
    assert "refused" in refusal.message and "max output" not in refusal.message
    # The API's advice: the refused turn is reset before going on.
    assert run.messages == [], "the refused prompt was taken back out"
    assert "do the bad thing" in refusal.message


async def test_a_refusal_after_tool_results_leaves_the_answer_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = [
        {"content": [bash("echo looked")]},
        {
            "content": [{"type": "text", "text": "I won't"}],
            "stop_reason": "refusal",
        },
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(api, monkeypatch=monkeypatch)
    assert [message["role"] for message in run.messages] == [
        "user",
        "assistant",
        "user",
    ]
    assert "I won't" not in json.dumps(run.messages)
    assert "refusal" in run.kinds()
    assert_valid(run.messages)


async def test_an_error_event_names_its_type_and_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scenario = [
        {
            "fault": {
                "sse_error_after_events": 4,
                "error_type": "invalid_request_error",
            },
            "content": [{"type": "text", "tokens": 40}],
        }
    ]
    with FakeAnthropicAPI(scenario=scenario) as api:
        run = await run_loop(api, monkeypatch=monkeypatch)
    errors = [status for status in run.statuses if status.kind == "error"]
    assert len(errors) == 1
    assert "invalid_request_error" in errors[0].message
    assert "(200)" not in errors[0].message and "rejected" not in errors[0].message
