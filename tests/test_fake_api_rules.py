"""One test per request rule of the fake API (the table in fake_anthropic/RULES.md).

Each test sends, over real HTTP, a request the rule refuses and the nearest one
it accepts, so a rule that refused everything would fail as surely as a
missing one.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from fake_anthropic import FakeAnthropicAPI
from fake_anthropic.images import read_header
from fake_anthropic.validation import MAX_REQUEST_BYTES

MODEL = "claude-sonnet-4-5-20250929"


@pytest.fixture(scope="module")
def api() -> Iterator[FakeAnthropicAPI]:
    with FakeAnthropicAPI() as served:
        yield served


def send(
    api: FakeAnthropicAPI, messages: list[dict[str, Any]], **fields: Any
) -> httpx.Response:
    body = {"model": MODEL, "max_tokens": 64, "messages": messages, **fields}
    return httpx.post(
        f"{api.base_url}/v1/messages",
        json=body,
        headers={"x-api-key": api.api_key, "anthropic-version": "2023-06-01"},
        timeout=60,
    )


def refused(response: httpx.Response, status: int, error_type: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == error_type
    return str(body["error"]["message"])


def accepted(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text


def user(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def picture(width: int, height: int, kind: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, format=kind)
    return buffer.getvalue()


def image_block(raw: bytes, media_type: str = "image/png") -> dict[str, Any]:
    return {
        "type": "image",
        "source": {
            "type": "base64",
            "media_type": media_type,
            "data": base64.b64encode(raw).decode(),
        },
    }


# -- text -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["user", "assistant"])
def test_a_text_block_of_only_whitespace_is_refused(
    api: FakeAnthropicAPI, role: str
) -> None:
    history: list[dict[str, Any]] = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [text("ok")]},
        {"role": "user", "content": "go on"},
    ]
    position = 0 if role == "user" else 1
    spoiled = list(history)
    spoiled[position] = {"role": role, "content": [text("\n\n"), text("real words")]}
    message = refused(send(api, spoiled), 400, "invalid_request_error")
    assert message == "messages: text content blocks must contain non-whitespace text"
    spoiled[position] = {"role": role, "content": [text("\n\nreal words")]}
    accepted(send(api, spoiled))


def test_an_empty_text_block_is_refused(api: FakeAnthropicAPI) -> None:
    message = refused(
        send(api, [user(text(""), text("hi"))]), 400, "invalid_request_error"
    )
    assert message == "messages: text content blocks must be non-empty"
    accepted(send(api, [user(text("hi"))]))


# -- images -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "GIF", "WEBP"])
def test_the_header_reader_agrees_with_pillow(kind: str) -> None:
    header = read_header(picture(123, 45, kind))
    assert (header.width, header.height) == (123, 45)
    assert header.media_type == f"image/{kind.lower()}"


def test_at_most_100_images_per_request(api: FakeAnthropicAPI) -> None:
    small = image_block(picture(8, 8))
    message = refused(
        send(api, [user(*[small] * 101, text("look"))]), 400, "invalid_request_error"
    )
    assert "too many images" in message and "101 > 100" in message
    accepted(send(api, [user(*[small] * 100, text("look"))]))


def test_images_inside_tool_results_count_too(api: FakeAnthropicAPI) -> None:
    small = image_block(picture(8, 8))
    calls = [
        {"type": "tool_use", "id": f"toolu_{n}", "name": "computer", "input": {}}
        for n in range(51)
    ]
    results = [
        {"type": "tool_result", "tool_use_id": f"toolu_{n}", "content": [small]}
        for n in range(51)
    ]
    messages = [
        user(*[small] * 50, text("look")),
        {"role": "assistant", "content": calls},
        user(*results),
    ]
    assert "101 > 100" in refused(send(api, messages), 400, "invalid_request_error")
    messages[0] = user(*[small] * 49, text("look"))
    accepted(send(api, messages))


def test_more_than_20_images_limits_each_to_2000_pixels(api: FakeAnthropicAPI) -> None:
    small = image_block(picture(8, 8))
    wide = image_block(picture(2001, 10))
    message = refused(
        send(api, [user(*[small] * 20, wide, text("look"))]),
        400,
        "invalid_request_error",
    )
    assert message == (
        "messages.0.content.20.image.source.base64.data: At least one of the image "
        "dimensions exceed max allowed size for many-image requests: 2000 pixels"
    )
    accepted(send(api, [user(*[small] * 19, wide, text("look"))]))
    accepted(
        send(api, [user(*[small] * 20, image_block(picture(2000, 10)), text("look"))])
    )


def test_an_image_may_be_at_most_8000_pixels_a_side(api: FakeAnthropicAPI) -> None:
    message = refused(
        send(api, [user(image_block(picture(10, 8001)), text("look"))]),
        400,
        "invalid_request_error",
    )
    assert message == (
        "messages.0.content.0.image.source.base64.data: At least one of the image "
        "dimensions exceed max allowed size: 8000 pixels"
    )
    accepted(send(api, [user(image_block(picture(10, 8000)), text("look"))]))


def test_an_image_may_be_at_most_5_mb_of_base64(api: FakeAnthropicAPI) -> None:
    limit = 5 * 1024 * 1024
    # A PNG's trailing bytes after IEND are ignored by readers: pad to the limit.
    base = picture(8, 8)
    fits = base + b"\0" * (limit * 3 // 4 - len(base))
    over = fits + b"\0" * 3
    assert len(base64.b64encode(fits)) == limit
    accepted(send(api, [user(image_block(fits), text("look"))]))
    message = refused(
        send(api, [user(image_block(over), text("look"))]), 400, "invalid_request_error"
    )
    assert message == (
        "messages.0.content.0.image.source.base64: image exceeds 5 MB maximum: "
        f"{limit + 4} bytes > {limit} bytes"
    )


def test_an_image_must_be_what_its_media_type_says(api: FakeAnthropicAPI) -> None:
    jpeg = picture(8, 8, "JPEG")
    message = refused(
        send(api, [user(image_block(jpeg, "image/png"), text("look"))]),
        400,
        "invalid_request_error",
    )
    assert "specified using the image/png media type" in message
    assert "appears to be a image/jpeg image" in message
    accepted(send(api, [user(image_block(jpeg, "image/jpeg"), text("look"))]))
    unreadable = image_block(b"not a picture at all")
    assert "Could not process image" in refused(
        send(api, [user(unreadable, text("look"))]), 400, "invalid_request_error"
    )


# -- request size -----------------------------------------------------------


def test_a_body_over_32_mb_is_a_413_before_anything_else(
    api: FakeAnthropicAPI,
) -> None:
    def body_of(size: int) -> bytes:
        head = b'{"model": "%s", "max_tokens": 64, "messages": [' % MODEL.encode()
        tail = b'{"role": "user", "content": "hi"}], "metadata": {"user_id": "'
        end = b'"}}'
        return head + tail + b"x" * (size - len(head) - len(tail) - len(end)) + end

    def post(raw: bytes, key: str) -> httpx.Response:
        return httpx.post(
            f"{api.base_url}/v1/messages",
            content=raw,
            headers={
                "x-api-key": key,
                "anthropic-version": "2023-06-01",
                "content-type": "application/json",
            },
            timeout=120,
        )

    # Refused at the edge: even a wrong key gets the 413, not a 401.
    message = refused(
        post(body_of(MAX_REQUEST_BYTES + 1), "sk-ant-wrong"), 413, "request_too_large"
    )
    assert message == "Request exceeds the maximum allowed number of bytes."
    accepted(post(body_of(MAX_REQUEST_BYTES), api.api_key))


# -- roles and content ------------------------------------------------------


def assistant(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


def test_the_first_message_is_the_users(api: FakeAnthropicAPI) -> None:
    message = refused(
        send(api, [assistant(text("hello")), user(text("hi"))]),
        400,
        "invalid_request_error",
    )
    assert message == 'messages: first message must use the "user" role'
    accepted(send(api, [user(text("hi")), assistant(text("hello")), user(text("ok"))]))


def test_roles_are_user_or_assistant(api: FakeAnthropicAPI) -> None:
    message = refused(
        send(api, [{"role": "system", "content": "be brief"}, user(text("hi"))]),
        400,
        "invalid_request_error",
    )
    assert message == "messages.0.role: Input should be 'user' or 'assistant'"


def test_consecutive_turns_of_one_role_are_combined(api: FakeAnthropicAPI) -> None:
    # Messages API reference: consecutive user or assistant turns are combined.
    accepted(send(api, [user(text("hi")), user(text("again"))]))
    call = {"type": "tool_use", "id": "toolu_a", "name": "bash", "input": {}}
    result = {"type": "tool_result", "tool_use_id": "toolu_a", "content": "ok"}
    accepted(
        send(
            api,
            [user(text("go")), assistant(text("on it")), assistant(call), user(result)],
        )
    )


def test_only_the_final_assistant_message_may_be_empty(
    api: FakeAnthropicAPI,
) -> None:
    message = refused(
        send(api, [user(text("hi")), assistant(), user(text("hello?"))]),
        400,
        "invalid_request_error",
    )
    assert message == (
        "messages.1: all messages must have non-empty content "
        "except for the optional final assistant message"
    )
    accepted(send(api, [user(text("hi")), assistant()]))


# -- tool use -----------------------------------------------------------------


def call(tool_id: str) -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": "bash", "input": {}}


def result(tool_id: str) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_id, "content": "ok"}


def test_every_tool_use_is_answered_in_the_next_message(
    api: FakeAnthropicAPI,
) -> None:
    asked = [user(text("go")), assistant(call("toolu_a"), call("toolu_b"))]
    message = refused(
        send(api, [*asked, user(result("toolu_a"))]), 400, "invalid_request_error"
    )
    assert message.startswith(
        "messages.2: `tool_use` ids were found without `tool_result` blocks "
        "immediately after: toolu_b."
    )
    accepted(send(api, [*asked, user(result("toolu_a"), result("toolu_b"))]))


def test_a_tool_result_answers_a_call_of_the_message_before(
    api: FakeAnthropicAPI,
) -> None:
    message = refused(
        send(
            api,
            [
                user(text("go")),
                assistant(call("toolu_a")),
                user(result("toolu_a")),
                assistant(text("done")),
                user(result("toolu_a")),
            ],
        ),
        400,
        "invalid_request_error",
    )
    assert message.startswith(
        "messages.4.content: unexpected `tool_use_id` found in `tool_result` blocks: toolu_a."
    )


def test_tool_results_come_first_in_their_message(api: FakeAnthropicAPI) -> None:
    asked = [user(text("go")), assistant(call("toolu_a"))]
    message = refused(
        send(api, [*asked, user(text("here it is"), result("toolu_a"))]),
        400,
        "invalid_request_error",
    )
    assert message.startswith(
        "messages.2: Did not find 1 tool_result block(s) at the beginning of this message."
    )
    accepted(send(api, [*asked, user(result("toolu_a"), text("here it is"))]))


@pytest.mark.parametrize("tool_id", ["toolu:1", "toolu 1", "tool.use", ""])
def test_a_tool_use_id_matches_the_pattern(api: FakeAnthropicAPI, tool_id: str) -> None:
    message = refused(
        send(api, [user(text("go")), assistant(call(tool_id)), user(result(tool_id))]),
        400,
        "invalid_request_error",
    )
    assert message == (
        "messages.1.content.0.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'"
    )
    accepted(
        send(api, [user(text("go")), assistant(call("Az09_-")), user(result("Az09_-"))])
    )


def test_a_tool_use_without_an_id_is_refused(api: FakeAnthropicAPI) -> None:
    nameless = {"type": "tool_use", "name": "bash", "input": {}}
    message = refused(
        send(api, [user(text("go")), assistant(nameless)]), 400, "invalid_request_error"
    )
    assert message == "messages.1.content.0.tool_use.id: Field required"
    orphan = {"type": "tool_result", "content": "ok"}
    message = refused(
        send(api, [user(text("go")), assistant(call("toolu_a")), user(orphan)]),
        400,
        "invalid_request_error",
    )
    assert message == "messages.2.content.0.tool_result.tool_use_id: Field required"


def test_tool_use_ids_are_unique_in_the_request(api: FakeAnthropicAPI) -> None:
    first = [user(text("go")), assistant(call("toolu_a")), user(result("toolu_a"))]
    again = [assistant(call("toolu_a")), user(result("toolu_a"))]
    message = refused(send(api, [*first, *again]), 400, "invalid_request_error")
    assert message == "messages.3.content.0: `tool_use` ids must be unique"
    accepted(send(api, [*first, assistant(call("toolu_b")), user(result("toolu_b"))]))


# -- thinking -------------------------------------------------------------------

THINKING = {"type": "enabled", "budget_tokens": 1024}


def thought(signature: str | None = "sig") -> dict[str, Any]:
    block: dict[str, Any] = {"type": "thinking", "thinking": "let me see"}
    if signature is not None:
        block["signature"] = signature
    return block


def test_a_thinking_block_keeps_its_signature(api: FakeAnthropicAPI) -> None:
    message = refused(
        send(
            api,
            [
                user(text("hi")),
                assistant(thought(None), text("hello")),
                user(text("ok")),
            ],
        ),
        400,
        "invalid_request_error",
    )
    assert message == "messages.1.content.0.thinking.signature: Field required"
    redacted = {"type": "redacted_thinking"}
    assert (
        refused(
            send(
                api,
                [user(text("hi")), assistant(redacted, text("hi")), user(text("ok"))],
            ),
            400,
            "invalid_request_error",
        )
        == "messages.1.content.0.redacted_thinking.data: Field required"
    )
    accepted(
        send(
            api,
            [user(text("hi")), assistant(thought(), text("hello")), user(text("ok"))],
        )
    )


def test_with_thinking_on_the_tool_use_turn_keeps_its_thinking(
    api: FakeAnthropicAPI,
) -> None:
    def loop(*turn: dict[str, Any]) -> list[dict[str, Any]]:
        return [user(text("go")), assistant(*turn), user(result("toolu_a"))]

    message = refused(
        send(
            api,
            loop(text("running it"), call("toolu_a")),
            thinking=THINKING,
            max_tokens=2048,
        ),
        400,
        "invalid_request_error",
    )
    assert message.startswith(
        "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but "
        "found `text`. When `thinking` is enabled, a final `assistant` message must "
        "start with a thinking block"
    )
    accepted(
        send(api, loop(thought(), call("toolu_a")), thinking=THINKING, max_tokens=2048)
    )
    # Without thinking on, or once the tool-use turn is over, it is not needed.
    accepted(send(api, loop(text("running it"), call("toolu_a"))))
    finished = [
        *loop(thought(), call("toolu_a")),
        assistant(text("done")),
        user(text("next")),
    ]
    finished[1] = assistant(text("running it"), call("toolu_a"))
    accepted(send(api, finished, thinking=THINKING, max_tokens=2048))


# -- max_tokens ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "ceiling"),
    [
        ("claude-sonnet-4-5-20250929", 64_000),
        ("claude-haiku-4-5-20251001", 64_000),
        ("claude-opus-4-1-20250805", 32_000),
        ("claude-opus-4-6", 128_000),
    ],
)
def test_max_tokens_at_most_the_models_maximum(
    api: FakeAnthropicAPI, model: str, ceiling: int
) -> None:
    over = send(api, [user(text("hi"))], model=model, max_tokens=ceiling + 1)
    assert refused(over, 400, "invalid_request_error") == (
        f"max_tokens: {ceiling + 1} > {ceiling}, which is the maximum allowed "
        f"number of output tokens for {model}"
    )
    accepted(send(api, [user(text("hi"))], model=model, max_tokens=ceiling))


def test_an_unlisted_model_has_no_output_ceiling(api: FakeAnthropicAPI) -> None:
    accepted(
        send(api, [user(text("hi"))], model="claude-unlisted-9", max_tokens=500_000)
    )


# -- prompt caching -----------------------------------------------------------


def test_at_most_four_cache_breakpoints(api: FakeAnthropicAPI) -> None:
    cached = {"type": "ephemeral"}
    parts = [{**text(f"part {n}"), "cache_control": cached} for n in range(5)]
    message = refused(send(api, [user(*parts)]), 400, "invalid_request_error")
    assert (
        message == "A maximum of 4 blocks with cache_control may be provided. Found 5."
    )
    accepted(send(api, [user(*parts[:4])]))


# The product never offers more output than the models overview allows: a user
# who picks the offered maximum must not get this 400 from the real API.
def test_the_products_output_ceilings_are_the_documented_ones() -> None:
    from computer_use_demo.models import MODEL_TO_MODEL_CONF
    from fake_anthropic.model_classes import max_output_tokens

    family_fallbacks = {"claude-opus-4", "claude-sonnet-4", "claude-haiku-4"}
    above = {
        model: (config.max_output_tokens, documented)
        for model, config in MODEL_TO_MODEL_CONF.items()
        if model not in family_fallbacks
        and (documented := max_output_tokens(model)) is not None
        and config.max_output_tokens > documented
    }
    assert above == {}
