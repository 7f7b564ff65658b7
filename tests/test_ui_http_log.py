"""The HTTP log tab's store: keys masked, bodies capped, screenshots elided, size bounded."""

from __future__ import annotations

import base64
import json

import httpx

from computer_use_demo.redaction import register_secret
from computer_use_demo.ui.http_log import MAX_BODY_CHARS, MAX_ENTRIES, ExchangeLog

KEY = "sk-ant-api03-http-log-test-key-000000"


def request(body: object) -> httpx.Request:
    return httpx.Request(
        "POST",
        "https://api.anthropic.com/v1/messages",
        headers={
            "x-api-key": KEY,
            "Authorization": f"Bearer {KEY}",
            "anthropic-version": "2023-06-01",
        },
        content=json.dumps(body).encode(),
    )


def test_secret_headers_and_keys_in_bodies_are_masked() -> None:
    register_secret(KEY)
    response = httpx.Response(401, headers={"request-id": "req_1"})
    exchange = ExchangeLog().add(
        request({"messages": [{"role": "user", "content": f"my key is {KEY}"}]}),
        response,
        RuntimeError(f"invalid x-api-key {KEY}"),
    )
    shown = json.dumps(exchange.__dict__)
    assert KEY not in shown
    assert exchange.request_headers["x-api-key"] == "[REDACTED]"
    assert exchange.request_headers["authorization"] == "[REDACTED]"
    assert exchange.request_headers["anthropic-version"] == "2023-06-01"
    assert exchange.status == 401 and exchange.response_headers["request-id"] == "req_1"


def test_screenshots_are_elided_and_long_bodies_capped() -> None:
    image = base64.b64encode(b"\0" * 300_000).decode()
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {
                            "type": "base64",
                            "media_type": "image/png",
                            "data": image,
                        },
                    },
                    {"type": "text", "text": "x" * (3 * MAX_BODY_CHARS)},
                ],
            }
        ]
    }
    exchange = ExchangeLog().add(request(body), None, None)
    assert image not in exchange.request_body
    assert "400,000 base64 chars" in exchange.request_body
    assert len(exchange.request_body) < MAX_BODY_CHARS + 100
    assert "more characters" in exchange.request_body


def test_only_the_newest_exchanges_are_kept() -> None:
    log = ExchangeLog()
    for index in range(MAX_ENTRIES + 25):
        log.add(request({"n": index}), None, None)
    assert len(log.entries) == MAX_ENTRIES
    assert json.loads(log.entries[-1].request_body) == {"n": MAX_ENTRIES + 24}


def test_cookies_and_url_credentials_are_masked() -> None:
    sent = httpx.Request(
        "POST",
        "https://gateway-user:gateway-pass-123@gateway.example/v1/messages",
        headers={"cookie": "session=abc123", "x-api-key": KEY},
        content=b"{}",
    )
    response = httpx.Response(
        200,
        headers=[("set-cookie", "session=secret-session-9"), ("request-id", "req_2")],
    )
    exchange = ExchangeLog().add(sent, response, None)
    shown = json.dumps(exchange.__dict__)
    assert "secret-session-9" not in shown and "abc123" not in shown
    assert "gateway-pass-123" not in shown
    assert exchange.response_headers["set-cookie"] == "[REDACTED]"
    assert exchange.response_headers["request-id"] == "req_2"
