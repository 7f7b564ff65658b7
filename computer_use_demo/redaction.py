"""Keeps secrets out of logs, error texts, tool results and the HTTP log tab.

Pure string work plus one logging filter; it must never store a key itself
beyond the process's memory.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from .tools.base import ToolResult

REDACTED = "[REDACTED]"
SECRET_HEADERS = frozenset(
    {
        "x-api-key",
        "authorization",
        "proxy-authorization",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
        "x-amz-security-token",
    }
)
# Anthropic keys, and anything that looks like one, even if we never saw it.
_KEY_SHAPES = re.compile(r"sk-ant-[A-Za-z0-9_\-]{6,}")
# The `user:password@` of any URL, known or not.
_URL_CREDENTIALS = re.compile(
    r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/@:'\"<>]*:[^\s/@'\"<>]*@"
)
# Variables whose values are credentials: never handed to a tool, always redacted.
_CREDENTIAL_NAME = re.compile(
    r"(_API_KEY|_ACCESS_KEY|_PRIVATE_KEY|_TOKEN|_CREDENTIALS?)$|SECRET|PASSWORD|PASSWD|"
    r"^(ANTHROPIC_API_KEY|TOKEN_MANAGER_REDIS_URL|AWS_ACCESS_KEY_ID)$",
    re.IGNORECASE,
)

# `NAME=value` for a credential variable, as `env` or /proc/*/environ print it:
# the value goes even when it is too short to register as a secret by itself.
_CREDENTIAL_ASSIGNMENT = re.compile(
    r"(?m)\b([A-Z_][A-Z0-9_]*(?:_API_KEY|_ACCESS_KEY|_PRIVATE_KEY|_TOKEN|"
    r"_CREDENTIALS?|SECRET[A-Z0-9_]*|PASSWORD[A-Z0-9_]*|PASSWD[A-Z0-9_]*))"
    r"=([^\s\x00]+)"
)  # upper case: environment names, not a `password=` keyword in source code

_known_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(secret: str | None) -> None:
    """Remember a secret so every later redaction removes it (ignores short values)."""
    if secret and len(secret) >= 8:
        with _lock:
            _known_secrets.add(secret)


def redact(text: str) -> str:
    """`text` with every registered secret, URL credential and key-shaped string replaced."""
    with _lock:
        secrets = sorted(_known_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    text = _URL_CREDENTIALS.sub(rf"\1{REDACTED}@", text)
    text = _CREDENTIAL_ASSIGNMENT.sub(rf"\1={REDACTED}", text)
    return _KEY_SHAPES.sub(REDACTED, text)


def is_credential_name(name: str) -> bool:
    """True for a variable that holds a credential (`*_TOKEN`, `*PASSWORD*`, AWS keys...)."""
    return bool(_CREDENTIAL_NAME.search(name))


def has_url_credentials(value: str) -> bool:
    """True when `value` holds a URL with a `user:password@` part."""
    return bool(_URL_CREDENTIALS.search(value))


def environment_secrets(environ: Mapping[str, str]) -> set[str]:
    """Every secret an environment holds: credential variables' values and the
    `user:password` (and the password alone, raw and decoded) of every URL."""
    found: set[str] = set()
    for name, value in environ.items():
        if is_credential_name(name) and value and "://" not in value:
            found.add(value)
        for match in re.finditer(r"(?i)[a-z][a-z0-9+.\-]*://([^\s/@]*)@", value):
            userinfo = match.group(1)
            password = userinfo.partition(":")[2]
            for secret in (userinfo, unquote(userinfo), password, unquote(password)):
                if secret:
                    found.add(secret)
    return found


def register_environment_secrets(environ: Mapping[str, str] | None = None) -> None:
    """Register every secret of the process's environment (cheap; call at start)."""
    for secret in environment_secrets(os.environ if environ is None else environ):
        register_secret(secret)


def redact_tool_result(result: ToolResult) -> ToolResult:
    """A tool's result with every secret removed from its text, before anyone sees it.

    The environment is read again each time: a tool may print what the process
    was started with (`/proc/$PPID/environ`) even if the app never registered it.
    """
    register_environment_secrets()
    changes = {
        name: redact(value)
        for name in ("output", "error", "system")
        if isinstance(value := getattr(result, name), str) and redact(value) != value
    }
    return result.replace(**changes) if changes else result


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
