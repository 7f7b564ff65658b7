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
    """Text that grows by deltas; finished paragraphs are split off as frozen.

    Only the unfrozen tail is redrawn on each update, so the cost of a redraw
    stays bounded however long the answer gets.
    """

    frozen: list[str] = field(default_factory=list)
    tail: str = ""
    dirty: bool = False

    def add(self, delta: str) -> list[str]:
        """Append a delta; return paragraphs newly frozen (to be drawn once)."""
        self.tail += delta
        self.dirty = True
        if len(self.tail) < FREEZE_AFTER_CHARS:
            return []
        cut = self.tail.rfind("\n\n")
        if cut <= 0:
            return []
        head = self.tail[: cut + 2]
        if head.count("```") % 2:  # never split inside a code fence
            return []
        self.tail = self.tail[cut + 2 :]
        self.frozen.append(head)
        return [head]

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
