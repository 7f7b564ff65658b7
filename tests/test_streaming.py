"""The stream router on every SSE stream we have, replayed over real HTTP.

The deltas it emits must add up exactly to the message the SDK assembles, and
blocks that are not ours (server tools, compaction, fallback) pass through.
The project's own streams (tests/fixtures/sse/) always run; the recorded API
streams of the conformance layer (../shared) run beside them when present.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anthropic
import pytest

from computer_use_demo.streaming import (
    BlockFinished,
    BlockStarted,
    MessageFinished,
    MessageStarted,
    StreamEvent,
    StreamRouter,
    TextDelta,
    ThinkingDelta,
    ToolInputDelta,
    block_to_param,
)
from computer_use_demo.turns import message_to_params, tool_input_problem
from tests.fixtures import (
    RECORDED_SSE,
    own_stream,
    own_streams,
    recorded_stream,
    recorded_streams,
    skip_without_recordings,
)

# Every stream shape the tests rely on, written here (see tests/fixtures/sse/).
OWN_SHAPES = {
    "text.sse",
    "thinking.sse",
    "tool_use.sse",
    "parallel_tool_calls.sse",
    "tool_input_cut_by_max_tokens.sse",
    "server_tool_use.sse",
    "refusal.sse",
    "compaction.sse",
    "fallback.sse",
    "error_mid_stream.sse",
}
BROKEN_STREAMS = {"error_mid_stream.sse"}  # they raise instead of finishing
COMPLETE_STREAMS = [
    *(
        pytest.param(path, id=f"own/{path.stem}")
        for path in own_streams()
        if path.name not in BROKEN_STREAMS
    ),
    *(pytest.param(path, id=f"recorded/{path.stem}") for path in recorded_streams()),
]


def stream_file(layer: str, name: str) -> Path:
    """An own fixture, or a recorded stream (the test skips when there is none)."""
    return own_stream(name) if layer == "own" else recorded_stream(name)


class _Replay(BaseHTTPRequestHandler):
    body = b""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def replay() -> Iterator[Any]:
    """Serves a recorded stream byte for byte at a loopback URL."""
    handler = type("Replay", (_Replay,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def serve(recording: Path) -> str:
        # The recordings were trimmed after their last event; a real server
        # ends every event with a blank line, which is what dispatches it.
        setattr(handler, "body", recording.read_bytes().rstrip(b"\n") + b"\n\n")  # noqa: B010
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    server.shutdown()
    server.server_close()


def route_stream(base_url: str, events: list[StreamEvent], router: StreamRouter) -> Any:
    """Stream a request to `base_url` through the real SDK and `router`; the final
    message (an error in the stream raises from here)."""
    client = anthropic.Anthropic(
        api_key="sk-ant-test-replay-0000", base_url=base_url, max_retries=0
    )
    with client.beta.messages.stream(
        model="claude-opus-4-8",
        max_tokens=1024,
        messages=[{"role": "user", "content": "hi"}],
    ) as stream:
        for event in stream:
            router.route(event)
        return stream.get_final_message()


def stream_recording(base_url: str) -> tuple[list[StreamEvent], Any, StreamRouter]:
    events: list[StreamEvent] = []
    router = StreamRouter(emit=events.append)
    message = route_stream(base_url, events, router)
    return events, message, router


def test_every_stream_shape_has_its_own_fixture() -> None:
    assert {path.name for path in own_streams()} >= OWN_SHAPES


@skip_without_recordings
def test_every_recording_is_present() -> None:
    assert len(recorded_streams()) >= 10, (
        f"expected the recorded streams in {RECORDED_SSE}"
    )


@pytest.mark.parametrize("recording", COMPLETE_STREAMS)
def test_deltas_add_up_to_the_final_message(replay: Any, recording: Path) -> None:
    events, message, router = stream_recording(replay(recording))

    assert isinstance(events[0], MessageStarted)
    assert isinstance(events[-1], MessageFinished)
    assert events[-1].stop_reason == message.stop_reason
    assert events[-1].usage.output_tokens == message.usage.output_tokens

    for index, block in enumerate(message.content):
        kind = block.type
        started = [
            e for e in events if isinstance(e, BlockStarted) and e.index == index
        ]
        assert [e.block_type for e in started] == [kind]
        if kind == "text":
            streamed = "".join(
                e.text for e in events if isinstance(e, TextDelta) and e.index == index
            )
            assert streamed == block.text
        elif kind == "thinking":
            streamed = "".join(
                e.thinking
                for e in events
                if isinstance(e, ThinkingDelta) and e.index == index
            )
            assert streamed == block.thinking
        elif kind in ("tool_use", "server_tool_use"):
            fragments = [
                e for e in events if isinstance(e, ToolInputDelta) and e.index == index
            ]
            assert all(
                e.tool_use_id == block.id and e.tool_name == block.name
                for e in fragments
            )
            joined = "".join(e.partial_json for e in fragments)
            if index in router.finished_indexes:
                assert (json.loads(joined) if joined else {}) == block.input
        finished = [
            e for e in events if isinstance(e, BlockFinished) and e.index == index
        ]
        if index in router.finished_indexes:
            assert [e.block for e in finished] == [block_to_param(block)]


@pytest.mark.parametrize(
    ("layer", "name"), [("own", "thinking.sse"), ("recorded", "stream-a-refusal.sse")]
)
def test_thinking_is_never_routed_as_answer_text(
    replay: Any, layer: str, name: str
) -> None:
    events, message, _ = stream_recording(replay(stream_file(layer, name)))
    thinking = [e for e in events if isinstance(e, ThinkingDelta)]
    assert thinking, "the recording streams thinking"
    texts = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert all(e.thinking not in texts for e in thinking if len(e.thinking) > 20)
    params: list[Any] = list(message_to_params(message))
    thinking_params = [p for p in params if p["type"] == "thinking"]
    assert thinking_params and all(p.get("signature") for p in thinking_params)


@pytest.mark.parametrize(
    ("layer", "name"),
    [("own", "server_tool_use.sse"), ("recorded", "stream-a-toolrefusal.sse")],
)
def test_server_tool_blocks_pass_through_unchanged(
    replay: Any, layer: str, name: str
) -> None:
    _, message, _ = stream_recording(replay(stream_file(layer, name)))
    params: list[Any] = list(message_to_params(message))
    types = [p["type"] for p in params]
    assert "server_tool_use" in types and "web_search_tool_result" in types
    result = next(p for p in params if p["type"] == "web_search_tool_result")
    original = next(b for b in message.content if b.type == "web_search_tool_result")
    assert result == original.to_dict(mode="json")


@pytest.mark.parametrize(
    ("layer", "name"),
    [
        ("own", "compaction.sse"),
        ("own", "fallback.sse"),
        ("recorded", "compaction_response.sse"),
        ("recorded", "fallback_response.sse"),
    ],
)
def test_blocks_we_do_not_run_stay_in_the_history(
    replay: Any, layer: str, name: str
) -> None:
    _, message, _ = stream_recording(replay(stream_file(layer, name)))
    params: list[Any] = list(message_to_params(message))
    assert {p["type"] for p in params} - {"text", "thinking"}, (
        "a non-text block is kept"
    )
    assert not any(p["type"] == "tool_use" for p in params)


@pytest.mark.parametrize(
    ("layer", "name"),
    [
        ("own", "tool_input_cut_by_max_tokens.sse"),
        ("recorded", "incomplete_partial_json_response.sse"),
    ],
)
def test_a_tool_call_cut_off_by_max_tokens_never_finishes(
    replay: Any, layer: str, name: str
) -> None:
    _, message, router = stream_recording(replay(stream_file(layer, name)))
    assert message.stop_reason == "max_tokens"
    tool_index = next(i for i, b in enumerate(message.content) if b.type == "tool_use")
    assert tool_index not in router.finished_indexes
    assert tool_index in router.open_indexes()
    assert tool_input_problem(
        block_to_param(message.content[tool_index]), router.tool_input_json(tool_index)
    )


@pytest.mark.parametrize(
    ("json_text", "problem"),
    [
        (None, False),
        ("", False),
        ('{"a": 1}', False),
        ('{"a": ', True),
        ("[1]", True),
        ('{"a" 1}', True),
    ],
)
def test_tool_input_problems(json_text: str | None, problem: bool) -> None:
    block: Any = {"type": "tool_use", "id": "t", "name": "bash", "input": {}}
    assert (tool_input_problem(block, json_text) is not None) == problem


def test_empty_text_blocks_are_not_sent_back() -> None:
    message = anthropic.types.beta.BetaMessage.model_validate(
        {
            "id": "m",
            "type": "message",
            "role": "assistant",
            "model": "x",
            "content": [
                {"type": "text", "text": ""},
                {
                    "type": "tool_use",
                    "id": "t",
                    "name": "bash",
                    "input": {"command": "ls"},
                    "caller": {"type": "direct"},
                },
            ],
            "stop_reason": "tool_use",
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }
    )
    assert message_to_params(message) == [
        {"type": "tool_use", "id": "t", "name": "bash", "input": {"command": "ls"}}
    ]


def test_parallel_tool_calls_are_assembled_by_index(replay: Any) -> None:
    _, message, router = stream_recording(replay(own_stream("parallel_tool_calls.sse")))
    calls = [
        (index, block)
        for index, block in enumerate(message.content)
        if block.type == "tool_use"
    ]
    assert [(block.id, block.input) for _, block in calls] == [
        ("toolu_own_0002", {"command": "echo one"}),
        ("toolu_own_0003", {"action": "screenshot"}),
        ("toolu_own_0004", {}),  # no input at all means {}
    ]
    assert message.stop_reason == "tool_use"
    for index, block in calls:
        assert index in router.finished_indexes
        assert (
            tool_input_problem(block_to_param(block), router.tool_input_json(index))
            is None
        )


def test_a_refusal_keeps_its_text_and_stop_reason(replay: Any) -> None:
    events, message, _ = stream_recording(replay(own_stream("refusal.sse")))
    assert message.stop_reason == "refusal"
    assert isinstance(events[-1], MessageFinished)
    assert events[-1].stop_reason == "refusal"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == (
        "I can't help"
    )


def test_an_error_event_mid_stream_raises_after_the_text_so_far(replay: Any) -> None:
    """The SDK raises a plain APIStatusError (status 200, the error's type in its
    body) from the iterator; the text routed before it stays with the router."""
    events: list[StreamEvent] = []
    router = StreamRouter(emit=events.append)
    with pytest.raises(anthropic.APIStatusError) as raised:
        route_stream(replay(own_stream("error_mid_stream.sse")), events, router)
    error = raised.value
    assert error.status_code == 200
    assert isinstance(error.body, dict)
    assert error.body["error"]["type"] == "overloaded_error"
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Let me check"
    assert not any(isinstance(e, MessageFinished) for e in events)
