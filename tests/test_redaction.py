"""Secrets never reach logs, headers shown to the user, or error texts."""

from __future__ import annotations

import logging

import pytest

from computer_use_demo.redaction import (
    REDACTED,
    RedactingFilter,
    environment_secrets,
    redact,
    redact_headers,
    redact_tool_result,
    register_secret,
)
from computer_use_demo.tools import ToolResult
from computer_use_demo.tools.run import shell_environment

FAKE_KEY = "sk-ant-api03-RECOGNISABLE-fake-key-000"


def test_registered_and_key_shaped_secrets_are_removed() -> None:
    register_secret("custom-secret-token-123")
    text = redact(f"key={FAKE_KEY} other=custom-secret-token-123 ok")
    assert FAKE_KEY not in text and "custom-secret-token-123" not in text
    assert text.count(REDACTED) == 2


def test_secret_headers_are_masked() -> None:
    shown = redact_headers(
        {"x-api-key": FAKE_KEY, "Authorization": "Bearer x", "content-type": "json"}
    )
    assert shown == {
        "x-api-key": REDACTED,
        "Authorization": REDACTED,
        "content-type": "json",
    }


def test_log_records_are_scrubbed_with_args_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = logging.getLogger("test.redaction")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        logger.info("calling with %s", FAKE_KEY)
        try:
            raise RuntimeError(f"failed for {FAKE_KEY}")
        except RuntimeError:
            logger.exception("boom")
    assert FAKE_KEY not in caplog.text
    assert "calling with" in caplog.text


def test_url_credentials_are_removed_even_when_never_registered() -> None:
    text = redact("proxy http://bob:s3cr%40t@proxy:3128 and redis://:pw@r:6379/0")
    assert "s3cr" not in text and ":pw@" not in text
    assert "http://[REDACTED]@proxy:3128" in text and "redis://[REDACTED]@r" in text


def test_the_environment_secrets_are_the_credentials_and_url_passwords() -> None:
    found = environment_secrets(
        {
            "TOKEN_MANAGER_REDIS_URL": "redis://:redis-password-1@h:6379/0",
            "HTTPS_PROXY": "http://alice:proxy%2Fpassword@p:3128",
            "GITHUB_TOKEN": "ghp_abcdefghijklmnop",
            "PATH": "/usr/bin",
            "HTTP_PROXY": "http://p:3128",
        }
    )
    assert {"redis-password-1", "proxy%2Fpassword", "proxy/password"} <= found
    assert "ghp_abcdefghijklmnop" in found
    assert not {"/usr/bin", "http://p:3128", "alice"} & found


def test_tool_results_lose_the_environment_secrets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "tok-0123456789-unique")
    result = redact_tool_result(
        ToolResult(
            output="SOME_SERVICE_TOKEN=tok-0123456789-unique",
            error=f"key {FAKE_KEY}",
            system="ok",
            base64_image="aW1n",
        )
    )
    assert result.output == f"SOME_SERVICE_TOKEN={REDACTED}"
    assert result.error == f"key {REDACTED}"
    assert (result.system, result.base64_image) == ("ok", "aW1n")


def test_cookies_are_masked_in_shown_headers() -> None:
    shown = redact_headers({"Set-Cookie": "session=abc", "cookie": "a=b"})
    assert shown == {"Set-Cookie": REDACTED, "cookie": REDACTED}


def test_a_credential_variable_printed_by_env_loses_its_value_however_short() -> None:
    dump = (
        "HOME=/root\nREDIS_PASSWORD=abc\nGITHUB_TOKEN=gh1\nDB_SECRET_KEY=x9\nPATH=/bin"
    )
    shown = redact(dump)
    for value in ("=abc", "=gh1", "=x9"):
        assert value not in shown
    assert "REDIS_PASSWORD=[REDACTED]" in shown
    assert "HOME=/root" in shown and "PATH=/bin" in shown, "only credentials go"
    code = "client = redis.Redis(host=h, password=pw)"
    assert redact(code) == code, "source code the model edits stays as it is"


def test_a_collectors_token_in_the_otlp_headers_is_a_secret_kept_from_the_tools() -> (
    None
):
    environ = {
        "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer%20collector-token-123,x-tenant=agents-production",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-api-key=traces-key-456789",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
    }
    found = environment_secrets(environ)
    assert {
        "collector-token-123",
        "Bearer collector-token-123",
        "traces-key-456789",
    } <= found
    assert "agents-production" not in found  # no credential: left readable
    kept = shell_environment(environ)
    assert kept == {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
