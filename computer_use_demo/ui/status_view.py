"""The loop's notices in the chat: errors as readable text, waits as a live countdown.

Never shows a traceback; the countdown is redrawn by the turn's heartbeat, not
by a task of its own (a side task would swallow Streamlit's Stop).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from streamlit.delta_generator import DeltaGenerator

from token_manager import wait_label

from ..status import LoopStatus

SHOWN_AS_INFO = (
    "refusal",
    "tool_call_cut_off",
    "max_tokens_clamped",
    "context_pruned",
)


@dataclass
class _Wait:
    until: float
    what: str
    message: str


def wait_text(what: str, left: float, message: str) -> str:
    return f"⏳ Waiting {max(0.0, left):.0f} s for {what} — {message}"


@dataclass
class StatusView:
    """Receives `LoopStatus` notices; `tick()` keeps a running countdown current."""

    chat: DeltaGenerator
    clock: Callable[[], float] = time.monotonic
    _wait: _Wait | None = None
    _placeholder: DeltaGenerator | None = field(default=None, repr=False)
    _shown: str = ""

    def __call__(self, status: LoopStatus) -> None:
        self._clear()
        if status.kind == "error":
            self.chat.error(status.message, icon=":material/error:")
        elif status.kind in ("rate_limit_wait", "retrying") and status.wait_seconds:
            what = wait_label(status.budget) if status.budget else "the API"
            self._wait = _Wait(self.clock() + status.wait_seconds, what, status.message)
            self._placeholder = self.chat.empty()
            self.tick()
        elif status.kind in SHOWN_AS_INFO:
            self.chat.info(status.message)

    def tick(self) -> None:
        if self._wait is None or self._placeholder is None:
            return
        left = self._wait.until - self.clock()
        if left <= 0:
            self._clear()
            return
        text = wait_text(self._wait.what, left, self._wait.message)
        if text != self._shown:  # redrawn once a second, however often it ticks
            self._shown = text
            self._placeholder.warning(text)

    def _clear(self) -> None:
        if self._placeholder is not None:
            self._placeholder.empty()
        self._placeholder = None
        self._wait = None
        self._shown = ""

    def close(self) -> None:
        self._clear()
