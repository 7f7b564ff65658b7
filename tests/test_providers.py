"""Every provider the quickstart supports, end to end on its own wire: the loop and
the CLI against the fake's Anthropic, Bedrock and Vertex endpoints, the pool each
provider's model ids draw from, and pacing from bare 429s.

Credentials are fakes the fake API accepts: AWS keys in the environment (boto3
signs with them, the fake checks the SigV4 signature), and for Vertex a
service-account key file whose token endpoint is the fake's, so google-auth
runs its real refresh and nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import pytest

from computer_use_demo.api_client import make_client
from computer_use_demo.loop import sampling_loop
from computer_use_demo.models import DEFAULT_MODEL_BY_PROVIDER
from computer_use_demo.providers import APIProvider
from computer_use_demo.streaming import TextDelta
from fake_anthropic import FakeAnthropicAPI
from fake_anthropic.model_classes import canonical_model
from fake_anthropic.model_classes import model_class as fake_model_class
from fake_anthropic.validation import APIError, check_conversation
from fake_anthropic.wires import ProviderConfig
from tests.plugins.screen import SCREEN_ENV
from token_manager import RateLimits, TokenManager, rate_limit_pool

ROOT = Path(__file__).resolve().parents[1]
PROVIDERS = [APIProvider.ANTHROPIC, APIProvider.BEDROCK, APIProvider.VERTEX]
TOOL_THEN_TEXT = [
    {
        "content": [
            {"type": "text", "text": "Checking."},
            {
                "type": "tool_use",
                "name": "bash",
                "input": {"command": "echo provider-tool-ran"},
            },
        ]
    },
    {"content": [{"type": "text", "text": "All good."}]},
]


def provider_env(
    provider: APIProvider, api: FakeAnthropicAPI, tmp_path: Path
) -> dict[str, str]:
    """What a user sets to reach `provider`, pointed at the fake."""
    config = api.state.providers
    env = {"API_PROVIDER": provider.value}
    if provider == APIProvider.ANTHROPIC:
        env |= {"ANTHROPIC_BASE_URL": api.base_url, "ANTHROPIC_API_KEY": api.api_key}
    elif provider == APIProvider.BEDROCK:
        env |= {
            "ANTHROPIC_BEDROCK_BASE_URL": api.base_url,
            "AWS_ACCESS_KEY_ID": config.aws_access_key_id,
            "AWS_SECRET_ACCESS_KEY": config.aws_secret_access_key,
            "AWS_REGION": config.aws_region,
        }
    else:
        key_file = tmp_path / "service-account.json"
        key_file.write_text(
            json.dumps(config.service_account_info(f"{api.base_url}/token"))
        )
        env |= {
            "ANTHROPIC_VERTEX_BASE_URL": f"{api.base_url}/v1",
            "CLOUD_ML_REGION": config.vertex_region,
            "ANTHROPIC_VERTEX_PROJECT_ID": config.vertex_project,
            "GOOGLE_APPLICATION_CREDENTIALS": str(key_file),
        }
    return env


def messages_path(provider: APIProvider, model: str) -> str:
    if provider == APIProvider.ANTHROPIC:
        return "/v1/messages"
    if provider == APIProvider.BEDROCK:
        return f"/model/{model}/invoke-with-response-stream"
    config = ProviderConfig()
    return (
        f"/v1/projects/{config.vertex_project}/locations/{config.vertex_region}"
        f"/publishers/anthropic/models/{model}:streamRawPredict"
    )


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No credential of this machine's user leaks into a provider under test."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "ANTHROPIC_", "GOOGLE_", "CLOUD_ML_")):
            monkeypatch.delenv(name)
    for name, value in SCREEN_ENV.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


@dataclass
class LoopRun:
    messages: list[Any]
    text: str
    tool_outputs: list[str]


def run_loop(
    provider: APIProvider, manager: TokenManager | None = None, **options: Any
) -> LoopRun:
    messages: list[Any] = [
        {"role": "user", "content": [{"type": "text", "text": "check the system"}]}
    ]
    events: list[Any] = []
    outputs: list[str] = []
    asyncio.run(
        sampling_loop(
            model=DEFAULT_MODEL_BY_PROVIDER[provider.value],
            provider=provider,
            system_prompt_suffix="",
            messages=messages,
            output_callback=lambda block: None,
            tool_output_callback=lambda result, tool_id: outputs.append(
                result.output or ""
            ),
            api_response_callback=lambda request, response, error: None,
            api_key=os.environ.get("ANTHROPIC_API_KEY", ""),
            stream_callback=events.append,
            token_manager=manager
            or TokenManager(RateLimits(1_000, 1_000_000, 1_000_000)),
            tool_version="computer_use_20250124",
            **options,
        )
    )
    text = "".join(event.text for event in events if isinstance(event, TextDelta))
    return LoopRun(messages, text, outputs)


@pytest.mark.parametrize("provider", PROVIDERS, ids=str)
def test_the_loop_runs_a_tool_and_a_second_turn_on_each_wire(
    provider: APIProvider, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with FakeAnthropicAPI(scenario=TOOL_THEN_TEXT) as api:
        for name, value in provider_env(provider, api, tmp_path).items():
            clean_env.setenv(name, value)
        run = run_loop(provider)
        sent = api.message_requests()
    model = DEFAULT_MODEL_BY_PROVIDER[provider.value]
    assert run.text == "Checking.All good."
    assert run.tool_outputs == ["provider-tool-ran"]
    assert [request.status for request in sent] == [200, 200]
    assert {request.path for request in sent} == {messages_path(provider, model)}
    assert {request.wire for request in sent} == {provider.value}
    second = sent[1].body["messages"]
    assert second[-1]["content"][0]["type"] == "tool_result"
    try:
        check_conversation(run.messages)
    except APIError as error:
        pytest.fail(f"history rejected: {error.message}")


@pytest.mark.parametrize("provider", PROVIDERS, ids=str)
def test_the_cli_runs_end_to_end_on_each_wire(
    provider: APIProvider, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with FakeAnthropicAPI(scenario=TOOL_THEN_TEXT) as api:
        env = {
            **os.environ,
            **provider_env(provider, api, tmp_path),
            "ANTHROPIC_CONFIG_DIR": str(tmp_path / "config"),
            "PYTHONPATH": str(ROOT),
        }
        result = subprocess.run(
            [sys.executable, "-m", "computer_use_demo", "check the system"],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
            cwd=ROOT,
        )
        over_http = api.requests_over_http
        wires = {request.wire for request in api.requests if request.path != "/token"}
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Checking.\nAll good.\n"
    assert "provider-tool-ran" in result.stderr
    assert wires == {provider.value}
    assert over_http >= 2  # a real process over a real socket


@pytest.mark.parametrize(
    ("model", "pool"),
    [
        ("claude-sonnet-4-5-20250929", "sonnet-4"),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", "sonnet-4"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "sonnet-4"),
        ("claude-sonnet-4-5@20250929", "sonnet-4"),
        ("claude-opus-4-1-20250805", "opus-4"),
        ("eu.anthropic.claude-opus-4-1-20250805-v1:0", "opus-4"),
        ("claude-opus-4-1@20250805", "opus-4"),
        ("claude-haiku-4-5-20251001", "haiku-4"),
        ("global.anthropic.claude-haiku-4-5-20251001-v1:0", "haiku-4"),
        ("claude-haiku-4-5@20251001", "haiku-4"),
        ("anthropic.claude-3-7-sonnet-20250219-v1:0", "sonnet-3-7"),
        ("claude-3-5-haiku@20241022", "haiku-3-5"),
    ],
)
def test_each_providers_model_ids_draw_from_their_classes_pool(
    model: str, pool: str
) -> None:
    assert rate_limit_pool(model) == pool
    # The fake meters an id in the class of its first-party spelling, whichever
    # wire carried it.
    assert fake_model_class(model) == fake_model_class(canonical_model(model))
    assert canonical_model(model).startswith("claude-")


@pytest.mark.parametrize("provider", PROVIDERS, ids=str)
def test_each_providers_default_model_has_a_known_pool(provider: APIProvider) -> None:
    assert rate_limit_pool(DEFAULT_MODEL_BY_PROVIDER[provider.value]) in (
        "opus-4",
        "sonnet-4",
        "haiku-4",
    )


BARE_429_PROVIDERS = [APIProvider.BEDROCK, APIProvider.VERTEX]


@pytest.mark.parametrize("provider", BARE_429_PROVIDERS, ids=str)
def test_the_manager_holds_the_pool_after_each_bare_429(
    provider: APIProvider, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Bedrock and Vertex say only "429": no limits, no remaining, no retry-after.
    A manager configured far above the server's real limit must still hold the
    pool after each 429 it observes, so the next request waits instead of
    hammering (the SDK's own retries are off here: only the manager paces)."""
    model = DEFAULT_MODEL_BY_PROVIDER[provider.value]
    manager = TokenManager(RateLimits(1_000, 1_000_000, 1_000_000, 60))
    request: dict[str, Any] = {
        "model": model,
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}],
    }

    async def send_all(count: int) -> tuple[list[float], list[float]]:
        client = make_client(
            provider,
            "",
            observe_response=functools.partial(manager.observe_response, model=model),
        ).with_options(max_retries=0)
        sent, refused = [], []
        while count:
            await manager.acquire(100, 64, model=model)
            sent.append(time.monotonic())
            try:
                await client.messages.create(**request)
                count -= 1
            except anthropic.RateLimitError as error:
                assert "retry-after" not in error.response.headers
                assert not any(
                    name.startswith("anthropic-ratelimit")
                    for name in error.response.headers
                )
                refused.append(time.monotonic())
        await client.close()
        return sent, refused

    with FakeAnthropicAPI(rpm=2, window_seconds=1.0) as api:
        for name, value in provider_env(provider, api, tmp_path).items():
            clean_env.setenv(name, value)
        sent, refused = asyncio.run(send_all(5))
    assert refused, "the server's limit was never hit: the test proves nothing"
    for refusal in refused:
        following = [moment for moment in sent if moment > refusal]
        assert not following or following[0] - refusal >= 0.9
    assert len(refused) <= 3  # about one per window, not a burst per request
    pool = rate_limit_pool(model)
    reports = {report.pool: report for report in manager.pool_reports()}
    assert reports[pool].rate_limited == len(refused)


@pytest.mark.parametrize("provider", BARE_429_PROVIDERS, ids=str)
def test_the_loop_ends_its_turns_through_bare_429s(
    provider: APIProvider, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    window = 2.0
    manager = TokenManager(RateLimits(1_000, 1_000_000, 1_000_000, window))
    with FakeAnthropicAPI(scenario=TOOL_THEN_TEXT, rpm=1, window_seconds=window) as api:
        for name, value in provider_env(provider, api, tmp_path).items():
            clean_env.setenv(name, value)
        run = run_loop(provider, manager)
        refused = [request for request in api.requests if request.status == 429]
    assert run.text == "Checking.All good."
    assert run.tool_outputs == ["provider-tool-ran"]
    assert refused, "the server's limit was never hit: the test proves nothing"
    pool = rate_limit_pool(DEFAULT_MODEL_BY_PROVIDER[provider.value])
    reports = {report.pool: report for report in manager.pool_reports()}
    assert reports[pool].rate_limited == len(refused)
