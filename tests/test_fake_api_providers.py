"""The fake's Bedrock and Vertex wires, as the SDK's own clients and botocore see them."""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from fake_anthropic import FakeAnthropicAPI
from fake_anthropic.eventstream import chunk_event, encode_message, exception_event
from fake_anthropic.wires import ProviderConfig

BEDROCK_MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
VERTEX_MODEL = "claude-sonnet-4-5@20250929"
TOOL_TURN = {
    "content": [
        {"type": "text", "text": "I'll look."},
        {"type": "tool_use", "name": "bash", "input": {"command": "ls"}},
    ]
}


def decoded(raw: bytes) -> list[Any]:
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    return list(buffer)


# -- the event-stream encoder against botocore's decoder -----------------------


def test_botocore_decodes_every_frame_the_encoder_writes() -> None:
    headers = {":event-type": "chunk", ":message-type": "event", "x": "é" * 3}
    payloads = [b"", b"{}", b"x" * 70_000, "naïve".encode()]
    raw = b"".join(encode_message(headers, payload) for payload in payloads)
    # Fed one byte at a time, as a slow socket would.
    buffer = EventStreamBuffer()
    messages = []
    for position in range(len(raw)):
        buffer.add_data(raw[position : position + 1])
        messages.extend(buffer)
    assert [message.payload for message in messages] == payloads
    assert all(message.headers == headers for message in messages)


def test_a_corrupted_frame_fails_botocore_s_checksum() -> None:
    raw = bytearray(encode_message({":event-type": "chunk"}, b'{"bytes": "e30="}'))
    raw[-6] ^= 0xFF  # a payload byte
    with pytest.raises(ChecksumMismatch):
        decoded(bytes(raw))


def test_a_chunk_carries_the_event_as_base64_json() -> None:
    event = {"type": "message_stop"}
    (message,) = decoded(chunk_event(event))
    assert message.headers[":event-type"] == "chunk"
    assert message.headers[":message-type"] == "event"
    payload = json.loads(message.payload)
    assert json.loads(base64.b64decode(payload["bytes"])) == event
    (error,) = decoded(exception_event("throttlingException", "slow down"))
    assert error.to_response_dict()["status_code"] == 400
    assert error.headers[":exception-type"] == "throttlingException"


def test_crc32_is_the_zlib_one_botocore_checks() -> None:
    raw = encode_message({}, b"abc")
    assert int.from_bytes(raw[8:12], "big") == binascii.crc32(raw[:8])
    assert int.from_bytes(raw[-4:], "big") == binascii.crc32(raw[:-4])


# -- Bedrock ---------------------------------------------------------------------


@pytest.fixture
def bedrock_env(monkeypatch: pytest.MonkeyPatch) -> ProviderConfig:
    config = ProviderConfig()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", config.aws_access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", config.aws_secret_access_key)
    monkeypatch.setenv("AWS_REGION", config.aws_region)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_BEARER_TOKEN_BEDROCK"):
        monkeypatch.delenv(name, raising=False)
    return config


def bedrock(api: FakeAnthropicAPI, **options: Any) -> anthropic.AnthropicBedrock:
    return anthropic.AnthropicBedrock(base_url=api.base_url, max_retries=0, **options)


def test_bedrock_streams_a_tool_call_over_its_own_wire(
    bedrock_env: ProviderConfig,
) -> None:
    with FakeAnthropicAPI(scenario=[TOOL_TURN], providers=bedrock_env) as api:
        with bedrock(api).messages.stream(
            model=BEDROCK_MODEL,
            max_tokens=256,
            messages=[{"role": "user", "content": "list files"}],
        ) as stream:
            text = "".join(stream.text_stream)
            message = stream.get_final_message()
        record = api.requests[-1]
    assert text == "I'll look."
    assert message.stop_reason == "tool_use"
    assert message.content[1].type == "tool_use"
    assert message.content[1].input == {"command": "ls"}
    assert record.path == f"/model/{BEDROCK_MODEL}/invoke-with-response-stream"
    assert "model" not in record.body and record.body["anthropic_version"]
    assert record.headers["authorization"] == "[REDACTED]"
    assert not any(
        name.startswith("anthropic-ratelimit") for name in record.reply_headers
    )


def test_bedrock_checks_the_signature_its_region_and_its_key(
    bedrock_env: ProviderConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    request: dict[str, Any] = {
        "model": BEDROCK_MODEL,
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    }
    with FakeAnthropicAPI(providers=bedrock_env) as api:
        assert bedrock(api).messages.create(**request).stop_reason == "end_turn"
        with pytest.raises(anthropic.PermissionDeniedError, match="region"):
            bedrock(api, aws_region="eu-west-1").messages.create(**request)
        with pytest.raises(anthropic.PermissionDeniedError, match="signature"):
            bedrock(
                api,
                aws_access_key=bedrock_env.aws_access_key_id,
                aws_secret_key="not-the-secret",
            ).messages.create(**request)
        unsigned = httpx.post(
            f"{api.base_url}/model/{BEDROCK_MODEL}/invoke",
            json={"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5},
        )
    assert unsigned.status_code == 403
    assert unsigned.headers["x-amzn-ErrorType"].startswith(
        "UnrecognizedClientException"
    ) or ("Authorization" in unsigned.json()["message"])


def test_bedrock_refuses_a_body_that_names_the_model(
    bedrock_env: ProviderConfig,
) -> None:
    with FakeAnthropicAPI(providers=bedrock_env) as api:
        client = bedrock(api)
        with pytest.raises(anthropic.BadRequestError, match="extraneous key"):
            client.post(
                f"/model/{BEDROCK_MODEL}/invoke",
                body={
                    "anthropic_version": "bedrock-2023-05-31",
                    "model": BEDROCK_MODEL,
                    "max_tokens": 5,
                    "messages": [{"role": "user", "content": "hi"}],
                },
                cast_to=object,
            )


def test_bedrock_throttling_is_a_429_throttling_exception_without_rate_headers(
    bedrock_env: ProviderConfig,
) -> None:
    with FakeAnthropicAPI(providers=bedrock_env, rpm=1, window_seconds=60) as api:
        client = bedrock(api)
        request: dict[str, Any] = {
            "model": BEDROCK_MODEL,
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}],
        }
        client.messages.create(**request)
        with pytest.raises(anthropic.RateLimitError) as throttled:
            client.messages.create(**request)
    headers = throttled.value.response.headers
    assert throttled.value.status_code == 429
    assert headers["x-amzn-ErrorType"].startswith("ThrottlingException:")
    assert throttled.value.body == {
        "message": "Too many requests, please wait before trying again."
    }
    assert "retry-after" not in headers
    assert not any(name.startswith("anthropic-ratelimit") for name in headers)


def test_a_bedrock_stream_error_is_an_exception_frame(
    bedrock_env: ProviderConfig,
) -> None:
    turn = {**TOOL_TURN, "fault": {"sse_error_after_events": 2}}
    with (
        FakeAnthropicAPI(scenario=[turn], providers=bedrock_env) as api,
        pytest.raises(anthropic.APIStatusError, match="modelStreamErrorException"),
        bedrock(api).messages.stream(
            model=BEDROCK_MODEL,
            max_tokens=256,
            messages=[{"role": "user", "content": "go"}],
        ) as stream,
    ):
        stream.get_final_message()


# -- Vertex ----------------------------------------------------------------------


def vertex_credentials(api: FakeAnthropicAPI, tmp_path: Path) -> Path:
    path = tmp_path / "service-account.json"
    path.write_text(
        json.dumps(api.state.providers.service_account_info(f"{api.base_url}/token"))
    )
    return path


@pytest.fixture
def vertex_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    config = ProviderConfig()
    monkeypatch.setenv("CLOUD_ML_REGION", config.vertex_region)
    monkeypatch.setenv("ANTHROPIC_VERTEX_PROJECT_ID", config.vertex_project)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", config.vertex_project)
    return monkeypatch


def test_vertex_streams_with_a_token_google_auth_refreshed(
    vertex_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with FakeAnthropicAPI(scenario=[TOOL_TURN]) as api:
        vertex_env.setenv(
            "GOOGLE_APPLICATION_CREDENTIALS", str(vertex_credentials(api, tmp_path))
        )
        client = anthropic.AnthropicVertex(base_url=f"{api.base_url}/v1", max_retries=0)
        with client.messages.stream(
            model=VERTEX_MODEL,
            max_tokens=256,
            messages=[{"role": "user", "content": "list files"}],
        ) as stream:
            text = "".join(stream.text_stream)
            message = stream.get_final_message()
        paths = [request.path for request in api.requests]
        record = api.requests[-1]
    assert text == "I'll look." and message.stop_reason == "tool_use"
    assert paths == [
        "/token",
        "/v1/projects/fake-project/locations/us-east5/publishers/anthropic/models/"
        f"{VERTEX_MODEL}:streamRawPredict",
    ]
    assert "model" not in record.body and record.body["anthropic_version"]
    assert not any(
        name.startswith("anthropic-ratelimit") for name in record.reply_headers
    )


def test_vertex_refuses_an_unknown_token_and_a_body_with_a_model(
    vertex_env: pytest.MonkeyPatch,
) -> None:
    with FakeAnthropicAPI() as api:
        client = anthropic.AnthropicVertex(
            base_url=f"{api.base_url}/v1", access_token="ya29.made-up", max_retries=0
        )
        with pytest.raises(anthropic.AuthenticationError) as refused:
            client.messages.create(
                model=VERTEX_MODEL,
                max_tokens=5,
                messages=[{"role": "user", "content": "hi"}],
            )
        body: Any = refused.value.body
        assert body["error"]["status"] == "UNAUTHENTICATED"
        token = api.state.providers.issue_token()
        path = (
            "/v1/projects/fake-project/locations/us-east5/publishers/anthropic/models/"
            f"{VERTEX_MODEL}:rawPredict"
        )
        named = httpx.post(
            api.base_url + path,
            headers={"authorization": f"Bearer {token}"},
            json={
                "anthropic_version": "vertex-2023-10-16",
                "model": VERTEX_MODEL,
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "hi"}],
            },
        )
    assert named.status_code == 400


def test_vertex_quota_is_a_429_resource_exhausted_without_rate_headers(
    vertex_env: pytest.MonkeyPatch,
) -> None:
    with FakeAnthropicAPI(rpm=1, window_seconds=60) as api:
        client = anthropic.AnthropicVertex(
            base_url=f"{api.base_url}/v1",
            access_token=api.state.providers.issue_token(),
            max_retries=0,
        )
        request: dict[str, Any] = {
            "model": VERTEX_MODEL,
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}],
        }
        client.messages.create(**request)
        with pytest.raises(anthropic.RateLimitError) as throttled:
            client.messages.create(**request)
    body: Any = throttled.value.body
    assert (
        body["error"]["status"] == "RESOURCE_EXHAUSTED" and body["error"]["code"] == 429
    )
    headers = throttled.value.response.headers
    assert "retry-after" not in headers
    assert not any(name.startswith("anthropic-ratelimit") for name in headers)


def test_the_token_endpoint_takes_only_jwts_signed_with_the_fakes_key() -> None:
    from google.auth.exceptions import RefreshError
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    def refresh(info: dict[str, str]) -> str:
        credentials = service_account.Credentials.from_service_account_info(
            info, scopes=["https://www.googleapis.com/auth/cloud-platform"]
        )
        credentials.refresh(Request())
        return str(credentials.token)

    with FakeAnthropicAPI() as api:
        ours = api.state.providers.service_account_info(f"{api.base_url}/token")
        token = refresh(ours)
        assert api.state.providers.knows_token(token)
        stranger = ProviderConfig().service_account_info(f"{api.base_url}/token")
        with pytest.raises(RefreshError, match="invalid_grant"):
            refresh(stranger)
