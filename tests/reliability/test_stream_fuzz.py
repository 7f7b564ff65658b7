"""Fuzzed SSE streams (events dropped, duplicated, reordered, cut) through the real
SDK and our router and loop: a clear error or a valid message, never a hang."""

from __future__ import annotations

import asyncio
import json
import os
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


# Failures a randomised run ever found stay here as explicit examples.
FOUND_BEFORE = [
    # A dropped input fragment and a duplicated tool_use start: the SDK built two
    # blocks with one id and the history could not be sent again.
    [("drop", 8), ("duplicate", 6)],
    [("duplicate", 6)],
    [("drop", 5)],  # a text block never stopped, the tool call came anyway
    [("drop", 12)],  # the tool call's content_block_stop lost: not a max_tokens cut
    [("drop", 14)],  # message_stop lost
    [("cut", 10)],  # closed cleanly inside the tool input: no message_stop
    [("cut", 14)],  # closed cleanly after message_delta: no message_stop
    [("swap", 0)],
    [("duplicate", 14)],  # message_stop twice
]


def _run_mutated(server: Any, changes: list[tuple[str, int]]) -> None:
    """One fuzzed first response, then a clean one: the history ends valid."""
    server.bodies[:] = [mutate(EVENTS, changes)]
    history: list[Any] = [{"role": "user", "content": "weather?"}]
    statuses: list[Any] = []
    ran: list[str] = []

    async def run() -> None:
        await run_agent(
            history,
            "sk-ant-test-fuzz-000000",
            status_callback=statuses.append,
            tool_output_callback=lambda result, tool_id: ran.append(tool_id),
            max_attempts=2,
        )

    asyncio.run(asyncio.wait_for(run(), timeout=30))  # never a hang
    assert validate_conversation(history) == [], (
        f"{changes}: the history must stay valid to send"
    )
    assert len(ran) == len(set(ran)), f"{changes}: a tool ran twice"
    said = " ".join(status.message for status in statuses)
    final_text = json.dumps(history[-1])
    assert "done" in final_text or any(s.kind == "error" for s in statuses), (
        f"{changes}: the turn ends in the clean answer, or the user is told why: {said}"
    )


@pytest.fixture
def quiet_loop(monkeypatch: pytest.MonkeyPatch, server: Any) -> Any:
    monkeypatch.setenv("WIDTH", "1024")
    monkeypatch.setenv("HEIGHT", "768")
    monkeypatch.setenv("DISPLAY_NUM", "99")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setattr(
        "computer_use_demo.retry_policy.backoff_seconds", lambda attempt, jitter: 0.0
    )
    return server


@pytest.mark.parametrize("changes", FOUND_BEFORE, ids=str)
def test_streams_that_once_broke_the_history_now_end_valid(
    quiet_loop: Any, changes: list[tuple[str, int]]
) -> None:
    _run_mutated(quiet_loop, changes)


# Deterministic in CI: a fixed derivation of the examples, no example database.
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(changes=mutations)
def test_the_loop_ends_valid_or_with_a_clear_error(
    quiet_loop: Any, changes: list[tuple[str, int]]
) -> None:
    _run_mutated(quiet_loop, changes)


@pytest.mark.fuzz
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(changes=mutations)
def test_a_long_randomised_run_ends_valid(
    quiet_loop: Any, changes: list[tuple[str, int]]
) -> None:
    """`./test.sh -m fuzz`: new seeds each run; add what it finds to FOUND_BEFORE."""
    _run_mutated(quiet_loop, changes)
