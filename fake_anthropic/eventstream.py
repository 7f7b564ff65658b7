"""The AWS event-stream binary framing, as Bedrock's InvokeModelWithResponseStream sends it.

A message is a prelude (total length, headers length: two big-endian uint32),
the prelude's CRC32, the headers, the payload, and the CRC32 of everything
before it. A header is its name's length (one byte), the name, a value type
(7: string) and the value (a uint16 length, then the bytes). botocore's
`botocore.eventstream` decodes it; the SDK's Bedrock client reads every
`chunk` event's `bytes` (base64 in the JSON payload) as one Anthropic event.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from typing import Any

_STRING = 7
_PRELUDE = struct.Struct(">II")


def encode_message(headers: dict[str, str], payload: bytes) -> bytes:
    encoded_headers = b"".join(_header(name, value) for name, value in headers.items())
    total = _PRELUDE.size + 4 + len(encoded_headers) + len(payload) + 4
    prelude = _PRELUDE.pack(total, len(encoded_headers))
    head = prelude + struct.pack(">I", binascii.crc32(prelude))
    body = head + encoded_headers + payload
    return body + struct.pack(">I", binascii.crc32(body))


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return (
        struct.pack(">B", len(raw_name))
        + raw_name
        + struct.pack(">BH", _STRING, len(raw_value))
        + raw_value
    )


def chunk_event(event: dict[str, Any]) -> bytes:
    """One Anthropic streaming event as a Bedrock `chunk`."""
    data = json.dumps(event, separators=(",", ":")).encode()
    payload = json.dumps({"bytes": base64.b64encode(data).decode()}).encode()
    return encode_message(
        {
            ":event-type": "chunk",
            ":content-type": "application/json",
            ":message-type": "event",
        },
        payload,
    )


def exception_event(kind: str, message: str) -> bytes:
    """A modelled exception inside the stream (`throttlingException`, ...)."""
    return encode_message(
        {
            ":exception-type": kind,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps({"message": message}).encode(),
    )
