"""Pins every SDK behaviour `computer_use_demo/sdk_internals.py` relies on.

The real SDK reads each stream from an in-process HTTP transport; when an
upgrade changes one of these behaviours, the test naming it fails here.
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.types.beta import BetaRawMessageStartEvent

from computer_use_demo.sdk_internals import (
    ACCUMULATOR_ERRORS,
    is_error_event,
    is_malformed_tool_json,
    partial_message,
)
from tests.fixtures.sse.generate import Event, end, frame, ping, start, stream, text
from tests.fixtures.sse.generate import tool_use as tool_use_block


def client_serving(body: str, status: int = 200) -> anthropic.AsyncAnthropic:
    """An SDK client whose every request is answered with `body` as SSE."""

    def answer(request: httpx2.Request) -> httpx2.Response:
        headers = {"content-type": "text/event-stream"}
        if status != 200:
            headers = {"content-type": "application/json"}
        return httpx2.Response(status, headers=headers, content=body.encode())

    return anthropic.AsyncAnthropic(
        api_key="sk-ant-test-internals-000",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(answer)),
    )


async def read(events: list[Event]) -> tuple[list[Any], Any, BaseException | None]:
    """Every event the SDK yields, the stream object, and what it raised."""
    client = client_serving(frame(events))
    seen: list[Any] = []
    async with client.beta.messages.stream(
        model="claude-opus-4-8",
        max_tokens=64,
        messages=[{"role": "user", "content": "hi"}],
    ) as sdk_stream:
        try:
            async for event in sdk_stream:
                seen.append(event)
        except Exception as error:
            return seen, sdk_stream, error
    return seen, sdk_stream, None


async def test_a_broken_stream_leaves_its_partial_message_readable() -> None:
    cut = stream(start("msg_cut", input_tokens=321), text(0, "Half an"))[:-1]
    _, sdk_stream, error = await read(cut)
    assert error is None, "a clean close before message_stop raises nothing"
    partial = partial_message(sdk_stream)
    assert partial is not None, "the private partial snapshot reader is gone"
    assert partial.usage.input_tokens == 321
    assert [block.type for block in partial.content] == ["text"]


async def test_no_partial_message_before_message_start() -> None:
    _, sdk_stream, _ = await read([])
    assert partial_message(sdk_stream) is None


async def test_malformed_tool_json_raises_the_text_we_match() -> None:
    events = stream(
        start("msg_bad_json"),
        tool_use_block(0, "toolu_bad", "bash", '{"command": ', "]"),
        end("tool_use", 5),
    )
    _, sdk_stream, error = await read(events)
    assert error is not None and is_malformed_tool_json(error), repr(error)
    # The public snapshot still holds the call, for its error result.
    assert sdk_stream.current_message_snapshot.content[0].id == "toolu_bad"


async def test_an_error_event_in_a_stream_is_a_status_error_of_status_200() -> None:
    events: list[Event] = [
        start("msg_error"),
        ("error", {"type": "error", "error": {"type": "overloaded_error"}}),
    ]
    _, _, error = await read(events)
    assert isinstance(error, anthropic.APIStatusError) and is_error_event(error)


async def test_a_refused_request_is_not_an_error_event() -> None:
    body = '{"type": "error", "error": {"type": "overloaded_error", "message": "x"}}'
    client = client_serving(body, status=529)
    with pytest.raises(anthropic.APIStatusError) as raised:
        async with client.beta.messages.stream(
            model="claude-opus-4-8",
            max_tokens=64,
            messages=[{"role": "user", "content": "hi"}],
        ):
            pass
    assert raised.value.status_code == 529 and not is_error_event(raised.value)


async def test_pings_never_reach_the_iteration() -> None:
    events = stream(start("msg_ping"), ping(), text(0, "a"), ping(), end("end_turn", 1))
    seen, _, error = await read(events)
    assert error is None
    assert "ping" not in [event.type for event in seen]


async def test_an_unknown_event_type_arrives_with_its_own_type_string() -> None:
    future: Event = ("brand_new_event", {"type": "brand_new_event", "index": 0})
    events = stream(start("msg_new"), future, text(0, "a"), end("end_turn", 1))
    seen, _, error = await read(events)
    assert error is None, "an unknown event type does not break the stream"
    [unknown] = [event for event in seen if event.type == "brand_new_event"]
    # Built as the union's first member: a router must look at `type`.
    assert isinstance(unknown, BetaRawMessageStartEvent)


async def test_an_event_out_of_place_raises_an_accumulator_error() -> None:
    stray: Event = (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 4,
            "delta": {"type": "text_delta", "text": "x"},
        },
    )
    _, _, error = await read([start("msg_stray"), stray])
    assert isinstance(error, ACCUMULATOR_ERRORS), repr(error)
