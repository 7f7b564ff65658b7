"""The Messages API's rules for what a request may hold, met before it is sent:
no whitespace-only text, at most 100 images within their size limits, a body
under 32 MB.

Pure: returns a new list that shares unchanged messages with the one given and
holds copies of changed ones; never writes into a message or block it is given.
An image that must go becomes a short text placeholder inside its own block's
place, so every tool_use keeps its tool_result.

Sources (each limit below names its page):
- vision ("General limits"): https://platform.claude.com/docs/en/build-with-claude/vision
- errors (request size limits, 413 request_too_large):
  https://platform.claude.com/docs/en/api/errors
- non-whitespace text: the docs are silent; the Messages API answers 400
  "text content blocks must contain non-whitespace text" (the wire message,
  as fake_anthropic/RULES.md quotes it).
"""

from __future__ import annotations

import base64
import binascii
import functools
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from anthropic.types.beta import BetaMessageParam

from .blocks import block_type, content_blocks

# Vision page: "up to 100 images in a single API request".
MAX_IMAGES_PER_REQUEST = 100
# Vision page: an image above 8000 px on a side is rejected.
MAX_IMAGE_SIDE_PX = 8000
# Vision page: more than 20 images in one request: each at most 2000x2000 px.
MANY_IMAGES = 20
MANY_IMAGES_MAX_SIDE_PX = 2000
# Vision page: at most 5 MB per image through the API. Counted on the base64
# text as sent, which is the larger of the two readings.
MAX_IMAGE_BYTES = 5 * 1024 * 1024
# Errors page, request size limits: 32 MB for the Messages API (413
# request_too_large above it). The page does not say which MB: the smaller
# reading holds under both.
MAX_REQUEST_BYTES = 32_000_000
# Kept free of the body budget for what the SDK adds around the parameters.
REQUEST_BYTES_HEADROOM = 256 * 1024

IMAGE_LEFT_OUT = "[screenshot removed to keep the request within the API's limits]"
IMAGE_TOO_LARGE = "[image left out: larger than the API accepts ({why})]"


@dataclass(frozen=True, slots=True)
class RulesReport:
    """What meeting the rules changed, and the request's size afterwards."""

    blank_texts_dropped: int
    images_sent: int
    images_left_out: int  # for the count or the byte budget
    images_too_large: int  # each above a per-image limit
    messages_bytes: int  # the JSON size of the messages as sent
    fits: bool  # within the byte budget


def is_blank_text(block: Any) -> bool:
    """A text block with nothing but whitespace: the API refuses it."""
    return block_type(block) == "text" and not str(block.get("text") or "").strip()


@dataclass(frozen=True, slots=True)
class ImageFacts:
    encoded_bytes: int
    width: int | None  # None: the header could not be read
    height: int | None


@functools.lru_cache(maxsize=512)
def _facts_of(data: str) -> ImageFacts:
    """Size and dimensions of a base64 image; strings cache their hash, so a
    screenshot seen on every request is decoded once."""
    width = height = None
    try:
        from PIL import Image

        with Image.open(io.BytesIO(base64.b64decode(data, validate=False))) as image:
            width, height = image.size
    except (binascii.Error, OSError, ValueError, ImportError):
        pass
    return ImageFacts(len(data), width, height)


def image_facts(block: Any) -> ImageFacts | None:
    """Facts of an image block with base64 data (None for URL and file sources)."""
    source = block.get("source") if isinstance(block, dict) else None
    if not isinstance(source, dict) or source.get("type") != "base64":
        return None
    data = source.get("data")
    return _facts_of(data) if isinstance(data, str) else None


def _too_large(facts: ImageFacts | None, max_side: int) -> str | None:
    if facts is None:
        return None
    if facts.encoded_bytes > MAX_IMAGE_BYTES:
        return f"{facts.encoded_bytes / 2**20:.1f} MB > 5 MB"
    sides = [side for side in (facts.width, facts.height) if side is not None]
    if sides and max(sides) > max_side:
        return f"{facts.width}x{facts.height} px > {max_side}x{max_side}"
    return None


# An image's place: (message, block, inner) with inner None for a top-level image.
_Place = tuple[int, int, int | None]


class _Copy:
    """The messages being shaped; a message is copied the first time it changes."""

    def __init__(self, messages: Sequence[Any]) -> None:
        self.messages: list[Any] = list(messages)
        self._owned: set[int] = set()

    def blocks(self, index: int) -> list[Any]:
        if index not in self._owned:
            message = self.messages[index]
            self.messages[index] = {
                **message,
                "content": content_blocks(message.get("content")),
            }
            self._owned.add(index)
        return cast(list[Any], self.messages[index]["content"])

    def put(self, place: _Place, replacement: Any) -> None:
        index, block_index, inner_index = place
        message_blocks = self.blocks(index)
        if inner_index is None:
            message_blocks[block_index] = replacement
            return
        block = message_blocks[block_index]
        inner = list(block["content"])
        inner[inner_index] = replacement
        message_blocks[block_index] = {**block, "content": inner}

    def changed(self, original: Sequence[Any]) -> bool:
        return bool(self._owned) or len(self.messages) != len(original)

    def get(self, place: _Place) -> Any:
        index, block_index, inner_index = place
        block = content_blocks(self.messages[index].get("content"))[block_index]
        return block if inner_index is None else block["content"][inner_index]


def _drop_blank_texts(shaped: _Copy) -> int:
    """Whitespace-only text goes, also inside tool results; a message left
    with nothing is dropped (the API joins the neighbours of one role)."""
    dropped = 0
    for index in range(len(shaped.messages)):
        message = shaped.messages[index]
        original = content_blocks(message.get("content"))
        blank_inside = [
            position
            for position, block in enumerate(original)
            if block_type(block) == "tool_result"
            and isinstance(block.get("content"), list)
            and any(is_blank_text(inner) for inner in block["content"])
        ]
        blank = [block for block in original if is_blank_text(block)]
        if not blank and not blank_inside:
            continue
        kept = shaped.blocks(index)
        for position in blank_inside:
            inner = kept[position]["content"]
            dropped += sum(is_blank_text(item) for item in inner)
            rest = [item for item in inner if not is_blank_text(item)]
            # A result without content is valid; an empty text block is not.
            kept[position] = {
                key: value for key, value in kept[position].items() if key != "content"
            }
            if rest:
                kept[position]["content"] = rest
        dropped += len(blank)
        kept[:] = [block for block in kept if not is_blank_text(block)]
    shaped.messages = [
        message for message in shaped.messages if content_blocks(message.get("content"))
    ]
    return dropped


def _images(messages: Sequence[Any]) -> list[_Place]:
    """Every image a request holds, oldest first: user images and tool-result images."""
    places: list[_Place] = []
    for index, message in enumerate(messages):
        if message.get("role") != "user":
            continue
        for block_index, block in enumerate(content_blocks(message.get("content"))):
            if block_type(block) == "image":
                places.append((index, block_index, None))
            elif block_type(block) == "tool_result" and isinstance(
                block.get("content"), list
            ):
                places.extend(
                    (index, block_index, inner_index)
                    for inner_index, inner in enumerate(block["content"])
                    if block_type(inner) == "image"
                )
    return places


def _text(text: str) -> dict[str, str]:
    return {"type": "text", "text": text}


def _encoded_size(block: Any) -> int:
    return len(json.dumps(block))


def apply_request_rules(
    messages: Sequence[BetaMessageParam], *, max_bytes: int = MAX_REQUEST_BYTES
) -> tuple[list[BetaMessageParam], RulesReport]:
    """`messages` as the API accepts them, within `max_bytes` of JSON where images
    can make room (the oldest go first); the report says what changed. When
    nothing had to change, the list given is returned as it is."""
    shaped = _Copy(messages)
    blank = _drop_blank_texts(shaped)

    places = _images(shaped.messages)
    too_large = 0
    alive: list[_Place] = []
    for place in places:
        facts = image_facts(shaped.get(place))
        if why := _too_large(facts, MAX_IMAGE_SIDE_PX):
            shaped.put(place, _text(IMAGE_TOO_LARGE.format(why=why)))
            too_large += 1
        else:
            alive.append(place)

    left_out = 0
    surplus = len(alive) - MAX_IMAGES_PER_REQUEST
    if surplus > 0:
        for place in alive[:surplus]:
            shaped.put(place, _text(IMAGE_LEFT_OUT))
        left_out += surplus
        alive = alive[surplus:]

    # Many images: each must fit 2000x2000; the oldest large ones go until the
    # request has few enough images for the large ones left to pass.
    if len(alive) > MANY_IMAGES:
        for place in list(alive):
            if len(alive) <= MANY_IMAGES:
                break
            if why := _too_large(
                image_facts(shaped.get(place)), MANY_IMAGES_MAX_SIDE_PX
            ):
                shaped.put(place, _text(IMAGE_TOO_LARGE.format(why=why)))
                too_large += 1
                alive.remove(place)

    size = len(json.dumps(shaped.messages))
    while size > max_bytes and alive:
        place = alive.pop(0)
        size -= _encoded_size(shaped.get(place)) - _encoded_size(_text(IMAGE_LEFT_OUT))
        shaped.put(place, _text(IMAGE_LEFT_OUT))
        left_out += 1

    report = RulesReport(
        blank_texts_dropped=blank,
        images_sent=len(alive),
        images_left_out=left_out,
        images_too_large=too_large,
        messages_bytes=size,
        fits=size <= max_bytes,
    )
    if not shaped.changed(messages) and isinstance(messages, list):
        return messages, report  # the very list given: nothing to copy
    return cast(list[BetaMessageParam], shaped.messages), report


def messages_budget_bytes(rest_of_request: dict[str, Any], scale: float = 1.0) -> int:
    """What the messages may take of the 32 MB body, after the rest of the
    request (system, tools, options) and the headroom; `scale` < 1 after a 413."""
    rest = len(json.dumps(rest_of_request, default=str))
    return max(0, int(MAX_REQUEST_BYTES * scale) - rest - REQUEST_BYTES_HEADROOM)
