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
