"""Builds the SDK client for a provider, with every HTTP response seen by the limiter.

The key is handed to the SDK and nowhere else; this module never logs it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx2
from anthropic import AsyncAnthropic, AsyncAnthropicBedrock, AsyncAnthropicVertex

from . import settings
from .providers import APIProvider
from .settings import Settings

# The SDK never retries: every wait (429 retry-after, 529, 5xx, a broken
# stream) is the loop's, so the user sees each one as a countdown.
SDK_MAX_RETRIES = 0


@dataclass(frozen=True)
class ClientTimeouts:
    """A stalled stream must end in `read` seconds, not hang the session."""

    connect: float = 10.0
    read: float = 120.0
    write: float = 60.0
    pool: float = 10.0

    @classmethod
    def from_settings(cls, configured: Settings) -> ClientTimeouts:
        return cls(read=configured.read_timeout)

    def as_httpx(self) -> httpx2.Timeout:
        return httpx2.Timeout(
            connect=self.connect, read=self.read, write=self.write, pool=self.pool
        )


ResponseObserver = Callable[[httpx2.Response], Awaitable[None] | None]
AnyAsyncClient = AsyncAnthropic | AsyncAnthropicBedrock | AsyncAnthropicVertex


def make_client(
    provider: APIProvider | str,
    api_key: str,
    *,
    observe_response: ResponseObserver | None = None,
    timeouts: ClientTimeouts | None = None,
) -> AnyAsyncClient:
    """An async client whose HTTP layer reports every response, retries included."""
    timeouts = timeouts or ClientTimeouts.from_settings(settings.current())

    async def on_response(response: httpx2.Response) -> None:
        if observe_response is not None:
            outcome = observe_response(response)
            if outcome is not None:
                await outcome

    http_client = httpx2.AsyncClient(
        timeout=timeouts.as_httpx(),
        event_hooks={"response": [on_response]},
        follow_redirects=True,
    )
    common: dict[str, Any] = {
        "max_retries": SDK_MAX_RETRIES,
        "http_client": http_client,
        "timeout": timeouts.as_httpx(),
    }
    provider = APIProvider(provider)
    if provider == APIProvider.ANTHROPIC:
        return AsyncAnthropic(api_key=api_key, **common)
    if provider == APIProvider.BEDROCK:
        return AsyncAnthropicBedrock(**common)
    return AsyncAnthropicVertex(**common)
