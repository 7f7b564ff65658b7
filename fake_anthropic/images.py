"""Reads what the server checks in an image block: its format and pixel size.

The fake does not decode pictures; the four formats the vision page lists
(JPEG, PNG, GIF, WebP) all state their size in a short header, which is all
the limits need.
"""

from __future__ import annotations

import base64
import binascii
import struct
from dataclasses import dataclass

MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


@dataclass(frozen=True)
class ImageHeader:
    media_type: str
    width: int
    height: int


class UnreadableImage(ValueError):
    """The bytes are not an image of any format the API takes."""


def decode_base64(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as error:
        raise UnreadableImage("not valid base64") from error


def read_header(raw: bytes) -> ImageHeader:
    """The format and size stated by the image's own header."""
    if raw.startswith(b"\x89PNG\r\n\x1a\n") and raw[12:16] == b"IHDR":
        width, height = struct.unpack(">II", raw[16:24])
        return ImageHeader("image/png", width, height)
    if raw[:6] in (b"GIF87a", b"GIF89a") and len(raw) >= 10:
        width, height = struct.unpack("<HH", raw[6:10])
        return ImageHeader("image/gif", width, height)
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return _webp(raw)
    if raw[:2] == b"\xff\xd8":
        return _jpeg(raw)
    raise UnreadableImage("unknown image format")


def _webp(raw: bytes) -> ImageHeader:
    chunk = raw[12:16]
    if chunk == b"VP8X" and len(raw) >= 30:
        width = 1 + int.from_bytes(raw[24:27], "little")
        height = 1 + int.from_bytes(raw[27:30], "little")
    elif chunk == b"VP8 " and len(raw) >= 30:
        width, height = struct.unpack("<HH", raw[26:30])
        width, height = width & 0x3FFF, height & 0x3FFF
    elif chunk == b"VP8L" and len(raw) >= 25:
        bits = int.from_bytes(raw[21:25], "little")
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    else:
        raise UnreadableImage("truncated WebP header")
    return ImageHeader("image/webp", width, height)


# Start-of-frame markers carry the size; the others (DHT, JPG, DAC) do not.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg(raw: bytes) -> ImageHeader:
    position = 2
    while position + 4 <= len(raw):
        if raw[position] != 0xFF:
            raise UnreadableImage("corrupt JPEG segment")
        marker = raw[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            position += 2
            continue
        (length,) = struct.unpack(">H", raw[position + 2 : position + 4])
        if marker in _SOF_MARKERS and position + 9 <= len(raw):
            height, width = struct.unpack(">HH", raw[position + 5 : position + 9])
            return ImageHeader("image/jpeg", width, height)
        position += 2 + length
    raise UnreadableImage("JPEG without a frame header")
