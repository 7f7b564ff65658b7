"""Redaction as the second line: a secret a tool re-encodes is still removed.

A real bash prints each secret the ways a steered model would try (raw,
base64 at every alignment, base64url, hex dumps, reversed, folded across
lines); what comes back through `redact_tool_result` shares no 16 characters
with what the command really printed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from computer_use_demo.redaction import (
    environment_secrets,
    redact,
    redact_tool_result,
    register_secret,
)
from computer_use_demo.tools import BashTool20250124, ToolResult

API_KEY = "sk-ant-api03-" + "Zq8xV2mN4pL7wR1tY6uI9oP3aS5dF0gH" * 3 + "-AbCdEfAA"
REDIS_PASSWORD = (
    "correct-horse-battery-staple-42"  # no key shape: only registration finds it
)

ROUTES = [
    "cat {file}",
    "base64 -w0 {file}",
    "base64 {file}",  # wrapped at 76 columns
    "printf x | cat - {file} | base64 -w0",
    "printf xy | cat - {file} | base64 -w0",
    "basenc --base64url -w0 {file}",
    "printf xy | cat - {file} | basenc --base64url",
    "od -An -tx1 -v {file} | tr -d ' '",
    "od -An -tx1 {file}",
    "od -An -tx1 -w8 -v {file}",
    "od -An -tx1 -v {file} | tr a-f A-F",
    "rev {file}",
    "fold -w 10 {file}",
    "base64 -w0 {file} | fold -w 7",
    "tr -d '\\n' < {file} | sed 's/./& /g'",
]


def _compact(text: str) -> str:
    return re.sub(r"\s", "", text)


def _shares_a_window(leaked: str, shown: str, width: int = 16) -> bool:
    leaked, shown = _compact(leaked), _compact(shown)
    return any(
        leaked[start : start + width] in shown
        for start in range(max(0, len(leaked) - width + 1))
    )


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("secret", [API_KEY, REDIS_PASSWORD], ids=["key", "redis"])
async def test_a_secret_printed_in_any_encoding_is_removed(
    tmp_path: Path, route: str, secret: str
) -> None:
    register_secret(secret)
    secret_file = tmp_path / "secret"
    secret_file.write_text(secret)
    bash = BashTool20250124()
    try:
        printed = await bash(command=route.format(file=secret_file))
    finally:
        await bash.close()
    leaked = printed.output or ""
    assert len(_compact(leaked)) >= 16, f"{route} printed too little: {leaked!r}"
    shown = redact_tool_result(ToolResult(output=leaked)).output or ""
    assert not _shares_a_window(leaked, shown), f"{route} leaked through: {shown!r}"


def test_a_redis_password_in_the_url_query_is_found_and_removed() -> None:
    url = "redis://redis.internal:6379/0?password=query-pass-Secret-99&db=0"
    assert "query-pass-Secret-99" in environment_secrets(
        {"TOKEN_MANAGER_REDIS_URL": url}
    )
    shown = redact(
        f"connecting to {url} failed; never seen before: "
        "rediss://cache:6380/?password=other-Secret-77"
    )
    assert "query-pass-Secret-99" not in shown and "other-Secret-77" not in shown
    assert "db=0" in shown


def test_the_secrets_in_a_google_credentials_file_are_found(tmp_path: Path) -> None:
    private_key = (
        "-----BEGIN PRIVATE KEY-----\n"
        + "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7" * 2
        + "\n-----END PRIVATE KEY-----\n"
    )
    credentials = tmp_path / "service-account.json"
    credentials.write_text(
        json.dumps(
            {
                "type": "service_account",
                "private_key_id": "0123456789abcdef0123456789abcdef01234567",
                "private_key": private_key,
                "client_email": "agent@project.iam.gserviceaccount.com",
            }
        )
    )
    found = environment_secrets({"GOOGLE_APPLICATION_CREDENTIALS": str(credentials)})
    assert private_key in found
    assert "0123456789abcdef0123456789abcdef01234567" in found
    assert "agent@project.iam.gserviceaccount.com" not in found
    # A PEM private key block is removed even when nobody registered it.
    assert "MIIEvQIBADAN" not in redact(f"cat key.pem\n{private_key}done")


def test_ordinary_text_is_left_alone() -> None:
    register_secret(REDIS_PASSWORD)
    text = "total 12\ndrwxr-xr-x 2 root root 4096 Dec  6 21:36 .\nhello world 0123"
    assert redact(text) == text
