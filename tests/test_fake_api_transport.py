"""The fake served in-process: what the SDK sees is what it sees over a socket."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import anthropic
import httpx2
import pytest

from computer_use_demo.api_client import (
    ClientTimeouts,
    clients_use_transport,
    make_client,
)
from fake_anthropic import FakeAnthropicAPI
from fake_anthropic.app import FakeConfig, FakeState, build_app
from fake_anthropic.scenario import Scenario
from fake_anthropic.transport import InProcessTransport, in_process_routes

MODEL = "claude-haiku-4-5-20251001"
REQUEST: dict[str, Any] = {
    "model": MODEL,
    "max_tokens": 256,
    "messages": [{"role": "user", "content": "hi"}],
}
LONG = {"turns": [{"content": [{"type": "text", "tokens": 200}]}]}


def served(scenario: Any = None, **config: Any) -> tuple[FakeState, InProcessTransport]:
    state = FakeState(FakeConfig(**config), Scenario.from_data(scenario or []))
    return state, InProcessTransport(build_app(state))


def client_for(
    state: FakeState, transport: httpx2.AsyncBaseTransport, **options: Any
) -> Any:
    seen: list[int] = []
    client = make_client(
        "anthropic",
        state.config.api_key,
        observe_response=lambda response: seen.append(response.status_code),
        transport=transport,
        **options,
    )
    # A host no resolver knows: any attempt at the network would fail.
    return client.with_options(base_url="http://fake-anthropic.invalid"), seen


def test_a_stream_arrives_in_pieces_as_the_app_sends_them() -> None:
    state, transport = served(LONG, token_rate=400, words_per_delta=5)

    async def scenario() -> tuple[float, float, str]:
        client, seen = client_for(state, transport)
        started = time.monotonic()
        first = None
        async with client.messages.stream(**REQUEST) as stream:
            async for text in stream.text_stream:
                if first is None and text:
                    first = time.monotonic() - started
            message = await stream.get_final_message()
        await client.close()
        assert seen == [200]  # the response hook saw it
        return first or 0.0, time.monotonic() - started, message.stop_reason or ""

    first, whole, stop_reason = asyncio.run(scenario())
    assert stop_reason == "end_turn"
    assert whole > 0.3  # 200 tokens at 400/s
    assert first < whole / 2  # not one chunk at the end


def test_a_stall_ends_in_the_read_timeout() -> None:
    stall = {"stall_after_events": 3, "stall_seconds": 5}
    state, transport = served(
        [{"fault": stall, "content": [{"type": "text", "text": "x"}]}]
    )

    async def scenario() -> None:
        client, _ = client_for(state, transport, timeouts=ClientTimeouts(read=0.3))
        client = client.with_options(max_retries=0)
        started = time.monotonic()
        # As over a socket: mid-stream, the SDK lets httpx2's error through.
        with pytest.raises(httpx2.ReadTimeout):
            async with client.messages.stream(**REQUEST) as stream:
                await stream.get_final_message()
        assert time.monotonic() - started < 3
        await client.close()

    asyncio.run(scenario())


def test_a_dropped_connection_is_a_connection_error() -> None:
    state, transport = served(
        [
            {
                "fault": {"drop_after_events": 3},
                "content": [{"type": "text", "text": "x"}],
            }
        ]
    )

    async def scenario() -> None:
        client, _ = client_for(state, transport)
        client = client.with_options(max_retries=0)
        with pytest.raises(httpx2.RemoteProtocolError):
            async with client.messages.stream(**REQUEST) as stream:
                await stream.get_final_message()
        await client.close()

    asyncio.run(scenario())


def test_errors_come_with_their_status_and_headers() -> None:
    state, transport = served([{"fault": {"status": 429, "retry_after": 7}}])

    async def scenario() -> None:
        client, seen = client_for(state, transport)
        client = client.with_options(max_retries=0)
        with pytest.raises(anthropic.RateLimitError) as refused:
            await client.messages.create(**REQUEST)
        assert refused.value.response.headers["retry-after"] == "7"
        assert seen == [429]
        await client.close()

    asyncio.run(scenario())


def test_closing_a_stream_early_disconnects_the_app() -> None:
    state, transport = served(LONG, token_rate=200)

    async def scenario() -> None:
        client, _ = client_for(state, transport)
        async with client.messages.stream(**REQUEST) as stream:
            async for _ in stream.text_stream:
                break
        await client.close()

    asyncio.run(scenario())
    # The answer was never sent whole: the turn is not used up.
    assert state.scenario.position == 0
    assert state.requests[0].status == 0


def test_clients_in_the_context_reach_running_fakes_without_their_socket() -> None:
    with FakeAnthropicAPI() as api, FakeAnthropicAPI() as other:

        async def ask(base_url: str) -> str:
            client = make_client("anthropic", api.api_key).with_options(
                base_url=base_url
            )
            message = await client.messages.create(**REQUEST)
            await client.close()
            return message.stop_reason or ""

        with clients_use_transport(in_process_routes):
            assert asyncio.run(ask(api.base_url)) == "end_turn"
            assert asyncio.run(ask(other.base_url)) == "end_turn"
        assert (api.requests_over_http, other.requests_over_http) == (0, 0)
        assert len(api.message_requests()) == len(other.message_requests()) == 1
        with clients_use_transport(httpx2.AsyncHTTPTransport):
            assert asyncio.run(ask(api.base_url)) == "end_turn"
        assert api.requests_over_http == 1
