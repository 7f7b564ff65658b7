"""A clock and a waiting that tests drive by hand: nothing ever sleeps.

A waiter with a timeout is woken when `advance` passes its deadline; one
without waits until the manager wakes it. `pauses` counts every wait, so a
test can prove nobody polls.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable


class FakeTime:
    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start
        self.pauses = 0
        self._lock = threading.Lock()
        self._waited = threading.Condition(self._lock)
        self._ids = itertools.count()
        self._sleepers: dict[int, tuple[float, Callable[[], None]]] = {}

    def __call__(self) -> float:
        return self.now

    def _register(self, seconds: float | None, wake: Callable[[], None]) -> int:
        with self._lock:
            self.pauses += 1
            self._waited.notify_all()
            token = next(self._ids)
            if seconds is not None:
                self._sleepers[token] = (self.now + seconds, wake)
            return token

    def _forget(self, token: int) -> None:
        with self._lock:
            self._sleepers.pop(token, None)

    def block(self, woken: threading.Event, timeout: float | None) -> None:
        token = self._register(timeout, woken.set)
        try:
            woken.wait(30)  # a safety net for a broken test, never reached when correct
        finally:
            self._forget(token)

    async def pause(self, woken: asyncio.Event, seconds: float | None) -> None:
        loop = asyncio.get_running_loop()

        def wake() -> None:
            loop.call_soon_threadsafe(woken.set)

        token = self._register(seconds, wake)
        try:
            await woken.wait()
        finally:
            self._forget(token)

    def advance(self, seconds: float) -> None:
        """Move time on and wake everyone whose deadline passed."""
        with self._lock:
            self.now += seconds
            due = [token for token, (at, _) in self._sleepers.items() if at <= self.now]
            wakes = [self._sleepers.pop(token)[1] for token in due]
        for wake in wakes:
            wake()

    def wait_for_pauses(self, count: int, timeout: float = 5.0) -> bool:
        """Block until `count` waits have begun (another thread's waiter is parked)."""
        with self._waited:
            return self._waited.wait_for(lambda: self.pauses >= count, timeout)

    @property
    def sleepers(self) -> int:
        with self._lock:
            return len(self._sleepers)


async def settle() -> None:
    """Let every ready task run until the loop is quiet."""
    for _ in range(50):
        await asyncio.sleep(0)
