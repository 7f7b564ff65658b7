"""Keeps secrets out of logs, error texts, tool results and the HTTP log tab.

Pure string work plus one logging filter; it must never store a key itself
beyond the process's memory.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

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
# A credential carried in a URL's query (`redis://host/0?password=...`).
_QUERY_CREDENTIALS = re.compile(
    r"(?i)([?&](?:password|passwd|pwd|pass|secret|token|access_token|api_key|key)=)"
    r"[^&\s#'\"<>]+"
)
_QUERY_CREDENTIAL_NAMES = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pass",
        "secret",
        "token",
        "access_token",
        "api_key",
        "key",
    }
)
# A PEM private key (a Google service account's, an SSH key), known or not.
_PRIVATE_KEY_BLOCK = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
    re.DOTALL,
)
# Fields of a Google credentials file that are secrets.
_GOOGLE_SECRET_FIELDS = (
    "private_key",
    "private_key_id",
    "client_secret",
    "refresh_token",
)
# The shortest encoded form worth matching: shorter ones would hit ordinary text.
_MIN_FORM_LENGTH = 8

# Variables whose values are credentials: never handed to a tool, always redacted.
_CREDENTIAL_NAME = re.compile(
    r"(_API_KEY|_ACCESS_KEY|_PRIVATE_KEY|_TOKEN|_CREDENTIALS?)$|SECRET|PASSWORD|PASSWD|"
    r"^(ANTHROPIC_API_KEY|TOKEN_MANAGER_REDIS_URL|AWS_ACCESS_KEY_ID)$|"
    r"^OTEL_EXPORTER_OTLP(_[A-Z]+)?_HEADERS$",  # a collector's token, as a header
    re.IGNORECASE,
)
# OTEL_EXPORTER_OTLP_HEADERS and its per-signal forms: `name=value,...`, each
# value percent-encoded (https://opentelemetry.io/docs/specs/otel/protocol/exporter/).
_OTLP_HEADERS_NAME = re.compile(
    r"^OTEL_EXPORTER_OTLP(_[A-Z]+)?_HEADERS$", re.IGNORECASE
)

# `NAME=value` for a credential variable, as `env` or /proc/*/environ print it:
# the value goes even when it is too short to register as a secret by itself.
_CREDENTIAL_ASSIGNMENT = re.compile(
    r"(?m)\b([A-Z_][A-Z0-9_]*(?:_API_KEY|_ACCESS_KEY|_PRIVATE_KEY|_TOKEN|"
    r"_CREDENTIALS?|SECRET[A-Z0-9_]*|PASSWORD[A-Z0-9_]*|PASSWD[A-Z0-9_]*))"
    r"=([^\s\x00]+)"
)  # upper case: environment names, not a `password=` keyword in source code

_known_secrets: set[str] = set()
_known_forms: set[str] = set()
_lock = threading.Lock()


def register_secret(secret: str | None) -> None:
    """Remember a secret so every later redaction removes it (ignores short values)."""
    if secret and len(secret) >= 8:
        with _lock:
            if secret not in _known_secrets:
                _known_secrets.add(secret)
                _known_forms.update(encoded_forms(secret))


def encoded_forms(secret: str) -> set[str]:
    """The ways a tool can print `secret` that redaction recognises.

    Raw, reversed, hex (either case), and base64 and base64url at each of the
    three byte alignments the secret can have inside a longer encoded stream:
    only the part that is the same whatever surrounds it (whole 3-byte groups).
    """
    data = secret.encode()
    forms = {secret, secret[::-1], data.hex(), data.hex().upper()}
    for phase in range(3):
        core = data[(3 - phase) % 3 :]
        core = core[: len(core) - len(core) % 3]
        encoded = base64.b64encode(core).decode()
        forms.update({encoded, encoded.translate(_URL_SAFE)})
    return {"".join(form.split()) for form in forms if len(form) >= _MIN_FORM_LENGTH}


_URL_SAFE = str.maketrans("+/", "-_")


def redact(text: str) -> str:
    """`text` with every registered secret (in each of its encoded forms, even
    split by line breaks or spaces), URL credential and key-shaped string replaced."""
    with _lock:
        forms = sorted(_known_forms, key=len, reverse=True)
    if forms:
        text = _redact_forms(text, forms)
    text = _URL_CREDENTIALS.sub(rf"\1{REDACTED}@", text)
    text = _QUERY_CREDENTIALS.sub(rf"\1{REDACTED}", text)
    text = _CREDENTIAL_ASSIGNMENT.sub(rf"\1={REDACTED}", text)
    text = _PRIVATE_KEY_BLOCK.sub(REDACTED, text)
    return _KEY_SHAPES.sub(REDACTED, text)


def _redact_forms(text: str, forms: list[str]) -> str:
    for form in forms:
        if form in text:
            text = text.replace(form, REDACTED)
    # `fold`, `base64`'s line wrapping or `od`'s spaced bytes split a form with
    # whitespace: look again with every whitespace character taken out.
    kept = [match.start() for match in _NOT_SPACE.finditer(text)]
    compact = "".join(text[index] for index in kept)
    spans: list[tuple[int, int]] = []
    for form in forms:
        start = compact.find(form)
        while start != -1:
            end = start + len(form)
            spans.append((kept[start], kept[end - 1] + 1))
            start = compact.find(form, end)
    if not spans:
        return text
    pieces: list[str] = []
    position = 0
    for start, end in _merged(spans):
        pieces.append(text[position:start])
        pieces.append(REDACTED)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


_NOT_SPACE = re.compile(r"\S")


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def is_credential_name(name: str) -> bool:
    """True for a variable that holds a credential (`*_TOKEN`, `*PASSWORD*`, AWS keys...)."""
    return bool(_CREDENTIAL_NAME.search(name))


def has_url_credentials(value: str) -> bool:
    """True when `value` holds a URL with a `user:password@` part or a
    credential in its query (`?password=...`)."""
    return bool(_URL_CREDENTIALS.search(value) or _QUERY_CREDENTIALS.search(value))


def environment_secrets(environ: Mapping[str, str]) -> set[str]:
    """Every secret an environment holds: credential variables' values, the
    `user:password` (and the password alone, raw and decoded) and the query
    credentials of every URL, and the secrets inside a Google credentials file."""
    found: set[str] = set()
    for name, value in environ.items():
        if is_credential_name(name) and value and "://" not in value:
            found.add(value)
        if _OTLP_HEADERS_NAME.match(name):
            found.update(_header_values(value))
        for match in re.finditer(r"(?i)[a-z][a-z0-9+.\-]*://[^\s'\"<>]*", value):
            found.update(_url_secrets(match.group(0)))
    found.update(
        google_credential_secrets(environ.get("GOOGLE_APPLICATION_CREDENTIALS"))
    )
    return {secret for secret in found if secret}


_SECRET_HEADER_NAME = re.compile(r"auth|key|token|secret|passw|team|signature", re.I)


def _header_values(headers: str) -> set[str]:
    """The values of the headers that carry a credential (`authorization`,
    `x-api-key`, ...), decoded, and a `Bearer` token alone too."""
    found: set[str] = set()
    for pair in headers.split(","):
        name, _, raw = pair.partition("=")
        value = unquote(raw).strip()
        if value and _SECRET_HEADER_NAME.search(unquote(name)):
            found.update({value, value.rpartition(" ")[2]})
    return found


def _url_secrets(url: str) -> set[str]:
    found: set[str] = set()
    try:
        parts = urlsplit(url)
    except ValueError:
        return found
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    password = userinfo.partition(":")[2]
    found.update({userinfo, unquote(userinfo), password, unquote(password)})
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        if key.lower() in _QUERY_CREDENTIAL_NAMES:
            found.update({value, unquote(value)})
    return found


def google_credential_secrets(path: str | None) -> set[str]:
    """The private key and client secrets in a Google credentials file, if readable."""
    if not path:
        return set()
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(document, dict):
        return set()
    found: set[str] = set()
    for field in _GOOGLE_SECRET_FIELDS:
        value = document.get(field)
        if isinstance(value, str) and value:
            found.add(value)
            if field == "private_key":
                # The key's body as tools print it: line by line.
                found.update(line for line in value.splitlines() if len(line) >= 40)
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


class StreamingRedactor:
    """Redacts text that arrives in pieces (a streamed answer), so a secret
    split across two deltas is still caught; pure, no I/O.

    It holds back the last few characters (a little more than the longest form
    of any registered secret) and releases text only where no redaction
    reached into what it holds; `flush` releases the rest at a block's end.
    """

    def __init__(self) -> None:
        self._pending = ""

    @staticmethod
    def _hold() -> int:
        with _lock:
            longest = max((len(form) for form in _known_forms), default=0)
        return max(longest, 48) + 16  # 48: room for a key-shaped or URL credential

    def feed(self, text: str) -> str:
        """The part of everything fed so far that is now safe to show."""
        self._pending += text
        hold = self._hold()
        if len(self._pending) <= hold:
            return ""
        cleaned = redact(self._pending)
        tail = self._pending[-hold:]
        if not cleaned.endswith(tail):
            return ""  # a redaction reached the held part: wait for more
        self._pending = tail
        return cleaned[: len(cleaned) - hold]

    def flush(self) -> str:
        cleaned, self._pending = redact(self._pending), ""
        return cleaned


def redact_messages(messages: list[Any]) -> list[Any]:
    """Messages as they may be saved: the text of every text and tool-result
    block redacted. Thinking blocks are kept as they are: the API checks them
    against their signature."""
    return [_redacted_message(message) for message in messages]


def _redacted_message(message: Any) -> Any:
    if not isinstance(message, dict):
        return message
    content = message.get("content")
    if isinstance(content, str):
        return {**message, "content": redact(content)}
    if not isinstance(content, list):
        return message
    return {**message, "content": [_redacted_block(block) for block in content]}


def _redacted_block(block: Any) -> Any:
    if not isinstance(block, dict):
        return block
    if block.get("type") == "text" and isinstance(block.get("text"), str):
        return {**block, "text": redact(block["text"])}
    if block.get("type") == "tool_result" and isinstance(block.get("content"), list):
        return {
            **block,
            "content": [_redacted_block(part) for part in block["content"]],
        }
    if block.get("type") == "tool_result" and isinstance(block.get("content"), str):
        return {**block, "content": redact(block["content"])}
    return block
