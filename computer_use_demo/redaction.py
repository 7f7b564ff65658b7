"""Keeps secrets out of logs, error texts and the HTTP log tab.

Pure string work plus one logging filter; it must never store a key itself
beyond the process's memory.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping

REDACTED = "[REDACTED]"
SECRET_HEADERS = frozenset(
    {"x-api-key", "authorization", "proxy-authorization", "x-goog-api-key", "cookie"}
)
# Anthropic keys, and anything that looks like one, even if we never saw it.
_KEY_SHAPES = re.compile(r"sk-ant-[A-Za-z0-9_\-]{6,}")

_known_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(secret: str | None) -> None:
    """Remember a secret so every later redaction removes it (ignores short values)."""
    if secret and len(secret) >= 8:
        with _lock:
            _known_secrets.add(secret)


def redact(text: str) -> str:
    """`text` with every registered secret and key-shaped string replaced."""
    with _lock:
        secrets = sorted(_known_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return _KEY_SHAPES.sub(REDACTED, text)


def redact_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
) -> dict[str, str]:
    """Headers safe to show: secret ones masked, every value redacted."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {
        name: REDACTED if name.lower() in SECRET_HEADERS else redact(str(value))
        for name, value in items
    }


class RedactingFilter(logging.Filter):
    """Rewrites each record's message so no handler ever sees a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(
                logging.Formatter().formatException(record.exc_info)
            )
            record.exc_info = None
        return True


_installed = False


def install_log_redaction(level: int = logging.INFO) -> None:
    """Attach the filter to the root logger's handlers (once per process); with
    no logging set up yet, log at `level` to stderr."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level)
    for handler in root.handlers:
        handler.addFilter(RedactingFilter())
    root.addFilter(RedactingFilter())
