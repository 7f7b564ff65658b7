"""Reads one streamed response through the router: a whole, well-ordered message,
or an error saying how the stream broke.

Never retries and never touches the token manager: it returns the turn and what
the server measured, or raises and keeps what was measured before the break.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
from anthropic.lib.streaming import BetaAsyncMessageStream
from anthropic.types.beta import BetaMessage, BetaUsage

from .api_client import AnyAsyncClient
from .failures import StreamBroken, classify
from .sdk_internals import ACCUMULATOR_ERRORS, is_malformed_tool_json, partial_message
from .streaming import (
    TOOL_INPUT_BLOCKS,
    StreamCallback,
    StreamInterrupted,
    StreamRouter,
)
from .turns import Turn, turn_from_broken_stream, turn_from_message

ApiResponseCallback = Callable[
    [httpx2.Request, httpx2.Response | object | None, Exception | None], None
]


@dataclass(frozen=True)
class StreamedResponse:
    turn: Turn
    usage: BetaUsage  # what the server measured: settles the reservation
    message_id: str | None = None


@dataclass
class ResponseReader:
    """Streams one request; a new reader for every request."""

    emit: StreamCallback
    on_api_response: ApiResponseCallback
    stall_seconds: float  # no progress this long: stalled (pings are no progress)
    # What the server had measured when the stream broke (None: nothing measured).
    measured_usage: BetaUsage | None = None

    async def read(
        self,
        client: AnyAsyncClient,
        params: dict[str, Any],
        *,
        already_run: set[str],
        may_retry: bool,
    ) -> StreamedResponse:
        router = StreamRouter(emit=self.emit)
        messages_api: Any = client.beta.messages  # the same call on every provider
        async with messages_api.stream(**params) as stream:
            try:
                await self._consume(stream, router)
                message = await stream.get_final_message()
                _check_tool_ids(message, already_run)
            except BaseException as error:
                if is_malformed_tool_json(error):
                    # The SDK could not parse a tool's streamed JSON: answer that
                    # call with an error result instead of losing the turn.
                    self.emit(
                        StreamInterrupted(
                            reason="malformed tool input", will_retry=False
                        )
                    )
                    snapshot = stream.current_message_snapshot
                    self.on_api_response(stream.response.request, stream.response, None)
                    turn = turn_from_broken_stream(snapshot, router)
                    return StreamedResponse(turn, snapshot.usage, snapshot.id)
                if not router.message_stopped:
                    # What the server measured before the break settles the charge;
                    # read first, as telling the UI may raise (Streamlit's Stop).
                    partial = partial_message(stream)
                    self.measured_usage = partial.usage if partial is not None else None
                    self.emit(_interruption(error, may_retry))
                raise
            self.on_api_response(stream.response.request, stream.response, None)
        return StreamedResponse(
            turn_from_message(message, router), message.usage, message.id
        )

    async def _consume(
        self, stream: BetaAsyncMessageStream[Any], router: StreamRouter
    ) -> None:
        """Route every event; raise `StreamBroken` unless one whole message arrived.

        The SDK swallows `ping`s, so the watchdog sees only real progress.
        """
        loop = asyncio.get_running_loop()
        events = aiter(stream)
        try:
            async with asyncio.timeout(self.stall_seconds) as watchdog:
                while True:
                    try:
                        event = await anext(events)
                    except StopAsyncIteration:
                        break
                    except ACCUMULATOR_ERRORS as error:
                        if is_malformed_tool_json(error):
                            raise
                        # The SDK's accumulator choked on an event out of place.
                        raise StreamBroken(
                            "invalid",
                            f"an event could not be read: {type(error).__name__}",
                        ) from error
                    watchdog.reschedule(loop.time() + self.stall_seconds)
                    router.route(event)
                    if router.protocol_error is not None:
                        raise StreamBroken("invalid", router.protocol_error)
        except TimeoutError as error:
            if not watchdog.expired():
                raise
            raise StreamBroken(
                "stalled", f"no progress for {self.stall_seconds:g} s"
            ) from error
        if router.protocol_error is not None:
            raise StreamBroken("invalid", router.protocol_error)
        if not router.message_stopped:
            raise StreamBroken("cut", "the stream ended before message_stop")


def _check_tool_ids(message: BetaMessage, already_run: set[str]) -> None:
    """A tool_use id seen twice would make the history unsendable: retry instead."""
    ids = [
        str(getattr(block, "id", ""))
        for block in message.content
        if block.type in TOOL_INPUT_BLOCKS
    ]
    reused = [i for i in ids if i in already_run]
    if len(set(ids)) != len(ids) or reused:
        raise StreamBroken("invalid", "a tool_use id came twice")


def _interruption(error: BaseException, may_retry: bool) -> StreamInterrupted:
    """What the UI is told when a stream breaks: why, and whether it comes again."""
    if not isinstance(error, Exception):
        return StreamInterrupted(reason="stopped", will_retry=False)
    failure = classify(error)
    return StreamInterrupted(
        reason=failure.message, will_retry=may_retry and failure.retryable
    )
