"""One call of the agent loop as the reliability tests make it: quiet callbacks
by default, an unlimited limiter unless one is given."""

from __future__ import annotations

from typing import Any

from computer_use_demo.loop import sampling_loop
from computer_use_demo.providers import APIProvider
from token_manager import RateLimits, TokenManager


async def run_agent(history: list[Any], api_key: str, **options: Any) -> list[Any]:
    """Run the loop on `history` (changed in place); callbacks and limits may be overridden."""
    options.setdefault("output_callback", lambda block: None)
    options.setdefault("tool_output_callback", lambda result, tool_id: None)
    options.setdefault("api_response_callback", lambda request, response, error: None)
    options.setdefault("token_manager", TokenManager(RateLimits(None, None, None)))
    return await sampling_loop(
        model="claude-opus-4-8",
        provider=APIProvider.ANTHROPIC,
        system_prompt_suffix="",
        messages=history,
        api_key=api_key,
        tool_version="computer_use_20250124",
        **options,
    )
