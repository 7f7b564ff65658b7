"""Fuzzed SSE streams (events dropped, duplicated, reordered, cut) through the real
SDK and our router and loop: a clear error or a valid message, never a hang."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anthropic
import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from computer_use_demo.conversation import validate_conversation
from tests.fixtures import own_stream
from tests.reliability.agent import run_agent

pytestmark = pytest.mark.reliability
FIXTURE = own_stream("tool_use.sse")


def parse_events(text: str) -> list[str]:
    return [chunk.strip() + "\n\n" for chunk in text.split("\n\n") if chunk.strip()]


EVENTS = parse_events(FIXTURE.read_text())


class _Server(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = self.bodies.pop(0) if self.bodies else _final()
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _final() -> bytes:
    message = {
        "type": "message_start",
        "message": {
            "id": "m",
            "type": "message",
            "role": "assistant",
            "model": "x",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1},
        },
    }
    parts = [
        ("message_start", message),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "done"},
            },
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 2},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return "".join(
        f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in parts
    ).encode()


@pytest.fixture(scope="module")
def server() -> Iterator[type[_Server]]:
    handler = type("Fuzz", (_Server,), {"bodies": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    handler.url = f"http://127.0.0.1:{httpd.server_address[1]}"  # type: ignore[attr-defined]
    yield handler
    httpd.shutdown()


mutations = st.lists(
    st.one_of(
        st.tuples(st.just("drop"), st.integers(0, len(EVENTS) - 1)),
        st.tuples(st.just("duplicate"), st.integers(0, len(EVENTS) - 1)),
        st.tuples(st.just("swap"), st.integers(0, len(EVENTS) - 2)),
        st.tuples(st.just("cut"), st.integers(1, len(EVENTS))),
    ),
    min_size=1,
    max_size=4,
)


def mutate(events: list[str], changes: list[tuple[str, int]]) -> bytes:
    result = list(events)
    for kind, position in changes:
        position = min(position, max(0, len(result) - 1))
        if not result:
            break
        if kind == "drop":
            result.pop(position)
        elif kind == "duplicate":
            result.insert(position, result[position])
        elif kind == "swap" and position + 1 < len(result):
            result[position], result[position + 1] = (
                result[position + 1],
                result[position],
            )
        elif kind == "cut":
            result = result[:position]
    return "".join(result).encode()


EXPECTED_ERRORS = (
    anthropic.APIError,
    httpx2.HTTPError,
    ValueError,
    RuntimeError,
    KeyError,
    IndexError,
    TypeError,
    AssertionError,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(changes=mutations)
def test_the_loop_ends_valid_or_with_a_clear_error(
    server: Any, changes: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WIDTH", "1024")
    monkeypatch.setenv("HEIGHT", "768")
    monkeypatch.setenv("DISPLAY_NUM", "99")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setattr(
        "computer_use_demo.loop.backoff_seconds", lambda attempt, jitter: 0.0
    )
    server.bodies[:] = [mutate(EVENTS, changes)]
    history: list[Any] = [{"role": "user", "content": "weather?"}]
    statuses: list[Any] = []

    async def run() -> None:
        await run_agent(
            history,
            "sk-ant-test-fuzz-000000",
            status_callback=statuses.append,
            max_attempts=2,
        )

    asyncio.run(asyncio.wait_for(run(), timeout=30))  # never a hang
    assert validate_conversation(history) == [] or statuses, (
        "valid, or the user was told why not"
    )
    assert validate_conversation(history) == [] or any(
        status.kind == "error" for status in statuses
    )
