"""When to redraw, and which part: the pure bookkeeping behind live rendering.

No Streamlit here: a clock comes in, decisions come out, so a 100k-token answer
is tested without a browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field

REDRAW_INTERVAL = 0.05  # at most ~20 redraws a second
FREEZE_AFTER_CHARS = 2_000  # finished paragraphs beyond this are drawn once, for good


@dataclass
class GrowingText:
    """Text that grows by deltas; finished parts are split off as frozen.

    Only the unfrozen tail is redrawn on each update, and deltas are joined only
    when the tail is needed, so the work per delta stays bounded however long
    the answer gets (no quadratic string building, no quadratic redraws).
    """

    frozen: list[str] = field(default_factory=list)
    _tail: str = ""
    _pending: list[str] = field(default_factory=list)
    _pending_chars: int = 0
    _in_fence: bool = False
    dirty: bool = False

    def add(self, delta: str) -> list[str]:
        """Append a delta; return the parts newly frozen (to be drawn once)."""
        self._pending.append(delta)
        self._pending_chars += len(delta)
        self.dirty = True
        if len(self._tail) + self._pending_chars < FREEZE_AFTER_CHARS:
            return []
        tail = self.tail
        cut = self._cut_point(tail)
        if cut <= 0:
            return []
        head, self._tail = tail[:cut], tail[cut:]
        if head.count("```") % 2:
            self._in_fence = not self._in_fence
        self.frozen.append(head)
        return [head]

    def _cut_point(self, tail: str) -> int:
        """Where to split: after a paragraph, else a line, else (very long lines) a
        space; never inside a code fence, whose markdown must stay whole."""
        for separator in ("\n\n", "\n"):
            cut = tail.rfind(separator)
            if cut > 0 and not self._opens_fence(tail[: cut + len(separator)]):
                return cut + len(separator)
        if (
            len(tail) >= 2 * FREEZE_AFTER_CHARS
            and not self._in_fence
            and "```" not in tail
        ):
            return tail.rfind(" ") + 1
        return 0

    def _opens_fence(self, head: str) -> bool:
        """Whether freezing `head` would leave the tail inside a code fence."""
        return self._in_fence != (head.count("```") % 2 == 1)

    @property
    def tail(self) -> str:
        if self._pending:
            self._tail += "".join(self._pending)
            self._pending.clear()
            self._pending_chars = 0
        return self._tail

    @property
    def text(self) -> str:
        return "".join(self.frozen) + self.tail


@dataclass
class RedrawClock:
    """Says when enough time has passed to redraw again."""

    interval: float = REDRAW_INTERVAL
    last: float = float("-inf")
    redraws: int = 0

    def due(self, now: float) -> bool:
        if now - self.last >= self.interval:
            self.last = now
            self.redraws += 1
            return True
        return False
