"""The one wait loop behind `acquire` and `acquire_sync`, and the waiting itself.

The manager decides (one `attempt` under its lock); this module only waits
between attempts: until the decided time, or until woken, never polling
faster. The waiting is injectable beside the clock, so tests never sleep.
Never blocks an event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")

WaitCallback = Callable[[str, float], None]


@dataclass(frozen=True)
class Attempt(Generic[T]):
    """One decision: granted (`granted`), or wait `sleep` seconds (None: until
    woken) while telling the caller `reason` and `shown` seconds."""

    granted: T | None = None
    sleep: float | None = None
    reason: str | None = None
    shown: float | None = None


class Waiting(Protocol):
    """How a waiter waits: the real one sleeps, a test's advances a fake clock."""

    def block(self, woken: threading.Event, timeout: float | None) -> None: ...

    async def pause(self, woken: asyncio.Event, seconds: float | None) -> None: ...


class RealWaiting:
    def block(self, woken: threading.Event, timeout: float | None) -> None:
        woken.wait(timeout)

    async def pause(self, woken: asyncio.Event, seconds: float | None) -> None:
        try:
            async with asyncio.timeout(seconds):
                await woken.wait()
        except TimeoutError:
            pass


class _Reporter:
    """Tells the caller once per distinct wait, not on every wake-up."""

    def __init__(self, on_wait: WaitCallback | None) -> None:
        self._on_wait = on_wait
        self._last: tuple[str, int] | None = None

    def __call__(self, attempt: Attempt[Any]) -> None:
        if self._on_wait is None or attempt.reason is None or attempt.shown is None:
            return
        key = (attempt.reason, round(attempt.shown))
        if key != self._last:
            self._on_wait(attempt.reason, attempt.shown)
        self._last = key


def wait_sync(
    attempt: Callable[[], Attempt[T]],
    woken: threading.Event,
    waiting: Waiting,
    on_wait: WaitCallback | None,
) -> T:
    """Attempt, wait, attempt again, until granted (or an attempt raises)."""
    report = _Reporter(on_wait)
    while True:
        woken.clear()
        result = attempt()
        if result.granted is not None:
            return result.granted
        report(result)
        waiting.block(woken, result.sleep)


# Shared-store attempts do network I/O: they run here, off the event loop.
_EXECUTOR = concurrent.futures.ThreadPoolExecutor(
    max_workers=8, thread_name_prefix="token-manager-attempt"
)


def in_background(call: Callable[..., Any], *args: Any) -> None:
    """Run `call` off the event loop, without waiting for it (a ticket leaving
    the shared queue when its caller is cancelled)."""
    _EXECUTOR.submit(call, *args)


async def wait_async(
    attempt: Callable[[], Attempt[T]],
    woken: asyncio.Event,
    waiting: Waiting,
    on_wait: WaitCallback | None,
    *,
    in_thread: bool,
    undo: Callable[[T], None],
) -> T:
    """`wait_sync` for an event loop. With `in_thread`, each attempt runs in a
    worker thread; if the caller is cancelled while one runs, a grant that
    lands afterwards is handed to `undo` (never leaked)."""
    report = _Reporter(on_wait)
    while True:
        woken.clear()
        if in_thread:
            future = _EXECUTOR.submit(attempt)
            try:
                result = await asyncio.wrap_future(future)
            except asyncio.CancelledError:
                future.add_done_callback(lambda done: _undo_late(done, undo))
                raise
        else:
            result = attempt()
        if result.granted is not None:
            return result.granted
        report(result)
        await waiting.pause(woken, result.sleep)


def _undo_late(
    done: concurrent.futures.Future[Attempt[T]], undo: Callable[[T], None]
) -> None:
    if done.cancelled() or done.exception() is not None:
        return
    granted = done.result().granted
    if granted is not None:
        undo(granted)
