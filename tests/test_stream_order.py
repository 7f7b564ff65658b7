"""The router notices a stream that breaks the API's event order (pure, no I/O).

The SDK accumulates whatever arrives, so a duplicated block start, a delta for
a block that is not open, or an event after `message_stop` must be caught here.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from computer_use_demo.streaming import BlockStarted, StreamEvent, StreamRouter

Event = tuple[str, dict[str, Any]]


def _event(kind: str, **fields: Any) -> Any:
    return SimpleNamespace(type=kind, **fields)


def _message_start() -> Any:
    usage = SimpleNamespace(input_tokens=1, output_tokens=1)
    return _event(
        "message_start", message=SimpleNamespace(id="m", model="x", usage=usage)
    )


def _start(index: int, block_type: str = "text") -> Any:
    block = SimpleNamespace(type=block_type, id=f"toolu_{index}", name="bash")
    return _event("content_block_start", index=index, content_block=block)


def _delta(index: int) -> Any:
    return _event(
        "content_block_delta",
        index=index,
        delta=SimpleNamespace(type="text_delta", text="x"),
    )


def _stop(index: int) -> Any:
    return _event("content_block_stop", index=index)


def _message_delta(stop_reason: str) -> Any:
    return _event(
        "message_delta",
        delta=SimpleNamespace(stop_reason=stop_reason),
        usage=SimpleNamespace(output_tokens=2),
    )


def _message_stop() -> Any:
    return _event("message_stop")


def _route(events: list[Any]) -> tuple[StreamRouter, list[StreamEvent]]:
    emitted: list[StreamEvent] = []
    router = StreamRouter(emit=emitted.append)
    for event in events:
        router.route(event)
    return router, emitted


WHOLE = [
    _message_start(),
    _start(0),
    _delta(0),
    _stop(0),
    _start(1, "tool_use"),
    _stop(1),
    _message_delta("tool_use"),
    _message_stop(),
]


def test_a_whole_stream_in_order_is_complete() -> None:
    router, _ = _route(WHOLE)
    assert router.complete and router.protocol_error is None


def test_pings_and_the_sdks_derived_events_are_not_order_errors() -> None:
    events = [*WHOLE[:3], _event("ping"), _event("text", text="x"), *WHOLE[3:]]
    router, _ = _route(events)
    assert router.complete


@pytest.mark.parametrize(
    ("events", "problem"),
    [
        ([*WHOLE[:5], _start(1, "tool_use"), *WHOLE[5:]], "block 1 started"),
        ([*WHOLE[:1], _delta(0), *WHOLE[1:]], "not open"),
        ([*WHOLE[:4], _stop(0), *WHOLE[4:]], "not open"),
        ([WHOLE[0], *WHOLE], "message_start arrived twice"),
        ([*WHOLE, _message_stop()], "after message_stop"),
        (WHOLE[1:], "before message_start"),
        ([*WHOLE[:5], *WHOLE[6:]], "ended (tool_use) inside block 1"),
        ([*WHOLE[:1], _start(1), *WHOLE[2:]], "block 1 started where block 0"),
    ],
    ids=[
        "duplicated block start",
        "delta before its block",
        "block stopped twice",
        "message_start twice",
        "message_stop twice",
        "no message_start",
        "tool block never stopped",
        "block index skipped",
    ],
)
def test_an_event_out_of_order_is_a_protocol_error(
    events: list[Any], problem: str
) -> None:
    router, _ = _route(events)
    assert router.protocol_error is not None and problem in router.protocol_error
    assert not router.complete


def test_an_event_out_of_order_is_not_shown() -> None:
    _, emitted = _route([*WHOLE[:5], _start(1, "tool_use"), *WHOLE[5:]])
    started = [e for e in emitted if isinstance(e, BlockStarted)]
    assert [e.index for e in started] == [0, 1], "the duplicate start is not drawn"


def test_max_tokens_may_end_inside_a_block() -> None:
    router, _ = _route(
        [
            *WHOLE[:4],
            _start(1, "tool_use"),
            _message_delta("max_tokens"),
            _message_stop(),
        ]
    )
    assert router.complete
    assert router.open_indexes() == {1}
