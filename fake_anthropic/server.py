"""Runs the fake API on a free loopback port in a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn

from . import transport
from .app import FakeConfig, FakeState, RecordedRequest, build_app
from .scenario import Scenario
from .wires import ProviderConfig


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
        providers: ProviderConfig | None = None,
        **config: Any,
    ) -> None:
        """`config` is `FakeConfig`'s fields; `clock` drives buckets, cache TTLs
        and stats (tests pass a fake one instead of waiting)."""
        self.config = FakeConfig(**config)
        self.state = FakeState(self.config, _as_scenario(scenario), clock, providers)
        self.port = port or free_port()
        self._server: _StoppableServer | None = None
        self._thread: threading.Thread | None = None
        self._listener: socket.socket | None = None

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

    @property
    def requests_over_http(self) -> int:
        """Requests that came through the socket (the rest came in-process)."""
        if self._server is None:
            return 0
        return int(self._server.server_state.total_requests)

    def message_requests(self) -> list[RecordedRequest]:
        """Requests for a message, on any provider's wire, that passed the
        connection checks (answered, or refused by validation or limits)."""
        return [
            request
            for request in self.requests
            if request.path == "/v1/messages" or request.wire != "anthropic"
        ]

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
        """Listens at once (the socket is bound here, so clients may connect
        before the server thread is up) and returns when the app is serving."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = int(listener.getsockname()[1])
        app = build_app(self.state)
        config = uvicorn.Config(app, log_level="critical", lifespan="off")
        self._server = _StoppableServer(config)
        server = self._server
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[listener])),
            name="fake-anthropic-api",
            daemon=True,
        )
        self._listener = listener
        self._thread.start()
        if not server.ready.wait(15):
            raise RuntimeError("the fake API did not start")
        transport.register("127.0.0.1", self.port, app)
        return self

    def stop(self) -> None:
        """Returns once the server accepts no connection; its thread ends by
        itself moments later (uvicorn's shutdown pauses 0.1 s)."""
        transport.unregister("127.0.0.1", self.port)
        if self._server is not None:
            self._server.request_stop()
            if self._thread is not None and self._thread.is_alive():
                self._server.closed.wait(10)
        if self._listener is not None:
            self._listener.close()

    def join(self, timeout: float = 10) -> None:
        """Waits for the server thread itself to end."""
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> FakeAnthropicAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _StoppableServer(uvicorn.Server):
    """Stops as soon as asked, not at uvicorn's next 0.1 s tick."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self.closed = threading.Event()  # no longer accepting connections
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.ready.set()
        while not self.should_exit:
            await self.on_tick(0)  # refreshes the Date header
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=1.0)
            except TimeoutError:
                continue

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        self.closed.set()
        await super().shutdown(sockets=sockets)

    def request_stop(self) -> None:
        # Nothing is left to answer once the owner stops it: drop open
        # connections rather than wait for them in uvicorn's 0.1 s steps.
        self.should_exit = True
        self.force_exit = True
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        else:  # never started: nothing to wait for
            self.ready.set()
            self.closed.set()


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
