"""Builds the SDK client for a provider, with every HTTP response seen by the limiter.

The key is handed to the SDK and nowhere else; this module never logs it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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
TransportFactory = Callable[[], httpx2.AsyncBaseTransport]

# What carries the clients' requests when make_client is given no transport;
# None: the network. Tests set it to serve the fake API in-process.
_transport_factory: ContextVar[TransportFactory | None] = ContextVar(
    "api_client_transport_factory", default=None
)


@contextmanager
def clients_use_transport(factory: TransportFactory) -> Iterator[None]:
    """Every client made in this context sends through `factory()`'s transport."""
    token = _transport_factory.set(factory)
    try:
        yield
    finally:
        _transport_factory.reset(token)


def make_client(
    provider: APIProvider | str,
    api_key: str,
    *,
    observe_response: ResponseObserver | None = None,
    timeouts: ClientTimeouts | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> AnyAsyncClient:
    """An async client whose HTTP layer reports every response, retries included.

    `transport` replaces the network (an ASGI app in-process, for instance);
    the response hook and the timeouts apply to it alike."""
    timeouts = timeouts or ClientTimeouts.from_settings(settings.current())
    if transport is None and (factory := _transport_factory.get()) is not None:
        transport = factory()

    async def on_response(response: httpx2.Response) -> None:
        if observe_response is not None:
            outcome = observe_response(response)
            if outcome is not None:
                await outcome

    http_client = httpx2.AsyncClient(
        timeout=timeouts.as_httpx(),
        event_hooks={"response": [on_response]},
        follow_redirects=True,
        transport=transport,
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
