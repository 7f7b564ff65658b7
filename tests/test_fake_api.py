"""The fake API as the real SDK sees it: shapes, validation, faults, rate limits."""

from __future__ import annotations

import json
import time
from typing import Any

import anthropic
import httpx
import httpx2
import pytest

from tests.fake_api import FakeAnthropicAPI
from tests.fake_api.buckets import Bucket, OrganisationLimits
from tests.fixtures import own_stream, recorded_stream

TOOL_TURN = {
    "content": [
        {"type": "text", "text": "I'll check."},
        {
            "type": "tool_use",
            "name": "bash",
            "input": {"command": "ls -la /tmp", "restart": False},
        },
    ]
}
REQUEST: dict[str, Any] = {
    "model": "claude-opus-4-8",
    "max_tokens": 1024,
    "messages": [{"role": "user", "content": "hi"}],
}


def client(api: FakeAnthropicAPI, **options: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=api.api_key, base_url=api.base_url, **options)


def shape(message: Any) -> list[tuple[str, ...]]:
    """What a message is made of, without its values."""
    parts: list[tuple[str, ...]] = []
    for block in message.content:
        keys = tuple(
            sorted(key for key, value in block.to_dict().items() if value is not None)
        )
        parts.append((block.type, *keys))
    return parts


def test_stream_and_create_give_the_same_message() -> None:
    with FakeAnthropicAPI(scenario=[TOOL_TURN, TOOL_TURN]) as api:
        with client(api).messages.stream(**REQUEST) as stream:
            event_types = [event.type for event in stream]
            streamed = stream.get_final_message()
        created = client(api).messages.create(**REQUEST)
    assert event_types[0] == "message_start" and event_types[-1] == "message_stop"
    assert "ping" not in event_types  # the SDK drops pings; they were sent (see below)
    assert streamed.content[1].input == {"command": "ls -la /tmp", "restart": False}  # type: ignore[union-attr]
    assert streamed.stop_reason == created.stop_reason == "tool_use"

    def without_ids(blocks: Any) -> list[dict[str, Any]]:
        return [
            {key: value for key, value in block.to_dict().items() if key != "id"}
            for block in blocks
        ]

    assert without_ids(streamed.content) == without_ids(created.content)


def test_raw_stream_has_pings_and_fragmented_tool_json() -> None:
    with FakeAnthropicAPI(scenario=[TOOL_TURN]) as api:
        body = {**REQUEST, "stream": True}
        headers = {"x-api-key": api.api_key, "anthropic-version": "2023-06-01"}
        raw = httpx.post(f"{api.base_url}/v1/messages", json=body, headers=headers).text
    events = [
        line.removeprefix("event: ")
        for line in raw.splitlines()
        if line.startswith("event: ")
    ]
    assert "ping" in events
    fragments = [
        json.loads(line[6:])["delta"]["partial_json"]
        for line in raw.splitlines()
        if line.startswith("data: ") and "input_json_delta" in line
    ]
    assert len(fragments) > 3 and fragments[0] == ""
    assert any(fragment.count('"') % 2 for fragment in fragments), (
        "fragments split strings"
    )


@pytest.mark.parametrize(
    ("layer", "recording"),
    [
        ("own", "tool_use.sse"),
        ("own", "text.sse"),
        ("recorded", "tool_use_response.sse"),
        ("recorded", "basic_response.sse"),
    ],
)
def test_the_double_streams_the_same_shapes_as_the_real_api(
    layer: str, recording: str
) -> None:
    path = own_stream(recording) if layer == "own" else recorded_stream(recording)
    real_text = path.read_text().rstrip("\n") + "\n\n"
    with FakeAnthropicAPI(
        scenario=[
            {"raw_sse": str(path)},
            TOOL_TURN
            if "tool" in recording
            else {"content": [{"type": "text", "tokens": 12}]},
        ]
    ) as api:
        with client(api).messages.stream(**REQUEST) as stream:
            real_types = [event.type for event in stream]
            real = stream.get_final_message()
        with client(api).messages.stream(**REQUEST) as stream:
            double_types = [event.type for event in stream]
            double = stream.get_final_message()
    assert real_text
    assert shape(real) == shape(double)
    assert set(real_types) == set(double_types)
    assert real.stop_reason == double.stop_reason


async def test_async_clients_and_count_tokens() -> None:
    with FakeAnthropicAPI(scenario=[TOOL_TURN]) as api:
        async_client = anthropic.AsyncAnthropic(
            api_key=api.api_key, base_url=api.base_url
        )
        async with async_client.messages.stream(**REQUEST) as stream:
            message = await stream.get_final_message()
        counted = await async_client.messages.count_tokens(
            model="claude-opus-4-8", messages=REQUEST["messages"]
        )
        await async_client.close()
    assert message.stop_reason == "tool_use"
    assert counted.input_tokens > 0


@pytest.mark.parametrize(
    ("request_body", "status", "error_type", "words"),
    [
        (
            {"model": "m", "messages": [{"role": "user", "content": "x"}]},
            400,
            "invalid_request_error",
            "max_tokens",
        ),
        ({**REQUEST, "messages": []}, 400, "invalid_request_error", "at least one"),
        (
            {
                **REQUEST,
                "messages": [
                    {"role": "user", "content": "x"},
                    {
                        "role": "assistant",
                        "content": [
                            {
                                "type": "tool_use",
                                "id": "t1",
                                "name": "bash",
                                "input": {},
                            }
                        ],
                    },
                    {"role": "user", "content": "y"},
                ],
            },
            400,
            "invalid_request_error",
            "without `tool_result`",
        ),
        (
            {
                **REQUEST,
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "nope",
                                "content": "x",
                            }
                        ],
                    }
                ],
            },
            400,
            "invalid_request_error",
            "unexpected `tool_use_id`",
        ),
        (
            {
                **REQUEST,
                "messages": [
                    {"role": "user", "content": "x"},
                    {
                        "role": "assistant",
                        "content": [{"type": "thinking", "thinking": "hm"}],
                    },
                    {"role": "user", "content": "y"},
                ],
            },
            400,
            "invalid_request_error",
            "signature",
        ),
    ],
)
def test_invalid_requests_get_the_real_error_shapes(
    request_body: dict[str, Any], status: int, error_type: str, words: str
) -> None:
    with FakeAnthropicAPI() as api:
        response = httpx.post(
            f"{api.base_url}/v1/messages",
            json=request_body,
            headers={"x-api-key": api.api_key, "anthropic-version": "2023-06-01"},
        )
    assert response.status_code == status
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == error_type
    assert words in body["error"]["message"]


def test_bad_key_unknown_beta_and_too_long_prompt() -> None:
    with FakeAnthropicAPI(context_window=50) as api:
        with pytest.raises(anthropic.AuthenticationError):
            anthropic.Anthropic(
                api_key="sk-ant-test-wrong-000000", base_url=api.base_url
            ).messages.create(**REQUEST)
        with pytest.raises(anthropic.BadRequestError, match="anthropic-beta"):
            client(api).beta.messages.create(**REQUEST, betas=["made-up-2099-01-01"])
        with pytest.raises(anthropic.BadRequestError, match="prompt is too long"):
            client(api).messages.create(
                **{**REQUEST, "messages": [{"role": "user", "content": "word " * 200}]}
            )
        assert all(
            request.headers.get("authorization", "[REDACTED]") == "[REDACTED]"
            for request in api.requests
        )


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"status": 529}, anthropic.InternalServerError),
        ({"status": 500}, anthropic.InternalServerError),
        ({"status": 429, "retry_after": 3}, anthropic.RateLimitError),
        ({"sse_error_after_events": 3}, anthropic.APIStatusError),
        ({"drop_after_events": 3}, anthropic.APIConnectionError),
    ],
)
def test_faults_reach_the_sdk_as_the_real_ones_do(
    fault: dict[str, Any], error: type[Exception]
) -> None:
    with FakeAnthropicAPI(scenario=[{**TOOL_TURN, "fault": fault}]) as api:
        with (
            pytest.raises((error, httpx2.RemoteProtocolError)) as raised,
            client(api, max_retries=0).messages.stream(**REQUEST) as stream,
        ):
            for _ in stream:
                pass
        if fault.get("status") == 429:
            response: Any = getattr(raised.value, "response", None)
            assert response is not None and response.headers["retry-after"] == "3"
        with client(api, max_retries=0).messages.stream(**REQUEST) as stream:
            assert stream.get_final_message().stop_reason == "tool_use", (
                "the turn is answered once the fault is spent"
            )


def test_a_stall_pauses_the_stream_then_it_goes_on() -> None:
    with FakeAnthropicAPI(
        scenario=[
            {**TOOL_TURN, "fault": {"stall_seconds": 0.6, "stall_after_events": 3}}
        ]
    ) as api:
        started = time.monotonic()
        with client(api).messages.stream(**REQUEST) as stream:
            message = stream.get_final_message()
    assert time.monotonic() - started >= 0.6
    assert message.stop_reason == "tool_use"


def test_malformed_tool_json_is_streamed_as_invalid_json() -> None:
    """The SDK's lenient partial parser may still hand out an input: only the raw
    fragments show the JSON was broken (the loop checks exactly that)."""
    turn = {
        "content": [
            {
                "type": "tool_use",
                "name": "bash",
                "input": {"command": "ls"},
                "malformed_json": True,
            }
        ]
    }
    with FakeAnthropicAPI(scenario=[turn]) as api:
        body = {**REQUEST, "stream": True}
        headers = {"x-api-key": api.api_key, "anthropic-version": "2023-06-01"}
        raw = httpx.post(f"{api.base_url}/v1/messages", json=body, headers=headers).text
    joined = "".join(
        json.loads(line[6:])["delta"]["partial_json"]
        for line in raw.splitlines()
        if "input_json_delta" in line
    )
    with pytest.raises(json.JSONDecodeError):
        json.loads(joined)


def test_bucket_arithmetic_refills_continuously() -> None:
    bucket = Bucket(capacity=600, window=60.0, updated=0.0)
    bucket.take(600, 0.0)
    assert bucket.seconds_until(100, 0.0) == pytest.approx(10.0)
    assert bucket.remaining(30.0) == 300
    limits = OrganisationLimits(
        Bucket(2, 60.0, updated=0.0), None, Bucket(1000, 60.0, updated=0.0)
    )
    assert limits.admit(10, 800, 0.0) == 0.0
    assert limits.admit(10, 800, 0.0) == pytest.approx(600 / (1000 / 60))
    limits.settle_output(800, 100, 0.0)
    assert limits.admit(10, 800, 0.0) == 0.0


def test_a_burst_over_the_limit_gets_429s_with_a_correct_retry_after() -> None:
    with FakeAnthropicAPI(rpm=5, window_seconds=10.0) as api:
        responses = [
            httpx.post(
                f"{api.base_url}/v1/messages",
                json=REQUEST,
                headers={"x-api-key": api.api_key, "anthropic-version": "2023-06-01"},
            )
            for _ in range(7)
        ]
    statuses = [response.status_code for response in responses]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429]
    retry_after = int(responses[5].headers["retry-after"])
    assert 1 <= retry_after <= 2  # one request refills in 10 s / 5 = 2 s
    assert responses[0].headers["anthropic-ratelimit-requests-limit"] == "5"
    assert api.stats()["rate_limited"] == 2


@pytest.mark.slow
def test_steady_traffic_at_ninety_percent_gets_no_429() -> None:
    with FakeAnthropicAPI(rpm=20, window_seconds=2.0) as api:
        interval = 2.0 / 18  # 90% of the limit
        for _ in range(36):
            started = time.monotonic()
            response = httpx.post(
                f"{api.base_url}/v1/messages",
                json=REQUEST,
                headers={"x-api-key": api.api_key, "anthropic-version": "2023-06-01"},
            )
            assert response.status_code == 200
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
        assert api.stats()["rate_limited"] == 0


def test_cache_reads_are_reported_for_a_repeated_prefix() -> None:
    marked = {
        "role": "user",
        "content": [
            {
                "type": "text",
                "text": "long context " * 50,
                "cache_control": {"type": "ephemeral"},
            }
        ],
    }
    with FakeAnthropicAPI() as api:
        first = client(api).messages.create(**{**REQUEST, "messages": [marked]})
        second = client(api).messages.create(**{**REQUEST, "messages": [marked]})
    assert (
        first.usage.cache_creation_input_tokens > 0
        and first.usage.cache_read_input_tokens == 0
    )
    assert (
        second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    )
