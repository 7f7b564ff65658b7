"""Runs the fake API on a free loopback port in a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import uvicorn

from .app import FakeConfig, FakeState, RecordedRequest, build_app
from .scenario import Scenario


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class FakeAnthropicAPI:
    """`with FakeAnthropicAPI(rpm=..., scenario=...) as api:` then point the SDK at `api.base_url`."""

    def __init__(
        self,
        *,
        scenario: Scenario | dict[str, Any] | list[Any] | None = None,
        port: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        **config: Any,
    ) -> None:
        """`config` is `FakeConfig`'s fields; `clock` drives buckets, cache TTLs
        and stats (tests pass a fake one instead of waiting)."""
        self.config = FakeConfig(**config)
        self.state = FakeState(self.config, _as_scenario(scenario), clock)
        self.port = port or free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_key(self) -> str:
        return self.config.api_key

    @property
    def requests(self) -> list[RecordedRequest]:
        with self.state.lock:
            return list(self.state.requests)

    def message_requests(self) -> list[RecordedRequest]:
        """Requests to /v1/messages that passed validation (answered or refused by limits)."""
        return [request for request in self.requests if request.path == "/v1/messages"]

    def stats(self) -> dict[str, Any]:
        with self.state.lock:
            return self.state.stats.as_dict()

    def set_scenario(self, scenario: Scenario | dict[str, Any] | list[Any]) -> None:
        with self.state.lock:
            self.state.scenario = _as_scenario(scenario)

    def reset(
        self, scenario: Scenario | dict[str, Any] | list[Any] | None = None
    ) -> None:
        self.state.reset(_as_scenario(scenario))

    def start(self) -> FakeAnthropicAPI:
        config = uvicorn.Config(
            build_app(self.state),
            host="127.0.0.1",
            port=self.port,
            log_level="critical",
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, name="fake-anthropic-api", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.base_url}/_stats", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.02)
        raise RuntimeError("the fake API did not start")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> FakeAnthropicAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _as_scenario(scenario: Scenario | dict[str, Any] | list[Any] | None) -> Scenario:
    if scenario is None:
        return Scenario()
    if isinstance(scenario, Scenario):
        return scenario
    return Scenario.from_data(scenario)


async def serve_forever(api: FakeAnthropicAPI) -> None:  # pragma: no cover - CLI only
    config = uvicorn.Config(
        build_app(api.state), host="127.0.0.1", port=api.port, log_level="warning"
    )
    await uvicorn.Server(config).serve()


def run_blocking(api: FakeAnthropicAPI) -> None:  # pragma: no cover - CLI only
    asyncio.run(serve_forever(api))
