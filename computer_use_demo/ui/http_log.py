"""The HTTP exchange log: redacted, capped, and drawn only when asked for.

Never stores a key: secret headers are masked when the entry is made.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..redaction import redact, redact_headers

MAX_ENTRIES = 50
MAX_BODY_CHARS = 20_000


@dataclass(frozen=True)
class Exchange:
    at: str
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    status: int | None
    response_headers: dict[str, str]
    error: str | None


def _elide_images(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get("type") == "base64" and "data" in value:
            return {**value, "data": f"<{len(str(value['data'])):,} base64 chars>"}
        return {key: _elide_images(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_elide_images(item) for item in value]
    return value


def _body_text(request: Any) -> str:
    try:
        raw = request.content if hasattr(request, "content") else b""
        parsed = json.loads(raw) if raw else None
    except (ValueError, TypeError, AttributeError):
        return "<unreadable body>"
    text = json.dumps(_elide_images(parsed), indent=1)
    if len(text) > MAX_BODY_CHARS:
        text = (
            text[:MAX_BODY_CHARS]
            + f"\n… {len(text) - MAX_BODY_CHARS:,} more characters"
        )
    return redact(text)


def make_exchange(request: Any, response: Any, error: Exception | None) -> Exchange:
    status = getattr(response, "status_code", None)
    response_headers = getattr(response, "headers", None)
    return Exchange(
        at=datetime.now().strftime("%H:%M:%S"),
        method=str(getattr(request, "method", "")),
        url=redact(str(getattr(request, "url", ""))),
        request_headers=redact_headers(dict(getattr(request, "headers", {}) or {})),
        request_body=_body_text(request),
        status=status if isinstance(status, int) else None,
        response_headers=redact_headers(dict(response_headers or {}))
        if response_headers is not None
        else {},
        error=redact(f"{type(error).__name__}: {error}") if error else None,
    )


class ExchangeLog:
    """The newest MAX_ENTRIES exchanges."""

    def __init__(self) -> None:
        self.entries: deque[Exchange] = deque(maxlen=MAX_ENTRIES)

    def add(self, request: Any, response: Any, error: Exception | None) -> Exchange:
        exchange = make_exchange(request, response, error)
        self.entries.append(exchange)
        return exchange
