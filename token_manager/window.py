"""Sliding-window arithmetic for one budget (requests, input or output tokens).

Pure: no clock, no locks, no I/O. Every function takes `now`, so tests are
tables of numbers and never sleep.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

EXPIRY_MARGIN = 1e-6


@dataclass(slots=True)
class Entry:
    """An amount charged at `at`; it stops counting at `at + window`."""

    at: float
    amount: int
    expired: bool = False


@dataclass
class SlidingWindow:
    """Everything charged within the last `window` seconds, oldest first.

    Memory stays bounded: expired entries are dropped on every call, and a
    window can hold at most as many entries as requests fit in it.
    """

    window: float
    entries: deque[Entry] = field(default_factory=deque)
    _total: int = 0

    def expire(self, now: float) -> None:
        while self.entries and now - self.entries[0].at >= self.window:
            gone = self.entries.popleft()
            gone.expired = True
            self._total -= gone.amount

    def used(self, now: float) -> int:
        self.expire(now)
        return self._total

    def charge(self, now: float, amount: int, at: float | None = None) -> Entry:
        """Record `amount` (at `now`, or at an earlier `at` for a ceiling from the server)."""
        self.expire(now)
        entry = Entry(at=now if at is None else at, amount=amount)
        if self.entries and entry.at < self.entries[-1].at:
            # Rare (server ceilings): keep the deque ordered by expiry.
            ordered = sorted([*self.entries, entry], key=lambda item: item.at)
            self.entries = deque(ordered)
        else:
            self.entries.append(entry)
        self._total += amount
        return entry

    def adjust(self, entry: Entry, amount: int) -> None:
        """Replace an entry's amount (an estimate corrected by real usage)."""
        if not entry.expired:
            self._total += amount - entry.amount
        entry.amount = amount

    def wait_for(self, amount: int, limit: int | None, now: float) -> float:
        """Seconds until `amount` more fits under `limit` (0 if it fits now).

        Exact: the answer is the moment enough old entries expire, not a guess.
        Callers must first check `amount <= limit`.
        """
        if limit is None:
            return 0.0
        self.expire(now)
        excess = self._total + amount - limit
        if excess <= 0:
            return 0.0
        freed = 0
        for entry in self.entries:
            freed += entry.amount
            if freed >= excess:
                # A microsecond more, so that after exactly this wait the entry
                # has expired under float rounding too.
                return max(0.0, entry.at + self.window - now) + EXPIRY_MARGIN
        return self.window  # unreachable when amount <= limit


def seconds_until_fits(
    windows: dict[str, SlidingWindow],
    amounts: dict[str, int],
    limits: dict[str, int | None],
    now: float,
) -> tuple[float, str | None]:
    """The wait before every budget admits its amount, and the budget that binds."""
    longest, binding = 0.0, None
    for name, amount in amounts.items():
        wait = windows[name].wait_for(amount, limits.get(name), now)
        if wait > longest:
            longest, binding = wait, name
    return longest, binding
