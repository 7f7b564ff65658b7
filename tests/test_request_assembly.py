"""Each request of a conversation, assembled without sending anything."""

from __future__ import annotations

from typing import Any

import pytest

from computer_use_demo.providers import APIProvider
from computer_use_demo.request import ThinkingSettings
from computer_use_demo.request_assembly import RequestAssembler
from token_manager import RateLimits, TokenManager

MODEL = "claude-opus-4-8"


def assembler(
    notices: list[tuple[str, str]],
    *,
    otpm: int = 1_000_000,
    provider: APIProvider = APIProvider.ANTHROPIC,
    context_management: str = "client",
    max_tokens: int = 4096,
    thinking: ThinkingSettings | None = None,
) -> RequestAssembler:
    return RequestAssembler.for_conversation(
        model=MODEL,
        provider=provider,
        manager=TokenManager(RateLimits(1_000, 1_000_000, otpm)),
        tool_params=[],
        beta_flag="computer-use-2025-01-24",
        token_efficient_tools=False,
        context_management=context_management,
        context_fraction=0.8,
        system_suffix="Be brief.",
        images_to_keep=None,
        max_tokens=max_tokens,
        thinking=thinking or ThinkingSettings(),
        notify=lambda kind, message: notices.append((kind, message)),
    )


def long_history(turns: int) -> list[Any]:
    history: list[Any] = [{"role": "user", "content": "start"}]
    for turn in range(turns):
        history.append(
            {
                "role": "assistant",
                "content": [{"type": "text", "text": f"{turn} " * 900}],
            }
        )
        history.append({"role": "user", "content": [{"type": "text", "text": "go on"}]})
    return history


@pytest.mark.parametrize(
    ("settings", "max_tokens", "body"),
    [
        (ThinkingSettings(), 4096, {}),
        (
            ThinkingSettings("adaptive", "high"),
            4096,
            {"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}},
        ),
        (
            ThinkingSettings("extended", budget=2048),
            4096,
            {"thinking": {"type": "enabled", "budget_tokens": 2048}},
        ),
        (  # the budget stays below a lowered max_tokens
            ThinkingSettings("extended", budget=8000),
            3000,
            {"thinking": {"type": "enabled", "budget_tokens": 2999}},
        ),
        (  # never below the API's minimum
            ThinkingSettings("extended", budget=8000),
            500,
            {"thinking": {"type": "enabled", "budget_tokens": 1024}},
        ),
    ],
)
def test_thinking_settings_give_the_body_fields(
    settings: ThinkingSettings, max_tokens: int, body: dict[str, Any]
) -> None:
    assert settings.body(max_tokens) == body


def test_a_request_carries_system_tools_betas_and_the_history() -> None:
    notices: list[tuple[str, str]] = []
    history: list[Any] = [{"role": "user", "content": "hello"}]
    request = assembler(notices).assemble(history)
    params = request.params
    assert params["model"] == MODEL and params["max_tokens"] == request.max_tokens
    assert params["system"][0]["text"].endswith(" Be brief.")
    assert params["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert "computer-use-2025-01-24" in params["betas"]
    assert params["messages"][0]["content"][0]["text"] == "hello"
    assert request.estimate.total_tokens > 0
    assert history == [{"role": "user", "content": "hello"}], "history unchanged"
    assert notices == []


def test_each_shrink_sends_less_history() -> None:
    history = long_history(400)
    requests = assembler([])
    sizes = [
        len(requests.assemble(history, shrinks=shrinks).params["messages"])
        for shrinks in range(3)
    ]
    assert sizes[0] > sizes[1] > sizes[2]


def test_a_learned_context_window_bounds_the_view() -> None:
    history = long_history(60)
    requests = assembler([])
    whole = len(requests.assemble(history).params["messages"])
    requests.context_window = 20_000
    assert len(requests.assemble(history).params["messages"]) < whole


def test_a_clamped_max_tokens_is_announced_once() -> None:
    notices: list[tuple[str, str]] = []
    requests = assembler(notices, otpm=2_000, max_tokens=8_000)
    first = requests.assemble([{"role": "user", "content": "hi"}])
    requests.assemble([{"role": "user", "content": "hi"}])
    assert first.max_tokens <= 2_000
    assert [kind for kind, _ in notices] == ["max_tokens_clamped"]


def test_server_edits_go_to_the_first_party_api_only() -> None:
    history: list[Any] = [{"role": "user", "content": "hi"}]
    anthropic = assembler([], context_management="clear_tool_uses").assemble(history)
    bedrock = assembler(
        [], provider=APIProvider.BEDROCK, context_management="clear_tool_uses"
    ).assemble(history)
    assert "context_management" in anthropic.params["extra_body"]
    assert "context_management" not in bedrock.params["extra_body"]
    assert "cache_control" not in bedrock.params["system"][0]
