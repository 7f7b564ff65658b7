"""The threads that talk to Redis for a store, so nobody else waits on it: the
writer-heartbeat (sends what the ledger holds: LEAVEs, charges, deferred
updates; renews leases) and the listener that hears a queue's new head.

Never called with a lock held by the caller; never on an event loop.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("token_manager")

RETRY_AFTER_ERROR = 0.5  # seconds before the writer tries again after an error


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class Courier:
    """One writer thread woken by `poke` (and every `interval()` seconds), one
    listener thread for the channels given to `listen`."""

    def __init__(
        self,
        connection: Callable[[], Any],
        send: Callable[[], None],
        beat: Callable[[], None],
        interval: Callable[[], float],
        heard: Callable[[str, str], None],
    ) -> None:
        self._connection = connection
        self._send, self._beat, self._interval, self._heard = (
            send,
            beat,
            interval,
            heard,
        )
        self._poked = threading.Event()
        self._beat_wanted = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._listener: threading.Thread | None = None
        self._channels: set[str] = set()

    def poke(self) -> None:
        """Something to send: the writer goes now (starting if need be)."""
        self._poked.set()
        with self._lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._write, name="token-manager-writer", daemon=True
                )
                self._writer.start()

    def beat_now(self) -> None:
        """A heartbeat at once, whenever the last one was."""
        self._beat_wanted.set()
        self.poke()

    def _write(self) -> None:
        beat_due = 0.0
        while not self._stopped.is_set():
            self._poked.wait(max(0.05, beat_due - time.monotonic()))
            self._poked.clear()
            if self._stopped.is_set():
                return
            try:
                self._send()
                if self._beat_wanted.is_set() or time.monotonic() >= beat_due:
                    self._beat_wanted.clear()
                    self._beat()
                    beat_due = time.monotonic() + self._interval()
            except Exception as error:  # the writer must outlive any outage
                logger.debug("writer retries: %s", type(error).__name__)
                pause = min(RETRY_AFTER_ERROR, self._interval())
                beat_due = time.monotonic() + pause
                self._stopped.wait(pause)

    def listen(self, channel: str) -> None:
        """Hear `channel` (a queue's new head), so the head asks at once."""
        with self._lock:
            self._channels.add(channel)
            if self._listener is None or not self._listener.is_alive():
                self._listener = threading.Thread(
                    target=self._listen, name="token-manager-heads", daemon=True
                )
                self._listener.start()

    def _listen(self) -> None:
        pubsub: Any = None
        subscribed: set[str] = set()
        while not self._stopped.is_set():
            try:
                if pubsub is None:
                    pubsub = self._connection().pubsub(ignore_subscribe_messages=True)
                    subscribed = set()
                with self._lock:
                    wanted = self._channels - subscribed
                if wanted:
                    pubsub.subscribe(*wanted)
                    subscribed |= wanted
                message = pubsub.get_message(timeout=0.5)
                if message and message.get("type") == "message":
                    self._heard(_text(message["channel"]), _text(message["data"]))
            except Exception as error:  # a lost message costs one re-check
                logger.debug("head listener restarts: %s", type(error).__name__)
                pubsub = None
                self._stopped.wait(0.5)

    def stop(self) -> None:
        self._stopped.set()
        self._poked.set()
        if self._writer is not None:  # the listener ends by itself within 0.5 s
            self._writer.join(timeout=5)
