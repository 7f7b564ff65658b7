"""The router notices a stream that breaks the API's event order (pure, no I/O).

The SDK accumulates whatever arrives, so a duplicated block start, a delta for
a block that is not open, or an event after `message_stop` must be caught here.
"""

from __future__ import annotations

from collections.abc import Iterable

import pydantic
import pytest
from anthropic.lib.streaming import ParsedBetaTextEvent
from anthropic.types.beta import (
    BetaRawContentBlockDeltaEvent,
    BetaRawMessageStartEvent,
    BetaRawMessageStreamEvent,
    BetaTextDelta,
)

from computer_use_demo.streaming import (
    BlockStarted,
    SDKStreamEvent,
    StreamEvent,
    StreamRouter,
    TextDelta,
)
from tests.fixtures.sse.generate import Event, end, start, text, tool_use

# Wire events as the SDK parses them: validated, of the SDK's own classes.
WIRE_EVENT = pydantic.TypeAdapter(BetaRawMessageStreamEvent)


def _sdk(events: Iterable[Event]) -> list[SDKStreamEvent]:
    return [WIRE_EVENT.validate_python(data) for _, data in events]


def _message_start() -> SDKStreamEvent:
    return _sdk([start("m", "x", input_tokens=1)])[0]


def _start(index: int, block_type: str = "text") -> SDKStreamEvent:
    if block_type == "tool_use":
        return _sdk(tool_use(index, f"toolu_{index}", "bash"))[0]
    return _sdk(text(index, "x"))[0]


def _delta(index: int) -> SDKStreamEvent:
    return _sdk(text(index, "x"))[1]


def _stop(index: int) -> SDKStreamEvent:
    return _sdk(text(index, "x"))[2]


def _message_delta(stop_reason: str) -> SDKStreamEvent:
    return _sdk(end(stop_reason, 2))[0]


def _message_stop() -> SDKStreamEvent:
    return _sdk(end("end_turn", 2))[1]


def _unknown(kind: str) -> SDKStreamEvent:
    """An event type the SDK does not know, built the way the SDK builds it (as
    the union's first member, with its own type; see test_sdk_internals)."""
    return BetaRawMessageStartEvent.construct(type=kind)


def _route(events: list[SDKStreamEvent]) -> tuple[StreamRouter, list[StreamEvent]]:
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
    derived = ParsedBetaTextEvent(type="text", text="x", snapshot="x")
    events = [*WHOLE[:3], _unknown("ping"), derived, *WHOLE[3:]]
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
    events: list[SDKStreamEvent], problem: str
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


def test_an_event_type_newer_than_the_router_is_ignored() -> None:
    router, emitted = _route([*WHOLE[:2], _unknown("brand_new_event"), *WHOLE[2:]])
    assert router.complete and router.protocol_error is None
    assert len(emitted) == len(_route(WHOLE)[1]), "nothing is drawn for it"


def test_a_delta_type_newer_than_the_router_is_ignored() -> None:
    unknown_delta = BetaRawContentBlockDeltaEvent.construct(
        type="content_block_delta",
        index=0,
        delta=BetaTextDelta.construct(type="brand_new_delta"),
    )
    router, emitted = _route([*WHOLE[:2], unknown_delta, *WHOLE[2:]])
    assert router.complete
    texts = [event for event in emitted if isinstance(event, TextDelta)]
    assert [event.text for event in texts] == ["x"], "only the real text delta"
