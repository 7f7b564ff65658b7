"""The fake served in-process: an httpx2 transport that calls its ASGI app directly.

httpx2's own `ASGITransport` collects the whole response before returning it,
which would turn every stream into one chunk and hide stalls. This one hands
the body over as the app sends it, so the client sees what it would over a
socket: events as they are generated, a stall that ends in the request's read
timeout (`httpx2.ReadTimeout`), a connection dropped mid-stream
(`httpx2.RemoteProtocolError`), and a disconnect sent to the app when the
client closes the response early. What it leaves out is the socket itself:
TCP, HTTP/1.1 framing and connection reuse (the end-to-end tests keep those).

`in_process_routes()` is a transport for clients that may talk to several
fakes: a request to the address of a running `FakeAnthropicAPI` goes to that
fake's app, any other request over the network.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2

ASGIApp = Callable[..., Any]

_END = object()


class InProcessTransport(httpx2.AsyncBaseTransport):
    def __init__(self, app: ASGIApp, *, client: tuple[str, int] = ("127.0.0.1", 50000)):
        self.app = app
        self.client = client

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        read_timeout = (request.extensions.get("timeout") or {}).get("read")
        started: asyncio.Future[dict[str, Any]] = (
            asyncio.get_running_loop().create_future()
        )
        chunks: asyncio.Queue[Any] = asyncio.Queue()
        disconnected = asyncio.Event()
        request_sent = False

        async def receive() -> dict[str, Any]:
            nonlocal request_sent
            if not request_sent:
                request_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await disconnected.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                if not started.done():
                    started.set_result(message)
            elif message["type"] == "http.response.body":
                if message.get("body"):
                    chunks.put_nowait(bytes(message["body"]))
                if not message.get("more_body", False):
                    chunks.put_nowait(_END)

        async def run() -> None:
            try:
                await self.app(_scope(request, self.client), receive, send)
            except Exception as error:  # what a server does with an app's crash
                if not started.done():
                    started.set_result(_internal_error())
                    chunks.put_nowait(b"Internal Server Error")
                    chunks.put_nowait(_END)
                else:
                    chunks.put_nowait(error)
            else:
                chunks.put_nowait(_END)

        task = asyncio.create_task(run())
        try:
            start = await asyncio.wait_for(asyncio.shield(started), read_timeout)
        except TimeoutError:
            disconnected.set()
            task.cancel()
            raise httpx2.ReadTimeout(
                "timed out waiting for the response", request=request
            ) from None
        headers = [
            (bytes(name), bytes(value)) for name, value in start.get("headers", [])
        ]
        return httpx2.Response(
            int(start["status"]),
            headers=headers,
            stream=_Body(request, chunks, task, disconnected, read_timeout),
            request=request,
            extensions={"http_version": b"HTTP/1.1"},
        )


class _Body(httpx2.AsyncByteStream):
    def __init__(
        self,
        request: httpx2.Request,
        chunks: asyncio.Queue[Any],
        task: asyncio.Task[None],
        disconnected: asyncio.Event,
        read_timeout: float | None,
    ) -> None:
        self._request = request
        self._chunks = chunks
        self._task = task
        self._disconnected = disconnected
        self._read_timeout = read_timeout
        self._done = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while not self._done:
            try:
                item = await asyncio.wait_for(self._chunks.get(), self._read_timeout)
            except TimeoutError:
                raise httpx2.ReadTimeout(
                    "timed out reading the body", request=self._request
                ) from None
            if item is _END:
                self._done = True
                return
            if isinstance(item, BaseException):
                self._done = True
                raise httpx2.RemoteProtocolError(
                    "peer closed connection without sending complete message body",
                    request=self._request,
                ) from item
            yield item

    async def aclose(self) -> None:
        self._disconnected.set()
        if not self._task.done():
            self._task.cancel()
            # The app's own end (cancelled, or an error) is no news to the caller.
            await asyncio.gather(self._task, return_exceptions=True)


def _scope(request: httpx2.Request, client: tuple[str, int]) -> dict[str, Any]:
    url = request.url
    port = url.port or (443 if url.scheme == "https" else 80)
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": url.scheme,
        "path": url.path,
        "raw_path": url.raw_path.split(b"?", 1)[0],
        "query_string": url.query,
        "root_path": "",
        "headers": [(name.lower(), value) for name, value in request.headers.raw],
        "client": client,
        "server": (url.host, port),
    }


def _internal_error() -> dict[str, Any]:
    return {
        "type": "http.response.start",
        "status": 500,
        "headers": [(b"content-type", b"text/plain; charset=utf-8")],
    }


# The running fakes, by the address they listen on.
_running: dict[tuple[str, int], ASGIApp] = {}
_running_lock = threading.Lock()


def register(host: str, port: int, app: ASGIApp) -> None:
    with _running_lock:
        _running[(host, port)] = app


def unregister(host: str, port: int) -> None:
    with _running_lock:
        _running.pop((host, port), None)


class InProcessRoutes(httpx2.AsyncBaseTransport):
    """To a running fake in-process, elsewhere over the network."""

    def __init__(self) -> None:
        self._network: httpx2.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        with _running_lock:
            app = _running.get((request.url.host, request.url.port or 80))
        if app is not None:
            return await InProcessTransport(app).handle_async_request(request)
        if self._network is None:
            self._network = httpx2.AsyncHTTPTransport()
        return await self._network.handle_async_request(request)

    async def aclose(self) -> None:
        if self._network is not None:
            await self._network.aclose()


def in_process_routes() -> InProcessRoutes:
    return InProcessRoutes()
