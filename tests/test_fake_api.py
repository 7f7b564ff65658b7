"""The fake API as the real SDK sees it: shapes, validation, faults, rate limits."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import pytest

from fake_anthropic import FakeAnthropicAPI
from fake_anthropic.buckets import Bucket, OrganisationLimits
from fake_anthropic.model_classes import (
    cache_reads_count_toward_itpm,
    min_cacheable_tokens,
    model_class,
)
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


# ---- the prompt cache -------------------------------------------------------

SONNET = "claude-sonnet-4-6"
HEADERS = {"anthropic-version": "2023-06-01"}


class Clock:
    """The fake API's clock, moved by the test instead of waiting."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def post(api: FakeAnthropicAPI, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{api.base_url}/v1/messages",
        json=body,
        headers={**HEADERS, "x-api-key": api.api_key},
        timeout=30,
    )


def text_block(words: int, tag: str, mark: dict[str, str] | None = None) -> Any:
    block: dict[str, Any] = {"type": "text", "text": f"{tag}: " + "lorem " * words}
    if mark is not None:
        block["cache_control"] = mark
    return block


EPHEMERAL = {"type": "ephemeral"}


def cached_body(
    model: str = SONNET, words: int = 1_500, tail: str = "What next?", **extra: Any
) -> dict[str, Any]:
    """A long marked user block, then an unmarked question after it."""
    return {
        "model": model,
        "max_tokens": 64,
        "messages": [
            {
                "role": "user",
                "content": [
                    text_block(words, "context", extra.pop("mark", EPHEMERAL)),
                    {"type": "text", "text": tail},
                ],
            }
        ],
        **extra,
    }


def usage_of(response: httpx.Response) -> dict[str, int]:
    assert response.status_code == 200, response.text
    usage: dict[str, int] = response.json()["usage"]
    return usage


def count(api: FakeAnthropicAPI, body: dict[str, Any]) -> int:
    response = httpx.post(
        f"{api.base_url}/v1/messages/count_tokens",
        json={key: value for key, value in body.items() if key != "max_tokens"},
        headers={**HEADERS, "x-api-key": api.api_key},
    )
    return int(response.json()["input_tokens"])


def test_a_breakpoint_writes_its_prefix_and_the_next_request_reads_it() -> None:
    with FakeAnthropicAPI() as api:
        first = usage_of(post(api, cached_body()))
        second = usage_of(post(api, cached_body(tail="And then?")))
        total = count(api, cached_body())
        sdk_usage = client(api).messages.create(**cached_body()).usage
    assert first["cache_read_input_tokens"] == 0
    assert first["cache_creation_input_tokens"] > 1_024
    # input_tokens: only what follows the last cache write
    assert first["input_tokens"] + first["cache_creation_input_tokens"] == total
    assert first["input_tokens"] < 20
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cache_creation_input_tokens"] == 0
    assert sdk_usage.cache_read_input_tokens == first["cache_creation_input_tokens"]


def test_message_start_carries_the_cache_usage() -> None:
    with FakeAnthropicAPI() as api:
        post(api, cached_body())
        raw = post(api, {**cached_body(), "stream": True}).text
    start = next(
        json.loads(line[6:])
        for line in raw.splitlines()
        if line.startswith("data: ") and '"message_start"' in line
    )
    usage = start["message"]["usage"]
    assert usage["cache_read_input_tokens"] > 1_024
    assert usage["cache_creation_input_tokens"] == 0 and usage["input_tokens"] < 20


@pytest.mark.parametrize(
    ("model", "cached"),
    [
        (SONNET, True),  # 1,024
        ("claude-opus-4-1-20250805", True),  # 1,024
        ("claude-3-5-haiku-20241022", False),  # 2,048
        ("claude-haiku-4-5-20251001", False),  # 4,096
        ("claude-opus-4-5-20251101", False),  # 4,096
    ],
)
def test_a_prefix_below_the_models_minimum_length_is_not_cached(
    model: str, cached: bool
) -> None:
    with FakeAnthropicAPI() as api:
        body = cached_body(model, words=1_300)
        assert 1_024 < count(api, body) < 2_048
        first = usage_of(post(api, body))
        second = usage_of(post(api, body))
    assert (first["cache_creation_input_tokens"] > 0) is cached
    assert (second["cache_read_input_tokens"] > 0) is cached
    if not cached:
        assert second["input_tokens"] == count_total(first)


def count_total(usage: dict[str, int]) -> int:
    return (
        usage["input_tokens"]
        + usage["cache_creation_input_tokens"]
        + usage["cache_read_input_tokens"]
    )


def test_a_fifth_breakpoint_is_a_400_like_the_api() -> None:
    body = {
        "model": SONNET,
        "max_tokens": 64,
        "system": [text_block(10, "system", EPHEMERAL)],
        "messages": [
            {
                "role": "user",
                "content": [text_block(10, f"part {n}", EPHEMERAL) for n in range(4)],
            }
        ],
    }
    with FakeAnthropicAPI() as api:
        refused = post(api, body)
        body["system"] = [text_block(10, "system")]
        accepted = post(api, body)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "maximum of 4 blocks with cache_control" in error["message"]
    assert accepted.status_code == 200


def test_an_entry_lives_five_minutes_from_its_last_hit() -> None:
    clock = Clock()
    with FakeAnthropicAPI(clock=clock) as api:
        written = usage_of(post(api, cached_body()))["cache_creation_input_tokens"]
        clock.now += 299
        assert usage_of(post(api, cached_body()))["cache_read_input_tokens"] == written
        clock.now += 299  # 598 s after the write, 299 s after the hit
        assert usage_of(post(api, cached_body()))["cache_read_input_tokens"] == written
        clock.now += 301
        expired = usage_of(post(api, cached_body()))
    assert expired["cache_read_input_tokens"] == 0
    assert expired["cache_creation_input_tokens"] == written


def test_a_one_hour_ttl_outlives_five_minutes_and_then_expires() -> None:
    clock = Clock()
    hour = {"type": "ephemeral", "ttl": "1h"}
    with FakeAnthropicAPI(clock=clock) as api:
        post(api, cached_body(mark=hour))
        clock.now += 3_000
        kept = usage_of(post(api, cached_body(mark=hour)))
        clock.now += 3_601
        gone = usage_of(post(api, cached_body(mark=hour)))
    assert kept["cache_read_input_tokens"] > 1_024
    assert gone["cache_read_input_tokens"] == 0


def many_blocks(count: int, marked_at: int) -> dict[str, Any]:
    return {
        "model": SONNET,
        "max_tokens": 64,
        "messages": [
            {
                "role": "user",
                "content": [
                    text_block(150, f"block {n}", EPHEMERAL if n == marked_at else None)
                    for n in range(count)
                ],
            }
        ],
    }


@pytest.mark.parametrize(("later_blocks", "hit"), [(20, True), (21, False)])
def test_a_breakpoint_looks_back_twenty_blocks_for_an_earlier_prefix(
    later_blocks: int, hit: bool
) -> None:
    with FakeAnthropicAPI() as api:
        first = usage_of(post(api, many_blocks(10, marked_at=9)))
        later = usage_of(
            post(api, many_blocks(10 + later_blocks, marked_at=9 + later_blocks))
        )
    written = first["cache_creation_input_tokens"]
    assert written > 1_024
    assert later["cache_read_input_tokens"] == (written if hit else 0)
    assert later["input_tokens"] == 0  # the breakpoint is the last block


def test_the_read_is_the_longest_prefix_any_breakpoint_finds() -> None:
    with FakeAnthropicAPI() as api:
        post(api, many_blocks(10, marked_at=9))
        second_body = many_blocks(40, marked_at=39)
        # a second breakpoint near the old one finds it although the last is 30 blocks on
        second_body["messages"][0]["content"][12]["cache_control"] = EPHEMERAL
        second = usage_of(post(api, second_body))
        third = usage_of(post(api, many_blocks(45, marked_at=44)))
    assert second["cache_read_input_tokens"] > 1_024
    assert second["input_tokens"] == 0
    # the second request wrote both its breakpoints: 39 is 5 blocks back from 44
    assert third["cache_read_input_tokens"] == count_total(second)


def test_the_cache_keeps_its_most_recently_used_entries() -> None:
    with FakeAnthropicAPI(cache_max_entries=2) as api:
        for tag in ("a", "b", "c"):  # "a" is pushed out
            post(api, cached_body(tail=tag, words=1_400 + len(tag) + ord(tag)))
        again_a = usage_of(post(api, cached_body(tail="a", words=1_400 + 1 + ord("a"))))
        again_c = usage_of(post(api, cached_body(tail="c", words=1_400 + 1 + ord("c"))))
    assert again_a["cache_read_input_tokens"] == 0
    assert again_c["cache_read_input_tokens"] > 0


def test_different_models_do_not_share_cache_entries() -> None:
    with FakeAnthropicAPI() as api:
        post(api, cached_body(SONNET))
        other = usage_of(post(api, cached_body("claude-sonnet-4-5-20250929")))
    assert other["cache_read_input_tokens"] == 0


# ---- rate limits per model class ---------------------------------------------


@pytest.mark.parametrize(
    ("model", "pool"),
    [
        ("claude-opus-4-8", "opus-4"),
        ("claude-opus-4-1-20250805", "opus-4"),
        ("claude-opus-4-20250514", "opus-4"),
        ("claude-sonnet-4-5-20250929", "sonnet-4"),
        ("claude-sonnet-4-6", "sonnet-4"),
        ("claude-sonnet-4-0", "sonnet-4"),
        ("claude-haiku-4-5-20251001", "haiku-4"),
        ("claude-haiku-4-5", "haiku-4"),
        ("claude-3-5-haiku-20241022", "claude-3-5-haiku-20241022"),
        ("made-up-model", "made-up-model"),
    ],
)
def test_model_ids_map_to_their_rate_limit_class(model: str, pool: str) -> None:
    assert model_class(model) == pool


def test_minimum_lengths_and_the_older_models_that_count_cache_reads() -> None:
    assert min_cacheable_tokens("claude-sonnet-4-5-20250929") == 1_024
    assert min_cacheable_tokens("claude-haiku-4-5") == 4_096
    assert min_cacheable_tokens("claude-opus-4-5-20251101") == 4_096
    assert min_cacheable_tokens("claude-3-5-haiku-latest") == 2_048
    assert cache_reads_count_toward_itpm("claude-3-5-haiku-20241022")
    assert not cache_reads_count_toward_itpm("claude-sonnet-4-5-20250929")
    assert not cache_reads_count_toward_itpm("claude-haiku-4-5")


def test_each_model_class_has_its_own_buckets_and_headers() -> None:
    def ask(api: FakeAnthropicAPI, model: str) -> httpx.Response:
        return post(api, {**REQUEST, "model": model})

    with FakeAnthropicAPI(
        rpm=2, window_seconds=60, class_limits={"opus-4": {"rpm": 3}}
    ) as api:
        sonnet = [
            ask(api, m)
            for m in (SONNET, "claude-sonnet-4-5-20250929", "claude-sonnet-4-0")
        ]
        opus = [
            ask(api, m)
            for m in ("claude-opus-4-8", "claude-opus-4-1", "claude-opus-4-5")
        ]
        haiku = [ask(api, "claude-haiku-4-5") for _ in range(2)]
        unknown = ask(api, "claude-made-up-1")
        stats = api.stats()
    assert [r.status_code for r in sonnet] == [200, 200, 429]
    assert [r.status_code for r in opus] == [200, 200, 200]
    assert [r.status_code for r in haiku] == [200, 200]
    assert unknown.status_code == 200
    assert opus[2].headers["anthropic-ratelimit-requests-limit"] == "3"
    assert opus[2].headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert sonnet[1].headers["anthropic-ratelimit-requests-limit"] == "2"
    assert sonnet[1].headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert haiku[0].headers["anthropic-ratelimit-requests-remaining"] == "1"
    assert stats["by_class"]["sonnet-4"]["rate_limited"] == 1
    assert stats["by_class"]["opus-4"]["requests"] == 3


def test_input_tokens_per_minute_counts_only_uncached_input() -> None:
    clock = Clock()
    with FakeAnthropicAPI(itpm=3_000, window_seconds=60, clock=clock) as api:
        first = post(api, cached_body(words=1_800))
        second = post(api, cached_body(words=1_800, tail="Again?"))
    written = usage_of(first)["cache_creation_input_tokens"]
    assert 2_000 < written < 3_000  # cache writes count
    assert int(first.headers["anthropic-ratelimit-input-tokens-remaining"]) < 1_000
    assert second.status_code == 200  # the read is free; the whole would not fit
    assert usage_of(second)["cache_read_input_tokens"] == written
    remaining = int(second.headers["anthropic-ratelimit-input-tokens-remaining"])
    assert (
        remaining
        == 3_000 - count_total(usage_of(first)) - usage_of(second)["input_tokens"]
    )


def test_older_models_count_cache_reads_toward_input_tokens_per_minute() -> None:
    clock = Clock()
    model = "claude-3-5-haiku-20241022"
    with FakeAnthropicAPI(itpm=5_000, window_seconds=60, clock=clock) as api:
        first = post(api, cached_body(model, words=2_200))
        second = post(api, cached_body(model, words=2_200))
        clock.now += 60
        third = post(api, cached_body(model, words=2_200))
    assert usage_of(first)["cache_creation_input_tokens"] > 2_048
    assert second.status_code == 429  # its cache read counts as well
    assert (
        usage_of(third)["cache_read_input_tokens"] > 2_048
    )  # a 429 left the cache as it was


def test_output_is_precharged_from_max_tokens_and_corrected_after() -> None:
    clock = Clock()
    with FakeAnthropicAPI(otpm=1_000, window_seconds=60, clock=clock) as api:
        first = post(api, {**REQUEST, "max_tokens": 800})
        second = post(api, {**REQUEST, "max_tokens": 800})
    assert first.headers["anthropic-ratelimit-output-tokens-remaining"] == "200"
    assert second.status_code == 200  # the unused 798 came back when the answer ended


def test_a_refused_request_is_not_charged_and_writes_no_cache() -> None:
    clock = Clock()
    with FakeAnthropicAPI(itpm=1_000, window_seconds=60, clock=clock) as api:
        refused = post(api, cached_body(words=1_500))
        clock.now += 120
        stats = api.stats()
        later = post(api, {**cached_body(words=1_500), "model": SONNET})
    assert refused.status_code == 429
    assert stats["input_tokens_accepted"] == 0
    assert later.status_code == 429  # still too large for the bucket, never cached


# ---- latency ---------------------------------------------------------------


def test_latency_delays_the_response_after_the_request_was_counted() -> None:
    with FakeAnthropicAPI(latency=0.5, rpm=10, window_seconds=60) as api:
        sent = time.monotonic()
        response = post(api, REQUEST)
        answered = time.monotonic()
        counted_at = api.stats()["accepted"][0][0]
        (record,) = api.message_requests()
    assert response.status_code == 200
    assert answered - sent >= 0.5
    assert counted_at - sent < 0.4  # metered at reception, not when answered
    assert 0 <= counted_at - record.at < 0.1
    assert response.headers["anthropic-ratelimit-requests-remaining"] == "9"


def test_a_scenario_turn_sets_its_own_latency() -> None:
    with FakeAnthropicAPI(scenario=[{"latency": 0.4, **TOOL_TURN}]) as api:
        started = time.monotonic()
        with client(api).messages.stream(**REQUEST) as stream:
            assert stream.get_final_message().stop_reason == "tool_use"
        slow = time.monotonic() - started
        started = time.monotonic()
        client(api).messages.create(**REQUEST)
        fast = time.monotonic() - started
    assert slow >= 0.4 > fast


def test_stop_when_ends_each_conversation_on_its_own() -> None:
    scenario = {
        "stop_when": "ALL DONE",
        "final": {"content": [{"type": "text", "text": "Finished."}]},
        "default": TOOL_TURN,
    }

    def answer_to(result: str) -> Any:
        body = {
            **REQUEST,
            "messages": [
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "t1", "name": "bash", "input": {}}
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "t1", "content": result}
                    ],
                },
            ],
        }
        return client(api).messages.create(**body)

    with FakeAnthropicAPI(scenario=scenario) as api:
        assert answer_to("still working").stop_reason == "tool_use"
        done = answer_to("step 9\nALL DONE")
        assert answer_to("more").stop_reason == "tool_use"
    assert done.stop_reason == "end_turn" and done.content[0].text == "Finished."


def test_the_command_line_server_takes_latency_and_class_limits() -> None:
    command = [
        sys.executable,
        "-m",
        "fake_anthropic",
        "--latency",
        "0.4",
        "--rpm",
        "5",
        "--class-limits",
        '{"opus-4": {"rpm": 7}}',
    ]
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[1]
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        for _ in range(100):
            try:
                httpx.get(f"{base_url}/_stats", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        started = time.monotonic()
        response = httpx.post(
            f"{base_url}/v1/messages",
            json=REQUEST,
            headers={**HEADERS, "x-api-key": "sk-ant-test-fake-api-key-0000"},
            timeout=10,
        )
        elapsed = time.monotonic() - started
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert response.status_code == 200
    assert elapsed >= 0.4
    assert response.headers["anthropic-ratelimit-requests-limit"] == "7"


def test_the_fixtures_take_the_latency_option(
    fake_api_factory: Any, request: pytest.FixtureRequest
) -> None:
    """`pytest --fake-api-latency S` sets every fixture API's latency; `latency=` wins."""
    default = fake_api_factory()
    own = fake_api_factory(latency=0.25)
    assert default.config.latency == request.config.getoption("--fake-api-latency")
    assert own.config.latency == 0.25
    started = time.monotonic()
    assert post(own, REQUEST).status_code == 200
    assert time.monotonic() - started >= 0.25
