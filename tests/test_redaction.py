"""Secrets never reach logs, headers shown to the user, or error texts."""

from __future__ import annotations

import logging

import pytest

from computer_use_demo.redaction import (
    REDACTED,
    RedactingFilter,
    redact,
    redact_headers,
    register_secret,
)

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
